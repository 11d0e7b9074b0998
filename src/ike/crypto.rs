//! IKEv2 primitives through `ring`: the PRFs and prf+ (RFC 7296 section
//! 2.13, RFC 4868), Diffie-Hellman over ECP-256/384 (RFC 5903) and
//! Curve25519 (RFC 8031) (MODP-2048 in `super::modp`), and the SK payload's AES-GCM (RFC 5282) or
//! AES-CBC (RFC 3602, through RustCrypto's `aes` + `cbc`) with HMAC-SHA2
//! integrity (RFC 4868).

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::hmac;
use ring::rand::SystemRandom;
use zeroize::Zeroizing;

use super::modp::{MODP2048_LEN, ModpPrivate};
use crate::wire::ike::transform;

/// Secret bytes, wiped on drop.
pub type Secret = Zeroizing<Vec<u8>>;

/// The pseudorandom functions (RFC 4868 section 2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prf {
    /// PRF_HMAC_SHA2_256.
    HmacSha256,
    /// PRF_HMAC_SHA2_384.
    HmacSha384,
}

impl Prf {
    /// The IANA transform ID.
    pub fn id(self) -> u16 {
        match self {
            Prf::HmacSha256 => transform::PRF_HMAC_SHA2_256,
            Prf::HmacSha384 => transform::PRF_HMAC_SHA2_384,
        }
    }

    /// The PRF for a transform ID.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            transform::PRF_HMAC_SHA2_256 => Some(Prf::HmacSha256),
            transform::PRF_HMAC_SHA2_384 => Some(Prf::HmacSha384),
            _ => None,
        }
    }

    /// Output length in bytes, also the length of SK_d, SK_pi and SK_pr.
    pub fn output_len(self) -> usize {
        match self {
            Prf::HmacSha256 => 32,
            Prf::HmacSha384 => 48,
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Prf::HmacSha256 => hmac::HMAC_SHA256,
            Prf::HmacSha384 => hmac::HMAC_SHA384,
        }
    }

    /// prf(key, data).
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Secret {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(self.ring(), key));
        for part in data {
            ctx.update(part);
        }
        Zeroizing::new(ctx.sign().as_ref().to_vec())
    }

    /// prf+(key, seed) truncated to `len` bytes (RFC 7296 section 2.13):
    /// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n). `None` past the
    /// 255 blocks the construction allows.
    pub fn plus(self, key: &[u8], seed: &[u8], len: usize) -> Option<Secret> {
        if len > 255 * self.output_len() {
            return None;
        }
        let mut out = Zeroizing::new(Vec::with_capacity(len + self.output_len()));
        let mut previous: Secret = Zeroizing::new(Vec::new());
        let mut counter = 1u8;
        while out.len() < len {
            previous = self.compute(key, &[&previous, seed, &[counter]]);
            out.extend_from_slice(&previous);
            counter = counter.wrapping_add(1);
        }
        out.truncate(len);
        Some(out)
    }
}

/// The Diffie-Hellman groups erdp implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhGroup {
    /// 256-bit random ECP group (19).
    Ecp256,
    /// 384-bit random ECP group (20).
    Ecp384,
    /// Curve25519 (31).
    Curve25519,
    /// 2048-bit MODP group (14, RFC 3526), through `super::modp`.
    Modp2048,
}

/// A Diffie-Hellman failure: a public value of the wrong length or not on
/// the curve (RFC 5903 section 7 checks; ring rejects invalid points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Diffie-Hellman group {group}: the peer's public value is invalid")]
pub struct DhError {
    /// The group number.
    pub group: u16,
}

impl DhGroup {
    /// The IANA group number.
    pub fn id(self) -> u16 {
        match self {
            DhGroup::Ecp256 => transform::DH_ECP_256,
            DhGroup::Ecp384 => transform::DH_ECP_384,
            DhGroup::Curve25519 => transform::DH_CURVE25519,
            DhGroup::Modp2048 => transform::DH_MODP_2048,
        }
    }

