//! Capture file errors: each names the file and, for reading, the frame
//! number (1-based, as Wireshark counts) and byte offset it concerns.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::link::LinkType;

/// Where in a capture file something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The frame being read (1-based); 0 while reading the file header.
    pub frame: u64,
    /// Byte offset of the record or block in the file.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.frame == 0 {
            write!(f, "file header at byte {}", self.offset)
        } else {
            write!(f, "frame {} at byte {}", self.frame, self.offset)
        }
    }
}

/// What went wrong with a capture file.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: {at}: read failed: {source}")]
    Read {
        path: PathBuf,
        at: Position,
        source: io::Error,
    },
    #[error(
        "{path}: not a pcap or pcapng file (first bytes {magic:02x?}; expected a pcap magic such as d4c3b2a1 or the pcapng section header 0a0d0d0a)"
    )]
    UnknownFormat { path: PathBuf, magic: Vec<u8> },
    #[error("{path}: {at}: truncated {what}: needs {needed} bytes, the file has {available} left")]
    Truncated {
        path: PathBuf,
        at: Position,
        what: &'static str,
        needed: u64,
        available: u64,
    },
    #[error("{path}: {at}: corrupt: {reason}")]
    Corrupt {
        path: PathBuf,
        at: Position,
        reason: String,
    },
    #[error(
        "{path}: {at}: unsupported link type {link_type} on interface {interface}; supported: {}",
        LinkType::SUPPORTED
    )]
    UnsupportedLinkType {
        path: PathBuf,
        at: Position,
        interface: u32,
        link_type: u32,
    },
    #[error(
        "{path}: {at}: a {len}-byte frame does not fit the {capacity}-byte packet buffer (skipped; reading can go on)"
    )]
    FrameTooLarge {
        path: PathBuf,
        at: Position,
        len: usize,
        capacity: usize,
    },
    #[error("{path}: cannot create: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("{path}: write failed after {frames} frames: {reason}")]
    Write {
        path: PathBuf,
        frames: u64,
        reason: String,
    },
}

impl CaptureError {
    /// True when the reader skipped the offending frame and stays usable
    /// (only [`CaptureError::FrameTooLarge`]); every other read error ends
    /// the file.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, CaptureError::FrameTooLarge { .. })
    }
}
