//! IPv4 fragmentation and reassembly state for the dataplane. The packet
//! formats (fragment fields, the fragmenter) are in [`crate::wire`]; here is
//! the state a tunnel endpoint keeps to reassemble ESP fragments before
//! decapsulation (RFC 4303 3.4.1), bounded because fragments are hostile
//! input: a cap on concurrent datagrams, on the bytes held, on fragments
//! per datagram, and a per-datagram timeout.
//!
//! - [`Reassembler`]: fragments in, a whole datagram out (or why not).
//! - [`FragmentDrop`]: every reason a fragment is refused, one counter each.
//! - [`ReassemblyLimits`]: the bounds, [`ReassemblyStats`]: what happened.

mod reassembly;

pub use reassembly::{Reassembled, Reassembler};

use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

use crate::reason::reason_enum;

reason_enum! {
    /// Why a fragment was refused (and, for some, its whole datagram).
    #[derive(Error, Serialize)]
    #[serde(into = "&'static str")]
    pub enum FragmentDrop (prefix "fragment_") {
        /// It overlaps data already received: the whole datagram is discarded
        /// (RFC 5722's rule, applied to IPv4 too: overlaps are attacks).
        #[error("overlaps another fragment")]
        Overlap = "overlap",
        /// An exact copy of a fragment already held (same offset, length and
        /// bytes): dropped, the datagram kept.
        #[error("duplicate fragment")]
        Duplicate = "duplicate",
        /// Its data would end past 65,535 bytes (RFC 791's total length limit):
        /// the datagram is discarded.
        #[error("reassembled datagram would exceed 65535 bytes")]
        TooLarge = "too_large",
        /// Its end disagrees with the datagram's end (a second last fragment,
        /// or data past it): the datagram is discarded.
        #[error("inconsistent datagram end")]
        InconsistentEnd = "inconsistent_end",
        /// A fragment with More Fragments whose data is not a multiple of 8
        /// bytes, or one with no data at all.
        #[error("fragment data length not a multiple of 8 (or empty)")]
        BadLength = "bad_length",
        /// Holding it would pass the memory cap.
        #[error("reassembly memory cap reached")]
        MemoryCap = "memory_cap",
        /// No room for another datagram in progress.
        #[error("too many datagrams in reassembly")]
        TableFull = "table_full",
        /// Its datagram already has the most fragments allowed: discarded.
        #[error("too many fragments in one datagram")]
        TooManyFragments = "too_many_fragments",
        /// The datagram is complete but larger than a packet buffer.
        #[error("reassembled datagram larger than a packet buffer")]
        BufferTooSmall = "buffer_too_small",
    }
}

impl From<FragmentDrop> for &'static str {
    fn from(reason: FragmentDrop) -> Self {
        reason.as_str()
    }
}

/// The bounds of a [`Reassembler`]. Defaults: 64 datagrams, 1 MiB held,
/// 64 fragments a datagram, 30 s (Linux's `ipfrag_time`; RFC 791 suggests
/// 15 s as the lower bound of its timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Datagrams in progress at once.
    pub max_datagrams: usize,
    /// Fragment data bytes held over all datagrams.
    pub memory_cap: usize,
    /// Fragments one datagram may have.
    pub max_fragments: usize,
    /// How long a datagram may wait for its missing fragments.
    pub timeout: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        Self {
            max_datagrams: 64,
            memory_cap: 1 << 20,
            max_fragments: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a [`Reassembler`] did, beyond the per-fragment drop reasons (which
/// the caller counts with each fragment's fate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReassemblyStats {
    /// Fragments accepted and held.
    pub fragments_held: u64,
    /// Datagrams completed.
    pub completed: u64,
    /// Datagrams that timed out before completing.
    pub timed_out: u64,
    /// Datagrams discarded (overlap, too large, inconsistent, too many).
    pub discarded: u64,
    /// Fragments that were held and then thrown away with their datagram
    /// (timeouts and discards).
    pub fragments_lost: u64,
}
