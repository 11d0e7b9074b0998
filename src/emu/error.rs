//! Errors of building a simulation: what is wrong, with the names and
//! numbers involved.

use thiserror::Error;

use super::device::PortId;
use super::link::{DeviceId, LinkCaptureError, LinkConfigError, LinkId};

/// Why a topology, action or capture was refused.
#[derive(Debug, Error)]
pub enum EmuError {
    /// A device id that was never added.
    #[error("no device {0:?} in this simulation")]
    UnknownDevice(DeviceId),
    /// A link id that was never added.
    #[error("no link {0:?} in this simulation")]
    UnknownLink(LinkId),
    /// A port number past the device's ports.
    #[error("device {device} has {ports} ports, no port {}", port.0)]
    UnknownPort {
        /// The device's name.
        device: String,
        /// The port asked for.
        port: PortId,
        /// How many it has.
        ports: u16,
    },
    /// A port that already has a link.
    #[error("port {} of device {device} is already linked (link {link})", port.0)]
    PortInUse {
        /// The device's name.
        device: String,
        /// The port.
        port: PortId,
        /// The link already on it.
        link: String,
    },
    /// Two links with one name.
    #[error("a link named {0} already exists; link names must be unique")]
    DuplicateLinkName(String),
    /// A link setting that cannot work.
    #[error("link {link}: {source}")]
    LinkConfig {
        /// The link's name.
        link: String,
        /// What is wrong.
        source: LinkConfigError,
    },
    /// An action scheduled before the current time.
    #[error("action at {at} is in the past (now {now})")]
    ActionInPast {
        /// When it was asked for.
        at: super::time::SimTime,
        /// The current virtual time.
        now: super::time::SimTime,
    },
    /// A capture could not be opened or written.
    #[error(transparent)]
    Capture(#[from] LinkCaptureError),
}
