//! The traffic of a run: each `[[flow]]` becomes apps on the two hosts
//! (a TCP bulk transfer, pings, or a UDP sender and receiver), with its
//! identity on the wire (protocol, ports, addresses) so the findings can
//! pick its packets out of the nodes' tallies, and its DSCP check.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::IpNumber;

use super::super::ScenarioError;
use super::super::model::{Flow, FlowKind, Scenario, Side};
use super::super::topology::Topology;
use super::ms;
use crate::emu::app::{
    App, Ping, PingConfig, TcpBulk, TcpBulkConfig, UdpReceiver, UdpReceiverConfig, UdpSender,
    UdpSenderConfig,
};
use crate::emu::host::FlowMatch;
use crate::emu::{AppId, DeviceId, Host, SimTime};

/// The apps of one flow.
#[derive(Debug, Clone, Copy)]
pub(in crate::scenario) enum Apps {
    Tcp {
        client: (DeviceId, AppId),
        server: (DeviceId, AppId),
    },
    Ping((DeviceId, AppId)),
    Udp {
        sender: (DeviceId, AppId),
        receiver: (DeviceId, AppId),
    },
}

/// One flow's identity on the wire and its apps.
#[derive(Debug, Clone, Copy)]
pub(in crate::scenario) struct FlowPlan {
    pub(in crate::scenario) apps: Apps,
    pub(in crate::scenario) protocol: IpNumber,
    /// Source and destination ports of the data direction (ICMP: the
    /// identifier, 0).
    pub(in crate::scenario) ports: (u16, u16),
    pub(in crate::scenario) from: IpAddr,
    pub(in crate::scenario) to: IpAddr,
    /// The receiving host and the index of its DSCP check.
    pub(in crate::scenario) dscp_check: Option<(DeviceId, usize)>,
}

/// Every flow's plan, in `[[flow]]` order, and when the last probe (ping
/// or UDP datagram) has had two seconds to come back.
#[derive(Debug)]
pub(super) struct Traffic {
    pub(super) plans: Vec<FlowPlan>,
    pub(super) probes_end: SimTime,
}

/// Adds every flow's apps to the hosts.
pub(super) fn add_traffic(
    scenario: &Scenario,
    topo: &mut Topology,
    seed: u64,
) -> Result<Traffic, ScenarioError> {
    let mut plans = Vec::new();
    let mut probes_end = SimTime::ZERO;
    for (index, flow) in scenario.flows.iter().enumerate() {
        plans.push(plan_flow(scenario, topo, index, flow, seed)?);
        if flow.kind != FlowKind::Tcp {
            let span = flow.interval_ms * flow.count as f64 + 2000.0;
            probes_end = probes_end.max(ms(flow.start_ms) + Duration::from_secs_f64(span / 1e3));
        }
    }
    Ok(Traffic { plans, probes_end })
}

/// Whether every flow's traffic is over (TCP verified, probes sent and
/// given two seconds to come back).
pub(super) fn traffic_done(topo: &Topology, traffic: &Traffic) -> bool {
    if topo.sim.now() < traffic.probes_end {
        return false;
    }
    traffic.plans.iter().all(|plan| match plan.apps {
        Apps::Tcp { server, .. } => topo
            .sim
            .device::<Host>(server.0)
            .and_then(|h| h.tcp_bulk_report(server.1))
            .is_some_and(|r| r.receive_verified()),
        _ => true,
    })
}

/// The flow's source and destination addresses when it starts on `side`.
fn addresses(scenario: &Scenario, side: Side) -> (IpAddr, IpAddr) {
    let (onprem, azure) = (scenario.onprem.host.addr(), scenario.azure.host.addr());
    match side {
        Side::Onprem => (onprem, azure),
        Side::Azure => (azure, onprem),
    }
}

fn add_app(topo: &mut Topology, host: DeviceId, app: Box<dyn App>) -> Result<AppId, ScenarioError> {
    topo.sim
        .update::<Host, _>(host, |h| h.add_app(app))
        .ok_or_else(|| ScenarioError::invalid("host", "not a host".into()))?
        .map_err(|e| ScenarioError::invalid("flow", e.to_string()))
}

