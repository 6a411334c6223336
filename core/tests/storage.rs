//! Storage: files persist, migrations are transactional and a migrated schema equals a fresh
//! one, a newer database is refused.

mod common;

use chat_core::store::sqlite::{MIGRATIONS, latest_version, migrate};
use chat_core::{Engine, ErrorCode};
use common::*;
use rusqlite::Connection;

fn schema(conn: &Connection) -> Vec<(String, String)> {
    let mut st = conn.prepare("SELECT name, COALESCE(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The writes of every message send check these constraints; as `IN` lists of three or more
/// values SQLite evaluated them through an ephemeral b-tree built on every execution (0008).
/// They are comparisons now, and still refuse what they refused.
#[test]
fn hot_constraint_checks_build_no_ephemeral_table_and_still_refuse_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checks.db");
    drop(Engine::open(&path).unwrap());
    let c = Connection::open(&path).unwrap();
    let ops = |sql: &str| -> Vec<String> {
        let mut st = c.prepare(&format!("EXPLAIN {sql}")).unwrap();
        st.query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let writes = [
        (
            "INSERT INTO messages (chat_pk, seq, id, type, created_at, sender_type) \
             VALUES (1, 1, x'01', 'msg', 0, 'bogus')",
            "sender_type",
        ),
        (
            "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, \
             is_participating, composing_status, composing_updated_at) \
             VALUES (1, x'01', 'user', 0, 0, 1, 'bogus', 0)",
            "composing_status",
        ),
        (
            "INSERT INTO event_changes (seq, organization_id, channels, action, resource_id, \
             created_at) VALUES (1, x'01', '[]', 'bogus', 'r', 0)",
            "action",
        ),
        (
            "INSERT INTO chats (pk, id, room_organization_id, chat_type, created_at, updated_at, \
             last_activity_at, token) VALUES (1, x'01', x'01', 'bogus', 0, 0, 0, 't')",
            "chat_type",
        ),
    ];
    for (sql, column) in writes {
        assert!(
            !ops(sql).iter().any(|o| o == "OpenEphemeral"),
            "{sql} builds an ephemeral table"
        );
        let e = c.execute(sql, []).unwrap_err().to_string();
        assert!(
            e.contains("CHECK constraint failed") && e.contains(column),
            "{sql}: {e}"
        );
    }
    let update = "UPDATE memberships SET composing_status = 'idle', message_count = message_count + 1 \
                  WHERE chat_pk = 1 AND member_id = x'01'";
    assert!(!ops(update).iter().any(|o| o == "OpenEphemeral"));
}

#[test]
fn a_database_migrated_step_by_step_equals_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    drop(Engine::open(&fresh).unwrap());
    let fresh_schema = schema(&Connection::open(&fresh).unwrap());
    assert!(!fresh_schema.is_empty());
    for stop in 0..latest_version() {
        // A database left at an older version (with data in it), then opened by this build.
        let path = dir.path().join(format!("old{stop}.db"));
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, stop).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, stop);
        drop(conn);
        drop(Engine::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema(&conn), fresh_schema, "migrated from version {stop}");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}

