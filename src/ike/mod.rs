//! IKEv2 (RFC 7296) as a sans-I/O core: [`Ike`] takes UDP datagrams and a
//! clock and returns datagrams to send and [`Event`]s (IKE SAs up, CHILD_SAs
//! to install into `esp`, failures that say why). IKE_SA_INIT with ECP-256,
//! ECP-384 and Curve25519, NAT detection and the move to UDP 4500 (RFC 3948),
//! IKE_AUTH with pre-shared keys, SK payloads with AES-GCM (RFC 5282).
//!
//! The same code runs on real sockets (a driver owns UDP 500 and 4500) and
//! in virtual time: nothing here reads a clock or touches the network.

mod cookie;
mod crypto;
mod exchange;
mod initiator;
mod keys;
mod liveness;
mod modp;
mod notation;
mod parsed;
mod proposal;
mod rekey;
mod responder;
mod ts;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use zeroize::Zeroizing;

pub use crypto::{DhError, DhGroup, DhPrivate, IkeEncr, IkeInteg, IntegrityFailure, Prf, Secret};
pub use exchange::Ike;
pub use keys::{IkeKeys, KEY_PAD, KeyInputs, derive_child_keys, derive_ike_keys, psk_auth};
pub use notation::NotationError;
pub use proposal::{EspSuite, IkeSuite, ProposalName, proposal_names, select_esp, select_ike};
pub use ts::{covered_by, from_prefix, intersect, narrow, to_prefixes};

use crate::esp::{SaConfig, SecretKey};
use crate::reason::reason_enum;
use crate::wire::ike::{TrafficSelector, TypedData, id_type};

/// Azure's CHILD_SA lifetime in volume: 102,400,000 KB ("About VPN
/// devices and IPsec/IKE parameters").
pub const AZURE_CHILD_LIFETIME_KB: u64 = 102_400_000;

/// The UDP port of IKE (RFC 7296 section 2).
pub const IKE_PORT: u16 = 500;
/// The UDP port IKE and ESP move to when a NAT is seen (RFC 3948).
pub const NAT_T_PORT: u16 = crate::esp::NAT_T_PORT;

/// An IKE identity (RFC 7296 section 3.5): type and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// ID type ([`id_type`]).
    pub kind: u8,
    /// The identification data.
    pub data: Vec<u8>,
}

impl Identity {
    /// An ID_FQDN.
    pub fn fqdn(name: &str) -> Self {
        Identity {
            kind: id_type::FQDN,
            data: name.as_bytes().to_vec(),
        }
    }

    /// An ID_IPV4_ADDR or ID_IPV6_ADDR.
    pub fn address(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Identity {
                kind: id_type::IPV4_ADDR,
                data: a.octets().to_vec(),
            },
            IpAddr::V6(a) => Identity {
                kind: id_type::IPV6_ADDR,
                data: a.octets().to_vec(),
            },
        }
    }

    /// The ID payload body (what the AUTH MAC covers).
    pub fn body(&self) -> Vec<u8> {
        TypedData {
            kind: self.kind,
            data: self.data.clone(),
        }
        .to_bytes()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.data.len()) {
            (id_type::IPV4_ADDR, 4) => {
                let b: [u8; 4] = self.data[..].try_into().map_err(|_| fmt::Error)?;
                write!(f, "{}", Ipv4Addr::from(b))
            }
            (id_type::IPV6_ADDR, 16) => {
                let b: [u8; 16] = self.data[..].try_into().map_err(|_| fmt::Error)?;
                write!(f, "{}", Ipv6Addr::from(b))
            }
            (id_type::FQDN | id_type::RFC822_ADDR, _) => {
                write!(f, "{}", String::from_utf8_lossy(&self.data).escape_debug())
            }
            (kind, _) => write!(f, "id-type-{kind}:{}", hex::encode(&self.data)),
        }
    }
}

/// A pre-shared key: zeroized on drop, never printed.
#[derive(Clone)]
pub struct Psk(Zeroizing<Vec<u8>>);

impl Psk {
    /// Wraps the key bytes.
    pub fn new(bytes: &[u8]) -> Self {
        Psk(Zeroizing::new(bytes.to_vec()))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Psk(<redacted>)")
    }
}

