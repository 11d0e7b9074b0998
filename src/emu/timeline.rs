//! The fault timeline: actions scheduled at virtual times (link down and
//! up, flaps, scenario commands to devices) and the record of what each did.

use std::time::Duration;

use serde::Serialize;

use super::link::{DeviceId, LinkId};
use super::time::SimTime;

/// Something the timeline does at a virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Takes a link down: frames queued or in flight on it are lost, and
    /// frames sent on it are dropped until it comes back.
    LinkDown(LinkId),
    /// Brings a link back up.
    LinkUp(LinkId),
    /// Delivers [`crate::emu::DeviceEvent::Command`] to a device (for
    /// example "tunnel down" to a node, by a code the two agree on).
    Command {
        /// The device.
        device: DeviceId,
        /// The command code.
        command: u32,
    },
}

/// An action that ran, and whether it changed anything (taking down a link
/// that is already down changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    /// When it ran.
    pub at: SimTime,
    /// What it was.
    pub action: Action,
    /// Whether the state changed.
    pub changed: bool,
}

/// A link going down and up `count` times: down at `first_down`, up
/// `down_for` later, down again `up_for` after that, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flap {
    /// The link.
    pub link: LinkId,
    /// When it first goes down.
    pub first_down: SimTime,
    /// How long each outage lasts.
    pub down_for: Duration,
    /// How long it stays up between outages.
    pub up_for: Duration,
    /// Number of outages.
    pub count: u32,
}

impl Flap {
    /// The down and up actions of this flap, in time order.
    pub fn actions(&self) -> impl Iterator<Item = (SimTime, Action)> + '_ {
        let period = self.down_for + self.up_for;
        (0..self.count).flat_map(move |i| {
            let down = self.first_down + period * i;
            [
                (down, Action::LinkDown(self.link)),
                (down + self.down_for, Action::LinkUp(self.link)),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flap_alternates_down_and_up() {
        let flap = Flap {
            link: LinkId(3),
            first_down: SimTime::from_secs(1),
            down_for: Duration::from_millis(100),
            up_for: Duration::from_millis(400),
            count: 2,
        };
        let actions: Vec<_> = flap.actions().collect();
        assert_eq!(
            actions,
            vec![
                (SimTime::from_millis(1000), Action::LinkDown(LinkId(3))),
                (SimTime::from_millis(1100), Action::LinkUp(LinkId(3))),
                (SimTime::from_millis(1500), Action::LinkDown(LinkId(3))),
                (SimTime::from_millis(1600), Action::LinkUp(LinkId(3))),
            ]
        );
    }
}
