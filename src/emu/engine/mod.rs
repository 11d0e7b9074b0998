//! The simulator: devices, links and the event loop over virtual time.
//!
//! One event at a time in `(time, sequence)` order: a frame lands at a
//! device (frames landing at one device at one instant go as one batch), a
//! device's timer fires, or a timeline action runs. Frames move by value
//! between the pool, devices and links; nothing allocates per packet once
//! pools and queues have grown.

use std::any::Any;
use std::time::Duration;

use serde::Serialize;

mod flight;

use super::device::{Arrival, Departure, Device, DeviceEvent, PortId, TxQueue};
use super::error::EmuError;
use super::event::{EventKind, EventQueue};
use super::link::{
    DeviceId, Endpoint, Link, LinkCapture, LinkCaptureError, LinkConfig, LinkId, LinkReport,
    LinkTimeline, SeriesRecorder,
};
use super::pool::FramePool;
use super::rng::derive_seed;
use super::time::SimTime;
use super::timeline::{Action, ActionRecord, Flap};

/// A device and the engine's bookkeeping for it.
struct DeviceSlot {
    device: Box<dyn Device>,
    /// Index of its port 0 in `Simulator::port_links`.
    port_base: usize,
    ports: u16,
    /// The earliest wake event scheduled and not yet run.
    wake_at: Option<SimTime>,
    stats: DeviceStats,
}

/// What the engine counted for one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeviceStats {
    /// Frames handed to the device.
    pub frames_in: u64,
    /// Frames it sent.
    pub frames_out: u64,
    /// Frames it sent on a port with no link (dropped).
    pub unlinked_drops: u64,
    /// Calls to `poll`.
    pub polls: u64,
}

/// What the engine counted overall.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Events processed.
    pub events: u64,
    /// Frames handed to devices.
    pub frames_delivered: u64,
    /// `receive` calls (batches).
    pub batches: u64,
    /// Wake events that had been superseded by an earlier one.
    pub stale_wakes: u64,
    /// Wakeups a device asked for at or before `now` right after a poll,
    /// moved a nanosecond later.
    pub clamped_wakes: u64,
    /// Frame buffers the pool allocated.
    pub buffers_allocated: u64,
}

/// One device in a [`SimReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceReport {
    /// Its id.
    pub id: DeviceId,
    /// Its name.
    pub name: String,
    /// What the engine counted for it.
    pub stats: DeviceStats,
}

/// A snapshot of a whole simulation, for `report.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimReport {
    /// The master seed.
    pub seed: u64,
    /// Virtual time now.
    pub now: SimTime,
    /// Engine counters.
    pub engine: EngineStats,
    /// Every device, in the order added.
    pub devices: Vec<DeviceReport>,
    /// Every link, in the order added.
    pub links: Vec<LinkReport>,
    /// The timeline actions that ran.
    pub actions: Vec<ActionRecord>,
}

/// A discrete-event network simulation in virtual time.
pub struct Simulator {
    now: SimTime,
    seed: u64,
    events: EventQueue,
    devices: Vec<DeviceSlot>,
    /// Per port of every device: the link and end on it.
    port_links: Vec<Option<(u32, u8)>>,
    links: Vec<Link>,
    /// Frames held back by reordering, each with its own `Arrive` event
    /// (frames in order wait in their link's wire queue instead).
    held: Vec<flight::Held>,
    free_held: Vec<u32>,
    pool: FramePool,
    departures: Vec<Departure>,
    /// Fragments of a frame an Azure-side link cuts, reused.
    fragments: Vec<crate::packet::PacketBuf>,
    batch: Vec<Arrival>,
    actions: Vec<(SimTime, Action)>,
    action_log: Vec<ActionRecord>,
    stats: EngineStats,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("now", &self.now)
            .field("seed", &self.seed)
            .field("devices", &self.devices.len())
            .field("links", &self.links.len())
            .field("pending_events", &self.events.len())
            .finish()
    }
}

impl Simulator {
    /// An empty simulation at time zero; every random stream derives from
    /// `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            now: SimTime::ZERO,
            seed,
            events: EventQueue::new(),
            devices: Vec::new(),
            port_links: Vec::new(),
            links: Vec::new(),
            held: Vec::new(),
            free_held: Vec::new(),
            pool: FramePool::new(),
            fragments: Vec::new(),
            departures: Vec::new(),
            batch: Vec::new(),
            actions: Vec::new(),
            action_log: Vec::new(),
            stats: EngineStats::default(),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A seed for the consumer named `label` (a host stack, an app),
    /// derived from the master seed.
    pub fn seed_for(&self, label: &str) -> u64 {
        derive_seed(self.seed, label)
    }

