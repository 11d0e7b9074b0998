//! Helpers shared by the ESP integration tests: packet builders and SA pairs.
#![allow(dead_code)]

use std::net::IpAddr;

use erdp::esp::{Algorithm, InboundSa, OutboundSa, SaConfig, SecretKey, TunnelEndpoints};
use erdp::packet::PacketBuf;
use etherparse::PacketBuilder;

/// A deterministic key||salt of the right length for `algorithm`.
pub fn key_for(algorithm: Algorithm, seed: u8) -> SecretKey {
    let bytes: Vec<u8> = (0..algorithm.keymat_len())
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect();
    SecretKey::from_bytes(&bytes)
}

/// An SA configuration with IPv4 or IPv6 tunnel endpoints.
pub fn config(algorithm: Algorithm, spi: u32, esn: bool, outer_v6: bool) -> SaConfig {
    let mut c = SaConfig::new(spi, algorithm, key_for(algorithm, spi as u8));
    c.esn = esn;
    c.tunnel = Some(if outer_v6 {
        TunnelEndpoints {
            local: "2001:db8::1".parse().unwrap(),
            remote: "2001:db8::2".parse().unwrap(),
        }
    } else {
        TunnelEndpoints {
            local: "192.0.2.1".parse().unwrap(),
            remote: "198.51.100.2".parse().unwrap(),
        }
    });
    c
}

/// The receiving side of `sender`: same keys, endpoints swapped.
pub fn peer_of(sender: &SaConfig) -> SaConfig {
    let mut c = sender.clone();
    c.tunnel = sender.tunnel.map(|t| TunnelEndpoints {
        local: t.remote,
        remote: t.local,
    });
    c
}

/// An outbound SA and the matching inbound SA.
pub fn pair(c: &SaConfig) -> (OutboundSa, InboundSa) {
    (
        OutboundSa::new(c).unwrap(),
        InboundSa::new(&peer_of(c)).unwrap(),
    )
}

/// A UDP packet over IPv4 or IPv6 with `payload_len` patterned bytes.
pub fn inner_packet(v6: bool, payload_len: usize, seed: u8) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len)
        .map(|i| (i as u8).wrapping_add(seed))
        .collect();
    let builder = if v6 {
        PacketBuilder::ipv6(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            63,
        )
    } else {
        PacketBuilder::ipv4([10, 1, 0, 1], [10, 2, 0, 1], 63)
    };
    let builder = builder.udp(1000 + u16::from(seed), 2000);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, &payload).unwrap();
    out
}

/// `inner` in a fresh buffer with the default headroom.
pub fn buf_with(inner: &[u8]) -> PacketBuf {
    let mut b = PacketBuf::new();
    b.load(inner, PacketBuf::DEFAULT_HEADROOM).unwrap();
    b
}

/// Sets an IPv4 packet's TOS (DSCP and ECN) and fixes its checksum.
pub fn set_ipv4_tos(packet: &mut [u8], tos: u8) {
    packet[1] = tos;
    packet[10] = 0;
    packet[11] = 0;
    let sum = erdp::wire::checksum::internet_checksum(&packet[..20]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// The inner source address of a built packet.
pub fn inner_src(v6: bool) -> IpAddr {
    if v6 {
        "fd00::1".parse().unwrap()
    } else {
        "10.1.0.1".parse().unwrap()
    }
}

/// An ESP packet from its parts (`body` is ciphertext and ICV) behind an
/// outer IPv4 header from 198.51.100.2 to 192.0.2.1.
pub fn esp_in_ipv4(spi: u32, seq_low: u32, iv: &[u8], body: &[u8]) -> Vec<u8> {
    let esp = [&spi.to_be_bytes()[..], &seq_low.to_be_bytes(), iv, body].concat();
    let mut h = etherparse::Ipv4Header::new(
        esp.len() as u16,
        64,
        etherparse::IpNumber::ENCAPSULATING_SECURITY_PAYLOAD,
        [198, 51, 100, 2],
        [192, 0, 2, 1],
    )
    .unwrap();
    h.header_checksum = h.calc_header_checksum();
    [h.to_bytes().to_vec(), esp].concat()
}

/// Seals `count` copies of `inner` with `out` (sequence numbers 1, 2, ...)
/// and delivers every one of them to each of `threads` threads at once,
/// each thread in its own order, through `receive` (a thread's whole run:
/// its receiver and delivery order in, the sequence numbers it accepted
/// out). Asserts that every packet was accepted exactly once and that the
/// other copies were counted as replays.
pub fn assert_each_accepted_once(
    out: &OutboundSa,
    inb: &InboundSa,
    inner: &[u8],
    count: usize,
    threads: usize,
    receive: impl Fn(&InboundSa, Vec<&[u8]>) -> Vec<u64> + Sync,
) {
    let sealed: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let mut buf = buf_with(inner);
            out.encapsulate(&mut buf).unwrap();
            buf.as_slice().to_vec()
        })
        .collect();
    let barrier = std::sync::Barrier::new(threads);
    let mut accepted: Vec<u64> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..threads)
            .map(|t| {
                let (sealed, barrier, receive) = (&sealed, &barrier, &receive);
                s.spawn(move || {
                    // `count` is prime, so each stride visits every packet.
                    let order = (0..count)
                        .map(|i| sealed[(i * (t + 1) * 7919) % count].as_slice())
                        .collect();
                    barrier.wait();
                    receive(inb, order)
                })
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    accepted.sort_unstable();
    let want: Vec<u64> = (1..=count as u64).collect();
    assert_eq!(accepted, want, "each packet accepted exactly once");
    let stats = inb.stats();
    assert_eq!(stats.packets, count as u64);
    assert_eq!(
        stats.drops_of(erdp::esp::EspDrop::Replayed),
        ((threads - 1) * count) as u64
    );
}
