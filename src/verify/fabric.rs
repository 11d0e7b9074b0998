//! The probed network of one state: the scenario's real forwarding nodes
//! (built as `erdp run` builds them), the routes of the
//! state's converged control plane, and the wiring between node
//! interfaces. Hosts are not emulated: each prefix is reached through a
//! static route to the host behind the edge (on-premises) or the hub
//! (Azure), so a probe to any advertised prefix can be delivered.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::states::State;
use crate::config::InterfaceKind;
use crate::dataplane::{Node, Worker};
use crate::fib::{InterfaceId, NextHop};
use crate::rib::Route;
use crate::scenario::{CIRCUITS, INSTANCES, Scenario, ScenarioError, Side, build};

/// Node indices in a fabric.
pub(super) const EDGE: usize = 0;
pub(super) const MSEE: usize = 1;
pub(super) const HUB: usize = 2;
pub(super) const MSEE2: usize = 3;

/// One end of a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// A node's interface.
    Node(usize, InterfaceId),
    /// The host side of a LAN (on-premises or the VNet).
    Host(Side),
}

/// A link between two ends.
#[derive(Debug, Clone)]
pub(super) struct Wire {
    /// The link's name (`er-primary`, `msee-hub`, ...).
    pub(super) name: &'static str,
    /// An ExpressRoute circuit link (where encryption is judged).
    pub(super) circuit: bool,
    /// Up in this state.
    pub(super) up: bool,
    pub(super) ends: [End; 2],
}

/// The nodes, their workers and wiring of one state.
pub(super) struct Fabric {
    pub(super) nodes: Vec<Arc<Node>>,
    pub(super) workers: Vec<Worker>,
    pub(super) wires: Vec<Wire>,
    /// Wire index of each node's interfaces: `attached[node][interface]`.
    attached: Vec<Vec<Option<usize>>>,
    /// The VPN gateway is active-active: probes name the tunnel they took.
    active_active: bool,
}

/// The interface named `name` of `node`.
fn port(nodes: &[Arc<Node>], node: usize, name: &str) -> Result<End, ScenarioError> {
    nodes
        .get(node)
        .and_then(|n| n.interface_id(name).map(|id| End::Node(node, id)))
        .ok_or_else(|| ScenarioError::invalid(name, format!("node {node} has no interface {name}")))
}

/// The address of `prefix` a probe uses: `host` itself when the prefix
/// holds it, else the prefix's first host address that is not in `taken`
/// (the routers' own addresses: a probe to them would be delivered to the
/// router).
pub(super) fn probe_address(prefix: IpNet, host: IpAddr, taken: &[IpAddr]) -> IpAddr {
    if prefix.contains(&host) {
        return host;
    }
    let candidates: Box<dyn Iterator<Item = IpAddr>> = match prefix.trunc() {
        IpNet::V4(net) if net.prefix_len() < 31 => Box::new(
            (1..4u32).map(move |k| IpAddr::V4(u32::from(net.network()).wrapping_add(k).into())),
        ),
        IpNet::V6(net) if net.prefix_len() < 127 => Box::new(
            (1..4u128).map(move |k| IpAddr::V6(u128::from(net.network()).wrapping_add(k).into())),
        ),
        other => Box::new(std::iter::once(other.addr())),
    };
    let mut first = None;
    for address in candidates {
        if !prefix.contains(&address) {
            break;
        }
        first.get_or_insert(address);
        if !taken.contains(&address) {
            return address;
        }
    }
    first.unwrap_or(prefix.addr())
}

impl Fabric {
    /// Builds the nodes of `scenario`, installs the routes of `state` and
    /// a route to each prefix of `onprem` and `azure` behind its host.
    pub(super) fn new(
        scenario: &Scenario,
        state: &State,
        onprem: &[IpNet],
        azure: &[IpNet],
    ) -> Result<Fabric, ScenarioError> {
        // The nodes exactly as `erdp run` builds them (the simulator, its
        // hosts and links are dropped: probes go straight to the workers).
        // A state's tunnels are up: with `[ike]`, that is the SAs a
        // negotiation would install, so the static ones stand in for them
        // (keying does not change a path; `erdp run` shows the keying).
        let mut keyed = scenario.clone();
        keyed.ike = None;
        let handles = build(&keyed, scenario.seed)?.nodes;
        let mut nodes = vec![
            Arc::clone(&handles.edge),
            Arc::clone(&handles.msee),
            Arc::clone(&handles.hub),
        ];
        nodes.extend(handles.msee2.iter().cloned());
        state.control_plane(scenario).apply(&handles);
        behind(&nodes[EDGE], "lan", scenario.onprem.host.addr(), onprem);
        behind(&nodes[HUB], "vnet", scenario.azure.host.addr(), azure);

        let down = state.links_down();
        let mut wires = vec![
            (
                "onprem-lan",
                false,
                End::Host(Side::Onprem),
                port(&nodes, EDGE, "lan")?,
            ),
            (
                "azure-vnet",
                false,
                port(&nodes, HUB, "vnet")?,
                End::Host(Side::Azure),
            ),
        ];
        let msees = [MSEE, MSEE2];
        let hub_links = ["msee-hub", "msee2-hub"];
        for ((layout, msee), hub_link) in CIRCUITS.iter().zip(msees).zip(hub_links) {
            if msee >= nodes.len() {
                break;
            }
            for (index, link) in layout.links.into_iter().enumerate() {
                let msee_port = if index == 0 { "er1" } else { "er2" };
                wires.push((
                    link,
                    true,
                    port(&nodes, EDGE, layout.edge_ports[index])?,
                    port(&nodes, msee, msee_port)?,
                ));
            }
            wires.push((
                hub_link,
                false,
                port(&nodes, msee, "hub")?,
                port(&nodes, HUB, layout.hub_port)?,
            ));
        }
        let wires: Vec<Wire> = wires
            .into_iter()
            .map(|(name, circuit, a, b)| Wire {
                name,
                circuit,
                up: !down.contains(&name),
                ends: [a, b],
            })
            .collect();
        let mut attached: Vec<Vec<Option<usize>>> = nodes
            .iter()
            .map(|n| vec![None; n.interface_names().len()])
            .collect();
        for (index, wire) in wires.iter().enumerate() {
            for end in wire.ends {
                if let End::Node(node, id) = end
                    && let Some(slot) = attached
                        .get_mut(node)
                        .and_then(|ports| ports.get_mut(id.0 as usize))
                {
                    *slot = Some(index);
                }
            }
        }
        let workers = nodes.iter().map(Node::worker).collect();
        Ok(Fabric {
            nodes,
            workers,
            wires,
            attached,
            active_active: scenario.vpn_gateway.active_active,
        })
    }

