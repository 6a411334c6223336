//! Points where other capabilities take part in a chat's life cycle, so that chat rules do not
//! need to know them one by one: creation (encryption keys) and ending (invitations expire).

use crate::Env;
use crate::chats::ChatRecord;
use crate::crypto::ChatCipher;
use crate::directory::OrgRecord;
use crate::error::Result;
use crate::store::Store;

/// Called before a new chat is inserted. A chat of an organization with `encrypt_chats` gets
/// its own key here (409 `chat_key_unavailable` when the engine does not hold the
/// organization's key).
pub fn on_chat_created(
    _s: &dyn Store,
    env: &Env,
    org: &OrgRecord,
    chat: &mut ChatRecord,
) -> Result<()> {
    if org.encrypt_chats {
        crate::crypto::init_chat_key(env, org.id, chat)?;
    }
    Ok(())
}

/// Called when a chat ends, inside the ending transaction: its pending invitations expire.
pub fn on_chat_ended(s: &dyn Store, env: &Env, chat: &mut ChatRecord) -> Result<()> {
    crate::invitations::expire_pending(s, env, chat)?;
    Ok(())
}

/// Called with every message before it is stored: the texts of an encrypted chat are sealed
/// here (409 `chat_key_unavailable` when its key is gone).
pub fn before_message_stored(
    _s: &dyn Store,
    env: &Env,
    chat: &ChatRecord,
    m: &mut crate::messages::NewMessageRecord,
) -> Result<()> {
    ChatCipher::for_write(env, chat)?.seal_message(m)
}

/// Whether a reply suggestion of this chat has the id (reply suggestions register here).
pub fn suggestion_in_chat(s: &dyn Store, chat: &ChatRecord, id: uuid::Uuid) -> Result<bool> {
    crate::suggestions::in_chat(s, chat, id)
}

// ---- encryption: stored forms and resources (docs/ENCRYPTION.md) ----------------------------

/// The stored form of a visitor URL or title of the chat row (sealed in encrypted chats).
pub fn seal_chat_text(
    env: &Env,
    chat: &ChatRecord,
    field: crate::crypto::Field,
    value: Option<String>,
) -> Result<Option<String>> {
    ChatCipher::for_write(env, chat)?.seal_chat_text(field, value)
}

/// A stored message's attachments with their texts readable, for rules that use them (action
/// responses). Rewrite the stored (sealed) attachments, never these.
pub fn open_stored_attachments(
    env: &Env,
    chat: &ChatRecord,
    message_id: uuid::Uuid,
    attachments: Vec<crate::messages::Attachment>,
) -> Result<Vec<crate::messages::Attachment>> {
    ChatCipher::for_write(env, chat)?.open_attachments(message_id, attachments, true)
}

/// The chat resource of a record (visitor URLs decrypted while the key is held).
pub fn present_chat(env: &Env, chat: &ChatRecord) -> crate::chats::Chat {
    ChatCipher::for_chat(env, chat).present_chat(chat)
}

/// Turns stored messages of one chat into resources (texts decrypted while the key is held,
/// `encrypted_message` set in encrypted chats, purged visitor senders redacted). The chat key
/// is unwrapped once per presenter.
pub fn message_presenter<'v>(
    env: &Env,
    chat: &ChatRecord,
    viewer: &'v crate::messages::Viewer,
) -> impl FnMut(crate::messages::MessageRecord) -> crate::messages::Message + 'v {
    let cipher = ChatCipher::for_chat(env, chat);
    move |m| cipher.present_message(m, viewer)
}
