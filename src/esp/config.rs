//! Security association configuration (RFC 4301 section 4.4.2 SAD fields):
//! plain, serde-deserialisable data kept apart from the hot runtime structs in
//! [`super::OutboundSa`] and [`super::InboundSa`]. Keys never appear in `Debug`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

/// Length of the salt that follows the key in `key||salt` (RFC 4106 section
/// 8.1, RFC 7634 section 2): 4 bytes for every supported suite.
pub const SALT_LEN: usize = 4;
/// Default UDP port for ESP in UDP (RFC 3948 section 2.1, the IKE NAT-T port).
pub const NAT_T_PORT: u16 = 4500;
/// Smallest accepted anti-replay window, in packets (RFC 4303 section 3.4.3:
/// a default of 64).
pub const MIN_REPLAY_WINDOW: u32 = 64;
/// Largest accepted anti-replay window, in packets.
pub const MAX_REPLAY_WINDOW: u32 = 65_536;

/// The ESP suites: the AEAD (combined-mode) ones, each with a 16-octet ICV
/// and an 8-octet explicit IV, and AES-CBC (RFC 3602) with
/// HMAC-SHA2-256-128 (RFC 4868) integrity, with a 16-octet IV and a
/// 16-octet ICV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Algorithm {
    /// AES-128 in GCM mode, RFC 4106 (`aes-128-gcm`).
    Aes128Gcm,
    /// AES-256 in GCM mode, RFC 4106 (`aes-256-gcm`).
    Aes256Gcm,
    /// ChaCha20-Poly1305, RFC 7634 (`chacha20-poly1305`).
    ChaCha20Poly1305,
    /// AES-128-CBC (RFC 3602) with HMAC-SHA2-256-128 (RFC 4868)
    /// (`aes-128-cbc-hmac-sha256`).
    Aes128CbcHmacSha256,
    /// AES-256-CBC (RFC 3602) with HMAC-SHA2-256-128 (RFC 4868)
    /// (`aes-256-cbc-hmac-sha256`).
    Aes256CbcHmacSha256,
}

impl Algorithm {
    /// Every supported suite.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Aes128Gcm,
        Algorithm::Aes256Gcm,
        Algorithm::ChaCha20Poly1305,
        Algorithm::Aes128CbcHmacSha256,
        Algorithm::Aes256CbcHmacSha256,
    ];

    /// The name used in configuration files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Aes128Gcm => "aes-128-gcm",
            Algorithm::Aes256Gcm => "aes-256-gcm",
            Algorithm::ChaCha20Poly1305 => "chacha20-poly1305",
            Algorithm::Aes128CbcHmacSha256 => "aes-128-cbc-hmac-sha256",
            Algorithm::Aes256CbcHmacSha256 => "aes-256-cbc-hmac-sha256",
        }
    }

    /// Encryption key length without the salt or integrity key, in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128Gcm | Algorithm::Aes128CbcHmacSha256 => 16,
            Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305 | Algorithm::Aes256CbcHmacSha256 => {
                32
            }
        }
    }

    /// True for the combined-mode suites (a salt after the key, no
    /// separate integrity key).
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305
        )
    }

    /// Length of the salt after the encryption key ([`SALT_LEN`] for the
    /// AEAD suites, none for CBC).
    pub fn salt_len(self) -> usize {
        if self.is_aead() { SALT_LEN } else { 0 }
    }

    /// Length of the integrity key after the encryption key (RFC 4868
    /// section 2.1.1: HMAC-SHA2-256 keys are 32 bytes; none for AEAD).
    pub fn integrity_key_len(self) -> usize {
        if self.is_aead() { 0 } else { 32 }
    }

    /// Length of the whole key material in `key`: encryption key and salt
    /// (AEAD), or encryption key and integrity key (CBC, in the order of
    /// RFC 7296 section 2.17).
    pub fn keymat_len(self) -> usize {
        self.key_len() + self.salt_len() + self.integrity_key_len()
    }

    /// Length of the IV carried after the ESP header.
    pub fn iv_len(self) -> usize {
        if self.is_aead() { 8 } else { 16 }
    }

    /// The integrity algorithm's name in Wireshark's ESP SA table, for
    /// suites with a separate one.
    pub fn wireshark_integrity_name(self) -> Option<&'static str> {
        (!self.is_aead()).then_some("HMAC-SHA-256-128 [RFC4868]")
    }

    /// The algorithm's name in Wireshark's ESP SA table (`esp_sa`).
    pub fn wireshark_name(self) -> &'static str {
        match self {
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => "AES-GCM with 16 octet ICV [RFC4106]",
            Algorithm::ChaCha20Poly1305 => "ChaCha20 with Poly1305 [RFC7634]",
            Algorithm::Aes128CbcHmacSha256 | Algorithm::Aes256CbcHmacSha256 => "AES-CBC [RFC3602]",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An algorithm name that erdp does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown ESP algorithm {0:?}: expected aes-128-gcm, aes-256-gcm, chacha20-poly1305, \
     aes-128-cbc-hmac-sha256 or aes-256-cbc-hmac-sha256"
)]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

