//! Fault injection (feature `fault-injection`): a store fails the N-th write statement, so
//! that tests prove an operation failing midway leaves nothing behind, on every store.

use crate::error::{ChatError, ErrorCode, Result};

/// Fails the N-th write statement from when it is armed: proves that an operation failing
/// midway leaves nothing behind.
#[derive(Default)]
pub struct FaultPlan {
    remaining: std::sync::atomic::AtomicI64,
    fired: std::sync::atomic::AtomicU64,
}

impl FaultPlan {
    /// The `n`-th write from now fails (1: the next one). 0 disarms.
    pub fn fail_write(&self, n: i64) {
        self.remaining.store(n, std::sync::atomic::Ordering::SeqCst);
    }
    /// Whether a fault is armed and has not fired yet (a test arms the next one only once the
    /// previous one fired, so that none is overwritten unseen).
    pub fn is_armed(&self) -> bool {
        self.remaining.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
    /// Faults that fired (failed a write statement) since the store was opened.
    pub fn fired(&self) -> u64 {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Counts one write statement of a store, failing it if it is the armed one.
    pub(crate) fn tick(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let before = self.remaining.load(Ordering::SeqCst);
        if before <= 0 {
            return Ok(());
        }
        self.remaining.store(before - 1, Ordering::SeqCst);
        if before == 1 {
            self.fired.fetch_add(1, Ordering::SeqCst);
            return Err(ChatError::new(ErrorCode::Storage, "injected fault"));
        }
        Ok(())
    }
}
