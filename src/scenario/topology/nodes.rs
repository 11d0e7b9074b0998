//! The node configurations of a scenario's erdp nodes (the on-premises
//! edge, the MSEE of each circuit, the Azure hub), built as typed
//! [`NodeConfig`] values and validated as a node TOML file is: interfaces,
//! static neighbours, the must-encrypt policies and one bootstrap route;
//! every other non-connected route comes from BGP.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::super::ScenarioError;
use super::super::model::{LinkSpec, Scenario};
use super::layout::{
    AZURE_TUNNEL_ENDPOINT, CIRCUITS, CircuitLayout, GATEWAY_SUBNET, HUB_LINK, MAC_AZURE_HOST,
    MAC_EDGE_LAN, MAC_HUB_ER, MAC_HUB_VNET, MAC_MSEE_HUB, MAC_ONPREM_HOST, ONPREM_TUNNEL_ENDPOINT,
    PRIMARY_PEERING, instances,
};
use crate::config::{
    DEFAULT_ETHERNET_MTU, EthernetConfig, IkeRole, InterfaceConfig, InterfaceKind, NeighborConfig,
    NodeConfig, PolicyAction, PolicyConfig, TunnelConfig, TunnelKeying,
};
use crate::esp::{Algorithm, DfMode, SaConfig, SecretKey};
use crate::fib::NextHop;
use crate::rib::{Route, SelectionMode, Session};
use crate::wire::{FlowHasher, MacAddr};

/// The configuration of each node of a scenario, validated.
#[derive(Debug, Clone)]
pub struct NodeConfigs {
    /// The on-premises edge.
    pub edge: NodeConfig,
    /// The first circuit's MSEE.
    pub msee: NodeConfig,
    /// The Azure hub.
    pub hub: NodeConfig,
    /// The second circuit's MSEE, when there is one.
    pub msee2: Option<NodeConfig>,
}

/// First usable address of a host's subnet (the router's address).
pub(crate) fn gateway_of(host: IpNet) -> Result<IpAddr, ScenarioError> {
    let network = host.trunc();
    let first = match network {
        IpNet::V4(n) => IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).wrapping_add(1))),
        IpNet::V6(n) => IpAddr::V6((u128::from(n.network()).wrapping_add(1)).into()),
    };
    if first == host.addr() || !network.contains(&first) || host.prefix_len() >= 31 {
        return Err(ScenarioError::invalid(
            "host",
            format!(
                "{host}: the subnet's first address is the router's; pick another host address in a subnet of /30 or bigger"
            ),
        ));
    }
    Ok(first)
}

/// The configurations of the on-premises edge, the MSEE(s) and the hub.
pub fn node_configs(scenario: &Scenario) -> Result<NodeConfigs, ScenarioError> {
    let circuits = CircuitPlan::of(scenario);
    let mut msees = circuits.iter().map(msee_config);
    Ok(NodeConfigs {
        edge: edge_config(scenario, &circuits)?,
        msee: msees
            .next()
            .unwrap_or_else(|| Err(ScenarioError::invalid("msee", "no circuit".into())))?,
        hub: hub_config(scenario, &circuits)?,
        msee2: msees.next().transpose()?,
    })
}

/// The on-premises edge: the LAN (with the tunnel endpoint), the circuit
/// ports, the tunnel to the hub, the policy for Azure's VPN prefixes.
fn edge_config(scenario: &Scenario, circuits: &[CircuitPlan]) -> Result<NodeConfig, ScenarioError> {
    // Two circuits: up to four equal circuit links toward Azure.
    let mut edge = NodeBuilder::new("onprem-edge", SelectionMode::Bgp, 2 * circuits.len());
    edge.host_port(
        "lan",
        MAC_EDGE_LAN,
        (scenario.onprem.host, &scenario.onprem.lan),
        (ONPREM_TUNNEL_ENDPOINT, 32),
    )?;
    for plan in circuits {
        plan.circuit_ports(&mut edge, plan.layout.edge_ports, true)?;
    }
    // One tunnel per VPN gateway instance, each with its own SA pair.
    for instance in instances(scenario) {
        let ((to_azure, to_onprem), (key_azure, key_onprem)) = (instance.spis, instance.keys);
        edge.tunnel(
            instance.tunnel,
            (ONPREM_TUNNEL_ENDPOINT, instance.endpoint),
            (scenario, IkeRole::Initiator),
            [(to_azure, key_azure), (to_onprem, key_onprem)],
        )?;
    }
    edge.bootstrap_route(gateway_subnet()?, "er1", PRIMARY_PEERING.1);
    for plan in circuits {
        plan.circuit_neighbors(&mut edge, plan.layout.edge_ports, true);
    }
    edge.neighbor("lan", scenario.onprem.host.addr(), MAC_ONPREM_HOST);
    edge.policy(
        "azure-encrypted",
        &scenario.azure.advertise_vpn,
        scenario.onprem.policy,
    );
    edge.finish()
}

