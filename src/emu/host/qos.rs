//! Host QoS: mark the DSCP of matching flows on egress (smoltcp cannot set
//! the TOS byte, so the host's device does it, like a host QoS policy) and
//! check the DSCP of matching flows on ingress. DSCP per RFC 2474; EF is 46
//! (RFC 3246). IPv4 header checksum updated incrementally (RFC 1624).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::wire::{
    ETHERNET_HEADER_LEN, EtherType, EthernetHeader, IPV6_HEADER_LEN, IpDscp, IpNumber, Ipv4Packet,
    Ipv6Packet,
};

/// DSCP Expedited Forwarding (RFC 3246).
pub const DSCP_EF: u8 = 46;

/// The addressing of an IP packet in an Ethernet frame, as far as a flow
/// match needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameFlow {
    /// IP protocol / IPv6 next header.
    pub protocol: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TCP/UDP source port.
    pub src_port: Option<u16>,
    /// TCP/UDP destination port.
    pub dst_port: Option<u16>,
    /// The DSCP carried.
    pub dscp: u8,
}

/// Reads the flow of an untagged Ethernet frame carrying IPv4 or IPv6;
/// `None` for anything else or anything malformed.
pub fn frame_flow(frame: &[u8]) -> Option<FrameFlow> {
    let ether_type = EthernetHeader::parse(frame).ok()?.ether_type;
    let ip = frame.get(ETHERNET_HEADER_LEN..)?;
    let (protocol, src, dst, dscp, transport) = match ether_type {
        EtherType::IPV4 => {
            let packet = Ipv4Packet::new_checked_ignoring_checksum(ip).ok()?;
            (
                packet.protocol(),
                IpAddr::V4(packet.source()),
                IpAddr::V4(packet.destination()),
                packet.dscp().value(),
                ip.get(packet.header_len()..packet.total_len())?,
            )
        }
        EtherType::IPV6 => {
            // Ports only when TCP or UDP follows the fixed header directly.
            let packet = Ipv6Packet::new_checked(ip).ok()?;
            (
                packet.next_header(),
                IpAddr::V6(packet.source()),
                IpAddr::V6(packet.destination()),
                packet.dscp().value(),
                ip.get(IPV6_HEADER_LEN..packet.total_len())?,
            )
        }
        _ => return None,
    };
    let ports = match (protocol, transport.first_chunk::<4>()) {
        (IpNumber::TCP | IpNumber::UDP, Some(p)) => Some((
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )),
        _ => None,
    };
    Some(FrameFlow {
        protocol: protocol.0,
        src,
        dst,
        src_port: ports.map(|p| p.0),
        dst_port: ports.map(|p| p.1),
        dscp,
    })
}

/// Rewrites the DSCP of the IP packet in `frame` (ECN bits kept; IPv4
/// checksum updated incrementally, RFC 1624); `flow` is its
/// [`frame_flow`].
pub fn set_dscp(frame: &mut [u8], flow: &FrameFlow, dscp: u8) {
    let dscp = IpDscp::try_new(dscp & 0x3f).unwrap_or(IpDscp::ZERO);
    let Some(ip) = frame.get_mut(ETHERNET_HEADER_LEN..) else {
        return;
    };
    // `flow` came from this frame, so the views accept it.
    match flow.src {
        IpAddr::V4(_) => {
            if let Ok(mut packet) = Ipv4Packet::new_checked_ignoring_checksum(ip) {
                packet.set_dscp(dscp);
            }
        }
        IpAddr::V6(_) => {
            if let Ok(mut packet) = Ipv6Packet::new_checked(ip) {
                packet.set_dscp(dscp);
            }
        }
    }
}

/// Which packets a QoS rule applies to; unset fields match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FlowMatch {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub protocol: Option<u8>,
    /// Destination prefix.
    pub dst: Option<IpNet>,
    /// TCP/UDP source port.
    pub src_port: Option<u16>,
    /// TCP/UDP destination port.
    pub dst_port: Option<u16>,
}

impl FlowMatch {
    /// UDP to `port`.
    pub fn udp_to(port: u16) -> Self {
        Self {
            protocol: Some(IpNumber::UDP.0),
            dst_port: Some(port),
            ..Self::default()
        }
    }

    /// TCP to `port`.
    pub(crate) fn tcp_to(port: u16) -> Self {
        Self {
            protocol: Some(IpNumber::TCP.0),
            dst_port: Some(port),
            ..Self::default()
        }
    }

    /// Whether `flow` matches.
    pub fn matches(&self, flow: &FrameFlow) -> bool {
        self.protocol.is_none_or(|p| p == flow.protocol)
            && self.dst.is_none_or(|net| net.contains(&flow.dst))
            && self.src_port.is_none_or(|p| flow.src_port == Some(p))
            && self.dst_port.is_none_or(|p| flow.dst_port == Some(p))
    }
}

/// An egress marking rule and how many frames it marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DscpMark {
    /// The packets to mark.
    pub flow: FlowMatch,
    /// The DSCP to set.
    pub dscp: u8,
    /// Frames marked so far.
    pub marked: u64,
}

