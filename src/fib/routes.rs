//! The writer's copy of one family's prefixes, from which the trie is built:
//! prefixes of up to 18 bits paint a per-region default leaf, longer ones sit
//! in their region's sorted list. Every change marks the regions whose
//! subtrie must be rebuilt. Leaf values are interned and reference-counted.

use std::collections::{BTreeMap, HashMap};

use super::FibError;
use super::build::WideRoute;
use super::family::{DIRECT_BITS, DIRECT_LEN, wide_mask, wide_region};
use super::trie::{FibMatch, Leaf, NO_ROUTE};

/// Interned leaf values: one per distinct (group, prefix length) in use.
#[derive(Debug, Clone)]
pub(crate) struct LeafValues {
    values: Vec<Option<FibMatch>>,
    refs: Vec<u32>,
    index: HashMap<FibMatch, Leaf>,
    free: Vec<Leaf>,
}

impl Default for LeafValues {
    fn default() -> Self {
        Self {
            values: vec![None],
            refs: vec![0],
            index: HashMap::new(),
            free: Vec::new(),
        }
    }
}

impl LeafValues {
    /// The leaf for `value`, taking one reference.
    fn acquire(&mut self, value: FibMatch, family: &'static str) -> Result<Leaf, FibError> {
        if let Some(&leaf) = self.index.get(&value) {
            self.refs[usize::from(leaf)] += 1;
            return Ok(leaf);
        }
        let leaf = match self.free.pop() {
            Some(leaf) => leaf,
            None => {
                let leaf = Leaf::try_from(self.values.len())
                    .map_err(|_| FibError::TooManyLeafValues { family })?;
                self.values.push(None);
                self.refs.push(0);
                leaf
            }
        };
        self.values[usize::from(leaf)] = Some(value);
        self.refs[usize::from(leaf)] = 1;
        self.index.insert(value, leaf);
        Ok(leaf)
    }

    /// Drops one reference; an unreferenced leaf value becomes reusable.
    fn release(&mut self, leaf: Leaf) {
        let slot = usize::from(leaf);
        if leaf == NO_ROUTE || self.refs.get(slot).is_none_or(|&refs| refs == 0) {
            return;
        }
        self.refs[slot] -= 1;
        if self.refs[slot] == 0 {
            if let Some(value) = self.values[slot].take() {
                self.index.remove(&value);
            }
            self.free.push(leaf);
        }
    }

    /// The value table a trie copies (index = leaf).
    pub(crate) fn table(&self) -> &[Option<FibMatch>] {
        &self.values
    }

    fn get(&self, leaf: Leaf) -> Option<FibMatch> {
        self.values.get(usize::from(leaf)).copied().flatten()
    }
}

/// One family's prefixes plus the set of regions changed since the last
/// [`RouteSet::take_dirty`].
#[derive(Debug, Clone)]
pub(crate) struct RouteSet {
    family: &'static str,
    /// Prefixes of at most [`DIRECT_BITS`] bits, by (address, length).
    short: BTreeMap<(u128, u8), Leaf>,
    /// Per region: 1 + the index in `long_lists` of its longer prefixes,
    /// or 0 when it never had any (zeroed memory: a fresh set costs no
    /// writes, where a list per region cost 6 MiB of them).
    long_index: Vec<u32>,
    /// The longer prefixes of the regions that have some, each sorted by
    /// (address, length).
    long_lists: Vec<Vec<WideRoute>>,
    /// Per region: the leaf of the longest short prefix covering it.
    region_default: Vec<Leaf>,
    dirty: Vec<u32>,
    dirty_bits: Vec<u64>,
    pub(crate) leaves: LeafValues,
    len: usize,
}

impl RouteSet {
    pub(crate) fn new(family: &'static str) -> Self {
        Self {
            family,
            short: BTreeMap::new(),
            long_index: vec![0; DIRECT_LEN],
            long_lists: Vec::new(),
            region_default: vec![NO_ROUTE; DIRECT_LEN],
            dirty: Vec::new(),
            dirty_bits: vec![0; DIRECT_LEN / 64],
            leaves: LeafValues::default(),
            len: 0,
        }
    }

    /// Prefixes held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value of an exact prefix (`addr` left-aligned and masked).
    pub(crate) fn get(&self, addr: u128, len: u8) -> Option<FibMatch> {
        let leaf = if len <= DIRECT_BITS {
            *self.short.get(&(addr, len))?
        } else {
            let routes = self.long_routes(wide_region(addr));
            let at = routes.binary_search_by_key(&(addr, len), |r| (r.addr, r.len));
            routes.get(at.ok()?)?.leaf
        };
        self.leaves.get(leaf)
    }

