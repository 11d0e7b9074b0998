//! The `esp_decap` fuzz target's oracles as proptest properties (issue 7),
//! so they hold in `cargo test` without cargo-fuzz: packets sealed by a real
//! SA (every suite, ESN on and off, NAT-T, IPv4/IPv6 outer), reordered,
//! replayed and mutated; the Scapy fixtures with mutated raw packets; raw
//! bytes through the fuzz entry; and every kept input.

use crate::harness;

use std::path::Path;

use erdp::esp::{EspDrop, ReplayVerdict};
use harness::esp_decap::{
    Delivery, EspCase, FIXTURE_MODE, InnerSpec, Mutation, NatTMode, SUBSPACE_JUMP, Suite, check,
    mutate, run,
};
use harness::esp_fixtures::{FIXTURE_COUNT, check_fixture, fixtures};
use harness::esp_model::{NaiveWindow, Standing};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x00e5_bdec),
        failure_persistence: None,
        ..Config::default()
    }
}

fn inner() -> impl Strategy<Value = InnerSpec> {
    (
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        any::<u128>(),
        any::<u128>(),
        prop::collection::vec(any::<u8>(), 0..200),
        prop_oneof![4 => Just(0u16), 2 => 0u16..4, 1 => any::<u16>(), 1 => SUBSPACE_JUMP..=SUBSPACE_JUMP + 2],
    )
        .prop_map(|(ipv6, tos, protocol, src, dst, payload, skip)| InnerSpec {
            ipv6,
            tos,
            protocol,
            src,
            dst,
            payload,
            skip,
        })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<u16>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(at, value)| Mutation::SetByte { at, value }),
        1 => any::<u16>().prop_map(|len| Mutation::Truncate { len }),
        1 => prop::collection::vec(any::<u8>(), 0..20).prop_map(Mutation::Append),
        1 => (any::<u16>(), prop::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(at, len)| Mutation::Remove { at, len }),
        2 => (any::<u8>(), any::<u16>(), any::<u16>())
            .prop_map(|(from, at, len)| Mutation::Splice { from, at, len }),
    ]
}

fn delivery() -> impl Strategy<Value = Delivery> {
    (
        any::<u8>(),
        prop_oneof![2 => Just(vec![]), 3 => prop::collection::vec(mutation(), 1..4)],
        any::<bool>(),
    )
        .prop_map(|(packet, mutations, fix_lengths)| Delivery {
            packet,
            mutations,
            fix_lengths,
        })
}

prop_compose! {
    fn case()(
        suite in prop_oneof![Just(Suite::Aes128Gcm), Just(Suite::Aes256Gcm), Just(Suite::ChaCha20Poly1305)],
        key in any::<[u8; 36]>(),
        spi in any::<u32>(),
        esn in any::<bool>(),
        outer_ipv6 in any::<bool>(),
        nat_t in prop_oneof![
            Just(NatTMode::Off),
            Just(NatTMode::Default),
            (any::<u16>(), any::<u16>()).prop_map(|(local, remote)| NatTMode::Ports { local, remote }),
        ],
        window in prop_oneof![Just(0u16), any::<u16>()],
        resync_after in any::<u8>(),
        resync_tries in any::<u8>(),
        tfc_pad_to in prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
        ecn_compatibility in any::<bool>(),
        start_high in prop_oneof![Just(0u8), any::<u8>()],
        start_low in prop_oneof![any::<u32>(), (u32::MAX - 8)..=u32::MAX, 0u32..4],
        packets in prop::collection::vec(inner(), 1..6),
        deliveries in prop::collection::vec(delivery(), 0..16),
    ) -> EspCase {
        EspCase {
            suite, key, spi, esn, outer_ipv6, nat_t, window, resync_after, resync_tries,
            tfc_pad_to, ecn_compatibility, start_high, start_low, packets, deliveries,
        }
    }
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn sealed_then_mutated_packets_keep_every_oracle(case in case()) {
        check(&case);
    }

    #[test]
    fn mutated_scapy_packets_keep_every_oracle(
        fixture in 0..FIXTURE_COUNT,
        packet in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 0..4),
        fix_lengths in any::<bool>(),
    ) {
        let sealed = &fixtures()[fixture].sealed;
        let mut frame = sealed[packet % sealed.len()].frame.clone();
        for m in &mutations {
            mutate(&mut frame, m, sealed);
        }
        if fix_lengths {
            harness::esp_model::fix_outer_lengths(&mut frame);
        }
        check_fixture(fixture, &frame);
    }

    #[test]
    fn esp_fuzz_entry_survives_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        run(&data);
    }
}

