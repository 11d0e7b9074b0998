//! IPv4 fragmentation formats (RFC 791 2.3, 3.1 and 3.2): the fragment
//! fields of a header, which options a fragment copies (the copy flag), and
//! [`Ipv4Fragmenter`], which cuts a packet into fragments that fit an MTU:
//! data in 8-byte units, More Fragments on all but the last, the header
//! checksum computed per fragment. Fragmenting a fragment keeps its offset
//! and its own More Fragments on the last piece (RFC 791 3.2).
//!
//! Contract: the fragmenter takes a packet that passed
//! [`Ipv4Packet::new_checked_ignoring_checksum`]; after construction no
//! method panics, whatever the bytes say.

use std::ops::Range;

use super::checksum;
use super::error::{Layer, WireError};
use super::ipv4::{IPV4_MIN_HEADER_LEN, Ipv4Packet, field, flags};

/// Fragment offsets count 8-byte units (RFC 791 3.1).
pub const FRAGMENT_UNIT: usize = 8;
/// The largest IPv4 datagram: the total length field is 16 bits.
pub const IPV4_MAX_DATAGRAM_LEN: usize = 65_535;
/// The smallest MTU every IPv4 link must carry unfragmented (RFC 791 3.2:
/// "every internet module must be able to forward a datagram of 68 octets").
pub const IPV4_MIN_MTU: usize = 68;
/// The largest IPv4 header (IHL 15).
pub const IPV4_MAX_HEADER_LEN: usize = 60;

/// The copy flag of an option type octet (RFC 791 3.1, "Options").
const OPTION_COPIED: u8 = 0x80;
/// End of Option List.
const OPTION_END: u8 = 0;
/// No Operation (one octet, not copied).
const OPTION_NOP: u8 = 1;

/// The fragment fields of an IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4FragmentFields {
    /// Identification: with source, destination and protocol, names the
    /// datagram the fragment belongs to.
    pub identification: u16,
    /// Offset of the fragment's data in the datagram, in bytes.
    pub offset: usize,
    /// More Fragments.
    pub more: bool,
    /// Don't Fragment.
    pub dont_fragment: bool,
}

impl Ipv4FragmentFields {
    /// The fragment fields of `packet`.
    pub fn of<B: AsRef<[u8]>>(packet: &Ipv4Packet<B>) -> Self {
        Self {
            identification: packet.identification(),
            offset: usize::from(packet.fragment_offset()) * FRAGMENT_UNIT,
            more: packet.more_fragments(),
            dont_fragment: packet.dont_fragment(),
        }
    }

    /// True for a fragment (not a whole datagram).
    pub fn is_fragment(&self) -> bool {
        self.more || self.offset != 0
    }
}

/// The options of `options` a fragment after the first carries: those with
/// the copy flag set, in order, padded with End of Option List to a 4-byte
/// multiple. Returns the buffer and the length used. A malformed option
/// list stops the copy where it becomes unreadable.
pub fn copied_options(options: &[u8]) -> ([u8; IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN], usize) {
    let mut out = [OPTION_END; IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN];
    let mut written = 0;
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        if kind == OPTION_END {
            break;
        }
        if kind == OPTION_NOP {
            at += 1;
            continue;
        }
        let Some(len) = options.get(at + 1).map(|&l| usize::from(l)) else {
            break;
        };
        let Some(option) = options.get(at..at + len).filter(|_| len >= 2) else {
            break;
        };
        if kind & OPTION_COPIED != 0
            && let Some(slot) = out.get_mut(written..written + len)
        {
            slot.copy_from_slice(option);
            written += len;
        }
        at += len;
    }
    (out, written.next_multiple_of(4))
}

/// One fragment of a [`Ipv4Fragmenter`] plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentPiece {
    /// The data it carries: a range of the original packet's payload.
    pub data: Range<usize>,
    /// True for the first piece (it keeps every option).
    pub first: bool,
    /// More Fragments in its header.
    pub more: bool,
}

/// Cuts an IPv4 packet into fragments of at most `mtu` bytes. Iterate the
/// pieces, then write each with [`Ipv4Fragmenter::write`].
#[derive(Debug, Clone)]
pub struct Ipv4Fragmenter<'p> {
    packet: &'p [u8],
    header_len: usize,
    copied: [u8; IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN],
    copied_len: usize,
    base: Ipv4FragmentFields,
    mtu: usize,
    next: usize,
}

impl<'p> Ipv4Fragmenter<'p> {
    /// A plan for the IPv4 packet at the start of `bytes` (checked, its
    /// checksum not) at `mtu`. Refuses an MTU below 68 or too small for the
    /// header and eight bytes of data.
    pub fn new(bytes: &'p [u8], mtu: usize) -> Result<Self, WireError> {
        let packet = Ipv4Packet::new_checked_ignoring_checksum(bytes)?;
        let header_len = packet.header_len();
        let (copied, copied_len) = copied_options(
            packet
                .header()
                .get(IPV4_MIN_HEADER_LEN..)
                .unwrap_or_default(),
        );
        let widest = header_len.max(IPV4_MIN_HEADER_LEN + copied_len);
        if mtu < IPV4_MIN_MTU || mtu < widest + FRAGMENT_UNIT {
            return Err(WireError::BufferTooSmall {
                needed: widest + FRAGMENT_UNIT,
                available: mtu,
            });
        }
        let base = Ipv4FragmentFields::of(&packet);
        Ok(Self {
            packet: bytes.get(..packet.total_len()).unwrap_or_default(),
            header_len,
            copied,
            copied_len,
            base,
            mtu,
            next: 0,
        })
    }

