//! SQLite backend: one writer connection, WAL on files, numbered migrations, a transaction
//! helper that commits only on `Ok`, and `prepare_cached` for every statement.
//!
//! On a file database, concurrent writes are committed together (group commit, see
//! [`SqliteStore::write`]): each operation runs in its own savepoint inside a shared
//! transaction, so it stays atomic, and is acknowledged only after that transaction commits.
//!
//! On a file database a small pool of read-only connections ([`READERS`]) serves
//! [`SqliteStore::read`], so reads see the last committed snapshot while a write is in
//! progress (WAL allows one writer and many readers). An in-memory database keeps its one
//! connection for everything.

/// SQL text built once from constant parts: `format!` arguments that are constants (column
/// lists, shared fragments). A statement run by every operation is not formatted again on every
/// call. (The text is a `static`: an argument that is not a constant does not compile.)
macro_rules! const_sql {
    ($($fmt:tt)*) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!($($fmt)*));
        SQL.as_str()
    }};
}

mod chats;
mod directory;
mod encryption;
mod events;
mod group_commit;
mod invitations;
mod memberships;
mod messages;
mod starters;
mod suggestions;
mod tags;

use crate::error::{ChatError, ErrorCode, Result};
use crate::store::changes::{Change, ChangeLog};
use parking_lot::Condvar;
use parking_lot::Mutex;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// The migrations, in order. Migration `n` (1-based) brings `user_version` from `n-1` to `n`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../../../migrations/0001_initial.sql"),
    ),
    (
        "0002_invitations_tags_starters_suggestions",
        include_str!("../../../migrations/0002_invitations_tags_starters_suggestions.sql"),
    ),
    (
        "0003_encryption",
        include_str!("../../../migrations/0003_encryption.sql"),
    ),
    (
        "0004_events",
        include_str!("../../../migrations/0004_events.sql"),
    ),
    (
        "0005_event_changes",
        include_str!("../../../migrations/0005_event_changes.sql"),
    ),
    (
        "0006_event_state_in_rows",
        include_str!("../../../migrations/0006_event_state_in_rows.sql"),
    ),
    (
        "0007_chat_list_indexes",
        include_str!("../../../migrations/0007_chat_list_indexes.sql"),
    ),
    (
        "0008_checks_without_in_lists",
        include_str!("../../../migrations/0008_checks_without_in_lists.sql"),
    ),
    (
        "0009_idle_index_by_minute",
        include_str!("../../../migrations/0009_idle_index_by_minute.sql"),
    ),
    (
        "0010_event_audience",
        include_str!("../../../migrations/0010_event_audience.sql"),
    ),
    (
        "0011_webhook_delivery_limits",
        include_str!("../../../migrations/0011_webhook_delivery_limits.sql"),
    ),
    (
        "0012_server_held_keys",
        include_str!("../../../migrations/0012_server_held_keys.sql"),
    ),
    (
        "0013_event_number_ranges",
        include_str!("../../../migrations/0013_event_number_ranges.sql"),
    ),
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// How hard commits are pushed to disk on file databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL` with WAL: a power loss may drop the last commits, never corrupt.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on disk when acknowledged.
    Full,
}

/// How many read-only connections a file database opens next to its writer.
pub const READERS: usize = 4;

/// The writer connection's page cache, in KiB: SQLite's default size, set explicitly because a
/// larger one is slower. A commit whose b-tree balancing swapped page numbers (common once
/// pages are reused from the free list) walks the whole page cache: SQLite 3.54 swaps through
/// the lock-byte page's number (page 262 145 with 4 KiB pages), and at the end of the write
/// transaction `pcache1TruncateUnsafe` scans every hash bucket and page to drop pages above
/// the database's size, unless the file is past 1 GiB. With 32 MiB that walk was 7 % of a
/// send (`perf`, ≈ 0.3 ms per such commit); with 2 MiB it is 0.3 %, while the extra reads
/// from the OS cost less than it saved: sends 5 % faster in process (6–9 % with background
/// checkpoints), and at 5 000 POST/s the server's p99 fell in every alternating turn
/// (`docs/PERFORMANCE.md`).
pub const WRITER_CACHE_KIB: i64 = 2 * 1024;

