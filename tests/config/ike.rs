//! The `ike` table of an esp-tunnel interface: a tunnel keyed by IKEv2
//! instead of static SAs. What it reads (identities, the PSK from its file,
//! proposals in strongSwan's notation, lifetimes, DPD, the role) and every
//! mistake named by file, line and field; the key never shows in `Debug`.

use std::path::PathBuf;
use std::time::Duration;

use erdp::config::{DeadPeerAction, IkeRole, NodeConfig, TunnelKeying};
use erdp::ike::{DhGroup, Identity};

const PSK: &str = "a shared secret for erdp";

/// A directory holding `node.toml`'s neighbours (the PSK file), removed at
/// the end of the test.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("erdp-config-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vpn.psk"), format!("{PSK}\n")).unwrap();
        Dir(dir)
    }

    fn load(&self, text: &str) -> Result<NodeConfig, erdp::config::ConfigError> {
        NodeConfig::from_toml_str(text, self.0.join("node.toml"))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A node whose tunnel negotiates with IKE; `ike` is the table's body.
fn node(ike: &str) -> String {
    format!(
        r#"name = "edge"

[[interface]]
name = "wan"
kind = "ethernet"
mac = "02:00:00:00:01:02"
addresses = ["192.0.2.1/24"]

[[interface]]
name = "vpn"
kind = "esp-tunnel"
local = "192.0.2.1"
remote = "192.0.2.2"

[interface.ike]
{ike}

[[route]]
prefix = "10.2.0.0/16"
interface = "vpn"
"#
    )
}

fn first_problem(dir: &Dir, text: &str) -> (usize, String, String) {
    let error = match dir.load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    };
    let p = error
        .problems()
        .first()
        .unwrap_or_else(|| panic!("no located problem in {error}"));
    assert!(p.file.ends_with("node.toml"), "{error}");
    (p.line, p.field.to_string(), p.message.clone())
}

fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).unwrap();
    text[..at].matches('\n').count() + 1
}

#[test]
fn a_full_table_reads_as_written() {
    let dir = Dir::new("full");
    let text = node(
        r#"role = "initiator"
local_id = "edge.example.com"
remote_id = "192.0.2.2"
psk_file = "vpn.psk"
ike_proposals = ["aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp2048"]
esp_proposals = ["aes256gcm16", "aes256-sha256"]
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
child_lifetime = 3600
rekey_margin = 60
child_lifetime_kb = 1000
dpd_delay = 10
dpd_timeout = 30
on_dead_peer = "fallback""#,
    );
    let config = dir.load(&text).unwrap();
    let erdp::config::InterfaceKind::EspTunnel(t) = &config.interfaces[1].kind else {
        panic!("vpn is a tunnel");
    };
    assert!(t.static_sas().is_none());
    let TunnelKeying::Ike(ike) = &t.keying else {
        panic!("keyed by IKE");
    };
    assert_eq!(ike.role, IkeRole::Initiator);
    assert_eq!(ike.local_id, Some(Identity::fqdn("edge.example.com")));
    assert_eq!(
        ike.remote_id,
        Some(Identity::address("192.0.2.2".parse().unwrap()))
    );
    assert_eq!(ike.ike_proposals.len(), 2);
    assert_eq!(ike.ike_proposals[0].dh, DhGroup::Ecp384);
    assert_eq!(ike.ike_proposals[1].dh, DhGroup::Modp2048);
    assert_eq!(ike.esp_proposals.len(), 2);
    assert_eq!(ike.child_lifetime, Duration::from_secs(3600));
    assert_eq!(ike.rekey_margin, Duration::from_secs(60));
    assert_eq!(ike.child_lifetime_bytes, Some(1_024_000));
    assert_eq!(ike.dpd_delay, Some(Duration::from_secs(10)));
    assert_eq!(ike.dpd_timeout, Duration::from_secs(30));
    assert_eq!(ike.on_dead_peer, DeadPeerAction::Fallback);
    // The core's configuration: UDP 500 between the tunnel's endpoints.
    let core = ike.ike_config(t.local, t.remote);
    assert_eq!(core.local.to_string(), "192.0.2.1:500");
    assert_eq!(core.remote.to_string(), "192.0.2.2:500");
    assert_eq!(core.ike_suites, ike.ike_proposals);
    assert_eq!(core.local_ts, ike.local_ts);
    assert_eq!(core.dpd_timeout, Duration::from_secs(30));
    assert_eq!(core.child_lifetime_bytes, Some(1_024_000));
}

#[test]
fn defaults_are_azure_s_and_the_key_never_prints() {
    // About cryptographic requirements and Azure VPN gateways / About VPN
    // devices and IPsec/IKE parameters: the CHILD_SA (quick mode) lifetime
    // is 27,000 s and 102,400,000 KB; Dead Peer Detection's timeout 45 s.
    let dir = Dir::new("defaults");
    let config = dir
        .load(&node("role = \"responder\"\npsk_file = \"vpn.psk\""))
        .unwrap();
    let erdp::config::InterfaceKind::EspTunnel(t) = &config.interfaces[1].kind else {
        panic!("vpn is a tunnel");
    };
    let ike = t.ike().unwrap();
    assert_eq!(ike.role, IkeRole::Responder);
    assert_eq!(ike.child_lifetime, Duration::from_secs(27_000));
    assert_eq!(ike.child_lifetime_bytes, Some(102_400_000 * 1024));
    assert_eq!(ike.dpd_timeout, Duration::from_secs(45));
    assert_eq!(ike.on_dead_peer, DeadPeerAction::FailClosed);
    assert!(ike.ike_proposals.is_empty() && ike.esp_proposals.is_empty());
    let core = ike.ike_config(t.local, t.remote);
    assert!(!core.ike_suites.is_empty(), "erdp's own proposals");
    assert_eq!(core.local_id, Identity::address(t.local));
    let shown = format!("{config:?} {core:?}");
    assert!(!shown.contains(PSK), "the PSK leaked into Debug");
    assert!(!shown.contains(&hex::encode(PSK)), "the PSK leaked as hex");
}

