//! One direction of a link at run time: serialisation at the line rate, a
//! tail-drop queue, propagation delay, random loss and reordering, the MTU.
//!
//! Times are virtual nanoseconds. The queue is a ring of the finish times of
//! the frames accepted and not yet fully serialised, so admitting a frame is
//! O(1) and allocates nothing once the ring has grown.

use std::collections::VecDeque;

use super::azure_frag::{AzureFragmentation, FragmentOrder};
use super::config::ChannelConfig;
use super::stats::{ChannelStats, LinkDrop};
use crate::emu::rng::{Chance, SimRng};
use crate::emu::time::duration_nanos;
use crate::wire::ETHERNET_HEADER_LEN;

/// A frame the channel accepted: when it arrives and whether it was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// Arrival time at the far end, in virtual nanoseconds.
    pub arrival_ns: u64,
    /// The frame was held back by the reordering delay.
    pub reordered: bool,
}

/// What became of a frame offered to the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// On its way; it arrives at `Admitted::arrival_ns`.
    Admitted(Admitted),
    /// Dropped before the wire (queue full, oversize): never transmitted.
    Refused(LinkDrop),
    /// Serialised onto the wire and lost there.
    LostOnWire,
}

/// Run-time state of one direction.
#[derive(Debug)]
pub struct Channel {
    delay_ns: u64,
    rate_bps: u64,
    queue_limit: usize,
    loss: Chance,
    reorder: Chance,
    reorder_delay_ns: u64,
    mtu: usize,
    azure: Option<AzureFragmentation>,
    order: FragmentOrder,
    /// When the transmitter finishes the last accepted frame.
    busy_until_ns: u64,
    /// Finish times of accepted frames still queued or being serialised.
    backlog: VecDeque<u64>,
    rng: SimRng,
    pub(crate) stats: ChannelStats,
}

impl Channel {
    /// A channel from a validated config (probabilities out of range are
    /// treated as the nearest bound).
    pub fn new(config: &ChannelConfig, rng: SimRng) -> Self {
        let chance = |p: f64| Chance::new(p.clamp(0.0, 1.0)).unwrap_or(Chance::Never);
        Self {
            delay_ns: duration_nanos(config.delay),
            rate_bps: config.rate_bps,
            queue_limit: config.queue_limit.max(1),
            loss: chance(config.loss),
            reorder: chance(config.reorder),
            reorder_delay_ns: duration_nanos(config.reorder_delay),
            mtu: config.mtu,
            azure: config.azure_fragmentation,
            order: FragmentOrder::default(),
            busy_until_ns: 0,
            backlog: VecDeque::new(),
            rng,
            stats: ChannelStats::default(),
        }
    }

    /// Nanoseconds to clock `len` bytes onto the wire, rounded up.
    pub(crate) fn serialisation_ns(&self, len: usize) -> u64 {
        if self.rate_bps == 0 {
            return 0;
        }
        // bits * 10^9 fits in 64 bits for any frame up to 2 GB.
        match (len as u64).checked_mul(8_000_000_000) {
            Some(scaled) => scaled.div_ceil(self.rate_bps),
            None => {
                let scaled = (len as u128) * 8_000_000_000;
                u64::try_from(scaled.div_ceil(u128::from(self.rate_bps))).unwrap_or(u64::MAX)
            }
        }
    }

    /// Offers a `len`-byte frame at `now_ns`, counting the outcome.
    pub(crate) fn offer(&mut self, now_ns: u64, len: usize) -> Offer {
        self.stats.offered_frames += 1;
        self.stats.offered_bytes += len as u64;
        if len.saturating_sub(ETHERNET_HEADER_LEN) > self.mtu {
            self.stats.dropped.count(LinkDrop::Oversize);
            return Offer::Refused(LinkDrop::Oversize);
        }
        let finish_ns = if self.rate_bps == 0 {
            now_ns
        } else {
            while self.backlog.front().is_some_and(|&finish| finish <= now_ns) {
                self.backlog.pop_front();
            }
            if self.backlog.len() >= self.queue_limit {
                self.stats.dropped.count(LinkDrop::QueueFull);
                return Offer::Refused(LinkDrop::QueueFull);
            }
            let start_ns = self.busy_until_ns.max(now_ns);
            let finish_ns = start_ns.saturating_add(self.serialisation_ns(len));
            self.busy_until_ns = finish_ns;
            self.backlog.push_back(finish_ns);
            let depth = self.backlog.len() as u64;
            self.stats.max_queue_depth = self.stats.max_queue_depth.max(depth);
            finish_ns
        };
        if self.loss.roll(&mut self.rng) {
            self.stats.dropped.count(LinkDrop::RandomLoss);
            return Offer::LostOnWire;
        }
        let mut arrival_ns = finish_ns.saturating_add(self.delay_ns);
        let reordered = self.reorder.roll(&mut self.rng);
        if reordered {
            arrival_ns = arrival_ns.saturating_add(self.reorder_delay_ns);
            self.stats.reordered += 1;
        }
        self.stats.in_flight += 1;
        Offer::Admitted(Admitted {
            arrival_ns,
            reordered,
        })
    }

