//! Port errors: each names the port, the device where there is one, and
//! the operating system's reason.

use std::io;

use thiserror::Error;

use crate::capture::CaptureError;

/// What went wrong on a port.
#[derive(Debug, Error)]
pub enum PortError {
    /// The device could not be opened or configured.
    #[error("port {port}: cannot {action} device {device}: {source}")]
    Open {
        port: String,
        device: String,
        action: &'static str,
        source: io::Error,
    },
    /// No device of that name in this network namespace.
    #[error(
        "port {port}: no device named {device} in this network namespace (see `ip link`; run erdp inside the device's namespace with `ip netns exec NS erdp ...`)"
    )]
    NoSuchDevice { port: String, device: String },
    /// The device was deleted while the port was open.
    #[error("port {port}: device {device} is gone (deleted or moved to another namespace)")]
    DeviceGone { port: String, device: String },
    /// Reading from the device failed.
    #[error("port {port}: receive failed: {source}")]
    Recv { port: String, source: io::Error },
    /// Writing a frame to the device failed.
    #[error("port {port}: sending a {len}-byte frame failed: {source}")]
    Send {
        port: String,
        len: usize,
        source: io::Error,
    },
    /// The frame is larger than the port's MTU + 14 and was not sent.
    #[error(
        "port {port}: a {len}-byte frame exceeds the largest frame the port carries ({max} bytes: MTU + 14)"
    )]
    FrameTooLarge {
        port: String,
        len: usize,
        max: usize,
    },
    /// An in-memory queue is full; the frame was not sent.
    #[error("port {port}: queue full ({capacity} frames), a {len}-byte frame was not sent")]
    QueueFull {
        port: String,
        len: usize,
        capacity: usize,
    },
    /// The other end of an in-memory port is gone.
    #[error("port {port}: the peer port is gone")]
    Disconnected { port: String },
    /// A `--bind` specification could not be parsed.
    #[error("bad binding {spec:?}: {reason} (expected IFACE=DEVICE or IFACE=tap:NAME)")]
    BadBinding { spec: String, reason: &'static str },
    /// Writing the capture file of a port failed.
    #[error("port {port}: capture: {source}")]
    Capture {
        port: String,
        #[source]
        source: CaptureError,
    },
}

impl PortError {
    /// True when the port cannot carry frames any more (the device or the
    /// peer is gone), as opposed to a failure of one frame or one call.
    pub fn is_fatal(&self) -> bool {
        match self {
            PortError::Disconnected { .. }
            | PortError::NoSuchDevice { .. }
            | PortError::DeviceGone { .. } => true,
            PortError::Recv { source, .. } | PortError::Send { source, .. } => {
                matches!(
                    source.raw_os_error(),
                    Some(nix::libc::ENODEV | nix::libc::ENXIO | nix::libc::EBADF)
                )
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_port_device_and_reason() {
        let error = PortError::Open {
            port: "er".into(),
            device: "veth0".into(),
            action: "open an AF_PACKET socket on",
            source: io::Error::from_raw_os_error(nix::libc::EPERM),
        };
        let text = error.to_string();
        assert!(text.contains("port er"), "{text}");
        assert!(text.contains("veth0"), "{text}");
        assert!(text.contains("not permitted"), "{text}");
        assert!(!error.is_fatal());
    }

    #[test]
    fn a_vanished_device_is_fatal() {
        let gone = PortError::Recv {
            port: "lan".into(),
            source: io::Error::from_raw_os_error(nix::libc::ENODEV),
        };
        assert!(gone.is_fatal());
        let busy = PortError::Send {
            port: "lan".into(),
            len: 60,
            source: io::Error::from_raw_os_error(nix::libc::ENOBUFS),
        };
        assert!(!busy.is_fatal());
    }
}
