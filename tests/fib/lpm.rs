//! Property tests: the FIB's longest-prefix match equals a naive reference on
//! random tables (/0, host routes, deep overlaps, IPv4-mapped IPv6), and still
//! does after random add/withdraw sequences published in random batches,
//! while older versions held by readers stay unchanged.

use crate::support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use erdp::fib::{Fib, FibMatch, FibWriter, NextHopGroupId};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use support::fib::NaiveLpm;

fn config() -> Config {
    Config {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x00e4_d9f1),
        ..Config::default()
    }
}

/// Anchors: addresses prefixes and destinations are derived from, so they
/// overlap deeply. IPv6 anchors include IPv4-mapped addresses (::ffff:a.b.c.d).
fn v4_anchor() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), Just(0), Just(u32::MAX), Just(0x0a00_0000)]
}

fn v6_anchor() -> impl Strategy<Value = u128> {
    prop_oneof![
        any::<u128>(),
        any::<u32>().prop_map(|v4| (0xffffu128 << 32) | u128::from(v4)),
        any::<u64>().prop_map(|low| (0x2001_0db8u128 << 96) | u128::from(low)),
        Just(0u128),
        Just(u128::MAX),
    ]
}

fn prefix_v4(anchor: u32, len: u8) -> IpNet {
    IpNet::V4(
        Ipv4Net::new(Ipv4Addr::from(anchor), len.min(32))
            .unwrap()
            .trunc(),
    )
}

fn prefix_v6(anchor: u128, len: u8) -> IpNet {
    IpNet::V6(
        Ipv6Net::new(Ipv6Addr::from(anchor), len.min(128))
            .unwrap()
            .trunc(),
    )
}

/// Destinations near every anchor (flipping each low bit) plus `extra`.
fn destinations<T: Copy>(
    anchors: &[T],
    extra: &[T],
    flip: impl Fn(T, u32) -> T,
    bits: u32,
) -> Vec<T> {
    let mut out = extra.to_vec();
    for &anchor in anchors {
        out.push(anchor);
        for bit in 0..bits {
            out.push(flip(anchor, bit));
        }
    }
    out
}

fn check(fib: &Fib, naive: &NaiveLpm, v4: &[u32], v6: &[u128]) -> Result<(), TestCaseError> {
    let expect = |found: Option<(u32, u8)>| {
        found.map(|(group, prefix_len)| FibMatch {
            group: NextHopGroupId(group),
            prefix_len,
        })
    };
    let mut batch = vec![None; v4.len().max(v6.len())];
    fib.lookup_v4_batch(v4, &mut batch);
    for (i, &addr) in v4.iter().enumerate() {
        let want = expect(naive.lookup_v4(addr));
        prop_assert_eq!(fib.lookup_v4(addr), want, "IPv4 {}", Ipv4Addr::from(addr));
        prop_assert_eq!(batch[i], want, "IPv4 batch {}", Ipv4Addr::from(addr));
    }
    fib.lookup_v6_batch(v6, &mut batch);
    for (i, &addr) in v6.iter().enumerate() {
        let want = expect(naive.lookup_v6(addr));
        prop_assert_eq!(fib.lookup_v6(addr), want, "IPv6 {}", Ipv6Addr::from(addr));
        prop_assert_eq!(batch[i], want, "IPv6 batch {}", Ipv6Addr::from(addr));
        if let Some(found) = want {
            let prefix = FibMatch::prefix(&found, IpAddr::V6(addr.into()));
            prop_assert!(prefix.contains(&IpAddr::V6(addr.into())));
        }
    }
    Ok(())
}

