//! One tunnel keyed by IKE: its [`Ike`] endpoint, and what each IKE event
//! does to the node. A CHILD_SA up installs both SAs; a rekey installs the
//! new pair and keeps the old inbound SA until its Delete (RFC 7296 section
//! 2.8, make-before-break); a dead peer or a deleted IKE SA takes the tunnel
//! down: no SA (traffic routed into it is dropped as `tunnel_no_sa`), and
//! with `on_dead_peer = "fallback"` its routes withdrawn until it is up
//! again. ESP received on the tunnel counts as news from the peer for Dead
//! Peer Detection. Keys go to the node and to the esp_sa lines, never to
//! logs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::config::{DeadPeerAction, IkeRole, InterfaceKind};
use crate::dataplane::Node;
use crate::esp::{SaConfig, wireshark_esp_sa_line};
use crate::fib::InterfaceId;
use crate::ike::{ChildSa, Datagram, Event, Ike, IkeDrop, Output};
use crate::rib::Route;

/// How long an initiator waits before trying again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Where a tunnel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelState {
    /// No CHILD_SA yet (negotiating, or waiting for the peer).
    Negotiating,
    /// A CHILD_SA carries traffic.
    Up,
    /// The peer is dead or deleted the IKE SA: no SA.
    Down,
}

impl TunnelState {
    /// How summaries show it: `up`, `NEGOTIATING`, `DOWN`.
    pub fn as_text(self) -> &'static str {
        match self {
            TunnelState::Up => "up",
            TunnelState::Negotiating => "NEGOTIATING",
            TunnelState::Down => "DOWN",
        }
    }

    /// A summary's line about a tunnel end in this state after `pairs`
    /// SA pairs: `up, 5 SA pairs; last failure: ...`.
    pub fn summary(self, pairs: usize, last_failure: Option<&str>) -> String {
        let failure = last_failure.map_or(String::new(), |f| format!("; last failure: {f}"));
        format!("{}, {pairs} SA pairs{failure}", self.as_text())
    }
}

/// One SA pair the tunnel had, for the report (no keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaRecord {
    /// Our inbound SPI.
    pub inbound_spi: u32,
    /// The peer's SPI we send on.
    pub outbound_spi: u32,
    /// The ESP algorithm.
    pub algorithm: String,
    /// When it was installed, in seconds since the control plane started.
    pub installed_at_s: f64,
    /// When it was deleted, if it was.
    pub deleted_at_s: Option<f64>,
    /// Its lifetime.
    pub lifetime_s: u64,
    /// Its lifetime in volume (KB either way), if it has one.
    pub lifetime_kb: Option<u64>,
}

/// One tunnel end as reports show it (`erdp attach`, `erdp run`): no keys.
#[derive(Debug, Clone, Serialize)]
pub struct TunnelReport {
    /// The tunnel interface.
    pub interface: String,
    /// Where it stands.
    pub state: TunnelState,
    /// Why it last failed or went down.
    pub last_failure: Option<String>,
    /// Every SA pair it had, in installation order.
    pub sas: Vec<SaRecord>,
    /// The IKE core's drops by reason (non-zero only).
    pub drops: BTreeMap<&'static str, u64>,
}

/// A tunnel keyed by IKE.
#[derive(Debug)]
pub struct IkeTunnel {
    interface: InterfaceId,
    name: String,
    local: IpAddr,
    remote: IpAddr,
    role: IkeRole,
    on_dead_peer: DeadPeerAction,
    lifetime: Duration,
    lifetime_bytes: Option<u64>,
    ike: Ike,
    state: TunnelState,
    /// When an initiator next starts a negotiation.
    next_attempt: Option<Duration>,
    /// Routes withdrawn while the tunnel is down (fallback).
    withdrawn: Vec<Route>,
    /// Every SA pair, in installation order.
    history: Vec<SaRecord>,
    /// The SA configurations installed, for the esp_sa lines.
    installed: Vec<SaConfig>,
    /// Packets decrypted on the tunnel when last looked.
    decrypted_seen: u64,
    /// Why the tunnel last went down or failed.
    last_failure: Option<String>,
    /// Stopped: the endpoint is gone (an emulated gateway failure), hears
    /// nothing and sends nothing until restarted.
    stopped: bool,
    /// The seed of the SPI stream, when SPIs are drawn from one
    /// ([`Ike::draw_spis_from`]), and how many endpoints it has seeded.
    spi_seed: Option<(u64, u64)>,
}

