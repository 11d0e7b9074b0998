//! The emulated control plane: three BGP sessions (ExpressRoute primary,
//! ExpressRoute secondary, the VPN; two more with a second circuit), what
//! each side advertises on each, and
//! the routes every node's RIB learns from them. A session going down
//! withdraws everything learned on it; the RIBs then select by their modes
//! (the edge: BGP with LOCAL_PREF preferring the VPN; the MSEE: BGP, AS
//! path prepending honoured; the hub: Azure's preference, connection
//! weight). Private peering limits are in `limits.rs`; route changes of the
//! fault timeline in `changes.rs`.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use super::model::{CircuitMode, Scenario, VpnImport};
use super::topology::{
    CIRCUITS, CircuitLayout, InstanceLayout, Nodes, ONPREM_TUNNEL_ENDPOINT, instances,
};
use crate::dataplane::Node;
use crate::fib::NextHop;
use crate::rib::{Route, RouteSource, Session};

/// Microsoft's AS on the circuit.
pub(crate) const MICROSOFT_ASN: u32 = 12076;
/// The Azure virtual network gateways' AS.
pub(crate) const AZURE_GATEWAY_ASN: u32 = 65515;
/// On-prem IPv4 prefixes accepted on private peering (standard circuit).
pub const ONPREM_PREFIX_LIMIT: usize = 4_000;
/// The same with the Premium add-on.
pub const ONPREM_PREFIX_LIMIT_PREMIUM: usize = 10_000;
/// On-prem IPv6 prefixes accepted on private peering.
pub const ONPREM_IPV6_PREFIX_LIMIT: usize = 100;
/// VNet prefixes the gateway may advertise to on-prem: more take the
/// ExpressRoute connection between circuit and gateway down.
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
    /// Private peering on the second circuit's primary link.
    Er2Primary,
    /// Private peering on the second circuit's secondary link.
    Er2Secondary,
    /// The session over the second tunnel, to an active-active VPN
    /// gateway's second instance.
    Vpn2,
}

impl SessionId {
    /// The sessions of the one-circuit topology, in order.
    pub const ALL: [SessionId; 3] = [SessionId::ErPrimary, SessionId::ErSecondary, SessionId::Vpn];
    /// The sessions with a second circuit, in order.
    pub(crate) const ALL_TWO_CIRCUITS: [SessionId; 5] = [
        SessionId::ErPrimary,
        SessionId::ErSecondary,
        SessionId::Vpn,
        SessionId::Er2Primary,
        SessionId::Er2Secondary,
    ];

    /// Whether it is a VPN session (over a tunnel) rather than private
    /// peering.
    pub(crate) fn is_vpn(self) -> bool {
        matches!(self, SessionId::Vpn | SessionId::Vpn2)
    }

    /// Its name in reports (the name of the link it rides, or the
    /// tunnel's: `vpn`, `vpn2`).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionId::ErPrimary => "er-primary",
            SessionId::ErSecondary => "er-secondary",
            SessionId::Vpn => "vpn",
            SessionId::Er2Primary => "er2-primary",
            SessionId::Er2Secondary => "er2-secondary",
            SessionId::Vpn2 => "vpn2",
        }
    }

    /// The ExpressRoute session riding the link named `link`.
    pub(crate) fn of_link(link: &str) -> Option<SessionId> {
        [
            SessionId::ErPrimary,
            SessionId::ErSecondary,
            SessionId::Er2Primary,
            SessionId::Er2Secondary,
        ]
        .into_iter()
        .find(|s| s.as_str() == link)
    }

    pub(super) fn index(self) -> usize {
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
    /// BGP routes in the second circuit's MSEE, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msee2: Option<usize>,
}

/// One circuit as the control plane sees it.
#[derive(Debug, Clone)]
pub(super) struct CircuitControl {
    pub(super) mode: CircuitMode,
    /// The Premium add-on (the on-prem prefix limit).
    pub(super) premium: bool,
    /// Its sessions, ports and addresses.
    pub(super) layout: &'static CircuitLayout,
    /// Times on-prem prepends its AS on this circuit (all circuits' and
    /// this one's).
    pub(super) prepend: u8,
    /// LOCAL_PREF the edge gives Azure's routes on this circuit.
    pub(super) local_pref: u32,
    /// The hub's connection weight for this circuit.
    connection_weight: u32,
    /// What on-prem advertises on each of its sessions.
    pub(super) onprem: Vec<IpNet>,
}

