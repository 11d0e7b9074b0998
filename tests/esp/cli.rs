//! `erdp esp` end to end: seal a capture, open it again, print Wireshark's
//! SA settings, and the exit codes for drops and bad configuration; pcapng
//! input, errors with the frame and offset and no partial output, SA
//! tables inside a node configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

fn erdp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_erdp"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps/esp")
        .join(name)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erdp-esp-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn frames(path: &Path) -> Vec<Vec<u8>> {
    let mut r = pcap_file::pcap::PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.unwrap().data.into_owned());
    }
    out
}

const SA: &str = r#"
[sa_out]
spi = 0x1001
algorithm = "aes-256-gcm"
key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
esn = true
tunnel = { local = "192.0.2.1", remote = "198.51.100.2" }
"#;

#[test]
fn seal_then_open_gives_back_the_capture() {
    let dir = temp_dir("roundtrip");
    let sa = dir.join("sa.toml");
    std::fs::write(&sa, SA).unwrap();
    let inner = fixture("scapy_aes128gcm_ipv4.inner.pcap");
    let esp = dir.join("esp.pcap");
    let back = dir.join("back.pcap");
    let seal = erdp()
        .args([
            "esp",
            "seal",
            "--table",
            "sa_out",
            "--first-seq",
            "0xFFFFFFFE",
            "--sa",
        ])
        .arg(&sa)
        .arg("--input")
        .arg(&inner)
        .arg("--output")
        .arg(&esp)
        .output()
        .unwrap();
    assert!(
        seal.status.success(),
        "{}",
        String::from_utf8_lossy(&seal.stderr)
    );
    let text = String::from_utf8_lossy(&seal.stdout);
    assert!(text.contains("sealed 7 of 7 frames"), "{text}");
    assert!(!text.contains("0001020304"), "no key in reports: {text}");

    let open = erdp()
        .args([
            "esp",
            "open",
            "--table",
            "sa_out",
            "--json",
            "--last-seq",
            "0xFFFFFFFD",
            "--sa",
        ])
        .arg(&sa)
        .arg("--input")
        .arg(&esp)
        .arg("--output")
        .arg(&back)
        .output()
        .unwrap();
    assert!(
        open.status.success(),
        "{}",
        String::from_utf8_lossy(&open.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&open.stdout).unwrap();
    assert_eq!(report["processed"], 7);
    assert_eq!(report["dropped"], 0);
    assert_eq!(frames(&back), frames(&inner));
    // The ESP capture is really encrypted and crosses 2^32.
    assert_ne!(frames(&esp), frames(&inner));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn open_counts_drops_and_exits_1() {
    let dir = temp_dir("drops");
    let case = "scapy_aes128gcm_ipv4";
    // Re-read the capture with one ICV byte flipped.
    let src = fixture(&format!("{case}.esp.pcap"));
    let mut reader = pcap_file::pcap::PcapReader::new(std::fs::File::open(&src).unwrap()).unwrap();
    let bad = dir.join("bad.pcap");
    let mut writer = pcap_file::pcap::PcapWriter::with_header(
        std::fs::File::create(&bad).unwrap(),
        reader.header(),
    )
    .unwrap();
    let mut first = true;
    while let Some(p) = reader.next_packet() {
        let mut p = p.unwrap().into_owned();
        if first {
            let last = p.data.len() - 1;
            p.data.to_mut()[last] ^= 1;
            first = false;
        }
        writer.write_packet(&p).unwrap();
    }
    drop(writer);
    let out = erdp()
        .args(["esp", "open", "--sa"])
        .arg(fixture(&format!("{case}.sa.toml")))
        .arg("--input")
        .arg(&bad)
        .arg("--output")
        .arg(dir.join("out.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("icv_failed: 1"), "{text}");
    assert!(text.contains("opened 6 of 7 frames"), "{text}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn wireshark_prints_the_esp_sa_line() {
    let out = erdp()
        .args(["esp", "wireshark", "--line-only", "--sa"])
        .arg(fixture("scapy_aes128gcm_ipv4.sa.toml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "\"IPv4\",\"*\",\"*\",\"0x00001001\",\
         \"AES-GCM with 16 octet ICV [RFC4106]\",\
         \"0x1f202122232425262728292a2b2c2d2e2f303132\",\"NULL\",\"\""
    );
}

#[test]
fn bad_configuration_exits_2_with_the_field() {
    let dir = temp_dir("badconfig");
    let sa = dir.join("sa.toml");
    std::fs::write(
        &sa,
        "spi = 0x1001\nalgorithm = \"aes-128-gcm\"\nkey = \"0011\"\n",
    )
    .unwrap();
    let out = erdp()
        .args(["esp", "wireshark", "--sa"])
        .arg(&sa)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key: aes-128-gcm needs 20 bytes"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn new_key_has_the_algorithm_length() {
    let out = erdp()
        .args(["esp", "new-key", "--algorithm", "chacha20-poly1305"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 72);
}

/// The frames of a pcap fixture rewritten as pcapng (one Ethernet or raw
/// interface, as the fixture's).
fn to_pcapng(pcap: &Path, out: &Path) {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::{
        InterfaceDescriptionBlock, InterfaceDescriptionOption,
    };
    use pcap_file::pcapng::{Block, PcapNgWriter};
    let mut reader = pcap_file::pcap::PcapReader::new(std::fs::File::open(pcap).unwrap()).unwrap();
    let linktype = reader.header().datalink;
    let mut writer = PcapNgWriter::new(std::fs::File::create(out).unwrap()).unwrap();
    writer
        .write_block(&Block::InterfaceDescription(InterfaceDescriptionBlock {
            linktype,
            snaplen: 0,
            // pcap-file writes a Duration's nanoseconds as the raw value.
            options: vec![InterfaceDescriptionOption::IfTsResol(9)],
        }))
        .unwrap();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        writer
            .write_block(&Block::EnhancedPacket(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: packet.timestamp,
                original_len: packet.orig_len,
                data: packet.data,
                options: vec![],
            }))
            .unwrap();
    }
}

/// `erdp esp <command>` with the `sa_out` table of `sa`.
fn esp_io(command: &str, sa: &Path, input: &Path, output: &Path) -> std::process::Output {
    erdp()
        .args(["esp", command, "--table", "sa_out", "--sa"])
        .arg(sa)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .unwrap()
}

#[test]
fn seal_and_open_read_pcapng_like_replay() {
    let dir = temp_dir("pcapng");
    let sa = dir.join("sa.toml");
    std::fs::write(&sa, SA).unwrap();
    let inner = fixture("scapy_aes128gcm_ipv4.inner.pcap");
    let inner_ng = dir.join("inner.pcapng");
    to_pcapng(&inner, &inner_ng);
    let esp = dir.join("esp.pcap");
    let out = esp_io("seal", &sa, &inner_ng, &esp);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("sealed 7 of 7 frames"), "{text}");
    let esp_ng = dir.join("esp.pcapng");
    to_pcapng(&esp, &esp_ng);
    let back = dir.join("back.pcap");
    let out = esp_io("open", &sa, &esp_ng, &back);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(frames(&back), frames(&inner));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_truncated_capture_names_the_frame_and_leaves_no_output() {
    let dir = temp_dir("truncated");
    let sa = dir.join("sa.toml");
    std::fs::write(&sa, SA).unwrap();
    let bytes = std::fs::read(fixture("scapy_aes128gcm_ipv4.inner.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let esp = dir.join("esp.pcap");
    let out = esp_io("seal", &sa, &cut, &esp);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("frame 7 at byte"), "{err}");
    assert!(err.contains("cut.pcap"), "{err}");
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["cut.pcap", "sa.toml"]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn wireshark_finds_an_sa_inside_a_node_configuration() {
    let node = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/corpus/design1-onprem-edge.toml");
    let out = erdp()
        .args(["esp", "wireshark", "--table", "interface", "--sa"])
        .arg(&node)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[interface] is a list of tables (lan, er, vpn)"),
        "{err}"
    );
    assert!(err.contains("--table interface.vpn.sa_out"), "{err}");
    let out = erdp()
        .args([
            "esp",
            "wireshark",
            "--line-only",
            "--table",
            "interface.vpn.sa_out",
            "--sa",
        ])
        .arg(&node)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"0x00001001\""));
}

/// `-v` installs the stderr log: the SA lifetime event (an `info` event)
/// shows with it and not without it.
#[test]
fn verbose_flag_logs_the_sa_lifetime_event() {
    let dir = temp_dir("verbose");
    let sa = dir.join("sa.toml");
    std::fs::write(&sa, format!("{SA}lifetime = {{ soft_packets = 1 }}\n")).unwrap();
    let inner = fixture("scapy_aes128gcm_ipv4.inner.pcap");
    let seal = |verbose: bool| {
        let mut command = erdp();
        if verbose {
            command.arg("-v");
        }
        command
            .env_remove("RUST_LOG")
            .args(["esp", "seal", "--table", "sa_out", "--sa"])
            .arg(&sa)
            .arg("--input")
            .arg(&inner)
            .arg("--output")
            .arg(dir.join("esp.pcap"))
            .output()
            .unwrap()
    };
    let quiet = seal(false);
    let verbose = seal(true);
    assert!(quiet.status.success() && verbose.status.success());
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !stderr(&quiet).contains("SA lifetime"),
        "{}",
        stderr(&quiet)
    );
    assert!(
        stderr(&verbose).contains("outbound SA lifetime"),
        "{}",
        stderr(&verbose)
    );
}
