//! The emulated control plane: three BGP sessions (ExpressRoute primary,
//! ExpressRoute secondary, the VPN), what each side advertises on each, and
//! the routes every node's RIB learns from them. A session going down
//! withdraws everything learned on it; the RIBs then select by their modes
//! (the edge: BGP with LOCAL_PREF preferring the VPN; the MSEE: BGP, AS
//! path prepending honoured; the hub: Azure's preference, connection
//! weight). Private peering limits: more than 4,000 on-prem IPv4 prefixes
//! (10,000 with Premium) bring the sessions down; Azure advertises at most
//! 1,000 VNet prefixes.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use super::model::{CircuitMode, Scenario};
use super::topology::{
    AZURE_TUNNEL_ENDPOINT, GATEWAY_SUBNET, HUB_LINK, Nodes, ONPREM_TUNNEL_ENDPOINT,
    PRIMARY_PEERING, SECONDARY_PEERING,
};
use crate::dataplane::Node;
use crate::fib::NextHop;
use crate::rib::{Route, RouteSource, Session};

/// Microsoft's AS on the circuit.
pub const MICROSOFT_ASN: u32 = 12076;
/// The Azure virtual network gateways' AS.
pub const AZURE_GATEWAY_ASN: u32 = 65515;
/// On-prem IPv4 prefixes accepted on private peering (standard circuit).
pub const ONPREM_PREFIX_LIMIT: usize = 4_000;
/// The same with the Premium add-on.
pub const ONPREM_PREFIX_LIMIT_PREMIUM: usize = 10_000;
/// VNet prefixes Azure advertises to on-prem at most.
pub const AZURE_PREFIX_LIMIT: usize = 1_000;

/// A BGP session of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionId {
    /// Private peering on the primary link.
    ErPrimary,
    /// Private peering on the secondary link.
    ErSecondary,
    /// The VPN's session (over the tunnel).
    Vpn,
}

impl SessionId {
    /// All three, in order.
    pub const ALL: [SessionId; 3] = [SessionId::ErPrimary, SessionId::ErSecondary, SessionId::Vpn];

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionId::ErPrimary => "er-primary",
            SessionId::ErSecondary => "er-secondary",
            SessionId::Vpn => "vpn",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Route counts of each node after a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RouteCounts {
    /// BGP routes in the edge's RIB.
    pub edge: usize,
    /// BGP routes in the MSEE's RIB.
    pub msee: usize,
    /// BGP routes in the hub's RIB.
    pub hub: usize,
}

/// The sessions' state and the advertisements.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    mode: CircuitMode,
    asn: u32,
    er_prepend: u8,
    vpn_local_pref: u32,
    connection_weight: u32,
    /// What on-prem advertises on each ExpressRoute session.
    onprem_er: Vec<IpNet>,
    onprem_vpn: Vec<IpNet>,
    /// What Azure advertises on ExpressRoute (limited) and on the VPN.
    azure_er: Vec<IpNet>,
    azure_vpn: Vec<IpNet>,
    up: [bool; 3],
    /// Sessions held down by a prefix limit (they do not come back).
    held_down: [Option<String>; 3],
    /// Warnings about the advertisements (prefixes Azure did not send).
    pub notes: Vec<String>,
}

/// Synthetic /24s from 100.64.0.0/10 (on-prem prefix-limit tests).
fn synthetic_onprem(count: u32) -> impl Iterator<Item = IpNet> {
    (0..count).map(|i| {
        let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + (i << 8);
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(base), 24))
    })
}

/// Synthetic /28s from 10.200.0.0/16 (VNet prefix-limit tests).
fn synthetic_vnet(count: u32) -> impl Iterator<Item = IpNet> {
    (0..count.min(4096)).map(|i| {
        let base = u32::from(Ipv4Addr::new(10, 200, 0, 0)) + (i << 4);
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(base), 28))
    })
}

fn host_route(address: Ipv4Addr) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(address, 32))
}

