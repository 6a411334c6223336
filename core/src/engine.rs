//! The public facade: one [`Engine`] per database. Every operation runs in one transaction
//! (writes commit only on success) with the time read once from the injected clock.

use crate::Env;
use crate::auth::Actor;
use crate::chats::{self, Chat, ChatListParams, ChatScope, ChatUpdate, NewChat};
use crate::clock::{Clock, SystemClock};
use crate::crypto;
use crate::crypto::{KeyRing, RotationReport, SecretKey};
use crate::directory::{self, seed};
use crate::error::Result;
use crate::events::{self, EventPage};
use crate::ids::IdGen;
use crate::invitations::{
    self, Invitation, InvitationAccept, InvitationExpire, InvitationListParams, NewInvitation,
};
use crate::maintenance::{self, MaintenanceReport};
use crate::memberships::{self, Membership, MembershipInput};
use crate::messages::{self, Message, MessageListParams, NewMessage};
use crate::pagination::{Page, PageRequest};
use crate::purge::{self, PurgeReport};
use crate::starters::{self, ConversationStarter, StarterInput};
use crate::store::sqlite::{BackgroundCheckpoints, CheckpointPolicy, Durability, SqliteStore};
use crate::store::{EventStore, PresenceHolder, Store};
use crate::suggestions::{self, ReplySuggestion, SuggestionInput, SuggestionListParams};
use crate::tags::{self, NewTag, Tag};
use crate::webhooks;
use parking_lot::{Condvar, Mutex};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use zeroize::Zeroize;

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
///  "webhook_destinations": ["https://hooks.example.com/in"],
///  "background_checkpoints": true | {"every_ms": 10, "inline_above_pages": 4096}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineOptions {
    pub durability: Option<String>,
    pub event_retention_secs: Option<u64>,
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

/// Options of an engine before it opens its database.
pub struct EngineBuilder {
    clock: Arc<dyn Clock>,
    durability: Durability,
    event_retention_ms: i64,
    webhook_allow: Vec<String>,
    on_commit: Option<CommitHook>,
    checkpoints: Option<CheckpointPolicy>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            durability: Durability::Normal,
            event_retention_ms: events::DEFAULT_RETENTION_MS,
            webhook_allow: Vec::new(),
            on_commit: None,
            checkpoints: None,
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
    /// The destinations webhooks may have (see [`webhooks::destination_allowed`]: scheme,
    /// host, port and leading path segments); empty (the default) allows any http(s) URL.
    /// Creating or changing a webhook to another destination is a validation error; the host
    /// that delivers should check again at delivery.
    pub fn webhook_destinations(mut self, allow: Vec<String>) -> Self {
        self.webhook_allow = allow;
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
    fn finish(self, store: SqliteStore) -> Result<Engine> {
        let head = store.read(|s| s.last_event_seq())?;
        let checkpoints = match self.checkpoints {
            Some(policy) => store.start_background_checkpoints(policy)?,
            None => None,
        };
        Ok(Engine {
            checkpoints,
            store,
            clock: self.clock,
            ids: IdGen,
            keys: KeyRing::new(),
            event_retention_ms: self.event_retention_ms,
            webhook_allow: self.webhook_allow,
            commits: (Mutex::new(head), Condvar::new()),
            on_commit: self.on_commit,
            tokens: Default::default(),
        })
    }
}

/// The chat engine. `Engine` is `Send + Sync`: share it between threads; writes are
/// serialized on its one writer connection.
pub struct Engine {
    /// First, so that it stops before the store closes.
    checkpoints: Option<BackgroundCheckpoints>,
    store: SqliteStore,
    clock: Arc<dyn Clock>,
    ids: IdGen,
    /// Organization key-encryption keys given by the host (memory only; see `crypto`).
    keys: KeyRing,
    event_retention_ms: i64,
    /// Allowed webhook destinations (empty: any).
    webhook_allow: Vec<String>,
    /// The newest committed event `seq`, and the condition subscribers wait on.
    commits: (Mutex<i64>, Condvar),
    on_commit: Option<CommitHook>,
    /// Authentications remembered between calls.
    tokens: crate::auth::RememberedTokens,
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

