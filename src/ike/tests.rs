//! Known answers for the key schedule (values from pcaps/ike/derive_kat.py,
//! an independent Python implementation) and in-memory handshakes between
//! two cores: keys agree, failures say why, hostile input changes nothing.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::esp::{Algorithm, InboundSa, OutboundSa};
use crate::packet::PacketBuf;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

struct Kat {
    prf: Prf,
    encr_len: usize,
    skeyseed: &'static str,
    sk_d: &'static str,
    sk_ei: &'static str,
    sk_er: &'static str,
    sk_pi: &'static str,
    sk_pr: &'static str,
    keymat: &'static str,
    keymat_pfs: &'static str,
    auth: &'static str,
}

const KATS: [Kat; 2] = [
    Kat {
        prf: Prf::HmacSha256,
        encr_len: 36,
        skeyseed: "75f3ac8b5afcce9871da3a5d84d0248ecbbd22bf70390b3c000dbda8738199d7",
        sk_d: "38a9688e4fa53379d9708f124497c0fb8e947eb0507b018ec706d534f9e346e1",
        sk_ei: "4c2b11c55a8637526b8053a76f1081b22c8434e0ace51bfc66d98de42b630098b06ac9e8",
        sk_er: "ef0c81d7607c2fb75a3008a7c80042a1f717dedc1fc72378790fecb469b84422e54e2637",
        sk_pi: "47246ef8cf52063ad9233c350664eac97539146dec5b6aa5e52b4f4eecc35dbf",
        sk_pr: "c871862186b9ef1d7a16233d20d3120d9acaa80c33ff0447a3527d7ec36d4253",
        keymat: "555d0d309ef976f6a21580078ff14e0d89799cd31638475bfd0dd8316739d0dab658b831f78b5a29ec4dc4a85712533d4a9b47eb0b58fb868140701601541cc6aa217829295c460e",
        keymat_pfs: "8450316194834a0b1f04cd0ff7ea65d22ec6ad170aed2e9d489f1491222eabaf5fe377cf7afee566f307e5c8f724a923d9c1b7979b0ac86212e95160d3a4e185590f424529b11f37",
        auth: "5ffca2ab5c505558e204086e1137e17ad0d1e2ef58ada607ef908c20b72f186d",
    },
    Kat {
        prf: Prf::HmacSha384,
        encr_len: 20,
        skeyseed: "3e84602c22e36bdc478e3e25e1a52aba3ff110b1f9d9a5208ab96b3f46fcaad67a1f3b25b0f39ac3d300aad7d40ae58c",
        sk_d: "86075fbc84a7c501ece8906bd214d4c1533d0d8d333113812ec412f053ebe82bb3154e1c2a1901dc480b66bfc4e755d4",
        sk_ei: "ebb02dd80f4eed4b7d0049bb483d9b01c68a5b93",
        sk_er: "eb0c90e6178c2192d24c08f24c4b1ef9cd4c8dcc",
        sk_pi: "b9c157580600b0d593db7a62c7699029928ba0b67cd716b1ba449934cb2257ffb63a7aab0cf068256341bf0e0ec7d78f",
        sk_pr: "6acb5574f58eec2cf116de46676ecfcc3014a42613828e232b5fa910911585fa766b67531f1baf8e16d512002135f161",
        keymat: "83a311bd870cb31cc96277e7565aea73abf0b12a3e92099541e4e945562178c29a6a77f5d90da402",
        keymat_pfs: "64fb7786bf221b75f548b63b575a08c8b659410e8e035bf8d6fe34f0465f450d584dae347a34150d",
        auth: "a16dff63dc9885a731f2dd97470b79b081722a5a8a6623899a3041996dce28968ef8932c8b7178b6f6578683bdcf4ae2",
    },
];

