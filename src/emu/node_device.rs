//! [`NodeDevice`]: an erdp forwarding node ([`crate::dataplane::Node`]) as an
//! emulator [`Device`]. Frames that land at one instant are handed to the
//! [`Driver`] in runs per ingress port, with the virtual time; each frame is
//! sent on (the very buffer, zero copy) or recycled by its [`Fate`], and the
//! packets the node generated (ARP replies, ICMP errors) leave through the
//! pool.
//!
//! Every fate is also tallied per flow and path ([`PathKey`]): which port a
//! flow came in and went out on, whether it left encrypted, the policy
//! verdict, the outer DSCP of its ESP packets. Reports read these tallies.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::device::{Arrival, Device, PortId, TxQueue};
use super::time::SimTime;
use crate::dataplane::{DropReason, Fate, Node, Outcome, PolicyVerdict};
use crate::driver::{Driver, FateRoute, Order};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;
use crate::wire::FlowKey;

/// Offset of the IPv4 type-of-service byte (or the IPv6 traffic class
/// high nibble) in an untagged Ethernet frame.
const FRAME_IP_TOS: usize = 15;
/// Offset of the IP version nibble.
const FRAME_IP_VERSION: usize = 14;

/// What became of a frame, as a tally key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum PathOutcome {
    /// Sent on this emulator port.
    Forwarded {
        /// The port it left on.
        port: u16,
        /// It left inside ESP.
        encrypted: bool,
    },
    /// Consumed by the node (ARP, echo to the node).
    Delivered,
    /// Dropped with this reason.
    Dropped {
        /// Why.
        reason: DropReason,
    },
}

/// One (flow, path) pair a node saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathKey {
    /// The (inner) flow; `None` for frames that were not IP.
    pub flow: Option<FlowKey>,
    /// The port it arrived on.
    pub ingress: u16,
    /// It arrived inside ESP and was decrypted here.
    pub decrypted: bool,
    /// What became of it.
    pub outcome: PathOutcome,
    /// The must-encrypt policy verdict.
    pub violation: bool,
}

/// Counts for one [`PathKey`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PathStats {
    /// Frames.
    pub packets: u64,
    /// Bytes of the frames as they arrived.
    pub bytes: u64,
    /// First and last time seen.
    pub first_at: SimTime,
    /// Last time seen.
    pub last_at: SimTime,
    /// The outer DSCP of the last frame that left encrypted.
    pub outer_dscp: Option<u8>,
}

/// An erdp node attached to emulator links: emulator port `i` is the
/// node's Ethernet interface `ports[i]`.
pub struct NodeDevice {
    name: String,
    /// The node's driver (lent out while a run is routed: always `Some`
    /// between calls).
    driver: Option<Driver>,
    node: Arc<Node>,
    /// Emulator port to node interface.
    ports: Vec<InterfaceId>,
    /// Node interface index to emulator port.
    port_of: Vec<Option<u16>>,
    run: Vec<PacketBuf>,
    /// Lengths of the frames in `run` as they arrived (the worker rewrites
    /// the frames in place).
    run_lens: Vec<usize>,
    /// The emulator port each frame of `run` leaves on (`None`: consumed).
    run_sends: Vec<Option<u16>>,
    /// Packets the node generated during the run, sent after its frames.
    run_generated: Vec<(u16, PacketBuf)>,
    /// Every (flow, path) seen, in the order first seen.
    paths: Vec<(PathKey, PathStats)>,
    /// Index in `paths` of each key.
    path_index: HashMap<PathKey, u32, foldhash::fast::FixedState>,
    /// Indices in `paths` of the keys tallied most recently, latest
    /// first (`u32::MAX`: empty): a node carries a few bulk flows and their
    /// ACKs at a time, interleaved, so most tallies skip the hash.
    recent: [u32; RECENT_PATHS],
}

impl std::fmt::Debug for NodeDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDevice")
            .field("name", &self.name)
            .field("ports", &self.ports)
            .field("paths", &self.paths.len())
            .finish()
    }
}

