//! Tests of erdp attach: channels, network namespaces, the flood: one test binary, a module per
//! concern.

#[path = "../support/mod.rs"]
mod support;

mod channel;
mod flood;
mod netns;
