//! Group commit by combining: concurrent writes run on one thread, in one transaction.
//!
//! A write that finds the writer connection free runs at once and, before committing, runs
//! every write queued meanwhile by other threads (up to [`MAX_GROUP`]), each in its own
//! savepoint; one `COMMIT` then makes them all durable, and only then is each woken with its
//! result. A write that finds the connection busy queues itself and sleeps until the thread
//! holding the connection (the combiner) has run and committed it.
//!
//! Why not hand the connection from thread to thread, each running its own operation (the
//! earlier design): with 32 writers on 2 cores every operation then waited for its thread to
//! be scheduled while holding up all the others, and the lock's handover cost more than the
//! SQLite work — in process 32 threads sent 3 750 messages/s with group commit and 4 450/s
//! without, against ≈ 6 400/s for one thread alone (`examples/group_commit.rs`). Combining
//! runs a group back to back on the thread that is already running.
//!
//! Soundness: a queued write is a pointer to a job on its thread's stack; that thread does not
//! return (nor unwind) before the job is marked done, and the combiner touches the job only
//! before marking it done, so the job outlives every use. A panic inside a queued operation is
//! caught on the combiner (its savepoint is rolled back) and resumed on the operation's own
//! thread, as if it had run there.

use super::{SqliteStore, SqliteTx, Writer};
use crate::error::{ChatError, ErrorCode, Result};
use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::Duration;

/// The most operations committed together in one group transaction.
pub const MAX_GROUP: usize = 128;

/// An operation and the slot for its outcome.
pub(super) struct Job<F, T> {
    f: Option<F>,
    out: Option<Result<T>>,
    panic: Option<Box<dyn Any + Send>>,
}

