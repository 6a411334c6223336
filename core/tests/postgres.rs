//! The PostgreSQL store's own guarantees: its migrations, and several engines on one database
//! serving as one (the rest of the suite runs on it through `CHAT_TEST_STORE=postgres`).
//! Needs `CHAT_TEST_POSTGRES`: a connection string (`scripts/postgres.sh start DIR` prints one).
#![cfg(feature = "postgres")]

mod common;

use chat_core::store::postgres::{ScratchSchema, latest_version, migrate};
use chat_core::{Engine, ErrorCode, TestClock};
use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn base() -> String {
    std::env::var("CHAT_TEST_POSTGRES").expect(
        "CHAT_TEST_POSTGRES names a PostgreSQL database for these tests \
         (`scripts/postgres.sh start DIR` starts one and prints its connection string)",
    )
}

fn connect(schema: &ScratchSchema) -> postgres::Client {
    schema
        .url()
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap()
}

/// Everything the schema declares: columns, indexes and constraints, without the schema's name.
fn catalog(c: &mut postgres::Client) -> Vec<String> {
    let mut out = vec![];
    for sql in [
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
         || coalesce(column_default, '') || ' ' || coalesce(collation_name, '') \
         FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1",
        "SELECT indexname || ' ' || replace(indexdef, current_schema() || '.', '') \
         FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1",
        "SELECT t.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid) \
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() ORDER BY 1",
    ] {
        out.extend(
            c.query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0)),
        );
    }
    out
}

#[test]
fn a_migrated_schema_equals_a_fresh_one() {
    let fresh = ScratchSchema::create(&base()).unwrap();
    let mut c = connect(&fresh);
    migrate(&mut c, latest_version()).unwrap();
    let want = catalog(&mut c);
    assert!(want.len() > 100, "{want:?}");
    for stop in 0..latest_version() {
        let schema = ScratchSchema::create(&base()).unwrap();
        let mut c = connect(&schema);
        migrate(&mut c, stop).unwrap();
        migrate(&mut c, latest_version()).unwrap();
        assert_eq!(catalog(&mut c), want, "migrated from version {stop}");
    }
}

#[test]
fn a_database_of_a_newer_engine_is_refused_and_left_as_it_is() {
    let schema = ScratchSchema::create(&base()).unwrap();
    drop(Engine::builder().open_postgres(&schema.url()).unwrap());
    let newer = latest_version() + 1;
    let mut c = connect(&schema);
    c.execute("UPDATE schema_version SET version = $1", &[&newer])
        .unwrap();
    let err = Engine::builder()
        .open_postgres(&schema.url())
        .err()
        .unwrap();
    assert_eq!(err.code, ErrorCode::SchemaTooNew);
    let kept: i64 = c
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept, newer);
}

#[test]
fn a_connection_string_that_is_not_one_is_a_validation_error() {
    let err = Engine::builder()
        .open_postgres("host=127.0.0.1 port=notaport")
        .err()
        .unwrap();
    assert_eq!(err.code, ErrorCode::ValidationError);
}

/// Two engines on one database, as two `chat-server` processes on one PostgreSQL.
fn two_engines() -> (ScratchSchema, Engine, Engine, TestClock) {
    let schema = ScratchSchema::create(&base()).unwrap();
    let clock = TestClock::at_default_start();
    let a = Engine::builder()
        .clock(clock.clone())
        .open_postgres(&schema.url())
        .unwrap();
    a.load_seed_json(&seed_json().to_string()).unwrap();
    let b = Engine::builder()
        .clock(clock.clone())
        .open_postgres(&schema.url())
        .unwrap();
    (schema, a, b, clock)
}

#[test]
fn a_write_on_one_engine_is_read_on_the_other() {
    let (_schema, a, b, _clock) = two_engines();
    let (chat, _) = a
        .visitor_start_chat(&visitor(V1), u(ACME), u(SUPPORT), v(V1))
        .unwrap();
    let id: uuid::Uuid = chat.id.parse().unwrap();
    b.visitor_send_message(&visitor(V1), v(V1), id, msg("hello from b"))
        .unwrap();
    let scope = chat_core::chats::ChatScope::Owned {
        organization_id: u(ACME),
    };
    let seen_on_a = a.get_chat(&user(ANN), scope, id).unwrap();
    assert_eq!(seen_on_a.message_count, 1);
    assert!(seen_on_a.is_pending);
    // A's subscribers are woken by b's commit: a hears of it from the database.
    let heard = a.wait_for_events(b.last_event_seq() - 1, Duration::from_secs(1));
    assert_eq!(heard, b.last_event_seq());
    assert_eq!(a.last_event_seq(), b.last_event_seq());
}

#[test]
fn a_token_revoked_on_one_engine_stops_working_on_the_other() {
    let (_schema, a, b, _clock) = two_engines();
    let t = a.create_api_token(&user(BOB), u(BOB)).unwrap();
    // Remembered by b.
    assert_eq!(b.authenticate(&t.token).unwrap(), user(BOB));
    assert_eq!(b.authenticate(&t.token).unwrap(), user(BOB));
    a.revoke_api_token(&user(BOB), u(BOB), t.id.parse().unwrap())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while b.authenticate(&t.token).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepted a second after its revocation"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.authenticate(&t.token).unwrap_err().status(), 401);
}

