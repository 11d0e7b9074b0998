//! The IKEv2 exchanges (RFC 7296 sections 1.2-1.4, 2.23): IKE_SA_INIT and
//! IKE_AUTH as initiator and responder, INFORMATIONAL answers, message IDs
//! and retransmission. Nothing changes state before a message's SK payload
//! has verified, except a bounded number of half-open SAs after IKE_SA_INIT.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use rand::SeedableRng;
use rand::rand_core::Rng;
use rand::rngs::ChaCha8Rng;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::cookie::CookieJar;
use super::crypto::{
    CBC_IV_LEN, DhPrivate, IkeEncr, IkeInteg, SK_ICV_LEN, SK_IV_LEN, nat_detection_hash,
};
use super::keys::{IkeKeys, KeyInputs, auth_matches, derive_child_keys, derive_ike_keys, psk_auth};
pub(super) use super::parsed::Parsed;
use super::proposal::{EspSuite, IkeSuite};
use super::rekey::Child;
use super::ts::from_prefix;
use super::{Datagram, Event, Failure, IkeConfig, IkeDrop, IkeStats, NAT_T_PORT, Output, Secret};
use crate::wire::ike::Notify;
use crate::wire::ike::{
    IKE_HEADER_LEN, IKE_VERSION, IkeHeader, IkeWireError, NON_ESP_MARKER, PAYLOAD_HEADER_LEN,
    PayloadChain, Proposal, TrafficSelector, TypedData, auth_method, exchange, flags, notify,
    payload, split_payloads,
};

/// Length of the nonces erdp sends (RFC 7296 section 2.10: at least half
/// the PRF's key size, at least 128 bits).
pub(super) const NONCE_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Initiator: IKE_SA_INIT sent.
    InitSent,
    /// Initiator: IKE_AUTH sent.
    AuthSent,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    HalfOpen,
    /// Authenticated.
    Established,
}

/// A request waiting for its response.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) message_id: u32,
    pub(super) bytes: Vec<u8>,
    pub(super) next_send: Duration,
    pub(super) sent: u32,
    /// What the request is for.
    pub(super) request: Request,
}

/// What an outstanding request is for, so its response goes to the right
/// handler.
#[derive(Debug)]
pub(super) enum Request {
    /// IKE_SA_INIT or IKE_AUTH.
    Negotiation,
    /// A Dead Peer Detection liveness check (an empty INFORMATIONAL).
    Liveness,
    /// CREATE_CHILD_SA rekeying the CHILD_SA we receive on `old_spi_in`,
    /// with our new inbound SPI and nonce.
    /// With PFS, `dh` is our half of the rekey's key exchange.
    Rekey {
        old_spi_in: u32,
        spi_in: u32,
        ni: Vec<u8>,
        dh: Option<DhPrivate>,
    },
    /// INFORMATIONAL deleting the CHILD_SA we receive on `spi_in`.
    Delete { spi_in: u32 },
}

/// One IKE SA.
pub(super) struct IkeSa {
    pub(super) initiator: bool,
    pub(super) state: State,
    pub(super) spi_i: u64,
    pub(super) spi_r: u64,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    /// IKE moved to UDP 4500 (a NAT was detected).
    pub(super) nat: bool,
    pub(super) suite: Option<IkeSuite>,
    pub(super) dh: Option<DhPrivate>,
    pub(super) ni: Vec<u8>,
    pub(super) nr: Vec<u8>,
    pub(super) keys: Option<IkeKeys>,
    pub(super) init_request: Vec<u8>,
    pub(super) init_response: Vec<u8>,
    /// Our inbound ESP SPI offered in IKE_AUTH (initiator).
    pub(super) child_spi: u32,
    pub(super) created: Duration,
    /// When the peer was last heard from (a verified message or ESP).
    pub(super) last_heard: Duration,
    pub(super) next_request_id: u32,
    pub(super) expected_request_id: u32,
    pub(super) last_response: Option<(u32, Vec<u8>)>,
    pub(super) pending: Option<Pending>,
    pub(super) iv_counter: u64,
    /// COOKIE notifies answered (initiator; bounded).
    pub(super) cookie_retries: u8,
    /// The CHILD_SAs of this IKE SA (at most `rekey::MAX_CHILDREN`).
    pub(super) children: Vec<Child>,
}

