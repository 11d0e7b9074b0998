//! Anti-replay window (RFC 4303 section 3.4.3) as an RFC 6479 bitmap of
//! 64-bit words, with Extended Sequence Number inference (RFC 4303
//! Appendix A2). Shared by worker threads: a lock-free check before
//! decryption, then a short locked check-and-update after the ICV verifies
//! (one lock per packet, or per batch through [`ReplayWindow::writer`]).

use std::sync::atomic::{AtomicU64, Ordering};

use super::lock::{ShortGuard, ShortLock};

/// Why a sequence number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Already received inside the window.
    Replayed,
    /// Older than the window (or sequence number 0, never sent).
    OutsideWindow,
}

/// Where a sequence number falls relative to the window.
enum Position {
    /// Beyond the highest number seen: the window will advance.
    Ahead,
    /// Inside the window: its bit is `mask` in word `word`.
    Inside { word: usize, mask: u64 },
    /// Left of the window.
    Behind,
}

/// A sliding anti-replay window of `window` packets ending at the highest
/// sequence number accepted so far.
///
/// Writers (`check_and_update`, `reset_to`, a [`WindowWriter`]) are
/// serialised by a lock; the
/// highest number and the bitmap are atomics so that `check` reads them
/// without a lock. Order of a writer that advances: clear the recycled words,
/// publish the new top (release), then set the bit (release). A reader that
/// sees a bit set after loading the top re-reads the top; if it moved, the
/// reader does not trust the bit and lets the locked check decide.
pub struct ReplayWindow {
    window: u64,
    word_mask: u64,
    top: AtomicU64,
    bits: Box<[AtomicU64]>,
    writer: ShortLock,
}

/// Sequence numbers a batch has verified but not yet put into the window
/// (`seqs` in any order, `top` their highest, 0 for none).
pub(crate) struct Pending<'a> {
    pub(crate) top: u64,
    pub(crate) seqs: &'a [u64],
}

impl Pending<'_> {
    /// No pending numbers.
    pub(crate) const NONE: Pending<'static> = Pending { top: 0, seqs: &[] };

    #[inline]
    fn contains(&self, seq: u64) -> bool {
        seq <= self.top && self.seqs.contains(&seq)
    }
}

/// Holds the window's writer lock: each [`WindowWriter::check_and_update`]
/// is the window's own, without taking the lock again (a batch, or a packet
/// whose SA updates its usage under the same lock).
pub struct WindowWriter<'a> {
    window: &'a ReplayWindow,
    guard: ShortGuard<'a>,
}

impl WindowWriter<'_> {
    /// The lock held, for state that shares it.
    pub(crate) fn held(&self) -> &ShortGuard<'_> {
        &self.guard
    }

    /// [`ReplayWindow::check_and_update`] under the lock already held.
    #[inline]
    pub fn check_and_update(&mut self, seq: u64) -> Result<(), ReplayVerdict> {
        self.window.update_locked(seq)
    }
}

impl ReplayWindow {
    /// A window of `window` packets (at least 1), nothing seen yet.
    pub fn new(window: u32) -> Self {
        let window = u64::from(window.max(1));
        // One spare word so the block being advanced into never aliases a
        // block still inside the window (RFC 6479 section 2).
        let words = (window.div_ceil(64) + 1).next_power_of_two();
        ReplayWindow {
            window,
            word_mask: words - 1,
            top: AtomicU64::new(0),
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            writer: ShortLock::default(),
        }
    }

    /// The window size in packets.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The highest sequence number accepted so far (0 before the first).
    pub fn top(&self) -> u64 {
        self.top.load(Ordering::Acquire)
    }

    /// The full sequence number for a received low half, relative to the
    /// current top (RFC 4303 Appendix A2.2). Without ESN it is the low half.
    pub fn infer(&self, seq_low: u32, esn: bool) -> Option<u64> {
        infer_sequence(self.top(), self.window, seq_low, esn)
    }

    /// Lock-free check before decryption: the inferred full sequence number,
    /// or why the packet is refused. A packet that passes may still be
    /// refused by [`Self::check_and_update`] after a concurrent update.
    #[inline]
    pub fn check(&self, seq_low: u32, esn: bool) -> Result<u64, ReplayVerdict> {
        self.check_with_pending(seq_low, esn, &Pending::NONE)
    }

    /// [`Self::check`] as if the `pending` sequence numbers (accepted by an
    /// unfinished batch, not yet in the window) were in it already: the
    /// answer one-by-one processing would give.
    #[inline]
    pub(crate) fn check_with_pending(
        &self,
        seq_low: u32,
        esn: bool,
        pending: &Pending<'_>,
    ) -> Result<u64, ReplayVerdict> {
        let top = self.top.load(Ordering::Acquire);
        let effective_top = top.max(pending.top);
        let seq = infer_sequence(effective_top, self.window, seq_low, esn)
            .ok_or(ReplayVerdict::OutsideWindow)?;
        match self.position(effective_top, seq) {
            Position::Ahead => Ok(seq),
            Position::Behind => Err(ReplayVerdict::OutsideWindow),
            Position::Inside { word, mask } => {
                if pending.contains(seq) {
                    return Err(ReplayVerdict::Replayed);
                }
                // Above the window's own top its words hold nothing yet.
                if seq > top {
                    return Ok(seq);
                }
                let seen = self.word(word).load(Ordering::Acquire) & mask != 0;
                if seen && self.top.load(Ordering::Acquire) == top {
                    Err(ReplayVerdict::Replayed)
                } else {
                    Ok(seq)
                }
            }
        }
    }

