//! ICMPv4 and ICMPv6 errors and echo replies, parsed back by etherparse:
//! types and codes, quoted bytes, lengths, checksums, and the RFC 1812 /
//! RFC 4443 cases where no error may be sent.

use crate::support;

use std::net::{Ipv4Addr, Ipv6Addr};

use erdp::packet::PacketBuf;
use erdp::wire::checksum::{verify_icmpv6_checksum, verify_internet_checksum};
use erdp::wire::*;
use etherparse::{Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, Ipv4HeaderSlice};
use support::wire::*;

const ROUTER_V4: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 1);

fn router_v6() -> Ipv6Addr {
    Ipv6Addr::from(ipv6_addr(0xfe))
}

fn build_v4(kind: Icmpv4ErrorKind, offending: &[u8]) -> Result<Vec<u8>, WireError> {
    let packet = Ipv4Packet::new_checked(offending).unwrap();
    let mut out = [0u8; 600];
    let len = build_icmpv4_error(kind, &packet, ROUTER_V4, &mut out)?;
    Ok(out[..len].to_vec())
}

fn build_v6(kind: Icmpv6ErrorKind, offending: &[u8]) -> Result<Vec<u8>, WireError> {
    let packet = Ipv6Packet::new_checked(offending).unwrap();
    let mut out = vec![0u8; 1500];
    let len = build_icmpv6_error(kind, &packet, router_v6(), &mut out)?;
    out.truncate(len);
    Ok(out)
}

#[test]
fn time_exceeded_quotes_up_to_576_bytes() {
    let offending = ipv4_udp([10, 0, 0, 5], [10, 1, 0, 9], 1, &[0xab; 1000]);
    let error = build_v4(Icmpv4ErrorKind::TimeExceeded, &offending).unwrap();
    assert_eq!(error.len(), 576);
    let ip = Ipv4HeaderSlice::from_slice(&error).unwrap();
    assert_eq!(ip.source_addr(), ROUTER_V4);
    assert_eq!(ip.destination_addr(), Ipv4Addr::new(10, 0, 0, 5));
    assert_eq!(ip.total_len(), 576);
    assert_eq!(ip.protocol(), IpNumber::ICMP);
    assert_eq!(ip.header_checksum(), reference_ipv4_checksum(&error));
    assert_eq!(ip.dcp().value() >> 3, 6, "precedence 6 (RFC 1812 4.3.2.5)");
    let icmp = Icmpv4Slice::from_slice(&error[20..]).unwrap();
    assert!(matches!(icmp.icmp_type(), Icmpv4Type::TimeExceeded(_)));
    assert_eq!(icmp.code_u8(), 0);
    assert!(verify_internet_checksum(&error[20..]));
    assert_eq!(icmp.payload(), &offending[..548]);
}

#[test]
fn small_packets_are_quoted_whole_and_codes_are_right() {
    let offending = ipv4_udp([10, 0, 0, 5], [10, 9, 9, 9], 64, b"hello");
    for (kind, icmp_type, code) in [
        (Icmpv4ErrorKind::NetUnreachable, 3, 0),
        (Icmpv4ErrorKind::HostUnreachable, 3, 1),
        (Icmpv4ErrorKind::TimeExceeded, 11, 0),
    ] {
        let error = build_v4(kind, &offending).unwrap();
        assert_eq!(error.len(), 28 + offending.len());
        assert_eq!((error[20], error[21]), (icmp_type, code));
        assert_eq!(&error[28..], &offending[..]);
        assert!(verify_internet_checksum(&error[..20]));
        assert!(verify_internet_checksum(&error[20..]));
    }
}

