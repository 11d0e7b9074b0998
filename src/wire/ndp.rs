//! Neighbor Discovery responder (RFC 4861): validate a Neighbor
//! Solicitation for one of our IPv6 addresses (7.1.1) and rewrite the frame
//! into the Neighbor Advertisement (4.4, 7.2.4) with the target link-layer
//! address option, router, solicited and override flags set as 7.2.4 says.

use std::net::Ipv6Addr;

use etherparse::icmpv6::{NdpOptionSlice, NdpOptionType, NdpOptionsIterator};
use etherparse::{EtherType, IpNumber, icmpv6};

use super::checksum;
use super::error::{Layer, NdpInvalid, WireError};
use super::ethernet::{ETHERNET_HEADER_LEN, EthernetHeader, MacAddr};
use super::icmp_error::write_ipv6_header;
use super::ipv6::{IPV6_HEADER_LEN, Ipv6Packet};
use crate::packet::PacketBuf;

/// Hop limit of every Neighbor Discovery message (RFC 4861 7.1.1, 7.2.4).
pub const NDP_HOP_LIMIT: u8 = 255;

/// ICMPv6 header (4) + reserved/flags (4) + target address (16).
const NDP_MESSAGE_MIN_LEN: usize = 24;
/// Offset of the target address in NS and NA messages.
const TARGET_OFFSET: usize = 8;
/// A link-layer address option for Ethernet: type, length 1, 6 bytes.
const LINK_LAYER_OPTION_LEN: usize = 8;
/// Neighbor Advertisement flags (RFC 4861 4.4).
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// Length of the advertisement this responder sends.
const ADVERTISEMENT_LEN: usize = NDP_MESSAGE_MIN_LEN + LINK_LAYER_OPTION_LEN;
const ADVERTISEMENT_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + ADVERTISEMENT_LEN;

/// ff02::1, all nodes on the link.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// What the responder did with an ICMPv6 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpOutcome {
    /// The frame is now the advertisement: send it back out of the same
    /// interface. `solicitor` is `None` for duplicate address detection
    /// (source ::), which is answered to all nodes.
    Advertised {
        solicitor: Option<Ipv6Addr>,
        destination_mac: MacAddr,
    },
    /// A valid solicitation for an address that is not ours. Unchanged.
    NotForUs,
    /// Another ICMPv6 message (RA, NA, echo, ...). Unchanged.
    NotASolicitation,
}

/// Answers a Neighbor Solicitation in `frame` (an untagged Ethernet frame)
/// whose target `is_ours` accepts, rewriting the buffer into the Neighbor
/// Advertisement from `our_mac`. The buffer grows or shrinks to the
/// advertisement's 86 bytes. Solicitations with extension headers are
/// refused.
pub fn answer_neighbor_solicitation(
    frame: &mut PacketBuf,
    our_mac: MacAddr,
    is_ours: impl Fn(&Ipv6Addr) -> bool,
) -> Result<NdpOutcome, WireError> {
    let bytes = frame.as_slice();
    let ethernet = EthernetHeader::parse(bytes)?;
    if ethernet.ether_type != EtherType::IPV6 {
        return Err(WireError::UnsupportedEtherType(ethernet.ether_type));
    }
    let packet = Ipv6Packet::new_checked(&bytes[ETHERNET_HEADER_LEN..])?;
    let upper = packet.upper_layer()?;
    if upper.protocol != IpNumber::IPV6_ICMP {
        return Err(WireError::UnexpectedProtocol(upper.protocol));
    }
    if upper.offset != IPV6_HEADER_LEN {
        return Err(WireError::Ipv6ExtensionsUnsupported);
    }
    let icmp = packet.payload();
    match icmp.first() {
        None => {
            return Err(WireError::truncated(Layer::Icmpv6, IPV6_HEADER_LEN, 4, 0));
        }
        Some(&icmp_type) if icmp_type != icmpv6::TYPE_NEIGHBOR_SOLICITATION => {
            return Ok(NdpOutcome::NotASolicitation);
        }
        Some(_) => {}
    }
    let solicitation = validate_solicitation(&packet, icmp)?;
    if !is_ours(&solicitation.target) {
        return Ok(NdpOutcome::NotForUs);
    }

    let source = packet.source();
    let (solicitor, ip_destination, destination_mac) = if source.is_unspecified() {
        (None, ALL_NODES, MacAddr::ipv6_multicast(&ALL_NODES))
    } else {
        let mac = solicitation.source_link_layer.unwrap_or(ethernet.source);
        (Some(source), source, mac)
    };
    write_advertisement(
        frame,
        our_mac,
        destination_mac,
        &solicitation.target,
        &ip_destination,
        solicitor.is_some(),
    )?;
    Ok(NdpOutcome::Advertised {
        solicitor,
        destination_mac,
    })
}

struct Solicitation {
    target: Ipv6Addr,
    source_link_layer: Option<MacAddr>,
}

