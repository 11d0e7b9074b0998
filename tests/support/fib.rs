//! Shared by the FIB tests and `benches/fib.rs`: seeded synthetic routing
//! tables with the prefix-length distribution of a real full table (RIPE RIS,
//! AS3333, 2026-05-11), and a naive reference longest-prefix match.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;

/// IPv4 prefix lengths of the real table, per 10,000 prefixes: 63% are /24.
pub const V4_LENGTHS: &[(u8, u32)] = &[
    (8, 1),
    (11, 1),
    (12, 3),
    (13, 6),
    (14, 12),
    (15, 20),
    (16, 131),
    (17, 80),
    (18, 128),
    (19, 245),
    (20, 438),
    (21, 503),
    (22, 1091),
    (23, 1035),
    (24, 6306),
];

/// IPv6 prefix lengths of the real table, per 10,000 prefixes: /48 and /32
/// dominate.
pub const V6_LENGTHS: &[(u8, u32)] = &[
    (24, 2),
    (28, 7),
    (29, 221),
    (30, 34),
    (31, 14),
    (32, 1086),
    (33, 220),
    (34, 211),
    (35, 75),
    (36, 383),
    (37, 49),
    (38, 109),
    (39, 74),
    (40, 938),
    (41, 69),
    (42, 119),
    (43, 59),
    (44, 1010),
    (45, 183),
    (46, 229),
    (47, 363),
    (48, 4544),
];

/// A seeded RNG: the same seed gives the same table on every machine.
pub fn rng(seed: u64) -> XorShiftRng {
    XorShiftRng::seed_from_u64(seed)
}

fn pick_length(rng: &mut XorShiftRng, lengths: &[(u8, u32)]) -> u8 {
    let total: u32 = lengths.iter().map(|&(_, weight)| weight).sum();
    let mut pick = rng.random_range(0..total);
    for &(len, weight) in lengths {
        if pick < weight {
            return len;
        }
        pick -= weight;
    }
    lengths[lengths.len() - 1].0
}

/// Left-aligned mask of `len` bits.
fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// `count` distinct prefixes in `lengths`' proportions, clustered like a real
/// table: half are placed inside an earlier, shorter prefix, the rest under
/// a random one of `roots` (left-aligned base, length).
fn synthetic(
    seed: u64,
    count: usize,
    lengths: &[(u8, u32)],
    roots: &[(u128, u8)],
) -> Vec<(u128, u8)> {
    let mut rng = rng(seed);
    let mut seen = HashSet::with_capacity(count);
    let mut out: Vec<(u128, u8)> = Vec::with_capacity(count);
    while out.len() < count {
        let len = pick_length(&mut rng, lengths);
        let parent = if !out.is_empty() && rng.random_bool(0.5) {
            let (addr, parent_len) = out[rng.random_range(0..out.len())];
            (parent_len < len).then_some((addr, parent_len))
        } else {
            None
        };
        let (base, base_len) = parent.unwrap_or_else(|| roots[rng.random_range(0..roots.len())]);
        let addr = (base & mask(base_len)) | (rng.random::<u128>() & !mask(base_len));
        let prefix = (addr & mask(len), len);
        if seen.insert(prefix) {
            out.push(prefix);
        }
    }
    out
}

/// A synthetic IPv4 table (unicast space 1.0.0.0 to 223.255.255.255).
pub fn synthetic_v4(seed: u64, count: usize) -> Vec<Ipv4Net> {
    let roots: Vec<(u128, u8)> = (1u128..224).map(|octet| (octet << 120, 8)).collect();
    synthetic(seed, count, V4_LENGTHS, &roots)
        .into_iter()
        .filter_map(|(addr, len)| Ipv4Net::new(Ipv4Addr::from((addr >> 96) as u32), len).ok())
        .collect()
}

/// A synthetic IPv6 table (under the /12s the registries allocate from).
pub fn synthetic_v6(seed: u64, count: usize) -> Vec<Ipv6Net> {
    let roots: Vec<(u128, u8)> = [0x2001u128, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2c00]
        .iter()
        .map(|&top| (top << 112, 12))
        .collect();
    synthetic(seed, count, V6_LENGTHS, &roots)
        .into_iter()
        .filter_map(|(addr, len)| Ipv6Net::new(Ipv6Addr::from(addr), len).ok())
        .collect()
}

/// A random address inside `prefix`.
pub fn inside(rng: &mut XorShiftRng, prefix: IpNet) -> u128 {
    let (addr, len, bits) = match prefix {
        IpNet::V4(net) => (u128::from(u32::from(net.addr())), net.prefix_len(), 32),
        IpNet::V6(net) => (u128::from(net.addr()), net.prefix_len(), 128),
    };
    let host_mask = if len >= bits {
        0
    } else {
        (u128::MAX >> (128 - bits)) >> len
    };
    addr | (rng.random::<u128>() & host_mask)
}

/// The obviously correct longest-prefix match: one exact-match map per
/// length, probed from the longest length down.
#[derive(Debug, Default, Clone)]
pub struct NaiveLpm {
    by_len: HashMap<u8, HashMap<u128, u32>>,
}

impl NaiveLpm {
    /// Sets `prefix` (host bits clear) to `value`.
    pub fn insert(&mut self, prefix: IpNet, value: u32) {
        let (addr, len) = Self::key(prefix);
        self.by_len.entry(len).or_default().insert(addr, value);
    }

    /// Removes `prefix`.
    pub fn remove(&mut self, prefix: IpNet) {
        let (addr, len) = Self::key(prefix);
        if let Some(map) = self.by_len.get_mut(&len) {
            map.remove(&addr);
        }
    }

    /// Longest match of an IPv4 address: (value, prefix length).
    pub fn lookup_v4(&self, addr: u32) -> Option<(u32, u8)> {
        self.lookup(u128::from(addr), 32, 200)
    }

    /// Longest match of an IPv6 address: (value, prefix length).
    pub fn lookup_v6(&self, addr: u128) -> Option<(u32, u8)> {
        self.lookup(addr, 128, 0)
    }

    fn lookup(&self, addr: u128, bits: u8, tag: u8) -> Option<(u32, u8)> {
        (0..=bits).rev().find_map(|len| {
            let full = u128::MAX >> (128 - bits);
            let masked = addr & (full ^ full.checked_shr(u32::from(len)).unwrap_or(0));
            let value = self.by_len.get(&(len + tag))?.get(&masked)?;
            Some((*value, len))
        })
    }

    /// IPv4 lengths are stored with a tag of 200 so the two families never
    /// collide in one map.
    fn key(prefix: IpNet) -> (u128, u8) {
        match prefix {
            IpNet::V4(net) => (u128::from(u32::from(net.addr())), net.prefix_len() + 200),
            IpNet::V6(net) => (u128::from(net.addr()), net.prefix_len()),
        }
    }
}
