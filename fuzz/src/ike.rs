//! Target `ike`: hostile datagrams to an IKEv2 responder (erdp's
//! `ike::Ike`), on UDP 500 and 4500, raw or as mutations of a genuine
//! IKE_SA_INIT and IKE_AUTH from erdp's own initiator.
//!
//! Oracles, after every datagram:
//! - no panic;
//! - the responder keeps at most `MAX_HALF_OPEN` half-open SAs (plus the
//!   genuine one, once authenticated);
//! - nothing is authenticated and no CHILD_SA is installed unless the
//!   genuine IKE_AUTH, byte for byte, was delivered after its IKE_SA_INIT:
//!   a mutated SK payload never passes its integrity check.

use std::net::SocketAddr;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use erdp::ike::{Datagram, Event, Ike, IkeConfig, Output, Psk};

use super::hex_prefix;

/// Bounds that keep one input fast.
pub const MAX_DATAGRAMS: usize = 24;
pub const MAX_LEN: usize = 1500;
pub const MAX_HALF_OPEN: usize = 4;

/// Where a datagram's bytes come from.
#[derive(Debug, Clone, Arbitrary)]
pub enum Source {
    /// Raw bytes.
    Raw(Vec<u8>),
    /// The genuine IKE_SA_INIT request, with byte flips.
    Init(Vec<(u16, u8)>),
    /// The genuine IKE_AUTH request, with byte flips (none: the genuine one).
    Auth(Vec<(u16, u8)>),
}

/// One delivery.
#[derive(Debug, Clone, Arbitrary)]
pub struct Delivery {
    pub source: Source,
    /// Arrive on UDP 4500 (with the non-ESP marker rules) instead of 500.
    pub nat_t: bool,
    /// Advance the clock by this many seconds first.
    pub advance: u8,
}

const INITIATOR: &str = "192.0.2.1:500";
const RESPONDER: &str = "192.0.2.2:500";

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| unreachable!("constant address"))
}

fn flipped(genuine: &[u8], flips: &[(u16, u8)]) -> Vec<u8> {
    let mut bytes = genuine.to_vec();
    for (at, mask) in flips.iter().take(8) {
        if let Some(b) = bytes.get_mut(usize::from(*at) % genuine.len().max(1)) {
            *b ^= mask;
        }
    }
    bytes
}

/// Checks the oracles over `deliveries`.
pub fn check(deliveries: &[Delivery]) {
    let mut initiator_config = IkeConfig::new(addr(INITIATOR), addr(RESPONDER), Psk::new(b"psk"));
    initiator_config.retransmit_tries = 0;
    let mut responder_config = IkeConfig::new(addr(RESPONDER), addr(INITIATOR), Psk::new(b"psk"));
    responder_config.max_half_open = MAX_HALF_OPEN;
    let mut initiator = Ike::new(initiator_config);
    let mut responder = Ike::new(responder_config);

    // The genuine exchange, computed as far as the initiator can go alone:
    // its IKE_SA_INIT, the responder's answer on a scratch copy would need
    // the responder's randomness, so IKE_AUTH is produced lazily below.
    let mut out = Output::default();
    initiator.initiate(Duration::ZERO, &mut out);
    let Some(init) = out.datagrams.first().map(|d| d.bytes.clone()) else {
        panic!("the initiator sent no IKE_SA_INIT");
    };
    let mut auth: Option<Vec<u8>> = None;
    let mut genuine_init_delivered = false;
    let mut genuine_auth_delivered = false;
    let mut now = Duration::ZERO;

    for d in deliveries.iter().take(MAX_DATAGRAMS) {
        now += Duration::from_secs(u64::from(d.advance));
        let mut bytes = match &d.source {
            Source::Raw(b) => b.iter().copied().take(MAX_LEN).collect(),
            Source::Init(flips) => flipped(&init, flips),
            Source::Auth(flips) => match &auth {
                Some(a) => flipped(a, flips),
                None => continue,
            },
        };
        let genuine_init = matches!(&d.source, Source::Init(_)) && bytes == init;
        let genuine_auth = matches!(&d.source, Source::Auth(_)) && Some(&bytes) == auth.as_ref();
        let mut local = addr(RESPONDER);
        if d.nat_t {
            local.set_port(4500);
            if !matches!(d.source, Source::Raw(_)) && !bytes.starts_with(&[0, 0, 0, 0]) {
                bytes.splice(0..0, [0u8; 4]);
            }
        }
        let mut remote = addr(INITIATOR);
        remote.set_port(local.port());
        let datagram = Datagram {
            local,
            remote,
            bytes,
        };
        let mut out = Output::default();
        responder.handle(now, &datagram, &mut out);
        responder.poll(now, &mut out);
        for event in &out.events {
            match event {
                Event::IkeSaEstablished { .. } | Event::ChildSaInstalled(_) => assert!(
                    genuine_auth && genuine_init_delivered,
                    "authenticated without the genuine IKE_AUTH: input {}",
                    hex_prefix(&datagram.bytes, 64)
                ),
                Event::IkeSaDeleted { .. }
                | Event::ChildSaRekeyed { .. }
                | Event::ChildSaDeleted { .. } => assert!(
                    genuine_auth_delivered,
                    "an SA was rekeyed or deleted before one was authenticated"
                ),
                Event::Failed { .. } => {}
            }
        }
        genuine_auth_delivered |= genuine_auth && genuine_init_delivered;
        assert!(
            responder.sa_count() <= MAX_HALF_OPEN + responder.established_count(),
            "{} SAs kept, the bound is {MAX_HALF_OPEN} half-open",
            responder.sa_count()
        );
        assert!(responder.established_count() <= usize::from(genuine_auth_delivered));
        if genuine_init && !genuine_init_delivered && auth.is_none() {
            // The first genuine IKE_SA_INIT: let the initiator answer it.
            genuine_init_delivered = true;
            if let Some(response) = out.datagrams.first() {
                let mut from_responder = Output::default();
                let rx = Datagram {
                    local: response.remote,
                    remote: response.local,
                    bytes: response.bytes.clone(),
                };
                initiator.handle(now, &rx, &mut from_responder);
                auth = from_responder.datagrams.first().map(|d| d.bytes.clone());
            }
        }
    }
}

/// The fuzz entry: arbitrary deliveries.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(deliveries) = Vec::<Delivery>::arbitrary(&mut u) else {
        return;
    };
    check(&deliveries);
}
