//! Interop with BIRD 2 and FRR over real TCP between two network namespaces:
//! `erdp bgp` learns IPv4 and IPv6 routes from the daemon (into its RIB and
//! FIB), the daemon learns erdp's (`birdc show route`, `vtysh -c "show bgp
//! ..."`), withdrawals are seen on both sides, and a prefix-limit breach ends
//! the session with Cease 6/1, which the daemon logs. With FRR's bfdd, BFD
//! (300 ms x 3) finds a blackholed link in under a second and ends the
//! session with Cease 6/10; without BFD the hold timer (9 s) decides.
//! Needs root, bird2 and frr: `.ci/steps/55-bgp-interop.sh` runs them.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use erdp::port::netns::{Netns, is_root, run_command, veth_pair};

pub(crate) const ERDP_ADDRESS: &str = "10.77.0.1";
pub(crate) const BIRD_ADDRESS: &str = "10.77.0.2";

/// Kills a child on drop (BIRD, erdp), so a failed assertion leaves nothing running.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) struct Bird {
    dir: PathBuf,
    ns: String,
    pub(crate) process: Killed,
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
    pub(crate) fn start(ns: &Netns, config: &str) -> Self {
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
            process: Killed(process),
        }
    }

    pub(crate) fn birdc(&self, command: &str) -> String {
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

pub(crate) struct Erdp {
    stdin: ChildStdin,
    pub(crate) lines: mpsc::Receiver<String>,
    /// Lines passed over by `wait_line`.
    seen: std::cell::RefCell<Vec<String>>,
    pub(crate) process: Killed,
}

/// The erdp under test: `$ERDP_BIN` (a release build, for figures), else
/// the one cargo built for this test.
fn erdp_binary() -> String {
    std::env::var("ERDP_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_erdp").to_owned())
}

