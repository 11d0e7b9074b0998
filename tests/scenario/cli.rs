//! `erdp run` as a user runs it: exit codes (0 for design 2, 1 when the
//! leak is flagged, 2 for a bad file), the summary, report.json and one pcap
//! per link in the output directory, and a scenario read from a file.

use crate::support;

use support::cli::erdp;

#[test]
fn run_writes_the_summary_report_and_pcaps_with_exit_codes() {
    let dir = std::env::temp_dir().join("erdp-cli-leak");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.display().to_string();
    let (code, stdout, stderr) = erdp(&["run", "leak", "--out-dir", &dir_text]);
    assert_eq!(code, 1, "leak flagged: {stdout}{stderr}");
    assert!(
        stdout.contains("[leak]") && stdout.contains("LEAK"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0x00002001"),
        "esp_sa lines printed: {stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["flows"].as_array().unwrap().len(), 5);
    for link in [
        "onprem-lan",
        "er-primary",
        "er-secondary",
        "msee-hub",
        "azure-vnet",
    ] {
        let pcap = std::fs::read(dir.join(format!("{link}.pcap"))).unwrap();
        assert_eq!(
            &pcap[..4],
            &[0x4d, 0x3c, 0xb2, 0xa1],
            "nanosecond pcap: {link}"
        );
    }

    // The same scenario from a file, fixed: design 2's text runs clean.
    let file = std::env::temp_dir().join("erdp-cli-design2.toml");
    std::fs::write(&file, erdp::scenario::BUILTIN[1].1).unwrap();
    let file_text = file.display().to_string();
    let out2 = std::env::temp_dir().join("erdp-cli-design2");
    let _ = std::fs::remove_dir_all(&out2);
    let (code, stdout, stderr) =
        erdp(&["run", &file_text, "--out-dir", &out2.display().to_string()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("[ok] no plaintext leak"), "{stdout}");

    // A bad file: exit 2, the file and line in the message.
    let bad = std::env::temp_dir().join("erdp-cli-bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[onprem]\nhost = \"10.0.1.10/16\"\nbogus = 1\n[azure]\n",
    )
    .unwrap();
    let (code, _, stderr) = erdp(&["run", &bad.display().to_string()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("erdp-cli-bad.toml:4:"), "{stderr}");
}

#[test]
fn run_with_verify_prints_the_matrix_totals_and_fails_when_a_pair_fails() {
    // The whole-design verdict beside the run (issue 16: "the summary of
    // erdp run"): each state's totals, and the exit code counts them.
    let dir = std::env::temp_dir().join("erdp-cli-run-verify");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.display().to_string();
    let (code, stdout, stderr) =
        erdp(&["run", "active-active", "--verify", "--out-dir", &dir_text]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("verify: 3 on-prem x 1 Azure prefixes, both ways, in 13 states"),
        "{stdout}"
    );
    let instance = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("instance 2 down"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        instance.ends_with("encrypted 3, plain 0, asymmetric 0, leak 0, blackholed 0"),
        "{instance}"
    );
    assert!(stdout.contains("[ok] 39 pair-states"), "{stdout}");

    // design1's run is clean, its design is not (fail closed blackholes
    // when the tunnel or the circuit fails): exit code 1.
    let (code, stdout, stderr) = erdp(&["run", "design1", "--verify", "--out-dir", &dir_text]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("[ok] no plaintext leak"),
        "the run itself: {stdout}"
    );
    assert!(stdout.contains("[FAIL] 9 of 24 pair-states"), "{stdout}");

    let (code, _, stderr) = erdp(&["run", "design1", "--verify", "--json"]);
    assert_eq!(code, 2, "{stderr}");
}
