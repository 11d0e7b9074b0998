//! BFD session tests with a scripted peer in virtual time: the three-way
//! handshake, negotiated intervals and Detection Time, detection, jitter,
//! Poll/Final, diagnostics and refused packets.
//!
//! Azure's values (300 ms x 3) come from Microsoft's page "Configure BFD
//! over ExpressRoute" (MSEE BFD: 300 ms interval, multiplier 3).

use std::time::Duration;

use super::*;
use crate::wire::bfd::{
    BFD_CONTROL_LEN, BfdControl, BfdDrop, BfdError, BfdPacket, BfdState, Diagnostic,
};

const PEER_DISCRIMINATOR: u32 = 0xab;
const OURS: u32 = 7;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn azure() -> BfdConfig {
    BfdConfig::new(ms(300), 3, OURS)
}

/// A packet from the scripted peer.
fn from_peer(
    state: BfdState,
    your: u32,
    interval: Duration,
    edit: impl Fn(&mut BfdControl),
) -> [u8; BFD_CONTROL_LEN] {
    let mut control = BfdControl {
        state,
        detect_mult: 3,
        my_discriminator: PEER_DISCRIMINATOR,
        your_discriminator: your,
        desired_min_tx_us: interval.as_micros() as u32,
        required_min_rx_us: interval.as_micros() as u32,
        ..BfdControl::default()
    };
    edit(&mut control);
    let mut out = [0u8; BFD_CONTROL_LEN];
    control.emit(&mut out);
    out
}

fn parse(bytes: &[u8; BFD_CONTROL_LEN]) -> BfdControl {
    BfdControl::parse(&BfdPacket::new_checked(&bytes[..]).unwrap())
}

/// Runs the clock from `from` to `to` in 1 ms steps; what was sent, when.
fn run(session: &mut Session, from: Duration, to: Duration) -> Vec<(Duration, BfdControl)> {
    let mut sent = Vec::new();
    let mut now = from;
    while now <= to {
        session.poll(now);
        while let Some(packet) = session.transmit() {
            sent.push((now, parse(&packet)));
        }
        now += ms(1);
    }
    sent
}

fn receive(session: &mut Session, now: Duration, packet: [u8; BFD_CONTROL_LEN]) {
    session.receive(now, 255, &packet).unwrap();
}

/// A session taken Up by the handshake at 0 ms, with the peer's Final
/// for our Poll in; the peer runs 300 ms too.
fn up_session() -> Session {
    let mut session = Session::new(azure(), Duration::ZERO);
    receive(
        &mut session,
        ms(0),
        from_peer(BfdState::Down, 0, Duration::from_secs(1), |_| {}),
    );
    receive(
        &mut session,
        ms(1),
        from_peer(BfdState::Up, OURS, ms(300), |_| {}),
    );
    assert_eq!(session.state(), BfdState::Up);
    receive(
        &mut session,
        ms(2),
        from_peer(BfdState::Up, OURS, ms(300), |c| c.final_ = true),
    );
    assert!(!session.poll_active());
    session.take_events();
    session
}

fn states(events: &[BfdEvent]) -> Vec<(BfdState, Diagnostic)> {
    events
        .iter()
        .map(|BfdEvent::StateChanged { to, diagnostic, .. }| (*to, *diagnostic))
        .collect()
}

#[test]
fn three_way_handshake_down_init_up() {
    let mut session = Session::new(azure(), Duration::ZERO);
    let first = run(&mut session, ms(0), ms(0));
    assert_eq!(first.len(), 1, "sends at once");
    let (_, hello) = first[0];
    assert_eq!(hello.state, BfdState::Down);
    assert_eq!(hello.your_discriminator, 0);
    assert_eq!(hello.my_discriminator, OURS);
    // 6.8.3: at least 1 s while not Up.
    assert_eq!(hello.desired_min_tx_us, 1_000_000);
    assert_eq!(hello.required_min_rx_us, 300_000);

    receive(
        &mut session,
        ms(10),
        from_peer(BfdState::Down, 0, Duration::from_secs(1), |_| {}),
    );
    assert_eq!(session.state(), BfdState::Init);
    let sent = run(&mut session, ms(10), ms(1100));
    let (_, init) = sent.last().copied().unwrap();
    assert_eq!(init.state, BfdState::Init);
    assert_eq!(init.your_discriminator, PEER_DISCRIMINATOR);

    receive(
        &mut session,
        ms(1200),
        from_peer(BfdState::Up, OURS, ms(300), |_| {}),
    );
    assert_eq!(session.state(), BfdState::Up);
    let events = session.take_events();
    assert_eq!(
        states(&events),
        [
            (BfdState::Init, Diagnostic::NONE),
            (BfdState::Up, Diagnostic::NONE)
        ]
    );
    let BfdEvent::StateChanged { at, .. } = events[1];
    assert_eq!(at, ms(1200));
}