/// One tunnel's IKE configuration.
#[derive(Debug, Clone)]
pub struct IkeConfig {
    /// Our address and IKE port (normally 500).
    pub local: SocketAddr,
    /// The peer's address and IKE port.
    pub remote: SocketAddr,
    /// Our identity.
    pub local_id: Identity,
    /// The identity the peer must authenticate as.
    pub remote_id: Identity,
    /// The pre-shared key.
    pub psk: Psk,
    /// IKE SA suites, in our order of preference.
    pub ike_suites: Vec<IkeSuite>,
    /// CHILD_SA suites, in our order of preference.
    pub esp_suites: Vec<EspSuite>,
    /// Our side's traffic (TSi when we initiate).
    pub local_ts: Vec<IpNet>,
    /// The peer's side's traffic.
    pub remote_ts: Vec<IpNet>,
    /// First retransmission timeout (doubles each time).
    pub retransmit_after: Duration,
    /// Retransmissions before giving up.
    pub retransmit_tries: u32,
    /// Most half-open (IKE_SA_INIT done, not authenticated) SAs kept.
    pub max_half_open: usize,
    /// Past this many half-open SAs, the responder answers IKE_SA_INIT with
    /// a COOKIE notify and keeps state only for requests that return it
    /// (RFC 7296 section 2.6).
    pub cookie_threshold: usize,
    /// How long a half-open SA waits for IKE_AUTH.
    pub half_open_timeout: Duration,
    /// Dead Peer Detection: after this long without hearing from the peer
    /// (no verified IKE message, no ESP reported by
    /// [`Ike::traffic_received`]), send a liveness check (an empty
    /// INFORMATIONAL request, RFC 7296 section 2.4). `None`: never check,
    /// only answer the peer's checks.
    pub dpd_delay: Option<Duration>,
    /// A peer silent this long while a liveness check is outstanding is
    /// dead: the IKE SA and its CHILD_SAs are gone
    /// ([`Failure::PeerDead`]). Azure's VPN gateway uses 45 s by default.
    pub dpd_timeout: Duration,
    /// A CHILD_SA's lifetime: it is rekeyed `child_rekey_margin` before it
    /// ends. Azure's VPN gateway uses 27,000 s.
    pub child_lifetime: Duration,
    /// How long before the end of its lifetime a CHILD_SA is rekeyed.
    pub child_rekey_margin: Duration,
    /// A CHILD_SA's lifetime in inner bytes, each direction: once either of
    /// its SAs has carried this many, the driver asks for a rekey
    /// ([`Ike::rekey_child`]); at 10 % more the SA stops (hard limit, RFC
    /// 4301 section 4.4.2.1). Azure's VPN gateway uses 102,400,000 KB.
    /// `None`: no limit.
    pub child_lifetime_bytes: Option<u64>,
    /// The DF bit on the outer header of what we send (a local choice,
    /// not negotiated).
    pub esp_df: crate::esp::DfMode,
}

impl IkeConfig {
    /// A configuration with erdp's defaults: AES-256-GCM/PRF-SHA-256 over
    /// ECP-256, then Curve25519 and ECP-384; ESP AES-256-GCM then
    /// AES-128-GCM, no ESN; route-based selectors (0.0.0.0/0 both sides).
    pub fn new(local: SocketAddr, remote: SocketAddr, psk: Psk) -> Self {
        let ike = |dh| IkeSuite {
            encr: IkeEncr::AesGcm256,
            integ: None,
            prf: Prf::HmacSha256,
            dh,
        };
        let any: IpNet = if local.is_ipv4() {
            IpNet::V4(ipnet::Ipv4Net::default())
        } else {
            IpNet::V6(ipnet::Ipv6Net::default())
        };
        IkeConfig {
            local,
            remote,
            local_id: Identity::address(local.ip()),
            remote_id: Identity::address(remote.ip()),
            psk,
            ike_suites: vec![
                ike(DhGroup::Ecp256),
                ike(DhGroup::Curve25519),
                ike(DhGroup::Ecp384),
            ],
            esp_suites: vec![
                EspSuite {
                    algorithm: crate::esp::Algorithm::Aes256Gcm,
                    esn: false,
                    pfs: None,
                },
                EspSuite {
                    algorithm: crate::esp::Algorithm::Aes128Gcm,
                    esn: false,
                    pfs: None,
                },
            ],
            local_ts: vec![any],
            remote_ts: vec![any],
            retransmit_after: Duration::from_secs(1),
            retransmit_tries: 5,
            max_half_open: 256,
            cookie_threshold: 64,
            half_open_timeout: Duration::from_secs(30),
            dpd_delay: Some(Duration::from_secs(15)),
            dpd_timeout: Duration::from_secs(45),
            child_lifetime: Duration::from_secs(27_000),
            child_rekey_margin: Duration::from_secs(540),
            child_lifetime_bytes: Some(AZURE_CHILD_LIFETIME_KB * 1024),
            esp_df: crate::esp::DfMode::Copy,
        }
    }
}

