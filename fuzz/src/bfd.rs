//! Target `bfd`: any sequence of datagrams from a peer, with fuzzed TTLs
//! and gaps in time, into an [`erdp::bfd::Session`] (300 ms x 3).
//!
//! Input: records of `[gap, ttl, len, bytes...]`: the clock moves `gap` x
//! 10 ms, then `len` bytes arrive with TTL 255 when `ttl` is even, else
//! with `ttl` itself. A record cut short is delivered as it is.
//!
//! Oracles: no panic; a datagram the decoder accepts writes back to the
//! same 24 bytes; a refused one changes no state and is counted; every
//! state change is one RFC 5880 allows; everything sent is a valid Control
//! packet carrying our discriminator and state; an Up session heard from
//! its peer within the Detection Time.

use std::time::Duration;

use erdp::bfd::{BfdConfig, BfdEvent, Session};
use erdp::wire::bfd::{BFD_CONTROL_LEN, BfdControl, BfdPacket, BfdState};

const OURS: u32 = 0x0bfd;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut session = Session::new(
        BfdConfig::new(Duration::from_millis(300), 3, OURS),
        Duration::ZERO,
    );
    let mut now = Duration::ZERO;
    let mut rest = data;
    while let [gap, ttl, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        // Let the timers run until the datagram arrives, as a driver would.
        let arrival = now + Duration::from_millis(10 * u64::from(*gap));
        while let Some(at) = session.next_deadline().filter(|&at| at <= arrival) {
            now = at.max(now);
            step(&mut session, now);
        }
        now = arrival;
        let ttl = if ttl % 2 == 0 { 255 } else { *ttl };
        check_decoder(datagram);
        let before = (session.state(), session.counters());
        match session.receive(now, ttl, datagram) {
            Ok(()) => assert_eq!(
                session.counters().packets_in,
                before.1.packets_in + 1,
                "accepted but not counted"
            ),
            Err(error) => {
                assert_eq!(session.state(), before.0, "refused ({error}) yet changed");
                let dropped: u64 = session.counters().dropped.iter().sum();
                let was: u64 = before.1.dropped.iter().sum();
                assert_eq!(dropped, was + 1, "{error} not counted");
            }
        }
        step(&mut session, now);
    }
    // Silence for the Detection Time takes an Up session down.
    if let (Some(last), Some(detection)) = (session.last_received(), session.detection_time()) {
        step(&mut session, (last + detection).max(now));
        assert_ne!(session.state(), BfdState::Up, "Up after the Detection Time");
    }
}

/// Accepted datagrams without authentication write back unchanged.
fn check_decoder(datagram: &[u8]) {
    let Ok(packet) = BfdPacket::new_checked(datagram) else {
        return;
    };
    let control = BfdControl::parse(&packet);
    if control.authentication || datagram[3] as usize != BFD_CONTROL_LEN {
        return;
    }
    let mut out = [0u8; BFD_CONTROL_LEN];
    control.emit(&mut out);
    assert_eq!(
        out[..],
        datagram[..BFD_CONTROL_LEN],
        "decode then encode differs"
    );
}

/// Polls, checks the packets sent and the state changes.
fn step(session: &mut Session, now: Duration) {
    session.poll(now);
    while let Some(packet) = session.transmit() {
        let sent = BfdPacket::new_checked(&packet[..])
            .map(|p| BfdControl::parse(&p))
            .unwrap_or_else(|e| panic!("we sent a packet we refuse: {e}"));
        assert_eq!(sent.my_discriminator, OURS);
        assert_eq!(sent.state, session.state());
        assert_eq!(sent.detect_mult, 3);
        assert!(!(sent.poll && sent.final_));
    }
    for BfdEvent::StateChanged { from, to, .. } in session.take_events() {
        use BfdState::{Down, Init, Up};
        assert!(
            matches!(
                (from, to),
                (Down, Init | Up) | (Init, Up | Down) | (Up, Down)
            ),
            "transition {from} -> {to}"
        );
    }
    if session.state() == BfdState::Up {
        let (Some(last), Some(detection)) = (session.last_received(), session.detection_time())
        else {
            panic!("Up without a packet or a Detection Time");
        };
        assert!(now < last + detection, "Up past the Detection Time");
    }
}
