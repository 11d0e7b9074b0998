//! Writes the replay corpus in pcaps/corpus/: small captures, the node
//! configurations they run through, expectation files and `corpus.toml`
//! (which capture through which node). Deterministic: fixed addresses,
//! ports, timestamps and SA keys, so `cargo test` regenerates the corpus
//! in a temporary directory and compares it byte for byte with the
//! committed files. Run: `cargo run --example make_corpus [DIR]`.
//! Frames are built with etherparse's `PacketBuilder`; inbound ESP is
//! sealed with the peer gateway's outbound SA (the esp module).

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use erdp::capture::PcapFileWriter;
use erdp::config::{InterfaceKind, NodeConfig};
use erdp::esp::{OutboundSa, TunnelEndpoints};
use erdp::packet::PacketBuf;
use erdp::wire::{EthernetHeader, MacAddr, push_ethernet_header};
use etherparse::{
    EtherType, IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder,
    TcpOptionElement,
};
use pcap_file::DataLink;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgWriter};

/// MACs of the sample configurations (pcaps/configs/).
const ONPREM_LAN: [u8; 6] = [2, 0, 0, 0, 1, 1];
const ONPREM_ER: [u8; 6] = [2, 0, 0, 0, 1, 2];
const AZURE_ER: [u8; 6] = [2, 0, 0, 0, 2, 1];
const AZURE_VNET: [u8; 6] = [2, 0, 0, 0, 2, 0x10];
const ONPREM_HOST: [u8; 6] = [2, 0, 0, 0, 0x0a, 1];
const DMZ_HOST: [u8; 6] = [2, 0, 0, 0, 0x0a, 2];
const AZURE_VM: [u8; 6] = [2, 0, 0, 0, 0x0b, 1];
const SHARED_VM: [u8; 6] = [2, 0, 0, 0, 0x0b, 3];
const STRANGER: [u8; 6] = [2, 0, 0, 0, 0x0c, 9];

/// 2026-01-01T00:00:00Z; frames are 1 ms apart.
const EPOCH_NS: u64 = 1_767_225_600_000_000_000;

/// IP header of a test packet.
#[derive(Clone, Copy)]
enum Ip {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        df: bool,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        hops: u8,
    },
}

fn v4(src: [u8; 4], dst: [u8; 4]) -> Ip {
    Ip::V4 {
        src,
        dst,
        ttl: 64,
        df: true,
    }
}

fn v6(src: &str, dst: &str) -> Ip {
    let parse = |s: &str| match s.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => a.octets(),
        _ => panic!("not IPv6: {s}"),
    };
    Ip::V6 {
        src: parse(src),
        dst: parse(dst),
        hops: 64,
    }
}

fn ip_headers(ip: Ip, protocol: IpNumber) -> IpHeaders {
    match ip {
        Ip::V4 { src, dst, ttl, df } => {
            let mut header = Ipv4Header::new(0, ttl, protocol, src, dst).expect("ipv4 header");
            header.dont_fragment = df;
            IpHeaders::Ipv4(header, Default::default())
        }
        Ip::V6 { src, dst, hops } => IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::ZERO,
                payload_length: 0,
                next_header: protocol,
                hop_limit: hops,
                source: src,
                destination: dst,
            },
            Default::default(),
        ),
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A TCP segment in an Ethernet frame; a SYN carries MSS 1460.
fn tcp(
    l2: ([u8; 6], [u8; 6]),
    ip: Ip,
    ports: (u16, u16),
    seq: u32,
    syn: bool,
    len: usize,
) -> Vec<u8> {
    let protocol = IpNumber::TCP;
    let builder = PacketBuilder::ethernet2(l2.0, l2.1)
        .ip(ip_headers(ip, protocol))
        .tcp(ports.0, ports.1, seq, 64240);
    let builder = if syn {
        builder
            .syn()
            .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
            .expect("tcp options")
    } else {
        builder.ack(1)
    };
    let data = payload(len);
    let mut out = Vec::with_capacity(builder.size(data.len()));
    builder.write(&mut out, &data).expect("tcp frame");
    out
}

fn udp(l2: ([u8; 6], [u8; 6]), ip: Ip, ports: (u16, u16), len: usize) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(l2.0, l2.1)
        .ip(ip_headers(ip, IpNumber::UDP))
        .udp(ports.0, ports.1);
    let data = payload(len);
    let mut out = Vec::with_capacity(builder.size(data.len()));
    builder.write(&mut out, &data).expect("udp frame");
    out
}

