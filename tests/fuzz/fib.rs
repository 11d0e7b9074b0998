//! The `fib` fuzz target's oracles as proptest properties (issue 7), so they
//! hold in `cargo test` without cargo-fuzz: structured add/withdraw/publish/
//! lookup sequences on IPv4 and IPv6 against the naive reference, raw bytes
//! through the fuzz entry, and every kept input in `tests/fuzz_inputs/fib/`.

use crate::harness;

use std::path::Path;

use harness::fib::{Family, FibCase, FibOp, check, len_byte, prefix_len, run};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x000f_1b07),
        failure_persistence: None,
        ..Config::default()
    }
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

/// A family and the `len` byte of a prefix length biased to the edges and
/// the trie's stride boundaries (direct table 18, strides of 6).
fn family_and_len() -> impl Strategy<Value = (Family, u8)> {
    let len = prop_oneof![
        0u8..=128,
        prop::sample::select(vec![
            0u8, 1, 12, 17, 18, 19, 23, 24, 25, 30, 31, 32, 48, 64, 127, 128
        ]),
    ];
    (family(), len).prop_map(|(family, len)| (family, len_byte(len, family)))
}

fn op() -> impl Strategy<Value = FibOp> {
    prop_oneof![
        6 => (family_and_len(), any::<u8>(), 0u8..6).prop_map(|((family, len), anchor, group)| {
            FibOp::Add { family, anchor, len, group }
        }),
        3 => (family_and_len(), any::<u8>())
            .prop_map(|((family, len), anchor)| FibOp::Withdraw { family, anchor, len }),
        1 => (family_and_len(), any::<u8>(), any::<u8>()).prop_map(|((family, len), anchor, group)| {
            FibOp::AddUnmasked { family, anchor, len, group }
        }),
        2 => Just(FibOp::Publish),
        1 => Just(FibOp::Hold),
        2 => (family(), any::<u8>(), any::<u8>())
            .prop_map(|(family, anchor, flip)| FibOp::Lookup { family, anchor, flip }),
    ]
}

/// Anchors include IPv4-mapped IPv6 addresses and the ends of the space.
fn case() -> impl Strategy<Value = FibCase> {
    let v4 = prop_oneof![any::<u32>(), Just(0u32), Just(u32::MAX), Just(0x0a00_0000)];
    let v6 = prop_oneof![
        any::<u128>(),
        any::<u32>().prop_map(|v4| (0xffffu128 << 32) | u128::from(v4)),
        Just(0u128),
        Just(u128::MAX),
    ];
    (
        prop::collection::vec(v4, 0..6),
        prop::collection::vec(v6, 0..6),
        prop::collection::vec(op(), 0..80),
    )
        .prop_map(|(v4_anchors, v6_anchors, mut ops)| {
            ops.push(FibOp::Publish);
            FibCase {
                v4_anchors,
                v6_anchors,
                ops,
            }
        })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn fib_operations_match_the_naive_reference(case in case()) {
        check(&case);
    }

    #[test]
    fn fib_fuzz_entry_survives_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        run(&data);
    }
}

#[test]
fn fib_kept_inputs_pass() {
    for (path, data) in harness::kept_inputs(Path::new(env!("CARGO_MANIFEST_DIR")), "fib") {
        eprintln!("replaying {}", path.display());
        run(&data);
    }
}

#[test]
fn length_bytes_round_trip() {
    for family in [Family::V4, Family::V6] {
        let width = if family == Family::V4 { 32 } else { 128 };
        for len in 0..=width {
            assert_eq!(prefix_len(len_byte(len, family), family), len);
        }
        for byte in 0..=u8::MAX {
            assert!(prefix_len(byte, family) <= width);
        }
    }
}

#[test]
fn overlapping_routes_published_in_steps() {
    use Family::{V4, V6};
    let add = |family, len, group| FibOp::Add {
        family,
        anchor: 0,
        len: len_byte(len, family),
        group,
    };
    let case = FibCase {
        v4_anchors: vec![0x0a01_0203],
        v6_anchors: vec![0x2001_0db8_0000_0000_0000_0000_0000_0001],
        ops: vec![
            add(V4, 0, 1),
            add(V4, 24, 2),
            add(V4, 32, 3),
            add(V6, 0, 1),
            add(V6, 48, 2),
            add(V6, 128, 3),
            FibOp::Publish,
            FibOp::Hold,
            FibOp::Withdraw {
                family: V4,
                anchor: 0,
                len: len_byte(24, V4),
            },
            FibOp::AddUnmasked {
                family: V4,
                anchor: 0,
                len: len_byte(16, V4),
                group: 4,
            },
            FibOp::Publish,
            FibOp::Lookup {
                family: V4,
                anchor: 0,
                flip: 31,
            },
            FibOp::Publish,
        ],
    };
    check(&case);
}
