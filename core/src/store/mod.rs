//! The storage interface. Domain rules see only these traits and record types; all SQL lives
//! behind them (in [`sqlite`]), so another backend can implement the same traits. The record
//! types come from their resources: the data part of each resource module, or the `records`
//! module of [`crate::crypto`], [`crate::webhooks`] and [`crate::idempotency`], which imports
//! nothing of their rules.
//!
//! A rule that a query must evaluate to select its rows is not written here: it is defined in
//! Rust in its resource module with its SQL beside it, and the queries are composed from that
//! SQL — pending, idle/ttl and the derived counts in [`crate::chats`] (and a member's presence
//! in [`crate::memberships`]), routing and room access in [`crate::directory`]. Property tests
//! (`core/tests/rules_in_sql.rs`) hold each SQL form to its Rust definition.

pub mod changes;
pub(crate) mod columns;
#[cfg(feature = "fault-injection")]
mod fault;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

use crate::chats::{ChatFilter, ChatRecord, ChatSelection, NewChatRecord};
use crate::clock::Millis;
use crate::crypto::records::{HeldOrgKey, OrgKeyCheck, WrappedChatKey};
use crate::directory::{
    OrgRecord, PresenceClientRecord, RoomRecord, RouterRecord, TeamRecord, UserRecord,
    VisitorRecord,
};
use crate::error::Result;
use crate::events::records::RoomChannel;
use crate::idempotency::records::IdempotencyRecord;
use crate::invitations::{InvitationFilter, InvitationRecord, InvitationSelection, InviteTarget};
use crate::memberships::{MembershipRecord, MembershipSelection};
use crate::messages::{MessageFilter, MessageRecord, NewMessageRecord};
use crate::pagination::Keyset;
use crate::starters::StarterRecord;
use crate::suggestions::{SuggestionRecord, SuggestionSelection};
use crate::tags::TagRecord;
use crate::webhooks::records::{DeliveryRecord, WebhookRecord};
use uuid::Uuid;

#[cfg(feature = "fault-injection")]
pub use fault::FaultPlan;

/// Organizations, people, rooms, routing, presence and credentials.
pub trait DirectoryStore {
    fn insert_org(&self, org: &OrgRecord) -> Result<()>;
    fn update_org(&self, org: &OrgRecord) -> Result<()>;
    fn org(&self, id: Uuid) -> Result<Option<OrgRecord>>;
    fn add_partner(&self, org: Uuid, partner: Uuid) -> Result<()>;
    fn partners(&self, org: Uuid) -> Result<Vec<Uuid>>;

    fn insert_user(&self, user: &UserRecord) -> Result<()>;
    fn update_user(&self, user: &UserRecord) -> Result<()>;
    fn user(&self, id: Uuid) -> Result<Option<UserRecord>>;
    /// A user and their organization in one read (the organization None if it is missing).
    fn user_with_org(&self, id: Uuid) -> Result<Option<(UserRecord, Option<OrgRecord>)>>;
    fn users_of_org(&self, org: Uuid, keyset: &Keyset) -> Result<Vec<UserRecord>>;

    fn insert_token(&self, id: Uuid, user: Uuid, token_hash: &[u8], now: Millis) -> Result<()>;
    fn delete_token(&self, user: Uuid, id: Uuid) -> Result<bool>;
    fn user_by_token(&self, token_hash: &[u8]) -> Result<Option<Uuid>>;

    fn insert_team(&self, team: &TeamRecord) -> Result<()>;
    fn team(&self, id: Uuid) -> Result<Option<TeamRecord>>;
    fn teams_of_org(&self, org: Uuid, keyset: &Keyset) -> Result<Vec<TeamRecord>>;
    fn set_team_member(&self, team: Uuid, user: Uuid, member: bool) -> Result<bool>;
    fn team_member_ids(&self, team: Uuid) -> Result<Vec<Uuid>>;
    /// (members, present members) of a team at `now`.
    fn team_presence(&self, team: Uuid, now: Millis) -> Result<(i64, i64)>;
    fn share_team(&self, team: Uuid, org: Uuid) -> Result<()>;
    fn team_shared_with(&self, team: Uuid, org: Uuid) -> Result<bool>;

    fn insert_router(&self, router: &RouterRecord) -> Result<()>;
    fn router(&self, id: Uuid) -> Result<Option<RouterRecord>>;
    fn routers_of_org(&self, org: Uuid) -> Result<Vec<RouterRecord>>;

