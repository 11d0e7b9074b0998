//! IKEv2 message format (RFC 7296 section 3): the header, the generic payload
//! chain and the payloads erdp negotiates with (SA, KE, Nonce, Notify, ID,
//! AUTH, TS, SK, Delete), parsed into owned values and written back.
//!
//! Parsing never panics: every length is checked against the bytes present
//! and a failure is an [`IkeWireError`] naming the structure and offset.
//! Payload lists are bounded by the datagram itself (each entry takes at
//! least its header's bytes), and by [`MAX_PAYLOADS`] as well.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

mod delete;
pub use delete::{Delete, MAX_DELETED_SPIS};

/// Length of the IKE header (RFC 7296 section 3.1).
pub const IKE_HEADER_LEN: usize = 28;
/// Length of the generic payload header (RFC 7296 section 3.2).
pub const PAYLOAD_HEADER_LEN: usize = 4;
/// IKE major version 2, minor 0, in the version octet.
pub const IKE_VERSION: u8 = 0x20;
/// The most payloads a message may chain; more is hostile.
pub const MAX_PAYLOADS: usize = 64;
/// The non-ESP marker before IKE messages on UDP 4500 (RFC 3948 section 2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// Exchange types (RFC 7296 section 3.1).
pub mod exchange {
    /// IKE_SA_INIT.
    pub const IKE_SA_INIT: u8 = 34;
    /// IKE_AUTH.
    pub const IKE_AUTH: u8 = 35;
    /// CREATE_CHILD_SA.
    pub const CREATE_CHILD_SA: u8 = 36;
    /// INFORMATIONAL.
    pub const INFORMATIONAL: u8 = 37;
}

/// Header flags (RFC 7296 section 3.1).
pub mod flags {
    /// Sent by the original initiator of the IKE SA.
    pub const INITIATOR: u8 = 0x08;
    /// Version: the sender can speak a higher major version.
    pub const VERSION: u8 = 0x10;
    /// This message is a response.
    pub const RESPONSE: u8 = 0x20;
}

/// Payload types (RFC 7296 section 3.2).
pub mod payload {
    /// No next payload.
    pub const NONE: u8 = 0;
    /// Security Association.
    pub const SA: u8 = 33;
    /// Key Exchange.
    pub const KE: u8 = 34;
    /// Identification, initiator.
    pub const IDI: u8 = 35;
    /// Identification, responder.
    pub const IDR: u8 = 36;
    /// Certificate request.
    pub const CERTREQ: u8 = 38;
    /// Authentication.
    pub const AUTH: u8 = 39;
    /// Nonce.
    pub const NONCE: u8 = 40;
    /// Notify.
    pub const NOTIFY: u8 = 41;
    /// Delete.
    pub const DELETE: u8 = 42;
    /// Vendor ID.
    pub const VENDOR_ID: u8 = 43;
    /// Traffic Selector, initiator.
    pub const TSI: u8 = 44;
    /// Traffic Selector, responder.
    pub const TSR: u8 = 45;
    /// Encrypted and Authenticated.
    pub const SK: u8 = 46;
}

/// Notify message types (RFC 7296 section 3.10.1, RFC 7383).
pub mod notify {
    /// An error notify type is below 16384.
    pub const FIRST_STATUS: u16 = 16384;
    /// UNSUPPORTED_CRITICAL_PAYLOAD.
    pub const UNSUPPORTED_CRITICAL_PAYLOAD: u16 = 1;
    /// INVALID_SYNTAX.
    pub const INVALID_SYNTAX: u16 = 7;
    /// NO_PROPOSAL_CHOSEN.
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    /// INVALID_KE_PAYLOAD.
    pub const INVALID_KE_PAYLOAD: u16 = 17;
    /// AUTHENTICATION_FAILED.
    pub const AUTHENTICATION_FAILED: u16 = 24;
    /// NO_ADDITIONAL_SAS.
    pub const NO_ADDITIONAL_SAS: u16 = 35;
    /// TS_UNACCEPTABLE.
    pub const TS_UNACCEPTABLE: u16 = 38;
    /// INITIAL_CONTACT.
    pub const INITIAL_CONTACT: u16 = 16384;
    /// CHILD_SA_NOT_FOUND: a rekey or delete names an SA that does not exist.
    pub const CHILD_SA_NOT_FOUND: u16 = 44;
    /// REKEY_SA: the CHILD_SA this CREATE_CHILD_SA replaces (its SPI).
    pub const REKEY_SA: u16 = 16393;
    /// NAT_DETECTION_SOURCE_IP.
    pub const NAT_DETECTION_SOURCE_IP: u16 = 16388;
    /// NAT_DETECTION_DESTINATION_IP.
    pub const NAT_DETECTION_DESTINATION_IP: u16 = 16389;
    /// COOKIE.
    pub const COOKIE: u16 = 16390;
    /// USE_TRANSPORT_MODE.
    pub const USE_TRANSPORT_MODE: u16 = 16391;
}

