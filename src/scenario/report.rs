//! What a scenario run found, for `report.json` (serde) and the human
//! summary: what is particular to a scenario (per flow its circuit path each
//! way, read from the nodes' per-flow tables of [`crate::report`], and what
//! its applications measured; per fault what changed and for how long;
//! sessions; timelines; verdicts).

use std::fmt::Write as _;

use serde::Serialize;

use super::bgp::RouteCounts;
use super::topology::{INSTANCES, circuit_link_names};
use crate::control::TunnelReport;
use crate::dataplane::{NodeCounters, PolicyCounters};
use crate::emu::{LinkReport, LinkTimeline};
use crate::frag::ReassemblyStats;

/// One direction of a flow as the edges saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectionPath {
    /// Packets per circuit link that crossed it in ESP, in the order of
    /// [`circuit_link_names`] (primary, secondary; then the second
    /// circuit's primary and secondary, when there is one).
    pub encrypted: Vec<u64>,
    /// Packets per circuit link that crossed in plaintext.
    pub plaintext: Vec<u64>,
    /// Packets that broke a must-encrypt policy (forwarded or dropped).
    pub violations: u64,
    /// Of those, dropped because the policy fails closed.
    pub dropped_by_policy: u64,
    /// Other drops at the nodes, by reason.
    pub dropped: Vec<(String, u64)>,
    /// The outer DSCP of the ESP packets, when any left encrypted.
    pub outer_dscp: Option<u8>,
    /// Packets per VPN tunnel (`vpn`, `vpn2`: the gateway instance) that
    /// the flow's packets were encrypted into, when the VPN gateway is
    /// active-active; empty (and absent from `report.json`) with one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<u64>,
}

impl DirectionPath {
    /// A short description: `er-primary ESP`, `er-primary+er-secondary plain`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (kind, counts) in [("ESP", &self.encrypted), ("plain", &self.plaintext)] {
            let used: Vec<&str> = circuit_link_names()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .map(|(name, _)| name)
                .collect();
            if !used.is_empty() {
                parts.push(format!("{} {kind}", used.join("+")));
            }
            if kind == "ESP" && !used.is_empty() {
                let tunnels: Vec<&str> = INSTANCES
                    .iter()
                    .zip(&self.tunnels)
                    .filter(|(_, n)| **n > 0)
                    .map(|(instance, _)| instance.tunnel)
                    .collect();
                if let (false, Some(part)) = (tunnels.is_empty(), parts.last_mut()) {
                    part.push_str(&format!(" via {}", tunnels.join("+")));
                }
            }
        }
        if parts.is_empty() {
            return "-".into();
        }
        parts.join(", ")
    }

    /// Packets seen on the circuit.
    pub fn packets(&self) -> u64 {
        self.encrypted.iter().chain(&self.plaintext).sum()
    }

    /// Packets seen on circuit `circuit` (0: the first, 1: the second),
    /// ESP and plaintext, on either of its links.
    pub fn circuit_packets(&self, circuit: usize) -> u64 {
        let links = circuit * 2..circuit * 2 + 2;
        [&self.encrypted, &self.plaintext]
            .iter()
            .filter_map(|counts| counts.get(links.clone()))
            .flatten()
            .sum()
    }
}

/// What one scenario flow achieved: its circuit path each way (built
/// from the nodes' per-flow tables, [`crate::report::FlowEntry`]) and what
/// its applications measured (bytes, loss, latency, DSCP).
#[derive(Debug, Clone, Serialize)]
pub struct FlowResult {
    /// Its name.
    pub name: String,
    /// `tcp`, `ping` or `udp`.
    pub kind: String,
    /// `onprem->azure` or `azure->onprem`.
    pub direction: String,
    /// The data direction's path.
    pub forward: DirectionPath,
    /// The reverse direction's path (ACKs, echo replies).
    pub reverse: DirectionPath,
    /// Bytes (TCP: verified stream bytes; UDP/ping: payload bytes) delivered.
    pub bytes: u64,
    /// Bytes that should have been delivered.
    pub bytes_expected: u64,
    /// TCP: every byte arrived and matched (CRC-32 and offsets).
    pub verified: Option<bool>,
    /// Goodput in bit/s (TCP) over the transfer.
    pub throughput_bps: Option<f64>,
    /// Packets sent and lost (ping/UDP).
    pub sent: u64,
    /// Packets lost.
    pub lost: u64,
    /// Mean and maximum latency (ping: RTT; UDP: one-way) in ms.
    pub latency_ms: Option<(f64, f64)>,
    /// DSCP marked by the sender and checked at the receiver: (expected,
    /// frames that arrived with it, frames of the flow that arrived).
    pub dscp: Option<(u8, u64, u64)>,
    /// Completion time, in seconds of virtual time.
    pub done_at_s: Option<f64>,
}

