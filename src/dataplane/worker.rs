//! [`Worker`]: processes batches of frames that arrived on one interface,
//! in caller-owned buffers, on one thread. Per frame: the L2 destination
//! check, the ARP (RFC 826) and Neighbor Discovery (RFC 4861) responders for
//! the node's addresses, then the IP path (`forward.rs`). No I/O, no
//! allocation per packet. Each worker keeps its own IPv4 reassembly state
//! (flows, and so a datagram's fragments, stay on one worker).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etherparse::{EtherType, IpNumber, icmpv6};

use super::counters::{BatchTally, CounterSlot};
use super::fate::{Delivery, DropReason, Fate, Outcome, PolicyVerdict};
use super::forward::{IngressContext, Pipeline};
use super::fragment::Reassembly;
use super::node::{EthernetInterface, Interface, Node};
use super::outputs::{GeneratedFrames, Outputs};
use super::prefetch::RoutePrefetch;
use super::tunnel_sas::SendLeases;
use crate::fib::InterfaceId;
use crate::frag::{Reassembler, ReassemblyLimits, ReassemblyStats};
use crate::packet::PacketBuf;
use crate::wire::{
    ArpOutcome, ETHERNET_HEADER_LEN, EthernetHeader, FlowKey, IPV6_HEADER_LEN, L2Destination,
    NdpOutcome, WireError, answer_arp_request, answer_neighbor_solicitation, classify_destination,
};

/// Offset of the IPv6 next header field in an Ethernet frame.
const FRAME_IPV6_NEXT_HEADER: usize = ETHERNET_HEADER_LEN + 6;
/// Offset of the ICMPv6 type of an extension-less IPv6 packet in a frame.
const FRAME_ICMPV6_TYPE: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;

/// One thread's handle on a [`Node`]: processes batches and counts into
/// its own counter slot (see [`Node::counters`]). Get one with
/// [`Node::worker`].
#[derive(Debug)]
pub struct Worker {
    node: Arc<Node>,
    slot: Arc<CounterSlot>,
    tally: BatchTally,
    reassembly: Reassembly,
    /// Real time since this instant, until [`Worker::set_time`] gives a
    /// virtual clock.
    started: Option<Instant>,
    prefetch: RoutePrefetch,
    batch_lookup: bool,
    leases: SendLeases,
}

impl Worker {
    pub(crate) fn new(node: Arc<Node>, slot: Arc<CounterSlot>) -> Self {
        let tally = BatchTally::new(node.interfaces.len());
        let leases = SendLeases::new(node.interfaces.len());
        let reassembly = Reassembly {
            state: RefCell::new(Reassembler::new(ReassemblyLimits::default())),
            spare: RefCell::new(PacketBuf::new()),
            now: Duration::ZERO,
        };
        Self {
            node,
            slot,
            tally,
            reassembly,
            started: Some(Instant::now()),
            prefetch: RoutePrefetch::default(),
            batch_lookup: true,
            leases,
        }
    }

    /// Puts this worker on a virtual clock at `now` (the emulator's time):
    /// reassembly timeouts follow it instead of real time.
    pub fn set_time(&mut self, now: Duration) {
        self.started = None;
        self.reassembly.now = now;
    }

    /// Replaces the reassembly bounds (datagrams in progress are dropped).
    pub fn set_reassembly_limits(&mut self, limits: ReassemblyLimits) {
        self.reassembly.state = RefCell::new(Reassembler::new(limits));
    }

    /// What this worker's reassembly did so far.
    pub fn reassembly_stats(&self) -> ReassemblyStats {
        self.reassembly.state.borrow().stats()
    }

    /// Whether a batch's IPv4 routes are looked up together before the
    /// per-frame pass (the default) or one by one during it. Same fates
    /// either way; the switch exists to measure the difference
    /// (`benches/forward.rs`).
    pub fn set_batch_lookup(&mut self, on: bool) {
        self.batch_lookup = on;
    }

