//! Target `bgp`: any byte stream from a peer into an [`erdp::bgp::Peer`],
//! either from OpenSent (the OPEN is fuzzed too) or from Established, in
//! chunks of fuzzed sizes with the clock moving between them.
//!
//! Oracles: no panic; the session either stays up or ends cleanly (Idle,
//! with the NOTIFICATION it sent as the last bytes out, or after the peer's
//! NOTIFICATION); the RIB holds exactly the routes import accepted, and
//! none once the session is down.

use std::net::Ipv4Addr;
use std::time::Duration;

use erdp::bgp::{Event, MaxPrefix, Peer, PeerConfig, State};
use erdp::rib::Rib;
use erdp::wire::bgp::{self, Capabilities, Family, Open};

/// The peer's OPEN and KEEPALIVE that bring a session up.
fn peer_greeting() -> Vec<u8> {
    let mut out = Vec::new();
    Open {
        asn: 12076,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(10, 0, 0, 2),
        capabilities: Capabilities {
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            route_refresh: true,
            four_octet_as: Some(12076),
        },
    }
    .encode(&mut out);
    bgp::encode_keepalive(&mut out);
    out
}

/// Runs one input: byte 0 picks the start state (bit 7: OpenSent) and the
/// chunk size (low 6 bits + 1); the rest is the peer's stream.
pub fn run(data: &[u8]) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let mut config = PeerConfig::new(65001, 12076, Ipv4Addr::new(10, 0, 0, 1));
    config.local_v4 = Some(Ipv4Addr::new(10, 0, 0, 1));
    config.import.max_prefix = Some(MaxPrefix {
        limit: 200,
        restart_after: None,
    });
    config.idle_hold = None;
    let mut peer = Peer::new(config);
    let mut rib = Rib::default();
    let mut now = Duration::ZERO;
    peer.start(now);
    peer.connected(now);
    if control & 0x80 == 0 {
        peer.receive(now, &peer_greeting(), &mut rib)
            .expect("the RIB takes every route");
        assert_eq!(peer.state(), State::Established, "greeting refused");
    }
    peer.take_output();
    peer.take_events();
    let chunk = usize::from(control & 0x3f) + 1;
    let mut last_output = Vec::new();
    let mut events = Vec::new();
    for piece in stream.chunks(chunk) {
        now += Duration::from_millis(250);
        peer.receive(now, piece, &mut rib)
            .expect("the RIB takes every route");
        peer.poll(now, &mut rib).expect("the RIB takes every route");
        let output = peer.take_output();
        if !output.is_empty() {
            last_output = output;
        }
        events.extend(peer.take_events());
        assert_eq!(
            rib.len(),
            peer.adj_rib_in().accepted(),
            "RIB and accepted routes differ"
        );
        if peer.state() == State::Idle {
            break;
        }
    }
    if peer.state() != State::Idle {
        return;
    }
    assert!(rib.is_empty(), "routes left after the session ended");
    assert!(
        events.contains(&Event::Disconnect),
        "down without a disconnect"
    );
    let received = events
        .iter()
        .any(|e| matches!(e, Event::NotificationReceived(_)));
    let sent = events.iter().find_map(|e| match e {
        Event::NotificationSent(n) => Some(n.clone()),
        _ => None,
    });
    match sent {
        Some(notification) => {
            let mut expected = Vec::new();
            notification.encode(&mut expected);
            assert!(
                last_output.ends_with(&expected),
                "NOTIFICATION {notification} is not the last thing sent"
            );
        }
        None => assert!(received, "closed without a NOTIFICATION either way"),
    }
}
