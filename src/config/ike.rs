//! The `ike` table of an `esp-tunnel` interface: the tunnel gets its SAs
//! from IKEv2 (RFC 7296, `src/ike`) instead of static `sa_out`/`sa_in`.
//! Identities, the pre-shared key (read from `psk_file`, zeroized, never
//! printed), proposals in strongSwan's notation, lifetimes, Dead Peer
//! Detection, the role, and what the node does when the peer dies.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::error::{ConfigIssue, FieldPath};
use crate::esp::DfMode;
use crate::ike::{AZURE_CHILD_LIFETIME_KB, EspSuite, IKE_PORT, Identity, IkeConfig, IkeSuite, Psk};
use crate::wire::ike::id_type;

/// Azure's CHILD_SA lifetime (27,000 s), the default `child_lifetime`.
pub const DEFAULT_CHILD_LIFETIME_S: u64 = 27_000;
/// Default `rekey_margin`: the CHILD_SA is rekeyed this long before it ends.
pub const DEFAULT_REKEY_MARGIN_S: u64 = 540;
/// Default `dpd_delay`: a liveness check after this long without news.
pub const DEFAULT_DPD_DELAY_S: u64 = 15;
/// Azure's Dead Peer Detection timeout (45 s), the default `dpd_timeout`.
pub const DEFAULT_DPD_TIMEOUT_S: u64 = 45;
/// Shortest `child_lifetime` accepted (tests shorten lifetimes to see
/// rekeys; anything shorter would rekey faster than a round trip).
pub const MIN_CHILD_LIFETIME_S: u64 = 10;

/// Who starts the negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IkeRole {
    /// The node sends IKE_SA_INIT when it starts.
    Initiator,
    /// The node waits for the peer's IKE_SA_INIT.
    Responder,
}

/// What the node does with traffic routed into the tunnel once Dead Peer
/// Detection declares the peer dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadPeerAction {
    /// The tunnel interface goes down but its routes stay: traffic routed
    /// into it is dropped (`tunnel_no_sa`), never sent in clear.
    #[default]
    FailClosed,
    /// The tunnel interface goes down and the routes over it are withdrawn:
    /// traffic falls back to the next best route (ExpressRoute's, say),
    /// where the must-encrypt policies still apply.
    Fallback,
}

/// A tunnel keyed by IKEv2.
#[derive(Debug, Clone)]
pub struct TunnelIke {
    /// Initiator or responder.
    pub role: IkeRole,
    /// Our identity (default: the tunnel's `local` address).
    pub local_id: Option<Identity>,
    /// The identity the peer must authenticate as (default: `remote`).
    pub remote_id: Option<Identity>,
    /// Where the pre-shared key was read from (as written in the file).
    pub psk_file: PathBuf,
    /// The pre-shared key (zeroized on drop, redacted in `Debug`).
    pub psk: Psk,
    /// IKE SA proposals, ours in order of preference (empty: erdp's).
    pub ike_proposals: Vec<IkeSuite>,
    /// CHILD_SA proposals (empty: erdp's).
    pub esp_proposals: Vec<EspSuite>,
    /// Our side's traffic selectors (default: everything of the family).
    pub local_ts: Vec<IpNet>,
    /// The peer's side's traffic selectors (default: everything).
    pub remote_ts: Vec<IpNet>,
    /// The CHILD_SA lifetime.
    pub child_lifetime: Duration,
    /// How long before its end a CHILD_SA is rekeyed.
    pub rekey_margin: Duration,
    /// Inner bytes either SA of a CHILD_SA carries before it is rekeyed
    /// (`None`: no volume limit).
    pub child_lifetime_bytes: Option<u64>,
    /// The DF bit on the outer header of the negotiated SAs' packets.
    pub df: DfMode,
    /// Liveness checks after this long without news (`None`: never ask,
    /// only answer).
    pub dpd_delay: Option<Duration>,
    /// A peer silent this long during a liveness check is dead.
    pub dpd_timeout: Duration,
    /// Fail closed or fall back when the peer dies.
    pub on_dead_peer: DeadPeerAction,
}

