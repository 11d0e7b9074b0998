//! FIB benchmarks: lookups per second for erdp's Poptrie-style FIB and, on
//! the same keys in the same run, the crates `poptrie` 0.2.1, `prefix-trie`
//! 0.10.1 and `ip_network_table-deps-treebitmap` 0.5.0; FIB memory and build
//! time; update throughput with a reader thread running.
//!
//! Tables: `$ERDP_FIB_TABLE` (one CIDR a line, gzip ok), else the RIPE RIS
//! tables in `../shared/data/fib/`, else synthetic tables with the real
//! prefix-length distribution. Updates: `$ERDP_FIB_UPDATES`, else the RIS
//! update file, else synthetic churn. The bench prints which ran.
//!
//! Run: `cargo bench --bench fib -- --warm-up-time 1 --measurement-time 3`.

#[path = "../tests/support/fib.rs"]
mod fib_support;

use std::hint::black_box;
use std::io::BufRead;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use erdp::fib::{Fib, FibMatch, FibWriter, NextHopGroupId, RouteFile};
use ip_network_table_deps_treebitmap::IpLookupTable;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use rand::RngExt;

/// Destinations per iteration (caller-owned, reused).
const KEYS: usize = 1 << 16;
/// Next-hop groups, assigned to prefixes by a hash of the prefix.
const GROUPS: u32 = 16;
/// Updates applied per publish in the update benchmark.
const UPDATE_BATCH: usize = 1024;
/// Updates per measured iteration of the update benchmark.
const UPDATES_PER_ITERATION: usize = 1 << 17;

/// `shared/data/fib/<name>` in the nearest ancestor of the project that has
/// it (`../shared` from the project root, further up from a worktree).
fn shared_data(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/data/fib").join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| root.join("../shared/data/fib").join(name))
}

fn group_of(prefix: &IpNet) -> u32 {
    let (addr, len) = match prefix {
        IpNet::V4(net) => (u128::from(u32::from(net.addr())), net.prefix_len()),
        IpNet::V6(net) => (u128::from(net.addr()), net.prefix_len()),
    };
    let mixed = (addr ^ u128::from(len)).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    (mixed >> 64) as u32 % GROUPS
}

/// The prefixes of one family and where they came from.
struct Table<N> {
    source: String,
    prefixes: Vec<N>,
}

struct Tables {
    v4: Table<Ipv4Net>,
    v6: Table<Ipv6Net>,
}

fn load_file(path: &Path) -> Option<(Vec<Ipv4Net>, Vec<Ipv6Net>)> {
    if !path.exists() {
        return None;
    }
    let file = match RouteFile::load(path) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("fib bench: {err}; falling back");
            return None;
        }
    };
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for route in file.routes {
        match route.prefix {
            IpNet::V4(net) => v4.push(net),
            IpNet::V6(net) => v6.push(net),
        }
    }
    Some((v4, v6))
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let (mut v4, mut v6) = (None, None);
        if let Some(path) = std::env::var_os("ERDP_FIB_TABLE").map(PathBuf::from)
            && let Some((a, b)) = load_file(&path)
        {
            let name = path.display().to_string();
            v4 = (!a.is_empty()).then(|| Table {
                source: name.clone(),
                prefixes: a,
            });
            v6 = (!b.is_empty()).then_some(Table {
                source: name,
                prefixes: b,
            });
        }
        for (name, is_v4) in [
            ("ris-as3333-20260511-v4.txt.gz", true),
            ("ris-as3333-20260511-v6.txt.gz", false),
        ] {
            if (is_v4 && v4.is_some()) || (!is_v4 && v6.is_some()) {
                continue;
            }
            let path = shared_data(name);
            if let Some((a, b)) = load_file(&path) {
                let source = format!("real: {}", path.display());
                if is_v4 {
                    v4 = Some(Table {
                        source,
                        prefixes: a,
                    });
                } else {
                    v6 = Some(Table {
                        source,
                        prefixes: b,
                    });
                }
            }
        }
        let v4 = v4.unwrap_or_else(|| Table {
            source: "synthetic (real length distribution, seed 4)".into(),
            prefixes: fib_support::synthetic_v4(4, 1_042_325),
        });
        let v6 = v6.unwrap_or_else(|| Table {
            source: "synthetic (real length distribution, seed 6)".into(),
            prefixes: fib_support::synthetic_v6(6, 246_175),
        });
        println!(
            "fib bench: IPv4 table {} ({} prefixes)",
            v4.source,
            v4.prefixes.len()
        );
        println!(
            "fib bench: IPv6 table {} ({} prefixes)",
            v6.source,
            v6.prefixes.len()
        );
        println!(
            "fib bench: {GROUPS} next-hop groups assigned by prefix hash; {KEYS} keys per iteration"
        );
        Tables { v4, v6 }
    })
}

