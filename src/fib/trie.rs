//! One address family's Poptrie (Asai and Ohara, SIGCOMM 2015), read side:
//! a direct-pointing table for the top 18 bits (for IPv6, then a second,
//! uncompressed table for the next 12 bits), then internal nodes whose
//! 64-bit child and leaf bitmaps are indexed by popcount. Nodes live in one
//! flat arena and their leaves in another, both addressed by `u32` indices;
//! a node's children are consecutive, so the next node's index is a base plus
//! a popcount, known as soon as the node is loaded.
//! Building and patching live in `build.rs`.

use std::marker::PhantomData;

use super::family::{DIRECT_BITS, DIRECT_LEN, Family, STRIDE};
use super::nexthop::NextHopGroupId;

/// What a lookup found: the next-hop group and the length of the prefix that
/// matched (so the matched prefix is the address masked to that length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FibMatch {
    /// The next-hop group to forward to.
    pub group: NextHopGroupId,
    /// Length of the longest matching prefix.
    pub prefix_len: u8,
}

/// A FIB leaf: index into the trie's value table ([`NO_ROUTE`] = no match).
/// 16 bits, as in the Poptrie paper, keeps the leaves small.
pub(crate) type Leaf = u16;
/// The leaf of addresses no prefix covers.
pub(crate) const NO_ROUTE: Leaf = 0;
/// Entry flag (direct table and lookup state): the low 16 bits are a leaf;
/// without it the entry is a node's arena index (below 2^30).
pub(crate) const DIRECT_LEAF: u32 = 1 << 31;
/// Lookup-state flag, with [`DIRECT_LEAF`]: the low 30 bits are the
/// position of the leaf in the leaf arena, not the leaf.
pub(crate) const LEAF_AT: u32 = 1 << 30;
/// The position bits of a state with [`LEAF_AT`].
pub(crate) const LEAF_AT_MASK: u32 = LEAF_AT - 1;
/// Keys looked up together by `Trie::lookup_batch`.
pub const BATCH_LANES: usize = 32;

/// An internal node, in Poptrie's layout: a node's children are consecutive
/// nodes of the arena (slot order), its leaf runs consecutive entries of the
/// leaf arena, so both are found by adding a popcount to a base, and a level
/// costs one memory access for the node (plus one for the leaf at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct TrieNode {
    /// Bit s: slot s continues in a child node.
    pub(crate) children: u64,
    /// Bit s: a run of identical leaves starts at slot s (leaf compression;
    /// slots with children are skipped, so a run continues across them).
    pub(crate) leaf_runs: u64,
    /// Arena index of the child of the lowest child slot.
    pub(crate) child_base: u32,
    /// Leaf arena index of the first run's leaf.
    pub(crate) leaf_base: u32,
}

const _: () = assert!(size_of::<TrieNode>() == 24);

impl TrieNode {
    /// Children of this node.
    #[inline(always)]
    pub(crate) fn child_count(&self) -> u32 {
        self.children.count_ones()
    }

    /// The arena indices of this node's children (its child block).
    pub(crate) fn child_range(&self) -> std::ops::Range<u32> {
        self.child_base..self.child_base + self.child_count()
    }

    /// Leaf runs of this node.
    #[inline(always)]
    pub(crate) fn run_count(&self) -> u32 {
        self.leaf_runs.count_ones()
    }
}

/// Most nodes or leaves one block holds (a node's 64 slots).
pub(crate) const MAX_BLOCK: usize = 64;

/// Free arena blocks by exact size (see `build.rs`).
#[derive(Debug, Clone)]
pub(crate) struct FreeLists {
    /// `by_size[n]`: start indices of free blocks of exactly `n` entries.
    pub(crate) by_size: [Vec<u32>; MAX_BLOCK + 1],
    /// Entries held in free blocks.
    pub(crate) entries: usize,
}

impl Default for FreeLists {
    fn default() -> Self {
        Self {
            by_size: std::array::from_fn(|_| Vec::new()),
            entries: 0,
        }
    }
}

