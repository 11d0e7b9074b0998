//! [`run_sharded`]: N workers forwarding at full speed, the design that
//! scales across cores. Every worker owns its input (frames assigned to it
//! by flow beforehand, as a NIC's receive-side scaling assigns them to
//! queues), loops it to completion on its own thread with its own buffers
//! and counters, and worker 0 runs on the caller's thread. Nothing is
//! written by two threads per packet except what the traffic itself shares
//! (an SA's send state when flows of one tunnel sit on several workers);
//! per-worker tallies are merged once, at the end.
//!
//! [`super::WorkerPool`] by contrast is a pipeline for a single ordered
//! input (a capture read from disk): one thread reads and dispatches, the
//! workers process, results come back over a channel to be put in order.
//! On 2 cores the feeding thread competes with both workers and every
//! batch crosses two channels, which is why that pool was slower than one
//! worker for small packets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::fate::{Fate, Outcome};
use super::node::Node;
use super::outputs::Outputs;
use super::pool::FlowAffinity;
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;

/// One input frame: the interface it arrives on and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct ShardFrame<'f> {
    /// The ingress interface.
    pub ingress: InterfaceId,
    /// The Ethernet frame.
    pub bytes: &'f [u8],
}

/// What one worker (or a whole run) did with its frames. For inputs,
/// `packets == forwarded + delivered + dropped`; `encrypted` and
/// `decrypted` are frames among those (a frame decrypted then encrypted
/// again counts in both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FateTally {
    /// Input frames processed.
    pub packets: u64,
    /// Their bytes as they arrived.
    pub bytes: u64,
    /// Forwarded on an interface (plain or encrypted).
    pub forwarded: u64,
    /// Delivered to the node itself.
    pub delivered: u64,
    /// Dropped, any reason.
    pub dropped: u64,
    /// Left in ESP.
    pub encrypted: u64,
    /// Arrived in ESP and were decapsulated.
    pub decrypted: u64,
    /// Packets the node generated (replies, ICMP errors).
    pub generated: u64,
}

impl FateTally {
    /// Counts one input frame of `len` bytes.
    #[inline]
    pub fn count(&mut self, fate: &Fate, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
        match fate.outcome {
            Outcome::Forwarded(_) => self.forwarded += 1,
            Outcome::Delivered(_) => self.delivered += 1,
            Outcome::Dropped(_) => self.dropped += 1,
        }
        if fate.encrypted.is_some() && fate.egress().is_some() {
            self.encrypted += 1;
        }
        if fate.decrypted.is_some() {
            self.decrypted += 1;
        }
    }

    /// The sum of two tallies.
    pub fn plus(self, other: FateTally) -> FateTally {
        FateTally {
            packets: self.packets + other.packets,
            bytes: self.bytes + other.bytes,
            forwarded: self.forwarded + other.forwarded,
            delivered: self.delivered + other.delivered,
            dropped: self.dropped + other.dropped,
            encrypted: self.encrypted + other.encrypted,
            decrypted: self.decrypted + other.decrypted,
            generated: self.generated + other.generated,
        }
    }

    /// Every input has exactly one outcome.
    pub fn is_conserved(&self) -> bool {
        self.packets == self.forwarded + self.delivered + self.dropped
    }
}

/// Splits `frames` into `workers` inputs by flow (the pool's own affinity,
/// so a flow, and thus each flow's share of an SA's sequence numbers, stays
/// on one worker), keeping each input's frames in capture order.
pub fn shard<'f>(
    node: &Node,
    frames: impl IntoIterator<Item = ShardFrame<'f>>,
    workers: usize,
) -> Vec<Vec<ShardFrame<'f>>> {
    let affinity = FlowAffinity::new(node, workers);
    let mut shards: Vec<Vec<ShardFrame<'f>>> = vec![Vec::new(); affinity.workers()];
    for frame in frames {
        if let Some(shard) = shards.get_mut(affinity.worker_for(frame.bytes)) {
            shard.push(frame);
        }
    }
    shards
}

