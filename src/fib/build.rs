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
            if F::EXPAND_BITS > 0 {
                self.free_expanded(old);
            } else {
                self.free_record(old);
            }
        }
        let entry = if routes.is_empty() {
            DIRECT_LEAF | u32::from(default)
        } else if F::EXPAND_BITS > 0 {
            self.build_expanded(default, routes)
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

    /// Builds a region's expanded table (see [`Family::EXPAND_BITS`]) from
    /// its `routes` (longer than [`DIRECT_BITS`], sorted by address and
    /// length) and returns the table's number. As [`Trie::build_record`]
    /// with one wide stride and no compression.
    fn build_expanded(&mut self, default: Leaf, routes: &[WideRoute]) -> u32 {
        let bits = F::EXPAND_BITS;
        let end = DIRECT_BITS + bits;
        let table = match self.expanded_free.pop() {
            Some(table) => table,
            None => {
                let table = (self.expanded.len() >> bits) as u32;
                self.expanded
                    .resize(self.expanded.len() + (1 << bits), DIRECT_LEAF);
                table
            }
        };
        let base = (table as usize) << bits;
        let slot_of = |addr: u128| ((addr << DIRECT_BITS) >> (128 - bits)) as usize;
        // (slot, first route, end of routes) of each slot with longer routes.
        let mut children: Vec<(usize, usize, usize)> = Vec::new();
        if let Some(entries) = self.expanded.get_mut(base..base + (1 << bits)) {
            entries.fill(DIRECT_LEAF | u32::from(default));
            for (i, route) in routes.iter().enumerate() {
                let slot = slot_of(route.addr);
                if route.len <= end {
                    // A covering prefix sorts before those it covers: painted first.
                    let span = 1usize << (end - route.len);
                    if let Some(slots) = entries.get_mut(slot..slot + span) {
                        slots.fill(DIRECT_LEAF | u32::from(route.leaf));
                    }
                } else {
                    match children.last_mut() {
                        Some(last) if last.0 == slot => last.2 = i + 1,
                        _ => children.push((slot, i, i + 1)),
                    }
                }
            }
        }
        for (slot, start, stop) in children {
            // The slot's entry is still the leaf painted over it.
            let leaf = self
                .expanded
                .get(base + slot)
                .map_or(default, |&e| e as Leaf);
            let child = self.build_record(end, leaf, &routes[start..stop]);
            if let Some(entry) = self.expanded.get_mut(base + slot) {
                *entry = child;
            }
        }
        table
    }

    /// Returns expanded table `table`, and the records below it, for reuse.
    fn free_expanded(&mut self, table: u32) {
        let start = (table as usize) << F::EXPAND_BITS;
        for index in start..start + (1 << F::EXPAND_BITS) {
            let entry = self.expanded.get(index).copied().unwrap_or(DIRECT_LEAF);
            if entry & DIRECT_LEAF == 0 {
                self.free_record(entry);
            }
        }
        self.expanded_free.push(table);
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

    /// The dispatched lookups (`cpu.rs`) and the portable code agree, on
    /// whichever CPU the tests run (integration tests only see the former).
    #[test]
    fn dispatched_and_portable_lookups_agree() {
        let mut trie = trie_with_values::<V6>(40);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let region = V6::direct_index(0x2001_0db8u128 << 96);
        let base = (region as u128) << (128 - DIRECT_BITS);
        let mut routes: Vec<WideRoute> = (0..400)
            .map(|i| {
                let len = [24, 29, 32, 40, 44, 48, 56, 64, 128][i % 9];
                let addr = (base | u128::from(next()) << 40 | u128::from(next()))
                    & crate::fib::family::wide_mask(len);
                let leaf = (i % 40) as Leaf + 1;
                WideRoute { addr, len, leaf }
            })
            .collect();
        routes.sort_by_key(|r| (r.addr, r.len));
        routes.dedup_by_key(|r| (r.addr, r.len));
        trie.rebuild_region(region, 1, &routes);
        let keys: Vec<u128> = routes
            .iter()
            .flat_map(|r| [r.addr, r.addr | u128::from(next()), r.addr.wrapping_sub(1)])
            .collect();
        let mut dispatched = vec![None; keys.len()];
        let mut portable = vec![None; keys.len()];
        trie.lookup_batch(&keys, &mut dispatched);
        trie.lookup_batch_portable(&keys, &mut portable);
        assert_eq!(dispatched, portable);
        for (&key, &expected) in keys.iter().zip(&portable) {
            assert_eq!(trie.lookup(key), expected);
            assert_eq!(trie.value(trie.leaf(key)), expected);
        }
        assert!(portable.iter().filter(|m| m.is_some()).count() > keys.len() / 2);
    }

    #[test]
    fn v6_regions_get_an_expanded_table_freed_and_reused() {
        let mut trie = trie_with_values::<V6>(4);
        let bits = V6::EXPAND_BITS;
        let base = 0x2001_0000u128 << 96;
        let region = V6::direct_index(base);
        // A /20 painted into the table, a /30 covering one slot, a /48 below.
        let slot_len = DIRECT_BITS + bits;
        let routes = [
            WideRoute {
                addr: base,
                len: 20,
                leaf: 2,
            },
            WideRoute {
                addr: base | 1 << (128 - slot_len),
                len: slot_len,
                leaf: 3,
            },
            WideRoute {
                addr: base | 1 << (128 - slot_len) | 5 << 80,
                len: 48,
                leaf: 4,
            },
        ];
        trie.rebuild_region(region, 1, &routes);
        assert_eq!(trie.direct[region], 0, "the first table");
        assert_eq!(trie.expanded.len(), 1 << bits);
        assert_eq!(trie.leaf(base), 2);
        assert_eq!(trie.leaf(base | 1 << (128 - slot_len)), 3);
        assert_eq!(trie.leaf(base | 1 << (128 - slot_len) | 5 << 80 | 9), 4);
        assert_eq!(trie.leaf(base | 1 << (128 - slot_len) | 6 << 80), 3);
        assert_eq!(trie.leaf(base | 1 << 108), 1, "past the /20");
        let levels: Vec<(u8, usize)> = trie
            .stats()
            .levels
            .iter()
            .map(|l| (l.depth, l.nodes))
            .collect();
        assert_eq!(levels[..2], [(0, 1), (DIRECT_BITS, 1)]);
        assert_eq!(levels[2], (slot_len, 1));

        let words = trie.arena_words;
        trie.rebuild_region(region, 1, &[]);
        assert_eq!(trie.expanded_free, [0]);
        assert_eq!(trie.leaf(base), 1);
        trie.rebuild_region(
            region + 1,
            1,
            &[WideRoute {
                addr: base + (1 << 110),
                len: 48,
                leaf: 2,
            }],
        );
        assert_eq!(trie.direct[region + 1], 0, "the freed table, reused");
        assert!(trie.expanded_free.is_empty());
        assert_eq!(trie.expanded.len(), 1 << bits);
        assert!(trie.arena_words <= words);
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