/// The sessions' state and the advertisements.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    asn: u32,
    pub(super) vpn_local_pref: u32,
    /// Whether the edge refuses VPN routes that hold Azure's tunnel
    /// endpoint.
    vpn_excludes_endpoint: bool,
    /// One or two circuits.
    pub(super) circuits: Vec<CircuitControl>,
    pub(super) onprem_vpn: Vec<IpNet>,
    /// Azure's address spaces (VNets, synthetic ones, the hub's), which it
    /// advertises identically over ExpressRoute and over the VPN.
    pub(super) azure: Vec<IpNet>,
    /// The VPN gateway's instances (one, or two active-active).
    instances: &'static [InstanceLayout],
    /// Whether each session's transport is up (links, the tunnels).
    up: [bool; 6],
    /// Sessions reset by a prefix limit (Cease), and why; they come back
    /// once the count is under the limit again.
    pub(super) reset: [Option<String>; 6],
    /// Why the ExpressRoute connection between the circuits and the
    /// gateway is down (too many VNet prefixes), if it is.
    pub(super) connection_down: Option<String>,
    /// Warnings about the advertisements and the scenario's choices.
    pub notes: Vec<String>,
}

/// Synthetic /24s from 100.64.0.0/10 (on-prem prefix-limit tests).
fn synthetic_onprem(count: u32) -> impl Iterator<Item = IpNet> {
    (0..count.min(super::MAX_EXTRA_ER_PREFIXES)).map(|i| {
        let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + (i << 8);
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(base), 24))
    })
}

/// Synthetic /28s from 10.200.0.0/16 (VNet prefix-limit tests).
fn synthetic_vnet(count: u32) -> impl Iterator<Item = IpNet> {
    (0..count.min(super::MAX_EXTRA_VNET_PREFIXES)).map(|i| {
        let base = u32::from(Ipv4Addr::new(10, 200, 0, 0)) + (i << 4);
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(base), 28))
    })
}

fn host_route(address: Ipv4Addr) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(address, 32))
}

/// Azure's address spaces: both VNet lists joined (in order, without
/// repeats), the synthetic VNet prefixes and the hub's; and a note when the
/// scenario's two lists differ.
fn azure_address_spaces(scenario: &Scenario) -> (Vec<IpNet>, Option<String>) {
    let azure = &scenario.azure;
    let mut all: Vec<IpNet> = Vec::new();
    for prefix in azure.advertise_er.iter().chain(&azure.advertise_vpn) {
        if !all.contains(prefix) {
            all.push(*prefix);
        }
    }
    let differ = all.len() != azure.advertise_er.len() || all.len() != azure.advertise_vpn.len();
    let note = differ.then(|| {
        format!(
            "azure.advertise_er and azure.advertise_vpn differ; Azure advertises every VNet and hub address space identically over ExpressRoute and the VPN, so both carry {}",
            all.iter().map(IpNet::to_string).collect::<Vec<_>>().join(", ")
        )
    });
    all.extend(synthetic_vnet(azure.extra_vnet_prefixes));
    if !all.contains(&azure.hub_prefix) {
        all.push(azure.hub_prefix);
    }
    (all, note)
}

