//! Why an ESP packet was dropped, per-SA atomic counters and lifetime
//! events (RFC 4301 section 4.4.2.1 soft and hard lifetimes). Every drop has a
//! reason and a counter; nothing is dropped silently.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use thiserror::Error;

use super::config::Lifetime;

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

    fn index(self) -> usize {
        self as usize
    }
}

impl From<EspDrop> for &'static str {
    fn from(d: EspDrop) -> &'static str {
        d.as_str()
    }
}

/// A lifetime limit crossed by the packet just processed. Each event fires
/// exactly once per SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeEvent {
    /// A soft limit was reached: time to rekey.
    SoftLimitReached,
    /// A hard limit was reached: the SA refuses further packets.
    HardLimitReached,
}

/// Per-SA counters, updated atomically by every worker thread.
#[derive(Debug)]
pub struct SaCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    drops: [AtomicU64; EspDrop::COUNT],
    resyncs: AtomicU64,
}

/// A copy of an SA's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaStats {
    /// Packets processed successfully.
    pub packets: u64,
    /// Inner bytes processed successfully.
    pub bytes: u64,
    /// Drops by reason (only non-zero ones in reports).
    pub drops: Vec<(EspDrop, u64)>,
    /// ESN resynchronisations (RFC 4303 Appendix A3).
    pub resyncs: u64,
    /// The soft lifetime was reached.
    pub soft_limit_reached: bool,
    /// The hard lifetime was reached (the SA is stopped).
    pub hard_limit_reached: bool,
}

impl SaStats {
    /// The count for one drop reason.
    pub fn drops_of(&self, reason: EspDrop) -> u64 {
        self.drops
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// All drops together.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().map(|(_, n)| n).sum()
    }
}

impl SaCounters {
    pub(crate) fn new() -> Self {
        SaCounters {
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            resyncs: AtomicU64::new(0),
        }
    }

    /// Counts a drop and hands the reason back, for `Err(counters.drop(r))`.
    #[inline]
    pub(crate) fn drop(&self, reason: EspDrop) -> EspDrop {
        if let Some(c) = self.drops.get(reason.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        reason
    }

    pub(crate) fn count_resync(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    /// True once a hard limit is reached: no new packet may start.
    #[inline]
    pub(crate) fn hard_limit_reached(&self, limits: &Limits) -> bool {
        self.packets.load(Ordering::Relaxed) >= limits.hard_packets
            || self.bytes.load(Ordering::Relaxed) >= limits.hard_bytes
    }

    /// Counts one successful packet of `bytes` and reports a limit it
    /// crossed. Concurrent workers may overshoot a hard limit by at most one
    /// packet each (the check happens before the packet starts).
    #[inline]
    pub(crate) fn count_packet(&self, bytes: u64, limits: &Limits) -> Option<LifetimeEvent> {
        let packets_before = self.packets.fetch_add(1, Ordering::Relaxed);
        let bytes_before = self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let packets_after = packets_before + 1;
        let bytes_after = bytes_before.saturating_add(bytes);
        let crossed = |before: u64, after: u64, limit: u64| before < limit && after >= limit;
        // fetch_add hands every thread a distinct `before`, so exactly one
        // thread sees each crossing.
        let hard = crossed(packets_before, packets_after, limits.hard_packets)
            && bytes_before < limits.hard_bytes
            || crossed(bytes_before, bytes_after, limits.hard_bytes)
                && packets_before < limits.hard_packets;
        if hard {
            return Some(LifetimeEvent::HardLimitReached);
        }
        let soft = crossed(packets_before, packets_after, limits.soft_packets)
            && bytes_before < limits.soft_bytes
            || crossed(bytes_before, bytes_after, limits.soft_bytes)
                && packets_before < limits.soft_packets;
        soft.then_some(LifetimeEvent::SoftLimitReached)
    }

    /// A snapshot for reports.
    pub fn snapshot(&self, limits: &Limits) -> SaStats {
        let packets = self.packets.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        SaStats {
            packets,
            bytes,
            drops: EspDrop::ALL
                .iter()
                .zip(self.drops.iter())
                .map(|(r, c)| (*r, c.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            resyncs: self.resyncs.load(Ordering::Relaxed),
            soft_limit_reached: packets >= limits.soft_packets || bytes >= limits.soft_bytes,
            hard_limit_reached: packets >= limits.hard_packets || bytes >= limits.hard_bytes,
        }
    }
}

/// Lifetime limits with `u64::MAX` for "none", so the hot path compares
/// without branching on options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub(crate) soft_bytes: u64,
    pub(crate) hard_bytes: u64,
    pub(crate) soft_packets: u64,
    pub(crate) hard_packets: u64,
}

impl From<&Lifetime> for Limits {
    fn from(l: &Lifetime) -> Self {
        Limits {
            soft_bytes: l.soft_bytes.unwrap_or(u64::MAX),
            hard_bytes: l.hard_bytes.unwrap_or(u64::MAX),
            soft_packets: l.soft_packets.unwrap_or(u64::MAX),
            hard_packets: l.hard_packets.unwrap_or(u64::MAX),
        }
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

    #[test]
    fn lifetime_events_fire_once_each() {
        let limits = Limits::from(&Lifetime {
            soft_packets: Some(2),
            hard_packets: Some(4),
            ..Lifetime::default()
        });
        let c = SaCounters::new();
        let events: Vec<_> = (0..6)
            .map(|_| {
                let stopped = c.hard_limit_reached(&limits);
                (
                    stopped,
                    (!stopped).then(|| c.count_packet(100, &limits)).flatten(),
                )
            })
            .collect();
        assert_eq!(
            events,
            vec![
                (false, None),
                (false, Some(LifetimeEvent::SoftLimitReached)),
                (false, None),
                (false, Some(LifetimeEvent::HardLimitReached)),
                (true, None),
                (true, None),
            ]
        );
        let s = c.snapshot(&limits);
        assert!(s.soft_limit_reached && s.hard_limit_reached);
        assert_eq!((s.packets, s.bytes), (4, 400));
    }
}
