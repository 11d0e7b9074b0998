//! Why an ESP packet was dropped (RFC 4303 sections 3.3 and 3.4, RFC 4301
//! section 4.4.2.1). Every drop has a reason and a per-SA counter (see
//! `counters`); nothing is dropped silently.

use serde::Serialize;
use thiserror::Error;

/// The reason an ESP packet was not encapsulated or decapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error, Serialize)]
#[serde(into = "&'static str")]
#[repr(u8)]
pub enum EspDrop {
    /// No inbound SA has the packet's SPI (and destination).
    #[error("unknown SPI")]
    UnknownSpi,
    /// The packet is not ESP (nor ESP in UDP) for this SA.
    #[error("not an ESP packet")]
    NotEsp,
    /// The sequence number was already received (RFC 4303 section 3.4.3).
    #[error("replayed sequence number")]
    Replayed,
    /// The sequence number is left of the anti-replay window.
    #[error("sequence number outside the anti-replay window")]
    OutsideWindow,
    /// The integrity check value did not verify.
    #[error("ICV check failed")]
    IcvFailed,
    /// Padding bytes are not 1, 2, 3, ... or the pad length overruns the
    /// payload (RFC 4303 section 2.4).
    #[error("bad ESP padding")]
    BadPadding,
    /// The ESP next header is not 4/41, or disagrees with the inner packet's
    /// IP version.
    #[error("next header does not match the inner packet")]
    NextHeaderMismatch,
    /// The packet ends before a header, the ESP trailer or the ICV.
    #[error("truncated packet")]
    Truncated,
    /// The outer IP (or UDP) header is malformed: version, header length,
    /// total length or header checksum.
    #[error("malformed outer header")]
    BadOuterHeader,
    /// The outer packet is an IP fragment (reassembly is not done here).
    #[error("outer packet is a fragment")]
    Fragment,
    /// The inner packet is not a well-formed IPv4 or IPv6 packet.
    #[error("malformed inner packet")]
    BadInnerPacket,
    /// A dummy packet (next header 59, RFC 4303 section 2.6), discarded.
    #[error("dummy packet (next header 59)")]
    DummyPacket,
    /// Sending would pass the last sequence number (2^32 - 1 without ESN,
    /// 2^64 - 1 with ESN): the SA must be rekeyed.
    #[error("sequence number would cycle")]
    SequenceCycled,
    /// The SA reached a hard lifetime (bytes or packets).
    #[error("SA expired (hard lifetime reached)")]
    SaExpired,
    /// The inner source or destination is outside the SA's traffic selectors.
    #[error("inner addresses outside the traffic selectors")]
    TrafficSelectorMismatch,
    /// The outer header carried CE over a Not-ECT inner packet (RFC 6040
    /// section 4.2: drop).
    #[error("CE on a not-ECN-capable inner packet")]
    EcnCeOnNotEct,
    /// The packet buffer lacks headroom or tailroom for the encapsulation.
    #[error("packet buffer too small")]
    BufferTooSmall,
    /// The outer packet would exceed the 65535-byte IP length limit.
    #[error("outer packet would exceed the IP length limit")]
    Oversize,
}

impl EspDrop {
    /// Every reason, in counter order.
    pub const ALL: [EspDrop; 18] = [
        EspDrop::UnknownSpi,
        EspDrop::NotEsp,
        EspDrop::Replayed,
        EspDrop::OutsideWindow,
        EspDrop::IcvFailed,
        EspDrop::BadPadding,
        EspDrop::NextHeaderMismatch,
        EspDrop::Truncated,
        EspDrop::BadOuterHeader,
        EspDrop::Fragment,
        EspDrop::BadInnerPacket,
        EspDrop::DummyPacket,
        EspDrop::SequenceCycled,
        EspDrop::SaExpired,
        EspDrop::TrafficSelectorMismatch,
        EspDrop::EcnCeOnNotEct,
        EspDrop::BufferTooSmall,
        EspDrop::Oversize,
    ];

    /// Number of reasons.
    pub const COUNT: usize = Self::ALL.len();

    /// Stable snake_case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            EspDrop::UnknownSpi => "unknown_spi",
            EspDrop::NotEsp => "not_esp",
            EspDrop::Replayed => "replayed",
            EspDrop::OutsideWindow => "outside_window",
            EspDrop::IcvFailed => "icv_failed",
            EspDrop::BadPadding => "bad_padding",
            EspDrop::NextHeaderMismatch => "next_header_mismatch",
            EspDrop::Truncated => "truncated",
            EspDrop::BadOuterHeader => "bad_outer_header",
            EspDrop::Fragment => "fragment",
            EspDrop::BadInnerPacket => "bad_inner_packet",
            EspDrop::DummyPacket => "dummy_packet",
            EspDrop::SequenceCycled => "sequence_cycled",
            EspDrop::SaExpired => "sa_expired",
            EspDrop::TrafficSelectorMismatch => "traffic_selector_mismatch",
            EspDrop::EcnCeOnNotEct => "ecn_ce_on_not_ect",
            EspDrop::BufferTooSmall => "buffer_too_small",
            EspDrop::Oversize => "oversize",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl From<EspDrop> for &'static str {
    fn from(d: EspDrop) -> &'static str {
        d.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_in_index_order() {
        let mut seen = std::collections::HashSet::new();
        for (i, d) in EspDrop::ALL.iter().enumerate() {
            assert_eq!(d.index(), i, "{d:?}");
            assert!(seen.insert(d.as_str()));
            assert!(
                d.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
            assert!(!d.to_string().is_empty());
        }
    }
}