/// Security protocol identifiers (RFC 7296 section 3.3.1).
pub mod protocol {
    /// IKE.
    pub const IKE: u8 = 1;
    /// ESP.
    pub const ESP: u8 = 3;
}

/// Transform types and IDs (RFC 7296 section 3.3.2, IANA "IKEv2 Parameters").
pub mod transform {
    /// Encryption algorithm.
    pub const ENCR: u8 = 1;
    /// Pseudorandom function.
    pub const PRF: u8 = 2;
    /// Integrity algorithm.
    pub const INTEG: u8 = 3;
    /// Diffie-Hellman group.
    pub const DH: u8 = 4;
    /// Extended sequence numbers.
    pub const ESN: u8 = 5;
    /// ENCR_AES_CBC (RFC 3602).
    pub const ENCR_AES_CBC: u16 = 12;
    /// ENCR_AES_GCM_16 (RFC 5282, RFC 4106).
    pub const ENCR_AES_GCM_16: u16 = 20;
    /// ENCR_CHACHA20_POLY1305 (RFC 7634).
    pub const ENCR_CHACHA20_POLY1305: u16 = 28;
    /// PRF_HMAC_SHA2_256 (RFC 4868).
    pub const PRF_HMAC_SHA2_256: u16 = 5;
    /// PRF_HMAC_SHA2_384 (RFC 4868).
    pub const PRF_HMAC_SHA2_384: u16 = 6;
    /// AUTH_HMAC_SHA2_256_128 (RFC 4868).
    pub const AUTH_HMAC_SHA2_256_128: u16 = 12;
    /// AUTH_HMAC_SHA2_384_192 (RFC 4868).
    pub const AUTH_HMAC_SHA2_384_192: u16 = 13;
    /// 2048-bit MODP group (RFC 3526).
    pub const DH_MODP_2048: u16 = 14;
    /// 256-bit random ECP group (RFC 5903).
    pub const DH_ECP_256: u16 = 19;
    /// 384-bit random ECP group (RFC 5903).
    pub const DH_ECP_384: u16 = 20;
    /// Curve25519 (RFC 8031).
    pub const DH_CURVE25519: u16 = 31;
    /// No extended sequence numbers.
    pub const ESN_NO: u16 = 0;
    /// Extended sequence numbers.
    pub const ESN_YES: u16 = 1;
    /// The Key Length attribute type (TV format, RFC 7296 section 3.3.5).
    pub const ATTR_KEY_LENGTH: u16 = 14;
}

/// Identification types (RFC 7296 section 3.5).
pub mod id_type {
    /// A single IPv4 address.
    pub const IPV4_ADDR: u8 = 1;
    /// A fully-qualified domain name.
    pub const FQDN: u8 = 2;
    /// An RFC 822 email address.
    pub const RFC822_ADDR: u8 = 3;
    /// A single IPv6 address.
    pub const IPV6_ADDR: u8 = 5;
    /// An opaque key identifier.
    pub const KEY_ID: u8 = 11;
}

/// Authentication methods (RFC 7296 section 3.8).
pub mod auth_method {
    /// Shared Key Message Integrity Code.
    pub const SHARED_KEY_MIC: u8 = 2;
}

/// Traffic selector types (RFC 7296 section 3.13.1).
pub mod ts_type {
    /// TS_IPV4_ADDR_RANGE.
    pub const IPV4_ADDR_RANGE: u8 = 7;
    /// TS_IPV6_ADDR_RANGE.
    pub const IPV6_ADDR_RANGE: u8 = 8;
}

/// A message or payload that does not parse: what, where, why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IkeWireError {
    /// Fewer bytes than the structure needs.
    #[error("IKE {what} at offset {offset}: needs {needed} bytes, {available} present")]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Its offset in the input.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A field holds a value the format forbids.
    #[error("IKE {what} at offset {offset}: {reason}")]
    Invalid {
        /// The structure.
        what: &'static str,
        /// Its offset in the input.
        offset: usize,
        /// Why.
        reason: &'static str,
    },
}