    fn insert_room(&self, room: &RoomRecord) -> Result<()>;
    fn update_room(&self, room: &RoomRecord) -> Result<()>;
    fn room(&self, id: Uuid) -> Result<Option<RoomRecord>>;
    fn rooms_of_org(&self, org: Uuid, keyset: &Keyset) -> Result<Vec<RoomRecord>>;
    fn set_room_allowed_tags(&self, room: Uuid, names: &[String], now: Millis) -> Result<()>;
    fn add_room_allowed_tag(&self, room: Uuid, name: &str, now: Millis) -> Result<bool>;
    /// (name, created_at) in creation order.
    fn room_allowed_tags(&self, room: Uuid) -> Result<Vec<(String, Millis)>>;
    fn share_room(&self, room: Uuid, org: Uuid) -> Result<()>;
    fn room_shares(&self, room: Uuid) -> Result<Vec<Uuid>>;
    /// Whether the room is routed to the user ([`crate::directory::RoomReach::routes_to`]).
    fn room_routed_to_user(&self, room: Uuid, user: Uuid) -> Result<bool>;
    /// Whether the user may see the room's waiting chats
    /// ([`crate::directory::RoomReach::is_accessible_to`]).
    fn room_accessible_to_user(&self, room: Uuid, user: Uuid) -> Result<bool>;

    fn insert_visitor(&self, visitor: &VisitorRecord, secret_hash: Option<&[u8]>) -> Result<()>;
    fn update_visitor(&self, visitor: &VisitorRecord) -> Result<()>;
    fn visitor(&self, id: Uuid) -> Result<Option<VisitorRecord>>;
    fn visitor_by_secret(&self, org: Uuid, secret_hash: &[u8]) -> Result<Option<VisitorRecord>>;
    fn insert_visitor_token(
        &self,
        token_hash: &[u8],
        visitor: Uuid,
        expires_at: Millis,
    ) -> Result<()>;
    /// The visitor whose unexpired access token this is.
    /// The visitor of an unexpired visitor token, and when the token expires.
    fn visitor_by_token(&self, token_hash: &[u8], now: Millis) -> Result<Option<(Uuid, Millis)>>;
    /// Records that the visitor is in the room; false if it already was.
    fn add_visitor_to_room(&self, visitor: Uuid, room: Uuid, now: Millis) -> Result<bool>;
    fn visitor_in_room(&self, visitor: Uuid, room: Uuid) -> Result<bool>;
    fn set_visitor_variable(
        &self,
        visitor: Uuid,
        room: Uuid,
        key: &str,
        value: &str,
        now: Millis,
    ) -> Result<()>;
    fn visitor_variables(&self, visitor: Uuid, room: Uuid) -> Result<Vec<(String, String)>>;

    /// Creates or renews a presence client and refreshes the holder's `present_until`.
    fn upsert_presence_client(
        &self,
        id: Uuid,
        holder: PresenceHolder,
        expires_at: Millis,
        now: Millis,
    ) -> Result<()>;
    /// The user's presence clients that have not expired at `now`, by `created_at`.
    fn presence_clients_of_user(
        &self,
        user: Uuid,
        now: Millis,
        keyset: &Keyset,
    ) -> Result<Vec<PresenceClientRecord>>;
    /// Returns the holder of a deleted client.
    fn delete_presence_client(&self, id: Uuid, now: Millis) -> Result<Option<PresenceHolder>>;
    fn presence_client_holder(&self, id: Uuid) -> Result<Option<PresenceHolder>>;
    /// A presence client that has not expired at `now`.
    fn presence_client(&self, id: Uuid, now: Millis) -> Result<Option<PresenceClientRecord>>;
    /// The teams a user is a member of.
    fn teams_of_user(&self, user: Uuid) -> Result<Vec<Uuid>>;
    /// Removes every presence client of the holder (an explicit absence).
    fn clear_presence(&self, holder: PresenceHolder, now: Millis) -> Result<()>;
    /// Deletes clients expired at `now`; returns how many.
    fn expire_presence_clients(&self, now: Millis) -> Result<usize>;
}

/// Whose presence a client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceHolder {
    User(Uuid),
    Visitor(Uuid),
}

