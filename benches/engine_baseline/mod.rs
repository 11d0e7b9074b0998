//! The bare engine as a baseline for the emulator benchmarks: two devices
//! joined by one 10 Gbit/s, 10 us link, bouncing 64 frames of 1514 bytes
//! back and forth. Elements are frames delivered across the link.

use std::time::Duration;

use erdp::emu::{Arrival, ChannelConfig, Device, LinkConfig, PortId, SimTime, Simulator, TxQueue};

/// Frames each device receives before it stops sending them back.
const RECEIVED_EACH: u64 = 50_000;

/// Sends `burst` frames at time zero, then sends back every frame it gets
/// until it has received `limit`.
struct Reflector {
    burst: usize,
    received: u64,
    limit: u64,
}

impl Device for Reflector {
    fn name(&self) -> &str {
        "reflector"
    }
    fn port_count(&self) -> u16 {
        1
    }
    fn receive(&mut self, _now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for arrival in batch.drain(..) {
            self.received += 1;
            if self.received < self.limit {
                tx.send(arrival.port, arrival.frame);
            } else {
                tx.recycle(arrival.frame);
            }
        }
    }
    fn poll(&mut self, _now: SimTime, tx: &mut TxQueue<'_>) {
        for _ in 0..std::mem::take(&mut self.burst) {
            let mut frame = tx.frame();
            if let Ok(bytes) = frame.push_back(1514) {
                bytes.fill(0x5a);
            }
            tx.send(PortId(0), frame);
        }
    }
    fn next_wakeup(&mut self) -> Option<SimTime> {
        (self.burst > 0).then_some(SimTime::ZERO)
    }
}

/// The two reflectors and their link, ready to run.
pub fn reflect_sim() -> Simulator {
    let mut sim = Simulator::new(1);
    let reflector = |burst| Reflector {
        burst,
        received: 0,
        limit: RECEIVED_EACH,
    };
    let a = sim.add_device(Box::new(reflector(64)));
    let b = sim.add_device(Box::new(reflector(0)));
    let channel = ChannelConfig::default()
        .rate_bps(10_000_000_000)
        .delay(Duration::from_micros(10));
    if let Err(e) = sim.connect(
        (a, PortId(0)),
        (b, PortId(0)),
        &LinkConfig::symmetric("a-b", channel),
    ) {
        panic!("link: {e}");
    }
    sim
}

/// Runs until nothing is left to do; returns the frames delivered.
pub fn run_to_end(mut sim: Simulator) -> u64 {
    sim.run_until(SimTime::MAX);
    sim.stats().frames_delivered
}
