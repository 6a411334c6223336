//! The raw-SQL baselines of an operator joining a pending chat (the criterion `join_pending`
//! group): the join's essential reads and writes, and the same plus the events a hand-written
//! implementation publishes.

use crate::raw_send::move_idle_minute;
use rusqlite::params;
use uuid::Uuid;

/// A raw baseline of a join: (connection, waiting chat's pk, operator, now).
pub type RawJoin = fn(&rusqlite::Connection, i64, Uuid, i64);

/// A waiting chat of `room` for the baselines to join (outside the measurement).
pub fn waiting_chat(raw: &rusqlite::Connection, room: Uuid, org: Uuid, now: i64) -> i64 {
    raw.execute(
        "INSERT INTO chats (id, room_id, room_organization_id, chat_type, created_at, updated_at, last_activity_at, is_waiting, token, activity_minute) \
         VALUES (?1, ?2, ?3, 'visitor', ?4, ?4, ?4, 1, 't', ?4 / 60000)",
        params![Uuid::now_v7().as_bytes(), room.as_bytes(), org.as_bytes(), now],
    )
    .unwrap();
    raw.last_insert_rowid()
}

/// The join's writes: the membership, the `join` message, the chat's sequence and activity.
/// Returns the join message's id.
fn write_join(tx: &rusqlite::Transaction, pk: i64, seq: i64, op: Uuid, now: i64) -> Uuid {
    tx.prepare_cached(
        "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, is_participating, composing_status, composing_updated_at) \
         VALUES (?1, ?2, 'user', ?3, ?3, 1, 'idle', ?3)",
    )
    .unwrap()
    .execute(params![pk, op.as_bytes(), now])
    .unwrap();
    let id = Uuid::now_v7();
    tx.prepare_cached(
        "INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type, sender_id) VALUES (?1, ?2, ?3, 'join', ?4, 'user', ?5)",
    )
    .unwrap()
    .execute(params![pk, seq, id.as_bytes(), now, op.as_bytes()])
    .unwrap();
    tx.prepare_cached(
        "UPDATE chats SET next_message_seq = next_message_seq + 1, updated_at = ?2, last_activity_at = ?2 WHERE pk = ?1",
    )
    .unwrap()
    .execute(params![pk, now])
    .unwrap();
    move_idle_minute(tx, pk);
    id
}

/// Raw: the chat (waiting, not ended), the operator's presence, then [`write_join`].
pub fn raw_join(raw: &rusqlite::Connection, pk: i64, op: Uuid, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let (_waiting, seq): (bool, i64) = tx
        .prepare_cached(
            "SELECT is_waiting, next_message_seq FROM chats WHERE pk = ?1 AND is_ended = 0",
        )
        .unwrap()
        .query_row([pk], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let _present: i64 = tx
        .prepare_cached("SELECT present_until FROM users WHERE id = ?1")
        .unwrap()
        .query_row([op.as_bytes()], |r| r.get(0))
        .unwrap();
    write_join(&tx, pk, seq, op, now);
    tx.commit().unwrap();
}

/// Raw + events: a join as hand-written code must do it ([`crate::raw_ops::join_pending_chat`]):
/// [`raw_join`]'s reads and writes plus the room access and pending checks, and the events
/// written in the same transaction: the join notice, the membership, the chat changed for its
/// organization and added to the user's chats, and removed from the pending chats of the
/// room's audience (200 users in the dataset, whose rooms have no router).
pub fn raw_join_events(raw: &rusqlite::Connection, pk: i64, op: Uuid, now: i64) {
    crate::raw_ops::join_pending_chat(raw, crate::raw_resources::ChatKey::Pk(pk), op, now);
}
