//! Sequence-number leases (`esp::SendLease`, the forwarder's way of sharing
//! an outbound SA between workers): one lease gives exactly what one-by-one
//! encapsulation gives (results, bytes, counters, numbers); unused numbers
//! go back when the lease settles; a replaced SA is settled before the new
//! one is used; leases racing on one SA never hand out a number (and so a
//! nonce) twice, count every packet, and overshoot a hard lifetime by at
//! most one block each (RFC 4303 sections 3.3.3 and 3.4.3).

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use erdp::esp::{Algorithm, EspDrop, MAX_BATCH, OutboundSa, SendLease};
use erdp::packet::PacketBuf;

use crate::batch::{mixed_inner, variants};
use crate::support::esp::*;

/// Encapsulates `bufs` through one lease as the forwarder does (`wanted`:
/// the packets left), settling at the end.
fn through_lease(
    sa: &Arc<OutboundSa>,
    bufs: &mut [PacketBuf],
) -> Vec<Result<erdp::esp::EncapOutcome, EspDrop>> {
    let mut lease = SendLease::default();
    let n = bufs.len();
    let results = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, buf)| lease.encapsulate(sa, buf, n - i))
        .collect();
    lease.settle();
    assert!(!lease.is_held());
    results
}

#[test]
fn one_lease_equals_one_by_one() {
    for algorithm in Algorithm::ALL {
        for c in variants(algorithm) {
            for n in [0, 1, 63, 64, 65, 150] {
                let single = OutboundSa::new(&c).unwrap();
                let leased = Arc::new(OutboundSa::new(&c).unwrap());
                let mut single_bufs = mixed_inner(n);
                let single_results: Vec<_> = single_bufs
                    .iter_mut()
                    .map(|b| single.encapsulate(b).map(|o| (o.seq, o.outer_len)))
                    .collect();
                let mut leased_bufs = mixed_inner(n);
                let leased_results: Vec<_> = through_lease(&leased, &mut leased_bufs)
                    .into_iter()
                    .map(|r| r.map(|o| (o.seq, o.outer_len)))
                    .collect();
                let what = format!("{algorithm} spi {:#x} n={n}", c.spi);
                assert_eq!(leased_results, single_results, "{what}");
                if algorithm.is_aead() {
                    for (a, b) in leased_bufs.iter().zip(&single_bufs) {
                        assert_eq!(a.as_slice(), b.as_slice(), "{what}");
                    }
                }
                assert_eq!(leased.stats(), single.stats(), "{what}");
                assert_eq!(leased.last_sequence(), single.last_sequence(), "{what}");
            }
        }
    }
}

#[test]
fn settling_gives_unused_numbers_back() {
    let c = config(Algorithm::Aes128Gcm, 0x7001, false, false);
    let sa = Arc::new(OutboundSa::new(&c).unwrap());
    let inner = inner_packet(false, 40, 1);
    let mut lease = SendLease::default();
    for expected in 1..=3 {
        let outcome = lease.encapsulate(&sa, &mut buf_with(&inner), 10).unwrap();
        assert_eq!(outcome.seq, expected);
    }
    assert_eq!(sa.last_sequence(), 10, "a block of 10 is taken");
    assert_eq!(sa.stats().packets, 0, "counted when the lease settles");
    lease.settle();
    assert_eq!(sa.last_sequence(), 3, "7 numbers given back");
    assert_eq!(sa.stats().packets, 3);
    assert_eq!(sa.encapsulate(&mut buf_with(&inner)).unwrap().seq, 4);

    // Another taker in between: the unused numbers are skipped instead.
    let mut lease = SendLease::default();
    assert_eq!(
        lease
            .encapsulate(&sa, &mut buf_with(&inner), 5)
            .unwrap()
            .seq,
        5
    );
    assert_eq!(sa.encapsulate(&mut buf_with(&inner)).unwrap().seq, 10);
    lease.settle();
    assert_eq!(sa.last_sequence(), 10);
    assert_eq!(sa.stats().packets, 6);
}

