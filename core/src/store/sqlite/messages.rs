//! SQL of messages.

use super::{SqliteTx, uuid_col, uuid_opt_col};
use crate::error::Result;
use crate::messages::{
    MessageFilter, MessageRecord, NewMessageRecord, SelectedSuggestion, SenderInfo,
};
use crate::pagination::Keyset;
use crate::store::MessageStore;
use crate::store::changes::Change;
use crate::store::columns::{
    MESSAGE_COLUMNS as COLUMNS, MESSAGE_JOINS as JOINS, MESSAGE_PAGE_SELECT as PAGE_SELECT,
};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

fn user_sender(r: &Row<'_>, o: usize) -> rusqlite::Result<SenderInfo> {
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

fn page_row(r: &Row<'_>) -> rusqlite::Result<(NewMessageRecord, Option<i64>)> {
    Ok((stored(r)?, r.get(17)?))
}

fn row(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    let stored = stored(r)?;
    let sender = match stored.sender_type.as_str() {
        "user" => user_sender(r, 20)?,
        "visitor" => visitor_sender(r.get(25)?),
        _ => SenderInfo::default(),
    };
    Ok(MessageRecord {
        stored,
        sensitive_data_purged_at: r.get(17)?,
        chat_id: uuid_col(r, 18)?,
        room_id: uuid_opt_col(r, 19)?,
        sender,
        selected_reply_suggestion: suggestion_at(r, 27)?,
        responded_attachments: r.get(26)?,
    })
}

fn suggestion_at(r: &Row<'_>, o: usize) -> rusqlite::Result<Option<SelectedSuggestion>> {
    Ok(match uuid_opt_col(r, o)? {
        Some(id) => Some(SelectedSuggestion {
            id: id.to_string(),
            suggestion: r.get(o + 1)?,
            relevancy_score: r.get(o + 2)?,
        }),
        None => None,
    })
}

fn stored(r: &Row<'_>) -> rusqlite::Result<NewMessageRecord> {
    let sender_type: String = r.get(5)?;
    Ok(NewMessageRecord {
        chat_pk: r.get(0)?,
        seq: r.get(1)?,
        id: uuid_col(r, 2)?,
        kind: r.get(3)?,
        created_at: r.get(4)?,
        sender_type,
        sender_id: uuid_opt_col(r, 6)?,
        message: r.get(7)?,
        selected_reply_suggestion_id: uuid_opt_col(r, 8)?,
        attachment_template: r.get(9)?,
        attachments: r.get(10)?,
        disables_on_visitor_message: r.get(11)?,
        response_to_message_id: uuid_opt_col(r, 12)?,
        response_to_attachment_id: uuid_opt_col(r, 13)?,
        response_to_action_id: uuid_opt_col(r, 14)?,
        response_value: r.get(15)?,
        response_text: r.get(16)?,
    })
}

/// A chat's messages whose actions disable on the next visitor message. `INDEXED BY` the
/// partial index of those messages: without statistics SQLite preferred the primary key
/// (`chat_pk`, `seq`), equally selective on paper, and so read every message of the chat on
/// every visitor message (83 k instructions per visitor send on the benchmark dataset's
/// 100-message chats, 14 % of it, and growing with the chat; `docs/PERFORMANCE.md`).
fn disabling_sql() -> &'static str {
    const_sql!(
        "SELECT {COLUMNS} FROM messages m INDEXED BY messages_disable_pending {JOINS} \
         WHERE m.chat_pk = ?1 AND m.disables_on_visitor_message = 1"
    )
}

