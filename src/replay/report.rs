//! [`ReplayReport`]: what `erdp replay` writes to `report.json` and
//! summarises on stdout. Built from the node's counters (summed over its
//! workers), the capture drops and the flow table, so it is the same for
//! any number of workers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};

use serde::Serialize;

use super::sink::Sink;
use crate::capture::{CaptureFormat, CaptureReader};
use crate::dataplane::{Node, PolicyCounters, TrafficCounters, Volume};
use crate::fib::InterfaceId;
use crate::report::{FlowReport, UntrackedFlows, ViolationReport};

/// The report schema version (`report_version` in report.json).
pub const REPORT_VERSION: u32 = 1;

/// Traffic of one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceReport {
    /// The interface.
    pub name: String,
    /// `ethernet` or `esp-tunnel`.
    pub kind: &'static str,
    /// Frames received (inputs).
    pub rx: Volume,
    /// Frames sent: forwarded inputs and generated packets.
    pub tx: Volume,
    /// Tunnels: packets that left encrypted through it (outer bytes).
    pub encrypted: Volume,
    /// Tunnels: packets decapsulated from it.
    pub decrypted: Volume,
}

/// The result of a replay (see docs/replay.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Schema version, [`REPORT_VERSION`].
    pub report_version: u32,
    /// The node's name.
    pub node: String,
    /// The capture file.
    pub input: String,
    /// `pcap` or `pcapng`.
    pub input_format: &'static str,
    /// Frames in the capture (those the node saw and capture drops).
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Input frames forwarded.
    pub forwarded: u64,
    /// Input frames delivered to the node.
    pub delivered: u64,
    /// Input frames dropped (by the node or before it).
    pub dropped: u64,
    /// packets_in == forwarded + delivered + dropped, for inputs and for
    /// generated packets.
    pub conserved: bool,
    /// Input drops by reason (node reasons, and `capture_*` for frames
    /// the node never saw).
    pub drops: BTreeMap<String, u64>,
    /// Local deliveries by kind.
    pub deliveries: BTreeMap<String, u64>,
    /// Packets the node generated (ARP/ND replies, echo replies, ICMP
    /// errors) and their fates.
    pub generated: TrafficCounters,
    /// Per interface, in configuration order.
    pub interfaces: Vec<InterfaceReport>,
    /// Per must-encrypt policy.
    pub policies: Vec<PolicyCounters>,
    /// ICMP errors the RFCs forbade.
    pub icmp_errors_suppressed: u64,
    /// The most flows listed one by one (`--max-flows`).
    pub flow_cap: usize,
    /// Per inner 5-tuple, in first-seen order: the first `flow_cap` flows.
    pub flows: Vec<FlowReport>,
    /// The packets of the flows beyond the cap, folded together (all
    /// zero when every flow is listed).
    pub untracked_flows: UntrackedFlows,
    /// Policy violations, in first-seen order (at most `flow_cap`; the
    /// rest are counted in `untracked_flows.violations`).
    pub violations: Vec<ViolationReport>,
    /// Present when the replay ran with `--promiscuous`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promiscuous: Option<Promiscuous>,
}

/// What `--promiscuous` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promiscuous {
    /// Frames addressed to another host's unicast MAC that were given to
    /// the node as if addressed to the ingress port.
    pub readdressed: u64,
}

/// A drop reason at or above this share of the input (percent) is called
/// out in the summary when it has a likely L2 or configuration cause.
pub const LOUD_DROP_PERCENT: u64 = 25;

