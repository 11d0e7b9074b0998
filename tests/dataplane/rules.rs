//! Every per-packet rule of the node on plain (unencrypted) paths: L2
//! destination, ARP and ND responders, IP validation, TTL / hop limit
//! expiry, no route, MTU with DF and IPv6, ECMP, L2 rewrite, echo, and
//! conservation after every batch (checked by the harness).

use crate::support;

use std::collections::{HashMap, HashSet};

use erdp::dataplane::{Delivery, DropReason, Outcome, PolicyVerdict};
use erdp::wire::WireDrop;
use etherparse::{Icmpv4Type, Icmpv6Type, InternetSlice, TransportSlice};
use support::dataplane::*;

const ONPREM: &str = "design1-onprem-edge.toml";

fn dropped(reason: DropReason) -> Outcome {
    Outcome::Dropped(reason)
}

/// ICMPv4 type and code of a generated frame.
fn icmp4(frame: &[u8]) -> Icmpv4Type {
    match parse(frame).transport {
        Some(TransportSlice::Icmpv4(icmp)) => icmp.icmp_type(),
        other => panic!("not ICMPv4: {other:?}"),
    }
}

fn icmp6(frame: &[u8]) -> Icmpv6Type {
    match parse(frame).transport {
        Some(TransportSlice::Icmpv6(icmp)) => icmp.icmp_type(),
        other => panic!("not ICMPv6: {other:?}"),
    }
}

#[test]
fn plain_forwarding_rewrites_l2_and_decrements_ttl() {
    let mut h = Harness::sample(ONPREM);
    let frame = from_onprem_host("10.100.255.9", 100);
    let batch = h.one("lan", frame.clone());
    let (out, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Forwarded(h.id("er")));
    assert_eq!(macs(out), (AZURE_ER_MAC, ONPREM_ER_MAC));
    assert_eq!(ttl4(out), 63);
    assert_eq!(out.len(), frame.len());
    assert_eq!(&out[14 + 20..], &frame[14 + 20..], "transport untouched");
    let route = fate.route.unwrap();
    assert_eq!(
        fate.matched_prefix().unwrap().to_string(),
        "10.100.255.0/27"
    );
    assert_eq!(route.next_hop.via, Some("172.16.0.2".parse().unwrap()));
    assert_eq!(fate.policy, PolicyVerdict::NotCovered);
    assert!(fate.encrypted.is_none() && fate.decrypted.is_none());
    let flow = fate.flow.unwrap();
    assert_eq!(flow.to_string(), "UDP 10.0.1.10:40000 -> 10.100.255.9:53");
    let counters = h.node.counters();
    assert_eq!(counters.interfaces[h.id("er").0 as usize].tx.packets, 1);
    assert_eq!(
        counters.interfaces[h.id("lan").0 as usize].rx.bytes,
        frame.len() as u64
    );
}

#[test]
fn link_padding_is_stripped_on_egress() {
    let mut h = Harness::sample(ONPREM);
    let mut frame = from_onprem_host("10.100.255.9", 2);
    let ip_len = frame.len() - 14;
    frame.resize(60, 0xee);
    let batch = h.one("lan", frame);
    let (out, fate) = batch.only();
    assert!(fate.egress().is_some());
    assert_eq!(out.len(), 14 + ip_len);
}

