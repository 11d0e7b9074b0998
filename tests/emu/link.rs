//! The engine and links with plain test devices: exact serialisation and
//! propagation timing, tail drop, loss, reordering, batching, up/down and
//! flaps, carrier events, commands, captures, and topology errors.

use std::collections::VecDeque;
use std::time::Duration;

use erdp::emu::{
    Action, Arrival, CapturePoint, ChannelConfig, Device, DeviceEvent, DeviceId, EmuError, Flap,
    LinkCapture, LinkConfig, LinkId, PortId, SimTime, Simulator, TxQueue,
};

/// Sends scheduled frames; each frame's first 8 bytes are its number.
struct Blaster {
    sends: VecDeque<(SimTime, PortId, usize)>,
    sent: u64,
}

impl Blaster {
    fn new(sends: impl IntoIterator<Item = (SimTime, PortId, usize)>) -> Self {
        Self {
            sends: sends.into_iter().collect(),
            sent: 0,
        }
    }
}

impl Device for Blaster {
    fn name(&self) -> &str {
        "blaster"
    }
    fn port_count(&self) -> u16 {
        2
    }
    fn receive(&mut self, _now: SimTime, _batch: &mut Vec<Arrival>, _tx: &mut TxQueue<'_>) {}
    fn poll(&mut self, now: SimTime, tx: &mut TxQueue<'_>) {
        while self.sends.front().is_some_and(|(at, _, _)| *at <= now) {
            let Some((_, port, len)) = self.sends.pop_front() else {
                break;
            };
            let mut frame = tx.frame();
            let bytes = frame.push_back(len).unwrap();
            bytes.fill(0xee);
            bytes[..8].copy_from_slice(&self.sent.to_be_bytes());
            self.sent += 1;
            tx.send(port, frame);
        }
    }
    fn next_wakeup(&mut self) -> Option<SimTime> {
        self.sends.front().map(|(at, _, _)| *at)
    }
}

/// Records what arrives, and events.
#[derive(Default)]
struct Sink {
    arrivals: Vec<(SimTime, PortId, u64, usize)>,
    batches: Vec<usize>,
    events: Vec<(SimTime, DeviceEvent)>,
}

impl Device for Sink {
    fn name(&self) -> &str {
        "sink"
    }
    fn port_count(&self) -> u16 {
        2
    }
    fn receive(&mut self, now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        self.batches.push(batch.len());
        for Arrival { port, frame } in batch.drain(..) {
            let number = u64::from_be_bytes(frame.as_slice()[..8].try_into().unwrap());
            self.arrivals.push((now, port, number, frame.len()));
            tx.recycle(frame);
        }
    }
    fn poll(&mut self, _now: SimTime, _tx: &mut TxQueue<'_>) {}
    fn next_wakeup(&mut self) -> Option<SimTime> {
        None
    }
    fn event(&mut self, now: SimTime, event: DeviceEvent, _tx: &mut TxQueue<'_>) {
        self.events.push((now, event));
    }
}

struct Bench {
    sim: Simulator,
    blaster: DeviceId,
    sink: DeviceId,
    link: LinkId,
}

fn setup(
    seed: u64,
    link: LinkConfig,
    sends: impl IntoIterator<Item = (SimTime, PortId, usize)>,
) -> Bench {
    let mut sim = Simulator::new(seed);
    let blaster = sim.add_device(Box::new(Blaster::new(sends)));
    let sink = sim.add_device(Box::new(Sink::default()));
    let link = sim
        .connect((blaster, PortId(0)), (sink, PortId(1)), &link)
        .unwrap();
    Bench {
        sim,
        blaster,
        sink,
        link,
    }
}

fn burst(count: usize, len: usize) -> Vec<(SimTime, PortId, usize)> {
    vec![(SimTime::ZERO, PortId(0), len); count]
}

fn sink(bench: &Bench) -> &Sink {
    bench.sim.device::<Sink>(bench.sink).unwrap()
}

#[test]
fn frames_are_serialised_back_to_back_then_delayed() {
    // 1000 bytes at 8 Mbit/s: 1 ms each on the wire, then 5 ms of propagation.
    let channel = ChannelConfig::default()
        .rate_bps(8_000_000)
        .delay(Duration::from_millis(5));
    let mut bench = setup(1, LinkConfig::symmetric("l", channel), burst(3, 1000));
    bench.sim.run_until(SimTime::from_secs(1));
    let times: Vec<_> = sink(&bench)
        .arrivals
        .iter()
        .map(|a| (a.0.as_nanos(), a.1, a.2, a.3))
        .collect();
    assert_eq!(
        times,
        vec![
            (6_000_000, PortId(1), 0, 1000),
            (7_000_000, PortId(1), 1, 1000),
            (8_000_000, PortId(1), 2, 1000)
        ]
    );
    assert_eq!(bench.sim.now(), SimTime::from_secs(1));
}

#[test]
fn a_full_queue_tail_drops_and_counts() {
    let channel = ChannelConfig::default().rate_bps(8_000_000).queue_limit(2);
    let mut bench = setup(1, LinkConfig::symmetric("l", channel), burst(5, 1000));
    bench.sim.run_until(SimTime::from_secs(1));
    let numbers: Vec<_> = sink(&bench).arrivals.iter().map(|a| a.2).collect();
    assert_eq!(numbers, vec![0, 1]);
    let report = bench.sim.link_report(bench.link).unwrap();
    assert_eq!(report.a_to_b.dropped.queue_full, 3);
    assert_eq!(report.a_to_b.max_queue_depth, 2);
    assert!(report.a_to_b.is_conserved());
}

#[test]
fn frames_landing_at_one_instant_come_as_one_batch() {
    let mut bench = setup(
        1,
        LinkConfig::symmetric(
            "l",
            ChannelConfig::default().delay(Duration::from_millis(1)),
        ),
        burst(4, 64),
    );
    bench.sim.run_until(SimTime::from_secs(1));
    assert_eq!(sink(&bench).batches, vec![4]);
    assert_eq!(bench.sim.stats().batches, 1);
    assert_eq!(bench.sim.stats().frames_delivered, 4);
}

#[test]
fn loss_is_near_its_probability_and_fixed_by_the_seed() {
    let run = |seed| {
        let channel = ChannelConfig::default().loss(0.1);
        let sends = (0..10_000u64).map(|i| (SimTime::from_micros(i), PortId(0), 100));
        let mut bench = setup(seed, LinkConfig::symmetric("l", channel), sends);
        bench.sim.run_until(SimTime::from_secs(1));
        let report = bench.sim.link_report(bench.link).unwrap();
        assert!(report.a_to_b.is_conserved());
        assert_eq!(
            report.a_to_b.delivered_frames as usize,
            sink(&bench).arrivals.len()
        );
        report.a_to_b.dropped.random_loss
    };
    let lost = run(5);
    assert!((900..1100).contains(&lost), "{lost} of 10000 at p=0.1");
    assert_eq!(run(5), lost);
    assert_ne!(run(6), lost);
}

#[test]
fn reordering_lets_later_frames_overtake() {
    let channel = ChannelConfig::default()
        .delay(Duration::from_millis(1))
        .reorder(0.3, Duration::from_millis(3));
    let sends = (0..1000u64).map(|i| (SimTime::from_micros(100 * i), PortId(0), 100));
    let mut bench = setup(9, LinkConfig::symmetric("l", channel), sends);
    bench.sim.run_until(SimTime::from_secs(1));
    let report = bench.sim.link_report(bench.link).unwrap();
    let numbers: Vec<_> = sink(&bench).arrivals.iter().map(|a| a.2).collect();
    assert_eq!(numbers.len(), 1000, "reordering loses nothing");
    let overtaken = numbers.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(
        report.a_to_b.reordered > 200 && report.a_to_b.reordered < 400,
        "{report:#?}"
    );
    assert!(
        overtaken > 100,
        "{overtaken} frames arrived after a later one"
    );
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
}

#[test]
fn a_down_link_loses_frames_in_flight_and_sent_meanwhile() {
    // One frame each millisecond for 100 ms over a 10 ms link; down from 30 to 60 ms.
    let channel = ChannelConfig::default().delay(Duration::from_millis(10));
    let sends = (0..100u64).map(|i| (SimTime::from_millis(i), PortId(0), 100));
    let config = LinkConfig::symmetric("l", channel).report_carrier(true);
    let mut bench = setup(1, config, sends);
    bench
        .sim
        .schedule(SimTime::from_millis(30), Action::LinkDown(bench.link))
        .unwrap();
    bench
        .sim
        .schedule(SimTime::from_millis(60), Action::LinkUp(bench.link))
        .unwrap();
    bench
        .sim
        .schedule(SimTime::from_millis(61), Action::LinkUp(bench.link))
        .unwrap();
    bench.sim.run_until(SimTime::from_secs(1));
    let report = bench.sim.link_report(bench.link).unwrap();
    let numbers: Vec<_> = sink(&bench).arrivals.iter().map(|a| a.2).collect();
    // Sent at 20..29 ms were in flight at 30 ms; 30..59 ms were sent while down.
    let expected: Vec<u64> = (0..20).chain(60..100).collect();
    assert_eq!(numbers, expected);
    assert_eq!(report.a_to_b.dropped.link_down, 40);
    assert!(report.a_to_b.is_conserved());
    assert_eq!(
        (report.downs, report.down_time_ns, report.up),
        (1, 30_000_000, true)
    );
    let log = bench.sim.action_log();
    assert_eq!(log.len(), 3);
    assert!(
        log[0].changed && log[1].changed && !log[2].changed,
        "{log:?}"
    );
    let events = &sink(&bench).events;
    assert_eq!(
        events,
        &vec![
            (SimTime::from_millis(30), DeviceEvent::PortDown(PortId(1))),
            (SimTime::from_millis(60), DeviceEvent::PortUp(PortId(1))),
        ]
    );
}

#[test]
fn a_flap_goes_down_and_up_on_schedule_and_commands_reach_devices() {
    let mut bench = setup(1, LinkConfig::symmetric("l", ChannelConfig::default()), []);
    let flap = Flap {
        link: bench.link,
        first_down: SimTime::from_secs(1),
        down_for: Duration::from_millis(200),
        up_for: Duration::from_millis(800),
        count: 3,
    };
    bench.sim.schedule_flap(&flap).unwrap();
    bench
        .sim
        .schedule(
            SimTime::from_secs(2),
            Action::Command {
                device: bench.sink,
                command: 7,
            },
        )
        .unwrap();
    bench
        .sim
        .run_until(SimTime::from_secs(2) + Duration::from_millis(100));
    let report = bench.sim.link_report(bench.link).unwrap();
    // Down at 1.0 s and 2.0 s (the third, at 3.0 s, is after the run).
    assert_eq!(report.downs, 2);
    assert!(!report.up, "down again since 2.0 s");
    // One full outage of 200 ms and the current one of 100 ms.
    assert_eq!(report.down_time_ns, 300_000_000);
    assert_eq!(
        sink(&bench).events,
        vec![(SimTime::from_secs(2), DeviceEvent::Command(7))]
    );
    assert_eq!(
        bench.sim.action_log().len(),
        4,
        "three flap actions and the command so far"
    );
}

#[test]
fn captures_hold_what_crossed_at_virtual_times() {
    let dir = std::env::temp_dir().join(format!("erdp-emu-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let channel = ChannelConfig::default()
        .rate_bps(8_000_000)
        .delay(Duration::from_millis(5))
        .loss(0.3);
    let sends = (0..50u64).map(|i| (SimTime::from_millis(2 * i), PortId(0), 1000));
    let mut bench = setup(
        3,
        LinkConfig::symmetric("l", channel.clone()),
        sends.clone(),
    );
    let rx_path = dir.join("rx.pcap");
    bench
        .sim
        .capture(
            bench.link,
            LinkCapture::create(&rx_path, CapturePoint::Receive).unwrap(),
        )
        .unwrap();
    bench.sim.run_until(SimTime::from_secs(1));
    let mut tx_bench = setup(3, LinkConfig::symmetric("l", channel), sends);
    let tx_path = dir.join("tx.pcap");
    tx_bench
        .sim
        .capture(
            tx_bench.link,
            LinkCapture::create(&tx_path, CapturePoint::Transmit).unwrap(),
        )
        .unwrap();
    tx_bench.sim.run_until(SimTime::from_secs(1));

    let arrivals = sink(&bench).arrivals.clone();
    let written = bench.sim.finish_captures();
    assert_eq!(written.len(), 1);
    assert_eq!(*written[0].1.as_ref().unwrap(), arrivals.len() as u64);
    let mut reader =
        pcap_file::pcap::PcapReader::new(std::fs::File::open(&rx_path).unwrap()).unwrap();
    assert_eq!(reader.header().datalink, pcap_file::DataLink::ETHERNET);
    let mut seen = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        let number = u64::from_be_bytes(packet.data[..8].try_into().unwrap());
        seen.push((
            SimTime::from_nanos(packet.timestamp.as_nanos() as u64),
            number,
        ));
    }
    let expected: Vec<_> = arrivals.iter().map(|a| (a.0, a.2)).collect();
    assert_eq!(
        seen, expected,
        "the receive capture is exactly what arrived, when it arrived"
    );
    assert!(seen.len() < 50, "losses do not appear");

    // The transmit capture also has the frames the wire lost, at send time.
    let tx_frames = *tx_bench.sim.finish_captures()[0].1.as_ref().unwrap();
    assert_eq!(tx_frames, 50);
    let mut reader =
        pcap_file::pcap::PcapReader::new(std::fs::File::open(&tx_path).unwrap()).unwrap();
    let first = reader.next_packet().unwrap().unwrap();
    assert_eq!(first.timestamp, Duration::ZERO);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_capture_writer_reports_its_error_and_the_run_goes_on() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > 20 {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(buf.len())
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut bench = setup(
        1,
        LinkConfig::symmetric("l", ChannelConfig::default()),
        burst(3, 100),
    );
    let capture = LinkCapture::new(Box::new(Broken), "broken", CapturePoint::Receive).unwrap();
    bench.sim.capture(bench.link, capture).unwrap();
    bench.sim.run_until(SimTime::from_secs(1));
    assert_eq!(sink(&bench).arrivals.len(), 3);
    let result = bench.sim.finish_captures().remove(0).1;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("broken") && error.contains("disk full"),
        "{error}"
    );
}

#[test]
fn frames_sent_on_a_port_without_a_link_are_counted() {
    let sends = [
        (SimTime::ZERO, PortId(1), 60),
        (SimTime::ZERO, PortId(9), 60),
        (SimTime::ZERO, PortId(0), 60),
    ];
    let mut bench = setup(
        1,
        LinkConfig::symmetric("l", ChannelConfig::default()),
        sends,
    );
    bench.sim.run_until(SimTime::from_secs(1));
    let stats = bench.sim.device_stats(bench.blaster).unwrap();
    assert_eq!((stats.frames_out, stats.unlinked_drops), (1, 2));
    assert_eq!(sink(&bench).arrivals.len(), 1);
}

#[test]
fn topology_mistakes_are_errors_that_say_what() {
    let mut bench = setup(1, LinkConfig::symmetric("l", ChannelConfig::default()), []);
    let (blaster, sink) = (bench.blaster, bench.sink);
    let plain = LinkConfig::symmetric("m", ChannelConfig::default());
    let err = bench
        .sim
        .connect((blaster, PortId(0)), (sink, PortId(0)), &plain)
        .unwrap_err();
    assert!(matches!(err, EmuError::PortInUse { .. }), "{err}");
    assert!(
        err.to_string().contains("blaster") && err.to_string().contains("link l"),
        "{err}"
    );
    let err = bench
        .sim
        .connect((blaster, PortId(5)), (sink, PortId(0)), &plain)
        .unwrap_err();
    assert_eq!(err.to_string(), "device blaster has 2 ports, no port 5");
    let err = bench
        .sim
        .connect((DeviceId(9), PortId(0)), (sink, PortId(0)), &plain)
        .unwrap_err();
    assert!(matches!(err, EmuError::UnknownDevice(DeviceId(9))));
    let same_name = LinkConfig::symmetric("l", ChannelConfig::default());
    let err = bench
        .sim
        .connect((blaster, PortId(1)), (sink, PortId(0)), &same_name)
        .unwrap_err();
    assert!(matches!(err, EmuError::DuplicateLinkName(_)), "{err}");
    let bad = LinkConfig::symmetric("n", ChannelConfig::default().loss(2.0));
    let err = bench
        .sim
        .connect((blaster, PortId(1)), (sink, PortId(0)), &bad)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "link n: link direction a_to_b, field loss: 2 is not a probability in [0, 1]"
    );
    assert!(
        bench
            .sim
            .schedule(SimTime::ZERO, Action::LinkDown(LinkId(4)))
            .is_err()
    );
    bench.sim.run_until(SimTime::from_secs(1));
    let err = bench
        .sim
        .schedule(SimTime::ZERO, Action::LinkDown(bench.link))
        .unwrap_err();
    assert!(err.to_string().contains("in the past"), "{err}");
    assert_eq!(bench.sim.link_by_name("l"), Some(bench.link));
}
