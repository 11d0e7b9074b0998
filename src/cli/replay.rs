//! `erdp replay`: a capture through one node, outputs per interface, drops
//! with reasons, report.json, an optional expectation check, and the
//! Wireshark ESP SA lines that decrypt the outputs.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::EXIT_CHECK_FAILED;
use super::error::{self, CliError};
use super::stdout::{out, outln};
use crate::capture::CaptureReader;
use crate::config::{InterfaceKind, NodeConfig};
use crate::dataplane::Node;
use crate::esp::{TunnelEndpoints, wireshark_esp_sa_line};
use crate::html;
use crate::output::OutputDir;
use crate::replay::{
    DROPS_INDEX_FILE, DROPS_PCAP_FILE, Expectations, ReplayOptions, ReplayReport, Sink, replay,
};
use crate::report::DEFAULT_FLOW_CAP;

/// Inputs at least this large get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 16 << 20;
use crate::report::REPORT_FILE;
/// The Wireshark ESP SA lines in the output directory.
pub(crate) const WIRESHARK_FILE: &str = "wireshark-esp-sa.txt";

/// Arguments of `erdp replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The node configuration (TOML).
    #[arg(long, value_name = "NODE.toml")]
    pub config: PathBuf,
    /// The capture to replay (pcap or pcapng).
    #[arg(long, value_name = "IN.pcap")]
    pub input: PathBuf,
    /// Where to write <interface>.pcap, drops.pcap, drops.jsonl, report.json.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Ingress interface for frames whose capture interface (pcapng
    /// if_name) does not name an Ethernet interface of the node: every
    /// frame of a pcap file.
    #[arg(long, value_name = "IFACE")]
    pub ingress: Option<String>,
    /// Assertions on the result (TOML); exit 1 when one fails. Without
    /// it, exit 1 when no frame was forwarded or delivered.
    #[arg(long, value_name = "EXPECT.toml")]
    pub expect: Option<PathBuf>,
    /// Where to write the report page (default: report.html in the output
    /// directory).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Take any unicast destination MAC as the ingress interface's (for a
    /// capture taken between other devices). Broadcast and multicast
    /// frames are unchanged; drops.pcap keeps the frames as captured.
    #[arg(long)]
    pub promiscuous: bool,
    /// The most flows report.json lists one by one (first seen first); the
    /// packets of later flows are folded into `untracked_flows`, so totals
    /// stay exact and memory stays bounded.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FLOW_CAP)]
    pub max_flows: usize,
    /// Worker threads (the node's worker pool when more than 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
}

/// Runs `erdp replay`.
pub(crate) fn run(args: ReplayArgs) -> ExitCode {
    error::exit("replay", execute(&args))
}

fn execute(args: &ReplayArgs) -> Result<ExitCode, CliError> {
    let config = NodeConfig::load(&args.config)?;
    let node = Arc::new(Node::new(config)?);
    let expectations = match &args.expect {
        Some(path) => {
            let expectations = Expectations::load(path)?;
            expectations.check_names(&node)?;
            Some(expectations)
        }
        None => None,
    };
    let reader = CaptureReader::open(&args.input)?;
    let progress = progress_bar(reader.total_size());
    // Every file is written under a temporary name and published only
    // when the whole replay succeeded (see `crate::output`).
    let mut out = OutputDir::prepare(&args.out_dir)?;
    let sink = Sink::create_in(&mut out, &node)?;
    let options = ReplayOptions {
        ingress: args.ingress.clone(),
        workers: usize::from(args.workers),
        progress: progress.clone(),
        promiscuous: args.promiscuous,
        flow_cap: args.max_flows,
        ..ReplayOptions::default()
    };
    let report = replay(&node, reader, sink, &options)?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    write_report(&mut out, &report)?;
    let page = html::replay_page(&report).and_then(|p| p.render())?;
    let page_path = match &args.html {
        Some(path) => path.clone(),
        None => out.write(html::HTML_FILE, page.as_bytes())?,
    };
    let lines = wireshark_lines(&node);
    let lines_path = match &lines {
        Some(text) => Some(out.write(WIRESHARK_FILE, text.as_bytes())?),
        None => None,
    };
    if let Some(path) = &args.html {
        html::write_html(path, &page)?;
    }
    out.commit()?;
    out!("{}", report.summary());
    outln!(
        "  outputs in {}: <interface>.pcap, {DROPS_PCAP_FILE} (why: {DROPS_INDEX_FILE}), {REPORT_FILE}",
        args.out_dir.display()
    );
    outln!("  the report page: {}", page_path.display());
    if let (Some(text), Some(path)) = (lines, lines_path) {
        outln!(
            "  ESP: decrypt the captures in Wireshark with the esp_sa lines in {} (they hold the keys):",
            path.display()
        );
        out!("{text}");
    }
    let Some(expectations) = expectations else {
        if report.nothing_passed() {
            return Ok(ExitCode::from(EXIT_CHECK_FAILED));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let failures = expectations.check(&report);
    if failures.is_empty() {
        outln!("  expectations: all hold");
        return Ok(ExitCode::SUCCESS);
    }
    for failure in &failures {
        outln!("EXPECTATION FAILED {failure}");
    }
    outln!("  expectations: {} failed", failures.len());
    Ok(ExitCode::from(EXIT_CHECK_FAILED))
}

fn progress_bar(total: Option<u64>) -> Option<ProgressBar> {
    let total = total?;
    if total < PROGRESS_MIN_BYTES || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} replay [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

fn write_report(out: &mut OutputDir, report: &ReplayReport) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    out.write(REPORT_FILE, text.as_bytes())?;
    Ok(())
}
/// The Wireshark `esp_sa` lines of every tunnel SA (both directions);
/// `None` when the node has no tunnel.
fn wireshark_lines(node: &Node) -> Option<String> {
    let mut text = String::new();
    for interface in &node.config().interfaces {
        let InterfaceKind::EspTunnel(tunnel) = &interface.kind else {
            continue;
        };
        let outbound = TunnelEndpoints {
            local: tunnel.local,
            remote: tunnel.remote,
        };
        let Some((sa_out, sa_in)) = tunnel.static_sas() else {
            continue;
        };
        for (direction, sa) in [("outbound", sa_out), ("inbound", sa_in)] {
            let mut sa = sa.clone();
            sa.tunnel.get_or_insert(outbound);
            text.push_str(&format!(
                "# {} {direction} SA 0x{:08x} ({}{})\n",
                interface.name,
                sa.spi,
                sa.algorithm,
                if sa.esn {
                    "; ESN: Wireshark 4.0 cannot check its ICV"
                } else {
                    ""
                }
            ));
            match wireshark_esp_sa_line(&sa) {
                Some(line) => {
                    text.push_str(&line);
                    text.push('\n');
                }
                None => text.push_str("# (Wireshark cannot decrypt this algorithm)\n"),
            }
        }
    }
    (!text.is_empty()).then_some(text)
}
