//! [`FlowTable`]: fates folded by inner flow, bounded by a cap, and the
//! report views of it ([`FlowReport`], [`ViolationReport`]) with interface
//! and policy names resolved. Per packet: one compare against the last
//! flow seen (a run of one flow's packets skips the hash), else one
//! foldhash lookup of a [`PackedFlowKey`] in an index of `u32` positions
//! into fixed-size flow records; no allocation, no string.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::packed_key::PackedFlowKey;
use super::tally::{Tally, Way, WayLog};
use super::view::{
    FlowId, FlowReport, FlowTotals, PathReport, UntrackedFlows, UntrackedViolations,
    ViolationReport,
};
use crate::dataplane::{Fate, Node, PolicyId, PolicyVerdict};
use crate::fib::InterfaceId;

/// What a flow did so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowState {
    pub(super) key: PackedFlowKey,
    pub(super) first_frame: u64,
    pub(super) tally: Tally,
}

const _: () = assert!(size_of::<FlowState>() <= 112);

/// A violation's identity: the flow, the policy, the plain egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ViolationKey {
    pub(super) flow: PackedFlowKey,
    policy: PolicyId,
    egress: Option<InterfaceId>,
}

/// A policy violation: a covered flow that left (or would have left, when
/// the policy fails closed) on a plain interface.
#[derive(Debug, Clone, Copy)]
pub(super) struct Violation {
    pub(super) key: ViolationKey,
    first_frame: u64,
    pub(super) packets: u64,
    dropped: u64,
}

/// Flows a report keeps by default (`FlowTable::with_cap`).
pub const DEFAULT_FLOW_CAP: usize = 100_000;

/// The largest cap: flow positions are `u32`.
const MAX_CAP: usize = u32::MAX as usize;

/// Where the last flow seen is kept: its position, or untracked.
#[derive(Debug, Clone, Copy)]
struct Recent {
    key: PackedFlowKey,
    at: Option<u32>,
}

/// Fates folded by flow, in first-seen order (so a report does not depend
/// on hashing or on how many workers processed the packets). Memory is
/// bounded: the first `cap` flows are kept one by one, the packets of
/// later flows are folded into one untracked aggregate, so totals stay
/// exact; violations are kept one by one up to the same cap, the rest
/// counted.
#[derive(Debug)]
pub struct FlowTable {
    cap: usize,
    index: HashMap<PackedFlowKey, u32, FixedState>,
    pub(super) flows: Vec<FlowState>,
    pub(super) ways: WayLog,
    untracked: Tally,
    recent: Option<Recent>,
    pub(super) violations: Vec<Violation>,
    violation_index: HashMap<ViolationKey, u32, FixedState>,
    untracked_violations: UntrackedViolations,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::with_cap(DEFAULT_FLOW_CAP)
    }
}

impl FlowTable {
    /// An empty table keeping [`DEFAULT_FLOW_CAP`] flows.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table keeping at most `cap` flows (and `cap` violations)
    /// one by one (at most 2^32 - 1).
    pub(crate) fn with_cap(cap: usize) -> Self {
        Self {
            cap: cap.min(MAX_CAP),
            index: HashMap::default(),
            flows: Vec::new(),
            ways: WayLog::default(),
            untracked: Tally::default(),
            recent: None,
            violations: Vec::new(),
            violation_index: HashMap::default(),
            untracked_violations: UntrackedViolations::default(),
        }
    }

    /// The most flows kept one by one.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Number of flows kept one by one.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow was seen.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Number of distinct violations (flow, policy, egress) kept.
    pub fn violation_count(&self) -> usize {
        self.violations.len()
    }

    /// Folds one fate in: `frame` is the input frame number (from 1),
    /// `bytes_in` the frame's length as received and `bytes_out` as sent.
    /// Frames without an IP flow (ARP, malformed) are not flows.
    #[inline]
    pub fn observe(&mut self, fate: &Fate, frame: u64, bytes_in: usize, bytes_out: usize) {
        self.observe_marked(fate, frame, bytes_in, bytes_out, None);
    }

    /// [`FlowTable::observe`] with the outer DSCP of the frame as sent,
    /// given only when it left encrypted (kept per path:
    /// [`super::WayCount::outer_dscp`]).
    #[inline]
    pub(crate) fn observe_marked(
        &mut self,
        fate: &Fate,
        frame: u64,
        bytes_in: usize,
        bytes_out: usize,
        outer_dscp: Option<u8>,
    ) {
        let Some(flow) = &fate.flow else {
            return;
        };
        let key = PackedFlowKey::pack(flow);
        let at = match self.recent {
            Some(recent) if recent.key == key => recent.at,
            _ => {
                let at = self.position(key, frame);
                self.recent = Some(Recent { key, at });
                at
            }
        };
        let tally = match at.and_then(|at| self.flows.get_mut(at as usize)) {
            Some(flow) => &mut flow.tally,
            None => &mut self.untracked,
        };
        tally.observe(&mut self.ways, fate, bytes_in, bytes_out, outer_dscp);
        if let PolicyVerdict::Violation(policy) = fate.policy {
            let egress = fate
                .egress()
                .or_else(|| fate.route.map(|r| r.next_hop.interface));
            let key = ViolationKey {
                flow: key,
                policy,
                egress,
            };
            self.violation(key, frame, fate.drop_reason().is_some());
        }
    }

