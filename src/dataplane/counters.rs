//! Node counters without contention: each worker owns a [`CounterSlot`]
//! that only it writes (relaxed loads and stores, no locked instructions);
//! [`NodeCounters`] is the sum of every slot, taken on read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::fate::{Delivery, DropReason, Fate, Outcome, PolicyVerdict};

/// One counter written by a single worker thread.
#[derive(Debug, Default)]
pub(crate) struct Cell(AtomicU64);

impl Cell {
    /// Adds `n`. Only the owning worker writes, so a load and a store
    /// suffice (no read-modify-write instruction).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let value = self.0.load(Ordering::Relaxed);
        self.0.store(value.wrapping_add(n), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Adds every cell of `from` into the same cell of `into`.
fn absorb_cells(into: &[Cell], from: &[Cell]) {
    for (sum, cell) in into.iter().zip(from) {
        sum.add(cell.get());
    }
}

fn cells(n: usize) -> Box<[Cell]> {
    (0..n).map(|_| Cell::default()).collect()
}

/// Outcomes of one class of packets (inputs, or generated packets).
#[derive(Debug)]
pub(crate) struct TrafficCells {
    packets: Cell,
    bytes: Cell,
    forwarded: Cell,
    delivered: Box<[Cell]>,
    dropped: Box<[Cell]>,
}

impl TrafficCells {
    fn new() -> Self {
        Self {
            packets: Cell::default(),
            bytes: Cell::default(),
            forwarded: Cell::default(),
            delivered: cells(Delivery::COUNT),
            dropped: cells(DropReason::COUNT),
        }
    }

    fn absorb(&self, other: &TrafficCells) {
        self.packets.add(other.packets.get());
        self.bytes.add(other.bytes.get());
        self.forwarded.add(other.forwarded.get());
        absorb_cells(&self.delivered, &other.delivered);
        absorb_cells(&self.dropped, &other.dropped);
    }

    #[inline]
    fn count(&self, outcome: Outcome, bytes: usize) {
        self.packets.add(1);
        self.bytes.add(bytes as u64);
        match outcome {
            Outcome::Forwarded(_) => self.forwarded.add(1),
            Outcome::Delivered(kind) => {
                if let Some(cell) = self.delivered.get(kind.index()) {
                    cell.add(1);
                }
            }
            Outcome::Dropped(reason) => {
                if let Some(cell) = self.dropped.get(reason.index()) {
                    cell.add(1);
                }
            }
        }
    }
}

/// Per-tunnel and per-policy counters, packets and bytes.
#[derive(Debug, Default)]
pub(crate) struct PacketsBytes {
    packets: Cell,
    bytes: Cell,
}

impl PacketsBytes {
    fn absorb_all(into: &[PacketsBytes], from: &[PacketsBytes]) {
        for (sum, pair) in into.iter().zip(from) {
            sum.packets.add(pair.packets.get());
            sum.bytes.add(pair.bytes.get());
        }
    }

    #[inline]
    fn add(&self, bytes: usize) {
        self.packets.add(1);
        self.bytes.add(bytes as u64);
    }
}

/// One worker's counters. Aligned to 128 bytes (two cache lines, the
/// adjacent-line prefetcher's pair) so two workers' slots never share a
/// line (false sharing); the per-interface arrays are allocations of their
/// own.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct CounterSlot {
    input: TrafficCells,
    generated: TrafficCells,
    rx: Box<[PacketsBytes]>,
    tx: Box<[PacketsBytes]>,
    encrypted: Box<[PacketsBytes]>,
    decrypted: Box<[PacketsBytes]>,
    policy_encrypted: Box<[Cell]>,
    policy_violations: Box<[Cell]>,
    policy_dropped: Box<[Cell]>,
    icmp_suppressed: Cell,
}

impl CounterSlot {
    pub(crate) fn new(interfaces: usize, policies: usize) -> Self {
        let pairs = |n: usize| (0..n).map(|_| PacketsBytes::default()).collect();
        Self {
            input: TrafficCells::new(),
            generated: TrafficCells::new(),
            rx: pairs(interfaces),
            tx: pairs(interfaces),
            encrypted: pairs(interfaces),
            decrypted: pairs(interfaces),
            policy_encrypted: cells(policies),
            policy_violations: cells(policies),
            policy_dropped: cells(policies),
            icmp_suppressed: Cell::default(),
        }
    }

