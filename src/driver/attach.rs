//! The `erdp attach` handler: the [`Driver`] fed from a [`super::PortSet`].
//! Each received batch goes through the node; every forwarded frame and
//! every packet the node generated (ARP and neighbour replies, echo
//! replies, ICMP errors) is sent on the port of its egress interface, one
//! [`Port::send_batch`] per port. No allocation per packet: buffers are
//! swapped into per-port outboxes, never copied.

use std::collections::BTreeSet;

use serde::Serialize;
use thiserror::Error;

use std::time::{Duration, Instant};

use super::{Driver, FateRoute, FrameHandler, Order};
use crate::control::{CONTROL_POLL, ControlPlane};
use crate::dataplane::{Delivery, Fate, Node, Outcome, Worker};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;
use crate::port::Port;

/// Why a set of ports cannot serve a node.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BindingError {
    /// A port is named after no interface of the node.
    #[error("--bind {name}=...: node {node} has no interface {name:?} (its interfaces: {known})")]
    UnknownInterface {
        node: String,
        name: String,
        known: String,
    },
    /// A port is named after an esp-tunnel interface.
    #[error(
        "--bind {name}=...: {name} is an esp-tunnel interface; it rides the underlay \
         (its outer packets leave on an Ethernet interface) and takes no device"
    )]
    TunnelBound { name: String },
    /// Ethernet interfaces of the node without a port.
    #[error("node {node}: no --bind for the Ethernet interface(s) {}", .missing.join(", "))]
    Unbound { node: String, missing: Vec<String> },
}

/// Checks that `port_names` bind every Ethernet interface of `node` and
/// nothing else (no tunnel, no unknown name).
pub fn check_bindings(node: &Node, port_names: &[&str]) -> Result<(), BindingError> {
    for name in port_names {
        match node.interface_id(name) {
            None => {
                return Err(BindingError::UnknownInterface {
                    node: node.name().to_owned(),
                    name: (*name).to_owned(),
                    known: node.interface_names().join(", "),
                });
            }
            Some(id) if node.is_tunnel(id) => {
                return Err(BindingError::TunnelBound {
                    name: (*name).to_owned(),
                });
            }
            Some(_) => {}
        }
    }
    let bound: BTreeSet<&str> = port_names.iter().copied().collect();
    let missing: Vec<String> = node
        .interface_names()
        .iter()
        .enumerate()
        .filter(|(at, name)| {
            !node.is_tunnel(InterfaceId(*at as u32)) && !bound.contains(name.as_str())
        })
        .map(|(_, name)| name.clone())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(BindingError::Unbound {
            node: node.name().to_owned(),
            missing,
        })
    }
}

/// What the handler sent, beyond the node's and the ports' own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HandlerCounters {
    /// Frames (forwarded or generated) handed to an egress port.
    pub queued: u64,
    /// Of those, frames the port failed to send (also in its `tx_errors`).
    pub send_failed: u64,
    /// Frames whose egress interface has no port: impossible once
    /// [`check_bindings`] passed, counted rather than lost silently.
    pub unbound_egress: u64,
}

/// Frames waiting to be sent on one port: the first `len` buffers.
#[derive(Debug, Default)]
struct Outbox {
    frames: Vec<PacketBuf>,
    len: usize,
}

impl Outbox {
    /// The next free buffer (grown only while the outbox warms up).
    fn slot(&mut self) -> &mut PacketBuf {
        if self.frames.len() <= self.len {
            self.frames.push(PacketBuf::new());
        }
        let at = self.len;
        self.len += 1;
        // The push above makes index `at` exist.
        &mut self.frames[at]
    }
}

/// Per-port outboxes and the map from node interfaces to ports.
struct Outboxes {
    /// The port of each node interface (`None`: a tunnel), by interface id.
    interface_port: Vec<Option<usize>>,
    boxes: Vec<Outbox>,
    counters: HandlerCounters,
    /// IP packets the node delivered to its control plane in this batch
    /// (copied: control traffic, not the forwarding path).
    control: Vec<Vec<u8>>,
}

impl Outboxes {
    /// The next free buffer in the outbox of `egress`'s port, or `None`
    /// (counted) when the interface has no port.
    fn slot_for(&mut self, egress: InterfaceId) -> Option<&mut PacketBuf> {
        let port = self
            .interface_port
            .get(egress.0 as usize)
            .copied()
            .flatten();
        match port.and_then(|port| self.boxes.get_mut(port)) {
            Some(outbox) => {
                self.counters.queued += 1;
                Some(outbox.slot())
            }
            None => {
                self.counters.unbound_egress += 1;
                None
            }
        }
    }

    /// Sends every outbox on its port and empties it.
    fn flush(&mut self, ports: &mut [Box<dyn Port>]) {
        for (port, outbox) in ports.iter_mut().zip(&mut self.boxes) {
            if let Some(queued) = outbox.frames.get(..outbox.len)
                && !queued.is_empty()
            {
                let sent = port.send_batch(queued);
                self.counters.send_failed += sent.failed as u64;
            }
            outbox.len = 0;
        }
    }
}

