//! `erdp verify [SCENARIO] [--out-dir DIR] [--routes NODE] [--effective-routes]`:
//! the verdict matrix of a scenario (every on-prem x Azure prefix pair, both
//! directions, steady state and each single failure), printed and written
//! to `report.json`. Exit 1 on any leak, asymmetric pair or blackhole, or
//! when nothing was verified; 2 for a bad scenario or output directory.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::EXIT_CHECK_FAILED;
use super::error::{self, CliError};
use super::stdout::{out, outln};
use crate::scenario::{self, Scenario, ScenarioError};
use crate::verify::{VerifyOptions, verify};

/// Arguments of `erdp verify`.
#[derive(Debug, Args, Default)]
pub(crate) struct VerifyArgs {
    /// A scenario file, or a built-in scenario's name (design1, design2,
    /// leak, two-circuits, recursion, dmz, active-active). Default:
    /// design1.
    pub scenario: Option<String>,
    /// Where report.json goes.
    #[arg(long, default_value = "erdp-verify")]
    pub out_dir: PathBuf,
    /// Print the effective routes of this node (onprem-edge, msee, msee2,
    /// azure-hub) in the steady state.
    #[arg(long, value_name = "NODE")]
    pub routes: Vec<String>,
    /// Print the effective routes of every node in the steady state.
    #[arg(long)]
    pub effective_routes: bool,
    /// Pairs printed per state when the matrix is large (only failing
    /// pairs are printed then).
    #[arg(long, default_value_t = 40)]
    pub limit: usize,
    /// Threads (default: one per core, at most one per state).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn load(name: Option<&str>) -> Result<Scenario, ScenarioError> {
    let name = name.unwrap_or("design1");
    if let Some(builtin) = scenario::builtin(name) {
        return builtin;
    }
    Scenario::load(std::path::Path::new(name))
}

/// Runs `erdp verify`.
pub(crate) fn run(args: VerifyArgs) -> ExitCode {
    error::exit("verify", execute(&args))
}

fn execute(args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let scenario = load(args.scenario.as_deref())?;
    let options = VerifyOptions {
        out_dir: Some(args.out_dir.clone()),
        progress: std::io::stderr().is_terminal(),
        threads: args.threads,
    };
    let report = verify(&scenario, &options)?;
    let steady = report.states.first().map(|s| s.name.as_str());
    for table in &report.effective_routes {
        let wanted = args.effective_routes || args.routes.contains(&table.node);
        if wanted && Some(table.state.as_str()) == steady {
            outln!("{}", table.table());
        }
    }
    for name in &args.routes {
        if !report.effective_routes.iter().any(|t| t.node == *name) {
            eprintln!("erdp verify: no node {name:?} (onprem-edge, msee, azure-hub, msee2)");
        }
    }
    out!("{}", report.summary(args.limit));
    outln!(
        "the whole matrix and every node's effective routes: {}/report.json",
        args.out_dir.display()
    );
    Ok(if report.failed() {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
