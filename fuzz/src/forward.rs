//! Target `forward`: batches of arbitrary frames (skeletons from
//! [`super::forward_frames`] and raw bytes), each batch on an arbitrary
//! ingress interface, into a fresh [`Node`] built from [`CONFIG`]: the
//! design-1 on-premises edge with ECMP over two ExpressRoute links, an ESP
//! tunnel (RFC 4303) whose peer SA seals valid ESP for decap, and
//! fail-closed must-encrypt policies.
//!
//! Oracles, after every batch:
//! - no panic; one fate per frame; the node's counters add up (inputs and
//!   generated packets: packets == forwarded + delivered + dropped, the
//!   per-reason and per-kind counts sum to the totals, every frame given is
//!   counted once);
//! - fail closed: no IP packet toward (or from) a must-encrypt prefix leaves
//!   on a plain interface unless it is ESP or ESP-in-UDP already;
//! - every output frame is well formed: it leaves an Ethernet interface with
//!   that interface's MAC as source (a forwarded input toward a configured
//!   neighbour's MAC), the IPv4 header checksum is valid, the lengths fit
//!   the frame and the MTU, TTL and hop limit are at least 1 (a plain
//!   forwarded packet's exactly one less than it came with); a packet that
//!   left encrypted is ESP to the peer gateway that the peer's SA decrypts
//!   to a well-formed inner packet; generated ICMP and ICMPv6 messages
//!   carry valid checksums.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use erdp::config::{InterfaceKind, NodeConfig, PolicyAction};
use erdp::dataplane::{DropReason, Fate, Node, NodeCounters, Outputs, TrafficCounters, Worker};
use erdp::esp::{InboundSa, OutboundSa, TunnelEndpoints};
use erdp::fib::InterfaceId;
use erdp::packet::PacketBuf;
use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, LaxIpSlice};
use ipnet::IpNet;

use super::esp_model::internet_checksum;
use super::forward_frames::{
    FrameSpec, apply_tweaks, arp_frame, ethernet, icmpv6_checksum, ip_packet, l2_mac,
    neighbor_solicitation,
};
use super::hex_prefix;

/// Most batches per input.
pub const MAX_BATCHES: usize = 8;
/// Most frames per batch.
pub const MAX_FRAMES: usize = 32;
/// Ingress ids tried: the four interfaces and two that do not exist.
pub const INGRESS_IDS: u8 = 6;
/// The peer's MAC on both ExpressRoute links (the Microsoft edge).
pub const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];

/// The fixed node: design 1's on-premises edge. The VNet (10.1.0.0/16,
/// fd00:1::/48) is learned over ExpressRoute (two links, ECMP) and over
/// the VPN riding it (local-pref 200 wins); 10.2.0.0/16 and fd00:2::/48
/// may go in plaintext over ExpressRoute; 10.3.0.0/16 and fd00:3::/48 must
/// be encrypted but have no tunnel route, so they fail closed. Traffic from
/// 10.0.128.0/17 must leave encrypted too.
pub const CONFIG: &str = r#"
name = "fuzz-onprem-edge"
route_selection = "bgp"
max_paths = 4

[[interface]]
name = "lan"
kind = "ethernet"
mac = "02:00:00:00:01:01"
addresses = ["10.0.0.1/16", "fd00:10::1/64"]

[[interface]]
name = "er1"
kind = "ethernet"
mac = "02:00:00:00:01:02"
addresses = ["172.16.0.1/30", "fd00:172:16::1/126"]

[[interface]]
name = "er2"
kind = "ethernet"
mac = "02:00:00:00:01:03"
addresses = ["172.16.0.5/30", "fd00:172:16::5/126"]

