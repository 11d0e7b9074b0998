//! The page of `erdp replay`: frames in against their fates, drops and
//! deliveries by reason, per-interface counts, the policies, and every
//! flow with the path it took and its verdict (violations in red).

use serde::Serialize;

use super::page::{Fact, HtmlError, Page, Section};
use super::run::{PolicyRow, bytes_text};
use crate::replay::ReplayReport;
use crate::report::FlowReport;

/// Flows listed on the page; the rest are counted (a capture can hold
/// millions, report.json has them all).
pub(crate) const MAX_FLOW_ROWS: usize = 2000;

#[derive(Serialize)]
struct Count {
    reason: String,
    count: u64,
}

#[derive(Serialize)]
struct InterfaceRow {
    name: String,
    kind: &'static str,
    rx_packets: u64,
    rx_bytes: String,
    tx_packets: u64,
    tx_bytes: String,
    encrypted: u64,
    decrypted: u64,
}

#[derive(Serialize)]
struct FlowRow {
    flow: String,
    first_frame: u64,
    packets: u64,
    bytes: String,
    path: String,
    dropped: String,
    policy: String,
    verdict: &'static str,
    verdict_class: &'static str,
}

#[derive(Serialize)]
struct ViolationRow {
    policy: String,
    flow: String,
    egress: String,
    first_frame: u64,
    packets: u64,
    dropped: u64,
}

fn counts<'a>(map: impl IntoIterator<Item = (&'a String, &'a u64)>) -> Vec<Count> {
    let mut rows: Vec<Count> = map
        .into_iter()
        .map(|(reason, count)| Count {
            reason: reason.clone(),
            count: *count,
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    rows
}

fn flow_row(flow: &FlowReport) -> FlowRow {
    let path = if flow.totals.paths.is_empty() {
        if flow.totals.delivered > 0 {
            "delivered to the node".to_string()
        } else {
            "-".to_string()
        }
    } else {
        flow.totals
            .paths
            .iter()
            .map(|p| match (&p.tunnel, &p.spi) {
                (Some(tunnel), Some(spi)) => {
                    format!(
                        "{} ESP via {tunnel} SPI {spi} ({} pkts)",
                        p.egress, p.packets
                    )
                }
                _ => format!("{} {} ({} pkts)", p.egress, p.path, p.packets),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let dropped = flow
        .totals
        .drop_reasons
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let verdict_class = match flow.totals.verdict {
        "violation" if flow.totals.paths.iter().any(|p| p.path == "plain") => "leak",
        "violation" => "dropped",
        "encrypted" => "encrypted",
        "not_covered" => "not_covered",
        _ => "none",
    };
    FlowRow {
        flow: flow.id.flow.clone(),
        first_frame: flow.first_frame,
        packets: flow.totals.packets,
        bytes: bytes_text(flow.totals.bytes),
        path,
        dropped,
        policy: flow.totals.policy.clone().unwrap_or_default(),
        verdict: flow.totals.verdict,
        verdict_class,
    }
}

/// The page of a replay.
pub fn replay_page(report: &ReplayReport) -> Result<Page, HtmlError> {
    let summary = Section::from_template(
        "fates",
        "Frames and their fates",
        "replay_summary",
        &serde_json::json!({
            "packets_in": report.packets_in,
            "forwarded": report.forwarded,
            "delivered": report.delivered,
            "dropped": report.dropped,
            "conserved": if report.conserved { "yes" } else { "NO" },
            "conserved_class": if report.conserved { "ok" } else { "leak" },
            "drops": counts(&report.drops),
            "deliveries": counts(&report.deliveries),
        }),
    )?;
    let interfaces: Vec<InterfaceRow> = report
        .interfaces
        .iter()
        .map(|i| InterfaceRow {
            name: i.name.clone(),
            kind: i.kind,
            rx_packets: i.rx.packets,
            rx_bytes: bytes_text(i.rx.bytes),
            tx_packets: i.tx.packets,
            tx_bytes: bytes_text(i.tx.bytes),
            encrypted: i.encrypted.packets,
            decrypted: i.decrypted.packets,
        })
        .collect();
    let policies: Vec<PolicyRow> = report
        .policies
        .iter()
        .map(|p| PolicyRow::new(&report.node, p))
        .collect();
    let per_interface = Section::from_template(
        "interfaces",
        "Interfaces",
        "replay_interfaces",
        &serde_json::json!({ "interfaces": interfaces, "policies": policies }),
    )?;
    let violations: Vec<ViolationRow> = report
        .violations
        .iter()
        .take(MAX_FLOW_ROWS)
        .map(|v| ViolationRow {
            policy: v.policy.clone(),
            flow: v.id.flow.clone(),
            egress: v.egress.clone().unwrap_or_else(|| "-".into()),
            first_frame: v.first_frame,
            packets: v.packets,
            dropped: v.dropped,
        })
        .collect();
    let flows = Section::from_template(
        "flows",
        "Flows",
        "replay_flows",
        &serde_json::json!({
            "flows": report.flows.iter().take(MAX_FLOW_ROWS).map(flow_row).collect::<Vec<_>>(),
            "omitted": report.flows.len().saturating_sub(MAX_FLOW_ROWS),
            "violations": violations,
        }),
    )?;
    let leaked = report.violations.iter().any(|v| v.packets > v.dropped);
    let fail = leaked || !report.conserved;
    let status_text = if leaked {
        format!(
            "FAIL: {} policy violation(s) left in plaintext",
            report
                .violations
                .iter()
                .filter(|v| v.packets > v.dropped)
                .count()
        )
    } else if !report.conserved {
        "FAIL: frames not conserved (in != forwarded + delivered + dropped)".into()
    } else {
        "PASS: every frame accounted for, no plaintext policy violation".into()
    };
    Ok(Page {
        title: format!("erdp replay: {} through node {}", report.input, report.node),
        subtitle: format!("{} capture", report.input_format),
        status: if fail { "fail" } else { "ok" },
        status_text,
        facts: vec![
            Fact::new("frames in", report.packets_in),
            Fact::new("bytes in", bytes_text(report.bytes_in)),
            Fact::new("flows", report.flows.len()),
            Fact::new("violations", report.violations.len()),
        ],
        sections: vec![summary, per_interface, flows],
    })
}
