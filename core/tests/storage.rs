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
    let rows: Vec<(i64, i64, String)> = conn
        .prepare("SELECT seq, n, channels FROM event_changes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            (5, 1, r#"["orgs/x/owned_chats"]"#.to_string()),
            (9, 1, r#"["users/y/chats"]"#.to_string())
        ]
    );
    // Snapshots are keyed by their chat first.
    let snaps: Vec<(i64, String)> = conn
        .prepare("SELECT chat_pk, kind FROM event_snapshots ORDER BY kind")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        snaps,
        vec![(12, "chat".to_string()), (12, "membership".to_string())]
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
            .store()
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
        .store()
        .with_connection(|c| Ok(c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(fk, 1);
    let problems: String = engine
        .store()
        .with_connection(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(problems, "ok");
}
