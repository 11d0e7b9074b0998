//! Proves that a worker allocates nothing per packet once warm: a counting
//! global allocator (tests/alloc_support) counts the test thread's
//! allocations, and batches exercising every path (plain, encapsulation,
//! decapsulation, ARP and ND replies, echo replies, ICMP errors, drops) run
//! with the count unchanged.

use crate::support;

use crate::counting_alloc::allocations;
use erdp::dataplane::Outputs;
use erdp::packet::PacketBuf;
use support::dataplane::*;

/// Frames arriving on the on-premises LAN port that take every path.
fn lan_mix() -> Vec<Vec<u8>> {
    vec![
        from_onprem_host("10.100.255.9", 64), // plain to ExpressRoute
        from_onprem_host("10.1.0.10", 1000),  // into the tunnel
        from_onprem_host6("fd00:1::10", 200), // IPv6 into the tunnel
        udp4(
            ONPREM_LAN_MAC,
            ONPREM_HOST_MAC,
            "10.0.1.10",
            "10.1.0.10",
            1,
            10,
        ), // TTL
        from_onprem_host("192.0.2.1", 10),    // no route
        from_onprem_host("10.0.9.9", 10),     // no neighbour
        echo4(ONPREM_LAN_MAC, ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1", 56),
        arp_request(ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1"),
        neighbor_solicitation(ONPREM_HOST_MAC, "fd00:10::10", "fd00:10::1"),
        udp4(
            STRANGER_MAC,
            ONPREM_HOST_MAC,
            "10.0.1.10",
            "10.1.0.10",
            64,
            10,
        ),
        vec![0; 9],
    ]
}

#[test]
fn workers_do_not_allocate_per_packet() {
    let mut onprem = Harness::sample("design1-onprem-edge.toml");
    let mut azure = Harness::sample("design1-azure-gateway.toml");
    let lan = onprem.id("lan");
    let er = azure.id("er");
    let mix = lan_mix();
    const ROUNDS: usize = 200;
    // Fresh ESP for Azure (each sequence number is accepted once), made
    // before counting.
    let esp: Vec<Vec<Vec<u8>>> = (0..ROUNDS + 1)
        .map(|_| {
            let batch = onprem.run("lan", &mix);
            batch
                .frames
                .iter()
                .zip(&batch.fates)
                .filter(|(_, f)| f.left_encrypted())
                .map(|(frame, _)| frame.clone())
                .collect()
        })
        .collect();
    let mut onprem_worker = onprem.node.worker();
    let mut azure_worker = azure.node.worker();
    let mut lan_bufs: Vec<PacketBuf> = mix.iter().map(|_| PacketBuf::new()).collect();
    let mut er_bufs: Vec<PacketBuf> = esp[0].iter().map(|_| PacketBuf::new()).collect();
    let mut out = Outputs::with_capacity(mix.len());
    let mut run = |round: usize| {
        for (buf, frame) in lan_bufs.iter_mut().zip(&mix) {
            buf.load(frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
        }
        onprem_worker.process(lan, &mut lan_bufs, &mut out);
        let generated = out.generated_len();
        for (buf, frame) in er_bufs.iter_mut().zip(&esp[round]) {
            buf.load(frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
        }
        azure_worker.process(er, &mut er_bufs, &mut out);
        generated
    };
    let warm = run(0);
    assert!(warm >= 5, "replies and errors were generated: {warm}");
    let before = allocations();
    for round in 1..=ROUNDS {
        run(round);
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations in {ROUNDS} rounds");
    let counters = azure.node.counters();
    assert_eq!(
        counters.input.forwarded,
        (ROUNDS as u64 + 1) * esp[0].len() as u64
    );
    assert!(onprem.node.counters().input.is_conserved());
    azure.inputs = counters.input.packets;
    azure.assert_conserved();
}
