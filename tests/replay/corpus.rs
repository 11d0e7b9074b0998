//! The replay corpus (pcaps/corpus/): regenerating it gives the committed
//! files byte for byte; every capture replays through its node with its
//! expectations giving the exit code corpus.toml states (the leak must
//! fail), with conservation; pcaps/README.md lists every file; and the
//! report is the same with 1 and 2 workers.

use crate::support;

use support::dir::sorted_files;
#[path = "../../examples/make_corpus.rs"]
#[allow(dead_code)]
mod make_corpus;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Manifest {
    replay: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    capture: String,
    config: String,
    ingress: Option<String>,
    expect: String,
    exit: i32,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    root().join("pcaps").join("corpus")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erdp-replay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(corpus().join("corpus.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

#[test]
fn regenerating_the_corpus_gives_the_committed_files() {
    let dir = temp("regen");
    make_corpus::generate(&dir, &root().join("pcaps").join("configs"));
    let committed = sorted_files(&corpus());
    assert_eq!(sorted_files(&dir), committed, "file list");
    for name in committed {
        let fresh = std::fs::read(dir.join(&name)).unwrap();
        let old = std::fs::read(corpus().join(&name)).unwrap();
        assert!(
            fresh == old,
            "pcaps/corpus/{name} is stale: run `cargo run --example make_corpus`"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_lists_every_corpus_file() {
    let readme = std::fs::read_to_string(root().join("pcaps").join("README.md")).unwrap();
    for name in sorted_files(&corpus()) {
        // An expectation file is listed with its capture ("(+ .expect.toml)").
        let listed = name.strip_suffix(".expect.toml").unwrap_or(&name);
        assert!(
            readme.contains(listed),
            "pcaps/README.md does not mention {name}"
        );
    }
}

fn replay(entry: &Entry, out: &Path, workers: u32) -> (i32, String, serde_json::Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_erdp"));
    command
        .arg("replay")
        .arg("--config")
        .arg(corpus().join(&entry.config))
        .arg("--input")
        .arg(corpus().join(&entry.capture))
        .arg("--out-dir")
        .arg(out)
        .arg("--expect")
        .arg(corpus().join(&entry.expect))
        .arg("--workers")
        .arg(workers.to_string());
    if let Some(ingress) = &entry.ingress {
        command.arg("--ingress").arg(ingress);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    assert!(
        stderr.is_empty() || code == 2,
        "{}: stderr {stderr}",
        entry.capture
    );
    let report = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| {
        panic!(
            "{}: no report ({e}); stdout {stdout} stderr {stderr}",
            entry.capture
        )
    });
    (code, stdout, serde_json::from_str(&report).unwrap())
}

fn count(value: &serde_json::Value, key: &str) -> u64 {
    value[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

#[test]
fn every_capture_replays_as_expected_and_conserves_packets() {
    for entry in manifest().replay {
        let out = temp("corpus");
        let (code, stdout, report) = replay(&entry, &out, 1);
        assert_eq!(
            code, entry.exit,
            "{}: exit code; stdout:\n{stdout}",
            entry.capture
        );
        assert_eq!(report["conserved"], true, "{}", entry.capture);
        assert_eq!(
            count(&report, "packets_in"),
            count(&report, "forwarded") + count(&report, "delivered") + count(&report, "dropped"),
            "{}: in == forwarded + delivered + dropped",
            entry.capture
        );
        let drops: u64 = report["drops"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(drops, count(&report, "dropped"), "{}", entry.capture);
        // Every dropped frame is in drops.pcap, with its reason in drops.jsonl.
        let index = std::fs::read_to_string(out.join("drops.jsonl")).unwrap();
        let generated_dropped = count(&report["generated"], "dropped");
        assert_eq!(
            index.lines().count() as u64,
            drops + generated_dropped,
            "{}",
            entry.capture
        );
        // Per interface tx matches the frames in its pcap.
        for interface in report["interfaces"].as_array().unwrap() {
            if interface["kind"] != "ethernet" {
                continue;
            }
            let name = interface["name"].as_str().unwrap();
            let bytes = std::fs::read(out.join(format!("{name}.pcap"))).unwrap();
            let frames = count_pcap_frames(&bytes);
            assert_eq!(
                frames,
                count(&interface["tx"], "packets"),
                "{}: {name}",
                entry.capture
            );
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn the_leak_is_caught_and_named() {
    let entry = manifest()
        .replay
        .into_iter()
        .find(|e| e.capture.starts_with("leak"))
        .unwrap();
    let out = temp("leak");
    let (code, stdout, report) = replay(&entry, &out, 1);
    assert_eq!(code, 1);
    assert!(stdout.contains("EXPECTATION FAILED"), "{stdout}");
    assert!(stdout.contains("violations: expected 0, got 2"), "{stdout}");
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 2);
    assert_eq!(violations[0]["policy"], "onprem-encrypted");
    assert_eq!(violations[0]["egress"], "er");
    assert_eq!(violations[0]["destination"], "10.0.1.10");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn two_workers_give_the_same_report_and_per_flow_order() {
    for entry in manifest().replay {
        let one = temp("w1");
        let two = temp("w2");
        let (code1, _, report1) = replay(&entry, &one, 1);
        let (code2, _, report2) = replay(&entry, &two, 2);
        assert_eq!(code1, code2, "{}", entry.capture);
        assert_eq!(report1, report2, "{}", entry.capture);
        // Plain outputs are identical; ESP outputs may differ only in
        // sequence numbers when flows share an SA, so compare sizes there.
        for name in sorted_files(&one) {
            let a = std::fs::read(one.join(&name)).unwrap();
            let b = std::fs::read(two.join(&name)).unwrap();
            assert_eq!(a.len(), b.len(), "{}: {name}", entry.capture);
        }
        let _ = std::fs::remove_dir_all(&one);
        let _ = std::fs::remove_dir_all(&two);
    }
}

/// Frames in a little-endian pcap written by erdp.
fn count_pcap_frames(bytes: &[u8]) -> u64 {
    let mut at = 24;
    let mut frames = 0;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + len;
        frames += 1;
    }
    assert_eq!(at, bytes.len());
    frames
}
