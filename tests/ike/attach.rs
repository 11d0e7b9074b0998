//! `erdp attach` with an `ike` table against strongSwan (root and strongSwan
//! only; run by .ci/steps/55-ike-interop.sh). Three network namespaces:
//! charon (kernel-libipsec: ESP in userspace, in UDP 4500) --veth-- `erdp
//! attach` (a node whose esp-tunnel has an `ike` table, erdp the responder)
//! --veth-- a kernel host behind erdp (10.1.0.10, in the tunnel's local
//! traffic selector). charon initiates; kernel pings from charon's inner
//! address (10.2.0.1) to the host cross the CHILD_SA both ways through
//! erdp's dataplane; `swanctl --rekey` of the CHILD_SA between two ping
//! rounds loses nothing; erdp's report shows the SA pairs and the ESP it
//! decrypted and encrypted. Then charon is killed and erdp's Dead Peer
//! Detection takes the tunnel down (its log, then its report), and the
//! host's traffic into it is dropped as `tunnel_no_sa` (fail closed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use erdp::port::netns::{Netns, is_root, run_command, veth_pair};
use erdp::wire::MacAddr;
use serde_json::Value;

use crate::interop::{CHARON, CHARON_BIN, ERDP, PSK, charon_log, start_charon, swanctl};
use crate::support::capture::TempDir;

const HOST: &str = "10.1.0.10";
const CHARON_INNER: &str = "10.2.0.1";
const WAN_MAC: &str = "02:00:00:00:05:01";
const LAN_MAC: &str = "02:00:00:00:05:02";

/// The node: `wan` toward charon, `lan` toward the host, and the tunnel
/// keyed by IKE as responder, with a short DPD.
fn node_config(psk_file: &Path, charon_mac: MacAddr, host_mac: MacAddr) -> String {
    format!(
        r#"name = "ike-attach"

[[interface]]
name = "wan"
kind = "ethernet"
mac = "{WAN_MAC}"
addresses = ["{ERDP}/24"]

[[interface]]
name = "lan"
kind = "ethernet"
mac = "{LAN_MAC}"
addresses = ["10.1.0.1/24"]

[[interface]]
name = "vpn"
kind = "esp-tunnel"
local = "{ERDP}"
remote = "{CHARON}"

[interface.ike]
role = "responder"
psk_file = {psk_file:?}
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/16"]
dpd_delay = 2
dpd_timeout = 6

[[neighbor]]
interface = "wan"
ip = "{CHARON}"
mac = "{charon_mac}"

[[neighbor]]
interface = "lan"
ip = "{HOST}"
mac = "{host_mac}"

[[route]]
prefix = "10.2.0.0/16"
interface = "vpn"
"#
    )
}