/// Adds flow `index`'s apps and its DSCP marking and check.
fn plan_flow(
    scenario: &Scenario,
    topo: &mut Topology,
    index: usize,
    flow: &Flow,
    seed: u64,
) -> Result<FlowPlan, ScenarioError> {
    let (from, to) = addresses(scenario, flow.from);
    let host_of = |side: Side| match side {
        Side::Onprem => topo.onprem_host,
        Side::Azure => topo.azure_host,
    };
    let (src_host, dst_host) = (host_of(flow.from), host_of(flow.from.peer()));
    let port = if flow.port == 0 {
        5000 + index as u16
    } else {
        flow.port
    };
    let local_port = 40000 + index as u16;
    let (apps, protocol, ports) = match flow.kind {
        FlowKind::Tcp => {
            let (mut client, server) = TcpBulkConfig::pair(
                &flow.name,
                SocketAddr::new(to, port),
                local_port,
                flow.bytes,
                0,
                seed,
            );
            client.start_at = ms(flow.start_ms);
            let server = add_app(topo, dst_host, Box::new(TcpBulk::new(server)))?;
            let client = add_app(topo, src_host, Box::new(TcpBulk::new(client)))?;
            let apps = Apps::Tcp {
                client: (src_host, client),
                server: (dst_host, server),
            };
            (apps, IpNumber::TCP, (local_port, port))
        }
        FlowKind::Ping => {
            let ident = index as u16 + 1;
            let id = add_app(topo, src_host, Box::new(ping(flow, to, ident)))?;
            let protocol = if to.is_ipv4() {
                IpNumber::ICMP
            } else {
                IpNumber::IPV6_ICMP
            };
            (Apps::Ping((src_host, id)), protocol, (ident, 0))
        }
        FlowKind::Udp => {
            let receiver = add_app(
                topo,
                dst_host,
                Box::new(UdpReceiver::new(UdpReceiverConfig {
                    name: format!("{} receiver", flow.name),
                    port,
                    expect_count: flow.count,
                    max_payload_len: flow.payload.max(16),
                })),
            )?;
            let sender = add_app(
                topo,
                src_host,
                Box::new(UdpSender::new(UdpSenderConfig {
                    name: flow.name.clone(),
                    target: SocketAddr::new(to, port),
                    local_port,
                    count: flow.count,
                    interval: interval(flow),
                    payload_len: flow.payload,
                    start_at: ms(flow.start_ms),
                })),
            )?;
            let apps = Apps::Udp {
                sender: (src_host, sender),
                receiver: (dst_host, receiver),
            };
            (apps, IpNumber::UDP, (local_port, port))
        }
    };
    let dscp_check = mark_dscp(topo, flow, protocol, port, (src_host, dst_host))?;
    Ok(FlowPlan {
        apps,
        protocol,
        ports,
        from,
        to,
        dscp_check,
    })
}

fn interval(flow: &Flow) -> Duration {
    Duration::from_secs_f64(flow.interval_ms / 1e3)
}

/// The pinger of a `ping` flow toward `to`, with ICMP identifier `ident`.
fn ping(flow: &Flow, to: IpAddr, ident: u16) -> Ping {
    let mut config = PingConfig::new(&flow.name, to, flow.count.min(u64::from(u32::MAX)) as u32);
    config.interval = interval(flow);
    config.payload_len = flow.payload;
    config.start_at = ms(flow.start_ms);
    config.ident = ident;
    Ping::new(config)
}

/// A flow with a DSCP: the sender marks its packets and the receiver
/// checks the mark; returns the receiver and its check's index.
fn mark_dscp(
    topo: &mut Topology,
    flow: &Flow,
    protocol: IpNumber,
    port: u16,
    (src_host, dst_host): (DeviceId, DeviceId),
) -> Result<Option<(DeviceId, usize)>, ScenarioError> {
    if flow.dscp == 0 {
        return Ok(None);
    }
    let matcher = match flow.kind {
        FlowKind::Tcp => FlowMatch::tcp_to(port),
        FlowKind::Udp => FlowMatch::udp_to(port),
        FlowKind::Ping => FlowMatch {
            protocol: Some(protocol.0),
            ..FlowMatch::default()
        },
    };
    let dscp = flow.dscp;
    let marked = topo
        .sim
        .update::<Host, _>(src_host, |h| h.mark_dscp(matcher, dscp));
    let checked = topo.sim.update::<Host, _>(dst_host, |h| {
        h.check_dscp(matcher, dscp)
            .map(|()| h.dscp_checks().len().saturating_sub(1))
    });
    match (marked, checked) {
        (Some(Ok(())), Some(Ok(slot))) => Ok(Some((dst_host, slot))),
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            Err(ScenarioError::invalid(&flow.name, e.to_string()))
        }
        _ => Ok(None),
    }
}
