//! Frame skeletons for the `forward` target: mostly valid Ethernet, IPv4,
//! IPv6, ARP, Neighbor Solicitation and ESP frames whose fields come from
//! the fuzzer (addresses drawn from the fixed node's interesting addresses
//! or arbitrary), byte tweaks on top, and raw bytes. Built by hand here so
//! every field, including broken ones, is reachable.

use std::net::{Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;

use super::esp_model::internet_checksum;

/// Largest L4 payload a skeleton carries (beyond the 1500-byte MTU, so
/// too-big packets are generated too).
pub const MAX_PAYLOAD: usize = 1600;
/// Most byte tweaks applied to one frame.
pub const MAX_TWEAKS: usize = 6;

/// IPv4 addresses the fixed node cares about: its own, its neighbours',
/// each routed prefix, broadcasts, multicast, loopback, unspecified.
pub const V4_ADDRESSES: [Ipv4Addr; 18] = [
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 0, 1, 10),
    Ipv4Addr::new(10, 0, 200, 5),
    Ipv4Addr::new(172, 16, 0, 1),
    Ipv4Addr::new(172, 16, 0, 2),
    Ipv4Addr::new(172, 16, 0, 5),
    Ipv4Addr::new(172, 16, 0, 6),
    Ipv4Addr::new(10, 100, 255, 4),
    Ipv4Addr::new(10, 1, 2, 3),
    Ipv4Addr::new(10, 2, 0, 9),
    Ipv4Addr::new(10, 3, 0, 7),
    Ipv4Addr::new(10, 0, 255, 255),
    Ipv4Addr::new(255, 255, 255, 255),
    Ipv4Addr::new(224, 0, 0, 5),
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::new(0, 0, 0, 0),
    Ipv4Addr::new(10, 0, 0, 0),
    Ipv4Addr::new(192, 0, 2, 1),
];

/// IPv6 addresses the fixed node cares about.
pub const V6_ADDRESSES: [Ipv6Addr; 14] = [
    Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x10),
    Ipv6Addr::new(0xfd00, 0x172, 0x16, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0xfd00, 0x172, 0x16, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0xfd00, 0x172, 0x16, 0, 0, 0, 0, 5),
    Ipv6Addr::new(0xfd00, 0x172, 0x16, 0, 0, 0, 0, 6),
    Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x20),
    Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 9),
    Ipv6Addr::new(0xfd00, 3, 0, 0, 0, 0, 0, 7),
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 1),
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::LOCALHOST,
    Ipv6Addr::UNSPECIFIED,
];

/// An IPv4 address: one of [`V4_ADDRESSES`] when `pick` indexes it, else
/// `raw`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Addr4 {
    pub pick: u8,
    pub raw: u32,
}

impl Addr4 {
    pub fn octets(self) -> [u8; 4] {
        V4_ADDRESSES
            .get(usize::from(self.pick))
            .copied()
            .unwrap_or(Ipv4Addr::from_bits(self.raw))
            .octets()
    }
}

/// An IPv6 address: one of [`V6_ADDRESSES`] when `pick` indexes it, else
/// `raw`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Addr6 {
    pub pick: u8,
    pub raw: u128,
}

impl Addr6 {
    pub fn octets(self) -> [u8; 16] {
        V6_ADDRESSES
            .get(usize::from(self.pick))
            .copied()
            .unwrap_or(Ipv6Addr::from_bits(self.raw))
            .octets()
    }
}

/// The Ethernet destination of a frame.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum L2Destination {
    /// The ingress interface's MAC (the usual case).
    Ingress,
    Broadcast,
    /// The IPv6 all-nodes or a solicited-node group MAC.
    Multicast(u8),
    Other([u8; 6]),
}

/// The transport part of an IP skeleton.
#[derive(Arbitrary, Debug, Clone)]
pub enum Transport {
    Udp {
        source: u16,
        destination: u16,
    },
    Tcp {
        source: u16,
        destination: u16,
        syn: bool,
        mss: Option<u16>,
    },
    /// ICMP or ICMPv6 echo request (or reply) with a valid checksum.
    Echo {
        reply: bool,
        identifier: u16,
    },
    /// ICMP or ICMPv6 of any type and code, checksum valid.
    Icmp {
        kind: u8,
        code: u8,
        rest: u32,
    },
    /// Any protocol number, the payload as is.
    Other(u8),
}

/// An IP packet: addresses, TTL or hop limit, traffic class, transport.
#[derive(Arbitrary, Debug, Clone)]
pub struct IpSpec {
    /// IPv6 when set (addresses from `source6`/`destination6`).
    pub v6: bool,
    pub source4: Addr4,
    pub destination4: Addr4,
    pub source6: Addr6,
    pub destination6: Addr6,
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 flags and fragment offset (DF is 0x4000).
    pub fragment: u16,
    pub transport: Transport,
    pub payload: Vec<u8>,
}