/// Why a node cannot be attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeDeviceError {
    /// A port names an interface the node does not have.
    #[error("node {node}: no interface named {interface:?}")]
    UnknownInterface {
        /// The node.
        node: String,
        /// The name asked for.
        interface: String,
    },
    /// A port names an ESP tunnel (tunnels ride Ethernet ports).
    #[error("node {node}: interface {interface:?} is a tunnel, not an Ethernet port")]
    NotEthernet {
        /// The node.
        node: String,
        /// The name asked for.
        interface: String,
    },
}

impl NodeDevice {
    /// Attaches `node`: emulator port `i` is the interface named
    /// `interfaces[i]`.
    pub fn new(node: &Arc<Node>, interfaces: &[&str]) -> Result<Self, NodeDeviceError> {
        let mut ports = Vec::with_capacity(interfaces.len());
        let mut port_of = vec![None; node.interface_names().len()];
        for (port, name) in interfaces.iter().enumerate() {
            let id = node
                .interface_id(name)
                .ok_or_else(|| NodeDeviceError::UnknownInterface {
                    node: node.name().to_string(),
                    interface: (*name).to_string(),
                })?;
            if node.is_tunnel(id) {
                return Err(NodeDeviceError::NotEthernet {
                    node: node.name().to_string(),
                    interface: (*name).to_string(),
                });
            }
            ports.push(id);
            if let Some(slot) = port_of.get_mut(id.0 as usize) {
                *slot = Some(port as u16);
            }
        }
        Ok(Self {
            name: node.name().to_string(),
            driver: Some(Driver::new(node.worker(), RUN_LIMIT, Order::InputsFirst)),
            node: Arc::clone(node),
            ports,
            port_of,
            run: Vec::with_capacity(RUN_LIMIT),
            run_lens: Vec::with_capacity(RUN_LIMIT),
            run_sends: Vec::with_capacity(RUN_LIMIT),
            run_generated: Vec::new(),
            paths: Vec::new(),
            path_index: HashMap::default(),
            recent: [u32::MAX; RECENT_PATHS],
        })
    }

    /// The node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Every (flow, path) seen so far, in the order first seen.
    pub fn paths(&self) -> impl Iterator<Item = (&PathKey, &PathStats)> {
        self.paths.iter().map(|(key, stats)| (key, stats))
    }

    /// The stats of `key`, added at `now` if new.
    fn path_stats(&mut self, key: PathKey, now: SimTime) -> &mut PathStats {
        let paths = &self.paths;
        let hit = self.recent.iter().position(|&index| {
            paths
                .get(index as usize)
                .is_some_and(|(recent, _)| *recent == key)
        });
        let index = match hit {
            Some(at) => {
                let index = self.recent[at];
                self.recent.copy_within(..at, 1);
                index
            }
            None => {
                let next = self.paths.len() as u32;
                let index = *self.path_index.entry(key).or_insert(next);
                if index == next {
                    self.paths.push((
                        key,
                        PathStats {
                            first_at: now,
                            ..PathStats::default()
                        },
                    ));
                }
                self.recent.copy_within(..RECENT_PATHS - 1, 1);
                index
            }
        };
        self.recent[0] = index;
        // The index came from `paths` or was just pushed: always in range.
        &mut self.paths[index as usize].1
    }

    /// The emulator port of node interface `id`.
    pub fn port_of(&self, id: InterfaceId) -> Option<u16> {
        self.port_of.get(id.0 as usize).copied().flatten()
    }

    fn tally(&mut self, now: SimTime, ingress: u16, fate: &Fate, len: usize, frame: &[u8]) {
        let outcome = match fate.outcome {
            Outcome::Forwarded(id) => PathOutcome::Forwarded {
                port: self.port_of(id).unwrap_or(u16::MAX),
                encrypted: fate.encrypted.is_some(),
            },
            Outcome::Delivered(_) => PathOutcome::Delivered,
            Outcome::Dropped(reason) => PathOutcome::Dropped { reason },
        };
        let key = PathKey {
            flow: fate.flow,
            ingress,
            decrypted: fate.decrypted.is_some(),
            outcome,
            violation: matches!(fate.policy, PolicyVerdict::Violation(_)),
        };
        let stats = self.path_stats(key, now);
        stats.packets += 1;
        stats.bytes += len as u64;
        stats.last_at = now;
        if fate.left_encrypted() {
            stats.outer_dscp = outer_dscp(frame);
        }
    }