/// RFC 4861 7.1.1 validity checks for a Neighbor Solicitation.
fn validate_solicitation(
    packet: &Ipv6Packet<&[u8]>,
    icmp: &[u8],
) -> Result<Solicitation, WireError> {
    let invalid = |why| Err(WireError::NdpInvalid(why));
    if packet.hop_limit() != NDP_HOP_LIMIT {
        return invalid(NdpInvalid::HopLimitNot255);
    }
    if icmp.len() < NDP_MESSAGE_MIN_LEN {
        return invalid(NdpInvalid::TooShort);
    }
    if !checksum::verify_icmpv6_checksum(&packet.source(), &packet.destination(), icmp) {
        return invalid(NdpInvalid::BadChecksum);
    }
    if icmp[1] != 0 {
        return invalid(NdpInvalid::NonZeroCode);
    }
    let mut target = [0u8; 16];
    target.copy_from_slice(&icmp[TARGET_OFFSET..NDP_MESSAGE_MIN_LEN]);
    let target = Ipv6Addr::from(target);
    if target.is_multicast() {
        return invalid(NdpInvalid::MulticastTarget);
    }
    let mut source_link_layer = None;
    for option in NdpOptionsIterator::from_slice(&icmp[NDP_MESSAGE_MIN_LEN..]) {
        let Ok(option) = option else {
            return invalid(NdpInvalid::BadOption);
        };
        if let NdpOptionSlice::SourceLinkLayerAddress(slla) = &option
            && let [a, b, c, d, e, f] = *slla.link_layer_address()
        {
            source_link_layer = Some(MacAddr([a, b, c, d, e, f]));
        } else if option.option_type() == NdpOptionType::SOURCE_LINK_LAYER_ADDRESS {
            // A source link-layer option of another length is not Ethernet.
            return invalid(NdpInvalid::BadOption);
        }
    }
    if packet.source().is_unspecified() {
        if !is_solicited_node_multicast(&packet.destination()) {
            return invalid(NdpInvalid::UnspecifiedSourceNotToSolicitedNode);
        }
        if source_link_layer.is_some() {
            return invalid(NdpInvalid::UnspecifiedSourceWithLinkLayerOption);
        }
    }
    if let Some(mac) = source_link_layer
        && !mac.is_unicast()
    {
        return Err(WireError::SenderMacNotUnicast { layer: Layer::Ndp });
    }
    Ok(Solicitation {
        target,
        source_link_layer,
    })
}

/// ff02::1:ffXX:XXXX (RFC 4291 2.7.1).
fn is_solicited_node_multicast(address: &Ipv6Addr) -> bool {
    let s = address.segments();
    s[0] == 0xff02 && s[1..5] == [0, 0, 0, 0] && s[5] == 1 && s[6] >> 8 == 0xff
}

/// Writes the whole advertisement frame over the buffer.
fn write_advertisement(
    frame: &mut PacketBuf,
    our_mac: MacAddr,
    destination_mac: MacAddr,
    target: &Ipv6Addr,
    ip_destination: &Ipv6Addr,
    solicited: bool,
) -> Result<(), WireError> {
    let len = frame.len();
    if len < ADVERTISEMENT_FRAME_LEN {
        let grow = ADVERTISEMENT_FRAME_LEN - len;
        let available = frame.tailroom();
        frame
            .push_back(grow)
            .map_err(|_| WireError::BufferTooSmall {
                needed: grow,
                available,
            })?;
    } else {
        frame.truncate(ADVERTISEMENT_FRAME_LEN);
    }
    let bytes = frame.as_mut_slice();
    EthernetHeader {
        destination: destination_mac,
        source: our_mac,
        ether_type: EtherType::IPV6,
    }
    .write(bytes)?;
    let (ip_header, icmp) = bytes[ETHERNET_HEADER_LEN..].split_at_mut(IPV6_HEADER_LEN);
    write_ipv6_header(
        ip_header,
        ADVERTISEMENT_LEN,
        target,
        ip_destination,
        NDP_HOP_LIMIT,
    );

    let mut flags = FLAG_ROUTER | FLAG_OVERRIDE;
    if solicited {
        flags |= FLAG_SOLICITED;
    }
    icmp.fill(0);
    icmp[0] = icmpv6::TYPE_NEIGHBOR_ADVERTISEMENT;
    icmp[4] = flags;
    icmp[TARGET_OFFSET..NDP_MESSAGE_MIN_LEN].copy_from_slice(&target.octets());
    let option = &mut icmp[NDP_MESSAGE_MIN_LEN..];
    option[0] = NdpOptionType::TARGET_LINK_LAYER_ADDRESS.0;
    option[1] = 1; // in units of 8 bytes
    option[2..8].copy_from_slice(&our_mac.0);
    let sum = checksum::icmpv6_checksum(target, ip_destination, icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicited_node_multicast_is_recognised() {
        assert!(is_solicited_node_multicast(
            &"ff02::1:ff00:1".parse().unwrap()
        ));
        assert!(!is_solicited_node_multicast(&"ff02::1".parse().unwrap()));
        assert!(!is_solicited_node_multicast(
            &"ff02::2:ff00:1".parse().unwrap()
        ));
    }
}
