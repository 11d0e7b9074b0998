//! A UDP flow: a sender of numbered, time-stamped datagrams at a fixed
//! interval and a receiver that counts them, duplicates, reordering and
//! one-way latency in virtual time.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;

use super::{App, AppContext, AppError, AppReport, LatencyStats, SeenSet, Stamp};
use crate::emu::time::SimTime;

/// UDP header bytes (RFC 768).
pub const UDP_HEADER_LEN: usize = 8;
/// Datagrams the socket buffers hold.
const SOCKET_PACKETS: usize = 128;

/// The sending end of a UDP flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSenderConfig {
    /// The flow's name in reports.
    pub name: String,
    /// Where datagrams go.
    pub target: SocketAddr,
    /// Our port (non-zero).
    pub local_port: u16,
    /// Datagrams to send.
    pub count: u64,
    /// Time between datagrams.
    pub interval: Duration,
    /// UDP payload bytes per datagram (at least 16).
    pub payload_len: usize,
    /// When the first datagram goes.
    pub start_at: SimTime,
}

/// The sending end at run time.
#[derive(Debug)]
pub struct UdpSender {
    config: UdpSenderConfig,
    handle: Option<SocketHandle>,
    next_seq: u64,
    next_at: SimTime,
    report: UdpSendReport,
}

impl UdpSender {
    /// A sender; its socket is made when the host adds it.
    pub fn new(config: UdpSenderConfig) -> Self {
        Self {
            next_at: config.start_at,
            report: UdpSendReport {
                name: config.name.clone(),
                target: config.target,
                ..UdpSendReport::default()
            },
            config,
            handle: None,
            next_seq: 0,
        }
    }
}

impl App for UdpSender {
    fn attach(&mut self, ctx: &mut AppContext<'_>) -> Result<(), AppError> {
        let error = |reason: String| AppError {
            app: self.config.name.clone(),
            reason,
        };
        if self.config.payload_len < Stamp::LEN {
            return Err(error(format!(
                "payload_len {} is below the {} bytes of sequence number and time stamp",
                self.config.payload_len,
                Stamp::LEN
            )));
        }
        let mut socket = udp_socket(self.config.payload_len);
        socket
            .bind(self.config.local_port)
            .map_err(|e| error(format!("cannot bind port {}: {e}", self.config.local_port)))?;
        self.handle = Some(ctx.sockets.add(socket));
        Ok(())
    }

    fn step(&mut self, ctx: &mut AppContext<'_>) -> bool {
        let Some(handle) = self.handle else {
            return false;
        };
        let socket = ctx.sockets.get_mut::<udp::Socket>(handle);
        let mut progress = false;
        while self.next_seq < self.config.count && self.next_at <= ctx.now {
            let seq = self.next_seq;
            let now = ctx.now;
            match socket.send(self.config.payload_len, self.config.target) {
                Ok(payload) => {
                    payload.fill(0);
                    Stamp {
                        seq,
                        sent_at_ns: now.as_nanos(),
                    }
                    .write(payload);
                    self.report.sent += 1;
                    self.report.bytes += self.config.payload_len as u64;
                }
                Err(_) => self.report.send_failures += 1,
            }
            self.next_seq += 1;
            self.next_at = self.next_at + self.config.interval;
            progress = true;
        }
        progress
    }

    fn next_wakeup(&self) -> Option<SimTime> {
        (self.next_seq < self.config.count).then_some(self.next_at)
    }

    fn report(&self) -> AppReport {
        AppReport::UdpSend(self.report.clone())
    }
}

/// What a UDP sender did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpSendReport {
    /// The flow's name.
    pub name: String,
    /// Where it sent.
    pub target: SocketAddr,
    /// Datagrams sent.
    pub sent: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Datagrams the socket refused (buffer full).
    pub send_failures: u64,
}

