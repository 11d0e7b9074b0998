//! A validated IPv4 packet view (RFC 791) with in-place mutators: TTL
//! decrement with RFC 1812 5.3.1 expiry, DSCP/ECN (RFC 2474 / RFC 3168),
//! each keeping the header checksum right by RFC 1624 incremental update.
//!
//! Contract: [`Ipv4Packet::new_checked`] checks version, IHL, total length
//! against the bytes and the header checksum; after it no accessor panics.

use std::net::Ipv4Addr;

use etherparse::{IpDscp, IpEcn, IpNumber, Ipv4HeaderSlice, err::ipv4::HeaderError};

use super::checksum::{self, ChecksumSum};
use super::error::{Layer, WireError};

/// Minimum (option-less) IPv4 header length.
pub const IPV4_MIN_HEADER_LEN: usize = 20;

/// Byte offsets in the IPv4 header (RFC 791 3.1).
pub(crate) mod field {
    use std::ops::Range;
    pub(crate) const VERSION_IHL: usize = 0;
    pub(crate) const DSCP_ECN: usize = 1;
    pub(crate) const TOTAL_LEN: Range<usize> = 2..4;
    pub(crate) const IDENTIFICATION: Range<usize> = 4..6;
    pub(crate) const FLAGS_FRAGMENT: Range<usize> = 6..8;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: Range<usize> = 10..12;
    pub(crate) const SOURCE: Range<usize> = 12..16;
    pub(crate) const DESTINATION: Range<usize> = 16..20;
}

/// True when `bytes` pass every check of [`Ipv4Packet::new_checked`] (the
/// checksum only when `verify_checksum`): one length check for the fixed
/// header, then fields read at constant offsets of an array.
#[inline(always)]
fn well_formed(bytes: &[u8], verify_checksum: bool) -> bool {
    let Some(fixed) = bytes.first_chunk::<IPV4_MIN_HEADER_LEN>() else {
        return false;
    };
    let version_ihl = fixed[field::VERSION_IHL];
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([
        fixed[field::TOTAL_LEN.start],
        fixed[field::TOTAL_LEN.start + 1],
    ]));
    if version_ihl >> 4 != 4
        || header_len < IPV4_MIN_HEADER_LEN
        || total_len < header_len
        || total_len > bytes.len()
    {
        return false;
    }
    !verify_checksum
        || bytes
            .get(IPV4_MIN_HEADER_LEN..header_len)
            .is_some_and(|options| checksum::ipv4_header_verifies(fixed, options))
}

/// Bits of the flags and fragment offset word (RFC 791 3.1).
pub(crate) mod flags {
    /// Don't Fragment.
    pub(crate) const DONT_FRAGMENT: u16 = 0x4000;
    /// More Fragments.
    pub(crate) const MORE_FRAGMENTS: u16 = 0x2000;
    /// The fragment offset, in 8-byte units.
    pub(crate) const FRAGMENT_OFFSET: u16 = 0x1fff;
    /// More Fragments or a fragment offset: set for any fragment.
    pub(crate) const FRAGMENTING: u16 = MORE_FRAGMENTS | FRAGMENT_OFFSET;
}

