//! ARP responder (RFC 826, Ethernet/IPv4 only): recognise a request for one
//! of our IPv4 addresses and turn the frame into the reply in place, L2
//! header included. Probes (sender 0.0.0.0, RFC 5227) are answered too.

use std::net::Ipv4Addr;

use etherparse::{ArpHardwareId, ArpOperation, ArpPacketSlice, EtherType};

use super::error::{Layer, WireError};
use super::ethernet::{ETHERNET_HEADER_LEN, EthernetHeader, MacAddr, rewrite_macs};

/// Byte offsets in an Ethernet/IPv4 ARP packet (RFC 826).
mod field {
    use std::ops::Range;
    pub(crate) const OPERATION: Range<usize> = 6..8;
    pub(crate) const SENDER_MAC: Range<usize> = 8..14;
    pub(crate) const SENDER_IP: Range<usize> = 14..18;
    pub(crate) const TARGET_MAC: Range<usize> = 18..24;
    pub(crate) const TARGET_IP: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_ETHERNET_IPV4_LEN: usize = 28;

/// What the responder did with an ARP frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOutcome {
    /// The frame is now the reply: send it back out of the same interface.
    Replied {
        requester_ip: Ipv4Addr,
        requester_mac: MacAddr,
    },
    /// A request for an address that is not ours, or a gratuitous
    /// announcement (sender IP == target IP). Frame unchanged.
    NotForUs,
    /// Not a request (a reply or another operation). Frame unchanged.
    NotARequest,
}

/// Answers an ARP request in `frame` (an untagged Ethernet frame) when
/// `is_ours` accepts the target address, rewriting it into the reply from
/// `our_mac` in place. Ethernet padding after the ARP packet is kept.
pub fn answer_arp_request(
    frame: &mut [u8],
    our_mac: MacAddr,
    is_ours: impl Fn(Ipv4Addr) -> bool,
) -> Result<ArpOutcome, WireError> {
    let ethernet = EthernetHeader::parse(frame)?;
    if ethernet.ether_type != EtherType::ARP {
        return Err(WireError::UnsupportedEtherType(ethernet.ether_type));
    }
    let arp_bytes = &frame[ETHERNET_HEADER_LEN..];
    let arp = ArpPacketSlice::from_slice(arp_bytes).map_err(|e| {
        WireError::truncated(Layer::Arp, ETHERNET_HEADER_LEN, e.required_len, e.len)
    })?;
    if arp.hw_addr_type() != ArpHardwareId::ETHERNET
        || arp.proto_addr_type() != EtherType::IPV4
        || arp.hw_addr_size() != 6
        || arp.proto_addr_size() != 4
    {
        return Err(WireError::ArpUnsupported {
            hardware_type: arp.hw_addr_type().0,
            protocol_type: arp.proto_addr_type().0,
            hardware_len: arp.hw_addr_size(),
            protocol_len: arp.proto_addr_size(),
        });
    }
    if arp.operation() != ArpOperation::REQUEST {
        return Ok(ArpOutcome::NotARequest);
    }
    let requester_mac = MacAddr(six(arp.sender_hw_addr()));
    let requester_ip = Ipv4Addr::from(four(arp.sender_protocol_addr()));
    let target_ip = Ipv4Addr::from(four(arp.target_protocol_addr()));
    if !requester_mac.is_unicast() {
        return Err(WireError::SenderMacNotUnicast { layer: Layer::Arp });
    }
    if requester_ip == target_ip || !is_ours(target_ip) {
        return Ok(ArpOutcome::NotForUs);
    }

    let arp = &mut frame[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + ARP_ETHERNET_IPV4_LEN];
    arp[field::OPERATION].copy_from_slice(&ArpOperation::REPLY.0.to_be_bytes());
    arp[field::TARGET_MAC].copy_from_slice(&requester_mac.0);
    arp[field::TARGET_IP].copy_from_slice(&requester_ip.octets());
    arp[field::SENDER_MAC].copy_from_slice(&our_mac.0);
    arp[field::SENDER_IP].copy_from_slice(&target_ip.octets());
    rewrite_macs(frame, requester_mac, our_mac)?;
    Ok(ArpOutcome::Replied {
        requester_ip,
        requester_mac,
    })
}

/// The first six bytes (the slice is six long after the size check).
fn six(bytes: &[u8]) -> [u8; 6] {
    let mut out = [0u8; 6];
    out.iter_mut().zip(bytes).for_each(|(o, b)| *o = *b);
    out
}

/// The first four bytes (the slice is four long after the size check).
fn four(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.iter_mut().zip(bytes).for_each(|(o, b)| *o = *b);
    out
}
