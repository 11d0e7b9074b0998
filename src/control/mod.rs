//! The node's control plane: what a node delivers to itself as
//! [`Delivery::Control`](crate::dataplane::Delivery) goes here instead of
//! being dropped as "no local stack". Today that is IKE (RFC 7296): UDP 500,
//! and UDP 4500 behind the non-ESP marker (RFC 3948), for the endpoint of a
//! tunnel whose SAs come from an `ike` table. Each such tunnel has an
//! [`crate::ike::Ike`] ([`IkeTunnel`]); its CHILD_SAs are installed into the
//! node while workers forward ([`crate::dataplane::Node::install_sas`],
//! make-before-break), and Dead Peer Detection takes the tunnel down.
//!
//! Sans-I/O and clock-driven, like the IKE core: the caller (the `erdp
//! attach` handler on the wall clock, the emulator's `NodeDevice` in
//! virtual time) gives it the IP packets the node delivered ([`ControlPlane::receive`]) and the time
//! ([`ControlPlane::poll`]), and takes the IP packets to send
//! ([`ControlPlane::take_packets`]), which it routes through the node
//! ([`crate::dataplane::Worker::originate`]): lookup, policies, L2 header,
//! or ESP when a route says so. Headers are built by
//! [`crate::wire::build_udp_datagram`]; nothing here writes one.
//!
//! Joining it later: BFD (UDP 3784, RFC 5881) is one more UDP listener,
//! found the way IKE tunnels are, by (local, remote) address and port, and
//! driven by the same clock (`crate::bfd` is sans-I/O already). BGP (TCP 179,
//! issue 17) needs a TCP stack: a smoltcp `Interface` per node fed the same
//! delivered IP packets (a smoltcp `Device` over the receive queue and the
//! outbox here), polled with the same `now`; the node would deliver TCP to
//! its addresses as `Control` once a session is configured. A datagram for
//! the control plane that no listener takes is counted
//! ([`ControlCounters::no_listener`]), never dropped silently.

mod ike_tunnel;

use std::time::Duration;

use serde::Serialize;

use crate::dataplane::Node;
use crate::fib::InterfaceId;
use crate::wire::{UdpDatagram, build_udp_datagram, parse_udp_datagram};

pub use ike_tunnel::{IkeTunnel, SaRecord, TunnelReport, TunnelState};

/// How often a control plane's timers run (retransmissions, DPD and
/// rekeys are in seconds; this is fine enough), on the handler's clock in
/// `erdp attach` and on the virtual clock in the emulator.
pub const CONTROL_POLL: Duration = Duration::from_millis(50);

/// What the control plane received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ControlCounters {
    /// IKE datagrams handed to a tunnel's IKE.
    pub received: u64,
    /// Datagrams for the control plane from a peer no tunnel names.
    pub no_listener: u64,
    /// IKE datagrams for a stopped endpoint ([`ControlPlane::stop`]),
    /// ignored as a dead gateway would.
    pub to_stopped: u64,
    /// Delivered packets that were not UDP datagrams.
    pub malformed: u64,
    /// IP packets made to send.
    pub sent: u64,
    /// Datagrams the IKE core asked to send that could not be built.
    pub unbuildable: u64,
}

/// The control plane of one node.
#[derive(Debug)]
pub struct ControlPlane {
    tunnels: Vec<IkeTunnel>,
    counters: ControlCounters,
    /// IP packets to send, in order.
    outbox: Vec<Vec<u8>>,
}

impl ControlPlane {
    /// One IKE endpoint per tunnel of `node` keyed by an `ike` table.
    pub fn new(node: &Node) -> ControlPlane {
        ControlPlane {
            tunnels: IkeTunnel::all_of(node),
            counters: ControlCounters::default(),
            outbox: Vec::new(),
        }
    }

    /// True when the node has nothing for a control plane to do.
    pub fn is_empty(&self) -> bool {
        self.tunnels.is_empty()
    }

