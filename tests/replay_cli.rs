//! `erdp replay` errors and inputs beyond the corpus: exit 2 for an
//! unsupported link type, a pcap without --ingress, an unknown key in the
//! expectation file, an unknown --ingress; raw-IP captures get an Ethernet
//! header and replay like Ethernet ones.

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
