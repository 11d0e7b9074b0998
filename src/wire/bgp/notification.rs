//! NOTIFICATION (RFC 4271 4.5): error code, subcode and data, with the codes
//! of RFC 4271 section 6, RFC 4486 (Cease subcodes) and RFC 7313.

use std::fmt;

use super::{HEADER_LEN, MAX_MESSAGE_LEN, message_type, push_header};

/// Error codes (RFC 4271 4.5, RFC 7313 5).
pub mod code {
    /// Message Header Error.
    pub const MESSAGE_HEADER: u8 = 1;
    /// OPEN Message Error.
    pub const OPEN_MESSAGE: u8 = 2;
    /// UPDATE Message Error.
    pub const UPDATE_MESSAGE: u8 = 3;
    /// Hold Timer Expired.
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error.
    pub const FSM: u8 = 5;
    /// Cease.
    pub const CEASE: u8 = 6;
    /// ROUTE-REFRESH Message Error (RFC 7313).
    pub const ROUTE_REFRESH: u8 = 7;
}

/// Message Header Error subcodes (RFC 4271 6.1).
pub mod header_error {
    /// The marker is not all ones.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    /// The length field is out of range for the type.
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    /// The type is unknown.
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// OPEN Message Error subcodes (RFC 4271 6.2, RFC 5492).
pub mod open_error {
    /// Malformed optional parameter (RFC 4271 6.2: "Unspecific").
    pub const UNSPECIFIC: u8 = 0;
    /// Version is not 4.
    pub const UNSUPPORTED_VERSION: u8 = 1;
    /// The peer's AS is not the configured one.
    pub const BAD_PEER_AS: u8 = 2;
    /// BGP Identifier 0 (or ours).
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    /// An optional parameter other than capabilities.
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    /// Hold time of 1 or 2 seconds, or below the configured minimum.
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
}

/// UPDATE Message Error subcodes (RFC 4271 6.3).
pub mod update_error {
    /// Lengths inconsistent with the message.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    /// A well-known attribute we do not know.
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    /// ORIGIN, AS_PATH or NEXT_HOP missing.
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    /// Flags conflicting with the attribute type.
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    /// Length wrong for the attribute type.
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    /// ORIGIN value undefined.
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    /// NEXT_HOP not a valid host address.
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    /// An optional attribute failed its checks.
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    /// NLRI syntactically wrong.
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    /// AS_PATH syntactically wrong.
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Cease subcodes (RFC 4486 4, RFC 9384).
pub mod cease {
    /// Maximum Number of Prefixes Reached (data: AFI, SAFI, limit).
    pub const MAX_PREFIXES: u8 = 1;
    /// Administrative Shutdown.
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    /// Peer De-configured.
    pub const PEER_DECONFIGURED: u8 = 3;
    /// Administrative Reset.
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    /// Connection Rejected.
    pub const CONNECTION_REJECTED: u8 = 5;
    /// Other Configuration Change.
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    /// Connection Collision Resolution.
    pub const CONNECTION_COLLISION: u8 = 7;
    /// Out of Resources.
    pub const OUT_OF_RESOURCES: u8 = 8;
    /// BFD Down (RFC 9384): the BFD session protecting it went down.
    pub const BFD_DOWN: u8 = 10;
}

/// Most data a NOTIFICATION can carry in a 4,096-byte message.
pub(crate) const MAX_DATA_LEN: usize = MAX_MESSAGE_LEN - HEADER_LEN - 2;

/// A NOTIFICATION: sent before closing the connection, or received from the
/// peer. Also the error type of every decoder here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// Error code ([`code`]).
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Diagnostic data (at most `MAX_DATA_LEN` bytes).
    pub data: Vec<u8>,
}

impl Notification {
    /// A NOTIFICATION without data.
    pub fn new(code: u8, subcode: u8) -> Self {
        Self {
            code,
            subcode,
            data: Vec::new(),
        }
    }

    /// A NOTIFICATION with data (truncated to `MAX_DATA_LEN`).
    pub fn with_data(code: u8, subcode: u8, data: &[u8]) -> Self {
        Self {
            code,
            subcode,
            data: data[..data.len().min(MAX_DATA_LEN)].to_vec(),
        }
    }

