//! Azure's VNet fragmentation on an emulated link. Microsoft's page
//! "Virtual network TCP/IP performance tuning" says Azure fragments packets
//! larger than 1,400 bytes and drops fragments that arrive out of order
//! (reassembly of out-of-order fragments is an opt-in): Azure-side links do
//! both by default, and the opt-in delivers out-of-order fragments.

use std::collections::VecDeque;

use erdp::emu::link::{AZURE_FRAGMENT_ABOVE, AzureFragmentation};
use erdp::emu::{
    Arrival, ChannelConfig, Device, LinkConfig, LinkId, PortId, SimTime, Simulator, TxQueue,
};
use erdp::wire::{Ipv4Fragmenter, checksum::internet_checksum};
use etherparse::Ipv4HeaderSlice;

/// Sends the given Ethernet frames at time zero, in order.
struct Sender(VecDeque<Vec<u8>>);

impl Device for Sender {
    fn name(&self) -> &str {
        "sender"
    }
    fn port_count(&self) -> u16 {
        1
    }
    fn receive(&mut self, _now: SimTime, _batch: &mut Vec<Arrival>, _tx: &mut TxQueue<'_>) {}
    fn poll(&mut self, _now: SimTime, tx: &mut TxQueue<'_>) {
        while let Some(bytes) = self.0.pop_front() {
            let mut frame = tx.frame();
            frame
                .push_back(bytes.len())
                .unwrap()
                .copy_from_slice(&bytes);
            tx.send(PortId(0), frame);
        }
    }
    fn next_wakeup(&mut self) -> Option<SimTime> {
        (!self.0.is_empty()).then_some(SimTime::from_nanos(0))
    }
}

/// Keeps what arrives.
#[derive(Default)]
struct Receiver(Vec<Vec<u8>>);

impl Device for Receiver {
    fn name(&self) -> &str {
        "receiver"
    }
    fn port_count(&self) -> u16 {
        1
    }
    fn receive(&mut self, _now: SimTime, batch: &mut Vec<Arrival>, tx: &mut TxQueue<'_>) {
        for arrival in batch.drain(..) {
            self.0.push(arrival.frame.as_slice().to_vec());
            tx.recycle(arrival.frame);
        }
    }
    fn poll(&mut self, _now: SimTime, _tx: &mut TxQueue<'_>) {}
    fn next_wakeup(&mut self) -> Option<SimTime> {
        None
    }
}

/// An Ethernet frame with an IPv4 packet of `total` bytes, id `id`.
fn ipv4_frame(total: usize, id: u16, dont_fragment: bool) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + total];
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut frame[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6] = if dont_fragment { 0x40 } else { 0 };
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 1, 0, 4]);
    ip[16..20].copy_from_slice(&[10, 1, 0, 10]);
    for (i, b) in ip[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let sum = internet_checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame
}

fn run(frames: Vec<Vec<u8>>, azure: AzureFragmentation) -> (Vec<Vec<u8>>, Simulator, LinkId) {
    let mut sim = Simulator::new(1);
    let sender = sim.add_device(Box::new(Sender(frames.into())));
    let receiver = sim.add_device(Box::new(Receiver::default()));
    let channel = ChannelConfig::default().azure_fragmentation(azure);
    let link = sim
        .connect(
            (sender, PortId(0)),
            (receiver, PortId(0)),
            &LinkConfig::symmetric("azure-vnet", channel),
        )
        .unwrap();
    sim.run_until(SimTime::from_secs(1));
    let got = sim.device::<Receiver>(receiver).unwrap().0.clone();
    (got, sim, link)
}

#[test]
fn azure_fragments_packets_over_1400_bytes_unless_df() {
    assert_eq!(AZURE_FRAGMENT_ABOVE, 1400);
    let big = ipv4_frame(1500, 1, false);
    let df = ipv4_frame(1500, 2, true);
    let small = ipv4_frame(1400, 3, false);
    let (got, sim, link) = run(
        vec![big.clone(), df.clone(), small.clone()],
        AzureFragmentation::default(),
    );
    assert_eq!(
        got.len(),
        4,
        "two fragments, then the DF and the small packet"
    );
    let first = Ipv4HeaderSlice::from_slice(&got[0][14..]).unwrap();
    let second = Ipv4HeaderSlice::from_slice(&got[1][14..]).unwrap();
    assert_eq!((first.total_len(), first.more_fragments()), (1396, true));
    assert_eq!(
        (
            second.total_len(),
            second.fragments_offset().value(),
            second.more_fragments()
        ),
        (124, 172, false)
    );
    let mut data = got[0][34..].to_vec();
    data.extend_from_slice(&got[1][34..]);
    assert_eq!(data, big[34..]);
    assert_eq!(got[2], df);
    assert_eq!(got[3], small);
    let report = sim.link_report(link).unwrap();
    assert_eq!(report.a_to_b.delivered_frames, 4);
    assert!(report.a_to_b.is_conserved());
}

/// The fragments of a 3000-byte packet at 1400, last first.
fn reversed_fragments() -> Vec<Vec<u8>> {
    let frame = ipv4_frame(3000, 9, false);
    let plan = Ipv4Fragmenter::new(&frame[14..], 1400).unwrap();
    let mut pieces: Vec<Vec<u8>> = plan
        .clone()
        .map(|piece| {
            let mut out = frame[..14].to_vec();
            out.resize(14 + plan.total_len(&piece), 0);
            plan.write(&piece, &mut out[14..]).unwrap();
            out
        })
        .collect();
    pieces.reverse();
    pieces
}

#[test]
fn out_of_order_fragments_are_dropped_by_default() {
    let pieces = reversed_fragments();
    assert_eq!(pieces.len(), 3);
    let (got, sim, link) = run(pieces.clone(), AzureFragmentation::default());
    // The last two arrive before the first: dropped; the first alone
    // gets through (and its datagram can never complete).
    assert_eq!(got, vec![pieces[2].clone()]);
    let report = sim.link_report(link).unwrap();
    assert_eq!(report.a_to_b.dropped.out_of_order_fragment, 2);
    assert!(report.a_to_b.is_conserved());
}

#[test]
fn the_opt_in_delivers_out_of_order_fragments() {
    let pieces = reversed_fragments();
    let opt_in = AzureFragmentation {
        reassemble_out_of_order: true,
        ..AzureFragmentation::default()
    };
    let (got, sim, link) = run(pieces.clone(), opt_in);
    assert_eq!(got, pieces);
    assert_eq!(sim.link_report(link).unwrap().a_to_b.dropped.total(), 0);
}