    /// Adds a device; it is polled at the wakeup it asks for.
    pub fn add_device(&mut self, device: Box<dyn Device>) -> DeviceId {
        let id = DeviceId(self.devices.len() as u32);
        let ports = device.port_count();
        let port_base = self.port_links.len();
        self.port_links.extend((0..ports).map(|_| None));
        self.devices.push(DeviceSlot {
            device,
            port_base,
            ports,
            wake_at: None,
            stats: DeviceStats::default(),
        });
        self.schedule_wake(id.0 as usize, false);
        id
    }

    /// Links port `a` of one device to port `b` of another (or the same).
    pub fn connect(
        &mut self,
        a: (DeviceId, PortId),
        b: (DeviceId, PortId),
        config: &LinkConfig,
    ) -> Result<LinkId, EmuError> {
        config.validate().map_err(|source| EmuError::LinkConfig {
            link: config.name.clone(),
            source,
        })?;
        if self.links.iter().any(|link| link.name == config.name) {
            return Err(EmuError::DuplicateLinkName(config.name.clone()));
        }
        let ends = [a, b].map(|(device, port)| Endpoint { device, port });
        let mut slots = [0usize; 2];
        for (slot, end) in slots.iter_mut().zip(ends) {
            *slot = self.port_slot(end)?;
            if let Some((link, _)) = self.port_links[*slot] {
                return Err(EmuError::PortInUse {
                    device: self.device_name(end.device).to_string(),
                    port: end.port,
                    link: self.links[link as usize].name.clone(),
                });
            }
        }
        if slots[0] == slots[1] {
            return Err(EmuError::PortInUse {
                device: self.device_name(a.0).to_string(),
                port: a.1,
                link: config.name.clone(),
            });
        }
        let id = self.links.len() as u32;
        self.links.push(Link::new(config, ends, self.seed));
        self.port_links[slots[0]] = Some((id, 0));
        self.port_links[slots[1]] = Some((id, 1));
        Ok(LinkId(id))
    }

    /// Records the frames of `link` into `capture` from now on.
    pub fn capture(&mut self, link: LinkId, capture: LinkCapture) -> Result<(), EmuError> {
        self.link_mut(link)?.capture = Some(capture);
        Ok(())
    }

    /// Records every link's delivered bytes over time from now on, in
    /// buckets `bucket` wide (see [`SeriesRecorder`]).
    pub(crate) fn record_series(&mut self, bucket: std::time::Duration) {
        for link in &mut self.links {
            link.series = Some(SeriesRecorder::new(bucket));
        }
    }

    /// Every recorded link's series up to now, over one bucket width.
    pub fn link_timeline(&self) -> LinkTimeline {
        let recorders = || {
            self.links
                .iter()
                .filter_map(|l| Some((l, l.series.as_ref()?)))
        };
        let bucket_ns = recorders().map(|(_, s)| s.bucket_ns()).max().unwrap_or(0);
        LinkTimeline {
            bucket_ms: bucket_ns as f64 / 1e6,
            links: recorders()
                .map(|(link, series)| series.series(&link.name, self.now, bucket_ns))
                .collect(),
        }
    }

    /// Closes every capture; per link name, the frames written or the error.
    pub fn finish_captures(&mut self) -> Vec<(String, Result<u64, LinkCaptureError>)> {
        self.links
            .iter_mut()
            .filter_map(|link| {
                let capture = link.capture.take()?;
                Some((link.name.clone(), capture.finish()))
            })
            .collect()
    }

    /// Schedules a timeline action.
    pub fn schedule(&mut self, at: SimTime, action: Action) -> Result<(), EmuError> {
        if at < self.now {
            return Err(EmuError::ActionInPast { at, now: self.now });
        }
        match action {
            Action::LinkDown(link) | Action::LinkUp(link) => {
                self.link_mut(link)?;
            }
            Action::Command { device, .. } => {
                self.slot(device)?;
            }
        }
        let index = self.actions.len() as u32;
        self.actions.push((at, action));
        self.events.push(at, EventKind::Action { index });
        Ok(())
    }

    /// Schedules every down and up of a flap.
    pub fn schedule_flap(&mut self, flap: &Flap) -> Result<(), EmuError> {
        for (at, action) in flap.actions() {
            self.schedule(at, action)?;
        }
        Ok(())
    }

