//! Clean shutdown on SIGINT/SIGTERM: a shared flag that the attach loop
//! polls between batches (signal-hook). A second signal while the first is
//! being handled ends the process at once (status 130 or 143).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// A flag that says "stop": set by a signal or by [`Shutdown::request`].
/// Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
}

impl Shutdown {
    /// A flag that only [`Shutdown::request`] sets.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag that SIGINT and SIGTERM set. A second SIGINT or SIGTERM
    /// exits at once with status 128 + the signal number, for a loop that
    /// does not stop.
    pub fn on_signals() -> io::Result<Self> {
        let shutdown = Self::new();
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it runs before the flag is set: the first
            // signal only sets the flag, the second one exits.
            flag::register_conditional_shutdown(signal, 128 + signal, shutdown.requested.clone())?;
            flag::register(signal, shutdown.requested.clone())?;
        }
        Ok(shutdown)
    }

    /// Asks everything polling this flag to stop.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    /// True once a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let shutdown = Shutdown::new();
        let seen_by_loop = shutdown.clone();
        assert!(!seen_by_loop.is_requested());
        shutdown.request();
        assert!(seen_by_loop.is_requested());
    }
}
