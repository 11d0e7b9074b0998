//! CHILD_SA rekeying between two cores (RFC 7296 sections 1.3.3 and 2.8):
//! the new SA's keys agree, it is installed on both sides before the old
//! one is deleted, either side can rekey, by time or on request.
//!
//! Azure's VPN gateway rekeys CHILD_SAs after 27,000 s (Microsoft Learn,
//! "About cryptographic requirements and Azure VPN gateways": the default
//! IPsec SA lifetime), the default of `IkeConfig::child_lifetime`.

use std::time::Duration;

use super::{deliver, exchange, failure, ipv4_packet, pair, poll};
use crate::esp::{InboundSa, OutboundSa};
use crate::ike::{ChildSa, EspSuite, Event, Failure, Ike, IkeConfig, Output};
use crate::packet::PacketBuf;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn short_lived(mut c: IkeConfig, lifetime: u64) -> IkeConfig {
    c.child_lifetime = secs(lifetime);
    c.child_rekey_margin = secs(10);
    c.dpd_delay = None;
    c
}

/// Two cores, established at time zero; `a` rekeys after 90 s, `b` never
/// before 10,000 s. Returns each side's first CHILD_SA too.
fn established(a_life: u64, b_life: u64) -> (Ike, Ike, ChildSa, ChildSa) {
    let (a, b) = pair(b"correct horse");
    let mut a = Ike::new(short_lived(a.config().clone(), a_life));
    let mut b = Ike::new(short_lived(b.config().clone(), b_life));
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    assert!(failure(&ev_a).is_none() && failure(&ev_b).is_none());
    (a, b, installed(&ev_a), installed(&ev_b))
}

fn installed(events: &[Event]) -> ChildSa {
    events
        .iter()
        .find_map(|e| match e {
            Event::ChildSaInstalled(c) => Some(c.as_ref().clone()),
            _ => None,
        })
        .expect("a CHILD_SA")
}

