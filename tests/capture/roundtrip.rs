//! pcap round trips through our writer and reader (and pcap-file's own
//! reader as an independent check), microsecond and big-endian files, link
//! types and their normalisation to Ethernet, and clear errors.

use crate::support;

use std::io::Cursor;
use std::time::Duration;

use erdp::capture::*;
use erdp::packet::PacketBuf;
use erdp::wire::{EtherType, MacAddr};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use support::capture::*;

const T0: u64 = 1_767_225_600_123_456_789; // 2026-01-01 plus some nanoseconds

#[test]
fn file_round_trip_preserves_bytes_and_nanosecond_timestamps() {
    let dir = TempDir::new("roundtrip");
    let path = dir.path("er.pcap");
    let mut writer = PcapFileWriter::create(&path).unwrap();
    let frames: Vec<(u64, Vec<u8>)> = (0..50u64)
        .map(|i| {
            (
                T0 + i * 1_000_003,
                frame(60 + (i as usize * 29) % 1455, i as u8),
            )
        })
        .collect();
    for (timestamp, bytes) in &frames {
        writer.write_frame(*timestamp, bytes).unwrap();
    }
    assert_eq!(writer.frames_written(), 50);
    assert_eq!(writer.finish().unwrap(), 50);

    let mut reader = CaptureReader::open(&path).unwrap();
    assert_eq!(reader.format(), CaptureFormat::Pcap);
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(reader.total_size(), Some(size));
    let mut buf = PacketBuf::new();
    for (index, (timestamp, bytes)) in frames.iter().enumerate() {
        let meta = reader.next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(meta.number, index as u64 + 1);
        assert_eq!(meta.timestamp_ns, *timestamp);
        assert_eq!(meta.link_type, LinkType::Ethernet);
        assert_eq!(meta.interface, 0);
        assert_eq!(meta.original_len as usize, bytes.len());
        assert_eq!(buf.as_slice(), &bytes[..]);
        assert_eq!(buf.headroom(), PacketBuf::DEFAULT_HEADROOM);
    }
    assert!(reader.next_frame(&mut buf).unwrap().is_none());
    assert_eq!(reader.bytes_consumed(), size);

    // pcap-file's own reader agrees: nanosecond magic, Ethernet, same data.
    let mut independent = PcapReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(independent.header().ts_resolution, TsResolution::NanoSecond);
    assert_eq!(independent.header().datalink, DataLink::ETHERNET);
    let mut count = 0;
    while let Some(packet) = independent.next_packet() {
        let packet = packet.unwrap();
        assert_eq!(packet.timestamp.as_nanos() as u64, frames[count].0);
        assert_eq!(&packet.data[..], &frames[count].1[..]);
        count += 1;
    }
    assert_eq!(count, 50);
}

fn pcap_file_capture(
    resolution: TsResolution,
    endianness: Endianness,
    datalink: DataLink,
) -> Vec<u8> {
    let header = PcapHeader {
        ts_resolution: resolution,
        endianness,
        datalink,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).unwrap();
    let data = frame(100, 9);
    writer
        .write_packet(&PcapPacket::new(
            Duration::new(1_700_000_000, 250_000_000),
            100,
            &data,
        ))
        .unwrap();
    writer
        .write_packet(&PcapPacket::new(
            Duration::new(1_700_000_001, 999_999_000),
            1500,
            &data,
        ))
        .unwrap();
    writer.into_writer()
}

#[test]
fn microsecond_and_big_endian_files_read_correctly() {
    for endianness in [Endianness::Big, Endianness::Little] {
        for resolution in [TsResolution::MicroSecond, TsResolution::NanoSecond] {
            let bytes = pcap_file_capture(resolution, endianness, DataLink::ETHERNET);
            let frames = read_all(&bytes).unwrap();
            assert_eq!(frames.len(), 2);
            assert_eq!(frames[0].0.timestamp_ns, 1_700_000_000_250_000_000);
            assert_eq!(frames[1].0.timestamp_ns, 1_700_000_001_999_999_000);
            assert_eq!(
                frames[1].0.original_len, 1500,
                "snaplen-cut frame keeps its wire length"
            );
            assert_eq!(frames[1].1, frame(100, 9));
        }
    }
}

#[test]
fn unsupported_link_type_is_a_clear_error() {
    let bytes = pcap_file_capture(
        TsResolution::MicroSecond,
        Endianness::Little,
        DataLink::IEEE802_11,
    );
    let error = match CaptureReader::from_reader("wifi.pcap", Cursor::new(&bytes), None) {
        Err(error) => error,
        Ok(_) => panic!("802.11 accepted"),
    };
    let message = error.to_string();
    assert!(message.contains("wifi.pcap"), "{message}");
    assert!(message.contains("unsupported link type 105"), "{message}");
    assert!(message.contains("file header"), "{message}");
    assert!(message.contains("Ethernet (1)"), "{message}");
}

