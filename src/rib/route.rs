//! A route as the RIB holds it: prefix, next hop, where it came from (source
//! and session) and its BGP path attributes (RFC 4271 section 5), plus
//! Azure's ExpressRoute connection weight.

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::fib::{InterfaceId, NextHop};

/// How the route was learned. Administrative preference: connected beats
/// static beats BGP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteSource {
    /// A network on a local interface.
    Connected,
    /// Configured by hand.
    Static,
    /// Learned from a BGP session.
    Bgp,
}

/// Which path the route was learned over, so Azure's preferences can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Session {
    /// The plain ExpressRoute private peering (unencrypted).
    #[serde(rename = "expressroute")]
    ExpressRoute,
    /// The IPsec VPN riding the circuit (encrypted).
    Vpn,
    /// Anything else: connected and static routes, other BGP peers.
    Other,
}

/// BGP ORIGIN (RFC 4271 5.1.1): lower is preferred.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Learned from an interior protocol (`i`).
    #[default]
    Igp,
    /// Learned from EGP (`e`).
    Egp,
    /// Learned some other way, e.g. redistributed (`?`).
    Incomplete,
}

/// The BGP attributes route selection compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BgpAttributes {
    /// Router-local weight (Cisco style): higher is preferred. Default 0.
    pub weight: u32,
    /// LOCAL_PREF: higher is preferred. Default 100.
    pub local_pref: u32,
    /// AS_PATH as a list of ASNs, nearest first: shorter is preferred.
    /// Shared: the routes of one BGP UPDATE hold one copy.
    pub as_path: Arc<[u32]>,
    /// ORIGIN.
    pub origin: Origin,
    /// MULTI_EXIT_DISC: lower is preferred, compared between routes from the
    /// same neighbouring AS (RFC 4271 9.1.2.2 c). Default 0.
    pub med: u32,
}

impl Default for BgpAttributes {
    fn default() -> Self {
        Self {
            weight: 0,
            local_pref: 100,
            as_path: Arc::default(),
            origin: Origin::Igp,
            med: 0,
        }
    }
}

impl BgpAttributes {
    /// The neighbouring AS (first ASN of the path); `None` for a local route.
    pub fn neighbour_as(&self) -> Option<u32> {
        self.as_path.first().copied()
    }
}

/// A route: one candidate path to a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Route {
    /// The destination prefix (host bits clear).
    pub prefix: IpNet,
    /// Egress interface and optional next-hop router.
    pub next_hop: NextHop,
    /// How it was learned.
    pub source: RouteSource,
    /// Which session it came over.
    pub session: Session,
    /// BGP attributes (left at their defaults for connected and static).
    pub bgp: BgpAttributes,
    /// Azure ExpressRoute connection weight: between ExpressRoute circuits
    /// the connection with the higher weight wins. Default 0.
    pub connection_weight: u32,
}

/// What identifies a route in the RIB: adding a route with the same key
/// replaces the old one (a BGP implicit withdraw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    /// The prefix.
    pub prefix: IpNet,
    /// How it was learned.
    pub source: RouteSource,
    /// Which session.
    pub session: Session,
    /// Egress interface and next-hop router.
    pub next_hop: NextHop,
}

impl Route {
    fn new(prefix: IpNet, next_hop: NextHop, source: RouteSource, session: Session) -> Self {
        Self {
            prefix,
            next_hop,
            source,
            session,
            bgp: BgpAttributes::default(),
            connection_weight: 0,
        }
    }

    /// A connected network on `interface`.
    pub fn connected(prefix: IpNet, interface: InterfaceId) -> Self {
        Self::new(
            prefix,
            NextHop::direct(interface),
            RouteSource::Connected,
            Session::Other,
        )
    }

    /// A static route.
    pub fn static_route(prefix: IpNet, next_hop: NextHop) -> Self {
        Self::new(prefix, next_hop, RouteSource::Static, Session::Other)
    }

    /// A BGP route learned over `session`, default attributes.
    pub fn bgp(prefix: IpNet, next_hop: NextHop, session: Session) -> Self {
        Self::new(prefix, next_hop, RouteSource::Bgp, session)
    }

    /// With LOCAL_PREF set.
    pub fn with_local_pref(mut self, local_pref: u32) -> Self {
        self.bgp.local_pref = local_pref;
        self
    }