    /// The IKE tunnels.
    pub fn tunnels(&self) -> &[IkeTunnel] {
        &self.tunnels
    }

    /// The tunnel on interface `id`.
    pub fn tunnel(&self, id: InterfaceId) -> Option<&IkeTunnel> {
        self.tunnels.iter().find(|t| t.interface() == id)
    }

    /// What was received and sent.
    pub fn counters(&self) -> ControlCounters {
        self.counters
    }

    /// An IP packet the node delivered as control traffic, at `now`.
    pub fn receive(&mut self, now: Duration, packet: &[u8], node: &Node) {
        let Ok(datagram) = parse_udp_datagram(packet) else {
            self.counters.malformed += 1;
            return;
        };
        let local = datagram.destination;
        let remote = datagram.source;
        let Some(tunnel) = self
            .tunnels
            .iter_mut()
            .find(|t| t.local() == local.ip() && t.remote() == remote.ip())
        else {
            self.counters.no_listener += 1;
            return;
        };
        if tunnel.is_stopped() {
            self.counters.to_stopped += 1;
            return;
        }
        self.counters.received += 1;
        let incoming = crate::ike::Datagram {
            local,
            remote,
            bytes: datagram.payload.to_vec(),
        };
        let output = tunnel.handle(now, &incoming, node);
        self.queue(output);
    }

    /// Timers at `now`: initiators start (and restart after a failure),
    /// retransmissions, rekeys by lifetime, liveness checks, dead peers.
    pub fn poll(&mut self, now: Duration, node: &Node) {
        let mut outputs = Vec::new();
        for tunnel in &mut self.tunnels {
            outputs.push(tunnel.poll(now, node));
        }
        for output in outputs {
            self.queue(output);
        }
    }

    /// Draws every tunnel's SPIs from streams seeded by `seed` (the
    /// emulator's, so a run repeats from seed to seed; see
    /// [`crate::ike::Ike::draw_spis_from`]).
    pub fn draw_spis_from(&mut self, seed: u64) {
        for (k, tunnel) in self.tunnels.iter_mut().enumerate() {
            tunnel.draw_spis_from(seed.wrapping_add((k as u64) << 32));
        }
    }

    /// Stops the IKE endpoint of the tunnel on `id`, as a failed gateway
    /// stops: state and SAs gone, nothing answered. False when no tunnel
    /// is on `id`.
    pub fn stop(&mut self, id: InterfaceId, now: Duration, node: &Node) -> bool {
        let Some(tunnel) = self.tunnels.iter_mut().find(|t| t.interface() == id) else {
            return false;
        };
        tunnel.stop(now, node);
        true
    }

    /// Starts the stopped endpoint of the tunnel on `id` again, with no
    /// state. False when no tunnel is on `id`.
    pub fn restart(&mut self, id: InterfaceId, now: Duration) -> bool {
        let Some(tunnel) = self.tunnels.iter_mut().find(|t| t.interface() == id) else {
            return false;
        };
        tunnel.restart(now);
        true
    }

    /// The IP packets to send since the last call.
    pub fn take_packets(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.outbox)
    }

    /// The esp_sa lines (Wireshark's ESP preferences) of every SA any
    /// tunnel had, so captures stay decryptable. They hold keys: write
    /// them only where the user asked.
    pub fn wireshark_lines(&self) -> Vec<String> {
        self.tunnels
            .iter()
            .flat_map(IkeTunnel::wireshark_lines)
            .collect()
    }

    fn queue(&mut self, output: crate::ike::Output) {
        for datagram in output.datagrams {
            let mut packet = Vec::new();
            let built = build_udp_datagram(
                &UdpDatagram {
                    source: datagram.local,
                    destination: datagram.remote,
                    payload: &datagram.bytes,
                },
                &mut packet,
            );
            match built {
                Ok(()) => {
                    self.counters.sent += 1;
                    self.outbox.push(packet);
                }
                Err(_) => self.counters.unbuildable += 1,
            }
        }
    }
}
