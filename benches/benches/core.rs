//! Core operations beside raw-SQL baselines doing the same essential reads and writes, on the
//! deterministic dataset (see `chat_benches::dataset`). Each group has a `core` and a `raw`
//! function; `bench-report` prints their ratio.

use chat_benches::raw_send::{RawSend, raw_send, raw_send_events};
use chat_benches::*;
use chat_core::chats::{ChatListParams, ChatScope, ChatUpdate, NewChat};
use chat_core::invitations::{InvitationAccept, NewInvitation};
use chat_core::memberships::MembershipInput;
use chat_core::messages::{MessageListParams, NewMessage};
use chat_core::tags::NewTag;
use chat_core::{Actor, Engine, PageRequest, TestClock};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rusqlite::params;
use std::time::Duration;
use uuid::Uuid;

struct Fixture {
    ds: Dataset,
    engine: Engine,
    clock: TestClock,
    raw: rusqlite::Connection,
    raw_path: std::path::PathBuf,
}

fn fixture(name: &str) -> Fixture {
    let dir = bench_dir();
    let ds = dataset(&dir);
    let (engine, clock) = engine_on_copy(&ds, &dir, &format!("{name}-core"));
    let raw_path = copy_of(&ds, &dir, &format!("{name}-raw"));
    let raw = raw_connection(&raw_path);
    Fixture {
        ds,
        engine,
        clock,
        raw,
        raw_path,
    }
}

fn send(c: &mut Criterion) {
    for (group, is_user) in [("send_user_message", true), ("send_visitor_message", false)] {
        let f = fixture(group);
        let mut g = c.benchmark_group(group);
        let mut i = 0usize;
        g.bench_function("core", |b| {
            b.iter(|| {
                let (chat, op, visitor) = f.ds.chats[i % f.ds.chats.len()];
                i += 1;
                f.clock.advance_ms(1);
                let m = NewMessage {
                    message: Some(message_text(i)),
                    ..Default::default()
                };
                if is_user {
                    f.engine
                        .send_user_message(&Actor::User(op), op, chat, m)
                        .unwrap();
                } else {
                    f.engine
                        .visitor_send_message(&Actor::Visitor(visitor), visitor, chat, m)
                        .unwrap();
                }
            })
        });
        let baselines: [(&str, RawSend); 2] = [("raw", raw_send), ("raw_events", raw_send_events)];
        for (name, send) in baselines {
            let mut j = 0usize;
            let mut now = f.ds.end_ms;
            g.bench_function(name, |b| {
                b.iter(|| {
                    let (chat, op, visitor) = f.ds.chats[j % f.ds.chats.len()];
                    j += 1;
                    now += 1;
                    let sender = if is_user { op } else { visitor };
                    send(&f.raw, chat, sender, is_user, now, &message_text(j));
                })
            });
        }
        g.finish();
    }
}

/// Raw: one page of a user's chat, reading what the message resource shows: the access check
/// (chat by id, the user's membership), every stored column of the messages and the sender's
/// name, as one would write it by hand, without building the resource.
fn raw_page(raw: &rusqlite::Connection, chat: Uuid, user: Uuid, before_seq: Option<i64>) -> usize {
    let pk: i64 = raw
        .prepare_cached(
            "SELECT c.pk FROM chats c WHERE c.id = ?1 \
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.chat_pk = c.pk AND m.member_id = ?2)",
        )
        .unwrap()
        .query_row(params![chat.as_bytes(), user.as_bytes()], |r| r.get(0))
        .unwrap();
    let mut st = raw
        .prepare_cached(
            "SELECT m.seq, m.id, m.type, m.created_at, m.sender_type, m.sender_id, m.message, \
             m.selected_reply_suggestion_id, m.attachment_template, m.attachments, m.disables_on_visitor_message, \
             m.response_to_message_id, m.response_to_attachment_id, m.response_to_action_id, m.response_value, \
             m.response_text, m.sensitive_data_purged_at, u.first_name, u.last_name, u.alias, v.name \
             FROM messages m \
             LEFT JOIN users u ON m.sender_type = 'user' AND u.id = m.sender_id \
             LEFT JOIN visitors v ON m.sender_type = 'visitor' AND v.id = m.sender_id \
             WHERE m.chat_pk = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT 50",
        )
        .unwrap();
    let rows = st
        .query(params![pk, before_seq.unwrap_or(i64::MAX)])
        .unwrap();
    read_all_rows(rows, 21)
}

