//! Either IP version behind one view: [`IpPacket`] dispatches on the version
//! nibble (RFC 791 / RFC 8200) and locates the transport header for the
//! flow key, MSS clamping and ICMP error rules.

use std::net::IpAddr;

use etherparse::IpNumber;

use super::error::{Layer, WireError};
use super::ipv4::Ipv4Packet;
use super::ipv6::Ipv6Packet;

/// A validated IPv4 or IPv6 packet.
#[derive(Debug, Clone)]
pub enum IpPacket<B> {
    V4(Ipv4Packet<B>),
    V6(Ipv6Packet<B>),
}

/// Where the transport (upper-layer) header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLocation {
    /// The upper-layer protocol.
    pub protocol: IpNumber,
    /// Offset of the transport header from the start of the IP header.
    pub offset: usize,
    /// End of the IP packet (total length), so the transport bytes are
    /// `offset..end`.
    pub end: usize,
    /// True when this packet is part of a fragmented datagram.
    pub fragmented: bool,
    /// True when the transport header is in this packet (not fragmented,
    /// or the first fragment).
    pub has_header: bool,
}

impl<B: AsRef<[u8]>> IpPacket<B> {
    /// Validates `buffer` as IPv4 (checksum included) or IPv6, by the
    /// version nibble.
    pub fn new_checked(buffer: B) -> Result<Self, WireError> {
        let Some(first) = buffer.as_ref().first() else {
            return Err(WireError::truncated(Layer::Ipv4, 0, 1, 0));
        };
        match first >> 4 {
            4 => Ipv4Packet::new_checked(buffer).map(IpPacket::V4),
            6 => Ipv6Packet::new_checked(buffer).map(IpPacket::V6),
            found => Err(WireError::IpVersion { expected: 4, found }),
        }
    }

    pub fn source(&self) -> IpAddr {
        match self {
            IpPacket::V4(p) => IpAddr::V4(p.source()),
            IpPacket::V6(p) => IpAddr::V6(p.source()),
        }
    }

    pub fn destination(&self) -> IpAddr {
        match self {
            IpPacket::V4(p) => IpAddr::V4(p.destination()),
            IpPacket::V6(p) => IpAddr::V6(p.destination()),
        }
    }

    /// Header plus payload length, without link padding.
    pub fn total_len(&self) -> usize {
        match self {
            IpPacket::V4(p) => p.total_len(),
            IpPacket::V6(p) => p.total_len(),
        }
    }

    /// Header and payload up to the total length.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IpPacket::V4(p) => p.as_bytes(),
            IpPacket::V6(p) => p.as_bytes(),
        }
    }

    /// Locates the transport header (for IPv6, after walking the extension
    /// headers).
    pub fn transport(&self) -> Result<TransportLocation, WireError> {
        match self {
            IpPacket::V4(p) => Ok(TransportLocation {
                protocol: p.protocol(),
                offset: p.header_len(),
                end: p.total_len(),
                fragmented: p.is_fragment(),
                has_header: p.is_first_fragment(),
            }),
            IpPacket::V6(p) => {
                let upper = p.upper_layer()?;
                Ok(TransportLocation {
                    protocol: upper.protocol,
                    offset: upper.offset,
                    end: p.total_len(),
                    fragmented: upper.is_fragment(),
                    has_header: upper.is_first_fragment(),
                })
            }
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        match self {
            IpPacket::V4(p) => p.into_inner(),
            IpPacket::V6(p) => p.into_inner(),
        }
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> IpPacket<B> {
    /// Header and payload up to the total length, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            IpPacket::V4(p) => p.as_bytes_mut(),
            IpPacket::V6(p) => p.as_bytes_mut(),
        }
    }

    /// Decrements the TTL (IPv4, with checksum update) or hop limit (IPv6);
    /// on 0 or 1 reports [`WireError::TtlExpired`] and changes nothing.
    pub fn decrement_ttl(&mut self) -> Result<u8, WireError> {
        match self {
            IpPacket::V4(p) => p.decrement_ttl(),
            IpPacket::V6(p) => p.decrement_hop_limit(),
        }
    }
}
