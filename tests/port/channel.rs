//! Ports without devices: channel pairs (order, batching, timeouts, limits,
//! disconnects), the pcap capture wrapper, and the attach loop (PortSet)
//! bridging two channel links until shutdown.

use crate::support;

use std::thread;
use std::time::{Duration, Instant};

use erdp::driver::PortSet;
use erdp::packet::PacketBuf;
use erdp::port::{
    ChannelPort, ChannelPortConfig, Port, PortError, RecordDirection, RecordingPort, Shutdown,
};
use erdp::wire::MacAddr;
use support::capture::{TempDir, read_all};
use support::port::{numbered_frame, receive_numbered, seq_of};

const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xa]);
const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xb]);

fn frame(seq: u32) -> Vec<u8> {
    numbered_frame(A, B, seq, 60 + (seq as usize % 900))
}

#[test]
fn frames_cross_in_order_in_batches_no_larger_than_the_buffers() {
    let (mut a, mut b) = ChannelPort::pair("a", "b", ChannelPortConfig::default());
    let sent: Vec<Vec<u8>> = (0..100).map(frame).collect();
    for bytes in &sent {
        a.send(bytes).unwrap();
    }
    let mut bufs = vec![PacketBuf::new(); 16];
    let mut received = Vec::new();
    loop {
        let got = b.recv_batch(&mut bufs, Duration::ZERO).unwrap();
        assert!(got <= 16);
        if got == 0 {
            break;
        }
        for buf in &bufs[..got] {
            assert_eq!(buf.headroom(), erdp::port::RX_HEADROOM);
            received.push(buf.as_slice().to_vec());
        }
    }
    assert_eq!(received, sent);
    let (tx, rx) = (a.counters(), b.counters());
    assert_eq!(tx.tx_packets, 100);
    assert_eq!(rx.rx_packets, 100);
    let bytes: u64 = sent.iter().map(|f| f.len() as u64).sum();
    assert_eq!((tx.tx_bytes, rx.rx_bytes), (bytes, bytes));
}

#[test]
fn receive_waits_for_the_first_frame_at_most_the_timeout() {
    let (mut a, mut b) = ChannelPort::pair("a", "b", ChannelPortConfig::default());
    let mut bufs = vec![PacketBuf::new(); 4];
    let started = Instant::now();
    assert_eq!(
        b.recv_batch(&mut bufs, Duration::from_millis(40)).unwrap(),
        0
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(40), "{waited:?}");

    // A frame that arrives while waiting ends the wait early.
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        a.send(&frame(7)).unwrap();
        a
    });
    let got = b.recv_batch(&mut bufs, Duration::from_secs(10)).unwrap();
    assert_eq!(got, 1);
    assert_eq!(seq_of(bufs[0].as_slice()), Some(7));
    drop(sender.join().unwrap());
}

