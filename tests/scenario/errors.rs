//! Scenario files are checked like node configurations: every problem
//! names the file, line and field, all are listed at once, and counts that
//! size allocations are bounded before anything is built.

use erdp::scenario::{Scenario, ScenarioError};

/// A small valid scenario; tests append or replace lines.
const BASE: &str = r#"name = "tiny"
duration_ms = 2000

[onprem]
host = "10.0.1.10/16"
advertise_er = ["10.0.0.0/16"]
advertise_vpn = ["10.0.0.0/17", "10.0.128.0/17"]

[azure]
host = "10.1.0.10/16"
advertise_er = ["10.1.0.0/16"]
advertise_vpn = ["10.1.0.0/16"]

[[flow]]
name = "ping"
kind = "ping"
from = "onprem"
count = 5
"#;

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Every located problem as `line: field: message`.
fn problems(text: &str) -> Vec<(usize, String)> {
    match Scenario::from_toml_str(text, "s.toml") {
        Err(ScenarioError::File(error)) => {
            let all: Vec<(usize, String)> = error
                .problems()
                .iter()
                .map(|p| (p.line, format!("{}: {}", p.field, p.message)))
                .collect();
            for p in error.problems() {
                assert_eq!(p.file.to_str(), Some("s.toml"));
            }
            all
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn the_base_scenario_is_valid() {
    Scenario::from_toml_str(BASE, "s.toml").unwrap();
}

#[test]
fn every_problem_is_listed_at_once_with_its_line_and_field() {
    let text = BASE
        .replace("duration_ms = 2000", "duration_ms = 0")
        .replace(
            "advertise_er = [\"10.0.0.0/16\"]",
            "advertise_er = [\"10.0.0.1/16\"]",
        )
        .replace("host = \"10.1.0.10/16\"", "host = \"10.0.1.10/16\"")
        + "[[flow]]\nname = \"ping\"\nkind = \"udp\"\nfrom = \"azure\"\n";
    let found = problems(&text);
    let nth_line = |needle: &str| text[..text.rfind(needle).unwrap()].matches('\n').count() + 1;
    let expect = [
        (line_of(&text, "duration_ms"), "duration_ms: 0 is outside"),
        (
            line_of(&text, "10.0.0.1/16"),
            "onprem.advertise_er[0]: prefix 10.0.0.1/16 has host bits set (did you mean 10.0.0.0/16?)",
        ),
        (
            nth_line("host = \"10.0.1.10/16\""),
            "azure.host: 10.0.1.10/16 is onprem.host's address too",
        ),
        (
            nth_line("name = \"ping\""),
            "flow[1].name: duplicate flow name \"ping\" (also flow[0])",
        ),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (line, start) in expect {
        assert!(
            found
                .iter()
                .any(|(l, m)| m.starts_with(start) && *l == line),
            "{start:?} at line {line} not in {found:#?}"
        );
    }
}

#[test]
fn counts_are_bounded_by_what_their_range_holds_before_allocating() {
    // 4e9 used to abort on a 72 GB allocation; 4,194,304 was accepted
    // although 100.64.0.0/10 holds 16,384 /24s.
    for count in ["4000000000", "4194304", "16385"] {
        let text = BASE.replace(
            "advertise_vpn = [\"10.0.0.0/17\", \"10.0.128.0/17\"]",
            &format!(
                "advertise_vpn = [\"10.0.0.0/17\", \"10.0.128.0/17\"]\nextra_er_prefixes = {count}"
            ),
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, line_of(&text, "extra_er_prefixes"));
        assert!(
            found[0].1.starts_with("onprem.extra_er_prefixes: ")
                && found[0].1.contains("16384 /24s of 100.64.0.0/10"),
            "{found:?}"
        );
    }
    let text = BASE.replace(
        "advertise_vpn = [\"10.0.0.0/17\", \"10.0.128.0/17\"]",
        "advertise_vpn = [\"10.0.0.0/17\", \"10.0.128.0/17\"]\nextra_er_prefixes = 16384",
    );
    Scenario::from_toml_str(&text, "s.toml").unwrap();
    let text = BASE.replace("count = 5", "count = 5\npayload = 1000000000000");
    let found = problems(&text);
    assert!(found[0].1.starts_with("flow[0].payload: "), "{found:?}");
    let text = format!(
        "{BASE}\n[[fault]]\nat_ms = 100\nkind = \"flap\"\nlink = \"er-primary\"\ncount = 4000000000\n"
    );
    let found = problems(&text);
    assert!(found[0].1.starts_with("fault[0].count: "), "{found:?}");
}

#[test]
fn type_errors_name_the_field_path() {
    let text = BASE.replace("count = 5", "count = \"long\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, line_of(&text, "\"long\""));
    assert!(
        found[0]
            .1
            .starts_with("flow[0].count: invalid type: string \"long\""),
        "{found:?}"
    );
    let message = Scenario::from_toml_str(&text, "s.toml")
        .unwrap_err()
        .to_string();
    let line = line_of(&text, "\"long\"");
    assert!(
        message.starts_with(&format!("s.toml:{line}:9: flow[0].count: invalid type")),
        "{message}"
    );
}

#[test]
fn scenarios_built_in_code_are_checked_before_they_run() {
    let mut scenario = Scenario::from_toml_str(BASE, "s.toml").unwrap();
    scenario.onprem.extra_er_prefixes = u32::MAX;
    scenario.duration_ms = 0;
    let error = erdp::scenario::run(&scenario, &Default::default()).unwrap_err();
    match &error {
        ScenarioError::Values { issues, .. } => assert_eq!(issues.len(), 2, "{error}"),
        other => panic!("{other}"),
    }
}
