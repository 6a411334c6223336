//! SQL of the directory.

use super::{SqliteTx, blob, qualified, uuid_col, uuid_opt_col};
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
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

fn org_row(r: &Row<'_>) -> rusqlite::Result<OrgRecord> {
    org_row_at(r, 0)
}

/// An organization read from column `o` on ([`ORG_COLS`]).
fn org_row_at(r: &Row<'_>, o: usize) -> rusqlite::Result<OrgRecord> {
    Ok(OrgRecord {
        id: uuid_col(r, o)?,
        name: r.get(o + 1)?,
        has_active_subscription: r.get(o + 2)?,
        private_chat_history: r.get(o + 3)?,
        private_chats: r.get(o + 4)?,
        encrypt_chats: r.get(o + 5)?,
        chat_idle_timeout_s: r.get(o + 6)?,
        created_at: r.get(o + 7)?,
        updated_at: r.get(o + 8)?,
    })
}

pub(crate) fn user_row_at(r: &Row<'_>, o: usize) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: uuid_col(r, o)?,
        organization_id: uuid_col(r, o + 1)?,
        first_name: r.get(o + 2)?,
        last_name: r.get(o + 3)?,
        alias: r.get(o + 4)?,
        avatar_id: uuid_opt_col(r, o + 5)?,
        avatar_url: r.get(o + 6)?,
        is_bot: r.get(o + 7)?,
        is_deleted: r.get(o + 8)?,
        perm_reports: r.get(o + 9)?,
        perm_settings: r.get(o + 10)?,
        present_until: r.get(o + 11)?,
        created_at: r.get(o + 12)?,
        updated_at: r.get(o + 13)?,
    })
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    user_row_at(r, 0)
}

