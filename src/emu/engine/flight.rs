//! Frames in flight: from a device's transmit queue onto a link, across it,
//! and into the far device's receive batch.
//!
//! Frames that keep their order wait in their channel's wire queue (one
//! event per queue head, so the event heap stays as small as the number of
//! busy channels); frames held back by reordering get an event each.

use crate::packet::PacketBuf;

use super::Simulator;
use crate::emu::device::{Arrival, Departure, TxQueue};
use crate::emu::event::EventKind;
use crate::emu::link::{CapturePoint, Offer, WireFrame};
use crate::emu::time::SimTime;

/// A frame held back by reordering, waiting for its own `Arrive` event.
#[derive(Debug)]
pub(super) struct Held {
    frame: Option<PacketBuf>,
    link: u32,
    /// 0: A to B, 1: B to A.
    channel: u8,
    /// The link's generation when it was sent.
    generation: u32,
}

impl Simulator {
    /// Puts a frame from `device` on the link at its port; an Azure-side
    /// link may first cut it into fragments (`link/azure_frag.rs`).
    pub(super) fn transmit(&mut self, device: usize, departure: Departure) {
        let entry = &self.devices[device];
        let azure = (departure.port.0 < entry.ports)
            .then(|| self.port_links[entry.port_base + usize::from(departure.port.0)])
            .flatten()
            .and_then(|(link, channel)| {
                let link = self.links.get(link as usize)?;
                link.channels.get(usize::from(channel))?.azure().copied()
            });
        let mut fragments = std::mem::take(&mut self.fragments);
        let split = azure.is_some_and(|azure| {
            azure.split(departure.frame.as_slice(), &mut self.pool, &mut fragments)
        });
        if !split {
            self.fragments = fragments;
            return self.transmit_whole(device, departure);
        }
        self.pool.give(departure.frame);
        let port = departure.port;
        for frame in fragments.drain(..) {
            self.transmit_whole(device, Departure { port, frame });
        }
        self.fragments = fragments;
    }

    /// Puts a frame from `device` on the link at its port, as it is.
    fn transmit_whole(&mut self, device: usize, departure: Departure) {
        let Departure { port, frame } = departure;
        let entry = &mut self.devices[device];
        let linked = (port.0 < entry.ports)
            .then(|| self.port_links[entry.port_base + usize::from(port.0)])
            .flatten();
        let Some((link_index, channel)) = linked else {
            entry.stats.unlinked_drops += 1;
            self.pool.give(frame);
            return;
        };
        entry.stats.frames_out += 1;
        let now = self.now;
        let link = &mut self.links[link_index as usize];
        let channel_state = &mut link.channels[usize::from(channel)];
        if !link.up {
            channel_state.refuse_down(frame.len());
            self.pool.give(frame);
            return;
        }
        let offer = channel_state.offer(now.as_nanos(), frame.len());
        if let Some(capture) = link.capture.as_mut()
            && capture.point() == CapturePoint::Transmit
            && !matches!(offer, Offer::Refused(_))
        {
            capture.record(now, frame.as_slice());
        }
        let Offer::Admitted(admitted) = offer else {
            self.pool.give(frame);
            return;
        };
        let arrival = SimTime::from_nanos(admitted.arrival_ns);
        if !admitted.reordered {
            let wire = &mut link.wire[usize::from(channel)];
            if wire.is_empty() {
                self.events.push(
                    arrival,
                    EventKind::WireHead {
                        link: link_index,
                        channel,
                    },
                );
            }
            wire.push_back(WireFrame {
                arrival_ns: admitted.arrival_ns,
                frame,
            });
            return;
        }
        let held = Held {
            frame: Some(frame),
            link: link_index,
            channel,
            generation: link.generation,
        };
        let slot = match self.free_held.pop() {
            Some(slot) => {
                self.held[slot as usize] = held;
                slot
            }
            None => {
                self.held.push(held);
                (self.held.len() - 1) as u32
            }
        };
        self.events.push(arrival, EventKind::Arrive { slot });
    }