    /// The position of flow `key`, added (first seen at `frame`) while
    /// under the cap; `None` beyond it.
    fn position(&mut self, key: PackedFlowKey, frame: u64) -> Option<u32> {
        if let Some(at) = self.index.get(&key) {
            return Some(*at);
        }
        if self.flows.len() >= self.cap {
            return None;
        }
        let at = u32::try_from(self.flows.len()).ok()?;
        self.index.insert(key, at);
        self.flows.push(FlowState {
            key,
            first_frame: frame,
            tally: Tally::default(),
        });
        Some(at)
    }

    fn violation(&mut self, key: ViolationKey, frame: u64, dropped: bool) {
        let at = match self.violation_index.get(&key) {
            Some(at) => *at as usize,
            None if self.violations.len() < self.cap => {
                let at = self.violations.len();
                self.violation_index.insert(key, at as u32);
                self.violations.push(Violation {
                    key,
                    first_frame: frame,
                    packets: 0,
                    dropped: 0,
                });
                at
            }
            None => {
                let rest = &mut self.untracked_violations;
                rest.packets += 1;
                rest.dropped += u64::from(dropped);
                return;
            }
        };
        if let Some(violation) = self.violations.get_mut(at) {
            violation.packets += 1;
            violation.dropped += u64::from(dropped);
        }
    }

    /// The flows kept, in first-seen order, with names from `node`.
    pub fn flows(&self, node: &Node) -> Vec<FlowReport> {
        self.flows
            .iter()
            .map(|f| FlowReport {
                id: FlowId::from(&f.key.unpack()),
                first_frame: f.first_frame,
                totals: self.tally_report(&f.tally, node),
            })
            .collect()
    }

    /// The packets of flows beyond the cap, folded together.
    pub(crate) fn untracked(&self, node: &Node) -> UntrackedFlows {
        UntrackedFlows {
            totals: self.tally_report(&self.untracked, node),
            violations: self.untracked_violations,
        }
    }

    /// The violations kept, in first-seen order, with names from `node`.
    pub fn violations(&self, node: &Node) -> Vec<ViolationReport> {
        self.violations
            .iter()
            .map(|v| ViolationReport {
                policy: policy_name(node, v.key.policy),
                id: FlowId::from(&v.key.flow.unpack()),
                egress: v.key.egress.map(|id| interface_name(node, id)),
                first_frame: v.first_frame,
                packets: v.packets,
                dropped: v.dropped,
            })
            .collect()
    }

    fn tally_report(&self, tally: &Tally, node: &Node) -> FlowTotals {
        let mut totals = FlowTotals {
            packets: tally.packets,
            bytes: tally.bytes,
            forwarded: 0,
            delivered: tally.delivered,
            dropped: 0,
            drop_reasons: Default::default(),
            arrived_encrypted_spi: tally.decrypted_spi.map(spi_text),
            paths: Vec::new(),
            policy: tally.verdict.policy().map(|id| policy_name(node, id)),
            verdict: tally.verdict.as_str(),
        };
        for count in self.ways.ways(tally) {
            match count.way {
                Way::Path { egress, encrypted } => {
                    totals.forwarded += count.packets;
                    totals.paths.push(PathReport {
                        egress: interface_name(node, egress),
                        path: if encrypted.is_some() {
                            "encrypted"
                        } else {
                            "plain"
                        },
                        tunnel: encrypted.map(|(t, _)| interface_name(node, t)),
                        spi: encrypted.map(|(_, spi)| spi_text(spi)),
                        packets: count.packets,
                        bytes: count.bytes,
                    });
                }
                Way::Dropped(reason) => {
                    totals.dropped += count.packets;
                    *totals
                        .drop_reasons
                        .entry(reason.as_str().to_owned())
                        .or_default() += count.packets;
                }
            }
        }
        totals
    }
}

fn interface_name(node: &Node, id: InterfaceId) -> String {
    node.interface_name(id)
        .map_or_else(|| format!("#{}", id.0), str::to_owned)
}

fn policy_name(node: &Node, id: PolicyId) -> String {
    node.policy_names()
        .get(usize::from(id.0))
        .cloned()
        .unwrap_or_else(|| format!("#{}", id.0))
}

