//! Chat messages: typed messages, join/leave events, autosuggestions, attachments with
//! actions, and visitors' responses to them.

mod attachments;
pub(crate) mod operations;
mod rules;

pub use attachments::*;
pub use rules::*;

use crate::clock::Millis;
use crate::directory::Avatar;
use crate::ids::visitor_id_str;
use crate::time::{format_ms, format_opt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest message text, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Who the sender is, as a store reads it alongside the message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SenderInfo {
    pub name: Option<String>,
    pub public_name: Option<String>,
    pub avatar: Option<Avatar>,
}

/// The selected reply suggestion nested in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedSuggestion {
    pub id: String,
    pub suggestion: String,
    pub relevancy_score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewMessageRecord {
    pub chat_pk: i64,
    pub seq: i64,
    pub id: Uuid,
    pub kind: String,
    pub created_at: Millis,
    pub sender_type: String,
    pub sender_id: Option<Uuid>,
    pub message: Option<String>,
    pub selected_reply_suggestion_id: Option<Uuid>,
    pub attachment_template: Option<String>,
    pub attachments: Option<String>,
    pub disables_on_visitor_message: bool,
    pub response_to_message_id: Option<Uuid>,
    pub response_to_attachment_id: Option<Uuid>,
    pub response_to_action_id: Option<Uuid>,
    pub response_value: Option<String>,
    pub response_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub stored: NewMessageRecord,
    pub sensitive_data_purged_at: Option<Millis>,
    // Read alongside:
    pub chat_id: Uuid,
    pub room_id: Option<Uuid>,
    pub sender: SenderInfo,
    pub selected_reply_suggestion: Option<SelectedSuggestion>,
    /// The attachments of the message this one responds to (for `response_to_*` objects).
    pub responded_attachments: Option<String>,
}

/// Which messages a listing holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    pub type_in: Option<Vec<String>>,
    pub type_not_in: Option<Vec<String>>,
}

/// Query parameters of message listings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MessageListParams {
    #[serde(rename = "type__in")]
    pub type_in: Option<String>,
    #[serde(rename = "type__not_in")]
    pub type_not_in: Option<String>,
}

impl MessageListParams {
    pub fn to_filter(&self) -> MessageFilter {
        let split = |s: &String| {
            s.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        MessageFilter {
            type_in: self.type_in.as_ref().map(split),
            type_not_in: self.type_not_in.as_ref().map(split),
        }
    }
}

/// The visitor view of a message from its operator view (JSON): the same attributes in the
/// same order without `sender_name`, the only attribute [`Viewer`] changes (see
/// [`Message::from_record`]; a test compares the two presentations).
pub fn visitor_view(operator: &serde_json::Value) -> serde_json::Value {
    let mut v = operator.clone();
    make_visitor_view(&mut v);
    v
}

/// [`visitor_view`] in place.
pub fn make_visitor_view(operator: &mut serde_json::Value) {
    if let Some(o) = operator.as_object_mut() {
        o.shift_remove("sender_name");
    }
}

/// Operators see both names; visitors never see `sender_name`.
#[derive(Debug, Clone, PartialEq)]
pub enum Viewer {
    Operator,
    Visitor,
}

/// The message resource exactly as the reference shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub chat_id: String,
    pub room_id: Option<String>,
    pub created_at: String,
    pub sender_type: String,
    pub sender_id: Option<String>,
    pub sender_public_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<Option<String>>,
    pub sender_avatar: Option<Avatar>,
    pub message: Option<String>,
    pub is_encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_message: Option<String>,
    pub sensitive_data_purged_at: Option<String>,
    pub selected_reply_suggestion_id: Option<String>,
    pub selected_reply_suggestion: Option<SelectedSuggestion>,
    pub attachments: Vec<Attachment>,
    pub attachment_template: Option<String>,
    pub response_to_message_id: Option<String>,
    pub response_to_attachment_id: Option<String>,
    pub response_to_attachment: Option<Attachment>,
    pub response_to_action_id: Option<String>,
    pub response_to_action: Option<Action>,
    pub response_value: Option<String>,
    pub response_text: Option<String>,
}