impl ControlPlane {
    /// The advertisements of `scenario`, every session up.
    pub fn new(scenario: &Scenario) -> Self {
        let mut onprem_er: Vec<IpNet> = scenario.onprem.advertise_er.clone();
        onprem_er.push(host_route(ONPREM_TUNNEL_ENDPOINT));
        onprem_er.extend(synthetic_onprem(scenario.onprem.extra_er_prefixes));
        let mut azure_er: Vec<IpNet> = scenario.azure.advertise_er.clone();
        azure_er.extend(synthetic_vnet(scenario.azure.extra_vnet_prefixes));
        let mut notes = Vec::new();
        if azure_er.len() > AZURE_PREFIX_LIMIT {
            notes.push(format!(
                "Azure has {} VNet prefixes; it advertises only {AZURE_PREFIX_LIMIT} to on-premises over ExpressRoute ({} not advertised)",
                azure_er.len(),
                azure_er.len() - AZURE_PREFIX_LIMIT
            ));
            azure_er.truncate(AZURE_PREFIX_LIMIT);
        }
        if let Ok(gateway) = GATEWAY_SUBNET.parse::<IpNet>() {
            azure_er.push(gateway);
        }
        let mut plane = Self {
            mode: scenario.circuit.mode,
            asn: scenario.onprem.asn,
            er_prepend: scenario.onprem.er_prepend,
            vpn_local_pref: scenario.onprem.vpn_local_pref,
            connection_weight: scenario.circuit.connection_weight,
            onprem_er,
            onprem_vpn: scenario.onprem.advertise_vpn.clone(),
            azure_er,
            azure_vpn: scenario.azure.advertise_vpn.clone(),
            up: [true; 3],
            held_down: [None, None, None],
            notes,
        };
        let limit = if scenario.circuit.premium {
            ONPREM_PREFIX_LIMIT_PREMIUM
        } else {
            ONPREM_PREFIX_LIMIT
        };
        let v4 = plane
            .onprem_er
            .iter()
            .filter(|p| matches!(p, IpNet::V4(_)))
            .count();
        if v4 > limit {
            let reason = format!(
                "on-premises advertised {v4} IPv4 prefixes on private peering, over the limit of {limit}{}: Azure reset the session and withdrew every route learned on it",
                if scenario.circuit.premium {
                    " (Premium)"
                } else {
                    " (without Premium: 10,000 with it)"
                }
            );
            for session in [SessionId::ErPrimary, SessionId::ErSecondary] {
                plane.up[session.index()] = false;
                plane.held_down[session.index()] = Some(reason.clone());
            }
        }
        plane
    }

    /// Whether `session` is up.
    pub fn is_up(&self, session: SessionId) -> bool {
        self.up.get(session.index()).copied().unwrap_or(false)
    }

    /// Why `session` is held down, if a limit did it.
    pub fn held_down(&self, session: SessionId) -> Option<&str> {
        self.held_down.get(session.index())?.as_deref()
    }

    /// Sets `session` up or down; false when nothing changed (or a prefix
    /// limit holds it down).
    pub fn set(&mut self, session: SessionId, up: bool) -> bool {
        let index = session.index();
        if self.held_down.get(index).is_some_and(Option::is_some) && up {
            return false;
        }
        match self.up.get_mut(index) {
            Some(state) if *state != up => {
                *state = up;
                true
            }
            _ => false,
        }
    }

    /// Prefixes on-prem advertises over ExpressRoute (with the tunnel
    /// endpoint and any synthetic ones).
    pub fn onprem_er(&self) -> &[IpNet] {
        &self.onprem_er
    }

    /// Installs in every node's RIB exactly the routes the sessions that
    /// are up carry, and publishes the FIBs.
    pub fn apply(&self, nodes: &Nodes) -> RouteCounts {
        let edge = self.edge_routes(&nodes.edge);
        let msee = self.msee_routes(&nodes.msee);
        let hub = self.hub_routes(&nodes.hub);
        RouteCounts {
            edge: install(&nodes.edge, edge),
            msee: install(&nodes.msee, msee),
            hub: install(&nodes.hub, hub),
        }
    }

    fn er_sessions(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        [SessionId::ErPrimary, SessionId::ErSecondary]
            .into_iter()
            .enumerate()
            .filter(|(_, s)| self.is_up(*s))
            .map(|(i, _)| (i, i == 1 && self.mode == CircuitMode::ActiveStandby))
    }

    fn onprem_path(&self, extra_prepends: u8) -> Vec<u32> {
        vec![self.asn; 1 + usize::from(self.er_prepend) + usize::from(extra_prepends)]
    }

