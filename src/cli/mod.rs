//! The `erdp` command line (clap): one file per subcommand.
//!
//! Exit codes: 0 success, 1 a check failed (an expectation, a policy),
//! 2 usage or configuration error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
pub mod esp;
mod fib;
mod replay;

/// erdp: prove where every packet goes in an ExpressRoute + IPsec network,
/// and whether it leaves encrypted.
#[derive(Debug, Parser)]
#[command(
    name = "erdp",
    version,
    about,
    long_about = None,
    after_help = "Without a command: the main job (for now the FIB/RIB demo of both edges)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Longest-prefix match and FIB statistics for a route list file.
    Fib(fib::FibArgs),
    /// ESP tunnel tools: seal and open captures, Wireshark SA settings, keys.
    Esp(esp::EspArgs),
    /// Replay a capture through a node: outputs per interface, drops with reasons, report.json, --expect checks.
    Replay(replay::ReplayArgs),
}

/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a check (expectation, policy) failed.
pub const EXIT_CHECK_FAILED: u8 = 1;

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // Until the emulator lands, the main job is the FIB/RIB demo.
        None => demo::run(),
        Some(Command::Fib(args)) => fib::run(args),
        Some(Command::Esp(args)) => esp::run(args),
        Some(Command::Replay(args)) => replay::run(args),
    }
}
