//! A harness for the dataplane tests: builds nodes from the sample configs
//! (or inline TOML), runs batches through a worker, copies the results out
//! and checks conservation. Frames are built with etherparse's
//! `PacketBuilder` and checked with its parser, independently of the code
//! under test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use erdp::config::NodeConfig;
use erdp::dataplane::{Fate, Node, Outputs, Worker};
use erdp::fib::InterfaceId;
use erdp::packet::PacketBuf;
use etherparse::{Icmpv6Type, PacketBuilder, SlicedPacket, TcpOptionElement};

/// MACs of the sample configs.
pub const ONPREM_LAN_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
pub const ONPREM_ER_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
pub const AZURE_ER_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
pub const AZURE_VNET_MAC: [u8; 6] = [2, 0, 0, 0, 2, 0x10];
pub const ONPREM_HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0x0a, 1];
pub const AZURE_VM_MAC: [u8; 6] = [2, 0, 0, 0, 0x0b, 1];
pub const STRANGER_MAC: [u8; 6] = [2, 0, 0, 0, 0x0c, 9];

pub fn config_path(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "pcaps", "configs", name]
        .iter()
        .collect()
}

pub fn sample_config(name: &str) -> NodeConfig {
    NodeConfig::load(config_path(name)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn sample_text(name: &str) -> String {
    std::fs::read_to_string(config_path(name)).unwrap()
}

pub fn node_from_toml(text: &str) -> Arc<Node> {
    let config = NodeConfig::from_toml_str(text, "<test>").unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Node::new(config).unwrap_or_else(|e| panic!("{e}")))
}

/// What one batch produced, copied out.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Each frame after processing (the frame to send when forwarded).
    pub frames: Vec<Vec<u8>>,
    pub fates: Vec<Fate>,
    /// Generated packets: frame, fate, index of the cause.
    pub generated: Vec<(Vec<u8>, Fate, usize)>,
}

impl Batch {
    pub fn only(&self) -> (&[u8], &Fate) {
        assert_eq!(self.fates.len(), 1);
        (&self.frames[0], &self.fates[0])
    }

    pub fn generated_one(&self) -> (&[u8], &Fate) {
        assert_eq!(self.generated.len(), 1, "{:?}", self.generated);
        (&self.generated[0].0, &self.generated[0].1)
    }
}

pub struct Harness {
    pub node: Arc<Node>,
    pub worker: Worker,
    pub out: Outputs,
    /// Frames given so far, to check against the counters.
    pub inputs: u64,
}

impl Harness {
    pub fn new(node: Arc<Node>) -> Self {
        let worker = node.worker();
        Self {
            node,
            worker,
            out: Outputs::new(),
            inputs: 0,
        }
    }

    pub fn sample(name: &str) -> Self {
        Self::new(Arc::new(Node::new(sample_config(name)).unwrap()))
    }

    pub fn toml(text: &str) -> Self {
        Self::new(node_from_toml(text))
    }

    pub fn id(&self, name: &str) -> InterfaceId {
        self.node
            .interface_id(name)
            .unwrap_or_else(|| panic!("no interface {name}"))
    }

    /// Runs `frames` arriving on `ingress`; checks one fate per frame and
    /// conservation of the node's counters.
    pub fn run(&mut self, ingress: &str, frames: &[Vec<u8>]) -> Batch {
        let ingress = self.id(ingress);
        let mut bufs: Vec<PacketBuf> = frames
            .iter()
            .map(|f| {
                let mut b = PacketBuf::new();
                b.load(f, PacketBuf::DEFAULT_HEADROOM).unwrap();
                b
            })
            .collect();
        self.worker.process(ingress, &mut bufs, &mut self.out);
        self.inputs += frames.len() as u64;
        assert_eq!(self.out.fates().len(), frames.len(), "one fate per frame");
        self.assert_conserved();
        Batch {
            frames: bufs.iter().map(|b| b.as_slice().to_vec()).collect(),
            fates: self.out.fates().to_vec(),
            generated: self
                .out
                .generated()
                .map(|g| (g.frame.as_slice().to_vec(), *g.fate, g.cause))
                .collect(),
        }
    }

    pub fn one(&mut self, ingress: &str, frame: Vec<u8>) -> Batch {
        self.run(ingress, &[frame])
    }

    /// in == forwarded + delivered + dropped, for inputs and for generated
    /// packets, and the input count matches what was given.
    pub fn assert_conserved(&self) {
        let counters = self.node.counters();
        assert!(counters.input.is_conserved(), "{:?}", counters.input);
        assert!(
            counters.generated.is_conserved(),
            "{:?}",
            counters.generated
        );
        assert_eq!(counters.input.packets, self.inputs);
    }
}

/// The egress interface name of a fate.
pub fn egress_name(node: &Node, fate: &Fate) -> Option<String> {
    fate.egress()
        .and_then(|id| node.interface_name(id))
        .map(str::to_owned)
}

fn write(builder: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    builder(&mut out);
    out
}