fn need(
    what: &'static str,
    bytes: &[u8],
    offset: usize,
    needed: usize,
) -> Result<(), IkeWireError> {
    let available = bytes.len().saturating_sub(offset);
    if available < needed {
        return Err(IkeWireError::Truncated {
            what,
            offset,
            needed,
            available,
        });
    }
    Ok(())
}

fn invalid(what: &'static str, offset: usize, reason: &'static str) -> IkeWireError {
    IkeWireError::Invalid {
        what,
        offset,
        reason,
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn len16(what: &'static str, len: usize) -> Result<u16, IkeWireError> {
    u16::try_from(len).map_err(|_| invalid(what, 0, "longer than 65535 bytes"))
}

/// The IKE header (RFC 7296 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IkeHeader {
    /// Initiator's SPI.
    pub spi_i: u64,
    /// Responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: u64,
    /// Type of the first payload.
    pub next_payload: u8,
    /// Version octet (major in the high nibble).
    pub version: u8,
    /// Exchange type.
    pub exchange: u8,
    /// Flags ([`flags`]).
    pub flags: u8,
    /// Message ID.
    pub message_id: u32,
    /// Length of the whole message, header included.
    pub length: u32,
}

impl IkeHeader {
    /// Parses the header of `message` and checks that the length field fits
    /// the datagram (trailing bytes beyond it are an error too).
    pub fn parse(message: &[u8]) -> Result<Self, IkeWireError> {
        need("header", message, 0, IKE_HEADER_LEN)?;
        let header = IkeHeader {
            spi_i: u64::from_be_bytes(message[0..8].try_into().unwrap_or_default()),
            spi_r: u64::from_be_bytes(message[8..16].try_into().unwrap_or_default()),
            next_payload: message[16],
            version: message[17],
            exchange: message[18],
            flags: message[19],
            message_id: be32(message, 20),
            length: be32(message, 24),
        };
        if header.version >> 4 != 2 {
            return Err(invalid("header", 17, "major version is not 2"));
        }
        if header.length as usize != message.len() {
            return Err(invalid(
                "header",
                24,
                "length field differs from the datagram's length",
            ));
        }
        Ok(header)
    }

    /// Writes the header into the first [`IKE_HEADER_LEN`] bytes of `out`.
    pub fn write(&self, out: &mut [u8; IKE_HEADER_LEN]) {
        out[0..8].copy_from_slice(&self.spi_i.to_be_bytes());
        out[8..16].copy_from_slice(&self.spi_r.to_be_bytes());
        out[16] = self.next_payload;
        out[17] = self.version;
        out[18] = self.exchange;
        out[19] = self.flags;
        out[20..24].copy_from_slice(&self.message_id.to_be_bytes());
        out[24..28].copy_from_slice(&self.length.to_be_bytes());
    }

    /// True for a response.
    pub fn is_response(&self) -> bool {
        self.flags & flags::RESPONSE != 0
    }

    /// True when the original initiator sent it.
    pub fn from_initiator(&self) -> bool {
        self.flags & flags::INITIATOR != 0
    }
}

/// One payload of a chain: its type, critical bit and body (after the
/// generic header), with the body's offset in the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    /// Payload type.
    pub kind: u8,
    /// The critical bit.
    pub critical: bool,
    /// The body.
    pub body: &'a [u8],
    /// Offset of the generic header in the parsed buffer.
    pub offset: usize,
}

/// Splits a payload chain starting with type `first` at `bytes[start..]`.
/// For an SK payload the chain ends there (its body is the rest).
pub fn split_payloads(
    bytes: &[u8],
    start: usize,
    first: u8,
) -> Result<Vec<RawPayload<'_>>, IkeWireError> {
    let mut out = Vec::new();
    let mut kind = first;
    let mut at = start;
    while kind != payload::NONE {
        if out.len() == MAX_PAYLOADS {
            return Err(invalid("payload chain", at, "more than 64 payloads"));
        }
        need("payload header", bytes, at, PAYLOAD_HEADER_LEN)?;
        let next = bytes[at];
        let critical = bytes[at + 1] & 0x80 != 0;
        let len = usize::from(be16(bytes, at + 2));
        if len < PAYLOAD_HEADER_LEN {
            return Err(invalid("payload header", at, "length below 4"));
        }
        need("payload", bytes, at, len)?;
        out.push(RawPayload {
            kind,
            critical,
            body: &bytes[at + PAYLOAD_HEADER_LEN..at + len],
            offset: at,
        });
        at += len;
        if kind == payload::SK {
            // The SK payload is last; its next-payload names the first
            // payload inside it (RFC 7296 section 3.14).
            if at != bytes.len() {
                return Err(invalid("SK payload", at, "bytes after the SK payload"));
            }
            return Ok(out);
        }
        kind = next;
    }
    if at != bytes.len() {
        return Err(invalid("payload chain", at, "bytes after the last payload"));
    }
    Ok(out)
}

