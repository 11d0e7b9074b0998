//! Faults, limits and modes on the design-1 topology: ExpressRoute primary
//! failover within the detection time, tunnel-down fallback (flagged as a
//! leak, or dropped when fail-closed), flaps, private peering prefix limits,
//! active-standby steering, determinism by seed, and scenario file errors
//! with their line.

use erdp::config::PolicyAction;
use erdp::scenario::{
    CircuitMode, Fault, FaultKind, RunOptions, RunReport, Scenario, ScenarioError, builtin, run,
};

fn design1() -> Scenario {
    builtin("design1").expect("built-in").expect("parses")
}

fn go(scenario: &Scenario) -> RunReport {
    run(scenario, &RunOptions::default()).expect("runs")
}

fn flow<'r>(report: &'r RunReport, name: &str) -> &'r erdp::scenario::FlowResult {
    report.flows.iter().find(|f| f.name == name).expect("flow")
}

fn fault<'r>(report: &'r RunReport, event: &str) -> &'r erdp::scenario::FaultRecord {
    report
        .faults
        .iter()
        .find(|f| f.event == event)
        .unwrap_or_else(|| panic!("{event} in {}", report.summary()))
}

#[test]
fn primary_failure_fails_over_within_the_detection_time() {
    let report = go(&design1());
    let summary = report.summary();
    let down = fault(&report, "link er-primary down");
    let lost = down.frames_lost.expect("measured");
    let outage = down.outage_ms.expect("measured");
    assert!(
        lost > 0,
        "frames hashed onto the primary were lost: {summary}"
    );
    // "Configure BFD over ExpressRoute": the MSEE's BFD runs at 300 ms
    // intervals with multiplier 3, so a link failure is detected in 900 ms.
    assert!(
        outage > 800.0 && outage <= 900.5,
        "outage {outage} ms within 900 ms detection: {summary}"
    );
    assert_eq!(down.lasted_ms, Some(1500.0));
    let bgp = fault(&report, "BGP er-primary DOWN");
    assert_eq!(bgp.at_ms, 2900.0);
    let routes = bgp.routes.expect("counts");
    assert!(
        routes.edge < report.faults[0].routes.expect("initial").edge,
        "{summary}"
    );
    // The 2 ms probe toward on-prem lost about the outage's worth at most.
    let probe = flow(&report, "probe");
    assert!(
        probe.lost >= 250,
        "tunnel-down window dropped (fail-closed): {summary}"
    );
}

#[test]
fn tunnel_down_falls_back_to_plain_expressroute_and_is_flagged() {
    let mut scenario = design1();
    scenario.onprem.policy = PolicyAction::Report;
    scenario.azure.policy = PolicyAction::Report;
    let report = go(&scenario);
    let summary = report.summary();
    let probe = flow(&report, "probe");
    assert!(
        probe.forward.plaintext.iter().sum::<u64>() >= 240,
        "{summary}"
    );
    assert!(probe.forward.violations >= 240, "{summary}");
    assert_eq!(probe.lost, 0, "report mode forwards: {summary}");
    assert!(report.failed(), "a leak fails the run: {summary}");
    assert!(
        report
            .verdicts
            .iter()
            .any(|v| v.level == "leak" && v.message.contains("probe")),
        "{summary}"
    );
    assert_eq!(fault(&report, "BGP vpn DOWN").lasted_ms, Some(500.0));
}

#[test]
fn tunnel_down_with_fail_closed_policies_drops_and_counts() {
    let report = go(&design1());
    let summary = report.summary();
    let probe = flow(&report, "probe");
    assert_eq!(
        probe.forward.plaintext,
        [0, 0],
        "nothing left in plaintext: {summary}"
    );
    assert!(probe.forward.dropped_by_policy >= 240, "{summary}");
    assert_eq!(probe.forward.violations, probe.forward.dropped_by_policy);
    assert!(!report.failed(), "{summary}");
    let hub = report
        .policies
        .iter()
        .find(|p| p.node == "azure-hub")
        .expect("hub");
    assert!(hub.policies[0].dropped >= 240, "{summary}");
}

#[test]
fn a_flapping_link_takes_its_session_down_each_time() {
    let mut scenario = design1();
    scenario.faults = vec![Fault {
        at_ms: 1000,
        kind: FaultKind::Flap,
        link: Some("er-secondary".into()),
        // Longer than BFD's 900 ms ("Configure BFD over ExpressRoute").
        down_ms: 1200,
        up_ms: 1200,
        count: 3,
        from: None,
        over: None,
        prefixes: Vec::new(),
        value: None,
        instance: None,
    }];
    let report = go(&scenario);
    let downs = report
        .faults
        .iter()
        .filter(|f| f.event == "BGP er-secondary DOWN")
        .count();
    let ups = report
        .faults
        .iter()
        .filter(|f| f.event == "BGP er-secondary up")
        .count();
    assert_eq!((downs, ups), (3, 3), "{}", report.summary());
    // A flap shorter than the detection time goes unnoticed by BGP.
    scenario.faults[0].down_ms = 600;
    let report = go(&scenario);
    assert!(
        !report
            .faults
            .iter()
            .any(|f| f.event.starts_with("BGP er-secondary"))
    );
}