/// The Azure hub: the first circuit's port, the VNet (with the gateway's
/// tunnel endpoint), a second circuit's port, the tunnel to the edge, the
/// policy for on-prem's VPN prefixes.
fn hub_config(scenario: &Scenario, circuits: &[CircuitPlan]) -> Result<NodeConfig, ScenarioError> {
    let mut hub = NodeBuilder::new("azure-hub", scenario.azure.hub_routing_preference, 2);
    hub.ethernet(
        "er",
        MAC_HUB_ER,
        vec![host_prefix(HUB_LINK.1, 30)?],
        DEFAULT_ETHERNET_MTU,
    );
    // One gateway instance: its endpoint in the gateway subnet (/27). Two
    // (active-active): each instance's endpoint as a host address, as
    // interface addresses may not overlap.
    let gateways = instances(scenario);
    let endpoint_len = if gateways.len() > 1 { 32 } else { 27 };
    hub.host_port(
        "vnet",
        MAC_HUB_VNET,
        (scenario.azure.host, &scenario.azure.vnet),
        (AZURE_TUNNEL_ENDPOINT, endpoint_len),
    )?;
    for instance in gateways.iter().skip(1) {
        hub.address("vnet", host_prefix(instance.endpoint, 32)?);
    }
    // The first circuit's port comes first; a second circuit's after the
    // VNet (the one-circuit hub keeps its interface numbers).
    for layout in circuits.iter().skip(1).map(|plan| plan.layout) {
        hub.ethernet(
            layout.hub_port,
            layout.hub_mac,
            vec![host_prefix(layout.hub_link.1, 30)?],
            DEFAULT_ETHERNET_MTU,
        );
    }
    for instance in gateways {
        let ((to_azure, to_onprem), (key_azure, key_onprem)) = (instance.spis, instance.keys);
        hub.tunnel(
            instance.tunnel,
            (instance.endpoint, ONPREM_TUNNEL_ENDPOINT),
            (scenario, IkeRole::Responder),
            [(to_onprem, key_onprem), (to_azure, key_azure)],
        )?;
    }
    hub.bootstrap_route(host_prefix(ONPREM_TUNNEL_ENDPOINT, 32)?, "er", HUB_LINK.0);
    hub.neighbor("er", IpAddr::V4(HUB_LINK.0), MAC_MSEE_HUB);
    hub.neighbor("vnet", scenario.azure.host.addr(), MAC_AZURE_HOST);
    for layout in circuits.iter().skip(1).map(|plan| plan.layout) {
        hub.neighbor(
            layout.hub_port,
            IpAddr::V4(layout.hub_link.0),
            layout.msee_macs[2],
        );
    }
    hub.policy(
        "onprem-encrypted",
        &scenario.onprem.advertise_vpn,
        scenario.azure.policy,
    );
    hub.finish()
}

/// An MSEE: ports er1, er2 (toward the edge) and hub.
fn msee_config(plan: &CircuitPlan) -> Result<NodeConfig, ScenarioError> {
    let layout = plan.layout;
    let mut msee = NodeBuilder::new(layout.msee, SelectionMode::Bgp, 2);
    plan.circuit_ports(&mut msee, ["er1", "er2"], false)?;
    msee.ethernet(
        "hub",
        layout.msee_macs[2],
        vec![host_prefix(layout.hub_link.0, 30)?],
        DEFAULT_ETHERNET_MTU,
    );
    plan.circuit_neighbors(&mut msee, ["er1", "er2"], false);
    msee.neighbor("hub", IpAddr::V4(layout.hub_link.1), layout.hub_mac);
    msee.finish()
}

