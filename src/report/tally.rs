//! [`Tally`]: what the packets of one flow (or of every untracked flow)
//! did, in a fixed-size record. The ways they left (egress, tunnel, SA) and
//! their drop reasons live in one [`WayLog`] shared by the whole table, as
//! a list per tally in first-seen order: a new flow allocates nothing of its
//! own, and the log grows (amortised) only when a flow takes a way it has
//! not taken before, which is bounded with the table.

use crate::dataplane::{DropReason, Fate, Outcome, PolicyVerdict};
use crate::fib::InterfaceId;

/// End of a tally's list.
const END: usize = usize::MAX;

/// One way packets left the node, or why they did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Forwarded on `egress`, inside ESP of (tunnel, SPI) when encrypted.
    Path {
        egress: InterfaceId,
        encrypted: Option<(InterfaceId, u32)>,
    },
    /// Dropped for this reason.
    Dropped(DropReason),
}

/// Packets (and bytes as sent) that took one way.
#[derive(Debug, Clone, Copy)]
pub struct WayCount {
    /// The way.
    pub way: Way,
    /// Packets that took it.
    pub packets: u64,
    /// Their bytes as sent (outer bytes when encrypted).
    pub bytes: u64,
    /// The outer DSCP of the last packet that left encrypted this way,
    /// when the caller read it from the frame as sent (the emulator does).
    pub outer_dscp: Option<u8>,
    next: usize,
}

/// The ways of every tally of a table.
#[derive(Debug, Default)]
pub(super) struct WayLog {
    entries: Vec<WayCount>,
}

impl WayLog {
    /// Counts one packet of `bytes` on `way` in `tally`'s list, keeping
    /// `outer_dscp` when given.
    fn count(&mut self, tally: &mut Tally, way: Way, bytes: u64, outer_dscp: Option<u8>) {
        let mut at = tally.first_way;
        while let Some(entry) = self.entries.get_mut(at) {
            if entry.way == way {
                entry.packets += 1;
                entry.bytes += bytes;
                if outer_dscp.is_some() {
                    entry.outer_dscp = outer_dscp;
                }
                return;
            }
            at = entry.next;
        }
        let new = self.entries.len();
        self.entries.push(WayCount {
            way,
            packets: 1,
            bytes,
            outer_dscp,
            next: END,
        });
        match self.entries.get_mut(tally.last_way) {
            Some(last) => last.next = new,
            None => tally.first_way = new,
        }
        tally.last_way = new;
    }

    /// `tally`'s ways in first-seen order.
    pub(super) fn ways<'a>(&'a self, tally: &Tally) -> impl Iterator<Item = &'a WayCount> + 'a {
        let mut at = tally.first_way;
        std::iter::from_fn(move || {
            let entry = self.entries.get(at)?;
            at = entry.next;
            Some(entry)
        })
    }

    /// Entries held (for the bound's test).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// What some packets did; their ways are in the table's [`WayLog`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Tally {
    pub(super) packets: u64,
    pub(super) bytes: u64,
    pub(super) delivered: u64,
    /// Packets that arrived in ESP (decrypted by the node).
    pub(super) decrypted: u64,
    /// The SPI it arrived under, when it arrived in ESP.
    pub(super) decrypted_spi: Option<u32>,
    pub(super) verdict: PolicyVerdict,
    first_way: usize,
    last_way: usize,
}

const _: () = assert!(size_of::<Tally>() <= 64);

impl Default for Tally {
    fn default() -> Self {
        Self {
            packets: 0,
            bytes: 0,
            delivered: 0,
            decrypted: 0,
            decrypted_spi: None,
            verdict: PolicyVerdict::Unchecked,
            first_way: END,
            last_way: END,
        }
    }
}

/// Orders verdicts so a flow keeps its worst: violation, then encrypted,
/// then not covered, then unchecked.
pub fn verdict_rank(verdict: PolicyVerdict) -> u8 {
    match verdict {
        PolicyVerdict::Unchecked => 0,
        PolicyVerdict::NotCovered => 1,
        PolicyVerdict::Encrypted(_) => 2,
        PolicyVerdict::Violation(_) => 3,
    }
}

impl Tally {
    /// Folds one packet in: `bytes_in` as received, `bytes_out` as sent,
    /// `outer_dscp` read from the frame as sent (callers give it only for
    /// packets that left encrypted).
    pub(super) fn observe(
        &mut self,
        log: &mut WayLog,
        fate: &Fate,
        bytes_in: usize,
        bytes_out: usize,
        outer_dscp: Option<u8>,
    ) {
        self.packets += 1;
        self.bytes += bytes_in as u64;
        if let Some(sa) = fate.decrypted {
            self.decrypted += 1;
            self.decrypted_spi = Some(sa.spi);
        }
        if verdict_rank(fate.policy) > verdict_rank(self.verdict) {
            self.verdict = fate.policy;
        }
        match fate.outcome {
            Outcome::Forwarded(egress) => {
                let encrypted = fate.encrypted.map(|sa| (sa.tunnel, sa.spi));
                let way = Way::Path { egress, encrypted };
                log.count(self, way, bytes_out as u64, outer_dscp);
            }
            Outcome::Delivered(_) => self.delivered += 1,
            Outcome::Dropped(reason) => log.count(self, Way::Dropped(reason), 0, None),
        }
    }
}
