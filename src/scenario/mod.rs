//! Scenarios: the emulated ExpressRoute + IPsec topology (`erdp run`).
//! A scenario file (TOML) says what each side advertises on which BGP
//! session, the links, the traffic between an on-premises host and an
//! Azure VM (smoltcp stacks) and a fault timeline; the runner builds the
//! topology around three erdp nodes (four with a second ExpressRoute
//! circuit), runs it in virtual time and reports.
//!
//! - [`Scenario::from_toml_str`], [`Scenario::load`], [`builtin`]: the model.
//! - [`run`]: builds, runs and returns a [`RunReport`].

mod bgp;
mod changes;
mod findings;
mod ike;
mod limits;
mod model;
mod recursion;
mod report;
mod runner;
mod topology;
mod validate;

use std::path::Path;

use thiserror::Error;

use crate::config::{ConfigError, ConfigIssue, SourceMap};
use crate::output::OutputError;

pub use bgp::{
    AZURE_PREFIX_LIMIT, ControlPlane, ONPREM_IPV6_PREFIX_LIMIT, ONPREM_PREFIX_LIMIT,
    ONPREM_PREFIX_LIMIT_PREMIUM, RouteCounts, SessionId,
};
pub use changes::ROUTE_CHANGE_PATHS;
pub use ike::IkeSpec;
pub use model::{
    Azure, Circuit, CircuitMode, Fault, FaultKind, Flow, FlowKind, LinkSpec, MIN_HOLD_TIME_S,
    MSEE_BFD_INTERVAL_MS, MSEE_BFD_MULTIPLIER, MSEE_HOLD_TIME_S, OnPrem, Scenario, Side,
    VpnGateway, VpnImport,
};
pub use report::{
    DirectionPath, FaultRecord, FlowResult, IkeTunnelReport, NodePolicies, NodeReassembly,
    RunReport, Verdict,
};
pub use runner::{PageRenderer, RunOptions, run};
pub use topology::{
    CIRCUITS, CircuitLayout, INSTANCES, InstanceLayout, LINK_NAMES, LINK_NAMES_TWO_CIRCUITS,
    NodeConfigs, Nodes, Topology, build, circuit_link_names, instances, link_names, node_configs,
};
pub use validate::{
    MAX_DETECTION_MS, MAX_DURATION_MS, MAX_EXTRA_ER_PREFIXES, MAX_EXTRA_VNET_PREFIXES,
    MAX_FLAP_CYCLES, MAX_FLOWS, MAX_PAYLOAD, MIN_UDP_PAYLOAD,
};

/// Why a scenario cannot run.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the model (one problem),
    /// or its values are impossible (every problem): each names the
    /// file, line, column and field, as node configurations do.
    #[error("{0}")]
    File(ConfigError),
    /// A scenario built in code has impossible values (every problem).
    #[error("scenario {name:?}: {}", join_issues(.issues))]
    Values {
        /// The scenario's name.
        name: String,
        /// Every problem, with its field.
        issues: Vec<ConfigIssue>,
    },
    /// A value is impossible.
    #[error("{what}: {reason}")]
    Invalid {
        /// The field or part.
        what: String,
        /// Why.
        reason: String,
    },
    /// The output directory or a file in it.
    #[error("output {path}: {reason}")]
    Output {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl From<OutputError> for ScenarioError {
    fn from(error: OutputError) -> Self {
        Self::Output {
            path: error.path.display().to_string(),
            reason: error.reason,
        }
    }
}

fn join_issues(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(ConfigIssue::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ScenarioError {
    pub(crate) fn invalid(what: &str, reason: String) -> Self {
        Self::Invalid {
            what: what.to_string(),
            reason,
        }
    }
}

/// The built-in scenarios: name and TOML text.
pub const BUILTIN: [(&str, &str); 8] = [
    ("design1", include_str!("../../scenarios/design1.toml")),
    ("design2", include_str!("../../scenarios/design2.toml")),
    ("leak", include_str!("../../scenarios/leak.toml")),
    (
        "two-circuits",
        include_str!("../../scenarios/two-circuits.toml"),
    ),
    ("recursion", include_str!("../../scenarios/recursion.toml")),
    ("dmz", include_str!("../../scenarios/dmz.toml")),
    (
        "active-active",
        include_str!("../../scenarios/active-active.toml"),
    ),
    ("ike", include_str!("../../scenarios/ike.toml")),
];

/// The built-in scenario `name` (`design1`, `design2`, `leak`,
/// `two-circuits`, `recursion`, `dmz`, `active-active`, `ike`).
pub fn builtin(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| Scenario::from_toml_str(text, &format!("builtin:{n}")))
}

impl Scenario {
    /// The circuits: `[circuit]`, then `[second_circuit]` when there is one
    /// (in the order of [`topology::CIRCUITS`]).
    pub fn circuits(&self) -> impl Iterator<Item = &model::Circuit> {
        std::iter::once(&self.circuit).chain(self.second_circuit.as_ref())
    }

    /// Parses and checks a scenario; `origin` names the text in errors.
    /// Every problem names the file, line, column and field.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let map = SourceMap::new(text, origin.into());
        let scenario: Scenario = toml::from_str(text)
            .map_err(|e| ScenarioError::File(ConfigError::Syntax(map.locate_toml_error(&e))))?;
        let issues = validate::validate(&scenario);
        if !issues.is_empty() {
            return Err(ScenarioError::File(map.invalid(issues)));
        }
        Ok(scenario)
    }

    /// Checks the values serde cannot (prefixes, limits, names, hosts,
    /// links, the timeline): every problem, with its field. [`run`] checks
    /// this first; files are checked when parsed.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let issues = validate::validate(self);
        if issues.is_empty() {
            return Ok(());
        }
        Err(ScenarioError::Values {
            name: self.name.clone(),
            issues,
        })
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }
}