    fn env(&self) -> Env<'_> {
        Env {
            now: self.clock.now_ms(),
            ids: self.ids,
            keys: &self.keys,
        }
    }
    /// One write transaction: the operation, then (inside the same transaction) the
    /// idempotency key of the call if any and the events of everything it changed; then
    /// subscribers are woken.
    fn write<T: Send>(&self, f: impl FnOnce(&dyn Store, &Env) -> Result<T> + Send) -> Result<T> {
        let env = self.env();
        let mut claim = crate::idempotency::take_pending_claim();
        let written = self.store.write(|tx| {
            let out = f(tx, &env)?;
            crate::idempotency::record_claim(tx, env.now, &mut claim)?;
            let published = events::publish(tx, &env)?;
            Ok((out, published))
        });
        if let Some(c) = claim {
            crate::idempotency::restore_claim(c);
        }
        let (out, published) = written?;
        if published.credentials_changed {
            self.tokens.forget_all();
        }
        if let Some(seq) = published.last_seq {
            let newest = {
                let mut head = self.commits.0.lock();
                if seq > *head {
                    *head = seq;
                }
                *head
            };
            self.commits.1.notify_all();
            if let Some(hook) = &self.on_commit {
                let notice = CommitNotice {
                    last_event_seq: newest,
                    webhook_deliveries: published.webhook_deliveries,
                };
                // The write has committed: a failing hook must not turn it into an error.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&notice)));
            }
        }
        Ok(out)
    }
    fn read<T>(&self, f: impl FnOnce(&dyn Store, &Env) -> Result<T>) -> Result<T> {
        let env = self.env();
        self.store.read(|tx| f(tx, &env))
    }

    /// Passive checkpoints the background checkpointer has completed (None: not running; see
    /// [`EngineBuilder::background_checkpoints`]).
    pub fn background_checkpoint_passes(&self) -> Option<u64> {
        self.checkpoints.as_ref().map(BackgroundCheckpoints::passes)
    }

    /// The storage backend (maintenance tasks, tests).
    pub fn store(&self) -> &SqliteStore {
        &self.store
    }
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    // ---- directory ----------------------------------------------------------------------

