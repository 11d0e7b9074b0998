//! [`Reassembler`]: IPv4 reassembly (RFC 791 3.2, "reassembly") with every
//! bound fixed at construction. A datagram is keyed by source, destination,
//! protocol and identification; its data is kept in a reused buffer with
//! the list of byte ranges received. Any overlap discards the datagram
//! (RFC 5722's rule: legitimate senders never overlap, attackers do); an
//! exact duplicate is dropped alone. Slots, range lists and data buffers
//! are reused, so steady traffic allocates nothing.

use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

use super::{FragmentDrop, ReassemblyLimits, ReassemblyStats};
use crate::packet::PacketBuf;
use crate::wire::{
    FRAGMENT_UNIT, IPV4_MAX_DATAGRAM_LEN, IPV4_MAX_HEADER_LEN, Ipv4FragmentFields, Ipv4Packet,
    finish_fragment_header, ipv4_field, ipv4_flags,
};

/// What became of an accepted fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reassembled {
    /// Held until the rest of its datagram arrives.
    Held,
    /// It completed its datagram, now whole in the output buffer.
    Complete,
}

/// The identity of a datagram (RFC 791 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DatagramKey {
    source: Ipv4Addr,
    destination: Ipv4Addr,
    protocol: u8,
    identification: u16,
}

/// One datagram in progress (or a free slot when `key` is `None`).
#[derive(Debug)]
struct Slot {
    key: Option<DatagramKey>,
    started: Duration,
    /// Data bytes by offset (grown up to the highest end seen).
    data: Vec<u8>,
    /// Ranges received, unordered, disjoint.
    ranges: Vec<Range<usize>>,
    /// The datagram's data length, once the last fragment came.
    end: Option<usize>,
    /// The first fragment's header (the reassembled datagram's).
    header: [u8; IPV4_MAX_HEADER_LEN],
    header_len: usize,
    held: usize,
}

impl Slot {
    /// A free slot with room for `max_fragments` ranges.
    fn empty(max_fragments: usize) -> Self {
        Self {
            key: None,
            started: Duration::ZERO,
            data: Vec::new(),
            ranges: Vec::with_capacity(max_fragments),
            end: None,
            header: [0; IPV4_MAX_HEADER_LEN],
            header_len: 0,
            held: 0,
        }
    }

    fn received(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }
}

