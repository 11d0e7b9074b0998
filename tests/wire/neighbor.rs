//! ARP (RFC 826) and Neighbor Discovery (RFC 4861) responders: replies are
//! parsed back by etherparse; invalid solicitations are refused with the
//! RFC 4861 7.1.1 reason.

use crate::support;

use std::net::{Ipv4Addr, Ipv6Addr};

use erdp::packet::PacketBuf;
use erdp::wire::*;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, ArpPacketSlice, Icmpv6Slice, Icmpv6Type, PacketBuilder,
};
use support::wire::*;

const OUR_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 1, 1]);
const OUR_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn our_v6() -> Ipv6Addr {
    Ipv6Addr::from(ipv6_addr(1))
}

fn arp_frame(
    operation: ArpOperation,
    sender_ip: [u8; 4],
    target_ip: [u8; 4],
    pad: usize,
) -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        operation,
        &MAC_A,
        &sender_ip,
        &[0; 6],
        &target_ip,
    )
    .unwrap();
    let mut frame = ethernet([0xff; 6], MAC_A, 0x0806, &arp.to_bytes());
    frame.extend(std::iter::repeat_n(0u8, pad));
    frame
}

#[test]
fn arp_request_for_our_address_becomes_the_reply() {
    let mut frame = arp_frame(ArpOperation::REQUEST, [10, 0, 0, 5], [10, 0, 0, 1], 18);
    let len = frame.len();
    let outcome = answer_arp_request(&mut frame, OUR_MAC, |ip| ip == OUR_V4).unwrap();
    assert_eq!(
        outcome,
        ArpOutcome::Replied {
            requester_ip: Ipv4Addr::new(10, 0, 0, 5),
            requester_mac: MacAddr(MAC_A)
        }
    );
    assert_eq!(frame.len(), len, "padding kept");
    assert_eq!(&frame[0..6], &MAC_A);
    assert_eq!(&frame[6..12], &OUR_MAC.0);
    let reply = ArpPacketSlice::from_slice(&frame[14..]).unwrap();
    assert_eq!(reply.operation(), ArpOperation::REPLY);
    assert_eq!(reply.sender_hw_addr(), &OUR_MAC.0);
    assert_eq!(reply.sender_protocol_addr(), &[10, 0, 0, 1]);
    assert_eq!(reply.target_hw_addr(), &MAC_A);
    assert_eq!(reply.target_protocol_addr(), &[10, 0, 0, 5]);
}

#[test]
fn arp_frames_we_do_not_answer_stay_unchanged() {
    let is_ours = |ip: Ipv4Addr| ip == OUR_V4;
    for (frame, expected) in [
        (
            arp_frame(ArpOperation::REQUEST, [10, 0, 0, 5], [10, 0, 0, 9], 0),
            ArpOutcome::NotForUs,
        ),
        (
            arp_frame(ArpOperation::REQUEST, [10, 0, 0, 1], [10, 0, 0, 1], 0),
            ArpOutcome::NotForUs,
        ),
        (
            arp_frame(ArpOperation::REPLY, [10, 0, 0, 5], [10, 0, 0, 1], 0),
            ArpOutcome::NotARequest,
        ),
    ] {
        let mut copy = frame.clone();
        assert_eq!(
            answer_arp_request(&mut copy, OUR_MAC, is_ours),
            Ok(expected)
        );
        assert_eq!(copy, frame);
    }
    // A probe (sender 0.0.0.0, RFC 5227) is answered.
    let mut probe = arp_frame(ArpOperation::REQUEST, [0, 0, 0, 0], [10, 0, 0, 1], 0);
    assert!(matches!(
        answer_arp_request(&mut probe, OUR_MAC, is_ours),
        Ok(ArpOutcome::Replied { .. })
    ));
    // Not Ethernet/IPv4.
    let mut token_ring = arp_frame(ArpOperation::REQUEST, [10, 0, 0, 5], [10, 0, 0, 1], 0);
    token_ring[15] = 6;
    assert!(matches!(
        answer_arp_request(&mut token_ring, OUR_MAC, is_ours),
        Err(WireError::ArpUnsupported {
            hardware_type: 6,
            ..
        })
    ));
}