/// One family's compressed trie plus its leaf value table.
#[derive(Debug, Clone)]
pub(crate) struct Trie<F: Family> {
    /// Top 18 bits: a leaf (with [`DIRECT_LEAF`]) or, without it, the root
    /// node's index, or for a family with [`Family::EXPAND_BITS`] the
    /// number of the region's table in `expanded`.
    pub(crate) direct: Box<[u32; DIRECT_LEN]>,
    /// Tables of `2^EXPAND_BITS` entries (a leaf with [`DIRECT_LEAF`], else a
    /// node index at depth `DIRECT_BITS + EXPAND_BITS`), one per region
    /// with longer routes; table `n` starts at entry `n << EXPAND_BITS`.
    pub(crate) expanded: Vec<u32>,
    /// Numbers of the tables of `expanded` no region uses.
    pub(crate) expanded_free: Vec<u32>,
    /// Internal nodes; a child block is allocated per parent.
    pub(crate) nodes: Vec<TrieNode>,
    /// Leaf runs of the nodes; a block per node.
    pub(crate) leaves: Vec<Leaf>,
    /// Leaf index to match; index 0 ([`NO_ROUTE`]) is `None`.
    pub(crate) values: Vec<Option<FibMatch>>,
    /// Free blocks of `nodes`.
    pub(crate) free_nodes: FreeLists,
    /// Free blocks of `leaves`.
    pub(crate) free_leaves: FreeLists,
    /// Prefixes installed.
    pub(crate) prefixes: usize,
    pub(crate) family: PhantomData<F>,
}

impl<F: Family> Default for Trie<F> {
    fn default() -> Self {
        let direct: Box<[u32; DIRECT_LEN]> =
            match vec![DIRECT_LEAF; DIRECT_LEN].into_boxed_slice().try_into() {
                Ok(direct) => direct,
                Err(_) => unreachable!("the vector has DIRECT_LEN entries"),
            };
        Self {
            direct,
            expanded: Vec::new(),
            expanded_free: Vec::new(),
            nodes: Vec::new(),
            leaves: Vec::new(),
            values: vec![None],
            free_nodes: FreeLists::default(),
            free_leaves: FreeLists::default(),
            prefixes: 0,
            family: PhantomData,
        }
    }
}

impl<F: Family> Trie<F> {
    /// Longest-prefix match of one key.
    #[inline]
    pub(crate) fn lookup(&self, key: F::Key) -> Option<FibMatch> {
        // A key the direct table resolves (most random IPv4 keys) stays on
        // the inlined path; only the node levels are dispatched.
        let entry = self.direct[F::direct_index(key)];
        if entry & DIRECT_LEAF != 0 {
            return self.value(entry as Leaf);
        }
        #[cfg(target_arch = "x86_64")]
        if super::cpu::has_bit_instructions() {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has the features of the callee, checked just above.
            return unsafe { self.lookup_bit_instructions(entry, key) };
        }
        self.value(self.leaf_below(entry, key))
    }

    /// [`Trie::lookup`] compiled with [`super::cpu::BIT_FEATURES`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt,bmi1,bmi2")]
    fn lookup_bit_instructions(&self, entry: u32, key: F::Key) -> Option<FibMatch> {
        self.value(self.leaf_below(entry, key))
    }

    /// Longest-prefix match of many keys: `out[i]` gets the match of `keys[i]`.
    /// Processes `min(keys.len(), out.len())` keys and returns that count.
    ///
    /// Lanes of [`BATCH_LANES`] keys go down the trie level by level, so the
    /// cache misses of different keys overlap instead of queueing behind one
    /// another (and behind mispredicted node-or-leaf branches).
    pub(crate) fn lookup_batch(&self, keys: &[F::Key], out: &mut [Option<FibMatch>]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if super::cpu::has_bit_instructions() {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has the features of the callee, checked just above.
            return unsafe { self.lookup_batch_bit_instructions(keys, out) };
        }
        self.lookup_batch_portable(keys, out)
    }

    /// [`Trie::lookup_batch`] compiled with [`super::cpu::BIT_FEATURES`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt,bmi1,bmi2")]
    fn lookup_batch_bit_instructions(
        &self,
        keys: &[F::Key],
        out: &mut [Option<FibMatch>],
    ) -> usize {
        self.lookup_batch_portable(keys, out)
    }

