//! SQL of chats on PostgreSQL.

use super::{PgTx, flag, flag_value, inner_joins, uuid_tie};
use crate::chats::{
    ChatFilter, ChatRecord, ChatSelection, IDLE_SQL, MemberRows, NewChatRecord, TTL_PASSED_SQL,
    derived_counts_sql, pending_sql,
};
use crate::clock::Millis;
use crate::directory::{ROOM_ROUTING_SQL, room_access_sql};
use crate::error::Result;
use crate::pagination::Keyset;
use crate::store::ChatStore;
use crate::store::changes::Change;
use crate::store::columns::CHAT_BASE_COLS;
use postgres::types::ToSql;
use std::sync::LazyLock;
use uuid::Uuid;

/// A statement text built once (from the SQL fragments the rules define).
macro_rules! const_sql {
    ($($fmt:tt)*) => {{
        static SQL: LazyLock<String> = LazyLock::new(|| format!($($fmt)*));
        SQL.as_str()
    }};
}

/// A dynamic statement parameter.
type Param = Box<dyn ToSql + Sync>;

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
/// memberships, as the subquery `d` ([`derived_of_one_cols`] reads it). The same counts as
/// [`derived_per_row`], which lists use (per row). Both forms are built from
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

/// A chat read from the columns of [`CHAT_BASE_COLS`] and the four derived counts (37 columns
/// from the first).
pub(super) fn chat_row(r: &postgres::Row) -> Result<ChatRecord> {
    Ok(ChatRecord {
        pk: r.try_get(0)?,
        id: r.try_get(1)?,
        room_id: r.try_get(2)?,
        room_organization_id: r.try_get(3)?,
        chat_type: r.try_get(4)?,
        visitor_id: r.try_get(5)?,
        is_private: flag(r, 6)?,
        is_encrypted: flag(r, 7)?,
        encrypted_symmetric_key: r.try_get(8)?,
        created_at: r.try_get(9)?,
        updated_at: r.try_get(10)?,
        is_ended: flag(r, 11)?,
        ended_at: r.try_get(12)?,
        is_waiting: flag(r, 13)?,
        waiting_started_at: r.try_get(14)?,
        message_count: r.try_get(15)?,
        user_message_count: r.try_get(16)?,
        visitor_message_count: r.try_get(17)?,
        tag_count: r.try_get(18)?,
        is_autosuggested: flag(r, 19)?,
        first_visitor_message_url: r.try_get(20)?,
        first_visitor_message_url_title: r.try_get(21)?,
        autosuggest_url: r.try_get(22)?,
        autosuggest_url_title: r.try_get(23)?,
        first_visitor_msg_at: r.try_get(24)?,
        first_reply_at: r.try_get(25)?,
        first_msg_at: r.try_get(26)?,
        last_msg_at: r.try_get(27)?,
        active_ms: r.try_get(28)?,
        last_activity_at: r.try_get(29)?,
        next_message_seq: r.try_get(30)?,
        token: r.try_get(31)?,
        room_name: r.try_get(32)?,
        present_users: r.try_get(33)?,
        present_visitors: r.try_get(34)?,
        user_members: r.try_get(35)?,
        visitor_members: r.try_get(36)?,
    })
}

/// Appends `cond` with its parameters.
fn and(sql: &mut String, params: &mut Vec<Param>, cond: &str, values: Vec<Param>) {
    sql.push_str(" AND ");
    sql.push_str(cond);
    params.extend(values);
}

