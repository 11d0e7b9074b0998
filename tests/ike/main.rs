//! Tests of IKEv2 interop with strongSwan (root): one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod interop;
