//! A validated IPv6 packet view (RFC 8200) with in-place mutators: hop
//! limit decrement (RFC 8200 section 3, RFC 4443 3.3 on expiry) and traffic
//! class DSCP/ECN (RFC 2474 / RFC 3168). IPv6 has no header checksum.
//!
//! Contract: [`Ipv6Packet::new_checked`] checks version, the 40-byte header
//! and payload length against the bytes; after it no accessor panics.

use std::net::Ipv6Addr;

use etherparse::{
    IpDscp, IpEcn, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, Ipv6HeaderSlice,
    err::ipv6::HeaderSliceError, err::ipv6_exts,
};

use super::error::{Layer, WireError};

/// The fixed IPv6 header length.
pub const IPV6_HEADER_LEN: usize = 40;

/// The IPv6 minimum link MTU (RFC 8200 section 5).
pub const IPV6_MIN_MTU: usize = 1280;

/// Byte offsets in the IPv6 header (RFC 8200 section 3).
pub(crate) mod field {
    use std::ops::Range;
    pub(crate) const VERSION_TRAFFIC_CLASS_FLOW: Range<usize> = 0..4;
    pub(crate) const PAYLOAD_LEN: Range<usize> = 4..6;
    pub(crate) const NEXT_HEADER: usize = 6;
    pub(crate) const HOP_LIMIT: usize = 7;
    pub(crate) const SOURCE: Range<usize> = 8..24;
    pub(crate) const DESTINATION: Range<usize> = 24..40;
}

/// Where the upper-layer header starts after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// The upper-layer protocol (TCP, UDP, ICMPv6, ESP, ...).
    pub protocol: IpNumber,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    /// The fragment header's fields, when there is one.
    pub fragment: Option<Ipv6Fragment>,
}

impl UpperLayer {
    /// True when the upper-layer header is present: no fragment header,
    /// or the first fragment.
    pub fn is_first_fragment(&self) -> bool {
        self.fragment.is_none_or(|f| f.offset == 0)
    }

    /// True when a fragment header fragments the payload.
    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| f.offset != 0 || f.more)
    }
}

/// The fields of an IPv6 fragment header (RFC 8200 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fragment {
    /// Offset in 8-byte units.
    pub offset: u16,
    /// The M flag.
    pub more: bool,
}

