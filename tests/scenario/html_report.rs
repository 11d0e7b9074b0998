//! report.html, parsed back with an HTML5 parser: for every built-in
//! scenario the page has each flow with its verdict (leaks in red), each
//! policy verdict, one timeline chart per link and the topology's links;
//! it is self-contained (no script, no external reference); report text is
//! escaped. `erdp replay` writes its page beside report.json (or to --html).

use std::path::{Path, PathBuf};
use std::process::Command;

use erdp::html::{LinkUse, link_uses, run_page};
use erdp::scenario::{BUILTIN, RunOptions, RunReport, builtin, run};
use scraper::{ElementRef, Html, Selector};

fn select<'h>(html: &'h Html, css: &str) -> Vec<ElementRef<'h>> {
    let selector = Selector::parse(css).unwrap_or_else(|e| panic!("{css}: {e:?}"));
    html.select(&selector).collect()
}

fn text(element: &ElementRef) -> String {
    element.text().collect::<String>()
}

fn inside<'h>(element: &ElementRef<'h>, css: &str) -> Vec<ElementRef<'h>> {
    let selector = Selector::parse(css).unwrap_or_else(|e| panic!("{css}: {e:?}"));
    element.select(&selector).collect()
}

fn run_builtin(name: &str) -> RunReport {
    let scenario = builtin(name).expect("built-in").expect("parses");
    run(&scenario, &RunOptions::default()).expect("runs")
}

fn render(report: &RunReport) -> Html {
    let page = run_page(report).expect("page").render().expect("renders");
    Html::parse_document(&page)
}

/// No script, style sheet, image, frame or font from elsewhere: the only
/// URL is the SVG namespace.
fn assert_self_contained(html: &Html, source: &str) {
    for tag in ["script", "link", "img", "iframe", "object", "embed"] {
        assert!(select(html, tag).is_empty(), "a <{tag}> in the page");
    }
    for element in select(html, "[href], [src]") {
        let value = element.attr("href").or(element.attr("src")).unwrap_or("");
        assert!(value.starts_with('#'), "external reference {value}");
    }
    let urls = source.matches("://").count();
    let namespace = source.matches("http://www.w3.org/2000/svg").count();
    assert_eq!(urls, namespace, "only the SVG namespace is a URL");
}

fn check_run_page(name: &str) -> (RunReport, Html) {
    let report = run_builtin(name);
    let source = run_page(&report).unwrap().render().unwrap();
    let html = Html::parse_document(&source);
    assert_self_contained(&html, &source);
    let title = select(&html, "title");
    assert!(text(&title[0]).contains(&report.scenario));

    // Every flow, once, with its verdict; leaked flows are red.
    let rows = select(&html, "tr.flow");
    assert_eq!(rows.len(), report.flows.len(), "{name}: one row per flow");
    for (row, flow) in rows.iter().zip(&report.flows) {
        assert_eq!(row.attr("data-flow"), Some(flow.name.as_str()));
        let verdict = text(&inside(row, "td.verdict")[0]);
        let class = row.value().classes().collect::<Vec<_>>();
        if flow.leaked() {
            assert!(
                verdict.starts_with("leak"),
                "{name}/{}: {verdict}",
                flow.name
            );
            assert!(class.contains(&"leak"), "{name}/{}: red", flow.name);
        } else {
            assert!(!class.contains(&"leak"), "{name}/{}", flow.name);
            let plain = flow
                .forward
                .plaintext
                .iter()
                .chain(&flow.reverse.plaintext)
                .any(|n| *n > 0);
            if !plain && flow.forward.packets() > 0 && flow.verified != Some(false) {
                assert!(
                    verdict.starts_with("encrypted"),
                    "{name}/{}: {verdict}",
                    flow.name
                );
            }
        }
    }

    // Every policy verdict.
    let verdicts = select(&html, "li.verdict");
    assert_eq!(verdicts.len(), report.verdicts.len() + report.notes.len());
    for (item, verdict) in verdicts.iter().zip(&report.verdicts) {
        assert!(text(item).contains(&verdict.message));
        assert!(item.value().classes().any(|c| c == verdict.level));
    }

    // One chart per link, each one SVG, in the links' order; the series
    // hold every byte the link delivered.
    let charts = select(&html, "figure.link-chart");
    assert_eq!(
        charts.len(),
        report.links.len(),
        "{name}: one chart per link"
    );
    for (chart, link) in charts.iter().zip(&report.links) {
        assert_eq!(chart.attr("data-link"), Some(link.name.as_str()));
        assert_eq!(inside(chart, "svg").len(), 1, "{name}/{}", link.name);
    }
    for (series, link) in report.link_timeline.links.iter().zip(&report.links) {
        assert_eq!(series.name, link.name);
        assert_eq!(
            series.total(),
            link.a_to_b.delivered_bytes + link.b_to_a.delivered_bytes,
            "{name}/{}: the series sums to the delivered bytes",
            link.name
        );
    }

    // The topology: one drawing, one row per link with its colour.
    assert_eq!(select(&html, "figure.topology svg").len(), 1);
    let link_rows = select(&html, "tr.link");
    assert_eq!(link_rows.len(), report.links.len());
    for (row, (link, link_use)) in link_rows.iter().zip(link_uses(&report)) {
        assert_eq!(row.attr("data-link"), Some(link.as_str()));
        assert!(row.value().classes().any(|c| c == link_use.class()));
    }

    // Sessions and the banner.
    assert_eq!(select(&html, "tr.session").len(), report.sessions.len());
    let status = select(&html, "#status");
    let expected = if report.failed() { "fail" } else { "ok" };
    assert!(status[0].value().classes().any(|c| c == expected), "{name}");
    (report, html)
}

