//! Every parser at every truncation length of a valid packet: never a
//! panic, always a typed error (or, for a header cut inside a valid IP
//! packet, an explicit "left alone" outcome). Random bytes too.

use crate::support;

use std::net::{Ipv4Addr, Ipv6Addr};

use erdp::packet::PacketBuf;
use erdp::wire::*;
use proptest::prelude::*;
use support::wire::*;

const OUR_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);

/// The IPv4 packet cut to `payload_len` payload bytes, header fixed up.
fn ipv4_cut_payload(packet: &[u8], payload_len: usize) -> Vec<u8> {
    let mut cut = packet[..20 + payload_len].to_vec();
    cut[2..4].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    refresh_ipv4_checksum(&mut cut);
    cut
}

/// The IPv6 packet cut to `payload_len` payload bytes, length fixed up.
fn ipv6_cut_payload(packet: &[u8], payload_len: usize) -> Vec<u8> {
    let mut cut = packet[..40 + payload_len].to_vec();
    cut[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
    cut
}

/// Runs every operation on `bytes` (as an IP packet and as a frame); only
/// panics matter to the caller.
fn exercise_everything(bytes: &[u8]) -> Vec<Option<WireDrop>> {
    let mut reasons = Vec::new();
    let mut record =
        |result: Result<(), WireError>| reasons.push(result.err().map(|e| e.drop_reason()));
    record(Ipv4Packet::new_checked(bytes).map(|_| ()));
    record(Ipv6Packet::new_checked(bytes).map(|_| ()));
    record(FlowKey::parse(bytes).map(|_| ()));
    record(EthernetHeader::parse(bytes).map(|_| ()));
    if let Ok(mut packet) = Ipv4Packet::new_checked_ignoring_checksum(bytes.to_vec()) {
        let mut out = [0u8; ICMPV4_ERROR_MAX_LEN];
        record(
            build_icmpv4_error(
                Icmpv4ErrorKind::TimeExceeded,
                &packet,
                Ipv4Addr::LOCALHOST,
                &mut out,
            )
            .map(|_| ()),
        );
        record(echo_reply_v4(&mut packet));
    }
    if let Ok(mut packet) = Ipv6Packet::new_checked(bytes.to_vec()) {
        let mut out = vec![0u8; ICMPV6_ERROR_MAX_LEN];
        record(
            build_icmpv6_error(
                Icmpv6ErrorKind::PacketTooBig { mtu: 1280 },
                &packet,
                Ipv6Addr::LOCALHOST,
                &mut out,
            )
            .map(|_| ()),
        );
        record(packet.upper_layer().map(|_| ()));
        record(echo_reply_v6(&mut packet));
    }
    if let Ok(mut packet) = IpPacket::new_checked(bytes.to_vec()) {
        let _ = clamp_tcp_mss(&mut packet, 1350);
        let _ = FlowKey::from_packet(&packet);
        record(packet.decrement_ttl().map(|_| ()));
    }
    let mut frame = bytes.to_vec();
    record(answer_arp_request(&mut frame, OUR_MAC, |_| true).map(|_| ()));
    let mut buf = PacketBuf::new();
    buf.load(bytes, PacketBuf::DEFAULT_HEADROOM).unwrap();
    record(answer_neighbor_solicitation(&mut buf, OUR_MAC, |_| true).map(|_| ()));
    reasons
}

fn samples() -> Vec<Vec<u8>> {
    vec![
        ipv4_tcp(true, &tcp_options(1, Some(1460)), b"data"),
        ipv6_tcp(true, &tcp_options(2, Some(1460)), b"data"),
        ipv4_echo_request([10, 0, 0, 5], [10, 0, 0, 1], b"ping"),
        ipv6_echo_request(ipv6_addr(5), ipv6_addr(1), b"ping"),
        insert_ipv6_fragment_header(&ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, b"x"), 0, true),
        insert_ipv6_hop_by_hop(&ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, b"x")),
    ]
}

#[test]
fn ip_parsers_reject_every_truncation_with_a_typed_error() {
    for packet in samples() {
        for len in 0..packet.len() {
            let cut = &packet[..len];
            assert!(IpPacket::new_checked(cut).is_err(), "len {len} accepted");
            let error = FlowKey::parse(cut).unwrap_err();
            assert!(
                matches!(
                    error.drop_reason(),
                    WireDrop::Truncated | WireDrop::Ipv4TotalLength | WireDrop::Ipv6PayloadLength
                ),
                "len {len}: {error}"
            );
            exercise_everything(cut);
        }
        assert!(IpPacket::new_checked(&packet[..]).is_ok());
    }
}

