//! What the store keeps of encryption beside the chats and messages: plain data, so that the
//! store can read and write it without depending on the rules of [`crate::crypto`].

use crate::clock::Millis;
use uuid::Uuid;

/// The stored key check of an organization key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgKeyCheck {
    pub check: String,
    /// When the current key was recorded (first set, or rotated to).
    pub recorded_at: Millis,
    pub purged_at: Option<Millis>,
}

/// An encrypted chat's wrapped key, as rotation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrappedChatKey {
    pub chat_pk: i64,
    pub chat_id: Uuid,
    pub wrapped: Option<String>,
}

/// An organization key the engine holds itself, sealed under its master key.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOrgKey {
    pub organization_id: Uuid,
    /// Hex `version | nonce | encrypted key | tag` (see `envelope::wrap_org_key`).
    pub wrapped: String,
    pub created_at: Millis,
}
