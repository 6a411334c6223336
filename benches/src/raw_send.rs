//! The raw-SQL baselines of a message send (shared by the criterion benchmark and the
//! `pages` example).

use rusqlite::params;
use uuid::Uuid;

/// Whether the sender's organization has an active subscription (a user's send checks it).
fn read_subscription(tx: &rusqlite::Transaction, org: &[u8]) -> bool {
    tx.prepare_cached("SELECT has_active_subscription FROM organizations WHERE id = ?1")
        .unwrap()
        .query_row([org], |r| r.get(0))
        .unwrap()
}

/// The sender's message count (the membership both baselines check and count on).
fn membership_count(tx: &rusqlite::Transaction, pk: i64, sender: Uuid) -> i64 {
    tx.prepare_cached("SELECT message_count FROM memberships WHERE chat_pk = ?1 AND member_id = ?2")
        .unwrap()
        .query_row(params![pk, sender.as_bytes()], |r| r.get(0))
        .unwrap()
}

/// The idle sweep's index entry of the chat, moved when the minute of its last activity
/// changed (as the engine's `update_chat` does; migration 0009).
pub fn move_idle_minute(tx: &rusqlite::Transaction, pk: i64) {
    tx.prepare_cached("UPDATE chats SET activity_minute = last_activity_at / 60000 WHERE pk = ?1 AND activity_minute <> last_activity_at / 60000")
        .unwrap()
        .execute([pk])
        .unwrap();
}

/// The writes of a message both baselines make: the message, the chat's counters and the
/// sender's membership counter.
#[allow(clippy::too_many_arguments)]
fn write_message(
    tx: &rusqlite::Transaction,
    pk: i64,
    seq: i64,
    id: Uuid,
    sender: Uuid,
    is_user: bool,
    now: i64,
    body: &str,
) {
    tx.prepare_cached("INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type, sender_id, message) VALUES (?1, ?2, ?3, 'msg', ?4, ?5, ?6, ?7)")
        .unwrap()
        .execute(params![pk, seq, id.as_bytes(), now, if is_user { "user" } else { "visitor" }, sender.as_bytes(), body])
        .unwrap();
    tx.prepare_cached(
        "UPDATE chats SET message_count = message_count + 1, user_message_count = user_message_count + ?2, visitor_message_count = visitor_message_count + ?3, \
         next_message_seq = next_message_seq + 1, last_msg_at = ?4, last_activity_at = ?4, updated_at = ?4 WHERE pk = ?1",
    )
    .unwrap()
    .execute(params![pk, i64::from(is_user), i64::from(!is_user), now])
    .unwrap();
    move_idle_minute(tx, pk);
    tx.prepare_cached("UPDATE memberships SET message_count = message_count + 1, updated_at = ?3 WHERE chat_pk = ?1 AND member_id = ?2").unwrap().execute(params![pk, sender.as_bytes(), now]).unwrap();
}

/// A raw baseline of a send: (connection, chat, sender, sender is a user, now, text).
pub type RawSend = fn(&rusqlite::Connection, Uuid, Uuid, bool, i64, &str);

