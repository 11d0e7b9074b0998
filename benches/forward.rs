//! Packets per second through the forwarding node (issue 4), beside
//! baselines measured in the same run:
//! - `forward/<size>`: 64 B and 1400 B frames (UDP/IPv4, 256 flows), the
//!   plain path (design 2's shared services over ExpressRoute) and the ESP
//!   path (design 1's VNet through the tunnel), with 1 worker on this thread
//!   (plain also with the batch's routes looked up one by one, the
//!   worker's path before it used the FIB's batch lookup)
//!   and with the 2-thread worker pool; baselines: copying the frames alone
//!   (every node run starts with that copy, since the node rewrites in
//!   place) and ESP encap alone (`OutboundSa::encapsulate` on the same inner
//!   packets, also reloaded each time).
//! - `replay/<size>`: `erdp replay`'s engine on an in-memory pcap (written
//!   through 256 KiB buffers, as `erdp replay` writes its files, to
//!   `io::sink`; reports on) against the node alone on the same frames
//!   (`node_only_1w`: frames preloaded in memory, copied into the node's
//!   buffers and processed in batches of 64, fates counted, nothing
//!   written: what `erdp bench` times with one worker; issue 19 asks replay
//!   for >= 80 % of it), against the same engine with its outputs off
//!   (`replay_no_outputs_1w`: the capture read and fates ordered, no pcap
//!   written, no flow table) and against reading and writing the same pcap
//!   with no forwarding.
//!
//! Node configurations come from pcaps/corpus/ (the crate's own files).

use std::hint::black_box;
use std::io::{BufWriter, Cursor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use erdp::capture::{CaptureReader, LinkType, PcapFileWriter};
use erdp::config::{InterfaceKind, NodeConfig};
use erdp::dataplane::{Node, Outputs, WorkerPool};
use erdp::esp::{OutboundSa, TunnelEndpoints};
use erdp::packet::PacketBuf;
use erdp::replay::{ReplayOptions, Sink, replay};
use etherparse::PacketBuilder;

const SIZES: [usize; 2] = [64, 1400];
const BATCH: usize = 64;
const FLOWS: u16 = 256;
/// Frames per iteration of the worker-pool benchmarks.
const POOL_STREAM: usize = 2048;
/// Frames in the pcap of the replay benchmark.
const REPLAY_FRAMES: usize = 8192;
const ONPREM_LAN: [u8; 6] = [2, 0, 0, 0, 1, 1];
const ONPREM_HOST: [u8; 6] = [2, 0, 0, 0, 0x0a, 1];

fn node(config: &str) -> Arc<Node> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "pcaps", "corpus", config]
        .iter()
        .collect();
    let config = NodeConfig::load(path).expect("corpus config");
    Arc::new(Node::new(config).expect("node"))
}

/// `count` UDP/IPv4 frames of exactly `size` bytes from the on-premises
/// host to `destination`, spread over [`FLOWS`] source ports.
fn frames(size: usize, destination: [u8; 4], count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let builder = PacketBuilder::ethernet2(ONPREM_HOST, ONPREM_LAN)
                .ipv4([10, 0, 1, 10], destination, 64)
                .udp(40000 + (i as u16 % FLOWS), 40200);
            let payload = vec![0x5a; size - 42];
            let mut out = Vec::with_capacity(size);
            builder.write(&mut out, &payload).expect("frame");
            out
        })
        .collect()
}

fn load(bufs: &mut [PacketBuf], frames: &[Vec<u8>]) {
    for (buf, frame) in bufs.iter_mut().zip(frames) {
        let _ = buf.load(frame, PacketBuf::DEFAULT_HEADROOM);
    }
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
}

fn outbound_sa(node: &Node) -> OutboundSa {
    node.config()
        .interfaces
        .iter()
        .find_map(|i| match &i.kind {
            InterfaceKind::EspTunnel(t) => OutboundSa::with_endpoints(
                t.static_sas()?.0,
                TunnelEndpoints {
                    local: t.local,
                    remote: t.remote,
                },
            )
            .ok(),
            InterfaceKind::Ethernet(_) => None,
        })
        .expect("a tunnel")
}