    /// The actions that ran so far, in order.
    pub fn action_log(&self) -> &[ActionRecord] {
        &self.action_log
    }

    /// Runs every event due up to and including `end`, then sets the clock
    /// to `end` (unless `end` is [`SimTime::MAX`]).
    pub fn run_until(&mut self, end: SimTime) {
        while let Some((time, _)) = self.events.peek() {
            if time > end {
                break;
            }
            self.step();
        }
        if end != SimTime::MAX && end > self.now {
            self.now = end;
        }
    }

    /// Runs for `span` of virtual time.
    pub fn run_for(&mut self, span: Duration) {
        self.run_until(self.now + span);
    }

    /// Runs in steps of `step` until `done` says so or `limit` is reached;
    /// returns true when `done` held.
    pub fn run_until_done(
        &mut self,
        limit: SimTime,
        step: Duration,
        mut done: impl FnMut(&Simulator) -> bool,
    ) -> bool {
        let step = step.max(Duration::from_nanos(1));
        loop {
            if done(self) {
                return true;
            }
            if self.now >= limit {
                return false;
            }
            let next = (self.now + step).min(limit);
            self.run_until(next);
        }
    }

    /// Processes the next event; false when none is left.
    pub fn step(&mut self) -> bool {
        let Some((time, kind)) = self.events.pop() else {
            return false;
        };
        debug_assert!(time >= self.now, "virtual time went backwards");
        self.now = time;
        self.stats.events += 1;
        match kind {
            EventKind::Arrive { .. } | EventKind::WireHead { .. } => self.arrive(kind),
            EventKind::Wake { device } => self.wake(device as usize),
            EventKind::Action { index } => self.run_action(index as usize),
        }
        true
    }

    /// Everything the engine knows, as a serialisable snapshot (devices
    /// add their own reports, such as a host's apps).
    pub fn report(&self) -> SimReport {
        SimReport {
            seed: self.seed,
            now: self.now,
            engine: self.stats(),
            devices: self
                .devices
                .iter()
                .enumerate()
                .map(|(index, slot)| DeviceReport {
                    id: DeviceId(index as u32),
                    name: slot.device.name().to_string(),
                    stats: slot.stats,
                })
                .collect(),
            links: self.link_reports(),
            actions: self.action_log.clone(),
        }
    }