    /// Decodes a NOTIFICATION body (at least 2 bytes, checked by framing).
    pub fn decode(body: &[u8]) -> Result<Self, Notification> {
        match body {
            [code, subcode, data @ ..] => Ok(Self::with_data(*code, *subcode, data)),
            _ => Err(Notification::new(
                code::MESSAGE_HEADER,
                header_error::BAD_MESSAGE_LENGTH,
            )),
        }
    }

    /// Appends the message.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let data = &self.data[..self.data.len().min(MAX_DATA_LEN)];
        push_header(out, message_type::NOTIFICATION, 2 + data.len());
        out.push(self.code);
        out.push(self.subcode);
        out.extend_from_slice(data);
    }

    /// The name of the error code and subcode.
    pub fn describe(&self) -> &'static str {
        match (self.code, self.subcode) {
            (1, 1) => "Message Header Error: Connection Not Synchronized",
            (1, 2) => "Message Header Error: Bad Message Length",
            (1, 3) => "Message Header Error: Bad Message Type",
            (1, _) => "Message Header Error",
            (2, 1) => "OPEN Message Error: Unsupported Version Number",
            (2, 2) => "OPEN Message Error: Bad Peer AS",
            (2, 3) => "OPEN Message Error: Bad BGP Identifier",
            (2, 4) => "OPEN Message Error: Unsupported Optional Parameter",
            (2, 6) => "OPEN Message Error: Unacceptable Hold Time",
            (2, 7) => "OPEN Message Error: Unsupported Capability",
            (2, _) => "OPEN Message Error",
            (3, 1) => "UPDATE Message Error: Malformed Attribute List",
            (3, 2) => "UPDATE Message Error: Unrecognized Well-known Attribute",
            (3, 3) => "UPDATE Message Error: Missing Well-known Attribute",
            (3, 4) => "UPDATE Message Error: Attribute Flags Error",
            (3, 5) => "UPDATE Message Error: Attribute Length Error",
            (3, 6) => "UPDATE Message Error: Invalid ORIGIN Attribute",
            (3, 8) => "UPDATE Message Error: Invalid NEXT_HOP Attribute",
            (3, 9) => "UPDATE Message Error: Optional Attribute Error",
            (3, 10) => "UPDATE Message Error: Invalid Network Field",
            (3, 11) => "UPDATE Message Error: Malformed AS_PATH",
            (3, _) => "UPDATE Message Error",
            (4, _) => "Hold Timer Expired",
            (5, _) => "Finite State Machine Error",
            (6, 1) => "Cease: Maximum Number of Prefixes Reached",
            (6, 2) => "Cease: Administrative Shutdown",
            (6, 3) => "Cease: Peer De-configured",
            (6, 4) => "Cease: Administrative Reset",
            (6, 5) => "Cease: Connection Rejected",
            (6, 6) => "Cease: Other Configuration Change",
            (6, 7) => "Cease: Connection Collision Resolution",
            (6, 8) => "Cease: Out of Resources",
            (6, 10) => "Cease: BFD Down",
            (6, _) => "Cease",
            (7, _) => "ROUTE-REFRESH Message Error",
            _ => "unknown error code",
        }
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({})", self.code, self.subcode, self.describe())?;
        if !self.data.is_empty() {
            write!(f, " data {}", hex::encode(&self.data))?;
        }
        Ok(())
    }
}

impl std::error::Error for Notification {}

#[cfg(test)]
mod tests {
    use super::super::frame;
    use super::*;

    #[test]
    fn round_trips_with_and_without_data() {
        for notification in [
            Notification::new(code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN),
            Notification::with_data(code::CEASE, cease::MAX_PREFIXES, &[0, 1, 1, 0, 0, 0, 10]),
        ] {
            let mut out = Vec::new();
            notification.encode(&mut out);
            let framed = frame(&out).unwrap().unwrap();
            assert_eq!(Notification::decode(framed.body), Ok(notification));
        }
    }

    #[test]
    fn oversized_data_is_cut_to_fit_one_message() {
        let big = Notification::with_data(3, 1, &[7; 5000]);
        let mut out = Vec::new();
        big.encode(&mut out);
        assert_eq!(out.len(), MAX_MESSAGE_LEN);
        assert!(frame(&out).unwrap().is_some());
    }

    #[test]
    fn display_names_the_cease_subcode() {
        let text = Notification::with_data(6, 1, &[0, 1, 1, 0, 0, 0, 10]).to_string();
        assert_eq!(
            text,
            "6/1 (Cease: Maximum Number of Prefixes Reached) data 0001010000000a"
        );
    }
}
