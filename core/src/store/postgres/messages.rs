//! SQL of messages on PostgreSQL.

use super::{PgTx, flag, flag_value};
use crate::error::{ChatError, Result};
use crate::messages::{
    MessageFilter, MessageRecord, NewMessageRecord, SelectedSuggestion, SenderInfo,
};
use crate::pagination::Keyset;
use crate::store::MessageStore;
use crate::store::changes::Change;
use crate::store::columns::{
    MESSAGE_COLUMNS as COLUMNS, MESSAGE_JOINS as JOINS, MESSAGE_PAGE_SELECT as PAGE_SELECT,
};
use postgres::Row;
use postgres::types::ToSql;
use std::sync::LazyLock;
use uuid::Uuid;

/// One message by id in its chat.
static MESSAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM messages m {JOINS} WHERE m.id = ?1 AND m.chat_pk = ?2")
});

/// A chat's messages whose actions disable on the next visitor message (through the partial
/// index `messages_disable_pending`).
static DISABLING_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM messages m {JOINS} \
         WHERE m.chat_pk = ?1 AND m.disables_on_visitor_message = 1"
    )
});

fn user_sender(r: &Row, o: usize) -> Result<SenderInfo> {
    let (full, public, avatar) = super::user_display(r, o)?;
    Ok(SenderInfo {
        public_name: Some(public),
        name: Some(full),
        avatar,
    })
}

fn visitor_sender(name: Option<String>) -> SenderInfo {
    SenderInfo {
        name: name.clone(),
        public_name: name,
        avatar: None,
    }
}

fn page_row(r: &Row) -> Result<(NewMessageRecord, Option<i64>)> {
    Ok((stored(r)?, r.try_get(17)?))
}

fn row(r: &Row) -> Result<MessageRecord> {
    let stored = stored(r)?;
    let sender = match stored.sender_type.as_str() {
        "user" => user_sender(r, 20)?,
        "visitor" => visitor_sender(r.try_get(25)?),
        _ => SenderInfo::default(),
    };
    Ok(MessageRecord {
        stored,
        sensitive_data_purged_at: r.try_get(17)?,
        chat_id: r.try_get(18)?,
        room_id: r.try_get(19)?,
        sender,
        selected_reply_suggestion: suggestion_at(r, 27)?,
        responded_attachments: r.try_get(26)?,
    })
}

fn suggestion_at(r: &Row, o: usize) -> Result<Option<SelectedSuggestion>> {
    Ok(match r.try_get::<_, Option<Uuid>>(o)? {
        Some(id) => Some(SelectedSuggestion {
            id: id.to_string(),
            suggestion: r.try_get(o + 1)?,
            relevancy_score: r.try_get(o + 2)?,
        }),
        None => None,
    })
}

fn stored(r: &Row) -> Result<NewMessageRecord> {
    let sender_type: String = r.try_get(5)?;
    Ok(NewMessageRecord {
        chat_pk: r.try_get(0)?,
        seq: r.try_get(1)?,
        id: r.try_get(2)?,
        kind: r.try_get(3)?,
        created_at: r.try_get(4)?,
        sender_type,
        sender_id: r.try_get(6)?,
        message: r.try_get(7)?,
        selected_reply_suggestion_id: r.try_get(8)?,
        attachment_template: r.try_get(9)?,
        attachments: r.try_get(10)?,
        disables_on_visitor_message: flag(r, 11)?,
        response_to_message_id: r.try_get(12)?,
        response_to_attachment_id: r.try_get(13)?,
        response_to_action_id: r.try_get(14)?,
        response_value: r.try_get(15)?,
        response_text: r.try_get(16)?,
    })
}

impl PgTx<'_> {
    /// Completes a page's stored rows with what [`COLUMNS`] join: the chat's ids (from the
    /// caller's record), each distinct sender once, and the rare selected suggestion or
    /// answered message per row.
    fn complete_page(
        &self,
        chat: &crate::chats::ChatRecord,
        rows: Vec<(NewMessageRecord, Option<i64>)>,
    ) -> Result<Vec<MessageRecord>> {
        let (chat_id, room_id) = (chat.id, chat.room_id);
        let mut senders: Vec<((String, Option<Uuid>), SenderInfo)> = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for (stored, purged_at) in rows {
            let key = (stored.sender_type.clone(), stored.sender_id);
            let sender = match senders.iter().find(|(k, _)| *k == key) {
                Some((_, info)) => info.clone(),
                None => {
                    let id = stored.sender_id;
                    // LEFT JOINs from one row: an unknown sender reads as NULLs, as in [`JOINS`].
                    let info = match stored.sender_type.as_str() {
                        "user" => user_sender(
                            &self.query_one(
                                "SELECT u.first_name, u.last_name, u.alias, u.avatar_id, u.avatar_url \
                                 FROM (SELECT 1) one LEFT JOIN users u ON u.id = ?1",
                                &[&id],
                            )?,
                            0,
                        )?,
                        "visitor" => visitor_sender(
                            self.query_one(
                                "SELECT v.name FROM (SELECT 1) one LEFT JOIN visitors v ON v.id = ?1",
                                &[&id],
                            )?
                            .try_get(0)?,
                        ),
                        _ => SenderInfo::default(),
                    };
                    senders.push((key, info.clone()));
                    info
                }
            };
            let selected_reply_suggestion = match stored.selected_reply_suggestion_id {
                Some(id) => self
                    .query_opt(
                        "SELECT id, suggestion, relevancy_score FROM reply_suggestions WHERE id = ?1",
                        &[&id],
                    )?
                    .map(|r| suggestion_at(&r, 0))
                    .transpose()?
                    .flatten(),
                None => None,
            };
            let responded_attachments = match stored.response_to_message_id {
                Some(id) => self
                    .query_opt("SELECT attachments FROM messages WHERE id = ?1", &[&id])?
                    .map(|r| r.try_get::<_, Option<String>>(0))
                    .transpose()?
                    .flatten(),
                None => None,
            };
            out.push(MessageRecord {
                stored,
                sensitive_data_purged_at: purged_at,
                chat_id,
                room_id,
                sender,
                selected_reply_suggestion,
                responded_attachments,
            });
        }
        Ok(out)
    }
}

