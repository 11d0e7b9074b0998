//! "Which route, and why this one": the answer to a RIB query for one
//! destination, with the losing candidates, the rule that decided and the
//! less specific prefixes that also matched, printable for reports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::route::{Route, Session, write_attributes, write_next_hop};
use super::selection::{Rule, Selection, SelectionMode};
use crate::fib::InterfaceId;

/// Selection for one prefix that contains the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixChoice {
    /// The prefix.
    pub prefix: IpNet,
    /// Its best route(s), losers and deciding rule.
    pub selection: Selection,
}

/// The RIB's answer for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The destination asked about.
    pub destination: IpAddr,
    /// The selection mode in force.
    pub mode: SelectionMode,
    /// Every prefix containing the destination, longest first; the first is
    /// the one forwarding uses (longest prefix match).
    pub matches: Vec<PrefixChoice>,
    pub(crate) interface_names: BTreeMap<InterfaceId, String>,
}

impl Explanation {
    /// The prefix forwarding uses, if any route matches.
    pub fn chosen(&self) -> Option<&PrefixChoice> {
        self.matches.first()
    }

    /// The less specific prefixes that also matched, longest first.
    pub fn less_specific(&self) -> &[PrefixChoice] {
        self.matches.get(1..).unwrap_or(&[])
    }

    /// The chosen routes (several for ECMP); empty when nothing matches.
    pub fn chosen_routes(&self) -> &[Route] {
        self.chosen().map_or(&[], |choice| &choice.selection.chosen)
    }

    /// The rule that decided: longest prefix match when a less specific
    /// prefix also matched, else the rule within the chosen prefix.
    pub fn rule(&self) -> Option<Rule> {
        let chosen = self.chosen()?;
        Some(if self.less_specific().is_empty() {
            chosen.selection.rule
        } else {
            Rule::LongestPrefix
        })
    }

    /// Sessions of every candidate that matched but was not chosen: losers
    /// of the chosen prefix and every route of less specific prefixes.
    pub fn bypassed_sessions(&self) -> Vec<Session> {
        let mut sessions: Vec<Session> = self
            .chosen()
            .into_iter()
            .flat_map(|choice| {
                choice
                    .selection
                    .losers
                    .iter()
                    .map(|(route, _)| route.session)
            })
            .chain(self.less_specific().iter().flat_map(|choice| {
                let selection = &choice.selection;
                selection
                    .chosen
                    .iter()
                    .chain(selection.losers.iter().map(|(route, _)| route))
                    .map(|route| route.session)
            }))
            .collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions
    }

    fn interface_name(&self, id: InterfaceId) -> Option<String> {
        self.interface_names.get(&id).cloned()
    }
}

/// One route on one line, with interface names.
struct RouteLine<'a>(&'a Route, &'a Explanation);

impl fmt::Display for RouteLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RouteLine(route, explanation) = self;
        write!(f, "{} ", route.prefix)?;
        write_next_hop(f, &route.next_hop, |id| explanation.interface_name(id))?;
        f.write_str(" (")?;
        write_attributes(f, route)?;
        f.write_str(")")
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(chosen) = self.chosen() else {
            return writeln!(f, "{}: no route (mode {})", self.destination, self.mode);
        };
        let selection = &chosen.selection;
        writeln!(
            f,
            "{} -> {} (mode {})",
            self.destination, chosen.prefix, self.mode
        )?;
        for route in &selection.chosen {
            writeln!(f, "  chosen  {}", RouteLine(route, self))?;
        }
        if let Some(shorter) = self.less_specific().first() {
            writeln!(
                f,
                "  why     {}: /{} over {}",
                Rule::LongestPrefix,
                chosen.prefix.prefix_len(),
                shorter.prefix
            )?;
        }
        let candidates = selection.chosen.len() + selection.losers.len();
        writeln!(
            f,
            "  within  {}: {} ({candidates} candidate{})",
            chosen.prefix,
            selection.rule,
            if candidates == 1 { "" } else { "s" }
        )?;
        for (route, rule) in &selection.losers {
            writeln!(f, "  lost    {}: {rule}", RouteLine(route, self))?;
        }
        for choice in self.less_specific() {
            for route in &choice.selection.chosen {
                writeln!(f, "  shorter {}", RouteLine(route, self))?;
            }
        }
        Ok(())
    }
}
