//! Chats: the conversation resource, its derived attributes and its listings.

pub(crate) mod operations;
mod rules;

pub use rules::*;

use crate::clock::Millis;
use crate::directory::{OrgRecord, RoomRecord};
use crate::error::{ChatError, Result};
use crate::memberships::{MemberRef, MembershipRecord, present_member_sql};
use crate::time::{format_ms, format_opt, parse_iso, secs};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The stored state of a chat plus the counts a store derives at read time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRecord {
    pub pk: i64,
    pub id: Uuid,
    pub room_id: Option<Uuid>,
    pub room_organization_id: Uuid,
    pub chat_type: String,
    pub visitor_id: Option<Uuid>,
    pub is_private: bool,
    pub is_encrypted: bool,
    pub encrypted_symmetric_key: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub is_ended: bool,
    pub ended_at: Option<Millis>,
    pub is_waiting: bool,
    pub waiting_started_at: Option<Millis>,
    pub message_count: i64,
    pub user_message_count: i64,
    pub visitor_message_count: i64,
    pub tag_count: i64,
    pub is_autosuggested: bool,
    pub first_visitor_message_url: Option<String>,
    pub first_visitor_message_url_title: Option<String>,
    pub autosuggest_url: Option<String>,
    pub autosuggest_url_title: Option<String>,
    pub first_visitor_msg_at: Option<Millis>,
    pub first_reply_at: Option<Millis>,
    pub first_msg_at: Option<Millis>,
    pub last_msg_at: Option<Millis>,
    pub active_ms: i64,
    pub last_activity_at: Millis,
    pub next_message_seq: i64,
    pub token: String,
    // Derived by the store at read time (not written back):
    pub room_name: Option<String>,
    pub present_users: i64,
    pub present_visitors: i64,
    pub user_members: i64,
    pub visitor_members: i64,
}

pub type NewChatRecord = ChatRecord;

impl ChatRecord {
    /// Pending (waiting for an operator to take it): the chat is waiting, not ended, and none of
    /// its user members is present ([`DerivedCounts::present_users`] is 0). SQL:
    /// `pending_sql`.
    pub fn is_pending(&self) -> bool {
        self.is_waiting && !self.is_ended && self.present_users == 0
    }

    /// Keeps the record's counts what [`DerivedCounts::of`] gives after a member's message was
    /// counted (`first`: their membership's `message_count` went from 0 to 1): a user member's
    /// first message makes them one of the `user_members`.
    pub fn member_message_counted(&mut self, is_user: bool, first: bool) {
        if is_user && first {
            self.user_members += 1;
        }
    }

    /// The counts derived from the chat's memberships, as the record holds them.
    pub fn derived_counts(&self) -> DerivedCounts {
        DerivedCounts {
            present_users: self.present_users,
            present_visitors: self.present_visitors,
            user_members: self.user_members,
            visitor_members: self.visitor_members,
        }
    }
}

/// [`ChatRecord::is_pending`] in SQL, for a chat `c`; `?1` is now. "No user member present" as
/// a `NOT EXISTS` over the chat's memberships: the same memberships
/// [`DerivedCounts::present_users`] counts ([`present_user_sql`]).
pub(crate) fn pending_sql() -> String {
    format!(
        "c.is_waiting = 1 AND c.is_ended = 0 AND NOT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.member_id \
         WHERE m.chat_pk = c.pk AND {})",
        present_user_sql()
    )
}

impl ChatRecord {
    /// Due to end at `now` (maintenance ends it): an open chat that is idle — not an `external`
    /// chat, and without activity (`last_activity_at`) for its organization's idle timeout
    /// (`chat_idle_timeout_s`) — or a `task` chat whose room has a ttl (`ttl_s`) that has
    /// passed since the chat was created. `org` is the chat's room organization
    /// (`room_organization_id`) and `room` its room, if it has one. SQL: `IDLE_SQL` and
    /// `TTL_PASSED_SQL`, one branch each.
    pub fn is_due_to_end(&self, org: &OrgRecord, room: Option<&RoomRecord>, now: Millis) -> bool {
        // In i128 the sums cannot overflow (in SQLite they would turn to floating point).
        let at = |t: Millis, secs: i64| i128::from(t) + i128::from(secs) * 1000 <= i128::from(now);
        let idle =
            self.chat_type != "external" && at(self.last_activity_at, org.chat_idle_timeout_s);
        let ttl_passed = self.chat_type == "task"
            && room
                .and_then(|r| r.ttl_s)
                .is_some_and(|ttl| at(self.created_at, ttl));
        !self.is_ended && (idle || ttl_passed)
    }
}

