//! The Internet checksum: full computation (RFC 1071, via etherparse's
//! word summer), incremental update (RFC 1624 eqn. 3) and the pseudo-header
//! sums that TCP, UDP (RFC 768 / RFC 8200 8.1) and ICMPv6 (RFC 4443 2.3) add.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::IpNumber;
use etherparse::checksum::{Sum16BitWords, u32_16bit_word};

/// A running one's complement sum of 16-bit big-endian words.
///
/// Thin wrapper over etherparse's summer so callers never mix up "sum" and
/// "checksum" (the checksum is the complement of the folded sum).
#[derive(Clone, Debug, Default)]
pub struct ChecksumSum(Sum16BitWords);

impl ChecksumSum {
    /// An empty sum.
    pub fn new() -> Self {
        Self(Sum16BitWords::new())
    }

    /// Adds `bytes` as big-endian 16-bit words; an odd trailing byte is
    /// padded with a zero byte (RFC 1071 section 1).
    #[must_use]
    pub fn add_bytes(self, bytes: &[u8]) -> Self {
        Self(self.0.add_slice(bytes))
    }

    /// Adds one 16-bit word.
    #[must_use]
    pub fn add_u16(self, word: u16) -> Self {
        Self(self.0.add_2bytes(word.to_be_bytes()))
    }

    /// Adds one 32-bit value as two 16-bit words.
    #[must_use]
    pub fn add_u32(mut self, value: u32) -> Self {
        Self(self.0.add_4bytes(value.to_be_bytes()))
    }

    /// The checksum: the one's complement of the folded sum.
    pub fn checksum(&self) -> u16 {
        // etherparse sums native-endian words and leaves the result in that
        // byte order; its own callers convert with `to_be` the same way.
        u16::from_be(self.0.ones_complement())
    }

    /// True when the summed bytes included a correct checksum field
    /// (RFC 1071: the sum over data plus checksum is all ones).
    pub fn verifies(&self) -> bool {
        self.checksum() == 0
    }
}

/// The Internet checksum of `bytes` (RFC 1071).
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    ChecksumSum::new().add_bytes(bytes).checksum()
}

/// True when `bytes`, checksum field included, sum to all ones (RFC 1071).
pub fn verify_internet_checksum(bytes: &[u8]) -> bool {
    ChecksumSum::new().add_bytes(bytes).verifies()
}

/// The IPv4 pseudo-header sum for a TCP or UDP segment (RFC 793 3.1,
/// RFC 768): source, destination, zero, protocol, segment length.
pub fn ipv4_pseudo_header_sum(
    source: Ipv4Addr,
    destination: Ipv4Addr,
    protocol: IpNumber,
    segment_len: u16,
) -> ChecksumSum {
    ChecksumSum::new()
        .add_u32(source.to_bits())
        .add_u32(destination.to_bits())
        .add_u16(u16::from(protocol.0))
        .add_u16(segment_len)
}

/// The IPv6 pseudo-header sum for an upper-layer packet (RFC 8200 8.1):
/// source, destination, 32-bit upper-layer length, 24 zero bits and the
/// next header value. ICMPv6 uses it too (RFC 4443 2.3).
pub fn ipv6_pseudo_header_sum(
    source: &Ipv6Addr,
    destination: &Ipv6Addr,
    next_header: IpNumber,
    upper_layer_len: u32,
) -> ChecksumSum {
    ChecksumSum::new()
        .add_bytes(&source.octets())
        .add_bytes(&destination.octets())
        .add_u32(upper_layer_len)
        .add_u16(u16::from(next_header.0))
}

/// The ICMPv6 checksum of `message` (its checksum field zero) sent from
/// `source` to `destination` (RFC 4443 2.3).
pub fn icmpv6_checksum(source: &Ipv6Addr, destination: &Ipv6Addr, message: &[u8]) -> u16 {
    icmpv6_sum(source, destination, message).checksum()
}

/// True when the ICMPv6 `message`, checksum field included, verifies.
pub fn verify_icmpv6_checksum(source: &Ipv6Addr, destination: &Ipv6Addr, message: &[u8]) -> bool {
    icmpv6_sum(source, destination, message).verifies()
}

