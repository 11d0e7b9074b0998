//! Why a packet operation failed: [`WireError`] says what, where and why;
//! [`WireDrop`] is its fieldless summary, one counter per variant, for the
//! forwarder's "every drop has a reason" accounting.

use etherparse::{EtherType, IpNumber};
use thiserror::Error;

use crate::reason::reason_enum;

/// The header a length or content check failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Ethernet,
    Vlan,
    Arp,
    Ipv4,
    Ipv6,
    Ipv6Extensions,
    Tcp,
    Udp,
    Esp,
    Icmpv4,
    Icmpv6,
    Ndp,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet",
            Layer::Vlan => "802.1Q VLAN tag",
            Layer::Arp => "ARP",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Ipv6Extensions => "IPv6 extension headers",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
            Layer::Esp => "ESP",
            Layer::Icmpv4 => "ICMPv4",
            Layer::Icmpv6 => "ICMPv6",
            Layer::Ndp => "Neighbor Discovery",
        })
    }
}

/// Why an ICMP or ICMPv6 error message was not generated
/// (RFC 1812 4.3.2.7, RFC 4443 2.4(e)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpSuppression {
    /// The offending packet is itself an ICMP error (or an ICMPv6 redirect),
    /// or its ICMP type could not be read.
    AboutIcmpError,
    /// The offending packet is a non-first fragment.
    AboutNonFirstFragment,
    /// The offending packet went to a multicast or broadcast address.
    AboutMulticastOrBroadcast,
    /// The offending packet's source does not name a single host
    /// (unspecified, loopback, multicast, broadcast, class E).
    SourceNotUnicast,
}

/// Why a Neighbor Solicitation fails RFC 4861 7.1.1 validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdpInvalid {
    /// The IP hop limit is not 255 (the message crossed a router).
    HopLimitNot255,
    /// The ICMP code is not 0.
    NonZeroCode,
    /// The ICMP checksum is wrong.
    BadChecksum,
    /// The message is shorter than 24 bytes.
    TooShort,
    /// The target address is a multicast address.
    MulticastTarget,
    /// An option has length 0 or runs past the message.
    BadOption,
    /// The source is unspecified but the destination is not a
    /// solicited-node multicast address.
    UnspecifiedSourceNotToSolicitedNode,
    /// The source is unspecified but the message carries a source
    /// link-layer address option.
    UnspecifiedSourceWithLinkLayerOption,
}

