//! Tests of erdp bench: one test binary, a module per concern.

mod cli;