fn reads(c: &mut Criterion) {
    let f = fixture("reads");
    let n = f.ds.chats.len();
    // Newest 50 messages of a chat, and the page after it (a cursor walk).
    let mut g = c.benchmark_group("messages_newest_50");
    let mut i = 0usize;
    g.bench_function("core", |b| {
        b.iter(|| {
            let (chat, op, _) = f.ds.chats[(i * 7919) % n];
            i += 1;
            assert_eq!(newest_page(&f.engine, chat, op), 50);
        })
    });
    let mut j = 0usize;
    g.bench_function("raw", |b| {
        b.iter(|| {
            let (chat, op, _) = f.ds.chats[(j * 7919) % n];
            j += 1;
            assert_eq!(raw_page(&f.raw, chat, op, None), 50);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("messages_second_page_50");
    let cursors: Vec<String> =
        f.ds.chats
            .iter()
            .take(200.min(f.ds.chats.len()))
            .map(|&(chat, op, _)| {
                f.engine
                    .list_messages(
                        &Actor::User(op),
                        ChatScope::UserChats { user_id: op },
                        chat,
                        &MessageListParams::default(),
                        &PageRequest::first(50),
                    )
                    .unwrap()
                    .next
                    .unwrap()
            })
            .collect();
    let mut i = 0usize;
    g.bench_function("core", |b| {
        b.iter(|| {
            let k = i % cursors.len();
            i += 1;
            let (chat, op, _) = f.ds.chats[k];
            let p = f
                .engine
                .list_messages(
                    &Actor::User(op),
                    ChatScope::UserChats { user_id: op },
                    chat,
                    &MessageListParams::default(),
                    &PageRequest::at(cursors[k].clone(), Some(50)),
                )
                .unwrap();
            assert!(!p.results.is_empty());
        })
    });
    // The raw cursors (the first page's oldest seq), found before timing as core's are.
    let raw_cursors: Vec<i64> = f.ds.chats[..cursors.len()]
        .iter()
        .map(|(chat, _, _)| {
            f.raw
                .query_row(
                    "SELECT next_message_seq - 50 FROM chats WHERE id = ?1",
                    [chat.as_bytes()],
                    |r| r.get(0),
                )
                .unwrap()
        })
        .collect();
    let mut j = 0usize;
    g.bench_function("raw", |b| {
        b.iter(|| {
            let k = j % cursors.len();
            j += 1;
            let (chat, op, _) = f.ds.chats[k];
            assert!(raw_page(&f.raw, chat, op, Some(raw_cursors[k])) > 0);
        })
    });
    g.finish();

    // Owned chats, open and with messages, newest first.
    let admin = f.ds.operators[0];
    let mut g = c.benchmark_group("owned_chats_filtered");
    let params = ChatListParams {
        is_ended: Some(false),
        has_messages: Some(true),
        ..Default::default()
    };
    g.bench_function("core", |b| {
        b.iter(|| {
            let p = f
                .engine
                .list_chats(
                    &Actor::User(admin),
                    ChatScope::Owned {
                        organization_id: ORG.parse().unwrap(),
                    },
                    &params,
                    &PageRequest::first(25),
                )
                .unwrap();
            assert_eq!(p.results.len(), 25);
        })
    });
    g.bench_function("raw", |b| {
        b.iter(|| {
            let mut st = f
                .raw
                .prepare_cached("SELECT c.pk, c.id, c.created_at, c.message_count FROM chats c WHERE c.room_organization_id = ?1 AND c.is_ended = 0 AND c.message_count > 0 ORDER BY c.created_at DESC, c.id DESC LIMIT 25")
                .unwrap();
            let rows: Vec<(i64, Vec<u8>, i64, i64)> = st.query_map([Uuid::parse_str(ORG).unwrap().as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
            assert_eq!(rows.len(), 25);
        })
    });
    // A second baseline reading what the chat resource shows, by hand: the page's keys from
    // the organization index, then every stored column of those chats, the room's name and
    // the four derived counts (present users and visitors, members who wrote, visitor
    // members), without building the resource.
    g.bench_function("raw_resource", |b| {
        b.iter(|| raw_owned_resources(&f.raw, chat_core::Clock::now_ms(&f.clock)))
    });
    g.finish();
}

/// The page of `owned_chats_filtered` with the columns the chat resource shows (see the
/// `raw_resource` baseline).
fn raw_owned_resources(raw: &rusqlite::Connection, now: i64) -> usize {
    let mut st = raw
        .prepare_cached(
            "SELECT c.pk, c.id, c.room_id, c.room_organization_id, c.chat_type, c.visitor_id, c.is_private, \
             c.is_encrypted, c.encrypted_symmetric_key, c.created_at, c.updated_at, c.is_ended, c.ended_at, \
             c.is_waiting, c.waiting_started_at, c.message_count, c.user_message_count, c.visitor_message_count, \
             c.tag_count, c.is_autosuggested, c.first_visitor_message_url, c.first_visitor_message_url_title, \
             c.autosuggest_url, c.autosuggest_url_title, c.first_visitor_msg_at, c.first_reply_at, c.first_msg_at, \
             c.last_msg_at, c.active_ms, c.last_activity_at, c.next_message_seq, c.token, r.name, \
             (SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.member_id WHERE m.chat_pk = c.pk \
                AND m.member_type = 'user' AND m.is_participating = 1 AND u.present_until > ?2), \
             (SELECT COUNT(*) FROM memberships m JOIN visitors v ON v.id = m.member_id WHERE m.chat_pk = c.pk \
                AND m.member_type = 'visitor' AND m.is_participating = 1 AND v.present_until > ?2), \
             (SELECT COUNT(*) FROM memberships m WHERE m.chat_pk = c.pk AND m.member_type = 'user' AND m.message_count > 0), \
             (SELECT COUNT(*) FROM memberships m WHERE m.chat_pk = c.pk AND m.member_type = 'visitor') \
             FROM chats c LEFT JOIN rooms r ON r.id = c.room_id WHERE c.pk IN ( \
               SELECT c.pk FROM chats c WHERE c.room_organization_id = ?1 AND c.is_ended = 0 AND c.message_count > 0 \
               ORDER BY c.created_at DESC, c.id DESC LIMIT 25) \
             ORDER BY c.created_at DESC, c.id DESC",
        )
        .unwrap();
    let rows = st
        .query(params![Uuid::parse_str(ORG).unwrap().as_bytes(), now])
        .unwrap();
    let n = read_all_rows(rows, 37);
    assert_eq!(n, 25);
    n
}

fn pending(c: &mut Criterion) {
    let mut f = fixture("pending");
    // 1 000 waiting chats (scaled) spread over the rooms, among the dataset's chats.
    let waiting = (f.ds.chats.len() / 10).max(10);
    let org: Uuid = ORG.parse().unwrap();
    for i in 0..waiting {
        let auth = f.engine.visitor_auth(org, None).unwrap();
        let actor = f.engine.authenticate(&auth.access_token).unwrap();
        let Actor::Visitor(v) = actor else {
            unreachable!()
        };
        let room = f.ds.rooms[i % f.ds.rooms.len()];
        f.engine.set_visitor_presence(v, None).unwrap();
        let (chat, _) = f.engine.visitor_start_chat(&actor, org, room, v).unwrap();
        f.engine
            .visitor_send_message(
                &actor,
                v,
                chat.id.parse().unwrap(),
                NewMessage {
                    message: Some("Hello?".into()),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    // The baseline reads the same data: a copy of the core database with the waiting chats.
    f.engine.checkpoint().unwrap();
    let raw_path = bench_dir().join("pending-raw.db");
    drop(std::mem::replace(
        &mut f.raw,
        rusqlite::Connection::open_in_memory().unwrap(),
    ));
    remove_db(&raw_path);
    std::fs::copy(bench_dir().join("pending-core.db"), &raw_path).unwrap();
    f.raw = raw_connection(&raw_path);
    let op = f.ds.operators[1];
    let mut g = c.benchmark_group("user_pending_chats");
    g.bench_function("core", |b| {
        b.iter(|| {
            let p = f
                .engine
                .list_chats(
                    &Actor::User(op),
                    ChatScope::UserPending { user_id: op },
                    &ChatListParams::default(),
                    &PageRequest::first(25),
                )
                .unwrap();
            assert_eq!(p.results.len(), waiting.min(25));
        })
    });
    let now = f.clock.clone();
    g.bench_function("raw", |b| {
        b.iter(|| {
            let mut st = f
                .raw
                .prepare_cached(
                    "SELECT c.pk, c.id, c.created_at FROM chats c WHERE c.room_id IN (SELECT id FROM rooms WHERE organization_id = ?2) \
                     AND c.is_waiting = 1 AND c.is_ended = 0 AND NOT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.member_id \
                     WHERE m.chat_pk = c.pk AND m.member_type = 'user' AND m.is_participating = 1 AND u.present_until > ?1) \
                     ORDER BY c.created_at DESC, c.id DESC LIMIT 25",
                )
                .unwrap();
            let n = chat_core::Clock::now_ms(&now);
            let rows: Vec<(i64, Vec<u8>, i64)> = st.query_map(params![n, org.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
            assert_eq!(rows.len(), waiting.min(25));
        })
    });
    g.finish();

    // Joining a pending chat: each iteration joins a fresh waiting chat.
    let mut g = c.benchmark_group("join_pending");
    g.bench_function("core", |b| {
        b.iter_batched(
            || {
                let auth = f.engine.visitor_auth(org, None).unwrap();
                let actor = f.engine.authenticate(&auth.access_token).unwrap();
                let Actor::Visitor(v) = actor else {
                    unreachable!()
                };
                let (chat, _) = f
                    .engine
                    .visitor_start_chat(&actor, org, f.ds.rooms[0], v)
                    .unwrap();
                let id: Uuid = chat.id.parse().unwrap();
                f.engine
                    .visitor_send_message(
                        &actor,
                        v,
                        id,
                        NewMessage {
                            message: Some("Hello?".into()),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                id
            },
            |chat| {
                let input = MembershipInput {
                    is_participating: Some(true),
                    composing_status: Some("idle".into()),
                    ..Default::default()
                };
                f.engine
                    .join_pending_chat(&Actor::User(op), op, chat, input)
                    .unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    // The baselines join chats of their own (one per iteration, inserted outside the
    // measurement) on the raw copy; `raw_events` also publishes what the join changes.
    let k = std::cell::Cell::new(0i64);
    let joins: [(&str, chat_benches::raw_join::RawJoin); 2] = [
        ("raw", chat_benches::raw_join::raw_join),
        ("raw_events", chat_benches::raw_join::raw_join_events),
    ];
    for (name, join) in joins {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    k.set(k.get() + 1);
                    chat_benches::raw_join::waiting_chat(&f.raw, f.ds.rooms[0], org, k.get())
                },
                |pk| join(&f.raw, pk, op, k.get()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn lifecycle(c: &mut Criterion) {
    let f = fixture("lifecycle");
    let n = f.ds.chats.len();
    // Tag add: the tag is removed again outside the measurement.
    // A batch's setup untags its chats before any is tagged: a chat may appear only once
    // per batch (else the second add finds the tag, or the raw insert hits the key).
    let distinct_chats = (n as u64).min(1000);
    let mut g = c.benchmark_group("tag_add");
    let mut i = 0usize;
    g.bench_function("core", |b| {
        b.iter_batched(
            || {
                let (chat, op, _) = f.ds.chats[i % n];
                i += 1;
                let _ = f.engine.remove_tag(
                    &Actor::User(op),
                    ChatScope::UserChats { user_id: op },
                    chat,
                    "Lead",
                );
                (chat, op)
            },
            |(chat, op)| {
                f.engine
                    .add_tag(
                        &Actor::User(op),
                        ChatScope::UserChats { user_id: op },
                        chat,
                        NewTag {
                            name: Some("Lead".into()),
                        },
                    )
                    .unwrap();
            },
            BatchSize::NumIterations(distinct_chats),
        )
    });
    let mut j = 0usize;
    g.bench_function("raw", |b| {
        b.iter_batched(
            || {
                let (chat, _, _) = f.ds.chats[j % n];
                j += 1;
                let pk: i64 = f.raw.query_row("SELECT pk FROM chats WHERE id = ?1", [chat.as_bytes()], |r| r.get(0)).unwrap();
                let gone = f.raw.execute("DELETE FROM chat_tags WHERE chat_pk = ?1", [pk]).unwrap();
                f.raw.execute("UPDATE chats SET tag_count = tag_count - ?2 WHERE pk = ?1", params![pk, gone as i64]).unwrap();
                pk
            },
            |pk| {
                let tx = f.raw.unchecked_transaction().unwrap();
                let _allowed: i64 = tx
                    .prepare_cached("SELECT COUNT(*) FROM room_allowed_tags WHERE room_id = (SELECT room_id FROM chats WHERE pk = ?1) AND name = ?2")
                    .unwrap()
                    .query_row(params![pk, "Lead"], |r| r.get(0))
                    .unwrap();
                tx.prepare_cached("INSERT INTO chat_tags (chat_pk, name, created_at) VALUES (?1, ?2, ?3)").unwrap().execute(params![pk, "Lead", 1]).unwrap();
                tx.prepare_cached("UPDATE chats SET tag_count = tag_count + 1 WHERE pk = ?1").unwrap().execute([pk]).unwrap();
                tx.commit().unwrap();
            },
            BatchSize::NumIterations(distinct_chats),
        )
    });
    g.finish();

    // Invitation accept.
    let mut g = c.benchmark_group("invitation_accept");
    let invitee = f.ds.operators[0];
    let mut i = 0usize;
    g.bench_function("core", |b| {
        b.iter_batched(
            || {
                let (_, mut op, _) = f.ds.chats[i % n];
                i += 1;
                if op == invitee {
                    // Nobody invites themselves.
                    op = f.ds.operators[1];
                }
                let chat: Uuid = f
                    .engine
                    .create_user_chat(&Actor::User(op), op, NewChat::default())
                    .unwrap()
                    .id
                    .parse()
                    .unwrap();
                let (inv, _) = f
                    .engine
                    .create_invitation(
                        &Actor::User(op),
                        op,
                        chat,
                        NewInvitation {
                            invited_user_id: Some(invitee),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                inv.id.parse::<Uuid>().unwrap()
            },
            |inv| {
                f.engine
                    .accept_invitation(
                        &Actor::User(invitee),
                        invitee,
                        None,
                        inv,
                        InvitationAccept {
                            is_accepted: Some(true),
                            is_expired: None,
                        },
                    )
                    .unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    let k = std::cell::Cell::new(0i64);
    g.bench_function("raw", |b| {
        b.iter_batched(
            || {
                k.set(k.get() + 1);
                let (_, op, _) = f.ds.chats[k.get() as usize % n];
                f.raw
                    .execute(
                        "INSERT INTO chats (id, room_organization_id, chat_type, created_at, updated_at, last_activity_at, token, activity_minute) VALUES (?1, ?2, 'operator', ?3, ?3, ?3, 't', ?3 / 60000)",
                        params![Uuid::now_v7().as_bytes(), Uuid::parse_str(ORG).unwrap().as_bytes(), k.get()],
                    )
                    .unwrap();
                let pk = f.raw.last_insert_rowid();
                let id = Uuid::now_v7();
                f.raw
                    .execute(
                        "INSERT INTO chat_invitations (id, chat_pk, invited_by_user_id, invited_user_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                        params![id.as_bytes(), pk, op.as_bytes(), invitee.as_bytes(), k.get()],
                    )
                    .unwrap();
                id
            },
            |inv| {
                let tx = f.raw.unchecked_transaction().unwrap();
                let (pk, _by): (i64, Vec<u8>) = tx
                    .prepare_cached("SELECT chat_pk, invited_by_user_id FROM chat_invitations WHERE id = ?1 AND accepted_at IS NULL AND expired_at IS NULL")
                    .unwrap()
                    .query_row([inv.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap();
                let seq: i64 = tx.prepare_cached("SELECT next_message_seq FROM chats WHERE pk = ?1 AND is_ended = 0").unwrap().query_row([pk], |r| r.get(0)).unwrap();
                tx.prepare_cached("UPDATE chat_invitations SET accepted_at = ?2, accepted_by_user_id = ?3, updated_at = ?2 WHERE id = ?1").unwrap().execute(params![inv.as_bytes(), k.get(), invitee.as_bytes()]).unwrap();
                tx.prepare_cached("INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, is_participating, composing_status, composing_updated_at) VALUES (?1, ?2, 'user', ?3, ?3, 1, 'idle', ?3)")
                    .unwrap()
                    .execute(params![pk, invitee.as_bytes(), k.get()])
                    .unwrap();
                tx.prepare_cached("INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type, sender_id) VALUES (?1, ?2, ?3, 'join', ?4, 'user', ?5)")
                    .unwrap()
                    .execute(params![pk, seq, Uuid::now_v7().as_bytes(), k.get(), invitee.as_bytes()])
                    .unwrap();
                tx.prepare_cached("UPDATE chats SET next_message_seq = next_message_seq + 1, updated_at = ?2 WHERE pk = ?1").unwrap().execute(params![pk, k.get()]).unwrap();
                tx.commit().unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Ending a chat.
    let mut g = c.benchmark_group("end_chat");
    let mut i = 0usize;
    g.bench_function("core", |b| {
        b.iter_batched(
            || {
                let (_, op, _) = f.ds.chats[i % n];
                i += 1;
                (
                    op,
                    f.engine
                        .create_user_chat(&Actor::User(op), op, NewChat::default())
                        .unwrap()
                        .id
                        .parse::<Uuid>()
                        .unwrap(),
                )
            },
            |(op, chat)| {
                f.engine
                    .update_chat(
                        &Actor::User(op),
                        ChatScope::UserChats { user_id: op },
                        chat,
                        ChatUpdate {
                            is_ended: Some(true),
                            is_waiting: None,
                        },
                    )
                    .unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    let k = std::cell::Cell::new(0i64);
    g.bench_function("raw", |b| {
        b.iter_batched(
            || {
                k.set(k.get() + 1);
                f.raw
                    .execute(
                        "INSERT INTO chats (id, room_organization_id, chat_type, created_at, updated_at, last_activity_at, token, activity_minute) VALUES (?1, ?2, 'operator', ?3, ?3, ?3, 't', ?3 / 60000)",
                        params![Uuid::now_v7().as_bytes(), Uuid::parse_str(ORG).unwrap().as_bytes(), k.get()],
                    )
                    .unwrap();
                f.raw.last_insert_rowid()
            },
            |pk| {
                let tx = f.raw.unchecked_transaction().unwrap();
                let _ended: bool = tx.prepare_cached("SELECT is_ended FROM chats WHERE pk = ?1").unwrap().query_row([pk], |r| r.get(0)).unwrap();
                tx.prepare_cached("UPDATE chats SET is_ended = 1, ended_at = ?2, is_waiting = 0, updated_at = ?2 WHERE pk = ?1").unwrap().execute(params![pk, k.get()]).unwrap();
                tx.prepare_cached("UPDATE chat_invitations SET expired_at = ?2, updated_at = ?2 WHERE chat_pk = ?1 AND accepted_at IS NULL AND expired_at IS NULL").unwrap().execute(params![pk, k.get()]).unwrap();
                tx.commit().unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Maintenance over the open chats (nothing due: the sweep's own cost).
    let mut g = c.benchmark_group("maintenance_open_chats");
    g.bench_function("core", |b| b.iter(|| f.engine.maintenance().unwrap()));
    g.bench_function("raw", |b| {
        b.iter(|| {
            let now = chat_core::Clock::now_ms(&f.clock);
            let tx = f.raw.unchecked_transaction().unwrap();
            let due: Vec<i64> = tx
                .prepare_cached(
                    "SELECT c.pk FROM chats c JOIN organizations o ON o.id = c.room_organization_id WHERE c.is_ended = 0 AND c.chat_type <> 'external' \
                     AND c.last_activity_at + o.chat_idle_timeout_s * 1000 <= ?1 LIMIT 1001",
                )
                .unwrap()
                .query_map([now], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            std::hint::black_box(due);
            tx.prepare_cached("UPDATE memberships SET composing_status = 'typed' WHERE composing_status = 'typing' AND composing_updated_at <= ?1").unwrap().execute([now]).unwrap();
            tx.prepare_cached("DELETE FROM presence_clients WHERE expires_at <= ?1").unwrap().execute([now]).unwrap();
            tx.commit().unwrap();
        })
    });
    g.finish();
}

/// A request's token after a write (each iteration sends a message first, untimed): the
/// engine remembers authentications until credentials change; the baseline looks the token
/// up as a reader connection must after any commit, its page cache invalidated (the token's
/// user, then that the user is not deleted).
fn authenticate(c: &mut Criterion) {
    let f = fixture("authenticate");
    let n = f.ds.chats.len();
    let n_ops = f.ds.operators.len();
    let mut g = c.benchmark_group("authenticate_after_write");
    let mut i = 0usize;
    g.bench_function("core", |b| {
        b.iter_batched(
            || {
                let (chat, op, _) = f.ds.chats[i % n];
                let t = token(i % n_ops);
                i += 1;
                f.clock.advance_ms(1);
                let m = NewMessage {
                    message: Some(message_text(i)),
                    ..Default::default()
                };
                f.engine
                    .send_user_message(&Actor::User(op), op, chat, m)
                    .unwrap();
                t
            },
            |t| f.engine.authenticate(&t).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let reader = rusqlite::Connection::open_with_flags(
        &f.raw_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let mut j = 0usize;
    let mut now = f.ds.end_ms;
    g.bench_function("raw", |b| {
        b.iter_batched(
            || {
                let (chat, op, _) = f.ds.chats[j % n];
                let h = chat_core::auth::token_hash(&token(j % n_ops));
                j += 1;
                now += 1;
                raw_send(&f.raw, chat, op, true, now, &message_text(j));
                h
            },
            |h| {
                let tx = reader.unchecked_transaction().unwrap();
                let user: Vec<u8> = tx
                    .prepare_cached("SELECT user_id FROM api_tokens WHERE token_hash = ?1")
                    .unwrap()
                    .query_row([&h], |r| r.get(0))
                    .unwrap();
                let deleted: bool = tx
                    .prepare_cached("SELECT is_deleted FROM users WHERE id = ?1")
                    .unwrap()
                    .query_row([&user], |r| r.get(0))
                    .unwrap();
                assert!(!deleted);
                tx.commit().unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

criterion_group! { name = benches; config = config(); targets = send, reads, pending, lifecycle, authenticate }
criterion_main!(benches);
