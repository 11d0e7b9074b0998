//! The TOML file as serde reads it (every table `deny_unknown_fields`), and
//! its conversion into a [`NodeConfig`]: fields that belong to the other
//! interface kind, missing required fields and names that do not resolve
//! become [`ConfigIssue`]s with the path of the field.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use super::error::{ConfigIssue, FieldPath};
use super::ike::RawIke;
use super::types::{
    DEFAULT_ETHERNET_MTU, DEFAULT_TUNNEL_MTU, EthernetConfig, InterfaceConfig, InterfaceKind,
    NeighborConfig, NodeConfig, PolicyAction, PolicyConfig, TunnelConfig, TunnelKeying,
};
use crate::esp::SaConfig;
use crate::fib::{InterfaceId, NextHop};
use crate::rib::{BgpAttributes, DEFAULT_MAX_PATHS, Origin, Route, SelectionMode, Session};
use crate::wire::{FlowHasher, MacAddr};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    name: String,
    #[serde(default)]
    route_selection: SelectionMode,
    max_paths: Option<usize>,
    flow_hash_seed: Option<u64>,
    #[serde(default, rename = "interface")]
    interfaces: Vec<RawInterface>,
    #[serde(default, rename = "neighbor")]
    neighbors: Vec<RawNeighbor>,
    #[serde(default, rename = "route")]
    routes: Vec<RawRoute>,
    #[serde(default, rename = "policy")]
    policies: Vec<RawPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    Ethernet,
    EspTunnel,
}

/// `[[interface]]`: the fields of both kinds; the kind decides which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    name: String,
    kind: RawKind,
    mac: Option<Mac>,
    addresses: Option<Vec<IpNet>>,
    mtu: Option<u16>,
    local: Option<IpAddr>,
    remote: Option<IpAddr>,
    mss_clamp: Option<u16>,
    sa_out: Option<SaConfig>,
    sa_in: Option<SaConfig>,
    ike: Option<RawIke>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNeighbor {
    interface: String,
    ip: IpAddr,
    mac: Mac,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawSource {
    #[default]
    Static,
    Bgp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: IpNet,
    interface: String,
    next_hop: Option<IpAddr>,
    #[serde(default)]
    source: RawSource,
    session: Option<Session>,
    weight: Option<u32>,
    local_pref: Option<u32>,
    as_path: Option<Vec<u32>>,
    origin: Option<Origin>,
    med: Option<u32>,
    connection_weight: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Requirement {
    #[default]
    Encrypted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    destination: Option<OneOrMany>,
    source: Option<OneOrMany>,
    #[serde(default)]
    #[allow(dead_code)] // only one requirement exists; parsed to reject others
    require: Requirement,
    #[serde(default)]
    action: PolicyAction,
}

/// A MAC address written as `02:00:00:00:01:01`.
#[derive(Debug, Clone, Copy)]
struct Mac(MacAddr);

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        MacAddr::from_str(&text)
            .map(Mac)
            .map_err(serde::de::Error::custom)
    }
}