    pub fn load_seed(&self, seed: seed::Seed) -> Result<seed::SeedReport> {
        self.write(|s, env| seed::load(s, env, seed))
    }
    pub fn load_seed_json(&self, json: &str) -> Result<seed::SeedReport> {
        let seed: seed::Seed = crate::input::from_json(json)?;
        self.load_seed(seed)
    }
    /// Resolves an API token or visitor access token to its actor. Answers are remembered
    /// until a committed write revokes or deletes credentials (see
    /// [`crate::auth::RememberedTokens`]) or, for a visitor token, until it expires.
    pub fn authenticate(&self, token: &str) -> Result<Actor> {
        let hash = crate::auth::token_hash(token);
        let generation = match self.tokens.recall(&hash, self.clock.now_ms()) {
            Ok(actor) => return Ok(actor),
            Err(generation) => generation,
        };
        let (actor, until) = self.read(|s, env| directory::authenticate(s, env, &hash))?;
        self.tokens.remember(generation, hash, actor, until);
        Ok(actor)
    }
    pub fn create_organization(
        &self,
        actor: &Actor,
        input: directory::NewOrganization,
    ) -> Result<directory::Organization> {
        self.write(|s, env| directory::create_organization(s, env, actor, input))
    }
    pub fn get_organization(&self, actor: &Actor, org: Uuid) -> Result<directory::Organization> {
        self.read(|s, _| directory::get_organization(s, actor, org))
    }
    pub fn update_organization(
        &self,
        actor: &Actor,
        org: Uuid,
        patch: directory::OrganizationPatch,
    ) -> Result<directory::Organization> {
        self.write(|s, env| directory::update_organization(s, env, actor, org, patch))
    }
    pub fn create_user(
        &self,
        actor: &Actor,
        org: Uuid,
        input: directory::NewUser,
    ) -> Result<directory::User> {
        self.write(|s, env| directory::create_user(s, env, actor, org, input))
    }
    pub fn get_user(&self, actor: &Actor, org: Uuid, user: Uuid) -> Result<directory::User> {
        self.read(|s, env| directory::get_user(s, env, actor, org, user))
    }
    pub fn me(&self, actor: &Actor) -> Result<directory::User> {
        self.read(|s, env| directory::me(s, env, actor))
    }
    pub fn list_users(
        &self,
        actor: &Actor,
        org: Uuid,
        page: &PageRequest,
    ) -> Result<Page<directory::User>> {
        self.read(|s, env| directory::list_users(s, env, actor, org, page))
    }
    pub fn update_user(
        &self,
        actor: &Actor,
        org: Uuid,
        user: Uuid,
        patch: directory::UserPatch,
    ) -> Result<directory::User> {
        self.write(|s, env| directory::update_user(s, env, actor, org, user, patch))
    }
    pub fn delete_user(&self, actor: &Actor, org: Uuid, user: Uuid) -> Result<()> {
        self.write(|s, env| directory::delete_user(s, env, actor, org, user))
    }
    pub fn create_api_token(&self, actor: &Actor, user: Uuid) -> Result<directory::ApiToken> {
        self.write(|s, env| directory::create_api_token(s, env, actor, user))
    }
    pub fn revoke_api_token(&self, actor: &Actor, user: Uuid, token_id: Uuid) -> Result<()> {
        self.write(|s, _| directory::revoke_api_token(s, actor, user, token_id))
    }
    pub fn create_team(
        &self,
        actor: &Actor,
        org: Uuid,
        input: directory::NewTeam,
    ) -> Result<directory::Team> {
        self.write(|s, env| directory::create_team(s, env, actor, org, input))
    }
    pub fn list_teams(
        &self,
        actor: &Actor,
        org: Uuid,
        page: &PageRequest,
    ) -> Result<Page<directory::Team>> {
        self.read(|s, env| directory::list_teams(s, env, actor, org, page))
    }
    pub fn get_team(&self, actor: &Actor, org: Uuid, team: Uuid) -> Result<directory::Team> {
        self.read(|s, env| directory::get_team(s, env, actor, org, team))
    }
    pub fn set_team_membership(
        &self,
        actor: &Actor,
        org: Uuid,
        team: Uuid,
        user: Uuid,
        member: bool,
    ) -> Result<directory::Team> {
        self.write(|s, env| directory::set_team_membership(s, env, actor, org, team, user, member))
    }
    pub fn create_router(
        &self,
        actor: &Actor,
        org: Uuid,
        input: directory::NewRouter,
    ) -> Result<directory::Router> {
        self.write(|s, env| directory::create_router(s, env, actor, org, input))
    }
    pub fn list_routers(&self, actor: &Actor, org: Uuid) -> Result<Vec<directory::Router>> {
        self.read(|s, _| directory::list_routers(s, actor, org))
    }
    pub fn create_room(
        &self,
        actor: &Actor,
        org: Uuid,
        input: directory::NewRoom,
    ) -> Result<directory::Room> {
        self.write(|s, env| directory::create_room(s, env, actor, org, input))
    }
    pub fn update_room(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        patch: directory::RoomPatch,
    ) -> Result<directory::Room> {
        self.write(|s, env| directory::update_room(s, env, actor, org, room, patch))
    }
    pub fn get_room(&self, actor: &Actor, org: Uuid, room: Uuid) -> Result<directory::Room> {
        self.read(|s, _| directory::get_room(s, actor, org, room))
    }
    pub fn get_user_room(&self, actor: &Actor, user: Uuid, room: Uuid) -> Result<directory::Room> {
        self.read(|s, _| directory::get_user_room(s, actor, user, room))
    }
    pub fn list_rooms(
        &self,
        actor: &Actor,
        org: Uuid,
        page: &PageRequest,
    ) -> Result<Page<directory::Room>> {
        self.read(|s, _| directory::list_rooms(s, actor, org, page))
    }
    pub fn share_room(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        partner: Uuid,
    ) -> Result<directory::Room> {
        self.write(|s, _| directory::share_room(s, actor, org, room, partner))
    }
    pub fn share_team(
        &self,
        actor: &Actor,
        org: Uuid,
        team: Uuid,
        partner: Uuid,
    ) -> Result<directory::Team> {
        self.write(|s, env| directory::share_team(s, env, actor, org, team, partner))
    }
    pub fn visitor_auth(&self, org: Uuid, secret: Option<&str>) -> Result<directory::VisitorAuth> {
        self.write(|s, env| directory::visitor_auth(s, env, org, secret))
    }
    pub fn visitor_enter_room(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        visitor: Uuid,
        presence_expires_in: Option<i64>,
    ) -> Result<(directory::Visitor, bool)> {
        self.write(|s, env| {
            directory::visitor_enter_room(s, env, actor, org, room, visitor, presence_expires_in)
        })
    }
    pub fn get_room_visitor(
        &self,
        actor: &Actor,
        user: Uuid,
        room: Uuid,
        visitor: Uuid,
    ) -> Result<directory::Visitor> {
        self.read(|s, env| directory::get_room_visitor(s, env, actor, user, room, visitor))
    }
    pub fn set_visitor_variable(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        visitor: Uuid,
        input: directory::VisitorVariable,
    ) -> Result<directory::Visitor> {
        self.write(|s, env| {
            directory::set_visitor_variable(s, env, actor, org, room, visitor, input)
        })
    }
    pub fn create_presence_client(
        &self,
        actor: &Actor,
        user: Uuid,
        input: directory::PresenceInput,
    ) -> Result<directory::PresenceClient> {
        self.write(|s, env| directory::create_presence_client(s, env, actor, user, input))
    }
    pub fn renew_presence_client(
        &self,
        actor: &Actor,
        user: Uuid,
        client: Uuid,
        input: directory::PresenceInput,
    ) -> Result<directory::PresenceClient> {
        self.write(|s, env| directory::renew_presence_client(s, env, actor, user, client, input))
    }
    pub fn delete_presence_client(&self, actor: &Actor, user: Uuid, client: Uuid) -> Result<()> {
        self.write(|s, _| directory::delete_presence_client(s, actor, user, client))
    }
    /// Host-side presence: present for `ttl_s` seconds, forever (`None`), or absent (`Some(0)`).
    pub fn set_user_presence(&self, user: Uuid, ttl_s: Option<i64>) -> Result<()> {
        self.write(|s, env| directory::set_presence(s, env, PresenceHolder::User(user), ttl_s))
    }
    pub fn set_visitor_presence(&self, visitor: Uuid, ttl_s: Option<i64>) -> Result<()> {
        self.write(|s, env| {
            directory::set_presence(s, env, PresenceHolder::Visitor(visitor), ttl_s)
        })
    }

