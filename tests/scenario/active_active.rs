//! An active-active VPN gateway (`[vpn_gateway] active_active = true`):
//! two gateway instances, a tunnel to each from the on-premises edge
//! (`vpn`, `vpn2`) with its own SA pair and BGP session, flows spread over
//! both by flow hash; an instance failure withdraws its session's routes
//! and the other tunnel carries everything, still encrypted.
//!
//! Microsoft, "Configure active-active VPN gateways" and "About highly
//! available gateway connectivity": each instance of an active-active
//! gateway has its own tunnel IP; the on-premises device connects to both,
//! one tunnel and one BGP session per instance, and traffic uses both;
//! when one instance goes down, the other carries the traffic.

use erdp::scenario::{
    FaultKind, FlowResult, RunOptions, RunReport, Scenario, ScenarioError, builtin, node_configs,
    run,
};

fn active_active() -> Scenario {
    builtin("active-active").expect("built-in").expect("parses")
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

/// Packets of the flow encrypted into each tunnel (`vpn`, `vpn2`), both
/// directions.
fn tunnel_packets(flow: &FlowResult) -> [u64; 2] {
    let at = |i: usize| {
        flow.forward.tunnels.get(i).copied().unwrap_or(0)
            + flow.reverse.tunnels.get(i).copied().unwrap_or(0)
    };
    [at(0), at(1)]
}

#[test]
fn each_instance_has_its_own_tunnel_and_sa_pair() {
    let configs = node_configs(&active_active()).expect("configs");
    let tunnels = |config: &erdp::config::NodeConfig| -> Vec<(String, u32, u32, String)> {
        config
            .interfaces
            .iter()
            .filter_map(|i| match &i.kind {
                erdp::config::InterfaceKind::EspTunnel(t) => {
                    let (sa_out, sa_in) = t.static_sas().expect("static SAs");
                    Some((i.name.clone(), sa_out.spi, sa_in.spi, t.remote.to_string()))
                }
                erdp::config::InterfaceKind::Ethernet(_) => None,
            })
            .collect()
    };
    let edge = tunnels(&configs.edge);
    assert_eq!(
        edge,
        [
            ("vpn".into(), 0x1001, 0x2001, "10.100.255.4".into()),
            ("vpn2".into(), 0x1002, 0x2002, "10.100.255.5".into()),
        ]
    );
    let hub = tunnels(&configs.hub);
    assert_eq!(
        hub,
        [
            ("vpn".into(), 0x2001, 0x1001, "192.168.255.1".into()),
            ("vpn2".into(), 0x2002, 0x1002, "192.168.255.1".into()),
        ]
    );
}

#[test]
fn flows_spread_over_both_tunnels_and_an_instance_failure_is_absorbed() {
    let scenario = active_active();
    assert!(
        scenario
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::InstanceDown && f.instance == Some(2))
    );
    let report = go(&scenario);
    assert!(!report.failed(), "{}", report.summary());

    // Both tunnels carry flows: each tunnel carried some flow's packets.
    let totals = report
        .flows
        .iter()
        .map(tunnel_packets)
        .fold([0, 0], |a, b| [a[0] + b[0], a[1] + b[1]]);
    assert!(totals[0] > 0 && totals[1] > 0, "{totals:?}");

    // Every flow completes, every packet crossed in ESP, none leaked.
    for flow in &report.flows {
        assert!(!flow.leaked(), "{}", flow.name);
        assert!(flow.encrypted(), "{}: {:?}", flow.name, flow.forward);
        assert_ne!(flow.verified, Some(false), "{}", flow.name);
        assert_eq!(flow.lost, 0, "{}", flow.name);
        // Tunnel counts add up to the ESP packets the edges sent.
        let esp: u64 = flow.forward.encrypted.iter().sum();
        assert_eq!(
            flow.forward.tunnels.iter().sum::<u64>(),
            esp,
            "{}",
            flow.name
        );
    }

    // The 60 MB download from Azure began on instance 2's tunnel and
    // finished on instance 1's: the failure moved it, nothing was lost.
    let moved = flow(&report, "failover-down");
    assert!(moved.forward.tunnels.iter().all(|n| *n > 0), "{moved:?}");
    assert!(moved.forward.describe().contains("via vpn+vpn2"));

    // The failure is in the timeline: instance 2's session down, then up.
    let events: Vec<&str> = report.faults.iter().map(|f| f.event.as_str()).collect();
    assert!(events.contains(&"BGP vpn2 DOWN"), "{events:?}");
    assert!(events.contains(&"BGP vpn2 up"), "{events:?}");
    let down = report
        .faults
        .iter()
        .find(|f| f.event == "BGP vpn2 DOWN")
        .expect("record");
    assert!(down.effect.contains("VPN gateway instance 2 failed"));
    assert_eq!(down.lasted_ms, Some(3500.0));
    let sessions: Vec<&str> = report.sessions.iter().map(|s| s.0.as_str()).collect();
    assert!(sessions.contains(&"vpn") && sessions.contains(&"vpn2"));
    assert_eq!(report.esp_sa.len(), 4, "one SA each way per tunnel");
}

#[test]
fn with_instance_two_down_for_good_everything_takes_instance_ones_tunnel() {
    let mut scenario = active_active();
    scenario.faults.retain(|f| f.kind != FaultKind::InstanceUp);
    for fault in &mut scenario.faults {
        fault.at_ms = 1;
    }
    scenario.flows.retain(|f| f.start_ms > 0);
    for flow in &mut scenario.flows {
        flow.bytes = 2_000_000;
    }
    let report = go(&scenario);
    assert!(!report.failed(), "{}", report.summary());
    for flow in &report.flows {
        assert_eq!(tunnel_packets(flow)[1], 0, "{}: {flow:?}", flow.name);
        assert!(flow.encrypted(), "{}", flow.name);
    }
}

#[test]
fn one_instance_keeps_the_single_tunnel_report() {
    // Without [vpn_gateway], one tunnel: no per-tunnel counts, and the
    // report's paths read as before.
    let scenario = builtin("design1").expect("built-in").expect("parses");
    assert!(!scenario.vpn_gateway.active_active);
    let configs = node_configs(&scenario).expect("configs");
    assert!(configs.edge.interface_id("vpn2").is_none());
}

/// The one problem of `text`: (line, message).
fn parse_error(text: &str) -> (usize, String) {
    match Scenario::from_toml_str(text, "s.toml") {
        Err(ScenarioError::File(error)) => {
            let p = &error.problems()[0];
            (p.line, format!("{}: {}", p.field, p.message))
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn instance_faults_need_an_active_active_gateway_and_an_instance() {
    let text = erdp::scenario::BUILTIN
        .iter()
        .find(|(name, _)| *name == "active-active")
        .expect("listed")
        .1;
    let bad = text.replacen("instance = 2", "instance = 3", 1);
    let (line, message) = parse_error(&bad);
    assert_eq!(line, line_of(&bad, "instance = 3"), "{message}");
    assert!(message.contains("fault[0].instance"), "{message}");

    let bad = text.replacen("active_active = true", "active_active = false", 1);
    let (_, message) = parse_error(&bad);
    assert!(
        message.contains("[vpn_gateway] active_active = true"),
        "{message}"
    );

    let bad = text.replacen("instance = 2\n", "", 1);
    let (_, message) = parse_error(&bad);
    assert!(message.contains("needs an instance"), "{message}");

    let bad = text.replacen(
        "active_active = true",
        "active_active = true\ninstances = 2",
        1,
    );
    let (line, message) = parse_error(&bad);
    assert_eq!(line, line_of(&bad, "instances = 2"), "{message}");
}
