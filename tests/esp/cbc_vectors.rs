//! Known-answer tests for the ESP AES-CBC + HMAC-SHA2-256-128 suite: the
//! RFC 3602 section 4 AES-CBC vectors (cases 1 to 4) and NIST SP 800-38A
//! F.2.5 for AES-256, the RFC 4868 section 2.7.2.1 HMAC-SHA-256 vectors with
//! their 128-bit truncation, and whole ESP packets made independently by
//! `pcaps/esp/make_cbc_vector.py` (Python `cryptography` + `hmac`), checked
//! through the transform and through full decapsulation.

use crate::support;

use erdp::esp::{Algorithm, CbcOpenError, EspCbcHmac, EspDrop, InboundSa, SaConfig, SecretKey};
use erdp::packet::PacketBuf;
use support::esp::esp_in_ipv4;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The suite keyed with `encryption` and an integrity key of 32 bytes.
fn suite(encryption: &str, integrity: &[u8]) -> EspCbcHmac {
    let algorithm = if encryption.len() == 32 {
        Algorithm::Aes128CbcHmacSha256
    } else {
        Algorithm::Aes256CbcHmacSha256
    };
    let key = SecretKey::from_bytes(&[hex(encryption), integrity.to_vec()].concat());
    EspCbcHmac::with_iv_key(algorithm, &key, &[0; 16]).unwrap()
}

/// (key, IV, plaintext, ciphertext): RFC 3602 section 4 cases 1 to 4
/// (AES-128), then NIST SP 800-38A F.2.5 (AES-256, two blocks).
const CBC_VECTORS: [(&str, &str, &str, &str); 5] = [
    (
        "06a9214036b8a15b512e03d534120006",
        "3dafba429d9eb430b422da802c9fac41",
        // "Single block msg"
        "53696e676c6520626c6f636b206d7367",
        "e353779c1079aeb82708942dbe77181a",
    ),
    (
        "c286696d887c9aa0611bbb3e2025a45a",
        "562e17996d093d28ddb3ba695a2e6f58",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
    ),
    (
        "6c3ea0477630ce21a2ce334aa746c2cd",
        "c782dc4c098c66cbd9cd27d825682c81",
        // "This is a 48-byte message (exactly 3 AES blocks)"
        "5468697320697320612034382d62797465206d657373616765202865786163746c7920332041455320626c6f636b7329",
        "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5021c19216bad525c8579695d83ba2684",
    ),
    (
        "56e47a38c5598974bc46903dba290349",
        "8ce82eefbea0da3c44699ed7db51b7d9",
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\
         c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
        "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e\
         35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55",
    ),
    (
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "000102030405060708090a0b0c0d0e0f",
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
        "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d",
    ),
];

#[test]
fn aes_cbc_encrypts_and_decrypts_the_rfc3602_and_sp800_38a_vectors() {
    for (key, iv, plaintext, ciphertext) in CBC_VECTORS {
        let s = suite(key, &[7; 32]);
        let iv: [u8; 16] = hex(iv).try_into().unwrap();
        let mut data = hex(plaintext);
        let icv = s.seal(0x1000, 1, false, &iv, &mut data).unwrap();
        assert_eq!(hex::encode(&data), ciphertext, "key {key}");
        s.open(0x1000, 1, false, &iv, &mut data, &icv).unwrap();
        assert_eq!(hex::encode(&data), plaintext, "key {key}");
    }
}

/// RFC 4868 section 2.7.2.1 (HMAC-SHA-256 with 32-byte keys): key, data,
/// the full HMAC. The ICV is its first 16 bytes (section 2.6).
const HMAC_VECTORS: [(&str, &str, &str); 4] = [
    (
        "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        // "Hi There"
        "4869205468657265",
        "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7",
    ),
    (
        // "Jefe" four times... eight times.
        "4a6566654a6566654a6566654a6566654a6566654a6566654a6566654a656665",
        // "what do ya want for nothing?"
        "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
        "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6",
    ),
    (
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\
         dddddddddddddddddddddddddddddddddddd",
        "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0",
    ),
    (
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\
         cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        "372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f",
    ),
];