impl IkeTunnel {
    /// One per tunnel of `node` with an `ike` table.
    pub(super) fn all_of(node: &Node) -> Vec<IkeTunnel> {
        let config = node.config();
        config
            .interfaces
            .iter()
            .enumerate()
            .filter_map(|(at, interface)| {
                let InterfaceKind::EspTunnel(t) = &interface.kind else {
                    return None;
                };
                let ike = t.ike()?;
                Some(IkeTunnel {
                    interface: InterfaceId(at as u32),
                    name: interface.name.clone(),
                    local: t.local,
                    remote: t.remote,
                    role: ike.role,
                    on_dead_peer: ike.on_dead_peer,
                    lifetime: ike.child_lifetime,
                    lifetime_bytes: ike.child_lifetime_bytes,
                    ike: Ike::new(ike.ike_config(t.local, t.remote)),
                    state: TunnelState::Negotiating,
                    next_attempt: (ike.role == IkeRole::Initiator).then_some(Duration::ZERO),
                    withdrawn: Vec::new(),
                    history: Vec::new(),
                    installed: Vec::new(),
                    decrypted_seen: 0,
                    last_failure: None,
                    stopped: false,
                    spi_seed: None,
                })
            })
            .collect()
    }

    /// The tunnel interface.
    pub fn interface(&self) -> InterfaceId {
        self.interface
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Our endpoint.
    pub fn local(&self) -> IpAddr {
        self.local
    }

    /// The peer's endpoint.
    pub fn remote(&self) -> IpAddr {
        self.remote
    }

    /// Where it stands.
    pub fn state(&self) -> TunnelState {
        self.state
    }

    /// Every SA pair it had.
    pub fn history(&self) -> &[SaRecord] {
        &self.history
    }

    /// Why it last failed or went down.
    pub fn last_failure(&self) -> Option<&str> {
        self.last_failure.as_deref()
    }

    /// The IKE endpoint (its drop counters).
    pub fn ike(&self) -> &Ike {
        &self.ike
    }

    /// Its report.
    pub fn report(&self) -> TunnelReport {
        let stats = self.ike.stats();
        TunnelReport {
            interface: self.name.clone(),
            state: self.state,
            last_failure: self.last_failure.clone(),
            sas: self.history.clone(),
            drops: IkeDrop::ALL
                .iter()
                .map(|r| (r.as_str(), stats.dropped(*r)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }

    /// Whether the endpoint is stopped ([`super::ControlPlane::stop`]).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Draws the endpoint's SPIs from a stream seeded with `seed` (and
    /// every later endpoint's, after a restart, from the next seed).
    pub(super) fn draw_spis_from(&mut self, seed: u64) {
        self.spi_seed = Some((seed, 1));
        self.ike.draw_spis_from(seed);
    }

    /// The endpoint dies, as a failed gateway does: its IKE state and SAs
    /// are gone at once, it answers nothing and starts nothing until
    /// [`IkeTunnel::restart`]. The peer notices by Dead Peer Detection.
    pub(super) fn stop(&mut self, now: Duration, node: &Node) {
        self.stopped = true;
        self.ike = self.fresh_ike();
        self.down(now, "the IKE endpoint was stopped".to_owned(), node);
        // Down even if it never came up, and no retry until restarted.
        self.state = TunnelState::Down;
        self.next_attempt = None;
    }

    /// The endpoint starts again with no state, as a restarted gateway
    /// does: an initiator negotiates at once, a responder waits.
    pub(super) fn restart(&mut self, now: Duration) {
        self.stopped = false;
        self.state = TunnelState::Negotiating;
        self.next_attempt = (self.role == IkeRole::Initiator).then_some(now);
    }

    /// A new endpoint with this tunnel's configuration (SPIs from the
    /// next seed of the stream, if seeded).
    fn fresh_ike(&mut self) -> Ike {
        let mut ike = Ike::new(self.ike.config().clone());
        if let Some((seed, used)) = &mut self.spi_seed {
            ike.draw_spis_from(seed.wrapping_add(*used));
            *used += 1;
        }
        ike
    }

    /// The esp_sa lines of every SA installed.
    pub(super) fn wireshark_lines(&self) -> Vec<String> {
        self.installed
            .iter()
            .filter_map(wireshark_esp_sa_line)
            .collect()
    }

    pub(super) fn handle(&mut self, now: Duration, datagram: &Datagram, node: &Node) -> Output {
        let mut out = Output::default();
        if self.stopped {
            return out;
        }
        self.ike.handle(now, datagram, &mut out);
        self.apply(now, &out.events, node);
        out
    }

    pub(super) fn poll(&mut self, now: Duration, node: &Node) -> Output {
        let mut out = Output::default();
        if self.stopped {
            return out;
        }
        let decrypted = node
            .counters()
            .interfaces
            .get(self.interface.0 as usize)
            .map_or(0, |c| c.decrypted.packets);
        if decrypted != self.decrypted_seen {
            self.decrypted_seen = decrypted;
            self.ike.traffic_received(now);
        }
        // Rekey by volume: the current pair's soft byte limit.
        if self.state == TunnelState::Up
            && let Some(current) = self.history.last()
            && node.soft_limit_reached(self.interface, current.inbound_spi)
            && self.ike.rekey_child(current.inbound_spi)
        {
            tracing::info!(tunnel = %self.name, "CHILD_SA soft byte limit reached: rekeying");
        }
        if self.next_attempt.is_some_and(|at| now >= at) && self.state != TunnelState::Up {
            self.next_attempt = None;
            self.ike.initiate(now, &mut out);
        }
        self.ike.poll(now, &mut out);
        self.apply(now, &out.events, node);
        out
    }

    fn apply(&mut self, now: Duration, events: &[Event], node: &Node) {
        for event in events {
            match event {
                Event::IkeSaEstablished { suite, nat, .. } => {
                    tracing::info!(tunnel = %self.name, ?suite, nat, "IKE SA established");
                }
                Event::ChildSaInstalled(child) => self.install(now, child, node),
                Event::ChildSaRekeyed {
                    old_inbound_spi,
                    new,
                } => {
                    tracing::info!(
                        tunnel = %self.name,
                        old = format_args!("0x{old_inbound_spi:08x}"),
                        "CHILD_SA rekeyed"
                    );
                    self.install(now, new, node);
                }
                Event::ChildSaDeleted {
                    inbound_spi,
                    outbound_spi,
                } => {
                    node.remove_inbound_sa(*inbound_spi);
                    node.remove_outbound_sa(self.interface, *outbound_spi);
                    for record in &mut self.history {
                        if record.inbound_spi == *inbound_spi && record.deleted_at_s.is_none() {
                            record.deleted_at_s = Some(now.as_secs_f64());
                        }
                    }
                    if !node.tunnel_has_sa(self.interface) {
                        self.down(now, "the peer deleted the CHILD_SA".to_owned(), node);
                    }
                }
                Event::Failed { failure, .. } => {
                    tracing::warn!(tunnel = %self.name, %failure, "IKE failed");
                    self.down(now, failure.to_string(), node);
                }
                Event::IkeSaDeleted { .. } => {
                    self.down(now, "the peer deleted the IKE SA".to_owned(), node);
                }
            }
        }
    }

    fn install(&mut self, now: Duration, child: &ChildSa, node: &Node) {
        match node.install_sas(self.interface, &child.inbound, &child.outbound) {
            Ok(()) => {
                tracing::info!(
                    tunnel = %self.name,
                    inbound = format_args!("0x{:08x}", child.inbound.spi),
                    outbound = format_args!("0x{:08x}", child.outbound.spi),
                    algorithm = %child.suite.algorithm,
                    "CHILD_SA installed"
                );
                self.history.push(SaRecord {
                    inbound_spi: child.inbound.spi,
                    outbound_spi: child.outbound.spi,
                    algorithm: child.suite.algorithm.to_string(),
                    installed_at_s: now.as_secs_f64(),
                    deleted_at_s: None,
                    lifetime_s: self.lifetime.as_secs(),
                    lifetime_kb: self.lifetime_bytes.map(|b| b / 1024),
                });
                self.installed.push(child.inbound.clone());
                self.installed.push(child.outbound.clone());
                self.up(node);
            }
            Err(error) => {
                tracing::warn!(tunnel = %self.name, %error, "CHILD_SA refused by the node");
                self.last_failure = Some(error.to_string());
            }
        }
    }

    fn up(&mut self, node: &Node) {
        self.state = TunnelState::Up;
        if !self.withdrawn.is_empty() {
            let back = std::mem::take(&mut self.withdrawn);
            node.update_routes(|rib| {
                for route in back {
                    let _ = rib.add(route);
                }
            });
        }
    }

    fn down(&mut self, now: Duration, why: String, node: &Node) {
        let was = self.state;
        node.clear_tunnel_sas(self.interface);
        self.state = if was == TunnelState::Up {
            TunnelState::Down
        } else {
            was
        };
        for record in &mut self.history {
            record.deleted_at_s.get_or_insert(now.as_secs_f64());
        }
        if self.on_dead_peer == DeadPeerAction::Fallback && self.withdrawn.is_empty() {
            let id = self.interface;
            self.withdrawn = node
                .config()
                .routes
                .iter()
                .filter(|r| r.next_hop.interface == id)
                .cloned()
                .collect();
            node.update_routes(|rib| rib.withdraw_where(|r| r.next_hop.interface == id))
                .ok();
        }
        if self.role == IkeRole::Initiator {
            self.next_attempt = Some(now + RETRY_AFTER);
        }
        self.last_failure = Some(why);
    }
}
