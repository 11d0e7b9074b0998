//! A full IPv4 table (1,042,325 prefixes from `../shared/data/fib`, or
//! `$ERDP_BGP_TABLE`) over one real TCP session between `erdp bgp` and BIRD
//! 2 on the same machine, both directions in one run (issue 17, "Speed"):
//! BIRD sends and erdp learns (RIB and FIB), then erdp sends and BIRD learns.
//! Prints each direction's time from Established to the last prefix, the
//! ratio and each receiver's peak memory; asserts only that every prefix
//! arrived (speed is a figure, never a test verdict). Needs root and bird2:
//! `scripts/bgp-vs-bird.sh` builds erdp in release and runs it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use erdp::port::netns::{Netns, is_root, veth_pair};
use ipnet::IpNet;

use crate::interop::{BIRD_ADDRESS, Bird, ERDP_ADDRESS, Erdp};

/// Longest either direction may take (BIRD parses a million static routes
/// first; the machine may be shared).
const PATIENCE: Duration = Duration::from_secs(600);

/// The table's distinct IPv4 prefixes, host bits cleared, in file order.
fn table() -> Vec<IpNet> {
    let ris = "shared/data/fib/ris-as3333-20260511-v4.txt.gz";
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
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
        .expect("a full table: ../shared/data/fib or $ERDP_BGP_TABLE");
    let file = std::fs::File::open(&path).expect("table opens");
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut seen = std::collections::HashSet::new();
    BufReader::new(reader)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.split_whitespace().next()?.parse::<IpNet>().ok())
        .filter(|p| matches!(p, IpNet::V4(_)))
        .map(|p| p.trunc())
        .filter(|p| seen.insert(*p))
        .collect()
}

/// BIRD exporting `routes` as static routes (none: BIRD only learns).
fn bird_config(routes: &[IpNet]) -> String {
    let mut statics = String::with_capacity(routes.len() * 32);
    for route in routes {
        statics.push_str(&format!("    route {route} blackhole;\n"));
    }
    format!(
        "router id {BIRD_ADDRESS};
protocol device {{ }}
protocol static static4 {{ ipv4; \n{statics}}}
protocol bgp erdp {{
    local {BIRD_ADDRESS} as 65002;
    neighbor {ERDP_ADDRESS} as 65001;
    hold time 90; keepalive time 30;
    connect delay time 1; connect retry time 2; error wait time 1, 2;
    graceful restart off;
    ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"
    )
}

/// Routes in BIRD's IPv4 table (`birdc show route count`).
fn bird_route_count(bird: &Bird) -> usize {
    let out = bird.birdc("show route count");
    out.lines()
        .find(|line| line.contains("routes for"))
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Peak resident memory of a process, MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn namespaces() -> (Netns, Netns) {
    let erdp_ns = Netns::create("bgpft-erdp").unwrap();
    let bird_ns = Netns::create("bgpft-bird").unwrap();
    veth_pair(&erdp_ns, "e0", &bird_ns, "b0").unwrap();
    erdp_ns
        .ip(&["addr", "add", "10.77.0.1/30", "dev", "e0"])
        .unwrap();
    bird_ns
        .ip(&["addr", "add", "10.77.0.2/30", "dev", "b0"])
        .unwrap();
    (erdp_ns, bird_ns)
}

/// One direction's outcome.
struct Figure {
    seconds: f64,
    peak_mib: f64,
}

/// BIRD sends the table; erdp learns it. Timed from erdp's Established to
/// the UPDATE that brings erdp's count to the whole table.
fn erdp_receives(erdp_ns: &Netns, bird_ns: &Netns, prefixes: &[IpNet]) -> Figure {
    let bird = Bird::start(bird_ns, &bird_config(prefixes));
    let loaded = Instant::now();
    while bird_route_count(&bird) < prefixes.len() {
        assert!(loaded.elapsed() < PATIENCE, "BIRD did not load the table");
        std::thread::sleep(Duration::from_millis(200));
    }
    let erdp = Erdp::start(erdp_ns, &[]);
    let deadline = Instant::now() + PATIENCE;
    let mut established = None;
    let mut learned = 0usize;
    while learned < prefixes.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = erdp
            .lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("erdp learned {learned} of {}", prefixes.len()));
        if line.starts_with("state Established") {
            established = Some(Instant::now());
        } else if let Some(rest) = line.strip_prefix("update +") {
            let announced = rest.split_whitespace().next().unwrap_or("0");
            learned += announced.parse::<usize>().unwrap_or(0);
        }
    }
    let seconds = established
        .expect("Established first")
        .elapsed()
        .as_secs_f64();
    Figure {
        seconds,
        peak_mib: peak_rss_mib(erdp.process.0.id()),
    }
}

/// erdp sends the table (`--announce-file`); BIRD learns it. Timed from
/// erdp's Established to `birdc show route count` reaching the whole table.
fn bird_receives(erdp_ns: &Netns, bird_ns: &Netns, prefixes: &[IpNet]) -> Figure {
    let file = std::env::temp_dir().join(format!("erdp-bgp-table-{}.txt", std::process::id()));
    let text: String = prefixes.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let bird = Bird::start(bird_ns, &bird_config(&[]));
    let erdp = Erdp::start(
        erdp_ns,
        &["--announce-file", file.to_str().expect("UTF-8 temp path")],
    );
    erdp.wait_line("Established", |l| l.starts_with("state Established"));
    let established = Instant::now();
    loop {
        let count = bird_route_count(&bird);
        if count >= prefixes.len() {
            break;
        }
        assert!(
            established.elapsed() < PATIENCE,
            "BIRD learned {count} of {}",
            prefixes.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = established.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);
    Figure {
        seconds,
        peak_mib: peak_rss_mib(bird.process.0.id()),
    }
}

#[test]
#[ignore = "needs root and bird2, and takes a minute: scripts/bgp-vs-bird.sh"]
fn full_table_erdp_and_bird_each_receiving_from_the_other() {
    assert!(is_root(), "needs root (network namespaces)");
    let prefixes = table();
    let (erdp_ns, bird_ns) = namespaces();
    let erdp = erdp_receives(&erdp_ns, &bird_ns, &prefixes);
    let bird = bird_receives(&erdp_ns, &bird_ns, &prefixes);
    let count = prefixes.len() as f64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "full table, {} IPv4 prefixes over one session (load average {}):\n\
         erdp receiving from BIRD: {:.2} s ({:.0} k prefixes/s), erdp peak RSS {:.0} MiB\n\
         BIRD receiving from erdp: {:.2} s ({:.0} k prefixes/s), BIRD peak RSS {:.0} MiB\n\
         ratio (BIRD's time / erdp's time): {:.2}",
        prefixes.len(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        erdp.seconds,
        count / erdp.seconds / 1e3,
        erdp.peak_mib,
        bird.seconds,
        count / bird.seconds / 1e3,
        bird.peak_mib,
        bird.seconds / erdp.seconds,
    );
}
