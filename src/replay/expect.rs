//! Expectation files for `erdp replay --expect`: TOML assertions on a
//! [`ReplayReport`] (counters, drops per reason, tx per interface, zero
//! violations, and per flow or prefix: egress interface, encrypted or not,
//! outcome, verdict). Unknown keys and names are errors with file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use etherparse::IpNumber;
use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use super::input::CaptureDrop;
use super::report::ReplayReport;
use crate::dataplane::{DropReason, Node};
use crate::report::{FlowReport, protocol_name};

/// An expectation file that cannot be used.
#[derive(Debug, Error)]
pub enum ExpectError {
    /// The file could not be read.
    #[error("{}: cannot read the expectation file: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// Bad TOML, an unknown key, a wrong type, or an unknown name.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// An expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The file.
    pub file: PathBuf,
    /// The line of the assertion (1-based).
    pub line: usize,
    /// What was expected and what the report says.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectations {
    packets_in: Option<Spanned<u64>>,
    forwarded: Option<Spanned<u64>>,
    delivered: Option<Spanned<u64>>,
    dropped: Option<Spanned<u64>>,
    generated: Option<Spanned<u64>>,
    violations: Option<Spanned<u64>>,
    conserved: Option<Spanned<bool>>,
    #[serde(default)]
    drops: BTreeMap<Spanned<String>, Spanned<u64>>,
    #[serde(default)]
    tx: BTreeMap<Spanned<String>, Spanned<u64>>,
    #[serde(default)]
    flow: Vec<Spanned<RawFlow>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    /// What the assertion is about, for messages.
    name: Option<String>,
    source: Option<Spanned<String>>,
    destination: Option<Spanned<String>>,
    protocol: Option<Spanned<String>>,
    source_port: Option<u16>,
    destination_port: Option<u16>,
    egress: Option<Spanned<String>>,
    encrypted: Option<bool>,
    outcome: Option<Spanned<String>>,
    drop_reason: Option<Spanned<String>>,
    verdict: Option<Spanned<String>>,
    packets: Option<u64>,
}

/// A flow selector and what must hold for every flow it selects.
#[derive(Debug, Clone)]
struct FlowExpectation {
    line: usize,
    label: String,
    source: Option<IpNet>,
    destination: Option<IpNet>,
    protocol: Option<String>,
    source_port: Option<u16>,
    destination_port: Option<u16>,
    egress: Option<String>,
    encrypted: Option<bool>,
    outcome: Option<String>,
    drop_reason: Option<String>,
    verdict: Option<String>,
    packets: Option<u64>,
}

/// A counter assertion: name, line, expected value.
type Counter = (String, usize, u64);

/// Parsed expectations.
#[derive(Debug, Clone)]
pub struct Expectations {
    file: PathBuf,
    counters: Vec<Counter>,
    conserved: Option<(usize, bool)>,
    drops: Vec<Counter>,
    tx: Vec<Counter>,
    flows: Vec<FlowExpectation>,
}

