//! What every port on a Linux descriptor shares: receiving a batch with a
//! deadline (drain what is queued, else poll(2) until the deadline), the
//! per-frame checks and counters, and the send-side bookkeeping.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use super::readiness::wait_readable;
use super::{PortCounters, PortError, load_frame};
use crate::packet::PacketBuf;
use crate::wire::ETHERNET_HEADER_LEN;
use crate::wire::MacAddr;

/// A device read one frame at a time without waiting.
pub(crate) trait FrameSource {
    /// The next queued frame, or `None` when nothing is queued.
    fn read_frame(&mut self) -> io::Result<Option<&[u8]>>;
    /// A descriptor that polls readable when a frame is queued.
    fn readiness(&self) -> BorrowedFd<'_>;
}

/// A device read a batch at a time without waiting.
pub(crate) trait BatchSource {
    /// Reads the frames already queued into `bufs[..n]` (delivered frames
    /// only, counted in `state`) and returns `n`.
    fn drain(&mut self, state: &mut PortState, bufs: &mut [PacketBuf]) -> Result<usize, PortError>;
    /// A descriptor that polls readable when a frame is queued.
    fn wait_fd(&self) -> BorrowedFd<'_>;
}

impl<S: FrameSource> BatchSource for S {
    fn drain(&mut self, state: &mut PortState, bufs: &mut [PacketBuf]) -> Result<usize, PortError> {
        state.drain_frames(self, bufs)
    }

    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.readiness()
    }
}

/// How many source MACs a port remembers as its own.
const OWN_SOURCES: usize = 8;

/// The source MACs whose frames are a port's own when read back: the
/// device's MAC and the sources of frames sent (the most recent kept).
#[derive(Debug, Clone)]
pub(crate) struct OwnSources {
    macs: [MacAddr; OWN_SOURCES],
    len: usize,
    /// Slot replaced next when full (slot 0, the first MAC, is kept).
    next: usize,
}

impl OwnSources {
    pub(crate) fn new(device_mac: Option<MacAddr>) -> Self {
        let mut own = Self {
            macs: [MacAddr::default(); OWN_SOURCES],
            len: 0,
            next: 1,
        };
        if let Some(mac) = device_mac {
            own.remember(mac);
        }
        own
    }

    pub(crate) fn contains(&self, mac: MacAddr) -> bool {
        self.macs.iter().take(self.len).any(|own| *own == mac)
    }

    pub(crate) fn remember(&mut self, mac: MacAddr) {
        if self.contains(mac) {
            return;
        }
        if let Some(slot) = self.macs.get_mut(self.len) {
            *slot = mac;
            self.len += 1;
        } else {
            if let Some(slot) = self.macs.get_mut(self.next) {
                *slot = mac;
            }
            self.next = if self.next + 1 >= OWN_SOURCES {
                1
            } else {
                self.next + 1
            };
        }
    }
}

/// The source MAC of an Ethernet frame, if it is long enough to have one.
pub(crate) fn source_mac(frame: &[u8]) -> Option<MacAddr> {
    let bytes: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    Some(MacAddr(bytes))
}

/// A port's name, limits and counters.
#[derive(Debug, Clone)]
pub(crate) struct PortState {
    pub(crate) name: String,
    pub(crate) max_frame_len: usize,
    pub(crate) counters: PortCounters,
    /// Frames from these sources are ignored on receive (AF_PACKET).
    pub(crate) own: Option<OwnSources>,
}

impl PortState {
    pub(crate) fn new(name: &str, mtu: usize, own: Option<OwnSources>) -> Self {
        Self {
            name: name.to_owned(),
            max_frame_len: mtu + ETHERNET_HEADER_LEN,
            counters: PortCounters::default(),
            own,
        }
    }

    /// Refuses (and counts) a frame over MTU + 14; remembers its source.
    pub(crate) fn before_send(&mut self, frame: &[u8]) -> Result<(), PortError> {
        if frame.len() > self.max_frame_len {
            self.counters.tx_errors += 1;
            return Err(PortError::FrameTooLarge {
                port: self.name.clone(),
                len: frame.len(),
                max: self.max_frame_len,
            });
        }
        if let (Some(own), Some(mac)) = (self.own.as_mut(), source_mac(frame)) {
            own.remember(mac);
        }
        Ok(())
    }

    /// Counts the outcome of sending a `len`-byte frame.
    pub(crate) fn after_send(
        &mut self,
        len: usize,
        result: io::Result<()>,
    ) -> Result<(), PortError> {
        match result {
            Ok(()) => {
                self.counters.count_tx(len);
                Ok(())
            }
            Err(source) => {
                self.counters.tx_errors += 1;
                Err(PortError::Send {
                    port: self.name.clone(),
                    len,
                    source,
                })
            }
        }
    }

