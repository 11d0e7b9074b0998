//! UPDATE codec tests: round trips of every attribute and both families,
//! every truncation, every bad length, and RFC 7606's outcome per error.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;

use super::*;

fn full_attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Egp),
        as_path: Some(AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![12076, 4_200_000_001],
                },
                AsSegment {
                    kind: SegmentKind::Set,
                    asns: vec![65001, 65002],
                },
            ],
        }),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(50),
        local_pref: Some(200),
        atomic_aggregate: true,
        aggregator: Some((4_200_000_001, Ipv4Addr::new(198, 51, 100, 1))),
        communities: vec![0xfde8_0001, 0xffff_ff01],
        other: vec![RawAttribute {
            flags: 0xe0,
            type_code: 32,
            value: vec![0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
        }],
    }
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|p| p.parse().unwrap()).collect()
}

/// Frames every message in `stream` and decodes each UPDATE.
fn updates(stream: &[u8], four_octet: bool) -> Vec<Update<'_>> {
    let mut rest = stream;
    let mut out = Vec::new();
    while let Some(framed) = frame(rest).unwrap() {
        assert_eq!(framed.message_type, message_type::UPDATE);
        out.push(Update::decode(framed.body, four_octet).unwrap());
        rest = &rest[framed.len..];
    }
    assert!(rest.is_empty());
    out
}

#[test]
fn ipv4_announce_round_trips_every_attribute_on_both_as_widths() {
    let prefixes = nets(&[
        "10.0.0.0/8",
        "192.0.2.0/24",
        "198.51.100.128/25",
        "0.0.0.0/0",
    ]);
    for four_octet in [true, false] {
        let attributes = full_attributes();
        let mut out = Vec::new();
        let count = encode_announce(
            Family::Ipv4Unicast,
            &attributes,
            Ipv6Addr::UNSPECIFIED,
            four_octet,
            &prefixes,
            &mut out,
        )
        .unwrap();
        assert_eq!(count, 1);
        let decoded = updates(&out, four_octet);
        let update = &decoded[0];
        assert_eq!(update.treat_as_withdraw, None);
        assert_eq!(update.attributes, attributes, "four_octet {four_octet}");
        assert_eq!(update.nlri.collect::<Vec<_>>(), prefixes);
        assert!(update.withdrawn.is_empty());
    }
}

#[test]
fn ipv6_announce_and_withdraw_ride_mp_attributes() {
    let prefixes = nets(&["2001:db8::/32", "2001:db8:1:2::/64", "::/0"]);
    let attributes = PathAttributes {
        next_hop: None,
        ..full_attributes()
    };
    let next_hop: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let mut out = Vec::new();
    encode_announce(
        Family::Ipv6Unicast,
        &attributes,
        next_hop,
        true,
        &prefixes,
        &mut out,
    )
    .unwrap();
    let decoded = updates(&out, true);
    let reach = decoded[0].mp_reach.unwrap();
    assert_eq!(reach.next_hop, next_hop);
    assert_eq!(reach.nlri.collect::<Vec<_>>(), prefixes);
    assert_eq!(decoded[0].treat_as_withdraw, None);

    let mut out = Vec::new();
    encode_withdraw(Family::Ipv6Unicast, &prefixes, &mut out);
    let decoded = updates(&out, true);
    let unreach = decoded[0].mp_unreach.unwrap();
    assert_eq!(unreach.withdrawn.collect::<Vec<_>>(), prefixes);
    assert_eq!(decoded[0].end_of_rib(), None);
}

#[test]
fn end_of_rib_markers_are_recognised() {
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        let mut out = Vec::new();
        encode_end_of_rib(family, &mut out);
        assert_eq!(updates(&out, true)[0].end_of_rib(), Some(family));
    }
}

#[test]
fn large_announcements_split_into_full_messages() {
    let prefixes: Vec<IpNet> = (0..3000u32)
        .map(|i| IpNet::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(), 24).unwrap())
        .collect();
    let mut out = Vec::new();
    let attributes = full_attributes();
    let count = encode_announce(
        Family::Ipv4Unicast,
        &attributes,
        Ipv6Addr::UNSPECIFIED,
        true,
        &prefixes,
        &mut out,
    )
    .unwrap();
    let decoded = updates(&out, true);
    assert_eq!(decoded.len(), count);
    assert!(count > 1);
    let all: Vec<IpNet> = decoded.iter().flat_map(|u| u.nlri).collect();
    assert_eq!(all, prefixes);
    let mut withdrawals = Vec::new();
    encode_withdraw(Family::Ipv4Unicast, &prefixes, &mut withdrawals);
    let all: Vec<IpNet> = updates(&withdrawals, true)
        .iter()
        .flat_map(|u| u.withdrawn)
        .collect();
    assert_eq!(all, prefixes);
}

/// An UPDATE body with these raw attributes and NLRI 10.0.0.0/8.
fn body_with(attributes: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    body.extend_from_slice(attributes);
    body.extend_from_slice(&[8, 10]);
    body
}

const ORIGIN: [u8; 4] = [0x40, 1, 1, 0];
const AS_PATH: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 192, 0, 2, 1];

