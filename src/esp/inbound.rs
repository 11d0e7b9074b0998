//! The inbound SA: tunnel-mode ESP decapsulation (RFC 4303 section 3.4) in
//! place: anti-replay check before decryption, ICV, window update, padding
//! and next header, traffic selectors, RFC 6040 ECN, ESN resynchronisation
//! (RFC 4303 Appendix A3).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use etherparse::IpNumber;
use serde::Serialize;

use super::config::{NAT_T_PORT, SaConfig, SaConfigError};
use super::drop::{EspDrop, LifetimeEvent, Limits, SaCounters, SaStats};
use super::ecn::decapsulated_ecn;
use super::replay::{ReplayVerdict, ReplayWindow};
use super::selectors::Selectors;
use super::suite::{EspAad, EspAead, ICV_LEN, IV_LEN, IcvMismatch};
use super::wire::{
    ESP_PREFIX_LEN, ESP_TRAILER_LEN, MIN_ESP_LEN, OuterEsp, PacketClass, be32, classify, field,
    parse_inner, set_inner_ecn,
};
use crate::packet::PacketBuf;

/// Largest ESP ciphertext that ESN resynchronisation retries (it keeps a
/// copy on the stack): a jumbo frame and its trailer.
const RESYNC_MAX_CIPHERTEXT: usize = PacketBuf::DEFAULT_CAPACITY;

/// What one decapsulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DecapOutcome {
    /// The full 64-bit sequence number of the packet.
    pub seq: u64,
    /// Length of the inner packet now in the buffer.
    pub inner_len: usize,
    /// A lifetime limit this packet reached.
    pub lifetime_event: Option<LifetimeEvent>,
    /// This packet resynchronised the ESN high bits (RFC 4303 A3).
    pub resynchronised: bool,
}

const _: () = assert!(size_of::<DecapOutcome>() <= 24);

/// An inbound (receiving) SA. `Send + Sync`: worker threads share one and
/// call [`InboundSa::decapsulate`] concurrently; every packet is accepted at
/// most once.
pub struct InboundSa {
    aead: EspAead,
    window: ReplayWindow,
    counters: SaCounters,
    consecutive_icv_failures: AtomicU32,
    spi: u32,
    esn: bool,
    nat_t_port: u16,
    resync_after: u32,
    resync_tries: u32,
    limits: Limits,
    selectors: Selectors,
    local: Option<IpAddr>,
}

