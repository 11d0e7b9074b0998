//! A small L3 router for tests, built the way the erdp node will join the
//! emulator: a core with no I/O that takes a batch of frames in caller-owned
//! buffers and returns one fate per frame, and a thin [`Device`] adapter
//! that reuses its vectors (no allocation per packet).
//!
//! The core answers ARP and neighbour solicitations for its own addresses
//! (rewriting the request into the reply in place), forwards IPv4 and IPv6
//! between directly connected subnets with a static neighbour table,
//! decrements TTL / hop limit, and drops everything else with a reason.

use std::collections::HashMap;
use std::net::IpAddr;

use erdp::emu::{Arrival, Device, PortId, SimTime, TxQueue};
use erdp::packet::PacketBuf;
use erdp::wire::checksum::update_u16 as checksum_update;
use ipnet::IpNet;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv4Packet, Ipv6Packet, Ipv6Repr,
    NdiscNeighborFlags, NdiscRepr, RawHardwareAddress,
};

pub struct RouterPort {
    pub mac: [u8; 6],
    pub v4: IpNet,
    pub v6: IpNet,
}

/// Why the core did not forward a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    NotForUs,
    Malformed,
    TtlExpired,
    NoRoute,
    NoNeighbor,
}

/// What became of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Sent on this port (forwarded, or a reply to the sender).
    Forward(u16),
    /// Addressed to the router itself and consumed.
    Delivered,
    Dropped(Drop),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouterCounters {
    pub received: u64,
    pub forwarded: u64,
    pub arp_replies: u64,
    pub nd_replies: u64,
    pub delivered: u64,
    pub ttl_expired: u64,
    pub no_route: u64,
    pub no_neighbor: u64,
    pub other_drops: u64,
}

/// The core: no I/O, batches in, fates out.
pub struct RouterCore {
    pub ports: Vec<RouterPort>,
    pub neighbors: HashMap<IpAddr, [u8; 6]>,
    pub counters: RouterCounters,
}

/// Offset of the IPv4 header checksum and of the IP header in a frame.
const ETH: usize = 14;
const IPV4_TTL: usize = ETH + 8;
const IPV4_CHECKSUM: usize = ETH + 10;
const IPV6_HOP_LIMIT: usize = ETH + 7;

impl RouterCore {
    pub fn new(ports: Vec<RouterPort>) -> Self {
        Self {
            ports,
            neighbors: HashMap::new(),
            counters: RouterCounters::default(),
        }
    }

    /// One fate per frame, in order; replies are written into the frame.
    pub fn process(&mut self, ingress: &[u16], frames: &mut [PacketBuf], fates: &mut Vec<Fate>) {
        for (&port, frame) in ingress.iter().zip(frames.iter_mut()) {
            self.counters.received += 1;
            let fate = self.handle(usize::from(port), frame);
            match fate {
                Fate::Forward(_) => {}
                Fate::Delivered => self.counters.delivered += 1,
                Fate::Dropped(Drop::TtlExpired) => self.counters.ttl_expired += 1,
                Fate::Dropped(Drop::NoRoute) => self.counters.no_route += 1,
                Fate::Dropped(Drop::NoNeighbor) => self.counters.no_neighbor += 1,
                Fate::Dropped(_) => self.counters.other_drops += 1,
            }
            fates.push(fate);
        }
    }