/// The idle branch of [`ChatRecord::is_due_to_end`] in SQL, for a chat `c` whose room
/// organization is `o`; `?1` is now. `t + s * 1000 <= now` is written `t <= now AND s <=
/// (now - t) / 1000` (equal for whole seconds once `now - t` is not negative), which cannot
/// overflow: PostgreSQL refuses an overflowing sum and SQLite turns it into floating point.
pub(crate) const IDLE_SQL: &str = "c.is_ended = 0 AND c.chat_type <> 'external' \
     AND c.last_activity_at <= ?1 AND o.chat_idle_timeout_s <= (?1 - c.last_activity_at) / 1000";

/// The ttl branch of [`ChatRecord::is_due_to_end`] in SQL, for a chat `c` whose room is `r`;
/// `?1` is now (without overflow, as [`IDLE_SQL`]).
pub(crate) const TTL_PASSED_SQL: &str = "r.ttl_s IS NOT NULL AND c.chat_type = 'task' AND c.is_ended = 0 \
     AND c.created_at <= ?1 AND r.ttl_s <= (?1 - c.created_at) / 1000";

/// The counts a chat derives from its memberships each time it is read (they depend on
/// presence, which expires with time, so they are never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DerivedCounts {
    /// User members who are present ([`MembershipRecord::is_present`]: participating, with
    /// unexpired presence): `present_user_participant_count`.
    pub present_users: i64,
    /// Visitor members who are present: `present_visitor_participant_count`.
    pub present_visitors: i64,
    /// User members who have sent a message: `user_member_count`.
    pub user_members: i64,
    /// Visitor members, whether or not they sent anything: `visitor_member_count`.
    pub visitor_members: i64,
}

impl DerivedCounts {
    /// The counts over a chat's memberships at `now`. SQL: `derived_counts_sql`.
    pub fn of<'a>(members: impl IntoIterator<Item = &'a MembershipRecord>, now: Millis) -> Self {
        let mut counts = Self::default();
        for m in members {
            match m.member {
                MemberRef::User(_) => {
                    counts.present_users += i64::from(m.is_present(now));
                    counts.user_members += i64::from(m.message_count > 0);
                }
                MemberRef::Visitor(_) => {
                    counts.present_visitors += i64::from(m.is_present(now));
                    counts.visitor_members += 1;
                }
            }
        }
        counts
    }
}

/// One of the [`DerivedCounts`] in SQL: which memberships of a chat it counts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CountSql {
    /// The count's name (its [`DerivedCounts`] field).
    pub name: &'static str,
    /// The member's row the condition reads, if any (else the membership alone).
    pub reads: Option<MemberRows>,
    /// The condition on a membership `m` of the chat; `?1` is now.
    pub condition: String,
}

/// [`DerivedCounts::of`] in SQL, in the order of the fields.
pub(crate) fn derived_counts_sql() -> [CountSql; 4] {
    [
        CountSql {
            name: "present_users",
            reads: Some(USER_ROWS),
            condition: present_user_sql(),
        },
        CountSql {
            name: "present_visitors",
            reads: Some(VISITOR_ROWS),
            condition: format!("m.member_type = 'visitor' AND {}", present_member_sql("v")),
        },
        CountSql {
            name: "user_members",
            reads: None,
            condition: "m.member_type = 'user' AND m.message_count > 0".to_string(),
        },
        CountSql {
            name: "visitor_members",
            reads: None,
            condition: "m.member_type = 'visitor'".to_string(),
        },
    ]
}

