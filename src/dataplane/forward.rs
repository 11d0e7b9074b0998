//! The IP path of a frame: validation (RFC 791 / RFC 8200), local delivery
//! or ESP termination for our addresses, then forwarding: TTL / hop limit
//! (RFC 1812 5.3.1), longest-prefix match, ECMP by flow hash, MTU check, and
//! either plain egress with L2 rewrite or the tunnel: MSS clamp, ESP
//! encapsulation (RFC 4303) and a second lookup for the outer packet.
//!
//! Invariant: a refusal that asks for an ICMP error leaves the buffer as it
//! arrived, so the error can quote it.

use std::net::IpAddr;

use etherparse::{EtherType, IpNumber};

use super::counters::CounterSlot;
use super::fate::{Delivery, DropReason, Fate, Outcome, PolicyVerdict, RouteHit, SaUse};
use super::node::{Interface, Node, Port, Tunnel};
use super::outputs::Outputs;
use crate::esp::PacketClass;
use crate::fib::{Fib, InterfaceId, NextHop};
use crate::packet::PacketBuf;
use crate::wire::{
    EthernetHeader, FlowKey, IpPacket, Ipv4Packet, Ipv6Packet, MacAddr, WireError, clamp_tcp_mss,
    is_invalid_ipv4_source, push_ethernet_header,
};

/// The per-batch view of the node a worker forwards with.
pub(crate) struct Pipeline<'a> {
    pub(crate) node: &'a Node,
    pub(crate) fib: &'a Fib,
    pub(crate) slot: &'a CounterSlot,
}

/// How a packet reached the IP layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The Ethernet port, or the tunnel it was decapsulated from.
    pub(crate) interface: InterfaceId,
    /// It came in a link-layer broadcast or multicast frame.
    pub(crate) link_group: bool,
    /// It came in ESP, decapsulated with this SA.
    pub(crate) decrypted: Option<SaUse>,
    /// The IP version the EtherType announced (none after decapsulation).
    pub(crate) version: Option<u8>,
}

/// What forwarding needs from a validated IP packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub(crate) flow: FlowKey,
    pub(crate) total_len: usize,
    pub(crate) ttl: u8,
    pub(crate) dont_fragment: bool,
    pub(crate) v6: bool,
}

impl Meta {
    /// Validates `bytes` as an IP packet (IPv4 header checksum included).
    pub(crate) fn parse(bytes: &[u8], version: Option<u8>) -> Result<Meta, WireError> {
        let packet = IpPacket::new_checked(bytes)?;
        let (found, ttl, dont_fragment) = match &packet {
            IpPacket::V4(p) => (4, p.ttl(), p.dont_fragment()),
            IpPacket::V6(p) => (6, p.hop_limit(), false),
        };
        if let Some(expected) = version
            && expected != found
        {
            return Err(WireError::IpVersion { expected, found });
        }
        Ok(Meta {
            flow: FlowKey::from_packet(&packet),
            total_len: packet.total_len(),
            ttl,
            dont_fragment,
            v6: found == 6,
        })
    }
}

/// A packet on its way out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    pub(crate) interface: InterfaceId,
    pub(crate) route: RouteHit,
    pub(crate) encrypted: Option<SaUse>,
    pub(crate) policy: PolicyVerdict,
}

/// An ICMP error a refusal calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpKind {
    TimeExceeded,
    NoRoute,
    NoNeighbor,
    TooBig(u16),
}

/// Why forwarding stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refusal {
    pub(crate) reason: DropReason,
    pub(crate) icmp: Option<IcmpKind>,
    pub(crate) route: Option<RouteHit>,
    pub(crate) policy: PolicyVerdict,
}

impl Refusal {
    fn new(reason: DropReason) -> Self {
        Self {
            reason,
            icmp: None,
            route: None,
            policy: PolicyVerdict::Unchecked,
        }
    }

    fn with_icmp(reason: DropReason, icmp: IcmpKind, route: Option<RouteHit>) -> Self {
        Self {
            reason,
            icmp: Some(icmp),
            route,
            policy: PolicyVerdict::Unchecked,
        }
    }

    fn at(self, route: RouteHit) -> Self {
        Self {
            route: Some(route),
            ..self
        }
    }
}

