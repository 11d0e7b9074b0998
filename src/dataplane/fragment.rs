//! IPv4 fragmentation on egress and reassembly for the node's own
//! addresses. Egress: a forwarded frame whose IPv4 packet (plain, or the
//! outer packet after ESP, RFC 4303 3.3.5) is larger than the port's MTU
//! and may be fragmented is cut in place (RFC 791 3.2): the input buffer
//! keeps the first fragment, the others go out as generated frames from
//! the batch's reused buffers, each with the input's fate. An inner IPv4
//! packet over a tunnel's MTU is cut the same way before ESP, each piece
//! sealed as its own ESP packet (RFC 4459 section 3). Ingress:
//! fragments for us are held by the worker's [`Reassembler`] and the
//! datagram goes on (to ESP decapsulation, RFC 4303 3.4.1) once whole.

use std::cell::RefCell;
use std::time::Duration;

use super::fate::{Delivery, DropReason, Fate, Outcome, PolicyVerdict};
use super::forward::{IngressContext, Meta, Pipeline};
use super::node::Interface;
use super::outputs::GeneratedFrames;
use crate::frag::{Reassembled, Reassembler};
use crate::packet::PacketBuf;
use crate::wire::{
    ETHERNET_HEADER_LEN, Ipv4FragmentFields, Ipv4Fragmenter, Ipv4Packet, finish_fragment_header,
    ipv4_field, ipv4_flags,
};

/// The worker's reassembly state and the clock it runs on.
#[derive(Debug)]
pub(crate) struct Reassembly {
    /// The datagrams in progress.
    pub(crate) state: RefCell<Reassembler>,
    /// A buffer exchanged with the input's when a datagram completes.
    pub(crate) spare: RefCell<PacketBuf>,
    /// Time now (virtual or since the worker started).
    pub(crate) now: Duration,
}

/// True when the IPv4 packet in `bytes` is a fragment (MF or an offset).
pub(crate) fn is_ipv4_fragment(bytes: &[u8]) -> bool {
    bytes
        .get(ipv4_field::FLAGS_FRAGMENT)
        .and_then(|b| b.first_chunk::<2>())
        .is_some_and(|b| u16::from_be_bytes(*b) & ipv4_flags::FRAGMENTING != 0)
}

const CANNOT_FRAGMENT: DropReason = DropReason::FragmentationUnsupported;

/// How a fragment after the first is counted: without the decryption and
/// the policy verdict, so decrypted bytes and each packet's verdict
/// (encrypted, or a violation) are counted once, with the input.
fn counted_once(fate: &Fate) -> Fate {
    Fate {
        decrypted: None,
        policy: PolicyVerdict::Unchecked,
        ..*fate
    }
}

/// An IPv4 packet about to be cut into fragments of at most an MTU.
struct Cut<'p> {
    plan: Ipv4Fragmenter<'p>,
    /// The packet's own fragment fields (a fragment may be cut again).
    base: Ipv4FragmentFields,
}

impl<'p> Cut<'p> {
    fn plan(ip: &'p [u8], mtu: usize) -> Result<Self, DropReason> {
        let plan = Ipv4Fragmenter::new(ip, mtu).map_err(|_| CANNOT_FRAGMENT)?;
        let base = Ipv4Packet::new_checked_ignoring_checksum(ip)
            .map(|p| Ipv4FragmentFields::of(&p))
            .map_err(|_| CANNOT_FRAGMENT)?;
        Ok(Cut { plan, base })
    }

    /// Writes every piece after the first into generated buffers, each
    /// after `l2` (an Ethernet header, or nothing), committed with `fate`
    /// as caused by input `index`. Returns the first piece's header
    /// length, total length and MF flag (or why the cut failed), and how
    /// many pieces were committed either way.
    fn write_rest(
        &self,
        l2: &[u8],
        fate: &Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) -> (Result<(usize, usize, bool), DropReason>, usize) {
        let plan = &self.plan;
        let mut first = Err(CANNOT_FRAGMENT);
        let mut written = 0;
        for piece in plan.clone() {
            if piece.first {
                first = Ok((plan.header_len(&piece), plan.total_len(&piece), piece.more));
                continue;
            }
            let out = generated.reserve();
            out.reset(PacketBuf::DEFAULT_HEADROOM);
            let done = out
                .push_back(l2.len() + plan.total_len(&piece))
                .ok()
                .and_then(|bytes| {
                    let (head, rest) = bytes.split_at_mut(l2.len());
                    head.copy_from_slice(l2);
                    plan.write(&piece, rest).ok()
                });
            if done.is_none() {
                let reason = DropReason::Wire(crate::wire::WireDrop::BufferTooSmall);
                return (Err(reason), written);
            }
            generated.commit(*fate, index);
            written += 1;
        }
        (first, written)
    }
}

