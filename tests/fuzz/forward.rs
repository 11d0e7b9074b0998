//! The `forward` fuzz target's oracles as proptest properties (issue 7), so
//! they hold in `cargo test` without cargo-fuzz: arbitrary cases built from
//! proptest's bytes through `arbitrary` (the same decoding the fuzzer uses),
//! hand-made cases that must reach each oracle (encryption, decryption,
//! fail-closed drops, ECMP over both links, generated ICMP), and every
//! kept input.

use crate::harness;

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use harness::forward::{BatchSpec, ForwardCase, check, run};
use harness::forward_frames::{Addr4, Addr6, FrameSpec, IpSpec, L2Destination, Transport, Tweaks};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x00f0_3a3d),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Indexes of [`harness::forward_frames::V4_ADDRESSES`] used below.
const LAN_HOST: u8 = 1;
const SECURE_LAN_HOST: u8 = 2;
const VNET_HOST: u8 = 8;
const PLAIN_HOST: u8 = 9;
const CLOSED_HOST: u8 = 10;
const OUR_LAN_ADDRESS: u8 = 0;
/// IPv6 index of a VNet host.
const VNET_HOST6: u8 = 6;
const LAN_HOST6: u8 = 1;

/// Interface ids of the fixed config.
const LAN: u8 = 0;
const ER1: u8 = 1;

fn v4(pick: u8) -> Addr4 {
    Addr4 { pick, raw: 0 }
}

fn v6(pick: u8) -> Addr6 {
    Addr6 { pick, raw: 0 }
}

fn udp(source: u8, destination: u8, port: u16) -> IpSpec {
    IpSpec {
        v6: false,
        source4: v4(source),
        destination4: v4(destination),
        source6: v6(LAN_HOST6),
        destination6: v6(VNET_HOST6),
        ttl: 64,
        tos: 0,
        fragment: 0x4000,
        transport: Transport::Udp {
            source: port,
            destination: 443,
        },
        payload: vec![0x5a; 40],
    }
}

fn on_lan(ip: IpSpec) -> FrameSpec {
    FrameSpec::Ip {
        l2: L2Destination::Ingress,
        source_mac: [2, 0, 0, 0, 0x0a, 1],
        ip,
        tweaks: Tweaks::default(),
    }
}

fn case(ingress: u8, frames: Vec<FrameSpec>) -> ForwardCase {
    ForwardCase {
        batches: vec![BatchSpec { ingress, frames }],
    }
}

#[test]
fn vnet_traffic_leaves_encrypted_and_the_peer_decrypts_it() {
    let mut v6 = udp(LAN_HOST, VNET_HOST, 1000);
    v6.v6 = true;
    let seen = check(&case(
        LAN,
        vec![on_lan(udp(LAN_HOST, VNET_HOST, 1000)), on_lan(v6)],
    ));
    assert_eq!((seen.forwarded, seen.encrypted), (2, 2), "{seen:?}");
}

#[test]
fn a_must_encrypt_prefix_without_a_tunnel_route_fails_closed() {
    let frames = vec![
        on_lan(udp(LAN_HOST, CLOSED_HOST, 1000)),
        on_lan(udp(SECURE_LAN_HOST, PLAIN_HOST, 1000)),
    ];
    let seen = check(&case(LAN, frames));
    assert_eq!((seen.dropped, seen.policy_drops), (2, 2), "{seen:?}");
}

#[test]
fn plain_traffic_spreads_over_both_expressroute_links() {
    let frames = (0..32)
        .map(|port| on_lan(udp(LAN_HOST, PLAIN_HOST, 1000 + port)))
        .collect();
    let seen = check(&case(LAN, frames));
    assert_eq!(seen.forwarded, 32, "{seen:?}");
    assert!(
        seen.per_egress[1] > 0 && seen.per_egress[2] > 0,
        "ECMP used one link only: {seen:?}"
    );
}

#[test]
fn esp_from_the_peer_is_decrypted_and_forwarded_to_the_lan() {
    let esp = |skip, replay| FrameSpec::Esp {
        to_second_link: false,
        inner: udp(VNET_HOST, LAN_HOST, 2000),
        skip,
        replay,
        tweaks: Tweaks::default(),
    };
    let frames = vec![esp(0, false), esp(3, false), esp(0, true)];
    let seen = check(&case(ER1, frames));
    assert_eq!((seen.decrypted, seen.forwarded), (2, 2), "{seen:?}");
    assert_eq!(seen.dropped, 1, "the replayed copy is dropped: {seen:?}");
}

#[test]
fn echo_to_the_node_is_answered_with_a_valid_checksum() {
    let mut echo = udp(LAN_HOST, OUR_LAN_ADDRESS, 0);
    echo.transport = Transport::Echo {
        reply: false,
        identifier: 7,
    };
    let mut expired = udp(LAN_HOST, PLAIN_HOST, 1000);
    expired.ttl = 1;
    let seen = check(&case(LAN, vec![on_lan(echo), on_lan(expired)]));
    assert_eq!(
        (seen.delivered, seen.dropped, seen.generated),
        (1, 1, 2),
        "{seen:?}"
    );
}

#[test]
fn every_kept_input_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = harness::kept_inputs(root, "forward");
    assert!(!inputs.is_empty(), "no kept inputs for forward");
    for (_path, data) in inputs {
        run(&data);
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// Arbitrary cases, decoded from bytes the way the fuzzer decodes them.
    #[test]
    fn arbitrary_cases_hold(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        if let Ok(case) = ForwardCase::arbitrary_take_rest(Unstructured::new(&bytes)) {
            check(&case);
        }
    }

    /// Valid skeletons with arbitrary addresses, ports, TTLs and protocols
    /// on every interface, including the ones that do not exist.
    #[test]
    fn skeletons_on_any_interface_hold(
        ingress in 0u8..6,
        picks in prop::collection::vec((0u8..20, any::<u32>(), 0u8..20, any::<u32>(), any::<bool>(), 0u8..4, any::<u8>()), 1..24),
    ) {
        let frames = picks
            .into_iter()
            .map(|(s, raw_s, d, raw_d, v6, ttl, protocol)| {
                let mut ip = udp(0, 0, raw_s as u16);
                ip.v6 = v6;
                ip.source4 = Addr4 { pick: s, raw: raw_s };
                ip.destination4 = Addr4 { pick: d, raw: raw_d };
                ip.source6 = Addr6 { pick: s % 16, raw: u128::from(raw_s) };
                ip.destination6 = Addr6 { pick: d % 16, raw: u128::from(raw_d) };
                ip.ttl = ttl;
                if protocol % 3 == 0 {
                    ip.transport = Transport::Other(protocol);
                }
                if protocol % 5 == 0 {
                    FrameSpec::Esp { to_second_link: v6, inner: ip, skip: ttl, replay: false, tweaks: Tweaks::default() }
                } else {
                    on_lan(ip)
                }
            })
            .collect();
        check(&case(ingress, frames));
    }
}
