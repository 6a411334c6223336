//! The `raw + events` baselines of the write operations: hand-written rusqlite code doing, in
//! one transaction, the reads an operation's rules need, its writes, and the event rows a
//! hand-written product must write with them (no change without its event; through
//! [`crate::raw_events::write_changes`]).
//!
//! Each function is named after the registry operation it stands for and takes what a caller
//! of that operation gives. They serve the benchmarks' traffic: unencrypted chats whose
//! messages carry no attachments; a broken precondition panics. They keep no record of what
//! was published (the engine's snapshots, `event_state`): hand-written code knows what each
//! write changes.

use crate::raw_events::{ChatChain, RawChange, write_changes};
use crate::raw_resources::*;
use rusqlite::{OptionalExtension, Transaction, params};
use uuid::Uuid;

/// How long a chat stays active between two messages (the engine's `ACTIVE_WINDOW_MS`).
const ACTIVE_WINDOW_MS: i64 = 60_000;

/// `n` random lowercase hex characters.
fn random_hex(n: usize) -> String {
    let mut s = String::with_capacity(n + 32);
    while s.len() < n {
        s.push_str(&Uuid::new_v4().simple().to_string());
    }
    s.truncate(n);
    s
}

/// The chat's columns an operation may change, written back in one statement; its indexed
/// flags by a second one only when they change (`is_ended`, `is_waiting`), and the idle
/// index's minute when it moves (migration 0009).
fn save_chat(tx: &Transaction, before: &RawChat, after: &RawChat) {
    tx.prepare_cached(
        "UPDATE chats SET updated_at = ?2, ended_at = ?3, waiting_started_at = ?4, message_count = ?5, \
         user_message_count = ?6, visitor_message_count = ?7, tag_count = ?8, first_visitor_msg_at = ?9, \
         first_reply_at = ?10, first_msg_at = ?11, last_msg_at = ?12, active_ms = ?13, last_activity_at = ?14, \
         next_message_seq = ?15 WHERE pk = ?1",
    )
    .unwrap()
    .execute(params![
        after.pk,
        after.updated_at,
        after.ended_at,
        after.waiting_started_at,
        after.message_count,
        after.user_message_count,
        after.visitor_message_count,
        after.tag_count,
        after.first_visitor_msg_at,
        after.first_reply_at,
        after.first_msg_at,
        after.last_msg_at,
        after.active_ms,
        after.last_activity_at,
        after.next_message_seq
    ])
    .unwrap();
    if before.is_ended != after.is_ended || before.is_waiting != after.is_waiting {
        tx.prepare_cached("UPDATE chats SET is_ended = ?2, is_waiting = ?3 WHERE pk = ?1")
            .unwrap()
            .execute(params![after.pk, after.is_ended, after.is_waiting])
            .unwrap();
    }
    if before.last_activity_at / 60_000 != after.last_activity_at / 60_000 {
        crate::raw_send::move_idle_minute(tx, after.pk);
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_message(
    tx: &Transaction,
    pk: i64,
    seq: i64,
    id: Uuid,
    kind: &str,
    now: i64,
    sender_type: &str,
    sender: Uuid,
    text: Option<&str>,
) {
    tx.prepare_cached(
        "INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type, sender_id, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .unwrap()
    .execute(params![
        pk,
        seq,
        id.as_bytes(),
        kind,
        now,
        sender_type,
        sender.as_bytes(),
        text
    ])
    .unwrap();
}

fn insert_user_membership(tx: &Transaction, pk: i64, user: Uuid, now: i64) {
    tx.prepare_cached(
        "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, is_participating, \
         composing_status, composing_updated_at) VALUES (?1, ?2, 'user', ?3, ?3, 1, 'idle', ?3)",
    )
    .unwrap()
    .execute(params![pk, user.as_bytes(), now])
    .unwrap();
}

/// A join or leave notice by `user`: the message, and the chat's sequence and activity.
fn user_notice(tx: &Transaction, chat: &mut RawChat, kind: &str, user: Uuid, now: i64) -> Uuid {
    let id = Uuid::now_v7();
    insert_message(
        tx,
        chat.pk,
        chat.next_message_seq,
        id,
        kind,
        now,
        "user",
        user,
        None,
    );
    chat.next_message_seq += 1;
    chat.last_activity_at = now;
    chat.updated_at = now;
    id
}

/// The message change of a user's notice (a join or leave).
fn notice_change(
    id: Uuid,
    kind: &str,
    chat: &RawChat,
    members: &[RawMember],
    user: &RawUser,
    now: i64,
) -> RawChange {
    let (public, name, avatar) = (user.public_name(), user.full_name(), user.avatar_json());
    let sender = Sender {
        kind: "user",
        id: user.id.to_string(),
        public_name: Some(&public),
        name: Some(&name),
        avatar: &avatar,
    };
    RawChange::to(
        message_channels(chat, members),
        "added",
        id.to_string(),
        Some(message_json(id, kind, chat, now, &sender, None)),
    )
    .with_room(chat.room, message_room_paths(chat))
}

/// The user `user` (present, of a subscribed organization) and the chat `chat` they are a
/// member of, with its members.
fn member_chat(
    tx: &Transaction,
    user: Uuid,
    chat: ChatKey,
    now: i64,
) -> (RawUser, RawChat, Vec<RawMember>) {
    let u = read_user(tx, user).expect("the user exists");
    let c = read_chat(tx, chat).expect("the chat exists");
    let members = read_members(tx, c.pk, now);
    assert!(members.iter().any(|m| m.id == user), "the user is a member");
    (u, c, members)
}

fn chain(chat: &RawChat) -> Option<ChatChain> {
    Some(ChatChain {
        pk: chat.pk,
        head: chat.last_event_seq,
    })
}

// ---- visitors --------------------------------------------------------------------------------

/// `visitor_auth` without a secret: a new visitor of `org` and their access token.
pub fn visitor_auth(raw: &rusqlite::Connection, org: Uuid, now: i64) -> Uuid {
    let tx = raw.unchecked_transaction().unwrap();
    tx.prepare_cached("SELECT 1 FROM organizations WHERE id = ?1")
        .unwrap()
        .query_row([org.as_bytes()], |_| Ok(()))
        .unwrap();
    let visitor = Uuid::new_v4();
    let secret = random_hex(32);
    tx.prepare_cached(
        "INSERT INTO visitors (id, organization_id, secret_hash, present_until, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 0, ?4, ?4)",
    )
    .unwrap()
    .execute(params![
        visitor.as_bytes(),
        org.as_bytes(),
        chat_core::auth::token_hash(&secret),
        now
    ])
    .unwrap();
    let token = format!("vt_{}", random_hex(40));
    tx.prepare_cached(
        "INSERT INTO visitor_tokens (token_hash, visitor_id, expires_at) VALUES (?1, ?2, ?3)",
    )
    .unwrap()
    .execute(params![
        chat_core::auth::token_hash(&token),
        visitor.as_bytes(),
        now + 24 * 3600 * 1000
    ])
    .unwrap();
    tx.commit().unwrap();
    visitor
}

/// The member's presence flipped (`was_present` before): their memberships of open chats and
/// those chats change (`is_present`, the present counts, pending).
fn presence_flipped(tx: &Transaction, member: Uuid, was_present: bool, now: i64) {
    let chats: Vec<i64> = tx
        .prepare_cached(
            "SELECT m.chat_pk FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
             WHERE m.member_id = ?1 AND c.is_ended = 0",
        )
        .unwrap()
        .query_map([member.as_bytes()], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for pk in chats {
        let chat = read_chat(tx, ChatKey::Pk(pk)).unwrap();
        let members = read_members(tx, pk, now);
        let mut before = members.clone();
        let me = before.iter_mut().find(|m| m.id == member).unwrap();
        me.present = was_present;
        let changed_here = me.participating;
        let users = user_ids(&members);
        let mut changes = Vec::new();
        if changed_here {
            changes.push(membership_change(
                &chat,
                &members,
                member,
                chat.is_pending(Counts::of(&members)),
                "changed",
                member.to_string(),
                Some(format!("{{\"is_present\":{}}}", !was_present)),
            ));
        }
        changes.extend(chat_changes(&ChatTransition {
            before: Some((&chat, Counts::of(&before))),
            users_before: &users,
            visitors_before: &visitor_ids(&members),
            after: &chat,
            counts_after: Counts::of(&members),
            users_after: &users,
            visitors_after: &visitor_ids(&members),
        }));
        write_changes(tx, chat.org, chain(&chat), now, changes);
    }
}

/// Sets a presence holder's `present_until` to its clients' latest expiry; when that flips
/// whether it is present, publishes what shows it in chats. (The engine also republishes the
/// user on the organization's `users` and their teams; the benchmark's operators stay present,
/// so the baseline leaves that out.)
fn refresh_presence(tx: &Transaction, holder: Uuid, is_user: bool, before: i64, now: i64) {
    let (latest_sql, update_sql) = if is_user {
        (
            "SELECT coalesce(max(expires_at), 0) FROM presence_clients WHERE user_id = ?1",
            "UPDATE users SET present_until = ?2 WHERE id = ?1 AND present_until IS NOT ?2",
        )
    } else {
        (
            "SELECT coalesce(max(expires_at), 0) FROM presence_clients WHERE visitor_id = ?1",
            "UPDATE visitors SET present_until = ?2 WHERE id = ?1 AND present_until IS NOT ?2",
        )
    };
    let until: i64 = tx
        .prepare_cached(latest_sql)
        .unwrap()
        .query_row([holder.as_bytes()], |r| r.get(0))
        .unwrap();
    tx.prepare_cached(update_sql)
        .unwrap()
        .execute(params![holder.as_bytes(), until])
        .unwrap();
    if (before > now) != (until > now) {
        presence_flipped(tx, holder, before > now, now);
    }
}

fn upsert_presence_client(
    tx: &Transaction,
    id: Uuid,
    user: Option<Uuid>,
    visitor: Option<Uuid>,
    expires: i64,
    now: i64,
) {
    tx.prepare_cached(
        "INSERT INTO presence_clients (id, user_id, visitor_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
    )
    .unwrap()
    .execute(params![
        id.as_bytes(),
        user.map(|u| u.as_bytes().to_vec()),
        visitor.map(|v| v.as_bytes().to_vec()),
        expires,
        now
    ])
    .unwrap();
}

/// `visitor_enter_room`: the visitor enters `room` (present for 60 s), and reads its
/// variables there (the reply).
pub fn visitor_enter_room(
    raw: &rusqlite::Connection,
    org: Uuid,
    room: Uuid,
    visitor: Uuid,
    now: i64,
) {
    let tx = raw.unchecked_transaction().unwrap();
    let (v_org, present_until): (Vec<u8>, i64) = tx
        .prepare_cached("SELECT organization_id, present_until FROM visitors WHERE id = ?1")
        .unwrap()
        .query_row([visitor.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(uuid_of(&v_org), org);
    let r_org: Vec<u8> = tx
        .prepare_cached("SELECT organization_id FROM rooms WHERE id = ?1")
        .unwrap()
        .query_row([room.as_bytes()], |r| r.get(0))
        .unwrap();
    assert_eq!(uuid_of(&r_org), org);
    tx.prepare_cached(
        "INSERT OR IGNORE INTO visitor_rooms (visitor_id, room_id, created_at) VALUES (?1, ?2, ?3)",
    )
    .unwrap()
    .execute(params![visitor.as_bytes(), room.as_bytes(), now])
    .unwrap();
    upsert_presence_client(&tx, visitor, None, Some(visitor), now + 60_000, now);
    refresh_presence(&tx, visitor, false, present_until, now);
    let variables = tx
        .prepare_cached(
            "SELECT key, value FROM visitor_variables WHERE visitor_id = ?1 AND room_id = ?2",
        )
        .unwrap()
        .query([visitor.as_bytes(), room.as_bytes()])
        .map(|rows| crate::read_all_rows(rows, 2))
        .unwrap();
    std::hint::black_box(variables);
    tx.commit().unwrap();
}

/// `visitor_start_chat` for a visitor without an open chat in the room: the chat, the
/// visitor's membership, the chat added to the organization's owned chats.
pub fn visitor_start_chat(
    raw: &rusqlite::Connection,
    org: Uuid,
    room: Uuid,
    visitor: Uuid,
    now: i64,
) -> Uuid {
    let tx = raw.unchecked_transaction().unwrap();
    let (r_org, room_name): (Vec<u8>, String) = tx
        .prepare_cached("SELECT organization_id, name FROM rooms WHERE id = ?1")
        .unwrap()
        .query_row([room.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(uuid_of(&r_org), org);
    let (v_org, present_until): (Vec<u8>, i64) = tx
        .prepare_cached("SELECT organization_id, present_until FROM visitors WHERE id = ?1")
        .unwrap()
        .query_row([visitor.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(uuid_of(&v_org), org);
    let (subscribed, private, encrypt): (bool, bool, bool) = tx
        .prepare_cached(
            "SELECT has_active_subscription, private_chats, encrypt_chats FROM organizations WHERE id = ?1",
        )
        .unwrap()
        .query_row([org.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert!(subscribed && !encrypt);
    let open: Option<i64> = tx
        .prepare_cached(
            "SELECT pk FROM chats WHERE visitor_id = ?1 AND room_id = ?2 AND is_ended = 0 LIMIT 1",
        )
        .unwrap()
        .query_row([visitor.as_bytes(), room.as_bytes()], |r| r.get(0))
        .optional()
        .unwrap();
    assert!(open.is_none(), "a new chat");
    tx.prepare_cached(
        "INSERT OR IGNORE INTO visitor_rooms (visitor_id, room_id, created_at) VALUES (?1, ?2, ?3)",
    )
    .unwrap()
    .execute(params![visitor.as_bytes(), room.as_bytes(), now])
    .unwrap();
    let id = Uuid::now_v7();
    let token = random_hex(48);
    tx.prepare_cached(
        "INSERT INTO chats (id, room_id, room_organization_id, chat_type, visitor_id, is_private, created_at, \
         updated_at, last_activity_at, token, activity_minute) VALUES (?1, ?2, ?3, 'visitor', ?4, ?5, ?6, ?6, ?6, ?7, ?6 / 60000)",
    )
    .unwrap()
    .execute(params![
        id.as_bytes(),
        room.as_bytes(),
        org.as_bytes(),
        visitor.as_bytes(),
        private,
        now,
        token
    ])
    .unwrap();
    let pk = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, is_participating, \
         composing_status, composing_updated_at) VALUES (?1, ?2, 'visitor', ?3, ?3, 1, 'idle', ?3)",
    )
    .unwrap()
    .execute(params![pk, visitor.as_bytes(), now])
    .unwrap();
    let chat = RawChat {
        pk,
        id,
        room: Some(room),
        room_name: Some(room_name),
        org,
        chat_type: "visitor".into(),
        visitor: Some(visitor),
        is_private: private,
        is_encrypted: false,
        created_at: now,
        updated_at: now,
        is_ended: false,
        ended_at: None,
        is_waiting: false,
        waiting_started_at: None,
        message_count: 0,
        user_message_count: 0,
        visitor_message_count: 0,
        tag_count: 0,
        is_autosuggested: false,
        first_visitor_message_url: None,
        first_visitor_message_url_title: None,
        autosuggest_url: None,
        autosuggest_url_title: None,
        first_visitor_msg_at: None,
        first_reply_at: None,
        first_msg_at: None,
        last_msg_at: None,
        active_ms: 0,
        last_activity_at: now,
        next_message_seq: 1,
        token,
        last_event_seq: None,
    };
    let counts = Counts {
        present_visitors: i64::from(present_until > now),
        visitor_members: 1,
        ..Counts::default()
    };
    // The visitor's membership (read by the visitor alone yet), then the chat.
    let membership = RawMember {
        id: visitor,
        is_user: false,
        participating: true,
        message_count: 0,
        composing: "idle".into(),
        present: present_until > now,
    };
    let mut changes = vec![membership_change(
        &chat,
        std::slice::from_ref(&membership),
        visitor,
        chat.is_pending(counts),
        "added",
        visitor.simple().to_string(),
        Some(visitor_membership_json(
            visitor,
            &chat,
            now,
            present_until > now,
        )),
    )];
    changes.extend(chat_changes(&ChatTransition {
        before: None,
        users_before: &[],
        visitors_before: &[],
        after: &chat,
        counts_after: counts,
        users_after: &[],
        visitors_after: &[visitor],
    }));
    write_changes(&tx, org, chain(&chat), now, changes);
    tx.commit().unwrap();
    id
}

// ---- messages --------------------------------------------------------------------------------

/// `send_user_message` (`is_user`) or `visitor_send_message`: a `msg` by a member of the
/// chat. Events: the message to the chat's users and visitor; the sender's membership and the
/// chat changed; the chat to its room's pending audience when it starts, stays or stops
/// waiting for a user. Returns the message's id.
pub fn send_message(
    raw: &rusqlite::Connection,
    chat: ChatKey,
    sender: Uuid,
    is_user: bool,
    now: i64,
    body: &str,
) -> Uuid {
    let tx = raw.unchecked_transaction().unwrap();
    let (user, visitor_name) = if is_user {
        let u = read_user(&tx, sender).expect("the sender exists");
        assert!(u.org_subscribed);
        (Some(u), None)
    } else {
        let name: Option<String> = tx
            .prepare_cached("SELECT name FROM visitors WHERE id = ?1")
            .unwrap()
            .query_row([sender.as_bytes()], |r| r.get(0))
            .unwrap();
        (None, name)
    };
    let before = read_chat(&tx, chat).expect("the chat exists");
    assert!(!before.is_ended);
    let members = read_members(&tx, before.pk, now);
    let me = members
        .iter()
        .position(|m| m.id == sender)
        .expect("the sender is a member");
    let id = Uuid::now_v7();
    let sender_type = if is_user { "user" } else { "visitor" };
    insert_message(
        &tx,
        before.pk,
        before.next_message_seq,
        id,
        "msg",
        now,
        sender_type,
        sender,
        Some(body),
    );
    tx.prepare_cached(
        "UPDATE memberships SET message_count = message_count + 1, composing_status = 'idle', \
         composing_updated_at = ?3, updated_at = ?3 WHERE chat_pk = ?1 AND member_id = ?2",
    )
    .unwrap()
    .execute(params![before.pk, sender.as_bytes(), now])
    .unwrap();
    let mut after = before.clone();
    after.next_message_seq += 1;
    after.last_activity_at = now;
    after.updated_at = now;
    after.message_count += 1;
    if let Some(last) = after.last_msg_at {
        after.active_ms += (now - last).clamp(0, ACTIVE_WINDOW_MS);
    }
    after.first_msg_at.get_or_insert(now);
    after.last_msg_at = Some(now);
    if is_user {
        after.user_message_count += 1;
        after.is_waiting = false;
        if after.first_visitor_msg_at.is_some() && after.first_reply_at.is_none() {
            after.first_reply_at = Some(now);
        }
    } else {
        if after.visitor_message_count == 0 {
            after.first_visitor_msg_at = Some(now);
            if after.user_message_count == 0 && !after.is_waiting {
                after.is_waiting = true;
                after.waiting_started_at = Some(now);
            }
        }
        after.visitor_message_count += 1;
        // The earlier messages whose actions a visitor's message disables.
        let disabling = tx
            .prepare_cached(
                "SELECT seq, attachments FROM messages INDEXED BY messages_disable_pending \
                 WHERE chat_pk = ?1 AND disables_on_visitor_message = 1",
            )
            .unwrap()
            .query([before.pk])
            .map(|rows| crate::read_all_rows(rows, 2))
            .unwrap();
        assert_eq!(disabling, 0, "the benchmarks' messages carry no actions");
    }
    save_chat(&tx, &before, &after);

    let mut members_after = members.clone();
    members_after[me].message_count += 1;
    members_after[me].composing = "idle".into();
    let users = user_ids(&members);
    let (public, name, avatar) = match &user {
        Some(u) => (Some(u.public_name()), Some(u.full_name()), u.avatar_json()),
        None => (visitor_name.clone(), visitor_name, "null".to_string()),
    };
    let who = Sender {
        kind: sender_type,
        id: if is_user {
            sender.to_string()
        } else {
            sender.simple().to_string()
        },
        public_name: public.as_deref(),
        name: name.as_deref(),
        avatar: &avatar,
    };
    let at = chat_core::time::format_ms(now);
    let mut membership = format!(
        "{{\"updated_at\":\"{at}\",\"message_count\":{}",
        members[me].message_count + 1
    );
    if members[me].composing != "idle" {
        membership.push_str(",\"composing_status\":\"idle\"");
    }
    membership.push('}');
    let member_id = if is_user {
        sender.to_string()
    } else {
        sender.simple().to_string()
    };
    let mut changes = vec![
        RawChange::to(
            message_channels(&after, &members),
            "added",
            id.to_string(),
            Some(message_json(id, "msg", &after, now, &who, Some(body))),
        )
        .with_room(after.room, message_room_paths(&after)),
        membership_change(
            &after,
            &members,
            sender,
            after.is_pending(Counts::of(&members_after)),
            "changed",
            member_id,
            Some(membership),
        ),
    ];
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, Counts::of(&members))),
        users_before: &users,
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: Counts::of(&members_after),
        users_after: &users,
        visitors_after: &visitor_ids(&members),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
    id
}

// ---- memberships -----------------------------------------------------------------------------

/// Whether `user` may take the waiting chats of `room` (the room-access relation).
fn room_accessible(tx: &Transaction, room: Uuid, user: Uuid) -> bool {
    tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM rooms r JOIN users u ON u.organization_id = r.organization_id \
                        WHERE r.id = ?1 AND r.router_id IS NULL AND u.id = ?2) \
             OR EXISTS (SELECT 1 FROM rooms r JOIN router_steps st ON st.router_id = r.router_id \
                        WHERE r.id = ?1 AND st.member_kind = 'user' AND st.member_id = ?2) \
             OR EXISTS (SELECT 1 FROM rooms r JOIN router_steps st ON st.router_id = r.router_id \
                        JOIN team_members tm ON tm.team_id = st.member_id \
                        WHERE r.id = ?1 AND st.member_kind = 'team' AND tm.user_id = ?2) \
             OR EXISTS (SELECT 1 FROM room_shares rs JOIN users u ON u.organization_id = rs.organization_id \
                        WHERE rs.room_id = ?1 AND u.id = ?2)",
    )
    .unwrap()
    .query_row([room.as_bytes(), user.as_bytes()], |r| r.get(0))
    .unwrap()
}

/// Adds `user` (not a member yet) to the chat as a participating member with their join
/// notice; returns the chat and members after it, and the events of the notice and the
/// membership.
fn add_user_member(
    tx: &Transaction,
    before: &RawChat,
    members: &[RawMember],
    user: &RawUser,
    now: i64,
) -> (RawChat, Vec<RawMember>, Vec<RawChange>) {
    insert_user_membership(tx, before.pk, user.id, now);
    let mut after = before.clone();
    let notice = user_notice(tx, &mut after, "join", user.id, now);
    save_chat(tx, before, &after);
    let mut members_after = members.to_vec();
    members_after.push(RawMember {
        id: user.id,
        is_user: true,
        participating: true,
        message_count: 0,
        composing: "idle".into(),
        present: user.is_present(now),
    });
    let changes = vec![
        notice_change(notice, "join", &after, &members_after, user, now),
        membership_change(
            &after,
            &members_after,
            user.id,
            after.is_pending(Counts::of(&members_after)),
            "added",
            user.id.to_string(),
            Some(user_membership_json(user, &after, now, true)),
        ),
    ];
    (after, members_after, changes)
}

/// `join_pending_chat`: a present user joins a chat pending for them (waiting, in a room they
/// may take, without a present user). Events: the join notice, the membership, the chat
/// changed and added to the user's chats, removed from the room audience's pending chats.
pub fn join_pending_chat(raw: &rusqlite::Connection, chat: ChatKey, user: Uuid, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    assert!(u.is_present(now), "the user is present");
    let before = read_chat(&tx, chat).expect("the chat exists");
    let room = before.room.expect("a room's chat");
    assert!(before.is_waiting && !before.is_ended);
    assert!(room_accessible(&tx, room, user));
    let members = read_members(&tx, before.pk, now);
    let counts = Counts::of(&members);
    assert_eq!(counts.present_users, 0, "pending");
    assert!(!members.iter().any(|m| m.id == user));
    let (after, members_after, mut changes) = add_user_member(&tx, &before, &members, &u, now);
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, counts)),
        users_before: &user_ids(&members),
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: Counts::of(&members_after),
        users_after: &user_ids(&members_after),
        visitors_after: &visitor_ids(&members_after),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
}

/// A membership change a member makes to their own membership.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnMembership<'a> {
    pub participating: Option<bool>,
    /// `idle`, `typing` or `typed`.
    pub composing: Option<&'a str>,
}

/// `update_user_membership` (`is_user`) or `visitor_update_membership`: the member's own
/// membership of an open chat. A user's participation change writes a join or leave notice.
/// Events: the notice, the membership changed, the chat changed (its present counts).
pub fn update_own_membership(
    raw: &rusqlite::Connection,
    chat: Uuid,
    member: Uuid,
    is_user: bool,
    change: OwnMembership<'_>,
    now: i64,
) {
    let tx = raw.unchecked_transaction().unwrap();
    let user = if is_user {
        Some(read_user(&tx, member).expect("the user exists"))
    } else {
        tx.prepare_cached("SELECT 1 FROM visitors WHERE id = ?1")
            .unwrap()
            .query_row([member.as_bytes()], |_| Ok(()))
            .unwrap();
        None
    };
    let before = read_chat(&tx, ChatKey::Id(chat)).expect("the chat exists");
    assert!(!before.is_ended);
    let members = read_members(&tx, before.pk, now);
    let me = members
        .iter()
        .position(|m| m.id == member)
        .expect("a member");
    if change.participating == Some(true) {
        assert!(user.as_ref().is_none_or(|u| u.is_present(now)), "present");
    }
    let mut after = before.clone();
    let mut members_after = members.clone();
    let mut changes = Vec::new();
    if let Some(p) = change.participating {
        members_after[me].participating = p;
        if let (Some(u), true) = (&user, members[me].participating != p) {
            let kind = if p { "join" } else { "leave" };
            let notice = user_notice(&tx, &mut after, kind, member, now);
            save_chat(&tx, &before, &after);
            changes.push(notice_change(notice, kind, &after, &members_after, u, now));
        }
    }
    if let Some(c) = change.composing {
        members_after[me].composing = c.to_string();
    }
    tx.prepare_cached(
        "UPDATE memberships SET is_participating = ?3, composing_status = ?4,          composing_updated_at = CASE WHEN ?5 THEN ?6 ELSE composing_updated_at END, updated_at = ?6          WHERE chat_pk = ?1 AND member_id = ?2",
    )
    .unwrap()
    .execute(params![
        before.pk,
        member.as_bytes(),
        members_after[me].participating,
        members_after[me].composing,
        change.composing.is_some(),
        now
    ])
    .unwrap();
    let at = chat_core::time::format_ms(now);
    let (was, is) = (&members[me], &members_after[me]);
    let mut membership = format!("{{\"updated_at\":\"{at}\"");
    if was.participating != is.participating {
        membership.push_str(&format!(",\"is_participating\":{}", is.participating));
    }
    if was.present_here() != is.present_here() {
        membership.push_str(&format!(",\"is_present\":{}", is.present_here()));
    }
    if was.composing != is.composing {
        membership.push_str(&format!(",\"composing_status\":\"{}\"", is.composing));
    }
    membership.push('}');
    let users = user_ids(&members);
    let member_id = if is_user {
        member.to_string()
    } else {
        member.simple().to_string()
    };
    changes.push(membership_change(
        &after,
        &members,
        member,
        after.is_pending(Counts::of(&members_after)),
        "changed",
        member_id,
        Some(membership),
    ));
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, Counts::of(&members))),
        users_before: &users,
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: Counts::of(&members_after),
        users_after: &users,
        visitors_after: &visitor_ids(&members),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
}

// ---- chats -----------------------------------------------------------------------------------

/// `update_chat` through the user's chats: `end` ends the chat (its pending invitations
/// expire), else it is set not waiting. Events: the expired invitations, the chat changed
/// (and removed from pending chats if it was pending).
pub fn update_chat(raw: &rusqlite::Connection, chat: Uuid, user: Uuid, end: bool, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let (_, before, members) = member_chat(&tx, user, ChatKey::Id(chat), now);
    assert!(!before.is_ended);
    let mut after = before.clone();
    let mut changes = Vec::new();
    let mut changed = false;
    if !end && before.is_waiting {
        after.is_waiting = false;
        changed = true;
    }
    if end {
        after.is_ended = true;
        after.ended_at = Some(now);
        after.is_waiting = false;
        changed = true;
        changes.extend(expire_pending_invitations(&tx, &after, now));
    }
    if changed {
        after.updated_at = now;
        save_chat(&tx, &before, &after);
    }
    let users = user_ids(&members);
    let counts = Counts::of(&members);
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, counts)),
        users_before: &users,
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: counts,
        users_after: &users,
        visitors_after: &visitor_ids(&members),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
}

