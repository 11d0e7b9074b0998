//! Must-encrypt policies, compiled for the egress check: a packet toward a
//! covered destination (or from a covered source) that leaves on a plain
//! interface, and is not ESP already, is a violation.

use std::net::IpAddr;

use etherparse::IpNumber;

use super::fate::{PolicyId, PolicyVerdict};
use crate::config::{PolicyAction, PolicyConfig};
use crate::esp::NAT_T_PORT;
use crate::wire::FlowKey;

/// One covered prefix as a masked integer, and its policy.
#[derive(Debug, Clone, Copy)]
struct Covered<T> {
    network: T,
    mask: T,
    policy: PolicyId,
    /// Match the source address instead of the destination.
    source: bool,
}

/// The node's policies, checked in configuration order (the first policy
/// covering a packet gives the verdict).
#[derive(Debug, Clone, Default)]
pub(crate) struct Policies {
    v4: Box<[Covered<u32>]>,
    v6: Box<[Covered<u128>]>,
    actions: Box<[PolicyAction]>,
}

impl Policies {
    pub(crate) fn new(configs: &[PolicyConfig]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (index, config) in configs.iter().enumerate() {
            let policy = PolicyId(index.min(usize::from(u16::MAX)) as u16);
            let sides = config
                .destinations
                .iter()
                .map(|p| (p, false))
                .chain(config.sources.iter().map(|p| (p, true)));
            for (prefix, source) in sides {
                match prefix.trunc() {
                    ipnet::IpNet::V4(net) => v4.push(Covered {
                        network: net.network().to_bits(),
                        mask: net.netmask().to_bits(),
                        policy,
                        source,
                    }),
                    ipnet::IpNet::V6(net) => v6.push(Covered {
                        network: net.network().to_bits(),
                        mask: net.netmask().to_bits(),
                        policy,
                        source,
                    }),
                }
            }
        }
        Self {
            v4: v4.into(),
            v6: v6.into(),
            actions: configs.iter().map(|c| c.action).collect(),
        }
    }

    /// True when no policy is configured (the check is skipped).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The first policy covering the flow's source or destination.
    #[inline]
    pub(crate) fn covering(&self, flow: &FlowKey) -> Option<PolicyId> {
        match (&flow.source, &flow.destination) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => first(&self.v4, src.to_bits(), dst.to_bits()),
            (IpAddr::V6(src), IpAddr::V6(dst)) => first(&self.v6, src.to_bits(), dst.to_bits()),
            _ => None,
        }
    }

    /// The verdict for a packet leaving inside our ESP tunnel.
    #[inline]
    pub(crate) fn encrypted(&self, flow: &FlowKey) -> PolicyVerdict {
        if self.is_empty() {
            return PolicyVerdict::NotCovered;
        }
        self.covering(flow)
            .map_or(PolicyVerdict::NotCovered, PolicyVerdict::Encrypted)
    }

    /// The verdict for a packet leaving on a plain interface, and whether
    /// the policy fails closed. ESP (and ESP-in-UDP / IKE on the NAT-T
    /// port) in transit counts as encrypted.
    #[inline]
    pub(crate) fn plain(&self, flow: &FlowKey) -> (PolicyVerdict, bool) {
        if self.is_empty() {
            return (PolicyVerdict::NotCovered, false);
        }
        let Some(policy) = self.covering(flow) else {
            return (PolicyVerdict::NotCovered, false);
        };
        if is_already_encrypted(flow) {
            return (PolicyVerdict::Encrypted(policy), false);
        }
        let drop = self.actions.get(usize::from(policy.0)) == Some(&PolicyAction::Drop);
        (PolicyVerdict::Violation(policy), drop)
    }
}

fn first<T>(covered: &[Covered<T>], src: T, dst: T) -> Option<PolicyId>
where
    T: Copy + Eq + std::ops::BitAnd<Output = T>,
{
    covered
        .iter()
        .find(|c| {
            let address = if c.source { src } else { dst };
            address & c.mask == c.network
        })
        .map(|c| c.policy)
}

/// ESP (RFC 4303) or UDP on the NAT-T port (RFC 3948): ciphertext.
fn is_already_encrypted(flow: &FlowKey) -> bool {
    flow.protocol == IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
        || (flow.protocol == IpNumber::UDP
            && (flow.destination_port == NAT_T_PORT || flow.source_port == NAT_T_PORT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: &str, dst: &str, protocol: IpNumber) -> FlowKey {
        FlowKey {
            source: src.parse().unwrap(),
            destination: dst.parse().unwrap(),
            protocol,
            source_port: 1000,
            destination_port: 443,
        }
    }

    #[test]
    fn covers_by_destination_or_source_in_order() {
        let policies = Policies::new(&[
            PolicyConfig {
                name: "a".into(),
                destinations: vec!["10.1.0.0/16".parse().unwrap()],
                sources: vec![],
                action: PolicyAction::Report,
            },
            PolicyConfig {
                name: "b".into(),
                destinations: vec!["fd00:1::/48".parse().unwrap()],
                sources: vec!["10.9.0.0/16".parse().unwrap()],
                action: PolicyAction::Drop,
            },
        ]);
        let tcp = IpNumber::TCP;
        assert_eq!(
            policies.plain(&flow("10.0.0.5", "10.1.2.3", tcp)),
            (PolicyVerdict::Violation(PolicyId(0)), false)
        );
        assert_eq!(
            policies.plain(&flow("10.9.0.5", "10.7.2.3", tcp)),
            (PolicyVerdict::Violation(PolicyId(1)), true)
        );
        assert_eq!(
            policies.plain(&flow("fd00:10::1", "fd00:1::9", tcp)),
            (PolicyVerdict::Violation(PolicyId(1)), true)
        );
        assert_eq!(
            policies.plain(&flow("10.0.0.5", "10.2.2.3", tcp)).0,
            PolicyVerdict::NotCovered
        );
        assert_eq!(
            policies.plain(&flow(
                "10.0.0.5",
                "10.1.2.3",
                IpNumber::ENCAPSULATING_SECURITY_PAYLOAD
            )),
            (PolicyVerdict::Encrypted(PolicyId(0)), false)
        );
        assert_eq!(
            policies.encrypted(&flow("10.0.0.5", "10.1.2.3", tcp)),
            PolicyVerdict::Encrypted(PolicyId(0))
        );
    }
}