impl IkeSa {
    /// A fresh SA: `spis` (initiator's, responder's), `addresses` (ours,
    /// the peer's).
    pub(super) fn new(
        initiator: bool,
        (spi_i, spi_r): (u64, u64),
        (local, remote): (SocketAddr, SocketAddr),
        now: Duration,
    ) -> Self {
        IkeSa {
            initiator,
            state: if initiator {
                State::InitSent
            } else {
                State::HalfOpen
            },
            spi_i,
            spi_r,
            local,
            remote,
            nat: false,
            suite: None,
            dh: None,
            ni: Vec::new(),
            nr: Vec::new(),
            keys: None,
            init_request: Vec::new(),
            init_response: Vec::new(),
            child_spi: 0,
            created: now,
            last_heard: now,
            next_request_id: 0,
            expected_request_id: 0,
            last_response: None,
            pending: None,
            iv_counter: 0,
            cookie_retries: 0,
            children: Vec::new(),
        }
    }
}

impl IkeSa {
    /// Marks the SA authenticated and reports it.
    pub(super) fn establish(&mut self, suite: IkeSuite, out: &mut Output) {
        self.state = State::Established;
        out.events.push(Event::IkeSaEstablished {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            suite,
            nat: self.nat,
        });
    }
}

/// An IKEv2 endpoint for one tunnel configuration: any number of IKE SAs
/// as responder, and the ones it initiates.
pub struct Ike {
    pub(super) config: IkeConfig,
    pub(super) rng: SystemRandom,
    /// Where SPIs come from when not from `rng`: a seeded stream, so an
    /// emulated run is the same from seed to seed ([`Ike::draw_spis_from`]).
    /// Keys, nonces and IVs always come from `rng`.
    spis: RefCell<Option<ChaCha8Rng>>,
    /// IKE SAs by our own SPI.
    pub(super) sas: HashMap<u64, IkeSa>,
    /// Half-open responder SAs by (peer SPI, peer address), to answer a
    /// retransmitted IKE_SA_INIT with the same response.
    pub(super) half_open: HashMap<(u64, SocketAddr), u64>,
    /// The responder's cookie secrets.
    pub(super) cookies: CookieJar,
    pub(super) stats: IkeStats,
}

