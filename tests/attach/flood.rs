//! `erdp attach` under a flood of 64 B frames (root and iproute2: ignored
//! by a plain `cargo test`, run with `--ignored` by
//! .ci/steps/45-attach-netns.sh). Three network namespaces: a sender, the
//! node (the corpus's design-2 on-premises edge, LAN and ER bound through
//! AF_PACKET, captures and a report on) and a peer on the ER side. The
//! sender, written here, writes 64 B frames to the node's LAN as fast as
//! AF_PACKET takes them: plain-path flows (forwarded on ER in clear), flows
//! to the sensitive VNet (encrypted into the tunnel) and flows with no
//! route (dropped), over thousands of source ports. Asserts: the node runs
//! to the end, its resident memory stops growing once warm (VmRSS at 5 s
//! and at the end, a fixed margin), every frame it read has one fate (the
//! report's counters add up), and SIGTERM in the middle of the flood still
//! writes a complete report and captures that read back whole, frame for
//! frame as the ports counted them.
//!
//! ERDP_FLOOD_SECONDS sets the flood's length (default 30); the flood also
//! stops after [`MAX_FRAMES`]. ERDP_ATTACH_BACKEND picks the node's
//! AF_PACKET backend (`pnet` by default, or `mmsg`); ERDP_ATTACH_RUN_ID tags
//! the namespaces for the CI step's cleanup trap.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use erdp::capture::CaptureReader;
use erdp::packet::PacketBuf;
use erdp::port::netns::{Netns, is_root, run_command, tool_available, veth_pair};
use erdp::port::{AfPacketBackend, AfPacketConfig, AfPacketPort, Port};
use etherparse::PacketBuilder;
use serde_json::Value;
use support::capture::TempDir;

/// The node's LAN MAC in pcaps/corpus/design2-onprem-edge.toml.
const EDGE_LAN_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
/// The on-premises host the config names (10.0.1.10).
const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0x0a, 1];
/// Frames on the wire: the Ethernet minimum without FCS is 60, the test's
/// frames are 64 B as a traffic generator's are (with 22 B of payload).
const FRAME_LEN: usize = 64;
/// Distinct source ports per destination.
const FLOWS: u16 = 4096;
/// The flood stops here even when time is left.
const MAX_FRAMES: u64 = 200_000_000;
/// Resident memory may grow by this much after the first 5 s.
const RSS_MARGIN_KB: u64 = 16 * 1024;

const STEP: &str = ".ci/steps/45-attach-netns.sh";

/// Frame `i` of the flood: 6 of 8 to the shared-services VNet (plain over
/// ER), 1 to the sensitive VNet (into the tunnel), 1 to TEST-NET-1 (no
/// route: dropped).
fn flood_frame(i: u16) -> Vec<u8> {
    let destination = match i % 8 {
        6 => [10, 1, 0, 10],
        7 => [192, 0, 2, 1],
        _ => [10, 3, 0, 10],
    };
    let payload = [0x5a_u8; FRAME_LEN - 14 - 20 - 8];
    let mut out = Vec::with_capacity(FRAME_LEN);
    PacketBuilder::ethernet2(HOST_MAC, EDGE_LAN_MAC)
        .ipv4([10, 0, 1, 10], destination, 64)
        .udp(20000 + i % FLOWS, 9)
        .write(&mut out, &payload)
        .expect("a UDP frame");
    out
}

