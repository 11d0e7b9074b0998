//! [`Node`]: one router built from a [`NodeConfig`]: Ethernet ports and ESP
//! tunnels, the static neighbour table, the RIB feeding a lock-free FIB,
//! the inbound SA database and the compiled policies. Shared by worker
//! threads (`Sync`); see [`super::Worker`] for the per-packet path.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use etherparse::IpNumber;
use thiserror::Error;

use super::counters::{CounterSlot, NodeCounters};
use super::policy::Policies;
use super::tunnel_sas::{InboundSas, OutboundSlot, SaTable};
use super::worker::Worker;
use crate::config::{ConfigIssue, InterfaceKind, NodeConfig};
use crate::esp::{
    InboundSa, OutboundSa, SaConfig, SaConfigError, SaDbError, SaStats, TunnelEndpoints,
};
use crate::fib::{FibReader, InterfaceId};
use crate::rib::{Explanation, Rib, RibError, Route};
use crate::wire::{FlowHasher, FlowKey, MacAddr};

/// Why a node could not be built.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The configuration does not pass [`NodeConfig::validate`].
    #[error("invalid node configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ConfigIssue>),
    /// An SA could not be built.
    #[error("interface {interface}: {source}")]
    Sa {
        /// The tunnel interface.
        interface: String,
        /// Why.
        source: SaConfigError,
    },
    /// The inbound SA database refused an SA.
    #[error("interface {interface}: {source}")]
    SaDatabase {
        /// The tunnel interface.
        interface: String,
        /// Why.
        source: SaDbError,
    },
    /// SAs were offered for an interface that is not a tunnel.
    #[error("interface {interface} is not an esp-tunnel")]
    NotATunnel {
        /// The interface.
        interface: String,
    },
    /// The RIB refused a route.
    #[error("route {route}: {source}")]
    Rib {
        /// The route.
        route: String,
        /// Why.
        source: RibError,
    },
}

/// An Ethernet interface of the node (a router port).
#[derive(Debug)]
pub(crate) struct EthernetInterface {
    pub(crate) id: InterfaceId,
    pub(crate) mac: MacAddr,
    pub(crate) mtu: usize,
    pub(crate) v4: Box<[Ipv4Addr]>,
    pub(crate) v6: Box<[Ipv6Addr]>,
}

impl EthernetInterface {
    pub(crate) fn has_v4(&self, address: Ipv4Addr) -> bool {
        self.v4.contains(&address)
    }

    pub(crate) fn has_v6(&self, address: &Ipv6Addr) -> bool {
        self.v6.contains(address)
    }
}

/// An ESP tunnel interface.
#[derive(Debug)]
pub(crate) struct Tunnel {
    pub(crate) id: InterfaceId,
    pub(crate) local: IpAddr,
    pub(crate) remote: IpAddr,
    pub(crate) mtu: usize,
    pub(crate) mss_clamp: Option<u16>,
    /// The SA packets routed into the tunnel leave on; empty until IKE
    /// brings a CHILD_SA up, and after the peer is declared dead.
    pub(crate) sa_out: OutboundSlot,
    /// The flow hash of the outer packets (constant: local, remote, ESP),
    /// for ECMP on the underlay.
    pub(crate) outer_hash: u64,
}

/// An interface of the node.
#[derive(Debug)]
pub(crate) enum Interface {
    Ethernet(EthernetInterface),
    Tunnel(Box<Tunnel>),
}

