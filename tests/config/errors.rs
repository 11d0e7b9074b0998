//! Broken node configurations: each error names the file, the line and the
//! field, and nothing panics (a mutation fuzz runs every loader path).

use erdp::config::{ConfigError, NodeConfig};
use proptest::prelude::*;

const KEY_256: &str = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233";
const KEY_256B: &str = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263";

fn base() -> String {
    format!(
        r#"name = "edge"
route_selection = "bgp"

[[interface]]
name = "lan"
kind = "ethernet"
mac = "02:00:00:00:01:01"
addresses = ["10.0.0.1/16"]

[[interface]]
name = "er"
kind = "ethernet"
mac = "02:00:00:00:01:02"
addresses = ["172.16.0.1/30"]
mtu = 1500

[[interface]]
name = "vpn"
kind = "esp-tunnel"
local = "172.16.0.1"
remote = "10.100.255.4"
mtu = 1400
mss_clamp = 1350
sa_out = {{ spi = 0x1001, algorithm = "aes-256-gcm", key = "{KEY_256}" }}
sa_in = {{ spi = 0x2001, algorithm = "aes-256-gcm", key = "{KEY_256B}" }}

[[neighbor]]
interface = "er"
ip = "172.16.0.2"
mac = "02:00:00:00:02:01"

[[route]]
prefix = "10.1.0.0/16"
interface = "er"
next_hop = "172.16.0.2"
source = "bgp"
session = "expressroute"
local_pref = 100

[[route]]
prefix = "10.1.0.0/16"
interface = "vpn"
source = "bgp"
session = "vpn"
local_pref = 200

[[route]]
prefix = "10.100.255.0/24"
interface = "er"
next_hop = "172.16.0.2"

[[policy]]
name = "azure"
destination = "10.1.0.0/16"
action = "drop"
"#
    )
}

/// 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the config"));
    text[..at].matches('\n').count() + 1
}

fn load(text: &str) -> Result<NodeConfig, ConfigError> {
    NodeConfig::from_toml_str(text, "node.toml")
}

/// Loads `text` and checks the first problem: its line is the one of
/// `marker`, its field and message are as given.
fn expect_error_in(text: &str, marker: &str, field: &str, message: &str) {
    let error = match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    let first = error
        .problems()
        .first()
        .unwrap_or_else(|| panic!("no located problem in {error}"));
    let shown = error.to_string();
    assert_eq!(first.file.to_str(), Some("node.toml"), "{shown}");
    assert_eq!(first.line, line_of(text, marker), "{shown}");
    assert!(first.column >= 1, "{shown}");
    assert_eq!(first.field.to_string(), field, "{shown}");
    assert!(
        first.message.contains(message),
        "message {:?} lacks {message:?}",
        first.message
    );
    let prefix = format!("node.toml:{}:{}: ", first.line, first.column);
    assert!(shown.starts_with(&prefix), "{shown}");
}

/// The base config with the first `from` replaced by `to`.
fn expect_error(from: &str, to: &str, marker: &str, field: &str, message: &str) {
    let base = base();
    assert!(base.contains(from), "{from:?} not in the base config");
    expect_error_in(&base.replacen(from, to, 1), marker, field, message);
}

#[test]
fn the_base_config_is_valid() {
    let config = load(&base()).unwrap();
    assert_eq!(config.interfaces.len(), 3);
    assert_eq!(config.routes.len(), 3);
}

#[test]
fn unknown_interface() {
    expect_error(
        "interface = \"vpn\"\nsource",
        "interface = \"vpm\"\nsource",
        "\"vpm\"",
        "route[1].interface",
        "unknown interface \"vpm\" (interfaces: lan, er, vpn)",
    );
    expect_error(
        "interface = \"er\"\nip",
        "interface = \"wan\"\nip",
        "\"wan\"",
        "neighbor[0].interface",
        "unknown interface \"wan\"",
    );
}

#[test]
fn duplicate_interface_name() {
    expect_error(
        "name = \"er\"",
        "name = \"lan\"",
        "name = \"lan\"\nkind = \"ethernet\"\nmac = \"02:00:00:00:01:02\"",
        "interface[1].name",
        "duplicate interface name \"lan\" (also interface[0])",
    );
}

#[test]
fn duplicate_spi() {
    let text = format!(
        "{}\n[[interface]]\nname = \"vpn2\"\nkind = \"esp-tunnel\"\nlocal = \"172.16.0.1\"\n\
         remote = \"10.100.255.5\"\n\
         sa_out = {{ spi = 0x1002, algorithm = \"aes-256-gcm\", key = \"{KEY_256}\" }}\n\
         sa_in = {{spi = 0x2001, algorithm = \"aes-256-gcm\", key = \"{KEY_256B}\" }}\n",
        base()
    );
    expect_error_in(
        &text,
        "{spi = 0x2001",
        "interface[3].sa_in.spi",
        "duplicate SPI 0x00002001 (also interface[2].sa_in)",
    );
}