fn mandatory_with(extra: &[u8]) -> Vec<u8> {
    [&ORIGIN[..], &AS_PATH, &NEXT_HOP, extra].concat()
}

#[test]
fn every_truncation_of_an_update_body_is_a_reset_or_a_withdraw() {
    let mut out = Vec::new();
    encode_announce(
        Family::Ipv4Unicast,
        &full_attributes(),
        Ipv6Addr::UNSPECIFIED,
        true,
        &nets(&["10.1.0.0/16"]),
        &mut out,
    )
    .unwrap();
    let body = &out[HEADER_LEN..];
    for cut in 0..body.len() {
        match Update::decode(&body[..cut], true) {
            Err(err) => assert_eq!(err.code, code::UPDATE_MESSAGE, "cut {cut}"),
            // Cutting into the NLRI leaves a shorter valid list or a
            // withdrawal; cutting the attributes cannot pass unnoticed.
            Ok(update) => assert!(
                update.treat_as_withdraw.is_some() || update.nlri.count() == 0,
                "cut {cut} decoded as a valid announcement"
            ),
        }
    }
}

#[test]
fn inconsistent_lengths_reset_with_malformed_attribute_list() {
    for body in [
        vec![0u8],
        vec![0, 5, 0, 0],
        vec![0, 0, 0, 9, 0x40, 1, 1, 0],
        vec![0, 0, 0xff, 0xff],
    ] {
        let err = Update::decode(&body, true).unwrap_err();
        assert_eq!((err.code, err.subcode), (3, 1), "{body:?}");
    }
}

#[test]
fn bad_nlri_resets_with_invalid_network_field() {
    let mut body = body_with(&mandatory_with(&[]));
    *body.last_mut().unwrap() = 10;
    body.push(33); // a /33 in IPv4
    body.extend_from_slice(&[1, 2, 3, 4, 5]);
    let err = Update::decode(&body, true).unwrap_err();
    assert_eq!((err.code, err.subcode), (3, 10));
    // Withdrawn prefix running past its field.
    let err = Update::decode(&[0, 2, 24, 10, 0, 0], true).unwrap_err();
    assert_eq!((err.code, err.subcode), (3, 10));
}

/// Decodes and returns the treat-as-withdraw reason.
fn withdraw_reason(attributes: &[u8]) -> Option<(u8, u8)> {
    let body = body_with(attributes);
    let update = Update::decode(&body, true).unwrap();
    update.treat_as_withdraw.map(|e| (e.type_code, e.subcode))
}

#[test]
fn rfc7606_treat_as_withdraw_cases() {
    assert_eq!(withdraw_reason(&mandatory_with(&[])), None);
    // ORIGIN value 3 (7.1).
    let bad_origin = [&[0x40u8, 1, 1, 3][..], &AS_PATH, &NEXT_HOP].concat();
    assert_eq!(withdraw_reason(&bad_origin), Some((1, 6)));
    // AS_PATH with a zero-length segment (7.2).
    let bad_path = [&ORIGIN[..], &[0x40, 2, 2, 2, 0], &NEXT_HOP].concat();
    assert_eq!(withdraw_reason(&bad_path), Some((2, 11)));
    // NEXT_HOP of 3 bytes (7.3) and 0.0.0.0 (semantically wrong).
    let short_hop = [&ORIGIN[..], &AS_PATH, &[0x40, 3, 3, 1, 2, 3]].concat();
    assert_eq!(withdraw_reason(&short_hop), Some((3, 5)));
    let zero_hop = [&ORIGIN[..], &AS_PATH, &[0x40, 3, 4, 0, 0, 0, 0]].concat();
    assert_eq!(withdraw_reason(&zero_hop), Some((3, 8)));
    // MED of 2 bytes (7.4), LOCAL_PREF of 5 (7.5).
    assert_eq!(
        withdraw_reason(&mandatory_with(&[0x80, 4, 2, 0, 1])),
        Some((4, 5))
    );
    assert_eq!(
        withdraw_reason(&mandatory_with(&[0x40, 5, 5, 0, 0, 0, 0, 1])),
        Some((5, 5))
    );
    // ORIGIN marked optional: a flags error (3 (c)).
    let flagged = [&[0xc0u8, 1, 1, 0][..], &AS_PATH, &NEXT_HOP].concat();
    assert_eq!(withdraw_reason(&flagged), Some((1, 4)));
    // Missing NEXT_HOP with IPv4 NLRI (3 (d)).
    assert_eq!(
        withdraw_reason(&[&ORIGIN[..], &AS_PATH].concat()),
        Some((3, 3))
    );
    // An attribute overrunning the list (4).
    assert_eq!(
        withdraw_reason(&mandatory_with(&[0x80, 4, 9, 0])),
        Some((4, 5))
    );
    // COMMUNITIES not a multiple of 4 (7.8).
    assert_eq!(
        withdraw_reason(&mandatory_with(&[0xc0, 8, 3, 0, 0, 1])),
        Some((8, 5))
    );
}

