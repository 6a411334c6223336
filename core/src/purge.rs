//! Purge of sensitive data (contract section 7): per chat or per visitor, message texts
//! (with response texts and values and attachment texts), the chat's visitor URLs and titles,
//! and visitor names become null, and `sensitive_data_purged_at` is set on the messages and the
//! visitor. Rows are updated in place with SQLite's `secure_delete` on, and the facade
//! checkpoints the WAL with TRUNCATE afterwards, so the purged texts leave the database files.

use crate::Env;
use crate::auth::{self, Actor};
use crate::chats::ChatRecord;
use crate::error::{ChatError, Result};
use crate::messages::Attachment;
use crate::store::Store;
use serde::Serialize;
use uuid::Uuid;

/// What a purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub chats: usize,
    pub messages: usize,
    pub visitors: usize,
    /// Whether the write-ahead log was checkpointed and truncated afterwards (always true for a
    /// file database with no other connection; false in memory or when a reader blocked it).
    pub wal_truncated: bool,
}

/// Org users with the settings permission, or the admin. Users of other organizations get 404.
fn authorize(s: &dyn Store, actor: &Actor, org: Uuid, what: &str) -> Result<()> {
    if let Actor::User(_) = actor {
        let me = auth::acting_user(s, actor)?;
        if me.org.id != org {
            return Err(ChatError::not_found(what));
        }
    }
    auth::manage_org(s, actor, org).map(|_| ())
}

/// Purges one chat's sensitive data.
pub fn purge_chat(s: &dyn Store, env: &Env, actor: &Actor, chat_id: Uuid) -> Result<PurgeReport> {
    let mut chat = s
        .chat_by_id(chat_id, env.now)?
        .ok_or_else(|| ChatError::not_found("Chat"))?;
    authorize(s, actor, chat.room_organization_id, "Chat")?;
    let messages = purge_chat_record(s, env, &mut chat)?;
    Ok(PurgeReport {
        chats: 1,
        messages,
        ..PurgeReport::default()
    })
}

/// Purges a visitor: their name and variables, and every chat they took part in.
pub fn purge_visitor(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
) -> Result<PurgeReport> {
    let mut visitor = s
        .visitor(visitor_id)?
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    authorize(s, actor, visitor.organization_id, "Visitor")?;
    let mut report = PurgeReport {
        visitors: 1,
        ..PurgeReport::default()
    };
    for pk in s.chats_of_visitor(visitor_id)? {
        let mut chat = s
            .chat_by_pk(pk, env.now)?
            .ok_or_else(|| ChatError::internal("chat vanished"))?;
        report.messages += purge_chat_record(s, env, &mut chat)?;
        report.chats += 1;
    }
    visitor.name = None;
    visitor.sensitive_data_purged_at = Some(env.now);
    visitor.updated_at = env.now;
    s.update_visitor(&visitor)?;
    // The `username` variable is the visitor's name; the others are visitor-supplied too.
    s.delete_visitor_variables(visitor_id)?;
    Ok(report)
}

fn purge_chat_record(s: &dyn Store, env: &Env, chat: &mut ChatRecord) -> Result<usize> {
    let n = s.purge_message_texts(chat.pk, env.now)?;
    s.scrub_chat_events(chat.pk)?;
    for (seq, json, disables) in s.message_attachments_of_chat(chat.pk)? {
        let mut atts: Vec<Attachment> = serde_json::from_str(&json).unwrap_or_default();
        for a in &mut atts {
            a.title = None;
            a.text = None;
            a.parameters = None;
            for act in &mut a.actions {
                act.text.clear();
                act.value.clear();
            }
        }
        let json = serde_json::to_string(&atts).map_err(|e| ChatError::internal(e.to_string()))?;
        s.set_message_attachments(chat.pk, seq, &json, disables)?;
    }
    chat.first_visitor_message_url = None;
    chat.first_visitor_message_url_title = None;
    chat.autosuggest_url = None;
    chat.autosuggest_url_title = None;
    chat.updated_at = env.now;
    s.update_chat(chat)?;
    Ok(n)
}
