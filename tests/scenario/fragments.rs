//! ESP fragments over the circuit: with `onprem.tunnel_df = "clear"` (a
//! router's "df-bit clear") the edge fragments an outer ESP packet larger
//! than the circuit's MTU (RFC 4303 section 3.3.5: after encryption) and
//! the VPN gateway reassembles it before decapsulation (section 3.4.1);
//! the report counts what each node's reassembly did. With the default
//! (`copy`, and hosts that set DF) the same packets are refused
//! (`tunnel_outer_too_big`) and nothing is reassembled.

use erdp::esp::DfMode;
use erdp::scenario::{IkeSpec, NodeReassembly, RunOptions, RunReport, Scenario, builtin, run};

/// Design 1's ping flow only, with a 1,400-byte circuit and 100 UDP
/// datagrams of 1,350 bytes from on-premises: inner 1,378 bytes fit the
/// tunnel's MTU (1,400), the outer ESP packet (about 1,430) does not fit
/// the circuit's.
fn big_datagrams(df: DfMode) -> Scenario {
    let mut scenario = builtin("design1").expect("built-in").expect("parses");
    scenario.faults.clear();
    scenario.duration_ms = 3_000;
    for link in [
        &mut scenario.circuit.primary,
        &mut scenario.circuit.secondary,
    ] {
        link.mtu = 1_400;
    }
    scenario.onprem.tunnel_df = df;
    scenario.flows.retain(|f| f.name == "voice-ef");
    let flow = &mut scenario.flows[0];
    flow.count = 100;
    flow.interval_ms = 10.0;
    flow.payload = 1_350;
    flow.start_ms = 200;
    scenario
}

fn go(scenario: &Scenario) -> RunReport {
    run(scenario, &RunOptions::default()).expect("runs")
}

fn reassembly<'r>(report: &'r RunReport, node: &str) -> &'r NodeReassembly {
    report
        .reassembly
        .iter()
        .find(|r| r.node == node)
        .unwrap_or_else(|| panic!("{node} in {:?}", report.reassembly))
}

fn dropped(report: &RunReport, node: usize, reason: &str) -> u64 {
    let counters = serde_json::to_value(&report.nodes[node]).expect("json");
    counters["input"]["dropped_by_reason"][reason]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn with_df_clear_the_gateway_reassembles_every_outer_packet() {
    for ike in [None, Some(IkeSpec::default())] {
        let mut scenario = big_datagrams(DfMode::Clear);
        scenario.ike = ike.clone();
        let report = go(&scenario);
        let flow = &report.flows[0];
        assert_eq!((flow.sent, flow.lost), (100, 0), "{}", report.summary());
        assert!(flow.encrypted() && !flow.leaked(), "{}", report.summary());
        // Two fragments per outer packet, every datagram completed at the
        // gateway's tunnel endpoint; the edge and the MSEE hold nothing.
        let hub = reassembly(&report, "azure-hub").stats;
        assert_eq!(hub.completed, 100, "ike {}: {hub:?}", ike.is_some());
        assert_eq!(hub.fragments_held, 200);
        assert_eq!(hub.timed_out + hub.discarded + hub.fragments_lost, 0);
        assert_eq!(reassembly(&report, "onprem-edge").stats.fragments_held, 0);
        // The edge's must-encrypt policy counts each datagram once, not
        // each fragment of its ESP packet.
        let edge = &report.policies[0];
        assert_eq!(edge.node, "onprem-edge");
        assert_eq!(edge.policies[0].encrypted, 100, "{:?}", edge.policies);
        assert_eq!(reassembly(&report, "msee").stats.fragments_held, 0);
        assert!(
            report
                .summary()
                .contains("reassembly at azure-hub: 200 fragments held, 100 datagrams completed"),
            "{}",
            report.summary()
        );
    }
}

#[test]
fn with_df_copied_from_the_hosts_the_edge_refuses_and_nothing_is_reassembled() {
    let report = go(&big_datagrams(DfMode::Copy));
    assert_eq!(report.flows[0].lost, 100, "{}", report.summary());
    assert_eq!(dropped(&report, 0, "tunnel_outer_too_big"), 100);
    assert!(
        report
            .reassembly
            .iter()
            .all(|r| r.stats.fragments_held == 0),
        "{:?}",
        report.reassembly
    );
    assert!(!report.summary().contains("reassembly at"));
}
