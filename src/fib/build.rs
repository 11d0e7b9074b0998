//! Poptrie construction: builds the subtrie under one direct-table entry (a
//! "region", the /18 a key's top bits select) from that region's sorted
//! routes, with leaf pushing and leaf compression, into flat arenas of nodes
//! and leaves, allocated in blocks (a node's children, a node's leaf runs)
//! whose freed blocks are kept in exact-size free lists for reuse.

use super::family::{DIRECT_BITS, Family, STRIDE, wide_slot};
use super::trie::{DIRECT_LEAF, FreeLists, LEAF_AT, Leaf, MAX_BLOCK, Trie, TrieNode};

/// A route as the builder sees it: a left-aligned, masked address, a length
/// and the leaf to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WideRoute {
    pub(crate) addr: u128,
    pub(crate) len: u8,
    pub(crate) leaf: Leaf,
}

impl FreeLists {
    /// Takes a free block of exactly `size` entries, if any.
    fn take(&mut self, size: usize) -> Option<u32> {
        let start = self.by_size.get_mut(size)?.pop()?;
        self.entries -= size;
        Some(start)
    }

    /// Returns a block of `size` entries (an empty block is not kept).
    fn put(&mut self, start: u32, size: usize) {
        if let Some(list) = self.by_size.get_mut(size).filter(|_| size > 0) {
            list.push(start);
            self.entries += size;
        }
    }
}

