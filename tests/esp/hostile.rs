//! Hostile input to decapsulation: every single-bit flip of a valid ESP
//! packet, every truncation, unknown SPIs, bad padding, wrong next headers,
//! malformed inner packets and arbitrary bytes. Nothing panics; every packet
//! is rejected with a counted reason.

use crate::support;

use erdp::esp::{Algorithm, EspAad, EspAead, EspDrop, InboundSa, NatT, SaConfig};
use erdp::esp::{PacketClass, classify};
use erdp::packet::PacketBuf;
use erdp::wire::checksum::internet_checksum;
use proptest::prelude::*;
use support::esp::*;

fn sealed(c: &SaConfig, inner: &[u8]) -> Vec<u8> {
    let (out, _) = pair(c);
    let mut buf = buf_with(inner);
    out.encapsulate(&mut buf).unwrap();
    buf.as_slice().to_vec()
}

fn esp_offset(packet: &[u8]) -> usize {
    match classify(packet, 4500) {
        Ok(PacketClass::Esp(o)) => o.esp_offset,
        other => panic!("not ESP: {other:?}"),
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for algorithm in Algorithm::ALL {
        for (outer_v6, nat_t) in [(false, false), (true, false), (false, true)] {
            let mut c = config(algorithm, 0x1001, true, outer_v6);
            c.nat_t = nat_t.then(NatT::default);
            let inner = inner_packet(outer_v6, 48, 1);
            let packet = sealed(&c, &inner);
            let inb = InboundSa::new(&peer_of(&c)).unwrap();
            // The outer IPv4 header is covered by its checksum; ESP from the
            // SPI to the ICV by the AEAD (the outer IPv6 header and the UDP
            // checksum are mutable on the path and not protected).
            let start = if outer_v6 || nat_t {
                esp_offset(&packet)
            } else {
                0
            };
            let mut flips = 0;
            for byte in start..packet.len() {
                for bit in 0..8 {
                    let mut bad = packet.clone();
                    bad[byte] ^= 1 << bit;
                    let mut buf = buf_with(&bad);
                    let result = inb.decapsulate(&mut buf);
                    assert!(
                        result.is_err(),
                        "{algorithm} v6={outer_v6} nat_t={nat_t}: flip of byte {byte} bit {bit} accepted"
                    );
                    flips += 1;
                }
            }
            let stats = inb.stats();
            assert_eq!(stats.total_drops(), flips, "every rejection counted");
            assert!(stats.drops_of(EspDrop::IcvFailed) > 0);
            assert!(stats.drops_of(EspDrop::UnknownSpi) >= 32, "SPI bit flips");
            // The failures did not move the window: the real packet passes.
            let mut buf = buf_with(&packet);
            inb.decapsulate(&mut buf).unwrap();
            assert_eq!(buf.as_slice(), &inner[..]);
        }
    }
}

#[test]
fn every_truncation_is_rejected_without_panic() {
    for (outer_v6, nat_t) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut c = config(Algorithm::Aes128Gcm, 0x2002, false, outer_v6);
        c.nat_t = nat_t.then(NatT::default);
        let packet = sealed(&c, &inner_packet(false, 100, 2));
        let inb = InboundSa::new(&peer_of(&c)).unwrap();
        for len in 0..packet.len() {
            // As cut, and with the IP and UDP lengths rewritten to agree, so
            // the parser reaches the ESP layer.
            for consistent in [false, true] {
                let mut cut = packet[..len].to_vec();
                if consistent {
                    fix_lengths(&mut cut, outer_v6, nat_t);
                }
                let mut buf = buf_with(&cut);
                assert!(
                    inb.decapsulate(&mut buf).is_err(),
                    "length {len} (consistent {consistent}) accepted"
                );
            }
        }
        let stats = inb.stats();
        assert!(stats.drops_of(EspDrop::Truncated) > 0);
        assert_eq!(stats.total_drops(), 2 * packet.len() as u64);
    }
}

