//! Frames per second across a veth pair in two network namespaces the
//! bench makes (root only; otherwise it says so and measures nothing):
//! bursts of 64 frames sent on one end and received on the other, one
//! thread. Beside them, in the same run: pnet's raw channel (the library
//! alone, no port layer) and an in-memory channel port pair.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use erdp::packet::PacketBuf;
use erdp::port::netns::is_root;
use erdp::port::{AfPacketBackend, ChannelPort, ChannelPortConfig, Port};

#[path = "support/veth.rs"]
mod veth;
use veth::{Veth, open_port, open_raw_pnet, udp_frame};

const BURST: usize = 64;
const SIZES: [usize; 2] = [64, 1514];

/// Receives exactly `count` frames (panics after a second without one:
/// a lost frame would make the figure a lie).
fn receive(port: &mut dyn Port, bufs: &mut [PacketBuf], count: usize) {
    let mut got = 0;
    while got < count {
        let n = port.recv_batch(bufs, Duration::from_secs(1)).unwrap();
        assert!(n > 0, "a frame was lost in the burst");
        got += n;
    }
}

fn burst_group(
    c: &mut Criterion,
) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group("port/veth_burst");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    group.throughput(Throughput::Elements(BURST as u64));
    group
}

fn veth_bursts(c: &mut Criterion) {
    if !is_root() {
        eprintln!(
            "SKIPPED benches/port.rs veth bursts: needs root (network namespaces, AF_PACKET)"
        );
        return;
    }
    let net = Veth::create("bench");
    let mut group = burst_group(c);
    let mut bufs = vec![PacketBuf::new(); BURST];

    for len in SIZES {
        let frame = udp_frame(len, net.mac_b);

        // Baseline: pnet's channel as it comes, one frame per call.
        {
            let (mut tx, _) = open_raw_pnet(&net.a, "a0", Duration::from_secs(1));
            let (_, mut rx) = open_raw_pnet(&net.b, "b0", Duration::from_secs(1));
            group.bench_with_input(
                BenchmarkId::new("baseline_pnet_raw", len),
                &frame,
                |bench, frame| {
                    bench.iter(|| {
                        for _ in 0..BURST {
                            tx.send_to(frame, None).unwrap().unwrap();
                        }
                        for _ in 0..BURST {
                            black_box(rx.next().unwrap().len());
                        }
                    })
                },
            );
        }

        for (name, backend) in [
            ("afpacket_pnet", AfPacketBackend::Pnet),
            ("afpacket_mmsg", AfPacketBackend::Mmsg),
        ] {
            let mut left = open_port(&net.a, "a0", backend, 4 << 20);
            let mut right = open_port(&net.b, "b0", backend, 4 << 20);
            let mut outgoing = vec![PacketBuf::new(); BURST];
            for buf in &mut outgoing {
                buf.load(&frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
            }
            group.bench_function(BenchmarkId::new(name, len), |bench| {
                bench.iter(|| {
                    let sent = left.send_batch(&outgoing);
                    assert_eq!(sent.sent, BURST);
                    receive(&mut right, &mut bufs, BURST);
                })
            });
        }

        // Baseline: the port layer without a kernel (channel pair).
        let (mut left, mut right) = ChannelPort::pair(
            "a",
            "b",
            ChannelPortConfig {
                capacity: BURST,
                mtu: 1500,
            },
        );
        let mut outgoing = vec![PacketBuf::new(); BURST];
        for buf in &mut outgoing {
            buf.load(&frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
        }
        group.bench_function(BenchmarkId::new("baseline_channel_port", len), |bench| {
            bench.iter(|| {
                assert_eq!(left.send_batch(&outgoing).sent, BURST);
                receive(&mut right, &mut bufs, BURST);
            })
        });
    }
    group.finish();
    // The namespaces (and the veth) go when `net` drops.
    drop(net);
}

criterion_group!(benches, veth_bursts);
criterion_main!(benches);