    /// The node this worker forwards for.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Processes `frames`, Ethernet frames that arrived on `ingress`, in
    /// place: a forwarded frame's buffer holds the frame to send (L2
    /// rewritten, TTL decremented, maybe encrypted: grow it from its
    /// headroom). `out` gets one [`Fate`] per frame, in order, and the
    /// packets the node generated. Frames should be loaded with
    /// [`PacketBuf::DEFAULT_HEADROOM`] so encapsulation has room.
    pub fn process(&mut self, ingress: InterfaceId, frames: &mut [PacketBuf], out: &mut Outputs) {
        out.clear();
        let fib = self.node.fib().load();
        if let Some(started) = self.started {
            self.reassembly.now = started.elapsed();
        }
        let pipeline = Pipeline::new(&self.node, &fib, &self.slot, &self.reassembly, &self.leases);
        let port = match self.node.interface(ingress) {
            Some(Interface::Ethernet(port)) => Ok(port),
            Some(Interface::Tunnel(_)) => Err(DropReason::IngressNotEthernet),
            None => Err(DropReason::UnknownInterface),
        };
        if self.batch_lookup && port.is_ok() {
            self.prefetch.fill(&fib, frames);
        }
        // Received frames and bytes, counted once per batch.
        let (mut received, mut received_bytes) = (0, 0);
        let frames_total = frames.len();
        for (index, frame) in frames.iter_mut().enumerate() {
            let len = frame.len();
            let (fate, generated) = out.next(Fate::dropped(DropReason::UnknownInterface));
            match port {
                Ok(port) => {
                    received += 1;
                    received_bytes += len;
                    if self.batch_lookup {
                        pipeline.set_route_hint(self.prefetch.hint(index));
                    }
                    pipeline.set_remaining(frames_total - index);
                    pipeline.frame(port, frame, fate, generated, index);
                }
                Err(reason) => fate.outcome = Outcome::Dropped(reason),
            }
            if !self.tally.count_plain_forward(fate, len, frame.len()) {
                self.slot.account(fate, false, len, frame.len());
            }
        }
        self.leases.settle();
        self.tally.flush(&self.slot);
        if received > 0 {
            self.slot
                .received(ingress.0 as usize, received, received_bytes);
        }
    }
}

impl Worker {
    /// Sends IP packets the node's control plane made (IKE datagrams):
    /// each is routed like a packet the node generates and comes back in
    /// `out` as generated packet `i` (cause `i`), with its fate; `out` has
    /// no input fates.
    pub fn originate(&mut self, packets: &[&[u8]], out: &mut Outputs) {
        out.clear();
        let fib = self.node.fib().load();
        let pipeline = Pipeline::new(&self.node, &fib, &self.slot, &self.reassembly, &self.leases);
        for (index, packet) in packets.iter().enumerate() {
            pipeline.set_remaining(packets.len() - index);
            pipeline.originate(packet, out.generated_mut(), index);
        }
        self.leases.settle();
    }
}

impl Drop for Worker {
    /// The node keeps this worker's counts (in its retired slot).
    fn drop(&mut self) {
        self.node.retire(&self.slot);
    }
}

/// True for an extension-less IPv6 frame carrying a Neighbor Solicitation.
fn is_neighbor_solicitation(frame: &[u8]) -> bool {
    frame.get(FRAME_IPV6_NEXT_HEADER) == Some(&IpNumber::IPV6_ICMP.0)
        && frame.get(FRAME_ICMPV6_TYPE) == Some(&icmpv6::TYPE_NEIGHBOR_SOLICITATION)
}

