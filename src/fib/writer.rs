//! [`FibWriter`]: the single writer of a FIB. Changes are staged, then
//! [`FibWriter::publish`] rebuilds the changed regions in a private copy and
//! swaps it in atomically, so readers never block and never see a half-built
//! table. Two copies alternate (the previous version is patched again once no
//! reader holds it), so a publish costs the changed regions, not the table.

use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;

use super::FibError;
use super::family::{DIRECT_LEN, Family, V4, V6};
use super::nexthop::{NextHopGroupId, NextHopGroups};
use super::routes::RouteSet;
use super::snapshot::{Fib, FibReader};
use super::trie::{FibMatch, Trie};

/// Above this many regions to catch up, copying the current version is
/// cheaper than patching the spare one.
const MAX_SPARE_CATCH_UP: usize = DIRECT_LEN / 16;

/// The previously published version, kept to become the next one.
#[derive(Debug)]
struct Spare {
    fib: Arc<Fib>,
    /// Regions changed by the publish that replaced it.
    stale_v4: Vec<u32>,
    stale_v6: Vec<u32>,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishReport {
    /// The generation readers now see.
    pub generation: u64,
    /// Regions (/18 subtries) rebuilt, counting catch-up of the spare copy.
    pub regions_rebuilt: usize,
    /// Whether the whole table was copied (no spare copy was free).
    pub copied: bool,
}

/// Builds and publishes FIB versions. One writer per FIB; readers come from
/// [`FibWriter::reader`].
#[derive(Debug)]
pub struct FibWriter {
    v4: RouteSet,
    v6: RouteSet,
    groups: NextHopGroups,
    groups_changed: bool,
    published_groups: Arc<NextHopGroups>,
    shared: Arc<ArcSwap<Fib>>,
    spare: Option<Spare>,
    generation: u64,
}

impl Default for FibWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// A prefix as the route sets hold it: left-aligned address and length.
fn wide(prefix: IpNet) -> Result<(bool, u128, u8), FibError> {
    if prefix.trunc() != prefix {
        return Err(FibError::HostBitsSet {
            prefix,
            network: prefix.trunc(),
        });
    }
    Ok(match prefix {
        IpNet::V4(net) => (true, V4::to_wide(net.addr().into()), net.prefix_len()),
        IpNet::V6(net) => (false, V6::to_wide(net.addr().into()), net.prefix_len()),
    })
}

impl FibWriter {
    /// An empty FIB (generation 0 is published: every lookup misses).
    pub fn new() -> Self {
        Self {
            v4: RouteSet::new(V4::NAME),
            v6: RouteSet::new(V6::NAME),
            groups: NextHopGroups::new(),
            groups_changed: false,
            published_groups: Arc::default(),
            shared: Arc::new(ArcSwap::from_pointee(Fib::default())),
            spare: None,
            generation: 0,
        }
    }

    /// A handle for readers (clone it per worker thread).
    pub fn reader(&self) -> FibReader {
        FibReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stages `prefix` -> `group`, returning the group it had. A prefix with
    /// host bits set is rejected.
    pub fn insert(
        &mut self,
        prefix: IpNet,
        group: NextHopGroupId,
    ) -> Result<Option<NextHopGroupId>, FibError> {
        let (is_v4, addr, len) = wide(prefix)?;
        let value = FibMatch {
            group,
            prefix_len: len,
        };
        let set = if is_v4 { &mut self.v4 } else { &mut self.v6 };
        Ok(set.insert(addr, len, value)?.map(|old| old.group))
    }

    /// Stages the removal of `prefix`, returning the group it had.
    pub fn remove(&mut self, prefix: IpNet) -> Result<Option<NextHopGroupId>, FibError> {
        let (is_v4, addr, len) = wide(prefix)?;
        let set = if is_v4 { &mut self.v4 } else { &mut self.v6 };
        Ok(set.remove(addr, len).map(|old| old.group))
    }

    /// The staged group of an exact prefix.
    pub fn get(&self, prefix: IpNet) -> Option<NextHopGroupId> {
        let (is_v4, addr, len) = wide(prefix).ok()?;
        let set = if is_v4 { &self.v4 } else { &self.v6 };
        set.get(addr, len).map(|value| value.group)
    }

    /// The staged next-hop groups.
    pub fn groups(&self) -> &NextHopGroups {
        &self.groups
    }

    /// The next-hop groups, to add or release groups; published with the
    /// next [`FibWriter::publish`].
    pub fn groups_mut(&mut self) -> &mut NextHopGroups {
        self.groups_changed = true;
        &mut self.groups
    }

    /// Staged IPv4 and IPv6 prefix counts.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// No prefix staged.
    pub fn is_empty(&self) -> bool {
        self.v4.len() + self.v6.len() == 0
    }

    /// Whether anything changed since the last publish.
    pub fn has_pending(&self) -> bool {
        self.v4.has_dirty() || self.v6.has_dirty() || self.groups_changed
    }

    /// Makes every staged change visible to readers at once.
    pub fn publish(&mut self) -> PublishReport {
        if !self.has_pending() {
            return PublishReport {
                generation: self.generation,
                ..PublishReport::default()
            };
        }
        let dirty_v4 = self.v4.take_dirty();
        let dirty_v6 = self.v6.take_dirty();
        if self.groups_changed {
            self.published_groups = Arc::new(self.groups.clone());
            self.groups_changed = false;
        }

        let (mut next, mut todo_v4, mut todo_v6, copied) = match self.take_free_spare() {
            Some(spare) => (spare.fib, spare.stale_v4, spare.stale_v6, false),
            None => (
                Arc::new(Fib::clone(&self.shared.load())),
                Vec::new(),
                Vec::new(),
                true,
            ),
        };
        todo_v4.extend_from_slice(&dirty_v4);
        todo_v6.extend_from_slice(&dirty_v6);
        let fib = Arc::make_mut(&mut next);
        let rebuilt =
            rebuild(&mut fib.v4, &self.v4, todo_v4) + rebuild(&mut fib.v6, &self.v6, todo_v6);
        self.generation += 1;
        fib.groups = Arc::clone(&self.published_groups);
        fib.generation = self.generation;

        let previous = self.shared.swap(next);
        self.spare = Some(Spare {
            fib: previous,
            stale_v4: dirty_v4,
            stale_v6: dirty_v6,
        });
        PublishReport {
            generation: self.generation,
            regions_rebuilt: rebuilt,
            copied,
        }
    }

    /// The spare version if no reader holds it and it is not too far behind.
    fn take_free_spare(&mut self) -> Option<Spare> {
        let mut spare = self.spare.take()?;
        let behind = spare.stale_v4.len() + spare.stale_v6.len();
        if behind > MAX_SPARE_CATCH_UP || Arc::get_mut(&mut spare.fib).is_none() {
            return None;
        }
        Some(spare)
    }
}

/// Rebuilds `regions` of `trie` from `routes`; returns how many.
fn rebuild<F: Family>(trie: &mut Trie<F>, routes: &RouteSet, mut regions: Vec<u32>) -> usize {
    regions.sort_unstable();
    regions.dedup();
    for &region in &regions {
        let (default, long) = routes.region(region as usize);
        trie.rebuild_region(region as usize, default, long);
    }
    let table = routes.leaves.table();
    if trie.values != table {
        trie.values.clear();
        trie.values.extend_from_slice(table);
    }
    trie.prefixes = routes.len();
    regions.len()
}
