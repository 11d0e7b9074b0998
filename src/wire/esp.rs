//! The ESP packet format (RFC 4303 section 2): the SPI and sequence number
//! header, the trailer of a decrypted payload (section 2.4-2.6), and the
//! markers ESP in UDP shares its port with (RFC 3948 section 2.2-2.3).
//!
//! Contract: [`EspPacket::new_checked`] checks that the 8-byte header is
//! there; after it no accessor panics. The IV and ICV depend on the suite
//! and live with the crypto in `crate::esp`.

use etherparse::IpNumber;

use super::error::{Layer, WireError};

/// Length of the ESP header: SPI and sequence number.
pub const ESP_HEADER_LEN: usize = 8;
/// Length of the ESP trailer after the padding: pad length, next header.
pub const ESP_TRAILER_LEN: usize = 2;
/// The padding a sender writes: 1, 2, 3, ... (RFC 4303 section 2.4).
pub const ESP_PADDING: [u8; 255] = padding_bytes();
/// A NAT-keepalive is one byte 0xFF on the NAT-T port (RFC 3948 2.3).
pub const NAT_KEEPALIVE: u8 = 0xFF;
/// IKE on the NAT-T port starts with four zero bytes where ESP has its
/// SPI (RFC 3948 section 2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

const fn padding_bytes() -> [u8; 255] {
    let mut bytes = [0u8; 255];
    let mut i = 0;
    while i < bytes.len() {
        bytes[i] = (i + 1) as u8;
        i += 1;
    }
    bytes
}

/// Byte ranges in the ESP header (RFC 4303 section 2).
pub(crate) mod field {
    use std::ops::{Range, RangeFrom};
    /// Security Parameters Index.
    pub(crate) const SPI: Range<usize> = 0..4;
    /// Sequence number (its low 32 bits with ESN).
    pub(crate) const SEQUENCE_NUMBER: Range<usize> = 4..8;
    /// The payload: IV (suite-specific), ciphertext, ICV.
    pub(crate) const PAYLOAD: RangeFrom<usize> = 8..;
}

/// An ESP packet in `B` (starting at its header) that passed
/// [`EspPacket::new_checked`].
#[derive(Debug, Clone)]
pub struct EspPacket<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> EspPacket<B> {
    /// Checks that `buffer` holds the 8-byte ESP header.
    #[inline]
    pub fn new_checked(buffer: B) -> Result<Self, WireError> {
        let available = buffer.as_ref().len();
        if available < ESP_HEADER_LEN {
            return Err(WireError::truncated(
                Layer::Esp,
                0,
                ESP_HEADER_LEN,
                available,
            ));
        }
        Ok(Self { buffer })
    }

    fn header(&self) -> &[u8; ESP_HEADER_LEN] {
        // new_checked saw at least ESP_HEADER_LEN bytes.
        self.buffer
            .as_ref()
            .first_chunk()
            .unwrap_or(&[0; ESP_HEADER_LEN])
    }

    /// The Security Parameters Index.
    pub fn spi(&self) -> u32 {
        let h = self.header();
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    }

    /// The sequence number field (the low 32 bits with ESN).
    pub fn sequence_number(&self) -> u32 {
        let h = self.header();
        u32::from_be_bytes([h[4], h[5], h[6], h[7]])
    }

    /// Everything after the header: IV, ciphertext, ICV.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD).unwrap_or_default()
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buffer
    }
}

/// The header fields of an ESP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspRepr {
    pub spi: u32,
    /// The sequence number as sent (the low 32 bits with ESN).
    pub sequence_number: u32,
}

impl EspRepr {
    /// The header of a checked packet.
    pub fn parse<B: AsRef<[u8]>>(packet: &EspPacket<B>) -> Self {
        EspRepr {
            spi: packet.spi(),
            sequence_number: packet.sequence_number(),
        }
    }

    /// Length of the header this emits.
    pub const fn header_len(&self) -> usize {
        ESP_HEADER_LEN
    }

    /// Writes the header.
    pub fn emit(&self, header: &mut [u8; ESP_HEADER_LEN]) {
        header[field::SPI].copy_from_slice(&self.spi.to_be_bytes());
        header[field::SEQUENCE_NUMBER].copy_from_slice(&self.sequence_number.to_be_bytes());
    }
}

/// The trailer of a decrypted ESP payload (RFC 4303 section 2.4-2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspTrailer {
    /// Bytes of padding before the trailer.
    pub pad_len: u8,
    /// The protocol of the payload (4 and 41 in tunnel mode, 59 for a
    /// dummy packet).
    pub next_header: IpNumber,
}

/// Why a decrypted payload's trailer is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EspTrailerError {
    /// Fewer than the two trailer bytes.
    #[error("ESP: decrypted payload of {len} bytes has no room for the 2-byte trailer")]
    Truncated { len: usize },
    /// The pad length runs past the payload, or the padding is not
    /// 1, 2, 3, ... (RFC 4303 section 2.4).
    #[error("ESP: pad length {pad_len} or its padding bytes are wrong")]
    BadPadding { pad_len: u8 },
}