[[interface]]
name = "vpn"
kind = "esp-tunnel"
local = "172.16.0.1"
remote = "10.100.255.4"
mtu = 1400
mss_clamp = 1350
sa_out = { spi = 0x1001, algorithm = "aes-256-gcm", key = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233", esn = true }
sa_in = { spi = 0x2001, algorithm = "aes-256-gcm", key = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263", esn = true, replay_window = 64 }

[[neighbor]]
interface = "er1"
ip = "172.16.0.2"
mac = "02:00:00:00:02:01"

[[neighbor]]
interface = "er1"
ip = "fd00:172:16::2"
mac = "02:00:00:00:02:01"

[[neighbor]]
interface = "er2"
ip = "172.16.0.6"
mac = "02:00:00:00:02:01"

[[neighbor]]
interface = "er2"
ip = "fd00:172:16::6"
mac = "02:00:00:00:02:01"

[[neighbor]]
interface = "lan"
ip = "10.0.1.10"
mac = "02:00:00:00:0a:01"

[[neighbor]]
interface = "lan"
ip = "fd00:10::10"
mac = "02:00:00:00:0a:01"

[[route]]
prefix = "10.1.0.0/16"
interface = "er1"
next_hop = "172.16.0.2"
source = "bgp"
session = "expressroute"
local_pref = 100
as_path = [12076, 65515]

[[route]]
prefix = "10.1.0.0/16"
interface = "er2"
next_hop = "172.16.0.6"
source = "bgp"
session = "expressroute"
local_pref = 100
as_path = [12076, 65515]

[[route]]
prefix = "10.1.0.0/16"
interface = "vpn"
source = "bgp"
session = "vpn"
local_pref = 200
as_path = [65515]

[[route]]
prefix = "fd00:1::/48"
interface = "er1"
next_hop = "fd00:172:16::2"
source = "bgp"
session = "expressroute"
local_pref = 100
as_path = [12076, 65515]

[[route]]
prefix = "fd00:1::/48"
interface = "er2"
next_hop = "fd00:172:16::6"
source = "bgp"
session = "expressroute"
local_pref = 100
as_path = [12076, 65515]

[[route]]
prefix = "fd00:1::/48"
interface = "vpn"
source = "bgp"
session = "vpn"
local_pref = 200
as_path = [65515]

[[route]]
prefix = "10.100.255.0/27"
interface = "er1"
next_hop = "172.16.0.2"
source = "bgp"
session = "expressroute"
as_path = [12076]

[[route]]
prefix = "10.100.255.0/27"
interface = "er2"
next_hop = "172.16.0.6"
source = "bgp"
session = "expressroute"
as_path = [12076]

[[route]]
prefix = "10.2.0.0/15"
interface = "er1"
next_hop = "172.16.0.2"
source = "bgp"
session = "expressroute"
as_path = [12076]

[[route]]
prefix = "10.2.0.0/15"
interface = "er2"
next_hop = "172.16.0.6"
source = "bgp"
session = "expressroute"
as_path = [12076]

[[route]]
prefix = "fd00:2::/31"
interface = "er1"
next_hop = "fd00:172:16::2"
source = "bgp"
session = "expressroute"
as_path = [12076]

[[route]]
prefix = "fd00:2::/31"
interface = "er2"
next_hop = "fd00:172:16::6"
source = "bgp"
session = "expressroute"
as_path = [12076]

[[policy]]
name = "azure-encrypted"
destination = ["10.1.0.0/16", "fd00:1::/48", "10.3.0.0/16", "fd00:3::/48"]
require = "encrypted"
action = "drop"

[[policy]]
name = "secure-lan"
source = ["10.0.128.0/17"]
require = "encrypted"
action = "drop"
"#;

/// One input: batches of frames, each on one ingress interface.
#[derive(Arbitrary, Debug, Clone)]
pub struct ForwardCase {
    pub batches: Vec<BatchSpec>,
}

/// Frames that arrive together on one interface.
#[derive(Arbitrary, Debug, Clone)]
pub struct BatchSpec {
    /// `InterfaceId(ingress % INGRESS_IDS)`: 4 and 5 do not exist.
    pub ingress: u8,
    pub frames: Vec<FrameSpec>,
}

/// What the fixture reads from [`CONFIG`] once.
struct Fixture {
    config: NodeConfig,
    /// MAC of each Ethernet interface, by id (`None` for the tunnel).
    macs: Vec<Option<[u8; 6]>>,
    /// Neighbour MACs by interface id.
    neighbor_macs: Vec<Vec<[u8; 6]>>,
    /// MTU by interface id.
    mtus: Vec<u16>,
    endpoints: TunnelEndpoints,
    tunnel_mtu: u16,
    /// Prefixes whose traffic must leave encrypted (destination, source),
    /// from the fail-closed policies.
    closed_destinations: Vec<IpNet>,
    closed_sources: Vec<IpNet>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = NodeConfig::from_toml_str(CONFIG, "forward-fixture.toml")
            .unwrap_or_else(|e| panic!("the fixed config: {e}"));
        let mut macs = Vec::new();
        let mut mtus = Vec::new();
        let mut endpoints = None;
        let mut tunnel_mtu = 0;
        for interface in &config.interfaces {
            match &interface.kind {
                InterfaceKind::Ethernet(e) => {
                    macs.push(Some(e.mac.0));
                    mtus.push(e.mtu);
                }
                InterfaceKind::EspTunnel(t) => {
                    macs.push(None);
                    mtus.push(t.mtu);
                    tunnel_mtu = t.mtu;
                    endpoints = Some(TunnelEndpoints {
                        local: t.local,
                        remote: t.remote,
                    });
                }
            }
        }
        let mut neighbor_macs = vec![Vec::new(); config.interfaces.len()];
        for n in &config.neighbors {
            neighbor_macs[n.interface.0 as usize].push(n.mac.0);
        }
        let closed = config
            .policies
            .iter()
            .filter(|p| p.action == PolicyAction::Drop);
        let closed_destinations = closed
            .clone()
            .flat_map(|p| p.destinations.clone())
            .collect();
        let closed_sources = closed.flat_map(|p| p.sources.clone()).collect();
        Fixture {
            macs,
            neighbor_macs,
            mtus,
            endpoints: endpoints.expect("the fixed config has a tunnel"),
            closed_destinations,
            closed_sources,
            tunnel_mtu,
            config,
        }
    })
}