impl Pipeline<'_> {
    /// Cuts the Ethernet frame in `buf` (IPv4, already forwarded with
    /// `fate`) into fragments of at most `mtu` IP bytes. The rest of the
    /// fragments become generated frames caused by input `index`.
    pub(crate) fn fragment_egress(
        &self,
        buf: &mut PacketBuf,
        mtu: usize,
        fate: &Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) -> Result<(), DropReason> {
        let frame = buf.as_slice();
        let (Some(l2), Some(ip)) = (
            frame.get(..ETHERNET_HEADER_LEN),
            frame.get(ETHERNET_HEADER_LEN..),
        ) else {
            return Err(CANNOT_FRAGMENT);
        };
        if ip.len() <= mtu {
            return Ok(());
        }
        let counted = counted_once(fate);
        let cut = Cut::plan(ip, mtu)?;
        let base = cut.base;
        let (first, written) = cut.write_rest(l2, fate, generated, index);
        for (piece, _) in generated.last_committed_mut(written) {
            self.slot.account(&counted, true, piece.len(), piece.len());
        }
        let (header_len, total, more) = first?;
        let header = buf
            .as_mut_slice()
            .get_mut(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + header_len)
            .ok_or(CANNOT_FRAGMENT)?;
        finish_fragment_header(header, total, base.offset, more, base.dont_fragment)
            .map_err(|_| CANNOT_FRAGMENT)?;
        buf.truncate(ETHERNET_HEADER_LEN + total);
        Ok(())
    }

    /// Cuts the inner IPv4 packet in `buf` (not sealed yet: larger than
    /// the tunnel's `mtu`, without DF) into fragments of at most `mtu`
    /// bytes and seals each into the tunnel of `fate`'s route as an ESP
    /// packet of its own (RFC 4459 section 3, fragmentation before
    /// encryption; RFC 791 3.2): the input buffer keeps the first, the
    /// others go out as generated frames, sealed in order after it.
    pub(crate) fn seal_fragments(
        &self,
        buf: &mut PacketBuf,
        mtu: usize,
        fate: &mut Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) -> Result<(), DropReason> {
        let hop = fate.route.ok_or(CANNOT_FRAGMENT)?.next_hop;
        let Some(Interface::Tunnel(tunnel)) = self.node.interface(hop.interface) else {
            return Err(CANNOT_FRAGMENT);
        };
        let current = tunnel.sa_out.load();
        let sa = current.as_ref().ok_or(DropReason::TunnelNoSa)?;
        let (port, mac) = self.underlay(tunnel)?;
        let under = (port, mac.ok_or(DropReason::NoNeighbor)?);
        // The pieces after the first, written before the input is cut.
        let cut = Cut::plan(buf.as_slice(), mtu)?;
        let base = cut.base;
        let (first, rest) = cut.write_rest(&[], fate, generated, index);
        let sealed = first.and_then(|(header_len, total, more)| {
            let header = buf
                .as_mut_slice()
                .get_mut(..header_len)
                .ok_or(CANNOT_FRAGMENT)?;
            finish_fragment_header(header, total, base.offset, more, base.dont_fragment)
                .map_err(|_| CANNOT_FRAGMENT)?;
            buf.truncate(total);
            self.seal(buf, tunnel, sa, under, fate)
                .map_err(|stop| stop.reason)
        });
        if let Err(reason) = sealed {
            return Err(self.drop_pieces(generated, rest, reason));
        }
        if let Some(flow) = &fate.flow {
            fate.policy = self.node.policies.encrypted(flow);
        }
        // The others in order; each datagram's verdict is counted once,
        // with the input.
        for (piece, piece_fate) in generated.last_committed_mut(rest) {
            let len = piece.len();
            if let Err(stop) = self.seal(piece, tunnel, sa, under, piece_fate) {
                piece_fate.outcome = Outcome::Dropped(stop.reason);
            }
            self.slot
                .account(&counted_once(piece_fate), true, len, piece.len());
        }
        Ok(())
    }

    /// The last `count` pieces written for a datagram that cannot be sent
    /// whole are dropped (counted, never sent unsealed); returns `reason`.
    fn drop_pieces(
        &self,
        generated: &mut GeneratedFrames,
        count: usize,
        reason: DropReason,
    ) -> DropReason {
        for (piece, fate) in generated.last_committed_mut(count) {
            fate.outcome = Outcome::Dropped(reason);
            self.slot
                .account(&counted_once(fate), true, piece.len(), piece.len());
        }
        reason
    }

    /// An IPv4 fragment for one of our addresses: held, refused, or the
    /// last piece of a datagram, which then takes the local path whole.
    pub(crate) fn reassemble(
        &self,
        buf: &mut PacketBuf,
        arrival: IngressContext,
        fate: &mut Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) {
        let (Ok(mut state), Ok(mut spare)) = (
            self.reassembly.state.try_borrow_mut(),
            self.reassembly.spare.try_borrow_mut(),
        ) else {
            // Reassembly does not recurse (an inner fragment for us after
            // decapsulation is refused like ESP in ESP).
            fate.outcome = Outcome::Dropped(DropReason::TunnelRecursion);
            return;
        };
        let inserted = match Ipv4Packet::new_checked_ignoring_checksum(buf.as_slice()) {
            Ok(packet) => state.insert(
                self.reassembly.now,
                &packet,
                &mut spare,
                PacketBuf::DEFAULT_HEADROOM,
            ),
            Err(error) => return fate.outcome = Outcome::Dropped(error.into()),
        };
        match inserted {
            Ok(Reassembled::Held) => fate.outcome = Outcome::Delivered(Delivery::FragmentHeld),
            Err(reason) => fate.outcome = Outcome::Dropped(reason.into()),
            Ok(Reassembled::Complete) => {
                std::mem::swap(buf, &mut spare);
                drop((state, spare));
                match Meta::parse(buf.as_slice(), Some(4)) {
                    Ok(meta) => {
                        fate.flow = Some(meta.flow);
                        self.local(buf, &meta, arrival, fate, generated, index);
                    }
                    Err(error) => fate.outcome = Outcome::Dropped(error.into()),
                }
            }
        }
    }
}
