//! Chats: the conversation resource, its derived attributes and its listings.

pub(crate) mod operations;
mod rules;

pub use rules::*;

use crate::clock::Millis;
use crate::error::{ChatError, Result};
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
    /// Waiting, not ended, and no present participating user member.
    pub fn is_pending(&self) -> bool {
        self.is_waiting && !self.is_ended && self.present_users == 0
    }
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
    UserPending {
        user: Uuid,
        org: Uuid,
    },
    UserRouted {
        user: Uuid,
        org: Uuid,
    },
    UserMember(Uuid),
    /// Every chat (maintenance and consistency checks).
    All,
}
