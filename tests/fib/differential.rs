//! Differential test on full-size tables generated with the real prefix-length
//! distribution (63% /24 for IPv4; /48 and /32 dominating IPv6): the FIB and a
//! naive reference agree on random and inside-prefix destinations, before and
//! after a churn of withdrawals and re-announcements. Needs no external data.

use crate::support;

use erdp::fib::{FibMatch, FibWriter, NextHopGroupId};
use ipnet::IpNet;
use rand::RngExt;
use support::fib::{NaiveLpm, inside, rng, synthetic_v4, synthetic_v6};

const PREFIXES: usize = 100_000;
const DESTINATIONS: usize = 200_000;
const GROUPS: u32 = 16;

fn check_all(
    writer: &FibWriter,
    naive: &NaiveLpm,
    prefixes: &[IpNet],
    seed: u64,
) -> ((usize, usize), (usize, usize)) {
    let fib = writer.reader().load_full();
    let mut rng = rng(seed);
    let mut v4 = Vec::with_capacity(DESTINATIONS);
    let mut v6 = Vec::with_capacity(DESTINATIONS);
    let mut inside_count = (0, 0);
    for i in 0..DESTINATIONS {
        let prefix = prefixes[rng.random_range(0..prefixes.len())];
        let addr = inside(&mut rng, prefix);
        match (prefix, i % 4) {
            (_, 0) => {
                v4.push(rng.random::<u32>());
                v6.push(rng.random::<u128>() >> 3 | (1 << 125));
            }
            (IpNet::V4(_), _) => {
                v4.push(addr as u32);
                inside_count.0 += 1;
            }
            (IpNet::V6(_), _) => {
                v6.push(addr);
                inside_count.1 += 1;
            }
        }
    }
    let as_match = |found: Option<(u32, u8)>| {
        found.map(|(group, prefix_len)| FibMatch {
            group: NextHopGroupId(group),
            prefix_len,
        })
    };
    let mut batch = vec![None; DESTINATIONS];
    fib.lookup_v4_batch(&v4, &mut batch);
    let mut hits = (0usize, 0usize);
    for (i, &addr) in v4.iter().enumerate() {
        let want = as_match(naive.lookup_v4(addr));
        assert_eq!(
            fib.lookup_v4(addr),
            want,
            "IPv4 {}",
            std::net::Ipv4Addr::from(addr)
        );
        assert_eq!(
            batch[i],
            want,
            "IPv4 batch {}",
            std::net::Ipv4Addr::from(addr)
        );
        hits.0 += usize::from(want.is_some());
    }
    fib.lookup_v6_batch(&v6, &mut batch);
    for (i, &addr) in v6.iter().enumerate() {
        let want = as_match(naive.lookup_v6(addr));
        assert_eq!(
            fib.lookup_v6(addr),
            want,
            "IPv6 {}",
            std::net::Ipv6Addr::from(addr)
        );
        assert_eq!(
            batch[i],
            want,
            "IPv6 batch {}",
            std::net::Ipv6Addr::from(addr)
        );
        hits.1 += usize::from(want.is_some());
    }
    (hits, inside_count)
}

#[test]
fn full_size_tables_match_the_naive_reference_before_and_after_churn() {
    let mut prefixes: Vec<IpNet> = synthetic_v4(4, PREFIXES)
        .into_iter()
        .map(IpNet::V4)
        .collect();
    prefixes.extend(synthetic_v6(6, PREFIXES / 2).into_iter().map(IpNet::V6));
    let share_24 = prefixes
        .iter()
        .filter(|p| matches!(p, IpNet::V4(net) if net.prefix_len() == 24))
        .count() as f64
        / PREFIXES as f64;
    assert!((0.60..0.66).contains(&share_24), "/24 share {share_24}");

    let mut writer = FibWriter::new();
    let mut naive = NaiveLpm::default();
    for (i, &prefix) in prefixes.iter().enumerate() {
        let group = i as u32 % GROUPS;
        writer.insert(prefix, NextHopGroupId(group)).unwrap();
        naive.insert(prefix, group);
    }
    writer.publish();
    let fib = writer.reader().load_full();
    assert_eq!(fib.len_v4(), PREFIXES);
    assert_eq!(fib.len_v6(), PREFIXES / 2);
    let (hits, inside_count) = check_all(&writer, &naive, &prefixes, 1);
    // Every destination drawn inside a prefix matches something.
    assert!(hits.0 >= inside_count.0 && hits.1 >= inside_count.1);
    assert!(inside_count.0 > 90_000 && inside_count.1 > 45_000);

    // Churn: withdraw a tenth, move another tenth to other groups, publish in
    // batches, re-announce half of the withdrawn ones.
    let mut churn = rng(7);
    let mut withdrawn = Vec::new();
    for (step, &prefix) in prefixes.iter().enumerate() {
        match churn.random_range(0..10) {
            0 => {
                writer.remove(prefix).unwrap();
                naive.remove(prefix);
                withdrawn.push(prefix);
            }
            1 => {
                let group = churn.random_range(0..GROUPS);
                writer.insert(prefix, NextHopGroupId(group)).unwrap();
                naive.insert(prefix, group);
            }
            _ => {}
        }
        if step % 5_000 == 0 {
            writer.publish();
        }
    }
    for &prefix in withdrawn.iter().step_by(2) {
        writer.insert(prefix, NextHopGroupId(99)).unwrap();
        naive.insert(prefix, 99);
    }
    writer.publish();
    check_all(&writer, &naive, &prefixes, 2);
}