#[test]
fn design1_page_shows_encrypted_flows_and_its_faults() {
    let (report, html) = check_run_page("design1");
    assert!(select(&html, "tr.flow.leak").is_empty());
    assert!(select(&html, "tr.link.leak").is_empty());
    // The link failure and its detection by BGP are both in the timeline.
    let events: Vec<String> = select(&html, "tr.event").iter().map(text).collect();
    assert_eq!(events.len(), report.faults.len());
    assert!(events.iter().any(|e| e.contains("link er-primary down")));
    assert!(events.iter().any(|e| e.contains("BGP er-primary DOWN")));
    let uses = link_uses(&report);
    let primary = uses.iter().find(|(n, _)| n == "er-primary").map(|u| u.1);
    assert_eq!(primary, Some(LinkUse::Esp), "{uses:?}");
}

#[test]
fn leak_page_is_red_where_plaintext_crossed_the_circuit() {
    let (report, html) = check_run_page("leak");
    assert!(report.failed());
    assert!(
        !select(&html, "tr.flow.leak").is_empty(),
        "leaked flows in red"
    );
    let leaking_links: Vec<String> = select(&html, "tr.link.leak")
        .iter()
        .filter_map(|row| row.attr("data-link").map(str::to_string))
        .collect();
    assert!(
        leaking_links.iter().all(|l| l.starts_with("er-")) && !leaking_links.is_empty(),
        "{leaking_links:?}"
    );
}

#[test]
fn design2_page_has_every_flow_and_chart() {
    check_run_page("design2");
}

#[test]
fn two_circuits_page_draws_the_second_circuit() {
    let (report, html) = check_run_page("two-circuits");
    assert_eq!(report.links.len(), 8);
    let charts: Vec<&str> = select(&html, "figure.link-chart")
        .iter()
        .filter_map(|c| c.attr("data-link"))
        .collect();
    assert!(charts.contains(&"er2-primary") && charts.contains(&"msee2-hub"));
}

#[test]
fn every_builtin_scenario_is_covered_here() {
    let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "design1",
            "design2",
            "leak",
            "two-circuits",
            "recursion",
            "dmz",
            "active-active",
            "ike"
        ]
    );
}

#[test]
fn ike_page_renders_a_run_with_rekeys_and_a_dead_peer() {
    let (report, html) = check_run_page("ike");
    assert!(!report.failed(), "{}", report.summary());
    let page = html.root_element().html();
    for line in ["CHILD_SA installed", "BGP vpn DOWN", "dead peer"] {
        assert!(page.contains(line), "the fault log shows {line:?}");
    }
    // CHILD_SAs installed are IKE events on the timeline, not faults.
    let installed = report
        .faults
        .iter()
        .filter(|f| f.event.starts_with("IKE "))
        .count();
    assert!(installed >= 5, "{:#?}", report.faults);
    assert_eq!(select(&html, "tr.event.ike").len(), installed);
    // The IKE section: both ends of the tunnel, up, and one row per SA
    // pair each end had, with its SPIs (never a key).
    let tunnels = select(&html, "tr.ike-tunnel");
    let names: Vec<&str> = tunnels
        .iter()
        .filter_map(|t| t.attr("data-tunnel"))
        .collect();
    assert_eq!(names, ["onprem-edge/vpn", "azure-hub/vpn"]);
    for tunnel in &tunnels {
        assert_eq!(text(&inside(tunnel, "span.tag")[0]), "up");
    }
    let pairs: usize = report.ike.iter().map(|t| t.tunnel.sas.len()).sum();
    assert_eq!(select(&html, "tr.ike-sa").len(), pairs);
    let first = &report.ike[0].tunnel.sas[0];
    assert!(page.contains(&format!("0x{:08x}", first.outbound_spi)));
    for line in &report.esp_sa {
        let key = line.split(',').nth(5).expect("key field");
        assert!(!page.contains(key.trim_matches('"')), "a key on the page");
    }
}

