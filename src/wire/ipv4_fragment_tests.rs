//! Known answers for IPv4 fragmentation (RFC 791 3.2's example shape: a
//! 4000-byte datagram at MTU 1500) and the copy flag of options.

use etherparse::Ipv4HeaderSlice;

use super::*;

/// A UDP datagram of `total` bytes, 192.0.2.1 -> 198.51.100.2, id 0x1234,
/// TTL 64, with `options` (a multiple of 4 bytes) after the fixed header.
fn datagram(total: usize, options: &[u8]) -> Vec<u8> {
    datagram_with(total, 0x1234, 17, options)
}

/// A datagram of `total` bytes with identification `id` and `protocol`
/// (for the reassembly tests too).
pub(crate) fn datagram_with(total: usize, id: u16, protocol: u8, options: &[u8]) -> Vec<u8> {
    let header_len = IPV4_MIN_HEADER_LEN + options.len();
    let mut bytes = vec![0u8; total];
    bytes[0] = 0x40 | (header_len / 4) as u8;
    bytes[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    bytes[4..6].copy_from_slice(&id.to_be_bytes());
    bytes[8] = 64;
    bytes[9] = protocol;
    bytes[12..16].copy_from_slice(&[192, 0, 2, 1]);
    bytes[16..20].copy_from_slice(&[198, 51, 100, 2]);
    bytes[20..header_len].copy_from_slice(options);
    for (i, b) in bytes[header_len..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let sum = checksum::internet_checksum(&bytes[..header_len]);
    bytes[10..12].copy_from_slice(&sum.to_be_bytes());
    bytes
}

/// The fragments of `packet` at `mtu`, each in its own vector.
pub(crate) fn fragments(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let plan = Ipv4Fragmenter::new(packet, mtu).unwrap();
    plan.clone()
        .map(|piece| {
            let mut out = vec![0u8; mtu];
            let len = plan.write(&piece, &mut out).unwrap();
            out.truncate(len);
            out
        })
        .collect()
}

#[test]
fn a_4000_byte_datagram_at_mtu_1500_makes_three_fragments() {
    let packet = datagram(4000, &[]);
    let pieces = fragments(&packet, 1500);
    // (total length, offset in 8-byte units, MF): 3980
    // data bytes as 1480 + 1480 + 1020, offsets 0, 185, 370.
    let expected = [(1500u16, 0u16, true), (1500, 185, true), (1040, 370, false)];
    assert_eq!(pieces.len(), 3);
    let mut data = Vec::new();
    for (bytes, (total, offset, more)) in pieces.iter().zip(expected) {
        let header = Ipv4HeaderSlice::from_slice(bytes).unwrap();
        assert_eq!(header.total_len(), total);
        assert_eq!(header.fragments_offset().value(), offset);
        assert_eq!(header.more_fragments(), more);
        assert!(!header.dont_fragment());
        assert_eq!(header.identification(), 0x1234);
        assert_eq!(header.ttl(), 64);
        assert_eq!(bytes.len(), usize::from(total));
        // etherparse's own checksum of the header is the oracle.
        let oracle = header.to_header().calc_header_checksum();
        assert_eq!(header.header_checksum(), oracle);
        data.extend_from_slice(&bytes[20..]);
    }
    assert_eq!(data, packet[20..]);
    let sums: Vec<u16> = pieces
        .iter()
        .map(|b| u16::from_be_bytes([b[10], b[11]]))
        .collect();
    assert_eq!(sums, KNOWN_CHECKSUMS);
}

/// The header checksums of the three fragments above, by hand: the
/// original header's words with total length and flags/offset replaced,
/// summed and complemented (RFC 1071) in a calculator.
const KNOWN_CHECKSUMS: [u16; 3] = [0x56a6, 0x55ed, 0x7700];

#[test]
fn only_options_with_the_copy_flag_reach_later_fragments() {
    // Record Route (7, not copied, 7 bytes), NOP, then Security-like
    // option 130 (copied, 4 bytes): 12 bytes of options.
    let options = [7, 7, 4, 0, 0, 0, 0, 1, 130, 4, 0xaa, 0xbb];
    let packet = datagram(200, &options);
    let pieces = fragments(&packet, 100);
    assert_eq!(
        pieces[0][0] & 0x0f,
        8,
        "the first keeps all 32 header bytes"
    );
    assert_eq!(&pieces[0][20..32], &options);
    for later in &pieces[1..] {
        assert_eq!(later[0] & 0x0f, 6, "20 + 4 copied bytes");
        assert_eq!(&later[20..24], &[130, 4, 0xaa, 0xbb]);
        let header = Ipv4HeaderSlice::from_slice(later).unwrap();
        assert_eq!(
            header.header_checksum(),
            header.to_header().calc_header_checksum()
        );
    }
    let mut data = pieces[0][32..].to_vec();
    for later in &pieces[1..] {
        data.extend_from_slice(&later[24..]);
    }
    assert_eq!(data, packet[32..]);
}

#[test]
fn a_fragment_refragmented_keeps_its_offset_and_its_more_flag() {
    let packet = datagram(4000, &[]);
    let first = &fragments(&packet, 1500)[1];
    let pieces = fragments(first, 576);
    let offsets: Vec<(u16, bool)> = pieces
        .iter()
        .map(|b| {
            let h = Ipv4HeaderSlice::from_slice(b).unwrap();
            (h.fragments_offset().value(), h.more_fragments())
        })
        .collect();
    // 1480 bytes from offset 1480: 552 + 552 + 376 at MTU 576.
    assert_eq!(offsets, [(185, true), (254, true), (323, true)]);
}

#[test]
fn refuses_an_mtu_below_68_or_without_room_for_eight_bytes() {
    let packet = datagram(200, &[]);
    assert!(Ipv4Fragmenter::new(&packet, 67).is_err());
    let long_options = [
        130u8,
        40 - 2,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]
    .iter()
    .chain(&[0u8; 20])
    .copied()
    .collect::<Vec<u8>>();
    let packet = datagram(200, &long_options);
    // A 60-byte header whose 40 option bytes are all copied: every piece
    // carries 8 bytes at MTU 68, so 140 data bytes make 18 pieces.
    assert_eq!(fragments(&packet, 68).len(), 18);
    assert!(fragments(&packet, 68).iter().all(|f| f.len() <= 68));
}

#[test]
fn hostile_option_lists_never_panic() {
    for options in [
        [0xffu8, 0, 0, 0],
        [0x83, 1, 0, 0],
        [0x83, 200, 0, 0],
        [1, 1, 1, 0x83],
    ] {
        let (_, len) = copied_options(&options);
        assert!(len <= 40 && len.is_multiple_of(4));
    }
}
