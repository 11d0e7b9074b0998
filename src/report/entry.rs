//! Reading a [`FlowTable`] back inside the program: each kept flow's key
//! and counts and the ways its packets took ([`WayCount`]: the egress and
//! SA, or the drop reason, with packets, bytes and the outer DSCP). The
//! emulator keeps one table per node port, and the scenario report builds
//! its per-direction circuit paths and verdicts from these entries, so
//! replay and `erdp run` count a node's fates one way.

use super::flows::{FlowState, FlowTable};
use super::tally::WayCount;
use crate::dataplane::PolicyVerdict;
use crate::wire::FlowKey;

/// One flow kept by a [`FlowTable`].
#[derive(Debug, Clone, Copy)]
pub struct FlowEntry<'a> {
    table: &'a FlowTable,
    state: &'a FlowState,
}

impl FlowTable {
    /// The flows kept, in first-seen order.
    pub fn entries(&self) -> impl Iterator<Item = FlowEntry<'_>> {
        self.flows
            .iter()
            .map(move |state| FlowEntry { table: self, state })
    }
}

impl<'a> FlowEntry<'a> {
    /// The flow's 5-tuple (inner, when it arrived in ESP).
    pub fn key(&self) -> FlowKey {
        self.state.key.unpack()
    }

    /// Packets given to the node.
    pub fn packets(&self) -> u64 {
        self.state.tally.packets
    }

    /// Of those, packets that arrived in ESP and were decrypted.
    pub fn decrypted(&self) -> u64 {
        self.state.tally.decrypted
    }

    /// The flow's worst must-encrypt verdict.
    pub fn verdict(&self) -> PolicyVerdict {
        self.state.tally.verdict
    }

    /// Packets that broke a must-encrypt policy (forwarded in plaintext,
    /// or dropped by a policy that fails closed).
    pub fn violations(&self) -> u64 {
        self.table
            .violations
            .iter()
            .filter(|v| v.key.flow == self.state.key)
            .map(|v| v.packets)
            .sum()
    }

    /// The ways its packets left (or why they did not), in first-seen order.
    pub fn ways(&self) -> impl Iterator<Item = &'a WayCount> + use<'a> {
        let (table, state): (&'a FlowTable, &'a FlowState) = (self.table, self.state);
        table.ways.ways(&state.tally)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use etherparse::IpNumber;

    use super::*;
    use crate::dataplane::{DropReason, Fate, Outcome, PolicyId, SaUse};
    use crate::fib::InterfaceId;
    use crate::report::Way;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            source: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 10)),
            destination: IpAddr::V4(Ipv4Addr::new(10, 1, 0, 10)),
            protocol: IpNumber::UDP,
            source_port: port,
            destination_port: 53,
        }
    }

    /// Two flows: one encrypted (one of its packets arrived in ESP), one
    /// that leaks once and is dropped by a fail-closed policy once.
    #[test]
    fn entries_give_back_counts_ways_and_violations() {
        let sa = SaUse {
            tunnel: InterfaceId(2),
            spi: 0x1001,
            seq: 1,
        };
        let encrypted = Fate {
            flow: Some(key(1)),
            encrypted: Some(sa),
            policy: PolicyVerdict::Encrypted(PolicyId(0)),
            ..Fate::new(Outcome::Forwarded(InterfaceId(1)))
        };
        let decrypted = Fate {
            decrypted: Some(sa),
            ..encrypted
        };
        let leaked = Fate {
            flow: Some(key(2)),
            policy: PolicyVerdict::Violation(PolicyId(0)),
            ..Fate::new(Outcome::Forwarded(InterfaceId(1)))
        };
        let blocked = Fate {
            outcome: Outcome::Dropped(DropReason::PolicyViolation),
            ..leaked
        };
        let mut table = FlowTable::new();
        table.observe_marked(&encrypted, 1, 100, 140, Some(10));
        table.observe_marked(&decrypted, 2, 100, 140, Some(12));
        table.observe_marked(&leaked, 3, 100, 100, None);
        table.observe_marked(&blocked, 4, 100, 0, None);

        let entries: Vec<FlowEntry<'_>> = table.entries().collect();
        assert_eq!(entries.len(), 2);
        let (first, second) = (entries[0], entries[1]);
        assert_eq!(first.key(), key(1));
        assert_eq!((first.packets(), first.decrypted()), (2, 1));
        assert_eq!(first.violations(), 0);
        let ways: Vec<&WayCount> = first.ways().collect();
        assert_eq!(ways.len(), 1);
        assert_eq!(
            ways[0].way,
            Way::Path {
                egress: InterfaceId(1),
                encrypted: Some((InterfaceId(2), 0x1001)),
            }
        );
        assert_eq!((ways[0].packets, ways[0].bytes), (2, 280));
        assert_eq!(ways[0].outer_dscp, Some(12), "the last packet's DSCP");

        assert_eq!(second.key(), key(2));
        assert_eq!((second.packets(), second.decrypted()), (2, 0));
        assert_eq!(second.violations(), 2);
        assert_eq!(second.verdict(), PolicyVerdict::Violation(PolicyId(0)));
        let ways: Vec<Way> = second.ways().map(|w| w.way).collect();
        assert_eq!(
            ways,
            [
                Way::Path {
                    egress: InterfaceId(1),
                    encrypted: None,
                },
                Way::Dropped(DropReason::PolicyViolation),
            ]
        );
        assert!(second.ways().all(|w| w.outer_dscp.is_none()));
    }
}
