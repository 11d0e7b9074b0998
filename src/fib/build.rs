//! Poptrie construction: builds the subtrie under one direct-table entry (a
//! "region", the /18 a key's top bits select) from that region's sorted
//! routes, with leaf pushing and leaf compression, into a flat arena of node
//! records whose freed blocks are kept in exact-size free lists for reuse.

use super::family::{DIRECT_BITS, Family, STRIDE, wide_slot};
use super::trie::{
    DIRECT_LEAF, FreeLists, HEADER_WORDS, LINE_WORDS, Leaf, Line, Trie, record_words,
};

/// A route as the builder sees it: a left-aligned, masked address, a length
/// and the leaf to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WideRoute {
    pub(crate) addr: u128,
    pub(crate) len: u8,
    pub(crate) leaf: Leaf,
}

impl FreeLists {
    /// Takes a free block of exactly `size` words, if any.
    fn take(&mut self, size: usize) -> Option<u32> {
        let start = self.by_size.get_mut(size)?.pop()?;
        self.words -= size;
        Some(start)
    }

    /// Returns a block of `size` words.
    fn put(&mut self, start: u32, size: usize) {
        if let Some(list) = self.by_size.get_mut(size) {
            list.push(start);
            self.words += size;
        }
    }
}

impl<F: Family> Trie<F> {
    /// Replaces the subtrie of direct-table entry `region`: `default` is the
    /// leaf of the longest prefix of at most 18 bits covering the region,
    /// `routes` the longer prefixes inside it, sorted by (address, length).
    pub(crate) fn rebuild_region(&mut self, region: usize, default: Leaf, routes: &[WideRoute]) {
        let Some(&old) = self.direct.get(region) else {
            return;
        };
        if old & DIRECT_LEAF == 0 {
            self.free_record(old);
        }
        let entry = if routes.is_empty() {
            DIRECT_LEAF | u32::from(default)
        } else {
            self.build_record(DIRECT_BITS, default, routes)
        };
        self.direct[region] = entry;
    }

    /// A block of `size` words, from the free lists or appended. A block of
    /// up to a line never crosses a line boundary (larger ones start a line):
    /// the words skipped go to the free lists. Free blocks keep the property,
    /// as they were allocated (or skipped) within one line.
    fn alloc(&mut self, size: usize) -> u32 {
        if let Some(start) = self.free.take(size) {
            return start;
        }
        let offset = self.arena_words % LINE_WORDS;
        if offset != 0 && offset + size > LINE_WORDS {
            self.free.put(self.arena_words as u32, LINE_WORDS - offset);
            self.arena_words += LINE_WORDS - offset;
        }
        let start = self.arena_words;
        self.arena_words += size;
        self.arena
            .resize(self.arena_words.div_ceil(LINE_WORDS), Line::default());
        // Record indices share a u32 with the DIRECT_LEAF flag; 2^31 words
        // (16 GiB) is far beyond any routing table: memory runs out first.
        debug_assert!(self.arena_words < DIRECT_LEAF as usize);
        start as u32
    }

    /// Word `index` of the arena, for writing.
    fn word_mut(&mut self, index: usize) -> &mut u64 {
        &mut self.arena[index / LINE_WORDS].0[index % LINE_WORDS]
    }

