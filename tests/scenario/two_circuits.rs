//! A second ExpressRoute circuit: the hub picks between circuits by
//! connection weight (higher wins), then AS path (on-prem prepending
//! honoured); the on-prem edge by LOCAL_PREF; a whole-circuit failure moves
//! everything onto the other circuit after the detection time. Circuits are
//! read from the per-flow fates (edge ports) and from the links' tallies.

use erdp::scenario::{FlowResult, RunOptions, RunReport, Scenario, ScenarioError, builtin, run};

fn two_circuits() -> Scenario {
    builtin("two-circuits").expect("built-in").expect("parses")
}

fn go(scenario: &Scenario) -> RunReport {
    run(scenario, &RunOptions::default()).expect("runs")
}

fn flow<'r>(report: &'r RunReport, name: &str) -> &'r FlowResult {
    report
        .flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("flow {name} in {}", report.summary()))
}

/// Frames delivered over the link `name`, both ways.
fn link_frames(report: &RunReport, name: &str) -> u64 {
    let link = report
        .links
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("link {name}"));
    link.a_to_b.delivered_frames + link.b_to_a.delivered_frames
}

/// Frames over both links of circuit 1 and of circuit 2.
fn circuit_frames(report: &RunReport) -> (u64, u64) {
    (
        link_frames(report, "er-primary") + link_frames(report, "er-secondary"),
        link_frames(report, "er2-primary") + link_frames(report, "er2-secondary"),
    )
}

/// Every packet of the flow crossed a circuit in ESP (a UDP probe has no
/// return packets).
fn all_encrypted(flow: &FlowResult) -> bool {
    let plain = |d: &erdp::scenario::DirectionPath| d.plaintext.iter().sum::<u64>();
    plain(&flow.forward) == 0 && plain(&flow.reverse) == 0 && flow.forward.packets() > 0
}

/// The built-in scenario without faults and with short flows: an upload,
/// a download and an Azure-to-on-prem UDP probe.
fn steady(change: impl FnOnce(&mut Scenario)) -> RunReport {
    let mut scenario = two_circuits();
    scenario.faults.clear();
    scenario.flows.retain(|f| f.name != "ping");
    for flow in &mut scenario.flows {
        flow.bytes = 1_000_000;
        flow.count = 200;
        flow.start_ms = 0;
    }
    change(&mut scenario);
    let report = go(&scenario);
    for flow in &report.flows {
        assert_ne!(flow.verified, Some(false), "{}", report.summary());
        assert!(all_encrypted(flow), "{}", report.summary());
    }
    assert!(!report.failed(), "{}", report.summary());
    report
}

#[test]
fn the_higher_weight_circuit_carries_traffic_until_it_fails() {
    let report = go(&two_circuits());
    let summary = report.summary();
    // Before the failure (the upload ends by then) both directions ride
    // circuit 1: the hub by weight 100 > 0, the edge by LOCAL_PREF 100 > 90.
    let upload = flow(&report, "upload");
    assert_eq!(upload.verified, Some(true), "{summary}");
    assert!(upload.forward.circuit_packets(0) > 2000, "{summary}");
    assert_eq!(upload.forward.circuit_packets(1), 0, "{summary}");
    assert_eq!(upload.reverse.circuit_packets(1), 0, "{summary}");
    // The download ran across circuit 1's failure and finished on circuit
    // 2, every byte verified by the stream checksum.
    let download = flow(&report, "download");
    assert_eq!(download.verified, Some(true), "{summary}");
    assert_eq!(download.bytes, 30_000_000, "{summary}");
    assert!(download.forward.circuit_packets(0) > 1000, "{summary}");
    assert!(download.forward.circuit_packets(1) > 1000, "{summary}");
    // Both links of circuit 1 went down at 3 s: frames were lost into them
    // until BGP withdrew the routes 900 ms later (BFD 300 ms x 3, as
    // Microsoft's "Configure BFD over ExpressRoute" documents the MSEE).
    let mut lost = 0;
    for name in ["er-primary", "er-secondary"] {
        let down = report
            .faults
            .iter()
            .find(|f| f.event == format!("link {name} down"))
            .unwrap_or_else(|| panic!("{name} down in {summary}"));
        assert_eq!(down.at_ms, 3000.0, "{summary}");
        assert_eq!(down.lasted_ms, Some(3000.0), "{summary}");
        let outage = down.outage_ms.unwrap_or(0.0);
        assert!(outage <= 900.5, "outage {outage} ms: {summary}");
        lost += down.frames_lost.expect("measured");
    }
    assert!(lost > 0, "{summary}");
    let withdrawn = report
        .faults
        .iter()
        .find(|f| f.event == "BGP er-secondary DOWN")
        .expect("circuit 1's last session down");
    assert_eq!(withdrawn.at_ms, 3900.0, "{summary}");
    let routes = withdrawn.routes.expect("counts");
    assert!(routes.hub < report.faults[0].routes.expect("initial").hub);
    // The probe (2 ms, 0-6 s) lost about the outage's worth and was
    // carried by both circuits in turn.
    let probe = flow(&report, "probe");
    assert!(probe.lost > 0 && probe.lost <= 460, "{summary}");
    assert!(probe.forward.circuit_packets(0) > 1000, "{summary}");
    assert!(probe.forward.circuit_packets(1) > 1000, "{summary}");
    // The links' own tallies agree: circuit 2 carried traffic.
    let (one, two) = circuit_frames(&report);
    assert!(one > 10_000 && two > 10_000, "{one} {two}: {summary}");
    // Encryption verdicts as in design 1: nothing left in plaintext.
    for flow in &report.flows {
        assert!(all_encrypted(flow), "{summary}");
        assert!(!flow.leaked(), "{summary}");
    }
    assert!(!report.failed(), "{summary}");
    assert!(report.verdicts.iter().any(|v| v.level == "ok"), "{summary}");
    assert_eq!(report.sessions.len(), 5, "{summary}");
}