/// Rewrites the outer length fields (and IPv4 checksum) to the cut length.
fn fix_lengths(p: &mut [u8], v6: bool, nat_t: bool) {
    let len = p.len();
    let ip_len = if v6 { 40 } else { 20 };
    if len < ip_len {
        return;
    }
    if v6 {
        p[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    } else {
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p[10] = 0;
        p[11] = 0;
        let sum = internet_checksum(&p[..20]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    if nat_t && len >= ip_len + 8 {
        p[ip_len + 4..ip_len + 6].copy_from_slice(&((len - ip_len) as u16).to_be_bytes());
    }
}

/// An ESP packet whose encrypted payload is exactly `plaintext` (trailer
/// included), sealed with the SA's key: for malformed trailers.
fn forge(c: &SaConfig, seq: u32, plaintext: &[u8]) -> Vec<u8> {
    let aead = EspAead::new(c.algorithm, &c.key).unwrap();
    let iv = u64::from(seq).to_be_bytes();
    let mut body = plaintext.to_vec();
    let icv = aead
        .seal(iv, &EspAad::new(c.spi, u64::from(seq), c.esn), &mut body)
        .unwrap();
    body.extend_from_slice(&icv);
    esp_in_ipv4(c.spi, seq, &iv, &body)
}

fn with_trailer(inner: &[u8], padding: &[u8], pad_len: u8, next_header: u8) -> Vec<u8> {
    [inner, padding, &[pad_len, next_header]].concat()
}

#[test]
fn malformed_trailers_and_payloads_are_counted_drops() {
    let c = config(Algorithm::Aes256Gcm, 0x3003, false, false);
    let inb = InboundSa::new(&peer_of(&c)).unwrap();
    let v4 = inner_packet(false, 21, 3);
    let v6 = inner_packet(true, 21, 3);
    let cases: Vec<(Vec<u8>, EspDrop)> = vec![
        (with_trailer(&v4, &[1, 3], 2, 4), EspDrop::BadPadding),
        (with_trailer(&v4, &[0, 0], 2, 4), EspDrop::BadPadding),
        (with_trailer(&[], &[], 200, 4), EspDrop::BadPadding),
        (
            with_trailer(&v4, &[1, 2], 2, 41),
            EspDrop::NextHeaderMismatch,
        ),
        (
            with_trailer(&v6, &[1, 2], 2, 4),
            EspDrop::NextHeaderMismatch,
        ),
        (
            with_trailer(&v4, &[1, 2], 2, 17),
            EspDrop::NextHeaderMismatch,
        ),
        (with_trailer(&v4, &[1, 2], 2, 59), EspDrop::DummyPacket),
        (
            with_trailer(&v4[..10], &[1, 2], 2, 4),
            EspDrop::BadInnerPacket,
        ),
        (
            with_trailer(&[0x45; 24], &[1, 2], 2, 4),
            EspDrop::BadInnerPacket,
        ),
        (with_trailer(&v4, &[1, 2], 2, 4), EspDrop::Replayed),
    ];
    for (i, (plaintext, want)) in cases.iter().enumerate() {
        // The last case re-uses the sequence number of an accepted packet.
        let seq = if *want == EspDrop::Replayed {
            100
        } else {
            i as u32 + 1
        };
        if *want == EspDrop::Replayed {
            let mut ok = buf_with(&forge(&c, seq, plaintext));
            inb.decapsulate(&mut ok).unwrap();
        }
        let mut buf = buf_with(&forge(&c, seq, plaintext));
        assert_eq!(inb.decapsulate(&mut buf), Err(*want), "case {i}");
    }
    let stats = inb.stats();
    assert_eq!(stats.drops_of(EspDrop::BadPadding), 3);
    assert_eq!(stats.drops_of(EspDrop::NextHeaderMismatch), 3);
    assert_eq!(stats.drops_of(EspDrop::DummyPacket), 1);
    assert_eq!(stats.drops_of(EspDrop::BadInnerPacket), 2);
    assert_eq!(stats.drops_of(EspDrop::Replayed), 1);
    assert_eq!(stats.packets, 1);
    // A well-formed forged packet passes: the forging itself is sound.
    let mut buf = buf_with(&forge(&c, 500, &with_trailer(&v4, &[1, 2], 2, 4)));
    inb.decapsulate(&mut buf).unwrap();
    assert_eq!(buf.as_slice(), &v4[..]);
}

#[test]
fn unknown_spi_is_a_counted_drop() {
    let c = config(Algorithm::Aes128Gcm, 0x4004, false, false);
    let packet = sealed(&c, &inner_packet(false, 10, 0));
    let mut other = peer_of(&c);
    other.spi = 0x4005;
    let inb = InboundSa::new(&other).unwrap();
    assert_eq!(
        inb.decapsulate(&mut buf_with(&packet)),
        Err(EspDrop::UnknownSpi)
    );
    assert_eq!(inb.stats().drops_of(EspDrop::UnknownSpi), 1);
}

#[test]
fn outer_fragments_are_refused() {
    let c = config(Algorithm::Aes128Gcm, 0x5005, false, false);
    let mut packet = sealed(&c, &inner_packet(false, 10, 0));
    packet[6] |= 0x20; // more fragments
    packet[10] = 0;
    packet[11] = 0;
    let sum = internet_checksum(&packet[..20]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
    let inb = InboundSa::new(&peer_of(&c)).unwrap();
    assert_eq!(
        inb.decapsulate(&mut buf_with(&packet)),
        Err(EspDrop::Fragment)
    );
}

#[test]
fn a_buffer_without_room_is_refused_and_left_intact() {
    let c = config(Algorithm::Aes128Gcm, 0x6006, false, false);
    let (out, _) = pair(&c);
    let inner = inner_packet(false, 10, 0);
    let mut tight = PacketBuf::with_capacity(inner.len() + 60, 16);
    tight.load(&inner, 16).unwrap();
    assert_eq!(out.encapsulate(&mut tight), Err(EspDrop::BufferTooSmall));
    assert_eq!(tight.as_slice(), &inner[..]);
    assert_eq!(out.stats().drops_of(EspDrop::BufferTooSmall), 1);
    assert_eq!(out.last_sequence(), 0, "no sequence number spent");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(0xBAD), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let c = config(Algorithm::ChaCha20Poly1305, 0x7007, true, false);
        let inb = InboundSa::new(&peer_of(&c)).unwrap();
        let (out, _) = pair(&c);
        let _ = inb.decapsulate(&mut buf_with(&bytes));
        let _ = out.encapsulate(&mut buf_with(&bytes));
    }

    #[test]
    fn random_corruption_is_rejected(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let c = config(Algorithm::Aes128Gcm, 0x8008, false, false);
        let packet = sealed(&c, &inner_packet(false, 60, 8));
        let inb = InboundSa::new(&peer_of(&c)).unwrap();
        let mut bad = packet.clone();
        for (at, x) in edits {
            bad[20 + at.index(packet.len() - 20)] ^= x;
        }
        prop_assert!(inb.decapsulate(&mut buf_with(&bad)).is_err());
    }
}
