//! `erdp verify`: the verdict on a whole design. For every pair of
//! (on-premises prefix, Azure prefix), one probe each way through the
//! scenario's real forwarding nodes, in the steady state and in each single
//! failure state ([`states`]); the matrix says which circuit link each
//! direction crossed, inside ESP or in plaintext, and what the pair adds up
//! to ([`Verdict`]). States are independent: they run on all cores.
//!
//! - [`verify`] runs it and returns a [`VerifyReport`] (also written as
//!   `report.json`, all or nothing, as `erdp run` does).
//! - [`VerifyReport::failed`]: any leak, asymmetric pair or blackhole, or
//!   nothing verified at all.

mod fabric;
mod matrix;
mod probe;
mod routes;
mod states;
mod synthetic;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ipnet::IpNet;
use serde::Serialize;

use crate::output::OutputDir;
use crate::scenario::{Scenario, ScenarioError, Side};
use fabric::{Fabric, probe_address};
use probe::Prober;

pub use matrix::{PairResult, StateTotals, Verdict};
pub use probe::{Crossing, Trip};
pub use routes::{NodeRoutes, RouteRow};
pub use states::{Failure, State, states};
pub use synthetic::synthetic;

use crate::report::REPORT_FILE;
/// Pairs probed per progress bar update.
const PROGRESS_STEP: usize = 64;

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Where `report.json` goes (`None`: nowhere).
    pub out_dir: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Threads (default: the machine's cores, at most one per state).
    pub threads: Option<usize>,
}

/// The whole verdict.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The scenario's name.
    pub scenario: String,
    /// On-premises prefixes probed (everything on-premises advertises).
    pub onprem_prefixes: Vec<IpNet>,
    /// Azure prefixes probed (everything Azure advertises).
    pub azure_prefixes: Vec<IpNet>,
    /// The states, steady first.
    pub states: Vec<State>,
    /// Probes sent: pairs x 2 x states.
    pub probes: usize,
    /// Pairs per verdict, per state.
    pub totals: Vec<StateTotals>,
    /// The matrix: every pair in every state (state by state).
    pub matrix: Vec<PairResult>,
    /// Every node's effective routes in every state.
    pub effective_routes: Vec<NodeRoutes>,
    /// What was not probed, and why.
    pub notes: Vec<String>,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

impl VerifyReport {
    /// True when a pair leaked, was asymmetric or blackholed in any state,
    /// or when nothing was verified.
    pub fn failed(&self) -> bool {
        self.matrix.is_empty() || self.matrix.iter().any(|r| r.verdict.fails())
    }

    /// The cells of one pair in one state.
    pub fn cell(&self, state: &str, onprem: IpNet, azure: IpNet) -> Option<&PairResult> {
        self.matrix
            .iter()
            .find(|r| r.state == state && r.onprem == onprem && r.azure == azure)
    }

    /// The printed matrix: per state, its totals and its pairs (only the
    /// failing ones, at most `limit`, when there are more than `limit`).
    pub fn summary(&self, limit: usize) -> String {
        let pairs = self.onprem_prefixes.len() * self.azure_prefixes.len();
        let mut out = format!(
            "{}: {} on-prem x {} Azure prefixes, {} states, {} probes in {:.2} s\n",
            self.scenario,
            self.onprem_prefixes.len(),
            self.azure_prefixes.len(),
            self.states.len(),
            self.probes,
            self.wall_s
        );
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        for (state, totals) in self.states.iter().zip(&self.totals) {
            let _ = writeln!(out, "\n[{}] {totals}", state.name);
            let cells = self.matrix.iter().filter(|r| r.state == state.name);
            let shown: Vec<&PairResult> = if pairs <= limit {
                cells.collect()
            } else {
                cells.filter(|r| r.verdict.fails()).take(limit).collect()
            };
            if shown.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "{:<18} {:<18} {:<40} {:<40} verdict",
                "on-prem", "azure", "on-prem -> azure", "azure -> on-prem"
            );
            for cell in &shown {
                let _ = writeln!(out, "{}", cell.line());
            }
            let hidden = totals.failing().saturating_sub(shown.len());
            if pairs > limit && hidden > 0 {
                let _ = writeln!(out, "... and {hidden} more failing pairs in report.json");
            }
        }
        let _ = writeln!(out, "\n{}", self.verdict_line());
        out
    }

    /// The matrix in a few lines, for `erdp run --verify`: each state's
    /// totals, then the verdict (`erdp verify` prints the pairs).
    pub(crate) fn totals_summary(&self) -> String {
        let mut out = format!(
            "verify: {} on-prem x {} Azure prefixes, both ways, in {} states:\n",
            self.onprem_prefixes.len(),
            self.azure_prefixes.len(),
            self.states.len()
        );
        let width = self.states.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for (state, totals) in self.states.iter().zip(&self.totals) {
            let _ = writeln!(out, "  {:<width$}  {totals}", state.name);
        }
        let _ = writeln!(out, "  {}", self.verdict_line());
        out
    }

    /// `[ok] ...` or `[FAIL] ...`: the matrix's verdict.
    fn verdict_line(&self) -> String {
        let failing: usize = self.totals.iter().map(StateTotals::failing).sum();
        if self.matrix.is_empty() {
            "[FAIL] nothing verified: no pair of on-prem and Azure prefixes of the hosts' address family".to_string()
        } else if failing > 0 {
            format!(
                "[FAIL] {failing} of {} pair-states leak, are asymmetric or blackholed",
                self.matrix.len()
            )
        } else {
            format!(
                "[ok] {} pair-states: every pair arrives both ways, never leaking",
                self.matrix.len()
            )
        }
    }
}

