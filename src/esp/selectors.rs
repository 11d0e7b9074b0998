//! Traffic selectors (RFC 4301 section 4.4.1): the inner source and
//! destination prefixes an SA may carry. A handful of prefixes per SA,
//! compiled to (network, mask) integers and scanned linearly; an empty list
//! allows any address.

use ipnet::IpNet;

use super::config::TrafficSelectors;
use crate::wire::{ipv4_field as ipv4, ipv6_field as ipv6};

/// The prefixes of one side (source or destination) as masks.
#[derive(Debug, Clone, Default)]
struct PrefixSet {
    /// No prefix configured: every address matches.
    any: bool,
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

impl PrefixSet {
    fn new(prefixes: &[IpNet]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for prefix in prefixes {
            match prefix {
                IpNet::V4(p) => {
                    let mask = u32::from(p.netmask());
                    v4.push((u32::from(p.network()) & mask, mask));
                }
                IpNet::V6(p) => {
                    let mask = u128::from(p.netmask());
                    v6.push((u128::from(p.network()) & mask, mask));
                }
            }
        }
        PrefixSet {
            any: prefixes.is_empty(),
            v4: v4.into(),
            v6: v6.into(),
        }
    }

    #[inline]
    fn contains_v4(&self, addr: u32) -> bool {
        self.any || self.v4.iter().any(|&(net, mask)| addr & mask == net)
    }

    #[inline]
    fn contains_v6(&self, addr: u128) -> bool {
        self.any || self.v6.iter().any(|&(net, mask)| addr & mask == net)
    }
}

/// The compiled selectors of one SA.
#[derive(Debug, Clone)]
pub(crate) struct Selectors {
    src: PrefixSet,
    dst: PrefixSet,
}

impl Default for Selectors {
    fn default() -> Self {
        Selectors::new(&TrafficSelectors::default())
    }
}

impl Selectors {
    /// Compiles the configured prefixes.
    pub(crate) fn new(config: &TrafficSelectors) -> Self {
        Selectors {
            src: PrefixSet::new(&config.src),
            dst: PrefixSet::new(&config.dst),
        }
    }