impl Message {
    /// The resource of a stored message as `viewer` sees it (the record is consumed: its texts
    /// move into the resource instead of being copied, which was ≈ 1 k instructions per message
    /// of a page).
    pub fn from_record(m: MessageRecord, viewer: &Viewer) -> Self {
        let MessageRecord {
            stored: st,
            sensitive_data_purged_at,
            chat_id,
            room_id,
            sender,
            selected_reply_suggestion,
            responded_attachments,
        } = m;
        let sender_id = st.sender_id.map(|id| {
            if st.sender_type == "visitor" {
                visitor_id_str(&id)
            } else {
                id.to_string()
            }
        });
        let attachments: Vec<Attachment> = st
            .attachments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        let responded: Vec<Attachment> = responded_attachments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        let response_to_attachment = st
            .response_to_attachment_id
            .and_then(|aid| responded.into_iter().find(|a| a.id == aid.to_string()));
        let response_to_action = match (&response_to_attachment, st.response_to_action_id) {
            (Some(a), Some(act)) => a.actions.iter().find(|x| x.id == act.to_string()).cloned(),
            _ => None,
        };
        Self {
            id: st.id.to_string(),
            kind: st.kind,
            chat_id: chat_id.to_string(),
            room_id: room_id.map(|r| r.to_string()),
            created_at: format_ms(st.created_at),
            sender_type: st.sender_type,
            sender_id,
            sender_public_name: sender.public_name,
            sender_name: match viewer {
                Viewer::Operator => Some(sender.name),
                Viewer::Visitor => None,
            },
            sender_avatar: sender.avatar,
            message: st.message,
            is_encrypted: false,
            encrypted_message: None,
            sensitive_data_purged_at: format_opt(sensitive_data_purged_at),
            selected_reply_suggestion_id: st.selected_reply_suggestion_id.map(|s| s.to_string()),
            selected_reply_suggestion,
            attachments,
            attachment_template: st.attachment_template,
            response_to_message_id: st.response_to_message_id.map(|x| x.to_string()),
            response_to_attachment_id: st.response_to_attachment_id.map(|x| x.to_string()),
            response_to_attachment,
            response_to_action_id: st.response_to_action_id.map(|x| x.to_string()),
            response_to_action,
            response_value: st.response_value,
            response_text: st.response_text,
        }
    }

    /// A purged visitor message shows no sender names (the reference's
    /// `sensitive_data_purged_at`).
    pub(crate) fn redact_purged_sender(&mut self) {
        if self.sensitive_data_purged_at.is_some() && self.sender_type == "visitor" {
            self.sender_public_name = None;
            if self.sender_name.is_some() {
                self.sender_name = Some(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_visitor_view_is_the_operator_view_without_the_sender_name() {
        let m = MessageRecord {
            stored: NewMessageRecord {
                chat_pk: 1,
                seq: 3,
                id: Uuid::from_u128(7),
                kind: "msg".into(),
                created_at: 1_700_000_000_000,
                sender_type: "user".into(),
                sender_id: Some(Uuid::from_u128(9)),
                message: Some("Hello \"there\"".into()),
                ..Default::default()
            },
            sensitive_data_purged_at: None,
            chat_id: Uuid::from_u128(1),
            room_id: Some(Uuid::from_u128(2)),
            sender: SenderInfo {
                name: Some("Ann Operator".into()),
                public_name: Some("Ann".into()),
                avatar: None,
            },
            selected_reply_suggestion: None,
            responded_attachments: None,
        };
        let operator =
            serde_json::to_value(Message::from_record(m.clone(), &Viewer::Operator)).unwrap();
        let visitor =
            serde_json::to_value(Message::from_record(m.clone(), &Viewer::Visitor)).unwrap();
        assert_eq!(operator["sender_name"], "Ann Operator");
        // Same attributes in the same order (compared as text).
        assert_eq!(visitor_view(&operator).to_string(), visitor.to_string());
    }
}
