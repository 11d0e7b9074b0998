//! The emulated topology of a scenario: two smoltcp hosts and three erdp
//! nodes (the on-premises edge, the Microsoft edge of the circuit (MSEE),
//! the Azure hub with the VPN gateway), joined by five links:
//!
//! ```text
//! onprem-host --lan-- onprem-edge ==er-primary==  msee --msee-hub-- azure-hub --vnet-- azure-host
//!                                 ==er-secondary==
//!                     onprem-edge <~~~~~~~~~~ ESP tunnel over the circuit ~~~~~~~> azure-hub
//! ```
//!
//! With a second circuit, a fourth node (`msee2`) and three more links:
//! `onprem-edge ==er2-primary/er2-secondary== msee2 --msee2-hub-- azure-hub`.
//!
//! [`layout`] holds the fixed names, addresses and MACs; [`nodes`] builds
//! each node's [`NodeConfig`](crate::config::NodeConfig) (interfaces,
//! static neighbours, policies; every non-connected route comes from BGP);
//! this file builds the simulation from them.

mod layout;
mod nodes;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::ScenarioError;
use super::model::{LinkSpec, Scenario};
use crate::config::{InterfaceKind, NodeConfig, TunnelConfig};
use crate::dataplane::Node;
use crate::emu::link::AzureFragmentation;
use crate::emu::{
    ChannelConfig, DeviceId, Host, HostConfig, LinkConfig, LinkId, NodeDevice, PortId, Simulator,
};
use crate::esp::SaConfig;
use crate::wire::MacAddr;

pub(crate) use layout::{AZURE_TUNNEL_ENDPOINT, ONPREM_TUNNEL_ENDPOINT};
pub use layout::{
    CIRCUITS, CircuitLayout, INSTANCES, InstanceLayout, LINK_NAMES, LINK_NAMES_TWO_CIRCUITS,
    circuit_link_names, instances, link_names,
};
pub(crate) use nodes::gateway_of;
pub use nodes::{NodeConfigs, node_configs};

use layout::{MAC_AZURE_HOST, MAC_ONPREM_HOST, VNET_LINK};

/// The three nodes' handles (shared with their devices, for route updates
/// and counters).
#[derive(Debug, Clone)]
pub struct Nodes {
    /// The on-premises edge.
    pub edge: Arc<Node>,
    /// The Microsoft edge of the circuit.
    pub msee: Arc<Node>,
    /// The Azure hub (ExpressRoute and VPN gateways).
    pub hub: Arc<Node>,
    /// The Microsoft edge of the second circuit, when there is one.
    pub msee2: Option<Arc<Node>>,
}

/// The built topology.
#[derive(Debug)]
pub struct Topology {
    /// The simulation.
    pub sim: Simulator,
    /// The nodes.
    pub nodes: Nodes,
    /// Device ids: on-prem host, edge, MSEE, hub, Azure host.
    pub onprem_host: DeviceId,
    /// The on-premises edge's device.
    pub edge: DeviceId,
    /// The MSEE's device.
    pub msee: DeviceId,
    /// The hub's device.
    pub hub: DeviceId,
    /// The Azure host's device.
    pub azure_host: DeviceId,
    /// The second MSEE's device, when there is a second circuit.
    pub msee2: Option<DeviceId>,
    /// Link names ([`LINK_NAMES`] or [`LINK_NAMES_TWO_CIRCUITS`]).
    pub link_names: &'static [&'static str],
    /// Links in `link_names` order.
    pub links: Vec<LinkId>,
    /// The VPN gateway's instances (one, or two active-active).
    pub instances: &'static [InstanceLayout],
    /// The outbound SAs, for Wireshark settings: the edge's (to Azure),
    /// then the hub's (to on-prem), one per tunnel (gateway instance).
    pub sas: Vec<SaConfig>,
}

impl Topology {
    /// Circuits in this topology: 1, or 2 with a second circuit.
    pub fn circuits(&self) -> usize {
        1 + usize::from(self.msee2.is_some())
    }
}

/// The emulator's channel for a link spec.
pub(crate) fn channel(spec: &LinkSpec) -> ChannelConfig {
    ChannelConfig::default()
        .delay(Duration::from_secs_f64(spec.delay_ms.max(0.0) / 1e3))
        .rate_bps((spec.rate_mbps.max(0.0) * 1e6) as u64)
        .queue_limit(spec.queue)
        .loss(spec.loss)
        .reorder(
            spec.reorder,
            Duration::from_secs_f64(spec.reorder_delay_ms.max(0.0) / 1e3),
        )
        .mtu(spec.mtu)
}

fn host(
    sim: &Simulator,
    name: &str,
    mac: MacAddr,
    address: IpNet,
    mtu: usize,
) -> Result<Host, ScenarioError> {
    let mut config = HostConfig::new(name, mac.0, vec![address]);
    match gateway_of(address)? {
        IpAddr::V4(gw) => config.gateway_v4 = Some(gw),
        IpAddr::V6(gw) => config.gateway_v6 = Some(gw),
    }
    config.mtu = mtu;
    config.seed = sim.seed_for(name);
    Host::new(&config).map_err(|e| ScenarioError::invalid(name, e.to_string()))
}

/// The node a generated configuration describes.
fn node(config: NodeConfig) -> Result<Arc<Node>, ScenarioError> {
    let origin = format!("{} (generated)", config.name);
    Node::new(config)
        .map(Arc::new)
        .map_err(|e| ScenarioError::invalid(&origin, e.to_string()))
}