/// A router: interfaces, neighbours, RIB and FIB, SAs and policies. Build
/// it once, share it (`Arc<Node>`) with [`Worker`]s on any number of threads.
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    pub(crate) interfaces: Box<[Interface]>,
    names: Box<[String]>,
    policy_names: Box<[String]>,
    /// Addresses of the node: interface addresses and tunnel endpoints.
    local_v4: Box<[Ipv4Addr]>,
    local_v6: Box<[Ipv6Addr]>,
    /// Endpoints of tunnels keyed by IKE: their UDP 500 and 4500 (non-ESP
    /// marker) datagrams are the control plane's.
    ike_endpoints: Box<[IpAddr]>,
    /// Static neighbours by (interface, address as a 128-bit integer:
    /// IPv4-mapped for IPv4), which hashes faster than an `IpAddr`.
    neighbors: HashMap<(u32, u128), MacAddr, foldhash::fast::FixedState>,
    /// Inbound SAs of every tunnel, replaceable at run time.
    pub(crate) sas: SaTable,
    pub(crate) policies: Policies,
    pub(crate) hasher: FlowHasher,
    fib: FibReader,
    rib: Mutex<Rib>,
    slots: Mutex<Vec<Arc<CounterSlot>>>,
}

const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Node>();
};

impl Node {
    /// Builds the node: validates `config`, builds the SAs, installs
    /// connected and configured routes in the RIB and publishes the FIB.
    pub fn new(config: NodeConfig) -> Result<Node, NodeError> {
        config.validate().map_err(NodeError::Invalid)?;
        let hasher = FlowHasher::with_seed(config.flow_hash_seed);
        let mut rib = Rib::new(config.route_selection).with_max_paths(config.max_paths);
        let mut inbound_sas = InboundSas::default();
        let mut interfaces = Vec::with_capacity(config.interfaces.len());
        let mut local_v4 = Vec::new();
        let mut local_v6 = Vec::new();
        let mut connected = Vec::new();
        let mut ike_endpoints = Vec::new();
        for (index, interface) in config.interfaces.iter().enumerate() {
            let id = InterfaceId(index as u32);
            rib.name_interface(id, interface.name.clone());
            let built = match &interface.kind {
                InterfaceKind::Ethernet(e) => {
                    let mut v4 = Vec::new();
                    let mut v6 = Vec::new();
                    for address in &e.addresses {
                        connected.push(Route::connected(address.trunc(), id));
                        match address.addr() {
                            IpAddr::V4(a) => v4.push(a),
                            IpAddr::V6(a) => v6.push(a),
                        }
                    }
                    local_v4.extend_from_slice(&v4);
                    local_v6.extend_from_slice(&v6);
                    Interface::Ethernet(EthernetInterface {
                        id,
                        mac: e.mac,
                        mtu: usize::from(e.mtu),
                        v4: v4.into(),
                        v6: v6.into(),
                    })
                }
                InterfaceKind::EspTunnel(t) => {
                    let endpoints = TunnelEndpoints {
                        local: t.local,
                        remote: t.remote,
                    };
                    let sa_error = |source| NodeError::Sa {
                        interface: interface.name.clone(),
                        source,
                    };
                    let sa_out = match t.static_sas() {
                        Some((sa_out, sa_in)) => {
                            let sa_out =
                                OutboundSa::with_endpoints(sa_out, endpoints).map_err(sa_error)?;
                            let mut inbound: SaConfig = sa_in.clone();
                            inbound.tunnel = Some(endpoints);
                            let sa_in = Arc::new(InboundSa::new(&inbound).map_err(sa_error)?);
                            inbound_sas.insert(id, sa_in).map_err(|source| {
                                NodeError::SaDatabase {
                                    interface: interface.name.clone(),
                                    source,
                                }
                            })?;
                            Some(sa_out)
                        }
                        None => {
                            inbound_sas.db.add_local(t.local);
                            None
                        }
                    };
                    if t.ike().is_some() {
                        ike_endpoints.push(t.local);
                    }
                    match t.local {
                        IpAddr::V4(a) => local_v4.push(a),
                        IpAddr::V6(a) => local_v6.push(a),
                    }
                    let outer = FlowKey {
                        source: t.local,
                        destination: t.remote,
                        protocol: IpNumber::ENCAPSULATING_SECURITY_PAYLOAD,
                        source_port: 0,
                        destination_port: 0,
                    };
                    Interface::Tunnel(Box::new(Tunnel {
                        id,
                        local: t.local,
                        remote: t.remote,
                        mtu: usize::from(t.mtu),
                        mss_clamp: t.mss_clamp,
                        sa_out: OutboundSlot::new(sa_out),
                        outer_hash: hasher.hash(&outer),
                    }))
                }
            };
            interfaces.push(built);
        }
        for route in connected.into_iter().chain(config.routes.iter().cloned()) {
            let shown = route.to_string();
            rib.add(route).map_err(|source| NodeError::Rib {
                route: shown,
                source,
            })?;
        }
        rib.publish();
        let neighbors = config
            .neighbors
            .iter()
            .map(|n| (neighbor_key(n.interface, n.ip), n.mac))
            .collect();
        local_v4.sort_unstable();
        local_v4.dedup();
        local_v6.sort_unstable();
        local_v6.dedup();
        Ok(Node {
            names: config.interfaces.iter().map(|i| i.name.clone()).collect(),
            policy_names: config.policies.iter().map(|p| p.name.clone()).collect(),
            policies: Policies::new(&config.policies),
            interfaces: interfaces.into(),
            local_v4: local_v4.into(),
            local_v6: local_v6.into(),
            ike_endpoints: ike_endpoints.into(),
            neighbors,
            sas: SaTable::new(inbound_sas),
            hasher,
            fib: rib.reader(),
            rib: Mutex::new(rib),
            // Slot 0 holds the counts of workers that are gone.
            slots: Mutex::new(vec![Arc::new(CounterSlot::new(
                config.interfaces.len(),
                config.policies.len(),
            ))]),
            config,
        })
    }

