//! Tests of node configuration files: one test binary, a module per concern.

mod errors;
mod ike;
mod samples;
