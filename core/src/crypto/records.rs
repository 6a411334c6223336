//! What the store keeps of encryption beside the chats and messages: plain data, so that the
//! store can read and write it without depending on the rules of [`crate::crypto`].

use crate::clock::Millis;
use uuid::Uuid;

/// The stored key check of an organization key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgKeyCheck {
    pub check: String,
    pub purged_at: Option<Millis>,
}

/// An encrypted chat's wrapped key, as rotation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrappedChatKey {
    pub chat_pk: i64,
    pub chat_id: Uuid,
    pub wrapped: Option<String>,
}
