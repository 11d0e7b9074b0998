//! `erdp attach`: runs one forwarding node between real Linux devices.
//! Every Ethernet interface of the node config is bound to a device
//! (AF_PACKET through pnet or recvmmsg/sendmmsg, or a TAP erdp creates);
//! frames are forwarded until SIGINT/SIGTERM, then the counters are
//! printed and written to a JSON report.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::EXIT_CHECK_FAILED;
use super::error::{self, CliError};
use super::stdout::out;
use crate::config::NodeConfig;
use crate::control::{ControlCounters, ControlPlane, IkeTunnel, TunnelReport};
use crate::dataplane::{Node, NodeCounters, TrafficCounters};
use crate::driver::{HandlerCounters, NodeHandler, PortSet, RunSummary, check_bindings};
use crate::esp::SaStats;
use crate::port::{
    AfPacketBackend, BindSpec, DeviceKind, OpenOptions, PortCounters, Shutdown, TapConfig,
};

/// Longest idle sleep: how late a shutdown request may be seen.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Arguments of `erdp attach`.
#[derive(Debug, Args)]
#[command(
    after_help = "Run it inside the devices' network namespace (`ip netns exec NS erdp \
attach ...`). Turn offloads off on veths first: `ethtool -K DEV tx off tso off gso off gro off`. \
Stop with Ctrl-C or SIGTERM; exit 0 after a clean stop."
)]
pub(crate) struct AttachArgs {
    /// The node configuration (TOML), as for `erdp replay`.
    #[arg(long, value_name = "NODE.toml")]
    pub config: PathBuf,
    /// Binds a node interface to a Linux device through AF_PACKET
    /// (`IFACE=DEVICE`), or to a TAP device (`IFACE=tap:NAME`). Every
    /// Ethernet interface needs one; esp-tunnel interfaces take none.
    #[arg(long = "bind", value_name = "IFACE=DEVICE")]
    pub bind: Vec<BindSpec>,
    /// Binds a node interface to a TAP device erdp creates (and brings up).
    #[arg(long = "tap", value_name = "IFACE=NAME", value_parser = parse_tap)]
    pub tap: Vec<BindSpec>,
    /// How AF_PACKET devices move frames.
    #[arg(long, value_enum, default_value_t = Backend::Pnet)]
    pub backend: Backend,
    /// Captures each interface's frames (both directions) to DIR/IFACE.pcap.
    #[arg(long, value_name = "DIR")]
    pub capture_dir: Option<PathBuf>,
    /// Writes the counters as JSON to FILE at the end.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Frames taken from a port per turn.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub batch: u16,
}

/// AF_PACKET backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Backend {
    /// pnet's datalink channel: one frame per syscall.
    Pnet,
    /// recvmmsg/sendmmsg: up to 64 frames per syscall.
    Mmsg,
}

fn parse_tap(text: &str) -> Result<BindSpec, String> {
    let (interface, name) = text
        .split_once('=')
        .ok_or_else(|| format!("bad --tap {text:?}: no '=' (expected IFACE=NAME)"))?;
    format!("{interface}=tap:{name}")
        .parse()
        .map_err(|error: crate::port::PortError| error.to_string())
}

/// One binding, as reported.
#[derive(Debug, Serialize)]
struct BindingReport {
    interface: String,
    device: String,
    kind: &'static str,
}

/// An SA's counters, as reported (no keys).
#[derive(Debug, Serialize)]
struct SaReport {
    interface: String,
    outbound: SaStats,
    inbound: SaStats,
}

/// A port's counters, as reported.
#[derive(Debug, Serialize)]
struct PortReport {
    name: String,
    #[serde(flatten)]
    counters: PortCounters,
}

/// The JSON report.
#[derive(Debug, Serialize)]
struct Report {
    node: String,
    backend: Backend,
    bindings: Vec<BindingReport>,
    /// "signal", or the error that stopped the loop.
    stopped_by: String,
    run: RunSummary,
    counters: NodeCounters,
    sas: Vec<SaReport>,
    ports: Vec<PortReport>,
    sent: HandlerCounters,
    capture_errors: Vec<String>,
    /// Tunnels keyed by IKE (absent for a node without `ike` tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    ike: Option<IkeReport>,
}

/// The control plane's tunnels, as reported (no keys).
#[derive(Debug, Serialize)]
struct IkeReport {
    counters: ControlCounters,
    tunnels: Vec<TunnelReport>,
}

impl IkeReport {
    fn of(control: &ControlPlane) -> IkeReport {
        IkeReport {
            counters: control.counters(),
            tunnels: control.tunnels().iter().map(IkeTunnel::report).collect(),
        }
    }
}

/// Runs `erdp attach`.
pub(crate) fn run(args: AttachArgs) -> ExitCode {
    error::exit("attach", attach(args))
}