/// One circuit of a scenario: its layout and its two links' specs.
struct CircuitPlan<'a> {
    layout: &'static CircuitLayout,
    links: [&'a LinkSpec; 2],
}

impl CircuitPlan<'_> {
    /// The circuits of `scenario`, first then second.
    fn of(scenario: &Scenario) -> Vec<CircuitPlan<'_>> {
        scenario
            .circuits()
            .zip(&CIRCUITS)
            .map(|(circuit, layout)| CircuitPlan {
                layout,
                links: [&circuit.primary, &circuit.secondary],
            })
            .collect()
    }

    /// One end's address and MAC on link `index` (0: primary): the
    /// customer's (the edge) or Microsoft's (the MSEE).
    fn end(&self, index: usize, customer: bool) -> (Ipv4Addr, MacAddr) {
        let layout = self.layout;
        let (c, m) = layout.peerings[index];
        if customer {
            (c, layout.edge_macs[index])
        } else {
            (m, layout.msee_macs[index])
        }
    }

    /// The interfaces of one end on the circuit's two links, named `ports`.
    fn circuit_ports(
        &self,
        node: &mut NodeBuilder,
        ports: [&str; 2],
        customer: bool,
    ) -> Result<(), ScenarioError> {
        for (index, port) in ports.into_iter().enumerate() {
            let (address, mac) = self.end(index, customer);
            node.ethernet(
                port,
                mac,
                vec![host_prefix(address, 30)?],
                mtu(self.links[index])?,
            );
        }
        Ok(())
    }

    /// The static neighbours of one end: the other end of each link.
    fn circuit_neighbors(&self, node: &mut NodeBuilder, ports: [&str; 2], customer: bool) {
        for (index, port) in ports.into_iter().enumerate() {
            let (address, mac) = self.end(index, !customer);
            node.neighbor(port, IpAddr::V4(address), mac);
        }
    }
}

/// A node configuration under construction. Neighbours and routes name
/// their interface; the names are resolved to ids when it is finished,
/// as a node TOML file's are.
struct NodeBuilder {
    config: NodeConfig,
    neighbors: Vec<(String, IpAddr, MacAddr)>,
    routes: Vec<(IpNet, String, Ipv4Addr)>,
}

impl NodeBuilder {
    fn new(name: &str, route_selection: SelectionMode, max_paths: usize) -> Self {
        NodeBuilder {
            config: NodeConfig {
                name: name.to_string(),
                route_selection,
                max_paths,
                flow_hash_seed: FlowHasher::DEFAULT_SEED,
                interfaces: Vec::new(),
                neighbors: Vec::new(),
                routes: Vec::new(),
                policies: Vec::new(),
            },
            neighbors: Vec::new(),
            routes: Vec::new(),
        }
    }

    fn ethernet(&mut self, name: &str, mac: MacAddr, addresses: Vec<IpNet>, mtu: u16) {
        self.config.interfaces.push(InterfaceConfig {
            name: name.to_string(),
            kind: InterfaceKind::Ethernet(EthernetConfig {
                mac,
                addresses,
                mtu,
            }),
        });
    }

    /// The port toward a host on its link: the router's address in the
    /// host's subnet (the subnet's first address) and a tunnel endpoint.
    fn host_port(
        &mut self,
        name: &str,
        mac: MacAddr,
        (host, link): (IpNet, &LinkSpec),
        (endpoint, len): (Ipv4Addr, u8),
    ) -> Result<(), ScenarioError> {
        let router = with_len(gateway_of(host)?, host)?;
        let endpoint = host_prefix(endpoint, len)?;
        self.ethernet(name, mac, vec![router, endpoint], mtu(link)?);
        Ok(())
    }

    /// One more address on the Ethernet interface `name`.
    fn address(&mut self, name: &str, address: IpNet) {
        for interface in &mut self.config.interfaces {
            if let (true, InterfaceKind::Ethernet(eth)) =
                (interface.name == name, &mut interface.kind)
            {
                eth.addresses.push(address);
            }
        }
    }

