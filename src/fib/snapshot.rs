//! [`Fib`]: one published, immutable version of the forwarding table (both
//! families and the next-hop groups they point at), and [`FibReader`], the
//! cheap handle worker threads load it through without ever blocking.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::family::{V4, V6};
use super::nexthop::{NextHop, NextHopGroupId, NextHopGroups};
use super::trie::{FibMatch, Trie, TrieStats};

/// A version of the forwarding table. Readers get it from a [`FibReader`];
/// a [`super::FibWriter`] builds the next version and swaps it in.
#[derive(Debug, Clone, Default)]
pub struct Fib {
    /// Each family in its own `Arc`: a publish that changes one family
    /// shares the other with the previous version.
    pub(crate) v4: Arc<Trie<V4>>,
    pub(crate) v6: Arc<Trie<V6>>,
    pub(crate) groups: Arc<NextHopGroups>,
    pub(crate) generation: u64,
}

impl Fib {
    /// Longest-prefix match of an IPv4 address (`u32` or [`Ipv4Addr`]).
    #[inline]
    pub fn lookup_v4(&self, addr: impl Into<u32>) -> Option<FibMatch> {
        self.v4.lookup(addr.into())
    }

    /// Longest-prefix match of an IPv6 address (`u128` or [`Ipv6Addr`]).
    #[inline]
    pub fn lookup_v6(&self, addr: impl Into<u128>) -> Option<FibMatch> {
        self.v6.lookup(addr.into())
    }

    /// Longest-prefix match of an address of either family.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<FibMatch> {
        match addr {
            IpAddr::V4(addr) => self.lookup_v4(addr),
            IpAddr::V6(addr) => self.lookup_v6(addr),
        }
    }

    /// Batch IPv4 lookup for the forwarder: `out[i]` gets the match of
    /// `addrs[i]`. Processes `min(addrs.len(), out.len())` addresses and
    /// returns that count. No allocation.
    pub fn lookup_v4_batch(&self, addrs: &[u32], out: &mut [Option<FibMatch>]) -> usize {
        self.v4.lookup_batch(addrs, out)
    }

    /// Batch IPv6 lookup, as [`Fib::lookup_v4_batch`].
    pub fn lookup_v6_batch(&self, addrs: &[u128], out: &mut [Option<FibMatch>]) -> usize {
        self.v6.lookup_batch(addrs, out)
    }

    /// The next-hop groups this version's entries point at.
    pub fn groups(&self) -> &NextHopGroups {
        &self.groups
    }

    /// ECMP: the next hop of `group` a flow with `flow_hash` takes (`None`
    /// for a group id this version does not know).
    #[inline]
    pub fn select(&self, group: NextHopGroupId, flow_hash: u64) -> Option<&NextHop> {
        self.groups.select(group, flow_hash)
    }

    /// Publication counter: 0 for the empty table, +1 per publish.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Size and shape of both tries.
    pub fn stats(&self) -> [TrieStats; 2] {
        [self.v4.stats(), self.v6.stats()]
    }

    /// IPv4 prefixes installed.
    pub fn len_v4(&self) -> usize {
        self.v4.prefixes()
    }

    /// IPv6 prefixes installed.
    pub fn len_v6(&self) -> usize {
        self.v6.prefixes()
    }
}

impl FibMatch {
    /// The prefix that matched `addr` (the address masked to the match length).
    pub fn prefix(&self, addr: IpAddr) -> IpNet {
        match addr {
            IpAddr::V4(addr) => IpNet::V4(self.prefix_v4(addr)),
            IpAddr::V6(addr) => IpNet::V6(self.prefix_v6(addr)),
        }
    }

    /// The IPv4 prefix that matched `addr`.
    pub fn prefix_v4(&self, addr: Ipv4Addr) -> Ipv4Net {
        Ipv4Net::new(addr, self.prefix_len.min(32))
            .map_or_else(|_| Ipv4Net::default(), |net| net.trunc())
    }

    /// The IPv6 prefix that matched `addr`.
    pub fn prefix_v6(&self, addr: Ipv6Addr) -> Ipv6Net {
        Ipv6Net::new(addr, self.prefix_len.min(128))
            .map_or_else(|_| Ipv6Net::default(), |net| net.trunc())
    }
}

/// A worker's handle on the current [`Fib`]: clone one per thread. Loading is
/// wait-free in the common case (arc-swap) and never waits for the writer.
#[derive(Debug, Clone)]
pub struct FibReader {
    pub(crate) shared: Arc<ArcSwap<Fib>>,
}

impl FibReader {
    /// The current version, held for the duration of a batch. Hold it briefly:
    /// a held version stays in memory until dropped.
    #[inline]
    pub fn load(&self) -> Guard<Arc<Fib>> {
        self.shared.load()
    }

    /// The current version as an owned `Arc` (for long-lived holders).
    pub fn load_full(&self) -> Arc<Fib> {
        self.shared.load_full()
    }
}
