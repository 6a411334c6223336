//! SQL of chat invitations on PostgreSQL.

use super::{PgTx, qualified, user_opt_at, uuid_tie};
use crate::clock::Millis;
use crate::error::{ChatError, ErrorCode, Result};
use crate::invitations::{InvitationFilter, InvitationRecord, InvitationSelection, InviteTarget};
use crate::pagination::Keyset;
use crate::store::InvitationStore;
use crate::store::changes::Change;
use crate::store::columns::{USER_COLS, USER_COLS_LEN};
use postgres::Row;
use postgres::types::ToSql;
use std::sync::LazyLock;
use uuid::Uuid;

/// A statement text built once (from the column lists).
macro_rules! const_sql {
    ($($fmt:tt)*) => {{
        static SQL: LazyLock<String> = LazyLock::new(|| format!($($fmt)*));
        SQL.as_str()
    }};
}

/// Column layout: 0-10 the invitation, 11-12 chat id and room, 13-16 the invitee's names,
/// 17-18 member counts, 19.. the inviter, then the acceptor (`USER_COLS` each).
static SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT i.id, i.chat_pk, i.invited_by_user_id, i.invited_user_id, i.invited_team_id, i.invited_organization_id, \
         i.accepted_by_user_id, i.created_at, i.updated_at, i.accepted_at, i.expired_at, c.id, c.room_id, \
         iu.first_name, iu.last_name, it.name, io.name, \
         (SELECT COUNT(*) FROM memberships m WHERE m.chat_pk = i.chat_pk AND m.member_type = 'user' AND m.is_participating = 1), \
         (SELECT COUNT(*) FROM memberships m WHERE m.chat_pk = i.chat_pk AND m.member_type = 'visitor' AND m.is_participating = 1), \
         {}, {} \
         FROM chat_invitations i JOIN chats c ON c.pk = i.chat_pk \
         LEFT JOIN users iu ON iu.id = i.invited_user_id \
         LEFT JOIN teams it ON it.id = i.invited_team_id \
         LEFT JOIN organizations io ON io.id = i.invited_organization_id \
         LEFT JOIN users bu ON bu.id = i.invited_by_user_id \
         LEFT JOIN users au ON au.id = i.accepted_by_user_id WHERE TRUE",
        qualified(USER_COLS, "bu"),
        qualified(USER_COLS, "au")
    )
});

fn row(r: &Row) -> Result<InvitationRecord> {
    let target = match (
        r.try_get::<_, Option<Uuid>>(3)?,
        r.try_get::<_, Option<Uuid>>(4)?,
        r.try_get::<_, Option<Uuid>>(5)?,
    ) {
        (Some(u), _, _) => InviteTarget::User(u),
        (None, Some(t), _) => InviteTarget::Team(t),
        (None, None, Some(o)) => InviteTarget::Organization(o),
        (None, None, None) => {
            return Err(ChatError::new(
                ErrorCode::Storage,
                "storage error: an invitation has no invited party",
            ));
        }
    };
    let invitee_name = match target {
        InviteTarget::User(_) => {
            let first: String = r.try_get::<_, Option<String>>(13)?.unwrap_or_default();
            let last: String = r.try_get::<_, Option<String>>(14)?.unwrap_or_default();
            crate::directory::full_name(&first, &last)
        }
        InviteTarget::Team(_) => r.try_get::<_, Option<String>>(15)?.unwrap_or_default(),
        InviteTarget::Organization(_) => r.try_get::<_, Option<String>>(16)?.unwrap_or_default(),
    };
    Ok(InvitationRecord {
        id: r.try_get(0)?,
        chat_pk: r.try_get(1)?,
        invited_by_user_id: r.try_get(2)?,
        target,
        accepted_by_user_id: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
        accepted_at: r.try_get(9)?,
        expired_at: r.try_get(10)?,
        chat_id: r.try_get(11)?,
        room_id: r.try_get(12)?,
        invitee_name,
        user_member_count: r.try_get(17)?,
        visitor_member_count: r.try_get(18)?,
        invited_by_user: user_opt_at(r, 19)?,
        accepted_by_user: user_opt_at(r, 19 + USER_COLS_LEN)?,
    })
}

/// The (user, team, organization) id columns of a party: exactly one is set.
type TargetCols = (Option<Uuid>, Option<Uuid>, Option<Uuid>);

fn target_cols(t: InviteTarget) -> TargetCols {
    match t {
        InviteTarget::User(u) => (Some(u), None, None),
        InviteTarget::Team(t) => (None, Some(t), None),
        InviteTarget::Organization(o) => (None, None, Some(o)),
    }
}