fn forward(c: &mut Criterion) {
    let plain_node = node("design2-onprem-edge.toml"); // 10.3.0.0/16: ER only
    let esp_node = node("design1-onprem-edge.toml"); // 10.1.0.0/16: the tunnel
    let lan = plain_node.interface_id("lan").expect("lan");
    for size in SIZES {
        let plain = frames(size, [10, 3, 0, 10], BATCH);
        let esp = frames(size, [10, 1, 0, 10], BATCH);
        let mut group = c.benchmark_group(format!("forward/{size}B"));
        configure(&mut group);
        group.throughput(Throughput::Elements(BATCH as u64));
        let mut bufs: Vec<PacketBuf> = (0..BATCH).map(|_| PacketBuf::new()).collect();
        group.bench_function("baseline_copy_frames", |b| {
            b.iter(|| {
                load(&mut bufs, &plain);
                black_box(&bufs);
            })
        });
        let mut outputs = Outputs::with_capacity(BATCH);
        for (name, node, input, batch_lookup) in [
            ("plain_1w", &plain_node, &plain, true),
            ("plain_1w_single_lookups", &plain_node, &plain, false),
            ("esp_1w", &esp_node, &esp, true),
        ] {
            let mut worker = node.worker();
            worker.set_batch_lookup(batch_lookup);
            group.bench_function(name, |b| {
                b.iter(|| {
                    load(&mut bufs, input);
                    worker.process(lan, &mut bufs, &mut outputs);
                    black_box(outputs.fates());
                })
            });
        }
        let sa = outbound_sa(&esp_node);
        let inner: Vec<Vec<u8>> = esp.iter().map(|f| f[14..].to_vec()).collect();
        group.bench_function("baseline_esp_encap_alone", |b| {
            b.iter(|| {
                load(&mut bufs, &inner);
                for buf in &mut bufs {
                    let _ = black_box(sa.encapsulate(buf));
                }
            })
        });
        group.finish();
        // The pool is a pipeline: measure it on a stream long enough to
        // keep both workers busy while this thread feeds them (a single
        // 64-frame burst times two thread wake-ups, not throughput).
        let plain = frames(size, [10, 3, 0, 10], POOL_STREAM);
        let esp = frames(size, [10, 1, 0, 10], POOL_STREAM);
        let mut group = c.benchmark_group(format!("forward/{size}B"));
        configure(&mut group);
        group.throughput(Throughput::Elements(POOL_STREAM as u64));
        for (name, node, input) in [
            ("plain_2w", &plain_node, &plain),
            ("esp_2w", &esp_node, &esp),
        ] {
            let mut pool = WorkerPool::new(Arc::clone(node), 2, BATCH).expect("pool");
            group.bench_function(name, |b| {
                b.iter(|| {
                    for (index, frame) in input.iter().enumerate() {
                        let mut buf = pool.buffer();
                        let _ = buf.load(frame, PacketBuf::DEFAULT_HEADROOM);
                        pool.submit(lan, index as u64, buf).expect("submit");
                        // Collect finished batches once per batch's worth
                        // of frames (polling the channel per frame costs
                        // the feeding thread more than the frame's copy).
                        if index % BATCH == BATCH - 1 {
                            while let Some(done) = pool.try_recv() {
                                black_box(done.len());
                                pool.recycle(done);
                            }
                        }
                    }
                    pool.flush().expect("flush");
                    while let Some(done) = pool.recv().expect("recv") {
                        black_box(done.len());
                        pool.recycle(done);
                    }
                })
            });
        }
        group.finish();
    }
}

fn pcap_bytes(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut writer =
        PcapFileWriter::from_writer("bench.pcap", Vec::new(), LinkType::Ethernet).expect("pcap");
    for (i, frame) in frames.iter().enumerate() {
        writer.write_frame(i as u64 * 1000, frame).expect("write");
    }
    writer.into_inner().expect("flush")
}

fn replay_rate(c: &mut Criterion) {
    let node = node("design1-onprem-edge.toml");
    for size in SIZES {
        // Half to the tunnel, half to a plain destination (the gateway subnet over ER).
        let mut input = frames(size, [10, 1, 0, 10], REPLAY_FRAMES / 2);
        input.extend(frames(size, [10, 100, 255, 5], REPLAY_FRAMES / 2));
        let pcap = pcap_bytes(&input);
        let mut group = c.benchmark_group(format!("replay/{size}B"));
        configure(&mut group);
        group.throughput(Throughput::Elements(REPLAY_FRAMES as u64));
        group.bench_function("baseline_pcap_read_write", |b| {
            let mut buf = PacketBuf::new();
            b.iter(|| {
                let mut reader =
                    CaptureReader::from_reader("bench.pcap", Cursor::new(&pcap[..]), None)
                        .expect("reader");
                let mut writer =
                    PcapFileWriter::from_writer("out.pcap", std::io::sink(), LinkType::Ethernet)
                        .expect("writer");
                while let Some(meta) = reader.next_frame(&mut buf).expect("frame") {
                    writer
                        .write_frame(meta.timestamp_ns, buf.as_slice())
                        .expect("write");
                }
                black_box(writer.finish().expect("finish"))
            })
        });
        let lan = node.interface_id("lan").expect("lan");
        let mut worker = node.worker();
        let mut bufs: Vec<PacketBuf> = (0..BATCH).map(|_| PacketBuf::new()).collect();
        let mut outputs = Outputs::with_capacity(BATCH);
        group.bench_function("node_only_1w", |b| {
            b.iter(|| {
                let mut forwarded = 0usize;
                for chunk in input.chunks(BATCH) {
                    let batch = &mut bufs[..chunk.len()];
                    load(batch, chunk);
                    worker.process(lan, batch, &mut outputs);
                    forwarded += outputs
                        .fates()
                        .iter()
                        .filter(|f| f.egress().is_some())
                        .count();
                }
                black_box(forwarded)
            })
        });
        let options = ReplayOptions {
            ingress: Some("lan".to_owned()),
            ..ReplayOptions::default()
        };
        // One node for every run, as one replay uses it (a fresh node per
        // run would time the first touch of its FIB's pages); its counters
        // accumulate over runs, which the rate does not read.
        group.bench_function("replay_no_outputs_1w", |b| {
            b.iter(|| {
                let reader = CaptureReader::from_reader("bench.pcap", Cursor::new(&pcap[..]), None)
                    .expect("reader");
                let sink = Sink::without_outputs(&node).expect("sink");
                black_box(
                    replay(&node, reader, sink, &options)
                        .expect("replay")
                        .packets_in,
                )
            })
        });
        group.bench_function("replay_1w", |b| {
            b.iter(|| {
                let reader = CaptureReader::from_reader("bench.pcap", Cursor::new(&pcap[..]), None)
                    .expect("reader");
                // Buffered as `erdp replay` buffers its files (the copy
                // into the buffer is part of writing a capture).
                let sink = Sink::new(&node, |_| {
                    Ok(BufWriter::with_capacity(256 * 1024, std::io::sink()))
                })
                .expect("sink");
                black_box(
                    replay(&node, reader, sink, &options)
                        .expect("replay")
                        .packets_in,
                )
            })
        });
        group.finish();
    }
}

criterion_group!(benches, forward, replay_rate);
criterion_main!(benches);
