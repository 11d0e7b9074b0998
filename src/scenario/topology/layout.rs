//! The fixed plan of the emulated topology: names, addresses, MACs, SPIs
//! and keys of every node and link, for one circuit or two.
//!
//! Peering addressing as documented: a /30 per circuit link, the customer
//! router on the first address, Microsoft's on the second (circuit 1:
//! 172.16.0.0/30 and 172.16.0.4/30; circuit 2: 172.16.1.0/30 and
//! 172.16.1.4/30).

use std::net::Ipv4Addr;

use super::super::bgp::SessionId;
use super::super::model::Scenario;
use crate::wire::MacAddr;

/// The on-premises edge's tunnel endpoint (a loopback advertised over
/// both circuit links, so the tunnel survives either link failing).
pub(crate) const ONPREM_TUNNEL_ENDPOINT: Ipv4Addr = Ipv4Addr::new(192, 168, 255, 1);
/// The Azure VPN gateway's tunnel endpoint, in the gateway subnet.
pub(crate) const AZURE_TUNNEL_ENDPOINT: Ipv4Addr = Ipv4Addr::new(10, 100, 255, 4);
/// An active-active VPN gateway's second instance's tunnel endpoint, in the
/// same gateway subnet (Microsoft's "Configure active-active VPN
/// gateways": each instance has its own tunnel IP).
pub(crate) const AZURE_TUNNEL_ENDPOINT_2: Ipv4Addr = Ipv4Addr::new(10, 100, 255, 5);
/// The gateway subnet Azure advertises over ExpressRoute.
pub(crate) const GATEWAY_SUBNET: &str = "10.100.255.0/27";
/// Customer and Microsoft addresses of the primary link's /30.
pub(crate) const PRIMARY_PEERING: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(172, 16, 0, 1), Ipv4Addr::new(172, 16, 0, 2));
/// Customer and Microsoft addresses of the secondary link's /30.
pub(crate) const SECONDARY_PEERING: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(172, 16, 0, 5), Ipv4Addr::new(172, 16, 0, 6));
/// The MSEE and hub ends of the link inside Azure.
pub(crate) const HUB_LINK: (Ipv4Addr, Ipv4Addr) = (
    Ipv4Addr::new(192, 168, 100, 1),
    Ipv4Addr::new(192, 168, 100, 2),
);

/// SPI of the SA from on-prem to Azure, and back.
pub(crate) const SPI_TO_AZURE: u32 = 0x1001;
/// SPI of the SA from Azure to on-prem.
pub(crate) const SPI_TO_ONPREM: u32 = 0x2001;
// Public test keys (AES-256-GCM, 32-byte key + 4-byte salt): never use
// them on a real network.
pub(super) const KEY_TO_AZURE: &str =
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233";
pub(super) const KEY_TO_ONPREM: &str =
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263";

pub(super) const KEY_TO_AZURE_2: &str =
    "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90919293";
pub(super) const KEY_TO_ONPREM_2: &str =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3";

/// A locally administered MAC `02:00:00:00:<node>:<port>`.
const fn mac(node: u8, port: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, node, port])
}

pub(super) const MAC_ONPREM_HOST: MacAddr = mac(0x0a, 0x01);
pub(super) const MAC_AZURE_HOST: MacAddr = mac(0x0b, 0x01);
pub(super) const MAC_EDGE_LAN: MacAddr = mac(0x01, 0x01);
const MAC_EDGE_ER1: MacAddr = mac(0x01, 0x02);
const MAC_EDGE_ER2: MacAddr = mac(0x01, 0x03);
const MAC_MSEE_ER1: MacAddr = mac(0x02, 0x01);
const MAC_MSEE_ER2: MacAddr = mac(0x02, 0x02);
pub(super) const MAC_MSEE_HUB: MacAddr = mac(0x02, 0x03);
pub(super) const MAC_HUB_ER: MacAddr = mac(0x03, 0x01);
pub(super) const MAC_HUB_VNET: MacAddr = mac(0x03, 0x02);
const MAC_EDGE_ER3: MacAddr = mac(0x01, 0x04);
const MAC_EDGE_ER4: MacAddr = mac(0x01, 0x05);
const MAC_MSEE2_ER1: MacAddr = mac(0x04, 0x01);
const MAC_MSEE2_ER2: MacAddr = mac(0x04, 0x02);
const MAC_MSEE2_HUB: MacAddr = mac(0x04, 0x03);
const MAC_HUB_ER2: MacAddr = mac(0x03, 0x03);

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
    pub(super) edge_macs: [MacAddr; 2],
    /// The MSEE's MACs: primary, secondary, hub.
    pub(super) msee_macs: [MacAddr; 3],
    pub(super) hub_mac: MacAddr,
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

/// One VPN gateway instance's fixed names, addresses, SPIs and keys: its
/// tunnel (an interface of the same name on the edge and the hub) and
/// the BGP session over it.
#[derive(Debug)]
pub struct InstanceLayout {
    /// Its number in `fault.instance` and in reports (1, 2).
    pub number: u8,
    /// The tunnel interface on the edge and the hub (`vpn`, `vpn2`).
    pub tunnel: &'static str,
    /// The BGP session over the tunnel.
    pub session: SessionId,
    /// The instance's private tunnel endpoint.
    pub endpoint: Ipv4Addr,
    /// SPIs of the SA toward Azure and of the SA toward on-prem.
    pub spis: (u32, u32),
    /// Keys of those SAs (public test keys).
    pub(super) keys: (&'static str, &'static str),
}

/// The VPN gateway's instances: the first is the only one unless the
/// gateway is active-active.
pub const INSTANCES: [InstanceLayout; 2] = [
    InstanceLayout {
        number: 1,
        tunnel: "vpn",
        session: SessionId::Vpn,
        endpoint: AZURE_TUNNEL_ENDPOINT,
        spis: (SPI_TO_AZURE, SPI_TO_ONPREM),
        keys: (KEY_TO_AZURE, KEY_TO_ONPREM),
    },
    InstanceLayout {
        number: 2,
        tunnel: "vpn2",
        session: SessionId::Vpn2,
        endpoint: AZURE_TUNNEL_ENDPOINT_2,
        spis: (0x1002, 0x2002),
        keys: (KEY_TO_AZURE_2, KEY_TO_ONPREM_2),
    },
];

/// The VPN gateway instances of `scenario` (one, or two active-active).
pub fn instances(scenario: &Scenario) -> &'static [InstanceLayout] {
    &INSTANCES[..scenario.vpn_gateway.instances()]
}

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
pub(super) const VNET_LINK: &str = "azure-vnet";

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
