//! ESP wire format (RFC 4303 section 2), ESP in UDP (RFC 3948) and the few
//! IPv4/IPv6 header fields the tunnel reads or writes. Header parsing goes
//! through etherparse's slices; every offset below is a named constant.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, Ipv4HeaderSlice, Ipv6HeaderSlice, checksum::u32_16bit_word};

use super::drop::EspDrop;
use super::suite::{ICV_LEN, IV_LEN};

/// ESP header field offsets (RFC 4303 section 2).
pub mod field {
    use std::ops::Range;
    /// Security Parameters Index.
    pub const SPI: Range<usize> = 0..4;
    /// Sequence number (low 32 bits with ESN).
    pub const SEQ: Range<usize> = 4..8;
    /// Explicit IV of the AEAD suites (RFC 4106 section 3.1).
    pub const IV: Range<usize> = 8..16;
}

/// Length of the ESP header (SPI + sequence number).
pub const ESP_HEADER_LEN: usize = 8;
/// Bytes before the ciphertext: ESP header and explicit IV.
pub const ESP_PREFIX_LEN: usize = ESP_HEADER_LEN + IV_LEN;
/// ESP trailer bytes after the padding: pad length and next header.
pub const ESP_TRAILER_LEN: usize = 2;
/// Smallest possible ESP packet: header, IV, an empty payload's trailer, ICV.
pub const MIN_ESP_LEN: usize = ESP_PREFIX_LEN + ESP_TRAILER_LEN + ICV_LEN;
/// Length of the UDP header of ESP in UDP.
pub const UDP_HEADER_LEN: usize = 8;
/// IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HEADER_LEN: usize = 40;

/// IPv4 header field offsets (RFC 791).
pub mod ipv4 {
    /// Type of service: DSCP (6 bits) and ECN (2 bits).
    pub const TOS: usize = 1;
    /// Total length (2 bytes).
    pub const TOTAL_LEN: usize = 2;
    /// Identification (2 bytes).
    pub const ID: usize = 4;
    /// Flags and fragment offset (2 bytes).
    pub const FLAGS: usize = 6;
    /// The Don't Fragment bit in the first flags byte.
    pub const DF_BIT: u8 = 0x40;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTOCOL: usize = 9;
    /// Header checksum (2 bytes).
    pub const CHECKSUM: usize = 10;
    /// Source address (4 bytes).
    pub const SRC: usize = 12;
    /// Destination address (4 bytes).
    pub const DST: usize = 16;
}

/// IPv6 header field offsets (RFC 8200).
pub mod ipv6 {
    /// Payload length (2 bytes).
    pub const PAYLOAD_LEN: usize = 4;
    /// Next header.
    pub const NEXT_HEADER: usize = 6;
    /// Hop limit.
    pub const HOP_LIMIT: usize = 7;
    /// Source address (16 bytes).
    pub const SRC: usize = 8;
    /// Destination address (16 bytes).
    pub const DST: usize = 24;
}

/// UDP header field offsets (RFC 768).
pub mod udp {
    /// Source port.
    pub const SRC_PORT: usize = 0;
    /// Destination port.
    pub const DST_PORT: usize = 2;
    /// Length.
    pub const LEN: usize = 4;
    /// Checksum.
    pub const CHECKSUM: usize = 6;
}

/// RFC 3948 section 2.3: a NAT-keepalive is one byte 0xFF.
pub const NAT_KEEPALIVE: u8 = 0xFF;
/// RFC 3948 section 2.2: the non-ESP marker of IKE in UDP is 4 zero bytes.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// What an arriving packet is, for a local tunnel endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketClass {
    /// An ESP packet (plain, or in UDP when `udp`).
    Esp(OuterEsp),
    /// A NAT-keepalive on the NAT-T port (RFC 3948 section 2.3).
    NatKeepalive,
    /// IKE on the NAT-T port, behind the non-ESP marker (RFC 3948
    /// section 2.2): for the key exchange, not for the data plane.
    NonEspMarker,
    /// Anything else (not ours to decapsulate).
    NotEsp,
}

