//! [`FramePool`]: recycled frame buffers, so the hot path does not allocate.
//!
//! Frames move by value ([`PacketBuf`] is a boxed buffer plus two offsets):
//! from the pool to a device, onto a link, to the next device and back to
//! the pool. A buffer is allocated only when the pool is empty.

use crate::packet::PacketBuf;

/// Free frame buffers. Counts the allocations it had to make, so tests and
/// benches can check that a steady state allocates nothing.
#[derive(Debug, Default)]
pub struct FramePool {
    free: Vec<PacketBuf>,
    allocated: u64,
}

impl FramePool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty frame with [`PacketBuf::DEFAULT_HEADROOM`] before it.
    pub fn take(&mut self) -> PacketBuf {
        match self.free.pop() {
            Some(mut frame) => {
                frame.reset(PacketBuf::DEFAULT_HEADROOM);
                frame
            }
            None => {
                self.allocated += 1;
                PacketBuf::new()
            }
        }
    }

    /// Returns a frame for reuse.
    pub fn give(&mut self, frame: PacketBuf) {
        self.free.push(frame);
    }

    /// Buffers allocated since the pool was made.
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Buffers waiting for reuse.
    pub fn free(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers_and_resets_them() {
        let mut pool = FramePool::new();
        let mut frame = pool.take();
        frame.load(&[1, 2, 3], 0).unwrap();
        pool.give(frame);
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.headroom(), PacketBuf::DEFAULT_HEADROOM);
        assert_eq!(pool.allocated(), 1);
        let _second = pool.take();
        assert_eq!(pool.allocated(), 2);
    }
}
