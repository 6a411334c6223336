//! SQL of reply suggestions.

use super::{SqliteTx, blob, qualified, user_opt_at, uuid_col, uuid_opt_col};
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::SuggestionStore;
use crate::store::changes::Change;
use crate::store::columns::{USER_COLS, USER_COLS_LEN};
use crate::suggestions::{SuggestionRecord, SuggestionSelection};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use std::sync::LazyLock;
use uuid::Uuid;

/// Column layout: 0-9 the suggestion, 10-11 chat id and room, 12.. the creator, then the last
/// updater (`USER_COLS` each).
static SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT s.id, s.chat_pk, s.message_id, s.organization_id, s.suggestion, s.relevancy_score, \
         s.created_by_user_id, s.updated_by_user_id, s.created_at, s.updated_at, c.id, c.room_id, {}, {} \
         FROM reply_suggestions s JOIN chats c ON c.pk = s.chat_pk \
         LEFT JOIN users cu ON cu.id = s.created_by_user_id \
         LEFT JOIN users uu ON uu.id = s.updated_by_user_id WHERE 1",
        qualified(USER_COLS, "cu"),
        qualified(USER_COLS, "uu")
    )
});

fn row(r: &Row<'_>) -> rusqlite::Result<SuggestionRecord> {
    Ok(SuggestionRecord {
        id: uuid_col(r, 0)?,
        chat_pk: r.get(1)?,
        message_id: uuid_col(r, 2)?,
        organization_id: uuid_col(r, 3)?,
        suggestion: r.get(4)?,
        relevancy_score: r.get(5)?,
        created_by_user_id: uuid_col(r, 6)?,
        updated_by_user_id: uuid_col(r, 7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        chat_id: uuid_col(r, 10)?,
        room_id: uuid_opt_col(r, 11)?,
        created_by_user: user_opt_at(r, 12)?,
        updated_by_user: user_opt_at(r, 12 + USER_COLS_LEN)?,
    })
}

impl SuggestionStore for SqliteTx<'_> {
    fn insert_suggestion(&self, r: &SuggestionRecord) -> Result<()> {
        self.exec(
            "INSERT INTO reply_suggestions (id, chat_pk, message_id, organization_id, suggestion, relevancy_score, \
             created_by_user_id, updated_by_user_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                r.id.as_bytes(),
                r.chat_pk,
                r.message_id.as_bytes(),
                r.organization_id.as_bytes(),
                r.suggestion,
                r.relevancy_score,
                r.created_by_user_id.as_bytes(),
                r.updated_by_user_id.as_bytes(),
                r.created_at,
                r.updated_at
            ],
        )?;
        self.record(Change::Suggestion(r.id));
        Ok(())
    }

    fn update_suggestion(&self, r: &SuggestionRecord) -> Result<()> {
        self.exec(
            "UPDATE reply_suggestions SET suggestion = ?2, relevancy_score = ?3, updated_by_user_id = ?4, updated_at = ?5 WHERE id = ?1",
            params![
                r.id.as_bytes(),
                r.suggestion,
                r.relevancy_score,
                r.updated_by_user_id.as_bytes(),
                r.updated_at
            ],
        )?;
        self.record(Change::Suggestion(r.id));
        Ok(())
    }

    fn suggestion(&self, id: Uuid) -> Result<Option<SuggestionRecord>> {
        let sql = const_sql!("{} AND s.id = ?1", *SELECT);
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row([id.as_bytes()], row)
            .optional()?)
    }

    fn select_suggestions(
        &self,
        sel: &SuggestionSelection,
        k: &Keyset,
    ) -> Result<Vec<SuggestionRecord>> {
        let mut sql = SELECT.clone();
        let mut p: Vec<Value> = vec![];
        match sel {
            SuggestionSelection::Chat(pk) => {
                sql.push_str(" AND s.chat_pk = ?");
                p.push(Value::Integer(*pk));
            }
            SuggestionSelection::Message {
                chat_pk,
                message_id,
            } => {
                sql.push_str(" AND s.message_id = ? AND s.chat_pk = ?");
                p.push(blob(*message_id));
                p.push(Value::Integer(*chat_pk));
            }
        }
        if let (Some(cond), Some(after)) = (k.beyond_sql("s.created_at", "s.id"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Value::Integer(after.primary));
            p.push(Value::Blob(after.tie.clone()));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("s.created_at", "s.id"));
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(p), row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
