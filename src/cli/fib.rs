//! `erdp fib`: longest-prefix match and FIB statistics for a route list file
//! (`PREFIX [NEXTHOP]` a line, `#` comments, gzip accepted).

use std::io::{self, BufRead, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::error::{self, CliError};
use super::stdout::{self, Stdout};
use crate::fib::{Fib, FibWriter, NextHopGroupId, RouteFile, TrieStats};

/// Look up addresses in, or measure, a FIB built from a route file.
#[derive(Debug, Args)]
pub(crate) struct FibArgs {
    #[command(subcommand)]
    command: FibCommand,
}

#[derive(Debug, Subcommand)]
enum FibCommand {
    /// Longest-prefix match: prints `ADDR MATCHED_PREFIX NEXTHOP` per address,
    /// or `ADDR - -` when no prefix matches. NEXTHOP is the file's second
    /// field, `-` when the route had none.
    ///
    /// Example: `erdp fib lookup --routes routes.txt 10.1.2.3 2001:db8::1`,
    /// or `zcat dsts.gz | erdp fib lookup --routes table.txt.gz`.
    Lookup {
        /// Route file: one `PREFIX [NEXTHOP]` a line (a bare CIDR list works;
        /// gzip accepted). A prefix with host bits set is an error.
        #[arg(long, value_name = "FILE")]
        routes: PathBuf,
        /// IPv4 or IPv6 addresses. None: read them from stdin, one a line.
        #[arg(value_name = "ADDR")]
        addrs: Vec<String>,
    },
    /// Prefixes per family, FIB bytes, bytes per prefix, build time and the
    /// trie's shape (nodes and leaf runs per level).
    Stats {
        /// Route file, as for `lookup`.
        #[arg(long, value_name = "FILE")]
        routes: PathBuf,
    },
}

/// Group id of routes without a next hop.
const NO_NEXT_HOP: NextHopGroupId = NextHopGroupId(u32::MAX);

/// A FIB built from a route file, with what is needed to print results.
struct Loaded {
    fib: std::sync::Arc<Fib>,
    next_hops: Vec<String>,
    lines: usize,
    duplicates: usize,
    parse_time: Duration,
    build_time: Duration,
}

fn load(path: &Path) -> Result<Loaded, CliError> {
    let started = Instant::now();
    let file = RouteFile::load(path)?;
    let parse_time = started.elapsed();
    for (first, line, prefix) in file.duplicates.iter().take(5) {
        eprintln!(
            "warning: {}:{line}: {prefix} repeats line {first}; the later line wins",
            path.display()
        );
    }
    if file.duplicates.len() > 5 {
        eprintln!(
            "warning: {}: {} more duplicate prefixes",
            path.display(),
            file.duplicates.len() - 5
        );
    }
    let started = Instant::now();
    let mut writer = FibWriter::new();
    for route in &file.routes {
        let group = route.next_hop.map_or(NO_NEXT_HOP, NextHopGroupId);
        writer
            .insert(route.prefix, group)
            .map_err(|err| CliError::Line {
                file: path.display().to_string(),
                line: u64::from(route.line),
                reason: err.to_string(),
            })?;
    }
    writer.publish();
    let build_time = started.elapsed();
    Ok(Loaded {
        fib: writer.reader().load_full(),
        next_hops: file.next_hops,
        lines: file.routes.len(),
        duplicates: file.duplicates.len(),
        parse_time,
        build_time,
    })
}

/// Runs `erdp fib ...`.
pub(crate) fn run(args: FibArgs) -> ExitCode {
    let result = match args.command {
        FibCommand::Lookup { routes, addrs } => {
            load(&routes).and_then(|loaded| lookup(&loaded, &addrs))
        }
        FibCommand::Stats { routes } => load(&routes).and_then(|loaded| stats(&loaded, &routes)),
    };
    error::exit("fib", result.map(|()| ExitCode::SUCCESS))
}

/// Writes one result line.
fn write_result(out: &mut impl Write, loaded: &Loaded, addr: IpAddr) -> io::Result<()> {
    match loaded.fib.lookup(addr) {
        None => writeln!(out, "{addr} - -"),
        Some(found) => {
            let hop = loaded
                .next_hops
                .get(found.group.0 as usize)
                .map_or("-", String::as_str);
            writeln!(out, "{addr} {} {hop}", found.prefix(addr))
        }
    }
}

fn lookup(loaded: &Loaded, addrs: &[String]) -> Result<(), CliError> {
    let mut out = BufWriter::with_capacity(1 << 16, Stdout);
    let written = if addrs.is_empty() {
        lookup_stdin(loaded, &mut out)
    } else {
        addrs.iter().enumerate().try_for_each(|(i, text)| {
            let addr = parse_addr(text)
                .map_err(|why| CliError::Argument(format!("address argument {}: {why}", i + 1)))?;
            write_result(&mut out, loaded, addr).map_err(output_error)
        })
    };
    let flushed = out.flush().map_err(output_error);
    written.and(flushed)
}

fn lookup_stdin(loaded: &Loaded, out: &mut impl Write) -> Result<(), CliError> {
    let stdin = io::stdin();
    let mut input = io::BufReader::with_capacity(1 << 16, stdin.lock());
    let mut text = String::new();
    let mut line = 0u64;
    loop {
        text.clear();
        let read = input
            .read_line(&mut text)
            .map_err(|source| CliError::Stream {
                stream: "stdin",
                source,
            })?;
        if read == 0 || stdout::closed() {
            return Ok(());
        }
        line += 1;
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let addr = parse_addr(trimmed).map_err(|reason| CliError::Line {
            file: "stdin".into(),
            line,
            reason,
        })?;
        write_result(out, loaded, addr).map_err(output_error)?;
    }
}

fn parse_addr(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("not an IPv4 or IPv6 address: {text:?}"))
}

fn output_error(source: io::Error) -> CliError {
    CliError::Stream {
        stream: "stdout",
        source,
    }
}

fn stats(loaded: &Loaded, path: &Path) -> Result<(), CliError> {
    Stdout
        .write_all(format_stats(loaded, path).as_bytes())
        .map_err(output_error)
}

fn format_stats(loaded: &Loaded, path: &Path) -> String {
    let mut text = format!(
        "routes     {} ({} routes, {} duplicate prefixes, {} next hops)\n\
         parse      {:.1} ms\n\
         build      {:.1} ms (insert and publish)\n",
        path.display(),
        loaded.lines,
        loaded.duplicates,
        loaded.next_hops.len(),
        loaded.parse_time.as_secs_f64() * 1e3,
        loaded.build_time.as_secs_f64() * 1e3,
    );
    for family in loaded.fib.stats() {
        text.push_str(&format_family(&family));
    }
    text
}

fn format_family(stats: &TrieStats) -> String {
    let mut text = format!(
        "{}       {} prefixes, {} bytes ({:.2} bytes/prefix): direct table {}, nodes {}, leaves {}, leaf values {}\n\
         \x20          level  bits  nodes     leaf runs\n",
        stats.family,
        stats.prefixes,
        stats.bytes(),
        stats.bytes_per_prefix(),
        stats.direct_bytes,
        stats.node_bytes,
        stats.leaf_bytes,
        stats.value_bytes,
    );
    for (level, shape) in stats.levels.iter().enumerate() {
        let bits = format!("{}-{}", shape.depth, shape.depth + shape.bits);
        text.push_str(&format!(
            "           {level:<6} {bits:<5} {:<9} {}\n",
            shape.nodes, shape.leaf_runs
        ));
    }
    text
}
