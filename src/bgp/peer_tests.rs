//! Session tests against a scripted peer in virtual time: establishment,
//! timer negotiation and expiry, routes into the RIB, RFC 7606 outcomes,
//! max-prefix with restart, FSM errors.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

use super::*;
use crate::bgp::Collision;
use crate::rib::Rib;
use crate::wire::bgp::{
    self, AsPath, Capabilities, Family, Notification, Open, Origin, PathAttributes,
};

const SECOND: Duration = Duration::from_secs(1);

fn config() -> PeerConfig {
    let mut config = PeerConfig::new(65001, 12076, Ipv4Addr::new(10, 0, 0, 1));
    config.local_v4 = Some(Ipv4Addr::new(10, 0, 0, 1));
    config.local_v6 = Some("2001:db8::1".parse().unwrap());
    config
}

fn peer_open(hold_time: u16) -> Vec<u8> {
    let mut out = Vec::new();
    Open {
        asn: 12076,
        hold_time,
        bgp_id: Ipv4Addr::new(10, 0, 0, 2),
        capabilities: Capabilities {
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            route_refresh: true,
            four_octet_as: Some(12076),
        },
    }
    .encode(&mut out);
    out
}

fn keepalive() -> Vec<u8> {
    let mut out = Vec::new();
    bgp::encode_keepalive(&mut out);
    out
}

fn announce(prefixes: &[&str]) -> Vec<u8> {
    let prefixes: Vec<IpNet> = prefixes.iter().map(|p| p.parse().unwrap()).collect();
    let mut out = Vec::new();
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        let of_family: Vec<IpNet> = prefixes
            .iter()
            .filter(|p| matches!(p, IpNet::V4(_)) == (family == Family::Ipv4Unicast))
            .copied()
            .collect();
        let attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(&[12076, 65515])),
            next_hop: (family == Family::Ipv4Unicast).then_some(Ipv4Addr::new(10, 0, 0, 2)),
            ..PathAttributes::default()
        };
        let next_hop: Ipv6Addr = "2001:db8::2".parse().unwrap();
        bgp::encode_announce(family, &attributes, next_hop, true, &of_family, &mut out).unwrap();
    }
    out
}

/// Messages in `bytes`, as (type, body).
fn messages(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while let Some(framed) = bgp::frame(rest).unwrap() {
        out.push((framed.message_type, framed.body.to_vec()));
        rest = &rest[framed.len..];
    }
    out
}

fn sent_notification(peer: &mut Peer) -> Option<Notification> {
    peer.take_events()
        .into_iter()
        .find_map(|event| match event {
            Event::NotificationSent(n) => Some(n),
            _ => None,
        })
}

/// A session brought to Established at t = 0 with the peer proposing `hold`.
fn established(config: PeerConfig, hold: u16, rib: &mut Rib) -> Peer {
    let mut peer = Peer::new(config);
    peer.start(Duration::ZERO);
    assert_eq!(peer.take_events()[1], Event::Connect);
    peer.connected(Duration::ZERO);
    let sent = messages(&peer.take_output());
    assert_eq!(sent[0].0, bgp::message_type::OPEN);
    let stream = [peer_open(hold), keepalive()].concat();
    peer.receive(Duration::ZERO, &stream, rib).unwrap();
    assert_eq!(peer.state(), State::Established);
    peer
}

#[test]
fn establishes_and_walks_the_rfc_4271_states() {
    let mut rib = Rib::default();
    let mut peer = Peer::new(config());
    peer.start(Duration::ZERO);
    peer.connected(Duration::ZERO);
    let open = messages(&peer.take_output());
    let ours = Open::decode(&open[0].1).unwrap();
    assert_eq!((ours.asn, ours.hold_time), (65001, 180));
    assert!(ours.capabilities.route_refresh);
    peer.receive(SECOND, &peer_open(90), &mut rib).unwrap();
    assert_eq!(peer.state(), State::OpenConfirm);
    assert_eq!(
        messages(&peer.take_output())[0].0,
        bgp::message_type::KEEPALIVE
    );
    peer.receive(SECOND, &keepalive(), &mut rib).unwrap();
    let states: Vec<State> = peer
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::StateChanged { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            State::Connect,
            State::OpenSent,
            State::OpenConfirm,
            State::Established
        ]
    );
    let negotiated = peer.negotiated().unwrap();
    assert_eq!(negotiated.hold_time, 90);
    assert_eq!(negotiated.keepalive, 30 * SECOND);
    assert!(negotiated.four_octet);
}