/// The likely cause and the fix of a drop reason that usually means the
/// capture and the node configuration do not match (L2 addressing,
/// tagging, addresses, routes, neighbours, SAs); `None` for the others.
pub fn likely_cause(reason: &str) -> Option<(&'static str, &'static str)> {
    Some(match reason {
        "not_our_mac" => (
            "their destination MAC is not the ingress interface's: the capture was taken between other devices, or the node's `mac` differs from the capture's",
            "replay with --promiscuous (any unicast destination MAC counts as the ingress interface's), or set the ingress interface's `mac` to the capture's destination MAC",
        ),
        "vlan_tagged" => (
            "the frames carry 802.1Q/802.1ad VLAN tags; the node takes untagged frames",
            "capture on the untagged side, or remove the tags before replaying",
        ),
        "unsupported_ethertype" => (
            "the frames are neither IPv4, IPv6 nor ARP (LLDP, STP, LACP, MPLS...)",
            "filter the capture to `ip or ip6 or arp`",
        ),
        "arp_not_for_us" | "nd_not_for_us" => (
            "ARP/ND asks for addresses the ingress interface does not have",
            "set the interface's `addresses` to those of the device the capture was taken at (normal on a shared segment)",
        ),
        "no_route" => (
            "the node has no route to these destinations",
            "add the routes to the node configuration, or check that --ingress names the interface the capture was taken on",
        ),
        "no_neighbor" => (
            "the next hop has no static neighbour entry",
            "add a [[neighbor]] with the next hop's ip and mac to the node configuration",
        ),
        "tunnel_no_route" => (
            "the node has no route to a tunnel's remote endpoint",
            "add a route to the tunnel's `remote` in the node configuration",
        ),
        "esp_unknown_spi" => (
            "ESP arrived under an SPI the node has no inbound SA for",
            "set the tunnel's `sa_in` spi (and key) to the capture's",
        ),
        "esp_icv_failed" => (
            "ESP failed its integrity check: the inbound SA's key or algorithm is not the sender's",
            "set the tunnel's `sa_in` key and algorithm to the sender's",
        ),
        "capture_link_malformed" => (
            "raw-IP or cooked frames that are not IP or are too short",
            "check the capture's link type",
        ),
        _ => return None,
    })
}

impl ReplayReport {
    pub(crate) fn new<R: Read, W: Write>(
        node: &Node,
        reader: &CaptureReader<R>,
        sink: &Sink<W>,
    ) -> Self {
        let counters = node.counters();
        let input = &counters.input;
        let capture_dropped: u64 = sink.capture_drops.values().sum();
        let mut drops: BTreeMap<String, u64> = input
            .dropped_by_reason
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        for (reason, count) in &sink.capture_drops {
            *drops.entry((*reason).to_owned()).or_default() += count;
        }
        let interfaces = counters
            .interfaces
            .iter()
            .enumerate()
            .map(|(i, c)| InterfaceReport {
                name: c.name.clone(),
                kind: if node.is_tunnel(InterfaceId(i as u32)) {
                    "esp-tunnel"
                } else {
                    "ethernet"
                },
                rx: c.rx,
                tx: c.tx,
                encrypted: c.encrypted,
                decrypted: c.decrypted,
            })
            .collect();
        Self {
            report_version: REPORT_VERSION,
            node: node.name().to_owned(),
            input: reader.path().display().to_string(),
            input_format: match reader.format() {
                CaptureFormat::Pcap => "pcap",
                CaptureFormat::PcapNg => "pcapng",
            },
            packets_in: input.packets + capture_dropped,
            bytes_in: input.bytes + sink.capture_drop_bytes,
            forwarded: input.forwarded,
            delivered: input.delivered,
            dropped: input.dropped + capture_dropped,
            conserved: input.is_conserved() && counters.generated.is_conserved(),
            drops,
            deliveries: input
                .delivered_by_kind
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            generated: counters.generated.clone(),
            interfaces,
            policies: counters.policies.clone(),
            icmp_errors_suppressed: counters.icmp_errors_suppressed,
            flow_cap: sink.flows.cap(),
            flows: sink.flows.flows(node),
            untracked_flows: sink.flows.untracked(node),
            violations: sink.flows.violations(node),
            promiscuous: None,
        }
    }

    /// True when no input frame was forwarded or delivered: `erdp replay`
    /// without `--expect` fails then (nothing was verified).
    pub(crate) fn nothing_passed(&self) -> bool {
        self.forwarded == 0 && self.delivered == 0
    }

