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
mod findings;
mod model;
mod report;
mod runner;
mod topology;

use std::path::Path;

use thiserror::Error;

pub use bgp::{
    AZURE_PREFIX_LIMIT, ControlPlane, ONPREM_PREFIX_LIMIT, ONPREM_PREFIX_LIMIT_PREMIUM,
    RouteCounts, SessionId,
};
pub use model::{
    Azure, Circuit, CircuitMode, Fault, FaultKind, Flow, FlowKind, LinkSpec, OnPrem, Scenario, Side,
};
pub use report::{DirectionPath, FaultRecord, FlowReport, NodePolicies, RunReport, Verdict};
pub use runner::{RunOptions, run};
pub use topology::{
    CIRCUITS, CircuitLayout, LINK_NAMES, LINK_NAMES_TWO_CIRCUITS, NodeConfigs, Nodes, Topology,
    build, circuit_link_names, link_names, node_configs,
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
    /// The TOML does not parse or does not fit the model.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (with the field when known).
        message: String,
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

impl ScenarioError {
    pub(crate) fn invalid(what: &str, reason: String) -> Self {
        Self::Invalid {
            what: what.to_string(),
            reason,
        }
    }
}

/// The built-in scenarios: name and TOML text.
pub const BUILTIN: [(&str, &str); 4] = [
    ("design1", include_str!("../../scenarios/design1.toml")),
    ("design2", include_str!("../../scenarios/design2.toml")),
    ("leak", include_str!("../../scenarios/leak.toml")),
    (
        "two-circuits",
        include_str!("../../scenarios/two-circuits.toml"),
    ),
];

/// The built-in scenario `name` (`design1`, `design2`, `leak`,
/// `two-circuits`).
pub fn builtin(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| Scenario::from_toml_str(text, &format!("builtin:{n}")))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Scenario {
    /// The circuits: `[circuit]`, then `[second_circuit]` when there is one
    /// (in the order of [`topology::CIRCUITS`]).
    pub fn circuits(&self) -> impl Iterator<Item = &model::Circuit> {
        std::iter::once(&self.circuit).chain(self.second_circuit.as_ref())
    }

    /// Parses a scenario; `origin` names the text in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|error| {
            let (line, column) = error
                .span()
                .map_or((0, 0), |span| line_column(text, span.start));
            ScenarioError::Parse {
                file: origin.to_string(),
                line,
                column,
                message: error.message().to_string(),
            }
        })?;
        scenario.validate().map_err(|(field, reason)| {
            let (line, column) = locate(text, &field);
            ScenarioError::Parse {
                file: origin.to_string(),
                line,
                column,
                message: format!("{field}: {reason}"),
            }
        })?;
        Ok(scenario)
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Checks values serde cannot: returns the field and why.
    fn validate(&self) -> Result<(), (String, String)> {
        let mut links = vec![
            ("circuit.primary", &self.circuit.primary),
            ("circuit.secondary", &self.circuit.secondary),
            ("onprem.lan", &self.onprem.lan),
            ("azure.vnet", &self.azure.vnet),
        ];
        if let Some(second) = &self.second_circuit {
            links.push(("second_circuit.primary", &second.primary));
            links.push(("second_circuit.secondary", &second.secondary));
        }
        for (name, link) in links {
            topology::channel(link)
                .validate("both")
                .map_err(|e| (format!("{name}.{}", e.field), e.reason))?;
            for (field, value) in [
                ("delay_ms", link.delay_ms),
                ("rate_mbps", link.rate_mbps),
                ("reorder_delay_ms", link.reorder_delay_ms),
            ] {
                if !value.is_finite() || value < 0.0 {
                    return Err((
                        format!("{name}.{field}"),
                        format!("{value} is not a non-negative number"),
                    ));
                }
            }
        }
        for (index, flow) in self.flows.iter().enumerate() {
            let field = |f: &str| format!("flow[{index}].{f}");
            if !flow.interval_ms.is_finite() || flow.interval_ms <= 0.0 {
                return Err((field("interval_ms"), "must be a positive number".into()));
            }
            if flow.kind == FlowKind::Udp && flow.payload < 16 {
                return Err((
                    field("payload"),
                    "a UDP probe needs at least 16 bytes".into(),
                ));
            }
            if flow.dscp > 63 {
                return Err((
                    field("dscp"),
                    format!("{} is not a DSCP (0..=63)", flow.dscp),
                ));
            }
        }
        let link_names = topology::link_names(self);
        let circuits: Vec<&str> = topology::CIRCUITS
            .iter()
            .take(self.circuits().count())
            .map(|circuit| circuit.fault_name)
            .collect();
        for (index, fault) in self.faults.iter().enumerate() {
            let needs_link = matches!(
                fault.kind,
                FaultKind::LinkDown | FaultKind::LinkUp | FaultKind::Flap
            );
            match (&fault.link, needs_link) {
                (None, true) => {
                    return Err((
                        format!("fault[{index}].link"),
                        "this fault needs a link".into(),
                    ));
                }
                (Some(link), true)
                    if !link_names.contains(&link.as_str())
                        && !circuits.contains(&link.as_str()) =>
                {
                    return Err((
                        format!("fault[{index}].link"),
                        format!(
                            "unknown link {link:?}; links: {}; whole circuits: {}",
                            link_names.join(", "),
                            circuits.join(", ")
                        ),
                    ));
                }
                _ => {}
            }
        }
        for (side, host) in [
            ("onprem.host", self.onprem.host),
            ("azure.host", self.azure.host),
        ] {
            topology::gateway_of(host).map_err(|e| (side.to_string(), e.to_string()))?;
        }
        Ok(())
    }
}

/// Best-effort position of `field` (`flow[2].dscp`, `circuit.primary.loss`)
/// in the text: the line of its last key, counting `[[array]]` entries; a
/// key of an inline table (`primary = { loss = 2 }`) is found at the line
/// of the inline table.
fn locate(text: &str, field: &str) -> (usize, usize) {
    let mut path = field;
    loop {
        let found = locate_key(text, path);
        if found != (0, 0) {
            return found;
        }
        match path.rsplit_once('.') {
            Some((parent, _)) if parent.contains('.') => path = parent,
            _ => return found,
        }
    }
}

/// [`locate`] for one dotted path, without the inline-table fallback.
fn locate_key(text: &str, field: &str) -> (usize, usize) {
    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
    let (array, index) = match table.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (table, None),
    };
    let header_array = format!("[[{array}]]");
    let header_table = format!("[{table}]");
    let mut seen = 0usize;
    let mut inside = table.is_empty();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            inside = if let Some(i) = index {
                let hit = trimmed.starts_with(&header_array);
                if hit {
                    seen += 1;
                }
                hit && seen == i + 1
            } else {
                trimmed.starts_with(&header_table)
            };
            continue;
        }
        if inside && trimmed.starts_with(key) {
            return (number + 1, line.len() - trimmed.len() + 1);
        }
    }
    (0, 0)
}
