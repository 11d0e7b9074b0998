//! The page of `erdp run`: the verdict, the topology with each link
//! coloured by what crossed it, a throughput timeline per link with the
//! faults and BGP changes marked, the flows, the sessions and policies.

use serde::Serialize;

use super::chart::{Marker, MarkerKind, link_chart};
use super::ike::ike_section;
use super::page::{Fact, HtmlError, Page, Section};
use super::topology::topology_svg;
use crate::dataplane::PolicyCounters;
use crate::emu::LinkSeries;
use crate::scenario::{DirectionPath, FlowResult, RunReport, circuit_link_names};

/// What crossed a link, as its colour on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkUse {
    /// Only ESP (and non-IP control frames).
    Esp,
    /// Only plaintext IP.
    Plain,
    /// ESP and plaintext IP.
    Mixed,
    /// Plaintext that a must-encrypt policy covers: a leak.
    Leak,
    /// No IP traffic.
    Idle,
}

impl LinkUse {
    /// The CSS class and legend key.
    pub fn class(self) -> &'static str {
        match self {
            Self::Esp => "esp",
            Self::Plain => "plain",
            Self::Mixed => "mixed",
            Self::Leak => "leak",
            Self::Idle => "idle",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Esp => "ESP",
            Self::Plain => "plaintext",
            Self::Mixed => "ESP and plaintext",
            Self::Leak => "LEAK: covered plaintext",
            Self::Idle => "idle",
        }
    }
}

/// True when a direction leaked (covered plaintext forwarded) across the
/// circuit link at `slot`.
fn leaked_on(path: &DirectionPath, slot: usize) -> bool {
    path.violations > path.dropped_by_policy && path.plaintext.get(slot).is_some_and(|n| *n > 0)
}

/// What crossed each link of the report's timeline, in its order.
pub fn link_uses(report: &RunReport) -> Vec<(String, LinkUse)> {
    report
        .link_timeline
        .links
        .iter()
        .map(|series| (series.name.clone(), link_use(report, series)))
        .collect()
}

fn link_use(report: &RunReport, series: &LinkSeries) -> LinkUse {
    let slot = circuit_link_names().position(|name| name == series.name);
    let leak = slot.is_some_and(|slot| {
        report
            .flows
            .iter()
            .any(|f| leaked_on(&f.forward, slot) || leaked_on(&f.reverse, slot))
    });
    let esp: u64 = series.esp_bytes.iter().sum();
    let plain: u64 = series.plain_bytes.iter().sum();
    match (leak, esp > 0, plain > 0) {
        (true, _, _) => LinkUse::Leak,
        (false, true, true) => LinkUse::Mixed,
        (false, true, false) => LinkUse::Esp,
        (false, false, true) => LinkUse::Plain,
        (false, false, false) => LinkUse::Idle,
    }
}

/// Bytes in a short human form: `1.23 MB`.
pub(super) fn bytes_text(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

fn optional(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.digits$}"))
}

#[derive(Serialize)]
struct LinkRow {
    name: String,
    use_class: &'static str,
    use_text: &'static str,
    esp: String,
    plain: String,
    other: String,
    state: String,
}

#[derive(Serialize)]
struct TopologyContext {
    svg: String,
    links: Vec<LinkRow>,
}

/// The VPN tunnels of the run: one per gateway instance (a BGP session
/// each: `vpn`, and `vpn2` with an active-active gateway).
fn tunnels(report: &RunReport) -> usize {
    report
        .sessions
        .iter()
        .filter(|(name, ..)| name.starts_with("vpn"))
        .count()
}

fn topology_section(report: &RunReport, uses: &[(String, LinkUse)]) -> Result<Section, HtmlError> {
    let tunnel_esp = report.flows.iter().any(|f| {
        f.forward
            .encrypted
            .iter()
            .chain(&f.reverse.encrypted)
            .any(|n| *n > 0)
    });
    let links =
        report
            .link_timeline
            .links
            .iter()
            .zip(uses)
            .map(|(series, (_, link_use))| {
                let state = report.links.iter().find(|l| l.name == series.name).map_or(
                    String::new(),
                    |l| {
                        let state = if l.up { "up" } else { "down" };
                        if l.downs > 0 {
                            format!(
                                "{state}; went down {} time(s), {:.1} ms in all",
                                l.downs,
                                l.down_time_ns as f64 / 1e6
                            )
                        } else {
                            state.to_string()
                        }
                    },
                );
                LinkRow {
                    name: series.name.clone(),
                    use_class: link_use.class(),
                    use_text: link_use.text(),
                    esp: bytes_text(series.esp_bytes.iter().sum()),
                    plain: bytes_text(series.plain_bytes.iter().sum()),
                    other: bytes_text(series.other_bytes.iter().sum()),
                    state,
                }
            })
            .collect();
    let down: Vec<&str> = report
        .links
        .iter()
        .filter(|l| !l.up)
        .map(|l| l.name.as_str())
        .collect();
    let context = TopologyContext {
        svg: topology_svg(uses, &down, tunnel_esp, tunnels(report))?,
        links,
    };
    Section::from_template("topology", "Topology", "topology", &context)
}