impl FlowResult {
    /// True when a packet of this flow left in plaintext against a policy.
    pub fn leaked(&self) -> bool {
        self.forward.violations > self.forward.dropped_by_policy
            || self.reverse.violations > self.reverse.dropped_by_policy
    }

    /// True when packets of it crossed the circuit and every one crossed
    /// in ESP. A direction that carried nothing (a one-way UDP flow's
    /// return) neither spoils nor makes the answer.
    pub fn encrypted(&self) -> bool {
        let plain = |d: &DirectionPath| d.plaintext.iter().any(|n| *n > 0);
        let crossed = self.forward.packets() + self.reverse.packets() > 0;
        crossed && !plain(&self.forward) && !plain(&self.reverse)
    }
}

/// What a fault changed.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    /// When it happened, in ms of virtual time.
    pub at_ms: f64,
    /// What happened.
    pub event: String,
    /// What changed (routes, sessions).
    pub effect: String,
    /// BGP routes in each RIB afterwards.
    pub routes: Option<RouteCounts>,
    /// Link faults: frames lost into the dead link (both ways).
    pub frames_lost: Option<u64>,
    /// Link faults: from the failure to the last frame lost into the
    /// link, in ms (traffic had failed over by then).
    pub outage_ms: Option<f64>,
    /// For how long the condition lasted, in ms (until the matching
    /// recovery; `None` if it lasted to the end).
    pub lasted_ms: Option<f64>,
}

/// A policy verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `ok`, `leak`, `dropped`, `failed`, or `unverified` (no traffic
    /// reached a must-encrypt policy: nothing was checked).
    pub level: String,
    /// The message.
    pub message: String,
}

/// Every policy of one node, with its counters.
#[derive(Debug, Clone, Serialize)]
pub struct NodePolicies {
    /// The node.
    pub node: String,
    /// Its policies.
    pub policies: Vec<PolicyCounters>,
}

/// A node's IPv4 reassembly over the run.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReassembly {
    /// The node.
    pub node: String,
    /// Fragments held, datagrams completed, timed out and discarded.
    #[serde(flatten)]
    pub stats: ReassemblyStats,
}

/// One end of a tunnel keyed by IKE, at the end of the run (SA times in
/// virtual seconds).
#[derive(Debug, Clone, Serialize)]
pub struct IkeTunnelReport {
    /// The node (`onprem-edge`, `azure-hub`).
    pub node: String,
    /// The tunnel (`interface`: `vpn`, `vpn2`), as `erdp attach` reports it.
    #[serde(flatten)]
    pub tunnel: TunnelReport,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// The seed used.
    pub seed: u64,
    /// Virtual time simulated, in seconds.
    pub virtual_s: f64,
    /// Wall-clock time, in seconds.
    pub wall_s: f64,
    /// Frames that crossed a link (delivered at the far end; every link,
    /// both directions).
    pub frames: u64,
    /// Flows.
    pub flows: Vec<FlowResult>,
    /// Faults and control-plane changes, in time order.
    pub faults: Vec<FaultRecord>,
    /// Sessions at the end: name, up, why down.
    pub sessions: Vec<(String, bool, Option<String>)>,
    /// Policy counters per node.
    pub policies: Vec<NodePolicies>,
    /// Every counter of the three nodes, in the order onprem-edge, msee,
    /// azure-hub (drops by reason, per interface, encrypted and decrypted
    /// volumes).
    pub nodes: Vec<NodeCounters>,
    /// What each node's IPv4 reassembly did (ESP fragments at a tunnel
    /// endpoint), in the order of `nodes`.
    pub reassembly: Vec<NodeReassembly>,
    /// Verdicts.
    pub verdicts: Vec<Verdict>,
    /// Notes (limits applied).
    pub notes: Vec<String>,
    /// Every link's counters.
    pub links: Vec<LinkReport>,
    /// Wireshark `esp_sa` lines of every SA the tunnels had (static, or
    /// each one IKE negotiated).
    pub esp_sa: Vec<String>,
    /// With `[ike]`: each end of each tunnel, with every SA it had.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ike: Vec<IkeTunnelReport>,
    /// pcap files written.
    pub captures: Vec<String>,
    /// Every link's bytes over virtual time (ESP, plaintext, non-IP), for
    /// the timeline charts of report.html.
    pub link_timeline: LinkTimeline,
}

