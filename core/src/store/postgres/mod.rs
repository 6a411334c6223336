//! The PostgreSQL store: the storage traits over a shared PostgreSQL database, so that several
//! engines (several `chat-server` processes) serve one chat service.
//!
//! Writes are serialized: each write transaction takes one transaction-level advisory lock
//! first (per schema, see [`PgStore::write`]). Every rule therefore runs exactly as on SQLite's
//! single writer connection — a counter read and written back is never lost to a concurrent
//! write, and event numbers are taken in commit order, so a reader resuming after number `n`
//! never misses a smaller number committed later (the outbox gap). Reads run concurrently on
//! their own snapshots (`REPEATABLE READ, READ ONLY`) on any connection of the pool.
//!
//! The schema mirrors SQLite's (`core/migrations-postgres/`): ids are `UUID`, every integer and
//! 0/1 flag `BIGINT`, text compared bytewise, so the SQL predicates the rules define beside
//! themselves (`crate::chats::pending_sql`, `crate::directory::ROOM_ROUTING_SQL`, ...) are
//! composed into these queries unchanged; their `?N` parameters become `$N` when a statement
//! is first prepared ([`postgres_placeholders`]).

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
use crate::store::changes::{Change, ChangeLog};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

/// Numbered migrations, applied in order, each in its own transaction with the version bumped
/// inside it.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_schema",
    include_str!("../../../migrations-postgres/0001_schema.sql"),
)];

pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Connections a store keeps open at most (writes take one at a time, reads the rest).
const POOL_SIZE: u32 = 16;