/// The rows of one member type, as the SQL of [`DerivedCounts`] names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemberRows {
    /// The membership's `member_type`.
    pub kind: &'static str,
    pub table: &'static str,
    pub alias: &'static str,
}

/// A user member's row: `u`.
pub(crate) const USER_ROWS: MemberRows = MemberRows {
    kind: "user",
    table: "users",
    alias: "u",
};

/// A visitor member's row: `v`.
pub(crate) const VISITOR_ROWS: MemberRows = MemberRows {
    kind: "visitor",
    table: "visitors",
    alias: "v",
};

/// A present user member, for a membership `m` with its user's row `u`; `?1` is now.
pub(crate) fn present_user_sql() -> String {
    format!("m.member_type = 'user' AND {}", present_member_sql("u"))
}

/// The chat resource exactly as the reference shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: String,
    pub token: String,
    pub created_at: String,
    pub ended_at: Option<String>,
    pub waiting_started_at: Option<String>,
    pub updated_at: String,
    pub room_id: Option<String>,
    pub room_name: Option<String>,
    pub room_organization_id: String,
    pub chat_type: String,
    pub is_private: bool,
    pub is_real_conversation: bool,
    pub is_autosuggested: bool,
    pub is_encrypted: bool,
    pub encrypted_symmetric_key: Option<String>,
    pub message_count: i64,
    pub user_message_count: i64,
    pub visitor_message_count: i64,
    pub has_messages: bool,
    pub has_user_messages: bool,
    pub has_visitor_messages: bool,
    pub first_visitor_message_url: Option<String>,
    pub first_visitor_message_url_title: Option<String>,
    pub autosuggest_url: Option<String>,
    pub autosuggest_url_title: Option<String>,
    pub tag_count: i64,
    pub is_waiting: bool,
    pub is_pending: bool,
    pub is_ended: bool,
    pub member_count: i64,
    pub user_member_count: i64,
    pub visitor_member_count: i64,
    pub present_participant_count: i64,
    pub present_user_participant_count: i64,
    pub present_visitor_participant_count: i64,
    pub visitor_wait_time: Option<f64>,
    pub duration: Option<f64>,
    pub active_duration: Option<f64>,
    pub legacy_conversation_state: String,
    pub legacy_room_id: Option<String>,
}

impl Chat {
    pub fn from_record(c: &ChatRecord) -> Self {
        let ended = c.is_ended;
        Self {
            id: c.id.to_string(),
            token: c.token.clone(),
            created_at: format_ms(c.created_at),
            ended_at: format_opt(c.ended_at),
            waiting_started_at: format_opt(c.waiting_started_at),
            updated_at: format_ms(c.updated_at),
            room_id: c.room_id.map(|r| r.to_string()),
            room_name: c.room_name.clone(),
            room_organization_id: c.room_organization_id.to_string(),
            chat_type: c.chat_type.clone(),
            is_private: c.is_private,
            is_real_conversation: c.user_message_count > 0 && c.visitor_message_count > 0,
            is_autosuggested: c.is_autosuggested,
            is_encrypted: c.is_encrypted,
            encrypted_symmetric_key: if c.is_encrypted {
                c.encrypted_symmetric_key.clone()
            } else {
                None
            },
            message_count: c.message_count,
            user_message_count: c.user_message_count,
            visitor_message_count: c.visitor_message_count,
            has_messages: c.message_count > 0,
            has_user_messages: c.user_message_count > 0,
            has_visitor_messages: c.visitor_message_count > 0,
            first_visitor_message_url: c.first_visitor_message_url.clone(),
            first_visitor_message_url_title: c.first_visitor_message_url_title.clone(),
            autosuggest_url: c.autosuggest_url.clone(),
            autosuggest_url_title: c.autosuggest_url_title.clone(),
            tag_count: c.tag_count,
            is_waiting: c.is_waiting,
            is_pending: c.is_pending(),
            is_ended: ended,
            member_count: c.user_members + c.visitor_members,
            user_member_count: c.user_members,
            visitor_member_count: c.visitor_members,
            present_participant_count: c.present_users + c.present_visitors,
            present_user_participant_count: c.present_users,
            present_visitor_participant_count: c.present_visitors,
            visitor_wait_time: match (c.first_visitor_msg_at, c.first_reply_at) {
                (Some(v), Some(u)) => Some(secs(u - v)),
                _ => None,
            },
            duration: ended.then(|| match (c.first_msg_at, c.last_msg_at) {
                (Some(a), Some(b)) => secs(b - a),
                _ => 0.0,
            }),
            active_duration: ended.then(|| secs(c.active_ms)),
            legacy_conversation_state: if ended {
                "ended"
            } else if c.is_waiting {
                "waiting"
            } else {
                "open"
            }
            .to_string(),
            legacy_room_id: c.room_id.map(|r| r.simple().to_string()),
        }
    }
}

