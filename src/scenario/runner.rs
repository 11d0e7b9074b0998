//! The runner: builds a scenario's topology, installs the routes the BGP
//! sessions carry, adds the traffic, plays the fault timeline in virtual
//! time (BGP sessions follow link failures after the detection time),
//! measures outages, and gathers the [`RunReport`].

use std::fmt::Write as _;
use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use etherparse::IpNumber;

use super::ScenarioError;
use super::bgp::{ControlPlane, RouteCounts, SessionId};
use super::findings::{finish, flow_report};
use super::model::{FaultKind, Flow, FlowKind, Scenario, Side};
use super::recursion::{Recursion, tunnel_recursions};
use super::report::{FaultRecord, FlowResult, RunReport};
use super::topology::{CIRCUITS, Topology, build};
use crate::emu::app::{
    Ping, PingConfig, TcpBulk, TcpBulkConfig, UdpReceiver, UdpReceiverConfig, UdpSender,
    UdpSenderConfig,
};
use crate::emu::host::FlowMatch;
use crate::emu::link::DEFAULT_BUCKET;
use crate::emu::{Action, AppId, CapturePoint, DeviceId, Host, LinkCapture, LinkId, SimTime};
use crate::output::OutputDir;

/// The report in the output directory.
pub const REPORT_FILE: &str = "report.json";

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where `report.json` and the pcaps go (`None`: nowhere); written
    /// all or nothing ([`OutputDir`]).
    pub out_dir: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// A page rendered from the finished report (file name and renderer),
    /// written beside `report.json` in the same all-or-nothing commit.
    pub page: Option<(&'static str, PageRenderer)>,
}

/// Renders a page (e.g. `report.html`) from a finished run's report.
pub type PageRenderer = fn(&RunReport) -> Result<String, String>;

/// The apps of one flow.
#[derive(Debug, Clone, Copy)]
pub(super) enum Apps {
    Tcp {
        client: (DeviceId, AppId),
        server: (DeviceId, AppId),
    },
    Ping((DeviceId, AppId)),
    Udp {
        sender: (DeviceId, AppId),
        receiver: (DeviceId, AppId),
    },
}

/// One flow's identity on the wire and its apps.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowPlan {
    pub(super) apps: Apps,
    pub(super) protocol: IpNumber,
    /// Source and destination ports of the data direction (ICMP: the
    /// identifier, 0).
    pub(super) ports: (u16, u16),
    pub(super) from: IpAddr,
    pub(super) to: IpAddr,
    /// The receiving host and the index of its DSCP check.
    pub(super) dscp_check: Option<(DeviceId, usize)>,
}

/// A scheduled happening of the run.
#[derive(Debug, Clone)]
enum Happening {
    /// A link changed state (the simulator does it; this records it).
    Link {
        link: usize,
        up: bool,
        fault: String,
    },
    /// A BGP session changes, if the link it rides is (still) in `needs`.
    Session {
        session: SessionId,
        up: bool,
        needs: Option<(usize, bool)>,
        cause: String,
    },
    /// A route change: the index of its `[[fault]]`.
    Route(usize),
}

/// An open outage on a link.
#[derive(Debug, Clone, Copy)]
struct Outage {
    record: usize,
    since: SimTime,
    drops_at_start: u64,
    drops_seen: u64,
    last_loss: Option<SimTime>,
}

fn ms(at: u64) -> SimTime {
    SimTime::ZERO + Duration::from_millis(at)
}

fn to_ms(time: SimTime) -> f64 {
    time.as_secs_f64() * 1e3
}

fn link_index(topo: &Topology, name: &str) -> usize {
    topo.link_names.iter().position(|n| *n == name).unwrap_or(0)
}

/// The links a fault's `link` names: one link, or both links of a circuit
/// (`circuit-1`, `circuit-2`).
pub(super) fn fault_links(link: &str) -> Vec<&str> {
    match CIRCUITS.iter().find(|circuit| circuit.fault_name == link) {
        Some(circuit) => circuit.links.to_vec(),
        None => vec![link],
    }
}

