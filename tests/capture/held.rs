//! Frames held in the reader's window (`CaptureReader::hold_from`, `held`):
//! what `erdp replay` writes a dropped frame from instead of a copy per
//! frame. Over captures several times the reader's 256 KiB read size, read
//! in small pieces, a held frame's bytes are exactly the frame as captured
//! and its span points at them in the file, for pcap and pcapng.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{Cursor, Read};
use std::time::Duration;

use erdp::capture::*;
use erdp::packet::PacketBuf;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::{DataLink, Endianness};

use crate::support::capture::frame;

/// Frames kept readable at once, as a replay keeps a batch and one more.
const KEPT: usize = 65;

/// A source giving at most `piece` bytes per read (a pipe, a slow disk).
struct Pieces<'a> {
    bytes: Cursor<&'a [u8]>,
    piece: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = buf.len().min(self.piece);
        self.bytes.read(&mut buf[..len])
    }
}

fn frames(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| frame(60 + (i * 37) % 1440, i as u8))
        .collect()
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut writer =
        PcapFileWriter::from_writer("held.pcap", Vec::new(), LinkType::Ethernet).unwrap();
    for (i, bytes) in frames.iter().enumerate() {
        writer.write_frame(i as u64 * 1000, bytes).unwrap();
    }
    writer.into_inner().unwrap()
}

fn pcapng(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = PcapNgWriter::with_endianness(Vec::new(), Endianness::Big).unwrap();
    writer
        .write_block(&Block::InterfaceDescription(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 0,
            options: vec![],
        }))
        .unwrap();
    for (i, bytes) in frames.iter().enumerate() {
        writer
            .write_block(&Block::EnhancedPacket(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_micros(i as u64),
                original_len: bytes.len() as u32,
                data: Cow::Borrowed(bytes),
                options: vec![],
            }))
            .unwrap();
    }
    writer.get_ref().clone()
}

/// Reads `file` holding the last [`KEPT`] frames and checks every one of
/// them after each read: held bytes equal the frame and the file's bytes
/// at its span.
fn check_held(file: &[u8], frames: &[Vec<u8>], piece: usize) {
    let source = Pieces {
        bytes: Cursor::new(file),
        piece,
    };
    let mut reader = CaptureReader::from_reader("held", source, None).unwrap();
    let mut buf = PacketBuf::new();
    let mut kept: VecDeque<(FrameSpan, &Vec<u8>)> = VecDeque::new();
    let mut expected = frames.iter();
    loop {
        reader.hold_from(kept.front().map(|(span, _)| span.offset));
        let Some(meta) = reader.next_frame(&mut buf).unwrap() else {
            break;
        };
        let bytes = expected.next().expect("no more frames than written");
        assert_eq!(buf.as_slice(), &bytes[..]);
        let span = meta.span;
        let start = span.offset as usize;
        assert_eq!(
            &file[start..start + span.len],
            &bytes[..],
            "span in the file"
        );
        kept.push_back((span, bytes));
        if kept.len() > KEPT {
            kept.pop_front();
        }
        for (span, bytes) in &kept {
            assert_eq!(reader.held(*span), Some(&bytes[..]), "frame at {span:?}");
        }
    }
    assert!(expected.next().is_none(), "every frame read");
}

#[test]
fn held_frames_stay_readable_across_reads() {
    // About 3 MB: twelve times the read size, so the window moves and grows.
    let frames = frames(4000);
    for piece in [usize::MAX, 100_000, 1_500] {
        check_held(&pcap(&frames), &frames, piece);
        check_held(&pcapng(&frames), &frames, piece);
    }
}

#[test]
fn a_span_not_held_is_not_given_back_wrong() {
    // Without a hold, an old frame's bytes leave the window: `held` says
    // so (None) instead of giving other bytes.
    let frames = frames(4000);
    let file = pcap(&frames);
    let mut reader = CaptureReader::from_reader("held", Cursor::new(&file[..]), None).unwrap();
    let mut buf = PacketBuf::new();
    let first = reader.next_frame(&mut buf).unwrap().unwrap().span;
    assert_eq!(reader.held(first), Some(&frames[0][..]));
    while reader.next_frame(&mut buf).unwrap().is_some() {
        if let Some(bytes) = reader.held(first) {
            assert_eq!(bytes, &frames[0][..]);
        }
    }
    assert_eq!(reader.held(first), None, "discarded once the window moved");
}