    /// Engine counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            buffers_allocated: self.pool.allocated(),
            ..self.stats
        }
    }

    /// The engine's counters for one device.
    pub fn device_stats(&self, id: DeviceId) -> Option<DeviceStats> {
        self.devices.get(id.0 as usize).map(|slot| slot.stats)
    }

    /// The device `id` as its concrete type, if it is one.
    pub fn device<T: Device>(&self, id: DeviceId) -> Option<&T> {
        let device: &dyn Any = self.devices.get(id.0 as usize)?.device.as_ref();
        device.downcast_ref::<T>()
    }

    /// Changes device `id` (as its concrete type) with `change`, then asks
    /// it again when it wants to be polled: use this to add apps or rules
    /// to a device already in the simulation.
    pub fn update<T: Device, R>(
        &mut self,
        id: DeviceId,
        change: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let result = change(self.device_mut::<T>(id)?);
        self.schedule_wake(id.0 as usize, false);
        Some(result)
    }

    /// The device `id` as its concrete type, mutable. The engine does not
    /// see what changes: after a change that needs the device to act (a new
    /// app), use [`Simulator::update`] or [`Simulator::poke`].
    pub fn device_mut<T: Device>(&mut self, id: DeviceId) -> Option<&mut T> {
        let device: &mut dyn Any = self.devices.get_mut(id.0 as usize)?.device.as_mut();
        device.downcast_mut::<T>()
    }

    /// Lets `id` act now (for example after its configuration changed):
    /// polls it and sends what it queues.
    pub fn poke(&mut self, id: DeviceId) -> Result<(), EmuError> {
        let index = self.slot(id)?;
        self.wake_now(index);
        Ok(())
    }

    /// The name of device `id` (empty if unknown).
    pub(crate) fn device_name(&self, id: DeviceId) -> &str {
        self.devices
            .get(id.0 as usize)
            .map_or("", |slot| slot.device.name())
    }

    /// The link `id`.
    pub fn link(&self, id: LinkId) -> Option<&Link> {
        self.links.get(id.0 as usize)
    }

    /// A report of link `id` now.
    pub fn link_report(&self, id: LinkId) -> Option<LinkReport> {
        self.link(id).map(|link| link.report(self.now))
    }

    /// Reports of every link, in the order they were added.
    pub(crate) fn link_reports(&self) -> Vec<LinkReport> {
        self.links
            .iter()
            .map(|link| link.report(self.now))
            .collect()
    }

    /// The link with this name.
    pub fn link_by_name(&self, name: &str) -> Option<LinkId> {
        self.links
            .iter()
            .position(|link| link.name == name)
            .map(|index| LinkId(index as u32))
    }

    fn slot(&self, id: DeviceId) -> Result<usize, EmuError> {
        let index = id.0 as usize;
        if index < self.devices.len() {
            Ok(index)
        } else {
            Err(EmuError::UnknownDevice(id))
        }
    }

    fn port_slot(&self, end: Endpoint) -> Result<usize, EmuError> {
        let slot = &self.devices[self.slot(end.device)?];
        if end.port.0 >= slot.ports {
            return Err(EmuError::UnknownPort {
                device: slot.device.name().to_string(),
                port: end.port,
                ports: slot.ports,
            });
        }
        Ok(slot.port_base + usize::from(end.port.0))
    }

    fn link_mut(&mut self, id: LinkId) -> Result<&mut Link, EmuError> {
        self.links
            .get_mut(id.0 as usize)
            .ok_or(EmuError::UnknownLink(id))
    }

    fn wake(&mut self, device: usize) {
        let Some(entry) = self.devices.get_mut(device) else {
            return;
        };
        if entry.wake_at != Some(self.now) {
            self.stats.stale_wakes += 1;
            return;
        }
        entry.wake_at = None;
        self.wake_now(device);
    }

    fn wake_now(&mut self, device: usize) {
        let now = self.now;
        let entry = &mut self.devices[device];
        entry.stats.polls += 1;
        let mut tx = TxQueue::new(&mut self.pool, &mut self.departures);
        entry.device.poll(now, &mut tx);
        self.after_call(device, true);
    }

    fn run_action(&mut self, index: usize) {
        let Some(&(at, action)) = self.actions.get(index) else {
            return;
        };
        let changed = match action {
            Action::LinkDown(link) => self.set_link_state(link, false),
            Action::LinkUp(link) => self.set_link_state(link, true),
            Action::Command { device, command } => {
                self.device_event(device.0 as usize, DeviceEvent::Command(command));
                true
            }
        };
        self.action_log.push(ActionRecord {
            at,
            action,
            changed,
        });
    }

    fn set_link_state(&mut self, id: LinkId, up: bool) -> bool {
        let now = self.now;
        let Some(link) = self.links.get_mut(id.0 as usize) else {
            return false;
        };
        if !link.set_up(now, up) {
            return false;
        }
        if !up {
            self.drop_wire(id.0 as usize);
        }
        let link = &self.links[id.0 as usize];
        if link.report_carrier {
            let ends = link.ends;
            for end in ends {
                let event = if up {
                    DeviceEvent::PortUp(end.port)
                } else {
                    DeviceEvent::PortDown(end.port)
                };
                self.device_event(end.device.0 as usize, event);
            }
        }
        true
    }

    fn device_event(&mut self, device: usize, event: DeviceEvent) {
        let now = self.now;
        let Some(entry) = self.devices.get_mut(device) else {
            return;
        };
        let mut tx = TxQueue::new(&mut self.pool, &mut self.departures);
        entry.device.event(now, event, &mut tx);
        self.after_call(device, false);
    }

    /// Sends what the device queued and schedules its next wakeup.
    fn after_call(&mut self, device: usize, polled: bool) {
        if !self.departures.is_empty() {
            let mut departures = std::mem::take(&mut self.departures);
            for departure in departures.drain(..) {
                self.transmit(device, departure);
            }
            self.departures = departures;
        }
        self.schedule_wake(device, polled);
    }

    fn schedule_wake(&mut self, device: usize, polled: bool) {
        let now = self.now;
        let entry = &mut self.devices[device];
        let Some(mut at) = entry.device.next_wakeup() else {
            return;
        };
        if polled && at <= now {
            at = now + Duration::from_nanos(1);
            self.stats.clamped_wakes += 1;
        }
        at = at.max(now);
        if entry.wake_at.is_none_or(|scheduled| at < scheduled) {
            entry.wake_at = Some(at);
            self.events.push(
                at,
                EventKind::Wake {
                    device: device as u32,
                },
            );
        }
    }
}
