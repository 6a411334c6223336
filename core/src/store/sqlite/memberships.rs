//! SQL of memberships.

use super::{SqliteTx, blob, uuid_col, uuid_opt_col};
use crate::clock::Millis;
use crate::error::Result;
use crate::memberships::{Composing, MemberInfo, MemberRef, MembershipRecord, MembershipSelection};
use crate::pagination::Keyset;
use crate::store::MembershipStore;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

/// The columns [`row`] reads, then the tables they come from (two macros so that the
/// publisher's read can add the event state between them).
macro_rules! membership_columns {
    () => {
        "SELECT m.chat_pk, m.member_id, m.member_type, m.created_at, m.updated_at, m.last_seen_at, m.is_participating, \
         m.composing_status, m.composing_updated_at, m.message_count, c.id, c.room_id, c.room_organization_id, c.created_at, \
         u.first_name, u.last_name, u.alias, u.avatar_id, u.avatar_url, u.organization_id, u.is_bot, u.is_deleted, \
         COALESCE(u.present_until, v.present_until, 0), v.name"
    };
}
macro_rules! membership_tables {
    () => {
        " FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
         LEFT JOIN users u ON m.member_type = 'user' AND u.id = m.member_id \
         LEFT JOIN visitors v ON m.member_type = 'visitor' AND v.id = m.member_id WHERE 1"
    };
}
const SELECT: &str = concat!(membership_columns!(), membership_tables!());
/// [`SELECT`] and the membership's last published state (column 24).
const SELECT_WITH_EVENT_STATE: &str = concat!(
    membership_columns!(),
    ", m.event_state",
    membership_tables!(),
    " AND m.chat_pk = ?1 AND m.member_id = ?2"
);

fn row(r: &Row<'_>) -> rusqlite::Result<MembershipRecord> {
    let id = uuid_col(r, 1)?;
    let kind: String = r.get(2)?;
    let status: String = r.get(7)?;
    let info = if kind == "user" {
        let (full, public, avatar) = super::user_display(r, 14)?;
        MemberInfo {
            public_name: Some(public),
            name: Some(full),
            avatar,
            organization_id: uuid_opt_col(r, 19)?,
            is_bot: r.get::<_, Option<bool>>(20)?.unwrap_or(false),
            is_deleted: r.get::<_, Option<bool>>(21)?.unwrap_or(false),
            present_until: r.get(22)?,
        }
    } else {
        let name: Option<String> = r.get(23)?;
        MemberInfo {
            name: name.clone(),
            public_name: name,
            present_until: r.get(22)?,
            ..MemberInfo::default()
        }
    };
    Ok(MembershipRecord {
        chat_pk: r.get(0)?,
        member: if kind == "user" {
            MemberRef::User(id)
        } else {
            MemberRef::Visitor(id)
        },
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        last_seen_at: r.get(5)?,
        is_participating: r.get(6)?,
        composing_status: Composing::parse(&status).unwrap_or(Composing::Idle),
        composing_updated_at: r.get(8)?,
        message_count: r.get(9)?,
        chat_id: uuid_col(r, 10)?,
        room_id: uuid_opt_col(r, 11)?,
        room_organization_id: uuid_col(r, 12)?,
        chat_created_at: r.get(13)?,
        info,
    })
}