    /// Builds the node at depth `depth` from `routes` (all longer than
    /// `depth` bits, inside the node's range, sorted by address and length)
    /// and returns its record index. Children are built first.
    fn build_record(&mut self, depth: u8, default: Leaf, routes: &[WideRoute]) -> u32 {
        let mut slot_leaf = [default; 64];
        let mut child_routes = [(0u32, 0u32); 64];
        let mut children = 0u64;
        for (i, route) in routes.iter().enumerate() {
            let slot = wide_slot(route.addr, depth) as usize;
            if route.len <= depth + STRIDE {
                // Sorted order puts a covering prefix before the prefixes it
                // covers, so the more specific one is painted last.
                let span = 1usize << (depth + STRIDE - route.len);
                if let Some(slots) = slot_leaf.get_mut(slot..slot + span) {
                    slots.fill(route.leaf);
                }
            } else {
                // The longer routes of one slot are contiguous in sorted order.
                if children & (1 << slot) == 0 {
                    children |= 1 << slot;
                    child_routes[slot].0 = i as u32;
                }
                child_routes[slot].1 = i as u32 + 1;
            }
        }

        // The record's payload in u16 units: child indices (two units each),
        // then the leaf runs.
        let mut units = [0u16; 3 * 64];
        let mut child_count = 0;
        for slot in 0..64 {
            if children & (1 << slot) != 0 {
                let (start, end) = child_routes[slot];
                let inner = &routes[start as usize..end as usize];
                let child = self.build_record(depth + STRIDE, slot_leaf[slot], inner);
                units[2 * child_count] = child as u16;
                units[2 * child_count + 1] = (child >> 16) as u16;
                child_count += 1;
            }
        }
        // Leaf compression: store a leaf only where the run of leaf slots
        // changes value (slots with children are skipped).
        let mut run_count = 0;
        let mut leaf_runs = 0u64;
        let mut previous = None;
        for (slot, &leaf) in slot_leaf.iter().enumerate() {
            if children & (1 << slot) != 0 || previous == Some(leaf) {
                continue;
            }
            leaf_runs |= 1 << slot;
            units[2 * child_count + run_count] = leaf;
            run_count += 1;
            previous = Some(leaf);
        }

        let size = record_words(child_count as u32, run_count as u32);
        let at = self.alloc(size) as usize;
        *self.word_mut(at) = children;
        *self.word_mut(at + 1) = leaf_runs;
        for (index, quad) in (at + HEADER_WORDS..at + size).zip(units.chunks(4)) {
            *self.word_mut(index) = quad
                .iter()
                .enumerate()
                .fold(0, |word, (i, &unit)| word | u64::from(unit) << (16 * i));
        }
        at as u32
    }

