//! SQL of the directory on PostgreSQL.

use super::{PgTx, flag, flag_value, inner_joins, qualified, uuid_tie};
use crate::clock::Millis;
use crate::directory::{
    OrgRecord, PresenceClientRecord, ROOM_ROUTING_SQL, RoomRecord, RouterRecord, RouterStep,
    TeamRecord, UserRecord, VisitorRecord, room_access_sql,
};
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::changes::{Change, DirectoryItem};
use crate::store::columns::{ORG_COLS, ROOM_COLS, USER_COLS, USER_COLS_LEN, VISITOR_COLS};
use crate::store::{DirectoryStore, PresenceHolder};
use postgres::Row;
use postgres::types::ToSql;
use std::sync::LazyLock;
use uuid::Uuid;

/// A user read from column `o` on ([`USER_COLS`]).
pub(crate) fn user_row_at(r: &postgres::Row, o: usize) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.try_get(o)?,
        organization_id: r.try_get(o + 1)?,
        first_name: r.try_get(o + 2)?,
        last_name: r.try_get(o + 3)?,
        alias: r.try_get(o + 4)?,
        avatar_id: r.try_get(o + 5)?,
        avatar_url: r.try_get(o + 6)?,
        is_bot: flag(r, o + 7)?,
        is_deleted: flag(r, o + 8)?,
        perm_reports: flag(r, o + 9)?,
        perm_settings: flag(r, o + 10)?,
        present_until: r.try_get(o + 11)?,
        created_at: r.try_get(o + 12)?,
        updated_at: r.try_get(o + 13)?,
    })
}

/// SQL text built once from constant parts.
macro_rules! const_sql {
    ($($fmt:tt)*) => {{
        static SQL: LazyLock<String> = LazyLock::new(|| format!($($fmt)*));
        SQL.as_str()
    }};
}

/// An organization read from column `o` on ([`ORG_COLS`]).
fn org_row_at(r: &Row, o: usize) -> Result<OrgRecord> {
    Ok(OrgRecord {
        id: r.try_get(o)?,
        name: r.try_get(o + 1)?,
        has_active_subscription: flag(r, o + 2)?,
        private_chat_history: flag(r, o + 3)?,
        private_chats: flag(r, o + 4)?,
        encrypt_chats: flag(r, o + 5)?,
        chat_idle_timeout_s: r.try_get(o + 6)?,
        created_at: r.try_get(o + 7)?,
        updated_at: r.try_get(o + 8)?,
    })
}

fn user_row(r: &Row) -> Result<UserRecord> {
    user_row_at(r, 0)
}

fn room_row(r: &Row) -> Result<RoomRecord> {
    Ok(RoomRecord {
        id: r.try_get(0)?,
        organization_id: r.try_get(1)?,
        name: r.try_get(2)?,
        language_code: r.try_get(3)?,
        ttl_s: r.try_get(4)?,
        router_id: r.try_get(5)?,
        created_at: r.try_get(6)?,
        updated_at: r.try_get(7)?,
    })
}

