//! ICMP echo ("ping", RFC 792 and RFC 4443) from a host: sends echo
//! requests at an interval and measures round-trip times in virtual time.
//!
//! The echo data carries a 64-bit sequence number and the send time, so
//! replies are matched without a table and duplicates are counted.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Message, Icmpv4Packet, Icmpv6Message, Icmpv6Packet, IpAddress};

use super::{App, AppContext, AppError, AppReport, LatencyStats, SeenSet, Stamp};
use crate::emu::time::SimTime;

/// ICMP echo header: type, code, checksum, identifier, sequence number.
const ECHO_HEADER_LEN: usize = 8;
/// Packets the socket buffers hold each way.
const SOCKET_PACKETS: usize = 64;

/// What to ping, how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingConfig {
    /// The flow's name in reports.
    pub name: String,
    /// The address pinged (IPv4 or IPv6).
    pub target: IpAddr,
    /// Echo requests to send.
    pub count: u32,
    /// Time between requests.
    pub interval: Duration,
    /// Echo data bytes per request (at least 16).
    pub payload_len: usize,
    /// When the first request goes.
    pub start_at: SimTime,
    /// ICMP identifier (one per ping on a host).
    pub ident: u16,
}

impl PingConfig {
    /// `count` pings of 56 data bytes to `target`, one a second, from time
    /// zero, identifier 1.
    pub fn new(name: &str, target: IpAddr, count: u32) -> Self {
        Self {
            name: name.to_string(),
            target,
            count,
            interval: Duration::from_secs(1),
            payload_len: 56,
            start_at: SimTime::ZERO,
            ident: 1,
        }
    }
}

/// A ping at run time.
#[derive(Debug)]
pub struct Ping {
    config: PingConfig,
    handle: Option<SocketHandle>,
    next_seq: u64,
    next_at: SimTime,
    seen: SeenSet,
    report: PingReport,
    scratch: Vec<u8>,
}

impl Ping {
    /// A ping; its socket is made when the host adds it.
    pub fn new(config: PingConfig) -> Self {
        let report = PingReport {
            name: config.name.clone(),
            target: config.target,
            ..PingReport::default()
        };
        Self {
            next_at: config.start_at,
            scratch: vec![0; ECHO_HEADER_LEN + config.payload_len.max(Stamp::LEN)],
            config,
            handle: None,
            next_seq: 0,
            seen: SeenSet::default(),
            report,
        }
    }

    fn send(&mut self, ctx: &mut AppContext<'_>, socket_handle: SocketHandle) -> bool {
        let now = ctx.now;
        let seq = self.next_seq;
        let message = &mut self.scratch;
        message.fill(0);
        let data = &mut message[ECHO_HEADER_LEN..];
        Stamp {
            seq,
            sent_at_ns: now.as_nanos(),
        }
        .write(data);
        for (i, byte) in data[Stamp::LEN..].iter_mut().enumerate() {
            *byte = i as u8;
        }
        match self.config.target {
            IpAddr::V4(_) => {
                let mut packet = Icmpv4Packet::new_unchecked(&mut message[..]);
                packet.set_msg_type(Icmpv4Message::EchoRequest);
                packet.set_msg_code(0);
                packet.set_echo_ident(self.config.ident);
                packet.set_echo_seq_no(seq as u16);
                packet.fill_checksum();
            }
            IpAddr::V6(target) => {
                let source = ctx.iface.get_source_address_ipv6(&target);
                let mut packet = Icmpv6Packet::new_unchecked(&mut message[..]);
                packet.set_msg_type(Icmpv6Message::EchoRequest);
                packet.set_msg_code(0);
                packet.set_echo_ident(self.config.ident);
                packet.set_echo_seq_no(seq as u16);
                packet.fill_checksum(&source, &target);
            }
        }
        let socket = ctx.sockets.get_mut::<icmp::Socket>(socket_handle);
        match socket.send_slice(message, IpAddress::from(self.config.target)) {
            Ok(()) => self.report.sent += 1,
            Err(_) => self.report.send_failures += 1,
        }
        self.next_seq += 1;
        self.next_at = self.next_at + self.config.interval;
        true
    }

