//! What a run found, read from the nodes' per-flow fate tables (the shared
//! model of [`crate::report`], one table per node port) and the hosts' app
//! reports: each flow's path per direction (which circuit link,
//! ESP or plaintext, policy violations and drops), its bytes, loss and
//! latency, and the verdicts of the whole run.

use std::time::Instant;

use super::bgp::ControlPlane;
use super::ike::tunnel_reports;
use super::model::{Flow, Scenario, Side};
use super::report::{
    DirectionPath, FaultRecord, FlowResult, NodePolicies, NodeReassembly, RunReport, Verdict,
};
use super::runner::{Apps, FlowPlan};
use super::topology::{INSTANCES, Topology};
use crate::dataplane::{DropReason, Node};
use crate::emu::{DeviceId, Host, NodeDevice, SimTime};
use crate::esp::wireshark_esp_sa_line;
use crate::fib::InterfaceId;
use crate::report::Way;
use crate::wire::FlowKey;

fn matches(key: &FlowKey, plan: &FlowPlan, forward: bool) -> bool {
    let (src, dst) = if forward {
        (plan.from, plan.to)
    } else {
        (plan.to, plan.from)
    };
    if key.protocol != plan.protocol || key.source != src || key.destination != dst {
        return false;
    }
    match plan.apps {
        Apps::Ping(_) => key.source_port == plan.ports.0,
        _ if forward => (key.source_port, key.destination_port) == plan.ports,
        _ => (key.destination_port, key.source_port) == plan.ports,
    }
}

/// The circuit path of one direction, from the edge's and hub's tallies.
fn direction(topo: &Topology, plan: &FlowPlan, forward: bool, toward_azure: bool) -> DirectionPath {
    // The edge's ports 1..=circuit_links face the circuits.
    let circuit_links = 2 * topo.circuits();
    // Per-tunnel counts only when there is more than one tunnel.
    let tunnels = match topo.instances.len() {
        1 => 0,
        n => n,
    };
    let mut path = DirectionPath {
        encrypted: vec![0; circuit_links],
        plaintext: vec![0; circuit_links],
        tunnels: vec![0; tunnels],
        ..DirectionPath::default()
    };
    let mut drops: Vec<(String, u64)> = Vec::new();
    let mut count_drop = |reason: DropReason, packets: u64, path: &mut DirectionPath| {
        if reason == DropReason::PolicyViolation {
            path.dropped_by_policy += packets;
        } else {
            match drops.iter_mut().find(|(r, _)| r == reason.as_str()) {
                Some((_, n)) => *n += packets,
                None => drops.push((reason.as_str().to_string(), packets)),
            }
        }
    };
    // The policy check happens where the flow enters the circuit: the edge
    // (toward Azure) or the hub (toward on-prem); the edge sees which
    // circuit link it crossed either way.
    let (policy_node, policy_ingress) = if toward_azure {
        (topo.edge, 0)
    } else {
        (topo.hub, 1)
    };
    if let Some(node) = topo.sim.device::<NodeDevice>(policy_node) {
        for entry in node.flows_in(policy_ingress) {
            if !matches(&entry.key(), plan, forward) {
                continue;
            }
            path.violations += entry.violations();
            for way in entry.ways() {
                if let Way::Path {
                    encrypted: Some((tunnel, _)),
                    ..
                } = way.way
                {
                    count_tunnel(node.node(), tunnel, way.packets, &mut path);
                }
                match way.way {
                    Way::Dropped(reason) => count_drop(reason, way.packets, &mut path),
                    Way::Path { egress, encrypted } if toward_azure => {
                        let port = node.port_of(egress).unwrap_or(u16::MAX);
                        let slot = usize::from(port).wrapping_sub(1);
                        let bucket = if encrypted.is_some() {
                            &mut path.encrypted
                        } else {
                            &mut path.plaintext
                        };
                        if let Some(n) = bucket.get_mut(slot) {
                            *n += way.packets;
                        }
                        if encrypted.is_some() {
                            path.outer_dscp = way.outer_dscp;
                        }
                    }
                    Way::Path { .. } => {}
                }
            }
        }
    }
    if !toward_azure && let Some(edge) = topo.sim.device::<NodeDevice>(topo.edge) {
        for port in 1..=circuit_links {
            let slot = port - 1;
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            for entry in edge.flows_in(port) {
                if !matches(&entry.key(), plan, forward) {
                    continue;
                }
                let decrypted = entry.decrypted();
                for (bucket, n) in [
                    (&mut path.encrypted, decrypted),
                    (&mut path.plaintext, entry.packets() - decrypted),
                ] {
                    if let Some(count) = bucket.get_mut(slot) {
                        *count += n;
                    }
                }
                for way in entry.ways() {
                    if let Way::Dropped(reason) = way.way {
                        count_drop(reason, way.packets, &mut path);
                    }
                }
            }
        }
        if let Some(hub) = topo.sim.device::<NodeDevice>(topo.hub) {
            path.outer_dscp = hub
                .flows_in(1)
                .filter(|entry| matches(&entry.key(), plan, forward))
                .flat_map(|entry| entry.ways())
                .find_map(|way| way.outer_dscp);
        }
    }
    drops.sort();
    path.dropped = drops;
    path
}

