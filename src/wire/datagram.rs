//! UDP datagrams the node's control plane sends and receives (IKE on UDP
//! 500 and 4500, RFC 7296 and RFC 3948): one IPv4 (RFC 791) or IPv6 (RFC
//! 8200) packet with a UDP header (RFC 768), checksums filled. Built and
//! read with etherparse, so the control plane writes no header itself.

use std::net::{IpAddr, SocketAddr};

use etherparse::{IpNumber, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::error::WireError;

/// Hop limit of the datagrams the control plane sends (RFC 1700's default
/// TTL for IP, as the IKE daemons use).
pub const CONTROL_TTL: u8 = 64;

/// One UDP datagram: its endpoints and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// The sender's address and port.
    pub source: SocketAddr,
    /// The receiver's address and port.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// Writes `datagram` as an IP packet into `out` (cleared first). Both
/// addresses must be of one family (else `IpVersion`).
pub fn build_udp_datagram(datagram: &UdpDatagram<'_>, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.clear();
    let (src_port, dst_port) = (datagram.source.port(), datagram.destination.port());
    let builder = match (datagram.source.ip(), datagram.destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            PacketBuilder::ipv4(s.octets(), d.octets(), CONTROL_TTL).udp(src_port, dst_port)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            PacketBuilder::ipv6(s.octets(), d.octets(), CONTROL_TTL).udp(src_port, dst_port)
        }
        _ => {
            return Err(WireError::IpVersion {
                expected: 4,
                found: 6,
            });
        }
    };
    out.reserve(builder.size(datagram.payload.len()));
    let needed = builder.size(datagram.payload.len());
    builder
        .write(out, datagram.payload)
        .map_err(|_| WireError::BufferTooSmall {
            needed,
            available: 0,
        })
}

/// Reads the UDP datagram in the IP packet `packet` (an unfragmented IPv4
/// or IPv6 packet whose headers the node already validated); anything else
/// is `UnexpectedProtocol(UDP)`.
pub fn parse_udp_datagram(packet: &[u8]) -> Result<UdpDatagram<'_>, WireError> {
    let not_udp = |protocol| WireError::UnexpectedProtocol(protocol);
    let sliced = SlicedPacket::from_ip(packet).map_err(|_| not_udp(IpNumber::UDP))?;
    let (source, destination) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        ),
        _ => return Err(not_udp(IpNumber::UDP)),
    };
    match &sliced.transport {
        Some(TransportSlice::Udp(udp)) => Ok(UdpDatagram {
            source: SocketAddr::new(source, udp.source_port()),
            destination: SocketAddr::new(destination, udp.destination_port()),
            payload: udp.payload(),
        }),
        _ => Err(not_udp(IpNumber::UDP)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_round_trip_in_both_families() {
        for (src, dst) in [
            ("192.0.2.1:500", "192.0.2.2:500"),
            ("[fd00::1]:4500", "[fd00::2]:4500"),
        ] {
            let d = UdpDatagram {
                source: src.parse().unwrap(),
                destination: dst.parse().unwrap(),
                payload: b"ike message",
            };
            let mut out = Vec::new();
            build_udp_datagram(&d, &mut out).unwrap();
            assert_eq!(parse_udp_datagram(&out).unwrap(), d);
            // Every truncation is refused, never a panic.
            for len in 0..out.len() {
                assert!(parse_udp_datagram(&out[..len]).is_err(), "{len}");
            }
        }
    }

    #[test]
    fn mixed_families_and_other_protocols_are_refused() {
        let d = UdpDatagram {
            source: "192.0.2.1:500".parse().unwrap(),
            destination: "[fd00::2]:500".parse().unwrap(),
            payload: b"",
        };
        assert!(build_udp_datagram(&d, &mut Vec::new()).is_err());
    }
}