    fn owns(&self, addr: IpAddr) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.v4.addr() == addr || p.v6.addr() == addr)
    }

    fn handle(&mut self, port: usize, frame: &mut PacketBuf) -> Fate {
        let Ok(eth) = EthernetFrame::new_checked(frame.as_slice()) else {
            return Fate::Dropped(Drop::Malformed);
        };
        let our_mac = EthernetAddress(self.ports[port].mac);
        let dst_mac = eth.dst_addr();
        if dst_mac != our_mac && !dst_mac.is_multicast() && !dst_mac.is_broadcast() {
            return Fate::Dropped(Drop::NotForUs);
        }
        let (src_mac, ethertype) = (eth.src_addr(), eth.ethertype());
        match ethertype {
            EthernetProtocol::Arp => self.answer_arp(port, our_mac, frame),
            EthernetProtocol::Ipv4 => match Ipv4Packet::new_checked(eth.payload()) {
                Ok(ip) => {
                    let dst = IpAddr::V4(ip.dst_addr());
                    self.forward(frame.as_mut_slice(), dst, IPV4_TTL)
                }
                Err(_) => Fate::Dropped(Drop::Malformed),
            },
            EthernetProtocol::Ipv6 => {
                let Ok(ip) = Ipv6Packet::new_checked(eth.payload()) else {
                    return Fate::Dropped(Drop::Malformed);
                };
                let (src, dst) = (ip.src_addr(), ip.dst_addr());
                if ip.next_header() == IpProtocol::Icmpv6 {
                    let solicited = Icmpv6Packet::new_checked(ip.payload())
                        .ok()
                        .and_then(|icmp| {
                            Icmpv6Repr::parse(&src, &dst, &icmp, &ChecksumCapabilities::default())
                                .ok()
                        })
                        .and_then(|repr| match repr {
                            Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
                                target_addr, ..
                            }) => Some(target_addr),
                            _ => None,
                        });
                    if let Some(target) = solicited {
                        return self.answer_ns(port, our_mac, src_mac, src, target, frame);
                    }
                }
                if dst.is_multicast() {
                    return Fate::Delivered;
                }
                self.forward(frame.as_mut_slice(), IpAddr::V6(dst), IPV6_HOP_LIMIT)
            }
            _ => Fate::Dropped(Drop::Malformed),
        }
    }

    fn answer_arp(&mut self, port: usize, our_mac: EthernetAddress, frame: &mut PacketBuf) -> Fate {
        let bytes = frame.as_mut_slice();
        let request = ArpPacket::new_checked(&bytes[ETH..])
            .ok()
            .and_then(|arp| ArpRepr::parse(&arp).ok());
        let Some(ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr,
            ..
        }) = request
        else {
            return Fate::Dropped(Drop::Malformed);
        };
        if self.owns(target_protocol_addr.into()) != Some(port) {
            return Fate::Dropped(Drop::NotForUs);
        }
        let reply = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: our_mac,
            source_protocol_addr: target_protocol_addr,
            target_hardware_addr: source_hardware_addr,
            target_protocol_addr: source_protocol_addr,
        };
        let mut out = EthernetFrame::new_unchecked(bytes);
        EthernetRepr {
            src_addr: our_mac,
            dst_addr: source_hardware_addr,
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut out);
        reply.emit(&mut ArpPacket::new_unchecked(out.payload_mut()));
        self.counters.arp_replies += 1;
        Fate::Forward(port as u16)
    }

    /// Rewrites a neighbour solicitation for one of our addresses into the
    /// advertisement (same length: header and one link-layer option).
    fn answer_ns(
        &mut self,
        port: usize,
        our_mac: EthernetAddress,
        asker_mac: EthernetAddress,
        asker: smoltcp::wire::Ipv6Address,
        target: smoltcp::wire::Ipv6Address,
        frame: &mut PacketBuf,
    ) -> Fate {
        if self.owns(target.into()) != Some(port) {
            return Fate::Dropped(Drop::NotForUs);
        }
        let advert = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::ROUTER,
            target_addr: target,
            lladdr: Some(RawHardwareAddress::from(our_mac)),
        });
        let ip = Ipv6Repr {
            src_addr: target,
            dst_addr: asker,
            next_header: IpProtocol::Icmpv6,
            payload_len: advert.buffer_len(),
            hop_limit: 255,
        };
        frame.reset(PacketBuf::DEFAULT_HEADROOM);
        let Ok(bytes) = frame.push_back(ETH + 40 + advert.buffer_len()) else {
            return Fate::Dropped(Drop::Malformed);
        };
        let mut eth = EthernetFrame::new_unchecked(bytes);
        EthernetRepr {
            src_addr: our_mac,
            dst_addr: asker_mac,
            ethertype: EthernetProtocol::Ipv6,
        }
        .emit(&mut eth);
        let mut ip_out = Ipv6Packet::new_unchecked(eth.payload_mut());
        ip.emit(&mut ip_out);
        advert.emit(
            &target,
            &asker,
            &mut Icmpv6Packet::new_unchecked(ip_out.payload_mut()),
            &ChecksumCapabilities::default(),
        );
        self.counters.nd_replies += 1;
        Fate::Forward(port as u16)
    }

    /// Forwards an IP packet toward `dst`; `ttl_at` is the TTL / hop limit
    /// offset in the frame.
    fn forward(&mut self, bytes: &mut [u8], dst: IpAddr, ttl_at: usize) -> Fate {
        if dst.is_multicast() || self.owns(dst).is_some() {
            return Fate::Delivered;
        }
        let Some(out) = self
            .ports
            .iter()
            .position(|p| p.v4.contains(&dst) || p.v6.contains(&dst))
        else {
            return Fate::Dropped(Drop::NoRoute);
        };
        let Some(&mac) = self.neighbors.get(&dst) else {
            return Fate::Dropped(Drop::NoNeighbor);
        };
        let ttl = bytes[ttl_at];
        if ttl <= 1 {
            return Fate::Dropped(Drop::TtlExpired);
        }
        bytes[ttl_at] = ttl - 1;
        if dst.is_ipv4() {
            // TTL shares a 16-bit word with the protocol (RFC 1624 update).
            let old = u16::from_be_bytes([ttl, bytes[ttl_at + 1]]);
            let new = u16::from_be_bytes([ttl - 1, bytes[ttl_at + 1]]);
            let sum = u16::from_be_bytes([bytes[IPV4_CHECKSUM], bytes[IPV4_CHECKSUM + 1]]);
            bytes[IPV4_CHECKSUM..IPV4_CHECKSUM + 2]
                .copy_from_slice(&checksum_update(sum, old, new).to_be_bytes());
        }
        bytes[0..6].copy_from_slice(&mac);
        bytes[6..12].copy_from_slice(&self.ports[out].mac);
        self.counters.forwarded += 1;
        Fate::Forward(out as u16)
    }
}