    /// [`Trie::lookup_batch`] for any CPU; inlined into the dispatched copies.
    #[inline(always)]
    pub(crate) fn lookup_batch_portable(
        &self,
        keys: &[F::Key],
        out: &mut [Option<FibMatch>],
    ) -> usize {
        let count = keys.len().min(out.len());
        let (keys, out) = (&keys[..count], &mut out[..count]);
        let mut key_chunks = keys.chunks_exact(BATCH_LANES);
        let mut out_chunks = out.chunks_exact_mut(BATCH_LANES);
        let mut nodes = [TrieNode::default(); BATCH_LANES];
        for (keys, out) in (&mut key_chunks).zip(&mut out_chunks) {
            if let (Ok(keys), Ok(out)) = (keys.try_into(), out.try_into()) {
                self.lookup_lanes(keys, out, &mut nodes);
            }
        }
        for (slot, &key) in out_chunks
            .into_remainder()
            .iter_mut()
            .zip(key_chunks.remainder())
        {
            *slot = self.value(self.leaf(key));
        }
        count
    }

    /// One batch of lanes. The direct table is read for every lane first,
    /// then the expanded tables for those that need them. Each node level
    /// then loads every active lane's node (no load address depends on
    /// another load of the same level, so the cache misses overlap) before
    /// taking the branch-free steps (see [`Trie::step`]); a finished lane
    /// holds its leaf's position, and the leaves are read at the end.
    #[inline(always)]
    fn lookup_lanes(
        &self,
        keys: &[F::Key; BATCH_LANES],
        out: &mut [Option<FibMatch>; BATCH_LANES],
        nodes: &mut [TrieNode; BATCH_LANES],
    ) {
        let mut state = [0u32; BATCH_LANES];
        for (state, &key) in state.iter_mut().zip(keys) {
            *state = self.direct[F::direct_index(key)];
        }
        let mut active = [0u8; BATCH_LANES];
        let mut active_count = 0;
        for (lane, (state, &key)) in state.iter_mut().zip(keys).enumerate() {
            let mut entry = *state;
            if F::EXPAND_BITS > 0 && entry & DIRECT_LEAF == 0 {
                entry = self.expanded_entry(entry, key);
                *state = entry;
            }
            // `% BATCH_LANES` (never changes the index: a count stays below
            // the lane it is written at) lets the compiler drop the bounds
            // checks.
            active[active_count % BATCH_LANES] = lane as u8;
            active_count += usize::from(entry & DIRECT_LEAF == 0);
        }
        let mut depth = DIRECT_BITS + F::EXPAND_BITS;
        while active_count > 0 {
            for (node, &lane) in nodes.iter_mut().zip(&active[..active_count]) {
                *node = self.node(state[usize::from(lane) % BATCH_LANES]);
            }
            // Decided once per level, not per lane (IPv6 levels past /64
            // need 128-bit shifts).
            let lanes = (&mut state, &mut active, active_count);
            active_count = if F::slot_in_top_half(depth) {
                self.step_lanes(lanes, nodes, keys, |key| F::top_slot(key, depth))
            } else {
                self.step_lanes(lanes, nodes, keys, |key| F::slot(key, depth))
            };
            depth += STRIDE;
        }
        for (slot, &state) in out.iter_mut().zip(&state) {
            *slot = self.value(self.resolve(state));
        }
    }

    /// One level of [`Trie::lookup_lanes`]: steps each of the first
    /// `active_count` lanes of `active` from its node (in `nodes`, same
    /// order) to the next, keeps in `active` those still on a node, and
    /// returns their count.
    #[inline(always)]
    fn step_lanes(
        &self,
        (state, active, active_count): (&mut [u32; BATCH_LANES], &mut [u8; BATCH_LANES], usize),
        nodes: &[TrieNode; BATCH_LANES],
        keys: &[F::Key; BATCH_LANES],
        slot: impl Fn(F::Key) -> u32,
    ) -> usize {
        let mut still_active = 0;
        for index in 0..active_count.min(BATCH_LANES) {
            let lane = usize::from(active[index]) % BATCH_LANES;
            let next = self.step(nodes[index], slot(keys[lane]));
            state[lane] = next;
            active[still_active % BATCH_LANES] = lane as u8;
            still_active += usize::from(next & DIRECT_LEAF == 0);
        }
        still_active
    }

    /// The leaf of a key.
    #[inline(always)]
    pub(crate) fn leaf(&self, key: F::Key) -> Leaf {
        self.leaf_below(self.direct[F::direct_index(key)], key)
    }

