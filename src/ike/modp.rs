//! Diffie-Hellman group 14, the 2048-bit MODP group (RFC 3526 section 3),
//! for IKEv2 peers that offer no elliptic curve (`modp2048`, still in
//! Azure's policy lists). `ring` has no finite-field DH: the arithmetic is
//! `crypto-bigint`'s, chosen over `num-bigint` because its Montgomery
//! exponentiation is constant time in the exponent (a fixed window, no
//! secret-dependent branch or memory access) and it works on fixed-size
//! stack integers (`U2048`), so no secret sits in a reallocated heap buffer.
//! Private exponents are 256 bits (RFC 3526 section 8: twice the group's
//! ~112-bit strength, as strongSwan does), from `ring`'s `SystemRandom`.

use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, U256, U2048};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

/// Length of a public value and of the shared secret (RFC 7296 section
/// 3.4: the modulus' length, zero-padded on the left).
pub(crate) const MODP2048_LEN: usize = 256;

/// The RFC 3526 section 3 prime: 2^2048 - 2^1984 - 1 + 2^64 * ([2^1918 pi]
/// + 124476). The generator is 2.
const PRIME_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

const PRIME: U2048 = U2048::from_be_hex(PRIME_HEX);

fn params() -> MontyParams<{ U2048::LIMBS }> {
    // The prime is odd: `Odd::new` cannot fail on it.
    MontyParams::new_vartime(Odd::new(PRIME).unwrap_or(Odd::<U2048>::default()))
}

/// A private exponent, wiped on drop.
pub(crate) struct ModpPrivate(Zeroizing<[u8; 32]>);

impl ModpPrivate {
    /// A fresh random exponent; `None` only if the system RNG fails.
    pub(crate) fn generate(rng: &SystemRandom) -> Option<Self> {
        let mut x = Zeroizing::new([0u8; 32]);
        rng.fill(x.as_mut()).ok()?;
        Some(ModpPrivate(x))
    }

    /// An exponent from given bytes (known-answer tests).
    #[cfg(test)]
    pub(crate) fn from_bytes(x: [u8; 32]) -> Self {
        ModpPrivate(Zeroizing::new(x))
    }

    fn exponent(&self) -> U256 {
        U256::from_be_slice(self.0.as_ref())
    }

    /// g^x mod p, 256 bytes big-endian.
    pub(crate) fn public(&self) -> [u8; MODP2048_LEN] {
        let mut exponent = self.exponent();
        let g = MontyForm::new(&U2048::from_u8(2), params());
        let y = g.pow(&exponent).retrieve().to_be_bytes();
        exponent.zeroize();
        y
    }

    /// The shared secret y^x mod p, after checking that the peer's public
    /// value is 256 bytes and 1 < y < p - 1 (RFC 6989 section 2.1: rejects
    /// 0, 1 and p - 1, the values of small order). `None` for an invalid
    /// value.
    pub(crate) fn agree(&self, peer: &[u8]) -> Option<Zeroizing<[u8; MODP2048_LEN]>> {
        if peer.len() != MODP2048_LEN {
            return None;
        }
        let y = U2048::from_be_slice(peer);
        let p_minus_1 = PRIME.wrapping_sub(&U2048::ONE);
        if y <= U2048::ONE || y >= p_minus_1 {
            return None;
        }
        let mut exponent = self.exponent();
        let mut shared = MontyForm::new(&y, params()).pow(&exponent).retrieve();
        exponent.zeroize();
        let out = Zeroizing::new(shared.to_be_bytes());
        shared.zeroize();
        Some(out)
    }
}