/// An ingress check: frames of a flow, and how many carried the DSCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DscpCheck {
    /// The packets to check.
    pub flow: FlowMatch,
    /// The DSCP they should carry.
    pub expect: u8,
    /// Frames of the flow that arrived.
    pub matched: u64,
    /// Of those, frames with the expected DSCP.
    pub with_expected: u64,
    /// The DSCP of the last frame that did not carry the expected one.
    pub last_other: Option<u8>,
}

/// A host's marking and checking rules.
#[derive(Debug, Clone, Default)]
pub struct Qos {
    /// Egress marks, first match wins.
    pub marks: Vec<DscpMark>,
    /// Ingress checks, all that match count.
    pub checks: Vec<DscpCheck>,
}

impl Qos {
    /// Marks `frame` by the first matching rule.
    pub(crate) fn mark_egress(&mut self, frame: &mut [u8]) {
        if self.marks.is_empty() {
            return;
        }
        let Some(flow) = frame_flow(frame) else {
            return;
        };
        if let Some(rule) = self.marks.iter_mut().find(|rule| rule.flow.matches(&flow)) {
            set_dscp(frame, &flow, rule.dscp);
            rule.marked += 1;
        }
    }

    /// Counts `frame` in every matching check.
    pub(crate) fn check_ingress(&mut self, frame: &[u8]) {
        if self.checks.is_empty() {
            return;
        }
        let Some(flow) = frame_flow(frame) else {
            return;
        };
        for check in self.checks.iter_mut().filter(|c| c.flow.matches(&flow)) {
            check.matched += 1;
            if flow.dscp == check.expect {
                check.with_expected += 1;
            } else {
                check.last_other = Some(flow.dscp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, PacketBuilder};

    fn udp_v4(tos_dscp: u8) -> Vec<u8> {
        let mut header = etherparse::Ipv4Header::new(
            8,
            64,
            etherparse::IpNumber::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        )
        .unwrap();
        header.dscp = etherparse::IpDscp::try_new(tos_dscp).unwrap();
        header.ecn = etherparse::IpEcn::ONE;
        let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ip(etherparse::IpHeaders::Ipv4(header, Default::default()))
            .udp(4000, 5001);
        let mut frame = Vec::new();
        builder
            .write(&mut frame, &[1, 2, 3, 4, 5, 6, 7, 8])
            .unwrap();
        frame
    }

    fn udp_v6() -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(4000, 5001);
        let mut frame = Vec::new();
        builder.write(&mut frame, &[9; 8]).unwrap();
        frame
    }

    #[test]
    fn marks_ipv4_ef_keeping_ecn_and_a_valid_checksum() {
        let mut frame = udp_v4(0);
        let flow = frame_flow(&frame).unwrap();
        assert_eq!(
            (flow.protocol, flow.src_port, flow.dst_port, flow.dscp),
            (IpNumber::UDP.0, Some(4000), Some(5001), 0)
        );
        set_dscp(&mut frame, &flow, DSCP_EF);
        let header = Ipv4HeaderSlice::from_slice(&frame[14..])
            .unwrap()
            .to_header();
        assert_eq!(header.dscp.value(), DSCP_EF);
        assert_eq!(header.ecn, etherparse::IpEcn::ONE);
        assert_eq!(
            header.header_checksum,
            header.calc_header_checksum(),
            "incremental update equals a full recompute"
        );
        assert_eq!(
            frame,
            udp_v4(DSCP_EF),
            "same bytes as a packet built with EF"
        );
    }

    #[test]
    fn marks_ipv6_traffic_class_keeping_the_flow_label() {
        let mut frame = udp_v6();
        frame[15] |= 0x0a; // some flow label bits next to the traffic class
        let flow = frame_flow(&frame).unwrap();
        set_dscp(&mut frame, &flow, DSCP_EF);
        let header = Ipv6HeaderSlice::from_slice(&frame[14..]).unwrap();
        assert_eq!(header.dscp().value(), DSCP_EF);
        assert_eq!(header.version(), 6);
        assert_eq!(header.flow_label().value() & 0x0a_0000, 0x0a_0000);
        assert_eq!(frame_flow(&frame).unwrap().dscp, DSCP_EF);
    }

    #[test]
    fn rules_match_and_count_and_ignore_what_is_not_ip() {
        let mut qos = Qos::default();
        qos.marks.push(DscpMark {
            flow: FlowMatch::udp_to(5001),
            dscp: DSCP_EF,
            marked: 0,
        });
        qos.checks.push(DscpCheck {
            flow: FlowMatch::udp_to(5001),
            expect: DSCP_EF,
            matched: 0,
            with_expected: 0,
            last_other: None,
        });
        let mut unmarked = udp_v4(0);
        qos.check_ingress(&unmarked);
        qos.mark_egress(&mut unmarked);
        qos.check_ingress(&unmarked);
        assert_eq!(qos.marks[0].marked, 1);
        assert_eq!(
            (
                qos.checks[0].matched,
                qos.checks[0].with_expected,
                qos.checks[0].last_other
            ),
            (2, 1, Some(0))
        );
        let mut other_port = udp_v4(0);
        other_port[14 + 20 + 3] = 0x99;
        qos.mark_egress(&mut other_port);
        assert_eq!(qos.marks[0].marked, 1);
        // Truncated frames do not panic; ARP is not a flow.
        for len in 0..unmarked.len() {
            let mut cut = unmarked[..len].to_vec();
            qos.mark_egress(&mut cut);
        }
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert!(frame_flow(&arp).is_none());
    }
}