impl ControlPlane {
    /// The advertisements of `scenario`, every session's transport up; the
    /// prefix limits are applied by `ControlPlane::check_limits`.
    pub fn new(scenario: &Scenario) -> Self {
        let (azure, note) = azure_address_spaces(scenario);
        let mut notes: Vec<String> = note.into_iter().collect();
        for (circuit, layout) in scenario.circuits().zip(&CIRCUITS) {
            if let Some(note) = circuit.detection_note() {
                notes.push(format!("{}: {note}", layout.fault_name));
            }
        }
        let circuits: Vec<CircuitControl> = scenario
            .circuits()
            .zip(&CIRCUITS)
            .map(|(circuit, layout)| {
                let mut onprem = circuit
                    .advertise
                    .clone()
                    .unwrap_or_else(|| scenario.onprem.advertise_er.clone());
                onprem.push(host_route(ONPREM_TUNNEL_ENDPOINT));
                onprem.extend(synthetic_onprem(scenario.onprem.extra_er_prefixes));
                CircuitControl {
                    mode: circuit.mode,
                    premium: circuit.premium,
                    layout,
                    prepend: scenario.onprem.er_prepend.saturating_add(circuit.prepend),
                    local_pref: circuit.local_pref,
                    connection_weight: circuit.connection_weight,
                    onprem,
                }
            })
            .collect();
        Self {
            asn: scenario.onprem.asn,
            vpn_local_pref: scenario.onprem.vpn_local_pref,
            vpn_excludes_endpoint: scenario.onprem.vpn_import == VpnImport::ExcludeTunnelEndpoint,
            circuits,
            onprem_vpn: scenario.onprem.advertise_vpn.clone(),
            azure,
            instances: instances(scenario),
            up: [true; 6],
            reset: Default::default(),
            connection_down: None,
            notes,
        }
    }

    /// The sessions of this topology, in report order (a second
    /// instance's last).
    pub fn sessions(&self) -> Vec<SessionId> {
        let mut sessions = if self.circuits.len() > 1 {
            SessionId::ALL_TWO_CIRCUITS.to_vec()
        } else {
            SessionId::ALL.to_vec()
        };
        sessions.extend(self.instances.iter().skip(1).map(|i| i.session));
        sessions
    }

