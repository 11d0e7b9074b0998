//! cargo-fuzz target `esp_decap`: see `erdp_fuzz::esp_decap` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::esp_decap::run(data));