fn icmpv6_sum(source: &Ipv6Addr, destination: &Ipv6Addr, message: &[u8]) -> ChecksumSum {
    // An IPv6 payload is at most 65535 bytes (jumbograms are refused), so
    // the length always fits; saturate rather than wrap if misused.
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    ipv6_pseudo_header_sum(source, destination, IpNumber::IPV6_ICMP, len).add_bytes(message)
}

/// True when an IPv4 header (its fixed 20 bytes and its options), checksum
/// included, sums to all ones (RFC 1071): the fixed part five 4-byte
/// additions unrolled, then the options (IHL counts 32-bit words). Summing
/// 32-bit words in native order and folding at the end gives the same
/// verdict as the 16-bit big-endian sum (RFC 1071 section 2(A)-(C)).
#[inline(always)]
pub fn ipv4_header_verifies(fixed: &[u8; 20], options: &[u8]) -> bool {
    let add = |sum, word: &[u8; 4]| u32_16bit_word::add_4bytes(sum, *word);
    let sum = fixed.as_chunks::<4>().0.iter().fold(0, add);
    let sum = options.as_chunks::<4>().0.iter().fold(sum, add);
    u32_16bit_word::ones_complement(sum) == 0
}

/// Updates checksum `checksum` for a 16-bit field changing from `old` to
/// `new` (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`), which never turns a
/// correct checksum into the `-0` form that eqn. 2 can produce.
///
/// The field must start at an even offset of the checksummed data; for a
/// field at an odd offset use [`update_u16_at_odd_offset`].
pub fn update_u16(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

/// [`update_u16`] for a 16-bit field that starts at an odd offset (it
/// straddles two checksum words). One's complement sums commute with byte
/// swapping (RFC 1071 section 2(B)), so the field enters the sum byte-swapped.
pub fn update_u16_at_odd_offset(checksum: u16, old: u16, new: u16) -> u16 {
    update_u16(checksum, old.swap_bytes(), new.swap_bytes())
}

/// [`update_u16`] for a 32-bit field at an even offset (two words).
pub fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let sum = u64::from(!checksum)
        + u64::from(!(old >> 16) & 0xffff)
        + u64::from(!old & 0xffff)
        + u64::from(new >> 16)
        + u64::from(new & 0xffff);
    !fold64(sum)
}

/// Folds a 32-bit accumulator into 16 bits with end-around carry.
fn fold(sum: u32) -> u16 {
    let once = (sum & 0xffff) + (sum >> 16);
    let twice = (once & 0xffff) + (once >> 16);
    // `twice` fits 16 bits: once <= 0x1fffe, so twice <= 0xffff.
    (twice & 0xffff) as u16
}

/// Folds a 64-bit accumulator into 16 bits with end-around carry.
fn fold64(sum: u64) -> u16 {
    let mut folded = sum;
    while folded > 0xffff {
        folded = (folded & 0xffff) + (folded >> 16);
    }
    (folded & 0xffff) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_section3_example() {
        // RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&bytes), !0xddf2);
    }

    #[test]
    fn ipv4_header_known_answer() {
        // A widely quoted IPv4 header whose checksum is 0xb861.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&header), 0xb861);
        let mut with_checksum = header;
        with_checksum[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert!(verify_internet_checksum(&with_checksum));
    }

    #[test]
    fn rfc1624_section5_example() {
        // RFC 1624 section 5: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285.
        // Eqn. 3 gives 0x0000 (eqn. 2 would give the wrong 0xFFFF).
        assert_eq!(update_u16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
    }

    #[test]
    fn update_u32_matches_two_word_updates() {
        let hc = 0x1234;
        let (old, new) = (0xc0a8_0001u32, 0x0a00_0002u32);
        let two_steps = update_u16(
            update_u16(hc, (old >> 16) as u16, (new >> 16) as u16),
            old as u16,
            new as u16,
        );
        assert_eq!(update_u32(hc, old, new), two_steps);
    }

    #[test]
    fn ipv4_header_verifies_matches_rfc1071_for_every_header_length() {
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
                    let sum = internet_checksum(&header);
                    header[10..12].copy_from_slice(&sum.to_be_bytes());
                }
                let reference = internet_checksum(&header) == 0;
                let (fixed, options) = header.split_first_chunk().unwrap();
                assert_eq!(
                    ipv4_header_verifies(fixed, options),
                    reference,
                    "ihl {ihl} round {round}"
                );
            }
        }
    }
}