impl Default for UdpSendReport {
    fn default() -> Self {
        Self {
            name: String::new(),
            target: SocketAddr::from(([0, 0, 0, 0], 0)),
            sent: 0,
            bytes: 0,
            send_failures: 0,
        }
    }
}

/// The receiving end of a UDP flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpReceiverConfig {
    /// The flow's name in reports.
    pub name: String,
    /// The port it listens on.
    pub port: u16,
    /// Sequence numbers at or past this count as malformed (the sender's
    /// count).
    pub expect_count: u64,
    /// Largest payload accepted whole.
    pub max_payload_len: usize,
}

/// The receiving end at run time.
#[derive(Debug)]
pub struct UdpReceiver {
    config: UdpReceiverConfig,
    handle: Option<SocketHandle>,
    seen: SeenSet,
    highest: Option<u64>,
    report: UdpReceiveReport,
}

impl UdpReceiver {
    /// A receiver; its socket is made when the host adds it.
    pub fn new(config: UdpReceiverConfig) -> Self {
        Self {
            report: UdpReceiveReport {
                name: config.name.clone(),
                ..UdpReceiveReport::default()
            },
            config,
            handle: None,
            seen: SeenSet::default(),
            highest: None,
        }
    }
}

impl App for UdpReceiver {
    fn attach(&mut self, ctx: &mut AppContext<'_>) -> Result<(), AppError> {
        let mut socket = udp_socket(self.config.max_payload_len);
        socket.bind(self.config.port).map_err(|e| AppError {
            app: self.config.name.clone(),
            reason: format!("cannot bind port {}: {e}", self.config.port),
        })?;
        self.handle = Some(ctx.sockets.add(socket));
        Ok(())
    }

    fn step(&mut self, ctx: &mut AppContext<'_>) -> bool {
        let Some(handle) = self.handle else {
            return false;
        };
        let now = ctx.now;
        let socket = ctx.sockets.get_mut::<udp::Socket>(handle);
        let mut progress = false;
        while let Ok((payload, _meta)) = socket.recv() {
            progress = true;
            let Some(Stamp { seq, sent_at_ns }) = Stamp::read(payload) else {
                self.report.malformed += 1;
                continue;
            };
            if seq >= self.config.expect_count {
                self.report.malformed += 1;
                continue;
            }
            if !self.seen.insert(seq, self.config.expect_count) {
                self.report.duplicates += 1;
                continue;
            }
            if self.highest.is_some_and(|highest| seq < highest) {
                self.report.out_of_order += 1;
            }
            self.highest = Some(self.highest.map_or(seq, |h| h.max(seq)));
            self.report.received += 1;
            self.report.bytes += payload.len() as u64;
            self.report
                .latency
                .add(now.as_nanos().saturating_sub(sent_at_ns));
        }
        progress
    }

    fn next_wakeup(&self) -> Option<SimTime> {
        None
    }

    fn report(&self) -> AppReport {
        AppReport::UdpReceive(self.report.clone())
    }
}

/// What a UDP receiver saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UdpReceiveReport {
    /// The flow's name.
    pub name: String,
    /// Distinct datagrams received.
    pub received: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Datagrams seen before.
    pub duplicates: u64,
    /// Datagrams that arrived after a later one.
    pub out_of_order: u64,
    /// Datagrams too short or numbered past the expected count.
    pub malformed: u64,
    /// One-way latency.
    pub latency: LatencyStats,
}

impl UdpReceiveReport {
    /// Datagrams `sender` sent that never arrived.
    pub fn lost(&self, sender: &UdpSendReport) -> u64 {
        sender.sent.saturating_sub(self.received)
    }
}

fn udp_socket(payload_len: usize) -> udp::Socket<'static> {
    let buffer = || {
        udp::PacketBuffer::new(
            vec![udp::PacketMetadata::EMPTY; SOCKET_PACKETS],
            vec![0; SOCKET_PACKETS * payload_len.max(Stamp::LEN)],
        )
    };
    udp::Socket::new(buffer(), buffer())
}
