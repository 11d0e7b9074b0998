//! Route selection among the candidates for one identical prefix (longest
//! prefix match has already picked the prefix): BGP's decision process
//! (RFC 4271 9.1.2.2) or Azure's routing preferences, as ordered elimination
//! rules. What survives every rule is an ECMP set; each loser keeps its rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::route::{Route, Session};

/// How to choose among routes for an identical prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum SelectionMode {
    /// BGP: weight, local-pref, shortest AS path, origin, MED, then equal
    /// paths share (ECMP); connected > static > bgp first.
    #[default]
    #[serde(rename = "bgp")]
    Bgp,
    /// Azure's default hub routing preference: for an identical prefix,
    /// ExpressRoute beats VPN; then connection weight, then AS path.
    #[serde(rename = "expressroute-first")]
    ExpressRouteFirst,
    /// Azure's VPN preference: VPN beats ExpressRoute.
    #[serde(rename = "vpn-first")]
    VpnFirst,
    /// Azure's AS-path preference: shortest AS path whatever the session;
    /// ties go to ExpressRoute.
    #[serde(rename = "as-path")]
    AsPath,
}

/// A step of the decision process, and the reason a route won or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A more specific prefix matched the destination.
    LongestPrefix,
    /// Connected beats static beats BGP.
    AdminPreference,
    /// Higher router-local weight.
    Weight,
    /// Higher LOCAL_PREF.
    LocalPref,
    /// Routes from this session are preferred (Azure routing preference).
    SessionPreference(Session),
    /// Higher ExpressRoute connection weight.
    ConnectionWeight,
    /// Shorter AS_PATH.
    AsPathLength,
    /// Lower ORIGIN (igp < egp < incomplete).
    Origin,
    /// Lower MED among routes from the same neighbouring AS.
    Med,
    /// More equal routes than ECMP paths allowed: lowest next hop first.
    TieBreak,
    /// Several routes equal on every rule: they share traffic (ECMP).
    EqualCost,
    /// The only route for the prefix.
    OnlyCandidate,
}

/// The outcome of selection for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The best routes (several: ECMP), lowest next hop first.
    pub chosen: Vec<Route>,
    /// The other candidates, each with the rule it lost on.
    pub losers: Vec<(Route, Rule)>,
    /// The rule that made the final choice.
    pub rule: Rule,
}

impl SelectionMode {
    /// Every mode, in documentation order.
    pub const ALL: [SelectionMode; 4] = [
        SelectionMode::Bgp,
        SelectionMode::ExpressRouteFirst,
        SelectionMode::VpnFirst,
        SelectionMode::AsPath,
    ];

    /// The name used on the command line and in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bgp => "bgp",
            Self::ExpressRouteFirst => "expressroute-first",
            Self::VpnFirst => "vpn-first",
            Self::AsPath => "as-path",
        }
    }

    /// The elimination rules, in order.
    pub fn rules(self) -> &'static [Rule] {
        use Rule::*;
        const ER: Rule = SessionPreference(Session::ExpressRoute);
        const VPN: Rule = SessionPreference(Session::Vpn);
        match self {
            Self::Bgp => &[
                AdminPreference,
                Weight,
                LocalPref,
                AsPathLength,
                Origin,
                Med,
            ],
            Self::ExpressRouteFirst => &[
                AdminPreference,
                ER,
                ConnectionWeight,
                AsPathLength,
                Origin,
                Med,
            ],
            Self::VpnFirst => &[
                AdminPreference,
                VPN,
                ConnectionWeight,
                AsPathLength,
                Origin,
                Med,
            ],
            Self::AsPath => &[
                AdminPreference,
                AsPathLength,
                ER,
                ConnectionWeight,
                Origin,
                Med,
            ],
        }
    }
}

impl fmt::Display for SelectionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown selection mode name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown selection mode {0:?} (expected bgp, expressroute-first, vpn-first or as-path)")]
pub struct UnknownSelectionMode(pub String);

