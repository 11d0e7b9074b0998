//! One BFD session in asynchronous mode (RFC 5880 6.8): the states
//! AdminDown, Down, Init and Up, the three-way handshake, the negotiated
//! intervals, the detection timer, transmit jitter (6.8.7) and Poll/Final
//! sequences for parameter changes (6.5, 6.8.3). The driver delivers
//! packets with their TTL and the clock, and sends what [`Session::transmit`]
//! gives to the peer's UDP port 3784 with TTL 255 (RFC 5881).
//!
//! Demand mode and the Echo function are not implemented: we never set D,
//! always ask for no echo, and keep transmitting when the peer sets D.

use std::time::Duration;

use super::config::{BfdConfig, SLOW_TX};
use crate::wire::bfd::{
    BFD_CONTROL_LEN, BFD_TTL, BfdControl, BfdDrop, BfdError, BfdPacket, BfdState, Diagnostic,
};

/// What happened, for the driver and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BfdEvent {
    /// The local state changed at `at` (the driver's clock).
    StateChanged {
        from: BfdState,
        to: BfdState,
        /// bfd.LocalDiag after the change: why the session went down.
        diagnostic: Diagnostic,
        /// The peer's last state: AdminDown means the peer turned BFD off,
        /// which must not take clients down (RFC 5882 3.2).
        remote_state: BfdState,
        at: Duration,
    },
}

/// Counters for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BfdCounters {
    /// Packets that passed every check.
    pub packets_in: u64,
    /// Packets handed to the driver.
    pub packets_out: u64,
    /// Packets discarded, by [`BfdDrop`] (`dropped[reason as usize]`).
    pub dropped: [u64; BfdDrop::ALL.len()],
    /// Poll Sequences completed by a Final.
    pub polls_completed: u64,
}

/// One BFD session.
#[derive(Debug)]
pub struct Session {
    config: BfdConfig,
    state: BfdState,
    remote_state: BfdState,
    remote_discriminator: u32,
    local_diagnostic: Diagnostic,
    /// bfd.DesiredMinTxInterval as advertised (slow while not Up).
    desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval as advertised.
    required_min_rx: Duration,
    /// The values timers use: a change that would make the peer's life
    /// harder waits for the Final of its Poll Sequence (6.8.3).
    tx_in_use: Duration,
    rx_in_use: Duration,
    /// bfd.RemoteMinRxInterval (1 us until the peer says; 0: stop sending).
    remote_min_rx: Duration,
    remote_desired_min_tx: Duration,
    remote_detect_mult: u8,
    poll_active: bool,
    final_pending: bool,
    periodic_pending: bool,
    transmit_at: Option<Duration>,
    detect_at: Option<Duration>,
    last_received: Option<Duration>,
    rng: u64,
    events: Vec<BfdEvent>,
    counters: BfdCounters,
}

impl Session {
    /// A session in Down that starts transmitting at `now`.
    pub fn new(config: BfdConfig, now: Duration) -> Self {
        let desired_min_tx = config.desired_min_tx.max(SLOW_TX);
        Self {
            config,
            state: BfdState::Down,
            remote_state: BfdState::Down,
            remote_discriminator: 0,
            local_diagnostic: Diagnostic::NONE,
            desired_min_tx,
            required_min_rx: config.required_min_rx,
            tx_in_use: desired_min_tx,
            rx_in_use: config.required_min_rx,
            remote_min_rx: Duration::from_micros(1),
            remote_desired_min_tx: Duration::ZERO,
            remote_detect_mult: 0,
            poll_active: false,
            final_pending: false,
            periodic_pending: false,
            transmit_at: Some(now),
            detect_at: None,
            last_received: None,
            rng: config.jitter_seed,
            events: Vec::new(),
            counters: BfdCounters::default(),
        }
    }

    /// bfd.SessionState.
    pub fn state(&self) -> BfdState {
        self.state
    }

    /// bfd.LocalDiag.
    pub fn diagnostic(&self) -> Diagnostic {
        self.local_diagnostic
    }

    /// The settings.
    pub fn config(&self) -> &BfdConfig {
        &self.config
    }

    /// Counters.
    pub fn counters(&self) -> BfdCounters {
        self.counters
    }

    /// When the last valid packet arrived.
    pub fn last_received(&self) -> Option<Duration> {
        self.last_received
    }

    /// Takes the events since the last call.
    pub fn take_events(&mut self) -> Vec<BfdEvent> {
        std::mem::take(&mut self.events)
    }

    /// The interval between our packets before jitter (6.8.7): the slower
    /// of what we want to send and what the peer wants to receive.
    pub fn transmit_interval(&self) -> Duration {
        self.tx_in_use.max(self.remote_min_rx)
    }

