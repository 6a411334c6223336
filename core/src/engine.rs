//! The public facade: one [`Engine`] per database. Every operation runs in one transaction
//! (writes commit only on success) with the time read once from the injected clock. The
//! operations' methods are declared with the operations themselves, in the registry (the
//! `operations.rs` of each resource; see [`crate::registry`]); this file holds the engine's
//! state, its read and write paths and the methods that are not operations.

use crate::Env;
use crate::auth::Actor;
use crate::clock::{Clock, SystemClock};
use crate::crypto::held::NewKeys;
use crate::crypto::{KeyRing, SecretKey};
use crate::directory::{self, seed};
use crate::error::Result;
use crate::events::{self, EventPage};
use crate::idempotency::Claim;
use crate::ids::IdGen;
use crate::store::Store;
use crate::store::sqlite::{BackgroundCheckpoints, CheckpointPolicy, Durability, SqliteStore};
use crate::webhooks;
use parking_lot::{Condvar, Mutex};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What a committed write published, as given to the commit hook
/// ([`EngineBuilder::on_commit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitNotice {
    /// The newest event `seq` now committed.
    pub last_event_seq: i64,
    /// How many webhook deliveries the write queued (see [`Engine::webhook_deliveries_due`]).
    pub webhook_deliveries: usize,
}

/// Builder options as data, for hosts that configure an engine from JSON (the C ABI's
/// `chat_engine_open_with_options`). Every field is optional; unknown fields are refused.
///
/// ```json
/// {"durability": "normal" | "full",
///  "event_retention_secs": 604800,
///  "event_retention_bytes": 268435456,
///  "webhook_destinations": ["https://hooks.example.com/in"],
///  "background_checkpoints": true | {"every_ms": 10, "inline_above_pages": 4096}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineOptions {
    pub durability: Option<String>,
    pub event_retention_secs: Option<u64>,
    pub event_retention_bytes: Option<u64>,
    pub webhook_destinations: Option<Vec<String>>,
    pub background_checkpoints: Option<CheckpointOption>,
}

/// `true` (the default policy), `false` (none), or the policy's fields (each defaulting to
/// [`CheckpointPolicy::default`]'s).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum CheckpointOption {
    On(bool),
    Policy {
        every_ms: Option<u64>,
        inline_above_pages: Option<i64>,
    },
}

/// A host's function called after each write that published events.
type CommitHook = Box<dyn Fn(&CommitNotice) + Send + Sync>;

/// What follows a commit that published events — this engine's own, or (on PostgreSQL)
/// another engine's on the same database: the newest `seq` and the subscribers waiting for
/// it, the remembered authentications, and the host's hook.
pub(crate) struct Commits {
    head: Mutex<i64>,
    advanced: Condvar,
    on_commit: Option<CommitHook>,
    /// Authentications remembered between calls.
    pub(crate) tokens: crate::auth::RememberedTokens,
}

impl Commits {
    /// A commit published events up to `seq` (and changed credentials, and queued webhook
    /// deliveries): waiters wake, remembered authentications are forgotten if credentials
    /// changed, and the host's hook runs.
    pub(crate) fn committed(&self, seq: i64, credentials_changed: bool, webhook_deliveries: usize) {
        if credentials_changed {
            self.tokens.forget_all();
        }
        let newest = {
            let mut head = self.head.lock();
            if seq > *head {
                *head = seq;
            }
            *head
        };
        self.advanced.notify_all();
        if let Some(hook) = &self.on_commit {
            let notice = CommitNotice {
                last_event_seq: newest,
                webhook_deliveries,
            };
            // The write has committed: a failing hook must not turn it into an error.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&notice)));
        }
    }
}

/// Options of an engine before it opens its database.
pub struct EngineBuilder {
    clock: Arc<dyn Clock>,
    durability: Durability,
    event_retention_ms: i64,
    event_retention_bytes: Option<i64>,
    webhook_allow: Vec<String>,
    webhook_limits: webhooks::DeliveryLimits,
    on_commit: Option<CommitHook>,
    checkpoints: Option<CheckpointPolicy>,
    group_commit: Option<bool>,
    master: Option<SecretKey>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            durability: Durability::Normal,
            event_retention_ms: events::DEFAULT_RETENTION_MS,
            event_retention_bytes: None,
            webhook_allow: Vec::new(),
            webhook_limits: webhooks::DeliveryLimits::default(),
            on_commit: None,
            checkpoints: None,
            group_commit: None,
            master: None,
        }
    }
}

