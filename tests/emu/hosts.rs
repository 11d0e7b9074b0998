//! Two smoltcp hosts on one emulated link: TCP bulk transfers both ways
//! with loss and reordering (every byte checked), ping, UDP and DSCP EF
//! marking, over IPv4 and IPv6, deterministic by seed.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use erdp::emu::app::{
    Ping, PingConfig, TcpBulk, TcpBulkConfig, UdpReceiver, UdpReceiverConfig, UdpSender,
    UdpSenderConfig,
};
use erdp::emu::host::{DSCP_EF, FlowMatch};
use erdp::emu::{ChannelConfig, LinkConfig, SimTime};
use support::emu::*;

/// A 50 Mbit/s, 5 ms link losing 1% and reordering 2% of frames each way.
fn lossy() -> ChannelConfig {
    ChannelConfig::default()
        .rate_bps(50_000_000)
        .delay(Duration::from_millis(5))
        .queue_limit(200)
        .loss(0.01)
        .reorder(0.02, Duration::from_millis(2))
}

/// Two transfers: `a` uploads `up` bytes to `b`, and `b` connects to `a`
/// and uploads `down` bytes. Runs until both are verified or 120 s pass.
fn bulk_both_ways(
    pair: &mut Pair,
    server_a: SocketAddr,
    server_b: SocketAddr,
    up: u64,
    down: u64,
) -> serde_json::Value {
    let seed = pair.sim.seed();
    let (a, b) = (pair.a, pair.b);
    let (c1, s1) = TcpBulkConfig::pair("a->b", server_b, 40001, up, 0, seed);
    let (c2, s2) = TcpBulkConfig::pair("b->a", server_a, 40002, down, 0, seed);
    let s1 = pair.add(b, Box::new(TcpBulk::new(s1)));
    let s2 = pair.add(a, Box::new(TcpBulk::new(s2)));
    let c1 = pair.add(a, Box::new(TcpBulk::new(c1)));
    let c2 = pair.add(b, Box::new(TcpBulk::new(c2)));
    let done =
        pair.sim
            .run_until_done(SimTime::from_secs(120), Duration::from_millis(100), |sim| {
                let host = |id| sim.device::<erdp::emu::Host>(id).unwrap();
                host(b).tcp_bulk_report(s1).unwrap().receive_verified()
                    && host(a).tcp_bulk_report(s2).unwrap().receive_verified()
            });
    let (client1, server1) = (
        pair.host(a).tcp_bulk_report(c1).unwrap(),
        pair.host(b).tcp_bulk_report(s1).unwrap(),
    );
    let (client2, server2) = (
        pair.host(b).tcp_bulk_report(c2).unwrap(),
        pair.host(a).tcp_bulk_report(s2).unwrap(),
    );
    assert!(
        done,
        "transfers did not finish by 120 s: {server1:#?} {server2:#?}"
    );
    for (sender, receiver, bytes) in [(&client1, &server1, up), (&client2, &server2, down)] {
        assert_eq!(receiver.bytes_received, bytes, "{}", receiver.name);
        assert_eq!(receiver.first_mismatch, None, "{}", receiver.name);
        assert!(
            receiver.received_all_of(sender),
            "CRC or count differs: {sender:#?} {receiver:#?}"
        );
        let throughput = receiver.receive_throughput_bps().unwrap();
        assert!(
            throughput > 1e5 && throughput < 50e6,
            "{} goodput {throughput} bit/s",
            receiver.name
        );
    }
    let link = pair.sim.link_report(pair.link).unwrap();
    for channel in [&link.a_to_b, &link.b_to_a] {
        assert!(channel.dropped.random_loss > 0, "loss happened: {link:#?}");
        assert!(channel.reordered > 0, "reordering happened: {link:#?}");
        assert!(channel.is_conserved(), "{link:#?}");
    }
    serde_json::json!({ "a->b": server1, "b->a": server2, "link": link })
}

#[test]
fn tcp_bulk_both_ways_over_ipv4_with_loss_and_reordering() {
    let mut pair = Pair::new(11, lossy());
    bulk_both_ways(
        &mut pair,
        (V4_A, 5001).into(),
        (V4_B, 5002).into(),
        3_000_000,
        2_000_000,
    );
}

#[test]
fn tcp_bulk_both_ways_over_ipv6_with_loss_and_reordering() {
    let mut pair = Pair::new(12, lossy());
    bulk_both_ways(
        &mut pair,
        (V6_A, 5001).into(),
        (V6_B, 5002).into(),
        2_000_000,
        3_000_000,
    );
}

