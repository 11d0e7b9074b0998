//! TCP bulk transfer in either or both directions over one connection,
//! verifying every byte: the sender writes a [`ByteStream`], the receiver
//! compares each byte at its offset and both keep a CRC-32 of the stream.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use super::stream::ByteStream;
use super::{App, AppContext, AppError, AppReport};
use crate::emu::time::SimTime;

/// Which end of the connection this app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpRole {
    /// Connects to `remote` from `local_port` at the start time.
    Connect {
        /// The listening end.
        remote: SocketAddr,
        /// Our port (non-zero).
        local_port: u16,
    },
    /// Listens on `port` from the moment it is added.
    Listen {
        /// The port.
        port: u16,
    },
}

/// TCP congestion control (smoltcp's implementations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Congestion {
    /// None: the peer's window is the only limit.
    None,
    /// Reno.
    Reno,
    /// CUBIC (RFC 9438), the default.
    #[default]
    Cubic,
}

/// One end of a bulk transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpBulkConfig {
    /// The flow's name in reports.
    pub name: String,
    /// Connect or listen.
    pub role: TcpRole,
    /// Bytes this end sends (then it closes its sending half).
    pub send_bytes: u64,
    /// Seed of the stream this end sends.
    pub send_seed: u64,
    /// Bytes this end expects to receive.
    pub expect_bytes: u64,
    /// Seed of the stream the peer sends.
    pub expect_seed: u64,
    /// When a connecting end connects.
    pub start_at: SimTime,
    /// Socket send and receive buffer size in bytes.
    pub buffer_len: usize,
    /// Congestion control.
    pub congestion: Congestion,
}

impl TcpBulkConfig {
    /// The two ends of one transfer named `name`: a client connecting from
    /// `client_port` to `server` and the server listening there; the client
    /// sends `upload` bytes and the server `download` bytes. Stream seeds
    /// derive from `seed`.
    pub fn pair(
        name: &str,
        server: SocketAddr,
        client_port: u16,
        upload: u64,
        download: u64,
        seed: u64,
    ) -> (TcpBulkConfig, TcpBulkConfig) {
        let up_seed = crate::emu::rng::derive_seed(seed, &format!("{name} upload"));
        let down_seed = crate::emu::rng::derive_seed(seed, &format!("{name} download"));
        let client = TcpBulkConfig {
            name: format!("{name} client"),
            role: TcpRole::Connect {
                remote: server,
                local_port: client_port,
            },
            send_bytes: upload,
            send_seed: up_seed,
            expect_bytes: download,
            expect_seed: down_seed,
            start_at: SimTime::ZERO,
            buffer_len: 256 * 1024,
            congestion: Congestion::default(),
        };
        let server = TcpBulkConfig {
            name: format!("{name} server"),
            role: TcpRole::Listen {
                port: server.port(),
            },
            send_bytes: download,
            send_seed: down_seed,
            expect_bytes: upload,
            expect_seed: up_seed,
            ..client.clone()
        };
        (client, server)
    }
}

/// One end of a bulk transfer at run time.
#[derive(Debug)]
pub struct TcpBulk {
    config: TcpBulkConfig,
    handle: Option<SocketHandle>,
    send_stream: Option<ByteStream>,
    expect_stream: Option<ByteStream>,
    started: bool,
    send_closed: bool,
    sent: u64,
    received: u64,
    excess: u64,
    first_mismatch: Option<u64>,
    sent_crc: crc32fast::Hasher,
    received_crc: crc32fast::Hasher,
    started_at: Option<SimTime>,
    established_at: Option<SimTime>,
    receive_done_at: Option<SimTime>,
    send_done_at: Option<SimTime>,
    state: tcp::State,
    error: Option<String>,
}

