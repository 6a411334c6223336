//! SQL of chats.

use super::{SqliteTx, blob, uuid_col, uuid_opt_col};
use crate::chats::{
    ChatFilter, ChatRecord, ChatSelection, IDLE_SQL, MemberRows, TTL_PASSED_SQL,
    derived_counts_sql, pending_sql,
};
use crate::clock::Millis;
use crate::directory::{ROOM_ROUTING_SQL, room_access_sql};
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::ChatStore;
use crate::store::changes::Change;
use crate::store::columns::CHAT_BASE_COLS;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

/// The key a one-chat read finds its chat by (`?2`).
#[derive(Clone, Copy)]
pub(super) enum ChatKey {
    Pk,
    Id,
}

/// One chat's columns (`?1`: now), then `more` (each with its leading comma, read by position
/// after the chat's), by its pk or id (`?2`).
pub(super) fn one_chat_sql(key: ChatKey, more: &str) -> String {
    let (key, chat_pk) = match key {
        ChatKey::Pk => ("c.pk", "?2"),
        ChatKey::Id => ("c.id", "(SELECT pk FROM chats WHERE id = ?2)"),
    };
    format!(
        "SELECT {CHAT_BASE_COLS}, {}{more} FROM {} CROSS JOIN chats c \
         LEFT JOIN rooms r ON r.id = c.room_id WHERE {key} = ?2",
        derived_of_one_cols(),
        derived_of_one(chat_pk)
    )
}

