//! IKEv2 interop with strongSwan (root and strongSwan only; run by
//! .ci/steps/55-ike-interop.sh). charon (kernel-libipsec: ESP in userspace,
//! always in UDP 4500) runs in one network namespace, erdp's IKE core on
//! real UDP 500/4500 sockets in another, joined by a veth. For each role
//! (erdp responder, erdp initiator), DH group and suite (AES-GCM, and
//! AES-CBC with HMAC-SHA2 in the SK payload and in ESP): IKE_SA_INIT and IKE_AUTH
//! complete, a CHILD_SA is installed, and kernel pings from charon's side
//! cross it: each echo request that charon's ESP sealed opens with erdp's
//! `esp` module under the negotiated keys, and the echo reply that erdp seals
//! opens in charon, so ping succeeds only if both directions' keys agree.
//! Then the CHILD_SA is rekeyed (by erdp's lifetime, and by `swanctl
//! --rekey`), without and with PFS, and pings cross the new SA; Dead Peer
//! Detection: charon answers
//! erdp's liveness checks, and once its link is down erdp declares it dead.
//! Then a wrong PSK and a proposal mismatch fail with the reason.

use crate::support;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use erdp::esp::{InboundSa, OutboundSa};
use erdp::ike::{ChildSa, Datagram, DhGroup, Event, Failure, Ike, IkeConfig, Output, Psk};
use erdp::packet::PacketBuf;
use erdp::port::netns::{Netns, is_root, run_command, veth_pair};
use erdp::wire::{Ipv4Packet, echo_reply_v4};
use support::capture::TempDir;

pub(crate) const ERDP: &str = "192.0.2.1";
pub(crate) const CHARON: &str = "192.0.2.2";
pub(crate) const PSK: &str = "erdp interop psk";
pub(crate) const CHARON_BIN: &str = "/usr/lib/ipsec/charon";

pub(crate) struct Charon {
    pub(crate) ns: Netns,
    pub(crate) dir: TempDir,
    pub(crate) process: Child,
}