impl EngineBuilder {
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }
    /// How long events are kept (default 7 days); `maintenance()` deletes older ones, and a
    /// read from before the window answers `resync` (see [`events::EventPage`]).
    pub fn event_retention(mut self, window: Duration) -> Self {
        self.event_retention_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        self
    }
    /// Bounds the event log's size as well (default: unbounded): `maintenance()` deletes the
    /// oldest events while the log is estimated larger than `max_bytes` (its change count
    /// times the mean size of its newest rows), and a read from before them answers `resync`.
    pub fn event_retention_bytes(mut self, max_bytes: u64) -> Self {
        self.event_retention_bytes = Some(i64::try_from(max_bytes).unwrap_or(i64::MAX));
        self
    }
    /// The destinations webhooks may have (see [`webhooks::destination_allowed`]: scheme,
    /// host, port and leading path segments); empty (the default) allows any http(s) URL.
    /// Creating or changing a webhook to another destination is a validation error; the host
    /// that delivers should check again at delivery.
    pub fn webhook_destinations(mut self, allow: Vec<String>) -> Self {
        self.webhook_allow = allow;
        self
    }
    /// When failing webhook deliveries are given up and how long the app tokens minted for
    /// them last (default: the contract's 20 attempts and 24 hours, whichever comes later,
    /// and one hour; see [`webhooks::DeliveryLimits`]). A token lifetime over an hour is cut
    /// to an hour.
    pub fn webhook_delivery_limits(mut self, limits: webhooks::DeliveryLimits) -> Self {
        self.webhook_limits = limits;
        self
    }
    /// Calls `hook` after every write that published events, on the writing thread, once the
    /// write has committed: a host wakes its subscribers (and its webhook deliverer, when
    /// deliveries were queued) from here instead of keeping a thread in
    /// [`Engine::wait_for_events`]. The hook should return quickly; a panic in it is caught
    /// and ignored (the write has committed).
    pub fn on_commit(mut self, hook: impl Fn(&CommitNotice) + Send + Sync + 'static) -> Self {
        self.on_commit = Some(Box::new(hook));
        self
    }
    /// Checkpoints the WAL on a thread of the engine's own, so that commits do not copy it
    /// into the database file themselves (file databases; stopped when the engine is dropped).
    /// Without it, SQLite's default applies: the commit that takes the WAL past 1 000 pages
    /// checkpoints inline. See [`CheckpointPolicy`] (`CheckpointPolicy::default()`: every
    /// 10 ms, inline only past 64 MB of WAL, which lets the WAL start over under steady
    /// writes).
    pub fn background_checkpoints(mut self, policy: CheckpointPolicy) -> Self {
        self.checkpoints = Some(policy);
        self
    }
    /// Whether concurrent writes on a file database are committed together (group commit:
    /// on by default), or each in a transaction of its own (`false`, for comparison). In
    /// memory there is one connection and group commit stays off.
    pub fn group_commit(mut self, on: bool) -> Self {
        self.group_commit = Some(on);
        self
    }
    /// Makes the engine hold organization keys itself (contract section 7; see
    /// [`crate::crypto::held`]): each is kept in the database sealed under this 256-bit master
    /// key and loaded again when the engine opens, and an organization with `encrypt_chats`
    /// that never had a key gets a generated one. Opening fails when a stored key does not
    /// open with this master key. Without it (the default) the host gives the keys
    /// ([`Engine::set_organization_key`]) after every start.
    pub fn master_key(mut self, key: SecretKey) -> Self {
        self.master = Some(key);
        self
    }
    /// Applies options given as data (see [`EngineOptions`]); a value out of range is a
    /// validation error naming the field.
    pub fn options(mut self, o: EngineOptions) -> Result<Self> {
        let mut v = crate::error::Validator::new();
        match o.durability.as_deref() {
            None => {}
            Some("normal") => self = self.durability(Durability::Normal),
            Some("full") => self = self.durability(Durability::Full),
            Some(_) => v.add("durability", "Must be \"normal\" or \"full\"."),
        }
        if let Some(secs) = o.event_retention_secs {
            self = self.event_retention(Duration::from_secs(secs));
        }
        if let Some(bytes) = o.event_retention_bytes {
            self = self.event_retention_bytes(bytes);
        }
        if let Some(allow) = o.webhook_destinations {
            self = self.webhook_destinations(allow);
        }
        match o.background_checkpoints {
            None | Some(CheckpointOption::On(false)) => {}
            Some(CheckpointOption::On(true)) => {
                self = self.background_checkpoints(CheckpointPolicy::default());
            }
            Some(CheckpointOption::Policy {
                every_ms,
                inline_above_pages,
            }) => {
                let d = CheckpointPolicy::default();
                if every_ms == Some(0) {
                    v.add("background_checkpoints", "every_ms must be at least 1.");
                }
                if inline_above_pages.is_some_and(|p| p < 0) {
                    v.add(
                        "background_checkpoints",
                        "inline_above_pages must not be negative.",
                    );
                }
                self = self.background_checkpoints(CheckpointPolicy {
                    every: every_ms.map(Duration::from_millis).unwrap_or(d.every),
                    inline_above_pages: inline_above_pages.unwrap_or(d.inline_above_pages),
                    truncate_when_idle: d.truncate_when_idle,
                });
            }
        }
        v.finish()?;
        Ok(self)
    }
    /// [`Self::options`] from a JSON object (a parse error when it is not one of
    /// [`EngineOptions`]).
    pub fn options_json(self, json: &str) -> Result<Self> {
        let o: EngineOptions = crate::input::from_json(json)?;
        self.options(o)
    }
    /// Opens (creating and migrating as needed) a database file.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Engine> {
        let store = SqliteStore::open(path.as_ref(), self.durability)?;
        self.finish(store)
    }
    pub fn open_in_memory(self) -> Result<Engine> {
        self.finish(SqliteStore::open_in_memory()?)
    }
    /// Connects to a PostgreSQL database (a `postgres://` URL or `key=value` string),
    /// creating and migrating the schema as needed: several engines, in several processes,
    /// may share it (see [`crate::store::postgres`]).
    ///
    /// The engine is synchronous, and on PostgreSQL its connections run a small runtime of
    /// their own: call it, and drop it, off an async runtime's threads (`spawn_blocking`),
    /// as the example server does.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(self, url: &str) -> Result<Engine> {
        let store = crate::store::postgres::PgStore::open(url)?;
        self.finish_with(Backend::Postgres(store), None)
    }
    fn finish(self, store: SqliteStore) -> Result<Engine> {
        if let Some(on) = self.group_commit {
            store.set_group_commit(on);
        }
        let checkpoints = match self.checkpoints {
            Some(policy) => store.start_background_checkpoints(policy)?,
            None => None,
        };
        self.finish_with(Backend::Sqlite(store), checkpoints)
    }
    fn finish_with(
        self,
        store: Backend,
        checkpoints: Option<BackgroundCheckpoints>,
    ) -> Result<Engine> {
        let head = store.read(|s| s.last_event_seq())?;
        let keys = Arc::new(KeyRing::new());
        let commits = Arc::new(Commits {
            head: Mutex::new(head),
            advanced: Condvar::new(),
            on_commit: self.on_commit,
            tokens: Default::default(),
        });
        // Other engines' commits on a shared database wake this engine's subscribers, forget
        // its remembered authentications and reach its host's hook, as its own commits do;
        // the keys another engine generated are loaded first. Listening starts before this
        // engine loads the held keys, so that none generated meanwhile is missed.
        #[cfg(feature = "postgres")]
        let listener = match &store {
            Backend::Postgres(p) => {
                let heard = commits.clone();
                let (shared, ring, master) = (p.clone(), keys.clone(), self.master.clone());
                Some(p.listen(move |c| {
                    if let Some(master) = master.as_ref().filter(|_| c.keys_added || c.missed) {
                        // A failed load leaves the keys as they were: calls needing one answer
                        // `chat_key_unavailable` until a later commit loads it.
                        if let Ok(loaded) = shared.read(|s| crate::crypto::held::load(s, master)) {
                            for (org, key) in loaded {
                                ring.insert(org, key);
                            }
                        }
                    }
                    heard.committed(c.last_seq, c.credentials_changed, c.webhook_deliveries)
                })?)
            }
            Backend::Sqlite(_) => None,
        };
        if let Some(master) = &self.master {
            for (org, key) in store.read(|s| crate::crypto::held::load(s, master))? {
                keys.insert(org, key);
            }
        }
        let engine = Engine {
            #[cfg(feature = "postgres")]
            listener,
            checkpoints,
            store,
            clock: self.clock,
            ids: IdGen,
            keys,
            master: self.master,
            event_retention_ms: self.event_retention_ms,
            event_retention_bytes: self.event_retention_bytes,
            webhook_allow: self.webhook_allow,
            webhook_limits: self.webhook_limits,
            commits,
        };
        if engine.master.is_some() {
            // A database written without a master key (or seeded by another process) may
            // hold encrypting organizations that never had a key.
            engine.write(None, |s, env| crate::crypto::held::ensure_keys(s, env))?;
        }
        Ok(engine)
    }
}

