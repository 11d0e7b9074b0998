//! AF_PACKET ports on veth pairs between network namespaces this test
//! makes (root, ip, ping and ethtool: ignored by a plain `cargo test`, run
//! with `--ignored` by .ci/steps/40-port-root.sh, failing when one is missing):
//! frames both ways, jumbo frames whole, the kernel's ARP and ICMP seen
//! and answered, GSO super-frames counted, and the attach loop bridging
//! real kernel traffic (UDP, ping, TCP) between two namespaces.
//! Everything made is removed when the test ends, pass or fail.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use erdp::driver::PortSet;
use erdp::packet::PacketBuf;
use erdp::port::netns::{Netns, veth_pair};
use erdp::port::{AfPacketBackend, AfPacketConfig, AfPacketPort, Port, PortError, Shutdown};
use erdp::wire::MacAddr;
use support::port::{UserspaceHost, numbered_frame, receive_numbered, require_root_and};

const NODE_MAC: MacAddr = MacAddr([2, 0, 0, 0xe4, 0xd9, 1]);

const BACKENDS: [AfPacketBackend; 2] = [AfPacketBackend::Pnet, AfPacketBackend::Mmsg];

fn config(mtu: usize, backend: AfPacketBackend) -> AfPacketConfig {
    AfPacketConfig {
        mtu: Some(mtu),
        backend,
        ..AfPacketConfig::default()
    }
}

/// Two quiet namespaces joined by a veth pair `a0` (in the first) and
/// `b0` (in the second).
fn two_namespaces(tag: &str) -> (Netns, Netns) {
    let a = Netns::create(&format!("{tag}a")).unwrap();
    let b = Netns::create(&format!("{tag}b")).unwrap();
    a.quiet_ipv6().unwrap();
    b.quiet_ipv6().unwrap();
    veth_pair(&a, "a0", &b, "b0").unwrap();
    (a, b)
}

fn open_in(netns: &Netns, name: &str, device: &str, mtu: usize) -> AfPacketPort {
    open_with(netns, name, device, config(mtu, AfPacketBackend::Pnet))
}

fn open_with(netns: &Netns, name: &str, device: &str, config: AfPacketConfig) -> AfPacketPort {
    netns
        .run(|| AfPacketPort::open(name, device, config))
        .unwrap()
        .unwrap()
}