/// An SPI as reports print it: `0x00001001`.
fn spi_text(spi: u32) -> String {
    format!("0x{spi:08x}")
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use etherparse::IpNumber;

    use super::*;
    use crate::dataplane::{DropReason, Outcome};
    use crate::wire::FlowKey;

    fn key(i: u32) -> FlowKey {
        FlowKey {
            source: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
            destination: IpAddr::V4(Ipv4Addr::new(10, 1, 0, 10)),
            protocol: IpNumber::UDP,
            source_port: 1024,
            destination_port: 53,
        }
    }

    /// Flow `i`'s packet in round `round`: flows are seen in order, each
    /// with `i % 7 + 1` packets spread over rounds; every third flow is
    /// dropped, every fifth violates a policy.
    fn fate(i: u32) -> Fate {
        let outcome = if i.is_multiple_of(3) {
            Outcome::Dropped(DropReason::NoRoute)
        } else {
            Outcome::Forwarded(InterfaceId(1))
        };
        Fate {
            flow: Some(key(i)),
            policy: if i.is_multiple_of(5) {
                PolicyVerdict::Violation(PolicyId(0))
            } else {
                PolicyVerdict::NotCovered
            },
            ..Fate::new(outcome)
        }
    }

    #[test]
    fn the_table_holds_the_cap_and_totals_stay_exact() {
        const FLOWS: u32 = 5_000;
        const CAP: usize = 100;
        let mut table = FlowTable::with_cap(CAP);
        let (mut packets, mut bytes, mut dropped, mut violating) = (0u64, 0u64, 0u64, 0u64);
        let mut frame = 0u64;
        for round in 0..7 {
            for i in 0..FLOWS {
                if round > i % 7 {
                    continue;
                }
                frame += 1;
                let length = 60 + (i % 100) as usize;
                table.observe(&fate(i), frame, length, length);
                packets += 1;
                bytes += length as u64;
                dropped += u64::from(i % 3 == 0);
                violating += u64::from(i % 5 == 0);
            }
        }
        // The bound: flows, violations and their indices stop at the cap.
        assert_eq!(table.flows.len(), CAP);
        assert_eq!(table.index.len(), CAP);
        assert_eq!(table.violations.len(), CAP);
        assert_eq!(table.violation_index.len(), CAP);
        // The kept flows are the first seen, each counted exactly.
        for (i, flow) in table.flows.iter().enumerate() {
            assert_eq!(flow.key.unpack(), key(i as u32));
            assert_eq!(flow.tally.packets, u64::from(i as u32 % 7 + 1));
        }
        // Kept plus untracked give the exact totals.
        let all = table
            .flows
            .iter()
            .map(|f| &f.tally)
            .chain([&table.untracked]);
        let (p, b, d) = all.fold((0, 0, 0), |(p, b, d), t| {
            let drops: u64 = table
                .ways
                .ways(t)
                .filter(|w| matches!(w.way, Way::Dropped(_)))
                .map(|w| w.packets)
                .sum();
            (p + t.packets, b + t.bytes, d + drops)
        });
        assert_eq!((p, b, d), (packets, bytes, dropped));
        let forwarded: u64 = table
            .ways
            .ways(&table.untracked)
            .filter(|w| matches!(w.way, Way::Path { .. }))
            .map(|w| w.packets)
            .sum();
        assert!(forwarded > 0);
        // One way per kept flow (forwarded or dropped) and two for the
        // untracked aggregate: the log is bounded with the table.
        assert_eq!(table.ways.len(), CAP + 2);
        assert_eq!(
            table.untracked.verdict,
            PolicyVerdict::Violation(PolicyId(0))
        );
        let kept: u64 = table.violations.iter().map(|v| v.packets).sum();
        assert_eq!(kept + table.untracked_violations.packets, violating);
    }

    /// Runs of one flow's packets take the last-flow shortcut: counts stay
    /// per flow, and a flow beyond the cap stays untracked through it.
    #[test]
    fn runs_of_one_flow_count_as_interleaved_ones() {
        let mut table = FlowTable::with_cap(2);
        let sequence = [1, 1, 2, 2, 1, 3, 3, 1, 2];
        for (frame, i) in sequence.iter().enumerate() {
            table.observe(&fate(*i), frame as u64 + 1, 100, 100);
        }
        let kept: Vec<(FlowKey, u64, u64)> = table
            .flows
            .iter()
            .map(|f| (f.key.unpack(), f.first_frame, f.tally.packets))
            .collect();
        assert_eq!(kept, [(key(1), 1, 4), (key(2), 3, 3)]);
        assert_eq!(table.untracked.packets, 2);
        assert_eq!(table.index.len(), 2);
    }
}