impl TcpBulk {
    /// An end of a transfer; its socket is made when the host adds it.
    pub fn new(config: TcpBulkConfig) -> Self {
        Self {
            send_stream: (config.send_bytes > 0).then(|| ByteStream::new(config.send_seed)),
            expect_stream: (config.expect_bytes > 0).then(|| ByteStream::new(config.expect_seed)),
            config,
            handle: None,
            started: false,
            send_closed: false,
            sent: 0,
            received: 0,
            excess: 0,
            first_mismatch: None,
            sent_crc: crc32fast::Hasher::new(),
            received_crc: crc32fast::Hasher::new(),
            started_at: None,
            established_at: None,
            receive_done_at: None,
            send_done_at: None,
            state: tcp::State::Closed,
            error: None,
        }
    }

    fn write(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        let mut progress = false;
        let Some(stream) = self.send_stream.as_mut() else {
            return false;
        };
        while self.sent < self.config.send_bytes && socket.can_send() {
            let offset = self.sent;
            let remaining = self.config.send_bytes - offset;
            let crc = &mut self.sent_crc;
            let written = socket.send(|buf| {
                let n = buf
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                stream.fill(offset, &mut buf[..n]);
                crc.update(&buf[..n]);
                (n, n)
            });
            match written {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.sent += n as u64;
                    progress = true;
                }
            }
        }
        progress
    }

    fn read(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        let mut progress = false;
        while socket.can_recv() {
            let offset = self.received;
            let expect = self.config.expect_bytes;
            let (stream, crc, mismatch) = (
                &mut self.expect_stream,
                &mut self.received_crc,
                &mut self.first_mismatch,
            );
            let read = socket.recv(|data| {
                crc.update(data);
                let wanted = usize::try_from(expect.saturating_sub(offset)).unwrap_or(usize::MAX);
                let checked = &data[..data.len().min(wanted)];
                if mismatch.is_none()
                    && let Some(stream) = stream.as_mut()
                    && let Some(at) = stream.first_mismatch(offset, checked)
                {
                    *mismatch = Some(offset + at as u64);
                }
                (data.len(), (data.len(), data.len() - checked.len()))
            });
            match read {
                Ok((0, _)) | Err(_) => break,
                Ok((n, excess)) => {
                    self.received += n as u64;
                    self.excess += excess as u64;
                    progress = true;
                }
            }
        }
        progress
    }
}

impl App for TcpBulk {
    fn attach(&mut self, ctx: &mut AppContext<'_>) -> Result<(), AppError> {
        let len = self.config.buffer_len.max(1);
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; len]),
            tcp::SocketBuffer::new(vec![0; len]),
        );
        socket.set_congestion_control(match self.config.congestion {
            Congestion::None => tcp::CongestionControl::None,
            Congestion::Reno => tcp::CongestionControl::Reno,
            Congestion::Cubic => tcp::CongestionControl::Cubic,
        });
        if let TcpRole::Listen { port } = self.config.role {
            socket.listen(port).map_err(|e| AppError {
                app: self.config.name.clone(),
                reason: format!("cannot listen on port {port}: {e}"),
            })?;
            self.started = true;
        }
        self.handle = Some(ctx.sockets.add(socket));
        Ok(())
    }

    fn step(&mut self, ctx: &mut AppContext<'_>) -> bool {
        let Some(handle) = self.handle else {
            return false;
        };
        let now = ctx.now;
        let socket = ctx.sockets.get_mut::<tcp::Socket>(handle);
        let mut progress = false;
        if !self.started {
            if now < self.config.start_at {
                return false;
            }
            self.started = true;
            progress = true;
            self.started_at = Some(now);
            if let TcpRole::Connect { remote, local_port } = self.config.role
                && let Err(e) = socket.connect(ctx.iface.context(), remote, local_port)
            {
                self.error = Some(format!(
                    "cannot connect to {remote} from port {local_port}: {e}"
                ));
            }
        }
        self.state = socket.state();
        if self.established_at.is_none() && socket.may_send() {
            self.established_at = Some(now);
            self.started_at.get_or_insert(now);
        }
        progress |= self.read(socket);
        progress |= self.write(socket);
        if self.sent == self.config.send_bytes && !self.send_closed && socket.may_send() {
            socket.close();
            self.send_closed = true;
            progress = true;
        }
        if self.send_closed && self.send_done_at.is_none() && socket.send_queue() == 0 {
            self.send_done_at = Some(now);
        }
        if self.receive_done_at.is_none()
            && self.established_at.is_some()
            && self.received >= self.config.expect_bytes
        {
            self.receive_done_at = Some(now);
        }
        self.state = socket.state();
        progress
    }

    fn next_wakeup(&self) -> Option<SimTime> {
        (!self.started).then_some(self.config.start_at)
    }

    fn report(&self) -> AppReport {
        AppReport::TcpBulk(TcpBulkReport {
            name: self.config.name.clone(),
            role: self.config.role,
            state: self.state.to_string(),
            bytes_sent: self.sent,
            bytes_to_send: self.config.send_bytes,
            bytes_received: self.received,
            bytes_expected: self.config.expect_bytes,
            excess_bytes: self.excess,
            first_mismatch: self.first_mismatch,
            sent_crc32: self.sent_crc.clone().finalize(),
            received_crc32: self.received_crc.clone().finalize(),
            started_at: self.started_at,
            established_at: self.established_at,
            receive_done_at: self.receive_done_at,
            send_done_at: self.send_done_at,
            error: self.error.clone(),
        })
    }
}

