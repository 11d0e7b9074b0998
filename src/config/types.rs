//! The validated description of one node, as the dataplane builds it:
//! interfaces (indexed by [`InterfaceId`]), static neighbours, routes for
//! the RIB, the selection mode and the must-encrypt policies.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::ike::TunnelIke;
use crate::esp::SaConfig;
use crate::fib::InterfaceId;
use crate::rib::{Route, SelectionMode};
use crate::wire::MacAddr;

/// Default MTU of an Ethernet interface (the IP packet size, RFC 894).
pub const DEFAULT_ETHERNET_MTU: u16 = 1500;
/// Default MTU of an ESP tunnel interface (Azure's recommendation for VPN
/// tunnels; the inner IP packet size).
pub const DEFAULT_TUNNEL_MTU: u16 = 1400;
/// Smallest MTU accepted on an Ethernet interface (RFC 791: 68).
pub const MIN_ETHERNET_MTU: u16 = 68;
/// Smallest MTU accepted on a tunnel, and on an Ethernet interface with an
/// IPv6 address (RFC 8200 section 5: 1280).
pub const MIN_IPV6_MTU: u16 = 1280;
/// Largest MTU accepted (a 9000-byte jumbo frame).
pub const MAX_MTU: u16 = 9000;
/// Smallest MSS clamp accepted (the IPv4 default MSS, RFC 9293 3.7.1).
pub const MIN_MSS_CLAMP: u16 = 536;

/// One node: what `erdp replay` and the emulator forward with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's name (reports, logs).
    pub name: String,
    /// How routes for an identical prefix are chosen.
    pub route_selection: SelectionMode,
    /// Most equal-cost paths kept per prefix (ECMP).
    pub max_paths: usize,
    /// Seed of the ECMP flow hash (the same seed gives the same choices).
    pub flow_hash_seed: u64,
    /// Interfaces; an interface's [`InterfaceId`] is its index here.
    pub interfaces: Vec<InterfaceConfig>,
    /// Static neighbours (IP to MAC on an Ethernet interface).
    pub neighbors: Vec<NeighborConfig>,
    /// Configured routes (connected routes come from interface addresses).
    pub routes: Vec<Route>,
    /// Prefixes whose traffic must leave encrypted.
    pub policies: Vec<PolicyConfig>,
}

impl NodeConfig {
    /// The id of the interface called `name`.
    pub fn interface_id(&self, name: &str) -> Option<InterfaceId> {
        self.interfaces
            .iter()
            .position(|i| i.name == name)
            .map(|at| InterfaceId(at as u32))
    }

    /// The interface with this id.
    pub fn interface(&self, id: InterfaceId) -> Option<&InterfaceConfig> {
        self.interfaces.get(id.0 as usize)
    }
}

/// One interface.
#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    /// Unique name (`lan`, `er`, `vpn`).
    pub name: String,
    /// Ethernet port or ESP tunnel.
    pub kind: InterfaceKind,
}

/// What an interface is.
#[derive(Debug, Clone)]
pub enum InterfaceKind {
    /// A router port on an Ethernet segment.
    Ethernet(EthernetConfig),
    /// An ESP tunnel whose outer packets are routed again by the FIB.
    EspTunnel(Box<TunnelConfig>),
}

/// An Ethernet router port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetConfig {
    /// The port's unicast MAC address.
    pub mac: MacAddr,
    /// Addresses with their prefix length (`10.0.0.1/16`); each gives a
    /// connected route.
    pub addresses: Vec<IpNet>,
    /// Largest IP packet sent on the port.
    pub mtu: u16,
}

/// An ESP tunnel (RFC 4303 tunnel mode) and where its SAs come from.
#[derive(Debug, Clone)]
pub struct TunnelConfig {
    /// This node's tunnel endpoint (outer source).
    pub local: IpAddr,
    /// The peer gateway's endpoint (outer destination).
    pub remote: IpAddr,
    /// Largest inner IP packet the tunnel carries.
    pub mtu: u16,
    /// Clamp the TCP MSS of SYNs entering or leaving the tunnel to this.
    pub mss_clamp: Option<u16>,
    /// Where the tunnel's SAs come from.
    pub keying: TunnelKeying,
}

/// Where a tunnel's SAs come from.
#[derive(Debug, Clone)]
// One per tunnel, built once (and the tunnel config is boxed already).
#[allow(clippy::large_enum_variant)]
pub enum TunnelKeying {
    /// Fixed SAs from the file.
    Static {
        /// The SA for packets we send (its tunnel endpoints are
        /// `local`/`remote`).
        sa_out: SaConfig,
        /// The SA for packets we receive.
        sa_in: SaConfig,
    },
    /// SAs negotiated with IKEv2: none until the CHILD_SA is up.
    Ike(Box<TunnelIke>),
}

impl TunnelConfig {
    /// The static SAs `(sa_out, sa_in)`, or `None` for an IKE tunnel.
    pub fn static_sas(&self) -> Option<(&SaConfig, &SaConfig)> {
        match &self.keying {
            TunnelKeying::Static { sa_out, sa_in } => Some((sa_out, sa_in)),
            TunnelKeying::Ike(_) => None,
        }
    }

    /// The `ike` table, or `None` for static SAs.
    pub fn ike(&self) -> Option<&TunnelIke> {
        match &self.keying {
            TunnelKeying::Ike(ike) => Some(ike),
            TunnelKeying::Static { .. } => None,
        }
    }
}

/// A static neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborConfig {
    /// The Ethernet interface it is on.
    pub interface: InterfaceId,
    /// Its IP address.
    pub ip: IpAddr,
    /// Its MAC address.
    pub mac: MacAddr,
}

/// What happens to a packet that breaks a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyAction {
    /// Count and report the violation; the packet is still forwarded.
    #[default]
    Report,
    /// Fail closed: count, report and drop the packet (`policy_violation`).
    Drop,
}

/// Prefixes whose traffic must leave this node encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Name shown in reports.
    pub name: String,
    /// Packets toward these prefixes must leave inside ESP.
    pub destinations: Vec<IpNet>,
    /// Packets from these prefixes must leave inside ESP.
    pub sources: Vec<IpNet>,
    /// Report only, or drop too.
    pub action: PolicyAction,
}
