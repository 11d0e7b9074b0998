//! The forwarder's common case in one pass: an IPv4 TCP or UDP packet that
//! is not a fragment, validated by [`Ipv4Packet::new_checked`] (whose
//! common case is checked inline, RFC 791 and the RFC 1071 header
//! checksum), its flow key read from the view. Anything else takes the
//! general path in `forward`, which also names the error; a differential
//! test keeps both in agreement. TTL and hop limit decrement through the
//! same views (RFC 1812 5.3.1, RFC 8200 3, RFC 1624 checksum update).

use std::net::IpAddr;

use etherparse::IpNumber;

use super::forward::Meta;
use crate::wire::{FlowKey, Ipv4Packet, Ipv6Packet, WireError};

/// The forwarding facts of an IPv4 TCP or UDP packet that is not a
/// fragment and passes every check the general path makes; `None` sends
/// the packet to the general path.
#[inline(always)]
pub(crate) fn ipv4_meta(bytes: &[u8]) -> Option<Meta> {
    let packet = Ipv4Packet::new_checked(bytes).ok()?;
    let protocol = packet.protocol();
    if (protocol != IpNumber::TCP && protocol != IpNumber::UDP) || packet.is_fragment() {
        return None;
    }
    let ports: &[u8; 4] = packet.payload().first_chunk()?;
    Some(Meta {
        flow: FlowKey {
            source: IpAddr::V4(packet.source()),
            destination: IpAddr::V4(packet.destination()),
            protocol,
            source_port: u16::from_be_bytes([ports[0], ports[1]]),
            destination_port: u16::from_be_bytes([ports[2], ports[3]]),
        },
        total_len: packet.total_len(),
        ttl: packet.ttl(),
        dont_fragment: packet.dont_fragment(),
        v6: false,
    })
}

/// Decrements the TTL (with an incremental header checksum update) or hop
/// limit of the packet at the start of `bytes`, validated earlier (its
/// IPv4 checksum is not checked again); at 0 or 1 the packet expires and
/// is left unchanged (RFC 1812 5.3.1, RFC 8200 3).
#[inline(always)]
pub(crate) fn decrement_ttl(bytes: &mut [u8], v6: bool) -> Result<(), WireError> {
    if v6 {
        Ipv6Packet::new_checked(bytes)?.decrement_hop_limit()?;
    } else {
        Ipv4Packet::new_checked_ignoring_checksum(bytes)?.decrement_ttl()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::IpPacket;

    fn udp(payload: usize) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 2, 3], 64)
            .udp(1234, 53)
            .write(&mut out, &vec![7; payload])
            .unwrap();
        out
    }

    #[test]
    fn ttl_decrement_matches_the_wire_module() {
        let mut fast = udp(10);
        let mut reference = fast.clone();
        decrement_ttl(&mut fast, false).unwrap();
        Ipv4Packet::new_checked(&mut reference[..])
            .unwrap()
            .decrement_ttl()
            .unwrap();
        assert_eq!(fast, reference);
        assert!(Ipv4Packet::new_checked(&fast[..]).is_ok());
        fast[8] = 1;
        let before = fast.clone();
        assert!(matches!(
            decrement_ttl(&mut fast, false),
            Err(WireError::TtlExpired { ttl: 1, .. })
        ));
        assert_eq!(fast, before);
        assert!(decrement_ttl(&mut [], true).is_err());
    }

    #[test]
    fn fast_meta_agrees_with_the_general_path() {
        let packet = udp(3);
        let fast = ipv4_meta(&packet).unwrap();
        let general = IpPacket::new_checked(&packet[..]).unwrap();
        assert_eq!(fast.flow, FlowKey::from_packet(&general));
        assert_eq!(fast.total_len, general.total_len());
        // A header checksum error leaves it to the general path.
        let mut bad = packet.clone();
        bad[10] ^= 1;
        assert!(ipv4_meta(&bad).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 2000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x6661_7374),
            ..proptest::test_runner::Config::default()
        })]

        /// Differential: whatever the fast path accepts, the general path
        /// accepts with the same facts, and the fast path declines only
        /// what it does not handle.
        #[test]
        fn fast_path_is_the_general_path(
            payload in 0usize..40,
            tcp in proptest::bool::ANY,
            edits in proptest::collection::vec((0usize..64, proptest::num::u8::ANY), 0..3),
            cut in 0usize..80,
        ) {
            let mut packet = Vec::new();
            let builder = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 2, 3], 9);
            if tcp {
                builder.tcp(4000, 443, 1, 100).write(&mut packet, &vec![1; payload]).unwrap();
            } else {
                builder.udp(4000, 53).write(&mut packet, &vec![1; payload]).unwrap();
            }
            for (at, value) in edits {
                if let Some(b) = packet.get_mut(at) {
                    *b = value;
                }
            }
            // Either keep the checksum as edited or make it right again.
            if cut % 2 == 0 && packet.len() >= 20 && packet[0] >> 4 == 4 {
                packet[10..12].fill(0);
                let ihl = usize::from(packet[0] & 0x0f) * 4;
                if ihl >= 20 && ihl <= packet.len() {
                    let sum = crate::wire::checksum::internet_checksum(&packet[..ihl]);
                    packet[10..12].copy_from_slice(&sum.to_be_bytes());
                }
            }
            packet.truncate(packet.len().saturating_sub(cut / 8));
            let general = IpPacket::new_checked(&packet[..]);
            match ipv4_meta(&packet) {
                Some(fast) => {
                    let general = general.expect("the general path accepts it too");
                    proptest::prop_assert_eq!(fast.flow, FlowKey::from_packet(&general));
                    proptest::prop_assert_eq!(fast.total_len, general.total_len());
                    let IpPacket::V4(v4) = &general else { panic!("IPv4") };
                    proptest::prop_assert_eq!(fast.ttl, v4.ttl());
                    proptest::prop_assert_eq!(fast.dont_fragment, v4.dont_fragment());
                }
                None => {
                    if let Ok(IpPacket::V4(v4)) = &general {
                        let handled = [IpNumber::TCP, IpNumber::UDP].contains(&v4.protocol())
                            && !v4.is_fragment()
                            && v4.payload().len() >= 4;
                        proptest::prop_assert!(!handled, "fast path declined a packet it handles");
                    }
                }
            }
        }
    }
}