impl Drop for Charon {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn strongswan_conf(dir: &TempDir) -> String {
    let d = dir.0.display();
    format!(
        "charon {{\n  load_modular = no\n  load = random nonce aes sha1 sha2 hmac gcm openssl \
         gmp pem pkcs1 x509 pubkey kdf kernel-libipsec kernel-netlink socket-default vici \
         updown\n  retransmit_timeout = 1.0\n  retransmit_tries = 3\n  filelog {{\n    log {{\n      \
         path = {d}/charon.log\n      default = 1\n      ike = 2\n    }}\n  }}\n  plugins {{\n    \
         vici {{\n      socket = unix://{d}/charon.vici\n    }}\n  }}\n}}\nswanctl {{\n  \
         socket = unix://{d}/charon.vici\n}}\n"
    )
}

fn swanctl_conf(ike_proposal: &str, esp_proposal: &str, psk: &str) -> String {
    format!(
        "connections {{\n erdp {{\n  version = 2\n  local_addrs = {CHARON}\n  remote_addrs = \
         {ERDP}\n  proposals = {ike_proposal}\n  local {{\n   auth = psk\n   id = {CHARON}\n  }}\n  \
         remote {{\n   auth = psk\n   id = {ERDP}\n  }}\n  children {{\n   net {{\n    local_ts \
         = 10.2.0.1/32\n    remote_ts = 10.1.0.0/24\n    esp_proposals = {esp_proposal}\n    \
         start_action = none\n   }}\n  }}\n }}\n}}\nsecrets {{\n ike-erdp {{\n  id-1 = {ERDP}\n  \
         id-2 = {CHARON}\n  secret = \"{psk}\"\n }}\n}}\n"
    )
}

/// Starts charon in a fresh namespace joined to `erdp_ns` and loads a
/// connection with `ike_proposal`, ESP AES-256-GCM and `psk`.
pub(crate) fn start_charon(erdp_ns: &Netns, tag: &str, ike_proposal: &str, psk: &str) -> Charon {
    start_charon_with(erdp_ns, tag, (ike_proposal, "aes256gcm16"), psk)
}

/// [`start_charon`] with the IKE and ESP proposals.
fn start_charon_with(
    erdp_ns: &Netns,
    tag: &str,
    (ike_proposal, esp_proposal): (&str, &str),
    psk: &str,
) -> Charon {
    let ns = Netns::create("ike-swan").unwrap();
    veth_pair(erdp_ns, "ike-e", &ns, "ike-s").unwrap();
    ns.ip(&["addr", "add", &format!("{CHARON}/24"), "dev", "ike-s"])
        .unwrap();
    ns.ip(&["addr", "add", "10.2.0.1/32", "dev", "lo"]).unwrap();
    let dir = TempDir::new(&format!("ike-interop-{tag}"));
    std::fs::create_dir_all(dir.path("run")).unwrap();
    std::fs::write(dir.path("strongswan.conf"), strongswan_conf(&dir)).unwrap();
    std::fs::write(
        dir.path("swanctl.conf"),
        swanctl_conf(ike_proposal, esp_proposal, psk),
    )
    .unwrap();
    // charon's pid file path is compiled in (/run/charon.pid): a private
    // /run in the mount namespace `ip netns exec` makes.
    let script = format!(
        "mount --bind {} /run && exec {CHARON_BIN}",
        dir.path("run").display()
    );
    let process = Command::new("ip")
        .args(["netns", "exec", ns.name(), "sh", "-c", &script])
        .env("STRONGSWAN_CONF", dir.path("strongswan.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let charon = Charon { ns, dir, process };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let loaded = swanctl(
            &charon,
            &[
                "--load-all",
                "--file",
                &charon.dir.path("swanctl.conf").display().to_string(),
            ],
        );
        if loaded.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "charon did not start: {loaded:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    charon
}

pub(crate) fn swanctl(charon: &Charon, args: &[&str]) -> Result<String, String> {
    let output = Command::new("ip")
        .args(["netns", "exec", charon.ns.name(), "swanctl"])
        .args(args)
        .env("STRONGSWAN_CONF", charon.dir.path("strongswan.conf"))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

pub(crate) fn charon_log(charon: &Charon) -> String {
    std::fs::read_to_string(charon.dir.path("charon.log")).unwrap_or_default()
}

/// What one run of erdp's IKE core against charon produced.
struct Run {
    events: Vec<Event>,
    /// Echo requests from charon's side decrypted by erdp.
    requests_opened: usize,
    /// Echo requests decrypted on a CHILD_SA that a rekey made.
    requests_after_rekey: usize,
    /// Every ping's exit status: true when every reply came back through
    /// charon (two pings around a rekey).
    ping_ok: bool,
    /// When charon's link went down (`After::CharonVanishes`), and when
    /// erdp declared the peer dead, since erdp started.
    link_down_at: Option<Duration>,
    dead_at: Option<Duration>,
    /// erdp's IKE drop counters at the end.
    drops: erdp::ike::IkeStats,
}

/// What a run does once the first ping has crossed the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Nothing,
    /// erdp's CHILD_SA lifetime runs out: erdp rekeys, then a second ping.
    ErdpRekeys,
    /// `swanctl --rekey`: charon rekeys, erdp answers, then a second ping.
    CharonRekeys,
    /// After 8 s (DPD checks every 2 s, answered) charon's link goes down:
    /// erdp's Dead Peer Detection must declare it dead.
    CharonVanishes,
}

fn in_charon_ns(ns: &str, conf: &std::path::Path, args: &[&str]) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .env("STRONGSWAN_CONF", conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// erdp's side: the IKE core on UDP 500/4500; once a CHILD_SA is up, ESP
/// from charon is opened and echo requests answered through it.
fn drive(erdp_ns: &Netns, charon: &Charon, config: IkeConfig, erdp_initiates: bool) -> Run {
    drive_then(erdp_ns, charon, config, erdp_initiates, After::Nothing)
}

fn drive_then(
    erdp_ns: &Netns,
    charon: &Charon,
    config: IkeConfig,
    erdp_initiates: bool,
    after: After,
) -> Run {
    let (ping_tx, ping_rx) = mpsc::channel::<bool>();
    let (up_tx, up_rx) = mpsc::channel::<()>();
    let (rekeyed_tx, rekeyed_rx) = mpsc::channel::<()>();
    let (down_tx, down_rx) = mpsc::channel::<()>();
    let ns_name = charon.ns.name().to_owned();
    let conf = charon.dir.path("strongswan.conf");
    // Pings to wait for; CharonVanishes runs until erdp declares it dead.
    let pings = match after {
        After::Nothing => 1,
        After::ErdpRekeys | After::CharonRekeys => 2,
        After::CharonVanishes => usize::MAX,
    };
    let helper = std::thread::spawn(move || {
        let ping = || {
            in_charon_ns(
                &ns_name,
                &conf,
                &[
                    "ping", "-c", "3", "-i", "0.3", "-W", "2", "-I", "10.2.0.1", "10.1.0.1",
                ],
            )
        };
        if !erdp_initiates {
            let initiate = ["swanctl", "--initiate", "--child", "net", "--timeout", "20"];
            in_charon_ns(&ns_name, &conf, &initiate);
        }
        // Ping once erdp has installed the CHILD_SA.
        if up_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = ping_tx.send(false);
            return;
        }
        let _ = ping_tx.send(ping());
        match after {
            After::Nothing => {}
            After::ErdpRekeys | After::CharonRekeys => {
                if after == After::CharonRekeys {
                    in_charon_ns(&ns_name, &conf, &["swanctl", "--rekey", "--child", "net"]);
                }
                let rekeyed = rekeyed_rx.recv_timeout(Duration::from_secs(30)).is_ok();
                let _ = ping_tx.send(rekeyed && ping());
            }
            After::CharonVanishes => {
                std::thread::sleep(Duration::from_secs(8));
                in_charon_ns(&ns_name, &conf, &["ip", "link", "set", "ike-s", "down"]);
                let _ = down_tx.send(());
            }
        }
    });
    let run = erdp_ns
        .run(move || {
            let s500 = UdpSocket::bind((ERDP, 500)).unwrap();
            let s4500 = UdpSocket::bind((ERDP, 4500)).unwrap();
            s500.set_nonblocking(true).unwrap();
            s4500.set_nonblocking(true).unwrap();
            let mut ike = Ike::new(config);
            let start = Instant::now();
            let mut out = Output::default();
            if erdp_initiates {
                ike.initiate(Duration::ZERO, &mut out);
            }
            let mut run = Run {
                events: Vec::new(),
                requests_opened: 0,
                requests_after_rekey: 0,
                ping_ok: true,
                link_down_at: None,
                dead_at: None,
                drops: Default::default(),
            };
            // Installed CHILD_SAs by our inbound SPI, and whether a rekey
            // made them.
            let mut children: Vec<(u32, bool, InboundSa, OutboundSa)> = Vec::new();
            let mut pings_done = 0;
            let mut buf = [0u8; 65536];
            let mut up_tx = Some(up_tx);
            while start.elapsed() < Duration::from_secs(60) && pings_done < pings {
                for d in out.datagrams.drain(..) {
                    let socket = if d.local.port() == 4500 {
                        &s4500
                    } else {
                        &s500
                    };
                    // charon's link may be down (After::CharonVanishes).
                    let _ = socket.send_to(&d.bytes, d.remote);
                }
                for e in out.events.drain(..) {
                    match &e {
                        Event::ChildSaInstalled(c) => {
                            let (inbound, outbound) = install(c);
                            children.push((c.inbound.spi, false, inbound, outbound));
                            if let Some(tx) = up_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Event::ChildSaRekeyed { new, .. } => {
                            let (inbound, outbound) = install(new);
                            children.push((new.inbound.spi, true, inbound, outbound));
                        }
                        Event::ChildSaDeleted { inbound_spi, .. } => {
                            children.retain(|c| c.0 != *inbound_spi);
                            let _ = rekeyed_tx.send(());
                        }
                        _ => {}
                    }
                    let failed = matches!(e, Event::Failed { .. });
                    run.events.push(e);
                    if failed {
                        run.ping_ok &= pings_done > 0;
                        run.dead_at = Some(start.elapsed());
                        if run.link_down_at.is_none() && down_rx.try_recv().is_ok() {
                            run.link_down_at = Some(start.elapsed());
                        }
                        run.drops = ike.stats().clone();
                        return run;
                    }
                }
                if run.link_down_at.is_none() && down_rx.try_recv().is_ok() {
                    run.link_down_at = Some(start.elapsed());
                }
                let now = start.elapsed();
                let mut idle = true;
                for (socket, port) in [(&s500, 500u16), (&s4500, 4500)] {
                    let Ok((len, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    idle = false;
                    let bytes = &buf[..len];
                    let local: SocketAddr =
                        (ERDP.parse::<std::net::IpAddr>().unwrap(), port).into();
                    if port == 4500 && len > 4 && bytes[..4] != [0, 0, 0, 0] {
                        // ESP in UDP (RFC 3948): the SA its SPI names opens
                        // it; the echo reply goes back on the same pair.
                        let spi = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                        if let Some((_, rekeyed, inbound, outbound)) =
                            children.iter().find(|c| c.0 == spi)
                            && let Some(reply) = answer_esp(inbound, outbound, from, bytes)
                        {
                            run.requests_opened += 1;
                            run.requests_after_rekey += usize::from(*rekeyed);
                            s4500.send_to(&reply, from).unwrap();
                        }
                        continue;
                    }
                    let d = Datagram {
                        local,
                        remote: from,
                        bytes: bytes.to_vec(),
                    };
                    ike.handle(now, &d, &mut out);
                }
                ike.poll(now, &mut out);
                if let Ok(ok) = ping_rx.try_recv() {
                    run.ping_ok &= ok;
                    pings_done += 1;
                }
                if idle {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            run.ping_ok &= pings_done == pings;
            run.drops = ike.stats().clone();
            run
        })
        .unwrap();
    let _ = helper.join();
    run
}

fn install(c: &ChildSa) -> (InboundSa, OutboundSa) {
    (
        InboundSa::new(&c.inbound).unwrap(),
        OutboundSa::new(&c.outbound).unwrap(),
    )
}

/// Opens one ESP-in-UDP datagram from `from` with `inbound`; for an ICMP
/// echo request returns the sealed echo reply's UDP payload.
fn answer_esp(
    inbound: &InboundSa,
    outbound: &OutboundSa,
    from: SocketAddr,
    esp: &[u8],
) -> Option<Vec<u8>> {
    // Rebuild the outer IPv4/UDP header the kernel removed.
    let SocketAddr::V4(from) = from else {
        return None;
    };
    let outer = etherparse::PacketBuilder::ipv4(
        from.ip().octets(),
        ERDP.parse::<std::net::Ipv4Addr>().unwrap().octets(),
        64,
    )
    .udp(from.port(), 4500);
    let mut packet = Vec::new();
    outer.write(&mut packet, esp).ok()?;
    let mut buf = PacketBuf::new();
    buf.load(&packet, PacketBuf::DEFAULT_HEADROOM).ok()?;
    inbound.decapsulate(&mut buf).ok()?;
    let mut ip = Ipv4Packet::new_checked(buf.as_mut_slice()).ok()?;
    echo_reply_v4(&mut ip).ok()?;
    outbound.encapsulate(&mut buf).ok()?;
    // The UDP payload: after the outer IPv4 header (20) and UDP header (8).
    Some(buf.as_slice().get(28..)?.to_vec())
}

fn erdp_config(group: DhGroup, psk: &str) -> IkeConfig {
    let mut config = IkeConfig::new(
        (ERDP.parse::<std::net::IpAddr>().unwrap(), 500).into(),
        (CHARON.parse::<std::net::IpAddr>().unwrap(), 500).into(),
        Psk::new(psk.as_bytes()),
    );
    config.ike_suites.retain(|s| s.dh == group);
    config.local_ts = vec!["10.1.0.0/24".parse().unwrap()];
    config.remote_ts = vec!["10.2.0.0/16".parse().unwrap()];
    config
}

fn erdp_namespace() -> Netns {
    Netns::create("ike-erdp").unwrap()
}

fn assert_tunnel_works(run: &Run, charon: &Charon, what: &str) {
    let child = run.events.iter().find_map(|e| match e {
        Event::ChildSaInstalled(c) => Some(c),
        _ => None,
    });
    assert!(
        child.is_some(),
        "{what}: no CHILD_SA: {:?}\n{}",
        run.events,
        charon_log(charon)
    );
    assert!(
        run.requests_opened >= 3,
        "{what}: {} echo requests opened\n{}",
        run.requests_opened,
        charon_log(charon)
    );
    assert!(
        run.ping_ok,
        "{what}: ping through charon failed\n{}",
        charon_log(charon)
    );
    let sas = swanctl(charon, &["--list-sas"]).unwrap_or_default();
    assert!(
        sas.contains("ESTABLISHED") && sas.contains("INSTALLED"),
        "{what}: {sas}"
    );
}

fn setup_erdp_side(ns: &Netns) {
    ns.ip(&["addr", "add", &format!("{ERDP}/24"), "dev", "ike-e"])
        .unwrap();
}

#[test]
#[ignore = "needs root and strongswan: run by .ci/steps/55-ike-interop.sh"]
fn ike_interop_with_strongswan() {
    assert!(is_root(), "needs root");
    assert!(
        std::path::Path::new(CHARON_BIN).exists(),
        "needs strongSwan's charon ({CHARON_BIN})"
    );
    run_command("sh", &["-c", "command -v swanctl"]).expect("needs strongSwan's swanctl");
    let cases = [
        (
            "ecp256",
            DhGroup::Ecp256,
            ("aes256gcm16-prfsha256-ecp256", "aes256gcm16"),
            false,
        ),
        (
            "x25519",
            DhGroup::Curve25519,
            ("aes128gcm16-prfsha256-x25519", "aes256gcm16"),
            true,
        ),
        (
            "ecp384",
            DhGroup::Ecp384,
            ("aes256gcm16-prfsha384-ecp384", "aes256gcm16"),
            false,
        ),
        (
            "ecp256-init",
            DhGroup::Ecp256,
            ("aes256gcm16-prfsha256-ecp256", "aes256gcm16"),
            true,
        ),
        // AES-CBC + HMAC-SHA2 in the SK payload and in ESP: Azure's most
        // common non-GCM policy ("About cryptographic requirements and
        // Azure VPN gateways": AES256, SHA256).
        (
            "cbc-sha256",
            DhGroup::Ecp256,
            ("aes256-sha256-ecp256", "aes256-sha256"),
            false,
        ),
        (
            "cbc-sha256-init",
            DhGroup::Curve25519,
            ("aes128-sha256-x25519", "aes128-sha256"),
            true,
        ),
        (
            "cbc-sha384",
            DhGroup::Ecp384,
            ("aes256-sha384-ecp384", "aes256-sha256"),
            false,
        ),
        // MODP-2048 (RFC 3526 group 14), as Azure's policies still list.
        (
            "modp2048",
            DhGroup::Modp2048,
            ("aes256-sha256-modp2048", "aes256-sha256"),
            false,
        ),
        (
            "modp2048-init",
            DhGroup::Modp2048,
            ("aes256gcm16-prfsha256-modp2048", "aes256gcm16"),
            true,
        ),
    ];
    for (tag, group, (proposal, esp_proposal), erdp_initiates) in cases {
        let what = format!(
            "{tag}: erdp {}",
            if erdp_initiates {
                "initiator"
            } else {
                "responder"
            }
        );
        let ns = erdp_namespace();
        let charon = start_charon_with(&ns, tag, (proposal, esp_proposal), PSK);
        setup_erdp_side(&ns);
        let mut config = erdp_config(group, PSK);
        config.ike_suites = vec![suite_for(proposal, group)];
        config.esp_suites = vec![esp_suite_for(esp_proposal)];
        let run = drive(&ns, &charon, config, erdp_initiates);
        assert_tunnel_works(&run, &charon, &what);
        eprintln!(
            "{what}: IKE and CHILD_SA up, {} ESP echo requests opened, ping ok",
            run.requests_opened
        );
    }

    // CHILD_SA rekeying (RFC 7296 section 1.3.3), started by each side:
    // make-before-break, then pings cross the new SA. With PFS (section
    // 1.3.1, `esp_proposals = aes256gcm16-ecp256` on both sides), each
    // CREATE_CHILD_SA carries a key exchange: charon refuses a rekey
    // without one, and the new keys only agree if both derived the same
    // g^ir.
    for (tag, after, esp_proposal) in [
        ("rekey-erdp", After::ErdpRekeys, "aes256gcm16"),
        ("rekey-charon", After::CharonRekeys, "aes256gcm16"),
        ("rekey-erdp-pfs", After::ErdpRekeys, "aes256gcm16-ecp256"),
        (
            "rekey-charon-pfs",
            After::CharonRekeys,
            "aes256gcm16-ecp256",
        ),
    ] {
        let ns = erdp_namespace();
        let proposals = ("aes256gcm16-prfsha256-ecp256", esp_proposal);
        let charon = start_charon_with(&ns, tag, proposals, PSK);
        setup_erdp_side(&ns);
        let mut config = erdp_config(DhGroup::Ecp256, PSK);
        config.esp_suites = vec![esp_suite_for(esp_proposal)];
        if after == After::ErdpRekeys {
            config.child_lifetime = Duration::from_secs(8);
            config.child_rekey_margin = Duration::from_secs(2);
        }
        let run = drive_then(&ns, &charon, config, false, after);
        assert_tunnel_works(&run, &charon, tag);
        let count = |f: fn(&Event) -> bool| run.events.iter().filter(|e| f(e)).count();
        let rekeyed = count(|e| matches!(e, Event::ChildSaRekeyed { .. }));
        let deleted = count(|e| matches!(e, Event::ChildSaDeleted { .. }));
        assert_eq!(
            (rekeyed, deleted),
            (1, 1),
            "{tag}: {:?}\n{}",
            run.events,
            charon_log(&charon)
        );
        assert!(
            run.requests_after_rekey >= 3,
            "{tag}: {} echo requests on the new SA\n{}",
            run.requests_after_rekey,
            charon_log(&charon)
        );
        if esp_proposal.ends_with("ecp256") {
            // charon names the rekeyed CHILD_SA's proposal with its group.
            let log = charon_log(&charon);
            assert!(
                log.contains("selected proposal: ESP:AES_GCM_16_256/ECP_256"),
                "{tag}: charon did not select a PFS proposal\n{log}"
            );
        }
        eprintln!(
            "{tag}: CHILD_SA rekeyed and the old one deleted on both sides, {} echo requests \
             opened on the new SA, ping ok",
            run.requests_after_rekey
        );
    }

    // Dead Peer Detection (RFC 7296 section 2.4): charon answers erdp's
    // liveness checks; once its link is down, erdp declares it dead.
    let ns = erdp_namespace();
    let charon = start_charon(&ns, "dpd", "aes256gcm16-prfsha256-ecp256", PSK);
    setup_erdp_side(&ns);
    let mut config = erdp_config(DhGroup::Ecp256, PSK);
    config.dpd_delay = Some(Duration::from_secs(2));
    config.dpd_timeout = Duration::from_secs(6);
    let run = drive_then(&ns, &charon, config, false, After::CharonVanishes);
    let silent_for = run.events.iter().find_map(|e| match e {
        Event::Failed {
            failure: Failure::PeerDead { silent_for },
            ..
        } => Some(*silent_for),
        _ => None,
    });
    assert!(run.ping_ok, "dpd: the first ping\n{}", charon_log(&charon));
    let (Some(silent_for), Some(down), Some(dead)) = (silent_for, run.link_down_at, run.dead_at)
    else {
        panic!(
            "dpd: no dead peer after the link went down: {:?} {:?}\n{}",
            run.events,
            run.drops,
            charon_log(&charon)
        );
    };
    assert!(
        dead > down && silent_for >= Duration::from_secs(6),
        "dpd: declared dead at {dead:?}, link down at {down:?}, silent for {silent_for:?}"
    );
    eprintln!(
        "dpd: charon answered liveness checks until its link went down at {down:?}; erdp \
         declared it dead {:?} later",
        dead - down
    );
    drop(charon);

    // A wrong pre-shared key: AUTHENTICATION_FAILED.
    let ns = erdp_namespace();
    let charon = start_charon(
        &ns,
        "psk",
        "aes256gcm16-prfsha256-ecp256",
        "not the same psk",
    );
    setup_erdp_side(&ns);
    let run = drive(&ns, &charon, erdp_config(DhGroup::Ecp256, PSK), false);
    let failure = run.events.iter().find_map(|e| match e {
        Event::Failed { failure, .. } => Some(failure.clone()),
        _ => None,
    });
    assert!(
        matches!(failure, Some(Failure::AuthenticationFailed { .. })),
        "{:?}",
        run.events
    );
    drop(charon);

    // A proposal mismatch: NO_PROPOSAL_CHOSEN with both lists.
    let ns = erdp_namespace();
    let charon = start_charon(&ns, "proposal", "aes128gcm16-prfsha384-ecp384", PSK);
    setup_erdp_side(&ns);
    let run = drive(&ns, &charon, erdp_config(DhGroup::Ecp256, PSK), false);
    let text = run
        .events
        .iter()
        .find_map(|e| match e {
            Event::Failed { failure, .. } => Some(failure.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(
        text.contains("the peer offered [ike:aes128gcm16-prfsha384-ecp384]")
            && text.contains("we accept [ike:aes256gcm16-prfsha256-ecp256]"),
        "{text}"
    );
}

/// erdp's IKE suite for a strongSwan proposal: `aesNNNgcm16-prfsha...`,
/// or `aesNNN-sha256|sha384-...` (AES-CBC, where the hash names both the
/// integrity transform and the PRF).
fn suite_for(proposal: &str, group: DhGroup) -> erdp::ike::IkeSuite {
    use erdp::ike::{IkeEncr, IkeInteg, Prf};
    let gcm = proposal.contains("gcm");
    let aes128 = proposal.starts_with("aes128");
    let sha384 = proposal.contains("sha384");
    erdp::ike::IkeSuite {
        encr: match (gcm, aes128) {
            (true, true) => IkeEncr::AesGcm128,
            (true, false) => IkeEncr::AesGcm256,
            (false, true) => IkeEncr::AesCbc128,
            (false, false) => IkeEncr::AesCbc256,
        },
        integ: match (gcm, sha384) {
            (true, _) => None,
            (false, false) => Some(IkeInteg::HmacSha256_128),
            (false, true) => Some(IkeInteg::HmacSha384_192),
        },
        prf: if sha384 {
            Prf::HmacSha384
        } else {
            Prf::HmacSha256
        },
        dh: group,
    }
}

/// erdp's ESP suite for a strongSwan ESP proposal (the same notation).
fn esp_suite_for(proposal: &str) -> erdp::ike::EspSuite {
    erdp::ike::EspSuite::from_notation(proposal)
        .unwrap_or_else(|e| panic!("no ESP suite for {proposal}: {e}"))
}