#[test]
fn key_schedule_matches_an_independent_implementation() {
    let ni: Vec<u8> = (0x00..0x20).collect();
    let nr: Vec<u8> = (0x20..0x40).collect();
    let gir: Vec<u8> = (0x40..0x80).collect();
    for kat in &KATS {
        let seed_key = [ni.clone(), nr.clone()].concat();
        assert_eq!(*kat.prf.compute(&seed_key, &[&gir]), h(kat.skeyseed));
        let keys = derive_ike_keys(&KeyInputs {
            prf: kat.prf,
            shared: &gir,
            ni: &ni,
            nr: &nr,
            spi_i: 0x0102030405060708,
            spi_r: 0x1112131415161718,
            integ_len: 0,
            encr_len: kat.encr_len,
        })
        .unwrap();
        assert_eq!(*keys.sk_d, h(kat.sk_d));
        assert!(keys.sk_ai.is_empty() && keys.sk_ar.is_empty());
        assert_eq!(*keys.sk_ei, h(kat.sk_ei));
        assert_eq!(*keys.sk_er, h(kat.sk_er));
        assert_eq!(*keys.sk_pi, h(kat.sk_pi));
        assert_eq!(*keys.sk_pr, h(kat.sk_pr));
        let (a, b) = derive_child_keys(kat.prf, &keys.sk_d, None, &ni, &nr, kat.encr_len).unwrap();
        assert_eq!([a.to_vec(), b.to_vec()].concat(), h(kat.keymat));
        let (a, b) =
            derive_child_keys(kat.prf, &keys.sk_d, Some(&gir), &ni, &nr, kat.encr_len).unwrap();
        assert_eq!([a.to_vec(), b.to_vec()].concat(), h(kat.keymat_pfs));
        let id_body = [&[2u8, 0, 0, 0][..], b"gw.example"].concat();
        let auth = psk_auth(
            kat.prf,
            b"erdp test psk",
            b"IKE_SA_INIT request bytes",
            &nr,
            &keys.sk_pi,
            &id_body,
        );
        assert_eq!(*auth, h(kat.auth));
        assert_eq!(format!("{keys:?}"), "IkeKeys(<redacted>)");
    }
}

#[test]
fn prf_plus_is_bounded_by_255_blocks() {
    assert!(Prf::HmacSha256.plus(b"k", b"s", 255 * 32).is_some());
    assert!(Prf::HmacSha256.plus(b"k", b"s", 255 * 32 + 1).is_none());
}

#[test]
fn sk_payload_aes_gcm_matches_python_cryptography() {
    let key: Vec<u8> = (0x80..0x80 + 36).collect();
    let aad = h("010203040506070811121314151617182e202308000000010000003d29000021");
    let want = h("0000000000000001bf690b2824c4025beabc4bf438ead360a80d449056");
    let sealed = IkeEncr::AesGcm256
        .seal(&key, [0, 0, 0, 0, 0, 0, 0, 1], &aad, b"IDi.\x00")
        .unwrap();
    assert_eq!(sealed, want);
    let opened = IkeEncr::AesGcm256.open(&key, &aad, &want).unwrap();
    assert_eq!(&opened[..], b"IDi.\x00");
    for i in 0..want.len() {
        let mut bad = want.clone();
        bad[i] ^= 1;
        assert!(
            IkeEncr::AesGcm256.open(&key, &aad, &bad).is_err(),
            "flip at {i}"
        );
    }
    for len in 0..want.len() {
        assert!(IkeEncr::AesGcm256.open(&key, &aad, &want[..len]).is_err());
    }
}

#[test]
fn nat_detection_hash_matches_sha1_of_the_rfc_inputs() {
    let hash = crypto::nat_detection_hash(0x0102030405060708, 0, "192.0.2.1:500".parse().unwrap());
    assert_eq!(hash, h("644b4575455bd6fcc1efe2be8162a9218e448e5f"));
}

