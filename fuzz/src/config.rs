//! Target `config`: arbitrary text, or a sample node configuration from
//! `pcaps/configs/` edited line by line (lines deleted, duplicated, swapped,
//! inserted, values replaced by edge cases), through
//! [`NodeConfig::from_toml_str`], then [`Node::new`] on what parses.
//!
//! Oracles: no panic; an error names the file and places every problem at
//! a line and column inside the text (a syntax error at line 1 or later;
//! a semantic one at line 0 only with column 0, a field not in the text),
//! and its Display shows each problem as `file:line:column: ...`; a parsed
//! configuration builds a node or gives an error that says why, and a built
//! node has the configuration's interfaces and balanced counters.

use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use erdp::config::{ConfigError, NodeConfig};
use erdp::dataplane::Node;

use super::hex_prefix;

/// The name errors must carry.
pub const NAME: &str = "fuzz-node.toml";
/// Most edits applied to a sample.
pub const MAX_EDITS: usize = 8;
/// First input byte below this: the rest is the text as is.
pub const TEXT_MODE_BELOW: u8 = 0x40;

/// The sample configurations edits start from.
pub const SAMPLES: [&str; 4] = [
    include_str!("../../pcaps/configs/design1-onprem-edge.toml"),
    include_str!("../../pcaps/configs/design1-azure-gateway.toml"),
    include_str!("../../pcaps/configs/design2-onprem-edge.toml"),
    include_str!("../../pcaps/configs/design2-azure-gateway.toml"),
];

/// Values a replaced field may get: numbers at and past every limit,
/// strings of the wrong kind, empty and nested containers.
pub const EDGE_VALUES: [&str; 32] = [
    "0",
    "-1",
    "1",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "nan",
    "true",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[[]]",
    "\"0.0.0.0/0\"",
    "\"::/0\"",
    "\"10.0.0.1/33\"",
    "\"10.0.0.1/32\"",
    "\"fe80::1/10\"",
    "\"ff02::1\"",
    "\"255.255.255.255\"",
    "\"02:00:00:00:00:00\"",
    "\"ff:ff:ff:ff:ff:ff\"",
    "\"ethernet\"",
    "\"esp-tunnel\"",
    "\"chacha20-poly1305\"",
    "\"drop\"",
    "{ spi = 0, algorithm = \"aes-128-gcm\", key = \"00\" }",
    "0x1001",
];

/// One line edit (line numbers wrap around the text's lines).
#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    Delete(u16),
    Duplicate(u16),
    Swap(u16, u16),
    Insert(u16, String),
    /// The value after `=` on the line becomes `EDGE_VALUES[value]`.
    EdgeValue(u16, u8),
    /// The value after `=` on the line becomes this text.
    Value(u16, String),
    /// Characters from `at` on the line replaced by `with`.
    Splice {
        line: u16,
        at: u8,
        with: String,
    },
}

/// A sample and the edits to apply.
#[derive(Arbitrary, Debug, Clone)]
pub struct EditedSample {
    pub sample: u8,
    pub edits: Vec<Edit>,
}

/// What a run saw, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The text did not parse or validate: this many problems.
    Refused(usize),
    /// Parsed, but the node refused it (the error's text).
    NodeRefused(String),
    /// A node was built with this many interfaces.
    Built(usize),
}

/// The fuzz entry: first byte below [`TEXT_MODE_BELOW`]: the rest as text;
/// otherwise an edited sample.
pub fn run(data: &[u8]) {
    match data.split_first() {
        Some((&mode, rest)) if mode < TEXT_MODE_BELOW => {
            check(&String::from_utf8_lossy(rest));
        }
        Some((_, rest)) => {
            if let Ok(edited) = EditedSample::arbitrary_take_rest(Unstructured::new(rest)) {
                check(&edit(&edited));
            }
        }
        None => {
            check("");
        }
    }
}

