//! What a tunnel endpoint makes of a packet, read through `crate::wire`'s
//! views: an arriving outer packet is ESP (RFC 4303), ESP in UDP or NAT-T
//! control (RFC 3948), or not ours; an inner packet yields the fields
//! tunnel mode copies to the outer header (RFC 4303 section 3.1.2).

use std::net::IpAddr;

use etherparse::IpNumber;

use super::drop::EspDrop;
use crate::wire::checksum::verify_internet_checksum;
use crate::wire::{
    EspPacket, IPV6_HEADER_LEN, IpEcn, Ipv4Packet, Ipv6Packet, NAT_KEEPALIVE, NON_ESP_MARKER,
    UDP_HEADER_LEN, UdpHeader, WireError, ipv4_field, ipv4_flags,
};

/// What an arriving packet is, for a local tunnel endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketClass {
    /// An ESP packet (plain, or in UDP when `udp`).
    Esp(OuterEsp),
    /// A NAT-keepalive on the NAT-T port (RFC 3948 section 2.3).
    NatKeepalive,
    /// IKE on the NAT-T port, behind the non-ESP marker (RFC 3948
    /// section 2.2): for the key exchange, not for the data plane.
    NonEspMarker,
    /// Anything else (not ours to decapsulate).
    NotEsp,
}

/// Where the ESP packet sits inside its outer IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuterEsp {
    /// The SPI.
    pub spi: u32,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Offset of the ESP header from the start of the outer packet.
    pub esp_offset: usize,
    /// Length of the outer packet by its IP header (trailing bytes beyond it,
    /// such as Ethernet padding, are not part of it).
    pub total_len: usize,
    /// The outer ECN field (RFC 6040 decapsulation needs it).
    pub ecn: u8,
    /// Carried in UDP (RFC 3948).
    pub udp: bool,
}

/// The outer IP header's facts `classify` needs.
struct Outer {
    header_len: usize,
    total_len: usize,
    protocol: IpNumber,
    dst: IpAddr,
    ecn: u8,
}

/// Classifies an outer IP packet: ESP (with the offsets to decapsulate it),
/// NAT-T control, or not ESP. Malformed outer headers are drops with a reason.
#[inline]
pub fn classify(packet: &[u8], nat_t_port: u16) -> Result<PacketClass, EspDrop> {
    let outer = match packet.first().map(|b| b >> 4) {
        Some(4) => outer_ipv4(packet)?,
        Some(6) => match Ipv6Packet::new_checked(packet) {
            Ok(ip) => Outer {
                header_len: IPV6_HEADER_LEN,
                total_len: ip.total_len(),
                protocol: ip.next_header(),
                dst: IpAddr::V6(ip.destination()),
                ecn: ip.ecn().value(),
            },
            Err(WireError::Truncated { .. } | WireError::Ipv6PayloadLength { .. }) => {
                return Err(EspDrop::Truncated);
            }
            // A hop-by-hop header comes first: not ESP at the fixed header.
            Err(WireError::Ipv6Jumbogram) => return Ok(PacketClass::NotEsp),
            Err(_) => return Err(EspDrop::BadOuterHeader),
        },
        Some(_) => return Err(EspDrop::BadOuterHeader),
        None => return Err(EspDrop::Truncated),
    };
    let packet = packet.get(..outer.total_len).ok_or(EspDrop::Truncated)?;
    let ip_len = outer.header_len;
    let (esp_offset, udp) = match outer.protocol {
        IpNumber::ENCAPSULATING_SECURITY_PAYLOAD => (ip_len, false),
        IpNumber::UDP => {
            let segment = packet.get(ip_len..).unwrap_or_default();
            let header = UdpHeader::parse(segment).map_err(|_| EspDrop::Truncated)?;
            if header.destination_port != nat_t_port {
                return Ok(PacketClass::NotEsp);
            }
            let udp_len = usize::from(header.length);
            if udp_len < UDP_HEADER_LEN || udp_len != segment.len() {
                return Err(EspDrop::BadOuterHeader);
            }
            let payload = segment.get(UDP_HEADER_LEN..).unwrap_or_default();
            if payload == [NAT_KEEPALIVE] {
                return Ok(PacketClass::NatKeepalive);
            }
            if payload.first_chunk() == Some(&NON_ESP_MARKER) {
                return Ok(PacketClass::NonEspMarker);
            }
            (ip_len + UDP_HEADER_LEN, true)
        }
        _ => return Ok(PacketClass::NotEsp),
    };
    let esp = packet.get(esp_offset..).unwrap_or_default();
    let spi = EspPacket::new_checked(esp)
        .map_err(|_| EspDrop::Truncated)?
        .spi();
    Ok(PacketClass::Esp(OuterEsp {
        spi,
        dst: outer.dst,
        esp_offset,
        total_len: outer.total_len,
        ecn: outer.ecn,
        udp,
    }))
}

