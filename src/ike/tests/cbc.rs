//! AES-CBC with HMAC-SHA2 integrity between two cores: the SK payload (RFC
//! 7296 section 3.14, a separate integrity transform) and CHILD_SAs on the
//! ESP AES-CBC + HMAC-SHA2-256-128 suite. Azure's VPN gateway accepts
//! AES256/SHA256 for both phases (Microsoft Learn, "About cryptographic
//! requirements and Azure VPN gateways").

use std::time::Duration;

use super::{child, exchange, failure, ipv4_packet, pair};
use crate::esp::{Algorithm, InboundSa, OutboundSa};
use crate::ike::{Datagram, DhGroup, EspSuite, Ike, IkeEncr, IkeInteg, IkeSuite, Output, Prf};
use crate::packet::PacketBuf;
use crate::wire::ike::{IKE_HEADER_LEN, payload};

fn cbc_pair(encr: IkeEncr, integ: IkeInteg, prf: Prf, esp: Algorithm) -> (Ike, Ike) {
    let (a, b) = pair(b"correct horse");
    let suite = IkeSuite {
        encr,
        integ: Some(integ),
        prf,
        dh: DhGroup::Ecp256,
    };
    let with = |mut c: crate::ike::IkeConfig| {
        c.ike_suites = vec![suite];
        c.esp_suites = vec![EspSuite {
            algorithm: esp,
            esn: false,
            pfs: None,
        }];
        Ike::new(c)
    };
    (with(a.config().clone()), with(b.config().clone()))
}

#[test]
fn cbc_handshakes_install_cbc_child_sas_whose_keys_agree() {
    for (encr, integ, prf, esp) in [
        (
            IkeEncr::AesCbc256,
            IkeInteg::HmacSha256_128,
            Prf::HmacSha256,
            Algorithm::Aes256CbcHmacSha256,
        ),
        (
            IkeEncr::AesCbc128,
            IkeInteg::HmacSha384_192,
            Prf::HmacSha384,
            Algorithm::Aes128CbcHmacSha256,
        ),
    ] {
        let (mut a, mut b) = cbc_pair(encr, integ, prf, esp);
        let mut first = Output::default();
        a.initiate(Duration::ZERO, &mut first);
        let (ev_a, ev_b) = exchange(&mut a, &mut b, first);
        assert!(
            failure(&ev_a).is_none() && failure(&ev_b).is_none(),
            "{encr:?}: {ev_a:?} {ev_b:?}"
        );
        let (ca, cb) = (child(&ev_a).unwrap(), child(&ev_b).unwrap());
        assert_eq!((ca.suite.algorithm, cb.suite.algorithm), (esp, esp));
        // KEYMAT: encryption key then integrity key per direction.
        assert_eq!(ca.outbound.key.len(), esp.keymat_len());
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
            inb.decapsulate(&mut buf).unwrap();
            assert_eq!(buf.as_slice(), &inner[..]);
        }
        assert_eq!(a.stats().total_dropped() + b.stats().total_dropped(), 0);
    }
}

#[test]
fn cbc_sk_payload_is_padded_to_blocks_and_every_flipped_bit_is_refused() {
    let (mut a, mut b) = cbc_pair(
        IkeEncr::AesCbc256,
        IkeInteg::HmacSha256_128,
        Prf::HmacSha256,
        Algorithm::Aes256CbcHmacSha256,
    );
    let rx = |d: &Datagram| Datagram {
        local: d.remote,
        remote: d.local,
        bytes: d.bytes.clone(),
    };
    let mut out = Output::default();
    a.initiate(Duration::ZERO, &mut out);
    let mut out_b = Output::default();
    b.handle(Duration::ZERO, &rx(&out.datagrams[0]), &mut out_b);
    let mut out_a = Output::default();
    a.handle(Duration::ZERO, &rx(&out_b.datagrams[0]), &mut out_a);
    let auth = &out_a.datagrams[0];
    // IKE header, then the SK payload: header (4), IV (16), whole blocks,
    // ICV (16).
    assert_eq!(auth.bytes[16], payload::SK);
    let sk_len = auth.bytes.len() - IKE_HEADER_LEN;
    assert_eq!((sk_len - 4 - 16 - 16) % 16, 0, "{sk_len}");
    for i in 0..auth.bytes.len() {
        let mut bad = rx(auth);
        bad.bytes[i] ^= 0x08;
        let mut o = Output::default();
        b.handle(Duration::ZERO, &bad, &mut o);
        assert!(o.events.is_empty(), "flip at {i}: {:?}", o.events);
        assert!(o.datagrams.is_empty(), "flip at {i}");
    }
    assert_eq!(b.established_count(), 0);
    let mut o = Output::default();
    b.handle(Duration::ZERO, &rx(auth), &mut o);
    assert!(child(&o.events).is_some());
}

#[test]
fn cbc_suite_names_its_integrity_in_the_proposal() {
    let suite = IkeSuite {
        encr: IkeEncr::AesCbc256,
        integ: Some(IkeInteg::HmacSha256_128),
        prf: Prf::HmacSha256,
        dh: DhGroup::Ecp256,
    };
    assert!(suite.is_consistent());
    assert_eq!(
        crate::ike::ProposalName(&suite.to_proposal(1)).to_string(),
        "ike:aes256-sha256-prfsha256-ecp256"
    );
    let esp = EspSuite {
        algorithm: Algorithm::Aes128CbcHmacSha256,
        esn: false,
        pfs: None,
    };
    assert_eq!(
        crate::ike::ProposalName(&esp.to_proposal(1, 0x1234)).to_string(),
        "esp:aes128-sha256-noesn"
    );
    // A GCM suite with an integrity transform is not a usable suite.
    let bad = IkeSuite {
        encr: IkeEncr::AesGcm256,
        ..suite
    };
    assert!(!bad.is_consistent());
}