impl PresenceHolder {
    /// The user's or visitor's id.
    pub fn id(self) -> Uuid {
        match self {
            PresenceHolder::User(id) | PresenceHolder::Visitor(id) => id,
        }
    }
}

pub trait ChatStore {
    /// Inserts a chat; returns its internal key.
    fn insert_chat(&self, chat: &NewChatRecord) -> Result<i64>;
    /// Writes back every mutable column of a chat.
    fn update_chat(&self, chat: &ChatRecord) -> Result<()>;
    fn chat_by_id(&self, id: Uuid, now: Millis) -> Result<Option<ChatRecord>>;
    fn chat_by_pk(&self, pk: i64, now: Millis) -> Result<Option<ChatRecord>>;
    fn select_chats(
        &self,
        sel: &ChatSelection,
        filter: &ChatFilter,
        keyset: &Keyset,
        now: Millis,
    ) -> Result<Vec<ChatRecord>>;
    /// The visitor's newest open chat in the room, if any.
    fn open_visitor_chat(
        &self,
        visitor: Uuid,
        room: Uuid,
        now: Millis,
    ) -> Result<Option<ChatRecord>>;
    /// Open chats whose idle timeout or task ttl has passed at `now`.
    fn chats_due_to_end(&self, now: Millis, limit: usize) -> Result<Vec<i64>>;
}

pub trait MembershipStore {
    fn insert_membership(&self, m: &MembershipRecord) -> Result<()>;
    fn update_membership(&self, m: &MembershipRecord) -> Result<()>;
    /// One more `message_count` for the member (if they are one), with this composing status,
    /// updated at `now`: one statement, no read ([`crate::memberships`]' `count_message` is
    /// the rule). Returns whether it was the member's first message; None when `member` is not
    /// a member.
    fn add_member_message(
        &self,
        chat_pk: i64,
        member: Uuid,
        composing: crate::memberships::Composing,
        now: Millis,
    ) -> Result<Option<bool>>;
    /// Whether `member` has a membership in the chat (without reading it).
    fn is_member(&self, chat_pk: i64, member: Uuid) -> Result<bool>;
    fn membership(
        &self,
        chat_pk: i64,
        member: Uuid,
        now: Millis,
    ) -> Result<Option<MembershipRecord>>;
    /// [`MembershipStore::membership`] with its last published state
    /// ([`SnapshotOf::Membership`]), in one read for the event publisher.
    fn membership_with_event_state(
        &self,
        chat_pk: i64,
        member: Uuid,
    ) -> Result<Option<(MembershipRecord, Option<Vec<u8>>)>>;
    fn select_memberships(
        &self,
        sel: &MembershipSelection,
        keyset: &Keyset,
        now: Millis,
    ) -> Result<Vec<MembershipRecord>>;
    /// Number of present, participating user members of a chat other than `except`.
    fn present_user_members(&self, chat_pk: i64, except: Option<Uuid>, now: Millis) -> Result<i64>;
    /// `typing` statuses not refreshed since `before` become `typed`; returns how many.
    fn settle_typing(&self, before: Millis, now: Millis) -> Result<usize>;
}

pub trait MessageStore {
    fn insert_message(&self, m: &NewMessageRecord) -> Result<()>;
    fn message(&self, chat_pk: i64, id: Uuid) -> Result<Option<MessageRecord>>;
    /// A message this operation inserted (`m`, as inserted, unchanged since), completed as
    /// [`MessageStore::message`] reads it without reading it back; publication presents this
    /// record (see [`changes::Change::MessageAdded`]).
    fn inserted_message(
        &self,
        chat: &crate::chats::ChatRecord,
        m: NewMessageRecord,
    ) -> Result<MessageRecord>;
    /// A page of the chat's messages (the chat as the caller already read it).
    fn select_messages(
        &self,
        chat: &crate::chats::ChatRecord,
        filter: &MessageFilter,
        keyset: &Keyset,
    ) -> Result<Vec<MessageRecord>>;
    /// Replaces a message's stored attachments JSON (action disabled states).
    fn set_message_attachments(
        &self,
        chat_pk: i64,
        seq: i64,
        attachments: &str,
        disables_on_visitor_message: bool,
    ) -> Result<()>;
    /// Messages of a chat that still hold actions disabled by the next visitor message.
    fn messages_disabling_on_visitor_message(&self, chat_pk: i64) -> Result<Vec<MessageRecord>>;
}

