//! The serialisable views of a [`super::FlowTable`]: flows, their paths
//! and totals, the untracked aggregate and policy violations, with
//! interface and policy names resolved and each 5-tuple formatted once.

use std::collections::BTreeMap;

use std::net::IpAddr;

use etherparse::IpNumber;
use serde::Serialize;

use crate::wire::FlowKey;

/// `tcp`, `udp`, `icmp`, `ipv6-icmp`, `esp`, ... or the number.
pub fn protocol_name(protocol: IpNumber) -> String {
    protocol
        .keyword_str()
        .map_or_else(|| protocol.0.to_string(), str::to_ascii_lowercase)
}

/// One flow in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowReport {
    /// The inner 5-tuple.
    #[serde(flatten)]
    pub id: FlowId,
    /// The input frame number (from 1) of its first packet.
    pub first_frame: u64,
    /// What its packets did.
    #[serde(flatten)]
    pub totals: FlowTotals,
}

/// What the packets of a flow (or of every untracked flow) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowTotals {
    /// Packets given to the node.
    pub packets: u64,
    /// Their bytes as received.
    pub bytes: u64,
    /// Packets forwarded (the sum over `paths`).
    pub forwarded: u64,
    /// Packets delivered to the node.
    pub delivered: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Drops by reason.
    pub drop_reasons: BTreeMap<String, u64>,
    /// The SPI of the SA it arrived under, when it arrived in ESP.
    pub arrived_encrypted_spi: Option<String>,
    /// The ways it left.
    pub paths: Vec<PathReport>,
    /// The must-encrypt policy covering it, if any.
    pub policy: Option<String>,
    /// Its worst verdict: `violation`, `encrypted`, `not_covered`,
    /// `unchecked`.
    pub verdict: &'static str,
}

/// The packets of the flows beyond the cap, folded together (their totals
/// are exact; their number is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UntrackedFlows {
    /// What their packets did.
    #[serde(flatten)]
    pub totals: FlowTotals,
    /// Violations beyond the cap.
    pub violations: UntrackedViolations,
}

/// Violating packets whose (flow, policy, egress) was beyond the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UntrackedViolations {
    /// Violating packets.
    pub packets: u64,
    /// Of those, dropped because the policy fails closed.
    pub dropped: u64,
}

/// One egress path of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathReport {
    /// The Ethernet interface the frames left on.
    pub egress: String,
    /// `encrypted` (inside ESP) or `plain`.
    pub path: &'static str,
    /// The tunnel, when encrypted.
    pub tunnel: Option<String>,
    /// The outbound SA's SPI, when encrypted.
    pub spi: Option<String>,
    /// Packets on this path.
    pub packets: u64,
    /// Their bytes as sent (outer bytes when encrypted).
    pub bytes: u64,
}

/// A must-encrypt policy violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViolationReport {
    /// The policy.
    pub policy: String,
    /// The inner 5-tuple.
    #[serde(flatten)]
    pub id: FlowId,
    /// The plain interface it left on (or would have).
    pub egress: Option<String>,
    /// The input frame number of the first violating packet.
    pub first_frame: u64,
    /// Violating packets.
    pub packets: u64,
    /// Of those, dropped because the policy fails closed.
    pub dropped: u64,
}

/// A flow's 5-tuple as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowId {
    /// The 5-tuple, printed (`TCP 10.0.1.10:40000 -> 10.1.0.10:443`).
    pub flow: String,
    /// Inner source address.
    pub source: String,
    /// Inner destination address.
    pub destination: String,
    /// `tcp`, `udp`, `icmp`, `ipv6-icmp`, ... or the protocol number.
    pub protocol: String,
    /// Source port (ICMP echo: the identifier).
    pub source_port: u16,
    /// Destination port.
    pub destination_port: u16,
}

impl From<&FlowKey> for FlowId {
    /// Formats each address once (the printed 5-tuple copies them) with
    /// no formatting machinery for IPv4 and the ports; the 5-tuple reads as
    /// [`FlowKey`]'s `Display`.
    fn from(key: &FlowKey) -> Self {
        let source = address_text(key.source);
        let destination = address_text(key.destination);
        let mut number = String::new();
        let keyword = match key.protocol.keyword_str() {
            Some(keyword) => keyword,
            None => {
                push_decimal(&mut number, u16::from(key.protocol.0));
                number.as_str()
            }
        };
        let v6 = key.source.is_ipv6() || key.destination.is_ipv6();
        let (open, close) = if v6 { ("[", "]") } else { ("", "") };
        let mut flow = String::with_capacity(keyword.len() + source.len() + destination.len() + 24);
        for part in [keyword, " ", open, &source, close, ":"] {
            flow.push_str(part);
        }
        push_decimal(&mut flow, key.source_port);
        for part in [" -> ", open, &destination, close, ":"] {
            flow.push_str(part);
        }
        push_decimal(&mut flow, key.destination_port);
        Self {
            flow,
            source,
            destination,
            protocol: keyword.to_ascii_lowercase(),
            source_port: key.source_port,
            destination_port: key.destination_port,
        }
    }
}

/// An address as `Display` prints it; IPv4 digit by digit.
fn address_text(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                push_decimal(&mut text, u16::from(octet));
            }
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// Appends `value` in decimal.
fn push_decimal(out: &mut String, mut value: u16) {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(digit) = digits.get_mut(start) {
            *digit = b'0' + (value % 10) as u8;
        }
        value /= 10;
        if value == 0 || start == 0 {
            break;
        }
    }
    for digit in digits.iter().skip(start) {
        out.push(char::from(*digit));
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn flow_ids_print_like_the_key() {
        let v4 = FlowKey {
            source: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            destination: IpAddr::V4(Ipv4Addr::new(10, 1, 0, 10)),
            protocol: IpNumber::UDP,
            source_port: 1024,
            destination_port: 53,
        };
        let v6 = FlowKey {
            source: IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x10)),
            destination: IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x10)),
            protocol: IpNumber::TCP,
            source_port: 40000,
            destination_port: 443,
        };
        let unknown = FlowKey {
            protocol: IpNumber(253),
            ..v4
        };
        let edges = FlowKey {
            source: IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)),
            destination: IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)),
            protocol: IpNumber(0),
            source_port: 0,
            destination_port: u16::MAX,
        };
        let mixed = FlowKey {
            source: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 109)),
            protocol: IpNumber(99),
            destination_port: 10,
            ..v6
        };
        for key in [v4, v6, unknown, edges, mixed] {
            let id = FlowId::from(&key);
            assert_eq!(id.flow, key.to_string());
            assert_eq!(id.source, key.source.to_string());
            assert_eq!(id.destination, key.destination.to_string());
            assert_eq!(id.protocol, protocol_name(key.protocol));
        }
    }
}
