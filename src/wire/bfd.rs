//! The BFD Control packet (RFC 5880 section 4.1) as single-hop BFD carries it
//! over UDP port 3784 (RFC 5881): a view over the bytes with a checked
//! constructor, the fields as a [`BfdControl`], and every reception check of
//! RFC 5880 6.8.6 that needs only the packet, each refused with a reason.
//!
//! Contract: [`BfdPacket::new_checked`] accepts only a packet that passes
//! those checks; after it no accessor panics. Checks that need a session
//! (the Your Discriminator lookup, authentication in use, the TTL of
//! RFC 5881 5) are in `crate::bfd`.

use thiserror::Error;

/// Length of a Control packet without authentication.
pub const BFD_CONTROL_LEN: usize = 24;
/// Shortest Control packet with the A bit set: the header and the 2-byte
/// start of the authentication section (RFC 5880 6.8.6).
pub const BFD_CONTROL_AUTH_MIN_LEN: usize = 26;
/// UDP destination port of single-hop BFD Control packets (RFC 5881 4).
pub const BFD_PORT: u16 = 3784;
/// Lowest UDP source port a sender may use (RFC 5881 4: 49152-65535).
pub const BFD_SOURCE_PORT_MIN: u16 = 49152;
/// The TTL or hop limit single-hop BFD sends with and requires (RFC 5881 5).
pub const BFD_TTL: u8 = 255;
/// The protocol version (RFC 5880 4.1).
pub const BFD_VERSION: u8 = 1;

/// Byte ranges and bit masks of the Control packet (RFC 5880 4.1).
pub(crate) mod field {
    use std::ops::Range;
    /// Version (3 bits) and Diagnostic (5 bits).
    pub(crate) const VERSION_DIAG: usize = 0;
    /// State (2 bits) and the flags P F C A D M.
    pub(crate) const STATE_FLAGS: usize = 1;
    pub(crate) const DETECT_MULT: usize = 2;
    pub(crate) const LENGTH: usize = 3;
    pub(crate) const MY_DISCRIMINATOR: Range<usize> = 4..8;
    pub(crate) const YOUR_DISCRIMINATOR: Range<usize> = 8..12;
    pub(crate) const DESIRED_MIN_TX: Range<usize> = 12..16;
    pub(crate) const REQUIRED_MIN_RX: Range<usize> = 16..20;
    pub(crate) const REQUIRED_MIN_ECHO_RX: Range<usize> = 20..24;
    /// Auth Type and Auth Len, when the A bit is set.
    pub(crate) const AUTH_TYPE: usize = 24;
    pub(crate) const AUTH_LEN: usize = 25;

    pub(crate) const POLL: u8 = 0x20;
    pub(crate) const FINAL: u8 = 0x10;
    pub(crate) const CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
    pub(crate) const AUTHENTICATION: u8 = 0x04;
    pub(crate) const DEMAND: u8 = 0x02;
    pub(crate) const MULTIPOINT: u8 = 0x01;
}

/// A session state as the State field carries it (RFC 5880 4.1, 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum BfdState {
    AdminDown = 0,
    #[default]
    Down = 1,
    Init = 2,
    Up = 3,
}

impl BfdState {
    fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => BfdState::AdminDown,
            1 => BfdState::Down,
            2 => BfdState::Init,
            _ => BfdState::Up,
        }
    }
}

impl std::fmt::Display for BfdState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// A Diagnostic code (RFC 5880 4.1): an open newtype, 9-31 are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Diagnostic(pub u8);

impl Diagnostic {
    pub const NONE: Self = Self(0);
    pub const CONTROL_DETECTION_TIME_EXPIRED: Self = Self(1);
    pub const ECHO_FUNCTION_FAILED: Self = Self(2);
    pub const NEIGHBOR_SIGNALED_SESSION_DOWN: Self = Self(3);
    pub const FORWARDING_PLANE_RESET: Self = Self(4);
    pub const PATH_DOWN: Self = Self(5);
    pub const CONCATENATED_PATH_DOWN: Self = Self(6);
    pub const ADMINISTRATIVELY_DOWN: Self = Self(7);
    pub const REVERSE_CONCATENATED_PATH_DOWN: Self = Self(8);