impl Pipeline<'_> {
    /// An Ethernet frame that arrived on `port`; fills `fate`.
    pub(crate) fn frame(
        &self,
        port: &EthernetInterface,
        frame: &mut PacketBuf,
        fate: &mut Fate,
        generated: &mut GeneratedFrames,
        index: usize,
    ) {
        let header = match EthernetHeader::parse(frame.as_slice()) {
            Ok(header) => header,
            Err(error) => return fate.outcome = Outcome::Dropped(error.into()),
        };
        let link_group = match classify_destination(header.destination, port.mac) {
            L2Destination::Ours => false,
            L2Destination::Broadcast | L2Destination::Multicast => true,
            L2Destination::OtherHost => {
                return fate.outcome = Outcome::Dropped(DropReason::NotOurMac);
            }
        };
        let version = match header.ether_type {
            EtherType::ARP => return fate.outcome = self.arp(port, frame, generated, index),
            EtherType::IPV4 => 4,
            EtherType::IPV6 => {
                if is_neighbor_solicitation(frame.as_slice())
                    && let Some(answered) = self.solicitation(port, frame, generated, index)
                {
                    return *fate = answered;
                }
                6
            }
            other => {
                let unsupported = WireError::UnsupportedEtherType(other);
                return fate.outcome = Outcome::Dropped(unsupported.into());
            }
        };
        if frame.pull_front(ETHERNET_HEADER_LEN).is_err() {
            let truncated = DropReason::Wire(crate::wire::WireDrop::Truncated);
            return fate.outcome = Outcome::Dropped(truncated);
        }
        let arrival = IngressContext {
            interface: port.id,
            link_group,
            decrypted: None,
            version: Some(version),
        };
        self.ip(frame, arrival, fate, generated, index)
    }

    /// ARP: a request for one of the port's addresses is answered with a
    /// generated reply; everything else is consumed or dropped.
    fn arp(
        &self,
        port: &EthernetInterface,
        frame: &PacketBuf,
        generated: &mut GeneratedFrames,
        index: usize,
    ) -> Outcome {
        let reply = generated.reserve();
        if reply
            .load(frame.as_slice(), PacketBuf::DEFAULT_HEADROOM)
            .is_err()
        {
            return Outcome::Dropped(DropReason::Wire(crate::wire::WireDrop::BufferTooSmall));
        }
        match answer_arp_request(reply.as_mut_slice(), port.mac, |ip| port.has_v4(ip)) {
            Ok(ArpOutcome::Replied { .. }) => {
                self.send_reply(generated, index, Fate::new(Outcome::Forwarded(port.id)));
                Outcome::Delivered(Delivery::ArpRequest)
            }
            Ok(ArpOutcome::NotForUs) => Outcome::Dropped(DropReason::ArpNotForUs),
            Ok(ArpOutcome::NotARequest) => Outcome::Delivered(Delivery::ArpOther),
            Err(error) => Outcome::Dropped(error.into()),
        }
    }

    /// Neighbor Solicitation: answered with a generated advertisement when
    /// the target is one of the port's addresses. `None` when the frame is
    /// not a solicitation after all (it then takes the IP path).
    fn solicitation(
        &self,
        port: &EthernetInterface,
        frame: &PacketBuf,
        generated: &mut GeneratedFrames,
        index: usize,
    ) -> Option<Fate> {
        let flow = frame
            .as_slice()
            .get(ETHERNET_HEADER_LEN..)
            .and_then(|ip| FlowKey::parse(ip).ok());
        let advertisement = generated.reserve();
        if advertisement
            .load(frame.as_slice(), PacketBuf::DEFAULT_HEADROOM)
            .is_err()
        {
            let too_small = DropReason::Wire(crate::wire::WireDrop::BufferTooSmall);
            return Some(Fate::dropped(too_small));
        }
        let answered =
            answer_neighbor_solicitation(advertisement, port.mac, |address| port.has_v6(address));
        let outcome = match answered {
            Ok(NdpOutcome::Advertised { .. }) => {
                let advertised = advertisement
                    .as_slice()
                    .get(ETHERNET_HEADER_LEN..)
                    .and_then(|ip| FlowKey::parse(ip).ok());
                // The advertisement goes back to the solicitation's source
                // without a route lookup, so it gets the egress policy check
                // here: a must-encrypt destination on a plain port (a spoofed
                // or misconfigured neighbour) is a violation, dropped when
                // the policy fails closed.
                let (policy, fail_closed) = advertised
                    .as_ref()
                    .map_or((PolicyVerdict::NotCovered, false), |f| {
                        self.node.policies.plain(f)
                    });
                let sent = if fail_closed {
                    Outcome::Dropped(DropReason::PolicyViolation)
                } else {
                    Outcome::Forwarded(port.id)
                };
                let reply = Fate {
                    flow: advertised,
                    policy,
                    ..Fate::new(sent)
                };
                self.send_reply(generated, index, reply);
                Outcome::Delivered(Delivery::NeighborSolicitation)
            }
            Ok(NdpOutcome::NotForUs) => Outcome::Dropped(DropReason::NdNotForUs),
            Ok(NdpOutcome::NotASolicitation) => return None,
            Err(error) => Outcome::Dropped(error.into()),
        };
        Some(Fate {
            flow,
            ..Fate::new(outcome)
        })
    }
}
