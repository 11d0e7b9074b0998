//! Standard output for every subcommand: [`Stdout`] and the `out!` /
//! `outln!` macros. A closed pipe (`erdp run | head -1`) ends the printing
//! quietly, as Unix tools do: later writes are discarded and the exit code
//! stays the command's. Any other write error (a full disk) is reported
//! once by [`finish`], which then exits 2.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::EXIT_USAGE;

/// Set once stdout cannot take more (closed pipe or error).
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error other than a closed pipe.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// The process's standard output; never fails (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stdout;

/// True once stdout was closed by its reader (or failed): long outputs may
/// stop early.
pub(crate) fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

fn note(error: &io::Error) {
    CLOSED.store(true, Ordering::Relaxed);
    if error.kind() != io::ErrorKind::BrokenPipe
        && let Ok(mut failure) = FAILURE.lock()
    {
        failure.get_or_insert_with(|| error.to_string());
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if closed() {
            return Ok(buf.len());
        }
        match io::stdout().lock().write(buf) {
            Err(error) if error.kind() != io::ErrorKind::Interrupted => {
                note(&error);
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if closed() {
            return Ok(());
        }
        if let Err(error) = io::stdout().lock().flush() {
            note(&error);
        }
        Ok(())
    }
}

/// Flushes stdout and returns `code`, or exit 2 after saying on stderr
/// that stdout failed (a closed pipe is not a failure).
pub(crate) fn finish(code: ExitCode) -> ExitCode {
    let _ = Stdout.flush();
    let failure = FAILURE.lock().ok().and_then(|mut f| f.take());
    match failure {
        Some(error) => {
            eprintln!("erdp: cannot write to standard output: {error}");
            ExitCode::from(EXIT_USAGE)
        }
        None => code,
    }
}

/// `print!` to [`Stdout`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!($crate::cli::stdout::Stdout, $($arg)*);
    }};
}

/// `println!` to [`Stdout`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::stdout::Stdout, $($arg)*);
    }};
}

pub(crate) use {out, outln};