#[test]
fn pages_without_ike_have_no_ike_section() {
    let (_, html) = check_run_page("design1");
    assert!(select(&html, "table.ike-tunnels").is_empty());
}

#[test]
fn active_active_page_names_both_tunnels() {
    let (report, html) = check_run_page("active-active");
    assert!(!report.failed(), "{}", report.summary());
    let page = html.root_element().html();
    assert!(
        page.contains("via vpn+vpn2"),
        "a flow's path names both tunnels"
    );
}

#[test]
fn the_recursion_page_shows_the_design_error() {
    let (report, html) = check_run_page("recursion");
    assert!(report.failed());
    let page = html.root_element().html();
    assert!(page.contains("design error"), "the verdict is on the page");
    assert!(page.contains("10.100.255.0/27"), "with its prefix");
}

#[test]
fn names_from_the_scenario_are_escaped() {
    let mut report = run_builtin("leak");
    let hostile = "<img src=x onerror=alert(1)> & \"flow\"";
    report.flows[0].name = hostile.to_string();
    report.scenario = "</title><script>alert(2)</script>".to_string();
    let html = render(&report);
    assert!(select(&html, "script").is_empty());
    assert!(select(&html, "img").is_empty());
    let rows = select(&html, "tr.flow");
    assert_eq!(rows[0].attr("data-flow"), Some(hostile));
    assert_eq!(text(&inside(&rows[0], "td")[0]), hostile);
    assert!(text(&select(&html, "title")[0]).contains("<script>"));
}

fn corpus(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "pcaps", "corpus", name]
        .iter()
        .collect()
}

/// `erdp replay` of the leak capture into `out`, with `extra` arguments.
fn replay_leak(out: &Path, extra: &[&std::ffi::OsStr]) {
    let output = Command::new(env!("CARGO_BIN_EXE_erdp"))
        .arg("replay")
        .arg("--config")
        .arg(corpus("leak-azure-gateway.toml"))
        .arg("--input")
        .arg(corpus("leak-azure-to-onprem.pcap"))
        .arg("--out-dir")
        .arg(out)
        .args(["--ingress", "vnet"])
        .args(extra)
        .output()
        .expect("runs erdp");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn replay_writes_its_page_with_interfaces_drops_and_flows() {
    let out = std::env::temp_dir().join(format!("erdp-html-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    replay_leak(&out, &[]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let source =
        std::fs::read_to_string(out.join("report.html")).expect("report.html beside report.json");
    let html = Html::parse_document(&source);
    assert_self_contained(&html, &source);
    let interfaces = json["interfaces"].as_array().unwrap();
    let rows = select(&html, "tr.interface");
    assert_eq!(rows.len(), interfaces.len());
    for (row, interface) in rows.iter().zip(interfaces) {
        assert_eq!(row.attr("data-interface"), interface["name"].as_str());
    }
    let drops = json["drops"].as_object().unwrap();
    assert_eq!(select(&html, "tr.drop").len(), drops.len());
    let flows = json["flows"].as_array().unwrap();
    assert_eq!(select(&html, "tr.flow").len(), flows.len());
    let violations = json["violations"].as_array().unwrap();
    assert!(!violations.is_empty());
    let red: Vec<String> = select(&html, "tr.flow.leak")
        .iter()
        .filter_map(|r| r.attr("data-flow").map(str::to_string))
        .collect();
    for violation in violations {
        let flow = violation["flow"].as_str().unwrap().to_string();
        assert!(red.contains(&flow), "{flow} in red: {red:?}");
    }
    assert!(
        select(&html, "#status")[0]
            .value()
            .classes()
            .any(|c| c == "fail")
    );

    // --html chooses the file.
    let chosen = out.join("elsewhere.html");
    replay_leak(&out, &["--html".as_ref(), chosen.as_os_str()]);
    assert!(
        std::fs::read_to_string(&chosen)
            .unwrap()
            .contains("tr class=\"flow")
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn dmz_page_is_clean_because_the_dmz_host_sends_nothing() {
    // The run's flows are between the LAN host and the VNet only: clean.
    // `erdp verify dmz` finds the DMZ's asymmetric pair (tests/verify_dmz.rs).
    let (report, html) = check_run_page("dmz");
    assert!(!report.failed());
    assert!(select(&html, "tr.flow.leak").is_empty());
}