/// Counts `packets` encrypted into `tunnel` of `node` (the edge or the
/// hub: tunnels are named alike on both) on its instance's slot of
/// `path.tunnels` (none when there is one tunnel).
fn count_tunnel(node: &Node, tunnel: InterfaceId, packets: u64, path: &mut DirectionPath) {
    let name = node.interface_names().get(tunnel.0 as usize);
    let slot = INSTANCES
        .iter()
        .position(|i| name.is_some_and(|n| n == i.tunnel));
    if let Some(n) = slot.and_then(|slot| path.tunnels.get_mut(slot)) {
        *n += packets;
    }
}

/// The node drops of a direction, for a verdict: `; dropped at the nodes: packet_too_big 12`.
fn drop_text(path: &DirectionPath) -> String {
    if path.dropped.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = path
        .dropped
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    format!("; dropped at the nodes: {}", parts.join(", "))
}

pub(super) fn flow_report(topo: &Topology, flow: &Flow, plan: &FlowPlan) -> FlowResult {
    let toward_azure = flow.from == Side::Onprem;
    let host = |id: DeviceId| topo.sim.device::<Host>(id);
    let mut report = FlowResult {
        name: flow.name.clone(),
        kind: format!("{:?}", flow.kind).to_lowercase(),
        direction: format!("{}->{}", flow.from.as_str(), flow.from.peer().as_str()),
        forward: direction(topo, plan, true, toward_azure),
        reverse: direction(topo, plan, false, !toward_azure),
        bytes: 0,
        bytes_expected: 0,
        verified: None,
        throughput_bps: None,
        sent: 0,
        lost: 0,
        latency_ms: None,
        dscp: None,
        done_at_s: None,
    };
    let latency = |stats: &crate::emu::app::LatencyStats| {
        Some((stats.mean_ns()? as f64 / 1e6, stats.max_ns? as f64 / 1e6))
    };
    match plan.apps {
        Apps::Tcp { client, server } => {
            let sender = host(client.0).and_then(|h| h.tcp_bulk_report(client.1));
            if let Some(r) = host(server.0).and_then(|h| h.tcp_bulk_report(server.1)) {
                report.bytes = r.bytes_received;
                report.bytes_expected = r.bytes_expected;
                report.verified = Some(
                    r.receive_verified() && sender.as_ref().is_some_and(|s| r.received_all_of(s)),
                );
                report.throughput_bps = r.receive_throughput_bps();
                report.done_at_s = r.receive_done_at.map(SimTime::as_secs_f64);
            }
        }
        Apps::Ping(id) => {
            if let Some(r) = host(id.0).and_then(|h| h.ping_report(id.1)) {
                report.sent = r.sent;
                report.lost = r.lost();
                report.bytes = r.received * flow.payload as u64;
                report.bytes_expected = r.sent * flow.payload as u64;
                report.latency_ms = latency(&r.rtt);
            }
        }
        Apps::Udp { sender, receiver } => {
            let sent = host(sender.0).and_then(|h| h.udp_send_report(sender.1));
            let got = host(receiver.0).and_then(|h| h.udp_receive_report(receiver.1));
            if let (Some(s), Some(r)) = (sent, got) {
                report.sent = s.sent;
                report.lost = r.lost(&s);
                report.bytes = r.bytes;
                report.bytes_expected = s.bytes;
                report.latency_ms = latency(&r.latency);
            }
        }
    }
    if let Some((id, slot)) = plan.dscp_check
        && let Some(check) = host(id).and_then(|h| h.dscp_checks().get(slot).cloned())
    {
        report.dscp = Some((check.expect, check.with_expected, check.matched));
    }
    report
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    scenario: &Scenario,
    seed: u64,
    topo: &Topology,
    plane: &ControlPlane,
    flows: Vec<FlowResult>,
    faults: Vec<FaultRecord>,
    notes: Vec<String>,
    design_errors: Vec<String>,
    captures: Vec<String>,
    started: Instant,
) -> RunReport {
    let links = topo.sim.link_reports();
    let frames = links
        .iter()
        .map(|l| l.a_to_b.delivered_frames + l.b_to_a.delivered_frames)
        .sum();
    let policies = [&topo.nodes.edge, &topo.nodes.hub]
        .iter()
        .map(|node| NodePolicies {
            node: node.name().to_string(),
            policies: node.counters().policies,
        })
        .collect::<Vec<_>>();
    let mut verdicts = Vec::new();
    for flow in &flows {
        for (label, path) in [("data", &flow.forward), ("return", &flow.reverse)] {
            let leaked = path.violations.saturating_sub(path.dropped_by_policy);
            if leaked > 0 {
                verdicts.push(Verdict {
                    level: "leak".into(),
                    message: format!(
                        "{} ({label} direction of {}): {leaked} packets that must be encrypted crossed ExpressRoute in plaintext ({})",
                        flow.name,
                        flow.direction,
                        path.describe()
                    ),
                });
            }
            if path.dropped_by_policy > 0 {
                verdicts.push(Verdict {
                    level: "dropped".into(),
                    message: format!(
                        "{} ({label} direction): {} plaintext packets dropped by a fail-closed policy",
                        flow.name, path.dropped_by_policy
                    ),
                });
            }
        }
        if flow.verified == Some(false) {
            verdicts.push(Verdict {
                level: "failed".into(),
                message: format!(
                    "{}: {} of {} bytes verified by the end of the run{}",
                    flow.name,
                    flow.bytes,
                    flow.bytes_expected,
                    drop_text(&flow.forward)
                ),
            });
        }
    }
    verdicts.extend(overall_verdict(&policies, &verdicts));
    verdicts.extend(design_errors.into_iter().map(|message| Verdict {
        level: "design-error".into(),
        message,
    }));
    let sessions = plane
        .sessions()
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                plane.is_up(*s),
                plane.held_down(*s).map(str::to_string),
            )
        })
        .collect();
    let mut esp_sa: Vec<String> = topo.sas.iter().filter_map(wireshark_esp_sa_line).collect();
    let (ike, negotiated) = tunnel_reports(topo);
    esp_sa.extend(negotiated);
    RunReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        seed,
        virtual_s: topo.sim.now().as_secs_f64(),
        wall_s: started.elapsed().as_secs_f64(),
        frames,
        flows,
        faults,
        sessions,
        policies,
        nodes: [&topo.nodes.edge, &topo.nodes.msee, &topo.nodes.hub]
            .into_iter()
            .chain(topo.nodes.msee2.as_ref())
            .map(|node| node.counters())
            .collect(),
        reassembly: node_reassembly(topo),
        verdicts,
        notes,
        links,
        esp_sa,
        ike,
        captures,
        link_timeline: topo.sim.link_timeline(),
    }
}

