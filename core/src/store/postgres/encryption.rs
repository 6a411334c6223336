//! SQL of encryption (organization key checks, chat key rewrapping) and of the purge of
//! sensitive data, on PostgreSQL.

use super::{PgTx, flag};
use crate::clock::Millis;
use crate::crypto::records::{HeldOrgKey, OrgKeyCheck, WrappedChatKey};
use crate::error::Result;
use crate::store::EncryptionStore;
use crate::store::changes::Change;
use postgres::Row;
use uuid::Uuid;

impl EncryptionStore for PgTx<'_> {
    fn org_key_check(&self, org: Uuid) -> Result<Option<OrgKeyCheck>> {
        self.query_opt(
            "SELECT key_check, updated_at, purged_at FROM organization_keys WHERE organization_id = $1",
            &[&org],
        )?
        .map(|r| {
            Ok(OrgKeyCheck {
                check: r.try_get(0)?,
                recorded_at: r.try_get(1)?,
                purged_at: r.try_get(2)?,
            })
        })
        .transpose()
    }

    fn put_org_key_check(&self, org: Uuid, check: &str, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO organization_keys (organization_id, key_check, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (organization_id) DO UPDATE SET key_check = excluded.key_check, updated_at = excluded.updated_at, purged_at = NULL",
            &[&org, &check, &now],
        )?;
        Ok(())
    }

    fn mark_org_key_purged(&self, org: Uuid, now: Millis) -> Result<bool> {
        Ok(self.exec(
            "UPDATE organization_keys SET purged_at = $2, updated_at = $2 WHERE organization_id = $1",
            &[&org, &now],
        )? > 0)
    }

    fn encrypted_chats_of_org(&self, org: Uuid) -> Result<Vec<WrappedChatKey>> {
        self.query(
            "SELECT pk, id, encrypted_symmetric_key FROM chats WHERE room_organization_id = $1 AND is_encrypted = 1 ORDER BY pk",
            &[&org],
        )?
        .iter()
        .map(|r| {
            Ok(WrappedChatKey {
                chat_pk: r.try_get(0)?,
                chat_id: r.try_get(1)?,
                wrapped: r.try_get(2)?,
            })
        })
        .collect()
    }

    fn set_chat_wrapped_key(&self, chat_pk: i64, wrapped: &str) -> Result<()> {
        self.exec(
            "UPDATE chats SET encrypted_symmetric_key = $2 WHERE pk = $1",
            &[&chat_pk, &wrapped],
        )?;
        self.record(Change::Chat(chat_pk));
        Ok(())
    }

    fn purge_message_texts(&self, chat_pk: i64, now: Millis) -> Result<usize> {
        // In the order of the messages, as SQLite visits the rows.
        let purged = self.query(
            "WITH purged AS (UPDATE messages SET message = NULL, response_text = NULL, response_value = NULL, \
             sensitive_data_purged_at = COALESCE(sensitive_data_purged_at, $2) WHERE chat_pk = $1 \
             RETURNING id, seq) SELECT id FROM purged ORDER BY seq",
            &[&chat_pk, &now],
        )?;
        for r in &purged {
            let id: Uuid = r.try_get(0)?;
            self.record(Change::MessageChanged { chat_pk, id });
        }
        Ok(purged.len())
    }

    fn message_attachments_of_chat(&self, chat_pk: i64) -> Result<Vec<(i64, String, bool)>> {
        self.query(
            "SELECT seq, attachments, disables_on_visitor_message FROM messages \
             WHERE chat_pk = $1 AND attachments IS NOT NULL ORDER BY seq",
            &[&chat_pk],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, flag(r, 2)?)))
        .collect()
    }

    fn chats_of_visitor(&self, visitor: Uuid) -> Result<Vec<i64>> {
        self.query(
            "SELECT chat_pk FROM memberships WHERE member_id = $1 AND member_type = 'visitor' \
             UNION SELECT pk FROM chats WHERE visitor_id = $1 ORDER BY 1",
            &[&visitor],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn delete_visitor_variables(&self, visitor: Uuid) -> Result<usize> {
        Ok(self.exec(
            "DELETE FROM visitor_variables WHERE visitor_id = $1",
            &[&visitor],
        )? as usize)
    }

    fn held_org_key(&self, org: Uuid) -> Result<Option<HeldOrgKey>> {
        self.query_opt(
            "SELECT organization_id, wrapped_key, created_at FROM held_organization_keys \
             WHERE organization_id = $1",
            &[&org],
        )?
        .map(|r| held_key_row(&r))
        .transpose()
    }

    fn held_org_keys(&self) -> Result<Vec<HeldOrgKey>> {
        self.query(
            "SELECT organization_id, wrapped_key, created_at FROM held_organization_keys \
             ORDER BY organization_id",
            &[],
        )?
        .iter()
        .map(held_key_row)
        .collect()
    }

    fn put_held_org_key(&self, key: &HeldOrgKey) -> Result<()> {
        self.exec(
            "INSERT INTO held_organization_keys (organization_id, wrapped_key, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT (organization_id) DO UPDATE SET \
             wrapped_key = excluded.wrapped_key, created_at = excluded.created_at",
            &[&key.organization_id, &key.wrapped, &key.created_at],
        )?;
        Ok(())
    }

    fn delete_held_org_key(&self, org: Uuid) -> Result<bool> {
        Ok(self.exec(
            "DELETE FROM held_organization_keys WHERE organization_id = $1",
            &[&org],
        )? > 0)
    }

    fn encrypting_orgs_without_key(&self) -> Result<Vec<Uuid>> {
        self.query(
            "SELECT o.id FROM organizations o WHERE o.encrypt_chats = 1 AND NOT EXISTS \
             (SELECT 1 FROM organization_keys k WHERE k.organization_id = o.id) ORDER BY o.id",
            &[],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }
}

fn held_key_row(r: &Row) -> Result<HeldOrgKey> {
    Ok(HeldOrgKey {
        organization_id: r.try_get(0)?,
        wrapped: r.try_get(1)?,
        created_at: r.try_get(2)?,
    })
}
