//! Tests of erdp replay: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod corpus;