/// Where the ESP packet sits inside its outer IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuterEsp {
    /// The SPI.
    pub spi: u32,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Offset of the ESP header from the start of the outer packet.
    pub esp_offset: usize,
    /// Length of the outer packet by its IP header (trailing bytes beyond it,
    /// such as Ethernet padding, are not part of it).
    pub total_len: usize,
    /// The outer ECN field (RFC 6040 decapsulation needs it).
    pub ecn: u8,
    /// Carried in UDP (RFC 3948).
    pub udp: bool,
}

/// Classifies an outer IP packet: ESP (with the offsets to decapsulate it),
/// NAT-T control, or not ESP. Malformed outer headers are drops with a reason.
pub fn classify(packet: &[u8], nat_t_port: u16) -> Result<PacketClass, EspDrop> {
    let (ip_len, total_len, protocol, dst, ecn) = match packet.first().map(|b| b >> 4) {
        Some(4) => outer_ipv4(packet)?,
        Some(6) => {
            let h = Ipv6HeaderSlice::from_slice(packet).map_err(|e| match e {
                etherparse::err::ipv6::HeaderSliceError::Len(_) => EspDrop::Truncated,
                etherparse::err::ipv6::HeaderSliceError::Content(_) => EspDrop::BadOuterHeader,
            })?;
            let total = IPV6_HEADER_LEN + usize::from(h.payload_length());
            let dst = IpAddr::V6(h.destination_addr());
            (
                IPV6_HEADER_LEN,
                total,
                h.next_header(),
                dst,
                h.ecn().value(),
            )
        }
        Some(_) => return Err(EspDrop::BadOuterHeader),
        None => return Err(EspDrop::Truncated),
    };
    if total_len > packet.len() {
        return Err(EspDrop::Truncated);
    }
    let packet = packet.get(..total_len).ok_or(EspDrop::Truncated)?;
    let (esp_offset, udp) = match protocol {
        IpNumber::ENCAPSULATING_SECURITY_PAYLOAD => (ip_len, false),
        IpNumber::UDP => {
            let header = packet
                .get(ip_len..ip_len + UDP_HEADER_LEN)
                .ok_or(EspDrop::Truncated)?;
            if be16(header, udp::DST_PORT) != Some(nat_t_port) {
                return Ok(PacketClass::NotEsp);
            }
            let udp_len = be16(header, udp::LEN).map_or(0, usize::from);
            if udp_len < UDP_HEADER_LEN || ip_len + udp_len != total_len {
                return Err(EspDrop::BadOuterHeader);
            }
            let payload = packet.get(ip_len + UDP_HEADER_LEN..).unwrap_or(&[]);
            if payload == [NAT_KEEPALIVE] {
                return Ok(PacketClass::NatKeepalive);
            }
            if payload.get(..4) == Some(&NON_ESP_MARKER) {
                return Ok(PacketClass::NonEspMarker);
            }
            (ip_len + UDP_HEADER_LEN, true)
        }
        _ => return Ok(PacketClass::NotEsp),
    };
    let spi = be32(packet, esp_offset + field::SPI.start).ok_or(EspDrop::Truncated)?;
    Ok(PacketClass::Esp(OuterEsp {
        spi,
        dst,
        esp_offset,
        total_len,
        ecn,
        udp,
    }))
}