const OUTCOMES: [&str; 3] = ["forwarded", "delivered", "dropped"];
const VERDICTS: [&str; 4] = ["encrypted", "violation", "not_covered", "unchecked"];

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Expectations {
    /// Reads and checks `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ExpectError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ExpectError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses expectations; `origin` names the text in errors.
    pub fn from_toml_str(text: &str, origin: impl Into<PathBuf>) -> Result<Self, ExpectError> {
        let file = origin.into();
        let invalid = |offset: usize, message: String| {
            let (line, column) = line_column(text, offset);
            ExpectError::Invalid {
                file: file.clone(),
                line,
                column,
                message,
            }
        };
        let raw: RawExpectations = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().to_owned())
        })?;
        let line_of = |offset: usize| line_column(text, offset).0;
        let mut counters = Vec::new();
        for (name, value) in [
            ("packets_in", &raw.packets_in),
            ("forwarded", &raw.forwarded),
            ("delivered", &raw.delivered),
            ("dropped", &raw.dropped),
            ("generated", &raw.generated),
            ("violations", &raw.violations),
        ] {
            if let Some(v) = value {
                counters.push((name.to_owned(), line_of(v.span().start), *v.get_ref()));
            }
        }
        let mut drops = Vec::new();
        for (reason, count) in &raw.drops {
            let known = DropReason::from_name(reason.get_ref()).is_some()
                || [CaptureDrop::LinkMalformed, CaptureDrop::FrameTooLarge]
                    .iter()
                    .any(|d| d.as_str() == reason.get_ref());
            if !known {
                return Err(invalid(
                    reason.span().start,
                    format!("drops: unknown drop reason {:?}", reason.get_ref()),
                ));
            }
            drops.push((
                reason.get_ref().clone(),
                line_of(count.span().start),
                *count.get_ref(),
            ));
        }
        let tx = raw
            .tx
            .iter()
            .map(|(name, count)| {
                (
                    name.get_ref().clone(),
                    line_of(name.span().start),
                    *count.get_ref(),
                )
            })
            .collect();
        let mut flows = Vec::new();
        for (index, spanned) in raw.flow.iter().enumerate() {
            let at = spanned.span().start;
            let f = spanned.get_ref();
            let prefix = |field: &Option<Spanned<String>>, what: &str| {
                field
                    .as_ref()
                    .map(|s| {
                        parse_prefix(s.get_ref()).ok_or_else(|| {
                            invalid(
                                s.span().start,
                                format!(
                                    "flow[{index}].{what}: {:?} is not an address or prefix",
                                    s.get_ref()
                                ),
                            )
                        })
                    })
                    .transpose()
            };
            let one_of = |field: &Option<Spanned<String>>, what: &str, allowed: &[&str]| {
                field
                    .as_ref()
                    .map(|s| {
                        if allowed.contains(&s.get_ref().as_str()) {
                            Ok(s.get_ref().clone())
                        } else {
                            Err(invalid(
                                s.span().start,
                                format!(
                                    "flow[{index}].{what}: {:?} is not one of {}",
                                    s.get_ref(),
                                    allowed.join(", ")
                                ),
                            ))
                        }
                    })
                    .transpose()
            };
            if let Some(reason) = &f.drop_reason
                && DropReason::from_name(reason.get_ref()).is_none()
            {
                return Err(invalid(
                    reason.span().start,
                    format!(
                        "flow[{index}].drop_reason: unknown drop reason {:?}",
                        reason.get_ref()
                    ),
                ));
            }
            let source = prefix(&f.source, "source")?;
            let destination = prefix(&f.destination, "destination")?;
            let label = f.name.clone().unwrap_or_else(|| {
                let mut parts = Vec::new();
                if let Some(s) = source {
                    parts.push(format!("source {s}"));
                }
                if let Some(d) = destination {
                    parts.push(format!("destination {d}"));
                }
                if parts.is_empty() {
                    parts.push("every flow".to_owned());
                }
                parts.join(", ")
            });
            flows.push(FlowExpectation {
                line: line_of(at),
                label,
                source,
                destination,
                protocol: f.protocol.as_ref().map(|p| normalise_protocol(p.get_ref())),
                source_port: f.source_port,
                destination_port: f.destination_port,
                egress: f.egress.as_ref().map(|e| e.get_ref().clone()),
                encrypted: f.encrypted,
                outcome: one_of(&f.outcome, "outcome", &OUTCOMES)?,
                drop_reason: f.drop_reason.as_ref().map(|r| r.get_ref().clone()),
                verdict: one_of(&f.verdict, "verdict", &VERDICTS)?,
                packets: f.packets,
            });
        }
        Ok(Self {
            file,
            counters,
            conserved: raw
                .conserved
                .as_ref()
                .map(|c| (line_of(c.span().start), *c.get_ref())),
            drops,
            tx,
            flows,
        })
    }

    /// Checks that every interface named (in `tx` and `egress`) is an
    /// interface of `node`.
    pub(crate) fn check_names(&self, node: &Node) -> Result<(), ExpectError> {
        let names = self.tx.iter().map(|(name, line, _)| (name, *line)).chain(
            self.flows
                .iter()
                .filter_map(|f| f.egress.as_ref().map(|e| (e, f.line))),
        );
        for (name, line) in names {
            if node.interface_id(name).is_none() {
                return Err(ExpectError::Invalid {
                    file: self.file.clone(),
                    line,
                    column: 1,
                    message: format!(
                        "no interface {name:?} on node {} ({})",
                        node.name(),
                        node.interface_names().join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Every expectation that `report` does not meet (empty: all hold).
    pub fn check(&self, report: &ReplayReport) -> Vec<Failure> {
        let mut failures = Vec::new();
        let mut fail = |line: usize, message: String| {
            failures.push(Failure {
                file: self.file.clone(),
                line,
                message,
            });
        };
        for (name, line, expected) in &self.counters {
            let actual = match name.as_str() {
                "packets_in" => report.packets_in,
                "forwarded" => report.forwarded,
                "delivered" => report.delivered,
                "dropped" => report.dropped,
                "generated" => report.generated.packets,
                _ => report.violations.len() as u64,
            };
            if actual != *expected {
                fail(*line, format!("{name}: expected {expected}, got {actual}"));
            }
        }
        if let Some((line, expected)) = self.conserved
            && report.conserved != expected
        {
            fail(
                line,
                format!("conserved: expected {expected}, got {}", report.conserved),
            );
        }
        for (reason, line, expected) in &self.drops {
            let actual = report.drops.get(reason).copied().unwrap_or(0);
            if actual != *expected {
                fail(
                    *line,
                    format!("drops.{reason}: expected {expected}, got {actual}"),
                );
            }
        }
        for (name, line, expected) in &self.tx {
            let actual = report.tx_packets(name).unwrap_or(0);
            if actual != *expected {
                fail(
                    *line,
                    format!("tx.{name}: expected {expected} packets, got {actual}"),
                );
            }
        }
        for expectation in &self.flows {
            for message in expectation.check(&report.flows, report.untracked_flows.totals.packets) {
                fail(expectation.line, message);
            }
        }
        failures
    }
}

impl FlowExpectation {
    fn selects(&self, flow: &FlowReport) -> bool {
        let within = |net: &Option<IpNet>, address: &str| match net {
            None => true,
            Some(net) => address.parse::<IpAddr>().is_ok_and(|a| net.contains(&a)),
        };
        within(&self.source, &flow.id.source)
            && within(&self.destination, &flow.id.destination)
            && self
                .protocol
                .as_ref()
                .is_none_or(|p| *p == flow.id.protocol)
            && self.source_port.is_none_or(|p| p == flow.id.source_port)
            && self
                .destination_port
                .is_none_or(|p| p == flow.id.destination_port)
    }

    /// `untracked` packets were in flows beyond the report's cap.
    fn check(&self, flows: &[FlowReport], untracked: u64) -> Vec<String> {
        let mut messages = Vec::new();
        let selected: Vec<&FlowReport> = flows.iter().filter(|f| self.selects(f)).collect();
        if selected.is_empty() {
            let beyond = if untracked > 0 {
                format!(" ({untracked} packets were in flows beyond the cap, --max-flows)")
            } else {
                String::new()
            };
            messages.push(format!("flow {}: no flow matched{beyond}", self.label));
            return messages;
        }
        let label = &self.label;
        for flow in &selected {
            let who = format!("flow {label}: {}", flow.id.flow);
            if let Some(egress) = &self.egress {
                let elsewhere: Vec<&str> = flow
                    .totals
                    .paths
                    .iter()
                    .filter(|p| p.egress != *egress)
                    .map(|p| p.egress.as_str())
                    .collect();
                if flow.totals.paths.is_empty() || !elsewhere.is_empty() {
                    messages.push(format!(
                        "{who}: expected to leave on {egress}, left on [{}]",
                        flow.totals
                            .paths
                            .iter()
                            .map(|p| p.egress.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            if let Some(encrypted) = self.encrypted {
                let want = if encrypted { "encrypted" } else { "plain" };
                let wrong: u64 = flow
                    .totals
                    .paths
                    .iter()
                    .filter(|p| p.path != want)
                    .map(|p| p.packets)
                    .sum();
                if flow.totals.paths.is_empty() || wrong > 0 {
                    messages.push(format!(
                        "{who}: expected every packet to leave {want}; {wrong} of {} forwarded did not ({} dropped, {} delivered)",
                        flow.totals.forwarded, flow.totals.dropped, flow.totals.delivered
                    ));
                }
            }
            if let Some(outcome) = &self.outcome {
                let count = match outcome.as_str() {
                    "forwarded" => flow.totals.forwarded,
                    "delivered" => flow.totals.delivered,
                    _ => flow.totals.dropped,
                };
                if count != flow.totals.packets {
                    messages.push(format!(
                        "{who}: expected all {} packets {outcome}, got {count} (forwarded {}, delivered {}, dropped {})",
                        flow.totals.packets, flow.totals.forwarded, flow.totals.delivered, flow.totals.dropped
                    ));
                }
            }
            if let Some(reason) = &self.drop_reason {
                let count = flow.totals.drop_reasons.get(reason).copied().unwrap_or(0);
                if count != flow.totals.packets {
                    messages.push(format!(
                        "{who}: expected all {} packets dropped for {reason}, got {count} (drops {:?})",
                        flow.totals.packets, flow.totals.drop_reasons
                    ));
                }
            }
            if let Some(verdict) = &self.verdict
                && flow.totals.verdict != verdict
            {
                messages.push(format!(
                    "{who}: expected verdict {verdict}, got {}",
                    flow.totals.verdict
                ));
            }
        }
        if let Some(expected) = self.packets {
            let actual: u64 = selected.iter().map(|f| f.totals.packets).sum();
            if actual != expected {
                messages.push(format!(
                    "flow {label}: expected {expected} packets, got {actual} in {} flows",
                    selected.len()
                ));
            }
        }
        messages
    }
}

/// An address (as a host prefix) or a prefix.
fn parse_prefix(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A protocol as reports print it: a number becomes its name.
fn normalise_protocol(text: &str) -> String {
    match text.parse::<u8>() {
        Ok(number) => protocol_name(IpNumber(number)),
        Err(_) => text.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_file_and_line() {
        let text = "packets_in = 3\n\n[[flow]]\ndestination = \"10.1.0.0/16\"\negres = \"er\"\n";
        let error = Expectations::from_toml_str(text, "e.toml").unwrap_err();
        let shown = error.to_string();
        assert!(shown.starts_with("e.toml:5:"), "{shown}");
        assert!(shown.contains("egres"), "{shown}");
    }

    #[test]
    fn unknown_drop_reasons_and_bad_prefixes_are_errors() {
        let error =
            Expectations::from_toml_str("[drops]\nttl_exceded = 1\n", "e.toml").unwrap_err();
        assert!(error.to_string().starts_with("e.toml:2:1:"), "{error}");
        let error = Expectations::from_toml_str("[[flow]]\ndestination = \"10.1/16\"\n", "e.toml")
            .unwrap_err();
        assert!(error.to_string().starts_with("e.toml:2:"), "{error}");
        let error =
            Expectations::from_toml_str("[[flow]]\noutcome = \"lost\"\n", "e.toml").unwrap_err();
        assert!(
            error.to_string().contains("forwarded, delivered, dropped"),
            "{error}"
        );
    }

    #[test]
    fn prefixes_and_protocols_normalise() {
        assert_eq!(parse_prefix("10.1.0.10"), "10.1.0.10/32".parse().ok());
        assert_eq!(parse_prefix("fd00:1::/48"), "fd00:1::/48".parse().ok());
        assert_eq!(normalise_protocol("6"), "tcp");
        assert_eq!(normalise_protocol("UDP"), "udp");
    }
}
