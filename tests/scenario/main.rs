//! Tests of erdp run: built-in scenarios, errors, faults, outputs, the HTML report: one test
//! binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod active_active;
mod builtin;
mod cli;
mod errors;
mod faults;
mod fidelity;
mod fragments;
mod html_report;
mod ike;
mod run_outputs;
mod two_circuits;