    /// The group for a number.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            transform::DH_ECP_256 => Some(DhGroup::Ecp256),
            transform::DH_ECP_384 => Some(DhGroup::Ecp384),
            transform::DH_CURVE25519 => Some(DhGroup::Curve25519),
            transform::DH_MODP_2048 => Some(DhGroup::Modp2048),
            _ => None,
        }
    }

    fn ring(self) -> Option<&'static agreement::Algorithm> {
        match self {
            DhGroup::Ecp256 => Some(&agreement::ECDH_P256),
            DhGroup::Ecp384 => Some(&agreement::ECDH_P384),
            DhGroup::Curve25519 => Some(&agreement::X25519),
            DhGroup::Modp2048 => None,
        }
    }

    /// Length of the KE payload's public value.
    pub fn public_len(self) -> usize {
        match self {
            DhGroup::Ecp256 => 64,
            DhGroup::Ecp384 => 96,
            DhGroup::Curve25519 => 32,
            DhGroup::Modp2048 => MODP2048_LEN,
        }
    }

    fn is_ecp(self) -> bool {
        matches!(self, DhGroup::Ecp256 | DhGroup::Ecp384)
    }

    /// A fresh key pair. `None` only if the system RNG fails.
    pub fn generate(self, rng: &SystemRandom) -> Option<DhPrivate> {
        let Some(algorithm) = self.ring() else {
            let private = ModpPrivate::generate(rng)?;
            return Some(DhPrivate {
                group: self,
                public: private.public().to_vec(),
                private: DhSecret::Modp(private),
            });
        };
        let private = EphemeralPrivateKey::generate(algorithm, rng).ok()?;
        let public = private.compute_public_key().ok()?;
        // ECP public values travel as x || y without the 0x04 prefix
        // (RFC 5903 section 7).
        let public = if self.is_ecp() {
            public.as_ref().get(1..)?.to_vec()
        } else {
            public.as_ref().to_vec()
        };
        Some(DhPrivate {
            group: self,
            private: DhSecret::Ecdh(private),
            public,
        })
    }
}

/// One side's ephemeral Diffie-Hellman key (ring keeps the scalar and
/// zeroizes it; it is used once).
pub struct DhPrivate {
    group: DhGroup,
    private: DhSecret,
    public: Vec<u8>,
}

/// The private half: ring's for the curves, ours for MODP.
enum DhSecret {
    Ecdh(EphemeralPrivateKey),
    Modp(ModpPrivate),
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhPrivate")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl DhPrivate {
    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The public value as the KE payload carries it.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret g^ir with the peer's KE value (for ECP the
    /// x-coordinate, RFC 5903 section 7).
    pub fn agree(self, peer: &[u8]) -> Result<Secret, DhError> {
        let error = DhError {
            group: self.group.id(),
        };
        if peer.len() != self.group.public_len() {
            return Err(error);
        }
        let (private, algorithm) = match (self.private, self.group.ring()) {
            (DhSecret::Ecdh(private), Some(algorithm)) => (private, algorithm),
            (DhSecret::Modp(private), _) => {
                return private
                    .agree(peer)
                    .map(|shared| Zeroizing::new(shared.to_vec()))
                    .ok_or(error);
            }
            (DhSecret::Ecdh(_), None) => return Err(error),
        };
        let mut encoded = Vec::with_capacity(peer.len() + 1);
        if self.group.is_ecp() {
            encoded.push(0x04);
        }
        encoded.extend_from_slice(peer);
        agreement::agree_ephemeral(
            private,
            &UnparsedPublicKey::new(algorithm, &encoded),
            |shared| Zeroizing::new(shared.to_vec()),
        )
        .map_err(|_| error)
    }
}

/// The SK payload's encryption: AES-GCM (RFC 5282: a 16-octet ICV, an
/// 8-octet explicit IV and a 4-octet salt after the key), or AES-CBC (RFC
/// 3602, a 16-octet random IV) with a separate [`IkeInteg`] (RFC 7296
/// section 3.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IkeEncr {
    /// ENCR_AES_GCM_16 with a 128-bit key.
    AesGcm128,
    /// ENCR_AES_GCM_16 with a 256-bit key.
    AesGcm256,
    /// ENCR_AES_CBC with a 128-bit key.
    AesCbc128,
    /// ENCR_AES_CBC with a 256-bit key.
    AesCbc256,
}

/// Length of the SK payload's explicit IV (RFC 5282 section 3.1).
pub(crate) const SK_IV_LEN: usize = 8;
/// Length of the SK payload's ICV (RFC 5282 section 3).
pub(crate) const SK_ICV_LEN: usize = 16;
/// Length of the salt after the key in SK_e (RFC 5282 section 7.1).
pub(crate) const SK_SALT_LEN: usize = 4;

/// The SK payload did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrityFailure;

