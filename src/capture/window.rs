//! [`Window`]: the capture reader's buffered input. It keeps each record
//! contiguous for the parsers and, on request, keeps bytes already read
//! ([`Window::hold_from`]), so a caller can look at a frame again as it sits
//! in the file ([`Window::held`]) without having copied it: `erdp replay`
//! writes a dropped frame as it arrived that way, and copies nothing for the
//! frames the node forwards.
//!
//! Memory is bounded by what the caller holds plus one read: the window
//! grows to keep the held bytes a small share of it (so moving them to the
//! front before a read stays cheap): at most the held bytes, the record
//! being read and 4 MiB.

use std::io::{self, Read};

/// Bytes asked of the source per read, at least.
pub(super) const READ_CHUNK: usize = 256 * 1024;
/// The window is grown to at least this many times the held bytes, so the
/// held bytes moved before a read are at most this share of it.
const HELD_SHARE: usize = 16;
/// The most room the window keeps beyond the held and needed bytes.
const MAX_EXTRA: usize = 4 << 20;

/// Where a frame's captured bytes sit in the file: its offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameSpan {
    /// File offset of the frame's first byte.
    pub offset: u64,
    /// Captured length.
    pub len: usize,
}

/// Buffered input that keeps whole records contiguous.
pub(super) struct Window<R> {
    source: R,
    bytes: Vec<u8>,
    /// The next unread byte.
    start: usize,
    /// The end of the bytes read.
    end: usize,
    /// File offset of `bytes[0]`.
    offset: u64,
    /// Bytes from this file offset on are kept until it moves.
    held: Option<u64>,
    at_eof: bool,
}

impl<R: Read> Window<R> {
    pub(super) fn new(source: R) -> Self {
        Self {
            source,
            bytes: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            offset: 0,
            held: None,
            at_eof: false,
        }
    }

    /// File offset of the next unread byte.
    pub(super) fn consumed(&self) -> u64 {
        self.offset + self.start as u64
    }

    /// The unread bytes in the window.
    pub(super) fn available(&self) -> &[u8] {
        self.bytes.get(self.start..self.end).unwrap_or_default()
    }

    /// The first `len` unread bytes (callers filled at least that many).
    pub(super) fn record(&self, len: usize) -> &[u8] {
        let available = self.available();
        available.get(..len).unwrap_or(available)
    }

    /// Keeps every byte from file offset `from` on (a frame not yet
    /// returned, or one still wanted); `None` keeps only unread bytes.
    pub(super) fn hold_from(&mut self, from: Option<u64>) {
        self.held = from;
    }

    /// The bytes of `span`, when they are still in the window (held, or
    /// not yet discarded).
    pub(super) fn held(&self, span: FrameSpan) -> Option<&[u8]> {
        let from = usize::try_from(span.offset.checked_sub(self.offset)?).ok()?;
        let to = from.checked_add(span.len)?;
        if to > self.end {
            return None;
        }
        self.bytes.get(from..to)
    }

    /// Index of the first byte to keep: the held offset, else `start`.
    fn keep_from(&self) -> usize {
        match self.held {
            Some(held) if held >= self.offset => {
                usize::try_from(held - self.offset).map_or(self.start, |at| at.min(self.start))
            }
            _ => self.start,
        }
    }

    /// Reads until at least `needed` bytes are buffered or the input ends.
    /// Returns the number of bytes buffered.
    pub(super) fn fill(&mut self, needed: usize) -> io::Result<usize> {
        if self.end - self.start >= needed || self.at_eof {
            return Ok(self.end - self.start);
        }
        let room = self.bytes.len() - self.end;
        if room < needed.max(READ_CHUNK / 2) {
            // Discard what is neither unread nor held, then make the
            // held bytes a small share of the window.
            let keep = self.keep_from();
            if keep > 0 {
                self.bytes.copy_within(keep..self.end, 0);
                self.offset += keep as u64;
                self.start -= keep;
                self.end -= keep;
            }
            let extra = (self.start * (HELD_SHARE - 1)).clamp(READ_CHUNK / 2, MAX_EXTRA);
            let want = self.start + needed + extra;
            if self.bytes.len() < want {
                self.bytes.resize(want.max(READ_CHUNK), 0);
            }
        }
        // At most a chunk per read: the bytes are parsed and copied out
        // soon after, while they are still in the cache (one read into
        // megabytes of room would stream them out to memory first).
        while self.end - self.start < needed {
            let to = self.bytes.len().min(self.end + READ_CHUNK.max(needed));
            let Some(free) = self.bytes.get_mut(self.end..to).filter(|b| !b.is_empty()) else {
                break;
            };
            match self.source.read(free) {
                Ok(0) => {
                    self.at_eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(self.end - self.start)
    }

    /// Marks `n` more bytes read.
    pub(super) fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// The window's index of `part`, a slice of its unread bytes (what a
    /// parser returned), as a file offset.
    pub(super) fn offset_of(&self, part: &[u8]) -> Option<u64> {
        let base = self.bytes.as_ptr() as usize;
        let at = (part.as_ptr() as usize).checked_sub(base)?;
        (at + part.len() <= self.end).then_some(self.offset + at as u64)
    }
}