impl ChatStore for PgTx<'_> {
    fn insert_chat(&self, c: &NewChatRecord) -> Result<i64> {
        // `?11` is cast where it is divided: a bare parameter in an expression would be typed
        // by the literal it meets (integer) rather than by its column.
        let row = self.query_one(
            "INSERT INTO chats (id, room_id, room_organization_id, chat_type, visitor_id, is_private, is_encrypted, encrypted_symmetric_key, \
             created_at, updated_at, last_activity_at, next_message_seq, token, activity_minute) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, CAST(?11 AS BIGINT) / 60000) RETURNING pk",
            &[
                &c.id,
                &c.room_id,
                &c.room_organization_id,
                &c.chat_type,
                &c.visitor_id,
                &flag_value(c.is_private),
                &flag_value(c.is_encrypted),
                &c.encrypted_symmetric_key,
                &c.created_at,
                &c.updated_at,
                &c.last_activity_at,
                &c.next_message_seq,
                &c.token,
            ],
        )?;
        let pk: i64 = row.try_get(0)?;
        self.record(Change::Chat(pk));
        Ok(pk)
    }

    fn update_chat(&self, c: &ChatRecord) -> Result<()> {
        // Two statements, as on SQLite: the columns the indexes `chats_open_activity` and
        // `chats_waiting` select by are set by the second statement only, and only when one of
        // them changes (a message moves its chat's minute at most once a minute), so that
        // their index entries are not rewritten by every message.
        self.exec(
            "UPDATE chats SET updated_at = ?2, ended_at = ?3, waiting_started_at = ?4, \
             message_count = ?5, user_message_count = ?6, visitor_message_count = ?7, tag_count = ?8, is_autosuggested = ?9, \
             first_visitor_message_url = ?10, first_visitor_message_url_title = ?11, autosuggest_url = ?12, autosuggest_url_title = ?13, \
             first_visitor_msg_at = ?14, first_reply_at = ?15, first_msg_at = ?16, last_msg_at = ?17, active_ms = ?18, \
             last_activity_at = ?19, next_message_seq = ?20, encrypted_symmetric_key = ?21 WHERE pk = ?1",
            &[
                &c.pk,
                &c.updated_at,
                &c.ended_at,
                &c.waiting_started_at,
                &c.message_count,
                &c.user_message_count,
                &c.visitor_message_count,
                &c.tag_count,
                &flag_value(c.is_autosuggested),
                &c.first_visitor_message_url,
                &c.first_visitor_message_url_title,
                &c.autosuggest_url,
                &c.autosuggest_url_title,
                &c.first_visitor_msg_at,
                &c.first_reply_at,
                &c.first_msg_at,
                &c.last_msg_at,
                &c.active_ms,
                &c.last_activity_at,
                &c.next_message_seq,
                &c.encrypted_symmetric_key,
            ],
        )?;
        self.exec(
            "UPDATE chats SET is_ended = ?2, is_waiting = ?3, activity_minute = last_activity_at / 60000 \
             WHERE pk = ?1 AND (is_ended <> ?2 OR is_waiting <> ?3 OR activity_minute <> last_activity_at / 60000)",
            &[
                &c.pk,
                &flag_value(c.is_ended),
                &flag_value(c.is_waiting),
            ],
        )?;
        self.record(Change::ChatWritten(Box::new(c.clone())));
        Ok(())
    }

    fn chat_by_id(&self, id: Uuid, now: Millis) -> Result<Option<ChatRecord>> {
        self.query_opt(
            const_sql!("{}", one_chat_sql(ChatKey::Id, "")),
            &[&now, &id],
        )?
        .as_ref()
        .map(chat_row)
        .transpose()
    }

    fn chat_by_pk(&self, pk: i64, now: Millis) -> Result<Option<ChatRecord>> {
        self.query_opt(
            const_sql!("{}", one_chat_sql(ChatKey::Pk, "")),
            &[&now, &pk],
        )?
        .as_ref()
        .map(chat_row)
        .transpose()
    }

    fn select_chats(
        &self,
        sel: &ChatSelection,
        f: &ChatFilter,
        k: &Keyset,
        now: Millis,
    ) -> Result<Vec<ChatRecord>> {
        // Two phases: the page's keys first (conditions, order, limit on `chats` alone), then
        // the full columns (with their correlated counts) for those rows only.
        let single = f.only_id.is_some();
        let mut sql = "WHERE TRUE".to_string();
        let mut p: Vec<Param> = vec![Box::new(now)];
        let pending = const_sql!("{}", pending_sql());
        match sel {
            ChatSelection::Room(room) => {
                and(&mut sql, &mut p, "c.room_id = ?", vec![Box::new(*room)])
            }
            ChatSelection::RoomPending(room) => and(
                &mut sql,
                &mut p,
                &format!("c.room_id = ? AND {pending}"),
                vec![Box::new(*room)],
            ),
            ChatSelection::RoomVisitor { room, visitor } => and(
                &mut sql,
                &mut p,
                if single {
                    "c.room_id = ? AND EXISTS (SELECT 1 FROM memberships WHERE chat_pk = c.pk AND member_id = ?)"
                } else {
                    "c.room_id = ? AND c.pk IN (SELECT chat_pk FROM memberships WHERE member_id = ?)"
                },
                vec![Box::new(*room), Box::new(*visitor)],
            ),
            ChatSelection::OrgOwned(org) => and(
                &mut sql,
                &mut p,
                "c.room_organization_id = ?",
                vec![Box::new(*org)],
            ),
            ChatSelection::OrgInvolved(org) => and(
                &mut sql,
                &mut p,
                "EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.member_id WHERE m.chat_pk = c.pk AND m.member_type = 'user' AND u.organization_id = ?)",
                vec![Box::new(*org)],
            ),
            ChatSelection::OrgRouted { org, all_shared } => and(
                &mut sql,
                &mut p,
                "(c.room_organization_id = ? OR c.room_id IN (SELECT rs.room_id FROM room_shares rs JOIN rooms r2 ON r2.id = rs.room_id \
                   JOIN organizations o2 ON o2.id = r2.organization_id WHERE rs.organization_id = ? AND (CAST(? AS BIGINT) <> 0 OR o2.private_chat_history = 0)))",
                vec![
                    Box::new(*org),
                    Box::new(*org),
                    Box::new(flag_value(*all_shared)),
                ],
            ),
            ChatSelection::UserPending { user } => {
                // ?2 (the user) comes first: bind it before the other conditions' parameters.
                sql = const_sql!(
                    "WHERE c.room_id IN (SELECT ra.room_id FROM ({}) ra WHERE ra.user_id = ?2) AND {}",
                    inner_joins(&room_access_sql()),
                    pending_sql()
                )
                .to_string();
                p.push(Box::new(*user));
            }
            ChatSelection::UserRouted { user } => {
                sql = const_sql!(
                    "WHERE c.room_id IN (SELECT rr.room_id FROM ({}) rr WHERE rr.user_id = ?2)",
                    inner_joins(ROOM_ROUTING_SQL)
                )
                .to_string();
                p.push(Box::new(*user));
            }
            ChatSelection::UserMember(user) => and(
                &mut sql,
                &mut p,
                if single {
                    "EXISTS (SELECT 1 FROM memberships WHERE chat_pk = c.pk AND member_id = ?)"
                } else {
                    "c.pk IN (SELECT chat_pk FROM memberships WHERE member_id = ?)"
                },
                vec![Box::new(*user)],
            ),
            ChatSelection::All => {}
        }
        let bit = |b: bool| -> Param { Box::new(flag_value(b)) };
        if let Some(b) = f.is_waiting {
            and(&mut sql, &mut p, "c.is_waiting = ?", vec![bit(b)]);
        }
        if let Some(b) = f.is_ended {
            and(&mut sql, &mut p, "c.is_ended = ?", vec![bit(b)]);
        }
        // The comparisons of a boolean with a 0/1 parameter compare it with the parameter's
        // truth (a bare parameter there would be typed boolean).
        if let Some(b) = f.has_messages {
            and(
                &mut sql,
                &mut p,
                "(c.message_count > 0) = (CAST(? AS BIGINT) <> 0)",
                vec![bit(b)],
            );
        }
        if let Some(b) = f.has_user_messages {
            and(
                &mut sql,
                &mut p,
                "(c.user_message_count > 0) = (CAST(? AS BIGINT) <> 0)",
                vec![bit(b)],
            );
        }
        if let Some(b) = f.has_visitor_messages {
            and(
                &mut sql,
                &mut p,
                "(c.visitor_message_count > 0) = (CAST(? AS BIGINT) <> 0)",
                vec![bit(b)],
            );
        }
        if let Some(t) = f.created_after {
            and(&mut sql, &mut p, "c.created_at > ?", vec![Box::new(t)]);
        }
        if let Some(t) = f.created_before {
            and(&mut sql, &mut p, "c.created_at < ?", vec![Box::new(t)]);
        }
        if let Some((member, b)) = f.participating {
            and(
                &mut sql,
                &mut p,
                "EXISTS (SELECT 1 FROM memberships m WHERE m.chat_pk = c.pk AND m.member_id = ? AND m.is_participating = ?)",
                vec![Box::new(member), bit(b)],
            );
        }
        if let Some(id) = f.only_id {
            and(&mut sql, &mut p, "c.id = ?", vec![Box::new(id)]);
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
                vec![Box::new(after.primary), Box::new(uuid_tie(&after.tie)?)],
            );
        }
        let order = k.order_sql(col, "c.id");
        let sql = if single {
            // At most one row: one phase, and no ORDER BY (one row needs no order).
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
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(chat_row).collect()
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
        self.query_opt(sql, &[&now, &visitor, &room])?
            .as_ref()
            .map(chat_row)
            .transpose()
    }

    fn chats_due_to_end(&self, now: Millis, limit: usize) -> Result<Vec<i64>> {
        // The rule's two branches (`IDLE_SQL`, `TTL_PASSED_SQL`), each indexed, instead of a
        // scan of every chat: idle chats through the open-activity index (bounded by the
        // shortest idle timeout of any organization, `?3`, which the idle condition implies),
        // tasks past their ttl through the rooms that have one.
        let sql = const_sql!(
            "SELECT due.pk FROM ( \
               SELECT c.pk FROM chats c \
               JOIN organizations o ON o.id = c.room_organization_id \
               WHERE {IDLE_SQL} \
                 AND c.activity_minute <= CAST(?3 AS BIGINT) / 60000 AND c.last_activity_at <= ?3 \
               UNION \
               SELECT c.pk FROM rooms r JOIN chats c ON c.room_id = r.id \
               WHERE {TTL_PASSED_SQL}) due \
             ORDER BY due.pk LIMIT ?2"
        );
        // The shortest idle timeout bounds the index range.
        let shortest: Option<i64> = self
            .query_one("SELECT min(chat_idle_timeout_s) FROM organizations", &[])?
            .try_get(0)?;
        let bound = shortest.map_or(i64::MIN, |t| now.saturating_sub(t.saturating_mul(1000)));
        self.query(sql, &[&now, &(limit as i64), &bound])?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }
}
