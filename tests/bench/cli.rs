//! `erdp bench` on a small capture for a fraction of a second: the JSON
//! has every figure for each worker count and both ceilings, and the
//! counts are conserved (each frame one outcome, the node's own counter
//! agreeing, the workers' shares adding up). No timing is asserted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use erdp::capture::{LinkType, PcapFileWriter};
use etherparse::PacketBuilder;
use serde_json::Value;

const ONPREM_LAN: [u8; 6] = [2, 0, 0, 0, 1, 1];
const ONPREM_HOST: [u8; 6] = [2, 0, 0, 0, 0x0a, 1];
const OTHER_HOST: [u8; 6] = [2, 0, 0, 0, 0x0b, 1];

fn corpus(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "pcaps", "corpus", name]
        .iter()
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erdp-bench-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn udp(to_mac: [u8; 6], destination: [u8; 4], port: u16, size: usize) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(ONPREM_HOST, to_mac)
        .ipv4([10, 0, 1, 10], destination, 64)
        .udp(port, 443);
    let mut out = Vec::new();
    builder.write(&mut out, &vec![0x5a; size - 42]).unwrap();
    out
}

/// 48 frames into the tunnel (10.1.0.0/16 on the design-1 edge), 32 plain
/// over ExpressRoute (the gateway subnet), 16 for another host's MAC.
fn mixed_capture(path: &Path) -> (usize, usize) {
    let mut writer = PcapFileWriter::create_with_link_type(path, LinkType::Ethernet).unwrap();
    let mut frames = 0;
    for i in 0..48u16 {
        let frame = udp(ONPREM_LAN, [10, 1, 0, 10], 20000 + i, 400);
        writer.write_frame(u64::from(i), &frame).unwrap();
        frames += 1;
    }
    for i in 0..32u16 {
        let frame = udp(ONPREM_LAN, [10, 100, 255, 5], 30000 + i, 64);
        writer.write_frame(u64::from(i), &frame).unwrap();
        frames += 1;
    }
    for i in 0..16u16 {
        let frame = udp(OTHER_HOST, [10, 100, 255, 5], 40000 + i, 64);
        writer.write_frame(u64::from(i), &frame).unwrap();
        frames += 1;
    }
    writer.finish().unwrap();
    (frames, 48)
}

fn erdp_bench(config: &str, input: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erdp"))
        .arg("bench")
        .arg("--config")
        .arg(corpus(config))
        .arg("--input")
        .arg(input)
        .args(if extra.contains(&"--ingress") {
            &[][..]
        } else {
            &["--ingress", "lan"][..]
        })
        .args(extra)
        .args(if extra.contains(&"--seconds") {
            &[][..]
        } else {
            &["--seconds", "0.2"][..]
        })
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn count(run: &Value, field: &str) -> u64 {
    run["counts"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("counts.{field} in {run}"))
}

#[test]
fn json_has_every_figure_and_the_counts_are_conserved() {
    let dir = temp("mixed");
    let input = dir.join("mixed.pcap");
    let (frames, tunnel_bound) = mixed_capture(&input);
    let report = json(&erdp_bench(
        "design1-onprem-edge.toml",
        &input,
        &["--workers", "1,2", "--json"],
    ));
    assert_eq!(report["frames"], frames);
    assert_eq!(report["skipped_frames"], 0);
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for (run, workers) in runs.iter().zip([1u64, 2]) {
        assert_eq!(run["workers"], workers);
        for field in [
            "packets_per_second",
            "gbit_per_second",
            "ns_per_packet",
            "seconds",
            "speedup",
        ] {
            assert!(run[field].as_f64().is_some(), "{field} in {run}");
        }
        // CPU time comes from /proc in ticks of 10 ms: null when unknown.
        for field in ["cpu_busy", "packets_per_cpu_second"] {
            assert!(
                run[field].is_f64() || run[field].is_null(),
                "{field} in {run}"
            );
        }
        let packets = count(run, "packets");
        // At least one pass over the capture (every worker loops its share).
        assert!(packets >= frames as u64 / 2, "{run}");
        assert_eq!(
            packets,
            count(run, "forwarded") + count(run, "delivered") + count(run, "dropped")
        );
        assert_eq!(run["conserved"], true, "{run}");
        let per_worker: Vec<u64> = run["per_worker"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(per_worker.len() as u64, workers);
        assert_eq!(per_worker.iter().sum::<u64>(), packets);
        // Every kind of fate of the capture shows up.
        assert!(count(run, "encrypted") > 0, "{run}");
        assert!(count(run, "forwarded") > count(run, "encrypted"), "{run}");
        assert!(count(run, "dropped") > 0, "{run}");
        let shares = &run["shares"];
        let sum: f64 = ["forwarded", "delivered", "dropped"]
            .iter()
            .map(|k| shares[*k].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{shares}");
    }
    assert_eq!(report["copy_ceiling"]["frames"], frames);
    assert!(report["copy_ceiling"]["node_ratio"].as_f64().is_some());
    assert_eq!(report["esp_ceiling"]["frames"], tunnel_bound);
    assert!(
        report["esp_ceiling"]["packets_per_second"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn plain_traffic_has_no_esp_ceiling_and_the_table_prints() {
    let dir = temp("plain");
    let input = dir.join("plain.pcap");
    let mut writer = PcapFileWriter::create_with_link_type(&input, LinkType::Ethernet).unwrap();
    for i in 0..20u16 {
        let frame = udp(ONPREM_LAN, [10, 3, 0, 10], 20000 + i, 64);
        writer.write_frame(u64::from(i), &frame).unwrap();
    }
    writer.finish().unwrap();
    let report = json(&erdp_bench(
        "design2-onprem-edge.toml",
        &input,
        &["--workers", "1", "--json"],
    ));
    assert!(report["esp_ceiling"].is_null(), "{report}");
    let run = &report["runs"][0];
    assert_eq!(count(run, "forwarded"), count(run, "packets"));
    let table = erdp_bench("design2-onprem-edge.toml", &input, &["--workers", "1"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("packets/s"), "{text}");
    assert!(text.contains("no frame goes into a tunnel"), "{text}");
}

#[test]
fn bad_arguments_are_exit_2_naming_the_value() {
    let dir = temp("args");
    let input = dir.join("plain.pcap");
    let mut writer = PcapFileWriter::create_with_link_type(&input, LinkType::Ethernet).unwrap();
    let frame = udp(ONPREM_LAN, [10, 3, 0, 10], 20000, 64);
    writer.write_frame(0, &frame).unwrap();
    writer.finish().unwrap();
    for (extra, named) in [
        (["--workers", "0"], "\"0\""),
        (["--seconds", "0"], "--seconds 0: give a time"),
        (["--ingress", "nope"], "nope"),
    ] {
        let mut args = vec!["--json"];
        args.extend(extra);
        let output = erdp_bench("design2-onprem-edge.toml", &input, &args);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{stderr}");
    }
}
