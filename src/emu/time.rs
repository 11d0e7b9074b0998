//! Virtual time: [`SimTime`], nanoseconds since the start of a simulation.
//!
//! Nothing in the emulator reads the wall clock; time only moves when the
//! scheduler pops the next event. smoltcp sees the same clock in microseconds.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in virtual time: nanoseconds since the simulation started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of every simulation.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time; never reached.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }

    /// `micros` microseconds after the start (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        SimTime(micros.saturating_mul(1_000))
    }

    /// `millis` milliseconds after the start (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        SimTime(millis.saturating_mul(1_000_000))
    }

    /// `secs` seconds after the start (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        SimTime(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole microseconds since the start (rounded down).
    pub(crate) const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }

    /// Seconds since the start, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time since the start as a [`Duration`] (pcap timestamps).
    pub(crate) const fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub(crate) const fn saturating_since(self, earlier: SimTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// This instant on smoltcp's clock (microseconds, rounded down).
    pub(crate) fn to_smoltcp(self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(i64::try_from(self.as_micros()).unwrap_or(i64::MAX))
    }

    /// An instant of smoltcp's clock in virtual time (negative clamps to zero).
    pub(crate) fn from_smoltcp(instant: smoltcp::time::Instant) -> Self {
        SimTime::from_micros(u64::try_from(instant.total_micros()).unwrap_or(0))
    }
}

/// Nanoseconds in `duration`, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    /// Saturates at [`SimTime::MAX`].
    fn add(self, rhs: Duration) -> SimTime {
        SimTime(self.0.saturating_add(duration_nanos(rhs)))
    }
}

impl Sub for SimTime {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: SimTime) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with microsecond precision, e.g. `12.000250s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.0 / 1_000_000_000,
            (self.0 % 1_000_000_000) / 1_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_between_units_and_clocks() {
        let t = SimTime::from_millis(1500) + Duration::from_nanos(250);
        assert_eq!(t.as_nanos(), 1_500_000_250);
        assert_eq!(t.as_micros(), 1_500_000);
        assert_eq!(t.to_string(), "1.500000s");
        assert_eq!(
            t.to_smoltcp(),
            smoltcp::time::Instant::from_micros(1_500_000)
        );
        assert_eq!(
            SimTime::from_smoltcp(t.to_smoltcp()),
            SimTime::from_micros(1_500_000)
        );
        assert_eq!(
            SimTime::from_smoltcp(smoltcp::time::Instant::from_micros(-5)),
            SimTime::ZERO
        );
    }

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        assert_eq!(SimTime::MAX + Duration::from_secs(1), SimTime::MAX);
        assert_eq!(
            SimTime::from_secs(1) - SimTime::from_secs(2),
            Duration::ZERO
        );
        assert_eq!(SimTime::from_secs(u64::MAX), SimTime::MAX);
        assert_eq!(
            SimTime::MAX.to_smoltcp().total_micros(),
            (u64::MAX / 1000) as i64
        );
    }
}