/// A prefix or a list of prefixes: `destination = "10.1.0.0/16"` or
/// `destination = ["10.1.0.0/16", "fd00:1::/48"]`.
#[derive(Debug, Clone, Default)]
struct OneOrMany(Vec<IpNet>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a prefix like \"10.1.0.0/16\" or a list of prefixes")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<OneOrMany, E> {
                IpNet::from_str(text)
                    .map(|net| OneOrMany(vec![net]))
                    .map_err(|_| E::custom(format!("invalid prefix {text:?}")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(net) = seq.next_element::<IpNet>()? {
                    all.push(net);
                }
                Ok(OneOrMany(all))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Collects issues while converting.
struct Converter {
    issues: Vec<ConfigIssue>,
}

impl Converter {
    fn issue(&mut self, path: FieldPath, message: impl Into<String>) {
        self.issues.push(ConfigIssue::new(path, message));
    }

    /// Reports `field` as not applying to `kind` interfaces when present.
    fn refuse<T>(&mut self, at: &FieldPath, field: &str, value: &Option<T>, kind: &str) {
        if value.is_some() {
            self.issue(
                at.key(field),
                format!("does not apply to {kind} interfaces"),
            );
        }
    }

    fn require<T>(
        &mut self,
        at: &FieldPath,
        field: &str,
        value: Option<T>,
        kind: &str,
    ) -> Option<T> {
        if value.is_none() {
            self.issue(at.key(field), format!("{kind} interfaces need {field}"));
        }
        value
    }
}

impl RawNode {
    /// The typed configuration, or every structural issue found.
    /// `base` is the directory relative paths (`psk_file`) start from.
    pub(crate) fn into_config(self, base: &Path) -> Result<NodeConfig, Vec<ConfigIssue>> {
        let mut c = Converter { issues: Vec::new() };
        let root = FieldPath::root();
        let mut interfaces = Vec::with_capacity(self.interfaces.len());
        for (i, raw) in self.interfaces.into_iter().enumerate() {
            if let Some(interface) = convert_interface(&mut c, root.item("interface", i), raw, base)
            {
                interfaces.push(interface);
            }
        }
        let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        for (i, first) in duplicate_names(&names) {
            c.issue(
                root.item("interface", i).key("name"),
                format!(
                    "duplicate interface name {:?} (also interface[{first}])",
                    names[i]
                ),
            );
        }
        // Ids are only meaningful when every interface converted.
        let interface_ok = c.issues.is_empty();
        let lookup = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .map(|at| InterfaceId(at as u32))
        };
        let mut neighbors = Vec::new();
        for (i, raw) in self.neighbors.into_iter().enumerate() {
            let at = root.item("neighbor", i);
            match lookup(&raw.interface) {
                Some(interface) => neighbors.push(NeighborConfig {
                    interface,
                    ip: raw.ip,
                    mac: raw.mac.0,
                }),
                None if interface_ok => c.issue(
                    at.key("interface"),
                    unknown_interface(&raw.interface, &names),
                ),
                None => {}
            }
        }
        let mut routes = Vec::new();
        for (i, raw) in self.routes.into_iter().enumerate() {
            let at = root.item("route", i);
            match lookup(&raw.interface) {
                Some(interface) => routes.push(convert_route(&mut c, &at, raw, interface)),
                None if interface_ok => c.issue(
                    at.key("interface"),
                    unknown_interface(&raw.interface, &names),
                ),
                None => {}
            }
        }
        let policies = self
            .policies
            .into_iter()
            .map(|raw| PolicyConfig {
                name: raw.name,
                destinations: raw.destination.unwrap_or_default().0,
                sources: raw.source.unwrap_or_default().0,
                action: raw.action,
            })
            .collect();
        if !c.issues.is_empty() {
            return Err(c.issues);
        }
        Ok(NodeConfig {
            name: self.name,
            route_selection: self.route_selection,
            max_paths: self.max_paths.unwrap_or(DEFAULT_MAX_PATHS),
            flow_hash_seed: self.flow_hash_seed.unwrap_or(FlowHasher::DEFAULT_SEED),
            interfaces,
            neighbors,
            routes,
            policies,
        })
    }
}

/// `(index, index of the first use)` for every name used before.
pub(crate) fn duplicate_names(names: &[&str]) -> Vec<(usize, usize)> {
    let mut first_use = std::collections::HashMap::new();
    names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let first = *first_use.entry(*name).or_insert(i);
            (first != i).then_some((i, first))
        })
        .collect()
}

fn unknown_interface(name: &str, known: &[&str]) -> String {
    format!(
        "unknown interface {name:?} (interfaces: {})",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )
}