/// The readers of an invitation's changes: its inviter's outgoing invitations and its
/// invitees' incoming ones.
fn invitation_channels(
    tx: &Transaction,
    chat: Uuid,
    by: Uuid,
    user: Option<Uuid>,
    team: Option<Uuid>,
) -> Vec<String> {
    let mut out = vec![format!("users/{by}/chats/{chat}/outgoing_chat_invitations")];
    let invitees: Vec<Uuid> = match (user, team) {
        (Some(u), _) => vec![u],
        (None, Some(t)) => tx
            .prepare_cached("SELECT user_id FROM team_members WHERE team_id = ?1")
            .unwrap()
            .query_map([t.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|b| uuid_of(&b.unwrap()))
            .collect(),
        (None, None) => Vec::new(),
    };
    out.extend(
        invitees
            .into_iter()
            .filter(|u| *u != by)
            .map(|u| format!("users/{u}/incoming_chat_invitations")),
    );
    out
}

fn expire_pending_invitations(tx: &Transaction, chat: &RawChat, now: i64) -> Vec<RawChange> {
    type Expired = (Vec<u8>, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
    let expired: Vec<Expired> = tx
        .prepare_cached(
            "UPDATE chat_invitations SET expired_at = ?2, updated_at = ?2 \
             WHERE chat_pk = ?1 AND accepted_at IS NULL AND expired_at IS NULL \
             RETURNING id, invited_by_user_id, invited_user_id, invited_team_id",
        )
        .unwrap()
        .query_map(params![chat.pk, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let at = chat_core::time::format_ms(now);
    expired
        .into_iter()
        .map(|(id, by, user, team)| {
            RawChange::to(
                invitation_channels(
                    tx,
                    chat.id,
                    uuid_of(&by),
                    user.map(|u| uuid_of(&u)),
                    team.map(|t| uuid_of(&t)),
                ),
                "changed",
                uuid_of(&id).to_string(),
                Some(format!(
                    "{{\"is_expired\":true,\"updated_at\":\"{at}\",\"expired_at\":\"{at}\"}}"
                )),
            )
        })
        .collect()
}

// ---- tags ------------------------------------------------------------------------------------

fn tag_channels(chat: &RawChat, users: &[Uuid]) -> Vec<String> {
    let mut out = org_sub_channels(chat, "tags", false, !users.is_empty());
    out.extend(
        users
            .iter()
            .map(|u| format!("users/{u}/chats/{}/tags", chat.id)),
    );
    out
}

/// `add_tag` through the user's chats, for a tag the chat does not have: the tag (one of the
/// room's allowed tags, if it has any), the chat's tag count. Events: the tag added, the chat
/// changed.
pub fn add_tag(raw: &rusqlite::Connection, chat: Uuid, user: Uuid, name: &str, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let (_, before, members) = member_chat(&tx, user, ChatKey::Id(chat), now);
    if let Some(room) = before.room {
        let (any, this): (bool, bool) = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM room_allowed_tags WHERE room_id = ?1), \
                 EXISTS (SELECT 1 FROM room_allowed_tags WHERE room_id = ?1 AND name = ?2)",
            )
            .unwrap()
            .query_row(params![room.as_bytes(), name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(!any || this, "an allowed tag");
    }
    assert!(!before.is_ended);
    let exists: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM chat_tags WHERE chat_pk = ?1 AND name = ?2")
        .unwrap()
        .query_row(params![before.pk, name], |r| r.get(0))
        .optional()
        .unwrap();
    assert!(exists.is_none(), "a new tag");
    tx.prepare_cached("INSERT INTO chat_tags (chat_pk, name, created_at) VALUES (?1, ?2, ?3)")
        .unwrap()
        .execute(params![before.pk, name, now])
        .unwrap();
    let mut after = before.clone();
    after.tag_count += 1;
    after.updated_at = now;
    save_chat(&tx, &before, &after);
    let users = user_ids(&members);
    let tag = format!(
        "{{\"name\":{},\"hashed_name\":\"{}\",\"created_at\":\"{}\",\"room_id\":{}}}",
        serde_json::to_string(name).unwrap(),
        chat_core::tags::hashed_name(name),
        chat_core::time::format_ms(now),
        after
            .room
            .map_or("null".to_string(), |r| format!("\"{r}\""))
    );
    let counts = Counts::of(&members);
    let mut changes = vec![RawChange::to(
        tag_channels(&after, &users),
        "added",
        name.to_string(),
        Some(tag),
    )];
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, counts)),
        users_before: &users,
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: counts,
        users_after: &users,
        visitors_after: &visitor_ids(&members),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
}

/// `remove_tag` through the user's chats: the tag, the chat's tag count. Events: the tag
/// removed, the chat changed.
pub fn remove_tag(raw: &rusqlite::Connection, chat: Uuid, user: Uuid, name: &str, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let (_, before, members) = member_chat(&tx, user, ChatKey::Id(chat), now);
    assert!(!before.is_ended);
    let gone = tx
        .prepare_cached("DELETE FROM chat_tags WHERE chat_pk = ?1 AND name = ?2")
        .unwrap()
        .execute(params![before.pk, name])
        .unwrap();
    assert_eq!(gone, 1, "the chat had the tag");
    let mut after = before.clone();
    after.tag_count -= 1;
    after.updated_at = now;
    save_chat(&tx, &before, &after);
    let users = user_ids(&members);
    let counts = Counts::of(&members);
    let mut changes = vec![RawChange::to(
        tag_channels(&after, &users),
        "removed",
        name.to_string(),
        None,
    )];
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, counts)),
        users_before: &users,
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: counts,
        users_after: &users,
        visitors_after: &visitor_ids(&members),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
}