fn flood_seconds() -> u64 {
    std::env::var("ERDP_FLOOD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// Writes the flood's frames to `port` until `stop` or [`MAX_FRAMES`];
/// returns the frames the kernel took.
fn flood(mut port: AfPacketPort, stop: &AtomicBool) -> u64 {
    let frames: Vec<PacketBuf> = (0..FLOWS)
        .map(|i| {
            let mut buf = PacketBuf::new();
            buf.load(&flood_frame(i), PacketBuf::DEFAULT_HEADROOM)
                .expect("load");
            buf
        })
        .collect();
    let mut sent = 0u64;
    'flood: loop {
        for chunk in frames.chunks(64) {
            if stop.load(Ordering::Relaxed) || sent >= MAX_FRAMES {
                break 'flood;
            }
            sent += port.send_batch(chunk).sent as u64;
        }
    }
    sent
}

/// VmRSS of process `pid` in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// The node, killed if still running when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start_node(ns: &Netns, captures: &Path, report: &Path) -> Node {
    let config: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "pcaps",
        "corpus",
        "design2-onprem-edge.toml",
    ]
    .iter()
    .collect();
    let backend = std::env::var("ERDP_ATTACH_BACKEND").unwrap_or_else(|_| "pnet".to_owned());
    // `ip netns exec` execs erdp in place: the child's PID is erdp's.
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            env!("CARGO_BIN_EXE_erdp"),
            "attach",
        ])
        .arg("--config")
        .arg(&config)
        .args([
            "--bind",
            "lan=lan0",
            "--bind",
            "er=er0",
            "--backend",
            &backend,
        ])
        .arg("--capture-dir")
        .arg(captures)
        .arg("--report")
        .arg(report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start erdp attach");
    let stderr = child.stderr.take().expect("stderr");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[node] {line}");
            if line.contains("forwarding on") {
                let _ = ready_tx.send(());
            }
        }
    });
    let node = Node(child);
    ready_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("erdp attach did not start forwarding");
    node
}

/// SIGTERM; the node must exit 0 within 60 s (it flushes its captures).
fn stop_node(mut node: Node) {
    run_command("kill", &["-TERM", &node.0.id().to_string()]).expect("kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = node.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit 60 s after SIGTERM");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "erdp attach exited with {status}");
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

fn sum_of(map: &Value) -> u64 {
    map.as_object()
        .expect("a map of counts")
        .values()
        .map(count)
        .sum()
}

/// Every frame of a capture, read back to the end (an error fails).
fn frames_in(capture: &Path) -> u64 {
    let mut reader =
        CaptureReader::open(capture).unwrap_or_else(|e| panic!("{}: {e}", capture.display()));
    let mut buf = PacketBuf::new();
    let mut frames = 0u64;
    while let Some(meta) = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", capture.display()))
    {
        assert_eq!(meta.original_len as usize, buf.len(), "a truncated frame");
        frames += 1;
    }
    frames
}

