//! [`NodeDevice`]: an erdp forwarding node ([`crate::dataplane::Node`]) as an
//! emulator [`Device`]. Frames that land at one instant are handed to the
//! [`Driver`] in runs per ingress port, with the virtual time; each frame is
//! sent on (the very buffer, zero copy) or recycled by its [`Fate`], and the
//! packets the node generated (ARP replies, ICMP errors) leave through the
//! pool.
//!
//! A node with tunnels keyed by IKE has a [`ControlPlane`]: what the node
//! delivers to itself as control traffic goes to it, its timers run on the
//! virtual clock (every [`CONTROL_POLL`]), and the IKE datagrams it makes
//! leave through the node like any packet it generates, so tunnels
//! negotiate, rekey and detect dead peers in virtual time.
//!
//! Every fate is also folded into the shared per-flow model of
//! [`crate::report`], one [`FlowTable`] per ingress port: the ways each flow
//! left (egress, tunnel and SA, or the drop reason), what arrived in ESP,
//! the policy verdicts and violations, the outer DSCP of its ESP packets.
//! Reports read these tables (`NodeDevice::flows_in`).

use std::sync::Arc;

use super::device::{Arrival, Device, PortId, TxQueue};
use super::time::SimTime;
use crate::control::{CONTROL_POLL, ControlPlane};
use crate::dataplane::{Delivery, Fate, Node, Outcome};
use crate::driver::{Driver, FateRoute, Order};
use crate::fib::InterfaceId;
use crate::frag::ReassemblyStats;
use crate::packet::PacketBuf;
use crate::report::{FlowEntry, FlowTable};
use crate::wire::frame_dscp;

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
    /// Per emulator port, the fates of what came in on it (and of what
    /// the node generated in answer), folded by flow.
    flows: Vec<FlowTable>,
    /// Fates tallied so far (the tables' frame numbers).
    tallied: u64,
    /// The node's control plane, when a tunnel is keyed by IKE.
    control: Option<ControlPlane>,
    /// IP packets the node delivered to its control plane during a run.
    control_in: Vec<Vec<u8>>,
    /// When the control plane's timers next run.
    next_control: SimTime,
}

impl std::fmt::Debug for NodeDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeDevice")
            .field("name", &self.name)
            .field("ports", &self.ports)
            .field(
                "flows",
                &self.flows.iter().map(FlowTable::len).sum::<usize>(),
            )
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
            flows: (0..interfaces.len()).map(|_| FlowTable::new()).collect(),
            tallied: 0,
            control: Some(ControlPlane::new(node)).filter(|c| !c.is_empty()),
            control_in: Vec::new(),
            next_control: SimTime::ZERO,
        })
    }

    /// The node's control plane (IKE), when one of its tunnels is keyed
    /// by IKE.
    pub fn control(&self) -> Option<&ControlPlane> {
        self.control.as_ref()
    }

    /// What the node's IPv4 reassembly did (fragments of ESP packets to
    /// its tunnel endpoints).
    pub fn reassembly_stats(&self) -> ReassemblyStats {
        self.driver
            .as_ref()
            .map(Driver::reassembly_stats)
            .unwrap_or_default()
    }

    /// The control plane, to seed it or to stop and restart endpoints.
    pub fn control_mut(&mut self) -> Option<&mut ControlPlane> {
        self.control.as_mut()
    }

    /// The node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The flows that came in on emulator port `port`, in the order first
    /// seen (none for a port the node does not have).
    pub(crate) fn flows_in(&self, port: u16) -> impl Iterator<Item = FlowEntry<'_>> {
        self.flows
            .get(usize::from(port))
            .into_iter()
            .flat_map(FlowTable::entries)
    }

    /// The emulator port of node interface `id`.
    pub(crate) fn port_of(&self, id: InterfaceId) -> Option<u16> {
        self.port_of.get(id.0 as usize).copied().flatten()
    }

    /// Folds `fate` into the table of port `ingress`: `len` bytes as the
    /// frame arrived, `frame` as sent (its outer DSCP, when it left
    /// encrypted).
    fn tally(&mut self, _now: SimTime, ingress: u16, fate: &Fate, len: usize, frame: &[u8]) {
        self.tallied += 1;
        let dscp = if fate.left_encrypted() {
            frame_dscp(frame)
        } else {
            None
        };
        if let Some(table) = self.flows.get_mut(usize::from(ingress)) {
            table.observe_marked(fate, self.tallied, len, frame.len(), dscp);
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
            port: Some(port),
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
        self.send_generated(tx);
        if !self.control_in.is_empty() {
            self.serve_control(now, tx, false);
        }
    }

    /// Sends what the node generated, after the frames it forwarded.
    fn send_generated(&mut self, tx: &mut TxQueue<'_>) {
        for (out, frame) in self.run_generated.drain(..) {
            tx.send(PortId(out), frame);
        }
    }

    /// Hands the delivered control packets to the control plane, runs its
    /// timers when `timers`, and sends what it made through the node.
    fn serve_control(&mut self, now: SimTime, tx: &mut TxQueue<'_>, timers: bool) {
        let (Some(control), Some(mut driver)) = (self.control.as_mut(), self.driver.take()) else {
            self.control_in.clear();
            return;
        };
        let clock = now.since_start();
        for packet in self.control_in.drain(..) {
            control.receive(clock, &packet, &self.node);
        }
        if timers {
            control.poll(clock, &self.node);
        }
        let packets = control.take_packets();
        if !packets.is_empty() {
            let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
            driver.set_time(clock);
            let mut route = NodeRoute {
                device: self,
                tx,
                now,
                port: None,
            };
            // Routing to emulator ports cannot fail (the error type is Infallible).
            let Ok(()) = driver.originate(&refs, &mut route);
        }
        self.driver = Some(driver);
        self.send_generated(tx);
    }
}

/// Where the driver's fates go in the emulator: tallied per path, input
/// frames marked for their port (sent by value after the run), generated
/// packets swapped into pooled frames and sent after the run's frames.
struct NodeRoute<'d, 'q, 't> {
    device: &'d mut NodeDevice,
    tx: &'q mut TxQueue<'t>,
    now: SimTime,
    /// The emulator port the run arrived on (`None`: packets the control
    /// plane originated, not tallied by flow).
    port: Option<u16>,
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
        if let Some(port) = self.port {
            device.tally(self.now, port, fate, len, frame.as_slice());
        }
        if fate.outcome == Outcome::Delivered(Delivery::Control) && device.control.is_some() {
            device.control_in.push(frame.as_slice().to_vec());
        }
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
        if let Some(port) = self.port {
            device.tally(self.now, port, fate, frame.len(), &[]);
        }
        if let Some(out) = out {
            let mut sent = self.tx.frame();
            std::mem::swap(frame, &mut sent);
            device.run_generated.push((out, sent));
        }
        Ok(())
    }
}

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

    fn poll(&mut self, now: SimTime, tx: &mut TxQueue<'_>) {
        if self.control.is_some() && now >= self.next_control {
            self.next_control = now + CONTROL_POLL;
            self.serve_control(now, tx, true);
        }
    }

    fn next_wakeup(&mut self) -> Option<SimTime> {
        self.control.as_ref().map(|_| self.next_control)
    }
}
