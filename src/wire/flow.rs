//! The flow key (the 5-tuple of an IP packet) and a fast seeded flow hash
//! (foldhash, quality variant) for ECMP next-hop choice and flow-affine
//! worker selection. The hash is deterministic for a given seed.
//!
//! Fragments: every fragment of a datagram (first included) gets ports 0, so
//! all fragments hash alike and stay on one path and one worker.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use etherparse::IpNumber;

use super::ip::IpPacket;

/// ICMPv4 echo request and reply types (RFC 792).
const ICMPV4_ECHO_TYPES: [u8; 2] = [
    etherparse::icmpv4::TYPE_ECHO_REQUEST,
    etherparse::icmpv4::TYPE_ECHO_REPLY,
];
/// ICMPv6 echo request and reply types (RFC 4443 4.1, 4.2).
const ICMPV6_ECHO_TYPES: [u8; 2] = [
    etherparse::icmpv6::TYPE_ECHO_REQUEST,
    etherparse::icmpv6::TYPE_ECHO_REPLY,
];

/// Transport protocols whose first four bytes are source and destination
/// ports: TCP (RFC 9293), UDP (RFC 768), DCCP (RFC 4340), UDP-Lite
/// (RFC 3828), SCTP (RFC 9260).
const PORT_PROTOCOLS: [IpNumber; 5] = [
    IpNumber::TCP,
    IpNumber::UDP,
    IpNumber(33),
    IpNumber(136),
    IpNumber(132),
];

/// A flow's identity: the 5-tuple. For ICMP and ICMPv6 echo the identifier
/// stands in `source_port` (`destination_port` is 0); other protocols and
/// fragments have both ports 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub protocol: IpNumber,
    pub source_port: u16,
    pub destination_port: u16,
}

impl FlowKey {
    /// The flow key of a validated packet. If an IPv6 extension header chain
    /// cannot be walked, the key falls back to the addresses and the first
    /// next-header value with ports 0 (still stable for that flow).
    pub fn from_packet<B: AsRef<[u8]>>(packet: &IpPacket<B>) -> FlowKey {
        let mut key = FlowKey {
            source: packet.source(),
            destination: packet.destination(),
            protocol: match packet {
                IpPacket::V4(p) => p.protocol(),
                IpPacket::V6(p) => p.next_header(),
            },
            source_port: 0,
            destination_port: 0,
        };
        let Ok(transport) = packet.transport() else {
            return key;
        };
        key.protocol = transport.protocol;
        if transport.fragmented || !transport.has_header {
            return key;
        }
        let bytes = packet.as_bytes();
        let Some(header) = bytes.get(transport.offset..transport.end) else {
            return key;
        };
        let is_echo = match packet {
            IpPacket::V4(_) => {
                transport.protocol == IpNumber::ICMP
                    && header
                        .first()
                        .is_some_and(|t| ICMPV4_ECHO_TYPES.contains(t))
            }
            IpPacket::V6(_) => {
                transport.protocol == IpNumber::IPV6_ICMP
                    && header
                        .first()
                        .is_some_and(|t| ICMPV6_ECHO_TYPES.contains(t))
            }
        };
        if PORT_PROTOCOLS.contains(&transport.protocol) {
            if let Some(ports) = header.get(0..4) {
                key.source_port = u16::from_be_bytes([ports[0], ports[1]]);
                key.destination_port = u16::from_be_bytes([ports[2], ports[3]]);
            }
        } else if is_echo && let Some(identifier) = header.get(4..6) {
            key.source_port = u16::from_be_bytes([identifier[0], identifier[1]]);
        }
        key
    }

    /// Parses and validates `bytes` as an IP packet and returns its key.
    pub fn parse(bytes: &[u8]) -> Result<FlowKey, super::WireError> {
        IpPacket::new_checked(bytes).map(|packet| FlowKey::from_packet(&packet))
    }

    /// The same key seen from the other direction.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            source: self.destination,
            destination: self.source,
            protocol: self.protocol,
            source_port: self.destination_port,
            destination_port: self.source_port,
        }
    }
}

impl std::fmt::Display for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = self
            .protocol
            .keyword_str()
            .map_or_else(|| self.protocol.0.to_string(), str::to_string);
        match (self.source, self.destination) {
            (IpAddr::V6(_), _) | (_, IpAddr::V6(_)) => write!(
                f,
                "{protocol} [{}]:{} -> [{}]:{}",
                self.source, self.source_port, self.destination, self.destination_port
            ),
            _ => write!(
                f,
                "{protocol} {}:{} -> {}:{}",
                self.source, self.source_port, self.destination, self.destination_port
            ),
        }
    }
}

/// A seeded flow hasher. The same seed gives the same hash for the same key
/// in every run, on every thread, so ECMP choices are reproducible.
#[derive(Debug, Clone)]
pub struct FlowHasher {
    state: foldhash::quality::FixedState,
}

impl FlowHasher {
    /// The seed [`FlowHasher::default`] uses.
    pub const DEFAULT_SEED: u64 = 0x6572_6470_666c_6f77; // "erdpflow"

    pub const fn with_seed(seed: u64) -> Self {
        Self {
            state: foldhash::quality::FixedState::with_seed(seed),
        }
    }

    /// Hashes a flow key: both addresses as 128-bit words (IPv4 as
    /// IPv4-mapped IPv6), then protocol and ports in one 64-bit word.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        let mut hasher = self.state.build_hasher();
        hasher.write_u128(address_bits(key.source));
        hasher.write_u128(address_bits(key.destination));
        hasher.write_u64(
            (u64::from(key.protocol.0) << 32)
                | (u64::from(key.source_port) << 16)
                | u64::from(key.destination_port),
        );
        hasher.finish()
    }

    /// Maps a hash onto `0..buckets` without a division (Lemire's
    /// multiply-shift on the high 32 bits). `buckets` of 0 yields 0.
    pub fn bucket(hash: u64, buckets: u32) -> u32 {
        (((hash >> 32) * u64::from(buckets)) >> 32) as u32
    }
}

impl Default for FlowHasher {
    fn default() -> Self {
        Self::with_seed(Self::DEFAULT_SEED)
    }
}

fn address_bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

const _: () = assert!(std::mem::size_of::<FlowKey>() <= 40);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_spreads_over_range() {
        assert_eq!(FlowHasher::bucket(u64::MAX, 4), 3);
        assert_eq!(FlowHasher::bucket(0, 4), 0);
        assert_eq!(FlowHasher::bucket(12345, 0), 0);
    }

    #[test]
    fn same_seed_same_hash_different_seed_different_hash() {
        let key = FlowKey {
            source: "10.0.0.1".parse().unwrap(),
            destination: "10.1.0.1".parse().unwrap(),
            protocol: IpNumber::TCP,
            source_port: 40000,
            destination_port: 443,
        };
        let a = FlowHasher::default();
        assert_eq!(a.hash(&key), FlowHasher::default().hash(&key));
        assert_ne!(a.hash(&key), FlowHasher::with_seed(1).hash(&key));
        assert_ne!(a.hash(&key), a.hash(&key.reversed()));
    }
}