#[test]
fn l2_destination_is_checked() {
    let mut h = Harness::sample(ONPREM);
    let to_other = udp4(
        STRANGER_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.100.255.9",
        64,
        10,
    );
    assert_eq!(
        h.one("lan", to_other).fates[0].outcome,
        dropped(DropReason::NotOurMac)
    );
    let broadcast = udp4(
        [0xff; 6],
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.100.255.9",
        64,
        10,
    );
    assert_eq!(
        h.one("lan", broadcast).fates[0].outcome,
        dropped(DropReason::LinkBroadcast)
    );
    let mut tagged = from_onprem_host("10.100.255.9", 10);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x64]);
    assert_eq!(
        h.one("lan", tagged).fates[0].outcome,
        dropped(DropReason::Wire(WireDrop::VlanTagged))
    );
    let short = vec![0u8; 10];
    assert_eq!(
        h.one("lan", short).fates[0].outcome,
        dropped(DropReason::Wire(WireDrop::Truncated))
    );
    let mut other_type = from_onprem_host("10.100.255.9", 10);
    other_type[12..14].copy_from_slice(&0x88ccu16.to_be_bytes());
    assert_eq!(
        h.one("lan", other_type).fates[0].outcome,
        dropped(DropReason::Wire(WireDrop::UnsupportedEtherType))
    );
    assert_eq!(h.node.counters().input.dropped, 5);
}

