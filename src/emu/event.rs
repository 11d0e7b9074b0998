//! The discrete-event queue: a binary heap keyed by `(time, sequence)`.
//!
//! The sequence number is assigned at insertion, so events due at the same
//! virtual time pop in the order they were scheduled: ties are deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// What happens when an event is due. Small and `Copy`: frames in flight
/// live in the engine's slab and events refer to them by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The held-back (reordered) frame in slot `slot` reaches the far end
    /// of its link.
    Arrive { slot: u32 },
    /// The first frame in the wire queue of `channel` (0: A to B, 1: B to A)
    /// of link `link` reaches the far end.
    WireHead { link: u32, channel: u8 },
    /// Device `device` asked to be polled at this time.
    Wake { device: u32 },
    /// Timeline action `index` is due.
    Action { index: u32 },
}

/// A pending event. `key` is the time in the high 64 bits and the
/// sequence number in the low 64, so ordering is one integer compare.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u128,
    kind: EventKind,
}

// Hot structure: the key and a two-word kind.
const _: () = assert!(std::mem::size_of::<Entry>() == 32);

impl Entry {
    fn time(&self) -> SimTime {
        SimTime::from_nanos((self.key >> 64) as u64)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest
    /// `(time, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// Pending events, earliest first; equal times pop in insertion order.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
}

impl EventQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `kind` at `time`.
    pub fn push(&mut self, time: SimTime, kind: EventKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = (u128::from(time.as_nanos()) << 64) | u128::from(seq);
        self.heap.push(Entry { key, kind });
    }

    /// Removes and returns the earliest event.
    pub(crate) fn pop(&mut self) -> Option<(SimTime, EventKind)> {
        self.heap.pop().map(|entry| (entry.time(), entry.kind))
    }

    /// The earliest event without removing it.
    pub(crate) fn peek(&self) -> Option<(SimTime, EventKind)> {
        self.heap.peek().map(|entry| (entry.time(), entry.kind))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut queue = EventQueue::new();
        queue.push(SimTime::from_nanos(5), EventKind::Wake { device: 1 });
        queue.push(SimTime::from_nanos(3), EventKind::Wake { device: 2 });
        queue.push(SimTime::from_nanos(5), EventKind::Wake { device: 3 });
        queue.push(SimTime::from_nanos(5), EventKind::Arrive { slot: 4 });
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(
            order,
            vec![
                (SimTime::from_nanos(3), EventKind::Wake { device: 2 }),
                (SimTime::from_nanos(5), EventKind::Wake { device: 1 }),
                (SimTime::from_nanos(5), EventKind::Wake { device: 3 }),
                (SimTime::from_nanos(5), EventKind::Arrive { slot: 4 }),
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(5), ..ProptestConfig::default() })]
        /// Against a naive reference: a stable sort by time of everything
        /// pushed, with pops interleaved.
        #[test]
        fn matches_a_stable_sort(ops in proptest::collection::vec((0u64..20, any::<bool>()), 0..200)) {
            let mut queue = EventQueue::new();
            let mut reference: Vec<(u64, u32)> = Vec::new();
            for (index, (time, pop)) in ops.into_iter().enumerate() {
                if pop {
                    let expected = reference
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (t, id))| (*t, *id))
                        .map(|(at, _)| at)
                        .map(|at| reference.remove(at));
                    let got = queue.pop().map(|(t, kind)| match kind {
                        EventKind::Wake { device } => (t.as_nanos(), device),
                        other => panic!("pushed only wakes, popped {other:?}"),
                    });
                    prop_assert_eq!(got, expected);
                } else {
                    let id = index as u32;
                    queue.push(SimTime::from_nanos(time), EventKind::Wake { device: id });
                    reference.push((time, id));
                }
                prop_assert_eq!(queue.len(), reference.len());
            }
        }
    }
}
