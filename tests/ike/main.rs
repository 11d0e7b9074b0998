//! Tests of IKEv2: nodes negotiating their tunnels through their own
//! dataplanes (in memory), and interop with strongSwan (root), of the IKE
//! core and of `erdp attach`: one test
//! binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod attach;
mod control;
mod interop;