/// The store an engine runs on: an embedded SQLite database, or a PostgreSQL database shared
/// with other engines.
enum Backend {
    Sqlite(SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(crate::store::postgres::PgStore),
}

impl Backend {
    fn write<T: Send>(&self, f: impl FnOnce(&dyn Store) -> Result<T> + Send) -> Result<T> {
        match self {
            Self::Sqlite(s) => s.write(|tx| f(tx)),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.write(|tx| f(tx)),
        }
    }
    /// A write that publishes: on PostgreSQL, what it published is announced to the other
    /// engines on the database inside its transaction, so that they hear of it once it
    /// commits (see [`crate::store::postgres::PgStore::listen`]).
    fn write_publishing<T: Send>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<(T, events::Published)> + Send,
    ) -> Result<(T, events::Published)> {
        match self {
            Self::Sqlite(s) => s.write(|tx| f(tx)),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.write(|tx| {
                let (out, published) = f(tx)?;
                if published.last_seq.is_some()
                    || published.credentials_changed
                    || published.keys_added
                {
                    tx.announce(&crate::store::postgres::RemoteCommit {
                        last_seq: published.last_seq.unwrap_or(0),
                        credentials_changed: published.credentials_changed,
                        keys_added: published.keys_added,
                        webhook_deliveries: published.webhook_deliveries,
                        missed: false,
                    })?;
                }
                Ok((out, published))
            }),
        }
    }
    fn read<T>(&self, f: impl FnOnce(&dyn Store) -> Result<T>) -> Result<T> {
        match self {
            Self::Sqlite(s) => s.read(|tx| f(tx)),
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.read(|tx| f(tx)),
        }
    }
}

