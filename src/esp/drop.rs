//! Why an ESP packet was dropped (RFC 4303 sections 3.3 and 3.4, RFC 4301
//! section 4.4.2.1). Every drop has a reason and a per-SA counter (see
//! `counters`); nothing is dropped silently.

use serde::Serialize;
use thiserror::Error;

use crate::reason::reason_enum;

reason_enum! {
    /// The reason an ESP packet was not encapsulated or decapsulated; the
    /// node reports it as `esp_` and its name.
    #[derive(Error, Serialize)]
    #[serde(into = "&'static str")]
    pub enum EspDrop (prefix "esp_") {
        /// No inbound SA has the packet's SPI (and destination).
        #[error("unknown SPI")]
        UnknownSpi = "unknown_spi",
        /// The packet is not ESP (nor ESP in UDP) for this SA.
        #[error("not an ESP packet")]
        NotEsp = "not_esp",
        /// The sequence number was already received (RFC 4303 section 3.4.3).
        #[error("replayed sequence number")]
        Replayed = "replayed",
        /// The sequence number is left of the anti-replay window.
        #[error("sequence number outside the anti-replay window")]
        OutsideWindow = "outside_window",
        /// The integrity check value did not verify.
        #[error("ICV check failed")]
        IcvFailed = "icv_failed",
        /// Padding bytes are not 1, 2, 3, ... or the pad length overruns the
        /// payload (RFC 4303 section 2.4).
        #[error("bad ESP padding")]
        BadPadding = "bad_padding",
        /// The ESP next header is not 4/41, or disagrees with the inner packet's
        /// IP version.
        #[error("next header does not match the inner packet")]
        NextHeaderMismatch = "next_header_mismatch",
        /// The packet ends before a header, the ESP trailer or the ICV.
        #[error("truncated packet")]
        Truncated = "truncated",
        /// The outer IP (or UDP) header is malformed: version, header length,
        /// total length or header checksum.
        #[error("malformed outer header")]
        BadOuterHeader = "bad_outer_header",
        /// The outer packet is an IP fragment (reassembly is not done here).
        #[error("outer packet is a fragment")]
        Fragment = "fragment",
        /// The inner packet is not a well-formed IPv4 or IPv6 packet.
        #[error("malformed inner packet")]
        BadInnerPacket = "bad_inner_packet",
        /// A dummy packet (next header 59, RFC 4303 section 2.6), discarded.
        #[error("dummy packet (next header 59)")]
        DummyPacket = "dummy_packet",
        /// Sending would pass the last sequence number (2^32 - 1 without ESN,
        /// 2^64 - 1 with ESN): the SA must be rekeyed.
        #[error("sequence number would cycle")]
        SequenceCycled = "sequence_cycled",
        /// The SA reached a hard lifetime (bytes or packets).
        #[error("SA expired (hard lifetime reached)")]
        SaExpired = "sa_expired",
        /// The inner source or destination is outside the SA's traffic selectors.
        #[error("inner addresses outside the traffic selectors")]
        TrafficSelectorMismatch = "traffic_selector_mismatch",
        /// The outer header carried CE over a Not-ECT inner packet (RFC 6040
        /// section 4.2: drop).
        #[error("CE on a not-ECN-capable inner packet")]
        EcnCeOnNotEct = "ecn_ce_on_not_ect",
        /// The packet buffer lacks headroom or tailroom for the encapsulation.
        #[error("packet buffer too small")]
        BufferTooSmall = "buffer_too_small",
        /// The outer packet would exceed the 65535-byte IP length limit.
        #[error("outer packet would exceed the IP length limit")]
        Oversize = "oversize",
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
