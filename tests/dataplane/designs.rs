//! The tunnel path and the seed's designs, end to end between two nodes:
//! the on-premises edge encrypts (local-pref), the Azure gateway decrypts
//! and, with ExpressRoute preferred, still sends on-premises traffic into
//! the tunnel by longest prefix (design 1) or by separate prefixes
//! (design 2). Leaks are reported or dropped by policy. A naive reference
//! (linear longest-prefix match over the configured routes, the RIB's
//! selection rules) predicts every forwarding decision.

use crate::support;

use erdp::dataplane::{Delivery, DropReason, Outcome, PolicyId, PolicyVerdict};
use erdp::esp::EspDrop;
use erdp::rib::{Route, RouteSource, Rule, Session};
use etherparse::{InternetSlice, TcpOptionElement, TransportSlice};
use support::dataplane::*;

const ONPREM_1: &str = "design1-onprem-edge.toml";
const AZURE_1: &str = "design1-azure-gateway.toml";
const ONPREM_2: &str = "design2-onprem-edge.toml";
const AZURE_2: &str = "design2-azure-gateway.toml";

/// Outer IPv4 source, destination, protocol, and the ESP SPI and sequence.
fn outer_esp(frame: &[u8]) -> ([u8; 4], [u8; 4], u8, u32, u32) {
    let ip = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
    let esp = &frame[14 + ip.slice().len()..];
    (
        ip.source(),
        ip.destination(),
        ip.protocol().0,
        u32::from_be_bytes(esp[0..4].try_into().unwrap()),
        u32::from_be_bytes(esp[4..8].try_into().unwrap()),
    )
}

#[test]
fn design1_onprem_encrypts_vnet_traffic_and_azure_decrypts_it() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    let frame = from_onprem_host("10.1.0.10", 200);
    let batch = onprem.one("lan", frame.clone());
    let (wire, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Forwarded(onprem.id("er")));
    let sa = fate.encrypted.expect("encrypted");
    assert_eq!((sa.tunnel, sa.spi, sa.seq), (onprem.id("vpn"), 0x1001, 1));
    let route = fate.route.unwrap();
    assert_eq!(fate.matched_prefix().unwrap().to_string(), "10.1.0.0/16");
    assert_eq!(route.next_hop.interface, onprem.id("vpn"));
    assert_eq!(fate.policy, PolicyVerdict::Encrypted(PolicyId(0)));
    assert_eq!(macs(wire), (AZURE_ER_MAC, ONPREM_ER_MAC));
    assert_eq!(
        outer_esp(wire),
        (ip4("172.16.0.1"), ip4("10.100.255.4"), 50, 0x1001, 1)
    );
    assert!(
        !wire.windows(20).any(|w| w == &frame[14 + 28..14 + 48]),
        "payload is not in clear"
    );

    let batch = azure.one("er", wire.to_vec());
    let (inner, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Forwarded(azure.id("vnet")));
    let sa = fate.decrypted.expect("decrypted");
    assert_eq!((sa.tunnel, sa.spi, sa.seq), (azure.id("vpn"), 0x1001, 1));
    assert_eq!(
        fate.flow.unwrap().to_string(),
        "UDP 10.0.1.10:40000 -> 10.1.0.10:53"
    );
    assert_eq!(macs(inner), (AZURE_VM_MAC, AZURE_VNET_MAC));
    assert_eq!(ttl4(inner), 62, "decremented once per node");
    assert_eq!(inner.len(), frame.len());
    assert_eq!(&inner[14 + 20..], &frame[14 + 20..]);
    let counters = azure.node.counters();
    let vpn = &counters.interfaces[azure.id("vpn").0 as usize];
    assert_eq!(vpn.decrypted.packets, 1);
    let onprem_counters = onprem.node.counters();
    assert_eq!(
        onprem_counters.interfaces[onprem.id("vpn").0 as usize]
            .encrypted
            .packets,
        1
    );
    assert_eq!(onprem_counters.policies[0].encrypted, 1);
}