/// Setup errors are returned (exit 2); once forwarding, the run ends in
/// a report whatever happens.
fn attach(args: AttachArgs) -> Result<ExitCode, CliError> {
    let config = NodeConfig::load(&args.config)?;
    let node = std::sync::Arc::new(Node::new(config)?);
    let specs: Vec<BindSpec> = args.bind.iter().chain(&args.tap).cloned().collect();
    BindSpec::check_unique(&specs)?;
    let names: Vec<&str> = specs.iter().map(|s| s.interface.as_str()).collect();
    check_bindings(&node, &names)?;

    let mut options = OpenOptions {
        tap: TapConfig {
            up: true,
            ..TapConfig::default()
        },
        capture_dir: args.capture_dir.clone(),
        ..OpenOptions::default()
    };
    options.af_packet.backend = match args.backend {
        Backend::Pnet => AfPacketBackend::Pnet,
        Backend::Mmsg => AfPacketBackend::Mmsg,
    };
    if let Some(dir) = &args.capture_dir {
        fs::create_dir_all(dir).map_err(|e| {
            CliError::File(format!(
                "cannot create capture directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let shutdown = Shutdown::on_signals()
        .map_err(|e| CliError::System(format!("cannot handle SIGINT/SIGTERM: {e}")))?;
    let batch = usize::from(args.batch);
    let mut ports = PortSet::new(batch, IDLE_WAIT);
    for spec in &specs {
        ports.add(spec.open(&options)?);
    }
    let mut handler = NodeHandler::new(node.worker(), &names, batch)?;
    let control = ControlPlane::new(&node);
    if !control.is_empty() {
        handler = handler.with_control(control);
    }
    let shown: Vec<String> = specs
        .iter()
        .map(|s| format!("{}={}", s.interface, s.device))
        .collect();
    eprintln!(
        "erdp attach: node {} forwarding on {} ({:?}); stop with Ctrl-C or SIGTERM",
        node.name(),
        shown.join(" "),
        args.backend
    );

    let (run, stopped_by) = match ports.run(&shutdown, &mut handler) {
        Ok(summary) => (summary, "signal".to_owned()),
        Err(error) => (RunSummary::default(), error.to_string()),
    };
    let mut capture_errors: Vec<String> = ports.close().iter().map(ToString::to_string).collect();
    if let (Some(control), Some(dir)) = (handler.control(), &args.capture_dir) {
        // The negotiated SAs' esp_sa lines, so the captures decrypt (they
        // hold keys: written only next to captures the user asked for).
        let lines = control.wireshark_lines().join("\n");
        let path = dir.join(super::replay::WIRESHARK_FILE);
        if let Err(e) = fs::write(&path, lines + "\n") {
            capture_errors.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    let report = Report {
        node: node.name().to_owned(),
        backend: args.backend,
        bindings: specs
            .iter()
            .map(|s| BindingReport {
                interface: s.interface.clone(),
                device: s.device.clone(),
                kind: match s.kind {
                    DeviceKind::AfPacket => "afpacket",
                    DeviceKind::Tap => "tap",
                },
            })
            .collect(),
        stopped_by,
        run,
        counters: node.counters(),
        sas: node
            .sa_stats()
            .into_iter()
            .map(|(interface, outbound, inbound)| SaReport {
                interface,
                outbound,
                inbound,
            })
            .collect(),
        ports: ports
            .counters()
            .into_iter()
            .map(|(name, counters)| PortReport { name, counters })
            .collect(),
        sent: handler.counters(),
        capture_errors,
        ike: handler.control().map(IkeReport::of),
    };
    out!("{}", summary_text(&report));
    let mut clean = report.stopped_by == "signal" && report.capture_errors.is_empty();
    if let Some(path) = &args.report
        && let Err(error) = write_report(path, &report)
    {
        eprintln!("erdp attach: {error}");
        clean = false;
    }
    for error in &report.capture_errors {
        eprintln!("erdp attach: {error}");
    }
    if report.stopped_by != "signal" {
        eprintln!("erdp attach: stopped: {}", report.stopped_by);
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    })
}

fn write_report(path: &Path, report: &Report) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| CliError::File(format!("cannot encode the report: {e}")))?;
    fs::write(path, text + "\n").map_err(|e| {
        CliError::File(format!(
            "cannot write the report to {}: {e}",
            path.display()
        ))
    })
}

/// The counters as the terminal shows them (non-zero ones only where a
/// list would be long).
fn summary_text(report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let c = &report.counters;
    let _ = writeln!(
        out,
        "node {}: stopped by {} after {:.1} s ({} batches, {} frames)",
        report.node,
        report.stopped_by,
        report.run.elapsed_us as f64 / 1e6,
        report.run.batches,
        report.run.frames
    );
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>10} {:>10} {:>10}",
        "interface", "rx", "tx", "encrypted", "decrypted"
    );
    for i in &c.interfaces {
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10} {:>10}",
            i.name, i.rx.packets, i.tx.packets, i.encrypted.packets, i.decrypted.packets
        );
    }
    traffic_text(&mut out, "input", &c.input);
    traffic_text(&mut out, "generated", &c.generated);
    for p in &c.policies {
        let _ = writeln!(
            out,
            "policy {}: {} encrypted, {} violations, {} dropped (fail closed)",
            p.name, p.encrypted, p.violations, p.dropped
        );
    }
    for sa in &report.sas {
        let _ = writeln!(
            out,
            "sa {}: out {} packets ({} drops), in {} packets ({} drops)",
            sa.interface,
            sa.outbound.packets,
            sa.outbound.total_drops(),
            sa.inbound.packets,
            sa.inbound.total_drops()
        );
    }
    for t in report.ike.iter().flat_map(|i| &i.tunnels) {
        let state = t.state.summary(t.sas.len(), t.last_failure.as_deref());
        let _ = writeln!(out, "ike {}: {state}", t.interface);
    }
    for PortReport { name, counters: p } in &report.ports {
        let _ = writeln!(
            out,
            "port {name}: rx {} tx {} ignored-own {} rx-dropped {} rx-errors {} tx-errors {}",
            p.rx_packets,
            p.tx_packets,
            p.rx_ignored_own,
            p.rx_dropped.total(),
            p.rx_errors,
            p.tx_errors
        );
    }
    out
}

fn traffic_text(out: &mut String, what: &str, t: &TrafficCounters) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "{what}: {} packets: {} forwarded, {} delivered, {} dropped",
        t.packets, t.forwarded, t.delivered, t.dropped
    );
    for (reason, n) in t.dropped_by_reason.iter().filter(|(_, n)| **n > 0) {
        let _ = writeln!(out, "  dropped {reason}: {n}");
    }
}
