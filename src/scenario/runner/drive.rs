//! Driving a run: virtual time advances in small steps (finer while a link
//! is down, to time the outage), each happening of the timeline is played
//! when its time comes (links, BGP sessions, route changes), and the
//! control plane reinstalls routes after each change. Ends when the
//! timeline is played and the traffic is over, or at the duration.

use std::time::Duration;

use super::super::bgp::{ControlPlane, RouteCounts, SessionId};
use super::super::model::{Fault, Scenario};
use super::super::report::FaultRecord;
use super::super::topology::Topology;
use super::ike::{IkeWatch, TunnelChange, set_gateway_endpoint};
use super::outages::{Outages, link_down_drops};
use super::records::{Recursions, counts_text, record_of};
use super::timeline::{Happening, Timeline};
use super::traffic::{Traffic, traffic_done};
use super::{ms, to_ms};
use crate::emu::SimTime;

/// The state of a run between its happenings.
#[derive(Debug)]
pub(super) struct Drive {
    /// The BGP sessions and what they advertise.
    pub(super) plane: ControlPlane,
    /// The BGP route counts now.
    counts: RouteCounts,
    /// The log of what happened.
    pub(super) faults: Vec<FaultRecord>,
    /// Tunnel recursions found so far.
    pub(super) recursions: Recursions,
    /// The open outage of each link.
    outages: Outages,
    /// Each VPN session that is down: its down record and since when.
    vpn_down: Vec<(SessionId, usize, SimTime)>,
    /// The edge's IKE tunnels, which decide the VPN sessions (`[ike]`).
    ike: IkeWatch,
}

impl Drive {
    /// Brings the BGP sessions up at time zero: routes installed, the
    /// first records (the sessions, any limit already exceeded), the
    /// recursions the first routes make. With `[ike]`, the VPN sessions
    /// wait for their tunnels.
    pub(super) fn establish_sessions(scenario: &Scenario, topo: &Topology) -> Self {
        let mut plane = ControlPlane::new(scenario);
        let ike = IkeWatch::new(topo);
        for session in ike.sessions() {
            plane.set(session, false);
        }
        let limited = plane.check_limits();
        let counts = plane.apply(&topo.nodes);
        let event = if ike.is_active() {
            "BGP sessions established (the VPN's once IKE is up)"
        } else {
            "BGP sessions established"
        };
        let mut faults = vec![FaultRecord {
            at_ms: 0.0,
            event: event.into(),
            effect: counts_text(RouteCounts::default(), counts),
            routes: Some(counts),
            frames_lost: None,
            outage_ms: None,
            lasted_ms: None,
        }];
        for (event, effect) in limited {
            let mut record = record_of(SimTime::ZERO, event, effect);
            record.routes = Some(counts);
            faults.push(record);
        }
        let mut recursions = Recursions::default();
        recursions.check(topo, SimTime::ZERO);
        Drive {
            plane,
            counts,
            faults,
            recursions,
            outages: Outages::new(topo.links.len()),
            vpn_down: Vec::new(),
            ike,
        }
    }