#[test]
fn too_many_onprem_prefixes_bring_private_peering_down() {
    let mut scenario = design1();
    scenario.faults.clear();
    scenario.flows.retain(|f| f.name == "ping");
    scenario.onprem.extra_er_prefixes = 4_000;
    let report = go(&scenario);
    let summary = report.summary();
    for (name, up, why) in &report.sessions[..2] {
        assert!(!up, "{name}: {summary}");
        assert!(
            why.as_deref()
                .is_some_and(|w| w.contains("4002") && w.contains("4000")),
            "{summary}"
        );
    }
    assert!(report.sessions[2].1, "the VPN session stays up");
    assert_eq!(
        flow(&report, "ping").lost,
        50,
        "the tunnel rides the circuit: {summary}"
    );
    // With Premium the same advertisement is accepted.
    scenario.circuit.premium = true;
    let report = go(&scenario);
    assert!(report.sessions.iter().all(|s| s.1), "{}", report.summary());
    // At most the first echo, sent while the host resolves its gateway.
    assert!(flow(&report, "ping").lost <= 1, "{}", report.summary());
    assert!(report.faults[0].routes.expect("counts").msee > 8_000);
}

// ExpressRoute FAQ: advertising more than 1,000 VNet prefixes toward
// on-premises drops the ExpressRoute connection between the circuit and the
// gateway (not "the first 1,000 advertised").
#[test]
fn more_than_1000_vnet_prefixes_take_the_expressroute_connection_down() {
    let mut scenario = design1();
    scenario.faults.clear();
    scenario.flows.retain(|f| f.name == "ping");
    scenario.azure.extra_vnet_prefixes = 1_500;
    let report = go(&scenario);
    let summary = report.summary();
    let down = fault(&report, "ExpressRoute connection DOWN");
    assert_eq!(down.at_ms, 0.0);
    assert!(
        down.effect.contains("1502") && down.effect.contains("1000"),
        "{summary}"
    );
    // Nothing crosses the connection: no ER route anywhere, the tunnel
    // (which rides it) down too, every echo lost.
    let routes = report.faults[0].routes.expect("counts");
    assert_eq!((routes.edge, routes.hub), (0, 0), "{summary}");
    assert!(report.sessions.iter().all(|s| !s.1), "{summary}");
    assert_eq!(flow(&report, "ping").lost, 50, "{summary}");
    // At exactly 1,000 (998 synthetic + the VNet + the hub) it stays up.
    scenario.azure.extra_vnet_prefixes = 998;
    let report = go(&scenario);
    assert!(report.sessions.iter().all(|s| s.1), "{}", report.summary());
    assert!(flow(&report, "ping").lost <= 1, "{}", report.summary());
}

#[test]
fn active_standby_keeps_traffic_on_the_primary_until_it_fails() {
    let mut scenario = design1();
    scenario.circuit.mode = CircuitMode::ActiveStandby;
    scenario.faults.clear();
    let report = go(&scenario);
    for flow in &report.flows {
        assert_eq!(flow.forward.encrypted[1], 0, "{}", report.summary());
        assert_eq!(flow.reverse.encrypted[1], 0, "{}", report.summary());
    }
    scenario.faults = vec![Fault {
        at_ms: 500,
        kind: FaultKind::LinkDown,
        link: Some("er-primary".into()),
        down_ms: 0,
        up_ms: 0,
        count: 0,
        from: None,
        over: None,
        prefixes: Vec::new(),
        value: None,
        instance: None,
    }];
    let report = go(&scenario);
    let probe = flow(&report, "probe");
    assert!(
        probe.forward.encrypted[1] > 2000,
        "failed over: {}",
        report.summary()
    );
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let scenario = design1();
    let a = go(&scenario);
    let b = go(&scenario);
    let json = |r: &RunReport| serde_json::to_string(&(&r.flows, &r.faults, &r.links)).unwrap();
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.frames, b.frames);
}

#[test]
fn scenario_errors_name_the_file_line_and_field() {
    let text = erdp::scenario::BUILTIN[0].1;
    let bad = text.replacen(
        "mode = \"active-active\"",
        "mode = \"active-active\"\nbogus = 1",
        1,
    );
    let err = Scenario::from_toml_str(&bad, "s.toml").unwrap_err();
    let line = bad.lines().position(|l| l.starts_with("bogus")).unwrap() + 1;
    match &err {
        ScenarioError::File(error) => {
            let first = &error.problems()[0];
            assert_eq!(
                (first.file.to_str(), first.line),
                (Some("s.toml"), line),
                "{err}"
            );
            assert!(first.message.contains("bogus"), "{err}");
        }
        other => panic!("{other}"),
    }
    let bad = text.replacen("link = \"er-primary\"", "link = \"er-tertiary\"", 1);
    let err = Scenario::from_toml_str(&bad, "s.toml")
        .unwrap_err()
        .to_string();
    let line = bad.lines().position(|l| l.contains("er-tertiary")).unwrap() + 1;
    assert!(err.starts_with(&format!("s.toml:{line}:")), "{err}");
    assert!(
        err.contains("fault[0].link") && err.contains("er-tertiary"),
        "{err}"
    );
    let bad = text.replacen("dscp = 46", "dscp = 64", 1);
    let err = Scenario::from_toml_str(&bad, "s.toml")
        .unwrap_err()
        .to_string();
    let line = bad.lines().position(|l| l.contains("dscp = 64")).unwrap() + 1;
    assert!(
        err.starts_with(&format!("s.toml:{line}:")) && err.contains("flow[5].dscp"),
        "{err}"
    );
}

#[test]
fn a_hub_preferring_the_vpn_closes_the_leak() {
    let mut scenario = builtin("leak").expect("built-in").expect("parses");
    scenario.azure.hub_routing_preference = erdp::rib::SelectionMode::VpnFirst;
    let report = go(&scenario);
    let summary = report.summary();
    let down = flow(&report, "download");
    assert_eq!(down.verified, Some(true), "{summary}");
    assert_eq!(down.forward.plaintext, [0, 0], "{summary}");
    assert!(
        down.forward.encrypted.iter().sum::<u64>() > 1000,
        "{summary}"
    );
    assert!(!report.failed(), "{summary}");
}