/// Reassembles IPv4 fragments with bounded state (see [`ReassemblyLimits`]).
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    slots: Vec<Slot>,
    held: usize,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// An empty reassembler with `limits` (its slots made now).
    pub fn new(limits: ReassemblyLimits) -> Self {
        let slots = (0..limits.max_datagrams)
            .map(|_| Slot::empty(limits.max_fragments))
            .collect();
        Self {
            limits,
            slots,
            held: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> &ReassemblyLimits {
        &self.limits
    }

    /// What happened so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Fragment data bytes held now (never above the memory cap).
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Datagrams in progress now.
    pub fn in_progress(&self) -> usize {
        self.slots.iter().filter(|s| s.key.is_some()).count()
    }

    /// Discards the datagrams older than the timeout at `now`.
    pub fn expire(&mut self, now: Duration) {
        let timeout = self.limits.timeout;
        for index in 0..self.slots.len() {
            let expired = self
                .slots
                .get(index)
                .is_some_and(|s| s.key.is_some() && now.saturating_sub(s.started) >= timeout);
            if expired {
                self.stats.timed_out += 1;
                self.free(index);
            }
        }
    }

    /// Frees slot `index`, counting its fragments as lost.
    fn free(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            self.stats.fragments_lost += slot.ranges.len() as u64;
            self.held -= slot.held;
            slot.key = None;
            slot.ranges.clear();
            slot.data.clear();
            slot.end = None;
            slot.header_len = 0;
            slot.held = 0;
        }
    }

    /// Discards the datagram in slot `index` for `reason`.
    fn discard(&mut self, index: usize, reason: FragmentDrop) -> FragmentDrop {
        self.stats.discarded += 1;
        self.free(index);
        reason
    }

    /// Takes the fragment `packet` (a checked IPv4 fragment) at `now`.
    /// When it completes its datagram, the whole datagram is written to
    /// `out` after `headroom` bytes.
    pub fn insert(
        &mut self,
        now: Duration,
        packet: &Ipv4Packet<&[u8]>,
        out: &mut PacketBuf,
        headroom: usize,
    ) -> Result<Reassembled, FragmentDrop> {
        self.expire(now);
        let fields = Ipv4FragmentFields::of(packet);
        let data = packet.payload();
        if data.is_empty() || (fields.more && !data.len().is_multiple_of(FRAGMENT_UNIT)) {
            return Err(FragmentDrop::BadLength);
        }
        let key = DatagramKey {
            source: packet.source(),
            destination: packet.destination(),
            protocol: packet.protocol().0,
            identification: fields.identification,
        };
        let range = fields.offset..fields.offset + data.len();
        let found = self.slots.iter().position(|s| s.key == Some(key));
        let too_large = packet.header_len() + range.end > IPV4_MAX_DATAGRAM_LEN;
        let index = match (found, too_large) {
            (Some(index), true) => return Err(self.discard(index, FragmentDrop::TooLarge)),
            (None, true) => return Err(FragmentDrop::TooLarge),
            (Some(index), false) => index,
            (None, false) => {
                let free = self.slots.iter().position(|s| s.key.is_none());
                let index = free.ok_or(FragmentDrop::TableFull)?;
                if let Some(slot) = self.slots.get_mut(index) {
                    slot.key = Some(key);
                    slot.started = now;
                }
                index
            }
        };
        match self.place(index, &fields, range, packet, data) {
            Ok(()) => {}
            Err(reason @ (FragmentDrop::Duplicate | FragmentDrop::MemoryCap)) => {
                self.release_if_empty(index);
                return Err(reason);
            }
            Err(reason) => return Err(self.discard(index, reason)),
        }
        self.stats.fragments_held += 1;
        self.complete(index, out, headroom)
    }

    /// A slot made for a fragment that was then refused is freed again.
    fn release_if_empty(&mut self, index: usize) {
        if self.slots.get(index).is_some_and(|s| s.ranges.is_empty()) {
            self.free(index);
        }
    }

    /// Checks `range` against slot `index` and stores the data.
    fn place(
        &mut self,
        index: usize,
        fields: &Ipv4FragmentFields,
        range: Range<usize>,
        packet: &Ipv4Packet<&[u8]>,
        data: &[u8],
    ) -> Result<(), FragmentDrop> {
        let cap = self.limits.memory_cap;
        let max_fragments = self.limits.max_fragments;
        let held = self.held;
        let Some(slot) = self.slots.get_mut(index) else {
            return Err(FragmentDrop::TableFull);
        };
        for have in &slot.ranges {
            if have.start < range.end && range.start < have.end {
                let same = *have == range && slot.data.get(range.clone()) == Some(data);
                return Err(if same {
                    FragmentDrop::Duplicate
                } else {
                    FragmentDrop::Overlap
                });
            }
        }
        let end_conflict = match slot.end {
            Some(end) => range.end > end || (!fields.more && range.end != end),
            None => !fields.more && slot.ranges.iter().any(|r| r.end > range.end),
        };
        if end_conflict {
            return Err(FragmentDrop::InconsistentEnd);
        }
        if slot.ranges.len() >= max_fragments {
            return Err(FragmentDrop::TooManyFragments);
        }
        if held + data.len() > cap {
            return Err(FragmentDrop::MemoryCap);
        }
        if slot.data.len() < range.end {
            slot.data.resize(range.end, 0);
        }
        if let Some(at) = slot.data.get_mut(range.clone()) {
            at.copy_from_slice(data);
        }
        if range.start == 0 {
            let header = packet.header();
            if let Some(to) = slot.header.get_mut(..header.len()) {
                to.copy_from_slice(header);
                slot.header_len = header.len();
            }
        }
        if !fields.more {
            slot.end = Some(range.end);
        }
        slot.ranges.push(range);
        slot.held += data.len();
        self.held += data.len();
        Ok(())
    }

    /// Writes the datagram of slot `index` to `out` if it is whole.
    fn complete(
        &mut self,
        index: usize,
        out: &mut PacketBuf,
        headroom: usize,
    ) -> Result<Reassembled, FragmentDrop> {
        let Some(slot) = self.slots.get(index) else {
            return Ok(Reassembled::Held);
        };
        let whole = slot
            .end
            .is_some_and(|end| slot.header_len > 0 && slot.received() == end);
        if !whole {
            return Ok(Reassembled::Held);
        }
        let header_len = slot.header_len;
        let total = header_len + slot.data.len();
        out.reset(headroom);
        let written = out.push_back(total).ok().and_then(|bytes| {
            let (header, body) = bytes.split_at_mut(header_len);
            header.copy_from_slice(slot.header.get(..header_len)?);
            body.copy_from_slice(&slot.data);
            let dont_fragment = header
                .get(ipv4_field::FLAGS_FRAGMENT)
                .and_then(|b| b.first_chunk::<2>())
                .is_some_and(|b| u16::from_be_bytes(*b) & ipv4_flags::DONT_FRAGMENT != 0);
            finish_fragment_header(header, total, 0, false, dont_fragment).ok()
        });
        if written.is_none() {
            out.reset(headroom);
            return Err(self.discard(index, FragmentDrop::BufferTooSmall));
        }
        self.stats.completed += 1;
        // A completed datagram's fragments are not lost: forget them first.
        if let Some(slot) = self.slots.get_mut(index) {
            slot.ranges.clear();
        }
        self.free(index);
        Ok(Reassembled::Complete)
    }
}

#[cfg(test)]
#[path = "reassembly_tests.rs"]
mod tests;
