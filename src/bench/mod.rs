//! `erdp bench`: how fast a node forwards a capture on this machine, for
//! each worker count. The capture is loaded into memory and looped through
//! the node, every frame getting its fate as in replay, with nothing
//! written (the sinks only count). Each worker count runs on a fresh node
//! ([`crate::dataplane::run_sharded`]: inputs split by flow, worker 0 on the
//! calling thread), beside two ceilings measured in the same run: copying
//! the frames, and ESP encapsulation alone of the frames that go into a
//! tunnel ([`baseline`]).
//!
//! A looped capture replays its own ESP: inbound ESP frames are decrypted
//! on the first pass and dropped by the anti-replay window (RFC 4303
//! 3.4.3) after that, as a real receiver would; the shares show it.

pub(crate) mod baseline;
mod load;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;
use thiserror::Error;

use crate::capture::CaptureError;
use crate::config::NodeConfig;
use crate::dataplane::{FateTally, Node, NodeError, Outputs, run_sharded, shard};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;

pub(crate) use load::LoadedCapture;

/// Frames per batch given to a worker.
pub(crate) const BATCH_SIZE: usize = 64;
/// Ethernet's preamble, start delimiter and inter-frame gap are not
/// counted: Gbit/s are of frame bytes as captured.
const BITS_PER_BYTE: f64 = 8.0;

/// Why a bench could not run.
#[derive(Debug, Error)]
pub(crate) enum BenchError {
    /// Reading the capture failed.
    #[error("{0}")]
    Capture(#[from] CaptureError),
    /// The node could not be built.
    #[error("{0}")]
    Node(#[from] NodeError),
    /// `--ingress` names no Ethernet interface of the node.
    #[error("--ingress {0:?}: not an Ethernet interface of the node")]
    UnknownIngress(String),
    /// A frame's capture interface names no node interface.
    #[error(
        "frame {0}: its capture interface names no Ethernet interface of the node; give --ingress"
    )]
    NoIngress(u64),
    /// Nothing to loop.
    #[error("the capture has no frame the node can take")]
    Empty,
}

/// How to bench.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// Worker counts to measure, in order.
    pub workers: Vec<usize>,
    /// Time per measurement (each worker count and each ceiling).
    pub time: Duration,
    /// Progress line on stderr (hidden when stderr is not a terminal).
    pub progress: Option<ProgressBar>,
}

/// Shares of the input frames' outcomes, each in 0..=1.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Shares {
    /// Forwarded (plain or encrypted).
    pub forwarded: f64,
    /// Left in ESP (among the forwarded).
    pub encrypted: f64,
    /// Arrived in ESP and decrypted.
    pub decrypted: f64,
    /// Delivered to the node.
    pub delivered: f64,
    /// Dropped.
    pub dropped: f64,
}

impl Shares {
    fn of(t: &FateTally) -> Self {
        let share = |n: u64| {
            if t.packets == 0 {
                0.0
            } else {
                n as f64 / t.packets as f64
            }
        };
        Shares {
            forwarded: share(t.forwarded),
            encrypted: share(t.encrypted),
            decrypted: share(t.decrypted),
            delivered: share(t.delivered),
            dropped: share(t.dropped),
        }
    }
}

/// A rate measured over some time.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Rate {
    /// Packets processed.
    pub packets: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Packets per second.
    pub packets_per_second: f64,
    /// Nanoseconds per packet (wall time over packets: with N workers,
    /// the machine's time per packet, not one worker's).
    pub ns_per_packet: f64,
}

impl Rate {
    fn new(packets: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        Rate {
            packets,
            seconds,
            packets_per_second: if seconds > 0.0 {
                packets as f64 / seconds
            } else {
                0.0
            },
            ns_per_packet: if packets > 0 {
                seconds * 1e9 / packets as f64
            } else {
                0.0
            },
        }
    }
}

/// One worker count's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WorkerRun {
    /// Worker threads (worker 0 on the calling thread).
    pub workers: usize,
    /// The rate over all workers.
    #[serde(flatten)]
    pub rate: Rate,
    /// Gbit/s of input frames.
    pub gbit_per_second: f64,
    /// Packets per second relative to the first worker count measured.
    pub speedup: f64,
    /// Shares of the outcomes.
    pub shares: Shares,
    /// The counts behind them, summed over workers.
    pub counts: FateTally,
    /// Frames each worker processed (how even the flows split).
    pub per_worker: Vec<u64>,
    /// The node's own input counter agrees with `counts.packets`, and
    /// every input has one outcome.
    pub conserved: bool,
    /// CPU seconds the process used during the run over its wall time
    /// (Linux `/proc/self/stat`; absent elsewhere): below the worker
    /// count, the scheduler did not give the run its cores (a shared
    /// machine), and `speedup` says more about the machine than the node.
    pub cpu_busy: Option<f64>,
    /// Packets per CPU-second: flat across worker counts when the workers
    /// do not slow each other down.
    pub packets_per_cpu_second: Option<f64>,
}

/// CPU time of this process so far (user + system), from
/// `/proc/self/stat` (fields 14 and 15, in USER_HZ = 100 ticks per second
/// on Linux), or `None` where that file does not exist.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count after its ')'.
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// A ceiling and how the node compares with it.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Ceiling {
    /// Frames it covered (all, or those going into a tunnel).
    pub frames: usize,
    /// Its rate, on one thread.
    #[serde(flatten)]
    pub rate: Rate,
    /// The first worker count's packets/s over this rate.
    pub node_ratio: f64,
}