impl MembershipStore for SqliteTx<'_> {
    fn insert_membership(&self, m: &MembershipRecord) -> Result<()> {
        self.exec(
            "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, last_seen_at, is_participating, composing_status, composing_updated_at, message_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                m.chat_pk,
                m.member.id().as_bytes(),
                m.member.kind(),
                m.created_at,
                m.updated_at,
                m.last_seen_at,
                m.is_participating,
                m.composing_status.as_str(),
                m.composing_updated_at,
                m.message_count
            ],
        )?;
        self.changes.membership(m.chat_pk, m.member.id());
        Ok(())
    }

    fn update_membership(&self, m: &MembershipRecord) -> Result<()> {
        self.exec(
            "UPDATE memberships SET updated_at = ?3, last_seen_at = ?4, is_participating = ?5, composing_status = ?6, composing_updated_at = ?7, message_count = ?8 \
             WHERE chat_pk = ?1 AND member_id = ?2",
            params![
                m.chat_pk,
                m.member.id().as_bytes(),
                m.updated_at,
                m.last_seen_at,
                m.is_participating,
                m.composing_status.as_str(),
                m.composing_updated_at,
                m.message_count
            ],
        )?;
        self.changes.membership(m.chat_pk, m.member.id());
        Ok(())
    }

    fn add_member_message(
        &self,
        chat_pk: i64,
        member: Uuid,
        composing: Composing,
        now: Millis,
    ) -> Result<Option<bool>> {
        // Whether this is the member's first message decides a chat count. A later message
        // (the common case) is one statement; the first takes a second one. (A `RETURNING` of
        // the count would tell it in one statement, but costs more than two: it buffers its
        // result in a temporary table.)
        let p = params![chat_pk, member.as_bytes(), composing.as_str(), now];
        let first = if self.exec(
            "UPDATE memberships SET message_count = message_count + 1, composing_status = ?3, \
             composing_updated_at = ?4, updated_at = ?4 \
             WHERE chat_pk = ?1 AND member_id = ?2 AND message_count > 0",
            p,
        )? > 0
        {
            Some(false)
        } else {
            (self.exec(
                "UPDATE memberships SET message_count = 1, composing_status = ?3, \
                 composing_updated_at = ?4, updated_at = ?4 \
                 WHERE chat_pk = ?1 AND member_id = ?2 AND message_count = 0",
                p,
            )? > 0)
                .then_some(true)
        };
        if first.is_some() {
            self.record(crate::store::changes::Change::MemberMessage { chat_pk, member });
        }
        Ok(first)
    }

    fn membership(
        &self,
        chat_pk: i64,
        member: Uuid,
        _now: Millis,
    ) -> Result<Option<MembershipRecord>> {
        let sql = const_sql!("{SELECT} AND m.chat_pk = ?1 AND m.member_id = ?2");
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row(params![chat_pk, member.as_bytes()], row)
            .optional()?)
    }

    fn is_member(&self, chat_pk: i64, member: Uuid) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM memberships WHERE chat_pk = ?1 AND member_id = ?2")?
            .exists(params![chat_pk, member.as_bytes()])?)
    }

    fn membership_with_event_state(
        &self,
        chat_pk: i64,
        member: Uuid,
    ) -> Result<Option<(MembershipRecord, Option<Vec<u8>>)>> {
        Ok(self
            .conn()
            .prepare_cached(SELECT_WITH_EVENT_STATE)?
            .query_row(params![chat_pk, member.as_bytes()], |r| {
                Ok((row(r)?, r.get(24)?))
            })
            .optional()?)
    }

    fn select_memberships(
        &self,
        sel: &MembershipSelection,
        k: &Keyset,
        _now: Millis,
    ) -> Result<Vec<MembershipRecord>> {
        let mut sql = SELECT.to_string();
        let mut p: Vec<Value> = vec![];
        let by_chat = match sel {
            MembershipSelection::Chat(pk) => {
                sql.push_str(" AND m.chat_pk = ?");
                p.push(Value::Integer(*pk));
                false
            }
            MembershipSelection::Member {
                member,
                participating,
            } => {
                sql.push_str(" AND m.member_id = ?");
                p.push(blob(*member));
                if let Some(b) = participating {
                    sql.push_str(" AND m.is_participating = ?");
                    p.push(Value::Integer(i64::from(*b)));
                }
                true
            }
            MembershipSelection::ChatMember { chat_pk, member } => {
                sql.push_str(" AND m.chat_pk = ? AND m.member_id = ?");
                p.push(Value::Integer(*chat_pk));
                p.push(blob(*member));
                true
            }
        };
        let tie = if by_chat { "m.chat_pk" } else { "m.member_id" };
        if let (Some(cond), Some(after)) = (k.beyond_sql("m.created_at", tie), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Value::Integer(after.primary));
            if by_chat {
                let mut b = [0u8; 8];
                if after.tie.len() == 8 {
                    b.copy_from_slice(&after.tie);
                }
                p.push(Value::Integer(i64::from_be_bytes(b)));
            } else {
                p.push(Value::Blob(after.tie.clone()));
            }
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("m.created_at", tie));
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(p), row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn present_user_members(&self, chat_pk: i64, except: Option<Uuid>, now: Millis) -> Result<i64> {
        let except = except.map(|e| e.as_bytes().to_vec()).unwrap_or_default();
        let sql = const_sql!(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.member_id \
             WHERE m.chat_pk = ?2 AND {} AND m.member_id <> ?3",
            crate::chats::present_user_sql()
        );
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row(params![now, chat_pk, except], |r| r.get(0))?)
    }

    fn settle_typing(&self, before: Millis, now: Millis) -> Result<usize> {
        let settled = self.exec_returning(
            "UPDATE memberships SET composing_status = 'typed', updated_at = ?2 WHERE composing_status = 'typing' AND composing_updated_at <= ?1 \
             AND EXISTS (SELECT 1 FROM chats c WHERE c.pk = memberships.chat_pk AND c.is_ended = 0) \
             RETURNING chat_pk, member_id",
            params![before, now],
            |r| Ok((r.get::<_, i64>(0)?, uuid_col(r, 1)?)),
        )?;
        for &(chat_pk, member) in &settled {
            self.changes.membership(chat_pk, member);
        }
        Ok(settled.len())
    }
}
