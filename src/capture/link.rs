//! Link-layer types of captured frames (tcpdump.org LINKTYPE_ registry) and
//! normalisation of raw-IP and Linux cooked (SLL, SLL2) frames into
//! Ethernet II, so the forwarder only ever sees Ethernet.

use etherparse::EtherType;
use thiserror::Error;

use crate::packet::{BufError, PacketBuf};
use crate::wire::{EthernetHeader, MacAddr, push_ethernet_header};

/// The link types the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1): Ethernet II frames.
    Ethernet,
    /// LINKTYPE_RAW (101): a bare IPv4 or IPv6 packet (version nibble).
    RawIp,
    /// LINKTYPE_IPV4 (228): a bare IPv4 packet.
    RawIpv4,
    /// LINKTYPE_IPV6 (229): a bare IPv6 packet.
    RawIpv6,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture, 16-byte header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture v2, 20-byte header.
    LinuxSll2,
}

impl LinkType {
    /// The LINKTYPE_ number as stored in pcap and pcapng files.
    pub const fn number(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
            LinkType::RawIpv4 => 228,
            LinkType::RawIpv6 => 229,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
        }
    }

    /// The link type for a LINKTYPE_ number, if supported.
    pub(crate) const fn from_number(number: u32) -> Option<LinkType> {
        match number {
            1 => Some(LinkType::Ethernet),
            101 => Some(LinkType::RawIp),
            228 => Some(LinkType::RawIpv4),
            229 => Some(LinkType::RawIpv6),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }

    /// The registry name, e.g. `LINKTYPE_ETHERNET`.
    pub const fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "LINKTYPE_ETHERNET",
            LinkType::RawIp => "LINKTYPE_RAW",
            LinkType::RawIpv4 => "LINKTYPE_IPV4",
            LinkType::RawIpv6 => "LINKTYPE_IPV6",
            LinkType::LinuxSll => "LINKTYPE_LINUX_SLL",
            LinkType::LinuxSll2 => "LINKTYPE_LINUX_SLL2",
        }
    }

    /// The supported link types, for error messages.
    pub(crate) const SUPPORTED: &'static str = "Ethernet (1), raw IP (101), IPv4 (228), IPv6 (229), \
         Linux SLL (113), Linux SLL2 (276)";
}

/// Offsets in the Linux cooked headers (tcpdump.org linktypes/LINKTYPE_LINUX_SLL
/// and LINKTYPE_LINUX_SLL2).
mod sll {
    use std::ops::Range;
    pub(crate) const SLL_HEADER_LEN: usize = 16;
    pub(crate) const SLL_PROTOCOL: Range<usize> = 14..16;
    pub(crate) const SLL2_HEADER_LEN: usize = 20;
    pub(crate) const SLL2_PROTOCOL: Range<usize> = 0..2;
}

/// A frame that cannot be turned into Ethernet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error("{link:?} frame of {len} bytes is shorter than its {needed}-byte header")]
    Truncated {
        link: LinkType,
        needed: usize,
        len: usize,
    },
    #[error("raw IP frame with IP version {version}")]
    NotIp { version: u8 },
    #[error("no room to prepend the Ethernet header: {0}")]
    Buffer(#[from] BufError),
}

/// Rewrites the frame in `buf` (of link type `link`) into an Ethernet II
/// frame in place: raw IP gets a header pushed into the headroom, cooked
/// captures have theirs replaced. Ethernet frames are left alone. Returns
/// the EtherType of the payload.
pub fn to_ethernet(
    buf: &mut PacketBuf,
    link: LinkType,
    destination: MacAddr,
    source: MacAddr,
) -> Result<EtherType, LinkError> {
    let (strip, ether_type) = match link {
        LinkType::Ethernet => {
            let ether_type = buf
                .as_slice()
                .get(12..14)
                .map(|b| EtherType(u16::from_be_bytes([b[0], b[1]])))
                .ok_or(LinkError::Truncated {
                    link,
                    needed: 14,
                    len: buf.len(),
                })?;
            return Ok(ether_type);
        }
        LinkType::RawIp => match buf.as_slice().first().map(|b| b >> 4) {
            Some(4) => (0, EtherType::IPV4),
            Some(6) => (0, EtherType::IPV6),
            Some(version) => return Err(LinkError::NotIp { version }),
            None => {
                return Err(LinkError::Truncated {
                    link,
                    needed: 1,
                    len: 0,
                });
            }
        },
        LinkType::RawIpv4 => (0, EtherType::IPV4),
        LinkType::RawIpv6 => (0, EtherType::IPV6),
        LinkType::LinuxSll => (
            sll::SLL_HEADER_LEN,
            cooked_protocol(buf, link, sll::SLL_HEADER_LEN, sll::SLL_PROTOCOL)?,
        ),
        LinkType::LinuxSll2 => (
            sll::SLL2_HEADER_LEN,
            cooked_protocol(buf, link, sll::SLL2_HEADER_LEN, sll::SLL2_PROTOCOL)?,
        ),
    };
    buf.pull_front(strip)?;
    push_ethernet_header(
        buf,
        &EthernetHeader {
            destination,
            source,
            ether_type,
        },
    )?;
    Ok(ether_type)
}

