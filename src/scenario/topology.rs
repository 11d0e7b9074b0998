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
//! Peering addressing as documented: a /30 per circuit link, the customer
//! router on the first address, Microsoft's on the second (circuit 1:
//! 172.16.0.0/30 and 172.16.0.4/30; circuit 2: 172.16.1.0/30 and
//! 172.16.1.4/30). Node configurations are written as node TOML (the format
//! of `erdp replay`) and parsed by [`NodeConfig::from_toml_str`]: they hold
//! interfaces, static neighbours and policies; every non-connected route
//! comes from BGP.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::ScenarioError;
use super::bgp::SessionId;
use super::model::{LinkSpec, Scenario};
use crate::config::{NodeConfig, PolicyAction};
use crate::dataplane::Node;
use crate::emu::link::AzureFragmentation;
use crate::emu::{
    ChannelConfig, DeviceId, Host, HostConfig, LinkConfig, LinkId, NodeDevice, PortId, Simulator,
};
use crate::esp::SaConfig;

/// The on-premises edge's tunnel endpoint (a loopback advertised over
/// both circuit links, so the tunnel survives either link failing).
pub const ONPREM_TUNNEL_ENDPOINT: Ipv4Addr = Ipv4Addr::new(192, 168, 255, 1);
/// The Azure VPN gateway's tunnel endpoint, in the gateway subnet.
pub const AZURE_TUNNEL_ENDPOINT: Ipv4Addr = Ipv4Addr::new(10, 100, 255, 4);
/// The gateway subnet Azure advertises over ExpressRoute.
pub const GATEWAY_SUBNET: &str = "10.100.255.0/27";
/// Customer and Microsoft addresses of the primary link's /30.
pub const PRIMARY_PEERING: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(172, 16, 0, 1), Ipv4Addr::new(172, 16, 0, 2));
/// Customer and Microsoft addresses of the secondary link's /30.
pub const SECONDARY_PEERING: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(172, 16, 0, 5), Ipv4Addr::new(172, 16, 0, 6));
/// The MSEE and hub ends of the link inside Azure.
pub const HUB_LINK: (Ipv4Addr, Ipv4Addr) = (
    Ipv4Addr::new(192, 168, 100, 1),
    Ipv4Addr::new(192, 168, 100, 2),
);

/// SPI of the SA from on-prem to Azure, and back.
pub const SPI_TO_AZURE: u32 = 0x1001;
/// SPI of the SA from Azure to on-prem.
pub const SPI_TO_ONPREM: u32 = 0x2001;
// Public test keys (AES-256-GCM, 32-byte key + 4-byte salt): never use
// them on a real network.
const KEY_TO_AZURE: &str =
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233";
const KEY_TO_ONPREM: &str =
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263";

const MAC_ONPREM_HOST: &str = "02:00:00:00:0a:01";
const MAC_AZURE_HOST: &str = "02:00:00:00:0b:01";
const MAC_EDGE_LAN: &str = "02:00:00:00:01:01";
const MAC_EDGE_ER1: &str = "02:00:00:00:01:02";
const MAC_EDGE_ER2: &str = "02:00:00:00:01:03";
const MAC_MSEE_ER1: &str = "02:00:00:00:02:01";
const MAC_MSEE_ER2: &str = "02:00:00:00:02:02";
const MAC_MSEE_HUB: &str = "02:00:00:00:02:03";
const MAC_HUB_ER: &str = "02:00:00:00:03:01";
const MAC_HUB_VNET: &str = "02:00:00:00:03:02";
const MAC_EDGE_ER3: &str = "02:00:00:00:01:04";
const MAC_EDGE_ER4: &str = "02:00:00:00:01:05";
const MAC_MSEE2_ER1: &str = "02:00:00:00:04:01";
const MAC_MSEE2_ER2: &str = "02:00:00:00:04:02";
const MAC_MSEE2_HUB: &str = "02:00:00:00:04:03";
const MAC_HUB_ER2: &str = "02:00:00:00:03:03";