#[test]
fn fragmentation_needed_carries_next_hop_mtu() {
    let mut offending = ipv4_udp([10, 0, 0, 5], [10, 1, 0, 9], 64, &[0; 1472]);
    offending[6] |= 0x40; // DF
    refresh_ipv4_checksum(&mut offending);
    let error = build_v4(
        Icmpv4ErrorKind::FragmentationNeeded { next_hop_mtu: 1400 },
        &offending,
    )
    .unwrap();
    let icmp = Icmpv4Slice::from_slice(&error[20..]).unwrap();
    match icmp.icmp_type() {
        Icmpv4Type::DestinationUnreachable(header) => assert_eq!(
            header,
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1400 }
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn icmpv4_errors_are_suppressed_where_rfc1812_says() {
    let kind = Icmpv4ErrorKind::TimeExceeded;
    let suppressed = |bytes: &[u8]| match build_v4(kind, bytes) {
        Err(WireError::IcmpSuppressed(why)) => why,
        other => panic!("expected suppression, got {other:?}"),
    };

    // About an ICMP error: a destination unreachable being forwarded.
    let inner = ipv4_udp([10, 1, 0, 9], [10, 0, 0, 5], 64, b"x");
    let unreachable = build_v4(Icmpv4ErrorKind::NetUnreachable, &inner).unwrap();
    assert_eq!(suppressed(&unreachable), IcmpSuppression::AboutIcmpError);
    // ... but an echo request is fine.
    let echo = ipv4_echo_request([10, 0, 0, 5], [10, 1, 0, 9], b"ping");
    assert!(build_v4(kind, &echo).is_ok());

    let mut fragment = ipv4_udp([10, 0, 0, 5], [10, 1, 0, 9], 64, &[0; 64]);
    set_ipv4_fragment(&mut fragment, 185, false);
    assert_eq!(
        suppressed(&fragment),
        IcmpSuppression::AboutNonFirstFragment
    );
    // The first fragment does get errors.
    let mut first = ipv4_udp([10, 0, 0, 5], [10, 1, 0, 9], 64, &[0; 64]);
    set_ipv4_fragment(&mut first, 0, true);
    assert!(build_v4(kind, &first).is_ok());

    for destination in [[224, 0, 0, 5], [239, 1, 2, 3], [255, 255, 255, 255]] {
        let packet = ipv4_udp([10, 0, 0, 5], destination, 64, b"x");
        assert_eq!(
            suppressed(&packet),
            IcmpSuppression::AboutMulticastOrBroadcast
        );
    }
    for source in [[0, 0, 0, 0], [127, 0, 0, 1], [224, 0, 0, 1], [240, 0, 0, 1]] {
        let packet = ipv4_udp(source, [10, 1, 0, 9], 64, b"x");
        assert_eq!(suppressed(&packet), IcmpSuppression::SourceNotUnicast);
    }
}

#[test]
fn icmpv6_errors_have_right_type_length_and_checksum() {
    let offending = ipv6_udp(ipv6_addr(5), ipv6_addr(9), 1, &[0x5a; 2000]);
    for (kind, icmp_type, code, rest) in [
        (Icmpv6ErrorKind::TimeExceeded, 3, 0, [0u8; 4]),
        (Icmpv6ErrorKind::NoRoute, 1, 0, [0; 4]),
        (Icmpv6ErrorKind::AddressUnreachable, 1, 3, [0; 4]),
        (
            Icmpv6ErrorKind::PacketTooBig { mtu: 1400 },
            2,
            0,
            1400u32.to_be_bytes(),
        ),
    ] {
        let error = build_v6(kind, &offending).unwrap();
        assert_eq!(error.len(), 1280, "{kind:?}");
        let ip = etherparse::Ipv6HeaderSlice::from_slice(&error).unwrap();
        assert_eq!(ip.source_addr(), router_v6());
        assert_eq!(ip.destination_addr(), Ipv6Addr::from(ipv6_addr(5)));
        assert_eq!(usize::from(ip.payload_length()), 1240);
        let icmp = Icmpv6Slice::from_slice(&error[40..]).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (icmp_type, code));
        assert_eq!(icmp.bytes5to8(), rest);
        assert!(icmp.is_checksum_valid(ip.source(), ip.destination()));
        assert_eq!(icmp.payload(), &offending[..1232]);
    }
}

#[test]
fn icmpv6_errors_are_suppressed_where_rfc4443_says() {
    let suppressed = |kind, bytes: &[u8]| match build_v6(kind, bytes) {
        Err(WireError::IcmpSuppressed(why)) => why,
        other => panic!("expected suppression, got {other:?}"),
    };
    let time_exceeded = Icmpv6ErrorKind::TimeExceeded;
    let too_big = Icmpv6ErrorKind::PacketTooBig { mtu: 1280 };

    let inner = ipv6_udp(ipv6_addr(9), ipv6_addr(5), 64, b"x");
    let error = build_v6(Icmpv6ErrorKind::NoRoute, &inner).unwrap();
    assert_eq!(
        suppressed(time_exceeded, &error),
        IcmpSuppression::AboutIcmpError
    );
    assert_eq!(suppressed(too_big, &error), IcmpSuppression::AboutIcmpError);

    let echo = ipv6_echo_request(ipv6_addr(5), ipv6_addr(9), b"ping");
    assert!(build_v6(time_exceeded, &echo).is_ok());

    let mut multicast = ipv6_addr(0);
    multicast[0] = 0xff;
    multicast[1] = 0x0e;
    let to_group = ipv6_udp(ipv6_addr(5), multicast, 1, b"x");
    assert_eq!(
        suppressed(time_exceeded, &to_group),
        IcmpSuppression::AboutMulticastOrBroadcast
    );
    assert!(
        build_v6(too_big, &to_group).is_ok(),
        "RFC 4443 2.4(e.2) exception"
    );

    let from_unspecified = ipv6_udp([0; 16], ipv6_addr(9), 1, b"x");
    assert_eq!(
        suppressed(time_exceeded, &from_unspecified),
        IcmpSuppression::SourceNotUnicast
    );

    let udp = ipv6_udp(ipv6_addr(5), ipv6_addr(9), 1, &[0; 32]);
    let later_fragment = insert_ipv6_fragment_header(&udp, 8, true);
    assert_eq!(
        suppressed(time_exceeded, &later_fragment),
        IcmpSuppression::AboutNonFirstFragment
    );
    assert!(build_v6(too_big, &later_fragment).is_ok());
    let first_fragment = insert_ipv6_fragment_header(&udp, 0, true);
    assert!(build_v6(time_exceeded, &first_fragment).is_ok());
}

#[test]
fn small_output_buffers_are_an_error_not_a_panic() {
    let offending = ipv4_udp([10, 0, 0, 5], [10, 1, 0, 9], 1, &[0; 100]);
    let packet = Ipv4Packet::new_checked(&offending[..]).unwrap();
    let mut out = [0u8; 40];
    assert_eq!(
        build_icmpv4_error(Icmpv4ErrorKind::TimeExceeded, &packet, ROUTER_V4, &mut out),
        Err(WireError::BufferTooSmall {
            needed: 156,
            available: 40
        })
    );
}

#[test]
fn packet_buf_variant_leaves_headroom_for_ethernet() {
    let offending = ipv6_udp(ipv6_addr(5), ipv6_addr(9), 1, b"abc");
    let packet = Ipv6Packet::new_checked(&offending[..]).unwrap();
    let mut buf = PacketBuf::new();
    let len = build_icmpv6_error_into(
        Icmpv6ErrorKind::TimeExceeded,
        &packet,
        router_v6(),
        &mut buf,
    )
    .unwrap();
    assert_eq!(buf.len(), len);
    assert_eq!(buf.headroom(), PacketBuf::DEFAULT_HEADROOM);
    assert!(verify_icmpv6_checksum(
        &router_v6(),
        &Ipv6Addr::from(ipv6_addr(5)),
        &buf.as_slice()[40..]
    ));
}

#[test]
fn echo_reply_v4_in_place() {
    let request = ipv4_echo_request([10, 0, 0, 5], [10, 0, 0, 1], b"abcdefghijklmnopq");
    let mut bytes = request.clone();
    let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
    echo_reply_v4(&mut packet).unwrap();
    let ip = Ipv4HeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!(ip.source(), [10, 0, 0, 1]);
    assert_eq!(ip.destination(), [10, 0, 0, 5]);
    assert_eq!(ip.ttl(), ECHO_REPLY_TTL);
    assert_eq!(ip.header_checksum(), reference_ipv4_checksum(&bytes));
    let icmp = Icmpv4Slice::from_slice(&bytes[20..]).unwrap();
    match icmp.icmp_type() {
        Icmpv4Type::EchoReply(echo) => assert_eq!((echo.id, echo.seq), (0x1234, 7)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(icmp.payload(), b"abcdefghijklmnopq");
    assert!(verify_internet_checksum(&bytes[20..]));
}

#[test]
fn echo_reply_v6_in_place() {
    let request = ipv6_echo_request(ipv6_addr(5), ipv6_addr(1), b"odd-length");
    let mut bytes = request.clone();
    let mut packet = Ipv6Packet::new_checked(&mut bytes[..]).unwrap();
    echo_reply_v6(&mut packet).unwrap();
    let ip = etherparse::Ipv6HeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!(ip.source(), ipv6_addr(1));
    assert_eq!(ip.destination(), ipv6_addr(5));
    assert_eq!(ip.hop_limit(), ECHO_REPLY_TTL);
    let icmp = Icmpv6Slice::from_slice(&bytes[40..]).unwrap();
    assert!(
        matches!(icmp.icmp_type(), Icmpv6Type::EchoReply(echo) if echo.id == 0x1234 && echo.seq == 7)
    );
    assert!(icmp.is_checksum_valid(ip.source(), ip.destination()));
    assert_eq!(icmp.payload(), b"odd-length");
}

#[test]
fn echo_refusals_are_typed_and_leave_the_packet_alone() {
    let mut corrupt = ipv4_echo_request([10, 0, 0, 5], [10, 0, 0, 1], b"data");
    corrupt[30] ^= 0xff;
    let before = corrupt.clone();
    let mut packet = Ipv4Packet::new_checked(&mut corrupt[..]).unwrap();
    assert_eq!(
        echo_reply_v4(&mut packet),
        Err(WireError::IcmpChecksum {
            layer: Layer::Icmpv4
        })
    );
    assert_eq!(corrupt, before);

    let mut udp = ipv4_udp([10, 0, 0, 5], [10, 0, 0, 1], 64, b"x");
    let mut packet = Ipv4Packet::new_checked(&mut udp[..]).unwrap();
    assert_eq!(
        echo_reply_v4(&mut packet),
        Err(WireError::UnexpectedProtocol(IpNumber::UDP))
    );

    let mut broadcast = ipv4_echo_request([10, 0, 0, 5], [255, 255, 255, 255], b"x");
    let mut packet = Ipv4Packet::new_checked(&mut broadcast[..]).unwrap();
    assert_eq!(
        echo_reply_v4(&mut packet),
        Err(WireError::DestinationNotUnicast {
            layer: Layer::Icmpv4
        })
    );

    let mut fragment = ipv4_echo_request([10, 0, 0, 5], [10, 0, 0, 1], b"x");
    set_ipv4_fragment(&mut fragment, 0, true);
    let mut packet = Ipv4Packet::new_checked(&mut fragment[..]).unwrap();
    assert_eq!(
        echo_reply_v4(&mut packet),
        Err(WireError::Fragmented {
            layer: Layer::Icmpv4
        })
    );

    // An echo reply is not a request.
    let mut reply = ipv6_echo_request(ipv6_addr(5), ipv6_addr(1), b"x");
    let mut packet = Ipv6Packet::new_checked(&mut reply[..]).unwrap();
    echo_reply_v6(&mut packet).unwrap();
    assert!(matches!(
        echo_reply_v6(&mut packet),
        Err(WireError::IcmpType { icmp_type: 129, .. })
    ));
}