#[test]
fn ipv6_rides_the_ipv4_tunnel_both_ways() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    let frame = from_onprem_host6("fd00:1::10", 100);
    let batch = onprem.one("lan", frame.clone());
    assert!(batch.fates[0].left_encrypted());
    let batch = azure.one("er", batch.frames[0].clone());
    let (inner, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Forwarded(azure.id("vnet")));
    assert_eq!(macs(inner), (AZURE_VM_MAC, AZURE_VNET_MAC));
    assert_eq!(inner[14 + 7], 62, "hop limit");
    assert_eq!(&inner[14 + 8..], &frame[14 + 8..]);

    let back = udp6(
        AZURE_VNET_MAC,
        AZURE_VM_MAC,
        "fd00:1::10",
        "fd00:10::10",
        64,
        100,
    );
    let batch = azure.one("vnet", back);
    let fate = batch.fates[0];
    assert!(fate.left_encrypted());
    assert_eq!(fate.matched_prefix().unwrap().to_string(), "fd00:10::/49");
    let batch = onprem.one("er", batch.frames[0].clone());
    assert_eq!(batch.fates[0].outcome, Outcome::Forwarded(onprem.id("lan")));
    assert_eq!(macs(&batch.frames[0]).0, ONPREM_HOST_MAC);
}

#[test]
fn design1_azure_prefers_the_tunnel_by_longest_prefix_despite_expressroute_first() {
    let mut azure = Harness::sample(AZURE_1);
    let batch = azure.run(
        "vnet",
        &[
            from_azure_vm("10.0.1.10", 50),
            from_azure_vm("10.0.200.10", 50),
        ],
    );
    for (fate, prefix) in batch.fates.iter().zip(["10.0.0.0/17", "10.0.128.0/17"]) {
        assert!(fate.left_encrypted(), "{fate:?}");
        assert_eq!(fate.matched_prefix().unwrap().to_string(), prefix);
        assert_eq!(fate.policy, PolicyVerdict::Encrypted(PolicyId(0)));
    }
    let explanation = azure.node.explain("10.0.1.10".parse().unwrap());
    assert_eq!(explanation.rule(), Some(Rule::LongestPrefix));
    assert!(
        explanation
            .bypassed_sessions()
            .contains(&Session::ExpressRoute)
    );

    let mut onprem = Harness::sample(ONPREM_1);
    let batch = onprem.one("er", batch.frames[0].clone());
    assert_eq!(batch.fates[0].outcome, Outcome::Forwarded(onprem.id("lan")));
    assert_eq!(batch.fates[0].decrypted.unwrap().spi, 0x2001);
}

/// Design 1's Azure config with the more specific halves replaced by the
/// identical /16 over the VPN: the mistake the seed warns about.
fn identical_prefix_mistake(action: &str) -> String {
    let text = sample_text(AZURE_1);
    let start = text.find("[[route]]\nprefix = \"10.0.0.0/17\"").unwrap();
    let end = text.find("[[route]]\nprefix = \"fd00:10::/48\"").unwrap();
    let mistake = "[[route]]\nprefix = \"10.0.0.0/16\"\ninterface = \"vpn\"\nsource = \"bgp\"\nsession = \"vpn\"\nas_path = [65001]\n\n";
    let text = format!("{}{}{}", &text[..start], mistake, &text[end..]);
    text.replace("action = \"report\"", &format!("action = \"{action}\""))
}

