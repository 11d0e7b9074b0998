//! How the RIB stores a prefix's candidates: [`RoutePath`] is a route
//! without its prefix, shared (one `Arc`) by every prefix whose route is the
//! same, as the prefixes of one BGP UPDATE are. A full table from one peer
//! then costs the RIB a map slot per prefix and a few paths, not a copy of
//! every attribute per prefix. [`Route`] stays the public, self-contained
//! form: the RIB builds one on demand.

use std::sync::Arc;

use ipnet::IpNet;

use super::route::{BgpAttributes, Route, RouteKey, RouteSource, Session};
use crate::fib::NextHop;

/// Everything about a route but its prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutePath {
    /// Egress interface and optional next-hop router.
    pub next_hop: NextHop,
    /// How it was learned.
    pub source: RouteSource,
    /// Which session it came over.
    pub session: Session,
    /// BGP attributes.
    pub bgp: BgpAttributes,
    /// Azure ExpressRoute connection weight.
    pub connection_weight: u32,
}

impl RoutePath {
    /// The route this path gives `prefix`.
    pub fn route(&self, prefix: IpNet) -> Route {
        Route {
            prefix,
            next_hop: self.next_hop,
            source: self.source,
            session: self.session,
            bgp: self.bgp.clone(),
            connection_weight: self.connection_weight,
        }
    }

    /// The key of the route this path gives `prefix`.
    pub fn key(&self, prefix: IpNet) -> RouteKey {
        RouteKey {
            prefix,
            source: self.source,
            session: self.session,
            next_hop: self.next_hop,
        }
    }

    /// Whether the route this path gives `key.prefix` has that key (the
    /// prefix itself is not compared).
    fn same_key(&self, key: &RouteKey) -> bool {
        self.next_hop == key.next_hop && self.session == key.session && self.source == key.source
    }
}

impl From<Route> for RoutePath {
    fn from(route: Route) -> Self {
        Self {
            next_hop: route.next_hop,
            source: route.source,
            session: route.session,
            bgp: route.bgp,
            connection_weight: route.connection_weight,
        }
    }
}

/// The candidates of one prefix, in the order they arrived; never empty.
/// One candidate (a full table's usual case) is one pointer.
#[derive(Debug, Clone)]
pub(super) enum Candidates {
    One(Arc<RoutePath>),
    Many(Box<[Arc<RoutePath>]>),
}

const _: () = assert!(size_of::<Candidates>() == 16);

impl Candidates {
    pub(super) fn as_slice(&self) -> &[Arc<RoutePath>] {
        match self {
            Self::One(path) => std::slice::from_ref(path),
            Self::Many(paths) => paths,
        }
    }

    /// The candidates as routes for `prefix`.
    pub(super) fn routes(&self, prefix: IpNet) -> Vec<Route> {
        self.as_slice()
            .iter()
            .map(|path| path.route(prefix))
            .collect()
    }

    /// Stores `path`, replacing the candidate with the same key (returned).
    pub(super) fn put(&mut self, prefix: IpNet, path: Arc<RoutePath>) -> Option<Arc<RoutePath>> {
        let key = path.key(prefix);
        let paths = match self {
            Self::One(only) => std::slice::from_mut(only),
            Self::Many(paths) => &mut paths[..],
        };
        if let Some(old) = paths.iter_mut().find(|old| old.same_key(&key)) {
            return Some(std::mem::replace(old, path));
        }
        let mut grown = Vec::with_capacity(paths.len() + 1);
        grown.extend(paths.iter().cloned());
        grown.push(path);
        *self = Self::Many(grown.into_boxed_slice());
        None
    }

    /// Takes out the candidate with `key`: what is left (`None`: it was the
    /// last one, the caller drops the prefix) and the candidate; `Err(self)`
    /// when it is absent.
    pub(super) fn take(self, key: &RouteKey) -> Result<(Option<Self>, Arc<RoutePath>), Self> {
        let Some(at) = self.as_slice().iter().position(|path| path.same_key(key)) else {
            return Err(self);
        };
        Ok(match self {
            Self::One(only) => (None, only),
            Self::Many(paths) => {
                let mut paths = paths.into_vec();
                let removed = paths.remove(at);
                (Self::from_vec(paths), removed)
            }
        })
    }

    /// Removes every candidate `matches` accepts; returns how many, and
    /// whether any is left.
    pub(super) fn retain(
        &mut self,
        prefix: IpNet,
        mut matches: impl FnMut(&Route) -> bool,
    ) -> (usize, bool) {
        let before = self.as_slice().len();
        let kept: Vec<Arc<RoutePath>> = self
            .as_slice()
            .iter()
            .filter(|path| !matches(&path.route(prefix)))
            .cloned()
            .collect();
        let removed = before - kept.len();
        if removed == 0 {
            return (0, true);
        }
        match Self::from_vec(kept) {
            Some(left) => {
                *self = left;
                (removed, true)
            }
            None => (removed, false),
        }
    }

    fn from_vec(mut paths: Vec<Arc<RoutePath>>) -> Option<Self> {
        match paths.len() {
            0 => None,
            1 => paths.pop().map(Self::One),
            _ => Some(Self::Many(paths.into_boxed_slice())),
        }
    }
}
