//! IPv4/IPv6 validation errors and in-place rewrites (TTL, hop limit, DSCP,
//! ECN), each checked against etherparse's full header checksum.

use crate::support;

use erdp::wire::{IpDscp, IpEcn, IpPacket, Ipv4Packet, Ipv6Packet, Layer, WireDrop, WireError};
use proptest::prelude::*;
use support::wire::*;

proptest! {
    #![proptest_config(seeded(1000))]

    #[test]
    fn ttl_decrement_keeps_checksum_equal_to_full_recomputation(
        ttl in 2u8..=255,
        tos in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = ipv4_udp([10, 0, 0, 1], [10, 1, 0, 9], ttl, &payload);
        bytes[1] = tos;
        refresh_ipv4_checksum(&mut bytes);
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        prop_assert_eq!(packet.decrement_ttl(), Ok(ttl - 1));
        prop_assert_eq!(
            packet.header_checksum(),
            reference_ipv4_checksum(packet.as_bytes())
        );
    }

    #[test]
    fn dscp_and_ecn_rewrites_keep_checksum_right(
        dscp in 0u8..64,
        ecn in 0u8..4,
        ttl in 1u8..=255,
    ) {
        let mut bytes = ipv4_udp([192, 0, 2, 1], [198, 51, 100, 7], ttl, b"payload");
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        packet.set_dscp(IpDscp::try_new(dscp).unwrap());
        prop_assert_eq!(packet.header_checksum(), reference_ipv4_checksum(packet.as_bytes()));
        packet.set_ecn(IpEcn::try_new(ecn).unwrap());
        prop_assert_eq!(packet.header_checksum(), reference_ipv4_checksum(packet.as_bytes()));
        prop_assert_eq!(packet.dscp().value(), dscp);
        prop_assert_eq!(packet.ecn().value(), ecn);
        prop_assert!(Ipv4Packet::new_checked(&bytes[..]).is_ok());
    }

    #[test]
    fn ipv6_traffic_class_rewrites_touch_only_traffic_class(
        dscp in 0u8..64,
        ecn in 0u8..4,
        flow in 0u32..(1 << 20),
    ) {
        let mut bytes = ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, b"x");
        let word = 0x6000_0000u32 | flow;
        bytes[0..4].copy_from_slice(&word.to_be_bytes());
        let before = bytes.clone();
        let mut packet = Ipv6Packet::new_checked(&mut bytes[..]).unwrap();
        packet.set_dscp(IpDscp::try_new(dscp).unwrap());
        packet.set_ecn(IpEcn::try_new(ecn).unwrap());
        prop_assert_eq!(packet.flow_label(), flow);
        prop_assert_eq!(packet.traffic_class(), (dscp << 2) | ecn);
        prop_assert_eq!(&bytes[4..], &before[4..]);
        let parsed = etherparse::Ipv6HeaderSlice::from_slice(&bytes).unwrap();
        prop_assert_eq!(parsed.traffic_class(), (dscp << 2) | ecn);
    }
}

#[test]
fn ipv4_validation_errors_are_typed() {
    let good = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 64, &[0; 10]);

    let mut bad_version = good.clone();
    bad_version[0] = 0x55;
    assert_eq!(
        Ipv4Packet::new_checked(&bad_version[..]).unwrap_err(),
        WireError::IpVersion {
            expected: 4,
            found: 5
        }
    );

    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    assert_eq!(
        Ipv4Packet::new_checked(&short_ihl[..]).unwrap_err(),
        WireError::Ipv4HeaderLength { ihl: 4 }
    );

    let mut long_total = good.clone();
    long_total[2..4].copy_from_slice(&100u16.to_be_bytes());
    refresh_ipv4_checksum(&mut long_total);
    let error = Ipv4Packet::new_checked(&long_total[..]).unwrap_err();
    assert_eq!(
        error,
        WireError::Ipv4TotalLength {
            total_len: 100,
            header_len: 20,
            available: 38
        }
    );
    assert_eq!(error.drop_reason(), WireDrop::Ipv4TotalLength);
    assert!(error.to_string().contains("total length 100"));

    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    refresh_ipv4_checksum(&mut short_total);
    assert!(matches!(
        Ipv4Packet::new_checked(&short_total[..]),
        Err(WireError::Ipv4TotalLength { total_len: 19, .. })
    ));

    let mut bad_checksum = good.clone();
    bad_checksum[11] ^= 1;
    let error = Ipv4Packet::new_checked(&bad_checksum[..]).unwrap_err();
    assert_eq!(error.drop_reason(), WireDrop::Ipv4Checksum);
}