#[test]
fn diffie_hellman_agrees_in_every_group() {
    let rng = ring::rand::SystemRandom::new();
    for group in [
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Curve25519,
        DhGroup::Modp2048,
    ] {
        let a = group.generate(&rng).unwrap();
        let b = group.generate(&rng).unwrap();
        assert_eq!(a.public().len(), group.public_len());
        let (pa, pb) = (a.public().to_vec(), b.public().to_vec());
        assert_eq!(*a.agree(&pb).unwrap(), *b.agree(&pa).unwrap());
        let c = group.generate(&rng).unwrap();
        assert!(c.agree(&pa[1..]).is_err(), "{group:?}: short value");
        if matches!(group, DhGroup::Ecp256 | DhGroup::Ecp384) {
            // A point off the curve (RFC 5903 section 7: must be rejected).
            let d = group.generate(&rng).unwrap();
            let mut off = pa.clone();
            let last = off.len() - 1;
            off[last] ^= 1;
            assert!(d.agree(&off).is_err(), "{group:?}: point off the curve");
        }
    }
}

const A: &str = "192.0.2.1:500";
const B: &str = "192.0.2.2:500";

pub(super) fn pair(psk_b: &[u8]) -> (Ike, Ike) {
    let a: SocketAddr = A.parse().unwrap();
    let b: SocketAddr = B.parse().unwrap();
    let mut ca = IkeConfig::new(a, b, Psk::new(b"correct horse"));
    ca.local_ts = vec!["10.1.0.0/16".parse().unwrap()];
    ca.remote_ts = vec!["10.2.0.0/16".parse().unwrap()];
    let mut cb = IkeConfig::new(b, a, Psk::new(psk_b));
    cb.local_ts = vec!["10.2.0.0/16".parse().unwrap()];
    cb.remote_ts = vec!["10.0.0.0/8".parse().unwrap()];
    (Ike::new(ca), Ike::new(cb))
}

/// Runs datagrams between the two until quiet; returns every event of each.
pub(super) fn exchange(a: &mut Ike, b: &mut Ike, first: Output) -> (Vec<Event>, Vec<Event>) {
    let (mut ev_a, mut ev_b) = (first.events, Vec::new());
    let mut to_b = first.datagrams;
    for _ in 0..10 {
        let mut out_b = Output::default();
        for d in to_b.drain(..) {
            let rx = Datagram {
                local: d.remote,
                remote: d.local,
                bytes: d.bytes,
            };
            b.handle(Duration::ZERO, &rx, &mut out_b);
        }
        ev_b.append(&mut out_b.events);
        let mut out_a = Output::default();
        for d in out_b.datagrams {
            let rx = Datagram {
                local: d.remote,
                remote: d.local,
                bytes: d.bytes,
            };
            a.handle(Duration::ZERO, &rx, &mut out_a);
        }
        ev_a.append(&mut out_a.events);
        to_b = out_a.datagrams;
        if to_b.is_empty() {
            break;
        }
    }
    (ev_a, ev_b)
}

pub(super) fn child(events: &[Event]) -> Option<&ChildSa> {
    events.iter().find_map(|e| match e {
        Event::ChildSaInstalled(c) => Some(c.as_ref()),
        _ => None,
    })
}

pub(super) fn failure(events: &[Event]) -> Option<&Failure> {
    events.iter().find_map(|e| match e {
        Event::Failed { failure, .. } => Some(failure),
        _ => None,
    })
}

pub(super) fn ipv4_packet(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ipv4(src, dst, 64).udp(1000, 2000);
    let mut v = Vec::new();
    builder.write(&mut v, b"through the tunnel").unwrap();
    v
}

