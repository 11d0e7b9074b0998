//! The `erdp` command line (clap): one file per subcommand.
//!
//! Exit codes: 0 success, 1 a check failed (an expectation, a policy),
//! 2 usage or configuration error.
//!
//! Logs (the `tracing` events: SA lifetimes, ESN resynchronisation, port
//! warnings) go to stderr: `RUST_LOG` (EnvFilter syntax) when set, else
//! `-v` info, `-vv` debug, `-vvv` trace; without either, nothing.

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod attach;
mod bench;
mod bgp;
mod demo;
mod error;
mod esp;
mod fib;
mod replay;
mod run;
pub(crate) mod stdout;
mod verify;

/// erdp: prove where every packet goes in an ExpressRoute + IPsec network,
/// and whether it leaves encrypted.
#[derive(Debug, Parser)]
#[command(
    name = "erdp",
    version,
    about,
    long_about = None,
    after_help = "Without a command: the main job, `erdp run` with the built-in design-1 scenario."
)]
pub(crate) struct Cli {
    /// Log to stderr: -v info, -vv debug, -vvv trace (RUST_LOG overrides).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Longest-prefix match and FIB statistics for a route list file.
    Fib(fib::FibArgs),
    /// The main job: run an emulated ExpressRoute + IPsec scenario.
    Run(run::RunArgs),
    /// The FIB/RIB demo of both edges (no traffic).
    Demo,
    /// ESP tunnel tools: seal and open captures, Wireshark SA settings, keys.
    Esp(esp::EspArgs),
    /// Runs a node between real Linux devices (AF_PACKET or TAP) until SIGINT/SIGTERM.
    Attach(attach::AttachArgs),
    /// One BGP session with a real router over TCP: learned routes into a RIB and FIB, stdin commands.
    Bgp(bgp::BgpArgs),
    /// Replay a capture through a node: outputs per interface, drops with reasons, report.json, --expect checks.
    Replay(replay::ReplayArgs),
    /// The verdict: every on-prem x Azure prefix pair probed both ways, steady and under each single failure.
    Verify(verify::VerifyArgs),
    /// Packets/s of a node on a capture, per worker count, beside the copy and ESP ceilings.
    Bench(bench::BenchArgs),
}

/// Exit code for usage and configuration errors.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when a check (expectation, policy) failed.
pub(crate) const EXIT_CHECK_FAILED: u8 = 1;

/// Parses the command line and runs it; a closed stdout ends the output
/// quietly (`stdout`).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    install_logging(cli.verbose);
    let code = match cli.command {
        None => run::run(run::RunArgs {
            out_dir: "erdp-out".into(),
            ..run::RunArgs::default()
        }),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Demo) => demo::run(),
        Some(Command::Fib(args)) => fib::run(args),
        Some(Command::Esp(args)) => esp::run(args),
        Some(Command::Attach(args)) => attach::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Replay(args)) => replay::run(args),
        Some(Command::Bgp(args)) => bgp::run(args),
        Some(Command::Verify(args)) => verify::run(args),
    };
    stdout::finish(code)
}

/// Installs the stderr log subscriber: the `RUST_LOG` filter when the
/// variable is set, else the level `verbose` asks for (none: off).
fn install_logging(verbose: u8) {
    let level = match verbose {
        0 => "off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Only fails when a subscriber is already installed (a test calling
    // `main` twice): the first one stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