fn ping4(l2: ([u8; 6], [u8; 6]), src: [u8; 4], dst: [u8; 4], seq: u16) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(l2.0, l2.1)
        .ipv4(src, dst, 64)
        .icmpv4_echo_request(0x4242, seq);
    let data = payload(56);
    let mut out = Vec::with_capacity(builder.size(data.len()));
    builder.write(&mut out, &data).expect("echo frame");
    out
}

/// An ARP request from `sender` (`sender_ip`) for `target_ip`.
fn arp_request(sender: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&sender);
    frame.extend_from_slice(&EtherType::ARP.0.to_be_bytes());
    frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&sender);
    frame.extend_from_slice(&sender_ip);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&target_ip);
    frame
}

/// The inner packet of `frame` (without its Ethernet header) sealed with
/// `sa`, in a frame from `source` to `destination`.
fn seal(sa: &OutboundSa, frame: &[u8], source: [u8; 6], destination: [u8; 6]) -> Vec<u8> {
    let mut buf = PacketBuf::new();
    buf.load(&frame[14..], PacketBuf::DEFAULT_HEADROOM)
        .expect("inner fits");
    sa.encapsulate(&mut buf).expect("encapsulate");
    let ether_type = match buf.as_slice().first().map(|b| b >> 4) {
        Some(6) => EtherType::IPV6,
        _ => EtherType::IPV4,
    };
    push_ethernet_header(
        &mut buf,
        &EthernetHeader {
            destination: MacAddr(destination),
            source: MacAddr(source),
            ether_type,
        },
    )
    .expect("headroom");
    buf.as_slice().to_vec()
}

/// What goes in the corpus directory.
struct Corpus {
    dir: PathBuf,
    manifest: String,
}

impl Corpus {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write_text(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    fn write_pcap(&self, name: &str, frames: &[Vec<u8>]) {
        let mut writer = PcapFileWriter::create(self.file(name)).expect("create pcap");
        for (i, frame) in frames.iter().enumerate() {
            writer
                .write_frame(EPOCH_NS + i as u64 * 1_000_000, frame)
                .expect("write pcap");
        }
        writer.finish().expect("flush pcap");
    }

    /// Adds a replay to corpus.toml and writes its expectation file.
    fn replay(
        &mut self,
        capture: &str,
        config: &str,
        ingress: Option<&str>,
        expect: &str,
        exit: u8,
    ) {
        let stem = capture.split('.').next().unwrap_or(capture);
        let expect_file = format!("{stem}.expect.toml");
        self.write_text(&expect_file, expect);
        self.manifest.push_str(&format!(
            "\n[[replay]]\ncapture = \"{capture}\"\nconfig = \"{config}\"\n{}expect = \"{expect_file}\"\nexit = {exit}\n",
            ingress.map(|i| format!("ingress = \"{i}\"\n")).unwrap_or_default()
        ));
    }
}

/// The sample configuration `name` from pcaps/configs/ with ESN off (so
/// Wireshark 4.0 can check the ICVs) and `edits` (from, to) applied.
fn derived_config(samples: &Path, name: &str, edits: &[(&str, &str)], note: &str) -> String {
    let text =
        std::fs::read_to_string(samples.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        text.contains("esn = true"),
        "{name}: no ESN setting to turn off"
    );
    let mut text = text.replace("esn = true", "esn = false");
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: {from:?} not found");
        text = text.replacen(from, to, 1);
    }
    format!(
        "# GENERATED by `cargo run --example make_corpus` from pcaps/configs/{name}:\n\
         # ESN off so Wireshark 4.0 checks the ICVs. {note}\n\n{text}"
    )
}

fn outbound_sa(config_text: &str, tunnel: &str) -> OutboundSa {
    let config =
        NodeConfig::from_toml_str(config_text, "<corpus>").unwrap_or_else(|e| panic!("{e}"));
    let interface = config
        .interfaces
        .iter()
        .find(|i| i.name == tunnel)
        .expect("tunnel interface");
    let InterfaceKind::EspTunnel(t) = &interface.kind else {
        panic!("{tunnel} is not a tunnel");
    };
    OutboundSa::with_endpoints(
        t.static_sas().expect("static SAs").0,
        TunnelEndpoints {
            local: t.local,
            remote: t.remote,
        },
    )
    .expect("outbound SA")
}