#[test]
fn an_identical_prefix_leaks_over_expressroute_and_the_policy_sees_it() {
    let mut azure = Harness::toml(&identical_prefix_mistake("report"));
    let frame = from_azure_vm("10.0.1.10", 50);
    let batch = azure.one("vnet", frame.clone());
    let (wire, fate) = batch.only();
    assert_eq!(
        fate.outcome,
        Outcome::Forwarded(azure.id("er")),
        "reported, still sent"
    );
    assert!(fate.encrypted.is_none());
    assert_eq!(fate.policy, PolicyVerdict::Violation(PolicyId(0)));
    assert_eq!(
        &wire[14 + 20..],
        &frame[14 + 20..],
        "plaintext on the circuit"
    );
    let explanation = azure.node.explain("10.0.1.10".parse().unwrap());
    assert_eq!(
        explanation.rule(),
        Some(Rule::SessionPreference(Session::ExpressRoute))
    );
    let policy = &azure.node.counters().policies[0];
    assert_eq!((policy.violations, policy.dropped), (1, 0));

    let mut closed = Harness::toml(&identical_prefix_mistake("drop"));
    let batch = closed.one("vnet", frame);
    let fate = batch.fates[0];
    assert_eq!(fate.outcome, Outcome::Dropped(DropReason::PolicyViolation));
    assert_eq!(fate.policy, PolicyVerdict::Violation(PolicyId(0)));
    assert_eq!(fate.route.unwrap().next_hop.interface, closed.id("er"));
    let counters = closed.node.counters();
    assert_eq!(
        (
            counters.policies[0].violations,
            counters.policies[0].dropped
        ),
        (1, 1)
    );
    assert_eq!(counters.input.dropped_of(DropReason::PolicyViolation), 1);
    assert_eq!(
        counters.interfaces[closed.id("er").0 as usize].tx.packets,
        0
    );
}

#[test]
fn losing_the_vpn_route_at_the_onprem_edge_is_a_violation() {
    let mut onprem = Harness::sample(ONPREM_1);
    let vpn = onprem.id("vpn");
    let withdrawn = onprem
        .node
        .update_routes(|rib| rib.withdraw_where(|r| r.next_hop.interface == vpn).unwrap());
    assert_eq!(withdrawn, 2);
    let batch = onprem.one("lan", from_onprem_host("10.1.0.10", 50));
    let fate = batch.fates[0];
    assert_eq!(fate.outcome, Outcome::Forwarded(onprem.id("er")));
    assert_eq!(fate.policy, PolicyVerdict::Violation(PolicyId(0)));
    assert_eq!(macs(&batch.frames[0]).0, AZURE_ER_MAC);
    // Back again: encrypted.
    onprem.node.update_routes(|rib| {
        let route = Route::bgp(
            "10.1.0.0/16".parse().unwrap(),
            erdp::fib::NextHop::direct(vpn),
            Session::Vpn,
        )
        .with_local_pref(200);
        rib.add(route).unwrap();
    });
    let batch = onprem.one("lan", from_onprem_host("10.1.0.10", 50));
    assert!(batch.fates[0].left_encrypted());
}

#[test]
fn design2_keeps_separate_prefixes_on_separate_paths() {
    let mut azure = Harness::sample(AZURE_2);
    let batch = azure.run(
        "vnet",
        &[
            from_azure_vm("10.0.1.10", 50),
            from_azure_vm("10.2.0.10", 50),
        ],
    );
    assert!(batch.fates[0].left_encrypted());
    assert_eq!(batch.fates[0].policy, PolicyVerdict::Encrypted(PolicyId(0)));
    assert_eq!(batch.fates[1].outcome, Outcome::Forwarded(azure.id("er")));
    assert!(batch.fates[1].encrypted.is_none());
    assert_eq!(batch.fates[1].policy, PolicyVerdict::NotCovered);

    let mut onprem = Harness::sample(ONPREM_2);
    let batch = onprem.run(
        "lan",
        &[
            from_onprem_host("10.1.0.10", 50),
            udp4(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "10.2.0.10",
                "10.3.0.10",
                64,
                50,
            ),
        ],
    );
    assert!(batch.fates[0].left_encrypted());
    assert_eq!(batch.fates[1].outcome, Outcome::Forwarded(onprem.id("er")));
    assert_eq!(batch.fates[1].policy, PolicyVerdict::NotCovered);
    // The encrypted one reaches the VNet through the design 2 gateway.
    let batch = azure.one("er", batch.frames[0].clone());
    assert_eq!(batch.fates[0].outcome, Outcome::Forwarded(azure.id("vnet")));
}