/// Builds erdp's FIB from both tables; returns it with the writer.
fn build_erdp(tables: &Tables) -> (FibWriter, Arc<Fib>) {
    let mut writer = FibWriter::new();
    let v4 = tables.v4.prefixes.iter().map(|&net| IpNet::V4(net));
    let v6 = tables.v6.prefixes.iter().map(|&net| IpNet::V6(net));
    for prefix in v4.chain(v6) {
        if let Err(err) = writer.insert(prefix, NextHopGroupId(group_of(&prefix))) {
            panic!("fib bench: {prefix}: {err}");
        }
    }
    writer.publish();
    let fib = writer.reader().load_full();
    (writer, fib)
}

struct Baselines<A: poptrie::Address, P: prefix_trie::Prefix> {
    poptrie: poptrie::Poptrie<(A, u8), u32>,
    prefix_trie: PrefixMap<P, u32>,
}

/// Everything the lookup benchmarks need, built once.
struct Setup {
    erdp: Arc<Fib>,
    v4: Baselines<u32, Ipv4Net>,
    treebitmap_v4: IpLookupTable<Ipv4Addr, u32>,
    v6: Baselines<u128, Ipv6Net>,
    treebitmap_v6: IpLookupTable<Ipv6Addr, u32>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let tables = tables();
        let (_, erdp) = build_erdp(tables);
        let v4 = &tables.v4.prefixes;
        let v6 = &tables.v6.prefixes;
        let value4 = |net: &Ipv4Net| group_of(&IpNet::V4(*net));
        let value6 = |net: &Ipv6Net| group_of(&IpNet::V6(*net));
        let mut treebitmap_v4 = IpLookupTable::new();
        for net in v4 {
            treebitmap_v4.insert(net.addr(), u32::from(net.prefix_len()), value4(net));
        }
        let mut treebitmap_v6 = IpLookupTable::new();
        for net in v6 {
            treebitmap_v6.insert(net.addr(), u32::from(net.prefix_len()), value6(net));
        }
        let setup = Setup {
            erdp,
            v4: Baselines {
                poptrie: v4
                    .iter()
                    .map(|net| ((u32::from(net.addr()), net.prefix_len()), value4(net)))
                    .collect(),
                prefix_trie: v4.iter().map(|net| (*net, value4(net))).collect(),
            },
            treebitmap_v4,
            v6: Baselines {
                poptrie: v6
                    .iter()
                    .map(|net| ((u128::from(net.addr()), net.prefix_len()), value6(net)))
                    .collect(),
                prefix_trie: v6.iter().map(|net| (*net, value6(net))).collect(),
            },
            treebitmap_v6,
        };
        for stats in setup.erdp.stats() {
            println!(
                "fib bench: erdp {} FIB {} bytes for {} prefixes = {:.2} bytes/prefix",
                stats.family,
                stats.bytes(),
                stats.prefixes,
                stats.bytes_per_prefix()
            );
        }
        println!(
            "fib bench: erdp lookups dispatched to {}: {}",
            erdp::fib::BIT_FEATURES,
            if erdp::fib::lookups_use_bit_instructions() {
                "yes"
            } else {
                "no (portable code)"
            }
        );
        let (nodes, results) = setup.treebitmap_v4.mem_usage();
        println!(
            "fib bench: treebitmap IPv4 {} bytes = {:.2} bytes/prefix",
            nodes + results,
            (nodes + results) as f64 / v4.len() as f64
        );
        setup
    })
}