/// One pooled connection with the statements prepared on it, by their SQL text.
pub struct PgConnection {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Opens connections for the pool from one configuration.
struct Connector {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Connector {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgConnection, postgres::Error> {
        Ok(PgConnection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }
    fn is_valid(&self, conn: &mut PgConnection) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }
    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        conn.client.is_closed()
    }
}

/// Cheap to clone: a clone shares the pool (the commit listener reads through one).
#[derive(Clone)]
pub struct PgStore {
    pool: r2d2::Pool<Connector>,
    /// Where the store connects (the commit listener opens a connection of its own).
    config: postgres::Config,
    /// This store's mark on the commits it announces, so that its listener skips them.
    origin: u64,
    /// The notification channel of the schema ([`commits_channel`]).
    channel: String,
    #[cfg(feature = "fault-injection")]
    fault: std::sync::Arc<crate::store::FaultPlan>,
    /// The key of the write lock: the hash of the schema the store's tables are in, so that
    /// stores on different schemas of one database do not wait for each other.
    write_lock: i64,
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL or `key=value` string), creating and migrating
    /// the schema as needed.
    pub fn open(url: &str) -> Result<Self> {
        let config: postgres::Config = url.parse().map_err(|e| {
            ChatError::new(
                ErrorCode::ValidationError,
                format!("The PostgreSQL connection string is not valid: {e}"),
            )
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            // While the database is down a call waits this long for a connection, then is
            // answered 503 (`storage_unavailable`).
            .connection_timeout(Duration::from_secs(2))
            // Not tested when handed out (a round trip per call): a connection the database
            // closed meanwhile fails when its transaction begins and is replaced (`begin`).
            .test_on_check_out(false)
            .build(Connector {
                config: config.clone(),
            })
            .map_err(unavailable)?;
        let mut conn = pool.get().map_err(unavailable)?;
        migrate(&mut conn.client, latest_version())?;
        let write_lock: i64 = conn
            .client
            .query_one("SELECT hashtextextended(current_schema(), 7057)", &[])?
            .get(0);
        drop(conn);
        Ok(Self {
            pool,
            config,
            origin: uuid::Uuid::new_v4().as_u64_pair().0,
            channel: commits_channel(write_lock),
            write_lock,
            #[cfg(feature = "fault-injection")]
            fault: Default::default(),
        })
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Connector>> {
        self.pool.get().map_err(unavailable)
    }

    /// A pooled connection with a transaction begun by `begin` (sent as one round trip with
    /// whatever must come first in the transaction). A connection the database closed while
    /// it sat in the pool (a restart) fails here: it is dropped as broken and the next one is
    /// taken, so that a call after an outage does not fail on a connection of before it.
    fn begin(&self, begin: &str) -> Result<r2d2::PooledConnection<Connector>> {
        let mut stale = 0;
        loop {
            let mut conn = self.connection()?;
            match conn.client.batch_execute(begin) {
                Ok(()) => return Ok(conn),
                Err(_) if conn.client.is_closed() && stale < POOL_SIZE => stale += 1,
                Err(e) => {
                    // Back to the pool outside any transaction (a no-op if none began).
                    let _ = conn.client.batch_execute("ROLLBACK");
                    return Err(e.into());
                }
            }
        }
    }

    /// Runs `f` as one atomic write: its changes are committed if it returns `Ok`, none of them
    /// if it fails (or panics: the transaction is rolled back when dropped). The write lock is
    /// taken first, so writes run one at a time across every engine on the schema. Beginning
    /// and taking the lock are one round trip, and so are the commit's announcement
    /// ([`PgTx::announce`]) and the commit: both are inside the time the lock is held, which
    /// bounds the writes per second of the whole database.
    pub fn write<T>(&self, f: impl FnOnce(&PgTx<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.begin(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            self.write_lock
        ))?;
        let PgConnection { client, statements } = &mut *conn;
        let handle = PgTx::new(Open::new(client), statements, self);
        let out = f(&handle)?;
        let PgTx {
            tx, announcement, ..
        } = handle;
        let finish = match announcement.into_inner() {
            Some(payload) => format!(
                "SELECT pg_notify({}, {}); COMMIT",
                literal(&self.channel),
                literal(&payload)
            ),
            None => "COMMIT".to_string(),
        };
        tx.into_inner().finish(&finish)?;
        Ok(out)
    }

    /// Runs `f` over a consistent snapshot (a read-only repeatable-read transaction).
    pub fn read<T>(&self, f: impl FnOnce(&PgTx<'_>) -> Result<T>) -> Result<T> {
        let mut conn =
            self.begin("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        let PgConnection { client, statements } = &mut *conn;
        let handle = PgTx::new(Open::new(client), statements, self);
        let out = f(&handle)?;
        handle.tx.into_inner().finish("COMMIT")?;
        Ok(out)
    }

    /// Calls `on_commit` with each commit that another engine on the database announces
    /// ([`PgTx::announce`]), from a thread of its own with a connection of its own, until the
    /// returned listener is dropped. When its connection is lost it reconnects by itself; as
    /// announcements sent meanwhile are lost, it then reports one commit standing for them
    /// all ([`RemoteCommit::missed`]).
    pub fn listen(
        &self,
        on_commit: impl Fn(RemoteCommit) + Send + 'static,
    ) -> Result<CommitListener> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let config = self.config.clone();
        let origin = self.origin;
        let channel = self.channel.clone();
        let stopping = stop.clone();
        // Connected before returning: commits from now on are heard.
        let first = listening_client(&config, &channel)?;
        let thread = std::thread::Builder::new()
            .name("chat-commit-listener".into())
            .spawn(move || listen_loop(config, &channel, origin, first, &stopping, &on_commit))
            .map_err(|e| {
                ChatError::new(
                    ErrorCode::Internal,
                    format!("cannot start the commit listener: {e}"),
                )
            })?;
        Ok(CommitListener {
            stop,
            thread: Some(thread),
        })
    }

    #[cfg(feature = "fault-injection")]
    pub fn fault_plan(&self) -> &crate::store::FaultPlan {
        &self.fault
    }

    /// Runs `f` on a connection outside any transaction (tests and maintenance that are not
    /// domain rules: raw statements, recounts).
    pub fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        f(&mut conn.client)
    }
}

/// The notification channel commits are announced on: one per schema (notifications reach
/// every session of the database), named after the schema's write lock.
fn commits_channel(write_lock: i64) -> String {
    format!("chat_commits_{:016x}", write_lock as u64)
}

/// A commit announced by another engine on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteCommit {
    /// The newest event number it published.
    pub last_seq: i64,
    /// Whether it changed credentials (remembered authentications must be forgotten).
    pub credentials_changed: bool,
    /// Whether it generated organization keys held under the master key (to be loaded).
    pub keys_added: bool,
    /// How many webhook deliveries it queued.
    pub webhook_deliveries: usize,
    /// True when it stands for announcements that may have been lost while the listener was
    /// reconnecting: credentials may have changed, deliveries may be queued.
    pub missed: bool,
}

/// Listens for other engines' commits until dropped ([`PgStore::listen`]).
pub struct CommitListener {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for CommitListener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the listener waits for a notification before looking at its stop flag.
const LISTEN_TICK: Duration = Duration::from_millis(100);

fn listening_client(config: &postgres::Config, channel: &str) -> Result<Client> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {channel}"))?;
    Ok(client)
}

fn listen_loop(
    config: postgres::Config,
    channel: &str,
    origin: u64,
    first: Client,
    stop: &std::sync::atomic::AtomicBool,
    on_commit: &dyn Fn(RemoteCommit),
) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut client = Some(first);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let Some(c) = client.as_mut() else {
            std::thread::sleep(LISTEN_TICK * 5);
            if let Ok(mut c) = listening_client(&config, channel) {
                // Whatever was announced while disconnected is lost: one commit stands for it.
                if let Ok(row) = c.query_one(
                    "SELECT coalesce((SELECT seq + width - 1 FROM event_changes ORDER BY seq DESC LIMIT 1), 0)",
                    &[],
                ) {
                    on_commit(RemoteCommit {
                        last_seq: row.get(0),
                        credentials_changed: true,
                        keys_added: true,
                        webhook_deliveries: 1,
                        missed: true,
                    });
                }
                client = Some(c);
            }
            continue;
        };
        let lost = {
            let mut heard = c.notifications();
            let mut each = heard.timeout_iter(LISTEN_TICK);
            loop {
                match each.next() {
                    Ok(Some(n)) => {
                        if let Some(commit) = parse_announcement(n.payload(), origin) {
                            on_commit(commit);
                        }
                    }
                    Ok(None) => break false,
                    Err(_) => break true,
                }
            }
        };
        if lost || c.is_closed() {
            client = None;
        }
    }
}

