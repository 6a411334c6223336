//! SQL of events, webhooks (and their delivery outbox) and idempotency keys on PostgreSQL.

use super::{PgTx, inner_joins};
use crate::chats::ChatRecord;
use crate::clock::Millis;
use crate::error::Result;
use crate::events::records::{
    ChangeHead, MAX_ROW_WIDTH, NewEvent, PREFIX, RoomAudience, RoomChannel, StoredChange,
};
use crate::idempotency::records::IdempotencyRecord;
use crate::pagination::Keyset;
use crate::store::changes::Change;
use crate::store::columns::{DELIVERY_COLS, WEBHOOK_COLS};
use crate::store::{ChatEventState, EventStore, SnapshotOf};
use crate::webhooks::records::{DeliveryRecord, WebhookRecord};
use postgres::Row;
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

/// A row's channels as stored: a JSON array of the paths without `/api/v5/`. The paths are
/// built by publication from ids and fixed words, which JSON writes as they are, so they are
/// joined without an escaping pass.
fn channels_json(channels: &[String]) -> String {
    let bare = || channels.iter().map(|c| c.strip_prefix(PREFIX).unwrap_or(c));
    debug_assert!(bare().all(|c| !c.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)));
    let mut out = String::with_capacity(2 + bare().map(|c| c.len() + 3).sum::<usize>());
    out.push('[');
    for (i, c) in bare().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(c);
        out.push('"');
    }
    out.push(']');
    out
}

/// The condition of the change rows holding a number after parameter `?n`: a row takes the
/// numbers `seq ..= seq + width - 1` ([`crate::events::Numbering`]), at most
/// `MAX_ROW_WIDTH` of them, which bounds `seq` from below for the index. The parameter is cast
/// so that PostgreSQL types it as BIGINT (beside an integer literal it would infer INTEGER).
fn numbers_after(n: usize) -> String {
    format!(
        "e.seq > CAST(?{n} AS BIGINT) - {} AND e.seq + e.width - 1 > ?{n}",
        MAX_ROW_WIDTH
    )
}

/// A channel pattern in SQLite's GLOB form as a `LIKE` pattern (escape character `\`, the
/// default) with the same matches: `*` is any run of characters, `?` any one character, and
/// every other character stands for itself (`%`, `_` and `\` escaped). GLOB's character
/// classes (`[...]`) have no `LIKE` form; the patterns never hold one, as
/// [`crate::events::authorize`] refuses `?`, `[` and `]` in a channel, leaving `*` as their
/// only metacharacter.
fn glob_as_like(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 4);
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn webhook_row(r: &Row) -> Result<WebhookRecord> {
    let channels: String = r.try_get(3)?;
    let actions: String = r.try_get(4)?;
    Ok(WebhookRecord {
        id: r.try_get(0)?,
        organization_id: r.try_get(1)?,
        url: r.try_get(2)?,
        channels: serde_json::from_str(&channels).unwrap_or_default(),
        actions: serde_json::from_str(&actions).unwrap_or_default(),
        secret: r.try_get(5)?,
        user_id: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

fn delivery_row(r: &Row) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.try_get(0)?,
        webhook_id: r.try_get(1)?,
        event_seq: r.try_get(2)?,
        body: r.try_get(3)?,
        attempts: r.try_get(4)?,
        next_attempt_at: r.try_get(5)?,
        last_status: r.try_get(6)?,
        last_error: r.try_get(7)?,
        delivered_at: r.try_get(8)?,
        first_failed_at: r.try_get(9)?,
        failed_at: r.try_get(10)?,
        created_at: r.try_get(11)?,
    })
}

/// A change row's named channels (column `i`, a JSON list without the prefix) as full paths.
fn channels_col(r: &Row, i: usize) -> Result<Vec<String>> {
    let channels: String = r.try_get(i)?;
    Ok(serde_json::from_str::<Vec<String>>(&channels)
        .unwrap_or_default()
        .into_iter()
        .map(|c| format!("{PREFIX}{c}"))
        .collect())
}

