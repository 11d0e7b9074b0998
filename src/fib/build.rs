//! Poptrie construction: builds the subtrie under one direct-table entry (a
//! "region", the /18 a key's top bits select) from that region's sorted
//! routes, with leaf pushing and leaf compression, into flat arenas whose
//! freed blocks are kept in exact-size free lists for the next rebuild.

use super::family::{DIRECT_BITS, Family, STRIDE, wide_slot};
use super::trie::{DIRECT_LEAF, FreeLists, Leaf, Node, Trie};

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

    /// Returns a block of `size` (1..=64) entries.
    fn put(&mut self, start: u32, size: usize) {
        if let Some(list) = self.by_size.get_mut(size) {
            list.push(start);
            self.entries += size;
        }
    }
}

/// A block of `size` entries from `free`, or appended to `arena`.
fn alloc<T: Copy + Default>(arena: &mut Vec<T>, free: &mut FreeLists, size: usize) -> u32 {
    if let Some(start) = free.take(size) {
        return start;
    }
    let start = arena.len();
    arena.resize(start + size, T::default());
    // Indices share a u32 with the DIRECT_LEAF and LEAF_POSITION flags; 2^30
    // nodes (24 GiB) is far beyond any routing table: memory runs out first.
    debug_assert!(arena.len() < 1 << 30);
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
            self.free_node_contents(old);
            self.free_nodes.put(old, 1);
        }
        let entry = if routes.is_empty() {
            DIRECT_LEAF | u32::from(default)
        } else {
            let root = alloc(&mut self.nodes, &mut self.free_nodes, 1);
            self.build_node(root, DIRECT_BITS, default, routes);
            root
        };
        self.direct[region] = entry;
    }

    /// Fills node `at` (depth `depth`) from `routes`: all longer than
    /// `depth` bits, inside the node's range, sorted by (address, length).
    fn build_node(&mut self, at: u32, depth: u8, default: Leaf, routes: &[WideRoute]) {
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

        // Leaf compression: store a leaf only where the run of leaf slots
        // changes value (slots with children are skipped).
        let mut runs = [0 as Leaf; 64];
        let mut run_count = 0;
        let mut leaf_runs = 0u64;
        let mut previous = None;
        for (slot, &leaf) in slot_leaf.iter().enumerate() {
            if children & (1 << slot) != 0 || previous == Some(leaf) {
                continue;
            }
            leaf_runs |= 1 << slot;
            runs[run_count] = leaf;
            run_count += 1;
            previous = Some(leaf);
        }
        let leaf_base = if run_count == 0 {
            0
        } else {
            let base = alloc(&mut self.leaves, &mut self.free_leaves, run_count);
            self.leaves[base as usize..base as usize + run_count]
                .copy_from_slice(&runs[..run_count]);
            base
        };
        let child_count = children.count_ones() as usize;
        let child_base = if child_count == 0 {
            0
        } else {
            alloc(&mut self.nodes, &mut self.free_nodes, child_count)
        };
        self.nodes[at as usize] = Node {
            children,
            leaf_runs,
            child_base,
            leaf_base,
        };

        let mut child = child_base;
        for slot in 0..64 {
            if children & (1 << slot) != 0 {
                let (start, end) = child_routes[slot];
                let inner = &routes[start as usize..end as usize];
                self.build_node(child, depth + STRIDE, slot_leaf[slot], inner);
                child += 1;
            }
        }
    }

    /// Returns the leaf runs and child blocks below node `at` (not `at`
    /// itself) to the free lists.
    fn free_node_contents(&mut self, at: u32) {
        let node = self.nodes[at as usize];
        let run_count = node.leaf_runs.count_ones() as usize;
        if run_count > 0 {
            self.free_leaves.put(node.leaf_base, run_count);
        }
        let child_count = node.children.count_ones();
        for child in node.child_base..node.child_base + child_count {
            self.free_node_contents(child);
        }
        if child_count > 0 {
            self.free_nodes.put(node.child_base, child_count as usize);
        }
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
        let root = trie.nodes[trie.direct[region] as usize];
        assert_eq!(root.children, 1 << 17);
        assert_eq!(root.leaf_runs, (1 << 0) | (1 << 16) | (1 << 32));
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
        trie.rebuild_region(5, 1, &[]);
        assert_eq!(trie.direct[5], DIRECT_LEAF | 1);
        assert_eq!(trie.free_nodes.entries, nodes);
        assert_eq!(trie.free_leaves.entries, leaves);
        trie.rebuild_region(5, 1, &routes);
        assert_eq!((trie.nodes.len(), trie.leaves.len()), (nodes, leaves));
        assert_eq!(trie.free_nodes.entries + trie.free_leaves.entries, 0);
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
