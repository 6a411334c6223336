//! Where the server runs its engine calls (requests, WebSocket sessions, webhook deliveries,
//! maintenance).
//!
//! Engine calls are synchronous (SQLite), so they run off the async workers. Not on tokio's
//! blocking pool: at 32 concurrent POSTs its shared state lock is contended between the workers
//! handing calls over and the pool's threads taking them, ≈ a quarter of the server's context
//! switches (`perf record -e sched:sched_switch`, docs/PERFORMANCE.md). Here a fixed set of
//! threads takes calls from one lock-free queue and answers through a one-shot channel.

use std::panic::{AssertUnwindSafe, catch_unwind};

type Call = Box<dyn FnOnce() + Send>;

/// The engine threads' queue (calls run oldest first), or tokio's blocking pool
/// (`--engine-threads 0`, for comparison). The threads end once every clone of this is
/// dropped and the queued calls are done.
#[derive(Clone)]
pub struct Calls(Option<crossbeam_channel::Sender<Call>>);

/// An engine call panicked (the panic was caught on its thread) or could not be queued.
#[derive(Debug)]
pub struct CallFailed;

impl Calls {
    /// `threads` engine threads; 0: the blocking pool.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        if threads == 0 {
            return Ok(Calls(None));
        }
        let (queue, calls) = crossbeam_channel::unbounded::<Call>();
        for i in 0..threads {
            let calls = calls.clone();
            std::thread::Builder::new()
                .name(format!("engine-{i}"))
                .spawn(move || {
                    for call in calls {
                        call();
                    }
                })?;
        }
        Ok(Calls(Some(queue)))
    }

    /// Runs `f` off the async workers and waits for its result without blocking the caller's
    /// worker; `CallFailed` if it panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CallFailed> {
        let Some(queue) = &self.0 else {
            return tokio::task::spawn_blocking(f).await.map_err(|_| CallFailed);
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move || {
            // A panic is caught here, so the thread lives on; the waiting request sees it as
            // a dropped answer.
            if let Ok(out) = catch_unwind(AssertUnwindSafe(f)) {
                let _ = tx.send(out);
            }
        });
        queue.send(call).map_err(|_| CallFailed)?;
        rx.await.map_err(|_| CallFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_call_fails_alone_and_its_thread_goes_on() {
        let threads = Calls::start(1).unwrap();
        let failed = threads
            .run(|| -> u32 { panic!("engine call panicked") })
            .await;
        assert!(failed.is_err());
        // The one thread caught the panic: the next call is still answered.
        assert_eq!(threads.run(|| 2 + 2).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn both_kinds_of_calls_answer_and_report_panics() {
        for calls in [Calls::start(2).unwrap(), Calls::start(0).unwrap()] {
            assert_eq!(calls.run(|| "answer").await.unwrap(), "answer");
            assert!(calls.run(|| -> u8 { panic!("boom") }).await.is_err());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_calls_each_get_their_own_answer() {
        let threads = Calls::start(4).unwrap();
        let calls: Vec<_> = (0..200u64)
            .map(|i| {
                let threads = threads.clone();
                tokio::spawn(async move { threads.run(move || i * i).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), (i * i) as u64);
        }
    }
}
