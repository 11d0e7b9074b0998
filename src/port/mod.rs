//! Ports: named Ethernet frame I/O endpoints that the forwarding node sits
//! between. One trait, [`Port`], with stacking wrappers (recording to
//! pcap), in-memory channel pairs for tests, and Linux devices (AF_PACKET
//! through pnet, TAP through tun-rs). Devices only: the `erdp attach` loop
//! that serves them is in [`crate::driver`].
//!
//! Receive fills caller-owned [`PacketBuf`]s and never blocks longer than
//! the timeout given; every frame a port does not deliver is counted under a
//! reason in [`PortCounters`].

mod afpacket;
mod bind;
mod channel;
mod device;
mod error;
mod mmsg;
pub mod netns;
mod readiness;
mod recording;
mod shutdown;
mod tap;

use std::os::fd::BorrowedFd;
use std::time::Duration;

use serde::Serialize;

use crate::packet::PacketBuf;

pub use afpacket::{AfPacketBackend, AfPacketConfig, AfPacketPort, MIN_READ_BUFFER};
pub use bind::{BindSpec, DeviceKind, OpenOptions};
pub use channel::{ChannelPort, ChannelPortConfig};
pub use error::PortError;
pub use mmsg::MMSG_BATCH;
pub(crate) use readiness::poll_many;
pub use readiness::wait_readable;
pub use recording::{RecordDirection, RecordingPort};
pub use shutdown::Shutdown;
pub use tap::{TapConfig, TapPort};

/// Headroom left before each received frame, so the node can prepend
/// tunnel headers without copying.
pub const RX_HEADROOM: usize = PacketBuf::DEFAULT_HEADROOM;

/// A named frame I/O endpoint. Frames are whole untagged Ethernet frames
/// without the FCS.
pub trait Port: Send {
    /// The port's name (the node interface it serves).
    fn name(&self) -> &str;

    /// Receives up to `bufs.len()` frames into `bufs[..n]` and returns `n`.
    /// Waits at most `timeout` for the first frame, then takes only frames
    /// already waiting; `Ok(0)` means the timeout passed (or a signal
    /// arrived). Each frame is loaded after [`RX_HEADROOM`] bytes.
    fn recv_batch(&mut self, bufs: &mut [PacketBuf], timeout: Duration)
    -> Result<usize, PortError>;

    /// Sends one frame. A failure is counted in `tx_errors` and returned.
    fn send(&mut self, frame: &[u8]) -> Result<(), PortError>;

    /// Sends every frame of `frames`; one that fails does not stop the
    /// rest. Failures are counted in `tx_errors`.
    fn send_batch(&mut self, frames: &[PacketBuf]) -> BatchSend {
        send_each(self, frames)
    }

    /// The port's counters so far.
    fn counters(&self) -> PortCounters;

    /// A descriptor that polls readable when [`Port::recv_batch`] has
    /// frames, so one thread can wait on many ports. `None` for ports
    /// without one (channels): those are polled with a zero timeout.
    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Finishes what the port writes on the side (capture files) and
    /// reports whether all of it was written. Call once, at shutdown; the
    /// port still carries frames afterwards but captures no more.
    fn close(&mut self) -> Result<(), PortError> {
        Ok(())
    }
}

impl<P: Port + ?Sized> Port for Box<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn recv_batch(
        &mut self,
        bufs: &mut [PacketBuf],
        timeout: Duration,
    ) -> Result<usize, PortError> {
        (**self).recv_batch(bufs, timeout)
    }
    fn send(&mut self, frame: &[u8]) -> Result<(), PortError> {
        (**self).send(frame)
    }
    fn send_batch(&mut self, frames: &[PacketBuf]) -> BatchSend {
        (**self).send_batch(frames)
    }
    fn counters(&self) -> PortCounters {
        (**self).counters()
    }
    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        (**self).readiness_fd()
    }
    fn close(&mut self) -> Result<(), PortError> {
        (**self).close()
    }
}

/// [`Port::send_batch`] one [`Port::send`] at a time.
pub(crate) fn send_each<P: Port + ?Sized>(port: &mut P, frames: &[PacketBuf]) -> BatchSend {
    let mut outcome = BatchSend::default();
    for frame in frames {
        match port.send(frame.as_slice()) {
            Ok(()) => outcome.sent += 1,
            Err(error) => {
                outcome.failed += 1;
                outcome.first_error.get_or_insert(error);
            }
        }
    }
    outcome
}