/// Each node's reassembly, in the order of the report's `nodes`.
fn node_reassembly(topo: &Topology) -> Vec<NodeReassembly> {
    [topo.edge, topo.msee, topo.hub]
        .into_iter()
        .chain(topo.msee2)
        .filter_map(|id| topo.sim.device::<NodeDevice>(id))
        .map(|device| NodeReassembly {
            node: device.node().name().to_string(),
            stats: device.reassembly_stats(),
        })
        .collect()
}

/// The run's overall must-encrypt verdict, from the policy counters of both
/// edges: `ok` only when covered traffic flowed and none of it left in
/// plaintext (violations are named as dropped only when a fail-closed
/// policy dropped them); `unverified` when no covered packet flowed;
/// `leak` for plaintext no flow's verdict explains. `None` when a flow's
/// leak verdict already says it.
fn overall_verdict(policies: &[NodePolicies], verdicts: &[Verdict]) -> Option<Verdict> {
    if verdicts.iter().any(|v| v.level == "leak") {
        return None;
    }
    let all = || policies.iter().flat_map(|n| &n.policies);
    let encrypted: u64 = all().map(|p| p.encrypted).sum();
    let violations: u64 = all().map(|p| p.violations).sum();
    let dropped: u64 = all().map(|p| p.dropped).sum();
    let (level, message) = if violations > dropped {
        (
            "leak",
            format!(
                "{} packets covered by a must-encrypt policy left in plaintext ({violations} violations, {dropped} dropped)",
                violations - dropped
            ),
        )
    } else if encrypted == 0 && violations == 0 {
        (
            "unverified",
            "nothing verified: no packet covered by a must-encrypt policy crossed an edge".into(),
        )
    } else if violations == 0 {
        (
            "ok",
            format!(
                "no plaintext leak: {encrypted} policy-covered packets left encrypted, no violations"
            ),
        )
    } else {
        (
            "ok",
            format!(
                "no plaintext leak: {encrypted} policy-covered packets left encrypted; {violations} violations, all dropped by fail-closed policies (policy = \"drop\")"
            ),
        )
    };
    Some(Verdict {
        level: level.into(),
        message,
    })
}