impl std::fmt::Debug for ModpPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModpPrivate(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Python's pow(2, x, p), pow(Y, x, p) over the RFC 3526 prime:
    // x = 0xa1 * 32 bytes, y = 0x5c * 32 bytes.
    const X_PUBLIC: &str = "f096a43973d9e3bb8b97dca1220c90d0d61213ab9b3187d73e456d3e5994eda8a9b3a4c9a1bc1c38c59a6f7f95ef107facfe34cd748da2ddfe88c07b1c4ab4ac19e6817fbb38440ada4f611613d64b1a0a068d5b015a8fd8684ce71f5831faa408353fc154042b57f4f08c61d009de352b45cdc84fae671f0137ad781a2cf3a58e48e9917eb1f0abd5e9d2faa9db56eb66bafbf2704a442e65a5113a4d3666efcce6326c4cf7f7719d5ac07008375d2ce710e77ddd85d124a2f8f0fe753fea59e50109288258ed5592b00b56b22f1cf1fac09bc399ae32464ed5caf526481fa52a80e767cb1fbf43ed2d870c75e7e7ce1f71c26a91e3296a0bf418e83d07fc00";
    const Y_PUBLIC: &str = "14b59841165c673c08515075a7983ef5dd813116fb861f91478f8799cf7d4853eaf03c6fbb95240d49306664f97a807aa9449d09a236eccff0fdb375b0c816f574d5504276648177454e22aee1dbe7b3e9182a3d1ffae9e3c6dfc0bb16fe4f980318111914c080e5a49265d63df0ff0b0aa5ae91a87e8038db21783ccca5297c529af3ea0ee3e018bbe92b1d9f5bd2a7a1c89c29b9124f16fef6fe38af4d4b5ab0ed98aa4e2e0a3e6748a704f77bf35d09e6a32ea2873573d115f6e95a0ae06ed5c7f597fd4d4dd310bf3b1701e471e1284ea098c3f59633d22e11d46b35ff6a6d39ca42da5f79791536abb88135e7d49232abc7de7b2214f8c0c42cca0415ea";
    const SHARED: &str = "9fdd3d2c171db4d8290c902067ccd8b21e04e2f6bb19f67281c84a70a885eed1dfe25ae8e1d4809bab4e32f89eda50fe567ee6db53ce21219b0d04050c362c694864f46a02b981739b14ec10ee36e504536a7f5c5ca6341910804d1091b756d8e90835e63703627ddbd6eb70ef282c84ca02eeab15a643e4c8421085c13c2ded263ee24c637bd4fe0d3a45dff6201b48c93f22e8f1b9cf1a8fc14ecfeed1e6cf3030d2574ad7d90ef2ff355ff12c833fc86fa060abcf712949cfe4f6d1b9005b1fb8ad47d9deaa5ff491c59ddd868cbba1d91d592500398f8a8900644a7f0e00ee407342d392eae407eed2ec1a57e51dc7a83e72742b3cfeac2b5d77a2391bde";

    #[test]
    fn modp2048_matches_python_pow() {
        let x = ModpPrivate::from_bytes([0xa1; 32]);
        let y = ModpPrivate::from_bytes([0x5c; 32]);
        assert_eq!(hex::encode(x.public()), X_PUBLIC);
        assert_eq!(hex::encode(y.public()), Y_PUBLIC);
        let shared = x.agree(&y.public()).unwrap();
        assert_eq!(hex::encode(shared.as_ref()), SHARED);
        assert_eq!(y.agree(&x.public()).unwrap().as_ref(), shared.as_ref());
    }

    #[test]
    fn modp2048_rejects_degenerate_and_misframed_public_values() {
        let x = ModpPrivate::from_bytes([0xa1; 32]);
        let p = PRIME.to_be_bytes();
        let p_minus_1 = PRIME.wrapping_sub(&U2048::ONE).to_be_bytes();
        let mut one = [0u8; MODP2048_LEN];
        one[MODP2048_LEN - 1] = 1;
        for bad in [[0u8; MODP2048_LEN], one, p_minus_1, p, [0xff; MODP2048_LEN]] {
            assert!(x.agree(&bad).is_none());
        }
        let good = hex::decode(Y_PUBLIC).unwrap();
        assert!(x.agree(&good[1..]).is_none());
        assert!(x.agree(&[good.clone(), vec![0]].concat()).is_none());
        let mut two = [0u8; MODP2048_LEN];
        two[MODP2048_LEN - 1] = 2;
        assert!(x.agree(&two).is_some());
        assert!(x.agree(&good).is_some());
    }
}