/// Bytes set after building (offsets wrap), an optional truncation, and
/// whether to recompute the IPv4 header checksum afterwards.
#[derive(Arbitrary, Debug, Clone, Default)]
pub struct Tweaks {
    pub set: Vec<(u16, u8)>,
    pub truncate: Option<u16>,
    pub fix_ipv4_checksum: bool,
}

/// One input frame.
#[derive(Arbitrary, Debug, Clone)]
pub enum FrameSpec {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// Ethernet + IPv4/IPv6 + transport.
    Ip {
        l2: L2Destination,
        source_mac: [u8; 6],
        ip: IpSpec,
        tweaks: Tweaks,
    },
    /// An ARP message (RFC 826).
    Arp {
        broadcast: bool,
        operation: u16,
        sender_mac: [u8; 6],
        sender: Addr4,
        target: Addr4,
        tweaks: Tweaks,
    },
    /// A Neighbor Solicitation (RFC 4861) to the target's solicited-node
    /// group, with or without a source link-layer address option.
    NeighborSolicitation {
        sender_mac: [u8; 6],
        source: Addr6,
        target: Addr6,
        hop_limit: u8,
        with_option: bool,
        tweaks: Tweaks,
    },
    /// An inner packet sealed by the peer gateway's SA, in an outer IPv4
    /// packet to our tunnel endpoint: `skip` sequence numbers are left out
    /// before it, `replay` sends the previous ESP frame again instead.
    Esp {
        to_second_link: bool,
        inner: IpSpec,
        skip: u8,
        replay: bool,
        tweaks: Tweaks,
    },
}

/// The Ethernet header.
pub fn ethernet(destination: [u8; 6], source: [u8; 6], ether_type: u16) -> Vec<u8> {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&ether_type.to_be_bytes());
    frame
}

/// The MAC of an L2 destination choice.
pub fn l2_mac(choice: L2Destination, ingress_mac: [u8; 6]) -> [u8; 6] {
    match choice {
        L2Destination::Ingress => ingress_mac,
        L2Destination::Broadcast => [0xff; 6],
        L2Destination::Multicast(low) => [0x33, 0x33, 0, 0, 0, low & 1],
        L2Destination::Other(mac) => mac,
    }
}

/// The IP packet of a skeleton (no Ethernet header).
pub fn ip_packet(spec: &IpSpec) -> Vec<u8> {
    let payload = &spec.payload[..spec.payload.len().min(MAX_PAYLOAD)];
    let (source, destination): (Vec<u8>, Vec<u8>) = if spec.v6 {
        (
            spec.source6.octets().to_vec(),
            spec.destination6.octets().to_vec(),
        )
    } else {
        (
            spec.source4.octets().to_vec(),
            spec.destination4.octets().to_vec(),
        )
    };
    let (protocol, transport) = transport_bytes(spec, payload, &source, &destination);
    let mut packet = Vec::with_capacity(40 + transport.len());
    if spec.v6 {
        packet.extend_from_slice(&[0x60 | spec.tos >> 4, spec.tos << 4, 0, 0]);
        packet.extend_from_slice(&(transport.len().min(0xffff) as u16).to_be_bytes());
        packet.extend_from_slice(&[protocol, spec.ttl]);
        packet.extend_from_slice(&source);
        packet.extend_from_slice(&destination);
    } else {
        let total = (20 + transport.len()).min(0xffff) as u16;
        packet.extend_from_slice(&[0x45, spec.tos]);
        packet.extend_from_slice(&total.to_be_bytes());
        packet.extend_from_slice(&[0x12, 0x34]);
        packet.extend_from_slice(&spec.fragment.to_be_bytes());
        packet.extend_from_slice(&[spec.ttl, protocol, 0, 0]);
        packet.extend_from_slice(&source);
        packet.extend_from_slice(&destination);
        let checksum = internet_checksum(&packet);
        packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    }
    packet.extend_from_slice(&transport);
    packet
}