#[test]
fn frame_parsers_survive_every_truncation() {
    let mut frames = Vec::new();
    for packet in samples() {
        let ether_type = if packet[0] >> 4 == 4 { 0x0800 } else { 0x86dd };
        frames.push(ethernet(OUR_MAC.0, MAC_A, ether_type, &packet));
    }
    // ARP request and a VLAN-tagged frame.
    frames.push(ethernet(
        [0xff; 6],
        MAC_A,
        0x0806,
        &[
            0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 10, 10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1,
        ],
    ));
    frames.push(ethernet([0xff; 6], MAC_A, 0x8100, &[0, 100, 0x08, 0x00]));
    for frame in frames {
        for len in 0..frame.len() {
            let cut = &frame[..len];
            let mut copy = cut.to_vec();
            let arp = answer_arp_request(&mut copy, OUR_MAC, |_| true);
            assert!(arp.is_err(), "ARP on {len} bytes: {arp:?}");
            let mut buf = PacketBuf::new();
            buf.load(cut, PacketBuf::DEFAULT_HEADROOM).unwrap();
            let ndp = answer_neighbor_solicitation(&mut buf, OUR_MAC, |_| true);
            assert!(ndp.is_err(), "NDP on {len} bytes: {ndp:?}");
        }
    }
}

#[test]
fn upper_layers_cut_inside_a_valid_ip_packet_are_handled() {
    let v4_syn = ipv4_tcp(true, &tcp_options(1, Some(9000)), b"");
    for payload_len in 0..v4_syn.len() - 20 {
        let mut cut = ipv4_cut_payload(&v4_syn, payload_len);
        let before = cut.clone();
        let mut packet = IpPacket::new_checked(&mut cut[..]).unwrap();
        let outcome = clamp_tcp_mss(&mut packet, 1350);
        assert!(
            matches!(outcome, MssOutcome::Unchanged(MssUnchanged::NoTcpHeader)),
            "{payload_len}: {outcome:?}"
        );
        assert_eq!(cut, before);
    }
    let v6_syn = ipv6_tcp(true, &tcp_options(0, Some(9000)), b"");
    for payload_len in 0..v6_syn.len() - 40 {
        let mut cut = ipv6_cut_payload(&v6_syn, payload_len);
        let mut packet = IpPacket::new_checked(&mut cut[..]).unwrap();
        assert!(matches!(
            clamp_tcp_mss(&mut packet, 1350),
            MssOutcome::Unchanged(_)
        ));
    }

    let echo = ipv4_echo_request([10, 0, 0, 5], [10, 0, 0, 1], b"");
    for payload_len in 0..8 {
        let mut cut = ipv4_cut_payload(&echo, payload_len);
        let mut packet = Ipv4Packet::new_checked(&mut cut[..]).unwrap();
        assert_eq!(
            echo_reply_v4(&mut packet).unwrap_err().drop_reason(),
            WireDrop::Truncated
        );
        // An ICMP packet too short to show its type gets no ICMP error.
        if payload_len == 0 {
            let mut out = [0u8; 600];
            assert_eq!(
                build_icmpv4_error(
                    Icmpv4ErrorKind::TimeExceeded,
                    &packet,
                    Ipv4Addr::LOCALHOST,
                    &mut out
                ),
                Err(WireError::IcmpSuppressed(IcmpSuppression::AboutIcmpError))
            );
        }
    }
    let echo6 = ipv6_echo_request(ipv6_addr(5), ipv6_addr(1), b"");
    for payload_len in 0..8 {
        let mut cut = ipv6_cut_payload(&echo6, payload_len);
        let mut packet = Ipv6Packet::new_checked(&mut cut[..]).unwrap();
        assert!(echo_reply_v6(&mut packet).is_err());
    }
}

proptest! {
    #![proptest_config(seeded(3000))]

    #[test]
    fn random_bytes_never_panic(
        version in prop::sample::select(vec![0x45u8, 0x46, 0x60, 0x00]),
        mut bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Some(first) = bytes.first_mut() {
            *first = version;
        }
        exercise_everything(&bytes);
        // As an Ethernet frame carrying IPv6, IPv4 or ARP.
        for ether_type in [0x86ddu16, 0x0800, 0x0806] {
            let frame = ethernet(OUR_MAC.0, MAC_A, ether_type, &bytes);
            exercise_everything(&frame);
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        sample in 0usize..6,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut packet = samples()[sample].clone();
        for (index, value) in flips {
            let at = index.index(packet.len());
            packet[at] = value;
        }
        exercise_everything(&packet);
    }
}