/// The tunnel's SA configurations (ours out, ours in).
fn tunnel_sas(config: &NodeConfig) -> (erdp::esp::SaConfig, erdp::esp::SaConfig) {
    config
        .interfaces
        .iter()
        .find_map(|i| match &i.kind {
            InterfaceKind::EspTunnel(t) => t
                .static_sas()
                .map(|(sa_out, sa_in)| (sa_out.clone(), sa_in.clone())),
            InterfaceKind::Ethernet(_) => None,
        })
        .expect("the fixed config has a tunnel")
}

/// The peer gateway: seals what we decrypt, decrypts what we seal.
struct Peer {
    sender: OutboundSa,
    receiver: InboundSa,
    last_seq: u64,
    last_frame: Option<Vec<u8>>,
}

impl Peer {
    fn new(fixture: &Fixture) -> Self {
        let (ours_out, ours_in) = tunnel_sas(&fixture.config);
        let peer_side = TunnelEndpoints {
            local: fixture.endpoints.remote,
            remote: fixture.endpoints.local,
        };
        let sender = OutboundSa::with_endpoints(&ours_in, peer_side)
            .unwrap_or_else(|e| panic!("the peer's outbound SA: {e}"));
        let mut receive = ours_out;
        receive.tunnel = Some(peer_side);
        receive.replay_window = 4096;
        let receiver =
            InboundSa::new(&receive).unwrap_or_else(|e| panic!("the peer's inbound SA: {e}"));
        Self {
            sender,
            receiver,
            last_seq: 0,
            last_frame: None,
        }
    }
}

