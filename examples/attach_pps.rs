//! Frames per second through one `erdp attach` node across veths, each
//! AF_PACKET backend, against the raw port baseline measured in the same
//! run: `port_bridge` patching the same two veths without the node. A
//! generator namespace blasts UDP frames (sendmmsg) at the node's `in`
//! port for a few seconds; a sink namespace counts what leaves `out`.
//! Root only; all traffic stays in three namespaces made here and removed
//! at the end.
//!
//! ```sh
//! cargo build --release --bin erdp --example port_bridge --example attach_pps
//! ./target/release/examples/attach_pps [SECONDS] [FRAME_LEN]
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use erdp::packet::PacketBuf;
use erdp::port::netns::{Netns, is_root, veth_pair};
use erdp::port::{AfPacketBackend, AfPacketConfig, AfPacketPort, Port};
use etherparse::PacketBuilder;

const NODE_IN_MAC: [u8; 6] = [2, 0, 0, 0, 0x10, 1];
const GENERATOR_MAC: [u8; 6] = [2, 0, 0, 0xbe, 0, 1];

fn node_config(sink_mac: &str) -> String {
    format!(
        r#"name = "pps"
[[interface]]
name = "in"
kind = "ethernet"
mac = "02:00:00:00:10:01"
addresses = ["10.10.0.1/24"]

[[interface]]
name = "out"
kind = "ethernet"
mac = "02:00:00:00:10:02"
addresses = ["10.20.0.1/24"]

[[neighbor]]
interface = "out"
ip = "10.20.0.2"
mac = "{sink_mac}"
"#
    )
}

/// A UDP frame from the generator to the sink, through the node.
fn frame(len: usize) -> Vec<u8> {
    let payload = vec![0x5a; len.max(60) - 14 - 20 - 8];
    let mut out = Vec::new();
    PacketBuilder::ethernet2(GENERATOR_MAC, NODE_IN_MAC)
        .ipv4([10, 10, 0, 2], [10, 20, 0, 2], 64)
        .udp(40000, 9)
        .write(&mut out, &payload)
        .expect("a UDP frame");
    out
}

fn open(netns: &Netns, device: &str) -> AfPacketPort {
    let config = AfPacketConfig {
        backend: AfPacketBackend::Mmsg,
        mtu: Some(1500),
        socket_receive_buffer: Some(16 << 20),
        ..AfPacketConfig::default()
    };
    netns
        .run(|| AfPacketPort::open(device, device, config))
        .expect("enter namespace")
        .expect("open port")
}

/// A forwarder process in the node namespace, stopped with SIGTERM.
struct Forwarder(Child);

impl Forwarder {
    fn start(netns: &Netns, program: &Path, args: &[&str], ready: &'static str) -> Self {
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns.name()])
            .arg(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the forwarder");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(ready) {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the forwarder did not start");
        Forwarder(child)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Sends `frame` in batches of 64 from `generator` for `duration` while
/// counting what `sink` receives; returns (sent, received).
fn blast(
    generator: &mut AfPacketPort,
    sink: &mut AfPacketPort,
    frame: &[u8],
    duration: Duration,
) -> (u64, u64) {
    let mut batch = vec![PacketBuf::new(); 64];
    for buf in &mut batch {
        buf.load(frame, PacketBuf::DEFAULT_HEADROOM).expect("fits");
    }
    let sending = AtomicBool::new(true);
    std::thread::scope(|scope| {
        let counter = scope.spawn(|| {
            let mut bufs = vec![PacketBuf::new(); 64];
            let mut received = 0u64;
            let mut quiet_since = Instant::now();
            loop {
                let got = sink
                    .recv_batch(&mut bufs, Duration::from_millis(20))
                    .unwrap_or(0);
                received += got as u64;
                if got > 0 {
                    quiet_since = Instant::now();
                } else if !sending.load(Ordering::Relaxed)
                    && quiet_since.elapsed() > Duration::from_millis(300)
                {
                    return received;
                }
            }
        });
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < duration {
            sent += generator.send_batch(&batch).sent as u64;
        }
        sending.store(false, Ordering::Relaxed);
        (sent, counter.join().expect("sink thread"))
    })
}

fn main() {
    if !is_root() {
        eprintln!("attach_pps needs root (network namespaces, veth, AF_PACKET)");
        std::process::exit(2);
    }
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let len: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let duration = Duration::from_secs_f64(seconds);
    let examples: PathBuf = std::env::current_exe()
        .expect("own path")
        .parent()
        .expect("examples directory")
        .to_path_buf();
    let erdp = examples.join("../erdp");
    let bridge = examples.join("port_bridge");
    for program in [&erdp, &bridge] {
        assert!(
            program.exists(),
            "{} is missing: cargo build --release --bin erdp --example port_bridge",
            program.display()
        );
    }

    let make = |role: &str| {
        let ns = Netns::create(&format!("pps-{role}")).expect("netns");
        ns.quiet_ipv6().expect("ipv6 off");
        ns
    };
    let (generator_ns, node_ns, sink_ns) = (make("gen"), make("node"), make("sink"));
    veth_pair(&generator_ns, "g0", &node_ns, "n0").expect("veth");
    veth_pair(&node_ns, "n1", &sink_ns, "s0").expect("veth");
    for (ns, device) in [
        (&generator_ns, "g0"),
        (&node_ns, "n0"),
        (&node_ns, "n1"),
        (&sink_ns, "s0"),
    ] {
        ns.disable_offloads(device).expect("ethtool");
    }
    let sink_mac = sink_ns.mac_of("s0").expect("sink MAC");
    let config = std::env::temp_dir().join(format!("erdp-attach-pps-{}.toml", std::process::id()));
    std::fs::write(&config, node_config(&sink_mac.to_string())).expect("write the config");
    let config_arg = config.display().to_string();
    let bytes = frame(len);
    println!(
        "UDP frames of {} bytes, generator -> veth -> forwarder -> veth -> sink, {seconds} s per run",
        bytes.len()
    );

    let attach = |backend: &'static str| {
        vec![
            "attach",
            "--config",
            config_arg.as_str(),
            "--bind",
            "in=n0",
            "--bind",
            "out=n1",
            "--backend",
            backend,
        ]
    };
    let runs: [(&str, &Path, Vec<&str>, &'static str); 4] = [
        (
            "port_bridge pnet",
            &bridge,
            vec!["in=n0", "out=n1"],
            "patching",
        ),
        (
            "port_bridge mmsg",
            &bridge,
            vec!["--mmsg", "in=n0", "out=n1"],
            "patching",
        ),
        ("attach pnet", &erdp, attach("pnet"), "forwarding on"),
        ("attach mmsg", &erdp, attach("mmsg"), "forwarding on"),
    ];
    for (name, program, args, ready) in runs {
        let forwarder = Forwarder::start(&node_ns, program, &args, ready);
        let mut generator = open(&generator_ns, "g0");
        let mut sink = open(&sink_ns, "s0");
        let (sent, received) = blast(&mut generator, &mut sink, &bytes, duration);
        drop(forwarder);
        println!(
            "{name:>17}: offered {:>9.0} frames/s, forwarded {:>9.0} frames/s ({:.1}% of offered)",
            sent as f64 / seconds,
            received as f64 / seconds,
            100.0 * received as f64 / sent.max(1) as f64
        );
    }
    let _ = std::fs::remove_file(&config);
}
