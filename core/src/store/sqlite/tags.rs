//! SQL of chat tags.

use super::SqliteTx;
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::TagStore;
use crate::store::changes::Change;
use crate::tags::TagRecord;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

fn row(r: &Row<'_>) -> rusqlite::Result<TagRecord> {
    Ok(TagRecord {
        chat_pk: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
    })
}

impl TagStore for SqliteTx<'_> {
    fn insert_tag(&self, t: &TagRecord) -> Result<()> {
        self.exec(
            "INSERT INTO chat_tags (chat_pk, name, created_at) VALUES (?1, ?2, ?3)",
            params![t.chat_pk, t.name, t.created_at],
        )?;
        self.record(Change::TagAdded {
            chat_pk: t.chat_pk,
            name: t.name.clone(),
        });
        Ok(())
    }

    fn tag(&self, chat_pk: i64, name: &str) -> Result<Option<TagRecord>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT chat_pk, name, created_at FROM chat_tags WHERE chat_pk = ?1 AND name = ?2",
            )?
            .query_row(params![chat_pk, name], row)
            .optional()?)
    }

    fn delete_tag(&self, chat_pk: i64, name: &str) -> Result<bool> {
        let deleted = self.exec(
            "DELETE FROM chat_tags WHERE chat_pk = ?1 AND name = ?2",
            params![chat_pk, name],
        )? > 0;
        if deleted {
            self.record(Change::TagRemoved {
                chat_pk,
                name: name.to_string(),
            });
        }
        Ok(deleted)
    }

    fn select_tags(&self, chat_pk: i64, k: &Keyset) -> Result<Vec<TagRecord>> {
        let mut sql =
            "SELECT chat_pk, name, created_at FROM chat_tags WHERE chat_pk = ?".to_string();
        let mut p: Vec<Value> = vec![Value::Integer(chat_pk)];
        if let (Some(cond), Some(after)) = (k.beyond_sql("created_at", "name"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Value::Integer(after.primary));
            // The tie is the name's UTF-8 bytes: compare it as TEXT, like the column.
            p.push(Value::Text(
                String::from_utf8_lossy(&after.tie).into_owned(),
            ));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("created_at", "name"));
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(p), row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