#[test]
fn rfc7606_attribute_discard_and_first_wins() {
    // ATOMIC_AGGREGATE with a byte, AGGREGATOR of 5 bytes: discarded.
    let attributes = mandatory_with(&[0x40, 6, 1, 0, 0xc0, 7, 5, 0, 1, 2, 3, 4]);
    let body = body_with(&attributes);
    let update = Update::decode(&body, true).unwrap();
    assert_eq!(update.treat_as_withdraw, None);
    assert_eq!(update.discarded, 2);
    // A second ORIGIN is discarded, the first kept.
    let twice = mandatory_with(&[0x40, 1, 1, 2]);
    let body = body_with(&twice);
    let update = Update::decode(&body, true).unwrap();
    assert_eq!(update.attributes.origin, Some(Origin::Igp));
    assert_eq!(update.discarded, 1);
}

#[test]
fn session_reset_cases() {
    // Unrecognised well-known attribute (type 99, not optional).
    let body = body_with(&mandatory_with(&[0x40, 99, 1, 7]));
    let err = Update::decode(&body, true).unwrap_err();
    assert_eq!((err.code, err.subcode), (3, 2));
    assert_eq!(err.data, [0x40, 99, 1, 7]);
    // MP_UNREACH twice (3 (g)).
    let mp = [0x80u8, 15, 3, 0, 2, 1];
    let body = body_with(&mandatory_with(&[&mp[..], &mp].concat()));
    assert_eq!(Update::decode(&body, true).unwrap_err().subcode, 1);
    // MP_REACH with a 5-byte IPv6 next hop.
    let bad_mp = [0x80u8, 14, 10, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0];
    let body = body_with(&mandatory_with(&bad_mp));
    assert_eq!(Update::decode(&body, true).unwrap_err().subcode, 9);
    // Unknown optional non-transitive attributes are dropped quietly.
    let body = body_with(&mandatory_with(&[0x80, 99, 1, 7]));
    let update = Update::decode(&body, true).unwrap();
    assert!(update.attributes.other.is_empty());
}

#[test]
fn as4_path_is_merged_on_a_two_octet_session() {
    // AS_PATH 65001 AS_TRANS AS_TRANS, AS4_PATH 4200000001 4200000002.
    let as_path = [0x40u8, 2, 8, 2, 3, 0xfd, 0xe9, 0x5b, 0xa0, 0x5b, 0xa0];
    let mut as4 = vec![0xc0u8, 17, 10, 2, 2];
    as4.extend_from_slice(&4_200_000_001u32.to_be_bytes());
    as4.extend_from_slice(&4_200_000_002u32.to_be_bytes());
    let attributes = [&ORIGIN[..], &as_path, &NEXT_HOP, &as4].concat();
    let body = body_with(&attributes);
    let update = Update::decode(&body, false).unwrap();
    let path: Vec<u32> = update.attributes.as_path.unwrap().asns().collect();
    assert_eq!(path, [65001, 4_200_000_001, 4_200_000_002]);
}

#[test]
fn prepend_keeps_segments_within_255() {
    let mut path = AsPath::sequence(&[65001]);
    path.prepend(12076, 300);
    assert_eq!(path.selection_len(), 301);
    assert!(path.segments.iter().all(|s| s.asns.len() <= 255));
    assert_eq!(path.asns().next(), Some(12076));
    assert_eq!(path.asns().last(), Some(65001));
}

fn arb_prefix() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| IpNet::new(Ipv4Addr::from(a).into(), l).unwrap().trunc()),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| IpNet::new(Ipv6Addr::from(a).into(), l).unwrap().trunc()),
    ]
}

proptest! {
    #[test]
    fn announcements_round_trip(
        prefixes in proptest::collection::vec(arb_prefix(), 0..600),
        path in proptest::collection::vec(any::<u32>(), 1..40),
        med in proptest::option::of(any::<u32>()),
        four_octet in any::<bool>(),
    ) {
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let wanted: Vec<IpNet> = prefixes
                .iter()
                .copied()
                .filter(|p| matches!((p, family), (IpNet::V4(_), Family::Ipv4Unicast) | (IpNet::V6(_), Family::Ipv6Unicast)))
                .collect();
            let attributes = PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(&path)),
                next_hop: (family == Family::Ipv4Unicast).then_some(Ipv4Addr::new(10, 0, 0, 1)),
                med,
                ..PathAttributes::default()
            };
            let mut out = Vec::new();
            encode_announce(family, &attributes, Ipv6Addr::LOCALHOST, four_octet, &wanted, &mut out).unwrap();
            let mut got = Vec::new();
            for update in updates(&out, four_octet) {
                prop_assert_eq!(&update.attributes, &attributes);
                prop_assert_eq!(update.treat_as_withdraw, None);
                got.extend(update.nlri);
                got.extend(update.mp_reach.into_iter().flat_map(|mp| mp.nlri));
            }
            prop_assert_eq!(got, wanted);
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Update::decode(&body, true).map(|u| u.nlri.count());
        let _ = Update::decode(&body, false);
        let _ = Open::decode(&body);
    }
}