#[test]
fn events_and_snapshots_of_a_version_4_database_are_carried_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, 4).unwrap();
    let org = uuid::Uuid::from_u128(7);
    conn.execute(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?1, 'O', 0, 0)",
        [org.as_bytes()],
    )
    .unwrap();
    for (seq, ch) in [(5, "orgs/x/owned_chats"), (9, "users/y/chats")] {
        conn.execute(
            "INSERT INTO events (seq, organization_id, channel, action, resource_id, resource, created_at) \
             VALUES (?1, ?2, ?3, 'added', 'r', '{\"a\":1}', 0)",
            rusqlite::params![seq, org.as_bytes(), format!("/api/v5/{ch}")],
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO event_snapshots (kind, key, state) VALUES ('chat', '12', '{}'), \
         ('membership', '12:00000000-0000-4000-8000-000000000001', '{}')",
    )
    .unwrap();
    // Retention had deleted up to 3 before.
    conn.execute(
        "INSERT INTO event_meta (key, value) VALUES ('floor', 3)",
        [],
    )
    .unwrap();
    drop(conn);
    let engine = Engine::open(&path).unwrap();
    assert_eq!(engine.last_event_seq(), 9);
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT seq, channels FROM event_changes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            (5, r#"["orgs/x/owned_chats"]"#.to_string()),
            (9, r#"["users/y/chats"]"#.to_string())
        ]
    );
    // Snapshots of a chat and a membership move into their rows (0006); these belonged to no
    // stored chat, so nothing is left of them.
    let snaps: i64 = conn
        .query_row("SELECT count(*) FROM event_snapshots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(snaps, 0);
}

#[test]
fn snapshots_and_event_chains_of_a_version_5_database_move_into_the_chat_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, 5).unwrap();
    let org = uuid::Uuid::from_u128(7);
    let member = uuid::Uuid::parse_str("00000000-0000-4000-8000-000000000001").unwrap();
    conn.execute(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?1, 'O', 0, 0)",
        [org.as_bytes()],
    )
    .unwrap();
    for pk in [12i64, 13] {
        conn.execute(
            "INSERT INTO chats (pk, id, room_organization_id, chat_type, created_at, updated_at, last_activity_at, token) \
             VALUES (?1, ?2, ?3, 'operator', 0, 0, 0, 't')",
            rusqlite::params![pk, uuid::Uuid::from_u128(pk as u128).as_bytes(), org.as_bytes()],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO memberships (chat_pk, member_id, member_type, created_at, updated_at, is_participating, composing_status, composing_updated_at) \
         VALUES (12, ?1, 'user', 0, 0, 1, 'idle', 0)",
        [member.as_bytes()],
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO event_snapshots (chat_pk, kind, key, state) VALUES (12, 'chat', '12', x'0102'), \
         (12, 'membership', '12:00000000-0000-4000-8000-000000000001', x'0304'), \
         (12, 'invitation', '00000000-0000-4000-8000-0000000000ff', x'05')",
    )
    .unwrap();
    // Changes of chat 12 at 2, 4 and 7, of chat 13 at 5, of no chat at 6.
    for (seq, chat) in [
        (2, Some(12)),
        (4, Some(12)),
        (5, Some(13)),
        (6, None),
        (7, Some(12)),
    ] {
        conn.execute(
            "INSERT INTO event_changes (seq, n, organization_id, chat_pk, channels, action, resource_id, resource, created_at) \
             VALUES (?1, 1, ?2, ?3, '[\"orgs/x/owned_chats\"]', 'changed', 'r', '{}', 0)",
            rusqlite::params![seq, org.as_bytes(), chat],
        )
        .unwrap();
    }
    drop(conn);
    drop(Engine::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let chats: Vec<(i64, Option<Vec<u8>>, Option<i64>)> = conn
        .prepare("SELECT pk, event_state, last_event_seq FROM chats ORDER BY pk")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        chats,
        vec![(12, Some(vec![1, 2]), Some(7)), (13, None, Some(5))]
    );
    let state: Vec<u8> = conn
        .query_row("SELECT event_state FROM memberships", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, vec![3, 4]);
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM event_snapshots")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds, vec!["invitation".to_string()]);
    let chain: Vec<(i64, Option<i64>)> = conn
        .prepare("SELECT seq, prev_seq FROM event_changes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        chain,
        vec![(2, None), (4, Some(2)), (5, None), (6, None), (7, Some(4))]
    );
}

