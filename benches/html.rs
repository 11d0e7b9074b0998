//! report.html's cost against the run it reports on (issue 20: under 5 %
//! of the run's wall time for a 30 s scenario). Design 1 stretched to 30 s
//! of virtual time (a UDP probe every 20 ms throughout), run and rendered
//! in the same process: `run_30s` is the baseline, `render_30s` builds the
//! page (every section, five link charts, the topology) from its report.
//! The ratio of the two means is printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use erdp::html::run_page;
use erdp::scenario::{BUILTIN, RunOptions, RunReport, Scenario, run};

/// Design 1, 30 s long, with traffic to the end.
fn scenario_30s() -> Scenario {
    let design1 = BUILTIN
        .iter()
        .find(|(name, _)| *name == "design1")
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("design1 is built in"));
    let text = design1.replace("duration_ms = 20000", "duration_ms = 30000")
        + "\n[[flow]]\nname = \"probe-30s\"\nkind = \"udp\"\nfrom = \"onprem\"\ncount = 1500\ninterval_ms = 20\npayload = 200\n";
    Scenario::from_toml_str(&text, "bench:design1-30s")
        .unwrap_or_else(|e| panic!("the 30 s scenario parses: {e}"))
}

fn run_once(scenario: &Scenario) -> RunReport {
    run(scenario, &RunOptions::default()).unwrap_or_else(|e| panic!("runs: {e}"))
}

fn render(report: &RunReport) -> usize {
    match run_page(report).and_then(|page| page.render()) {
        Ok(html) => html.len(),
        Err(e) => panic!("renders: {e}"),
    }
}

fn mean(samples: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..samples {
        f();
    }
    start.elapsed() / samples
}

fn bench(c: &mut Criterion) {
    let scenario = scenario_30s();
    let report = run_once(&scenario);
    assert!(
        report.virtual_s >= 29.9,
        "the scenario spans 30 s: {}",
        report.virtual_s
    );
    let mut group = c.benchmark_group("html");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("run_30s", |b| {
        b.iter(|| black_box(run_once(&scenario).frames))
    });
    group.bench_function("render_30s", |b| b.iter(|| black_box(render(&report))));
    group.finish();

    // The same two, back to back, for the ratio on a shared machine.
    let run_mean = mean(3, || {
        black_box(run_once(&scenario));
    });
    let render_mean = mean(30, || {
        black_box(render(&report));
    });
    println!(
        "html: run {:.3} s, render {:.2} ms ({} bytes): render = {:.3} % of the run",
        run_mean.as_secs_f64(),
        render_mean.as_secs_f64() * 1e3,
        render(&report),
        100.0 * render_mean.as_secs_f64() / run_mean.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
