//! Tests of the FIB and the RIB: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod differential;
mod lpm;
mod rib_selection;
