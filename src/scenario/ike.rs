//! `[ike]`: the tunnels get their SAs from IKEv2 instead of static keys.
//! The on-premises edge initiates, the VPN gateway answers, over the
//! emulated circuit and in virtual time: the handshake, CHILD_SA rekeys by
//! lifetime (make-before-break) and Dead Peer Detection run as they would
//! between real devices. A `tunnel-down` (or `instance-down`) fault then
//! stops the gateway's IKE endpoint and the edge notices by DPD; the VPN's
//! BGP session follows the edge's tunnel (up when a CHILD_SA is installed,
//! down when the peer is declared dead).
//!
//! Azure's defaults (child SA 27,000 s, DPD timeout 45 s) are the
//! defaults here; a scenario shortens them to show rekeys and DPD within
//! a run, and the report says which values it ran with.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::report::IkeTunnelReport;
use super::topology::Topology;
use crate::config::{
    ConfigIssue, DEFAULT_CHILD_LIFETIME_S, DEFAULT_DPD_DELAY_S, DEFAULT_DPD_TIMEOUT_S,
    DeadPeerAction, FieldPath, IkeRole, TunnelIke, child_lifetime_bytes, default_rekey_margin_s,
    lifetime_issue,
};
use crate::control::ControlPlane;
use crate::emu::{DeviceId, NodeDevice};
use crate::esp::DfMode;
use crate::ike::{AZURE_CHILD_LIFETIME_KB, Psk};

/// `[ike]` of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IkeSpec {
    /// CHILD_SA lifetime in seconds (Azure's: 27,000).
    #[serde(default = "default_child_lifetime")]
    pub child_lifetime_s: u64,
    /// Rekey this long before a CHILD_SA ends (default: 540 s, or a tenth
    /// of a shorter lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_margin_s: Option<u64>,
    /// CHILD_SA lifetime in volume: rekeyed once either direction carried
    /// this many KB (Azure's: 102,400,000; 0: no volume limit).
    #[serde(default = "default_child_lifetime_kb")]
    pub child_lifetime_kb: u64,
    /// The edge sends a liveness check after this long without news from
    /// the gateway (default 15 s).
    #[serde(default = "default_dpd_delay")]
    pub dpd_delay_s: u64,
    /// A gateway silent this long during a liveness check is dead
    /// (Azure's: 45 s).
    #[serde(default = "default_dpd_timeout")]
    pub dpd_timeout_s: u64,
}

fn default_child_lifetime() -> u64 {
    DEFAULT_CHILD_LIFETIME_S
}
fn default_child_lifetime_kb() -> u64 {
    AZURE_CHILD_LIFETIME_KB
}
fn default_dpd_delay() -> u64 {
    DEFAULT_DPD_DELAY_S
}
fn default_dpd_timeout() -> u64 {
    DEFAULT_DPD_TIMEOUT_S
}

impl Default for IkeSpec {
    fn default() -> Self {
        IkeSpec {
            child_lifetime_s: DEFAULT_CHILD_LIFETIME_S,
            rekey_margin_s: None,
            child_lifetime_kb: AZURE_CHILD_LIFETIME_KB,
            dpd_delay_s: DEFAULT_DPD_DELAY_S,
            dpd_timeout_s: DEFAULT_DPD_TIMEOUT_S,
        }
    }
}

impl IkeSpec {
    /// The rekey margin in seconds.
    pub fn rekey_margin(&self) -> u64 {
        self.rekey_margin_s
            .unwrap_or(default_rekey_margin_s(self.child_lifetime_s))
    }

    /// Every problem of the values, at `at` (`ike`), checked as a node
    /// file's `ike` table is.
    pub(super) fn issues(&self, at: &FieldPath) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        let lifetime = lifetime_issue(
            (self.child_lifetime_s, self.rekey_margin()),
            (at.key("child_lifetime_s"), at.key("rekey_margin_s")),
            "child_lifetime_s",
        );
        if let Some((field, message)) = lifetime {
            issues.push(ConfigIssue::new(field, message));
        }
        for (key, value) in [
            ("dpd_delay_s", self.dpd_delay_s),
            ("dpd_timeout_s", self.dpd_timeout_s),
        ] {
            if value == 0 {
                issues.push(ConfigIssue::new(at.key(key), "must be at least 1 s"));
            }
        }
        issues
    }

    /// The `ike` table of one end of a tunnel: the edge initiates and
    /// checks liveness, the gateway answers. Both fail closed: the VPN's
    /// BGP session, not the node, withdraws routes when the peer dies.
    /// The gateway's rekey margin is half the edge's and its volume
    /// limit 20 % higher, so the edge rekeys first and the gateway's own
    /// rekey never comes due (real peers spread their rekey times with
    /// jitter for the same reason: erdp does not resolve simultaneous
    /// rekeys, RFC 7296 section 2.8.1).
    pub(crate) fn tunnel_ike(&self, role: IkeRole, psk: &[u8], df: DfMode) -> TunnelIke {
        let bytes = child_lifetime_bytes(Some(self.child_lifetime_kb));
        let (margin, bytes) = match role {
            IkeRole::Initiator => (self.rekey_margin(), bytes),
            IkeRole::Responder => (
                self.rekey_margin() / 2,
                bytes.map(|b| b.saturating_add(b / 5)),
            ),
        };
        TunnelIke {
            role,
            local_id: None,
            remote_id: None,
            psk_file: "(generated by the scenario)".into(),
            psk: Psk::new(psk),
            ike_proposals: Vec::new(),
            esp_proposals: Vec::new(),
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
            child_lifetime: Duration::from_secs(self.child_lifetime_s),
            rekey_margin: Duration::from_secs(margin),
            child_lifetime_bytes: bytes,
            df,
            dpd_delay: Some(Duration::from_secs(self.dpd_delay_s)),
            dpd_timeout: Duration::from_secs(self.dpd_timeout_s),
            on_dead_peer: DeadPeerAction::FailClosed,
        }
    }
}

/// The control plane of the node device `id`, if it has one.
pub(super) fn control_of(topo: &Topology, id: DeviceId) -> Option<&ControlPlane> {
    topo.sim
        .device::<NodeDevice>(id)
        .and_then(NodeDevice::control)
}

/// Each end of each tunnel keyed by IKE (the edge's, then the hub's), and
/// the esp_sa lines of every SA they had.
pub(super) fn tunnel_reports(topo: &Topology) -> (Vec<IkeTunnelReport>, Vec<String>) {
    let mut reports = Vec::new();
    let mut esp_sa = Vec::new();
    for (id, node) in [(topo.edge, &topo.nodes.edge), (topo.hub, &topo.nodes.hub)] {
        let Some(control) = control_of(topo, id) else {
            continue;
        };
        for line in control.wireshark_lines() {
            // Both ends hold both SAs of a pair: one line each.
            if !esp_sa.contains(&line) {
                esp_sa.push(line);
            }
        }
        reports.extend(control.tunnels().iter().map(|tunnel| IkeTunnelReport {
            node: node.name().to_string(),
            tunnel: tunnel.report(),
        }));
    }
    (reports, esp_sa)
}
