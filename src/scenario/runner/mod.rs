//! The runner: builds a scenario's topology, installs the routes the BGP
//! sessions carry, adds the traffic, plays the fault timeline in virtual
//! time (BGP sessions follow link failures after the detection time),
//! measures outages, and gathers the [`RunReport`].
//!
//! [`run`] calls one function per phase, each in its own file:
//! [`traffic`] (the flows' apps), [`timeline`] (the faults, scheduled),
//! [`drive`] (virtual time and the happenings), [`outages`] (what each link
//! failure cost), [`records`] (the fault log and tunnel recursions) and
//! [`output`] (pcaps, `report.json`, the page).

mod drive;
mod ike;
mod outages;
mod output;
mod records;
mod timeline;
mod traffic;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::ScenarioError;
use super::findings::{finish, flow_report};
use super::model::Scenario;
use super::report::{FlowResult, RunReport};
use super::topology::{Topology, build};
use crate::emu::SimTime;
use crate::emu::link::DEFAULT_BUCKET;

use drive::Drive;
use traffic::Traffic;

pub(super) use traffic::{Apps, FlowPlan};

pub(crate) use crate::report::REPORT_FILE;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where `report.json` and the pcaps go (`None`: nowhere); written
    /// all or nothing (`OutputDir`).
    pub out_dir: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// A page rendered from the finished report (file name and renderer),
    /// written beside `report.json` in the same all-or-nothing commit.
    pub page: Option<(&'static str, PageRenderer)>,
}

/// Renders a page (e.g. `report.html`) from a finished run's report.
pub type PageRenderer = fn(&RunReport) -> Result<String, String>;

/// Virtual time `at` milliseconds after the start.
fn ms(at: u64) -> SimTime {
    SimTime::ZERO + Duration::from_millis(at)
}

/// Virtual time in (fractional) milliseconds, as reports show it.
fn to_ms(time: SimTime) -> f64 {
    time.as_secs_f64() * 1e3
}

/// Runs `scenario` and reports.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunReport, ScenarioError> {
    scenario.validate()?;
    let started = Instant::now();
    let seed = options.seed.unwrap_or(scenario.seed);
    let mut topo = build_topology(scenario, seed)?;
    let mut drive = Drive::establish_sessions(scenario, &topo);
    let mut out = output::prepare(options)?;
    let captures = match out.as_mut() {
        Some(out) => output::open_captures(&mut topo, out)?,
        None => Vec::new(),
    };
    let traffic = traffic::add_traffic(scenario, &mut topo, seed)?;
    let happenings = timeline::schedule_faults(scenario, &mut topo)?;
    drive.play(scenario, &mut topo, &happenings, &traffic, options.progress);
    drive.close_open_outages(&topo);
    output::finish_captures(&mut topo)?;
    let report = judge(scenario, seed, &topo, drive, &traffic, captures, started);
    if let Some(out) = out {
        output::write(out, &report, options.page)?;
    }
    Ok(report)
}

/// The simulation of `scenario`, recording each link's time series.
fn build_topology(scenario: &Scenario, seed: u64) -> Result<Topology, ScenarioError> {
    let mut topo = build(scenario, seed)?;
    topo.sim.record_series(DEFAULT_BUCKET);
    Ok(topo)
}

/// The report of a finished run: each flow's path and outcome, the fault
/// log, the control plane's notes and the verdicts.
fn judge(
    scenario: &Scenario,
    seed: u64,
    topo: &Topology,
    drive: Drive,
    traffic: &Traffic,
    captures: Vec<String>,
    started: Instant,
) -> RunReport {
    let notes = drive.plane.notes.clone();
    let flows: Vec<FlowResult> = scenario
        .flows
        .iter()
        .zip(&traffic.plans)
        .map(|(flow, plan)| flow_report(topo, flow, plan))
        .collect();
    finish(
        scenario,
        seed,
        topo,
        &drive.plane,
        flows,
        drive.faults,
        notes,
        drive.recursions.messages(),
        captures,
        started,
    )
}
