//! What each link failure cost: from the moment a link goes down until it
//! comes back, the frames it dropped for being down and how long traffic
//! kept being lost (the outage as the flows saw it), written into the
//! failure's [`FaultRecord`].

use super::super::report::FaultRecord;
use super::super::topology::Topology;
use super::to_ms;
use crate::emu::SimTime;

/// An open outage on a link.
#[derive(Debug, Clone, Copy)]
struct Outage {
    /// The index of the failure's record.
    record: usize,
    since: SimTime,
    drops_at_start: u64,
    drops_seen: u64,
    /// When the link last dropped a frame for being down.
    last_loss: Option<SimTime>,
}

/// The open outage of each link, in the topology's link order.
#[derive(Debug)]
pub(super) struct Outages(Vec<Option<Outage>>);

impl Outages {
    /// No outage on any of `links` links.
    pub(super) fn new(links: usize) -> Self {
        Self(vec![None; links])
    }

    /// Whether some link is down.
    pub(super) fn any_open(&self) -> bool {
        self.0.iter().any(Option::is_some)
    }

    /// Notes when each down link last dropped a frame.
    pub(super) fn watch(&mut self, topo: &Topology) {
        for (index, outage) in self.0.iter_mut().enumerate() {
            if let Some(outage) = outage {
                let drops = link_down_drops(topo, index);
                if drops > outage.drops_seen {
                    outage.drops_seen = drops;
                    outage.last_loss = Some(topo.sim.now());
                }
            }
        }
    }

    /// Link `link` went down at `now` (the failure is `faults[record]`),
    /// having dropped `drops` frames for being down so far.
    pub(super) fn open(&mut self, link: usize, record: usize, now: SimTime, drops: u64) {
        if let Some(slot) = self.0.get_mut(link) {
            *slot = Some(Outage {
                record,
                since: now,
                drops_at_start: drops,
                drops_seen: drops,
                last_loss: None,
            });
        }
    }

    /// Link `link` came back at `now`: its failure's record gets the
    /// frames lost, the outage and how long the link was down.
    pub(super) fn close(
        &mut self,
        link: usize,
        now: SimTime,
        drops: u64,
        faults: &mut [FaultRecord],
    ) {
        if let Some(outage) = self.0.get_mut(link).and_then(Option::take)
            && let Some(record) = faults.get_mut(outage.record)
        {
            record.frames_lost = Some(drops - outage.drops_at_start);
            record.outage_ms = Some(
                outage
                    .last_loss
                    .map_or(0.0, |t| to_ms(t) - to_ms(outage.since)),
            );
            record.lasted_ms = Some(to_ms(now) - to_ms(outage.since));
        }
    }

    /// At the end of the run: the failures of links still down get their
    /// frames lost and outage so far (no end).
    pub(super) fn close_unfinished(&self, topo: &Topology, faults: &mut [FaultRecord]) {
        for (index, outage) in self.0.iter().enumerate() {
            if let Some(outage) = outage
                && let Some(record) = faults.get_mut(outage.record)
            {
                record.frames_lost = Some(link_down_drops(topo, index) - outage.drops_at_start);
                record.outage_ms = outage.last_loss.map(|t| to_ms(t) - to_ms(outage.since));
            }
        }
    }
}

/// Frames link `index` dropped, both ways, for being down.
pub(super) fn link_down_drops(topo: &Topology, index: usize) -> u64 {
    topo.links
        .get(index)
        .and_then(|&id| topo.sim.link(id))
        .map_or(0, |link| {
            let report = link.report(topo.sim.now());
            report.a_to_b.dropped.link_down + report.b_to_a.dropped.link_down
        })
}