/// Receives until `limit` passes with nothing more arriving.
fn drain(port: &mut dyn Port) {
    let mut bufs = vec![PacketBuf::new(); 64];
    while port
        .recv_batch(&mut bufs, Duration::from_millis(100))
        .unwrap()
        > 0
    {}
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn frames_cross_a_veth_pair_both_ways_root() {
    require_root_and(&["ping", "ethtool"]);
    for backend in BACKENDS {
        cross_both_ways(backend);
    }
}

fn cross_both_ways(backend: AfPacketBackend) {
    let (a, b) = two_namespaces("cross");
    let mut left = open_with(&a, "left", "a0", config(1500, backend));
    let mut right = open_with(&b, "right", "b0", config(1500, backend));
    assert_eq!(left.device(), "a0");
    let mac_b = b.mac_of("b0").unwrap();

    // Nothing queued: the receive returns after its timeout.
    let mut bufs = vec![PacketBuf::new(); 8];
    let started = Instant::now();
    assert_eq!(
        right
            .recv_batch(&mut bufs, Duration::from_millis(50))
            .unwrap(),
        0
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(started.elapsed() < Duration::from_secs(5));

    let sizes = |seq: u32| [60, 64, 512, 1400, 1514][seq as usize % 5];
    // Half one at a time, half as a batch (more than one sendmmsg's worth).
    for seq in 0..100 {
        left.send(&numbered_frame(NODE_MAC, mac_b, seq, sizes(seq)))
            .unwrap();
    }
    let batch: Vec<PacketBuf> = (100..200)
        .map(|seq| {
            let mut buf = PacketBuf::new();
            buf.load(&numbered_frame(NODE_MAC, mac_b, seq, sizes(seq)), 0)
                .unwrap();
            buf
        })
        .collect();
    let outcome = left.send_batch(&batch);
    assert_eq!((outcome.sent, outcome.failed), (100, 0), "{backend:?}");
    let at_right = receive_numbered(&mut right, 200, Duration::from_secs(10));
    assert_eq!(at_right, (0..200).collect::<Vec<_>>(), "{backend:?}");

    let node_b = MacAddr([2, 0, 0, 0xe4, 0xd9, 2]);
    let mac_a = a.mac_of("a0").unwrap();
    for seq in 1000..1100 {
        right
            .send(&numbered_frame(node_b, mac_a, seq, 100))
            .unwrap();
    }
    let at_left = receive_numbered(&mut left, 100, Duration::from_secs(10));
    assert_eq!(at_left, (1000..1100).collect::<Vec<_>>());
    drain(&mut left);
    drain(&mut right);

    let (l, r) = (left.counters(), right.counters());
    assert_eq!(l.tx_packets, 200);
    let bytes: u64 = (0..200).map(|seq| sizes(seq) as u64).sum();
    assert_eq!(l.tx_bytes, bytes);
    assert_eq!(r.rx_packets, 200);
    assert_eq!(r.rx_bytes, bytes);
    // The kernel never loops a frame back to the socket that sent it
    // (skb_loop_sk); other sockets on the device do see it.
    assert_eq!(l.rx_ignored_own + r.rx_ignored_own, 0, "{l:?} {r:?}");
    assert_eq!(l.rx_packets, 100);
    assert_eq!(l.rx_dropped.total() + r.rx_dropped.total(), 0);
    assert_eq!(l.rx_errors + r.rx_errors + l.tx_errors + r.tx_errors, 0);
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn frames_leaving_the_device_are_ignored_root() {
    require_root_and(&["ping", "ethtool"]);
    let (a, b) = two_namespaces("leave");
    let mac_b = b.mac_of("b0").unwrap();
    let mut sender = open_in(&a, "sender", "a0", 1500);
    // Two more sockets on the sending device, which has never sent.
    let mut by_type = open_with(&a, "spy-mmsg", "a0", config(1500, AfPacketBackend::Mmsg));
    let mut by_mac = open_in(&a, "spy-pnet", "a0", 1500);
    for seq in 0..50 {
        sender
            .send(&numbered_frame(NODE_MAC, mac_b, seq, 200))
            .unwrap();
    }
    drain(&mut by_type);
    drain(&mut by_mac);
    // The kernel's packet type marks all 50 as leaving the device.
    let typed = by_type.counters();
    assert_eq!(
        (typed.rx_ignored_own, typed.rx_packets),
        (50, 0),
        "{typed:?}"
    );
    // Source-MAC matching knows only MACs this socket sent from: another
    // socket's frames look like arrivals (why one device gets one port).
    let by_source = by_mac.counters();
    assert_eq!(
        (by_source.rx_ignored_own, by_source.rx_packets),
        (0, 50),
        "{by_source:?}"
    );
    // Once it has sent from that MAC itself, it ignores them too.
    by_mac
        .send(&numbered_frame(NODE_MAC, mac_b, 999, 200))
        .unwrap();
    sender
        .send(&numbered_frame(NODE_MAC, mac_b, 1000, 200))
        .unwrap();
    drain(&mut by_mac);
    assert_eq!(by_mac.counters().rx_ignored_own, 1);
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn jumbo_frames_arrive_whole_root() {
    require_root_and(&["ping", "ethtool"]);
    let (a, b) = two_namespaces("jumbo");
    a.ip(&["link", "set", "a0", "mtu", "9000"]).unwrap();
    b.ip(&["link", "set", "b0", "mtu", "9000"]).unwrap();
    let mut left = open_in(&a, "left", "a0", 9000);
    let mut right = open_in(&b, "right", "b0", 9000);
    let mac_b = b.mac_of("b0").unwrap();
    let jumbo = numbered_frame(NODE_MAC, mac_b, 1, 9014);
    assert_eq!(jumbo.len(), 9014);
    left.send(&jumbo).unwrap();
    let too_big = left.send(&[0u8; 9015]).unwrap_err();
    assert!(too_big.to_string().contains("9014"), "{too_big}");

    let mut bufs = vec![PacketBuf::new(); 4];
    let got = right.recv_batch(&mut bufs, Duration::from_secs(5)).unwrap();
    assert_eq!(got, 1);
    assert_eq!(bufs[0].as_slice(), &jumbo[..], "not cut at 4 KiB");
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn the_kernel_answers_our_ping_and_pings_us_root() {
    require_root_and(&["ping", "ethtool"]);
    let (a, b) = two_namespaces("ping");
    b.ip(&["addr", "add", "10.77.0.2/24", "dev", "b0"]).unwrap();
    let mac_b = b.mac_of("b0").unwrap();
    let mut port = open_in(&a, "lan", "a0", 1500);
    let mut host = UserspaceHost::new(NODE_MAC, Ipv4Addr::new(10, 77, 0, 1));

    // Our echo request makes the kernel ARP for us, then reply.
    let request = host.echo_request(mac_b, Ipv4Addr::new(10, 77, 0, 2), 1);
    port.send(&request).unwrap();
    host.serve(&mut port, Duration::from_secs(10), |stats| {
        stats.echo_replies_received >= 1
    });
    assert!(host.stats.arp_requests_answered >= 1, "{:?}", host.stats);
    assert_eq!(host.stats.echo_replies_received, 1, "{:?}", host.stats);

    let pinger = thread::scope(|scope| {
        let ping =
            scope.spawn(|| b.exec("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.77.0.1"]));
        host.serve(&mut port, Duration::from_secs(15), |stats| {
            stats.echo_requests_answered >= 3
        });
        ping.join().unwrap()
    });
    let output = pinger.unwrap();
    assert!(output.contains("3 received"), "{output}");
    assert_eq!(host.stats.echo_requests_answered, 3);
}

/// Sends `bytes` over TCP from `from` (10.78.0.1) to `to` (10.78.0.2) and
/// checks they all arrive.
fn tcp_transfer(from: &Netns, to: &Netns, address: &str, bytes: usize) {
    let listener = to.run(|| TcpListener::bind(address)).unwrap().unwrap();
    let reader = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        received
    });
    let address = address.to_owned();
    let mut stream = from.run(|| TcpStream::connect(address)).unwrap().unwrap();
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    stream.write_all(&data).unwrap();
    drop(stream);
    let received = reader.join().unwrap();
    assert!(received == data, "TCP bytes differ");
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn gso_super_frames_are_counted_until_offloads_are_off_root() {
    require_root_and(&["ping", "ethtool"]);
    let (a, b) = two_namespaces("gso");
    a.ip(&["addr", "add", "10.78.0.1/24", "dev", "a0"]).unwrap();
    b.ip(&["addr", "add", "10.78.0.2/24", "dev", "b0"]).unwrap();
    let mut watcher = open_in(&b, "watch", "b0", 1500);
    let mut batched = open_with(&b, "watch-mmsg", "b0", config(1500, AfPacketBackend::Mmsg));

    tcp_transfer(&a, &b, "10.78.0.2:5001", 1 << 20);
    drain(&mut watcher);
    drain(&mut batched);
    let with_offloads = watcher.counters();
    assert!(
        with_offloads.rx_dropped.oversize > 0,
        "veth TSO should hand over super-frames: {with_offloads:?}"
    );
    let batched_counters = batched.counters();
    assert!(
        batched_counters.rx_dropped.oversize > 0,
        "{batched_counters:?}"
    );
    // The kernel's ACKs leaving b0 carry b0's MAC: read back and ignored.
    assert!(with_offloads.rx_ignored_own > 0, "{with_offloads:?}");

    a.disable_offloads("a0").unwrap();
    b.disable_offloads("b0").unwrap();
    tcp_transfer(&a, &b, "10.78.0.2:5002", 1 << 20);
    drain(&mut watcher);
    let without = watcher.counters();
    assert_eq!(
        without.rx_dropped.oversize, with_offloads.rx_dropped.oversize,
        "no super-frames once offloads are off: {without:?}"
    );
    // At least 1 MiB / 1448-byte segments arrived as single frames.
    assert!(
        without.rx_packets - with_offloads.rx_packets > 700,
        "{without:?}"
    );
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn the_loop_bridges_kernel_traffic_between_namespaces_root() {
    require_root_and(&["ping", "ethtool"]);
    // 10.80.0.1 [a0] -- [m0] erdp bridge [m1] -- [b1] 10.80.0.2
    let a = Netns::create("bra").unwrap();
    let m = Netns::create("brm").unwrap();
    let b = Netns::create("brb").unwrap();
    for netns in [&a, &m, &b] {
        netns.quiet_ipv6().unwrap();
    }
    veth_pair(&a, "a0", &m, "m0").unwrap();
    veth_pair(&m, "m1", &b, "b1").unwrap();
    a.ip(&["addr", "add", "10.80.0.1/24", "dev", "a0"]).unwrap();
    b.ip(&["addr", "add", "10.80.0.2/24", "dev", "b1"]).unwrap();
    for (netns, device) in [(&a, "a0"), (&m, "m0"), (&m, "m1"), (&b, "b1")] {
        netns.disable_offloads(device).unwrap();
    }

    let mut ports = PortSet::new(32, Duration::from_millis(20));
    ports.add(Box::new(open_in(&m, "west", "m0", 1500)));
    // One side on each backend.
    let east = open_with(&m, "east", "m1", config(1500, AfPacketBackend::Mmsg));
    ports.add(Box::new(east));
    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    let bridge = thread::spawn(move || {
        let mut patch = |ingress: usize, frames: &mut [PacketBuf], ports: &mut [Box<dyn Port>]| {
            let egress = &mut ports[1 - ingress];
            for frame in frames.iter() {
                // Failures are counted in the port's tx_errors.
                let _ = egress.send(frame.as_slice());
            }
        };
        let summary = ports.run(&shutdown, &mut patch).unwrap();
        (summary, ports.counters())
    });

    // UDP, 200 datagrams, one at a time (ARP crosses the bridge first).
    let receiver = b
        .run(|| UdpSocket::bind("10.80.0.2:7000"))
        .unwrap()
        .unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let sender = a.run(|| UdpSocket::bind("10.80.0.1:0")).unwrap().unwrap();
    let mut buf = [0u8; 2048];
    for seq in 0u32..200 {
        let payload = [seq.to_be_bytes().as_slice(), &[7u8; 996]].concat();
        sender.send_to(&payload, "10.80.0.2:7000").unwrap();
        let (len, _) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], &payload[..], "datagram {seq}");
    }

    let output = a
        .exec("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.80.0.2"])
        .unwrap();
    assert!(output.contains("3 received"), "{output}");
    tcp_transfer(&a, &b, "10.80.0.2:5003", 2 << 20);

    stopper.request();
    let (summary, counters) = bridge.join().unwrap();
    let (west, east) = (counters[0].1, counters[1].1);
    assert!(summary.frames >= 400, "{summary:?}");
    assert!(
        west.rx_packets >= 201 && east.rx_packets >= 201,
        "{counters:?}"
    );
    // Whatever one side received, the other sent.
    assert_eq!(
        west.rx_packets,
        east.tx_packets + east.tx_errors,
        "{counters:?}"
    );
    assert_eq!(
        east.rx_packets,
        west.tx_packets + west.tx_errors,
        "{counters:?}"
    );
    assert_eq!(east.tx_errors + west.tx_errors, 0, "{counters:?}");
    assert_eq!(west.rx_dropped.oversize + east.rx_dropped.oversize, 0);
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn a_deleted_device_is_fatal_root() {
    require_root_and(&["ping", "ethtool"]);
    for backend in BACKENDS {
        let (a, b) = two_namespaces("gone");
        let mut port = open_with(&a, "lan", "a0", config(1500, backend));
        let mac_b = b.mac_of("b0").unwrap();
        // Down is not gone: the port stays usable.
        a.ip(&["link", "set", "a0", "down"]).unwrap();
        let mut bufs = vec![PacketBuf::new(); 4];
        if let Err(error) = port.recv_batch(&mut bufs, Duration::from_millis(20)) {
            assert!(!error.is_fatal(), "{backend:?}: {error}");
        }
        a.ip(&["link", "set", "a0", "up"]).unwrap();
        port.send(&numbered_frame(NODE_MAC, mac_b, 1, 60)).unwrap();

        a.ip(&["link", "del", "a0"]).unwrap();
        let error = port
            .recv_batch(&mut bufs, Duration::from_millis(50))
            .unwrap_err();
        assert!(
            matches!(error, PortError::DeviceGone { .. }),
            "{backend:?}: {error}"
        );
        assert!(error.is_fatal());
        let error = port
            .send(&numbered_frame(NODE_MAC, mac_b, 2, 60))
            .unwrap_err();
        assert!(error.is_fatal(), "{backend:?}: {error}");
    }
}

#[test]
#[ignore = "needs root, ip, ping, ethtool: run by .ci/steps/40-port-root.sh"]
fn the_loop_stops_when_a_device_is_deleted_root() {
    require_root_and(&["ping", "ethtool"]);
    for backend in BACKENDS {
        let (a, _b) = two_namespaces("loopgone");
        let mut ports = PortSet::new(8, Duration::from_millis(10));
        ports.add(Box::new(open_with(&a, "lan", "a0", config(1500, backend))));
        let shutdown = Shutdown::new();
        let stopper = shutdown.clone();
        let result = thread::scope(|scope| {
            scope.spawn(|| {
                thread::sleep(Duration::from_millis(100));
                a.ip(&["link", "del", "a0"]).unwrap();
                // A backstop, so a loop that missed it does not hang the test.
                let deadline = Instant::now() + Duration::from_secs(5);
                while !stopper.is_requested() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(20));
                }
                stopper.request();
            });
            let mut ignore = |_: usize, _: &mut [PacketBuf], _: &mut [Box<dyn Port>]| {};
            let result = ports.run(&shutdown, &mut ignore);
            shutdown.request();
            result
        });
        let error = result.unwrap_err();
        assert!(
            matches!(error, PortError::DeviceGone { .. }),
            "{backend:?}: {error}"
        );
    }
}
