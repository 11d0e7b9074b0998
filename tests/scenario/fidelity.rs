//! What erdp models as Microsoft documents it: BFD timers on the MSEE, the
//! private peering prefix limits (reset and recovery on the fault
//! timeline), the 1,000-prefix limit toward on-premises, Azure's identical
//! advertisement of its address spaces over ExpressRoute and the VPN (and
//! the tunnel-recursion trap it sets), and route changes in the fault
//! timeline. Each test cites the page it follows.

use erdp::scenario::{
    Fault, FaultKind, RunOptions, RunReport, Scenario, ScenarioError, Side, builtin, run,
};
use ipnet::IpNet;

fn load(name: &str) -> Scenario {
    builtin(name).expect("built-in").expect("parses")
}

fn go(scenario: &Scenario) -> RunReport {
    run(scenario, &RunOptions::default()).expect("runs")
}

fn route_change(at_ms: u64, kind: FaultKind, from: Option<Side>, over: &str) -> Fault {
    Fault {
        at_ms,
        kind,
        link: None,
        down_ms: 500,
        up_ms: 500,
        count: 3,
        from,
        over: (!over.is_empty()).then(|| over.to_string()),
        prefixes: Vec::new(),
        value: None,
        instance: None,
    }
}

fn events(report: &RunReport) -> Vec<(f64, &str)> {
    report
        .faults
        .iter()
        .map(|f| (f.at_ms, f.event.as_str()))
        .collect()
}