/// The outer IPv4 header's facts; a malformed header or a fragment is a
/// drop.
#[inline(always)]
fn outer_ipv4(packet: &[u8]) -> Result<Outer, EspDrop> {
    let ip = Ipv4Packet::new_checked(packet).map_err(|error| outer_ipv4_drop(packet, error))?;
    if ip.is_fragment() {
        return Err(EspDrop::Fragment);
    }
    Ok(Outer {
        header_len: ip.header_len(),
        total_len: ip.total_len(),
        protocol: ip.protocol(),
        dst: IpAddr::V4(ip.destination()),
        ecn: ip.tos() & 0b11,
    })
}

/// The drop for an outer IPv4 header that [`Ipv4Packet`] refused, in the
/// order a tunnel endpoint checks: a header that is all there but claims
/// more bytes than arrived is a bad header when its checksum is wrong, a
/// fragment when it is one, else truncated.
#[cold]
fn outer_ipv4_drop(packet: &[u8], error: WireError) -> EspDrop {
    match error {
        WireError::Truncated { .. } => EspDrop::Truncated,
        WireError::Ipv4TotalLength {
            total_len,
            header_len,
            ..
        } if usize::from(total_len) >= header_len => {
            let header = packet.get(..header_len).unwrap_or_default();
            let flags = header
                .get(ipv4_field::FLAGS_FRAGMENT)
                .and_then(|b| b.first_chunk::<2>())
                .map_or(0, |b| u16::from_be_bytes(*b));
            if !verify_internet_checksum(header) {
                EspDrop::BadOuterHeader
            } else if flags & ipv4_flags::FRAGMENTING != 0 {
                EspDrop::Fragment
            } else {
                EspDrop::Truncated
            }
        }
        _ => EspDrop::BadOuterHeader,
    }
}

/// The destination address of an IPv4 or IPv6 packet, if its header is
/// well formed.
pub fn outer_destination(packet: &[u8]) -> Option<IpAddr> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => Ipv4Packet::new_checked_ignoring_checksum(packet)
            .ok()
            .map(|ip| IpAddr::V4(ip.destination())),
        Some(6) => Ipv6Packet::new_checked(packet)
            .ok()
            .map(|ip| IpAddr::V6(ip.destination())),
        _ => None,
    }
}

/// The fields of an inner IP packet that the tunnel needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerHeader {
    /// 4 or 6.
    pub version: u8,
    /// Length of the inner packet by its header.
    pub total_len: usize,
    /// DSCP and ECN (IPv4 TOS, IPv6 traffic class).
    pub tos: u8,
    /// IPv4 Don't Fragment (false for IPv6).
    pub dont_fragment: bool,
}

impl InnerHeader {
    /// The ESP next header for this packet in tunnel mode (RFC 4303
    /// section 2.6): 4 (IPv4) or 41 (IPv6).
    pub fn next_header(&self) -> IpNumber {
        if self.version == 4 {
            IpNumber::IPV4
        } else {
            IpNumber::IPV6
        }
    }
}

/// Reads the inner packet's header; its length must fit in `packet`
/// (trailing bytes, such as TFC padding, are allowed). The IPv4 header
/// checksum is not the tunnel's to check.
#[inline(always)]
pub fn parse_inner(packet: &[u8]) -> Result<InnerHeader, EspDrop> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = Ipv4Packet::new_checked_ignoring_checksum(packet)
                .map_err(|_| EspDrop::BadInnerPacket)?;
            Ok(InnerHeader {
                version: 4,
                total_len: ip.total_len(),
                tos: ip.tos(),
                dont_fragment: ip.dont_fragment(),
            })
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(packet).map_err(|_| EspDrop::BadInnerPacket)?;
            Ok(InnerHeader {
                version: 6,
                total_len: ip.total_len(),
                tos: ip.traffic_class(),
                dont_fragment: false,
            })
        }
        _ => Err(EspDrop::BadInnerPacket),
    }
}