    /// Azure's fragmentation on this channel, if on.
    pub(crate) fn azure(&self) -> Option<&AzureFragmentation> {
        self.azure.as_ref()
    }

    /// Lands a frame like [`Self::land`] unless it is an out-of-order
    /// fragment Azure drops: then counts that drop and returns false.
    pub(crate) fn land_in_order(&mut self, frame: &[u8]) -> bool {
        let drops = self
            .azure
            .is_some_and(|azure| !azure.reassemble_out_of_order);
        if drops && !self.order.in_order(frame) {
            self.stats.in_flight = self.stats.in_flight.saturating_sub(1);
            self.stats.dropped.count(LinkDrop::OutOfOrderFragment);
            return false;
        }
        self.land(frame.len(), true);
        true
    }

    /// Counts a frame refused because the link is down.
    pub(crate) fn refuse_down(&mut self, len: usize) {
        self.stats.offered_frames += 1;
        self.stats.offered_bytes += len as u64;
        self.stats.dropped.count(LinkDrop::LinkDown);
    }

    /// Counts the end of a frame's flight: delivered, or lost because the
    /// link went down while it was in flight.
    pub(crate) fn land(&mut self, len: usize, delivered: bool) {
        self.stats.in_flight = self.stats.in_flight.saturating_sub(1);
        if delivered {
            self.stats.delivered_frames += 1;
            self.stats.delivered_bytes += len as u64;
        } else {
            self.stats.dropped.count(LinkDrop::LinkDown);
        }
    }

    /// The link went down at `now_ns`: the queue empties (its frames are
    /// lost as they were due to arrive) and the transmitter is idle.
    pub fn flush(&mut self, now_ns: u64) {
        self.backlog.clear();
        self.busy_until_ns = now_ns;
    }

    /// Counters so far.
    pub fn stats(&self) -> &ChannelStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emu::rng::rng_for;
    use std::time::Duration;

    fn channel(config: ChannelConfig) -> Channel {
        Channel::new(&config, rng_for(1, "test"))
    }

    fn arrival(offer: Offer) -> u64 {
        match offer {
            Offer::Admitted(admitted) => admitted.arrival_ns,
            other => panic!("expected admission, got {other:?}"),
        }
    }

    #[test]
    fn serialises_back_to_back_then_adds_the_delay() {
        // 1000 bytes at 8 Mbit/s = 1 ms on the wire; 5 ms propagation.
        let mut ch = channel(
            ChannelConfig::default()
                .rate_bps(8_000_000)
                .delay(Duration::from_millis(5)),
        );
        assert_eq!(ch.serialisation_ns(1000), 1_000_000);
        assert_eq!(arrival(ch.offer(0, 1000)), 6_000_000);
        assert_eq!(arrival(ch.offer(0, 1000)), 7_000_000, "waits for the first");
        assert_eq!(
            arrival(ch.offer(10_000_000, 1000)),
            16_000_000,
            "idle again"
        );
        assert_eq!(ch.stats().max_queue_depth, 2);
    }

    #[test]
    fn tail_drops_when_the_queue_is_full_and_drains_with_time() {
        let mut ch = channel(ChannelConfig::default().rate_bps(8_000_000).queue_limit(2));
        ch.offer(0, 1000);
        ch.offer(0, 1000);
        assert_eq!(ch.offer(0, 1000), Offer::Refused(LinkDrop::QueueFull));
        // At 1 ms the first frame is done: room for one more.
        assert!(matches!(ch.offer(1_000_000, 1000), Offer::Admitted(_)));
        assert_eq!(ch.stats().dropped.queue_full, 1);
        assert_eq!(ch.stats().offered_frames, 4);
        assert_eq!(ch.stats().in_flight, 3);
    }

    #[test]
    fn drops_frames_over_the_mtu_by_payload_size() {
        let mut ch = channel(ChannelConfig::default().mtu(1500));
        assert!(matches!(ch.offer(0, 1514), Offer::Admitted(_)));
        assert_eq!(ch.offer(0, 1515), Offer::Refused(LinkDrop::Oversize));
        assert_eq!(ch.stats().dropped.oversize, 1);
    }

    #[test]
    fn certain_loss_and_certain_reordering() {
        let mut lossy = channel(ChannelConfig::default().loss(1.0));
        assert_eq!(lossy.offer(0, 100), Offer::LostOnWire);
        assert_eq!(lossy.stats().dropped.random_loss, 1);
        let mut held = channel(
            ChannelConfig::default()
                .delay(Duration::from_nanos(10))
                .reorder(1.0, Duration::from_nanos(5)),
        );
        assert_eq!(
            held.offer(0, 100),
            Offer::Admitted(Admitted {
                arrival_ns: 15,
                reordered: true
            })
        );
    }
}