    /// Counts `packets` frames of `bytes` bytes in all received on
    /// `interface` (a batch at a time).
    #[inline]
    pub(crate) fn received(&self, interface: usize, packets: u64, bytes: usize) {
        if let Some(c) = self.rx.get(interface) {
            c.packets.add(packets);
            c.bytes.add(bytes as u64);
        }
    }

    /// Adds every counter of `other` (a retired worker's slot) into this
    /// one. The caller makes sure only one thread writes `self` meanwhile.
    pub(crate) fn absorb(&self, other: &CounterSlot) {
        self.input.absorb(&other.input);
        self.generated.absorb(&other.generated);
        for (into, from) in [
            (&self.rx, &other.rx),
            (&self.tx, &other.tx),
            (&self.encrypted, &other.encrypted),
            (&self.decrypted, &other.decrypted),
        ] {
            PacketsBytes::absorb_all(into, from);
        }
        absorb_cells(&self.policy_encrypted, &other.policy_encrypted);
        absorb_cells(&self.policy_violations, &other.policy_violations);
        absorb_cells(&self.policy_dropped, &other.policy_dropped);
        self.icmp_suppressed.add(other.icmp_suppressed.get());
    }

    pub(crate) fn icmp_suppressed(&self) {
        self.icmp_suppressed.add(1);
    }

    /// Counts a finished fate. `len` is the frame length as it arrived (an
    /// input) or as built (a generated packet); `sent_len` the length on
    /// the wire when forwarded.
    #[inline]
    pub(crate) fn account(&self, fate: &Fate, generated: bool, len: usize, sent_len: usize) {
        let class = if generated {
            &self.generated
        } else {
            &self.input
        };
        class.count(fate.outcome, len);
        if let Outcome::Forwarded(interface) = fate.outcome
            && let Some(c) = self.tx.get(interface.0 as usize)
        {
            c.add(sent_len);
        }
        if let Some(sa) = fate.decrypted
            && let Some(c) = self.decrypted.get(sa.tunnel.0 as usize)
        {
            c.add(len);
        }
        if let (Some(sa), Outcome::Forwarded(_)) = (fate.encrypted, fate.outcome)
            && let Some(c) = self.encrypted.get(sa.tunnel.0 as usize)
        {
            c.add(sent_len);
        }
        match fate.policy {
            PolicyVerdict::Encrypted(id) => bump(&self.policy_encrypted, id.0),
            PolicyVerdict::Violation(id) => {
                bump(&self.policy_violations, id.0);
                if fate.drop_reason() == Some(DropReason::PolicyViolation) {
                    bump(&self.policy_dropped, id.0);
                }
            }
            PolicyVerdict::Unchecked | PolicyVerdict::NotCovered => {}
        }
    }
}

/// Per-batch sums of the common fate, an input forwarded in plaintext with
/// no SA and no policy covering it, added into the worker's slot once per
/// batch ([`BatchTally::flush`]) instead of once per packet. Every other
/// fate goes through [`CounterSlot::account`].
#[derive(Debug)]
pub(crate) struct BatchTally {
    packets: u64,
    bytes: u64,
    /// Per interface: packets and bytes sent.
    tx: Box<[(u64, u64)]>,
}

impl BatchTally {
    pub(crate) fn new(interfaces: usize) -> Self {
        Self {
            packets: 0,
            bytes: 0,
            tx: vec![(0, 0); interfaces].into(),
        }
    }

    /// Counts `fate` (an input of `len` bytes, `sent_len` on the wire) when
    /// it is the common case; false leaves it to [`CounterSlot::account`].
    #[inline]
    pub(crate) fn count_plain_forward(&mut self, fate: &Fate, len: usize, sent_len: usize) -> bool {
        let Outcome::Forwarded(interface) = fate.outcome else {
            return false;
        };
        if fate.decrypted.is_some()
            || fate.encrypted.is_some()
            || !matches!(
                fate.policy,
                PolicyVerdict::NotCovered | PolicyVerdict::Unchecked
            )
        {
            return false;
        }
        let Some(tx) = self.tx.get_mut(interface.0 as usize) else {
            return false;
        };
        tx.0 += 1;
        tx.1 += sent_len as u64;
        self.packets += 1;
        self.bytes += len as u64;
        true
    }

