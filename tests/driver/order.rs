//! The driver's two orders (src/driver): `ByCause` hands each input frame's
//! fate and then the packets it caused (what a replay writes in input
//! order); `InputsFirst` hands every input, then every generated packet
//! (what ports and emulator links have always been given). A route that
//! swaps a frame out owns it without a copy.

use crate::support;

use std::convert::Infallible;

use erdp::dataplane::{Fate, Outcome};
use erdp::driver::{Driver, FateRoute, Order};
use erdp::packet::PacketBuf;
use support::dataplane::*;

const ONPREM: &str = "design1-onprem-edge.toml";

/// Records every call: ("input" or "generated", index or cause, outcome),
/// and keeps the generated frames it swapped out.
#[derive(Default)]
struct Recorder {
    calls: Vec<(&'static str, usize, Outcome)>,
    kept: Vec<PacketBuf>,
}

impl FateRoute for Recorder {
    type Error = Infallible;

    fn input(&mut self, index: usize, _: &mut PacketBuf, fate: &Fate) -> Result<(), Infallible> {
        self.calls.push(("input", index, fate.outcome));
        Ok(())
    }

    fn generated(
        &mut self,
        cause: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), Infallible> {
        self.calls.push(("generated", cause, fate.outcome));
        let mut mine = PacketBuf::new();
        std::mem::swap(frame, &mut mine);
        self.kept.push(mine);
        Ok(())
    }
}

/// Three frames from the on-premises host: TTL 1 (dropped, an ICMP time
/// exceeded generated), then two that are forwarded.
fn frames() -> Vec<PacketBuf> {
    [1u8, 64, 64]
        .iter()
        .map(|&ttl| {
            let frame = udp4(
                ONPREM_LAN_MAC,
                ONPREM_HOST_MAC,
                "10.0.1.10",
                "10.100.255.9",
                ttl,
                30,
            );
            let mut buf = PacketBuf::new();
            buf.load(&frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
            buf
        })
        .collect()
}

fn drive(order: Order) -> Recorder {
    let node = node_from_toml(&sample_text(ONPREM));
    let lan = node.interface_id("lan").unwrap();
    let er = node.interface_id("er").unwrap();
    let mut driver = Driver::new(node.worker(), 4, order);
    let mut route = Recorder::default();
    let mut batch = frames();
    let Ok(()) = driver.drive(lan, &mut batch, &mut route);
    assert!(matches!(route.calls[0].2, Outcome::Dropped(_)));
    for (kind, _, outcome) in &route.calls {
        if *kind == "generated" {
            assert_eq!(*outcome, Outcome::Forwarded(lan), "the error goes back");
        }
    }
    assert_eq!(
        route
            .calls
            .iter()
            .filter(|c| c.2 == Outcome::Forwarded(er))
            .count(),
        2
    );
    route
}

#[test]
fn by_cause_puts_each_generated_packet_after_its_input() {
    let route = drive(Order::ByCause);
    let order: Vec<(&str, usize)> = route.calls.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        order,
        [("input", 0), ("generated", 0), ("input", 1), ("input", 2)]
    );
}

#[test]
fn inputs_first_puts_generated_packets_after_every_input() {
    let route = drive(Order::InputsFirst);
    let order: Vec<(&str, usize)> = route.calls.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        order,
        [("input", 0), ("input", 1), ("input", 2), ("generated", 0)]
    );
    // The swapped-out ICMP error is whole: an IPv4 packet after Ethernet.
    let error = route.kept[0].as_slice();
    assert_eq!(&error[12..14], &[0x08, 0x00]);
    assert_eq!(error[14 + 9], 1, "ICMP");
}
