//! ExpressRoute's prefix limits, as Microsoft's ExpressRoute FAQ documents
//! them: a private peering session that receives more on-premises prefixes
//! than its limit (4,000 IPv4, 10,000 with Premium; 100 IPv6) is reset
//! (BGP Cease, maximum number of prefixes reached) and comes back once the
//! advertisement is under the limit again; more than 1,000 VNet prefixes
//! toward on-premises take the ExpressRoute connection between the circuit
//! and the gateway down. Checked at the start and after every route
//! change of the fault timeline.

use ipnet::IpNet;

use super::bgp::{
    AZURE_PREFIX_LIMIT, ControlPlane, ONPREM_IPV6_PREFIX_LIMIT, ONPREM_PREFIX_LIMIT,
    ONPREM_PREFIX_LIMIT_PREMIUM,
};

/// A change a limit made: the event and its effect, for the fault timeline.
pub(super) type LimitEvent = (String, String);

/// Why Azure resets a circuit's sessions, if on-prem advertises more
/// prefixes than its private peering accepts.
pub(super) fn over_limit(prefixes: &[IpNet], premium: bool) -> Option<String> {
    let limit = if premium {
        ONPREM_PREFIX_LIMIT_PREMIUM
    } else {
        ONPREM_PREFIX_LIMIT
    };
    let v4 = prefixes
        .iter()
        .filter(|p| matches!(p, IpNet::V4(_)))
        .count();
    let v6 = prefixes.len() - v4;
    if v4 > limit {
        return Some(format!(
            "Cease (maximum number of prefixes reached): on-premises advertised {v4} IPv4 prefixes on private peering, over the limit of {limit}{}: Azure reset the session and withdrew every route learned on it",
            if premium {
                " (Premium)"
            } else {
                " (without Premium: 10,000 with it)"
            }
        ));
    }
    (v6 > ONPREM_IPV6_PREFIX_LIMIT).then(|| {
        format!(
            "Cease (maximum number of prefixes reached): on-premises advertised {v6} IPv6 prefixes on private peering, over the limit of {ONPREM_IPV6_PREFIX_LIMIT}: Azure reset the session and withdrew every route learned on it"
        )
    })
}

/// Why the ExpressRoute connection is down, if Azure has more VNet
/// prefixes than it may advertise to on-premises.
fn connection_over_limit(azure: &[IpNet]) -> Option<String> {
    (azure.len() > AZURE_PREFIX_LIMIT).then(|| {
        format!(
            "Azure has {} VNet and hub prefixes to advertise toward on-premises, over the limit of {AZURE_PREFIX_LIMIT}: the ExpressRoute connection between the circuit and the gateway goes down (no route crosses it; the VPN tunnel, which rides it, goes down with it)",
            azure.len()
        )
    })
}

impl ControlPlane {
    /// Applies the limits to the current advertisements: resets the
    /// sessions of a circuit over its limit, brings back those under it
    /// again, takes the ExpressRoute connection down or up. Returns what
    /// changed, in order (nothing when nothing did).
    pub(super) fn check_limits(&mut self) -> Vec<LimitEvent> {
        let mut events = Vec::new();
        let connection = connection_over_limit(&self.azure);
        match (&self.connection_down, &connection) {
            (None, Some(why)) => events.push(("ExpressRoute connection DOWN".into(), why.clone())),
            (Some(_), None) => events.push((
                "ExpressRoute connection up".into(),
                format!(
                    "Azure's {} VNet and hub prefixes are within the limit of {AZURE_PREFIX_LIMIT} again",
                    self.azure.len()
                ),
            )),
            _ => {}
        }
        self.connection_down = connection;
        let verdicts: Vec<_> = self
            .circuits
            .iter()
            .map(|c| {
                (
                    c.layout.sessions,
                    over_limit(&c.onprem, c.premium),
                    c.onprem.len(),
                )
            })
            .collect();
        for (sessions, why, count) in verdicts {
            for session in sessions {
                let Some(slot) = self.reset.get_mut(session.index()) else {
                    continue;
                };
                match (&slot, &why) {
                    (None, Some(why)) => events.push((
                        format!("BGP {} DOWN", session.as_str()),
                        why.clone(),
                    )),
                    (Some(_), None) => events.push((
                        format!("BGP {} up", session.as_str()),
                        format!(
                            "on-premises advertises {count} prefixes on private peering, under the limit again: the session re-establishes"
                        ),
                    )),
                    _ => {}
                }
                *slot = why.clone();
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(count: usize) -> Vec<IpNet> {
        (0..count)
            .map(|i| format!("2001:db8:{i:x}::/48").parse().unwrap())
            .collect()
    }

    // ExpressRoute FAQ: "100 prefixes for IPv6" on private peering.
    #[test]
    fn more_than_100_ipv6_prefixes_reset_the_session() {
        assert_eq!(over_limit(&v6(100), false), None);
        let why = over_limit(&v6(101), false).unwrap();
        assert!(why.contains("101 IPv6") && why.contains("100"), "{why}");
        assert!(why.starts_with("Cease"), "{why}");
    }

    // ExpressRoute FAQ: more than 1,000 VNet prefixes toward on-premises
    // drop the connection between the circuit and the gateway.
    #[test]
    fn more_than_1000_vnet_prefixes_take_the_connection_down() {
        let prefixes: Vec<IpNet> = (0..1001u32)
            .map(|i| {
                IpNet::V4(ipnet::Ipv4Net::new_assert(
                    (0x0a00_0000 + (i << 8)).into(),
                    24,
                ))
            })
            .collect();
        assert_eq!(connection_over_limit(&prefixes[..1000]), None);
        let why = connection_over_limit(&prefixes).unwrap();
        assert!(why.contains("1001") && why.contains("connection"), "{why}");
    }
}