#[test]
fn handshake_installs_child_sas_whose_keys_agree() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    assert!(
        failure(&ev_a).is_none() && failure(&ev_b).is_none(),
        "{ev_a:?} {ev_b:?}"
    );
    assert_eq!((a.established_count(), b.established_count()), (1, 1));
    let (ca, cb) = (child(&ev_a).unwrap(), child(&ev_b).unwrap());
    assert_eq!(ca.suite.algorithm, Algorithm::Aes256Gcm);
    // The responder narrowed 10.0.0.0/8 to the initiator's 10.1.0.0/16.
    assert_eq!(
        cb.remote_ts,
        vec![from_prefix("10.1.0.0/16".parse().unwrap())]
    );
    assert_eq!(ca.outbound.spi, cb.inbound.spi);
    assert_eq!(cb.outbound.spi, ca.inbound.spi);
    // A packet sealed by one side opens on the other, both ways.
    for (tx, rx, src, dst) in [
        (ca, cb, [10, 1, 0, 1], [10, 2, 0, 1]),
        (cb, ca, [10, 2, 0, 1], [10, 1, 0, 1]),
    ] {
        let out = OutboundSa::new(&tx.outbound).unwrap();
        let inb = InboundSa::new(&rx.inbound).unwrap();
        let inner = ipv4_packet(src, dst);
        let mut buf = PacketBuf::new();
        buf.load(&inner, 64).unwrap();
        out.encapsulate(&mut buf).unwrap();
        assert_ne!(buf.as_slice(), &inner[..]);
        inb.decapsulate(&mut buf).unwrap();
        assert_eq!(buf.as_slice(), &inner[..]);
    }
    assert_eq!(a.stats().total_dropped() + b.stats().total_dropped(), 0);
}

#[test]
fn wrong_psk_is_authentication_failed_on_both_sides() {
    let (mut a, mut b) = pair(b"wrong horse");
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    assert!(matches!(
        failure(&ev_b),
        Some(Failure::AuthenticationFailed { .. })
    ));
    assert!(matches!(
        failure(&ev_a),
        Some(Failure::AuthenticationFailed { .. })
    ));
    assert!(child(&ev_a).is_none() && child(&ev_b).is_none());
    assert_eq!((a.established_count(), b.established_count()), (0, 0));
}

#[test]
fn no_proposal_chosen_lists_both_sides() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut cb = b.config().clone();
    cb.ike_suites = vec![IkeSuite {
        encr: IkeEncr::AesGcm128,
        integ: None,
        prf: Prf::HmacSha384,
        dh: DhGroup::Ecp384,
    }];
    b = Ike::new(cb);
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    let text = failure(&ev_b).unwrap().to_string();
    assert_eq!(
        text,
        "NO_PROPOSAL_CHOSEN for the IKE SA: the peer offered [ike:aes256gcm16-prfsha256-ecp256, \
         ike:aes256gcm16-prfsha256-x25519, ike:aes256gcm16-prfsha256-ecp384], we accept \
         [ike:aes128gcm16-prfsha384-ecp384]"
    );
    assert!(matches!(
        failure(&ev_a),
        Some(Failure::NoProposalChosen { sa: "IKE", theirs, .. }) if theirs.is_empty()
    ));
}

#[test]
fn invalid_ke_payload_retries_with_the_responders_group() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut cb = b.config().clone();
    cb.ike_suites.retain(|s| s.dh == DhGroup::Curve25519);
    b = Ike::new(cb);
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    assert!(
        child(&ev_a).is_some() && child(&ev_b).is_some(),
        "{ev_a:?} {ev_b:?}"
    );
}

#[test]
fn ts_unacceptable_says_what_each_side_wanted() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut cb = b.config().clone();
    cb.remote_ts = vec!["172.16.0.0/12".parse().unwrap()];
    b = Ike::new(cb);
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
    let text = failure(&ev_b).unwrap().to_string();
    assert!(
        text.starts_with("TS_UNACCEPTABLE: the peer proposed TSi [10.1.0.0-10.1.255.255]"),
        "{text}"
    );
    assert!(matches!(
        failure(&ev_a),
        Some(Failure::TsUnacceptable { .. })
    ));
    // The IKE SA itself is up; only the CHILD_SA failed.
    assert_eq!((a.established_count(), b.established_count()), (1, 1));
}