/// Writes the whole corpus into `dir`, taking the sample configurations
/// from `samples`.
pub fn generate(dir: &Path, samples: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut corpus = Corpus {
        dir: dir.to_path_buf(),
        manifest: "# GENERATED by `cargo run --example make_corpus`: each replay's capture, node\n\
                   # configuration, ingress (pcap files) and expectations, and the exit code\n\
                   # `erdp replay --expect` must give (1: an expectation fails on purpose).\n"
            .to_owned(),
    };
    let d1_edge = derived_config(
        samples,
        "design1-onprem-edge.toml",
        &[],
        "Design 1, on-premises edge.",
    );
    let d1_gw = derived_config(
        samples,
        "design1-azure-gateway.toml",
        &[],
        "Design 1, Azure side.",
    );
    let d2_edge = derived_config(
        samples,
        "design2-onprem-edge.toml",
        &[],
        "Design 2, on-premises edge.",
    );
    let d2_gw = derived_config(
        samples,
        "design2-azure-gateway.toml",
        &[],
        "Design 2, Azure side.",
    );
    let leak_gw = derived_config(
        samples,
        "design1-azure-gateway.toml",
        &[
            ("prefix = \"10.0.0.0/17\"", "prefix = \"10.0.0.0/16\""),
            ("prefix = \"fd00:10::/49\"", "prefix = \"fd00:10::/48\""),
        ],
        "THE LEAK: on-premises advertises the SAME\n\
         # prefixes (10.0.0.0/16, fd00:10::/48) over the VPN as over ExpressRoute, so\n\
         # ExpressRoute-first selection sends them in plaintext over the circuit.",
    );
    corpus.write_text("design1-onprem-edge.toml", &d1_edge);
    corpus.write_text("design1-azure-gateway.toml", &d1_gw);
    corpus.write_text("design2-onprem-edge.toml", &d2_edge);
    corpus.write_text("design2-azure-gateway.toml", &d2_gw);
    corpus.write_text("leak-azure-gateway.toml", &leak_gw);

    let host = [10, 0, 1, 10];
    let vm = [10, 1, 0, 10];
    let from_host = (ONPREM_HOST, ONPREM_LAN);
    let from_vm = (AZURE_VM, AZURE_VNET);

    // Design 1, on-premises to Azure at the on-premises edge.
    let d1_out = vec![
        tcp(from_host, v4(host, vm), (40000, 443), 1, true, 0),
        tcp(from_host, v4(host, vm), (40000, 443), 2, false, 1200),
        tcp(from_host, v4(host, vm), (40000, 443), 1202, false, 1200),
        udp(from_host, v4(host, [10, 1, 0, 20]), (40100, 40200), 40),
        ping4(from_host, host, vm, 1),
        tcp(
            from_host,
            v6("fd00:10::10", "fd00:1::10"),
            (40001, 443),
            1,
            true,
            0,
        ),
        udp(
            from_host,
            v6("fd00:10::10", "fd00:1::10"),
            (40100, 40200),
            40,
        ),
    ];
    corpus.write_pcap("design1-onprem-to-azure.pcap", &d1_out);
    corpus.replay(
        "design1-onprem-to-azure.pcap",
        "design1-onprem-edge.toml",
        Some("lan"),
        DESIGN1_OUT_EXPECT,
        0,
    );

    // Design 1, Azure to on-premises at the Azure side (ExpressRoute first,
    // the more specific /17 and /49 over the VPN win).
    let d1_back = vec![
        tcp(from_vm, v4(vm, host), (443, 40000), 1, false, 1000),
        tcp(
            from_vm,
            v4(vm, [10, 0, 200, 10]),
            (443, 40002),
            1,
            false,
            100,
        ),
        udp(from_vm, v6("fd00:1::10", "fd00:10::10"), (40200, 40100), 80),
        udp(from_vm, v6("fd00:1::10", "fd00:10::20"), (40200, 40100), 80),
    ];
    corpus.write_pcap("design1-azure-to-onprem.pcap", &d1_back);
    corpus.replay(
        "design1-azure-to-onprem.pcap",
        "design1-azure-gateway.toml",
        Some("vnet"),
        DESIGN1_BACK_EXPECT,
        0,
    );

    // Design 2: the sensitive VNet over the VPN only, shared services over
    // ExpressRoute only (plaintext by design, not covered by the policy).
    let d2_out = vec![
        tcp(from_host, v4(host, vm), (40010, 443), 1, false, 500),
        tcp(
            from_host,
            v4(host, [10, 3, 0, 10]),
            (40011, 80),
            1,
            false,
            500,
        ),
        tcp(
            (DMZ_HOST, ONPREM_LAN),
            v4([10, 2, 0, 10], [10, 3, 0, 10]),
            (40012, 80),
            1,
            false,
            500,
        ),
    ];
    corpus.write_pcap("design2-onprem-to-azure.pcap", &d2_out);
    corpus.replay(
        "design2-onprem-to-azure.pcap",
        "design2-onprem-edge.toml",
        Some("lan"),
        DESIGN2_OUT_EXPECT,
        0,
    );
    let d2_back = vec![
        tcp(from_vm, v4(vm, host), (443, 40010), 1, false, 500),
        tcp(
            (SHARED_VM, AZURE_VNET),
            v4([10, 3, 0, 10], [10, 2, 0, 10]),
            (80, 40012),
            1,
            false,
            500,
        ),
    ];
    corpus.write_pcap("design2-azure-to-onprem.pcap", &d2_back);
    corpus.replay(
        "design2-azure-to-onprem.pcap",
        "design2-azure-gateway.toml",
        Some("vnet"),
        DESIGN2_BACK_EXPECT,
        0,
    );

    // ESP inbound at the on-premises edge, sealed by the Azure gateway's
    // outbound SA: three good packets (one IPv6 inside), a replayed copy,
    // and one with a damaged ICV.
    let gateway_sa = outbound_sa(&d1_gw, "vpn");
    let from_gw = |frame: &[u8]| seal(&gateway_sa, frame, AZURE_ER, ONPREM_ER);
    let first = from_gw(&tcp(from_vm, v4(vm, host), (443, 40000), 1, false, 300));
    let second = from_gw(&tcp(from_vm, v4(vm, host), (443, 40000), 301, false, 300));
    let third = from_gw(&udp(
        from_vm,
        v6("fd00:1::10", "fd00:10::10"),
        (40200, 40100),
        60,
    ));
    let mut damaged = from_gw(&tcp(from_vm, v4(vm, host), (443, 40000), 601, false, 300));
    if let Some(last) = damaged.last_mut() {
        *last ^= 0x01;
    }
    let esp_in = vec![first, second.clone(), third, second, damaged];
    corpus.write_pcap("esp-inbound.pcap", &esp_in);
    corpus.replay(
        "esp-inbound.pcap",
        "design1-onprem-edge.toml",
        Some("er"),
        ESP_IN_EXPECT,
        0,
    );

    // TTL / hop limit expiry: dropped, ICMP time exceeded sent back.
    let mut ttl_one = v4(host, vm);
    if let Ip::V4 { ttl, .. } = &mut ttl_one {
        *ttl = 1;
    }
    let mut hop_one = v6("fd00:10::10", "fd00:1::10");
    if let Ip::V6 { hops, .. } = &mut hop_one {
        *hops = 1;
    }
    let ttl = vec![
        udp(from_host, ttl_one, (33434, 33434), 32),
        udp(from_host, hop_one, (33434, 33435), 32),
        udp(from_host, v4(host, vm), (33434, 33436), 32),
    ];
    corpus.write_pcap("ttl-expiry.pcap", &ttl);
    corpus.replay(
        "ttl-expiry.pcap",
        "design1-onprem-edge.toml",
        Some("lan"),
        TTL_EXPECT,
        0,
    );

    // Oversized packets: 1500-byte IPv4 with DF and IPv6 toward the
    // 1400-byte tunnel (PTB sent back), and a 1300-byte one that fits.
    let big = vec![
        tcp(from_host, v4(host, vm), (40020, 443), 1, false, 1460),
        tcp(
            from_host,
            v6("fd00:10::10", "fd00:1::10"),
            (40021, 443),
            1,
            false,
            1440,
        ),
        tcp(from_host, v4(host, vm), (40022, 443), 1, false, 1260),
    ];
    corpus.write_pcap("oversized-df.pcap", &big);
    corpus.replay(
        "oversized-df.pcap",
        "design1-onprem-edge.toml",
        Some("lan"),
        OVERSIZED_EXPECT,
        0,
    );

    // Malformed frames, a frame for another host, an ARP request for the
    // node (answered), and one good packet.
    let good = tcp(from_host, v4(host, vm), (40030, 443), 1, false, 64);
    let mut bad_checksum = good.clone();
    bad_checksum[24] ^= 0xff;
    let mut bad_version = good.clone();
    bad_version[14] = 0x55;
    let mut long_total = good.clone();
    long_total[16..18].copy_from_slice(&1000u16.to_be_bytes());
    let mut stranger = good.clone();
    stranger[..6].copy_from_slice(&STRANGER);
    let malformed = vec![
        good[..10].to_vec(),
        good[..24].to_vec(),
        bad_checksum,
        bad_version,
        long_total,
        stranger,
        arp_request(ONPREM_HOST, host, [10, 0, 0, 1]),
        good,
    ];
    corpus.write_pcap("malformed.pcap", &malformed);
    corpus.replay(
        "malformed.pcap",
        "design1-onprem-edge.toml",
        Some("lan"),
        MALFORMED_EXPECT,
        0,
    );

    // The leak: identical prefixes on both paths at the Azure side.
    let leak = vec![
        tcp(from_vm, v4(vm, host), (443, 40000), 1, false, 500),
        tcp(from_vm, v4(vm, host), (443, 40000), 501, false, 500),
        udp(from_vm, v6("fd00:1::10", "fd00:10::10"), (40200, 40100), 80),
    ];
    corpus.write_pcap("leak-azure-to-onprem.pcap", &leak);
    corpus.replay(
        "leak-azure-to-onprem.pcap",
        "leak-azure-gateway.toml",
        Some("vnet"),
        LEAK_EXPECT,
        1,
    );

    // pcapng with named interfaces: lan traffic and inbound ESP on er, no
    // --ingress needed.
    let esp_again = outbound_sa(&d1_gw, "vpn");
    let mixed: Vec<(u32, Vec<u8>)> = vec![
        (0, tcp(from_host, v4(host, vm), (40040, 443), 1, true, 0)),
        (
            1,
            seal(
                &esp_again,
                &tcp(from_vm, v4(vm, host), (443, 40040), 1, false, 0),
                AZURE_ER,
                ONPREM_ER,
            ),
        ),
        (0, tcp(from_host, v4(host, vm), (40040, 443), 2, false, 100)),
    ];
    write_pcapng(
        &corpus.file("design1-onprem-named.pcapng"),
        &["lan", "er"],
        &mixed,
    );
    corpus.replay(
        "design1-onprem-named.pcapng",
        "design1-onprem-edge.toml",
        None,
        NAMED_EXPECT,
        0,
    );

    let manifest = corpus.manifest.clone();
    corpus.write_text("corpus.toml", &manifest);
}