#[test]
fn wrong_key_length() {
    expect_error(
        &format!("key = \"{KEY_256B}\""),
        "key = \"00112233\"",
        "\"00112233\"",
        "interface[2].sa_in.key",
        "aes-256-gcm needs 36 bytes (key 32 + salt 4), got 4",
    );
}

#[test]
fn overlapping_addresses() {
    expect_error(
        "addresses = [\"172.16.0.1/30\"]",
        "addresses = [\"10.0.200.1/24\"]",
        "\"10.0.200.1/24\"",
        "interface[1].addresses[0]",
        "10.0.200.1/24 overlaps 10.0.0.1/16 (interface[0].addresses[0])",
    );
}

#[test]
fn route_via_a_missing_neighbour() {
    expect_error(
        "next_hop = \"172.16.0.2\"\nsource",
        "next_hop = \"192.0.2.9\"\nsource",
        "\"192.0.2.9\"",
        "route[0].next_hop",
        "192.0.2.9 is neither a configured neighbour on \"er\" nor on one of its connected subnets",
    );
}

#[test]
fn prefix_with_host_bits() {
    expect_error(
        "prefix = \"10.100.255.0/24\"",
        "prefix = \"10.100.255.4/24\"",
        "\"10.100.255.4/24\"",
        "route[2].prefix",
        "prefix 10.100.255.4/24 has host bits set (did you mean 10.100.255.0/24?)",
    );
}

#[test]
fn unknown_field() {
    expect_error(
        "mtu = 1500",
        "mtu = 1500\nspeed = 100",
        "speed",
        "interface[1].speed",
        "unknown field `speed`",
    );
}

#[test]
fn wrong_type() {
    expect_error(
        "mtu = 1500",
        "mtu = \"big\"",
        "\"big\"",
        "interface[1].mtu",
        "invalid type: string \"big\", expected u16",
    );
}

#[test]
fn missing_required_fields() {
    expect_error(
        "[[route]]\nprefix = \"10.1.0.0/16\"\ninterface = \"er\"",
        "[[route]]\ninterface = \"er\"",
        "[[route]]",
        "route[0]",
        "missing field `prefix`",
    );
    expect_error(
        "sa_in = {",
        "sa_inn = {",
        "sa_inn",
        "interface[2].sa_inn",
        "unknown field `sa_inn`",
    );
}

#[test]
fn tunnel_fields_required_and_refused_by_kind() {
    expect_error(
        &format!("sa_in = {{ spi = 0x2001, algorithm = \"aes-256-gcm\", key = \"{KEY_256B}\" }}\n"),
        "",
        "[[interface]]\nname = \"vpn\"",
        "interface[2].sa_in",
        "esp-tunnel interfaces need sa_in",
    );
    expect_error(
        "mtu = 1400",
        "mtu = 1400\nmac = \"02:00:00:00:01:09\"",
        "mac = \"02:00:00:00:01:09\"",
        "interface[2].mac",
        "does not apply to esp-tunnel interfaces",
    );
    expect_error(
        "mtu = 1500",
        "mtu = 1500\nmss_clamp = 1300",
        "mss_clamp = 1300",
        "interface[1].mss_clamp",
        "does not apply to ethernet interfaces",
    );
    expect_error(
        "kind = \"esp-tunnel\"",
        "kind = \"gre\"",
        "\"gre\"",
        "interface[2].kind",
        "unknown variant `gre`, expected `ethernet` or `esp-tunnel`",
    );
}

#[test]
fn bad_values() {
    expect_error(
        "mac = \"02:00:00:00:01:02\"",
        "mac = \"02:00:00:00:01\"",
        "\"02:00:00:00:01\"",
        "interface[1].mac",
        "invalid MAC address",
    );
    expect_error(
        "mac = \"02:00:00:00:01:02\"",
        "mac = \"03:00:00:00:01:02\"",
        "\"03:00:00:00:01:02\"",
        "interface[1].mac",
        "not a unicast MAC address",
    );
    expect_error(
        "route_selection = \"bgp\"",
        "route_selection = \"shortest\"",
        "\"shortest\"",
        "route_selection",
        "unknown variant `shortest`",
    );
    expect_error(
        &format!("key = \"{KEY_256}\""),
        "key = \"zz\"",
        "\"zz\"",
        "interface[2].sa_out.key",
        "key is not valid hex",
    );
    expect_error(
        "algorithm = \"aes-256-gcm\", key = \"1011",
        "algorithm = \"aes-192-gcm\", key = \"1011",
        "\"aes-192-gcm\"",
        "interface[2].sa_out.algorithm",
        "unknown ESP algorithm \"aes-192-gcm\"",
    );
    expect_error(
        "mtu = 1400",
        "mtu = 1000",
        "mtu = 1000",
        "interface[2].mtu",
        "1000 is outside 1280..=9000",
    );
    expect_error(
        "mss_clamp = 1350",
        "mss_clamp = 1380",
        "mss_clamp = 1380",
        "interface[2].mss_clamp",
        "1380 is outside 536..=1360",
    );
    expect_error(
        "spi = 0x1001",
        "spi = 0x1001, tunnel = { local = \"172.16.0.1\", remote = \"10.100.255.4\" }",
        "spi = 0x1001",
        "interface[2].sa_out.tunnel",
        "leave it out",
    );
}