#[test]
fn esp_that_fails_checks_is_dropped_with_the_esp_reason() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            udp4_ports(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "10.0.1.10",
                "10.1.0.10",
                64,
                5000 + i,
                53,
                80,
            )
        })
        .collect();
    let sealed = onprem.run("lan", &frames).frames;
    let mut tampered = sealed[1].clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 0x01;
    let mut unknown_spi = sealed[2].clone();
    unknown_spi[14 + 20 + 3] ^= 0x40;
    let batch = azure.run(
        "er",
        &[sealed[0].clone(), sealed[0].clone(), tampered, unknown_spi],
    );
    let outcomes: Vec<_> = batch.fates.iter().map(|f| f.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Forwarded(azure.id("vnet")),
            Outcome::Dropped(DropReason::Esp(EspDrop::Replayed)),
            Outcome::Dropped(DropReason::Esp(EspDrop::IcvFailed)),
            Outcome::Dropped(DropReason::Esp(EspDrop::UnknownSpi)),
        ]
    );
    assert_eq!(DropReason::Esp(EspDrop::Replayed).as_str(), "esp_replayed");
    let sa = azure.node.sa_stats();
    assert_eq!(sa[0].2.drops_of(EspDrop::Replayed), 1);
    // ESP to an address that is not a tunnel endpoint is just forwarded.
    let transit = udp4(
        AZURE_ER_MAC,
        ONPREM_ER_MAC,
        "172.16.0.1",
        "10.1.0.10",
        64,
        10,
    );
    assert_eq!(
        azure.one("er", transit).fates[0].outcome,
        Outcome::Forwarded(azure.id("vnet"))
    );
}

#[test]
fn ping_through_the_tunnel_is_answered_through_the_tunnel() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    let ping = echo4(ONPREM_LAN_MAC, ONPREM_HOST_MAC, "10.0.1.10", "10.1.0.1", 32);
    let sealed = onprem.one("lan", ping).frames[0].clone();
    let batch = azure.one("er", sealed);
    let fate = batch.fates[0];
    assert_eq!(fate.outcome, Outcome::Delivered(Delivery::EchoRequest));
    assert_eq!(fate.decrypted.unwrap().spi, 0x1001);
    let (reply, reply_fate) = batch.generated_one();
    assert_eq!(reply_fate.outcome, Outcome::Forwarded(azure.id("er")));
    assert_eq!(reply_fate.encrypted.unwrap().spi, 0x2001);
    assert_eq!(reply_fate.policy, PolicyVerdict::Encrypted(PolicyId(0)));
    let batch = onprem.one("er", reply.to_vec());
    let (opened, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Forwarded(onprem.id("lan")));
    assert!(matches!(
        parse(opened).transport,
        Some(TransportSlice::Icmpv4(ref icmp)) if matches!(icmp.icmp_type(), etherparse::Icmpv4Type::EchoReply(_))
    ));
    let counters = azure.node.counters();
    assert_eq!(counters.generated.forwarded, 1);
    assert_eq!(counters.input.delivered_of(Delivery::EchoRequest), 1);
}