/// An announcement's payload: `origin last_seq credentials_changed keys_added
/// webhook_deliveries`.
fn announcement(origin: u64, c: &RemoteCommit) -> String {
    format!(
        "{origin} {} {} {} {}",
        c.last_seq,
        u8::from(c.credentials_changed),
        u8::from(c.keys_added),
        c.webhook_deliveries
    )
}

/// The commit an announcement describes, unless it is the listener's own or not one.
fn parse_announcement(payload: &str, own: u64) -> Option<RemoteCommit> {
    let mut parts = payload.split(' ');
    let origin: u64 = parts.next()?.parse().ok()?;
    let last_seq: i64 = parts.next()?.parse().ok()?;
    let credentials_changed = parts.next()? == "1";
    let keys_added = parts.next()? == "1";
    let webhook_deliveries: usize = parts.next()?.parse().ok()?;
    (origin != own).then_some(RemoteCommit {
        last_seq,
        credentials_changed,
        keys_added,
        webhook_deliveries,
        missed: false,
    })
}

/// A pool that cannot hand out a connection: the database is unreachable.
fn unavailable(e: r2d2::Error) -> ChatError {
    ChatError::new(
        ErrorCode::StorageUnavailable,
        format!("The database cannot be reached: {e}"),
    )
}

/// Whether an error means the database could not be reached (a lost connection, a server
/// shutting down or starting), rather than a statement it refused: the call may be retried
/// once it is back (503), where the others are faults (500).
fn is_unreachable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.as_db_error() {
        // Connection exceptions (08) and operator intervention: shutdown, crash, starting up
        // (57P01-57P03).
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || ["57P01", "57P02", "57P03"].contains(&code)
        }
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// Applies pending migrations up to `target` under a session advisory lock (several servers
/// may start at once), each in its own transaction with the version bumped inside it. A
/// database from a newer build is refused.
pub fn migrate(client: &mut Client, target: i64) -> Result<()> {
    const MIGRATION_LOCK: i64 = 7_057_000_001;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let outcome = migrate_locked(client, target);
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
    outcome
}

