//! One address family's Poptrie (Asai and Ohara, SIGCOMM 2015), read side:
//! a direct-pointing table for the top 18 bits (for IPv6, then a second,
//! uncompressed table for the next 12 bits), then internal nodes whose
//! 64-bit child and leaf bitmaps are indexed by popcount. Each node is one
//! record in a flat `u64` arena holding its bitmaps, its children's record
//! indices and its leaves, so a level costs one random memory access.
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
/// without it the entry is a node record's arena index (below 2^31).
pub(crate) const DIRECT_LEAF: u32 = 1 << 31;
/// Keys looked up together by [`Trie::lookup_batch`].
pub const BATCH_LANES: usize = 32;

/// A node record in the arena, starting at word `at`:
/// - word 0: children bitmap (bit s: slot s continues in a child node);
/// - word 1: leaf-run bitmap (bit s: a run of identical leaves starts at slot
///   s; leaf compression);
/// - then the children's record indices, `u32`, two per word, slot order;
/// - then the leaf runs, [`Leaf`] (`u16`), four per word, slot order.
pub(crate) const HEADER_WORDS: usize = 2;
/// Largest record: 64 children, no leaves.
pub(crate) const MAX_RECORD_WORDS: usize = HEADER_WORDS + 32;

/// Arena storage: cache lines (64 bytes, 64-aligned), so that a record of at
/// most 8 words placed within one line is fetched by one memory access.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub(crate) struct Line(pub(crate) [u64; LINE_WORDS]);

/// Words per cache line.
pub(crate) const LINE_WORDS: usize = 8;

const _: () = assert!(size_of::<Line>() == 64 && align_of::<Line>() == 64);

/// Words of a record with `children` child indices and `runs` leaves.
#[inline]
pub(crate) fn record_words(children: u32, runs: u32) -> usize {
    HEADER_WORDS + (2 * children + runs).div_ceil(4) as usize
}

/// Free arena blocks by exact size in words (see `build.rs`).
#[derive(Debug, Clone)]
pub(crate) struct FreeLists {
    /// `by_size[n]`: start indices of free blocks of exactly `n` words.
    pub(crate) by_size: [Vec<u32>; MAX_RECORD_WORDS + 1],
    /// Words held in free blocks.
    pub(crate) words: usize,
}

impl Default for FreeLists {
    fn default() -> Self {
        Self {
            by_size: std::array::from_fn(|_| Vec::new()),
            words: 0,
        }
    }
}

/// One family's compressed trie plus its leaf value table.
#[derive(Debug, Clone)]
pub struct Trie<F: Family> {
    /// Top 18 bits: a leaf (with [`DIRECT_LEAF`]) or, without it, the root
    /// record's index, or for a family with [`Family::EXPAND_BITS`] the
    /// number of the region's table in `expanded`.
    pub(crate) direct: Box<[u32; DIRECT_LEN]>,
    /// Tables of `2^EXPAND_BITS` entries (a leaf with [`DIRECT_LEAF`], else a
    /// record index at depth `DIRECT_BITS + EXPAND_BITS`), one per region
    /// with longer routes; table `n` starts at entry `n << EXPAND_BITS`.
    pub(crate) expanded: Vec<u32>,
    /// Numbers of the tables of `expanded` no region uses.
    pub(crate) expanded_free: Vec<u32>,
    /// Node records (see [`HEADER_WORDS`]), addressed by word index.
    pub(crate) arena: Vec<Line>,
    /// Words of `arena` handed out so far (the rest of the last line is free).
    pub(crate) arena_words: usize,
    /// Leaf index to match; index 0 ([`NO_ROUTE`]) is `None`.
    pub(crate) values: Vec<Option<FibMatch>>,
    pub(crate) free: FreeLists,
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
            arena: Vec::new(),
            arena_words: 0,
            values: vec![None],
            free: FreeLists::default(),
            prefixes: 0,
            family: PhantomData,
        }
    }
}

impl<F: Family> Trie<F> {
    /// Longest-prefix match of one key.
    #[inline]
    pub fn lookup(&self, key: F::Key) -> Option<FibMatch> {
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
    pub fn lookup_batch(&self, keys: &[F::Key], out: &mut [Option<FibMatch>]) -> usize {
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
            *slot = self.value(self.leaf(key));
        }
        count
    }