/// An IPv6 packet in `B` that passed [`Ipv6Packet::new_checked`]. Bytes past
/// 40 + payload length (link padding) are kept but ignored.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> Ipv6Packet<B> {
    /// Validates `buffer` as an IPv6 packet: version 6, a full 40-byte header
    /// and a payload length within the bytes. A jumbogram (payload length 0
    /// with a hop-by-hop header, RFC 2675) is refused.
    pub fn new_checked(buffer: B) -> Result<Self, WireError> {
        let bytes = buffer.as_ref();
        let header = Ipv6HeaderSlice::from_slice(bytes).map_err(|error| match error {
            HeaderSliceError::Len(len) => {
                WireError::truncated(Layer::Ipv6, 0, len.required_len, len.len)
            }
            HeaderSliceError::Content(etherparse::err::ipv6::HeaderError::UnexpectedVersion {
                version_number,
            }) => WireError::IpVersion {
                expected: 6,
                found: version_number,
            },
        })?;
        let payload_len = header.payload_length();
        let available = bytes.len() - IPV6_HEADER_LEN;
        if usize::from(payload_len) > available {
            return Err(WireError::Ipv6PayloadLength {
                payload_len,
                available,
            });
        }
        if payload_len == 0 && header.next_header() == IpNumber::IPV6_HEADER_HOP_BY_HOP {
            return Err(WireError::Ipv6Jumbogram);
        }
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Payload length from the header.
    pub fn payload_len(&self) -> usize {
        let b = &self.bytes()[field::PAYLOAD_LEN];
        usize::from(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Header plus payload length (without link padding).
    pub fn total_len(&self) -> usize {
        IPV6_HEADER_LEN + self.payload_len()
    }

    /// The 40-byte fixed header.
    pub fn header(&self) -> &[u8] {
        &self.bytes()[..IPV6_HEADER_LEN]
    }

    /// The payload (extension headers included) up to the payload length.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[IPV6_HEADER_LEN..self.total_len()]
    }

    /// Header and payload up to the payload length.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes()[..self.total_len()]
    }

    fn first_word(&self) -> u32 {
        let b = &self.bytes()[field::VERSION_TRAFFIC_CLASS_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn traffic_class(&self) -> u8 {
        ((self.first_word() >> 20) & 0xff) as u8
    }

    pub fn dscp(&self) -> IpDscp {
        IpDscp::try_new(self.traffic_class() >> 2).unwrap_or(IpDscp::ZERO)
    }

    pub fn ecn(&self) -> IpEcn {
        IpEcn::try_new(self.traffic_class() & 0x03).unwrap_or(IpEcn::NotEct)
    }

    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    pub fn next_header(&self) -> IpNumber {
        IpNumber(self.bytes()[field::NEXT_HEADER])
    }

    pub fn hop_limit(&self) -> u8 {
        self.bytes()[field::HOP_LIMIT]
    }

    pub fn source(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.address_octets(field::SOURCE))
    }

    pub fn destination(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.address_octets(field::DESTINATION))
    }

    fn address_octets(&self, range: std::ops::Range<usize>) -> [u8; 16] {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.bytes()[range]);
        octets
    }

    /// Walks the extension headers (hop-by-hop, routing, fragment,
    /// destination options, AH) to the upper-layer header.
    pub fn upper_layer(&self) -> Result<UpperLayer, WireError> {
        let (extensions, protocol, _rest) = Ipv6ExtensionsSlice::from_slice(
            self.next_header(),
            self.payload(),
        )
        .map_err(|error| {
            let offset = match error {
                ipv6_exts::HeaderSliceError::Len(len) => IPV6_HEADER_LEN + len.layer_start_offset,
                ipv6_exts::HeaderSliceError::Content(_) => IPV6_HEADER_LEN,
            };
            WireError::Ipv6Extensions { offset }
        })?;
        let offset = IPV6_HEADER_LEN + extensions.slice().len();
        let fragment = extensions
            .into_iter()
            .find_map(|extension| match extension {
                Ipv6ExtensionSlice::Fragment(fragment) => Some(Ipv6Fragment {
                    offset: fragment.fragment_offset().value(),
                    more: fragment.more_fragments(),
                }),
                _ => None,
            });
        Ok(UpperLayer {
            protocol,
            offset,
            fragment,
        })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buffer
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<B> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Header and payload up to the payload length, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.bytes_mut()[..end]
    }

    /// Decrements the hop limit for forwarding and returns the new value.
    /// A hop limit of 0 or 1 is left alone: the packet expires here and the
    /// caller sends ICMPv6 time exceeded (RFC 8200 section 3, RFC 4443 3.3).
    pub fn decrement_hop_limit(&mut self) -> Result<u8, WireError> {
        let hop_limit = self.hop_limit();
        if hop_limit <= 1 {
            return Err(WireError::TtlExpired {
                layer: Layer::Ipv6,
                ttl: hop_limit,
            });
        }
        self.set_hop_limit(hop_limit - 1);
        Ok(hop_limit - 1)
    }

    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.bytes_mut()[field::HOP_LIMIT] = hop_limit;
    }

    /// Sets the whole traffic class octet.
    pub fn set_traffic_class(&mut self, traffic_class: u8) {
        let word = (self.first_word() & !0x0ff0_0000) | (u32::from(traffic_class) << 20);
        self.bytes_mut()[field::VERSION_TRAFFIC_CLASS_FLOW].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets the DSCP bits of the traffic class, keeping ECN.
    pub fn set_dscp(&mut self, dscp: IpDscp) {
        let traffic_class = (dscp.value() << 2) | (self.traffic_class() & 0x03);
        self.set_traffic_class(traffic_class);
    }

    /// Sets the ECN bits of the traffic class, keeping DSCP.
    pub fn set_ecn(&mut self, ecn: IpEcn) {
        let traffic_class = (self.traffic_class() & 0xfc) | ecn.value();
        self.set_traffic_class(traffic_class);
    }

    /// Swaps source and destination (upper-layer checksums over the
    /// pseudo-header are unchanged: the same words in another order).
    pub fn swap_addresses(&mut self) {
        let source = self.address_octets(field::SOURCE);
        let destination = self.address_octets(field::DESTINATION);
        self.bytes_mut()[field::SOURCE].copy_from_slice(&destination);
        self.bytes_mut()[field::DESTINATION].copy_from_slice(&source);
    }
}

/// True when `address` cannot be the source of a packet that gets an
/// ICMPv6 error: unspecified or multicast (RFC 4443 2.4(e.3)).
pub fn is_invalid_ipv6_source(address: &Ipv6Addr) -> bool {
    address.is_unspecified() || address.is_multicast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(hop_limit: u8) -> Vec<u8> {
        let builder =
            etherparse::PacketBuilder::ipv6([0x20; 16], [0x21; 16], hop_limit).udp(1000, 53);
        let mut out = Vec::new();
        builder.write(&mut out, &[9; 5]).unwrap();
        out
    }

    #[test]
    fn hop_limit_decrements_and_expires() {
        let mut bytes = sample(2);
        let mut packet = Ipv6Packet::new_checked(&mut bytes[..]).unwrap();
        assert_eq!(packet.decrement_hop_limit(), Ok(1));
        assert!(matches!(
            packet.decrement_hop_limit(),
            Err(WireError::TtlExpired { ttl: 1, .. })
        ));
        assert_eq!(packet.hop_limit(), 1);
    }

    #[test]
    fn traffic_class_round_trips_without_touching_flow_label() {
        let mut bytes = sample(64);
        bytes[1] |= 0x0a;
        bytes[3] = 0x55;
        let mut packet = Ipv6Packet::new_checked(&mut bytes[..]).unwrap();
        let flow = packet.flow_label();
        packet.set_dscp(IpDscp::try_new(46).unwrap());
        packet.set_ecn(IpEcn::CongestionExperienced);
        assert_eq!(packet.dscp().value(), 46);
        assert_eq!(packet.ecn(), IpEcn::CongestionExperienced);
        assert_eq!(packet.flow_label(), flow);
        assert_eq!(packet.as_bytes()[0] >> 4, 6);
    }

    #[test]
    fn upper_layer_is_found() {
        let bytes = sample(64);
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        let upper = packet.upper_layer().unwrap();
        assert_eq!(upper.protocol, IpNumber::UDP);
        assert_eq!(upper.offset, IPV6_HEADER_LEN);
        assert!(upper.is_first_fragment() && !upper.is_fragment());
    }
}
