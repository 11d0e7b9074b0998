//! Target `fib`: arbitrary sequences of add, withdraw, publish and lookup on
//! an [`erdp::fib::FibWriter`] (IPv4 and IPv6) against a naive reference
//! longest-prefix match (a linear scan for the longest containing prefix).
//!
//! Oracles: every staged change returns the group the reference had;
//! prefixes with host bits set are refused and change nothing; after each
//! publish the new version answers every probe like the reference (single
//! and batch lookups, the matched prefix contains the address), its prefix
//! counts agree, the generation moves by one exactly when something changed,
//! and versions held by readers stay as they were.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use erdp::fib::{Fib, FibError, FibMatch, FibWriter, NextHopGroupId};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Anchors used when the input gives none: the edges of the address space
/// and a private prefix.
const DEFAULT_V4_ANCHORS: [u32; 3] = [0, u32::MAX, 0x0a00_0000];
const DEFAULT_V6_ANCHORS: [u128; 3] = [0, u128::MAX, 0x2001_0db8 << 96];
/// Anchors and held versions kept per case (the rest are ignored), so one
/// input stays cheap.
const MAX_ANCHORS: usize = 8;
const MAX_HELD: usize = 4;

/// Address family of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Family {
    V4,
    V6,
}

/// One step. Prefixes and destinations derive from a few anchor addresses
/// so that routes overlap deeply; `len` is taken modulo the family's width
/// plus one, `anchor` modulo the anchor count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum FibOp {
    /// Stage `anchor/len -> group`.
    Add {
        family: Family,
        anchor: u8,
        len: u8,
        group: u8,
    },
    /// Stage the withdrawal of `anchor/len`.
    Withdraw { family: Family, anchor: u8, len: u8 },
    /// Stage `anchor/len` without clearing host bits: refused exactly when
    /// host bits are set.
    AddUnmasked {
        family: Family,
        anchor: u8,
        len: u8,
        group: u8,
    },
    /// Publish the staged changes and check the new version.
    Publish,
    /// A reader keeps the current version (checked again at each publish).
    Hold,
    /// Look up `anchor` with bit `flip` flipped (no flip past the width) in
    /// the current version.
    Lookup {
        family: Family,
        anchor: u8,
        flip: u8,
    },
}

/// A whole fuzz case.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct FibCase {
    pub v4_anchors: Vec<u32>,
    pub v6_anchors: Vec<u128>,
    pub ops: Vec<FibOp>,
}

/// The fuzz entry: decodes a [`FibCase`] and checks it.
///
/// The writer lives for the whole process, as a router's does, and every
/// input leaves it empty again: a new `FibWriter` costs two 2^18-entry
/// route arrays per family, which under coverage instrumentation took about
/// 14 ms, 20 times the cost of a typical input. Each input first checks
/// that the table it inherits is empty, so its oracles never depend on the
/// inputs before it; `check` (the tests) uses a fresh writer.
pub fn run(data: &[u8]) {
    thread_local! {
        static WRITER: RefCell<FibWriter> = RefCell::new(FibWriter::new());
    }
    if let Ok(case) = FibCase::arbitrary_take_rest(Unstructured::new(data)) {
        WRITER.with(|writer| check_with(&mut writer.borrow_mut(), &case));
    }
}

/// The obviously correct longest-prefix match: a map of prefixes scanned
/// linearly for the longest one containing the address. Keys are the
/// address left-aligned in 128 bits and the length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NaiveLpm {
    v4: BTreeMap<(u128, u8), u32>,
    v6: BTreeMap<(u128, u8), u32>,
}