#[test]
fn icv_is_the_rfc4868_hmac_sha256_truncated_to_128_bits() {
    for (key, data, full) in HMAC_VECTORS {
        let s = suite("00000000000000000000000000000000", &hex(key));
        // The ICV covers SPI || sequence || IV || ciphertext: the vector's
        // data split into those fields gives the plain HMAC of it.
        let data = hex(data);
        let spi = u32::from_be_bytes(data[0..4].try_into().unwrap());
        let seq = u32::from_be_bytes(data[4..8].try_into().unwrap());
        let icv = s.icv(spi, u64::from(seq), false, &[], &data[8..]);
        assert_eq!(hex::encode(icv), full[..32], "key {key}");
        // The IV and ciphertext are one byte stream to the HMAC.
        let (iv, rest) = data[8..].split_at(data.len().min(24) - 8);
        assert_eq!(s.icv(spi, u64::from(seq), false, iv, rest), icv);
    }
}

#[test]
fn icv_with_esn_covers_the_high_bits_after_the_payload() {
    // RFC 4303 section 2.2.1: the high 32 bits are appended (not sent).
    let (key, _, _) = HMAC_VECTORS[0];
    let s = suite("00000000000000000000000000000000", &hex(key));
    let seq = (0x4869_2054u64 << 32) | 0x6865_7265;
    // SPI "Hi T", low "here", high "Hi T" after the empty payload: the HMAC
    // of "Hi ThereHi T".
    let expected = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hex(key)),
        b"Hi ThereHi T",
    );
    assert_eq!(
        s.icv(0x4869_2054, seq, true, &[], &[]),
        expected.as_ref()[..16]
    );
    assert_ne!(
        s.icv(0x4869_2054, seq, true, &[], &[]),
        s.icv(0x4869_2054, seq, false, &[], &[])
    );
}

/// Made by pcaps/esp/make_cbc_vector.py: (algorithm, key, IV, inner IPv4
/// packet, ESP packet from the SPI to the ICV); SPI 0x4868, sequence 7.
const ESP_VECTORS: [(Algorithm, &str, &str, &str, &str); 2] = [
    (
        Algorithm::Aes128CbcHmacSha256,
        "404142434445464748494a4b4c4d4e4f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
        INNER,
        "0000486800000007c0c1c2c3c4c5c6c7c8c9cacbcccdcecf9650a6c566d841da6a9c266af6fb6ff514297c123ae385\
         8ae1d455b75b3ea5e244efb47d87ebe454cc7f53d59da7f33c22f06cf1ca804e81dc25d9ca0e86463f7419bb2a6498\
         f17ddf4c706e9d3d1bb338675bdc160017853fc1ce70b00a2bf2",
    ),
    (
        Algorithm::Aes256CbcHmacSha256,
        "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
        INNER,
        "0000486800000007c0c1c2c3c4c5c6c7c8c9cacbcccdcecf973f785b2f00104882c72e11a7a120d7180be0235323f9\
         ecc1cd8a701ca37f5139e761c80a8f5c8abfce809697590e7d3cdcdc2a0f172a5cbf2dd4c32e8bdce9e3072d6acb4f\
         77675af55f3b4ea617a541470df4fe2802ad70494238680072ac",
    ),
];

const INNER: &str = "45000041000100003f1167a70a0100010a02000103e807d0002d0000000102030405060708\
                     090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324";

fn sa_config(algorithm: Algorithm, key: &str) -> SaConfig {
    let mut c = SaConfig::new(0x4868, algorithm, SecretKey::from_hex(key).unwrap());
    c.traffic_selectors = Default::default();
    c
}

#[test]
fn seal_reproduces_the_python_esp_packets() {
    for (algorithm, key, iv, inner, esp) in ESP_VECTORS {
        let s = EspCbcHmac::with_iv_key(algorithm, &SecretKey::from_hex(key).unwrap(), &[0; 16])
            .unwrap();
        // Inner 65 bytes + 13 padding + pad length + next header = 5 blocks.
        let mut payload = hex(inner);
        payload.extend((1..=13u8).chain([13, 4]));
        let iv: [u8; 16] = hex(iv).try_into().unwrap();
        let icv = s.seal(0x4868, 7, false, &iv, &mut payload).unwrap();
        let wire = [
            &0x4868u32.to_be_bytes()[..],
            &7u32.to_be_bytes(),
            &iv,
            &payload,
            &icv,
        ]
        .concat();
        assert_eq!(hex::encode(wire), esp, "{algorithm}");
    }
}

