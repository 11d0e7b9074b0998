//! Packets the node originates: ICMP echo replies (RFC 792, RFC 4443 4.2)
//! and ICMP errors (RFC 1812 4.3.2, RFC 4443: time exceeded, unreachable,
//! fragmentation needed / packet too big), built into a generated buffer and
//! routed like any packet (an error about a packet that came through the
//! tunnel goes back through it). No error is ever sent about our own.

use etherparse::{IpNumber, icmpv4, icmpv6};

use super::fate::{DropReason, Fate, Outcome};
use super::forward::{IcmpKind, IngressContext, Meta, Pipeline};
use super::outputs::GeneratedFrames;
use crate::packet::PacketBuf;
use crate::wire::{
    Icmpv4ErrorKind, Icmpv6ErrorKind, Ipv4Packet, Ipv6Packet, WireError, build_icmpv4_error_into,
    build_icmpv6_error_into, echo_reply_v4, echo_reply_v6,
};

/// A request that does not fit a generated buffer (which holds any frame a
/// [`PacketBuf`] can).
const BUFFER_TOO_SMALL: WireError = WireError::BufferTooSmall {
    needed: 0,
    available: 0,
};

impl Pipeline<'_> {
    /// True for an ICMP or ICMPv6 echo request (type checked, not yet the
    /// rest).
    pub(crate) fn is_echo_request(&self, buf: &PacketBuf, meta: &Meta) -> bool {
        let bytes = buf.as_slice();
        if meta.v6 {
            meta.flow.protocol == IpNumber::IPV6_ICMP
                && bytes.get(crate::wire::IPV6_HEADER_LEN) == Some(&icmpv6::TYPE_ECHO_REQUEST)
        } else {
            let header_len = bytes.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
            meta.flow.protocol == IpNumber::ICMP
                && bytes.get(header_len) == Some(&icmpv4::TYPE_ECHO_REQUEST)
        }
    }

    /// Answers the echo request in `buf` with a generated reply. The
    /// request itself is left as it was.
    pub(crate) fn echo_reply(
        &self,
        buf: &PacketBuf,
        meta: &Meta,
        generated: &mut GeneratedFrames,
        index: usize,
    ) -> Result<(), WireError> {
        let reply = generated.reserve();
        reply
            .load(buf.as_slice(), PacketBuf::DEFAULT_HEADROOM)
            .map_err(|_| BUFFER_TOO_SMALL)?;
        if meta.v6 {
            echo_reply_v6(&mut Ipv6Packet::new_checked(reply.as_mut_slice())?)?;
        } else {
            echo_reply_v4(&mut Ipv4Packet::new_checked_ignoring_checksum(
                reply.as_mut_slice(),
            )?)?;
        }
        self.send_generated(generated, index);
        Ok(())
    }

    /// Generates the ICMP error `kind` about the packet in `buf` (as it
    /// arrived), unless the RFCs forbid it; suppressed errors are counted.
    pub(crate) fn icmp_error(
        &self,
        kind: IcmpKind,
        buf: &PacketBuf,
        meta: &Meta,
        arrival: IngressContext,
        generated: &mut GeneratedFrames,
        index: usize,
    ) {
        let source = self.node.icmp_source(arrival.interface, meta.v6);
        let Some(source) = source.filter(|_| !arrival.link_group) else {
            self.slot.icmp_suppressed();
            return;
        };
        let built = match source {
            std::net::IpAddr::V4(source) => {
                let kind = match kind {
                    IcmpKind::TimeExceeded => Icmpv4ErrorKind::TimeExceeded,
                    IcmpKind::NoRoute => Icmpv4ErrorKind::NetUnreachable,
                    IcmpKind::NoNeighbor => Icmpv4ErrorKind::HostUnreachable,
                    IcmpKind::TooBig(mtu) => {
                        Icmpv4ErrorKind::FragmentationNeeded { next_hop_mtu: mtu }
                    }
                };
                Ipv4Packet::new_checked_ignoring_checksum(buf.as_slice()).and_then(|offending| {
                    build_icmpv4_error_into(kind, &offending, source, generated.reserve())
                })
            }
            std::net::IpAddr::V6(source) => {
                let kind = match kind {
                    IcmpKind::TimeExceeded => Icmpv6ErrorKind::TimeExceeded,
                    IcmpKind::NoRoute => Icmpv6ErrorKind::NoRoute,
                    IcmpKind::NoNeighbor => Icmpv6ErrorKind::AddressUnreachable,
                    IcmpKind::TooBig(mtu) => Icmpv6ErrorKind::PacketTooBig {
                        mtu: u32::from(mtu),
                    },
                };
                Ipv6Packet::new_checked(buf.as_slice()).and_then(|offending| {
                    build_icmpv6_error_into(kind, &offending, source, generated.reserve())
                })
            }
        };
        match built {
            Ok(_) => self.send_generated(generated, index),
            Err(_) => self.slot.icmp_suppressed(),
        }
    }

    /// Routes an IP packet the node's control plane made (an IKE datagram,
    /// built by `crate::wire::build_udp_datagram`) like any packet the node
    /// generates: looked up, checked against the policies, given its L2
    /// header or sealed into a tunnel. A packet too large for a buffer is
    /// dropped (counted as truncated).
    pub(crate) fn originate(&self, packet: &[u8], generated: &mut GeneratedFrames, index: usize) {
        let buf = generated.reserve();
        if buf.load(packet, PacketBuf::DEFAULT_HEADROOM).is_err() {
            let _ = buf.load(&[], PacketBuf::DEFAULT_HEADROOM);
        }
        self.send_generated(generated, index);
    }

    /// Routes the packet in the reserved generated buffer (an IP packet the
    /// node made), records its fate and counts it.
    fn send_generated(&self, generated: &mut GeneratedFrames, index: usize) {
        let Some(buf) = generated.reserved() else {
            return;
        };
        let built_len = buf.len();
        let mut fate = Fate::dropped(DropReason::NoRoute);
        match Meta::parse(buf.as_slice(), None) {
            Ok(meta) => {
                fate.flow = Some(meta.flow);
                // A packet the node made is not fragmented (its buffer is
                // itself a generated one): oversize is refused.
                fate.outcome = match self.forward(buf, &meta, false, &mut fate) {
                    Ok(egress)
                        if egress.seal_pieces.is_some()
                            || egress.fragment_to.is_some_and(|mtu| meta.total_len > mtu) =>
                    {
                        Outcome::Dropped(DropReason::FragmentationUnsupported)
                    }
                    Ok(egress) => Outcome::Forwarded(egress.interface),
                    Err(stop) => Outcome::Dropped(stop.reason),
                };
            }
            Err(error) => fate.outcome = Outcome::Dropped(error.into()),
        }
        let sent_len = buf.len();
        self.slot.account(&fate, true, built_len, sent_len);
        generated.commit(fate, index);
    }

    /// Records a generated frame (ARP reply, neighbour advertisement) sent
    /// straight back out of the port it answers on, or dropped there by a
    /// fail-closed policy.
    pub(crate) fn send_reply(&self, generated: &mut GeneratedFrames, index: usize, fate: Fate) {
        let len = generated.reserved().map_or(0, |b| b.len());
        self.slot.account(&fate, true, len, len);
        generated.commit(fate, index);
    }
}
