//! The IP path of a frame: validation (RFC 791 / RFC 8200), local delivery
//! or ESP termination for our addresses, then forwarding: TTL / hop limit
//! (RFC 1812 5.3.1), longest-prefix match, ECMP by flow hash, MTU check, and
//! either plain egress with L2 rewrite or the tunnel: MSS clamp, ESP
//! encapsulation (RFC 4303) and a second lookup for the outer packet.
//! IPv4 packets over the egress MTU without DF are fragmented after that
//! (`fragment.rs`), and fragments for us reassembled before the local path.
//!
//! Invariant: a stop that asks for an ICMP error leaves the buffer as it
//! arrived, so the error can quote it.

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;

use etherparse::{EtherType, IpNumber};

use super::counters::CounterSlot;
use super::fastpath;
use super::fate::{Delivery, DropReason, Fate, Outcome, RouteHit, SaUse};
use super::fragment::{Reassembly, is_ipv4_fragment};
use super::node::{EthernetInterface, Interface, Node, Tunnel};
use super::outputs::GeneratedFrames;
use super::prefetch::HintCell;
use super::tunnel_sas::SendLeases;
use crate::esp::{OutboundSa, PacketClass};
use crate::fib::{Fib, InterfaceId, NextHop};
use crate::packet::PacketBuf;
use crate::wire::{
    EthernetHeader, FlowKey, IpPacket, Ipv4Packet, Ipv6Packet, MacAddr, WireError, clamp_tcp_mss,
    is_invalid_ipv4_source, push_ethernet_header,
};

/// The per-batch view of the node a worker forwards with.
pub(crate) struct Pipeline<'a> {
    pub(crate) node: &'a Node,
    pub(crate) fib: &'a Fib,
    pub(crate) slot: &'a CounterSlot,
    /// The worker's reassembly state and clock.
    pub(crate) reassembly: &'a Reassembly,
    /// The last neighbour looked up (the table is static, so an answer
    /// holds for the node's life; consecutive packets mostly share a hop).
    neighbor_memo: Cell<Option<(InterfaceId, IpAddr, Option<MacAddr>)>>,
    /// The last tunnel's underlay resolution: the port its outer packets
    /// leave on and the next hop's MAC, or why there is none. The FIB is
    /// fixed for the batch, so it holds for the batch.
    underlay_memo: Cell<Option<(InterfaceId, Underlay<'a>)>>,
    /// The current frame's route from the batch lookup (`prefetch.rs`).
    pub(crate) route_hint: HintCell,
    /// The worker's sequence-number leases on the tunnels' SAs.
    leases: &'a SendLeases,
    /// Frames of the batch left, the current one included: how many
    /// sequence numbers a drained lease asks for.
    remaining: Cell<usize>,
}

/// Where a tunnel's outer packets go: the port and the next hop's MAC (a
/// missing neighbour is reported after the MTU check, as without memo).
type Underlay<'a> = Result<(&'a EthernetInterface, Option<MacAddr>), DropReason>;

/// How a packet reached the IP layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IngressContext {
    /// The Ethernet port, or the tunnel it was decapsulated from.
    pub(crate) interface: InterfaceId,
    /// It came in a link-layer broadcast or multicast frame.
    pub(crate) link_group: bool,
    /// It came in ESP, decapsulated with this SA.
    pub(crate) decrypted: Option<SaUse>,
    /// The IP version the EtherType announced (none after decapsulation).
    pub(crate) version: Option<u8>,
}

/// What forwarding needs from a validated IP packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub(crate) flow: FlowKey,
    pub(crate) total_len: usize,
    pub(crate) ttl: u8,
    pub(crate) dont_fragment: bool,
    pub(crate) v6: bool,
}

impl Meta {
    /// Validates `bytes` as an IP packet (IPv4 header checksum included).
    /// The common case (IPv4 TCP/UDP, see `fastpath`) is inlined into the
    /// caller so the facts stay in registers; the rest goes to the general
    /// path.
    #[inline(always)]
    pub(crate) fn parse(bytes: &[u8], version: Option<u8>) -> Result<Meta, WireError> {
        if version != Some(6)
            && let Some(meta) = fastpath::ipv4_meta(bytes)
        {
            return Ok(meta);
        }
        Self::parse_general(bytes, version)
    }

