//! Reassembly against hostile input (overlaps, duplicates, tiny and
//! oversized fragments, timeouts, the caps) and a round-trip property:
//! fragment, shuffle, reassemble gives the original datagram back.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::wire::ipv4_fragment::tests::{datagram_with, fragments};

const HEADROOM: usize = PacketBuf::DEFAULT_HEADROOM;

/// An ESP datagram (protocol 50) of `total` bytes, id `id`.
fn datagram(total: usize, id: u16) -> Vec<u8> {
    datagram_with(total, id, 50, &[])
}

/// A fragment written by hand: `data_len` bytes of `fill` at byte `offset`.
fn fragment(id: u16, offset: usize, data_len: usize, more: bool, fill: u8) -> Vec<u8> {
    let mut bytes = vec![fill; 20 + data_len];
    bytes[..20].copy_from_slice(&datagram(20, id));
    crate::wire::finish_fragment_header(&mut bytes[..20], 20 + data_len, offset, more, false)
        .unwrap();
    bytes
}

fn insert(
    r: &mut Reassembler,
    at: Duration,
    bytes: &[u8],
    out: &mut PacketBuf,
) -> Result<Reassembled, FragmentDrop> {
    let packet = Ipv4Packet::new_checked(bytes).unwrap();
    r.insert(at, &packet, out, HEADROOM)
}

fn reassembler() -> Reassembler {
    Reassembler::new(ReassemblyLimits::default())
}

#[test]
fn three_fragments_in_any_order_make_the_datagram() {
    let original = datagram(4000, 7);
    let parts = fragments(&original, 1500);
    let mut out = PacketBuf::new();
    let mut r = reassembler();
    let t = Duration::ZERO;
    assert_eq!(
        insert(&mut r, t, &parts[2], &mut out),
        Ok(Reassembled::Held)
    );
    assert_eq!(
        insert(&mut r, t, &parts[0], &mut out),
        Ok(Reassembled::Held)
    );
    assert_eq!(r.held_bytes(), 1480 + 1020);
    assert_eq!(
        insert(&mut r, t, &parts[1], &mut out),
        Ok(Reassembled::Complete)
    );
    assert_eq!(out.as_slice(), &original[..]);
    assert_eq!((r.held_bytes(), r.in_progress()), (0, 0));
    assert_eq!(r.stats().completed, 1);
    assert_eq!(r.stats().fragments_lost, 0);
}

#[test]
fn any_overlap_discards_the_whole_datagram() {
    let mut out = PacketBuf::new();
    let mut r = reassembler();
    let t = Duration::ZERO;
    assert!(insert(&mut r, t, &fragment(1, 0, 64, true, 1), &mut out).is_ok());
    // Bytes 56..120 overlap 0..64 by 8 bytes (a Teardrop-style overlap).
    let overlapping = fragment(1, 56, 64, false, 2);
    assert_eq!(
        insert(&mut r, t, &overlapping, &mut out),
        Err(FragmentDrop::Overlap)
    );
    assert_eq!((r.in_progress(), r.held_bytes()), (0, 0));
    assert_eq!(r.stats().discarded, 1);
    // A later well-formed rest does not complete a datagram that is gone.
    let rest = fragment(1, 64, 8, false, 3);
    assert_eq!(insert(&mut r, t, &rest, &mut out), Ok(Reassembled::Held));
}