impl LinkType {
    /// Length of the link header before the IP packet, and where in it the
    /// EtherType-valued protocol field is (none for raw IP).
    const fn layout(self) -> (usize, Option<std::ops::Range<usize>>) {
        match self {
            LinkType::Ethernet => (14, Some(12..14)),
            LinkType::RawIp | LinkType::RawIpv4 | LinkType::RawIpv6 => (0, None),
            LinkType::LinuxSll => (sll::SLL_HEADER_LEN, Some(sll::SLL_PROTOCOL)),
            LinkType::LinuxSll2 => (sll::SLL2_HEADER_LEN, Some(sll::SLL2_PROTOCOL)),
        }
    }
}

/// Splits a frame of link type `link` into its link header and the IPv4
/// or IPv6 packet it carries; `None` when it carries something else or is
/// shorter than its header. (Ethernet frames with VLAN tags are not IP.)
pub fn split_ip(link: LinkType, frame: &[u8]) -> Option<(&[u8], &[u8])> {
    let (header_len, protocol) = link.layout();
    if let Some(field) = protocol {
        let bytes = frame.get(field)?;
        let ether_type = EtherType(u16::from_be_bytes([bytes[0], bytes[1]]));
        if ether_type != EtherType::IPV4 && ether_type != EtherType::IPV6 {
            return None;
        }
    }
    Some((frame.get(..header_len)?, frame.get(header_len..)?))
}

/// Writes `link_header` and `packet` into `out` as one frame of `link`,
/// with the link header's protocol field set for the packet's IP version
/// (a tunnel may carry IPv6 in IPv4 and back).
pub fn frame_ip_into(link: LinkType, link_header: &[u8], packet: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(link_header);
    if let (_, Some(field)) = link.layout()
        && let Some(bytes) = out.get_mut(field)
    {
        let ether_type = if packet.first().map(|b| b >> 4) == Some(6) {
            EtherType::IPV6
        } else {
            EtherType::IPV4
        };
        bytes.copy_from_slice(&ether_type.0.to_be_bytes());
    }
    out.extend_from_slice(packet);
}

fn cooked_protocol(
    buf: &PacketBuf,
    link: LinkType,
    header_len: usize,
    protocol: std::ops::Range<usize>,
) -> Result<EtherType, LinkError> {
    let bytes = buf.as_slice();
    if bytes.len() < header_len {
        return Err(LinkError::Truncated {
            link,
            needed: header_len,
            len: bytes.len(),
        });
    }
    let field = &bytes[protocol];
    Ok(EtherType(u16::from_be_bytes([field[0], field[1]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for link in [
            LinkType::Ethernet,
            LinkType::RawIp,
            LinkType::RawIpv4,
            LinkType::RawIpv6,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
        ] {
            assert_eq!(LinkType::from_number(link.number()), Some(link));
        }
        assert_eq!(LinkType::from_number(105), None);
    }

    #[test]
    fn ip_splits_and_reframes_per_link_type() {
        let ipv4 = [0x45u8, 0, 0, 20];
        let ipv6 = [0x60u8, 0, 0, 0];
        for (link, header) in [
            (LinkType::Ethernet, vec![0u8; 14]),
            (LinkType::LinuxSll, vec![0u8; 16]),
            (LinkType::LinuxSll2, vec![0u8; 20]),
            (LinkType::RawIp, vec![]),
        ] {
            let mut frame = Vec::new();
            frame_ip_into(link, &header, &ipv6, &mut frame);
            let (got_header, packet) = split_ip(link, &frame).unwrap();
            assert_eq!((got_header.len(), packet), (header.len(), &ipv6[..]));
            let got_header = got_header.to_vec();
            frame_ip_into(link, &got_header, &ipv4, &mut frame);
            assert_eq!(split_ip(link, &frame).unwrap().1, &ipv4[..]);
            // Shorter than the header, or not IP: none.
            if !header.is_empty() {
                assert_eq!(split_ip(link, &frame[..header.len() - 1]), None);
                assert_eq!(split_ip(link, &header), None, "{link:?}");
            }
        }
    }
}
