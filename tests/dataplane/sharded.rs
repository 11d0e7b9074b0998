//! `run_sharded` (`erdp bench`'s workers: inputs split by flow, each worker
//! looping over its own on its own thread) with two workers on one node:
//! the outbound SA both workers share hands out every sequence number
//! exactly once, in each flow's order (RFC 4303 3.3.3: a sender never
//! reuses a sequence number within an SA), and the receiving SA, offered
//! every packet by both workers at once, accepts each sequence number
//! exactly once and drops the copies as replays (RFC 4303 3.4.3).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use erdp::dataplane::{
    DropReason, Fate, Node, Outcome, Outputs, ShardFrame, run_sharded_observed, shard,
};
use erdp::esp::EspDrop;
use erdp::packet::PacketBuf;

use crate::support::dataplane::{node_from_toml, sample_text};
use crate::workers::{AZURE, ONPREM, vnet_frame};

const FRAMES: usize = 1200;
const FLOWS: usize = 40;
const WORKERS: usize = 2;
/// Full passes each worker makes over its input at least.
const PASSES: u64 = 2;
const BATCH: usize = 16;

/// A sample config without extended sequence numbers, so a late copy is
/// a replay (with ESN, one below the window reads as the next 2^32 cycle
/// and fails its ICV instead: RFC 4303 Appendix A2.1).
fn node(name: &str) -> Arc<Node> {
    node_from_toml(&sample_text(name).replace("esn = true", "esn = false"))
}

/// What each worker saw: per batch, each frame (as the node left it) and
/// its fate, kept by `observe` below.
type Seen = [Mutex<Vec<(Vec<u8>, Fate)>>; WORKERS];

/// Runs `shards` on the node with two workers until each has made at least
/// `PASSES` passes over its input; returns what each saw.
fn run(node: &Arc<Node>, shards: &[Vec<ShardFrame<'_>>]) -> Seen {
    let seen: Seen = Default::default();
    let others_done = AtomicU64::new(0);
    let observe = |worker: usize, frames: &[PacketBuf], outputs: &Outputs| {
        let mut kept = seen[worker].lock().unwrap();
        for (frame, fate) in frames.iter().zip(outputs.fates()) {
            kept.push((frame.as_slice().to_vec(), *fate));
        }
        if worker == 1 {
            others_done.fetch_add(frames.len() as u64, Ordering::Relaxed);
        }
    };
    let needed = |worker: usize| PASSES * shards[worker].len() as u64;
    let keep_going = |done: u64| {
        let more = done < needed(0) || others_done.load(Ordering::Relaxed) < needed(1);
        if done >= needed(0) {
            // Worker 0 is done: let worker 1 have the core.
            std::thread::yield_now();
        }
        more
    };
    let tallies = run_sharded_observed(node, shards, BATCH, keep_going, &observe);
    for (worker, tally) in tallies.iter().enumerate() {
        let kept = seen[worker].lock().unwrap().len() as u64;
        assert_eq!(tally.packets, kept, "worker {worker} tallied what it saw");
        assert!(tally.packets >= needed(worker), "worker {worker} ran");
        assert!(tally.is_conserved());
    }
    let counters = node.counters();
    let total: u64 = tallies.iter().map(|t| t.packets).sum();
    assert_eq!(counters.input.packets, total);
    assert!(counters.input.is_conserved());
    seen
}

#[test]
fn two_sharded_workers_never_reuse_a_sequence_number_and_the_receiver_accepts_each_once() {
    let onprem = node(ONPREM);
    let lan = onprem.interface_id("lan").unwrap();
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| vnet_frame(i, FLOWS)).collect();
    let shards = shard(
        &onprem,
        frames.iter().map(|bytes| ShardFrame {
            ingress: lan,
            bytes,
        }),
        WORKERS,
    );
    assert!(
        shards.iter().all(|s| !s.is_empty()),
        "both workers get flows"
    );
    let seen = run(&onprem, &shards);

    // Every packet left encrypted; together the workers used 1..=N, each once.
    let mut by_seq: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut flow_worker: HashMap<u16, usize> = HashMap::new();
    for (worker, kept) in seen.iter().enumerate() {
        let mut last_in_flow: HashMap<u16, u64> = HashMap::new();
        for (frame, fate) in kept.lock().unwrap().iter() {
            let sa = fate.encrypted.expect("left in ESP");
            assert!(fate.egress().is_some(), "{fate:?}");
            let port = fate.flow.expect("a flow").source_port;
            assert_eq!(
                *flow_worker.entry(port).or_insert(worker),
                worker,
                "flow on one worker"
            );
            let last = last_in_flow.insert(port, sa.seq).unwrap_or(0);
            assert!(sa.seq > last, "flow {port}: {} after {last}", sa.seq);
            assert!(
                by_seq.insert(sa.seq, frame.clone()).is_none(),
                "{} twice",
                sa.seq
            );
        }
    }
    let sent = by_seq.len() as u64;
    assert_eq!(
        by_seq.keys().copied().collect::<Vec<_>>(),
        (1..=sent).collect::<Vec<_>>()
    );
    assert_eq!(onprem.sa_stats()[0].1.packets, sent);

    // The gateway's two workers are each offered every packet, in
    // sequence order, over and over: each is accepted once, the copies
    // dropped as replays.
    let azure = node(AZURE);
    let er = azure.interface_id("er").unwrap();
    let all: Vec<ShardFrame<'_>> = by_seq
        .values()
        .map(|bytes| ShardFrame { ingress: er, bytes })
        .collect();
    let seen = run(&azure, &[all.clone(), all]);
    let mut accepted: BTreeMap<u64, usize> = BTreeMap::new();
    let mut dropped: HashMap<DropReason, u64> = HashMap::new();
    for kept in &seen {
        for (_, fate) in kept.lock().unwrap().iter() {
            match fate.outcome {
                Outcome::Forwarded(_) => {
                    *accepted
                        .entry(fate.decrypted.expect("decrypted").seq)
                        .or_default() += 1;
                }
                Outcome::Dropped(reason) => *dropped.entry(reason).or_default() += 1,
                Outcome::Delivered(kind) => panic!("delivered {kind:?}"),
            }
        }
    }
    assert_eq!(accepted.len() as u64, sent, "every packet accepted");
    assert!(accepted.values().all(|n| *n == 1), "never twice");
    let replays = [EspDrop::Replayed, EspDrop::OutsideWindow];
    assert!(
        dropped
            .keys()
            .all(|r| replays.iter().any(|e| *r == DropReason::Esp(*e))),
        "only replays dropped: {dropped:?}"
    );
    assert!(
        dropped.values().sum::<u64>() >= sent,
        "each worker's copies dropped"
    );
}
