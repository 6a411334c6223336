//! SQL of encryption (organization key checks, chat key rewrapping) and of the purge of
//! sensitive data.

use super::{SqliteStore, SqliteTx, uuid_col};
use crate::clock::Millis;
use crate::crypto::records::{HeldOrgKey, OrgKeyCheck, WrappedChatKey};
use crate::error::Result;
use crate::store::EncryptionStore;
use crate::store::changes::Change;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

impl EncryptionStore for SqliteTx<'_> {
    fn org_key_check(&self, org: Uuid) -> Result<Option<OrgKeyCheck>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT key_check, updated_at, purged_at FROM organization_keys WHERE organization_id = ?1",
            )?
            .query_row([org.as_bytes()], |r| {
                Ok(OrgKeyCheck {
                    check: r.get(0)?,
                    recorded_at: r.get(1)?,
                    purged_at: r.get(2)?,
                })
            })
            .optional()?)
    }

    fn put_org_key_check(&self, org: Uuid, check: &str, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO organization_keys (organization_id, key_check, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (organization_id) DO UPDATE SET key_check = excluded.key_check, updated_at = excluded.updated_at, purged_at = NULL",
            params![org.as_bytes(), check, now],
        )?;
        Ok(())
    }

    fn mark_org_key_purged(&self, org: Uuid, now: Millis) -> Result<bool> {
        Ok(self.exec(
            "UPDATE organization_keys SET purged_at = ?2, updated_at = ?2 WHERE organization_id = ?1",
            params![org.as_bytes(), now],
        )? > 0)
    }

    fn encrypted_chats_of_org(&self, org: Uuid) -> Result<Vec<WrappedChatKey>> {
        let mut st = self.conn().prepare_cached(
            "SELECT pk, id, encrypted_symmetric_key FROM chats WHERE room_organization_id = ?1 AND is_encrypted = 1 ORDER BY pk",
        )?;
        let rows = st.query_map([org.as_bytes()], |r| {
            Ok(WrappedChatKey {
                chat_pk: r.get(0)?,
                chat_id: uuid_col(r, 1)?,
                wrapped: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_chat_wrapped_key(&self, chat_pk: i64, wrapped: &str) -> Result<()> {
        self.exec(
            "UPDATE chats SET encrypted_symmetric_key = ?2 WHERE pk = ?1",
            params![chat_pk, wrapped],
        )?;
        self.record(Change::Chat(chat_pk));
        Ok(())
    }

    fn purge_message_texts(&self, chat_pk: i64, now: Millis) -> Result<usize> {
        let purged = self.exec_returning(
            "UPDATE messages SET message = NULL, response_text = NULL, response_value = NULL, \
             sensitive_data_purged_at = COALESCE(sensitive_data_purged_at, ?2) WHERE chat_pk = ?1 \
             RETURNING id",
            params![chat_pk, now],
            |r| uuid_col(r, 0),
        )?;
        for &id in &purged {
            self.record(Change::MessageChanged { chat_pk, id });
        }
        Ok(purged.len())
    }

    fn message_attachments_of_chat(&self, chat_pk: i64) -> Result<Vec<(i64, String, bool)>> {
        let mut st = self.conn().prepare_cached(
            "SELECT seq, attachments, disables_on_visitor_message FROM messages \
             WHERE chat_pk = ?1 AND attachments IS NOT NULL ORDER BY seq",
        )?;
        let rows = st.query_map([chat_pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn chats_of_visitor(&self, visitor: Uuid) -> Result<Vec<i64>> {
        let mut st = self.conn().prepare_cached(
            "SELECT chat_pk FROM memberships WHERE member_id = ?1 AND member_type = 'visitor' \
             UNION SELECT pk FROM chats WHERE visitor_id = ?1 ORDER BY 1",
        )?;
        let rows = st.query_map([visitor.as_bytes()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_visitor_variables(&self, visitor: Uuid) -> Result<usize> {
        self.exec(
            "DELETE FROM visitor_variables WHERE visitor_id = ?1",
            [visitor.as_bytes()],
        )
    }

    fn held_org_key(&self, org: Uuid) -> Result<Option<HeldOrgKey>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT organization_id, wrapped_key, created_at FROM held_organization_keys \
                 WHERE organization_id = ?1",
            )?
            .query_row([org.as_bytes()], held_key_row)
            .optional()?)
    }

    fn held_org_keys(&self) -> Result<Vec<HeldOrgKey>> {
        let mut st = self.conn().prepare_cached(
            "SELECT organization_id, wrapped_key, created_at FROM held_organization_keys \
             ORDER BY organization_id",
        )?;
        let rows = st.query_map([], held_key_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put_held_org_key(&self, key: &HeldOrgKey) -> Result<()> {
        self.exec(
            "INSERT INTO held_organization_keys (organization_id, wrapped_key, created_at) \
             VALUES (?1, ?2, ?3) ON CONFLICT (organization_id) DO UPDATE SET \
             wrapped_key = excluded.wrapped_key, created_at = excluded.created_at",
            params![key.organization_id.as_bytes(), key.wrapped, key.created_at],
        )?;
        Ok(())
    }

    fn delete_held_org_key(&self, org: Uuid) -> Result<bool> {
        Ok(self.exec(
            "DELETE FROM held_organization_keys WHERE organization_id = ?1",
            [org.as_bytes()],
        )? > 0)
    }

    fn encrypting_orgs_without_key(&self) -> Result<Vec<Uuid>> {
        let mut st = self.conn().prepare_cached(
            "SELECT o.id FROM organizations o WHERE o.encrypt_chats = 1 AND NOT EXISTS \
             (SELECT 1 FROM organization_keys k WHERE k.organization_id = o.id) ORDER BY o.id",
        )?;
        let rows = st.query_map([], |r| uuid_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn held_key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HeldOrgKey> {
    Ok(HeldOrgKey {
        organization_id: uuid_col(r, 0)?,
        wrapped: r.get(1)?,
        created_at: r.get(2)?,
    })
}

impl SqliteStore {
    /// Copies the write-ahead log into the database and truncates it to zero bytes, so that
    /// page images holding purged texts leave the `-wal` file. Returns whether it completed
    /// (false for in-memory databases, or when a reader kept it from finishing).
    pub fn checkpoint_truncate(&self) -> Result<bool> {
        self.with_connection(|conn| {
            let (busy, log): (i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            Ok(busy == 0 && log >= 0)
        })
    }
}
