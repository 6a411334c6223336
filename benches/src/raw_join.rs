//! The raw-SQL baselines of an operator joining a pending chat (the criterion `join_pending`
//! group): the join's essential reads and writes, and the same plus the events a hand-written
//! implementation publishes.

use crate::raw_send::{RawChange, move_idle_minute, write_changes};
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

/// Raw + events: [`raw_join`] plus the events a hand-written implementation must publish in the
/// same transaction: the join message to the chat's user member, the new membership, the chat
/// changed for its owner organization and added to the operator's chats, and `removed` from the
/// pending chats of every user the chat was pending for (its room organization's users: the
/// dataset's rooms have no router) — one `event_changes` row each, chained through the chat
/// row, JSON built with `format!`.
pub fn raw_join_events(raw: &rusqlite::Connection, pk: i64, op: Uuid, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    type ChatRow = (Vec<u8>, Option<Vec<u8>>, Vec<u8>, i64, Option<i64>, i64);
    let (chat, room, org, seq, head, created): ChatRow = tx
        .prepare_cached(
            "SELECT id, room_id, room_organization_id, next_message_seq, last_event_seq, created_at \
             FROM chats WHERE pk = ?1 AND is_ended = 0 AND is_waiting = 1",
        )
        .unwrap()
        .query_row([pk], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .unwrap();
    let (first, last, _present): (Option<String>, Option<String>, i64) = tx
        .prepare_cached("SELECT first_name, last_name, present_until FROM users WHERE id = ?1")
        .unwrap()
        .query_row([op.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    let uuid_of = |b: &[u8]| Uuid::from_slice(b).unwrap();
    let (chat, org) = (uuid_of(&chat), uuid_of(&org));
    let room = room.map(|r| uuid_of(&r));
    let pending: Vec<Uuid> = tx
        .prepare_cached("SELECT id FROM users WHERE organization_id = ?1 AND is_deleted = 0")
        .unwrap()
        .query_map([org.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| uuid_of(&b.unwrap()))
        .collect();
    let id = write_join(&tx, pk, seq, op, now);

    let at = chat_core::time::format_ms(now);
    let since = chat_core::time::format_ms(created);
    let name = serde_json::to_string(&format!(
        "{} {}",
        first.unwrap_or_default(),
        last.unwrap_or_default()
    ))
    .unwrap();
    let room_json = room.map(|r| format!("\"{r}\"")).unwrap_or("null".into());
    let message = format!(
        "{{\"id\":\"{id}\",\"type\":\"join\",\"chat_id\":\"{chat}\",\"room_id\":{room_json},\"created_at\":\"{at}\",\
         \"sender_type\":\"user\",\"sender_id\":\"{op}\",\"sender_public_name\":{name},\"sender_name\":{name},\
         \"sender_avatar\":null,\"message\":null,\"is_encrypted\":false,\"sensitive_data_purged_at\":null,\
         \"selected_reply_suggestion_id\":null,\"selected_reply_suggestion\":null,\"attachments\":[],\
         \"attachment_template\":null,\"response_to_message_id\":null,\"response_to_attachment_id\":null,\
         \"response_to_attachment\":null,\"response_to_action_id\":null,\"response_to_action\":null,\
         \"response_value\":null,\"response_text\":null}}"
    );
    let membership = format!(
        "{{\"member_id\":\"{op}\",\"member_type\":\"user\",\"member_name\":{name},\"member_public_name\":{name},\
         \"member_avatar\":null,\"member_organization_id\":\"{org}\",\"chat_id\":\"{chat}\",\"room_id\":{room_json},\
         \"room_organization_id\":\"{org}\",\"created_at\":\"{at}\",\"last_seen_at\":null,\"updated_at\":\"{at}\",\
         \"chat_created_at\":\"{since}\",\"is_bot\":false,\"is_user_deleted\":false,\"is_participating\":true,\
         \"is_present\":true,\"composing_status\":\"idle\",\"message_count\":0,\"legacy_member_id\":null}}"
    );
    let whole_chat = format!(
        "{{\"id\":\"{chat}\",\"token\":\"t\",\"created_at\":\"{since}\",\"ended_at\":null,\"waiting_started_at\":null,\
         \"updated_at\":\"{at}\",\"room_id\":{room_json},\"room_name\":null,\"room_organization_id\":\"{org}\",\
         \"chat_type\":\"visitor\",\"is_private\":false,\"is_real_conversation\":false,\"is_autosuggested\":false,\
         \"is_encrypted\":false,\"encrypted_symmetric_key\":null,\"message_count\":0,\"user_message_count\":0,\
         \"visitor_message_count\":0,\"has_messages\":false,\"has_user_messages\":false,\"has_visitor_messages\":false,\
         \"first_visitor_message_url\":null,\"first_visitor_message_url_title\":null,\"autosuggest_url\":null,\
         \"autosuggest_url_title\":null,\"tag_count\":0,\"is_waiting\":true,\"is_pending\":false,\"is_ended\":false,\
         \"member_count\":1,\"user_member_count\":1,\"visitor_member_count\":0,\"present_participant_count\":1,\
         \"present_user_participant_count\":1,\"present_visitor_participant_count\":0,\"visitor_wait_time\":null,\
         \"duration\":null,\"active_duration\":0,\"legacy_conversation_state\":\"waiting\",\"legacy_room_id\":null}}"
    );
    let changed_chat = format!(
        "{{\"updated_at\":\"{at}\",\"is_pending\":false,\"member_count\":1,\"user_member_count\":1,\
         \"present_participant_count\":1,\"present_user_participant_count\":1}}"
    );
    let changes: Vec<RawChange> = vec![
        (
            vec![format!("users/{op}/chats/{chat}/messages")],
            "added",
            id.to_string(),
            Some(message),
        ),
        (
            vec![format!("users/{op}/chats/{chat}/memberships")],
            "added",
            op.to_string(),
            Some(membership),
        ),
        (
            vec![format!("orgs/{org}/owned_chats")],
            "changed",
            chat.to_string(),
            Some(changed_chat),
        ),
        (
            vec![format!("users/{op}/chats")],
            "added",
            chat.to_string(),
            Some(whole_chat),
        ),
        (
            pending
                .iter()
                .map(|u| format!("users/{u}/pending_chats"))
                .collect(),
            "removed",
            chat.to_string(),
            None,
        ),
    ];
    write_changes(&tx, org, pk, head, now, changes);
    tx.commit().unwrap();
}