/// How an engine checkpoints its WAL in the background (see
/// [`crate::EngineBuilder::background_checkpoints`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// How often a passive checkpoint runs on the checkpointer's own connection.
    pub every: std::time::Duration,
    /// The WAL size (pages) past which a commit still checkpoints inline: under writes that
    /// never pause, the background checkpoint alone never lets the WAL start over (see
    /// [`SqliteStore::set_autocheckpoint`]). 0: never inline (the WAL then grows without end
    /// under steady writes; for measurements only).
    pub inline_above_pages: i64,
    /// Once every frame of the WAL is copied into the database and no write has added one for
    /// this long, the checkpointer truncates the WAL file to zero bytes: the file is kept at
    /// its working size while writes come (allocating it anew each cycle measured slower),
    /// and given back when they stop. None: never.
    pub truncate_when_idle: Option<std::time::Duration>,
}

impl Default for CheckpointPolicy {
    /// Every 10 ms, inline past 65 536 pages (256 MiB of WAL with 4 KiB pages; the WAL file
    /// is then kept at that size while writes come, see
    /// [`SqliteStore::start_background_checkpoints`], and truncated after 1 s without one).
    /// Measured (`docs/PERFORMANCE.md`): with passes this frequent
    /// (their copies synced to the database file, see `PassSyncs`) the inline checkpoint finds
    /// nearly everything copied and synced, and what it costs the writer is its syncs, so rarer
    /// is better — in process at 5 000 sends/s p99 12.2 / 12.7 / 8.4 ms against 22.9 / 19.7 /
    /// 17.3 at 16 384 pages (which had itself beaten 4 096). Larger thresholds had measured no
    /// better only while the WAL file was cut back to 64 MB at every restart, so that each
    /// cycle allocated its blocks anew. Passes sparser than 10 ms left more to the inline
    /// checkpoint; closer ones took CPU from the server's HTTP side; an unbounded WAL was
    /// slowest.
    fn default() -> Self {
        CheckpointPolicy {
            every: std::time::Duration::from_millis(10),
            inline_above_pages: 65_536,
            truncate_when_idle: Some(std::time::Duration::from_secs(1)),
        }
    }
}

/// Frames copied by background passes, unsynced, past which the next pass syncs the database
/// file: 2 MiB with 4 KiB pages.
const SYNC_AFTER_FRAMES: i64 = 512;

/// When a background checkpoint pass syncs the database file.
///
/// A pass that copies frames while more are being committed leaves its copies unsynced:
/// SQLite syncs the database file only when a checkpoint has copied the whole WAL. Under
/// steady writes that is the inline checkpoint, whose sync then had every page the passes
/// copied since the last restart to write (tens of MB), with the writer waiting: 50–60 ms at
/// 2 000 and 5 000 sends/s. So the passes sync, but only once [`SYNC_AFTER_FRAMES`] copies are
/// unsynced, and never after a pass that copied the whole WAL (SQLite synced it then): a sync
/// after every pass that copied anything was 8 % of the server's CPU at one request at a time,
/// half of it a second sync of a file SQLite had just synced (`docs/PERFORMANCE.md`).
#[derive(Debug, Default)]
struct PassSyncs {
    /// Frames of the current WAL known synced into the database file.
    synced: i64,
}

impl PassSyncs {
    /// After a pass that found `log` frames in the WAL and `copied` of them copied: whether
    /// to sync the database file now.
    fn after_pass(&mut self, log: i64, copied: i64) -> bool {
        if copied < self.synced {
            // The WAL started over (a restart syncs everything first).
            self.synced = 0;
        }
        if copied == log {
            // Copied to the end: SQLite synced the file itself.
            self.synced = copied;
            return false;
        }
        if copied - self.synced >= SYNC_AFTER_FRAMES {
            self.synced = copied;
            return true;
        }
        false
    }
}

/// How long the WAL has held the same frames, all copied into the database (the
/// checkpointer's idle truncation, [`CheckpointPolicy::truncate_when_idle`]).
#[derive(Debug, Default)]
struct IdleWal {
    /// The frame count seen, and since when, while every frame was copied.
    since: Option<(i64, std::time::Instant)>,
}

