//! TAP ports inside network namespaces this test makes (root, ip and ping:
//! ignored by a plain `cargo test`, run with `--ignored` by
//! .ci/steps/40-port-root.sh, failing when one is missing): frames to and from the
//! kernel (ARP, ICMP echo both ways), the device's lifetime, attaching to
//! a persistent TAP, and `--bind IFACE=tap:NAME` with a capture file.

use crate::support;

use std::net::Ipv4Addr;
use std::thread;
use std::time::Duration;

use erdp::packet::PacketBuf;
use erdp::port::netns::Netns;
use erdp::port::{BindSpec, OpenOptions, Port, PortError, TapConfig, TapPort};
use erdp::wire::MacAddr;
use support::capture::{TempDir, read_all};
use support::port::{UserspaceHost, require_root_and};

const HOST_MAC: MacAddr = MacAddr([2, 0, 0, 0xe4, 0xd9, 0x0a]);
const KERNEL_MAC: MacAddr = MacAddr([2, 0, 0, 0xe4, 0xd9, 0xc1]);

fn up_with_mac() -> TapConfig {
    TapConfig {
        mtu: Some(1500),
        mac: Some(KERNEL_MAC),
        up: true,
    }
}

fn quiet_netns(tag: &str) -> Netns {
    let netns = Netns::create(tag).unwrap();
    netns.quiet_ipv6().unwrap();
    netns
}

#[test]
#[ignore = "needs root, ip, ping: run by .ci/steps/40-port-root.sh"]
fn a_tap_port_talks_with_the_kernel_root() {
    require_root_and(&["ping"]);
    let netns = quiet_netns("tap");
    let mut port = netns
        .run(|| TapPort::open("lan", "erdptap0", up_with_mac()))
        .unwrap()
        .unwrap();
    assert_eq!(port.device(), "erdptap0");
    assert_eq!(port.mtu(), 1500);
    assert_eq!(port.kernel_mac(), KERNEL_MAC);
    netns
        .ip(&["addr", "add", "10.79.0.1/24", "dev", "erdptap0"])
        .unwrap();

    let mut host = UserspaceHost::new(HOST_MAC, Ipv4Addr::new(10, 79, 0, 2));
    let request = host.echo_request(KERNEL_MAC, Ipv4Addr::new(10, 79, 0, 1), 1);
    port.send(&request).unwrap();
    host.serve(&mut port, Duration::from_secs(10), |stats| {
        stats.echo_replies_received >= 1
    });
    assert!(host.stats.arp_requests_answered >= 1, "{:?}", host.stats);
    assert_eq!(host.stats.echo_replies_received, 1, "{:?}", host.stats);

    let output = thread::scope(|scope| {
        let ping =
            scope.spawn(|| netns.exec("ping", &["-c", "3", "-i", "0.2", "-W", "2", "10.79.0.2"]));
        host.serve(&mut port, Duration::from_secs(15), |stats| {
            stats.echo_requests_answered >= 3
        });
        ping.join().unwrap()
    })
    .unwrap();
    assert!(output.contains("3 received"), "{output}");

    let counters = port.counters();
    assert!(counters.tx_packets >= 2, "{counters:?}");
    assert!(counters.rx_packets >= 2, "{counters:?}");
    assert_eq!(counters.rx_ignored_own, 0, "a TAP does not echo our frames");
    assert_eq!(
        counters.rx_dropped.total() + counters.rx_errors + counters.tx_errors,
        0
    );

    // A receive with nothing queued returns after its timeout.
    let mut bufs = vec![PacketBuf::new(); 4];
    let before = counters.rx_packets;
    let got = port
        .recv_batch(&mut bufs, Duration::from_millis(30))
        .unwrap();
    assert_eq!(port.counters().rx_packets, before + got as u64);
}

