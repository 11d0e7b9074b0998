//! Packet builders for the wire tests, on etherparse's `PacketBuilder` (an
//! implementation independent of the code under test), and a deterministic
//! proptest configuration.
#![allow(dead_code)]

use etherparse::{PacketBuilder, TcpOptionElement};
use proptest::test_runner::{Config, RngSeed};

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// A seeded proptest configuration: the same cases every run.
pub fn seeded(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x6572_6470),
        ..Config::default()
    }
}

pub fn ipv4_udp(source: [u8; 4], destination: [u8; 4], ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(source, destination, ttl)
        .udp(40000, 4789)
        .write(&mut out, payload)
        .unwrap();
    out
}

pub fn ipv6_udp(source: [u8; 16], destination: [u8; 16], hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(source, destination, hop_limit)
        .udp(40000, 4789)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// Raw TCP options: `nops` NOPs, then an MSS option when given, padded with
/// EOL to a multiple of four.
pub fn tcp_options(nops: usize, mss: Option<u16>) -> Vec<u8> {
    let mut options = vec![1u8; nops];
    if let Some(mss) = mss {
        options.extend_from_slice(&[2, 4]);
        options.extend_from_slice(&mss.to_be_bytes());
    }
    while !options.len().is_multiple_of(4) {
        options.push(0);
    }
    options
}

pub fn ipv4_tcp(syn: bool, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let builder =
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 2, 3], 64).tcp(40000, 443, 1000, 65535);
    let builder = if syn { builder.syn() } else { builder.ack(5) };
    let mut out = Vec::new();
    builder
        .options_raw(options)
        .unwrap()
        .write(&mut out, payload)
        .unwrap();
    out
}

pub fn ipv6_tcp(syn: bool, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ipv6(ipv6_addr(1), ipv6_addr(2), 64).tcp(40000, 443, 1000, 65535);
    let builder = if syn { builder.syn() } else { builder.ack(5) };
    let mut out = Vec::new();
    builder
        .options_raw(options)
        .unwrap()
        .write(&mut out, payload)
        .unwrap();
    out
}

pub fn ipv4_tcp_syn_mss(mss: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 2, 3], 64)
        .tcp(40000, 443, 1000, 65535)
        .syn()
        .options(&[TcpOptionElement::MaximumSegmentSize(mss)])
        .unwrap()
        .write(&mut out, &[])
        .unwrap();
    out
}

pub fn ipv4_echo_request(source: [u8; 4], destination: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(source, destination, 64)
        .icmpv4_echo_request(0x1234, 7)
        .write(&mut out, payload)
        .unwrap();
    out
}

pub fn ipv6_echo_request(source: [u8; 16], destination: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(source, destination, 64)
        .icmpv6_echo_request(0x1234, 7)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// 2001:db8::n
pub fn ipv6_addr(n: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = n;
    a
}

/// Prefixes an Ethernet II header.
pub fn ethernet(destination: [u8; 6], source: [u8; 6], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&ether_type.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Sets the IPv4 fragment fields and refreshes the header checksum with a
/// from-scratch computation by etherparse.
pub fn set_ipv4_fragment(packet: &mut [u8], offset_units: u16, more: bool) {
    let word = (offset_units & 0x1fff) | if more { 0x2000 } else { 0 };
    packet[6..8].copy_from_slice(&word.to_be_bytes());
    refresh_ipv4_checksum(packet);
}

/// Recomputes an IPv4 header checksum with etherparse (the reference).
pub fn refresh_ipv4_checksum(packet: &mut [u8]) {
    let header = etherparse::Ipv4HeaderSlice::from_slice(packet)
        .unwrap()
        .to_header();
    let checksum = header.calc_header_checksum();
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
}

/// The reference IPv4 header checksum of `packet` computed by etherparse.
pub fn reference_ipv4_checksum(packet: &[u8]) -> u16 {
    etherparse::Ipv4HeaderSlice::from_slice(packet)
        .unwrap()
        .to_header()
        .calc_header_checksum()
}

/// Inserts an IPv6 fragment header (offset in 8-byte units) after the
/// fixed header.
pub fn insert_ipv6_fragment_header(packet: &[u8], offset_units: u16, more: bool) -> Vec<u8> {
    let [high, low] = ((offset_units << 3) | u16::from(more)).to_be_bytes();
    insert_ipv6_extension(packet, 44, [0, high, low, 0xde, 0xad, 0xbe, 0xef])
}

/// Inserts a hop-by-hop options header (one 4-byte PadN) after the fixed
/// header.
pub fn insert_ipv6_hop_by_hop(packet: &[u8]) -> Vec<u8> {
    insert_ipv6_extension(packet, 0, [0, 1, 4, 0, 0, 0, 0])
}

/// Inserts an 8-byte extension header of type `header_type` whose bytes
/// after the next-header field are `rest`, fixing next header and payload
/// length.
fn insert_ipv6_extension(packet: &[u8], header_type: u8, rest: [u8; 7]) -> Vec<u8> {
    let next_header = packet[6];
    let mut out = packet[..40].to_vec();
    out[6] = header_type;
    let payload_len = u16::from_be_bytes([packet[4], packet[5]]) + 8;
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out.push(next_header);
    out.extend_from_slice(&rest);
    out.extend_from_slice(&packet[40..]);
    out
}
