//! Per-SA counters and lifetimes (RFC 4301 section 4.4.2.1 soft and hard
//! limits in bytes and packets). Usage (packets, bytes) is updated under the
//! SA's [`ShortLock`] with plain loads and stores, once per packet or per
//! batch, so limits are exact and each lifetime event goes to exactly one
//! packet; drops are counted with atomic adds from anywhere.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::config::Lifetime;
use super::drop::EspDrop;
use super::lock::ShortGuard;

/// A lifetime limit crossed by the packet just processed. Each event fires
/// exactly once per SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeEvent {
    /// A soft limit was reached: time to rekey.
    SoftLimitReached,
    /// A hard limit was reached: the SA refuses further packets.
    HardLimitReached,
}

/// Per-SA counters, updated atomically by every worker thread.
#[derive(Debug)]
pub(crate) struct SaCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    drops: [AtomicU64; EspDrop::COUNT],
    resyncs: AtomicU64,
}

/// A copy of an SA's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaStats {
    /// Packets processed successfully.
    pub packets: u64,
    /// Inner bytes processed successfully.
    pub bytes: u64,
    /// Drops by reason (only non-zero ones in reports).
    pub drops: Vec<(EspDrop, u64)>,
    /// ESN resynchronisations (RFC 4303 Appendix A3).
    pub resyncs: u64,
    /// The soft lifetime was reached.
    pub soft_limit_reached: bool,
    /// The hard lifetime was reached (the SA is stopped).
    pub hard_limit_reached: bool,
}

impl SaStats {
    /// The count for one drop reason.
    pub fn drops_of(&self, reason: EspDrop) -> u64 {
        self.drops
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// All drops together.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().map(|(_, n)| n).sum()
    }
}

/// Packets and inner bytes an SA has processed (or is about to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Usage {
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
}

impl Usage {
    /// The sum of two usages.
    #[inline]
    pub(crate) fn plus(self, other: Usage) -> Usage {
        Usage {
            packets: self.packets.saturating_add(other.packets),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }

    /// This usage plus one packet of `bytes`.
    #[inline]
    pub(crate) fn plus_packet(self, bytes: u64) -> Usage {
        Usage {
            packets: self.packets.saturating_add(1),
            bytes: self.bytes.saturating_add(bytes),
        }
    }
}

impl SaCounters {
    pub(crate) fn new() -> Self {
        SaCounters {
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            resyncs: AtomicU64::new(0),
        }
    }