fn random_v4_keys() -> Vec<u32> {
    let mut rng = fib_support::rng(0x7634);
    (0..KEYS).map(|_| rng.random::<u32>()).collect()
}

fn inside_keys<N: Copy + Into<IpNet>>(prefixes: &[N], seed: u64) -> Vec<u128> {
    let mut rng = fib_support::rng(seed);
    (0..KEYS)
        .map(|_| {
            let prefix = prefixes[rng.random_range(0..prefixes.len())];
            fib_support::inside(&mut rng, prefix.into())
        })
        .collect()
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .throughput(Throughput::Elements(KEYS as u64))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
}

/// One single-lookup contender: every key looked up, matches counted.
fn bench_single<K: Copy, R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    keys: &[K],
    lookup: impl Fn(K) -> Option<R>,
) {
    group.bench_function(name, |b| {
        b.iter(|| keys.iter().filter_map(|&k| lookup(black_box(k))).count())
    });
}

/// erdp's batch API on `keys`, into a reused output buffer.
fn bench_batch<K: Copy>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    keys: &[K],
    batch: impl Fn(&[K], &mut [Option<FibMatch>]) -> usize,
) {
    let mut out = vec![None::<FibMatch>; keys.len()];
    group.bench_function("erdp-batch", |b| {
        b.iter(|| {
            batch(black_box(keys), &mut out);
            black_box(&out);
        })
    });
}

fn bench_v4(c: &mut Criterion, name: &str, keys: &[u32]) {
    let setup = setup();
    let mut group = c.benchmark_group(name);
    configure(&mut group);
    bench_batch(&mut group, keys, |keys, out| {
        setup.erdp.lookup_v4_batch(keys, out)
    });
    bench_single(&mut group, "erdp-single", keys, |k| setup.erdp.lookup_v4(k));
    bench_single(&mut group, "poptrie-0.2.1", keys, |k| {
        setup.v4.poptrie.lookup(k)
    });
    bench_single(&mut group, "prefix-trie-0.10.1", keys, |k| {
        setup
            .v4
            .prefix_trie
            .get_lpm(&Ipv4Net::from(Ipv4Addr::from(k)))
    });
    bench_single(&mut group, "treebitmap-0.5.0", keys, |k| {
        setup.treebitmap_v4.longest_match(Ipv4Addr::from(k))
    });
    group.finish();
}

fn lookups_v4_random(c: &mut Criterion) {
    bench_v4(c, "fib-v4-random", &random_v4_keys());
}

fn lookups_v4_inside(c: &mut Criterion) {
    let keys: Vec<u32> = inside_keys(&tables().v4.prefixes, 0x4411)
        .into_iter()
        .map(|k| k as u32)
        .collect();
    bench_v4(c, "fib-v4-inside", &keys);
}

fn lookups_v6_inside(c: &mut Criterion) {
    let setup = setup();
    let keys = inside_keys(&tables().v6.prefixes, 0x6611);
    let mut group = c.benchmark_group("fib-v6-inside");
    configure(&mut group);
    bench_batch(&mut group, &keys, |keys, out| {
        setup.erdp.lookup_v6_batch(keys, out)
    });
    bench_single(&mut group, "erdp-single", &keys, |k| {
        setup.erdp.lookup_v6(k)
    });
    bench_single(&mut group, "poptrie-0.2.1", &keys, |k| {
        setup.v6.poptrie.lookup(k)
    });
    bench_single(&mut group, "prefix-trie-0.10.1", &keys, |k| {
        setup
            .v6
            .prefix_trie
            .get_lpm(&Ipv6Net::from(Ipv6Addr::from(k)))
    });
    bench_single(&mut group, "treebitmap-0.5.0", &keys, |k| {
        setup.treebitmap_v6.longest_match(Ipv6Addr::from(k))
    });
    group.finish();
}

