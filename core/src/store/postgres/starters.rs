//! SQL of conversation starters on PostgreSQL.

use super::PgTx;
use crate::error::Result;
use crate::pagination::Keyset;
use crate::starters::StarterRecord;
use crate::store::StarterStore;
use crate::store::changes::Change;
use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

fn row(r: &Row) -> Result<StarterRecord> {
    Ok(StarterRecord {
        user_id: r.try_get(0)?,
        language_code: r.try_get(1)?,
        message: r.try_get(2)?,
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

impl StarterStore for PgTx<'_> {
    fn insert_starter(&self, r: &StarterRecord) -> Result<()> {
        self.exec(
            "INSERT INTO conversation_starters (user_id, language_code, message, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            &[&r.user_id, &r.language_code, &r.message, &r.created_at, &r.updated_at],
        )?;
        self.record(Change::Starter {
            user: r.user_id,
            before: None,
            after: Some(Box::new(r.clone())),
        });
        Ok(())
    }

    fn starter(&self, user: Uuid, language_code: &str) -> Result<Option<StarterRecord>> {
        self.query_opt(
            "SELECT user_id, language_code, message, created_at, updated_at FROM conversation_starters \
             WHERE user_id = $1 AND language_code = $2",
            &[&user, &language_code],
        )?
        .as_ref()
        .map(row)
        .transpose()
    }

    fn update_starter(&self, old_language_code: &str, r: &StarterRecord) -> Result<()> {
        let before = self.starter(r.user_id, old_language_code)?;
        self.record(Change::Starter {
            user: r.user_id,
            before: before.map(Box::new),
            after: Some(Box::new(r.clone())),
        });
        self.exec(
            "UPDATE conversation_starters SET language_code = $3, message = $4, updated_at = $5 WHERE user_id = $1 AND language_code = $2",
            &[&r.user_id, &old_language_code, &r.language_code, &r.message, &r.updated_at],
        )?;
        Ok(())
    }

    fn delete_starter(&self, user: Uuid, language_code: &str) -> Result<bool> {
        let before = self.starter(user, language_code)?;
        let deleted = self.exec(
            "DELETE FROM conversation_starters WHERE user_id = $1 AND language_code = $2",
            &[&user, &language_code],
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
        let mut sql = "SELECT user_id, language_code, message, created_at, updated_at \
                       FROM conversation_starters WHERE user_id = ?"
            .to_string();
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(user)];
        if let (Some(cond), Some(after)) = (k.beyond_sql("created_at", "language_code"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Box::new(after.primary));
            // The tie is the language code's UTF-8 bytes: compare it as TEXT, like the column.
            p.push(Box::new(String::from_utf8_lossy(&after.tie).into_owned()));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("created_at", "language_code"));
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(row).collect()
    }
}