pub fn ip4(text: &str) -> [u8; 4] {
    text.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

pub fn ip6(text: &str) -> [u8; 16] {
    text.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

/// An Ethernet frame with a UDP/IPv4 packet (DF set, as etherparse does).
pub fn udp4(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: &str,
    dst: &str,
    ttl: u8,
    payload: usize,
) -> Vec<u8> {
    udp4_ports(dst_mac, src_mac, src, dst, ttl, 40000, 53, payload)
}

#[allow(clippy::too_many_arguments)]
pub fn udp4_ports(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: &str,
    dst: &str,
    ttl: u8,
    sport: u16,
    dport: u16,
    payload: usize,
) -> Vec<u8> {
    write(|out| {
        PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv4(ip4(src), ip4(dst), ttl)
            .udp(sport, dport)
            .write(out, &vec![0x5a; payload])
            .unwrap()
    })
}

pub fn udp6(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: &str,
    dst: &str,
    hop_limit: u8,
    payload: usize,
) -> Vec<u8> {
    write(|out| {
        PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv6(ip6(src), ip6(dst), hop_limit)
            .udp(40000, 53)
            .write(out, &vec![0x6b; payload])
            .unwrap()
    })
}

pub fn tcp4_syn(dst_mac: [u8; 6], src_mac: [u8; 6], src: &str, dst: &str, mss: u16) -> Vec<u8> {
    write(|out| {
        PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv4(ip4(src), ip4(dst), 64)
            .tcp(40000, 443, 1000, 65535)
            .syn()
            .options(&[TcpOptionElement::MaximumSegmentSize(mss)])
            .unwrap()
            .write(out, &[])
            .unwrap()
    })
}

pub fn echo4(dst_mac: [u8; 6], src_mac: [u8; 6], src: &str, dst: &str, payload: usize) -> Vec<u8> {
    write(|out| {
        PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv4(ip4(src), ip4(dst), 64)
            .icmpv4_echo_request(0x4242, 1)
            .write(out, &vec![0x61; payload])
            .unwrap()
    })
}

pub fn echo6(dst_mac: [u8; 6], src_mac: [u8; 6], src: &str, dst: &str, payload: usize) -> Vec<u8> {
    write(|out| {
        PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv6(ip6(src), ip6(dst), 64)
            .icmpv6_echo_request(0x4242, 1)
            .write(out, &vec![0x61; payload])
            .unwrap()
    })
}

/// An ARP request (RFC 826) from `sender` asking for `target`, broadcast.
pub fn arp_request(sender_mac: [u8; 6], sender: &str, target: &str) -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&sender_mac);
    frame.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&sender_mac);
    frame.extend_from_slice(&ip4(sender));
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&ip4(target));
    frame.resize(60, 0);
    frame
}

/// A Neighbor Solicitation (RFC 4861) for `target` to its solicited-node
/// multicast address, with a source link-layer address option.
pub fn neighbor_solicitation(sender_mac: [u8; 6], sender: &str, target: &str) -> Vec<u8> {
    let target = ip6(target);
    let mut group = ip6("ff02::1:ff00:0");
    group[13..].copy_from_slice(&target[13..]);
    let group_mac = [0x33, 0x33, group[12], group[13], group[14], group[15]];
    let mut body = target.to_vec();
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(&sender_mac);
    write(|out| {
        PacketBuilder::ethernet2(sender_mac, group_mac)
            .ipv6(ip6(sender), group, 255)
            .icmpv6(Icmpv6Type::Unknown {
                type_u8: 135,
                code_u8: 0,
                bytes5to8: [0; 4],
            })
            .write(out, &body)
            .unwrap()
    })
}

/// Parses a frame with etherparse (the independent reference parser).
pub fn parse(frame: &[u8]) -> SlicedPacket<'_> {
    SlicedPacket::from_ethernet(frame).unwrap_or_else(|e| panic!("unparsable frame: {e}"))
}

/// The destination and source MACs of a frame.
pub fn macs(frame: &[u8]) -> ([u8; 6], [u8; 6]) {
    (
        frame[0..6].try_into().unwrap(),
        frame[6..12].try_into().unwrap(),
    )
}

/// The IPv4 TTL of a frame, checking the header checksum with etherparse.
pub fn ttl4(frame: &[u8]) -> u8 {
    let header = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
    assert_eq!(
        header.header_checksum(),
        header.to_header().calc_header_checksum(),
        "IPv4 header checksum"
    );
    header.ttl()
}

/// Clears the DF bit of the IPv4 packet in a frame, fixing its checksum.
pub fn clear_df(frame: &mut [u8]) {
    frame[14 + 6] &= !0x40;
    let header = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..])
        .unwrap()
        .to_header();
    let checksum = header.calc_header_checksum();
    frame[14 + 10..14 + 12].copy_from_slice(&checksum.to_be_bytes());
}

/// UDP from the on-premises host 10.0.1.10 into the edge's LAN port.
pub fn from_onprem_host(destination: &str, payload: usize) -> Vec<u8> {
    udp4(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        destination,
        64,
        payload,
    )
}

/// UDP from the VM 10.1.0.10 into the Azure gateway's VNet port.
pub fn from_azure_vm(destination: &str, payload: usize) -> Vec<u8> {
    udp4(
        AZURE_VNET_MAC,
        AZURE_VM_MAC,
        "10.1.0.10",
        destination,
        64,
        payload,
    )
}

/// UDP over IPv6 from the on-premises host fd00:10::10.
pub fn from_onprem_host6(destination: &str, payload: usize) -> Vec<u8> {
    udp6(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "fd00:10::10",
        destination,
        64,
        payload,
    )
}