/// What a run saw, for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub frames: u64,
    pub forwarded: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub generated: u64,
    /// Inputs that left encrypted (and decrypted at the peer).
    pub encrypted: u64,
    /// Inputs that arrived in ESP and were decapsulated.
    pub decrypted: u64,
    /// Inputs and generated packets dropped by a fail-closed policy.
    pub policy_drops: u64,
    /// Forwarded inputs per egress interface id.
    pub per_egress: [u64; 4],
}

/// The fuzz entry: raw bytes to a case. With `ERDP_FUZZ_DEBUG` set in the
/// environment the case is printed first (to read a finding).
pub fn run(data: &[u8]) {
    if let Ok(case) = ForwardCase::arbitrary_take_rest(Unstructured::new(data)) {
        if std::env::var_os("ERDP_FUZZ_DEBUG").is_some() {
            eprintln!("{case:#?}");
        }
        check(&case);
    }
}

/// The node and the peer, built once per thread: building a node builds
/// its FIB, which costs far more than a batch. State carries over between
/// cases the way it does on a running node (replay windows, sequence
/// numbers, counters): the peer keeps sealing past the node's window, the
/// counters are checked as differences, and nothing else is remembered.
struct Shared {
    node: Arc<Node>,
    worker: Worker,
    out: Outputs,
    peer: Peer,
}

impl Shared {
    fn new(fixture: &Fixture) -> Self {
        let node = Arc::new(
            Node::new(fixture.config.clone()).unwrap_or_else(|e| panic!("the fixed node: {e}")),
        );
        Self {
            worker: node.worker(),
            node,
            out: Outputs::new(),
            peer: Peer::new(fixture),
        }
    }
}