impl IdleWal {
    /// After a pass that found `log` frames, `copied` of them copied, at `now`: how long the
    /// WAL has been idle and fully copied (zero when it is empty, or still being written).
    fn after_pass(
        &mut self,
        log: i64,
        copied: i64,
        now: std::time::Instant,
    ) -> std::time::Duration {
        match self.since {
            _ if log <= 0 || copied < log => {
                self.since = None;
                std::time::Duration::ZERO
            }
            Some((frames, at)) if frames == log => now.saturating_duration_since(at),
            _ => {
                self.since = Some((log, now));
                std::time::Duration::ZERO
            }
        }
    }
}

/// The thread that checkpoints a store's WAL; stopped (and joined) when dropped.
pub struct BackgroundCheckpoints {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    passes: Arc<std::sync::atomic::AtomicU64>,
}

impl BackgroundCheckpoints {
    /// Passive checkpoints completed so far (a failed one, e.g. busy, is retried next time).
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }
}

impl Drop for BackgroundCheckpoints {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// When the WAL starts over, its file is truncated to this (`journal_size_limit`), or to the
/// size the inline checkpoint threshold lets it reach if that is larger (background
/// checkpoints).
pub const WAL_KEEP_BYTES: i64 = 64 << 20;

/// The header SQLite writes before each page in the WAL.
const WAL_FRAME_HEADER_BYTES: i64 = 24;

pub use group_commit::MAX_GROUP;

/// The writer connection.
struct Writer {
    conn: Connection,
    /// Write operations run and transactions committed (see [`SqliteStore::write_stats`]).
    ops: u64,
    commits: u64,
}

impl Writer {
    fn run(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([]).map(|_| ())
    }
}

/// The writer connection's lock: std's mutex (a futex that spins briefly, then sleeps). A
/// poisoned lock is taken over as is: operations run inside `catch_unwind` or roll their
/// transaction back when they fail, so no half-done write is left behind a panic.
struct WriterLock(std::sync::Mutex<Writer>);

impl WriterLock {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn try_lock(&self) -> Option<std::sync::MutexGuard<'_, Writer>> {
        match self.0.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

pub struct SqliteStore {
    writer: WriterLock,
    /// Writes waiting for the thread that holds the writer connection to run them (group
    /// commit, see [`group_commit`]).
    queue: group_commit::Queue,
    /// Group commit is on for file databases (in memory, reads share the writer connection and
    /// must not see a group's uncommitted operations).
    group_commit: std::sync::atomic::AtomicBool,
    /// Read-only connections (file databases only; empty in memory).
    readers: Vec<Mutex<Connection>>,
    /// The database file (file databases), for the background checkpointer's connection.
    path: Option<std::path::PathBuf>,
    next_reader: std::sync::atomic::AtomicUsize,
    #[cfg(feature = "fault-injection")]
    fault: std::sync::Arc<crate::store::FaultPlan>,
}

impl SqliteStore {
    pub fn open(path: &Path, durability: Durability) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        // When the WAL starts over, its file is cut back to this (else it keeps the largest
        // size it ever reached).
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)?;
        let mut store = Self::setup(conn)?;
        store.group_commit = std::sync::atomic::AtomicBool::new(true);
        store.path = Some(path.to_path_buf());
        // Opened after the migrations, so they see the current schema.
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // Same stable query plans as the writer (see `setup`).
            r.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )?;
            r.pragma_update(None, "busy_timeout", 5000)?;
            r.set_prepared_statement_cache_capacity(256);
            store.readers.push(Mutex::new(r));
        }
        Ok(store)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Stable query plans: without QPSG, SQLite marks statements for recompilation when a
        // bound value may change the plan (an equality moving to or from 0/1, STAT4 samples),
        // and since cached statements get their bindings cleared, that happened on nearly
        // every call: half of a message send went to re-preparing statements.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        // Purged or deleted text must not linger in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        // The writer's page cache: small on purpose (see `WRITER_CACHE_KIB`).
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(256);
        migrate(&mut conn, latest_version())?;
        // The temp database (sorters, materialized subqueries) in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(Self {
            writer: WriterLock(std::sync::Mutex::new(Writer {
                conn,
                ops: 0,
                commits: 0,
            })),
            queue: group_commit::Queue::default(),
            group_commit: std::sync::atomic::AtomicBool::new(false),
            readers: Vec::new(),
            path: None,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(feature = "fault-injection")]
            fault: std::sync::Arc::new(crate::store::FaultPlan::default()),
        })
    }

    /// Runs `f` as one atomic write: its changes are committed if it returns `Ok` (and the
    /// result is returned only once they are), none of them if it fails.
    ///
    /// Group commit (file databases): concurrent writes are run by one thread in one
    /// transaction, each in its own savepoint (a failing operation rolls back only itself),
    /// and acknowledged once it commits; see [`group_commit`]. Alone, an operation runs in its
    /// own transaction, without savepoint.
    pub fn write<T: Send>(&self, f: impl FnOnce(&SqliteTx<'_>) -> Result<T> + Send) -> Result<T> {
        if self.group_commit.load(Ordering::Relaxed) {
            return self.write_grouped(f);
        }
        let mut w = self.writer.lock();
        w.ops += 1;
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&self.tx(&tx))?;
        tx.commit()?;
        w.commits += 1;
        Ok(out)
    }

    /// A handle on a transaction of `conn` for the store traits.
    fn tx<'c>(&'c self, conn: &'c Connection) -> SqliteTx<'c> {
        SqliteTx {
            conn,
            changes: Default::default(),
            #[cfg(feature = "fault-injection")]
            fault: &self.fault,
        }
    }

    /// Runs `f` over a consistent snapshot (a read transaction): on a reader connection when
    /// the database is a file (a free one if any, else the next in turn), else on the writer.
    pub fn read<T>(&self, f: impl FnOnce(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        if self.readers.is_empty() {
            let mut w = self.writer.lock();
            return Self::read_on(&mut w.conn, f, self);
        }
        let mut conn = {
            match self.readers.iter().find_map(|r| r.try_lock()) {
                Some(free) => free,
                None => {
                    let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
                    self.readers[i].lock()
                }
            }
        };
        Self::read_on(&mut conn, f, self)
    }

    fn read_on<T>(
        conn: &mut Connection,
        f: impl FnOnce(&SqliteTx<'_>) -> Result<T>,
        store: &Self,
    ) -> Result<T> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&store.tx(&tx))
    }

    /// Raw access to the writer connection for maintenance tasks that are not domain rules
    /// (checkpoints, integrity checks), outside any transaction.
    pub fn with_connection<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let w = self.writer.lock();
        f(&w.conn)
    }

    /// Turns group commit off (one transaction per operation, as measured before group commit)
    /// or back on; file databases only (in memory it stays off).
    pub fn set_group_commit(&self, on: bool) {
        self.group_commit
            .store(on && !self.readers.is_empty(), Ordering::Relaxed);
    }

    /// Whether concurrent writes are committed together now (see [`Self::set_group_commit`]).
    pub fn group_commit_on(&self) -> bool {
        self.group_commit.load(Ordering::Relaxed)
    }

    /// Write operations run and transactions committed since the store was opened: with group
    /// commit, fewer commits than operations.
    pub fn write_stats(&self) -> (u64, u64) {
        let w = self.writer.lock();
        (w.ops, w.commits)
    }

    /// Writes queued right now for the thread holding the writer connection (group commit):
    /// each will run in that thread's next group transaction. An observation for tests and
    /// monitoring (it may change as soon as it is read); 0 without group commit.
    pub fn queued_writes(&self) -> usize {
        self.queue.len()
    }

    /// Sets `wal_autocheckpoint` (pages): the WAL size past which a commit checkpoints inline.
    /// 0 turns inline checkpoints off — but with checkpoints running beside writes that never
    /// pause, the WAL then never starts over and grows without end (measured: 50 MB/s at c=1):
    /// SQLite restarts it only when a write begins with every frame copied, and a checkpoint
    /// running beside the writes never catches up with them. Background checkpoints
    /// ([`SqliteStore::start_background_checkpoints`]) therefore keep a threshold here (see
    /// [`CheckpointPolicy`]): that inline checkpoint finds nearly every frame already copied,
    /// copies the rest and syncs, and the next write starts the WAL over.
    pub fn set_autocheckpoint(&self, pages: i64) -> Result<()> {
        self.with_connection(|c| {
            c.pragma_update(None, "wal_autocheckpoint", pages)?;
            Ok(())
        })
    }

    /// Starts checkpointing the WAL on a thread with a connection of its own, and sets the
    /// writer's inline threshold (file databases; `None` in memory).
    pub fn start_background_checkpoints(
        &self,
        policy: CheckpointPolicy,
    ) -> Result<Option<BackgroundCheckpoints>> {
        let Some(path) = self.path.clone() else {
            return Ok(None);
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Passive passes never wait; the idle truncation waits this long at most for a
        // writer or reader in the way (then tries again later).
        conn.pragma_update(None, "busy_timeout", 20)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // The database file, to push each pass's copies to disk (below).
        let db_file = std::fs::File::open(&path).map_err(|e| {
            ChatError::new(
                ErrorCode::Storage,
                format!("cannot open the database file for the checkpoint thread: {e}"),
            )
        })?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let passes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stop2, passes2) = (stop.clone(), passes.clone());
        let thread = std::thread::Builder::new()
            .name("chat-checkpoints".into())
            .spawn(move || {
                let mut sync_state = PassSyncs::default();
                let mut idle = IdleWal::default();
                loop {
                    {
                        let mut stopped = stop2.0.lock();
                        if !*stopped {
                            // At least a millisecond apart: a zero interval would spin.
                            let every = policy.every.max(std::time::Duration::from_millis(1));
                            stop2.1.wait_for(&mut stopped, every);
                        }
                        if *stopped {
                            return;
                        }
                    }
                    // Its second and third columns: the WAL's frames, and how many of them are
                    // copied into the database so far.
                    let Ok((log, copied)) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                        })
                    else {
                        continue;
                    };
                    passes2.fetch_add(1, Ordering::Relaxed);
                    // An error is left to SQLite's own sync of the file, which sees it too.
                    if sync_state.after_pass(log, copied) {
                        let _ = db_file.sync_data();
                    }
                    let now = std::time::Instant::now();
                    if let Some(after) = policy.truncate_when_idle
                        && idle.after_pass(log, copied, now) >= after
                    {
                        // Everything is copied and nothing came since: starting the WAL over
                        // costs no copy. A writer arriving meanwhile waits at most the short
                        // busy timeout of this connection, then the truncation is retried.
                        if conn
                            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                                r.get::<_, i64>(0)
                            })
                            .is_ok_and(|busy| busy == 0)
                        {
                            idle = IdleWal::default();
                        }
                    }
                }
            })
            .map_err(|e| {
                ChatError::new(
                    ErrorCode::Storage,
                    format!("cannot start the checkpoint thread: {e}"),
                )
            })?;
        // From here a failure drops `checkpoints`, which stops and joins the thread: the
        // writer's settings change only once everything else is in place.
        let checkpoints = BackgroundCheckpoints {
            stop,
            thread: Some(thread),
            passes,
        };
        self.set_autocheckpoint(policy.inline_above_pages)?;
        // When the WAL starts over SQLite cuts its file back to `journal_size_limit`; below the
        // size the inline threshold lets the WAL reach (an eighth more for the group that
        // crosses it), every cycle would allocate the file's blocks anew, which measured slower
        // than the checkpoints it saved.
        if policy.inline_above_pages > 0 {
            self.with_connection(|c| {
                let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                let reach = policy
                    .inline_above_pages
                    .saturating_add(policy.inline_above_pages / 8)
                    .saturating_mul(page + WAL_FRAME_HEADER_BYTES);
                c.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES.max(reach))?;
                Ok(())
            })?;
        }
        Ok(Some(checkpoints))
    }

    #[cfg(feature = "fault-injection")]
    pub fn fault_plan(&self) -> &crate::store::FaultPlan {
        &self.fault
    }
}