/// `erdp attach` in a namespace; its stderr lines are kept.
struct Attach {
    child: Child,
    report: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Attach {
    fn start(ns: &Netns, config: &Path, dir: &TempDir) -> Attach {
        let report = dir.path("erdp.report.json");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_erdp")])
            .args(["attach", "--config"])
            .arg(config)
            .args(["--bind", "wan=ike-e", "--bind", "lan=lan0", "--report"])
            .arg(&report)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start erdp attach");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[erdp] {line}");
                lines.lock().unwrap().push(line);
            }
        });
        let attach = Attach { child, report, log };
        attach.wait_for("forwarding on", Duration::from_secs(10));
        attach
    }

    /// Waits until a stderr line contains `text`; false after `limit`.
    fn wait_for(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.log.lock().unwrap().iter().any(|l| l.contains(text)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGTERM; exit 0; the JSON report.
    fn stop(mut self) -> Value {
        run_command("kill", &["-TERM", &self.child.id().to_string()]).expect("kill -TERM");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "erdp attach exited with {status}");
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

/// Pings the host from charon's inner address; the replies received.
fn ping_host(charon_ns: &Netns) -> u32 {
    let out = Command::new("ip")
        .args(["netns", "exec", charon_ns.name(), "ping", "-c", "5"])
        .args(["-i", "0.3", "-W", "2", "-I", CHARON_INNER, HOST])
        .output()
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    text.split(", ")
        .find_map(|f| f.strip_suffix(" received")?.parse().ok())
        .unwrap_or(0)
}

fn vpn_counter(report: &Value, which: &str) -> u64 {
    report["counters"]["interfaces"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == "vpn"))
        .and_then(|i| i[which]["packets"].as_u64())
        .unwrap_or(0)
}

#[test]
#[ignore = "root and strongSwan (55-ike-interop)"]
fn erdp_attach_with_an_ike_table_carries_charons_pings_rekeys_and_sees_charon_die() {
    assert!(is_root(), "needs root; .ci/steps/55-ike-interop.sh runs it");
    assert!(
        Path::new(CHARON_BIN).exists(),
        "needs strongSwan's charon ({CHARON_BIN})"
    );
    let dir = TempDir::new("ike-attach");
    let erdp_ns = Netns::create("ike-att").unwrap();
    let host = Netns::create("ike-host").unwrap();
    for ns in [&erdp_ns, &host] {
        ns.quiet_ipv6().unwrap();
    }
    veth_pair(&erdp_ns, "lan0", &host, "h0").unwrap();
    host.ip(&["addr", "add", &format!("{HOST}/24"), "dev", "h0"])
        .unwrap();
    host.ip(&["route", "add", "default", "via", "10.1.0.1"])
        .unwrap();
    // charon's namespace, joined to erdp's by ike-e/ike-s.
    let mut charon = start_charon(&erdp_ns, "attach", "aes256gcm16-prfsha256-ecp256", PSK);
    for (ns, device) in [
        (&erdp_ns, "lan0"),
        (&erdp_ns, "ike-e"),
        (&host, "h0"),
        (&charon.ns, "ike-s"),
    ] {
        ns.disable_offloads(device).unwrap();
    }
    let psk_file = dir.path("vpn.psk");
    std::fs::write(&psk_file, PSK).unwrap();
    let config = dir.path("node.toml");
    std::fs::write(
        &config,
        node_config(
            &psk_file,
            charon.ns.mac_of("ike-s").unwrap(),
            host.mac_of("h0").unwrap(),
        ),
    )
    .unwrap();
    let erdp = Attach::start(&erdp_ns, &config, &dir);

    let initiated = swanctl(
        &charon,
        &["--initiate", "--child", "net", "--timeout", "20"],
    );
    assert!(
        initiated.is_ok(),
        "IKE did not come up: {initiated:?}\nerdp:\n{}\ncharon:\n{}",
        erdp.log(),
        charon_log(&charon)
    );
    let first = ping_host(&charon.ns);
    assert_eq!(
        first,
        5,
        "pings through the tunnel\nerdp:\n{}\ncharon:\n{}",
        erdp.log(),
        charon_log(&charon)
    );
    let rekeyed = swanctl(&charon, &["--rekey", "--child", "net"]);
    assert!(rekeyed.is_ok(), "swanctl --rekey: {rekeyed:?}");
    assert!(
        erdp.wait_for("CHILD_SA rekeyed", Duration::from_secs(10)),
        "erdp saw no rekey\n{}\n{}",
        erdp.log(),
        charon_log(&charon)
    );
    let second = ping_host(&charon.ns);
    assert_eq!(
        second,
        5,
        "pings after the rekey\nerdp:\n{}\ncharon:\n{}",
        erdp.log(),
        charon_log(&charon)
    );
    eprintln!("attach: IKE up, 5/5 pings, rekey, 5/5 pings");

    // charon dies: erdp's DPD (2 s delay, 6 s timeout) takes the tunnel down.
    let _ = charon.process.kill();
    let _ = charon.process.wait();
    assert!(
        erdp.wait_for("IKE failed", Duration::from_secs(30)),
        "no dead peer in erdp's log\n{}",
        erdp.log()
    );
    // Fail closed (the default `on_dead_peer`): the host's traffic toward
    // charon is routed into the tunnel, which has no SA: dropped, counted.
    let answered = host.exec("ping", &["-c", "3", "-i", "0.3", "-W", "1", CHARON_INNER]);
    assert!(
        answered.is_err(),
        "a ping crossed a dead tunnel: {answered:?}"
    );
    let log = erdp.log();
    let report = erdp.stop();
    assert!(
        report["counters"]["input"]["dropped_by_reason"]["tunnel_no_sa"].as_u64() >= Some(3),
        "{report:#}"
    );
    let ike = &report["ike"]["tunnels"][0];
    assert_eq!(ike["interface"], "vpn", "{report:#}");
    assert_eq!(ike["state"], "down", "{report:#}");
    assert!(
        ike["last_failure"]
            .as_str()
            .is_some_and(|f| f.contains("dead peer")),
        "{report:#}"
    );
    let sas = ike["sas"].as_array().expect("SA pairs");
    assert!(
        sas.len() >= 2,
        "the first SA pair and the rekeyed one: {report:#}"
    );
    assert!(
        sas[0]["deleted_at_s"].is_number(),
        "the rekeyed-away pair was deleted: {report:#}"
    );
    assert!(vpn_counter(&report, "decrypted") >= 10, "{report:#}");
    assert!(vpn_counter(&report, "encrypted") >= 10, "{report:#}");
    eprintln!(
        "attach: dpd: tunnel down ({}), {} SA pairs, vpn decrypted {} encrypted {}; log lines {}",
        ike["last_failure"],
        sas.len(),
        vpn_counter(&report, "decrypted"),
        vpn_counter(&report, "encrypted"),
        log.lines().count()
    );
}
