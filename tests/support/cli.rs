//! Runs the `erdp` binary as a user would, for the CLI tests.

use std::process::Command;

/// `erdp ARGS`: the exit code (-1 when killed by a signal), stdout and
/// stderr.
pub fn erdp(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_erdp"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