/// The prefixes one side advertises (every session), deduplicated, of the
/// family of its host; the others go to `notes`.
fn prefixes(lists: &[&[IpNet]], host: IpNet, side: &str, notes: &mut Vec<String>) -> Vec<IpNet> {
    let mut all: Vec<IpNet> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    all.sort();
    all.dedup();
    let family = host.addr().is_ipv4();
    let (kept, skipped): (Vec<IpNet>, Vec<IpNet>) =
        all.into_iter().partition(|p| p.addr().is_ipv4() == family);
    if !skipped.is_empty() {
        notes.push(format!(
            "{} {side} prefixes not probed: not of the {side} host's address family",
            skipped.len()
        ));
    }
    kept
}

/// One state's cells and tables.
struct StateResult {
    cells: Vec<PairResult>,
    routes: Vec<NodeRoutes>,
}

fn run_state(
    scenario: &Scenario,
    state: &State,
    onprem: &[IpNet],
    azure: &[IpNet],
    progress: Option<&indicatif::ProgressBar>,
) -> Result<StateResult, ScenarioError> {
    let mut fabric = Fabric::new(scenario, state, onprem, azure)?;
    let routes = routes::effective_routes(&fabric, &state.name);
    let mut prober = Prober::new();
    let (onprem_host, azure_host) = (scenario.onprem.host.addr(), scenario.azure.host.addr());
    let taken = fabric.router_addresses();
    let mut cells = Vec::with_capacity(onprem.len() * azure.len());
    for &local in onprem {
        let from = probe_address(local, onprem_host, &taken);
        for &remote in azure {
            let to = probe_address(remote, azure_host, &taken);
            let port = 49152 + (cells.len() % 16384) as u16;
            let forward = prober.send(&mut fabric, Side::Onprem, from, to, port);
            let reverse = prober.send(&mut fabric, Side::Azure, to, from, port);
            let verdict = Verdict::of(&forward, &reverse);
            cells.push(PairResult {
                state: state.name.clone(),
                onprem: local,
                azure: remote,
                onprem_to_azure: forward,
                azure_to_onprem: reverse,
                verdict,
            });
            if let Some(bar) = progress
                && cells.len() % PROGRESS_STEP == 0
            {
                bar.inc(2 * PROGRESS_STEP as u64);
            }
        }
    }
    if let Some(bar) = progress {
        bar.inc(2 * (cells.len() % PROGRESS_STEP) as u64);
    }
    Ok(StateResult { cells, routes })
}

/// Verifies `scenario`: every pair, both ways, in every state.
pub fn verify(scenario: &Scenario, options: &VerifyOptions) -> Result<VerifyReport, ScenarioError> {
    scenario.validate()?;
    let started = Instant::now();
    let mut notes = Vec::new();
    let mut er_lists: Vec<&[IpNet]> = vec![&scenario.onprem.advertise_er];
    er_lists.extend(scenario.circuits().filter_map(|c| c.advertise.as_deref()));
    er_lists.push(&scenario.onprem.advertise_vpn);
    let onprem = prefixes(&er_lists, scenario.onprem.host, "on-prem", &mut notes);
    let azure = prefixes(
        &[&scenario.azure.advertise_er, &scenario.azure.advertise_vpn],
        scenario.azure.host,
        "Azure",
        &mut notes,
    );
    if scenario.onprem.extra_er_prefixes > 0 || scenario.azure.extra_vnet_prefixes > 0 {
        notes.push("synthetic extra prefixes are advertised but not probed".into());
    }
    let states = states(scenario);
    let probes = 2 * onprem.len() * azure.len() * states.len();
    let out = match &options.out_dir {
        Some(dir) => Some(OutputDir::prepare(dir)?),
        None => None,
    };
    let progress = options.progress.then(|| {
        let bar = indicatif::ProgressBar::new(probes as u64);
        bar.set_message("probes");
        bar
    });
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .clamp(1, states.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<StateResult, ScenarioError>>>> =
        Mutex::new((0..states.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(state) = states.get(index) else {
                        break;
                    };
                    let result = run_state(scenario, state, &onprem, &azure, progress.as_ref());
                    if let Ok(mut slots) = results.lock()
                        && let Some(slot) = slots.get_mut(index)
                    {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut matrix = Vec::with_capacity(probes / 2);
    let mut effective_routes = Vec::new();
    let mut totals = Vec::with_capacity(states.len());
    let slots = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (state, slot) in states.iter().zip(slots) {
        let result = slot.unwrap_or_else(|| {
            Err(ScenarioError::invalid(
                &state.name,
                "the state's thread did not finish".into(),
            ))
        })?;
        totals.push(StateTotals::of(&state.name, result.cells.iter()));
        matrix.extend(result.cells);
        effective_routes.extend(result.routes);
    }
    let report = VerifyReport {
        scenario: scenario.name.clone(),
        onprem_prefixes: onprem,
        azure_prefixes: azure,
        states,
        probes,
        totals,
        matrix,
        effective_routes,
        notes,
        wall_s: started.elapsed().as_secs_f64(),
    };
    if let Some(mut out) = out {
        let text = serde_json::to_string(&report).map_err(|e| ScenarioError::Output {
            path: out.path(REPORT_FILE).display().to_string(),
            reason: e.to_string(),
        })?;
        out.write(REPORT_FILE, text.as_bytes())?;
        out.commit()?;
    }
    Ok(report)
}