impl RunReport {
    /// True when something must fail the run: a leak, a TCP transfer not
    /// verified, a design error (the tunnel routed into itself).
    pub fn failed(&self) -> bool {
        self.verdicts
            .iter()
            .any(|v| v.level == "leak" || v.level == "failed" || v.level == "design-error")
    }

    /// Simulated frames per second of wall time.
    pub(crate) fn frames_per_wall_second(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.frames as f64 / self.wall_s
        } else {
            0.0
        }
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "erdp run: {} (seed {})", self.scenario, self.seed);
        if !self.description.is_empty() {
            let _ = writeln!(out, "  {}", self.description);
        }
        let _ = writeln!(
            out,
            "  {:.1} s of virtual time in {:.2} s wall; {} frames crossed links (emulator speed: {:.0} frames/s of wall time, not a network rate)\n",
            self.virtual_s,
            self.wall_s,
            self.frames,
            self.frames_per_wall_second()
        );
        self.flow_table(&mut out);
        if !self.faults.is_empty() {
            let _ = writeln!(out, "\nfaults and route changes:");
            let event_width = width(self.faults.iter().map(|f| f.event.as_str()));
            for fault in &self.faults {
                let mut line = format!(
                    "  {:>9.1} ms  {:<event_width$} {}",
                    fault.at_ms, fault.event, fault.effect
                );
                if let Some(lost) = fault.frames_lost {
                    let _ = write!(line, "; {lost} frames lost");
                }
                if let Some(outage) = fault.outage_ms {
                    let _ = write!(line, ", outage {outage:.1} ms");
                }
                if let Some(lasted) = fault.lasted_ms {
                    let _ = write!(line, "; lasted {lasted:.1} ms");
                }
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = writeln!(out, "\nBGP sessions at the end:");
        let name_width = width(self.sessions.iter().map(|(name, _, _)| name.as_str()));
        for (name, up, why) in &self.sessions {
            let state = if *up { "up" } else { "DOWN" };
            let _ = writeln!(
                out,
                "  {name:<name_width$} {state}{}",
                why.as_ref().map_or(String::new(), |w| format!(": {w}"))
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        for r in self
            .reassembly
            .iter()
            .filter(|r| r.stats.fragments_held > 0)
        {
            let s = r.stats;
            let _ = writeln!(
                out,
                "  reassembly at {}: {} fragments held, {} datagrams completed, {} timed out, {} discarded ({} fragments lost)",
                r.node, s.fragments_held, s.completed, s.timed_out, s.discarded, s.fragments_lost
            );
        }
        if !self.ike.is_empty() {
            let _ = writeln!(out, "\nIKE tunnels at the end:");
            for t in &self.ike {
                let tunnel = &t.tunnel;
                let state = tunnel
                    .state
                    .summary(tunnel.sas.len(), tunnel.last_failure.as_deref());
                let _ = writeln!(out, "  {} {} {state}", t.node, tunnel.interface);
            }
        }
        let _ = writeln!(out, "\npolicy verdicts:");
        for verdict in &self.verdicts {
            let _ = writeln!(out, "  [{}] {}", verdict.level, verdict.message);
        }
        out
    }
}

/// Columns of the flow table: heading and whether it is right-aligned.
const FLOW_COLUMNS: [(&str, bool); 8] = [
    ("flow", false),
    ("direction", false),
    ("path (data)", false),
    ("path (return)", false),
    ("bytes", true),
    ("throughput", true),
    ("loss", true),
    ("latency mean/max", true),
];

/// The widest of `cells`, in characters.
fn width<'a>(cells: impl Iterator<Item = &'a str>) -> usize {
    cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
}

/// One row of a table whose column widths come from its content.
fn table_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, ((cell, width), (_, right))) in cells.iter().zip(widths).zip(FLOW_COLUMNS).enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let _ = if right {
            write!(line, "{cell:>width$}")
        } else {
            write!(line, "{cell:<width$}")
        };
    }
    line.trim_end().to_owned()
}

/// A direction's path as the table shows it, with LEAK and policy drops.
fn path_cell(path: &DirectionPath) -> String {
    let mut text = path.describe();
    if path.violations > path.dropped_by_policy {
        text.push_str(" LEAK");
    }
    if path.dropped_by_policy > 0 {
        let _ = write!(text, " ({} dropped)", path.dropped_by_policy);
    }
    text
}

