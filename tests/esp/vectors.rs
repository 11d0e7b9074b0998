//! Known-answer tests for the ESP AEAD transform: all 13 vectors of
//! `esp-aead-vectors.json` (draft-mcgrew-gcm-test-01 for RFC 4106 AES-GCM,
//! RFC 7634 Appendix A for ChaCha20-Poly1305), embedded here, checked in
//! both directions through the AEAD and through full decapsulation.

use crate::support;

use erdp::esp::{Algorithm, EspAad, EspAead, EspDrop, InboundSa, SaConfig, SecretKey};
use erdp::packet::PacketBuf;
use support::esp::esp_in_ipv4;

struct Vector {
    name: &'static str,
    algorithm: Algorithm,
    key: &'static str,
    salt: &'static str,
    spi: u32,
    esn: bool,
    /// Full 64-bit sequence number (high half used only with ESN).
    seq: u64,
    iv: &'static str,
    aad: &'static str,
    /// ESP payload with its trailer (padding, pad length, next header).
    plaintext: &'static str,
    /// What follows the 8-byte IV on the wire.
    ciphertext_and_icv: &'static str,
}

const VECTORS: [Vector; 13] = [
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #1",
        algorithm: Algorithm::Aes128Gcm,
        key: "4c80cdefbb5d10da906ac73c3613a634",
        salt: "2e443b68",
        spi: 0x00004321,
        esn: true,
        seq: 0x87654321_00000000,
        iv: "4956ed7e3b244cfe",
        aad: "000043218765432100000000",
        plaintext: concat!(
            "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000",
            "00000000045f736970045f756470037369700963796265726369747902646b00",
            "0021000101020201",
        ),
        ciphertext_and_icv: concat!(
            "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34",
            "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce",
            "61bc17d768fd9732459018148f6cbe722fd04796562dfdb4",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #2",
        algorithm: Algorithm::Aes128Gcm,
        key: "3de09874b388e6491988d0c3607eae1f",
        salt: "57690e43",
        spi: 0x42f67e3f,
        esn: true,
        seq: 0x10101010_10101010,
        iv: "4e280000a2fca1a3",
        aad: "42f67e3f1010101010101010",
        plaintext: concat!(
            "4500003c99c300008001cb7c40679318010101010800085c0200430061626364",
            "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
        ),
        ciphertext_and_icv: concat!(
            "fba2caa4853cf9f0f22cb10d86dd83b0fec75691cf1a04b00d1138ec9c357917",
            "65acbd8701ad79845bf9fe3fba487bc91755e6662b4c8d0d1f5e22739530320a",
            "e0d731cc978ecafaeae88f00e80d6e48",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #3",
        algorithm: Algorithm::Aes128Gcm,
        key: "3de09874b388e6491988d0c3607eae1f",
        salt: "57690e43",
        spi: 0x42f67e3f,
        esn: true,
        seq: 0x10101010_10101010,
        iv: "4e280000a2fca1a3",
        aad: "42f67e3f1010101010101010",
        plaintext: "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
        ciphertext_and_icv: concat!(
            "fba2ca845e5df9f0f22c3e6e86dd831e1fc65792cd1af9130e1379ed369f071f",
            "35e034be95f112e4e7d05d35",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #4",
        algorithm: Algorithm::Aes128Gcm,
        key: "abbccddef00112233445566778899aab",
        salt: "decaf888",
        spi: 0x00000100,
        esn: true,
        seq: 0x00000000_00000001,
        iv: "cafedebaceface74",
        aad: "000001000000000000000001",
        plaintext: concat!(
            "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5",
            "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95",
            "9b6266c04722b14923010101",
        ),
        ciphertext_and_icv: concat!(
            "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f",
            "9190feebaf2cb01984e65863965d7472b79da345e0e780191f0d2f0e0f496c22",
            "6f2127b27db35724e7845d68651f57e65f354f75ff17015769623436",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #5",
        algorithm: Algorithm::Aes128Gcm,
        key: "3de09874b388e6491988d0c3607eae1f",
        salt: "57690e43",
        spi: 0x42f67e3f,
        esn: true,
        seq: 0x10101010_10101010,
        iv: "4e280000a2fca1a3",
        aad: "42f67e3f1010101010101010",
        plaintext: concat!(
            "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b",
            "000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32",
            "5ae270c03899493915010101",
        ),
        ciphertext_and_icv: concat!(
            "fba2cad12fc1f9f00d3cebf305410db83d7784b607323d220f24b0a97d541828",
            "00cadb0f68d99ef0e0c0c89ae9bea8884e52d65bc1afd0740f742444747b5b39",
            "ab533163aad4550ee5160975cdb608c5769189609763b8e18caa81e2",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #6",
        algorithm: Algorithm::Aes128Gcm,
        key: "abbccddef00112233445566778899aab",
        salt: "decaf888",
        spi: 0x00000100,
        esn: true,
        seq: 0x00000000_00000001,
        iv: "cafedebaceface74",
        aad: "000001000000000000000001",
        plaintext: "746f016265016f72016e6f7401746f0162650001",
        ciphertext_and_icv: concat!(
            "29c9fc69a197d038ccdd14e2ddfcaa0543332164412503524303ed3c6c5f2838",
            "43af8c3e",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #7",
        algorithm: Algorithm::Aes128Gcm,
        key: "3de09874b388e6491988d0c3607eae1f",
        salt: "57690e43",
        spi: 0x3f7ef642,
        esn: true,
        seq: 0x10101010_10101010,
        iv: "4e280000a2fca1a3",
        aad: "3f7ef6421010101010101010",
        plaintext: concat!(
            "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364",
            "65666768696a6b6c6d6e6f707172737401020201",
        ),
        ciphertext_and_icv: concat!(
            "fba2caa8c6c5f9f0f22ca54a061210ad3f6e5791cf1aca210d117cec9c357917",
            "65acbd8701ad79845bf9fe3fba487bc96321930684eecadb56912546e7a95c97",
            "40d7cb05",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #8",
        algorithm: Algorithm::Aes128Gcm,
        key: "4c80cdefbb5d10da906ac73c3613a634",
        salt: "22433c64",
        spi: 0x00004321,
        esn: true,
        seq: 0x87654321_00000007,
        iv: "4855ec7d3a234bfd",
        aad: "000043218765432100000007",
        plaintext: "0800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201",
        ciphertext_and_icv: concat!(
            "74752e8aeb5d873cd7c0f4acc36c4bff84b7d7b98f0ca8b6acda6894bc619069",
            "ef9cbc28fe1b56a7c4e0d58c86cd2bc0",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #9",
        algorithm: Algorithm::Aes256Gcm,
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        salt: "73616c74",
        spi: 0x17405e67,
        esn: true,
        seq: 0x156f3126_dd0db99b,
        iv: "616e640169766563",
        aad: "17405e67156f3126dd0db99b",
        plaintext: concat!(
            "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602",
            "50101f646d540001",
        ),
        ciphertext_and_icv: concat!(
            "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57f",
            "f4d3a31ce673119e451626c2415771e3b7eebca614c89b35",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #10",
        algorithm: Algorithm::Aes256Gcm,
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        salt: "73616c74",
        spi: 0x17405e67,
        esn: true,
        seq: 0x156f3126_dd0db99b,
        iv: "616e640169766563",
        aad: "17405e67156f3126dd0db99b",
        plaintext: concat!(
            "636973636f0172756c657301746865016e6574776501646566696e6501746865",
            "746563686e6f6c6f67696573017468617477696c6c01646566696e65746f6d6f",
            "72726f7701020201",
        ),
        ciphertext_and_icv: concat!(
            "d4b7ed86a1777f2ea13d6973d324c69e7b43f826fb56831226508bebd2dceb18",
            "d0a6df10e5487df074113e14c641024e3e6773d91a62ee429b043a10e3efe6b0",
            "12a49363412364f8c0cac587f249e56b11e24f30e44ccc76",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 (as tabulated in snabb lib/ipsec/aes_gcm.lua) #11",
        algorithm: Algorithm::Aes256Gcm,
        key: "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961",
        salt: "7475726e",
        spi: 0x796b6963,
        esn: true,
        seq: 0xffffffff_ffffffff,
        iv: "333021696765746d",
        aad: "796b6963ffffffffffffffff",
        plaintext: concat!(
            "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364",
            "65666768696a6b6c6d6e6f707172737401020201",
        ),
        ciphertext_and_icv: concat!(
            "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a86",
            "4cd3d78ca4ae68a32b42458fb57dbe821dcc63b9d0937ba2945f669368661a32",
            "9fb4c053",
        ),
    },
    Vector {
        name: "draft-mcgrew-gcm-test-01 case 2 (verified with Scapy)",
        algorithm: Algorithm::Aes128Gcm,
        key: "feffe9928665731c6d6a8f9467308308",
        salt: "cafebabe",
        spi: 0x0000a5f8,
        esn: false,
        seq: 0x00000000_0000000a,
        iv: "facedbaddecaf888",
        aad: "0000a5f80000000a",
        plaintext: concat!(
            "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100",
            "0001000000000000037369700963796265726369747902646b00000100010001",
        ),
        ciphertext_and_icv: concat!(
            "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c",
            "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1",
            "83b70d3aa8bc6ee4c309e9d85a41ad4a",
        ),
    },
    Vector {
        name: "RFC 7634 Appendix A ESP example",
        algorithm: Algorithm::ChaCha20Poly1305,
        key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        salt: "a0a1a2a3",
        spi: 0x01020304,
        esn: false,
        seq: 0x00000000_00000005,
        iv: "1011121314151617",
        aad: "0102030400000005",
        plaintext: concat!(
            "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10",
            "0007362708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
            "2425262728292a2b2c2d2e2f303132333435363701020204",
        ),
        ciphertext_and_icv: concat!(
            "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6",
            "14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3",
            "cbec163fac469b502773f6fb94e664da9165b82829f641e076aaa8266b7fb0f7",
            "b11b369907e1ad43",
        ),
    },
];

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn aead_of(v: &Vector) -> EspAead {
    let key = SecretKey::from_bytes(&[hex(v.key), hex(v.salt)].concat());
    EspAead::new(v.algorithm, &key).unwrap()
}

fn iv_of(v: &Vector) -> [u8; 8] {
    hex(v.iv).try_into().unwrap()
}

#[test]
fn aad_layout_matches_every_vector() {
    for v in &VECTORS {
        assert_eq!(
            EspAad::new(v.spi, v.seq, v.esn).as_bytes(),
            &hex(v.aad)[..],
            "{}",
            v.name
        );
    }
}

#[test]
fn seal_reproduces_every_vector() {
    for v in &VECTORS {
        let mut data = hex(v.plaintext);
        let icv = aead_of(v)
            .seal(iv_of(v), &EspAad::new(v.spi, v.seq, v.esn), &mut data)
            .unwrap();
        data.extend_from_slice(&icv);
        assert_eq!(hex::encode(&data), v.ciphertext_and_icv, "{}", v.name);
    }
}

#[test]
fn open_recovers_every_vector_and_rejects_a_flipped_icv() {
    for v in &VECTORS {
        let wire = hex(v.ciphertext_and_icv);
        let (ct, icv) = wire.split_at(wire.len() - 16);
        let icv: [u8; 16] = icv.try_into().unwrap();
        let aad = EspAad::new(v.spi, v.seq, v.esn);
        let mut data = ct.to_vec();
        aead_of(v).open(iv_of(v), &aad, &mut data, icv).unwrap();
        assert_eq!(hex::encode(&data), v.plaintext, "{}", v.name);
        let mut bad_icv = icv;
        bad_icv[15] ^= 0x01;
        let mut data = ct.to_vec();
        assert!(aead_of(v).open(iv_of(v), &aad, &mut data, bad_icv).is_err());
    }
}

/// The vector as a full ESP packet behind an outer IPv4 header.
fn esp_packet(v: &Vector) -> Vec<u8> {
    esp_in_ipv4(v.spi, v.seq as u32, &hex(v.iv), &hex(v.ciphertext_and_icv))
}

fn inbound_for(v: &Vector) -> InboundSa {
    let mut c = SaConfig::new(
        v.spi,
        v.algorithm,
        SecretKey::from_bytes(&[hex(v.key), hex(v.salt)].concat()),
    );
    c.esn = v.esn;
    let sa = InboundSa::new(&c).unwrap();
    // Put the window just before the vector's sequence number, so ESN
    // inference yields its high half.
    sa.replay_window().reset_to(v.seq - 1);
    sa
}

#[test]
fn decapsulation_verifies_every_vector_then_checks_the_trailer() {
    for v in &VECTORS {
        let sa = inbound_for(v);
        let mut buf = PacketBuf::new();
        buf.load(&esp_packet(v), PacketBuf::DEFAULT_HEADROOM)
            .unwrap();
        let plaintext = hex(v.plaintext);
        let next_header = plaintext[plaintext.len() - 1];
        let pad_len = usize::from(plaintext[plaintext.len() - 2]);
        let result = sa.decapsulate(&mut buf);
        let stats = sa.stats();
        assert_eq!(stats.drops_of(EspDrop::IcvFailed), 0, "{}", v.name);
        if next_header == 4 {
            // RFC 7634's example is a tunnel-mode IPv4 packet.
            let dec = result.unwrap();
            assert_eq!(dec.seq, v.seq);
            assert_eq!(buf.as_slice(), &plaintext[..plaintext.len() - 2 - pad_len]);
            assert_eq!(stats.packets, 1);
        } else {
            // The draft-mcgrew payloads carry next header 1: not a tunnel
            // packet, so a verified but refused one.
            assert_eq!(result, Err(EspDrop::NextHeaderMismatch), "{}", v.name);
            assert_eq!(stats.drops_of(EspDrop::NextHeaderMismatch), 1);
        }
    }
}

#[test]
fn decapsulation_rejects_every_vector_with_a_wrong_sequence_number() {
    for v in &VECTORS {
        let sa = inbound_for(v);
        let mut packet = esp_packet(v);
        packet[20 + 7] ^= 0x80; // low bit flips of seq are the AAD's
        let mut buf = PacketBuf::new();
        buf.load(&packet, PacketBuf::DEFAULT_HEADROOM).unwrap();
        let err = sa.decapsulate(&mut buf).unwrap_err();
        assert!(
            matches!(err, EspDrop::IcvFailed | EspDrop::OutsideWindow),
            "{}: {err:?}",
            v.name
        );
    }
}
