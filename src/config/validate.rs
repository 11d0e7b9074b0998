//! Semantic checks of a [`NodeConfig`]: unique names, SPIs and IKE peers, SA fields
//! ([`SaConfig::validate`]: key lengths, windows), MTUs, overlapping
//! interface addresses, neighbours on connected subnets, routes whose next
//! hop is a neighbour or on a connected subnet, prefixes without host bits
//! (as the RIB and FIB require), and tunnel endpoints reachable over an
//! Ethernet interface. Every problem is a [`ConfigIssue`] with its path.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::error::{ConfigIssue, FieldPath};
use super::file::duplicate_names;
use super::types::{
    EthernetConfig, InterfaceKind, MAX_MTU, MIN_ETHERNET_MTU, MIN_IPV6_MTU, MIN_MSS_CLAMP,
    NodeConfig, TunnelConfig,
};
use crate::esp::SaConfig;
use crate::fib::InterfaceId;
use crate::rib::{Route, RouteKey, select};

/// Largest ECMP width accepted.
pub const MAX_PATHS_LIMIT: usize = 64;

/// Bytes from the IP header start to the TCP payload with option-less
/// IPv4 and TCP headers (what an MSS leaves room for).
const IPV4_TCP_HEADERS: u16 = 40;

/// Every semantic problem of `config`, in file order (empty when valid).
pub(crate) fn validate(config: &NodeConfig) -> Vec<ConfigIssue> {
    let mut v = Validator {
        config,
        issues: Vec::new(),
    };
    let root = FieldPath::root();
    if config.name.trim().is_empty() {
        v.issue(root.key("name"), "must not be empty");
    }
    if !(1..=MAX_PATHS_LIMIT).contains(&config.max_paths) {
        v.issue(
            root.key("max_paths"),
            format!("{} is outside 1..={MAX_PATHS_LIMIT}", config.max_paths),
        );
    }
    v.interfaces();
    v.spis();
    v.ike_peers();
    v.overlapping_addresses();
    v.neighbors();
    v.routes();
    v.policies();
    v.tunnel_underlay();
    v.issues
}

struct Validator<'c> {
    config: &'c NodeConfig,
    issues: Vec<ConfigIssue>,
}

fn interface_path(i: usize) -> FieldPath {
    FieldPath::root().item("interface", i)
}

fn host_bits(prefix: &IpNet) -> Option<String> {
    (prefix.trunc() != *prefix).then(|| {
        format!(
            "prefix {prefix} has host bits set (did you mean {}?)",
            prefix.trunc()
        )
    })
}

fn is_unicast(address: IpAddr) -> bool {
    !(address.is_unspecified() || address.is_multicast() || address == IpAddr::from([255; 4]))
}

