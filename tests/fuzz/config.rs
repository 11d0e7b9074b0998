//! The `config` fuzz target's oracles as proptest properties (issue 7), so
//! they hold in `cargo test` without cargo-fuzz: arbitrary text, TOML-ish
//! text, the sample configurations edited line by line (through
//! `arbitrary`, as the fuzzer does), and every kept input.

use crate::harness;

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use harness::config::{Edit, EditedSample, SAMPLES, Verdict, check, edit, run};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x00c0_4f16),
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn every_sample_builds_a_node() {
    for (index, sample) in SAMPLES.iter().enumerate() {
        assert!(
            matches!(check(sample), Verdict::Built(n) if n >= 3),
            "sample {index}"
        );
        let unedited = EditedSample {
            sample: index as u8,
            edits: vec![],
        };
        assert!(matches!(check(&edit(&unedited)), Verdict::Built(_)));
    }
}

#[test]
fn an_edge_value_is_refused_at_its_line() {
    // Line 13 (index 12) of the design-1 edge is `name = "lan"` of the first interface:
    // an empty array there is a type error on that line.
    let edited = EditedSample {
        sample: 0,
        edits: vec![Edit::Value(12, "[]".into())],
    };
    let text = edit(&edited);
    assert!(text.lines().nth(12).unwrap().ends_with("= []"), "{text}");
    assert_eq!(check(&text), Verdict::Refused(1));
}

#[test]
fn empty_and_garbage_text_are_refused() {
    assert!(matches!(check(""), Verdict::Refused(_)));
    assert!(matches!(check("[[interface]\nname ="), Verdict::Refused(1)));
    assert!(matches!(check("\u{0}\u{ffff}\n\n\n"), Verdict::Refused(1)));
}

#[test]
fn every_kept_input_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = harness::kept_inputs(root, "config");
    assert!(!inputs.is_empty(), "no kept inputs for config");
    for (_path, data) in inputs {
        run(&data);
    }
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn arbitrary_text_holds(text in ".{0,300}") {
        check(&text);
    }

    #[test]
    fn toml_like_text_holds(text in r#"(\[\[?[a-z_]{0,10}\]\]?\n|[a-z_]{1,10} ?= ?("[0-9a-f:./]{0,20}"|[0-9-]{1,22}|\[\]|\{\}|true)\n){0,12}"#) {
        check(&text);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Samples edited from arbitrary bytes: most still parse, so most
    /// cases build a node, which is the slow part.
    #[test]
    fn edited_samples_hold(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(edited) = EditedSample::arbitrary_take_rest(Unstructured::new(&bytes)) {
            check(&edit(&edited));
        }
    }
}
