//! The `erdp` binary: parses the command line and runs the chosen subcommand.

fn main() -> std::process::ExitCode {
    erdp::run_command_line()
}
