//! Helpers for the port tests: numbered test frames, the root check, and a
//! tiny userspace host (ARP and ICMP echo through `erdp::wire`) that pings
//! the kernel through a port.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use erdp::packet::PacketBuf;
use erdp::port::{Port, netns};
use erdp::wire::{ArpOutcome, Ipv4Packet, MacAddr, answer_arp_request, echo_reply_v4};
use etherparse::{EtherType, Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

/// UDP port that marks frames made by these tests.
pub const TEST_UDP_PORT: u16 = 47_001;

/// Why the root tests are ignored by a plain `cargo test`: the CI step that
/// runs them with `--ignored` after installing their tools.
pub const ROOT_STEP: &str = ".ci/steps/40-port-root.sh";

/// Fails the test unless it can run in full: root (network namespaces,
/// veth, AF_PACKET, TAP) and every tool in `tools` on PATH. Root tests are
/// `#[ignore]`d, so a plain `cargo test` lists them as ignored; run with
/// `--ignored` they never pass with a part skipped.
pub fn require_root_and(tools: &[&str]) {
    assert!(
        netns::is_root(),
        "needs root (network namespaces, veth, AF_PACKET, TAP); {ROOT_STEP} runs it"
    );
    for tool in ["ip"].iter().chain(tools) {
        assert!(
            netns::tool_available(tool),
            "needs `{tool}` on PATH; {ROOT_STEP} installs it"
        );
    }
}

/// A UDP frame carrying `seq` (and padding up to `len` bytes in all).
pub fn numbered_frame(source: MacAddr, destination: MacAddr, seq: u32, len: usize) -> Vec<u8> {
    let header_len = 14 + 20 + 8;
    let mut payload = seq.to_be_bytes().to_vec();
    payload.resize(len.saturating_sub(header_len).max(4), 0xa5);
    let builder = PacketBuilder::ethernet2(source.0, destination.0)
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(TEST_UDP_PORT, TEST_UDP_PORT);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, &payload).unwrap();
    frame
}

/// The sequence number of a test frame, `None` for any other frame.
pub fn seq_of(frame: &[u8]) -> Option<u32> {
    let packet = SlicedPacket::from_ethernet(frame).ok()?;
    match packet.transport {
        Some(TransportSlice::Udp(udp)) if udp.destination_port() == TEST_UDP_PORT => {
            let bytes: [u8; 4] = udp.payload().get(..4)?.try_into().ok()?;
            Some(u32::from_be_bytes(bytes))
        }
        _ => None,
    }
}

/// Receives until `count` test frames arrived or `limit` passed; returns
/// their sequence numbers in arrival order.
pub fn receive_numbered(port: &mut dyn Port, count: usize, limit: Duration) -> Vec<u32> {
    let mut bufs = vec![PacketBuf::new(); 32];
    let mut seqs = Vec::new();
    let deadline = Instant::now() + limit;
    while seqs.len() < count && Instant::now() < deadline {
        let got = port
            .recv_batch(&mut bufs, Duration::from_millis(50))
            .unwrap();
        seqs.extend(bufs[..got].iter().filter_map(|buf| seq_of(buf.as_slice())));
    }
    seqs
}

/// What [`UserspaceHost::serve`] saw and did.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostStats {
    pub arp_requests_answered: u32,
    pub echo_requests_answered: u32,
    pub echo_replies_received: u32,
}

/// A host that lives in userspace behind a port: answers ARP for its
/// address and echo requests to it, and can ping.
pub struct UserspaceHost {
    pub mac: MacAddr,
    pub ip: Ipv4Addr,
    pub stats: HostStats,
}

impl UserspaceHost {
    pub fn new(mac: MacAddr, ip: Ipv4Addr) -> Self {
        Self {
            mac,
            ip,
            stats: HostStats::default(),
        }
    }

    /// An ICMP echo request from this host to `target`.
    pub fn echo_request(&self, target_mac: MacAddr, target: Ipv4Addr, seq: u16) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(self.mac.0, target_mac.0)
            .ipv4(self.ip.octets(), target.octets(), 64)
            .icmpv4_echo_request(0x4552, seq);
        let payload = b"erdp port test";
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    /// Handles one received frame: answers ARP requests and echo requests
    /// for our address (sending the answer on `port`), counts echo replies.
    pub fn handle(&mut self, port: &mut dyn Port, buf: &mut PacketBuf) {
        let our_ip = self.ip;
        let frame = buf.as_mut_slice();
        let is_arp = frame.get(12..14) == Some(&EtherType::ARP.0.to_be_bytes()[..]);
        let (to_us, echo) = {
            let Ok(packet) = SlicedPacket::from_ethernet(frame) else {
                return;
            };
            let to_us = matches!(&packet.net, Some(NetSlice::Ipv4(ip)) if ip.header().destination_addr() == our_ip);
            let echo = match &packet.transport {
                Some(TransportSlice::Icmpv4(icmp)) => match icmp.icmp_type() {
                    Icmpv4Type::EchoRequest(_) => Some(true),
                    Icmpv4Type::EchoReply(_) => Some(false),
                    _ => None,
                },
                _ => None,
            };
            (to_us, echo)
        };
        if is_arp {
            if let Ok(ArpOutcome::Replied { .. }) =
                answer_arp_request(frame, self.mac, |ip| ip == our_ip)
            {
                self.stats.arp_requests_answered += 1;
                port.send(frame).unwrap();
            }
            return;
        }
        match echo {
            Some(false) if to_us => self.stats.echo_replies_received += 1,
            Some(true) if to_us => {
                let (ethernet, ip) = frame.split_at_mut(14);
                let mut swapped = [0u8; 12];
                swapped[..6].copy_from_slice(&ethernet[6..12]);
                swapped[6..].copy_from_slice(&ethernet[..6]);
                ethernet[..12].copy_from_slice(&swapped);
                let mut packet = Ipv4Packet::new_checked(ip).unwrap();
                echo_reply_v4(&mut packet).unwrap();
                self.stats.echo_requests_answered += 1;
                port.send(frame).unwrap();
            }
            _ => {}
        }
    }

    /// Serves `port` until `done` says so or `limit` passes.
    pub fn serve(
        &mut self,
        port: &mut dyn Port,
        limit: Duration,
        mut done: impl FnMut(&HostStats) -> bool,
    ) {
        let mut bufs = vec![PacketBuf::new(); 16];
        let deadline = Instant::now() + limit;
        while !done(&self.stats) && Instant::now() < deadline {
            let got = port
                .recv_batch(&mut bufs, Duration::from_millis(20))
                .unwrap();
            for buf in &mut bufs[..got] {
                self.handle(port, buf);
            }
        }
    }
}
