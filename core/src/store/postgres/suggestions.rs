//! SQL of reply suggestions on PostgreSQL.

use super::{PgTx, qualified, user_opt_at, uuid_tie};
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::SuggestionStore;
use crate::store::changes::Change;
use crate::store::columns::{USER_COLS, USER_COLS_LEN};
use crate::suggestions::{SuggestionRecord, SuggestionSelection};
use postgres::Row;
use postgres::types::ToSql;
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
         LEFT JOIN users uu ON uu.id = s.updated_by_user_id WHERE TRUE",
        qualified(USER_COLS, "cu"),
        qualified(USER_COLS, "uu")
    )
});

/// One suggestion by id.
static BY_ID: LazyLock<String> = LazyLock::new(|| format!("{} AND s.id = $1", *SELECT));

fn row(r: &Row) -> Result<SuggestionRecord> {
    Ok(SuggestionRecord {
        id: r.try_get(0)?,
        chat_pk: r.try_get(1)?,
        message_id: r.try_get(2)?,
        organization_id: r.try_get(3)?,
        suggestion: r.try_get(4)?,
        relevancy_score: r.try_get(5)?,
        created_by_user_id: r.try_get(6)?,
        updated_by_user_id: r.try_get(7)?,
        created_at: r.try_get(8)?,
        updated_at: r.try_get(9)?,
        chat_id: r.try_get(10)?,
        room_id: r.try_get(11)?,
        created_by_user: user_opt_at(r, 12)?,
        updated_by_user: user_opt_at(r, 12 + USER_COLS_LEN)?,
    })
}

impl SuggestionStore for PgTx<'_> {
    fn insert_suggestion(&self, r: &SuggestionRecord) -> Result<()> {
        self.exec(
            "INSERT INTO reply_suggestions (id, chat_pk, message_id, organization_id, suggestion, relevancy_score, \
             created_by_user_id, updated_by_user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &r.id,
                &r.chat_pk,
                &r.message_id,
                &r.organization_id,
                &r.suggestion,
                &r.relevancy_score,
                &r.created_by_user_id,
                &r.updated_by_user_id,
                &r.created_at,
                &r.updated_at,
            ],
        )?;
        self.record(Change::Suggestion(r.id));
        Ok(())
    }

    fn update_suggestion(&self, r: &SuggestionRecord) -> Result<()> {
        self.exec(
            "UPDATE reply_suggestions SET suggestion = $2, relevancy_score = $3, updated_by_user_id = $4, updated_at = $5 WHERE id = $1",
            &[
                &r.id,
                &r.suggestion,
                &r.relevancy_score,
                &r.updated_by_user_id,
                &r.updated_at,
            ],
        )?;
        self.record(Change::Suggestion(r.id));
        Ok(())
    }

    fn suggestion(&self, id: Uuid) -> Result<Option<SuggestionRecord>> {
        self.query_opt(&BY_ID, &[&id])?
            .as_ref()
            .map(row)
            .transpose()
    }

    fn select_suggestions(
        &self,
        sel: &SuggestionSelection,
        k: &Keyset,
    ) -> Result<Vec<SuggestionRecord>> {
        let mut sql = SELECT.clone();
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![];
        match sel {
            SuggestionSelection::Chat(pk) => {
                sql.push_str(" AND s.chat_pk = ?");
                p.push(Box::new(*pk));
            }
            SuggestionSelection::Message {
                chat_pk,
                message_id,
            } => {
                sql.push_str(" AND s.message_id = ? AND s.chat_pk = ?");
                p.push(Box::new(*message_id));
                p.push(Box::new(*chat_pk));
            }
        }
        if let (Some(cond), Some(after)) = (k.beyond_sql("s.created_at", "s.id"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Box::new(after.primary));
            p.push(Box::new(uuid_tie(&after.tie)?));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("s.created_at", "s.id"));
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(row).collect()
    }
}