thread_local! {
    static SHARED: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// Runs one case; panics on the first broken oracle.
pub fn check(case: &ForwardCase) -> Seen {
    with_shared(|fixture, shared| {
        let mut batches = Vec::new();
        for batch in case.batches.iter().take(MAX_BATCHES) {
            let ingress = batch.ingress % INGRESS_IDS;
            let mac = ingress_mac(ingress);
            let frames = batch
                .frames
                .iter()
                .take(MAX_FRAMES)
                .map(|spec| build_frame(spec, mac, &mut shared.peer))
                .collect::<Vec<_>>();
            batches.push((ingress, frames));
        }
        forward_batches(fixture, shared, &batches)
    })
}

/// Runs frames already built (from a capture, say) through the same node
/// and oracles: each batch is an ingress id (modulo [`INGRESS_IDS`]) and
/// its frames; frames longer than [`MAX_FRAME_LEN`] are cut to it.
pub fn check_frames(batches: &[(u8, Vec<Vec<u8>>)]) -> Seen {
    with_shared(|fixture, shared| forward_batches(fixture, shared, batches))
}

/// The MAC of the ingress with this id (the LAN port's for an id that is
/// not an Ethernet port).
pub fn ingress_mac(ingress: u8) -> [u8; 6] {
    fixture()
        .macs
        .get(usize::from(ingress))
        .copied()
        .flatten()
        .unwrap_or([2, 0, 0, 0, 1, 1])
}

/// Longest frame given to the node (a jumbo frame and its Ethernet header).
pub const MAX_FRAME_LEN: usize = 9018;

fn with_shared<R>(run: impl FnOnce(&Fixture, &mut Shared) -> R) -> R {
    let fixture = fixture();
    SHARED.with(|shared| {
        let mut shared = shared.borrow_mut();
        let shared = shared.get_or_insert_with(|| Shared::new(fixture));
        shared.peer.last_frame = None;
        run(fixture, shared)
    })
}

fn forward_batches(fixture: &Fixture, shared: &mut Shared, batches: &[(u8, Vec<Vec<u8>>)]) -> Seen {
    let Shared {
        node,
        worker,
        out,
        peer,
    } = shared;
    let before = node.counters();
    let mut seen = Seen::default();
    for (batch_index, (ingress, frames)) in batches.iter().enumerate() {
        let ingress = InterfaceId(u32::from(ingress % INGRESS_IDS));
        let mut bufs: Vec<PacketBuf> = frames
            .iter()
            .map(|frame| {
                let mut buf = PacketBuf::new();
                let frame = frame.get(..MAX_FRAME_LEN).unwrap_or(frame);
                buf.load(frame, PacketBuf::DEFAULT_HEADROOM)
                    .expect("a frame of at most MAX_FRAME_LEN fits a buffer");
                buf
            })
            .collect();
        worker.process(ingress, &mut bufs, out);
        let context = |i: usize| {
            format!(
                "batch {batch_index} on interface {}, frame {i} ({})",
                ingress.0,
                frames.get(i).map_or(String::new(), |f| hex_prefix(f, 96))
            )
        };
        assert_eq!(
            out.fates().len(),
            frames.len(),
            "batch {batch_index}: one fate per frame"
        );
        seen.frames += frames.len() as u64;
        for (i, (buf, fate)) in bufs.iter().zip(out.fates()).enumerate() {
            seen.count(fate);
            if let Some(egress) = fate.egress() {
                if let Some(slot) = seen.per_egress.get_mut(egress.0 as usize) {
                    *slot += 1;
                }
                let input = frames.get(i).map_or(&[][..], Vec::as_slice);
                check_output(
                    fixture,
                    peer,
                    buf.as_slice(),
                    fate,
                    Origin::Input(input),
                    &context(i),
                );
            }
        }
        for generated in out.generated() {
            seen.generated += 1;
            if generated.fate.drop_reason().is_some_and(is_policy_drop) {
                seen.policy_drops += 1;
            }
            if generated.fate.egress().is_some() {
                check_output(
                    fixture,
                    peer,
                    generated.frame.as_slice(),
                    generated.fate,
                    Origin::Generated,
                    &format!("generated by {}", context(generated.cause)),
                );
            }
        }
        check_counters(&before, &node.counters(), &seen, batch_index);
    }
    seen
}

impl Seen {
    fn count(&mut self, fate: &Fate) {
        if fate.egress().is_some() {
            self.forwarded += 1;
        } else if fate.drop_reason().is_some() {
            self.dropped += 1;
            if fate.drop_reason().is_some_and(is_policy_drop) {
                self.policy_drops += 1;
            }
        } else {
            self.delivered += 1;
        }
        if fate.left_encrypted() {
            self.encrypted += 1;
        }
        if fate.decrypted.is_some() {
            self.decrypted += 1;
        }
    }
}

fn is_policy_drop(reason: DropReason) -> bool {
    reason == DropReason::PolicyViolation
}

/// The frame bytes of a skeleton.
fn build_frame(spec: &FrameSpec, ingress_mac: [u8; 6], peer: &mut Peer) -> Vec<u8> {
    match spec {
        FrameSpec::Raw(bytes) => bytes.iter().copied().take(2048).collect(),
        FrameSpec::Ip {
            l2,
            source_mac,
            ip,
            tweaks,
        } => {
            let ether_type = if ip.v6 { 0x86dd } else { 0x0800 };
            let mut frame = ethernet(l2_mac(*l2, ingress_mac), *source_mac, ether_type);
            frame.extend_from_slice(&ip_packet(ip));
            apply_tweaks(&mut frame, tweaks);
            frame
        }
        FrameSpec::Arp {
            broadcast,
            operation,
            sender_mac,
            sender,
            target,
            tweaks,
        } => {
            let destination = if *broadcast { [0xff; 6] } else { ingress_mac };
            let mut frame = arp_frame(
                destination,
                *operation,
                *sender_mac,
                sender.octets(),
                target.octets(),
            );
            apply_tweaks(&mut frame, tweaks);
            frame
        }
        FrameSpec::NeighborSolicitation {
            sender_mac,
            source,
            target,
            hop_limit,
            with_option,
            tweaks,
        } => {
            let mut frame = neighbor_solicitation(
                *sender_mac,
                source.octets(),
                target.octets(),
                *hop_limit,
                *with_option,
            );
            apply_tweaks(&mut frame, tweaks);
            frame
        }
        FrameSpec::Esp {
            to_second_link,
            inner,
            skip,
            replay,
            tweaks,
        } => {
            let mut frame = match (&peer.last_frame, replay) {
                (Some(last), true) => last.clone(),
                _ => {
                    let destination = if *to_second_link {
                        [2, 0, 0, 0, 1, 3]
                    } else {
                        [2, 0, 0, 0, 1, 2]
                    };
                    let mut frame = ethernet(destination, PEER_MAC, 0x0800);
                    frame.extend_from_slice(&seal(peer, &ip_packet(inner), *skip));
                    peer.last_frame = Some(frame.clone());
                    frame
                }
            };
            apply_tweaks(&mut frame, tweaks);
            frame
        }
    }
}

/// `inner` sealed by the peer, `skip` sequence numbers after the last.
fn seal(peer: &mut Peer, inner: &[u8], skip: u8) -> Vec<u8> {
    peer.sender.resume_after(peer.last_seq + u64::from(skip));
    let mut buf = PacketBuf::new();
    if buf.load(inner, PacketBuf::DEFAULT_HEADROOM).is_err() {
        return inner.to_vec();
    }
    match peer.sender.encapsulate(&mut buf) {
        Ok(outcome) => {
            peer.last_seq = outcome.seq;
            buf.as_slice().to_vec()
        }
        // Too large for the buffer once sealed: send it in plaintext.
        Err(_) => inner.to_vec(),
    }
}

/// Where an output frame came from.
enum Origin<'a> {
    /// A forwarded input, with its bytes as given.
    Input(&'a [u8]),
    /// A packet the node generated.
    Generated,
}

/// The oracles on one frame the node sends.
fn check_output(
    fixture: &Fixture,
    peer: &mut Peer,
    frame: &[u8],
    fate: &Fate,
    origin: Origin<'_>,
    context: &str,
) {
    let context = format!("{context}: output {}", hex_prefix(frame, 96));
    let egress = fate.egress().expect("only forwarded frames are checked");
    let Some(Some(egress_mac)) = fixture.macs.get(egress.0 as usize) else {
        panic!(
            "{context}: left on interface {} which is not an Ethernet port",
            egress.0
        );
    };
    assert!(
        frame.len() >= 14,
        "{context}: shorter than an Ethernet header"
    );
    assert_eq!(
        frame[6..12],
        egress_mac[..],
        "{context}: source MAC is not the egress port's"
    );
    if let Origin::Input(_) = origin {
        let neighbors = &fixture.neighbor_macs[egress.0 as usize];
        assert!(
            neighbors.iter().any(|m| m[..] == frame[0..6]),
            "{context}: destination MAC is not a neighbour on the egress"
        );
    }
    let ether_type = u16::from_be_bytes([frame[12], frame[13]]);
    let packet = &frame[14..];
    if ether_type == 0x0806 {
        assert!(
            matches!(origin, Origin::Generated) && packet.len() >= 28 && packet[6..8] == [0, 2],
            "{context}: an ARP frame sent that is not a generated reply"
        );
        return;
    }
    let mtu = usize::from(fixture.mtus[egress.0 as usize]);
    let ip = check_ip(packet, mtu, &context);
    let flow = transport_of(&ip.bytes);
    let covered = fixture
        .closed_destinations
        .iter()
        .any(|p| p.contains(&ip.destination))
        || fixture
            .closed_sources
            .iter()
            .any(|p| p.contains(&ip.source));
    assert!(
        !covered || flow.already_encrypted,
        "{context}: a packet {} -> {} (protocol {}) must leave encrypted but left in plaintext",
        ip.source,
        ip.destination,
        flow.protocol
    );
    if fate.left_encrypted() {
        assert!(
            flow.protocol == 50
                && ip.source == fixture.endpoints.local
                && ip.destination == fixture.endpoints.remote,
            "{context}: left encrypted but is not ESP between the tunnel endpoints"
        );
        let mut buf = PacketBuf::new();
        buf.load(&ip.bytes, PacketBuf::DEFAULT_HEADROOM)
            .expect("an output packet fits a buffer");
        if let Err(reason) = peer.receiver.decapsulate(&mut buf) {
            panic!("{context}: the peer cannot decrypt it: {}", reason.as_str());
        }
        let inner = check_ip(
            buf.as_slice(),
            usize::from(fixture.tunnel_mtu),
            &format!("{context}: inner"),
        );
        if let Origin::Generated = origin {
            check_icmp(&inner, &context);
        }
        return;
    }
    match origin {
        Origin::Generated => check_icmp(&ip, &context),
        Origin::Input(input) if fate.decrypted.is_none() => {
            // Plain forwarding: the TTL or hop limit went down by one.
            if let Some(before) = input.get(14..).and_then(hop_count) {
                assert_eq!(
                    ip.hops,
                    before.saturating_sub(1),
                    "{context}: TTL or hop limit not decremented by one"
                );
            }
        }
        Origin::Input(_) => {}
    }
}

/// An output IP packet, checked.
struct IpOut {
    source: IpAddr,
    destination: IpAddr,
    hops: u8,
    /// The packet without Ethernet padding.
    bytes: Vec<u8>,
    icmp_protocol: Option<u8>,
}

/// IPv4 header valid (checksum too) or IPv6 header valid; lengths fit the
/// bytes and the MTU; TTL or hop limit at least 1.
fn check_ip(packet: &[u8], mtu: usize, context: &str) -> IpOut {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let header = Ipv4HeaderSlice::from_slice(packet)
                .unwrap_or_else(|e| panic!("{context}: IPv4 header invalid: {e}"));
            // By hand: etherparse's owned header drops the reserved flag,
            // so its recomputed checksum differs when that bit is set.
            assert_eq!(
                internet_checksum(header.slice()),
                0,
                "{context}: IPv4 header checksum invalid"
            );
            let total = usize::from(header.total_len());
            assert!(
                total >= header.slice().len() && total <= packet.len(),
                "{context}: IPv4 total length {total} does not fit the frame"
            );
            assert!(
                total <= mtu,
                "{context}: {total} bytes exceed the MTU {mtu}"
            );
            assert!(header.ttl() >= 1, "{context}: TTL 0 sent");
            IpOut {
                source: IpAddr::from(header.source()),
                destination: IpAddr::from(header.destination()),
                hops: header.ttl(),
                bytes: packet[..total].to_vec(),
                icmp_protocol: (header.protocol().0 == 1).then_some(1),
            }
        }
        Some(6) => {
            let header = Ipv6HeaderSlice::from_slice(packet)
                .unwrap_or_else(|e| panic!("{context}: IPv6 header invalid: {e}"));
            let total = 40 + usize::from(header.payload_length());
            assert!(
                total <= packet.len(),
                "{context}: IPv6 payload length does not fit the frame"
            );
            assert!(
                total <= mtu,
                "{context}: {total} bytes exceed the MTU {mtu}"
            );
            assert!(header.hop_limit() >= 1, "{context}: hop limit 0 sent");
            IpOut {
                source: IpAddr::from(header.source()),
                destination: IpAddr::from(header.destination()),
                hops: header.hop_limit(),
                bytes: packet[..total].to_vec(),
                icmp_protocol: (header.next_header().0 == 58).then_some(58),
            }
        }
        _ => panic!("{context}: an output frame that is neither IPv4 nor IPv6"),
    }
}