fn migrate_locked(client: &mut Client, target: i64) -> Result<()> {
    client.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let current: i64 = client
        .query_opt("SELECT version FROM schema_version", &[])?
        .map_or(0, |r| r.get(0));
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
        let mut tx = client.transaction()?;
        tx.batch_execute(sql).map_err(|e| {
            ChatError::new(ErrorCode::Storage, format!("migration {name} failed: {e}"))
        })?;
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// A SQL string literal of `text`.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A transaction begun on a connection by hand ([`PgStore::begin`]), rolled back when dropped
/// unfinished (the rules failed or panicked), so that the connection goes back to the pool
/// outside any transaction.
struct Open<'c> {
    client: &'c mut Client,
    finished: bool,
}

impl<'c> Open<'c> {
    fn new(client: &'c mut Client) -> Self {
        Self {
            client,
            finished: false,
        }
    }
    /// Ends the transaction with `sql` (its `COMMIT` and what is sent with it). If that fails,
    /// the drop rolls back what may still be open.
    fn finish(mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql)?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

/// A transaction handed to the rules through the store traits.
pub struct PgTx<'c> {
    tx: RefCell<Open<'c>>,
    statements: RefCell<&'c mut HashMap<String, Statement>>,
    /// What the operation changed, recorded by the write methods (reads never record).
    changes: ChangeLog,
    /// The store's mark on the commits it announces.
    origin: u64,
    /// The announcement of this transaction's commit, sent with the commit.
    announcement: RefCell<Option<String>>,
    #[cfg(feature = "fault-injection")]
    fault: &'c crate::store::FaultPlan,
}

