//! `erdp verify` of an active-active VPN gateway: each gateway instance's
//! failure is a state of its own (both at once is not a single failure),
//! probes name the tunnel (the instance) they crossed in, and the built-in
//! `active-active` design stays encrypted under every single failure.
//!
//! Microsoft, "About highly available gateway connectivity" and
//! "Configure active-active VPN gateways": two instances, one tunnel and
//! one BGP session to each; with one instance down, the other carries the
//! traffic.

use std::collections::BTreeSet;

use erdp::scenario::builtin;
use erdp::verify::{Failure, Verdict, VerifyOptions, verify};

#[test]
fn each_instance_failure_is_a_state_and_every_state_stays_encrypted() {
    let scenario = builtin("active-active").expect("built-in").expect("parses");
    let report = verify(&scenario, &VerifyOptions::default()).expect("verifies");
    let names: Vec<&str> = report.states.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"instance 1 down") && names.contains(&"instance 2 down"));
    assert!(!names.contains(&"tunnel down"), "{names:?}");
    let instance = report
        .states
        .iter()
        .find(|s| s.name == "instance 2 down")
        .expect("state");
    assert_eq!(instance.failure, Failure::Instance { instance: 2 });

    let pairs = report.onprem_prefixes.len() * report.azure_prefixes.len();
    assert_eq!(report.matrix.len(), pairs * report.states.len());
    for cell in &report.matrix {
        assert_eq!(
            cell.verdict,
            Verdict::Encrypted,
            "{}: {}",
            cell.state,
            cell.line()
        );
    }
    assert!(!report.failed());

    // Steady: the probes spread over both tunnels; with an instance down,
    // every ESP crossing is in the other instance's tunnel.
    let tunnels = |state: &str| -> BTreeSet<&str> {
        report
            .matrix
            .iter()
            .filter(|c| c.state == state)
            .flat_map(|c| [&c.onprem_to_azure, &c.azure_to_onprem])
            .flat_map(|trip| &trip.crossings)
            .map(|crossing| crossing.tunnel.expect("active-active names the tunnel"))
            .collect()
    };
    assert_eq!(tunnels("steady"), BTreeSet::from(["vpn", "vpn2"]));
    assert_eq!(tunnels("instance 1 down"), BTreeSet::from(["vpn2"]));
    assert_eq!(tunnels("instance 2 down"), BTreeSet::from(["vpn"]));
}

#[test]
fn one_instance_keeps_the_tunnel_state_and_unnamed_crossings() {
    let scenario = builtin("design1").expect("built-in").expect("parses");
    let report = verify(&scenario, &VerifyOptions::default()).expect("verifies");
    assert!(report.states.iter().any(|s| s.failure == Failure::Tunnel));
    assert!(
        !report
            .states
            .iter()
            .any(|s| matches!(s.failure, Failure::Instance { .. }))
    );
    let crossings = report
        .matrix
        .iter()
        .flat_map(|c| [&c.onprem_to_azure, &c.azure_to_onprem])
        .flat_map(|trip| &trip.crossings);
    for crossing in crossings {
        assert_eq!(crossing.tunnel, None);
    }
}