#[test]
fn a_full_queue_refuses_and_send_batch_goes_on() {
    let config = ChannelPortConfig {
        capacity: 2,
        mtu: 1500,
    };
    let (mut a, mut b) = ChannelPort::pair("a", "b", config);
    let mut batch = vec![PacketBuf::new(); 4];
    for (seq, buf) in batch.iter_mut().enumerate() {
        buf.load(&frame(seq as u32), 0).unwrap();
    }
    let outcome = a.send_batch(&batch);
    assert_eq!((outcome.sent, outcome.failed), (2, 2));
    let error = outcome.first_error.unwrap();
    assert!(
        matches!(error, PortError::QueueFull { capacity: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("port a"), "{error}");
    assert_eq!(a.counters().tx_errors, 2);
    assert_eq!(
        receive_numbered(&mut b, 2, Duration::from_secs(1)),
        vec![0, 1]
    );
}

#[test]
fn frames_over_the_mtu_are_refused() {
    let (mut a, _b) = ChannelPort::pair("a", "b", ChannelPortConfig::default());
    a.send(&vec![0; 1514]).unwrap();
    let error = a.send(&vec![0; 1515]).unwrap_err();
    assert!(
        matches!(
            error,
            PortError::FrameTooLarge {
                len: 1515,
                max: 1514,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(a.counters().tx_errors, 1);
    assert_eq!(a.counters().tx_packets, 1);
}

#[test]
fn a_frame_too_big_for_the_buffer_is_dropped_with_a_reason() {
    let (mut a, mut b) = ChannelPort::pair("a", "b", ChannelPortConfig::default());
    a.send(&frame(1)).unwrap();
    a.send(&vec![0; 1500]).unwrap();
    a.send(&frame(2)).unwrap();
    let mut small = vec![PacketBuf::with_capacity(erdp::port::RX_HEADROOM + 1000, 0); 4];
    let got = b.recv_batch(&mut small, Duration::ZERO).unwrap();
    assert_eq!(got, 2);
    assert_eq!(seq_of(small[1].as_slice()), Some(2));
    let counters = b.counters();
    assert_eq!(counters.rx_dropped.no_room, 1);
    assert_eq!(counters.rx_seen(), 3);
}

#[test]
fn a_vanished_peer_is_fatal_after_the_last_frames() {
    let (mut a, mut b) = ChannelPort::pair("a", "b", ChannelPortConfig::default());
    a.send(&frame(1)).unwrap();
    drop(a);
    let mut bufs = vec![PacketBuf::new(); 4];
    assert_eq!(b.recv_batch(&mut bufs, Duration::ZERO).unwrap(), 1);
    let error = b.recv_batch(&mut bufs, Duration::ZERO).unwrap_err();
    assert!(error.is_fatal(), "{error}");
    let error = b.send(&frame(2)).unwrap_err();
    assert!(matches!(error, PortError::Disconnected { .. }), "{error}");
}

#[test]
fn capture_writes_both_directions_in_order() {
    let dir = TempDir::new("port-capture");
    let (a, mut b) = ChannelPort::pair("lan", "peer", ChannelPortConfig::default());
    let path = dir.path("lan.pcap");
    let mut captured = RecordingPort::create(a, &path, RecordDirection::Both).unwrap();
    captured.send(&frame(1)).unwrap();
    b.send(&frame(2)).unwrap();
    let mut bufs = vec![PacketBuf::new(); 4];
    assert_eq!(captured.recv_batch(&mut bufs, Duration::ZERO).unwrap(), 1);
    captured.send(&frame(3)).unwrap();
    // A frame that is refused is not captured.
    assert!(captured.send(&vec![0; 2000]).is_err());
    assert_eq!(captured.name(), "lan");
    assert_eq!(captured.counters().tx_packets, 2);
    let (_port, frames) = captured.finish().unwrap();
    assert_eq!(frames, 3);

    let bytes = std::fs::read(&path).unwrap();
    let records = read_all(&bytes).unwrap();
    let seqs: Vec<Option<u32>> = records.iter().map(|(_, f)| seq_of(f)).collect();
    assert_eq!(seqs, vec![Some(1), Some(2), Some(3)]);
    assert_eq!(records[0].1, frame(1));
    let stamps: Vec<u64> = records.iter().map(|(meta, _)| meta.timestamp_ns).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    assert!(
        stamps[0] > 1_600_000_000_000_000_000,
        "wall-clock nanoseconds"
    );
}

#[test]
fn capture_direction_filters() {
    let dir = TempDir::new("port-capture-direction");
    for (direction, expected) in [
        (RecordDirection::Rx, vec![Some(2)]),
        (RecordDirection::Tx, vec![Some(1)]),
    ] {
        let (a, mut b) = ChannelPort::pair("lan", "peer", ChannelPortConfig::default());
        let path = dir.path(&format!("{direction:?}.pcap"));
        let mut captured = RecordingPort::create(a, &path, direction).unwrap();
        captured.send(&frame(1)).unwrap();
        b.send(&frame(2)).unwrap();
        let mut bufs = vec![PacketBuf::new(); 4];
        assert_eq!(captured.recv_batch(&mut bufs, Duration::ZERO).unwrap(), 1);
        captured.finish().unwrap();
        let records = read_all(&std::fs::read(&path).unwrap()).unwrap();
        let seqs: Vec<Option<u32>> = records.iter().map(|(_, f)| seq_of(f)).collect();
        assert_eq!(seqs, expected, "{direction:?}");
    }
}

#[test]
fn capture_failures_are_counted_and_forwarding_goes_on() {
    // Every Linux system has /dev/full (writes fail with ENOSPC).
    assert!(
        std::path::Path::new("/dev/full").exists(),
        "needs /dev/full"
    );
    let (a, mut b) = ChannelPort::pair("lan", "peer", ChannelPortConfig::default());
    let mut captured = RecordingPort::create(a, "/dev/full", RecordDirection::Both).unwrap();
    // Enough bytes to overflow the writer's buffer, so writes reach the disk.
    for seq in 0..400 {
        captured.send(&numbered_frame(A, B, seq, 1400)).unwrap();
        let mut bufs = vec![PacketBuf::new(); 1];
        b.recv_batch(&mut bufs, Duration::ZERO).unwrap();
    }
    assert_eq!(captured.counters().tx_packets, 400);
    assert!(captured.capture_errors() > 0);
    let Err(error) = captured.finish() else {
        panic!("finish must report the capture failure");
    };
    assert!(matches!(error, PortError::Capture { .. }), "{error}");
    assert!(error.to_string().contains("lan"), "{error}");
}

#[test]
fn closing_the_set_finishes_captures_and_reports_failures() {
    let dir = TempDir::new("port-close");
    let (good, mut good_peer) = ChannelPort::pair("good", "peer", ChannelPortConfig::default());
    let (bad, _bad_peer) = ChannelPort::pair("bad", "peer", ChannelPortConfig::default());
    let mut ports = PortSet::new(4, Duration::from_millis(5));
    let path = dir.path("good.pcap");
    ports.add(Box::new(
        RecordingPort::create(good, &path, RecordDirection::Both).unwrap(),
    ));
    if std::path::Path::new("/dev/full").exists() {
        ports.add(Box::new(
            RecordingPort::create(bad, "/dev/full", RecordDirection::Both).unwrap(),
        ));
    }
    good_peer.send(&frame(5)).unwrap();
    let mut bufs = vec![PacketBuf::new(); 4];
    assert_eq!(
        ports.ports_mut()[0]
            .recv_batch(&mut bufs, Duration::ZERO)
            .unwrap(),
        1
    );

    let errors = ports.close();
    if ports.ports().len() == 2 {
        // /dev/full takes the buffered header and frames only at the flush.
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].to_string().contains("port bad"), "{}", errors[0]);
    }
    let records = read_all(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(seq_of(&records[0].1), Some(5));
    // The ports still carry frames once their captures are closed.
    good_peer.send(&frame(6)).unwrap();
    assert_eq!(
        ports.ports_mut()[0]
            .recv_batch(&mut bufs, Duration::ZERO)
            .unwrap(),
        1
    );
    assert!(
        ports.close().is_empty(),
        "a second close has nothing left to report"
    );
}

#[test]
fn the_loop_bridges_two_links_until_shutdown() {
    // host_a <-> lan ==[PortSet bridge]== wan <-> host_b
    let (lan, mut host_a) = ChannelPort::pair("lan", "host-a", ChannelPortConfig::default());
    let (wan, mut host_b) = ChannelPort::pair("wan", "host-b", ChannelPortConfig::default());
    let mut ports = PortSet::new(32, Duration::from_millis(5));
    assert_eq!(ports.add(Box::new(lan)), 0);
    assert_eq!(ports.add(Box::new(wan)), 1);
    assert_eq!(ports.index_of("wan"), Some(1));

    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    let loop_thread = thread::spawn(move || {
        let mut bridge = |ingress: usize, frames: &mut [PacketBuf], ports: &mut [Box<dyn Port>]| {
            let egress = &mut ports[1 - ingress];
            for frame in frames.iter() {
                egress.send(frame.as_slice()).unwrap();
            }
        };
        let summary = ports.run(&shutdown, &mut bridge).unwrap();
        (summary, ports.counters())
    });

    for seq in 0..300 {
        host_a.send(&frame(seq)).unwrap();
        if seq % 3 == 0 {
            host_b.send(&frame(10_000 + seq)).unwrap();
        }
    }
    let at_b = receive_numbered(&mut host_b, 300, Duration::from_secs(10));
    let at_a = receive_numbered(&mut host_a, 100, Duration::from_secs(10));
    stopper.request();
    let (summary, counters) = loop_thread.join().unwrap();

    assert_eq!(at_b, (0..300).collect::<Vec<_>>());
    assert_eq!(
        at_a,
        (0..300).step_by(3).map(|s| 10_000 + s).collect::<Vec<_>>()
    );
    assert_eq!(summary.frames, 400);
    assert!(
        summary.batches >= 2 && summary.batches <= 400,
        "{summary:?}"
    );
    assert_eq!(counters[0].0, "lan");
    assert_eq!(counters[0].1.rx_packets, 300);
    assert_eq!(counters[0].1.tx_packets, 100);
    assert_eq!(counters[1].1.rx_packets, 100);
    assert_eq!(counters[1].1.tx_packets, 300);
}

#[test]
fn the_loop_stops_when_a_port_is_gone() {
    let (lan, host) = ChannelPort::pair("lan", "host", ChannelPortConfig::default());
    let mut ports = PortSet::new(8, Duration::from_millis(5));
    ports.add(Box::new(lan));
    drop(host);
    let mut ignore = |_: usize, _: &mut [PacketBuf], _: &mut [Box<dyn Port>]| {};
    let error = ports.run(&Shutdown::new(), &mut ignore).unwrap_err();
    assert!(matches!(error, PortError::Disconnected { .. }), "{error}");
}
