//! The records of the event log, as the store keeps and returns them.

use crate::clock::Millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The path prefix of every channel.
pub const PREFIX: &str = "/api/v5/";

/// Every channel a change is published on, as paths below [`PREFIX`] with `<...>` standing
/// for one path segment (an id). Each is a REST collection the same reader lists with `GET`
/// (the registry's route of that path); a channel pattern that matches none of them is
/// refused ([`super::matches_some_channel`]).
pub const CHANNELS: &[&str] = &[
    "users/<user_id>/chats",
    "users/<user_id>/pending_chats",
    "users/<user_id>/routed_chats",
    "users/<user_id>/incoming_chat_invitations",
    "users/<user_id>/chats/<chat_id>/messages",
    "users/<user_id>/chats/<chat_id>/memberships",
    "users/<user_id>/chats/<chat_id>/tags",
    "users/<user_id>/chats/<chat_id>/outgoing_chat_invitations",
    "users/<user_id>/chats/<chat_id>/reply_suggestions",
    "orgs/<organization_id>/owned_chats",
    "orgs/<organization_id>/owned_chats/<chat_id>/messages",
    "orgs/<organization_id>/owned_chats/<chat_id>/memberships",
    "orgs/<organization_id>/owned_chats/<chat_id>/tags",
    "public/visitors/<visitor_id>/chats",
    "public/visitors/<visitor_id>/chats/<chat_id>/messages",
    "public/visitors/<visitor_id>/chats/<chat_id>/memberships",
];

/// One event as every surface shows it. `resource` is absent for `removed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub channel: String,
    pub action: String,
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    pub seq: i64,
}

/// The collections a change reaches through a room: the change is on
/// `/users/<u>/<channel>` of every user the room reaches in the relation the collection is
/// defined by. Resolved when events are read or queued for a webhook, never stored per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomChannel {
    /// `pending_chats`: the users the room is accessible to
    /// ([`crate::directory::RoomReach::is_accessible_to`]).
    PendingChats,
    /// `routed_chats`: the users the room is routed to
    /// ([`crate::directory::RoomReach::routes_to`]).
    RoutedChats,
}

impl RoomChannel {
    pub const ALL: [RoomChannel; 2] = [RoomChannel::PendingChats, RoomChannel::RoutedChats];

    /// The collection's path below `/users/<u>/`, as stored.
    pub fn path(self) -> &'static str {
        match self {
            RoomChannel::PendingChats => "pending_chats",
            RoomChannel::RoutedChats => "routed_chats",
        }
    }

    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.path() == path)
    }
}

/// A change to append: one row, one number, whatever its audience.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub organization_id: Uuid,
    pub chat_pk: Option<i64>,
    /// Channels of the readers the change names (full paths), no reader twice.
    pub channels: Vec<String>,
    /// The room whose users also read the change, and on which of their collections.
    pub room: Option<(Uuid, RoomChannel)>,
    pub action: &'static str,
    pub resource_id: String,
    pub resource: Option<String>,
    pub created_at: Millis,
    /// The chat's previous change row (its chain, which a purge walks; see 0006).
    pub prev_seq: Option<i64>,
}

/// A stored change as a read finds it; `events::events_since` turns it into the events of
/// the channels read.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    pub seq: i64,
    /// Full channel paths.
    pub channels: Vec<String>,
    pub room: Option<(Uuid, RoomChannel)>,
    pub action: String,
    pub resource_id: String,
    pub resource: Option<Value>,
}

/// What decides who a stored change concerns, without its resource: read once per commit
/// for every subscriber ([`super::Interest::may_concern`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeHead {
    pub seq: i64,
    pub organization_id: Uuid,
    /// Full channel paths.
    pub channels: Vec<String>,
    pub room: Option<(Uuid, RoomChannel)>,
}

/// A reader of a room collection: `user` reads `/users/<user>/<channel>` and the room reaches
/// them. A read asks the store for the changes of these rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomReader {
    pub room: Uuid,
    pub channel: RoomChannel,
    pub user: Uuid,
}
