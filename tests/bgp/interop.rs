//! Interop with BIRD 2 over real TCP between two network namespaces: `erdp
//! bgp` learns IPv4 and IPv6 routes from BIRD (into its RIB and FIB), BIRD
//! learns erdp's (`birdc show route`), withdrawals are seen on both sides,
//! and a prefix-limit breach ends the session with Cease 6/1, which BIRD logs.
//! Needs root and bird2: `.ci/steps/55-bgp-interop.sh` runs it.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use erdp::port::netns::{Netns, is_root, run_command, veth_pair};

const ERDP_ADDRESS: &str = "10.77.0.1";
const BIRD_ADDRESS: &str = "10.77.0.2";

/// Kills a child on drop (BIRD, erdp), so a failed assertion leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Bird {
    dir: PathBuf,
    ns: String,
    _process: Killed,
}

/// BIRD's configuration with these static routes.
fn bird_config(v4: &[&str], v6: &[&str]) -> String {
    let route = |p: &&str| format!("    route {p} blackhole;\n");
    let v4: String = v4.iter().map(route).collect();
    let v6: String = v6.iter().map(route).collect();
    format!(
        "router id {BIRD_ADDRESS};
log stderr all;
protocol device {{ }}
protocol static static4 {{ ipv4; \n{v4}}}
protocol static static6 {{ ipv6; \n{v6}}}
protocol bgp erdp {{
    local {BIRD_ADDRESS} as 65002;
    neighbor {ERDP_ADDRESS} as 65001;
    hold time 9; keepalive time 3;
    connect delay time 1; connect retry time 2; error wait time 1, 2;
    graceful restart off;
    ipv4 {{ import all; export where source = RTS_STATIC; }};
    ipv6 {{ import all; export where source = RTS_STATIC; next hop address 2001:db8:77::2; }};
}}
"
    )
}