/// Writes a new ECN field (its low two bits) into an inner IP packet in
/// place (the IPv4 header checksum updated incrementally, RFC 1624).
pub(crate) fn set_inner_ecn(packet: &mut [u8], ecn: u8) -> Result<(), EspDrop> {
    let ecn = IpEcn::try_new(ecn & 0b11).unwrap_or(IpEcn::NotEct);
    match packet.first().map(|b| b >> 4) {
        Some(4) => Ipv4Packet::new_checked_ignoring_checksum(packet)
            .map(|mut ip| ip.set_ecn(ecn))
            .map_err(|_| EspDrop::BadInnerPacket),
        Some(6) => Ipv6Packet::new_checked(packet)
            .map(|mut ip| ip.set_ecn(ecn))
            .map_err(|_| EspDrop::BadInnerPacket),
        _ => Err(EspDrop::BadInnerPacket),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::internet_checksum;

    fn ipv4_udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1,
        ];
        let total = (20 + 8 + payload.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        let sum = internet_checksum(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(&4500u16.to_be_bytes());
        p.extend_from_slice(&dst_port.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn recognises_nat_t_control_and_esp_in_udp() {
        assert_eq!(
            classify(&ipv4_udp(4500, &[0xFF]), 4500),
            Ok(PacketClass::NatKeepalive)
        );
        assert_eq!(
            classify(&ipv4_udp(4500, &[0, 0, 0, 0, 1, 2, 3]), 4500),
            Ok(PacketClass::NonEspMarker)
        );
        assert_eq!(
            classify(&ipv4_udp(53, &[1, 2, 3, 4]), 4500),
            Ok(PacketClass::NotEsp)
        );
        let esp = ipv4_udp(4500, &[0, 0, 0x10, 0x01, 0, 0, 0, 1]);
        let Ok(PacketClass::Esp(o)) = classify(&esp, 4500) else {
            panic!("not ESP in UDP");
        };
        assert_eq!((o.spi, o.esp_offset, o.udp), (0x1001, 28, true));
    }

    #[test]
    fn bad_outer_checksum_and_every_truncation_are_drops() {
        let good = ipv4_udp(4500, &[0, 0, 0x10, 0x01, 0, 0, 0, 1]);
        let mut bad = good.clone();
        bad[8] ^= 1;
        assert_eq!(classify(&bad, 4500), Err(EspDrop::BadOuterHeader));
        for len in 0..good.len() {
            assert!(classify(&good[..len], 4500).is_err(), "length {len}");
        }
    }

    #[test]
    fn a_header_claiming_more_bytes_is_checked_as_a_header_first() {
        // Cut after the IPv4 header: the total length claims more.
        let good = ipv4_udp(4500, &[0, 0, 0x10, 0x01, 0, 0, 0, 1]);
        let cut = &good[..24];
        assert_eq!(classify(cut, 4500), Err(EspDrop::Truncated));
        let mut bad = cut.to_vec();
        bad[8] ^= 1;
        assert_eq!(classify(&bad, 4500), Err(EspDrop::BadOuterHeader));
        let mut fragment = good.clone();
        fragment[6] |= 0x20;
        fragment[10..12].fill(0);
        let sum = internet_checksum(&fragment[..20]);
        fragment[10..12].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(classify(&fragment, 4500), Err(EspDrop::Fragment));
        assert_eq!(classify(&fragment[..24], 4500), Err(EspDrop::Fragment));
    }

    #[test]
    fn inner_ecn_is_set_with_an_incremental_checksum_update() {
        let mut p = ipv4_udp(4500, &[1, 2, 3]);
        assert_eq!(set_inner_ecn(&mut p, 0b11), Ok(()));
        let mut zeroed = p[..20].to_vec();
        zeroed[10..12].fill(0);
        assert_eq!(
            u16::from_be_bytes([p[10], p[11]]),
            internet_checksum(&zeroed)
        );
        assert_eq!(p[1] & 3, 3);
        assert_eq!(set_inner_ecn(&mut [0x45], 0), Err(EspDrop::BadInnerPacket));
    }
}
