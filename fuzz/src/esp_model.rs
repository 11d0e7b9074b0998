//! Reference models the `esp_decap` oracles compare erdp against, written
//! from the RFCs and kept obviously correct rather than fast: the
//! anti-replay window as a set of accepted 64-bit sequence numbers (RFC 4303
//! section 3.4.3) with ESN inference (Appendix A2.2), RFC 6040's
//! decapsulation table, and IPv4/IPv6 header fix-ups for mutated packets.

use std::collections::BTreeSet;

use erdp::esp::ReplayVerdict;

/// The anti-replay window: the highest accepted number and every accepted
/// number. A number is inside the window when `top - seq < window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaiveWindow {
    window: u64,
    esn: bool,
    top: u64,
    seen: BTreeSet<u64>,
}

/// Where a full sequence number stands against the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Never accepted and not left of the window: acceptable.
    Fresh,
    /// Accepted before, still inside the window.
    Replayed,
    /// Left of the window (or 0, which is never sent).
    Behind,
}

impl NaiveWindow {
    /// A window of `window` packets (at least 1), nothing accepted.
    pub fn new(window: u32, esn: bool) -> Self {
        NaiveWindow {
            window: u64::from(window.max(1)),
            esn,
            top: 0,
            seen: BTreeSet::new(),
        }
    }

    /// The state after `ReplayWindow::reset_to(top)`: `top` counts as seen.
    pub fn reset_to(&mut self, top: u64) {
        self.top = top;
        self.seen.clear();
        if top != 0 {
            self.seen.insert(top);
        }
    }

    /// The highest accepted number.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// RFC 4303 A2.2, restated: the receiver takes the number with this low
    /// half that is closest above the window's left edge `top - window + 1`.
    /// None when that number is negative or past 2^64 - 1. Without ESN the
    /// low half is the number.
    pub fn infer(&self, seq_low: u32) -> Option<u64> {
        if !self.esn {
            return Some(u64::from(seq_low));
        }
        let left_edge = i128::from(self.top) - i128::from(self.window) + 1;
        let step = 1i128 << 32;
        let candidate = left_edge + (i128::from(seq_low) - left_edge).rem_euclid(step);
        u64::try_from(candidate).ok()
    }

    /// Where a full number stands.
    pub fn standing(&self, seq: u64) -> Standing {
        if seq == 0 {
            Standing::Behind
        } else if seq > self.top {
            Standing::Fresh
        } else if self.top - seq >= self.window {
            Standing::Behind
        } else if self.seen.contains(&seq) {
            Standing::Replayed
        } else {
            Standing::Fresh
        }
    }

    /// What `ReplayWindow::check(seq_low, esn)` must answer.
    pub fn expected_check(&self, seq_low: u32) -> Result<u64, ReplayVerdict> {
        let seq = self.infer(seq_low).ok_or(ReplayVerdict::OutsideWindow)?;
        match self.standing(seq) {
            Standing::Fresh => Ok(seq),
            Standing::Replayed => Err(ReplayVerdict::Replayed),
            Standing::Behind => Err(ReplayVerdict::OutsideWindow),
        }
    }

    /// The state after accepting `seq`.
    pub fn accepted(&self, seq: u64) -> NaiveWindow {
        let mut next = self.clone();
        next.top = next.top.max(seq);
        next.seen.insert(seq);
        // Forget what fell out of the window (it stays refused as Behind).
        let edge = next.top.saturating_sub(next.window);
        next.seen.retain(|&s| s > edge);
        next
    }
}

/// ECN codepoints (RFC 3168).
pub const NOT_ECT: u8 = 0b00;
pub const ECT_1: u8 = 0b01;
pub const ECT_0: u8 = 0b10;
pub const CE: u8 = 0b11;

/// RFC 6040 section 4.2, Figure 4: the inner ECN field to forward for an
/// arriving inner and outer field, or None where the packet must be dropped.
pub fn decapsulated_ecn(inner: u8, outer: u8) -> Option<u8> {
    // Rows: arriving inner; columns: arriving outer (Not-ECT, ECT(0), ECT(1), CE).
    const DROP: u8 = 0xff;
    let column = |outer: u8| match outer & 3 {
        NOT_ECT => 0,
        ECT_0 => 1,
        ECT_1 => 2,
        _ => 3,
    };
    let table: [[u8; 4]; 4] = [
        [NOT_ECT, NOT_ECT, NOT_ECT, DROP], // inner Not-ECT
        [ECT_0, ECT_0, ECT_1, CE],         // inner ECT(0)
        [ECT_1, ECT_1, ECT_1, CE],         // inner ECT(1)
        [CE, CE, CE, CE],                  // inner CE
    ];
    let out = table[column(inner)][column(outer)];
    (out != DROP).then_some(out)
}

/// The ECN field of an IPv4 or IPv6 header at the start of `packet`.
pub fn ecn_of(packet: &[u8]) -> Option<u8> {
    match packet.first()? >> 4 {
        4 => packet.get(1).map(|tos| tos & 3),
        6 => packet.get(1).map(|b| (b >> 4) & 3),
        _ => None,
    }
}

/// RFC 1071 checksum of `bytes` (0 when the bytes already hold a valid one).
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(pair[0]) << 8 | u32::from(pair.get(1).copied().unwrap_or(0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Rewrites the outer length fields of a (mutated) IPv4 or IPv6 packet to
/// its length, with a fresh IPv4 header checksum and, when it carries UDP,
/// the UDP length (checksum 0), so a mutation of the ESP part reaches
/// decryption instead of failing the outer parse.
pub fn fix_outer_lengths(packet: &mut [u8]) {
    let len = packet.len();
    let Some(&first) = packet.first() else {
        return;
    };
    let (header_len, protocol) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            if ihl < 20 || ihl > len || len > usize::from(u16::MAX) {
                return;
            }
            packet[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            packet[10..12].fill(0);
            let sum = internet_checksum(&packet[..ihl]);
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
            (ihl, packet[9])
        }
        6 => {
            if len < 40 || len - 40 > usize::from(u16::MAX) {
                return;
            }
            packet[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
            (40, packet[6])
        }
        _ => return,
    };
    if protocol == 17 && len >= header_len + 8 && len - header_len <= usize::from(u16::MAX) {
        let udp = &mut packet[header_len..header_len + 8];
        udp[4..6].copy_from_slice(&((len - header_len) as u16).to_be_bytes());
        udp[6..8].fill(0);
    }
}