#[test]
fn a_higher_weight_moves_azure_to_onprem_traffic_to_circuit_two() {
    let report = steady(|s| {
        if let Some(second) = &mut s.second_circuit {
            second.connection_weight = 200;
        }
    });
    let summary = report.summary();
    for name in ["download", "probe"] {
        let f = flow(&report, name);
        assert_eq!(f.forward.circuit_packets(0), 0, "{name}: {summary}");
        assert!(f.forward.circuit_packets(1) > 100, "{name}: {summary}");
    }
    // On-prem's own choice (LOCAL_PREF) is unchanged: uploads stay on 1.
    let upload = flow(&report, "upload");
    assert!(upload.forward.circuit_packets(0) > 500, "{summary}");
    assert_eq!(upload.forward.circuit_packets(1), 0, "{summary}");
    // ACKs of the download go back over circuit 1.
    assert_eq!(flow(&report, "download").reverse.circuit_packets(1), 0);
}

#[test]
fn with_equal_weights_the_shorter_as_path_wins() {
    let prepended_first = steady(|s| {
        s.circuit.connection_weight = 0;
        s.circuit.prepend = 2;
    });
    let summary = prepended_first.summary();
    let probe = flow(&prepended_first, "probe");
    assert_eq!(probe.forward.circuit_packets(0), 0, "{summary}");
    assert_eq!(probe.forward.circuit_packets(1), 200, "{summary}");

    let prepended_second = steady(|s| {
        s.circuit.connection_weight = 0;
        if let Some(second) = &mut s.second_circuit {
            second.prepend = 2;
        }
    });
    let summary = prepended_second.summary();
    let probe = flow(&prepended_second, "probe");
    assert_eq!(probe.forward.circuit_packets(0), 200, "{summary}");
    assert_eq!(probe.forward.circuit_packets(1), 0, "{summary}");

    // The weight comes before the AS path: circuit 1's higher weight beats
    // its longer path.
    let weight_first = steady(|s| s.circuit.prepend = 2);
    let probe = flow(&weight_first, "probe");
    assert_eq!(
        probe.forward.circuit_packets(0),
        200,
        "{}",
        weight_first.summary()
    );
}

#[test]
fn the_edge_picks_its_circuit_by_local_pref() {
    let report = steady(|s| {
        if let Some(second) = &mut s.second_circuit {
            second.local_pref = 150;
        }
    });
    let summary = report.summary();
    let upload = flow(&report, "upload");
    assert_eq!(upload.forward.circuit_packets(0), 0, "{summary}");
    assert!(upload.forward.circuit_packets(1) > 500, "{summary}");
    // Azure-to-on-prem still follows the hub's weight (circuit 1).
    assert_eq!(flow(&report, "probe").forward.circuit_packets(1), 0);
}