#[test]
fn arp_requests_for_our_addresses_are_answered() {
    let mut h = Harness::sample(ONPREM);
    let batch = h.run(
        "lan",
        &[
            arp_request(ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1"),
            arp_request(ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.99"),
            arp_request(ONPREM_HOST_MAC, "10.0.1.10", "172.16.0.1"),
        ],
    );
    assert_eq!(
        batch.fates[0].outcome,
        Outcome::Delivered(Delivery::ArpRequest)
    );
    assert_eq!(batch.fates[1].outcome, dropped(DropReason::ArpNotForUs));
    // 172.16.0.1 is ours, but on another port: no proxy ARP.
    assert_eq!(batch.fates[2].outcome, dropped(DropReason::ArpNotForUs));
    let (reply, fate) = batch.generated_one();
    assert_eq!(batch.generated[0].2, 0, "caused by frame 0");
    assert_eq!(fate.outcome, Outcome::Forwarded(h.id("lan")));
    assert_eq!(macs(reply), (ONPREM_HOST_MAC, ONPREM_LAN_MAC));
    let arp = etherparse::ArpPacketSlice::from_slice(&reply[14..]).unwrap();
    assert_eq!(arp.operation(), etherparse::ArpOperation::REPLY);
    assert_eq!(arp.sender_hw_addr(), ONPREM_LAN_MAC);
    assert_eq!(arp.sender_protocol_addr(), ip4("10.0.0.1"));
    assert_eq!(arp.target_protocol_addr(), ip4("10.0.1.10"));
    let counters = h.node.counters();
    assert_eq!(counters.generated.forwarded, 1);
    assert_eq!(counters.input.delivered_of(Delivery::ArpRequest), 1);

    let mut reply_to_us = arp_request(ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1");
    reply_to_us[0..6].copy_from_slice(&ONPREM_LAN_MAC);
    reply_to_us[14 + 7] = 2; // operation: reply
    assert_eq!(
        h.one("lan", reply_to_us).fates[0].outcome,
        Outcome::Delivered(Delivery::ArpOther)
    );
}

#[test]
fn neighbor_solicitations_for_our_addresses_are_answered() {
    let mut h = Harness::sample(ONPREM);
    let batch = h.run(
        "lan",
        &[
            neighbor_solicitation(ONPREM_HOST_MAC, "fd00:10::10", "fd00:10::1"),
            neighbor_solicitation(ONPREM_HOST_MAC, "fd00:10::10", "fd00:10::77"),
        ],
    );
    assert_eq!(
        batch.fates[0].outcome,
        Outcome::Delivered(Delivery::NeighborSolicitation)
    );
    assert_eq!(batch.fates[1].outcome, dropped(DropReason::NdNotForUs));
    let (advertisement, fate) = batch.generated_one();
    assert_eq!(fate.outcome, Outcome::Forwarded(h.id("lan")));
    assert_eq!(macs(advertisement), (ONPREM_HOST_MAC, ONPREM_LAN_MAC));
    match icmp6(advertisement) {
        Icmpv6Type::NeighborAdvertisement(header) => {
            assert!(header.router && header.solicited && header.r#override);
        }
        other => panic!("not an advertisement: {other:?}"),
    }
    let ip = parse(advertisement);
    let Some(InternetSlice::Ipv6(v6)) = ip.net else {
        panic!()
    };
    assert_eq!(v6.header().hop_limit(), 255);
    assert_eq!(v6.header().source(), ip6("fd00:10::1"));
    assert_eq!(v6.header().destination(), ip6("fd00:10::10"));
}

/// An advertisement is sent without a route lookup, so a solicitation from
/// a must-encrypt source (spoofed, or a misplaced host) would send plaintext
/// toward that prefix: a counted violation, dropped when the policy fails
/// closed (found by the `forward` fuzz target).
#[test]
fn advertisements_toward_must_encrypt_sources_obey_the_policy() {
    let spoofed = || neighbor_solicitation(ONPREM_HOST_MAC, "fd00:1::20", "fd00:10::1");
    for (action, sent) in [("report", true), ("drop", false)] {
        let text =
            sample_text(ONPREM).replace("action = \"report\"", &format!("action = \"{action}\""));
        let mut h = Harness::toml(&text);
        let batch = h.one("lan", spoofed());
        assert_eq!(
            batch.fates[0].outcome,
            Outcome::Delivered(Delivery::NeighborSolicitation)
        );
        let (_, fate) = batch.generated_one();
        assert!(
            matches!(fate.policy, PolicyVerdict::Violation(_)),
            "{action}"
        );
        let expected = if sent {
            Outcome::Forwarded(h.id("lan"))
        } else {
            dropped(DropReason::PolicyViolation)
        };
        assert_eq!(fate.outcome, expected, "{action}");
        let counters = h.node.counters();
        assert_eq!(counters.policies[0].violations, 1, "{action}");
        assert_eq!(counters.policies[0].dropped, u64::from(!sent), "{action}");
    }
}

#[test]
fn invalid_ip_packets_are_dropped_with_their_reason() {
    let mut h = Harness::sample(ONPREM);
    let good = from_onprem_host("10.100.255.9", 40);
    let mut bad_checksum = good.clone();
    bad_checksum[14 + 10] ^= 0xff;
    let mut too_long = good.clone();
    too_long[14 + 2..14 + 4].copy_from_slice(&2000u16.to_be_bytes());
    refresh_checksum(&mut too_long);
    let mut short_ihl = good.clone();
    short_ihl[14] = 0x44;
    let v6 = from_onprem_host6("fd00:1::10", 40);
    let mut v6_in_v4 = v6.clone();
    v6_in_v4[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut v6_long = v6.clone();
    v6_long[14 + 4..14 + 6].copy_from_slice(&1000u16.to_be_bytes());
    let truncated = good[..14 + 12].to_vec();
    let batch = h.run(
        "lan",
        &[
            bad_checksum,
            too_long,
            short_ihl,
            v6_in_v4,
            v6_long,
            truncated,
        ],
    );
    let reasons: Vec<_> = batch.fates.iter().map(|f| f.drop_reason()).collect();
    let wire = |r| Some(DropReason::Wire(r));
    assert_eq!(
        reasons,
        [
            wire(WireDrop::Ipv4Checksum),
            wire(WireDrop::Ipv4TotalLength),
            wire(WireDrop::Ipv4HeaderLength),
            wire(WireDrop::IpVersion),
            wire(WireDrop::Ipv6PayloadLength),
            wire(WireDrop::Truncated),
        ]
    );
    assert!(batch.generated.is_empty(), "no ICMP about invalid packets");
}

fn refresh_checksum(frame: &mut [u8]) {
    frame[14 + 10..14 + 12].fill(0);
    let sum = erdp::wire::checksum::internet_checksum(&frame[14..14 + 20]);
    frame[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn ttl_expiry_sends_time_exceeded() {
    let mut h = Harness::sample(ONPREM);
    let frame = udp4(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.100.255.9",
        1,
        30,
    );
    let batch = h.one("lan", frame.clone());
    assert_eq!(
        batch.fates[0].outcome,
        dropped(DropReason::Wire(WireDrop::TtlExpired))
    );
    let (error, fate) = batch.generated_one();
    assert_eq!(fate.outcome, Outcome::Forwarded(h.id("lan")));
    assert!(matches!(icmp4(error), Icmpv4Type::TimeExceeded(_)));
    assert_eq!(macs(error), (ONPREM_HOST_MAC, ONPREM_LAN_MAC));
    let Some(InternetSlice::Ipv4(ip)) = parse(error).net else {
        panic!()
    };
    assert_eq!(ip.header().source(), ip4("10.0.0.1"));
    assert_eq!(ip.header().destination(), ip4("10.0.1.10"));
    // The quote is the packet as it arrived (TTL 1).
    assert_eq!(&error[14 + 28..14 + 28 + frame.len() - 14], &frame[14..]);

    let frame6 = udp6(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "fd00:10::10",
        "fd00:1::10",
        1,
        30,
    );
    let batch = h.one("lan", frame6);
    assert_eq!(
        batch.fates[0].outcome,
        dropped(DropReason::Wire(WireDrop::TtlExpired))
    );
    let (error, _) = batch.generated_one();
    assert!(matches!(icmp6(error), Icmpv6Type::TimeExceeded(_)));
}

#[test]
fn no_route_sends_destination_unreachable() {
    let mut h = Harness::sample(ONPREM);
    let batch = h.run(
        "lan",
        &[
            from_onprem_host("192.0.2.1", 30),
            from_onprem_host6("2001:db8::1", 30),
        ],
    );
    assert_eq!(batch.fates[0].outcome, dropped(DropReason::NoRoute));
    assert_eq!(batch.fates[1].outcome, dropped(DropReason::NoRoute));
    assert_eq!(batch.generated.len(), 2);
    assert!(matches!(
        icmp4(&batch.generated[0].0),
        Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Network)
    ));
    assert!(matches!(
        icmp6(&batch.generated[1].0),
        Icmpv6Type::DestinationUnreachable(etherparse::icmpv6::DestUnreachableCode::NoRoute)
    ));
}

#[test]
fn a_missing_neighbour_sends_host_unreachable() {
    let mut h = Harness::sample(ONPREM);
    let batch = h.one("lan", from_onprem_host("10.0.9.9", 30));
    assert_eq!(batch.fates[0].outcome, dropped(DropReason::NoNeighbor));
    assert_eq!(
        batch.fates[0].matched_prefix().unwrap().to_string(),
        "10.0.0.0/16"
    );
    assert!(matches!(
        icmp4(batch.generated_one().0),
        Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Host)
    ));
}

#[test]
fn oversized_packets_get_fragmentation_needed_or_packet_too_big() {
    let mut h = Harness::sample(ONPREM);
    // 1600-byte IP packets toward ExpressRoute (MTU 1500).
    let df = from_onprem_host("10.100.255.9", 1572);
    let mut no_df = df.clone();
    clear_df(&mut no_df);
    let exact = from_onprem_host("10.100.255.9", 1472);
    let batch = h.run("lan", &[df, no_df, exact]);
    assert_eq!(batch.fates[0].outcome, dropped(DropReason::PacketTooBig));
    // Without DF it leaves in two fragments (tests/dataplane/fragmentation.rs has
    // the fragments' fields).
    assert_eq!(batch.fates[1].outcome, Outcome::Forwarded(h.id("er")));
    assert_eq!(
        batch.fates[2].outcome,
        Outcome::Forwarded(h.id("er")),
        "1500 fits"
    );
    let errors: Vec<_> = batch.generated.iter().filter(|g| g.2 == 0).collect();
    assert_eq!(errors.len(), 1, "one ICMP error, about the DF packet");
    assert_eq!(batch.generated.iter().filter(|g| g.2 == 1).count(), 1);
    match icmp4(&errors[0].0) {
        Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
        ) => assert_eq!(next_hop_mtu, 1500),
        other => panic!("{other:?}"),
    }
    // Into the tunnel (MTU 1400): DF IPv4 and IPv6 get the tunnel MTU.
    let batch = h.run(
        "lan",
        &[
            from_onprem_host("10.1.0.10", 1401 - 28),
            from_onprem_host6("fd00:1::10", 1401 - 48),
            from_onprem_host("10.1.0.10", 1400 - 28),
        ],
    );
    assert_eq!(batch.fates[0].outcome, dropped(DropReason::PacketTooBig));
    assert_eq!(batch.fates[1].outcome, dropped(DropReason::PacketTooBig));
    assert!(batch.fates[2].left_encrypted(), "{:?}", batch.fates[2]);
    assert_eq!(batch.generated.len(), 2);
    match icmp4(&batch.generated[0].0) {
        Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
        ) => assert_eq!(next_hop_mtu, 1400),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        icmp6(&batch.generated[1].0),
        Icmpv6Type::PacketTooBig { mtu: 1400 }
    );
}

#[test]
fn echo_requests_to_our_addresses_are_answered() {
    let mut h = Harness::sample(ONPREM);
    let batch = h.run(
        "lan",
        &[
            echo4(ONPREM_LAN_MAC, ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1", 56),
            echo6(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "fd00:10::10",
                "fd00:10::1",
                56,
            ),
            // Our ER address, reached through the LAN port: still ours.
            echo4(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "10.0.1.10",
                "172.16.0.1",
                8,
            ),
        ],
    );
    for fate in &batch.fates {
        assert_eq!(fate.outcome, Outcome::Delivered(Delivery::EchoRequest));
    }
    assert_eq!(batch.generated.len(), 3);
    for (reply, fate, _) in &batch.generated {
        assert_eq!(fate.outcome, Outcome::Forwarded(h.id("lan")));
        assert_eq!(macs(reply), (ONPREM_HOST_MAC, ONPREM_LAN_MAC));
    }
    assert!(matches!(
        icmp4(&batch.generated[0].0),
        Icmpv4Type::EchoReply(_)
    ));
    assert!(matches!(
        icmp6(&batch.generated[1].0),
        Icmpv6Type::EchoReply(_)
    ));
    let Some(InternetSlice::Ipv4(ip)) = parse(&batch.generated[2].0).net else {
        panic!()
    };
    assert_eq!(ip.header().source(), ip4("172.16.0.1"));
    // Anything else for us is delivered, not forwarded.
    let batch = h.one("lan", from_onprem_host("10.0.0.1", 10));
    assert_eq!(batch.fates[0].outcome, Outcome::Delivered(Delivery::Other));
    let mut bad = echo4(ONPREM_LAN_MAC, ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1", 8);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        h.one("lan", bad).fates[0].outcome,
        dropped(DropReason::Wire(WireDrop::IcmpChecksum))
    );
}

#[test]
fn multicast_and_bad_sources_are_not_forwarded() {
    let mut h = Harness::sample(ONPREM);
    let batch = h.run(
        "lan",
        &[
            udp4(
                [1, 0, 0x5e, 0, 0, 9],
                ONPREM_HOST_MAC,
                "10.0.1.10",
                "224.0.0.9",
                1,
                10,
            ),
            udp6(
                [0x33, 0x33, 0, 0, 0, 1],
                ONPREM_HOST_MAC,
                "fd00:10::10",
                "ff02::1",
                255,
                10,
            ),
            udp4(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "127.0.0.1",
                "10.100.255.9",
                64,
                10,
            ),
            udp4(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "0.0.0.0",
                "10.100.255.9",
                64,
                10,
            ),
            udp6(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "fe80::1",
                "fd00:1::10",
                64,
                10,
            ),
        ],
    );
    let reasons: Vec<_> = batch
        .fates
        .iter()
        .map(|f| f.drop_reason().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            DropReason::MulticastNotForwarded,
            DropReason::MulticastNotForwarded,
            DropReason::InvalidSource,
            DropReason::InvalidSource,
            DropReason::InvalidSource,
        ]
    );
    assert!(batch.generated.is_empty());
}

#[test]
fn frames_on_a_tunnel_or_unknown_interface_are_refused() {
    let mut h = Harness::sample(ONPREM);
    let frame = from_onprem_host("10.100.255.9", 10);
    assert_eq!(
        h.one("vpn", frame.clone()).fates[0].outcome,
        dropped(DropReason::IngressNotEthernet)
    );
    let mut bufs = vec![erdp::packet::PacketBuf::new()];
    bufs[0].load(&frame, 128).unwrap();
    h.worker
        .process(erdp::fib::InterfaceId(99), &mut bufs, &mut h.out);
    h.inputs += 1;
    assert_eq!(
        h.out.fates()[0].outcome,
        dropped(DropReason::UnknownInterface)
    );
    h.assert_conserved();
}

const ECMP: &str = r#"
name = "ecmp"
[[interface]]
name = "lan"
kind = "ethernet"
mac = "02:00:00:00:01:01"
addresses = ["10.0.0.1/16"]
[[interface]]
name = "er1"
kind = "ethernet"
mac = "02:00:00:00:01:02"
addresses = ["172.16.0.1/30"]
[[interface]]
name = "er2"
kind = "ethernet"
mac = "02:00:00:00:01:03"
addresses = ["172.16.0.5/30"]
[[neighbor]]
interface = "er1"
ip = "172.16.0.2"
mac = "02:00:00:00:02:01"
[[neighbor]]
interface = "er2"
ip = "172.16.0.6"
mac = "02:00:00:00:02:02"
[[route]]
prefix = "10.1.0.0/16"
interface = "er1"
next_hop = "172.16.0.2"
source = "bgp"
session = "expressroute"
as_path = [12076]
[[route]]
prefix = "10.1.0.0/16"
interface = "er2"
next_hop = "172.16.0.6"
source = "bgp"
session = "expressroute"
as_path = [12076]
"#;

#[test]
fn ecmp_spreads_flows_and_keeps_each_flow_on_one_link() {
    let mut h = Harness::toml(ECMP);
    let mut per_link: HashMap<String, usize> = HashMap::new();
    let mut per_flow: HashMap<u16, String> = HashMap::new();
    for round in 0..3 {
        let frames: Vec<Vec<u8>> = (0..200u16)
            .map(|port| {
                udp4_ports(
                    ONPREM_LAN_MAC,
                    ONPREM_HOST_MAC,
                    "10.0.1.10",
                    "10.1.0.10",
                    64,
                    10000 + port,
                    443,
                    20,
                )
            })
            .collect();
        let batch = h.run("lan", &frames);
        for (port, (frame, fate)) in batch.frames.iter().zip(&batch.fates).enumerate() {
            let link = egress_name(&h.node, fate).unwrap();
            let expected_mac = if link == "er1" {
                [2, 0, 0, 0, 2, 1]
            } else {
                [2, 0, 0, 0, 2, 2]
            };
            assert_eq!(macs(frame).0, expected_mac);
            if round == 0 {
                *per_link.entry(link.clone()).or_default() += 1;
                per_flow.insert(port as u16, link);
            } else {
                assert_eq!(per_flow[&(port as u16)], link, "flow {port} moved");
            }
        }
    }
    let links: HashSet<_> = per_link.keys().collect();
    assert_eq!(links.len(), 2, "{per_link:?}");
    for (link, count) in &per_link {
        assert!((60..=140).contains(count), "{link}: {count} of 200");
    }
}
