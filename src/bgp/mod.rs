//! A BGP-4 speaker (RFC 4271) as a sans-I/O core: each [`Peer`] is driven by
//! bytes from its TCP connection and a clock, and returns bytes to send,
//! [`Event`]s and changes to the node's [`crate::rib::Rib`], so real sockets
//! (`erdp bgp`) and virtual time run the same code. Messages are in
//! [`crate::wire::bgp`]; best-path selection stays in [`crate::rib`].

mod adj_rib_in;
mod collision;
mod config;
mod peer;
mod policy;

pub use adj_rib_in::{AdjRibIn, ReceivedPath, RibBinding};
pub use collision::{Collision, resolve as resolve_collision};
pub use config::PeerConfig;
pub use peer::{Event, Negotiated, Peer, PeerCounters, State};
pub use policy::{MaxPrefix, Policy, PrefixList, PrefixRule};

#[cfg(test)]
mod peer_tests;