    /// The VPN gateway's instances (one, or two active-active).
    pub fn instances(&self) -> &'static [InstanceLayout] {
        self.instances
    }

    /// Whether `session` is up: its transport is up, no prefix limit
    /// reset it, and (for every session, the VPN's included: the tunnel
    /// rides the circuit) the ExpressRoute connection is up.
    pub(crate) fn is_up(&self, session: SessionId) -> bool {
        let index = session.index();
        self.up.get(index).copied().unwrap_or(false)
            && self.reset.get(index).is_some_and(Option::is_none)
            && self.connection_down.is_none()
    }

    /// Why `session` is down because of a limit, if one holds it down.
    pub(crate) fn held_down(&self, session: SessionId) -> Option<&str> {
        self.reset
            .get(session.index())?
            .as_deref()
            .or(self.connection_down.as_deref())
    }

    /// Sets `session`'s transport up or down; false when the session's
    /// state did not change (or a limit holds it down).
    pub fn set(&mut self, session: SessionId, up: bool) -> bool {
        let before = self.is_up(session);
        if let Some(state) = self.up.get_mut(session.index()) {
            *state = up;
        }
        self.is_up(session) != before
    }

    /// Prefixes on-prem advertises over the first circuit (with the tunnel
    /// endpoint and any synthetic ones).
    pub fn onprem_er(&self) -> &[IpNet] {
        self.circuits.first().map_or(&[], |c| &c.onprem)
    }

    /// Installs in every node's RIB exactly the routes the sessions that
    /// are up carry, and publishes the FIBs.
    pub fn apply(&self, nodes: &Nodes) -> RouteCounts {
        let edge = self.edge_routes(&nodes.edge);
        let hub = self.hub_routes(&nodes.hub);
        let edge = install(&nodes.edge, edge);
        let hub = install(&nodes.hub, hub);
        let msees = [Some(&nodes.msee), nodes.msee2.as_ref()];
        let mut installed = self
            .circuits
            .iter()
            .zip(msees)
            .filter_map(|(circuit, node)| node.map(|node| (circuit, node)))
            .map(|(circuit, node)| install(node, self.msee_routes(circuit, node)));
        RouteCounts {
            edge,
            msee: installed.next().unwrap_or(0),
            hub,
            msee2: installed.next(),
        }
    }

    /// The circuit's sessions that are up: (link index 0/1, standby).
    fn er_sessions<'c>(
        &'c self,
        circuit: &'c CircuitControl,
    ) -> impl Iterator<Item = (usize, bool)> + 'c {
        circuit
            .layout
            .sessions
            .into_iter()
            .enumerate()
            .filter(|(_, s)| self.is_up(*s))
            .map(|(i, _)| (i, i == 1 && circuit.mode == CircuitMode::ActiveStandby))
    }

    fn onprem_path(&self, circuit: &CircuitControl, extra_prepends: u8) -> Vec<u32> {
        vec![self.asn; 1 + usize::from(circuit.prepend) + usize::from(extra_prepends)]
    }

    fn edge_routes(&self, node: &Node) -> Vec<Route> {
        let mut routes = Vec::new();
        for circuit in &self.circuits {
            for (i, standby) in self.er_sessions(circuit) {
                let layout = circuit.layout;
                let (Some(port), Some((_, peer))) = (
                    layout
                        .edge_ports
                        .get(i)
                        .and_then(|name| interface(node, name)),
                    layout.peerings.get(i),
                ) else {
                    continue;
                };
                let local_pref = if standby {
                    circuit.local_pref.saturating_sub(10)
                } else {
                    circuit.local_pref
                };
                for prefix in &self.azure {
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
        }
        // Each instance's session: equal routes over the tunnels, so the
        // edge spreads flows over them (ECMP by flow hash).
        for vpn in self.vpn_interfaces(node) {
            for prefix in &self.azure {
                if self.vpn_excludes_endpoint && self.holds_endpoint(prefix) {
                    continue;
                }
                routes.push(
                    Route::bgp(*prefix, NextHop::direct(vpn), Session::Vpn)
                        .with_local_pref(self.vpn_local_pref)
                        .with_as_path(&[AZURE_GATEWAY_ASN]),
                );
            }
        }
        routes
    }

    /// Whether `prefix` holds a gateway instance's tunnel endpoint.
    fn holds_endpoint(&self, prefix: &IpNet) -> bool {
        self.instances
            .iter()
            .any(|i| prefix.contains(&IpAddr::V4(i.endpoint)))
    }

    /// The tunnel interfaces of `node` whose instance's session is up.
    fn vpn_interfaces<'a>(
        &'a self,
        node: &'a Node,
    ) -> impl Iterator<Item = crate::fib::InterfaceId> + 'a {
        self.instances
            .iter()
            .filter(|i| self.is_up(i.session))
            .filter_map(|i| interface(node, i.tunnel))
    }

    fn msee_routes(&self, circuit: &CircuitControl, node: &Node) -> Vec<Route> {
        let mut routes = Vec::new();
        let ports = [interface(node, "er1"), interface(node, "er2")];
        for (i, standby) in self.er_sessions(circuit) {
            let (Some(port), Some((peer, _))) = (
                ports.get(i).copied().flatten(),
                circuit.layout.peerings.get(i),
            ) else {
                continue;
            };
            let path = self.onprem_path(circuit, if standby { 3 } else { 0 });
            for prefix in &circuit.onprem {
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
        if let Some(hub) = interface(node, "hub")
            && self.connection_down.is_none()
        {
            let mut vnet = self.azure.clone();
            vnet.extend(self.instances.iter().map(|i| host_route(i.endpoint)));
            vnet.sort();
            vnet.dedup();
            for prefix in vnet {
                routes.push(
                    Route::bgp(
                        prefix,
                        NextHop::via(hub, IpAddr::V4(circuit.layout.hub_link.1)),
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
        for circuit in &self.circuits {
            let Some(er) = interface(node, circuit.layout.hub_port) else {
                continue;
            };
            if self.er_sessions(circuit).next().is_none() || self.connection_down.is_some() {
                continue;
            }
            let standby_only = !self.is_up(circuit.layout.sessions[0]);
            let extra = if standby_only && circuit.mode == CircuitMode::ActiveStandby {
                3
            } else {
                0
            };
            let mut path = vec![MICROSOFT_ASN];
            path.extend(self.onprem_path(circuit, extra));
            for prefix in &circuit.onprem {
                routes.push(
                    Route::bgp(
                        *prefix,
                        NextHop::via(er, IpAddr::V4(circuit.layout.hub_link.0)),
                        Session::ExpressRoute,
                    )
                    .with_as_path(&path)
                    .with_connection_weight(circuit.connection_weight),
                );
            }
        }
        for vpn in self.vpn_interfaces(node) {
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
