//! A port on a Linux network device through an AF_PACKET socket (packet(7)),
//! driven by pnet's datalink channel: one frame per syscall, so roughly
//! 80-160 k frames/s per port. See docs/attach.md.
//!
//! Facts this port is built around:
//! - pnet's reads block forever without a read timeout: the channel is
//!   opened with a zero timeout and this port waits with poll(2) itself.
//! - Frames over the read buffer are cut short (pnet's default is 4 KiB):
//!   the buffer is at least [`MIN_READ_BUFFER`].
//! - An AF_PACKET socket also reads the frames leaving its device, ours
//!   included. This port ignores every frame whose source MAC is one it
//!   has sent from or the device's own (the kernel's frames on that
//!   device), and counts them in `rx_ignored_own`.
//! - With GSO/TSO/GRO on (the default on veth), the kernel hands over TCP
//!   super-frames up to 64 KiB: frames over MTU + 14 are dropped as
//!   `oversize`. Turn them off: `ethtool -K DEV tso off gso off gro off`.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, getsockopt, send, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;
use pnet::datalink::{self, Channel, DataLinkReceiver, DataLinkSender};

use super::device::{BatchSource, FrameSource, OwnSources, PortState};
use super::mmsg::MmsgIo;
use super::{BatchSend, Port, PortCounters, PortError, send_each};
use crate::packet::PacketBuf;
use crate::wire::ETHERNET_HEADER_LEN;
use crate::wire::MacAddr;

/// The smallest read buffer this port gives pnet: a 64 KiB GSO super-frame
/// fits whole, so it is recognised as oversize instead of cut short.
pub const MIN_READ_BUFFER: usize = 64 * 1024 + ETHERNET_HEADER_LEN;

/// How an AF_PACKET port moves frames; both use the socket pnet opens and
/// binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfPacketBackend {
    /// pnet's receiver and sender: one frame per syscall (poll + recvfrom
    /// per received frame). Own frames are recognised by source MAC.
    #[default]
    Pnet,
    /// recvmmsg/sendmmsg (nix): up to 64 frames per syscall, received
    /// straight into the caller's buffers; outgoing frames recognised by
    /// the kernel's packet type.
    Mmsg,
}

/// Settings of an AF_PACKET port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Which syscalls move the frames.
    pub backend: AfPacketBackend,
    /// pnet's read buffer; raised to [`MIN_READ_BUFFER`] when smaller.
    pub read_buffer_size: usize,
    /// The socket's kernel receive queue in bytes (SO_RCVBUFFORCE, or
    /// SO_RCVBUF capped by net.core.rmem_max without CAP_NET_ADMIN);
    /// `None` keeps the system default (net.core.rmem_default).
    pub socket_receive_buffer: Option<usize>,
    /// How long a send waits for room in the socket before failing.
    pub write_timeout: Duration,
    /// Receive frames for every destination MAC, not only the device's.
    pub promiscuous: bool,
    /// The device MTU; `None` reads /sys/class/net/DEV/mtu, which is right
    /// under `ip netns exec` but not in a thread that entered another
    /// network namespace with setns (pass it explicitly there).
    pub mtu: Option<usize>,
}

impl Default for AfPacketConfig {
    fn default() -> Self {
        Self {
            backend: AfPacketBackend::Pnet,
            read_buffer_size: MIN_READ_BUFFER,
            socket_receive_buffer: Some(4 * 1024 * 1024),
            write_timeout: Duration::from_millis(100),
            promiscuous: true,
            mtu: None,
        }
    }
}

/// pnet's receiving half and a duplicate of its descriptor for poll(2).
struct PnetSource {
    rx: Box<dyn DataLinkReceiver>,
    poll_fd: OwnedFd,
}

impl FrameSource for PnetSource {
    fn read_frame(&mut self) -> io::Result<Option<&[u8]>> {
        match self.rx.next() {
            Ok(frame) => Ok(Some(frame)),
            // pnet reports an empty socket as TimedOut (its zero-timeout poll).
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                Ok(None)
            }
            // On a socket error pnet's poll sees POLLERR and says only
            // "Unexpected poll event": fetch (and clear) the real error.
            Err(error) => match getsockopt(&self.poll_fd, sockopt::SocketError) {
                Ok(errno) if errno != 0 => Err(io::Error::from_raw_os_error(errno)),
                _ => Err(error),
            },
        }
    }

    fn readiness(&self) -> BorrowedFd<'_> {
        self.poll_fd.as_fd()
    }
}

/// The frame-moving half of an AF_PACKET port.
enum Io {
    Pnet {
        tx: Box<dyn DataLinkSender>,
        source: PnetSource,
    },
    Mmsg(MmsgIo),
}

