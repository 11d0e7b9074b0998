//! The driver for frames the caller pulls from a source (a capture file):
//! [`run_batched`] gathers runs of frames from one ingress into batches on
//! the calling thread; [`run_pooled`] hands them to the node's
//! [`WorkerPool`] and routes the results in input order. Either way every
//! result reaches the same [`FateRoute`], so the outputs do not depend on the
//! number of workers.

use std::cell::RefCell;

use super::{Driver, FateRoute};
use crate::dataplane::{PoolError, WorkerPool};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;

/// Frames to drive, pulled one at a time: a capture file is one. The same
/// object routes the results ([`FateRoute`]), since it pairs each result
/// with what it remembers of the input frame.
pub trait FrameSource {
    /// Why reading stopped.
    type Error;

    /// Loads the next frame into `buf` and returns its ingress; `None` at
    /// the end.
    fn next_frame(&mut self, buf: &mut PacketBuf) -> Result<Option<InterfaceId>, Self::Error>;
}

/// Drives every frame of `io` through `driver` on this thread, in batches
/// of up to `batch_size` frames from one ingress, and routes the results
/// back to `io`.
pub fn run_batched<T, E>(driver: &mut Driver, io: &mut T, batch_size: usize) -> Result<(), E>
where
    T: FrameSource<Error = E> + FateRoute<Error = E>,
{
    let batch_size = batch_size.max(1);
    let mut frames: Vec<PacketBuf> = (0..=batch_size).map(|_| PacketBuf::new()).collect();
    let mut filled = 0usize;
    let mut batch_ingress = InterfaceId(0);
    loop {
        let next = match frames.get_mut(filled) {
            Some(buf) => io.next_frame(buf)?,
            None => None,
        };
        let full = filled == batch_size;
        let switch = next.is_some_and(|ingress| filled > 0 && ingress != batch_ingress);
        if filled > 0 && (next.is_none() || switch || full) {
            let (batch, _) = frames.split_at_mut(filled);
            driver.drive(batch_ingress, batch, io)?;
            if next.is_some() {
                // The frame just read waits at `filled`: make it the first.
                frames.swap(0, filled);
            }
            filled = 0;
        }
        match next {
            Some(ingress) => {
                batch_ingress = ingress;
                filled += 1;
            }
            None => return Ok(()),
        }
    }
}

/// Drives every frame of `io` through `pool`, routing the results back to
/// `io` in input order (each input frame, then the packets it caused).
pub fn run_pooled<T, E>(pool: &mut WorkerPool, io: &mut T) -> Result<(), E>
where
    T: FrameSource<Error = E> + FateRoute<Error = E>,
    E: From<PoolError>,
{
    let shared = RefCell::new(io);
    let failure: RefCell<Option<E>> = RefCell::new(None);
    pool.run_ordered(
        |buf| match shared.borrow_mut().next_frame(buf) {
            Ok(next) => next,
            Err(error) => {
                failure.borrow_mut().get_or_insert(error);
                None
            }
        },
        |done| {
            let mut io = shared.borrow_mut();
            let cause = done.index as usize;
            let mut routed = io.input(cause, done.frame, done.fate);
            if let Some((frame, fate)) = done.generated {
                routed = routed.and_then(|()| io.generated(cause, frame, fate));
            }
            for (frame, fate) in done.more_generated.iter_mut() {
                routed = routed.and_then(|()| io.generated(cause, frame, fate));
            }
            if let Err(error) = routed {
                failure.borrow_mut().get_or_insert(error);
            }
        },
    )?;
    match failure.into_inner() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