fn file_error(text: &str) -> String {
    match Scenario::from_toml_str(text, "s.toml") {
        Err(ScenarioError::File(e)) => e.to_string(),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

// "Configure BFD over ExpressRoute": BFD on the MSEE runs at 300 ms
// intervals with multiplier 3 and cannot be lowered; without BFD the MSEE's
// BGP hold time is 180 s (keepalive 60 s).
#[test]
fn bfd_defaults_are_the_msees_and_cannot_be_lowered() {
    let design1 = load("design1");
    assert!(design1.circuit.bfd);
    assert_eq!(design1.circuit.detection_ms(), 900);
    let mut off = design1.circuit.clone();
    off.bfd = false;
    assert_eq!(off.detection_ms(), 180_000);
    assert!(off.detection_note().is_some_and(|n| n.contains("180 s")));

    let text = erdp::scenario::BUILTIN[0].1;
    let bad = text.replacen(
        "bfd = true",
        "bfd = true\nbfd_interval_ms = 100\nbfd_multiplier = 2",
        1,
    );
    let err = file_error(&bad);
    let line = line_of(&bad, "bfd_interval_ms");
    assert!(
        err.contains(&format!("s.toml:{line}:")) && err.contains("circuit.bfd_interval_ms"),
        "{err}"
    );
    assert!(
        err.contains("300 ms") && err.contains("cannot be lowered"),
        "{err}"
    );
    let line = line_of(&bad, "bfd_multiplier");
    assert!(
        err.contains(&format!("s.toml:{line}:")) && err.contains("circuit.bfd_multiplier"),
        "{err}"
    );
    let bad = text.replacen("bfd = true", "bfd = false\nhold_time_s = 3", 1);
    let err = file_error(&bad);
    assert!(
        err.contains("circuit.hold_time_s") && err.contains("10"),
        "{err}"
    );
}

// "Configure BFD over ExpressRoute": without BFD, a link failure waits for
// the BGP hold time; the report says the scenario chose it.
#[test]
fn without_bfd_the_hold_time_detects_the_failure() {
    let mut scenario = load("design1");
    scenario.circuit.bfd = false;
    scenario.circuit.hold_time_s = 10;
    scenario.flows.retain(|f| f.name == "ping");
    scenario.faults.truncate(1); // er-primary down at 2 s
    let report = go(&scenario);
    let bgp = report
        .faults
        .iter()
        .find(|f| f.event == "BGP er-primary DOWN")
        .expect("session down");
    assert_eq!(bgp.at_ms, 12_000.0, "{}", report.summary());
    assert!(
        report.notes.iter().any(|n| n.contains("BFD off")),
        "{:?}",
        report.notes
    );
}

// ExpressRoute FAQ: when on-premises advertises more prefixes than the
// private peering limit the session is reset (Cease, maximum prefixes), and
// it comes back once the count is under the limit again; IPv6: 100.
#[test]
fn a_prefix_limit_resets_the_sessions_and_they_recover() {
    let mut scenario = load("design1");
    scenario.faults.clear();
    scenario.flows.retain(|f| f.name == "ping");
    scenario.onprem.extra_er_prefixes = 3_998; // + 10.0.0.0/16 + endpoint = 4,000
    let mut over = route_change(1_000, FaultKind::Advertise, Some(Side::Onprem), "er");
    over.prefixes = vec!["10.50.0.0/16".parse().unwrap()];
    let mut under = route_change(2_000, FaultKind::Withdraw, Some(Side::Onprem), "er");
    under.prefixes = over.prefixes.clone();
    let mut v6 = route_change(3_000, FaultKind::Advertise, Some(Side::Onprem), "er");
    v6.prefixes = (0..101)
        .map(|i| format!("2001:db8:{i:x}::/48").parse::<IpNet>().unwrap())
        .collect();
    let mut v6_back = route_change(3_500, FaultKind::Withdraw, Some(Side::Onprem), "er");
    v6_back.prefixes = v6.prefixes[..1].to_vec();
    scenario.faults = vec![over, under, v6, v6_back];
    scenario.duration_ms = 6_000;
    let report = go(&scenario);
    let summary = report.summary();
    let seen = events(&report);
    for (at, event) in [
        (1_000.0, "BGP er-primary DOWN"),
        (1_000.0, "BGP er-secondary DOWN"),
        (2_000.0, "BGP er-primary up"),
        (3_000.0, "BGP er-primary DOWN"),
        (3_500.0, "BGP er-secondary up"),
    ] {
        assert!(seen.contains(&(at, event)), "{event} at {at}: {summary}");
    }
    let reset = report
        .faults
        .iter()
        .find(|f| f.at_ms == 1_000.0 && f.event == "BGP er-primary DOWN")
        .expect("reset");
    assert!(
        reset.effect.contains("Cease") && reset.effect.contains("4001"),
        "{summary}"
    );
    let v6_reset = report
        .faults
        .iter()
        .find(|f| f.at_ms == 3_000.0 && f.event == "BGP er-primary DOWN")
        .expect("IPv6 reset");
    assert!(v6_reset.effect.contains("101 IPv6"), "{summary}");
    assert!(report.sessions.iter().all(|s| s.1), "recovered: {summary}");
}

// Virtual WAN "ExpressRoute encryption": Azure advertises the hub's address
// space, which holds the VPN gateway's private tunnel endpoint, over the VPN
// as over ExpressRoute. An edge that prefers the VPN for it routes the
// tunnel into itself: a design error, with the prefix.
#[test]
fn the_recursion_scenario_reports_the_design_error_and_its_prefix() {
    let report = go(&load("recursion"));
    let summary = report.summary();
    let error = report
        .verdicts
        .iter()
        .find(|v| v.level == "design-error")
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        error.message.contains("10.100.255.0/27") && error.message.contains("10.100.255.4"),
        "{summary}"
    );
    assert!(error.message.contains("Fix:"), "{summary}");
    assert!(report.failed(), "{summary}");
    let edge = &report.nodes[0];
    let recursed =
        serde_json::to_value(edge).unwrap()["input"]["dropped_by_reason"]["tunnel_recursion"]
            .as_u64()
            .unwrap_or(0);
    assert!(recursed > 0, "the dataplane drops them too: {summary}");
    // The default import keeps the endpoint on ExpressRoute: no error.
    let mut fixed = load("recursion");
    fixed.onprem.vpn_import = erdp::scenario::VpnImport::ExcludeTunnelEndpoint;
    let report = go(&fixed);
    assert!(!report.failed(), "{}", report.summary());
    assert!(report.verdicts.iter().all(|v| v.level != "design-error"));
}

// Route changes in the fault timeline: the leak begins when on-premises
// advertises, over ExpressRoute, prefixes identical to its VPN ones (Azure
// prefers ExpressRoute for identical prefixes: "ExpressRoute encryption").
#[test]
fn a_leak_begins_when_identical_prefixes_are_advertised() {
    let mut scenario = load("design1");
    scenario.faults.clear();
    scenario.flows.retain(|f| f.name == "probe");
    for flow in &mut scenario.flows {
        flow.count = 1_000;
    }
    let mut change = route_change(1_000, FaultKind::Advertise, Some(Side::Onprem), "er");
    change.prefixes = vec![
        "10.0.0.0/17".parse().unwrap(),
        "10.0.128.0/17".parse().unwrap(),
    ];
    let mut prepend = route_change(1_500, FaultKind::LocalPref, None, "vpn");
    prepend.value = Some(50);
    scenario.faults = vec![change, prepend];
    scenario.onprem.policy = erdp::config::PolicyAction::Report;
    scenario.azure.policy = erdp::config::PolicyAction::Report;
    let report = go(&scenario);
    let summary = report.summary();
    let advertised = report
        .faults
        .iter()
        .find(|f| f.event.starts_with("route change: on-premises advertises"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(advertised.at_ms, 1_000.0);
    assert!(
        advertised.event.contains("10.0.128.0/17 over er"),
        "{summary}"
    );
    assert!(
        events(&report).contains(&(
            1_500.0,
            "route change: the edge gives routes over vpn LOCAL_PREF 50"
        )),
        "{summary}"
    );
    let probe = &report.flows[0];
    // Before 1 s the probe rode the tunnel; after, it left in plaintext.
    assert!(
        probe.forward.encrypted.iter().sum::<u64>() > 300,
        "{summary}"
    );
    assert!(probe.forward.violations > 300, "{summary}");
    assert!(
        report.verdicts.iter().any(|v| v.level == "leak"),
        "{summary}"
    );
}

#[test]
fn route_change_errors_name_the_file_line_and_field() {
    let text = erdp::scenario::BUILTIN[0].1;
    let bad = format!(
        "{text}\n[[fault]]\nat_ms = 100\nkind = \"advertise\"\nfrom = \"azure\"\nover = \"vpn\"\nprefixes = [\"10.9.0.1/16\"]\n"
    );
    let err = file_error(&bad);
    assert!(
        err.contains("fault[4].over") && err.contains("identically"),
        "{err}"
    );
    let line = line_of(&bad, "10.9.0.1/16");
    assert!(
        err.contains(&format!("s.toml:{line}:")) && err.contains("fault[4].prefixes[0]"),
        "{err}"
    );
    let bad = format!("{text}\n[[fault]]\nat_ms = 100\nkind = \"local-pref\"\nover = \"er3\"\n");
    let err = file_error(&bad);
    assert!(
        err.contains("fault[4].over") && err.contains("er3"),
        "{err}"
    );
    assert!(err.contains("fault[4].value"), "{err}");
}

// Virtual WAN "ExpressRoute encryption": Azure advertises a VNet address
// space identically over ExpressRoute and the VPN, so one route change adds
// it on both ER sessions and the VPN session at the edge; a prepend change
// is recorded with its virtual time.
#[test]
fn an_azure_advertisement_reaches_the_edge_over_both_paths() {
    let mut scenario = load("design1");
    scenario.faults.clear();
    scenario.flows.retain(|f| f.name == "ping");
    let mut vnet = route_change(1_000, FaultKind::Advertise, Some(Side::Azure), "");
    vnet.prefixes = vec!["10.3.0.0/16".parse().unwrap()];
    let mut prepend = route_change(1_200, FaultKind::Prepend, None, "circuit-1");
    prepend.value = Some(3);
    scenario.faults = vec![vnet, prepend];
    let report = go(&scenario);
    let summary = report.summary();
    let before = report.faults[0].routes.expect("counts").edge;
    let change = report
        .faults
        .iter()
        .find(|f| f.at_ms == 1_000.0)
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        change.event.contains("Azure advertises 10.3.0.0/16"),
        "{summary}"
    );
    assert_eq!(change.routes.expect("counts").edge, before + 3, "{summary}");
    assert!(
        events(&report).contains(&(
            1_200.0,
            "route change: on-premises prepends its AS 3 times over circuit-1"
        )),
        "{summary}"
    );
}
