//! Chat memberships: who attends a chat, whether they participate, and their composing state.

pub(crate) mod operations;
mod rules;

pub use rules::*;

use crate::clock::Millis;
use crate::directory::Avatar;
use crate::ids::visitor_id_str;
use crate::time::{format_ms, format_opt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A `typing` status not refreshed for this long reads as `typed`.
pub const TYPING_TIMEOUT_MS: i64 = 15_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Composing {
    Idle,
    Typing,
    Typed,
}

impl Composing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Typing => "typing",
            Self::Typed => "typed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "idle" => Some(Self::Idle),
            "typing" => Some(Self::Typing),
            "typed" => Some(Self::Typed),
            _ => None,
        }
    }
}

/// A member of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRef {
    User(Uuid),
    Visitor(Uuid),
}

impl MemberRef {
    pub fn id(self) -> Uuid {
        match self {
            Self::User(u) | Self::Visitor(u) => u,
        }
    }
    pub fn kind(self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Visitor(_) => "visitor",
        }
    }
}

/// Who the member is, as a store reads it alongside the membership.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberInfo {
    pub name: Option<String>,
    pub public_name: Option<String>,
    pub avatar: Option<Avatar>,
    pub organization_id: Option<Uuid>,
    pub is_bot: bool,
    pub is_deleted: bool,
    pub present_until: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MembershipRecord {
    pub chat_pk: i64,
    pub member: MemberRef,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_seen_at: Option<Millis>,
    pub is_participating: bool,
    pub composing_status: Composing,
    pub composing_updated_at: Millis,
    pub message_count: i64,
    // Read alongside (not written back):
    pub chat_id: Uuid,
    pub room_id: Option<Uuid>,
    pub room_organization_id: Uuid,
    pub chat_created_at: Millis,
    pub info: MemberInfo,
}

impl MembershipRecord {
    pub fn composing_at(&self, now: Millis) -> Composing {
        if self.composing_status == Composing::Typing
            && self.composing_updated_at + TYPING_TIMEOUT_MS <= now
        {
            Composing::Typed
        } else {
            self.composing_status
        }
    }
    /// Present: the member participates in the chat and their presence (a user's or a
    /// visitor's, `present_until`) has not expired at `now`. SQL: `present_member_sql`.
    pub fn is_present(&self, now: Millis) -> bool {
        self.is_participating && self.info.present_until > now
    }
}

/// [`MembershipRecord::is_present`] in SQL, for a membership `m` whose member's row (in `users`
/// or `visitors`) is `holder`; `?1` is now.
pub(crate) fn present_member_sql(holder: &str) -> String {
    format!("m.is_participating = 1 AND {holder}.present_until > ?1")
}

/// Which memberships a listing holds.
#[derive(Debug, Clone, PartialEq)]
pub enum MembershipSelection {
    /// Every membership of a chat, oldest first.
    Chat(i64),
    /// One member's memberships, newest first, optionally by participation.
    Member {
        member: Uuid,
        participating: Option<bool>,
    },
    /// One member's membership in one chat.
    ChatMember { chat_pk: i64, member: Uuid },
}

/// The membership resource exactly as the reference shows it. Visitors reading a chat's
/// memberships get the visitor view ([`Membership::visitor_view`]): no `member_name`, the
/// private (full) name, as messages show them `sender_public_name` and never `sender_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub member_id: String,
    pub member_type: String,
    /// `None` in the visitor view (the attribute is left out); `Some(None)` for a member
    /// without a name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::input::explicit_null"
    )]
    pub member_name: Option<Option<String>>,
    pub member_public_name: Option<String>,
    pub member_avatar: Option<Avatar>,
    pub member_organization_id: Option<String>,
    pub chat_id: String,
    pub room_id: Option<String>,
    pub room_organization_id: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub updated_at: String,
    pub chat_created_at: String,
    pub is_bot: bool,
    pub is_user_deleted: bool,
    pub is_participating: bool,
    pub is_present: bool,
    pub composing_status: Composing,
    pub message_count: i64,
    pub legacy_member_id: String,
}

impl Membership {
    pub fn from_record(m: &MembershipRecord, now: Millis) -> Self {
        let member_id = match m.member {
            MemberRef::User(u) => u.to_string(),
            MemberRef::Visitor(v) => visitor_id_str(&v),
        };
        Self {
            legacy_member_id: m.member.id().simple().to_string(),
            member_id,
            member_type: m.member.kind().to_string(),
            member_name: Some(m.info.name.clone()),
            member_public_name: m.info.public_name.clone(),
            member_avatar: m.info.avatar.clone(),
            member_organization_id: m.info.organization_id.map(|o| o.to_string()),
            chat_id: m.chat_id.to_string(),
            room_id: m.room_id.map(|r| r.to_string()),
            room_organization_id: m.room_organization_id.to_string(),
            created_at: format_ms(m.created_at),
            last_seen_at: format_opt(m.last_seen_at),
            updated_at: format_ms(m.updated_at),
            chat_created_at: format_ms(m.chat_created_at),
            is_bot: m.info.is_bot,
            is_user_deleted: m.info.is_deleted,
            is_participating: m.is_participating,
            is_present: m.is_present(now),
            composing_status: m.composing_at(now),
            message_count: m.message_count,
        }
    }

    /// The membership as visitors see it: without `member_name` (the same attributes in
    /// the same order otherwise; [`make_visitor_view`] derives it from the JSON).
    pub fn visitor_view(mut self) -> Self {
        self.member_name = None;
        self
    }
}

/// The visitor view of a membership (or of a change to one) from its JSON in place: the
/// attribute [`Membership::visitor_view`] leaves out is removed.
pub fn make_visitor_view(operator: &mut serde_json::Value) {
    if let Some(o) = operator.as_object_mut() {
        o.shift_remove("member_name");
    }
}