    /// The name RFC 5880 4.1 gives the code.
    pub fn describe(self) -> &'static str {
        match self.0 {
            0 => "No Diagnostic",
            1 => "Control Detection Time Expired",
            2 => "Echo Function Failed",
            3 => "Neighbor Signaled Session Down",
            4 => "Forwarding Plane Reset",
            5 => "Path Down",
            6 => "Concatenated Path Down",
            7 => "Administratively Down",
            8 => "Reverse Concatenated Path Down",
            _ => "reserved",
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.describe())
    }
}

/// Why a Control packet is discarded (RFC 5880 6.8.6, RFC 5881 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum BfdError {
    /// Fewer bytes than the 24-byte mandatory section.
    #[error("BFD: truncated, need {BFD_CONTROL_LEN} bytes, have {available}")]
    Truncated { available: usize },
    /// A version other than 1.
    #[error("BFD: version {found}, expected {BFD_VERSION}")]
    Version { found: u8 },
    /// The Length field is below the minimum (24, or 26 with the A bit).
    #[error("BFD: Length field {length} below the minimum {minimum}")]
    LengthTooShort { length: u8, minimum: usize },
    /// The Length field claims more than the UDP payload holds.
    #[error("BFD: Length field {length} exceeds the {available} bytes received")]
    LengthBeyondPayload { length: u8, available: usize },
    /// The authentication section's Auth Len does not fit the packet.
    #[error("BFD: Auth Len {auth_len} does not fit the {room} bytes after the header")]
    AuthLength { auth_len: u8, room: usize },
    /// Detect Mult is zero.
    #[error("BFD: Detect Mult is zero")]
    DetectMultZero,
    /// The Multipoint bit is set.
    #[error("BFD: Multipoint bit set")]
    Multipoint,
    /// Poll and Final both set (RFC 5880 6.5 forbids it).
    #[error("BFD: Poll and Final both set")]
    PollAndFinal,
    /// My Discriminator is zero.
    #[error("BFD: My Discriminator is zero")]
    MyDiscriminatorZero,
    /// Your Discriminator is zero in a state other than Down or AdminDown.
    #[error("BFD: Your Discriminator is zero in state {state}")]
    YourDiscriminatorZero { state: BfdState },
    /// Your Discriminator names no session of ours.
    #[error("BFD: Your Discriminator {found:#x} is not ours ({expected:#x})")]
    UnknownDiscriminator { found: u32, expected: u32 },
    /// The A bit is set and this session uses no authentication.
    #[error("BFD: authentication (type {auth_type}) is not configured")]
    AuthenticationNotConfigured { auth_type: u8 },
    /// TTL or hop limit below 255: the packet crossed a router (RFC 5881 5).
    #[error("BFD: TTL {ttl}, single hop requires 255")]
    Ttl { ttl: u8 },
}

/// Fieldless summary of a [`BfdError`]: one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum BfdDrop {
    Truncated,
    Version,
    LengthTooShort,
    LengthBeyondPayload,
    AuthLength,
    DetectMultZero,
    Multipoint,
    PollAndFinal,
    MyDiscriminatorZero,
    YourDiscriminatorZero,
    UnknownDiscriminator,
    AuthenticationNotConfigured,
    Ttl,
}

impl BfdDrop {
    /// Every reason, in discriminant order (`ALL[r as usize] == r`).
    pub const ALL: [BfdDrop; 13] = [
        BfdDrop::Truncated,
        BfdDrop::Version,
        BfdDrop::LengthTooShort,
        BfdDrop::LengthBeyondPayload,
        BfdDrop::AuthLength,
        BfdDrop::DetectMultZero,
        BfdDrop::Multipoint,
        BfdDrop::PollAndFinal,
        BfdDrop::MyDiscriminatorZero,
        BfdDrop::YourDiscriminatorZero,
        BfdDrop::UnknownDiscriminator,
        BfdDrop::AuthenticationNotConfigured,
        BfdDrop::Ttl,
    ];

    /// A stable snake_case name for counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            BfdDrop::Truncated => "truncated",
            BfdDrop::Version => "version",
            BfdDrop::LengthTooShort => "length_too_short",
            BfdDrop::LengthBeyondPayload => "length_beyond_payload",
            BfdDrop::AuthLength => "auth_length",
            BfdDrop::DetectMultZero => "detect_mult_zero",
            BfdDrop::Multipoint => "multipoint",
            BfdDrop::PollAndFinal => "poll_and_final",
            BfdDrop::MyDiscriminatorZero => "my_discriminator_zero",
            BfdDrop::YourDiscriminatorZero => "your_discriminator_zero",
            BfdDrop::UnknownDiscriminator => "unknown_discriminator",
            BfdDrop::AuthenticationNotConfigured => "authentication_not_configured",
            BfdDrop::Ttl => "ttl",
        }
    }
}