impl FlowResult {
    /// The flow's cells in the summary's table.
    fn cells(&self) -> Vec<String> {
        let bytes = match self.verified {
            Some(true) => format!("{} ok", self.bytes),
            Some(false) => format!("{}/{} BAD", self.bytes, self.bytes_expected),
            None => self.bytes.to_string(),
        };
        let throughput = self
            .throughput_bps
            .map_or("-".into(), |b| format!("{:.1} Mb/s", b / 1e6));
        let loss = if self.sent > 0 {
            format!("{}/{}", self.lost, self.sent)
        } else {
            "-".into()
        };
        let latency = self
            .latency_ms
            .map_or("-".into(), |(mean, max)| format!("{mean:.2}/{max:.2} ms"));
        vec![
            self.name.clone(),
            self.direction.clone(),
            path_cell(&self.forward),
            path_cell(&self.reverse),
            bytes,
            throughput,
            loss,
            latency,
        ]
    }
}

impl RunReport {
    /// The flow table, columns as wide as their widest cell, with a flow's
    /// circuit split and DSCP check on lines of their own.
    fn flow_table(&self, out: &mut String) {
        let heading: Vec<String> = FLOW_COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
        let rows: Vec<Vec<String>> = self.flows.iter().map(FlowResult::cells).collect();
        let widths: Vec<usize> = (0..FLOW_COLUMNS.len())
            .map(|c| {
                width(
                    std::iter::once(&heading)
                        .chain(&rows)
                        .map(|r| r[c].as_str()),
                )
            })
            .collect();
        let indent = " ".repeat(widths[0] + 1);
        let _ = writeln!(out, "{}", table_row(&heading, &widths));
        for (flow, row) in self.flows.iter().zip(&rows) {
            let _ = writeln!(out, "{}", table_row(row, &widths));
            if flow.forward.encrypted.len() > 2 {
                let per = |c: usize| {
                    format!(
                        "circuit {}: {} data / {} return packets",
                        c + 1,
                        flow.forward.circuit_packets(c),
                        flow.reverse.circuit_packets(c)
                    )
                };
                let _ = writeln!(out, "{indent}{}; {}", per(0), per(1));
            }
            if let Some((expect, with, of)) = flow.dscp {
                let outer = flow
                    .forward
                    .outer_dscp
                    .map_or("no ESP packet".into(), |d| format!("outer DSCP {d}"));
                let _ = writeln!(
                    out,
                    "{indent}DSCP {expect}: {with}/{of} frames arrived marked; on the circuit: {outer}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(forward: DirectionPath, reverse: DirectionPath) -> FlowResult {
        FlowResult {
            name: "f".into(),
            kind: "udp".into(),
            direction: "onprem->azure".into(),
            forward,
            reverse,
            bytes: 0,
            bytes_expected: 0,
            verified: None,
            throughput_bps: None,
            sent: 0,
            lost: 0,
            latency_ms: None,
            dscp: None,
            done_at_s: None,
        }
    }

    fn path(encrypted: u64, plaintext: u64) -> DirectionPath {
        DirectionPath {
            encrypted: vec![encrypted, 0],
            plaintext: vec![plaintext, 0],
            ..DirectionPath::default()
        }
    }

    /// One tunnel: the path reads as it always did; two (an active-active
    /// VPN gateway): the ESP part names the tunnels the packets used.
    #[test]
    fn describe_names_the_tunnels_only_with_two() {
        let one = path(10, 2);
        assert_eq!(one.describe(), "er-primary ESP, er-primary plain");
        let both = DirectionPath {
            tunnels: vec![6, 4],
            ..path(10, 0)
        };
        assert_eq!(both.describe(), "er-primary ESP via vpn+vpn2");
        let second = DirectionPath {
            tunnels: vec![0, 10],
            ..path(10, 0)
        };
        assert_eq!(second.describe(), "er-primary ESP via vpn2");
        let plain = DirectionPath {
            tunnels: vec![0, 0],
            ..path(0, 3)
        };
        assert_eq!(plain.describe(), "er-primary plain");
    }

    /// A one-way flow (UDP, no return traffic) entirely in ESP is
    /// encrypted; plaintext either way, or nothing at all, is not.
    #[test]
    fn encrypted_needs_traffic_and_no_plaintext_either_way() {
        assert!(flow(path(10, 0), path(0, 0)).encrypted());
        assert!(flow(path(10, 0), path(3, 0)).encrypted());
        assert!(flow(path(0, 0), path(3, 0)).encrypted());
        assert!(!flow(path(10, 0), path(3, 1)).encrypted());
        assert!(!flow(path(10, 1), path(0, 0)).encrypted());
        assert!(!flow(path(0, 0), path(0, 0)).encrypted());
    }
}