#[test]
fn ttl_expiring_after_the_tunnel_is_reported_back_through_it() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    // TTL 2: azure forwards it with 1 inside ESP; on-prem cannot forward it.
    let frame = udp4(
        AZURE_VNET_MAC,
        AZURE_VM_MAC,
        "10.1.0.10",
        "10.0.1.10",
        2,
        30,
    );
    let sealed = azure.one("vnet", frame).frames[0].clone();
    let batch = onprem.one("er", sealed);
    assert_eq!(
        batch.fates[0].drop_reason(),
        Some(DropReason::Wire(erdp::wire::WireDrop::TtlExpired))
    );
    assert!(batch.fates[0].decrypted.is_some());
    let (error, fate) = batch.generated_one();
    assert!(fate.left_encrypted(), "the error goes back into the tunnel");
    let batch = azure.one("er", error.to_vec());
    let (opened, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Forwarded(azure.id("vnet")));
    assert!(matches!(
        parse(opened).transport,
        Some(TransportSlice::Icmpv4(ref icmp)) if matches!(icmp.icmp_type(), etherparse::Icmpv4Type::TimeExceeded(_))
    ));
}

fn syn_mss(frame: &[u8]) -> u16 {
    let Some(TransportSlice::Tcp(tcp)) = parse(frame).transport else {
        panic!("not TCP")
    };
    tcp.options_iterator()
        .find_map(|o| match o {
            Ok(TcpOptionElement::MaximumSegmentSize(mss)) => Some(mss),
            _ => None,
        })
        .unwrap()
}

#[test]
fn mss_is_clamped_on_syns_entering_and_leaving_the_tunnel() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    let syn = tcp4_syn(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.1.0.10",
        1460,
    );
    let sealed = onprem.one("lan", syn).frames[0].clone();
    let batch = azure.one("er", sealed);
    assert_eq!(syn_mss(&batch.frames[0]), 1350);
    // A peer that does not clamp: on-prem clamps what leaves the tunnel.
    let mut lax = Harness::toml(&sample_text(AZURE_1).replace("mss_clamp = 1350\n", ""));
    let syn = tcp4_syn(AZURE_VNET_MAC, AZURE_VM_MAC, "10.1.0.10", "10.0.1.10", 1460);
    let sealed = lax.one("vnet", syn).frames[0].clone();
    let batch = onprem.one("er", sealed);
    assert_eq!(batch.fates[0].outcome, Outcome::Forwarded(onprem.id("lan")));
    assert_eq!(syn_mss(&batch.frames[0]), 1350);
    // Below the clamp: untouched.
    let syn = tcp4_syn(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.1.0.10",
        1200,
    );
    let sealed = onprem.one("lan", syn).frames[0].clone();
    assert_eq!(syn_mss(&azure.one("er", sealed).frames[0]), 1200);
}

#[test]
fn an_underlay_too_small_for_the_tunnel_is_a_counted_drop() {
    let text = sample_text(ONPREM_1).replace(
        "addresses = [\"172.16.0.1/30\", \"fd00:172:16::1/126\"]",
        "addresses = [\"172.16.0.1/30\", \"fd00:172:16::1/126\"]\nmtu = 1400",
    );
    let mut onprem = Harness::toml(&text);
    let batch = onprem.run(
        "lan",
        &[
            from_onprem_host("10.1.0.10", 1340),
            from_onprem_host("10.1.0.10", 1000),
        ],
    );
    assert_eq!(
        batch.fates[0].drop_reason(),
        Some(DropReason::TunnelOuterTooBig)
    );
    assert!(batch.fates[1].left_encrypted());
}

/// What the reference model expects for a packet from a LAN/VNet host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Local,
    NoRoute,
    NoNeighbor,
    /// Plain out of one of these interfaces (ECMP: any of them).
    Plain(Vec<String>),
    /// Encrypted, the outer packet out of one of these interfaces.
    Encrypted(Vec<String>),
}

/// A straightforward model: linear longest-prefix match over connected and
/// configured routes, the RIB's `select` among equal prefixes, a second
/// match for the tunnel's remote endpoint, and the static neighbours.
struct Reference {
    config: erdp::config::NodeConfig,
    routes: Vec<Route>,
}