pub trait InvitationStore {
    fn insert_invitation(&self, r: &InvitationRecord) -> Result<()>;
    /// Writes back acceptance, expiry and `updated_at`.
    fn update_invitation(&self, r: &InvitationRecord) -> Result<()>;
    fn invitation(&self, id: Uuid) -> Result<Option<InvitationRecord>>;
    /// The party's pending (neither accepted nor expired) invitation to the chat, if any.
    fn pending_invitation(
        &self,
        chat_pk: i64,
        target: InviteTarget,
    ) -> Result<Option<InvitationRecord>>;
    /// Oldest first (by `created_at`, then id), in keyset pages.
    fn select_invitations(
        &self,
        sel: &InvitationSelection,
        filter: &InvitationFilter,
        keyset: &Keyset,
    ) -> Result<Vec<InvitationRecord>>;
    /// Expires every pending invitation of the chat at `now`; returns how many.
    fn expire_pending_invitations(&self, chat_pk: i64, now: Millis) -> Result<usize>;
}

pub trait TagStore {
    fn insert_tag(&self, t: &TagRecord) -> Result<()>;
    /// The chat's tag with exactly this name.
    fn tag(&self, chat_pk: i64, name: &str) -> Result<Option<TagRecord>>;
    fn delete_tag(&self, chat_pk: i64, name: &str) -> Result<bool>;
    /// By `created_at`, then name, in keyset pages.
    fn select_tags(&self, chat_pk: i64, keyset: &Keyset) -> Result<Vec<TagRecord>>;
}

pub trait StarterStore {
    fn insert_starter(&self, r: &StarterRecord) -> Result<()>;
    fn starter(&self, user: Uuid, language_code: &str) -> Result<Option<StarterRecord>>;
    /// Writes back the starter stored under `old_language_code` (the code may change).
    fn update_starter(&self, old_language_code: &str, r: &StarterRecord) -> Result<()>;
    fn delete_starter(&self, user: Uuid, language_code: &str) -> Result<bool>;
    /// By `created_at`, then language code, in keyset pages.
    fn select_starters(&self, user: Uuid, keyset: &Keyset) -> Result<Vec<StarterRecord>>;
}

pub trait SuggestionStore {
    fn insert_suggestion(&self, r: &SuggestionRecord) -> Result<()>;
    /// Writes back the text, score and the update stamp.
    fn update_suggestion(&self, r: &SuggestionRecord) -> Result<()>;
    fn suggestion(&self, id: Uuid) -> Result<Option<SuggestionRecord>>;
    /// By `created_at`, then id, in keyset pages.
    fn select_suggestions(
        &self,
        sel: &SuggestionSelection,
        keyset: &Keyset,
    ) -> Result<Vec<SuggestionRecord>>;
}

// ---- encryption and purge (docs/ENCRYPTION.md) ----------------------------------------------

/// Organization key checks, rewrapping of chat keys, and the purge of sensitive data.
pub trait EncryptionStore {
    fn org_key_check(&self, org: Uuid) -> Result<Option<OrgKeyCheck>>;
    /// Records (or replaces) the key check of the organization's key; clears `purged_at`.
    fn put_org_key_check(&self, org: Uuid, check: &str, now: Millis) -> Result<()>;
    /// Marks the organization's key purged; false if it never had one.
    fn mark_org_key_purged(&self, org: Uuid, now: Millis) -> Result<bool>;
    fn encrypted_chats_of_org(&self, org: Uuid) -> Result<Vec<WrappedChatKey>>;
    fn set_chat_wrapped_key(&self, chat_pk: i64, wrapped: &str) -> Result<()>;
    /// Nulls the texts (message, response text and value) of every message of the chat and
    /// sets `sensitive_data_purged_at` where it is not set; returns how many messages.
    fn purge_message_texts(&self, chat_pk: i64, now: Millis) -> Result<usize>;
    /// (seq, attachments JSON, disables_on_visitor_message) of the chat's messages with
    /// attachments.
    fn message_attachments_of_chat(&self, chat_pk: i64) -> Result<Vec<(i64, String, bool)>>;
    /// Chats the visitor is a member of (or that were started for them).
    fn chats_of_visitor(&self, visitor: Uuid) -> Result<Vec<i64>>;
    fn delete_visitor_variables(&self, visitor: Uuid) -> Result<usize>;
    /// The organization key the engine holds itself (sealed under its master key), if any.
    fn held_org_key(&self, org: Uuid) -> Result<Option<HeldOrgKey>>;
    /// Every organization key the engine holds itself.
    fn held_org_keys(&self) -> Result<Vec<HeldOrgKey>>;
    /// Records (or replaces) the organization's held key.
    fn put_held_org_key(&self, key: &HeldOrgKey) -> Result<()>;
    /// Deletes the organization's held key; false if there was none.
    fn delete_held_org_key(&self, org: Uuid) -> Result<bool>;
    /// Organizations with `encrypt_chats` that never had a key (no key check, purged or not).
    fn encrypting_orgs_without_key(&self) -> Result<Vec<Uuid>>;
}