/// What went wrong with a packet, with enough detail to debug it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// The bytes end before a header does.
    #[error("{layer}: truncated, need {needed} bytes at offset {offset}, have {available}")]
    Truncated {
        layer: Layer,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// The IP version nibble is not the one expected (4 or 6).
    #[error("IP: version {found} where {expected} was expected")]
    IpVersion { expected: u8, found: u8 },
    /// The IPv4 IHL is below 5 words.
    #[error("IPv4: header length {ihl} words is below the minimum of 5")]
    Ipv4HeaderLength { ihl: u8 },
    /// The IPv4 total length is shorter than the header or longer than the
    /// bytes received.
    #[error(
        "IPv4: total length {total_len} is inconsistent with header length {header_len} and {available} bytes received"
    )]
    Ipv4TotalLength {
        total_len: u16,
        header_len: usize,
        available: usize,
    },
    /// The IPv4 header checksum does not verify.
    #[error("IPv4: header checksum {found:#06x} is wrong (expected {expected:#06x})")]
    Ipv4Checksum { found: u16, expected: u16 },
    /// The IPv6 payload length claims more bytes than were received.
    #[error("IPv6: payload length {payload_len} exceeds the {available} bytes after the header")]
    Ipv6PayloadLength { payload_len: u16, available: usize },
    /// A jumbogram (payload length 0 with a hop-by-hop header, RFC 2675).
    #[error("IPv6: jumbograms (RFC 2675) are not supported")]
    Ipv6Jumbogram,
    /// The IPv6 extension header chain is malformed.
    #[error("IPv6: malformed extension header chain at offset {offset}")]
    Ipv6Extensions { offset: usize },
    /// TTL or hop limit would reach zero (RFC 1812 5.3.1, RFC 8200 3).
    #[error("{layer}: TTL/hop limit {ttl} expires here")]
    TtlExpired { layer: Layer, ttl: u8 },
    /// The frame carries an IEEE 802.1Q / 802.1ad tag (see `ethernet`).
    #[error("Ethernet: VLAN-tagged frame (VLAN {vlan_id}) on an untagged port")]
    VlanTagged { vlan_id: u16 },
    /// An EtherType this node does not handle.
    #[error("Ethernet: unsupported EtherType {0:?}")]
    UnsupportedEtherType(EtherType),
    /// An ARP packet that is not Ethernet/IPv4 (RFC 826 hardware 1,
    /// protocol 0x0800, lengths 6 and 4).
    #[error(
        "ARP: unsupported hardware type {hardware_type}, protocol {protocol_type:#06x} or address lengths {hardware_len}/{protocol_len}"
    )]
    ArpUnsupported {
        hardware_type: u16,
        protocol_type: u16,
        hardware_len: u8,
        protocol_len: u8,
    },
    /// A sender hardware address that is multicast or broadcast.
    #[error("{layer}: sender hardware address is not unicast")]
    SenderMacNotUnicast { layer: Layer },
    /// An ICMP or ICMPv6 checksum that does not verify.
    #[error("{layer}: checksum does not verify")]
    IcmpChecksum { layer: Layer },
    /// An ICMP message of another type than the operation handles.
    #[error("{layer}: type {icmp_type} code {code} is not handled here")]
    IcmpType {
        layer: Layer,
        icmp_type: u8,
        code: u8,
    },
    /// A fragmented packet where a whole one is needed.
    #[error("{layer}: fragmented packet cannot be answered in place")]
    Fragmented { layer: Layer },
    /// The operation does not walk IPv6 extension headers here.
    #[error("IPv6: extension headers are not supported by this operation")]
    Ipv6ExtensionsUnsupported,
    /// A destination that is not a unicast address of ours.
    #[error("{layer}: destination is not a unicast address")]
    DestinationNotUnicast { layer: Layer },
    /// A Neighbor Solicitation that fails validation.
    #[error("Neighbor Discovery: invalid Neighbor Solicitation: {0:?}")]
    NdpInvalid(NdpInvalid),
    /// An ICMP error that must not be sent.
    #[error("ICMP error suppressed: {0:?}")]
    IcmpSuppressed(IcmpSuppression),
    /// The caller's output buffer is too small (a caller bug, not bad input).
    #[error("output buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall { needed: usize, available: usize },
    /// The packet has an IP protocol this operation does not handle.
    #[error("IP: protocol {0:?} is not handled by this operation")]
    UnexpectedProtocol(IpNumber),
}

reason_enum! {
    /// Fieldless summary of a [`WireError`], the wire layer's part of the
    /// node's drop reasons: index a counter array with [`WireDrop::index`],
    /// name it with [`WireDrop::as_str`].
    #[derive(PartialOrd, Ord)]
    pub enum WireDrop (prefix "") {
        Truncated = "truncated",
        IpVersion = "ip_version",
        Ipv4HeaderLength = "ipv4_header_length",
        Ipv4TotalLength = "ipv4_total_length",
        Ipv4Checksum = "ipv4_checksum",
        Ipv6PayloadLength = "ipv6_payload_length",
        Ipv6Jumbogram = "ipv6_jumbogram",
        Ipv6Extensions = "ipv6_extensions",
        TtlExpired = "ttl_expired",
        VlanTagged = "vlan_tagged",
        UnsupportedEtherType = "unsupported_ethertype",
        ArpUnsupported = "arp_unsupported",
        SenderMacNotUnicast = "sender_mac_not_unicast",
        IcmpChecksum = "icmp_checksum",
        IcmpType = "icmp_type",
        Fragmented = "fragmented",
        Ipv6ExtensionsUnsupported = "ipv6_extensions_unsupported",
        DestinationNotUnicast = "destination_not_unicast",
        NdpInvalid = "ndp_invalid",
        IcmpSuppressedAboutIcmpError = "icmp_suppressed_about_icmp_error",
        IcmpSuppressedAboutNonFirstFragment = "icmp_suppressed_about_non_first_fragment",
        IcmpSuppressedAboutMulticast = "icmp_suppressed_about_multicast",
        IcmpSuppressedSourceNotUnicast = "icmp_suppressed_source_not_unicast",
        BufferTooSmall = "buffer_too_small",
        UnexpectedProtocol = "unexpected_protocol",
    }
}

