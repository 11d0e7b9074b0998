//! Why a packet operation failed: [`WireError`] says what, where and why;
//! [`DropReason`] is its fieldless summary, one counter per variant, for the
//! forwarder's "every drop has a reason" accounting.

use etherparse::{EtherType, IpNumber};
use thiserror::Error;

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

/// Fieldless summary of a [`WireError`]: index a counter array with
/// `reason as usize`, name it with [`DropReason::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DropReason {
    Truncated,
    IpVersion,
    Ipv4HeaderLength,
    Ipv4TotalLength,
    Ipv4Checksum,
    Ipv6PayloadLength,
    Ipv6Jumbogram,
    Ipv6Extensions,
    TtlExpired,
    VlanTagged,
    UnsupportedEtherType,
    ArpUnsupported,
    SenderMacNotUnicast,
    IcmpChecksum,
    IcmpType,
    Fragmented,
    Ipv6ExtensionsUnsupported,
    DestinationNotUnicast,
    NdpInvalid,
    IcmpSuppressedAboutIcmpError,
    IcmpSuppressedAboutNonFirstFragment,
    IcmpSuppressedAboutMulticast,
    IcmpSuppressedSourceNotUnicast,
    BufferTooSmall,
    UnexpectedProtocol,
}

impl DropReason {
    /// Every reason, in discriminant order (`ALL[r as usize] == r`).
    pub const ALL: [DropReason; 25] = [
        DropReason::Truncated,
        DropReason::IpVersion,
        DropReason::Ipv4HeaderLength,
        DropReason::Ipv4TotalLength,
        DropReason::Ipv4Checksum,
        DropReason::Ipv6PayloadLength,
        DropReason::Ipv6Jumbogram,
        DropReason::Ipv6Extensions,
        DropReason::TtlExpired,
        DropReason::VlanTagged,
        DropReason::UnsupportedEtherType,
        DropReason::ArpUnsupported,
        DropReason::SenderMacNotUnicast,
        DropReason::IcmpChecksum,
        DropReason::IcmpType,
        DropReason::Fragmented,
        DropReason::Ipv6ExtensionsUnsupported,
        DropReason::DestinationNotUnicast,
        DropReason::NdpInvalid,
        DropReason::IcmpSuppressedAboutIcmpError,
        DropReason::IcmpSuppressedAboutNonFirstFragment,
        DropReason::IcmpSuppressedAboutMulticast,
        DropReason::IcmpSuppressedSourceNotUnicast,
        DropReason::BufferTooSmall,
        DropReason::UnexpectedProtocol,
    ];

    /// A stable snake_case name for reports and counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::IpVersion => "ip_version",
            DropReason::Ipv4HeaderLength => "ipv4_header_length",
            DropReason::Ipv4TotalLength => "ipv4_total_length",
            DropReason::Ipv4Checksum => "ipv4_checksum",
            DropReason::Ipv6PayloadLength => "ipv6_payload_length",
            DropReason::Ipv6Jumbogram => "ipv6_jumbogram",
            DropReason::Ipv6Extensions => "ipv6_extensions",
            DropReason::TtlExpired => "ttl_expired",
            DropReason::VlanTagged => "vlan_tagged",
            DropReason::UnsupportedEtherType => "unsupported_ethertype",
            DropReason::ArpUnsupported => "arp_unsupported",
            DropReason::SenderMacNotUnicast => "sender_mac_not_unicast",
            DropReason::IcmpChecksum => "icmp_checksum",
            DropReason::IcmpType => "icmp_type",
            DropReason::Fragmented => "fragmented",
            DropReason::Ipv6ExtensionsUnsupported => "ipv6_extensions_unsupported",
            DropReason::DestinationNotUnicast => "destination_not_unicast",
            DropReason::NdpInvalid => "ndp_invalid",
            DropReason::IcmpSuppressedAboutIcmpError => "icmp_suppressed_about_icmp_error",
            DropReason::IcmpSuppressedAboutNonFirstFragment => {
                "icmp_suppressed_about_non_first_fragment"
            }
            DropReason::IcmpSuppressedAboutMulticast => "icmp_suppressed_about_multicast",
            DropReason::IcmpSuppressedSourceNotUnicast => "icmp_suppressed_source_not_unicast",
            DropReason::BufferTooSmall => "buffer_too_small",
            DropReason::UnexpectedProtocol => "unexpected_protocol",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WireError {
    /// The counter this error is accounted under.
    pub const fn drop_reason(&self) -> DropReason {
        match self {
            WireError::Truncated { .. } => DropReason::Truncated,
            WireError::IpVersion { .. } => DropReason::IpVersion,
            WireError::Ipv4HeaderLength { .. } => DropReason::Ipv4HeaderLength,
            WireError::Ipv4TotalLength { .. } => DropReason::Ipv4TotalLength,
            WireError::Ipv4Checksum { .. } => DropReason::Ipv4Checksum,
            WireError::Ipv6PayloadLength { .. } => DropReason::Ipv6PayloadLength,
            WireError::Ipv6Jumbogram => DropReason::Ipv6Jumbogram,
            WireError::Ipv6Extensions { .. } => DropReason::Ipv6Extensions,
            WireError::TtlExpired { .. } => DropReason::TtlExpired,
            WireError::VlanTagged { .. } => DropReason::VlanTagged,
            WireError::UnsupportedEtherType(_) => DropReason::UnsupportedEtherType,
            WireError::ArpUnsupported { .. } => DropReason::ArpUnsupported,
            WireError::SenderMacNotUnicast { .. } => DropReason::SenderMacNotUnicast,
            WireError::IcmpChecksum { .. } => DropReason::IcmpChecksum,
            WireError::IcmpType { .. } => DropReason::IcmpType,
            WireError::Fragmented { .. } => DropReason::Fragmented,
            WireError::Ipv6ExtensionsUnsupported => DropReason::Ipv6ExtensionsUnsupported,
            WireError::DestinationNotUnicast { .. } => DropReason::DestinationNotUnicast,
            WireError::NdpInvalid(_) => DropReason::NdpInvalid,
            WireError::IcmpSuppressed(IcmpSuppression::AboutIcmpError) => {
                DropReason::IcmpSuppressedAboutIcmpError
            }
            WireError::IcmpSuppressed(IcmpSuppression::AboutNonFirstFragment) => {
                DropReason::IcmpSuppressedAboutNonFirstFragment
            }
            WireError::IcmpSuppressed(IcmpSuppression::AboutMulticastOrBroadcast) => {
                DropReason::IcmpSuppressedAboutMulticast
            }
            WireError::IcmpSuppressed(IcmpSuppression::SourceNotUnicast) => {
                DropReason::IcmpSuppressedSourceNotUnicast
            }
            WireError::BufferTooSmall { .. } => DropReason::BufferTooSmall,
            WireError::UnexpectedProtocol(_) => DropReason::UnexpectedProtocol,
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
        for (index, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, index);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
