//! Per-session import and export policy: a prefix list (first match wins,
//! `ge`/`le` ranges as in Cisco and FRR prefix lists), set LOCAL_PREF, set
//! MED, AS-path prepend, and on import a maximum-prefix limit (RFC 4486).

use std::time::Duration;

use ipnet::IpNet;

/// One prefix-list line: `permit 10.0.0.0/8 le 24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixRule {
    /// Permit (true) or deny.
    pub permit: bool,
    /// The covering prefix.
    pub prefix: IpNet,
    /// Shortest length matched (default: the rule's own length).
    pub ge: Option<u8>,
    /// Longest length matched (default: `ge` when given, else the rule's length).
    pub le: Option<u8>,
}

impl PrefixRule {
    /// Whether `prefix` falls in this rule's range.
    pub fn matches(&self, prefix: &IpNet) -> bool {
        let len = prefix.prefix_len();
        let own = self.prefix.prefix_len();
        let ge = self.ge.unwrap_or(own);
        let le = self.le.unwrap_or(if self.ge.is_some() {
            prefix.max_prefix_len()
        } else {
            own
        });
        (ge..=le).contains(&len) && self.prefix.contains(prefix)
    }
}

/// An ordered prefix list: the first matching rule decides; no match denies.
/// A linear scan: lists in designs have a handful of lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixList {
    /// The rules, in order.
    pub rules: Vec<PrefixRule>,
}

impl PrefixList {
    /// Whether the list permits `prefix`.
    pub fn permits(&self, prefix: &IpNet) -> bool {
        self.rules
            .iter()
            .find(|rule| rule.matches(prefix))
            .is_some_and(|rule| rule.permit)
    }
}

/// Maximum number of prefixes accepted from a peer (RFC 4486 4): above it
/// the session ends with Cease "Maximum Number of Prefixes Reached".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPrefix {
    /// Most prefixes accepted (after import policy), all families together.
    pub limit: u32,
    /// Restart the session after this idle time; `None`: stay down until
    /// started again by hand.
    pub restart_after: Option<Duration>,
}

/// What a session applies to routes in one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Only routes the list permits pass; `None`: every route passes.
    pub prefix_list: Option<PrefixList>,
    /// LOCAL_PREF to set.
    pub set_local_pref: Option<u32>,
    /// MED to set.
    pub set_med: Option<u32>,
    /// How many extra times to prepend an ASN (import: the peer's, export: ours).
    pub prepend: u8,
    /// Import only: the prefix limit.
    pub max_prefix: Option<MaxPrefix>,
}

impl Policy {
    /// Whether a route for `prefix` passes the prefix list.
    pub fn permits(&self, prefix: &IpNet) -> bool {
        self.prefix_list
            .as_ref()
            .is_none_or(|list| list.permits(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(permit: bool, prefix: &str, ge: Option<u8>, le: Option<u8>) -> PrefixRule {
        PrefixRule {
            permit,
            prefix: prefix.parse().unwrap(),
            ge,
            le,
        }
    }

    #[test]
    fn prefix_lists_match_like_frr() {
        let list = PrefixList {
            rules: vec![
                rule(false, "10.9.0.0/16", None, Some(32)),
                rule(true, "10.0.0.0/8", None, Some(24)),
                rule(true, "192.0.2.0/24", None, None),
                rule(true, "2001:db8::/32", Some(48), None),
            ],
        };
        let permits = |p: &str| list.permits(&p.parse().unwrap());
        assert!(permits("10.1.0.0/16"));
        assert!(permits("10.0.0.0/8"));
        assert!(!permits("10.1.1.0/25"), "longer than le");
        assert!(!permits("10.9.1.0/24"), "denied first");
        assert!(permits("192.0.2.0/24"));
        assert!(!permits("192.0.2.0/25"), "exact match only");
        assert!(permits("2001:db8:1::/48"));
        assert!(
            permits("2001:db8:1:1::/64"),
            "ge alone runs to the full length"
        );
        assert!(!permits("2001:db8::/32"));
        assert!(!permits("172.16.0.0/12"), "no match denies");
        assert!(Policy::default().permits(&"172.16.0.0/12".parse().unwrap()));
    }
}