impl Reference {
    fn new(name: &str) -> Self {
        let config = sample_config(name);
        let mut routes = config.routes.clone();
        for (i, interface) in config.interfaces.iter().enumerate() {
            if let erdp::config::InterfaceKind::Ethernet(e) = &interface.kind {
                for address in &e.addresses {
                    routes.push(Route::connected(
                        address.trunc(),
                        erdp::fib::InterfaceId(i as u32),
                    ));
                }
            }
        }
        assert!(
            routes
                .iter()
                .all(|r| r.source != RouteSource::Connected || r.next_hop.via.is_none())
        );
        Self { config, routes }
    }

    fn local(&self, address: std::net::IpAddr) -> bool {
        self.config.interfaces.iter().any(|i| match &i.kind {
            erdp::config::InterfaceKind::Ethernet(e) => {
                e.addresses.iter().any(|a| a.addr() == address)
            }
            erdp::config::InterfaceKind::EspTunnel(t) => t.local == address,
        })
    }

    fn best(&self, destination: std::net::IpAddr) -> Vec<Route> {
        let Some(longest) = self
            .routes
            .iter()
            .filter(|r| r.prefix.contains(&destination))
            .map(|r| r.prefix.prefix_len())
            .max()
        else {
            return Vec::new();
        };
        let candidates: Vec<Route> = self
            .routes
            .iter()
            .filter(|r| r.prefix.contains(&destination) && r.prefix.prefix_len() == longest)
            .cloned()
            .collect();
        erdp::rib::select(
            self.config.route_selection,
            &candidates,
            self.config.max_paths,
        )
        .map(|s| s.chosen)
        .unwrap_or_default()
    }

    fn has_neighbor(&self, interface: erdp::fib::InterfaceId, ip: std::net::IpAddr) -> bool {
        self.config
            .neighbors
            .iter()
            .any(|n| n.interface == interface && n.ip == ip)
    }

    fn expect(&self, destination: std::net::IpAddr) -> Expected {
        if self.local(destination) {
            return Expected::Local;
        }
        let chosen = self.best(destination);
        if chosen.is_empty() {
            return Expected::NoRoute;
        }
        let name = |id: erdp::fib::InterfaceId| self.config.interfaces[id.0 as usize].name.clone();
        let mut plain = Vec::new();
        let mut encrypted = Vec::new();
        for route in &chosen {
            match &self.config.interfaces[route.next_hop.interface.0 as usize].kind {
                erdp::config::InterfaceKind::Ethernet(_) => {
                    let next = route.next_hop.via.unwrap_or(destination);
                    if self.has_neighbor(route.next_hop.interface, next) {
                        plain.push(name(route.next_hop.interface));
                    }
                }
                erdp::config::InterfaceKind::EspTunnel(t) => {
                    for outer in self.best(t.remote) {
                        let next = outer.next_hop.via.unwrap_or(t.remote);
                        if self.has_neighbor(outer.next_hop.interface, next) {
                            encrypted.push(name(outer.next_hop.interface));
                        }
                    }
                }
            }
        }
        match (plain.is_empty(), encrypted.is_empty()) {
            (true, true) => Expected::NoNeighbor,
            (false, _) => Expected::Plain(plain),
            (true, false) => Expected::Encrypted(encrypted),
        }
    }
}