    fn receive(&mut self, ctx: &mut AppContext<'_>, socket_handle: SocketHandle) -> bool {
        let now = ctx.now;
        let mut progress = false;
        let our_v6 = match self.config.target {
            IpAddr::V6(target) => Some((target, ctx.iface.get_source_address_ipv6(&target))),
            IpAddr::V4(_) => None,
        };
        let socket = ctx.sockets.get_mut::<icmp::Socket>(socket_handle);
        while let Ok((message, _from)) = socket.recv() {
            progress = true;
            let echo = match our_v6 {
                None => Icmpv4Packet::new_checked(message).ok().and_then(|packet| {
                    (packet.msg_type() == Icmpv4Message::EchoReply && packet.verify_checksum())
                        .then(|| (packet.echo_ident(), packet.data()))
                }),
                Some((target, source)) => {
                    Icmpv6Packet::new_checked(message).ok().and_then(|packet| {
                        (packet.msg_type() == Icmpv6Message::EchoReply
                            && packet.verify_checksum(&target, &source))
                        .then(|| (packet.echo_ident(), packet.payload()))
                    })
                }
            };
            let stamp = echo
                .filter(|(ident, _)| *ident == self.config.ident)
                .and_then(|(_, data)| Stamp::read(data));
            let Some(Stamp { seq, sent_at_ns }) = stamp else {
                self.report.malformed += 1;
                continue;
            };
            if !self.seen.insert(seq, self.next_seq) {
                self.report.duplicates += 1;
                continue;
            }
            self.report.received += 1;
            self.report
                .rtt
                .add(now.as_nanos().saturating_sub(sent_at_ns));
        }
        progress
    }
}

impl App for Ping {
    fn attach(&mut self, ctx: &mut AppContext<'_>) -> Result<(), AppError> {
        let packet_len = self.scratch.len();
        let buffer = || {
            icmp::PacketBuffer::new(
                vec![icmp::PacketMetadata::EMPTY; SOCKET_PACKETS],
                vec![0; SOCKET_PACKETS * packet_len],
            )
        };
        let mut socket = icmp::Socket::new(buffer(), buffer());
        socket
            .bind(icmp::Endpoint::Ident(self.config.ident))
            .map_err(|e| AppError {
                app: self.config.name.clone(),
                reason: format!("cannot bind ICMP identifier {}: {e}", self.config.ident),
            })?;
        self.handle = Some(ctx.sockets.add(socket));
        Ok(())
    }

    fn step(&mut self, ctx: &mut AppContext<'_>) -> bool {
        let Some(handle) = self.handle else {
            return false;
        };
        let mut progress = self.receive(ctx, handle);
        while self.next_seq < u64::from(self.config.count) && self.next_at <= ctx.now {
            progress |= self.send(ctx, handle);
        }
        progress
    }

    fn next_wakeup(&self) -> Option<SimTime> {
        (self.next_seq < u64::from(self.config.count)).then_some(self.next_at)
    }

    fn report(&self) -> AppReport {
        AppReport::Ping(self.report.clone())
    }
}

/// What a ping saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PingReport {
    /// The ping's name.
    pub name: String,
    /// The address pinged.
    pub target: IpAddr,
    /// Echo requests sent.
    pub sent: u64,
    /// Requests the socket refused (buffer full).
    pub send_failures: u64,
    /// Distinct replies received.
    pub received: u64,
    /// Replies to a request already answered.
    pub duplicates: u64,
    /// ICMP messages on the socket that were not a valid reply of ours.
    pub malformed: u64,
    /// Round-trip times.
    pub rtt: LatencyStats,
}

impl Default for PingReport {
    fn default() -> Self {
        Self {
            name: String::new(),
            target: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            sent: 0,
            send_failures: 0,
            received: 0,
            duplicates: 0,
            malformed: 0,
            rtt: LatencyStats::default(),
        }
    }
}

impl PingReport {
    /// Requests without a reply.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
}