fn build(c: &mut Criterion) {
    let tables = tables();
    let mut group = c.benchmark_group("fib-build");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let count = tables.v4.prefixes.len() + tables.v6.prefixes.len();
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("erdp-full-tables", |b| b.iter(|| build_erdp(tables)));
    group.finish();
}

/// (announce, prefix) updates: the RIS update file, or synthetic churn.
fn updates() -> (String, Vec<(bool, IpNet)>) {
    let path = std::env::var_os("ERDP_FIB_UPDATES")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_data("ris-as3333-20260511-updates-v4.txt.gz"));
    let parsed = std::fs::File::open(&path).ok().map(|file| {
        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
        reader
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| {
                let (kind, prefix) = line.split_once(' ')?;
                Some((kind == "A", prefix.trim().parse::<IpNet>().ok()?.trunc()))
            })
            .collect::<Vec<_>>()
    });
    match parsed {
        Some(updates) if !updates.is_empty() => (format!("real: {}", path.display()), updates),
        _ => {
            let prefixes = &tables().v4.prefixes;
            let mut rng = fib_support::rng(0x0bd);
            let churn = (0..1_393_421)
                .map(|_| {
                    (
                        rng.random_bool(0.97),
                        IpNet::V4(prefixes[rng.random_range(0..prefixes.len())]),
                    )
                })
                .collect();
            (
                "synthetic churn of the IPv4 table (97% announce)".into(),
                churn,
            )
        }
    }
}

fn update_throughput(c: &mut Criterion) {
    let (source, updates) = updates();
    println!(
        "fib bench: updates {source} ({} lines), {UPDATE_BATCH} per publish, {UPDATES_PER_ITERATION} per iteration",
        updates.len()
    );
    let (mut writer, _) = build_erdp(tables());
    let reader = writer.reader();
    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let reader_thread = {
        let (stop, lookups) = (stop.clone(), lookups.clone());
        let keys = random_v4_keys();
        std::thread::spawn(move || {
            let mut out = vec![None; 256];
            while !stop.load(Ordering::Relaxed) {
                for chunk in keys.chunks(256) {
                    let fib = reader.load();
                    fib.lookup_v4_batch(chunk, &mut out);
                    black_box(&out);
                    lookups.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let mut group = c.benchmark_group("fib-update");
    group
        .throughput(Throughput::Elements(UPDATES_PER_ITERATION as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let reader_started = Instant::now();
    let mut next = 0usize;
    let mut published = 0u64;
    let mut copied = 0u64;
    group.bench_function("erdp-ris-updates-with-reader", |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            for _ in 0..iterations {
                for _ in 0..UPDATES_PER_ITERATION / UPDATE_BATCH {
                    for _ in 0..UPDATE_BATCH {
                        let (announce, prefix) = updates[next % updates.len()];
                        next += 1;
                        let applied = if announce {
                            writer
                                .insert(prefix, NextHopGroupId(group_of(&prefix)))
                                .map(|_| ())
                        } else {
                            writer.remove(prefix).map(|_| ())
                        };
                        black_box(applied.is_ok());
                    }
                    let report = writer.publish();
                    published += 1;
                    copied += u64::from(report.copied);
                }
            }
            started.elapsed()
        })
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let _ = reader_thread.join();
    let lookups = lookups.load(Ordering::Relaxed);
    println!(
        "fib bench: reader thread: {lookups} lookups ({:.1} M/s) while updates ran; {published} publishes, \
         {copied} of them copied the table (every spare version still held by a reader)",
        lookups as f64 / reader_started.elapsed().as_secs_f64() / 1e6
    );
}

criterion_group!(
    benches,
    lookups_v4_random,
    lookups_v4_inside,
    lookups_v6_inside,
    build,
    update_throughput
);
criterion_main!(benches);