impl TunnelIke {
    /// The IKE core's configuration for a tunnel from `local` to `remote`
    /// (IKE on UDP 500; the core moves to 4500 when it sees a NAT).
    pub fn ike_config(&self, local: IpAddr, remote: IpAddr) -> IkeConfig {
        let mut config = IkeConfig::new(
            SocketAddr::new(local, IKE_PORT),
            SocketAddr::new(remote, IKE_PORT),
            self.psk.clone(),
        );
        if let Some(id) = &self.local_id {
            config.local_id = id.clone();
        }
        if let Some(id) = &self.remote_id {
            config.remote_id = id.clone();
        }
        if !self.ike_proposals.is_empty() {
            config.ike_suites = self.ike_proposals.clone();
        }
        if !self.esp_proposals.is_empty() {
            config.esp_suites = self.esp_proposals.clone();
        }
        if !self.local_ts.is_empty() {
            config.local_ts = self.local_ts.clone();
        }
        if !self.remote_ts.is_empty() {
            config.remote_ts = self.remote_ts.clone();
        }
        config.child_lifetime = self.child_lifetime;
        config.child_rekey_margin = self.rekey_margin;
        config.child_lifetime_bytes = self.child_lifetime_bytes;
        config.esp_df = self.df;
        config.dpd_delay = self.dpd_delay;
        config.dpd_timeout = self.dpd_timeout;
        config
    }
}

/// `[interface.ike]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIke {
    role: IkeRole,
    local_id: Option<String>,
    remote_id: Option<String>,
    psk_file: Option<PathBuf>,
    ike_proposals: Option<Vec<String>>,
    esp_proposals: Option<Vec<String>>,
    local_ts: Option<Vec<IpNet>>,
    remote_ts: Option<Vec<IpNet>>,
    child_lifetime: Option<u64>,
    rekey_margin: Option<u64>,
    child_lifetime_kb: Option<u64>,
    #[serde(default)]
    df: DfMode,
    dpd_delay: Option<u64>,
    dpd_timeout: Option<u64>,
    #[serde(default)]
    on_dead_peer: DeadPeerAction,
}

/// An identity as written: an address (ID_IPV4_ADDR / ID_IPV6_ADDR), a
/// mailbox `user@example.com` (ID_RFC822_ADDR) or a name (ID_FQDN).
pub fn parse_identity(text: &str) -> Result<Identity, String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok(Identity::address(address));
    }
    let kind = if text.contains('@') {
        id_type::RFC822_ADDR
    } else {
        id_type::FQDN
    };
    Ok(Identity {
        kind,
        data: text.as_bytes().to_vec(),
    })
}

/// Reads a PSK file: its bytes less trailing line ends and spaces. The
/// buffer read is wiped when dropped.
fn read_psk(path: &Path) -> Result<Psk, String> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |at| at + 1);
    if end == 0 {
        return Err(format!("{} holds no key", path.display()));
    }
    Ok(Psk::new(&bytes[..end]))
}

/// The rekey margin of a CHILD_SA lifetime when none is given: 540 s, or
/// a tenth of a shorter lifetime.
pub fn default_rekey_margin_s(lifetime_s: u64) -> u64 {
    DEFAULT_REKEY_MARGIN_S.min(lifetime_s / 10)
}

/// What is wrong with a CHILD_SA lifetime and its rekey margin (in
/// seconds), if anything: the lifetime's field or the margin's (`fields`)
/// and the message, which names the lifetime's field `lifetime_name`.
pub fn lifetime_issue(
    (lifetime_s, margin_s): (u64, u64),
    fields: (FieldPath, FieldPath),
    lifetime_name: &str,
) -> Option<(FieldPath, String)> {
    if lifetime_s < MIN_CHILD_LIFETIME_S {
        let message = format!("{lifetime_s} s is shorter than {MIN_CHILD_LIFETIME_S} s");
        Some((fields.0, message))
    } else if margin_s >= lifetime_s {
        let message = format!("{margin_s} s is not shorter than {lifetime_name} ({lifetime_s} s)");
        Some((fields.1, message))
    } else {
        None
    }
}

fn seconds(value: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(value.unwrap_or(default))
}