// ---- events, webhooks, idempotency (docs/DECISIONS.md) ---------------------------------------

/// Whose last published state a snapshot is (see `events::publish`; a chat's is kept with the
/// chat, [`EventStore::chat_event_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOf<'a> {
    /// A membership (chat, member): kept with the membership.
    Membership(i64, Uuid),
    /// Invitations and reply suggestions, by the chat they belong to, `kind` and `key`.
    Other {
        chat_pk: i64,
        kind: &'a str,
        key: &'a str,
    },
}

/// What a chat's row keeps for its events (see [`EventStore::chat_event_state`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatEventState {
    pub snapshot: Option<Vec<u8>>,
    pub head: Option<i64>,
}

/// The event log, its change tracking, webhooks with their outbox, and idempotency keys.
pub trait EventStore {
    /// What this operation changed so far (in write order, see [`changes`]), for
    /// publication; the log is empty afterwards.
    fn take_changes(&self) -> Vec<changes::Change>;
    /// The last published state of a resource (None: never published).
    fn snapshot(&self, of: SnapshotOf<'_>) -> Result<Option<Vec<u8>>>;
    fn put_snapshot(&self, of: SnapshotOf<'_>, state: &[u8]) -> Result<()>;
    /// Forgets the last published state of a resource that is gone.
    fn delete_snapshot(&self, of: SnapshotOf<'_>) -> Result<()>;
    /// A chat's last published state (kept in its row) and its newest change row (the
    /// head of its chain, see `NewEvent::prev_seq`), in one read; None: no such chat.
    fn chat_event_state(&self, chat_pk: i64) -> Result<Option<ChatEventState>>;
    /// A chat ([`ChatStore::chat_by_pk`]) with its event state ([`Self::chat_event_state`]),
    /// in one read: publication needs both of every chat it looks at.
    fn chat_with_event_state(
        &self,
        chat_pk: i64,
        now: Millis,
    ) -> Result<Option<(ChatRecord, ChatEventState)>>;
    /// Writes what a transaction's publication changed of a chat's event state in one
    /// statement (None: unchanged).
    fn set_chat_event_state(
        &self,
        chat_pk: i64,
        snapshot: Option<&[u8]>,
        head: Option<i64>,
    ) -> Result<()>;
    /// Appends a change taking the numbers `seq ..= seq + width - 1` (after
    /// [`EventStore::last_event_seq`]; `width` is [`crate::events::NewEvent::width`]).
    fn insert_change(
        &self,
        e: &crate::events::records::NewEvent,
        seq: i64,
        width: i64,
    ) -> Result<()>;
    /// Changes of the organization holding a number after `after`, oldest first, at most
    /// `limit`: those with a named channel matching one of the GLOB patterns, and those with
    /// an audience in one of `rooms` (which of its collections a reader reads is decided by
    /// the caller).
    fn select_changes(
        &self,
        org: Uuid,
        after: i64,
        patterns: &[String],
        rooms: &[Uuid],
        limit: usize,
    ) -> Result<Vec<crate::events::records::StoredChange>>;
    /// What decides the audience of the changes after `after`, oldest first, at most `limit`,
    /// of every organization (no resource): one read shared by every subscriber
    /// ([`crate::events::change_heads_after`]).
    fn select_change_heads(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::events::records::ChangeHead>>;
    /// The newest `seq` ever given (0 when none).
    fn last_event_seq(&self) -> Result<i64>;
    /// The newest `seq` retention has deleted (0 when none).
    fn event_floor(&self) -> Result<i64>;
    /// Deletes the changes created before `before` (raising the floor); returns how many.
    fn delete_events_before(&self, before: Millis) -> Result<usize>;
    /// Deletes the oldest changes while the log is estimated to hold more than `max_bytes`
    /// (raising the floor); returns how many.
    fn delete_events_over_bytes(&self, max_bytes: i64) -> Result<usize>;
    /// Removes the resources of a chat's events and their queued deliveries (a purge), and
    /// marks the chat and its memberships for republishing.
    fn scrub_chat_events(&self, chat_pk: i64) -> Result<()>;
    /// The users (not deleted) that read the room collection `channel` of a room's chats, in
    /// the relation that collection is defined by ([`RoomChannel`]), with their organizations.
    fn room_audience(&self, room: Uuid, channel: RoomChannel) -> Result<Vec<(Uuid, Uuid)>>;
    /// The rooms whose chats the user reads on the room collection `channel`, in id order.
    fn rooms_reaching(&self, user: Uuid, channel: RoomChannel) -> Result<Vec<Uuid>>;
    /// (member id, is a user, the user's organization) of every member of a chat.
    fn chat_members(&self, chat_pk: i64) -> Result<Vec<(Uuid, bool, Option<Uuid>)>>;
    /// Open chats the user or visitor is a member of.
    fn open_chats_of_member(&self, member: Uuid) -> Result<Vec<i64>>;
    /// The chats of a room that have not ended.
    fn open_chats_in_room(&self, room: Uuid) -> Result<Vec<i64>>;

    fn insert_webhook(&self, w: &WebhookRecord) -> Result<()>;
    fn update_webhook(&self, w: &WebhookRecord) -> Result<()>;
    /// Deletes a webhook with its deliveries and the app tokens minted for them.
    fn delete_webhook(&self, id: Uuid) -> Result<()>;
    /// Keeps the hash of an app token minted for a delivery of `webhook`: it acts as `user`
    /// until `expires_at`.
    fn insert_webhook_token(
        &self,
        token_hash: &[u8],
        webhook: Uuid,
        user: Uuid,
        expires_at: Millis,
    ) -> Result<()>;
    /// The user of an app token still valid at `now`, and when it expires.
    fn user_by_webhook_token(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> Result<Option<(Uuid, Millis)>>;
    /// Forgets app tokens that expired before `now`.
    fn delete_expired_webhook_tokens(&self, now: Millis) -> Result<usize>;
    fn webhook(&self, id: Uuid) -> Result<Option<WebhookRecord>>;
    fn webhooks_of_org(&self, org: Uuid) -> Result<Vec<WebhookRecord>>;
    fn insert_delivery(&self, webhook: Uuid, seq: i64, body: &str, now: Millis) -> Result<()>;
    /// The oldest delivery of each webhook still being retried (neither delivered nor
    /// failed), when its next attempt is due.
    fn deliveries_due(&self, now: Millis, limit: usize) -> Result<Vec<DeliveryRecord>>;
    /// When the earliest next attempt is due (None: nothing to deliver).
    fn next_delivery_due_at(&self) -> Result<Option<Millis>>;
    fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>>;
    fn update_delivery(&self, d: &DeliveryRecord) -> Result<()>;
    /// A webhook's deliveries by id, in keyset pages.
    fn deliveries_of_webhook(&self, webhook: Uuid, keyset: &Keyset) -> Result<Vec<DeliveryRecord>>;
    /// Deletes deliveries delivered or failed before `before`.
    fn delete_finished_deliveries_before(&self, before: Millis) -> Result<usize>;

    fn idempotency(&self, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>>;
    /// Records the key with the call's reply (status, body), dropping one older than
    /// `stale_before`; false if it is taken.
    fn claim_idempotency(
        &self,
        actor: &str,
        key: &str,
        hash: &[u8],
        now: Millis,
        stale_before: Millis,
        reply: (u16, &str),
    ) -> Result<bool>;
    fn delete_idempotency_before(&self, before: Millis) -> Result<usize>;
}

/// The whole interface a transaction offers the rules.
pub trait Store:
    DirectoryStore
    + ChatStore
    + MembershipStore
    + MessageStore
    + InvitationStore
    + TagStore
    + StarterStore
    + SuggestionStore
    + EncryptionStore
    + EventStore
{
}
impl<
    T: DirectoryStore
        + ChatStore
        + MembershipStore
        + MessageStore
        + InvitationStore
        + TagStore
        + StarterStore
        + SuggestionStore
        + EncryptionStore
        + EventStore,
> Store for T
{
}