    /// The leaf of a key whose direct-table entry is `entry`.
    #[inline(always)]
    fn leaf_below(&self, entry: u32, key: F::Key) -> Leaf {
        let mut state = entry;
        let mut depth = DIRECT_BITS;
        if F::EXPAND_BITS > 0 && state & DIRECT_LEAF == 0 {
            state = self.expanded_entry(state, key);
            depth += F::EXPAND_BITS;
        }
        if state & DIRECT_LEAF != 0 {
            return state as Leaf;
        }
        // One key: each level waits for the last, so a branch (predicted
        // or not) costs less than computing both outcomes.
        loop {
            let (is_child, child, leaf_at) = Self::slot_in(self.node(state), F::slot(key, depth));
            if !is_child {
                return self.leaf_at(leaf_at);
            }
            state = child;
            depth += STRIDE;
        }
    }

    /// The entry of `key` in expanded table `table` (no route if the table
    /// does not exist, which the builder never lets happen).
    #[inline(always)]
    fn expanded_entry(&self, table: u32, key: F::Key) -> u32 {
        let index = (table as usize) << F::EXPAND_BITS | F::expand_index(key);
        self.expanded
            .get(index)
            .copied()
            .unwrap_or(DIRECT_LEAF | u32::from(NO_ROUTE))
    }

    /// Entries of expanded table `table`.
    pub(crate) fn expanded_table(&self, table: u32) -> &[u32] {
        let start = (table as usize) << F::EXPAND_BITS;
        self.expanded
            .get(start..start + (1 << F::EXPAND_BITS))
            .unwrap_or_default()
    }

    /// The node at arena index `at` (an empty one, whose every slot is
    /// [`NO_ROUTE`], past the end, which the builder never lets happen).
    #[inline(always)]
    pub(crate) fn node(&self, at: u32) -> TrieNode {
        self.nodes.get(at as usize).copied().unwrap_or_default()
    }

    /// One level: from `node` and the key's `slot` at this level, the child
    /// node's index, or the position of the slot's leaf in the leaf arena
    /// with [`DIRECT_LEAF`] and [`LEAF_AT`]. Both are computed and one picked
    /// without a branch (which slot a key takes is unpredictable) and
    /// without loading the leaf ([`Trie::resolve`] does, once per lookup).
    #[inline(always)]
    fn step(&self, node: TrieNode, slot: u32) -> u32 {
        let (is_child, child, leaf_at) = Self::slot_in(node, slot);
        std::hint::select_unpredictable(is_child, child, DIRECT_LEAF | LEAF_AT | leaf_at)
    }

    /// Where the key's `slot` of `node` leads: whether to a child, the
    /// child's index (if so), and the position of its leaf in the leaf arena
    /// (if not; below 2^30).
    #[inline(always)]
    fn slot_in(node: TrieNode, slot: u32) -> (bool, u32, u32) {
        let bit = 1u64 << slot;
        let below = bit - 1;
        // Children before this slot: this child's position in the block.
        let child = node.child_base + (node.children & below).count_ones();
        // Leaf runs started up to this slot: this slot's run, counted from 1.
        let run = (node.leaf_runs & (bit | below)).count_ones();
        let leaf_at = node.leaf_base.wrapping_add(run).wrapping_sub(1) & LEAF_AT_MASK;
        (node.children & bit != 0, child, leaf_at)
    }

    /// The leaf at position `at` of the leaf arena.
    #[inline(always)]
    fn leaf_at(&self, at: u32) -> Leaf {
        self.leaves.get(at as usize).copied().unwrap_or(NO_ROUTE)
    }

    /// The leaf a finished lookup state stands for: a leaf with
    /// [`DIRECT_LEAF`], or with [`LEAF_AT`] too, the leaf at that position of
    /// the leaf arena. The arena is read either way and one value picked
    /// without a branch (a plain leaf reads a low, cached position).
    #[inline(always)]
    fn resolve(&self, state: u32) -> Leaf {
        let stored = self.leaf_at(state & LEAF_AT_MASK);
        std::hint::select_unpredictable(state & LEAF_AT != 0, stored, state as Leaf)
    }

    #[inline(always)]
    pub(crate) fn value(&self, leaf: Leaf) -> Option<FibMatch> {
        self.values.get(usize::from(leaf)).copied().flatten()
    }