    /// One batch of lanes. Each level first loads every active lane's record
    /// header (no load address depends on another load of the same level, so
    /// the cache misses overlap), then takes the step, whose child index or
    /// leaf is in the same record.
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
        if F::EXPAND_BITS > 0 {
            for (state, &key) in state.iter_mut().zip(keys) {
                if *state & DIRECT_LEAF == 0 {
                    *state = self.expanded_entry(*state, key);
                }
            }
        }
        let mut active = [0u8; BATCH_LANES];
        let mut active_count = 0;
        // `% BATCH_LANES` (never changes the index: a count stays below the
        // lane it is written at) lets the compiler drop the bounds checks.
        for (lane, &entry) in state.iter().enumerate() {
            active[active_count % BATCH_LANES] = lane as u8;
            active_count += usize::from(entry & DIRECT_LEAF == 0);
        }
        let mut depth = DIRECT_BITS + F::EXPAND_BITS;
        let mut headers = [(0u64, 0u64); BATCH_LANES];
        while active_count > 0 {
            for (header, &lane) in headers.iter_mut().zip(&active[..active_count]) {
                *header = self.header(state[usize::from(lane) % BATCH_LANES]);
            }
            // Decided once per level, not per lane (IPv6 levels past /64
            // need 128-bit shifts).
            let lanes = (&mut state, &mut active, active_count);
            active_count = if F::slot_in_top_half(depth) {
                self.step_lanes(lanes, &headers, keys, |key| F::top_slot(key, depth))
            } else {
                self.step_lanes(lanes, &headers, keys, |key| F::slot(key, depth))
            };
            depth += STRIDE;
        }
        for (slot, &state) in out.iter_mut().zip(&state) {
            *slot = self.value(state as Leaf);
        }
    }

    /// One level of [`Trie::lookup_lanes`]: steps each of the first
    /// `active_count` lanes of `active` from its record (header in
    /// `headers`, same order) to the next, keeps in `active` those still on
    /// a record, and returns their count.
    #[inline(always)]
    fn step_lanes(
        &self,
        (state, active, active_count): (&mut [u32; BATCH_LANES], &mut [u8; BATCH_LANES], usize),
        headers: &[(u64, u64); BATCH_LANES],
        keys: &[F::Key; BATCH_LANES],
        slot: impl Fn(F::Key) -> u32,
    ) -> usize {
        let mut still_active = 0;
        for index in 0..active_count.min(BATCH_LANES) {
            let lane = usize::from(active[index]) % BATCH_LANES;
            let next = self.step(state[lane], headers[index], slot(keys[lane]));
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
        while state & DIRECT_LEAF == 0 {
            state = self.step(state, self.header(state), F::slot(key, depth));
            depth += STRIDE;
        }
        state as Leaf
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

    /// Word `index` of the arena.
    #[inline(always)]
    pub(crate) fn word(&self, index: usize) -> u64 {
        self.arena[index / LINE_WORDS].0[index % LINE_WORDS]
    }

    /// The header (children bitmap, leaf-run bitmap) of the record at
    /// `record`; both words are in one cache line.
    #[inline(always)]
    fn header(&self, record: u32) -> (u64, u64) {
        let line = &self.arena[record as usize / LINE_WORDS].0;
        let at = record as usize % LINE_WORDS;
        debug_assert!(at + 1 < LINE_WORDS, "records never cross a line");
        (line[at], line[(at + 1) % LINE_WORDS])
    }

    /// One level: from the record at `record` (whose header words are
    /// `children` and `runs`) and the key's `slot` at this level, the child
    /// record's index, or the leaf with [`DIRECT_LEAF`].
    #[inline(always)]
    fn step(&self, record: u32, (children, runs): (u64, u64), slot: u32) -> u32 {
        let bit = 1u64 << slot;
        let at = record as usize + HEADER_WORDS;
        if children & bit != 0 {
            // Children before this slot: this child's position.
            let child = (children & (bit - 1)).count_ones();
            let word = self.word(at + (child / 2) as usize);
            (word >> (32 * (child & 1))) as u32
        } else {
            // Leaf runs started up to this slot, minus one: this slot's run.
            // A node without children (every IPv4 node of a table without
            // prefixes longer than /24) skips counting its child indices.
            let run = (runs & (bit | (bit - 1))).count_ones() - 1;
            let unit = if children == 0 {
                run
            } else {
                2 * children.count_ones() + run
            };
            let word = self.word(at + (unit / 4) as usize);
            DIRECT_LEAF | ((word >> (16 * (unit & 3))) as u32 & 0xffff)
        }
    }

    #[inline(always)]
    pub(crate) fn value(&self, leaf: Leaf) -> Option<FibMatch> {
        self.values.get(usize::from(leaf)).copied().flatten()
    }

    /// Prefixes installed.
    pub fn prefixes(&self) -> usize {
        self.prefixes
    }

    /// The child record indices of the record at `at`.
    pub(crate) fn children_of(&self, at: u32) -> impl Iterator<Item = u32> + '_ {
        let at = at as usize;
        let count = self.word(at).count_ones() as usize;
        (0..count).map(move |child| {
            let word = self.word(at + HEADER_WORDS + child / 2);
            (word >> (32 * (child & 1))) as u32
        })
    }

    /// Size and shape of the trie.
    pub fn stats(&self) -> TrieStats {
        let mut stats = TrieStats {
            family: F::NAME,
            prefixes: self.prefixes,
            direct_bytes: size_of_val(&*self.direct) + size_of_val(&*self.expanded),
            node_bytes: self.arena.len() * size_of::<Line>(),
            value_bytes: self.values.len() * size_of::<Option<FibMatch>>(),
            free_bytes: self.free.words * size_of::<u64>(),
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
            let (leaves, records): (Vec<u32>, Vec<u32>) =
                entries.partition(|&entry| entry & DIRECT_LEAF != 0);
            stats.levels.push(LevelStats {
                depth,
                bits: F::EXPAND_BITS,
                nodes: tables.len(),
                leaf_runs: leaves.len(),
            });
            level = records;
            depth += F::EXPAND_BITS;
        }
        while !level.is_empty() {
            let leaf_runs = level
                .iter()
                .map(|&at| self.word(at as usize + 1).count_ones() as usize)
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

/// Size and shape of one family's trie (see [`Trie::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrieStats {
    /// "IPv4" or "IPv6".
    pub family: &'static str,
    /// Prefixes installed.
    pub prefixes: usize,
    /// The direct-pointing tables (the top one and IPv6's expanded ones).
    pub direct_bytes: usize,
    /// The node record arena (bitmaps, child indices, leaves), free blocks
    /// and line padding included.
    pub node_bytes: usize,
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
    /// [`Family::EXPAND_BITS`] for IPv6's expanded tables, [`STRIDE`] for a
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
        self.direct_bytes + self.node_bytes + self.value_bytes
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