    /// Every packet the fast path declines: any IPv6, other protocols,
    /// fragments, and every malformed packet (with the error naming why).
    #[inline(never)]
    fn parse_general(bytes: &[u8], version: Option<u8>) -> Result<Meta, WireError> {
        let packet = IpPacket::new_checked(bytes)?;
        let (found, ttl, dont_fragment) = match &packet {
            IpPacket::V4(p) => (4, p.ttl(), p.dont_fragment()),
            IpPacket::V6(p) => (6, p.hop_limit(), false),
        };
        if let Some(expected) = version
            && expected != found
        {
            return Err(WireError::IpVersion { expected, found });
        }
        Ok(Meta {
            flow: FlowKey::from_packet(&packet),
            total_len: packet.total_len(),
            ttl,
            dont_fragment,
            v6: found == 6,
        })
    }
}

/// Where a forwarded packet leaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Egress {
    /// The Ethernet port.
    pub(crate) interface: InterfaceId,
    /// The port's MTU when the (outer) IPv4 packet may be larger and may
    /// be fragmented: the caller cuts it (`Pipeline::fragment_egress`).
    pub(crate) fragment_to: Option<usize>,
    /// The tunnel's MTU when the inner IPv4 packet is larger and may be
    /// fragmented: it is not sealed yet, the caller cuts it and seals each
    /// piece (`Pipeline::seal_fragments`).
    pub(crate) seal_pieces: Option<usize>,
}

/// An ICMP error a refusal calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpKind {
    TimeExceeded,
    NoRoute,
    NoNeighbor,
    TooBig(u16),
}

/// Why forwarding stopped, and the ICMP error it calls for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    pub(crate) reason: DropReason,
    pub(crate) icmp: Option<IcmpKind>,
}

impl Stop {
    const fn new(reason: DropReason) -> Self {
        Self { reason, icmp: None }
    }

    const fn with_icmp(reason: DropReason, icmp: IcmpKind) -> Self {
        Self {
            reason,
            icmp: Some(icmp),
        }
    }
}

impl From<DropReason> for Stop {
    fn from(reason: DropReason) -> Self {
        Stop::new(reason)
    }
}

/// IPv4 multicast or limited broadcast, IPv6 multicast.
fn is_group_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

/// Sources a router must not forward from (RFC 1812 5.3.7; RFC 4291 2.5.6
/// for IPv6 link-local; RFC 4443 2.4 for unspecified and multicast).
fn is_invalid_source(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => is_invalid_ipv4_source(a),
        IpAddr::V6(a) => {
            a.is_unspecified() || a.is_multicast() || a.is_loopback() || a.is_unicast_link_local()
        }
    }
}

fn ether_type(v6: bool) -> EtherType {
    if v6 { EtherType::IPV6 } else { EtherType::IPV4 }
}

/// Clamps the MSS of a TCP SYN at the start of `buf` (a validated packet).
pub(crate) fn clamp_mss(buf: &mut PacketBuf, meta: &Meta, mss: u16) {
    if meta.flow.protocol != IpNumber::TCP {
        return;
    }
    let bytes = buf.as_mut_slice();
    let packet = if meta.v6 {
        Ipv6Packet::new_checked(bytes).map(IpPacket::V6)
    } else {
        Ipv4Packet::new_checked_ignoring_checksum(bytes).map(IpPacket::V4)
    };
    if let Ok(mut packet) = packet {
        clamp_tcp_mss(&mut packet, mss);
    }
}

/// Prepends the Ethernet header for the next hop's `destination` MAC.
fn push_l2(
    buf: &mut PacketBuf,
    port: &EthernetInterface,
    destination: MacAddr,
    v6: bool,
) -> Result<(), Stop> {
    let header = EthernetHeader {
        destination,
        source: port.mac,
        ether_type: ether_type(v6),
    };
    push_ethernet_header(buf, &header)
        .map_err(|_| Stop::new(DropReason::Wire(crate::wire::WireDrop::BufferTooSmall)))
}

impl<'a> Pipeline<'a> {
    /// The view of `node` for one batch, forwarding with `fib`.
    pub(crate) fn new(
        node: &'a Node,
        fib: &'a Fib,
        slot: &'a CounterSlot,
        reassembly: &'a Reassembly,
        leases: &'a SendLeases,
    ) -> Self {
        Self {
            node,
            fib,
            slot,
            reassembly,
            neighbor_memo: Cell::new(None),
            underlay_memo: Cell::new(None),
            route_hint: Cell::new(None),
            leases,
            remaining: Cell::new(1),
        }
    }

    /// The batch has `frames` frames left, the current one included.
    #[inline]
    pub(crate) fn set_remaining(&self, frames: usize) {
        self.remaining.set(frames);
    }

    /// The static neighbour `ip` on `interface`, remembering the last answer.
    #[inline(always)]
    fn neighbor(&self, interface: InterfaceId, ip: IpAddr) -> Option<MacAddr> {
        if let Some((at, address, mac)) = self.neighbor_memo.get()
            && at == interface
            && address == ip
        {
            return mac;
        }
        self.neighbor_miss(interface, ip)
    }

