//! The states `erdp verify` probes: the steady state and each single
//! failure the topology allows (each ExpressRoute link, each circuit, the
//! VPN tunnel, each instance of an active-active VPN gateway, a withdrawn
//! route), each described as what the control
//! plane and the links look like once BGP has converged.

use ipnet::IpNet;
use serde::Serialize;

use crate::scenario::{CIRCUITS, ControlPlane, Scenario, SessionId, instances};

/// What a failure state takes away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Failure {
    /// Nothing: every session up.
    Steady,
    /// One ExpressRoute link is down, and the BGP session riding it.
    Link {
        /// The link's name (`er-primary`, ...).
        link: &'static str,
    },
    /// Both links of a circuit are down.
    Circuit {
        /// `circuit-1` or `circuit-2`.
        circuit: &'static str,
    },
    /// The VPN tunnel is down (every instance's, active-active): its BGP
    /// session and routes are withdrawn.
    Tunnel,
    /// One instance of an active-active VPN gateway failed: its tunnel
    /// and BGP session are down, the other instance's carry everything.
    Instance {
        /// 1 or 2 (`fault.instance`).
        instance: u8,
    },
    /// One prefix is no longer advertised over the VPN by one side.
    Withdrawn {
        /// `onprem` or `azure`.
        side: &'static str,
        /// The prefix withdrawn.
        prefix: IpNet,
    },
}

/// One state of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Its name in the matrix (`steady`, `er-primary down`, ...).
    pub name: String,
    /// What failed.
    pub failure: Failure,
}

impl State {
    fn new(name: String, failure: Failure) -> Self {
        Self { name, failure }
    }

    /// The circuit links this state takes down.
    pub(crate) fn links_down(&self) -> Vec<&'static str> {
        match &self.failure {
            Failure::Link { link } => vec![*link],
            Failure::Circuit { circuit } => CIRCUITS
                .iter()
                .find(|c| c.fault_name == *circuit)
                .map_or_else(Vec::new, |c| c.links.to_vec()),
            _ => Vec::new(),
        }
    }

    /// The scenario whose advertisements this state has (a withdrawn
    /// prefix removed; the nodes keep the original's policies).
    pub(crate) fn advertisements(&self, scenario: &Scenario) -> Scenario {
        let mut changed = scenario.clone();
        if let Failure::Withdrawn { side, prefix } = &self.failure {
            let list = if *side == "onprem" {
                &mut changed.onprem.advertise_vpn
            } else {
                &mut changed.azure.advertise_vpn
            };
            list.retain(|p| p != prefix);
        }
        changed
    }

    /// The converged control plane of this state: the sessions riding
    /// failed links are down; so is the VPN's when the tunnel failed or
    /// no ExpressRoute session is left to carry it.
    pub(crate) fn control_plane(&self, scenario: &Scenario) -> ControlPlane {
        let mut plane = ControlPlane::new(&self.advertisements(scenario));
        for link in self.links_down() {
            if let Some(session) = SessionId::of_link(link) {
                plane.set(session, false);
            }
        }
        let underlay = plane
            .sessions()
            .iter()
            .any(|&s| !s.is_vpn() && plane.is_up(s));
        for instance in plane.instances() {
            let failed = match self.failure {
                Failure::Tunnel => true,
                Failure::Instance { instance: n } => n == instance.number,
                _ => false,
            };
            if failed || !underlay {
                plane.set(instance.session, false);
            }
        }
        plane
    }
}

/// The states of `scenario`: steady, each circuit link, each circuit, the
/// tunnel (each gateway instance when active-active), and each VPN prefix withdrawn by the side that advertises it
/// (one at a time: a single failure each).
pub fn states(scenario: &Scenario) -> Vec<State> {
    let mut out = vec![State::new("steady".into(), Failure::Steady)];
    let circuits = &CIRCUITS[..scenario.circuits().count()];
    for circuit in circuits {
        for link in circuit.links {
            out.push(State::new(format!("{link} down"), Failure::Link { link }));
        }
    }
    for circuit in circuits {
        out.push(State::new(
            format!("{} down", circuit.fault_name),
            Failure::Circuit {
                circuit: circuit.fault_name,
            },
        ));
    }
    // With one gateway instance its tunnel is a single failure; with two
    // (active-active) each instance is, and both down at once is not.
    if !scenario.vpn_gateway.active_active {
        out.push(State::new("tunnel down".into(), Failure::Tunnel));
    } else {
        for instance in instances(scenario) {
            out.push(State::new(
                format!("instance {} down", instance.number),
                Failure::Instance {
                    instance: instance.number,
                },
            ));
        }
    }
    for (side, list) in [
        ("onprem", &scenario.onprem.advertise_vpn),
        ("azure", &scenario.azure.advertise_vpn),
    ] {
        for &prefix in list {
            out.push(State::new(
                format!("{side} withdraws {prefix} from the VPN"),
                Failure::Withdrawn { side, prefix },
            ));
        }
    }
    out
}