impl Fate {
    /// A fate for a packet of `meta` that arrived as `arrival`.
    fn about(meta: &Meta, arrival: &Arrival, outcome: Outcome) -> Self {
        Fate {
            flow: Some(meta.flow),
            decrypted: arrival.decrypted,
            ..Fate::new(outcome)
        }
    }

    /// The fate of a forwarding attempt.
    pub(crate) fn of(
        result: Result<Sent, Refusal>,
        flow: FlowKey,
        decrypted: Option<SaUse>,
    ) -> Self {
        let base = Fate {
            flow: Some(flow),
            decrypted,
            ..Fate::new(Outcome::Dropped(DropReason::NoRoute))
        };
        match result {
            Ok(sent) => Fate {
                outcome: Outcome::Forwarded(sent.interface),
                route: Some(sent.route),
                encrypted: sent.encrypted,
                policy: sent.policy,
                ..base
            },
            Err(refusal) => Fate {
                outcome: Outcome::Dropped(refusal.reason),
                route: refusal.route,
                policy: refusal.policy,
                ..base
            },
        }
    }
}

/// IPv4 multicast or limited broadcast, IPv6 multicast.
fn is_group_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

/// Sources a router must not forward from (RFC 1812 5.3.7; RFC 4291 2.5.6
/// for IPv6 link-local; RFC 4443 2.4 for unspecified and multicast).
fn is_invalid_source(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => is_invalid_ipv4_source(a),
        IpAddr::V6(a) => {
            a.is_unspecified() || a.is_multicast() || a.is_loopback() || a.is_unicast_link_local()
        }
    }
}

fn ether_type(v6: bool) -> EtherType {
    if v6 { EtherType::IPV6 } else { EtherType::IPV4 }
}

/// Decrements the TTL / hop limit of the packet at the start of `buf`.
fn decrement_ttl(buf: &mut PacketBuf, v6: bool) -> Result<(), WireError> {
    if v6 {
        Ipv6Packet::new_checked(buf.as_mut_slice())?.decrement_hop_limit()?;
    } else {
        Ipv4Packet::new_checked_ignoring_checksum(buf.as_mut_slice())?.decrement_ttl()?;
    }
    Ok(())
}

/// Clamps the MSS of a TCP SYN at the start of `buf` (a validated packet).
pub(crate) fn clamp_mss(buf: &mut PacketBuf, meta: &Meta, mss: u16) {
    if meta.flow.protocol != IpNumber::TCP {
        return;
    }
    let bytes = buf.as_mut_slice();
    let packet = if meta.v6 {
        Ipv6Packet::new_checked(bytes).map(IpPacket::V6)
    } else {
        Ipv4Packet::new_checked_ignoring_checksum(bytes).map(IpPacket::V4)
    };
    if let Ok(mut packet) = packet {
        clamp_tcp_mss(&mut packet, mss);
    }
}

/// Prepends the Ethernet header for `next` out of `port`.
fn push_l2(
    buf: &mut PacketBuf,
    port: &Port,
    destination: MacAddr,
    v6: bool,
) -> Result<(), Refusal> {
    let header = EthernetHeader {
        destination,
        source: port.mac,
        ether_type: ether_type(v6),
    };
    push_ethernet_header(buf, &header)
        .map_err(|_| Refusal::new(DropReason::Wire(crate::wire::DropReason::BufferTooSmall)))
}