impl InvitationStore for PgTx<'_> {
    fn insert_invitation(&self, r: &InvitationRecord) -> Result<()> {
        let (u, t, o) = target_cols(r.target);
        self.exec(
            "INSERT INTO chat_invitations (id, chat_pk, invited_by_user_id, invited_user_id, invited_team_id, invited_organization_id, \
             accepted_by_user_id, created_at, updated_at, accepted_at, expired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &r.id,
                &r.chat_pk,
                &r.invited_by_user_id,
                &u,
                &t,
                &o,
                &r.accepted_by_user_id,
                &r.created_at,
                &r.updated_at,
                &r.accepted_at,
                &r.expired_at,
            ],
        )?;
        self.record(Change::Invitation(r.id));
        Ok(())
    }

    fn update_invitation(&self, r: &InvitationRecord) -> Result<()> {
        self.exec(
            "UPDATE chat_invitations SET accepted_by_user_id = $2, updated_at = $3, accepted_at = $4, expired_at = $5 WHERE id = $1",
            &[
                &r.id,
                &r.accepted_by_user_id,
                &r.updated_at,
                &r.accepted_at,
                &r.expired_at,
            ],
        )?;
        self.record(Change::Invitation(r.id));
        Ok(())
    }

    fn invitation(&self, id: Uuid) -> Result<Option<InvitationRecord>> {
        let sql = const_sql!("{} AND i.id = $1", *SELECT);
        self.query_opt(sql, &[&id])?.as_ref().map(row).transpose()
    }

    fn pending_invitation(
        &self,
        chat_pk: i64,
        target: InviteTarget,
    ) -> Result<Option<InvitationRecord>> {
        const PENDING: &str = "AND i.accepted_at IS NULL AND i.expired_at IS NULL";
        let (sql, id) = match target {
            InviteTarget::User(u) => (
                const_sql!(
                    "{} AND i.chat_pk = $1 AND i.invited_user_id = $2 {PENDING}",
                    *SELECT
                ),
                u,
            ),
            InviteTarget::Team(t) => (
                const_sql!(
                    "{} AND i.chat_pk = $1 AND i.invited_team_id = $2 {PENDING}",
                    *SELECT
                ),
                t,
            ),
            InviteTarget::Organization(o) => (
                const_sql!(
                    "{} AND i.chat_pk = $1 AND i.invited_organization_id = $2 {PENDING}",
                    *SELECT
                ),
                o,
            ),
        };
        self.query_opt(sql, &[&chat_pk, &id])?
            .as_ref()
            .map(row)
            .transpose()
    }

    fn select_invitations(
        &self,
        sel: &InvitationSelection,
        f: &InvitationFilter,
        k: &Keyset,
    ) -> Result<Vec<InvitationRecord>> {
        let mut sql = SELECT.clone();
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![];
        match sel {
            InvitationSelection::Outgoing { chat_pk, inviter } => {
                sql.push_str(" AND i.chat_pk = ? AND i.invited_by_user_id = ?");
                p.push(Box::new(*chat_pk));
                p.push(Box::new(*inviter));
            }
            InvitationSelection::Incoming { user, org } => {
                sql.push_str(
                    " AND i.invited_by_user_id <> ? AND (i.invited_user_id = ? \
                     OR i.invited_team_id IN (SELECT team_id FROM team_members WHERE user_id = ?) \
                     OR i.invited_organization_id = ?)",
                );
                p.push(Box::new(*user));
                p.push(Box::new(*user));
                p.push(Box::new(*user));
                p.push(Box::new(*org));
            }
        }
        match f.is_accepted {
            Some(true) => sql.push_str(" AND i.accepted_at IS NOT NULL"),
            Some(false) => sql.push_str(" AND i.accepted_at IS NULL AND i.expired_at IS NULL"),
            None => {}
        }
        match f.is_expired {
            Some(true) => sql.push_str(" AND i.expired_at IS NOT NULL"),
            Some(false) => sql.push_str(" AND i.expired_at IS NULL"),
            None => {}
        }
        if let (Some(cond), Some(after)) = (k.beyond_sql("i.created_at", "i.id"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Box::new(after.primary));
            p.push(Box::new(uuid_tie(&after.tie)?));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("i.created_at", "i.id"));
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(row).collect()
    }

    fn expire_pending_invitations(&self, chat_pk: i64, now: Millis) -> Result<usize> {
        let expired = self.query(
            "UPDATE chat_invitations SET expired_at = $2, updated_at = $2 \
             WHERE chat_pk = $1 AND accepted_at IS NULL AND expired_at IS NULL RETURNING id",
            &[&chat_pk, &now],
        )?;
        for r in &expired {
            self.record(Change::Invitation(r.try_get(0)?));
        }
        Ok(expired.len())
    }
}