#[test]
fn a_full_duplex_connection_moves_both_streams() {
    let mut pair = Pair::new(13, lossy());
    let (client, server) = TcpBulkConfig::pair(
        "duplex",
        (V4_B, 6000).into(),
        41000,
        1_500_000,
        1_000_000,
        13,
    );
    let (a, b) = (pair.a, pair.b);
    let server = pair.add(b, Box::new(TcpBulk::new(server)));
    let client = pair.add(a, Box::new(TcpBulk::new(client)));
    pair.sim.run_until(SimTime::from_secs(60));
    let (c, s) = (
        pair.host(a).tcp_bulk_report(client).unwrap(),
        pair.host(b).tcp_bulk_report(server).unwrap(),
    );
    assert!(s.received_all_of(&c), "{c:#?} {s:#?}");
    assert!(c.received_all_of(&s), "{c:#?} {s:#?}");
    assert!(c.send_done_at.is_some() && s.send_done_at.is_some());
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
    let run = |seed| {
        let mut pair = Pair::new(seed, lossy());
        let result = bulk_both_ways(
            &mut pair,
            (V4_A, 5001).into(),
            (V4_B, 5002).into(),
            500_000,
            500_000,
        );
        let apps: Vec<_> = [pair.a, pair.b]
            .iter()
            .map(|&id| pair.host(id).app_reports())
            .collect();
        let whole = serde_json::json!({ "sim": pair.sim.report(), "apps": apps });
        (result, whole)
    };
    let (first, first_stats) = run(21);
    let (second, second_stats) = run(21);
    assert_eq!(first, second);
    assert_eq!(first_stats, second_stats);
    let (other, _) = run(22);
    assert_ne!(
        first["link"], other["link"],
        "another seed draws other losses"
    );
}

#[test]
fn ping_over_ipv4_and_ipv6_measures_the_round_trip() {
    // No rate limit: the round trip is exactly twice the 5 ms delay.
    let mut pair = Pair::new(3, ChannelConfig::default().delay(Duration::from_millis(5)));
    let a = pair.a;
    let mut v6_ping = PingConfig::new("ping6", v6(V6_B), 5);
    v6_ping.ident = 2;
    v6_ping.start_at = SimTime::from_millis(500);
    let p4 = pair.add(
        a,
        Box::new(Ping::new(PingConfig::new("ping4", v4(V4_B), 5))),
    );
    let p6 = pair.add(a, Box::new(Ping::new(v6_ping)));
    pair.sim.run_until(SimTime::from_secs(10));
    for id in [p4, p6] {
        let report = pair.host(a).ping_report(id).unwrap();
        assert_eq!(
            (
                report.sent,
                report.received,
                report.duplicates,
                report.malformed
            ),
            (5, 5, 0, 0),
            "{report:#?}"
        );
        assert_eq!(report.rtt.min_ns, Some(10_000_000), "{report:#?}");
        assert_eq!(report.lost(), 0);
    }
    // The first IPv4 echo waited one ARP round trip.
    let p4 = pair.host(a).ping_report(p4).unwrap();
    assert_eq!(p4.rtt.max_ns, Some(20_000_000), "{p4:#?}");
}

#[test]
fn ping_counts_losses_on_a_lossy_link() {
    let mut pair = Pair::new(
        4,
        ChannelConfig::default()
            .delay(Duration::from_millis(1))
            .loss(0.2),
    );
    let a = pair.a;
    let mut config = PingConfig::new("ping", v4(V4_B), 200);
    config.interval = Duration::from_millis(10);
    let ping = pair.add(a, Box::new(Ping::new(config)));
    pair.sim.run_until(SimTime::from_secs(10));
    let report = pair.host(a).ping_report(ping).unwrap();
    // Requests made while ARP was being retried (its frames are lost too)
    // may find the socket buffer full; every request is accounted for.
    assert_eq!(report.sent + report.send_failures, 200, "{report:#?}");
    assert!(report.sent >= 100, "{report:#?}");
    // Each echo survives two crossings with p = 0.8 each: about 64% return.
    let share = report.received as f64 / report.sent as f64;
    assert!((0.5..0.8).contains(&share), "{report:#?}");
    assert_eq!(report.lost(), report.sent - report.received);
}

fn udp_flow(
    pair: &mut Pair,
    port: u16,
    count: u64,
    payload_len: usize,
) -> (erdp::emu::AppId, erdp::emu::AppId) {
    udp_flow_every(pair, port, count, payload_len, Duration::from_millis(1))
}

fn udp_flow_every(
    pair: &mut Pair,
    port: u16,
    count: u64,
    payload_len: usize,
    interval: Duration,
) -> (erdp::emu::AppId, erdp::emu::AppId) {
    let (a, b) = (pair.a, pair.b);
    let receiver = pair.add(
        b,
        Box::new(UdpReceiver::new(UdpReceiverConfig {
            name: format!("udp {port} rx"),
            port,
            expect_count: count,
            max_payload_len: payload_len,
        })),
    );
    let sender = pair.add(
        a,
        Box::new(UdpSender::new(UdpSenderConfig {
            name: format!("udp {port} tx"),
            target: (V4_B, port).into(),
            local_port: port + 1000,
            count,
            interval,
            payload_len,
            start_at: SimTime::from_millis(100),
        })),
    );
    (sender, receiver)
}