#[derive(Serialize)]
struct ChartRow {
    link: String,
    use_class: &'static str,
    use_text: &'static str,
    peak: String,
    svg: String,
}

#[derive(Serialize)]
struct EventRow {
    number: usize,
    at: String,
    kind: &'static str,
    event: String,
    effect: String,
    lost: String,
    outage: String,
    lasted: String,
}

#[derive(Serialize)]
struct TimelineContext {
    bucket_ms: f64,
    charts: Vec<ChartRow>,
    events: Vec<EventRow>,
}

/// A fault record's kind: a BGP session change (the detection of a link
/// failure, a tunnel going down), an IKE event (a CHILD_SA installed) or a
/// fault of the timeline.
fn event_kind(event: &str) -> MarkerKind {
    if event.starts_with("BGP ") {
        MarkerKind::Bgp
    } else if event.starts_with("IKE ") {
        MarkerKind::Ike
    } else {
        MarkerKind::Fault
    }
}

fn timeline_section(report: &RunReport, uses: &[(String, LinkUse)]) -> Result<Section, HtmlError> {
    let timeline = &report.link_timeline;
    let markers: Vec<Marker> = report
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| f.at_ms > 0.0)
        .map(|(i, f)| Marker {
            at_s: f.at_ms / 1e3,
            label: (i + 1).to_string(),
            kind: event_kind(&f.event),
        })
        .collect();
    let charts = timeline
        .links
        .iter()
        .zip(uses)
        .map(|(series, (_, link_use))| {
            let chart = link_chart(series, timeline.bucket_ms, report.virtual_s, &markers)?;
            Ok(ChartRow {
                link: series.name.clone(),
                use_class: link_use.class(),
                use_text: link_use.text(),
                peak: format!("{:.1} Mb/s", chart.peak_mbps),
                svg: chart.svg,
            })
        })
        .collect::<Result<Vec<_>, HtmlError>>()?;
    let events = report
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| EventRow {
            number: i + 1,
            at: format!("{:.1}", f.at_ms),
            kind: match event_kind(&f.event) {
                MarkerKind::Bgp => "bgp",
                MarkerKind::Fault => "fault",
                MarkerKind::Ike => "ike",
            },
            event: f.event.clone(),
            effect: f.effect.clone(),
            lost: f.frames_lost.map_or("-".into(), |n| n.to_string()),
            outage: optional(f.outage_ms, 1),
            lasted: optional(f.lasted_ms, 1),
        })
        .collect();
    let context = TimelineContext {
        bucket_ms: timeline.bucket_ms,
        charts,
        events,
    };
    Section::from_template("timeline", "Timeline per link", "timeline", &context)
}

#[derive(Serialize)]
struct FlowRow {
    name: String,
    kind: String,
    direction: String,
    data_path: String,
    return_path: String,
    bytes: String,
    goodput: String,
    loss: String,
    latency: String,
    verdict: &'static str,
    verdict_class: &'static str,
    note: String,
}

/// A flow's verdict on the page: (text and class, a note).
fn flow_verdict(flow: &FlowResult) -> (&'static str, String) {
    let dropped = flow.forward.dropped_by_policy + flow.reverse.dropped_by_policy;
    let note = if dropped > 0 {
        format!("{dropped} plaintext packets dropped by policy")
    } else {
        String::new()
    };
    let plain = |d: &DirectionPath| d.plaintext.iter().any(|n| *n > 0);
    let esp = |d: &DirectionPath| d.encrypted.iter().any(|n| *n > 0);
    // Encrypted: ESP and no plaintext on the circuit, either way (a UDP
    // flow has no return direction).
    let encrypted = !plain(&flow.forward)
        && !plain(&flow.reverse)
        && (esp(&flow.forward) || esp(&flow.reverse));
    let verdict = if flow.leaked() {
        "leak"
    } else if flow.verified == Some(false) {
        "failed"
    } else if encrypted {
        "encrypted"
    } else if dropped > 0 {
        "dropped"
    } else if plain(&flow.forward) || plain(&flow.reverse) {
        "plain"
    } else {
        "none"
    };
    (verdict, note)
}

fn path_text(path: &DirectionPath) -> String {
    let mut text = path.describe();
    if path.violations > path.dropped_by_policy {
        text.push_str(" LEAK");
    }
    text
}

