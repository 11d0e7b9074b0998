//! `--bind IFACE=DEVICE` for `erdp attach`: which node interface is served
//! by which Linux device, through AF_PACKET (`IFACE=eth1`) or a TAP device
//! erdp creates (`IFACE=tap:tap0`); opening it, optionally captured to
//! `DIR/IFACE.pcap`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;

use super::{
    AfPacketConfig, AfPacketPort, Port, PortError, RecordDirection, RecordingPort, TapConfig,
    TapPort,
};

/// Linux interface names hold at most 15 bytes (IFNAMSIZ - 1).
const MAX_DEVICE_NAME: usize = 15;

/// How a node interface reaches its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// An existing device, through an AF_PACKET socket.
    AfPacket,
    /// A TAP device erdp creates (or attaches to).
    Tap,
}

/// One `--bind IFACE=DEVICE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    /// The node interface (as named in the node config).
    pub interface: String,
    /// The Linux device name.
    pub device: String,
    pub kind: DeviceKind,
}

impl FromStr for BindSpec {
    type Err = PortError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |reason| PortError::BadBinding {
            spec: spec.to_owned(),
            reason,
        };
        let (interface, device) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
        let (kind, device) = match device.split_once(':') {
            Some(("tap", name)) => (DeviceKind::Tap, name),
            Some(("afpacket", name)) => (DeviceKind::AfPacket, name),
            Some(_) => return Err(bad("unknown device kind before ':' (tap or afpacket)")),
            None => (DeviceKind::AfPacket, device),
        };
        if interface.is_empty() {
            return Err(bad("empty interface name"));
        }
        if device.is_empty() {
            return Err(bad("empty device name"));
        }
        if device.len() > MAX_DEVICE_NAME {
            return Err(bad("device name longer than 15 bytes"));
        }
        if device == "." || device == ".." {
            return Err(bad("device name cannot be '.' or '..'"));
        }
        if device.bytes().any(|byte| {
            byte == b'/' || byte == b':' || byte.is_ascii_whitespace() || byte.is_ascii_control()
        }) {
            return Err(bad(
                "device name holds '/', ':', a space or a control character",
            ));
        }
        Ok(Self {
            interface: interface.to_owned(),
            device: device.to_owned(),
            kind,
        })
    }
}

/// How bound devices are opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub af_packet: AfPacketConfig,
    pub tap: TapConfig,
    /// Capture every port's frames (both directions) to `DIR/IFACE.pcap`.
    pub capture_dir: Option<PathBuf>,
}

impl BindSpec {
    /// Opens the device as a port named after the interface.
    pub fn open(&self, options: &OpenOptions) -> Result<Box<dyn Port>, PortError> {
        let port: Box<dyn Port> = match self.kind {
            DeviceKind::AfPacket => Box::new(AfPacketPort::open(
                &self.interface,
                &self.device,
                options.af_packet,
            )?),
            DeviceKind::Tap => Box::new(TapPort::open(&self.interface, &self.device, options.tap)?),
        };
        match &options.capture_dir {
            None => Ok(port),
            Some(directory) => {
                let path = directory.join(format!("{}.pcap", self.interface));
                Ok(Box::new(RecordingPort::create(
                    port,
                    path,
                    RecordDirection::Both,
                )?))
            }
        }
    }

    /// Checks that no interface and no device is bound twice.
    pub fn check_unique(specs: &[BindSpec]) -> Result<(), PortError> {
        let mut interfaces = HashSet::new();
        let mut devices = HashSet::new();
        for spec in specs {
            let text = format!("{}={}", spec.interface, spec.device);
            if !interfaces.insert(spec.interface.as_str()) {
                return Err(PortError::BadBinding {
                    spec: text,
                    reason: "this interface is bound twice",
                });
            }
            if !devices.insert(spec.device.as_str()) {
                return Err(PortError::BadBinding {
                    spec: text,
                    reason: "this device is bound twice",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<BindSpec, String> {
        spec.parse::<BindSpec>().map_err(|error| error.to_string())
    }

    #[test]
    fn parses_both_kinds() {
        assert_eq!(
            parse("er=veth1").unwrap(),
            BindSpec {
                interface: "er".into(),
                device: "veth1".into(),
                kind: DeviceKind::AfPacket
            }
        );
        assert_eq!(parse("lan=tap:tap0").unwrap().kind, DeviceKind::Tap);
        assert_eq!(parse("lan=afpacket:eth0").unwrap().device, "eth0");
    }

    #[test]
    fn refuses_bad_specs_with_the_reason() {
        for (spec, reason) in [
            ("er", "no '='"),
            ("=veth1", "empty interface"),
            ("er=", "empty device"),
            ("er=tap:", "empty device"),
            ("er=bridge:br0", "unknown device kind"),
            ("er=abcdefghijklmnop", "longer than 15"),
            ("er=..", "'.' or '..'"),
            ("er=a/b", "'/'"),
            ("er=a b", "a space"),
        ] {
            let error = parse(spec).unwrap_err();
            assert!(error.contains(reason), "{spec}: {error}");
            assert!(error.contains(&format!("{spec:?}")), "{spec}: {error}");
        }
    }

    #[test]
    fn clap_parses_repeated_bind_options() {
        use clap::Parser;
        #[derive(Parser)]
        struct Args {
            #[arg(long = "bind")]
            bind: Vec<BindSpec>,
        }
        let args = Args::try_parse_from(["attach", "--bind", "lan=veth0", "--bind", "er=tap:tap0"])
            .unwrap();
        assert_eq!(args.bind.len(), 2);
        assert_eq!(args.bind[1].kind, DeviceKind::Tap);
        let error = Args::try_parse_from(["attach", "--bind", "lan"])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("no '='"), "{error}");
    }

    #[test]
    fn refuses_double_bindings() {
        let specs: Vec<BindSpec> = ["lan=veth0", "er=veth1"]
            .iter()
            .map(|spec| spec.parse().unwrap())
            .collect();
        assert!(BindSpec::check_unique(&specs).is_ok());
        let twice_iface: Vec<BindSpec> = ["lan=veth0", "lan=veth1"]
            .iter()
            .map(|spec| spec.parse().unwrap())
            .collect();
        let error = BindSpec::check_unique(&twice_iface)
            .unwrap_err()
            .to_string();
        assert!(error.contains("interface is bound twice"), "{error}");
        let twice_device: Vec<BindSpec> = ["lan=veth0", "er=tap:veth0"]
            .iter()
            .map(|spec| spec.parse().unwrap())
            .collect();
        let error = BindSpec::check_unique(&twice_device)
            .unwrap_err()
            .to_string();
        assert!(error.contains("device is bound twice"), "{error}");
    }
}
