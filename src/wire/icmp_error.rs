//! ICMP error messages a router sends: ICMPv4 time exceeded, destination
//! unreachable and fragmentation needed (RFC 792, RFC 1812 4.3.2, RFC 1191)
//! and ICMPv6 time exceeded, no route and packet too big (RFC 4443), built
//! into a caller buffer as a complete IP packet, never about a packet the
//! RFCs protect (RFC 1812 4.3.2.7, RFC 4443 2.4(e)).
//!
//! The caller suppresses errors for frames that arrived as link-layer
//! broadcast or multicast, and rate-limits (RFC 4443 2.4(f)); both need
//! context these functions do not have.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, icmpv4, icmpv6};

use super::checksum;
use super::error::{IcmpSuppression, WireError};
use super::ipv4::{self, IPV4_MIN_HEADER_LEN, Ipv4Packet};
use super::ipv6::{self, IPV6_HEADER_LEN, IPV6_MIN_MTU, Ipv6Packet};
use crate::packet::PacketBuf;

/// ICMP header length (type, code, checksum and the 4-byte rest of header).
const ICMP_HEADER_LEN: usize = 8;

/// Largest ICMPv4 error this node sends: 576 bytes (RFC 1812 4.3.2.3).
pub const ICMPV4_ERROR_MAX_LEN: usize = 576;

/// Largest ICMPv6 error: the IPv6 minimum MTU (RFC 4443 2.4(c)).
pub const ICMPV6_ERROR_MAX_LEN: usize = IPV6_MIN_MTU;

/// TTL / hop limit of the errors this node originates (RFC 1700 default).
pub const ICMP_ERROR_TTL: u8 = 64;

/// TOS of ICMPv4 errors: precedence 6, internetwork control
/// (RFC 1812 4.3.2.5).
const ICMPV4_ERROR_TOS: u8 = 0xc0;

/// ICMPv4 error types per RFC 1812 4.3.2.7 (dest unreachable, source quench,
/// redirect, time exceeded, parameter problem).
const ICMPV4_ERROR_TYPES: [u8; 5] = [
    icmpv4::TYPE_DEST_UNREACH,
    icmpv4::TYPE_SOURCE_QUENCH,
    icmpv4::TYPE_REDIRECT,
    icmpv4::TYPE_TIME_EXCEEDED,
    icmpv4::TYPE_PARAMETER_PROBLEM,
];

/// The ICMPv4 errors a router sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4ErrorKind {
    /// Type 11 code 0: TTL exceeded in transit.
    TimeExceeded,
    /// Type 3 code 0: no route to the network.
    NetUnreachable,
    /// Type 3 code 1: the host cannot be reached (e.g. no neighbour).
    HostUnreachable,
    /// Type 3 code 4 with the next-hop MTU (RFC 1191 section 4).
    FragmentationNeeded { next_hop_mtu: u16 },
}

impl Icmpv4ErrorKind {
    fn type_code_rest(self) -> (u8, u8, [u8; 4]) {
        match self {
            Icmpv4ErrorKind::TimeExceeded => (
                icmpv4::TYPE_TIME_EXCEEDED,
                icmpv4::CODE_TIME_EXCEEDED_TTL_EXCEEDED_IN_TRANSIT,
                [0; 4],
            ),
            Icmpv4ErrorKind::NetUnreachable => (
                icmpv4::TYPE_DEST_UNREACH,
                icmpv4::CODE_DST_UNREACH_NET,
                [0; 4],
            ),
            Icmpv4ErrorKind::HostUnreachable => (
                icmpv4::TYPE_DEST_UNREACH,
                icmpv4::CODE_DST_UNREACH_HOST,
                [0; 4],
            ),
            Icmpv4ErrorKind::FragmentationNeeded { next_hop_mtu } => {
                let [high, low] = next_hop_mtu.to_be_bytes();
                (
                    icmpv4::TYPE_DEST_UNREACH,
                    icmpv4::CODE_DST_UNREACH_NEED_FRAG,
                    [0, 0, high, low],
                )
            }
        }
    }
}

/// The ICMPv6 errors a router sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6ErrorKind {
    /// Type 3 code 0: hop limit exceeded in transit.
    TimeExceeded,
    /// Type 1 code 0: no route to destination.
    NoRoute,
    /// Type 1 code 3: address unreachable (e.g. no neighbour).
    AddressUnreachable,
    /// Type 2 code 0 with the next-hop MTU.
    PacketTooBig { mtu: u32 },
}

impl Icmpv6ErrorKind {
    fn type_code_rest(self) -> (u8, u8, [u8; 4]) {
        match self {
            Icmpv6ErrorKind::TimeExceeded => (
                icmpv6::TYPE_TIME_EXCEEDED,
                icmpv6::CODE_TIME_EXCEEDED_HOP_LIMIT_EXCEEDED,
                [0; 4],
            ),
            Icmpv6ErrorKind::NoRoute => (
                icmpv6::TYPE_DST_UNREACH,
                icmpv6::CODE_DST_UNREACH_NO_ROUTE,
                [0; 4],
            ),
            Icmpv6ErrorKind::AddressUnreachable => (
                icmpv6::TYPE_DST_UNREACH,
                icmpv6::CODE_DST_UNREACH_ADDR,
                [0; 4],
            ),
            Icmpv6ErrorKind::PacketTooBig { mtu } => {
                (icmpv6::TYPE_PACKET_TOO_BIG, 0, mtu.to_be_bytes())
            }
        }
    }