fn convert_interface(
    c: &mut Converter,
    at: FieldPath,
    raw: RawInterface,
    base: &Path,
) -> Option<InterfaceConfig> {
    let kind = match raw.kind {
        RawKind::Ethernet => {
            const KIND: &str = "ethernet";
            c.refuse(&at, "local", &raw.local, KIND);
            c.refuse(&at, "remote", &raw.remote, KIND);
            c.refuse(&at, "mss_clamp", &raw.mss_clamp, KIND);
            c.refuse(&at, "sa_out", &raw.sa_out, KIND);
            c.refuse(&at, "sa_in", &raw.sa_in, KIND);
            c.refuse(&at, "ike", &raw.ike, KIND);
            let mac = c.require(&at, "mac", raw.mac, KIND)?;
            InterfaceKind::Ethernet(EthernetConfig {
                mac: mac.0,
                addresses: raw.addresses.unwrap_or_default(),
                mtu: raw.mtu.unwrap_or(DEFAULT_ETHERNET_MTU),
            })
        }
        RawKind::EspTunnel => {
            const KIND: &str = "esp-tunnel";
            c.refuse(&at, "mac", &raw.mac, KIND);
            c.refuse(&at, "addresses", &raw.addresses, KIND);
            let local = c.require(&at, "local", raw.local, KIND);
            let remote = c.require(&at, "remote", raw.remote, KIND);
            let keying = match raw.ike {
                Some(ike) => {
                    for (field, sa) in [("sa_out", &raw.sa_out), ("sa_in", &raw.sa_in)] {
                        if sa.is_some() {
                            c.issue(
                                at.key(field),
                                "leave it out: the ike table negotiates the SAs",
                            );
                        }
                    }
                    match ike.convert(&at.key("ike"), base, local) {
                        Ok(ike) => Some(TunnelKeying::Ike(Box::new(ike))),
                        Err(issues) => {
                            c.issues.extend(issues);
                            None
                        }
                    }
                }
                None if raw.sa_out.is_none() && raw.sa_in.is_none() => {
                    c.issue(
                        at.key("sa_out"),
                        "esp-tunnel interfaces need sa_out and sa_in, or an ike table",
                    );
                    None
                }
                None => {
                    let sa_out = c.require(&at, "sa_out", raw.sa_out, KIND);
                    let sa_in = c.require(&at, "sa_in", raw.sa_in, KIND);
                    sa_out
                        .zip(sa_in)
                        .map(|(sa_out, sa_in)| TunnelKeying::Static { sa_out, sa_in })
                }
            };
            InterfaceKind::EspTunnel(Box::new(TunnelConfig {
                local: local?,
                remote: remote?,
                mtu: raw.mtu.unwrap_or(DEFAULT_TUNNEL_MTU),
                mss_clamp: raw.mss_clamp,
                keying: keying?,
            }))
        }
    };
    Some(InterfaceConfig {
        name: raw.name,
        kind,
    })
}

fn convert_route(
    c: &mut Converter,
    at: &FieldPath,
    raw: RawRoute,
    interface: InterfaceId,
) -> Route {
    let next_hop = NextHop {
        interface,
        via: raw.next_hop,
    };
    let session = raw.session.unwrap_or(Session::Other);
    let bgp_fields = [
        ("weight", raw.weight.is_some()),
        ("local_pref", raw.local_pref.is_some()),
        ("as_path", raw.as_path.is_some()),
        ("origin", raw.origin.is_some()),
        ("med", raw.med.is_some()),
    ];
    let defaults = BgpAttributes::default();
    let route = match raw.source {
        RawSource::Static => {
            for (field, present) in bgp_fields {
                if present {
                    c.issue(
                        at.key(field),
                        "is a BGP attribute: set source = \"bgp\" or remove it",
                    );
                }
            }
            Route::static_route(raw.prefix, next_hop)
        }
        RawSource::Bgp => Route::bgp(raw.prefix, next_hop, session)
            .with_weight(raw.weight.unwrap_or(defaults.weight))
            .with_local_pref(raw.local_pref.unwrap_or(defaults.local_pref))
            .with_as_path(raw.as_path.as_deref().unwrap_or_default())
            .with_origin(raw.origin.unwrap_or(defaults.origin))
            .with_med(raw.med.unwrap_or(defaults.med)),
    };
    let mut route = route.with_connection_weight(raw.connection_weight.unwrap_or(0));
    route.session = session;
    route
}