fn flow_row(flow: &FlowResult) -> FlowRow {
    let (verdict, note) = flow_verdict(flow);
    FlowRow {
        name: flow.name.clone(),
        kind: flow.kind.clone(),
        direction: flow.direction.clone(),
        data_path: path_text(&flow.forward),
        return_path: path_text(&flow.reverse),
        bytes: match flow.verified {
            Some(true) => format!("{} verified", bytes_text(flow.bytes)),
            Some(false) => format!(
                "{} of {} NOT verified",
                bytes_text(flow.bytes),
                bytes_text(flow.bytes_expected)
            ),
            None => bytes_text(flow.bytes),
        },
        goodput: flow
            .throughput_bps
            .map_or("-".into(), |b| format!("{:.1} Mb/s", b / 1e6)),
        loss: if flow.sent > 0 {
            format!("{}/{}", flow.lost, flow.sent)
        } else {
            "-".into()
        },
        latency: flow
            .latency_ms
            .map_or("-".into(), |(mean, max)| format!("{mean:.2}/{max:.2} ms")),
        verdict,
        verdict_class: verdict,
        note,
    }
}

#[derive(Serialize)]
struct SessionRow {
    name: String,
    state: &'static str,
    why: String,
}

/// A must-encrypt policy's counters as a table row (red when a violation
/// was forwarded).
#[derive(Serialize)]
pub(super) struct PolicyRow {
    node: String,
    name: String,
    class: &'static str,
    encrypted: u64,
    violations: u64,
    dropped: u64,
}

impl PolicyRow {
    pub(super) fn new(node: &str, policy: &PolicyCounters) -> Self {
        Self {
            node: node.to_string(),
            name: policy.name.clone(),
            class: if policy.violations > policy.dropped {
                "leak"
            } else {
                "ok"
            },
            encrypted: policy.encrypted,
            violations: policy.violations,
            dropped: policy.dropped,
        }
    }
}

#[derive(Serialize)]
struct ControlContext {
    sessions: Vec<SessionRow>,
    policies: Vec<PolicyRow>,
}

fn control_section(report: &RunReport) -> Result<Section, HtmlError> {
    let sessions = report
        .sessions
        .iter()
        .map(|(name, up, why)| SessionRow {
            name: name.clone(),
            state: if *up { "up" } else { "down" },
            why: why.clone().unwrap_or_default(),
        })
        .collect();
    let policies = report
        .policies
        .iter()
        .flat_map(|node| node.policies.iter().map(|p| PolicyRow::new(&node.node, p)))
        .collect();
    let context = ControlContext { sessions, policies };
    Section::from_template("control", "BGP sessions and policies", "control", &context)
}

/// The page of a scenario run.
pub fn run_page(report: &RunReport) -> Result<Page, HtmlError> {
    let uses = link_uses(report);
    let notes = report
        .notes
        .iter()
        .map(|note| serde_json::json!({ "level": "note", "message": note }));
    let verdicts = Section::from_template(
        "verdicts",
        "Policy verdicts",
        "verdicts",
        &serde_json::json!({ "verdicts": report.verdicts.iter().map(|v| serde_json::json!(v)).chain(notes).collect::<Vec<_>>() }),
    )?;
    let flows = Section::from_template(
        "flows",
        "Flows",
        "flows",
        &serde_json::json!({ "flows": report.flows.iter().map(flow_row).collect::<Vec<_>>() }),
    )?;
    let leaks = report.flows.iter().filter(|f| f.leaked()).count();
    let status_text = if report.failed() {
        let failed = report
            .verdicts
            .iter()
            .filter(|v| v.level == "failed")
            .count();
        format!("FAIL: {leaks} flow(s) leaked plaintext, {failed} transfer(s) not verified")
    } else {
        "PASS: no plaintext leak, every transfer verified".to_string()
    };
    Ok(Page {
        title: format!("erdp run: {}", report.scenario),
        subtitle: report.description.clone(),
        status: if report.failed() { "fail" } else { "ok" },
        status_text,
        facts: vec![
            Fact::new("seed", report.seed),
            Fact::new("virtual time", format!("{:.1} s", report.virtual_s)),
            Fact::new("wall time", format!("{:.2} s", report.wall_s)),
            Fact::new("frames across links", report.frames),
            Fact::new("flows", report.flows.len()),
        ],
        sections: [
            Some(verdicts),
            Some(topology_section(report, &uses)?),
            Some(timeline_section(report, &uses)?),
            Some(flows),
            Some(control_section(report)?),
            ike_section(report)?,
        ]
        .into_iter()
        .flatten()
        .collect(),
    })
}
