//! ESP tunnel round trips: every suite, outer and inner family, NAT-T, TFC;
//! outer header rules (DSCP, ECN, DF, TTL); sequence numbers and nonces;
//! replay, lifetimes, traffic selectors, ESN across 2^32 and resynchronisation.

use crate::support;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use erdp::esp::{
    Algorithm, DfMode, DscpMode, EcnMode, EspAad, EspAead, EspDrop, InboundSa, LifetimeEvent, NatT,
    OutboundSa, SaDatabase,
};
use erdp::esp::{PacketClass, classify};
use erdp::wire::checksum::internet_checksum;
use proptest::prelude::*;
use support::esp::*;

#[test]
fn every_suite_family_and_nat_t_round_trips() {
    for algorithm in Algorithm::ALL {
        for outer_v6 in [false, true] {
            for inner_v6 in [false, true] {
                for nat_t in [false, true] {
                    let mut c = config(algorithm, 0x1001, false, outer_v6);
                    c.nat_t = nat_t.then(NatT::default);
                    let (out, inb) = pair(&c);
                    for len in [0, 1, 2, 3, 64, 1400] {
                        let inner = inner_packet(inner_v6, len, 7);
                        let mut buf = buf_with(&inner);
                        let enc = out.encapsulate(&mut buf).unwrap();
                        assert_eq!(enc.outer_len, buf.len());
                        let outer = buf.as_slice();
                        assert_eq!(outer[0] >> 4, if outer_v6 { 6 } else { 4 });
                        let Ok(PacketClass::Esp(o)) = classify(outer, 4500) else {
                            panic!("{algorithm} v6={outer_v6} nat_t={nat_t}: not ESP");
                        };
                        assert_eq!((o.spi, o.udp, o.total_len), (0x1001, nat_t, buf.len()));
                        // ESP payload (IV + ciphertext) is 4-byte aligned.
                        assert_eq!((o.total_len - o.esp_offset - 8) % 4, 0);
                        let dec = inb.decapsulate(&mut buf).unwrap();
                        assert_eq!(buf.as_slice(), &inner[..], "{algorithm} len {len}");
                        assert_eq!((dec.seq, dec.inner_len), (enc.seq, inner.len()));
                    }
                }
            }
        }
    }
}

#[test]
fn nat_t_over_ipv6_carries_a_valid_udp_checksum() {
    let mut c = config(Algorithm::Aes128Gcm, 0x2002, false, true);
    c.nat_t = Some(NatT {
        local_port: 4501,
        remote_port: 4600,
    });
    let out = OutboundSa::new(&c).unwrap();
    let mut buf = buf_with(&inner_packet(false, 100, 1));
    out.encapsulate(&mut buf).unwrap();
    let p = etherparse::SlicedPacket::from_ip(buf.as_slice()).unwrap();
    let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
        panic!("no UDP");
    };
    assert_eq!((udp.source_port(), udp.destination_port()), (4501, 4600));
    let Some(etherparse::NetSlice::Ipv6(ip)) = p.net else {
        panic!("not IPv6");
    };
    let want = udp
        .to_header()
        .calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
        .unwrap();
    assert_eq!(udp.checksum(), want);
}