    /// Prefixes installed.
    pub(crate) fn prefixes(&self) -> usize {
        self.prefixes
    }

    /// The arena indices of the children of the node at `at`.
    pub(crate) fn children_of(&self, at: u32) -> std::ops::Range<u32> {
        self.node(at).child_range()
    }

    /// Size and shape of the trie.
    pub(crate) fn stats(&self) -> TrieStats {
        let mut stats = TrieStats {
            family: F::NAME,
            prefixes: self.prefixes,
            direct_bytes: size_of_val(&*self.direct) + size_of_val(&*self.expanded),
            node_bytes: self.nodes.len() * size_of::<TrieNode>(),
            leaf_bytes: self.leaves.len() * size_of::<Leaf>(),
            value_bytes: self.values.len() * size_of::<Option<FibMatch>>(),
            free_bytes: self.free_nodes.entries * size_of::<TrieNode>()
                + self.free_leaves.entries * size_of::<Leaf>(),
            levels: Vec::new(),
        };
        let mut level = Vec::new();
        let mut direct_leaves = 0;
        for &entry in self.direct.iter() {
            if entry & DIRECT_LEAF != 0 {
                direct_leaves += 1;
            } else {
                level.push(entry);
            }
        }
        stats.levels.push(LevelStats {
            depth: 0,
            bits: DIRECT_BITS,
            nodes: 1,
            leaf_runs: direct_leaves,
        });
        let mut depth = DIRECT_BITS;
        if F::EXPAND_BITS > 0 {
            let tables = std::mem::take(&mut level);
            let entries = tables.iter().flat_map(|&table| self.expanded_table(table));
            let (leaves, roots): (Vec<u32>, Vec<u32>) =
                entries.partition(|&entry| entry & DIRECT_LEAF != 0);
            stats.levels.push(LevelStats {
                depth,
                bits: F::EXPAND_BITS,
                nodes: tables.len(),
                leaf_runs: leaves.len(),
            });
            level = roots;
            depth += F::EXPAND_BITS;
        }
        while !level.is_empty() {
            let leaf_runs = level
                .iter()
                .map(|&at| self.node(at).run_count() as usize)
                .sum();
            stats.levels.push(LevelStats {
                depth,
                bits: STRIDE,
                nodes: level.len(),
                leaf_runs,
            });
            level = level.iter().flat_map(|&at| self.children_of(at)).collect();
            depth += STRIDE;
        }
        stats
    }
}

/// Size and shape of one family's trie (see `Trie::stats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrieStats {
    /// "IPv4" or "IPv6".
    pub family: &'static str,
    /// Prefixes installed.
    pub prefixes: usize,
    /// The direct-pointing tables (the top one and IPv6's expanded ones).
    pub direct_bytes: usize,
    /// The node arena, free blocks included.
    pub node_bytes: usize,
    /// The leaf arena (the nodes' leaf runs), free blocks included.
    pub leaf_bytes: usize,
    /// The leaf value table.
    pub value_bytes: usize,
    /// Arena bytes in free blocks (left by updates, reused by later ones).
    pub free_bytes: usize,
    /// Per level: level 0 is the direct table, then one per node depth.
    pub levels: Vec<LevelStats>,
}

/// One level of the trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelStats {
    /// First key bit this level consumes (0 for the direct table, 18 for
    /// IPv6's expanded tables).
    pub depth: u8,
    /// Key bits this level resolves: [`DIRECT_BITS`] for the direct table,
    /// `Family::EXPAND_BITS` for IPv6's expanded tables, [`STRIDE`] for a
    /// node level.
    pub bits: u8,
    /// Nodes at this level (1 for the direct table; expanded tables).
    pub nodes: usize,
    /// Leaf runs stored at this level (direct-table leaves for level 0).
    pub leaf_runs: usize,
}

impl TrieStats {
    /// Total bytes the lookup structures occupy.
    pub fn bytes(&self) -> usize {
        self.direct_bytes + self.node_bytes + self.leaf_bytes + self.value_bytes
    }

    /// Bytes per installed prefix (0 when empty).
    pub fn bytes_per_prefix(&self) -> f64 {
        if self.prefixes == 0 {
            0.0
        } else {
            self.bytes() as f64 / self.prefixes as f64
        }
    }
}