impl Erdp {
    pub(crate) fn start(ns: &Netns, extra: &[&str]) -> Self {
        let mut process = Command::new("ip")
            .args(["netns", "exec", ns.name(), &erdp_binary(), "bgp"])
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
            seen: Default::default(),
            process: Killed(process),
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for a line `ok` accepts (or takes one passed over before);
    /// returns it.
    pub(crate) fn wait_line(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let earlier = self.seen.borrow().iter().position(|l| ok(l));
        if let Some(index) = earlier {
            return self.seen.borrow_mut().remove(index);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if ok(&line) => return line,
                Ok(line) => self.seen.borrow_mut().push(line),
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
    erdp.wait_line("Established", |l| l.starts_with("state Established"));

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

/// FRR's zebra, bfdd and bgpd in a namespace, as the `frr` user in a
/// directory of their own (FRR 8.4, Debian's `frr`); killed by pid on drop.
struct Frr {
    dir: PathBuf,
}

/// FRR's configuration: eBGP to erdp with hold 9 s / keepalive 3 s, no
/// graceful restart, these networks announced, BFD 300 ms x 3 if `bfd`.
fn frr_config(dir: &std::path::Path, v4: &[&str], v6: &[&str], bfd: bool) -> String {
    let network = |p: &&str| format!("  network {p}\n");
    let v4: String = v4.iter().map(network).collect();
    let v6: String = v6.iter().map(network).collect();
    let bfd_neighbor = if bfd {
        format!(" neighbor {ERDP_ADDRESS} bfd profile msee\n")
    } else {
        String::new()
    };
    format!(
        "frr defaults traditional
hostname frr-erdp
log file {dir}/frr.log
log timestamp precision 3
!
bfd
 profile msee
  transmit-interval 300
  receive-interval 300
  detect-multiplier 3
 !
!
router bgp 65002
 bgp router-id {BIRD_ADDRESS}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 bgp graceful-restart-disable
 bgp log-neighbor-changes
 neighbor {ERDP_ADDRESS} remote-as 65001
 neighbor {ERDP_ADDRESS} timers 3 9
 neighbor {ERDP_ADDRESS} timers connect 1
{bfd_neighbor} address-family ipv4 unicast
{v4}  neighbor {ERDP_ADDRESS} activate
 exit-address-family
 address-family ipv6 unicast
{v6}  neighbor {ERDP_ADDRESS} activate
 exit-address-family
!
",
        dir = dir.display()
    )
}

impl Frr {
    fn start(ns: &Netns, v4: &[&str], v6: &[&str], bfd: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("erdp-frr-{}", ns.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("frr.conf");
        std::fs::write(&conf, frr_config(&dir, v4, v6, bfd)).unwrap();
        let dir_text = dir.to_string_lossy().into_owned();
        // zebra and bfdd refuse to run as root.
        run_command("chown", &["-R", "frr:frr", &dir_text]).unwrap();
        let frr = Self { dir };
        let conf = conf.to_string_lossy().into_owned();
        let zserv = format!("{dir_text}/zserv.api");
        for daemon in ["zebra", "bfdd", "bgpd"] {
            let pid = format!("{dir_text}/{daemon}.pid");
            let program = format!("/usr/lib/frr/{daemon}");
            let mut args = vec![
                "-d",
                "-f",
                &conf,
                "-i",
                &pid,
                "--vty_socket",
                &dir_text,
                "-z",
                &zserv,
            ];
            let bfdctl = format!("{dir_text}/bfdd.sock");
            match daemon {
                "bfdd" => args.extend(["--bfdctl", &bfdctl]),
                // Routes stay out of the namespace's kernel table.
                "bgpd" => args.push("-n"),
                _ => {}
            }
            ns.exec(&program, &args)
                .unwrap_or_else(|e| panic!("{daemon} starts: {e}"));
            // bfdd and bgpd need zebra's socket.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !std::path::Path::new(&pid).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        frr
    }

    fn vtysh(&self, commands: &[&str]) -> String {
        let socket = self.dir.to_string_lossy().into_owned();
        let mut args = vec!["--vty_socket", socket.as_str()];
        for command in commands {
            args.extend(["-c", command]);
        }
        run_command("vtysh", &args).unwrap_or_else(|e| e.to_string())
    }

    /// Changes the running configuration of `router bgp 65002` in `family`.
    fn configure(&self, family: &str, lines: &[&str]) {
        let mut commands = vec!["configure terminal", "router bgp 65002"];
        let family = format!("address-family {family} unicast");
        commands.push(&family);
        commands.extend(lines);
        self.vtysh(&commands);
    }

    /// Polls `vtysh -c command` until `ok` accepts its output.
    fn wait_for(&self, command: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.vtysh(&[command]);
            if ok(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "FRR: {what}; last `{command}`:\n{out}\nlog:\n{}",
                std::fs::read_to_string(self.dir.join("frr.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for daemon in ["bgpd", "bfdd", "zebra"] {
            let pid = std::fs::read_to_string(self.dir.join(format!("{daemon}.pid")));
            if let Ok(pid) = pid {
                let _ = run_command("kill", &[pid.trim()]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Two namespaces joined by a veth pair with erdp's and the peer's
/// addresses (IPv4 /30 and IPv6 /64).
fn linked_namespaces(tag: &str) -> (Netns, Netns) {
    let erdp_ns = Netns::create(&format!("{tag}-erdp")).unwrap();
    let peer_ns = Netns::create(&format!("{tag}-peer")).unwrap();
    veth_pair(&erdp_ns, "e0", &peer_ns, "f0").unwrap();
    erdp_ns
        .ip(&["addr", "add", "10.77.0.1/30", "dev", "e0"])
        .unwrap();
    peer_ns
        .ip(&["addr", "add", "10.77.0.2/30", "dev", "f0"])
        .unwrap();
    erdp_ns
        .ip(&["addr", "add", "2001:db8:77::1/64", "dev", "e0", "nodad"])
        .unwrap();
    peer_ns
        .ip(&["addr", "add", "2001:db8:77::2/64", "dev", "f0", "nodad"])
        .unwrap();
    (erdp_ns, peer_ns)
}

/// The seconds after ` at ` in an erdp event line.
fn at(line: &str) -> f64 {
    line.rsplit_once(" at ")
        .and_then(|(_, t)| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no time in {line:?}"))
}

#[test]
#[ignore = "needs root and frr: run by .ci/steps/55-bgp-interop.sh"]
fn erdp_and_frr_exchange_ipv4_and_ipv6_routes_and_withdrawals_and_frr_sees_the_prefix_limit() {
    assert!(is_root(), "needs root (network namespaces)");
    let (erdp_ns, frr_ns) = linked_namespaces("frr-routes");
    let v4 = ["198.51.100.0/24", "203.0.113.0/24"];
    let v6 = ["2001:db8:aaaa::/48"];
    let frr = Frr::start(&frr_ns, &v4, &v6, false);
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
    erdp.wait_line("Established", |l| l.starts_with("state Established"));

    // erdp learns FRR's IPv4 and IPv6 routes, into its FIB.
    let routes = erdp.wait_routes("FRR's three routes", |r| r.len() == 3);
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

    // FRR learns erdp's IPv4 and IPv6 routes.
    let learned = frr.wait_for("show bgp ipv4 unicast", "erdp's IPv4 route", |out| {
        out.contains("192.0.2.0/24")
    });
    assert!(learned.contains("65001"), "{learned}");
    frr.wait_for("show bgp ipv6 unicast", "erdp's IPv6 route", |out| {
        out.contains("2001:db8:bbbb::/48")
    });

    // erdp withdraws: FRR drops the route.
    erdp.send("withdraw 192.0.2.0/24");
    frr.wait_for("show bgp ipv4 unicast", "the withdrawal", |out| {
        !out.contains("192.0.2.0/24")
    });

    // FRR withdraws one: erdp drops it, from the FIB too.
    frr.configure("ipv4", &["no network 203.0.113.0/24"]);
    erdp.wait_routes("FRR's withdrawal", |r| r.len() == 2 && !has(r, v4[1]));

    // Four more from FRR: 6 > 5, erdp ends the session with Cease 6/1.
    frr.configure(
        "ipv4",
        &[
            "network 198.18.0.0/24",
            "network 198.18.1.0/24",
            "network 198.18.2.0/24",
            "network 198.18.3.0/24",
        ],
    );
    let sent = erdp.wait_line("the Cease", |l| l.starts_with("notification sent"));
    assert!(sent.starts_with("notification sent 6/1"), "{sent}");
    assert!(
        sent.contains("data 00010100000005"),
        "AFI 1 SAFI 1 limit 5: {sent}"
    );
    let neighbor = frr.wait_for(
        &format!("show bgp neighbors {ERDP_ADDRESS}"),
        "the Cease logged",
        |out| out.contains("Maximum Number of Prefixes Reached"),
    );
    assert!(neighbor.contains("received"), "{neighbor}");
    assert!(
        erdp.routes().is_empty(),
        "routes kept after the session ended"
    );
}

/// Brings a session up with FRR (with or without BFD), blackholes the link
/// both ways (a silent failure: `pfifo limit 0` drops every packet and
/// keeps the link up), and returns erdp's clock at the blackhole and the
/// lines erdp printed until its session went Idle.
fn blackhole_and_wait_for_idle(tag: &str, bfd: bool) -> (f64, Vec<String>) {
    assert!(is_root(), "needs root (network namespaces)");
    let (erdp_ns, frr_ns) = linked_namespaces(tag);
    let frr = Frr::start(&frr_ns, &["198.51.100.0/24"], &[], bfd);
    let mut erdp = Erdp::start(&erdp_ns, if bfd { &["--bfd"] } else { &[] });
    erdp.wait_line("Established", |l| l.starts_with("state Established"));
    erdp.wait_routes("FRR's route", |r| r.len() == 1);
    if bfd {
        erdp.wait_line("BFD Up", |l| l.starts_with("bfd state Up"));
        frr.wait_for("show bfd peers", "bfdd's session up", |out| {
            out.contains("Status: up")
        });
    }
    erdp.seen.borrow_mut().clear();
    for (ns, device) in [(&frr_ns, "f0"), (&erdp_ns, "e0")] {
        ns.exec(
            "tc",
            &["qdisc", "add", "dev", device, "root", "pfifo", "limit", "0"],
        )
        .unwrap();
    }
    erdp.send("time");
    let blackholed = at(&erdp
        .wait_line("erdp's clock", |l| l.starts_with("time "))
        .replace("time ", " at "));
    let idle = erdp.wait_line("the session down", |l| l.starts_with("state Idle"));
    let mut lines = erdp.seen.borrow().clone();
    lines.push(idle);
    (blackholed, lines)
}

#[test]
#[ignore = "needs root and frr: run by .ci/steps/55-bgp-interop.sh"]
fn bfd_with_frr_bfdd_finds_a_dead_link_in_under_a_second_and_ends_the_session_with_cease_6_10() {
    let (blackholed, lines) = blackhole_and_wait_for_idle("frr-bfd", true);
    let position = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {lines:#?}"))
    };
    let bfd_down = position("bfd state Down");
    let cease = position("notification sent 6/10");
    let idle = position("state Idle");
    assert!(bfd_down < cease && cease < idle, "{lines:#?}");
    assert!(
        lines[bfd_down].contains("diag 1 (Control Detection Time Expired)"),
        "{}",
        lines[bfd_down]
    );
    // In erdp's own clock: detection (3 x 300 ms) within a second of the
    // blackhole, and BGP down at that moment, not at the hold timer.
    let detected = at(&lines[bfd_down]) - blackholed;
    let down = at(&lines[idle]) - blackholed;
    eprintln!("BFD down {detected:.3} s, BGP Idle {down:.3} s after the blackhole");
    assert!(detected < 1.0, "BFD took {detected:.3} s: {lines:#?}");
    assert!(down >= detected && down < 1.0, "BGP down at {down:.3} s");
}

#[test]
#[ignore = "needs root and frr: run by .ci/steps/55-bgp-interop.sh"]
fn without_bfd_the_hold_timer_decides_after_its_negotiated_time() {
    let (blackholed, lines) = blackhole_and_wait_for_idle("frr-hold", false);
    let expired = lines
        .iter()
        .find(|l| l.starts_with("notification sent"))
        .unwrap_or_else(|| panic!("no NOTIFICATION in {lines:#?}"));
    assert!(expired.starts_with("notification sent 4/0"), "{expired}");
    assert!(!lines.iter().any(|l| l.starts_with("bfd")), "{lines:#?}");
    // Hold 9 s, the peer's KEEPALIVEs every 3 s: the last came at most 3 s
    // before the blackhole, so expiry is about 6 s or more after it (5 s
    // leaves room for a KEEPALIVE sent early).
    let down = at(lines.last().unwrap()) - blackholed;
    eprintln!("BGP Idle {down:.3} s after the blackhole (hold 9 s)");
    assert!(
        down >= 5.0,
        "hold timer fired after {down:.3} s: {lines:#?}"
    );
}