/// Applies pending migrations up to `target`, each in its own transaction with the version
/// bumped inside it. A database from a newer build is refused.
pub fn migrate(conn: &mut Connection, target: i64) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest_version() {
        return Err(ChatError::new(
            ErrorCode::SchemaTooNew,
            format!(
                "The database has schema version {current}, newer than this engine's {}; upgrade the engine.",
                latest_version()
            ),
        ));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= current || version > target {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql).map_err(|e| {
            ChatError::new(ErrorCode::Storage, format!("migration {name} failed: {e}"))
        })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

/// A transaction handed to the rules through the store traits.
pub struct SqliteTx<'c> {
    conn: &'c Connection,
    /// What the operation changed, recorded by the write methods (one `SqliteTx` per
    /// operation, also under group commit; reads never record).
    changes: ChangeLog,
    #[cfg(feature = "fault-injection")]
    fault: &'c crate::store::FaultPlan,
}

impl SqliteTx<'_> {
    /// Executes a cached write statement.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        #[cfg(feature = "fault-injection")]
        self.fault.tick()?;
        Ok(self.conn.prepare_cached(sql)?.execute(params)?)
    }
    /// Executes a cached write statement with a `RETURNING` clause: the rows it changed, as
    /// `f` reads them (how a write learns which rows to record as changed).
    fn exec_returning<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        #[cfg(feature = "fault-injection")]
        self.fault.tick()?;
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map(params, f)?;
        Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
    }
    fn conn(&self) -> &Connection {
        self.conn
    }
    /// Records a change for publication (see [`crate::store::changes`]).
    fn record(&self, c: Change) {
        self.changes.record(c);
    }
}