/// Rows of several channels (n numbers each) become one row per channel with the numbers
/// their events had, chained in the chat's order, so resuming from any number given before
/// neither misses nor repeats an event.
#[test]
fn change_rows_of_a_version_9_database_keep_their_event_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v9.db");
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, 9).unwrap();
    let org = uuid::Uuid::from_u128(7);
    // Chat 12: a change on 3 channels (numbers 3, 4, 5), then one on 1 channel (6).
    for (seq, n, channels, prev) in [
        (
            5,
            3,
            r#"["orgs/x/owned_chats","users/a/chats","users/b/chats"]"#,
            None,
        ),
        (6, 1, r#"["users/a/pending_chats"]"#, Some(5)),
    ] {
        conn.execute(
            "INSERT INTO event_changes (seq, n, organization_id, chat_pk, channels, action, resource_id, resource, created_at, prev_seq) \
             VALUES (?1, ?2, ?3, 12, ?4, 'changed', 'r', '{}', 0, ?5)",
            rusqlite::params![seq, n, org.as_bytes(), channels, prev],
        )
        .unwrap();
    }
    drop(conn);
    let engine = Engine::open(&path).unwrap();
    assert_eq!(engine.last_event_seq(), 6);
    drop(engine);
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(i64, String, Option<i64>)> = conn
        .prepare("SELECT seq, channels, prev_seq FROM event_changes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            (3, r#"["orgs/x/owned_chats"]"#.to_string(), None),
            (4, r#"["users/a/chats"]"#.to_string(), Some(3)),
            (5, r#"["users/b/chats"]"#.to_string(), Some(4)),
            (6, r#"["users/a/pending_chats"]"#.to_string(), Some(5)),
        ]
    );
}

#[test]
fn a_database_from_a_newer_engine_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", latest_version() + 1)
        .unwrap();
    drop(conn);
    let e = Engine::open(&path).err().unwrap();
    assert_eq!(e.code, ErrorCode::SchemaTooNew);
    let conn = Connection::open(&path).unwrap();
    assert!(schema(&conn).is_empty());
}

#[test]
fn files_persist_across_reopen_and_use_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let chat = {
        let w = world_on_file(&path);
        let mode: String = w
            .engine
            .sqlite_store()
            .unwrap()
            .with_connection(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(mode, "wal");
        w.waiting_chat(V1, SUPPORT, "persist me")
    };
    let engine = Engine::builder()
        .clock(chat_core::TestClock::at_default_start())
        .open(&path)
        .unwrap();
    let c = engine
        .get_chat(
            &user(ANN),
            chat_core::chats::ChatScope::Owned {
                organization_id: u(ACME),
            },
            chat,
        )
        .unwrap();
    assert_eq!(c.message_count, 1);
    let fk: i64 = engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(fk, 1);
    let problems: String = engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(problems, "ok");
}

/// The WAL under writes that never pause, with the engine's background checkpoints: a
/// passive checkpoint beside steady writes never lets the WAL start over by itself, so the
/// policy keeps an inline threshold; the WAL file then stays near it instead of growing with
/// every write (with `inline_above_pages: 0`, this test's writes leave a WAL of ≈ 55 MB).
#[test]
fn with_background_checkpoints_the_wal_stays_bounded_under_steady_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let clock = chat_core::TestClock::at_default_start();
    let policy = chat_core::CheckpointPolicy {
        every: std::time::Duration::from_millis(2),
        inline_above_pages: 256,
        truncate_when_idle: None,
    };
    let engine = Engine::builder()
        .clock(clock.clone())
        .background_checkpoints(policy)
        .open(&path)
        .unwrap();
    engine.load_seed_json(&seed_json().to_string()).unwrap();
    let chat = engine
        .create_user_chat(&user(ANN), u(ANN), Default::default())
        .unwrap()
        .id
        .parse()
        .unwrap();
    let wal = dir.path().join("wal.db-wal");
    let wal_bytes = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let mut largest = 0;
    // At least 1 500 sends, and on until the checkpoint thread has made more than 10 passes
    // beside them: how many it makes during a fixed number of sends depends on how the
    // scheduler shares the cores, so the writes go on until it has had its turns (they never
    // pause for it; the deadline only stops a thread that never runs).
    let started = std::time::Instant::now();
    let mut i = 0;
    while i < 1500 || engine.background_checkpoint_passes().unwrap() <= 10 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the checkpoint thread made {} passes in {i} sends",
            engine.background_checkpoint_passes().unwrap()
        );
        engine
            .send_user_message(&user(ANN), u(ANN), chat, msg(&format!("message {i}")))
            .unwrap();
        largest = largest.max(wal_bytes());
        i += 1;
    }
    let passes = engine.background_checkpoint_passes().unwrap();
    assert!(
        passes > 10,
        "the checkpoints ran beside the writes ({passes})"
    );
    // 1 500 sends write ≈ 15 000 pages (≈ 60 MB of WAL); the threshold is 256 pages (1 MB).
    assert!(
        largest < 8 << 20,
        "the WAL reached {largest} bytes with a {}-page threshold",
        policy.inline_above_pages
    );
    // Dropping the engine stops the thread; the database opens again.
    drop(engine);
    drop(Engine::open(&path).unwrap());
}

