//! One probe: a UDP packet built as the source host would send it, handed
//! to the first node's worker and carried from node to node along the
//! interfaces each node's forwarding decision (its [`Fate`]) picked, until
//! it reaches the destination's host link or is dropped. Records every
//! circuit link it crossed and whether it crossed it inside ESP.

use std::net::IpAddr;

use etherparse::PacketBuilder;
use serde::Serialize;

use super::fabric::{EDGE, End, Fabric, HUB};
use crate::dataplane::{Outcome, Outputs};
use crate::packet::PacketBuf;
use crate::scenario::Side;

/// More node hops than any loop-free path in the topology has.
const MAX_HOPS: usize = 16;
/// The probe's source MAC (a locally administered address of no node).
const PROBE_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xfe, 0x01];
/// UDP destination port of probes (traceroute's).
const PROBE_PORT: u16 = 33434;
/// IP protocol number of ESP (RFC 4303).
const IP_PROTOCOL_ESP: u8 = 50;

/// A circuit link a probe crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Crossing {
    /// The link's name.
    pub link: &'static str,
    /// Crossed inside ESP.
    pub esp: bool,
    /// The tunnel it crossed in, when the VPN gateway is active-active
    /// (`vpn`, `vpn2`: which instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<&'static str>,
}

/// What became of one probe (one direction of a pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trip {
    /// The circuit links crossed, in order.
    pub crossings: Vec<Crossing>,
    /// Reached the destination's host link.
    pub arrived: bool,
    /// Why it did not arrive, with the node (`no_route at onprem-edge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
    /// A node's must-encrypt policy flagged it (a plaintext violation).
    pub violation: bool,
}

impl Trip {
    /// Every circuit crossing was inside ESP (and there was one).
    pub fn encrypted(&self) -> bool {
        !self.crossings.is_empty() && self.crossings.iter().all(|c| c.esp)
    }

    /// The path as printed: `er-primary ESP`, `er-secondary plain`,
    /// `blackholed (no_route at azure-hub)`.
    pub fn path(&self) -> String {
        let mut text = self
            .crossings
            .iter()
            .map(|c| match (c.esp, c.tunnel) {
                (true, Some(tunnel)) => format!("{} ESP via {tunnel}", c.link),
                (true, None) => format!("{} ESP", c.link),
                (false, _) => format!("{} plain", c.link),
            })
            .collect::<Vec<_>>()
            .join(" > ");
        if !self.arrived {
            let why = self.dropped.as_deref().unwrap_or("lost");
            if !text.is_empty() {
                text.push_str(" > ");
            }
            text.push_str(&format!("blackholed ({why})"));
        }
        text
    }
}

/// Reusable buffers of a prober (no allocation per hop).
pub(super) struct Prober {
    frame: Vec<u8>,
    buf: PacketBuf,
    outputs: Outputs,
}

fn is_esp(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => frame.get(23) == Some(&IP_PROTOCOL_ESP),
        Some([0x86, 0xdd]) => frame.get(20) == Some(&IP_PROTOCOL_ESP),
        _ => false,
    }
}

impl Prober {
    pub(super) fn new() -> Self {
        Self {
            frame: Vec::with_capacity(128),
            buf: PacketBuf::new(),
            outputs: Outputs::new(),
        }
    }

    /// Sends one probe from `from` (a host of side `side`) to `to`;
    /// `port` spreads probes over ECMP paths as distinct flows would.
    pub(super) fn send(
        &mut self,
        fabric: &mut Fabric,
        side: Side,
        from: IpAddr,
        to: IpAddr,
        port: u16,
    ) -> Trip {
        let (node, interface) = match side {
            Side::Onprem => (EDGE, "lan"),
            Side::Azure => (HUB, "vnet"),
        };
        let mut trip = Trip {
            crossings: Vec::new(),
            arrived: false,
            dropped: None,
            violation: false,
        };
        let (Some(gateway_mac), Some(ingress)) = (
            fabric.mac(node, interface),
            fabric
                .nodes
                .get(node)
                .and_then(|n| n.interface_id(interface)),
        ) else {
            trip.dropped = Some(format!("no {interface} interface"));
            return trip;
        };
        let builder = PacketBuilder::ethernet2(PROBE_MAC, gateway_mac);
        let builder = match (from, to) {
            (IpAddr::V4(s), IpAddr::V4(d)) => builder.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => builder.ipv6(s.octets(), d.octets(), 64),
            _ => {
                trip.dropped = Some("mixed address families".into());
                return trip;
            }
        };
        let payload = *b"erdp-verify-probe";
        self.frame.clear();
        if builder
            .udp(port, PROBE_PORT)
            .write(&mut self.frame, &payload)
            .is_err()
            || self
                .buf
                .load(&self.frame, PacketBuf::DEFAULT_HEADROOM)
                .is_err()
        {
            trip.dropped = Some("probe did not build".into());
            return trip;
        }
        let destination = side.peer();
        let (mut node, mut ingress) = (node, ingress);
        // The tunnel the probe was last encrypted into (active-active).
        let mut tunnel = None;
        for _ in 0..MAX_HOPS {
            let Some(worker) = fabric.workers.get_mut(node) else {
                break;
            };
            worker.process(
                ingress,
                std::slice::from_mut(&mut self.buf),
                &mut self.outputs,
            );
            let name = fabric.nodes.get(node).map_or("?", |n| n.name());
            let Some(fate) = self.outputs.fates().first().copied() else {
                trip.dropped = Some(format!("no fate at {name}"));
                return trip;
            };
            trip.violation |= fate.policy.is_violation();
            if let Some(sa) = fate.encrypted {
                tunnel = fabric.tunnel_name(node, sa.tunnel);
            }
            let egress = match fate.outcome {
                Outcome::Forwarded(egress) => egress,
                Outcome::Delivered(what) => {
                    trip.dropped = Some(format!("delivered to {name} ({})", what.as_str()));
                    return trip;
                }
                Outcome::Dropped(reason) => {
                    trip.dropped = Some(format!("{} at {name}", reason.as_str()));
                    return trip;
                }
            };
            let Some((wire, other)) = fabric.across(node, egress) else {
                trip.dropped = Some(format!("{name} sent it on an unwired interface"));
                return trip;
            };
            if !wire.up {
                trip.dropped = Some(format!("{} is down", wire.name));
                return trip;
            }
            if wire.circuit {
                let esp = is_esp(self.buf.as_slice());
                trip.crossings.push(Crossing {
                    link: wire.name,
                    esp,
                    tunnel: if esp { tunnel } else { None },
                });
            }
            match other {
                End::Node(next, port) => (node, ingress) = (next, port),
                End::Host(host) if host == destination => {
                    trip.arrived = true;
                    return trip;
                }
                End::Host(host) => {
                    trip.dropped = Some(format!("sent back to the {} host", host.as_str()));
                    return trip;
                }
            }
        }
        trip.dropped = Some(format!("loop: more than {MAX_HOPS} hops"));
        trip
    }
}
