//! Tests of the BFD Control packet: a known packet laid out by hand from
//! RFC 5880 4.1, round trips, every truncation and every refused field.

use super::*;

/// Up, Detect Mult 3, discriminators 1 and 2, 300 ms both ways, no echo:
/// what an MSEE-like peer sends once the session is up.
const UP_300MS: [u8; 24] = [
    0x20, // version 1, diagnostic 0
    0xc0, // state Up, no flags
    3,    // Detect Mult
    24,   // Length
    0, 0, 0, 1, // My Discriminator
    0, 0, 0, 2, // Your Discriminator
    0x00, 0x04, 0x93, 0xe0, // Desired Min TX 300,000 us
    0x00, 0x04, 0x93, 0xe0, // Required Min RX 300,000 us
    0, 0, 0, 0, // Required Min Echo RX
];

fn checked(bytes: &[u8]) -> Result<BfdControl, BfdError> {
    BfdPacket::new_checked(bytes).map(|p| BfdControl::parse(&p))
}

#[test]
fn reads_the_known_packet_and_writes_it_back() {
    let control = checked(&UP_300MS).unwrap();
    assert_eq!(
        control,
        BfdControl {
            diagnostic: Diagnostic::NONE,
            state: BfdState::Up,
            detect_mult: 3,
            my_discriminator: 1,
            your_discriminator: 2,
            desired_min_tx_us: 300_000,
            required_min_rx_us: 300_000,
            ..BfdControl::default()
        }
    );
    let mut out = [0u8; BFD_CONTROL_LEN];
    control.emit(&mut out);
    assert_eq!(out, UP_300MS);
}

#[test]
fn every_state_flag_and_diagnostic_round_trips() {
    for state in [
        BfdState::AdminDown,
        BfdState::Down,
        BfdState::Init,
        BfdState::Up,
    ] {
        for diagnostic in 0..32 {
            for flags in 0..32u8 {
                let control = BfdControl {
                    diagnostic: Diagnostic(diagnostic),
                    state,
                    poll: flags & 1 != 0,
                    final_: flags & 2 != 0 && flags & 1 == 0,
                    control_plane_independent: flags & 4 != 0,
                    demand: flags & 8 != 0,
                    detect_mult: 1 + flags,
                    my_discriminator: 0xdead_beef,
                    your_discriminator: u32::from(flags) + 1,
                    desired_min_tx_us: 1_000_000,
                    required_min_rx_us: 50_000,
                    required_min_echo_rx_us: u32::from(diagnostic),
                    authentication: false,
                };
                let mut out = [0u8; BFD_CONTROL_LEN];
                control.emit(&mut out);
                assert_eq!(checked(&out), Ok(control));
            }
        }
    }
}

#[test]
fn refuses_every_truncation_and_ignores_trailing_bytes() {
    for len in 0..BFD_CONTROL_LEN {
        assert_eq!(
            checked(&UP_300MS[..len]),
            Err(BfdError::Truncated { available: len })
        );
    }
    let longer = [&UP_300MS[..], &[0xaa; 8]].concat();
    assert_eq!(checked(&longer), checked(&UP_300MS));
}

/// UP_300MS with one byte changed.
fn with(at: usize, value: u8) -> Vec<u8> {
    let mut bytes = UP_300MS.to_vec();
    bytes[at] = value;
    bytes
}

#[test]
fn refuses_each_bad_field_with_its_reason() {
    let cases: Vec<(Vec<u8>, BfdError)> = vec![
        (with(0, 0x00), BfdError::Version { found: 0 }),
        (with(0, 0x40), BfdError::Version { found: 2 }),
        (
            with(3, 23),
            BfdError::LengthTooShort {
                length: 23,
                minimum: 24,
            },
        ),
        (
            with(3, 0),
            BfdError::LengthTooShort {
                length: 0,
                minimum: 24,
            },
        ),
        (
            with(3, 25),
            BfdError::LengthBeyondPayload {
                length: 25,
                available: 24,
            },
        ),
        (
            with(1, 0xc4),
            BfdError::LengthTooShort {
                length: 24,
                minimum: 26,
            },
        ),
        (with(2, 0), BfdError::DetectMultZero),
        (with(1, 0xc1), BfdError::Multipoint),
        (with(1, 0xf0), BfdError::PollAndFinal),
        (
            {
                let mut bytes = UP_300MS.to_vec();
                bytes[4..8].fill(0);
                bytes
            },
            BfdError::MyDiscriminatorZero,
        ),
        (
            {
                let mut bytes = UP_300MS.to_vec();
                bytes[8..12].fill(0);
                bytes
            },
            BfdError::YourDiscriminatorZero {
                state: BfdState::Up,
            },
        ),
        (
            {
                let mut bytes = with(1, 0x80);
                bytes[8..12].fill(0);
                bytes
            },
            BfdError::YourDiscriminatorZero {
                state: BfdState::Init,
            },
        ),
    ];
    for (bytes, error) in cases {
        assert_eq!(checked(&bytes), Err(error), "{bytes:02x?}");
        assert!(!error.to_string().is_empty());
    }
    // Down and AdminDown may not know the peer's discriminator yet.
    for state in [0x40u8, 0x00] {
        let mut bytes = with(1, state);
        bytes[8..12].fill(0);
        assert!(checked(&bytes).is_ok(), "state byte {state:#x}");
    }
}

#[test]
fn checks_the_authentication_section_lengths() {
    // A bit, Length 24 + a 2..=N byte section: Auth Len must fit the Length.
    let packet = |length: u8, auth_len: u8| {
        let mut bytes = with(1, 0xc4);
        bytes[3] = length;
        bytes.extend_from_slice(&[1, auth_len]);
        bytes.resize(usize::from(length).max(26), 0);
        bytes
    };
    let ok = BfdPacket::new_checked(packet(32, 8)).unwrap();
    assert_eq!(ok.auth_type(), Some(1));
    assert!(BfdControl::parse(&ok).authentication);
    assert_eq!(
        checked(&packet(28, 8)),
        Err(BfdError::AuthLength {
            auth_len: 8,
            room: 4
        })
    );
    assert_eq!(
        checked(&packet(26, 1)),
        Err(BfdError::AuthLength {
            auth_len: 1,
            room: 2
        })
    );
    assert_eq!(
        BfdPacket::new_checked(&UP_300MS[..]).unwrap().auth_type(),
        None
    );
}

#[test]
fn drop_reasons_are_in_order_and_named_once() {
    for (index, reason) in BfdDrop::ALL.iter().enumerate() {
        assert_eq!(*reason as usize, index);
    }
    let mut names: Vec<_> = BfdDrop::ALL.iter().map(|r| r.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), BfdDrop::ALL.len());
    assert_eq!(BfdError::Ttl { ttl: 254 }.drop_reason(), BfdDrop::Ttl);
}

#[test]
fn diagnostics_have_their_rfc_names() {
    assert_eq!(
        Diagnostic::CONTROL_DETECTION_TIME_EXPIRED.to_string(),
        "1 (Control Detection Time Expired)"
    );
    assert_eq!(Diagnostic(9).describe(), "reserved");
}