/// Once writes stop, the checkpointer gives the WAL file back: everything copied and nothing
/// new for the idle time, the file is truncated to zero bytes; the next write starts it again.
#[test]
fn an_idle_wal_is_truncated_after_its_frames_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.db");
    let policy = chat_core::CheckpointPolicy {
        every: std::time::Duration::from_millis(2),
        truncate_when_idle: Some(std::time::Duration::from_millis(50)),
        ..chat_core::CheckpointPolicy::default()
    };
    let engine = Engine::builder()
        .clock(chat_core::TestClock::at_default_start())
        .background_checkpoints(policy)
        .open(&path)
        .unwrap();
    engine.load_seed_json(&seed_json().to_string()).unwrap();
    let chat = engine
        .create_user_chat(&user(ANN), u(ANN), Default::default())
        .unwrap()
        .id
        .parse()
        .unwrap();
    let wal = dir.path().join("idle.db-wal");
    let wal_bytes = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    for i in 0..300 {
        engine
            .send_user_message(&user(ANN), u(ANN), chat, msg(&format!("message {i}")))
            .unwrap();
    }
    assert!(
        wal_bytes() > 1 << 20,
        "the sends wrote a WAL ({} bytes)",
        wal_bytes()
    );
    // Nothing more is written: the file is given back (polled, bounded).
    let started = std::time::Instant::now();
    while wal_bytes() > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the idle WAL kept {} bytes",
            wal_bytes()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Writes go on as before, and everything written is there.
    engine
        .send_user_message(&user(ANN), u(ANN), chat, msg("after the truncation"))
        .unwrap();
    assert!(wal_bytes() > 0);
    drop(engine);
    let again = Engine::open(&path).unwrap();
    let page = again
        .list_messages(
            &user(ANN),
            chat_core::chats::ChatScope::UserChats { user_id: u(ANN) },
            chat,
            &Default::default(),
            &chat_core::pagination::PageRequest::first(1),
        )
        .unwrap();
    assert_eq!(
        page.results[0].message.as_deref(),
        Some("after the truncation")
    );
}

/// The WAL file is not cut back below the size the inline threshold lets the WAL reach when it
/// starts over (else each cycle would allocate its blocks anew), nor below 64 MiB.
#[test]
fn the_wal_file_is_kept_at_the_size_the_inline_threshold_allows() {
    let limit = |policy: Option<chat_core::CheckpointPolicy>| {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Engine::builder();
        if let Some(p) = policy {
            b = b.background_checkpoints(p);
        }
        let engine = b.open(dir.path().join("k.db")).unwrap();
        engine
            .sqlite_store()
            .unwrap()
            .with_connection(|c| {
                Ok(c.query_row("PRAGMA journal_size_limit", [], |r| r.get::<_, i64>(0))?)
            })
            .unwrap()
    };
    let default = chat_core::CheckpointPolicy::default();
    assert_eq!(default.inline_above_pages, 65_536);
    // 65 536 pages and an eighth more, 4 096 bytes each plus the frame header.
    assert_eq!(limit(Some(default)), (65_536 + 8_192) * (4_096 + 24));
    let small = chat_core::CheckpointPolicy {
        inline_above_pages: 256,
        ..default
    };
    assert_eq!(limit(Some(small)), 64 << 20);
    assert_eq!(limit(None), 64 << 20);
}

/// Builder options as JSON (how the C ABI configures an engine): applied, or refused with the
/// field named before anything is opened.
#[test]
fn engine_options_from_json_are_applied_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("options.db");
    let engine = Engine::builder()
        .options_json(
            r#"{"durability": "full", "event_retention_secs": 60,
                "webhook_destinations": ["https://hooks.example.com/in"],
                "background_checkpoints": {"every_ms": 5}}"#,
        )
        .unwrap()
        .open(&path)
        .unwrap();
    assert!(engine.background_checkpoint_passes().is_some());
    assert!(engine.webhook_destination_allowed("https://hooks.example.com/in/acme"));
    assert!(!engine.webhook_destination_allowed("https://evil.example/in"));
    drop(engine);
    let plain = Engine::builder()
        .options_json(r#"{"background_checkpoints": false}"#)
        .unwrap()
        .open(&path)
        .unwrap();
    assert_eq!(plain.background_checkpoint_passes(), None);
    drop(plain);

    let e = Engine::builder()
        .options_json(r#"{"durability": "sometimes"}"#)
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::ValidationError);
    assert!(
        e.to_json()["errors"]["durability"].is_array(),
        "{}",
        e.to_json()
    );
    let e = Engine::builder()
        .options_json(r#"{"background_checkpoints": {"every_ms": 0}}"#)
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::ValidationError);
    let e = Engine::builder()
        .options_json(r#"{"colour": 1}"#)
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::ValidationError, "{}", e.to_json());
    let e = Engine::builder().options_json("[1]").err().unwrap();
    assert_eq!(e.code, ErrorCode::ParseError);
}