// ---- reply suggestions -----------------------------------------------------------------------

/// `create_reply_suggestion` through the user's chats, for a message of the chat. Event: the
/// suggestion added for the chat's users. Returns its id.
pub fn create_reply_suggestion(
    raw: &rusqlite::Connection,
    chat: Uuid,
    user: Uuid,
    message: Uuid,
    text: &str,
    score: Option<f64>,
    now: i64,
) -> Uuid {
    let tx = raw.unchecked_transaction().unwrap();
    let (u, c, members) = member_chat(&tx, user, ChatKey::Id(chat), now);
    tx.prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND chat_pk = ?2")
        .unwrap()
        .query_row(params![message.as_bytes(), c.pk], |_| Ok(()))
        .unwrap();
    assert!(!c.is_ended);
    let id = Uuid::now_v7();
    tx.prepare_cached(
        "INSERT INTO reply_suggestions (id, chat_pk, message_id, organization_id, suggestion, relevancy_score, \
         created_by_user_id, updated_by_user_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8)",
    )
    .unwrap()
    .execute(params![
        id.as_bytes(),
        c.pk,
        message.as_bytes(),
        u.org.as_bytes(),
        text,
        score,
        user.as_bytes(),
        now
    ])
    .unwrap();
    const KEYS: &[&str] = &[
        "id",
        "suggestion",
        "relevancy_score",
        "created_by_user_id",
        "created_by_user",
        "updated_by_user_id",
        "updated_by_user",
        "room_id",
        "chat_id",
        "message_id",
        "organization_id",
        "created_at",
        "updated_at",
    ];
    let who = format!(
        "{{\"id\":\"{}\",\"full_name\":{},\"first_name\":{},\"last_name\":{},\"organization_id\":\"{}\",\"is_bot\":{}}}",
        u.id,
        serde_json::to_string(&u.full_name()).unwrap(),
        serde_json::to_string(&u.first_name).unwrap(),
        serde_json::to_string(&u.last_name).unwrap(),
        u.org,
        u.is_bot
    );
    let mut j = Json::object(KEYS);
    j.plain(id)
        .text(text)
        .raw(&score.map_or("null".to_string(), |s| format!("{s:?}")))
        .plain(user)
        .raw(&who)
        .plain(user)
        .raw(&who)
        .plain_opt(c.room)
        .plain(c.id)
        .plain(message)
        .plain(u.org)
        .time(now)
        .time(now);
    // The chat's and the message's suggestions, of each user member and of the users the
    // room is routed to.
    let of_chat = format!("chats/{}/reply_suggestions", c.id);
    let of_message = format!("chats/{}/messages/{message}/reply_suggestions", c.id);
    let channels = user_ids(&members)
        .iter()
        .flat_map(|m| {
            [
                format!("users/{m}/{of_chat}"),
                format!("users/{m}/{of_message}"),
            ]
        })
        .collect();
    let changes = vec![
        RawChange::to(
            channels,
            "added",
            id.to_string(),
            Some(j.done().into_text()),
        )
        .with_room(
            c.room,
            vec![format!("routed_{of_chat}"), format!("routed_{of_message}")],
        ),
    ];
    write_changes(&tx, c.org, chain(&c), now, changes);
    tx.commit().unwrap();
    id
}