/// The four derived counts of one chat whose pk is `chat_pk` (SQL), in one pass over its
/// memberships, as the subquery `d` ([`derived_of_one_cols`] reads it). Placed first in the
/// FROM list, SQLite runs it as a co-routine (placed after `chats` it materialized it in an
/// ephemeral table). The same counts as [`derived_per_row`], which lists use (per row): four
/// scans of the chat's memberships. The counts were ≈ 13 k instructions of each chat read of a
/// message send (`send_loop`); in one pass, the publication's read costs ≈ 4 k less
/// (`docs/PERFORMANCE.md`). Both forms are built from
/// [`crate::chats::derived_counts_sql`].
fn derived_of_one(chat_pk: &str) -> String {
    let counts = derived_counts_sql();
    let filtered = counts
        .iter()
        .map(|c| format!("count(*) FILTER (WHERE {}) AS {}", c.condition, c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows: Vec<MemberRows> = counts.iter().filter_map(|c| c.reads).collect();
    rows.dedup();
    let joins: String = rows
        .iter()
        .map(|r| {
            format!(
                " LEFT JOIN {} {a} ON m.member_type = '{}' AND {a}.id = m.member_id",
                r.table,
                r.kind,
                a = r.alias
            )
        })
        .collect();
    format!("(SELECT {filtered} FROM memberships m{joins} WHERE m.chat_pk = {chat_pk}) d")
}

/// The derived counts as [`derived_of_one`]'s `d` gives them.
fn derived_of_one_cols() -> String {
    derived_counts_sql()
        .iter()
        .map(|c| format!("d.{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The derived counts of the chat `c` of each row (`?1`: now), each a correlated count of its
/// memberships.
fn derived_per_row() -> String {
    derived_counts_sql()
        .iter()
        .map(|c| {
            let join = c.reads.map_or(String::new(), |r| {
                format!(" JOIN {} {a} ON {a}.id = m.member_id", r.table, a = r.alias)
            });
            format!(
                "(SELECT COUNT(*) FROM memberships m{join} WHERE m.chat_pk = c.pk AND {})",
                c.condition
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn chat_row(r: &Row<'_>) -> rusqlite::Result<ChatRecord> {
    Ok(ChatRecord {
        pk: r.get(0)?,
        id: uuid_col(r, 1)?,
        room_id: uuid_opt_col(r, 2)?,
        room_organization_id: uuid_col(r, 3)?,
        chat_type: r.get(4)?,
        visitor_id: uuid_opt_col(r, 5)?,
        is_private: r.get(6)?,
        is_encrypted: r.get(7)?,
        encrypted_symmetric_key: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        is_ended: r.get(11)?,
        ended_at: r.get(12)?,
        is_waiting: r.get(13)?,
        waiting_started_at: r.get(14)?,
        message_count: r.get(15)?,
        user_message_count: r.get(16)?,
        visitor_message_count: r.get(17)?,
        tag_count: r.get(18)?,
        is_autosuggested: r.get(19)?,
        first_visitor_message_url: r.get(20)?,
        first_visitor_message_url_title: r.get(21)?,
        autosuggest_url: r.get(22)?,
        autosuggest_url_title: r.get(23)?,
        first_visitor_msg_at: r.get(24)?,
        first_reply_at: r.get(25)?,
        first_msg_at: r.get(26)?,
        last_msg_at: r.get(27)?,
        active_ms: r.get(28)?,
        last_activity_at: r.get(29)?,
        next_message_seq: r.get(30)?,
        token: r.get(31)?,
        room_name: r.get(32)?,
        present_users: r.get(33)?,
        present_visitors: r.get(34)?,
        user_members: r.get(35)?,
        visitor_members: r.get(36)?,
    })
}

/// Appends `cond` with its parameters.
fn and(
    sql: &mut String,
    params: &mut Vec<Value>,
    cond: &str,
    values: impl IntoIterator<Item = Value>,
) {
    sql.push_str(" AND ");
    sql.push_str(cond);
    params.extend(values);
}

impl ChatStore for SqliteTx<'_> {
    fn insert_chat(&self, c: &ChatRecord) -> Result<i64> {
        self.exec(
            "INSERT INTO chats (id, room_id, room_organization_id, chat_type, visitor_id, is_private, is_encrypted, encrypted_symmetric_key, \
             created_at, updated_at, last_activity_at, next_message_seq, token, activity_minute) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?11 / 60000)",
            params![
                c.id.as_bytes(),
                c.room_id.map(|r| r.as_bytes().to_vec()),
                c.room_organization_id.as_bytes(),
                c.chat_type,
                c.visitor_id.map(|v| v.as_bytes().to_vec()),
                c.is_private,
                c.is_encrypted,
                c.encrypted_symmetric_key,
                c.created_at,
                c.updated_at,
                c.last_activity_at,
                c.next_message_seq,
                c.token
            ],
        )?;
        let pk = self.conn().last_insert_rowid();
        self.record(Change::Chat(pk));
        Ok(pk)
    }

    fn update_chat(&self, c: &ChatRecord) -> Result<()> {
        // Two statements (see migration 0009): SQLite rewrites an index entry whenever a
        // column of its key or partial WHERE is assigned, equal or not, so the columns the
        // indexes `chats_open_activity` and `chats_waiting` select by are set by the second
        // statement only, and only when one of them changes (a message moves its chat's
        // minute at most once a minute).
        self.exec(
            "UPDATE chats SET updated_at = ?2, ended_at = ?3, waiting_started_at = ?4, \
             message_count = ?5, user_message_count = ?6, visitor_message_count = ?7, tag_count = ?8, is_autosuggested = ?9, \
             first_visitor_message_url = ?10, first_visitor_message_url_title = ?11, autosuggest_url = ?12, autosuggest_url_title = ?13, \
             first_visitor_msg_at = ?14, first_reply_at = ?15, first_msg_at = ?16, last_msg_at = ?17, active_ms = ?18, \
             last_activity_at = ?19, next_message_seq = ?20, encrypted_symmetric_key = ?21 WHERE pk = ?1",
            params![
                c.pk,
                c.updated_at,
                c.ended_at,
                c.waiting_started_at,
                c.message_count,
                c.user_message_count,
                c.visitor_message_count,
                c.tag_count,
                c.is_autosuggested,
                c.first_visitor_message_url,
                c.first_visitor_message_url_title,
                c.autosuggest_url,
                c.autosuggest_url_title,
                c.first_visitor_msg_at,
                c.first_reply_at,
                c.first_msg_at,
                c.last_msg_at,
                c.active_ms,
                c.last_activity_at,
                c.next_message_seq,
                c.encrypted_symmetric_key
            ],
        )?;
        self.exec(
            "UPDATE chats SET is_ended = ?2, is_waiting = ?3, activity_minute = last_activity_at / 60000 \
             WHERE pk = ?1 AND (is_ended <> ?2 OR is_waiting <> ?3 OR activity_minute <> last_activity_at / 60000)",
            params![c.pk, c.is_ended, c.is_waiting],
        )?;
        self.record(Change::ChatWritten(Box::new(c.clone())));
        Ok(())
    }

    fn chat_by_id(&self, id: Uuid, now: Millis) -> Result<Option<ChatRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!("{}", one_chat_sql(ChatKey::Id, "")))?
            .query_row(params![now, id.as_bytes()], chat_row)
            .optional()?)
    }

    fn chat_by_pk(&self, pk: i64, now: Millis) -> Result<Option<ChatRecord>> {
        // Built once (every send reads its chat by pk at least once).
        Ok(self
            .conn()
            .prepare_cached(const_sql!("{}", one_chat_sql(ChatKey::Pk, "")))?
            .query_row(params![now, pk], chat_row)
            .optional()?)
    }

    fn select_chats(
        &self,
        sel: &ChatSelection,
        f: &ChatFilter,
        k: &Keyset,
        now: Millis,
    ) -> Result<Vec<ChatRecord>> {
        // Two phases: the page's keys first (conditions, order, limit on `chats` alone), then
        // the full columns for those rows only. The columns include correlated counts; in one
        // query SQLite computes them for every candidate row before sorting (a pending list
        // sorts all waiting chats of the rooms), here only for the page.
        // One chat by id: membership conditions as correlated lookups (`EXISTS`) rather than
        // `IN (list)`, which SQLite materializes in an ephemeral table per execution.
        let single = f.only_id.is_some();
        let mut sql = "WHERE 1".to_string();
        let mut p: Vec<Value> = vec![Value::Integer(now)];
        let pending = const_sql!("{}", pending_sql());
        match sel {
            ChatSelection::Room(room) => and(&mut sql, &mut p, "c.room_id = ?", [blob(*room)]),
            ChatSelection::RoomPending(room) => and(
                &mut sql,
                &mut p,
                &format!("c.room_id = ? AND {pending}"),
                [blob(*room)],
            ),
            ChatSelection::RoomVisitor { room, visitor } => and(
                &mut sql,
                &mut p,
                if single {
                    "c.room_id = ? AND EXISTS (SELECT 1 FROM memberships WHERE chat_pk = c.pk AND member_id = ?)"
                } else {
                    "c.room_id = ? AND c.pk IN (SELECT chat_pk FROM memberships WHERE member_id = ?)"
                },
                [blob(*room), blob(*visitor)],
            ),
            ChatSelection::OrgOwned(org) => {
                and(&mut sql, &mut p, "c.room_organization_id = ?", [blob(*org)])
            }
            ChatSelection::OrgInvolved(org) => and(
                &mut sql,
                &mut p,
                "EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.member_id WHERE m.chat_pk = c.pk AND m.member_type = 'user' AND u.organization_id = ?)",
                [blob(*org)],
            ),
            ChatSelection::OrgRouted { org, all_shared } => and(
                &mut sql,
                &mut p,
                "(c.room_organization_id = ? OR c.room_id IN (SELECT rs.room_id FROM room_shares rs JOIN rooms r2 ON r2.id = rs.room_id \
                   JOIN organizations o2 ON o2.id = r2.organization_id WHERE rs.organization_id = ? AND (? OR o2.private_chat_history = 0)))",
                [
                    blob(*org),
                    blob(*org),
                    Value::Integer(i64::from(*all_shared)),
                ],
            ),
            ChatSelection::UserPending { user } => {
                // ?2 (the user) comes first: bind it before the other conditions' parameters.
                sql = const_sql!(
                    "WHERE c.room_id IN (SELECT room_id FROM ({}) WHERE user_id = ?2) AND {}",
                    room_access_sql(),
                    pending_sql()
                )
                .to_string();
                p.push(blob(*user));
            }
            ChatSelection::UserRouted { user } => {
                sql = const_sql!(
                    "WHERE c.room_id IN (SELECT room_id FROM ({ROOM_ROUTING_SQL}) WHERE user_id = ?2)"
                )
                .to_string();
                p.push(blob(*user));
            }
            ChatSelection::UserMember(user) => and(
                &mut sql,
                &mut p,
                if single {
                    "EXISTS (SELECT 1 FROM memberships WHERE chat_pk = c.pk AND member_id = ?)"
                } else {
                    "c.pk IN (SELECT chat_pk FROM memberships WHERE member_id = ?)"
                },
                [blob(*user)],
            ),
            ChatSelection::All => {}
        }
        let flag = |b: bool| Value::Integer(i64::from(b));
        if let Some(b) = f.is_waiting {
            and(&mut sql, &mut p, "c.is_waiting = ?", [flag(b)]);
        }
        if let Some(b) = f.is_ended {
            and(&mut sql, &mut p, "c.is_ended = ?", [flag(b)]);
        }
        if let Some(b) = f.has_messages {
            and(&mut sql, &mut p, "(c.message_count > 0) = ?", [flag(b)]);
        }
        if let Some(b) = f.has_user_messages {
            and(
                &mut sql,
                &mut p,
                "(c.user_message_count > 0) = ?",
                [flag(b)],
            );
        }
        if let Some(b) = f.has_visitor_messages {
            and(
                &mut sql,
                &mut p,
                "(c.visitor_message_count > 0) = ?",
                [flag(b)],
            );
        }
        if let Some(t) = f.created_after {
            and(&mut sql, &mut p, "c.created_at > ?", [Value::Integer(t)]);
        }
        if let Some(t) = f.created_before {
            and(&mut sql, &mut p, "c.created_at < ?", [Value::Integer(t)]);
        }
        if let Some((member, b)) = f.participating {
            and(
                &mut sql,
                &mut p,
                "EXISTS (SELECT 1 FROM memberships m WHERE m.chat_pk = c.pk AND m.member_id = ? AND m.is_participating = ?)",
                [blob(member), flag(b)],
            );
        }
        if let Some(id) = f.only_id {
            and(&mut sql, &mut p, "c.id = ?", [blob(id)]);
        }
        let col = if f.ordering.by_updated() {
            "c.updated_at"
        } else {
            "c.created_at"
        };
        if let (Some(cond), Some(after)) = (k.beyond_sql(col, "c.id"), &k.after) {
            and(
                &mut sql,
                &mut p,
                &cond,
                [
                    Value::Integer(after.primary),
                    Value::Blob(after.tie.clone()),
                ],
            );
        }
        let order = k.order_sql(col, "c.id");
        let sql = if single {
            // At most one row: one phase. (The two-phase form materializes its key list in an
            // ephemeral table, whose fresh page cache costs more than the rest of the lookup.)
            // No ORDER BY either: one row needs no order, and SQLite sorted it in a temporary
            // b-tree (a sorter per call; ≈ 3 µs of a message send's chat lookup).
            // Appended to the constant head (formatting the whole text was ≈ 1.5 % of a send).
            // The counts as in lists: in one pass (`derived_of_one`) they would need the
            // chat's id as a parameter ahead of the conditions', some of which are numbered.
            let head = const_sql!(
                "SELECT {CHAT_BASE_COLS}, {} FROM chats c LEFT JOIN rooms r ON r.id = c.room_id ",
                derived_per_row()
            );
            let mut q = String::with_capacity(head.len() + sql.len() + 32);
            q.push_str(head);
            q.push_str(&sql);
            q.push_str(" LIMIT ");
            q.push_str(&k.limit.to_string());
            q
        } else {
            // `?1` (now) is bound in both phases; the other parameters keep their textual order.
            let head = const_sql!(
                "SELECT {CHAT_BASE_COLS}, {} FROM chats c LEFT JOIN rooms r ON r.id = c.room_id",
                derived_per_row()
            );
            format!("{head} WHERE c.pk IN (SELECT c.pk FROM chats c {sql} {order}) {order}")
        };
        let mut st = self.conn().prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(p), chat_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn open_visitor_chat(
        &self,
        visitor: Uuid,
        room: Uuid,
        now: Millis,
    ) -> Result<Option<ChatRecord>> {
        let sql = const_sql!(
            "SELECT {CHAT_BASE_COLS}, {} FROM chats c LEFT JOIN rooms r ON r.id = c.room_id \
             WHERE c.visitor_id = ?2 AND c.room_id = ?3 AND c.is_ended = 0 ORDER BY c.created_at DESC, c.id DESC LIMIT 1",
            derived_per_row()
        );
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row(params![now, visitor.as_bytes(), room.as_bytes()], chat_row)
            .optional()?)
    }

    fn chats_due_to_end(&self, now: Millis, limit: usize) -> Result<Vec<i64>> {
        // The rule's two branches (`IDLE_SQL`, `TTL_PASSED_SQL`), each indexed, instead of a
        // scan of every chat: idle chats through the open-activity index (bounded by the
        // shortest idle timeout of any organization, `?3`, which the idle condition implies),
        // tasks past their ttl through the rooms that have one. `INDEXED BY`: for the UNION's
        // merge the bundled SQLite (3.54, planner stability on) preferred scanning every chat
        // in `pk` order to sorting the few the index range yields (4.6 ms per run at 1M
        // messages).
        let sql = const_sql!(
            "SELECT pk FROM ( \
               SELECT c.pk FROM chats c INDEXED BY chats_open_activity \
               JOIN organizations o ON o.id = c.room_organization_id \
               WHERE {IDLE_SQL} \
                 AND c.activity_minute <= ?3 / 60000 AND c.last_activity_at <= ?3 \
               UNION \
               SELECT c.pk FROM rooms r CROSS JOIN chats c ON c.room_id = r.id \
               WHERE {TTL_PASSED_SQL}) \
             ORDER BY pk LIMIT ?2"
        );
        // The shortest idle timeout bounds the index range (a bound parameter, so that the
        // planner uses the index whatever the SQLite version).
        let shortest: Option<i64> = self
            .conn()
            .prepare_cached("SELECT min(chat_idle_timeout_s) FROM organizations")?
            .query_row([], |r| r.get(0))?;
        let bound = shortest.map_or(i64::MIN, |t| now.saturating_sub(t.saturating_mul(1000)));
        let mut st = self.conn().prepare_cached(sql)?;
        let rows = st.query_map(params![now, limit as i64, bound], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