/// What the combiner does with a job, whatever its types.
trait Run {
    /// Runs the operation on the open transaction; true if it succeeded (its changes stay).
    fn run(&mut self, tx: &SqliteTx<'_>) -> bool;
    /// The transaction that held it did not commit: it fails with `e`.
    fn fail(&mut self, e: &ChatError);
}

impl<F, T> Job<F, T>
where
    F: FnOnce(&SqliteTx<'_>) -> Result<T>,
{
    pub(super) fn new(f: F) -> Self {
        Job {
            f: Some(f),
            out: None,
            panic: None,
        }
    }

    /// The outcome once the job is done (a panic of the operation resumes here).
    pub(super) fn finish(self) -> Result<T> {
        if let Some(p) = self.panic {
            resume_unwind(p);
        }
        self.out
            .unwrap_or_else(|| Err(ChatError::new(ErrorCode::Storage, "the write was not run")))
    }
}

impl<F, T> Run for Job<F, T>
where
    F: FnOnce(&SqliteTx<'_>) -> Result<T>,
{
    fn run(&mut self, tx: &SqliteTx<'_>) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        match catch_unwind(AssertUnwindSafe(|| f(tx))) {
            Ok(out) => {
                let ok = out.is_ok();
                self.out = Some(out);
                ok
            }
            Err(p) => {
                self.panic = Some(p);
                false
            }
        }
    }

    fn fail(&mut self, e: &ChatError) {
        if self.panic.is_none() && !matches!(self.out, Some(Err(_))) {
            self.out = Some(Err(e.clone()));
        }
    }
}

/// What became of one job in the group transaction.
enum Outcome {
    /// Run: succeeded (kept) or failed (its savepoint, or the transaction it was alone in,
    /// rolled back).
    Ran(bool),
    /// Not run: its savepoint or transaction could not begin (nothing else is affected).
    Refused(ChatError),
    /// The transaction was lost with it: it and every job before it in it fail.
    Lost(ChatError),
}

/// A queued write: its job and done flag (on the waiting thread's stack) and that thread.
struct Ticket {
    job: *mut (dyn Run + Send),
    done: *const AtomicBool,
    thread: Thread,
}

// SAFETY: the pointers refer to the waiting thread's stack, which stays alive until `done` is
// set (see the module docs); the job itself is `Send`.
unsafe impl Send for Ticket {}

impl Ticket {
    fn job(&mut self) -> &mut (dyn Run + Send) {
        // SAFETY: not done yet, so the job is alive, and only the combiner (holding the writer
        // connection) uses it until then.
        unsafe { &mut *self.job }
    }

    /// Marks the job done and wakes its thread; the job is not touched after.
    fn complete(self) {
        let Ticket { done, thread, .. } = self;
        // SAFETY: alive until this store (the waiting thread checks it before returning).
        unsafe { (*done).store(true, Ordering::Release) };
        thread.unpark();
    }
}

/// Writes waiting for the combiner, oldest first.
#[derive(Default)]
pub(super) struct Queue(std::sync::Mutex<VecDeque<Ticket>>);

impl Queue {
    /// Writes waiting now.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Ticket>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Waits, when dropped, until a queued job is done: at the end of `write_grouped`'s waiting
/// scope, and also if that thread unwinds first — its stack must outlive the job (see the
/// module docs).
struct WaitUntilDone<'a> {
    store: &'a SqliteStore,
    done: &'a AtomicBool,
}

impl Drop for WaitUntilDone<'_> {
    fn drop(&mut self) {
        // Woken when the job is done or the connection is handed over; the growing timeout
        // only guards against a lost wake-up (the connection held by a non-write, say).
        let mut nap = Duration::from_micros(500);
        while !self.done.load(Ordering::Acquire) {
            if !self.store.try_combine(None) {
                std::thread::park_timeout(nap);
                nap = (nap * 2).min(Duration::from_millis(8));
            }
        }
    }
}

impl SqliteStore {
    /// Group commit (see the module docs): runs `f` now if the writer connection is free, with
    /// the writes queued meanwhile; else queues it and waits until a combiner has committed it.
    pub(super) fn write_grouped<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&SqliteTx<'_>) -> Result<T> + Send,
        T: Send,
    {
        let mut job = Job::new(f);
        if self.try_combine(Some(&mut job)) {
            return job.finish();
        }
        let done = AtomicBool::new(false);
        {
            let run: &mut (dyn Run + Send + '_) = &mut job;
            // SAFETY: erases the job's lifetime for the queue; `WaitUntilDone` below keeps this
            // frame alive until the combiner has marked it done.
            let run: *mut (dyn Run + Send + 'static) = unsafe { std::mem::transmute(run) };
            self.queue.lock().push_back(Ticket {
                job: run,
                done: &done,
                thread: std::thread::current(),
            });
            // Dropped at the end of this scope: waits (taking the connection itself if the
            // combiner released it before the ticket was queued).
            let _wait = WaitUntilDone {
                store: self,
                done: &done,
            };
        }
        job.finish()
    }

    /// Takes the writer connection if it is free: runs `own` (if any) and the queued writes,
    /// releases it and wakes the next waiter. False if the connection was busy.
    fn try_combine(&self, own: Option<&mut (dyn Run + '_)>) -> bool {
        let Some(mut w) = self.writer.try_lock() else {
            return false;
        };
        self.combine(&mut w, own);
        drop(w);
        self.hand_over();
        true
    }

    /// After releasing the writer connection: writes still queued get a combiner (the oldest
    /// one's thread is woken to take the connection).
    fn hand_over(&self) {
        if let Some(t) = self.queue.lock().front() {
            t.thread.unpark();
        }
    }

    /// Runs `own` (if any) and then the queued writes in one transaction, commits it and
    /// completes them. Holding the writer connection.
    fn combine(&self, w: &mut Writer, mut own: Option<&mut (dyn Run + '_)>) {
        // Queued jobs run in the open transaction, completed once it has committed.
        let mut ran: Vec<Ticket> = Vec::new();
        // Whether the own job succeeded in the open transaction (it fails if that does not
        // commit).
        let mut own_ok = false;
        let mut own_next = own.is_some();
        let mut open = false;
        loop {
            let mut ticket: Option<Ticket> = None;
            if !own_next {
                if ran.len() >= MAX_GROUP {
                    break;
                }
                match self.queue.lock().pop_front() {
                    Some(t) => ticket = Some(t),
                    None => break,
                }
            }
            own_next = false;
            let job: &mut (dyn Run + '_) = match (&mut ticket, own.as_deref_mut()) {
                (Some(t), _) => t.job(),
                (None, Some(j)) => j,
                (None, None) => break,
            };
            w.ops += 1;
            // The first job opens the transaction without a savepoint (alone in it, a failure
            // rolls the transaction back); the next ones get a savepoint each.
            let first = !open;
            let outcome = match w.run(if first {
                "BEGIN IMMEDIATE"
            } else {
                "SAVEPOINT op"
            }) {
                Err(e) => Outcome::Refused(ChatError::from(e)),
                Ok(()) => {
                    open = true;
                    // Each operation records its own changes in its own `SqliteTx` (a failed
                    // one's go with it).
                    let ok = job.run(&self.tx(&w.conn));
                    if w.conn.is_autocommit() {
                        // SQLite rolled the whole transaction back (I/O error, disk full, ...).
                        Outcome::Lost(ChatError::new(
                            ErrorCode::Storage,
                            "the transaction was rolled back",
                        ))
                    } else if first {
                        if !ok {
                            let _ = w.conn.execute_batch("ROLLBACK");
                            open = false;
                        }
                        Outcome::Ran(ok)
                    } else {
                        let settled = if ok {
                            w.run("RELEASE op")
                        } else {
                            w.run("ROLLBACK TO op").and_then(|_| w.run("RELEASE op"))
                        };
                        match settled {
                            Ok(()) => Outcome::Ran(ok),
                            // The savepoint could not be settled: the transaction's state is
                            // unknown.
                            Err(e) => Outcome::Lost(ChatError::from(e)),
                        }
                    }
                }
            };
            match outcome {
                Outcome::Ran(ok) => match ticket {
                    Some(t) => ran.push(t),
                    None => own_ok = ok,
                },
                Outcome::Refused(e) => {
                    job.fail(&e);
                    if let Some(t) = ticket {
                        t.complete();
                    }
                }
                Outcome::Lost(e) => {
                    job.fail(&e);
                    if let Some(t) = ticket {
                        t.complete();
                    }
                    if !w.conn.is_autocommit() {
                        let _ = w.conn.execute_batch("ROLLBACK");
                    }
                    open = false;
                    self.fail_all(&mut ran, &e);
                    if std::mem::take(&mut own_ok)
                        && let Some(j) = own.as_deref_mut()
                    {
                        j.fail(&e);
                    }
                }
            }
        }
        if open {
            match w.run("COMMIT") {
                Ok(()) => w.commits += 1,
                Err(e) => {
                    let e = ChatError::from(e);
                    if !w.conn.is_autocommit() {
                        let _ = w.conn.execute_batch("ROLLBACK");
                    }
                    self.fail_all(&mut ran, &e);
                    if own_ok && let Some(j) = own {
                        j.fail(&e);
                    }
                }
            }
        }
        for t in ran {
            t.complete();
        }
    }

    fn fail_all(&self, ran: &mut Vec<Ticket>, e: &ChatError) {
        for mut t in ran.drain(..) {
            t.job().fail(e);
            t.complete();
        }
    }
}
