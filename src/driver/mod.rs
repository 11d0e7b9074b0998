//! The driver: the one loop that drives a forwarding [`Node`] for `erdp
//! replay`, `erdp attach` and the emulator. It is sans-I/O: the caller
//! supplies the time and a batch of frames from one ingress, the driver runs
//! them through a [`Worker`] and hands every fate (the input frames, then
//! or between them the packets the node generated) to a [`FateRoute`] that
//! decides where each goes: a port's outbox, a capture-writing sink, an
//! emulator link.
//!
//! Callers whose frames come from a source they pull (a capture file) use
//! [`run_batched`] or [`run_pooled`] (the node's worker pool, results in
//! input order) over a [`FrameSource`]. `erdp attach` serves
//! [`crate::port::Port`]s with a [`PortSet`] and drives the node with a
//! [`NodeHandler`].

mod attach;
mod port_set;
mod pull;

use std::sync::Arc;
use std::time::Duration;

use crate::dataplane::{Fate, Node, Outputs, Worker};
use crate::fib::InterfaceId;
use crate::frag::ReassemblyStats;
use crate::packet::PacketBuf;

pub use attach::{BindingError, HandlerCounters, NodeHandler, check_bindings};
pub use port_set::{FrameHandler, PortSet, RunSummary};
pub use pull::{FrameSource, run_batched, run_pooled};

/// Where the results of a batch go: one call per input frame and one per
/// packet the node generated, in the driver's [`Order`]. A route keeps a
/// frame without a copy by swapping it for an empty buffer of its own.
pub trait FateRoute {
    /// Why routing stopped (a capture write failed); `Infallible` when
    /// routing cannot fail.
    type Error;

    /// Input frame `index` of the batch, as the node left it, and its fate.
    fn input(
        &mut self,
        index: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), Self::Error>;

    /// A packet the node generated (a reply, an ICMP error, a fragment
    /// after the first) because of input frame `cause`, and its fate.
    fn generated(
        &mut self,
        cause: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), Self::Error>;
}

/// The order in which a batch's results reach the [`FateRoute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Each input frame followed by the packets it caused (a replay's
    /// outputs read in input order).
    ByCause,
    /// Every input frame, then every generated packet (the order ports and
    /// emulator links have always been given frames in).
    InputsFirst,
}

/// A node [`Worker`] and the [`Outputs`] it fills, reused batch after
/// batch: a steady stream of batches allocates nothing.
pub struct Driver {
    worker: Worker,
    outputs: Outputs,
    order: Order,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("node", &self.worker.node().name())
            .field("order", &self.order)
            .finish()
    }
}

impl Driver {
    /// Drives with `worker`; `batch` sizes the outputs (they grow if a batch
    /// is larger).
    pub fn new(worker: Worker, batch: usize, order: Order) -> Self {
        Self {
            worker,
            outputs: Outputs::with_capacity(batch.max(1)),
            order,
        }
    }

    /// The node driven.
    pub fn node(&self) -> &Arc<Node> {
        self.worker.node()
    }

    /// The worker (its limits and statistics).
    pub fn worker_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }

    /// What the worker's IPv4 reassembly did so far.
    pub fn reassembly_stats(&self) -> ReassemblyStats {
        self.worker.reassembly_stats()
    }

    /// Sets the node's clock (reassembly timeouts): the emulator's virtual
    /// time, or a capture's timestamps.
    pub(crate) fn set_time(&mut self, now: Duration) {
        self.worker.set_time(now);
    }

    /// Runs `frames`, all from `ingress`, through the node and hands every
    /// result to `route`. Stops at the route's first error.
    pub fn drive<R: FateRoute>(
        &mut self,
        ingress: InterfaceId,
        frames: &mut [PacketBuf],
        route: &mut R,
    ) -> Result<(), R::Error> {
        self.worker.process(ingress, frames, &mut self.outputs);
        match self.order {
            Order::ByCause => self.route_by_cause(frames, route),
            Order::InputsFirst => self.route_inputs_first(frames, route),
        }
    }

    /// Sends the control plane's IP packets through the node and hands
    /// each (a generated packet, cause = its index) to `route`.
    pub fn originate<R: FateRoute>(
        &mut self,
        packets: &[&[u8]],
        route: &mut R,
    ) -> Result<(), R::Error> {
        self.worker.originate(packets, &mut self.outputs);
        self.route_generated(route)
    }

    fn route_by_cause<R: FateRoute>(
        &mut self,
        frames: &mut [PacketBuf],
        route: &mut R,
    ) -> Result<(), R::Error> {
        let mut next = 0usize;
        for (index, frame) in frames.iter_mut().enumerate() {
            let Some(&fate) = self.outputs.fates().get(index) else {
                break;
            };
            route.input(index, frame, &fate)?;
            // Generated packets come in the order of their causes.
            while let Some(generated) = self.outputs.generated_at(next)
                && generated.cause == index
            {
                let fate = *generated.fate;
                if let Some(frame) = self.outputs.generated_frame_mut(next) {
                    route.generated(index, frame, &fate)?;
                }
                next += 1;
            }
        }
        Ok(())
    }

    fn route_inputs_first<R: FateRoute>(
        &mut self,
        frames: &mut [PacketBuf],
        route: &mut R,
    ) -> Result<(), R::Error> {
        for (index, (frame, fate)) in frames.iter_mut().zip(self.outputs.fates()).enumerate() {
            route.input(index, frame, fate)?;
        }
        self.route_generated(route)
    }

    /// Hands every generated packet of the batch to `route`, in order.
    fn route_generated<R: FateRoute>(&mut self, route: &mut R) -> Result<(), R::Error> {
        for index in 0..self.outputs.generated_len() {
            let Some(generated) = self.outputs.generated_at(index) else {
                continue;
            };
            let (cause, fate) = (generated.cause, *generated.fate);
            if let Some(frame) = self.outputs.generated_frame_mut(index) {
                route.generated(cause, frame, &fate)?;
            }
        }
        Ok(())
    }
}