/// A UDP datagram in or out. On UDP 4500 `bytes` starts with the non-ESP
/// marker, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// The UDP payload.
    pub bytes: Vec<u8>,
}

/// A CHILD_SA ready to install: both directions as `esp` configurations.
#[derive(Debug, Clone)]
pub struct ChildSa {
    /// The negotiated suite.
    pub suite: EspSuite,
    /// The SA we receive on (our SPI).
    pub inbound: SaConfig,
    /// The SA we send on (the peer's SPI).
    pub outbound: SaConfig,
    /// The selectors of our side.
    pub local_ts: Vec<TrafficSelector>,
    /// The selectors of the peer's side.
    pub remote_ts: Vec<TrafficSelector>,
}

/// Why a negotiation failed, with what both sides offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No proposal in common (for the IKE SA or the CHILD_SA).
    NoProposalChosen {
        /// `IKE` or `CHILD`.
        sa: &'static str,
        /// Our proposals.
        ours: Vec<String>,
        /// The peer's proposals (empty when the peer refused ours: it does
        /// not disclose its own).
        theirs: Vec<String>,
    },
    /// The peer's AUTH did not verify, or the peer refused ours.
    AuthenticationFailed {
        /// Which.
        reason: String,
    },
    /// No traffic selector in common.
    TsUnacceptable {
        /// Our selectors, local then remote side.
        ours: String,
        /// The peer's, TSi then TSr (empty when the peer refused ours).
        theirs: String,
    },
    /// The peer answered with another error notify.
    PeerError {
        /// The notify type.
        notify: u16,
    },
    /// The peer did not answer a negotiation.
    Timeout,
    /// Dead Peer Detection: the peer left a liveness check unanswered and
    /// sent nothing for this long.
    PeerDead {
        /// How long the peer has been silent.
        silent_for: Duration,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoProposalChosen { sa, ours, theirs } if theirs.is_empty() => write!(
                f,
                "NO_PROPOSAL_CHOSEN for the {sa} SA: the peer accepts none of ours [{}]",
                ours.join(", ")
            ),
            Failure::NoProposalChosen { sa, ours, theirs } => write!(
                f,
                "NO_PROPOSAL_CHOSEN for the {sa} SA: the peer offered [{}], we accept [{}]",
                theirs.join(", "),
                ours.join(", ")
            ),
            Failure::AuthenticationFailed { reason } => {
                write!(f, "AUTHENTICATION_FAILED: {reason}")
            }
            Failure::TsUnacceptable { ours, theirs } if theirs.is_empty() => {
                write!(f, "TS_UNACCEPTABLE: the peer refused our selectors {ours}")
            }
            Failure::TsUnacceptable { ours, theirs } => write!(
                f,
                "TS_UNACCEPTABLE: the peer proposed {theirs}, ours are {ours}"
            ),
            Failure::PeerError { notify } => write!(f, "the peer answered error notify {notify}"),
            Failure::Timeout => f.write_str("the peer did not answer"),
            Failure::PeerDead { silent_for } => write!(
                f,
                "dead peer: no answer to liveness checks, nothing heard for {} s",
                silent_for.as_secs()
            ),
        }
    }
}

