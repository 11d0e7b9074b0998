//! The Adj-RIB-In of one peer (RFC 4271 3.2): every route the peer sent,
//! before import policy, and which of them policy let into the node's
//! [`Rib`] (where the one decision process of erdp chooses among sessions).
//! The routes of one UPDATE share one [`ReceivedPath`], and through it one
//! [`RoutePath`] in the RIB: a full table costs a map slot per prefix here
//! and one in the RIB, not a copy of the attributes per prefix.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::policy::Policy;
use crate::fib::{InterfaceId, NextHop};
use crate::rib::{
    BgpAttributes, Origin, PrefixMap, Rib, RibError, RouteKey, RoutePath, RouteSource, Session,
};
use crate::wire::bgp::{self, PathAttributes};

/// The attributes of one UPDATE as received, plus the route the RIB gets
/// for each of its prefixes (import policy applied), computed once for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPath {
    /// The attributes as received.
    pub attributes: PathAttributes,
    /// What the RIB holds for these prefixes when policy accepts them.
    route: Arc<RoutePath>,
}

impl ReceivedPath {
    /// Wraps an UPDATE's attributes and next hop, applying `policy` (prepend
    /// of `peer_as`, LOCAL_PREF, MED) for the RIB route over `binding`.
    pub fn new(
        attributes: PathAttributes,
        next_hop: IpAddr,
        policy: &Policy,
        peer_as: u32,
        binding: RibBinding,
    ) -> Self {
        let received = attributes.as_path.iter().flat_map(|path| path.asns());
        let as_path = std::iter::repeat_n(peer_as, usize::from(policy.prepend))
            .chain(received)
            .collect();
        let received_local_pref = attributes.local_pref.filter(|_| binding.internal);
        let origin = match attributes.origin.unwrap_or_default() {
            bgp::Origin::Igp => Origin::Igp,
            bgp::Origin::Egp => Origin::Egp,
            bgp::Origin::Incomplete => Origin::Incomplete,
        };
        let route = RoutePath {
            next_hop: NextHop::via(binding.interface, next_hop),
            source: RouteSource::Bgp,
            session: binding.session,
            bgp: BgpAttributes {
                local_pref: policy.set_local_pref.or(received_local_pref).unwrap_or(100),
                med: policy.set_med.or(attributes.med).unwrap_or(0),
                origin,
                as_path,
                ..BgpAttributes::default()
            },
            connection_weight: 0,
        };
        Self {
            attributes,
            route: Arc::new(route),
        }
    }

    /// The next hop of the UPDATE's family, with the interface toward the peer.
    pub fn next_hop(&self) -> NextHop {
        self.route.next_hop
    }

    fn key(&self, prefix: IpNet) -> RouteKey {
        self.route.key(prefix)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    path: Arc<ReceivedPath>,
    /// Import policy let it into the RIB.
    accepted: bool,
}

/// Where a peer's routes go in the RIB: the interface toward the peer and
/// the session tag route selection knows it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RibBinding {
    /// Interface the peer is reached over.
    pub interface: InterfaceId,
    /// Session tag (ExpressRoute, VPN, other) for Azure's preferences.
    pub session: Session,
    /// iBGP: LOCAL_PREF is taken from the peer; eBGP: it is local.
    pub internal: bool,
}

/// One peer's received routes.
#[derive(Debug, Default)]
pub struct AdjRibIn {
    routes: PrefixMap<Entry>,
    accepted: usize,
}

impl AdjRibIn {
    /// Routes received and not withdrawn.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// No route received.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Routes import policy let into the RIB.
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    /// The route received for `prefix`, if any.
    pub fn get(&self, prefix: &IpNet) -> Option<&ReceivedPath> {
        self.routes.get(prefix).map(|entry| &*entry.path)
    }