/// The static outbound SA of each of `node`'s tunnels, in interface
/// order (none for tunnels keyed by IKE: their SAs are the control
/// plane's).
fn outbound_sas(node: &Node) -> Result<Vec<SaConfig>, ScenarioError> {
    let tunnels: Vec<&TunnelConfig> = node
        .config()
        .interfaces
        .iter()
        .filter_map(|i| match &i.kind {
            InterfaceKind::EspTunnel(t) => Some(&**t),
            InterfaceKind::Ethernet(_) => None,
        })
        .collect();
    if tunnels.is_empty() {
        return Err(ScenarioError::invalid(node.name(), "no tunnel".into()));
    }
    Ok(tunnels
        .iter()
        .filter_map(|t| t.static_sas().map(|(sa_out, _)| sa_out.clone()))
        .collect())
}

/// Builds the simulation: hosts, nodes and links (no routes, no traffic).
pub fn build(scenario: &Scenario, seed: u64) -> Result<Topology, ScenarioError> {
    let configs = node_configs(scenario)?;
    let nodes = Nodes {
        edge: node(configs.edge)?,
        msee: node(configs.msee)?,
        hub: node(configs.hub)?,
        msee2: configs.msee2.map(node).transpose()?,
    };
    let mut sim = Simulator::new(seed);
    let onprem = host(
        &sim,
        "onprem-host",
        MAC_ONPREM_HOST,
        scenario.onprem.host,
        scenario.onprem.lan.mtu,
    )?;
    let azure = host(
        &sim,
        "azure-host",
        MAC_AZURE_HOST,
        scenario.azure.host,
        scenario.azure.vnet.mtu,
    )?;
    // A node's IKE draws its SPIs from the run's seed (see
    // `Ike::draw_spis_from`), so reports repeat from seed to seed.
    let attach = |node: &Arc<Node>, ports: &[&str], seed: u64| {
        let mut device = NodeDevice::new(node, ports)
            .map_err(|e| ScenarioError::invalid(node.name(), e.to_string()))?;
        if let Some(control) = device.control_mut() {
            control.draw_spis_from(seed);
        }
        Ok::<_, ScenarioError>(device)
    };
    let ike_seed = |sim: &Simulator, node: &Node| sim.seed_for(&format!("{} ike", node.name()));
    let circuits = &CIRCUITS[..scenario.circuits().count()];
    let edge_ports: Vec<&str> = std::iter::once("lan")
        .chain(circuits.iter().flat_map(|c| c.edge_ports))
        .collect();
    let hub_ports: Vec<&str> = [CIRCUITS[0].hub_port, "vnet"]
        .into_iter()
        .chain(circuits.iter().skip(1).map(|c| c.hub_port))
        .collect();
    let onprem_host = sim.add_device(Box::new(onprem));
    let seed = ike_seed(&sim, &nodes.edge);
    let edge = sim.add_device(Box::new(attach(&nodes.edge, &edge_ports, seed)?));
    let seed = ike_seed(&sim, &nodes.msee);
    let msee = sim.add_device(Box::new(attach(&nodes.msee, &["er1", "er2", "hub"], seed)?));
    let seed = ike_seed(&sim, &nodes.hub);
    let hub = sim.add_device(Box::new(attach(&nodes.hub, &hub_ports, seed)?));
    let azure_host = sim.add_device(Box::new(azure));
    let msee2 = match &nodes.msee2 {
        Some(node) => {
            let seed = ike_seed(&sim, node);
            Some(sim.add_device(Box::new(attach(node, &["er1", "er2", "hub"], seed)?)))
        }
        None => None,
    };
    let hub_link = LinkSpec::lan();
    let mut specs = vec![
        (&scenario.onprem.lan, (onprem_host, 0), (edge, 0)),
        (&scenario.circuit.primary, (edge, 1), (msee, 0)),
        (&scenario.circuit.secondary, (edge, 2), (msee, 1)),
        (&hub_link, (msee, 2), (hub, 0)),
        (&scenario.azure.vnet, (hub, 1), (azure_host, 0)),
    ];
    if let (Some(circuit), Some(msee2)) = (&scenario.second_circuit, msee2) {
        specs.push((&circuit.primary, (edge, 3), (msee2, 0)));
        specs.push((&circuit.secondary, (edge, 4), (msee2, 1)));
        specs.push((&hub_link, (msee2, 2), (hub, 2)));
    }
    let link_names = link_names(scenario);
    let mut links = Vec::with_capacity(specs.len());
    let azure = AzureFragmentation {
        reassemble_out_of_order: scenario.azure.reassemble_out_of_order_fragments,
        ..AzureFragmentation::default()
    };
    for ((spec, a, b), &name) in specs.into_iter().zip(link_names) {
        let mut channel = channel(spec);
        if name == VNET_LINK {
            // The VNet is Azure's network: its fragmentation rules apply.
            channel = channel.azure_fragmentation(azure);
        }
        let config = LinkConfig::symmetric(name, channel);
        links.push(
            sim.connect((a.0, PortId(a.1)), (b.0, PortId(b.1)), &config)
                .map_err(|e| ScenarioError::invalid(name, e.to_string()))?,
        );
    }
    let mut sas = outbound_sas(&nodes.edge)?;
    sas.extend(outbound_sas(&nodes.hub)?);
    Ok(Topology {
        sim,
        nodes,
        onprem_host,
        edge,
        msee,
        hub,
        azure_host,
        msee2,
        link_names,
        links,
        instances: instances(scenario),
        sas,
    })
}