impl TryFrom<String> for Algorithm {
    type Error = UnknownAlgorithm;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Algorithm> for String {
    fn from(a: Algorithm) -> String {
        a.as_str().to_owned()
    }
}

/// Key material `key||salt`, zeroed on drop and redacted in `Debug`.
/// Written in configuration as hex (an optional `0x` prefix, `:` separators
/// allowed).
#[derive(Clone)]
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl SecretKey {
    /// Wraps raw `key||salt` bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        SecretKey(Zeroizing::new(bytes.to_vec()))
    }

    /// Parses hex `key||salt`.
    pub fn from_hex(text: &str) -> Result<Self, KeyHexError> {
        let digits: Zeroizing<String> = Zeroizing::new(
            text.trim()
                .trim_start_matches("0x")
                .chars()
                .filter(|c| *c != ':' && !c.is_whitespace())
                .collect(),
        );
        hex::decode(digits.as_bytes())
            .map(|bytes| SecretKey(Zeroizing::new(bytes)))
            .map_err(|e| {
                KeyHexError(match e {
                    hex::FromHexError::InvalidHexCharacter { index, .. } => {
                        format!("character {index} is not a hex digit")
                    }
                    hex::FromHexError::OddLength => "odd number of hex digits".to_owned(),
                    hex::FromHexError::InvalidStringLength => "wrong length".to_owned(),
                })
            })
    }

    /// Length of `key||salt` in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw bytes, for building a cipher. Never log them.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key as lowercase hex. Only for deliberate key export (the
    /// Wireshark `esp_sa` settings a user asks for); never log it.
    pub fn expose_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<redacted {} bytes>)", self.0.len())
    }
}

/// A key that is not valid hex. Says why, never echoes the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("key is not valid hex ({0})")]
pub struct KeyHexError(String);

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        SecretKey::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Outer tunnel endpoints: `local` is the outer source on the way out and the
/// outer destination on the way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelEndpoints {
    /// This gateway's tunnel address.
    pub local: IpAddr,
    /// The peer gateway's tunnel address.
    pub remote: IpAddr,
}

/// UDP encapsulation of ESP (RFC 3948). `nat_t = true` or
/// `nat_t = { local_port = 4500, remote_port = 4500 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NatT {
    /// Our UDP port (source on the way out, destination on the way in).
    pub local_port: u16,
    /// The peer's UDP port (destination on the way out).
    pub remote_port: u16,
}

impl Default for NatT {
    fn default() -> Self {
        NatT {
            local_port: NAT_T_PORT,
            remote_port: NAT_T_PORT,
        }
    }
}

impl<'de> Deserialize<'de> for NatT {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Ports {
            #[serde(default = "nat_t_port")]
            local_port: u16,
            #[serde(default = "nat_t_port")]
            remote_port: u16,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Flag(bool),
            Ports(Ports),
        }
        match Form::deserialize(deserializer)? {
            Form::Flag(true) => Ok(NatT::default()),
            Form::Flag(false) => Err(serde::de::Error::custom(
                "nat_t = false: leave nat_t out to turn UDP encapsulation off",
            )),
            Form::Ports(p) => Ok(NatT {
                local_port: p.local_port,
                remote_port: p.remote_port,
            }),
        }
    }
}

fn nat_t_port() -> u16 {
    NAT_T_PORT
}