/// Everything `erdp bench` measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BenchReport {
    /// The capture.
    pub input: PathBuf,
    /// Frames looped.
    pub frames: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Frames of the capture left out.
    pub skipped_frames: u64,
    /// Frames per batch.
    pub batch_size: usize,
    /// Cores the machine offers.
    pub cores: usize,
    /// One entry per worker count.
    pub runs: Vec<WorkerRun>,
    /// Copying the frames: the memory ceiling.
    pub copy_ceiling: Ceiling,
    /// ESP encapsulation alone of the tunnel-bound frames: the crypto
    /// ceiling (absent when no frame goes into a tunnel).
    pub esp_ceiling: Option<Ceiling>,
}

/// The machine's cores (1 when unknown).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Loads `input` and measures `config`'s node on it.
pub(crate) fn bench(
    config: &NodeConfig,
    input: &std::path::Path,
    ingress: Option<&str>,
    options: &BenchOptions,
) -> Result<BenchReport, BenchError> {
    let probe = Node::new(config.clone())?;
    let capture = LoadedCapture::load(input, &probe, ingress)?;
    let tunnel_frames = tunnel_bound(Arc::new(probe), &capture);
    let mut runs: Vec<WorkerRun> = Vec::new();
    for &workers in &options.workers {
        let node = Arc::new(Node::new(config.clone())?);
        let run = measure(&node, &capture, workers, options);
        runs.push(run);
    }
    let first_rate = runs.first().map_or(0.0, |r| r.rate.packets_per_second);
    for run in &mut runs {
        run.speedup = ratio(run.rate.packets_per_second, first_rate);
    }
    if let Some(bar) = &options.progress {
        bar.set_message("ceilings: copying the frames, ESP encapsulation alone");
    }
    let all: Vec<&[u8]> = capture.frames.iter().map(|(_, f)| f.as_slice()).collect();
    let (copied, elapsed) = baseline::copy_rate(&all, options.time);
    let copy = Rate::new(copied, elapsed);
    let copy_ceiling = Ceiling {
        frames: all.len(),
        rate: copy,
        node_ratio: ratio(first_rate, copy.packets_per_second),
    };
    let esp_ceiling =
        baseline::esp_encap_rate(config, &tunnel_frames, options.time).map(|(n, elapsed)| {
            let rate = Rate::new(n, elapsed);
            Ceiling {
                frames: tunnel_frames.len(),
                rate,
                node_ratio: ratio(first_rate, rate.packets_per_second),
            }
        });
    Ok(BenchReport {
        input: input.to_path_buf(),
        frames: capture.frames.len(),
        bytes: capture.bytes(),
        skipped_frames: capture.skipped,
        batch_size: BATCH_SIZE,
        cores: cores(),
        runs,
        copy_ceiling,
        esp_ceiling,
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// One worker count on a fresh node.
fn measure(
    node: &Arc<Node>,
    capture: &LoadedCapture,
    workers: usize,
    options: &BenchOptions,
) -> WorkerRun {
    let shards = shard(node, capture.shard_frames(), workers);
    let time = options.time;
    let cpu_start = process_cpu_seconds();
    let start = Instant::now();
    let mut last_draw = start;
    let tallies = run_sharded(node, &shards, BATCH_SIZE, |done| {
        let now = Instant::now();
        if let Some(bar) = &options.progress
            && now.duration_since(last_draw) >= Duration::from_millis(200)
        {
            last_draw = now;
            let elapsed = now.duration_since(start).as_secs_f64();
            bar.set_message(format!(
                "{workers} worker(s): {elapsed:.1}/{:.1} s, worker 0 at {:.2} Mpps",
                time.as_secs_f64(),
                done as f64 / elapsed.max(1e-9) / 1e6,
            ));
        }
        now.duration_since(start) < time
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu_seconds()
        .zip(cpu_start)
        .map(|(end, begin)| end - begin)
        .filter(|cpu| *cpu > 0.0);
    let counts = tallies
        .iter()
        .fold(FateTally::default(), |sum, t| sum.plus(*t));
    let rate = Rate::new(counts.packets, elapsed);
    let node_counted = node.counters().input.packets;
    WorkerRun {
        workers,
        rate,
        gbit_per_second: counts.bytes as f64 * BITS_PER_BYTE
            / elapsed.as_secs_f64().max(1e-9)
            / 1e9,
        speedup: 1.0,
        shares: Shares::of(&counts),
        counts,
        per_worker: tallies.iter().map(|t| t.packets).collect(),
        conserved: counts.is_conserved() && node_counted == counts.packets,
        cpu_busy: cpu.map(|cpu| cpu / elapsed.as_secs_f64().max(1e-9)),
        packets_per_cpu_second: cpu.map(|cpu| counts.packets as f64 / cpu),
    }
}

/// The frames the node sends into a tunnel (one pass on `node`), each with
/// that tunnel.
fn tunnel_bound(node: Arc<Node>, capture: &LoadedCapture) -> Vec<(InterfaceId, &[u8])> {
    let mut worker = node.worker();
    let mut out = Vec::new();
    let mut outputs = Outputs::with_capacity(1);
    let mut buf = [PacketBuf::new()];
    for (ingress, frame) in &capture.frames {
        let [b] = &mut buf;
        if b.load(frame, PacketBuf::DEFAULT_HEADROOM).is_err() {
            continue;
        }
        worker.process(*ingress, &mut buf, &mut outputs);
        if let Some(fate) = outputs.fates().first()
            && let (Some(sa), Some(_)) = (fate.encrypted, fate.egress())
        {
            out.push((sa.tunnel, frame.as_slice()));
        }
    }
    out
}