#[test]
fn a_peer_in_init_takes_us_straight_up() {
    let mut session = Session::new(azure(), Duration::ZERO);
    receive(
        &mut session,
        ms(5),
        from_peer(BfdState::Init, OURS, Duration::from_secs(1), |_| {}),
    );
    assert_eq!(
        states(&session.take_events()),
        [(BfdState::Up, Diagnostic::NONE)]
    );
}

#[test]
fn going_up_polls_for_the_fast_rate_and_the_final_ends_the_poll() {
    let mut session = Session::new(azure(), Duration::ZERO);
    receive(
        &mut session,
        ms(0),
        from_peer(BfdState::Init, OURS, Duration::from_secs(1), |_| {}),
    );
    let sent = run(&mut session, ms(1), ms(700));
    assert!(!sent.is_empty());
    for (at, packet) in &sent {
        assert!(packet.poll, "P until the Final, at {at:?}");
        assert_eq!(packet.desired_min_tx_us, 300_000);
    }
    receive(
        &mut session,
        ms(701),
        from_peer(BfdState::Up, OURS, ms(300), |c| c.final_ = true),
    );
    assert!(!session.poll_active());
    assert_eq!(session.counters().polls_completed, 1);
    let sent = run(&mut session, ms(702), ms(2000));
    assert!(sent.iter().all(|(_, p)| !p.poll && !p.final_));
}

#[test]
fn intervals_are_negotiated_and_detection_uses_the_peer_multiplier() {
    let mut session = up_session();
    // The peer wants our packets no faster than 500 ms and sends every
    // 400 ms with multiplier 5.
    receive(
        &mut session,
        ms(10),
        from_peer(BfdState::Up, OURS, ms(400), |c| {
            c.required_min_rx_us = 500_000;
            c.detect_mult = 5;
        }),
    );
    assert_eq!(
        session.transmit_interval(),
        ms(500),
        "max(our 300, their 500)"
    );
    assert_eq!(
        session.detection_time(),
        Some(ms(2000)),
        "5 x max(our 300, their 400)"
    );
    // A faster peer: our Required Min RX decides.
    receive(
        &mut session,
        ms(20),
        from_peer(BfdState::Up, OURS, ms(100), |_| {}),
    );
    assert_eq!(session.transmit_interval(), ms(300));
    assert_eq!(session.detection_time(), Some(ms(900)));
}

#[test]
fn silence_for_the_detection_time_takes_the_session_down_with_diagnostic_1() {
    let mut session = up_session();
    receive(
        &mut session,
        ms(100),
        from_peer(BfdState::Up, OURS, ms(300), |_| {}),
    );
    run(&mut session, ms(100), ms(999));
    assert_eq!(session.state(), BfdState::Up, "899 ms of silence is fine");
    run(&mut session, ms(1000), ms(1000));
    assert_eq!(session.state(), BfdState::Down);
    assert_eq!(
        session.diagnostic(),
        Diagnostic::CONTROL_DETECTION_TIME_EXPIRED
    );
    let events = session.take_events();
    assert_eq!(
        events,
        [BfdEvent::StateChanged {
            from: BfdState::Up,
            to: BfdState::Down,
            diagnostic: Diagnostic::CONTROL_DETECTION_TIME_EXPIRED,
            remote_state: BfdState::Up,
            at: ms(1000),
        }]
    );
    // Down: slow again, the peer forgotten (6.8.1), the diagnostic sent.
    let sent = run(&mut session, ms(1001), ms(3000));
    let (_, last) = sent.last().copied().unwrap();
    assert_eq!(last.state, BfdState::Down);
    assert_eq!(last.your_discriminator, 0);
    assert_eq!(last.desired_min_tx_us, 1_000_000);
    assert_eq!(last.diagnostic, Diagnostic::CONTROL_DETECTION_TIME_EXPIRED);
}

#[test]
fn packets_keep_the_session_up() {
    let mut session = up_session();
    let mut now = ms(3);
    while now < ms(10_000) {
        receive(
            &mut session,
            now,
            from_peer(BfdState::Up, OURS, ms(300), |_| {}),
        );
        run(&mut session, now, now + ms(299));
        now += ms(300);
    }
    assert_eq!(session.state(), BfdState::Up);
    assert!(session.take_events().is_empty());
}

#[test]
fn transmissions_are_jittered_between_75_and_100_percent() {
    for (mult, top) in [(3u8, 300u64), (1, 270)] {
        let mut session = Session::new(BfdConfig::new(ms(300), mult, OURS), Duration::ZERO);
        receive(
            &mut session,
            ms(0),
            from_peer(BfdState::Init, OURS, ms(300), |_| {}),
        );
        receive(
            &mut session,
            ms(1),
            from_peer(BfdState::Up, OURS, ms(300), |c| c.final_ = true),
        );
        let mut sent = Vec::new();
        let mut now = ms(2);
        while now < ms(30_000) {
            receive(
                &mut session,
                now,
                from_peer(BfdState::Up, OURS, ms(300), |_| {}),
            );
            sent.extend(run(&mut session, now, now + ms(249)));
            now += ms(250);
        }
        let gaps: Vec<u64> = sent
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).as_millis() as u64)
            .collect();
        assert!(gaps.len() > 100);
        for gap in &gaps {
            assert!((225..=top).contains(gap), "multiplier {mult}: gap {gap} ms");
        }
        let distinct: std::collections::BTreeSet<_> = gaps.iter().collect();
        assert!(
            distinct.len() > 10,
            "multiplier {mult}: not jittered: {distinct:?}"
        );
    }
}

