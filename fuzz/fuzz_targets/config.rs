//! cargo-fuzz target `config`: see `erdp_fuzz::config` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::config::run(data));
