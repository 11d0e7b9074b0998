//! Ethernet II framing (IEEE 802.3 / RFC 894): MAC addresses, header
//! parsing, in-place L2 rewrite and prepending a header into headroom.
//!
//! VLAN decision: the emulated interfaces are untagged router ports (the
//! ExpressRoute 802.1Q tags are terminated before the customer edge), so a
//! frame carrying an 802.1Q or 802.1ad tag is recognised and refused with
//! [`WireError::VlanTagged`] (drop reason `vlan_tagged`) rather than being
//! misread as its inner EtherType.

use std::fmt;
use std::str::FromStr;

use etherparse::{EtherType, Ethernet2HeaderSlice};

use super::error::{Layer, WireError};
use crate::packet::{BufError, PacketBuf};

/// Length of an untagged Ethernet II header.
pub const ETHERNET_HEADER_LEN: usize = 14;

/// Byte offsets in an Ethernet II header.
mod field {
    use std::ops::Range;
    pub(crate) const DESTINATION: Range<usize> = 0..6;
    pub(crate) const SOURCE: Range<usize> = 6..12;
    pub(crate) const ETHER_TYPE: Range<usize> = 12..14;
    /// The tag control information after an 802.1Q/802.1ad TPID.
    pub(crate) const VLAN_TCI: Range<usize> = 14..16;
}

/// The EtherType of an Ethernet II frame, read without parsing the rest
/// (`None` for a frame shorter than the field): for dispatch before the
/// node's own checks (a tagged frame reports its TPID).
#[inline]
pub fn ether_type_of(frame: &[u8]) -> Option<EtherType> {
    let bytes = frame.get(field::ETHER_TYPE)?.first_chunk::<2>()?;
    Some(EtherType(u16::from_be_bytes(*bytes)))
}

/// The DSCP (RFC 2474) of the IPv4 or IPv6 packet in an untagged Ethernet
/// frame, read without validating the header: for reports about frames
/// the node has already checked and sent.
pub fn frame_dscp(frame: &[u8]) -> Option<u8> {
    let ip = frame.get(ETHERNET_HEADER_LEN..)?;
    let first = *ip.first()?;
    let second = *ip.get(1)?;
    match first >> 4 {
        // IPv4: the DS field is the second octet (RFC 2474 section 3).
        4 => Some(second >> 2),
        // IPv6: the traffic class spans the first two octets (RFC 8200 3).
        6 => Some((((first & 0x0f) << 4) | (second >> 4)) >> 2),
        _ => None,
    }
}

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// True for a group (multicast or broadcast) address: the I/G bit.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// True for an individual (unicast) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// The Ethernet multicast address for an IPv6 multicast group:
    /// 33:33 followed by the group's last 32 bits (RFC 2464 section 7).
    pub const fn ipv6_multicast(group: &std::net::Ipv6Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A MAC address string that is not six colon-separated hex octets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {input:?}: expected six hex octets like 02:00:00:00:01:01")]
pub struct MacAddrParseError {
    pub input: String,
}

impl FromStr for MacAddr {
    type Err = MacAddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || MacAddrParseError {
            input: s.to_string(),
        };
        let mut octets = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for octet in &mut octets {
            let part = parts.next().ok_or_else(error)?;
            if part.len() != 2 {
                return Err(error());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| error())?;
        }
        if parts.next().is_some() {
            return Err(error());
        }
        Ok(MacAddr(octets))
    }
}

/// Where a frame is addressed, relative to the receiving interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Destination {
    /// Our interface's own MAC address.
    Ours,
    /// ff:ff:ff:ff:ff:ff.
    Broadcast,
    /// Another group address (IPv6 33:33:..., IPv4 01:00:5e:...).
    Multicast,
    /// Someone else's unicast address: not for this node.
    OtherHost,
}

