//! The event rows of the `raw + events` baselines. Every baseline writes its events through
//! [`write_changes`] and nothing else touches the event tables, so that a change of the event
//! table's layout is made here once for all of them.
//!
//! Layout written (migrations 0010, 0013): one `event_changes` row per change, taking one number
//! per collection of one reader (`width` numbers from `seq`; the next change continues after
//! `max(seq + width - 1, floor)`), holding the JSON list of its explicit readers' channels and,
//! for the pending-chats audience, the room (`room_id`, `room_channel`; one row per
//! organization the room reaches), chained to the previous change row of the same chat
//! (`prev_seq`, `chats.last_event_seq`).

use rusqlite::params;
use uuid::Uuid;

/// A room and the collections of its audience a change is on (paths below `users/<u>/`).
pub type RoomPaths = (Uuid, Vec<String>);

/// One change a baseline publishes.
#[derive(Debug, Clone)]
pub struct RawChange {
    /// The channels of its explicit readers (the organization, the chat's member users, its
    /// visitor), without `/api/v5/`.
    pub channels: Vec<String>,
    /// The room whose audience also reads it, and on which collections (paths below
    /// `users/<u>/`): those below `pending_chats` for every user who may take the room's
    /// waiting chats, those below `routed_chats` for every user the room is routed to.
    pub room: Option<RoomPaths>,
    pub action: &'static str,
    pub resource_id: String,
    /// The resource (whole when added, the changed attributes when changed) as JSON text.
    pub resource: Option<String>,
}

impl RawChange {
    /// The same change, also on the room collections `paths` when the chat has a room.
    pub fn with_room(mut self, room: Option<Uuid>, paths: Vec<String>) -> Self {
        if let Some(room) = room {
            self.room = Some((room, paths));
        }
        self
    }

    /// A change read by `channels` only.
    pub fn to(
        channels: Vec<String>,
        action: &'static str,
        resource_id: String,
        resource: Option<String>,
    ) -> Self {
        RawChange {
            channels,
            room: None,
            action,
            resource_id,
            resource,
        }
    }
}

/// The chat the changes belong to: its pk and its newest change row before them
/// (`chats.last_event_seq`, read with the chat).
#[derive(Debug, Clone, Copy)]
pub struct ChatChain {
    pub pk: i64,
    pub head: Option<i64>,
}

/// Writes `changes` (those with no reader are skipped) as event rows of organization `org`,
/// numbered after the newest event, chained from `chat`'s head, and moves the chat's head.
pub fn write_changes(
    tx: &rusqlite::Transaction,
    org: Uuid,
    chat: Option<ChatChain>,
    now: i64,
    changes: Vec<RawChange>,
) {
    let mut last: Option<i64> = None;
    let mut prev = chat.and_then(|c| c.head);
    for change in changes {
        // One row per organization the room reaches (the room's own first, with the named
        // channels), or one row.
        let rooms: Vec<(Uuid, Option<&RoomPaths>)> = match &change.room {
            Some(audience) => {
                let mut orgs = vec![org];
                orgs.extend(
                    room_shares(tx, audience.0)
                        .into_iter()
                        .filter(|o| *o != org),
                );
                orgs.into_iter().map(|o| (o, Some(audience))).collect()
            }
            None if change.channels.is_empty() => Vec::new(),
            None => vec![(org, None)],
        };
        for (row_org, room) in rooms {
            let newest = match last {
                Some(l) => l,
                None => tx
                    .prepare_cached(
                        "SELECT max(coalesce((SELECT seq + width - 1 FROM event_changes ORDER BY seq DESC LIMIT 1), 0), \
                         (SELECT coalesce(max(value), 0) FROM event_meta WHERE key = 'floor'))",
                    )
                    .unwrap()
                    .query_row([], |r| r.get(0))
                    .unwrap(),
            };
            let seq = newest + 1;
            let channels = if row_org == org {
                change.channels.clone()
            } else {
                Vec::new()
            };
            let paths = room.map(|(_, paths)| match paths.as_slice() {
                [one] => one.clone(),
                more => serde_json::to_string(more).unwrap(),
            });
            let width = width(&channels, room.map_or(0, |(_, p)| p.len()));
            tx.prepare_cached(
                "INSERT INTO event_changes (seq, organization_id, chat_pk, channels, room_id, room_channel, action, resource_id, resource, created_at, prev_seq, width) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .unwrap()
            .execute(params![
                seq,
                row_org.as_bytes(),
                chat.map(|c| c.pk),
                serde_json::to_string(&channels).unwrap(),
                room.map(|(r, _)| r.as_bytes().to_vec()),
                paths,
                change.action,
                change.resource_id,
                change.resource,
                now,
                if chat.is_some() { prev } else { None },
                width
            ])
            .unwrap();
            last = Some(seq + width - 1);
            prev = Some(seq);
        }
    }
    if let (Some(chat), Some(seq)) = (chat, last) {
        tx.prepare_cached("UPDATE chats SET last_event_seq = ?2 WHERE pk = ?1")
            .unwrap()
            .execute(params![chat.pk, seq])
            .unwrap();
    }
}

/// How many numbers a row takes: the most channels one reader (the path's owner:
/// `users/<id>`, `orgs/<id>`, `public/visitors/<id>`) has in it, plus its room paths.
fn width(channels: &[String], room_paths: usize) -> i64 {
    let mut readers: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for c in channels {
        let segments = if c.starts_with("public/") { 3 } else { 2 };
        let end = c
            .match_indices('/')
            .nth(segments - 1)
            .map_or(c.len(), |(i, _)| i);
        *readers.entry(&c[..end]).or_default() += 1;
    }
    (readers.values().copied().max().unwrap_or(0) + room_paths as i64).max(1)
}

/// The organizations a room is shared with (their users read its pending chats too).
fn room_shares(tx: &rusqlite::Transaction, room: Uuid) -> Vec<Uuid> {
    tx.prepare_cached("SELECT organization_id FROM room_shares WHERE room_id = ?1")
        .unwrap()
        .query_map([room.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| Uuid::from_slice(&b.unwrap()).unwrap())
        .collect()
}