#[test]
fn python_esp_packets_decapsulate_to_the_inner_packet() {
    for (algorithm, key, _, inner, esp) in ESP_VECTORS {
        let sa = InboundSa::new(&sa_config(algorithm, key)).unwrap();
        let esp = hex(esp);
        let packet = esp_in_ipv4(0x4868, 7, &esp[8..24], &esp[24..]);
        let mut buf = PacketBuf::new();
        buf.load(&packet, PacketBuf::DEFAULT_HEADROOM).unwrap();
        let outcome = sa.decapsulate(&mut buf).unwrap();
        assert_eq!(outcome.seq, 7);
        assert_eq!(hex::encode(buf.as_slice()), inner, "{algorithm}");
        // The same packet again is a replay.
        buf.load(&packet, PacketBuf::DEFAULT_HEADROOM).unwrap();
        assert_eq!(sa.decapsulate(&mut buf), Err(EspDrop::Replayed));
    }
}

#[test]
fn any_flipped_bit_fails_the_icv_and_nothing_is_decrypted() {
    let (algorithm, key, _, _, esp) = ESP_VECTORS[0];
    let sa = InboundSa::new(&sa_config(algorithm, key)).unwrap();
    let esp = hex(esp);
    // Every byte from the SPI's last byte (the SPI must still match) to
    // the ICV's: header, IV, ciphertext, ICV.
    for at in 3..esp.len() {
        let mut bad = esp.clone();
        bad[at] ^= 0x10;
        let packet = esp_in_ipv4(
            u32::from_be_bytes(bad[0..4].try_into().unwrap()),
            u32::from_be_bytes(bad[4..8].try_into().unwrap()),
            &bad[8..24],
            &bad[24..],
        );
        let mut buf = PacketBuf::new();
        buf.load(&packet, PacketBuf::DEFAULT_HEADROOM).unwrap();
        let want = if at < 4 {
            EspDrop::UnknownSpi
        } else {
            EspDrop::IcvFailed
        };
        assert_eq!(sa.decapsulate(&mut buf), Err(want), "byte {at}");
    }
    // The transform leaves the ciphertext untouched on a bad ICV.
    let s =
        EspCbcHmac::with_iv_key(algorithm, &SecretKey::from_hex(key).unwrap(), &[0; 16]).unwrap();
    let mut ciphertext = esp[24..esp.len() - 16].to_vec();
    let mut icv: [u8; 16] = esp[esp.len() - 16..].try_into().unwrap();
    icv[0] ^= 1;
    assert_eq!(
        s.open(0x4868, 7, false, &esp[8..24], &mut ciphertext, &icv),
        Err(CbcOpenError::IcvMismatch)
    );
    assert_eq!(ciphertext, esp[24..esp.len() - 16]);
}

#[test]
fn an_authentic_ciphertext_that_is_not_whole_blocks_is_bad_padding() {
    let (algorithm, key, iv, _, _) = ESP_VECTORS[0];
    let s =
        EspCbcHmac::with_iv_key(algorithm, &SecretKey::from_hex(key).unwrap(), &[0; 16]).unwrap();
    let iv = hex(iv);
    // A peer with the key signs 20 bytes of "ciphertext".
    let body = [0x55u8; 20];
    let icv = s.icv(0x4868, 9, false, &iv, &body);
    let packet = esp_in_ipv4(0x4868, 9, &iv, &[&body[..], &icv].concat());
    let sa = InboundSa::new(&sa_config(algorithm, key)).unwrap();
    let mut buf = PacketBuf::new();
    buf.load(&packet, PacketBuf::DEFAULT_HEADROOM).unwrap();
    assert_eq!(sa.decapsulate(&mut buf), Err(EspDrop::BadPadding));
}

#[test]
fn iv_generator_gives_distinct_unrelated_ivs() {
    let (algorithm, key, _, _, _) = ESP_VECTORS[0];
    let key = SecretKey::from_hex(key).unwrap();
    let a = EspCbcHmac::new(algorithm, &key).unwrap();
    let b = EspCbcHmac::new(algorithm, &key).unwrap();
    let ivs: std::collections::HashSet<[u8; 16]> = (1..=1000).map(|seq| a.iv_for(seq)).collect();
    assert_eq!(ivs.len(), 1000);
    // Each SA draws its own generator key: same sequence, other IV.
    assert_ne!(a.iv_for(1), b.iv_for(1));
    // Never the sequence number itself (as the AEAD suites' IV is).
    assert_ne!(a.iv_for(1)[..8], 1u64.to_be_bytes());
}