impl Bird {
    fn start(ns: &Netns, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("erdp-bgp-interop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bird.conf"), config).unwrap();
        let process = Command::new("ip")
            .args(["netns", "exec", ns.name(), "bird", "-f", "-c"])
            .arg(dir.join("bird.conf"))
            .arg("-s")
            .arg(dir.join("bird.ctl"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("bird.log")).unwrap())
            .spawn()
            .expect("bird starts");
        Self {
            dir,
            ns: ns.name().to_owned(),
            _process: Killed(process),
        }
    }

    fn birdc(&self, command: &str) -> String {
        let socket = self.dir.join("bird.ctl");
        let mut args = vec!["netns", "exec", &self.ns, "birdc", "-s"];
        let socket = socket.to_string_lossy().into_owned();
        args.push(&socket);
        args.extend(command.split(' '));
        run_command("ip", &args).unwrap_or_else(|e| e.to_string())
    }

    fn reconfigure(&self, config: &str) {
        std::fs::write(self.dir.join("bird.conf"), config).unwrap();
        let out = self.birdc("configure");
        assert!(out.contains("Reconfigured"), "birdc configure: {out}");
    }

    /// Polls `birdc command` until `ok` accepts its output.
    fn wait_for(&self, command: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.birdc(command);
            if ok(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "BIRD: {what}; last `{command}`:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Erdp {
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    _process: Killed,
}

impl Erdp {
    fn start(ns: &Netns, extra: &[&str]) -> Self {
        let mut process = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                env!("CARGO_BIN_EXE_erdp"),
                "bgp",
            ])
            .args([
                "--local-as",
                "65001",
                "--peer-as",
                "65002",
                "--peer",
                BIRD_ADDRESS,
            ])
            .args(["--local", ERDP_ADDRESS, "--local-v6", "2001:db8:77::1"])
            .args(["--hold", "9", "--keepalive", "3", "--connect-retry", "1"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("erdp bgp starts");
        let stdin = process.stdin.take().unwrap();
        let stdout = process.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("erdp: {line}");
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            stdin,
            lines,
            _process: Killed(process),
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for a line `ok` accepts; returns it.
    fn wait_line(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if ok(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("erdp: no line for {what} in 30 s"),
            }
        }
    }

    /// The `route` lines of one `routes` listing.
    fn routes(&mut self) -> Vec<String> {
        self.send("routes");
        let mut routes = Vec::new();
        loop {
            let line = self.wait_line("routes", |l| l.starts_with("route"));
            if line.starts_with("routes-end") {
                return routes;
            }
            routes.push(line);
        }
    }

    /// Polls `routes` until `ok` accepts the listing.
    fn wait_routes(&mut self, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let routes = self.routes();
            if ok(&routes) {
                return routes;
            }
            assert!(
                Instant::now() < deadline,
                "erdp: {what}; last routes: {routes:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn has(routes: &[String], prefix: &str) -> bool {
    routes
        .iter()
        .any(|r| r.starts_with(&format!("route {prefix} ")))
}

#[test]
#[ignore = "needs root and bird2: run by .ci/steps/55-bgp-interop.sh"]
fn erdp_and_bird_exchange_ipv4_and_ipv6_routes_and_withdrawals_and_bird_sees_the_prefix_limit() {
    assert!(is_root(), "needs root (network namespaces)");
    let erdp_ns = Netns::create("bgp-erdp").unwrap();
    let bird_ns = Netns::create("bgp-bird").unwrap();
    veth_pair(&erdp_ns, "e0", &bird_ns, "b0").unwrap();
    erdp_ns
        .ip(&["addr", "add", "10.77.0.1/30", "dev", "e0"])
        .unwrap();
    bird_ns
        .ip(&["addr", "add", "10.77.0.2/30", "dev", "b0"])
        .unwrap();
    erdp_ns
        .ip(&["addr", "add", "2001:db8:77::1/64", "dev", "e0", "nodad"])
        .unwrap();
    bird_ns
        .ip(&["addr", "add", "2001:db8:77::2/64", "dev", "b0", "nodad"])
        .unwrap();

    let v4 = ["198.51.100.0/24", "203.0.113.0/24"];
    let v6 = ["2001:db8:aaaa::/48"];
    let bird = Bird::start(&bird_ns, &bird_config(&v4, &v6));
    let mut erdp = Erdp::start(
        &erdp_ns,
        &[
            "--max-prefix",
            "5",
            "--announce",
            "192.0.2.0/24",
            "--announce",
            "2001:db8:bbbb::/48",
        ],
    );
    erdp.wait_line("Established", |l| l == "state Established");

    // erdp learns BIRD's IPv4 and IPv6 routes, into its FIB.
    let routes = erdp.wait_routes("BIRD's three routes", |r| r.len() == 3);
    for prefix in v4.iter().chain(&v6) {
        let line = routes.iter().find(|r| r.contains(prefix)).unwrap();
        assert!(line.contains("path [65002]"), "{line}");
        assert!(
            line.contains(&format!("fib {prefix} via")),
            "not in the FIB: {line}"
        );
    }
    assert!(
        routes.iter().any(|r| r.contains("via 2001:db8:77::2")),
        "{routes:#?}"
    );

    // BIRD learns erdp's IPv4 and IPv6 routes.
    let learned = bird.wait_for("show route protocol erdp", "erdp's routes", |out| {
        out.contains("192.0.2.0/24") && out.contains("2001:db8:bbbb::/48")
    });
    assert!(learned.contains("65001"), "{learned}");

    // erdp withdraws: BIRD drops the route.
    erdp.send("withdraw 192.0.2.0/24");
    bird.wait_for("show route protocol erdp", "the withdrawal", |out| {
        !out.contains("192.0.2.0/24") && out.contains("2001:db8:bbbb::/48")
    });

    // BIRD withdraws one: erdp drops it, from the FIB too.
    bird.reconfigure(&bird_config(&v4[..1], &v6));
    erdp.wait_routes("BIRD's withdrawal", |r| r.len() == 2 && !has(r, v4[1]));

    // Four more from BIRD: 6 > 5, erdp ends the session with Cease 6/1.
    let more = [
        v4[0],
        "198.18.0.0/24",
        "198.18.1.0/24",
        "198.18.2.0/24",
        "198.18.3.0/24",
    ];
    bird.reconfigure(&bird_config(&more, &v6));
    let sent = erdp.wait_line("the Cease", |l| l.starts_with("notification sent"));
    assert!(sent.starts_with("notification sent 6/1"), "{sent}");
    assert!(
        sent.contains("data 00010100000005"),
        "AFI 1 SAFI 1 limit 5: {sent}"
    );
    let state = bird.wait_for("show protocols all erdp", "the Cease logged", |out| {
        out.contains("Maximum number of prefixes reached")
    });
    assert!(state.contains("Received"), "{state}");
    assert!(
        erdp.routes().is_empty(),
        "routes kept after the session ended"
    );
}
