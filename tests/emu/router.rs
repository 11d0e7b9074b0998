//! Hosts in two subnets joined by a small L3 test router: the device trait
//! carries a forwarder (ARP/ND answered, TTL decremented, frames forwarded
//! in place), TCP and ping cross it over IPv4 and IPv6, and a link outage
//! on the timeline is survived by TCP and counted on the link.

use crate::support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use erdp::emu::app::{Ping, PingConfig, TcpBulk, TcpBulkConfig};
use erdp::emu::{
    Action, ChannelConfig, DeviceId, Host, HostConfig, LinkConfig, LinkId, PortId, SimTime,
    Simulator,
};
use support::emu::router::{Router, RouterPort};

const ON_PREM: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 10);
const AZURE: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 10);
const ON_PREM6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x10);
const AZURE6: Ipv6Addr = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 0x10);
const MAC_ON_PREM: [u8; 6] = [2, 0, 0, 1, 0, 0x10];
const MAC_AZURE: [u8; 6] = [2, 0, 0, 2, 0, 0x10];

struct Net {
    sim: Simulator,
    on_prem: DeviceId,
    azure: DeviceId,
    router: DeviceId,
    wan: LinkId,
}

fn host(
    sim: &Simulator,
    name: &str,
    mac: [u8; 6],
    v4: Ipv4Addr,
    v6: Ipv6Addr,
    gw4: Ipv4Addr,
    gw6: Ipv6Addr,
) -> Host {
    let mut config = HostConfig::new(
        name,
        mac,
        vec![
            format!("{v4}/16").parse().unwrap(),
            format!("{v6}/64").parse().unwrap(),
        ],
    );
    config.gateway_v4 = Some(gw4);
    config.gateway_v6 = Some(gw6);
    config.seed = sim.seed_for(name);
    Host::new(&config).unwrap()
}

/// on-prem host -- lan link -- router -- wan link (20 ms, 100 Mbit/s) -- Azure host.
fn net(seed: u64, wan: ChannelConfig) -> Net {
    let mut sim = Simulator::new(seed);
    let mut router = Router::new(vec![
        RouterPort {
            mac: [2, 0, 0, 1, 0, 1],
            v4: "10.1.0.1/16".parse().unwrap(),
            v6: "fd00:1::1/64".parse().unwrap(),
        },
        RouterPort {
            mac: [2, 0, 0, 2, 0, 1],
            v4: "10.2.0.1/16".parse().unwrap(),
            v6: "fd00:2::1/64".parse().unwrap(),
        },
    ]);
    for (addr, mac) in [
        (IpAddr::V4(ON_PREM), MAC_ON_PREM),
        (IpAddr::V6(ON_PREM6), MAC_ON_PREM),
        (IpAddr::V4(AZURE), MAC_AZURE),
        (IpAddr::V6(AZURE6), MAC_AZURE),
    ] {
        router.core.neighbors.insert(addr, mac);
    }
    let on_prem = host(
        &sim,
        "on-prem",
        MAC_ON_PREM,
        ON_PREM,
        ON_PREM6,
        Ipv4Addr::new(10, 1, 0, 1),
        "fd00:1::1".parse().unwrap(),
    );
    let azure = host(
        &sim,
        "azure",
        MAC_AZURE,
        AZURE,
        AZURE6,
        Ipv4Addr::new(10, 2, 0, 1),
        "fd00:2::1".parse().unwrap(),
    );
    let on_prem = sim.add_device(Box::new(on_prem));
    let azure = sim.add_device(Box::new(azure));
    let router = sim.add_device(Box::new(router));
    let lan = ChannelConfig::default()
        .rate_bps(1_000_000_000)
        .delay(Duration::from_micros(50));
    sim.connect(
        (on_prem, PortId(0)),
        (router, PortId(0)),
        &LinkConfig::symmetric("lan", lan),
    )
    .unwrap();
    let wan = sim
        .connect(
            (router, PortId(1)),
            (azure, PortId(0)),
            &LinkConfig::symmetric("wan", wan),
        )
        .unwrap();
    Net {
        sim,
        on_prem,
        azure,
        router,
        wan,
    }
}

fn wan() -> ChannelConfig {
    ChannelConfig::default()
        .rate_bps(100_000_000)
        .delay(Duration::from_millis(20))
        .queue_limit(300)
}

/// Two connections to `server`: an upload of `bytes` and a download of
/// half as many (one direction each: see docs/scenarios.md on smoltcp and full-duplex
/// transfers through outages). Returns the (client, server) app pairs.
fn transfer(
    net: &mut Net,
    server: std::net::SocketAddr,
    bytes: u64,
) -> [(erdp::emu::AppId, erdp::emu::AppId); 2] {
    let download_server = std::net::SocketAddr::new(server.ip(), server.port() + 1);
    let (up_client, up_server) = TcpBulkConfig::pair("upload", server, 40000, bytes, 0, 77);
    let (down_client, down_server) =
        TcpBulkConfig::pair("download", download_server, 40001, 0, bytes / 2, 77);
    let (azure, on_prem) = (net.azure, net.on_prem);
    let up_server = add(net, azure, Box::new(TcpBulk::new(up_server)));
    let down_server = add(net, azure, Box::new(TcpBulk::new(down_server)));
    let up_client = add(net, on_prem, Box::new(TcpBulk::new(up_client)));
    let down_client = add(net, on_prem, Box::new(TcpBulk::new(down_client)));
    [(up_client, up_server), (down_client, down_server)]
}

