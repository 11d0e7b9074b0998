//! Batch encapsulation and decapsulation (RFC 4303 processing in blocks of
//! up to `MAX_BATCH` packets): every result, buffer and counter equals what
//! one-by-one processing gives, for mixed good and bad packets, lifetimes and
//! sequence exhaustion; sequence-number blocks stay unique across threads and
//! each packet is accepted once however batches race.

use crate::support;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use erdp::esp::{
    Algorithm, DecapOutcome, EncapOutcome, EspDrop, InboundSa, LifetimeEvent, MAX_BATCH, NatT,
    OutboundSa, SaConfig, SaDatabase,
};
use erdp::packet::PacketBuf;
use etherparse::PacketBuilder;
use support::esp::*;

/// Batch lengths around the block size.
const LENGTHS: [usize; 7] = [0, 1, 2, 63, 64, 65, 150];

/// An inner packet from an address outside the selectors `strict` sets.
fn foreign_packet() -> Vec<u8> {
    let builder = PacketBuilder::ipv4([192, 0, 2, 99], [10, 2, 0, 1], 64).udp(1, 2);
    let mut out = Vec::new();
    builder.write(&mut out, &[7; 30]).unwrap();
    out
}

/// Inner packets of many sizes and both families, with refused ones mixed
/// in: a malformed packet, a selector mismatch, a buffer without room.
pub(crate) fn mixed_inner(n: usize) -> Vec<PacketBuf> {
    (0..n)
        .map(|i| match i % 13 {
            5 => buf_with(&[0x45, 0, 0, 3]),
            8 => buf_with(&foreign_packet()),
            11 => {
                let inner = inner_packet(false, 20, i as u8);
                let mut tight = PacketBuf::with_capacity(inner.len() + 8, 4);
                tight.load(&inner, 4).unwrap();
                tight
            }
            k => buf_with(&inner_packet(k % 2 == 1, (i * 37) % 1500, i as u8)),
        })
        .collect()
}

