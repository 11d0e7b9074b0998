//! A small L3 router device for tests (the real forwarder is the erdp
//! node): answers ARP and neighbour solicitations for its own addresses,
//! forwards IPv4 and IPv6 between directly connected subnets with a static
//! neighbour table, decrements TTL / hop limit, drops everything else
//! with a counter.

use std::collections::HashMap;
use std::net::IpAddr;

use erdp::emu::host::checksum_update;
use erdp::emu::{Arrival, Device, PortId, SimTime, TxQueue};
use erdp::packet::PacketBuf;
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

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouterCounters {
    pub received: u64,
    pub forwarded: u64,
    pub arp_replies: u64,
    pub nd_replies: u64,
    pub ttl_expired: u64,
    pub no_route: u64,
    pub no_neighbor: u64,
    pub consumed: u64,
}

pub struct Router {
    pub ports: Vec<RouterPort>,
    pub neighbors: HashMap<IpAddr, [u8; 6]>,
    pub counters: RouterCounters,
}

impl Router {
    pub fn new(ports: Vec<RouterPort>) -> Self {
        Self {
            ports,
            neighbors: HashMap::new(),
            counters: RouterCounters::default(),
        }
    }

    fn owns(&self, addr: IpAddr) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.v4.addr() == addr || p.v6.addr() == addr)
    }

    fn route(&self, dst: IpAddr) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.v4.contains(&dst) || p.v6.contains(&dst))
    }

    /// What to do with one frame: `Some(port)` to send it (rewritten in
    /// place), `None` to recycle it. May queue a reply on `tx`.
    fn handle(
        &mut self,
        port: usize,
        frame: &mut PacketBuf,
        tx: &mut TxQueue<'_>,
    ) -> Option<usize> {
        let bytes = frame.as_mut_slice();
        let eth = EthernetFrame::new_checked(&*bytes).ok()?;
        let our_mac = EthernetAddress(self.ports[port].mac);
        if eth.dst_addr() != our_mac
            && !eth.dst_addr().is_multicast()
            && !eth.dst_addr().is_broadcast()
        {
            return None;
        }
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                let arp = ArpPacket::new_checked(eth.payload()).ok()?;
                let ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                } = ArpRepr::parse(&arp).ok()?
                else {
                    return None;
                };
                if self.owns(target_protocol_addr.into()) != Some(port) {
                    return None;
                }
                let reply = ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Reply,
                    source_hardware_addr: our_mac,
                    source_protocol_addr: target_protocol_addr,
                    target_hardware_addr: source_hardware_addr,
                    target_protocol_addr: source_protocol_addr,
                };
                let mut frame_out = EthernetFrame::new_unchecked(&mut *bytes);
                EthernetRepr {
                    src_addr: our_mac,
                    dst_addr: source_hardware_addr,
                    ethertype: EthernetProtocol::Arp,
                }
                .emit(&mut frame_out);
                reply.emit(&mut ArpPacket::new_unchecked(frame_out.payload_mut()));
                self.counters.arp_replies += 1;
                Some(port)
            }
            EthernetProtocol::Ipv4 => {
                let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
                let dst: IpAddr = ip.dst_addr().into();
                self.forward(port, bytes, dst, 14 + 8)
            }
            EthernetProtocol::Ipv6 => {
                let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
                let dst: IpAddr = ip.dst_addr().into();
                if ip.next_header() == IpProtocol::Icmpv6 {
                    let src = ip.src_addr();
                    let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
                    let repr = Icmpv6Repr::parse(
                        &src,
                        &ip.dst_addr(),
                        &icmp,
                        &ChecksumCapabilities::default(),
                    )
                    .ok()?;
                    if let Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target_addr, .. }) = repr
                    {
                        if self.owns(target_addr.into()) != Some(port) {
                            return None;
                        }
                        let advert = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                            flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::ROUTER,
                            target_addr,
                            lladdr: Some(RawHardwareAddress::from(our_mac)),
                        });
                        let ip_repr = Ipv6Repr {
                            src_addr: target_addr,
                            dst_addr: src,
                            next_header: IpProtocol::Icmpv6,
                            payload_len: advert.buffer_len(),
                            hop_limit: 255,
                        };
                        let mut reply = tx.frame();
                        let out = reply.push_back(14 + 40 + advert.buffer_len()).ok()?;
                        let mut eth_out = EthernetFrame::new_unchecked(&mut *out);
                        EthernetRepr {
                            src_addr: our_mac,
                            dst_addr: eth.src_addr(),
                            ethertype: EthernetProtocol::Ipv6,
                        }
                        .emit(&mut eth_out);
                        let mut ip_out = Ipv6Packet::new_unchecked(eth_out.payload_mut());
                        ip_repr.emit(&mut ip_out);
                        advert.emit(
                            &target_addr,
                            &src,
                            &mut Icmpv6Packet::new_unchecked(ip_out.payload_mut()),
                            &ChecksumCapabilities::default(),
                        );
                        tx.send(PortId(port as u16), reply);
                        self.counters.nd_replies += 1;
                        return None;
                    }
                    if dst.is_multicast() {
                        return None;
                    }
                }
                self.forward(port, bytes, dst, 14 + 7)
            }
            _ => None,
        }
    }

    /// Forwards an IP packet toward `dst`; `ttl_at` is the TTL / hop limit
    /// offset in the frame.
    fn forward(
        &mut self,
        _in_port: usize,
        bytes: &mut [u8],
        dst: IpAddr,
        ttl_at: usize,
    ) -> Option<usize> {
        if dst.is_multicast() || self.owns(dst).is_some() {
            return None;
        }
        let Some(out) = self.route(dst) else {
            self.counters.no_route += 1;
            return None;
        };
        let Some(&mac) = self.neighbors.get(&dst) else {
            self.counters.no_neighbor += 1;
            return None;
        };
        let ttl = bytes[ttl_at];
        if ttl <= 1 {
            self.counters.ttl_expired += 1;
            return None;
        }
        bytes[ttl_at] = ttl - 1;
        if dst.is_ipv4() {
            // TTL shares a 16-bit word with the protocol.
            let old = u16::from_be_bytes([ttl, bytes[ttl_at + 1]]);
            let new = u16::from_be_bytes([ttl - 1, bytes[ttl_at + 1]]);
            let sum = u16::from_be_bytes([bytes[14 + 10], bytes[14 + 11]]);
            bytes[14 + 10..14 + 12].copy_from_slice(&checksum_update(sum, old, new).to_be_bytes());
        }
        bytes[0..6].copy_from_slice(&mac);
        bytes[6..12].copy_from_slice(&self.ports[out].mac);
        self.counters.forwarded += 1;
        Some(out)
    }
}

impl Device for Router {
    fn name(&self) -> &str {
        "router"
    }

    fn port_count(&self) -> u16 {
        self.ports.len() as u16
    }

    fn receive(&mut self, _now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for Arrival { port, mut frame } in batch.drain(..) {
            self.counters.received += 1;
            match self.handle(usize::from(port.0), &mut frame, tx) {
                Some(out) => tx.send(PortId(out as u16), frame),
                None => {
                    self.counters.consumed += 1;
                    tx.recycle(frame);
                }
            }
        }
    }

    fn poll(&mut self, _now: SimTime, _tx: &mut TxQueue<'_>) {}

    fn next_wakeup(&mut self) -> Option<SimTime> {
        None
    }
}
