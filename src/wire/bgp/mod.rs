//! BGP-4 messages (RFC 4271 section 4): the 19-byte header, framing of a TCP
//! byte stream into messages, and KEEPALIVE, NOTIFICATION (RFC 4486 Cease
//! subcodes) and ROUTE-REFRESH (RFC 2918); OPEN and UPDATE have files of their own.
//!
//! Every decoding failure is the [`Notification`] RFC 4271 section 6 (and
//! RFC 7606 for UPDATEs) says to send, so a caller answers bad input by
//! sending the error it got.

mod attributes;
mod notification;
mod open;
mod update;

#[cfg(test)]
mod tests_update;

pub use attributes::{
    AS_TRANS, AsPath, AsSegment, AttributeError, Origin, PathAttributes, RawAttribute, SegmentKind,
};
pub use notification::{Notification, cease, code, header_error, open_error, update_error};
pub use open::{Capabilities, Family, Open};
pub use update::{
    AttributesTooLong, MpReach, MpUnreach, Prefixes, Update, encode_announce, encode_end_of_rib,
    encode_withdraw, prefix_encoded_len,
};

/// Length of the all-ones marker opening every message.
pub const MARKER_LEN: usize = 16;
/// Length of the message header: marker, length, type.
pub const HEADER_LEN: usize = 19;
/// Largest message RFC 4271 allows (RFC 8654 extended messages are not negotiated).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The TCP port BGP listens on (RFC 4271 section 8.2.1).
pub const BGP_PORT: u16 = 179;

/// Message types (RFC 4271 4.1, RFC 2918 3).
pub mod message_type {
    /// OPEN.
    pub const OPEN: u8 = 1;
    /// UPDATE.
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 5;
}

/// Smallest valid length of each message type, and whether it is exact.
fn length_bounds(message_type: u8) -> Option<(usize, bool)> {
    Some(match message_type {
        message_type::OPEN => (29, false),
        message_type::UPDATE => (23, false),
        message_type::NOTIFICATION => (21, false),
        message_type::KEEPALIVE => (19, true),
        message_type::ROUTE_REFRESH => (23, true),
        _ => return None,
    })
}

/// One framed message: its type and body (the bytes after the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The message type.
    pub message_type: u8,
    /// The message after its 19-byte header.
    pub body: &'a [u8],
    /// The whole message's length (header included).
    pub len: usize,
}

/// Finds the message at the start of `stream`: `Ok(None)` while its bytes
/// are incomplete; the Message Header Error to send when the header is bad
/// (RFC 4271 6.1). The header is checked as soon as its 19 bytes are in.
pub fn frame(stream: &[u8]) -> Result<Option<Frame<'_>>, Notification> {
    let Some(header) = stream.get(..HEADER_LEN) else {
        return Ok(None);
    };
    if header[..MARKER_LEN].iter().any(|&byte| byte != 0xff) {
        return Err(Notification::new(
            code::MESSAGE_HEADER,
            header_error::CONNECTION_NOT_SYNCHRONIZED,
        ));
    }
    let length_field = [header[16], header[17]];
    let len = usize::from(u16::from_be_bytes(length_field));
    let message_type = header[18];
    let bad_length = || {
        Notification::with_data(
            code::MESSAGE_HEADER,
            header_error::BAD_MESSAGE_LENGTH,
            &length_field,
        )
    };
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
        return Err(bad_length());
    }
    let Some((min, exact)) = length_bounds(message_type) else {
        return Err(Notification::with_data(
            code::MESSAGE_HEADER,
            header_error::BAD_MESSAGE_TYPE,
            &[message_type],
        ));
    };
    if len < min || (exact && len != min) {
        return Err(bad_length());
    }
    Ok(stream.get(HEADER_LEN..len).map(|body| Frame {
        message_type,
        body,
        len,
    }))
}