#[test]
fn udp_flow_counts_loss_and_one_way_latency() {
    let mut pair = Pair::new(
        5,
        ChannelConfig::default()
            .rate_bps(10_000_000)
            .delay(Duration::from_millis(5))
            .loss(0.05),
    );
    let (sender, receiver) = udp_flow(&mut pair, 7000, 1000, 1000);
    pair.sim.run_until(SimTime::from_secs(3));
    let sent = pair.host(pair.a).udp_send_report(sender).unwrap();
    let received = pair.host(pair.b).udp_receive_report(receiver).unwrap();
    assert_eq!(sent.sent, 1000);
    let lost = received.lost(&sent);
    assert!((20..90).contains(&lost), "5% of 1000 lost, got {lost}");
    assert_eq!(received.duplicates, 0);
    // 1042-byte frame at 10 Mbit/s = 833.6 us (rounded up to the smoltcp microsecond), plus 5 ms.
    let latency = received.latency;
    assert!(
        latency.min_ns.unwrap() >= 5_833_600 && latency.min_ns.unwrap() < 5_835_000,
        "{latency:?}"
    );
    let link = pair.sim.link_report(pair.link).unwrap();
    assert!(link.a_to_b.dropped.random_loss >= lost, "{link:#?}");
}

#[test]
fn dscp_ef_is_marked_on_egress_and_seen_on_arrival() {
    let mut pair = Pair::new(6, ChannelConfig::default().delay(Duration::from_millis(2)));
    let (a, b) = (pair.a, pair.b);
    pair.host_mut(a)
        .mark_dscp(FlowMatch::udp_to(7001), DSCP_EF)
        .unwrap();
    pair.host_mut(b)
        .check_dscp(FlowMatch::udp_to(7001), DSCP_EF)
        .unwrap();
    // An unmarked flow checked for EF shows that the check can fail.
    pair.host_mut(b)
        .check_dscp(FlowMatch::udp_to(7002), DSCP_EF)
        .unwrap();
    let err = pair
        .host_mut(a)
        .mark_dscp(FlowMatch::default(), 64)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "host a: DSCP 64 does not fit in six bits (0..=63)"
    );
    let (ef_sender, ef_receiver) = udp_flow(&mut pair, 7001, 100, 200);
    let (_, plain_receiver) = udp_flow(&mut pair, 7002, 100, 200);
    pair.sim.run_until(SimTime::from_secs(1));
    let sent = pair.host(a).udp_send_report(ef_sender).unwrap();
    let received = pair.host(b).udp_receive_report(ef_receiver).unwrap();
    assert_eq!((sent.sent, received.received), (100, 100));
    assert_eq!(pair.host(a).dscp_marks()[0].marked, 100);
    let checks = pair.host(b).dscp_checks();
    assert_eq!(
        (
            checks[0].matched,
            checks[0].with_expected,
            checks[0].last_other
        ),
        (100, 100, None)
    );
    assert_eq!(
        (
            checks[1].matched,
            checks[1].with_expected,
            checks[1].last_other
        ),
        (100, 0, Some(0))
    );
    assert_eq!(
        pair.host(b)
            .udp_receive_report(plain_receiver)
            .unwrap()
            .received,
        100
    );
}

#[test]
fn frames_over_the_link_mtu_are_dropped_and_counted() {
    // Jumbo-frame hosts on a 1500-byte link: 3000-byte datagrams cannot cross.
    let link = LinkConfig::symmetric("a-b", ChannelConfig::default().mtu(1500));
    let mut pair = Pair::with(7, link, |host| host.mtu = 9000);
    let (sender, receiver) = udp_flow(&mut pair, 7003, 50, 3000);
    let (small_sender, small_receiver) = udp_flow(&mut pair, 7004, 50, 1000);
    pair.sim.run_until(SimTime::from_secs(1));
    let link = pair.sim.link_report(pair.link).unwrap();
    assert_eq!(pair.host(pair.a).udp_send_report(sender).unwrap().sent, 50);
    assert_eq!(
        pair.host(pair.b)
            .udp_receive_report(receiver)
            .unwrap()
            .received,
        0
    );
    assert_eq!(link.a_to_b.dropped.oversize, 50, "{link:#?}");
    assert_eq!(
        pair.host(pair.a)
            .udp_send_report(small_sender)
            .unwrap()
            .sent,
        50
    );
    assert_eq!(
        pair.host(pair.b)
            .udp_receive_report(small_receiver)
            .unwrap()
            .received,
        50
    );
    assert!(link.a_to_b.is_conserved());
}

