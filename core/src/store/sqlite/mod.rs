//! SQLite backend: one writer connection, WAL on files, numbered migrations, a transaction
//! helper that commits only on `Ok`, and `prepare_cached` for every statement.
//!
//! On a file database a small pool of read-only connections ([`READERS`]) serves
//! [`SqliteStore::read`], so reads see the last committed snapshot while a write is in
//! progress (WAL allows one writer and many readers). An in-memory database keeps its one
//! connection for everything.

mod chats;
mod directory;
mod encryption;
mod events;
mod invitations;
mod memberships;
mod messages;
mod starters;
mod suggestions;
mod tags;

use crate::error::{ChatError, ErrorCode, Result};
use parking_lot::Mutex;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
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

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Read-only connections (file databases only; empty in memory).
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    #[cfg(feature = "fault-injection")]
    fault: std::sync::Arc<FaultPlan>,
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
        let mut store = Self::setup(conn)?;
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
        conn.set_prepared_statement_cache_capacity(256);
        migrate(&mut conn, latest_version())?;
        Ok(Self {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(feature = "fault-injection")]
            fault: std::sync::Arc::new(FaultPlan::default()),
        })
    }

    /// Runs `f` in one write transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stx = SqliteTx {
            conn: &tx,
            #[cfg(feature = "fault-injection")]
            fault: &self.fault,
        };
        let out = f(&stx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` over a consistent snapshot (a read transaction): on a reader connection when
    /// the database is a file (a free one if any, else the next in turn), else on the writer.
    pub fn read<T>(&self, f: impl FnOnce(&SqliteTx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = if self.readers.is_empty() {
            self.conn.lock()
        } else {
            match self.readers.iter().find_map(|r| r.try_lock()) {
                Some(free) => free,
                None => {
                    use std::sync::atomic::Ordering;
                    let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
                    self.readers[i].lock()
                }
            }
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let stx = SqliteTx {
            conn: &tx,
            #[cfg(feature = "fault-injection")]
            fault: &self.fault,
        };
        f(&stx)
    }

    /// Raw access for maintenance tasks that are not domain rules (checkpoints, integrity checks).
    pub fn with_connection<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&self.conn.lock())
    }

    #[cfg(feature = "fault-injection")]
    pub fn fault_plan(&self) -> &FaultPlan {
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
    #[cfg(feature = "fault-injection")]
    fault: &'c FaultPlan,
}

impl SqliteTx<'_> {
    /// Executes a cached write statement.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        #[cfg(feature = "fault-injection")]
        self.fault.tick()?;
        Ok(self.conn.prepare_cached(sql)?.execute(params)?)
    }
    fn conn(&self) -> &Connection {
        self.conn
    }
}

/// Fails the N-th write statement from when it is armed: proves that an operation failing
/// midway leaves nothing behind.
#[cfg(feature = "fault-injection")]
#[derive(Default)]
pub struct FaultPlan {
    remaining: std::sync::atomic::AtomicI64,
}

#[cfg(feature = "fault-injection")]
impl FaultPlan {
    /// The `n`-th write from now fails (1: the next one). 0 disarms.
    pub fn fail_write(&self, n: i64) {
        self.remaining.store(n, std::sync::atomic::Ordering::SeqCst);
    }
    fn tick(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let before = self.remaining.load(Ordering::SeqCst);
        if before <= 0 {
            return Ok(());
        }
        self.remaining.store(before - 1, Ordering::SeqCst);
        if before == 1 {
            return Err(ChatError::new(ErrorCode::Storage, "injected fault"));
        }
        Ok(())
    }
}

// ---- column conversions ---------------------------------------------------------------------

pub(crate) fn uuid_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    let b: Vec<u8> = row.get(idx)?;
    Uuid::from_slice(&b).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
    })
}

pub(crate) fn uuid_opt_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    let b: Option<Vec<u8>> = row.get(idx)?;
    b.map(|b| {
        Uuid::from_slice(&b).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
        })
    })
    .transpose()
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
