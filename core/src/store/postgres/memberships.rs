//! SQL of memberships on PostgreSQL.

use super::PgTx;
use super::{flag, flag_value, uuid_tie};
use crate::clock::Millis;
use crate::error::Result;
use crate::memberships::{Composing, MemberInfo, MemberRef, MembershipRecord, MembershipSelection};
use crate::pagination::Keyset;
use crate::store::MembershipStore;
use crate::store::changes::Change;
use postgres::types::ToSql;
use std::sync::LazyLock;
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
         LEFT JOIN visitors v ON m.member_type = 'visitor' AND v.id = m.member_id WHERE TRUE"
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
const SELECT_ONE: &str = concat!(
    membership_columns!(),
    membership_tables!(),
    " AND m.chat_pk = ?1 AND m.member_id = ?2"
);

/// A LEFT JOINed 0/1 flag: false when absent.
fn opt_flag(r: &postgres::Row, idx: usize) -> Result<bool> {
    Ok(r.try_get::<_, Option<i64>>(idx)?.is_some_and(|v| v != 0))
}

fn row(r: &postgres::Row) -> Result<MembershipRecord> {
    let id: Uuid = r.try_get(1)?;
    let kind: String = r.try_get(2)?;
    let status: String = r.try_get(7)?;
    let info = if kind == "user" {
        let (full, public, avatar) = super::user_display(r, 14)?;
        MemberInfo {
            public_name: Some(public),
            name: Some(full),
            avatar,
            organization_id: r.try_get(19)?,
            is_bot: opt_flag(r, 20)?,
            is_deleted: opt_flag(r, 21)?,
            present_until: r.try_get(22)?,
        }
    } else {
        let name: Option<String> = r.try_get(23)?;
        MemberInfo {
            name: name.clone(),
            public_name: name,
            present_until: r.try_get(22)?,
            ..MemberInfo::default()
        }
    };
    Ok(MembershipRecord {
        chat_pk: r.try_get(0)?,
        member: if kind == "user" {
            MemberRef::User(id)
        } else {
            MemberRef::Visitor(id)
        },
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
        last_seen_at: r.try_get(5)?,
        is_participating: flag(r, 6)?,
        composing_status: Composing::parse(&status).unwrap_or(Composing::Idle),
        composing_updated_at: r.try_get(8)?,
        message_count: r.try_get(9)?,
        chat_id: r.try_get(10)?,
        room_id: r.try_get(11)?,
        room_organization_id: r.try_get(12)?,
        chat_created_at: r.try_get(13)?,
        info,
    })
}