/// A block of `size` entries of `arena`, from `free` or appended (index 0
/// for an empty block, which is never read).
fn alloc<T: Copy + Default>(arena: &mut Vec<T>, free: &mut FreeLists, size: usize) -> u32 {
    if size == 0 {
        return 0;
    }
    if let Some(start) = free.take(size) {
        return start;
    }
    let start = arena.len();
    arena.resize(start + size, T::default());
    // Node indices share a u32 with the DIRECT_LEAF flag and leaf positions
    // with DIRECT_LEAF and LEAF_AT; 2^30 nodes (24 GiB) or leaves (2 GiB) is
    // far beyond any routing table: memory runs out first.
    debug_assert!(arena.len() <= LEAF_AT as usize);
    start as u32
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
                self.free_root(old);
            }
        }
        let entry = if routes.is_empty() {
            DIRECT_LEAF | u32::from(default)
        } else if F::EXPAND_BITS > 0 {
            self.build_expanded(default, routes)
        } else {
            self.build_root(DIRECT_BITS, default, routes)
        };
        self.direct[region] = entry;
    }

    /// Builds a subtrie's root node (see [`Trie::build_node`]) in a block of
    /// its own and returns its index.
    fn build_root(&mut self, depth: u8, default: Leaf, routes: &[WideRoute]) -> u32 {
        let node = self.build_node(depth, default, routes);
        let at = alloc(&mut self.nodes, &mut self.free_nodes, 1);
        if let Some(slot) = self.nodes.get_mut(at as usize) {
            *slot = node;
        }
        at
    }

    /// Builds the node at depth `depth` from `routes` (all longer than
    /// `depth` bits, inside the node's range, sorted by address and length):
    /// allocates and fills its children's block and its leaf block, and
    /// returns the node for the caller to place.
    fn build_node(&mut self, depth: u8, default: Leaf, routes: &[WideRoute]) -> TrieNode {
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

        let child_count = children.count_ones() as usize;
        let child_base = alloc(&mut self.nodes, &mut self.free_nodes, child_count);
        let mut child_at = child_base as usize;
        for slot in 0..64 {
            if children & (1 << slot) != 0 {
                let (start, end) = child_routes[slot];
                let inner = &routes[start as usize..end as usize];
                let child = self.build_node(depth + STRIDE, slot_leaf[slot], inner);
                if let Some(place) = self.nodes.get_mut(child_at) {
                    *place = child;
                }
                child_at += 1;
            }
        }
        // Leaf compression: store a leaf only where the run of leaf slots
        // changes value (slots with children are skipped).
        let mut runs = [0 as Leaf; MAX_BLOCK];
        let mut run_count = 0;
        let mut leaf_runs = 0u64;
        let mut previous = None;
        for (slot, &leaf) in slot_leaf.iter().enumerate() {
            if children & (1 << slot) != 0 || previous == Some(leaf) {
                continue;
            }
            leaf_runs |= 1 << slot;
            runs[run_count % MAX_BLOCK] = leaf;
            run_count += 1;
            previous = Some(leaf);
        }
        let leaf_base = alloc(&mut self.leaves, &mut self.free_leaves, run_count);
        let start = leaf_base as usize;
        if let Some(block) = self.leaves.get_mut(start..start + run_count) {
            block.copy_from_slice(&runs[..run_count]);
        }
        TrieNode {
            children,
            leaf_runs,
            child_base,
            leaf_base,
        }
    }

    /// Builds a region's expanded table (see [`Family::EXPAND_BITS`]) from
    /// its `routes` (longer than [`DIRECT_BITS`], sorted by address and
    /// length) and returns the table's number. As [`Trie::build_node`]
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
            let child = self.build_root(end, leaf, &routes[start..stop]);
            if let Some(entry) = self.expanded.get_mut(base + slot) {
                *entry = child;
            }
        }
        table
    }

    /// Returns expanded table `table`, and the nodes below it, for reuse.
    fn free_expanded(&mut self, table: u32) {
        let start = (table as usize) << F::EXPAND_BITS;
        for index in start..start + (1 << F::EXPAND_BITS) {
            let entry = self.expanded.get(index).copied().unwrap_or(DIRECT_LEAF);
            if entry & DIRECT_LEAF == 0 {
                self.free_root(entry);
            }
        }
        self.expanded_free.push(table);
    }

    /// Returns a subtrie's root node at `at` (a block of its own, see
    /// [`Trie::build_root`]) and everything below it to the free lists.
    fn free_root(&mut self, at: u32) {
        self.free_below(at);
        self.free_nodes.put(at, 1);
    }

    /// Returns the blocks of the node at `at` (its children's, recursively,
    /// and its leaves') to the free lists.
    fn free_below(&mut self, at: u32) {
        let node = self.node(at);
        for child in node.child_range() {
            self.free_below(child);
        }
        let (children, runs) = (node.child_count(), node.run_count());
        self.free_nodes.put(node.child_base, children as usize);
        self.free_leaves.put(node.leaf_base, runs as usize);
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
        let root = trie.node(trie.direct[region]);
        assert_eq!(root.children, 1 << 17);
        assert_eq!(root.leaf_runs, (1 << 0) | (1 << 16) | (1 << 32));
        let runs = root.leaf_base as usize..root.leaf_base as usize + 3;
        assert_eq!(trie.leaves[runs], [1, 2, 1]);
        // The child (10.0.17.0/24 in /30s): the /24's leaf 3 in one run
        // around a child for 10.0.17.8/30, whose slots (the last 2 bits, then
        // 4 bits of padding: 16 slots per /32) are 3, then 4 for the /32,
        // then 3 again.
        let child = trie.node(root.child_base);
        assert_eq!((child.children, child.leaf_runs), (1 << 2, 1));
        assert_eq!(trie.leaves[child.leaf_base as usize], 3);
        let grandchild = trie.node(child.child_base);
        let runs = (1 << 0) | (1 << 16) | (1 << 32);
        assert_eq!((grandchild.children, grandchild.leaf_runs), (0, runs));
        let runs = grandchild.leaf_base as usize..grandchild.leaf_base as usize + 3;
        assert_eq!(trie.leaves[runs], [3, 4, 3]);
        let levels: Vec<usize> = trie.stats().levels.iter().map(|l| l.nodes).collect();
        assert_eq!(levels, [1, 1, 1, 1]);
    }

    #[test]
    fn rebuild_returns_blocks_to_free_lists_and_reuses_them() {
        let mut trie = trie_with_values::<V4>(3);
        let routes = [
            v4_route([10, 0, 1, 0], 24, 2),
            v4_route([10, 0, 1, 128], 25, 3),
        ];
        trie.rebuild_region(5, 1, &routes);
        let (nodes, leaves) = (trie.nodes.len(), trie.leaves.len());
        // The root (one run of the default around the /24's slot) and the
        // /24's node (the /24's run, the /25's run).
        assert_eq!((nodes, leaves), (2, 1 + 2));
        trie.rebuild_region(5, 1, &[]);
        assert_eq!(trie.direct[5], DIRECT_LEAF | 1);
        assert_eq!(trie.free_nodes.entries, nodes);
        assert_eq!(trie.free_leaves.entries, leaves);
        trie.rebuild_region(5, 1, &routes);
        assert_eq!((trie.nodes.len(), trie.leaves.len()), (nodes, leaves));
        assert_eq!((trie.free_nodes.entries, trie.free_leaves.entries), (0, 0));
    }

    /// Every node and every leaf run belongs to exactly one block, of
    /// exactly one node, and nothing else in the arenas is used.
    #[test]
    fn blocks_partition_the_arenas_through_rebuilds() {
        let mut trie = trie_with_values::<V4>(40);
        // Regions with growing numbers of /24s and /28s: blocks of every size,
        // then every other region rebuilt smaller (free blocks reused).
        let routes_of = |region: u32, count: u32| {
            let base = region << 14;
            let mut routes: Vec<WideRoute> = (0..count)
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
            routes
        };
        for region in 0..64u32 {
            trie.rebuild_region(region as usize, 1, &routes_of(region, region));
        }
        for region in (0..64u32).step_by(2) {
            trie.rebuild_region(region as usize, 1, &routes_of(region, region / 3));
        }
        let mut node_owner = vec![0u8; trie.nodes.len()];
        let mut leaf_owner = vec![0u8; trie.leaves.len()];
        let mut roots: Vec<u32> = trie
            .direct
            .iter()
            .copied()
            .filter(|e| e & DIRECT_LEAF == 0)
            .collect();
        for &root in &roots {
            node_owner[root as usize] += 1;
        }
        while let Some(at) = roots.pop() {
            let node = trie.node(at);
            for child in trie.children_of(at) {
                node_owner[child as usize] += 1;
                roots.push(child);
            }
            let leaves = node.leaf_base as usize..(node.leaf_base + node.run_count()) as usize;
            for owner in &mut leaf_owner[leaves] {
                *owner += 1;
            }
        }
        let free = |lists: &FreeLists, owner: &mut [u8]| {
            for (size, starts) in lists.by_size.iter().enumerate() {
                for &start in starts {
                    for owner in &mut owner[start as usize..start as usize + size] {
                        *owner += 1;
                    }
                }
            }
        };
        free(&trie.free_nodes, &mut node_owner);
        free(&trie.free_leaves, &mut leaf_owner);
        assert!(
            node_owner.iter().all(|&owners| owners == 1),
            "{node_owner:?}"
        );
        assert!(
            leaf_owner.iter().all(|&owners| owners == 1),
            "{leaf_owner:?}"
        );
        assert!(trie.free_nodes.entries > 0 && trie.nodes.len() > 64);
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

        let nodes = trie.nodes.len();
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
        assert!(trie.nodes.len() <= nodes);
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