/// The fields `classify` needs from an outer IPv4 header: header length,
/// total length, protocol, destination, ECN. Malformed headers (bad
/// checksum, total length shorter than the header) and fragments are drops.
#[inline]
fn outer_ipv4(packet: &[u8]) -> Result<(usize, usize, IpNumber, IpAddr, u8), EspDrop> {
    // The usual header, without options, read from a fixed-size array: the
    // checksum is five 4-byte additions instead of a loop over a slice.
    if let Some(header) = packet.first_chunk::<IPV4_HEADER_LEN>()
        && header[0] == 0x45
    {
        let (words, _) = header.as_chunks::<4>();
        let sum = words
            .iter()
            .fold(0, |sum, word| u32_16bit_word::add_4bytes(sum, *word));
        if u32_16bit_word::ones_complement(sum) != 0 {
            return Err(EspDrop::BadOuterHeader);
        }
        let total = usize::from(u16::from_be_bytes([
            header[ipv4::TOTAL_LEN],
            header[ipv4::TOTAL_LEN + 1],
        ]));
        if total < IPV4_HEADER_LEN {
            return Err(EspDrop::BadOuterHeader);
        }
        // More fragments, or a non-zero fragment offset.
        let flags_offset = u16::from_be_bytes([header[ipv4::FLAGS], header[ipv4::FLAGS + 1]]);
        if flags_offset & 0x3FFF != 0 {
            return Err(EspDrop::Fragment);
        }
        let dst = [
            header[ipv4::DST],
            header[ipv4::DST + 1],
            header[ipv4::DST + 2],
            header[ipv4::DST + 3],
        ];
        return Ok((
            IPV4_HEADER_LEN,
            total,
            IpNumber(header[ipv4::PROTOCOL]),
            IpAddr::V4(Ipv4Addr::from(dst)),
            header[ipv4::TOS] & 0b11,
        ));
    }
    outer_ipv4_general(packet)
}

/// [`outer_ipv4`] for any IPv4 header (options included), through
/// etherparse.
fn outer_ipv4_general(packet: &[u8]) -> Result<(usize, usize, IpNumber, IpAddr, u8), EspDrop> {
    let h = Ipv4HeaderSlice::from_slice(packet).map_err(|e| match e {
        etherparse::err::ipv4::HeaderSliceError::Len(_) => EspDrop::Truncated,
        etherparse::err::ipv4::HeaderSliceError::Content(_) => EspDrop::BadOuterHeader,
    })?;
    let header = h.slice();
    if u32_16bit_word::ones_complement(u32_16bit_word::add_slice(0, header)) != 0 {
        return Err(EspDrop::BadOuterHeader);
    }
    let total = usize::from(h.total_len());
    if total < header.len() {
        return Err(EspDrop::BadOuterHeader);
    }
    if h.is_fragmenting_payload() {
        return Err(EspDrop::Fragment);
    }
    let dst = IpAddr::V4(h.destination_addr());
    Ok((header.len(), total, h.protocol(), dst, h.ecn().value()))
}

/// The destination address of an IPv4 or IPv6 packet, if its fixed header
/// is there.
pub fn outer_destination(packet: &[u8]) -> Option<IpAddr> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => ipv4_at(packet, ipv4::DST).map(IpAddr::V4),
        Some(6) => {
            let b: [u8; 16] = packet.get(ipv6::DST..ipv6::DST + 16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// The fields of an inner IP packet that the tunnel needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerHeader {
    /// 4 or 6.
    pub version: u8,
    /// Length of the inner packet by its header.
    pub total_len: usize,
    /// DSCP and ECN (IPv4 TOS, IPv6 traffic class).
    pub tos: u8,
    /// IPv4 Don't Fragment (false for IPv6).
    pub dont_fragment: bool,
}

impl InnerHeader {
    /// The ESP next header for this packet in tunnel mode (RFC 4303
    /// section 2.6): 4 (IPv4) or 41 (IPv6).
    pub fn next_header(&self) -> IpNumber {
        if self.version == 4 {
            IpNumber::IPV4
        } else {
            IpNumber::IPV6
        }
    }
}

/// Reads the inner packet's header; its length must fit in `packet`
/// (trailing bytes, such as TFC padding, are allowed).
#[inline]
pub fn parse_inner(packet: &[u8]) -> Result<InnerHeader, EspDrop> {
    // The usual IPv4 header, without options, from a fixed-size array.
    if let Some(header) = packet.first_chunk::<IPV4_HEADER_LEN>()
        && header[0] == 0x45
    {
        let total_len = usize::from(u16::from_be_bytes([
            header[ipv4::TOTAL_LEN],
            header[ipv4::TOTAL_LEN + 1],
        ]));
        if total_len < IPV4_HEADER_LEN || total_len > packet.len() {
            return Err(EspDrop::BadInnerPacket);
        }
        return Ok(InnerHeader {
            version: 4,
            total_len,
            tos: header[ipv4::TOS],
            dont_fragment: header[ipv4::FLAGS] & ipv4::DF_BIT != 0,
        });
    }
    parse_inner_general(packet)
}

/// [`parse_inner`] for any IPv4 or IPv6 header, through etherparse.
fn parse_inner_general(packet: &[u8]) -> Result<InnerHeader, EspDrop> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let h = Ipv4HeaderSlice::from_slice(packet).map_err(|_| EspDrop::BadInnerPacket)?;
            let total_len = usize::from(h.total_len());
            if total_len < h.slice().len() || total_len > packet.len() {
                return Err(EspDrop::BadInnerPacket);
            }
            Ok(InnerHeader {
                version: 4,
                total_len,
                tos: packet.get(ipv4::TOS).copied().unwrap_or(0),
                dont_fragment: h.dont_fragment(),
            })
        }
        Some(6) => {
            let h = Ipv6HeaderSlice::from_slice(packet).map_err(|_| EspDrop::BadInnerPacket)?;
            let total_len = IPV6_HEADER_LEN + usize::from(h.payload_length());
            if total_len > packet.len() {
                return Err(EspDrop::BadInnerPacket);
            }
            Ok(InnerHeader {
                version: 6,
                total_len,
                tos: h.traffic_class(),
                dont_fragment: false,
            })
        }
        _ => Err(EspDrop::BadInnerPacket),
    }
}

