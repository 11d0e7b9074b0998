//! [`FlowTable`]: fates folded by inner flow, and the serialisable
//! [`FlowReport`] / [`ViolationReport`] views of it with interface and
//! policy names resolved.

use std::collections::HashMap;

use etherparse::IpNumber;
use serde::Serialize;

use crate::dataplane::{DropReason, Fate, Node, Outcome, PolicyId, PolicyVerdict};
use crate::fib::InterfaceId;
use crate::wire::FlowKey;

/// One way a flow left the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Path {
    egress: InterfaceId,
    /// The tunnel and SPI when it left inside ESP.
    encrypted: Option<(InterfaceId, u32)>,
    packets: u64,
    bytes: u64,
}

/// What some packets (of one flow, or of every untracked flow) did.
#[derive(Debug, Clone, Default)]
struct Tally {
    packets: u64,
    bytes: u64,
    delivered: u64,
    dropped: Vec<(DropReason, u64)>,
    paths: Vec<Path>,
    /// The SPI it arrived under, when it arrived in ESP.
    decrypted_spi: Option<u32>,
    verdict: PolicyVerdict,
}

impl Tally {
    fn observe(&mut self, fate: &Fate, bytes_in: usize, bytes_out: usize) {
        self.packets += 1;
        self.bytes += bytes_in as u64;
        if let Some(sa) = fate.decrypted {
            self.decrypted_spi = Some(sa.spi);
        }
        if verdict_rank(fate.policy) > verdict_rank(self.verdict) {
            self.verdict = fate.policy;
        }
        match fate.outcome {
            Outcome::Forwarded(egress) => {
                let encrypted = fate.encrypted.map(|sa| (sa.tunnel, sa.spi));
                match self
                    .paths
                    .iter_mut()
                    .find(|p| p.egress == egress && p.encrypted == encrypted)
                {
                    Some(path) => {
                        path.packets += 1;
                        path.bytes += bytes_out as u64;
                    }
                    None => self.paths.push(Path {
                        egress,
                        encrypted,
                        packets: 1,
                        bytes: bytes_out as u64,
                    }),
                }
            }
            Outcome::Delivered(_) => self.delivered += 1,
            Outcome::Dropped(reason) => match self.dropped.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, count)) => *count += 1,
                None => self.dropped.push((reason, 1)),
            },
        }
    }
}

/// What a flow did so far.
#[derive(Debug, Clone)]
struct FlowState {
    key: FlowKey,
    first_frame: u64,
    tally: Tally,
}

/// A policy violation: a covered flow that left (or would have left, when
/// the policy fails closed) on a plain interface.
#[derive(Debug, Clone, Copy)]
struct Violation {
    key: FlowKey,
    policy: PolicyId,
    egress: Option<InterfaceId>,
    first_frame: u64,
    packets: u64,
    dropped: u64,
}

/// Flows a report keeps by default ([`FlowTable::with_cap`]).
pub const DEFAULT_FLOW_CAP: usize = 100_000;

/// Fates folded by flow, in first-seen order (so a report does not depend
/// on hashing or on how many workers processed the packets). Memory is
/// bounded: the first `cap` flows are kept one by one, the packets of
/// later flows are folded into one untracked aggregate, so totals stay
/// exact; violations are kept one by one up to the same cap, the rest
/// counted.
#[derive(Debug)]
pub struct FlowTable {
    cap: usize,
    index: HashMap<FlowKey, u32, foldhash::fast::FixedState>,
    flows: Vec<FlowState>,
    untracked: Tally,
    violations: Vec<Violation>,
    violation_index:
        HashMap<(FlowKey, PolicyId, Option<InterfaceId>), u32, foldhash::fast::FixedState>,
    untracked_violations: UntrackedViolations,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::with_cap(DEFAULT_FLOW_CAP)
    }
}

/// Orders verdicts so a flow keeps its worst: violation, then encrypted,
/// then not covered, then unchecked.
pub fn verdict_rank(verdict: PolicyVerdict) -> u8 {
    match verdict {
        PolicyVerdict::Unchecked => 0,
        PolicyVerdict::NotCovered => 1,
        PolicyVerdict::Encrypted(_) => 2,
        PolicyVerdict::Violation(_) => 3,
    }
}

/// `tcp`, `udp`, `icmp`, `ipv6-icmp`, `esp`, ... or the number.
pub fn protocol_name(protocol: IpNumber) -> String {
    protocol
        .keyword_str()
        .map_or_else(|| protocol.0.to_string(), str::to_ascii_lowercase)
}