    /// The tunnel interface `name` from `local` to `remote` with the
    /// scenario's tunnel MTU and MSS clamp; `keys` are the outbound and
    /// inbound SAs' SPIs and AES-256-GCM keys. With `[ike]`, the SAs are
    /// negotiated instead (this end in `role`), with the outbound key of
    /// the initiator's side as the pre-shared key of the pair.
    fn tunnel(
        &mut self,
        name: &str,
        (local, remote): (Ipv4Addr, Ipv4Addr),
        (scenario, role): (&Scenario, IkeRole),
        keys: [(u32, &str); 2],
    ) -> Result<(), ScenarioError> {
        let [sa_out, sa_in] = keys;
        // The edge's outer DF is the scenario's; the gateway copies.
        let df = match role {
            IkeRole::Initiator => scenario.onprem.tunnel_df,
            IkeRole::Responder => DfMode::Copy,
        };
        let keying = match &scenario.ike {
            Some(ike) => {
                let (_, psk) = if role == IkeRole::Initiator {
                    sa_out
                } else {
                    sa_in
                };
                TunnelKeying::Ike(Box::new(ike.tunnel_ike(role, psk.as_bytes(), df)))
            }
            None => TunnelKeying::Static {
                sa_out: SaConfig { df, ..sa(sa_out)? },
                sa_in: sa(sa_in)?,
            },
        };
        self.config.interfaces.push(InterfaceConfig {
            name: name.into(),
            kind: InterfaceKind::EspTunnel(Box::new(TunnelConfig {
                local: IpAddr::V4(local),
                remote: IpAddr::V4(remote),
                mtu: scenario.azure.tunnel_mtu,
                mss_clamp: match scenario.azure.mss_clamp {
                    0 => None,
                    mss => Some(mss),
                },
                keying,
            })),
        });
        Ok(())
    }

    fn neighbor(&mut self, interface: &str, ip: IpAddr, mac: MacAddr) {
        self.neighbors.push((interface.to_string(), ip, mac));
    }

    /// A BGP route to the tunnel's remote endpoint, only so the node
    /// configuration validates (a tunnel needs a route to its peer); the
    /// control plane replaces every BGP route before the first packet.
    fn bootstrap_route(&mut self, prefix: IpNet, interface: &str, next_hop: Ipv4Addr) {
        self.routes.push((prefix, interface.to_string(), next_hop));
    }

    /// A must-encrypt policy toward `destinations` (none: no policy).
    fn policy(&mut self, name: &str, destinations: &[IpNet], action: PolicyAction) {
        if destinations.is_empty() {
            return;
        }
        self.config.policies.push(PolicyConfig {
            name: name.to_string(),
            destinations: destinations.to_vec(),
            sources: Vec::new(),
            action,
        });
    }

    /// The configuration, its interface names resolved, validated; errors
    /// name the node and the field.
    fn finish(self) -> Result<NodeConfig, ScenarioError> {
        let NodeBuilder {
            mut config,
            neighbors,
            routes,
        } = self;
        let origin = format!("{} (generated)", config.name);
        let interface = |name: &str| {
            config.interface_id(name).ok_or_else(|| {
                ScenarioError::invalid(&origin, format!("unknown interface {name:?}"))
            })
        };
        let mut resolved = Vec::with_capacity(neighbors.len());
        for (name, ip, mac) in neighbors {
            resolved.push(NeighborConfig {
                interface: interface(&name)?,
                ip,
                mac,
            });
        }
        let mut bootstrap = Vec::with_capacity(routes.len());
        for (prefix, name, via) in routes {
            let next_hop = NextHop {
                interface: interface(&name)?,
                via: Some(IpAddr::V4(via)),
            };
            bootstrap.push(Route::bgp(prefix, next_hop, Session::ExpressRoute));
        }
        config.neighbors = resolved;
        config.routes = bootstrap;
        config.validate().map_err(|issues| {
            let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
            ScenarioError::invalid(&origin, issues.join("; "))
        })?;
        Ok(config)
    }
}

/// An SA of the tunnel: AES-256-GCM with `key` (hex), defaults otherwise.
fn sa((spi, key): (u32, &str)) -> Result<SaConfig, ScenarioError> {
    let key = SecretKey::from_hex(key)
        .map_err(|e| ScenarioError::invalid("tunnel key", e.to_string()))?;
    Ok(SaConfig::new(spi, Algorithm::Aes256Gcm, key))
}