/// TTL or hop limit of an input packet, when its header is there.
fn hop_count(packet: &[u8]) -> Option<u8> {
    match packet.first()? >> 4 {
        4 => packet.get(8).copied(),
        6 => packet.get(7).copied(),
        _ => None,
    }
}

/// The transport protocol after IPv6 extension headers, and whether the
/// packet is ciphertext already (ESP, or UDP on the NAT-T port outside a
/// fragment), as an independent parser (etherparse) sees it.
struct TransportSeen {
    protocol: u8,
    already_encrypted: bool,
}

fn transport_of(packet: &[u8]) -> TransportSeen {
    let Ok((ip, _)) = LaxIpSlice::from_slice(packet) else {
        return TransportSeen {
            protocol: packet.get(9).copied().unwrap_or(0),
            already_encrypted: false,
        };
    };
    let payload = ip.payload();
    let protocol = payload.ip_number.0;
    let nat_t = protocol == 17
        && !payload.fragmented
        && payload.payload.get(0..4).is_some_and(|ports| {
            ports[0..2] == 4500u16.to_be_bytes() || ports[2..4] == 4500u16.to_be_bytes()
        });
    TransportSeen {
        protocol,
        already_encrypted: protocol == 50 || nat_t,
    }
}

/// A generated ICMP or ICMPv6 message's checksum is valid.
fn check_icmp(ip: &IpOut, context: &str) {
    let header_len = match ip.bytes.first().map(|b| b >> 4) {
        Some(4) => usize::from(ip.bytes[0] & 0x0f) * 4,
        _ => 40,
    };
    let Some(message) = ip.bytes.get(header_len..) else {
        return;
    };
    let sum = match (ip.icmp_protocol, ip.source, ip.destination) {
        (Some(1), _, _) => internet_checksum(message),
        (Some(58), IpAddr::V6(s), IpAddr::V6(d)) => {
            icmpv6_checksum(&s.octets(), &d.octets(), message)
        }
        _ => return,
    };
    assert_eq!(sum, 0, "{context}: generated ICMP checksum invalid");
}

