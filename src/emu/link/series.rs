//! A link's throughput over virtual time, for reports and their charts:
//! bytes delivered per time bucket, split into ESP (RFC 4303, bare or in
//! UDP per RFC 3948), other IP (plaintext) and non-IP frames (ARP).
//! Bounded: past [`MAX_BUCKETS`] buckets the width doubles and pairs merge.

use std::time::Duration;

use serde::Serialize;

use super::super::time::SimTime;
use crate::esp::{NAT_T_PORT, PacketClass, classify};
use crate::wire::{ETHERNET_HEADER_LEN, EtherType};

/// Most buckets a series keeps (a longer run gets wider buckets).
pub const MAX_BUCKETS: usize = 512;
/// The bucket width a series starts with.
pub const DEFAULT_BUCKET: Duration = Duration::from_millis(100);

/// What a frame on a link carried, for the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    /// An ESP packet (the tunnel).
    Esp,
    /// An IP packet that is not ESP: plaintext.
    Plain,
    /// Not IP (ARP).
    Other,
}

impl FrameClass {
    /// Classifies an Ethernet II frame.
    pub fn of(frame: &[u8]) -> Self {
        let ether_type = frame
            .get(ETHERNET_HEADER_LEN - 2..ETHERNET_HEADER_LEN)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(|b| EtherType(u16::from_be_bytes(b)));
        if !matches!(ether_type, Some(EtherType::IPV4 | EtherType::IPV6)) {
            return Self::Other;
        }
        let ip = frame.get(ETHERNET_HEADER_LEN..).unwrap_or(&[]);
        match classify(ip, NAT_T_PORT) {
            Ok(PacketClass::Esp(_)) => Self::Esp,
            _ => Self::Plain,
        }
    }
}

/// Records one link's delivered bytes per bucket. Its buffers are sized
/// once, so recording never allocates.
#[derive(Debug, Clone)]
pub struct SeriesRecorder {
    bucket_ns: u64,
    esp: Vec<u64>,
    plain: Vec<u64>,
    other: Vec<u64>,
}

impl SeriesRecorder {
    /// An empty series with buckets `bucket` wide (at least 1 ms).
    pub fn new(bucket: Duration) -> Self {
        let bucket_ns = u64::try_from(bucket.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1_000_000);
        let buffer = || Vec::with_capacity(MAX_BUCKETS);
        Self {
            bucket_ns,
            esp: buffer(),
            plain: buffer(),
            other: buffer(),
        }
    }

    /// The bucket width, in nanoseconds.
    pub(crate) fn bucket_ns(&self) -> u64 {
        self.bucket_ns
    }

    /// Counts a frame of `frame.len()` bytes delivered at `now`.
    #[inline]
    pub fn record(&mut self, now: SimTime, frame: &[u8]) {
        let index = self.slot(now.as_nanos());
        let counts = match FrameClass::of(frame) {
            FrameClass::Esp => &mut self.esp,
            FrameClass::Plain => &mut self.plain,
            FrameClass::Other => &mut self.other,
        };
        if let Some(n) = counts.get_mut(index) {
            *n += frame.len() as u64;
        }
    }

    /// The bucket of time `ns`, widening the buckets until it fits and
    /// growing the series up to it.
    fn slot(&mut self, ns: u64) -> usize {
        while ns / self.bucket_ns >= MAX_BUCKETS as u64 {
            self.widen();
        }
        let index = (ns / self.bucket_ns) as usize;
        if index >= self.esp.len() {
            for counts in [&mut self.esp, &mut self.plain, &mut self.other] {
                counts.resize(index + 1, 0);
            }
        }
        index
    }

    /// Doubles the bucket width, merging pairs of buckets.
    fn widen(&mut self) {
        self.bucket_ns = self.bucket_ns.saturating_mul(2);
        for counts in [&mut self.esp, &mut self.plain, &mut self.other] {
            let merged = counts.len().div_ceil(2);
            for i in 0..merged {
                let pair = counts.get(2 * i..(2 * i + 2).min(counts.len()));
                counts[i] = pair.map_or(0, |p| p.iter().sum());
            }
            counts.truncate(merged);
        }
    }

