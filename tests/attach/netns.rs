//! `erdp attach` with real kernel traffic (root, iproute2, ethtool, ping,
//! curl, python3 and tshark: ignored by a plain `cargo test`, run with
//! `--ignored` by .ci/steps/45-attach-netns.sh, failing when one is missing). Four network namespaces, an on-premises host, the
//! on-premises edge, the Azure VPN gateway and an Azure host, joined by
//! veths with offloads off; two `erdp attach` processes with design-1
//! configs made for these addresses. Kernel ping and an HTTP transfer
//! (python3 http.server + curl) cross on the must-encrypt prefixes
//! (10.0.0.0/16 <-> 10.1.0.0/16) and on a plain-path pair (10.3.0.0/16 <->
//! 10.2.0.0/16). tshark on the circuit veth shows ESP only for the
//! must-encrypt pair, every packet with a good ICV, and the plain pair in
//! clear. Then the VPN routes are withdrawn on both nodes (the tunnel's BGP
//! session is down): traffic falls back to plaintext over ER, flagged as
//! policy violations; with the edge's policy failing closed it is dropped
//! and counted. Last, the edge's LAN is bound to a TAP device erdp creates
//! (`--tap`), moved into a fresh host namespace, and kernel pings cross it.
//! Every namespace, process and file is removed on exit.
//!
//! Set ERDP_ATTACH_RUN_ID to tag the namespaces (the CI step's trap uses
//! it) and ERDP_ATTACH_BACKEND to `mmsg` to run the nodes on that backend
//! (default `pnet`).

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use erdp::config::{InterfaceKind, NodeConfig};
use erdp::port::netns::{Netns, is_root, run_command, tool_available, veth_pair};
use erdp::wire::MacAddr;
use serde_json::Value;
use support::capture::TempDir;

const EDGE_LAN_MAC: &str = "02:00:00:00:01:01";
const EDGE_ER_MAC: &str = "02:00:00:00:01:02";
const GATEWAY_ER_MAC: &str = "02:00:00:00:02:01";
const GATEWAY_VNET_MAC: &str = "02:00:00:00:02:10";
/// Public test keys (AES-256-GCM: 32-byte key + 4-byte salt).
const KEY_EDGE_TO_GATEWAY: &str =
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233";
const KEY_GATEWAY_TO_EDGE: &str =
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263";

/// What the configs are made for.
#[derive(Clone, Copy)]
struct Scenario {
    /// The VPN's BGP session is up: its routes are installed.
    vpn_routes: bool,
    /// The edge's must-encrypt policy drops (fails closed).
    edge_fail_closed: bool,
}

fn tunnel(
    local: &str,
    remote: &str,
    spi_out: u32,
    key_out: &str,
    spi_in: u32,
    key_in: &str,
) -> String {
    // No ESN: tshark 4.0 checks ICVs of SAs without ESN only.
    format!(
        r#"
[[interface]]
name = "vpn"
kind = "esp-tunnel"
local = "{local}"
remote = "{remote}"
mtu = 1400
mss_clamp = 1350
sa_out = {{ spi = {spi_out}, algorithm = "aes-256-gcm", key = "{key_out}", esn = false }}
sa_in = {{ spi = {spi_in}, algorithm = "aes-256-gcm", key = "{key_in}", esn = false, replay_window = 1024 }}
"#
    )
}

fn route(
    prefix: &str,
    interface: &str,
    next_hop: Option<&str>,
    session: &str,
    local_pref: u32,
) -> String {
    let next_hop = next_hop.map_or(String::new(), |n| format!("next_hop = \"{n}\"\n"));
    format!(
        "\n[[route]]\nprefix = \"{prefix}\"\ninterface = \"{interface}\"\n{next_hop}source = \"bgp\"\nsession = \"{session}\"\nlocal_pref = {local_pref}\nas_path = [65001]\n"
    )
}