    /// The Detection Time (6.8.4): the peer's Detect Mult times the agreed
    /// receive interval (our Required Min RX or the peer's Desired Min TX,
    /// the slower). `None` before the first packet.
    pub fn detection_time(&self) -> Option<Duration> {
        (self.remote_detect_mult > 0).then(|| {
            self.rx_in_use.max(self.remote_desired_min_tx) * u32::from(self.remote_detect_mult)
        })
    }

    /// A Poll Sequence is waiting for its Final.
    pub fn poll_active(&self) -> bool {
        self.poll_active
    }

    /// The earliest time [`Session::poll`] has work to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        [self.transmit_at, self.detect_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn set_state(&mut self, to: BfdState, diagnostic: Diagnostic, now: Duration) {
        if to == self.state {
            return;
        }
        let from = self.state;
        self.state = to;
        self.local_diagnostic = diagnostic;
        self.events.push(BfdEvent::StateChanged {
            from,
            to,
            diagnostic,
            remote_state: self.remote_state,
            at: now,
        });
        if to == BfdState::Up {
            // Up: from the slow start to the configured rate, by a Poll.
            self.change_intervals(now, self.config.desired_min_tx, self.config.required_min_rx);
        } else if from == BfdState::Up || from == BfdState::Init {
            self.poll_active = false;
            self.desired_min_tx = self.config.desired_min_tx.max(SLOW_TX);
            self.tx_in_use = self.desired_min_tx;
            self.rx_in_use = self.required_min_rx;
        }
    }

    /// Changes the intervals (6.8.3): while Up by a Poll Sequence, where a
    /// slower transmit rate or a faster receive rate waits for the Final.
    pub fn set_intervals(
        &mut self,
        now: Duration,
        desired_min_tx: Duration,
        required_min_rx: Duration,
    ) {
        self.config.desired_min_tx = desired_min_tx.max(Duration::from_micros(1));
        self.config.required_min_rx = required_min_rx.max(Duration::from_micros(1));
        if self.state == BfdState::Up {
            self.change_intervals(now, self.config.desired_min_tx, self.config.required_min_rx);
        } else {
            self.desired_min_tx = self.config.desired_min_tx.max(SLOW_TX);
            self.tx_in_use = self.desired_min_tx;
            self.required_min_rx = self.config.required_min_rx;
            self.rx_in_use = self.required_min_rx;
        }
    }

    fn change_intervals(
        &mut self,
        now: Duration,
        desired_min_tx: Duration,
        required_min_rx: Duration,
    ) {
        self.desired_min_tx = desired_min_tx;
        self.required_min_rx = required_min_rx;
        self.tx_in_use = self.tx_in_use.min(desired_min_tx);
        self.rx_in_use = self.rx_in_use.max(required_min_rx);
        self.poll_active = true;
        // Start the Poll now rather than a whole slow interval later.
        self.transmit_at = Some(now);
    }

    /// Stops the session (6.8.16): AdminDown, diagnostic 7, no detection.
    pub fn admin_down(&mut self, now: Duration) {
        self.detect_at = None;
        self.set_state(BfdState::AdminDown, Diagnostic::ADMINISTRATIVELY_DOWN, now);
        self.poll_active = false;
        self.desired_min_tx = self.config.desired_min_tx.max(SLOW_TX);
        self.tx_in_use = self.desired_min_tx;
    }

    /// Leaves AdminDown for Down.
    pub fn admin_up(&mut self, now: Duration) {
        if self.state == BfdState::AdminDown {
            self.set_state(BfdState::Down, Diagnostic::NONE, now);
        }
    }

    /// A Control packet from the peer with the TTL (or hop limit) it
    /// arrived with. Refused packets are counted and change nothing.
    pub fn receive(&mut self, now: Duration, ttl: u8, bytes: &[u8]) -> Result<(), BfdError> {
        let result = self.check(ttl, bytes);
        match result {
            Ok(control) => {
                self.counters.packets_in += 1;
                self.accept(now, &control);
                Ok(())
            }
            Err(error) => {
                self.counters.dropped[error.drop_reason() as usize] += 1;
                Err(error)
            }
        }
    }

    fn check(&self, ttl: u8, bytes: &[u8]) -> Result<BfdControl, BfdError> {
        let packet = BfdPacket::new_checked(bytes)?;
        if ttl != BFD_TTL {
            return Err(BfdError::Ttl { ttl });
        }
        let control = BfdControl::parse(&packet);
        if control.your_discriminator != 0
            && control.your_discriminator != self.config.local_discriminator
        {
            return Err(BfdError::UnknownDiscriminator {
                found: control.your_discriminator,
                expected: self.config.local_discriminator,
            });
        }
        if let Some(auth_type) = packet.auth_type() {
            return Err(BfdError::AuthenticationNotConfigured { auth_type });
        }
        Ok(control)
    }

    /// RFC 5880 6.8.6 from "Set bfd.RemoteDiscr" on.
    fn accept(&mut self, now: Duration, control: &BfdControl) {
        self.remote_discriminator = control.my_discriminator;
        self.remote_state = control.state;
        self.remote_desired_min_tx = Duration::from_micros(u64::from(control.desired_min_tx_us));
        self.remote_detect_mult = control.detect_mult;
        let remote_min_rx = Duration::from_micros(u64::from(control.required_min_rx_us));
        if remote_min_rx != self.remote_min_rx {
            self.remote_min_rx = remote_min_rx;
            // A faster peer gets its rate from the next packet on.
            self.transmit_at = match self.transmit_at {
                _ if remote_min_rx.is_zero() => None,
                Some(at) => Some(at.min(now + self.transmit_interval())),
                None => Some(now),
            };
        }
        if control.final_ && self.poll_active {
            self.poll_active = false;
            self.tx_in_use = self.desired_min_tx;
            self.rx_in_use = self.required_min_rx;
            self.counters.polls_completed += 1;
        }
        if control.poll {
            self.final_pending = true;
        }
        if self.state == BfdState::AdminDown {
            return;
        }
        self.last_received = Some(now);
        self.detect_at = self.detection_time().map(|time| now + time);
        let neighbor_down = Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN;
        match (self.state, control.state) {
            (BfdState::Down | BfdState::AdminDown, BfdState::AdminDown) => {}
            (_, BfdState::AdminDown) => self.set_state(BfdState::Down, neighbor_down, now),
            (BfdState::Down, BfdState::Down) => {
                self.set_state(BfdState::Init, Diagnostic::NONE, now)
            }
            (BfdState::Down, BfdState::Init) | (BfdState::Init, BfdState::Init | BfdState::Up) => {
                self.set_state(BfdState::Up, Diagnostic::NONE, now)
            }
            (BfdState::Up, BfdState::Down) => self.set_state(BfdState::Down, neighbor_down, now),
            _ => {}
        }
    }

    /// Timers: detection (6.8.4) and periodic transmission (6.8.7).
    pub fn poll(&mut self, now: Duration) {
        if self.detect_at.is_some_and(|at| now >= at) {
            self.detect_at = None;
            self.remote_discriminator = 0;
            self.remote_detect_mult = 0;
            if matches!(self.state, BfdState::Init | BfdState::Up) {
                let expired = Diagnostic::CONTROL_DETECTION_TIME_EXPIRED;
                self.set_state(BfdState::Down, expired, now);
            }
            self.remote_state = BfdState::Down;
        }
        if self.transmit_at.is_some_and(|at| now >= at) {
            self.periodic_pending = true;
            self.transmit_at = Some(now + self.jittered(self.transmit_interval()));
        }
    }

    /// The interval less 0-25% (6.8.7), or 10-25% when Detect Mult is 1.
    fn jittered(&mut self, interval: Duration) -> Duration {
        // splitmix64: small, seeded, and the same on every platform.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let (low, span) = if self.config.detect_mult == 1 {
            (750u64, 150u64)
        } else {
            (750u64, 250u64)
        };
        let permille = low + z % (span + 1);
        let micros = interval.as_micros().min(u128::from(u64::MAX / 1000)) as u64;
        Duration::from_micros(micros * permille / 1000)
    }

    /// The next packet to send, if any: a Final answering a Poll first (sent
    /// at once, 6.8.7), then the periodic packet (with P while polling).
    pub fn transmit(&mut self) -> Option<[u8; BFD_CONTROL_LEN]> {
        let (poll, final_) = if self.final_pending {
            self.final_pending = false;
            (false, true)
        } else if self.periodic_pending {
            self.periodic_pending = false;
            (self.poll_active, false)
        } else {
            return None;
        };
        let micros = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        let control = BfdControl {
            diagnostic: self.local_diagnostic,
            state: self.state,
            poll,
            final_,
            detect_mult: self.config.detect_mult,
            my_discriminator: self.config.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx_us: micros(self.desired_min_tx),
            required_min_rx_us: micros(self.required_min_rx),
            ..BfdControl::default()
        };
        let mut out = [0u8; BFD_CONTROL_LEN];
        control.emit(&mut out);
        self.counters.packets_out += 1;
        Some(out)
    }
}