#[test]
fn a_slower_rate_waits_for_the_final() {
    let mut session = up_session();
    session.set_intervals(ms(10), Duration::from_secs(2), ms(300));
    assert!(session.poll_active());
    assert_eq!(
        session.transmit_interval(),
        ms(300),
        "unchanged until the Final"
    );
    let sent = run(&mut session, ms(10), ms(10));
    assert!(sent[0].1.poll);
    assert_eq!(sent[0].1.desired_min_tx_us, 2_000_000);
    receive(
        &mut session,
        ms(20),
        from_peer(BfdState::Up, OURS, ms(300), |c| c.final_ = true),
    );
    assert_eq!(session.transmit_interval(), Duration::from_secs(2));
    // A faster receive rate: detection keeps the old rate until the Final.
    session.set_intervals(ms(30), Duration::from_secs(2), ms(100));
    receive(
        &mut session,
        ms(40),
        from_peer(BfdState::Up, OURS, ms(100), |_| {}),
    );
    assert_eq!(session.detection_time(), Some(ms(900)));
    receive(
        &mut session,
        ms(50),
        from_peer(BfdState::Up, OURS, ms(100), |c| c.final_ = true),
    );
    assert_eq!(session.detection_time(), Some(ms(300)));
}

#[test]
fn a_poll_from_the_peer_is_answered_with_a_final_at_once() {
    let mut session = up_session();
    run(&mut session, ms(3), ms(400));
    receive(
        &mut session,
        ms(401),
        from_peer(BfdState::Up, OURS, ms(300), |c| c.poll = true),
    );
    let answer = session.transmit().map(|p| parse(&p)).unwrap();
    assert!(answer.final_ && !answer.poll);
    assert_eq!(answer.state, BfdState::Up);
}

#[test]
fn the_peer_going_down_or_admin_down_is_diagnostic_3() {
    let mut session = up_session();
    receive(
        &mut session,
        ms(10),
        from_peer(BfdState::Down, OURS, Duration::from_secs(1), |_| {}),
    );
    assert_eq!(session.state(), BfdState::Down);
    assert_eq!(
        session.diagnostic(),
        Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN
    );

    let mut session = up_session();
    receive(
        &mut session,
        ms(10),
        from_peer(BfdState::AdminDown, OURS, Duration::from_secs(1), |_| {}),
    );
    let events = session.take_events();
    assert!(matches!(
        events[..],
        [BfdEvent::StateChanged {
            to: BfdState::Down,
            remote_state: BfdState::AdminDown,
            ..
        }]
    ));
}

#[test]
fn admin_down_sends_diagnostic_7_and_ignores_the_peer() {
    let mut session = up_session();
    session.admin_down(ms(10));
    let sent = run(&mut session, ms(10), ms(10));
    assert_eq!(sent[0].1.state, BfdState::AdminDown);
    assert_eq!(sent[0].1.diagnostic, Diagnostic::ADMINISTRATIVELY_DOWN);
    receive(
        &mut session,
        ms(20),
        from_peer(BfdState::Up, OURS, ms(300), |_| {}),
    );
    run(&mut session, ms(20), ms(5000));
    assert_eq!(session.state(), BfdState::AdminDown);
    session.admin_up(ms(5001));
    assert_eq!(session.state(), BfdState::Down);
}

#[test]
fn refused_packets_are_counted_and_change_nothing() {
    let mut session = up_session();
    let good = from_peer(BfdState::Down, OURS, ms(300), |_| {});
    assert_eq!(
        session.receive(ms(10), 254, &good),
        Err(BfdError::Ttl { ttl: 254 })
    );
    let stranger = from_peer(BfdState::Down, 99, ms(300), |_| {});
    assert!(matches!(
        session.receive(ms(10), 255, &stranger),
        Err(BfdError::UnknownDiscriminator { found: 99, .. })
    ));
    let mut authenticated =
        from_peer(BfdState::Down, OURS, ms(300), |c| c.authentication = true).to_vec();
    authenticated[3] = 28;
    authenticated.extend_from_slice(&[1, 4, 0, 0]);
    assert_eq!(
        session.receive(ms(10), 255, &authenticated),
        Err(BfdError::AuthenticationNotConfigured { auth_type: 1 })
    );
    assert_eq!(
        session.receive(ms(10), 255, &good[..10]),
        Err(BfdError::Truncated { available: 10 })
    );
    assert_eq!(session.state(), BfdState::Up);
    let dropped = session.counters().dropped;
    for reason in [
        BfdDrop::Ttl,
        BfdDrop::UnknownDiscriminator,
        BfdDrop::AuthenticationNotConfigured,
        BfdDrop::Truncated,
    ] {
        assert_eq!(dropped[reason as usize], 1, "{}", reason.as_str());
    }
}
