//! Tests of pcap and pcapng files: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod held;
mod pcapng;
mod roundtrip;
mod truncation;
