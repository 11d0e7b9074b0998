//! A BFD session's settings (RFC 5880 6.8.1): the intervals it wants, its
//! Detect Mult, its discriminator and the seed of its transmit jitter.
//! Azure's MSEE runs 300 ms x 3 on private peering.

use std::time::Duration;

/// What the session slows to while not Up (RFC 5880 6.8.3: at least 1 s).
pub(crate) const SLOW_TX: Duration = Duration::from_secs(1);

/// One session's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// bfd.DesiredMinTxInterval once Up.
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval (never zero here: we always want packets).
    pub required_min_rx: Duration,
    /// bfd.DetectMult.
    pub detect_mult: u8,
    /// bfd.LocalDiscr (non-zero).
    pub local_discriminator: u32,
    /// Seed of the jitter of RFC 5880 6.8.7.
    pub jitter_seed: u64,
}

impl BfdConfig {
    /// `interval` both ways and `detect_mult` (Azure: 300 ms and 3); a zero
    /// discriminator becomes 1, a zero multiplier 1, a zero interval 1 us.
    pub fn new(interval: Duration, detect_mult: u8, local_discriminator: u32) -> Self {
        let interval = interval.max(Duration::from_micros(1));
        Self {
            desired_min_tx: interval,
            required_min_rx: interval,
            detect_mult: detect_mult.max(1),
            local_discriminator: local_discriminator.max(1),
            jitter_seed: u64::from(local_discriminator),
        }
    }
}
