//! The `erdp attach` loop without the node: a set of ports, polled in
//! turn for a batch each; a [`FrameHandler`] (the node's adapter) decides
//! what each batch becomes and sends it through the ports. Runs until a
//! [`Shutdown`] is requested, sleeping in poll(2) on every port's
//! descriptor while all are idle.

use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};
use serde::Serialize;

use crate::packet::PacketBuf;
use crate::port::{Port, PortCounters, PortError, Shutdown, poll_many};

/// Longest idle wait while a port has no descriptor to poll (a channel).
const FD_LESS_POLL: Duration = Duration::from_millis(1);

/// What to do with a batch of frames received on one port: the node's
/// adapter. Forward a frame by sending it on `ports[egress]`; frames not
/// sent are the handler's to account for (delivered locally or dropped).
pub trait FrameHandler {
    fn handle(&mut self, ingress: usize, frames: &mut [PacketBuf], ports: &mut [Box<dyn Port>]);

    /// Called once per turn of the loop (at least every `idle_wait`): the
    /// handler's timers (the control plane's clock). Nothing by default.
    fn tick(&mut self, _ports: &mut [Box<dyn Port>]) {}
}

impl<F> FrameHandler for F
where
    F: FnMut(usize, &mut [PacketBuf], &mut [Box<dyn Port>]),
{
    fn handle(&mut self, ingress: usize, frames: &mut [PacketBuf], ports: &mut [Box<dyn Port>]) {
        self(ingress, frames, ports)
    }
}

/// What one [`PortSet::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Batches handed to the handler.
    pub batches: u64,
    /// Frames in those batches.
    pub frames: u64,
    /// Idle waits (every port was empty).
    pub idle_waits: u64,
    /// Receive calls that failed without stopping the loop.
    pub recv_errors: u64,
    /// Wall time of the run in microseconds.
    pub elapsed_us: u64,
}

/// Ports served by one thread, with the receive buffers they share.
pub struct PortSet {
    ports: Vec<Box<dyn Port>>,
    bufs: Vec<PacketBuf>,
    idle_wait: Duration,
}

impl PortSet {
    /// An empty set receiving up to `batch_size` frames per port per turn
    /// into buffers of [`PacketBuf::DEFAULT_CAPACITY`]. `idle_wait` bounds
    /// each idle sleep, hence how late a shutdown request is seen.
    pub fn new(batch_size: usize, idle_wait: Duration) -> Self {
        Self {
            ports: Vec::new(),
            bufs: vec![PacketBuf::new(); batch_size.max(1)],
            idle_wait,
        }
    }

    /// Adds a port; returns its index (what a handler sends to).
    pub fn add(&mut self, port: Box<dyn Port>) -> usize {
        self.ports.push(port);
        self.ports.len() - 1
    }

    /// The ports, by index.
    pub fn ports(&self) -> &[Box<dyn Port>] {
        &self.ports
    }

    /// The ports, writable (to send outside [`PortSet::run`]).
    pub fn ports_mut(&mut self) -> &mut [Box<dyn Port>] {
        &mut self.ports
    }

    /// The index of the port named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|port| port.name() == name)
    }

    /// Every port's name and counters, in index order.
    pub fn counters(&self) -> Vec<(String, PortCounters)> {
        self.ports
            .iter()
            .map(|port| (port.name().to_owned(), port.counters()))
            .collect()
    }

    /// Gives the ports away.
    pub fn into_ports(self) -> Vec<Box<dyn Port>> {
        self.ports
    }

    /// Closes every port ([`Port::close`]: capture files finished) and
    /// returns the errors, in port order.
    pub fn close(&mut self) -> Vec<PortError> {
        self.ports
            .iter_mut()
            .filter_map(|port| port.close().err())
            .collect()
    }

    /// Serves the ports until `shutdown` is requested: each turn takes one
    /// batch from every port that has frames and hands it to `handler`.
    /// Stops early with the error when a port is gone for good
    /// ([`PortError::is_fatal`]); other errors are counted and logged.
    pub fn run(
        &mut self,
        shutdown: &Shutdown,
        handler: &mut impl FrameHandler,
    ) -> Result<RunSummary, PortError> {
        let started = Instant::now();
        let mut summary = RunSummary::default();
        let result = self.serve(shutdown, handler, &mut summary);
        summary.elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        result.map(|()| summary)
    }

    fn serve(
        &mut self,
        shutdown: &Shutdown,
        handler: &mut impl FrameHandler,
        summary: &mut RunSummary,
    ) -> Result<(), PortError> {
        while !shutdown.is_requested() {
            let mut received_any = false;
            for ingress in 0..self.ports.len() {
                let Some(port) = self.ports.get_mut(ingress) else {
                    break;
                };
                let received = match port.recv_batch(&mut self.bufs, Duration::ZERO) {
                    Ok(received) => received,
                    Err(error) if error.is_fatal() => return Err(error),
                    Err(error) => {
                        summary.recv_errors += 1;
                        if summary.recv_errors == 1 {
                            tracing::warn!(%error, "receive failed; counted, going on");
                        }
                        0
                    }
                };
                if let Some(frames) = self.bufs.get_mut(..received)
                    && received > 0
                {
                    received_any = true;
                    summary.batches += 1;
                    summary.frames += received as u64;
                    handler.handle(ingress, frames, &mut self.ports);
                }
            }
            handler.tick(&mut self.ports);
            if !received_any {
                summary.idle_waits += 1;
                self.wait_for_any()?;
            }
        }
        Ok(())
    }

    /// Sleeps until a port's descriptor is readable, `idle_wait` passes or
    /// a signal arrives.
    fn wait_for_any(&self) -> Result<(), PortError> {
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(self.ports.len());
        let mut fd_less = false;
        for port in &self.ports {
            match port.readiness_fd() {
                Some(fd) => fds.push(PollFd::new(fd, PollFlags::POLLIN)),
                None => fd_less = true,
            }
        }
        let timeout = if fd_less {
            self.idle_wait.min(FD_LESS_POLL)
        } else {
            self.idle_wait
        };
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return Ok(());
        }
        match poll_many(&mut fds, timeout) {
            Ok(_) => Ok(()),
            Err(source) => Err(PortError::Recv {
                port: "(waiting on all ports)".to_owned(),
                source,
            }),
        }
    }
}