#[test]
fn the_hot_path_reuses_frame_buffers() {
    let mut pair = Pair::new(
        8,
        ChannelConfig::default()
            .rate_bps(1_000_000_000)
            .delay(Duration::from_millis(1)),
    );
    let (client, server) =
        TcpBulkConfig::pair("bulk", (V4_B, 5000).into(), 40000, 20_000_000, 0, 8);
    let (a, b) = (pair.a, pair.b);
    let server = pair.add(b, Box::new(TcpBulk::new(server)));
    pair.add(a, Box::new(TcpBulk::new(client)));
    pair.sim.run_until(SimTime::from_secs(5));
    assert!(
        pair.host(b)
            .tcp_bulk_report(server)
            .unwrap()
            .receive_verified()
    );
    let stats = pair.sim.stats();
    let link = pair.sim.link_report(pair.link).unwrap();
    let peak_in_flight = link.a_to_b.max_queue_depth + link.b_to_a.max_queue_depth;
    assert!(stats.frames_delivered > 15_000, "{stats:?}");
    // Buffers are allocated only to cover the frames in flight at the peak
    // (queued plus on the wire), not per frame.
    assert!(
        stats.buffers_allocated < 1_000,
        "{stats:?} peak queue {peak_in_flight}"
    );
}

#[test]
fn ten_virtual_minutes_run_without_ticking_through_idle_time() {
    let mut pair = Pair::new(
        10,
        ChannelConfig::default()
            .rate_bps(100_000_000)
            .delay(Duration::from_millis(5)),
    );
    let a = pair.a;
    let mut config = PingConfig::new("slow ping", v4(V4_B), 60);
    config.interval = Duration::from_secs(10);
    let ping = pair.add(a, Box::new(Ping::new(config)));
    let (_, receiver) = udp_flow_every(&mut pair, 7005, 600, 100, Duration::from_secs(1));
    pair.sim.run_until(SimTime::from_secs(601));
    assert_eq!(pair.sim.now(), SimTime::from_secs(601));
    let report = pair.host(a).ping_report(ping).unwrap();
    assert_eq!((report.sent, report.received), (60, 60));
    assert_eq!(
        pair.host(pair.b)
            .udp_receive_report(receiver)
            .unwrap()
            .received,
        600
    );
    // Events happen only when something does: no clock ticks in between.
    let events = pair.sim.stats().events;
    assert!(
        events < 3_000,
        "{events} events for 10 minutes of sparse traffic"
    );
}

#[test]
fn a_link_capture_holds_well_formed_frames_with_their_marks() {
    let mut pair = Pair::new(14, ChannelConfig::default().delay(Duration::from_millis(2)));
    let (a, link) = (pair.a, pair.link);
    pair.host_mut(a)
        .mark_dscp(FlowMatch::udp_to(7001), DSCP_EF)
        .unwrap();
    let path = std::env::temp_dir().join(format!("erdp-emu-hosts-{}.pcap", std::process::id()));
    let capture = erdp::emu::LinkCapture::create(&path, erdp::emu::CapturePoint::Receive).unwrap();
    pair.sim.capture(link, capture).unwrap();
    udp_flow(&mut pair, 7001, 20, 100);
    pair.add(
        a,
        Box::new(Ping::new(PingConfig::new("ping6", v6(V6_B), 2))),
    );
    pair.sim.run_until(SimTime::from_secs(3));
    let written = pair.sim.finish_captures().remove(0).1.unwrap();
    let report = pair.sim.link_report(link).unwrap();
    assert_eq!(
        written,
        report.a_to_b.delivered_frames + report.b_to_a.delivered_frames
    );
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let (mut ef_frames, mut echo_frames, mut last) = (0, 0, Duration::ZERO);
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        assert!(packet.timestamp >= last, "time stamps never go back");
        last = packet.timestamp;
        let sliced = etherparse::SlicedPacket::from_ethernet(&packet.data).unwrap();
        match sliced.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => {
                let header = ip.header().to_header();
                assert_eq!(header.header_checksum, header.calc_header_checksum());
                if let Some(etherparse::TransportSlice::Udp(udp)) = sliced.transport {
                    assert_eq!(udp.destination_port(), 7001);
                    assert_eq!(header.dscp.value(), DSCP_EF);
                    ef_frames += 1;
                }
            }
            Some(etherparse::NetSlice::Ipv6(_)) => {
                if let Some(etherparse::TransportSlice::Icmpv6(icmp)) = sliced.transport
                    && matches!(
                        icmp.icmp_type(),
                        etherparse::Icmpv6Type::EchoRequest(_)
                            | etherparse::Icmpv6Type::EchoReply(_)
                    )
                {
                    echo_frames += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!((ef_frames, echo_frames), (20, 4));
    assert!(last <= Duration::from_secs(3));
    std::fs::remove_file(&path).unwrap();
}
