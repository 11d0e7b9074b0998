//! The ESP AES-CBC transform (RFC 3602) with HMAC-SHA2-256-128 integrity
//! (RFC 4868), as a suite beside the AEAD ones: encrypt-then-MAC, the ICV
//! over SPI || sequence || IV || ciphertext (|| ESN high bits, RFC 4303
//! section 2.2.1), checked in constant time before anything is decrypted.
//!
//! AES comes from RustCrypto's `aes` + `cbc` crates (ring has no CBC), the
//! HMAC from `ring`. The IV of each packet is the output of a CSPRNG: AES in
//! counter mode under a per-SA 128-bit key drawn from `ring`'s
//! `SystemRandom` when the SA is built, counter = the packet's 64-bit
//! sequence number (never reused under one SA). That is unpredictable to
//! anyone without the per-SA secret, as RFC 3602 section 2 requires, costs
//! one AES block and no system call per packet, and takes no lock.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes128, Aes128Enc, Aes256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use super::config::{Algorithm, SecretKey};

/// AES block size, and the CBC IV's length (RFC 3602 section 3).
pub const CBC_BLOCK_LEN: usize = 16;
/// The truncated HMAC-SHA2-256 ICV (RFC 4868 section 2.6: 128 bits).
pub const HMAC_SHA256_128_LEN: usize = 16;

/// The AES key schedule (both directions: one suite object serves an
/// outbound or an inbound SA). Unboxed on purpose: it is read per packet,
/// and the whole suite sits behind one `Box` in [`super::suite::EspCipher`].
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
enum AesKey {
    Aes128(Aes128),
    Aes256(Aes256),
}

/// A keyed AES-CBC + HMAC-SHA2-256-128 ESP transform.
pub struct EspCbcHmac {
    cipher: AesKey,
    mac: hmac::Key,
    /// Keys the per-packet IV generator (see the module docs).
    iv_key: Aes128Enc,
    algorithm: Algorithm,
}

impl EspCbcHmac {
    /// Builds the key schedules from `encryption key || integrity key`
    /// (RFC 7296 section 2.17 order) and draws the IV generator's key.
    /// `None` when the length does not fit the algorithm or the system
    /// random generator fails.
    pub fn new(algorithm: Algorithm, key: &SecretKey) -> Option<Self> {
        let mut iv_key = zeroize::Zeroizing::new([0u8; 16]);
        SystemRandom::new().fill(iv_key.as_mut()).ok()?;
        Self::with_iv_key(algorithm, key, &iv_key)
    }

    /// [`Self::new`] with a given IV generator key: for known-answer tests
    /// that need reproducible IVs.
    pub fn with_iv_key(algorithm: Algorithm, key: &SecretKey, iv_key: &[u8; 16]) -> Option<Self> {
        let bytes = key.expose_bytes();
        if algorithm.is_aead() || bytes.len() != algorithm.keymat_len() {
            return None;
        }
        let (encryption, integrity) = bytes.split_at(algorithm.key_len());
        let cipher = match algorithm {
            Algorithm::Aes128CbcHmacSha256 => {
                AesKey::Aes128(Aes128::new_from_slice(encryption).ok()?)
            }
            _ => AesKey::Aes256(Aes256::new_from_slice(encryption).ok()?),
        };
        Some(EspCbcHmac {
            cipher,
            mac: hmac::Key::new(hmac::HMAC_SHA256, integrity),
            iv_key: Aes128Enc::new(iv_key.into()),
            algorithm,
        })
    }

    /// The suite.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The IV of the packet with sequence number `seq`.
    #[inline]
    pub fn iv_for(&self, seq: u64) -> [u8; CBC_BLOCK_LEN] {
        let mut block = [0u8; CBC_BLOCK_LEN];
        block[..8].copy_from_slice(&seq.to_be_bytes());
        let mut block = block.into();
        self.iv_key.encrypt_block(&mut block);
        block.into()
    }

