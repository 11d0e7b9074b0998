//! `erdp run [SCENARIO.toml] [--out-dir DIR] [--seed N]`: the main job. Runs
//! a scenario (the built-in design 1 without an argument) in virtual time,
//! prints the summary, writes `report.json`, `report.html` and one pcap
//! per link.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::EXIT_CHECK_FAILED;
use super::error::{self, CliError};
use super::stdout::{out, outln};
use crate::html;
use crate::scenario::{self, RunOptions, Scenario, ScenarioError};
use crate::verify::{VerifyOptions, verify};

/// Arguments of `erdp run`.
#[derive(Debug, Args, Default)]
pub(crate) struct RunArgs {
    /// A scenario file, or a built-in scenario's name (design1, design2,
    /// leak, two-circuits, recursion, dmz, active-active). Default: design1.
    pub scenario: Option<String>,
    /// Where report.json and the pcaps go.
    #[arg(long, default_value = "erdp-out")]
    pub out_dir: PathBuf,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the report as JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Where to write the report page (default: report.html in the output
    /// directory).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// After the run, verify the whole design as `erdp verify` does (every
    /// prefix pair, both ways, steady and under each single failure) and
    /// print each state's totals; exit code 1 when a pair fails.
    #[arg(long, conflicts_with = "json")]
    pub verify: bool,
}

fn load(name: Option<&str>) -> Result<Scenario, ScenarioError> {
    let name = name.unwrap_or("design1");
    if let Some(builtin) = scenario::builtin(name) {
        return builtin;
    }
    Scenario::load(std::path::Path::new(name))
}

/// Runs `erdp run`.
pub(crate) fn run(args: RunArgs) -> ExitCode {
    error::exit("run", execute(&args))
}

fn execute(args: &RunArgs) -> Result<ExitCode, CliError> {
    let scenario = load(args.scenario.as_deref())?;
    let options = RunOptions {
        seed: args.seed,
        out_dir: Some(args.out_dir.clone()),
        progress: std::io::stderr().is_terminal(),
        // The page goes into the output directory with the other files,
        // unless --html names a path of its own (written after the run).
        page: match args.html {
            Some(_) => None,
            None => Some((html::HTML_FILE, html::render_run_page)),
        },
    };
    let report = scenario::run(&scenario, &options)?;
    let page = args
        .html
        .clone()
        .unwrap_or_else(|| args.out_dir.join(html::HTML_FILE));
    if let Some(path) = &args.html {
        let text = html::render_run_page(&report).map_err(CliError::Render)?;
        html::write_html(path, &text)?;
    }
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => outln!("{text}"),
            Err(e) => eprintln!("erdp run: {e}"),
        }
    } else {
        out!("{}", report.summary());
        outln!(
            "\noutput in {}/: report.json and one pcap per link:",
            args.out_dir.display()
        );
        for file in &report.captures {
            outln!("  {file}");
        }
        outln!("the report page: {}", page.display());
        let keys = if report.ike.is_empty() {
            "public test keys"
        } else {
            "the keys this run's IKE negotiated"
        };
        outln!("Wireshark decrypts the ESP with these esp_sa lines ({keys}):");
        for line in &report.esp_sa {
            outln!("  {line}");
        }
    }
    let mut failed = report.failed();
    if args.verify {
        let matrix = verify(&scenario, &VerifyOptions::default())?;
        outln!("\n{}", matrix.totals_summary().trim_end());
        failed |= matrix.failed();
    }
    Ok(if failed {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
