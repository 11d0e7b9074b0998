//! Bidirectional Forwarding Detection (RFC 5880 asynchronous mode, RFC 5881
//! single hop) as a sans-I/O core: a [`Session`] takes Control packets (with
//! the TTL they arrived with) and a clock, and gives packets to send and
//! state changes, so real UDP sockets (`erdp bgp --bfd`) and virtual time
//! run the same code. The packet format is in [`crate::wire::bfd`]; a BFD
//! session going down takes its BGP session down ([`crate::bgp::Peer::bfd_down`]).

mod config;
mod session;

pub use config::BfdConfig;
pub use session::{BfdCounters, BfdEvent, Session};

#[cfg(test)]
mod session_tests;