#[test]
fn outer_header_follows_dscp_ecn_df_and_ttl_settings() {
    let mut inner = inner_packet(false, 40, 3);
    set_ipv4_tos(&mut inner, (46 << 2) | 0b11); // EF, CE
    let c = config(Algorithm::Aes256Gcm, 0x3003, false, false);
    let (out, _) = pair(&c);
    let mut buf = buf_with(&inner);
    out.encapsulate(&mut buf).unwrap();
    let h = etherparse::Ipv4HeaderSlice::from_slice(buf.as_slice()).unwrap();
    assert_eq!(h.dcp().value(), 46, "DSCP copied");
    assert_eq!(
        h.ecn().value(),
        0b10,
        "CE becomes ECT(0) (RFC 6040 normal mode)"
    );
    assert!(h.dont_fragment(), "DF copied from the inner packet");
    assert_eq!(h.ttl(), 64);
    assert_eq!(
        internet_checksum(&zero_checksum(h.slice())),
        h.header_checksum()
    );

    let mut c = config(Algorithm::Aes256Gcm, 0x3003, false, false);
    c.dscp = DscpMode::Set(10);
    c.ecn = EcnMode::Compatibility;
    c.df = DfMode::Clear;
    c.ttl = 9;
    let out = OutboundSa::new(&c).unwrap();
    let mut buf = buf_with(&inner);
    out.encapsulate(&mut buf).unwrap();
    let h = etherparse::Ipv4HeaderSlice::from_slice(buf.as_slice()).unwrap();
    assert_eq!((h.dcp().value(), h.ecn().value()), (10, 0));
    assert!(!h.dont_fragment());
    assert_eq!(h.ttl(), 9);
}

fn zero_checksum(header: &[u8]) -> Vec<u8> {
    let mut h = header.to_vec();
    h[10] = 0;
    h[11] = 0;
    h
}

#[test]
fn decapsulation_combines_ecn_per_rfc6040() {
    let c = config(Algorithm::Aes128Gcm, 0x3004, false, false);
    let (out, inb) = pair(&c);
    // Inner ECT(0); the path marks the outer CE: the inner leaves CE.
    let mut inner = inner_packet(false, 20, 1);
    set_ipv4_tos(&mut inner, 0b10);
    let mut buf = buf_with(&inner);
    out.encapsulate(&mut buf).unwrap();
    mark_outer_ce(&mut buf);
    inb.decapsulate(&mut buf).unwrap();
    assert_eq!(buf.as_slice()[1] & 3, 0b11);
    let h = etherparse::Ipv4HeaderSlice::from_slice(buf.as_slice()).unwrap();
    assert_eq!(
        internet_checksum(&zero_checksum(h.slice())),
        h.header_checksum()
    );
    // Inner Not-ECT with outer CE: dropped and counted.
    let mut buf = buf_with(&inner_packet(false, 20, 1));
    out.encapsulate(&mut buf).unwrap();
    mark_outer_ce(&mut buf);
    assert_eq!(inb.decapsulate(&mut buf), Err(EspDrop::EcnCeOnNotEct));
    assert_eq!(inb.stats().drops_of(EspDrop::EcnCeOnNotEct), 1);
}