/// The next-payload octet of the SK payload at `offset` (the type of the
/// first inner payload).
pub fn sk_inner_first(bytes: &[u8], offset: usize) -> u8 {
    bytes.get(offset).copied().unwrap_or(payload::NONE)
}

/// Builds a payload chain, keeping each header's next-payload field right.
#[derive(Debug, Clone, Default)]
pub struct PayloadChain {
    bytes: Vec<u8>,
    first: u8,
    last_next_at: Option<usize>,
}

impl PayloadChain {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a payload of type `kind` with `body`.
    pub fn push(&mut self, kind: u8, body: &[u8]) -> Result<(), IkeWireError> {
        let len = len16("payload", PAYLOAD_HEADER_LEN + body.len())?;
        match self.last_next_at {
            Some(at) => self.bytes[at] = kind,
            None => self.first = kind,
        }
        self.last_next_at = Some(self.bytes.len());
        self.bytes.extend_from_slice(&[payload::NONE, 0]);
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(body);
        Ok(())
    }

    /// Type of the first payload ([`payload::NONE`] when empty).
    pub fn first(&self) -> u8 {
        self.first
    }

    /// The encoded chain.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Builds a whole message: `header` (its next-payload and length fields
    /// are set here) then this chain.
    pub fn into_message(self, mut header: IkeHeader) -> Result<Vec<u8>, IkeWireError> {
        let total = IKE_HEADER_LEN + self.bytes.len();
        header.next_payload = self.first;
        header.length =
            u32::try_from(total).map_err(|_| invalid("message", 0, "longer than 4 GiB"))?;
        let mut fixed = [0u8; IKE_HEADER_LEN];
        header.write(&mut fixed);
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&fixed);
        out.extend_from_slice(&self.bytes);
        Ok(out)
    }
}

/// A transform (RFC 7296 section 3.3.2) with its key length attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transform {
    /// Transform type ([`transform::ENCR`] ...).
    pub kind: u8,
    /// Transform ID.
    pub id: u16,
    /// The Key Length attribute in bits, when present.
    pub key_bits: Option<u16>,
}

/// A proposal (RFC 7296 section 3.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Proposal number (1-based).
    pub number: u8,
    /// Protocol ID ([`protocol`]).
    pub protocol: u8,
    /// The SPI: empty in IKE_SA_INIT, 4 bytes for ESP, 8 for IKE rekeys.
    pub spi: Vec<u8>,
    /// Its transforms.
    pub transforms: Vec<Transform>,
}