#[test]
fn esp_no_proposal_chosen_lists_both_sides() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut cb = b.config().clone();
    cb.esp_suites = vec![EspSuite {
        algorithm: Algorithm::ChaCha20Poly1305,
        esn: true,
        pfs: None,
    }];
    b = Ike::new(cb);
    let mut first = Output::default();
    a.initiate(Duration::ZERO, &mut first);
    let (_, ev_b) = exchange(&mut a, &mut b, first);
    let text = failure(&ev_b).unwrap().to_string();
    assert!(
        text.contains("the peer offered [esp:aes256gcm16-noesn, esp:aes128gcm16-noesn], we accept [esp:chacha20poly1305-esn]"),
        "{text}"
    );
}

#[test]
fn tampered_ike_auth_changes_nothing() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut out = Output::default();
    a.initiate(Duration::ZERO, &mut out);
    let init = &out.datagrams[0];
    let mut out_b = Output::default();
    let rx = |d: &Datagram| Datagram {
        local: d.remote,
        remote: d.local,
        bytes: d.bytes.clone(),
    };
    b.handle(Duration::ZERO, &rx(init), &mut out_b);
    let mut out_a = Output::default();
    a.handle(Duration::ZERO, &rx(&out_b.datagrams[0]), &mut out_a);
    let auth = &out_a.datagrams[0];
    for i in 0..auth.bytes.len() {
        let mut bad = rx(auth);
        bad.bytes[i] ^= 0x40;
        let mut o = Output::default();
        b.handle(Duration::ZERO, &bad, &mut o);
        assert!(o.events.is_empty(), "flip at {i}: {:?}", o.events);
        assert!(o.datagrams.is_empty(), "flip at {i}");
    }
    assert_eq!(b.established_count(), 0);
    // The genuine message still completes the exchange.
    let mut o = Output::default();
    b.handle(Duration::ZERO, &rx(auth), &mut o);
    assert!(child(&o.events).is_some());
}

#[test]
fn half_open_sas_are_bounded_and_expire() {
    let (mut a, mut b) = pair(b"correct horse");
    let mut cb = b.config().clone();
    cb.max_half_open = 4;
    b = Ike::new(cb);
    for _ in 0..10 {
        let mut out = Output::default();
        a.initiate(Duration::ZERO, &mut out);
        let d = &out.datagrams[0];
        let rx = Datagram {
            local: d.remote,
            remote: d.local,
            bytes: d.bytes.clone(),
        };
        b.handle(Duration::ZERO, &rx, &mut Output::default());
    }
    assert_eq!(b.sa_count(), 4);
    assert_eq!(b.stats().dropped(IkeDrop::HalfOpenLimit), 6);
    b.poll(Duration::from_secs(31), &mut Output::default());
    assert_eq!(b.sa_count(), 0);
}

#[test]
fn secrets_stay_out_of_debug() {
    let (a, _) = pair(b"correct horse");
    let text = format!("{a:?} {:?}", a.config());
    assert!(
        !text.contains("correct horse") && text.contains("Psk(<redacted>)"),
        "{text}"
    );
}

/// Hands `sent` to `to` at `now`, as the network would.
pub(super) fn deliver(sent: Vec<Datagram>, to: &mut Ike, now: Duration) -> Output {
    let mut out = Output::default();
    for d in sent {
        let rx = Datagram {
            local: d.remote,
            remote: d.local,
            bytes: d.bytes,
        };
        to.handle(now, &rx, &mut out);
    }
    out
}

/// One poll of `ike` at `now`.
pub(super) fn poll(ike: &mut Ike, now: Duration) -> Output {
    let mut out = Output::default();
    ike.poll(now, &mut out);
    out
}

mod cbc;
mod cookie;
mod liveness;
mod rekey;
