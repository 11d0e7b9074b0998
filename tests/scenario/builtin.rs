//! The built-in scenarios end to end: real smoltcp hosts, three erdp nodes,
//! routes from the emulated BGP sessions. Steering and encryption are read
//! from the nodes' per-flow fates; bytes are verified by the TCP apps.

use erdp::scenario::{RunOptions, RunReport, builtin, run};

fn run_builtin(name: &str, out: Option<&str>) -> RunReport {
    let scenario = builtin(name).expect("built-in").expect("parses");
    let options = RunOptions {
        seed: None,
        out_dir: out.map(|d| std::env::temp_dir().join(d)),
        ..RunOptions::default()
    };
    run(&scenario, &options).expect("runs")
}

fn flow<'r>(report: &'r RunReport, name: &str) -> &'r erdp::scenario::FlowResult {
    report
        .flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("flow {name} in {report:#?}"))
}

#[test]
fn design1_steers_both_directions_into_the_tunnel_and_survives_faults() {
    let report = run_builtin("design1", Some("erdp-test-design1"));
    let summary = report.summary();
    for (name, bytes) in [
        ("upload", 4_000_000),
        ("download", 4_000_000),
        ("failover-tcp", 30_000_000),
    ] {
        let f = flow(&report, name);
        assert_eq!(f.verified, Some(true), "{summary}");
        assert_eq!(f.bytes, bytes, "{summary}");
    }
    // The long transfer ran across the primary's failure and moved onto
    // the secondary once BGP withdrew the primary's routes.
    let long = flow(&report, "failover-tcp");
    assert!(
        long.forward.encrypted[0] > 0 && long.forward.encrypted[1] > 0,
        "{summary}"
    );
    // Before the tunnel fault every packet of the upload crossed in ESP,
    // on both circuit links or one; the tunnel-down window leaked some.
    let up = flow(&report, "upload");
    assert!(up.forward.encrypted.iter().sum::<u64>() > 2000, "{summary}");
    let ef = flow(&report, "voice-ef");
    assert_eq!(
        ef.forward.outer_dscp,
        Some(46),
        "EF carried to the ESP outer header: {summary}"
    );
    let (expect, with, of) = ef.dscp.expect("dscp checked");
    assert_eq!((expect, with), (46, of), "{summary}");
    let ping = flow(&report, "ping");
    // Echoes hashed onto the primary are lost for BFD's 900 ms (300 ms x 3,
    // "Configure BFD over ExpressRoute"): at 100 ms intervals, at most 10.
    assert!(ping.sent == 50 && ping.lost <= 10, "{summary}");
    println!("{summary}");
}

#[test]
fn design2_uses_separate_prefixes_and_stays_encrypted() {
    let report = run_builtin("design2", None);
    let summary = report.summary();
    for flow in &report.flows {
        assert!(!flow.leaked(), "{summary}");
        assert!(flow.forward.encrypted.iter().sum::<u64>() > 0, "{summary}");
    }
    assert!(!report.failed(), "{summary}");
}

#[test]
fn leak_is_flagged_for_azure_to_onprem_traffic() {
    let report = run_builtin("leak", None);
    let summary = report.summary();
    let down = flow(&report, "download");
    assert_eq!(down.verified, Some(true), "{summary}");
    assert!(
        down.forward.plaintext.iter().sum::<u64>() > 1000,
        "{summary}"
    );
    assert_eq!(down.forward.encrypted, [0, 0], "{summary}");
    assert!(down.forward.violations > 1000, "{summary}");
    let up = flow(&report, "upload");
    assert_eq!(
        up.forward.plaintext,
        [0, 0],
        "on-prem still encrypts: {summary}"
    );
    assert!(report.failed());
    assert!(
        report.verdicts.iter().any(|v| v.level == "leak"),
        "{summary}"
    );
}