/// Appends a header for a message of `body_len` bytes; the caller appends the body.
pub(crate) fn push_header(out: &mut Vec<u8>, message_type: u8, body_len: usize) {
    let len = HEADER_LEN + body_len;
    debug_assert!(len <= MAX_MESSAGE_LEN, "BGP message of {len} bytes");
    out.extend_from_slice(&[0xff; MARKER_LEN]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.push(message_type);
}

/// Appends a KEEPALIVE (RFC 4271 4.4: the header alone).
pub fn encode_keepalive(out: &mut Vec<u8>) {
    push_header(out, message_type::KEEPALIVE, 0);
}

/// A ROUTE-REFRESH request (RFC 2918 3): resend the Adj-RIB-Out of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// Address family identifier.
    pub afi: u16,
    /// Subsequent address family identifier.
    pub safi: u8,
}

impl RouteRefresh {
    /// Decodes a ROUTE-REFRESH body (the framing already checked it is 4 bytes).
    pub fn decode(body: &[u8]) -> Result<Self, Notification> {
        match body {
            [a, b, _reserved, safi] => Ok(Self {
                afi: u16::from_be_bytes([*a, *b]),
                safi: *safi,
            }),
            // RFC 7313 5: ROUTE-REFRESH Message Error, Invalid Message Length.
            _ => Err(Notification::with_data(code::ROUTE_REFRESH, 1, body)),
        }
    }

    /// Appends the message.
    pub fn encode(&self, out: &mut Vec<u8>) {
        push_header(out, message_type::ROUTE_REFRESH, 4);
        out.extend_from_slice(&self.afi.to_be_bytes());
        out.push(0);
        out.push(self.safi);
    }
}

/// Reads a big-endian u16 at `at`; callers check the length first.
pub(crate) fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// Reads a big-endian u32 at `at`.
pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u16, message_type: u8) -> Vec<u8> {
        let mut out = vec![0xff; MARKER_LEN];
        out.extend_from_slice(&len.to_be_bytes());
        out.push(message_type);
        out
    }

    #[test]
    fn keepalive_frames_and_partial_headers_wait() {
        let mut out = Vec::new();
        encode_keepalive(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        for cut in 0..out.len() {
            assert_eq!(frame(&out[..cut]), Ok(None), "cut at {cut}");
        }
        let framed = frame(&out).unwrap().unwrap();
        assert_eq!(framed.message_type, message_type::KEEPALIVE);
        assert!(framed.body.is_empty());
    }

    #[test]
    fn a_bad_marker_is_connection_not_synchronized() {
        let mut bytes = header(19, message_type::KEEPALIVE);
        bytes[3] = 0;
        let err = frame(&bytes).unwrap_err();
        assert_eq!((err.code, err.subcode), (1, 1));
    }

    #[test]
    fn every_bad_length_is_refused_with_the_length_as_data() {
        for message_type in 1..=5u8 {
            let (min, exact) = length_bounds(message_type).unwrap();
            for len in (0..min).chain([4097, 65535]).chain(if exact {
                vec![min + 1, 4096]
            } else {
                vec![]
            }) {
                let bytes = header(len as u16, message_type);
                let err = frame(&bytes).unwrap_err();
                assert_eq!(
                    (err.code, err.subcode),
                    (1, 2),
                    "type {message_type} len {len}"
                );
                assert_eq!(err.data, (len as u16).to_be_bytes());
            }
        }
    }

    #[test]
    fn an_unknown_type_is_bad_message_type() {
        for message_type in [0u8, 6, 255] {
            let err = frame(&header(19, message_type)).unwrap_err();
            assert_eq!((err.code, err.subcode), (1, 3));
            assert_eq!(err.data, [message_type]);
        }
    }

    #[test]
    fn route_refresh_round_trips() {
        let refresh = RouteRefresh { afi: 2, safi: 1 };
        let mut out = Vec::new();
        refresh.encode(&mut out);
        let framed = frame(&out).unwrap().unwrap();
        assert_eq!(framed.message_type, message_type::ROUTE_REFRESH);
        assert_eq!(RouteRefresh::decode(framed.body), Ok(refresh));
        assert_eq!(RouteRefresh::decode(&[0, 1]).unwrap_err().code, 7);
    }
}
