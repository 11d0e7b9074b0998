//! `erdp verify` finds the leaks: the identical-prefix leak (Azure's return
//! traffic in plaintext, flagged by the hub's must-encrypt policy) and the
//! DMZ's asymmetric pair that `erdp run` cannot see because the DMZ host
//! sends nothing. The CLI exits 1 on either and writes the whole matrix to
//! report.json.

use crate::support;

use support::cli::erdp;

use erdp::scenario::builtin;
use erdp::verify::{Verdict, VerifyOptions, verify};
use ipnet::IpNet;

fn net(text: &str) -> IpNet {
    text.parse().expect("prefix")
}

#[test]
fn leak_pair_is_a_leak_azure_to_onprem_in_plaintext() {
    // Microsoft, "Virtual hub routing preference": for identical prefixes
    // the hub prefers ExpressRoute, so the return leaves over the circuit.
    let scenario = builtin("leak").expect("built-in").expect("parses");
    let report = verify(&scenario, &VerifyOptions::default()).expect("verifies");
    let cell = report
        .cell("steady", net("10.0.0.0/16"), net("10.1.0.0/16"))
        .expect("cell");
    assert_eq!(cell.verdict, Verdict::Leak, "{}", cell.line());
    assert!(cell.onprem_to_azure.encrypted());
    assert!(cell.azure_to_onprem.violation);
    assert!(
        cell.azure_to_onprem
            .crossings
            .iter()
            .all(|c| !c.esp && c.link.starts_with("er-")),
        "{}",
        cell.line()
    );
    assert!(report.failed());
}

#[test]
fn dmz_pair_is_asymmetric_and_the_lan_pairs_are_encrypted() {
    let scenario = builtin("dmz").expect("built-in").expect("parses");
    let report = verify(&scenario, &VerifyOptions::default()).expect("verifies");
    let dmz = report
        .cell("steady", net("10.9.0.0/24"), net("10.1.0.0/16"))
        .expect("cell");
    assert_eq!(dmz.verdict, Verdict::Asymmetric, "{}", dmz.line());
    assert!(dmz.onprem_to_azure.encrypted());
    assert!(dmz.azure_to_onprem.arrived && !dmz.azure_to_onprem.encrypted());
    for lan in ["10.0.0.0/17", "10.0.128.0/17"] {
        let cell = report
            .cell("steady", net(lan), net("10.1.0.0/16"))
            .expect("cell");
        assert_eq!(cell.verdict, Verdict::Encrypted, "{}", cell.line());
    }
    let steady = report.totals.first().expect("steady totals");
    assert_eq!(
        (steady.asymmetric, steady.leak, steady.blackholed),
        (1, 0, 0)
    );
}

#[test]
fn cli_exits_1_for_the_dmz_and_writes_the_matrix() {
    let dir = std::env::temp_dir().join("erdp-verify-cli-dmz");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.display().to_string();
    let (code, stdout, stderr) = erdp(&[
        "verify",
        "dmz",
        "--out-dir",
        &dir_text,
        "--routes",
        "azure-hub",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("ASYMMETRIC"), "{stdout}");
    assert!(stdout.contains("effective routes of azure-hub"), "{stdout}");
    assert!(stdout.contains("Next hop type"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let states = report["states"].as_array().unwrap().len();
    let pairs = report["onprem_prefixes"].as_array().unwrap().len()
        * report["azure_prefixes"].as_array().unwrap().len();
    assert_eq!(report["matrix"].as_array().unwrap().len(), pairs * states);
    assert_eq!(
        report["probes"].as_u64().unwrap() as usize,
        pairs * 2 * states
    );
    assert!(!report["effective_routes"].as_array().unwrap().is_empty());
}

#[test]
fn cli_exits_2_for_a_missing_scenario() {
    let (code, _, stderr) = erdp(&["verify", "/nonexistent/scenario.toml"]);
    assert_eq!(code, 2, "{stderr}");
}
