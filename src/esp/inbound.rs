//! The inbound SA: tunnel-mode ESP decapsulation (RFC 4303 section 3.4) in
//! place, one packet at a time or in batches: anti-replay check before
//! decryption, ICV, padding and next header, traffic selectors, RFC 6040
//! ECN, then the window update (only for packets that passed all of it),
//! ESN resynchronisation (RFC 4303 Appendix A3).

use std::borrow::BorrowMut;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use etherparse::IpNumber;
use serde::Serialize;

use super::anti_replay::{Pending, ReplayVerdict, ReplayWindow};
use super::batch::{MAX_BATCH, in_blocks};
use super::classify::{OuterEsp, PacketClass, classify, parse_inner, set_inner_ecn};
use super::config::{NAT_T_PORT, SaConfig, SaConfigError};
use super::counters::{LifetimeEvent, Limits, SaCounters, SaStats, Usage};
use super::drop::EspDrop;
use super::ecn::decapsulated_ecn;
use super::selectors::Selectors;
use super::suite::{EspCipher, ICV_LEN, OpenError};
use crate::packet::PacketBuf;
use crate::wire::{ESP_HEADER_LEN, ESP_TRAILER_LEN, EspPacket, EspTrailer, EspTrailerError};

/// Largest ESP ciphertext that ESN resynchronisation retries (it keeps a
/// copy on the stack): a jumbo frame and its trailer.
const RESYNC_MAX_CIPHERTEXT: usize = PacketBuf::DEFAULT_CAPACITY;

/// What one decapsulation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
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

/// A packet whose ICV verified and whose payload is decrypted in place,
/// waiting for the trailer checks and the window update.
#[derive(Debug, Clone, Copy)]
struct Opened {
    seq: u64,
    resynchronised: bool,
    /// The decrypted payload (inner packet, padding, trailer) in the buffer.
    ct_start: usize,
    ct_end: usize,
    outer_ecn: u8,
}

const _: () = assert!(size_of::<Opened>() <= 32);

