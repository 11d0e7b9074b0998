//! Tests of IKEv2: nodes negotiating their tunnels through their own
//! dataplanes (in memory), and interop with strongSwan (root): one test
//! binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod control;
mod interop;
