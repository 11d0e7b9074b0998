//! IKEv2 key derivation (RFC 7296 sections 2.14, 2.17) and the pre-shared
//! key AUTH value (section 2.15). Every key is zeroized on drop and
//! redacted in `Debug`.

use zeroize::Zeroizing;

use super::crypto::{Prf, Secret};

/// The keys of an IKE SA: SK_d, SK_ai/ar (empty for AEAD), SK_ei/er, SK_pi/pr.
pub struct IkeKeys {
    /// Derives CHILD_SA keys.
    pub sk_d: Secret,
    /// Integrity, initiator to responder (empty for AEAD).
    pub sk_ai: Secret,
    /// Integrity, responder to initiator (empty for AEAD).
    pub sk_ar: Secret,
    /// Encryption (key || salt for AEAD), initiator to responder.
    pub sk_ei: Secret,
    /// Encryption, responder to initiator.
    pub sk_er: Secret,
    /// The initiator's AUTH key.
    pub sk_pi: Secret,
    /// The responder's AUTH key.
    pub sk_pr: Secret,
}

impl std::fmt::Debug for IkeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IkeKeys(<redacted>)")
    }
}

/// The inputs of [`derive_ike_keys`].
pub struct KeyInputs<'a> {
    /// The negotiated PRF.
    pub prf: Prf,
    /// The Diffie-Hellman shared secret g^ir.
    pub shared: &'a [u8],
    /// The initiator's nonce.
    pub ni: &'a [u8],
    /// The responder's nonce.
    pub nr: &'a [u8],
    /// The initiator's SPI.
    pub spi_i: u64,
    /// The responder's SPI.
    pub spi_r: u64,
    /// Length of each SK_a (0 for AEAD).
    pub integ_len: usize,
    /// Length of each SK_e (key and salt for AEAD).
    pub encr_len: usize,
}

/// SKEYSEED = prf(Ni | Nr, g^ir), then {SK_d | SK_ai | SK_ar | SK_ei |
/// SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
pub fn derive_ike_keys(input: &KeyInputs<'_>) -> Option<IkeKeys> {
    let prf = input.prf;
    let seed_key: Secret = Zeroizing::new([input.ni, input.nr].concat());
    let skeyseed = prf.compute(&seed_key, &[input.shared]);
    let mut seed = Vec::with_capacity(seed_key.len() + 16);
    seed.extend_from_slice(&seed_key);
    seed.extend_from_slice(&input.spi_i.to_be_bytes());
    seed.extend_from_slice(&input.spi_r.to_be_bytes());
    let lens = [
        prf.output_len(),
        input.integ_len,
        input.integ_len,
        input.encr_len,
        input.encr_len,
        prf.output_len(),
        prf.output_len(),
    ];
    let stream = prf.plus(&skeyseed, &seed, lens.iter().sum())?;
    let mut at = 0;
    let mut next = |len: usize| {
        let key = Zeroizing::new(stream[at..at + len].to_vec());
        at += len;
        key
    };
    Some(IkeKeys {
        sk_d: next(lens[0]),
        sk_ai: next(lens[1]),
        sk_ar: next(lens[2]),
        sk_ei: next(lens[3]),
        sk_er: next(lens[4]),
        sk_pi: next(lens[5]),
        sk_pr: next(lens[6]),
    })
}

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) split into the key of the
/// initiator-to-responder SA then the responder-to-initiator SA, each
/// `len` bytes (RFC 7296 section 2.17).
pub fn derive_child_keys(
    prf: Prf,
    sk_d: &[u8],
    shared: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Option<(Secret, Secret)> {
    let mut seed: Secret = Zeroizing::new(Vec::new());
    if let Some(shared) = shared {
        seed.extend_from_slice(shared);
    }
    seed.extend_from_slice(ni);
    seed.extend_from_slice(nr);
    let stream = prf.plus(sk_d, &seed, 2 * len)?;
    Some((
        Zeroizing::new(stream[..len].to_vec()),
        Zeroizing::new(stream[len..].to_vec()),
    ))
}

/// The pad string of PSK authentication (RFC 7296 section 2.15).
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// AUTH = prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce |
/// prf(SK_p, ID body)): the initiator signs its IKE_SA_INIT request and the
/// responder's nonce with SK_pi, the responder its IKE_SA_INIT response and
/// the initiator's nonce with SK_pr.
pub fn psk_auth(
    prf: Prf,
    psk: &[u8],
    real_message: &[u8],
    peer_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
) -> Secret {
    let maced_id = prf.compute(sk_p, &[id_body]);
    let pad_key = prf.compute(psk, &[KEY_PAD]);
    prf.compute(&pad_key, &[real_message, peer_nonce, &maced_id])
}

/// Constant-time comparison of two AUTH values.
pub(crate) fn auth_matches(expected: &[u8], received: &[u8]) -> bool {
    expected.len() == received.len()
        && expected
            .iter()
            .zip(received)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