impl MessageStore for PgTx<'_> {
    fn insert_message(&self, m: &NewMessageRecord) -> Result<()> {
        self.exec(
            "INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type, sender_id, message, selected_reply_suggestion_id, \
             attachment_template, attachments, disables_on_visitor_message, response_to_message_id, response_to_attachment_id, \
             response_to_action_id, response_value, response_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            &[
                &m.chat_pk,
                &m.seq,
                &m.id,
                &m.kind,
                &m.created_at,
                &m.sender_type,
                &m.sender_id,
                &m.message,
                &m.selected_reply_suggestion_id,
                &m.attachment_template,
                &m.attachments,
                &flag_value(m.disables_on_visitor_message),
                &m.response_to_message_id,
                &m.response_to_attachment_id,
                &m.response_to_action_id,
                &m.response_value,
                &m.response_text,
            ],
        )?;
        self.record(Change::MessageAdded {
            chat_pk: m.chat_pk,
            id: m.id,
            record: None,
        });
        Ok(())
    }

    fn message(&self, chat_pk: i64, id: Uuid) -> Result<Option<MessageRecord>> {
        self.query_opt(&MESSAGE_SQL, &[&id, &chat_pk])?
            .as_ref()
            .map(row)
            .transpose()
    }

    fn inserted_message(
        &self,
        chat: &crate::chats::ChatRecord,
        m: NewMessageRecord,
    ) -> Result<MessageRecord> {
        // A new row's purge stamp is NULL; the joins are those `complete_page` does.
        let record = self
            .complete_page(chat, vec![(m, None)])?
            .pop()
            .ok_or_else(|| ChatError::internal("message not completed"))?;
        self.changes.message_completed(&record);
        Ok(record)
    }

    fn select_messages(
        &self,
        chat: &crate::chats::ChatRecord,
        f: &MessageFilter,
        k: &Keyset,
    ) -> Result<Vec<MessageRecord>> {
        let mut sql = format!("{PAGE_SELECT} WHERE m.chat_pk = ?");
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(chat.pk)];
        if let Some(types) = &f.type_in {
            sql.push_str(" AND m.type = ANY(?)");
            p.push(Box::new(types.clone()));
        }
        if let Some(types) = &f.type_not_in {
            sql.push_str(" AND m.type <> ALL(?)");
            p.push(Box::new(types.clone()));
        }
        if let Some(after) = &k.after {
            sql.push_str(if k.descending {
                " AND m.seq < ?"
            } else {
                " AND m.seq > ?"
            });
            p.push(Box::new(after.primary));
        }
        sql.push_str(if k.descending {
            " ORDER BY m.seq DESC"
        } else {
            " ORDER BY m.seq ASC"
        });
        sql.push_str(&format!(" LIMIT {}", k.limit));
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        let rows = self
            .query(&sql, &refs)?
            .iter()
            .map(page_row)
            .collect::<Result<Vec<_>>>()?;
        self.complete_page(chat, rows)
    }

    fn set_message_attachments(
        &self,
        chat_pk: i64,
        seq: i64,
        attachments: &str,
        disables: bool,
    ) -> Result<()> {
        for r in self.query(
            "UPDATE messages SET attachments = ?3, disables_on_visitor_message = ?4 \
             WHERE chat_pk = ?1 AND seq = ?2 RETURNING id",
            &[&chat_pk, &seq, &attachments, &flag_value(disables)],
        )? {
            self.record(Change::MessageChanged {
                chat_pk,
                id: r.try_get(0)?,
            });
        }
        Ok(())
    }

    fn messages_disabling_on_visitor_message(&self, chat_pk: i64) -> Result<Vec<MessageRecord>> {
        self.query(&DISABLING_SQL, &[&chat_pk])?
            .iter()
            .map(row)
            .collect()
    }
}