fn neighbor(interface: &str, ip: &str, mac: MacAddr) -> String {
    format!("\n[[neighbor]]\ninterface = \"{interface}\"\nip = \"{ip}\"\nmac = \"{mac}\"\n")
}

fn edge_config(s: Scenario, host_mac: MacAddr) -> String {
    let mut text = format!(
        r#"name = "onprem-edge"
route_selection = "bgp"

[[interface]]
name = "lan"
kind = "ethernet"
mac = "{EDGE_LAN_MAC}"
addresses = ["10.0.0.1/16", "10.3.0.1/16"]

[[interface]]
name = "er"
kind = "ethernet"
mac = "{EDGE_ER_MAC}"
addresses = ["172.16.0.1/30"]
"#
    );
    text += &tunnel(
        "172.16.0.1",
        "10.100.255.4",
        0x1001,
        KEY_EDGE_TO_GATEWAY,
        0x2001,
        KEY_GATEWAY_TO_EDGE,
    );
    text += &neighbor("er", "172.16.0.2", GATEWAY_ER_MAC.parse().unwrap());
    text += &neighbor("lan", "10.0.1.10", host_mac);
    text += &neighbor("lan", "10.3.0.10", host_mac);
    text += &route("10.1.0.0/16", "er", Some("172.16.0.2"), "expressroute", 100);
    if s.vpn_routes {
        text += &route("10.1.0.0/16", "vpn", None, "vpn", 200);
    }
    text += &route("10.2.0.0/16", "er", Some("172.16.0.2"), "expressroute", 100);
    text += &route(
        "10.100.255.0/27",
        "er",
        Some("172.16.0.2"),
        "expressroute",
        100,
    );
    let action = if s.edge_fail_closed { "drop" } else { "report" };
    text += &format!(
        "\n[[policy]]\nname = \"azure-encrypted\"\ndestination = [\"10.1.0.0/16\"]\nrequire = \"encrypted\"\naction = \"{action}\"\n"
    );
    text
}

fn gateway_config(s: Scenario, host_mac: MacAddr) -> String {
    let mut text = format!(
        r#"name = "azure-gateway"
route_selection = "expressroute-first"

[[interface]]
name = "vnet"
kind = "ethernet"
mac = "{GATEWAY_VNET_MAC}"
addresses = ["10.1.0.1/16", "10.2.0.1/16", "10.100.255.4/27"]

[[interface]]
name = "er"
kind = "ethernet"
mac = "{GATEWAY_ER_MAC}"
addresses = ["172.16.0.2/30"]
"#
    );
    text += &tunnel(
        "10.100.255.4",
        "172.16.0.1",
        0x2001,
        KEY_GATEWAY_TO_EDGE,
        0x1001,
        KEY_EDGE_TO_GATEWAY,
    );
    text += &neighbor("er", "172.16.0.1", EDGE_ER_MAC.parse().unwrap());
    text += &neighbor("vnet", "10.1.0.10", host_mac);
    text += &neighbor("vnet", "10.2.0.10", host_mac);
    text += &route("10.0.0.0/16", "er", Some("172.16.0.1"), "expressroute", 100);
    if s.vpn_routes {
        // More specific than ER's /16: Azure prefers ER for identical prefixes.
        text += &route("10.0.0.0/17", "vpn", None, "vpn", 100);
        text += &route("10.0.128.0/17", "vpn", None, "vpn", 100);
    }
    text += &route("10.3.0.0/16", "er", Some("172.16.0.1"), "expressroute", 100);
    text += "\n[[policy]]\nname = \"onprem-encrypted\"\ndestination = [\"10.0.0.0/16\"]\nrequire = \"encrypted\"\naction = \"report\"\n";
    text
}

/// An `erdp attach` process inside a namespace, killed if still running
/// when dropped.
struct Attach {
    child: Child,
    report: PathBuf,
    name: &'static str,
}

