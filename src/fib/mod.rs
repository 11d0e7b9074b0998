//! The FIB: IPv4 and IPv6 longest-prefix match in a Poptrie-style compressed
//! trie (Asai and Ohara, SIGCOMM 2015) mapping destinations to next-hop
//! groups, published to readers as immutable versions swapped atomically.
//!
//! - [`FibWriter`] stages prefix changes and publishes a new [`Fib`] version.
//! - [`FibReader`] is what forwarding threads hold: `load()` never blocks.
//! - [`Fib::lookup_v4`], [`Fib::lookup_v6`] and the batch variants return a
//!   [`FibMatch`]: the [`NextHopGroupId`] and the matched prefix length.
//! - [`NextHopGroups`] resolves a group to its ECMP members by flow hash.

mod build;
mod cpu;
mod family;
mod nexthop;
mod route_file;
mod routes;
mod snapshot;
mod trie;
mod writer;

use ipnet::IpNet;
use thiserror::Error;

pub use cpu::{BIT_FEATURES, lookups_use_bit_instructions};
pub use family::{DIRECT_BITS, STRIDE};
pub use nexthop::{InterfaceId, NextHop, NextHopGroupId, NextHopGroups};
pub use route_file::{RouteFile, RouteFileError, RouteLine};
pub use snapshot::{Fib, FibReader};
pub use trie::{BATCH_LANES, FibMatch, LevelStats, TrieStats};
pub use writer::{FibWriter, PublishReport};

/// Why the FIB refused a change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FibError {
    /// The prefix has bits set past its length (10.1.2.3/24).
    #[error("prefix {prefix} has host bits set (the network is {network})")]
    HostBitsSet {
        /// The prefix as given.
        prefix: IpNet,
        /// The prefix with its host bits cleared.
        network: IpNet,
    },
    /// A leaf is 16 bits: at most 65535 distinct (next-hop group, prefix
    /// length) pairs per family.
    #[error("the {family} FIB holds at most 65535 distinct (next-hop group, prefix length) pairs")]
    TooManyLeafValues {
        /// "IPv4" or "IPv6".
        family: &'static str,
    },
}