/// What the core reports besides datagrams.
#[derive(Debug, Clone)]
pub enum Event {
    /// An IKE SA is authenticated.
    IkeSaEstablished {
        /// Initiator's SPI.
        spi_i: u64,
        /// Responder's SPI.
        spi_r: u64,
        /// The suite.
        suite: IkeSuite,
        /// A NAT was detected: IKE and ESP use UDP 4500.
        nat: bool,
    },
    /// A CHILD_SA to install.
    ChildSaInstalled(Box<ChildSa>),
    /// A negotiation failed, or Dead Peer Detection declared the peer dead
    /// (the IKE SA and its CHILD_SAs are gone: uninstall them).
    Failed {
        /// Initiator's SPI of the IKE SA concerned.
        spi_i: u64,
        /// Why.
        failure: Failure,
    },
    /// A CHILD_SA replaces another (make-before-break): install `new` in
    /// both directions now, keep the old inbound SA until
    /// [`Event::ChildSaDeleted`] names it.
    ChildSaRekeyed {
        /// Our inbound SPI of the SA being replaced.
        old_inbound_spi: u32,
        /// The new SA.
        new: Box<ChildSa>,
    },
    /// A CHILD_SA is gone (deleted after a rekey, or by the peer):
    /// uninstall both directions.
    ChildSaDeleted {
        /// The SPI we received on.
        inbound_spi: u32,
        /// The SPI we sent on.
        outbound_spi: u32,
    },
    /// The peer deleted the IKE SA (its CHILD_SAs go with it).
    IkeSaDeleted {
        /// Initiator's SPI.
        spi_i: u64,
    },
}

/// Datagrams to send and events, from one call.
#[derive(Debug, Default)]
pub struct Output {
    /// To send, in order.
    pub datagrams: Vec<Datagram>,
    /// What happened.
    pub events: Vec<Event>,
}

reason_enum! {
    /// Why a datagram was dropped without an answer; one counter each.
    pub enum IkeDrop (prefix "ike_") {
        /// Not an IKE message on UDP 4500 (ESP or a NAT keepalive).
        NotIke = "not_ike",
        /// The header or a payload does not parse, or a payload is missing.
        Malformed = "malformed",
        /// No IKE SA with this SPI.
        UnknownSpi = "unknown_spi",
        /// The SK payload did not verify.
        IntegrityFailed = "integrity_failed",
        /// Too many half-open SAs (IKE_SA_INIT flood).
        HalfOpenLimit = "half_open_limit",
        /// A message ID out of sequence, or a response nobody asked for.
        UnexpectedMessage = "unexpected_message",
        /// The peer's Diffie-Hellman value is invalid.
        InvalidKe = "invalid_ke",
        /// The system RNG failed.
        Internal = "internal",
        /// Under load, an IKE_SA_INIT without a valid cookie: answered with a
        /// COOKIE notify, no state kept (RFC 7296 section 2.6).
        CookieRequired = "cookie_required",
    }
}

/// Drop counters by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IkeStats {
    /// Counters indexed by `IkeDrop as usize`.
    pub drops: [u64; IkeDrop::COUNT],
}

impl IkeStats {
    /// The counter of one reason.
    pub fn dropped(&self, reason: IkeDrop) -> u64 {
        self.drops[reason as usize]
    }

    /// Every drop.
    pub fn total_dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
}

fn child_sa(
    config: &IkeConfig,
    nat_remote_port: Option<u16>,
    suite: EspSuite,
    (spi_in, key_in): (u32, &[u8]),
    (spi_out, key_out): (u32, &[u8]),
    local_ts: Vec<TrafficSelector>,
    remote_ts: Vec<TrafficSelector>,
) -> ChildSa {
    let tunnel = crate::esp::TunnelEndpoints {
        local: config.local.ip(),
        remote: config.remote.ip(),
    };
    let nat_t = nat_remote_port.map(|remote_port| crate::esp::NatT {
        local_port: NAT_T_PORT,
        remote_port,
    });
    let lifetime = crate::esp::Lifetime {
        soft_bytes: config.child_lifetime_bytes,
        hard_bytes: config
            .child_lifetime_bytes
            .map(|bytes| bytes.saturating_add(bytes / 10)),
        ..crate::esp::Lifetime::default()
    };
    let build = |spi, key: &[u8], src: &[TrafficSelector], dst: &[TrafficSelector]| {
        let mut sa = SaConfig::new(spi, suite.algorithm, SecretKey::from_bytes(key));
        sa.esn = suite.esn;
        sa.lifetime = lifetime;
        sa.df = config.esp_df;
        sa.tunnel = Some(tunnel);
        sa.nat_t = nat_t;
        sa.traffic_selectors = crate::esp::TrafficSelectors {
            src: to_prefixes(src),
            dst: to_prefixes(dst),
        };
        sa
    };
    ChildSa {
        suite,
        inbound: build(spi_in, key_in, &remote_ts, &local_ts),
        outbound: build(spi_out, key_out, &local_ts, &remote_ts),
        local_ts,
        remote_ts,
    }
}

#[cfg(test)]
mod tests;
