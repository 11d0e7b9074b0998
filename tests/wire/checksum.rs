//! Checksums: incremental updates (RFC 1624) equal full recomputation
//! (RFC 1071) for random data and rewrites; pseudo-header sums agree with
//! the checksums etherparse writes.

use crate::support;

use std::net::{Ipv4Addr, Ipv6Addr};

use erdp::wire::IpNumber;
use erdp::wire::checksum::*;
use proptest::prelude::*;
use support::wire::*;

/// Data with a checksum at bytes 0..2 over the whole buffer; the first data
/// byte is non-zero so the all-zero `-0` corner cannot arise.
fn with_checksum(mut data: Vec<u8>) -> Vec<u8> {
    data[0] = 0;
    data[1] = 0;
    data[2] |= 0x40;
    let sum = internet_checksum(&data);
    data[0..2].copy_from_slice(&sum.to_be_bytes());
    data
}

fn full_checksum(data: &[u8]) -> u16 {
    let mut zeroed = data.to_vec();
    zeroed[0] = 0;
    zeroed[1] = 0;
    internet_checksum(&zeroed)
}

proptest! {
    #![proptest_config(seeded(2000))]

    #[test]
    fn incremental_u16_equals_full_at_any_offset(
        data in proptest::collection::vec(any::<u8>(), 6..200),
        position in any::<prop::sample::Index>(),
        new in any::<u16>(),
    ) {
        let mut data = with_checksum(data);
        let at = 2 + position.index(data.len() - 3);
        let old = u16::from_be_bytes([data[at], data[at + 1]]);
        data[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let stored = u16::from_be_bytes([data[0], data[1]]);
        let updated = if at % 2 == 0 {
            update_u16(stored, old, new)
        } else {
            update_u16_at_odd_offset(stored, old, new)
        };
        prop_assert_eq!(updated, full_checksum(&data));
        data[0..2].copy_from_slice(&updated.to_be_bytes());
        prop_assert!(verify_internet_checksum(&data));
    }

    #[test]
    fn incremental_u32_equals_full(
        data in proptest::collection::vec(any::<u8>(), 8..100),
        position in any::<prop::sample::Index>(),
        new in any::<u32>(),
    ) {
        let mut data = with_checksum(data);
        let words = (data.len() - 2) / 2 - 1;
        let at = 2 + 2 * position.index(words);
        let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        data[at..at + 4].copy_from_slice(&new.to_be_bytes());
        let stored = u16::from_be_bytes([data[0], data[1]]);
        prop_assert_eq!(update_u32(stored, old, new), full_checksum(&data));
    }

    #[test]
    fn udp_over_ipv4_verifies_with_our_pseudo_header(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        source in any::<[u8; 4]>(),
        destination in any::<[u8; 4]>(),
    ) {
        let packet = ipv4_udp(source, destination, 64, &payload);
        let segment = &packet[20..];
        let sum = ipv4_pseudo_header_sum(
            Ipv4Addr::from(source),
            Ipv4Addr::from(destination),
            IpNumber::UDP,
            segment.len() as u16,
        )
        .add_bytes(segment);
        prop_assert!(sum.verifies());
    }

    #[test]
    fn udp_over_ipv6_verifies_with_our_pseudo_header(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        source in any::<[u8; 16]>(),
        destination in any::<[u8; 16]>(),
    ) {
        let packet = ipv6_udp(source, destination, 64, &payload);
        let segment = &packet[40..];
        let sum = ipv6_pseudo_header_sum(
            &Ipv6Addr::from(source),
            &Ipv6Addr::from(destination),
            IpNumber::UDP,
            segment.len() as u32,
        )
        .add_bytes(segment);
        prop_assert!(sum.verifies());
    }

    #[test]
    fn icmpv6_checksum_matches_etherparse(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        source in any::<[u8; 16]>(),
        destination in any::<[u8; 16]>(),
    ) {
        let packet = ipv6_echo_request(source, destination, &payload);
        let message = &packet[40..];
        let (source, destination) = (Ipv6Addr::from(source), Ipv6Addr::from(destination));
        prop_assert!(verify_icmpv6_checksum(&source, &destination, message));
        let mut zeroed = message.to_vec();
        zeroed[2] = 0;
        zeroed[3] = 0;
        prop_assert_eq!(
            icmpv6_checksum(&source, &destination, &zeroed),
            u16::from_be_bytes([message[2], message[3]])
        );
    }
}

#[test]
fn rfc1624_eqn3_avoids_minus_zero() {
    // RFC 1624 section 5 worked example.
    assert_eq!(update_u16(0xdd2f, 0x5555, 0x3285), 0x0000);
}
