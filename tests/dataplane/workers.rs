//! Several workers on one node: an outbound SA shared by workers hands out
//! every sequence number exactly once, in each flow's order; an inbound SA
//! hit by several threads with duplicated packets accepts each sequence
//! number exactly once; the pool keeps flows on one worker, returns every
//! frame with its index and the counters add up.

use crate::support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use erdp::dataplane::{DropReason, Node, Outcome, Outputs, WorkerPool};
use erdp::esp::EspDrop;
use erdp::packet::PacketBuf;
use support::dataplane::*;

pub(crate) const ONPREM: &str = "design1-onprem-edge.toml";
pub(crate) const AZURE: &str = "design1-azure-gateway.toml";

fn node(name: &str) -> Arc<Node> {
    Arc::new(Node::new(sample_config(name)).unwrap())
}

/// Frame `i` of a mix of `flows` UDP flows from the on-premises host to
/// the VNet (encrypted by the edge).
pub(crate) fn vnet_frame(i: usize, flows: usize) -> Vec<u8> {
    let port = 20000 + (i % flows) as u16;
    udp4_ports(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.1.0.10",
        64,
        port,
        443,
        64,
    )
}

fn loader(
    frames: &[Vec<u8>],
    ingress: erdp::fib::InterfaceId,
) -> impl FnMut(&mut PacketBuf) -> Option<erdp::fib::InterfaceId> + '_ {
    let mut next = 0;
    move |buf: &mut PacketBuf| {
        let frame = frames.get(next)?;
        next += 1;
        buf.load(frame, PacketBuf::DEFAULT_HEADROOM).ok()?;
        Some(ingress)
    }
}

#[test]
fn workers_sharing_an_outbound_sa_use_each_sequence_number_once_in_flow_order() {
    const FRAMES: usize = 3000;
    const FLOWS: usize = 40;
    let onprem = node(ONPREM);
    let lan = onprem.interface_id("lan").unwrap();
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| vnet_frame(i, FLOWS)).collect();
    let mut pool = WorkerPool::new(Arc::clone(&onprem), 2, 16).unwrap();
    let mut sealed = Vec::with_capacity(FRAMES);
    let mut seqs = Vec::with_capacity(FRAMES);
    let processed = pool
        .run_ordered(loader(&frames, lan), |ordered| {
            assert_eq!(
                ordered.index as usize,
                sealed.len(),
                "results in input order"
            );
            let sa = ordered.fate.encrypted.expect("encrypted");
            seqs.push(sa.seq);
            sealed.push(ordered.frame.as_slice().to_vec());
        })
        .unwrap();
    assert_eq!(processed, FRAMES as u64);
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), FRAMES, "no sequence number twice");
    assert_eq!(unique, (1..=FRAMES as u64).collect(), "none skipped");
    for flow in 0..FLOWS {
        let flow_seqs: Vec<u64> = seqs.iter().skip(flow).step_by(FLOWS).copied().collect();
        assert!(
            flow_seqs.windows(2).all(|w| w[0] < w[1]),
            "flow {flow} in order"
        );
    }
    let counters = onprem.counters();
    assert_eq!(counters.input.packets, FRAMES as u64);
    assert_eq!(counters.input.forwarded, FRAMES as u64);
    assert!(counters.input.is_conserved());
    assert_eq!(onprem.sa_stats()[0].1.packets, FRAMES as u64);

    // Azure accepts every one of them, once.
    let azure = node(AZURE);
    let er = azure.interface_id("er").unwrap();
    let mut pool = WorkerPool::new(Arc::clone(&azure), 2, 16).unwrap();
    let mut forwarded = 0;
    pool.run_ordered(loader(&sealed, er), |ordered| {
        assert!(ordered.fate.decrypted.is_some(), "{:?}", ordered.fate);
        forwarded += usize::from(ordered.fate.egress().is_some());
    })
    .unwrap();
    assert_eq!(forwarded, FRAMES);
}

/// Both edges' configs, with or without ESN.
fn pair(esn: bool) -> (Harness, Arc<Node>) {
    let flip = |text: String| {
        if esn {
            text
        } else {
            text.replace("esn = true", "esn = false")
        }
    };
    let onprem = Harness::toml(&flip(sample_text(ONPREM)));
    let azure = node_from_toml(&flip(sample_text(AZURE)));
    (onprem, azure)
}

