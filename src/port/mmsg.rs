//! The batched AF_PACKET backend: the socket pnet opened and bound, driven
//! with recvmmsg(2)/sendmmsg(2) through nix: up to [`MMSG_BATCH`] frames
//! per syscall instead of pnet's poll + recvfrom per frame, received
//! straight into the caller's buffers. The kernel's packet type tells
//! frames leaving the device (PACKET_OUTGOING) apart exactly.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, LinkAddr, MsgFlags, MultiHeaders, recvmmsg, send, sendmmsg,
};

use super::device::{BatchSource, PortState};
use super::{BatchSend, PortError, RX_HEADROOM, RxDrop};
use crate::packet::PacketBuf;

/// Frames per recvmmsg/sendmmsg call.
pub const MMSG_BATCH: usize = 64;

/// sll_pkttype of a frame the device sent (linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;

/// What recvmmsg said about one message.
#[derive(Debug, Clone, Copy, Default)]
struct Received {
    /// The frame's full length (MSG_TRUNC asks for it even when cut).
    len: usize,
    outgoing: bool,
}

/// The socket and what each call reports. (nix's `MultiHeaders` holds raw
/// pointers, so it is not `Send`: each call makes its own, a few small
/// allocations per batch of up to 64 frames.)
pub(crate) struct MmsgIo {
    fd: OwnedFd,
    received: Vec<Received>,
    no_addresses: Vec<Option<()>>,
}

impl MmsgIo {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Self {
            fd,
            received: vec![Received::default(); MMSG_BATCH],
            no_addresses: vec![None; MMSG_BATCH],
        }
    }

    /// One recvmmsg into `bufs[..MMSG_BATCH]`; how many messages came.
    fn receive(&mut self, bufs: &mut [PacketBuf]) -> io::Result<usize> {
        let batch = bufs.len().min(MMSG_BATCH);
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = Vec::with_capacity(batch);
        for buf in bufs.iter_mut().take(batch) {
            buf.reset(RX_HEADROOM);
            let room = buf.tailroom();
            let space = buf.push_back(room).map_err(io::Error::other)?;
            slices.push([IoSliceMut::new(space)]);
        }
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
        let mut headers = MultiHeaders::<LinkAddr>::preallocate(batch, None);
        let results = match recvmmsg(
            self.fd.as_raw_fd(),
            &mut headers,
            slices.iter_mut(),
            flags,
            None,
        ) {
            Ok(results) => results,
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(0),
            Err(errno) => return Err(errno.into()),
        };
        let mut count = 0;
        for (slot, message) in self.received.iter_mut().zip(results) {
            *slot = Received {
                len: message.bytes,
                outgoing: message
                    .address
                    .is_some_and(|address| address.pkttype() == PACKET_OUTGOING),
            };
            count += 1;
        }
        Ok(count)
    }

    /// Sends `frames` with as few sendmmsg calls as the kernel allows; a
    /// frame the kernel refuses is counted and skipped.
    pub(crate) fn send_batch(&mut self, state: &mut PortState, frames: &[PacketBuf]) -> BatchSend {
        let mut outcome = BatchSend::default();
        let mut headers = MultiHeaders::<()>::preallocate(MMSG_BATCH, None);
        for chunk in frames.chunks(MMSG_BATCH) {
            let mut slices: Vec<[IoSlice<'_>; 1]> = Vec::with_capacity(chunk.len());
            for frame in chunk {
                match state.before_send(frame.as_slice()) {
                    Ok(()) => slices.push([IoSlice::new(frame.as_slice())]),
                    Err(error) => {
                        outcome.failed += 1;
                        outcome.first_error.get_or_insert(error);
                    }
                }
            }
            let mut start = 0;
            while let Some(pending) = slices.get(start..).filter(|rest| !rest.is_empty()) {
                let addresses = self.no_addresses.get(..pending.len()).unwrap_or(&[]);
                let result = sendmmsg(
                    self.fd.as_raw_fd(),
                    &mut headers,
                    pending,
                    addresses,
                    [] as [ControlMessage<'_>; 0],
                    MsgFlags::empty(),
                )
                .map(|results| results.count());
                match result {
                    Ok(sent) if sent > 0 => {
                        for slice in pending.iter().take(sent) {
                            state.counters.count_tx(slice[0].len());
                        }
                        outcome.sent += sent;
                        start += sent;
                    }
                    other => {
                        // The first pending frame failed: count it, go on.
                        let source = match other {
                            Err(errno) => io::Error::from(errno),
                            Ok(_) => io::Error::other("sendmmsg sent nothing"),
                        };
                        let len = pending.first().map_or(0, |slice| slice[0].len());
                        if let Err(error) = state.after_send(len, Err(source)) {
                            outcome.first_error.get_or_insert(error);
                        }
                        outcome.failed += 1;
                        start += 1;
                    }
                }
            }
        }
        outcome
    }

    /// Sends one frame with send(2).
    pub(crate) fn send_one(&mut self, frame: &[u8]) -> io::Result<()> {
        match send(self.fd.as_raw_fd(), frame, MsgFlags::empty()) {
            Ok(sent) if sent == frame.len() => Ok(()),
            Ok(sent) => Err(io::Error::other(format!(
                "the socket took {sent} of {} bytes",
                frame.len()
            ))),
            Err(errno) => Err(errno.into()),
        }
    }
}

impl BatchSource for MmsgIo {
    fn drain(&mut self, state: &mut PortState, bufs: &mut [PacketBuf]) -> Result<usize, PortError> {
        let count = self
            .receive(bufs)
            .map_err(|source| state.recv_error(source))?;
        let mut filled = 0;
        for index in 0..count {
            let (Some(received), Some(buf)) = (self.received.get(index), bufs.get_mut(index))
            else {
                break;
            };
            let room = buf.len();
            let verdict = if received.outgoing {
                None
            } else if received.len > state.max_frame_len {
                Some(Err(RxDrop::Oversize))
            } else if received.len > room {
                Some(Err(RxDrop::NoRoom))
            } else {
                Some(Ok(()))
            };
            match verdict {
                None => state.counters.rx_ignored_own += 1,
                Some(Err(reason)) => state.counters.rx_dropped.count(reason),
                Some(Ok(())) => {
                    buf.truncate(received.len);
                    state.counters.count_rx(received.len);
                    bufs.swap(filled, index);
                    filled += 1;
                }
            }
        }
        Ok(filled)
    }

    fn wait_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
