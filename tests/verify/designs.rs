//! `erdp verify` on the built-in designs: every (on-prem prefix, Azure
//! prefix) pair probed both ways through the real nodes, steady and under
//! each single failure. The matrix holds pairs x states cells (pairs x 2 x
//! states probes); design 1 is encrypted in the steady state and under
//! either link failure, and its fail-closed policies blackhole what the
//! tunnel's failure would otherwise leak; design 2's DMZ pair is
//! asymmetric, as Azure routes it.

use erdp::scenario::builtin;
use erdp::verify::{Failure, Verdict, VerifyOptions, VerifyReport, verify};
use ipnet::IpNet;

fn verify_builtin(name: &str) -> VerifyReport {
    let scenario = builtin(name).expect("built-in").expect("parses");
    verify(&scenario, &VerifyOptions::default()).expect("verifies")
}

fn net(text: &str) -> IpNet {
    text.parse().expect("prefix")
}

fn assert_matrix_is_complete(report: &VerifyReport) {
    let pairs = report.onprem_prefixes.len() * report.azure_prefixes.len();
    assert!(pairs > 0);
    assert_eq!(report.matrix.len(), pairs * report.states.len());
    assert_eq!(report.probes, pairs * 2 * report.states.len());
    for state in &report.states {
        let cells = report.matrix.iter().filter(|c| c.state == state.name);
        assert_eq!(cells.count(), pairs, "{}", state.name);
    }
}

#[test]
fn design1_states_are_every_single_failure_of_one_circuit() {
    let report = verify_builtin("design1");
    let names: Vec<&str> = report.states.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "steady",
            "er-primary down",
            "er-secondary down",
            "circuit-1 down",
            "tunnel down",
            "onprem withdraws 10.0.0.0/17 from the VPN",
            "onprem withdraws 10.0.128.0/17 from the VPN",
            "azure withdraws 10.1.0.0/16 from the VPN",
        ]
    );
    assert_eq!(
        report.onprem_prefixes,
        [net("10.0.0.0/16"), net("10.0.0.0/17"), net("10.0.128.0/17")]
    );
    assert_eq!(report.azure_prefixes, [net("10.1.0.0/16")]);
    assert_matrix_is_complete(&report);
}

#[test]
fn design1_is_encrypted_both_ways_steady_and_with_either_link_down() {
    // Microsoft, "About ExpressRoute encryption" (Virtual WAN): on-premises
    // advertises more specific prefixes over the VPN so that Azure, which
    // prefers ExpressRoute for identical prefixes ("Virtual hub routing
    // preference"), sends the return traffic into the tunnel.
    let report = verify_builtin("design1");
    for state in ["steady", "er-primary down", "er-secondary down"] {
        for cell in report.matrix.iter().filter(|c| c.state == state) {
            assert_eq!(cell.verdict, Verdict::Encrypted, "{state}: {}", cell.line());
            assert!(cell.onprem_to_azure.encrypted() && cell.azure_to_onprem.encrypted());
        }
    }
    // With er-primary down, nothing crosses it.
    for cell in report
        .matrix
        .iter()
        .filter(|c| c.state == "er-primary down")
    {
        for trip in [&cell.onprem_to_azure, &cell.azure_to_onprem] {
            assert!(
                trip.crossings.iter().all(|c| c.link == "er-secondary"),
                "{}",
                cell.line()
            );
        }
    }
}

#[test]
fn a_failure_state_that_blackholes_is_reported_as_blackholed() {
    // design1's policies fail closed (policy = "drop"): with the tunnel down,
    // the edge drops what would leave in plaintext instead of leaking it.
    let report = verify_builtin("design1");
    let cell = report
        .cell("tunnel down", net("10.0.0.0/17"), net("10.1.0.0/16"))
        .expect("cell");
    assert_eq!(cell.verdict, Verdict::Blackholed, "{}", cell.line());
    let dropped = cell.onprem_to_azure.dropped.as_deref().unwrap_or("");
    assert!(
        dropped.contains("policy_violation at onprem-edge"),
        "{dropped}"
    );
    assert!(!cell.onprem_to_azure.arrived);
    // One circuit down takes the tunnel's underlay with it: no route at all.
    let circuit = report
        .cell("circuit-1 down", net("10.0.0.0/17"), net("10.1.0.0/16"))
        .expect("cell");
    assert_eq!(circuit.verdict, Verdict::Blackholed, "{}", circuit.line());
    assert!(report.failed());
    let tunnel = report
        .states
        .iter()
        .find(|s| s.name == "tunnel down")
        .expect("state");
    assert_eq!(tunnel.failure, Failure::Tunnel);
}

