//! Link configuration: per direction delay, rate, queue, loss, reordering
//! and MTU, checked once when the link is made.

use std::time::Duration;

use thiserror::Error;

use super::azure_frag::AzureFragmentation;

/// One direction of a link (a "channel").
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    /// Propagation delay.
    pub delay: Duration,
    /// Line rate in bits per second; `0` means infinitely fast (no
    /// serialisation delay and no queue).
    pub rate_bps: u64,
    /// Frames the transmit queue holds, counting the one being serialised;
    /// a frame that finds it full is tail-dropped.
    pub queue_limit: usize,
    /// Probability that a frame is lost on the wire (after serialisation).
    pub loss: f64,
    /// Probability that a frame is held back by `reorder_delay`, so later
    /// frames overtake it.
    pub reorder: f64,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// Largest Ethernet payload (the IP MTU) in bytes; bigger frames are
    /// dropped and counted.
    pub mtu: usize,
    /// Azure's VNet fragmentation (fragment above 1,400 bytes, drop
    /// out-of-order fragments), on Azure-side links; none by default.
    pub azure_fragmentation: Option<AzureFragmentation>,
}

impl Default for ChannelConfig {
    /// No delay, unlimited rate, a 1000-frame queue, no loss or reordering,
    /// MTU 1500.
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            rate_bps: 0,
            queue_limit: 1000,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            mtu: 1500,
            azure_fragmentation: None,
        }
    }
}

impl ChannelConfig {
    /// Sets the propagation delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the line rate in bits per second (`0`: unlimited).
    pub fn rate_bps(mut self, rate_bps: u64) -> Self {
        self.rate_bps = rate_bps;
        self
    }

    /// Sets the queue limit in frames.
    pub fn queue_limit(mut self, frames: usize) -> Self {
        self.queue_limit = frames;
        self
    }

    /// Sets the loss probability.
    pub fn loss(mut self, probability: f64) -> Self {
        self.loss = probability;
        self
    }

    /// Sets the reordering probability and the extra delay of held frames.
    pub fn reorder(mut self, probability: f64, extra_delay: Duration) -> Self {
        self.reorder = probability;
        self.reorder_delay = extra_delay;
        self
    }

    /// Turns on Azure's VNet fragmentation (see [`AzureFragmentation`]).
    pub fn azure_fragmentation(mut self, azure: AzureFragmentation) -> Self {
        self.azure_fragmentation = Some(azure);
        self
    }

    /// Sets the MTU (largest Ethernet payload).
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// Checks the values; `direction` names the channel in the error.
    pub fn validate(&self, direction: &'static str) -> Result<(), LinkConfigError> {
        let bad = |field: &'static str, reason: String| LinkConfigError {
            direction,
            field,
            reason,
        };
        for (field, p) in [("loss", self.loss), ("reorder", self.reorder)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(bad(field, format!("{p} is not a probability in [0, 1]")));
            }
        }
        if self.queue_limit == 0 {
            return Err(bad("queue_limit", "must hold at least one frame".into()));
        }
        if self.mtu < 68 {
            return Err(bad(
                "mtu",
                format!("{} is below the IPv4 minimum of 68", self.mtu),
            ));
        }
        Ok(())
    }
}

/// Both directions of a point-to-point link between end A and end B.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// The link's name in reports, captures and seeds; unique per simulation.
    pub name: String,
    /// Frames from end A to end B.
    pub a_to_b: ChannelConfig,
    /// Frames from end B to end A.
    pub b_to_a: ChannelConfig,
    /// Tell the attached devices when the link goes down or up (carrier
    /// detect). Off by default: failures are then noticed only by the
    /// devices' own protocols (BFD, BGP hold timers).
    pub report_carrier: bool,
}

impl LinkConfig {
    /// A link with the same settings in both directions.
    pub fn symmetric(name: impl Into<String>, channel: ChannelConfig) -> Self {
        Self {
            name: name.into(),
            a_to_b: channel.clone(),
            b_to_a: channel,
            report_carrier: false,
        }
    }

    /// Turns carrier reporting on or off.
    pub fn report_carrier(mut self, on: bool) -> Self {
        self.report_carrier = on;
        self
    }

    /// Checks both directions.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        self.a_to_b.validate("a_to_b")?;
        self.b_to_a.validate("b_to_a")
    }
}

/// A link setting that cannot work, with the direction and field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("link direction {direction}, field {field}: {reason}")]
pub struct LinkConfigError {
    /// `a_to_b` or `b_to_a`.
    pub direction: &'static str,
    /// The field at fault.
    pub field: &'static str,
    /// Why it is wrong.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_impossible_values_naming_the_field() {
        let good = ChannelConfig::default();
        assert!(LinkConfig::symmetric("l", good.clone()).validate().is_ok());
        let mut link = LinkConfig::symmetric("l", good.clone());
        link.b_to_a = good.clone().loss(1.5);
        let err = link.validate().unwrap_err();
        assert_eq!((err.direction, err.field), ("b_to_a", "loss"));
        assert!(err.to_string().contains("1.5"), "{err}");
        let err = good
            .clone()
            .reorder(f64::NAN, Duration::ZERO)
            .validate("a_to_b")
            .unwrap_err();
        assert_eq!(err.field, "reorder");
        assert_eq!(
            good.clone()
                .queue_limit(0)
                .validate("a_to_b")
                .unwrap_err()
                .field,
            "queue_limit"
        );
        assert_eq!(good.mtu(10).validate("a_to_b").unwrap_err().field, "mtu");
    }
}
