//! Instruction-count driver for the IPv6 FIB lookups (run under callgrind):
//! builds the IPv6 table the FIB bench uses (`$ERDP_FIB_TABLE`, else the RIS
//! table in `../shared/data/fib/`, else a synthetic one), then looks up
//! 65536 destinations inside real prefixes `ROUNDS` times with the batch API
//! and once with the single API, and prints the trie's levels.
//!
//! `valgrind --tool=callgrind target/release/examples/fib_v6_profile`, then
//! `callgrind_annotate --inclusive=yes`: divide `lookup_batch`'s inclusive
//! count by `ROUNDS * KEYS`.

#[path = "../tests/support/fib.rs"]
mod fib_support;

use std::hint::black_box;
use std::path::{Path, PathBuf};

use erdp::fib::{FibMatch, FibWriter, NextHopGroupId, RouteFile};
use ipnet::IpNet;
use rand::RngExt;

const KEYS: usize = 1 << 16;
const ROUNDS: usize = 8;

fn table() -> Vec<IpNet> {
    let path = std::env::var_os("ERDP_FIB_TABLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|dir| dir.join("shared/data/fib/ris-as3333-20260511-v6.txt.gz"))
                .find(|path| path.exists())
                .unwrap_or_default()
        });
    match RouteFile::load(&path) {
        Ok(file) => {
            println!("table: {}", path.display());
            let v6 = file.routes.into_iter().map(|route| route.prefix);
            v6.filter(|prefix| matches!(prefix, IpNet::V6(_))).collect()
        }
        Err(err) => {
            println!("table: synthetic ({err})");
            let v6 = fib_support::synthetic_v6(6, 246_175).into_iter();
            v6.map(IpNet::V6).collect()
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prefixes = table();
    let mut writer = FibWriter::new();
    for (index, &prefix) in prefixes.iter().enumerate() {
        writer.insert(prefix, NextHopGroupId(index as u32 % 16))?;
    }
    writer.publish();
    let fib = writer.reader().load_full();
    let [_, stats] = fib.stats();
    println!(
        "IPv6: {} prefixes, {} bytes = {:.2} bytes/prefix",
        stats.prefixes,
        stats.bytes(),
        stats.bytes_per_prefix()
    );
    for level in &stats.levels {
        println!(
            "  depth {:3}: {:7} nodes {:8} leaf runs",
            level.depth, level.nodes, level.leaf_runs
        );
    }
    let mut rng = fib_support::rng(0x66);
    let keys: Vec<u128> = (0..KEYS)
        .map(|_| {
            let prefix = prefixes[rng.random_range(0..prefixes.len())];
            fib_support::inside(&mut rng, prefix)
        })
        .collect();
    let mut out = vec![None::<FibMatch>; KEYS];
    let mut matched = 0;
    for _ in 0..ROUNDS {
        fib.lookup_v6_batch(black_box(&keys), &mut out);
        matched += out.iter().filter(|m| m.is_some()).count();
    }
    matched += keys
        .iter()
        .filter_map(|&key| fib.lookup_v6(black_box(key)))
        .count();
    println!("{matched} matches of {} lookups", (ROUNDS + 1) * KEYS);
    Ok(())
}