/// An IPv4 packet in `B` that passed [`Ipv4Packet::new_checked`]. Bytes past
/// the total length (Ethernet padding) are kept but ignored.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> Ipv4Packet<B> {
    /// Validates `buffer` as an IPv4 packet: version 4, IHL >= 5, the header
    /// within the bytes, header length <= total length <= bytes, and a
    /// correct header checksum.
    ///
    /// The common case is checked inline from the fixed 20 bytes (the
    /// forwarder's and the ESP tunnel's fast path); a packet that fails it
    /// goes to the general path, which names the error.
    #[inline]
    pub fn new_checked(buffer: B) -> Result<Self, WireError> {
        if well_formed(buffer.as_ref(), true) {
            return Ok(Self { buffer });
        }
        Self::new_checked_general(buffer, true)
    }

    /// [`Ipv4Packet::new_checked`] without the checksum check, for packets
    /// this node built itself, inner packets of a tunnel, or quoting a
    /// packet that failed it.
    #[inline]
    pub fn new_checked_ignoring_checksum(buffer: B) -> Result<Self, WireError> {
        if well_formed(buffer.as_ref(), false) {
            return Ok(Self { buffer });
        }
        Self::new_checked_general(buffer, false)
    }

    /// The checks of [`Self::new_checked`] through etherparse, naming the
    /// first that fails.
    #[cold]
    #[inline(never)]
    fn new_checked_general(buffer: B, verify_checksum: bool) -> Result<Self, WireError> {
        let bytes = buffer.as_ref();
        let header = Ipv4HeaderSlice::from_slice(bytes).map_err(|error| match error {
            etherparse::err::ipv4::HeaderSliceError::Len(len) => {
                WireError::truncated(Layer::Ipv4, 0, len.required_len, len.len)
            }
            etherparse::err::ipv4::HeaderSliceError::Content(HeaderError::UnexpectedVersion {
                version_number,
            }) => WireError::IpVersion {
                expected: 4,
                found: version_number,
            },
            etherparse::err::ipv4::HeaderSliceError::Content(
                HeaderError::HeaderLengthSmallerThanHeader { ihl },
            ) => WireError::Ipv4HeaderLength { ihl },
        })?;
        let (total_len, found) = (header.total_len(), header.header_checksum());
        let header = header.slice();
        if usize::from(total_len) < header.len() || usize::from(total_len) > bytes.len() {
            return Err(WireError::Ipv4TotalLength {
                total_len,
                header_len: header.len(),
                available: bytes.len(),
            });
        }
        if verify_checksum && !checksum::verify_internet_checksum(header) {
            let zeroed = ChecksumSum::new()
                .add_bytes(&header[..field::CHECKSUM.start])
                .add_bytes(&header[field::CHECKSUM.end..]);
            return Err(WireError::Ipv4Checksum {
                found,
                expected: zeroed.checksum(),
            });
        }
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn read_u16(&self, range: std::ops::Range<usize>) -> u16 {
        let b = &self.bytes()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::VERSION_IHL] & 0x0f) * 4
    }

    /// Total length in bytes (header and payload, without link padding).
    pub fn total_len(&self) -> usize {
        usize::from(self.read_u16(field::TOTAL_LEN))
    }

    /// The header, options included.
    pub fn header(&self) -> &[u8] {
        &self.bytes()[..self.header_len()]
    }

    /// The payload up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..self.total_len()]
    }

    /// Header and payload up to the total length.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes()[..self.total_len()]
    }

    /// The DS field octet: DSCP (RFC 2474) and ECN (RFC 3168) together.
    pub fn tos(&self) -> u8 {
        self.bytes()[field::DSCP_ECN]
    }

    pub fn dscp(&self) -> IpDscp {
        IpDscp::try_new(self.bytes()[field::DSCP_ECN] >> 2).unwrap_or(IpDscp::ZERO)
    }

    pub fn ecn(&self) -> IpEcn {
        IpEcn::try_new(self.bytes()[field::DSCP_ECN] & 0x03).unwrap_or(IpEcn::NotEct)
    }

    pub fn identification(&self) -> u16 {
        self.read_u16(field::IDENTIFICATION)
    }

    pub fn dont_fragment(&self) -> bool {
        self.read_u16(field::FLAGS_FRAGMENT) & flags::DONT_FRAGMENT != 0
    }

    pub fn more_fragments(&self) -> bool {
        self.read_u16(field::FLAGS_FRAGMENT) & flags::MORE_FRAGMENTS != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn fragment_offset(&self) -> u16 {
        self.read_u16(field::FLAGS_FRAGMENT) & flags::FRAGMENT_OFFSET
    }

    /// True for any fragment (first, middle or last).
    pub fn is_fragment(&self) -> bool {
        self.read_u16(field::FLAGS_FRAGMENT) & flags::FRAGMENTING != 0
    }

    /// True when the packet carries its upper-layer header: not a fragment,
    /// or the first fragment.
    pub fn is_first_fragment(&self) -> bool {
        self.fragment_offset() == 0
    }

    pub fn ttl(&self) -> u8 {
        self.bytes()[field::TTL]
    }

    pub fn protocol(&self) -> IpNumber {
        IpNumber(self.bytes()[field::PROTOCOL])
    }

    pub fn header_checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    pub fn source(&self) -> Ipv4Addr {
        let b = &self.bytes()[field::SOURCE];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn destination(&self) -> Ipv4Addr {
        let b = &self.bytes()[field::DESTINATION];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buffer
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<B> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn write_u16(&mut self, range: std::ops::Range<usize>, value: u16) {
        self.bytes_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Replaces the 16-bit header word at even offset `word_start` and
    /// updates the checksum incrementally.
    fn replace_header_word(&mut self, word_start: usize, new: u16) {
        let range = word_start..word_start + 2;
        let old = self.read_u16(range.clone());
        self.write_u16(range, new);
        let updated = checksum::update_u16(self.header_checksum(), old, new);
        self.write_u16(field::CHECKSUM, updated);
    }

    /// The payload up to the total length, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), self.total_len());
        &mut self.bytes_mut()[start..end]
    }

    /// Header and payload up to the total length, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.bytes_mut()[..end]
    }

    /// Decrements the TTL for forwarding and returns the new value.
    ///
    /// A TTL of 0 or 1 is not decremented: the packet expires here and the
    /// caller sends ICMP time exceeded (RFC 1812 5.3.1).
    pub fn decrement_ttl(&mut self) -> Result<u8, WireError> {
        let ttl = self.ttl();
        if ttl <= 1 {
            return Err(WireError::TtlExpired {
                layer: Layer::Ipv4,
                ttl,
            });
        }
        self.set_ttl(ttl - 1);
        Ok(ttl - 1)
    }

    /// Sets the TTL, updating the checksum incrementally.
    pub fn set_ttl(&mut self, ttl: u8) {
        let protocol = self.bytes()[field::PROTOCOL];
        self.replace_header_word(field::TTL, u16::from_be_bytes([ttl, protocol]));
    }

    /// Sets the DSCP (RFC 2474), keeping ECN, updating the checksum.
    pub fn set_dscp(&mut self, dscp: IpDscp) {
        let tos = (dscp.value() << 2) | (self.bytes()[field::DSCP_ECN] & 0x03);
        self.set_tos(tos);
    }

    /// Sets the ECN field (RFC 3168), keeping DSCP, updating the checksum.
    pub fn set_ecn(&mut self, ecn: IpEcn) {
        let tos = (self.bytes()[field::DSCP_ECN] & 0xfc) | ecn.value();
        self.set_tos(tos);
    }

    fn set_tos(&mut self, tos: u8) {
        let version_ihl = self.bytes()[field::VERSION_IHL];
        self.replace_header_word(field::VERSION_IHL, u16::from_be_bytes([version_ihl, tos]));
    }

    /// Swaps source and destination (the header sum is unchanged: the
    /// same words are summed in another order).
    pub fn swap_addresses(&mut self) {
        let source = self.source().octets();
        let destination = self.destination().octets();
        self.bytes_mut()[field::SOURCE].copy_from_slice(&destination);
        self.bytes_mut()[field::DESTINATION].copy_from_slice(&source);
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.write_u16(field::CHECKSUM, 0);
        let sum = checksum::internet_checksum(self.header());
        self.write_u16(field::CHECKSUM, sum);
    }
}

/// True when `address` does not name a single host as a source
/// (RFC 1812 4.3.2.7 / 5.3.7: zero network, loopback, broadcast, multicast,
/// class E).
pub fn is_invalid_ipv4_source(address: Ipv4Addr) -> bool {
    let first = address.octets()[0];
    first == 0 || address.is_loopback() || address.is_broadcast() || first >= 224
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 0, 2], 64).udp(1, 2);
        let mut out = Vec::new();
        builder.write(&mut out, &[1, 2, 3, 4]).unwrap();
        out
    }

    #[test]
    fn decrements_ttl_with_a_correct_checksum() {
        let mut bytes = sample();
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        assert_eq!(packet.decrement_ttl(), Ok(63));
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.ttl(), 63);
    }

    #[test]
    fn ttl_one_expires_without_change() {
        let mut bytes = sample();
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        packet.set_ttl(1);
        let before = bytes.clone();
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        assert!(matches!(
            packet.decrement_ttl(),
            Err(WireError::TtlExpired { ttl: 1, .. })
        ));
        assert_eq!(bytes, before);
    }

    #[test]
    fn bad_checksum_reports_both_values() {
        let mut bytes = sample();
        let good = Ipv4Packet::new_checked(&bytes[..])
            .unwrap()
            .header_checksum();
        bytes[10] ^= 0xff;
        match Ipv4Packet::new_checked(&bytes[..]) {
            Err(WireError::Ipv4Checksum { found, expected }) => {
                assert_eq!(expected, good);
                assert_eq!(found, good ^ 0xff00);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_truncation_is_refused_with_its_reason() {
        let bytes = sample();
        for len in 0..bytes.len() {
            let error = Ipv4Packet::new_checked(&bytes[..len]).unwrap_err();
            if len < IPV4_MIN_HEADER_LEN {
                assert_eq!(
                    error,
                    WireError::truncated(Layer::Ipv4, 0, IPV4_MIN_HEADER_LEN, len)
                );
            } else {
                assert!(
                    matches!(error, WireError::Ipv4TotalLength { available, .. } if available == len),
                    "length {len}: {error:?}"
                );
            }
        }
        assert!(Ipv4Packet::new_checked(&bytes[..]).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 4000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x0004_0004),
            ..proptest::test_runner::Config::default()
        })]

        /// Differential: the inline common-case check accepts exactly what
        /// the general path through etherparse accepts, options and
        /// mangled headers included.
        #[test]
        fn inline_check_is_the_general_path(
            mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..72),
            version_ihl in 0x40u8..=0x4f,
            fix_checksum: bool,
            fitting_length: bool,
        ) {
            if let Some(first) = bytes.first_mut() {
                *first = version_ihl;
            }
            let header_len = usize::from(version_ihl & 0x0f) * 4;
            if fitting_length && bytes.len() >= 4 {
                let len = bytes.len() as u16;
                bytes[2..4].copy_from_slice(&len.to_be_bytes());
            }
            if fix_checksum && header_len >= 20 && bytes.len() >= header_len {
                bytes[10..12].fill(0);
                let sum = checksum::internet_checksum(&bytes[..header_len]);
                bytes[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            for verify in [true, false] {
                let general = Ipv4Packet::new_checked_general(&bytes[..], verify);
                proptest::prop_assert_eq!(well_formed(&bytes, verify), general.is_ok());
            }
        }
    }
}
