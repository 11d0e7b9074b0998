//! Simulated packets per second of wall time.
//!
//! - `emu/two_host_bulk`: two smoltcp hosts, a 20 MB TCP upload over a
//!   1 Gbit/s, 1 ms link (every byte verified); elements are the frames the
//!   link delivered (data and ACKs).
//! - `emu/engine_reflect` (baseline, same run): the engine and a link alone,
//!   two devices bouncing 64 frames of 1514 bytes back and forth; elements
//!   are frames delivered. The ratio shows what the TCP/IP hosts cost.

mod engine_baseline;

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use erdp::emu::app::{TcpBulk, TcpBulkConfig};
use erdp::emu::{ChannelConfig, Host, HostConfig, LinkConfig, PortId, SimTime, Simulator};

const BULK_BYTES: u64 = 20_000_000;

fn bulk_sim() -> Simulator {
    let mut sim = Simulator::new(1);
    let host = |sim: &Simulator, name: &str, last: u8| {
        let mut config = HostConfig::new(
            name,
            [2, 0, 0, 0, 0, last],
            vec![format!("10.0.0.{last}/24").parse().unwrap()],
        );
        config.seed = sim.seed_for(name);
        Host::new(&config).unwrap()
    };
    let (client, server) = TcpBulkConfig::pair(
        "bulk",
        ([10, 0, 0, 2], 5000).into(),
        40000,
        BULK_BYTES,
        0,
        1,
    );
    let mut a = host(&sim, "a", 1);
    let mut b = host(&sim, "b", 2);
    b.add_app(Box::new(TcpBulk::new(server))).unwrap();
    a.add_app(Box::new(TcpBulk::new(client))).unwrap();
    let a = sim.add_device(Box::new(a));
    let b = sim.add_device(Box::new(b));
    let channel = ChannelConfig::default()
        .rate_bps(1_000_000_000)
        .delay(Duration::from_millis(1));
    sim.connect(
        (a, PortId(0)),
        (b, PortId(0)),
        &LinkConfig::symmetric("a-b", channel),
    )
    .unwrap();
    sim
}

fn run_bulk(mut sim: Simulator) -> u64 {
    sim.run_until(SimTime::from_secs(10));
    sim.stats().frames_delivered
}

fn bench(c: &mut Criterion) {
    let bulk_frames = run_bulk(bulk_sim());
    let reflect_frames = engine_baseline::run_to_end(engine_baseline::reflect_sim());
    let mut group = c.benchmark_group("emu");
    group.sample_size(10);
    group.throughput(Throughput::Elements(bulk_frames));
    group.bench_function("two_host_bulk", |b| {
        b.iter_batched(bulk_sim, run_bulk, BatchSize::PerIteration)
    });
    group.throughput(Throughput::Elements(reflect_frames));
    group.bench_function("engine_reflect", |b| {
        b.iter_batched(
            engine_baseline::reflect_sim,
            engine_baseline::run_to_end,
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