    /// The ICV of an ESP packet: HMAC-SHA2-256 over SPI, the low 32 bits of
    /// `seq`, the IV and the ciphertext, then the high 32 bits when `esn`
    /// is on (RFC 4303 section 2.2.1), truncated to 128 bits.
    #[inline]
    pub fn icv(
        &self,
        spi: u32,
        seq: u64,
        esn: bool,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> [u8; HMAC_SHA256_128_LEN] {
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&spi.to_be_bytes());
        header[4..].copy_from_slice(&(seq as u32).to_be_bytes());
        let mut context = hmac::Context::with_key(&self.mac);
        context.update(&header);
        context.update(iv);
        context.update(ciphertext);
        if esn {
            context.update(&((seq >> 32) as u32).to_be_bytes());
        }
        let tag = context.sign();
        let mut icv = [0u8; HMAC_SHA256_128_LEN];
        icv.copy_from_slice(tag.as_ref().get(..HMAC_SHA256_128_LEN).unwrap_or_default());
        icv
    }

    /// Encrypts `in_out` (a whole number of blocks: the padded payload) in
    /// place under `iv` and returns the ICV. `None` for a length that is
    /// not a multiple of the block size.
    pub fn seal(
        &self,
        spi: u32,
        seq: u64,
        esn: bool,
        iv: &[u8; CBC_BLOCK_LEN],
        in_out: &mut [u8],
    ) -> Option<[u8; HMAC_SHA256_128_LEN]> {
        if !in_out.len().is_multiple_of(CBC_BLOCK_LEN) {
            return None;
        }
        let len = in_out.len();
        let done = match &self.cipher {
            AesKey::Aes128(k) => cbc::Encryptor::inner_iv_init(k.clone(), iv.into())
                .encrypt_padded_mut::<NoPadding>(in_out, len)
                .is_ok(),
            AesKey::Aes256(k) => cbc::Encryptor::inner_iv_init(k.clone(), iv.into())
                .encrypt_padded_mut::<NoPadding>(in_out, len)
                .is_ok(),
        };
        done.then(|| self.icv(spi, seq, esn, iv, in_out))
    }

    /// Verifies `icv` in constant time over the untouched ciphertext, and
    /// only then decrypts `in_out` in place. A ciphertext that is not a
    /// whole number of blocks fails after the ICV check (it can only come
    /// from a peer holding the key).
    pub fn open(
        &self,
        spi: u32,
        seq: u64,
        esn: bool,
        iv: &[u8],
        in_out: &mut [u8],
        icv: &[u8; HMAC_SHA256_128_LEN],
    ) -> Result<(), CbcOpenError> {
        let expected = self.icv(spi, seq, esn, iv, in_out);
        if !bool::from(expected.ct_eq(icv)) {
            return Err(CbcOpenError::IcvMismatch);
        }
        let iv: &[u8; CBC_BLOCK_LEN] = iv.try_into().map_err(|_| CbcOpenError::BadLength)?;
        let done = match &self.cipher {
            AesKey::Aes128(k) => cbc::Decryptor::inner_iv_init(k.clone(), iv.into())
                .decrypt_padded_mut::<NoPadding>(in_out)
                .is_ok(),
            AesKey::Aes256(k) => cbc::Decryptor::inner_iv_init(k.clone(), iv.into())
                .decrypt_padded_mut::<NoPadding>(in_out)
                .is_ok(),
        };
        if done {
            Ok(())
        } else {
            Err(CbcOpenError::BadLength)
        }
    }
}

/// Why [`EspCbcHmac::open`] refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CbcOpenError {
    /// The ICV did not verify; nothing was decrypted.
    IcvMismatch,
    /// The ICV verified but the ciphertext is not a whole number of blocks.
    BadLength,
}

impl std::fmt::Debug for EspCbcHmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspCbcHmac")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}