// ---- column conversions ---------------------------------------------------------------------

pub(crate) fn uuid_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    // Borrowed: no allocation per id read.
    let b = row.get_ref(idx)?.as_blob()?;
    Uuid::from_slice(b).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
    })
}

pub(crate) fn uuid_opt_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get_ref(idx)?.as_blob_or_null()? {
        None => Ok(None),
        Some(b) => Uuid::from_slice(b).map(Some).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
        }),
    }
}

pub(crate) fn blob(id: Uuid) -> Value {
    Value::Blob(id.as_bytes().to_vec())
}

/// `cols` (a comma-separated column list) qualified with a table alias: `a.x, a.y`.
pub(crate) fn qualified(cols: &str, alias: &str) -> String {
    cols.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A user read through a LEFT JOIN at column `o` (the `USER_COLS` layout): `None` when absent.
pub(crate) fn user_opt_at(
    row: &rusqlite::Row<'_>,
    o: usize,
) -> rusqlite::Result<Option<crate::directory::UserRecord>> {
    match uuid_opt_col(row, o)? {
        None => Ok(None),
        Some(_) => directory::user_row_at(row, o).map(Some),
    }
}

/// A user's (name, public name, avatar) from the columns `first_name, last_name, alias,
/// avatar_id, avatar_url` starting at `o` (LEFT JOINed: all may be NULL), by the same rules as
/// [`crate::directory::UserRecord`].
pub(crate) fn user_display(
    row: &rusqlite::Row<'_>,
    o: usize,
) -> rusqlite::Result<(String, String, Option<crate::directory::Avatar>)> {
    use crate::directory::{avatar, full_name, public_name};
    let first: Option<String> = row.get(o)?;
    let last: Option<String> = row.get(o + 1)?;
    let alias: Option<String> = row.get(o + 2)?;
    let full = full_name(
        first.as_deref().unwrap_or_default(),
        last.as_deref().unwrap_or_default(),
    );
    let public = public_name(alias.as_deref(), &full);
    Ok((
        full,
        public,
        avatar(uuid_opt_col(row, o + 3)?, row.get(o + 4)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::{PassSyncs, SYNC_AFTER_FRAMES};

    #[test]
    fn passes_sync_once_enough_copies_are_unsynced_and_never_after_sqlite_did() {
        let mut s = PassSyncs::default();
        // Partial passes: no sync until SYNC_AFTER_FRAMES copies are unsynced.
        assert!(!s.after_pass(1000, 100));
        assert!(!s.after_pass(1000, SYNC_AFTER_FRAMES - 1));
        assert!(s.after_pass(2000, SYNC_AFTER_FRAMES));
        assert!(!s.after_pass(2000, SYNC_AFTER_FRAMES + 10));
        assert!(s.after_pass(4000, 2 * SYNC_AFTER_FRAMES + 5));
        // A pass that copied the whole WAL: SQLite synced the file, and counts as synced.
        assert!(!s.after_pass(5000, 5000));
        assert!(!s.after_pass(6000, 5000 + SYNC_AFTER_FRAMES - 1));
        assert!(s.after_pass(9000, 5000 + SYNC_AFTER_FRAMES));
        // The WAL started over: counted from its start again.
        assert!(!s.after_pass(300, 200));
        assert!(s.after_pass(900, SYNC_AFTER_FRAMES));
        // An empty WAL, or nothing new: nothing to sync.
        assert!(!s.after_pass(0, 0));
        assert!(!s.after_pass(0, 0));
    }
}