    /// Adds the batch's sums into `slot` and starts over.
    pub(crate) fn flush(&mut self, slot: &CounterSlot) {
        if self.packets == 0 {
            return;
        }
        let input = &slot.input;
        input.packets.add(self.packets);
        input.bytes.add(self.bytes);
        input.forwarded.add(self.packets);
        for (sums, cells) in self.tx.iter_mut().zip(slot.tx.iter()) {
            if sums.0 > 0 {
                cells.packets.add(sums.0);
                cells.bytes.add(sums.1);
                *sums = (0, 0);
            }
        }
        self.packets = 0;
        self.bytes = 0;
    }
}

fn bump(cells: &[Cell], index: u16) {
    if let Some(c) = cells.get(usize::from(index)) {
        c.add(1);
    }
}

/// Outcomes of one class of packets: packets in, forwarded, delivered and
/// dropped by kind and reason (non-zero ones only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrafficCounters {
    /// Packets of this class.
    pub packets: u64,
    /// Their bytes (as received, or as built).
    pub bytes: u64,
    /// Packets forwarded.
    pub forwarded: u64,
    /// Packets delivered to the node.
    pub delivered: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Deliveries by kind ([`Delivery::as_str`]).
    pub delivered_by_kind: BTreeMap<&'static str, u64>,
    /// Drops by reason ([`DropReason::as_str`]).
    pub dropped_by_reason: BTreeMap<&'static str, u64>,
}

impl TrafficCounters {
    /// packets == forwarded + delivered + dropped.
    pub fn is_conserved(&self) -> bool {
        self.packets == self.forwarded + self.delivered + self.dropped
    }

    /// Drops counted for one reason.
    pub fn dropped_of(&self, reason: DropReason) -> u64 {
        self.dropped_by_reason
            .get(reason.as_str())
            .copied()
            .unwrap_or(0)
    }

    /// Deliveries counted for one kind.
    pub fn delivered_of(&self, kind: Delivery) -> u64 {
        self.delivered_by_kind
            .get(kind.as_str())
            .copied()
            .unwrap_or(0)
    }
}

/// Packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Traffic of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InterfaceCounters {
    /// The interface's name.
    pub name: String,
    /// Frames received (inputs).
    pub rx: Volume,
    /// Frames sent (forwarded inputs and generated packets).
    pub tx: Volume,
    /// Tunnels: packets that left encrypted through it (outer bytes).
    pub encrypted: Volume,
    /// Tunnels: packets decapsulated from it (outer bytes as received).
    pub decrypted: Volume,
}

/// What one must-encrypt policy saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyCounters {
    /// The policy's name.
    pub name: String,
    /// Covered packets that left encrypted.
    pub encrypted: u64,
    /// Covered packets that would have left, or left, in plaintext.
    pub violations: u64,
    /// Violations dropped (the policy fails closed).
    pub dropped: u64,
}

/// Every counter of a node, summed over its workers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeCounters {
    /// Frames given to the node.
    pub input: TrafficCounters,
    /// Packets the node generated (ARP replies, neighbour advertisements,
    /// echo replies, ICMP errors).
    pub generated: TrafficCounters,
    /// Per interface, in interface order.
    pub interfaces: Vec<InterfaceCounters>,
    /// Per policy, in configuration order.
    pub policies: Vec<PolicyCounters>,
    /// ICMP errors not sent because RFC 1812 4.3.2.7 / RFC 4443 2.4(e)
    /// forbid them (about ICMP errors, fragments, multicast, link
    /// broadcasts, bad sources) or no source address was available.
    pub icmp_errors_suppressed: u64,
}

impl NodeCounters {
    /// Sums `slots` into named counters.
    pub(crate) fn sum<'s>(
        slots: impl Iterator<Item = &'s CounterSlot>,
        interface_names: &[String],
        policy_names: &[String],
    ) -> Self {
        let mut totals = RawTotals::new(interface_names.len(), policy_names.len());
        for slot in slots {
            totals.add(slot);
        }
        totals.into_counters(interface_names, policy_names)
    }
}