fn team_row(r: &Row) -> Result<TeamRecord> {
    Ok(TeamRecord {
        id: r.try_get(0)?,
        organization_id: r.try_get(1)?,
        name: r.try_get(2)?,
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

fn visitor_row(r: &Row) -> Result<VisitorRecord> {
    Ok(VisitorRecord {
        id: r.try_get(0)?,
        organization_id: r.try_get(1)?,
        name: r.try_get(2)?,
        present_until: r.try_get(3)?,
        sensitive_data_purged_at: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

fn presence_client_row(r: &Row) -> Result<PresenceClientRecord> {
    Ok(PresenceClientRecord {
        id: r.try_get(0)?,
        created_at: r.try_get(1)?,
        updated_at: r.try_get(2)?,
        expires_at: r.try_get(3)?,
    })
}

/// The ids in column 0 of `rows`.
fn ids(rows: Vec<Row>) -> Result<Vec<Uuid>> {
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// A page of a listing ordered by (`created_at`, `id`): `base` ends in a `WHERE` whose `?`
/// parameters are `params`; the keyset's condition and order are appended.
fn keyset_query<T>(
    tx: &PgTx<'_>,
    base: &str,
    params: Vec<Box<dyn ToSql + Sync>>,
    k: &Keyset,
    f: impl Fn(&Row) -> Result<T>,
) -> Result<Vec<T>> {
    let mut sql = base.to_string();
    let mut p = params;
    if let (Some(cond), Some(after)) = (k.beyond_sql("created_at", "id"), &k.after) {
        sql.push_str(" AND ");
        sql.push_str(&cond);
        p.push(Box::new(after.primary));
        p.push(Box::new(uuid_tie(&after.tie)?));
    }
    sql.push(' ');
    sql.push_str(&k.order_sql("created_at", "id"));
    let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
    tx.query(&sql, &refs)?.iter().map(f).collect()
}

/// Sets the holder's `present_until` to their newest client's expiry. A move is a presence
/// change unless the holder is present at `now` both before and after it (a renewal, or one of
/// several clients ending): then no resource shows a difference, and the holder's open chats
/// are not re-evaluated for it.
fn refresh_present_until(tx: &PgTx<'_>, holder: PresenceHolder, now: Millis) -> Result<()> {
    let (id, newest_sql, select, update) = match holder {
        PresenceHolder::User(u) => (
            u,
            "SELECT COALESCE(MAX(expires_at), 0) FROM presence_clients WHERE user_id = $1",
            "SELECT present_until FROM users WHERE id = $1",
            "UPDATE users SET present_until = $2 WHERE id = $1",
        ),
        PresenceHolder::Visitor(v) => (
            v,
            "SELECT COALESCE(MAX(expires_at), 0) FROM presence_clients WHERE visitor_id = $1",
            "SELECT present_until FROM visitors WHERE id = $1",
            "UPDATE visitors SET present_until = $2 WHERE id = $1",
        ),
    };
    // The latest expiry of the holder's presence clients (0: none).
    let newest: Millis = tx.query_one(newest_sql, &[&id])?.try_get(0)?;
    let before: Option<Option<Millis>> = match tx.query_opt(select, &[&id])? {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    };
    let Some(before) = before.filter(|b| *b != Some(newest)) else {
        return Ok(());
    };
    tx.exec(update, &[&id, &newest])?;
    let stays_present = before.is_some_and(|b| b > now) && newest > now;
    if !stays_present {
        tx.record(Change::Presence(id));
    }
    Ok(())
}

fn holder_of(user: Option<Uuid>, visitor: Option<Uuid>) -> Option<PresenceHolder> {
    match (user, visitor) {
        (Some(u), _) => Some(PresenceHolder::User(u)),
        (None, Some(v)) => Some(PresenceHolder::Visitor(v)),
        _ => None,
    }
}

impl DirectoryStore for PgTx<'_> {
    fn insert_org(&self, o: &OrgRecord) -> Result<()> {
        self.exec(
            const_sql!(
                "INSERT INTO organizations ({ORG_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            &[
                &o.id,
                &o.name,
                &flag_value(o.has_active_subscription),
                &flag_value(o.private_chat_history),
                &flag_value(o.private_chats),
                &flag_value(o.encrypt_chats),
                &o.chat_idle_timeout_s,
                &o.created_at,
                &o.updated_at,
            ],
        )?;
        Ok(())
    }

    fn update_org(&self, o: &OrgRecord) -> Result<()> {
        self.exec(
            "UPDATE organizations SET name = $2, has_active_subscription = $3, private_chat_history = $4, private_chats = $5, encrypt_chats = $6, chat_idle_timeout_s = $7, updated_at = $8 WHERE id = $1",
            &[
                &o.id,
                &o.name,
                &flag_value(o.has_active_subscription),
                &flag_value(o.private_chat_history),
                &flag_value(o.private_chats),
                &flag_value(o.encrypt_chats),
                &o.chat_idle_timeout_s,
                &o.updated_at,
            ],
        )?;
        Ok(())
    }

    fn org(&self, id: Uuid) -> Result<Option<OrgRecord>> {
        self.query_opt(
            const_sql!("SELECT {ORG_COLS} FROM organizations WHERE id = $1"),
            &[&id],
        )?
        .map(|r| org_row_at(&r, 0))
        .transpose()
    }

    fn add_partner(&self, org: Uuid, partner: Uuid) -> Result<()> {
        if org == partner {
            return Ok(());
        }
        let sql = "INSERT INTO organization_partners (organization_id, partner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        self.exec(sql, &[&org, &partner])?;
        self.exec(sql, &[&partner, &org])?;
        Ok(())
    }

    fn partners(&self, org: Uuid) -> Result<Vec<Uuid>> {
        ids(self.query(
            "SELECT partner_id FROM organization_partners WHERE organization_id = $1 ORDER BY partner_id",
            &[&org],
        )?)
    }

    fn insert_user(&self, u: &UserRecord) -> Result<()> {
        self.exec(
            const_sql!("INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
            &[
                &u.id,
                &u.organization_id,
                &u.first_name,
                &u.last_name,
                &u.alias,
                &u.avatar_id,
                &u.avatar_url,
                &flag_value(u.is_bot),
                &flag_value(u.is_deleted),
                &flag_value(u.perm_reports),
                &flag_value(u.perm_settings),
                &u.present_until,
                &u.created_at,
                &u.updated_at,
            ],
        )?;
        self.record(Change::Directory(DirectoryItem::User(u.id)));
        Ok(())
    }

    fn update_user(&self, u: &UserRecord) -> Result<()> {
        self.exec(
            "UPDATE users SET first_name = $2, last_name = $3, alias = $4, avatar_id = $5, avatar_url = $6, is_bot = $7, is_deleted = $8, perm_reports = $9, perm_settings = $10, updated_at = $11 WHERE id = $1",
            &[
                &u.id,
                &u.first_name,
                &u.last_name,
                &u.alias,
                &u.avatar_id,
                &u.avatar_url,
                &flag_value(u.is_bot),
                &flag_value(u.is_deleted),
                &flag_value(u.perm_reports),
                &flag_value(u.perm_settings),
                &u.updated_at,
            ],
        )?;
        // What memberships show of a user, and what an authentication rests on (deletion),
        // may have changed: publication compares and forgets remembered tokens.
        self.record(Change::Member(u.id));
        self.record(Change::Credentials);
        self.record(Change::Directory(DirectoryItem::User(u.id)));
        Ok(())
    }

    fn user(&self, id: Uuid) -> Result<Option<UserRecord>> {
        self.query_opt(
            const_sql!("SELECT {USER_COLS} FROM users WHERE id = $1"),
            &[&id],
        )?
        .map(|r| user_row(&r))
        .transpose()
    }

    fn user_with_org(&self, id: Uuid) -> Result<Option<(UserRecord, Option<OrgRecord>)>> {
        let sql = const_sql!(
            "SELECT {}, {} FROM users u LEFT JOIN organizations o ON o.id = u.organization_id WHERE u.id = $1",
            qualified(USER_COLS, "u"),
            qualified(ORG_COLS, "o")
        );
        let Some(r) = self.query_opt(sql, &[&id])? else {
            return Ok(None);
        };
        let org = match r.try_get::<_, Option<Uuid>>(USER_COLS_LEN)? {
            None => None,
            Some(_) => Some(org_row_at(&r, USER_COLS_LEN)?),
        };
        Ok(Some((user_row_at(&r, 0)?, org)))
    }

    fn users_of_org(&self, org: Uuid, k: &Keyset) -> Result<Vec<UserRecord>> {
        keyset_query(
            self,
            const_sql!("SELECT {USER_COLS} FROM users WHERE organization_id = ?"),
            vec![Box::new(org)],
            k,
            user_row,
        )
    }

    fn insert_token(&self, id: Uuid, user: Uuid, token_hash: &[u8], now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &user, &token_hash, &now],
        )?;
        Ok(())
    }

    fn delete_token(&self, user: Uuid, id: Uuid) -> Result<bool> {
        let deleted = self.exec(
            "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
            &[&id, &user],
        )? > 0;
        if deleted {
            self.record(Change::Credentials);
        }
        Ok(deleted)
    }

    fn user_by_token(&self, token_hash: &[u8]) -> Result<Option<Uuid>> {
        self.query_opt(
            "SELECT user_id FROM api_tokens WHERE token_hash = $1",
            &[&token_hash],
        )?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
    }

    fn insert_team(&self, t: &TeamRecord) -> Result<()> {
        self.exec(
            "INSERT INTO teams (id, organization_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            &[&t.id, &t.organization_id, &t.name, &t.created_at, &t.updated_at],
        )?;
        self.record(Change::Directory(DirectoryItem::Team(t.id)));
        Ok(())
    }

    fn team(&self, id: Uuid) -> Result<Option<TeamRecord>> {
        self.query_opt(
            "SELECT id, organization_id, name, created_at, updated_at FROM teams WHERE id = $1",
            &[&id],
        )?
        .map(|r| team_row(&r))
        .transpose()
    }

    fn teams_of_org(&self, org: Uuid, k: &Keyset) -> Result<Vec<TeamRecord>> {
        keyset_query(
            self,
            "SELECT id, organization_id, name, created_at, updated_at FROM teams WHERE organization_id = ?",
            vec![Box::new(org)],
            k,
            team_row,
        )
    }

    fn set_team_member(&self, team: Uuid, user: Uuid, member: bool) -> Result<bool> {
        let n = if member {
            self.exec(
                "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&team, &user],
            )?
        } else {
            self.exec(
                "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2",
                &[&team, &user],
            )?
        };
        if n > 0 {
            self.record(Change::Directory(DirectoryItem::Team(team)));
        }
        Ok(n > 0)
    }

    fn team_member_ids(&self, team: Uuid) -> Result<Vec<Uuid>> {
        ids(self.query(
            "SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id",
            &[&team],
        )?)
    }

    fn team_presence(&self, team: Uuid, now: Millis) -> Result<(i64, i64)> {
        let r = self.query_one(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE u.present_until > $2) FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = $1 AND u.is_deleted = 0",
            &[&team, &now],
        )?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }

    fn share_team(&self, team: Uuid, org: Uuid) -> Result<()> {
        self.exec(
            "INSERT INTO team_shares (team_id, organization_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&team, &org],
        )?;
        Ok(())
    }

    fn team_shared_with(&self, team: Uuid, org: Uuid) -> Result<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM team_shares WHERE team_id = $1 AND organization_id = $2",
                &[&team, &org],
            )?
            .is_some())
    }

    fn insert_router(&self, r: &RouterRecord) -> Result<()> {
        self.exec(
            "INSERT INTO routers (id, organization_id, name, created_at) VALUES ($1, $2, $3, $4)",
            &[&r.id, &r.organization_id, &r.name, &r.created_at],
        )?;
        for (i, step) in r.steps.iter().enumerate() {
            let index = i as i64;
            for u in &step.user_ids {
                self.exec(
                    "INSERT INTO router_steps (router_id, step_index, member_kind, member_id) VALUES ($1, $2, 'user', $3) ON CONFLICT DO NOTHING",
                    &[&r.id, &index, u],
                )?;
            }
            for t in &step.team_ids {
                self.exec(
                    "INSERT INTO router_steps (router_id, step_index, member_kind, member_id) VALUES ($1, $2, 'team', $3) ON CONFLICT DO NOTHING",
                    &[&r.id, &index, t],
                )?;
            }
        }
        self.record(Change::Directory(DirectoryItem::Router(r.id)));
        Ok(())
    }

    fn router(&self, id: Uuid) -> Result<Option<RouterRecord>> {
        let Some(head) = self.query_opt(
            "SELECT id, organization_id, name, created_at FROM routers WHERE id = $1",
            &[&id],
        )?
        else {
            return Ok(None);
        };
        let id: Uuid = head.try_get(0)?;
        let organization_id: Uuid = head.try_get(1)?;
        let name: String = head.try_get(2)?;
        let created_at: Millis = head.try_get(3)?;
        let rows = self.query(
            "SELECT step_index, member_kind, member_id FROM router_steps WHERE router_id = $1 ORDER BY step_index, member_kind, member_id",
            &[&id],
        )?;
        let mut steps: Vec<RouterStep> = vec![];
        for row in rows {
            let i: i64 = row.try_get(0)?;
            let kind: String = row.try_get(1)?;
            let member: Uuid = row.try_get(2)?;
            let i = i as usize;
            while steps.len() <= i {
                steps.push(RouterStep::default());
            }
            if kind == "user" {
                steps[i].user_ids.push(member);
            } else {
                steps[i].team_ids.push(member);
            }
        }
        Ok(Some(RouterRecord {
            id,
            organization_id,
            name,
            steps,
            created_at,
        }))
    }

    fn routers_of_org(&self, org: Uuid) -> Result<Vec<RouterRecord>> {
        let ids = ids(self.query(
            "SELECT id FROM routers WHERE organization_id = $1 ORDER BY created_at, id",
            &[&org],
        )?)?;
        let mut out = vec![];
        for id in ids {
            if let Some(r) = self.router(id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn insert_room(&self, r: &RoomRecord) -> Result<()> {
        self.exec(
            const_sql!("INSERT INTO rooms ({ROOM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                &r.id,
                &r.organization_id,
                &r.name,
                &r.language_code,
                &r.ttl_s,
                &r.router_id,
                &r.created_at,
                &r.updated_at,
            ],
        )?;
        self.record(Change::Directory(DirectoryItem::Room(r.id)));
        Ok(())
    }

    fn update_room(&self, r: &RoomRecord) -> Result<()> {
        self.exec(
            "UPDATE rooms SET name = $2, language_code = $3, ttl_s = $4, router_id = $5, updated_at = $6 WHERE id = $1",
            &[&r.id, &r.name, &r.language_code, &r.ttl_s, &r.router_id, &r.updated_at],
        )?;
        self.record(Change::Directory(DirectoryItem::Room(r.id)));
        Ok(())
    }

    fn room(&self, id: Uuid) -> Result<Option<RoomRecord>> {
        self.query_opt(
            const_sql!("SELECT {ROOM_COLS} FROM rooms WHERE id = $1"),
            &[&id],
        )?
        .map(|r| room_row(&r))
        .transpose()
    }

    fn rooms_of_org(&self, org: Uuid, k: &Keyset) -> Result<Vec<RoomRecord>> {
        keyset_query(
            self,
            const_sql!("SELECT {ROOM_COLS} FROM rooms WHERE organization_id = ?"),
            vec![Box::new(org)],
            k,
            room_row,
        )
    }

    fn set_room_allowed_tags(&self, room: Uuid, names: &[String], now: Millis) -> Result<()> {
        let kept: Vec<&str> = names.iter().map(String::as_str).collect();
        // In the order of the table's key, as SQLite visits the rows.
        let removed: Vec<String> = self
            .query(
                "WITH removed AS (DELETE FROM room_allowed_tags WHERE room_id = $1 AND name <> ALL($2) RETURNING name) \
                 SELECT name FROM removed ORDER BY name",
                &[&room, &kept],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        for name in removed {
            self.record(Change::RoomTag {
                room,
                name,
                added: false,
            });
            self.record(Change::Directory(DirectoryItem::Room(room)));
        }
        for (i, n) in names.iter().enumerate() {
            // Keep the given order in creation times so listings follow it.
            self.add_room_allowed_tag(room, n, now + i as i64)?;
        }
        Ok(())
    }

    fn add_room_allowed_tag(&self, room: Uuid, name: &str, now: Millis) -> Result<bool> {
        let added = self.exec(
            "INSERT INTO room_allowed_tags (room_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&room, &name, &now],
        )? > 0;
        if added {
            self.record(Change::RoomTag {
                room,
                name: name.to_string(),
                added: true,
            });
            self.record(Change::Directory(DirectoryItem::Room(room)));
        }
        Ok(added)
    }

    fn room_allowed_tags(&self, room: Uuid) -> Result<Vec<(String, Millis)>> {
        self.query(
            "SELECT name, created_at FROM room_allowed_tags WHERE room_id = $1 ORDER BY created_at, name",
            &[&room],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn share_room(&self, room: Uuid, org: Uuid) -> Result<()> {
        self.exec(
            "INSERT INTO room_shares (room_id, organization_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&room, &org],
        )?;
        self.record(Change::Directory(DirectoryItem::Room(room)));
        Ok(())
    }

    fn room_shares(&self, room: Uuid) -> Result<Vec<Uuid>> {
        ids(self.query(
            "SELECT organization_id FROM room_shares WHERE room_id = $1 ORDER BY organization_id",
            &[&room],
        )?)
    }

    fn room_routed_to_user(&self, room: Uuid, user: Uuid) -> Result<bool> {
        let sql = const_sql!(
            "SELECT 1 FROM ({}) AS routing WHERE room_id = ?1 AND user_id = ?2 LIMIT 1",
            inner_joins(ROOM_ROUTING_SQL)
        );
        Ok(self.query_opt(sql, &[&room, &user])?.is_some())
    }

    fn room_accessible_to_user(&self, room: Uuid, user: Uuid) -> Result<bool> {
        let sql = const_sql!(
            "SELECT 1 FROM ({}) AS access WHERE room_id = ?1 AND user_id = ?2 LIMIT 1",
            inner_joins(&room_access_sql())
        );
        Ok(self.query_opt(sql, &[&room, &user])?.is_some())
    }

    fn insert_visitor(&self, v: &VisitorRecord, secret_hash: Option<&[u8]>) -> Result<()> {
        self.exec(
            "INSERT INTO visitors (id, organization_id, name, secret_hash, present_until, sensitive_data_purged_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &v.id,
                &v.organization_id,
                &v.name,
                &secret_hash,
                &v.present_until,
                &v.sensitive_data_purged_at,
                &v.created_at,
                &v.updated_at,
            ],
        )?;
        Ok(())
    }

    fn update_visitor(&self, v: &VisitorRecord) -> Result<()> {
        self.exec(
            "UPDATE visitors SET name = $2, sensitive_data_purged_at = $3, updated_at = $4 WHERE id = $1",
            &[&v.id, &v.name, &v.sensitive_data_purged_at, &v.updated_at],
        )?;
        self.record(Change::Member(v.id));
        Ok(())
    }

    fn visitor(&self, id: Uuid) -> Result<Option<VisitorRecord>> {
        self.query_opt(
            const_sql!("SELECT {VISITOR_COLS} FROM visitors WHERE id = $1"),
            &[&id],
        )?
        .map(|r| visitor_row(&r))
        .transpose()
    }

    fn visitor_by_secret(&self, org: Uuid, secret_hash: &[u8]) -> Result<Option<VisitorRecord>> {
        self.query_opt(
            const_sql!(
                "SELECT {VISITOR_COLS} FROM visitors WHERE secret_hash = $1 AND organization_id = $2"
            ),
            &[&secret_hash, &org],
        )?
        .map(|r| visitor_row(&r))
        .transpose()
    }

    fn insert_visitor_token(
        &self,
        token_hash: &[u8],
        visitor: Uuid,
        expires_at: Millis,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO visitor_tokens (token_hash, visitor_id, expires_at) VALUES ($1, $2, $3)",
            &[&token_hash, &visitor, &expires_at],
        )?;
        Ok(())
    }

    fn visitor_by_token(&self, token_hash: &[u8], now: Millis) -> Result<Option<(Uuid, Millis)>> {
        self.query_opt(
            "SELECT visitor_id, expires_at FROM visitor_tokens WHERE token_hash = $1 AND expires_at > $2",
            &[&token_hash, &now],
        )?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
    }

    fn add_visitor_to_room(&self, visitor: Uuid, room: Uuid, now: Millis) -> Result<bool> {
        Ok(self.exec(
            "INSERT INTO visitor_rooms (visitor_id, room_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&visitor, &room, &now],
        )? > 0)
    }

    fn visitor_in_room(&self, visitor: Uuid, room: Uuid) -> Result<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM visitor_rooms WHERE visitor_id = $1 AND room_id = $2",
                &[&visitor, &room],
            )?
            .is_some())
    }

    fn set_visitor_variable(
        &self,
        visitor: Uuid,
        room: Uuid,
        key: &str,
        value: &str,
        now: Millis,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO visitor_variables (visitor_id, room_id, key, value, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (visitor_id, room_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[&visitor, &room, &key, &value, &now],
        )?;
        Ok(())
    }

    fn visitor_variables(&self, visitor: Uuid, room: Uuid) -> Result<Vec<(String, String)>> {
        self.query(
            "SELECT key, value FROM visitor_variables WHERE visitor_id = $1 AND room_id = $2 ORDER BY key",
            &[&visitor, &room],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn upsert_presence_client(
        &self,
        id: Uuid,
        holder: PresenceHolder,
        expires_at: Millis,
        now: Millis,
    ) -> Result<()> {
        let (u, v) = match holder {
            PresenceHolder::User(u) => (Some(u), None),
            PresenceHolder::Visitor(v) => (None, Some(v)),
        };
        self.exec(
            "INSERT INTO presence_clients (id, user_id, visitor_id, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            &[&id, &u, &v, &expires_at, &now],
        )?;
        if let Some(user) = u {
            self.record(Change::Directory(DirectoryItem::Client { id, user }));
        }
        refresh_present_until(self, holder, now)
    }

    fn presence_clients_of_user(
        &self,
        user: Uuid,
        now: Millis,
        k: &Keyset,
    ) -> Result<Vec<PresenceClientRecord>> {
        keyset_query(
            self,
            "SELECT id, created_at, updated_at, expires_at FROM presence_clients \
             WHERE user_id = ? AND expires_at > ?",
            vec![Box::new(user), Box::new(now)],
            k,
            presence_client_row,
        )
    }

    fn delete_presence_client(&self, id: Uuid, now: Millis) -> Result<Option<PresenceHolder>> {
        let holder = self.presence_client_holder(id)?;
        if let Some(h) = holder {
            self.exec("DELETE FROM presence_clients WHERE id = $1", &[&id])?;
            if let PresenceHolder::User(user) = h {
                self.record(Change::Directory(DirectoryItem::Client { id, user }));
            }
            refresh_present_until(self, h, now)?;
        }
        Ok(holder)
    }

    fn presence_client(&self, id: Uuid, now: Millis) -> Result<Option<PresenceClientRecord>> {
        self.query_opt(
            "SELECT id, created_at, updated_at, expires_at FROM presence_clients \
             WHERE id = $1 AND expires_at > $2",
            &[&id, &now],
        )?
        .map(|r| presence_client_row(&r))
        .transpose()
    }

    fn teams_of_user(&self, user: Uuid) -> Result<Vec<Uuid>> {
        ids(self.query(
            "SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id",
            &[&user],
        )?)
    }

    fn presence_client_holder(&self, id: Uuid) -> Result<Option<PresenceHolder>> {
        let Some(r) = self.query_opt(
            "SELECT user_id, visitor_id FROM presence_clients WHERE id = $1",
            &[&id],
        )?
        else {
            return Ok(None);
        };
        Ok(holder_of(r.try_get(0)?, r.try_get(1)?))
    }

    fn clear_presence(&self, holder: PresenceHolder, now: Millis) -> Result<()> {
        let cleared = match holder {
            PresenceHolder::User(u) => {
                // In creation order, as SQLite visits the rows (by the user's index).
                let ids = ids(self.query(
                    "WITH cleared AS (DELETE FROM presence_clients WHERE user_id = $1 RETURNING id, created_at) \
                     SELECT id FROM cleared ORDER BY created_at, id",
                    &[&u],
                )?)?;
                for id in &ids {
                    self.record(Change::Directory(DirectoryItem::Client {
                        id: *id,
                        user: u,
                    }));
                }
                ids.len() as u64
            }
            PresenceHolder::Visitor(v) => {
                self.exec("DELETE FROM presence_clients WHERE visitor_id = $1", &[&v])?
            }
        };
        if cleared > 0 {
            self.record(Change::Presence(holder.id()));
        }
        refresh_present_until(self, holder, now)
    }

    fn expire_presence_clients(&self, now: Millis) -> Result<usize> {
        // present_until already reflects expiry at read time; this only drops dead rows.
        let mut expired: Vec<(Uuid, PresenceHolder)> = vec![];
        for r in self.query(
            "SELECT id, user_id, visitor_id FROM presence_clients WHERE expires_at <= $1 \
             ORDER BY expires_at, created_at, id",
            &[&now],
        )? {
            if let Some(h) = holder_of(r.try_get(1)?, r.try_get(2)?) {
                expired.push((r.try_get(0)?, h));
            }
        }
        let n = self.exec(
            "DELETE FROM presence_clients WHERE expires_at <= $1",
            &[&now],
        )?;
        let mut holders: Vec<PresenceHolder> = Vec::new();
        for (id, h) in expired {
            if let PresenceHolder::User(user) = h {
                self.record(Change::Directory(DirectoryItem::Client { id, user }));
            }
            if !holders.contains(&h) {
                holders.push(h);
            }
        }
        for h in holders {
            // A lapse shows when it is written: always re-evaluated.
            self.record(Change::Presence(h.id()));
            refresh_present_until(self, h, now)?;
        }
        Ok(n as usize)
    }
}