    fn is_packet_too_big(self) -> bool {
        matches!(self, Icmpv6ErrorKind::PacketTooBig { .. })
    }
}

/// Checks RFC 1812 4.3.2.7 for an ICMPv4 error about `offending`.
pub fn icmpv4_error_allowed<B: AsRef<[u8]>>(
    offending: &Ipv4Packet<B>,
) -> Result<(), IcmpSuppression> {
    if !offending.is_first_fragment() {
        return Err(IcmpSuppression::AboutNonFirstFragment);
    }
    let destination = offending.destination();
    if destination.is_multicast() || destination.is_broadcast() {
        return Err(IcmpSuppression::AboutMulticastOrBroadcast);
    }
    if ipv4::is_invalid_ipv4_source(offending.source()) {
        return Err(IcmpSuppression::SourceNotUnicast);
    }
    if offending.protocol() == IpNumber::ICMP {
        match offending.payload().first() {
            Some(icmp_type) if !ICMPV4_ERROR_TYPES.contains(icmp_type) => {}
            _ => return Err(IcmpSuppression::AboutIcmpError),
        }
    }
    Ok(())
}

/// Builds an ICMPv4 error about `offending` into `out` as a complete IPv4
/// packet from `source` to the offending packet's source, quoting as much of
/// the offending packet as fits in 576 bytes. Returns the length written.
pub fn build_icmpv4_error<B: AsRef<[u8]>>(
    kind: Icmpv4ErrorKind,
    offending: &Ipv4Packet<B>,
    source: Ipv4Addr,
    out: &mut [u8],
) -> Result<usize, WireError> {
    icmpv4_error_allowed(offending).map_err(WireError::IcmpSuppressed)?;
    let quote_max = ICMPV4_ERROR_MAX_LEN - IPV4_MIN_HEADER_LEN - ICMP_HEADER_LEN;
    let quote = offending.as_bytes();
    let quote = &quote[..quote.len().min(quote_max)];
    let total_len = IPV4_MIN_HEADER_LEN + ICMP_HEADER_LEN + quote.len();
    let available = out.len();
    let out = out.get_mut(..total_len).ok_or(WireError::BufferTooSmall {
        needed: total_len,
        available,
    })?;
    let (ip_header, icmp) = out.split_at_mut(IPV4_MIN_HEADER_LEN);

    write_ipv4_header(ip_header, total_len, source, offending.source());
    let (icmp_type, code, rest) = kind.type_code_rest();
    write_icmp_header(icmp, icmp_type, code, rest, quote);
    let icmp_checksum = checksum::internet_checksum(icmp);
    icmp[2..4].copy_from_slice(&icmp_checksum.to_be_bytes());
    Ok(total_len)
}

/// Checks RFC 4443 2.4(e) for an ICMPv6 error of `kind` about `offending`.
/// Packet Too Big is allowed about multicast destinations (2.4(e.2)) and,
/// so that path MTU discovery works for fragmented datagrams, about
/// non-first fragments too.
pub fn icmpv6_error_allowed<B: AsRef<[u8]>>(
    kind: Icmpv6ErrorKind,
    offending: &Ipv6Packet<B>,
) -> Result<(), IcmpSuppression> {
    if ipv6::is_invalid_ipv6_source(&offending.source()) {
        return Err(IcmpSuppression::SourceNotUnicast);
    }
    if offending.destination().is_multicast() && !kind.is_packet_too_big() {
        return Err(IcmpSuppression::AboutMulticastOrBroadcast);
    }
    let upper = offending
        .upper_layer()
        .map_err(|_| IcmpSuppression::AboutIcmpError)?;
    if !upper.is_first_fragment() {
        return if kind.is_packet_too_big() {
            Ok(())
        } else {
            Err(IcmpSuppression::AboutNonFirstFragment)
        };
    }
    if upper.protocol == IpNumber::IPV6_ICMP {
        // Error messages have types 0..=127 (RFC 4443 2.1); redirects are
        // covered by 2.4(e.1) too.
        match offending.as_bytes().get(upper.offset) {
            Some(&icmp_type) if icmp_type >= 128 && icmp_type != icmpv6::TYPE_REDIRECT_MESSAGE => {}
            _ => return Err(IcmpSuppression::AboutIcmpError),
        }
    }
    Ok(())
}

