//! IPv4 fragmentation on egress and reassembly for the node's own
//! addresses. Egress: a forwarded frame whose IPv4 packet (plain, or the
//! outer packet after ESP, RFC 4303 3.3.5) is larger than the port's MTU
//! and may be fragmented is cut in place (RFC 791 3.2): the input buffer
//! keeps the first fragment, the others go out as generated frames from
//! the batch's reused buffers, each with the input's fate. Ingress:
//! fragments for us are held by the worker's [`Reassembler`] and the
//! datagram goes on (to ESP decapsulation, RFC 4303 3.4.1) once whole.

use std::cell::RefCell;
use std::time::Duration;

use super::fate::{Delivery, DropReason, Fate, Outcome, PolicyVerdict};
use super::forward::{IngressContext, Meta, Pipeline};
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
        let plan = Ipv4Fragmenter::new(ip, mtu).map_err(|_| CANNOT_FRAGMENT)?;
        let base = Ipv4Packet::new_checked_ignoring_checksum(ip)
            .map(|p| Ipv4FragmentFields::of(&p))
            .map_err(|_| CANNOT_FRAGMENT)?;
        let mut first = None;
        // Generated fragments are counted without the decryption and the
        // policy verdict, so decrypted bytes and each packet's verdict
        // (encrypted, or a violation) are counted once, with the input.
        let counted = Fate {
            decrypted: None,
            policy: PolicyVerdict::Unchecked,
            ..*fate
        };
        for piece in plan.clone() {
            if piece.first {
                first = Some((plan.header_len(&piece), plan.total_len(&piece), piece.more));
                continue;
            }
            let out = generated.reserve();
            out.reset(PacketBuf::DEFAULT_HEADROOM);
            let len = ETHERNET_HEADER_LEN + plan.total_len(&piece);
            let written = out.push_back(len).ok().and_then(|bytes| {
                let (head, rest) = bytes.split_at_mut(ETHERNET_HEADER_LEN);
                head.copy_from_slice(l2);
                plan.write(&piece, rest).ok()
            });
            if written.is_none() {
                return Err(DropReason::Wire(crate::wire::WireDrop::BufferTooSmall));
            }
            self.slot.account(&counted, true, len, len);
            generated.commit(*fate, index);
        }
        let (header_len, total, more) = first.ok_or(CANNOT_FRAGMENT)?;
        let header = buf
            .as_mut_slice()
            .get_mut(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + header_len)
            .ok_or(CANNOT_FRAGMENT)?;
        finish_fragment_header(header, total, base.offset, more, base.dont_fragment)
            .map_err(|_| CANNOT_FRAGMENT)?;
        buf.truncate(ETHERNET_HEADER_LEN + total);
        Ok(())
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