/// Totals of one traffic class: packets, forwarded, delivered, dropped,
/// drops summed over reasons, deliveries summed over kinds.
fn totals(class: &TrafficCounters) -> [u64; 6] {
    [
        class.packets,
        class.forwarded,
        class.delivered,
        class.dropped,
        class.dropped_by_reason.values().sum(),
        class.delivered_by_kind.values().sum(),
    ]
}

/// Counters add up, and what they gained since `before` agrees with the
/// fates seen.
fn check_counters(before: &NodeCounters, after: &NodeCounters, seen: &Seen, batch: usize) {
    let classes = [
        ("input", &before.input, &after.input),
        ("generated", &before.generated, &after.generated),
    ];
    let mut gained = [[0u64; 6]; 2];
    for (at, (name, old, new)) in classes.into_iter().enumerate() {
        assert!(
            new.is_conserved(),
            "after batch {batch}: {name} counters do not add up: {new:?}"
        );
        let [packets, _, delivered, dropped, by_reason, by_kind] = totals(new);
        assert_eq!(
            by_reason, dropped,
            "after batch {batch}: {name} drops by reason"
        );
        assert_eq!(
            by_kind, delivered,
            "after batch {batch}: {name} deliveries by kind"
        );
        assert!(
            packets >= old.packets,
            "after batch {batch}: {name} went down"
        );
        for (slot, (n, o)) in totals(new).into_iter().zip(totals(old)).enumerate() {
            gained[at][slot] = n - o;
        }
    }
    assert_eq!(
        gained[0][..4],
        [seen.frames, seen.forwarded, seen.delivered, seen.dropped],
        "after batch {batch}: input counters (packets, forwarded, delivered, dropped) disagree with the fates"
    );
    assert_eq!(
        gained[1][0], seen.generated,
        "after batch {batch}: generated packets counted"
    );
}