/// One circuit's fixed names, addresses and MACs.
#[derive(Debug)]
pub struct CircuitLayout {
    /// Its MSEE's node name.
    pub msee: &'static str,
    /// The names of its primary and secondary links.
    pub links: [&'static str; 2],
    /// The `fault.link` that takes both its links down.
    pub fault_name: &'static str,
    /// Its BGP sessions, on the primary and secondary link.
    pub sessions: [SessionId; 2],
    /// Primary and secondary /30s: (customer, Microsoft).
    pub peerings: [(Ipv4Addr, Ipv4Addr); 2],
    /// The MSEE's and the hub's ends of their link inside Azure.
    pub hub_link: (Ipv4Addr, Ipv4Addr),
    /// The edge's ports on the primary and secondary links.
    pub edge_ports: [&'static str; 2],
    /// The hub's port toward this circuit's MSEE.
    pub hub_port: &'static str,
    edge_macs: [&'static str; 2],
    /// The MSEE's MACs: primary, secondary, hub.
    msee_macs: [&'static str; 3],
    hub_mac: &'static str,
}

/// The first circuit (`[circuit]`) and the second (`[second_circuit]`).
pub const CIRCUITS: [CircuitLayout; 2] = [
    CircuitLayout {
        msee: "msee",
        links: ["er-primary", "er-secondary"],
        fault_name: "circuit-1",
        sessions: [SessionId::ErPrimary, SessionId::ErSecondary],
        peerings: [PRIMARY_PEERING, SECONDARY_PEERING],
        hub_link: HUB_LINK,
        edge_ports: ["er1", "er2"],
        hub_port: "er",
        edge_macs: [MAC_EDGE_ER1, MAC_EDGE_ER2],
        msee_macs: [MAC_MSEE_ER1, MAC_MSEE_ER2, MAC_MSEE_HUB],
        hub_mac: MAC_HUB_ER,
    },
    CircuitLayout {
        msee: "msee2",
        links: ["er2-primary", "er2-secondary"],
        fault_name: "circuit-2",
        sessions: [SessionId::Er2Primary, SessionId::Er2Secondary],
        peerings: [
            (Ipv4Addr::new(172, 16, 1, 1), Ipv4Addr::new(172, 16, 1, 2)),
            (Ipv4Addr::new(172, 16, 1, 5), Ipv4Addr::new(172, 16, 1, 6)),
        ],
        hub_link: (
            Ipv4Addr::new(192, 168, 101, 1),
            Ipv4Addr::new(192, 168, 101, 2),
        ),
        edge_ports: ["er3", "er4"],
        hub_port: "er2",
        edge_macs: [MAC_EDGE_ER3, MAC_EDGE_ER4],
        msee_macs: [MAC_MSEE2_ER1, MAC_MSEE2_ER2, MAC_MSEE2_HUB],
        hub_mac: MAC_HUB_ER2,
    },
];

/// Link names, as used in fault entries, reports and pcap file names: the
/// one-circuit topology's, the first five of [`LINK_NAMES_TWO_CIRCUITS`].
pub const LINK_NAMES: &[&str] = LINK_NAMES_TWO_CIRCUITS.as_slice().split_at(5).0;

/// Link names with a second circuit: [`LINK_NAMES`], then its two links and
/// its MSEE's link to the hub.
pub const LINK_NAMES_TWO_CIRCUITS: [&str; 8] = [
    "onprem-lan",
    "er-primary",
    "er-secondary",
    "msee-hub",
    "azure-vnet",
    "er2-primary",
    "er2-secondary",
    "msee2-hub",
];

/// The VNet link: Azure's network, where Azure's fragmentation applies.
const VNET_LINK: &str = "azure-vnet";

/// The circuit links in the order of the edge's ports 1.. (both circuits).
pub fn circuit_link_names() -> impl Iterator<Item = &'static str> {
    CIRCUITS.iter().flat_map(|circuit| circuit.links)
}

/// The link names of `scenario`'s topology.
pub fn link_names(scenario: &Scenario) -> &'static [&'static str] {
    if scenario.second_circuit.is_some() {
        &LINK_NAMES_TWO_CIRCUITS
    } else {
        LINK_NAMES
    }
}

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
    /// The two SAs (to Azure, to on-prem), for Wireshark settings.
    pub sas: [SaConfig; 2],
}

impl Topology {
    /// Circuits in this topology: 1, or 2 with a second circuit.
    pub fn circuits(&self) -> usize {
        1 + usize::from(self.msee2.is_some())
    }
}

/// First usable address of a host's subnet (the router's address).
pub fn gateway_of(host: IpNet) -> Result<IpAddr, ScenarioError> {
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

fn prefix_list(prefixes: &[IpNet]) -> String {
    let quoted: Vec<String> = prefixes.iter().map(|p| format!("\"{p}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn tunnel(
    out: &mut String,
    local: Ipv4Addr,
    remote: Ipv4Addr,
    scenario: &Scenario,
    keys: [(u32, &str); 2],
) {
    let clamp = match scenario.azure.mss_clamp {
        0 => String::new(),
        mss => format!("mss_clamp = {mss}\n"),
    };
    let _ = write!(
        out,
        "[[interface]]\nname = \"vpn\"\nkind = \"esp-tunnel\"\nlocal = \"{local}\"\nremote = \"{remote}\"\nmtu = {}\n{clamp}\
         sa_out = {{ spi = {}, algorithm = \"aes-256-gcm\", key = \"{}\" }}\n\
         sa_in = {{ spi = {}, algorithm = \"aes-256-gcm\", key = \"{}\", replay_window = 1024 }}\n\n",
        scenario.azure.tunnel_mtu, keys[0].0, keys[0].1, keys[1].0, keys[1].1
    );
}

fn ethernet(out: &mut String, name: &str, mac: &str, addresses: &[String], mtu: usize) {
    let quoted: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
    let _ = write!(
        out,
        "[[interface]]\nname = \"{name}\"\nkind = \"ethernet\"\nmac = \"{mac}\"\naddresses = [{}]\nmtu = {mtu}\n\n",
        quoted.join(", ")
    );
}

fn neighbor(out: &mut String, interface: &str, ip: impl std::fmt::Display, mac: &str) {
    let _ = write!(
        out,
        "[[neighbor]]\ninterface = \"{interface}\"\nip = \"{ip}\"\nmac = \"{mac}\"\n\n"
    );
}

fn policy(out: &mut String, name: &str, destinations: &[IpNet], action: PolicyAction) {
    if destinations.is_empty() {
        return;
    }
    let action = match action {
        PolicyAction::Report => "report",
        PolicyAction::Drop => "drop",
    };
    let _ = write!(
        out,
        "[[policy]]\nname = \"{name}\"\ndestination = {}\nrequire = \"encrypted\"\naction = \"{action}\"\n\n",
        prefix_list(destinations)
    );
}

/// A BGP route to the tunnel's remote endpoint, only so the node
/// configuration validates (a tunnel needs a route to its peer); the
/// control plane replaces every BGP route before the first packet.
fn bootstrap_route(out: &mut String, prefix: &str, interface: &str, next_hop: Ipv4Addr) {
    let _ = write!(
        out,
        "[[route]]\nprefix = \"{prefix}\"\ninterface = \"{interface}\"\nnext_hop = \"{next_hop}\"\nsource = \"bgp\"\nsession = \"expressroute\"\n\n"
    );
}

fn with_len(address: IpAddr, host: IpNet) -> String {
    format!("{address}/{}", host.prefix_len())
}

/// The node TOML of each node of a scenario.
#[derive(Debug, Clone)]
pub struct NodeConfigs {
    /// The on-premises edge.
    pub edge: String,
    /// The first circuit's MSEE.
    pub msee: String,
    /// The Azure hub.
    pub hub: String,
    /// The second circuit's MSEE, when there is one.
    pub msee2: Option<String>,
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
    fn end(&self, index: usize, customer: bool) -> (Ipv4Addr, &'static str) {
        let layout = self.layout;
        let (c, m) = layout.peerings[index];
        if customer {
            (c, layout.edge_macs[index])
        } else {
            (m, layout.msee_macs[index])
        }
    }

    /// The interfaces of one end on the circuit's two links, named `ports`.
    fn circuit_ports(&self, out: &mut String, ports: [&str; 2], customer: bool) {
        for (index, port) in ports.into_iter().enumerate() {
            let (address, mac) = self.end(index, customer);
            ethernet(
                out,
                port,
                mac,
                &[format!("{address}/30")],
                self.links[index].mtu,
            );
        }
    }

    /// The static neighbours of one end: the other end of each link.
    fn circuit_neighbors(&self, out: &mut String, ports: [&str; 2], customer: bool) {
        for (index, port) in ports.into_iter().enumerate() {
            let (address, mac) = self.end(index, !customer);
            neighbor(out, port, address, mac);
        }
    }
}

/// The MSEE's node TOML: ports er1, er2 (toward the edge) and hub.
fn msee_config(plan: &CircuitPlan) -> String {
    let layout = plan.layout;
    let mut msee = format!(
        "name = \"{}\"\nroute_selection = \"bgp\"\nmax_paths = 2\n\n",
        layout.msee
    );
    plan.circuit_ports(&mut msee, ["er1", "er2"], false);
    ethernet(
        &mut msee,
        "hub",
        layout.msee_macs[2],
        &[format!("{}/30", layout.hub_link.0)],
        1500,
    );
    plan.circuit_neighbors(&mut msee, ["er1", "er2"], false);
    neighbor(&mut msee, "hub", layout.hub_link.1, layout.hub_mac);
    msee
}

/// The node TOML of the on-premises edge, the MSEE(s) and the hub.
pub fn node_configs(scenario: &Scenario) -> Result<NodeConfigs, ScenarioError> {
    let onprem_gw = gateway_of(scenario.onprem.host)?;
    let azure_gw = gateway_of(scenario.azure.host)?;
    let lan_mtu = scenario.onprem.lan.mtu;
    let vnet_mtu = scenario.azure.vnet.mtu;
    let circuits = CircuitPlan::of(scenario);
    // Two circuits: up to four equal circuit links toward Azure.
    let edge_paths = 2 * circuits.len();

    let mut edge =
        format!("name = \"onprem-edge\"\nroute_selection = \"bgp\"\nmax_paths = {edge_paths}\n\n");
    ethernet(
        &mut edge,
        "lan",
        MAC_EDGE_LAN,
        &[
            with_len(onprem_gw, scenario.onprem.host),
            format!("{ONPREM_TUNNEL_ENDPOINT}/32"),
        ],
        lan_mtu,
    );
    for plan in &circuits {
        plan.circuit_ports(&mut edge, plan.layout.edge_ports, true);
    }
    tunnel(
        &mut edge,
        ONPREM_TUNNEL_ENDPOINT,
        AZURE_TUNNEL_ENDPOINT,
        scenario,
        [(SPI_TO_AZURE, KEY_TO_AZURE), (SPI_TO_ONPREM, KEY_TO_ONPREM)],
    );
    bootstrap_route(&mut edge, GATEWAY_SUBNET, "er1", PRIMARY_PEERING.1);
    for plan in &circuits {
        plan.circuit_neighbors(&mut edge, plan.layout.edge_ports, true);
    }
    neighbor(
        &mut edge,
        "lan",
        scenario.onprem.host.addr(),
        MAC_ONPREM_HOST,
    );
    policy(
        &mut edge,
        "azure-encrypted",
        &scenario.azure.advertise_vpn,
        scenario.onprem.policy,
    );

    let mut hub = format!(
        "name = \"azure-hub\"\nroute_selection = \"{}\"\nmax_paths = 2\n\n",
        scenario.azure.hub_routing_preference.name()
    );
    ethernet(
        &mut hub,
        "er",
        MAC_HUB_ER,
        &[format!("{}/30", HUB_LINK.1)],
        1500,
    );
    ethernet(
        &mut hub,
        "vnet",
        MAC_HUB_VNET,
        &[
            with_len(azure_gw, scenario.azure.host),
            format!("{AZURE_TUNNEL_ENDPOINT}/27"),
        ],
        vnet_mtu,
    );
    // The first circuit's port comes first; a second circuit's after the
    // VNet (the one-circuit hub keeps its interface numbers).
    for layout in circuits.iter().skip(1).map(|plan| plan.layout) {
        ethernet(
            &mut hub,
            layout.hub_port,
            layout.hub_mac,
            &[format!("{}/30", layout.hub_link.1)],
            1500,
        );
    }
    tunnel(
        &mut hub,
        AZURE_TUNNEL_ENDPOINT,
        ONPREM_TUNNEL_ENDPOINT,
        scenario,
        [(SPI_TO_ONPREM, KEY_TO_ONPREM), (SPI_TO_AZURE, KEY_TO_AZURE)],
    );
    bootstrap_route(
        &mut hub,
        &format!("{ONPREM_TUNNEL_ENDPOINT}/32"),
        "er",
        HUB_LINK.0,
    );
    neighbor(&mut hub, "er", HUB_LINK.0, MAC_MSEE_HUB);
    neighbor(&mut hub, "vnet", scenario.azure.host.addr(), MAC_AZURE_HOST);
    for layout in circuits.iter().skip(1).map(|plan| plan.layout) {
        neighbor(
            &mut hub,
            layout.hub_port,
            layout.hub_link.0,
            layout.msee_macs[2],
        );
    }
    policy(
        &mut hub,
        "onprem-encrypted",
        &scenario.onprem.advertise_vpn,
        scenario.azure.policy,
    );
    let mut msees = circuits.iter().map(msee_config);
    Ok(NodeConfigs {
        edge,
        msee: msees.next().unwrap_or_default(),
        hub,
        msee2: msees.next(),
    })
}

/// The emulator's channel for a link spec.
pub fn channel(spec: &LinkSpec) -> ChannelConfig {
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

fn mac(text: &str) -> [u8; 6] {
    text.parse::<crate::wire::MacAddr>()
        .map(|m| m.0)
        .unwrap_or([2, 0, 0, 0, 0, 0])
}

fn host(
    sim: &Simulator,
    name: &str,
    mac_text: &str,
    address: IpNet,
    mtu: usize,
) -> Result<Host, ScenarioError> {
    let mut config = HostConfig::new(name, mac(mac_text), vec![address]);
    match gateway_of(address)? {
        IpAddr::V4(gw) => config.gateway_v4 = Some(gw),
        IpAddr::V6(gw) => config.gateway_v6 = Some(gw),
    }
    config.mtu = mtu;
    config.seed = sim.seed_for(name);
    Host::new(&config).map_err(|e| ScenarioError::invalid(name, e.to_string()))
}

fn node(text: &str, origin: &str) -> Result<Arc<Node>, ScenarioError> {
    let config = NodeConfig::from_toml_str(text, Path::new(origin))
        .map_err(|e| ScenarioError::invalid(origin, e.to_string()))?;
    Node::new(config)
        .map(Arc::new)
        .map_err(|e| ScenarioError::invalid(origin, e.to_string()))
}

fn sa(node: &Node, out: bool) -> Result<SaConfig, ScenarioError> {
    node.config()
        .interfaces
        .iter()
        .find_map(|i| match &i.kind {
            crate::config::InterfaceKind::EspTunnel(t) => Some(if out {
                t.sa_out.clone()
            } else {
                t.sa_in.clone()
            }),
            crate::config::InterfaceKind::Ethernet(_) => None,
        })
        .ok_or_else(|| ScenarioError::invalid(node.name(), "no tunnel".into()))
}

/// Builds the simulation: hosts, nodes and links (no routes, no traffic).
pub fn build(scenario: &Scenario, seed: u64) -> Result<Topology, ScenarioError> {
    let texts = node_configs(scenario)?;
    let nodes = Nodes {
        edge: node(&texts.edge, "onprem-edge (generated)")?,
        msee: node(&texts.msee, "msee (generated)")?,
        hub: node(&texts.hub, "azure-hub (generated)")?,
        msee2: match &texts.msee2 {
            Some(text) => Some(node(text, "msee2 (generated)")?),
            None => None,
        },
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
    let attach = |node: &Arc<Node>, ports: &[&str]| {
        NodeDevice::new(node, ports).map_err(|e| ScenarioError::invalid(node.name(), e.to_string()))
    };
    let circuits = &CIRCUITS[..scenario.circuits().count()];
    let edge_ports: Vec<&str> = std::iter::once("lan")
        .chain(circuits.iter().flat_map(|c| c.edge_ports))
        .collect();
    let hub_ports: Vec<&str> = [CIRCUITS[0].hub_port, "vnet"]
        .into_iter()
        .chain(circuits.iter().skip(1).map(|c| c.hub_port))
        .collect();
    let onprem_host = sim.add_device(Box::new(onprem));
    let edge = sim.add_device(Box::new(attach(&nodes.edge, &edge_ports)?));
    let msee = sim.add_device(Box::new(attach(&nodes.msee, &["er1", "er2", "hub"])?));
    let hub = sim.add_device(Box::new(attach(&nodes.hub, &hub_ports)?));
    let azure_host = sim.add_device(Box::new(azure));
    let msee2 = match &nodes.msee2 {
        Some(node) => Some(sim.add_device(Box::new(attach(node, &["er1", "er2", "hub"])?))),
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
    let sas = [sa(&nodes.edge, true)?, sa(&nodes.hub, true)?];
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
        sas,
    })
}
