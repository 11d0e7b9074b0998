//! The ESP tunnel interface: RFC 4303 tunnel-mode encapsulation and
//! decapsulation with AEAD suites through `ring` (AES-GCM RFC 4106,
//! ChaCha20-Poly1305 RFC 7634) and AES-CBC with HMAC-SHA2-256-128 (RFC 3602,
//! RFC 4868), ESN, anti-replay, NAT-T (RFC 3948) and
//! RFC 6040 ECN.
//!
//! [`SaConfig`] is plain configuration; [`OutboundSa`] and [`InboundSa`] are
//! the hot runtime structs built from it, shared by worker threads (`&self`,
//! `Send + Sync`), one packet at a time or in batches. [`SaDatabase`] finds
//! the inbound SA of an arriving packet. Neither side allocates per packet.

mod anti_replay;
mod batch;
mod cbc;
mod classify;
mod config;
mod counters;
mod drop;
mod ecn;
mod inbound;
mod lease;
mod lock;
mod outbound;
mod sadb;
mod selectors;
mod suite;
mod wireshark;

pub use anti_replay::{ReplayVerdict, ReplayWindow, WindowWriter, infer_sequence};
pub use batch::MAX_BATCH;
pub use cbc::{CBC_BLOCK_LEN, CbcOpenError, EspCbcHmac, HMAC_SHA256_128_LEN};
pub use classify::{InnerHeader, OuterEsp, PacketClass, classify, outer_destination, parse_inner};
pub use config::{
    Algorithm, DfMode, DscpMode, EcnMode, KeyHexError, Lifetime, MAX_REPLAY_WINDOW,
    MIN_REPLAY_WINDOW, NAT_T_PORT, NatT, SALT_LEN, SaConfig, SaConfigError, SecretKey,
    TrafficSelectors, TunnelEndpoints, UnknownAlgorithm,
};
pub use counters::{LifetimeEvent, SaStats};
pub use drop::EspDrop;
pub use ecn::{decapsulated_ecn, outer_ecn};
pub use inbound::{DecapOutcome, InboundSa};
pub use lease::SendLease;
pub use outbound::{EncapOutcome, OutboundSa};
pub use sadb::{SaDatabase, SaDbError};
pub use suite::{
    ESP_PREFIX_LEN, EspAad, EspAead, ICV_LEN, IV_LEN, IcvMismatch, MAX_ESP_PREFIX_LEN, MAX_IV_LEN,
};
pub use wireshark::wireshark_esp_sa_line;

/// Worker threads share SAs and the database by reference.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<OutboundSa>();
    shared::<InboundSa>();
    shared::<SaDatabase>();
};