impl Pipeline<'_> {
    /// An IP packet at the start of `buf` that arrived as `arrival` says.
    pub(crate) fn ip(
        &self,
        buf: &mut PacketBuf,
        arrival: Arrival,
        out: &mut Outputs,
        index: usize,
    ) -> Fate {
        let meta = match Meta::parse(buf.as_slice(), arrival.version) {
            Ok(meta) => meta,
            Err(error) => {
                return Fate {
                    decrypted: arrival.decrypted,
                    ..Fate::dropped(error.into())
                };
            }
        };
        buf.truncate(meta.total_len);
        let drop = |reason| Fate::of(Err(Refusal::new(reason)), meta.flow, arrival.decrypted);
        let destination = meta.flow.destination;
        if self.node.is_local(destination) {
            return self.local(buf, &meta, arrival, out, index);
        }
        if is_group_address(destination) {
            return drop(DropReason::MulticastNotForwarded);
        }
        if arrival.link_group {
            return drop(DropReason::LinkBroadcast);
        }
        if is_invalid_source(meta.flow.source) {
            return drop(DropReason::InvalidSource);
        }
        let result = self.forward(buf, &meta, true);
        if let Err(Refusal {
            icmp: Some(kind), ..
        }) = result
        {
            self.icmp_error(kind, buf, &meta, arrival, out, index);
        }
        Fate::of(result, meta.flow, arrival.decrypted)
    }

    /// A packet for one of the node's addresses.
    fn local(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        arrival: Arrival,
        out: &mut Outputs,
        index: usize,
    ) -> Fate {
        let deliver = |kind| Fate::about(meta, &arrival, Outcome::Delivered(kind));
        let protocol = meta.flow.protocol;
        let sadb = &self.node.sadb;
        if protocol == IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
            || (protocol == IpNumber::UDP && meta.flow.destination_port == sadb.nat_t_port())
        {
            match sadb.classify(buf.as_slice()) {
                Ok(PacketClass::Esp(_)) => {
                    return self.decapsulate(buf, meta, arrival, out, index);
                }
                Ok(PacketClass::NatKeepalive | PacketClass::NonEspMarker) => {
                    return deliver(Delivery::Other);
                }
                Ok(PacketClass::NotEsp) => {}
                Err(reason) => {
                    return Fate::about(meta, &arrival, Outcome::Dropped(reason.into()));
                }
            }
        }
        if self.is_echo_request(buf, meta) {
            return match self.echo_reply(buf, meta, out, index) {
                Ok(()) => deliver(Delivery::EchoRequest),
                Err(error) => Fate::about(meta, &arrival, Outcome::Dropped(error.into())),
            };
        }
        deliver(Delivery::Other)
    }

    /// ESP for one of our tunnel endpoints: decapsulate, then the inner
    /// packet goes through the IP path as if it arrived on the tunnel.
    fn decapsulate(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        arrival: Arrival,
        out: &mut Outputs,
        index: usize,
    ) -> Fate {
        let outer = |reason| Fate::about(meta, &arrival, Outcome::Dropped(reason));
        if arrival.decrypted.is_some() {
            return outer(DropReason::TunnelRecursion);
        }
        let (spi, outcome) = match self.node.sadb.decapsulate(buf) {
            Ok((sa, outcome)) => (sa.spi(), outcome),
            Err(reason) => return outer(reason.into()),
        };
        let Some(tunnel) = self.node.tunnel_by_inbound_spi(spi) else {
            return outer(DropReason::UnknownInterface);
        };
        let used = SaUse {
            tunnel: tunnel.id,
            spi,
            seq: outcome.seq,
        };
        if let Some(mss) = tunnel.mss_clamp
            && let Ok(inner) = Meta::parse(buf.as_slice(), None)
        {
            clamp_mss(buf, &inner, mss);
        }
        let inner_arrival = Arrival {
            interface: tunnel.id,
            link_group: false,
            decrypted: Some(used),
            version: None,
        };
        self.ip(buf, inner_arrival, out, index)
    }

    /// Looks up the destination and sends the packet out. `transit` packets
    /// have their TTL checked and decremented; packets the node made do not.
    pub(crate) fn forward(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        transit: bool,
    ) -> Result<Sent, Refusal> {
        if transit && meta.ttl <= 1 {
            let expired = DropReason::Wire(crate::wire::DropReason::TtlExpired);
            return Err(Refusal::with_icmp(expired, IcmpKind::TimeExceeded, None));
        }
        let destination = meta.flow.destination;
        let no_route = Refusal::with_icmp(DropReason::NoRoute, IcmpKind::NoRoute, None);
        let hit = self.fib.lookup(destination).ok_or(no_route)?;
        let hop = self
            .select(hit.group, || self.node.hasher.hash(&meta.flow))
            .ok_or(no_route)?;
        let route = RouteHit {
            prefix: hit.prefix(destination),
            next_hop: hop,
        };
        match self.node.interface(hop.interface) {
            Some(Interface::Port(port)) => {
                let next = hop.via.unwrap_or(destination);
                self.to_port(buf, meta, transit, port, next, route)
            }
            Some(Interface::Tunnel(tunnel)) => self.to_tunnel(buf, meta, transit, tunnel, route),
            None => Err(Refusal::new(DropReason::UnknownInterface).at(route)),
        }
    }

    /// The ECMP member for a flow (the hash is only computed when there is
    /// a choice).
    #[inline]
    fn select(
        &self,
        group: crate::fib::NextHopGroupId,
        hash: impl FnOnce() -> u64,
    ) -> Option<NextHop> {
        match self.fib.groups().members(group) {
            [] => None,
            [only] => Some(*only),
            _ => self.fib.select(group, hash()).copied(),
        }
    }

    /// The MTU check shared by ports and tunnels.
    fn fits(meta: &Meta, mtu: usize, route: RouteHit) -> Result<(), Refusal> {
        if meta.total_len <= mtu {
            return Ok(());
        }
        if meta.v6 || meta.dont_fragment {
            let mtu = mtu.min(usize::from(u16::MAX)) as u16;
            Err(Refusal::with_icmp(
                DropReason::PacketTooBig,
                IcmpKind::TooBig(mtu),
                Some(route),
            ))
        } else {
            Err(Refusal::new(DropReason::FragmentationUnsupported).at(route))
        }
    }

    /// Plain egress: MTU, neighbour, policy, then TTL and L2 rewrite.
    fn to_port(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        transit: bool,
        port: &Port,
        next: IpAddr,
        route: RouteHit,
    ) -> Result<Sent, Refusal> {
        Self::fits(meta, port.mtu, route)?;
        let mac = self.node.neighbor(port.id, next).ok_or(Refusal::with_icmp(
            DropReason::NoNeighbor,
            IcmpKind::NoNeighbor,
            Some(route),
        ))?;
        let (policy, fail_closed) = self.node.policies.plain(&meta.flow);
        if fail_closed {
            return Err(Refusal {
                policy,
                ..Refusal::new(DropReason::PolicyViolation).at(route)
            });
        }
        if transit {
            decrement_ttl(buf, meta.v6).map_err(|e| Refusal::new(e.into()).at(route))?;
        }
        push_l2(buf, port, mac, meta.v6).map_err(|r| r.at(route))?;
        Ok(Sent {
            interface: port.id,
            route,
            encrypted: None,
            policy,
        })
    }

    /// Tunnel egress: MTU, underlay route and neighbour, MSS clamp, TTL,
    /// ESP encapsulation, then the outer packet's L2 header.
    fn to_tunnel(
        &self,
        buf: &mut PacketBuf,
        meta: &Meta,
        transit: bool,
        tunnel: &Tunnel,
        route: RouteHit,
    ) -> Result<Sent, Refusal> {
        Self::fits(meta, tunnel.mtu, route)?;
        let refuse = |reason| Refusal::new(reason).at(route);
        let outer_hit = self
            .fib
            .lookup(tunnel.remote)
            .ok_or(refuse(DropReason::TunnelNoRoute))?;
        let outer_hop = self
            .select(outer_hit.group, || tunnel.outer_hash)
            .ok_or(refuse(DropReason::TunnelNoRoute))?;
        let Some(Interface::Port(port)) = self.node.interface(outer_hop.interface) else {
            return Err(refuse(DropReason::TunnelRecursion));
        };
        let sa = &tunnel.sa_out;
        let outer_len_max =
            meta.total_len + sa.headroom_needed() + sa.tailroom_needed(meta.total_len);
        if outer_len_max > port.mtu {
            return Err(refuse(DropReason::TunnelOuterTooBig));
        }
        let next = outer_hop.via.unwrap_or(tunnel.remote);
        let mac = self
            .node
            .neighbor(port.id, next)
            .ok_or(refuse(DropReason::NoNeighbor))?;
        if let Some(mss) = tunnel.mss_clamp {
            clamp_mss(buf, meta, mss);
        }
        if transit {
            decrement_ttl(buf, meta.v6).map_err(|e| refuse(e.into()))?;
        }
        let encapsulated = sa.encapsulate(buf).map_err(|e| refuse(e.into()))?;
        push_l2(buf, port, mac, tunnel.remote.is_ipv6()).map_err(|r| r.at(route))?;
        Ok(Sent {
            interface: port.id,
            route,
            encrypted: Some(SaUse {
                tunnel: tunnel.id,
                spi: sa.spi(),
                seq: encapsulated.seq,
            }),
            policy: self.node.policies.encrypted(&meta.flow),
        })
    }
}