/// Orderings of chat collections. The number is stamped into cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChatOrdering {
    CreatedAsc = 1,
    #[default]
    CreatedDesc = 2,
    UpdatedAsc = 3,
    UpdatedDesc = 4,
}

impl ChatOrdering {
    pub fn parse(s: &str, allow_updated: bool) -> Result<Self> {
        match s {
            "created_at" => Ok(Self::CreatedAsc),
            "-created_at" => Ok(Self::CreatedDesc),
            "updated_at" if allow_updated => Ok(Self::UpdatedAsc),
            "-updated_at" if allow_updated => Ok(Self::UpdatedDesc),
            _ => {
                let options = if allow_updated {
                    "created_at, -created_at, updated_at, -updated_at"
                } else {
                    "created_at, -created_at"
                };
                Err(ChatError::field(
                    "ordering",
                    format!("Select a valid ordering: {options}."),
                ))
            }
        }
    }
    pub fn descending(self) -> bool {
        matches!(self, Self::CreatedDesc | Self::UpdatedDesc)
    }
    pub fn by_updated(self) -> bool {
        matches!(self, Self::UpdatedAsc | Self::UpdatedDesc)
    }
}

/// Query parameters of chat listings, as a client sends them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChatListParams {
    pub ordering: Option<String>,
    pub is_waiting: Option<bool>,
    pub is_ended: Option<bool>,
    pub has_messages: Option<bool>,
    pub has_user_messages: Option<bool>,
    pub has_visitor_messages: Option<bool>,
    pub created_at_after: Option<String>,
    pub created_at_before: Option<String>,
    pub is_participating: Option<bool>,
}

/// A validated chat filter handed to the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatFilter {
    pub ordering: ChatOrdering,
    pub is_waiting: Option<bool>,
    pub is_ended: Option<bool>,
    pub has_messages: Option<bool>,
    pub has_user_messages: Option<bool>,
    pub has_visitor_messages: Option<bool>,
    pub created_after: Option<Millis>,
    pub created_before: Option<Millis>,
    /// For a member's own chats: whether that member participates.
    pub participating: Option<(Uuid, bool)>,
    /// Restricts the selection to the chat with this id (single-chat access checks in one
    /// read).
    pub only_id: Option<Uuid>,
}

/// Which chats a collection holds (the scope, already authorized).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatSelection {
    Room(Uuid),
    RoomPending(Uuid),
    RoomVisitor {
        room: Uuid,
        visitor: Uuid,
    },
    OrgOwned(Uuid),
    OrgInvolved(Uuid),
    /// Owned chats and chats of rooms shared with the organization; `all_shared` includes rooms
    /// of partners with private chat history.
    OrgRouted {
        org: Uuid,
        all_shared: bool,
    },
    /// Pending chats of rooms the user may see ([`ChatRecord::is_pending`],
    /// [`crate::directory::RoomReach::is_accessible_to`]).
    UserPending {
        user: Uuid,
    },
    /// Chats of rooms routed to the user ([`crate::directory::RoomReach::routes_to`]).
    UserRouted {
        user: Uuid,
    },
    /// Chats the member (a user, or a visitor: `memberships.member_id` holds either) belongs to.
    UserMember(Uuid),
    /// Every chat (maintenance and consistency checks).
    All,
}
