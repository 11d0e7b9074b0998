//! Tests of the node driver (src/driver): one test binary, a module per
//! concern.

#[path = "../support/mod.rs"]
mod support;

mod order;
