//! IPv4 fragmentation through the forwarding node (RFC 791 3.2): a plain
//! packet over the egress MTU without DF leaves in fragments; an outer ESP
//! packet over the underlay MTU is fragmented after ESP (RFC 4303 3.3.5)
//! and the far tunnel endpoint reassembles it before decapsulation (RFC
//! 4303 3.4.1), in any arrival order; an inner packet over a tunnel's MTU
//! is fragmented before ESP, each piece its own ESP packet (RFC 4459
//! section 3); hostile fragments get counted drops.

use crate::support;

use erdp::dataplane::{Delivery, DropReason, Outcome};
use erdp::frag::FragmentDrop;
use etherparse::Ipv4HeaderSlice;
use support::dataplane::*;

const ONPREM_1: &str = "design1-onprem-edge.toml";
const AZURE_1: &str = "design1-azure-gateway.toml";

/// (total length, offset in 8-byte units, MF, TTL) of an IPv4 frame, after
/// checking its header checksum.
fn fragment_fields(frame: &[u8]) -> (u16, u16, bool, u8) {
    let header = Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
    assert_eq!(
        header.header_checksum(),
        header.to_header().calc_header_checksum()
    );
    assert_eq!(frame.len(), 14 + usize::from(header.total_len()));
    (
        header.total_len(),
        header.fragments_offset().value(),
        header.more_fragments(),
        header.ttl(),
    )
}

#[test]
fn a_4000_byte_packet_leaves_a_1500_mtu_port_in_three_fragments() {
    let mut h = Harness::sample(ONPREM_1);
    // 4000 bytes of IPv4 toward ExpressRoute (MTU 1500), DF clear.
    let mut frame = from_onprem_host("10.100.255.9", 4000 - 28);
    clear_df(&mut frame);
    let batch = h.one("lan", frame.clone());
    let er = h.id("er");
    assert_eq!(batch.fates[0].outcome, Outcome::Forwarded(er));
    assert_eq!(
        batch.generated.len(),
        2,
        "the two fragments after the first"
    );
    let mut all = vec![batch.frames[0].clone()];
    for (generated, fate, cause) in &batch.generated {
        assert_eq!((fate.outcome, *cause), (Outcome::Forwarded(er), 0));
        assert_eq!(fate.flow, batch.fates[0].flow);
        all.push(generated.clone());
    }
    let fields: Vec<_> = all.iter().map(|f| fragment_fields(f)).collect();
    assert_eq!(
        fields,
        [
            (1500, 0, true, 63),
            (1500, 185, true, 63),
            (1040, 370, false, 63)
        ]
    );
    let data: Vec<u8> = all.iter().flat_map(|f| f[14 + 20..].to_vec()).collect();
    assert_eq!(data, frame[14 + 20..], "the data, in order, unchanged");
    for f in &all {
        assert_eq!(macs(f), (AZURE_ER_MAC, ONPREM_ER_MAC));
    }
    let counters = h.node.counters();
    assert_eq!(counters.generated.forwarded, 2);
    assert_eq!(counters.interfaces[er.0 as usize].tx.packets, 3);
}

#[test]
fn with_df_set_the_packet_is_refused_with_the_next_hop_mtu() {
    let mut h = Harness::sample(ONPREM_1);
    let batch = h.one("lan", from_onprem_host("10.100.255.9", 4000 - 28));
    assert_eq!(
        batch.fates[0].outcome,
        Outcome::Dropped(DropReason::PacketTooBig)
    );
    let (error, _) = batch.generated_one();
    let icmp = parse(error).transport;
    let Some(etherparse::TransportSlice::Icmpv4(icmp)) = icmp else {
        panic!("not ICMPv4");
    };
    assert!(matches!(
        icmp.icmp_type(),
        etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1500 }
        )
    ));
}

/// The on-premises edge with a 1400-byte underlay under its 1400-byte
/// tunnel: full-size inner packets make outer packets over the MTU.
fn onprem_small_underlay(df: &str) -> Harness {
    let text = sample_text(ONPREM_1)
        .replace(
            "addresses = [\"172.16.0.1/30\", \"fd00:172:16::1/126\"]",
            "addresses = [\"172.16.0.1/30\", \"fd00:172:16::1/126\"]\nmtu = 1400",
        )
        .replace("sa_out = { ", &format!("sa_out = {{ df = \"{df}\", "));
    Harness::toml(&text)
}

#[test]
fn an_outer_esp_packet_is_fragmented_and_reassembled_before_decryption() {
    let mut onprem = onprem_small_underlay("copy");
    let mut azure = Harness::sample(AZURE_1);
    let mut inner = from_onprem_host("10.1.0.10", 1340);
    clear_df(&mut inner);
    let sealed = onprem.one("lan", inner.clone());
    assert!(sealed.fates[0].left_encrypted(), "{:?}", sealed.fates[0]);
    assert_eq!(sealed.generated.len(), 1, "two outer fragments");
    let first = sealed.frames[0].clone();
    let second = sealed.generated[0].0.clone();
    assert!(first.len() - 14 <= 1400 && second.len() - 14 <= 1400);
    let (_, offset, more, _) = fragment_fields(&first);
    assert_eq!((offset, more), (0, true));
    assert_eq!(
        Ipv4HeaderSlice::from_slice(&first[14..])
            .unwrap()
            .protocol()
            .0,
        50
    );
    // The last fragment first: held; the first completes the datagram,
    // which is decrypted and forwarded to the VNet.
    let held = azure.one("er", second);
    assert_eq!(
        held.fates[0].outcome,
        Outcome::Delivered(Delivery::FragmentHeld)
    );
    let done = azure.one("er", first);
    assert_eq!(done.fates[0].outcome, Outcome::Forwarded(azure.id("vnet")));
    assert!(done.fates[0].decrypted.is_some());
    let out = &done.frames[0];
    assert_eq!(ttl4(out), 62, "two hops");
    assert_eq!(
        &out[14 + 20..],
        &inner[14 + 20..],
        "the inner packet intact"
    );
}

