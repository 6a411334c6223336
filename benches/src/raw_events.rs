//! The event rows of the `raw + events` baselines. Every baseline writes its events through
//! [`write_changes`] and nothing else touches the event tables, so that a change of the event
//! table's layout is made here once for all of them.
//!
//! Layout written (migrations 0005 and 0006): one `event_changes` row per change, holding the
//! JSON list of its `n` channels, numbered by the `n` consecutive numbers ending at its `seq`
//! (the next change continues after `max(seq, floor)`), chained to the previous change row of
//! the same chat (`prev_seq`, `chats.last_event_seq`).

use rusqlite::params;
use uuid::Uuid;

/// One change a baseline publishes.
#[derive(Debug, Clone)]
pub struct RawChange {
    /// The channels of its explicit readers (the organization, the chat's member users, its
    /// visitor), without `/api/v5/`.
    pub channels: Vec<String>,
    /// The room whose pending-chats audience also reads it (`users/<u>/pending_chats` of every
    /// user who may take the room's waiting chats).
    pub pending_room: Option<Uuid>,
    pub action: &'static str,
    pub resource_id: String,
    /// The resource (whole when added, the changed attributes when changed) as JSON text.
    pub resource: Option<String>,
}

impl RawChange {
    /// A change read by `channels` only.
    pub fn to(
        channels: Vec<String>,
        action: &'static str,
        resource_id: String,
        resource: Option<String>,
    ) -> Self {
        RawChange {
            channels,
            pending_room: None,
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
        let mut channels = change.channels;
        if let Some(room) = change.pending_room {
            // This layout lists the audience's channels in the row: resolved now.
            channels.extend(
                pending_audience(tx, room)
                    .into_iter()
                    .map(|u| format!("users/{u}/pending_chats")),
            );
        }
        if channels.is_empty() {
            continue;
        }
        let newest = match last {
            Some(l) => l,
            None => tx
                .prepare_cached(
                    "SELECT max((SELECT coalesce(max(seq), 0) FROM event_changes), \
                     (SELECT coalesce(max(value), 0) FROM event_meta WHERE key = 'floor'))",
                )
                .unwrap()
                .query_row([], |r| r.get(0))
                .unwrap(),
        };
        let seq = newest + channels.len() as i64;
        tx.prepare_cached(
            "INSERT INTO event_changes (seq, n, organization_id, chat_pk, channels, action, resource_id, resource, created_at, prev_seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .unwrap()
        .execute(params![
            seq,
            channels.len() as i64,
            org.as_bytes(),
            chat.map(|c| c.pk),
            serde_json::to_string(&channels).unwrap(),
            change.action,
            change.resource_id,
            change.resource,
            now,
            if chat.is_some() { prev } else { None }
        ])
        .unwrap();
        last = Some(seq);
        prev = Some(seq);
    }
    if let (Some(chat), Some(seq)) = (chat, last) {
        tx.prepare_cached("UPDATE chats SET last_event_seq = ?2 WHERE pk = ?1")
            .unwrap()
            .execute(params![chat.pk, seq])
            .unwrap();
    }
}

/// The users a room's waiting chats are pending for, in id order: the organization's users
/// when the room has no router, else its router's users and teams' members, and the users of
/// the organizations the room is shared with.
fn pending_audience(tx: &rusqlite::Transaction, room: Uuid) -> Vec<Uuid> {
    tx.prepare_cached(
        "SELECT u.id FROM rooms r JOIN users u ON u.organization_id = r.organization_id \
           WHERE r.id = ?1 AND r.router_id IS NULL AND u.is_deleted = 0 \
         UNION SELECT u.id FROM rooms r JOIN router_steps st ON st.router_id = r.router_id \
           JOIN users u ON u.id = st.member_id WHERE r.id = ?1 AND st.member_kind = 'user' AND u.is_deleted = 0 \
         UNION SELECT u.id FROM rooms r JOIN router_steps st ON st.router_id = r.router_id \
           JOIN team_members tm ON tm.team_id = st.member_id JOIN users u ON u.id = tm.user_id \
           WHERE r.id = ?1 AND st.member_kind = 'team' AND u.is_deleted = 0 \
         UNION SELECT u.id FROM room_shares rs JOIN users u ON u.organization_id = rs.organization_id \
           WHERE rs.room_id = ?1 AND u.is_deleted = 0 \
         ORDER BY 1",
    )
    .unwrap()
    .query_map([room.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
    .unwrap()
    .map(|b| Uuid::from_slice(&b.unwrap()).unwrap())
    .collect()
}
