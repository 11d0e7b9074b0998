//! cargo-fuzz target `fib`: see `erdp_fuzz::fib` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::fib::run(data));