    /// Runs virtual time until the timeline is played and the traffic is
    /// over, or until the scenario's duration.
    pub(super) fn play(
        &mut self,
        scenario: &Scenario,
        topo: &mut Topology,
        happenings: &Timeline,
        traffic: &Traffic,
        progress: bool,
    ) {
        let end = ms(scenario.duration_ms);
        let progress = progress.then(|| {
            let bar = indicatif::ProgressBar::new(scenario.duration_ms);
            bar.set_message("virtual ms");
            bar
        });
        let mut next = 0usize;
        loop {
            let pending = happenings.get(next).map(|(at, _)| *at);
            if pending.is_none() && traffic_done(topo, traffic) && self.ike.settled(topo) {
                break;
            }
            if topo.sim.now() >= end {
                break;
            }
            self.step(topo, pending, end);
            if let Some(bar) = &progress {
                bar.set_position(to_ms(topo.sim.now()) as u64);
            }
            while let Some((at, happening)) = happenings.get(next) {
                if *at > topo.sim.now() {
                    break;
                }
                next += 1;
                self.happen(scenario, topo, happening);
            }
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
    }

    /// The failures of links still down get what they cost so far.
    pub(super) fn close_open_outages(&mut self, topo: &Topology) {
        self.outages.close_unfinished(topo, &mut self.faults);
    }

    /// Advances virtual time one step (0.5 ms while a link is down, else
    /// 20 ms), no further than the next happening or the end.
    fn step(&mut self, topo: &mut Topology, pending: Option<SimTime>, end: SimTime) {
        let step = if self.outages.any_open() {
            Duration::from_micros(500)
        } else {
            Duration::from_millis(20)
        };
        let mut target = (topo.sim.now() + step).min(end);
        if let Some(at) = pending {
            target = target.min(at);
        }
        topo.sim.run_until(target);
        self.outages.watch(topo);
        if self.ike.is_active() {
            self.tunnels_changed(topo);
        }
    }

    /// The VPN sessions follow the edge's IKE tunnels; each CHILD_SA
    /// installed is logged.
    fn tunnels_changed(&mut self, topo: &Topology) {
        let now = topo.sim.now();
        for change in self.ike.look(topo) {
            match change {
                TunnelChange::Session { session, up, cause } => {
                    self.session_changed(topo, now, session, up, None, &cause);
                }
                TunnelChange::ChildSa { event, effect } => {
                    self.faults.push(record_of(now, event, effect));
                }
            }
        }
    }

    fn happen(&mut self, scenario: &Scenario, topo: &mut Topology, happening: &Happening) {
        let now = topo.sim.now();
        match happening {
            Happening::Link { link, up, fault } => self.link_changed(topo, now, *link, *up, fault),
            Happening::Session {
                session,
                up,
                needs,
                cause,
            } => self.session_changed(topo, now, *session, *up, *needs, cause),
            Happening::Route(index) => {
                if let Some(fault) = scenario.faults.get(*index) {
                    self.route_changed(topo, now, fault);
                }
            }
            Happening::Endpoint { tunnel, up, fault } => {
                let effect = match (set_gateway_endpoint(topo, tunnel, *up, now), up) {
                    (false, _) => format!("no IKE endpoint for tunnel {tunnel} on the gateway"),
                    (true, true) => format!(
                        "the gateway's IKE endpoint for {tunnel} starts again (the edge initiates)"
                    ),
                    (true, false) => format!(
                        "the gateway's IKE endpoint for {tunnel} stops: its SAs are gone; the edge notices by Dead Peer Detection"
                    ),
                };
                self.faults.push(record_of(now, fault.clone(), effect));
            }
        }
    }

    /// A link went down (an outage opens) or came back (it closes).
    fn link_changed(&mut self, topo: &Topology, now: SimTime, link: usize, up: bool, fault: &str) {
        let drops = link_down_drops(topo, link);
        if up {
            self.outages.close(link, now, drops, &mut self.faults);
            self.faults
                .push(record_of(now, fault.to_string(), "carrier back".into()));
        } else {
            let name = topo.link_names.get(link).copied().unwrap_or("?");
            self.faults.push(record_of(
                now,
                fault.to_string(),
                format!("{name} drops every frame"),
            ));
            self.outages.open(link, self.faults.len() - 1, now, drops);
        }
    }

    /// A BGP session goes up or down, unless the link it needs changed
    /// back meanwhile or the session already is so; routes follow.
    fn session_changed(
        &mut self,
        topo: &Topology,
        now: SimTime,
        session: SessionId,
        up: bool,
        needs: Option<(usize, bool)>,
        cause: &str,
    ) {
        let link_ok = needs.is_none_or(|(link, want_up)| {
            topo.links
                .get(link)
                .and_then(|&id| topo.sim.link(id))
                .is_some_and(|l| l.is_up() == want_up)
        });
        if !link_ok || !self.plane.set(session, up) {
            return;
        }
        let after = self.plane.apply(&topo.nodes);
        self.recursions.check(topo, now);
        let state = if up { "up" } else { "DOWN" };
        let mut record = record_of(
            now,
            format!("BGP {} {state}", session.as_str()),
            format!("{cause}: {}", counts_text(self.counts, after)),
        );
        record.routes = Some(after);
        self.counts = after;
        self.faults.push(record);
        if session.is_vpn() {
            if up {
                if let Some(at) = self.vpn_down.iter().position(|(s, ..)| *s == session) {
                    let (_, index, since) = self.vpn_down.swap_remove(at);
                    if let Some(r) = self.faults.get_mut(index) {
                        r.lasted_ms = Some(to_ms(now) - to_ms(since));
                    }
                }
            } else {
                self.vpn_down.push((session, self.faults.len() - 1, now));
            }
        }
    }

    /// A route change: advertisements change, limits are checked, routes
    /// are reinstalled.
    fn route_changed(&mut self, topo: &Topology, now: SimTime, fault: &Fault) {
        let what = self.plane.change(fault);
        let limited = self.plane.check_limits();
        let after = self.plane.apply(&topo.nodes);
        self.recursions.check(topo, now);
        let mut record = record_of(
            now,
            format!("route change: {what}"),
            counts_text(self.counts, after),
        );
        record.routes = Some(after);
        self.counts = after;
        self.faults.push(record);
        for (event, effect) in limited {
            let mut record = record_of(now, event, effect);
            record.routes = Some(after);
            self.faults.push(record);
        }
    }
}
