//! Effective routes: each node's routing table in one state as Azure's
//! "effective routes" view shows a NIC's (Source, State, Address prefixes,
//! Next hop type, Next hop IP), plus the session a route came from and why
//! the active one won.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::fabric::Fabric;
use crate::rib::{Route, RouteSource, Rule, Session};

/// One route of a node's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRow {
    /// `Default` (connected), `User` (static) or `Virtual network gateway`
    /// (BGP), as Azure names route sources.
    pub source: &'static str,
    /// `Active` (forwarding uses it) or `Invalid` (it lost).
    pub state: &'static str,
    /// The prefix.
    pub address_prefix: IpNet,
    /// `Connected`, `Static`, `ExpressRoute` or `VPN tunnel`.
    pub next_hop_type: &'static str,
    /// The next router, when there is one.
    pub next_hop_ip: Option<IpAddr>,
    /// The link or session the route points into (`er-primary`, `vpn`).
    pub session: &'static str,
    /// Why this route: the deciding rule (`LOCAL_PREF 200`, `AS path
    /// shorter`, `longest prefix over 10.0.0.0/16`), or why it lost.
    pub why: String,
}

/// One node's table in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRoutes {
    /// The state's name.
    pub state: String,
    /// The node's name.
    pub node: String,
    /// Its routes, by prefix then active first.
    pub routes: Vec<RouteRow>,
}

/// The rule, with the winning route's value where it has one.
fn reason(rule: Rule, route: &Route) -> String {
    match rule {
        Rule::LocalPref => format!("LOCAL_PREF {}", route.bgp.local_pref),
        Rule::AsPathLength => format!("AS path shorter ({})", route.bgp.as_path.len()),
        Rule::ConnectionWeight => format!("connection weight {}", route.connection_weight),
        Rule::Weight => format!("weight {}", route.bgp.weight),
        other => other.to_string(),
    }
}

fn row(fabric: &Fabric, node: usize, route: &Route, active: bool, why: String) -> RouteRow {
    let session = fabric.link_of(node, route.next_hop.interface);
    RouteRow {
        source: match route.source {
            RouteSource::Connected => "Default",
            RouteSource::Static => "User",
            RouteSource::Bgp => "Virtual network gateway",
        },
        state: if active { "Active" } else { "Invalid" },
        address_prefix: route.prefix,
        next_hop_type: match (route.source, route.session) {
            (RouteSource::Connected, _) => "Connected",
            (RouteSource::Static, _) => "Static",
            (RouteSource::Bgp, Session::Vpn) => "VPN tunnel",
            (RouteSource::Bgp, Session::ExpressRoute) => "ExpressRoute",
            (RouteSource::Bgp, Session::Other) => "BGP peer",
        },
        next_hop_ip: route.next_hop.via,
        session,
        why,
    }
}

/// Every node's table in `fabric` (state `state`).
pub(super) fn effective_routes(fabric: &Fabric, state: &str) -> Vec<NodeRoutes> {
    fabric
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let rows = node.update_routes(|rib| {
                let mut prefixes: Vec<IpNet> = rib.prefixes().collect();
                prefixes.sort();
                let mut rows = Vec::new();
                for &prefix in &prefixes {
                    let Some(selection) = rib.selection(prefix) else {
                        continue;
                    };
                    let covering = prefixes
                        .iter()
                        .filter(|p| p.prefix_len() < prefix.prefix_len() && p.contains(&prefix))
                        .max_by_key(|p| p.prefix_len());
                    for route in &selection.chosen {
                        let mut why = reason(selection.rule, route);
                        if let Some(covering) = covering {
                            why = format!("longest prefix over {covering}; {why}");
                        }
                        rows.push(row(fabric, index, route, true, why));
                    }
                    for (route, rule) in &selection.losers {
                        rows.push(row(fabric, index, route, false, format!("lost: {rule}")));
                    }
                }
                rows
            });
            NodeRoutes {
                state: state.to_string(),
                node: node.name().to_string(),
                routes: rows,
            }
        })
        .collect()
}

impl NodeRoutes {
    /// The table as printed.
    pub fn table(&self) -> String {
        let mut out = format!("effective routes of {} ({}):\n", self.node, self.state);
        let _ = writeln!(
            out,
            "  {:<24} {:<8} {:<20} {:<13} {:<16} {:<13} why",
            "Source", "State", "Address prefixes", "Next hop type", "Next hop IP", "Session"
        );
        for r in &self.routes {
            let ip = r
                .next_hop_ip
                .map_or_else(|| "-".to_string(), |ip| ip.to_string());
            let _ = writeln!(
                out,
                "  {:<24} {:<8} {:<20} {:<13} {:<16} {:<13} {}",
                r.source,
                r.state,
                r.address_prefix.to_string(),
                r.next_hop_type,
                ip,
                r.session,
                r.why
            );
        }
        out
    }
}