impl Io {
    fn socket(&self) -> BorrowedFd<'_> {
        match self {
            Io::Pnet { source, .. } => source.readiness(),
            Io::Mmsg(io) => io.wait_fd(),
        }
    }
}

/// Where the socket's device is, as an empty send finds out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceState {
    Up,
    Down,
    Gone,
}

/// A port on a Linux device through an AF_PACKET socket (pnet).
pub struct AfPacketPort {
    device: String,
    ifindex: u32,
    mtu: usize,
    io: Io,
    state: PortState,
    /// The device went down: each receive checks whether it is back or
    /// gone (the kernel reports ENETDOWN once, at the first of the two).
    down: bool,
}

impl AfPacketPort {
    /// Opens an AF_PACKET socket on `device` for the port `name`. Needs
    /// CAP_NET_RAW (root). The socket lives in the calling thread's
    /// network namespace.
    pub fn open(name: &str, device: &str, config: AfPacketConfig) -> Result<Self, PortError> {
        let open_error = |action: &'static str, source: io::Error| PortError::Open {
            port: name.to_owned(),
            device: device.to_owned(),
            action,
            source,
        };
        let interface = datalink::interfaces()
            .into_iter()
            .find(|interface| interface.name == device)
            .ok_or_else(|| PortError::NoSuchDevice {
                port: name.to_owned(),
                device: device.to_owned(),
            })?;
        if !interface.is_up() {
            tracing::warn!(
                port = name,
                device,
                "device is down: `ip link set {device} up`"
            );
        }
        let mtu = match config.mtu {
            Some(mtu) => mtu,
            None => sysfs_mtu(device, interface.index).ok_or_else(|| {
                open_error(
                    "read the MTU (from /sys/class/net, which may belong to another network namespace; set it explicitly) of",
                    io::Error::from(io::ErrorKind::NotFound),
                )
            })?,
        };

        // Protocol 0: the socket receives nothing until pnet binds it to the
        // device with ETH_P_ALL, so no other device's frame slips in first.
        let socket = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|errno| {
            open_error(
                "open an AF_PACKET socket (needs root or CAP_NET_RAW) on",
                errno.into(),
            )
        })?;
        if let Some(bytes) = config.socket_receive_buffer {
            set_receive_buffer(&socket, bytes)
                .map_err(|source| open_error("size the receive queue of", source))?;
        }
        if config.backend == AfPacketBackend::Mmsg {
            // sendmmsg blocks while the socket's send queue is full.
            let timeout = TimeVal::from(libc_timeval(config.write_timeout));
            setsockopt(&socket, sockopt::SendTimeout, &timeout)
                .map_err(|errno| open_error("set the send timeout of", errno.into()))?;
        }
        let poll_fd = socket
            .try_clone()
            .map_err(|source| open_error("duplicate the socket of", source))?;

        let pnet_config = datalink::Config {
            read_buffer_size: config.read_buffer_size.max(MIN_READ_BUFFER),
            write_buffer_size: 4096,
            // pnet polls with this before each read: zero never blocks.
            read_timeout: Some(Duration::ZERO),
            write_timeout: Some(config.write_timeout),
            promiscuous: config.promiscuous,
            // pnet owns (and closes) the descriptor from here on.
            socket_fd: Some(socket.into_raw_fd()),
            ..datalink::Config::default()
        };
        let (tx, rx) = match datalink::channel(&interface, pnet_config) {
            Ok(Channel::Ethernet(tx, rx)) => (tx, rx),
            Ok(_) => {
                return Err(open_error(
                    "get an Ethernet channel for",
                    io::Error::other("pnet returned a non-Ethernet channel"),
                ));
            }
            Err(source) => return Err(open_error("bind an AF_PACKET socket to", source)),
        };
        let device_mac = interface.mac.map(|mac| MacAddr(mac.octets()));
        let (io, own) = match config.backend {
            AfPacketBackend::Pnet => (
                Io::Pnet {
                    tx,
                    source: PnetSource { rx, poll_fd },
                },
                Some(OwnSources::new(device_mac)),
            ),
            // pnet's halves go; the duplicate keeps the socket open.
            AfPacketBackend::Mmsg => (Io::Mmsg(MmsgIo::new(poll_fd)), None),
        };
        Ok(Self {
            device: device.to_owned(),
            ifindex: interface.index,
            mtu,
            io,
            state: PortState::new(name, mtu, own),
            down: false,
        })
    }

    /// The Linux device name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The device's interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The device MTU the port enforces.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Probes the device with an empty send, which sends nothing: ENXIO
    /// once the socket has lost its device, ENETDOWN while it is down,
    /// EINVAL (shorter than an Ethernet header) when it is up.
    fn device_state(&self) -> DeviceState {
        match send(self.io.socket().as_raw_fd(), &[], MsgFlags::MSG_DONTWAIT) {
            Err(Errno::ENXIO | Errno::ENODEV) => DeviceState::Gone,
            Err(Errno::ENETDOWN) => DeviceState::Down,
            _ => DeviceState::Up,
        }
    }

    fn device_gone(&self) -> PortError {
        PortError::DeviceGone {
            port: self.state.name.clone(),
            device: self.device.clone(),
        }
    }

    /// A receive error as is, or [`PortError::DeviceGone`]: the kernel
    /// reports ENETDOWN (once) when the device goes down, deleted or not.
    fn classify(&mut self, error: PortError) -> PortError {
        let network_down = matches!(
            &error,
            PortError::Recv { source, .. } if source.raw_os_error() == Some(nix::libc::ENETDOWN)
        );
        if !network_down {
            return error;
        }
        match self.device_state() {
            DeviceState::Gone => self.device_gone(),
            state => {
                self.down = state == DeviceState::Down;
                error
            }
        }
    }
}