fn add(net: &mut Net, host: DeviceId, app: Box<dyn erdp::emu::app::App>) -> erdp::emu::AppId {
    net.sim
        .update::<Host, _>(host, |host| host.add_app(app))
        .unwrap()
        .unwrap()
}

fn check_transfer(net: &Net, apps: [(erdp::emu::AppId, erdp::emu::AppId); 2]) {
    for (client, server) in apps {
        let c = net
            .sim
            .device::<Host>(net.on_prem)
            .unwrap()
            .tcp_bulk_report(client)
            .unwrap();
        let s = net
            .sim
            .device::<Host>(net.azure)
            .unwrap()
            .tcp_bulk_report(server)
            .unwrap();
        assert!(s.received_all_of(&c), "upload: {c:#?} {s:#?}");
        assert!(c.received_all_of(&s), "download: {c:#?} {s:#?}");
    }
}

#[test]
fn tcp_and_ping_cross_the_router_over_ipv4_and_ipv6() {
    let mut net = net(31, wan().loss(0.005));
    let v4_transfers = transfer(&mut net, (AZURE, 5000).into(), 4_000_000);
    let v6_transfers = transfer(&mut net, (AZURE6, 5006).into(), 2_000_000);
    // Pings start once ARP and ND are done: smoltcp resolves one neighbour a
    // second and drops echo replies while it resolves.
    let mut ping4 = PingConfig::new("ping4", IpAddr::V4(AZURE), 5);
    ping4.start_at = SimTime::from_secs(3);
    let mut ping6 = PingConfig::new("ping6", IpAddr::V6(AZURE6), 5);
    ping6.start_at = SimTime::from_secs(3);
    ping6.ident = 6;
    let on_prem = net.on_prem;
    let p4 = add(&mut net, on_prem, Box::new(Ping::new(ping4)));
    let p6 = add(&mut net, on_prem, Box::new(Ping::new(ping6)));
    net.sim.run_until(SimTime::from_secs(30));
    check_transfer(&net, v4_transfers);
    check_transfer(&net, v6_transfers);
    let on_prem = net.sim.device::<Host>(net.on_prem).unwrap();
    for id in [p4, p6] {
        let ping = on_prem.ping_report(id).unwrap();
        assert_eq!(ping.sent, 5, "{ping:#?}");
        // Loss may take an echo; the others cross twice 20 ms + 50 us and serialisation.
        assert!(ping.received >= 4, "{ping:#?}");
        assert!(
            ping.rtt.min_ns.unwrap() >= 40_100_000 && ping.rtt.min_ns.unwrap() < 40_200_000,
            "{ping:#?}"
        );
    }
    let counters = net.sim.device::<Router>(net.router).unwrap().core.counters;
    assert!(counters.forwarded > 5_000, "{counters:?}");
    assert!(
        counters.arp_replies >= 2 && counters.nd_replies >= 2,
        "{counters:?}"
    );
    assert_eq!(
        counters.no_route + counters.no_neighbor + counters.ttl_expired,
        0,
        "{counters:?}"
    );
    // Every frame has exactly one fate.
    let fates = counters.forwarded
        + counters.arp_replies
        + counters.nd_replies
        + counters.delivered
        + counters.ttl_expired
        + counters.no_route
        + counters.no_neighbor
        + counters.other_drops;
    assert_eq!(counters.received, fates, "{counters:?}");
}

#[test]
fn tcp_survives_a_wan_outage_and_the_link_counts_what_it_lost() {
    let mut net = net(32, wan());
    let apps = transfer(&mut net, (AZURE, 5000).into(), 20_000_000);
    let upload_server = apps[0].1;
    let wan = net.wan;
    net.sim
        .schedule(SimTime::from_millis(800), Action::LinkDown(wan))
        .unwrap();
    net.sim
        .schedule(SimTime::from_millis(3800), Action::LinkUp(wan))
        .unwrap();
    net.sim.run_until(SimTime::from_secs(2));
    let mid = net
        .sim
        .device::<Host>(net.azure)
        .unwrap()
        .tcp_bulk_report(upload_server)
        .unwrap();
    assert!(
        mid.bytes_received > 0 && mid.bytes_received < 20_000_000,
        "{mid:#?}"
    );
    net.sim.run_until(SimTime::from_secs(60));
    check_transfer(&net, apps);
    let report = net.sim.link_report(wan).unwrap();
    assert_eq!((report.downs, report.down_time_ns), (1, 3_000_000_000));
    assert!(
        report.a_to_b.dropped.link_down > 0 && report.b_to_a.dropped.link_down > 0,
        "{report:#?}"
    );
    assert!(report.a_to_b.is_conserved() && report.b_to_a.is_conserved());
    let s = net
        .sim
        .device::<Host>(net.azure)
        .unwrap()
        .tcp_bulk_report(upload_server)
        .unwrap();
    assert!(
        s.receive_done_at.unwrap() > SimTime::from_millis(3800),
        "{s:#?}"
    );
}