impl BfdError {
    /// The counter this error is accounted under.
    pub const fn drop_reason(&self) -> BfdDrop {
        match self {
            BfdError::Truncated { .. } => BfdDrop::Truncated,
            BfdError::Version { .. } => BfdDrop::Version,
            BfdError::LengthTooShort { .. } => BfdDrop::LengthTooShort,
            BfdError::LengthBeyondPayload { .. } => BfdDrop::LengthBeyondPayload,
            BfdError::AuthLength { .. } => BfdDrop::AuthLength,
            BfdError::DetectMultZero => BfdDrop::DetectMultZero,
            BfdError::Multipoint => BfdDrop::Multipoint,
            BfdError::PollAndFinal => BfdDrop::PollAndFinal,
            BfdError::MyDiscriminatorZero => BfdDrop::MyDiscriminatorZero,
            BfdError::YourDiscriminatorZero { .. } => BfdDrop::YourDiscriminatorZero,
            BfdError::UnknownDiscriminator { .. } => BfdDrop::UnknownDiscriminator,
            BfdError::AuthenticationNotConfigured { .. } => BfdDrop::AuthenticationNotConfigured,
            BfdError::Ttl { .. } => BfdDrop::Ttl,
        }
    }
}

/// A Control packet in `B` (a UDP payload) that passed
/// [`BfdPacket::new_checked`].
#[derive(Debug, Clone)]
pub struct BfdPacket<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> BfdPacket<B> {
    /// Checks `buffer` as RFC 5880 6.8.6 says, up to the session lookup.
    /// Bytes past the Length field are ignored.
    pub fn new_checked(buffer: B) -> Result<Self, BfdError> {
        let bytes = buffer.as_ref();
        let available = bytes.len();
        let header: &[u8; BFD_CONTROL_LEN] = bytes
            .first_chunk()
            .ok_or(BfdError::Truncated { available })?;
        let version = header[field::VERSION_DIAG] >> 5;
        if version != BFD_VERSION {
            return Err(BfdError::Version { found: version });
        }
        let flags = header[field::STATE_FLAGS];
        let length = header[field::LENGTH];
        let minimum = if flags & field::AUTHENTICATION != 0 {
            BFD_CONTROL_AUTH_MIN_LEN
        } else {
            BFD_CONTROL_LEN
        };
        if usize::from(length) < minimum {
            return Err(BfdError::LengthTooShort { length, minimum });
        }
        if usize::from(length) > available {
            return Err(BfdError::LengthBeyondPayload { length, available });
        }
        if flags & field::AUTHENTICATION != 0 {
            // Auth Len counts the whole section, Auth Type and Auth Len included.
            let auth_len = bytes.get(field::AUTH_LEN).copied().unwrap_or(0);
            let room = usize::from(length) - BFD_CONTROL_LEN;
            if usize::from(auth_len) < 2 || usize::from(auth_len) > room {
                return Err(BfdError::AuthLength { auth_len, room });
            }
        }
        if header[field::DETECT_MULT] == 0 {
            return Err(BfdError::DetectMultZero);
        }
        if flags & field::MULTIPOINT != 0 {
            return Err(BfdError::Multipoint);
        }
        if flags & (field::POLL | field::FINAL) == field::POLL | field::FINAL {
            return Err(BfdError::PollAndFinal);
        }
        let word = |range: std::ops::Range<usize>| {
            u32::from_be_bytes([
                header[range.start],
                header[range.start + 1],
                header[range.start + 2],
                header[range.start + 3],
            ])
        };
        if word(field::MY_DISCRIMINATOR) == 0 {
            return Err(BfdError::MyDiscriminatorZero);
        }
        let state = BfdState::from_bits(flags >> 6);
        if word(field::YOUR_DISCRIMINATOR) == 0
            && !matches!(state, BfdState::Down | BfdState::AdminDown)
        {
            return Err(BfdError::YourDiscriminatorZero { state });
        }
        Ok(Self { buffer })
    }

    fn header(&self) -> &[u8; BFD_CONTROL_LEN] {
        // new_checked saw at least BFD_CONTROL_LEN bytes.
        self.buffer
            .as_ref()
            .first_chunk()
            .unwrap_or(&[0; BFD_CONTROL_LEN])
    }

