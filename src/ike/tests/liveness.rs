//! Dead Peer Detection between two cores: checks are answered, ESP counts
//! as life, a silent peer is declared dead at the timeout with the reason,
//! and a check is never sent while a request is outstanding.
//!
//! Azure's VPN gateway declares a peer dead after 45 s by default (Microsoft
//! Learn, "VPN Gateway FAQ": DPD timeout; "Configure custom IPsec/IKE
//! connection policies": DPD timeout in seconds, default 45).

use std::time::Duration;

use super::{deliver, exchange, failure, pair, poll};
use crate::ike::{Failure, Ike, Output};

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Two cores with an established IKE SA, at time zero.
fn established() -> (Ike, Ike) {
    let (mut a, mut b) = pair(b"correct horse");
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    assert!(failure(&ev_a).is_none() && failure(&ev_b).is_none());
    assert_eq!((a.established_count(), b.established_count()), (1, 1));
    (a, b)
}

#[test]
fn an_answered_liveness_check_keeps_the_sa_and_rearms() {
    let (mut a, mut b) = established();
    assert!(
        poll(&mut a, secs(14)).datagrams.is_empty(),
        "idle < dpd_delay"
    );
    let check = poll(&mut a, secs(15));
    assert_eq!(check.datagrams.len(), 1, "one empty INFORMATIONAL");
    let answer = deliver(check.datagrams, &mut b, secs(15));
    assert_eq!(answer.datagrams.len(), 1, "the peer answers the check");
    let back = deliver(answer.datagrams, &mut a, secs(15));
    assert!(back.datagrams.is_empty() && back.events.is_empty());
    // Answered: nothing outstanding, so no retransmission and no death.
    for t in 16..30 {
        let out = poll(&mut a, secs(t));
        assert!(out.datagrams.is_empty() && out.events.is_empty(), "t={t}");
    }
    assert_eq!(poll(&mut a, secs(30)).datagrams.len(), 1, "next check");
    assert_eq!((a.established_count(), b.established_count()), (1, 1));
    assert_eq!(a.stats().total_dropped() + b.stats().total_dropped(), 0);
}

#[test]
fn a_silent_peer_is_dead_at_the_timeout_with_the_reason() {
    let (mut a, _b) = established();
    let mut sent = Vec::new();
    let mut died = None;
    for t in 0..=60 {
        let out = poll(&mut a, secs(t));
        sent.extend(out.datagrams.into_iter().map(|d| (t, d.bytes)));
        if let Some(f) = failure(&out.events) {
            died = Some((t, f.clone()));
            break;
        }
    }
    let (t, f) = died.expect("the peer is declared dead");
    assert_eq!(t, 45, "dpd_timeout after the last message heard (t=0)");
    assert!(matches!(f, Failure::PeerDead { silent_for } if silent_for == secs(45)));
    assert_eq!(
        f.to_string(),
        "dead peer: no answer to liveness checks, nothing heard for 45 s"
    );
    // The check at 15 s and its retransmissions with doubling backoff, each
    // the same bytes (RFC 7296 section 2.1: retransmit, never rebuild).
    let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [15, 16, 18, 22, 30]);
    assert!(sent.iter().all(|(_, b)| *b == sent[0].1));
    assert_eq!(a.established_count(), 0, "the IKE SA is gone");
    assert!(poll(&mut a, secs(100)).datagrams.is_empty());
}

#[test]
fn esp_from_the_peer_postpones_the_check() {
    let (mut a, _b) = established();
    a.traffic_received(secs(10));
    assert!(poll(&mut a, secs(15)).datagrams.is_empty());
    assert!(poll(&mut a, secs(24)).datagrams.is_empty());
    assert_eq!(poll(&mut a, secs(25)).datagrams.len(), 1);
}

#[test]
fn the_responder_checks_too_with_its_own_message_ids() {
    let (mut a, mut b) = established();
    // Both sides check at once: their requests have independent message
    // IDs (RFC 7296 section 2.2), and each answers the other.
    let from_a = poll(&mut a, secs(15)).datagrams;
    let from_b = poll(&mut b, secs(15)).datagrams;
    assert_eq!((from_a.len(), from_b.len()), (1, 1));
    let answer_b = deliver(from_a, &mut b, secs(15));
    let answer_a = deliver(from_b, &mut a, secs(15));
    assert!(
        deliver(answer_b.datagrams, &mut a, secs(15))
            .events
            .is_empty()
    );
    assert!(
        deliver(answer_a.datagrams, &mut b, secs(15))
            .events
            .is_empty()
    );
    for t in 16..30 {
        assert!(poll(&mut a, secs(t)).events.is_empty());
        assert!(poll(&mut b, secs(t)).events.is_empty());
    }
    assert_eq!(a.stats().total_dropped() + b.stats().total_dropped(), 0);
}

#[test]
fn a_forged_answer_proves_nothing() {
    let (mut a, mut b) = established();
    let check = poll(&mut a, secs(15));
    let mut answer = deliver(check.datagrams, &mut b, secs(15)).datagrams;
    let last = answer[0].bytes.len() - 1;
    answer[0].bytes[last] ^= 1; // the ICV no longer verifies
    assert!(deliver(answer, &mut a, secs(16)).events.is_empty());
    let dead = (16..=45).find_map(|t| failure(&poll(&mut a, secs(t)).events).cloned());
    assert!(matches!(dead, Some(Failure::PeerDead { .. })));
}

#[test]
fn without_dpd_delay_no_check_is_sent() {
    let (a, b) = established();
    let mut config = a.config().clone();
    config.dpd_delay = None;
    let (mut a, _b) = {
        let mut a = Ike::new(config);
        let mut b = Ike::new(b.config().clone());
        let mut first = Output::default();
        a.initiate(Duration::ZERO, &mut first);
        exchange(&mut a, &mut b, first);
        (a, b)
    };
    assert_eq!(a.established_count(), 1);
    let out = poll(&mut a, secs(1000));
    assert!(out.datagrams.is_empty() && out.events.is_empty());
}