impl MembershipStore for PgTx<'_> {
    fn insert_membership(&self, m: &MembershipRecord) -> Result<()> {
        self.exec(
            "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, last_seen_at, is_participating, composing_status, composing_updated_at, message_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                &m.chat_pk,
                &m.member.id(),
                &m.member.kind(),
                &m.created_at,
                &m.updated_at,
                &m.last_seen_at,
                &flag_value(m.is_participating),
                &m.composing_status.as_str(),
                &m.composing_updated_at,
                &m.message_count,
            ],
        )?;
        self.changes.membership(m.chat_pk, m.member.id());
        Ok(())
    }

    fn update_membership(&self, m: &MembershipRecord) -> Result<()> {
        self.exec(
            "UPDATE memberships SET updated_at = ?3, last_seen_at = ?4, is_participating = ?5, composing_status = ?6, composing_updated_at = ?7, message_count = ?8 \
             WHERE chat_pk = ?1 AND member_id = ?2",
            &[
                &m.chat_pk,
                &m.member.id(),
                &m.updated_at,
                &m.last_seen_at,
                &flag_value(m.is_participating),
                &m.composing_status.as_str(),
                &m.composing_updated_at,
                &m.message_count,
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
        // (the common case) is one statement; the first takes a second one.
        let p: [&(dyn ToSql + Sync); 4] = [&chat_pk, &member, &composing.as_str(), &now];
        let first = if self.exec(
            "UPDATE memberships SET message_count = message_count + 1, composing_status = ?3, \
             composing_updated_at = ?4, updated_at = ?4 \
             WHERE chat_pk = ?1 AND member_id = ?2 AND message_count > 0",
            &p,
        )? > 0
        {
            Some(false)
        } else {
            (self.exec(
                "UPDATE memberships SET message_count = 1, composing_status = ?3, \
                 composing_updated_at = ?4, updated_at = ?4 \
                 WHERE chat_pk = ?1 AND member_id = ?2 AND message_count = 0",
                &p,
            )? > 0)
                .then_some(true)
        };
        if first.is_some() {
            self.record(Change::MemberMessage { chat_pk, member });
        }
        Ok(first)
    }

    fn membership(
        &self,
        chat_pk: i64,
        member: Uuid,
        _now: Millis,
    ) -> Result<Option<MembershipRecord>> {
        self.query_opt(SELECT_ONE, &[&chat_pk, &member])?
            .as_ref()
            .map(row)
            .transpose()
    }

    fn is_member(&self, chat_pk: i64, member: Uuid) -> Result<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM memberships WHERE chat_pk = ?1 AND member_id = ?2",
                &[&chat_pk, &member],
            )?
            .is_some())
    }

    fn membership_with_event_state(
        &self,
        chat_pk: i64,
        member: Uuid,
    ) -> Result<Option<(MembershipRecord, Option<Vec<u8>>)>> {
        self.query_opt(SELECT_WITH_EVENT_STATE, &[&chat_pk, &member])?
            .map(|r| Ok((row(&r)?, r.try_get(24)?)))
            .transpose()
    }

    fn select_memberships(
        &self,
        sel: &MembershipSelection,
        k: &Keyset,
        _now: Millis,
    ) -> Result<Vec<MembershipRecord>> {
        let mut sql = SELECT.to_string();
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![];
        // Whether the listing is ordered by chat (one member's memberships) rather than by
        // member (one chat's).
        let by_chat = match sel {
            MembershipSelection::Chat(pk) => {
                sql.push_str(" AND m.chat_pk = ?");
                p.push(Box::new(*pk));
                false
            }
            MembershipSelection::Member {
                member,
                participating,
            } => {
                sql.push_str(" AND m.member_id = ?");
                p.push(Box::new(*member));
                if let Some(b) = participating {
                    sql.push_str(" AND m.is_participating = ?");
                    p.push(Box::new(flag_value(*b)));
                }
                true
            }
            MembershipSelection::ChatMember { chat_pk, member } => {
                sql.push_str(" AND m.chat_pk = ? AND m.member_id = ?");
                p.push(Box::new(*chat_pk));
                p.push(Box::new(*member));
                true
            }
        };
        let tie = if by_chat { "m.chat_pk" } else { "m.member_id" };
        if let (Some(cond), Some(after)) = (k.beyond_sql("m.created_at", tie), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Box::new(after.primary));
            if by_chat {
                let mut b = [0u8; 8];
                if after.tie.len() == 8 {
                    b.copy_from_slice(&after.tie);
                }
                p.push(Box::new(i64::from_be_bytes(b)));
            } else {
                p.push(Box::new(uuid_tie(&after.tie)?));
            }
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("m.created_at", tie));
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(row).collect()
    }

    fn present_user_members(&self, chat_pk: i64, except: Option<Uuid>, now: Millis) -> Result<i64> {
        // `IS DISTINCT FROM`: without `except` every member counts (a NULL would match none).
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.member_id \
                 WHERE m.chat_pk = ?2 AND {} AND m.member_id IS DISTINCT FROM ?3",
                crate::chats::present_user_sql()
            )
        });
        Ok(self
            .query_one(&SQL, &[&now, &chat_pk, &except])?
            .try_get(0)?)
    }

    fn settle_typing(&self, before: Millis, now: Millis) -> Result<usize> {
        let settled = self.query(
            "UPDATE memberships SET composing_status = 'typed', updated_at = ?2 WHERE composing_status = 'typing' AND composing_updated_at <= ?1 \
             AND EXISTS (SELECT 1 FROM chats c WHERE c.pk = memberships.chat_pk AND c.is_ended = 0) \
             RETURNING chat_pk, member_id",
            &[&before, &now],
        )?;
        for r in &settled {
            self.changes.membership(r.try_get(0)?, r.try_get(1)?);
        }
        Ok(settled.len())
    }
}