impl FromStr for SelectionMode {
    type Err = UnknownSelectionMode;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.name() == name)
            .ok_or_else(|| UnknownSelectionMode(name.to_owned()))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LongestPrefix => f.write_str("longest prefix match"),
            Self::AdminPreference => {
                f.write_str("administrative preference (connected > static > bgp)")
            }
            Self::Weight => f.write_str("higher weight"),
            Self::LocalPref => f.write_str("higher local-pref"),
            Self::SessionPreference(Session::ExpressRoute) => {
                f.write_str("routing preference: ExpressRoute over VPN")
            }
            Self::SessionPreference(Session::Vpn) => {
                f.write_str("routing preference: VPN over ExpressRoute")
            }
            Self::SessionPreference(Session::Other) => f.write_str("routing preference"),
            Self::ConnectionWeight => f.write_str("higher ExpressRoute connection weight"),
            Self::AsPathLength => f.write_str("shorter AS path"),
            Self::Origin => f.write_str("lower origin (igp < egp < incomplete)"),
            Self::Med => f.write_str("lower MED from the same neighbour AS"),
            Self::TieBreak => f.write_str("tie-break: lowest next hop beyond the ECMP path limit"),
            Self::EqualCost => f.write_str("equal on every rule: ECMP"),
            Self::OnlyCandidate => f.write_str("only route for the prefix"),
        }
    }
}

/// A route's rank under `rule`: lower is better. `None` for MED, which only
/// compares routes from the same neighbouring AS.
fn rank(rule: Rule, route: &Route) -> Option<u64> {
    let higher_is_better = |value: u32| u64::from(u32::MAX - value);
    Some(match rule {
        Rule::AdminPreference => route.source as u64,
        Rule::Weight => higher_is_better(route.bgp.weight),
        Rule::LocalPref => higher_is_better(route.bgp.local_pref),
        Rule::SessionPreference(preferred) => match route.session {
            session if session == preferred => 0,
            Session::ExpressRoute | Session::Vpn => 1,
            Session::Other => 2,
        },
        Rule::ConnectionWeight => higher_is_better(route.connection_weight),
        Rule::AsPathLength => route.bgp.as_path.len() as u64,
        Rule::Origin => route.bgp.origin as u64,
        Rule::Med
        | Rule::LongestPrefix
        | Rule::TieBreak
        | Rule::EqualCost
        | Rule::OnlyCandidate => return None,
    })
}

/// Keeps the candidates best under `rule`, returning the eliminated ones.
fn eliminate(rule: Rule, remaining: &mut Vec<Route>) -> Vec<Route> {
    let keep: Vec<bool> = if rule == Rule::Med {
        remaining
            .iter()
            .map(|route| {
                let neighbour = route.bgp.neighbour_as();
                remaining
                    .iter()
                    .filter(|other| other.bgp.neighbour_as() == neighbour)
                    .all(|other| other.bgp.med >= route.bgp.med)
            })
            .collect()
    } else {
        let best = remaining.iter().filter_map(|route| rank(rule, route)).min();
        remaining
            .iter()
            .map(|route| rank(rule, route) == best)
            .collect()
    };
    let mut eliminated = Vec::new();
    let mut keep = keep.into_iter();
    remaining.retain(|route| {
        let kept = keep.next().unwrap_or(true);
        if !kept {
            eliminated.push(route.clone());
        }
        kept
    });
    eliminated
}

/// Chooses among `candidates` (routes for one identical prefix) by `mode`,
/// keeping at most `max_paths` (at least 1) equal routes. `None` when there
/// is no candidate.
pub fn select(mode: SelectionMode, candidates: &[Route], max_paths: usize) -> Option<Selection> {
    if candidates.is_empty() {
        return None;
    }
    let mut remaining = candidates.to_vec();
    let mut losers = Vec::new();
    let mut decided_by = None;
    for &rule in mode.rules() {
        let eliminated = eliminate(rule, &mut remaining);
        if !eliminated.is_empty() {
            decided_by = Some(rule);
            losers.extend(eliminated.into_iter().map(|route| (route, rule)));
        }
    }
    remaining.sort_by_key(|route| (route.next_hop, route.session, route.source));
    let max_paths = max_paths.max(1);
    if remaining.len() > max_paths {
        decided_by = Some(Rule::TieBreak);
        losers.extend(
            remaining
                .drain(max_paths..)
                .map(|route| (route, Rule::TieBreak)),
        );
    }
    let rule = match decided_by {
        Some(rule) => rule,
        None if remaining.len() > 1 => Rule::EqualCost,
        None => Rule::OnlyCandidate,
    };
    Some(Selection {
        chosen: remaining,
        losers,
        rule,
    })
}
