//! # chat-core
//!
//! An embeddable customer-service chat engine: the complete domain of the giosg Chats API v5
//! (chats, memberships, messages with attachments, invitations, tags, conversation starters,
//! reply suggestions) over SQLite, with authorization, cursor pagination and time-driven rules.
//!
//! Everything goes through [`Engine`]: open it on a file or in memory, load a directory (or a
//! seed), then call operations as an [`Actor`]. Resources come back shaped exactly like the
//! REST resources (they serialize to the reference's JSON); errors carry a stable
//! [`ErrorCode`] with its HTTP status.
//!
//! ```
//! use chat_core::{Actor, Engine, TestClock, PageRequest};
//! use chat_core::chats::{ChatListParams, ChatScope};
//! use chat_core::messages::NewMessage;
//!
//! let clock = TestClock::at_default_start();
//! let engine = Engine::builder().clock(clock.clone()).open_in_memory()?;
//! engine.load_seed_json(r#"{
//!   "organizations": [{"id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Acme"}],
//!   "users": [{"id": "bed3221e-879e-43df-8d0e-d63f8c1f012d", "organization_id": "7f9e9580-095b-42c7-838c-c04e667b26f7",
//!              "first_name": "Ann", "last_name": "Lee", "is_present": true, "api_token": "ann-secret-token-123"}],
//!   "rooms": [{"id": "9926bdfa-56e0-11e5-b98c-6c4008c08dfe", "organization_id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Support"}],
//!   "visitors": [{"id": "3b90ef7c93484af4965a79ace7bc9a62", "room_id": "9926bdfa-56e0-11e5-b98c-6c4008c08dfe", "name": null, "is_present": true}]
//! }"#)?;
//! let ann = engine.authenticate("ann-secret-token-123")?;
//! let Actor::User(ann_id) = ann else { unreachable!() };
//! let visitor = chat_core::directory::seed::parse_visitor_id("3b90ef7c93484af4965a79ace7bc9a62").unwrap();
//! let room = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe".parse()?;
//! let (chat, created) = engine.create_visitor_chat(&ann, ann_id, room, visitor, Default::default())?;
//! assert!(created);
//! let msg = engine.send_user_message(&ann, ann_id, chat.id.parse()?, NewMessage {
//!     message: Some("Hello! How can I help?".into()), ..Default::default() })?;
//! assert_eq!(msg.kind, "msg");
//! let page = engine.list_chats(&ann, ChatScope::UserChats { user_id: ann_id }, &ChatListParams::default(), &PageRequest::default())?;
//! assert_eq!(page.results[0].user_message_count, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api;
pub mod auth;
pub mod chat_hooks;
pub mod chats;
pub mod clock;
pub mod crypto;
pub mod directory;
mod engine;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod input;
pub mod invitations;
pub mod maintenance;
pub mod memberships;
pub mod messages;
pub mod pagination;
pub mod purge;
pub mod registry;
pub mod starters;
pub mod store;
pub mod suggestions;
pub mod tags;
#[cfg(test)]
mod test_support;
pub mod time;
pub mod webhooks;

pub use auth::Actor;
pub use clock::{Clock, Millis, SystemClock, TestClock};
pub use engine::{
    CheckpointOption, CommitNotice, Engine, EngineBuilder, EngineOptions, Subscription,
};
pub use error::{ChatError, ErrorCode, Result};
pub use pagination::{Page, PageRequest};
pub use store::sqlite::{CheckpointPolicy, Durability};

/// What every rule gets besides the store: the current time, the id generator, and the
/// organization keys the engine holds (encrypted chats; see [`crypto`]).
#[derive(Debug, Clone, Copy)]
pub struct Env<'k> {
    pub now: Millis,
    pub ids: ids::IdGen,
    pub keys: &'k crypto::KeyRing,
    /// The engine's master key, when it holds organization keys itself ([`crypto::held`]).
    pub master: Option<&'k crypto::SecretKey>,
    /// Organization keys the running operation generated ([`crypto::held::NewKeys`]).
    pub new_keys: &'k crypto::held::NewKeys,
}

impl Env<'_> {
    /// The organization's key, if the engine holds it or the running operation generated it.
    pub fn org_key(&self, org: uuid::Uuid) -> Option<crypto::SecretKey> {
        self.new_keys.get(org).or_else(|| self.keys.get(org))
    }
}

/// The README's Rust examples are compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
