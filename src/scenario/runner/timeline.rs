//! The fault timeline of a run: each `[[fault]]` becomes link actions for
//! the simulator and happenings for the runner (a link changed, a BGP
//! session follows after its circuit's detection time, a route changes),
//! in virtual-time order.

use super::super::ScenarioError;
use super::super::bgp::SessionId;
use super::super::model::{FaultKind, Scenario};
use super::super::topology::{CIRCUITS, Topology, instances};
use super::ms;
use crate::emu::{Action, LinkId, SimTime};

/// A scheduled happening of the run.
#[derive(Debug, Clone)]
pub(super) enum Happening {
    /// A link changed state (the simulator does it; this records it).
    Link {
        link: usize,
        up: bool,
        fault: String,
    },
    /// A BGP session changes, if the link it rides is (still) in `needs`.
    Session {
        session: SessionId,
        up: bool,
        needs: Option<(usize, bool)>,
        cause: String,
    },
    /// A route change: the index of its `[[fault]]`.
    Route(usize),
    /// The gateway's IKE endpoint of `tunnel` stops or starts again
    /// (`[ike]`: the edge notices a stop by Dead Peer Detection).
    Endpoint {
        tunnel: &'static str,
        up: bool,
        fault: String,
    },
}

/// The happenings of a run in time order, each at its virtual time.
pub(super) type Timeline = Vec<(SimTime, Happening)>;

/// The links a fault's `link` names: one link, or both links of a circuit
/// (`circuit-1`, `circuit-2`).
fn fault_links(link: &str) -> Vec<&str> {
    match CIRCUITS.iter().find(|circuit| circuit.fault_name == link) {
        Some(circuit) => circuit.links.to_vec(),
        None => vec![link],
    }
}

/// Schedules every fault: link actions go to the simulator; every
/// happening is returned in time order.
pub(super) fn schedule_faults(
    scenario: &Scenario,
    topo: &mut Topology,
) -> Result<Timeline, ScenarioError> {
    let mut out = Vec::new();
    for (index, fault) in scenario.faults.iter().enumerate() {
        let link = fault.link.clone().unwrap_or_default();
        match fault.kind {
            FaultKind::Advertise
            | FaultKind::Withdraw
            | FaultKind::Prepend
            | FaultKind::LocalPref => out.push((ms(fault.at_ms), Happening::Route(index))),
            FaultKind::TunnelDown | FaultKind::TunnelUp => {
                // The VPN connection: every instance's tunnel.
                let up = fault.kind == FaultKind::TunnelUp;
                for instance in instances(scenario) {
                    if scenario.ike.is_some() {
                        out.push((
                            ms(fault.at_ms),
                            Happening::Endpoint {
                                tunnel: instance.tunnel,
                                up,
                                fault: format!("tunnel {}", if up { "up" } else { "down" }),
                            },
                        ));
                        continue;
                    }
                    out.push((
                        ms(fault.at_ms),
                        Happening::Session {
                            session: instance.session,
                            up,
                            needs: None,
                            cause: format!("tunnel {}", if up { "up" } else { "down" }),
                        },
                    ));
                }
            }
            FaultKind::InstanceDown | FaultKind::InstanceUp => {
                let up = fault.kind == FaultKind::InstanceUp;
                let instance = instances(scenario)
                    .iter()
                    .find(|i| Some(i.number) == fault.instance)
                    .ok_or_else(|| {
                        ScenarioError::invalid(
                            "fault.instance",
                            format!("{:?}: no such VPN gateway instance", fault.instance),
                        )
                    })?;
                let cause = format!(
                    "VPN gateway instance {} {} (tunnel {})",
                    instance.number,
                    if up { "back" } else { "failed" },
                    instance.tunnel
                );
                let happening = if scenario.ike.is_some() {
                    Happening::Endpoint {
                        tunnel: instance.tunnel,
                        up,
                        fault: cause,
                    }
                } else {
                    Happening::Session {
                        session: instance.session,
                        up,
                        needs: None,
                        cause,
                    }
                };
                out.push((ms(fault.at_ms), happening));
            }
            FaultKind::LinkDown | FaultKind::LinkUp => {
                let up = fault.kind == FaultKind::LinkUp;
                for name in fault_links(&link) {
                    let what = format!("link {name} {}", if up { "up" } else { "down" });
                    change_link(scenario, &mut out, topo, fault.at_ms, name, up, what)?;
                }
            }
            FaultKind::Flap => {
                let cycle = fault.down_ms + fault.up_ms;
                for k in 0..u64::from(fault.count) {
                    let down = fault.at_ms + k * cycle;
                    for name in fault_links(&link) {
                        let what = format!("flap {}/{} of {name}", k + 1, fault.count);
                        let up_at = down + fault.down_ms;
                        change_link(
                            scenario,
                            &mut out,
                            topo,
                            down,
                            name,
                            false,
                            format!("{what}: down"),
                        )?;
                        change_link(
                            scenario,
                            &mut out,
                            topo,
                            up_at,
                            name,
                            true,
                            format!("{what}: up"),
                        )?;
                    }
                }
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out)
}

/// Link `name` goes up or down at `at` ms: the simulator's action, its
/// happening, and the BGP session riding the link, which follows after
/// the circuit's detection time.
fn change_link(
    scenario: &Scenario,
    out: &mut Timeline,
    topo: &mut Topology,
    at: u64,
    name: &str,
    up: bool,
    fault: String,
) -> Result<(), ScenarioError> {
    let index = link_index(topo, name);
    let id = topo.links.get(index).copied().unwrap_or(LinkId(0));
    let action = if up {
        Action::LinkUp(id)
    } else {
        Action::LinkDown(id)
    };
    topo.sim
        .schedule(ms(at), action)
        .map_err(|e| ScenarioError::invalid(name, e.to_string()))?;
    out.push((
        ms(at),
        Happening::Link {
            link: index,
            up,
            fault: fault.clone(),
        },
    ));
    if let Some(session) = SessionId::of_link(name) {
        let detect = detection_ms(scenario, name);
        out.push((
            ms(at + detect),
            Happening::Session {
                session,
                up,
                needs: Some((index, up)),
                cause: format!("{fault} + {detect} ms detection"),
            },
        ));
    }
    Ok(())
}

fn link_index(topo: &Topology, name: &str) -> usize {
    topo.link_names.iter().position(|n| *n == name).unwrap_or(0)
}

/// The BFD/hold-time detection of the circuit that `link` belongs to.
fn detection_ms(scenario: &Scenario, link: &str) -> u64 {
    scenario
        .circuits()
        .zip(&CIRCUITS)
        .find(|(_, layout)| layout.links.contains(&link))
        .map_or(scenario.circuit.detection_ms(), |(circuit, _)| {
            circuit.detection_ms()
        })
}