impl FateRoute for Outboxes {
    type Error = std::convert::Infallible;

    fn input(&mut self, _: usize, frame: &mut PacketBuf, fate: &Fate) -> Result<(), Self::Error> {
        if let Some(slot) = fate.egress().and_then(|e| self.slot_for(e)) {
            std::mem::swap(frame, slot);
        } else if fate.outcome == Outcome::Delivered(Delivery::Control) {
            self.control.push(frame.as_slice().to_vec());
        }
        Ok(())
    }

    fn generated(
        &mut self,
        _: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), Self::Error> {
        if let Some(slot) = fate.egress().and_then(|e| self.slot_for(e)) {
            std::mem::swap(frame, slot);
        }
        Ok(())
    }
}

/// A [`FrameHandler`] that forwards with a node [`Worker`]: port `i` of the
/// [`super::PortSet`] serves the node interface named like it.
pub struct NodeHandler {
    driver: Driver,
    /// The node interface of each port, by port index.
    port_interface: Vec<InterfaceId>,
    outboxes: Outboxes,
    /// The node's control plane (IKE), on the handler's clock.
    control: Option<ControlPlane>,
    started: Instant,
    next_poll: Duration,
}

impl NodeHandler {
    /// A handler for ports named `port_names` (in port index order), each
    /// after a node interface; they must pass [`check_bindings`]. `batch` is
    /// the receive batch size (outboxes start with room for it).
    pub fn new(worker: Worker, port_names: &[&str], batch: usize) -> Result<Self, BindingError> {
        let node = worker.node();
        check_bindings(node, port_names)?;
        let mut interface_port = vec![None; node.interface_names().len()];
        let mut port_interface = Vec::with_capacity(port_names.len());
        for (port, name) in port_names.iter().enumerate() {
            // check_bindings made sure every name is an interface.
            let id = node.interface_id(name).unwrap_or(InterfaceId(u32::MAX));
            if let Some(slot) = interface_port.get_mut(id.0 as usize) {
                *slot = Some(port);
            }
            port_interface.push(id);
        }
        let boxes = port_names
            .iter()
            .map(|_| Outbox {
                frames: vec![PacketBuf::new(); 2 * batch.max(1)],
                len: 0,
            })
            .collect();
        Ok(Self {
            driver: Driver::new(worker, batch, Order::InputsFirst),
            port_interface,
            outboxes: Outboxes {
                interface_port,
                boxes,
                counters: HandlerCounters::default(),
                control: Vec::new(),
            },
            control: None,
            started: Instant::now(),
            next_poll: Duration::ZERO,
        })
    }

    /// Gives the node a control plane (tunnels keyed by IKE): the datagrams
    /// the node delivers as control go to it, its packets leave through the
    /// node, and its timers run on the handler's clock.
    pub(crate) fn with_control(mut self, control: ControlPlane) -> Self {
        self.control = Some(control);
        self
    }

    /// The control plane, if the node has one.
    pub fn control(&self) -> Option<&ControlPlane> {
        self.control.as_ref()
    }

    /// Hands delivered control packets to the control plane, runs its
    /// timers when due, and sends what it made through the node.
    fn serve_control(&mut self, now: Duration) {
        let Some(control) = self.control.as_mut() else {
            self.outboxes.control.clear();
            return;
        };
        let node = self.driver.node().clone();
        for packet in self.outboxes.control.drain(..) {
            control.receive(now, &packet, &node);
        }
        if now >= self.next_poll {
            self.next_poll = now + CONTROL_POLL;
            control.poll(now, &node);
        }
        let packets = control.take_packets();
        if !packets.is_empty() {
            let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            let Ok(()) = self.driver.originate(&refs, &mut self.outboxes);
        }
    }

    /// The node this handler forwards for.
    pub fn node(&self) -> &Node {
        self.driver.node()
    }

    /// What the handler sent so far.
    pub fn counters(&self) -> HandlerCounters {
        self.outboxes.counters
    }
}

impl FrameHandler for NodeHandler {
    fn handle(&mut self, ingress: usize, frames: &mut [PacketBuf], ports: &mut [Box<dyn Port>]) {
        let Some(&interface) = self.port_interface.get(ingress) else {
            self.outboxes.counters.unbound_egress += frames.len() as u64;
            return;
        };
        // Routing into outboxes cannot fail (the error type is Infallible).
        let Ok(()) = self.driver.drive(interface, frames, &mut self.outboxes);
        if self.control.is_some() {
            self.serve_control(self.started.elapsed());
        }
        self.outboxes.flush(ports);
    }

    fn tick(&mut self, ports: &mut [Box<dyn Port>]) {
        if self.control.is_some() {
            self.serve_control(self.started.elapsed());
            self.outboxes.flush(ports);
        }
    }
}