/// Raw: the essential reads (actor, organization, chat, membership) and writes (message, chat
/// counters, membership counter) of a user's message, in one transaction.
pub fn raw_send(
    raw: &rusqlite::Connection,
    chat: Uuid,
    sender: Uuid,
    is_user: bool,
    now: i64,
    body: &str,
) {
    let tx = raw.unchecked_transaction().unwrap();
    if is_user {
        let org: Vec<u8> = tx
            .prepare_cached("SELECT organization_id FROM users WHERE id = ?1 AND is_deleted = 0")
            .unwrap()
            .query_row([sender.as_bytes()], |r| r.get(0))
            .unwrap();
        read_subscription(&tx, &org);
    }
    let (pk, seq): (i64, i64) = tx
        .prepare_cached("SELECT pk, next_message_seq FROM chats WHERE id = ?1 AND is_ended = 0")
        .unwrap()
        .query_row([chat.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    membership_count(&tx, pk, sender);
    write_message(&tx, pk, seq, Uuid::now_v7(), sender, is_user, now, body);
    tx.commit().unwrap();
}

/// Raw + events: a send as hand-written code must do it ([`crate::raw_ops::send_message`]):
/// `raw_send`'s reads and writes, the chat's state the send moves (waiting, first reply,
/// durations) and the events written in the same transaction (no change without its event):
/// the message to the chat's users and its visitor (one row: the visitor view is derived when
/// read), the sender's membership and the chat changed, and the chat for its room's pending
/// audience when it starts or stops waiting for a user.
pub fn raw_send_events(
    raw: &rusqlite::Connection,
    chat: Uuid,
    sender: Uuid,
    is_user: bool,
    now: i64,
    body: &str,
) {
    crate::raw_ops::send_message(
        raw,
        crate::raw_resources::ChatKey::Id(chat),
        sender,
        is_user,
        now,
        body,
    );
}

/// Pages a connection has written to its WAL so far (`SQLITE_DBSTATUS_CACHE_WRITE`).
pub fn conn_pages_written(c: &rusqlite::Connection) -> i32 {
    let (mut cur, mut hi) = (0, 0);
    // SAFETY: `c` is a live connection owned by the caller.
    unsafe {
        rusqlite::ffi::sqlite3_db_status(
            c.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_WRITE,
            &mut cur,
            &mut hi,
            0,
        )
    };
    cur
}

/// Core, raw and raw + events user sends measured in alternating blocks on their own copies
/// of the dataset (so drift of a shared machine affects the three alike).
#[derive(Debug, Clone)]
pub struct InterleavedSends {
    pub sends: usize,
    pub checkpoints: bool,
    /// µs per send: core, raw, raw + events.
    pub micros: [f64; 3],
    /// Pages written per send (WAL frames), same order.
    pub pages: [f64; 3],
    /// Without checkpoints: the pages per send of each table or index (its WAL frames by the
    /// B-tree their page belongs to), same order; largest first.
    pub by_btree: [Vec<(String, f64)>; 3],
}

/// The frames of `db`'s WAL counted by the table or index their page belongs to now
/// (`dbstat`), largest first; pages no B-tree holds (freelist, header page) as `(other)`.
pub fn wal_frames_by_btree(db: &std::path::Path) -> Vec<(String, usize)> {
    use std::collections::HashMap;
    let mut wal_path = db.as_os_str().to_owned();
    wal_path.push("-wal");
    let wal = std::fs::read(&wal_path).unwrap_or_default();
    if wal.len() < 32 {
        return Vec::new();
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let page_size = be(&wal[8..12]) as usize;
    let salts = &wal[16..24];
    let mut frames: HashMap<u32, usize> = HashMap::new();
    let mut at = 32;
    while at + 24 + page_size <= wal.len() {
        let h = &wal[at..at + 24];
        if &h[8..16] != salts {
            break; // a frame left over from an earlier WAL generation
        }
        *frames.entry(be(&h[0..4])).or_default() += 1;
        at += 24 + page_size;
    }
    let c = rusqlite::Connection::open(db).unwrap();
    let mut owner: HashMap<u32, String> = HashMap::new();
    let mut q = c.prepare("SELECT name, pageno FROM dbstat").unwrap();
    for row in q
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
        .unwrap()
    {
        let (name, page) = row.unwrap();
        owner.insert(page, name);
    }
    let mut by: HashMap<String, usize> = HashMap::new();
    for (page, n) in frames {
        let name = owner
            .get(&page)
            .cloned()
            .unwrap_or_else(|| "(other)".into());
        *by.entry(name).or_default() += n;
    }
    let mut v: Vec<(String, usize)> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Runs `sends` user sends through each of core, `raw_send` and `raw_send_events`, round the
/// dataset's chats, in blocks of 100 taking turns. `checkpoints`: SQLite's default inline WAL
/// autocheckpoint on every side (else none: the WAL keeps every frame).
pub fn interleaved_sends(sends: usize, checkpoints: bool) -> InterleavedSends {
    use chat_core::messages::NewMessage;
    use chat_core::{Actor, Engine, TestClock};
    use std::time::{Duration, Instant};
    let dir = crate::bench_dir();
    let ds = crate::dataset(&dir);
    let dbs = ["inter-core", "inter-raw", "inter-raw-events"].map(|n| crate::copy_of(&ds, &dir, n));
    let clock = TestClock::new(ds.end_ms + 1000);
    let engine = Engine::builder()
        .clock(clock.clone())
        .open(&dbs[0])
        .unwrap();
    let raw = crate::raw_connection(&dbs[1]);
    let events = crate::raw_connection(&dbs[2]);
    let pragma = if checkpoints {
        "PRAGMA wal_autocheckpoint = 1000"
    } else {
        "PRAGMA wal_autocheckpoint = 0"
    };
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(c.execute_batch(pragma)?))
        .unwrap();
    raw.execute_batch(pragma).unwrap();
    events.execute_batch(pragma).unwrap();
    let before = [
        crate::pages_written(&engine),
        conn_pages_written(&raw),
        conn_pages_written(&events),
    ];
    let n = ds.chats.len();
    let now = ds.end_ms;
    let mut spent = [Duration::ZERO; 3];
    let baselines: [(&rusqlite::Connection, RawSend); 2] =
        [(&raw, raw_send), (&events, raw_send_events)];
    let mut i = 0;
    while i < sends {
        let upto = (i + 100).min(sends);
        let t = Instant::now();
        for k in i..upto {
            let (chat, op, _) = ds.chats[k % n];
            clock.advance_ms(1);
            let m = NewMessage {
                message: Some(crate::message_text(k)),
                ..Default::default()
            };
            engine
                .send_user_message(&Actor::User(op), op, chat, m)
                .unwrap();
        }
        spent[0] += t.elapsed();
        for (slot, (conn, send)) in baselines.iter().enumerate() {
            let t = Instant::now();
            for k in i..upto {
                let (chat, op, _) = ds.chats[k % n];
                send(
                    conn,
                    chat,
                    op,
                    true,
                    now + k as i64,
                    &crate::message_text(k),
                );
            }
            spent[slot + 1] += t.elapsed();
        }
        i = upto;
    }
    let after = [
        crate::pages_written(&engine),
        conn_pages_written(&raw),
        conn_pages_written(&events),
    ];
    let by_btree = if checkpoints {
        Default::default()
    } else {
        // Nothing was checkpointed: each WAL holds every frame the sends wrote.
        dbs.each_ref().map(|db| {
            wal_frames_by_btree(db)
                .into_iter()
                .map(|(name, n)| (name, n as f64 / sends as f64))
                .collect()
        })
    };
    drop((engine, raw, events));
    for db in &dbs {
        crate::remove_db(db);
    }
    InterleavedSends {
        by_btree,
        sends,
        checkpoints,
        micros: spent.map(|d| d.as_secs_f64() * 1e6 / sends as f64),
        pages: [0, 1, 2].map(|k| f64::from(after[k] - before[k]) / sends as f64),
    }
}