/// A statement's parameters.
pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<'c> PgTx<'c> {
    fn new(
        tx: Open<'c>,
        statements: &'c mut HashMap<String, Statement>,
        store: &'c PgStore,
    ) -> Self {
        Self {
            tx: RefCell::new(tx),
            statements: RefCell::new(statements),
            changes: Default::default(),
            origin: store.origin,
            announcement: RefCell::new(None),
            #[cfg(feature = "fault-injection")]
            fault: &store.fault,
        }
    }

    /// Announces this transaction's commit to the other engines on the database: the
    /// notification is sent with the `COMMIT` ([`PgStore::write`]), and PostgreSQL delivers it
    /// to their listeners ([`PgStore::listen`]) when, and only if, the transaction commits.
    pub(crate) fn announce(&self, commit: &RemoteCommit) -> Result<()> {
        *self.announcement.borrow_mut() = Some(announcement(self.origin, commit));
        Ok(())
    }

    /// The prepared statement of `sql` (prepared on first use, with `?N` turned into `$N`).
    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(st) = self.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self
            .tx
            .borrow_mut()
            .client
            .prepare(&postgres_placeholders(sql))
            .map_err(|e| storage_error(e, sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Executes a write statement: the number of rows it changed.
    pub(crate) fn exec(&self, sql: &str, params: &Params<'_>) -> Result<u64> {
        #[cfg(feature = "fault-injection")]
        self.fault.tick()?;
        self.run(sql, params)
    }

    /// Executes a statement that is not a write of the operation's (not counted by fault
    /// injection).
    fn run(&self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let st = self.statement(sql)?;
        self.tx
            .borrow_mut()
            .client
            .execute(&st, params)
            .map_err(|e| storage_error(e, sql))
    }

    /// The rows of a query (or of a write with `RETURNING`).
    pub(crate) fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        self.count_write(sql)?;
        let st = self.statement(sql)?;
        self.tx
            .borrow_mut()
            .client
            .query(&st, params)
            .map_err(|e| storage_error(e, sql))
    }

    /// The one row of a query, if any (an error if there are several).
    pub(crate) fn query_opt(&self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        self.count_write(sql)?;
        let st = self.statement(sql)?;
        self.tx
            .borrow_mut()
            .client
            .query_opt(&st, params)
            .map_err(|e| storage_error(e, sql))
    }

    /// The one row of a query (an error if there is none or several).
    pub(crate) fn query_one(&self, sql: &str, params: &Params<'_>) -> Result<Row> {
        self.count_write(sql)?;
        let st = self.statement(sql)?;
        self.tx
            .borrow_mut()
            .client
            .query_one(&st, params)
            .map_err(|e| storage_error(e, sql))
    }

    /// Counts a write with `RETURNING` (a statement that is not a read) for fault injection,
    /// as SQLite's store counts it.
    #[cfg(feature = "fault-injection")]
    fn count_write(&self, sql: &str) -> Result<()> {
        let verb = sql.trim_start().get(..6).unwrap_or_default();
        if ["INSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|w| verb.eq_ignore_ascii_case(w))
        {
            self.fault.tick()?;
        }
        Ok(())
    }
    #[cfg(not(feature = "fault-injection"))]
    fn count_write(&self, _sql: &str) -> Result<()> {
        Ok(())
    }

    /// Records a change for publication (see [`crate::store::changes`]).
    fn record(&self, c: Change) {
        self.changes.record(c);
    }
}

/// A failed statement as a storage error naming the statement's beginning.
fn storage_error(e: postgres::Error, sql: &str) -> ChatError {
    let head: String = sql.chars().take(80).collect();
    let mut err = ChatError::from(e);
    err.detail = format!("{} (in `{head}`)", err.detail);
    err
}

/// The error with the server's own message when it has one (`Display` says only "db error").
fn described(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {db}"),
        None => e.to_string(),
    }
}

impl From<postgres::Error> for ChatError {
    fn from(e: postgres::Error) -> Self {
        if is_unreachable(&e) {
            Self::new(
                ErrorCode::StorageUnavailable,
                format!("The database cannot be reached: {}", described(&e)),
            )
        } else {
            Self::new(
                ErrorCode::Storage,
                format!("storage error: {}", described(&e)),
            )
        }
    }
}

/// `sql` with SQLite's parameters written as PostgreSQL's `$N`: `?N` as `$N`, and a bare `?`
/// numbered as SQLite numbers it (one more than the largest number before it). The statements
/// never hold a `?` in a literal.
pub(crate) fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut largest = 0u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.next_if(char::is_ascii_digit) {
            digits.push(d);
        }
        let n = digits.parse().unwrap_or(largest + 1);
        largest = largest.max(n);
        out.push('$');
        out.push_str(&n.to_string());
    }
    out
}

// ---- column conversions ---------------------------------------------------------------------

/// A 0/1 flag column.
pub(crate) fn flag(row: &Row, idx: usize) -> Result<bool> {
    Ok(row.try_get::<_, i64>(idx)? != 0)
}

/// A flag as its column value.
pub(crate) fn flag_value(b: bool) -> i64 {
    i64::from(b)
}

/// The tie of a keyset cursor over a UUID column: a cursor whose tie is not an id is not one
/// a listing made, and is refused.
pub(crate) fn uuid_tie(tie: &[u8]) -> Result<uuid::Uuid> {
    uuid::Uuid::from_slice(tie).map_err(|_| ChatError::field("cursor", "Invalid cursor."))
}

/// `sql` (a fragment the rules write for both stores, e.g. [`crate::directory::ROOM_ROUTING_SQL`])
/// with its `CROSS JOIN ... ON` as `JOIN ... ON`: the same inner join (SQLite's `CROSS JOIN`
/// only fixes its join order), in the form PostgreSQL accepts (its `CROSS JOIN` takes no `ON`).
pub(crate) fn inner_joins(sql: &str) -> String {
    sql.replace(" CROSS JOIN ", " JOIN ")
}