/// Classifies a destination MAC against our interface's MAC.
pub fn classify_destination(destination: MacAddr, ours: MacAddr) -> L2Destination {
    if destination == ours {
        L2Destination::Ours
    } else if destination.is_broadcast() {
        L2Destination::Broadcast
    } else if destination.is_multicast() {
        L2Destination::Multicast
    } else {
        L2Destination::OtherHost
    }
}

/// Makes a frame addressed to another host's unicast MAC addressed to
/// `ours` (replaying a capture taken between other devices); broadcast,
/// multicast and our own frames are left alone. True when it rewrote.
pub fn adopt_unicast_destination(frame: &mut [u8], ours: MacAddr) -> bool {
    let Some(destination) = frame.get_mut(field::DESTINATION) else {
        return false;
    };
    let mut current = [0u8; 6];
    current.copy_from_slice(destination);
    if classify_destination(MacAddr(current), ours) != L2Destination::OtherHost {
        return false;
    }
    destination.copy_from_slice(&ours.0);
    true
}

/// The parsed Ethernet II header of an untagged frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetHeader {
    pub destination: MacAddr,
    pub source: MacAddr,
    pub ether_type: EtherType,
}

impl EthernetHeader {
    /// Offset of the network-layer header in the frame.
    pub const PAYLOAD_OFFSET: usize = ETHERNET_HEADER_LEN;

    /// Parses the header of `frame`. Tagged frames (802.1Q 0x8100, 802.1ad
    /// 0x88a8, legacy 0x9100) are refused with [`WireError::VlanTagged`].
    pub fn parse(frame: &[u8]) -> Result<Self, WireError> {
        let header = Ethernet2HeaderSlice::from_slice(frame)
            .map_err(|e| WireError::truncated(Layer::Ethernet, 0, e.required_len, e.len))?;
        let ether_type = header.ether_type();
        if matches!(
            ether_type,
            EtherType::VLAN_TAGGED_FRAME
                | EtherType::PROVIDER_BRIDGING
                | EtherType::VLAN_DOUBLE_TAGGED_FRAME
        ) {
            let tci = frame.get(field::VLAN_TCI).ok_or(WireError::truncated(
                Layer::Vlan,
                ETHERNET_HEADER_LEN,
                2,
                frame.len().saturating_sub(ETHERNET_HEADER_LEN),
            ))?;
            let vlan_id = u16::from_be_bytes([tci[0], tci[1]]) & 0x0fff;
            return Err(WireError::VlanTagged { vlan_id });
        }
        Ok(Self {
            destination: MacAddr(header.destination()),
            source: MacAddr(header.source()),
            ether_type,
        })
    }

    /// Writes this header into the first 14 bytes of `out`.
    pub fn write(&self, out: &mut [u8]) -> Result<(), WireError> {
        let available = out.len();
        let header = out
            .get_mut(..ETHERNET_HEADER_LEN)
            .ok_or(WireError::BufferTooSmall {
                needed: ETHERNET_HEADER_LEN,
                available,
            })?;
        header[field::DESTINATION].copy_from_slice(&self.destination.0);
        header[field::SOURCE].copy_from_slice(&self.source.0);
        header[field::ETHER_TYPE].copy_from_slice(&self.ether_type.0.to_be_bytes());
        Ok(())
    }
}

/// Rewrites the destination and source MAC of `frame` in place (the L2
/// rewrite on egress). The EtherType and payload are untouched.
pub fn rewrite_macs(
    frame: &mut [u8],
    destination: MacAddr,
    source: MacAddr,
) -> Result<(), WireError> {
    let available = frame.len();
    let header = frame
        .get_mut(..ETHERNET_HEADER_LEN)
        .ok_or(WireError::truncated(
            Layer::Ethernet,
            0,
            ETHERNET_HEADER_LEN,
            available,
        ))?;
    header[field::DESTINATION].copy_from_slice(&destination.0);
    header[field::SOURCE].copy_from_slice(&source.0);
    Ok(())
}

