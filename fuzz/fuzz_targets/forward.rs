//! cargo-fuzz target `forward`: see `erdp_fuzz::forward` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::forward::run(data));
