//! `[ike]`: the tunnel's SAs come from IKEv2 negotiated between the
//! on-premises edge (initiator) and the VPN gateway (responder) over the
//! emulated circuit, in virtual time: the VPN's BGP session waits for the
//! CHILD_SA, CHILD_SAs are rekeyed by lifetime without losing a packet
//! (make-before-break), and a gateway that stops is noticed by Dead Peer
//! Detection, which takes the VPN session and its routes down.
//!
//! Microsoft, "About cryptographic requirements and Azure VPN gateways"
//! (IPsec SA lifetime 27,000 s) and "VPN Gateway FAQ" (DPD timeout 45 s by
//! default) give the defaults; these tests shorten them.

use erdp::control::{TunnelReport, TunnelState};
use erdp::scenario::{FaultRecord, IkeSpec, RunOptions, RunReport, Scenario, builtin, run};

/// Design 1 without its faults, with `[ike]` at short lifetimes (10 s,
/// rekeyed 3 s before the end) and DPD after 2 s of silence, dead after
/// 6 s; one UDP flow each way from 0.2 s to 25 s.
fn ike_design() -> Scenario {
    let mut scenario = builtin("design1").expect("built-in").expect("parses");
    scenario.faults.clear();
    scenario.duration_ms = 60_000;
    scenario.ike = Some(IkeSpec {
        child_lifetime_s: 10,
        rekey_margin_s: Some(3),
        dpd_delay_s: 2,
        child_lifetime_kb: erdp::ike::AZURE_CHILD_LIFETIME_KB,
        dpd_timeout_s: 6,
    });
    scenario
        .flows
        .retain(|f| f.name == "probe" || f.name == "voice-ef");
    for flow in &mut scenario.flows {
        flow.start_ms = 200;
        flow.interval_ms = 10.0;
        flow.count = 2_480;
    }
    scenario
}

fn go(scenario: &Scenario) -> RunReport {
    run(scenario, &RunOptions::default()).expect("runs")
}

fn tunnel<'r>(report: &'r RunReport, node: &str) -> &'r TunnelReport {
    report
        .ike
        .iter()
        .find(|t| t.node == node && t.tunnel.interface == "vpn")
        .map(|t| &t.tunnel)
        .unwrap_or_else(|| panic!("{node}'s vpn in {:#?}", report.ike))
}

fn records<'r>(report: &'r RunReport, event: &str) -> Vec<&'r FaultRecord> {
    report
        .faults
        .iter()
        .filter(|r| r.event.contains(event))
        .collect()
}

#[test]
fn the_tunnel_negotiates_then_rekeys_without_losing_a_packet() {
    let report = go(&ike_design());
    let edge = tunnel(&report, "onprem-edge");
    let hub = tunnel(&report, "azure-hub");
    assert_eq!(edge.state, TunnelState::Up, "{:#?}", report.ike);
    assert_eq!(hub.state, TunnelState::Up);
    // Up within the first poll, then rekeyed every 7 s (10 s - 3 s) while
    // the flows run: 0, 7, 14, 21 s at least.
    let installed: Vec<f64> = edge.sas.iter().map(|sa| sa.installed_at_s).collect();
    assert!(installed.len() >= 4, "{installed:?}");
    assert!(installed[0] < 0.1, "{installed:?}");
    for pair in installed.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((6.9..7.2).contains(&gap), "rekeys every 7 s: {installed:?}");
    }
    // Both ends agree on every pair, and every SA but the newest was
    // deleted after its successor came (make-before-break).
    assert_eq!(hub.sas.len(), edge.sas.len(), "{:#?}", report.ike);
    for (ours, theirs) in edge.sas.iter().zip(&hub.sas) {
        assert_eq!(ours.outbound_spi, theirs.inbound_spi);
        assert_eq!(ours.inbound_spi, theirs.outbound_spi);
        assert_eq!(ours.lifetime_s, 10);
    }
    for pair in edge.sas.windows(2) {
        let deleted = pair[0].deleted_at_s.expect("old SA deleted");
        assert!(deleted >= pair[1].installed_at_s, "{:#?}", edge.sas);
    }
    // Nothing lost, nothing left in clear, across every rekey.
    for flow in &report.flows {
        assert_eq!(flow.sent, 2_480, "{}", report.summary());
        assert_eq!(flow.lost, 0, "{}: {}", flow.name, report.summary());
        assert!(flow.encrypted() && !flow.leaked(), "{}", report.summary());
    }
    assert!(!report.failed(), "{}", report.summary());
    // The VPN session came up with the first CHILD_SA, and stayed up.
    let up = records(&report, "BGP vpn up");
    assert_eq!(up.len(), 1, "{:#?}", report.faults);
    assert!(up[0].at_ms <= 100.0, "{:#?}", up[0]);
    assert!(records(&report, "BGP vpn DOWN").is_empty());
    assert_eq!(
        records(&report, "CHILD_SA installed").len(),
        edge.sas.len(),
        "each CHILD_SA is logged"
    );
    // Wireshark can decrypt every SA: one esp_sa line per SA, no repeats.
    assert_eq!(
        report.esp_sa.len(),
        2 * edge.sas.len(),
        "{:#?}",
        report.esp_sa
    );
    for sa in &edge.sas {
        let spi = format!("\"0x{:08x}\"", sa.outbound_spi);
        assert!(report.esp_sa.iter().any(|l| l.contains(&spi)), "{spi}");
    }
    assert!(
        edge.drops.is_empty() && hub.drops.is_empty(),
        "no IKE datagram dropped"
    );
    let summary = report.summary();
    let line = format!("  onprem-edge vpn up, {} SA pairs\n", edge.sas.len());
    assert!(
        summary.contains("IKE tunnels at the end:") && summary.contains(&line),
        "{summary}"
    );
}