/// Configurations to compare under: plain, with selectors and lifetimes
/// that run out inside the longest batch, ESN with NAT-T over IPv6, TFC.
pub(crate) fn variants(algorithm: Algorithm) -> Vec<SaConfig> {
    let plain = config(algorithm, 0x1001, false, false);
    let mut limited = config(algorithm, 0x2002, true, false);
    limited.traffic_selectors.src =
        vec!["10.1.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()];
    limited.lifetime.soft_packets = Some(20);
    limited.lifetime.soft_bytes = Some(30_000);
    limited.lifetime.hard_bytes = Some(70_000);
    let mut nat_t = config(algorithm, 0x3003, true, true);
    nat_t.nat_t = Some(NatT::default());
    nat_t.tfc_pad_to = 300;
    vec![plain, limited, nat_t]
}

fn pending<T>() -> Vec<Result<T, EspDrop>> {
    Vec::new()
}

/// Encapsulates `n` mixed packets one by one and as one batch with two SAs
/// of the same configuration; returns both sets of buffers and results.
fn encap_both(
    c: &SaConfig,
    n: usize,
) -> (
    Vec<PacketBuf>,
    Vec<Result<EncapOutcome, EspDrop>>,
    OutboundSa,
) {
    encap_both_after(c, n, 0)
}

/// [`encap_both`] with both SAs resumed after sequence number `last_sent`.
fn encap_both_after(
    c: &SaConfig,
    n: usize,
    last_sent: u64,
) -> (
    Vec<PacketBuf>,
    Vec<Result<EncapOutcome, EspDrop>>,
    OutboundSa,
) {
    let single = OutboundSa::new(c).unwrap();
    let batch = OutboundSa::new(c).unwrap();
    single.resume_after(last_sent);
    batch.resume_after(last_sent);
    let mut single_bufs = mixed_inner(n);
    let single_results: Vec<_> = single_bufs
        .iter_mut()
        .map(|b| single.encapsulate(b))
        .collect();
    let mut batch_bufs = mixed_inner(n);
    let mut batch_results = pending();
    batch_results.resize(n, Err(EspDrop::NotEsp));
    assert_eq!(
        batch.encapsulate_batch(&mut batch_bufs, &mut batch_results),
        n
    );
    assert_eq!(batch_results, single_results, "{} n={n}", c.algorithm);
    if c.algorithm.is_aead() {
        for (i, (a, b)) in batch_bufs.iter().zip(&single_bufs).enumerate() {
            assert_eq!(
                a.as_slice(),
                b.as_slice(),
                "{} n={n} packet {i}",
                c.algorithm
            );
        }
    } else {
        // CBC draws a fresh random IV per packet (RFC 3602 section 2), so the
        // same packet never encrypts to the same bytes twice: both sealed
        // copies must be as long and open to the same inner packet.
        let single_rx = InboundSa::new(&peer_of(c)).unwrap();
        let batch_rx = InboundSa::new(&peer_of(c)).unwrap();
        let sealed = batch_results
            .iter()
            .zip(batch_bufs.iter().zip(&single_bufs));
        for (i, (result, (a, b))) in sealed.enumerate() {
            assert_eq!(a.len(), b.len(), "{} n={n} packet {i}", c.algorithm);
            if result.is_ok() {
                let (mut a, mut b) = (buf_with(a.as_slice()), buf_with(b.as_slice()));
                assert!(
                    batch_rx.decapsulate(&mut a).is_ok(),
                    "{} n={n} packet {i}",
                    c.algorithm
                );
                assert!(
                    single_rx.decapsulate(&mut b).is_ok(),
                    "{} n={n} packet {i}",
                    c.algorithm
                );
                assert_eq!(
                    a.as_slice(),
                    b.as_slice(),
                    "{} n={n} packet {i}",
                    c.algorithm
                );
            }
        }
    }
    assert_eq!(batch.stats(), single.stats());
    assert_eq!(batch.last_sequence(), single.last_sequence());
    (batch_bufs, batch_results, batch)
}

#[test]
fn batch_encapsulation_equals_one_by_one() {
    for algorithm in Algorithm::ALL {
        for c in variants(algorithm) {
            for n in LENGTHS {
                encap_both(&c, n);
            }
        }
    }
    // The lifetimes really ran out inside the long batch.
    let c = &variants(Algorithm::Aes128Gcm)[1];
    let (_, results, sa) = encap_both(c, 150);
    let events: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().ok()?.lifetime_event)
        .collect();
    assert_eq!(
        events,
        [
            LifetimeEvent::SoftLimitReached,
            LifetimeEvent::HardLimitReached
        ]
    );
    assert!(sa.stats().drops_of(EspDrop::SaExpired) > 0);
}

/// Outer packets for the receiver: each good packet, duplicates inside the
/// same block and later, corrupted copies, a packet of another SPI, a
/// non-ESP packet and a truncated one.
fn arriving(encapsulated: &[PacketBuf], results: &[Result<EncapOutcome, EspDrop>]) -> Vec<Vec<u8>> {
    let good: Vec<Vec<u8>> = encapsulated
        .iter()
        .zip(results)
        .filter(|(_, r)| r.is_ok())
        .map(|(b, _)| b.as_slice().to_vec())
        .collect();
    let mut out = Vec::new();
    for (i, packet) in good.iter().enumerate() {
        if i % 7 == 2 {
            // Corrupted before the real one arrives: not a replay.
            let mut bad = packet.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x10;
            out.push(bad);
        }
        out.push(packet.clone());
        match i % 7 {
            1 => out.push(packet.clone()),
            2 => {
                let mut bad = packet.clone();
                bad[30] ^= 1;
                out.push(bad);
            }
            3 => out.push(packet[..packet.len() - 3].to_vec()),
            4 => out.push(inner_packet(false, 40, 1)),
            5 if i >= 5 => out.push(good[i - 5].clone()),
            _ => {}
        }
    }
    let stranger = config(Algorithm::Aes128Gcm, 0x7777, false, false);
    let mut foreign = buf_with(&inner_packet(false, 10, 0));
    OutboundSa::new(&stranger)
        .unwrap()
        .encapsulate(&mut foreign)
        .unwrap();
    out.insert(out.len() / 2, foreign.as_slice().to_vec());
    out
}

