//! Tests of the forwarding node: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod batch_lookup;
mod designs;
mod fragmentation;
mod rules;
mod runtime_sas;
mod sharded;
mod workers;
