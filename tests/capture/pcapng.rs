//! pcapng: interfaces with names and timestamp resolutions, blocks that are
//! skipped, simple and obsolete packet blocks, several sections, both byte
//! orders, and errors naming the frame and interface. Files are written by
//! pcap-file's own `PcapNgWriter` (an independent writer).

use crate::support;

use std::borrow::Cow;
use std::io::Cursor;
use std::time::Duration;

use erdp::capture::*;
use erdp::packet::PacketBuf;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::interface_statistics::InterfaceStatisticsBlock;
use pcap_file::pcapng::blocks::packet::PacketBlock;
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
use pcap_file::pcapng::blocks::unknown::UnknownBlock;
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::{DataLink, Endianness};
use support::capture::*;

fn interface(name: &str, linktype: DataLink, tsresol: Option<u8>) -> Block<'static> {
    let mut options = vec![InterfaceDescriptionOption::IfName(Cow::Owned(
        name.to_string(),
    ))];
    if let Some(resolution) = tsresol {
        options.push(InterfaceDescriptionOption::IfTsResol(resolution));
    }
    Block::InterfaceDescription(InterfaceDescriptionBlock {
        linktype,
        snaplen: 0,
        options,
    })
}

/// An EPB whose raw 64-bit timestamp is `units` (pcap-file writes the
/// Duration's nanoseconds as the raw value).
fn packet(interface_id: u32, units: u64, data: &[u8]) -> Block<'_> {
    Block::EnhancedPacket(EnhancedPacketBlock {
        interface_id,
        timestamp: Duration::from_nanos(units),
        original_len: data.len() as u32,
        data: Cow::Borrowed(data),
        options: vec![],
    })
}

fn writer(endianness: Endianness) -> PcapNgWriter<Vec<u8>> {
    PcapNgWriter::with_endianness(Vec::new(), endianness).unwrap()
}

#[test]
fn two_named_interfaces_with_skipped_blocks_between() {
    for endianness in [Endianness::Little, Endianness::Big] {
        let (a, b, c) = (frame(64, 1), frame(1400, 2), frame(99, 3));
        let mut w = writer(endianness);
        w.write_block(&interface("er", DataLink::ETHERNET, Some(9)))
            .unwrap();
        w.write_block(&interface("vpn", DataLink::RAW, Some(9)))
            .unwrap();
        w.write_block(&packet(0, 1_700_000_000_000_000_001, &a))
            .unwrap();
        w.write_block(&Block::InterfaceStatistics(InterfaceStatisticsBlock {
            interface_id: 0,
            timestamp: 5,
            options: vec![],
        }))
        .unwrap();
        w.write_block(&Block::Unknown(UnknownBlock::new(
            0x0bad_0001,
            16,
            &[1, 2, 3, 4],
        )))
        .unwrap();
        w.write_block(&packet(1, 1_700_000_000_000_000_002, &b))
            .unwrap();
        w.write_block(&packet(0, 1_700_000_000_000_000_003, &c))
            .unwrap();
        let bytes = w.into_inner();

        let mut reader =
            CaptureReader::from_reader("two.pcapng", Cursor::new(&bytes), Some(bytes.len() as u64))
                .unwrap();
        assert_eq!(reader.format(), CaptureFormat::PcapNg);
        let mut buf = PacketBuf::new();
        let expected = [
            (0, LinkType::Ethernet, &a, 1),
            (1, LinkType::RawIp, &b, 2),
            (0, LinkType::Ethernet, &c, 3),
        ];
        for (number, (interface, link, data, ns)) in expected.into_iter().enumerate() {
            let meta = reader.next_frame(&mut buf).unwrap().unwrap();
            assert_eq!(meta.number, number as u64 + 1);
            assert_eq!(meta.interface, interface);
            assert_eq!(meta.link_type, link);
            assert_eq!(meta.timestamp_ns, 1_700_000_000_000_000_000 + ns);
            assert_eq!(buf.as_slice(), &data[..]);
        }
        assert!(reader.next_frame(&mut buf).unwrap().is_none());
        assert_eq!(reader.interface_name(0), Some("er"));
        assert_eq!(reader.interface_name(1), Some("vpn"));
        assert_eq!(reader.interface_name(2), None);
        assert_eq!(reader.interfaces().len(), 2);
        assert_eq!(reader.bytes_consumed(), bytes.len() as u64);
    }
}