    /// A neighbour the memo does not hold: the table, then the memo.
    #[inline(never)]
    fn neighbor_miss(&self, interface: InterfaceId, ip: IpAddr) -> Option<MacAddr> {
        let mac = self.node.neighbor(interface, ip);
        self.neighbor_memo.set(Some((interface, ip, mac)));
        mac
    }

    /// The underlay of `tunnel`: route to its remote endpoint, the ECMP
    /// member for its outer flow, the port and the next hop's MAC.
    #[inline]
    pub(super) fn underlay(&self, tunnel: &Tunnel) -> Underlay<'a> {
        if let Some((id, underlay)) = self.underlay_memo.get()
            && id == tunnel.id
        {
            return underlay;
        }
        let underlay = self.resolve_underlay(tunnel);
        self.underlay_memo.set(Some((tunnel.id, underlay)));
        underlay
    }

    fn resolve_underlay(&self, tunnel: &Tunnel) -> Underlay<'a> {
        let node: &'a Node = self.node;
        let outer_hit = self
            .fib
            .lookup(tunnel.remote)
            .ok_or(DropReason::TunnelNoRoute)?;
        let outer_hop = self
            .select(outer_hit.group, || tunnel.outer_hash)
            .ok_or(DropReason::TunnelNoRoute)?;
        let Some(Interface::Ethernet(port)) = node.interface(outer_hop.interface) else {
            return Err(DropReason::TunnelRecursion);
        };
        let next = outer_hop.via.unwrap_or(tunnel.remote);
        Ok((port, self.neighbor(port.id, next)))
    }

    /// An IP packet at the start of `buf` that arrived as `arrival` says;
    /// fills `fate`.
    pub(crate) fn ip(
        &self,
        buf: &mut PacketBuf,
        arrival: IngressContext,
        fate: &mut Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) {
        let meta = match Meta::parse(buf.as_slice(), arrival.version) {
            Ok(meta) => meta,
            Err(error) => {
                fate.outcome = Outcome::Dropped(error.into());
                fate.flow = None;
                return;
            }
        };
        buf.truncate(meta.total_len);
        fate.flow = Some(meta.flow);
        let destination = meta.flow.destination;
        if self.node.is_local(destination) {
            if !meta.v6 && is_ipv4_fragment(buf.as_slice()) {
                return self.reassemble(buf, arrival, fate, generated, index);
            }
            return self.local(buf, &meta, arrival, fate, generated, index);
        }
        let refused = if is_group_address(destination) {
            Some(DropReason::MulticastNotForwarded)
        } else if arrival.link_group {
            Some(DropReason::LinkBroadcast)
        } else if is_invalid_source(meta.flow.source) {
            Some(DropReason::InvalidSource)
        } else {
            None
        };
        if let Some(reason) = refused {
            fate.outcome = Outcome::Dropped(reason);
            return;
        }
        match self.forward(buf, &meta, true, fate) {
            Ok(egress) => {
                fate.outcome = Outcome::Forwarded(egress.interface);
                let cut = match (egress.seal_pieces, egress.fragment_to) {
                    (Some(mtu), _) => self.seal_fragments(buf, mtu, fate, generated, index),
                    (None, Some(mtu)) => self.fragment_egress(buf, mtu, fate, generated, index),
                    (None, None) => Ok(()),
                };
                if let Err(reason) = cut {
                    fate.outcome = Outcome::Dropped(reason);
                }
            }
            Err(stop) => {
                fate.outcome = Outcome::Dropped(stop.reason);
                if let Some(kind) = stop.icmp {
                    self.icmp_error(kind, buf, &meta, arrival, generated, index);
                }
            }
        }
    }

    /// A packet for one of the node's addresses.
    pub(crate) fn local(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        arrival: IngressContext,
        fate: &mut Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) {
        let protocol = meta.flow.protocol;
        let inbound = self.node.sas.inbound();
        let sadb = &inbound.db;
        if protocol == IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
            || (protocol == IpNumber::UDP && meta.flow.destination_port == sadb.nat_t_port())
        {
            match sadb.classify(buf.as_slice()) {
                Ok(PacketClass::Esp(_)) => {
                    return self.decapsulate(buf, arrival, fate, generated, index);
                }
                Ok(PacketClass::NonEspMarker)
                    if self.node.is_ike_endpoint(meta.flow.destination) =>
                {
                    fate.outcome = Outcome::Delivered(Delivery::Control);
                    return;
                }
                Ok(PacketClass::NatKeepalive | PacketClass::NonEspMarker) => {
                    fate.outcome = Outcome::Delivered(Delivery::Other);
                    return;
                }
                Ok(PacketClass::NotEsp) => {}
                Err(reason) => {
                    fate.outcome = Outcome::Dropped(reason.into());
                    return;
                }
            }
        }
        if protocol == IpNumber::UDP
            && meta.flow.destination_port == crate::ike::IKE_PORT
            && self.node.is_ike_endpoint(meta.flow.destination)
        {
            fate.outcome = Outcome::Delivered(Delivery::Control);
            return;
        }
        fate.outcome = if !self.is_echo_request(buf, meta) {
            Outcome::Delivered(Delivery::Other)
        } else {
            match self.echo_reply(buf, meta, generated, index) {
                Ok(()) => Outcome::Delivered(Delivery::EchoRequest),
                Err(error) => Outcome::Dropped(error.into()),
            }
        };
    }

    /// ESP for one of our tunnel endpoints: decapsulate, then the inner
    /// packet goes through the IP path as if it arrived on the tunnel.
    fn decapsulate(
        &self,
        buf: &mut PacketBuf,
        arrival: IngressContext,
        fate: &mut Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) {
        if arrival.decrypted.is_some() {
            fate.outcome = Outcome::Dropped(DropReason::TunnelRecursion);
            return;
        }
        let inbound = self.node.sas.inbound();
        let (spi, outcome) = match inbound.db.decapsulate(buf) {
            Ok((sa, outcome)) => (sa.spi(), outcome),
            Err(reason) => {
                fate.outcome = Outcome::Dropped(reason.into());
                return;
            }
        };
        let Some(tunnel) = inbound.tunnel_of(spi).and_then(|id| self.node.tunnel(id)) else {
            fate.outcome = Outcome::Dropped(DropReason::UnknownInterface);
            return;
        };
        let used = SaUse {
            tunnel: tunnel.id,
            spi,
            seq: outcome.seq,
        };
        fate.decrypted = Some(used);
        if let Some(mss) = tunnel.mss_clamp
            && let Ok(inner) = Meta::parse(buf.as_slice(), None)
        {
            clamp_mss(buf, &inner, mss);
        }
        let inner_arrival = IngressContext {
            interface: tunnel.id,
            link_group: false,
            decrypted: Some(used),
            version: None,
        };
        self.ip(buf, inner_arrival, fate, generated, index)
    }

    /// Looks up the destination and sends the packet out, recording the
    /// route, SA and policy verdict in `fate`. `transit` packets have their
    /// TTL checked and decremented; packets the node made do not.
    pub(crate) fn forward(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        transit: bool,
        fate: &mut Fate,
    ) -> Result<Egress, Stop> {
        if transit && meta.ttl <= 1 {
            let expired = DropReason::Wire(crate::wire::WireDrop::TtlExpired);
            return Err(Stop::with_icmp(expired, IcmpKind::TimeExceeded));
        }
        const NO_ROUTE: Stop = Stop::with_icmp(DropReason::NoRoute, IcmpKind::NoRoute);
        let destination = meta.flow.destination;
        let hit = self.route(destination).ok_or(NO_ROUTE)?;
        let hop = self
            .select(hit.group, || self.node.hasher.hash(&meta.flow))
            .ok_or(NO_ROUTE)?;
        fate.route = Some(RouteHit {
            prefix_len: hit.prefix_len,
            next_hop: hop,
        });
        match self.node.interface(hop.interface) {
            Some(Interface::Ethernet(port)) => {
                let next = hop.via.unwrap_or(destination);
                self.to_port(buf, meta, transit, port, next, fate)
            }
            Some(Interface::Tunnel(tunnel)) => self.to_tunnel(buf, meta, transit, tunnel, fate),
            None => Err(DropReason::UnknownInterface.into()),
        }
    }

    /// The ECMP member for a flow (the hash is only computed when there is
    /// a choice).
    #[inline]
    fn select(
        &self,
        group: crate::fib::NextHopGroupId,
        hash: impl FnOnce() -> u64,
    ) -> Option<NextHop> {
        match self.fib.groups().members(group) {
            [] => None,
            [only] => Some(*only),
            _ => self.fib.select(group, hash()).copied(),
        }
    }

    /// The MTU check shared by ports and tunnels: true when the packet is
    /// larger but may be fragmented (IPv4 without DF).
    fn fits(meta: &Meta, mtu: usize) -> Result<bool, Stop> {
        if meta.total_len <= mtu {
            Ok(false)
        } else if meta.v6 || meta.dont_fragment {
            let mtu = mtu.min(usize::from(u16::MAX)) as u16;
            Err(Stop::with_icmp(
                DropReason::PacketTooBig,
                IcmpKind::TooBig(mtu),
            ))
        } else {
            Ok(true)
        }
    }

    /// Plain egress: MTU, neighbour, policy, then TTL and L2 rewrite.
    fn to_port(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        transit: bool,
        port: &EthernetInterface,
        next: IpAddr,
        fate: &mut Fate,
    ) -> Result<Egress, Stop> {
        let fragment = Self::fits(meta, port.mtu)?;
        let mac = self.neighbor(port.id, next).ok_or(Stop::with_icmp(
            DropReason::NoNeighbor,
            IcmpKind::NoNeighbor,
        ))?;
        let (policy, fail_closed) = self.node.policies.plain(&meta.flow);
        fate.policy = policy;
        if fail_closed {
            return Err(DropReason::PolicyViolation.into());
        }
        if transit {
            fastpath::decrement_ttl(buf.as_mut_slice(), meta.v6)
                .map_err(|e| Stop::new(e.into()))?;
        }
        push_l2(buf, port, mac, meta.v6)?;
        Ok(Egress {
            interface: port.id,
            fragment_to: fragment.then_some(port.mtu),
            seal_pieces: None,
        })
    }

    /// Tunnel egress: MTU, underlay route and neighbour, MSS clamp, TTL,
    /// ESP encapsulation, then the outer packet's L2 header. An outer IPv4
    /// packet over the underlay MTU is fragmented when the SA leaves DF
    /// clear on it (RFC 4303 3.3.5), refused otherwise. An inner IPv4
    /// packet without DF over the tunnel's MTU is fragmented before ESP
    /// (RFC 4459 section 3): returned unsealed for the caller to cut and
    /// seal piece by piece.
    fn to_tunnel(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        transit: bool,
        tunnel: &Tunnel,
        fate: &mut Fate,
    ) -> Result<Egress, Stop> {
        let current = tunnel.sa_out.load();
        // Fail closed: a tunnel without an SA (IKE not up yet, the peer
        // dead) sends nothing, in clear or otherwise.
        let sa = current.as_ref().ok_or(DropReason::TunnelNoSa)?;
        let pieces = Self::fits(meta, tunnel.mtu)?;
        let (port, mac) = self.underlay(tunnel)?;
        let inner_len = if pieces { tunnel.mtu } else { meta.total_len };
        let outer_len_max = inner_len + sa.headroom_needed() + sa.tailroom_needed(inner_len);
        let outer_fragments = outer_len_max > port.mtu;
        // Pieces that would need fragmenting again after ESP are refused.
        if outer_fragments
            && (pieces
                || tunnel.remote.is_ipv6()
                || sa.outer_dont_fragment(meta.dont_fragment, meta.v6))
        {
            return Err(DropReason::TunnelOuterTooBig.into());
        }
        let mac = mac.ok_or(DropReason::NoNeighbor)?;
        if let Some(mss) = tunnel.mss_clamp {
            clamp_mss(buf, meta, mss);
        }
        if transit {
            fastpath::decrement_ttl(buf.as_mut_slice(), meta.v6)
                .map_err(|e| Stop::new(e.into()))?;
        }
        if pieces {
            return Ok(Egress {
                interface: port.id,
                fragment_to: None,
                seal_pieces: Some(tunnel.mtu),
            });
        }
        self.seal(buf, tunnel, sa, (port, mac), fate)?;
        fate.policy = self.node.policies.encrypted(&meta.flow);
        Ok(Egress {
            interface: port.id,
            fragment_to: outer_fragments.then_some(port.mtu),
            seal_pieces: None,
        })
    }

    /// ESP-encapsulates the IP packet in `buf` with `sa` and puts the outer
    /// packet's L2 header on; records the SA and sequence number used.
    pub(crate) fn seal(
        &self,
        buf: &mut PacketBuf,
        tunnel: &Tunnel,
        sa: &Arc<OutboundSa>,
        (port, mac): (&EthernetInterface, MacAddr),
        fate: &mut Fate,
    ) -> Result<(), Stop> {
        let encapsulated = self
            .leases
            .encapsulate(tunnel.id, sa, buf, self.remaining.get())
            .map_err(|e| Stop::new(DropReason::Esp(e)))?;
        fate.encrypted = Some(SaUse {
            tunnel: tunnel.id,
            spi: sa.spi(),
            seq: encapsulated.seq,
        });
        push_l2(buf, port, mac, tunnel.remote.is_ipv6())
    }
}