/// Decapsulates `packets` one by one and in uneven batches with two
/// receivers whose windows start at `top`; checks that everything agrees
/// and returns the results and the batch receiver.
fn decap_both(
    c: &SaConfig,
    packets: &[Vec<u8>],
    top: u64,
) -> (Vec<Result<DecapOutcome, EspDrop>>, InboundSa) {
    let algorithm = c.algorithm;
    let single = InboundSa::new(&peer_of(c)).unwrap();
    let batch = InboundSa::new(&peer_of(c)).unwrap();
    if top > 0 {
        single.replay_window().reset_to(top);
        batch.replay_window().reset_to(top);
    }
    let mut single_bufs: Vec<_> = packets.iter().map(|p| buf_with(p)).collect();
    let single_results: Vec<_> = single_bufs
        .iter_mut()
        .map(|b| single.decapsulate(b))
        .collect();
    let mut batch_bufs: Vec<_> = packets.iter().map(|p| buf_with(p)).collect();
    let mut batch_results = pending::<DecapOutcome>();
    batch_results.resize(packets.len(), Err(EspDrop::NotEsp));
    // Uneven slices, so blocks start at different packets.
    let mut at = 0usize;
    for len in [1, 70, 64, 3, usize::MAX] {
        let end = at.saturating_add(len).min(packets.len());
        batch.decapsulate_batch(&mut batch_bufs[at..end], &mut batch_results[at..end]);
        at = end;
    }
    assert_eq!(batch_results, single_results, "{algorithm} spi {:x}", c.spi);
    for (i, r) in batch_results.iter().enumerate() {
        if r.is_ok() {
            assert_eq!(batch_bufs[i].as_slice(), single_bufs[i].as_slice(), "{i}");
        }
    }
    assert_eq!(batch.stats(), single.stats());
    (batch_results, batch)
}

#[test]
fn batch_decapsulation_equals_one_by_one() {
    for algorithm in Algorithm::ALL {
        for c in variants(algorithm) {
            let (bufs, results, _) = encap_both(&c, 150);
            let packets = arriving(&bufs, &results);
            let (results, batch) = decap_both(&c, &packets, 0);
            let stats = batch.stats();
            for reason in [
                EspDrop::Replayed,
                EspDrop::IcvFailed,
                EspDrop::Truncated,
                EspDrop::NotEsp,
                EspDrop::UnknownSpi,
            ] {
                assert!(
                    stats.drops_of(reason) > 0,
                    "{algorithm}: no {reason:?} drop"
                );
            }
            if c.lifetime.hard_bytes.is_some() {
                let events = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok()?.lifetime_event);
                assert_eq!(events.count(), 2, "{algorithm}: soft and hard events");
            }
        }
    }
}

#[test]
fn batches_carry_esn_across_2_pow_32() {
    let c = config(Algorithm::Aes256Gcm, 0x4004, true, false);
    let start = 0xFFFF_FFC0;
    let (bufs, results, sender) = encap_both_after(&c, 130, start);
    assert!(sender.last_sequence() > 1 << 32);
    let packets = arriving(&bufs, &results);
    let (results, _) = decap_both(&c, &packets, start);
    let seqs: Vec<u64> = results
        .iter()
        .filter_map(|r| r.ok().map(|d| d.seq))
        .collect();
    assert!(seqs.iter().any(|s| *s < 1 << 32) && seqs.iter().any(|s| *s > 1 << 32));
}