/// Plain sums, before names are attached.
struct RawTotals {
    input: Vec<u64>,
    generated: Vec<u64>,
    interfaces: Vec<[u64; 8]>,
    policies: Vec<[u64; 3]>,
    icmp_suppressed: u64,
}

/// Layout of a traffic class's sums: packets, bytes, forwarded, then the
/// delivery kinds, then the drop reasons.
const TRAFFIC_HEAD: usize = 3;
const TRAFFIC_LEN: usize = TRAFFIC_HEAD + Delivery::COUNT + DropReason::COUNT;

impl RawTotals {
    fn new(interfaces: usize, policies: usize) -> Self {
        Self {
            input: vec![0; TRAFFIC_LEN],
            generated: vec![0; TRAFFIC_LEN],
            interfaces: vec![[0; 8]; interfaces],
            policies: vec![[0; 3]; policies],
            icmp_suppressed: 0,
        }
    }

    fn add(&mut self, slot: &CounterSlot) {
        for (sums, cells) in [
            (&mut self.input, &slot.input),
            (&mut self.generated, &slot.generated),
        ] {
            let values = [&cells.packets, &cells.bytes, &cells.forwarded]
                .into_iter()
                .chain(cells.delivered.iter())
                .chain(cells.dropped.iter());
            for (sum, cell) in sums.iter_mut().zip(values) {
                *sum += cell.get();
            }
        }
        for (i, sums) in self.interfaces.iter_mut().enumerate() {
            let pairs = [&slot.rx, &slot.tx, &slot.encrypted, &slot.decrypted];
            for (k, pair) in pairs.iter().enumerate() {
                if let Some(c) = pair.get(i) {
                    sums[2 * k] += c.packets.get();
                    sums[2 * k + 1] += c.bytes.get();
                }
            }
        }
        for (i, sums) in self.policies.iter_mut().enumerate() {
            let columns = [
                &slot.policy_encrypted,
                &slot.policy_violations,
                &slot.policy_dropped,
            ];
            for (k, column) in columns.iter().enumerate() {
                sums[k] += column.get(i).map_or(0, Cell::get);
            }
        }
        self.icmp_suppressed += slot.icmp_suppressed.get();
    }

    fn into_counters(self, interface_names: &[String], policy_names: &[String]) -> NodeCounters {
        let volume = |s: &[u64; 8], k: usize| Volume {
            packets: s[2 * k],
            bytes: s[2 * k + 1],
        };
        NodeCounters {
            input: traffic(&self.input),
            generated: traffic(&self.generated),
            interfaces: self
                .interfaces
                .iter()
                .zip(interface_names)
                .map(|(s, name)| InterfaceCounters {
                    name: name.clone(),
                    rx: volume(s, 0),
                    tx: volume(s, 1),
                    encrypted: volume(s, 2),
                    decrypted: volume(s, 3),
                })
                .collect(),
            policies: self
                .policies
                .iter()
                .zip(policy_names)
                .map(|(s, name)| PolicyCounters {
                    name: name.clone(),
                    encrypted: s[0],
                    violations: s[1],
                    dropped: s[2],
                })
                .collect(),
            icmp_errors_suppressed: self.icmp_suppressed,
        }
    }
}

fn traffic(sums: &[u64]) -> TrafficCounters {
    let head = |i: usize| sums.get(i).copied().unwrap_or(0);
    let delivered = sums
        .get(TRAFFIC_HEAD..TRAFFIC_HEAD + Delivery::COUNT)
        .unwrap_or(&[]);
    let dropped = sums.get(TRAFFIC_HEAD + Delivery::COUNT..).unwrap_or(&[]);
    TrafficCounters {
        packets: head(0),
        bytes: head(1),
        forwarded: head(2),
        delivered: delivered.iter().sum(),
        dropped: dropped.iter().sum(),
        delivered_by_kind: Delivery::ALL
            .iter()
            .zip(delivered)
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| (kind.as_str(), *n))
            .collect(),
        dropped_by_reason: DropReason::all()
            .zip(dropped)
            .filter(|(_, n)| **n > 0)
            .map(|(reason, n)| (reason.as_str(), *n))
            .collect(),
    }
}