impl InboundSa {
    /// Builds the runtime SA from a configuration (validated here).
    pub fn new(config: &SaConfig) -> Result<Self, SaConfigError> {
        config.validate()?;
        let aead = EspAead::new(config.algorithm, &config.key).ok_or_else(|| SaConfigError {
            spi: config.spi,
            field: "key",
            reason: "rejected by the cipher".into(),
        })?;
        Ok(InboundSa {
            aead,
            window: ReplayWindow::new(config.replay_window),
            counters: SaCounters::new(),
            consecutive_icv_failures: AtomicU32::new(0),
            spi: config.spi,
            esn: config.esn,
            nat_t_port: config.nat_t.map_or(NAT_T_PORT, |n| n.local_port),
            resync_after: config.esn_resync_after_failures.max(1),
            resync_tries: config.esn_resync_max_tries,
            limits: Limits::from(&config.lifetime),
            selectors: Selectors::new(&config.traffic_selectors),
            local: config.tunnel.map(|t| t.local),
        })
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The local tunnel address the SA's packets arrive at, if configured.
    pub fn local(&self) -> Option<IpAddr> {
        self.local
    }

    /// The UDP port of ESP in UDP for this SA.
    pub fn nat_t_port(&self) -> u16 {
        self.nat_t_port
    }

    /// The anti-replay window (its top is the highest sequence accepted).
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Counters and lifetime state.
    pub fn stats(&self) -> SaStats {
        self.counters.snapshot(&self.limits)
    }

    /// Decapsulates the outer packet in `buf` into its inner IP packet, in
    /// place. On a drop the reason is counted and returned.
    pub fn decapsulate(&self, buf: &mut PacketBuf) -> Result<DecapOutcome, EspDrop> {
        let outer = match classify(buf.as_slice(), self.nat_t_port) {
            Ok(PacketClass::Esp(outer)) if outer.spi == self.spi => outer,
            Ok(PacketClass::Esp(_)) => return Err(self.counters.drop(EspDrop::UnknownSpi)),
            Ok(_) => return Err(self.counters.drop(EspDrop::NotEsp)),
            Err(reason) => return Err(self.counters.drop(reason)),
        };
        self.decapsulate_classified(buf, &outer)
    }

    /// Decapsulates a packet already classified as ESP for this SA.
    pub fn decapsulate_classified(
        &self,
        buf: &mut PacketBuf,
        outer: &OuterEsp,
    ) -> Result<DecapOutcome, EspDrop> {
        self.decapsulate_counted(buf, outer)
            .map_err(|reason| self.counters.drop(reason))
    }

    #[inline]
    fn decapsulate_counted(
        &self,
        buf: &mut PacketBuf,
        outer: &OuterEsp,
    ) -> Result<DecapOutcome, EspDrop> {
        buf.truncate(outer.total_len);
        let packet = buf.as_slice();
        let esp = packet.get(outer.esp_offset..).ok_or(EspDrop::Truncated)?;
        if esp.len() < MIN_ESP_LEN {
            return Err(EspDrop::Truncated);
        }
        let seq_low = be32(esp, field::SEQ.start).ok_or(EspDrop::Truncated)?;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(esp.get(field::IV).ok_or(EspDrop::Truncated)?);
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(esp.get(esp.len() - ICV_LEN..).ok_or(EspDrop::Truncated)?);
        if self.counters.hard_limit_reached(&self.limits) {
            return Err(EspDrop::SaExpired);
        }
        let mut seq = self.window.check(seq_low, self.esn).map_err(replay_drop)?;

        let ct_start = outer.esp_offset + ESP_PREFIX_LEN;
        let ct_end = outer.total_len - ICV_LEN;
        let ciphertext = buf
            .as_mut_slice()
            .get_mut(ct_start..ct_end)
            .ok_or(EspDrop::Truncated)?;
        let mut resynchronised = false;
        let failures = self.consecutive_icv_failures.load(Ordering::Relaxed);
        if self.esn && (failures.wrapping_add(1)).is_multiple_of(self.resync_after) {
            match self.open_with_resync(seq, iv, icv, ciphertext) {
                Ok(found) => {
                    resynchronised = found != seq;
                    seq = found;
                }
                Err(IcvMismatch) => return Err(self.icv_failed()),
            }
        } else if self
            .aead
            .open(iv, &EspAad::new(self.spi, seq, self.esn), ciphertext, icv)
            .is_err()
        {
            return Err(self.icv_failed());
        }
        if failures != 0 {
            self.consecutive_icv_failures.store(0, Ordering::Relaxed);
        }
        self.window.check_and_update(seq).map_err(replay_drop)?;
        if resynchronised {
            self.counters.count_resync();
            tracing::warn!(spi = self.spi, seq, "ESN resynchronised");
        }

        let plaintext = buf
            .as_mut_slice()
            .get_mut(ct_start..ct_end)
            .ok_or(EspDrop::Truncated)?;
        let inner_len = check_trailer(plaintext)?;
        let inner_bytes = plaintext.get_mut(..inner_len).ok_or(EspDrop::Truncated)?;
        let inner = parse_inner(inner_bytes)?;
        if !self.selectors.allows(inner.src, inner.dst) {
            return Err(EspDrop::TrafficSelectorMismatch);
        }
        let ecn = decapsulated_ecn(inner.tos, outer.ecn)?;
        if ecn != inner.tos & 0b11 {
            set_inner_ecn(inner_bytes, ecn);
        }
        buf.pull_front(ct_start).map_err(|_| EspDrop::Truncated)?;
        buf.truncate(inner.total_len);

        let lifetime_event = self
            .counters
            .count_packet(inner.total_len as u64, &self.limits);
        if let Some(event) = lifetime_event {
            tracing::info!(spi = self.spi, ?event, "inbound SA lifetime");
        }
        Ok(DecapOutcome {
            seq,
            inner_len: inner.total_len,
            lifetime_event,
            resynchronised,
        })
    }

    fn icv_failed(&self) -> EspDrop {
        self.consecutive_icv_failures
            .fetch_add(1, Ordering::Relaxed);
        EspDrop::IcvFailed
    }

    /// RFC 4303 Appendix A3.2: after a run of consecutive ICV failures, one
    /// bad packet is retried with successively larger high halves of the
    /// sequence number. Keeps a stack copy of the ciphertext, since a failed
    /// open zeroes it.
    #[cold]
    fn open_with_resync(
        &self,
        seq: u64,
        iv: [u8; IV_LEN],
        icv: [u8; ICV_LEN],
        ciphertext: &mut [u8],
    ) -> Result<u64, IcvMismatch> {
        let mut copy = [0u8; RESYNC_MAX_CIPHERTEXT];
        let Some(saved) = copy.get_mut(..ciphertext.len()) else {
            return self
                .aead
                .open(iv, &EspAad::new(self.spi, seq, true), ciphertext, icv)
                .map(|()| seq);
        };
        saved.copy_from_slice(ciphertext);
        let high = seq >> 32;
        let low = seq & 0xFFFF_FFFF;
        for step in 0..=u64::from(self.resync_tries) {
            let Some(candidate) = high.checked_add(step).and_then(|h| h.checked_mul(1 << 32))
            else {
                break;
            };
            let candidate = candidate | low;
            if step > 0 {
                ciphertext.copy_from_slice(saved);
            }
            let aad = EspAad::new(self.spi, candidate, true);
            if self.aead.open(iv, &aad, ciphertext, icv).is_ok() {
                return Ok(candidate);
            }
        }
        Err(IcvMismatch)
    }
}

/// Checks the ESP trailer of a decrypted payload (RFC 4303 section 2.4 and
/// 2.6) and returns the length of the inner packet and TFC padding before it.
fn check_trailer(plaintext: &[u8]) -> Result<usize, EspDrop> {
    let [.., pad_len, next_header] = plaintext else {
        return Err(EspDrop::Truncated);
    };
    let pad_len = usize::from(*pad_len);
    let payload_len = plaintext
        .len()
        .checked_sub(ESP_TRAILER_LEN + pad_len)
        .ok_or(EspDrop::BadPadding)?;
    let padding = plaintext
        .get(payload_len..payload_len + pad_len)
        .ok_or(EspDrop::BadPadding)?;
    if padding
        .iter()
        .zip(1u8..)
        .any(|(byte, expected)| *byte != expected)
    {
        return Err(EspDrop::BadPadding);
    }
    let version = plaintext.first().map(|b| b >> 4);
    match (IpNumber(*next_header), version) {
        (IpNumber::IPV6_NO_NEXT_HEADER, _) => Err(EspDrop::DummyPacket),
        (IpNumber::IPV4, Some(4)) | (IpNumber::IPV6, Some(6)) => Ok(payload_len),
        _ => Err(EspDrop::NextHeaderMismatch),
    }
}

fn replay_drop(verdict: ReplayVerdict) -> EspDrop {
    match verdict {
        ReplayVerdict::Replayed => EspDrop::Replayed,
        ReplayVerdict::OutsideWindow => EspDrop::OutsideWindow,
    }
}

impl std::fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &format_args!("0x{:08x}", self.spi))
            .field("algorithm", &self.aead.algorithm())
            .field("esn", &self.esn)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_checks() {
        // IPv4 first nibble, padding 1 2, pad length 2, next header 4.
        assert_eq!(check_trailer(&[0x45, 9, 9, 1, 2, 2, 4]), Ok(3));
        assert_eq!(
            check_trailer(&[0x45, 9, 9, 1, 3, 2, 4]),
            Err(EspDrop::BadPadding)
        );
        assert_eq!(check_trailer(&[0x45, 2, 9]), Err(EspDrop::BadPadding));
        assert_eq!(
            check_trailer(&[0x45, 0, 41]),
            Err(EspDrop::NextHeaderMismatch)
        );
        assert_eq!(check_trailer(&[0x60, 0, 41]), Ok(1));
        assert_eq!(
            check_trailer(&[0x45, 0, 17]),
            Err(EspDrop::NextHeaderMismatch)
        );
        assert_eq!(check_trailer(&[0, 0, 59]), Err(EspDrop::DummyPacket));
        assert_eq!(check_trailer(&[4]), Err(EspDrop::Truncated));
    }
}
