//! cargo-fuzz target `bgp`: see `erdp_fuzz::bgp` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::bgp::run(data));