    /// The wire on `node`'s `interface`, and the other end.
    pub(super) fn across(&self, node: usize, interface: InterfaceId) -> Option<(&Wire, End)> {
        let index = (*self.attached.get(node)?.get(interface.0 as usize)?)?;
        let wire = self.wires.get(index)?;
        let other = if wire.ends[0] == End::Node(node, interface) {
            wire.ends[1]
        } else {
            wire.ends[0]
        };
        Some((wire, other))
    }

    /// The name of the link on `node`'s `interface` (the tunnel's:
    /// `vpn`, or `vpn2` for an active-active gateway's second instance).
    pub(super) fn link_of(&self, node: usize, interface: InterfaceId) -> &'static str {
        if let Some(node) = self.nodes.get(node)
            && node.is_tunnel(interface)
        {
            let name = node.interface_names().get(interface.0 as usize);
            return INSTANCES
                .iter()
                .find(|i| name.is_some_and(|n| n == i.tunnel))
                .map_or("vpn", |i| i.tunnel);
        }
        self.across(node, interface)
            .map_or("-", |(wire, _)| wire.name)
    }

    /// The tunnel `interface` of `node` when the VPN gateway is
    /// active-active (`vpn`, `vpn2`); `None` with one instance (one
    /// tunnel: nothing to tell apart).
    pub(super) fn tunnel_name(&self, node: usize, interface: InterfaceId) -> Option<&'static str> {
        self.active_active.then(|| self.link_of(node, interface))
    }

    /// Every address of every node (interfaces and tunnel endpoints).
    pub(super) fn router_addresses(&self) -> Vec<IpAddr> {
        let mut taken = Vec::new();
        for node in &self.nodes {
            for interface in &node.config().interfaces {
                match &interface.kind {
                    InterfaceKind::Ethernet(eth) => {
                        taken.extend(eth.addresses.iter().map(IpNet::addr));
                    }
                    InterfaceKind::EspTunnel(tunnel) => taken.push(tunnel.local),
                }
            }
        }
        taken
    }

    /// The MAC of `node`'s Ethernet interface `name`.
    pub(super) fn mac(&self, node: usize, name: &str) -> Option<[u8; 6]> {
        let node = self.nodes.get(node)?;
        node.config()
            .interfaces
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| match &i.kind {
                InterfaceKind::Ethernet(eth) => Some(eth.mac.0),
                InterfaceKind::EspTunnel(_) => None,
            })
    }
}

/// Static routes on `node` to every prefix of `prefixes` that does not
/// hold `host`, through `host` on `interface` (the site behind the host).
fn behind(node: &Node, interface: &str, host: IpAddr, prefixes: &[IpNet]) {
    let Some(id) = node.interface_id(interface) else {
        return;
    };
    node.update_routes(|rib| {
        for &prefix in prefixes {
            if !prefix.contains(&host) && prefix.addr().is_ipv4() == host.is_ipv4() {
                let _ = rib.add(Route::static_route(prefix, NextHop::via(id, host)));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn probe_address_is_the_host_in_its_prefix_else_the_first_free_address() {
        let host = ip("10.0.1.10");
        assert_eq!(
            probe_address("10.0.0.0/16".parse().unwrap(), host, &[]),
            host
        );
        let taken = [ip("10.0.0.1")];
        assert_eq!(
            probe_address("10.0.0.0/24".parse().unwrap(), host, &taken),
            ip("10.0.0.2")
        );
        assert_eq!(
            probe_address("10.9.0.0/24".parse().unwrap(), host, &taken),
            ip("10.9.0.1")
        );
        assert_eq!(
            probe_address("10.9.0.7/32".parse().unwrap(), host, &[]),
            ip("10.9.0.7")
        );
        assert_eq!(
            probe_address("fd00::/64".parse().unwrap(), host, &[]),
            ip("fd00::1")
        );
    }
}