#[test]
fn a_lease_settles_a_replaced_sa_before_using_the_new_one() {
    let old =
        Arc::new(OutboundSa::new(&config(Algorithm::Aes256Gcm, 0x7002, false, false)).unwrap());
    let new =
        Arc::new(OutboundSa::new(&config(Algorithm::Aes256Gcm, 0x7003, false, false)).unwrap());
    let inner = inner_packet(false, 40, 2);
    let mut lease = SendLease::default();
    lease.encapsulate(&old, &mut buf_with(&inner), 64).unwrap();
    lease.encapsulate(&old, &mut buf_with(&inner), 63).unwrap();
    let first_new = lease.encapsulate(&new, &mut buf_with(&inner), 62).unwrap();
    assert_eq!(first_new.seq, 1, "the new SA numbers from 1");
    assert_eq!(old.stats().packets, 2, "the old SA's packets are counted");
    assert_eq!(old.last_sequence(), 2, "and its unused numbers given back");
    drop(lease);
    assert_eq!(new.stats().packets, 1, "a dropped lease settles");
    assert_eq!(new.last_sequence(), 1);
}

#[test]
fn leases_stop_at_the_end_of_the_sequence_space() {
    let c = config(Algorithm::Aes128Gcm, 0x7004, false, false);
    let sa = Arc::new(OutboundSa::new(&c).unwrap());
    sa.resume_after(u64::from(u32::MAX) - 2);
    let inner = inner_packet(false, 10, 3);
    let mut lease = SendLease::default();
    let seqs: Vec<_> = (0..4)
        .map(|i| {
            lease
                .encapsulate(&sa, &mut buf_with(&inner), 4 - i)
                .map(|o| o.seq)
        })
        .collect();
    let max = u64::from(u32::MAX);
    assert_eq!(
        seqs,
        [
            Ok(max - 1),
            Ok(max),
            Err(EspDrop::SequenceCycled),
            Err(EspDrop::SequenceCycled)
        ]
    );
    lease.settle();
    assert_eq!(sa.last_sequence(), max);
    assert_eq!(sa.stats().drops_of(EspDrop::SequenceCycled), 2);
}

/// Workers racing on one SA through their own leases, batch sizes
/// differing per thread and round, settling after each batch.
fn race(sa: &Arc<OutboundSa>, threads: usize, rounds: usize) -> Vec<Vec<(u64, [u8; 8])>> {
    let barrier = Arc::new(Barrier::new(threads));
    let inner = inner_packet(false, 16, 0);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (sa, barrier, inner) = (sa.clone(), barrier.clone(), inner.clone());
            std::thread::spawn(move || {
                let mut lease = SendLease::default();
                let mut buf = PacketBuf::new();
                let mut seen = Vec::new();
                barrier.wait();
                for round in 0..rounds {
                    let n = (t * 7 + round * 13) % MAX_BATCH + 1;
                    for i in 0..n {
                        buf.load(&inner, 128).unwrap();
                        if let Ok(outcome) = lease.encapsulate(&sa, &mut buf, n - i) {
                            let iv: [u8; 8] = buf.as_slice()[28..36].try_into().unwrap();
                            seen.push((outcome.seq, iv));
                        }
                    }
                    lease.settle();
                }
                seen
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn racing_leases_never_reuse_a_number_and_count_every_packet() {
    let c = config(Algorithm::Aes128Gcm, 0x7005, true, false);
    let sa = Arc::new(OutboundSa::new(&c).unwrap());
    let mut seqs = HashSet::new();
    for (seq, iv) in race(&sa, 4, 80).into_iter().flatten() {
        assert_eq!(iv, seq.to_be_bytes(), "the nonce is the sequence number");
        assert!(
            seqs.insert(seq),
            "sequence {seq} (and its nonce) used twice"
        );
    }
    let total = seqs.len() as u64;
    assert_eq!(sa.stats().packets, total, "every packet counted");
    assert!(seqs.iter().all(|&s| (1..=sa.last_sequence()).contains(&s)));
}

#[test]
fn racing_leases_overshoot_a_hard_lifetime_by_at_most_a_block_each() {
    const THREADS: usize = 4;
    let mut c = config(Algorithm::ChaCha20Poly1305, 0x7006, false, false);
    c.lifetime.hard_packets = Some(500);
    let sa = Arc::new(OutboundSa::new(&c).unwrap());
    let sent: usize = race(&sa, THREADS, 80).iter().map(Vec::len).sum();
    assert!(sent >= 500, "the SA is used up to its limit: {sent}");
    assert!(
        sent <= 500 + THREADS * MAX_BATCH,
        "at most one block per lease beyond the limit: {sent}"
    );
    assert!(sa.stats().hard_limit_reached);
    assert_eq!(sa.stats().packets, sent as u64);
}