/// Outer DSCP: copied from the inner packet (default) or a fixed codepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DscpMode {
    /// Copy the inner packet's DSCP (RFC 2983 uniform model on the way out).
    #[default]
    Copy,
    /// Always write this codepoint (0..=63).
    Set(u8),
}

impl<'de> Deserialize<'de> for DscpMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Word(String),
            Value(u8),
        }
        match Form::deserialize(deserializer)? {
            Form::Word(w) if w == "copy" => Ok(DscpMode::Copy),
            Form::Word(w) => Err(serde::de::Error::custom(format!(
                "dscp = {w:?}: expected \"copy\" or a number 0..=63"
            ))),
            Form::Value(v) => Ok(DscpMode::Set(v)),
        }
    }
}

/// Outer ECN on encapsulation (RFC 6040 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EcnMode {
    /// Normal mode: copy the inner ECN field, except CE becomes ECT(0).
    #[default]
    Normal,
    /// Compatibility mode: the outer ECN field is always Not-ECT.
    Compatibility,
}

/// Outer IPv4 Don't Fragment bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DfMode {
    /// Copy DF from an inner IPv4 packet; set it for an inner IPv6 packet
    /// (IPv6 is never fragmented on the path).
    #[default]
    Copy,
    /// Always set DF.
    Set,
    /// Always clear DF.
    Clear,
}

/// SA lifetimes in bytes and packets (RFC 4301 section 4.4.2.1). A soft limit
/// raises an event; a hard limit stops the SA. `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetime {
    /// Soft limit on inner bytes.
    pub soft_bytes: Option<u64>,
    /// Hard limit on inner bytes.
    pub hard_bytes: Option<u64>,
    /// Soft limit on packets.
    pub soft_packets: Option<u64>,
    /// Hard limit on packets.
    pub hard_packets: Option<u64>,
}

/// Allowed inner addresses (RFC 4301 section 4.4.1 traffic selectors). An
/// empty list allows any address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSelectors {
    /// Prefixes the inner source must fall in.
    #[serde(default)]
    pub src: Vec<IpNet>,
    /// Prefixes the inner destination must fall in.
    #[serde(default)]
    pub dst: Vec<IpNet>,
}

/// One security association (one direction), tunnel mode.
///
/// ```toml
/// spi = 0x1001
/// algorithm = "aes-256-gcm"
/// key = "<hex key||salt>"
/// esn = true
/// tunnel = { local = "192.0.2.1", remote = "198.51.100.1" }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaConfig {
    /// Security Parameters Index (RFC 4303 section 2.1); 1..=255 are reserved.
    pub spi: u32,
    /// The suite.
    pub algorithm: Algorithm,
    /// `key||salt` in hex: 16+4 bytes (AES-128-GCM) or 32+4 (AES-256-GCM,
    /// ChaCha20-Poly1305); for CBC `encryption key||integrity key`: 16+32
    /// (AES-128-CBC) or 32+32 bytes (AES-256-CBC), HMAC-SHA2-256.
    pub key: SecretKey,
    /// 64-bit Extended Sequence Numbers (RFC 4303 section 2.2.1).
    #[serde(default)]
    pub esn: bool,
    /// Anti-replay window in packets (inbound).
    #[serde(default = "default_replay_window")]
    pub replay_window: u32,
    /// ESN resynchronisation (RFC 4303 Appendix A3): retry the high bits after
    /// this many consecutive ICV failures (inbound).
    #[serde(default = "default_resync_after")]
    pub esn_resync_after_failures: u32,
    /// ESN resynchronisation: how many higher values of the high bits to try.
    #[serde(default = "default_resync_tries")]
    pub esn_resync_max_tries: u32,
    /// Outer endpoints; needed to encapsulate, optional to decapsulate.
    #[serde(default)]
    pub tunnel: Option<TunnelEndpoints>,
    /// UDP encapsulation (RFC 3948); absent means plain ESP.
    #[serde(default)]
    pub nat_t: Option<NatT>,
    /// Outer DSCP.
    #[serde(default)]
    pub dscp: DscpMode,
    /// Outer ECN on encapsulation.
    #[serde(default)]
    pub ecn: EcnMode,
    /// Outer IPv4 DF bit.
    #[serde(default)]
    pub df: DfMode,
    /// Outer TTL / hop limit.
    #[serde(default = "default_ttl")]
    pub ttl: u8,
    /// Traffic flow confidentiality padding (RFC 4303 section 2.7): inner
    /// packets shorter than this are padded to this length; 0 turns it off.
    #[serde(default)]
    pub tfc_pad_to: u16,
    /// Soft and hard lifetimes.
    #[serde(default)]
    pub lifetime: Lifetime,
    /// Allowed inner source and destination prefixes.
    #[serde(default)]
    pub traffic_selectors: TrafficSelectors,
}