impl IkeEncr {
    /// The transform ID and Key Length attribute.
    pub fn transform(self) -> (u16, u16) {
        match self {
            IkeEncr::AesGcm128 => (transform::ENCR_AES_GCM_16, 128),
            IkeEncr::AesGcm256 => (transform::ENCR_AES_GCM_16, 256),
            IkeEncr::AesCbc128 => (transform::ENCR_AES_CBC, 128),
            IkeEncr::AesCbc256 => (transform::ENCR_AES_CBC, 256),
        }
    }

    /// The cipher for a transform.
    pub fn from_transform(id: u16, key_bits: Option<u16>) -> Option<Self> {
        match (id, key_bits) {
            (transform::ENCR_AES_GCM_16, Some(128)) => Some(IkeEncr::AesGcm128),
            (transform::ENCR_AES_GCM_16, Some(256)) => Some(IkeEncr::AesGcm256),
            (transform::ENCR_AES_CBC, Some(128)) => Some(IkeEncr::AesCbc128),
            (transform::ENCR_AES_CBC, Some(256)) => Some(IkeEncr::AesCbc256),
            _ => None,
        }
    }

    /// True for AES-GCM (no separate integrity transform).
    pub fn is_aead(self) -> bool {
        matches!(self, IkeEncr::AesGcm128 | IkeEncr::AesGcm256)
    }

    /// Length of SK_ei/SK_er: key and salt (GCM), key (CBC).
    pub fn key_material_len(self) -> usize {
        match self {
            IkeEncr::AesGcm128 => 16 + SK_SALT_LEN,
            IkeEncr::AesGcm256 => 32 + SK_SALT_LEN,
            IkeEncr::AesCbc128 => 16,
            IkeEncr::AesCbc256 => 32,
        }
    }

    /// CBC: encrypts `data` (whole blocks) in place under `key` and `iv`.
    /// `None` for GCM, a wrong key length or a partial block.
    pub fn cbc_encrypt(self, key: &[u8], iv: &[u8; CBC_IV_LEN], data: &mut [u8]) -> Option<()> {
        use aes::cipher::block_padding::NoPadding;
        use aes::cipher::{BlockEncryptMut, KeyIvInit};
        let len = data.len();
        match self {
            IkeEncr::AesCbc128 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
                .ok()?
                .encrypt_padded_mut::<NoPadding>(data, len)
                .ok()
                .map(drop),
            IkeEncr::AesCbc256 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
                .ok()?
                .encrypt_padded_mut::<NoPadding>(data, len)
                .ok()
                .map(drop),
            IkeEncr::AesGcm128 | IkeEncr::AesGcm256 => None,
        }
    }

