//! The `bfd` fuzz target's oracles as proptest properties, so they hold in
//! `cargo test` without cargo-fuzz: random datagram streams, a valid peer
//! (handshake, Poll and Final, silence) with bytes overwritten or cut, and
//! every kept input.

use crate::harness;

use std::path::Path;

use erdp::wire::bfd::{BFD_CONTROL_LEN, BfdControl, BfdState};
use harness::bfd::run;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0000_0bfd),
        failure_persistence: None,
        ..Config::default()
    }
}

/// One record of the target's input: `gap` x 10 ms, TTL 255, the packet.
fn record(gap: u8, control: BfdControl) -> Vec<u8> {
    let mut bytes = [0u8; BFD_CONTROL_LEN];
    control.emit(&mut bytes);
    [&[gap, 0, BFD_CONTROL_LEN as u8][..], &bytes].concat()
}

/// A peer that brings the session up (Down, then Up with a Final for our
/// Poll and a Poll of its own), keeps it up for a while, then goes quiet.
fn valid_stream() -> Vec<u8> {
    let peer = |state, your, edit: fn(&mut BfdControl)| {
        let mut control = BfdControl {
            state,
            detect_mult: 3,
            my_discriminator: 0x55,
            your_discriminator: your,
            desired_min_tx_us: 300_000,
            required_min_rx_us: 300_000,
            ..BfdControl::default()
        };
        edit(&mut control);
        control
    };
    let ours = 0x0bfd;
    let mut out = record(0, peer(BfdState::Down, 0, |_| {}));
    out.extend(record(30, peer(BfdState::Up, ours, |_| {})));
    out.extend(record(10, peer(BfdState::Up, ours, |c| c.final_ = true)));
    out.extend(record(25, peer(BfdState::Up, ours, |c| c.poll = true)));
    for _ in 0..5 {
        out.extend(record(28, peer(BfdState::Up, ours, |_| {})));
    }
    out.extend(record(28, peer(BfdState::Down, ours, |_| {})));
    out.extend(record(120, peer(BfdState::Down, 0, |_| {})));
    out
}

#[test]
fn the_valid_stream_and_every_cut_of_it_pass() {
    let stream = valid_stream();
    for cut in 0..=stream.len() {
        run(&stream[..cut]);
    }
}

#[test]
fn kept_inputs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, data) in harness::kept_inputs(root, "bfd") {
        eprintln!("{}", path.display());
        run(&data);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn random_streams(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        run(&data);
    }

    #[test]
    fn valid_streams_with_bytes_overwritten(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut stream = valid_stream();
        for (at, value) in edits {
            let at = at.index(stream.len());
            stream[at] = value;
        }
        run(&stream);
    }
}
