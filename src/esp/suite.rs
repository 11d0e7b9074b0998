//! The ESP AEAD transform through `ring`: AES-GCM (RFC 4106) and
//! ChaCha20-Poly1305 (RFC 7634). Nonce = salt || explicit IV; AAD = SPI ||
//! sequence number (32-bit) or SPI || high || low (ESN, RFC 4106 section 5).
//! [`EspCipher`] is an SA's transform: one of these, or AES-CBC with
//! HMAC-SHA2-256-128 (`super::cbc`).

use ring::aead::{self, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

use super::cbc::{CBC_BLOCK_LEN, CbcOpenError, EspCbcHmac};
use super::config::{Algorithm, SALT_LEN, SaConfig, SaConfigError, SecretKey};
use crate::wire::ESP_HEADER_LEN;

/// Length of the explicit IV carried after the ESP header (RFC 4106
/// section 3.1, RFC 7634 section 3).
pub const IV_LEN: usize = 8;
/// Length of the ICV (the AEAD tag), 16 octets for every supported suite.
pub const ICV_LEN: usize = 16;
/// Bytes before the ciphertext: the ESP header and the explicit IV (AEAD
/// suites; CBC carries a 16-byte IV, see `EspCipher::prefix_len`).
pub const ESP_PREFIX_LEN: usize = ESP_HEADER_LEN + IV_LEN;
/// The longest IV of any suite (AES-CBC's block).
pub const MAX_IV_LEN: usize = CBC_BLOCK_LEN;
/// The longest ESP header plus IV of any suite.
pub const MAX_ESP_PREFIX_LEN: usize = ESP_HEADER_LEN + MAX_IV_LEN;

/// The Additional Authenticated Data of one ESP packet: 8 bytes, or 12 with
/// ESN (RFC 4106 section 5, RFC 7634 section 2.1).
#[derive(Clone, Copy)]
pub struct EspAad {
    bytes: [u8; 12],
    len: u8,
}

impl EspAad {
    /// The AAD for `spi` and the full 64-bit sequence number `seq`; with
    /// `esn` off only the low 32 bits are covered.
    pub fn new(spi: u32, seq: u64, esn: bool) -> Self {
        let mut bytes = [0u8; 12];
        bytes[0..4].copy_from_slice(&spi.to_be_bytes());
        if esn {
            bytes[4..12].copy_from_slice(&seq.to_be_bytes());
            EspAad { bytes, len: 12 }
        } else {
            bytes[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
            EspAad { bytes, len: 8 }
        }
    }

    /// The AAD bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The authentication tag did not verify (or the ciphertext was too short to
/// hold one). Carries nothing: the receiver must not learn more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcvMismatch;

/// The input is longer than the AEAD can seal under one nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InputTooLong;

/// A keyed ESP AEAD: the `ring` key schedule plus the 4-byte salt.
pub struct EspAead {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
    algorithm: Algorithm,
}

impl EspAead {
    /// Builds the key schedule from `key||salt`. Returns `None` when the
    /// length does not match the algorithm (validated configs never do).
    pub fn new(algorithm: Algorithm, key_and_salt: &SecretKey) -> Option<Self> {
        let bytes = key_and_salt.expose_bytes();
        let key_len = algorithm.key_len();
        if bytes.len() != key_len + SALT_LEN {
            return None;
        }
        let (key, salt) = bytes.split_at(key_len);
        let ring_algorithm = match algorithm {
            Algorithm::Aes128Gcm => &aead::AES_128_GCM,
            Algorithm::Aes256Gcm => &aead::AES_256_GCM,
            Algorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
            Algorithm::Aes128CbcHmacSha256 | Algorithm::Aes256CbcHmacSha256 => return None,
        };
        let key = LessSafeKey::new(UnboundKey::new(ring_algorithm, key).ok()?);
        Some(EspAead {
            key,
            salt: salt.try_into().ok()?,
            algorithm,
        })
    }

    /// The suite.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn nonce(&self, iv: [u8; IV_LEN]) -> Nonce {
        let mut nonce = [0u8; aead::NONCE_LEN];
        nonce[..SALT_LEN].copy_from_slice(&self.salt);
        nonce[SALT_LEN..].copy_from_slice(&iv);
        Nonce::assume_unique_for_key(nonce)
    }

    /// Encrypts `in_out` (the ESP payload with its trailer) in place and
    /// returns the ICV. The caller guarantees `iv` is never reused under this
    /// key (the SA derives it from the sequence number). `None` only for an
    /// input beyond the AEAD's limit (~64 GB), which no packet reaches.
    pub fn seal(&self, iv: [u8; IV_LEN], aad: &EspAad, in_out: &mut [u8]) -> Option<[u8; ICV_LEN]> {
        let mut icv = [0u8; ICV_LEN];
        self.seal_into(iv, aad, in_out, &mut icv).ok()?;
        Some(icv)
    }

    /// [`Self::seal`] writing the ICV into `icv` (its place in the packet).
    #[inline]
    pub(crate) fn seal_into(
        &self,
        iv: [u8; IV_LEN],
        aad: &EspAad,
        in_out: &mut [u8],
        icv: &mut [u8; ICV_LEN],
    ) -> Result<(), InputTooLong> {
        let tag = self.seal_detached(iv, aad, in_out)?;
        icv.copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// [`Self::seal`] handing back `ring`'s tag, for the caller to copy
    /// when it suits it.
    #[inline]
    pub(crate) fn seal_detached(
        &self,
        iv: [u8; IV_LEN],
        aad: &EspAad,
        in_out: &mut [u8],
    ) -> Result<Tag, InputTooLong> {
        self.key
            .seal_in_place_separate_tag(self.nonce(iv), Aad::from(aad.as_bytes()), in_out)
            .map_err(|_| InputTooLong)
    }

    /// Verifies `icv` and decrypts `in_out` in place. On failure `in_out` is
    /// zeroed by `ring`.
    pub fn open(
        &self,
        iv: [u8; IV_LEN],
        aad: &EspAad,
        in_out: &mut [u8],
        icv: [u8; ICV_LEN],
    ) -> Result<(), IcvMismatch> {
        self.key
            .open_in_place_separate_tag(
                self.nonce(iv),
                Aad::from(aad.as_bytes()),
                Tag::from(icv),
                in_out,
                0..,
            )
            .map(|_| ())
            .map_err(|_| IcvMismatch)
    }
}

impl std::fmt::Debug for EspAead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspAead")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// An SA's transform: an AEAD, or AES-CBC with HMAC-SHA2-256-128. Both
/// have a 16-byte ICV; the IV length and the payload alignment differ. The
/// CBC suite (two AES key schedules and the HMAC's) is boxed, so the AEAD
/// SAs keep their size; the AEAD key stays inline, off any indirection.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum EspCipher {
    Aead(EspAead),
    CbcHmac(Box<EspCbcHmac>),
}

/// Why an SA's transform refused an arriving packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The ICV did not verify.
    IcvMismatch,
    /// The ICV verified, but the ciphertext is not a whole number of cipher
    /// blocks (RFC 4303 section 2.4: padding aligns it).
    Misaligned,
}

impl EspCipher {
    /// The transform of an SA's suite and key; an error names the SA's
    /// `key` field (one home for inbound and outbound SAs).
    pub(crate) fn for_sa(config: &SaConfig) -> Result<Self, SaConfigError> {
        Self::new(config.algorithm, &config.key).ok_or_else(|| SaConfigError {
            spi: config.spi,
            field: "key",
            reason: "rejected by the cipher".into(),
        })
    }

    /// The transform of `algorithm` keyed with `key` (see
    /// [`Algorithm::keymat_len`]); `None` for a wrong length.
    pub(crate) fn new(algorithm: Algorithm, key: &SecretKey) -> Option<Self> {
        if algorithm.is_aead() {
            EspAead::new(algorithm, key).map(EspCipher::Aead)
        } else {
            EspCbcHmac::new(algorithm, key).map(|c| EspCipher::CbcHmac(Box::new(c)))
        }
    }

    /// The suite.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            EspCipher::Aead(a) => a.algorithm(),
            EspCipher::CbcHmac(c) => c.algorithm(),
        }
    }

    /// Length of the IV after the ESP header.
    #[inline]
    pub(crate) fn iv_len(&self) -> usize {
        match self {
            EspCipher::Aead(_) => IV_LEN,
            EspCipher::CbcHmac(_) => CBC_BLOCK_LEN,
        }
    }

    /// The ESP header and IV.
    #[inline]
    pub(crate) fn prefix_len(&self) -> usize {
        ESP_HEADER_LEN + self.iv_len()
    }

    /// What the payload, padding and trailer are padded to a multiple of
    /// (RFC 4303 section 2.4): 4 bytes for the AEAD suites (block size 1),
    /// the AES block for CBC.
    #[inline]
    pub(crate) fn payload_align(&self) -> usize {
        match self {
            EspCipher::Aead(_) => 4,
            EspCipher::CbcHmac(_) => CBC_BLOCK_LEN,
        }
    }

    /// Verifies `icv` and decrypts `in_out` in place; `iv` is the IV the
    /// packet carries (its length is [`Self::iv_len`]).
    #[inline]
    pub(crate) fn open(
        &self,
        spi: u32,
        seq: u64,
        esn: bool,
        iv: &[u8],
        in_out: &mut [u8],
        icv: [u8; ICV_LEN],
    ) -> Result<(), OpenError> {
        match self {
            EspCipher::Aead(aead) => {
                let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| OpenError::IcvMismatch)?;
                aead.open(iv, &EspAad::new(spi, seq, esn), in_out, icv)
                    .map_err(|IcvMismatch| OpenError::IcvMismatch)
            }
            EspCipher::CbcHmac(cbc) => {
                cbc.open(spi, seq, esn, iv, in_out, &icv)
                    .map_err(|e| match e {
                        CbcOpenError::IcvMismatch => OpenError::IcvMismatch,
                        CbcOpenError::BadLength => OpenError::Misaligned,
                    })
            }
        }
    }
}