impl SqliteTx<'_> {
    /// Completes a page's stored rows with what [`COLUMNS`] join: the chat's ids (from the
    /// caller's record), each
    /// distinct sender once, and the rare selected suggestion or answered message per row.
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
                    let id = stored.sender_id.map(|u| u.as_bytes().to_vec());
                    // LEFT JOINs from one row: an unknown sender reads as NULLs, as in [`JOINS`].
                    let info = match stored.sender_type.as_str() {
                        "user" => self
                            .conn()
                            .prepare_cached(
                                "SELECT u.first_name, u.last_name, u.alias, u.avatar_id, u.avatar_url \
                                 FROM (SELECT 1) LEFT JOIN users u ON u.id = ?1",
                            )?
                            .query_row([id], |r| user_sender(r, 0))?,
                        "visitor" => self
                            .conn()
                            .prepare_cached(
                                "SELECT v.name FROM (SELECT 1) LEFT JOIN visitors v ON v.id = ?1",
                            )?
                            .query_row([id], |r| Ok(visitor_sender(r.get(0)?)))?,
                        _ => SenderInfo::default(),
                    };
                    senders.push((key, info.clone()));
                    info
                }
            };
            let selected_reply_suggestion = match stored.selected_reply_suggestion_id {
                Some(id) => self
                    .conn()
                    .prepare_cached(
                        "SELECT id, suggestion, relevancy_score FROM reply_suggestions WHERE id = ?1",
                    )?
                    .query_row([id.as_bytes()], |r| suggestion_at(r, 0))
                    .optional()?
                    .flatten(),
                None => None,
            };
            let responded_attachments = match stored.response_to_message_id {
                Some(id) => self
                    .conn()
                    .prepare_cached("SELECT attachments FROM messages WHERE id = ?1")?
                    .query_row([id.as_bytes()], |r| r.get(0))
                    .optional()?
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

impl MessageStore for SqliteTx<'_> {
    fn insert_message(&self, m: &NewMessageRecord) -> Result<()> {
        self.exec(
            "INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type, sender_id, message, selected_reply_suggestion_id, \
             attachment_template, attachments, disables_on_visitor_message, response_to_message_id, response_to_attachment_id, \
             response_to_action_id, response_value, response_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                m.chat_pk,
                m.seq,
                m.id.as_bytes(),
                m.kind,
                m.created_at,
                m.sender_type,
                m.sender_id.map(|x| x.as_bytes().to_vec()),
                m.message,
                m.selected_reply_suggestion_id.map(|x| x.as_bytes().to_vec()),
                m.attachment_template,
                m.attachments,
                m.disables_on_visitor_message,
                m.response_to_message_id.map(|x| x.as_bytes().to_vec()),
                m.response_to_attachment_id.map(|x| x.as_bytes().to_vec()),
                m.response_to_action_id.map(|x| x.as_bytes().to_vec()),
                m.response_value,
                m.response_text
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
        let sql = const_sql!(
            "SELECT {COLUMNS} FROM messages m {JOINS} WHERE m.id = ?1 AND m.chat_pk = ?2"
        );
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row(params![id.as_bytes(), chat_pk], row)
            .optional()?)
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
            .ok_or_else(|| crate::error::ChatError::internal("message not completed"))?;
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
        let mut p: Vec<Value> = vec![Value::Integer(chat.pk)];
        if let Some(types) = &f.type_in {
            sql.push_str(" AND m.type IN (SELECT value FROM json_each(?))");
            p.push(Value::Text(
                serde_json::to_string(types).unwrap_or_default(),
            ));
        }
        if let Some(types) = &f.type_not_in {
            sql.push_str(" AND m.type NOT IN (SELECT value FROM json_each(?))");
            p.push(Value::Text(
                serde_json::to_string(types).unwrap_or_default(),
            ));
        }
        if let Some(after) = &k.after {
            sql.push_str(if k.descending {
                " AND m.seq < ?"
            } else {
                " AND m.seq > ?"
            });
            p.push(Value::Integer(after.primary));
        }
        sql.push_str(if k.descending {
            " ORDER BY m.seq DESC"
        } else {
            " ORDER BY m.seq ASC"
        });
        sql.push_str(&format!(" LIMIT {}", k.limit));
        let rows = self
            .conn()
            .prepare_cached(&sql)?
            .query_map(params_from_iter(p), page_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        self.complete_page(chat, rows)
    }

    fn set_message_attachments(
        &self,
        chat_pk: i64,
        seq: i64,
        attachments: &str,
        disables: bool,
    ) -> Result<()> {
        for id in self.exec_returning(
            "UPDATE messages SET attachments = ?3, disables_on_visitor_message = ?4 \
             WHERE chat_pk = ?1 AND seq = ?2 RETURNING id",
            params![chat_pk, seq, attachments, disables],
            |r| uuid_col(r, 0),
        )? {
            self.record(Change::MessageChanged { chat_pk, id });
        }
        Ok(())
    }

    fn messages_disabling_on_visitor_message(&self, chat_pk: i64) -> Result<Vec<MessageRecord>> {
        let mut st = self.conn().prepare_cached(disabling_sql())?;
        let rows = st.query_map([chat_pk], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    /// The lookup reads the partial index, not the chat's whole history.
    #[test]
    fn the_messages_to_disable_are_found_by_their_partial_index() {
        let store = crate::store::sqlite::SqliteStore::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .with_connection(|c| {
                let mut st =
                    c.prepare(&format!("EXPLAIN QUERY PLAN {}", super::disabling_sql()))?;
                let rows = st.query_map([1], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("SEARCH m USING INDEX messages_disable_pending")),
            "{plan:?}"
        );
    }
}