/// Writes a new ECN field into an inner IP header in place, updating the
/// IPv4 header checksum incrementally (RFC 1624).
pub fn set_inner_ecn(packet: &mut [u8], ecn: u8) {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let Some(old_tos) = packet.get(ipv4::TOS).copied() else {
                return;
            };
            let new_tos = (old_tos & !0b11) | (ecn & 0b11);
            if new_tos == old_tos {
                return;
            }
            let (Some(version_ihl), Some(old_sum)) =
                (packet.first().copied(), be16(packet, ipv4::CHECKSUM))
            else {
                return;
            };
            let old_word = u16::from_be_bytes([version_ihl, old_tos]);
            let new_word = u16::from_be_bytes([version_ihl, new_tos]);
            let sum = update_checksum(old_sum, old_word, new_word);
            if let Some(b) = packet.get_mut(ipv4::TOS) {
                *b = new_tos;
            }
            put_be16(packet, ipv4::CHECKSUM, sum);
        }
        Some(6) => {
            // Traffic class spans bytes 0 and 1: ECN is bits 4..5 of byte 1.
            if let Some(b) = packet.get_mut(1) {
                *b = (*b & !0b0011_0000) | ((ecn & 0b11) << 4);
            }
        }
        _ => {}
    }
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
pub fn update_checksum(old_sum: u16, old_word: u16, new_word: u16) -> u16 {
    let sum = u32::from(!old_sum) + u32::from(!old_word) + u32::from(new_word);
    u32_16bit_word::ones_complement(sum)
}

/// The IPv4 header checksum of `header` (its checksum field must be zero).
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    checksum_value(u32_16bit_word::ones_complement(u32_16bit_word::add_slice(
        0, header,
    )))
}

/// etherparse sums words in native byte order; this turns its result into
/// the value to write big-endian.
pub fn checksum_value(native: u16) -> u16 {
    u16::from_be_bytes(native.to_ne_bytes())
}

/// The UDP checksum over IPv6 (RFC 8200 section 8.1): never zero.
pub fn udp_ipv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, udp_segment: &[u8]) -> u16 {
    let len = u32::try_from(udp_segment.len()).unwrap_or(u32::MAX);
    let mut sum = u32_16bit_word::add_slice(0, &src.octets());
    sum = u32_16bit_word::add_slice(sum, &dst.octets());
    sum = u32_16bit_word::add_4bytes(sum, len.to_be_bytes());
    sum = u32_16bit_word::add_4bytes(sum, [0, 0, 0, IpNumber::UDP.0]);
    sum = u32_16bit_word::add_slice(sum, udp_segment);
    checksum_value(u32_16bit_word::ones_complement_with_no_zero(sum))
}

