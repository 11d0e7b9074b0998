//! ICMP echo reply built in place from the request (RFC 792 echo, RFC 1122
//! 3.2.2.6; ICMPv6 RFC 4443 4.2): swap addresses, fresh TTL, reply type,
//! incremental checksum update (RFC 1624). The data is echoed untouched.
//! IPv4 options are kept as received (Record Route is not updated).

use etherparse::{IpNumber, icmpv4, icmpv6};

use super::checksum;
use super::error::{Layer, WireError};
use super::icmp_error::ICMP_ERROR_TTL;
use super::ipv4::Ipv4Packet;
use super::ipv6::{IPV6_HEADER_LEN, Ipv6Packet};

/// ICMP echo header: type, code, checksum, identifier, sequence.
const ECHO_HEADER_LEN: usize = 8;

/// TTL / hop limit of the replies (a fresh datagram, RFC 1700 default).
pub const ECHO_REPLY_TTL: u8 = ICMP_ERROR_TTL;

/// Turns a valid ICMPv4 echo request addressed to one of our unicast
/// addresses into the echo reply, in place. The packet must not be a
/// fragment (its checksum covers the whole datagram).
pub fn echo_reply_v4<B: AsRef<[u8]> + AsMut<[u8]>>(
    packet: &mut Ipv4Packet<B>,
) -> Result<(), WireError> {
    if packet.protocol() != IpNumber::ICMP {
        return Err(WireError::UnexpectedProtocol(packet.protocol()));
    }
    if packet.is_fragment() {
        return Err(WireError::Fragmented {
            layer: Layer::Icmpv4,
        });
    }
    let destination = packet.destination();
    if destination.is_multicast() || destination.is_broadcast() {
        return Err(WireError::DestinationNotUnicast {
            layer: Layer::Icmpv4,
        });
    }
    let icmp = packet.payload();
    check_echo_request(
        icmp,
        Layer::Icmpv4,
        packet.header_len(),
        icmpv4::TYPE_ECHO_REQUEST,
    )?;
    if !checksum::verify_internet_checksum(icmp) {
        return Err(WireError::IcmpChecksum {
            layer: Layer::Icmpv4,
        });
    }
    packet.swap_addresses();
    packet.set_ttl(ECHO_REPLY_TTL);
    rewrite_type(packet.payload_mut(), icmpv4::TYPE_ECHO_REPLY);
    Ok(())
}

/// Turns a valid ICMPv6 echo request to one of our unicast addresses into
/// the echo reply, in place. Requests with extension headers are refused.
pub fn echo_reply_v6<B: AsRef<[u8]> + AsMut<[u8]>>(
    packet: &mut Ipv6Packet<B>,
) -> Result<(), WireError> {
    let upper = packet.upper_layer()?;
    if upper.offset != IPV6_HEADER_LEN {
        return Err(WireError::Ipv6ExtensionsUnsupported);
    }
    if upper.protocol != IpNumber::IPV6_ICMP {
        return Err(WireError::UnexpectedProtocol(upper.protocol));
    }
    if packet.destination().is_multicast() {
        return Err(WireError::DestinationNotUnicast {
            layer: Layer::Icmpv6,
        });
    }
    let icmp = packet.payload();
    check_echo_request(
        icmp,
        Layer::Icmpv6,
        IPV6_HEADER_LEN,
        icmpv6::TYPE_ECHO_REQUEST,
    )?;
    if !checksum::verify_icmpv6_checksum(&packet.source(), &packet.destination(), icmp) {
        return Err(WireError::IcmpChecksum {
            layer: Layer::Icmpv6,
        });
    }
    packet.swap_addresses();
    packet.set_hop_limit(ECHO_REPLY_TTL);
    let bytes = packet.as_bytes_mut();
    rewrite_type(&mut bytes[IPV6_HEADER_LEN..], icmpv6::TYPE_ECHO_REPLY);
    Ok(())
}

fn check_echo_request(
    icmp: &[u8],
    layer: Layer,
    offset: usize,
    request_type: u8,
) -> Result<(), WireError> {
    let [icmp_type, code, ..] = *icmp else {
        return Err(WireError::truncated(
            layer,
            offset,
            ECHO_HEADER_LEN,
            icmp.len(),
        ));
    };
    if icmp.len() < ECHO_HEADER_LEN {
        return Err(WireError::truncated(
            layer,
            offset,
            ECHO_HEADER_LEN,
            icmp.len(),
        ));
    }
    if icmp_type != request_type || code != 0 {
        return Err(WireError::IcmpType {
            layer,
            icmp_type,
            code,
        });
    }
    Ok(())
}

/// Sets the ICMP type byte (code stays 0) with an incremental checksum
/// update of the first word. `icmp` holds at least the echo header.
fn rewrite_type(icmp: &mut [u8], new_type: u8) {
    let old_word = u16::from_be_bytes([icmp[0], icmp[1]]);
    let new_word = u16::from_be_bytes([new_type, icmp[1]]);
    icmp[0] = new_type;
    let old_checksum = u16::from_be_bytes([icmp[2], icmp[3]]);
    let new_checksum = checksum::update_u16(old_checksum, old_word, new_word);
    icmp[2..4].copy_from_slice(&new_checksum.to_be_bytes());
}
