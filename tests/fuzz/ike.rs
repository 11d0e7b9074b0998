//! The `ike` fuzz target's oracles as proptest properties, so they hold in
//! `cargo test` without cargo-fuzz: raw datagrams, and mutations of a
//! genuine IKE_SA_INIT and IKE_AUTH, on UDP 500 and 4500, to a responder.

use crate::harness;

use harness::ike::{Delivery, MAX_HALF_OPEN, Source, check, run};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x1ce_0002),
        failure_persistence: None,
        ..Config::default()
    }
}

fn flips() -> impl Strategy<Value = Vec<(u16, u8)>> {
    prop::collection::vec((any::<u16>(), 1u8..), 0..3)
}

fn delivery() -> impl Strategy<Value = Delivery> {
    (
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Source::Raw),
            flips().prop_map(Source::Init),
            flips().prop_map(Source::Auth),
        ],
        any::<bool>(),
        prop_oneof![9 => Just(0u8), 1 => any::<u8>()],
    )
        .prop_map(|(source, nat_t, advance)| Delivery {
            source,
            nat_t,
            advance,
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn hostile_datagrams_never_authenticate(deliveries in prop::collection::vec(delivery(), 1..12)) {
        check(&deliveries);
    }
}

#[test]
fn the_genuine_exchange_passes_the_oracles() {
    // Genuine INIT then genuine AUTH: the oracle allows the SA it makes.
    check(&[
        Delivery {
            source: Source::Init(vec![]),
            nat_t: false,
            advance: 0,
        },
        Delivery {
            source: Source::Auth(vec![(40, 1)]),
            nat_t: false,
            advance: 0,
        },
        Delivery {
            source: Source::Auth(vec![]),
            nat_t: false,
            advance: 0,
        },
        Delivery {
            source: Source::Auth(vec![]),
            nat_t: false,
            advance: 0,
        },
    ]);
}

#[test]
fn an_init_flood_is_bounded() {
    let flood: Vec<Delivery> = (0..20u16)
        .map(|i| Delivery {
            source: Source::Init(vec![(i % 8, 0x55)]),
            nat_t: i % 2 == 0,
            advance: 0,
        })
        .collect();
    check(&flood);
    const { assert!(MAX_HALF_OPEN < 20) };
}

#[test]
fn raw_bytes_through_the_entry() {
    for data in [&b""[..], &[0u8; 64], &[0xff; 300]] {
        run(data);
    }
}
