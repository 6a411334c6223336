//! Chat reply suggestions: replies proposed for a chat message (typically by a bot), shown to
//! the chat's agents, who may send one (`selected_reply_suggestion_id` of a message).

pub(crate) mod operations;
mod rules;
#[cfg(test)]
mod tests;

pub use rules::*;

use crate::clock::Millis;
use crate::directory::UserRecord;
use crate::error::{ChatError, Result};
use crate::time::format_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest suggestion, in characters (the limit of chat messages, which it may become).
pub const MAX_SUGGESTION_CHARS: usize = crate::messages::MAX_MESSAGE_CHARS;

#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionRecord {
    pub id: Uuid,
    pub chat_pk: i64,
    pub message_id: Uuid,
    pub organization_id: Uuid,
    pub suggestion: String,
    pub relevancy_score: Option<f64>,
    pub created_by_user_id: Uuid,
    pub updated_by_user_id: Uuid,
    pub created_at: Millis,
    pub updated_at: Millis,
    // Read alongside (not written back):
    pub chat_id: Uuid,
    pub room_id: Option<Uuid>,
    pub created_by_user: Option<UserRecord>,
    pub updated_by_user: Option<UserRecord>,
}

/// Which suggestions a listing holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestionSelection {
    Chat(i64),
    Message { chat_pk: i64, message_id: Uuid },
}

/// The user object nested in a reply suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuggestionUser {
    pub id: String,
    pub full_name: String,
    pub first_name: String,
    pub last_name: String,
    pub organization_id: String,
    pub is_bot: bool,
}

impl SuggestionUser {
    pub fn from_record(r: &UserRecord) -> Self {
        Self {
            id: r.id.to_string(),
            full_name: r.full_name(),
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            organization_id: r.organization_id.to_string(),
            is_bot: r.is_bot,
        }
    }
}

/// The reply suggestion resource exactly as the reference shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplySuggestion {
    pub id: String,
    pub suggestion: String,
    pub relevancy_score: Option<f64>,
    pub created_by_user_id: String,
    pub created_by_user: Option<SuggestionUser>,
    pub updated_by_user_id: String,
    pub updated_by_user: Option<SuggestionUser>,
    pub room_id: Option<String>,
    pub chat_id: String,
    pub message_id: String,
    pub organization_id: String,
    pub created_at: String,
    pub updated_at: String,
}

impl ReplySuggestion {
    pub fn from_record(r: &SuggestionRecord) -> Self {
        Self {
            id: r.id.to_string(),
            suggestion: r.suggestion.clone(),
            relevancy_score: r.relevancy_score,
            created_by_user_id: r.created_by_user_id.to_string(),
            created_by_user: r.created_by_user.as_ref().map(SuggestionUser::from_record),
            updated_by_user_id: r.updated_by_user_id.to_string(),
            updated_by_user: r.updated_by_user.as_ref().map(SuggestionUser::from_record),
            room_id: r.room_id.map(|x| x.to_string()),
            chat_id: r.chat_id.to_string(),
            message_id: r.message_id.to_string(),
            organization_id: r.organization_id.to_string(),
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

/// Orderings of suggestion listings. The number is stamped into cursors; chat and message
/// listings use distinct numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SuggestionOrdering {
    #[default]
    CreatedAsc,
    CreatedDesc,
}

impl SuggestionOrdering {
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s {
            None | Some("created_at") => Ok(Self::CreatedAsc),
            Some("-created_at") => Ok(Self::CreatedDesc),
            Some(_) => Err(ChatError::field(
                "ordering",
                "Select a valid ordering: created_at, -created_at.",
            )),
        }
    }
    pub fn descending(self) -> bool {
        self == Self::CreatedDesc
    }
}

/// Query parameters of suggestion listings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SuggestionListParams {
    pub ordering: Option<String>,
}

/// Payload of create (`suggestion` required), PUT (`suggestion` required; an omitted
/// `relevancy_score` becomes null) and PATCH (any subset). Read-only attributes sent back are
/// ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SuggestionInput {
    #[serde(default, deserialize_with = "crate::input::non_null")]
    pub suggestion: Option<String>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub relevancy_score: Option<Option<f64>>,
}