#[test]
#[ignore = "needs root, ip, ping: run by .ci/steps/40-port-root.sh"]
fn a_tap_the_port_made_goes_away_with_it_root() {
    require_root_and(&["ping"]);
    let netns = quiet_netns("tapgone");
    let port = netns
        .run(|| TapPort::open("lan", "erdptap1", TapConfig::default()))
        .unwrap()
        .unwrap();
    assert!(netns.ip(&["link", "show", "erdptap1"]).is_ok());
    drop(port);
    // The kernel removes the device when the last descriptor closes. Another
    // test thread spawning a process may hold a copy of ours between its fork
    // and exec (close-on-exec), so allow that moment to pass.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let gone = loop {
        match netns.ip(&["link", "show", "erdptap1"]) {
            Err(gone) => break gone,
            Ok(_) if std::time::Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Ok(shown) => panic!("erdptap1 still exists 2 s after the port closed: {shown}"),
        }
    };
    assert!(gone.to_string().contains("erdptap1"), "{gone}");
}

#[test]
#[ignore = "needs root, ip, ping: run by .ci/steps/40-port-root.sh"]
fn a_deleted_tap_is_fatal_root() {
    require_root_and(&["ping"]);
    let netns = quiet_netns("tapdel");
    let mut port = netns
        .run(|| TapPort::open("lan", "erdptap4", up_with_mac()))
        .unwrap()
        .unwrap();
    netns.ip(&["link", "del", "erdptap4"]).unwrap();
    let mut bufs = vec![PacketBuf::new(); 4];
    let error = port
        .recv_batch(&mut bufs, Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(error, PortError::DeviceGone { .. }), "{error}");
    let error = port.send(&[0u8; 60]).unwrap_err();
    assert!(error.is_fatal(), "{error}");
    assert_eq!(port.counters().tx_errors, 1);
}

#[test]
#[ignore = "needs root, ip, ping: run by .ci/steps/40-port-root.sh"]
fn a_port_attaches_to_a_persistent_tap_root() {
    require_root_and(&["ping"]);
    let netns = quiet_netns("tapkeep");
    netns
        .ip(&["tuntap", "add", "dev", "erdptap2", "mode", "tap"])
        .unwrap();
    netns
        .ip(&["link", "set", "erdptap2", "mtu", "9000"])
        .unwrap();
    let port = netns
        .run(|| TapPort::open("lan", "erdptap2", TapConfig::default()))
        .unwrap()
        .unwrap();
    assert_eq!(port.mtu(), 9000, "the existing device, not a new one");
    drop(port);
    assert!(
        netns.ip(&["link", "show", "erdptap2"]).is_ok(),
        "a persistent TAP outlives the port"
    );
}

#[test]
#[ignore = "needs root, ip, ping: run by .ci/steps/40-port-root.sh"]
fn a_tap_binding_opens_with_a_capture_root() {
    require_root_and(&["ping"]);
    let netns = quiet_netns("tapbind");
    let dir = TempDir::new("port-tap-bind");
    let spec: BindSpec = "lan=tap:erdptap3".parse().unwrap();
    let options = OpenOptions {
        tap: up_with_mac(),
        capture_dir: Some(dir.0.clone()),
        ..OpenOptions::default()
    };
    let mut port = netns.run(|| spec.open(&options)).unwrap().unwrap();
    assert_eq!(port.name(), "lan");
    netns
        .ip(&["addr", "add", "10.79.1.1/24", "dev", "erdptap3"])
        .unwrap();
    let mut host = UserspaceHost::new(HOST_MAC, Ipv4Addr::new(10, 79, 1, 2));
    port.send(&host.echo_request(KERNEL_MAC, Ipv4Addr::new(10, 79, 1, 1), 9))
        .unwrap();
    host.serve(&mut port, Duration::from_secs(10), |stats| {
        stats.echo_replies_received >= 1
    });
    assert_eq!(host.stats.echo_replies_received, 1);
    let counters = port.counters();
    drop(port); // flushes the capture

    let records = read_all(&std::fs::read(dir.path("lan.pcap")).unwrap()).unwrap();
    // Every frame sent and received is in the capture, in order: the
    // echo request first.
    assert_eq!(
        records.len() as u64,
        counters.tx_packets + counters.rx_packets,
        "{counters:?}"
    );
    let first = &records[0].1;
    assert_eq!(&first[0..6], &KERNEL_MAC.0);
    assert_eq!(&first[6..12], &HOST_MAC.0);
}