/// The chat engine. `Engine` is `Send + Sync`: share it between threads; writes are
/// serialized on its one writer connection.
pub struct Engine {
    /// Hears other engines' commits on a shared database (PostgreSQL); first, so that it stops
    /// before the store closes.
    #[cfg(feature = "postgres")]
    #[allow(dead_code)] // Held for its `Drop`, which stops the listening thread.
    listener: Option<crate::store::postgres::CommitListener>,
    /// Before the store, so that it stops before the store closes.
    checkpoints: Option<BackgroundCheckpoints>,
    store: Backend,
    clock: Arc<dyn Clock>,
    ids: IdGen,
    /// Organization key-encryption keys given by the host or held by the engine (see
    /// `crypto`); shared with the listener of other engines' commits (PostgreSQL).
    pub(crate) keys: Arc<KeyRing>,
    /// The key sealing the organization keys the engine holds itself (`crypto::held`).
    master: Option<SecretKey>,
    pub(crate) event_retention_ms: i64,
    pub(crate) event_retention_bytes: Option<i64>,
    /// Allowed webhook destinations (empty: any).
    pub(crate) webhook_allow: Vec<String>,
    /// When failing deliveries are given up; how long minted app tokens last.
    pub(crate) webhook_limits: webhooks::DeliveryLimits,
    /// The newest committed event `seq`, its subscribers, remembered authentications and the
    /// commit hook.
    commits: Arc<Commits>,
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }
    /// Opens a database file with the system clock and default durability.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        EngineBuilder::default().open(path)
    }
    pub fn open_in_memory() -> Result<Self> {
        EngineBuilder::default().open_in_memory()
    }

    fn env<'e>(&'e self, new_keys: &'e NewKeys) -> Env<'e> {
        Env {
            now: self.clock.now_ms(),
            ids: self.ids,
            keys: &self.keys,
            master: self.master.as_ref(),
            new_keys,
        }
    }
    /// One write transaction: the operation, then (inside the same transaction) the
    /// idempotency key of the call if any and the events of everything it changed; then
    /// subscribers are woken. `claim` is the idempotency key of a creating call (see
    /// [`crate::idempotency`]): it goes with the write, to whichever thread commits it, and
    /// comes back with its outcome.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        claim: Option<&mut Claim>,
        f: impl FnOnce(&dyn Store, &Env) -> Result<T> + Send,
    ) -> Result<T> {
        let new_keys = NewKeys::new();
        let env = self.env(&new_keys);
        let written = self.store.write_publishing(|tx| {
            let out = f(tx, &env)?;
            crate::idempotency::record_claim(tx, env.now, claim, &out)?;
            let mut published = events::publish(tx, &env)?;
            published.keys_added = env.new_keys.any();
            Ok((out, published))
        });
        let (out, published) = written?;
        // Committed: the keys the write generated are held from now on.
        new_keys.install(&self.keys);
        match published.last_seq {
            Some(seq) => self.commits.committed(
                seq,
                published.credentials_changed,
                published.webhook_deliveries,
            ),
            None if published.credentials_changed => self.commits.tokens.forget_all(),
            None => {}
        }
        Ok(out)
    }
    pub(crate) fn read<T>(&self, f: impl FnOnce(&dyn Store, &Env) -> Result<T>) -> Result<T> {
        let new_keys = NewKeys::new();
        let env = self.env(&new_keys);
        self.store.read(|tx| f(tx, &env))
    }

    /// Passive checkpoints the background checkpointer has completed (None: not running; see
    /// [`EngineBuilder::background_checkpoints`]).
    pub fn background_checkpoint_passes(&self) -> Option<u64> {
        self.checkpoints.as_ref().map(BackgroundCheckpoints::passes)
    }

    /// Copies the write-ahead log into the database file and truncates it to zero bytes (a
    /// host does it after loading a seed or before copying the file; a purge does it so that
    /// no purged text stays in the `-wal` file). Returns whether it completed: false for an
    /// in-memory database, or when a reader kept it from finishing.
    pub fn checkpoint(&self) -> Result<bool> {
        match &self.store {
            Backend::Sqlite(s) => s.checkpoint_truncate(),
            // PostgreSQL keeps its own write-ahead log.
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Ok(false),
        }
    }

    /// Runs `f` on a read transaction of the store, whichever it is: for tests and benchmarks
    /// that observe the stored records below the operations.
    #[doc(hidden)]
    pub fn read_store<T>(&self, f: impl FnOnce(&dyn Store) -> Result<T>) -> Result<T> {
        self.store.read(f)
    }
    /// Runs `f` as one write transaction of the store, whichever it is, without publication:
    /// for tests that set up or change stored records below the operations.
    #[doc(hidden)]
    pub fn write_store<T: Send>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T> + Send,
    ) -> Result<T> {
        self.store.write(f)
    }
    /// The SQLite store, for tests and benchmarks that drive it below the operations (write
    /// statistics, fault injection, raw statements); None when the engine runs on PostgreSQL.
    pub fn sqlite_store(&self) -> Option<&SqliteStore> {
        match &self.store {
            Backend::Sqlite(s) => Some(s),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => None,
        }
    }
    /// The store's fault injection, whichever store it is (see [`crate::store::FaultPlan`]).
    #[cfg(feature = "fault-injection")]
    pub fn fault_plan(&self) -> &crate::store::FaultPlan {
        match &self.store {
            Backend::Sqlite(s) => s.fault_plan(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.fault_plan(),
        }
    }
    /// The PostgreSQL store, for tests that observe it below the operations (None on SQLite).
    #[cfg(feature = "postgres")]
    pub fn postgres_store(&self) -> Option<&crate::store::postgres::PgStore> {
        match &self.store {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    // ---- not operations: helpers of hosts and of the registry ---------------------------

    /// [`Engine::load_seed`] from the seed file's JSON text.
    pub fn load_seed_json(&self, json: &str) -> Result<seed::SeedReport> {
        let seed: seed::Seed = crate::input::from_json(json)?;
        self.load_seed(seed)
    }
    /// Resolves an API token or visitor access token to its actor. Answers are remembered
    /// until a committed write revokes or deletes credentials (see
    /// [`crate::auth::RememberedTokens`]) or, for a visitor token, until it expires.
    pub fn authenticate(&self, token: &str) -> Result<Actor> {
        let hash = crate::auth::token_hash(token);
        let generation = match self.commits.tokens.recall(&hash, self.clock.now_ms()) {
            Ok(actor) => return Ok(actor),
            Err(generation) => generation,
        };
        let (actor, until) = self.read(|s, env| directory::authenticate(s, env, &hash))?;
        self.commits.tokens.remember(generation, hash, actor, until);
        Ok(actor)
    }

    /// Whether the engine holds the organization's key.
    pub fn holds_organization_key(&self, org: Uuid) -> bool {
        self.keys.holds(org)
    }
    /// Whether the engine holds organization keys itself ([`EngineBuilder::master_key`]).
    pub fn has_master_key(&self) -> bool {
        self.master.is_some()
    }
    /// The newest committed event `seq`.
    pub fn last_event_seq(&self) -> i64 {
        *self.commits.head.lock()
    }

    /// Blocks until an event newer than `after` commits or `timeout` passes; returns the
    /// newest committed `seq`.
    pub fn wait_for_events(&self, after: i64, timeout: Duration) -> i64 {
        let deadline = std::time::Instant::now() + timeout;
        let mut head = self.commits.head.lock();
        while *head <= after {
            if self
                .commits
                .advanced
                .wait_until(&mut head, deadline)
                .timed_out()
            {
                break;
            }
        }
        *head
    }

    /// Whether the actor may open an event stream (the WebSocket upgrade checks it before the
    /// protocol switches): see [`crate::events::may_stream`].
    pub fn may_stream(&self, actor: &Actor) -> Result<()> {
        self.read(|s, _| crate::events::may_stream(s, actor))
    }

    /// Authorizes channels and returns what they can be concerned by (see
    /// [`crate::events::Interest`]).
    pub fn interest(&self, actor: &Actor, channels: &[String]) -> Result<events::Interest> {
        self.read(|s, env| events::interest(s, env, actor, channels))
    }

    /// The changes after `after` as their audience is decided, at most `limit`: one read for
    /// every subscriber (see [`crate::events::change_heads_after`]).
    pub fn change_heads_after(&self, after: i64, limit: usize) -> Result<events::ChangeHeads> {
        self.read(|s, _| events::change_heads_after(s, after, limit))
    }

    /// A subscription to channels (paths or `*` patterns), starting after `since` (`None`:
    /// from now). The channels are authorized here.
    pub fn subscribe(
        &self,
        actor: &Actor,
        channels: Vec<String>,
        since: Option<i64>,
    ) -> Result<Subscription<'_>> {
        let page = self.events_since(actor, &channels, None, None)?;
        Ok(Subscription {
            engine: self,
            actor: *actor,
            channels,
            last_seq: since.unwrap_or(page.last_seq),
        })
    }

    /// Whether a webhook destination is within the allow-list given to the builder
    /// ([`EngineBuilder::webhook_destinations`]); hosts that deliver check each delivery.
    pub fn webhook_destination_allowed(&self, url: &str) -> bool {
        webhooks::destination_allowed(url, &self.webhook_allow)
    }
    /// Host: when the next delivery is due (ms since the epoch; None: nothing queued).
    pub fn next_webhook_delivery_at(&self) -> Result<Option<i64>> {
        self.read(|s, _| webhooks::next_due_at(s))
    }

    pub(crate) fn idempotency_lookup(
        &self,
        actor: &str,
        key: &str,
    ) -> Result<Option<crate::idempotency::IdempotencyRecord>> {
        self.read(|s, env| {
            Ok(s.idempotency(actor, key)?
                .filter(|r| r.created_at >= env.now - crate::idempotency::KEY_TTL_MS))
        })
    }
}

/// A subscription: [`Subscription::next_batch`] returns the next events (or a resync) as
/// they commit.
pub struct Subscription<'e> {
    engine: &'e Engine,
    actor: Actor,
    channels: Vec<String>,
    last_seq: i64,
}

impl Subscription<'_> {
    /// The `seq` to resume from after a reconnect.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }
    /// The next events, waiting up to `timeout` for one to commit (an empty page when none
    /// did). A page with `resync: true` means events were lost (retention): reload, then
    /// continue from it.
    pub fn next_batch(&mut self, timeout: Duration) -> Result<EventPage> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let page =
                self.engine
                    .events_since(&self.actor, &self.channels, Some(self.last_seq), None)?;
            self.last_seq = page.last_seq;
            if !page.events.is_empty() || page.resync {
                return Ok(page);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(page);
            }
            self.engine.wait_for_events(self.last_seq, deadline - now);
        }
    }
}

impl Iterator for Subscription<'_> {
    type Item = Result<EventPage>;
    /// Blocks until the next events (or a resync) commit.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_batch(Duration::from_secs(3600)) {
                Ok(p) if p.events.is_empty() && !p.resync => continue,
                other => return Some(other),
            }
        }
    }
}
