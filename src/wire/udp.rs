//! The UDP header (RFC 768) as ESP in UDP (RFC 3948) reads and writes it,
//! and the UDP checksum over IPv6, which may never be zero (RFC 8200
//! section 8.1).

use std::net::Ipv6Addr;

use etherparse::IpNumber;

use super::checksum::ipv6_pseudo_header_sum;
use super::error::{Layer, WireError};

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// Byte ranges in the UDP header (RFC 768).
pub(crate) mod field {
    use std::ops::Range;
    pub(crate) const SOURCE_PORT: Range<usize> = 0..2;
    pub(crate) const DESTINATION_PORT: Range<usize> = 2..4;
    pub(crate) const LENGTH: Range<usize> = 4..6;
    pub(crate) const CHECKSUM: Range<usize> = 6..8;
}

/// The fields of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UdpHeader {
    pub source_port: u16,
    pub destination_port: u16,
    /// Header and data length in bytes (not checked against the packet:
    /// the caller knows what it should be).
    pub length: u16,
    pub checksum: u16,
}

impl UdpHeader {
    /// Reads the header at the start of `bytes`.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let h: &[u8; UDP_HEADER_LEN] = bytes.first_chunk().ok_or(WireError::truncated(
            Layer::Udp,
            0,
            UDP_HEADER_LEN,
            bytes.len(),
        ))?;
        let word = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
        Ok(UdpHeader {
            source_port: word(field::SOURCE_PORT.start),
            destination_port: word(field::DESTINATION_PORT.start),
            length: word(field::LENGTH.start),
            checksum: word(field::CHECKSUM.start),
        })
    }

    /// Writes the header.
    pub fn emit(&self, header: &mut [u8; UDP_HEADER_LEN]) {
        header[field::SOURCE_PORT].copy_from_slice(&self.source_port.to_be_bytes());
        header[field::DESTINATION_PORT].copy_from_slice(&self.destination_port.to_be_bytes());
        header[field::LENGTH].copy_from_slice(&self.length.to_be_bytes());
        header[field::CHECKSUM].copy_from_slice(&self.checksum.to_be_bytes());
    }
}

/// The checksum of the UDP `segment` (its checksum field zero) sent from
/// `source` to `destination` over IPv6: a computed 0 is sent as 0xFFFF,
/// since a zero checksum is not allowed over IPv6 (RFC 8200 section 8.1,
/// RFC 768).
pub fn udp_ipv6_checksum(source: &Ipv6Addr, destination: &Ipv6Addr, segment: &[u8]) -> u16 {
    let len = u32::try_from(segment.len()).unwrap_or(u32::MAX);
    let sum = ipv6_pseudo_header_sum(source, destination, IpNumber::UDP, len).add_bytes(segment);
    match sum.checksum() {
        0 => 0xffff,
        checksum => checksum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_emits_and_refuses_every_truncation() {
        let header = UdpHeader {
            source_port: 4500,
            destination_port: 4501,
            length: 16,
            checksum: 0xabcd,
        };
        let mut bytes = [0u8; UDP_HEADER_LEN];
        header.emit(&mut bytes);
        assert_eq!(bytes, [0x11, 0x94, 0x11, 0x95, 0, 16, 0xab, 0xcd]);
        assert_eq!(UdpHeader::parse(&bytes), Ok(header));
        for len in 0..UDP_HEADER_LEN {
            assert_eq!(
                UdpHeader::parse(&bytes[..len]),
                Err(WireError::truncated(Layer::Udp, 0, UDP_HEADER_LEN, len)),
                "length {len}"
            );
        }
    }

    #[test]
    fn ipv6_checksum_matches_etherparse() {
        let builder = etherparse::PacketBuilder::ipv6([1; 16], [2; 16], 64).udp(4500, 4500);
        let mut packet = Vec::new();
        builder.write(&mut packet, &[1, 2, 3, 4, 5]).unwrap();
        let segment = &mut packet[40..];
        let expected = u16::from_be_bytes([segment[6], segment[7]]);
        segment[6..8].fill(0);
        let (source, destination) = (Ipv6Addr::from([1; 16]), Ipv6Addr::from([2; 16]));
        assert_eq!(udp_ipv6_checksum(&source, &destination, segment), expected);
    }
}