#[test]
fn an_exact_duplicate_is_dropped_alone_but_a_changed_copy_is_an_overlap() {
    let mut out = PacketBuf::new();
    let mut r = reassembler();
    let t = Duration::ZERO;
    let first = fragment(2, 0, 64, true, 1);
    assert!(insert(&mut r, t, &first, &mut out).is_ok());
    assert_eq!(
        insert(&mut r, t, &first, &mut out),
        Err(FragmentDrop::Duplicate)
    );
    assert_eq!(r.in_progress(), 1);
    let changed = fragment(2, 0, 64, true, 9);
    assert_eq!(
        insert(&mut r, t, &changed, &mut out),
        Err(FragmentDrop::Overlap)
    );
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn tiny_and_misaligned_fragments_are_refused() {
    let mut out = PacketBuf::new();
    let mut r = reassembler();
    let t = Duration::ZERO;
    let empty = fragment(3, 8, 0, true, 0);
    assert_eq!(
        insert(&mut r, t, &empty, &mut out),
        Err(FragmentDrop::BadLength)
    );
    let misaligned = fragment(3, 0, 12, true, 0);
    assert_eq!(
        insert(&mut r, t, &misaligned, &mut out),
        Err(FragmentDrop::BadLength)
    );
    assert_eq!(r.in_progress(), 0, "a refused fragment takes no slot");
}

#[test]
fn a_datagram_past_65535_bytes_is_refused_and_discarded() {
    let mut out = PacketBuf::new();
    let mut r = reassembler();
    let t = Duration::ZERO;
    assert!(insert(&mut r, t, &fragment(4, 0, 64, true, 1), &mut out).is_ok());
    // Offset 8189 units (65512 bytes) + 24 bytes + 20 header > 65535.
    let last = fragment(4, 65_512, 24, false, 1);
    assert_eq!(
        insert(&mut r, t, &last, &mut out),
        Err(FragmentDrop::TooLarge)
    );
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn two_different_ends_are_inconsistent() {
    let mut out = PacketBuf::new();
    let mut r = reassembler();
    let t = Duration::ZERO;
    assert!(insert(&mut r, t, &fragment(5, 64, 8, false, 1), &mut out).is_ok());
    assert_eq!(
        insert(&mut r, t, &fragment(5, 80, 8, true, 1), &mut out),
        Err(FragmentDrop::InconsistentEnd)
    );
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn datagrams_time_out_on_the_given_clock() {
    let limits = ReassemblyLimits {
        timeout: Duration::from_secs(30),
        ..ReassemblyLimits::default()
    };
    let mut r = Reassembler::new(limits);
    let mut out = PacketBuf::new();
    let parts = fragments(&datagram(3000, 6), 1500);
    insert(&mut r, Duration::from_secs(1), &parts[0], &mut out).unwrap();
    r.expire(Duration::from_secs(30));
    assert_eq!(r.in_progress(), 1, "29 s old: still waiting");
    // The rest arrives 30 s after the first: too late, a new datagram.
    let late = insert(&mut r, Duration::from_secs(31), &parts[1], &mut out);
    assert_eq!(late, Ok(Reassembled::Held));
    assert_eq!(r.stats().timed_out, 1);
    assert_eq!(r.stats().fragments_lost, 1);
    assert_eq!(r.held_bytes(), parts[1].len() - 20);
}

#[test]
fn the_memory_cap_and_the_datagram_cap_hold_under_a_flood() {
    let limits = ReassemblyLimits {
        max_datagrams: 4,
        memory_cap: 4096,
        max_fragments: 8,
        timeout: Duration::from_secs(30),
    };
    let mut r = Reassembler::new(limits);
    let mut out = PacketBuf::new();
    let t = Duration::ZERO;
    let mut refused = std::collections::BTreeMap::new();
    // First fragments of 1000 datagrams, 1480 bytes each, never completed.
    for id in 0..1000u16 {
        if let Err(reason) = insert(&mut r, t, &fragment(id, 0, 1480, true, 0), &mut out) {
            *refused.entry(reason.as_str()).or_insert(0) += 1;
        }
        assert!(r.held_bytes() <= 4096);
        assert!(r.in_progress() <= 4);
    }
    // Two fit in 4096 bytes; the third passes the cap while slots remain,
    // then (no datagram ever completes) the rest find the cap too.
    assert_eq!(r.held_bytes(), 2960);
    assert_eq!(refused.get("memory_cap"), Some(&998));
    // Many small fragments of one datagram stop at max_fragments.
    let mut r = Reassembler::new(limits);
    for k in 0..8 {
        insert(&mut r, t, &fragment(9, k * 16, 8, true, 0), &mut out).unwrap();
    }
    assert_eq!(
        insert(&mut r, t, &fragment(9, 200, 8, true, 0), &mut out),
        Err(FragmentDrop::TooManyFragments)
    );
    // Slots run out before memory with small datagrams.
    let mut r = Reassembler::new(limits);
    for id in 0..4 {
        insert(&mut r, t, &fragment(id, 0, 8, true, 0), &mut out).unwrap();
    }
    assert_eq!(
        insert(&mut r, t, &fragment(99, 0, 8, true, 0), &mut out),
        Err(FragmentDrop::TableFull)
    );
}

#[test]
fn a_datagram_larger_than_a_packet_buffer_is_discarded() {
    let mut r = reassembler();
    let mut out = PacketBuf::with_capacity(2048, HEADROOM);
    let parts = fragments(&datagram(4000, 8), 1500);
    for part in &parts[..2] {
        insert(&mut r, Duration::ZERO, part, &mut out).unwrap();
    }
    assert_eq!(
        insert(&mut r, Duration::ZERO, &parts[2], &mut out),
        Err(FragmentDrop::BufferTooSmall)
    );
    assert_eq!((r.in_progress(), r.held_bytes()), (0, 0));
}

proptest! {
    #[test]
    fn fragment_shuffle_reassemble_gives_the_original(
        total in 21usize..9000,
        mtu in 68usize..1500,
        order in Just((0..200usize).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let original = datagram(total, 0xbeef);
        let parts = fragments(&original, mtu);
        // At most 9000 / 48 = 188 pieces: every index is in `order`.
        prop_assert!(parts.len() <= 200);
        let mut r = Reassembler::new(ReassemblyLimits {
            max_fragments: 200,
            ..ReassemblyLimits::default()
        });
        let mut out = PacketBuf::new();
        let mut done = 0;
        let sequence = order.iter().filter(|&&i| i < parts.len());
        for (n, &i) in sequence.enumerate() {
            let got = insert(&mut r, Duration::ZERO, &parts[i], &mut out);
            let expected = if n + 1 == parts.len() {
                Reassembled::Complete
            } else {
                Reassembled::Held
            };
            prop_assert_eq!(got, Ok(expected));
            done += 1;
        }
        prop_assert_eq!(done, parts.len());
        prop_assert_eq!(out.as_slice(), &original[..]);
        prop_assert_eq!(r.held_bytes(), 0);
    }
}
