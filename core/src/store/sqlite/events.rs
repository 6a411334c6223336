//! SQL of events, webhooks (and their delivery outbox) and idempotency keys.

use super::{SqliteTx, uuid_col, uuid_opt_col};
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
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

/// A row's channels as stored: a JSON array of the paths without `/api/v5/`. The paths are
/// built by publication from ids and fixed words, which JSON writes as they are, so they are
/// joined without an escaping pass (serde's was ≈ 1 % of a send's instructions).
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
/// `MAX_ROW_WIDTH` of them, which bounds `seq` from below for the index.
fn numbers_after(n: usize) -> String {
    format!(
        "e.seq > ?{n} - {} AND e.seq + e.width - 1 > ?{n}",
        MAX_ROW_WIDTH
    )
}

fn webhook_row(r: &Row<'_>) -> rusqlite::Result<WebhookRecord> {
    let channels: String = r.get(3)?;
    let actions: String = r.get(4)?;
    Ok(WebhookRecord {
        id: uuid_col(r, 0)?,
        organization_id: uuid_col(r, 1)?,
        url: r.get(2)?,
        channels: serde_json::from_str(&channels).unwrap_or_default(),
        actions: serde_json::from_str(&actions).unwrap_or_default(),
        secret: r.get(5)?,
        user_id: uuid_opt_col(r, 6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.get(0)?,
        webhook_id: uuid_col(r, 1)?,
        event_seq: r.get(2)?,
        body: r.get(3)?,
        attempts: r.get(4)?,
        next_attempt_at: r.get(5)?,
        last_status: r.get(6)?,
        last_error: r.get(7)?,
        delivered_at: r.get(8)?,
        first_failed_at: r.get(9)?,
        failed_at: r.get(10)?,
        created_at: r.get(11)?,
    })
}

/// A change row's named channels (column `i`, a JSON list without the prefix) as full paths.
fn channels_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Vec<String>> {
    let channels: String = r.get(i)?;
    Ok(serde_json::from_str::<Vec<String>>(&channels)
        .unwrap_or_default()
        .into_iter()
        .map(|c| format!("{PREFIX}{c}"))
        .collect())
}

/// A change row's room audience (columns `i` room id, `i + 1` its paths: one path, or a JSON
/// array of several).
fn room_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<RoomAudience>> {
    Ok(
        match (uuid_opt_col(r, i)?, r.get::<_, Option<String>>(i + 1)?) {
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

fn change_row(r: &Row<'_>) -> rusqlite::Result<StoredChange> {
    let resource: Option<String> = r.get(6)?;
    Ok(StoredChange {
        seq: r.get(0)?,
        width: r.get(7)?,
        chat_id: uuid_opt_col(r, 8)?,
        channels: channels_col(r, 1)?,
        room: room_col(r, 2)?,
        action: r.get(4)?,
        resource_id: r.get(5)?,
        resource: resource.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

impl SqliteTx<'_> {
    /// Records that the changes up to `seq` are deleted: a read from before it resyncs, and
    /// numbers continue after it.
    fn raise_event_floor(&self, seq: i64) -> Result<()> {
        self.exec(
            "INSERT INTO event_meta (key, value) VALUES ('floor', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            [seq],
        )?;
        Ok(())
    }
}

impl EventStore for SqliteTx<'_> {
    fn take_changes(&self) -> Vec<Change> {
        self.changes.take()
    }

    fn snapshot(&self, of: SnapshotOf<'_>) -> Result<Option<Vec<u8>>> {
        let c = self.conn();
        let state: Option<Option<Vec<u8>>> = match of {
            SnapshotOf::Membership(pk, member) => c
                .prepare_cached(
                    "SELECT event_state FROM memberships WHERE chat_pk = ?1 AND member_id = ?2",
                )?
                .query_row(params![pk, member.as_bytes()], |r| r.get(0))
                .optional()?,
            SnapshotOf::Other { chat_pk, kind, key } => c
                .prepare_cached(
                    "SELECT state FROM event_snapshots WHERE chat_pk = ?1 AND kind = ?2 AND key = ?3",
                )?
                .query_row(params![chat_pk, kind, key], |r| r.get(0))
                .optional()?,
        };
        Ok(state.flatten())
    }

    fn delete_snapshot(&self, of: SnapshotOf<'_>) -> Result<()> {
        if let SnapshotOf::Other { chat_pk, kind, key } = of {
            self.exec(
                "DELETE FROM event_snapshots WHERE chat_pk = ?1 AND kind = ?2 AND key = ?3",
                params![chat_pk, kind, key],
            )?;
        }
        Ok(())
    }

    fn put_snapshot(&self, of: SnapshotOf<'_>, state: &[u8]) -> Result<()> {
        match of {
            SnapshotOf::Membership(pk, member) => {
                self.exec(
                    "UPDATE memberships SET event_state = ?3 WHERE chat_pk = ?1 AND member_id = ?2",
                    params![pk, member.as_bytes(), state],
                )?;
            }
            SnapshotOf::Other { chat_pk, kind, key } => {
                self.exec(
                    "INSERT INTO event_snapshots (chat_pk, kind, key, state) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (chat_pk, kind, key) DO UPDATE SET state = excluded.state",
                    params![chat_pk, kind, key, state],
                )?;
            }
        }
        Ok(())
    }

    fn chat_event_state(&self, chat_pk: i64) -> Result<Option<ChatEventState>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT event_state, last_event_seq FROM chats WHERE pk = ?1")?
            .query_row([chat_pk], |r| {
                Ok(ChatEventState {
                    snapshot: r.get(0)?,
                    head: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn chat_with_event_state(
        &self,
        chat_pk: i64,
        now: Millis,
    ) -> Result<Option<(ChatRecord, ChatEventState)>> {
        use super::chats::{ChatKey, one_chat_sql};
        Ok(self
            .conn()
            .prepare_cached(const_sql!(
                "{}",
                one_chat_sql(ChatKey::Pk, ", c.event_state, c.last_event_seq")
            ))?
            .query_row(params![now, chat_pk], |r| {
                let n = r.as_ref().column_count();
                let state = ChatEventState {
                    snapshot: r.get(n - 2)?,
                    head: r.get(n - 1)?,
                };
                Ok((super::chats::chat_row(r)?, state))
            })
            .optional()?)
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
            params![chat_pk, snapshot, head],
        )?;
        Ok(())
    }

    fn insert_change(&self, e: &NewEvent, seq: i64, width: i64) -> Result<()> {
        let channels = channels_json(&e.channels);
        let (room, room_channel) = match &e.room {
            Some(a) => (
                Some(a.room.as_bytes().to_vec()),
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
            params![
                seq,
                e.organization_id.as_bytes(),
                channels,
                e.action,
                e.resource_id,
                e.resource,
                e.created_at,
                e.chat_pk,
                e.prev_seq,
                room,
                room_channel,
                width
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
        // ?1 org, ?2 after, ?3 limit, ?4 the rooms (JSON), then the patterns.
        let globs = (0..patterns.len())
            .map(|i| format!("'{PREFIX}' || j.value GLOB ?{}", i + 5))
            .collect::<Vec<_>>()
            .join(" OR ");
        let by_room = if rooms.is_empty() {
            ""
        } else {
            " OR e.room_id IN (SELECT unhex(value) FROM json_each(?4))"
        };
        let numbered = numbers_after(2);
        let sql = format!(
            "SELECT seq, channels, room_id, room_channel, action, resource_id, resource, width, \
             (SELECT id FROM chats WHERE pk = e.chat_pk) \
             FROM event_changes e WHERE e.organization_id = ?1 AND {numbered} \
             AND (EXISTS (SELECT 1 FROM json_each(e.channels) j WHERE {globs}){by_room}) \
             ORDER BY e.seq LIMIT ?3"
        );
        let rooms = serde_json::to_string(
            &rooms
                .iter()
                .map(|room| room.simple().to_string())
                .collect::<Vec<_>>(),
        )?;
        let mut p: Vec<Value> = vec![
            Value::Blob(org.as_bytes().to_vec()),
            Value::Integer(after),
            Value::Integer(limit as i64),
            Value::Text(rooms),
        ];
        p.extend(patterns.iter().map(|s| Value::Text(s.clone())));
        let mut st = self.conn().prepare_cached(&sql)?;
        Ok(st
            .query_map(params_from_iter(p), change_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn select_change_heads(&self, after: i64, limit: usize) -> Result<Vec<ChangeHead>> {
        let mut st = self.conn().prepare_cached(const_sql!(
            "SELECT seq, organization_id, channels, room_id, room_channel, width \
                 FROM event_changes e WHERE {} ORDER BY seq LIMIT ?2",
            numbers_after(1)
        ))?;
        Ok(st
            .query_map(params![after, limit as i64], |r| {
                Ok(ChangeHead {
                    seq: r.get(0)?,
                    width: r.get(5)?,
                    organization_id: uuid_col(r, 1)?,
                    channels: channels_col(r, 2)?,
                    room: room_col(r, 3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn last_event_seq(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT max(coalesce((SELECT seq + width - 1 FROM event_changes ORDER BY seq DESC LIMIT 1), 0), \
                            (SELECT coalesce(max(value), 0) FROM event_meta WHERE key = 'floor'))",
            )?
            .query_row([], |r| r.get(0))?)
    }

    fn event_floor(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM event_meta WHERE key = 'floor'")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn delete_events_before(&self, before: Millis) -> Result<usize> {
        // Numbers follow time: the oldest rows, in `seq` order, up to the first one that is
        // still inside the window (a bounded walk of the rowid order, no time index).
        let mut deleted = 0;
        loop {
            let oldest: Vec<(i64, Millis, i64)> = self
                .conn()
                .prepare_cached(
                    "SELECT seq, created_at, seq + width - 1 FROM event_changes ORDER BY seq LIMIT 1000",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let expired = oldest.iter().take_while(|(_, at, _)| *at < before).count();
            let Some(&(max, _, last)) = expired.checked_sub(1).and_then(|i| oldest.get(i)) else {
                break;
            };
            self.exec("DELETE FROM event_changes WHERE seq <= ?1", [max])?;
            deleted += expired;
            self.raise_event_floor(last)?;
            if expired < oldest.len() {
                break;
            }
        }
        Ok(deleted)
    }

    fn delete_events_over_bytes(&self, max_bytes: i64) -> Result<usize> {
        // The log's size is estimated, not measured (measuring walks every page): its change
        // count times the mean size of its newest 256 rows (their texts plus the fixed
        // columns' ≈ 64 bytes). Numbers run on from the floor, each row taking `width` of
        // them, so the rows to keep start at a number found without a scan: the newest
        // number less the rows kept times their mean width.
        let (newest, oldest, mean, width): (Option<i64>, Option<i64>, Option<f64>, Option<f64>) = self
            .conn()
            .prepare_cached(
                "SELECT (SELECT seq + width - 1 FROM event_changes ORDER BY seq DESC LIMIT 1), (SELECT min(seq) FROM event_changes), \
                 avg(64 + length(channels) + length(resource_id) + coalesce(length(resource), 0)), avg(width) \
                 FROM (SELECT channels, resource_id, resource, width FROM event_changes ORDER BY seq DESC LIMIT 256)",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
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
            .conn()
            .prepare_cached(
                "SELECT seq + width - 1 FROM event_changes WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row([cut], |r| r.get(0))?;
        let deleted = self.exec("DELETE FROM event_changes WHERE seq <= ?1", [cut])?;
        self.raise_event_floor(floor)?;
        Ok(deleted)
    }

    fn scrub_chat_events(&self, chat_pk: i64) -> Result<()> {
        // The chat's change rows: its chain from the newest (`chats.last_event_seq`) through
        // `prev_seq`; rows retention deleted end it.
        const CHAIN: &str = "WITH RECURSIVE chain(seq) AS ( \
               SELECT last_event_seq FROM chats WHERE pk = ?1 AND last_event_seq IS NOT NULL \
               UNION ALL SELECT e.prev_seq FROM event_changes e JOIN chain ON e.seq = chain.seq \
               WHERE e.prev_seq IS NOT NULL) ";
        // A delivery carries its event's number, one of its row's numbers.
        self.exec(
            const_sql!(
                "{CHAIN}, numbers(n, last) AS ( \
                   SELECT e.seq, e.seq + e.width - 1 FROM event_changes e JOIN chain ON e.seq = chain.seq \
                   UNION ALL SELECT n + 1, last FROM numbers WHERE n < last) \
                 UPDATE webhook_deliveries SET body = json_remove(body, '$.resource') \
                 WHERE event_seq IN (SELECT n FROM numbers)"
            ),
            [chat_pk],
        )?;
        self.exec(
            const_sql!(
                "{CHAIN} UPDATE event_changes SET resource = NULL \
                 WHERE seq IN (SELECT seq FROM chain) AND resource IS NOT NULL"
            ),
            [chat_pk],
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
                   SELECT user_id FROM ({}) WHERE room_id = ?1) \
                 ORDER BY id",
                crate::directory::room_access_sql()
            ),
            RoomChannel::RoutedChats => const_sql!(
                "SELECT id, organization_id FROM users WHERE is_deleted = 0 AND id IN ( \
                   SELECT user_id FROM ({}) WHERE room_id = ?1) \
                 ORDER BY id",
                crate::directory::ROOM_ROUTING_SQL
            ),
            RoomChannel::Rooms => const_sql!(
                "SELECT id, organization_id FROM users WHERE is_deleted = 0 AND id IN ( \
                   SELECT user_id FROM ({}) WHERE room_id = ?1) \
                 ORDER BY id",
                crate::directory::ROOM_VISIBILITY_SQL
            ),
        };
        let mut st = self.conn().prepare_cached(sql)?;
        Ok(st
            .query_map([room.as_bytes()], |r| {
                Ok((uuid_col(r, 0)?, uuid_col(r, 1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn rooms_reaching(&self, user: Uuid, channel: RoomChannel) -> Result<Vec<Uuid>> {
        let sql = match channel {
            RoomChannel::PendingChats => const_sql!(
                "SELECT DISTINCT room_id FROM ({}) WHERE user_id = ?1 ORDER BY room_id",
                crate::directory::room_access_sql()
            ),
            RoomChannel::RoutedChats => const_sql!(
                "SELECT DISTINCT room_id FROM ({}) WHERE user_id = ?1 ORDER BY room_id",
                crate::directory::ROOM_ROUTING_SQL
            ),
            RoomChannel::Rooms => const_sql!(
                "SELECT DISTINCT room_id FROM ({}) WHERE user_id = ?1 ORDER BY room_id",
                crate::directory::ROOM_VISIBILITY_SQL
            ),
        };
        let mut st = self.conn().prepare_cached(sql)?;
        Ok(st
            .query_map([user.as_bytes()], |r| uuid_col(r, 0))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn chat_members(&self, chat_pk: i64) -> Result<Vec<(Uuid, bool, Option<Uuid>)>> {
        // Ordered here, not by SQL: `ORDER BY created_at` cost a sorter per call (the key
        // order is (chat_pk, member_id)), for a handful of rows.
        let mut st = self.conn().prepare_cached(
            "SELECT m.member_id, m.member_type = 'user', u.organization_id, m.created_at \
             FROM memberships m LEFT JOIN users u ON m.member_type = 'user' AND u.id = m.member_id \
             WHERE m.chat_pk = ?1",
        )?;
        let mut rows = st
            .query_map([chat_pk], |r| {
                Ok((
                    r.get::<_, Millis>(3)?,
                    (uuid_col(r, 0)?, r.get(1)?, uuid_opt_col(r, 2)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.sort_unstable_by_key(|(at, (id, _, _))| (*at, *id));
        Ok(rows.into_iter().map(|(_, m)| m).collect())
    }

    fn open_chats_in_room(&self, room: Uuid) -> Result<Vec<i64>> {
        let mut st = self.conn().prepare_cached(
            "SELECT pk FROM chats WHERE room_id = ?1 AND is_ended = 0 ORDER BY pk",
        )?;
        let rows = st.query_map([room.as_bytes()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn open_chats_of_member(&self, member: Uuid) -> Result<Vec<i64>> {
        let mut st = self.conn().prepare_cached(
            "SELECT m.chat_pk FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
             WHERE m.member_id = ?1 AND c.is_ended = 0 ORDER BY m.chat_pk",
        )?;
        Ok(st
            .query_map([member.as_bytes()], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn insert_webhook(&self, w: &WebhookRecord) -> Result<()> {
        self.exec(
            const_sql!(
                "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                w.id.as_bytes(),
                w.organization_id.as_bytes(),
                w.url,
                serde_json::to_string(&w.channels)?,
                serde_json::to_string(&w.actions)?,
                w.secret,
                w.user_id.map(|u| u.as_bytes().to_vec()),
                w.created_at,
                w.updated_at,
            ],
        )?;
        Ok(())
    }

    fn update_webhook(&self, w: &WebhookRecord) -> Result<()> {
        self.exec(
            "UPDATE webhooks SET url = ?2, channels = ?3, actions = ?4, secret = ?5, updated_at = ?6 WHERE id = ?1",
            params![
                w.id.as_bytes(),
                w.url,
                serde_json::to_string(&w.channels)?,
                serde_json::to_string(&w.actions)?,
                w.secret,
                w.updated_at
            ],
        )?;
        Ok(())
    }

    fn delete_webhook(&self, id: Uuid) -> Result<()> {
        let revoked = self.exec(
            "DELETE FROM webhook_tokens WHERE webhook_id = ?1",
            [id.as_bytes()],
        )?;
        if revoked > 0 {
            self.record(Change::Credentials);
        }
        self.exec(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
            [id.as_bytes()],
        )?;
        self.exec("DELETE FROM webhooks WHERE id = ?1", [id.as_bytes()])?;
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
            params![token_hash, webhook.as_bytes(), user.as_bytes(), expires_at],
        )?;
        Ok(())
    }

    fn user_by_webhook_token(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> Result<Option<(Uuid, Millis)>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT user_id, expires_at FROM webhook_tokens WHERE token_hash = ?1 AND expires_at > ?2",
            )?
            .query_row(params![token_hash, now], |r| {
                Ok((uuid_col(r, 0)?, r.get(1)?))
            })
            .optional()?)
    }

    fn delete_expired_webhook_tokens(&self, now: Millis) -> Result<usize> {
        self.exec("DELETE FROM webhook_tokens WHERE expires_at <= ?1", [now])
    }

    fn webhook(&self, id: Uuid) -> Result<Option<WebhookRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!(
                "SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = ?1"
            ))?
            .query_row([id.as_bytes()], webhook_row)
            .optional()?)
    }

    fn webhooks_of_org(&self, org: Uuid) -> Result<Vec<WebhookRecord>> {
        // Ordered here (as `ORDER BY created_at, id`): SQL sorted in a sorter per call, and
        // every publishing write asks (usually for none).
        let mut st = self.conn().prepare_cached(const_sql!(
            "SELECT {WEBHOOK_COLS} FROM webhooks WHERE organization_id = ?1"
        ))?;
        let mut hooks = st
            .query_map([org.as_bytes()], webhook_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        hooks.sort_unstable_by_key(|w| (w.created_at, w.id));
        Ok(hooks)
    }

    fn insert_delivery(&self, webhook: Uuid, seq: i64, body: &str, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO webhook_deliveries (webhook_id, event_seq, body, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![webhook.as_bytes(), seq, body, now],
        )?;
        Ok(())
    }

    fn deliveries_due(&self, now: Millis, limit: usize) -> Result<Vec<DeliveryRecord>> {
        let mut st = self.conn().prepare_cached(const_sql!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id IN \
             (SELECT MIN(id) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
              GROUP BY webhook_id) \
             AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
        ))?;
        Ok(st
            .query_map(params![now, limit as i64], delivery_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn next_delivery_due_at(&self) -> Result<Option<Millis>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE id IN \
                 (SELECT MIN(id) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL \
                  GROUP BY webhook_id)",
            )?
            .query_row([], |r| r.get(0))?)
    }

    fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>> {
        Ok(self
            .conn()
            .prepare_cached(const_sql!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?1"
            ))?
            .query_row([id], delivery_row)
            .optional()?)
    }

    fn update_delivery(&self, d: &DeliveryRecord) -> Result<()> {
        self.exec(
            "UPDATE webhook_deliveries SET attempts = ?2, next_attempt_at = ?3, last_status = ?4, \
             last_error = ?5, delivered_at = ?6, first_failed_at = ?7, failed_at = ?8 WHERE id = ?1",
            params![
                d.id,
                d.attempts,
                d.next_attempt_at,
                d.last_status,
                d.last_error,
                d.delivered_at,
                d.first_failed_at,
                d.failed_at
            ],
        )?;
        Ok(())
    }

    fn deliveries_of_webhook(&self, webhook: Uuid, k: &Keyset) -> Result<Vec<DeliveryRecord>> {
        let (beyond, order) = if k.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let mut st = self.conn().prepare_cached(&format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE webhook_id = ?1 AND id {beyond} ?2 \
             ORDER BY id {order} LIMIT ?3"
        ))?;
        let after = match (&k.after, k.descending) {
            (Some(a), _) => a.primary,
            (None, true) => i64::MAX,
            (None, false) => i64::MIN,
        };
        Ok(st
            .query_map(
                params![webhook.as_bytes(), after, k.limit as i64],
                delivery_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn delete_finished_deliveries_before(&self, before: Millis) -> Result<usize> {
        let delivered = self.exec(
            "DELETE FROM webhook_deliveries WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
            [before],
        )?;
        let failed = self.exec(
            "DELETE FROM webhook_deliveries WHERE failed_at IS NOT NULL AND failed_at < ?1",
            [before],
        )?;
        Ok(delivered + failed)
    }

    fn idempotency(&self, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE actor = ?1 AND key = ?2",
            )?
            .query_row(params![actor, key], |r| {
                Ok(IdempotencyRecord {
                    request_hash: r.get(0)?,
                    status: r.get(1)?,
                    body: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .optional()?)
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
            params![actor, key, stale_before],
        )?;
        Ok(self.exec(
            "INSERT INTO idempotency_keys (actor, key, request_hash, created_at, status, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (actor, key) DO NOTHING",
            params![actor, key, hash, now, status, body],
        )? > 0)
    }

    fn delete_idempotency_before(&self, before: Millis) -> Result<usize> {
        self.exec(
            "DELETE FROM idempotency_keys WHERE created_at < ?1",
            [before],
        )
    }
}