/// The text of an edited sample.
pub fn edit(edited: &EditedSample) -> String {
    let sample = SAMPLES[usize::from(edited.sample) % SAMPLES.len()];
    let mut lines: Vec<String> = sample.lines().map(str::to_owned).collect();
    for change in edited.edits.iter().take(MAX_EDITS) {
        if lines.is_empty() {
            break;
        }
        let at = |line: u16| usize::from(line) % lines.len();
        match change {
            Edit::Delete(line) => {
                lines.remove(at(*line));
            }
            Edit::Duplicate(line) => {
                let i = at(*line);
                lines.insert(i, lines[i].clone());
            }
            Edit::Swap(a, b) => {
                let (a, b) = (at(*a), at(*b));
                lines.swap(a, b);
            }
            Edit::Insert(line, text) => lines.insert(at(*line), text.clone()),
            Edit::EdgeValue(line, value) => {
                let value = EDGE_VALUES[usize::from(*value) % EDGE_VALUES.len()];
                let i = at(*line);
                lines[i] = with_value(&lines[i], value);
            }
            Edit::Value(line, value) => {
                let i = at(*line);
                lines[i] = with_value(&lines[i], value);
            }
            Edit::Splice {
                line,
                at: column,
                with,
            } => {
                let i = at(*line);
                let kept: String = lines[i].chars().take(usize::from(*column)).collect();
                lines[i] = kept + with;
            }
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// `line` with what follows its first `=` replaced by `value`.
fn with_value(line: &str, value: &str) -> String {
    match line.split_once('=') {
        Some((key, _)) => format!("{key}= {value}"),
        None => line.to_owned(),
    }
}

/// Runs one text; panics on the first broken oracle.
pub fn check(text: &str) -> Verdict {
    let context = || format!("text {}", hex_prefix(text.as_bytes(), 200));
    let config = match NodeConfig::from_toml_str(text, NAME) {
        Ok(config) => config,
        Err(error) => {
            check_error(text, &error, &context());
            return Verdict::Refused(error.problems().len());
        }
    };
    let interfaces = config.interfaces.len();
    match Node::new(config) {
        Ok(node) => {
            let node = Arc::new(node);
            assert_eq!(
                node.interface_names().len(),
                interfaces,
                "{}: the node's interfaces",
                context()
            );
            let counters = node.counters();
            assert!(counters.input.is_conserved() && counters.input.packets == 0);
            Verdict::Built(interfaces)
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.trim().is_empty(),
                "{}: an empty node error",
                context()
            );
            Verdict::NodeRefused(message)
        }
    }
}

/// The error names the file and places every problem inside the text.
fn check_error(text: &str, error: &ConfigError, context: &str) {
    let problems = error.problems();
    assert!(
        !problems.is_empty(),
        "{context}: an error without a problem: {error}"
    );
    // line_column counts newlines before the offset, so a text has one
    // line more than its newlines.
    let line_count = text.matches('\n').count() + 1;
    let shown = error.to_string();
    for problem in problems {
        assert_eq!(
            problem.file.to_str(),
            Some(NAME),
            "{context}: the problem names another file: {problem}"
        );
        assert!(
            problem.line <= line_count,
            "{context}: line {} past the text's {line_count} lines: {problem}",
            problem.line
        );
        if problem.line == 0 {
            assert!(
                matches!(error, ConfigError::Invalid(_)) && problem.column == 0,
                "{context}: line 0 for a syntax error or with a column: {problem}"
            );
        } else {
            let line = text.split('\n').nth(problem.line - 1).unwrap_or("");
            assert!(
                problem.column <= line.chars().count() + 1,
                "{context}: column {} past the end of line {}: {problem}",
                problem.column,
                problem.line
            );
        }
        let prefix = format!("{NAME}:{}:{}: ", problem.line, problem.column);
        let located = problem.to_string();
        assert!(
            located.starts_with(&prefix) && shown.contains(&located),
            "{context}: the error does not show `{prefix}...`: {shown}"
        );
    }
}