fn apply(
    writer: &mut FibWriter,
    naive: &mut NaiveLpm,
    prefix: IpNet,
    group: u32,
    add: bool,
) -> Result<(), TestCaseError> {
    if add {
        writer.insert(prefix, NextHopGroupId(group)).unwrap();
        naive.insert(prefix, group);
    } else {
        writer.remove(prefix).unwrap();
        naive.remove(prefix);
    }
    prop_assert_eq!(writer.get(prefix).is_some(), add);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_tables_match_the_naive_reference(
        v4_anchors in prop::collection::vec(v4_anchor(), 1..6),
        v6_anchors in prop::collection::vec(v6_anchor(), 1..6),
        routes in prop::collection::vec((any::<usize>(), 0u8..=128, 0u32..5), 0..80),
        v4_extra in prop::collection::vec(any::<u32>(), 0..40),
        v6_extra in prop::collection::vec(any::<u128>(), 0..40),
    ) {
        let mut writer = FibWriter::new();
        let mut naive = NaiveLpm::default();
        for &(anchor, len, group) in &routes {
            apply(&mut writer, &mut naive, prefix_v4(v4_anchors[anchor % v4_anchors.len()], len), group, true)?;
            apply(&mut writer, &mut naive, prefix_v6(v6_anchors[anchor % v6_anchors.len()], len), group, true)?;
        }
        writer.publish();
        let fib = writer.reader().load_full();
        let v4 = destinations(&v4_anchors, &v4_extra, |a, bit| a ^ (1 << bit), 32);
        let v6 = destinations(&v6_anchors, &v6_extra, |a, bit| a ^ (1 << bit), 128);
        check(&fib, &naive, &v4, &v6)?;
    }

    #[test]
    fn add_withdraw_sequences_match_and_old_versions_stay_intact(
        v4_anchors in prop::collection::vec(v4_anchor(), 1..5),
        v6_anchors in prop::collection::vec(v6_anchor(), 1..5),
        batches in prop::collection::vec(
            (prop::collection::vec((any::<usize>(), 0u8..=128, 0u32..4, any::<bool>()), 1..25), 0usize..5),
            1..10,
        ),
    ) {
        let mut writer = FibWriter::new();
        let reader = writer.reader();
        let mut naive = NaiveLpm::default();
        let v4 = destinations(&v4_anchors, &[], |a, bit| a ^ (1 << bit), 32);
        let v6 = destinations(&v6_anchors, &[], |a, bit| a ^ (1 << bit), 128);
        // Versions readers hold, each for a number of further publishes.
        let mut held: Vec<(Arc<Fib>, NaiveLpm, usize)> = Vec::new();
        for (ops, hold) in &batches {
            for &(anchor, len, group, add) in ops {
                apply(&mut writer, &mut naive, prefix_v4(v4_anchors[anchor % v4_anchors.len()], len), group, add)?;
                apply(&mut writer, &mut naive, prefix_v6(v6_anchors[anchor % v6_anchors.len()], len), group, add)?;
            }
            writer.publish();
            let fib = reader.load_full();
            check(&fib, &naive, &v4, &v6)?;
            // A reader holding an old version sees it unchanged, whichever
            // copy the writer had to use meanwhile.
            for (old, old_naive, _) in &held {
                check(old, old_naive, &v4, &v6)?;
            }
            held.retain_mut(|(_, _, publishes)| {
                *publishes -= 1;
                *publishes > 0
            });
            if *hold > 0 {
                held.push((fib, naive.clone(), *hold));
            }
        }
        let (prefixes_v4, prefixes_v6) = writer.len();
        prop_assert_eq!(reader.load().len_v4(), prefixes_v4);
        prop_assert_eq!(reader.load().len_v6(), prefixes_v6);
    }
}

#[test]
fn default_route_and_host_routes() {
    let mut writer = FibWriter::new();
    let all: IpNet = "0.0.0.0/0".parse().unwrap();
    let host: IpNet = "192.0.2.1/32".parse().unwrap();
    let all6: IpNet = "::/0".parse().unwrap();
    let host6: IpNet = "2001:db8::1/128".parse().unwrap();
    for (prefix, group) in [(all, 1), (host, 2), (all6, 3), (host6, 4)] {
        writer.insert(prefix, NextHopGroupId(group)).unwrap();
    }
    assert_eq!(writer.reader().load().generation(), 0);
    writer.publish();
    let fib = writer.reader().load_full();
    assert_eq!(fib.generation(), 1);
    let group_of = |addr: &str| {
        fib.lookup(addr.parse().unwrap())
            .map(|m| (m.group.0, m.prefix_len))
    };
    assert_eq!(group_of("192.0.2.1"), Some((2, 32)));
    assert_eq!(group_of("192.0.2.0"), Some((1, 0)));
    assert_eq!(group_of("255.255.255.255"), Some((1, 0)));
    assert_eq!(group_of("2001:db8::1"), Some((4, 128)));
    assert_eq!(group_of("2001:db8::"), Some((3, 0)));
    assert_eq!(group_of("::ffff:192.0.2.1"), Some((3, 0)));
}

#[test]
fn host_bits_are_rejected() {
    let mut writer = FibWriter::new();
    let err = writer
        .insert("10.1.2.3/24".parse().unwrap(), NextHopGroupId(1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "prefix 10.1.2.3/24 has host bits set (the network is 10.1.2.0/24)"
    );
    assert!(writer.is_empty());
}
