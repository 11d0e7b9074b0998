//! A veth pair between two network namespaces for the port benchmark and
//! the `veth_pps` example (root only): test frames, our ports and pnet's
//! raw channel on either end.

use std::time::Duration;

use erdp::port::netns::{Netns, veth_pair};
use erdp::port::{AfPacketBackend, AfPacketConfig, AfPacketPort};
use etherparse::PacketBuilder;
use pnet::datalink::{self, Channel, DataLinkReceiver, DataLinkSender};

/// Two quiet namespaces `a` and `b` and a veth pair a0 -- b0; all removed
/// on drop.
pub struct Veth {
    pub a: Netns,
    pub b: Netns,
    /// b0's MAC address, the destination of the test frames.
    pub mac_b: [u8; 6],
}

impl Veth {
    pub fn create(tag: &str) -> Self {
        let a = Netns::create(&format!("{tag}a")).expect("namespace");
        let b = Netns::create(&format!("{tag}b")).expect("namespace");
        a.quiet_ipv6().expect("sysctl");
        b.quiet_ipv6().expect("sysctl");
        veth_pair(&a, "a0", &b, "b0").expect("veth pair");
        let mac_b = b.mac_of("b0").expect("MAC").0;
        Self { a, b, mac_b }
    }
}

/// An Ethernet + IPv4 + UDP frame of `len` bytes (at least 60).
pub fn udp_frame(len: usize, destination: [u8; 6]) -> Vec<u8> {
    let payload = vec![0x5a; len.max(60) - 14 - 20 - 8];
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0xbe, 0, 1], destination)
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(40000, 9)
        .write(&mut out, &payload)
        .expect("a UDP frame");
    out
}

/// Our AF_PACKET port on `device` in `netns`.
pub fn open_port(
    netns: &Netns,
    device: &str,
    backend: AfPacketBackend,
    receive_buffer: usize,
) -> AfPacketPort {
    let config = AfPacketConfig {
        backend,
        mtu: Some(1500),
        socket_receive_buffer: Some(receive_buffer),
        ..AfPacketConfig::default()
    };
    netns
        .run(|| AfPacketPort::open(device, device, config))
        .expect("enter namespace")
        .expect("open port")
}

/// pnet's channel as it comes (64 KiB read buffer, `read_timeout`).
pub fn open_raw_pnet(
    netns: &Netns,
    device: &str,
    read_timeout: Duration,
) -> (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>) {
    netns
        .run(|| {
            let interface = datalink::interfaces()
                .into_iter()
                .find(|i| i.name == device)
                .expect("device");
            let config = datalink::Config {
                read_buffer_size: 65536,
                read_timeout: Some(read_timeout),
                ..datalink::Config::default()
            };
            match datalink::channel(&interface, config).expect("channel") {
                Channel::Ethernet(tx, rx) => (tx, rx),
                _ => unreachable!("Ethernet channel"),
            }
        })
        .expect("enter namespace")
}
