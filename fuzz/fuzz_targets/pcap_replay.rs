//! cargo-fuzz target `pcap_replay`: see `erdp_fuzz::pcap_replay` for what it checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| erdp_fuzz::pcap_replay::run(data));