impl Attach {
    /// Starts `erdp attach` in `ns` and waits until it forwards.
    fn start(
        ns: &Netns,
        name: &'static str,
        config: &Path,
        binds: &[&str],
        extra: &[&str],
        dir: &TempDir,
    ) -> Attach {
        let report = dir.path(&format!("{name}.report.json"));
        let mut args: Vec<String> = [
            "netns",
            "exec",
            ns.name(),
            env!("CARGO_BIN_EXE_erdp"),
            "attach",
            "--config",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(config.display().to_string());
        for bind in binds {
            args.extend(["--bind".to_owned(), bind.to_string()]);
        }
        args.extend(["--report".to_owned(), report.display().to_string()]);
        let backend = std::env::var("ERDP_ATTACH_BACKEND").unwrap_or_else(|_| "pnet".to_owned());
        args.extend(["--backend".to_owned(), backend]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new("ip")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start erdp attach");
        let stderr = child.stderr.take().expect("stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                if line.contains("forwarding on") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let attach = Attach {
            child,
            report,
            name,
        };
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{name}: erdp attach did not start forwarding"));
        attach
    }

    /// SIGTERM, then the exit code must be 0; returns the JSON report.
    fn stop(mut self) -> Value {
        let pid = self.child.id().to_string();
        run_command("kill", &["-TERM", &pid]).expect("kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no exit 10 s after SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "{}: erdp attach exited with {status}",
            self.name
        );
        let text = std::fs::read_to_string(&self.report).expect("the report");
        serde_json::from_str(&text).expect("a JSON report")
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A background process (tshark, http.server) killed when dropped.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ping(ns: &Netns, source: &str, destination: &str, count: u32) -> bool {
    let count = count.to_string();
    ns.exec(
        "ping",
        &[
            "-c",
            &count,
            "-i",
            "0.2",
            "-W",
            "2",
            "-I",
            source,
            destination,
        ],
    )
    .is_ok()
}

/// The four namespaces and their veths.
struct Network {
    onprem_host: Netns,
    edge: Netns,
    gateway: Netns,
    azure_host: Netns,
    onprem_mac: MacAddr,
    azure_mac: MacAddr,
}

fn build_network() -> Network {
    let tag = std::env::var("ERDP_ATTACH_RUN_ID").map_or("att".to_owned(), |id| format!("att{id}"));
    let make = |role: &str| {
        let ns = Netns::create(&format!("{tag}-{role}")).expect("netns");
        ns.quiet_ipv6().expect("ipv6 off");
        ns
    };
    let (onprem_host, edge, gateway, azure_host) = (make("oh"), make("oe"), make("gw"), make("ah"));
    veth_pair(&onprem_host, "h0", &edge, "lan0").expect("veth");
    veth_pair(&edge, "er0", &gateway, "er1").expect("veth");
    veth_pair(&gateway, "vnet0", &azure_host, "h1").expect("veth");
    for (ns, device) in [
        (&onprem_host, "h0"),
        (&edge, "lan0"),
        (&edge, "er0"),
        (&gateway, "er1"),
        (&gateway, "vnet0"),
        (&azure_host, "h1"),
    ] {
        ns.disable_offloads(device).expect("ethtool");
    }
    for (ns, device, addresses, gateway_ip) in [
        (
            &onprem_host,
            "h0",
            ["10.0.1.10/16", "10.3.0.10/16"],
            "10.0.0.1",
        ),
        (
            &azure_host,
            "h1",
            ["10.1.0.10/16", "10.2.0.10/16"],
            "10.1.0.1",
        ),
    ] {
        for address in addresses {
            ns.ip(&["addr", "add", address, "dev", device])
                .expect("address");
        }
        ns.ip(&["route", "add", "default", "via", gateway_ip])
            .expect("route");
    }
    Network {
        onprem_mac: onprem_host.mac_of("h0").expect("mac"),
        azure_mac: azure_host.mac_of("h1").expect("mac"),
        onprem_host,
        edge,
        gateway,
        azure_host,
    }
}

/// Runs both nodes for scenario `s`; returns them forwarding.
fn start_nodes(net: &Network, s: Scenario, dir: &TempDir, edge_extra: &[&str]) -> (Attach, Attach) {
    let edge_path = dir.path("edge.toml");
    let gateway_path = dir.path("gateway.toml");
    std::fs::write(&edge_path, edge_config(s, net.onprem_mac)).unwrap();
    std::fs::write(&gateway_path, gateway_config(s, net.azure_mac)).unwrap();
    let edge = Attach::start(
        &net.edge,
        "edge",
        &edge_path,
        &["lan=lan0", "er=er0"],
        edge_extra,
        dir,
    );
    let gateway = Attach::start(
        &net.gateway,
        "gateway",
        &gateway_path,
        &["er=er1", "vnet=vnet0"],
        &[],
        dir,
    );
    (edge, gateway)
}

/// A policy's counters in a report.
fn policy(report: &Value, field: &str) -> u64 {
    report["counters"]["policies"][0][field]
        .as_u64()
        .expect("policy counter")
}

fn interface<'r>(report: &'r Value, name: &str) -> &'r Value {
    entry(&report["counters"], "interfaces", "name", name)
}

/// The element of the array `list` in `report` whose `key` is `value`.
fn entry<'r>(report: &'r Value, list: &str, key: &str, value: &str) -> &'r Value {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in the report"))
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no {list} entry with {key} = {value}"))
}

