//! `erdp run` throughput: simulated frames per second of wall time for the
//! default scenario (design 1: two smoltcp hosts, three erdp nodes, five
//! links, TCP both ways, ping, UDP, EF, a failover and a tunnel outage),
//! beside the bare engine in the same run (two devices bouncing 1514-byte
//! frames). A "frame" is one frame delivered across one link; a packet
//! crossing the five links of the path counts five times. No captures.

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use erdp::emu::{Arrival, ChannelConfig, Device, LinkConfig, PortId, SimTime, Simulator, TxQueue};
use erdp::scenario::{RunOptions, Scenario, builtin, run};

fn design1() -> Scenario {
    match builtin("design1") {
        Some(Ok(scenario)) => scenario,
        _ => panic!("the built-in design1 scenario parses"),
    }
}

fn run_design1(scenario: &Scenario) -> u64 {
    match run(scenario, &RunOptions::default()) {
        Ok(report) => report.frames,
        Err(e) => panic!("design1 runs: {e}"),
    }
}

/// The engine alone: sends a burst, then returns every frame it receives
/// until `left` runs out.
struct Bouncer {
    burst: usize,
    left: u64,
}

impl Device for Bouncer {
    fn name(&self) -> &str {
        "bouncer"
    }
    fn port_count(&self) -> u16 {
        1
    }
    fn receive(&mut self, _now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for arrival in batch.drain(..) {
            if self.left > 0 {
                self.left -= 1;
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
                bytes.fill(0xa5);
            }
            tx.send(PortId(0), frame);
        }
    }
    fn next_wakeup(&mut self) -> Option<SimTime> {
        (self.burst > 0).then_some(SimTime::ZERO)
    }
}

fn engine_sim() -> Simulator {
    let mut sim = Simulator::new(1);
    let a = sim.add_device(Box::new(Bouncer {
        burst: 64,
        left: 50_000,
    }));
    let b = sim.add_device(Box::new(Bouncer {
        burst: 0,
        left: 50_000,
    }));
    let channel = ChannelConfig::default()
        .rate_bps(10_000_000_000)
        .delay(Duration::from_micros(10));
    if let Err(e) = sim.connect(
        (a, PortId(0)),
        (b, PortId(0)),
        &LinkConfig::symmetric("a-b", channel),
    ) {
        panic!("link: {e}");
    }
    sim
}

fn run_engine(mut sim: Simulator) -> u64 {
    sim.run_until(SimTime::MAX);
    sim.stats().frames_delivered
}

fn bench(c: &mut Criterion) {
    let scenario = design1();
    let scenario_frames = run_design1(&scenario);
    let engine_frames = run_engine(engine_sim());
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(scenario_frames));
    group.bench_function("design1_default", |b| b.iter(|| run_design1(&scenario)));
    group.throughput(Throughput::Elements(engine_frames));
    group.bench_function("engine_bounce", |b| {
        b.iter_batched(engine_sim, run_engine, BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
