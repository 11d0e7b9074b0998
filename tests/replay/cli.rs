//! `erdp replay` errors and inputs beyond the corpus: exit 2 for an
//! unsupported link type, a pcap without --ingress, an unknown key in the
//! expectation file, an unknown --ingress; raw-IP captures get an Ethernet
//! header and replay like Ethernet ones; a capture of other devices'
//! traffic fails loudly without --promiscuous and replays with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use erdp::capture::{CaptureReader, LinkType, PcapFileWriter};
use erdp::packet::PacketBuf;

fn corpus(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "pcaps", "corpus", name]
        .iter()
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erdp-replay-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn erdp_replay(input: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erdp"))
        .arg("replay")
        .arg("--config")
        .arg(corpus("design1-onprem-edge.toml"))
        .arg("--input")
        .arg(input)
        .arg("--out-dir")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn unsupported_link_type_is_exit_2_with_a_clear_error() {
    let dir = temp("link");
    let input = dir.join("wifi.pcap");
    let mut bytes = Vec::new();
    for field in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 105] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    // pcap magic, version 2.4 (as two u16: 2 then 4)
    bytes[4..8].copy_from_slice(&[2, 0, 4, 0]);
    for field in [0u32, 0, 4, 4] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    std::fs::write(&input, bytes).unwrap();
    let output = erdp_replay(&input, &dir.join("out"), &["--ingress", "lan"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unsupported link type 105"),
        "{}",
        stderr(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pcap_without_ingress_or_with_a_bad_one_is_exit_2() {
    let dir = temp("ingress");
    let input = corpus("design1-onprem-to-azure.pcap");
    let output = erdp_replay(&input, &dir.join("a"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("give --ingress"),
        "{}",
        stderr(&output)
    );
    let output = erdp_replay(&input, &dir.join("b"), &["--ingress", "vpn"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not an Ethernet interface"),
        "{}",
        stderr(&output)
    );
    // A failed replay creates no file (not even the directory).
    assert!(!dir.join("a").exists() && !dir.join("b").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_replay_leaves_the_previous_outputs_whole() {
    let dir = temp("stale");
    let input = corpus("design1-onprem-to-azure.pcap");
    let out = dir.join("out");
    let output = erdp_replay(&input, &out, &["--ingress", "lan"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listing = |dir: &Path| {
        let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        all.sort();
        all
    };
    let before = listing(&out);
    assert!(before.iter().any(|(name, _)| name == "report.json"));
    let output = erdp_replay(&input, &out, &["--ingress", "vpn"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        listing(&out) == before,
        "the previous replay's files changed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_ends_a_replay_quietly() {
    let dir = temp("pipe");
    let input = corpus("design1-onprem-to-azure.pcap");
    let expected = erdp_replay(&input, &dir.join("a"), &["--ingress", "lan"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_erdp"))
        .arg("replay")
        .arg("--config")
        .arg(corpus("design1-onprem-edge.toml"))
        .arg("--input")
        .arg(&input)
        .arg("--out-dir")
        .arg(dir.join("b"))
        .args(["--ingress", "lan"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), expected.status.code());
    assert_eq!(stderr(&output), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_expectation_keys_are_exit_2_with_file_and_line() {
    let dir = temp("expect");
    let expect = dir.join("e.toml");
    std::fs::write(&expect, "packets_in = 7\nviolation = 0\n").unwrap();
    let output = erdp_replay(
        &corpus("design1-onprem-to-azure.pcap"),
        &dir.join("out"),
        &["--ingress", "lan", "--expect", expect.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("e.toml:2:1"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("violation"), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn raw_ip_captures_replay_like_ethernet_ones() {
    let dir = temp("raw");
    // The corpus capture with its Ethernet headers stripped.
    let mut reader = CaptureReader::open(corpus("design1-onprem-to-azure.pcap")).unwrap();
    let raw = dir.join("raw.pcap");
    let mut writer = PcapFileWriter::create_with_link_type(&raw, LinkType::RawIp).unwrap();
    let mut buf = PacketBuf::new();
    while let Some(meta) = reader.next_frame(&mut buf).unwrap() {
        writer
            .write_frame(meta.timestamp_ns, &buf.as_slice()[14..])
            .unwrap();
    }
    writer.finish().unwrap();
    let output = erdp_replay(
        &raw,
        &dir.join("out"),
        &[
            "--ingress",
            "lan",
            "--expect",
            corpus("design1-onprem-to-azure.expect.toml")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The corpus capture with every destination MAC set to another host's.
fn foreign_capture(dir: &Path) -> (PathBuf, u64) {
    let mut reader = CaptureReader::open(corpus("design1-onprem-to-azure.pcap")).unwrap();
    let path = dir.join("foreign.pcap");
    let mut writer = PcapFileWriter::create_with_link_type(&path, LinkType::Ethernet).unwrap();
    let mut buf = PacketBuf::new();
    let mut frames = 0;
    while let Some(meta) = reader.next_frame(&mut buf).unwrap() {
        let mut frame = buf.as_slice().to_vec();
        frame[..6].copy_from_slice(&[0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c]);
        writer.write_frame(meta.timestamp_ns, &frame).unwrap();
        frames += 1;
    }
    writer.finish().unwrap();
    (path, frames)
}

#[test]
fn a_foreign_capture_fails_loudly_without_promiscuous() {
    let dir = temp("foreign");
    let (capture, frames) = foreign_capture(&dir);
    let output = erdp_replay(&capture, &dir.join("out"), &["--ingress", "lan"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", stderr(&output));
    assert!(
        stdout.contains(&format!(
            "WARNING: {frames} of {frames} frames (100%) dropped as not_our_mac"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("--promiscuous"), "{stdout}");
    assert!(
        stdout.contains("NOTHING FORWARDED OR DELIVERED"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_foreign_capture_replays_with_promiscuous() {
    let dir = temp("promiscuous");
    let (capture, frames) = foreign_capture(&dir);
    let out = dir.join("out");
    let expect = corpus("design1-onprem-to-azure.expect.toml");
    let output = erdp_replay(
        &capture,
        &out,
        &[
            "--ingress",
            "lan",
            "--promiscuous",
            "--expect",
            expect.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", stderr(&output));
    assert!(!stdout.contains("WARNING"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["promiscuous"]["readdressed"], frames);
    // Without --promiscuous the report has no such key.
    let plain = dir.join("plain");
    let output = erdp_replay(
        &corpus("design1-onprem-to-azure.pcap"),
        &plain,
        &["--ingress", "lan"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plain.join("report.json")).unwrap()).unwrap();
    assert!(report.get("promiscuous").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn max_flows_caps_the_report_and_keeps_totals_exact() {
    let dir = temp("cap");
    let input = corpus("design1-onprem-to-azure.pcap");
    let read = |out: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
    };
    let sum = |flows: &serde_json::Value, field: &str| -> u64 {
        flows
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[field].as_u64().unwrap())
            .sum()
    };
    let all = dir.join("all");
    assert_eq!(
        erdp_replay(&input, &all, &["--ingress", "lan"])
            .status
            .code(),
        Some(0)
    );
    let all = read(&all);
    let flows = all["flows"].as_array().unwrap().len();
    assert!(flows > 2, "{flows}");
    assert_eq!(all["untracked_flows"]["packets"], 0);
    let capped = dir.join("capped");
    let output = erdp_replay(&input, &capped, &["--ingress", "lan", "--max-flows", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("flows beyond the cap of 2"), "{stdout}");
    let capped = read(&capped);
    assert_eq!(capped["flow_cap"], 2);
    assert_eq!(capped["flows"].as_array().unwrap().len(), 2);
    assert_eq!(capped["flows"][0], all["flows"][0]);
    assert_eq!(capped["flows"][1], all["flows"][1]);
    for field in ["packets", "bytes", "forwarded", "delivered", "dropped"] {
        assert_eq!(
            sum(&capped["flows"], field) + capped["untracked_flows"][field].as_u64().unwrap(),
            sum(&all["flows"], field),
            "{field}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
