//! SQL of chat tags on PostgreSQL.

use super::PgTx;
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::TagStore;
use crate::store::changes::Change;
use crate::tags::TagRecord;
use postgres::Row;
use postgres::types::ToSql;

fn row(r: &Row) -> Result<TagRecord> {
    Ok(TagRecord {
        chat_pk: r.try_get(0)?,
        name: r.try_get(1)?,
        created_at: r.try_get(2)?,
    })
}

impl TagStore for PgTx<'_> {
    fn insert_tag(&self, t: &TagRecord) -> Result<()> {
        self.exec(
            "INSERT INTO chat_tags (chat_pk, name, created_at) VALUES ($1, $2, $3)",
            &[&t.chat_pk, &t.name, &t.created_at],
        )?;
        self.record(Change::TagAdded {
            chat_pk: t.chat_pk,
            name: t.name.clone(),
        });
        Ok(())
    }

    fn tag(&self, chat_pk: i64, name: &str) -> Result<Option<TagRecord>> {
        self.query_opt(
            "SELECT chat_pk, name, created_at FROM chat_tags WHERE chat_pk = $1 AND name = $2",
            &[&chat_pk, &name],
        )?
        .as_ref()
        .map(row)
        .transpose()
    }

    fn delete_tag(&self, chat_pk: i64, name: &str) -> Result<bool> {
        let deleted = self.exec(
            "DELETE FROM chat_tags WHERE chat_pk = $1 AND name = $2",
            &[&chat_pk, &name],
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
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(chat_pk)];
        if let (Some(cond), Some(after)) = (k.beyond_sql("created_at", "name"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Box::new(after.primary));
            // The tie is the name's UTF-8 bytes: compare it as TEXT, like the column.
            p.push(Box::new(String::from_utf8_lossy(&after.tie).into_owned()));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("created_at", "name"));
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(row).collect()
    }
}