    /// A worker: processes batches on one thread, with its own counters.
    /// Make one per thread.
    pub fn worker(self: &Arc<Self>) -> Worker {
        let slot = Arc::new(CounterSlot::new(
            self.interfaces.len(),
            self.policy_names.len(),
        ));
        lock(&self.slots).push(Arc::clone(&slot));
        Worker::new(Arc::clone(self), slot)
    }

    /// Folds a dropped worker's counters into the retired slot, so the
    /// slot list does not grow with every worker ever made (a replay, a
    /// pool per run) and [`Node::counters`] stays cheap.
    pub(crate) fn retire(&self, slot: &Arc<CounterSlot>) {
        let mut slots = lock(&self.slots);
        let Some(at) = slots.iter().skip(1).position(|s| Arc::ptr_eq(s, slot)) else {
            return;
        };
        let gone = slots.remove(at + 1);
        if let Some(retired) = slots.first() {
            retired.absorb(&gone);
        }
    }

    /// The configuration the node was built from.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Interface names, indexed by [`InterfaceId`].
    pub fn interface_names(&self) -> &[String] {
        &self.names
    }

    /// The name of an interface.
    pub fn interface_name(&self, id: InterfaceId) -> Option<&str> {
        self.names.get(id.0 as usize).map(String::as_str)
    }

