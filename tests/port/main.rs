//! Tests of ports: channels, AF_PACKET, TAP: one test binary, a module per concern.

#[path = "../support/mod.rs"]
mod support;

mod afpacket;
mod channel;
mod tap;