    /// True when the source and destination of the IPv4 or IPv6 packet
    /// `packet` fall inside the selectors. A packet too short for its fixed
    /// header, or of another version, is refused (unless both sides allow
    /// any address).
    #[inline]
    pub(crate) fn allows_packet(&self, packet: &[u8]) -> bool {
        if self.src.any && self.dst.any {
            return true;
        }
        match packet.first().map(|b| b >> 4) {
            Some(4) => addresses::<4>(packet, ipv4::SOURCE.start, ipv4::DESTINATION.start)
                .is_some_and(|(src, dst)| {
                    self.src.contains_v4(u32::from_be_bytes(src))
                        && self.dst.contains_v4(u32::from_be_bytes(dst))
                }),
            Some(6) => addresses::<16>(packet, ipv6::SOURCE.start, ipv6::DESTINATION.start)
                .is_some_and(|(src, dst)| {
                    self.src.contains_v6(u128::from_be_bytes(src))
                        && self.dst.contains_v6(u128::from_be_bytes(dst))
                }),
            _ => false,
        }
    }
}

/// The `N`-byte source and destination addresses at `src` and `dst`, if
/// inside `packet`.
#[inline]
fn addresses<const N: usize>(packet: &[u8], src: usize, dst: usize) -> Option<([u8; N], [u8; N])> {
    Some((read_be(packet, src)?, read_be(packet, dst)?))
}

/// The `N` bytes at `at`, if inside `packet`.
#[inline]
fn read_be<const N: usize>(packet: &[u8], at: usize) -> Option<[u8; N]> {
    packet.get(at..)?.first_chunk::<N>().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::IpAddr;

    /// A minimal IPv4 or IPv6 header with these addresses (only the fields
    /// the selectors read).
    fn header(src: IpAddr, dst: IpAddr) -> Vec<u8> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut p = vec![0x45; 20];
                p[ipv4::SOURCE].copy_from_slice(&s.octets());
                p[ipv4::DESTINATION].copy_from_slice(&d.octets());
                p
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut p = vec![0x60; 40];
                p[ipv6::SOURCE].copy_from_slice(&s.octets());
                p[ipv6::DESTINATION].copy_from_slice(&d.octets());
                p
            }
            _ => unreachable!("one family per test packet"),
        }
    }

    fn allows(s: &Selectors, src: &str, dst: &str) -> bool {
        s.allows_packet(&header(src.parse().unwrap(), dst.parse().unwrap()))
    }

    #[test]
    fn empty_allows_all_and_prefixes_restrict() {
        let any = Selectors::default();
        assert!(allows(&any, "10.0.0.1", "10.9.9.9"));
        assert!(allows(&any, "fd00::1", "2001:db8::1"));
        let s = Selectors::new(&TrafficSelectors {
            src: vec!["10.1.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()],
            dst: vec!["10.2.0.0/16".parse().unwrap()],
        });
        assert!(allows(&s, "10.1.2.3", "10.2.0.9"));
        assert!(!allows(&s, "10.3.2.3", "10.2.0.9"));
        assert!(!allows(&s, "10.1.2.3", "10.9.0.9"));
        assert!(!allows(&s, "fd00::2", "fd00::1"));
        // Too short for the addresses, or not IP: refused.
        assert!(!s.allows_packet(
            &header("10.1.2.3".parse().unwrap(), "10.2.0.9".parse().unwrap())[..19]
        ));
        assert!(!s.allows_packet(&[0x50; 40]));
    }

    fn prefix() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32)
                .prop_map(|(a, len)| IpNet::new(IpAddr::from(a), len).unwrap()),
            (any::<[u8; 16]>(), 0u8..=128)
                .prop_map(|(a, len)| IpNet::new(IpAddr::from(a), len).unwrap()),
        ]
    }

    fn v4(a: u32) -> IpAddr {
        IpAddr::V4(a.into())
    }

    fn v6(a: u128) -> IpAddr {
        IpAddr::V6(a.into())
    }

    /// An address near one of `prefixes` (or anywhere), so matches happen.
    fn address_near(prefixes: &[IpNet], pick: usize, noise: u128, ipv6: bool) -> IpAddr {
        let shift = (pick % 129) as u32;
        match prefixes.get(pick % prefixes.len().max(1)) {
            Some(IpNet::V4(p)) => {
                v4(u32::from(p.network()) ^ (noise as u32).checked_shr(shift).unwrap_or(0))
            }
            Some(IpNet::V6(p)) => {
                v6(u128::from(p.network()) ^ noise.checked_shr(shift).unwrap_or(0))
            }
            None if ipv6 => v6(noise),
            None => v4(noise as u32),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5E1E), ..ProptestConfig::default() })]

        /// Differential: the compiled masks agree with `ipnet`'s `contains`
        /// (an empty list allows everything).
        #[test]
        fn masks_match_ipnet(
            src in prop::collection::vec(prefix(), 0..4),
            dst in prop::collection::vec(prefix(), 0..4),
            picks in (any::<usize>(), any::<usize>(), any::<u128>(), any::<u128>(), any::<bool>()),
        ) {
            let (ps, pd, ns, nd, ipv6) = picks;
            let a = address_near(&src, ps, ns, ipv6);
            let mut b = address_near(&dst, pd, nd, ipv6);
            // One family per packet: map a mismatched destination over.
            if a.is_ipv4() != b.is_ipv4() {
                b = match a {
                    IpAddr::V4(_) => v4(nd as u32),
                    IpAddr::V6(_) => v6(nd),
                };
            }
            let config = TrafficSelectors { src: src.clone(), dst: dst.clone() };
            let naive = |list: &[IpNet], addr: IpAddr| {
                list.is_empty() || list.iter().any(|p| p.trunc().contains(&addr))
            };
            let want = naive(&src, a) && naive(&dst, b);
            prop_assert_eq!(Selectors::new(&config).allows_packet(&header(a, b)), want);
        }
    }
}