#[test]
fn reference_inference_follows_rfc4303_a2() {
    let mut w = NaiveWindow::new(64, true);
    w.reset_to(0x1_0000_0010);
    assert_eq!(w.infer(0x11), Some(0x1_0000_0011));
    // Case B (the window spans two subspaces): the previous high half.
    assert_eq!(w.infer(0xffff_fff0), Some(0xffff_fff0));
    w.reset_to(0x5);
    assert_eq!(w.infer(0xffff_fff0), None);
    // Case A: below the window's left edge means the next subspace.
    w.reset_to(0x1_0000_0100);
    assert_eq!(w.infer(0x10), Some(0x2_0000_0010));
    assert_eq!(w.expected_check(0x100), Err(ReplayVerdict::Replayed));
    assert_eq!(
        w.accepted(0x1_0000_0200).standing(0x1_0000_0100),
        Standing::Behind
    );
}

#[test]
fn every_genuine_scapy_packet_as_the_raw_input() {
    for (index, fixture) in fixtures().iter().enumerate() {
        assert!(fixture.sealed.len() >= 6, "{}", fixture.name);
        for packet in &fixture.sealed {
            // Without ESN: accepted as the raw packet, then refused as a
            // replay among the genuine ones (with ESN the window may leave
            // some behind, which the oracles check).
            let tally = check_fixture(index, &packet.frame);
            if !fixture.config.esn {
                assert_eq!(
                    tally.accepted,
                    fixture.sealed.len(),
                    "{}: {tally:?}",
                    fixture.name
                );
            }
            let mut input = vec![FIXTURE_MODE + index as u8];
            input.extend_from_slice(&packet.frame);
            run(&input);
        }
    }
}

#[test]
fn ce_on_a_not_ect_inner_packet_is_dropped_after_the_icv_without_moving_the_window() {
    // Outer ECN set to CE on a Not-ECT inner packet: the ICV verifies (the
    // outer header is not authenticated) but the packet is dropped (RFC
    // 6040) before the window update, so a rejected packet never moves the
    // window and the genuine copy that follows is accepted once.
    let case = EspCase {
        suite: Suite::Aes256Gcm,
        key: [7; 36],
        spi: 0x1000,
        esn: true,
        outer_ipv6: false,
        nat_t: NatTMode::Off,
        window: 0,
        resync_after: 0,
        resync_tries: 0,
        tfc_pad_to: 0,
        ecn_compatibility: false,
        start_high: 1,
        start_low: u32::MAX - 1,
        packets: vec![InnerSpec {
            ipv6: false,
            tos: 0,
            protocol: 17,
            src: 0x0a01_0001,
            dst: 0x0a02_0001,
            payload: vec![1; 40],
            skip: 0,
        }],
        deliveries: vec![Delivery {
            packet: 0,
            // IPv4 TOS byte: ECN CE; the IPv4 checksum is then fixed up.
            mutations: vec![Mutation::SetByte { at: 1, value: 3 }],
            fix_lengths: true,
        }],
    };
    let tally = check(&case);
    assert_eq!(tally.accepted, 1, "{tally:?}");
    assert_eq!(tally.drops, vec![(EspDrop::EcnCeOnNotEct, 1)]);
}

#[test]
fn a_sender_a_subspace_ahead_is_found_by_esn_resynchronisation() {
    // The second packet is 2^32 + 1 numbers after the first: its high half
    // is not the inferred one, so only RFC 4303 A3 resynchronisation (every
    // ICV failure here, two high halves tried) accepts it.
    let packet = |skip| InnerSpec {
        ipv6: true,
        tos: 0,
        protocol: 58,
        src: 1,
        dst: 2,
        payload: vec![9; 24],
        skip,
    };
    let case = EspCase {
        suite: Suite::ChaCha20Poly1305,
        key: [3; 36],
        spi: 0x2000,
        esn: true,
        outer_ipv6: true,
        nat_t: NatTMode::Default,
        window: 0,
        resync_after: 0,
        resync_tries: 2,
        tfc_pad_to: 0,
        ecn_compatibility: false,
        start_high: 0,
        start_low: 100,
        packets: vec![packet(0), packet(SUBSPACE_JUMP)],
        deliveries: vec![],
    };
    let tally = check(&case);
    assert_eq!((tally.accepted, tally.resynchronised), (2, 1), "{tally:?}");
}

#[test]
fn esp_kept_inputs_pass() {
    for (path, data) in harness::kept_inputs(Path::new(env!("CARGO_MANIFEST_DIR")), "esp_decap") {
        eprintln!("replaying {}", path.display());
        run(&data);
    }
}
