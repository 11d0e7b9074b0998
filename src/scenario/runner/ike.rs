//! Tunnels keyed by IKE during a run (`[ike]`): the VPN's BGP sessions
//! follow the edge's tunnels (up once a CHILD_SA is installed, down when
//! IKE fails or Dead Peer Detection declares the gateway dead), every
//! CHILD_SA installed is logged, and a `tunnel-down` / `instance-down`
//! fault stops the gateway's IKE endpoint instead of taking the session
//! down by fiat (`tunnel-up` / `instance-up` restart it).

use super::super::bgp::SessionId;
use super::super::ike::control_of;
use super::super::topology::Topology;
use crate::control::TunnelState;
use crate::emu::{NodeDevice, SimTime};

/// What the runner saw of one tunnel on the edge.
#[derive(Debug)]
struct Watched {
    tunnel: &'static str,
    session: SessionId,
    /// Whether the session was last set up for this tunnel.
    up: bool,
    /// CHILD_SAs logged so far.
    logged: usize,
}

/// A change of a watched tunnel, for the run's log.
#[derive(Debug)]
pub(super) enum TunnelChange {
    /// The tunnel came up or went down: its session follows.
    Session {
        session: SessionId,
        up: bool,
        cause: String,
    },
    /// A CHILD_SA was installed (the first or a rekey).
    ChildSa { event: String, effect: String },
}

/// The edge's IKE tunnels, watched between steps.
#[derive(Debug, Default)]
pub(super) struct IkeWatch {
    watched: Vec<Watched>,
}

impl IkeWatch {
    /// Watches every tunnel of the topology's gateway instances (none
    /// when the tunnels have static keys).
    pub(super) fn new(topo: &Topology) -> Self {
        if control_of(topo, topo.edge).is_none() {
            return IkeWatch::default();
        }
        IkeWatch {
            watched: topo
                .instances
                .iter()
                .map(|instance| Watched {
                    tunnel: instance.tunnel,
                    session: instance.session,
                    up: false,
                    logged: 0,
                })
                .collect(),
        }
    }

    /// Whether tunnels are keyed by IKE.
    pub(super) fn is_active(&self) -> bool {
        !self.watched.is_empty()
    }

    /// The VPN sessions IKE decides (down until their tunnel is up).
    pub(super) fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.watched.iter().map(|w| w.session)
    }

    /// True when every tunnel is up or its gateway endpoint is stopped:
    /// a run does not end while a tunnel is still on its way back.
    pub(super) fn settled(&self, topo: &Topology) -> bool {
        let (Some(edge), Some(hub)) = (control_of(topo, topo.edge), control_of(topo, topo.hub))
        else {
            return true;
        };
        self.watched.iter().all(|w| {
            let up = edge
                .tunnels()
                .iter()
                .any(|t| t.name() == w.tunnel && t.state() == TunnelState::Up);
            let stopped = hub
                .tunnels()
                .iter()
                .any(|t| t.name() == w.tunnel && t.is_stopped());
            up || stopped
        })
    }

    /// What changed on the edge's tunnels since the last look.
    pub(super) fn look(&mut self, topo: &Topology) -> Vec<TunnelChange> {
        let mut changes = Vec::new();
        let Some(control) = control_of(topo, topo.edge) else {
            return changes;
        };
        for watched in &mut self.watched {
            let Some(tunnel) = control
                .tunnels()
                .iter()
                .find(|t| t.name() == watched.tunnel)
            else {
                continue;
            };
            for record in tunnel.history().iter().skip(watched.logged) {
                changes.push(TunnelChange::ChildSa {
                    event: format!(
                        "IKE {}: CHILD_SA installed at {:.3} s",
                        watched.tunnel, record.installed_at_s
                    ),
                    effect: format!(
                        "{} SPIs 0x{:08x} out, 0x{:08x} in, lifetime {} s",
                        record.algorithm,
                        record.outbound_spi,
                        record.inbound_spi,
                        record.lifetime_s
                    ),
                });
            }
            watched.logged = tunnel.history().len();
            let up = tunnel.state() == TunnelState::Up;
            if up != watched.up {
                watched.up = up;
                let cause = if up {
                    format!("IKE {}: CHILD_SA up", watched.tunnel)
                } else {
                    format!(
                        "IKE {}: {}",
                        watched.tunnel,
                        tunnel.last_failure().unwrap_or("tunnel down")
                    )
                };
                changes.push(TunnelChange::Session {
                    session: watched.session,
                    up,
                    cause,
                });
            }
        }
        changes
    }
}

/// Stops (`up` false) or restarts the gateway's IKE endpoint of tunnel
/// `tunnel` at `now`. False when the hub has no such IKE tunnel.
pub(super) fn set_gateway_endpoint(
    topo: &mut Topology,
    tunnel: &str,
    up: bool,
    now: SimTime,
) -> bool {
    let node = topo.nodes.hub.clone();
    let Some(id) = node.interface_id(tunnel) else {
        return false;
    };
    let Some(control) = topo
        .sim
        .device_mut::<NodeDevice>(topo.hub)
        .and_then(NodeDevice::control_mut)
    else {
        return false;
    };
    if up {
        control.restart(id, now.since_start())
    } else {
        control.stop(id, now.since_start(), &node)
    }
}
