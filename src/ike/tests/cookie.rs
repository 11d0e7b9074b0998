//! Cookies (RFC 7296 section 2.6) between two cores: past the threshold the
//! responder keeps no state for an IKE_SA_INIT without a valid cookie, and
//! the initiator's retry with the cookie completes the handshake.

use std::time::Duration;

use super::{child, exchange, failure, pair};
use crate::ike::{Datagram, Ike, IkeDrop, Output};
use crate::wire::ike::{IKE_HEADER_LEN, notify, payload};

fn loaded_responder(threshold: usize) -> (Ike, Ike) {
    let (a, b) = pair(b"correct horse");
    let mut cb = b.config().clone();
    cb.cookie_threshold = threshold;
    (a, Ike::new(cb))
}

fn rx(d: &Datagram) -> Datagram {
    Datagram {
        local: d.remote,
        remote: d.local,
        bytes: d.bytes.clone(),
    }
}

#[test]
fn under_load_the_handshake_goes_through_a_cookie() {
    let (mut a, mut b) = loaded_responder(0);
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    // The first answer is a lone COOKIE notify, and no state is kept.
    let mut out_b = Output::default();
    b.handle(Duration::ZERO, &rx(&first.datagrams[0]), &mut out_b);
    assert_eq!(b.sa_count(), 0);
    assert_eq!(b.stats().dropped(IkeDrop::CookieRequired), 1);
    let answer = &out_b.datagrams[0].bytes;
    assert_eq!(answer[16], payload::NOTIFY);
    assert_eq!(
        u16::from_be_bytes([answer[IKE_HEADER_LEN + 6], answer[IKE_HEADER_LEN + 7]]),
        notify::COOKIE
    );
    // The initiator retries with the cookie first; the rest completes.
    let mut out_a = Output::default();
    a.handle(Duration::ZERO, &rx(&out_b.datagrams[0]), &mut out_a);
    let retry = &out_a.datagrams[0].bytes;
    assert_eq!(retry[16], payload::NOTIFY);
    assert!(retry.len() > first.datagrams[0].bytes.len());
    let (ev_a, ev_b) = exchange(&mut a, &mut b, out_a);
    assert!(
        failure(&ev_a).is_none() && failure(&ev_b).is_none(),
        "{ev_a:?} {ev_b:?}"
    );
    assert!(child(&ev_a).is_some() && child(&ev_b).is_some());
    assert_eq!((a.established_count(), b.established_count()), (1, 1));
    assert_eq!(b.stats().dropped(IkeDrop::CookieRequired), 1);
}

#[test]
fn a_flood_without_cookies_leaves_no_state_and_forged_cookies_fail() {
    let (mut a, mut b) = loaded_responder(2);
    let mut inits = Vec::new();
    for _ in 0..2 {
        let mut out = Output::default();
        a.initiate(Duration::ZERO, &mut out);
        b.handle(
            Duration::ZERO,
            &rx(&out.datagrams[0]),
            &mut Output::default(),
        );
    }
    assert_eq!(b.sa_count(), 2);
    // Past the threshold: 20 more IKE_SA_INITs leave nothing behind.
    for _ in 0..20 {
        let mut out = Output::default();
        a.initiate(Duration::ZERO, &mut out);
        let mut answer = Output::default();
        b.handle(Duration::ZERO, &rx(&out.datagrams[0]), &mut answer);
        assert_eq!(answer.datagrams.len(), 1);
        inits.push((out.datagrams[0].clone(), answer.datagrams[0].clone()));
    }
    assert_eq!(b.sa_count(), 2);
    assert_eq!(b.stats().dropped(IkeDrop::CookieRequired), 20);
    // A cookie handed to one request does not open the door for another
    // (other SPI and nonce): it is answered with a fresh cookie again.
    let (_, cookie_answer) = &inits[0];
    let (other_init, _) = &inits[1];
    let mut forged = other_init.bytes.clone();
    let cookie_payload = &cookie_answer.bytes[IKE_HEADER_LEN..];
    let first = forged[16];
    forged[16] = payload::NOTIFY;
    let mut payload_bytes = cookie_payload.to_vec();
    payload_bytes[0] = first;
    forged.splice(IKE_HEADER_LEN..IKE_HEADER_LEN, payload_bytes);
    let len = forged.len() as u32;
    forged[24..28].copy_from_slice(&len.to_be_bytes());
    let d = Datagram {
        bytes: forged,
        ..other_init.clone()
    };
    b.handle(Duration::ZERO, &rx(&d), &mut Output::default());
    assert_eq!(b.sa_count(), 2);
    assert_eq!(b.stats().dropped(IkeDrop::CookieRequired), 21);
}
