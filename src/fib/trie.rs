//! One address family's Poptrie (Asai and Ohara, SIGCOMM 2015), read side:
//! a direct-pointing table for the top 18 bits, then internal nodes whose
//! 64-bit child and leaf bitmaps are indexed by popcount, over flat arenas.
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
/// 16 bits, as in the Poptrie paper, keeps the leaf arrays small.
pub(crate) type Leaf = u16;
/// The leaf of addresses no prefix covers.
pub(crate) const NO_ROUTE: Leaf = 0;
/// Direct-table entry flag: the low 16 bits are a leaf, not a node index.
pub(crate) const DIRECT_LEAF: u32 = 1 << 31;
/// Batch lookup lane state flag: the rest is a position in the leaf arena.
/// Node and leaf indices therefore stay below 2^30.
const LEAF_POSITION: u32 = 1 << 30;
/// Keys looked up together by [`Trie::lookup_batch`].
pub const BATCH_LANES: usize = 32;

/// An internal node: 64 slots, one per value of the next 6 key bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Node {
    /// Bit s set: slot s continues in a child node.
    pub(crate) children: u64,
    /// Bit s set: a run of identical leaves starts at slot s (leaf compression).
    pub(crate) leaf_runs: u64,
    /// Arena index of the first child; children are contiguous, in slot order.
    pub(crate) child_base: u32,
    /// Arena index of the first leaf run; runs are contiguous, in slot order.
    pub(crate) leaf_base: u32,
}

const _: () = assert!(size_of::<Node>() == 24);

/// Counts of allocated-but-free arena entries, by block size (see `build.rs`).
#[derive(Debug, Clone)]
pub(crate) struct FreeLists {
    /// `by_size[n]`: start indices of free blocks of exactly `n` entries.
    pub(crate) by_size: [Vec<u32>; 65],
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
pub struct Trie<F: Family> {
    /// Top 18 bits: a leaf (with [`DIRECT_LEAF`]) or the root node's index.
    pub(crate) direct: Box<[u32; DIRECT_LEN]>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) leaves: Vec<Leaf>,
    /// Leaf index to match; index 0 ([`NO_ROUTE`]) is `None`.
    pub(crate) values: Vec<Option<FibMatch>>,
    pub(crate) free_nodes: FreeLists,
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

/// Mask of bits `0..=slot` of a node bitmap.
#[inline(always)]
fn up_to(slot: u32) -> u64 {
    u64::MAX >> (63 - slot)
}

impl<F: Family> Trie<F> {
    /// Longest-prefix match of one key.
    #[inline]
    pub fn lookup(&self, key: F::Key) -> Option<FibMatch> {
        self.value(self.leaf(key))
    }

    /// Longest-prefix match of many keys: `out[i]` gets the match of `keys[i]`.
    /// Processes `min(keys.len(), out.len())` keys and returns that count.
    ///
    /// Lanes of [`BATCH_LANES`] keys go down the trie level by level, so the
    /// cache misses of different keys overlap instead of queueing behind one
    /// another (and behind mispredicted node-or-leaf branches).
    pub fn lookup_batch(&self, keys: &[F::Key], out: &mut [Option<FibMatch>]) -> usize {
        let count = keys.len().min(out.len());
        let (keys, out) = (&keys[..count], &mut out[..count]);
        let mut key_chunks = keys.chunks_exact(BATCH_LANES);
        let mut out_chunks = out.chunks_exact_mut(BATCH_LANES);
        for (keys, out) in (&mut key_chunks).zip(&mut out_chunks) {
            if let (Ok(keys), Ok(out)) = (keys.try_into(), out.try_into()) {
                self.lookup_lanes(keys, out);
            }
        }
        for (slot, &key) in out_chunks
            .into_remainder()
            .iter_mut()
            .zip(key_chunks.remainder())
        {
            *slot = self.lookup(key);
        }
        count
    }