#[test]
fn a_stopped_gateway_is_noticed_by_dead_peer_detection() {
    let mut scenario = ike_design();
    let fault = |at_ms: u64, kind: &str| {
        toml::from_str::<erdp::scenario::Fault>(&format!("at_ms = {at_ms}\nkind = \"{kind}\""))
            .expect("fault")
    };
    scenario.faults = vec![fault(3_000, "tunnel-down"), fault(15_000, "tunnel-up")];
    let report = go(&scenario);
    let down = records(&report, "BGP vpn DOWN");
    assert_eq!(down.len(), 1, "{}", report.summary());
    // Silent since the stop at 3 s: a liveness check after 2 s, dead 6 s
    // after the last news (and within the 20 ms the runner looks at).
    assert!(
        (9_000.0..9_100.0).contains(&down[0].at_ms),
        "{:#?}",
        down[0]
    );
    assert!(down[0].effect.contains("dead peer"), "{:#?}", down[0]);
    // Until then the edge still routes into the tunnel: those packets are
    // lost (the gateway has no SA), never sent in clear; after it, the
    // fail-closed policy drops what falls back onto the circuit.
    for flow in &report.flows {
        assert!(!flow.leaked(), "{}", report.summary());
        assert!(flow.lost > 0, "{}", report.summary());
    }
    // The gateway starts again at 15 s; the edge, which retries 10 s after
    // the failure, negotiates anew and the session returns.
    let up = records(&report, "BGP vpn up");
    assert_eq!(up.len(), 2, "{}", report.summary());
    assert!((19_000.0..19_200.0).contains(&up[1].at_ms), "{:#?}", up[1]);
    let edge = tunnel(&report, "onprem-edge");
    assert_eq!(edge.state, TunnelState::Up);
    let last = edge.sas.last().expect("an SA");
    assert!(last.installed_at_s >= 19.0, "{:#?}", edge.sas);
    // The pair from before the failure was deleted when the peer died.
    assert!(edge.sas[0].deleted_at_s.is_some_and(|at| at < 9.1));
}

#[test]
fn runs_with_ike_repeat_from_seed_to_seed() {
    let scenario = ike_design();
    let json = |report: &RunReport| {
        serde_json::to_string(&(&report.flows, &report.faults, &report.ike)).expect("json")
    };
    let first = json(&go(&scenario));
    assert_eq!(first, json(&go(&scenario)));
    let mut reseeded = scenario.clone();
    reseeded.seed += 1;
    assert_ne!(first, json(&go(&reseeded)), "SPIs follow the seed");
}