    /// Sets a prefix's value, returning the previous one.
    pub(crate) fn insert(
        &mut self,
        addr: u128,
        len: u8,
        value: FibMatch,
    ) -> Result<Option<FibMatch>, FibError> {
        let leaf = self.leaves.acquire(value, self.family)?;
        let old = self.replace(addr, len, Some(leaf));
        if old == Some(leaf) {
            // Same value: no change to the trie, drop the extra reference.
            self.leaves.release(leaf);
            return Ok(Some(value));
        }
        Ok(old.and_then(|old| self.drop_leaf(old)))
    }

    /// Removes a prefix, returning its value.
    pub(crate) fn remove(&mut self, addr: u128, len: u8) -> Option<FibMatch> {
        let old = self.replace(addr, len, None)?;
        self.drop_leaf(old)
    }

    fn drop_leaf(&mut self, leaf: Leaf) -> Option<FibMatch> {
        let value = self.leaves.get(leaf);
        self.leaves.release(leaf);
        value
    }

    /// Stores or deletes (`None`) a prefix's leaf, marks what changed and
    /// returns the old leaf.
    fn replace(&mut self, addr: u128, len: u8, leaf: Option<Leaf>) -> Option<Leaf> {
        let old = if len <= DIRECT_BITS {
            let old = match leaf {
                Some(leaf) => self.short.insert((addr, len), leaf),
                None => self.short.remove(&(addr, len)),
            };
            if old != leaf {
                self.repaint(addr, len);
            }
            old
        } else {
            let region = wide_region(addr);
            let routes = self.long_routes_mut(region, leaf.is_some())?;
            let at = routes.binary_search_by_key(&(addr, len), |r| (r.addr, r.len));
            let old = match (at, leaf) {
                (Ok(at), Some(leaf)) => Some(std::mem::replace(&mut routes[at].leaf, leaf)),
                (Ok(at), None) => Some(routes.remove(at).leaf),
                (Err(at), Some(leaf)) => {
                    routes.insert(at, WideRoute { addr, len, leaf });
                    None
                }
                (Err(_), None) => None,
            };
            if old != leaf {
                self.mark_dirty(region);
            }
            old
        };
        match (old.is_some(), leaf.is_some()) {
            (false, true) => self.len += 1,
            (true, false) => self.len -= 1,
            _ => {}
        }
        old
    }

    /// Recomputes the region defaults under short prefix `addr/len` after it
    /// changed, and marks those regions dirty.
    fn repaint(&mut self, addr: u128, len: u8) {
        let first = wide_region(addr);
        let count = 1usize << (DIRECT_BITS - len);
        let own = match self.short.get(&(addr, len)) {
            Some(&leaf) => leaf,
            None => self.covering_short(addr, len),
        };
        self.region_default[first..first + count].fill(own);
        // Short prefixes inside this one, covering ones first (sorted order).
        let last = addr | !wide_mask(len);
        for (&(inner, inner_len), &leaf) in self.short.range((addr, len + 1)..=(last, u8::MAX)) {
            let start = wide_region(inner);
            let span = 1usize << (DIRECT_BITS - inner_len);
            self.region_default[start..start + span].fill(leaf);
        }
        for region in first..first + count {
            self.mark_dirty(region);
        }
    }

    /// The leaf of the longest short prefix strictly covering `addr/len`.
    fn covering_short(&self, addr: u128, len: u8) -> Leaf {
        (0..len)
            .rev()
            .find_map(|shorter| {
                let key = (addr & wide_mask(shorter), shorter);
                self.short.get(&key).copied()
            })
            .unwrap_or(NO_ROUTE)
    }

    fn mark_dirty(&mut self, region: usize) {
        let (word, bit) = (region / 64, 1u64 << (region % 64));
        if self.dirty_bits[word] & bit == 0 {
            self.dirty_bits[word] |= bit;
            self.dirty.push(region as u32);
        }
    }

    /// Regions changed since the last call (unordered, no duplicates).
    pub(crate) fn take_dirty(&mut self) -> Vec<u32> {
        for &region in &self.dirty {
            self.dirty_bits[region as usize / 64] = 0;
        }
        std::mem::take(&mut self.dirty)
    }

    /// Whether any region changed since the last [`RouteSet::take_dirty`].
    pub(crate) fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// What the builder needs for one region: its default leaf and routes.
    pub(crate) fn region(&self, region: usize) -> (Leaf, &[WideRoute]) {
        let default = self.region_default.get(region).copied();
        (default.unwrap_or(NO_ROUTE), self.long_routes(region))
    }

    /// A region's longer prefixes (empty when it has none).
    fn long_routes(&self, region: usize) -> &[WideRoute] {
        match self.long_index.get(region) {
            Some(&index) if index != 0 => self
                .long_lists
                .get(index as usize - 1)
                .map_or(&[], Vec::as_slice),
            _ => &[],
        }
    }

