//! Route changes of the fault timeline: at a virtual time, one side
//! advertises or withdraws prefixes, on-premises changes its AS-path
//! prepending on a circuit, or the edge changes the LOCAL_PREF of a path.
//! Each changes the control plane's advertisements; the runner then
//! re-checks the prefix limits and reinstalls every node's routes, as the
//! BGP updates would.

use ipnet::IpNet;

use super::bgp::ControlPlane;
use super::model::{Fault, FaultKind, Side};

/// Paths a route change names (`over`): every circuit, the VPN, or one
/// circuit.
pub const ROUTE_CHANGE_PATHS: [&str; 4] = ["er", "vpn", "circuit-1", "circuit-2"];

fn list(prefixes: &[IpNet]) -> String {
    prefixes
        .iter()
        .map(IpNet::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn add(to: &mut Vec<IpNet>, prefixes: &[IpNet]) {
    for prefix in prefixes {
        if !to.contains(prefix) {
            to.push(*prefix);
        }
    }
}

fn remove(from: &mut Vec<IpNet>, prefixes: &[IpNet]) {
    from.retain(|p| !prefixes.contains(p));
}

impl ControlPlane {
    /// The circuits `over` names (`er`: all of them).
    fn circuit_indexes(&self, over: &str) -> Vec<usize> {
        match over {
            "er" => (0..self.circuits.len()).collect(),
            "circuit-1" => vec![0],
            "circuit-2" if self.circuits.len() > 1 => vec![1],
            _ => Vec::new(),
        }
    }

    /// Applies the route change `fault` (validated: its kind is a route
    /// change with the fields it needs) and says what it did.
    pub(super) fn change(&mut self, fault: &Fault) -> String {
        let over = fault.over.as_deref().unwrap_or("er");
        let value = fault.value.unwrap_or(0);
        let prefixes = &fault.prefixes;
        match (fault.kind, fault.from) {
            (FaultKind::Advertise | FaultKind::Withdraw, Some(Side::Azure)) => {
                let verb = if fault.kind == FaultKind::Advertise {
                    add(&mut self.azure, prefixes);
                    "advertises"
                } else {
                    remove(&mut self.azure, prefixes);
                    "withdraws"
                };
                format!(
                    "Azure {verb} {} (over ExpressRoute and the VPN alike)",
                    list(prefixes)
                )
            }
            (FaultKind::Advertise | FaultKind::Withdraw, _) => {
                let advertise = fault.kind == FaultKind::Advertise;
                let change = |to: &mut Vec<IpNet>| {
                    if advertise {
                        add(to, prefixes);
                    } else {
                        remove(to, prefixes);
                    }
                };
                if over == "vpn" {
                    change(&mut self.onprem_vpn);
                } else {
                    for index in self.circuit_indexes(over) {
                        if let Some(circuit) = self.circuits.get_mut(index) {
                            change(&mut circuit.onprem);
                        }
                    }
                }
                let verb = if advertise { "advertises" } else { "withdraws" };
                format!("on-premises {verb} {} over {over}", list(prefixes))
            }
            (FaultKind::Prepend, _) => {
                let times = u8::try_from(value).unwrap_or(u8::MAX);
                for index in self.circuit_indexes(over) {
                    if let Some(circuit) = self.circuits.get_mut(index) {
                        circuit.prepend = times;
                    }
                }
                format!("on-premises prepends its AS {times} times over {over}")
            }
            (FaultKind::LocalPref, _) => {
                if over == "vpn" {
                    self.vpn_local_pref = value;
                } else {
                    for index in self.circuit_indexes(over) {
                        if let Some(circuit) = self.circuits.get_mut(index) {
                            circuit.local_pref = value;
                        }
                    }
                }
                format!("the edge gives routes over {over} LOCAL_PREF {value}")
            }
            (kind, _) => format!("{kind:?} is not a route change"),
        }
    }
}
