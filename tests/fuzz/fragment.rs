//! The `fragment` fuzz target's oracles as proptest properties, so they
//! hold in `cargo test` without cargo-fuzz: raw bytes through the fuzz
//! entry, structured runs of genuine pieces in shuffled order (which must
//! complete), and floods of forged fragments against the caps.

use crate::harness;

use harness::fragment::{Step, check, datagram, fragments, run};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0f4a_6e17),
        failure_persistence: None,
        ..Config::default()
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0u64..20_000).prop_map(Step::Clock),
        4 => (0u16..4, any::<usize>()).prop_map(|(id, piece)| Step::Genuine { id, piece }),
        3 => (2u16..6, 0usize..512, 0usize..256, any::<bool>(), any::<u8>()).prop_map(
            |(id, units, len, more, fill)| Step::Forged {
                id,
                offset: units * 8,
                len,
                more,
                fill,
            }
        ),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn raw_bytes_never_break_an_oracle(data in prop::collection::vec(any::<u8>(), 0..600)) {
        run(&data);
    }

    #[test]
    fn mixed_genuine_and_forged_steps_hold_the_oracles(
        sizes in prop::collection::vec((21usize..3000, 68usize..1500), 4),
        steps in prop::collection::vec(step(), 0..200),
    ) {
        let originals: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(id, (total, _))| datagram(*total, id as u16, 7))
            .collect();
        let pieces: Vec<_> = originals
            .iter()
            .zip(&sizes)
            .map(|(o, (_, mtu))| fragments(o, *mtu))
            .collect();
        check(&originals, &pieces, &steps);
    }
}

#[test]
fn a_shuffled_genuine_datagram_is_checked_against_the_original() {
    // Datagram 0 in reverse piece order, no forgeries: the harness's exact
    // oracle compares the completed datagram with the original.
    let originals: Vec<Vec<u8>> = (0..4).map(|id| datagram(2500, id, 1)).collect();
    let pieces: Vec<_> = originals.iter().map(|o| fragments(o, 576)).collect();
    let n = pieces[0].len();
    assert_eq!(n, 5);
    let steps: Vec<Step> = (0..n)
        .rev()
        .map(|piece| Step::Genuine { id: 0, piece })
        .collect();
    assert_eq!(check(&originals, &pieces, &steps), 1);
}
