//! Why an `erdp` command failed: [`CliError`], shown on stderr after
//! `erdp COMMAND: ` and ending the process with exit code 2
//! ([`EXIT_USAGE`]). Errors from the library keep their own message (a
//! configuration error names its file, line, column and field); errors of
//! the command line itself name the flag or the file.

use std::process::ExitCode;

use thiserror::Error;

use super::EXIT_USAGE;
use crate::bench::BenchError;
use crate::capture::{CaptureError, RewriteError};
use crate::config::ConfigError;
use crate::dataplane::NodeError;
use crate::driver::BindingError;
use crate::esp::SaConfigError;
use crate::fib::RouteFileError;
use crate::html::HtmlError;
use crate::output::OutputError;
use crate::port::PortError;
use crate::replay::{ExpectError, ReplayError};
use crate::scenario::ScenarioError;

/// Why a command failed.
#[derive(Debug, Error)]
pub(crate) enum CliError {
    /// A node configuration file: its file, line, column and field.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A node that cannot be built from its configuration.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A scenario (its file, line and field) or its run's output.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// An expectations file (`--expect`).
    #[error(transparent)]
    Expect(#[from] ExpectError),
    /// A capture to read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A capture rewritten packet by packet (`erdp esp seal`/`open`) that
    /// could not be read or written.
    #[error(transparent)]
    Rewrite(#[from] RewriteError),
    /// An SA that cannot be set up from its configuration.
    #[error(transparent)]
    Sa(#[from] SaConfigError),
    /// A replay that could not run to its end.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A benchmark that could not run.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// A route list file (`erdp fib`).
    #[error(transparent)]
    RouteFile(#[from] RouteFileError),
    /// A device to bind or open (`erdp attach`).
    #[error(transparent)]
    Port(#[from] PortError),
    /// A binding of a node's interfaces to ports.
    #[error(transparent)]
    Binding(#[from] BindingError),
    /// The output directory or a file in it.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A report page.
    #[error(transparent)]
    Html(#[from] HtmlError),
    /// A report page that cannot be rendered.
    #[error("{0}")]
    Render(String),
    /// A report that JSON cannot encode.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A line of an input that is wrong: the file (or `stdin`), the line
    /// number and why.
    #[error("{file}:{line}: {reason}")]
    Line {
        /// The file, or `stdin`.
        file: String,
        /// Its 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Standard input or output failed.
    #[error("{stream}: {source}")]
    Stream {
        /// `stdin` or `stdout`.
        stream: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A command-line value that is not acceptable: the flag, the value
    /// and what is expected.
    #[error("{0}")]
    Argument(String),
    /// A file named on the command line that cannot be used: the file and
    /// why (and where in it, when known).
    #[error("{0}")]
    File(String),
    /// Something the system refused (a signal handler, a random source).
    #[error("{0}")]
    System(String),
}

impl CliError {
    /// The exit code of a command that failed so: 2, a usage or
    /// configuration error.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(EXIT_USAGE)
    }
}

/// A command's exit code: its own when it ran, else its error's, after
/// printing `erdp COMMAND: ERROR` on stderr.
pub(crate) fn exit(command: &str, result: Result<ExitCode, CliError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("erdp {command}: {error}");
            error.exit_code()
        }
    }
}