    /// Processes `self.run` (frames from `port`) and sends the results.
    fn flush(&mut self, now: SimTime, port: u16, tx: &mut TxQueue<'_>) {
        if self.run.is_empty() {
            return;
        }
        let Some(&ingress) = self.ports.get(usize::from(port)) else {
            self.run.drain(..).for_each(|frame| tx.recycle(frame));
            return;
        };
        let Some(mut driver) = self.driver.take() else {
            self.run.drain(..).for_each(|frame| tx.recycle(frame));
            return;
        };
        self.run_lens.clear();
        self.run_lens.extend(self.run.iter().map(PacketBuf::len));
        self.run_sends.clear();
        // Reassembly timeouts run on the emulator's virtual clock.
        driver.set_time(now.since_start());
        let mut run = std::mem::take(&mut self.run);
        let mut route = NodeRoute {
            device: self,
            tx,
            now,
            port,
        };
        // Routing to emulator ports cannot fail (the error type is Infallible).
        let Ok(()) = driver.drive(ingress, &mut run, &mut route);
        self.driver = Some(driver);
        for (index, frame) in run.drain(..).enumerate() {
            match self.run_sends.get(index).copied().flatten() {
                Some(out) => tx.send(PortId(out), frame),
                None => tx.recycle(frame),
            }
        }
        self.run = run;
        for (out, frame) in self.run_generated.drain(..) {
            tx.send(PortId(out), frame);
        }
    }
}

/// Where the driver's fates go in the emulator: tallied per path, input
/// frames marked for their port (sent by value after the run), generated
/// packets swapped into pooled frames and sent after the run's frames.
struct NodeRoute<'d, 'q, 't> {
    device: &'d mut NodeDevice,
    tx: &'q mut TxQueue<'t>,
    now: SimTime,
    /// The emulator port the run arrived on.
    port: u16,
}

impl FateRoute for NodeRoute<'_, '_, '_> {
    type Error = std::convert::Infallible;

    fn input(
        &mut self,
        index: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), Self::Error> {
        let device = &mut *self.device;
        let len = device.run_lens.get(index).copied().unwrap_or(0);
        device.tally(self.now, self.port, fate, len, frame.as_slice());
        let out = fate.egress().and_then(|id| device.port_of(id));
        device.run_sends.push(out);
        Ok(())
    }

    fn generated(
        &mut self,
        _: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), Self::Error> {
        let device = &mut *self.device;
        let out = fate.egress().and_then(|id| device.port_of(id));
        device.tally(self.now, self.port, fate, frame.len(), &[]);
        if let Some(out) = out {
            let mut sent = self.tx.frame();
            std::mem::swap(frame, &mut sent);
            device.run_generated.push((out, sent));
        }
        Ok(())
    }
}

/// The DSCP of the (outer) IP header of an Ethernet frame.
fn outer_dscp(frame: &[u8]) -> Option<u8> {
    let version = frame.get(FRAME_IP_VERSION)? >> 4;
    match version {
        4 => Some(frame.get(FRAME_IP_TOS)? >> 2),
        6 => {
            let high = frame.get(FRAME_IP_VERSION)? & 0x0f;
            let low = frame.get(FRAME_IP_TOS)? >> 4;
            Some(((high << 4) | low) >> 2)
        }
        _ => None,
    }
}

/// Path keys a node remembers without hashing (see `NodeDevice::recent`).
const RECENT_PATHS: usize = 4;

/// Most frames handed to the worker at once.
const RUN_LIMIT: usize = 64;

impl Device for NodeDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn port_count(&self) -> u16 {
        self.ports.len() as u16
    }

    fn receive(&mut self, now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        let mut current: Option<u16> = None;
        for arrival in batch.drain(..) {
            let port = arrival.port.0;
            if current != Some(port) || self.run.len() >= RUN_LIMIT {
                if let Some(previous) = current {
                    self.flush(now, previous, tx);
                }
                current = Some(port);
            }
            self.run.push(arrival.frame);
        }
        if let Some(port) = current {
            self.flush(now, port, tx);
        }
    }

    fn poll(&mut self, _now: SimTime, _tx: &mut TxQueue<'_>) {}

    fn next_wakeup(&mut self) -> Option<SimTime> {
        None
    }
}
