//! Points where other capabilities take part in a chat's life cycle, so that chat rules do not
//! need to know them one by one: creation (encryption keys) and ending (invitations expire).

use crate::Env;
use crate::chats::ChatRecord;
use crate::directory::OrgRecord;
use crate::error::Result;
use crate::store::Store;

/// Called before a new chat is inserted.
pub fn on_chat_created(
    _s: &dyn Store,
    _env: &Env,
    _org: &OrgRecord,
    _chat: &mut ChatRecord,
) -> Result<()> {
    Ok(())
}

/// Called when a chat ends, inside the ending transaction: its pending invitations expire.
pub fn on_chat_ended(s: &dyn Store, env: &Env, chat: &mut ChatRecord) -> Result<()> {
    crate::invitations::expire_pending(s, env, chat)?;
    Ok(())
}

/// Called with every message before it is stored (encryption seals texts here).
pub fn before_message_stored(
    _s: &dyn Store,
    _env: &Env,
    _chat: &ChatRecord,
    _m: &mut crate::messages::NewMessageRecord,
) -> Result<()> {
    Ok(())
}

/// Whether a reply suggestion of this chat has the id (reply suggestions register here).
pub fn suggestion_in_chat(s: &dyn Store, chat: &ChatRecord, id: uuid::Uuid) -> Result<bool> {
    crate::suggestions::in_chat(s, chat, id)
}