/// Every frame read has one fate, and what was sent adds up.
fn assert_conserved(report: &Value, flood_sent: u64) {
    let input = &report["counters"]["input"];
    let generated = &report["counters"]["generated"];
    let ports = report["ports"].as_array().expect("ports");
    let rx: u64 = ports.iter().map(|p| count(&p["rx_packets"])).sum();
    let packets = count(&input["packets"]);
    assert_eq!(
        rx, packets,
        "frames delivered by the ports = frames given to the node"
    );
    assert_eq!(
        count(&report["run"]["frames"]),
        packets,
        "the run loop's frames"
    );
    assert_eq!(
        count(&input["forwarded"]) + count(&input["delivered"]) + count(&input["dropped"]),
        packets,
        "each input frame forwarded, delivered or dropped: {input}"
    );
    assert_eq!(
        sum_of(&input["dropped_by_reason"]),
        count(&input["dropped"])
    );
    assert_eq!(
        sum_of(&input["delivered_by_kind"]),
        count(&input["delivered"])
    );
    for traffic in [input, generated] {
        assert!(count(&traffic["forwarded"]) <= count(&traffic["packets"]));
    }
    let sent = &report["sent"];
    assert_eq!(
        count(&sent["queued"]),
        count(&input["forwarded"]) + count(&generated["forwarded"]),
        "every forwarded frame queued on a port"
    );
    assert_eq!(count(&sent["unbound_egress"]), 0);
    let tx: u64 = ports
        .iter()
        .map(|p| count(&p["tx_packets"]) + count(&p["tx_errors"]))
        .sum();
    assert_eq!(
        tx,
        count(&sent["queued"]),
        "every queued frame sent or failed"
    );
    let lan = ports.iter().find(|p| p["name"] == "lan").expect("lan port");
    assert!(
        count(&lan["rx_packets"]) <= flood_sent,
        "the node read more frames than were sent"
    );
    // The flood's three fates all happened.
    assert!(count(&input["forwarded"]) > 1000, "{input}");
    assert!(
        count(&input["dropped_by_reason"]["no_route"]) > 100,
        "{input}"
    );
    let vpn = report["counters"]["interfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .find(|i| i["name"] == "vpn")
        .expect("vpn counters");
    assert!(count(&vpn["encrypted"]["packets"]) > 100, "{vpn}");
}

#[test]
#[ignore = "root: run by .ci/steps/45-attach-netns.sh"]
fn attach_survives_a_64_byte_flood_and_stops_cleanly_on_sigterm_root() {
    assert!(
        is_root(),
        "needs root (network namespaces, veth, AF_PACKET); {STEP} runs it"
    );
    for tool in ["ip", "ethtool"] {
        assert!(
            tool_available(tool),
            "needs `{tool}` on PATH; {STEP} installs it"
        );
    }
    let seconds = flood_seconds();
    assert!(
        seconds >= 6,
        "ERDP_FLOOD_SECONDS must be at least 6 (RSS is sampled at 5 s)"
    );
    let tag = std::env::var("ERDP_ATTACH_RUN_ID").map_or("att".to_owned(), |id| format!("att{id}"));
    let make = |role: &str| {
        let ns = Netns::create(&format!("{tag}-{role}")).expect("netns");
        ns.quiet_ipv6().expect("ipv6 off");
        ns
    };
    let (sender_ns, node_ns, peer_ns) = (make("fs"), make("fn"), make("fp"));
    veth_pair(&sender_ns, "s0", &node_ns, "lan0").expect("veth");
    veth_pair(&node_ns, "er0", &peer_ns, "p0").expect("veth");
    for (ns, device) in [(&sender_ns, "s0"), (&node_ns, "lan0"), (&node_ns, "er0")] {
        ns.disable_offloads(device).expect("ethtool");
    }
    let dir = TempDir::new("attach-flood");
    let captures = dir.path("captures");
    let report_path = dir.path("report.json");
    let mut node = start_node(&node_ns, &captures, &report_path);
    let pid = node.0.id();

    let sender = sender_ns
        .run(|| {
            let config = AfPacketConfig {
                backend: AfPacketBackend::Mmsg,
                mtu: Some(1500),
                promiscuous: false,
                ..AfPacketConfig::default()
            };
            AfPacketPort::open("sender", "s0", config)
        })
        .expect("enter the sender namespace")
        .expect("AF_PACKET socket on s0");
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || flood(sender, &stop))
    };
    let started = Instant::now();
    thread::sleep(Duration::from_secs(5));
    let rss_warm = rss_kb(pid);
    thread::sleep(Duration::from_secs(seconds).saturating_sub(started.elapsed()));
    assert!(
        matches!(node.0.try_wait(), Ok(None)),
        "erdp attach died during the flood"
    );
    let rss_end = rss_kb(pid);
    // SIGTERM with the flood still running.
    stop_node(node);
    stop.store(true, Ordering::Relaxed);
    let flood_sent = flooding.join().expect("the sender");
    eprintln!(
        "attach_flood: {seconds} s, {flood_sent} frames sent, VmRSS {rss_warm} kB at 5 s, {rss_end} kB at the end"
    );
    assert!(flood_sent > 10_000, "the flood sent {flood_sent} frames");
    assert!(
        rss_end <= rss_warm + RSS_MARGIN_KB,
        "VmRSS grew from {rss_warm} kB at 5 s to {rss_end} kB at {seconds} s"
    );

    let text = std::fs::read_to_string(&report_path).expect("report.json");
    let report: Value = serde_json::from_str(&text).expect("a complete JSON report");
    assert_eq!(report["stopped_by"], "signal", "{report:#}");
    assert_eq!(report["capture_errors"], Value::Array(Vec::new()));
    assert_conserved(&report, flood_sent);
    for port in report["ports"].as_array().expect("ports") {
        let name = port["name"].as_str().expect("port name");
        let captured = frames_in(&captures.join(format!("{name}.pcap")));
        assert_eq!(
            captured,
            count(&port["rx_packets"]) + count(&port["tx_packets"]),
            "{name}.pcap: every frame received and sent, none cut short: {port}"
        );
    }
    eprintln!(
        "attach_flood: node read {} frames: {}",
        report["counters"]["input"]["packets"], report["counters"]["input"]
    );
}