#[test]
fn an_inbound_sa_hit_by_several_threads_accepts_each_packet_exactly_once() {
    // Without ESN a late duplicate is a replay or outside the window. With
    // ESN, a sequence number below the window reads as the next 2^32 cycle
    // (RFC 4303 Appendix A2.1), so a very late duplicate fails its ICV.
    several_threads_on_one_inbound_sa(false, &[EspDrop::Replayed, EspDrop::OutsideWindow]);
    several_threads_on_one_inbound_sa(
        true,
        &[
            EspDrop::Replayed,
            EspDrop::OutsideWindow,
            EspDrop::IcvFailed,
        ],
    );
}

fn several_threads_on_one_inbound_sa(esn: bool, late: &[EspDrop]) {
    const FRAMES: usize = 2000;
    const THREADS: usize = 4;
    let (mut onprem, azure) = pair(esn);
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| vnet_frame(i, 7)).collect();
    let sealed: Vec<Vec<u8>> = frames
        .chunks(64)
        .flat_map(|chunk| onprem.run("lan", chunk).frames)
        .collect();
    let er = azure.interface_id("er").unwrap();
    // Every thread offers every packet, in order, in batches: each packet
    // arrives THREADS times, concurrently.
    let results: Vec<Vec<(u64, Outcome)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let azure = Arc::clone(&azure);
                let sealed = &sealed;
                scope.spawn(move || {
                    let mut worker = azure.worker();
                    let mut out = Outputs::with_capacity(32);
                    let mut bufs: Vec<PacketBuf> = (0..32).map(|_| PacketBuf::new()).collect();
                    let mut seen = Vec::new();
                    for (c, chunk) in sealed.chunks(32).enumerate() {
                        let bufs = &mut bufs[..chunk.len()];
                        for (buf, frame) in bufs.iter_mut().zip(chunk) {
                            buf.load(frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
                        }
                        worker.process(er, bufs, &mut out);
                        for (k, fate) in out.fates().iter().enumerate() {
                            let seq = (c * 32 + k + 1) as u64;
                            seen.push((seq, fate.outcome));
                        }
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut accepted: BTreeMap<u64, usize> = BTreeMap::new();
    let mut rejected: HashMap<DropReason, usize> = HashMap::new();
    for (seq, outcome) in results.iter().flatten() {
        match outcome {
            Outcome::Forwarded(_) => *accepted.entry(*seq).or_default() += 1,
            Outcome::Dropped(reason) => *rejected.entry(*reason).or_default() += 1,
            Outcome::Delivered(kind) => panic!("delivered {kind:?}"),
        }
    }
    assert_eq!(accepted.len(), FRAMES, "every packet accepted");
    assert!(accepted.values().all(|n| *n == 1), "never twice");
    let replay_drops: usize = late
        .iter()
        .map(|r| rejected.get(&DropReason::Esp(*r)).copied().unwrap_or(0))
        .sum();
    assert_eq!(replay_drops, FRAMES * (THREADS - 1), "{rejected:?}");
    assert_eq!(
        rejected.values().sum::<usize>(),
        replay_drops,
        "{rejected:?}"
    );
    let counters = azure.counters();
    assert_eq!(counters.input.packets, (FRAMES * THREADS) as u64);
    assert!(counters.input.is_conserved());
    assert_eq!(counters.input.forwarded, FRAMES as u64);
}

#[test]
fn the_pool_keeps_each_flow_on_one_worker_and_returns_generated_packets() {
    let onprem = node(ONPREM);
    let lan = onprem.interface_id("lan").unwrap();
    let mut pool = WorkerPool::new(Arc::clone(&onprem), 3, 8).unwrap();
    assert_eq!(pool.workers(), 3);
    let mut flows_to_worker: HashMap<u16, usize> = HashMap::new();
    let mut frames_seen = 0;
    let mut generated = Vec::new();
    let mut workers_used = HashSet::new();
    for round in 0..5u64 {
        for flow in 0..30u16 {
            let index = round * 30 + u64::from(flow);
            // Every 10th flow has TTL 1: an ICMP error is generated.
            let ttl = if flow % 10 == 0 { 1 } else { 64 };
            let frame = udp4_ports(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "10.0.1.10",
                "10.100.255.9",
                ttl,
                30000 + flow,
                53,
                16,
            );
            let mut buf = pool.buffer();
            buf.load(&frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
            pool.submit(lan, index, buf).unwrap();
        }
    }
    pool.flush().unwrap();
    while let Some(completed) = pool.recv().unwrap() {
        assert_eq!(completed.ingress(), lan);
        workers_used.insert(completed.worker());
        for processed in completed.iter() {
            frames_seen += 1;
            let flow = processed.fate.flow.unwrap().source_port;
            let worker = *flows_to_worker.entry(flow).or_insert(completed.worker());
            assert_eq!(
                worker,
                completed.worker(),
                "flow {flow} moved between workers"
            );
        }
        for (cause, frame, fate) in completed.generated() {
            assert_eq!(cause % 30 % 10, 0, "caused by a TTL 1 frame");
            assert_eq!(fate.outcome, Outcome::Forwarded(lan));
            generated.push(frame.len());
        }
        pool.recycle(completed);
    }
    assert_eq!(frames_seen, 150);
    assert_eq!(generated.len(), 15);
    assert!(workers_used.len() >= 2, "{workers_used:?}");
    assert_eq!(pool.in_flight(), 0);
    let counters = onprem.counters();
    assert_eq!(counters.input.packets, 150);
    assert_eq!(counters.generated.packets, 15);
    assert!(counters.input.is_conserved() && counters.generated.is_conserved());
    assert_eq!(
        counters
            .input
            .dropped_of(DropReason::Wire(erdp::wire::WireDrop::TtlExpired)),
        15
    );
}

#[test]
fn run_ordered_handles_mixed_ingress_and_empty_input() {
    let onprem = node(ONPREM);
    let lan = onprem.interface_id("lan").unwrap();
    let er = onprem.interface_id("er").unwrap();
    let mut pool = WorkerPool::new(Arc::clone(&onprem), 2, 4).unwrap();
    assert_eq!(
        pool.run_ordered(|_| None, |_| panic!("no frames")).unwrap(),
        0
    );
    let frames: Vec<(erdp::fib::InterfaceId, Vec<u8>)> = (0..101)
        .map(|i| {
            if i % 3 == 0 {
                (
                    er,
                    udp4(
                        ONPREM_ER_MAC,
                        AZURE_ER_MAC,
                        "10.1.0.10",
                        "10.0.1.10",
                        64,
                        10,
                    ),
                )
            } else {
                (lan, arp_request(ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1"))
            }
        })
        .collect();
    let mut next = 0;
    let mut got = Vec::new();
    let processed = pool
        .run_ordered(
            |buf| {
                let (ingress, frame) = frames.get(next)?;
                next += 1;
                buf.load(frame, PacketBuf::DEFAULT_HEADROOM).ok()?;
                Some(*ingress)
            },
            |ordered| {
                got.push((
                    ordered.index,
                    ordered.ingress,
                    ordered.fate.outcome,
                    ordered.generated.is_some(),
                ))
            },
        )
        .unwrap();
    assert_eq!(processed, 101);
    for (i, (index, ingress, outcome, generated)) in got.iter().enumerate() {
        assert_eq!(*index, i as u64);
        if i % 3 == 0 {
            assert_eq!(*ingress, er);
            assert_eq!(*outcome, Outcome::Forwarded(lan));
            assert!(!generated);
        } else {
            assert_eq!(*ingress, lan);
            assert!(matches!(outcome, Outcome::Delivered(_)));
            assert!(generated, "the ARP reply comes with its request");
        }
    }
}

/// A dropped worker's counts stay in the node's counters (folded into the
/// retired slot), exactly as they were, and later workers add to them.
#[test]
fn dropped_workers_keep_their_counts() {
    let node = node(ONPREM);
    let lan = node.interface_id("lan").unwrap();
    let frames: Vec<Vec<u8>> = (0..40).map(|i| vnet_frame(i, 7)).collect();
    let run = |node: &Arc<Node>| {
        let mut harness = Harness::new(Arc::clone(node));
        // What earlier (dropped) workers counted stays in the node's input.
        harness.inputs = node.counters().input.packets;
        harness.run("lan", &frames);
        let live = node.counters();
        drop(harness); // and its worker
        live
    };
    let first = run(&node);
    assert_eq!(first.input.packets, 40);
    assert_eq!(
        node.counters(),
        first,
        "dropping the worker keeps its counts"
    );
    let second = run(&node);
    assert_eq!(node.counters(), second);
    assert_eq!(second.input.packets, 80);
    assert!(second.input.is_conserved());
    let lan_rx = &second.interfaces[lan.0 as usize].rx;
    assert_eq!(lan_rx.packets, 80);
    assert_eq!(
        lan_rx.bytes,
        2 * frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
    assert_eq!(
        second
            .interfaces
            .iter()
            .map(|i| i.encrypted.packets)
            .sum::<u64>(),
        2 * first
            .interfaces
            .iter()
            .map(|i| i.encrypted.packets)
            .sum::<u64>()
    );
}