    /// The series up to `end` (buckets at least `bucket_ns` wide, so that
    /// every link of a run can share one width), for `link`.
    pub fn series(&self, link: &str, end: SimTime, bucket_ns: u64) -> LinkSeries {
        let mut copy = self.clone();
        while copy.bucket_ns < bucket_ns {
            copy.widen();
        }
        if end.as_nanos() > 0 {
            copy.slot(end.as_nanos() - 1);
        }
        LinkSeries {
            name: link.to_string(),
            esp_bytes: copy.esp,
            plain_bytes: copy.plain,
            other_bytes: copy.other,
        }
    }
}

/// One link's bytes per bucket, both directions together, by what they
/// carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkSeries {
    /// The link.
    pub name: String,
    /// ESP bytes (the tunnel's outer packets, Ethernet header included).
    pub esp_bytes: Vec<u64>,
    /// Plaintext IP bytes.
    pub plain_bytes: Vec<u64>,
    /// Non-IP bytes (ARP).
    pub other_bytes: Vec<u64>,
}

impl LinkSeries {
    /// Every byte of the series.
    pub fn total(&self) -> u64 {
        [&self.esp_bytes, &self.plain_bytes, &self.other_bytes]
            .into_iter()
            .flatten()
            .sum()
    }
}

/// Every link's series over one bucket width.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkTimeline {
    /// The bucket width, in ms.
    pub bucket_ms: f64,
    /// Per link, in the order links were added.
    pub links: Vec<LinkSeries>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ether_type: u16, protocol: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len.max(ETHERNET_HEADER_LEN + 28)];
        f[12..14].copy_from_slice(&ether_type.to_be_bytes());
        let ip_len = (f.len() - ETHERNET_HEADER_LEN) as u16;
        let ip = &mut f[ETHERNET_HEADER_LEN..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[8] = 64;
        ip[9] = protocol;
        // RFC 1071 header checksum, so the header is valid.
        let sum = ip[..20]
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let folded = (sum & 0xffff) + (sum >> 16);
        let checksum = !(((folded & 0xffff) + (folded >> 16)) as u16);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        f
    }

    #[test]
    fn frames_are_classified_by_what_they_carry() {
        assert_eq!(FrameClass::of(&frame(0x0800, 50, 100)), FrameClass::Esp);
        assert_eq!(FrameClass::of(&frame(0x0800, 6, 100)), FrameClass::Plain);
        assert_eq!(FrameClass::of(&frame(0x0806, 0, 60)), FrameClass::Other);
        assert_eq!(FrameClass::of(&[0u8; 5]), FrameClass::Other);
    }

    #[test]
    fn buckets_widen_past_the_bound_and_keep_every_byte() {
        let mut series = SeriesRecorder::new(DEFAULT_BUCKET);
        let esp = frame(0x0800, 50, 1000);
        let plain = frame(0x0800, 17, 200);
        // One frame of each every 50 ms for 200 s: 4000 intervals.
        for k in 0..4000u64 {
            let at = SimTime::from_nanos(k * 50_000_000);
            series.record(at, &esp);
            series.record(at, &plain);
        }
        assert!(series.esp.len() <= MAX_BUCKETS);
        assert_eq!(series.bucket_ns(), 400_000_000);
        let out = series.series("l", SimTime::from_nanos(200_000_000_000), 0);
        assert_eq!(out.esp_bytes.iter().sum::<u64>(), 4000 * 1000);
        assert_eq!(out.plain_bytes.iter().sum::<u64>(), 4000 * 200);
        assert_eq!(out.esp_bytes.len(), 500);
        assert_eq!(out.esp_bytes[0], 8 * 1000);
    }

    #[test]
    fn series_can_be_widened_to_a_shared_width_and_padded_to_the_end() {
        let mut series = SeriesRecorder::new(DEFAULT_BUCKET);
        series.record(SimTime::from_nanos(150_000_000), &frame(0x0800, 6, 100));
        let out = series.series("l", SimTime::from_nanos(1_000_000_000), 200_000_000);
        assert_eq!(out.plain_bytes, vec![100, 0, 0, 0, 0]);
        assert_eq!(out.total(), 100);
    }
}
