//! Host QoS: mark the DSCP of matching flows on egress (smoltcp cannot set
//! the TOS byte, so the host's device does it, like a host QoS policy) and
//! check the DSCP of matching flows on ingress. DSCP per RFC 2474; EF is 46
//! (RFC 3246). IPv4 header checksum updated incrementally (RFC 1624).

use std::net::IpAddr;

use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};
use ipnet::IpNet;
use serde::Serialize;

/// DSCP Expedited Forwarding (RFC 3246).
pub const DSCP_EF: u8 = 46;

/// Offsets in an untagged Ethernet II frame.
mod field {
    /// EtherType, big-endian.
    pub const ETHERTYPE: usize = 12;
    /// First byte of the IP header.
    pub const IP: usize = 14;
    /// IPv4: type of service (DSCP in the upper six bits), from the IP header.
    pub const IPV4_TOS: usize = 1;
    /// IPv4: header checksum, from the IP header.
    pub const IPV4_CHECKSUM: usize = 10;
    /// IPv6: fixed header length; TCP/UDP ports follow when no extension
    /// header does.
    pub const IPV6_HEADER_LEN: usize = 40;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IANA protocol numbers with ports at the start of their header.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

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
    /// Offset of the IP header in the frame.
    ip_offset: usize,
}

/// Reads the flow of an untagged Ethernet frame carrying IPv4 or IPv6;
/// `None` for anything else or anything malformed.
pub fn frame_flow(frame: &[u8]) -> Option<FrameFlow> {
    let ethertype = u16::from_be_bytes([
        *frame.get(field::ETHERTYPE)?,
        *frame.get(field::ETHERTYPE + 1)?,
    ]);
    let ip = frame.get(field::IP..)?;
    let (protocol, src, dst, dscp, transport) = match ethertype {
        ETHERTYPE_IPV4 => {
            let header = Ipv4HeaderSlice::from_slice(ip).ok()?;
            let transport = ip.get(header.slice().len()..)?;
            (
                header.protocol().0,
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                header.dcp().value(),
                transport,
            )
        }
        ETHERTYPE_IPV6 => {
            let header = Ipv6HeaderSlice::from_slice(ip).ok()?;
            (
                header.next_header().0,
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                header.dscp().value(),
                ip.get(field::IPV6_HEADER_LEN..)?,
            )
        }
        _ => return None,
    };
    let ports = match (protocol, transport.get(..4)) {
        (PROTO_TCP | PROTO_UDP, Some(p)) => Some((
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )),
        _ => None,
    };
    Some(FrameFlow {
        protocol,
        src,
        dst,
        src_port: ports.map(|p| p.0),
        dst_port: ports.map(|p| p.1),
        dscp,
        ip_offset: field::IP,
    })
}

/// Rewrites the DSCP of the IP packet whose flow is `flow` (ECN bits kept;
/// IPv4 checksum updated incrementally).
pub fn set_dscp(frame: &mut [u8], flow: &FrameFlow, dscp: u8) {
    let ip = flow.ip_offset;
    match flow.src {
        IpAddr::V4(_) => {
            let (Some(&b0), Some(&tos)) = (frame.get(ip), frame.get(ip + field::IPV4_TOS)) else {
                return;
            };
            let new_tos = (dscp << 2) | (tos & 0x03);
            let old_word = u16::from_be_bytes([b0, tos]);
            let new_word = u16::from_be_bytes([b0, new_tos]);
            let at = ip + field::IPV4_CHECKSUM;
            let Some(sum) = frame.get_mut(at..at + 2) else {
                return;
            };
            let old_sum = u16::from_be_bytes([sum[0], sum[1]]);
            sum.copy_from_slice(&checksum_update(old_sum, old_word, new_word).to_be_bytes());
            if let Some(byte) = frame.get_mut(ip + field::IPV4_TOS) {
                *byte = new_tos;
            }
        }
        IpAddr::V6(_) => {
            // Version (4) | traffic class (8) | flow label (20): the DSCP is
            // the low nibble of byte 0 and the top two bits of byte 1.
            let Some(bytes) = frame.get_mut(ip..ip + 2) else {
                return;
            };
            bytes[0] = (bytes[0] & 0xf0) | (dscp >> 2);
            bytes[1] = (bytes[1] & 0x3f) | ((dscp & 0x03) << 6);
        }
    }
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word changed from `old`
/// to `new`: HC' = ~(~HC + ~m + m').
pub fn checksum_update(checksum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
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
            protocol: Some(PROTO_UDP),
            dst_port: Some(port),
            ..Self::default()
        }
    }

    /// TCP to `port`.
    pub fn tcp_to(port: u16) -> Self {
        Self {
            protocol: Some(PROTO_TCP),
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
    pub fn mark_egress(&mut self, frame: &mut [u8]) {
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
    pub fn check_ingress(&mut self, frame: &[u8]) {
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
    use etherparse::PacketBuilder;

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
            (PROTO_UDP, Some(4000), Some(5001), 0)
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
    fn checksum_update_matches_rfc1624_examples() {
        // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555, m' = 0x3285 -> 0x0000.
        assert_eq!(checksum_update(0xdd2f, 0x5555, 0x3285), 0x0000);
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