/// A Neighbor Solicitation frame, built with etherparse.
fn solicitation(
    source: [u8; 16],
    destination: [u8; 16],
    hop_limit: u8,
    target: [u8; 16],
    source_link_layer: Option<[u8; 6]>,
) -> Vec<u8> {
    let mut payload = target.to_vec();
    if let Some(mac) = source_link_layer {
        payload.extend_from_slice(&[1, 1]);
        payload.extend_from_slice(&mac);
    }
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, [0x33, 0x33, 0xff, 0, 0, 1])
        .ipv6(source, destination, hop_limit)
        .icmpv6(Icmpv6Type::NeighborSolicitation)
        .write(&mut out, &payload)
        .unwrap();
    out
}

fn solicited_node(target: [u8; 16]) -> [u8; 16] {
    let mut address = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    address[13..].copy_from_slice(&target[13..]);
    address
}

fn answer(frame: &[u8]) -> (Result<NdpOutcome, WireError>, PacketBuf) {
    let mut buf = PacketBuf::new();
    buf.load(frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
    let outcome = answer_neighbor_solicitation(&mut buf, OUR_MAC, |ip| *ip == our_v6());
    (outcome, buf)
}

/// The fields of an advertisement frame that the tests check.
struct Advertisement {
    eth_dst: [u8; 6],
    source: [u8; 16],
    destination: [u8; 16],
    flags: u8,
    target: [u8; 16],
    option: [u8; 8],
}

/// Parses an advertisement frame with etherparse, checking length, hop
/// limit and checksum on the way.
fn parse_advertisement(frame: &[u8]) -> Advertisement {
    assert_eq!(frame.len(), 86);
    let ip = etherparse::Ipv6HeaderSlice::from_slice(&frame[14..]).unwrap();
    assert_eq!(ip.hop_limit(), 255);
    let icmp = Icmpv6Slice::from_slice(&frame[54..]).unwrap();
    assert!(icmp.is_checksum_valid(ip.source(), ip.destination()));
    let Icmpv6Type::NeighborAdvertisement(header) = icmp.icmp_type() else {
        panic!("not an advertisement: {:?}", icmp.icmp_type());
    };
    let flags = (u8::from(header.router) << 7)
        | (u8::from(header.solicited) << 6)
        | (u8::from(header.r#override) << 5);
    let mut target = [0u8; 16];
    target.copy_from_slice(&frame[62..78]);
    let mut option = [0u8; 8];
    option.copy_from_slice(&frame[78..86]);
    let mut eth_dst = [0u8; 6];
    eth_dst.copy_from_slice(&frame[0..6]);
    Advertisement {
        eth_dst,
        source: ip.source(),
        destination: ip.destination(),
        flags,
        target,
        option,
    }
}

#[test]
fn solicitation_for_our_address_becomes_a_solicited_advertisement() {
    let slla = [0x02, 0, 0, 0, 0, 0x77];
    let frame = solicitation(
        ipv6_addr(5),
        solicited_node(ipv6_addr(1)),
        255,
        ipv6_addr(1),
        Some(slla),
    );
    let (outcome, buf) = answer(&frame);
    assert_eq!(
        outcome,
        Ok(NdpOutcome::Advertised {
            solicitor: Some(Ipv6Addr::from(ipv6_addr(5))),
            destination_mac: MacAddr(slla)
        })
    );
    let na = parse_advertisement(buf.as_slice());
    assert_eq!(na.eth_dst, slla, "sent to the source link-layer address");
    assert_eq!(&buf.as_slice()[6..12], &OUR_MAC.0);
    assert_eq!(na.source, ipv6_addr(1));
    assert_eq!(na.destination, ipv6_addr(5));
    assert_eq!(na.flags, 0x80 | 0x40 | 0x20, "router, solicited, override");
    assert_eq!(na.target, ipv6_addr(1));
    assert_eq!(na.option, [2, 1, 0x02, 0, 0, 0, 1, 1]);
}

#[test]
fn unicast_solicitation_without_option_grows_the_buffer() {
    let frame = solicitation(ipv6_addr(5), ipv6_addr(1), 255, ipv6_addr(1), None);
    assert_eq!(frame.len(), 78);
    let (outcome, buf) = answer(&frame);
    assert!(matches!(outcome, Ok(NdpOutcome::Advertised { .. })));
    let na = parse_advertisement(buf.as_slice());
    assert_eq!(na.eth_dst, MAC_A, "falls back to the frame's source MAC");
}

#[test]
fn duplicate_address_detection_is_answered_to_all_nodes() {
    let frame = solicitation(
        [0; 16],
        solicited_node(ipv6_addr(1)),
        255,
        ipv6_addr(1),
        None,
    );
    let (outcome, buf) = answer(&frame);
    assert_eq!(
        outcome,
        Ok(NdpOutcome::Advertised {
            solicitor: None,
            destination_mac: MacAddr([0x33, 0x33, 0, 0, 0, 1])
        })
    );
    let na = parse_advertisement(buf.as_slice());
    assert_eq!(na.eth_dst, [0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(
        Ipv6Addr::from(na.destination),
        "ff02::1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(na.flags, 0x80 | 0x20, "solicited flag clear for multicast");
}

#[test]
fn invalid_solicitations_are_refused_with_the_reason() {
    let ns = |source, destination, hop, target, slla| {
        solicitation(source, destination, hop, target, slla)
    };
    let to_target = solicited_node(ipv6_addr(1));
    let mut multicast_target = ipv6_addr(1);
    multicast_target[0] = 0xff;
    let mut bad_checksum = ns(ipv6_addr(5), to_target, 255, ipv6_addr(1), None);
    bad_checksum[57] ^= 1;
    let mut bad_code = ns(ipv6_addr(5), to_target, 255, ipv6_addr(1), None);
    bad_code[55] = 1;
    let mut zero_option = ns(ipv6_addr(5), to_target, 255, ipv6_addr(1), Some(MAC_A));
    zero_option[79] = 0;
    let cases = [
        (
            ns(ipv6_addr(5), to_target, 64, ipv6_addr(1), None),
            NdpInvalid::HopLimitNot255,
        ),
        (bad_checksum, NdpInvalid::BadChecksum),
        (
            ns(ipv6_addr(5), to_target, 255, multicast_target, None),
            NdpInvalid::MulticastTarget,
        ),
        (
            ns([0; 16], ipv6_addr(1), 255, ipv6_addr(1), None),
            NdpInvalid::UnspecifiedSourceNotToSolicitedNode,
        ),
        (
            ns([0; 16], to_target, 255, ipv6_addr(1), Some(MAC_A)),
            NdpInvalid::UnspecifiedSourceWithLinkLayerOption,
        ),
    ];
    for (frame, reason) in cases {
        let (outcome, buf) = answer(&frame);
        assert_eq!(outcome, Err(WireError::NdpInvalid(reason)));
        assert_eq!(buf.as_slice(), &frame[..], "{reason:?}: frame untouched");
    }
    // Code and option checks come after the checksum: refresh it by
    // re-deriving the frames through the checksum helper.
    for (mut frame, reason) in [
        (bad_code, NdpInvalid::NonZeroCode),
        (zero_option, NdpInvalid::BadOption),
    ] {
        frame[56] = 0;
        frame[57] = 0;
        let sum = checksum::icmpv6_checksum(
            &Ipv6Addr::from(ipv6_addr(5)),
            &Ipv6Addr::from(to_target),
            &frame[54..],
        );
        frame[56..58].copy_from_slice(&sum.to_be_bytes());
        let (outcome, _) = answer(&frame);
        assert_eq!(outcome, Err(WireError::NdpInvalid(reason)));
    }
}

#[test]
fn other_targets_and_messages_are_left_alone() {
    let frame = solicitation(
        ipv6_addr(5),
        solicited_node(ipv6_addr(9)),
        255,
        ipv6_addr(9),
        None,
    );
    let (outcome, buf) = answer(&frame);
    assert_eq!(outcome, Ok(NdpOutcome::NotForUs));
    assert_eq!(buf.as_slice(), &frame[..]);

    let echo = ethernet(
        OUR_MAC.0,
        MAC_A,
        0x86dd,
        &ipv6_echo_request(ipv6_addr(5), ipv6_addr(1), b"x"),
    );
    let (outcome, _) = answer(&echo);
    assert_eq!(outcome, Ok(NdpOutcome::NotASolicitation));
}
