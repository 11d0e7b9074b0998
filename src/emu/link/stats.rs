//! Link counters: per direction, every frame offered is delivered, dropped
//! with a reason, or still in flight.

use serde::Serialize;

/// Why a link dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkDrop {
    /// The transmit queue was full (tail drop).
    QueueFull,
    /// Lost on the wire by the configured loss probability.
    RandomLoss,
    /// Ethernet payload larger than the link MTU.
    Oversize,
    /// The link was down when the frame was sent or while it was in flight.
    LinkDown,
    /// An IPv4 fragment that arrived out of order on an Azure-side link
    /// (dropped unless reassembly of out-of-order fragments is on).
    OutOfOrderFragment,
}

/// Drop counters, one per [`LinkDrop`] reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkDrops {
    /// [`LinkDrop::QueueFull`].
    pub queue_full: u64,
    /// [`LinkDrop::RandomLoss`].
    pub random_loss: u64,
    /// [`LinkDrop::Oversize`].
    pub oversize: u64,
    /// [`LinkDrop::LinkDown`].
    pub link_down: u64,
    /// [`LinkDrop::OutOfOrderFragment`].
    pub out_of_order_fragment: u64,
}

impl LinkDrops {
    /// Adds one drop for `reason`.
    pub fn count(&mut self, reason: LinkDrop) {
        let counter = match reason {
            LinkDrop::QueueFull => &mut self.queue_full,
            LinkDrop::RandomLoss => &mut self.random_loss,
            LinkDrop::Oversize => &mut self.oversize,
            LinkDrop::LinkDown => &mut self.link_down,
            LinkDrop::OutOfOrderFragment => &mut self.out_of_order_fragment,
        };
        *counter += 1;
    }

    /// Drops for every reason together.
    pub fn total(&self) -> u64 {
        self.queue_full
            + self.random_loss
            + self.oversize
            + self.link_down
            + self.out_of_order_fragment
    }
}

/// Counters of one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChannelStats {
    /// Frames the sending device put on the link.
    pub offered_frames: u64,
    /// Their bytes (Ethernet header included, no FCS).
    pub offered_bytes: u64,
    /// Frames handed to the receiving device.
    pub delivered_frames: u64,
    /// Their bytes.
    pub delivered_bytes: u64,
    /// Frames dropped, per reason.
    pub dropped: LinkDrops,
    /// Frames held back by the reordering delay.
    pub reordered: u64,
    /// Frames on the wire now (accepted, not yet arrived).
    pub in_flight: u64,
    /// Deepest the transmit queue got, in frames.
    pub max_queue_depth: u64,
}

impl ChannelStats {
    /// True when offered == delivered + dropped + in flight.
    pub fn is_conserved(&self) -> bool {
        self.offered_frames == self.delivered_frames + self.dropped.total() + self.in_flight
    }
}
