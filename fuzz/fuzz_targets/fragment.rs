//! cargo-fuzz target `fragment`: see `erdp_fuzz::fragment` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::fragment::run(data));