#[test]
fn database_batch_equals_one_by_one_across_sas() {
    let a = config(Algorithm::Aes256Gcm, 0xA001, true, false);
    let b = config(Algorithm::ChaCha20Poly1305, 0xB002, false, false);
    let (bufs_a, results_a, _) = encap_both(&a, 80);
    let (bufs_b, results_b, _) = encap_both(&b, 80);
    let from_a = arriving(&bufs_a, &results_a);
    let from_b = arriving(&bufs_b, &results_b);
    // Interleaved in runs of 3 and 5, so blocks hold both SAs.
    let mut packets = Vec::new();
    let (mut runs_a, mut runs_b) = (from_a.chunks(3), from_b.chunks(5));
    loop {
        match (runs_a.next(), runs_b.next()) {
            (None, None) => break,
            (a, b) => {
                packets.extend_from_slice(a.unwrap_or_default());
                packets.extend_from_slice(b.unwrap_or_default());
            }
        }
    }
    assert_eq!(packets.len(), from_a.len() + from_b.len());
    let database = || {
        let mut db = SaDatabase::new();
        db.insert(Arc::new(InboundSa::new(&peer_of(&a)).unwrap()))
            .unwrap();
        db.insert(Arc::new(InboundSa::new(&peer_of(&b)).unwrap()))
            .unwrap();
        db
    };
    let (single_db, batch_db) = (database(), database());
    let mut single_bufs: Vec<_> = packets.iter().map(|p| buf_with(p)).collect();
    let single_results: Vec<_> = single_bufs
        .iter_mut()
        .map(|buf| single_db.decapsulate(buf).map(|(sa, o)| (sa.spi(), o)))
        .collect();
    let mut batch_bufs: Vec<_> = packets.iter().map(|p| buf_with(p)).collect();
    let mut batch_results = Vec::new();
    batch_results.resize(packets.len(), Err(EspDrop::NotEsp));
    assert_eq!(
        batch_db.decapsulate_batch(&mut batch_bufs, &mut batch_results),
        packets.len()
    );
    let batch_results: Vec<_> = batch_results
        .into_iter()
        .map(|r| r.map(|(sa, o)| (sa.spi(), o)))
        .collect();
    assert_eq!(batch_results, single_results);
    for (i, r) in batch_results.iter().enumerate() {
        if r.is_ok() {
            assert_eq!(batch_bufs[i].as_slice(), single_bufs[i].as_slice(), "{i}");
        }
    }
    assert_eq!(batch_db.unmatched_drops(), single_db.unmatched_drops());
    for spi in [0xA001, 0xB002] {
        let stats = |db: &SaDatabase| {
            db.iter()
                .find(|sa| sa.spi() == spi)
                .map(|sa| sa.stats())
                .unwrap()
        };
        assert_eq!(stats(&batch_db), stats(&single_db));
        assert!(stats(&batch_db).packets > 50);
    }
}

#[test]
fn batches_refuse_to_cycle_the_sequence_number() {
    let c = config(Algorithm::Aes128Gcm, 0x6006, false, false);
    let out = OutboundSa::new(&c).unwrap();
    out.resume_after(u64::from(u32::MAX) - 3);
    let inner = inner_packet(false, 10, 0);
    let mut bufs: Vec<_> = (0..6).map(|_| buf_with(&inner)).collect();
    let mut results = vec![Err(EspDrop::NotEsp); 6];
    out.encapsulate_batch(&mut bufs, &mut results);
    let seqs: Vec<_> = results.iter().map(|r| r.map(|o| o.seq)).collect();
    let max = u64::from(u32::MAX);
    assert_eq!(
        seqs,
        [
            Ok(max - 2),
            Ok(max - 1),
            Ok(max),
            Err(EspDrop::SequenceCycled),
            Err(EspDrop::SequenceCycled),
            Err(EspDrop::SequenceCycled)
        ]
    );
    assert_eq!(
        bufs[5].as_slice(),
        &inner[..],
        "a refused packet is left as it was"
    );
    assert_eq!(out.stats().drops_of(EspDrop::SequenceCycled), 3);
    assert_eq!(out.last_sequence(), max);
}

#[test]
fn refused_packets_spend_no_sequence_number_and_short_results_bound_the_batch() {
    let c = config(Algorithm::ChaCha20Poly1305, 0x6007, false, false);
    let out = OutboundSa::new(&c).unwrap();
    let mut bufs = mixed_inner(26);
    let mut results = vec![Err(EspDrop::NotEsp); 20];
    assert_eq!(out.encapsulate_batch(&mut bufs, &mut results), 20);
    let seqs: Vec<u64> = results
        .iter()
        .filter_map(|r| r.ok().map(|o| o.seq))
        .collect();
    let good = seqs.len() as u64;
    assert!(good < 20, "some packets were refused");
    assert_eq!(seqs, (1..=good).collect::<Vec<_>>(), "no gaps");
    assert_eq!(out.last_sequence(), good);
    assert_eq!(
        bufs[25].as_slice(),
        mixed_inner(26)[25].as_slice(),
        "beyond the results: untouched"
    );
}