#[test]
fn circuit_two_fails_over_to_circuit_one_with_explicit_link_faults() {
    let mut scenario = two_circuits();
    if let Some(second) = &mut scenario.second_circuit {
        second.connection_weight = 200;
        // A slower customer side: BFD every 600 ms, x 3 (1800 ms).
        second.bfd_interval_ms = 600;
    }
    for fault in &mut scenario.faults {
        fault.link = Some("er2-primary".into());
    }
    let mut secondary = scenario.faults.clone();
    for fault in &mut secondary {
        fault.link = Some("er2-secondary".into());
    }
    scenario.faults.extend(secondary);
    scenario.flows.retain(|f| f.name == "probe");
    let report = go(&scenario);
    let summary = report.summary();
    let probe = flow(&report, "probe");
    // Circuit 2's own detection time (1800 ms) applies: 900 probes lost.
    assert!(
        probe.lost >= 880 && probe.lost <= 920,
        "{}: {summary}",
        probe.lost
    );
    // Circuit 1 carries the probe from 4.8 s to its end at 6 s.
    assert!(probe.forward.circuit_packets(0) > 500, "{summary}");
    assert!(probe.forward.circuit_packets(1) > 1000, "{summary}");
    let bgp = report
        .faults
        .iter()
        .find(|f| f.event == "BGP er2-secondary DOWN")
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(bgp.at_ms, 4800.0, "{summary}");
    assert!(
        report.notes.iter().any(|n| n.contains("600 ms x 3")),
        "the report says the scenario chose its own BFD: {:?}",
        report.notes
    );
}

#[test]
fn one_circuit_scenarios_keep_their_five_links() {
    let report = go(&builtin("design2").expect("built-in").expect("parses"));
    assert_eq!(report.links.len(), 5);
    assert_eq!(report.sessions.len(), 3);
    assert!(
        report
            .flows
            .iter()
            .all(|f| f.forward.encrypted.len() == 2 && f.forward.plaintext.len() == 2)
    );
}

fn parse_error(text: &str) -> (usize, String) {
    match Scenario::from_toml_str(text, "two.toml") {
        Err(ScenarioError::File(error)) => {
            let first = &error.problems()[0];
            assert_eq!(first.file.to_str(), Some("two.toml"));
            (first.line, first.to_string())
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

#[test]
fn second_circuit_errors_name_the_file_line_and_field() {
    let text = erdp::scenario::BUILTIN
        .iter()
        .find(|(name, _)| *name == "two-circuits")
        .expect("listed")
        .1;
    let bad = text.replacen("prepend = 0", "prepend = 0\nweight = 3", 1);
    let (line, message) = parse_error(&bad);
    assert_eq!(line, line_of(&bad, "weight = 3"), "{message}");
    assert!(message.contains("weight"), "{message}");

    let bad = text.replacen("local_pref = 90", "local_pref = \"high\"", 1);
    let (line, message) = parse_error(&bad);
    assert_eq!(line, line_of(&bad, "\"high\""), "{message}");

    let bad = text.replacen(
        "primary = { delay_ms = 6.0,",
        "primary = { loss = 2.0, delay_ms = 6.0,",
        1,
    );
    let (line, message) = parse_error(&bad);
    assert_eq!(line, line_of(&bad, "loss = 2.0"), "{message}");
    assert!(message.contains("second_circuit.primary.loss"), "{message}");

    // Circuit 2's links and the circuit-2 target need the second circuit.
    let one = erdp::scenario::BUILTIN[0].1;
    for target in ["er2-primary", "circuit-2"] {
        let bad = one.replacen("link = \"er-primary\"", &format!("link = \"{target}\""), 1);
        let (line, message) = parse_error(&bad);
        assert_eq!(line, line_of(&bad, target), "{message}");
        assert!(message.contains("fault[0].link"), "{message}");
    }
}

#[test]
fn two_circuit_runs_are_deterministic_by_seed() {
    let scenario = two_circuits();
    let with_seed = |seed: u64| {
        let options = RunOptions {
            seed: Some(seed),
            ..RunOptions::default()
        };
        let report = run(&scenario, &options).expect("runs");
        serde_json::to_string(&(&report.flows, &report.faults, &report.links)).expect("json")
    };
    let first = with_seed(7);
    assert_eq!(first, with_seed(7));
    assert!(first.contains("er2-secondary"));
}

#[test]
fn the_prefix_limit_holds_down_only_the_circuit_without_premium() {
    // 5,000 synthetic prefixes on every circuit: over circuit 1's 4,000,
    // under circuit 2's 10,000 (Premium). Circuit 1's sessions stay down
    // and everything rides circuit 2.
    let report = steady(|s| {
        s.onprem.extra_er_prefixes = 5_000;
        if let Some(second) = &mut s.second_circuit {
            second.premium = true;
        }
    });
    let summary = report.summary();
    let state = |name: &str| {
        report
            .sessions
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, up, why)| (*up, why.is_some()))
    };
    assert_eq!(state("er-primary"), Some((false, true)), "{summary}");
    assert_eq!(state("er-secondary"), Some((false, true)), "{summary}");
    assert_eq!(state("er2-primary"), Some((true, false)), "{summary}");
    let (one, two) = circuit_frames(&report);
    assert_eq!(one, 0, "{summary}");
    assert!(two > 1000, "{summary}");
}
