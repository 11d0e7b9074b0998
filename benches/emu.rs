//! Simulated packets per second of wall time.
//!
//! - `emu/two_host_bulk`: two smoltcp hosts, a 20 MB TCP upload over a
//!   1 Gbit/s, 1 ms link (every byte verified); elements are the frames the
//!   link delivered (data and ACKs).
//! - `emu/engine_reflect` (baseline, same run): the engine and a link alone,
//!   two devices bouncing 64 frames of 1514 bytes back and forth; elements
//!   are frames delivered. The ratio shows what the TCP/IP hosts cost.

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use erdp::emu::app::{TcpBulk, TcpBulkConfig};
use erdp::emu::{
    Arrival, ChannelConfig, Device, Host, HostConfig, LinkConfig, PortId, SimTime, Simulator,
    TxQueue,
};

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

/// Sends `burst` frames at time zero, then sends back every frame it gets
/// until it has received `limit`.
struct Reflector {
    burst: usize,
    received: u64,
    limit: u64,
}

impl Device for Reflector {
    fn name(&self) -> &str {
        "reflector"
    }
    fn port_count(&self) -> u16 {
        1
    }
    fn receive(&mut self, _now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for arrival in batch.drain(..) {
            self.received += 1;
            if self.received < self.limit {
                tx.send(arrival.port, arrival.frame);
            } else {
                tx.recycle(arrival.frame);
            }
        }
    }
    fn poll(&mut self, _now: SimTime, tx: &mut TxQueue<'_>) {
        for _ in 0..std::mem::take(&mut self.burst) {
            let mut frame = tx.frame();
            if let Ok(bytes) = frame.push_back(1514) {
                bytes.fill(0x5a);
            }
            tx.send(PortId(0), frame);
        }
    }
    fn next_wakeup(&mut self) -> Option<SimTime> {
        (self.burst > 0).then_some(SimTime::ZERO)
    }
}

const REFLECTIONS: u64 = 100_000;

fn reflect_sim() -> Simulator {
    let mut sim = Simulator::new(1);
    let reflector = |burst| Reflector {
        burst,
        received: 0,
        limit: REFLECTIONS / 2,
    };
    let a = sim.add_device(Box::new(reflector(64)));
    let b = sim.add_device(Box::new(reflector(0)));
    let channel = ChannelConfig::default()
        .rate_bps(10_000_000_000)
        .delay(Duration::from_micros(10));
    sim.connect(
        (a, PortId(0)),
        (b, PortId(0)),
        &LinkConfig::symmetric("a-b", channel),
    )
    .unwrap();
    sim
}

fn run_reflect(mut sim: Simulator) -> u64 {
    sim.run_until(SimTime::MAX);
    sim.stats().frames_delivered
}

fn bench(c: &mut Criterion) {
    let bulk_frames = run_bulk(bulk_sim());
    let reflect_frames = run_reflect(reflect_sim());
    let mut group = c.benchmark_group("emu");
    group.sample_size(10);
    group.throughput(Throughput::Elements(bulk_frames));
    group.bench_function("two_host_bulk", |b| {
        b.iter_batched(bulk_sim, run_bulk, BatchSize::PerIteration)
    });
    group.throughput(Throughput::Elements(reflect_frames));
    group.bench_function("engine_reflect", |b| {
        b.iter_batched(reflect_sim, run_reflect, BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
