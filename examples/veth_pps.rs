//! A traffic generator across a veth pair, to measure frames per second
//! through AF_PACKET ports: one thread sends as fast as it can for a few
//! seconds, another receives and counts. Runs each backend and, as the
//! baseline in the same run, pnet's raw channel. Root only; all traffic
//! stays in two network namespaces made here and removed at the end.
//!
//! `cargo run --release --example veth_pps -- [SECONDS] [FRAME_LEN]`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use erdp::packet::PacketBuf;
use erdp::port::netns::is_root;
use erdp::port::{AfPacketBackend, Port};

#[path = "../benches/support/veth.rs"]
mod veth;
use veth::{Veth, open_port, open_raw_pnet, udp_frame};

struct Rates {
    sent: u64,
    received: u64,
    seconds: f64,
}

impl Rates {
    fn print(&self, name: &str) {
        let loss = if self.sent == 0 {
            0.0
        } else {
            100.0 * (self.sent.saturating_sub(self.received)) as f64 / self.sent as f64
        };
        println!(
            "{name:>16}: tx {:>9.0} frames/s  rx {:>9.0} frames/s  (sent {}, received {}, lost {loss:.1}%)",
            self.sent as f64 / self.seconds,
            self.received as f64 / self.seconds,
            self.sent,
            self.received,
        );
    }
}

/// Sends with `send` until `duration` passes, while `receive` counts on
/// another thread; both return counts.
fn race(
    duration: Duration,
    mut send: impl FnMut() -> u64 + Send,
    mut receive: impl FnMut() -> u64 + Send,
) -> Rates {
    let stop = Arc::new(AtomicBool::new(false));
    let sending = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let (sent, received) = thread::scope(|scope| {
        let receiver = {
            let sending = sending.clone();
            let stop = stop.clone();
            scope.spawn(move || {
                let mut received = 0;
                let mut idle_since: Option<Instant> = None;
                while !stop.load(Ordering::Relaxed) {
                    let got = receive();
                    received += got;
                    if got > 0 {
                        idle_since = None;
                    } else if !sending.load(Ordering::Relaxed) {
                        let since = *idle_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_millis(200) {
                            break;
                        }
                    }
                }
                received
            })
        };
        let mut sent = 0;
        while started.elapsed() < duration {
            sent += send();
        }
        sending.store(false, Ordering::Relaxed);
        let received = receiver.join().expect("receiver thread");
        stop.store(true, Ordering::Relaxed);
        (sent, received)
    });
    Rates {
        sent,
        received,
        seconds: duration.as_secs_f64(),
    }
}

fn main() {
    if !is_root() {
        eprintln!("veth_pps needs root (network namespaces, veth, AF_PACKET)");
        std::process::exit(2);
    }
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let len: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let duration = Duration::from_secs_f64(seconds);

    let net = Veth::create("pps");
    let bytes = udp_frame(len, net.mac_b);
    println!(
        "UDP frames of {} bytes across a veth pair for {seconds} s per run",
        bytes.len()
    );

    // Baseline: pnet's raw channel.
    let (mut tx, _) = open_raw_pnet(&net.a, "a0", Duration::from_millis(50));
    let (_, mut rx) = open_raw_pnet(&net.b, "b0", Duration::from_millis(50));
    race(
        duration,
        || u64::from(tx.send_to(&bytes, None).is_some_and(|r| r.is_ok())),
        || u64::from(rx.next().is_ok()),
    )
    .print("pnet raw");
    drop((tx, rx));

    for (name, backend) in [
        ("port pnet", AfPacketBackend::Pnet),
        ("port mmsg", AfPacketBackend::Mmsg),
    ] {
        let mut left = open_port(&net.a, "a0", backend, 16 << 20);
        let mut right = open_port(&net.b, "b0", backend, 16 << 20);
        let mut batch = vec![PacketBuf::new(); 64];
        for buf in &mut batch {
            buf.load(&bytes, PacketBuf::DEFAULT_HEADROOM).expect("fits");
        }
        let mut bufs = vec![PacketBuf::new(); 64];
        race(
            duration,
            || left.send_batch(&batch).sent as u64,
            || {
                right
                    .recv_batch(&mut bufs, Duration::from_millis(50))
                    .map_or(0, |n| n as u64)
            },
        )
        .print(name);
    }
}