    /// Warnings for drop reasons with a likely L2 or configuration cause
    /// that reach [`LOUD_DROP_PERCENT`] of the input, largest first.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut loud: Vec<(&String, u64)> = self
            .drops
            .iter()
            .filter(|(reason, count)| {
                likely_cause(reason).is_some()
                    && **count * 100 >= LOUD_DROP_PERCENT * self.packets_in.max(1)
            })
            .map(|(reason, count)| (reason, *count))
            .collect();
        loud.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
        loud.into_iter()
            .filter_map(|(reason, count)| {
                let (cause, fix) = likely_cause(reason)?;
                Some(format!(
                    "WARNING: {count} of {} frames ({}%) dropped as {reason}: {cause}.\n    fix: {fix}.",
                    self.packets_in,
                    count * 100 / self.packets_in.max(1)
                ))
            })
            .collect()
    }

    /// Input tx packets on interface `name`.
    pub fn tx_packets(&self, name: &str) -> Option<u64> {
        self.interfaces
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.tx.packets)
    }

    /// The short human summary printed by `erdp replay`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} ({}) through node {}: {} frames in = {} forwarded + {} delivered + {} dropped{}",
            self.input,
            self.input_format,
            self.node,
            self.packets_in,
            self.forwarded,
            self.delivered,
            self.dropped,
            if self.conserved {
                ""
            } else {
                " (NOT CONSERVED)"
            }
        );
        let tx: Vec<String> = self
            .interfaces
            .iter()
            .filter(|i| i.kind == "ethernet")
            .map(|i| format!("{} {} pkts {} B", i.name, i.tx.packets, i.tx.bytes))
            .collect();
        let _ = writeln!(out, "  tx: {}", tx.join(", "));
        if !self.drops.is_empty() {
            let drops: Vec<String> = self.drops.iter().map(|(r, n)| format!("{r} {n}")).collect();
            let _ = writeln!(out, "  drops: {}", drops.join(", "));
        }
        if self.generated.packets > 0 {
            let _ = writeln!(
                out,
                "  generated: {} ({} sent, {} dropped)",
                self.generated.packets, self.generated.forwarded, self.generated.dropped
            );
        }
        let encrypted = self
            .flows
            .iter()
            .filter(|f| f.totals.paths.iter().any(|p| p.path == "encrypted"))
            .count();
        let plain = self
            .flows
            .iter()
            .filter(|f| f.totals.paths.iter().any(|p| p.path == "plain"))
            .count();
        let _ = writeln!(
            out,
            "  flows: {} ({} left encrypted, {} left in plaintext); policy violations: {}",
            self.flows.len(),
            encrypted,
            plain,
            self.violations.len()
        );
        if let Some(promiscuous) = &self.promiscuous {
            let _ = writeln!(
                out,
                "  promiscuous: {} frames addressed to another host's MAC were taken as the ingress interface's",
                promiscuous.readdressed
            );
        }
        for warning in self.warnings() {
            let _ = writeln!(out, "  {warning}");
        }
        if self.nothing_passed() {
            let _ = writeln!(
                out,
                "  NOTHING FORWARDED OR DELIVERED: this replay verified nothing (exit 1 without --expect)"
            );
        }
        let untracked = &self.untracked_flows;
        if untracked.totals.packets > 0 {
            let _ = writeln!(
                out,
                "  flows beyond the cap of {} (--max-flows): {} packets ({} forwarded, {} delivered, {} dropped; verdict {}), in untracked_flows",
                self.flow_cap,
                untracked.totals.packets,
                untracked.totals.forwarded,
                untracked.totals.delivered,
                untracked.totals.dropped,
                untracked.totals.verdict
            );
        }
        if untracked.violations.packets > 0 {
            let _ = writeln!(
                out,
                "  VIOLATION: {} more violating packets beyond the cap of {} violations ({} dropped)",
                untracked.violations.packets, self.flow_cap, untracked.violations.dropped
            );
        }
        for v in &self.violations {
            let _ = writeln!(
                out,
                "  VIOLATION {}: {} left in plaintext on {} ({} packets, first frame {})",
                v.policy,
                v.id.flow,
                v.egress.as_deref().unwrap_or("?"),
                v.packets,
                v.first_frame
            );
        }
        out
    }
}
