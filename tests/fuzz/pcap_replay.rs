//! The `pcap_replay` fuzz target's oracles as proptest properties (issue 7),
//! so they hold in `cargo test` without cargo-fuzz: valid pcap and pcapng
//! files (both byte orders, every packet block type, skipped blocks) read
//! whole, then mutated; raw bytes; and every kept input.

use crate::harness;

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use harness::pcap_replay::check;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
use pcap_file::pcapng::blocks::unknown::UnknownBlock;
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x00ca_b7e5),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Link types erdp reads, and one it refuses.
fn link() -> impl Strategy<Value = DataLink> {
    prop::sample::select(vec![
        DataLink::ETHERNET,
        DataLink::RAW,
        DataLink::IPV4,
        DataLink::IPV6,
        DataLink::LINUX_SLL,
        DataLink::LINUX_SLL2,
        DataLink::IEEE802_11,
    ])
}

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 0..6)
}

fn pcap(big_endian: bool, nanos: bool, link: DataLink, frames: &[Vec<u8>]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        endianness: if big_endian {
            Endianness::Big
        } else {
            Endianness::Little
        },
        ts_resolution: if nanos {
            TsResolution::NanoSecond
        } else {
            TsResolution::MicroSecond
        },
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let packet = PcapPacket::new(Duration::from_micros(i as u64), frame.len() as u32, frame);
        writer.write_packet(&packet).unwrap();
    }
    writer.into_writer()
}

fn pcapng(big_endian: bool, link: DataLink, frames: &[Vec<u8>]) -> Vec<u8> {
    let endianness = if big_endian {
        Endianness::Big
    } else {
        Endianness::Little
    };
    let section = pcap_file::pcapng::blocks::section_header::SectionHeaderBlock {
        endianness,
        ..Default::default()
    };
    let mut writer = PcapNgWriter::with_section_header(Vec::new(), section).unwrap();
    let interface = InterfaceDescriptionBlock {
        linktype: link,
        snaplen: 0,
        options: vec![],
    };
    writer
        .write_block(&Block::InterfaceDescription(interface))
        .unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let block = match i % 3 {
            0 => Block::EnhancedPacket(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_micros(i as u64),
                original_len: frame.len() as u32,
                data: Cow::Borrowed(frame),
                options: vec![],
            }),
            1 => Block::SimplePacket(SimplePacketBlock {
                original_len: frame.len() as u32,
                data: Cow::Borrowed(frame),
            }),
            _ => Block::Unknown(UnknownBlock::new(0x0bad, frame.len() as u32 + 12, frame)),
        };
        writer.write_block(&block).unwrap();
    }
    writer.into_inner()
}

/// A valid capture of either format.
fn capture() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        link(),
        frames(),
    )
        .prop_map(|(ng, big_endian, nanos, link, frames)| {
            if ng {
                pcapng(big_endian, link, &frames)
            } else {
                pcap(big_endian, nanos, link, &frames)
            }
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn valid_captures_read_to_their_end(data in capture()) {
        let replayed = check(&data);
        // An unsupported link type is the only error a valid file may earn.
        if let Some(error) = &replayed.error {
            prop_assert!(error.contains("unsupported link type"), "{}", error);
        }
    }

    #[test]
    fn mutated_captures_keep_every_oracle(
        data in capture(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut data = data;
        for (at, value) in edits {
            if !data.is_empty() {
                let i = at % data.len();
                data[i] = value;
            }
        }
        data.truncate(cut % (data.len() + 1));
        check(&data);
    }

    #[test]
    fn raw_bytes_keep_every_oracle(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&data);
    }
}

#[test]
fn a_frame_too_large_for_the_buffer_is_skipped_and_reading_goes_on() {
    // A length divisible by 3 selects the harness's 512-byte buffer.
    let data = pcap(
        false,
        false,
        DataLink::ETHERNET,
        &[vec![1; 1001], vec![2; 20]],
    );
    assert!(data.len().is_multiple_of(3));
    let replayed = check(&data);
    assert_eq!((replayed.frames, replayed.skipped), (1, 1), "{replayed:?}");
    assert_eq!(replayed.error, None);
}

#[test]
fn pcap_replay_kept_inputs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, data) in harness::kept_inputs(root, "pcap_replay") {
        eprintln!("replaying {}", path.display());
        check(&data);
    }
}

#[test]
fn the_committed_captures_read_without_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/esp");
    let mut read = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pcap") {
            let replayed = check(&std::fs::read(&path).unwrap());
            assert_eq!(replayed.error, None, "{}", path.display());
            assert!(replayed.frames > 0, "{}", path.display());
            read += 1;
        }
    }
    assert!(read >= 10);
}

#[test]
fn captured_frames_go_through_the_forwarder() {
    use harness::forward_frames::{Addr4, Addr6, IpSpec, Transport, ethernet, ip_packet};
    // From a LAN host (pick 1) to a plain host (9), a VNet host (8) and a
    // must-encrypt host with no tunnel route (10), on the LAN port.
    let frames: Vec<Vec<u8>> = [9u8, 8, 10]
        .iter()
        .map(|&destination| {
            let ip = IpSpec {
                v6: false,
                source4: Addr4 { pick: 1, raw: 0 },
                destination4: Addr4 {
                    pick: destination,
                    raw: 0,
                },
                source6: Addr6 { pick: 0, raw: 0 },
                destination6: Addr6 { pick: 0, raw: 0 },
                ttl: 64,
                tos: 0,
                fragment: 0x4000,
                transport: Transport::Udp {
                    source: 1000,
                    destination: 443,
                },
                payload: vec![1; 30],
            };
            let mut frame = ethernet([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 0x0a, 1], 0x0800);
            frame.extend_from_slice(&ip_packet(&ip));
            frame
        })
        .collect();
    for data in [
        pcap(false, false, DataLink::ETHERNET, &frames),
        pcap(true, true, DataLink::ETHERNET, &frames),
    ] {
        let replayed = check(&data);
        assert_eq!(replayed.frames, 3);
        let seen = &replayed.forwarded;
        assert_eq!(
            (
                seen.frames,
                seen.forwarded,
                seen.encrypted,
                seen.policy_drops
            ),
            (3, 2, 1, 1),
            "{seen:?}"
        );
    }
}