    // ---- chats --------------------------------------------------------------------------

    pub fn list_chats(
        &self,
        actor: &Actor,
        scope: ChatScope,
        params: &ChatListParams,
        page: &PageRequest,
    ) -> Result<Page<Chat>> {
        self.read(|s, env| chats::list_chats(s, env, actor, scope, params, page))
    }
    pub fn get_chat(&self, actor: &Actor, scope: ChatScope, chat: Uuid) -> Result<Chat> {
        self.read(|s, env| chats::get_chat(s, env, actor, scope, chat))
    }
    pub fn update_chat(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        update: ChatUpdate,
    ) -> Result<Chat> {
        self.write(|s, env| chats::update_chat(s, env, actor, scope, chat, update))
    }
    /// Returns (chat, created).
    pub fn create_visitor_chat(
        &self,
        actor: &Actor,
        user: Uuid,
        room: Uuid,
        visitor: Uuid,
        input: NewChat,
    ) -> Result<(Chat, bool)> {
        self.write(|s, env| chats::create_visitor_chat(s, env, actor, user, room, visitor, input))
    }
    pub fn create_user_chat(&self, actor: &Actor, user: Uuid, input: NewChat) -> Result<Chat> {
        self.write(|s, env| chats::create_user_chat(s, env, actor, user, input))
    }
    /// Public API: returns (chat, created).
    pub fn visitor_start_chat(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        visitor: Uuid,
    ) -> Result<(Chat, bool)> {
        self.write(|s, env| chats::visitor_start_chat(s, env, actor, org, room, visitor))
    }
    pub fn visitor_get_chat(&self, actor: &Actor, visitor: Uuid, chat: Uuid) -> Result<Chat> {
        self.read(|s, env| {
            chats::visitor_chat(s, env, actor, visitor, chat)
                .map(|c| crate::chat_hooks::present_chat(env, &c))
        })
    }

    // ---- memberships ----------------------------------------------------------------------