fn write_pcapng(path: &Path, interfaces: &[&str], frames: &[(u32, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut writer = PcapNgWriter::new(std::io::BufWriter::new(file)).expect("pcapng header");
    for name in interfaces {
        writer
            .write_block(&Block::InterfaceDescription(InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned((*name).to_owned())),
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            }))
            .expect("write IDB");
    }
    for (i, (interface_id, frame)) in frames.iter().enumerate() {
        writer
            .write_block(&Block::EnhancedPacket(EnhancedPacketBlock {
                interface_id: *interface_id,
                timestamp: Duration::from_nanos(EPOCH_NS + i as u64 * 1_000_000),
                original_len: frame.len() as u32,
                data: Cow::Borrowed(frame),
                options: vec![],
            }))
            .expect("write EPB");
    }
}

const DESIGN1_OUT_EXPECT: &str = "\
# Design 1 at the on-premises edge: everything toward the VNet leaves
# inside the tunnel (local-pref 200 beats ExpressRoute's 100), on er.
packets_in = 7
forwarded = 7
dropped = 0
violations = 0
conserved = true

[tx]
er = 7
lan = 0

[[flow]]
name = \"IPv4 to the VNet\"
destination = \"10.1.0.0/16\"
egress = \"er\"
encrypted = true
verdict = \"encrypted\"
packets = 5