#[test]
fn concurrent_batches_get_unique_sequence_numbers_and_nonces() {
    const THREADS: usize = 4;
    const BATCHES: usize = 60;
    let c = config(Algorithm::Aes128Gcm, 0x5005, true, false);
    let out = Arc::new(OutboundSa::new(&c).unwrap());
    let barrier = Arc::new(Barrier::new(THREADS));
    let inner = inner_packet(false, 16, 0);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (out, barrier, inner) = (out.clone(), barrier.clone(), inner.clone());
            std::thread::spawn(move || {
                let mut bufs: Vec<_> = (0..MAX_BATCH).map(|_| buf_with(&inner)).collect();
                let mut results = vec![Err(EspDrop::NotEsp); MAX_BATCH];
                let mut seen = Vec::new();
                barrier.wait();
                for round in 0..BATCHES {
                    // Some rounds one by one, sizes differing per thread.
                    let n = (t * 7 + round * 13) % MAX_BATCH + 1;
                    for buf in &mut bufs[..n] {
                        buf.load(&inner, 128).unwrap();
                    }
                    if round % 5 == t % 5 {
                        for (buf, result) in bufs[..n].iter_mut().zip(&mut results) {
                            *result = out.encapsulate(buf);
                        }
                    } else {
                        out.encapsulate_batch(&mut bufs[..n], &mut results[..n]);
                    }
                    for (buf, result) in bufs[..n].iter().zip(&results) {
                        let seq = result.unwrap().seq;
                        let iv: [u8; 8] = buf.as_slice()[28..36].try_into().unwrap();
                        seen.push((seq, iv));
                    }
                }
                seen
            })
        })
        .collect();
    let mut seqs = HashSet::new();
    for h in handles {
        for (seq, iv) in h.join().unwrap() {
            assert_eq!(iv, seq.to_be_bytes());
            assert!(
                seqs.insert(seq),
                "sequence {seq} (and its nonce) used twice"
            );
        }
    }
    let total = seqs.len() as u64;
    assert_eq!(seqs, (1..=total).collect(), "no gaps, no duplicates");
    assert_eq!(out.stats().packets, total);
}

#[test]
fn concurrent_batches_accept_each_packet_exactly_once() {
    // Each packet arrives 4 times, concurrently, in batches of differing
    // lengths.
    let mut c = config(Algorithm::ChaCha20Poly1305, 0x9009, true, false);
    c.replay_window = 4096;
    let (out, inb) = pair(&c);
    let inner = inner_packet(false, 64, 9);
    assert_each_accepted_once(&out, &inb, &inner, 1_999, 4, |inb, order| {
        let mut bufs: Vec<_> = (0..MAX_BATCH).map(|_| buf_with(&[])).collect();
        let mut results = vec![Err(EspDrop::NotEsp); MAX_BATCH];
        let mut accepted = Vec::new();
        let mut note = |result: &Result<DecapOutcome, EspDrop>| match result {
            Ok(d) => accepted.push(d.seq),
            Err(EspDrop::Replayed) => {}
            Err(e) => panic!("unexpected {e:?}"),
        };
        for (round, chunk) in order.chunks(MAX_BATCH - 3).enumerate() {
            let n = chunk.len().saturating_sub(round % 3);
            for (buf, bytes) in bufs.iter_mut().zip(&chunk[..n]) {
                buf.load(bytes, 128).unwrap();
            }
            inb.decapsulate_batch(&mut bufs[..n], &mut results[..n]);
            results[..n].iter().for_each(&mut note);
            // The rest of the chunk one by one, racing the batches.
            for bytes in &chunk[n..] {
                bufs[0].load(bytes, 128).unwrap();
                note(&inb.decapsulate(&mut bufs[0]));
            }
        }
        accepted
    });
}