/// What one end of a bulk transfer did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpBulkReport {
    /// The flow end's name.
    pub name: String,
    /// Connect or listen.
    pub role: TcpRole,
    /// The socket's TCP state now.
    pub state: String,
    /// Bytes written into the connection.
    pub bytes_sent: u64,
    /// Bytes it was to send.
    pub bytes_to_send: u64,
    /// Bytes read from the connection.
    pub bytes_received: u64,
    /// Bytes it expected.
    pub bytes_expected: u64,
    /// Bytes received beyond those expected.
    pub excess_bytes: u64,
    /// Stream offset of the first received byte that differs from the
    /// expected stream.
    pub first_mismatch: Option<u64>,
    /// CRC-32 of everything sent.
    pub sent_crc32: u32,
    /// CRC-32 of everything received.
    pub received_crc32: u32,
    /// When it connected (or, listening, when the connection came up).
    pub started_at: Option<SimTime>,
    /// When the connection was established.
    pub established_at: Option<SimTime>,
    /// When the last expected byte was read.
    pub receive_done_at: Option<SimTime>,
    /// When everything sent was acknowledged.
    pub send_done_at: Option<SimTime>,
    /// A socket error, if one stopped it.
    pub error: Option<String>,
}

impl TcpBulkReport {
    /// Every expected byte arrived, in order and intact, and nothing more.
    pub fn receive_verified(&self) -> bool {
        self.bytes_received == self.bytes_expected
            && self.first_mismatch.is_none()
            && self.excess_bytes == 0
            && (self.bytes_expected == 0 || self.receive_done_at.is_some())
    }

    /// This end received exactly what `peer` sent, CRC included.
    pub fn received_all_of(&self, peer: &TcpBulkReport) -> bool {
        self.receive_verified()
            && peer.bytes_sent == self.bytes_received
            && peer.sent_crc32 == self.received_crc32
    }

    /// Virtual time from the start to the last byte received.
    pub(crate) fn receive_time(&self) -> Option<Duration> {
        Some(self.receive_done_at? - self.started_at?)
    }

    /// Receive goodput in bits per second of virtual time.
    pub fn receive_throughput_bps(&self) -> Option<f64> {
        bits_per_second(self.bytes_received, self.receive_time()?)
    }

    /// Virtual time from the start until all sent bytes were acknowledged.
    pub fn send_time(&self) -> Option<Duration> {
        Some(self.send_done_at? - self.started_at?)
    }

    /// Send goodput in bits per second of virtual time.
    pub fn send_throughput_bps(&self) -> Option<f64> {
        bits_per_second(self.bytes_sent, self.send_time()?)
    }
}

fn bits_per_second(bytes: u64, over: Duration) -> Option<f64> {
    let secs = over.as_secs_f64();
    (secs > 0.0).then(|| bytes as f64 * 8.0 / secs)
}
