//! Tests of the fuzz targets' oracles, replayed over seeds and saved inputs: one test binary, a
//! module per concern.

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

mod bfd;
mod bgp;
mod config;
mod esp_decap;
mod fib;
mod forward;
mod fragment;
mod ike;
mod pcap_replay;
