//! `erdp run` and its outputs as a user meets them: a capture that cannot
//! be written fails the run (exit 2) and leaves no file; a closed stdout
//! (`erdp run | head -1`) ends quietly; a reused output directory never
//! mixes two runs and a foreign one is refused; the summary's columns fit
//! their cells and its verdicts say only what is true.

use crate::support;

use std::path::{Path, PathBuf};

use std::process::{Command, Output, Stdio};
use support::dir::sorted_files as listing;

const ERDP: &str = env!("CARGO_BIN_EXE_erdp");

/// A small scenario: one ping flow, reported (not dropped) violations.
const TINY: &str = r#"name = "tiny"
duration_ms = 3000

[onprem]
advertise_er = ["10.0.0.0/16"]
advertise_vpn = ["10.0.0.0/17", "10.0.128.0/17"]
policy = "report"

[azure]
advertise_er = ["10.1.0.0/16"]
advertise_vpn = ["10.1.0.0/16"]
policy = "report"
"#;

const PING: &str = "\n[[flow]]\nname = \"a-ping-flow-with-a-rather-long-name-indeed\"\nkind = \"ping\"\nfrom = \"onprem\"\ncount = 50\ninterval_ms = 20\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erdp-run-outputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scenario_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn erdp(args: &[&str]) -> Output {
    Command::new(ERDP).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs erdp with its stdout closed before it writes anything.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(ERDP)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_capture_that_cannot_be_written_fails_the_run_and_leaves_nothing() {
    let dir = scratch("fsize");
    let file = scenario_file(&dir, "s.toml", &format!("{TINY}{PING}"));
    let out = dir.join("out");
    // A 2-block file size limit cuts the pcaps short; SIGXFSZ is ignored
    // so the writes fail with EFBIG, as on a full disk.
    let script = format!(
        "trap '' XFSZ; ulimit -f 2; exec {ERDP} run {file} --out-dir {}",
        out.display()
    );
    let output = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(!out.exists(), "{:?}", listing(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = scratch("pipe");
    let file = scenario_file(&dir, "s.toml", &format!("{TINY}{PING}"));
    let out = dir.join("out").display().to_string();
    for args in [
        vec!["run", file.as_str(), "--out-dir", out.as_str()],
        vec!["run", file.as_str(), "--json", "--out-dir", out.as_str()],
        vec!["demo"],
        vec!["esp", "wireshark", "--help"],
    ] {
        let expected = erdp(&args).status.code();
        let output = with_closed_stdout(&args);
        assert_eq!(output.status.code(), expected, "{args:?}");
        assert_eq!(text(&output.stderr), "", "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reused_directory_holds_one_run_and_a_foreign_one_is_refused() {
    let dir = scratch("reuse");
    let two = scenario_file(&dir, "two.toml", &format!("{TINY}\n[second_circuit]\n"));
    let one = scenario_file(&dir, "one.toml", TINY);
    let out = dir.join("out");
    let out_text = out.display().to_string();
    let output = erdp(&["run", &two, "--out-dir", &out_text]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(listing(&out).contains(&"er2-primary.pcap".to_string()));
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let output = erdp(&["run", &one, "--out-dir", &out_text]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        listing(&out),
        [
            ".erdp-outputs",
            "azure-vnet.pcap",
            "er-primary.pcap",
            "er-secondary.pcap",
            "msee-hub.pcap",
            "notes.txt",
            "onprem-lan.pcap",
            "report.html",
            "report.json"
        ]
    );

    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "mine").unwrap();
    let output = erdp(&["run", &one, "--out-dir", &foreign.display().to_string()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("is not empty"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(listing(&foreign), ["thesis.tex"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_summary_fits_its_cells_and_says_only_what_is_true() {
    let dir = scratch("summary");
    let file = scenario_file(&dir, "s.toml", &format!("{TINY}{PING}"));
    let output = erdp(&[
        "run",
        &file,
        "--out-dir",
        &dir.join("a").display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // Every line of the flow table (right-aligned last column) is as long
    // as its heading: no cell pushed its row out of line.
    let heading = stdout.lines().find(|l| l.starts_with("flow ")).unwrap();
    let row = stdout
        .lines()
        .find(|l| l.starts_with("a-ping-flow-with"))
        .unwrap();
    assert_eq!(row.len(), heading.len(), "\n{heading}\n{row}");
    assert!(stdout.contains("emulator speed:"), "{stdout}");
    // policy = "report" and nothing violated: no "(all dropped)".
    let ok = stdout.lines().find(|l| l.contains("[ok]")).unwrap();
    assert!(
        ok.contains("no violations") && !ok.contains("dropped"),
        "{ok}"
    );

    // Nothing flowed: nothing verified, never "[ok]".
    let empty = scenario_file(&dir, "empty.toml", TINY);
    let output = erdp(&[
        "run",
        &empty,
        "--out-dir",
        &dir.join("b").display().to_string(),
    ]);
    let stdout = text(&output.stdout);
    assert!(!stdout.contains("[ok]"), "{stdout}");
    assert!(stdout.contains("[unverified] nothing verified"), "{stdout}");

    let demo = text(&erdp(&["demo"]).stdout);
    assert!(!demo.contains("until the emulator lands"), "{demo}");
    let _ = std::fs::remove_dir_all(&dir);
}