/// Prepends an Ethernet II header into the buffer's headroom (for a raw IP
/// packet from a capture, or a locally built ICMP error).
pub fn push_ethernet_header(buf: &mut PacketBuf, header: &EthernetHeader) -> Result<(), BufError> {
    let room = buf.push_front(ETHERNET_HEADER_LEN)?;
    room[field::DESTINATION].copy_from_slice(&header.destination.0);
    room[field::SOURCE].copy_from_slice(&header.source.0);
    room[field::ETHER_TYPE].copy_from_slice(&header.ether_type.0.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_prints() {
        let mac: MacAddr = "02:00:00:00:01:0a".parse().unwrap();
        assert_eq!(mac.0, [2, 0, 0, 0, 1, 10]);
        assert_eq!(mac.to_string(), "02:00:00:00:01:0a");
        for bad in [
            "",
            "02:00:00:00:01",
            "02:00:00:00:01:0a:0b",
            "2:0:0:0:1:a",
            "zz:00:00:00:00:00",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_other_hosts_unicast_destinations_are_adopted() {
        let ours = MacAddr([2, 0, 0, 0, 0, 1]);
        let mut frame = [0u8; 14];
        frame[..6].copy_from_slice(&[0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c]);
        assert!(adopt_unicast_destination(&mut frame, ours));
        assert_eq!(frame[..6], ours.0);
        assert!(!adopt_unicast_destination(&mut frame, ours));
        for group in [
            MacAddr::BROADCAST.0,
            [0x33, 0x33, 0, 0, 0, 1],
            [1, 0, 0x5e, 0, 0, 1],
        ] {
            frame[..6].copy_from_slice(&group);
            assert!(!adopt_unicast_destination(&mut frame, ours));
            assert_eq!(frame[..6], group);
        }
        for len in 0..6 {
            assert!(!adopt_unicast_destination(&mut frame[..len], ours));
        }
    }

    #[test]
    fn vlan_tagged_frames_are_refused_with_their_id() {
        let mut frame = [0u8; 18];
        frame[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        frame[14..16].copy_from_slice(&0x2064u16.to_be_bytes()); // PCP 1, VID 100
        assert_eq!(
            EthernetHeader::parse(&frame),
            Err(WireError::VlanTagged { vlan_id: 100 })
        );
    }

    #[test]
    fn classifies_destinations() {
        let ours = MacAddr([2, 0, 0, 0, 0, 1]);
        assert_eq!(classify_destination(ours, ours), L2Destination::Ours);
        assert_eq!(
            classify_destination(MacAddr::BROADCAST, ours),
            L2Destination::Broadcast
        );
        assert_eq!(
            classify_destination(MacAddr([0x33, 0x33, 0, 0, 0, 1]), ours),
            L2Destination::Multicast
        );
        assert_eq!(
            classify_destination(MacAddr([2, 0, 0, 0, 0, 2]), ours),
            L2Destination::OtherHost
        );
    }

    #[test]
    fn ether_type_and_dscp_are_read_from_the_frame() {
        let mut v4 = [0u8; 16];
        v4[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        v4[14] = 0x45;
        v4[15] = (46 << 2) | 0b01; // EF, ECT(1)
        assert_eq!(ether_type_of(&v4), Some(EtherType::IPV4));
        assert_eq!(frame_dscp(&v4), Some(46));
        let mut v6 = [0u8; 16];
        v6[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        // Traffic class 0xb8 (DSCP 46) across the version's octet and the next.
        v6[14] = 0x60 | 0x0b;
        v6[15] = 0x80;
        assert_eq!(ether_type_of(&v6), Some(EtherType::IPV6));
        assert_eq!(frame_dscp(&v6), Some(46));
        assert_eq!(ether_type_of(&v4[..13]), None);
        assert_eq!(frame_dscp(&v4[..15]), None);
        v4[14] = 0x25;
        assert_eq!(frame_dscp(&v4), None);
    }
}
