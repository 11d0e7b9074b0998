//! Flow keys (5-tuple, echo identifier, fragments) and the flow hash's
//! determinism and spread.

use crate::support;

use std::collections::HashSet;
use std::net::IpAddr;

use erdp::wire::{FlowHasher, FlowKey, IpNumber};
use proptest::prelude::*;
use support::wire::*;

#[test]
fn keys_for_tcp_udp_and_echo() {
    let tcp = FlowKey::parse(&ipv4_tcp(true, &[], b"")).unwrap();
    assert_eq!(
        tcp,
        FlowKey {
            source: "10.0.0.1".parse().unwrap(),
            destination: "10.1.2.3".parse().unwrap(),
            protocol: IpNumber::TCP,
            source_port: 40000,
            destination_port: 443,
        }
    );
    assert_eq!(tcp.to_string(), "TCP 10.0.0.1:40000 -> 10.1.2.3:443");

    let udp6 = FlowKey::parse(&ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, b"x")).unwrap();
    assert_eq!(
        (udp6.protocol, udp6.source_port, udp6.destination_port),
        (IpNumber::UDP, 40000, 4789)
    );

    let echo = FlowKey::parse(&ipv4_echo_request([10, 0, 0, 1], [10, 0, 0, 2], b"")).unwrap();
    assert_eq!(
        (echo.protocol, echo.source_port, echo.destination_port),
        (IpNumber::ICMP, 0x1234, 0)
    );
    let echo6 = FlowKey::parse(&ipv6_echo_request(ipv6_addr(1), ipv6_addr(2), b"")).unwrap();
    assert_eq!(
        (echo6.protocol, echo6.source_port),
        (IpNumber::IPV6_ICMP, 0x1234)
    );
}

#[test]
fn all_fragments_of_a_datagram_share_a_key() {
    let packet = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 64, &[0; 64]);
    let mut first = packet.clone();
    set_ipv4_fragment(&mut first, 0, true);
    let mut last = packet.clone();
    set_ipv4_fragment(&mut last, 9, false);
    let (a, b) = (
        FlowKey::parse(&first).unwrap(),
        FlowKey::parse(&last).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(
        (a.source_port, a.destination_port, a.protocol),
        (0, 0, IpNumber::UDP)
    );

    let udp6 = ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, &[0; 64]);
    let first6 = FlowKey::parse(&insert_ipv6_fragment_header(&udp6, 0, true)).unwrap();
    let later6 = FlowKey::parse(&insert_ipv6_fragment_header(&udp6, 5, false)).unwrap();
    assert_eq!(first6, later6);
    assert_eq!(first6.protocol, IpNumber::UDP);
}

#[test]
fn extension_headers_are_walked_to_the_ports() {
    let udp6 = ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, b"x");
    let key = FlowKey::parse(&insert_ipv6_hop_by_hop(&udp6)).unwrap();
    assert_eq!(
        (key.protocol, key.source_port, key.destination_port),
        (IpNumber::UDP, 40000, 4789)
    );
}

#[test]
fn hash_spreads_flows_evenly_over_ecmp_buckets() {
    let hasher = FlowHasher::default();
    let mut buckets = [0u32; 4];
    let mut hashes = HashSet::new();
    for i in 0..20_000u32 {
        let key = FlowKey {
            source: IpAddr::from([10, 0, (i >> 8) as u8, i as u8]),
            destination: "10.1.0.1".parse().unwrap(),
            protocol: IpNumber::TCP,
            source_port: 30000 + (i % 1000) as u16,
            destination_port: 443,
        };
        let hash = hasher.hash(&key);
        hashes.insert(hash);
        buckets[FlowHasher::bucket(hash, 4) as usize] += 1;
    }
    assert_eq!(hashes.len(), 20_000, "no collisions among 20k flows");
    for count in buckets {
        assert!((4500..=5500).contains(&count), "uneven: {buckets:?}");
    }
}

proptest! {
    #![proptest_config(seeded(500))]

    #[test]
    fn hash_is_a_pure_function_of_key_and_seed(
        a in any::<[u8; 4]>(), b in any::<[u8; 16]>(), sp in any::<u16>(), dp in any::<u16>(), seed in any::<u64>(),
    ) {
        let key = FlowKey {
            source: IpAddr::from(a),
            destination: IpAddr::from(b),
            protocol: IpNumber::UDP,
            source_port: sp,
            destination_port: dp,
        };
        prop_assert_eq!(FlowHasher::with_seed(seed).hash(&key), FlowHasher::with_seed(seed).hash(&key));
        prop_assert!(FlowHasher::bucket(FlowHasher::with_seed(seed).hash(&key), 3) < 3);
    }
}