// ---- invitations -----------------------------------------------------------------------------

/// `create_invitation` of a user of the inviter's organization, who has no pending invitation
/// to the chat. Event: the invitation added to the inviter's outgoing and the invitee's
/// incoming invitations. Returns its id.
pub fn create_invitation(
    raw: &rusqlite::Connection,
    chat: Uuid,
    user: Uuid,
    invitee: Uuid,
    now: i64,
) -> Uuid {
    let tx = raw.unchecked_transaction().unwrap();
    let (u, c, members) = member_chat(&tx, user, ChatKey::Id(chat), now);
    assert_ne!(user, invitee);
    let invited = read_user(&tx, invitee).expect("the invitee exists");
    assert_eq!(invited.org, u.org);
    assert!(!c.is_ended);
    let pending: Option<i64> = tx
        .prepare_cached(
            "SELECT 1 FROM chat_invitations WHERE chat_pk = ?1 AND invited_user_id = ?2 \
             AND accepted_at IS NULL AND expired_at IS NULL",
        )
        .unwrap()
        .query_row(params![c.pk, invitee.as_bytes()], |r| r.get(0))
        .optional()
        .unwrap();
    assert!(pending.is_none(), "no pending invitation");
    let id = Uuid::now_v7();
    tx.prepare_cached(
        "INSERT INTO chat_invitations (id, chat_pk, invited_by_user_id, invited_user_id, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )
    .unwrap()
    .execute(params![
        id.as_bytes(),
        c.pk,
        user.as_bytes(),
        invitee.as_bytes(),
        now
    ])
    .unwrap();
    const KEYS: &[&str] = &[
        "id",
        "is_accepted",
        "is_expired",
        "invited_by_user_id",
        "invited_by_user",
        "chat_id",
        "room_id",
        "invited_user_id",
        "invited_team_id",
        "invited_organization_id",
        "invitee_name",
        "accepted_by_user_id",
        "accepted_by_user",
        "user_member_count",
        "visitor_member_count",
        "created_at",
        "updated_at",
        "accepted_at",
        "expired_at",
    ];
    let participating = |user: bool| {
        members
            .iter()
            .filter(|m| m.is_user == user && m.participating)
            .count() as i64
    };
    let mut j = Json::object(KEYS);
    j.plain(id)
        .bool(false)
        .bool(false)
        .plain(user)
        .raw(&u.summary_json())
        .plain(c.id)
        .plain_opt(c.room)
        .plain(invitee)
        .raw("null")
        .raw("null")
        .text(&invited.full_name())
        .raw("null")
        .raw("null")
        .int(participating(true))
        .int(participating(false))
        .time(now)
        .time(now)
        .raw("null")
        .raw("null");
    let changes = vec![RawChange::to(
        invitation_channels(&tx, c.id, user, Some(invitee), None),
        "added",
        id.to_string(),
        Some(j.done().into_text()),
    )];
    write_changes(&tx, c.org, chain(&c), now, changes);
    tx.commit().unwrap();
    id
}

/// `accept_invitation` of a pending invitation addressed to the user, who is not a member of
/// the chat yet: the user joins it. Events: the join notice, the membership, the invitation
/// changed, the chat changed and added to the user's chats.
pub fn accept_invitation(raw: &rusqlite::Connection, user: Uuid, invitation: Uuid, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    type Inv = (i64, Vec<u8>, Option<Vec<u8>>, Option<i64>, Option<i64>);
    let (pk, by, invited, accepted, expired): Inv = tx
        .prepare_cached(
            "SELECT chat_pk, invited_by_user_id, invited_user_id, accepted_at, expired_at \
             FROM chat_invitations WHERE id = ?1",
        )
        .unwrap()
        .query_row([invitation.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    let by = uuid_of(&by);
    assert!(by != user && invited.as_deref() == Some(user.as_bytes().as_slice()));
    assert!(accepted.is_none() && expired.is_none(), "pending");
    let before = read_chat(&tx, ChatKey::Pk(pk)).unwrap();
    assert!(!before.is_ended);
    let members = read_members(&tx, pk, now);
    assert!(!members.iter().any(|m| m.id == user), "not a member yet");
    let (after, members_after, mut changes) = add_user_member(&tx, &before, &members, &u, now);
    tx.prepare_cached(
        "UPDATE chat_invitations SET accepted_by_user_id = ?2, accepted_at = ?3, updated_at = ?3 WHERE id = ?1",
    )
    .unwrap()
    .execute(params![invitation.as_bytes(), user.as_bytes(), now])
    .unwrap();
    let at = chat_core::time::format_ms(now);
    let participating = |m: &[RawMember]| m.iter().filter(|m| m.is_user && m.participating).count();
    let mut inv = format!(
        "{{\"is_accepted\":true,\"accepted_by_user_id\":\"{user}\",\"accepted_by_user\":{}",
        u.summary_json()
    );
    if participating(&members) != participating(&members_after) {
        inv.push_str(&format!(
            ",\"user_member_count\":{}",
            participating(&members_after)
        ));
    }
    inv.push_str(&format!(
        ",\"updated_at\":\"{at}\",\"accepted_at\":\"{at}\"}}"
    ));
    changes.push(RawChange::to(
        invitation_channels(&tx, after.id, by, Some(user), None),
        "changed",
        invitation.to_string(),
        Some(inv),
    ));
    changes.extend(chat_changes(&ChatTransition {
        before: Some((&before, Counts::of(&members))),
        users_before: &user_ids(&members),
        visitors_before: &visitor_ids(&members),
        after: &after,
        counts_after: Counts::of(&members_after),
        users_after: &user_ids(&members_after),
        visitors_after: &visitor_ids(&members_after),
    }));
    write_changes(&tx, after.org, chain(&after), now, changes);
    tx.commit().unwrap();
}

// ---- presence clients ------------------------------------------------------------------------

/// `create_presence_client`: a client keeping the user present for `ttl_s` seconds. Returns
/// its id.
pub fn create_presence_client(
    raw: &rusqlite::Connection,
    user: Uuid,
    ttl_s: i64,
    now: i64,
) -> Uuid {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    let id = Uuid::now_v7();
    let expires = now + ttl_s * 1000;
    upsert_presence_client(&tx, id, Some(user), None, expires, now);
    refresh_presence(&tx, user, true, u.present_until, now);
    // Event: added to the user's clients. (The engine also records the client's published
    // state in `event_snapshots`; the baseline does not.)
    let (at, until) = (
        chat_core::time::format_ms(now),
        chat_core::time::format_ms(expires),
    );
    let resource = serde_json::json!({
        "id": id.to_string(), "created_at": at, "updated_at": at, "expires_at": until
    });
    client_change(&tx, &u, id, "added", Some(resource.to_string()), now);
    tx.commit().unwrap();
    id
}

/// A change of the user's `clients` collection.
fn client_change(
    tx: &Transaction,
    u: &RawUser,
    client: Uuid,
    action: &'static str,
    resource: Option<String>,
    now: i64,
) {
    let change = RawChange::to(
        vec![format!("users/{}/clients", u.id)],
        action,
        client.to_string(),
        resource,
    );
    write_changes(tx, u.org, None, now, vec![change]);
}

fn client_holder(tx: &Transaction, client: Uuid) -> Option<Vec<u8>> {
    tx.prepare_cached("SELECT user_id FROM presence_clients WHERE id = ?1")
        .unwrap()
        .query_row([client.as_bytes()], |r| r.get(0))
        .unwrap()
}

/// `renew_presence_client`: the user's client expires `ttl_s` seconds from now.
pub fn renew_presence_client(
    raw: &rusqlite::Connection,
    user: Uuid,
    client: Uuid,
    ttl_s: i64,
    now: i64,
) {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    assert_eq!(
        client_holder(&tx, client).as_deref(),
        Some(user.as_bytes().as_slice())
    );
    let expires = now + ttl_s * 1000;
    upsert_presence_client(&tx, client, Some(user), None, expires, now);
    refresh_presence(&tx, user, true, u.present_until, now);
    let resource = serde_json::json!({
        "updated_at": chat_core::time::format_ms(now),
        "expires_at": chat_core::time::format_ms(expires)
    });
    client_change(&tx, &u, client, "changed", Some(resource.to_string()), now);
    tx.commit().unwrap();
}

/// `delete_presence_client`: the user's client ends.
pub fn delete_presence_client(raw: &rusqlite::Connection, user: Uuid, client: Uuid, now: i64) {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    assert_eq!(
        client_holder(&tx, client).as_deref(),
        Some(user.as_bytes().as_slice())
    );
    tx.prepare_cached("DELETE FROM presence_clients WHERE id = ?1")
        .unwrap()
        .execute([client.as_bytes()])
        .unwrap();
    refresh_presence(&tx, user, true, u.present_until, now);
    client_change(&tx, &u, client, "removed", None, now);
    tx.commit().unwrap();
}

// ---- conversation starters -------------------------------------------------------------------

/// `create_conversation_starter` in a language the user has none in yet.
pub fn create_conversation_starter(
    raw: &rusqlite::Connection,
    user: Uuid,
    language: &str,
    message: &str,
    now: i64,
) {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    let exists: Option<i64> = tx
        .prepare_cached(
            "SELECT 1 FROM conversation_starters WHERE user_id = ?1 AND language_code = ?2",
        )
        .unwrap()
        .query_row(params![user.as_bytes(), language], |r| r.get(0))
        .optional()
        .unwrap();
    assert!(exists.is_none(), "none in the language yet");
    tx.prepare_cached(
        "INSERT INTO conversation_starters (user_id, language_code, message, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )
    .unwrap()
    .execute(params![user.as_bytes(), language, message, now])
    .unwrap();
    // Event: added to the user's starters.
    let at = chat_core::time::format_ms(now);
    let resource = serde_json::json!({
        "language_code": language, "message": message, "created_at": at, "updated_at": at
    });
    let change = RawChange::to(
        vec![format!("users/{user}/chat_conversation_starters")],
        "added",
        language.to_string(),
        Some(resource.to_string()),
    );
    write_changes(&tx, u.org, None, now, vec![change]);
    tx.commit().unwrap();
}

/// `delete_conversation_starter` of the user's starter in `language`.
pub fn delete_conversation_starter(
    raw: &rusqlite::Connection,
    user: Uuid,
    language: &str,
    now: i64,
) {
    let tx = raw.unchecked_transaction().unwrap();
    let u = read_user(&tx, user).expect("the user exists");
    let gone = tx
        .prepare_cached(
            "DELETE FROM conversation_starters WHERE user_id = ?1 AND language_code = ?2",
        )
        .unwrap()
        .execute(params![user.as_bytes(), language])
        .unwrap();
    assert_eq!(gone, 1, "the user had a starter in the language");
    // Event: removed from the user's starters.
    let change = RawChange::to(
        vec![format!("users/{user}/chat_conversation_starters")],
        "removed",
        language.to_string(),
        None,
    );
    write_changes(&tx, u.org, None, now, vec![change]);
    tx.commit().unwrap();
}