    fn word(&self, range: std::ops::Range<usize>) -> u32 {
        let h = self.header();
        u32::from_be_bytes([
            h[range.start],
            h[range.start + 1],
            h[range.start + 2],
            h[range.start + 3],
        ])
    }

    fn flag(&self, mask: u8) -> bool {
        self.header()[field::STATE_FLAGS] & mask != 0
    }

    /// The Diagnostic code.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic(self.header()[field::VERSION_DIAG] & 0x1f)
    }

    /// The sender's session state.
    pub fn state(&self) -> BfdState {
        BfdState::from_bits(self.header()[field::STATE_FLAGS] >> 6)
    }

    /// The Auth Type when the A bit is set.
    pub fn auth_type(&self) -> Option<u8> {
        let bytes = self.buffer.as_ref();
        self.flag(field::AUTHENTICATION)
            .then(|| bytes.get(field::AUTH_TYPE).copied().unwrap_or(0))
    }
}

/// The fields of a Control packet; intervals in microseconds as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BfdControl {
    pub diagnostic: Diagnostic,
    pub state: BfdState,
    /// P: the sender asks for a Final (a parameter change).
    pub poll: bool,
    /// F: the answer to a Poll.
    pub final_: bool,
    /// C: BFD does not share fate with the control plane.
    pub control_plane_independent: bool,
    /// A: an authentication section follows (never sent here).
    pub authentication: bool,
    /// D: the sender wants Demand mode.
    pub demand: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    pub desired_min_tx_us: u32,
    pub required_min_rx_us: u32,
    pub required_min_echo_rx_us: u32,
}

impl BfdControl {
    /// The fields of a checked packet.
    pub fn parse<B: AsRef<[u8]>>(packet: &BfdPacket<B>) -> Self {
        BfdControl {
            diagnostic: packet.diagnostic(),
            state: packet.state(),
            poll: packet.flag(field::POLL),
            final_: packet.flag(field::FINAL),
            control_plane_independent: packet.flag(field::CONTROL_PLANE_INDEPENDENT),
            authentication: packet.flag(field::AUTHENTICATION),
            demand: packet.flag(field::DEMAND),
            detect_mult: packet.header()[field::DETECT_MULT],
            my_discriminator: packet.word(field::MY_DISCRIMINATOR),
            your_discriminator: packet.word(field::YOUR_DISCRIMINATOR),
            desired_min_tx_us: packet.word(field::DESIRED_MIN_TX),
            required_min_rx_us: packet.word(field::REQUIRED_MIN_RX),
            required_min_echo_rx_us: packet.word(field::REQUIRED_MIN_ECHO_RX),
        }
    }

    /// Writes the 24-byte packet (Length 24: the A bit is written as given
    /// but no authentication section is; senders here never set it).
    pub fn emit(&self, out: &mut [u8; BFD_CONTROL_LEN]) {
        let state = self.state as u8;
        out[field::VERSION_DIAG] = (BFD_VERSION << 5) | (self.diagnostic.0 & 0x1f);
        let mut flags = state << 6;
        for (set, mask) in [
            (self.poll, field::POLL),
            (self.final_, field::FINAL),
            (
                self.control_plane_independent,
                field::CONTROL_PLANE_INDEPENDENT,
            ),
            (self.authentication, field::AUTHENTICATION),
            (self.demand, field::DEMAND),
        ] {
            if set {
                flags |= mask;
            }
        }
        out[field::STATE_FLAGS] = flags;
        out[field::DETECT_MULT] = self.detect_mult;
        out[field::LENGTH] = BFD_CONTROL_LEN as u8;
        out[field::MY_DISCRIMINATOR].copy_from_slice(&self.my_discriminator.to_be_bytes());
        out[field::YOUR_DISCRIMINATOR].copy_from_slice(&self.your_discriminator.to_be_bytes());
        out[field::DESIRED_MIN_TX].copy_from_slice(&self.desired_min_tx_us.to_be_bytes());
        out[field::REQUIRED_MIN_RX].copy_from_slice(&self.required_min_rx_us.to_be_bytes());
        out[field::REQUIRED_MIN_ECHO_RX]
            .copy_from_slice(&self.required_min_echo_rx_us.to_be_bytes());
    }
}

#[cfg(test)]
#[path = "bfd_tests.rs"]
mod tests;
