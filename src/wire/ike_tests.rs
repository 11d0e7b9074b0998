//! Round trips of every payload erdp writes, and every truncation of a
//! whole message: each is an error, never a panic.

use super::*;

fn sample_message() -> Vec<u8> {
    let proposals = vec![
        Proposal {
            number: 1,
            protocol: protocol::IKE,
            spi: Vec::new(),
            transforms: vec![
                Transform {
                    kind: transform::ENCR,
                    id: transform::ENCR_AES_GCM_16,
                    key_bits: Some(256),
                },
                Transform {
                    kind: transform::PRF,
                    id: transform::PRF_HMAC_SHA2_256,
                    key_bits: None,
                },
                Transform {
                    kind: transform::DH,
                    id: transform::DH_ECP_256,
                    key_bits: None,
                },
            ],
        },
        Proposal {
            number: 2,
            protocol: protocol::ESP,
            spi: vec![1, 2, 3, 4],
            transforms: vec![Transform {
                kind: transform::ESN,
                id: transform::ESN_NO,
                key_bits: None,
            }],
        },
    ];
    let mut chain = PayloadChain::new();
    chain
        .push(payload::SA, &write_sa(&proposals).unwrap())
        .unwrap();
    let ke = KeyExchange {
        group: 19,
        data: vec![7; 64],
    };
    chain.push(payload::KE, &ke.to_bytes()).unwrap();
    chain.push(payload::NONCE, &[9; 32]).unwrap();
    let n = Notify {
        protocol: protocol::ESP,
        spi: vec![0xaa; 4],
        kind: notify::NAT_DETECTION_SOURCE_IP,
        data: vec![1; 20],
    };
    chain.push(payload::NOTIFY, &n.to_bytes().unwrap()).unwrap();
    let ts = [
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: "10.0.0.0".parse().unwrap(),
            end: "10.0.255.255".parse().unwrap(),
        },
        TrafficSelector {
            ip_protocol: 6,
            start_port: 443,
            end_port: 443,
            start: "fd00::".parse().unwrap(),
            end: "fd00::ffff".parse().unwrap(),
        },
    ];
    chain.push(payload::TSI, &write_ts(&ts).unwrap()).unwrap();
    let id = TypedData {
        kind: id_type::FQDN,
        data: b"gw".to_vec(),
    };
    chain.push(payload::IDI, &id.to_bytes()).unwrap();
    chain
        .into_message(IkeHeader {
            spi_i: 1,
            spi_r: 0,
            next_payload: 0,
            version: IKE_VERSION,
            exchange: exchange::IKE_SA_INIT,
            flags: flags::INITIATOR,
            message_id: 0,
            length: 0,
        })
        .unwrap()
}

#[test]
fn every_payload_round_trips() {
    let m = sample_message();
    let h = IkeHeader::parse(&m).unwrap();
    assert_eq!((h.spi_i, h.exchange, h.length as usize), (1, 34, m.len()));
    assert!(h.from_initiator() && !h.is_response());
    let raw = split_payloads(&m, IKE_HEADER_LEN, h.next_payload).unwrap();
    let kinds: Vec<u8> = raw.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [33, 34, 40, 41, 44, 35]);
    let sa = parse_sa(raw[0].body).unwrap();
    assert_eq!(write_sa(&sa).unwrap(), raw[0].body);
    assert_eq!(sa[0].transforms[0].key_bits, Some(256));
    assert_eq!(sa[1].spi, [1, 2, 3, 4]);
    let ke = KeyExchange::parse(raw[1].body).unwrap();
    assert_eq!((ke.group, ke.data.len()), (19, 64));
    assert_eq!(raw[2].body, [9; 32]);
    let n = Notify::parse(raw[3].body).unwrap();
    assert_eq!(n.to_bytes().unwrap(), raw[3].body);
    assert!(!n.is_error());
    let ts = parse_ts(raw[4].body).unwrap();
    assert_eq!(write_ts(&ts).unwrap(), raw[4].body);
    assert_eq!(ts[1].start_port, 443);
    let id = TypedData::parse("ID", raw[5].body).unwrap();
    assert_eq!(id.data, b"gw");
}

#[test]
fn every_truncation_is_an_error() {
    let m = sample_message();
    for len in 0..m.len() {
        let mut cut = m[..len].to_vec();
        if len >= IKE_HEADER_LEN {
            // Keep the length field honest so the payload parsers see the cut.
            cut[24..28].copy_from_slice(&(len as u32).to_be_bytes());
        }
        let parsed = IkeHeader::parse(&cut).and_then(|h| {
            let raw = split_payloads(&cut, IKE_HEADER_LEN, h.next_payload)?;
            for p in raw {
                match p.kind {
                    payload::SA => drop(parse_sa(p.body)?),
                    payload::TSI => drop(parse_ts(p.body)?),
                    _ => {}
                }
            }
            Ok(())
        });
        assert!(parsed.is_err(), "truncation to {len} bytes parsed");
    }
}

#[test]
fn every_payload_truncation_is_an_error() {
    let m = sample_message();
    let h = IkeHeader::parse(&m).unwrap();
    let raw = split_payloads(&m, IKE_HEADER_LEN, h.next_payload).unwrap();
    for len in 0..raw[0].body.len() {
        assert!(parse_sa(&raw[0].body[..len]).is_err(), "SA cut to {len}");
    }
    for len in 0..raw[4].body.len() {
        assert!(parse_ts(&raw[4].body[..len]).is_err(), "TS cut to {len}");
    }
    for len in 0..4 {
        assert!(KeyExchange::parse(&raw[1].body[..len]).is_err());
        assert!(Notify::parse(&raw[3].body[..len]).is_err());
        assert!(TypedData::parse("ID", &raw[5].body[..len]).is_err());
    }
    // A notify whose SPI size runs past the payload.
    assert!(Notify::parse(&[3, 200, 0, 1]).is_err());
}

#[test]
fn header_rejects_wrong_version_and_length() {
    let mut m = sample_message();
    m[17] = 0x10;
    assert!(matches!(
        IkeHeader::parse(&m),
        Err(IkeWireError::Invalid { offset: 17, .. })
    ));
    let mut m = sample_message();
    m.push(0);
    assert!(IkeHeader::parse(&m).is_err());
}

#[test]
fn payload_chain_rejects_zero_lengths_and_loops() {
    // A payload header with length 0 would loop forever if accepted.
    let bytes = [payload::NONCE, 0, 0, 0];
    assert!(split_payloads(&bytes, 0, payload::NONCE).is_err());
    // 65 chained empty payloads exceed MAX_PAYLOADS.
    let mut chain = Vec::new();
    for _ in 0..65 {
        chain.extend_from_slice(&[payload::NONCE, 0, 0, 4]);
    }
    assert!(split_payloads(&chain, 0, payload::NONCE).is_err());
}