    /// CBC: decrypts `data` (whole blocks) in place; see
    /// [`Self::cbc_encrypt`].
    pub fn cbc_decrypt(self, key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()> {
        use aes::cipher::block_padding::NoPadding;
        use aes::cipher::{BlockDecryptMut, KeyIvInit};
        match self {
            IkeEncr::AesCbc128 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(data)
                .ok()
                .map(drop),
            IkeEncr::AesCbc256 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(data)
                .ok()
                .map(drop),
            IkeEncr::AesGcm128 | IkeEncr::AesGcm256 => None,
        }
    }

    fn key(self, material: &[u8]) -> Option<(LessSafeKey, [u8; SK_SALT_LEN])> {
        let split = material.len().checked_sub(SK_SALT_LEN)?;
        let (key, salt) = material.split_at(split);
        let algorithm = match self {
            IkeEncr::AesGcm128 => &aead::AES_128_GCM,
            IkeEncr::AesGcm256 => &aead::AES_256_GCM,
            IkeEncr::AesCbc128 | IkeEncr::AesCbc256 => return None,
        };
        let key = LessSafeKey::new(UnboundKey::new(algorithm, key).ok()?);
        Some((key, salt.try_into().ok()?))
    }

    /// Encrypts `plaintext` under `material` (key || salt) and returns
    /// IV || ciphertext || ICV. `aad` is the IKE header and the SK payload
    /// header (RFC 5282 section 5.1).
    pub fn seal(
        self,
        material: &[u8],
        iv: [u8; SK_IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Option<Vec<u8>> {
        let (key, salt) = self.key(material)?;
        let mut out = Vec::with_capacity(SK_IV_LEN + plaintext.len() + SK_ICV_LEN);
        out.extend_from_slice(&iv);
        out.extend_from_slice(plaintext);
        let tag = key
            .seal_in_place_separate_tag(nonce(salt, iv), Aad::from(aad), &mut out[SK_IV_LEN..])
            .ok()?;
        out.extend_from_slice(tag.as_ref());
        Some(out)
    }

    /// Verifies and decrypts IV || ciphertext || ICV; returns the plaintext.
    pub fn open(
        self,
        material: &[u8],
        aad: &[u8],
        body: &[u8],
    ) -> Result<Secret, IntegrityFailure> {
        let (key, salt) = self.key(material).ok_or(IntegrityFailure)?;
        if body.len() < SK_IV_LEN + SK_ICV_LEN {
            return Err(IntegrityFailure);
        }
        let iv: [u8; SK_IV_LEN] = body[..SK_IV_LEN].try_into().map_err(|_| IntegrityFailure)?;
        let mut buf = Zeroizing::new(body[SK_IV_LEN..].to_vec());
        let len = key
            .open_in_place(nonce(salt, iv), Aad::from(aad), &mut buf)
            .map_err(|_| IntegrityFailure)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Length of the SK payload's IV with AES-CBC (RFC 3602 section 3).
pub(crate) const CBC_IV_LEN: usize = 16;

/// The SK payload's integrity transform beside AES-CBC (RFC 4868): HMAC
/// truncated to half its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IkeInteg {
    /// AUTH_HMAC_SHA2_256_128.
    HmacSha256_128,
    /// AUTH_HMAC_SHA2_384_192.
    HmacSha384_192,
}

impl IkeInteg {
    /// The IANA transform ID.
    pub fn id(self) -> u16 {
        match self {
            IkeInteg::HmacSha256_128 => transform::AUTH_HMAC_SHA2_256_128,
            IkeInteg::HmacSha384_192 => transform::AUTH_HMAC_SHA2_384_192,
        }
    }

    /// The transform for an ID.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            transform::AUTH_HMAC_SHA2_256_128 => Some(IkeInteg::HmacSha256_128),
            transform::AUTH_HMAC_SHA2_384_192 => Some(IkeInteg::HmacSha384_192),
            _ => None,
        }
    }

    /// Length of SK_ai/SK_ar (RFC 4868 section 2.1.1: the hash's output).
    pub fn key_len(self) -> usize {
        match self {
            IkeInteg::HmacSha256_128 => 32,
            IkeInteg::HmacSha384_192 => 48,
        }
    }

    /// Length of the truncated ICV (RFC 4868 section 2.6).
    pub fn icv_len(self) -> usize {
        match self {
            IkeInteg::HmacSha256_128 => 16,
            IkeInteg::HmacSha384_192 => 24,
        }
    }

    /// The truncated HMAC of `data` under `key`.
    pub fn icv(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            IkeInteg::HmacSha256_128 => hmac::HMAC_SHA256,
            IkeInteg::HmacSha384_192 => hmac::HMAC_SHA384,
        };
        let tag = hmac::sign(&hmac::Key::new(algorithm, key), data);
        tag.as_ref()
            .get(..self.icv_len())
            .unwrap_or_default()
            .to_vec()
    }

    /// Checks `icv` against `data` in constant time.
    pub fn verify(self, key: &[u8], data: &[u8], icv: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.icv(key, data);
        expected.len() == icv.len() && bool::from(expected.ct_eq(icv))
    }
}

fn nonce(salt: [u8; SK_SALT_LEN], iv: [u8; SK_IV_LEN]) -> Nonce {
    let mut n = [0u8; aead::NONCE_LEN];
    n[..SK_SALT_LEN].copy_from_slice(&salt);
    n[SK_SALT_LEN..].copy_from_slice(&iv);
    Nonce::assume_unique_for_key(n)
}

/// The NAT_DETECTION_*_IP hash: SHA-1(SPIi | SPIr | IP | port) (RFC 7296
/// section 2.23).
pub(crate) fn nat_detection_hash(spi_i: u64, spi_r: u64, addr: std::net::SocketAddr) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&spi_i.to_be_bytes());
    ctx.update(&spi_r.to_be_bytes());
    match addr.ip() {
        std::net::IpAddr::V4(a) => ctx.update(&a.octets()),
        std::net::IpAddr::V6(a) => ctx.update(&a.octets()),
    }
    ctx.update(&addr.port().to_be_bytes());
    ctx.finish().as_ref().to_vec()
}