impl FlowTable {
    /// An empty table keeping [`DEFAULT_FLOW_CAP`] flows.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table keeping at most `cap` flows (and `cap` violations)
    /// one by one.
    pub fn with_cap(cap: usize) -> Self {
        Self {
            cap,
            index: HashMap::default(),
            flows: Vec::new(),
            untracked: Tally::default(),
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
    pub fn observe(&mut self, fate: &Fate, frame: u64, bytes_in: usize, bytes_out: usize) {
        let Some(key) = fate.flow else {
            return;
        };
        let tally = match self.index.get(&key) {
            Some(at) => self.flows.get_mut(*at as usize).map(|f| &mut f.tally),
            None if self.flows.len() < self.cap => {
                self.index.insert(key, self.flows.len() as u32);
                self.flows.push(FlowState {
                    key,
                    first_frame: frame,
                    tally: Tally::default(),
                });
                self.flows.last_mut().map(|f| &mut f.tally)
            }
            None => None,
        };
        tally
            .unwrap_or(&mut self.untracked)
            .observe(fate, bytes_in, bytes_out);
        if let PolicyVerdict::Violation(policy) = fate.policy {
            let egress = fate
                .egress()
                .or_else(|| fate.route.map(|r| r.next_hop.interface));
            self.violation(key, policy, egress, frame, fate.drop_reason().is_some());
        }
    }

    fn violation(
        &mut self,
        key: FlowKey,
        policy: PolicyId,
        egress: Option<InterfaceId>,
        frame: u64,
        dropped: bool,
    ) {
        let at = match self.violation_index.get(&(key, policy, egress)) {
            Some(at) => *at as usize,
            None if self.violations.len() < self.cap => {
                let at = self.violations.len();
                self.violation_index
                    .insert((key, policy, egress), at as u32);
                self.violations.push(Violation {
                    key,
                    policy,
                    egress,
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
                id: FlowId::from(&f.key),
                first_frame: f.first_frame,
                totals: tally_report(&f.tally, node),
            })
            .collect()
    }

    /// The packets of flows beyond the cap, folded together.
    pub fn untracked(&self, node: &Node) -> UntrackedFlows {
        UntrackedFlows {
            totals: tally_report(&self.untracked, node),
            violations: self.untracked_violations,
        }
    }

    /// The violations kept, in first-seen order, with names from `node`.
    pub fn violations(&self, node: &Node) -> Vec<ViolationReport> {
        self.violations
            .iter()
            .map(|v| ViolationReport {
                policy: policy_name(node, v.policy),
                id: FlowId::from(&v.key),
                egress: v.egress.map(|id| interface_name(node, id)),
                first_frame: v.first_frame,
                packets: v.packets,
                dropped: v.dropped,
            })
            .collect()
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

fn tally_report(tally: &Tally, node: &Node) -> FlowTotals {
    FlowTotals {
        packets: tally.packets,
        bytes: tally.bytes,
        forwarded: tally.paths.iter().map(|p| p.packets).sum(),
        delivered: tally.delivered,
        dropped: tally.dropped.iter().map(|(_, n)| n).sum(),
        drop_reasons: tally
            .dropped
            .iter()
            .map(|(r, n)| (r.as_str().to_owned(), *n))
            .collect(),
        arrived_encrypted_spi: tally.decrypted_spi.map(spi_text),
        paths: tally
            .paths
            .iter()
            .map(|p| PathReport {
                egress: interface_name(node, p.egress),
                path: if p.encrypted.is_some() {
                    "encrypted"
                } else {
                    "plain"
                },
                tunnel: p.encrypted.map(|(t, _)| interface_name(node, t)),
                spi: p.encrypted.map(|(_, spi)| spi_text(spi)),
                packets: p.packets,
                bytes: p.bytes,
            })
            .collect(),
        policy: tally.verdict.policy().map(|id| policy_name(node, id)),
        verdict: tally.verdict.as_str(),
    }
}

/// An SPI as reports print it: `0x00001001`.
fn spi_text(spi: u32) -> String {
    format!("0x{spi:08x}")
}

/// One flow in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowReport {
    /// The inner 5-tuple.
    #[serde(flatten)]
    pub id: FlowId,
    /// The input frame number (from 1) of its first packet.
    pub first_frame: u64,
    /// What its packets did.
    #[serde(flatten)]
    pub totals: FlowTotals,
}

/// What the packets of a flow (or of every untracked flow) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowTotals {
    /// Packets given to the node.
    pub packets: u64,
    /// Their bytes as received.
    pub bytes: u64,
    /// Packets forwarded (the sum over `paths`).
    pub forwarded: u64,
    /// Packets delivered to the node.
    pub delivered: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Drops by reason.
    pub drop_reasons: std::collections::BTreeMap<String, u64>,
    /// The SPI of the SA it arrived under, when it arrived in ESP.
    pub arrived_encrypted_spi: Option<String>,
    /// The ways it left.
    pub paths: Vec<PathReport>,
    /// The must-encrypt policy covering it, if any.
    pub policy: Option<String>,
    /// Its worst verdict: `violation`, `encrypted`, `not_covered`,
    /// `unchecked`.
    pub verdict: &'static str,
}

/// The packets of the flows beyond the cap, folded together (their totals
/// are exact; their number is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UntrackedFlows {
    /// What their packets did.
    #[serde(flatten)]
    pub totals: FlowTotals,
    /// Violations beyond the cap.
    pub violations: UntrackedViolations,
}

/// Violating packets whose (flow, policy, egress) was beyond the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UntrackedViolations {
    /// Violating packets.
    pub packets: u64,
    /// Of those, dropped because the policy fails closed.
    pub dropped: u64,
}

/// One egress path of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathReport {
    /// The Ethernet interface the frames left on.
    pub egress: String,
    /// `encrypted` (inside ESP) or `plain`.
    pub path: &'static str,
    /// The tunnel, when encrypted.
    pub tunnel: Option<String>,
    /// The outbound SA's SPI, when encrypted.
    pub spi: Option<String>,
    /// Packets on this path.
    pub packets: u64,
    /// Their bytes as sent (outer bytes when encrypted).
    pub bytes: u64,
}

/// A must-encrypt policy violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViolationReport {
    /// The policy.
    pub policy: String,
    /// The inner 5-tuple.
    #[serde(flatten)]
    pub id: FlowId,
    /// The plain interface it left on (or would have).
    pub egress: Option<String>,
    /// The input frame number of the first violating packet.
    pub first_frame: u64,
    /// Violating packets.
    pub packets: u64,
    /// Of those, dropped because the policy fails closed.
    pub dropped: u64,
}