impl std::fmt::Display for WireDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WireError {
    /// The counter this error is accounted under.
    pub const fn drop_reason(&self) -> WireDrop {
        match self {
            WireError::Truncated { .. } => WireDrop::Truncated,
            WireError::IpVersion { .. } => WireDrop::IpVersion,
            WireError::Ipv4HeaderLength { .. } => WireDrop::Ipv4HeaderLength,
            WireError::Ipv4TotalLength { .. } => WireDrop::Ipv4TotalLength,
            WireError::Ipv4Checksum { .. } => WireDrop::Ipv4Checksum,
            WireError::Ipv6PayloadLength { .. } => WireDrop::Ipv6PayloadLength,
            WireError::Ipv6Jumbogram => WireDrop::Ipv6Jumbogram,
            WireError::Ipv6Extensions { .. } => WireDrop::Ipv6Extensions,
            WireError::TtlExpired { .. } => WireDrop::TtlExpired,
            WireError::VlanTagged { .. } => WireDrop::VlanTagged,
            WireError::UnsupportedEtherType(_) => WireDrop::UnsupportedEtherType,
            WireError::ArpUnsupported { .. } => WireDrop::ArpUnsupported,
            WireError::SenderMacNotUnicast { .. } => WireDrop::SenderMacNotUnicast,
            WireError::IcmpChecksum { .. } => WireDrop::IcmpChecksum,
            WireError::IcmpType { .. } => WireDrop::IcmpType,
            WireError::Fragmented { .. } => WireDrop::Fragmented,
            WireError::Ipv6ExtensionsUnsupported => WireDrop::Ipv6ExtensionsUnsupported,
            WireError::DestinationNotUnicast { .. } => WireDrop::DestinationNotUnicast,
            WireError::NdpInvalid(_) => WireDrop::NdpInvalid,
            WireError::IcmpSuppressed(IcmpSuppression::AboutIcmpError) => {
                WireDrop::IcmpSuppressedAboutIcmpError
            }
            WireError::IcmpSuppressed(IcmpSuppression::AboutNonFirstFragment) => {
                WireDrop::IcmpSuppressedAboutNonFirstFragment
            }
            WireError::IcmpSuppressed(IcmpSuppression::AboutMulticastOrBroadcast) => {
                WireDrop::IcmpSuppressedAboutMulticast
            }
            WireError::IcmpSuppressed(IcmpSuppression::SourceNotUnicast) => {
                WireDrop::IcmpSuppressedSourceNotUnicast
            }
            WireError::BufferTooSmall { .. } => WireDrop::BufferTooSmall,
            WireError::UnexpectedProtocol(_) => WireDrop::UnexpectedProtocol,
        }
    }

    /// Shorthand for a [`WireError::Truncated`].
    pub(crate) const fn truncated(
        layer: Layer,
        offset: usize,
        needed: usize,
        available: usize,
    ) -> Self {
        WireError::Truncated {
            layer,
            offset,
            needed,
            available,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order_and_names_are_unique() {
        for (index, reason) in WireDrop::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, index);
        }
        let mut names: Vec<_> = WireDrop::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WireDrop::ALL.len());
    }
}