/// Parses an SA payload body into its proposals.
pub fn parse_sa(body: &[u8]) -> Result<Vec<Proposal>, IkeWireError> {
    let mut proposals = Vec::new();
    let mut at = 0;
    loop {
        need("proposal", body, at, 8)?;
        let last = body[at];
        let len = usize::from(be16(body, at + 2));
        if len < 8 {
            return Err(invalid("proposal", at, "length below 8"));
        }
        need("proposal", body, at, len)?;
        let proposal_bytes = &body[at..at + len];
        let spi_len = usize::from(proposal_bytes[6]);
        let count = proposal_bytes[7];
        need("proposal SPI", proposal_bytes, 8, spi_len)?;
        let mut transforms = Vec::new();
        let mut t_at = 8 + spi_len;
        for _ in 0..count {
            need("transform", proposal_bytes, t_at, 8)?;
            let t_len = usize::from(be16(proposal_bytes, t_at + 2));
            if t_len < 8 {
                return Err(invalid("transform", at + t_at, "length below 8"));
            }
            need("transform", proposal_bytes, t_at, t_len)?;
            let mut t = Transform {
                kind: proposal_bytes[t_at + 4],
                id: be16(proposal_bytes, t_at + 6),
                key_bits: None,
            };
            let mut a_at = t_at + 8;
            while a_at < t_at + t_len {
                need(
                    "transform attribute",
                    &proposal_bytes[..t_at + t_len],
                    a_at,
                    4,
                )?;
                let attr = be16(proposal_bytes, a_at);
                if attr & 0x8000 != 0 {
                    if attr & 0x7fff == transform::ATTR_KEY_LENGTH {
                        t.key_bits = Some(be16(proposal_bytes, a_at + 2));
                    }
                    a_at += 4;
                } else {
                    let a_len = usize::from(be16(proposal_bytes, a_at + 2));
                    need(
                        "transform attribute",
                        &proposal_bytes[..t_at + t_len],
                        a_at,
                        4 + a_len,
                    )?;
                    a_at += 4 + a_len;
                }
            }
            transforms.push(t);
            t_at += t_len;
        }
        if t_at != len {
            return Err(invalid(
                "proposal",
                at,
                "transforms do not fill the proposal",
            ));
        }
        proposals.push(Proposal {
            number: proposal_bytes[4],
            protocol: proposal_bytes[5],
            spi: proposal_bytes[8..8 + spi_len].to_vec(),
            transforms,
        });
        at += len;
        match last {
            0 if at == body.len() => return Ok(proposals),
            0 => return Err(invalid("SA payload", at, "bytes after the last proposal")),
            2 => {}
            _ => return Err(invalid("proposal", at - len, "last-substruc is not 0 or 2")),
        }
    }
}

/// Writes an SA payload body.
pub fn write_sa(proposals: &[Proposal]) -> Result<Vec<u8>, IkeWireError> {
    let mut out = Vec::new();
    for (i, p) in proposals.iter().enumerate() {
        let start = out.len();
        let last = if i + 1 == proposals.len() { 0 } else { 2 };
        let spi_len =
            u8::try_from(p.spi.len()).map_err(|_| invalid("proposal", 0, "SPI too long"))?;
        let count = u8::try_from(p.transforms.len())
            .map_err(|_| invalid("proposal", 0, "more than 255 transforms"))?;
        out.extend_from_slice(&[last, 0, 0, 0, p.number, p.protocol, spi_len, count]);
        out.extend_from_slice(&p.spi);
        for (j, t) in p.transforms.iter().enumerate() {
            let t_last = if j + 1 == p.transforms.len() { 0 } else { 3 };
            let t_len: u16 = if t.key_bits.is_some() { 12 } else { 8 };
            out.extend_from_slice(&[t_last, 0]);
            out.extend_from_slice(&t_len.to_be_bytes());
            out.extend_from_slice(&[t.kind, 0]);
            out.extend_from_slice(&t.id.to_be_bytes());
            if let Some(bits) = t.key_bits {
                out.extend_from_slice(&(0x8000 | transform::ATTR_KEY_LENGTH).to_be_bytes());
                out.extend_from_slice(&bits.to_be_bytes());
            }
        }
        let len = len16("proposal", out.len() - start)?;
        out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(out)
}

/// A Key Exchange payload (RFC 7296 section 3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExchange {
    /// The Diffie-Hellman group.
    pub group: u16,
    /// The public value.
    pub data: Vec<u8>,
}

impl KeyExchange {
    /// Parses a KE body.
    pub fn parse(body: &[u8]) -> Result<Self, IkeWireError> {
        need("KE payload", body, 0, 4)?;
        Ok(KeyExchange {
            group: be16(body, 0),
            data: body[4..].to_vec(),
        })
    }

    /// Writes the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.data.len());
        out.extend_from_slice(&self.group.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.data);
        out
    }
}

/// A Notify payload (RFC 7296 section 3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Protocol ID (0 when it concerns the IKE SA and carries no SPI).
    pub protocol: u8,
    /// The SPI, possibly empty.
    pub spi: Vec<u8>,
    /// Notify message type ([`notify`]).
    pub kind: u16,
    /// Notification data.
    pub data: Vec<u8>,
}

impl Notify {
    /// A notify about the IKE SA without SPI.
    pub fn new(kind: u16, data: &[u8]) -> Self {
        Notify {
            protocol: 0,
            spi: Vec::new(),
            kind,
            data: data.to_vec(),
        }
    }

