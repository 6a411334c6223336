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
    "users/<user_id>/chats/<chat_id>/allowed_tags",
    "users/<user_id>/chat_conversation_starters",
    "users/<user_id>/clients",
    "users/<user_id>/chats/<chat_id>/outgoing_chat_invitations",
    "users/<user_id>/chats/<chat_id>/reply_suggestions",
    "users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions",
    "users/<user_id>/routed_chats/<chat_id>/messages",
    "users/<user_id>/routed_chats/<chat_id>/memberships",
    "users/<user_id>/routed_chats/<chat_id>/reply_suggestions",
    "users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions",
    "users/<user_id>/pending_chats/<chat_id>/memberships",
    "users/<user_id>/rooms/<room_id>/visitors/<visitor_id>/chats",
    "users/<user_id>/chat_memberships",
    "users/<user_id>/chats/<chat_id>/visitors/<visitor_id>/chat_memberships",
    "orgs/<organization_id>/users",
    "orgs/<organization_id>/teams",
    "orgs/<organization_id>/rooms",
    "orgs/<organization_id>/routers",
    "orgs/<organization_id>/owned_chats",
    "orgs/<organization_id>/owned_chats/<chat_id>/messages",
    "orgs/<organization_id>/owned_chats/<chat_id>/memberships",
    "orgs/<organization_id>/owned_chats/<chat_id>/tags",
    "orgs/<organization_id>/owned_chats/<chat_id>/allowed_tags",
    "orgs/<organization_id>/routed_chats",
    "orgs/<organization_id>/routed_chats/<chat_id>/messages",
    "orgs/<organization_id>/routed_chats/<chat_id>/memberships",
    "orgs/<organization_id>/routed_chats/<chat_id>/tags",
    "orgs/<organization_id>/routed_chats/<chat_id>/allowed_tags",
    "orgs/<organization_id>/involved_chats",
    "orgs/<organization_id>/involved_chats/<chat_id>/messages",
    "orgs/<organization_id>/involved_chats/<chat_id>/memberships",
    "orgs/<organization_id>/involved_chats/<chat_id>/tags",
    "orgs/<organization_id>/involved_chats/<chat_id>/allowed_tags",
    "orgs/<organization_id>/rooms/<room_id>/chats",
    "orgs/<organization_id>/rooms/<room_id>/tags",
    "orgs/<organization_id>/rooms/<room_id>/chats/<chat_id>/memberships",
    "orgs/<organization_id>/rooms/<room_id>/pending_chats",
    "orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/chats",
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

/// The relation a room collection is defined by, named by the collection's first segment
/// below `/users/<u>/`: a change on it is on that collection of every user the room reaches in
/// the relation. Resolved when events are read or queued for a webhook, never stored per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomChannel {
    /// `pending_chats` (and its chats' memberships): the users the room is accessible to
    /// ([`crate::directory::RoomReach::is_accessible_to`]).
    PendingChats,
    /// `routed_chats` (and its chats' messages, memberships and reply suggestions): the users
    /// the room is routed to ([`crate::directory::RoomReach::routes_to`]).
    RoutedChats,
    /// `rooms` (`rooms/<r>/visitors/<v>/chats`): the users the room is visible to
    /// ([`crate::directory::RoomReach::is_visible_to`]).
    Rooms,
}

impl RoomChannel {
    pub const ALL: [RoomChannel; 3] = [
        RoomChannel::PendingChats,
        RoomChannel::RoutedChats,
        RoomChannel::Rooms,
    ];

    /// The collection's first segment below `/users/<u>/`.
    pub fn path(self) -> &'static str {
        match self {
            RoomChannel::PendingChats => "pending_chats",
            RoomChannel::RoutedChats => "routed_chats",
            RoomChannel::Rooms => "rooms",
        }
    }

    /// The relation of a room collection's path below `/users/<u>/` (its first segment).
    pub fn of_path(path: &str) -> Option<Self> {
        let first = path.split('/').next()?;
        Self::ALL.into_iter().find(|c| c.path() == first)
    }
}

/// A change's room audience: the room, and the collections below `/users/<u>/` (concrete
/// paths: `pending_chats`, `routed_chats/<c>/messages`, ...) the change is on for each user
/// the room reaches in each path's relation ([`RoomChannel::of_path`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAudience {
    pub room: Uuid,
    pub paths: Vec<String>,
}

impl RoomAudience {
    pub fn new(room: Uuid, paths: Vec<String>) -> Self {
        RoomAudience { room, paths }
    }

    /// The relations its paths are defined by.
    pub fn relations(&self) -> impl Iterator<Item = RoomChannel> + '_ {
        self.paths.iter().filter_map(|p| RoomChannel::of_path(p))
    }
}

/// At most this many named collections of one reader in one change row.
pub const MAX_NUMBERS_PER_CHANGE: i64 = 16;
/// At most this many numbers in one change row: its named collections of one reader and its
/// room collections (migration 0013 checks it).
pub const MAX_ROW_WIDTH: i64 = 32;

