//! The Scapy-made ESP fixtures of `pcaps/esp/` (an independent
//! implementation sealed them) as sealed packets for the `esp_decap`
//! oracles: fuzz input bytes are delivered as one raw outer packet to the
//! fixture's SA, then every genuine fixture packet, then the raw one again.

use std::io::Cursor;
use std::sync::OnceLock;

use erdp::capture::CaptureReader;
use erdp::esp::{InboundSa, PacketClass, SaConfig, classify};
use erdp::packet::PacketBuf;

use super::esp_decap::{Replay, Sealed, Tally};

/// Ethernet header length: the fixture captures are Ethernet.
const ETHERNET_LEN: usize = 14;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../pcaps/esp/", $name, ".sa.toml")),
            include_bytes!(concat!("../../pcaps/esp/", $name, ".esp.pcap")).as_slice(),
            include_bytes!(concat!("../../pcaps/esp/", $name, ".inner.pcap")).as_slice(),
        )
    };
}

/// Name, inbound SA, ESP capture, inner capture.
const SOURCES: [(&str, &str, &[u8], &[u8]); 5] = [
    fixture!("scapy_aes128gcm_ipv4"),
    fixture!("scapy_aes256gcm_ipv6"),
    fixture!("scapy_chacha20_ipv4"),
    fixture!("scapy_aes128gcm_esn"),
    fixture!("scapy_aes256gcm_natt"),
];

/// How many fixtures there are (inputs select one modulo this).
pub const FIXTURE_COUNT: usize = SOURCES.len();

/// A fixture ready for replay.
pub struct Fixture {
    pub name: &'static str,
    pub config: SaConfig,
    pub sealed: Vec<Sealed>,
}

/// The IP packets of an Ethernet capture held in memory.
fn ip_packets(name: &str, capture: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = CaptureReader::from_reader(name, Cursor::new(capture), None)
        .unwrap_or_else(|e| panic!("fixture capture: {e}"));
    let mut buf = PacketBuf::new();
    let mut out = Vec::new();
    while let Some(_meta) = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("fixture capture: {e}"))
    {
        out.push(buf.as_slice()[ETHERNET_LEN..].to_vec());
    }
    out
}

fn load(name: &'static str, sa: &str, esp: &[u8], inner: &[u8]) -> Fixture {
    let config = SaConfig::from_toml(sa).unwrap_or_else(|e| panic!("{name}: {e}"));
    let port = config.nat_t.map_or(4500, |n| n.local_port);
    let inners = ip_packets(name, inner);
    let frames: Vec<(Vec<u8>, usize)> = ip_packets(name, esp)
        .into_iter()
        .filter_map(|frame| match classify(&frame, port) {
            Ok(PacketClass::Esp(outer)) if outer.spi == config.spi => {
                Some((frame, outer.esp_offset))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        frames.len(),
        inners.len(),
        "{name}: ESP and inner packet counts"
    );
    // The full sequence numbers (ESN high halves are not on the wire), as
    // a receiver taking the packets in capture order infers them;
    // tests/esp/scapy_fixtures.rs checks them against Scapy's bytes.
    let receiver = InboundSa::new(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut buf = PacketBuf::new();
    let sealed = frames
        .into_iter()
        .zip(inners)
        .map(|((frame, esp_offset), inner)| {
            buf.load(&frame, PacketBuf::DEFAULT_HEADROOM)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let seq = receiver
                .decapsulate(&mut buf)
                .unwrap_or_else(|e| panic!("{name}: genuine packet refused: {e}"))
                .seq;
            Sealed {
                frame,
                esp_offset,
                seq,
                inner,
            }
        })
        .collect();
    Fixture {
        name,
        config,
        sealed,
    }
}

/// Every fixture, loaded once.
pub fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|&(name, sa, esp, inner)| load(name, sa, esp, inner))
            .collect()
    })
}

/// Delivers `raw` to fixture `index`'s SA, then every genuine packet in
/// order, then `raw` again, checking the `esp_decap` oracles throughout.
pub fn check_fixture(index: usize, raw: &[u8]) -> Tally {
    let fixture = &fixtures()[index % FIXTURE_COUNT];
    let receiver = InboundSa::new(&fixture.config).unwrap_or_else(|e| panic!("{e}"));
    let mut replay = Replay::new(
        &receiver,
        &fixture.sealed,
        fixture.config.replay_window,
        fixture.config.esn,
    );
    replay.resync_tries = fixture.config.esn_resync_max_tries;
    let name = fixture.name;
    replay.deliver(raw, &format!("{name}: raw packet"));
    for (i, packet) in fixture.sealed.iter().enumerate() {
        replay.deliver(&packet.frame, &format!("{name}: genuine packet {i}"));
    }
    replay.deliver(raw, &format!("{name}: raw packet again"));
    replay.tally
}