fn room_row(r: &Row<'_>) -> rusqlite::Result<RoomRecord> {
    Ok(RoomRecord {
        id: uuid_col(r, 0)?,
        organization_id: uuid_col(r, 1)?,
        name: r.get(2)?,
        language_code: r.get(3)?,
        ttl_s: r.get(4)?,
        router_id: uuid_opt_col(r, 5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

fn team_row(r: &Row<'_>) -> rusqlite::Result<TeamRecord> {
    Ok(TeamRecord {
        id: uuid_col(r, 0)?,
        organization_id: uuid_col(r, 1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn visitor_row(r: &Row<'_>) -> rusqlite::Result<VisitorRecord> {
    Ok(VisitorRecord {
        id: uuid_col(r, 0)?,
        organization_id: uuid_col(r, 1)?,
        name: r.get(2)?,
        present_until: r.get(3)?,
        sensitive_data_purged_at: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

impl SqliteTx<'_> {
    /// A page of a listing ordered by (`created_at`, `id`): `base` ends in a `WHERE` whose
    /// `?` parameters are `params`; the keyset's condition and order are appended.
    fn keyset_query<T>(
        &self,
        base: &str,
        params: Vec<Value>,
        k: &Keyset,
        f: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut sql = base.to_string();
        let mut p = params;
        if let (Some(cond), Some(after)) = (k.beyond_sql("created_at", "id"), &k.after) {
            sql.push_str(" AND ");
            sql.push_str(&cond);
            p.push(Value::Integer(after.primary));
            p.push(Value::Blob(after.tie.clone()));
        }
        sql.push(' ');
        sql.push_str(&k.order_sql("created_at", "id"));
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(p), |r| f(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
    }

    /// Sets the holder's `present_until` to their newest client's expiry. A move is a presence
    /// change unless the holder is present at `now` both before and after it (a renewal, or
    /// one of several clients ending): then no resource shows a difference, and the holder's
    /// open chats are not re-evaluated for it.
    fn refresh_present_until(&self, holder: PresenceHolder, now: Millis) -> Result<()> {
        let (id, column, select, update) = match holder {
            PresenceHolder::User(u) => (
                u,
                "user_id",
                "SELECT present_until FROM users WHERE id = ?1",
                "UPDATE users SET present_until = ?2 WHERE id = ?1",
            ),
            PresenceHolder::Visitor(v) => (
                v,
                "visitor_id",
                "SELECT present_until FROM visitors WHERE id = ?1",
                "UPDATE visitors SET present_until = ?2 WHERE id = ?1",
            ),
        };
        let newest = self.newest_client_expiry(column, id)?;
        let before: Option<Option<Millis>> = self
            .conn()
            .prepare_cached(select)?
            .query_row([id.as_bytes()], |r| r.get(0))
            .optional()?;
        let Some(before) = before.filter(|b| *b != Some(newest)) else {
            return Ok(());
        };
        self.exec(update, params![id.as_bytes(), newest])?;
        let stays_present = before.is_some_and(|b| b > now) && newest > now;
        if !stays_present {
            self.record(Change::Presence(id));
        }
        Ok(())
    }

    /// The latest expiry of the holder's presence clients (0: none).
    fn newest_client_expiry(&self, column: &str, holder: Uuid) -> Result<Millis> {
        let sql = match column {
            "user_id" => {
                "SELECT COALESCE(MAX(expires_at), 0) FROM presence_clients WHERE user_id = ?1"
            }
            _ => "SELECT COALESCE(MAX(expires_at), 0) FROM presence_clients WHERE visitor_id = ?1",
        };
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row([holder.as_bytes()], |r| r.get(0))?)
    }
}

fn holder_of(user: Option<Uuid>, visitor: Option<Uuid>) -> Option<PresenceHolder> {
    match (user, visitor) {
        (Some(u), _) => Some(PresenceHolder::User(u)),
        (None, Some(v)) => Some(PresenceHolder::Visitor(v)),
        _ => None,
    }
}

impl DirectoryStore for SqliteTx<'_> {
    fn insert_org(&self, o: &OrgRecord) -> Result<()> {
        self.exec(
            const_sql!(
                "INSERT INTO organizations ({ORG_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                o.id.as_bytes(),
                o.name,
                o.has_active_subscription,
                o.private_chat_history,
                o.private_chats,
                o.encrypt_chats,
                o.chat_idle_timeout_s,
                o.created_at,
                o.updated_at
            ],
        )?;
        Ok(())
    }

    fn update_org(&self, o: &OrgRecord) -> Result<()> {
        self.exec(
            "UPDATE organizations SET name = ?2, has_active_subscription = ?3, private_chat_history = ?4, private_chats = ?5, encrypt_chats = ?6, chat_idle_timeout_s = ?7, updated_at = ?8 WHERE id = ?1",
            params![o.id.as_bytes(), o.name, o.has_active_subscription, o.private_chat_history, o.private_chats, o.encrypt_chats, o.chat_idle_timeout_s, o.updated_at],
        )?;
        Ok(())
    }

    fn org(&self, id: Uuid) -> Result<Option<OrgRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!(
                "SELECT {ORG_COLS} FROM organizations WHERE id = ?1"
            ))?
            .query_row([id.as_bytes()], org_row)
            .optional()?)
    }

    fn add_partner(&self, org: Uuid, partner: Uuid) -> Result<()> {
        if org == partner {
            return Ok(());
        }
        let sql = "INSERT OR IGNORE INTO organization_partners (organization_id, partner_id) VALUES (?1, ?2)";
        self.exec(sql, params![org.as_bytes(), partner.as_bytes()])?;
        self.exec(sql, params![partner.as_bytes(), org.as_bytes()])?;
        Ok(())
    }

    fn partners(&self, org: Uuid) -> Result<Vec<Uuid>> {
        let mut st = self.conn().prepare_cached("SELECT partner_id FROM organization_partners WHERE organization_id = ?1 ORDER BY partner_id")?;
        let rows = st.query_map([org.as_bytes()], |r| uuid_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_user(&self, u: &UserRecord) -> Result<()> {
        self.exec(
            const_sql!("INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                u.id.as_bytes(),
                u.organization_id.as_bytes(),
                u.first_name,
                u.last_name,
                u.alias,
                u.avatar_id.map(|a| a.as_bytes().to_vec()),
                u.avatar_url,
                u.is_bot,
                u.is_deleted,
                u.perm_reports,
                u.perm_settings,
                u.present_until,
                u.created_at,
                u.updated_at
            ],
        )?;
        self.record(Change::Directory(DirectoryItem::User(u.id)));
        Ok(())
    }

    fn update_user(&self, u: &UserRecord) -> Result<()> {
        self.exec(
            "UPDATE users SET first_name = ?2, last_name = ?3, alias = ?4, avatar_id = ?5, avatar_url = ?6, is_bot = ?7, is_deleted = ?8, perm_reports = ?9, perm_settings = ?10, updated_at = ?11 WHERE id = ?1",
            params![
                u.id.as_bytes(),
                u.first_name,
                u.last_name,
                u.alias,
                u.avatar_id.map(|a| a.as_bytes().to_vec()),
                u.avatar_url,
                u.is_bot,
                u.is_deleted,
                u.perm_reports,
                u.perm_settings,
                u.updated_at
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
        Ok(self
            .conn()
            .prepare_cached(const_sql!("SELECT {USER_COLS} FROM users WHERE id = ?1"))?
            .query_row([id.as_bytes()], user_row)
            .optional()?)
    }

    fn user_with_org(&self, id: Uuid) -> Result<Option<(UserRecord, Option<OrgRecord>)>> {
        let sql = const_sql!(
            "SELECT {}, {} FROM users u LEFT JOIN organizations o ON o.id = u.organization_id WHERE u.id = ?1",
            qualified(USER_COLS, "u"),
            qualified(ORG_COLS, "o")
        );
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row([id.as_bytes()], |r| {
                let org = match r.get_ref(USER_COLS_LEN)? {
                    rusqlite::types::ValueRef::Null => None,
                    _ => Some(org_row_at(r, USER_COLS_LEN)?),
                };
                Ok((user_row_at(r, 0)?, org))
            })
            .optional()?)
    }

    fn users_of_org(&self, org: Uuid, k: &Keyset) -> Result<Vec<UserRecord>> {
        self.keyset_query(
            const_sql!("SELECT {USER_COLS} FROM users WHERE organization_id = ?"),
            vec![blob(org)],
            k,
            user_row,
        )
    }

    fn insert_token(&self, id: Uuid, user: Uuid, token_hash: &[u8], now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id.as_bytes(), user.as_bytes(), token_hash, now],
        )?;
        Ok(())
    }

    fn delete_token(&self, user: Uuid, id: Uuid) -> Result<bool> {
        let deleted = self.exec(
            "DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2",
            params![id.as_bytes(), user.as_bytes()],
        )? > 0;
        if deleted {
            self.record(Change::Credentials);
        }
        Ok(deleted)
    }

    fn user_by_token(&self, token_hash: &[u8]) -> Result<Option<Uuid>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT user_id FROM api_tokens WHERE token_hash = ?1")?
            .query_row([token_hash], |r| uuid_col(r, 0))
            .optional()?)
    }

    fn insert_team(&self, t: &TeamRecord) -> Result<()> {
        self.exec(
            "INSERT INTO teams (id, organization_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![t.id.as_bytes(), t.organization_id.as_bytes(), t.name, t.created_at, t.updated_at],
        )?;
        self.record(Change::Directory(DirectoryItem::Team(t.id)));
        Ok(())
    }

    fn team(&self, id: Uuid) -> Result<Option<TeamRecord>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, organization_id, name, created_at, updated_at FROM teams WHERE id = ?1",
            )?
            .query_row([id.as_bytes()], team_row)
            .optional()?)
    }

    fn teams_of_org(&self, org: Uuid, k: &Keyset) -> Result<Vec<TeamRecord>> {
        self.keyset_query("SELECT id, organization_id, name, created_at, updated_at FROM teams WHERE organization_id = ?", vec![blob(org)], k, team_row)
    }

    fn set_team_member(&self, team: Uuid, user: Uuid, member: bool) -> Result<bool> {
        let n = if member {
            self.exec(
                "INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?1, ?2)",
                params![team.as_bytes(), user.as_bytes()],
            )?
        } else {
            self.exec(
                "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2",
                params![team.as_bytes(), user.as_bytes()],
            )?
        };
        if n > 0 {
            self.record(Change::Directory(DirectoryItem::Team(team)));
        }
        Ok(n > 0)
    }

    fn team_member_ids(&self, team: Uuid) -> Result<Vec<Uuid>> {
        let mut st = self.conn().prepare_cached(
            "SELECT user_id FROM team_members WHERE team_id = ?1 ORDER BY user_id",
        )?;
        let rows = st.query_map([team.as_bytes()], |r| uuid_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn team_presence(&self, team: Uuid, now: Millis) -> Result<(i64, i64)> {
        Ok(self.conn().prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(u.present_until > ?2), 0) FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = ?1 AND u.is_deleted = 0",
        )?
        .query_row(params![team.as_bytes(), now], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    fn share_team(&self, team: Uuid, org: Uuid) -> Result<()> {
        self.exec(
            "INSERT OR IGNORE INTO team_shares (team_id, organization_id) VALUES (?1, ?2)",
            params![team.as_bytes(), org.as_bytes()],
        )?;
        Ok(())
    }

    fn team_shared_with(&self, team: Uuid, org: Uuid) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT 1 FROM team_shares WHERE team_id = ?1 AND organization_id = ?2",
            )?
            .query_row(params![team.as_bytes(), org.as_bytes()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn insert_router(&self, r: &RouterRecord) -> Result<()> {
        self.exec(
            "INSERT INTO routers (id, organization_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                r.id.as_bytes(),
                r.organization_id.as_bytes(),
                r.name,
                r.created_at
            ],
        )?;
        for (i, step) in r.steps.iter().enumerate() {
            for u in &step.user_ids {
                self.exec(
                    "INSERT OR IGNORE INTO router_steps (router_id, step_index, member_kind, member_id) VALUES (?1, ?2, 'user', ?3)",
                    params![r.id.as_bytes(), i as i64, u.as_bytes()],
                )?;
            }
            for t in &step.team_ids {
                self.exec(
                    "INSERT OR IGNORE INTO router_steps (router_id, step_index, member_kind, member_id) VALUES (?1, ?2, 'team', ?3)",
                    params![r.id.as_bytes(), i as i64, t.as_bytes()],
                )?;
            }
        }
        self.record(Change::Directory(DirectoryItem::Router(r.id)));
        Ok(())
    }

    fn router(&self, id: Uuid) -> Result<Option<RouterRecord>> {
        let head = self
            .conn()
            .prepare_cached(
                "SELECT id, organization_id, name, created_at FROM routers WHERE id = ?1",
            )?
            .query_row([id.as_bytes()], |r| {
                Ok((
                    uuid_col(r, 0)?,
                    uuid_col(r, 1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        let Some((id, organization_id, name, created_at)) = head else {
            return Ok(None);
        };
        let mut st = self.conn().prepare_cached("SELECT step_index, member_kind, member_id FROM router_steps WHERE router_id = ?1 ORDER BY step_index, member_kind, member_id")?;
        let rows = st.query_map([id.as_bytes()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, uuid_col(r, 2)?))
        })?;
        let mut steps: Vec<RouterStep> = vec![];
        for row in rows {
            let (i, kind, member) = row?;
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
        let ids: Vec<Uuid> = {
            let mut st = self.conn().prepare_cached(
                "SELECT id FROM routers WHERE organization_id = ?1 ORDER BY created_at, id",
            )?;
            let rows = st.query_map([org.as_bytes()], |r| uuid_col(r, 0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
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
            const_sql!("INSERT INTO rooms ({ROOM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                r.id.as_bytes(),
                r.organization_id.as_bytes(),
                r.name,
                r.language_code,
                r.ttl_s,
                r.router_id.map(|x| x.as_bytes().to_vec()),
                r.created_at,
                r.updated_at
            ],
        )?;
        self.record(Change::Directory(DirectoryItem::Room(r.id)));
        Ok(())
    }

    fn update_room(&self, r: &RoomRecord) -> Result<()> {
        self.exec(
            "UPDATE rooms SET name = ?2, language_code = ?3, ttl_s = ?4, router_id = ?5, updated_at = ?6 WHERE id = ?1",
            params![r.id.as_bytes(), r.name, r.language_code, r.ttl_s, r.router_id.map(|x| x.as_bytes().to_vec()), r.updated_at],
        )?;
        self.record(Change::Directory(DirectoryItem::Room(r.id)));
        Ok(())
    }

    fn room(&self, id: Uuid) -> Result<Option<RoomRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!("SELECT {ROOM_COLS} FROM rooms WHERE id = ?1"))?
            .query_row([id.as_bytes()], room_row)
            .optional()?)
    }

    fn rooms_of_org(&self, org: Uuid, k: &Keyset) -> Result<Vec<RoomRecord>> {
        self.keyset_query(
            const_sql!("SELECT {ROOM_COLS} FROM rooms WHERE organization_id = ?"),
            vec![blob(org)],
            k,
            room_row,
        )
    }

    fn set_room_allowed_tags(&self, room: Uuid, names: &[String], now: Millis) -> Result<()> {
        let removed = self.exec_returning(
            "DELETE FROM room_allowed_tags WHERE room_id = ?1 AND name NOT IN (SELECT value FROM json_each(?2)) RETURNING name",
            params![room.as_bytes(), serde_json::to_string(names)?],
            |r| r.get::<_, String>(0),
        )?;
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
        let added = self.exec("INSERT OR IGNORE INTO room_allowed_tags (room_id, name, created_at) VALUES (?1, ?2, ?3)", params![room.as_bytes(), name, now])? > 0;
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
        let mut st = self.conn().prepare_cached("SELECT name, created_at FROM room_allowed_tags WHERE room_id = ?1 ORDER BY created_at, name")?;
        let rows = st.query_map([room.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn share_room(&self, room: Uuid, org: Uuid) -> Result<()> {
        self.exec(
            "INSERT OR IGNORE INTO room_shares (room_id, organization_id) VALUES (?1, ?2)",
            params![room.as_bytes(), org.as_bytes()],
        )?;
        self.record(Change::Directory(DirectoryItem::Room(room)));
        Ok(())
    }

    fn room_shares(&self, room: Uuid) -> Result<Vec<Uuid>> {
        let mut st = self.conn().prepare_cached(
            "SELECT organization_id FROM room_shares WHERE room_id = ?1 ORDER BY organization_id",
        )?;
        let rows = st.query_map([room.as_bytes()], |r| uuid_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn room_routed_to_user(&self, room: Uuid, user: Uuid) -> Result<bool> {
        let sql = const_sql!(
            "SELECT 1 FROM ({ROOM_ROUTING_SQL}) WHERE room_id = ?1 AND user_id = ?2 LIMIT 1"
        );
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .exists(params![room.as_bytes(), user.as_bytes()])?)
    }

    fn room_accessible_to_user(&self, room: Uuid, user: Uuid) -> Result<bool> {
        let sql = const_sql!(
            "SELECT 1 FROM ({}) WHERE room_id = ?1 AND user_id = ?2 LIMIT 1",
            room_access_sql()
        );
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .exists(params![room.as_bytes(), user.as_bytes()])?)
    }

    fn insert_visitor(&self, v: &VisitorRecord, secret_hash: Option<&[u8]>) -> Result<()> {
        self.exec(
            "INSERT INTO visitors (id, organization_id, name, secret_hash, present_until, sensitive_data_purged_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![v.id.as_bytes(), v.organization_id.as_bytes(), v.name, secret_hash, v.present_until, v.sensitive_data_purged_at, v.created_at, v.updated_at],
        )?;
        Ok(())
    }

    fn update_visitor(&self, v: &VisitorRecord) -> Result<()> {
        self.exec(
            "UPDATE visitors SET name = ?2, sensitive_data_purged_at = ?3, updated_at = ?4 WHERE id = ?1",
            params![v.id.as_bytes(), v.name, v.sensitive_data_purged_at, v.updated_at],
        )?;
        self.record(Change::Member(v.id));
        Ok(())
    }

    fn visitor(&self, id: Uuid) -> Result<Option<VisitorRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!(
                "SELECT {VISITOR_COLS} FROM visitors WHERE id = ?1"
            ))?
            .query_row([id.as_bytes()], visitor_row)
            .optional()?)
    }

    fn visitor_by_secret(&self, org: Uuid, secret_hash: &[u8]) -> Result<Option<VisitorRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!("SELECT {VISITOR_COLS} FROM visitors WHERE secret_hash = ?1 AND organization_id = ?2"))?
            .query_row(params![secret_hash, org.as_bytes()], visitor_row)
            .optional()?)
    }

    fn insert_visitor_token(
        &self,
        token_hash: &[u8],
        visitor: Uuid,
        expires_at: Millis,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO visitor_tokens (token_hash, visitor_id, expires_at) VALUES (?1, ?2, ?3)",
            params![token_hash, visitor.as_bytes(), expires_at],
        )?;
        Ok(())
    }

    fn visitor_by_token(&self, token_hash: &[u8], now: Millis) -> Result<Option<(Uuid, Millis)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT visitor_id, expires_at FROM visitor_tokens WHERE token_hash = ?1 AND expires_at > ?2",
            )?
            .query_row(params![token_hash, now], |r| Ok((uuid_col(r, 0)?, r.get(1)?)))
            .optional()?)
    }

    fn add_visitor_to_room(&self, visitor: Uuid, room: Uuid, now: Millis) -> Result<bool> {
        Ok(self.exec("INSERT OR IGNORE INTO visitor_rooms (visitor_id, room_id, created_at) VALUES (?1, ?2, ?3)", params![visitor.as_bytes(), room.as_bytes(), now])? > 0)
    }

    fn visitor_in_room(&self, visitor: Uuid, room: Uuid) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM visitor_rooms WHERE visitor_id = ?1 AND room_id = ?2")?
            .query_row(params![visitor.as_bytes(), room.as_bytes()], |_| Ok(()))
            .optional()?
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
            "INSERT INTO visitor_variables (visitor_id, room_id, key, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (visitor_id, room_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![visitor.as_bytes(), room.as_bytes(), key, value, now],
        )?;
        Ok(())
    }

    fn visitor_variables(&self, visitor: Uuid, room: Uuid) -> Result<Vec<(String, String)>> {
        let mut st = self.conn().prepare_cached("SELECT key, value FROM visitor_variables WHERE visitor_id = ?1 AND room_id = ?2 ORDER BY key")?;
        let rows = st.query_map(params![visitor.as_bytes(), room.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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
            "INSERT INTO presence_clients (id, user_id, visitor_id, expires_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            params![id.as_bytes(), u.map(|x| x.as_bytes().to_vec()), v.map(|x| x.as_bytes().to_vec()), expires_at, now],
        )?;
        if let Some(user) = u {
            self.record(Change::Directory(DirectoryItem::Client { id, user }));
        }
        self.refresh_present_until(holder, now)
    }

    fn presence_clients_of_user(
        &self,
        user: Uuid,
        now: Millis,
        k: &Keyset,
    ) -> Result<Vec<PresenceClientRecord>> {
        self.keyset_query(
            "SELECT id, created_at, updated_at, expires_at FROM presence_clients \
             WHERE user_id = ? AND expires_at > ?",
            vec![blob(user), Value::Integer(now)],
            k,
            |r| {
                Ok(PresenceClientRecord {
                    id: uuid_col(r, 0)?,
                    created_at: r.get(1)?,
                    updated_at: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            },
        )
    }

    fn delete_presence_client(&self, id: Uuid, now: Millis) -> Result<Option<PresenceHolder>> {
        let holder = self.presence_client_holder(id)?;
        if let Some(h) = holder {
            self.exec(
                "DELETE FROM presence_clients WHERE id = ?1",
                [id.as_bytes()],
            )?;
            if let PresenceHolder::User(user) = h {
                self.record(Change::Directory(DirectoryItem::Client { id, user }));
            }
            self.refresh_present_until(h, now)?;
        }
        Ok(holder)
    }

    fn presence_client(&self, id: Uuid, now: Millis) -> Result<Option<PresenceClientRecord>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, created_at, updated_at, expires_at FROM presence_clients \
                 WHERE id = ?1 AND expires_at > ?2",
            )?
            .query_row(params![id.as_bytes(), now], |r| {
                Ok(PresenceClientRecord {
                    id: uuid_col(r, 0)?,
                    created_at: r.get(1)?,
                    updated_at: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn teams_of_user(&self, user: Uuid) -> Result<Vec<Uuid>> {
        let mut st = self.conn().prepare_cached(
            "SELECT team_id FROM team_members WHERE user_id = ?1 ORDER BY team_id",
        )?;
        let rows = st.query_map([user.as_bytes()], |r| uuid_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn presence_client_holder(&self, id: Uuid) -> Result<Option<PresenceHolder>> {
        let row = self
            .conn()
            .prepare_cached("SELECT user_id, visitor_id FROM presence_clients WHERE id = ?1")?
            .query_row([id.as_bytes()], |r| {
                Ok((uuid_opt_col(r, 0)?, uuid_opt_col(r, 1)?))
            })
            .optional()?;
        Ok(row.and_then(|(u, v)| holder_of(u, v)))
    }

    fn clear_presence(&self, holder: PresenceHolder, now: Millis) -> Result<()> {
        let cleared = match holder {
            PresenceHolder::User(u) => {
                let ids = self.exec_returning(
                    "DELETE FROM presence_clients WHERE user_id = ?1 RETURNING id",
                    [u.as_bytes()],
                    |r| uuid_col(r, 0),
                )?;
                for id in &ids {
                    self.record(Change::Directory(DirectoryItem::Client {
                        id: *id,
                        user: u,
                    }));
                }
                ids.len()
            }
            PresenceHolder::Visitor(v) => self.exec(
                "DELETE FROM presence_clients WHERE visitor_id = ?1",
                [v.as_bytes()],
            )?,
        };
        if cleared > 0 {
            self.record(Change::Presence(holder.id()));
        }
        self.refresh_present_until(holder, now)
    }

    fn expire_presence_clients(&self, now: Millis) -> Result<usize> {
        // present_until already reflects expiry at read time; this only drops dead rows.
        let expired: Vec<(Uuid, PresenceHolder)> = {
            let mut st = self.conn().prepare_cached(
                "SELECT id, user_id, visitor_id FROM presence_clients WHERE expires_at <= ?1",
            )?;
            let rows = st.query_map([now], |r| {
                Ok((uuid_col(r, 0)?, uuid_opt_col(r, 1)?, uuid_opt_col(r, 2)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter_map(|(id, u, v)| holder_of(u, v).map(|h| (id, h)))
                .collect()
        };
        let n = self.exec("DELETE FROM presence_clients WHERE expires_at <= ?1", [now])?;
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
            self.refresh_present_until(h, now)?;
        }
        Ok(n)
    }
}