/// The protocol number and transport bytes of a skeleton.
fn transport_bytes(
    spec: &IpSpec,
    payload: &[u8],
    source: &[u8],
    destination: &[u8],
) -> (u8, Vec<u8>) {
    let icmp_protocol = if spec.v6 { 58 } else { 1 };
    let mut bytes = Vec::with_capacity(32 + payload.len());
    let protocol = match spec.transport {
        Transport::Udp {
            source: sport,
            destination: dport,
        } => {
            bytes.extend_from_slice(&sport.to_be_bytes());
            bytes.extend_from_slice(&dport.to_be_bytes());
            bytes.extend_from_slice(&((8 + payload.len()).min(0xffff) as u16).to_be_bytes());
            bytes.extend_from_slice(&[0, 0]);
            17
        }
        Transport::Tcp {
            source: sport,
            destination: dport,
            syn,
            mss,
        } => {
            let offset: u8 = if mss.is_some() { 6 } else { 5 };
            bytes.extend_from_slice(&sport.to_be_bytes());
            bytes.extend_from_slice(&dport.to_be_bytes());
            bytes.extend_from_slice(&[0, 0, 0x10, 0, 0, 0, 0, 0, offset << 4]);
            bytes.push(if syn { 0x02 } else { 0x10 });
            bytes.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
            if let Some(mss) = mss {
                bytes.extend_from_slice(&[2, 4]);
                bytes.extend_from_slice(&mss.to_be_bytes());
            }
            6
        }
        Transport::Echo { reply, identifier } => {
            let kind = match (spec.v6, reply) {
                (false, false) => 8,
                (false, true) => 0,
                (true, false) => 128,
                (true, true) => 129,
            };
            bytes.extend_from_slice(&[kind, 0, 0, 0]);
            bytes.extend_from_slice(&identifier.to_be_bytes());
            bytes.extend_from_slice(&[0, 1]);
            icmp_protocol
        }
        Transport::Icmp { kind, code, rest } => {
            bytes.extend_from_slice(&[kind, code, 0, 0]);
            bytes.extend_from_slice(&rest.to_be_bytes());
            icmp_protocol
        }
        Transport::Other(protocol) => protocol,
    };
    bytes.extend_from_slice(payload);
    if protocol == icmp_protocol && bytes.len() >= 4 {
        let checksum = if spec.v6 {
            icmpv6_checksum(source, destination, &bytes)
        } else {
            internet_checksum(&bytes)
        };
        bytes[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
    (protocol, bytes)
}

/// The RFC 4443 checksum of an ICMPv6 message (checksum field included:
/// 0 when it holds a valid one).
pub fn icmpv6_checksum(source: &[u8], destination: &[u8], message: &[u8]) -> u16 {
    let mut data = Vec::with_capacity(40 + message.len());
    data.extend_from_slice(source);
    data.extend_from_slice(destination);
    data.extend_from_slice(&(message.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 58]);
    data.extend_from_slice(message);
    internet_checksum(&data)
}

/// An ARP message frame.
pub fn arp_frame(
    destination: [u8; 6],
    operation: u16,
    sender_mac: [u8; 6],
    sender: [u8; 4],
    target: [u8; 4],
) -> Vec<u8> {
    let mut frame = ethernet(destination, sender_mac, 0x0806);
    frame.extend_from_slice(&[0, 1, 0x08, 0, 6, 4]);
    frame.extend_from_slice(&operation.to_be_bytes());
    frame.extend_from_slice(&sender_mac);
    frame.extend_from_slice(&sender);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&target);
    frame.resize(60, 0);
    frame
}

/// A Neighbor Solicitation frame for `target` to its solicited-node group.
pub fn neighbor_solicitation(
    sender_mac: [u8; 6],
    source: [u8; 16],
    target: [u8; 16],
    hop_limit: u8,
    with_option: bool,
) -> Vec<u8> {
    let mut group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 0).octets();
    group[13..].copy_from_slice(&target[13..]);
    let group_mac = [0x33, 0x33, group[12], group[13], group[14], group[15]];
    let mut message = vec![135, 0, 0, 0, 0, 0, 0, 0];
    message.extend_from_slice(&target);
    if with_option {
        message.extend_from_slice(&[1, 1]);
        message.extend_from_slice(&sender_mac);
    }
    let checksum = icmpv6_checksum(&source, &group, &message);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    let mut frame = ethernet(group_mac, sender_mac, 0x86dd);
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&(message.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[58, hop_limit]);
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&group);
    frame.extend_from_slice(&message);
    frame
}

/// Applies `tweaks` to a frame whose IPv4 header (if any) starts at 14.
pub fn apply_tweaks(frame: &mut Vec<u8>, tweaks: &Tweaks) {
    if !frame.is_empty() {
        for &(at, value) in tweaks.set.iter().take(MAX_TWEAKS) {
            let at = usize::from(at) % frame.len();
            frame[at] = value;
        }
    }
    if let Some(len) = tweaks.truncate {
        frame.truncate(usize::from(len));
    }
    let is_ipv4 = frame.get(12..14) == Some(&[0x08, 0x00]);
    if tweaks.fix_ipv4_checksum && is_ipv4 {
        let header_len = usize::from(frame.get(14).map_or(0, |b| b & 0x0f)) * 4;
        if header_len >= 20 && frame.len() >= 14 + header_len {
            frame[24..26].copy_from_slice(&[0, 0]);
            let checksum = internet_checksum(&frame[14..14 + header_len]);
            frame[24..26].copy_from_slice(&checksum.to_be_bytes());
        }
    }
}
