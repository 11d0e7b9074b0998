//! Tests of packet formats in src/wire: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod checksum;
mod flow;
mod icmp;
mod ip;
mod mss;
mod neighbor;
mod truncation;