/// An inbound (receiving) SA. `Send + Sync`: worker threads share one and
/// call [`InboundSa::decapsulate`] concurrently; every packet is accepted at
/// most once.
pub struct InboundSa {
    cipher: EspCipher,
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
        let cipher = EspCipher::for_sa(config)?;
        Ok(InboundSa {
            cipher,
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

    /// Whether a soft lifetime was reached (without a counters snapshot).
    pub fn soft_limit_reached(&self) -> bool {
        self.counters.soft_limit_reached(&self.limits)
    }

    /// Decapsulates the outer packet in `buf` into its inner IP packet, in
    /// place. On a drop the reason is counted and returned.
    pub fn decapsulate(&self, buf: &mut PacketBuf) -> Result<DecapOutcome, EspDrop> {
        let outer = self
            .classify_ours(buf.as_slice())
            .map_err(|reason| self.counters.drop(reason))?;
        self.decapsulate_classified(buf, &outer)
    }

    /// Decapsulates a packet already classified as ESP for this SA.
    #[inline]
    pub fn decapsulate_classified(
        &self,
        buf: &mut PacketBuf,
        outer: &OuterEsp,
    ) -> Result<DecapOutcome, EspDrop> {
        self.decapsulate_counted(buf, outer)
            .map_err(|reason| self.counters.drop(reason))
    }

    /// Decapsulates a batch: `results[i]` is what [`Self::decapsulate`]
    /// would have returned for `bufs[i]`, with the same drop counting. Each
    /// block of up to [`MAX_BATCH`] packets is pre-checked against the
    /// anti-replay window, verified and checked packet by packet, then
    /// accepted by the window and counted under one lock. Handles
    /// `min(bufs.len(), results.len())` packets and returns that number.
    pub fn decapsulate_batch<B: BorrowMut<PacketBuf>>(
        &self,
        bufs: &mut [B],
        results: &mut [Result<DecapOutcome, EspDrop>],
    ) -> usize {
        in_blocks(bufs, results, |bufs, results| {
            self.decapsulate_block(bufs, results, |_, packet| Some(self.classify_ours(packet)))
        })
    }

    /// One block of at most [`MAX_BATCH`] packets. `outer_of(i, packet)`
    /// classifies `bufs[i]` for this SA: `None` leaves the packet and its
    /// result to someone else (another SA of a database), `Some(Err(_))` is
    /// a drop to count here.
    pub(crate) fn decapsulate_block<B: BorrowMut<PacketBuf>>(
        &self,
        bufs: &mut [B],
        results: &mut [Result<DecapOutcome, EspDrop>],
        mut outer_of: impl FnMut(usize, &[u8]) -> Option<Result<OuterEsp, EspDrop>>,
    ) {
        // Bit i: packet i passed pass 1 and waits for the window.
        let mut live = 0u64;
        // Pass 1: classify, replay pre-check, ICV, trailer and inner packet.
        // The pre-check and the hard lifetime see the block's earlier
        // packets as if already accepted, as one-by-one processing would.
        let mut pending = [0u64; MAX_BATCH];
        let (mut pending_len, mut pending_top) = (0, 0);
        let mut usage = self.counters.usage();
        for (i, (buf, result)) in bufs.iter_mut().zip(results.iter_mut()).enumerate() {
            let buf = buf.borrow_mut();
            let earlier = Pending {
                top: pending_top,
                seqs: pending.get(..pending_len).unwrap_or_default(),
            };
            let checked = match outer_of(i, buf.as_slice()) {
                None => continue,
                Some(Err(reason)) => Err(reason),
                Some(Ok(_)) if self.limits.hard_reached(usage) => Err(EspDrop::SaExpired),
                Some(Ok(outer)) => self.open_and_finish(buf, &outer, &earlier),
            };
            if let Ok(outcome) = &checked
                && let Some(slot) = pending.get_mut(pending_len)
            {
                live |= 1 << i;
                *slot = outcome.seq;
                pending_len += 1;
                pending_top = pending_top.max(outcome.seq);
                usage = usage.plus_packet(outcome.inner_len as u64);
            }
            *result = checked.map_err(|reason| self.counters.drop(reason));
        }
        if live == 0 {
            return;
        }
        // Pass 2, under the window lock: hard lifetime, window, usage.
        let mut resyncs = false;
        let mut events = false;
        {
            let mut window = self.window.writer();
            let mut usage = self.counters.usage();
            let start = usage;
            for (i, result) in results.iter_mut().enumerate() {
                let (true, Ok(outcome)) = (live & (1 << i) != 0, &mut *result) else {
                    continue;
                };
                let accepted = if self.limits.hard_reached(usage) {
                    Err(EspDrop::SaExpired)
                } else {
                    window.check_and_update(outcome.seq).map_err(replay_drop)
                };
                match accepted {
                    Ok(()) => {
                        let next = usage.plus_packet(outcome.inner_len as u64);
                        outcome.lifetime_event = self.limits.crossed(usage, next);
                        events |= outcome.lifetime_event.is_some();
                        resyncs |= outcome.resynchronised;
                        usage = next;
                    }
                    Err(reason) => {
                        live &= !(1 << i);
                        *result = Err(self.counters.drop(reason));
                    }
                }
            }
            let done = Usage {
                packets: usage.packets - start.packets,
                bytes: usage.bytes - start.bytes,
            };
            self.counters.add_locked(done, window.held());
        }
        if resyncs || events {
            for (i, result) in results.iter().enumerate() {
                let (true, Ok(outcome)) = (live & (1 << i) != 0, result) else {
                    continue;
                };
                if outcome.resynchronised {
                    self.note_resync(outcome.seq);
                }
                if let Some(event) = outcome.lifetime_event {
                    self.log_lifetime_event(event);
                }
            }
        }
    }

    /// ESP (or ESP in UDP) for this SA's SPI, or why not.
    #[inline]
    fn classify_ours(&self, packet: &[u8]) -> Result<OuterEsp, EspDrop> {
        match classify(packet, self.nat_t_port)? {
            PacketClass::Esp(outer) if outer.spi == self.spi => Ok(outer),
            PacketClass::Esp(_) => Err(EspDrop::UnknownSpi),
            _ => Err(EspDrop::NotEsp),
        }
    }

    #[inline]
    fn decapsulate_counted(
        &self,
        buf: &mut PacketBuf,
        outer: &OuterEsp,
    ) -> Result<DecapOutcome, EspDrop> {
        if self.counters.hard_limit_reached(&self.limits) {
            return Err(EspDrop::SaExpired);
        }
        let mut outcome = self.open_and_finish(buf, outer, &Pending::NONE)?;
        // Under the window lock: the hard lifetime (exact), the window
        // update and the usage count, one lock instead of three atomic
        // read-modify-writes.
        {
            let mut window = self.window.writer();
            if self.counters.hard_limit_reached(&self.limits) {
                return Err(EspDrop::SaExpired);
            }
            window.check_and_update(outcome.seq).map_err(replay_drop)?;
            outcome.lifetime_event = self.counters.count_packet_locked(
                outcome.inner_len as u64,
                &self.limits,
                window.held(),
            );
        }
        if outcome.resynchronised {
            self.note_resync(outcome.seq);
        }
        if let Some(event) = outcome.lifetime_event {
            self.log_lifetime_event(event);
        }
        Ok(outcome)
    }

    /// Everything before the window update: [`Self::open_verified`], then
    /// [`Self::finish`]. The outcome has no lifetime event yet.
    #[inline]
    fn open_and_finish(
        &self,
        buf: &mut PacketBuf,
        outer: &OuterEsp,
        pending: &Pending<'_>,
    ) -> Result<DecapOutcome, EspDrop> {
        let opened = self.open_verified(buf, outer, pending)?;
        let inner_len = self.finish(buf, &opened)?;
        Ok(DecapOutcome {
            seq: opened.seq,
            inner_len,
            lifetime_event: None,
            resynchronised: opened.resynchronised,
        })
    }

    /// The checks before the window update: lengths, the lock-free replay
    /// pre-check (counting a batch's `pending` numbers as seen), then the ICV (with ESN resynchronisation after a run of
    /// failures). On success the ciphertext is decrypted in place.
    #[inline]
    fn open_verified(
        &self,
        buf: &mut PacketBuf,
        outer: &OuterEsp,
        pending: &Pending<'_>,
    ) -> Result<Opened, EspDrop> {
        buf.truncate(outer.total_len);
        if buf.len() != outer.total_len {
            return Err(EspDrop::Truncated);
        }
        let prefix_len = self.cipher.prefix_len();
        let ct_start = outer.esp_offset + prefix_len;
        let ct_end = outer
            .total_len
            .checked_sub(ICV_LEN)
            .filter(|end| *end >= ct_start + ESP_TRAILER_LEN)
            .ok_or(EspDrop::Truncated)?;
        let esp = buf
            .as_mut_slice()
            .get_mut(outer.esp_offset..)
            .ok_or(EspDrop::Truncated)?;
        let (header, rest) = esp
            .split_at_mut_checked(prefix_len)
            .ok_or(EspDrop::Truncated)?;
        let (ciphertext, icv) = rest
            .split_last_chunk_mut::<ICV_LEN>()
            .ok_or(EspDrop::Truncated)?;
        let icv = *icv;
        let seq_low = EspPacket::new_checked(&header[..])
            .map_err(|_| EspDrop::Truncated)?
            .sequence_number();
        let iv = header.get(ESP_HEADER_LEN..).unwrap_or_default();
        let mut seq = self
            .window
            .check_with_pending(seq_low, self.esn, pending)
            .map_err(replay_drop)?;

        let mut resynchronised = false;
        let failures = self.consecutive_icv_failures.load(Ordering::Relaxed);
        // Every `resync_after`-th failure in a row retries the high bits
        // (with no failure behind, only when that is every failure): the
        // division stays off the path of a packet after a success.
        if self.esn
            && (failures != 0 || self.resync_after == 1)
            && (failures.wrapping_add(1)).is_multiple_of(self.resync_after)
        {
            match self.open_with_resync(seq, iv, icv, ciphertext) {
                Ok(found) => {
                    resynchronised = found != seq;
                    seq = found;
                }
                Err(error) => return Err(self.open_failed(error)),
            }
        } else if let Err(error) = self
            .cipher
            .open(self.spi, seq, self.esn, iv, ciphertext, icv)
        {
            return Err(self.open_failed(error));
        }
        if failures != 0 {
            self.consecutive_icv_failures.store(0, Ordering::Relaxed);
        }
        Ok(Opened {
            seq,
            resynchronised,
            ct_start,
            ct_end,
            outer_ecn: outer.ecn,
        })
    }

    /// After the ICV verified: trailer, inner packet, selectors and ECN;
    /// leaves the inner packet in `buf` and returns its length. A packet
    /// refused here does not move the window.
    #[inline]
    fn finish(&self, buf: &mut PacketBuf, opened: &Opened) -> Result<usize, EspDrop> {
        let plaintext = buf
            .as_mut_slice()
            .get_mut(opened.ct_start..opened.ct_end)
            .ok_or(EspDrop::Truncated)?;
        let inner_len = check_trailer(plaintext)?;
        let inner_bytes = plaintext.get_mut(..inner_len).ok_or(EspDrop::Truncated)?;
        let inner = parse_inner(inner_bytes)?;
        if !self.selectors.allows_packet(inner_bytes) {
            return Err(EspDrop::TrafficSelectorMismatch);
        }
        let ecn = decapsulated_ecn(inner.tos, opened.outer_ecn)?;
        if ecn != inner.tos & 0b11 {
            set_inner_ecn(inner_bytes, ecn)?;
        }
        buf.pull_front(opened.ct_start)
            .map_err(|_| EspDrop::Truncated)?;
        buf.truncate(inner.total_len);
        Ok(inner.total_len)
    }

    #[cold]
    fn note_resync(&self, seq: u64) {
        self.counters.count_resync();
        tracing::warn!(spi = self.spi, seq, "ESN resynchronised");
    }

    #[cold]
    fn log_lifetime_event(&self, event: LifetimeEvent) {
        tracing::info!(spi = self.spi, ?event, "inbound SA lifetime");
    }

    fn open_failed(&self, error: OpenError) -> EspDrop {
        match error {
            OpenError::IcvMismatch => {
                self.consecutive_icv_failures
                    .fetch_add(1, Ordering::Relaxed);
                EspDrop::IcvFailed
            }
            // Authentic but not block-aligned: the padding is wrong.
            OpenError::Misaligned => EspDrop::BadPadding,
        }
    }

    /// RFC 4303 Appendix A3.2: after a run of consecutive ICV failures, one
    /// bad packet is retried with successively larger high halves of the
    /// sequence number. Keeps a stack copy of the ciphertext, since a failed
    /// AEAD open zeroes it.
    #[cold]
    fn open_with_resync(
        &self,
        seq: u64,
        iv: &[u8],
        icv: [u8; ICV_LEN],
        ciphertext: &mut [u8],
    ) -> Result<u64, OpenError> {
        let mut copy = [0u8; RESYNC_MAX_CIPHERTEXT];
        let Some(saved) = copy.get_mut(..ciphertext.len()) else {
            return self
                .cipher
                .open(self.spi, seq, true, iv, ciphertext, icv)
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
            match self
                .cipher
                .open(self.spi, candidate, true, iv, ciphertext, icv)
            {
                Ok(()) => return Ok(candidate),
                Err(OpenError::Misaligned) => return Err(OpenError::Misaligned),
                Err(OpenError::IcvMismatch) => {}
            }
        }
        Err(OpenError::IcvMismatch)
    }
}

/// Checks the ESP trailer of a decrypted payload (RFC 4303 section 2.4 and
/// 2.6) and returns the length of the inner packet and TFC padding before
/// it: in tunnel mode the next header must name the inner IP version.
fn check_trailer(plaintext: &[u8]) -> Result<usize, EspDrop> {
    let (trailer, payload_len) = EspTrailer::parse(plaintext).map_err(|error| match error {
        EspTrailerError::Truncated { .. } => EspDrop::Truncated,
        EspTrailerError::BadPadding { .. } => EspDrop::BadPadding,
    })?;
    let version = plaintext.first().map(|b| b >> 4);
    match (trailer.next_header, version) {
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
            .field("algorithm", &self.cipher.algorithm())
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