    pub fn list_memberships(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Membership>> {
        self.read(|s, env| memberships::list_memberships(s, env, actor, scope, chat, page))
    }
    pub fn list_user_memberships(
        &self,
        actor: &Actor,
        user: Uuid,
        is_participating: Option<bool>,
        page: &PageRequest,
    ) -> Result<Page<Membership>> {
        self.read(|s, env| {
            memberships::list_user_memberships(s, env, actor, user, is_participating, page)
        })
    }
    pub fn list_visitor_chat_memberships(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        visitor: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Membership>> {
        self.read(|s, env| {
            memberships::list_visitor_chat_memberships(s, env, actor, user, chat, visitor, page)
        })
    }
    pub fn join_pending(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        input: MembershipInput,
    ) -> Result<Membership> {
        self.write(|s, env| memberships::join_pending(s, env, actor, user, chat, input))
    }
    pub fn join_routed(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        input: MembershipInput,
    ) -> Result<Membership> {
        self.write(|s, env| memberships::join_routed(s, env, actor, user, chat, input))
    }
    /// Returns (membership, created).
    pub fn join_org(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        input: MembershipInput,
    ) -> Result<(Membership, bool)> {
        self.write(|s, env| memberships::join_org(s, env, actor, scope, chat, input))
    }
    pub fn update_user_membership(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        input: MembershipInput,
        partial: bool,
    ) -> Result<Membership> {
        self.write(|s, env| {
            memberships::update_user_membership(s, env, actor, user, chat, input, partial)
        })
    }
    pub fn update_visitor_membership(
        &self,
        actor: &Actor,
        visitor: Uuid,
        chat: Uuid,
        input: MembershipInput,
        partial: bool,
    ) -> Result<Membership> {
        self.write(|s, env| {
            memberships::update_visitor_membership(s, env, actor, visitor, chat, input, partial)
        })
    }
    pub fn visitor_membership(
        &self,
        actor: &Actor,
        visitor: Uuid,
        chat: Uuid,
    ) -> Result<Membership> {
        self.read(|s, env| memberships::visitor_membership(s, env, actor, visitor, chat))
    }

    // ---- messages ----------------------------------------------------------------------

    pub fn send_user_message(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        input: NewMessage,
    ) -> Result<Message> {
        self.write(|s, env| messages::send_user_message(s, env, actor, user, chat, input))
    }
    pub fn send_autosuggest(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        input: messages::NewAutosuggest,
    ) -> Result<Message> {
        self.write(|s, env| messages::send_autosuggest(s, env, actor, user, chat, input))
    }
    pub fn send_visitor_message(
        &self,
        actor: &Actor,
        visitor: Uuid,
        chat: Uuid,
        input: NewMessage,
    ) -> Result<Message> {
        self.write(|s, env| messages::send_visitor_message(s, env, actor, visitor, chat, input))
    }
    pub fn list_messages(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        params: &MessageListParams,
        page: &PageRequest,
    ) -> Result<Page<Message>> {
        self.read(|s, env| messages::list_messages(s, env, actor, scope, chat, params, page))
    }
    pub fn list_visitor_messages(
        &self,
        actor: &Actor,
        visitor: Uuid,
        chat: Uuid,
        params: &MessageListParams,
        page: &PageRequest,
    ) -> Result<Page<Message>> {
        self.read(|s, env| {
            messages::list_visitor_messages(s, env, actor, visitor, chat, params, page)
        })
    }
    pub fn get_message(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        message: Uuid,
    ) -> Result<Message> {
        self.read(|s, env| messages::get_message(s, env, actor, scope, chat, message))
    }

    // ---- invitations, tags, conversation starters, reply suggestions ----

    /// GET `/users/<u>/chats/<c>/outgoing_chat_invitations`.
    pub fn list_outgoing_invitations(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        params: &InvitationListParams,
        page: &PageRequest,
    ) -> Result<Page<Invitation>> {
        self.read(|s, env| invitations::list_outgoing(s, env, actor, user, chat, params, page))
    }
    /// POST `/users/<u>/chats/<c>/outgoing_chat_invitations`. Returns (invitation, created):
    /// `false` when the party already had a pending invitation (the 200 case).
    pub fn send_invitation(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        input: NewInvitation,
    ) -> Result<(Invitation, bool)> {
        self.write(|s, env| invitations::send(s, env, actor, user, chat, input))
    }
    /// PUT/PATCH `/users/<u>/chats/<c>/outgoing_chat_invitations/<id>` (`is_expired: true`).
    pub fn expire_invitation(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Uuid,
        invitation: Uuid,
        input: InvitationExpire,
    ) -> Result<Invitation> {
        self.write(|s, env| invitations::expire(s, env, actor, user, chat, invitation, input))
    }
    /// GET `/users/<u>/incoming_chat_invitations`.
    pub fn list_incoming_invitations(
        &self,
        actor: &Actor,
        user: Uuid,
        params: &InvitationListParams,
        page: &PageRequest,
    ) -> Result<Page<Invitation>> {
        self.read(|s, env| invitations::list_incoming(s, env, actor, user, params, page))
    }
    /// PUT/PATCH `/users/<u>/incoming_chat_invitations/<id>` (`chat = None`) or
    /// `/users/<u>/chats/<c>/incoming_chat_invitations/<id>` (`chat` must be the invitation's).
    pub fn accept_invitation(
        &self,
        actor: &Actor,
        user: Uuid,
        chat: Option<Uuid>,
        invitation: Uuid,
        input: InvitationAccept,
    ) -> Result<Invitation> {
        self.write(|s, env| invitations::accept(s, env, actor, user, chat, invitation, input))
    }

    /// GET `.../chats/<c>/tags` through `UserChats`, `Owned`, `Involved` or `OrgRouted`.
    pub fn list_tags(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Tag>> {
        self.read(|s, env| tags::list_tags(s, env, actor, scope, chat, page))
    }
    /// GET `.../chats/<c>/allowed_tags` through the same scopes as tags.
    pub fn list_allowed_tags(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Tag>> {
        self.read(|s, env| tags::list_allowed_tags(s, env, actor, scope, chat, page))
    }
    /// POST `.../chats/<c>/tags`. Returns (tag, created): `false` when the chat already had
    /// the tag (the 200 case).
    pub fn add_tag(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        input: NewTag,
    ) -> Result<(Tag, bool)> {
        self.write(|s, env| tags::add_tag(s, env, actor, scope, chat, input))
    }
    /// GET `/orgs/<o>/rooms/<r>/tags`: the room's allowed tags.
    pub fn list_room_allowed_tags(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Tag>> {
        self.read(|s, _| tags::list_room_allowed_tags(s, actor, org, room, page))
    }
    /// POST `/orgs/<o>/rooms/<r>/tags`: allow one more tag in the room. Returns (tag, created):
    /// `false` when the room already allowed it (the 200 case).
    pub fn add_room_allowed_tag(
        &self,
        actor: &Actor,
        org: Uuid,
        room: Uuid,
        input: NewTag,
    ) -> Result<(Tag, bool)> {
        self.write(|s, env| tags::add_room_allowed_tag(s, env, actor, org, room, input))
    }
    /// DELETE `.../chats/<c>/tags/<name>`; `name` is the URL-decoded tag name.
    pub fn remove_tag(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        name: &str,
    ) -> Result<()> {
        self.write(|s, env| tags::remove_tag(s, env, actor, scope, chat, name))
    }

    /// GET `/users/<u>/chat_conversation_starters`.
    pub fn list_conversation_starters(
        &self,
        actor: &Actor,
        user: Uuid,
        page: &PageRequest,
    ) -> Result<Page<ConversationStarter>> {
        self.read(|s, _| starters::list_starters(s, actor, user, page))
    }
    /// POST `/users/<u>/chat_conversation_starters` (201).
    pub fn create_conversation_starter(
        &self,
        actor: &Actor,
        user: Uuid,
        input: StarterInput,
    ) -> Result<ConversationStarter> {
        self.write(|s, env| starters::create_starter(s, env, actor, user, input))
    }
    /// PUT (`partial = false`) / PATCH (`partial = true`)
    /// `/users/<u>/chat_conversation_starters/<language_code>`.
    pub fn update_conversation_starter(
        &self,
        actor: &Actor,
        user: Uuid,
        language_code: &str,
        input: StarterInput,
        partial: bool,
    ) -> Result<ConversationStarter> {
        self.write(|s, env| {
            starters::update_starter(s, env, actor, user, language_code, input, partial)
        })
    }
    /// DELETE `/users/<u>/chat_conversation_starters/<language_code>`.
    pub fn delete_conversation_starter(
        &self,
        actor: &Actor,
        user: Uuid,
        language_code: &str,
    ) -> Result<()> {
        self.write(|s, _| starters::delete_starter(s, actor, user, language_code))
    }

    /// GET `/users/<u>/{chats,routed_chats}/<c>/reply_suggestions` (`UserChats` or
    /// `UserRouted`).
    pub fn list_chat_reply_suggestions(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        params: &SuggestionListParams,
        page: &PageRequest,
    ) -> Result<Page<ReplySuggestion>> {
        self.read(|s, env| {
            suggestions::list_chat_suggestions(s, env, actor, scope, chat, params, page)
        })
    }
    /// GET `/users/<u>/{chats,routed_chats}/<c>/messages/<m>/reply_suggestions`.
    pub fn list_message_reply_suggestions(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        message: Uuid,
        params: &SuggestionListParams,
        page: &PageRequest,
    ) -> Result<Page<ReplySuggestion>> {
        self.read(|s, env| {
            suggestions::list_message_suggestions(s, env, actor, scope, chat, message, params, page)
        })
    }
    /// POST `/users/<u>/{chats,routed_chats}/<c>/messages/<m>/reply_suggestions` (201).
    pub fn create_reply_suggestion(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        message: Uuid,
        input: SuggestionInput,
    ) -> Result<ReplySuggestion> {
        self.write(|s, env| {
            suggestions::create_suggestion(s, env, actor, scope, chat, message, input)
        })
    }
    /// PUT (`partial = false`) / PATCH (`partial = true`)
    /// `/users/<u>/{chats,routed_chats}/<c>/messages/<m>/reply_suggestions/<id>`.
    #[allow(clippy::too_many_arguments)]
    pub fn update_reply_suggestion(
        &self,
        actor: &Actor,
        scope: ChatScope,
        chat: Uuid,
        message: Uuid,
        suggestion: Uuid,
        input: SuggestionInput,
        partial: bool,
    ) -> Result<ReplySuggestion> {
        self.write(|s, env| {
            suggestions::update_suggestion(
                s, env, actor, scope, chat, message, suggestion, input, partial,
            )
        })
    }

    // ---- encryption and purge (docs/ENCRYPTION.md) ----------------------------------------

    /// Gives the engine an organization's key-encryption key. The key is held only in memory:
    /// a restarted host calls this again before using the organization's encrypted chats. The
    /// first key of an organization (or the first after a purge) is recorded by a key check;
    /// later calls must give the same key (400 `validation_error` on `key` otherwise). The
    /// array passed in is zeroized here; the host zeroizes its own copies.
    pub fn set_organization_key(&self, org: Uuid, mut key: [u8; 32]) -> Result<()> {
        let k = SecretKey::from_bytes(&key);
        key.zeroize();
        self.write(|s, env| crypto::org_keys::set_key(s, env, org, &k))?;
        self.keys.insert(org, k);
        Ok(())
    }

    /// Replaces the organization key: every chat key is rewrapped with `new_key` in one
    /// transaction (messages are not touched). Needs the current key (409
    /// `chat_key_unavailable` otherwise).
    pub fn rotate_organization_key(
        &self,
        org: Uuid,
        mut new_key: [u8; 32],
    ) -> Result<RotationReport> {
        let new = SecretKey::from_bytes(&new_key);
        new_key.zeroize();
        let mut previous = None;
        let out = self.write(|s, env| {
            let old = self.keys.get(org).ok_or_else(crypto::key_unavailable)?;
            let report = crypto::org_keys::rotate(s, env, org, &old, &new)?;
            // Swapped while the writer is held, so no operation sees the old key with new wraps.
            previous = self.keys.insert(org, new.clone());
            Ok(report)
        });
        if let (Err(_), Some(old)) = (&out, previous) {
            self.keys.insert(org, old);
        }
        out
    }

    /// The organization purges its key from the engine: it is zeroized and forgotten, reads of
    /// its encrypted chats show `message: null` with `encrypted_message`, writes are 409.
    /// Returns whether the engine held it.
    pub fn purge_organization_key(&self, org: Uuid) -> Result<bool> {
        self.write(|s, env| crypto::org_keys::purge_key(s, env, org))?;
        Ok(self.keys.remove(org).is_some())
    }

    /// Whether the engine holds the organization's key.
    pub fn holds_organization_key(&self, org: Uuid) -> bool {
        self.keys.holds(org)
    }

    /// Purges the sensitive data of a chat (settings permission or admin), then truncates the
    /// write-ahead log so that no purged text stays in the database files.
    pub fn purge_chat_sensitive_data(&self, actor: &Actor, chat: Uuid) -> Result<PurgeReport> {
        let mut report = self.write(|s, env| purge::purge_chat(s, env, actor, chat))?;
        report.wal_truncated = self.store.checkpoint_truncate()?;
        Ok(report)
    }

    /// Purges a visitor's name and variables and the sensitive data of every chat they took
    /// part in (settings permission or admin), then truncates the write-ahead log.
    pub fn purge_visitor_sensitive_data(
        &self,
        actor: &Actor,
        visitor: Uuid,
    ) -> Result<PurgeReport> {
        let mut report = self.write(|s, env| purge::purge_visitor(s, env, actor, visitor))?;
        report.wal_truncated = self.store.checkpoint_truncate()?;
        Ok(report)
    }

    // ---- time-driven rules ----------------------------------------------------------------

    /// Applies every time-driven rule as of the clock's now, and retention (events,
    /// acknowledged webhook deliveries, idempotency keys).
    pub fn maintenance(&self) -> Result<MaintenanceReport> {
        let window = self.event_retention_ms;
        self.write(|s, env| maintenance::run_with_retention(s, env, window))
    }

    // ---- events, webhooks, idempotency (docs/DECISIONS.md) --------------------------------

    /// Events after `since` on channels the actor may read (see [`events::authorize`]).
    pub fn events_since(
        &self,
        actor: &Actor,
        channels: &[String],
        since: Option<i64>,
        limit: Option<usize>,
    ) -> Result<EventPage> {
        self.read(|s, env| events::events_since(s, env, actor, channels, since, limit))
    }

    /// The newest committed event `seq`.
    pub fn last_event_seq(&self) -> i64 {
        *self.commits.0.lock()
    }

    /// Blocks until an event newer than `after` commits or `timeout` passes; returns the
    /// newest committed `seq`.
    pub fn wait_for_events(&self, after: i64, timeout: Duration) -> i64 {
        let deadline = std::time::Instant::now() + timeout;
        let mut head = self.commits.0.lock();
        while *head <= after {
            if self.commits.1.wait_until(&mut head, deadline).timed_out() {
                break;
            }
        }
        *head
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

    pub fn create_webhook(
        &self,
        actor: &Actor,
        org: Uuid,
        input: webhooks::WebhookInput,
    ) -> Result<webhooks::Webhook> {
        self.write(|s, env| webhooks::create(s, env, actor, org, input, &self.webhook_allow))
    }
    pub fn list_webhooks(&self, actor: &Actor, org: Uuid) -> Result<Page<webhooks::Webhook>> {
        self.read(|s, _| webhooks::list(s, actor, org))
    }
    pub fn get_webhook(&self, actor: &Actor, org: Uuid, id: Uuid) -> Result<webhooks::Webhook> {
        self.read(|s, _| webhooks::get(s, actor, org, id))
    }
    pub fn update_webhook(
        &self,
        actor: &Actor,
        org: Uuid,
        id: Uuid,
        input: webhooks::WebhookInput,
    ) -> Result<webhooks::Webhook> {
        self.write(|s, env| webhooks::update(s, env, actor, org, id, input, &self.webhook_allow))
    }
    /// Whether a webhook destination is within the allow-list given to the builder
    /// ([`EngineBuilder::webhook_destinations`]); hosts that deliver check each delivery.
    pub fn webhook_destination_allowed(&self, url: &str) -> bool {
        webhooks::destination_allowed(url, &self.webhook_allow)
    }
    pub fn delete_webhook(&self, actor: &Actor, org: Uuid, id: Uuid) -> Result<()> {
        self.write(|s, _| webhooks::delete(s, actor, org, id))
    }
    pub fn list_webhook_deliveries(
        &self,
        actor: &Actor,
        org: Uuid,
        id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<webhooks::Delivery>> {
        self.read(|s, _| webhooks::deliveries(s, actor, org, id, page))
    }
    /// Host: deliveries to POST now (see [`webhooks`]).
    pub fn webhook_deliveries_due(&self, limit: usize) -> Result<Vec<webhooks::DueDelivery>> {
        self.read(|s, env| webhooks::due(s, env, limit))
    }
    /// Host: when the next delivery is due (ms since the epoch; None: nothing queued).
    pub fn next_webhook_delivery_at(&self) -> Result<Option<i64>> {
        self.read(|s, _| webhooks::next_due_at(s))
    }
    /// Host: the result of one delivery attempt (HTTP status, or None with an error).
    pub fn record_delivery_result(
        &self,
        delivery: i64,
        status: Option<u16>,
        error: Option<String>,
    ) -> Result<()> {
        self.write(|s, env| webhooks::record_result(s, env, delivery, status, error))
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
    pub(crate) fn idempotency_complete(
        &self,
        actor: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        self.store
            .write(|tx| tx.complete_idempotency(actor, key, status, body))
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
