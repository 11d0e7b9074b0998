//! TCP MSS clamping (RFC 879, RFC 6691; option format RFC 9293 3.2): on a
//! SYN whose MSS option exceeds the limit, rewrite the option in place and
//! fix the TCP checksum incrementally (RFC 1624). Anything else is untouched.

use etherparse::IpNumber;

use super::checksum;
use super::ip::IpPacket;

/// Byte offsets in the TCP header (RFC 9293 3.1).
mod field {
    use std::ops::Range;
    pub(crate) const DATA_OFFSET: usize = 12;
    pub(crate) const FLAGS: usize = 13;
    pub(crate) const CHECKSUM: Range<usize> = 16..18;
    pub(crate) const OPTIONS_START: usize = 20;
}

const TCP_MIN_HEADER_LEN: usize = 20;
const FLAG_SYN: u8 = 0x02;

/// TCP option kinds (RFC 9293 3.2).
const OPTION_END: u8 = 0;
const OPTION_NOP: u8 = 1;
const OPTION_MSS: u8 = 2;
const OPTION_MSS_LEN: usize = 4;

/// What clamping did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssOutcome {
    /// The MSS option was lowered.
    Clamped { from: u16, to: u16 },
    /// The packet was left exactly as it was.
    Unchanged(MssUnchanged),
}

/// Why the packet was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssUnchanged {
    NotTcp,
    /// A non-first fragment, or a fragment too short to hold the options.
    NoTcpHeader,
    NotSyn,
    NoMssOption,
    /// The MSS is already at or below the limit.
    WithinLimit,
    /// The TCP data offset or an option length is inconsistent, or the
    /// IPv6 extension headers could not be walked.
    MalformedHeader,
}

/// Clamps the MSS option of a TCP SYN (or SYN-ACK) in `packet` to
/// `max_mss`. IPv4 and IPv6 alike: the MSS is not in the pseudo-header, so
/// only the 16-bit option value enters the incremental update.
pub fn clamp_tcp_mss<B: AsRef<[u8]> + AsMut<[u8]>>(
    packet: &mut IpPacket<B>,
    max_mss: u16,
) -> MssOutcome {
    use MssUnchanged::*;
    let Ok(transport) = packet.transport() else {
        return MssOutcome::Unchanged(MalformedHeader);
    };
    if transport.protocol != IpNumber::TCP {
        return MssOutcome::Unchanged(NotTcp);
    }
    if !transport.has_header {
        return MssOutcome::Unchanged(NoTcpHeader);
    }
    let bytes = packet.as_bytes_mut();
    let Some(segment) = bytes.get_mut(transport.offset..transport.end) else {
        return MssOutcome::Unchanged(NoTcpHeader);
    };
    if segment.len() < TCP_MIN_HEADER_LEN {
        return MssOutcome::Unchanged(NoTcpHeader);
    }
    if segment[field::FLAGS] & FLAG_SYN == 0 {
        return MssOutcome::Unchanged(NotSyn);
    }
    let header_len = usize::from(segment[field::DATA_OFFSET] >> 4) * 4;
    if header_len < TCP_MIN_HEADER_LEN {
        return MssOutcome::Unchanged(MalformedHeader);
    }
    if header_len > segment.len() {
        return MssOutcome::Unchanged(NoTcpHeader);
    }
    let mss_at = match find_mss_option(&segment[field::OPTIONS_START..header_len]) {
        Ok(Some(at)) => field::OPTIONS_START + at,
        Ok(None) => return MssOutcome::Unchanged(NoMssOption),
        Err(()) => return MssOutcome::Unchanged(MalformedHeader),
    };
    let value = mss_at + 2..mss_at + 4;
    let old = u16::from_be_bytes([segment[value.start], segment[value.start + 1]]);
    if old <= max_mss {
        return MssOutcome::Unchanged(WithinLimit);
    }
    segment[value.clone()].copy_from_slice(&max_mss.to_be_bytes());
    let checksum_bytes = &segment[field::CHECKSUM];
    let old_checksum = u16::from_be_bytes([checksum_bytes[0], checksum_bytes[1]]);
    let new_checksum = if value.start % 2 == 0 {
        checksum::update_u16(old_checksum, old, max_mss)
    } else {
        checksum::update_u16_at_odd_offset(old_checksum, old, max_mss)
    };
    segment[field::CHECKSUM].copy_from_slice(&new_checksum.to_be_bytes());
    MssOutcome::Clamped {
        from: old,
        to: max_mss,
    }
}

/// Offset of the first well-formed MSS option within `options`; `Err` when
/// an option length is below 2, runs past the options, or an MSS option is
/// not 4 bytes long.
fn find_mss_option(options: &[u8]) -> Result<Option<usize>, ()> {
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        match kind {
            OPTION_END => return Ok(None),
            OPTION_NOP => at += 1,
            _ => {
                let len = usize::from(*options.get(at + 1).ok_or(())?);
                if len < 2 || at + len > options.len() {
                    return Err(());
                }
                if kind == OPTION_MSS {
                    return if len == OPTION_MSS_LEN {
                        Ok(Some(at))
                    } else {
                        Err(())
                    };
                }
                at += len;
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mss_after_nops_and_stops_at_end() {
        assert_eq!(find_mss_option(&[1, 2, 4, 5, 0xb4]), Ok(Some(1)));
        assert_eq!(find_mss_option(&[0, 2, 4, 5, 0xb4]), Ok(None));
        assert_eq!(find_mss_option(&[3, 3, 7, 2, 4, 5, 0xb4]), Ok(Some(3)));
        assert_eq!(find_mss_option(&[3, 1, 7]), Err(()));
        assert_eq!(find_mss_option(&[2, 4, 5]), Err(()));
        assert_eq!(find_mss_option(&[2, 3, 5]), Err(()));
        assert_eq!(find_mss_option(&[8]), Err(()));
    }
}