/// The outbox gap: with writers on two engines committing side by side, a reader that resumes
/// after the last number it saw never misses a change that commits later with a smaller
/// number. Every number the reader collects along the way equals a full read at the end.
#[test]
fn a_reader_resuming_between_concurrent_writers_misses_no_event() {
    let (_schema, a, b, _clock) = two_engines();
    let chat_of = |e: &Engine, who: &str, room: &str| -> uuid::Uuid {
        let (chat, _) = e
            .visitor_start_chat(&visitor(who), u(ACME), u(room), v(who))
            .unwrap();
        chat.id.parse().unwrap()
    };
    let on_a = chat_of(&a, V1, SUPPORT);
    let on_b = chat_of(&b, V2, SALES);
    let channels = vec![format!("/api/v5/orgs/{ACME}/owned_chats/*/messages")];
    let read_after = |since: i64| a.events_since(&user(ANN), &channels, Some(since), None);
    let start = a.last_event_seq();
    let done = AtomicBool::new(false);
    let mut seen: Vec<i64> = vec![];
    std::thread::scope(|s| {
        fn write(e: &Engine, who: &str, chat: uuid::Uuid) {
            for i in 0..60 {
                e.visitor_send_message(&visitor(who), v(who), chat, msg(&format!("m{i}")))
                    .unwrap();
            }
        }
        let wa = s.spawn(|| write(&a, V1, on_a));
        let wb = s.spawn(|| write(&b, V2, on_b));
        let reader = s.spawn(|| {
            let mut since = start;
            let mut seen = vec![];
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = read_after(since).unwrap();
                assert!(!page.resync);
                seen.extend(page.events.iter().map(|e| e.seq));
                since = page.last_seq.max(since);
                if finished && page.events.is_empty() {
                    return seen;
                }
            }
        });
        wa.join().unwrap();
        wb.join().unwrap();
        done.store(true, Ordering::SeqCst);
        seen = reader.join().unwrap();
    });
    let mut all = vec![];
    let mut since = start;
    loop {
        let page = read_after(since).unwrap();
        if page.events.is_empty() {
            break;
        }
        all.extend(page.events.iter().map(|e| e.seq));
        since = page.last_seq;
    }
    assert_eq!(all.len(), 120, "one event per message");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "increasing: {seen:?}");
    assert_eq!(
        seen.iter().copied().collect::<BTreeSet<_>>(),
        all.iter().copied().collect::<BTreeSet<_>>(),
        "the reader saw every event"
    );
}

#[test]
fn a_key_one_engine_generates_is_held_by_the_other() {
    use chat_core::crypto::SecretKey;
    use chat_core::directory::OrganizationPatch;
    let schema = ScratchSchema::create(&base()).unwrap();
    let master = || SecretKey::from_bytes(&[7; 32]);
    let open = || {
        Engine::builder()
            .master_key(master())
            .open_postgres(&schema.url())
            .unwrap()
    };
    let a = open();
    a.load_seed_json(&seed_json().to_string()).unwrap();
    let b = open();
    assert!(!b.holds_organization_key(u(ACME)));
    // Ann turns encryption on through a: a generates the key and holds it under the master key.
    a.update_organization(
        &user(ANN),
        u(ACME),
        OrganizationPatch {
            encrypt_chats: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(a.holds_organization_key(u(ACME)));
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !b.holds_organization_key(u(ACME)) {
        assert!(
            std::time::Instant::now() < deadline,
            "b never loaded the key"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // A chat written through b is encrypted and read through a.
    let (chat, _) = b
        .visitor_start_chat(&visitor(V1), u(ACME), u(SUPPORT), v(V1))
        .unwrap();
    let id: uuid::Uuid = chat.id.parse().unwrap();
    assert!(chat.is_encrypted);
    b.visitor_send_message(&visitor(V1), v(V1), id, msg("sealed on b"))
        .unwrap();
    let scope = chat_core::chats::ChatScope::Owned {
        organization_id: u(ACME),
    };
    let page = a
        .list_messages(
            &user(ANN),
            scope,
            id,
            &Default::default(),
            &chat_core::PageRequest::first(10),
        )
        .unwrap();
    assert!(
        page.results
            .iter()
            .any(|m| m.message.as_deref() == Some("sealed on b"))
    );
}

#[test]
fn connections_the_database_closed_are_replaced_without_failing_a_call() {
    let schema = ScratchSchema::create(&base()).unwrap();
    // The engine's connections carry a name of their own, to be found and closed.
    let name = format!("closed_{}", uuid::Uuid::new_v4().simple());
    let engine = Engine::builder()
        .open_postgres(&format!("{}&application_name={name}", schema.url()))
        .unwrap();
    engine.load_seed_json(&seed_json().to_string()).unwrap();
    let list = || {
        engine.list_chats(
            &user(ANN),
            chat_core::chats::ChatScope::Owned {
                organization_id: u(ACME),
            },
            &Default::default(),
            &chat_core::PageRequest::first(10),
        )
    };
    // Readers side by side: several connections in the pool.
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..20 {
                    list().unwrap();
                }
            });
        }
    });
    // The database closes every one of them, as its restart does (waiting until they are gone).
    let closed: i64 = connect(&schema)
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) \
             FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert!(closed >= 2, "{closed} connections closed");
    // The next calls are served on new connections: none fails on a closed one.
    for _ in 0..10 {
        list().unwrap();
    }
    engine
        .visitor_start_chat(&visitor(V1), u(ACME), u(SUPPORT), v(V1))
        .unwrap();
}
