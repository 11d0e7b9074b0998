//! Packet formats and in-place, allocation-free operations on frames: the
//! building blocks of the forwarder and the tunnel (RFC 791/8200
//! validation, RFC 1071/1624 checksums, UDP, the ESP header and trailer of
//! RFC 4303, ICMP errors, ARP/NDP responders, MSS clamping, flow keys).
//! Every packet format of the crate has its one home here.
//!
//! Parsing uses etherparse's slice API; the small mutators etherparse lacks
//! are here, each keeping checksums right by incremental update. Every
//! failure is a [`WireError`] whose [`WireError::drop_reason`] names the
//! counter it belongs to.

mod arp;
pub mod bfd;
pub mod bgp;
pub mod checksum;
mod datagram;
mod echo;
mod error;
mod esp;
mod ethernet;
mod flow;
mod icmp_error;
pub mod ike;
mod ip;
mod ipv4;
pub(crate) mod ipv4_fragment;
mod ipv6;
mod mss;
mod ndp;
mod udp;

pub use arp::{ARP_ETHERNET_IPV4_LEN, ArpOutcome, answer_arp_request};
pub use datagram::{CONTROL_TTL, UdpDatagram, build_udp_datagram, parse_udp_datagram};
pub use echo::{ECHO_REPLY_TTL, echo_reply_v4, echo_reply_v6};
pub use error::{IcmpSuppression, Layer, NdpInvalid, WireDrop, WireError};
pub use esp::{
    ESP_HEADER_LEN, ESP_PADDING, ESP_TRAILER_LEN, EspPacket, EspRepr, EspTrailer, EspTrailerError,
    NAT_KEEPALIVE, NON_ESP_MARKER,
};
pub use ethernet::{
    ETHERNET_HEADER_LEN, EthernetHeader, L2Destination, MacAddr, MacAddrParseError,
    adopt_unicast_destination, classify_destination, ether_type_of, frame_dscp,
    push_ethernet_header, rewrite_macs,
};
pub use flow::{FlowHasher, FlowKey};
pub use icmp_error::{
    ICMP_ERROR_TTL, ICMPV4_ERROR_MAX_LEN, ICMPV6_ERROR_MAX_LEN, Icmpv4ErrorKind, Icmpv6ErrorKind,
    build_icmpv4_error, build_icmpv4_error_into, build_icmpv6_error, build_icmpv6_error_into,
    icmpv4_error_allowed, icmpv6_error_allowed,
};
pub use ip::{IpPacket, TransportLocation};
/// Header field offsets, for code that builds headers from a template.
pub(crate) use ipv4::field as ipv4_field;
pub(crate) use ipv4::flags as ipv4_flags;
pub use ipv4::{IPV4_MIN_HEADER_LEN, Ipv4Packet, is_invalid_ipv4_source};
pub use ipv4_fragment::{
    FRAGMENT_UNIT, FragmentPiece, IPV4_MAX_DATAGRAM_LEN, IPV4_MAX_HEADER_LEN, IPV4_MIN_MTU,
    Ipv4FragmentFields, Ipv4Fragmenter, copied_options, finish_header as finish_fragment_header,
};
pub(crate) use ipv6::field as ipv6_field;
pub use ipv6::{
    IPV6_HEADER_LEN, IPV6_MIN_MTU, Ipv6Fragment, Ipv6Packet, UpperLayer, is_invalid_ipv6_source,
};
pub use mss::{MssOutcome, MssUnchanged, clamp_tcp_mss};
pub use ndp::{NDP_HOP_LIMIT, NdpOutcome, answer_neighbor_solicitation};
pub(crate) use udp::field as udp_field;
pub use udp::{UDP_HEADER_LEN, UdpHeader, udp_ipv6_checksum};

/// Protocol numbers, EtherTypes, DSCP and ECN are etherparse's open
/// newtypes (each constant cites its RFC there); re-exported so callers
/// name one source.
pub use etherparse::{EtherType, IpDscp, IpEcn, IpNumber};