    /// Returns the record at `at` and everything below it to the free lists.
    fn free_record(&mut self, at: u32) {
        let mut children = [0u32; 64];
        let mut child_count = 0;
        for (slot, child) in children.iter_mut().zip(self.children_of(at)) {
            *slot = child;
            child_count += 1;
        }
        for &child in &children[..child_count] {
            self.free_record(child);
        }
        let runs = self.word(at as usize + 1).count_ones();
        self.free.put(at, record_words(child_count as u32, runs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::family::{V4, V6};
    use crate::fib::nexthop::NextHopGroupId;
    use crate::fib::trie::FibMatch;

    fn v4_route(addr: [u8; 4], len: u8, leaf: Leaf) -> WideRoute {
        WideRoute {
            addr: V4::to_wide(u32::from_be_bytes(addr)),
            len,
            leaf,
        }
    }

    fn trie_with_values<F: Family>(count: u16) -> Trie<F> {
        let mut trie = Trie::<F>::default();
        for leaf in 1..=count {
            trie.values.push(Some(FibMatch {
                group: NextHopGroupId(u32::from(leaf)),
                prefix_len: 0,
            }));
        }
        trie
    }

    #[test]
    fn region_build_pushes_and_compresses_leaves() {
        let mut trie = trie_with_values::<V4>(4);
        // Region of 10.0.0.0/18: default leaf 1, a /20 and a /24 and a /32.
        let routes = [
            v4_route([10, 0, 16, 0], 20, 2),
            v4_route([10, 0, 17, 0], 24, 3),
            v4_route([10, 0, 17, 9], 32, 4),
        ];
        let region = V4::direct_index(u32::from_be_bytes([10, 0, 0, 0]));
        trie.rebuild_region(region, 1, &routes);
        let leaf = |addr: [u8; 4]| trie.leaf(u32::from_be_bytes(addr));
        assert_eq!(leaf([10, 0, 0, 1]), 1);
        assert_eq!(leaf([10, 0, 16, 1]), 2);
        assert_eq!(leaf([10, 0, 31, 255]), 2);
        assert_eq!(leaf([10, 0, 17, 1]), 3);
        assert_eq!(leaf([10, 0, 17, 9]), 4);
        assert_eq!(leaf([10, 0, 17, 10]), 3);
        assert_eq!(leaf([10, 0, 32, 0]), 1);
        // Root (one slot per /24): leaf 1 in slots 0..16, the /20's leaf 2 in
        // 16..32 except slot 17, a child (the /32); the run of 2 continues
        // across the child slot, then leaf 1 again: three runs.
        let root = trie.direct[region] as usize;
        assert_eq!(trie.word(root), 1 << 17);
        assert_eq!(trie.word(root + 1), (1 << 0) | (1 << 16) | (1 << 32));
        // Header, one child index and three leaves: 2 + ceil((2 + 3) / 4) words.
        assert_eq!(trie.stats().levels[1].nodes, 1);
    }

    #[test]
    fn rebuild_returns_blocks_to_free_lists_and_reuses_them() {
        let mut trie = trie_with_values::<V4>(3);
        let routes = [
            v4_route([10, 0, 1, 0], 24, 2),
            v4_route([10, 0, 1, 128], 25, 3),
        ];
        trie.rebuild_region(5, 1, &routes);
        let (words, padding) = (trie.arena_words, trie.free.words);
        trie.rebuild_region(5, 1, &[]);
        assert_eq!(trie.direct[5], DIRECT_LEAF | 1);
        assert_eq!(trie.free.words, words);
        trie.rebuild_region(5, 1, &routes);
        assert_eq!(trie.arena_words, words);
        assert_eq!(trie.free.words, padding);
    }

    #[test]
    fn records_never_cross_a_cache_line() {
        let mut trie = trie_with_values::<V4>(40);
        // Regions with growing numbers of /24s and /28s: records of every size.
        for region in 0..64u32 {
            let base = region << 14;
            let mut routes: Vec<WideRoute> = (0..region)
                .flat_map(|i| {
                    let slash24 = base | (i * 7 % 64) << 8;
                    [(slash24, 24), (slash24 | 0x30, 28)]
                })
                .map(|(addr, len)| WideRoute {
                    addr: V4::to_wide(addr),
                    len,
                    leaf: (addr % 40) as Leaf + 1,
                })
                .collect();
            routes.sort_by_key(|r| (r.addr, r.len));
            routes.dedup_by_key(|r| (r.addr, r.len));
            trie.rebuild_region(region as usize, 1, &routes);
        }
        let mut records: Vec<u32> = trie
            .direct
            .iter()
            .copied()
            .filter(|e| e & DIRECT_LEAF == 0)
            .collect();
        let mut checked = 0;
        while let Some(at) = records.pop() {
            let children = trie.word(at as usize).count_ones();
            let runs = trie.word(at as usize + 1).count_ones();
            let size = record_words(children, runs);
            let offset = at as usize % LINE_WORDS;
            assert!(
                offset + size.min(LINE_WORDS) <= LINE_WORDS,
                "record at {at} of {size} words"
            );
            records.extend(trie.children_of(at));
            checked += 1;
        }
        assert!(checked > 64, "{checked}");
    }

    #[test]
    fn v6_host_routes_reach_the_last_level() {
        let mut trie = trie_with_values::<V6>(2);
        let addr = 0x2001_0db8_0000_0000_0000_0000_0000_0003u128;
        let routes = [WideRoute {
            addr,
            len: 128,
            leaf: 2,
        }];
        trie.rebuild_region(V6::direct_index(addr), 1, &routes);
        assert_eq!(trie.leaf(addr), 2);
        assert_eq!(trie.leaf(addr - 1), 1);
        assert_eq!(trie.leaf(addr + 1), 1);
        let depths: Vec<u8> = trie.stats().levels.iter().map(|l| l.depth).collect();
        assert_eq!(*depths.last().unwrap(), 126);
    }
}