fn observed(h: &Harness, fate: &erdp::dataplane::Fate) -> Expected {
    match fate.outcome {
        Outcome::Delivered(_) => Expected::Local,
        Outcome::Dropped(DropReason::NoRoute) => Expected::NoRoute,
        Outcome::Dropped(DropReason::NoNeighbor) => Expected::NoNeighbor,
        Outcome::Forwarded(_) => {
            let name = egress_name(&h.node, fate).unwrap();
            if fate.encrypted.is_some() {
                Expected::Encrypted(vec![name])
            } else {
                Expected::Plain(vec![name])
            }
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Destinations: hosts inside every configured prefix and address, plus
/// seeded random addresses.
fn destinations(config: &erdp::config::NodeConfig, v6: bool, seed: u64) -> Vec<std::net::IpAddr> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let prefixes = config
        .routes
        .iter()
        .map(|r| r.prefix)
        .chain(config.interfaces.iter().flat_map(|i| match &i.kind {
            erdp::config::InterfaceKind::Ethernet(e) => e.addresses.clone(),
            erdp::config::InterfaceKind::EspTunnel(_) => Vec::new(),
        }));
    for prefix in prefixes.filter(|p| p.addr().is_ipv6() == v6) {
        for _ in 0..8 {
            let host: u128 = rng.random();
            out.push(match prefix.trunc() {
                ipnet::IpNet::V4(n) => {
                    let mask = u32::from(n.hostmask());
                    std::net::IpAddr::V4((u32::from(n.network()) | (host as u32 & mask)).into())
                }
                ipnet::IpNet::V6(n) => {
                    let mask = u128::from(n.hostmask());
                    std::net::IpAddr::V6((u128::from(n.network()) | (host & mask)).into())
                }
            });
        }
        out.push(prefix.addr());
    }
    for _ in 0..64 {
        out.push(if v6 {
            std::net::IpAddr::V6((0xfd00u128 << 112 | rng.random::<u128>() >> 16).into())
        } else {
            std::net::IpAddr::V4((0x0a00_0000 | (rng.random::<u32>() >> 8)).into())
        });
    }
    out
}

#[test]
fn every_forwarding_decision_matches_the_reference_model() {
    let cases = [
        (ONPREM_1, "lan", ONPREM_LAN_MAC, "10.0.1.10", "fd00:10::10"),
        (AZURE_1, "vnet", AZURE_VNET_MAC, "10.1.0.10", "fd00:1::10"),
        (ONPREM_2, "lan", ONPREM_LAN_MAC, "10.0.1.10", "fd00:10::10"),
        (AZURE_2, "vnet", AZURE_VNET_MAC, "10.1.0.10", "fd00:1::10"),
    ];
    for (config, ingress, mac, source4, source6) in cases {
        let reference = Reference::new(config);
        let mut h = Harness::sample(config);
        let mut checked = 0;
        for v6 in [false, true] {
            for (i, destination) in destinations(&reference.config, v6, 7)
                .into_iter()
                .enumerate()
            {
                let text = destination.to_string();
                let frame = if v6 {
                    udp6(mac, STRANGER_MAC, source6, &text, 64, 20)
                } else {
                    udp4_ports(
                        mac,
                        STRANGER_MAC,
                        source4,
                        &text,
                        64,
                        1000 + i as u16,
                        53,
                        20,
                    )
                };
                let batch = h.one(ingress, frame);
                let fate = batch.fates[0];
                let expected = reference.expect(destination);
                let got = observed(&h, &fate);
                match (&expected, &got) {
                    (Expected::Plain(any), Expected::Plain(one))
                    | (Expected::Encrypted(any), Expected::Encrypted(one)) => {
                        assert!(
                            any.contains(&one[0]),
                            "{config} {destination}: {expected:?} vs {got:?}"
                        );
                    }
                    _ => assert_eq!(expected, got, "{config} {destination}"),
                }
                checked += 1;
            }
        }
        assert!(checked > 100, "{config}: {checked}");
    }
}

#[test]
fn the_outer_packet_leaves_on_the_underlay_route_to_the_remote() {
    // The outer destination's route is what decides the L2 next hop.
    let mut onprem = Harness::sample(ONPREM_1);
    let batch = onprem.one("lan", from_onprem_host("10.1.0.10", 10));
    let Some(InternetSlice::Ipv4(outer)) = parse(&batch.frames[0]).net else {
        panic!("outer IPv4")
    };
    assert_eq!(outer.header().destination(), ip4("10.100.255.4"));
    assert_eq!(outer.header().ttl(), 64, "the tunnel's own TTL");
    let explained = onprem.node.explain("10.100.255.4".parse().unwrap());
    assert_eq!(
        explained.chosen().unwrap().prefix.to_string(),
        "10.100.255.0/27"
    );
}