    /// A region's list of longer prefixes to change; made when `create`
    /// (an insertion), `None` when it has none and none is to be made.
    fn long_routes_mut(&mut self, region: usize, create: bool) -> Option<&mut Vec<WideRoute>> {
        let index = *self.long_index.get(region)?;
        let index = if index != 0 {
            index
        } else if create {
            self.long_lists.push(Vec::new());
            // At most DIRECT_LEN lists, so the count fits a u32.
            let index = self.long_lists.len() as u32;
            *self.long_index.get_mut(region)? = index;
            index
        } else {
            return None;
        };
        self.long_lists.get_mut(index as usize - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::nexthop::NextHopGroupId;

    fn value(group: u32, prefix_len: u8) -> FibMatch {
        FibMatch {
            group: NextHopGroupId(group),
            prefix_len,
        }
    }

    fn v4(addr: [u8; 4]) -> u128 {
        u128::from(u32::from_be_bytes(addr)) << 96
    }

    #[test]
    fn short_prefixes_paint_region_defaults_most_specific_last() {
        let mut set = RouteSet::new("IPv4");
        set.insert(v4([10, 0, 0, 0]), 8, value(1, 8)).unwrap();
        set.insert(v4([10, 64, 0, 0]), 10, value(2, 10)).unwrap();
        let region = |addr| wide_region(v4(addr));
        let leaf_of = |set: &RouteSet, addr| set.leaves.get(set.region(region(addr)).0);
        assert_eq!(leaf_of(&set, [10, 1, 0, 0]), Some(value(1, 8)));
        assert_eq!(leaf_of(&set, [10, 64, 0, 0]), Some(value(2, 10)));
        assert_eq!(set.take_dirty().len(), 1024);
        // Withdrawing the /8 keeps the /10 painted inside it.
        assert_eq!(set.remove(v4([10, 0, 0, 0]), 8), Some(value(1, 8)));
        assert_eq!(leaf_of(&set, [10, 1, 0, 0]), None);
        assert_eq!(leaf_of(&set, [10, 64, 0, 0]), Some(value(2, 10)));
        // Withdrawing the /10 falls back to what covers it: nothing.
        set.remove(v4([10, 64, 0, 0]), 10);
        assert_eq!(leaf_of(&set, [10, 64, 0, 0]), None);
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn long_prefixes_stay_sorted_and_mark_their_region() {
        let mut set = RouteSet::new("IPv4");
        set.insert(v4([10, 0, 1, 0]), 24, value(1, 24)).unwrap();
        set.insert(v4([10, 0, 0, 0]), 24, value(1, 24)).unwrap();
        set.insert(v4([10, 0, 0, 0]), 23, value(2, 23)).unwrap();
        let (_, routes) = set.region(wide_region(v4([10, 0, 0, 0])));
        let order: Vec<(u128, u8)> = routes.iter().map(|r| (r.addr, r.len)).collect();
        assert_eq!(
            order,
            [
                (v4([10, 0, 0, 0]), 23),
                (v4([10, 0, 0, 0]), 24),
                (v4([10, 0, 1, 0]), 24)
            ]
        );
        assert_eq!(set.take_dirty(), [wide_region(v4([10, 0, 0, 0])) as u32]);
        assert!(!set.has_dirty());
        // Re-announcing the same value changes nothing.
        set.insert(v4([10, 0, 1, 0]), 24, value(1, 24)).unwrap();
        assert!(!set.has_dirty());
        assert_eq!(set.get(v4([10, 0, 1, 0]), 24), Some(value(1, 24)));
        assert_eq!(set.get(v4([10, 0, 2, 0]), 24), None);
    }

    #[test]
    fn leaf_values_are_shared_and_recycled() {
        let mut set = RouteSet::new("IPv4");
        set.insert(v4([10, 0, 1, 0]), 24, value(1, 24)).unwrap();
        set.insert(v4([10, 0, 2, 0]), 24, value(1, 24)).unwrap();
        assert_eq!(set.leaves.table().len(), 2);
        set.remove(v4([10, 0, 1, 0]), 24);
        set.remove(v4([10, 0, 2, 0]), 24);
        set.insert(v4([10, 0, 3, 0]), 24, value(7, 24)).unwrap();
        assert_eq!(set.leaves.table().len(), 2);
        assert_eq!(set.leaves.table()[1], Some(value(7, 24)));
    }

    #[test]
    fn too_many_leaf_values_is_an_error_not_a_panic() {
        let mut leaves = LeafValues::default();
        for group in 0..u32::from(Leaf::MAX) {
            leaves.acquire(value(group, 24), "IPv4").unwrap();
        }
        let err = leaves.acquire(value(u32::MAX, 24), "IPv4").unwrap_err();
        assert!(err.to_string().contains("IPv4"), "{err}");
    }
}