#[test]
fn design2_dmz_pair_is_asymmetric() {
    // design2 advertises its DMZ 10.2.0.0/16 over ExpressRoute only: the
    // edge still prefers the VPN for the VNet (LOCAL_PREF 200), the hub has
    // only the ExpressRoute route back to the DMZ.
    let report = verify_builtin("design2");
    assert_matrix_is_complete(&report);
    let dmz = report
        .cell("steady", net("10.2.0.0/16"), net("10.1.0.0/16"))
        .expect("cell");
    assert_eq!(dmz.verdict, Verdict::Asymmetric, "{}", dmz.line());
    assert!(dmz.onprem_to_azure.encrypted());
    assert!(!dmz.azure_to_onprem.encrypted());
    let lan = report
        .cell("steady", net("10.0.0.0/16"), net("10.1.0.0/16"))
        .expect("cell");
    assert_eq!(lan.verdict, Verdict::Encrypted, "{}", lan.line());
    assert!(report.failed());
}

#[test]
fn two_circuits_survive_each_circuit_failure_encrypted() {
    let report = verify_builtin("two-circuits");
    // Steady, four links, two circuits, the tunnel, and each of the two
    // on-prem and one Azure VPN prefixes withdrawn.
    assert_eq!(report.states.len(), 11);
    assert_matrix_is_complete(&report);
    for state in [
        "steady",
        "circuit-1 down",
        "circuit-2 down",
        "er-primary down",
    ] {
        for cell in report.matrix.iter().filter(|c| c.state == state) {
            assert_eq!(cell.verdict, Verdict::Encrypted, "{state}: {}", cell.line());
        }
    }
}

#[test]
fn effective_routes_say_why_the_edge_prefers_the_vpn() {
    let report = verify_builtin("design1");
    let edge = report
        .effective_routes
        .iter()
        .find(|t| t.state == "steady" && t.node == "onprem-edge")
        .expect("edge table");
    let vnet: Vec<_> = edge
        .routes
        .iter()
        .filter(|r| r.address_prefix == net("10.1.0.0/16"))
        .collect();
    let active: Vec<_> = vnet.iter().filter(|r| r.state == "Active").collect();
    assert_eq!(active.len(), 1, "{vnet:?}");
    assert_eq!(active[0].next_hop_type, "VPN tunnel");
    assert_eq!(active[0].session, "vpn");
    assert_eq!(active[0].why, "LOCAL_PREF 200");
    assert!(
        vnet.iter()
            .any(|r| r.state == "Invalid" && r.session == "er-primary")
    );
    let hub = report
        .effective_routes
        .iter()
        .find(|t| t.state == "steady" && t.node == "azure-hub")
        .expect("hub table");
    let specific = hub
        .routes
        .iter()
        .find(|r| r.address_prefix == net("10.0.0.0/17") && r.state == "Active")
        .expect("hub route");
    assert_eq!(specific.next_hop_type, "VPN tunnel");
    assert!(
        specific.why.starts_with("longest prefix over 10.0.0.0/16"),
        "{}",
        specific.why
    );
}

#[test]
fn synthetic_matrix_has_pairs_times_states_cells_all_encrypted_when_steady() {
    let scenario = erdp::verify::synthetic(5, 4).expect("builds");
    let report = verify(&scenario, &VerifyOptions::default()).expect("verifies");
    assert_eq!(report.onprem_prefixes.len(), 5);
    assert_eq!(report.azure_prefixes.len(), 4);
    // Steady, four links, two circuits, the tunnel (8), and each VPN prefix
    // withdrawn: on-prem's 4 more specifics and Azure's 4 VNet prefixes.
    assert_eq!(report.states.len(), 16);
    assert_matrix_is_complete(&report);
    assert_eq!(report.probes, 5 * 4 * 2 * 16);
    let steady = report.totals.first().expect("totals");
    assert_eq!(steady.encrypted, 20, "{}", report.summary(100));
}

#[test]
fn nothing_verified_never_reports_success() {
    // Azure advertises only IPv6 to an IPv4 VNet host: no pair to probe.
    let mut scenario = builtin("design1").expect("built-in").expect("parses");
    scenario.azure.advertise_er = vec![net("fd00:1::/48")];
    scenario.azure.advertise_vpn = vec![net("fd00:1::/48")];
    let report = verify(&scenario, &VerifyOptions::default()).expect("verifies");
    assert!(report.matrix.is_empty());
    assert!(report.failed());
    assert!(
        report.summary(10).contains("nothing verified"),
        "{}",
        report.summary(10)
    );
}