#[test]
fn ike_values_are_checked_with_their_line() {
    let design1 = erdp::scenario::BUILTIN[0].1;
    for (table, field) in [
        ("[ike]\nchild_lifetime_s = 5\n", "ike.child_lifetime_s"),
        (
            "[ike]\nchild_lifetime_s = 60\nrekey_margin_s = 60\n",
            "ike.rekey_margin_s",
        ),
        ("[ike]\ndpd_timeout_s = 0\n", "ike.dpd_timeout_s"),
    ] {
        let text = format!("{design1}\n{table}");
        let error = Scenario::from_toml_str(&text, "ike.toml")
            .expect_err(table)
            .to_string();
        assert!(error.contains(field), "{error}");
        assert!(error.contains("ike.toml:"), "{error}");
    }
    let unknown = format!("{design1}\n[ike]\nlifetime = 3\n");
    let error = Scenario::from_toml_str(&unknown, "ike.toml").expect_err("unknown field");
    assert!(error.to_string().contains("lifetime"), "{error}");
}

#[test]
fn a_failed_instance_is_noticed_by_dpd_and_the_other_tunnel_carries_on() {
    let mut scenario = builtin("active-active").expect("built-in").expect("parses");
    scenario.duration_ms = 60_000;
    scenario.ike = ike_design().ike;
    // Instance 2 fails at 2.5 s and stays down; flows start once both
    // tunnels are up.
    scenario.faults.retain(|f| f.at_ms == 2_500);
    for flow in &mut scenario.flows {
        flow.start_ms = flow.start_ms.max(200);
    }
    let report = go(&scenario);
    let down = records(&report, "BGP vpn2 DOWN");
    assert_eq!(down.len(), 1, "{}", report.summary());
    assert!(
        (8_500.0..8_600.0).contains(&down[0].at_ms),
        "6 s after the failure: {:#?}",
        down[0]
    );
    assert!(records(&report, "BGP vpn DOWN").is_empty());
    let edge_vpn2 = report
        .ike
        .iter()
        .find(|t| t.node == "onprem-edge" && t.tunnel.interface == "vpn2")
        .map(|t| &t.tunnel)
        .expect("vpn2");
    assert_ne!(edge_vpn2.state, TunnelState::Up, "{:#?}", report.ike);
    assert_eq!(tunnel(&report, "onprem-edge").state, TunnelState::Up);
    // Every transfer completes, every packet covered by a policy in ESP.
    assert!(!report.failed(), "{}", report.summary());
    for flow in &report.flows {
        assert!(!flow.leaked(), "{}", report.summary());
    }
}

#[test]
fn a_child_sa_is_rekeyed_by_volume() {
    // Azure's time lifetime (27,000 s) never comes due; 8,000 KB does,
    // several times during a 48 MB upload over 50 Mbit/s links. (Volume
    // limits are checked every 50 ms of virtual time, 0.3 MB at this rate:
    // well within the 10 % between the soft and the hard limit.)
    let mut scenario = ike_design();
    for link in [
        &mut scenario.circuit.primary,
        &mut scenario.circuit.secondary,
    ] {
        link.rate_mbps = 50.0;
    }
    scenario.ike = Some(IkeSpec {
        child_lifetime_kb: 8_000,
        ..IkeSpec::default()
    });
    scenario.flows = builtin("design1")
        .expect("built-in")
        .expect("parses")
        .flows
        .into_iter()
        .filter(|f| f.name == "upload")
        .collect();
    scenario.flows[0].bytes = 48_000_000;
    scenario.flows[0].start_ms = 200;
    let report = go(&scenario);
    assert!(!report.failed(), "{}", report.summary());
    assert!(report.flows.iter().all(|f| f.verified == Some(true)));
    let edge = tunnel(&report, "onprem-edge");
    // 48 MB of TCP payload, 8,000 KB of inner bytes per SA: the first
    // pair and five rekeys, one at a time (no collision: the edge's comes
    // first), spread over the transfer.
    assert_eq!(edge.sas.len(), 6, "{:#?}", edge.sas);
    for pair in edge.sas.windows(2) {
        assert!(
            pair[1].installed_at_s - pair[0].installed_at_s > 0.5,
            "{:#?}",
            edge.sas
        );
    }
    for sa in &edge.sas {
        assert_eq!(sa.lifetime_kb, Some(8_000));
    }
    // No SA reached its hard limit: nothing was dropped as expired.
    let counters = serde_json::to_string(&report.nodes).expect("json");
    assert!(!counters.contains("sa_expired"), "{counters}");
    assert_eq!(
        tunnel(&report, "azure-hub").sas.len(),
        edge.sas.len(),
        "the edge rekeys, the gateway follows"
    );
    assert!(records(&report, "BGP vpn DOWN").is_empty());
}