    /// With the router-local weight set.
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.bgp.weight = weight;
        self
    }

    /// With AS_PATH set (nearest ASN first).
    pub fn with_as_path(mut self, as_path: &[u32]) -> Self {
        self.bgp.as_path = as_path.into();
        self
    }

    /// With a shared AS_PATH (the routes of one UPDATE share it).
    pub fn with_shared_as_path(mut self, as_path: Arc<[u32]>) -> Self {
        self.bgp.as_path = as_path;
        self
    }

    /// With ORIGIN set.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.bgp.origin = origin;
        self
    }

    /// With MED set.
    pub fn with_med(mut self, med: u32) -> Self {
        self.bgp.med = med;
        self
    }

    /// With the ExpressRoute connection weight set.
    pub fn with_connection_weight(mut self, weight: u32) -> Self {
        self.connection_weight = weight;
        self
    }

    /// This route's identity in the RIB.
    pub fn key(&self) -> RouteKey {
        RouteKey {
            prefix: self.prefix,
            source: self.source,
            session: self.session,
            next_hop: self.next_hop,
        }
    }
}

impl fmt::Display for RouteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connected => "connected",
            Self::Static => "static",
            Self::Bgp => "bgp",
        })
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ExpressRoute => "ExpressRoute",
            Self::Vpn => "VPN",
            Self::Other => "other",
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Igp => "igp",
            Self::Egp => "egp",
            Self::Incomplete => "incomplete",
        })
    }
}

/// Shows the next hop with interface names where known.
pub(crate) fn write_next_hop(
    f: &mut fmt::Formatter<'_>,
    next_hop: &NextHop,
    name: impl Fn(InterfaceId) -> Option<String>,
) -> fmt::Result {
    let interface = name(next_hop.interface).unwrap_or_else(|| next_hop.interface.to_string());
    match next_hop.via {
        Some(via) => write!(f, "via {via} dev {interface}"),
        None => write!(f, "dev {interface}"),
    }
}

/// Writes a route's origin and attributes: `bgp/VPN lp 200 path 65010`.
pub(crate) fn write_attributes(f: &mut fmt::Formatter<'_>, route: &Route) -> fmt::Result {
    match route.source {
        RouteSource::Bgp => {
            write!(f, "bgp/{}", route.session)?;
            let bgp = &route.bgp;
            if bgp.weight != 0 {
                write!(f, " weight {}", bgp.weight)?;
            }
            write!(f, " lp {} path [", bgp.local_pref)?;
            for (i, asn) in bgp.as_path.iter().enumerate() {
                write!(f, "{}{asn}", if i == 0 { "" } else { " " })?;
            }
            write!(f, "] origin {}", bgp.origin)?;
            if bgp.med != 0 {
                write!(f, " med {}", bgp.med)?;
            }
            if route.connection_weight != 0 {
                write!(f, " conn-weight {}", route.connection_weight)?;
            }
            Ok(())
        }
        source => write!(f, "{source}"),
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.prefix)?;
        write_next_hop(f, &self.next_hop, |_| None)?;
        f.write_str(" (")?;
        write_attributes(f, self)?;
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_what_an_engineer_needs() {
        let route = Route::bgp(
            "10.1.0.0/16".parse().unwrap(),
            NextHop::via(InterfaceId(2), "10.255.0.1".parse().unwrap()),
            Session::Vpn,
        )
        .with_local_pref(200)
        .with_as_path(&[65010, 65020]);
        assert_eq!(
            route.to_string(),
            "10.1.0.0/16 via 10.255.0.1 dev if2 (bgp/VPN lp 200 path [65010 65020] origin igp)"
        );
        let connected = Route::connected("192.0.2.0/24".parse().unwrap(), InterfaceId(0));
        assert_eq!(connected.to_string(), "192.0.2.0/24 dev if0 (connected)");
    }

    #[test]
    fn serde_names_match_the_config_vocabulary() {
        let session: Session = serde_json::from_str("\"expressroute\"").unwrap();
        assert_eq!(session, Session::ExpressRoute);
        let origin: Origin = serde_json::from_str("\"incomplete\"").unwrap();
        assert_eq!(origin, Origin::Incomplete);
        let attrs: BgpAttributes = serde_json::from_str(r#"{"local_pref": 300}"#).unwrap();
        assert_eq!(attrs.local_pref, 300);
        assert_eq!(attrs.weight, 0);
    }
}