#[test]
fn passive_sessions_wait_in_active() {
    let mut passive = config();
    passive.passive = true;
    let mut peer = Peer::new(passive);
    peer.start(Duration::ZERO);
    assert_eq!(peer.state(), State::Active);
    assert!(!peer.take_events().contains(&Event::Connect));
    peer.connected(SECOND);
    assert_eq!(peer.state(), State::OpenSent);
}

#[test]
fn hold_time_negotiates_down_and_keepalives_follow_in_virtual_time() {
    let mut rib = Rib::default();
    // MSEE proposes 180 s; the customer edge 9 s: 9 s wins, keepalive 3 s.
    let mut peer = established(config(), 9, &mut rib);
    assert_eq!(peer.negotiated().unwrap().keepalive, 3 * SECOND);
    peer.take_output();
    let mut keepalives = 0;
    for t in 1..=8 {
        peer.poll(t * SECOND, &mut rib).unwrap();
        keepalives += messages(&peer.take_output()).len();
    }
    assert_eq!(keepalives, 2, "at 3 s and 6 s");
    assert_eq!(peer.state(), State::Established);
    // A KEEPALIVE from the peer at 8 s pushes expiry to 17 s.
    peer.receive(8 * SECOND, &keepalive(), &mut rib).unwrap();
    peer.poll(16 * SECOND, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Established);
    peer.poll(17 * SECOND, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Idle);
    let sent = sent_notification(&mut peer).unwrap();
    assert_eq!((sent.code, sent.subcode), (4, 0));
    // IdleHoldTimer (5 s) then a new connection attempt.
    assert_eq!(peer.next_deadline(), Some(22 * SECOND));
    peer.poll(22 * SECOND, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Connect);
    assert!(peer.take_events().contains(&Event::Connect));
}

#[test]
fn open_errors_get_their_notifications() {
    type Tweak = Box<dyn Fn(&mut PeerConfig)>;
    let cases: [(Tweak, Vec<u8>, (u8, u8)); 3] = [
        (Box::new(|c| c.peer_as = 65515), peer_open(90), (2, 2)),
        (Box::new(|c| c.min_hold_time = 10), peer_open(5), (2, 6)),
        (Box::new(|_| {}), announce(&["10.0.0.0/8"]), (5, 1)),
    ];
    for (tweak, reply, expected) in cases {
        let mut config = config();
        tweak(&mut config);
        let mut rib = Rib::default();
        let mut peer = Peer::new(config);
        peer.start(Duration::ZERO);
        peer.connected(Duration::ZERO);
        peer.take_output();
        peer.receive(SECOND, &reply, &mut rib).unwrap();
        let sent = sent_notification(&mut peer).unwrap();
        assert_eq!((sent.code, sent.subcode), expected);
        assert_eq!(peer.state(), State::Idle);
        let out = messages(&peer.take_output());
        assert_eq!(out[0].0, bgp::message_type::NOTIFICATION);
    }
}

#[test]
fn routes_flow_into_the_rib_and_leave_on_withdraw_and_session_down() {
    let mut rib = Rib::default();
    let mut peer = established(config(), 90, &mut rib);
    let update = announce(&["10.1.0.0/16", "10.2.0.0/16", "2001:db8:100::/48"]);
    // Byte by byte: partial messages wait for the rest.
    for byte in &update {
        peer.receive(SECOND, std::slice::from_ref(byte), &mut rib)
            .unwrap();
    }
    assert_eq!(rib.len(), 3);
    let v6 = rib.candidates("2001:db8:100::/48".parse().unwrap());
    assert_eq!(v6[0].next_hop.via, Some("2001:db8::2".parse().unwrap()));
    assert_eq!(*v6[0].bgp.as_path, [12076, 65515]);
    let mut withdraw = Vec::new();
    bgp::encode_withdraw(
        Family::Ipv4Unicast,
        &["10.1.0.0/16".parse().unwrap()],
        &mut withdraw,
    );
    peer.receive(SECOND, &withdraw, &mut rib).unwrap();
    assert_eq!(rib.len(), 2);
    assert!(rib.candidates("10.1.0.0/16".parse().unwrap()).is_empty());
    // The peer says goodbye: every route it gave goes.
    let mut bye = Vec::new();
    Notification::new(6, 2).encode(&mut bye);
    peer.receive(2 * SECOND, &bye, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Idle);
    assert!(rib.is_empty());
}

