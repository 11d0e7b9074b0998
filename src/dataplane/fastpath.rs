//! The forwarder's common case in one pass: an IPv4 TCP or UDP packet that
//! is not a fragment is validated (RFC 791: version, header length, total
//! length, RFC 1071 header checksum) and its flow key read straight from
//! the bytes. Anything else, and every packet that fails a check, takes the
//! general path in `crate::wire`, which also names the error; a
//! differential test keeps both paths in agreement. TTL and hop limit
//! decrement in place with an RFC 1624 incremental checksum update.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{IpNumber, checksum::u32_16bit_word};

use super::forward::Meta;
use crate::wire::checksum::update_u16;
use crate::wire::{
    FlowKey, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, Layer, WireError, ipv4_field as ipv4,
    ipv6_field as ipv6,
};

/// The IPv4 flags and fragment offset word (RFC 791 3.1).
mod flags {
    /// Don't Fragment.
    pub const DONT_FRAGMENT: u16 = 0x4000;
    /// More Fragments and the fragment offset: set for any fragment.
    pub const FRAGMENTING: u16 = 0x3fff;
}

fn be16(bytes: &[u8], range: std::ops::Range<usize>) -> Option<u16> {
    let b = bytes.get(range)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// The big-endian 16-bit field at `range` of a fixed IPv4 header (the
/// offsets are constants inside the array).
#[inline(always)]
fn word16(h: &[u8; IPV4_MIN_HEADER_LEN], range: std::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([h[range.start], h[range.start + 1]])
}

/// The address field at `range` of a fixed IPv4 header.
#[inline(always)]
fn address(h: &[u8; IPV4_MIN_HEADER_LEN], range: std::ops::Range<usize>) -> Ipv4Addr {
    let at = range.start;
    Ipv4Addr::new(h[at], h[at + 1], h[at + 2], h[at + 3])
}

/// True when the header's one's complement sum, checksum included, is all
/// ones (RFC 1071), summed 4 bytes at a time with etherparse's checksum
/// words (as the ESP classifier does): the fixed 20 bytes unrolled, then
/// the options (an IPv4 header is IHL 32-bit words).
#[inline(always)]
fn header_checksum_ok(fixed: &[u8; IPV4_MIN_HEADER_LEN], options: &[u8]) -> bool {
    let add = |sum, word: &[u8; 4]| u32_16bit_word::add_4bytes(sum, *word);
    let sum = fixed.as_chunks::<4>().0.iter().fold(0, add);
    let sum = options.as_chunks::<4>().0.iter().fold(sum, add);
    u32_16bit_word::ones_complement(sum) == 0
}

/// The forwarding facts of an IPv4 TCP or UDP packet that is not a
/// fragment and passes every check the general path makes; `None` sends
/// the packet to the general path.
#[inline(always)]
pub(crate) fn ipv4_meta(bytes: &[u8]) -> Option<Meta> {
    // One length check for the fixed header; its fields are then read from
    // an array at constant offsets (no further bounds checks).
    let h: &[u8; IPV4_MIN_HEADER_LEN] = bytes.first_chunk()?;
    let version_ihl = h[ipv4::VERSION_IHL];
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || header_len < IPV4_MIN_HEADER_LEN {
        return None;
    }
    let total_len = usize::from(word16(h, ipv4::TOTAL_LEN));
    if total_len < header_len || total_len > bytes.len() {
        return None;
    }
    let protocol = IpNumber(h[ipv4::PROTOCOL]);
    let flags = word16(h, ipv4::FLAGS_FRAGMENT);
    if (protocol != IpNumber::TCP && protocol != IpNumber::UDP) || flags & flags::FRAGMENTING != 0 {
        return None;
    }
    let options = bytes.get(IPV4_MIN_HEADER_LEN..header_len)?;
    if !header_checksum_ok(h, options) {
        return None;
    }
    let ports: &[u8; 4] = bytes.get(header_len..total_len)?.first_chunk()?;
    Some(Meta {
        flow: FlowKey {
            source: IpAddr::V4(address(h, ipv4::SOURCE)),
            destination: IpAddr::V4(address(h, ipv4::DESTINATION)),
            protocol,
            source_port: u16::from_be_bytes([ports[0], ports[1]]),
            destination_port: u16::from_be_bytes([ports[2], ports[3]]),
        },
        total_len,
        ttl: h[ipv4::TTL],
        dont_fragment: flags & flags::DONT_FRAGMENT != 0,
        v6: false,
    })
}

/// Decrements the TTL (with an incremental header checksum update) or hop
/// limit of the validated packet at the start of `bytes`; at 0 or 1 the
/// packet expires and is left unchanged (RFC 1812 5.3.1, RFC 8200 3).
#[inline(always)]
pub(crate) fn decrement_ttl(bytes: &mut [u8], v6: bool) -> Result<(), WireError> {
    // The IPv4 common case: one length check, then fields of a fixed array.
    if !v6 && let Some(header) = bytes.first_chunk_mut::<IPV4_MIN_HEADER_LEN>() {
        let (ttl, protocol) = (header[ipv4::TTL], header[ipv4::PROTOCOL]);
        if ttl <= 1 {
            let layer = Layer::Ipv4;
            return Err(WireError::TtlExpired { layer, ttl });
        }
        let at = ipv4::CHECKSUM.start;
        let updated = update_u16(
            u16::from_be_bytes([header[at], header[at + 1]]),
            u16::from_be_bytes([ttl, protocol]),
            u16::from_be_bytes([ttl - 1, protocol]),
        );
        header[ipv4::TTL] = ttl - 1;
        [header[at], header[at + 1]] = updated.to_be_bytes();
        return Ok(());
    }
    let (at, layer) = if v6 {
        (ipv6::HOP_LIMIT, Layer::Ipv6)
    } else {
        (ipv4::TTL, Layer::Ipv4)
    };
    let available = bytes.len();
    let truncated = || WireError::Truncated {
        layer,
        offset: 0,
        needed: if v6 {
            IPV6_HEADER_LEN
        } else {
            IPV4_MIN_HEADER_LEN
        },
        available,
    };
    let ttl = *bytes.get(at).ok_or_else(truncated)?;
    if ttl <= 1 {
        return Err(WireError::TtlExpired { layer, ttl });
    }
    if v6 {
        if let Some(hop_limit) = bytes.get_mut(at) {
            *hop_limit = ttl - 1;
        }
        return Ok(());
    }
    let protocol = *bytes.get(ipv4::PROTOCOL).ok_or_else(truncated)?;
    let checksum = be16(bytes, ipv4::CHECKSUM).ok_or_else(truncated)?;
    let updated = update_u16(
        checksum,
        u16::from_be_bytes([ttl, protocol]),
        u16::from_be_bytes([ttl - 1, protocol]),
    );
    let header = bytes.get_mut(..IPV4_MIN_HEADER_LEN).ok_or_else(truncated)?;
    header[ipv4::TTL] = ttl - 1;
    header[ipv4::CHECKSUM].copy_from_slice(&updated.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IpPacket, Ipv4Packet};

    fn udp(payload: usize) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 2, 3], 64)
            .udp(1234, 53)
            .write(&mut out, &vec![7; payload])
            .unwrap();
        out
    }

    #[test]
    fn ttl_decrement_matches_the_wire_module() {
        let mut fast = udp(10);
        let mut reference = fast.clone();
        decrement_ttl(&mut fast, false).unwrap();
        Ipv4Packet::new_checked(&mut reference[..])
            .unwrap()
            .decrement_ttl()
            .unwrap();
        assert_eq!(fast, reference);
        assert!(Ipv4Packet::new_checked(&fast[..]).is_ok());
        fast[8] = 1;
        let before = fast.clone();
        assert!(matches!(
            decrement_ttl(&mut fast, false),
            Err(WireError::TtlExpired { ttl: 1, .. })
        ));
        assert_eq!(fast, before);
        assert!(decrement_ttl(&mut [], true).is_err());
    }

    #[test]
    fn header_checksum_matches_rfc1071_for_every_header_length() {
        let mut seed = 0x1234_5678_u32;
        for ihl in 5..=15usize {
            for round in 0..200 {
                let mut header = vec![0u8; ihl * 4];
                for b in &mut header {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    *b = (seed >> 16) as u8;
                }
                if round == 0 {
                    header.fill(0);
                }
                if round % 2 == 1 {
                    header[10..12].fill(0);
                    let sum = crate::wire::checksum::internet_checksum(&header);
                    header[10..12].copy_from_slice(&sum.to_be_bytes());
                }
                let reference = crate::wire::checksum::internet_checksum(&header) == 0;
                let (fixed, options) = header.split_first_chunk().unwrap();
                assert_eq!(
                    header_checksum_ok(fixed, options),
                    reference,
                    "ihl {ihl} round {round}"
                );
            }
        }
    }

    #[test]
    fn fast_meta_agrees_with_the_general_path() {
        let packet = udp(3);
        let fast = ipv4_meta(&packet).unwrap();
        let general = IpPacket::new_checked(&packet[..]).unwrap();
        assert_eq!(fast.flow, FlowKey::from_packet(&general));
        assert_eq!(fast.total_len, general.total_len());
        // A header checksum error leaves it to the general path.
        let mut bad = packet.clone();
        bad[10] ^= 1;
        assert!(ipv4_meta(&bad).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 2000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x6661_7374),
            ..proptest::test_runner::Config::default()
        })]

        /// Differential: whatever the fast path accepts, the general path
        /// accepts with the same facts, and the fast path declines only
        /// what it does not handle.
        #[test]
        fn fast_path_is_the_general_path(
            payload in 0usize..40,
            tcp in proptest::bool::ANY,
            edits in proptest::collection::vec((0usize..64, proptest::num::u8::ANY), 0..3),
            cut in 0usize..80,
        ) {
            let mut packet = Vec::new();
            let builder = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 2, 3], 9);
            if tcp {
                builder.tcp(4000, 443, 1, 100).write(&mut packet, &vec![1; payload]).unwrap();
            } else {
                builder.udp(4000, 53).write(&mut packet, &vec![1; payload]).unwrap();
            }
            for (at, value) in edits {
                if let Some(b) = packet.get_mut(at) {
                    *b = value;
                }
            }
            // Either keep the checksum as edited or make it right again.
            if cut % 2 == 0 && packet.len() >= 20 && packet[0] >> 4 == 4 {
                packet[10..12].fill(0);
                let ihl = usize::from(packet[0] & 0x0f) * 4;
                if ihl >= 20 && ihl <= packet.len() {
                    let sum = crate::wire::checksum::internet_checksum(&packet[..ihl]);
                    packet[10..12].copy_from_slice(&sum.to_be_bytes());
                }
            }
            packet.truncate(packet.len().saturating_sub(cut / 8));
            let general = IpPacket::new_checked(&packet[..]);
            match ipv4_meta(&packet) {
                Some(fast) => {
                    let general = general.expect("the general path accepts it too");
                    proptest::prop_assert_eq!(fast.flow, FlowKey::from_packet(&general));
                    proptest::prop_assert_eq!(fast.total_len, general.total_len());
                    let IpPacket::V4(v4) = &general else { panic!("IPv4") };
                    proptest::prop_assert_eq!(fast.ttl, v4.ttl());
                    proptest::prop_assert_eq!(fast.dont_fragment, v4.dont_fragment());
                }
                None => {
                    if let Ok(IpPacket::V4(v4)) = &general {
                        let handled = [IpNumber::TCP, IpNumber::UDP].contains(&v4.protocol())
                            && !v4.is_fragment()
                            && v4.payload().len() >= 4;
                        proptest::prop_assert!(!handled, "fast path declined a packet it handles");
                    }
                }
            }
        }
    }
}
