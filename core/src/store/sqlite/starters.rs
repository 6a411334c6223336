//! SQL of conversation starters.

use super::{SqliteTx, uuid_col};
use crate::error::Result;
use crate::pagination::Keyset;
use crate::starters::StarterRecord;
use crate::store::StarterStore;
use crate::store::changes::Change;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

const COLS: &str = "user_id, language_code, message, created_at, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<StarterRecord> {
    Ok(StarterRecord {
        user_id: uuid_col(r, 0)?,
        language_code: r.get(1)?,
        message: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

impl StarterStore for SqliteTx<'_> {
    fn insert_starter(&self, r: &StarterRecord) -> Result<()> {
        self.exec(
            "INSERT INTO conversation_starters (user_id, language_code, message, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.user_id.as_bytes(), r.language_code, r.message, r.created_at, r.updated_at],
        )?;
        self.record(Change::Starter {
            user: r.user_id,
            before: None,
            after: Some(Box::new(r.clone())),
        });
        Ok(())
    }

    fn starter(&self, user: Uuid, language_code: &str) -> Result<Option<StarterRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!(
                "SELECT {COLS} FROM conversation_starters WHERE user_id = ?1 AND language_code = ?2"
            ))?
            .query_row(params![user.as_bytes(), language_code], row)
            .optional()?)
    }

    fn update_starter(&self, old_language_code: &str, r: &StarterRecord) -> Result<()> {
        let before = self.starter(r.user_id, old_language_code)?;
        self.record(Change::Starter {
            user: r.user_id,
            before: before.map(Box::new),
            after: Some(Box::new(r.clone())),
        });
        self.exec(
            "UPDATE conversation_starters SET language_code = ?3, message = ?4, updated_at = ?5 WHERE user_id = ?1 AND language_code = ?2",
            params![r.user_id.as_bytes(), old_language_code, r.language_code, r.message, r.updated_at],
        )?;
        Ok(())
    }

    fn delete_starter(&self, user: Uuid, language_code: &str) -> Result<bool> {
        let before = self.starter(user, language_code)?;
        let deleted = self.exec(
            "DELETE FROM conversation_starters WHERE user_id = ?1 AND language_code = ?2",
            params![user.as_bytes(), language_code],
        )? > 0;
        if deleted {
            self.record(Change::Starter {
                user,
                before: before.map(Box::new),
                after: None,
            });
        }
        Ok(deleted)
    }

    fn select_starters(&self, user: Uuid, k: &Keyset) -> Result<Vec<StarterRecord>> {
        let mut sql = format!("SELECT {COLS} FROM conversation_starters WHERE user_id = ?");
        let mut p: Vec<Value> = vec![Value::Blob(user.as_bytes().to_vec())];
        if let (Some(cond), Some(after)) = (k.beyond_sql("created_at", "language_code"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Value::Integer(after.primary));
            p.push(Value::Text(
                String::from_utf8_lossy(&after.tie).into_owned(),
            ));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("created_at", "language_code"));
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(p), row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
