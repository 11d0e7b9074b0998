//! The [`Device`] trait: anything attached to links (hosts, erdp nodes,
//! test routers), with its ports, timers and a transmit queue.
//!
//! Frames are Ethernet frames in pooled [`PacketBuf`]s that move by value:
//! a device that forwards a frame sends the very buffer it received.

use std::any::Any;

use crate::packet::PacketBuf;

use super::pool::FramePool;
use super::time::SimTime;

/// A port of a device, numbered from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct PortId(pub u16);

/// A frame that arrived on a port.
#[derive(Debug)]
pub struct Arrival {
    /// The port it arrived on.
    pub port: PortId,
    /// The Ethernet frame; the device now owns it.
    pub frame: PacketBuf,
}

/// A frame a device queued for transmission.
#[derive(Debug)]
pub struct Departure {
    /// The port to send it on.
    pub port: PortId,
    /// The Ethernet frame.
    pub frame: PacketBuf,
}

/// Something that happens to a device besides frames: link carrier changes
/// and scenario commands from the fault timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DeviceEvent {
    /// The link on this port went down (only for links that report carrier).
    PortDown(PortId),
    /// The link on this port came back up.
    PortUp(PortId),
    /// A scenario-defined command (for example "tunnel down"); its meaning
    /// is agreed between the scenario and the device.
    Command(u32),
}

/// The transmit queue a device fills during a call; the engine drains it
/// onto the links when the call returns. Also the device's access to the
/// frame pool, so replies and new frames reuse buffers.
#[derive(Debug)]
pub struct TxQueue<'a> {
    pool: &'a mut FramePool,
    queue: &'a mut Vec<Departure>,
}

impl<'a> TxQueue<'a> {
    /// A transmit queue over the engine's pool and departure list.
    pub fn new(pool: &'a mut FramePool, queue: &'a mut Vec<Departure>) -> Self {
        Self { pool, queue }
    }

    /// Queues `frame` for transmission on `port`.
    pub fn send(&mut self, port: PortId, frame: PacketBuf) {
        self.queue.push(Departure { port, frame });
    }

    /// An empty pooled frame with the default headroom, to fill and send.
    pub fn frame(&mut self) -> PacketBuf {
        self.pool.take()
    }

    /// Gives back a frame the device consumed (delivered or dropped).
    pub fn recycle(&mut self, frame: PacketBuf) {
        self.pool.give(frame);
    }

    /// Frames queued so far in this call.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when nothing was queued in this call.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// Anything attached to links. The engine calls it with frames that
/// arrived, when its timer is due, and on timeline events; the device
/// answers by queueing frames on `tx`.
///
/// Contract:
/// - `receive` takes frames out of `batch` (all arrived at `now`, in arrival
///   order) and either sends each on (`tx.send`, zero copy) or gives it back
///   (`tx.recycle`). Frames left in `batch` are recycled by the engine.
/// - After every call the engine asks [`Device::next_wakeup`] and polls the
///   device then. A wakeup at or before `now` right after a `poll` is moved
///   one nanosecond later, so a device cannot stall virtual time.
pub trait Device: Any {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// Number of ports; valid ports are `0..port_count()`.
    fn port_count(&self) -> u16;

    /// Frames that arrived at `now`.
    fn receive(&mut self, now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>);

    /// Timers: called at (or after) the time [`Device::next_wakeup`] gave.
    fn poll(&mut self, now: SimTime, tx: &mut TxQueue<'_>);

    /// When the device next needs [`Device::poll`], if ever.
    fn next_wakeup(&mut self) -> Option<SimTime>;

    /// A carrier change or a scenario command. Ignored by default.
    fn event(&mut self, now: SimTime, event: DeviceEvent, tx: &mut TxQueue<'_>) {
        let _ = (now, event, tx);
    }
}
