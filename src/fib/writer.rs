//! [`FibWriter`]: the single writer of a FIB. Changes are staged, then
//! [`FibWriter::publish`] rebuilds the changed regions in a private copy and
//! swaps it in atomically, so readers never block and never see a half-built
//! table. Retired versions are kept as spares and patched again once no
//! reader holds them, so a publish costs the changed regions, not the table.

use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;

use super::FibError;
use super::family::{Family, V4, V6};
use super::nexthop::{NextHopGroupId, NextHopGroups};
use super::routes::RouteSet;
use super::snapshot::{Fib, FibReader};
use super::trie::{FibMatch, Trie};

/// Above this many regions to catch up (about 1 ms of rebuilding), copying
/// the current version (a few MB) is cheaper than patching a spare one.
const MAX_CATCH_UP: usize = 1024;
/// Retired versions kept per family for reuse. More than one, so a reader
/// descheduled while holding a version does not force a full copy.
const MAX_SPARES: usize = 3;

/// A retired trie and the regions changed since it was current.
#[derive(Debug)]
struct Spare<F: Family> {
    trie: Arc<Trie<F>>,
    stale: Vec<u32>,
}

/// One family's routes, its current trie and its spares.
#[derive(Debug)]
struct FamilyState<F: Family> {
    routes: RouteSet,
    current: Arc<Trie<F>>,
    spares: Vec<Spare<F>>,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishReport {
    /// The generation readers now see.
    pub generation: u64,
    /// Regions (/18 subtries) rebuilt, counting catch-up of spare copies.
    pub regions_rebuilt: usize,
    /// Whether a family's trie had to be copied (every spare was held by a
    /// reader or too far behind).
    pub copied: bool,
}

/// Builds and publishes FIB versions. One writer per FIB; readers come from
/// [`FibWriter::reader`].
#[derive(Debug)]
pub struct FibWriter {
    v4: FamilyState<V4>,
    v6: FamilyState<V6>,
    groups: NextHopGroups,
    groups_changed: bool,
    published_groups: Arc<NextHopGroups>,
    shared: Arc<ArcSwap<Fib>>,
    generation: u64,
}

impl Default for FibWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// A prefix as the route sets hold it: family, left-aligned address, length.
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

impl<F: Family> FamilyState<F> {
    fn new(current: Arc<Trie<F>>) -> Self {
        Self {
            routes: RouteSet::new(F::NAME),
            current,
            spares: Vec::new(),
        }
    }

    /// Brings a trie up to date with the staged routes and makes it current.
    /// Returns (regions rebuilt, whether the trie was copied).
    fn publish(&mut self) -> (usize, bool) {
        let dirty = self.routes.take_dirty();
        if dirty.is_empty() && self.current.values == self.routes.leaves.table() {
            return (0, false);
        }
        // Spares fall behind by every publish; drop those too far behind.
        for spare in &mut self.spares {
            spare.stale.extend_from_slice(&dirty);
        }
        self.spares
            .retain(|spare| spare.stale.len() <= MAX_CATCH_UP);
        // The free spare with the least to catch up.
        let free = self
            .spares
            .iter_mut()
            .enumerate()
            .filter_map(|(at, spare)| {
                Arc::get_mut(&mut spare.trie).map(|_| (at, spare.stale.len()))
            })
            .min_by_key(|&(_, behind)| behind)
            .map(|(at, _)| at);
        let (mut next, todo, copied) = match free {
            Some(at) => {
                let spare = self.spares.remove(at);
                (spare.trie, spare.stale, false)
            }
            None => (Arc::new(Trie::clone(&self.current)), dirty.clone(), true),
        };
        let rebuilt = rebuild(Arc::make_mut(&mut next), &self.routes, todo);
        let retired = std::mem::replace(&mut self.current, next);
        self.spares.push(Spare {
            trie: retired,
            stale: dirty,
        });
        if self.spares.len() > MAX_SPARES {
            self.spares.remove(0);
        }
        (rebuilt, copied)
    }
}

impl FibWriter {
    /// An empty FIB (generation 0 is published: every lookup misses).
    pub fn new() -> Self {
        let empty = Fib::default();
        Self {
            v4: FamilyState::new(Arc::clone(&empty.v4)),
            v6: FamilyState::new(Arc::clone(&empty.v6)),
            groups: NextHopGroups::new(),
            groups_changed: false,
            published_groups: Arc::clone(&empty.groups),
            shared: Arc::new(ArcSwap::from_pointee(empty)),
            generation: 0,
        }
    }

    /// A handle for readers (clone it per worker thread).
    pub fn reader(&self) -> FibReader {
        FibReader {
            shared: Arc::clone(&self.shared),
        }
    }

    fn routes(&mut self, is_v4: bool) -> &mut RouteSet {
        if is_v4 {
            &mut self.v4.routes
        } else {
            &mut self.v6.routes
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
        Ok(self
            .routes(is_v4)
            .insert(addr, len, value)?
            .map(|old| old.group))
    }

    /// Stages the removal of `prefix`, returning the group it had.
    pub fn remove(&mut self, prefix: IpNet) -> Result<Option<NextHopGroupId>, FibError> {
        let (is_v4, addr, len) = wide(prefix)?;
        Ok(self.routes(is_v4).remove(addr, len).map(|old| old.group))
    }

    /// The staged group of an exact prefix.
    pub fn get(&self, prefix: IpNet) -> Option<NextHopGroupId> {
        let (is_v4, addr, len) = wide(prefix).ok()?;
        let routes = if is_v4 {
            &self.v4.routes
        } else {
            &self.v6.routes
        };
        routes.get(addr, len).map(|value| value.group)
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
        (self.v4.routes.len(), self.v6.routes.len())
    }

    /// No prefix staged.
    pub fn is_empty(&self) -> bool {
        self.v4.routes.len() + self.v6.routes.len() == 0
    }

    /// Whether anything changed since the last publish.
    pub fn has_pending(&self) -> bool {
        self.v4.routes.has_dirty() || self.v6.routes.has_dirty() || self.groups_changed
    }

    /// Makes every staged change visible to readers at once.
    pub fn publish(&mut self) -> PublishReport {
        if !self.has_pending() {
            return PublishReport {
                generation: self.generation,
                ..PublishReport::default()
            };
        }
        if self.groups_changed {
            self.published_groups = Arc::new(self.groups.clone());
            self.groups_changed = false;
        }
        let (rebuilt_v4, copied_v4) = self.v4.publish();
        let (rebuilt_v6, copied_v6) = self.v6.publish();
        self.generation += 1;
        self.shared.store(Arc::new(Fib {
            v4: Arc::clone(&self.v4.current),
            v6: Arc::clone(&self.v6.current),
            groups: Arc::clone(&self.published_groups),
            generation: self.generation,
        }));
        PublishReport {
            generation: self.generation,
            regions_rebuilt: rebuilt_v4 + rebuilt_v6,
            copied: copied_v4 || copied_v6,
        }
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
