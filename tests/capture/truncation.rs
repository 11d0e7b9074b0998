//! Every truncation length of a small pcap and pcapng capture: a cut on a
//! record boundary reads as the shorter capture; any other cut is an error
//! naming the file, never a panic and never silently fewer frames. Random
//! and mutated files never panic.

use crate::support;

use std::borrow::Cow;
use std::io::Cursor;
use std::time::Duration;

use erdp::capture::*;
use erdp::packet::PacketBuf;
use pcap_file::DataLink;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgWriter};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use support::capture::*;

/// A three-frame pcap and the file offsets where records end.
fn small_pcap() -> (Vec<u8>, Vec<usize>) {
    let mut writer =
        PcapFileWriter::from_writer("small.pcap", Vec::new(), LinkType::Ethernet).unwrap();
    let mut boundaries = vec![24];
    for (i, len) in [60usize, 99, 142].into_iter().enumerate() {
        writer
            .write_frame(1_000 + i as u64, &frame(len, i as u8))
            .unwrap();
        boundaries.push(boundaries.last().unwrap() + 16 + len);
    }
    (writer.into_inner().unwrap(), boundaries)
}

/// A pcapng with two interfaces and three packets, and its block ends.
fn small_pcapng() -> (Vec<u8>, Vec<usize>) {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    let mut boundaries = vec![w.get_ref().len()];
    let frames = [frame(60, 0), frame(61, 1), frame(90, 2)];
    for name in ["er", "vpn"] {
        w.write_block(&Block::InterfaceDescription(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed(name)),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        }))
        .unwrap();
        boundaries.push(w.get_ref().len());
    }
    for (i, data) in frames.iter().enumerate() {
        w.write_block(&Block::EnhancedPacket(EnhancedPacketBlock {
            interface_id: (i % 2) as u32,
            timestamp: Duration::from_nanos(5 + i as u64),
            original_len: data.len() as u32,
            data: Cow::Borrowed(data),
            options: vec![],
        }))
        .unwrap();
        boundaries.push(w.get_ref().len());
    }
    (w.into_inner(), boundaries)
}

fn check_every_cut(bytes: &[u8], boundaries: &[usize], name: &str) {
    let header_end = boundaries[0];
    for cut in 0..bytes.len() {
        let prefix = &bytes[..cut];
        let result = read_all(prefix);
        let complete_frames = |end: usize| boundaries.iter().filter(|&&b| b <= end).count() - 1;
        match result {
            Ok(frames) => {
                assert!(
                    boundaries.contains(&cut),
                    "{name}: cut at {cut} read without error"
                );
                // Interface blocks are not frames: count packet records.
                let packets = frames.len();
                assert!(packets <= complete_frames(cut), "{name}: cut at {cut}");
            }
            Err(error) => {
                assert!(
                    !boundaries.contains(&cut) || cut < header_end,
                    "{name}: cut at boundary {cut}: {error}"
                );
                let message = error.to_string();
                assert!(message.starts_with("memory.pcap: "), "{message}");
                assert!(
                    matches!(
                        error,
                        CaptureError::Truncated { .. }
                            | CaptureError::UnknownFormat { .. }
                            | CaptureError::Corrupt { .. }
                    ),
                    "{name}: cut at {cut}: {error:?}"
                );
            }
        }
    }
    assert_eq!(read_all(bytes).unwrap().len(), 3);
}

#[test]
fn every_truncation_of_a_pcap_is_an_error_or_a_record_boundary() {
    let (bytes, boundaries) = small_pcap();
    check_every_cut(&bytes, &boundaries, "pcap");
    let error = read_all(&bytes[..bytes.len() - 1]).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "memory.pcap: frame 3 at byte {}: truncated frame data: needs 158 bytes, the file has 157 left",
            boundaries[2]
        )
    );
}

#[test]
fn every_truncation_of_a_pcapng_is_an_error_or_a_block_boundary() {
    let (bytes, boundaries) = small_pcapng();
    check_every_cut(&bytes, &boundaries, "pcapng");
}

#[test]
fn absurd_lengths_are_refused_before_reading() {
    let (mut bytes, _) = small_pcap();
    bytes[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let error = read_all(&bytes).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("captured length 4294967295 exceeds"),
        "{error}"
    );

    let (mut bytes, boundaries) = small_pcapng();
    let block = boundaries[1];
    bytes[block + 4..block + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let error = read_all(&bytes).unwrap_err();
    assert!(
        error.to_string().contains("over the 16777216-byte limit"),
        "{error}"
    );
}

fn read_ignoring_errors(bytes: &[u8]) {
    let Ok(mut reader) = CaptureReader::from_reader("fuzz", Cursor::new(bytes), None) else {
        return;
    };
    let mut buf = PacketBuf::new();
    let _ = reader.interfaces();
    loop {
        match reader.next_frame(&mut buf) {
            Ok(Some(meta)) => {
                let _ = reader.interface_name(meta.interface);
            }
            Ok(None) => break,
            Err(error) if error.is_recoverable() => {}
            Err(_) => break,
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 3000, rng_seed: RngSeed::Fixed(0x6361_7074), ..Config::default() })]

    #[test]
    fn mutated_captures_never_panic(
        pcapng in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (mut bytes, _) = if pcapng { small_pcapng() } else { small_pcap() };
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        read_ignoring_errors(&bytes);
    }

    #[test]
    fn random_bytes_after_a_magic_never_panic(
        magic in prop::sample::select(vec![
            [0xd4u8, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x0a, 0x0d, 0x0d, 0x0a], [0, 0, 0, 0],
        ]),
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&tail);
        read_ignoring_errors(&bytes);
    }
}