/// A change row's room audience (columns `i` room id, `i + 1` its paths: one path, or a JSON
/// array of several).
fn room_col(r: &Row, i: usize) -> Result<Option<RoomAudience>> {
    Ok(
        match (
            r.try_get::<_, Option<Uuid>>(i)?,
            r.try_get::<_, Option<String>>(i + 1)?,
        ) {
            (Some(room), Some(paths)) => {
                let paths = if paths.starts_with('[') {
                    serde_json::from_str(&paths).unwrap_or_default()
                } else {
                    vec![paths]
                };
                Some(RoomAudience::new(room, paths))
            }
            _ => None,
        },
    )
}

fn change_row(r: &Row) -> Result<StoredChange> {
    let resource: Option<String> = r.try_get(6)?;
    Ok(StoredChange {
        seq: r.try_get(0)?,
        width: r.try_get(7)?,
        chat_id: r.try_get(8)?,
        channels: channels_col(r, 1)?,
        room: room_col(r, 2)?,
        action: r.try_get(4)?,
        resource_id: r.try_get(5)?,
        resource: resource.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

impl PgTx<'_> {
    /// Records that the changes up to `seq` are deleted: a read from before it resyncs, and
    /// numbers continue after it.
    fn raise_event_floor(&self, seq: i64) -> Result<()> {
        self.exec(
            "INSERT INTO event_meta (key, value) VALUES ('floor', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = GREATEST(event_meta.value, excluded.value)",
            &[&seq],
        )?;
        Ok(())
    }
}

impl EventStore for PgTx<'_> {
    fn take_changes(&self) -> Vec<Change> {
        self.changes.take()
    }

    fn snapshot(&self, of: SnapshotOf<'_>) -> Result<Option<Vec<u8>>> {
        let row = match of {
            SnapshotOf::Membership(pk, member) => self.query_opt(
                "SELECT event_state FROM memberships WHERE chat_pk = ?1 AND member_id = ?2",
                &[&pk, &member],
            )?,
            SnapshotOf::Other { chat_pk, kind, key } => self.query_opt(
                "SELECT state FROM event_snapshots WHERE chat_pk = ?1 AND kind = ?2 AND key = ?3",
                &[&chat_pk, &kind, &key],
            )?,
        };
        Ok(match row {
            Some(r) => r.try_get::<_, Option<Vec<u8>>>(0)?,
            None => None,
        })
    }

    fn delete_snapshot(&self, of: SnapshotOf<'_>) -> Result<()> {
        if let SnapshotOf::Other { chat_pk, kind, key } = of {
            self.exec(
                "DELETE FROM event_snapshots WHERE chat_pk = ?1 AND kind = ?2 AND key = ?3",
                &[&chat_pk, &kind, &key],
            )?;
        }
        Ok(())
    }

    fn put_snapshot(&self, of: SnapshotOf<'_>, state: &[u8]) -> Result<()> {
        match of {
            SnapshotOf::Membership(pk, member) => {
                self.exec(
                    "UPDATE memberships SET event_state = ?3 WHERE chat_pk = ?1 AND member_id = ?2",
                    &[&pk, &member, &state],
                )?;
            }
            SnapshotOf::Other { chat_pk, kind, key } => {
                self.exec(
                    "INSERT INTO event_snapshots (chat_pk, kind, key, state) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (chat_pk, kind, key) DO UPDATE SET state = excluded.state",
                    &[&chat_pk, &kind, &key, &state],
                )?;
            }
        }
        Ok(())
    }

    fn chat_event_state(&self, chat_pk: i64) -> Result<Option<ChatEventState>> {
        self.query_opt(
            "SELECT event_state, last_event_seq FROM chats WHERE pk = ?1",
            &[&chat_pk],
        )?
        .map(|r| {
            Ok(ChatEventState {
                snapshot: r.try_get(0)?,
                head: r.try_get(1)?,
            })
        })
        .transpose()
    }

    fn chat_with_event_state(
        &self,
        chat_pk: i64,
        now: Millis,
    ) -> Result<Option<(ChatRecord, ChatEventState)>> {
        use super::chats::{ChatKey, chat_row, one_chat_sql};
        self.query_opt(
            const_sql!(
                "{}",
                one_chat_sql(ChatKey::Pk, ", c.event_state, c.last_event_seq")
            ),
            &[&now, &chat_pk],
        )?
        .map(|r| {
            let n = r.len();
            let state = ChatEventState {
                snapshot: r.try_get(n - 2)?,
                head: r.try_get(n - 1)?,
            };
            Ok((chat_row(&r)?, state))
        })
        .transpose()
    }

    fn set_chat_event_state(
        &self,
        chat_pk: i64,
        snapshot: Option<&[u8]>,
        head: Option<i64>,
    ) -> Result<()> {
        if snapshot.is_none() && head.is_none() {
            return Ok(());
        }
        self.exec(
            "UPDATE chats SET event_state = coalesce(?2, event_state), \
             last_event_seq = coalesce(?3, last_event_seq) WHERE pk = ?1",
            &[&chat_pk, &snapshot, &head],
        )?;
        Ok(())
    }

    fn insert_change(&self, e: &NewEvent, seq: i64, width: i64) -> Result<()> {
        let channels = channels_json(&e.channels);
        let (room, room_channel) = match &e.room {
            Some(a) => (
                Some(a.room),
                Some(match a.paths.as_slice() {
                    [one] => one.clone(),
                    more => serde_json::to_string(more)?,
                }),
            ),
            None => (None, None),
        };
        self.exec(
            "INSERT INTO event_changes (seq, organization_id, channels, action, resource_id, resource, created_at, chat_pk, prev_seq, room_id, room_channel, width) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            &[
                &seq,
                &e.organization_id,
                &channels,
                &e.action,
                &e.resource_id,
                &e.resource,
                &e.created_at,
                &e.chat_pk,
                &e.prev_seq,
                &room,
                &room_channel,
                &width,
            ],
        )?;
        Ok(())
    }

    fn select_changes(
        &self,
        org: Uuid,
        after: i64,
        patterns: &[String],
        rooms: &[Uuid],
        limit: usize,
    ) -> Result<Vec<StoredChange>> {
        if patterns.is_empty() {
            return Ok(Vec::new());
        }
        // ?1 org, ?2 after, ?3 limit, ?4 the rooms (when there are any: a parameter the
        // statement does not use has no type), then the patterns.
        let mut p: Vec<Box<dyn ToSql + Sync>> =
            vec![Box::new(org), Box::new(after), Box::new(limit as i64)];
        let by_room = if rooms.is_empty() {
            ""
        } else {
            p.push(Box::new(rooms.to_vec()));
            " OR e.room_id = ANY(?4)"
        };
        let first = p.len() + 1;
        let likes = (0..patterns.len())
            .map(|i| format!("('{PREFIX}' || j.value) LIKE ?{}", first + i))
            .collect::<Vec<_>>()
            .join(" OR ");
        p.extend(
            patterns
                .iter()
                .map(|s| Box::new(glob_as_like(s)) as Box<dyn ToSql + Sync>),
        );
        let numbered = numbers_after(2);
        let sql = format!(
            "SELECT seq, channels, room_id, room_channel, action, resource_id, resource, width, \
             (SELECT id FROM chats WHERE pk = e.chat_pk) \
             FROM event_changes e WHERE e.organization_id = ?1 AND {numbered} \
             AND (EXISTS (SELECT 1 FROM jsonb_array_elements_text(e.channels::jsonb) j(value) \
             WHERE {likes}){by_room}) \
             ORDER BY e.seq LIMIT ?3"
        );
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.query(&sql, &refs)?.iter().map(change_row).collect()
    }

    fn select_change_heads(&self, after: i64, limit: usize) -> Result<Vec<ChangeHead>> {
        self.query(
            const_sql!(
                "SELECT seq, organization_id, channels, room_id, room_channel, width \
                 FROM event_changes e WHERE {} ORDER BY seq LIMIT ?2",
                numbers_after(1)
            ),
            &[&after, &(limit as i64)],
        )?
        .iter()
        .map(|r| {
            Ok(ChangeHead {
                seq: r.try_get(0)?,
                width: r.try_get(5)?,
                organization_id: r.try_get(1)?,
                channels: channels_col(r, 2)?,
                room: room_col(r, 3)?,
            })
        })
        .collect()
    }

    fn last_event_seq(&self) -> Result<i64> {
        Ok(self
            .query_one(
                "SELECT GREATEST(coalesce((SELECT seq + width - 1 FROM event_changes ORDER BY seq DESC LIMIT 1), 0), \
                                 (SELECT coalesce(max(value), 0) FROM event_meta WHERE key = 'floor'))",
                &[],
            )?
            .try_get(0)?)
    }

    fn event_floor(&self) -> Result<i64> {
        Ok(
            match self.query_opt("SELECT value FROM event_meta WHERE key = 'floor'", &[])? {
                Some(r) => r.try_get(0)?,
                None => 0,
            },
        )
    }

    fn delete_events_before(&self, before: Millis) -> Result<usize> {
        // Numbers follow time: the oldest rows, in `seq` order, up to the first one that is
        // still inside the window (a bounded walk of the key order, no time index).
        let mut deleted = 0;
        loop {
            let oldest: Vec<(i64, Millis, i64)> = self
                .query(
                    "SELECT seq, created_at, seq + width - 1 FROM event_changes ORDER BY seq LIMIT 1000",
                    &[],
                )?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_>>()?;
            let expired = oldest.iter().take_while(|(_, at, _)| *at < before).count();
            let Some(&(max, _, last)) = expired.checked_sub(1).and_then(|i| oldest.get(i)) else {
                break;
            };
            self.exec("DELETE FROM event_changes WHERE seq <= ?1", &[&max])?;
            deleted += expired;
            self.raise_event_floor(last)?;
            if expired < oldest.len() {
                break;
            }
        }
        Ok(deleted)
    }

    fn delete_events_over_bytes(&self, max_bytes: i64) -> Result<usize> {
        // The log's size is estimated, not measured (measuring reads every row): its change
        // count times the mean size of its newest 256 rows (their texts plus the fixed
        // columns' ≈ 64 bytes). Numbers run on from the floor, each row taking `width` of
        // them, so the rows to keep start at a number found without a scan: the newest
        // number less the rows kept times their mean width.
        let r = self.query_one(
            "SELECT (SELECT seq + width - 1 FROM event_changes ORDER BY seq DESC LIMIT 1), (SELECT min(seq) FROM event_changes), \
             avg(64 + length(channels) + length(resource_id) + coalesce(length(resource), 0))::float8, avg(width)::float8 \
             FROM (SELECT channels, resource_id, resource, width FROM event_changes ORDER BY seq DESC LIMIT 256) newest",
            &[],
        )?;
        let (newest, oldest, mean, width): (Option<i64>, Option<i64>, Option<f64>, Option<f64>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let (Some(newest), Some(oldest), Some(mean), Some(width)) = (newest, oldest, mean, width)
        else {
            return Ok(0);
        };
        let keep = (max_bytes as f64 / mean.max(1.0) * width.max(1.0)).floor() as i64;
        let cut = newest - keep;
        if cut < oldest {
            return Ok(0);
        }
        // The floor is the last number of the last row deleted.
        let floor: i64 = self
            .query_one(
                "SELECT seq + width - 1 FROM event_changes WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1",
                &[&cut],
            )?
            .try_get(0)?;
        let deleted = self.exec("DELETE FROM event_changes WHERE seq <= ?1", &[&cut])?;
        self.raise_event_floor(floor)?;
        Ok(deleted as usize)
    }

    fn scrub_chat_events(&self, chat_pk: i64) -> Result<()> {
        // The chat's change rows: its chain from the newest (`chats.last_event_seq`) through
        // `prev_seq`; rows retention deleted end it.
        const CHAIN: &str = "WITH RECURSIVE chain(seq) AS ( \
               SELECT last_event_seq FROM chats WHERE pk = ?1 AND last_event_seq IS NOT NULL \
               UNION ALL SELECT e.prev_seq FROM event_changes e JOIN chain ON e.seq = chain.seq \
               WHERE e.prev_seq IS NOT NULL) ";
        // A delivery carries its event's number, one of its row's numbers. Its body loses its
        // `resource` member with the other members kept in order and the text compact (as
        // SQLite's `json_remove` writes it; `jsonb` would reorder and space them), so the
        // member is removed here rather than in SQL.
        let bodies = self.query(
            const_sql!(
                "{CHAIN} SELECT id, body FROM webhook_deliveries WHERE event_seq IN ( \
                   SELECT generate_series(e.seq, e.seq + e.width - 1) \
                   FROM event_changes e JOIN chain ON e.seq = chain.seq) \
                 ORDER BY id"
            ),
            &[&chat_pk],
        )?;
        for r in &bodies {
            let id: i64 = r.try_get(0)?;
            let body: String = r.try_get(1)?;
            let mut value: serde_json::Value = serde_json::from_str(&body)?;
            let removed = value
                .as_object_mut()
                .and_then(|m| m.shift_remove("resource"))
                .is_some();
            if removed {
                self.exec(
                    "UPDATE webhook_deliveries SET body = ?2 WHERE id = ?1",
                    &[&id, &serde_json::to_string(&value)?],
                )?;
            }
        }
        self.exec(
            const_sql!(
                "{CHAIN} UPDATE event_changes SET resource = NULL \
                 WHERE seq IN (SELECT seq FROM chain) AND resource IS NOT NULL"
            ),
            &[&chat_pk],
        )?;
        // Republished (with the purged values) before the purge commits.
        for (member, _, _) in self.chat_members(chat_pk)? {
            self.record(Change::Membership { chat_pk, member });
        }
        self.record(Change::Chat(chat_pk));
        Ok(())
    }

    fn room_audience(&self, room: Uuid, channel: RoomChannel) -> Result<Vec<(Uuid, Uuid)>> {
        // The relation the collection is defined by, restricted to the room.
        let sql = match channel {
            RoomChannel::PendingChats => const_sql!(
                "SELECT id, organization_id FROM users WHERE is_deleted = 0 AND id IN ( \
                   SELECT user_id FROM ({}) reach WHERE room_id = ?1) \
                 ORDER BY id",
                inner_joins(&crate::directory::room_access_sql())
            ),
            RoomChannel::RoutedChats => const_sql!(
                "SELECT id, organization_id FROM users WHERE is_deleted = 0 AND id IN ( \
                   SELECT user_id FROM ({}) reach WHERE room_id = ?1) \
                 ORDER BY id",
                inner_joins(crate::directory::ROOM_ROUTING_SQL)
            ),
            RoomChannel::Rooms => const_sql!(
                "SELECT id, organization_id FROM users WHERE is_deleted = 0 AND id IN ( \
                   SELECT user_id FROM ({}) reach WHERE room_id = ?1) \
                 ORDER BY id",
                inner_joins(crate::directory::ROOM_VISIBILITY_SQL)
            ),
        };
        self.query(sql, &[&room])?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    fn rooms_reaching(&self, user: Uuid, channel: RoomChannel) -> Result<Vec<Uuid>> {
        let sql = match channel {
            RoomChannel::PendingChats => const_sql!(
                "SELECT DISTINCT room_id FROM ({}) reach WHERE user_id = ?1 ORDER BY room_id",
                inner_joins(&crate::directory::room_access_sql())
            ),
            RoomChannel::RoutedChats => const_sql!(
                "SELECT DISTINCT room_id FROM ({}) reach WHERE user_id = ?1 ORDER BY room_id",
                inner_joins(crate::directory::ROOM_ROUTING_SQL)
            ),
            RoomChannel::Rooms => const_sql!(
                "SELECT DISTINCT room_id FROM ({}) reach WHERE user_id = ?1 ORDER BY room_id",
                inner_joins(crate::directory::ROOM_VISIBILITY_SQL)
            ),
        };
        self.query(sql, &[&user])?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    fn chat_members(&self, chat_pk: i64) -> Result<Vec<(Uuid, bool, Option<Uuid>)>> {
        // Ordered here, by (joined, id), as on SQLite, where SQL sorting costs a sorter per
        // call for a handful of rows.
        let mut rows = self
            .query(
                "SELECT m.member_id, m.member_type = 'user', u.organization_id, m.created_at \
                 FROM memberships m LEFT JOIN users u ON m.member_type = 'user' AND u.id = m.member_id \
                 WHERE m.chat_pk = ?1",
                &[&chat_pk],
            )?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, Millis>(3)?,
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
                ))
            })
            .collect::<Result<Vec<(Millis, (Uuid, bool, Option<Uuid>))>>>()?;
        rows.sort_unstable_by_key(|(at, (id, _, _))| (*at, *id));
        Ok(rows.into_iter().map(|(_, m)| m).collect())
    }

    fn open_chats_in_room(&self, room: Uuid) -> Result<Vec<i64>> {
        self.query(
            "SELECT pk FROM chats WHERE room_id = ?1 AND is_ended = 0 ORDER BY pk",
            &[&room],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn open_chats_of_member(&self, member: Uuid) -> Result<Vec<i64>> {
        self.query(
            "SELECT m.chat_pk FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
             WHERE m.member_id = ?1 AND c.is_ended = 0 ORDER BY m.chat_pk",
            &[&member],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    fn insert_webhook(&self, w: &WebhookRecord) -> Result<()> {
        self.exec(
            const_sql!(
                "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            &[
                &w.id,
                &w.organization_id,
                &w.url,
                &serde_json::to_string(&w.channels)?,
                &serde_json::to_string(&w.actions)?,
                &w.secret,
                &w.user_id,
                &w.created_at,
                &w.updated_at,
            ],
        )?;
        Ok(())
    }

    fn update_webhook(&self, w: &WebhookRecord) -> Result<()> {
        self.exec(
            "UPDATE webhooks SET url = ?2, channels = ?3, actions = ?4, secret = ?5, updated_at = ?6 WHERE id = ?1",
            &[
                &w.id,
                &w.url,
                &serde_json::to_string(&w.channels)?,
                &serde_json::to_string(&w.actions)?,
                &w.secret,
                &w.updated_at,
            ],
        )?;
        Ok(())
    }

    fn delete_webhook(&self, id: Uuid) -> Result<()> {
        let revoked = self.exec("DELETE FROM webhook_tokens WHERE webhook_id = ?1", &[&id])?;
        if revoked > 0 {
            self.record(Change::Credentials);
        }
        self.exec(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
            &[&id],
        )?;
        self.exec("DELETE FROM webhooks WHERE id = ?1", &[&id])?;
        Ok(())
    }

    fn insert_webhook_token(
        &self,
        token_hash: &[u8],
        webhook: Uuid,
        user: Uuid,
        expires_at: Millis,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO webhook_tokens (token_hash, webhook_id, user_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
            &[&token_hash, &webhook, &user, &expires_at],
        )?;
        Ok(())
    }

    fn user_by_webhook_token(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> Result<Option<(Uuid, Millis)>> {
        self.query_opt(
            "SELECT user_id, expires_at FROM webhook_tokens WHERE token_hash = ?1 AND expires_at > ?2",
            &[&token_hash, &now],
        )?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
    }

    fn delete_expired_webhook_tokens(&self, now: Millis) -> Result<usize> {
        Ok(self.exec("DELETE FROM webhook_tokens WHERE expires_at <= ?1", &[&now])? as usize)
    }

    fn webhook(&self, id: Uuid) -> Result<Option<WebhookRecord>> {
        self.query_opt(
            const_sql!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = ?1"),
            &[&id],
        )?
        .map(|r| webhook_row(&r))
        .transpose()
    }

    fn webhooks_of_org(&self, org: Uuid) -> Result<Vec<WebhookRecord>> {
        // Ordered here (as `ORDER BY created_at, id`), as on SQLite: every publishing write
        // asks (usually for none).
        let mut hooks = self
            .query(
                const_sql!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE organization_id = ?1"),
                &[&org],
            )?
            .iter()
            .map(webhook_row)
            .collect::<Result<Vec<_>>>()?;
        hooks.sort_unstable_by_key(|w| (w.created_at, w.id));
        Ok(hooks)
    }

    fn insert_delivery(&self, webhook: Uuid, seq: i64, body: &str, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO webhook_deliveries (webhook_id, event_seq, body, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            &[&webhook, &seq, &body, &now],
        )?;
        Ok(())
    }

    fn deliveries_due(&self, now: Millis, limit: usize) -> Result<Vec<DeliveryRecord>> {
        self.query(
            const_sql!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id IN \
                 (SELECT MIN(id) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
                  GROUP BY webhook_id) \
                 AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
            ),
            &[&now, &(limit as i64)],
        )?
        .iter()
        .map(delivery_row)
        .collect()
    }

    fn next_delivery_due_at(&self) -> Result<Option<Millis>> {
        Ok(self
            .query_one(
                "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE id IN \
                 (SELECT MIN(id) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
                  GROUP BY webhook_id)",
                &[],
            )?
            .try_get(0)?)
    }

    fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>> {
        self.query_opt(
            const_sql!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?1"),
            &[&id],
        )?
        .map(|r| delivery_row(&r))
        .transpose()
    }

    fn update_delivery(&self, d: &DeliveryRecord) -> Result<()> {
        self.exec(
            "UPDATE webhook_deliveries SET attempts = ?2, next_attempt_at = ?3, last_status = ?4, \
             last_error = ?5, delivered_at = ?6, first_failed_at = ?7, failed_at = ?8 WHERE id = ?1",
            &[
                &d.id,
                &d.attempts,
                &d.next_attempt_at,
                &d.last_status,
                &d.last_error,
                &d.delivered_at,
                &d.first_failed_at,
                &d.failed_at,
            ],
        )?;
        Ok(())
    }

    fn deliveries_of_webhook(&self, webhook: Uuid, k: &Keyset) -> Result<Vec<DeliveryRecord>> {
        let sql = if k.descending {
            const_sql!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = ?1 AND id < ?2 \
                 ORDER BY id DESC LIMIT ?3"
            )
        } else {
            const_sql!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = ?1 AND id > ?2 \
                 ORDER BY id ASC LIMIT ?3"
            )
        };
        let after = match (&k.after, k.descending) {
            (Some(a), _) => a.primary,
            (None, true) => i64::MAX,
            (None, false) => i64::MIN,
        };
        self.query(sql, &[&webhook, &after, &(k.limit as i64)])?
            .iter()
            .map(delivery_row)
            .collect()
    }

    fn delete_finished_deliveries_before(&self, before: Millis) -> Result<usize> {
        let delivered = self.exec(
            "DELETE FROM webhook_deliveries WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
            &[&before],
        )?;
        let failed = self.exec(
            "DELETE FROM webhook_deliveries WHERE failed_at IS NOT NULL AND failed_at < ?1",
            &[&before],
        )?;
        Ok((delivered + failed) as usize)
    }

    fn idempotency(&self, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>> {
        self.query_opt(
            "SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE actor = ?1 AND key = ?2",
            &[&actor, &key],
        )?
        .map(|r| {
            Ok(IdempotencyRecord {
                request_hash: r.try_get(0)?,
                status: r.try_get(1)?,
                body: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    fn claim_idempotency(
        &self,
        actor: &str,
        key: &str,
        hash: &[u8],
        now: Millis,
        stale_before: Millis,
        (status, body): (u16, &str),
    ) -> Result<bool> {
        self.exec(
            "DELETE FROM idempotency_keys WHERE actor = ?1 AND key = ?2 AND created_at < ?3",
            &[&actor, &key, &stale_before],
        )?;
        Ok(self.exec(
            "INSERT INTO idempotency_keys (actor, key, request_hash, created_at, status, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (actor, key) DO NOTHING",
            &[&actor, &key, &hash, &now, &i64::from(status), &body],
        )? > 0)
    }

    fn delete_idempotency_before(&self, before: Millis) -> Result<usize> {
        Ok(self.exec(
            "DELETE FROM idempotency_keys WHERE created_at < ?1",
            &[&before],
        )? as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::glob_as_like;

    #[test]
    fn globs_become_like_patterns_with_the_same_matches() {
        assert_eq!(
            glob_as_like("/api/v5/users/*/chats/*"),
            "/api/v5/users/%/chats/%"
        );
        assert_eq!(
            glob_as_like("/api/v5/users/a_b/100%\\x/?"),
            "/api/v5/users/a\\_b/100\\%\\\\x/_"
        );
    }
}
