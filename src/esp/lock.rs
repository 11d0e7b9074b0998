//! A lock for critical sections of a few dozen instructions on an SA's hot
//! state (the sender's sequence number and usage, the receiver's replay
//! window and usage). Taking it is one atomic compare-and-swap; releasing it
//! is a plain store, where a `Mutex` needs a second atomic read-modify-write
//! (each costs tens of cycles on the per-packet path). A waiter spins
//! briefly, then yields its time slice, so a holder that lost its CPU is not
//! starved.

use std::sync::atomic::{AtomicBool, Ordering};

/// Spins before a waiter starts yielding.
const SPINS_BEFORE_YIELD: u32 = 64;

/// The lock. Protects no data of its own: the state it serialises is made
/// of atomics that its holders update with plain loads and stores.
#[derive(Debug, Default)]
pub(crate) struct ShortLock(AtomicBool);

impl ShortLock {
    /// Takes the lock; it is released when the guard is dropped.
    #[inline]
    pub(crate) fn lock(&self) -> ShortGuard<'_> {
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.wait_until_free();
        }
        ShortGuard(&self.0)
    }

    #[cold]
    fn wait_until_free(&self) {
        let mut spins = 0;
        while self.0.load(Ordering::Relaxed) {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Proof that a [`ShortLock`] is held; releases it when dropped (also on
/// unwinding).
#[derive(Debug)]
pub(crate) struct ShortGuard<'a>(&'a AtomicBool);

impl Drop for ShortGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn excludes_other_holders() {
        // Plain load-then-store increments lose updates unless the lock
        // really excludes the other threads.
        const THREADS: u64 = 4;
        const ROUNDS: u64 = 20_000;
        let lock = ShortLock::default();
        let counter = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        let _held = lock.lock();
                        let v = counter.load(Ordering::Relaxed);
                        counter.store(v + 1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(counter.load(Ordering::Relaxed), THREADS * ROUNDS);
    }
}
