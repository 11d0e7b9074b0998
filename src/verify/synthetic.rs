//! A synthetic scenario for sizing `erdp verify` (its bench and tests):
//! the built-in two-circuit design (ten failure states) with `onprem`
//! on-premises and `azure` Azure prefixes, laid out as design 1 is:
//! a broad on-premises prefix over ExpressRoute, /24s of it over the VPN,
//! Azure's /24s over both.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use crate::scenario::{Scenario, ScenarioError, builtin};

fn slash24(base: [u8; 2], index: usize) -> IpNet {
    let [a, b] = base;
    let third = (index % 256) as u8;
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, third, 0), 24))
}

/// Two circuits, `onprem` on-premises prefixes (10.0.0.0/16 over
/// ExpressRoute, `onprem - 1` /24s of it over the VPN) and `azure` /24s of
/// 10.1.0.0/16 advertised by Azure over both (at most 256 each).
pub fn synthetic(onprem: usize, azure: usize) -> Result<Scenario, ScenarioError> {
    let mut scenario = match builtin("two-circuits") {
        Some(result) => result?,
        None => {
            return Err(ScenarioError::invalid(
                "two-circuits",
                "not built in".into(),
            ));
        }
    };
    scenario.name = format!("synthetic: {onprem} x {azure} prefixes, two circuits");
    scenario.flows.clear();
    scenario.faults.clear();
    scenario.onprem.advertise_er = vec![IpNet::V4(Ipv4Net::new_assert(
        Ipv4Addr::new(10, 0, 0, 0),
        16,
    ))];
    scenario.onprem.advertise_vpn = (0..onprem.saturating_sub(1).min(256))
        .map(|i| slash24([10, 0], i))
        .collect();
    for circuit in std::iter::once(&mut scenario.circuit).chain(scenario.second_circuit.as_mut()) {
        circuit.advertise = None;
    }
    let vnet: Vec<IpNet> = (0..azure.min(256)).map(|i| slash24([10, 1], i)).collect();
    scenario.azure.advertise_er = vnet.clone();
    scenario.azure.advertise_vpn = vnet;
    scenario.validate()?;
    Ok(scenario)
}