impl EspTrailer {
    /// Reads the trailer at the end of `plaintext` and checks the padding;
    /// returns it with the length of the payload data before the padding.
    pub fn parse(plaintext: &[u8]) -> Result<(Self, usize), EspTrailerError> {
        let [.., pad_len, next_header] = plaintext else {
            return Err(EspTrailerError::Truncated {
                len: plaintext.len(),
            });
        };
        let bad_padding = EspTrailerError::BadPadding { pad_len: *pad_len };
        let data_len = plaintext
            .len()
            .checked_sub(ESP_TRAILER_LEN + usize::from(*pad_len))
            .ok_or(bad_padding)?;
        let padding = plaintext
            .get(data_len..data_len + usize::from(*pad_len))
            .ok_or(bad_padding)?;
        if padding
            .iter()
            .zip(1u8..)
            .any(|(byte, expected)| *byte != expected)
        {
            return Err(bad_padding);
        }
        let trailer = EspTrailer {
            pad_len: *pad_len,
            next_header: IpNumber(*next_header),
        };
        Ok((trailer, data_len))
    }

    /// Writes the padding and the trailer into `tail`: its last
    /// `pad_len + 2` bytes (earlier bytes, TFC padding, are zeroed).
    /// Returns false, writing nothing, when `tail` is shorter than that.
    pub fn emit(&self, tail: &mut [u8]) -> bool {
        let pad_len = usize::from(self.pad_len);
        let Some((padding, [pad_len_byte, next_header])) =
            tail.split_last_chunk_mut::<ESP_TRAILER_LEN>()
        else {
            return false;
        };
        let Some(tfc_len) = padding.len().checked_sub(pad_len) else {
            return false;
        };
        let (tfc, pad) = padding.split_at_mut(tfc_len);
        if !tfc.is_empty() {
            // Most SAs have no TFC padding: no call for nothing.
            tfc.fill(0);
        }
        pad.copy_from_slice(&ESP_PADDING[..pad_len]);
        *pad_len_byte = self.pad_len;
        *next_header = self.next_header.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let repr = EspRepr {
            spi: 0x1001,
            sequence_number: 7,
        };
        let mut bytes = [0u8; ESP_HEADER_LEN + 4];
        let (header, _) = bytes.split_first_chunk_mut().unwrap();
        repr.emit(header);
        assert_eq!(&bytes[..8], &[0, 0, 0x10, 0x01, 0, 0, 0, 7]);
        let packet = EspPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(EspRepr::parse(&packet), repr);
        assert_eq!(packet.payload(), &[0; 4]);
    }

    #[test]
    fn every_truncation_of_the_header_is_refused() {
        let bytes = [0x11u8; ESP_HEADER_LEN];
        for len in 0..ESP_HEADER_LEN {
            assert_eq!(
                EspPacket::new_checked(&bytes[..len]).map(|p| p.spi()),
                Err(WireError::Truncated {
                    layer: Layer::Esp,
                    offset: 0,
                    needed: ESP_HEADER_LEN,
                    available: len
                }),
                "length {len}"
            );
        }
        assert!(EspPacket::new_checked(&bytes[..]).is_ok());
    }

    #[test]
    fn trailer_checks_padding() {
        // Data 0x45 9 9, padding 1 2, pad length 2, next header 4.
        let (trailer, data_len) = EspTrailer::parse(&[0x45, 9, 9, 1, 2, 2, 4]).unwrap();
        assert_eq!(
            (trailer.pad_len, trailer.next_header, data_len),
            (2, IpNumber::IPV4, 3)
        );
        assert_eq!(
            EspTrailer::parse(&[0x45, 9, 9, 1, 3, 2, 4]),
            Err(EspTrailerError::BadPadding { pad_len: 2 })
        );
        assert_eq!(
            EspTrailer::parse(&[0x45, 2, 9]),
            Err(EspTrailerError::BadPadding { pad_len: 2 })
        );
        for len in 0..ESP_TRAILER_LEN {
            assert_eq!(
                EspTrailer::parse(&[0, 4][..len]),
                Err(EspTrailerError::Truncated { len })
            );
        }
    }

    #[test]
    fn trailer_emit_is_what_parse_reads() {
        let trailer = EspTrailer {
            pad_len: 3,
            next_header: IpNumber::IPV6,
        };
        let mut tail = [0xee; 1 + 2 + 3 + ESP_TRAILER_LEN];
        assert!(trailer.emit(&mut tail[1..]));
        assert_eq!(tail, [0xee, 0, 0, 1, 2, 3, 3, 41]);
        assert_eq!(EspTrailer::parse(&tail[1..]), Ok((trailer, 2)));
        assert!(!trailer.emit(&mut [0; 4]));
    }
}