    /// Every received prefix with its path, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &ReceivedPath)> {
        self.routes
            .iter()
            .map(|(prefix, entry)| (prefix, &*entry.path))
    }

    /// Reserves room for `additional` more IPv4 routes.
    pub fn reserve(&mut self, additional: usize) {
        self.routes.reserve_v4(additional);
    }

    /// Stores a route (an implicit withdraw of the previous one) and puts it
    /// in the RIB if `policy` accepts it.
    pub fn insert(
        &mut self,
        prefix: IpNet,
        path: &Arc<ReceivedPath>,
        policy: &Policy,
        rib: &mut Rib,
    ) -> Result<(), RibError> {
        let accepted = policy.permits(&prefix);
        let entry = Entry {
            path: Arc::clone(path),
            accepted,
        };
        if let Some(old) = self.routes.insert(prefix, entry) {
            // A different next hop is a different RIB route: remove the old one.
            if old.accepted && (!accepted || old.path.next_hop() != path.next_hop()) {
                rib.withdraw(&old.path.key(prefix))?;
            }
            self.accepted -= usize::from(old.accepted);
        }
        if accepted {
            self.accepted += 1;
            rib.add_shared(prefix, &path.route)?;
        }
        Ok(())
    }

    /// Withdraws the route for `prefix`, from the RIB too.
    pub fn withdraw(&mut self, prefix: IpNet, rib: &mut Rib) -> Result<bool, RibError> {
        let Some(old) = self.routes.remove(&prefix) else {
            return Ok(false);
        };
        if old.accepted {
            self.accepted -= 1;
            rib.withdraw(&old.path.key(prefix))?;
        }
        Ok(true)
    }

    /// Drops every route (the session went down), from the RIB too; returns how many.
    pub fn clear(&mut self, rib: &mut Rib) -> Result<usize, RibError> {
        let count = self.routes.len();
        for (prefix, entry) in self.routes.drain() {
            if entry.accepted {
                rib.withdraw(&entry.path.key(prefix))?;
            }
        }
        self.accepted = 0;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::{PrefixList, PrefixRule};
    use crate::wire::bgp::AsPath;

    fn binding() -> RibBinding {
        RibBinding {
            interface: InterfaceId(1),
            session: Session::ExpressRoute,
            internal: false,
        }
    }

    fn path(next_hop: &str, asns: &[u32], policy: &Policy) -> Arc<ReceivedPath> {
        let attributes = PathAttributes {
            as_path: Some(AsPath::sequence(asns)),
            local_pref: Some(500),
            med: Some(7),
            ..PathAttributes::default()
        };
        Arc::new(ReceivedPath::new(
            attributes,
            next_hop.parse().unwrap(),
            policy,
            12076,
            binding(),
        ))
    }

    #[test]
    fn routes_reach_the_rib_with_policy_applied_and_leave_with_withdrawals() {
        let policy = Policy {
            set_local_pref: Some(300),
            prepend: 2,
            prefix_list: Some(PrefixList {
                rules: vec![PrefixRule {
                    permit: true,
                    prefix: "10.0.0.0/8".parse().unwrap(),
                    ge: None,
                    le: Some(24),
                }],
            }),
            ..Policy::default()
        };
        let mut rib = Rib::default();
        let mut adj = AdjRibIn::default();
        let shared = path("192.168.0.1", &[12076, 65515], &policy);
        for prefix in ["10.1.0.0/16", "10.2.0.0/16", "172.16.0.0/12"] {
            adj.insert(prefix.parse().unwrap(), &shared, &policy, &mut rib)
                .unwrap();
        }
        assert_eq!((adj.len(), adj.accepted(), rib.len()), (3, 2, 2));
        let candidates = rib.candidates("10.1.0.0/16".parse().unwrap());
        let route = &candidates[0];
        assert_eq!(
            route.bgp.local_pref, 300,
            "set by policy; eBGP LOCAL_PREF ignored"
        );
        assert_eq!(route.bgp.med, 7);
        assert_eq!(*route.bgp.as_path, [12076, 12076, 12076, 65515]);
        // Implicit withdraw with a new next hop replaces the RIB route.
        let moved = path("192.168.0.2", &[12076], &policy);
        adj.insert("10.1.0.0/16".parse().unwrap(), &moved, &policy, &mut rib)
            .unwrap();
        let candidates = rib.candidates("10.1.0.0/16".parse().unwrap());
        assert_eq!(candidates.len(), 1);
        assert_eq!(
            candidates[0].next_hop.via,
            Some("192.168.0.2".parse().unwrap())
        );
        assert!(
            adj.withdraw("10.1.0.0/16".parse().unwrap(), &mut rib)
                .unwrap()
        );
        assert_eq!((adj.accepted(), rib.len()), (1, 1));
        assert_eq!(adj.clear(&mut rib).unwrap(), 2);
        assert!(rib.is_empty());
        assert_eq!(adj.accepted(), 0);
    }
}
