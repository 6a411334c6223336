//! Time is injected: the engine never reads the system clock except through a [`Clock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch, UTC. Every stored time is one of these.
pub type Millis = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock for tests and simulations: it stands still until set or advanced. Clones share time.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<AtomicI64>,
}

impl TestClock {
    pub fn new(start_ms: Millis) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start_ms)),
        }
    }
    /// 2025-01-01T00:00:00Z: a fixed, readable start for tests.
    pub fn at_default_start() -> Self {
        Self::new(1_735_689_600_000)
    }
    pub fn set_ms(&self, ms: Millis) {
        self.now.store(ms, Ordering::SeqCst);
    }
    pub fn advance_ms(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn advance_secs(&self, s: i64) {
        self.advance_ms(s * 1000);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}