    fn edge_routes(&self, node: &Node) -> Vec<Route> {
        let mut routes = Vec::new();
        let ports = [interface(node, "er1"), interface(node, "er2")];
        let peers = [PRIMARY_PEERING.1, SECONDARY_PEERING.1];
        for (i, standby) in self.er_sessions() {
            let (Some(port), Some(peer)) = (ports.get(i).copied().flatten(), peers.get(i)) else {
                continue;
            };
            let local_pref = if standby { 90 } else { 100 };
            for prefix in &self.azure_er {
                routes.push(
                    Route::bgp(
                        *prefix,
                        NextHop::via(port, IpAddr::V4(*peer)),
                        Session::ExpressRoute,
                    )
                    .with_local_pref(local_pref)
                    .with_as_path(&[MICROSOFT_ASN, AZURE_GATEWAY_ASN]),
                );
            }
        }
        if self.is_up(SessionId::Vpn)
            && let Some(vpn) = interface(node, "vpn")
        {
            for prefix in &self.azure_vpn {
                routes.push(
                    Route::bgp(*prefix, NextHop::direct(vpn), Session::Vpn)
                        .with_local_pref(self.vpn_local_pref)
                        .with_as_path(&[AZURE_GATEWAY_ASN]),
                );
            }
        }
        routes
    }

    fn msee_routes(&self, node: &Node) -> Vec<Route> {
        let mut routes = Vec::new();
        let ports = [interface(node, "er1"), interface(node, "er2")];
        let peers = [PRIMARY_PEERING.0, SECONDARY_PEERING.0];
        for (i, standby) in self.er_sessions() {
            let (Some(port), Some(peer)) = (ports.get(i).copied().flatten(), peers.get(i)) else {
                continue;
            };
            let path = self.onprem_path(if standby { 3 } else { 0 });
            for prefix in &self.onprem_er {
                routes.push(
                    Route::bgp(
                        *prefix,
                        NextHop::via(port, IpAddr::V4(*peer)),
                        Session::ExpressRoute,
                    )
                    .with_as_path(&path),
                );
            }
        }
        if let Some(hub) = interface(node, "hub") {
            let mut vnet = self.azure_er.clone();
            vnet.extend(self.azure_vpn.iter().copied());
            vnet.push(host_route(AZURE_TUNNEL_ENDPOINT));
            vnet.sort();
            vnet.dedup();
            for prefix in vnet {
                routes.push(
                    Route::bgp(
                        prefix,
                        NextHop::via(hub, IpAddr::V4(HUB_LINK.1)),
                        Session::Other,
                    )
                    .with_as_path(&[AZURE_GATEWAY_ASN]),
                );
            }
        }
        routes
    }

    fn hub_routes(&self, node: &Node) -> Vec<Route> {
        let mut routes = Vec::new();
        let standby_only = !self.is_up(SessionId::ErPrimary);
        if self.er_sessions().next().is_some()
            && let Some(er) = interface(node, "er")
        {
            let extra = if standby_only && self.mode == CircuitMode::ActiveStandby {
                3
            } else {
                0
            };
            let mut path = vec![MICROSOFT_ASN];
            path.extend(self.onprem_path(extra));
            for prefix in &self.onprem_er {
                routes.push(
                    Route::bgp(
                        *prefix,
                        NextHop::via(er, IpAddr::V4(HUB_LINK.0)),
                        Session::ExpressRoute,
                    )
                    .with_as_path(&path)
                    .with_connection_weight(self.connection_weight),
                );
            }
        }
        if self.is_up(SessionId::Vpn)
            && let Some(vpn) = interface(node, "vpn")
        {
            for prefix in &self.onprem_vpn {
                routes.push(
                    Route::bgp(*prefix, NextHop::direct(vpn), Session::Vpn)
                        .with_as_path(&[self.asn]),
                );
            }
        }
        routes
    }
}

fn interface(node: &Node, name: &str) -> Option<crate::fib::InterfaceId> {
    node.interface_id(name)
}

/// Replaces the node's BGP routes with `routes`; returns how many it holds.
fn install(node: &Node, routes: Vec<Route>) -> usize {
    node.update_routes(|rib| {
        let _ = rib.withdraw_where(|route| route.source == RouteSource::Bgp);
        let mut installed = 0;
        for route in routes {
            if rib.add(route).is_ok() {
                installed += 1;
            }
        }
        installed
    })
}
