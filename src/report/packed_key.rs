//! [`PackedFlowKey`]: a flow's 5-tuple packed into five 64-bit words, the
//! flow table's index key. Fixed size and `Copy`, compared and hashed word
//! by word (one `write_u64` each into foldhash), turned back into a
//! [`FlowKey`] only when a report is built.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::IpNumber;

use crate::wire::FlowKey;

/// Set in the last word when the source is IPv4 (so an IPv4 address and
/// its IPv4-mapped IPv6 form stay different flows).
const SOURCE_V4: u64 = 1 << 48;
/// Set in the last word when the destination is IPv4.
const DESTINATION_V4: u64 = 1 << 49;

/// Source address (high, low), destination address (high, low), then
/// family bits, protocol and ports in one word. IPv4 addresses sit in the
/// low word with a zero high word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackedFlowKey([u64; 5]);

impl PartialEq for PackedFlowKey {
    /// Word by word without branches (the derived array comparison calls
    /// `memcmp`; this runs once per packet).
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let [a0, a1, a2, a3, a4] = self.0;
        let [b0, b1, b2, b3, b4] = other.0;
        ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2) | (a3 ^ b3) | (a4 ^ b4)) == 0
    }
}

impl Eq for PackedFlowKey {}

const _: () = assert!(size_of::<PackedFlowKey>() == 40);

fn address_words(address: IpAddr) -> (u64, u64, bool) {
    match address {
        IpAddr::V4(v4) => (0, u64::from(v4.to_bits()), true),
        IpAddr::V6(v6) => {
            let bits = v6.to_bits();
            ((bits >> 64) as u64, bits as u64, false)
        }
    }
}

fn address(high: u64, low: u64, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from_bits(low as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from_bits(
            (u128::from(high) << 64) | u128::from(low),
        ))
    }
}

impl PackedFlowKey {
    /// Packs `key`; [`PackedFlowKey::unpack`] gives it back unchanged.
    pub(crate) fn pack(key: &FlowKey) -> Self {
        let (source_high, source_low, source_v4) = address_words(key.source);
        let (destination_high, destination_low, destination_v4) = address_words(key.destination);
        let mut last = (u64::from(key.protocol.0) << 32)
            | (u64::from(key.source_port) << 16)
            | u64::from(key.destination_port);
        if source_v4 {
            last |= SOURCE_V4;
        }
        if destination_v4 {
            last |= DESTINATION_V4;
        }
        Self([
            source_high,
            source_low,
            destination_high,
            destination_low,
            last,
        ])
    }

    /// The key that was packed.
    pub(crate) fn unpack(&self) -> FlowKey {
        let [
            source_high,
            source_low,
            destination_high,
            destination_low,
            last,
        ] = self.0;
        FlowKey {
            source: address(source_high, source_low, last & SOURCE_V4 != 0),
            destination: address(
                destination_high,
                destination_low,
                last & DESTINATION_V4 != 0,
            ),
            protocol: IpNumber((last >> 32) as u8),
            source_port: (last >> 16) as u16,
            destination_port: last as u16,
        }
    }
}

impl Hash for PackedFlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for word in self.0 {
            state.write_u64(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &str, destination: &str, protocol: u8, ports: (u16, u16)) -> FlowKey {
        FlowKey {
            source: source.parse().unwrap(),
            destination: destination.parse().unwrap(),
            protocol: IpNumber(protocol),
            source_port: ports.0,
            destination_port: ports.1,
        }
    }

    #[test]
    fn unpack_gives_back_the_key() {
        for k in [
            key("10.0.1.10", "10.1.0.10", 17, (40000, 53)),
            key("255.255.255.255", "0.0.0.0", 255, (u16::MAX, 0)),
            key("fd00:10::10", "fd00:1::10", 6, (1, u16::MAX)),
            key("::ffff:10.0.1.10", "10.1.0.10", 58, (7, 0)),
            key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", 0, (0, 0)),
        ] {
            assert_eq!(PackedFlowKey::pack(&k).unpack(), k);
        }
    }

    #[test]
    fn ipv4_and_its_mapped_form_differ() {
        let v4 = key("10.0.1.10", "10.1.0.10", 17, (1, 2));
        let mapped = key("::ffff:10.0.1.10", "10.1.0.10", 17, (1, 2));
        assert_ne!(PackedFlowKey::pack(&v4), PackedFlowKey::pack(&mapped));
        let swapped = v4.reversed();
        assert_ne!(PackedFlowKey::pack(&v4), PackedFlowKey::pack(&swapped));
    }
}
