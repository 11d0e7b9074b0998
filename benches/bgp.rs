//! BGP full-table learning: a whole IPv4 table sent as UPDATEs over one
//! session into an established [`erdp::bgp::Peer`]: framed, decoded, stored
//! in the Adj-RIB-In, selected by the RIB and published to the FIB. Beside it
//! in the same run: decoding alone, and the RIB fed ready-made routes (how
//! routes entered a node before BGP), so ratios hold on a noisy machine.
//! Prints live heap bytes per route (requested sizes, no malloc overhead).
//!
//! Table: `$ERDP_BGP_TABLE` (one CIDR a line, gzip ok), else the RIPE RIS
//! table in `../shared/data/fib/`, else a synthetic 1,042,325-prefix table.
//! Run: `cargo bench --bench bgp -- --warm-up-time 1 --measurement-time 10`.

#[path = "../tests/support/fib.rs"]
mod fib_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use erdp::bgp::{Peer, PeerConfig, State};
use erdp::fib::{FibWriter, InterfaceId, NextHop};
use erdp::rib::{Rib, Route, Session};
use erdp::wire::bgp::{self, AsPath, Capabilities, Family, Open, Origin, PathAttributes, Update};
use ipnet::IpNet;

/// Live heap bytes (requested sizes).
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call goes unchanged to the system allocator; the counter
// only records requested sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SYNTHETIC_COUNT: usize = 1_042_325;
/// Bytes handed to `Peer::receive` at once (a socket read).
const READ: usize = 64 * 1024;

fn table() -> (Vec<IpNet>, String) {
    // The shared data sits beside the main checkout (../shared) or above a
    // worktree (../../shared).
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ris = "shared/data/fib/ris-as3333-20260511-v4.txt.gz";
    let path = std::env::var_os("ERDP_BGP_TABLE")
        .map(PathBuf::from)
        .or_else(|| {
            [
                manifest.join("..").join(ris),
                manifest.join("../..").join(ris),
            ]
            .into_iter()
            .find(|p| p.exists())
        })
        .unwrap_or_default();
    if let Ok(file) = std::fs::File::open(&path) {
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let prefixes: Vec<IpNet> = BufReader::new(reader)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| line.split_whitespace().next()?.parse::<IpNet>().ok())
            .filter(|p| matches!(p, IpNet::V4(_)))
            .map(|p| p.trunc())
            .collect();
        if !prefixes.is_empty() {
            return (unique(prefixes), path.display().to_string());
        }
    }
    let prefixes = fib_support::synthetic_v4(3333, SYNTHETIC_COUNT)
        .into_iter()
        .map(IpNet::V4)
        .collect();
    (unique(prefixes), "synthetic".into())
}

/// Each prefix once, in table order.
fn unique(prefixes: Vec<IpNet>) -> Vec<IpNet> {
    let mut seen = std::collections::HashSet::with_capacity(prefixes.len());
    prefixes.into_iter().filter(|p| seen.insert(*p)).collect()
}

/// The table as UPDATEs: all prefixes share attributes (`per_path` = 0), or
/// every `per_path` prefixes get an AS path of their own.
fn updates(prefixes: &[IpNet], per_path: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefixes.len() * 8);
    let attributes = |n: u32| PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(&[
            65002,
            3333,
            1299,
            64512 + n % 400,
            4_200_000_000 + n,
        ])),
        next_hop: Some(Ipv4Addr::new(10, 77, 0, 2)),
        med: Some(0),
        ..PathAttributes::default()
    };
    let chunk = if per_path == 0 {
        prefixes.len()
    } else {
        per_path
    };
    for (n, group) in prefixes.chunks(chunk).enumerate() {
        bgp::encode_announce(
            Family::Ipv4Unicast,
            &attributes(n as u32),
            Ipv6Addr::UNSPECIFIED,
            true,
            group,
            &mut out,
        )
        .expect("small attributes");
    }
    out
}