    /// Counts a drop and hands the reason back, for `Err(counters.drop(r))`.
    #[inline]
    pub(crate) fn drop(&self, reason: EspDrop) -> EspDrop {
        if let Some(c) = self.drops.get(reason.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        reason
    }

    pub(crate) fn count_resync(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    /// What the SA has processed so far.
    #[inline]
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }

    /// True once a soft limit is reached: the SA is due for a rekey.
    #[inline]
    pub(crate) fn soft_limit_reached(&self, limits: &Limits) -> bool {
        limits.soft_reached(self.usage())
    }

    /// True once a hard limit is reached: no new packet may start.
    #[inline]
    pub(crate) fn hard_limit_reached(&self, limits: &Limits) -> bool {
        limits.hard_reached(self.usage())
    }

    /// Adds `done` (successful packets and their inner bytes) and returns
    /// the usage before it. Every caller holds the SA's one usage lock, so
    /// plain loads and stores suffice and each caller sees a distinct range.
    #[inline]
    pub(crate) fn add_locked(&self, done: Usage, _held: &ShortGuard<'_>) -> Usage {
        let before = self.usage();
        let after = before.plus(done);
        self.packets.store(after.packets, Ordering::Relaxed);
        self.bytes.store(after.bytes, Ordering::Relaxed);
        before
    }

    /// Takes back usage counted for packets that then failed (only for
    /// failures that cannot happen to a validated SA); under the usage lock.
    #[cold]
    pub(crate) fn take_back_locked(&self, usage: Usage, _held: &ShortGuard<'_>) {
        let now = self.usage();
        self.packets
            .store(now.packets.saturating_sub(usage.packets), Ordering::Relaxed);
        self.bytes
            .store(now.bytes.saturating_sub(usage.bytes), Ordering::Relaxed);
    }

    /// Counts one successful packet of `bytes` (under the usage lock) and
    /// reports a limit it crossed. Always inlined: it runs once per packet
    /// inside the lock, where a call's overhead is a noticeable share.
    #[inline(always)]
    pub(crate) fn count_packet_locked(
        &self,
        bytes: u64,
        limits: &Limits,
        held: &ShortGuard<'_>,
    ) -> Option<LifetimeEvent> {
        let before = self.add_locked(Usage { packets: 1, bytes }, held);
        limits.crossed(before, before.plus_packet(bytes))
    }

    /// A snapshot for reports.
    pub(crate) fn snapshot(&self, limits: &Limits) -> SaStats {
        let usage = self.usage();
        SaStats {
            packets: usage.packets,
            bytes: usage.bytes,
            drops: EspDrop::ALL
                .iter()
                .zip(self.drops.iter())
                .map(|(r, c)| (*r, c.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            resyncs: self.resyncs.load(Ordering::Relaxed),
            soft_limit_reached: limits.soft_reached(usage),
            hard_limit_reached: limits.hard_reached(usage),
        }
    }
}

/// Lifetime limits with `u64::MAX` for "none", so the hot path compares
/// without branching on options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) soft_bytes: u64,
    pub(crate) hard_bytes: u64,
    pub(crate) soft_packets: u64,
    pub(crate) hard_packets: u64,
    /// The lowest packet and byte limits: below both, nothing can cross.
    first_packets: u64,
    first_bytes: u64,
}

impl From<&Lifetime> for Limits {
    fn from(l: &Lifetime) -> Self {
        let soft_bytes = l.soft_bytes.unwrap_or(u64::MAX);
        let hard_bytes = l.hard_bytes.unwrap_or(u64::MAX);
        let soft_packets = l.soft_packets.unwrap_or(u64::MAX);
        let hard_packets = l.hard_packets.unwrap_or(u64::MAX);
        Limits {
            soft_bytes,
            hard_bytes,
            soft_packets,
            hard_packets,
            first_packets: soft_packets.min(hard_packets),
            first_bytes: soft_bytes.min(hard_bytes),
        }
    }
}

impl Limits {
    /// True when `usage` has reached a soft limit.
    #[inline]
    pub(crate) fn soft_reached(&self, usage: Usage) -> bool {
        usage.packets >= self.soft_packets || usage.bytes >= self.soft_bytes
    }

    /// True when `usage` has reached a hard limit.
    #[inline]
    pub(crate) fn hard_reached(&self, usage: Usage) -> bool {
        usage.packets >= self.hard_packets || usage.bytes >= self.hard_bytes
    }

    /// True when adding `total` to `before` may cross a limit (else no
    /// packet of the batch needs [`Self::crossed`]).
    #[inline]
    pub(crate) fn may_cross(&self, before: Usage, total: Usage) -> bool {
        before.packets.saturating_add(total.packets) >= self.first_packets
            || before.bytes.saturating_add(total.bytes) >= self.first_bytes
    }

    /// The event of going from `before` to `after`: a hard limit crossed
    /// (while the other hard limit was not yet reached), else a soft one.
    #[inline]
    pub(crate) fn crossed(&self, before: Usage, after: Usage) -> Option<LifetimeEvent> {
        if after.packets < self.first_packets && after.bytes < self.first_bytes {
            return None;
        }
        self.crossed_slow(before, after)
    }

    #[cold]
    fn crossed_slow(&self, before: Usage, after: Usage) -> Option<LifetimeEvent> {
        let crossed = |before: u64, after: u64, limit: u64| before < limit && after >= limit;
        let hard = crossed(before.packets, after.packets, self.hard_packets)
            && before.bytes < self.hard_bytes
            || crossed(before.bytes, after.bytes, self.hard_bytes)
                && before.packets < self.hard_packets;
        if hard {
            return Some(LifetimeEvent::HardLimitReached);
        }
        let soft = crossed(before.packets, after.packets, self.soft_packets)
            && before.bytes < self.soft_bytes
            || crossed(before.bytes, after.bytes, self.soft_bytes)
                && before.packets < self.soft_packets;
        soft.then_some(LifetimeEvent::SoftLimitReached)
    }
}

/// Gives each packet of a batch its lifetime event: `sizes` are the inner
/// lengths of the batch's successful packets in order (with their event
/// slots), `before` the usage the batch's [`SaCounters::add`] returned.
#[inline]
pub(crate) fn assign_events<'a>(
    limits: &Limits,
    before: Usage,
    total: Usage,
    sizes: impl Iterator<Item = (u64, &'a mut Option<LifetimeEvent>)>,
) {
    if !limits.may_cross(before, total) {
        return;
    }
    let mut running = before;
    for (bytes, event) in sizes {
        let next = running.plus_packet(bytes);
        *event = limits.crossed(running, next);
        running = next;
    }
}

#[cfg(test)]
mod tests {
    use super::super::lock::ShortLock;
    use super::*;

    fn limits(lifetime: Lifetime) -> Limits {
        Limits::from(&lifetime)
    }

    #[test]
    fn lifetime_events_fire_once_each() {
        let limits = limits(Lifetime {
            soft_packets: Some(2),
            hard_packets: Some(4),
            ..Lifetime::default()
        });
        let c = SaCounters::new();
        let lock = ShortLock::default();
        let events: Vec<_> = (0..6)
            .map(|_| {
                let held = lock.lock();
                let stopped = c.hard_limit_reached(&limits);
                (
                    stopped,
                    (!stopped)
                        .then(|| c.count_packet_locked(100, &limits, &held))
                        .flatten(),
                )
            })
            .collect();
        assert_eq!(
            events,
            vec![
                (false, None),
                (false, Some(LifetimeEvent::SoftLimitReached)),
                (false, None),
                (false, Some(LifetimeEvent::HardLimitReached)),
                (true, None),
                (true, None),
            ]
        );
        let s = c.snapshot(&limits);
        assert!(s.soft_limit_reached && s.hard_limit_reached);
        assert_eq!((s.packets, s.bytes), (4, 400));
    }

    #[test]
    fn batch_events_land_on_the_packets_one_by_one_counting_would_pick() {
        let limits = limits(Lifetime {
            soft_bytes: Some(250),
            hard_bytes: Some(1000),
            soft_packets: Some(7),
            ..Lifetime::default()
        });
        let sizes = [100u64, 100, 100, 300, 300, 300, 10, 10];
        // One by one.
        let lock = ShortLock::default();
        let single = SaCounters::new();
        let want: Vec<_> = sizes
            .iter()
            .map(|b| single.count_packet_locked(*b, &limits, &lock.lock()))
            .collect();
        // Split into batches of every shape.
        for split in 0..=sizes.len() {
            let batched = SaCounters::new();
            let mut got = vec![None; sizes.len()];
            let (first, second) = got.split_at_mut(split);
            for (part, events) in [(&sizes[..split], first), (&sizes[split..], second)] {
                let total = Usage {
                    packets: part.len() as u64,
                    bytes: part.iter().sum(),
                };
                let before = batched.add_locked(total, &lock.lock());
                assign_events(
                    &limits,
                    before,
                    total,
                    part.iter().copied().zip(events.iter_mut()),
                );
            }
            assert_eq!(got, want, "split at {split}");
            assert_eq!(batched.usage(), single.usage());
        }
        assert_eq!(
            want.iter().flatten().collect::<Vec<_>>(),
            [
                &LifetimeEvent::SoftLimitReached,
                &LifetimeEvent::HardLimitReached
            ]
        );
    }
}