/// The BFD/hold-time detection of the circuit that `link` belongs to.
fn detection_ms(scenario: &Scenario, link: &str) -> u64 {
    scenario
        .circuits()
        .zip(&CIRCUITS)
        .find(|(_, layout)| layout.links.contains(&link))
        .map_or(scenario.circuit.detection_ms(), |(circuit, _)| {
            circuit.detection_ms()
        })
}

/// The timeline: link actions go to the simulator; every happening is
/// returned in time order.
fn timeline(
    scenario: &Scenario,
    topo: &mut Topology,
) -> Result<Vec<(SimTime, Happening)>, ScenarioError> {
    let mut out = Vec::new();
    let link_change = |out: &mut Vec<(SimTime, Happening)>,
                       topo: &mut Topology,
                       at: u64,
                       name: &str,
                       up: bool,
                       fault: String|
     -> Result<(), ScenarioError> {
        let index = link_index(topo, name);
        let id = topo.links.get(index).copied().unwrap_or(LinkId(0));
        let action = if up {
            Action::LinkUp(id)
        } else {
            Action::LinkDown(id)
        };
        topo.sim
            .schedule(ms(at), action)
            .map_err(|e| ScenarioError::invalid(name, e.to_string()))?;
        out.push((
            ms(at),
            Happening::Link {
                link: index,
                up,
                fault: fault.clone(),
            },
        ));
        if let Some(session) = SessionId::of_link(name) {
            let detect = detection_ms(scenario, name);
            out.push((
                ms(at + detect),
                Happening::Session {
                    session,
                    up,
                    needs: Some((index, up)),
                    cause: format!("{fault} + {detect} ms detection"),
                },
            ));
        }
        Ok(())
    };
    for (index, fault) in scenario.faults.iter().enumerate() {
        let link = fault.link.clone().unwrap_or_default();
        match fault.kind {
            FaultKind::Advertise
            | FaultKind::Withdraw
            | FaultKind::Prepend
            | FaultKind::LocalPref => out.push((ms(fault.at_ms), Happening::Route(index))),
            FaultKind::TunnelDown | FaultKind::TunnelUp => {
                let up = fault.kind == FaultKind::TunnelUp;
                out.push((
                    ms(fault.at_ms),
                    Happening::Session {
                        session: SessionId::Vpn,
                        up,
                        needs: None,
                        cause: format!("tunnel {}", if up { "up" } else { "down" }),
                    },
                ));
            }
            FaultKind::LinkDown | FaultKind::LinkUp => {
                let up = fault.kind == FaultKind::LinkUp;
                for name in fault_links(&link) {
                    let what = format!("link {name} {}", if up { "up" } else { "down" });
                    link_change(&mut out, topo, fault.at_ms, name, up, what)?;
                }
            }
            FaultKind::Flap => {
                let cycle = fault.down_ms + fault.up_ms;
                for k in 0..u64::from(fault.count) {
                    let down = fault.at_ms + k * cycle;
                    for name in fault_links(&link) {
                        let what = format!("flap {}/{} of {name}", k + 1, fault.count);
                        link_change(&mut out, topo, down, name, false, format!("{what}: down"))?;
                        link_change(
                            &mut out,
                            topo,
                            down + fault.down_ms,
                            name,
                            true,
                            format!("{what}: up"),
                        )?;
                    }
                }
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out)
}

fn addresses(scenario: &Scenario, side: Side) -> (IpAddr, IpAddr) {
    let (onprem, azure) = (scenario.onprem.host.addr(), scenario.azure.host.addr());
    match side {
        Side::Onprem => (onprem, azure),
        Side::Azure => (azure, onprem),
    }
}

fn add_app(
    topo: &mut Topology,
    host: DeviceId,
    app: Box<dyn crate::emu::app::App>,
) -> Result<AppId, ScenarioError> {
    topo.sim
        .update::<Host, _>(host, |h| h.add_app(app))
        .ok_or_else(|| ScenarioError::invalid("host", "not a host".into()))?
        .map_err(|e| ScenarioError::invalid("flow", e.to_string()))
}

fn plan_flow(
    scenario: &Scenario,
    topo: &mut Topology,
    index: usize,
    flow: &Flow,
    seed: u64,
) -> Result<FlowPlan, ScenarioError> {
    let (from, to) = addresses(scenario, flow.from);
    let host_of = |side: Side| match side {
        Side::Onprem => topo.onprem_host,
        Side::Azure => topo.azure_host,
    };
    let (src_host, dst_host) = (host_of(flow.from), host_of(flow.from.peer()));
    let start = ms(flow.start_ms);
    let interval = Duration::from_secs_f64(flow.interval_ms / 1e3);
    let port = if flow.port == 0 {
        5000 + index as u16
    } else {
        flow.port
    };
    let local_port = 40000 + index as u16;
    let (apps, protocol, ports) = match flow.kind {
        FlowKind::Tcp => {
            let (mut client, server) = TcpBulkConfig::pair(
                &flow.name,
                SocketAddr::new(to, port),
                local_port,
                flow.bytes,
                0,
                seed,
            );
            client.start_at = start;
            let server = add_app(topo, dst_host, Box::new(TcpBulk::new(server)))?;
            let client = add_app(topo, src_host, Box::new(TcpBulk::new(client)))?;
            let apps = Apps::Tcp {
                client: (src_host, client),
                server: (dst_host, server),
            };
            (apps, IpNumber::TCP, (local_port, port))
        }
        FlowKind::Ping => {
            let ident = index as u16 + 1;
            let mut config =
                PingConfig::new(&flow.name, to, flow.count.min(u64::from(u32::MAX)) as u32);
            config.interval = interval;
            config.payload_len = flow.payload;
            config.start_at = start;
            config.ident = ident;
            let id = add_app(topo, src_host, Box::new(Ping::new(config)))?;
            let protocol = if to.is_ipv4() {
                IpNumber::ICMP
            } else {
                IpNumber::IPV6_ICMP
            };
            (Apps::Ping((src_host, id)), protocol, (ident, 0))
        }
        FlowKind::Udp => {
            let receiver = add_app(
                topo,
                dst_host,
                Box::new(UdpReceiver::new(UdpReceiverConfig {
                    name: format!("{} receiver", flow.name),
                    port,
                    expect_count: flow.count,
                    max_payload_len: flow.payload.max(16),
                })),
            )?;
            let sender = add_app(
                topo,
                src_host,
                Box::new(UdpSender::new(UdpSenderConfig {
                    name: flow.name.clone(),
                    target: SocketAddr::new(to, port),
                    local_port,
                    count: flow.count,
                    interval,
                    payload_len: flow.payload,
                    start_at: start,
                })),
            )?;
            let apps = Apps::Udp {
                sender: (src_host, sender),
                receiver: (dst_host, receiver),
            };
            (apps, IpNumber::UDP, (local_port, port))
        }
    };
    let mut dscp_check = None;
    if flow.dscp != 0 {
        let matcher = match flow.kind {
            FlowKind::Tcp => FlowMatch::tcp_to(port),
            FlowKind::Udp => FlowMatch::udp_to(port),
            FlowKind::Ping => FlowMatch {
                protocol: Some(protocol.0),
                ..FlowMatch::default()
            },
        };
        let dscp = flow.dscp;
        let marked = topo
            .sim
            .update::<Host, _>(src_host, |h| h.mark_dscp(matcher, dscp));
        let checked = topo.sim.update::<Host, _>(dst_host, |h| {
            h.check_dscp(matcher, dscp)
                .map(|()| h.dscp_checks().len().saturating_sub(1))
        });
        match (marked, checked) {
            (Some(Ok(())), Some(Ok(slot))) => dscp_check = Some((dst_host, slot)),
            (Some(Err(e)), _) | (_, Some(Err(e))) => {
                return Err(ScenarioError::invalid(&flow.name, e.to_string()));
            }
            _ => {}
        }
    }
    Ok(FlowPlan {
        apps,
        protocol,
        ports,
        from,
        to,
        dscp_check,
    })
}

/// One pcap per link, written under temporary names in `out`.
fn open_captures(topo: &mut Topology, out: &mut OutputDir) -> Result<Vec<String>, ScenarioError> {
    let mut files = Vec::new();
    for (index, name) in topo.link_names.iter().enumerate() {
        let file_name = format!("{name}.pcap");
        let path = out.path(&file_name).display().to_string();
        let file = BufWriter::new(out.create(&file_name)?);
        let capture = LinkCapture::new(Box::new(file), path.clone(), CapturePoint::Receive)
            .map_err(|e| ScenarioError::Output {
                path: e.path.clone(),
                reason: e.reason,
            })?;
        if let Some(&link) = topo.links.get(index) {
            topo.sim
                .capture(link, capture)
                .map_err(|e| ScenarioError::invalid(name, e.to_string()))?;
        }
        files.push(path);
    }
    Ok(files)
}

fn link_down_drops(topo: &Topology, index: usize) -> u64 {
    topo.links
        .get(index)
        .and_then(|&id| topo.sim.link(id))
        .map_or(0, |link| {
            let report = link.report(topo.sim.now());
            report.a_to_b.dropped.link_down + report.b_to_a.dropped.link_down
        })
}

fn counts_text(before: RouteCounts, after: RouteCounts) -> String {
    let mut text = format!(
        "BGP routes: onprem-edge {}->{}, msee {}->{}, azure-hub {}->{}",
        before.edge, after.edge, before.msee, after.msee, before.hub, after.hub
    );
    if let Some(msee2) = after.msee2 {
        let _ = write!(text, ", msee2 {}->{msee2}", before.msee2.unwrap_or(0));
    }
    text
}

/// Whether every flow's traffic is over (TCP verified, probes sent and
/// given two seconds to come back).
fn traffic_done(topo: &Topology, plans: &[FlowPlan], probes_end: SimTime) -> bool {
    if topo.sim.now() < probes_end {
        return false;
    }
    plans.iter().all(|plan| match plan.apps {
        Apps::Tcp { server, .. } => topo
            .sim
            .device::<Host>(server.0)
            .and_then(|h| h.tcp_bulk_report(server.1))
            .is_some_and(|r| r.receive_verified()),
        _ => true,
    })
}

/// Runs `scenario` and reports.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunReport, ScenarioError> {
    scenario.validate()?;
    let started = Instant::now();
    let seed = options.seed.unwrap_or(scenario.seed);
    let mut topo = build(scenario, seed)?;
    topo.sim.record_series(DEFAULT_BUCKET);
    let mut plane = ControlPlane::new(scenario);
    let limited = plane.check_limits();
    let mut counts = plane.apply(&topo.nodes);
    let mut faults = vec![FaultRecord {
        at_ms: 0.0,
        event: "BGP sessions established".into(),
        effect: counts_text(RouteCounts::default(), counts),
        routes: Some(counts),
        frames_lost: None,
        outage_ms: None,
        lasted_ms: None,
    }];
    for (event, effect) in limited {
        let mut record = record_of(SimTime::ZERO, event, effect);
        record.routes = Some(counts);
        faults.push(record);
    }
    let mut recursions = Recursions::default();
    recursions.check(&topo, SimTime::ZERO);
    let mut out = match &options.out_dir {
        Some(dir) => Some(OutputDir::prepare(dir)?),
        None => None,
    };
    let captures = match out.as_mut() {
        Some(out) => open_captures(&mut topo, out)?,
        None => Vec::new(),
    };
    let mut plans = Vec::new();
    let mut probes_end = SimTime::ZERO;
    for (index, flow) in scenario.flows.iter().enumerate() {
        plans.push(plan_flow(scenario, &mut topo, index, flow, seed)?);
        if flow.kind != FlowKind::Tcp {
            let span = flow.interval_ms * flow.count as f64 + 2000.0;
            probes_end = probes_end.max(ms(flow.start_ms) + Duration::from_secs_f64(span / 1e3));
        }
    }
    let happenings = timeline(scenario, &mut topo)?;
    let end = ms(scenario.duration_ms);
    let progress = options.progress.then(|| {
        let bar = indicatif::ProgressBar::new(scenario.duration_ms);
        bar.set_message("virtual ms");
        bar
    });

    let mut outages: Vec<Option<Outage>> = vec![None; topo.links.len()];
    let mut vpn_down: Option<(usize, SimTime)> = None;
    let mut next = 0usize;
    loop {
        let pending = happenings.get(next).map(|(at, _)| *at);
        if pending.is_none() && traffic_done(&topo, &plans, probes_end) {
            break;
        }
        if topo.sim.now() >= end {
            break;
        }
        let any_down = outages.iter().any(Option::is_some);
        let step = if any_down {
            Duration::from_micros(500)
        } else {
            Duration::from_millis(20)
        };
        let mut target = (topo.sim.now() + step).min(end);
        if let Some(at) = pending {
            target = target.min(at);
        }
        topo.sim.run_until(target);
        if let Some(bar) = &progress {
            bar.set_position(to_ms(topo.sim.now()) as u64);
        }
        for (index, outage) in outages.iter_mut().enumerate() {
            if let Some(outage) = outage {
                let drops = link_down_drops(&topo, index);
                if drops > outage.drops_seen {
                    outage.drops_seen = drops;
                    outage.last_loss = Some(topo.sim.now());
                }
            }
        }
        while let Some((at, happening)) = happenings.get(next) {
            if *at > topo.sim.now() {
                break;
            }
            next += 1;
            let now = topo.sim.now();
            match happening {
                Happening::Link { link, up, fault } => {
                    let drops = link_down_drops(&topo, *link);
                    if *up {
                        if let Some(outage) = outages.get_mut(*link).and_then(Option::take)
                            && let Some(record) = faults.get_mut(outage.record)
                        {
                            record.frames_lost = Some(drops - outage.drops_at_start);
                            record.outage_ms = Some(
                                outage
                                    .last_loss
                                    .map_or(0.0, |t| to_ms(t) - to_ms(outage.since)),
                            );
                            record.lasted_ms = Some(to_ms(now) - to_ms(outage.since));
                        }
                        faults.push(record_of(now, fault.clone(), "carrier back".into()));
                    } else {
                        let name = topo.link_names.get(*link).copied().unwrap_or("?");
                        faults.push(record_of(
                            now,
                            fault.clone(),
                            format!("{name} drops every frame"),
                        ));
                        if let Some(slot) = outages.get_mut(*link) {
                            *slot = Some(Outage {
                                record: faults.len() - 1,
                                since: now,
                                drops_at_start: drops,
                                drops_seen: drops,
                                last_loss: None,
                            });
                        }
                    }
                }
                Happening::Session {
                    session,
                    up,
                    needs,
                    cause,
                } => {
                    let link_ok = needs.is_none_or(|(link, want_up)| {
                        topo.links
                            .get(link)
                            .and_then(|&id| topo.sim.link(id))
                            .is_some_and(|l| l.is_up() == want_up)
                    });
                    if !link_ok || !plane.set(*session, *up) {
                        continue;
                    }
                    let after = plane.apply(&topo.nodes);
                    recursions.check(&topo, now);
                    let state = if *up { "up" } else { "DOWN" };
                    let mut record = record_of(
                        now,
                        format!("BGP {} {state}", session.as_str()),
                        format!("{cause}: {}", counts_text(counts, after)),
                    );
                    record.routes = Some(after);
                    counts = after;
                    faults.push(record);
                    if *session == SessionId::Vpn {
                        if *up {
                            if let Some((index, since)) = vpn_down.take()
                                && let Some(r) = faults.get_mut(index)
                            {
                                r.lasted_ms = Some(to_ms(now) - to_ms(since));
                            }
                        } else {
                            vpn_down = Some((faults.len() - 1, now));
                        }
                    }
                }
                Happening::Route(index) => {
                    let Some(fault) = scenario.faults.get(*index) else {
                        continue;
                    };
                    let what = plane.change(fault);
                    let limited = plane.check_limits();
                    let after = plane.apply(&topo.nodes);
                    recursions.check(&topo, now);
                    let mut record = record_of(
                        now,
                        format!("route change: {what}"),
                        counts_text(counts, after),
                    );
                    record.routes = Some(after);
                    counts = after;
                    faults.push(record);
                    for (event, effect) in limited {
                        let mut record = record_of(now, event, effect);
                        record.routes = Some(after);
                        faults.push(record);
                    }
                }
            }
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    for (index, outage) in outages.iter().enumerate() {
        if let Some(outage) = outage
            && let Some(record) = faults.get_mut(outage.record)
        {
            record.frames_lost = Some(link_down_drops(&topo, index) - outage.drops_at_start);
            record.outage_ms = outage.last_loss.map(|t| to_ms(t) - to_ms(outage.since));
        }
    }
    // A capture that failed (disk full, file size limit) fails the run:
    // its pcap is cut short.
    let written = topo.sim.finish_captures();
    if let Some(error) = written.into_iter().find_map(|(_, result)| result.err()) {
        return Err(ScenarioError::Output {
            path: error.path,
            reason: error.reason,
        });
    }
    let notes = plane.notes.clone();
    let flows: Vec<FlowResult> = scenario
        .flows
        .iter()
        .zip(&plans)
        .map(|(flow, plan)| flow_report(&topo, flow, plan))
        .collect();
    let report = finish(
        scenario,
        seed,
        &topo,
        &plane,
        flows,
        faults,
        notes,
        recursions.messages(),
        captures,
        started,
    );
    if let Some(mut out) = out {
        write_json(&mut out, &report)?;
        if let Some((name, render)) = options.page {
            let page = render(&report).map_err(|reason| ScenarioError::Output {
                path: out.path(name).display().to_string(),
                reason,
            })?;
            out.write(name, page.as_bytes())?;
        }
        out.commit()?;
    }
    Ok(report)
}

/// Tunnel recursions found after each route installation, each with the
/// virtual time it was first seen.
#[derive(Debug, Default)]
struct Recursions(Vec<(Recursion, SimTime)>);

impl Recursions {
    fn check(&mut self, topo: &Topology, now: SimTime) {
        for found in tunnel_recursions(&topo.nodes) {
            if !self.0.iter().any(|(r, _)| *r == found) {
                self.0.push((found, now));
            }
        }
    }

    fn messages(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(r, since)| r.message(to_ms(*since)))
            .collect()
    }
}

fn record_of(at: SimTime, event: String, effect: String) -> FaultRecord {
    FaultRecord {
        at_ms: to_ms(at),
        event,
        effect,
        routes: None,
        frames_lost: None,
        outage_ms: None,
        lasted_ms: None,
    }
}

fn write_json(out: &mut OutputDir, report: &RunReport) -> Result<(), ScenarioError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| ScenarioError::Output {
        path: out.path(REPORT_FILE).display().to_string(),
        reason: e.to_string(),
    })?;
    out.write(REPORT_FILE, text.as_bytes())?;
    Ok(())
}