/// A link's MTU as an interface's.
fn mtu(link: &LinkSpec) -> Result<u16, ScenarioError> {
    u16::try_from(link.mtu)
        .map_err(|_| ScenarioError::invalid("mtu", format!("{} is too big", link.mtu)))
}

/// `address` with the prefix length of `host` (an interface address in
/// the host's subnet).
fn with_len(address: IpAddr, host: IpNet) -> Result<IpNet, ScenarioError> {
    IpNet::new(address, host.prefix_len())
        .map_err(|e| ScenarioError::invalid("host", format!("{host}: {e}")))
}

/// `address/len` as an interface address.
fn host_prefix(address: Ipv4Addr, len: u8) -> Result<IpNet, ScenarioError> {
    Ipv4Net::new(address, len)
        .map(IpNet::V4)
        .map_err(|e| ScenarioError::invalid("address", format!("{address}/{len}: {e}")))
}

fn gateway_subnet() -> Result<IpNet, ScenarioError> {
    GATEWAY_SUBNET
        .parse()
        .map_err(|_| ScenarioError::invalid("gateway subnet", GATEWAY_SUBNET.into()))
}

#[cfg(test)]
mod tests {
    use super::super::layout::{SPI_TO_AZURE, SPI_TO_ONPREM};
    use super::*;
    use crate::config::InterfaceKind;

    fn names(config: &NodeConfig) -> Vec<&str> {
        config.interfaces.iter().map(|i| i.name.as_str()).collect()
    }

    /// Interface order is port order: the emulator attaches the edge's
    /// ports lan, er1.. and the hub's er, vnet(, er2) by index.
    #[test]
    fn interfaces_come_in_port_order_with_the_tunnel_last() {
        for (name, _) in crate::scenario::BUILTIN {
            let Some(Ok(scenario)) = crate::scenario::builtin(name) else {
                panic!("builtin {name}");
            };
            let configs = node_configs(&scenario).unwrap();
            let two = scenario.second_circuit.is_some();
            let mut edge: Vec<&str> = if two {
                vec!["lan", "er1", "er2", "er3", "er4", "vpn"]
            } else {
                vec!["lan", "er1", "er2", "vpn"]
            };
            let mut hub: Vec<&str> = if two {
                vec!["er", "vnet", "er2", "vpn"]
            } else {
                vec!["er", "vnet", "vpn"]
            };
            if scenario.vpn_gateway.active_active {
                edge.push("vpn2");
                hub.push("vpn2");
            }
            assert_eq!(names(&configs.edge), edge, "{name}");
            assert_eq!(names(&configs.hub), hub, "{name}");
            assert_eq!(names(&configs.msee), ["er1", "er2", "hub"], "{name}");
            assert_eq!(configs.msee2.is_some(), two, "{name}");
            assert_eq!(configs.edge.max_paths, if two { 4 } else { 2 }, "{name}");
            // One bootstrap route to the peer's tunnel endpoint, over the
            // first circuit; BGP installs the rest.
            assert_eq!(configs.edge.routes.len(), 1, "{name}");
            assert_eq!(configs.hub.routes.len(), 1, "{name}");
        }
    }

    #[test]
    fn the_tunnels_use_each_others_sas() {
        let scenario = crate::scenario::builtin("design1").unwrap().unwrap();
        let configs = node_configs(&scenario).unwrap();
        let tunnel = |config: &NodeConfig| {
            config.interfaces.iter().find_map(|i| match &i.kind {
                InterfaceKind::EspTunnel(t) => Some(t.clone()),
                InterfaceKind::Ethernet(_) => None,
            })
        };
        let (edge, hub) = (
            tunnel(&configs.edge).unwrap(),
            tunnel(&configs.hub).unwrap(),
        );
        let (edge_out, edge_in) = edge.static_sas().unwrap();
        let (hub_out, hub_in) = hub.static_sas().unwrap();
        assert_eq!((edge_out.spi, edge_in.spi), (SPI_TO_AZURE, SPI_TO_ONPREM));
        assert_eq!((hub_out.spi, hub_in.spi), (SPI_TO_ONPREM, SPI_TO_AZURE));
        assert_eq!(edge_out.key.expose_bytes(), hub_in.key.expose_bytes());
        assert_eq!((edge.local, edge.remote), (hub.remote, hub.local));
        assert_eq!(edge.mtu, scenario.azure.tunnel_mtu);
    }
}
