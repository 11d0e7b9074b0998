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

/// What a flow did so far.
#[derive(Debug, Clone)]
struct FlowState {
    key: FlowKey,
    first_frame: u64,
    packets: u64,
    bytes: u64,
    delivered: u64,
    dropped: Vec<(DropReason, u64)>,
    paths: Vec<Path>,
    /// The SPI it arrived under, when it arrived in ESP.
    decrypted_spi: Option<u32>,
    verdict: PolicyVerdict,
}

/// A policy violation: a covered flow that left (or would have left, when
/// the policy fails closed) on a plain interface.
#[derive(Debug, Clone, Copy)]
struct Violation {
    flow: u32,
    policy: PolicyId,
    egress: Option<InterfaceId>,
    first_frame: u64,
    packets: u64,
    dropped: u64,
}

/// Fates folded by flow, in first-seen order (so a report does not depend
/// on hashing or on how many workers processed the packets).
#[derive(Debug, Default)]
pub struct FlowTable {
    index: HashMap<FlowKey, u32, foldhash::fast::FixedState>,
    flows: Vec<FlowState>,
    violations: Vec<Violation>,
    violation_index: HashMap<(u32, PolicyId, Option<InterfaceId>), u32, foldhash::fast::FixedState>,
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
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of flows seen.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow was seen.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Number of distinct violations (flow, policy, egress).
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
        let next = self.flows.len() as u32;
        let at = *self.index.entry(key).or_insert(next);
        if at == next {
            self.flows.push(FlowState {
                key,
                first_frame: frame,
                packets: 0,
                bytes: 0,
                delivered: 0,
                dropped: Vec::new(),
                paths: Vec::new(),
                decrypted_spi: None,
                verdict: PolicyVerdict::Unchecked,
            });
        }
        let Some(flow) = self.flows.get_mut(at as usize) else {
            return;
        };
        flow.packets += 1;
        flow.bytes += bytes_in as u64;
        if let Some(sa) = fate.decrypted {
            flow.decrypted_spi = Some(sa.spi);
        }
        if verdict_rank(fate.policy) > verdict_rank(flow.verdict) {
            flow.verdict = fate.policy;
        }
        match fate.outcome {
            Outcome::Forwarded(egress) => {
                let encrypted = fate.encrypted.map(|sa| (sa.tunnel, sa.spi));
                match flow
                    .paths
                    .iter_mut()
                    .find(|p| p.egress == egress && p.encrypted == encrypted)
                {
                    Some(path) => {
                        path.packets += 1;
                        path.bytes += bytes_out as u64;
                    }
                    None => flow.paths.push(Path {
                        egress,
                        encrypted,
                        packets: 1,
                        bytes: bytes_out as u64,
                    }),
                }
            }
            Outcome::Delivered(_) => flow.delivered += 1,
            Outcome::Dropped(reason) => match flow.dropped.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, count)) => *count += 1,
                None => flow.dropped.push((reason, 1)),
            },
        }
        if let PolicyVerdict::Violation(policy) = fate.policy {
            let egress = fate
                .egress()
                .or_else(|| fate.route.map(|r| r.next_hop.interface));
            let dropped = u64::from(fate.drop_reason().is_some());
            let next = self.violations.len() as u32;
            let v = *self
                .violation_index
                .entry((at, policy, egress))
                .or_insert(next);
            if v == next {
                self.violations.push(Violation {
                    flow: at,
                    policy,
                    egress,
                    first_frame: frame,
                    packets: 0,
                    dropped: 0,
                });
            }
            if let Some(violation) = self.violations.get_mut(v as usize) {
                violation.packets += 1;
                violation.dropped += dropped;
            }
        }
    }

    /// The flows, in first-seen order, with names from `node`.
    pub fn flows(&self, node: &Node) -> Vec<FlowReport> {
        self.flows.iter().map(|f| flow_report(f, node)).collect()
    }

    /// The violations, in first-seen order, with names from `node`.
    pub fn violations(&self, node: &Node) -> Vec<ViolationReport> {
        self.violations
            .iter()
            .filter_map(|v| {
                let flow = self.flows.get(v.flow as usize)?;
                Some(ViolationReport {
                    policy: policy_name(node, v.policy),
                    id: FlowId::from(&flow.key),
                    egress: v.egress.map(|id| interface_name(node, id)),
                    first_frame: v.first_frame,
                    packets: v.packets,
                    dropped: v.dropped,
                })
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

fn flow_report(flow: &FlowState, node: &Node) -> FlowReport {
    let forwarded = flow.paths.iter().map(|p| p.packets).sum();
    FlowReport {
        id: FlowId::from(&flow.key),
        first_frame: flow.first_frame,
        packets: flow.packets,
        bytes: flow.bytes,
        forwarded,
        delivered: flow.delivered,
        dropped: flow.dropped.iter().map(|(_, n)| n).sum(),
        drop_reasons: flow
            .dropped
            .iter()
            .map(|(r, n)| (r.as_str().to_owned(), *n))
            .collect(),
        arrived_encrypted_spi: flow.decrypted_spi.map(spi_text),
        paths: flow
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
        policy: flow.verdict.policy().map(|id| policy_name(node, id)),
        verdict: flow.verdict.as_str(),
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
    /// Packets of the flow given to the node.
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
    fn from(key: &FlowKey) -> Self {
        Self {
            flow: key.to_string(),
            source: key.source.to_string(),
            destination: key.destination.to_string(),
            protocol: protocol_name(key.protocol),
            source_port: key.source_port,
            destination_port: key.destination_port,
        }
    }
}
