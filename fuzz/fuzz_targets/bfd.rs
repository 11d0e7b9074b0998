//! cargo-fuzz target `bfd`: see `erdp_fuzz::bfd` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::bfd::run(data));