    /// A frame lands: delivered to the far device together with every other
    /// frame landing there at this instant.
    pub(super) fn arrive(&mut self, kind: EventKind) {
        let Some((device, arrival)) = self.land(kind) else {
            return;
        };
        self.batch.push(arrival);
        while let Some((time, next)) = self.events.peek() {
            if time != self.now || self.landing_device(next) != Some(device) {
                break;
            }
            self.events.pop();
            self.stats.events += 1;
            if let Some((_, arrival)) = self.land(next) {
                self.batch.push(arrival);
            }
        }
        let count = self.batch.len() as u64;
        self.stats.frames_delivered += count;
        self.stats.batches += 1;
        let now = self.now;
        let entry = &mut self.devices[device];
        entry.stats.frames_in += count;
        let mut tx = TxQueue::new(&mut self.pool, &mut self.departures);
        entry.device.receive(now, &mut self.batch, &mut tx);
        for leftover in self.batch.drain(..) {
            self.pool.give(leftover.frame);
        }
        self.after_call(device, false);
    }

    /// The device a landing event delivers to, if it is one.
    fn landing_device(&self, kind: EventKind) -> Option<usize> {
        let (link, channel) = match kind {
            EventKind::Arrive { slot } => {
                let held = self.held.get(slot as usize)?;
                (held.link, held.channel)
            }
            EventKind::WireHead { link, channel } => (link, channel),
            EventKind::Wake { .. } | EventKind::Action { .. } => return None,
        };
        let link = self.links.get(link as usize)?;
        let far = link.ends.get(1 - usize::from(channel))?;
        Some(far.device.0 as usize)
    }

    /// Ends a frame's flight: the arrival at the far device, or `None` if
    /// the event is stale or the link went down meanwhile (counted, frame
    /// recycled).
    fn land(&mut self, kind: EventKind) -> Option<(usize, Arrival)> {
        let now = self.now;
        let (link_index, channel, frame) = match kind {
            EventKind::Arrive { slot } => {
                let held = self.held.get_mut(slot as usize)?;
                let frame = held.frame.take()?;
                let (link_index, channel) = (held.link as usize, usize::from(held.channel));
                let generation = held.generation;
                self.free_held.push(slot);
                let link = &mut self.links[link_index];
                if !link.up || link.generation != generation {
                    link.channels[channel].land(frame.len(), false);
                    self.pool.give(frame);
                    return None;
                }
                (link_index, channel, frame)
            }
            EventKind::WireHead { link, channel } => {
                let (link_index, channel) = (link as usize, usize::from(channel));
                let wire = &mut self.links.get_mut(link_index)?.wire[channel];
                // A head event left over from before the link went down
                // (which emptied the queue) finds another frame or none.
                if wire.front()?.arrival_ns != now.as_nanos() {
                    return None;
                }
                let head = wire.pop_front()?;
                if let Some(next) = wire.front() {
                    self.events.push(
                        SimTime::from_nanos(next.arrival_ns),
                        EventKind::WireHead {
                            link,
                            channel: channel as u8,
                        },
                    );
                }
                (link_index, channel, head.frame)
            }
            EventKind::Wake { .. } | EventKind::Action { .. } => return None,
        };
        let link = &mut self.links[link_index];
        if !link.channels[channel].land_in_order(frame.as_slice()) {
            self.pool.give(frame);
            return None;
        }
        if let Some(capture) = link.capture.as_mut()
            && capture.point() == CapturePoint::Receive
        {
            capture.record(now, frame.as_slice());
        }
        if let Some(series) = link.series.as_mut() {
            series.record(now, frame.as_slice());
        }
        let far = link.ends[1 - channel];
        Some((
            far.device.0 as usize,
            Arrival {
                port: far.port,
                frame,
            },
        ))
    }

    /// The link went down: its in-order frames in flight are lost now
    /// (held-back frames are lost when their event comes).
    pub(super) fn drop_wire(&mut self, link_index: usize) {
        let Some(link) = self.links.get_mut(link_index) else {
            return;
        };
        for (channel, wire) in link.channels.iter_mut().zip(link.wire.iter_mut()) {
            for lost in wire.drain(..) {
                channel.land(lost.frame.len(), false);
                self.pool.give(lost.frame);
            }
        }
    }
}