/// What [`Port::send_batch`] did.
#[derive(Debug, Default)]
pub struct BatchSend {
    /// Frames handed to the device.
    pub sent: usize,
    /// Frames that failed (also in `tx_errors`).
    pub failed: usize,
    /// Why the first failed frame failed.
    pub first_error: Option<PortError>,
}

/// Why a port received a frame but did not deliver it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RxDrop {
    /// Larger than the device MTU + 14: a GSO/GRO/TSO super-frame (turn the
    /// offloads off: `ethtool -K DEV tso off gso off gro off`) or a frame
    /// truncated by a too-small read buffer.
    Oversize,
    /// Does not fit in the caller's buffer after [`RX_HEADROOM`].
    NoRoom,
}

/// Received frames dropped, by `RxDrop` reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RxDropCounters {
    pub oversize: u64,
    pub no_room: u64,
}

impl RxDropCounters {
    /// Counts one drop.
    pub(crate) fn count(&mut self, reason: RxDrop) {
        match reason {
            RxDrop::Oversize => self.oversize += 1,
            RxDrop::NoRoom => self.no_room += 1,
        }
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.oversize + self.no_room
    }
}

/// A port's counters. Every frame the port read from its device is in
/// exactly one of `rx_packets`, `rx_ignored_own` and `rx_dropped`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PortCounters {
    /// Frames delivered to the caller.
    pub rx_packets: u64,
    /// Bytes of the frames delivered.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes of the frames sent.
    pub tx_bytes: u64,
    /// Receive calls that failed.
    pub rx_errors: u64,
    /// Frames that could not be sent.
    pub tx_errors: u64,
    /// Frames read back that this port (or the kernel, on the same device)
    /// sent: AF_PACKET sockets see a device's outgoing frames too.
    pub rx_ignored_own: u64,
    /// Frames read but not delivered, by reason.
    pub rx_dropped: RxDropCounters,
}

impl PortCounters {
    /// Every frame read from the device: delivered, ignored or dropped.
    pub fn rx_seen(&self) -> u64 {
        self.rx_packets + self.rx_ignored_own + self.rx_dropped.total()
    }

    pub(crate) fn count_rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    pub(crate) fn count_tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }
}

/// Loads a received frame into `buf` after [`RX_HEADROOM`], or says why
/// not: larger than `max_frame_len` (MTU + 14) or than the buffer.
pub(crate) fn load_frame(
    buf: &mut PacketBuf,
    frame: &[u8],
    max_frame_len: usize,
) -> Result<(), RxDrop> {
    if frame.len() > max_frame_len {
        return Err(RxDrop::Oversize);
    }
    buf.load(frame, RX_HEADROOM).map_err(|_| RxDrop::NoRoom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_frame_names_the_reason() {
        let mut small = PacketBuf::with_capacity(RX_HEADROOM + 64, RX_HEADROOM);
        assert_eq!(load_frame(&mut small, &[1; 64], 1514), Ok(()));
        assert_eq!(small.as_slice(), &[1; 64]);
        assert_eq!(small.headroom(), RX_HEADROOM);
        assert_eq!(load_frame(&mut small, &[1; 65], 1514), Err(RxDrop::NoRoom));
        let mut big = PacketBuf::new();
        assert_eq!(
            load_frame(&mut big, &[1; 1515], 1514),
            Err(RxDrop::Oversize)
        );
        assert_eq!(load_frame(&mut big, &[1; 1514], 1514), Ok(()));
    }

    #[test]
    fn drop_counters_add_up() {
        let mut counters = PortCounters::default();
        counters.count_rx(60);
        counters.rx_ignored_own += 1;
        counters.rx_dropped.count(RxDrop::Oversize);
        counters.rx_dropped.count(RxDrop::NoRoom);
        counters.rx_dropped.count(RxDrop::NoRoom);
        assert_eq!(counters.rx_dropped.total(), 3);
        assert_eq!(counters.rx_seen(), 5);
        assert_eq!(counters.rx_bytes, 60);
    }
}