/// Builds an ICMPv6 error about `offending` into `out` as a complete IPv6
/// packet from `source` to the offending packet's source, quoting as much as
/// fits in 1280 bytes. Returns the length written.
pub fn build_icmpv6_error<B: AsRef<[u8]>>(
    kind: Icmpv6ErrorKind,
    offending: &Ipv6Packet<B>,
    source: Ipv6Addr,
    out: &mut [u8],
) -> Result<usize, WireError> {
    icmpv6_error_allowed(kind, offending).map_err(WireError::IcmpSuppressed)?;
    let quote_max = ICMPV6_ERROR_MAX_LEN - IPV6_HEADER_LEN - ICMP_HEADER_LEN;
    let quote = offending.as_bytes();
    let quote = &quote[..quote.len().min(quote_max)];
    let icmp_len = ICMP_HEADER_LEN + quote.len();
    let total_len = IPV6_HEADER_LEN + icmp_len;
    let available = out.len();
    let out = out.get_mut(..total_len).ok_or(WireError::BufferTooSmall {
        needed: total_len,
        available,
    })?;
    let (ip_header, icmp) = out.split_at_mut(IPV6_HEADER_LEN);
    let destination = offending.source();
    write_ipv6_header(ip_header, icmp_len, &source, &destination, ICMP_ERROR_TTL);

    let (icmp_type, code, rest) = kind.type_code_rest();
    write_icmp_header(icmp, icmp_type, code, rest, quote);
    let sum = checksum::icmpv6_checksum(&source, &destination, icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    Ok(total_len)
}

/// Builds the ICMPv4 error into `buf` (reset with the default headroom so
/// an Ethernet header can be prepended). Returns the packet length.
pub fn build_icmpv4_error_into<B: AsRef<[u8]>>(
    kind: Icmpv4ErrorKind,
    offending: &Ipv4Packet<B>,
    source: Ipv4Addr,
    buf: &mut PacketBuf,
) -> Result<usize, WireError> {
    build_into(buf, ICMPV4_ERROR_MAX_LEN, |out| {
        build_icmpv4_error(kind, offending, source, out)
    })
}

/// Builds the ICMPv6 error into `buf` (reset with the default headroom).
/// Returns the packet length.
pub fn build_icmpv6_error_into<B: AsRef<[u8]>>(
    kind: Icmpv6ErrorKind,
    offending: &Ipv6Packet<B>,
    source: Ipv6Addr,
    buf: &mut PacketBuf,
) -> Result<usize, WireError> {
    build_into(buf, ICMPV6_ERROR_MAX_LEN, |out| {
        build_icmpv6_error(kind, offending, source, out)
    })
}

fn build_into(
    buf: &mut PacketBuf,
    max_len: usize,
    build: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Result<usize, WireError> {
    buf.reset(PacketBuf::DEFAULT_HEADROOM);
    let available = buf.tailroom();
    let room = buf
        .push_back(max_len)
        .map_err(|_| WireError::BufferTooSmall {
            needed: max_len,
            available,
        })?;
    let result = build(room);
    match result {
        Ok(len) => buf.truncate(len),
        Err(_) => buf.truncate(0),
    }
    result
}

/// Writes an option-less IPv4 header for an ICMP error of `total_len`
/// bytes, checksum included (ID 0, DF clear: the packet is at most 576
/// bytes, which every IPv4 path must accept).
fn write_ipv4_header(header: &mut [u8], total_len: usize, source: Ipv4Addr, destination: Ipv4Addr) {
    use ipv4::field;
    header.fill(0);
    header[field::VERSION_IHL] = 0x45;
    header[field::DSCP_ECN] = ICMPV4_ERROR_TOS;
    // Callers bound total_len by 576.
    header[field::TOTAL_LEN].copy_from_slice(&(total_len as u16).to_be_bytes());
    header[field::TTL] = ICMP_ERROR_TTL;
    header[field::PROTOCOL] = IpNumber::ICMP.0;
    header[field::SOURCE].copy_from_slice(&source.octets());
    header[field::DESTINATION].copy_from_slice(&destination.octets());
    let sum = checksum::internet_checksum(header);
    header[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
}

/// Writes type, code, a zero checksum, the rest of header and the quote.
fn write_icmp_header(icmp: &mut [u8], icmp_type: u8, code: u8, rest: [u8; 4], quote: &[u8]) {
    icmp[0] = icmp_type;
    icmp[1] = code;
    icmp[2..4].fill(0);
    icmp[4..ICMP_HEADER_LEN].copy_from_slice(&rest);
    icmp[ICMP_HEADER_LEN..].copy_from_slice(quote);
}

/// Writes a 40-byte IPv6 header (traffic class 0, flow label 0) for an
/// ICMPv6 payload of `payload_len` bytes.
pub(crate) fn write_ipv6_header(
    header: &mut [u8],
    payload_len: usize,
    source: &Ipv6Addr,
    destination: &Ipv6Addr,
    hop_limit: u8,
) {
    use ipv6::field;
    header[field::VERSION_TRAFFIC_CLASS_FLOW].copy_from_slice(&0x6000_0000u32.to_be_bytes());
    // Callers bound payload_len by the IPv6 minimum MTU.
    header[field::PAYLOAD_LEN].copy_from_slice(&(payload_len as u16).to_be_bytes());
    header[field::NEXT_HEADER] = IpNumber::IPV6_ICMP.0;
    header[field::HOP_LIMIT] = hop_limit;
    header[field::SOURCE].copy_from_slice(&source.octets());
    header[field::DESTINATION].copy_from_slice(&destination.octets());
}