fn mark_outer_ce(buf: &mut erdp::packet::PacketBuf) {
    let p = buf.as_mut_slice();
    p[1] |= 0b11;
    p[10] = 0;
    p[11] = 0;
    let sum = internet_checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn padding_is_monotonic_and_tfc_padding_is_stripped() {
    for tfc in [0u16, 300] {
        let mut c = config(Algorithm::ChaCha20Poly1305, 0x4004, true, false);
        c.tfc_pad_to = tfc;
        let (out, inb) = pair(&c);
        let aead = EspAead::new(c.algorithm, &c.key).unwrap();
        for len in 0..8 {
            let inner = inner_packet(false, len, 2);
            let mut buf = buf_with(&inner);
            let enc = out.encapsulate(&mut buf).unwrap();
            // Open a copy with the bare AEAD and inspect the trailer.
            let esp = &buf.as_slice()[20..];
            let mut ct = esp[16..esp.len() - 16].to_vec();
            let icv: [u8; 16] = esp[esp.len() - 16..].try_into().unwrap();
            let iv: [u8; 8] = esp[8..16].try_into().unwrap();
            assert_eq!(iv, enc.seq.to_be_bytes(), "IV is the sequence number");
            aead.open(iv, &EspAad::new(c.spi, enc.seq, true), &mut ct, icv)
                .unwrap();
            let pad_len = usize::from(ct[ct.len() - 2]);
            assert_eq!(ct[ct.len() - 1], 4);
            let padding = &ct[ct.len() - 2 - pad_len..ct.len() - 2];
            assert!(padding.iter().zip(1u8..).all(|(b, i)| *b == i));
            assert!(ct.len() - 2 - pad_len >= usize::from(tfc));
            assert_eq!(ct.len() % 4, 0);
            inb.decapsulate(&mut buf).unwrap();
            assert_eq!(buf.as_slice(), &inner[..]);
        }
    }
}

#[test]
fn concurrent_senders_get_unique_sequence_numbers_and_nonces() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 5_000;
    let c = config(Algorithm::Aes128Gcm, 0x5005, true, false);
    let out = Arc::new(OutboundSa::new(&c).unwrap());
    let barrier = Arc::new(Barrier::new(THREADS));
    let inner = inner_packet(false, 16, 0);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (out, barrier, inner) = (out.clone(), barrier.clone(), inner.clone());
            std::thread::spawn(move || {
                let mut buf = buf_with(&inner);
                barrier.wait();
                (0..PER_THREAD)
                    .map(|_| {
                        buf.load(&inner, 128).unwrap();
                        let enc = out.encapsulate(&mut buf).unwrap();
                        let iv: [u8; 8] = buf.as_slice()[28..36].try_into().unwrap();
                        (enc.seq, iv)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs = HashSet::new();
    let mut ivs = HashSet::new();
    for h in handles {
        for (seq, iv) in h.join().unwrap() {
            assert_eq!(iv, seq.to_be_bytes());
            assert!(seqs.insert(seq), "sequence {seq} used twice");
            assert!(ivs.insert(iv), "IV (nonce) reused");
        }
    }
    let all: HashSet<u64> = (1..=(THREADS * PER_THREAD) as u64).collect();
    assert_eq!(seqs, all, "no gaps, no duplicates");
}

#[test]
fn without_esn_the_sender_refuses_to_cycle() {
    let c = config(Algorithm::Aes128Gcm, 0x6006, false, false);
    let out = OutboundSa::new(&c).unwrap();
    out.resume_after(u64::from(u32::MAX) - 1);
    let inner = inner_packet(false, 10, 0);
    let mut buf = buf_with(&inner);
    assert_eq!(out.encapsulate(&mut buf).unwrap().seq, u64::from(u32::MAX));
    for _ in 0..3 {
        let mut buf = buf_with(&inner);
        assert_eq!(out.encapsulate(&mut buf), Err(EspDrop::SequenceCycled));
        assert_eq!(
            buf.as_slice(),
            &inner[..],
            "a refused packet is left as it was"
        );
    }
    assert_eq!(out.stats().drops_of(EspDrop::SequenceCycled), 3);
    // Resuming never moves the counter backwards.
    out.resume_after(5);
    assert_eq!(out.last_sequence(), u64::from(u32::MAX));

    let c = config(Algorithm::Aes128Gcm, 0x6006, true, false);
    let out = OutboundSa::new(&c).unwrap();
    out.resume_after(u64::MAX - 1);
    assert_eq!(
        out.encapsulate(&mut buf_with(&inner)).unwrap().seq,
        u64::MAX
    );
    assert_eq!(
        out.encapsulate(&mut buf_with(&inner)),
        Err(EspDrop::SequenceCycled)
    );
}

#[test]
fn esn_crosses_2_pow_32_and_accepts_late_packets_from_below() {
    let c = config(Algorithm::Aes256Gcm, 0x7007, true, false);
    let (out, inb) = pair(&c);
    out.resume_after(0xFFFF_FFF0);
    let inner = inner_packet(false, 30, 5);
    let mut sealed = Vec::new();
    for _ in 0..32 {
        let mut buf = buf_with(&inner);
        let enc = out.encapsulate(&mut buf).unwrap();
        sealed.push((enc.seq, buf));
    }
    assert_eq!(sealed.last().unwrap().0, 0x1_0000_0010);
    // The receiver has seen up to just before the first, then gets every
    // packet but holds back three from below 2^32 until after the crossing.
    inb.replay_window().reset_to(0xFFFF_FFF0);
    let late: Vec<_> = sealed.drain(10..13).collect();
    for (seq, mut buf) in sealed.into_iter().chain(late) {
        let dec = inb.decapsulate(&mut buf).unwrap();
        assert_eq!(dec.seq, seq);
        assert_eq!(buf.as_slice(), &inner[..]);
    }
    assert_eq!(inb.replay_window().top(), 0x1_0000_0010);
}

#[test]
fn esn_resynchronises_after_a_run_of_icv_failures() {
    let mut c = config(Algorithm::Aes128Gcm, 0x7008, true, false);
    c.esn_resync_after_failures = 4;
    c.esn_resync_max_tries = 2;
    let (out, inb) = pair(&c);
    let inner = inner_packet(false, 30, 5);
    let mut buf = buf_with(&inner);
    out.encapsulate(&mut buf).unwrap();
    inb.decapsulate(&mut buf).unwrap();
    // More than 2^32 packets are lost: the sender is a full subspace ahead.
    out.resume_after(0x1_0000_0005);
    let mut results = Vec::new();
    for _ in 0..4 {
        let mut buf = buf_with(&inner);
        out.encapsulate(&mut buf).unwrap();
        results.push(inb.decapsulate(&mut buf).map(|d| (d.seq, d.resynchronised)));
    }
    assert_eq!(
        results,
        vec![
            Err(EspDrop::IcvFailed),
            Err(EspDrop::IcvFailed),
            Err(EspDrop::IcvFailed),
            Ok((0x1_0000_0009, true)),
        ]
    );
    let mut buf = buf_with(&inner);
    out.encapsulate(&mut buf).unwrap();
    assert_eq!(inb.decapsulate(&mut buf).unwrap().seq, 0x1_0000_000A);
    let stats = inb.stats();
    assert_eq!((stats.resyncs, stats.drops_of(EspDrop::IcvFailed)), (1, 3));
}

#[test]
fn replayed_and_stale_packets_are_dropped_and_counted() {
    let mut c = config(Algorithm::Aes128Gcm, 0x8008, false, false);
    c.replay_window = 64;
    let (out, inb) = pair(&c);
    let inner = inner_packet(false, 10, 0);
    let mut sealed: Vec<Vec<u8>> = Vec::new();
    for _ in 0..100 {
        let mut buf = buf_with(&inner);
        out.encapsulate(&mut buf).unwrap();
        sealed.push(buf.as_slice().to_vec());
    }
    let decap = |p: &[u8]| inb.decapsulate(&mut buf_with(p)).map(|d| d.seq);
    assert_eq!(decap(&sealed[99]), Ok(100));
    assert_eq!(decap(&sealed[99]), Err(EspDrop::Replayed));
    assert_eq!(decap(&sealed[36]), Ok(37), "inside the window");
    assert_eq!(decap(&sealed[35]), Err(EspDrop::OutsideWindow));
    let stats = inb.stats();
    assert_eq!(stats.packets, 2);
    assert_eq!(stats.drops_of(EspDrop::Replayed), 1);
    assert_eq!(stats.drops_of(EspDrop::OutsideWindow), 1);
}

#[test]
fn concurrent_receivers_accept_each_duplicated_packet_exactly_once() {
    // Each packet arrives 4 times, concurrently.
    let mut c = config(Algorithm::ChaCha20Poly1305, 0x9009, true, false);
    c.replay_window = 4096;
    let (out, inb) = pair(&c);
    let inner = inner_packet(false, 64, 9);
    assert_each_accepted_once(&out, &inb, &inner, 2_999, 4, |inb, order| {
        let mut buf = buf_with(&[]);
        let mut accepted = Vec::new();
        for bytes in order {
            buf.load(bytes, 128).unwrap();
            match inb.decapsulate(&mut buf) {
                Ok(d) => accepted.push(d.seq),
                Err(EspDrop::Replayed) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        accepted
    });
}

#[test]
fn lifetimes_raise_soft_events_and_stop_at_hard_limits() {
    let mut c = config(Algorithm::Aes128Gcm, 0xA00A, false, false);
    c.lifetime.soft_packets = Some(2);
    c.lifetime.hard_packets = Some(3);
    c.lifetime.hard_bytes = Some(1_000_000);
    let (out, inb) = pair(&c);
    let inner = inner_packet(false, 10, 0);
    let mut out_events = Vec::new();
    let mut in_events = Vec::new();
    let mut first = None;
    for i in 0..5 {
        let mut buf = buf_with(&inner);
        match out.encapsulate(&mut buf) {
            Ok(e) => {
                out_events.push(Ok(e.lifetime_event));
                let bytes = buf.as_slice().to_vec();
                first.get_or_insert(bytes.clone());
                // A replayed copy and a corrupted copy do not count.
                if i == 1 {
                    let _ = inb.decapsulate(&mut buf_with(first.as_ref().unwrap()));
                    let mut bad = bytes.clone();
                    *bad.last_mut().unwrap() ^= 1;
                    assert_eq!(
                        inb.decapsulate(&mut buf_with(&bad)),
                        Err(EspDrop::IcvFailed)
                    );
                }
                in_events.push(inb.decapsulate(&mut buf).map(|d| d.lifetime_event));
            }
            Err(e) => out_events.push(Err(e)),
        }
    }
    use LifetimeEvent::*;
    assert_eq!(
        out_events,
        vec![
            Ok(None),
            Ok(Some(SoftLimitReached)),
            Ok(Some(HardLimitReached)),
            Err(EspDrop::SaExpired),
            Err(EspDrop::SaExpired)
        ]
    );
    assert_eq!(
        in_events,
        vec![
            Ok(None),
            Ok(Some(SoftLimitReached)),
            Ok(Some(HardLimitReached))
        ]
    );
    let s = out.stats();
    assert!(s.soft_limit_reached && s.hard_limit_reached);
    assert_eq!(s.drops_of(EspDrop::SaExpired), 2);
    // The receiver is stopped too.
    let mut buf = buf_with(&inner);
    let other = OutboundSa::new(&c).unwrap();
    other.resume_after(10);
    other.encapsulate(&mut buf).unwrap();
    assert_eq!(inb.decapsulate(&mut buf), Err(EspDrop::SaExpired));

    let mut c = config(Algorithm::Aes128Gcm, 0xA00B, false, false);
    c.lifetime.soft_bytes = Some(100);
    c.lifetime.hard_bytes = Some(150);
    let (out, _) = pair(&c);
    let inner = inner_packet(false, 32, 0); // 60 bytes
    let events: Vec<_> = (0..4)
        .map(|_| {
            out.encapsulate(&mut buf_with(&inner))
                .map(|e| e.lifetime_event)
        })
        .collect();
    assert_eq!(
        events,
        vec![
            Ok(None),
            Ok(Some(SoftLimitReached)),
            Ok(Some(HardLimitReached)),
            Err(EspDrop::SaExpired)
        ]
    );
}

#[test]
fn traffic_selectors_are_enforced_both_ways() {
    let c = config(Algorithm::Aes128Gcm, 0xB00B, false, false);
    let out = OutboundSa::new(&c).unwrap();
    let mut strict = peer_of(&c);
    strict.traffic_selectors.src = vec!["10.9.0.0/16".parse().unwrap()];
    let inb = InboundSa::new(&strict).unwrap();
    let mut buf = buf_with(&inner_packet(false, 10, 0));
    out.encapsulate(&mut buf).unwrap();
    assert_eq!(
        inb.decapsulate(&mut buf),
        Err(EspDrop::TrafficSelectorMismatch)
    );
    assert_eq!(inb.stats().drops_of(EspDrop::TrafficSelectorMismatch), 1);

    let mut c = config(Algorithm::Aes128Gcm, 0xB00C, false, false);
    c.traffic_selectors.dst = vec!["10.2.0.0/16".parse().unwrap()];
    let out = OutboundSa::new(&c).unwrap();
    assert!(
        out.encapsulate(&mut buf_with(&inner_packet(false, 10, 0)))
            .is_ok()
    );
    assert_eq!(
        out.encapsulate(&mut buf_with(&inner_packet(true, 10, 0))),
        Err(EspDrop::TrafficSelectorMismatch)
    );
}

#[test]
fn database_finds_sas_and_recognises_nat_t_control() {
    let c1 = config(Algorithm::Aes128Gcm, 0xC001, false, false);
    let mut c2 = config(Algorithm::Aes256Gcm, 0xC002, false, false);
    c2.nat_t = Some(NatT::default());
    let mut db = SaDatabase::new();
    let (o1, i1) = pair(&c1);
    let (o2, i2) = pair(&c2);
    db.insert(Arc::new(i1)).unwrap();
    db.insert(Arc::new(i2)).unwrap();
    assert!(
        db.insert(Arc::new(InboundSa::new(&peer_of(&c1)).unwrap()))
            .is_err()
    );
    let inner = inner_packet(false, 50, 4);
    for out in [&o1, &o2] {
        let mut buf = buf_with(&inner);
        out.encapsulate(&mut buf).unwrap();
        let (sa, _) = db.decapsulate(&mut buf).unwrap();
        assert_eq!(sa.spi(), out.spi());
        assert_eq!(buf.as_slice(), &inner[..]);
    }
    // Unknown SPI: same keys, other SPI.
    let stranger = OutboundSa::new(&config(Algorithm::Aes128Gcm, 0xC0FF, false, false)).unwrap();
    let mut buf = buf_with(&inner);
    stranger.encapsulate(&mut buf).unwrap();
    assert_eq!(db.decapsulate(&mut buf).unwrap_err(), EspDrop::UnknownSpi);
    // Wrong destination for an SA bound to its local address.
    assert!(db.find(0xC001, "203.0.113.9".parse().unwrap()).is_none());
    assert!(db.find(0xC001, "198.51.100.2".parse().unwrap()).is_some());
    // A plain packet is not ESP.
    assert_eq!(
        db.decapsulate(&mut buf_with(&inner)).unwrap_err(),
        EspDrop::NotEsp
    );
    assert_eq!(
        db.unmatched_drops(),
        vec![(EspDrop::UnknownSpi, 1), (EspDrop::NotEsp, 1)]
    );
    assert_eq!(db.classify(&inner), Ok(PacketClass::NotEsp));
    // ESP in transit to another gateway is not ours to open.
    let mut transit = config(Algorithm::Aes128Gcm, 0xC001, false, false);
    transit.tunnel.as_mut().unwrap().remote = "203.0.113.7".parse().unwrap();
    let mut buf = buf_with(&inner);
    OutboundSa::new(&transit)
        .unwrap()
        .encapsulate(&mut buf)
        .unwrap();
    assert!(matches!(
        classify(buf.as_slice(), 4500),
        Ok(PacketClass::Esp(_))
    ));
    assert_eq!(db.classify(buf.as_slice()), Ok(PacketClass::NotEsp));
    assert!(db.is_local("198.51.100.2".parse().unwrap()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(0xE5B), ..ProptestConfig::default() })]

    #[test]
    fn any_inner_packet_round_trips(
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
        inner_v6 in any::<bool>(),
        outer_v6 in any::<bool>(),
        nat_t in any::<bool>(),
        esn in any::<bool>(),
        tfc in prop::sample::select(vec![0u16, 100, 1500]),
        len in 0usize..2000,
        seed in any::<u8>(),
    ) {
        let mut c = config(algorithm, 0x1234, esn, outer_v6);
        c.nat_t = nat_t.then(NatT::default);
        c.tfc_pad_to = tfc;
        let (out, inb) = pair(&c);
        let inner = inner_packet(inner_v6, len, seed);
        let mut buf = buf_with(&inner);
        out.encapsulate(&mut buf).unwrap();
        prop_assert!(buf.len() >= inner.len() + 16 + 8 + 16 + 2);
        inb.decapsulate(&mut buf).unwrap();
        prop_assert_eq!(buf.as_slice(), &inner[..]);
    }
}