    pub(crate) fn recv_error(&mut self, source: io::Error) -> PortError {
        self.counters.rx_errors += 1;
        PortError::Recv {
            port: self.name.clone(),
            source,
        }
    }

    /// Reads the frames already queued into `bufs` (never waits).
    fn drain_frames(
        &mut self,
        source: &mut impl FrameSource,
        bufs: &mut [PacketBuf],
    ) -> Result<usize, PortError> {
        let mut filled = 0;
        while let Some(buf) = bufs.get_mut(filled) {
            let frame = match source.read_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => break,
                Err(error) => {
                    let error = self.recv_error(error);
                    if filled == 0 {
                        return Err(error);
                    }
                    // Deliver what was read; the error is counted.
                    tracing::warn!(port = self.name, %error, "after {filled} frames");
                    break;
                }
            };
            if let (Some(own), Some(mac)) = (self.own.as_ref(), source_mac(frame))
                && own.contains(mac)
            {
                self.counters.rx_ignored_own += 1;
                continue;
            }
            match load_frame(buf, frame, self.max_frame_len) {
                Ok(()) => {
                    self.counters.count_rx(frame.len());
                    filled += 1;
                }
                Err(reason) => self.counters.rx_dropped.count(reason),
            }
        }
        Ok(filled)
    }

    /// [`Port::recv_batch`](super::Port::recv_batch) for a descriptor
    /// device: deliver what is queued, else wait until the deadline.
    pub(crate) fn recv_batch(
        &mut self,
        source: &mut impl BatchSource,
        bufs: &mut [PacketBuf],
        timeout: Duration,
    ) -> Result<usize, PortError> {
        if bufs.is_empty() {
            return Ok(0);
        }
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let filled = source.drain(self, bufs)?;
            if filled > 0 {
                return Ok(filled);
            }
            // Nothing delivered (the queue was empty, or held only frames
            // that were ignored or dropped): wait on until the deadline.
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => timeout,
            };
            if remaining.is_zero() {
                return Ok(0);
            }
            match wait_readable(source.wait_fd(), remaining) {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(error) => return Err(self.recv_error(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    fn mac(last: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, last])
    }

    #[test]
    fn own_sources_keep_the_device_mac_and_recent_senders() {
        let mut own = OwnSources::new(Some(mac(0)));
        for last in 1..=20 {
            own.remember(mac(last));
        }
        assert!(own.contains(mac(0)), "the device MAC is never evicted");
        assert!(own.contains(mac(20)));
        assert!(own.contains(mac(14)));
        assert!(!own.contains(mac(13)), "older senders are forgotten");
        assert!(!own.contains(mac(99)));
        own.remember(mac(20));
        assert!(own.contains(mac(14)), "a known MAC is not stored twice");
    }

    #[test]
    fn source_mac_needs_twelve_bytes() {
        assert_eq!(source_mac(&[0; 11]), None);
        let mut frame = [0u8; 14];
        frame[6..12].copy_from_slice(&[2, 1, 2, 3, 4, 5]);
        assert_eq!(source_mac(&frame), Some(MacAddr([2, 1, 2, 3, 4, 5])));
    }

    /// Frames from a list, readable through a socket that holds one byte
    /// per frame still queued.
    struct ScriptedSource {
        frames: Vec<Vec<u8>>,
        current: Vec<u8>,
        wake: UnixStream,
        readiness: UnixStream,
        reads: usize,
        /// The read (counted from 1) that fails with ENETDOWN.
        fail_at: Option<usize>,
    }

    impl ScriptedSource {
        fn new(frames: Vec<Vec<u8>>) -> Self {
            let (mut wake, readiness) = UnixStream::pair().unwrap();
            wake.write_all(&vec![0; frames.len()]).unwrap();
            Self {
                frames,
                current: Vec::new(),
                wake,
                readiness,
                reads: 0,
                fail_at: None,
            }
        }
    }

    impl FrameSource for ScriptedSource {
        fn read_frame(&mut self) -> io::Result<Option<&[u8]>> {
            self.reads += 1;
            if self.fail_at == Some(self.reads) {
                return Err(io::Error::from_raw_os_error(nix::libc::ENETDOWN));
            }
            if self.frames.is_empty() {
                return Ok(None);
            }
            self.current = self.frames.remove(0);
            let mut byte = [0u8; 1];
            std::io::Read::read_exact(&mut self.readiness, &mut byte)?;
            Ok(Some(&self.current))
        }
        fn readiness(&self) -> BorrowedFd<'_> {
            self.readiness.as_fd()
        }
    }

    fn frame(source: u8, len: usize) -> Vec<u8> {
        let mut frame = vec![0u8; len];
        frame[6..12].copy_from_slice(&mac(source).0);
        frame
    }

    #[test]
    fn every_frame_read_is_delivered_ignored_or_dropped() {
        let mut state = PortState::new("p", 1500, Some(OwnSources::new(Some(mac(1)))));
        let mut source = ScriptedSource::new(vec![
            frame(9, 60),
            frame(1, 60),   // the device's own
            frame(9, 1515), // over MTU + 14
            frame(9, 1514),
            frame(9, 100),
        ]);
        let mut bufs = vec![PacketBuf::new(); 2];
        assert_eq!(
            state
                .recv_batch(&mut source, &mut bufs, Duration::ZERO)
                .unwrap(),
            2
        );
        assert_eq!(bufs[1].len(), 1514);
        assert_eq!(
            state
                .recv_batch(&mut source, &mut bufs, Duration::ZERO)
                .unwrap(),
            1
        );
        assert_eq!(
            state
                .recv_batch(&mut source, &mut bufs, Duration::ZERO)
                .unwrap(),
            0
        );
        let counters = state.counters;
        assert_eq!(counters.rx_packets, 3);
        assert_eq!(counters.rx_bytes, 60 + 1514 + 100);
        assert_eq!(counters.rx_ignored_own, 1);
        assert_eq!(counters.rx_dropped.oversize, 1);
        assert_eq!(counters.rx_seen(), 5);
        drop(source.wake);
    }

    #[test]
    fn a_frame_sent_marks_its_source_as_own() {
        let mut state = PortState::new("p", 1500, Some(OwnSources::new(None)));
        state.before_send(&frame(7, 60)).unwrap();
        state.after_send(60, Ok(())).unwrap();
        let mut source = ScriptedSource::new(vec![frame(7, 60), frame(8, 60)]);
        let mut bufs = vec![PacketBuf::new(); 4];
        assert_eq!(
            state
                .recv_batch(&mut source, &mut bufs, Duration::ZERO)
                .unwrap(),
            1
        );
        assert_eq!(source_mac(bufs[0].as_slice()), Some(mac(8)));
        assert_eq!(state.counters.rx_ignored_own, 1);
        assert_eq!(state.counters.tx_packets, 1);
    }

    #[test]
    fn send_side_refuses_and_counts() {
        let mut state = PortState::new("p", 1500, None);
        let error = state.before_send(&[0; 1515]).unwrap_err();
        assert!(matches!(
            error,
            PortError::FrameTooLarge {
                len: 1515,
                max: 1514,
                ..
            }
        ));
        let error = state
            .after_send(60, Err(io::Error::from_raw_os_error(nix::libc::ENOBUFS)))
            .unwrap_err();
        assert!(error.to_string().contains("60-byte"), "{error}");
        assert_eq!(state.counters.tx_errors, 2);
        assert_eq!(state.counters.tx_packets, 0);
    }

    #[test]
    fn waits_until_the_deadline_when_only_own_frames_arrive() {
        let mut state = PortState::new("p", 1500, Some(OwnSources::new(Some(mac(1)))));
        let mut source = ScriptedSource::new(vec![frame(1, 60)]);
        let mut bufs = vec![PacketBuf::new(); 4];
        let started = Instant::now();
        let got = state
            .recv_batch(&mut source, &mut bufs, Duration::from_millis(30))
            .unwrap();
        assert_eq!(got, 0);
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(state.counters.rx_ignored_own, 1);
    }

    #[test]
    fn an_error_after_frames_delivers_them_and_counts_it() {
        let mut state = PortState::new("p", 1500, None);
        let mut source = ScriptedSource::new(vec![frame(9, 60), frame(9, 61)]);
        source.fail_at = Some(2);
        let mut bufs = vec![PacketBuf::new(); 4];
        assert_eq!(
            state
                .recv_batch(&mut source, &mut bufs, Duration::ZERO)
                .unwrap(),
            1
        );
        assert_eq!(state.counters.rx_errors, 1);
        assert_eq!(
            state
                .recv_batch(&mut source, &mut bufs, Duration::ZERO)
                .unwrap(),
            1
        );
        assert_eq!(bufs[0].len(), 61, "the frame after the error is not lost");
        source.fail_at = Some(5);
        let error = state
            .recv_batch(&mut source, &mut bufs, Duration::ZERO)
            .unwrap_err();
        assert!(matches!(error, PortError::Recv { .. }), "{error}");
        assert!(error.to_string().contains("receive failed"), "{error}");
        assert_eq!(state.counters.rx_errors, 2);
    }
}
