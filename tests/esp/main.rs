//! Tests of ESP: vectors, round trips, hostile input, the CLI: one test binary, a module per
//! concern.

#[path = "../support/mod.rs"]
mod support;

mod batch;
mod cbc_vectors;
mod cli;
mod hostile;
mod lease;
mod roundtrip;
mod scapy_fixtures;
mod vectors;