impl RawIke {
    /// The typed table; `base` is the directory `psk_file` is relative to,
    /// `local` the tunnel's address family's representative.
    pub(super) fn convert(
        self,
        at: &FieldPath,
        base: &Path,
        local: Option<IpAddr>,
    ) -> Result<TunnelIke, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut issue = |path: FieldPath, message: String| {
            issues.push(ConfigIssue::new(path, message));
        };
        let mut identity = |field: &str, text: Option<String>| {
            text.and_then(|t| parse_identity(&t).map_err(|m| issue(at.key(field), m)).ok())
        };
        let local_id = identity("local_id", self.local_id);
        let remote_id = identity("remote_id", self.remote_id);
        let psk_file = self.psk_file.unwrap_or_default();
        let psk = if psk_file.as_os_str().is_empty() {
            issue(
                at.key("psk_file"),
                "ike needs psk_file (a file holding the pre-shared key)".to_owned(),
            );
            None
        } else {
            read_psk(&base.join(&psk_file))
                .map_err(|m| issue(at.key("psk_file"), m))
                .ok()
        };
        let ike_proposals = parse_list(
            &mut issue,
            at,
            "ike_proposals",
            self.ike_proposals,
            IkeSuite::from_notation,
        );
        let esp_proposals = parse_list(
            &mut issue,
            at,
            "esp_proposals",
            self.esp_proposals,
            EspSuite::from_notation,
        );
        for (field, nets) in [("local_ts", &self.local_ts), ("remote_ts", &self.remote_ts)] {
            match nets {
                Some(nets) if nets.is_empty() => issue(
                    at.key(field),
                    "is empty: leave it out for everything".to_owned(),
                ),
                Some(nets) => {
                    for (k, net) in nets.iter().enumerate() {
                        if local.is_some_and(|l| l.is_ipv4() != net.addr().is_ipv4()) {
                            issue(
                                at.key(field).index(k),
                                format!("{net} is not of the tunnel's address family"),
                            );
                        }
                    }
                }
                None => {}
            }
        }
        let child_lifetime = seconds(self.child_lifetime, DEFAULT_CHILD_LIFETIME_S);
        let rekey_margin = seconds(
            self.rekey_margin,
            default_rekey_margin_s(child_lifetime.as_secs()),
        );
        if let Some((field, message)) = lifetime_issue(
            (child_lifetime.as_secs(), rekey_margin.as_secs()),
            (at.key("child_lifetime"), at.key("rekey_margin")),
            "child_lifetime",
        ) {
            issue(field, message);
        }
        let dpd_delay = match self.dpd_delay {
            Some(0) => None,
            other => Some(seconds(other, DEFAULT_DPD_DELAY_S)),
        };
        let dpd_timeout = seconds(self.dpd_timeout, DEFAULT_DPD_TIMEOUT_S);
        if dpd_timeout.is_zero() {
            issue(at.key("dpd_timeout"), "must be at least 1 s".to_owned());
        }
        let (Some(psk), Some(ike_proposals), Some(esp_proposals)) =
            (psk, ike_proposals, esp_proposals)
        else {
            return Err(issues);
        };
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(TunnelIke {
            role: self.role,
            local_id,
            remote_id,
            psk_file,
            psk,
            ike_proposals,
            esp_proposals,
            local_ts: self.local_ts.unwrap_or_default(),
            remote_ts: self.remote_ts.unwrap_or_default(),
            child_lifetime,
            rekey_margin,
            child_lifetime_bytes: child_lifetime_bytes(self.child_lifetime_kb),
            df: self.df,
            dpd_delay,
            dpd_timeout,
            on_dead_peer: self.on_dead_peer,
        })
    }
}

/// A CHILD_SA's volume limit in bytes from `child_lifetime_kb` (Azure's
/// 102,400,000 KB when absent; 0: no limit).
pub fn child_lifetime_bytes(kb: Option<u64>) -> Option<u64> {
    match kb.unwrap_or(AZURE_CHILD_LIFETIME_KB) {
        0 => None,
        kb => Some(kb.saturating_mul(1024)),
    }
}

/// Parses a proposal list, each bad name an issue at its index; `None`
/// when any was bad or the list is empty. A missing list is empty (erdp's
/// defaults).
fn parse_list<T, E: std::fmt::Display>(
    issue: &mut impl FnMut(FieldPath, String),
    at: &FieldPath,
    field: &str,
    names: Option<Vec<String>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<Vec<T>> {
    let Some(names) = names else {
        return Some(Vec::new());
    };
    if names.is_empty() {
        issue(
            at.key(field),
            "is empty: leave it out for erdp's defaults".to_owned(),
        );
        return None;
    }
    let mut all = Vec::with_capacity(names.len());
    let mut ok = true;
    for (k, name) in names.iter().enumerate() {
        match parse(name) {
            Ok(suite) => all.push(suite),
            Err(e) => {
                ok = false;
                issue(at.key(field).index(k), e.to_string());
            }
        }
    }
    ok.then_some(all)
}
