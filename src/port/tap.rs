//! A port on a Linux TAP device (IFF_TAP | IFF_NO_PI, through tun-rs): the
//! kernel sees a network device; frames it transmits there are what this
//! port receives, and frames this port sends arrive in the kernel as if
//! from a wire. A TAP does not echo our own frames back.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use tun_rs::{DeviceBuilder, Layer, SyncDevice};

use super::device::{FrameSource, PortState};
use super::{Port, PortCounters, PortError};
use crate::packet::PacketBuf;
use crate::wire::{ETHERNET_HEADER_LEN, MacAddr};

/// Read buffer: larger than any frame a TAP hands over, so an oversize
/// frame is seen whole and counted, never cut short.
const READ_BUFFER: usize = 64 * 1024 + ETHERNET_HEADER_LEN;

/// Settings of a TAP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TapConfig {
    /// Sets the device MTU; `None` keeps it (1500 for a new device).
    pub mtu: Option<u16>,
    /// Sets the kernel side's MAC address; `None` keeps it.
    pub mac: Option<MacAddr>,
    /// Brings the device up (`ip link set NAME up`).
    pub up: bool,
}

/// The TAP descriptor and a buffer to read whole frames into.
struct TapSource {
    device: SyncDevice,
    scratch: Box<[u8]>,
}

impl FrameSource for TapSource {
    fn read_frame(&mut self) -> io::Result<Option<&[u8]>> {
        match self.device.recv(&mut self.scratch) {
            Ok(len) => Ok(self.scratch.get(..len)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn readiness(&self) -> BorrowedFd<'_> {
        self.device.as_fd()
    }
}

/// A port on a TAP device.
pub struct TapPort {
    device_name: String,
    mtu: usize,
    kernel_mac: MacAddr,
    source: TapSource,
    state: PortState,
}

impl TapPort {
    /// Creates the TAP device `device` (or attaches to an existing
    /// persistent one of that name, as made by `ip tuntap add dev NAME mode
    /// tap`) for the port `name`. A device this call created disappears
    /// when the port is dropped. Needs CAP_NET_ADMIN (root).
    pub fn open(name: &str, device: &str, config: TapConfig) -> Result<Self, PortError> {
        let open_error = |action: &'static str, source: io::Error| PortError::Open {
            port: name.to_owned(),
            device: device.to_owned(),
            action,
            source,
        };
        let mut builder = DeviceBuilder::new()
            .name(device)
            .layer(Layer::L2)
            .enable(config.up);
        if let Some(mtu) = config.mtu {
            builder = builder.mtu(mtu);
        }
        if let Some(mac) = config.mac {
            builder = builder.mac_addr(mac.0);
        }
        let tap = builder
            .build_sync()
            .map_err(|source| open_error("create (needs root or CAP_NET_ADMIN) the TAP", source))?;
        tap.set_nonblocking(true)
            .map_err(|source| open_error("make non-blocking the TAP", source))?;
        let mtu = usize::from(
            tap.mtu()
                .map_err(|source| open_error("read the MTU of the TAP", source))?,
        );
        // Read now: these ioctls go through a socket of the calling
        // thread's network namespace, which must be the device's.
        let kernel_mac = MacAddr(
            tap.mac_address()
                .map_err(|source| open_error("read the MAC address of the TAP", source))?,
        );
        Ok(Self {
            device_name: device.to_owned(),
            mtu,
            kernel_mac,
            source: TapSource {
                device: tap,
                scratch: vec![0; READ_BUFFER].into_boxed_slice(),
            },
            state: PortState::new(name, mtu, None),
        })
    }

    /// The TAP device's name.
    pub fn device(&self) -> &str {
        &self.device_name
    }

    /// The device MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The kernel side's MAC address (when the port was opened).
    pub fn kernel_mac(&self) -> MacAddr {
        self.kernel_mac
    }
}

impl TapPort {
    /// EBADFD means the device was deleted under the open descriptor.
    fn classify(&self, error: PortError) -> PortError {
        let gone = matches!(
            &error,
            PortError::Recv { source, .. } | PortError::Send { source, .. }
                if source.raw_os_error() == Some(nix::libc::EBADFD)
        );
        if gone {
            PortError::DeviceGone {
                port: self.state.name.clone(),
                device: self.device_name.clone(),
            }
        } else {
            error
        }
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.state.name
    }

    fn recv_batch(
        &mut self,
        bufs: &mut [PacketBuf],
        timeout: Duration,
    ) -> Result<usize, PortError> {
        self.state
            .recv_batch(&mut self.source, bufs, timeout)
            .map_err(|error| self.classify(error))
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), PortError> {
        self.state.before_send(frame)?;
        let result = match self.source.device.send(frame) {
            Ok(written) if written == frame.len() => Ok(()),
            Ok(written) => Err(io::Error::other(format!(
                "the TAP took {written} of the bytes"
            ))),
            Err(error) => Err(error),
        };
        self.state
            .after_send(frame.len(), result)
            .map_err(|error| self.classify(error))
    }

    fn counters(&self) -> PortCounters {
        self.state.counters
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.source.readiness())
    }
}