impl NaiveLpm {
    fn table(&mut self, family: Family) -> &mut BTreeMap<(u128, u8), u32> {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    /// Sets a prefix (host bits clear); returns the previous value.
    pub fn insert(&mut self, family: Family, wide: u128, len: u8, value: u32) -> Option<u32> {
        self.table(family).insert((wide, len), value)
    }

    /// Removes a prefix; returns its value.
    pub fn remove(&mut self, family: Family, wide: u128, len: u8) -> Option<u32> {
        self.table(family).remove(&(wide, len))
    }

    /// (value, prefix length) of the longest prefix containing `wide`.
    pub fn lookup(&self, family: Family, wide: u128) -> Option<(u32, u8)> {
        let table = match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        table
            .iter()
            .filter(|&(&(prefix, len), _)| wide & mask(len) == prefix)
            .max_by_key(|&(&(_, len), _)| len)
            .map(|(&(_, len), &value)| (value, len))
    }

    /// Prefix counts (IPv4, IPv6).
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// No prefix at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// Left-aligned mask of `len` bits.
fn mask(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// The prefix length an operation's `len` byte stands for: bytes below 224
/// give /18 and longer (every length of the family), the others the
/// lengths below /18. A change to a prefix shorter than /18 dirties every
/// /18 region it covers (up to 2^18 for a /0), so the next publish rebuilds
/// them all; that is most of what such an input costs, and this mapping
/// keeps those changes to about one in eight.
pub fn prefix_len(byte: u8, family: Family) -> u8 {
    match byte.checked_sub(224) {
        None => 18 + byte % (width(family) - 17),
        Some(short) => short % 18,
    }
}

/// The `len` byte that stands for prefix length `len` (the inverse of
/// [`prefix_len`] for lengths the family has).
pub fn len_byte(len: u8, family: Family) -> u8 {
    let len = len.min(width(family));
    if len >= 18 { len - 18 } else { 224 + len }
}

fn width(family: Family) -> u8 {
    match family {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

/// A left-aligned address as an `IpAddr` of its family.
fn address(family: Family, wide: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from((wide >> 96) as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(wide)),
    }
}

/// `wide/len` as an `IpNet` (host bits as given).
fn net(family: Family, wide: u128, len: u8) -> IpNet {
    match address(family, wide) {
        IpAddr::V4(addr) => IpNet::V4(Ipv4Net::new(addr, len.min(32)).unwrap_or_default()),
        IpAddr::V6(addr) => IpNet::V6(Ipv6Net::new(addr, len.min(128)).unwrap_or_default()),
    }
}

/// The case's anchors, left-aligned, per family.
struct Anchors {
    v4: Vec<u128>,
    v6: Vec<u128>,
}

impl Anchors {
    fn new(case: &FibCase) -> Self {
        let v4: Vec<u32> = if case.v4_anchors.is_empty() {
            DEFAULT_V4_ANCHORS.to_vec()
        } else {
            case.v4_anchors.iter().take(MAX_ANCHORS).copied().collect()
        };
        let v6: Vec<u128> = if case.v6_anchors.is_empty() {
            DEFAULT_V6_ANCHORS.to_vec()
        } else {
            case.v6_anchors.iter().take(MAX_ANCHORS).copied().collect()
        };
        Anchors {
            v4: v4.into_iter().map(|a| u128::from(a) << 96).collect(),
            v6,
        }
    }

    fn get(&self, family: Family, index: u8) -> u128 {
        let list = match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        list[usize::from(index) % list.len()]
    }

    /// Destinations probed after every publish: each anchor, each anchor
    /// with one bit flipped, and both ends of the space.
    fn probes(&self, family: Family) -> Vec<u128> {
        let (list, bits) = match family {
            Family::V4 => (&self.v4, 32u32),
            Family::V6 => (&self.v6, 128u32),
        };
        let mut out = vec![0, mask(bits as u8)];
        for &anchor in list {
            out.push(anchor);
            out.extend((0..bits).map(|bit| anchor ^ (1u128 << (127 - bit))));
        }
        out
    }
}

/// A published version a reader holds, with what it must answer.
struct Held {
    fib: Arc<Fib>,
    model: NaiveLpm,
}

/// Runs one case against the reference; panics on the first broken oracle.
pub fn check(case: &FibCase) {
    check_with(&mut FibWriter::new(), case);
}

/// Runs one case on `writer`, which must hold no prefix, and leaves it
/// empty again (every prefix withdrawn and published).
pub fn check_with(writer: &mut FibWriter, case: &FibCase) {
    let anchors = Anchors::new(case);
    let reader = writer.reader();
    let mut staged = NaiveLpm::default();
    let mut published = NaiveLpm::default();
    let mut held: Vec<Held> = Vec::new();
    assert!(
        writer.is_empty() && !writer.has_pending(),
        "the writer does not start empty"
    );
    let mut generation = reader.load().generation();
    check_version(&reader.load(), &published, &anchors, "start");
    // A change was staged since the last publish.
    let mut touched = false;
    for (step, op) in case.ops.iter().enumerate() {
        match *op {
            FibOp::Add {
                family,
                anchor,
                len,
                group,
            }
            | FibOp::AddUnmasked {
                family,
                anchor,
                len,
                group,
            } => {
                let len = prefix_len(len, family);
                let mut wide = anchors.get(family, anchor);
                if matches!(op, FibOp::Add { .. }) {
                    wide &= mask(len);
                }
                let route = Route {
                    family,
                    wide,
                    len,
                    group,
                };
                if wide & mask(len) == wide {
                    add(writer, &mut staged, route, step);
                    touched = true;
                } else {
                    refuse_host_bits(writer, &staged, route, step);
                }
            }
            FibOp::Withdraw {
                family,
                anchor,
                len,
            } => {
                let len = prefix_len(len, family);
                let wide = anchors.get(family, anchor) & mask(len);
                let prefix = net(family, wide, len);
                let got = writer.remove(prefix);
                let want = staged.remove(family, wide, len).map(NextHopGroupId);
                assert_eq!(got, Ok(want), "step {step}: withdraw {prefix}");
                assert_eq!(
                    writer.get(prefix),
                    None,
                    "step {step}: {prefix} still staged"
                );
                touched = true;
            }
            FibOp::Publish => {
                let report = writer.publish();
                let changed = staged != published;
                assert!(
                    report.generation == generation || report.generation == generation + 1,
                    "step {step}: generation jumped from {generation} to {}",
                    report.generation
                );
                assert!(
                    !changed || report.generation == generation + 1,
                    "step {step}: the table changed but the generation stayed {generation}"
                );
                assert!(
                    touched || report.generation == generation,
                    "step {step}: nothing was staged but the generation moved"
                );
                touched = false;
                generation = report.generation;
                published = staged.clone();
                let fib = reader.load_full();
                assert_eq!(
                    fib.generation(),
                    generation,
                    "step {step}: reader generation"
                );
                check_version(&fib, &published, &anchors, &format!("step {step}"));
                for (i, old) in held.iter().enumerate() {
                    let label = format!("step {step}: held version {i}");
                    check_version(&old.fib, &old.model, &anchors, &label);
                }
            }
            FibOp::Hold => {
                if held.len() == MAX_HELD {
                    held.remove(0);
                }
                held.push(Held {
                    fib: reader.load_full(),
                    model: published.clone(),
                });
            }
            FibOp::Lookup {
                family,
                anchor,
                flip,
            } => {
                let mut wide = anchors.get(family, anchor);
                if flip < width(family) {
                    wide ^= 1u128 << (127 - u32::from(flip));
                }
                let fib = reader.load();
                let want = published.lookup(family, wide);
                assert_eq!(
                    lookup(&fib, family, wide),
                    want.map(as_match),
                    "step {step}: lookup {}",
                    address(family, wide)
                );
            }
        }
    }
    let (v4, v6) = staged.len();
    assert_eq!(writer.len(), (v4, v6), "staged prefix counts");
    drop(held);
    for (family, table) in [(Family::V4, &staged.v4), (Family::V6, &staged.v6)] {
        for &(wide, len) in table.keys() {
            let prefix = net(family, wide, len);
            assert!(
                matches!(writer.remove(prefix), Ok(Some(_))),
                "clean-up {prefix}"
            );
        }
    }
    writer.publish();
    check_version(
        &reader.load(),
        &NaiveLpm::default(),
        &anchors,
        "after clean-up",
    );
}

/// A route an operation stages: a left-aligned prefix and its group.
#[derive(Debug, Clone, Copy)]
struct Route {
    family: Family,
    wide: u128,
    len: u8,
    group: u8,
}

fn add(writer: &mut FibWriter, staged: &mut NaiveLpm, route: Route, step: usize) {
    let Route {
        family,
        wide,
        len,
        group,
    } = route;
    let prefix = net(family, wide, len);
    let group_id = NextHopGroupId(u32::from(group));
    let got = writer.insert(prefix, group_id);
    let want = staged
        .insert(family, wide, len, u32::from(group))
        .map(NextHopGroupId);
    assert_eq!(got, Ok(want), "step {step}: add {prefix} -> {group_id}");
    assert_eq!(
        writer.get(prefix),
        Some(group_id),
        "step {step}: get {prefix}"
    );
}

fn refuse_host_bits(writer: &mut FibWriter, staged: &NaiveLpm, route: Route, step: usize) {
    let (family, wide, len) = (route.family, route.wide, route.len);
    let group = route.group;
    let prefix = net(family, wide, len);
    let network = net(family, wide & mask(len), len);
    let before = writer.get(network);
    let got = writer.insert(prefix, NextHopGroupId(u32::from(group)));
    assert_eq!(
        got,
        Err(FibError::HostBitsSet { prefix, network }),
        "step {step}: {prefix} has host bits set"
    );
    assert_eq!(
        writer.get(network),
        before,
        "step {step}: refused {prefix} changed {network}"
    );
    assert_eq!(
        writer.len(),
        staged.len(),
        "step {step}: refused {prefix} changed the counts"
    );
}

fn as_match((group, prefix_len): (u32, u8)) -> FibMatch {
    FibMatch {
        group: NextHopGroupId(group),
        prefix_len,
    }
}

fn lookup(fib: &Fib, family: Family, wide: u128) -> Option<FibMatch> {
    match family {
        Family::V4 => fib.lookup_v4((wide >> 96) as u32),
        Family::V6 => fib.lookup_v6(wide),
    }
}

/// Every probe of both families answers like `model`, one at a time and in
/// a batch; the counts agree.
fn check_version(fib: &Fib, model: &NaiveLpm, anchors: &Anchors, label: &str) {
    let (v4, v6) = model.len();
    assert_eq!(
        (fib.len_v4(), fib.len_v6()),
        (v4, v6),
        "{label}: prefix counts"
    );
    for family in [Family::V4, Family::V6] {
        let probes = anchors.probes(family);
        let mut batch = vec![None; probes.len()];
        let done = match family {
            Family::V4 => {
                let keys: Vec<u32> = probes.iter().map(|&w| (w >> 96) as u32).collect();
                fib.lookup_v4_batch(&keys, &mut batch)
            }
            Family::V6 => fib.lookup_v6_batch(&probes, &mut batch),
        };
        assert_eq!(done, probes.len(), "{label}: batch length");
        for (&wide, &batched) in probes.iter().zip(&batch) {
            let addr = address(family, wide);
            let want = model.lookup(family, wide).map(as_match);
            assert_eq!(lookup(fib, family, wide), want, "{label}: lookup {addr}");
            assert_eq!(batched, want, "{label}: batch lookup {addr}");
            if let Some(found) = want {
                let prefix = found.prefix(addr);
                assert!(prefix.contains(&addr), "{label}: {prefix} lacks {addr}");
                assert_eq!(prefix.prefix_len(), found.prefix_len, "{label}: {addr}");
            }
        }
    }
}
