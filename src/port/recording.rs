//! A port that wraps a port and writes the frames it receives and sends to
//! a pcap file (Ethernet, nanosecond wall-clock timestamps), like tcpdump
//! on the interface. Capture failures never stop forwarding: they are
//! counted and the first one is kept for [`RecordingPort::finish`].

use std::fs::File;
use std::io::BufWriter;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Port, PortCounters, PortError};
use crate::capture::{CaptureError, PcapFileWriter};
use crate::packet::PacketBuf;

/// Which frames a [`RecordingPort`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDirection {
    /// Frames received and frames sent.
    Both,
    /// Frames received only.
    Rx,
    /// Frames sent only.
    Tx,
}

impl RecordDirection {
    fn rx(self) -> bool {
        matches!(self, RecordDirection::Both | RecordDirection::Rx)
    }
    fn tx(self) -> bool {
        matches!(self, RecordDirection::Both | RecordDirection::Tx)
    }
}

/// A port whose traffic is also written to a pcap file.
pub struct RecordingPort<P: Port> {
    inner: P,
    writer: Option<PcapFileWriter<BufWriter<File>>>,
    direction: RecordDirection,
    /// Frames that could not be written.
    capture_errors: u64,
    first_error: Option<CaptureError>,
}

impl<P: Port> RecordingPort<P> {
    /// Wraps `inner`, creating (or truncating) the pcap at `path`.
    pub fn create(
        inner: P,
        path: impl AsRef<Path>,
        direction: RecordDirection,
    ) -> Result<Self, PortError> {
        let writer = PcapFileWriter::create(path).map_err(|source| PortError::Capture {
            port: inner.name().to_owned(),
            source,
        })?;
        Ok(Self {
            inner,
            writer: Some(writer),
            direction,
            capture_errors: 0,
            first_error: None,
        })
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Frames written to the pcap so far.
    pub(crate) fn frames_captured(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(0, PcapFileWriter::frames_written)
    }

    /// Frames that could not be written to the pcap.
    pub fn capture_errors(&self) -> u64 {
        self.capture_errors
    }

    /// Flushes the pcap and returns the wrapped port and the number of
    /// frames captured, or the first capture error.
    pub fn finish(mut self) -> Result<(P, u64), PortError> {
        let frames = self.frames_captured();
        self.close_capture()?;
        Ok((self.inner, frames))
    }

    /// Flushes and closes the pcap; the first error of the whole capture.
    fn close_capture(&mut self) -> Result<(), PortError> {
        let port = self.inner.name().to_owned();
        let flushed = self.writer.take().map(PcapFileWriter::finish);
        if let Some(source) = self.first_error.take() {
            return Err(PortError::Capture { port, source });
        }
        match flushed {
            Some(Err(source)) => Err(PortError::Capture { port, source }),
            _ => Ok(()),
        }
    }

    fn write(&mut self, frame: &[u8]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        if let Err(error) = writer.write_frame(now_ns(), frame) {
            self.capture_errors += 1;
            if self.first_error.is_none() {
                tracing::warn!(port = self.inner.name(), %error, "capture write failed; forwarding goes on");
                self.first_error = Some(error);
            }
        }
    }
}

/// Wall-clock time in nanoseconds since 1970 (0 if the clock is earlier).
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

impl<P: Port> Port for RecordingPort<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn recv_batch(
        &mut self,
        bufs: &mut [PacketBuf],
        timeout: Duration,
    ) -> Result<usize, PortError> {
        let received = self.inner.recv_batch(bufs, timeout)?;
        if self.direction.rx() {
            for buf in bufs.iter().take(received) {
                self.write(buf.as_slice());
            }
        }
        Ok(received)
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), PortError> {
        self.inner.send(frame)?;
        if self.direction.tx() {
            self.write(frame);
        }
        Ok(())
    }

    fn counters(&self) -> PortCounters {
        self.inner.counters()
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.readiness_fd()
    }

    fn close(&mut self) -> Result<(), PortError> {
        let capture = self.close_capture();
        let inner = self.inner.close();
        capture.and(inner)
    }
}