/// Fetches http://SERVER:8000/blob from the on-prem host, from `source`;
/// true when all of it arrived.
fn transfer(net: &Network, source: &str, server: &str, size: usize, dir: &TempDir) -> bool {
    let out = dir.path(&format!("fetched-{server}"));
    let url = format!("http://{server}:8000/blob");
    let fetched = net.onprem_host.exec(
        "curl",
        &[
            "-sS",
            "--max-time",
            "15",
            "--interface",
            source,
            "-o",
            out.to_str().unwrap(),
            &url,
        ],
    );
    if let Err(error) = &fetched {
        eprintln!("curl {url}: {error}");
    }
    fetched.is_ok() && std::fs::metadata(&out).is_ok_and(|m| m.len() as usize == size)
}

/// The `esp_sa` lines of both SAs of the edge's tunnel, for tshark.
fn esp_sa_lines(edge_config: &str) -> Vec<String> {
    let config = NodeConfig::from_toml_str(edge_config, "edge.toml").expect("config");
    let tunnel = config
        .interfaces
        .iter()
        .find_map(|i| match &i.kind {
            InterfaceKind::EspTunnel(t) => Some(t),
            InterfaceKind::Ethernet(_) => None,
        })
        .expect("a tunnel");
    let (sa_out, sa_in) = tunnel.static_sas().expect("static SAs");
    [sa_out, sa_in]
        .iter()
        .map(|sa| erdp::esp::wireshark_esp_sa_line(sa).expect("an AES-GCM SA"))
        .collect()
}

/// One frame of the circuit capture as tshark decodes it.
#[derive(Debug)]
struct Dissected {
    spi: String,
    icv_good: String,
    sources: Vec<String>,
    destinations: Vec<String>,
    protocols: Vec<String>,
}

