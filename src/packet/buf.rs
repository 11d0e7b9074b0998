//! [`PacketBuf`]: a packet in a fixed buffer with headroom and tailroom.
//!
//! The packet occupies `storage[start..end]`. Headers are prepended by moving
//! `start` down into the headroom and trailers appended by moving `end` up into
//! the tailroom, so encapsulation never copies the payload.

use thiserror::Error;

/// Why a buffer operation could not be done. Carries the sizes involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BufError {
    /// Prepending needs more headroom than is left.
    #[error("packet buffer: need {needed} bytes of headroom, {available} available")]
    NoHeadroom { needed: usize, available: usize },
    /// Appending needs more tailroom than is left.
    #[error("packet buffer: need {needed} bytes of tailroom, {available} available")]
    NoTailroom { needed: usize, available: usize },
    /// Removing more bytes than the packet holds.
    #[error("packet buffer: cannot remove {requested} bytes from a {len}-byte packet")]
    TooShort { requested: usize, len: usize },
    /// Loading a frame larger than the buffer can hold after its headroom.
    #[error("packet buffer: a {len}-byte frame does not fit ({capacity} bytes after headroom)")]
    TooLarge { len: usize, capacity: usize },
}

/// A packet with room to grow at both ends. Allocated once, reused per packet.
#[derive(Clone)]
pub struct PacketBuf {
    storage: Box<[u8]>,
    start: usize,
    end: usize,
}

impl PacketBuf {
    /// Headroom reserved by [`PacketBuf::new`]: enough for Ethernet + outer
    /// IPv6 + UDP (NAT-T) + ESP header and IV, with margin.
    pub const DEFAULT_HEADROOM: usize = 128;
    /// Total size allocated by [`PacketBuf::new`]: a 9000-byte jumbo frame,
    /// the default headroom and room for an ESP trailer, ICV and TFC padding.
    pub const DEFAULT_CAPACITY: usize = 9216 + Self::DEFAULT_HEADROOM + 512;

    /// A buffer of [`Self::DEFAULT_CAPACITY`] bytes with the default headroom.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY, Self::DEFAULT_HEADROOM)
    }

    /// A buffer of `capacity` bytes whose (empty) packet starts after
    /// `headroom` bytes. `headroom` is clamped to `capacity`.
    pub fn with_capacity(capacity: usize, headroom: usize) -> Self {
        let headroom = headroom.min(capacity);
        Self {
            storage: vec![0; capacity].into_boxed_slice(),
            start: headroom,
            end: headroom,
        }
    }

    /// Empties the packet and places its start after `headroom` bytes.
    pub fn reset(&mut self, headroom: usize) {
        let headroom = headroom.min(self.storage.len());
        self.start = headroom;
        self.end = headroom;
    }

    /// Replaces the packet with a copy of `frame`, starting after `headroom`
    /// bytes.
    pub fn load(&mut self, frame: &[u8], headroom: usize) -> Result<(), BufError> {
        let headroom = headroom.min(self.storage.len());
        let capacity = self.storage.len() - headroom;
        if frame.len() > capacity {
            return Err(BufError::TooLarge {
                len: frame.len(),
                capacity,
            });
        }
        self.start = headroom;
        self.end = headroom + frame.len();
        self.storage[self.start..self.end].copy_from_slice(frame);
        Ok(())
    }

    /// The packet's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }

    /// The packet's bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.end]
    }

    /// Packet length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the packet holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes free before the packet.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the packet.
    pub fn tailroom(&self) -> usize {
        self.storage.len() - self.end
    }

    /// Grows the packet by `n` bytes at the front and returns them (their
    /// content is whatever the buffer held: the caller writes the header).
    pub fn push_front(&mut self, n: usize) -> Result<&mut [u8], BufError> {
        if n > self.start {
            return Err(BufError::NoHeadroom {
                needed: n,
                available: self.start,
            });
        }
        self.start -= n;
        Ok(&mut self.storage[self.start..self.start + n])
    }

    /// Removes `n` bytes from the front (decapsulation).
    pub fn pull_front(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len() {
            return Err(BufError::TooShort {
                requested: n,
                len: self.len(),
            });
        }
        self.start += n;
        Ok(())
    }

    /// Grows the packet by `n` bytes at the back and returns them.
    pub fn push_back(&mut self, n: usize) -> Result<&mut [u8], BufError> {
        let available = self.tailroom();
        if n > available {
            return Err(BufError::NoTailroom {
                needed: n,
                available,
            });
        }
        let old_end = self.end;
        self.end += n;
        Ok(&mut self.storage[old_end..self.end])
    }

    /// Removes `n` bytes from the back (ESP trailer, padding).
    pub fn trim_back(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len() {
            return Err(BufError::TooShort {
                requested: n,
                len: self.len(),
            });
        }
        self.end -= n;
        Ok(())
    }

    /// Shortens the packet to `len` bytes; longer lengths leave it unchanged.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
    }
}

impl Default for PacketBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_in_place_at_both_ends() {
        let mut buf = PacketBuf::with_capacity(64, 16);
        buf.load(&[1, 2, 3, 4], 16).unwrap();
        buf.push_front(2).unwrap().copy_from_slice(&[9, 8]);
        buf.push_back(1).unwrap()[0] = 7;
        assert_eq!(buf.as_slice(), &[9, 8, 1, 2, 3, 4, 7]);
        assert_eq!(buf.headroom(), 14);
        assert_eq!(buf.tailroom(), 64 - 16 - 5);
        buf.pull_front(2).unwrap();
        buf.trim_back(1).unwrap();
        assert_eq!(buf.as_slice(), &[1, 2, 3, 4]);
    }

    #[test]
    fn refuses_to_overrun_either_end() {
        let mut buf = PacketBuf::with_capacity(8, 2);
        buf.load(&[0; 4], 2).unwrap();
        assert_eq!(
            buf.push_front(3).unwrap_err(),
            BufError::NoHeadroom {
                needed: 3,
                available: 2
            }
        );
        assert_eq!(
            buf.push_back(3).unwrap_err(),
            BufError::NoTailroom {
                needed: 3,
                available: 2
            }
        );
        assert_eq!(
            buf.pull_front(5).unwrap_err(),
            BufError::TooShort {
                requested: 5,
                len: 4
            }
        );
        assert_eq!(
            buf.load(&[0; 7], 2).unwrap_err(),
            BufError::TooLarge {
                len: 7,
                capacity: 6
            }
        );
        assert_eq!(buf.len(), 4, "failed operations leave the packet as it was");
    }
}