/// A `Duration` as the timeval SO_SNDTIMEO takes (at least 1 µs: zero
/// would mean "wait forever").
fn libc_timeval(timeout: Duration) -> nix::libc::timeval {
    nix::libc::timeval {
        tv_sec: nix::libc::time_t::try_from(timeout.as_secs()).unwrap_or(nix::libc::time_t::MAX),
        tv_usec: nix::libc::suseconds_t::from(
            timeout
                .subsec_micros()
                .max(u32::from(timeout.as_secs() == 0)),
        ),
    }
}

/// SO_RCVBUFFORCE (exceeds net.core.rmem_max; needs CAP_NET_ADMIN), else
/// SO_RCVBUF.
fn set_receive_buffer(socket: &OwnedFd, bytes: usize) -> io::Result<()> {
    setsockopt(socket, sockopt::RcvBufForce, &bytes)
        .or_else(|_| setsockopt(socket, sockopt::RcvBuf, &bytes))
        .map_err(io::Error::from)
}

/// The MTU in /sys/class/net/DEV, when that directory is the device with
/// interface index `ifindex` (sysfs shows the network namespace it was
/// mounted in, which a setns thread does not change).
fn sysfs_mtu(device: &str, ifindex: u32) -> Option<usize> {
    let directory = Path::new("/sys/class/net").join(device);
    let read = |file: &str| fs::read_to_string(directory.join(file)).ok();
    let index: u32 = read("ifindex")?.trim().parse().ok()?;
    if index != ifindex {
        return None;
    }
    read("mtu")?.trim().parse().ok()
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        &self.state.name
    }

    fn recv_batch(
        &mut self,
        bufs: &mut [PacketBuf],
        timeout: Duration,
    ) -> Result<usize, PortError> {
        if self.down {
            match self.device_state() {
                DeviceState::Gone => return Err(self.device_gone()),
                DeviceState::Down => {}
                DeviceState::Up => self.down = false,
            }
        }
        let result = match &mut self.io {
            Io::Pnet { source, .. } => self.state.recv_batch(source, bufs, timeout),
            Io::Mmsg(io) => self.state.recv_batch(io, bufs, timeout),
        };
        result.map_err(|error| self.classify(error))
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), PortError> {
        self.state.before_send(frame)?;
        let result = match &mut self.io {
            Io::Pnet { tx, .. } => tx
                .send_to(frame, None)
                .unwrap_or_else(|| Err(io::Error::other("pnet refused the frame"))),
            Io::Mmsg(io) => io.send_one(frame),
        };
        self.state.after_send(frame.len(), result)
    }

    fn send_batch(&mut self, frames: &[PacketBuf]) -> BatchSend {
        match &mut self.io {
            Io::Pnet { .. } => send_each(self, frames),
            Io::Mmsg(io) => io.send_batch(&mut self.state, frames),
        }
    }

    fn counters(&self) -> PortCounters {
        self.state.counters
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.io.socket())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_named() {
        let error = AfPacketPort::open("er", "erdp-no-such0", AfPacketConfig::default())
            .err()
            .unwrap();
        assert!(matches!(error, PortError::NoSuchDevice { .. }), "{error}");
        assert!(error.to_string().contains("erdp-no-such0"));
    }

    #[test]
    fn sysfs_mtu_checks_the_interface_index() {
        let lo_index = fs::read_to_string("/sys/class/net/lo/ifindex")
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        if let Some(index) = lo_index {
            assert_eq!(sysfs_mtu("lo", index), Some(65536));
            assert_eq!(sysfs_mtu("lo", index + 1000), None);
        }
        assert_eq!(sysfs_mtu("erdp-no-such0", 1), None);
    }
}