/// A flow's 5-tuple as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowId {
    /// The 5-tuple, printed (`TCP 10.0.1.10:40000 -> 10.1.0.10:443`).
    pub flow: String,
    /// Inner source address.
    pub source: String,
    /// Inner destination address.
    pub destination: String,
    /// `tcp`, `udp`, `icmp`, `ipv6-icmp`, ... or the protocol number.
    pub protocol: String,
    /// Source port (ICMP echo: the identifier).
    pub source_port: u16,
    /// Destination port.
    pub destination_port: u16,
}

impl From<&FlowKey> for FlowId {
    /// Formats each address once (the printed 5-tuple reuses them); the
    /// 5-tuple reads as [`FlowKey`]'s `Display`.
    fn from(key: &FlowKey) -> Self {
        use std::fmt::Write as _;
        let source = key.source.to_string();
        let destination = key.destination.to_string();
        let number;
        let keyword = match key.protocol.keyword_str() {
            Some(keyword) => keyword,
            None => {
                number = key.protocol.0.to_string();
                number.as_str()
            }
        };
        let mut flow = String::with_capacity(keyword.len() + source.len() + destination.len() + 20);
        let v6 = key.source.is_ipv6() || key.destination.is_ipv6();
        let (open, close) = if v6 { ("[", "]") } else { ("", "") };
        let _ = write!(
            flow,
            "{keyword} {open}{source}{close}:{} -> {open}{destination}{close}:{}",
            key.source_port, key.destination_port
        );
        Self {
            flow,
            source,
            destination,
            protocol: keyword.to_ascii_lowercase(),
            source_port: key.source_port,
            destination_port: key.destination_port,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

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
            assert_eq!(flow.key, key(i as u32));
            assert_eq!(flow.tally.packets, u64::from(i as u32 % 7 + 1));
        }
        // Kept plus untracked give the exact totals.
        let all = table
            .flows
            .iter()
            .map(|f| &f.tally)
            .chain([&table.untracked]);
        let (p, b, d) = all.fold((0, 0, 0), |(p, b, d), t| {
            let drops: u64 = t.dropped.iter().map(|(_, n)| n).sum();
            (p + t.packets, b + t.bytes, d + drops)
        });
        assert_eq!((p, b, d), (packets, bytes, dropped));
        let forwarded: u64 = table.untracked.paths.iter().map(|p| p.packets).sum();
        assert!(forwarded > 0);
        assert_eq!(
            table.untracked.verdict,
            PolicyVerdict::Violation(PolicyId(0))
        );
        let kept: u64 = table.violations.iter().map(|v| v.packets).sum();
        assert_eq!(kept + table.untracked_violations.packets, violating);
    }

    #[test]
    fn flow_ids_print_like_the_key() {
        let v6 = FlowKey {
            source: IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x10)),
            destination: IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x10)),
            protocol: IpNumber::TCP,
            source_port: 40000,
            destination_port: 443,
        };
        let unknown = FlowKey {
            protocol: IpNumber(253),
            ..key(7)
        };
        for key in [key(1), v6, unknown] {
            let id = FlowId::from(&key);
            assert_eq!(id.flow, key.to_string());
            assert_eq!(id.source, key.source.to_string());
            assert_eq!(id.destination, key.destination.to_string());
            assert_eq!(id.protocol, protocol_name(key.protocol));
        }
    }
}