fn is_ipv6_link_local(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

impl<'c> Validator<'c> {
    fn issue(&mut self, path: FieldPath, message: impl Into<String>) {
        self.issues.push(ConfigIssue::new(path, message));
    }

    fn ethernet(&self, id: InterfaceId) -> Option<&'c EthernetConfig> {
        match &self.config.interface(id)?.kind {
            InterfaceKind::Ethernet(e) => Some(e),
            InterfaceKind::EspTunnel(_) => None,
        }
    }

    fn is_our_address(&self, address: IpAddr) -> bool {
        self.config.interfaces.iter().any(|i| match &i.kind {
            InterfaceKind::Ethernet(e) => e.addresses.iter().any(|a| a.addr() == address),
            InterfaceKind::EspTunnel(t) => t.local == address,
        })
    }

    fn interfaces(&mut self) {
        let names: Vec<&str> = self
            .config
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        for (i, first) in duplicate_names(&names) {
            self.issue(
                interface_path(i).key("name"),
                format!(
                    "duplicate interface name {:?} (also interface[{first}])",
                    names[i]
                ),
            );
        }
        for (i, interface) in self.config.interfaces.iter().enumerate() {
            let at = interface_path(i);
            if interface.name.trim().is_empty() {
                self.issue(at.key("name"), "must not be empty");
            }
            match &interface.kind {
                InterfaceKind::Ethernet(e) => self.ethernet_interface(&at, e),
                InterfaceKind::EspTunnel(t) => self.tunnel_interface(&at, t),
            }
        }
    }

    fn ethernet_interface(&mut self, at: &FieldPath, e: &EthernetConfig) {
        if !e.mac.is_unicast() || e.mac.0 == [0; 6] {
            self.issue(
                at.key("mac"),
                format!("{} is not a unicast MAC address", e.mac),
            );
        }
        let has_v6 = e.addresses.iter().any(|a| matches!(a, IpNet::V6(_)));
        let min = if has_v6 {
            MIN_IPV6_MTU
        } else {
            MIN_ETHERNET_MTU
        };
        if !(min..=MAX_MTU).contains(&e.mtu) {
            let why = if has_v6 { " (the port has IPv6)" } else { "" };
            self.issue(
                at.key("mtu"),
                format!("{} is outside {min}..={MAX_MTU}{why}", e.mtu),
            );
        }
        for (k, address) in e.addresses.iter().enumerate() {
            if !is_unicast(address.addr()) || address.addr().is_loopback() {
                self.issue(
                    at.key("addresses").index(k),
                    format!("{address} is not a unicast host address"),
                );
            }
        }
    }

    fn tunnel_interface(&mut self, at: &FieldPath, t: &TunnelConfig) {
        for (field, address) in [("local", t.local), ("remote", t.remote)] {
            if !is_unicast(address) || address.is_loopback() {
                self.issue(at.key(field), format!("{address} is not a unicast address"));
            }
        }
        if t.local.is_ipv4() != t.remote.is_ipv4() {
            self.issue(
                at.key("remote"),
                format!(
                    "local {} and remote {} are of different families",
                    t.local, t.remote
                ),
            );
        } else if t.local == t.remote {
            self.issue(at.key("remote"), "is the same address as local");
        }
        if !(MIN_IPV6_MTU..=MAX_MTU).contains(&t.mtu) {
            self.issue(
                at.key("mtu"),
                format!("{} is outside {MIN_IPV6_MTU}..={MAX_MTU}", t.mtu),
            );
        }
        if let Some(mss) = t.mss_clamp {
            let max = t.mtu.saturating_sub(IPV4_TCP_HEADERS);
            if !(MIN_MSS_CLAMP..=max).contains(&mss) {
                self.issue(
                    at.key("mss_clamp"),
                    format!("{mss} is outside {MIN_MSS_CLAMP}..={max} (the tunnel mtu less 40)"),
                );
            }
        }
        if let Some((sa_out, sa_in)) = t.static_sas() {
            for (field, sa) in [("sa_out", sa_out), ("sa_in", sa_in)] {
                self.sa(&at.key(field), sa);
            }
        }
    }

    fn sa(&mut self, at: &FieldPath, sa: &SaConfig) {
        if sa.tunnel.is_some() {
            self.issue(
                at.key("tunnel"),
                "leave it out: the endpoints are the interface's local and remote",
            );
        }
        if let Err(error) = sa.validate() {
            let mut path = at.clone();
            for part in error.field.split('.') {
                path = path.key(part);
            }
            self.issue(path, error.reason);
        }
    }

    /// Inbound SAs are found by SPI alone, outbound SPIs name the tunnel in
    /// reports: each must be unique.
    fn spis(&mut self) {
        for field in ["sa_in", "sa_out"] {
            let mut seen: HashMap<u32, usize> = HashMap::new();
            for (i, interface) in self.config.interfaces.iter().enumerate() {
                let InterfaceKind::EspTunnel(t) = &interface.kind else {
                    continue;
                };
                let Some((sa_out, sa_in)) = t.static_sas() else {
                    continue;
                };
                let spi = if field == "sa_in" {
                    sa_in.spi
                } else {
                    sa_out.spi
                };
                if let Some(first) = seen.insert(spi, i) {
                    self.issue(
                        interface_path(i).key(field).key("spi"),
                        format!("duplicate SPI 0x{spi:08x} (also interface[{first}].{field})"),
                    );
                }
            }
        }
    }

    /// IKE datagrams are handed to a tunnel by its (local, remote) pair:
    /// two IKE tunnels between the same endpoints could not be told apart.
    fn ike_peers(&mut self) {
        let mut seen: HashMap<(IpAddr, IpAddr), usize> = HashMap::new();
        for (i, interface) in self.config.interfaces.iter().enumerate() {
            let InterfaceKind::EspTunnel(t) = &interface.kind else {
                continue;
            };
            if t.ike().is_none() {
                continue;
            }
            if let Some(first) = seen.insert((t.local, t.remote), i) {
                self.issue(
                    interface_path(i).key("ike"),
                    format!(
                        "interface[{first}] already negotiates IKE between {} and {}",
                        t.local, t.remote
                    ),
                );
            }
        }
    }

    fn overlapping_addresses(&mut self) {
        let mut seen: Vec<(IpNet, FieldPath)> = Vec::new();
        for (i, interface) in self.config.interfaces.iter().enumerate() {
            let InterfaceKind::Ethernet(e) = &interface.kind else {
                continue;
            };
            for (k, address) in e.addresses.iter().enumerate() {
                let at = interface_path(i).key("addresses").index(k);
                let network = address.trunc();
                if let Some((other, where_)) = seen
                    .iter()
                    .find(|(o, _)| o.trunc().contains(&network) || network.contains(&o.trunc()))
                {
                    self.issue(at.clone(), format!("{address} overlaps {other} ({where_})"));
                }
                seen.push((*address, at));
            }
        }
    }

    /// Whether `address` is on a connected subnet of Ethernet `interface`.
    fn on_connected_subnet(&self, interface: InterfaceId, address: IpAddr) -> bool {
        self.ethernet(interface).is_some_and(|e| {
            e.addresses
                .iter()
                .any(|a| a.trunc().contains(&address) && a.addr() != address)
        }) || is_ipv6_link_local(address)
    }

    fn interface_name(&self, id: InterfaceId) -> &'c str {
        self.config.interface(id).map_or("?", |i| i.name.as_str())
    }

    fn neighbors(&mut self) {
        let mut seen: HashMap<(InterfaceId, IpAddr), usize> = HashMap::new();
        for (n, neighbor) in self.config.neighbors.iter().enumerate() {
            let at = FieldPath::root().item("neighbor", n);
            let name = self.interface_name(neighbor.interface);
            if self.ethernet(neighbor.interface).is_none() {
                self.issue(
                    at.key("interface"),
                    format!("{name:?} is not an ethernet interface"),
                );
                continue;
            }
            if self.is_our_address(neighbor.ip) {
                self.issue(
                    at.key("ip"),
                    format!("{} is an address of this node", neighbor.ip),
                );
            } else if !self.on_connected_subnet(neighbor.interface, neighbor.ip) {
                self.issue(
                    at.key("ip"),
                    format!("{} is not on a connected subnet of {name:?}", neighbor.ip),
                );
            }
            if !neighbor.mac.is_unicast() || neighbor.mac.0 == [0; 6] {
                self.issue(
                    at.key("mac"),
                    format!("{} is not a unicast MAC address", neighbor.mac),
                );
            }
            if let Some(first) = seen.insert((neighbor.interface, neighbor.ip), n) {
                self.issue(
                    at.key("ip"),
                    format!(
                        "duplicate neighbour {} (also neighbor[{first}])",
                        neighbor.ip
                    ),
                );
            }
        }
    }

    fn is_neighbor(&self, interface: InterfaceId, ip: IpAddr) -> bool {
        self.config
            .neighbors
            .iter()
            .any(|n| n.interface == interface && n.ip == ip)
    }

    fn routes(&mut self) {
        let mut seen: HashMap<RouteKey, usize> = HashMap::new();
        for (r, route) in self.config.routes.iter().enumerate() {
            let at = FieldPath::root().item("route", r);
            if let Some(message) = host_bits(&route.prefix) {
                self.issue(at.key("prefix"), message);
            }
            let interface = route.next_hop.interface;
            let name = self.interface_name(interface);
            match (self.ethernet(interface), route.next_hop.via) {
                (None, Some(via)) => self.issue(
                    at.key("next_hop"),
                    format!(
                        "{via}: esp-tunnel interface {name:?} is point-to-point, leave next_hop out"
                    ),
                ),
                (Some(_), Some(via)) => {
                    if via.is_ipv4() != route.prefix.addr().is_ipv4() {
                        self.issue(
                            at.key("next_hop"),
                            format!("{via} is not of the family of {}", route.prefix),
                        );
                    } else if self.is_our_address(via) {
                        self.issue(
                            at.key("next_hop"),
                            format!("{via} is an address of this node"),
                        );
                    } else if !self.is_neighbor(interface, via)
                        && !self.on_connected_subnet(interface, via)
                    {
                        self.issue(
                            at.key("next_hop"),
                            format!(
                                "{via} is neither a configured neighbour on {name:?} nor on one of its connected subnets"
                            ),
                        );
                    }
                }
                (_, None) => {}
            }
            if let Some(first) = seen.insert(route.key(), r) {
                self.issue(
                    at.clone(),
                    format!("duplicate route (same prefix, interface, next hop, source and session as route[{first}])"),
                );
            }
        }
    }

    fn policies(&mut self) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (p, policy) in self.config.policies.iter().enumerate() {
            let at = FieldPath::root().item("policy", p);
            if policy.name.trim().is_empty() {
                self.issue(at.key("name"), "must not be empty");
            } else if let Some(first) = seen.insert(&policy.name, p) {
                self.issue(
                    at.key("name"),
                    format!(
                        "duplicate policy name {:?} (also policy[{first}])",
                        policy.name
                    ),
                );
            }
            if policy.destinations.is_empty() && policy.sources.is_empty() {
                self.issue(at.clone(), "names no prefix: set destination and/or source");
            }
            for (field, prefixes) in [
                ("destination", &policy.destinations),
                ("source", &policy.sources),
            ] {
                for (k, prefix) in prefixes.iter().enumerate() {
                    if let Some(message) = host_bits(prefix) {
                        self.issue(at.key(field).index(k), message);
                    }
                }
            }
        }
    }

    /// A tunnel's outer packets are routed by the FIB: the remote endpoint
    /// must resolve, by longest prefix and the selection mode, to an
    /// Ethernet interface (not to a tunnel, not to nothing).
    fn tunnel_underlay(&mut self) {
        if !self.issues.is_empty() {
            return; // routes and addresses must be sound first
        }
        let routes = self.routes_with_connected();
        for (i, interface) in self.config.interfaces.iter().enumerate() {
            let InterfaceKind::EspTunnel(t) = &interface.kind else {
                continue;
            };
            let longest = routes
                .iter()
                .filter(|r| r.prefix.contains(&t.remote))
                .map(|r| r.prefix.prefix_len())
                .max();
            let Some(longest) = longest else {
                self.issue(
                    interface_path(i).key("remote"),
                    format!("no route reaches the remote endpoint {}", t.remote),
                );
                continue;
            };
            let candidates: Vec<Route> = routes
                .iter()
                .filter(|r| r.prefix.contains(&t.remote) && r.prefix.prefix_len() == longest)
                .cloned()
                .collect();
            let chosen = select(
                self.config.route_selection,
                &candidates,
                self.config.max_paths,
            );
            for route in chosen.iter().flat_map(|s| &s.chosen) {
                if self.ethernet(route.next_hop.interface).is_none() {
                    self.issue(
                        interface_path(i).key("remote"),
                        format!(
                            "the remote endpoint {} is routed by {} into tunnel {:?}: outer packets must leave on an ethernet interface",
                            t.remote,
                            route.prefix,
                            self.interface_name(route.next_hop.interface)
                        ),
                    );
                }
            }
        }
    }

    fn routes_with_connected(&self) -> Vec<Route> {
        let mut routes = self.config.routes.clone();
        for (i, interface) in self.config.interfaces.iter().enumerate() {
            if let InterfaceKind::Ethernet(e) = &interface.kind {
                routes.extend(
                    e.addresses
                        .iter()
                        .map(|a| Route::connected(a.trunc(), InterfaceId(i as u32))),
                );
            }
        }
        routes
    }
}