fn default_replay_window() -> u32 {
    1024
}
fn default_resync_after() -> u32 {
    64
}
fn default_resync_tries() -> u32 {
    8
}
fn default_ttl() -> u8 {
    64
}

/// Largest TFC pad target: a jumbo frame.
pub(crate) const MAX_TFC_PAD_TO: u16 = 9000;

/// A configuration value that cannot make a working SA: names the SA, the
/// field and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("SA spi 0x{spi:08x}: {field}: {reason}")]
pub struct SaConfigError {
    /// The SA's SPI.
    pub spi: u32,
    /// The offending field.
    pub field: &'static str,
    /// What is wrong and what is expected.
    pub reason: String,
}

impl SaConfig {
    /// A configuration with defaults for everything but the essentials.
    pub fn new(spi: u32, algorithm: Algorithm, key: SecretKey) -> Self {
        SaConfig {
            spi,
            algorithm,
            key,
            esn: false,
            replay_window: default_replay_window(),
            esn_resync_after_failures: default_resync_after(),
            esn_resync_max_tries: default_resync_tries(),
            tunnel: None,
            nat_t: None,
            dscp: DscpMode::Copy,
            ecn: EcnMode::Normal,
            df: DfMode::Copy,
            ttl: default_ttl(),
            tfc_pad_to: 0,
            lifetime: Lifetime::default(),
            traffic_selectors: TrafficSelectors::default(),
        }
    }