#[test]
fn we_advertise_on_establishment_with_our_as_prepended_and_withdraw() {
    let mut rib = Rib::default();
    let mut config = config();
    config.export.prepend = 2;
    let mut peer = Peer::new(config);
    peer.announce(&[
        "192.0.2.0/24".parse().unwrap(),
        "2001:db8:1::/48".parse().unwrap(),
    ]);
    peer.start(Duration::ZERO);
    peer.connected(Duration::ZERO);
    peer.receive(
        Duration::ZERO,
        &[peer_open(90), keepalive()].concat(),
        &mut rib,
    )
    .unwrap();
    let out = peer.take_output();
    let updates: Vec<_> = messages(&out)
        .into_iter()
        .filter(|(t, _)| *t == bgp::message_type::UPDATE)
        .collect();
    // IPv4 route, IPv6 route, two End-of-RIB markers.
    assert_eq!(updates.len(), 4);
    let v4 = bgp::Update::decode(&updates[0].1, true).unwrap();
    let path: Vec<u32> = v4.attributes.as_path.unwrap().asns().collect();
    assert_eq!(path, [65001, 65001, 65001]);
    assert_eq!(v4.attributes.next_hop, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(v4.attributes.local_pref, None, "eBGP: no LOCAL_PREF");
    peer.withdraw(&["192.0.2.0/24".parse().unwrap()]);
    let out = peer.take_output();
    let withdrawn = messages(&out);
    let update = bgp::Update::decode(&withdrawn[0].1, true).unwrap();
    assert_eq!(
        update.withdrawn.collect::<Vec<_>>(),
        ["192.0.2.0/24".parse::<IpNet>().unwrap()]
    );
}

#[test]
fn max_prefix_ceases_then_restarts_after_the_idle_time() {
    let mut rib = Rib::default();
    let mut config = config();
    config.import.max_prefix = Some(MaxPrefix {
        limit: 2,
        restart_after: Some(Duration::from_secs(30)),
    });
    let mut peer = established(config, 90, &mut rib);
    peer.take_events();
    peer.receive(SECOND, &announce(&["10.1.0.0/16", "10.2.0.0/16"]), &mut rib)
        .unwrap();
    assert_eq!(peer.state(), State::Established, "at the limit is fine");
    peer.receive(SECOND, &announce(&["10.3.0.0/16"]), &mut rib)
        .unwrap();
    assert_eq!(peer.state(), State::Idle);
    let sent = sent_notification(&mut peer).unwrap();
    assert_eq!((sent.code, sent.subcode), (6, 1));
    assert_eq!(sent.data, [0, 1, 1, 0, 0, 0, 2], "AFI 1, SAFI 1, limit 2");
    assert!(rib.is_empty());
    peer.poll(30 * SECOND, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Idle);
    peer.poll(31 * SECOND, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Connect);
}

#[test]
fn a_malformed_attribute_withdraws_but_keeps_the_session() {
    let mut rib = Rib::default();
    let mut peer = established(config(), 90, &mut rib);
    peer.receive(SECOND, &announce(&["10.1.0.0/16"]), &mut rib)
        .unwrap();
    assert_eq!(rib.len(), 1);
    // The same prefix with ORIGIN 7: treat-as-withdraw (RFC 7606 7.1).
    let attrs = [
        0x40, 1, 1, 7, 0x40, 2, 6, 2, 1, 0, 0, 0x2f, 0x2c, 0x40, 3, 4, 10, 0, 0, 2,
    ];
    let mut body = vec![0, 0, 0, attrs.len() as u8];
    body.extend_from_slice(&attrs);
    body.extend_from_slice(&[16, 10, 1]);
    let mut message = vec![0xff; 16];
    message.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    message.push(bgp::message_type::UPDATE);
    message.extend_from_slice(&body);
    peer.receive(2 * SECOND, &message, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Established);
    assert!(rib.is_empty());
    assert_eq!(peer.counters().treat_as_withdraw, 1);
    // A bad header length resets with 1/2.
    let mut bad = keepalive();
    bad[17] = 18;
    peer.receive(3 * SECOND, &bad, &mut rib).unwrap();
    let sent = sent_notification(&mut peer).unwrap();
    assert_eq!(
        (sent.code, sent.subcode, sent.data.as_slice()),
        (1, 2, &[0, 18][..])
    );
}

#[test]
fn routes_with_our_as_in_the_path_are_refused() {
    let mut rib = Rib::default();
    let mut config = config();
    config.local_as = 65515;
    let mut peer = established(config, 90, &mut rib);
    peer.receive(SECOND, &announce(&["10.1.0.0/16"]), &mut rib)
        .unwrap();
    assert!(rib.is_empty());
    assert_eq!(peer.counters().as_loops, 1);
}

#[test]
fn route_refresh_resends_the_family() {
    let mut rib = Rib::default();
    let mut peer = established(config(), 90, &mut rib);
    peer.announce(&["192.0.2.0/24".parse().unwrap()]);
    peer.take_output();
    let mut refresh = Vec::new();
    bgp::RouteRefresh { afi: 1, safi: 1 }.encode(&mut refresh);
    peer.receive(SECOND, &refresh, &mut rib).unwrap();
    let out = peer.take_output();
    let sent = messages(&out);
    assert_eq!(sent.len(), 2, "the route and End-of-RIB");
    let update = bgp::Update::decode(&sent[0].1, true).unwrap();
    assert_eq!(update.nlri.count(), 1);
}

/// A BFD session (300 ms x 3, Microsoft's "Configure BFD over ExpressRoute")
/// beside a BGP session with hold time 9 s; the peer goes silent at 2 s.
/// With BFD, the session ends 900 ms later with Cease 6/10 (RFC 9384);
/// without it, at the hold timer's expiry with 4/0.
#[test]
fn bfd_down_ends_the_session_at_once_and_the_hold_timer_decides_without_it() {
    use crate::bfd::{BfdConfig, BfdEvent, Session};
    use crate::wire::bfd::{BFD_CONTROL_LEN, BfdControl, BfdPacket, BfdState};

    let ms = Duration::from_millis;
    let silent_from = 2 * SECOND;
    for with_bfd in [true, false] {
        let mut rib = Rib::default();
        let mut peer = established(config(), 9, &mut rib);
        peer.receive(Duration::ZERO, &announce(&["10.1.0.0/16"]), &mut rib)
            .unwrap();
        peer.take_events();
        let mut bfd = Session::new(BfdConfig::new(ms(300), 3, 1), Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut down_at = None;
        while now < 20 * SECOND && down_at.is_none() {
            // The peer's BFD answers ours (state and discriminator) until silent.
            while let Some(ours) = bfd.transmit() {
                let ours = BfdControl::parse(&BfdPacket::new_checked(&ours[..]).unwrap());
                if now < silent_from {
                    let state = match ours.state {
                        BfdState::Down => BfdState::Init,
                        _ => BfdState::Up,
                    };
                    let answer = BfdControl {
                        state,
                        final_: ours.poll,
                        detect_mult: 3,
                        my_discriminator: 2,
                        your_discriminator: ours.my_discriminator,
                        desired_min_tx_us: 300_000,
                        required_min_rx_us: 300_000,
                        ..BfdControl::default()
                    };
                    let mut bytes = [0u8; BFD_CONTROL_LEN];
                    answer.emit(&mut bytes);
                    bfd.receive(now, 255, &bytes).unwrap();
                }
            }
            if now < silent_from && now.as_millis().is_multiple_of(3000) {
                peer.receive(now, &keepalive(), &mut rib).unwrap();
            }
            if with_bfd {
                bfd.poll(now);
                for BfdEvent::StateChanged { from, to, .. } in bfd.take_events() {
                    if from == BfdState::Up && to == BfdState::Down {
                        peer.bfd_down(now, &mut rib).unwrap();
                    }
                }
            }
            peer.poll(now, &mut rib).unwrap();
            if peer.state() == State::Idle {
                down_at = Some(now);
            }
            now += ms(1);
        }
        let down_at = down_at.expect("the session went down");
        let sent = sent_notification(&mut peer).unwrap();
        assert!(rib.is_empty(), "routes withdrawn");
        let last = messages(&peer.take_output()).pop().unwrap();
        assert_eq!(last.0, bgp::message_type::NOTIFICATION);
        if with_bfd {
            assert_eq!((sent.code, sent.subcode), (6, 10));
            assert_eq!(sent.describe(), "Cease: BFD Down");
            // The last BFD packet came in just before 2 s; 3 x 300 ms later.
            assert!(down_at > silent_from && down_at <= silent_from + ms(900));
        } else {
            assert_eq!((sent.code, sent.subcode), (4, 0));
            // The last KEEPALIVE came at 0 s: expiry at 9 s.
            assert_eq!(down_at, 9 * SECOND);
        }
    }
}

#[test]
fn bfd_down_outside_a_session_changes_nothing() {
    let mut rib = Rib::default();
    let mut peer = Peer::new(config());
    peer.bfd_down(SECOND, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Idle);
    assert!(peer.take_output().is_empty());
}

fn the_peers_open() -> Open {
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
}

/// Our connection in OpenConfirm (we connected; the peer's OPEN came).
fn in_open_confirm(router_id: Ipv4Addr, rib: &mut Rib) -> Peer {
    let mut config = config();
    config.router_id = router_id;
    let mut peer = Peer::new(config);
    peer.start(Duration::ZERO);
    peer.connected(Duration::ZERO);
    peer.receive(Duration::ZERO, &peer_open(90), rib).unwrap();
    assert_eq!(peer.state(), State::OpenConfirm);
    peer.take_output();
    peer.take_events();
    peer
}

#[test]
fn collision_with_a_higher_peer_identifier_moves_to_the_peers_connection() {
    // RFC 4271 6.8: we (10.0.0.1) are lower than the peer (10.0.0.2).
    let mut rib = Rib::default();
    let mut peer = in_open_confirm(Ipv4Addr::new(10, 0, 0, 1), &mut rib);
    let outcome = peer.incoming_open(SECOND, &the_peers_open());
    assert_eq!(outcome, Collision::KeepIncoming);
    let sent = sent_notification(&mut peer);
    assert_eq!(sent, Some(Notification::new(6, 7)));
    let out = messages(&peer.take_output());
    assert_eq!(out.last().unwrap().0, bgp::message_type::NOTIFICATION);
    assert_eq!(peer.state(), State::Active);
    // The driver switches to the new connection: OPEN, then theirs.
    peer.connected(SECOND);
    assert_eq!(messages(&peer.take_output())[0].0, bgp::message_type::OPEN);
    let stream = [peer_open(90), keepalive()].concat();
    peer.receive(SECOND, &stream, &mut rib).unwrap();
    assert_eq!(peer.state(), State::Established);
}

#[test]
fn collision_with_a_lower_peer_identifier_keeps_our_connection() {
    let mut rib = Rib::default();
    let mut peer = in_open_confirm(Ipv4Addr::new(10, 0, 0, 9), &mut rib);
    assert_eq!(
        peer.incoming_open(SECOND, &the_peers_open()),
        Collision::KeepExisting
    );
    assert_eq!(peer.state(), State::OpenConfirm);
    assert!(peer.take_output().is_empty());
    assert_eq!(
        Peer::collision_notification().describe(),
        "Cease: Connection Collision Resolution"
    );
}

#[test]
fn no_collision_outside_open_confirm_or_with_another_identifier() {
    let mut rib = Rib::default();
    // Established: the existing session stays.
    let mut peer = established(config(), 90, &mut rib);
    peer.take_output();
    assert_eq!(
        peer.incoming_open(SECOND, &the_peers_open()),
        Collision::KeepExisting
    );
    assert_eq!(peer.state(), State::Established);
    // Another BGP Identifier is not this session's peer.
    let mut peer = in_open_confirm(Ipv4Addr::new(10, 0, 0, 1), &mut rib);
    let mut stranger = the_peers_open();
    stranger.bgp_id = Ipv4Addr::new(10, 0, 0, 3);
    assert_eq!(
        peer.incoming_open(SECOND, &stranger),
        Collision::KeepExisting
    );
    assert_eq!(peer.state(), State::OpenConfirm);
    // OpenSent: the peer's Identifier is not known yet.
    let mut peer = Peer::new(config());
    peer.start(Duration::ZERO);
    peer.connected(Duration::ZERO);
    assert_eq!(
        peer.incoming_open(SECOND, &the_peers_open()),
        Collision::KeepExisting
    );
    assert_eq!(peer.state(), State::OpenSent);
}
