//! Tests of erdp verify: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod designs;
mod leaks;