    /// Parses one SA from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks every field; the runtime constructors call this.
    pub fn validate(&self) -> Result<(), SaConfigError> {
        let fail = |field: &'static str, reason: String| {
            Err(SaConfigError {
                spi: self.spi,
                field,
                reason,
            })
        };
        if self.spi < 256 {
            return fail("spi", "0..=255 are reserved (RFC 4303 section 2.1)".into());
        }
        let want = self.algorithm.keymat_len();
        if self.key.len() != want {
            let parts = if self.algorithm.is_aead() {
                format!("key {} + salt {SALT_LEN}", self.algorithm.key_len())
            } else {
                format!(
                    "encryption key {} + integrity key {}",
                    self.algorithm.key_len(),
                    self.algorithm.integrity_key_len()
                )
            };
            return fail(
                "key",
                format!(
                    "{} needs {want} bytes ({parts}), got {}",
                    self.algorithm,
                    self.key.len()
                ),
            );
        }
        if !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&self.replay_window) {
            return fail(
                "replay_window",
                format!(
                    "{} is outside {MIN_REPLAY_WINDOW}..={MAX_REPLAY_WINDOW}",
                    self.replay_window
                ),
            );
        }
        if self.esn_resync_after_failures == 0 {
            return fail("esn_resync_after_failures", "must be at least 1".into());
        }
        if let Some(t) = self.tunnel
            && t.local.is_ipv4() != t.remote.is_ipv4()
        {
            return fail(
                "tunnel",
                format!(
                    "local {} and remote {} are of different families",
                    t.local, t.remote
                ),
            );
        }
        if let Some(n) = self.nat_t
            && (n.local_port == 0 || n.remote_port == 0)
        {
            return fail("nat_t", "UDP ports must be non-zero".into());
        }
        if let DscpMode::Set(v) = self.dscp
            && v > 63
        {
            return fail("dscp", format!("{v} is not a 6-bit codepoint (0..=63)"));
        }
        if self.ttl == 0 {
            return fail("ttl", "must be at least 1".into());
        }
        if self.tfc_pad_to > MAX_TFC_PAD_TO {
            return fail(
                "tfc_pad_to",
                format!("{} exceeds {MAX_TFC_PAD_TO}", self.tfc_pad_to),
            );
        }
        let l = self.lifetime;
        for (soft, hard, field) in [
            (l.soft_bytes, l.hard_bytes, "lifetime.soft_bytes"),
            (l.soft_packets, l.hard_packets, "lifetime.soft_packets"),
        ] {
            if let (Some(s), Some(h)) = (soft, hard)
                && s > h
            {
                return fail(field, format!("soft limit {s} exceeds hard limit {h}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_256: &str =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223";

    #[test]
    fn parses_the_forwarder_contract_form() {
        let text = format!(
            "spi = 0x1001\nalgorithm = \"aes-256-gcm\"\nkey = \"{KEY_256}\"\nesn = true\nreplay_window = 1024\n\
             nat_t = true\ndscp = 46\ndf = \"set\"\ntfc_pad_to = 256\n\
             lifetime = {{ soft_bytes = 1000, hard_bytes = 2000 }}\n\
             traffic_selectors = {{ src = [\"10.1.0.0/16\"], dst = [\"10.2.0.0/16\", \"fd00::/8\"] }}\n\
             tunnel = {{ local = \"192.0.2.1\", remote = \"198.51.100.1\" }}\n"
        );
        let sa = SaConfig::from_toml(&text).unwrap();
        sa.validate().unwrap();
        assert_eq!(sa.spi, 0x1001);
        assert_eq!(sa.algorithm, Algorithm::Aes256Gcm);
        assert!(sa.esn);
        assert_eq!(sa.nat_t, Some(NatT::default()));
        assert_eq!(sa.dscp, DscpMode::Set(46));
        assert_eq!(sa.df, DfMode::Set);
        assert_eq!(sa.lifetime.hard_bytes, Some(2000));
        assert_eq!(sa.traffic_selectors.dst.len(), 2);
        assert_eq!(sa.key.len(), 36);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let sa = SaConfig::new(
            0x1001,
            Algorithm::Aes256Gcm,
            SecretKey::from_hex(KEY_256).unwrap(),
        );
        let text = format!("{sa:?}");
        assert!(text.contains("redacted 36 bytes"), "{text}");
        assert!(!text.contains("0a0b0c"), "{text}");
        assert!(!text.contains("[0, 1, 2"), "{text}");
    }

    #[test]
    fn rejects_wrong_key_length_with_field_and_reason() {
        let sa = SaConfig::new(
            0x1001,
            Algorithm::Aes128Gcm,
            SecretKey::from_hex(KEY_256).unwrap(),
        );
        let err = sa.validate().unwrap_err();
        assert_eq!(err.field, "key");
        assert_eq!(
            err.to_string(),
            "SA spi 0x00001001: key: aes-128-gcm needs 20 bytes (key 16 + salt 4), got 36"
        );
    }

    #[test]
    fn rejects_bad_values() {
        let base = || {
            SaConfig::new(
                0x1001,
                Algorithm::ChaCha20Poly1305,
                SecretKey::from_hex(KEY_256).unwrap(),
            )
        };
        let mut sa = base();
        sa.spi = 7;
        assert_eq!(sa.validate().unwrap_err().field, "spi");
        let mut sa = base();
        sa.replay_window = 32;
        assert_eq!(sa.validate().unwrap_err().field, "replay_window");
        let mut sa = base();
        sa.dscp = DscpMode::Set(64);
        assert_eq!(sa.validate().unwrap_err().field, "dscp");
        let mut sa = base();
        sa.lifetime.soft_packets = Some(10);
        sa.lifetime.hard_packets = Some(5);
        assert_eq!(sa.validate().unwrap_err().field, "lifetime.soft_packets");
        let mut sa = base();
        sa.tunnel = Some(TunnelEndpoints {
            local: "192.0.2.1".parse().unwrap(),
            remote: "2001:db8::1".parse().unwrap(),
        });
        assert_eq!(sa.validate().unwrap_err().field, "tunnel");
        base().validate().unwrap();
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
        }
        assert!("aes-192-gcm".parse::<Algorithm>().is_err());
    }

    #[test]
    fn bad_hex_error_does_not_echo_the_key() {
        let err = SecretKey::from_hex("zz0102secret").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }
}
