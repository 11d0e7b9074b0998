//! `erdp run` throughput: simulated frames per second of wall time for the
//! default scenario (design 1: two smoltcp hosts, three erdp nodes, five
//! links, TCP both ways, ping, UDP, EF, a failover and a tunnel outage),
//! beside the bare engine in the same run (benches/engine_baseline: two
//! devices bouncing 1514-byte frames). A "frame" is one frame delivered
//! across one link; a packet crossing the five links of the path counts
//! five times. No captures.

mod engine_baseline;

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
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

fn bench(c: &mut Criterion) {
    let scenario = design1();
    let scenario_frames = run_design1(&scenario);
    let engine_frames = engine_baseline::run_to_end(engine_baseline::reflect_sim());
    let mut group = c.benchmark_group("scenario");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(scenario_frames));
    group.bench_function("design1_default", |b| b.iter(|| run_design1(&scenario)));
    group.throughput(Throughput::Elements(engine_frames));
    group.bench_function("engine_bounce", |b| {
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
