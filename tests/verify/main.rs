//! Tests of erdp verify: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod active_active;
mod designs;
mod leaks;