/// The reader a channel path belongs to: its owner segment (`.../users/<id>`,
/// `.../orgs/<id>`, `.../public/visitors/<id>`).
pub fn reader_of(channel: &str) -> &str {
    let rest = channel.strip_prefix(PREFIX).unwrap_or(channel);
    let start = channel.len() - rest.len();
    // The published forms, by their fixed lengths (a hyphenated id is 36 characters, a
    // visitor's 32): no scan of the path.
    for (owner, id_len) in [("users/", 36), ("orgs/", 36), ("public/visitors/", 32)] {
        let end = owner.len() + id_len;
        if rest.starts_with(owner)
            && rest.len() >= end
            && rest.as_bytes().get(end).is_none_or(|b| *b == b'/')
            && !rest[owner.len()..end].contains('/')
        {
            return &channel[..start + end];
        }
    }
    let segments = if rest.starts_with("public/") { 3 } else { 2 };
    let end = rest
        .match_indices('/')
        .nth(segments - 1)
        .map_or(rest.len(), |(i, _)| i);
    &channel[..start + end]
}

/// The numbers of a change row's events. A row names a reader once per collection of theirs
/// it is on (a chat on an organization's `owned_chats` and `rooms/<r>/chats`), and each such
/// event has its own number: the row's `seq` plus the count of that reader's channels before
/// it in the row; a room collection's reader comes after their named channels, in the order
/// of the room paths. A row takes the numbers `seq ..= seq + width - 1`, `width` being the
/// most any one reader can have, so one reader's events never share a number and resuming
/// from any number is exact.
pub struct Numbering<'a> {
    channels: &'a [String],
    /// Per named channel: its offset from the row's `seq`.
    offsets: Vec<i64>,
}

impl<'a> Numbering<'a> {
    pub fn of(channels: &'a [String]) -> Self {
        let readers: Vec<&str> = channels.iter().map(|c| reader_of(c)).collect();
        let offsets = (0..readers.len())
            .map(|i| readers[..i].iter().filter(|r| **r == readers[i]).count() as i64)
            .collect();
        Numbering { channels, offsets }
    }

    /// The offset of the `i`th named channel from the row's `seq`.
    pub fn offset(&self, i: usize) -> i64 {
        self.offsets[i]
    }

    /// The offset of the event on the `i`th room path for the reader whose owner path is
    /// `reader`.
    pub fn room_offset(&self, reader: &str, i: usize) -> i64 {
        self.channels
            .iter()
            .filter(|c| reader_of(c) == reader)
            .count() as i64
            + i as i64
    }

    /// How many numbers the row takes (at least one), with `room_paths` room collections.
    pub fn width(&self, room_paths: usize) -> i64 {
        let most = self.offsets.iter().map(|o| o + 1).max().unwrap_or(0);
        (most + room_paths as i64).max(1)
    }
}

/// A change to append: one row, one number per collection of one reader, whatever its
/// audience ([`Numbering`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub organization_id: Uuid,
    pub chat_pk: Option<i64>,
    /// Channels of the readers the change names (full paths), in the order of their numbers.
    pub channels: Vec<String>,
    /// The room whose users also read the change, and on which of their collections.
    pub room: Option<RoomAudience>,
    pub action: &'static str,
    pub resource_id: String,
    pub resource: Option<String>,
    pub created_at: Millis,
    /// The chat's previous change row (its chain, which a purge walks; see 0006).
    pub prev_seq: Option<i64>,
}

impl NewEvent {
    /// How many numbers the row takes ([`Numbering::width`]).
    pub fn width(&self) -> i64 {
        self.numbering()
            .width(self.room.as_ref().map_or(0, |r| r.paths.len()))
    }

    pub fn numbering(&self) -> Numbering<'_> {
        Numbering::of(&self.channels)
    }
}

/// A stored change as a read finds it; `events::events_since` turns it into the events of
/// the channels read.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    pub seq: i64,
    /// How many numbers the row takes, from `seq` ([`Numbering`]).
    pub width: i64,
    /// The id of the chat the resource belongs to.
    pub chat_id: Option<Uuid>,
    /// Full channel paths.
    pub channels: Vec<String>,
    pub room: Option<RoomAudience>,
    pub action: String,
    pub resource_id: String,
    pub resource: Option<Value>,
}

/// What decides who a stored change concerns, without its resource: read once per commit
/// for every subscriber ([`super::Interest::may_concern`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeHead {
    pub seq: i64,
    /// How many numbers the row takes, from `seq` ([`Numbering`]).
    pub width: i64,
    pub organization_id: Uuid,
    /// Full channel paths.
    pub channels: Vec<String>,
    pub room: Option<RoomAudience>,
}

/// A reader of room collections: `user` reads collections of `channel`'s relation and the
/// room reaches them in it. A read asks the store for the changes of these rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomReader {
    pub room: Uuid,
    pub channel: RoomChannel,
    pub user: Uuid,
}
