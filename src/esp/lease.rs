//! Sequence-number leases: how workers share one outbound SA without
//! meeting on its send lock for every packet. A worker's [`SendLease`]
//! takes a block of consecutive sequence numbers (as many as its batch
//! has packets left, at most [`MAX_BATCH`]) under the SA's lock, seals
//! packets with them on its own, and settles at the end of the batch:
//! the usage is counted into the SA and unused numbers go back when no
//! other worker took numbers since (else they are skipped, which
//! receivers allow: RFC 4303 section 3.4.3 only needs them unique).
//! Renewing a drained lease settles and reserves under one lock.
//!
//! The same bounds as [`OutboundSa::encapsulate_batch`]: a number is never
//! handed out twice, nor wraps (RFC 4303 section 3.3.3); the hard lifetime
//! is checked against the usage when the block was taken plus the
//! lease's own packets, so concurrent workers may overshoot it by at most
//! one block each. Packets of two workers' blocks interleave on the wire
//! as their batches do: the receiver's anti-replay window must cover the
//! workers' batches in flight (RFC 4303 section 3.4.3's window).

use std::sync::Arc;

use super::batch::MAX_BATCH;
use super::counters::Usage;
use super::drop::EspDrop;
use super::outbound::{EncapOutcome, OutboundSa};
use crate::packet::PacketBuf;

/// One worker's sequence numbers on one outbound SA. Settle it
/// ([`SendLease::settle`]) at the end of every batch.
#[derive(Debug, Default)]
pub struct SendLease {
    held: Option<Held>,
}

/// A block of numbers taken from `sa`.
#[derive(Debug)]
struct Held {
    sa: Arc<OutboundSa>,
    /// The next number to use; `next..end` are still unused.
    next: u64,
    end: u64,
    /// The SA's usage when the block was taken.
    start: Usage,
    /// Packets sealed on this lease and not yet counted into the SA.
    done: Usage,
}

impl SendLease {
    /// Encapsulates the inner packet in `buf` with `sa`, as
    /// [`OutboundSa::encapsulate`] does but with a number from the lease;
    /// a drained lease takes up to `wanted` more (clamped to 1..=
    /// [`MAX_BATCH`]). A lease on another SA (the tunnel was rekeyed) is
    /// settled first. `lifetime_event` is never set: lifetime crossings
    /// are logged when the lease settles.
    #[inline]
    pub fn encapsulate(
        &mut self,
        sa: &Arc<OutboundSa>,
        buf: &mut PacketBuf,
        wanted: usize,
    ) -> Result<EncapOutcome, EspDrop> {
        if !self.held.as_ref().is_some_and(|h| Arc::ptr_eq(&h.sa, sa)) {
            self.settle();
        }
        let held = self.held.get_or_insert_with(|| Held {
            sa: Arc::clone(sa),
            next: 0,
            end: 0,
            start: Usage::default(),
            done: Usage::default(),
        });
        held.encapsulate(buf, wanted)
            .map_err(|reason| sa.count_drop(reason))
    }

    /// Counts the lease's packets into its SA and gives back the numbers
    /// it did not use (when no other worker took numbers since). A settled
    /// lease holds nothing.
    pub fn settle(&mut self) {
        if let Some(held) = self.held.take() {
            held.sa.end_lease(held.next, held.end, held.done);
        }
    }

    /// True when the lease holds an SA (numbers or usage to settle).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }
}

impl Held {
    #[inline]
    fn encapsulate(&mut self, buf: &mut PacketBuf, wanted: usize) -> Result<EncapOutcome, EspDrop> {
        let prepared = self.sa.prepare(buf)?;
        if self.next == self.end {
            let wanted = wanted.clamp(1, MAX_BATCH) as u64;
            let (first, granted, start) = self.sa.renew_lease(self.done, wanted);
            (self.next, self.end, self.start) = (first, first + granted, start);
            self.done = Usage::default();
            if granted == 0 {
                return Err(EspDrop::SequenceCycled);
            }
        }
        if self.sa.hard_limit_reached_at(self.start.plus(self.done)) {
            return Err(EspDrop::SaExpired);
        }
        let seq = self.next;
        // A number whose sealing failed is skipped, never reused.
        self.next += 1;
        let outer_len = self.sa.seal_and_frame(buf, &prepared, seq)?;
        self.done = self.done.plus_packet(prepared.inner_len as u64);
        Ok(EncapOutcome {
            seq,
            outer_len,
            lifetime_event: None,
        })
    }
}

impl Drop for SendLease {
    /// A lease dropped unsettled still counts its packets.
    fn drop(&mut self) {
        self.settle();
    }
}