    /// Parses a Notify body.
    pub fn parse(body: &[u8]) -> Result<Self, IkeWireError> {
        need("Notify payload", body, 0, 4)?;
        let spi_len = usize::from(body[1]);
        need("Notify SPI", body, 4, spi_len)?;
        Ok(Notify {
            protocol: body[0],
            spi: body[4..4 + spi_len].to_vec(),
            kind: be16(body, 2),
            data: body[4 + spi_len..].to_vec(),
        })
    }

    /// Writes the body.
    pub fn to_bytes(&self) -> Result<Vec<u8>, IkeWireError> {
        let spi_len =
            u8::try_from(self.spi.len()).map_err(|_| invalid("Notify", 0, "SPI too long"))?;
        let mut out = vec![self.protocol, spi_len];
        out.extend_from_slice(&self.kind.to_be_bytes());
        out.extend_from_slice(&self.spi);
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// True for an error type (below 16384).
    pub fn is_error(&self) -> bool {
        self.kind < notify::FIRST_STATUS
    }
}

/// Body of an ID or AUTH payload: a type octet, three reserved, then data
/// (RFC 7296 sections 3.5 and 3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedData {
    /// ID type or authentication method.
    pub kind: u8,
    /// The identification or authentication data.
    pub data: Vec<u8>,
}

impl TypedData {
    /// Parses an ID or AUTH body.
    pub fn parse(what: &'static str, body: &[u8]) -> Result<Self, IkeWireError> {
        need(what, body, 0, 4)?;
        Ok(TypedData {
            kind: body[0],
            data: body[4..].to_vec(),
        })
    }

    /// Writes the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.kind, 0, 0, 0];
        out.extend_from_slice(&self.data);
        out
    }
}

/// One traffic selector (RFC 7296 section 3.13.1): an address range, an IP
/// protocol (0: any) and a port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    /// IP protocol, 0 for any.
    pub ip_protocol: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address (same family as `start`).
    pub end: IpAddr,
}

/// Parses a TS payload body.
pub fn parse_ts(body: &[u8]) -> Result<Vec<TrafficSelector>, IkeWireError> {
    need("TS payload", body, 0, 4)?;
    let count = body[0];
    let mut at = 4;
    let mut out = Vec::new();
    for _ in 0..count {
        need("traffic selector", body, at, 8)?;
        let kind = body[at];
        let len = usize::from(be16(body, at + 2));
        let addr_len = match kind {
            ts_type::IPV4_ADDR_RANGE => 4,
            ts_type::IPV6_ADDR_RANGE => 16,
            _ => return Err(invalid("traffic selector", at, "unknown TS type")),
        };
        if len != 8 + 2 * addr_len {
            return Err(invalid(
                "traffic selector",
                at,
                "length does not match its type",
            ));
        }
        need("traffic selector", body, at, len)?;
        let addr = |from: usize| -> IpAddr {
            if addr_len == 4 {
                IpAddr::V4(Ipv4Addr::from(be32(body, from)))
            } else {
                let mut b = [0u8; 16];
                b.copy_from_slice(&body[from..from + 16]);
                IpAddr::V6(Ipv6Addr::from(b))
            }
        };
        out.push(TrafficSelector {
            ip_protocol: body[at + 1],
            start_port: be16(body, at + 4),
            end_port: be16(body, at + 6),
            start: addr(at + 8),
            end: addr(at + 8 + addr_len),
        });
        at += len;
    }
    if at != body.len() {
        return Err(invalid("TS payload", at, "bytes after the last selector"));
    }
    Ok(out)
}

/// Writes a TS payload body.
pub fn write_ts(selectors: &[TrafficSelector]) -> Result<Vec<u8>, IkeWireError> {
    let count = u8::try_from(selectors.len())
        .map_err(|_| invalid("TS payload", 0, "over 255 selectors"))?;
    let mut out = vec![count, 0, 0, 0];
    for ts in selectors {
        let (kind, len): (u8, u16) = match (ts.start, ts.end) {
            (IpAddr::V4(_), IpAddr::V4(_)) => (ts_type::IPV4_ADDR_RANGE, 16),
            (IpAddr::V6(_), IpAddr::V6(_)) => (ts_type::IPV6_ADDR_RANGE, 40),
            _ => return Err(invalid("traffic selector", 0, "mixed address families")),
        };
        out.extend_from_slice(&[kind, ts.ip_protocol]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&ts.start_port.to_be_bytes());
        out.extend_from_slice(&ts.end_port.to_be_bytes());
        for a in [ts.start, ts.end] {
            match a {
                IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
                IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "ike_tests.rs"]
mod tests;
