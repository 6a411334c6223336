//! Offline decryption of exported chats: everything a holder of the organization key needs,
//! with no engine and no database.

use super::CryptoError;
use super::envelope::{self, Binding, Field};
use super::keys::{KEY_LEN, SecretKey};
use uuid::Uuid;

/// Unwraps a chat's `encrypted_symmetric_key` (hex) with the organization key.
pub fn unwrap_chat_key(
    org_key: &[u8; KEY_LEN],
    chat_id: Uuid,
    encrypted_symmetric_key: &str,
) -> Result<SecretKey, CryptoError> {
    envelope::unwrap_key(
        &SecretKey::from_bytes(org_key),
        chat_id,
        encrypted_symmetric_key,
    )
}

/// Decrypts a message's `encrypted_message` (base64) from an export, given the organization
/// key, the chat's `encrypted_symmetric_key`, and the chat and message ids:
///
/// ```
/// # fn demo(org_key: [u8; 32], chat: &serde_json::Value, msg: &serde_json::Value) -> Result<(), Box<dyn std::error::Error>> {
/// let text = chat_core::crypto::decrypt_export(
///     &org_key,
///     chat["encrypted_symmetric_key"].as_str().unwrap_or_default(),
///     chat["id"].as_str().unwrap_or_default().parse()?,
///     msg["id"].as_str().unwrap_or_default().parse()?,
///     msg["encrypted_message"].as_str().unwrap_or_default(),
/// )?;
/// # let _ = text; Ok(()) }
/// ```
pub fn decrypt_export(
    org_key: &[u8; KEY_LEN],
    encrypted_symmetric_key: &str,
    chat_id: Uuid,
    message_id: Uuid,
    encrypted_message: &str,
) -> Result<String, CryptoError> {
    let chat_key = unwrap_chat_key(org_key, chat_id, encrypted_symmetric_key)?;
    envelope::open_text(
        &chat_key,
        &Binding::message(Field::MessageText, chat_id, message_id),
        encrypted_message,
    )
}

/// Decrypts any other sealed field of an exported database row (attachment texts, response
/// texts, the chat's visitor URLs) given its [`Binding`]: `message_id` is nil for chat fields,
/// `item_id` the attachment or action id for their texts.
pub fn decrypt_export_field(
    org_key: &[u8; KEY_LEN],
    encrypted_symmetric_key: &str,
    at: &Binding,
    envelope_b64: &str,
) -> Result<String, CryptoError> {
    let chat_key = unwrap_chat_key(org_key, at.chat_id, encrypted_symmetric_key)?;
    envelope::open_text(&chat_key, at, envelope_b64)
}
