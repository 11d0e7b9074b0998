//! The `bgp` fuzz target's oracles as proptest properties, so they hold in
//! `cargo test` without cargo-fuzz: random byte streams, valid streams
//! (UPDATEs of both families, withdrawals, KEEPALIVE, ROUTE-REFRESH) with
//! bytes overwritten or cut, and every kept input.

use crate::harness;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use erdp::wire::bgp::{self, AsPath, Family, Origin, PathAttributes, RouteRefresh};
use harness::bgp::run;
use ipnet::IpNet;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0000_b6b4),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A valid stream from an established peer.
fn valid_stream() -> Vec<u8> {
    let v4: Vec<IpNet> = ["10.1.0.0/16", "192.0.2.0/24", "0.0.0.0/0"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let v6: Vec<IpNet> = ["2001:db8::/32", "2001:db8:1::/48"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(&[12076, 65515])),
        next_hop: Some(Ipv4Addr::new(10, 0, 0, 2)),
        med: Some(10),
        communities: vec![0xfde8_0001],
        ..PathAttributes::default()
    };
    let mut out = Vec::new();
    let v6_hop: Ipv6Addr = "2001:db8::2".parse().unwrap();
    bgp::encode_announce(
        Family::Ipv4Unicast,
        &attributes,
        v6_hop,
        true,
        &v4,
        &mut out,
    )
    .unwrap();
    let v6_attributes = PathAttributes {
        next_hop: None,
        ..attributes
    };
    bgp::encode_announce(
        Family::Ipv6Unicast,
        &v6_attributes,
        v6_hop,
        true,
        &v6,
        &mut out,
    )
    .unwrap();
    bgp::encode_keepalive(&mut out);
    RouteRefresh { afi: 2, safi: 1 }.encode(&mut out);
    bgp::encode_withdraw(Family::Ipv4Unicast, &v4[..1], &mut out);
    bgp::encode_withdraw(Family::Ipv6Unicast, &v6[..1], &mut out);
    bgp::encode_end_of_rib(Family::Ipv6Unicast, &mut out);
    out
}

#[test]
fn the_valid_stream_keeps_the_session_and_every_cut_ends_cleanly() {
    let stream = valid_stream();
    for control in [0u8, 5, 63, 0x80] {
        run(&[&[control][..], &stream].concat());
    }
    for cut in 0..stream.len() {
        run(&[&[7u8][..], &stream[..cut]].concat());
    }
}

#[test]
fn kept_inputs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, data) in harness::kept_inputs(root, "bgp") {
        eprintln!("{}", path.display());
        run(&data);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn random_streams(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        run(&data);
    }

    #[test]
    fn valid_streams_with_bytes_overwritten(
        control in any::<u8>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut stream = valid_stream();
        for (at, value) in edits {
            let at = at.index(stream.len());
            stream[at] = value;
        }
        run(&[&[control][..], &stream].concat());
    }
}
