//! Interop with Scapy, offline: the committed fixtures in `pcaps/esp/` were
//! made by Scapy's `SecurityAssociation` (`make_fixtures.py`). erdp must
//! decapsulate each to the original inner packet, and its own encapsulation
//! of that inner packet (same sequence number) must give Scapy's bytes.

use std::fs::File;
use std::path::{Path, PathBuf};

use erdp::esp::PacketClass;
use erdp::esp::{InboundSa, OutboundSa, SaConfig, TunnelEndpoints, classify};
use erdp::packet::PacketBuf;
use pcap_file::pcap::PcapReader;

const CASES: [&str; 5] = [
    "scapy_aes128gcm_ipv4",
    "scapy_aes256gcm_ipv6",
    "scapy_chacha20_ipv4",
    "scapy_aes128gcm_esn",
    "scapy_aes256gcm_natt",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps/esp")
        .join(name)
}

/// The IP packets of an Ethernet capture.
fn ip_packets(path: &Path) -> Vec<Vec<u8>> {
    let mut reader = PcapReader::new(File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        out.push(p.unwrap().data[14..].to_vec());
    }
    out
}

fn sa_config(case: &str) -> SaConfig {
    let text = std::fs::read_to_string(fixture(&format!("{case}.sa.toml"))).unwrap();
    SaConfig::from_toml(&text).unwrap()
}

/// The ESP packets of a case's capture with their SPI (NAT-T control and
/// other traffic left out).
fn esp_packets(case: &str, config: &SaConfig) -> Vec<Vec<u8>> {
    ip_packets(&fixture(&format!("{case}.esp.pcap")))
        .into_iter()
        .filter(|p| matches!(classify(p, 4500), Ok(PacketClass::Esp(o)) if o.spi == config.spi))
        .collect()
}

#[test]
fn scapy_esp_decapsulates_to_the_original_inner_packets() {
    for case in CASES {
        let config = sa_config(case);
        let sa = InboundSa::new(&config).unwrap();
        let inner = ip_packets(&fixture(&format!("{case}.inner.pcap")));
        let esp = esp_packets(case, &config);
        assert_eq!(esp.len(), inner.len(), "{case}");
        assert!(esp.len() >= 6, "{case}");
        let mut buf = PacketBuf::new();
        for (i, (packet, want)) in esp.iter().zip(&inner).enumerate() {
            buf.load(packet, PacketBuf::DEFAULT_HEADROOM).unwrap();
            let outcome = sa
                .decapsulate(&mut buf)
                .unwrap_or_else(|e| panic!("{case} packet {i}: {e}"));
            assert_eq!(buf.as_slice(), &want[..], "{case} packet {i}");
            assert_eq!(outcome.inner_len, want.len());
        }
        assert_eq!(sa.stats().total_drops(), 0, "{case}");
    }
}

#[test]
fn nat_t_fixture_carries_a_keepalive_and_an_ike_packet() {
    let config = sa_config("scapy_aes256gcm_natt");
    let classes: Vec<_> = ip_packets(&fixture("scapy_aes256gcm_natt.esp.pcap"))
        .iter()
        .map(|p| classify(p, 4500).unwrap())
        .collect();
    assert!(classes.contains(&PacketClass::NatKeepalive));
    assert!(classes.contains(&PacketClass::NonEspMarker));
    assert!(config.nat_t.is_some());
}

#[test]
fn erdp_encapsulation_matches_scapy_byte_for_byte() {
    for case in CASES {
        let config = sa_config(case);
        let inbound = InboundSa::new(&config).unwrap();
        let inner = ip_packets(&fixture(&format!("{case}.inner.pcap")));
        let esp = esp_packets(case, &config);
        // The sender's view: endpoints swapped.
        let tunnel = config.tunnel.unwrap();
        let sending = TunnelEndpoints {
            local: tunnel.remote,
            remote: tunnel.local,
        };
        let mut buf = PacketBuf::new();
        for (i, (scapy, inner)) in esp.iter().zip(&inner).enumerate() {
            // Scapy's sequence number, as erdp's receiver infers it.
            buf.load(scapy, PacketBuf::DEFAULT_HEADROOM).unwrap();
            let seq = inbound.decapsulate(&mut buf).unwrap().seq;
            let sa = OutboundSa::with_endpoints(&config, sending).unwrap();
            sa.resume_after(seq - 1);
            buf.load(inner, PacketBuf::DEFAULT_HEADROOM).unwrap();
            assert_eq!(sa.encapsulate(&mut buf).unwrap().seq, seq);
            assert_eq!(
                hex::encode(buf.as_slice()),
                hex::encode(scapy),
                "{case} packet {i} (seq {seq:#x})"
            );
        }
    }
}
