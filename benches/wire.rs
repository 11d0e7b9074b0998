//! Per-packet costs of the wire building blocks and of capture reading and
//! writing, each beside a baseline measured in the same run (copying the
//! frame; etherparse's sliced parse; memcpy of the capture bytes).

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use erdp::capture::{CaptureReader, LinkType, PcapFileWriter};
use erdp::packet::PacketBuf;
use erdp::wire::{
    ETHERNET_HEADER_LEN, EthernetHeader, FlowHasher, FlowKey, IpPacket, Ipv4Packet, MacAddr,
    clamp_tcp_mss, rewrite_macs,
};
use etherparse::{PacketBuilder, TcpOptionElement};

/// An Ethernet + IPv4 + UDP frame of `len` bytes.
fn udp_frame(len: usize) -> Vec<u8> {
    let payload = vec![0x5a; len - 14 - 20 - 8];
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 1, 0, 1], 64)
        .udp(40000, 4789)
        .write(&mut out, &payload)
        .unwrap();
    out
}

fn short_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group
}

fn per_packet(c: &mut Criterion) {
    let mut group = short_group(c, "wire/per_packet");
    group.throughput(Throughput::Elements(1));
    let hasher = FlowHasher::default();
    let (next_hop, ours) = (MacAddr([2, 0, 0, 0, 2, 1]), MacAddr([2, 0, 0, 0, 1, 2]));
    let mut buf = PacketBuf::new();
    for len in [64usize, 1400] {
        let frame = udp_frame(len);
        group.bench_with_input(
            BenchmarkId::new("baseline_copy", len),
            &frame,
            |b, frame| {
                b.iter(|| {
                    buf.load(black_box(frame), PacketBuf::DEFAULT_HEADROOM)
                        .unwrap()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("baseline_etherparse_sliced", len),
            &frame,
            |b, frame| {
                b.iter(|| {
                    etherparse::SlicedPacket::from_ethernet(black_box(frame))
                        .unwrap()
                        .net
                        .is_some()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("copy_validate_ttl_l2rewrite", len),
            &frame,
            |b, frame| {
                b.iter(|| {
                    buf.load(black_box(frame), PacketBuf::DEFAULT_HEADROOM)
                        .unwrap();
                    let bytes = buf.as_mut_slice();
                    EthernetHeader::parse(bytes).unwrap();
                    let mut ip =
                        Ipv4Packet::new_checked(&mut bytes[ETHERNET_HEADER_LEN..]).unwrap();
                    ip.decrement_ttl().unwrap();
                    rewrite_macs(bytes, next_hop, ours).unwrap();
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("flow_key_and_hash", len),
            &frame,
            |b, frame| {
                b.iter(|| {
                    let ip =
                        IpPacket::new_checked(&black_box(frame)[ETHERNET_HEADER_LEN..]).unwrap();
                    hasher.hash(&FlowKey::from_packet(&ip))
                })
            },
        );
    }
    group.finish();
}

fn checksums(c: &mut Criterion) {
    let mut group = short_group(c, "wire/checksum");
    group.throughput(Throughput::Elements(1));
    let mut packet = udp_frame(64)[ETHERNET_HEADER_LEN..].to_vec();
    group.bench_function("ipv4_header_full_recompute", |b| {
        b.iter(|| {
            let mut ip = Ipv4Packet::new_checked_ignoring_checksum(&mut packet[..]).unwrap();
            ip.fill_checksum();
        })
    });
    group.bench_function("ipv4_ttl_incremental", |b| {
        b.iter(|| {
            let mut ip = Ipv4Packet::new_checked_ignoring_checksum(&mut packet[..]).unwrap();
            ip.set_ttl(black_box(63));
        })
    });
    let mut syn = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 0, 1], 64)
        .tcp(40000, 443, 1, 65535)
        .syn()
        .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
        .unwrap()
        .write(&mut syn, &[])
        .unwrap();
    group.bench_function("copy_and_mss_clamp_syn", |b| {
        b.iter(|| {
            let mut copy = [0u8; 64];
            copy[..syn.len()].copy_from_slice(&syn);
            let mut ip = IpPacket::new_checked(&mut copy[..syn.len()]).unwrap();
            clamp_tcp_mss(&mut ip, black_box(1350))
        })
    });
    group.finish();
}

fn capture_io(c: &mut Criterion) {
    const FRAMES: usize = 10_000;
    let mut group = short_group(c, "capture");
    group.throughput(Throughput::Elements(FRAMES as u64));
    let mut buf = PacketBuf::new();
    for len in [64usize, 1400] {
        let frame = udp_frame(len);
        let mut writer =
            PcapFileWriter::from_writer("bench.pcap", Vec::new(), LinkType::Ethernet).unwrap();
        for i in 0..FRAMES as u64 {
            writer.write_frame(i * 1000, &frame).unwrap();
        }
        let file = writer.into_inner().unwrap();
        let mut copy = vec![0u8; file.len()];
        group.bench_with_input(
            BenchmarkId::new("baseline_memcpy_file", len),
            &file,
            |b, file| b.iter(|| copy.copy_from_slice(black_box(file))),
        );
        group.bench_with_input(
            BenchmarkId::new("read_into_packetbuf", len),
            &file,
            |b, file| {
                b.iter(|| {
                    let mut reader =
                        CaptureReader::from_reader("bench.pcap", Cursor::new(&file[..]), None)
                            .unwrap();
                    let mut frames = 0;
                    while reader.next_frame(&mut buf).unwrap().is_some() {
                        frames += 1;
                    }
                    frames
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("pcap_file_reader", len),
            &file,
            |b, file| {
                b.iter(|| {
                    let mut reader = pcap_file::pcap::PcapReader::new(&file[..]).unwrap();
                    let mut frames = 0;
                    while let Some(packet) = reader.next_raw_packet() {
                        black_box(packet.unwrap());
                        frames += 1;
                    }
                    frames
                })
            },
        );
        let mut out = Vec::with_capacity(file.len());
        group.bench_with_input(BenchmarkId::new("write_pcap", len), &frame, |b, frame| {
            b.iter(|| {
                out.clear();
                let mut writer =
                    PcapFileWriter::from_writer("bench.pcap", &mut out, LinkType::Ethernet)
                        .unwrap();
                for i in 0..FRAMES as u64 {
                    writer.write_frame(i, black_box(frame)).unwrap();
                }
                writer.finish().unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_packet, checksums, capture_io);
criterion_main!(benches);