/// Reads a big-endian u16 at `at`, if it is inside `bytes`.
pub fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Reads a big-endian u32 at `at`, if it is inside `bytes`.
pub fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Writes a big-endian u16 at `at` when it fits (callers size the slice).
pub fn put_be16(bytes: &mut [u8], at: usize, value: u16) {
    if let Some(b) = bytes.get_mut(at..at + 2) {
        b.copy_from_slice(&value.to_be_bytes());
    }
}

/// The IPv4 address at `at`.
pub fn ipv4_at(bytes: &[u8], at: usize) -> Option<Ipv4Addr> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1,
        ];
        let total = (20 + 8 + payload.len()) as u16;
        put_be16(&mut p, ipv4::TOTAL_LEN, total);
        let sum = ipv4_checksum(&p);
        put_be16(&mut p, ipv4::CHECKSUM, sum);
        p.extend_from_slice(&4500u16.to_be_bytes());
        p.extend_from_slice(&dst_port.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn recognises_nat_t_control_and_esp_in_udp() {
        assert_eq!(
            classify(&ipv4_udp(4500, &[0xFF]), 4500),
            Ok(PacketClass::NatKeepalive)
        );
        assert_eq!(
            classify(&ipv4_udp(4500, &[0, 0, 0, 0, 1, 2, 3]), 4500),
            Ok(PacketClass::NonEspMarker)
        );
        assert_eq!(
            classify(&ipv4_udp(53, &[1, 2, 3, 4]), 4500),
            Ok(PacketClass::NotEsp)
        );
        let esp = ipv4_udp(4500, &[0, 0, 0x10, 0x01, 0, 0, 0, 1]);
        let Ok(PacketClass::Esp(o)) = classify(&esp, 4500) else {
            panic!("not ESP in UDP");
        };
        assert_eq!((o.spi, o.esp_offset, o.udp), (0x1001, 28, true));
    }

    #[test]
    fn bad_outer_checksum_and_every_truncation_are_drops() {
        let good = ipv4_udp(4500, &[0, 0, 0x10, 0x01, 0, 0, 0, 1]);
        let mut bad = good.clone();
        bad[ipv4::TTL] ^= 1;
        assert_eq!(classify(&bad, 4500), Err(EspDrop::BadOuterHeader));
        for len in 0..good.len() {
            assert!(classify(&good[..len], 4500).is_err(), "length {len}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, rng_seed: proptest::test_runner::RngSeed::Fixed(0x0E5B), ..Default::default() })]

        /// Differential: the option-less fast paths of the outer and inner
        /// IPv4 parses agree with the general ones through etherparse, on
        /// headers with a valid checksum and on mangled ones.
        #[test]
        fn ipv4_fast_paths_match_the_general_ones(
            mut header in proptest::prelude::any::<[u8; 24]>(),
            fix_checksum: bool,
            unfragmented: bool,
            fitting_length: bool,
            len in 0usize..=24,
        ) {
            header[0] = 0x45;
            if fitting_length {
                put_be16(&mut header, ipv4::TOTAL_LEN, len as u16);
            }
            if unfragmented {
                // Keep DF as drawn; clear MF and the offset.
                header[ipv4::FLAGS] &= ipv4::DF_BIT;
                header[ipv4::FLAGS + 1] = 0;
            }
            if fix_checksum {
                header[ipv4::CHECKSUM..ipv4::CHECKSUM + 2].fill(0);
                let sum = ipv4_checksum(&header[..IPV4_HEADER_LEN]);
                put_be16(&mut header, ipv4::CHECKSUM, sum);
            }
            let packet = &header[..len];
            proptest::prop_assert_eq!(outer_ipv4(packet), outer_ipv4_general(packet));
            proptest::prop_assert_eq!(parse_inner(packet), parse_inner_general(packet));
        }
    }

    #[test]
    fn incremental_checksum_matches_a_full_recompute() {
        let mut p = ipv4_udp(4500, &[1, 2, 3]);
        set_inner_ecn(&mut p, 0b11);
        let mut zeroed = p[..20].to_vec();
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(be16(&p, ipv4::CHECKSUM), Some(ipv4_checksum(&zeroed)));
        assert_eq!(p[1] & 3, 3);
    }
}
