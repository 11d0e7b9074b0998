//! Point-to-point links between two device ports: two [`Channel`]s (one per
//! direction), an up/down state with its history, counters and an optional
//! pcap capture.

mod azure_frag;
mod channel;
mod config;
mod link_capture;
mod series;
mod stats;

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

pub use azure_frag::{AZURE_FRAGMENT_ABOVE, AzureFragmentation};
pub use channel::{Admitted, Channel, Offer};
pub use config::{ChannelConfig, LinkConfig, LinkConfigError};
pub use link_capture::{CapturePoint, LinkCapture, LinkCaptureError, SNAPLEN};
pub use series::{
    DEFAULT_BUCKET, FrameClass, LinkSeries, LinkTimeline, MAX_BUCKETS, SeriesRecorder,
};
pub use stats::{ChannelStats, LinkDrop, LinkDrops};

use super::device::PortId;
use super::rng::rng_for;
use super::time::SimTime;
use crate::packet::PacketBuf;

/// A device in a simulation (index in the order devices were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DeviceId(pub u32);

/// A link in a simulation (index in the order links were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LinkId(pub u32);

/// One end of a link: a device's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoint {
    /// The device.
    pub device: DeviceId,
    /// Its port.
    pub port: PortId,
}

/// A frame on the wire, in order: frames of one channel that were not held
/// back arrive in the order they were sent.
#[derive(Debug)]
pub(crate) struct WireFrame {
    pub(crate) arrival_ns: u64,
    pub(crate) frame: PacketBuf,
}

/// A link at run time.
#[derive(Debug)]
pub struct Link {
    pub(crate) name: String,
    /// End A (index 0) and end B (index 1).
    pub(crate) ends: [Endpoint; 2],
    /// Channel 0 carries A to B, channel 1 carries B to A.
    pub(crate) channels: [Channel; 2],
    /// Per channel, the frames in flight in arrival order (the engine has
    /// one event for the first of each).
    pub(crate) wire: [VecDeque<WireFrame>; 2],
    pub(crate) report_carrier: bool,
    pub(crate) up: bool,
    /// Bumped when the link goes down; frames sent under an older
    /// generation are lost when they land.
    pub(crate) generation: u32,
    pub(crate) down_since: Option<SimTime>,
    pub(crate) downs: u64,
    pub(crate) down_time: Duration,
    pub(crate) capture: Option<LinkCapture>,
    /// Delivered bytes over time, when recorded.
    pub(crate) series: Option<SeriesRecorder>,
}

impl Link {
    /// A link that is up, with a random stream per direction derived from
    /// the simulation seed and the link name.
    pub(crate) fn new(config: &LinkConfig, ends: [Endpoint; 2], seed: u64) -> Self {
        let name = config.name.clone();
        let channel = |cfg: &ChannelConfig, dir: &str| {
            Channel::new(cfg, rng_for(seed, &format!("link {name} {dir}")))
        };
        Self {
            channels: [
                channel(&config.a_to_b, "a_to_b"),
                channel(&config.b_to_a, "b_to_a"),
            ],
            wire: [VecDeque::new(), VecDeque::new()],
            name,
            ends,
            report_carrier: config.report_carrier,
            up: true,
            generation: 0,
            down_since: None,
            downs: 0,
            down_time: Duration::ZERO,
            capture: None,
            series: None,
        }
    }

    /// Sets the state at `now`; returns true when it changed.
    pub(crate) fn set_up(&mut self, now: SimTime, up: bool) -> bool {
        if self.up == up {
            return false;
        }
        self.up = up;
        if up {
            if let Some(since) = self.down_since.take() {
                self.down_time += now - since;
            }
        } else {
            self.generation = self.generation.wrapping_add(1);
            self.downs += 1;
            self.down_since = Some(now);
            for channel in &mut self.channels {
                channel.flush(now.as_nanos());
            }
        }
        true
    }

    /// The link's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the link is up.
    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    /// A snapshot of the link's state and counters at `now`.
    pub fn report(&self, now: SimTime) -> LinkReport {
        let ongoing = self.down_since.map_or(Duration::ZERO, |since| now - since);
        LinkReport {
            name: self.name.clone(),
            a: self.ends[0],
            b: self.ends[1],
            up: self.up,
            downs: self.downs,
            down_time_ns: u64::try_from((self.down_time + ongoing).as_nanos()).unwrap_or(u64::MAX),
            a_to_b: *self.channels[0].stats(),
            b_to_a: *self.channels[1].stats(),
            captured_frames: self.capture.as_ref().map(LinkCapture::frames),
        }
    }
}

/// A link's state and counters, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    /// The link's name.
    pub name: String,
    /// End A.
    pub a: Endpoint,
    /// End B.
    pub b: Endpoint,
    /// Up now.
    pub up: bool,
    /// Times it went down.
    pub downs: u64,
    /// Total time down, in nanoseconds (including a current outage).
    pub down_time_ns: u64,
    /// Counters from A to B.
    pub a_to_b: ChannelStats,
    /// Counters from B to A.
    pub b_to_a: ChannelStats,
    /// Frames written to the capture, if one is attached.
    pub captured_frames: Option<u64>,
}