fn established() -> (Peer, Rib) {
    let mut config = PeerConfig::new(65001, 65002, Ipv4Addr::new(10, 77, 0, 1));
    config.interface = InterfaceId(1);
    let mut peer = Peer::new(config);
    let mut rib = Rib::default();
    peer.start(Duration::ZERO);
    peer.connected(Duration::ZERO);
    let mut greeting = Vec::new();
    Open {
        asn: 65002,
        hold_time: 180,
        bgp_id: Ipv4Addr::new(10, 77, 0, 2),
        capabilities: Capabilities {
            families: vec![Family::Ipv4Unicast],
            route_refresh: true,
            four_octet_as: Some(65002),
        },
    }
    .encode(&mut greeting);
    bgp::encode_keepalive(&mut greeting);
    peer.receive(Duration::ZERO, &greeting, &mut rib)
        .expect("greeting");
    assert_eq!(peer.state(), State::Established);
    peer.take_output();
    peer.take_events();
    (peer, rib)
}

fn learn(peer: &mut Peer, rib: &mut Rib, stream: &[u8]) {
    for read in stream.chunks(READ) {
        peer.receive(Duration::from_secs(1), read, rib)
            .expect("RIB");
        peer.take_events();
    }
    rib.publish();
}

fn decode_only(stream: &[u8]) -> usize {
    let mut rest = stream;
    let mut prefixes = 0;
    while let Ok(Some(framed)) = bgp::frame(rest) {
        if let Ok(update) = Update::decode(framed.body, true) {
            prefixes += update.nlri.count();
        }
        rest = &rest[framed.len..];
    }
    prefixes
}

fn memory_report(prefixes: &[IpNet], stream: &[u8], label: &str) {
    let before = LIVE.load(Ordering::Relaxed);
    let (mut peer, mut rib) = established();
    learn(&mut peer, &mut rib, stream);
    let total = LIVE.load(Ordering::Relaxed) - before;
    let routes = peer.adj_rib_in().len();
    assert_eq!(routes, prefixes.len(), "every prefix learned");
    // The FIB as the RIB keeps it (staged routes and the published
    // trie), measured alone for the same prefixes.
    let fib_before = LIVE.load(Ordering::Relaxed);
    let mut fib = FibWriter::new();
    let group = fib
        .groups_mut()
        .acquire(&[NextHop::via(
            InterfaceId(1),
            Ipv4Addr::new(10, 77, 0, 2).into(),
        )])
        .expect("one next hop");
    for &prefix in prefixes {
        fib.insert(prefix, group).expect("FIB");
    }
    fib.publish();
    let fib_bytes = LIVE.load(Ordering::Relaxed) - fib_before;
    drop(fib);
    let without_fib = total.saturating_sub(fib_bytes);
    eprintln!(
        "bgp memory ({label}): {routes} routes, {:.1} bytes/route all told, \
         {:.1} bytes/route in Adj-RIB-In + RIB (FIB's {:.1} bytes/route taken out)",
        total as f64 / routes as f64,
        without_fib as f64 / routes as f64,
        fib_bytes as f64 / routes as f64,
    );
    drop((peer, rib));
}

fn bench(c: &mut Criterion) {
    let (prefixes, source) = table();
    eprintln!(
        "bgp bench table: {} IPv4 prefixes from {source}",
        prefixes.len()
    );
    let shared = updates(&prefixes, 0);
    let per_two = updates(&prefixes, 2);
    memory_report(&prefixes, &shared, "shared attributes");
    memory_report(&prefixes, &per_two, "one AS path per 2 prefixes");

    let mut group = c.benchmark_group("bgp_full_table");
    group.sample_size(10);
    group.throughput(Throughput::Elements(prefixes.len() as u64));
    group.bench_function("decode_only", |b| {
        b.iter(|| assert_eq!(decode_only(black_box(&shared)), prefixes.len()))
    });
    let routes: Vec<Route> = prefixes
        .iter()
        .map(|&prefix| {
            let hop = NextHop::via(InterfaceId(1), Ipv4Addr::new(10, 77, 0, 2).into());
            Route::bgp(prefix, hop, Session::Other).with_as_path(&[65002, 3333, 1299])
        })
        .collect();
    group.bench_function("baseline_rib_add_ready_routes", |b| {
        b.iter_batched(
            || (Rib::default(), routes.clone()),
            |(mut rib, routes)| {
                for route in routes {
                    rib.add(route).expect("RIB");
                }
                rib.publish();
                rib
            },
            BatchSize::PerIteration,
        )
    });
    for (name, stream) in [
        ("learn_shared_attributes", &shared),
        ("learn_one_path_per_2_prefixes", &per_two),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                established,
                |(mut peer, mut rib)| {
                    learn(&mut peer, &mut rib, stream);
                    (peer, rib)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