#[test]
fn route_rules() {
    expect_error(
        "next_hop = \"172.16.0.2\"\n\n[[policy]]",
        "local_pref = 300\n\n[[policy]]",
        "local_pref = 300",
        "route[2].local_pref",
        "is a BGP attribute: set source = \"bgp\"",
    );
    expect_error(
        "interface = \"vpn\"\nsource",
        "interface = \"vpn\"\nnext_hop = \"169.254.21.1\"\nsource",
        "\"169.254.21.1\"",
        "route[1].next_hop",
        "esp-tunnel interface \"vpn\" is point-to-point",
    );
    expect_error(
        "prefix = \"10.100.255.0/24\"",
        "prefix = \"10.200.255.0/24\"",
        "remote = \"10.100.255.4\"",
        "interface[2].remote",
        "no route reaches the remote endpoint 10.100.255.4",
    );
    expect_error(
        "prefix = \"10.100.255.0/24\"\ninterface = \"er\"\nnext_hop = \"172.16.0.2\"",
        "prefix = \"10.100.255.0/24\"\ninterface = \"vpn\"",
        "remote = \"10.100.255.4\"",
        "interface[2].remote",
        "routed by 10.100.255.0/24 into tunnel \"vpn\"",
    );
}

#[test]
fn neighbour_and_policy_rules() {
    expect_error(
        "ip = \"172.16.0.2\"",
        "ip = \"172.16.9.2\"",
        "\"172.16.9.2\"",
        "neighbor[0].ip",
        "172.16.9.2 is not on a connected subnet of \"er\"",
    );
    expect_error(
        "destination = \"10.1.0.0/16\"\n",
        "",
        "[[policy]]",
        "policy[0]",
        "names no prefix",
    );
    expect_error(
        "destination = \"10.1.0.0/16\"",
        "destination = [\"10.1.0.0/16\", \"10.2.3.0/16\"]",
        "destination = [",
        "policy[0].destination[1]",
        "prefix 10.2.3.0/16 has host bits set (did you mean 10.2.0.0/16?)",
    );
    expect_error(
        "action = \"drop\"",
        "action = \"block\"",
        "\"block\"",
        "policy[0].action",
        "unknown variant `block`, expected `report` or `drop`",
    );
}

#[test]
fn syntax_errors_and_empty_files() {
    expect_error(
        "mtu = 1500",
        "mtu = = 1500",
        "mtu = = 1500",
        "(document)",
        "extra `=`",
    );
    let error = load("").unwrap_err();
    assert!(
        error.to_string().contains("missing field `name`"),
        "{error}"
    );
    let error = load("\u{0}\u{ff}garbage[[").unwrap_err();
    assert!(error.to_string().starts_with("node.toml:1:"), "{error}");
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let text = base().replacen("mtu = 1500", "mtu = 20", 1).replacen(
        "prefix = \"10.100.255.0/24\"",
        "prefix = \"10.100.255.1/24\"",
        1,
    );
    let error = load(&text).unwrap_err();
    let fields: Vec<String> = error
        .problems()
        .iter()
        .map(|p| p.field.to_string())
        .collect();
    assert_eq!(fields, ["interface[1].mtu", "route[2].prefix"], "{error}");
    assert_eq!(error.to_string().lines().count(), 2, "{error}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let error = NodeConfig::load("/nonexistent/node.toml").unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/node.toml: cannot read")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    /// Deleting, duplicating or replacing a slice of a valid config never
    /// panics, and every problem it causes is placed within the text.
    #[test]
    fn mutations_never_panic(at in 0usize..2000, len in 0usize..40, byte in any::<u8>(), op in 0u8..3) {
        let mut bytes = base().into_bytes();
        let at = at % bytes.len();
        let end = (at + len).min(bytes.len());
        match op {
            0 => { bytes.drain(at..end); }
            1 => { let copy = bytes[at..end].to_vec(); bytes.splice(at..at, copy); }
            _ => { for b in &mut bytes[at..end] { *b = byte; } }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines = text.lines().count() + 1;
        if let Err(error) = load(&text) {
            prop_assert!(!error.to_string().is_empty());
            for problem in error.problems() {
                prop_assert!(problem.line <= lines, "{error}");
            }
        }
    }
}