    /// One batch of lanes. A lane's state is a direct-table leaf
    /// ([`DIRECT_LEAF`]), a node index, or a position in the leaf arena
    /// ([`LEAF_POSITION`]). Each level first issues every active lane's load
    /// (no store address depends on a loaded value, so the loads overlap),
    /// then computes the next states.
    #[inline(always)]
    fn lookup_lanes(
        &self,
        keys: &[F::Key; BATCH_LANES],
        out: &mut [Option<FibMatch>; BATCH_LANES],
    ) {
        let mut state = [0u32; BATCH_LANES];
        for (state, &key) in state.iter_mut().zip(keys) {
            *state = self.direct[F::direct_index(key)];
        }
        let mut active = [0u8; BATCH_LANES];
        let mut active_count = 0;
        for (lane, &entry) in state.iter().enumerate() {
            active[active_count] = lane as u8;
            active_count += usize::from(entry & DIRECT_LEAF == 0);
        }
        let mut depth = DIRECT_BITS;
        let mut fetched = [Node::default(); BATCH_LANES];
        while active_count > 0 {
            for (node, &lane) in fetched.iter_mut().zip(&active[..active_count]) {
                *node = self.nodes[state[usize::from(lane) % BATCH_LANES] as usize];
            }
            let mut still_active = 0;
            for index in 0..active_count {
                let lane = usize::from(active[index]) % BATCH_LANES;
                let node = &fetched[index];
                let slot = F::slot(keys[lane], depth);
                let below = up_to(slot);
                let is_child = node.children & (1 << slot) != 0;
                let child = node.child_base + (node.children & below).count_ones();
                let run = node.leaf_base + (node.leaf_runs & below).count_ones();
                let next = if is_child { child } else { run | LEAF_POSITION };
                state[lane] = next.wrapping_sub(1);
                active[still_active] = lane as u8;
                still_active += usize::from(is_child);
            }
            active_count = still_active;
            depth += STRIDE;
        }
        let mut leaves = [NO_ROUTE; BATCH_LANES];
        for (leaf, &state) in leaves.iter_mut().zip(&state) {
            *leaf = if state & DIRECT_LEAF != 0 {
                state as Leaf
            } else {
                self.leaves[(state & !LEAF_POSITION) as usize]
            };
        }
        for (slot, &leaf) in out.iter_mut().zip(&leaves) {
            *slot = self.value(leaf);
        }
    }

    /// The leaf of a key.
    #[inline(always)]
    pub(crate) fn leaf(&self, key: F::Key) -> Leaf {
        self.resolve(self.direct[F::direct_index(key)], key)
    }

    #[inline(always)]
    fn value(&self, leaf: Leaf) -> Option<FibMatch> {
        self.values.get(usize::from(leaf)).copied().flatten()
    }

    /// Finishes a lookup from the key's direct-table entry.
    #[inline(always)]
    fn resolve(&self, entry: u32, key: F::Key) -> Leaf {
        if entry & DIRECT_LEAF != 0 {
            return entry as Leaf;
        }
        let mut node = &self.nodes[entry as usize];
        let mut depth = DIRECT_BITS;
        loop {
            let slot = F::slot(key, depth);
            let below = up_to(slot);
            if node.children & (1 << slot) != 0 {
                let child = node.child_base + (node.children & below).count_ones() - 1;
                node = &self.nodes[child as usize];
                depth += STRIDE;
            } else {
                let run = node.leaf_base + (node.leaf_runs & below).count_ones() - 1;
                return self.leaves[run as usize];
            }
        }
    }

    /// Prefixes installed.
    pub fn prefixes(&self) -> usize {
        self.prefixes
    }

    /// Size and shape of the trie.
    pub fn stats(&self) -> TrieStats {
        let mut stats = TrieStats {
            family: F::NAME,
            prefixes: self.prefixes,
            direct_bytes: size_of_val(&*self.direct),
            node_bytes: self.nodes.len() * size_of::<Node>(),
            leaf_bytes: self.leaves.len() * size_of::<Leaf>(),
            value_bytes: self.values.len() * size_of::<Option<FibMatch>>(),
            free_bytes: self.free_nodes.entries * size_of::<Node>()
                + self.free_leaves.entries * size_of::<Leaf>(),
            levels: Vec::new(),
        };
        let mut direct_leaves = 0;
        let mut roots = Vec::new();
        for &entry in self.direct.iter() {
            if entry & DIRECT_LEAF != 0 {
                direct_leaves += 1;
            } else {
                roots.push(entry);
            }
        }
        stats.levels.push(LevelStats {
            depth: 0,
            nodes: 1,
            leaf_runs: direct_leaves,
        });
        let mut level = roots;
        let mut depth = DIRECT_BITS;
        while !level.is_empty() {
            let mut next = Vec::new();
            let mut leaf_runs = 0;
            for &index in &level {
                let node = &self.nodes[index as usize];
                leaf_runs += node.leaf_runs.count_ones() as usize;
                next.extend(node.child_base..node.child_base + node.children.count_ones());
            }
            stats.levels.push(LevelStats {
                depth,
                nodes: level.len(),
                leaf_runs,
            });
            level = next;
            depth += STRIDE;
        }
        stats
    }
}

/// Size and shape of one family's trie (see [`Trie::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrieStats {
    /// "IPv4" or "IPv6".
    pub family: &'static str,
    /// Prefixes installed.
    pub prefixes: usize,
    /// The direct-pointing table.
    pub direct_bytes: usize,
    /// The node arena, including free blocks.
    pub node_bytes: usize,
    /// The leaf arena, including free blocks.
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
    /// First key bit this level consumes (0 for the direct table).
    pub depth: u8,
    /// Nodes at this level (1 for the direct table).
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