/// Runs every shard on its own worker, looping over it until `keep_going`
/// (called on the caller's thread, worker 0, after each of its batches
/// with the frames it has processed so far) returns false; then every
/// worker stops after its current batch. Returns each worker's tally. A
/// worker with an empty shard does nothing.
pub fn run_sharded(
    node: &Arc<Node>,
    shards: &[Vec<ShardFrame<'_>>],
    batch_size: usize,
    keep_going: impl FnMut(u64) -> bool,
) -> Vec<FateTally> {
    run_sharded_observed(node, shards, batch_size, keep_going, &|_, _, _| {})
}

/// [`run_sharded`], showing `observe` every batch after the node
/// processed it: the worker's index (its shard), the frames as the node
/// left them and their results. `observe` runs on the workers' threads;
/// what it costs slows them.
pub fn run_sharded_observed<O>(
    node: &Arc<Node>,
    shards: &[Vec<ShardFrame<'_>>],
    batch_size: usize,
    mut keep_going: impl FnMut(u64) -> bool,
    observe: &O,
) -> Vec<FateTally>
where
    O: Fn(usize, &[PacketBuf], &Outputs) + Sync,
{
    let stop = AtomicBool::new(false);
    let batch_size = batch_size.max(1);
    std::thread::scope(|scope| {
        let others: Vec<_> = shards
            .iter()
            .enumerate()
            .skip(1)
            .map(|(index, input)| {
                let (node, stop) = (Arc::clone(node), &stop);
                let shard = Shard {
                    index,
                    input,
                    batch_size,
                };
                scope.spawn(move || {
                    loop_shard(&node, shard, |_| !stop.load(Ordering::Relaxed), observe)
                })
            })
            .collect();
        let first = match shards.first() {
            Some(input) => {
                let shard = Shard {
                    index: 0,
                    input,
                    batch_size,
                };
                loop_shard(node, shard, &mut keep_going, observe)
            }
            None => FateTally::default(),
        };
        stop.store(true, Ordering::Relaxed);
        let mut tallies = vec![first];
        // A worker that panicked (a bug) contributes nothing.
        tallies.extend(others.into_iter().map(|h| h.join().unwrap_or_default()));
        tallies
    })
}

/// One worker's input.
#[derive(Clone, Copy)]
struct Shard<'s, 'f> {
    index: usize,
    input: &'s [ShardFrame<'f>],
    batch_size: usize,
}

/// One worker: batches of one ingress from its input, over and over.
fn loop_shard<O>(
    node: &Arc<Node>,
    shard: Shard<'_, '_>,
    mut keep_going: impl FnMut(u64) -> bool,
    observe: &O,
) -> FateTally
where
    O: Fn(usize, &[PacketBuf], &Outputs),
{
    let Shard {
        index,
        input,
        batch_size,
    } = shard;
    let mut tally = FateTally::default();
    if input.is_empty() {
        // Still report progress, so the caller's clock decides the end.
        while keep_going(0) {
            std::thread::yield_now();
        }
        return tally;
    }
    let mut worker = node.worker();
    let mut buffers: Vec<PacketBuf> = (0..batch_size).map(|_| PacketBuf::new()).collect();
    let mut lengths = vec![0usize; batch_size];
    let mut outputs = Outputs::with_capacity(batch_size);
    let mut at = 0usize;
    loop {
        let ingress = input.get(at).map_or(InterfaceId(0), |f| f.ingress);
        let mut filled = 0;
        while filled < batch_size {
            let Some(frame) = input.get(at).filter(|f| f.ingress == ingress) else {
                break;
            };
            if let (Some(buf), Some(len)) = (buffers.get_mut(filled), lengths.get_mut(filled))
                && buf.load(frame.bytes, PacketBuf::DEFAULT_HEADROOM).is_ok()
            {
                *len = frame.bytes.len();
                filled += 1;
            }
            at += 1;
            if at == input.len() {
                at = 0;
                break;
            }
        }
        let Some(batch) = buffers.get_mut(..filled) else {
            break;
        };
        worker.process(ingress, batch, &mut outputs);
        observe(index, batch, &outputs);
        for (fate, len) in outputs.fates().iter().zip(&lengths) {
            tally.count(fate, *len);
        }
        tally.generated += outputs.generated_len() as u64;
        if !keep_going(tally.packets) {
            return tally;
        }
    }
    tally
}
