//! `erdp bench`: packets/s of a node on a capture, for each worker count,
//! beside the copy and ESP-encapsulation ceilings of the same frames
//! (library: [`crate::bench`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::error::{self, CliError};
use super::stdout::outln;
use crate::bench::{BenchOptions, BenchReport, Ceiling, bench, cores};
use crate::config::NodeConfig;

/// Arguments of `erdp bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// The node configuration (TOML).
    #[arg(long, value_name = "NODE.toml")]
    pub config: PathBuf,
    /// The capture to loop through the node (pcap or pcapng), loaded into
    /// memory.
    #[arg(long, value_name = "CAPTURE")]
    pub input: PathBuf,
    /// Ingress interface for frames whose capture interface names no
    /// Ethernet interface of the node (every frame of a pcap file).
    #[arg(long, value_name = "IFACE")]
    pub ingress: Option<String>,
    /// Worker counts to measure: a list (1,2,4) or `all` (1 up to the
    /// machine's cores).
    #[arg(long, value_name = "1,2,4|all", default_value = "all")]
    pub workers: String,
    /// Seconds per measurement (each worker count and each ceiling).
    #[arg(long, value_name = "S", default_value_t = 3.0)]
    pub seconds: f64,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `erdp bench`.
pub(crate) fn run(args: BenchArgs) -> ExitCode {
    error::exit("bench", execute(&args))
}

/// `all`, or a comma-separated list of counts from 1 to 1024.
fn parse_workers(text: &str) -> Result<Vec<usize>, CliError> {
    if text == "all" {
        return Ok((1..=cores()).collect());
    }
    text.split(',')
        .map(|part| match part.trim().parse::<usize>() {
            Ok(n @ 1..=1024) => Ok(n),
            _ => Err(CliError::Argument(format!(
                "--workers {text:?}: {part:?} is not a worker count from 1 to 1024 (give e.g. 1,2,4 or all)"
            ))),
        })
        .collect()
}

fn execute(args: &BenchArgs) -> Result<ExitCode, CliError> {
    let workers = parse_workers(&args.workers)?;
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err(CliError::Argument(format!(
            "--seconds {}: give a time from above 0 to 3600",
            args.seconds
        )));
    }
    let config = NodeConfig::load(&args.config)?;
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} bench {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar.set_message("loading the capture");
        bar
    });
    let options = BenchOptions {
        workers,
        time: Duration::from_secs_f64(args.seconds),
        progress: progress.clone(),
    };
    let report = bench(&config, &args.input, args.ingress.as_deref(), &options)
        .map_err(|e| CliError::File(format!("{}: {e}", args.input.display())))?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report)?;
        outln!("{text}");
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &BenchReport) {
    outln!(
        "{}: {} frames, {} bytes ({} left out), batches of {}, {} cores",
        report.input.display(),
        report.frames,
        report.bytes,
        report.skipped_frames,
        report.batch_size,
        report.cores
    );
    outln!(
        "{:>7} {:>12} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>12}",
        "workers",
        "packets/s",
        "Gbit/s",
        "ns/pkt",
        "speedup",
        "forwarded",
        "encrypted",
        "decrypted",
        "dropped",
        "conserved",
        "cpu busy",
        "pkts/cpu-s"
    );
    for run in &report.runs {
        outln!(
            "{:>7} {:>12.0} {:>8.2} {:>8.1} {:>7.2}x {:>8.1}% {:>8.1}% {:>8.1}% {:>8.1}% {:>9} {:>8} {:>12}",
            run.workers,
            run.rate.packets_per_second,
            run.gbit_per_second,
            run.rate.ns_per_packet,
            run.speedup,
            run.shares.forwarded * 100.0,
            run.shares.encrypted * 100.0,
            run.shares.decrypted * 100.0,
            run.shares.dropped * 100.0,
            if run.conserved { "yes" } else { "NO" },
            run.cpu_busy
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
            run.packets_per_cpu_second
                .map_or_else(|| "-".to_owned(), |p| format!("{p:.0}")),
        );
    }
    let ceiling = |name: &str, c: &Ceiling| {
        outln!(
            "ceiling {name}: {:.0} packets/s on {} frames, {:.1} ns/pkt; node ({} worker(s)) at {:.2}x of it",
            c.rate.packets_per_second,
            c.frames,
            c.rate.ns_per_packet,
            report.runs.first().map_or(0, |r| r.workers),
            c.node_ratio
        );
    };
    ceiling("copying the frames", &report.copy_ceiling);
    match &report.esp_ceiling {
        Some(c) => ceiling("ESP encapsulation alone", c),
        None => outln!("ceiling ESP encapsulation alone: no frame goes into a tunnel"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_workers;

    #[test]
    fn worker_lists_parse_and_bad_counts_are_named() {
        assert_eq!(parse_workers("1,2,4").ok(), Some(vec![1, 2, 4]));
        assert_eq!(
            parse_workers("all").ok().map(|w| w.first().copied()),
            Some(Some(1))
        );
        let error = parse_workers("1,0").unwrap_err().to_string();
        assert!(error.contains("\"0\""), "{error}");
        assert!(parse_workers("two").is_err());
    }
}