#[test]
fn mistakes_name_line_and_field() {
    let dir = Dir::new("mistakes");
    let cases = [
        (
            "role = \"responder\"\npsk_file = \"missing.psk\"",
            "psk_file",
            "interface[1].ike.psk_file",
            "cannot read",
        ),
        (
            "role = \"responder\"",
            "[interface.ike]",
            "interface[1].ike.psk_file",
            "needs psk_file",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nike_proposals = [\"aes256gcm16-prfsha256-ecp256\", \"3des-sha1-modp1024\"]",
            "ike_proposals",
            "interface[1].ike.ike_proposals[1]",
            "unknown transform \"3des\"",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nesp_proposals = [\"aes256gcm16\", \"aes256gcm16-ecp256-x25519\"]",
            "esp_proposals",
            "interface[1].ike.esp_proposals[1]",
            "more than one DH group",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nesp_proposals = []",
            "esp_proposals",
            "interface[1].ike.esp_proposals",
            "is empty",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nchild_lifetime = 600\nrekey_margin = 600",
            "rekey_margin",
            "interface[1].ike.rekey_margin",
            "not shorter than child_lifetime",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nchild_lifetime = 5",
            "child_lifetime",
            "interface[1].ike.child_lifetime",
            "shorter than 10 s",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nremote_ts = [\"fd00::/64\"]",
            "remote_ts",
            "interface[1].ike.remote_ts[0]",
            "address family",
        ),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\nlocal_id = \"\"",
            "local_id",
            "interface[1].ike.local_id",
            "is empty",
        ),
    ];
    for (ike, marker, field, message) in cases {
        let text = node(ike);
        let (line, shown_field, shown) = first_problem(&dir, &text);
        assert_eq!(shown_field, field, "{ike}: {shown}");
        assert_eq!(line, line_of(&text, marker), "{ike}: {shown}");
        assert!(
            shown.contains(message),
            "{ike}: {shown:?} lacks {message:?}"
        );
    }
}

#[test]
fn unknown_fields_and_roles_are_refused() {
    let dir = Dir::new("unknown");
    for (ike, needle) in [
        ("role = \"both\"\npsk_file = \"vpn.psk\"", "role"),
        (
            "role = \"responder\"\npsk_file = \"vpn.psk\"\npsk = \"inline\"",
            "psk",
        ),
    ] {
        let error = dir.load(&node(ike)).unwrap_err().to_string();
        assert!(error.contains("node.toml:"), "{error}");
        assert!(error.contains(needle), "{error}");
    }
}

#[test]
fn ike_and_static_sas_exclude_each_other() {
    let dir = Dir::new("exclusive");
    let key = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233";
    let text = node("role = \"responder\"\npsk_file = \"vpn.psk\"").replace(
        "remote = \"192.0.2.2\"\n",
        &format!(
            "remote = \"192.0.2.2\"\nsa_out = {{ spi = 0x1001, algorithm = \"aes-256-gcm\", key = \"{key}\" }}\n"
        ),
    );
    let (line, field, message) = first_problem(&dir, &text);
    assert_eq!(field, "interface[1].sa_out");
    assert_eq!(line, line_of(&text, "sa_out"));
    assert!(message.contains("the ike table negotiates"), "{message}");

    // Neither: the tunnel has no way to get SAs.
    let bare = node("").replace("[interface.ike]\n", "");
    let (_, field, message) = first_problem(&dir, &bare);
    assert_eq!(field, "interface[1].sa_out");
    assert!(message.contains("or an ike table"), "{message}");

    // An ethernet port takes no ike table.
    let on_port = node("role = \"responder\"\npsk_file = \"vpn.psk\"").replace(
        "addresses = [\"192.0.2.1/24\"]\n",
        "addresses = [\"192.0.2.1/24\"]\nike = { role = \"responder\" }\n",
    );
    let (_, field, message) = first_problem(&dir, &on_port);
    assert_eq!(field, "interface[0].ike");
    assert!(message.contains("does not apply to ethernet"), "{message}");
}

#[test]
fn two_ike_tunnels_between_the_same_endpoints_are_refused() {
    let dir = Dir::new("twice");
    let text = node("role = \"responder\"\npsk_file = \"vpn.psk\"").replace(
        "[[route]]",
        "[[interface]]\nname = \"vpn2\"\nkind = \"esp-tunnel\"\nlocal = \"192.0.2.1\"\n\
         remote = \"192.0.2.2\"\nike = { role = \"initiator\", psk_file = \"vpn.psk\" }\n\n[[route]]",
    );
    let (_, field, message) = first_problem(&dir, &text);
    assert_eq!(field, "interface[2].ike");
    assert!(message.contains("already negotiates IKE"), "{message}");
}
