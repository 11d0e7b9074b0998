//! TCP MSS clamping (RFC 6691) for IPv4 and IPv6: the rewritten checksum
//! equals etherparse's full recomputation for any option alignment, and
//! every packet that must be left alone is byte-identical afterwards.

use crate::support;

use erdp::wire::{IpPacket, MssOutcome, MssUnchanged, clamp_tcp_mss};
use proptest::prelude::*;
use support::wire::*;

fn clamp(bytes: &mut [u8], limit: u16) -> MssOutcome {
    let mut packet = IpPacket::new_checked(bytes).unwrap();
    clamp_tcp_mss(&mut packet, limit)
}

/// The TCP checksum stored in the packet equals etherparse's recomputation.
fn tcp_checksum_is_right(bytes: &[u8]) -> bool {
    match bytes[0] >> 4 {
        4 => {
            let ip = etherparse::Ipv4HeaderSlice::from_slice(bytes).unwrap();
            let tcp = etherparse::TcpSlice::from_slice(&bytes[ip.slice().len()..]).unwrap();
            tcp.checksum()
                == tcp
                    .calc_checksum_ipv4(ip.source(), ip.destination())
                    .unwrap()
        }
        _ => {
            let ip = etherparse::Ipv6HeaderSlice::from_slice(bytes).unwrap();
            let tcp = etherparse::TcpSlice::from_slice(&bytes[40..]).unwrap();
            tcp.checksum()
                == tcp
                    .calc_checksum_ipv6(ip.source(), ip.destination())
                    .unwrap()
        }
    }
}

proptest! {
    #![proptest_config(seeded(1000))]

    #[test]
    fn clamping_matches_full_recomputation(
        v6 in any::<bool>(),
        nops in 0usize..4,
        mss in any::<u16>(),
        limit in 536u16..9000,
        payload in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let options = tcp_options(nops, Some(mss));
        let mut bytes = if v6 { ipv6_tcp(true, &options, &payload) } else { ipv4_tcp(true, &options, &payload) };
        let before = bytes.clone();
        let outcome = clamp(&mut bytes, limit);
        let mss_at = if v6 { 40 } else { 20 } + 20 + nops + 2;
        let now = u16::from_be_bytes([bytes[mss_at], bytes[mss_at + 1]]);
        if mss > limit {
            prop_assert_eq!(outcome, MssOutcome::Clamped { from: mss, to: limit });
            prop_assert_eq!(now, limit);
        } else {
            prop_assert_eq!(outcome, MssOutcome::Unchanged(MssUnchanged::WithinLimit));
            prop_assert_eq!(&bytes, &before);
        }
        prop_assert!(tcp_checksum_is_right(&bytes));
        // Nothing but the MSS value and the TCP checksum changed.
        let checksum_at = if v6 { 40 } else { 20 } + 16;
        for (i, (a, b)) in bytes.iter().zip(&before).enumerate() {
            if a != b {
                prop_assert!(i == mss_at || i == mss_at + 1 || i == checksum_at || i == checksum_at + 1, "byte {} changed", i);
            }
        }
    }
}

#[test]
fn packets_that_must_not_change_do_not() {
    let cases: Vec<(Vec<u8>, MssUnchanged)> = vec![
        (
            ipv4_tcp(false, &tcp_options(0, Some(9000)), b""),
            MssUnchanged::NotSyn,
        ),
        (
            ipv4_tcp(true, &tcp_options(3, None), b""),
            MssUnchanged::NoMssOption,
        ),
        (ipv6_tcp(true, &[], b""), MssUnchanged::NoMssOption),
        (
            ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 64, b"x"),
            MssUnchanged::NotTcp,
        ),
        (
            {
                let mut fragment = ipv4_tcp(true, &tcp_options(0, Some(9000)), b"");
                set_ipv4_fragment(&mut fragment, 10, false);
                fragment
            },
            MssUnchanged::NoTcpHeader,
        ),
        // Option length 1 is malformed.
        (
            ipv4_tcp(true, &[3, 1, 0, 0], b""),
            MssUnchanged::MalformedHeader,
        ),
        // An MSS option of length 3 is malformed.
        (
            ipv4_tcp(true, &[2, 3, 0x23, 0], b""),
            MssUnchanged::MalformedHeader,
        ),
    ];
    for (packet, expected) in cases {
        let mut bytes = packet.clone();
        assert_eq!(clamp(&mut bytes, 1350), MssOutcome::Unchanged(expected));
        assert_eq!(bytes, packet, "{expected:?}");
    }
}

#[test]
fn azure_recommended_clamp_on_a_1460_syn() {
    let mut bytes = ipv4_tcp_syn_mss(1460);
    assert_eq!(
        clamp(&mut bytes, 1350),
        MssOutcome::Clamped {
            from: 1460,
            to: 1350
        }
    );
    assert!(tcp_checksum_is_right(&bytes));
}
