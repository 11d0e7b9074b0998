//! cargo-fuzz target `ike`: see `erdp_fuzz::ike` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::ike::run(data));