#[test]
fn raw_ip_and_cooked_frames_become_ethernet() {
    let ipv4 = [
        0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let mut ipv6 = [0u8; 40];
    ipv6[0] = 0x60;
    let mut sll = vec![0u8, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ipv4);
    let mut sll2 = vec![
        0x86u8, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0,
    ];
    sll2.extend_from_slice(&ipv6);
    let (dst, src) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
    for (link, input, payload, ether_type) in [
        (LinkType::RawIpv4, &ipv4[..], &ipv4[..], EtherType::IPV4),
        (LinkType::RawIpv6, &ipv6[..], &ipv6[..], EtherType::IPV6),
        (LinkType::RawIp, &ipv4[..], &ipv4[..], EtherType::IPV4),
        (LinkType::RawIp, &ipv6[..], &ipv6[..], EtherType::IPV6),
        (LinkType::LinuxSll, &sll[..], &ipv4[..], EtherType::IPV4),
        (LinkType::LinuxSll2, &sll2[..], &ipv6[..], EtherType::IPV6),
    ] {
        // Through a capture file of that link type.
        let mut writer = PcapFileWriter::from_writer("raw.pcap", Vec::new(), link).unwrap();
        writer.write_frame(T0, input).unwrap();
        let bytes = writer.into_inner().unwrap();
        let (meta, data) = read_all(&bytes).unwrap().remove(0);
        assert_eq!(meta.link_type, link);
        let mut buf = PacketBuf::new();
        buf.load(&data, PacketBuf::DEFAULT_HEADROOM).unwrap();
        assert_eq!(
            to_ethernet(&mut buf, link, dst, src),
            Ok(ether_type),
            "{link:?}"
        );
        let frame = buf.as_slice();
        assert_eq!(&frame[0..6], &dst.0);
        assert_eq!(&frame[6..12], &src.0);
        assert_eq!(u16::from_be_bytes([frame[12], frame[13]]), ether_type.0);
        assert_eq!(&frame[14..], payload);
    }
    let mut buf = PacketBuf::new();
    buf.load(&[0x15; 20], PacketBuf::DEFAULT_HEADROOM).unwrap();
    assert_eq!(
        to_ethernet(&mut buf, LinkType::RawIp, dst, src),
        Err(LinkError::NotIp { version: 1 })
    );
    buf.load(&[0; 10], PacketBuf::DEFAULT_HEADROOM).unwrap();
    assert!(matches!(
        to_ethernet(&mut buf, LinkType::LinuxSll, dst, src),
        Err(LinkError::Truncated { .. })
    ));
}

#[test]
fn oversized_frame_is_skipped_with_a_recoverable_error() {
    let mut writer =
        PcapFileWriter::from_writer("big.pcap", Vec::new(), LinkType::Ethernet).unwrap();
    writer.write_frame(T0, &frame(20_000, 1)).unwrap();
    writer.write_frame(T0 + 1, &frame(64, 2)).unwrap();
    let bytes = writer.into_inner().unwrap();
    let mut reader = CaptureReader::from_reader("big.pcap", Cursor::new(&bytes), None).unwrap();
    let mut buf = PacketBuf::new();
    let error = reader.next_frame(&mut buf).unwrap_err();
    assert!(error.is_recoverable());
    assert!(error.to_string().contains("frame 1"), "{error}");
    assert!(
        error
            .to_string()
            .contains("a 20000-byte frame does not fit the 9728-byte packet buffer"),
        "{error}"
    );
    let meta = reader.next_frame(&mut buf).unwrap().unwrap();
    assert_eq!((meta.number, buf.as_slice()), (2, &frame(64, 2)[..]));
}

#[test]
fn not_a_capture_and_missing_file_are_named() {
    let error = match CaptureReader::from_reader("notes.txt", Cursor::new(b"hello world"), None) {
        Err(error) => error,
        Ok(_) => panic!("text accepted"),
    };
    assert!(matches!(error, CaptureError::UnknownFormat { .. }));
    assert!(
        error
            .to_string()
            .starts_with("notes.txt: not a pcap or pcapng file"),
        "{error}"
    );
    let error = match CaptureReader::open("/nonexistent/erdp/in.pcap") {
        Err(error) => error,
        Ok(_) => panic!("opened a missing file"),
    };
    assert!(
        error
            .to_string()
            .contains("/nonexistent/erdp/in.pcap: cannot open"),
        "{error}"
    );
}
