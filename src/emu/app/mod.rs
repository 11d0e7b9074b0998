//! Traffic applications that run on a [`crate::emu::Host`]'s smoltcp
//! stack: TCP bulk transfer with every byte verified, ICMP echo, UDP flows.
//!
//! Each app owns its sockets, is stepped by the host after every stack poll,
//! and reports counters in virtual time.

mod ping;
mod stream;
mod tcp_bulk;
mod udp;

use serde::Serialize;
use smoltcp::iface::{Interface, SocketSet};
use thiserror::Error;

use super::time::SimTime;

pub use ping::{Ping, PingConfig, PingReport};
pub use stream::{BLOCK_LEN, ByteStream};
pub use tcp_bulk::{Congestion, TcpBulk, TcpBulkConfig, TcpBulkReport, TcpRole};
pub use udp::{
    UDP_HEADER_LEN, UdpReceiveReport, UdpReceiver, UdpReceiverConfig, UdpSendReport, UdpSender,
    UdpSenderConfig,
};

/// What an app may touch while it runs: the host's clock, interface and
/// sockets.
pub struct AppContext<'a> {
    /// Virtual time now.
    pub now: SimTime,
    /// The host's interface (addresses, socket context).
    pub iface: &'a mut Interface,
    /// The host's sockets.
    pub sockets: &'a mut SocketSet<'static>,
}

/// An application on a host.
pub trait App {
    /// Creates the app's sockets (called once, when added to the host).
    fn attach(&mut self, ctx: &mut AppContext<'_>) -> Result<(), AppError>;

    /// Reads and writes its sockets; true when it did anything, so the host
    /// polls the stack again to send it.
    fn step(&mut self, ctx: &mut AppContext<'_>) -> bool;

    /// When it next needs a step by itself (a send timer), if ever.
    fn next_wakeup(&self) -> Option<SimTime>;

    /// Its counters so far.
    fn report(&self) -> AppReport;
}

/// An app that could not start, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("app {app}: {reason}")]
pub struct AppError {
    /// The app's name.
    pub app: String,
    /// What went wrong.
    pub reason: String,
}

/// The report of any app.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppReport {
    /// [`TcpBulk`].
    TcpBulk(TcpBulkReport),
    /// [`Ping`].
    Ping(PingReport),
    /// [`UdpSender`].
    UdpSend(UdpSendReport),
    /// [`UdpReceiver`].
    UdpReceive(UdpReceiveReport),
}

/// Minimum, mean and maximum of a set of durations, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Samples taken.
    pub samples: u64,
    /// Smallest.
    pub min_ns: Option<u64>,
    /// Largest.
    pub max_ns: Option<u64>,
    /// Sum, for the mean.
    pub total_ns: u128,
}

impl LatencyStats {
    /// Adds a sample.
    pub(crate) fn add(&mut self, ns: u64) {
        self.samples += 1;
        self.min_ns = Some(self.min_ns.map_or(ns, |m| m.min(ns)));
        self.max_ns = Some(self.max_ns.map_or(ns, |m| m.max(ns)));
        self.total_ns += u128::from(ns);
    }

    /// The mean, if any sample was taken.
    pub(crate) fn mean_ns(&self) -> Option<u64> {
        (self.samples > 0).then(|| (self.total_ns / u128::from(self.samples)) as u64)
    }
}

/// The sequence number and send time carried at the start of every echo
/// and UDP payload (8 bytes each, big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) seq: u64,
    pub(crate) sent_at_ns: u64,
}

impl Stamp {
    /// Bytes a stamp takes.
    pub(crate) const LEN: usize = 16;

    /// Writes the stamp at the start of `out` (which must hold [`Self::LEN`]).
    pub(crate) fn write(self, out: &mut [u8]) {
        if let Some(head) = out.get_mut(..Self::LEN) {
            head[..8].copy_from_slice(&self.seq.to_be_bytes());
            head[8..].copy_from_slice(&self.sent_at_ns.to_be_bytes());
        }
    }

    /// Reads a stamp from the start of `data`, if it is long enough.
    pub(crate) fn read(data: &[u8]) -> Option<Stamp> {
        let seq = data.get(..8)?.try_into().ok()?;
        let sent_at = data.get(8..Self::LEN)?.try_into().ok()?;
        Some(Stamp {
            seq: u64::from_be_bytes(seq),
            sent_at_ns: u64::from_be_bytes(sent_at),
        })
    }
}

/// A growable set of sequence numbers seen, for loss and duplicate counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenSet {
    words: Vec<u64>,
}

impl SeenSet {
    /// Marks `seq`; false if it was already marked (a duplicate). Sequence
    /// numbers past `limit` are refused (false) rather than grown into.
    pub(crate) fn insert(&mut self, seq: u64, limit: u64) -> bool {
        if seq >= limit {
            return false;
        }
        let word = (seq / 64) as usize;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1u64 << (seq % 64);
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_stats_and_seen_set() {
        let mut stats = LatencyStats::default();
        assert_eq!(stats.mean_ns(), None);
        for ns in [30, 10, 20] {
            stats.add(ns);
        }
        assert_eq!(
            (stats.min_ns, stats.max_ns, stats.mean_ns()),
            (Some(10), Some(30), Some(20))
        );
        let mut seen = SeenSet::default();
        assert!(seen.insert(130, 1000));
        assert!(!seen.insert(130, 1000));
        assert!(seen.insert(0, 1000));
        assert!(!seen.insert(5000, 1000), "beyond the limit");
        let mut buf = [0u8; 20];
        Stamp {
            seq: 7,
            sent_at_ns: 9,
        }
        .write(&mut buf);
        assert_eq!(
            Stamp::read(&buf),
            Some(Stamp {
                seq: 7,
                sent_at_ns: 9
            })
        );
        assert_eq!(Stamp::read(&buf[..15]), None);
    }
}