fn dissect(capture: &Path, sa_lines: &[String]) -> Vec<Dissected> {
    let mut args: Vec<String> = vec![
        "-r".into(),
        capture.display().to_string(),
        "-o".into(),
        "esp.enable_encryption_decode:TRUE".into(),
        "-o".into(),
        "esp.enable_authentication_check:TRUE".into(),
    ];
    for line in sa_lines {
        args.extend(["-o".into(), format!("uat:esp_sa:{line}")]);
    }
    args.extend(
        [
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
            "-e",
            "esp.spi",
            "-e",
            "esp.icv_good",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ip.proto",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_command("tshark", &refs).expect("tshark -r");
    let split = |field: &str| -> Vec<String> {
        field
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    out.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let field = |i: usize| fields.get(i).copied().unwrap_or("");
            Dissected {
                spi: field(0).to_owned(),
                icv_good: field(1).to_owned(),
                sources: split(field(2)),
                destinations: split(field(3)),
                protocols: split(field(4)),
            }
        })
        .collect()
}

fn in_must_encrypt(address: &str) -> bool {
    address.starts_with("10.0.") || address.starts_with("10.1.")
}

/// The CI step that installs this test's tools and runs it.
const ATTACH_STEP: &str = ".ci/steps/45-attach-netns.sh";

#[test]
#[ignore = "needs root, ip, ethtool, ping, curl, python3, tshark: run by .ci/steps/45-attach-netns.sh"]
fn design1_nodes_forward_kernel_traffic_encrypting_only_the_must_encrypt_prefixes() {
    assert!(
        is_root(),
        "needs root (network namespaces, veth, AF_PACKET); {ATTACH_STEP} runs it"
    );
    for tool in ["ip", "ethtool", "ping", "curl", "python3", "tshark"] {
        assert!(
            tool_available(tool),
            "needs `{tool}` on PATH; {ATTACH_STEP} installs it"
        );
    }
    let started = Instant::now();
    let dir = TempDir::new("attach-netns");
    let net = build_network();
    let blob_size = 2 * 1024 * 1024;
    std::fs::write(dir.path("blob"), vec![0x5a_u8; blob_size]).unwrap();
    let _server = Background(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                net.azure_host.name(),
                "python3",
                "-m",
                "http.server",
                "8000",
                "--directory",
            ])
            .arg(dir.path(""))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("http.server"),
    );

    // 1. Tunnel up.
    let up = Scenario {
        vpn_routes: true,
        edge_fail_closed: false,
    };
    let (edge, gateway) = start_nodes(&net, up, &dir, &[]);
    let capture = dir.path("circuit.pcap");
    let tshark_run = {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                net.edge.name(),
                "tshark",
                "-q",
                "-i",
                "er0",
                "-w",
            ])
            .arg(&capture)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tshark");
        // tshark creates the file once it captures.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !capture.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        Background(child)
    };
    assert!(
        ping(&net.onprem_host, "10.0.1.10", "10.1.0.10", 4),
        "ping over the tunnel"
    );
    assert!(
        ping(&net.onprem_host, "10.3.0.10", "10.2.0.10", 4),
        "ping over the plain path"
    );
    // http.server may still be starting: a second try.
    assert!(
        transfer(&net, "10.0.1.10", "10.1.0.10", blob_size, &dir)
            || transfer(&net, "10.0.1.10", "10.1.0.10", blob_size, &dir),
        "HTTP over the tunnel"
    );
    assert!(
        transfer(&net, "10.3.0.10", "10.2.0.10", blob_size, &dir),
        "HTTP over the plain path"
    );
    std::thread::sleep(Duration::from_millis(300));
    run_command("kill", &["-INT", &tshark_run.0.id().to_string()]).expect("stop tshark");
    drop(tshark_run);
    let edge_report = edge.stop();
    let gateway_report = gateway.stop();
    for (report, name) in [(&edge_report, "edge"), (&gateway_report, "gateway")] {
        assert_eq!(report["stopped_by"], "signal", "{name}");
        assert!(policy(report, "encrypted") > 100, "{name}: {report:#}");
        assert_eq!(policy(report, "violations"), 0, "{name}: {report:#}");
        assert!(
            interface(report, "vpn")["encrypted"]["packets"].as_u64() > Some(100),
            "{name}"
        );
        assert!(
            interface(report, "vpn")["decrypted"]["packets"].as_u64() > Some(100),
            "{name}"
        );
        assert_eq!(report["sent"]["send_failed"], 0, "{name}");
        for port in report["ports"].as_array().expect("ports") {
            // Offloads are off: no super-frames; every send went out.
            assert_eq!(port["tx_errors"], 0, "{name}: {port}");
            assert_eq!(port["rx_dropped"]["oversize"], 0, "{name}: {port}");
            assert!(port["rx_packets"].as_u64() > Some(100), "{name}: {port}");
        }
        assert_eq!(report["counters"]["generated"]["delivered"], 0, "{name}");
        // ARP requests from the kernel hosts were answered.
        assert!(
            report["counters"]["input"]["delivered_by_kind"]["arp_request"].as_u64() >= Some(1)
                || name == "gateway"
        );
    }
    let frames = dissect(&capture, &esp_sa_lines(&edge_config(up, net.onprem_mac)));
    let esp: Vec<&Dissected> = frames.iter().filter(|f| !f.spi.is_empty()).collect();
    let plain: Vec<&Dissected> = frames
        .iter()
        .filter(|f| f.spi.is_empty() && !f.sources.is_empty())
        .collect();
    assert!(esp.len() > 1000, "ESP frames on the circuit: {}", esp.len());
    for frame in &esp {
        assert_eq!(frame.icv_good, "1", "{frame:?}");
        // Outer then inner addresses: the inner ones are must-encrypt.
        assert_eq!(frame.sources.len(), 2, "{frame:?}");
        assert!(
            in_must_encrypt(&frame.sources[1]) && in_must_encrypt(&frame.destinations[1]),
            "{frame:?}"
        );
    }
    assert!(
        esp.iter()
            .any(|f| f.protocols.get(1).map(String::as_str) == Some("6")),
        "TCP inside ESP"
    );
    assert!(
        esp.iter()
            .any(|f| f.protocols.get(1).map(String::as_str) == Some("1")),
        "ICMP inside ESP"
    );
    for frame in &plain {
        assert!(
            !frame
                .sources
                .iter()
                .chain(&frame.destinations)
                .any(|a| in_must_encrypt(a)),
            "must-encrypt traffic in clear on the circuit: {frame:?}"
        );
    }
    let plain_path = plain
        .iter()
        .filter(|f| f.sources[0] == "10.3.0.10" || f.sources[0] == "10.2.0.10")
        .count();
    assert!(
        plain_path > 1000,
        "plain-path frames in clear: {plain_path}"
    );
    eprintln!(
        "attach_netns: circuit capture: {} ESP frames (ICV good), {} plain-path frames in clear",
        esp.len(),
        plain_path
    );

    // 2. Tunnel down: the VPN routes are withdrawn on both sides; traffic
    //    falls back to ER in plaintext, flagged. The edge captures its ports.
    let down = Scenario {
        vpn_routes: false,
        edge_fail_closed: false,
    };
    let captures = dir.path("edge-captures");
    let (edge, gateway) = start_nodes(
        &net,
        down,
        &dir,
        &["--capture-dir", captures.to_str().unwrap()],
    );
    assert!(
        ping(&net.onprem_host, "10.0.1.10", "10.1.0.10", 3),
        "fallback ping over ER"
    );
    let edge_report = edge.stop();
    let gateway_report = gateway.stop();
    for (report, name) in [(&edge_report, "edge"), (&gateway_report, "gateway")] {
        assert!(policy(report, "violations") >= 3, "{name}: {report:#}");
        assert_eq!(policy(report, "encrypted"), 0, "{name}: {report:#}");
        assert_eq!(policy(report, "dropped"), 0, "{name}: {report:#}");
    }
    let er_capture = captures.join("er.pcap");
    assert!(
        std::fs::metadata(&er_capture).map(|m| m.len()).unwrap_or(0) > 24,
        "edge capture of er"
    );
    let frames = dissect(&er_capture, &[]);
    let in_clear = frames
        .iter()
        .filter(|f| f.spi.is_empty() && f.sources.first().is_some_and(|a| a == "10.0.1.10"))
        .count();
    assert!(
        in_clear >= 3,
        "the fallback's plaintext on the circuit: {frames:?}"
    );

    // 3. Tunnel down, the edge's policy fails closed: dropped and counted.
    let closed = Scenario {
        vpn_routes: false,
        edge_fail_closed: true,
    };
    let (edge, gateway) = start_nodes(&net, closed, &dir, &[]);
    assert!(
        !ping(&net.onprem_host, "10.0.1.10", "10.1.0.10", 3),
        "fail closed: no ping"
    );
    assert!(
        ping(&net.onprem_host, "10.3.0.10", "10.2.0.10", 2),
        "the plain path still works"
    );
    let edge_report = edge.stop();
    drop(gateway.stop());
    assert!(policy(&edge_report, "dropped") >= 3, "{edge_report:#}");
    assert!(
        edge_report["counters"]["input"]["dropped_by_reason"]["policy_violation"].as_u64()
            >= Some(3),
        "{edge_report:#}"
    );

    // 4. The edge's LAN on a TAP device that erdp creates.
    lan_on_a_tap_device(&net, &dir);
    eprintln!(
        "attach_netns: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// `--tap lan=etap0`: the edge creates the TAP in its namespace; the test
/// moves it into a fresh host namespace with the on-prem host's MAC and
/// addresses (so the edge's config is unchanged), and kernel pings cross
/// the TAP, over the tunnel and over the plain path.
fn lan_on_a_tap_device(net: &Network, dir: &TempDir) {
    let up = Scenario {
        vpn_routes: true,
        edge_fail_closed: false,
    };
    let edge_path = dir.path("edge-tap.toml");
    std::fs::write(&edge_path, edge_config(up, net.onprem_mac)).unwrap();
    let gateway_path = dir.path("gateway-tap.toml");
    std::fs::write(&gateway_path, gateway_config(up, net.azure_mac)).unwrap();
    let edge = Attach::start(
        &net.edge,
        "edge-tap",
        &edge_path,
        &["er=er0"],
        &["--tap", "lan=etap0"],
        dir,
    );
    let gateway = Attach::start(
        &net.gateway,
        "gateway-tap",
        &gateway_path,
        &["er=er1", "vnet=vnet0"],
        &[],
        dir,
    );
    let tag = std::env::var("ERDP_ATTACH_RUN_ID").map_or("att".to_owned(), |id| format!("att{id}"));
    let host = Netns::create(&format!("{tag}-th")).expect("netns");
    host.quiet_ipv6().expect("ipv6 off");
    net.edge
        .ip(&["link", "set", "etap0", "netns", host.name()])
        .expect("move the TAP");
    let mac = net.onprem_mac.to_string();
    host.ip(&["link", "set", "etap0", "address", &mac])
        .expect("TAP MAC");
    for address in ["10.0.1.10/16", "10.3.0.10/16"] {
        host.ip(&["addr", "add", address, "dev", "etap0"])
            .expect("address");
    }
    host.ip(&["link", "set", "etap0", "up"]).expect("TAP up");
    host.ip(&["route", "add", "default", "via", "10.0.0.1"])
        .expect("route");
    assert!(
        ping(&host, "10.0.1.10", "10.1.0.10", 4),
        "ping over the tunnel from the TAP"
    );
    assert!(
        ping(&host, "10.3.0.10", "10.2.0.10", 4),
        "ping over the plain path from the TAP"
    );
    let edge_report = edge.stop();
    drop(gateway.stop());
    let lan = entry(&edge_report, "ports", "name", "lan");
    let binding = entry(&edge_report, "bindings", "interface", "lan");
    assert_eq!(binding["kind"], "tap", "{binding}");
    assert!(lan["rx_packets"].as_u64() >= Some(8), "{lan}");
    assert!(lan["tx_packets"].as_u64() >= Some(8), "{lan}");
    assert_eq!(lan["tx_errors"], 0, "{lan}");
    assert!(policy(&edge_report, "encrypted") >= 4, "{edge_report:#}");
    assert_eq!(policy(&edge_report, "violations"), 0, "{edge_report:#}");
    eprintln!("attach_netns: the TAP-bound LAN carried kernel pings both ways");
}