#[test]
fn default_resolution_is_microseconds() {
    let mut w = writer(Endianness::Little);
    w.write_block(&interface("lan", DataLink::ETHERNET, None))
        .unwrap();
    w.write_block(&packet(0, 1_700_000_000_123_456, &frame(60, 0)))
        .unwrap();
    let frames = read_all(&w.into_inner()).unwrap();
    assert_eq!(frames[0].0.timestamp_ns, 1_700_000_000_123_456_000);
}

#[test]
fn simple_and_obsolete_packet_blocks() {
    let data = frame(61, 4); // odd length: the simple block body is padded
    let mut w = writer(Endianness::Little);
    w.write_block(&interface("lan", DataLink::ETHERNET, Some(9)))
        .unwrap();
    w.write_block(&packet(0, 42, &frame(60, 0))).unwrap();
    w.write_block(&Block::SimplePacket(SimplePacketBlock {
        original_len: 61,
        data: Cow::Borrowed(&data),
    }))
    .unwrap();
    w.write_block(&Block::Packet(PacketBlock {
        interface_id: 0,
        drop_count: 0,
        timestamp: 77,
        captured_len: 61,
        original_len: 61,
        data: Cow::Borrowed(&data),
        options: vec![],
    }))
    .unwrap();
    let frames = read_all(&w.into_inner()).unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].1, data, "padding removed");
    assert_eq!(
        frames[1].0.timestamp_ns, 42,
        "simple block reuses the last timestamp"
    );
    assert_eq!(frames[2].1, data);
    assert_eq!(frames[2].0.timestamp_ns, 77);
}

#[test]
fn a_new_section_resets_the_interfaces() {
    let mut w = writer(Endianness::Little);
    w.write_block(&interface("first", DataLink::ETHERNET, Some(9)))
        .unwrap();
    w.write_block(&packet(0, 1, &frame(60, 0))).unwrap();
    w.write_block(&Block::SectionHeader(SectionHeaderBlock {
        endianness: Endianness::Big,
        ..SectionHeaderBlock::default()
    }))
    .unwrap();
    w.write_block(&interface("second", DataLink::ETHERNET, Some(9)))
        .unwrap();
    w.write_block(&packet(0, 2, &frame(70, 1))).unwrap();
    let bytes = w.into_inner();
    let mut reader = CaptureReader::from_reader("s.pcapng", Cursor::new(&bytes), None).unwrap();
    let mut buf = PacketBuf::new();
    reader.next_frame(&mut buf).unwrap().unwrap();
    assert_eq!(reader.interface_name(0), Some("first"));
    let meta = reader.next_frame(&mut buf).unwrap().unwrap();
    assert_eq!((meta.timestamp_ns, buf.len()), (2, 70));
    assert_eq!(reader.interface_name(0), Some("second"));
    assert_eq!(reader.interfaces().len(), 1);
}

#[test]
fn unsupported_link_type_names_frame_and_interface() {
    let mut w = writer(Endianness::Little);
    w.write_block(&interface("er", DataLink::ETHERNET, Some(9)))
        .unwrap();
    w.write_block(&interface("usb", DataLink::USB_LINUX, Some(9)))
        .unwrap();
    w.write_block(&packet(0, 1, &frame(60, 0))).unwrap();
    w.write_block(&packet(1, 2, &[0; 48])).unwrap();
    let bytes = w.into_inner();
    let mut reader = CaptureReader::from_reader("mixed.pcapng", Cursor::new(&bytes), None).unwrap();
    let mut buf = PacketBuf::new();
    reader.next_frame(&mut buf).unwrap().unwrap();
    let error = reader.next_frame(&mut buf).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("mixed.pcapng: frame 2 at byte "),
        "{message}"
    );
    assert!(
        message.contains("unsupported link type 189 on interface 1"),
        "{message}"
    );
}

#[test]
fn packet_on_an_undescribed_interface_is_corrupt() {
    let mut bytes = {
        let mut w = writer(Endianness::Little);
        w.write_block(&interface("er", DataLink::ETHERNET, Some(9)))
            .unwrap();
        w.write_block(&packet(0, 1, &frame(60, 0))).unwrap();
        w.into_inner()
    };
    // Rewrite the EPB's interface id (first body word) from 0 to 3.
    let epb_start = bytes.len() - (32 + 60);
    bytes[epb_start + 8] = 3;
    let error = read_all(&bytes).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("packet on interface 3, but the section describes 1 interfaces"),
        "{error}"
    );
}