#[test]
fn ethernet_padding_is_ignored_but_reported_by_total_len() {
    let mut padded = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 64, &[1, 2]);
    let len = padded.len();
    padded.extend_from_slice(&[0; 16]);
    let packet = Ipv4Packet::new_checked(&padded[..]).unwrap();
    assert_eq!(packet.total_len(), len);
    assert_eq!(packet.as_bytes().len(), len);
    assert_eq!(packet.payload().len(), len - 20);
}

#[test]
fn ttl_zero_and_one_expire_for_both_versions() {
    for ttl in [0u8, 1] {
        let mut v4 = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], ttl, &[]);
        let mut packet = IpPacket::new_checked(&mut v4[..]).unwrap();
        assert_eq!(
            packet.decrement_ttl(),
            Err(WireError::TtlExpired {
                layer: Layer::Ipv4,
                ttl
            })
        );
        let mut v6 = ipv6_udp(ipv6_addr(1), ipv6_addr(2), ttl, &[]);
        let mut packet = IpPacket::new_checked(&mut v6[..]).unwrap();
        let error = packet.decrement_ttl().unwrap_err();
        assert_eq!(
            error,
            WireError::TtlExpired {
                layer: Layer::Ipv6,
                ttl
            }
        );
        assert_eq!(error.drop_reason(), WireDrop::TtlExpired);
    }
}

#[test]
fn ipv6_validation_errors_are_typed() {
    let good = ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, &[0; 10]);

    let mut long_payload = good.clone();
    long_payload[4..6].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        Ipv6Packet::new_checked(&long_payload[..]).unwrap_err(),
        WireError::Ipv6PayloadLength {
            payload_len: 19,
            available: 18
        }
    );

    let mut jumbo = good.clone();
    jumbo[4..6].copy_from_slice(&0u16.to_be_bytes());
    jumbo[6] = 0;
    assert_eq!(
        Ipv6Packet::new_checked(&jumbo[..]).unwrap_err(),
        WireError::Ipv6Jumbogram
    );

    let mut version = good.clone();
    version[0] = 0x40;
    assert_eq!(
        Ipv6Packet::new_checked(&version[..]).unwrap_err(),
        WireError::IpVersion {
            expected: 6,
            found: 4
        }
    );
    assert_eq!(
        IpPacket::new_checked(&[0x70u8; 40][..]).unwrap_err(),
        WireError::IpVersion {
            expected: 4,
            found: 7
        }
    );
}

#[test]
fn ipv6_extension_chain_is_walked_and_malformed_chain_reported() {
    let udp = ipv6_udp(ipv6_addr(1), ipv6_addr(2), 64, &[7; 12]);
    let with_hbh = insert_ipv6_hop_by_hop(&udp);
    let packet = Ipv6Packet::new_checked(&with_hbh[..]).unwrap();
    let upper = packet.upper_layer().unwrap();
    assert_eq!(upper.protocol, erdp::wire::IpNumber::UDP);
    assert_eq!(upper.offset, 48);

    let fragment = insert_ipv6_fragment_header(&udp, 3, true);
    let upper = Ipv6Packet::new_checked(&fragment[..])
        .unwrap()
        .upper_layer()
        .unwrap();
    assert_eq!(upper.fragment.map(|f| (f.offset, f.more)), Some((3, true)));
    assert!(!upper.is_first_fragment() && upper.is_fragment());

    // A hop-by-hop header whose length runs past the packet.
    let mut broken = with_hbh.clone();
    broken[41] = 200;
    assert!(matches!(
        Ipv6Packet::new_checked(&broken[..]).unwrap().upper_layer(),
        Err(WireError::Ipv6Extensions { .. })
    ));
}
