//! `erdp verify` throughput: probes per second for the synthetic
//! 100 on-prem x 10 Azure prefix scenario (two circuits; 117 states: steady,
//! four links, two circuits, the tunnel, and each of the 99 + 10 VPN
//! prefixes withdrawn; 234,000 probes through the real nodes), on every core (one thread per state, at most
//! the machine's cores) beside the same verification on one thread, in the
//! same run so the ratio holds on a loaded machine. Setup (parsing the
//! scenario) is outside the measured closure; building each state's nodes
//! and installing its routes is part of verifying and is measured.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use erdp::verify::{VerifyOptions, synthetic, verify};

fn bench(c: &mut Criterion) {
    let scenario = match synthetic(100, 10) {
        Ok(scenario) => scenario,
        Err(e) => panic!("the synthetic scenario builds: {e}"),
    };
    let probes = match verify(&scenario, &VerifyOptions::default()) {
        Ok(report) => report.probes as u64,
        Err(e) => panic!("the synthetic scenario verifies: {e}"),
    };
    assert_eq!(probes, 100 * 10 * 2 * 117);
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(probes));
    for (name, threads) in [
        ("100x10x117_all_cores", None),
        ("100x10x117_one_thread", Some(1)),
    ] {
        let options = VerifyOptions {
            threads,
            ..VerifyOptions::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| match verify(&scenario, &options) {
                Ok(report) => report.probes,
                Err(e) => panic!("verifies: {e}"),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