/// `cols` (a comma-separated column list) qualified with a table alias: `a.x, a.y`.
pub(crate) fn qualified(cols: &str, alias: &str) -> String {
    cols.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A user read through a LEFT JOIN at column `o` (the `USER_COLS` layout): `None` when absent.
pub(crate) fn user_opt_at(row: &Row, o: usize) -> Result<Option<crate::directory::UserRecord>> {
    match row.try_get::<_, Option<uuid::Uuid>>(o)? {
        None => Ok(None),
        Some(_) => directory::user_row_at(row, o).map(Some),
    }
}

/// A user's (name, public name, avatar) from the columns `first_name, last_name, alias,
/// avatar_id, avatar_url` starting at `o` (LEFT JOINed: all may be NULL), by the same rules as
/// [`crate::directory::UserRecord`].
pub(crate) fn user_display(
    row: &Row,
    o: usize,
) -> Result<(String, String, Option<crate::directory::Avatar>)> {
    use crate::directory::{avatar, full_name, public_name};
    let first: Option<String> = row.try_get(o)?;
    let last: Option<String> = row.try_get(o + 1)?;
    let alias: Option<String> = row.try_get(o + 2)?;
    let full = full_name(
        first.as_deref().unwrap_or_default(),
        last.as_deref().unwrap_or_default(),
    );
    let public = public_name(alias.as_deref(), &full);
    Ok((
        full,
        public,
        avatar(row.try_get(o + 3)?, row.try_get(o + 4)?),
    ))
}

/// A schema of its own in a database, dropped with everything in it when this is dropped:
/// the place of one test engine, so that tests run side by side on one server.
#[doc(hidden)]
pub struct ScratchSchema {
    base: String,
    name: String,
}

impl ScratchSchema {
    /// Creates a new empty schema in the database `base` connects to.
    pub fn create(base: &str) -> Result<Self> {
        let name = format!("chat_{}", uuid::Uuid::new_v4().simple());
        let mut client: Client = base.parse::<postgres::Config>()?.connect(NoTls)?;
        client.batch_execute(&format!("CREATE SCHEMA {name}"))?;
        Ok(Self {
            base: base.to_string(),
            name,
        })
    }
    /// The connection string of `base` with the schema as the search path.
    pub fn url(&self) -> String {
        let options = format!("-c search_path={}", self.name);
        if self.base.starts_with("postgres://") || self.base.starts_with("postgresql://") {
            let sep = if self.base.contains('?') { '&' } else { '?' };
            format!(
                "{}{sep}options={}",
                self.base,
                options.replace(' ', "%20").replace('=', "%3D")
            )
        } else {
            format!("{} options='{options}'", self.base)
        }
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // On a thread of its own: the synchronous client starts a runtime of its own, which
        // cannot happen on a thread driving an async one (a test's `#[tokio::test]`).
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            if let Ok(config) = base.parse::<postgres::Config>()
                && let Ok(mut client) = config.connect(NoTls)
            {
                let _ = client.batch_execute(&format!("DROP SCHEMA {name} CASCADE"));
            }
        });
        let _ = dropped.join();
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_placeholders;

    #[test]
    fn announcements_read_back_and_skip_their_own_origin() {
        use super::{RemoteCommit, announcement, parse_announcement};
        let commit = RemoteCommit {
            last_seq: 42,
            credentials_changed: true,
            keys_added: false,
            webhook_deliveries: 3,
            missed: false,
        };
        let text = announcement(7, &commit);
        assert_eq!(parse_announcement(&text, 7), None);
        assert_eq!(parse_announcement(&text, 8), Some(commit));
        assert_eq!(parse_announcement("not one", 8), None);
    }

    #[test]
    fn sqlite_parameters_become_numbered_dollars() {
        assert_eq!(
            postgres_placeholders("a = ?1 AND b > ?3 AND c IN (?, ?) AND d = ?2"),
            "a = $1 AND b > $3 AND c IN ($4, $5) AND d = $2"
        );
        assert_eq!(postgres_placeholders("no parameters"), "no parameters");
    }
}