#[test]
fn an_inner_packet_over_the_tunnel_mtu_is_fragmented_before_esp() {
    let mut onprem = Harness::sample(ONPREM_1);
    let mut azure = Harness::sample(AZURE_1);
    // 3000 bytes of IPv4 toward the VNet without DF: over the tunnel's 1400.
    let mut inner = from_onprem_host("10.1.0.10", 3000 - 28);
    clear_df(&mut inner);
    let sealed = onprem.one("lan", inner.clone());
    assert!(sealed.fates[0].left_encrypted(), "{:?}", sealed.fates[0]);
    assert_eq!(sealed.generated.len(), 2, "three ESP packets");
    let mut outer = vec![(sealed.frames[0].clone(), sealed.fates[0])];
    outer.extend(
        sealed
            .generated
            .iter()
            .map(|(f, fate, _)| (f.clone(), *fate)),
    );
    let mut seqs = Vec::new();
    for (frame, fate) in &outer {
        assert!(fate.left_encrypted(), "{fate:?}");
        seqs.push(fate.encrypted.expect("sealed").seq);
        // Whole ESP packets within the underlay's 1500: no outer fragment.
        let (total, offset, more, _) = fragment_fields(frame);
        assert!(usize::from(total) <= 1500 && (offset, more) == (0, false));
        let header = Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
        assert_eq!(header.protocol().0, 50, "ESP");
    }
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "sealed in order: {seqs:?}"
    );
    // The gateway opens each and forwards the inner fragments to the VNet.
    let vnet = azure.id("vnet");
    let mut pieces = Vec::new();
    for (frame, _) in outer {
        let opened = azure.one("er", frame);
        assert_eq!(opened.fates[0].outcome, Outcome::Forwarded(vnet));
        assert!(opened.fates[0].decrypted.is_some());
        pieces.push(opened.frames[0].clone());
    }
    let fields: Vec<_> = pieces.iter().map(|f| fragment_fields(f)).collect();
    assert_eq!(
        fields,
        [
            (1396, 0, true, 62),
            (1396, 172, true, 62),
            (248, 344, false, 62)
        ]
    );
    let data: Vec<u8> = pieces.iter().flat_map(|f| f[14 + 20..].to_vec()).collect();
    assert_eq!(data, inner[14 + 20..], "the data, in order, unchanged");
    // The edge's must-encrypt policy counts the datagram once.
    let counters = onprem.node.counters();
    let encrypted: u64 = counters.policies.iter().map(|p| p.encrypted).sum();
    assert_eq!(encrypted, 1, "{:?}", counters.policies);
    assert_eq!(counters.generated.forwarded, 2);
    onprem.assert_conserved();
}

#[test]
fn an_sa_that_sets_df_refuses_outer_packets_over_the_mtu() {
    let mut onprem = onprem_small_underlay("set");
    let mut inner = from_onprem_host("10.1.0.10", 1340);
    clear_df(&mut inner);
    let batch = onprem.one("lan", inner);
    assert_eq!(
        batch.fates[0].drop_reason(),
        Some(DropReason::TunnelOuterTooBig)
    );
    assert!(batch.generated.is_empty());
}

#[test]
fn overlapping_fragments_for_the_tunnel_endpoint_are_counted_drops() {
    let mut onprem = onprem_small_underlay("copy");
    let mut azure = Harness::sample(AZURE_1);
    let mut inner = from_onprem_host("10.1.0.10", 1340);
    clear_df(&mut inner);
    let sealed = onprem.one("lan", inner);
    let first = sealed.frames[0].clone();
    // A forged second fragment starting 8 bytes early (Teardrop-style).
    let mut forged = sealed.generated[0].0.clone();
    let offset = u16::from_be_bytes([forged[14 + 6], forged[14 + 7]]) & 0x1fff;
    forged[14 + 6..14 + 8].copy_from_slice(&(offset - 1).to_be_bytes());
    forged[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let header = Ipv4HeaderSlice::from_slice(&forged[14..])
        .unwrap()
        .to_header();
    forged[14 + 10..14 + 12].copy_from_slice(&header.calc_header_checksum().to_be_bytes());
    let batch = azure.run("er", &[first, forged]);
    assert_eq!(
        batch.fates[0].outcome,
        Outcome::Delivered(Delivery::FragmentHeld)
    );
    assert_eq!(
        batch.fates[1].outcome,
        Outcome::Dropped(DropReason::Fragment(FragmentDrop::Overlap))
    );
    let stats = azure.worker.reassembly_stats();
    assert_eq!((stats.discarded, stats.completed), (1, 0));
    let counters = azure.node.counters();
    assert_eq!(
        counters
            .input
            .dropped_by_reason
            .get("fragment_overlap")
            .copied(),
        Some(1)
    );
}
