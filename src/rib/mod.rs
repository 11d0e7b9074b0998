//! The RIB: candidate routes per prefix and the choice among them. Longest
//! prefix match always comes first; among routes for an identical prefix a
//! [`SelectionMode`] decides: BGP's decision process (RFC 4271 9.1.2.2) or
//! Azure's routing preferences (ExpressRoute first, VPN first, AS path).
//! Equal best routes form an ECMP next-hop group in the FIB it feeds.
//!
//! [`Rib::explain`] answers "which route, and why this one" for reports.

mod explain;
mod path;
mod prefix_map;
mod route;
mod selection;
mod table;

use ipnet::IpNet;
use thiserror::Error;

pub use crate::fib::{InterfaceId, NextHop, NextHopGroupId};
pub use explain::{Explanation, PrefixChoice};
pub use path::RoutePath;
pub(crate) use prefix_map::PrefixMap;
pub use route::{BgpAttributes, Origin, Route, RouteKey, RouteSource, Session};
pub use selection::{Rule, Selection, SelectionMode, UnknownSelectionMode, select};
pub use table::{DEFAULT_MAX_PATHS, Rib};

/// Why the RIB refused a change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RibError {
    /// The route's prefix has bits set past its length.
    #[error("route prefix {prefix} has host bits set (the network is {network})")]
    HostBitsSet {
        /// The prefix as given.
        prefix: IpNet,
        /// The prefix with its host bits cleared.
        network: IpNet,
    },
    /// The FIB could not take the result.
    #[error("installing into the FIB: {0}")]
    Fib(#[from] crate::fib::FibError),
}