fn rekeyed(events: &[Event]) -> (u32, ChildSa) {
    let found = events.iter().find_map(|e| match e {
        Event::ChildSaRekeyed {
            old_inbound_spi,
            new,
        } => Some((*old_inbound_spi, new.as_ref().clone())),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no rekey in {events:?}"))
}

fn deleted(events: &[Event]) -> Vec<(u32, u32)> {
    let spis = events.iter().filter_map(|e| match e {
        Event::ChildSaDeleted {
            inbound_spi,
            outbound_spi,
        } => Some((*inbound_spi, *outbound_spi)),
        _ => None,
    });
    spis.collect()
}

/// A packet sealed on `tx`'s outbound SA opens on `rx`'s inbound SA.
fn keys_agree(tx: &ChildSa, rx: &ChildSa) {
    let out = OutboundSa::new(&tx.outbound).unwrap();
    let inb = InboundSa::new(&rx.inbound).unwrap();
    // From an address of tx's side to one of rx's: the selectors check it.
    let v4 = |c: &ChildSa| match c.local_ts[0].start {
        std::net::IpAddr::V4(a) => a.octets(),
        std::net::IpAddr::V6(_) => unreachable!("the pair is IPv4"),
    };
    let inner = ipv4_packet(v4(tx), v4(rx));
    let mut buf = PacketBuf::new();
    buf.load(&inner, 64).unwrap();
    out.encapsulate(&mut buf).unwrap();
    inb.decapsulate(&mut buf).unwrap();
    assert_eq!(buf.as_slice(), &inner[..]);
}

/// Runs one rekey started by `x` at `now`: returns the new SAs of `x` and
/// `y`, after checking make-before-break and the delete of the old pair.
fn rekey(x: &mut Ike, y: &mut Ike, old: (&ChildSa, &ChildSa), now: Duration) -> (ChildSa, ChildSa) {
    let request = poll(x, now);
    assert_eq!(request.datagrams.len(), 1, "one CREATE_CHILD_SA");
    let answer = deliver(request.datagrams, y, now);
    let (y_old, y_new) = rekeyed(&answer.events);
    assert_eq!(
        y_old, old.1.inbound.spi,
        "the peer names the SA it replaces"
    );
    assert!(
        deleted(&answer.events).is_empty(),
        "the old SA stays until deleted"
    );
    let installed = deliver(answer.datagrams, x, now);
    let (x_old, x_new) = rekeyed(&installed.events);
    assert_eq!(x_old, old.0.inbound.spi);
    assert!(deleted(&installed.events).is_empty());
    // New SPIs and keys that agree both ways; the old pair still works.
    assert_eq!(x_new.outbound.spi, y_new.inbound.spi);
    assert_eq!(y_new.outbound.spi, x_new.inbound.spi);
    assert_ne!(x_new.inbound.spi, old.0.inbound.spi);
    keys_agree(&x_new, &y_new);
    keys_agree(&y_new, &x_new);
    keys_agree(old.0, old.1);
    // Then the old pair goes, on both sides.
    assert_eq!(installed.datagrams.len(), 1, "the Delete of the old SA");
    let confirm = deliver(installed.datagrams, y, now);
    assert_eq!(
        deleted(&confirm.events),
        [(old.1.inbound.spi, old.1.outbound.spi)]
    );
    let done = deliver(confirm.datagrams, x, now);
    assert_eq!(
        deleted(&done.events),
        [(old.0.inbound.spi, old.0.outbound.spi)]
    );
    assert!(done.datagrams.is_empty());
    (x_new, y_new)
}

#[test]
fn a_child_sa_is_rekeyed_before_its_lifetime_ends_make_before_break() {
    let (mut a, mut b, a0, b0) = established(100, 10_000);
    for t in [0, 50, 89] {
        assert!(poll(&mut a, secs(t)).datagrams.is_empty(), "t={t}");
    }
    let (a1, b1) = rekey(&mut a, &mut b, (&a0, &b0), secs(90));
    // The new SA is rekeyed in its turn, 90 s after it was made.
    assert!(poll(&mut a, secs(179)).datagrams.is_empty());
    let (a2, _) = rekey(&mut a, &mut b, (&a1, &b1), secs(180));
    assert_ne!(a2.inbound.spi, a1.inbound.spi);
    assert_eq!((a.established_count(), b.established_count()), (1, 1));
    assert_eq!(a.stats().total_dropped() + b.stats().total_dropped(), 0);
}

#[test]
fn the_ike_responder_rekeys_too() {
    let (mut a, mut b, a0, b0) = established(10_000, 100);
    assert!(poll(&mut a, secs(90)).datagrams.is_empty());
    rekey(&mut b, &mut a, (&b0, &a0), secs(90));
    assert_eq!(a.stats().total_dropped() + b.stats().total_dropped(), 0);
}

#[test]
fn a_rekey_asked_by_the_driver_happens_at_the_next_poll() {
    // A soft byte limit (Azure: 102,400,000 KB) is the driver's to count.
    let (mut a, mut b, a0, b0) = established(10_000, 10_000);
    assert!(poll(&mut a, secs(5)).datagrams.is_empty());
    assert!(a.rekey_child(a0.inbound.spi));
    assert!(!a.rekey_child(a0.inbound.spi), "asked already");
    assert!(!a.rekey_child(0xdead_beef), "no such CHILD_SA");
    rekey(&mut a, &mut b, (&a0, &b0), secs(6));
    assert!(!a.rekey_child(a0.inbound.spi), "deleted");
}

#[test]
fn a_lost_create_child_sa_is_retransmitted_and_answered_once() {
    let (mut a, mut b, _, b0) = established(100, 10_000);
    let first = poll(&mut a, secs(90)).datagrams;
    let again = poll(&mut a, secs(91)).datagrams;
    assert_eq!(first, again, "retransmitted byte for byte");
    let one = deliver(first, &mut b, secs(91));
    let two = deliver(again, &mut b, secs(91));
    assert_eq!(rekeyed(&one.events).0, b0.inbound.spi);
    assert!(two.events.is_empty(), "the retransmission changes nothing");
    assert_eq!(one.datagrams, two.datagrams, "the same answer");
}

/// [`established`] with `a`'s and `b`'s ESP suites (notation).
fn established_with(a_esp: &[&str], b_esp: &[&str]) -> (Ike, Ike, ChildSa, ChildSa) {
    let suites = |names: &[&str]| -> Vec<EspSuite> {
        names
            .iter()
            .map(|n| EspSuite::from_notation(n).unwrap())
            .collect()
    };
    let (a, b) = pair(b"correct horse");
    let mut ca = short_lived(a.config().clone(), 100);
    let mut cb = short_lived(b.config().clone(), 100);
    ca.esp_suites = suites(a_esp);
    cb.esp_suites = suites(b_esp);
    let (mut a, mut b) = (Ike::new(ca), Ike::new(cb));
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    assert!(failure(&ev_a).is_none() && failure(&ev_b).is_none());
    (a, b, installed(&ev_a), installed(&ev_b))
}

#[test]
fn pfs_rekeys_agree_in_every_group_started_by_either_side() {
    // RFC 7296 section 1.3.1: KEi and KEr beside the nonces; the new
    // KEYMAT depends on the fresh g^ir (section 2.17).
    for group in ["ecp256", "ecp384", "x25519", "modp2048"] {
        let suite = format!("aes256gcm16-{group}");
        let (mut a, mut b, a0, b0) = established_with(&[&suite], &[&suite]);
        let (a1, b1) = rekey(&mut a, &mut b, (&a0, &b0), secs(90));
        // b's SA was made at 90 s: both are due at 180 s; b goes first.
        rekey(&mut b, &mut a, (&b1, &a1), secs(180));
        assert_eq!(
            a.stats().total_dropped() + b.stats().total_dropped(),
            0,
            "{group}"
        );
    }
}

#[test]
fn a_pfs_rekey_in_the_wrong_group_is_retried_in_the_group_the_peer_names() {
    // a offers ecp256 then x25519 and sends its KE in ecp256; b takes only
    // x25519: INVALID_KE_PAYLOAD naming x25519 (section 1.3.1), and a
    // starts the rekey again in it.
    let (mut a, mut b, a0, b0) = established_with(
        &["aes256gcm16-ecp256", "aes256gcm16-x25519"],
        &["aes256gcm16-x25519"],
    );
    let request = poll(&mut a, secs(90));
    let answer = deliver(request.datagrams, &mut b, secs(90));
    assert!(answer.events.is_empty(), "b installs nothing");
    let retry = deliver(answer.datagrams, &mut a, secs(90));
    assert!(retry.events.is_empty(), "{:?}", retry.events);
    assert_eq!(retry.datagrams.len(), 1, "a new CREATE_CHILD_SA");
    let answer = deliver(retry.datagrams, &mut b, secs(90));
    let (b_old, b1) = rekeyed(&answer.events);
    assert_eq!(b_old, b0.inbound.spi);
    let done = deliver(answer.datagrams, &mut a, secs(90));
    let (a_old, a1) = rekeyed(&done.events);
    assert_eq!(a_old, a0.inbound.spi);
    keys_agree(&a1, &b1);
    keys_agree(&b1, &a1);

    // A group none of a's suites has ends the rekey with the error.
    let (mut a, mut b, _, _) = established_with(&["aes256gcm16-ecp256"], &["aes256gcm16-x25519"]);
    let request = poll(&mut a, secs(90));
    let answer = deliver(request.datagrams, &mut b, secs(90));
    let result = deliver(answer.datagrams, &mut a, secs(90));
    assert!(result.datagrams.is_empty(), "no retry");
    assert!(failure(&result.events).is_some(), "{:?}", result.events);
}

#[test]
fn pfs_on_one_side_only_is_no_proposal_chosen_and_tried_again_later() {
    let (mut a, mut b, _, _) = established_with(&["aes256gcm16-ecp256"], &["aes256gcm16"]);
    let request = poll(&mut a, secs(90));
    let answer = deliver(request.datagrams, &mut b, secs(90));
    assert!(matches!(
        failure(&answer.events),
        Some(Failure::NoProposalChosen { sa: "CHILD", .. })
    ));
    let result = deliver(answer.datagrams, &mut a, secs(90));
    assert!(matches!(
        failure(&result.events),
        Some(Failure::NoProposalChosen { sa: "CHILD", .. })
    ));
    // The old SA still works; the rekey is tried again 30 s later.
    assert!(poll(&mut a, secs(119)).datagrams.is_empty());
    let again = poll(&mut a, secs(120));
    assert_eq!(again.datagrams.len(), 1, "a new CREATE_CHILD_SA");
    let answer = deliver(again.datagrams, &mut b, secs(120));
    assert!(failure(&answer.events).is_some(), "b still refuses it");
}