/// The adapter: a [`RouterCore`] as an emulator device.
pub struct Router {
    pub core: RouterCore,
    ingress: Vec<u16>,
    frames: Vec<PacketBuf>,
    fates: Vec<Fate>,
}

impl Router {
    pub fn new(ports: Vec<RouterPort>) -> Self {
        Self {
            core: RouterCore::new(ports),
            ingress: Vec::new(),
            frames: Vec::new(),
            fates: Vec::new(),
        }
    }
}

impl Device for Router {
    fn name(&self) -> &str {
        "router"
    }

    fn port_count(&self) -> u16 {
        self.core.ports.len() as u16
    }

    fn receive(&mut self, _now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for Arrival { port, frame } in batch.drain(..) {
            self.ingress.push(port.0);
            self.frames.push(frame);
        }
        self.core
            .process(&self.ingress, &mut self.frames, &mut self.fates);
        for (frame, fate) in self.frames.drain(..).zip(self.fates.drain(..)) {
            match fate {
                Fate::Forward(port) => tx.send(PortId(port), frame),
                Fate::Delivered | Fate::Dropped(_) => tx.recycle(frame),
            }
        }
        self.ingress.clear();
    }

    fn poll(&mut self, _now: SimTime, _tx: &mut TxQueue<'_>) {}

    fn next_wakeup(&mut self) -> Option<SimTime> {
        None
    }
}
