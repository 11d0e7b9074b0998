//! An in-memory port pair over bounded crossbeam channels: what one end
//! sends, the other receives, in order. For tests and for wiring a node to
//! an emulator thread. Frame buffers travel back to the sender for reuse,
//! so a steady flow allocates nothing.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded};

use super::device::PortState;
use super::{Port, PortCounters, PortError, load_frame};
use crate::packet::PacketBuf;

/// Settings of a channel pair (both ends alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPortConfig {
    /// Frames a direction holds before sends fail with
    /// [`PortError::QueueFull`].
    pub capacity: usize,
    /// Largest payload: frames over MTU + 14 are refused on send and
    /// dropped as oversize on receive.
    pub mtu: usize,
}

impl Default for ChannelPortConfig {
    fn default() -> Self {
        Self {
            capacity: 1024,
            mtu: 1500,
        }
    }
}

/// One end of an in-memory link.
pub struct ChannelPort {
    state: PortState,
    capacity: usize,
    /// Frames to the peer.
    to_peer: Sender<Vec<u8>>,
    /// Frames from the peer.
    from_peer: Receiver<Vec<u8>>,
    /// Emptied buffers going back to the peer, which sent them.
    return_to_peer: Sender<Vec<u8>>,
    /// Buffers the peer has emptied, ready for our next send.
    returned: Receiver<Vec<u8>>,
}

impl ChannelPort {
    /// Two connected ends named `a` and `b`.
    pub fn pair(a: &str, b: &str, config: ChannelPortConfig) -> (ChannelPort, ChannelPort) {
        let capacity = config.capacity.max(1);
        let (a_to_b, b_from_a) = bounded(capacity);
        let (b_to_a, a_from_b) = bounded(capacity);
        // Buffers of frames a sent come back to a once b has read them.
        let (b_returns, a_returned) = bounded(capacity);
        let (a_returns, b_returned) = bounded(capacity);
        let end = |name: &str, to_peer, from_peer, return_to_peer, returned| ChannelPort {
            state: PortState::new(name, config.mtu, None),
            capacity,
            to_peer,
            from_peer,
            return_to_peer,
            returned,
        };
        (
            end(a, a_to_b, a_from_b, a_returns, a_returned),
            end(b, b_to_a, b_from_a, b_returns, b_returned),
        )
    }

    /// Takes one received frame into `buf`; false when it was dropped.
    fn accept(&mut self, frame: Vec<u8>, buf: &mut PacketBuf) -> bool {
        let delivered = match load_frame(buf, &frame, self.state.max_frame_len) {
            Ok(()) => {
                self.state.counters.count_rx(frame.len());
                true
            }
            Err(reason) => {
                self.state.counters.rx_dropped.count(reason);
                false
            }
        };
        // A full return queue only means the peer has buffers to spare.
        let _ = self.return_to_peer.try_send(frame);
        delivered
    }
}

impl Port for ChannelPort {
    fn name(&self) -> &str {
        &self.state.name
    }

    fn recv_batch(
        &mut self,
        bufs: &mut [PacketBuf],
        timeout: Duration,
    ) -> Result<usize, PortError> {
        let mut filled = 0;
        let mut waited = false;
        while filled < bufs.len() {
            let next = match self.from_peer.try_recv() {
                Ok(frame) => frame,
                Err(TryRecvError::Empty) if filled == 0 && !waited && !timeout.is_zero() => {
                    waited = true;
                    match self.from_peer.recv_timeout(timeout) {
                        Ok(frame) => frame,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return self.disconnected(filled),
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return self.disconnected(filled),
            };
            if let Some(buf) = bufs.get_mut(filled)
                && self.accept(next, buf)
            {
                filled += 1;
            }
        }
        Ok(filled)
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), PortError> {
        self.state.before_send(frame)?;
        let mut owned = self.returned.try_recv().unwrap_or_default();
        owned.clear();
        owned.extend_from_slice(frame);
        let error = match self.to_peer.try_send(owned) {
            Ok(()) => return self.state.after_send(frame.len(), Ok(())),
            Err(TrySendError::Full(_)) => PortError::QueueFull {
                port: self.state.name.clone(),
                len: frame.len(),
                capacity: self.capacity,
            },
            Err(TrySendError::Disconnected(_)) => PortError::Disconnected {
                port: self.state.name.clone(),
            },
        };
        self.state.counters.tx_errors += 1;
        Err(error)
    }

    fn counters(&self) -> PortCounters {
        self.state.counters
    }
}

impl ChannelPort {
    /// Frames already taken are delivered; a peer gone with nothing
    /// received is an error.
    fn disconnected(&mut self, filled: usize) -> Result<usize, PortError> {
        if filled > 0 {
            return Ok(filled);
        }
        self.state.counters.rx_errors += 1;
        Err(PortError::Disconnected {
            port: self.state.name.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_travel_back_for_reuse() {
        let (mut a, mut b) = ChannelPort::pair("a", "b", ChannelPortConfig::default());
        let mut bufs = vec![PacketBuf::new(); 2];
        a.send(&[7; 100]).unwrap();
        assert_eq!(b.recv_batch(&mut bufs, Duration::ZERO).unwrap(), 1);
        // The 100-byte buffer is back with a: the next send reuses it.
        let reused = a.returned.try_recv().unwrap();
        assert!(reused.capacity() >= 100);
    }
}