    /// The id of the interface called `name`.
    pub fn interface_id(&self, name: &str) -> Option<InterfaceId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|at| InterfaceId(at as u32))
    }

    /// True for an esp-tunnel interface.
    pub fn is_tunnel(&self, id: InterfaceId) -> bool {
        matches!(self.interface(id), Some(Interface::Tunnel(_)))
    }

    /// Policy names, indexed by [`super::PolicyId`].
    pub fn policy_names(&self) -> &[String] {
        &self.policy_names
    }

    /// Counters of every worker, summed now.
    pub fn counters(&self) -> NodeCounters {
        let slots = lock(&self.slots);
        NodeCounters::sum(
            slots.iter().map(|s| s.as_ref()),
            &self.names,
            &self.policy_names,
        )
    }

    /// Per tunnel with SAs: its name and the counters of its current
    /// outbound SA and of its busiest inbound SA (a static tunnel has one;
    /// a tunnel waiting for IKE has none and is left out).
    pub fn sa_stats(&self) -> Vec<(String, SaStats, SaStats)> {
        let inbound = self.sas.inbound();
        self.interfaces
            .iter()
            .filter_map(|i| match i {
                Interface::Tunnel(t) => {
                    let sa_out = t.sa_out.load();
                    let sa_in = inbound
                        .spis_of(t.id)
                        .into_iter()
                        .filter_map(|spi| inbound.db.iter().find(|sa| sa.spi() == spi))
                        .max_by_key(|sa| sa.stats().packets)?;
                    Some((
                        self.interface_name(t.id).unwrap_or_default().to_owned(),
                        sa_out.as_ref()?.stats(),
                        sa_in.stats(),
                    ))
                }
                Interface::Ethernet(_) => None,
            })
            .collect()
    }

    /// Which route a packet to `destination` takes, and why.
    pub fn explain(&self, destination: IpAddr) -> Explanation {
        lock(&self.rib).explain(destination)
    }

    /// Changes routes (a BGP session going down, a new advertisement) and
    /// publishes the result; workers see it from their next batch, never
    /// blocking. Returns what `change` returns.
    pub fn update_routes<R>(&self, change: impl FnOnce(&mut Rib) -> R) -> R {
        let mut rib = lock(&self.rib);
        let result = change(&mut rib);
        rib.publish();
        result
    }

    /// The FIB handle workers read.
    pub fn fib(&self) -> &FibReader {
        &self.fib
    }

    pub(crate) fn interface(&self, id: InterfaceId) -> Option<&Interface> {
        self.interfaces.get(id.0 as usize)
    }

    /// True when `address` is one of the node's (interface or tunnel
    /// endpoint).
    #[inline]
    pub(crate) fn is_local(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(a) => self.local_v4.contains(&a),
            IpAddr::V6(a) => self.local_v6.contains(&a),
        }
    }

    /// True when `address` is the endpoint of a tunnel keyed by IKE.
    #[inline]
    pub(crate) fn is_ike_endpoint(&self, address: IpAddr) -> bool {
        !self.ike_endpoints.is_empty() && self.ike_endpoints.contains(&address)
    }

    #[inline]
    pub(crate) fn neighbor(&self, interface: InterfaceId, ip: IpAddr) -> Option<MacAddr> {
        self.neighbors.get(&neighbor_key(interface, ip)).copied()
    }

    /// The source address of an ICMP error about a packet that arrived on
    /// `ingress`: an address of that interface, else any address of the
    /// node of the family (RFC 1812 4.3.2.4 allows the router-id).
    pub(crate) fn icmp_source(&self, ingress: InterfaceId, v6: bool) -> Option<IpAddr> {
        let on_ingress = match self.interface(ingress) {
            Some(Interface::Ethernet(p)) if v6 => {
                p.v6.iter()
                    .find(|a| !a.is_unicast_link_local())
                    .map(|a| IpAddr::V6(*a))
            }
            Some(Interface::Ethernet(p)) => p.v4.first().map(|a| IpAddr::V4(*a)),
            _ => None,
        };
        on_ingress.or_else(|| {
            if v6 {
                self.local_v6.first().map(|a| IpAddr::V6(*a))
            } else {
                self.local_v4.first().map(|a| IpAddr::V4(*a))
            }
        })
    }

    /// The tunnel with this id.
    pub(crate) fn tunnel(&self, id: InterfaceId) -> Option<&Tunnel> {
        match self.interface(id) {
            Some(Interface::Tunnel(t)) => Some(t),
            _ => None,
        }
    }
}

/// The neighbour table's key for `ip` on `interface`.
#[inline]
fn neighbor_key(interface: InterfaceId, ip: IpAddr) -> (u32, u128) {
    let address = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => v6.to_bits(),
    };
    (interface.0, address)
}

/// Locks a mutex, recovering the data from a poisoned one (a panicked
/// holder cannot leave a RIB or a slot list half-changed in a way that
/// matters more than stopping the node).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