[[flow]]
name = \"IPv6 to the VNet\"
destination = \"fd00:1::/48\"
egress = \"er\"
encrypted = true
packets = 2
";

const DESIGN1_BACK_EXPECT: &str = "\
# Design 1 at the Azure side: ExpressRoute is preferred for an identical
# prefix, but the more specific halves learned over the VPN win.
packets_in = 4
forwarded = 4
violations = 0

[tx]
er = 4

[[flow]]
destination = \"10.0.0.0/16\"
egress = \"er\"
encrypted = true
verdict = \"encrypted\"
packets = 2

[[flow]]
destination = \"fd00:10::/48\"
encrypted = true
packets = 2
";

const DESIGN2_OUT_EXPECT: &str = "\
# Design 2 at the on-premises edge: the sensitive VNet only over the VPN;
# shared services (10.3.0.0/16) only over ExpressRoute, in plaintext by
# design and not covered by the policy.
packets_in = 3
forwarded = 3
violations = 0

[[flow]]
name = \"sensitive VNet\"
destination = \"10.1.0.0/16\"
egress = \"er\"
encrypted = true
verdict = \"encrypted\"

[[flow]]
name = \"shared services\"
destination = \"10.3.0.0/16\"
egress = \"er\"
encrypted = false
verdict = \"not_covered\"
packets = 2
";

