//! The run's log: one [`FaultRecord`] per happening (what happened, what it
//! did to the BGP route counts), and the tunnel recursions found after
//! each route installation.

use std::fmt::Write as _;

use super::super::bgp::RouteCounts;
use super::super::recursion::{Recursion, tunnel_recursions};
use super::super::report::FaultRecord;
use super::super::topology::Topology;
use super::to_ms;
use crate::emu::SimTime;

/// A record of `event` at `at` with its `effect`, nothing measured yet.
pub(super) fn record_of(at: SimTime, event: String, effect: String) -> FaultRecord {
    FaultRecord {
        at_ms: to_ms(at),
        event,
        effect,
        routes: None,
        frames_lost: None,
        outage_ms: None,
        lasted_ms: None,
    }
}

/// How the BGP route counts went from `before` to `after`.
pub(super) fn counts_text(before: RouteCounts, after: RouteCounts) -> String {
    let mut text = format!(
        "BGP routes: onprem-edge {}->{}, msee {}->{}, azure-hub {}->{}",
        before.edge, after.edge, before.msee, after.msee, before.hub, after.hub
    );
    if let Some(msee2) = after.msee2 {
        let _ = write!(text, ", msee2 {}->{msee2}", before.msee2.unwrap_or(0));
    }
    text
}

/// Tunnel recursions found after each route installation, each with the
/// virtual time it was first seen.
#[derive(Debug, Default)]
pub(super) struct Recursions(Vec<(Recursion, SimTime)>);

impl Recursions {
    /// Notes the recursions the nodes' routes make now (each once).
    pub(super) fn check(&mut self, topo: &Topology, now: SimTime) {
        for found in tunnel_recursions(&topo.nodes) {
            if !self.0.iter().any(|(r, _)| *r == found) {
                self.0.push((found, now));
            }
        }
    }

    /// One message per recursion, with when it was first seen.
    pub(super) fn messages(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(r, since)| r.message(to_ms(*since)))
            .collect()
    }
}