    /// After the ICV verified: accept `seq` exactly once and advance the
    /// window, or refuse it. Holds the writer lock for a few instructions.
    #[inline]
    pub fn check_and_update(&self, seq: u64) -> Result<(), ReplayVerdict> {
        let _guard = self.writer.lock();
        self.update_locked(seq)
    }

    /// Takes the writer lock for several [`WindowWriter::check_and_update`]
    /// calls (a batch); other writers wait until it is dropped.
    pub fn writer(&self) -> WindowWriter<'_> {
        WindowWriter {
            window: self,
            guard: self.writer.lock(),
        }
    }

    /// The check-and-update; the caller holds the writer lock.
    #[inline]
    fn update_locked(&self, seq: u64) -> Result<(), ReplayVerdict> {
        let top = self.top.load(Ordering::Relaxed);
        match self.position(top, seq) {
            Position::Behind => Err(ReplayVerdict::OutsideWindow),
            // Only lock holders write the bitmap, so a load and a store (no
            // read-modify-write) set a bit.
            Position::Inside { word, mask } => {
                let before = self.word(word).load(Ordering::Relaxed);
                if before & mask != 0 {
                    Err(ReplayVerdict::Replayed)
                } else {
                    self.word(word).store(before | mask, Ordering::Release);
                    Ok(())
                }
            }
            Position::Ahead => {
                self.clear_blocks_after(top, seq);
                self.top.store(seq, Ordering::Release);
                let (word, mask) = self.bit_of(seq);
                let before = self.word(word).load(Ordering::Relaxed);
                self.word(word).store(before | mask, Ordering::Release);
                Ok(())
            }
        }
    }

    /// Restores a window whose highest accepted number is `top`, with
    /// nothing else marked (state restore, tests). `top` itself counts as
    /// seen.
    pub fn reset_to(&self, top: u64) {
        let _guard = self.writer.lock();
        for word in self.bits.iter() {
            word.store(0, Ordering::Relaxed);
        }
        self.top.store(top, Ordering::Release);
        if top != 0 {
            let (word, mask) = self.bit_of(top);
            self.word(word).store(mask, Ordering::Release);
        }
    }

    fn position(&self, top: u64, seq: u64) -> Position {
        if seq == 0 {
            return Position::Behind;
        }
        if seq > top {
            return Position::Ahead;
        }
        if top - seq >= self.window {
            return Position::Behind;
        }
        let (word, mask) = self.bit_of(seq);
        Position::Inside { word, mask }
    }

    fn bit_of(&self, seq: u64) -> (usize, u64) {
        // The word index is masked to the bitmap, so it always fits a usize.
        (((seq >> 6) & self.word_mask) as usize, 1u64 << (seq & 63))
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        // `index` comes from `bit_of`, masked to `bits.len() - 1`.
        &self.bits[index]
    }

    /// Clears the words of the blocks after `top`'s up to `seq`'s, which the
    /// advance recycles (RFC 6479: whole words at a time).
    fn clear_blocks_after(&self, top: u64, seq: u64) {
        let from = (top >> 6) + 1;
        let to = seq >> 6;
        if to < from {
            return;
        }
        let count = (to - from + 1).min(self.word_mask + 1);
        for block in from..from + count {
            self.word(((block) & self.word_mask) as usize)
                .store(0, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("window", &self.window)
            .field("top", &self.top())
            .finish()
    }
}

/// RFC 4303 Appendix A2.2: the full sequence number whose low half is
/// `seq_low`, given the highest accepted number `top` and the window size.
/// Equivalently: the smallest number >= `top - window + 1` with that low
/// half. `None` when it would fall below 1 or beyond 2^64 - 1.
pub fn infer_sequence(top: u64, window: u64, seq_low: u32, esn: bool) -> Option<u64> {
    if !esn {
        return Some(u64::from(seq_low));
    }
    let top_low = top as u32;
    let top_high = (top >> 32) as u32;
    // The window never exceeds MAX_REPLAY_WINDOW, far below 2^32.
    let span = u32::try_from(window.saturating_sub(1)).unwrap_or(u32::MAX);
    let high = if top_low >= span {
        // Case A: the window lies within one 2^32 subspace.
        if seq_low >= top_low - span {
            Some(top_high)
        } else {
            top_high.checked_add(1)
        }
    } else {
        // Case B: the window spans two subspaces.
        if seq_low >= top_low.wrapping_sub(span) {
            top_high.checked_sub(1)
        } else {
            Some(top_high)
        }
    }?;
    Some((u64::from(high) << 32) | u64::from(seq_low))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The straightforward reference: a set of everything accepted.
    struct NaiveWindow {
        window: u64,
        top: u64,
        seen: BTreeSet<u64>,
    }

    impl NaiveWindow {
        fn accept(&mut self, seq: u64) -> Result<(), ReplayVerdict> {
            if seq == 0 || (seq <= self.top && self.top - seq >= self.window) {
                return Err(ReplayVerdict::OutsideWindow);
            }
            if !self.seen.insert(seq) {
                return Err(ReplayVerdict::Replayed);
            }
            self.top = self.top.max(seq);
            Ok(())
        }
    }

    fn naive_infer(top: u64, window: u64, low: u32) -> Option<u64> {
        let bottom = i128::from(top) - i128::from(window) + 1;
        let modulus = 1i128 << 32;
        let mut s = bottom.div_euclid(modulus) * modulus + i128::from(low);
        if s < bottom {
            s += modulus;
        }
        (s >= 1 && s <= i128::from(u64::MAX)).then_some(s as u64)
    }

    #[test]
    fn rfc_cases_a_and_b() {
        // Case A, same subspace; and a low half that wrapped into the next.
        assert_eq!(
            infer_sequence(0x1_0000_1000, 64, 0x1001, true),
            Some(0x1_0000_1001)
        );
        assert_eq!(
            infer_sequence(0x1_FFFF_FFF0, 64, 5, true),
            Some(0x2_0000_0005)
        );
        // Case B: the window straddles 2^32; a late packet from below.
        assert_eq!(
            infer_sequence(0x1_0000_0002, 64, 0xFFFF_FFFD, true),
            Some(0xFFFF_FFFD)
        );
        assert_eq!(
            infer_sequence(0x1_0000_0002, 64, 7, true),
            Some(0x1_0000_0007)
        );
        // At the very start nothing lies below 1.
        assert_eq!(infer_sequence(0, 1024, 0xFFFF_FFF0, true), None);
        assert_eq!(infer_sequence(0, 1024, 3, true), Some(3));
        // Never past 2^64 - 1.
        assert_eq!(infer_sequence(u64::MAX, 64, 0, true), None);
        assert_eq!(infer_sequence(5, 64, 0xFFFF_FFF0, false), Some(0xFFFF_FFF0));
    }

    #[test]
    fn accepts_once_refuses_duplicates_and_old() {
        let w = ReplayWindow::new(64);
        assert_eq!(w.check_and_update(0), Err(ReplayVerdict::OutsideWindow));
        w.check_and_update(1).unwrap();
        assert_eq!(w.check_and_update(1), Err(ReplayVerdict::Replayed));
        w.check_and_update(100).unwrap();
        assert_eq!(w.check(36, false), Err(ReplayVerdict::OutsideWindow));
        assert_eq!(w.check(37, false), Ok(37));
        w.check_and_update(37).unwrap();
        assert_eq!(w.check(37, false), Err(ReplayVerdict::Replayed));
        assert_eq!(w.check_and_update(36), Err(ReplayVerdict::OutsideWindow));
        w.check_and_update(10_000).unwrap();
        assert_eq!(w.check(9_937, false), Ok(9_937));
        assert_eq!(w.check(100, false), Err(ReplayVerdict::OutsideWindow));
    }

    #[test]
    fn reset_to_marks_only_the_top() {
        let w = ReplayWindow::new(128);
        w.reset_to(0xFFFF_FF00);
        assert_eq!(w.check(0xFFFF_FF00, true), Err(ReplayVerdict::Replayed));
        assert_eq!(w.check(0xFFFF_FEFF, true), Ok(0xFFFF_FEFF));
        assert_eq!(w.check(3, true), Ok(0x1_0000_0003));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(0xE5E5), ..ProptestConfig::default() })]

        #[test]
        fn matches_the_naive_window(
            window in prop::sample::select(vec![64u32, 100, 1024, 4096]),
            steps in prop::collection::vec((0u64..6000, any::<bool>()), 1..400),
        ) {
            let fast = ReplayWindow::new(window);
            let mut naive = NaiveWindow { window: u64::from(window), top: 0, seen: BTreeSet::new() };
            let mut base = 0u64;
            for (delta, forward) in steps {
                // Mostly moving forward, sometimes reaching back.
                let seq = if forward { base + delta } else { base.saturating_sub(delta) };
                base = base.max(seq);
                let pre = fast.check(seq as u32, false);
                let got = fast.check_and_update(seq);
                let want = naive.accept(seq);
                prop_assert_eq!(got, want, "seq {}", seq);
                if let Err(v) = pre { prop_assert_eq!(Err(v), want, "pre-check for {}", seq); }
            }
        }

        #[test]
        fn inference_matches_the_reference(
            top in prop_oneof![any::<u64>(), 0u64..5000, (0xFFFF_F000u64..0x1_0000_1000)],
            window in prop::sample::select(vec![64u64, 1024, 65_536]),
            low in prop_oneof![any::<u32>(), 0u32..5000, 0xFFFF_F000u32..=u32::MAX],
        ) {
            prop_assert_eq!(infer_sequence(top, window, low, true), naive_infer(top, window, low));
        }
    }
}