const DESIGN2_BACK_EXPECT: &str = "\
# Design 2 at the Azure side: no identical prefix, so ExpressRoute-first
# never applies to the sensitive network.
packets_in = 2
forwarded = 2
violations = 0

[[flow]]
destination = \"10.0.0.0/16\"
encrypted = true
verdict = \"encrypted\"

[[flow]]
name = \"on-premises DMZ\"
destination = \"10.2.0.0/16\"
encrypted = false
verdict = \"not_covered\"
";

const ESP_IN_EXPECT: &str = "\
# Inbound ESP at the on-premises edge: decapsulated with the SA the Azure
# gateway sealed with, forwarded on lan; the replayed copy and the damaged
# ICV are dropped.
packets_in = 5
forwarded = 3
dropped = 2
conserved = true

[drops]
esp_replayed = 1
esp_icv_failed = 1

[tx]
lan = 3

[[flow]]
name = \"decrypted IPv4\"
destination = \"10.0.1.10\"
protocol = \"tcp\"
egress = \"lan\"
encrypted = false
outcome = \"forwarded\"
packets = 2

[[flow]]
name = \"decrypted IPv6\"
destination = \"fd00:10::10\"
egress = \"lan\"
packets = 1
";

const TTL_EXPECT: &str = "\
# TTL 1 and hop limit 1: dropped, time exceeded sent back to the host on
# lan; the TTL 64 packet goes through the tunnel.
packets_in = 3
forwarded = 1
dropped = 2
generated = 2

[drops]
ttl_expired = 2

[tx]
er = 1
lan = 2
";

const OVERSIZED_EXPECT: &str = "\
# Too big for the 1400-byte tunnel: IPv4 with DF and IPv6 are dropped with
# fragmentation needed / packet too big sent back; 1300 bytes fits.
packets_in = 3
forwarded = 1
dropped = 2
generated = 2

[drops]
packet_too_big = 2

[tx]
er = 1
lan = 2

[[flow]]
destination = \"10.1.0.10\"
destination_port = 443
source_port = 40022
encrypted = true
";

const MALFORMED_EXPECT: &str = "\
# Malformed frames are dropped with a reason each; the ARP request for the
# node's address is answered; the good packet goes through.
packets_in = 8
forwarded = 1
delivered = 1
dropped = 6
generated = 1
conserved = true

[tx]
er = 1
lan = 1

[[flow]]
destination = \"10.1.0.10\"
source_port = 40030
outcome = \"forwarded\"
encrypted = true
";

const LEAK_EXPECT: &str = "\
# The leak: with the same prefix on both paths, ExpressRoute-first sends
# on-premises traffic in plaintext over the circuit. These expectations
# state the intent (encrypted, no violation): `erdp replay` must exit 1.
violations = 0

[[flow]]
destination = \"10.0.0.0/16\"
encrypted = true
";

const NAMED_EXPECT: &str = "\
# pcapng interface names pick the ingress: lan traffic leaves in the
# tunnel, ESP on er is decapsulated to lan.
packets_in = 3
forwarded = 3

[tx]
er = 2
lan = 1
";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| root.join("pcaps").join("corpus"), PathBuf::from);
    generate(&dir, &root.join("pcaps").join("configs"));
    println!("corpus written to {}", dir.display());
}