impl std::fmt::Debug for Ike {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ike")
            .field("local", &self.config.local)
            .field("remote", &self.config.remote)
            .field("sas", &self.sas.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

pub(super) fn notify_chain(kind: u16, data: &[u8]) -> PayloadChain {
    let mut chain = PayloadChain::new();
    // A notify without SPI always encodes.
    let _ = Notify::new(kind, data)
        .to_bytes()
        .and_then(|b| chain.push(payload::NOTIFY, &b));
    chain
}

pub(super) fn ts_names(ts: &[TrafficSelector]) -> String {
    let names: Vec<String> = ts
        .iter()
        .map(|t| format!("{}-{}", t.start, t.end))
        .collect();
    format!("[{}]", names.join(", "))
}

impl Ike {
    /// An endpoint for `config`.
    pub fn new(config: IkeConfig) -> Self {
        Ike {
            config,
            rng: SystemRandom::new(),
            spis: RefCell::new(None),
            sas: HashMap::new(),
            half_open: HashMap::new(),
            cookies: CookieJar::default(),
            stats: IkeStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IkeConfig {
        &self.config
    }

    /// Drop counters.
    pub fn stats(&self) -> &IkeStats {
        &self.stats
    }

    /// Number of IKE SAs, half-open ones included.
    pub fn sa_count(&self) -> usize {
        self.sas.len()
    }

    /// Number of authenticated IKE SAs.
    pub fn established_count(&self) -> usize {
        self.sas
            .values()
            .filter(|sa| sa.state == State::Established)
            .count()
    }

    pub(super) fn random<const N: usize>(&self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.rng.fill(&mut b).ok()?;
        Some(b)
    }

    /// Draws SPIs (IKE and ESP) from a stream seeded with `seed` rather
    /// than the system's generator: the emulator does, so that the SPIs a
    /// report names repeat from run to run. SPIs are public (RFC 4303
    /// section 2.1: only unique); every secret still comes from the
    /// system's generator.
    pub fn draw_spis_from(&mut self, seed: u64) {
        *self.spis.get_mut() = Some(ChaCha8Rng::seed_from_u64(seed));
    }

    /// `N` bytes for an SPI.
    fn spi_bytes<const N: usize>(&self) -> Option<[u8; N]> {
        match self.spis.borrow_mut().as_mut() {
            Some(stream) => {
                let mut b = [0u8; N];
                stream.fill_bytes(&mut b);
                Some(b)
            }
            None => self.random(),
        }
    }

    pub(super) fn new_spi(&self) -> Option<u64> {
        loop {
            let spi = u64::from_be_bytes(self.spi_bytes()?);
            if spi != 0 && !self.sas.contains_key(&spi) {
                return Some(spi);
            }
        }
    }

    /// Runs `f` on every established SA with no request outstanding for
    /// which `due` holds (each taken out of the table meanwhile, so `f`
    /// may use `self`).
    pub(super) fn each_idle_sa(
        &mut self,
        due: impl Fn(&IkeSa) -> bool,
        mut f: impl FnMut(&mut Self, &mut IkeSa),
    ) {
        let spis: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.state == State::Established && sa.pending.is_none() && due(sa))
            .map(|(spi, _)| *spi)
            .collect();
        for spi in spis {
            if let Some(mut sa) = self.sas.remove(&spi) {
                f(self, &mut sa);
                self.sas.insert(spi, sa);
            }
        }
    }

    pub(super) fn count_drop(&mut self, reason: IkeDrop) {
        self.stats.drops[reason as usize] += 1;
    }

    pub(super) fn our_ts(&self) -> (Vec<TrafficSelector>, Vec<TrafficSelector>) {
        (
            self.config
                .local_ts
                .iter()
                .map(|n| from_prefix(*n))
                .collect(),
            self.config
                .remote_ts
                .iter()
                .map(|n| from_prefix(*n))
                .collect(),
        )
    }

    /// Our IKE proposals, numbered from 1.
    pub(super) fn ike_proposals(&self) -> Vec<Proposal> {
        (1u8..)
            .zip(&self.config.ike_suites)
            .map(|(n, s)| s.to_proposal(n))
            .collect()
    }

    /// The PSK MIC (RFC 7296 section 2.15) that the initiator (when
    /// `by_initiator`) or the responder signs: its IKE_SA_INIT message, the
    /// other side's nonce and prf(SK_p, `id_body`).
    fn auth_mac(&self, sa: &IkeSa, id_body: &[u8], by_initiator: bool) -> Option<Secret> {
        let (suite, keys) = (sa.suite?, sa.keys.as_ref()?);
        let (message, nonce, sk_p) = if by_initiator {
            (&sa.init_request, &sa.nr, &keys.sk_pi)
        } else {
            (&sa.init_response, &sa.ni, &keys.sk_pr)
        };
        let psk = self.config.psk.expose();
        Some(psk_auth(suite.prf, psk, message, nonce, sk_p, id_body))
    }

    /// True when `auth` is the PSK MIC the peer must send for `id_body`.
    pub(super) fn peer_auth_ok(&self, sa: &IkeSa, id_body: &[u8], auth: &TypedData) -> bool {
        auth.kind == auth_method::SHARED_KEY_MIC
            && self
                .auth_mac(sa, id_body, !sa.initiator)
                .is_some_and(|expected| auth_matches(&expected, &auth.data))
    }

    /// Our AUTH payload body for our ID payload body `id_body`.
    pub(super) fn our_auth(&self, sa: &IkeSa, id_body: &[u8]) -> Option<Vec<u8>> {
        let mac = self.auth_mac(sa, id_body, sa.initiator)?;
        Some(
            TypedData {
                kind: auth_method::SHARED_KEY_MIC,
                data: mac.to_vec(),
            }
            .to_bytes(),
        )
    }

    /// Sends request `message_id` of `sa` and keeps it for retransmission.
    pub(super) fn send_request(
        &self,
        sa: &mut IkeSa,
        message_id: u32,
        bytes: Vec<u8>,
        now: Duration,
        out: &mut Output,
    ) {
        sa.next_request_id = message_id.wrapping_add(1);
        sa.pending = Some(Pending {
            message_id,
            bytes: bytes.clone(),
            next_send: now + self.config.retransmit_after,
            sent: 1,
            request: Request::Negotiation,
        });
        out.datagrams.push(Datagram {
            local: sa.local,
            remote: sa.remote,
            bytes,
        });
    }

    /// TS_UNACCEPTABLE with our selectors and `theirs`.
    pub(super) fn ts_unacceptable(&self, theirs: String) -> Failure {
        let (local, remote) = self.our_ts();
        Failure::TsUnacceptable {
            ours: format!("{} <-> {}", ts_names(&local), ts_names(&remote)),
            theirs,
        }
    }

    /// Handles one received datagram.
    pub fn handle(&mut self, now: Duration, datagram: &Datagram, out: &mut Output) {
        let message = if datagram.local.port() == NAT_T_PORT {
            match datagram.bytes.strip_prefix(&NON_ESP_MARKER[..]) {
                Some(m) => m,
                None => return self.count_drop(IkeDrop::NotIke),
            }
        } else {
            &datagram.bytes[..]
        };
        let Ok(h) = IkeHeader::parse(message) else {
            return self.count_drop(IkeDrop::Malformed);
        };
        if !h.is_response()
            && h.exchange == exchange::IKE_SA_INIT
            && h.spi_r == 0
            && h.message_id == 0
            && h.from_initiator()
        {
            return self.responder_init(now, datagram, message, &h, out);
        }
        let ours = if h.from_initiator() { h.spi_r } else { h.spi_i };
        let Some(mut sa) = self.sas.remove(&ours) else {
            return self.count_drop(IkeDrop::UnknownSpi);
        };
        // The SA is put back unless the handler consumed it.
        let keep = if sa.initiator == h.from_initiator() {
            // Our own role's flag on a message we receive: a reflection.
            self.count_drop(IkeDrop::UnexpectedMessage);
            true
        } else if h.is_response() {
            self.on_response(now, &mut sa, datagram, message, &h, out)
        } else {
            self.on_request(now, &mut sa, datagram, message, &h, out)
        };
        if !keep || sa.state != State::HalfOpen {
            self.half_open.retain(|_, spi| *spi != ours);
        }
        if keep {
            self.sas.insert(ours, sa);
        }
    }

    /// Retransmits requests, expires half-open SAs, sends liveness checks
    /// and declares silent peers dead.
    pub fn poll(&mut self, now: Duration, out: &mut Output) {
        self.start_rekeys(now, out);
        self.start_liveness_checks(now, out);
        let mut dead = Vec::new();
        for (spi, sa) in &mut self.sas {
            if sa.state == State::HalfOpen && now >= sa.created + self.config.half_open_timeout {
                dead.push((*spi, None));
                continue;
            }
            let Some(p) = sa.pending.as_mut() else {
                continue;
            };
            let silent_for = now.saturating_sub(sa.last_heard);
            if matches!(p.request, Request::Liveness)
                && (silent_for >= self.config.dpd_timeout
                    || (now >= p.next_send && p.sent > self.config.retransmit_tries))
            {
                dead.push((*spi, Some((sa.spi_i, Failure::PeerDead { silent_for }))));
                continue;
            }
            if now < p.next_send {
                continue;
            }
            if p.sent > self.config.retransmit_tries {
                dead.push((*spi, Some((sa.spi_i, Failure::Timeout))));
                continue;
            }
            let backoff = self.config.retransmit_after * 2u32.saturating_pow(p.sent);
            p.sent += 1;
            p.next_send = now + backoff;
            out.datagrams.push(Datagram {
                local: sa.local,
                remote: sa.remote,
                bytes: p.bytes.clone(),
            });
        }
        for (spi, timed_out) in dead {
            self.sas.remove(&spi);
            self.half_open.retain(|_, s| *s != spi);
            if let Some((spi_i, failure)) = timed_out {
                out.events.push(Event::Failed { spi_i, failure });
            }
        }
    }

    /// Returns false when the SA is to be removed.
    fn on_request(
        &mut self,
        now: Duration,
        sa: &mut IkeSa,
        d: &Datagram,
        message: &[u8],
        h: &IkeHeader,
        out: &mut Output,
    ) -> bool {
        if let Some((id, bytes)) = &sa.last_response
            && *id == h.message_id
        {
            out.datagrams.push(Datagram {
                local: d.local,
                remote: d.remote,
                bytes: bytes.clone(),
            });
            return true;
        }
        if h.message_id != sa.expected_request_id {
            self.count_drop(IkeDrop::UnexpectedMessage);
            return true;
        }
        let p = match self.open(sa, message, h) {
            Ok(p) => p,
            Err(reason) => {
                self.count_drop(reason);
                return true;
            }
        };
        // Verified: the peer is alive and may have moved (NAT-T to 4500, a
        // NAT rebinding).
        sa.last_heard = now;
        sa.local = d.local;
        sa.remote = d.remote;
        if d.local.port() == NAT_T_PORT {
            sa.nat = true;
        }
        let (chain, keep) = match (sa.state, h.exchange) {
            (State::HalfOpen, exchange::IKE_AUTH) => self.responder_auth(sa, &p, out),
            (State::Established, exchange::INFORMATIONAL) if p.delete_ike => {
                out.events.push(Event::IkeSaDeleted { spi_i: sa.spi_i });
                (PayloadChain::new(), false)
            }
            (State::Established, exchange::INFORMATIONAL) => {
                (self.responder_delete(sa, &p.delete_esp, out), true)
            }
            (State::Established, exchange::CREATE_CHILD_SA) => {
                (self.responder_create_child(now, sa, &p, out), true)
            }
            _ => {
                self.count_drop(IkeDrop::UnexpectedMessage);
                return true;
            }
        };
        sa.expected_request_id = h.message_id.wrapping_add(1);
        match self.seal(sa, h.exchange, h.message_id, true, chain) {
            Some(bytes) => {
                out.datagrams.push(Datagram {
                    local: sa.local,
                    remote: sa.remote,
                    bytes: bytes.clone(),
                });
                sa.last_response = Some((h.message_id, bytes));
            }
            None => self.count_drop(IkeDrop::Internal),
        }
        keep
    }

    /// The (inbound, outbound) ESP keys of the CHILD_SA made in IKE_AUTH.
    pub(super) fn child_keys(
        &self,
        sa: &IkeSa,
        suite: EspSuite,
        initiator: bool,
    ) -> Option<(super::Secret, super::Secret)> {
        let ike = sa.suite?;
        let keys = sa.keys.as_ref()?;
        let (i_to_r, r_to_i) = derive_child_keys(
            ike.prf,
            &keys.sk_d,
            None,
            &sa.ni,
            &sa.nr,
            suite.keymat_len(),
        )?;
        Some(if initiator {
            (r_to_i, i_to_r)
        } else {
            (i_to_r, r_to_i)
        })
    }

    pub(super) fn new_esp_spi(&self) -> Option<u32> {
        loop {
            let spi = u32::from_be_bytes(self.spi_bytes()?);
            if spi >= 256 {
                return Some(spi);
            }
        }
    }

    pub(super) fn esp_proposals(&self, spi: u32) -> Vec<Proposal> {
        self.esp_proposals_by(spi, EspSuite::to_proposal)
    }

    /// Our ESP proposals for a CREATE_CHILD_SA (with the PFS groups).
    pub(super) fn esp_rekey_proposals(&self, spi: u32) -> Vec<Proposal> {
        self.esp_proposals_by(spi, EspSuite::to_rekey_proposal)
    }

    fn esp_proposals_by(&self, spi: u32, to: fn(EspSuite, u8, u32) -> Proposal) -> Vec<Proposal> {
        (1u8..)
            .zip(&self.config.esp_suites)
            .map(|(n, s)| to(*s, n, spi))
            .collect()
    }

    /// Returns false when the SA is to be removed.
    fn on_response(
        &mut self,
        now: Duration,
        sa: &mut IkeSa,
        d: &Datagram,
        message: &[u8],
        h: &IkeHeader,
        out: &mut Output,
    ) -> bool {
        if sa.pending.as_ref().map(|p| p.message_id) != Some(h.message_id) {
            self.count_drop(IkeDrop::UnexpectedMessage);
            return true;
        }
        if sa.state == State::InitSent {
            return self.initiator_init_response(now, sa, d, message, h, out);
        }
        let p = match self.open(sa, message, h) {
            Ok(p) => p,
            Err(reason) => {
                self.count_drop(reason);
                return true;
            }
        };
        let request = sa.pending.take().map(|p| p.request);
        sa.last_heard = now;
        match (sa.state, request) {
            (State::AuthSent, _) => self.initiator_auth_response(sa, &p, out),
            (
                State::Established,
                Some(Request::Rekey {
                    old_spi_in,
                    spi_in,
                    ni,
                    dh,
                }),
            ) => {
                self.rekey_response(now, sa, &p, (old_spi_in, spi_in, &ni, dh), out);
                true
            }
            (State::Established, Some(Request::Delete { spi_in })) => {
                self.delete_response(sa, spi_in, out);
                true
            }
            _ => true,
        }
    }

    /// Verifies and decrypts the SK payload of `message`.
    pub(super) fn open(
        &self,
        sa: &IkeSa,
        message: &[u8],
        h: &IkeHeader,
    ) -> Result<Parsed, IkeDrop> {
        let (Some(suite), Some(keys)) = (sa.suite, sa.keys.as_ref()) else {
            return Err(IkeDrop::UnexpectedMessage);
        };
        let raw = split_payloads(message, IKE_HEADER_LEN, h.next_payload)
            .map_err(|_| IkeDrop::Malformed)?;
        let Some(sk) = raw.iter().find(|p| p.kind == payload::SK) else {
            return Err(IkeDrop::Malformed);
        };
        let key = if sa.initiator {
            &keys.sk_er
        } else {
            &keys.sk_ei
        };
        let aad_end = sk.offset + PAYLOAD_HEADER_LEN;
        let plain = match suite.integ {
            None => suite
                .encr
                .open(key, &message[..aad_end], sk.body)
                .map_err(|_| IkeDrop::IntegrityFailed)?,
            Some(integ) => {
                let integ_key = if sa.initiator {
                    &keys.sk_ar
                } else {
                    &keys.sk_ai
                };
                open_cbc(
                    suite.encr,
                    integ,
                    (key, integ_key),
                    message,
                    aad_end,
                    sk.body,
                )?
            }
        };
        let pad = usize::from(*plain.last().ok_or(IkeDrop::Malformed)?);
        let inner_len = plain.len().checked_sub(pad + 1).ok_or(IkeDrop::Malformed)?;
        let inner = &plain[..inner_len];
        let first = message[sk.offset];
        split_payloads(inner, 0, first)
            .and_then(|raw| Parsed::from(&raw))
            .map_err(|_| IkeDrop::Malformed)
    }

    /// Builds an encrypted message around `chain`, with the non-ESP marker
    /// when the SA is on UDP 4500.
    pub(super) fn seal(
        &self,
        sa: &mut IkeSa,
        exchange_type: u8,
        message_id: u32,
        response: bool,
        chain: PayloadChain,
    ) -> Option<Vec<u8>> {
        let suite = sa.suite?;
        let keys = sa.keys.as_ref()?;
        let mut plain = Zeroizing::new(chain.bytes().to_vec());
        // Padding to the cipher's block (AES-GCM: none), then its length
        // (RFC 7296 section 3.14).
        let (iv_len, icv_len) = match suite.integ {
            None => (SK_IV_LEN, SK_ICV_LEN),
            Some(integ) => (CBC_IV_LEN, integ.icv_len()),
        };
        let block = if suite.integ.is_some() { CBC_IV_LEN } else { 1 };
        let pad = (block - (plain.len() + 1) % block) % block;
        let padded_len = plain.len() + pad;
        plain.resize(padded_len, 0);
        plain.push(pad as u8);
        let sk_len = PAYLOAD_HEADER_LEN + iv_len + plain.len() + icv_len;
        let total = IKE_HEADER_LEN + sk_len;
        let mut hdr = header(
            sa.spi_i,
            sa.spi_r,
            exchange_type,
            (if sa.initiator { flags::INITIATOR } else { 0 })
                | (if response { flags::RESPONSE } else { 0 }),
            message_id,
        );
        hdr.next_payload = payload::SK;
        hdr.length = u32::try_from(total).ok()?;
        let mut fixed = [0u8; IKE_HEADER_LEN];
        hdr.write(&mut fixed);
        let mut message = Vec::with_capacity(total + NON_ESP_MARKER.len());
        if sa.local.port() == NAT_T_PORT {
            message.extend_from_slice(&NON_ESP_MARKER);
        }
        let aad_start = message.len();
        message.extend_from_slice(&fixed);
        message.push(chain.first());
        message.push(0);
        message.extend_from_slice(&u16::try_from(sk_len).ok()?.to_be_bytes());
        let key = if sa.initiator {
            &keys.sk_ei
        } else {
            &keys.sk_er
        };
        if let Some(integ) = suite.integ {
            let integ_key = if sa.initiator {
                &keys.sk_ai
            } else {
                &keys.sk_ar
            };
            // RFC 7296 section 3.14: a random IV per message.
            let mut iv = [0u8; CBC_IV_LEN];
            self.rng.fill(&mut iv).ok()?;
            suite.encr.cbc_encrypt(key, &iv, &mut plain)?;
            message.extend_from_slice(&iv);
            message.extend_from_slice(&plain);
            let icv = integ.icv(integ_key, &message[aad_start..]);
            message.extend_from_slice(&icv);
            return Some(message);
        }
        sa.iv_counter += 1;
        let body = suite.encr.seal(
            key,
            sa.iv_counter.to_be_bytes(),
            &message[aad_start..],
            &plain,
        )?;
        message.extend_from_slice(&body);
        Some(message)
    }
}

pub(super) fn header(
    spi_i: u64,
    spi_r: u64,
    exchange: u8,
    flags: u8,
    message_id: u32,
) -> IkeHeader {
    IkeHeader {
        spi_i,
        spi_r,
        next_payload: payload::NONE,
        version: IKE_VERSION,
        exchange,
        flags,
        message_id,
        length: 0,
    }
}

/// True when the NAT_DETECTION hashes show a NAT (or a peer that fakes one,
/// as strongSwan with kernel-libipsec does) between `local` and `remote`.
pub(super) fn nat_detected(
    p: &Parsed,
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> bool {
    let src: Vec<&Notify> = p
        .notifies
        .iter()
        .filter(|n| n.kind == notify::NAT_DETECTION_SOURCE_IP)
        .collect();
    let dst = p.notify(notify::NAT_DETECTION_DESTINATION_IP);
    let (Some(dst), false) = (dst, src.is_empty()) else {
        return false;
    };
    let remote_hash = nat_detection_hash(spi_i, spi_r, remote);
    let local_hash = nat_detection_hash(spi_i, spi_r, local);
    !src.iter().any(|n| n.data == remote_hash) || dst.data != local_hash
}

/// `bytes` with the non-ESP marker in front when sent from UDP 4500.
pub(super) fn frame(local: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    if local.port() == NAT_T_PORT {
        [&NON_ESP_MARKER[..], &bytes].concat()
    } else {
        bytes
    }
}

/// Appends the two NAT_DETECTION notifies (RFC 7296 section 2.23).
pub(super) fn push_nat_detection(
    chain: &mut PayloadChain,
    (spi_i, spi_r): (u64, u64),
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<(), IkeWireError> {
    for (kind, addr) in [
        (notify::NAT_DETECTION_SOURCE_IP, local),
        (notify::NAT_DETECTION_DESTINATION_IP, remote),
    ] {
        let n = Notify::new(kind, &nat_detection_hash(spi_i, spi_r, addr));
        chain.push(payload::NOTIFY, &n.to_bytes()?)?;
    }
    Ok(())
}

/// The IKE SA's keys from the DH secret (AEAD suites: no SK_a).
pub(super) fn ike_keys(
    suite: IkeSuite,
    shared: &[u8],
    (ni, nr): (&[u8], &[u8]),
    (spi_i, spi_r): (u64, u64),
) -> Option<IkeKeys> {
    derive_ike_keys(&KeyInputs {
        prf: suite.prf,
        shared,
        ni,
        nr,
        spi_i,
        spi_r,
        integ_len: suite.integ.map_or(0, |i| i.key_len()),
        encr_len: suite.encr.key_material_len(),
    })
}

/// Verifies and decrypts an AES-CBC SK payload (RFC 7296 section 3.14):
/// the ICV covers the message from the IKE header to the end of the
/// ciphertext and is checked before anything is decrypted.
fn open_cbc(
    encr: IkeEncr,
    integ: IkeInteg,
    (key, integ_key): (&[u8], &[u8]),
    message: &[u8],
    body_start: usize,
    body: &[u8],
) -> Result<Secret, IkeDrop> {
    let icv_len = integ.icv_len();
    let ciphertext_len = body
        .len()
        .checked_sub(CBC_IV_LEN + icv_len)
        .ok_or(IkeDrop::IntegrityFailed)?;
    let signed_end = body_start + CBC_IV_LEN + ciphertext_len;
    let signed = message.get(..signed_end).ok_or(IkeDrop::Malformed)?;
    let icv = body
        .get(CBC_IV_LEN + ciphertext_len..)
        .ok_or(IkeDrop::Malformed)?;
    if !integ.verify(integ_key, signed, icv) {
        return Err(IkeDrop::IntegrityFailed);
    }
    let iv = body.get(..CBC_IV_LEN).ok_or(IkeDrop::Malformed)?;
    let mut plain: Secret = Zeroizing::new(
        body.get(CBC_IV_LEN..CBC_IV_LEN + ciphertext_len)
            .ok_or(IkeDrop::Malformed)?
            .to_vec(),
    );
    encr.cbc_decrypt(key, iv, &mut plain)
        .ok_or(IkeDrop::Malformed)?;
    Ok(plain)
}