    /// Length of the headers of pieces after the first.
    pub fn later_header_len(&self) -> usize {
        IPV4_MIN_HEADER_LEN + self.copied_len
    }

    fn payload_len(&self) -> usize {
        self.packet.len().saturating_sub(self.header_len)
    }

    /// The header length of `piece`.
    pub fn header_len(&self, piece: &FragmentPiece) -> usize {
        if piece.first {
            self.header_len
        } else {
            self.later_header_len()
        }
    }

    /// The total length of `piece` (its header and data).
    pub fn total_len(&self, piece: &FragmentPiece) -> usize {
        self.header_len(piece) + piece.data.len()
    }

    /// Writes `piece` (header then data) to the start of `out`; returns
    /// its length. Refuses an `out` too short or a piece beyond the packet.
    pub fn write(&self, piece: &FragmentPiece, out: &mut [u8]) -> Result<usize, WireError> {
        let header_len = self.header_len(piece);
        let total = header_len + piece.data.len();
        let data_at = self.header_len + piece.data.start..self.header_len + piece.data.end;
        let (Some(out), Some(data), Some(fixed)) = (
            out.get_mut(..total),
            self.packet.get(data_at),
            self.packet.get(..IPV4_MIN_HEADER_LEN),
        ) else {
            return Err(WireError::BufferTooSmall {
                needed: total,
                available: out.len(),
            });
        };
        let (header, body) = out.split_at_mut(header_len);
        if piece.first {
            header.copy_from_slice(self.packet.get(..header_len).unwrap_or_default());
        } else {
            header[..IPV4_MIN_HEADER_LEN].copy_from_slice(fixed);
            header[IPV4_MIN_HEADER_LEN..].copy_from_slice(&self.copied[..self.copied_len]);
            header[field::VERSION_IHL] = 0x40 | (header_len / 4) as u8;
        }
        body.copy_from_slice(data);
        let offset = self.base.offset + piece.data.start;
        finish_header(header, total, offset, piece.more, self.base.dont_fragment)?;
        Ok(total)
    }
}

impl Iterator for Ipv4Fragmenter<'_> {
    type Item = FragmentPiece;

    fn next(&mut self) -> Option<FragmentPiece> {
        let payload_len = self.payload_len();
        if self.next >= payload_len && !(self.next == 0 && payload_len == 0) {
            return None;
        }
        let first = self.next == 0;
        let header_len = if first {
            self.header_len
        } else {
            self.later_header_len()
        };
        let room = self.mtu.saturating_sub(header_len);
        let rest = payload_len - self.next;
        let (len, more) = if rest <= room {
            (rest, self.base.more)
        } else {
            (room / FRAGMENT_UNIT * FRAGMENT_UNIT, true)
        };
        let piece = FragmentPiece {
            data: self.next..self.next + len,
            first,
            more,
        };
        // An empty payload still makes one piece; never loop on it.
        self.next += len.max(1);
        Some(piece)
    }
}

/// Writes total length, fragment offset (in bytes, a multiple of 8),
/// flags and a fresh header checksum into `header`.
pub fn finish_header(
    header: &mut [u8],
    total_len: usize,
    offset: usize,
    more: bool,
    dont_fragment: bool,
) -> Result<(), WireError> {
    let total = u16::try_from(total_len).map_err(|_| WireError::BufferTooSmall {
        needed: total_len,
        available: IPV4_MAX_DATAGRAM_LEN,
    })?;
    let units = offset / FRAGMENT_UNIT;
    if !offset.is_multiple_of(FRAGMENT_UNIT) || units > usize::from(flags::FRAGMENT_OFFSET) {
        return Err(WireError::Fragmented { layer: Layer::Ipv4 });
    }
    let mut word = units as u16;
    if more {
        word |= flags::MORE_FRAGMENTS;
    }
    if dont_fragment {
        word |= flags::DONT_FRAGMENT;
    }
    if header.len() < IPV4_MIN_HEADER_LEN {
        return Err(WireError::truncated(
            Layer::Ipv4,
            0,
            IPV4_MIN_HEADER_LEN,
            header.len(),
        ));
    }
    header[field::TOTAL_LEN].copy_from_slice(&total.to_be_bytes());
    header[field::FLAGS_FRAGMENT].copy_from_slice(&word.to_be_bytes());
    header[field::CHECKSUM].copy_from_slice(&[0, 0]);
    let sum = checksum::internet_checksum(header);
    header[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[path = "ipv4_fragment_tests.rs"]
pub(crate) mod tests;
