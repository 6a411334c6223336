//! Group commit: concurrent writes share one transaction, each still atomic (a failing or
//! panicking operation leaves nothing behind, the others of its group are committed) and each
//! acknowledged only once committed.
//!
//! No test here sleeps for ordering: a write holding the connection waits until the others
//! are queued behind it (`SqliteStore::queued_writes`), and the commit counter
//! (`SqliteStore::write_stats`) shows which writes shared a transaction.

use chat_core::chats::NewChat;
use chat_core::messages::NewMessage;
use chat_core::store::{ChatStore, TagStore};
use chat_core::tags::TagRecord;
use chat_core::{Actor, ChatError, Engine, ErrorCode};
use rusqlite::Connection;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ORG: &str = "00000000-0000-4000-8000-00000000a000";
const ANN: &str = "00000000-0000-4000-8000-0000000000a1";

fn setup(dir: &tempfile::TempDir, chats: usize) -> (Engine, Actor, Uuid, Vec<Uuid>) {
    let engine = Engine::open(dir.path().join("chat.db")).unwrap();
    engine
        .load_seed_json(&format!(
            r#"{{"organizations": [{{"id": "{ORG}", "name": "Acme"}}],
                "users": [{{"id": "{ANN}", "organization_id": "{ORG}", "first_name": "Ann", "is_present": true}}]}}"#
        ))
        .unwrap();
    let ann: Uuid = ANN.parse().unwrap();
    let actor = Actor::User(ann);
    let ids = (0..chats)
        .map(|_| {
            engine
                .create_user_chat(&actor, ann, NewChat::default())
                .unwrap()
                .id
                .parse()
                .unwrap()
        })
        .collect();
    (engine, actor, ann, ids)
}

fn send(e: &Engine, a: &Actor, ann: Uuid, chat: Uuid, text: &str) -> chat_core::Result<()> {
    e.send_user_message(
        a,
        ann,
        chat,
        NewMessage {
            message: Some(text.to_string()),
            ..Default::default()
        },
    )
    .map(|_| ())
}

/// (messages of type `msg` stored, the chat row's message counter) per chat.
fn stored(path: &std::path::Path, chat: Uuid) -> (i64, i64) {
    let c = Connection::open(path).unwrap();
    let n = c
        .query_row(
            "SELECT count(*) FROM messages m JOIN chats c ON c.pk = m.chat_pk WHERE c.id = ?1 AND m.type = 'msg'",
            [chat.as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    let counter = c
        .query_row(
            "SELECT message_count FROM chats WHERE id = ?1",
            [chat.as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    (n, counter)
}

/// Waits until `n` writes are queued for the thread holding the writer connection.
fn wait_until_queued(engine: &Engine, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queued = engine.sqlite_store().unwrap().queued_writes();
        if queued >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} writes never queued ({queued} did)"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Holds the writer connection with `hold` on a thread of its own (`hold` calls its argument
/// once it holds it), and meanwhile sends one message to each chat, each from a thread of its
/// own; every send succeeds.
fn send_to_each_while_held(
    engine: &Engine,
    actor: &Actor,
    ann: Uuid,
    chats: &[Uuid],
    hold: impl FnOnce(&(dyn Fn() + Sync)) + Send,
) {
    let (held_tx, held_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || hold(&move || held_tx.send(()).unwrap()));
        held_rx.recv().unwrap();
        let sends: Vec<_> = chats
            .iter()
            .map(|&chat| s.spawn(move || send(engine, actor, ann, chat, "queued")))
            .collect();
        for t in sends {
            t.join().unwrap().unwrap();
        }
    });
}

#[test]
fn writers_queued_behind_a_write_commit_together() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, actor, ann, chats) = setup(&dir, 4);
    let (ops0, commits0) = engine.sqlite_store().unwrap().write_stats();
    send_to_each_while_held(&engine, &actor, ann, &chats, |held| {
        engine
            .sqlite_store()
            .unwrap()
            .write(|_| {
                held();
                // Holds the connection until every send is queued behind this write.
                wait_until_queued(&engine, chats.len());
                Ok(())
            })
            .unwrap();
    });
    let (ops, commits) = engine.sqlite_store().unwrap().write_stats();
    assert_eq!(ops - ops0, 5);
    assert!(
        commits - commits0 < 5,
        "expected shared commits: {} commits for 5 writes",
        commits - commits0
    );
    // One group: the holding write ran the four queued ones in its transaction, one COMMIT.
    assert_eq!(commits - commits0, 1, "one group for the 5 writes");
    drop(engine);
    for chat in chats {
        assert_eq!(stored(&dir.path().join("chat.db"), chat), (1, 1));
    }
}

#[test]
fn the_builder_turns_group_commit_off_and_memory_never_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    assert!(
        Engine::open(&path)
            .unwrap()
            .sqlite_store()
            .unwrap()
            .group_commit_on()
    );
    let off = Engine::builder().group_commit(false).open(&path).unwrap();
    assert!(!off.sqlite_store().unwrap().group_commit_on());
    drop(off);
    let on = Engine::builder().group_commit(true).open(&path).unwrap();
    assert!(on.sqlite_store().unwrap().group_commit_on());
    let memory = Engine::builder()
        .group_commit(true)
        .open_in_memory()
        .unwrap();
    assert!(!memory.sqlite_store().unwrap().group_commit_on());
}

/// Writes queued while the writer connection is held by something that is not a write (a
/// maintenance task through `with_connection`) are not stranded: they run once it is free.
#[test]
fn writes_queued_behind_a_raw_connection_user_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, actor, ann, chats) = setup(&dir, 3);
    send_to_each_while_held(&engine, &actor, ann, &chats, |held| {
        engine
            .sqlite_store()
            .unwrap()
            .with_connection(|_| {
                held();
                wait_until_queued(&engine, chats.len());
                Ok(())
            })
            .unwrap();
    });
    drop(engine);
    for chat in chats {
        assert_eq!(stored(&dir.path().join("chat.db"), chat), (1, 1));
    }
}

#[test]
fn a_failing_or_panicking_write_leaves_only_itself_out_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, actor, ann, chats) = setup(&dir, 3);
    let (started_tx, started_rx) = mpsc::channel();
    let mut panicked = false;
    let (ops0, commits0) = engine.sqlite_store().unwrap().write_stats();
    std::thread::scope(|s| {
        let e = &engine;
        let a = &actor;
        let (c0, c1, c2) = (chats[0], chats[1], chats[2]);
        // Holds the connection until the four writes below are queued, each after the one
        // before it: they run in that order in this write's group.
        s.spawn(move || {
            e.sqlite_store()
                .unwrap()
                .write(|_| {
                    started_tx.send(()).unwrap();
                    wait_until_queued(e, 4);
                    Ok(())
                })
                .unwrap();
        });
        started_rx.recv().unwrap();
        let ok = s.spawn(move || send(e, a, ann, c0, "committed"));
        wait_until_queued(e, 1);
        // Fails after a write that ran inside the group.
        let failing = s.spawn(move || {
            e.sqlite_store()
                .unwrap()
                .write(|tx| -> chat_core::Result<()> {
                    let pk = tx.chat_by_id(c1, 0)?.unwrap().pk;
                    tx.insert_tag(&TagRecord {
                        chat_pk: pk,
                        name: "ghost".into(),
                        created_at: 0,
                    })?;
                    assert!(tx.tag(pk, "ghost")?.is_some());
                    Err(ChatError::new(ErrorCode::Storage, "fails after a write"))
                })
        });
        wait_until_queued(e, 2);
        let panicking = s.spawn(move || {
            e.sqlite_store()
                .unwrap()
                .write(|_| -> chat_core::Result<()> { panic!("a bug in a rule") })
        });
        wait_until_queued(e, 3);
        let after = s.spawn(move || send(e, a, ann, c2, "committed too"));
        assert!(failing.join().unwrap().is_err());
        panicked = panicking.join().is_err();
        ok.join().unwrap().unwrap();
        after.join().unwrap().unwrap();
    });
    assert!(panicked);
    // They all ran in the holding write's group: five operations, one COMMIT.
    let (ops, commits) = engine.sqlite_store().unwrap().write_stats();
    assert_eq!((ops - ops0, commits - commits0), (5, 1));
    // The engine still works after the panic.
    send(&engine, &actor, ann, chats[1], "later").unwrap();
    drop(engine);
    let db = dir.path().join("chat.db");
    assert_eq!(stored(&db, chats[0]), (1, 1));
    assert_eq!(stored(&db, chats[1]), (1, 1), "only the later message");
    assert_eq!(stored(&db, chats[2]), (1, 1));
    let ghosts: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM chat_tags WHERE name = 'ghost'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ghosts, 0);
}

#[test]
fn many_concurrent_writers_with_faults_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, actor, ann, chats) = setup(&dir, 8);
    let faults = engine.sqlite_store().unwrap().fault_plan();
    let oks: Vec<usize> = std::thread::scope(|s| {
        let e = &engine;
        let a = &actor;
        // Armed before any send: the first write statement fails, whatever the scheduling.
        faults.fail_write(1);
        let handles: Vec<_> = chats
            .iter()
            .map(|&chat| {
                s.spawn(move || {
                    (0..150)
                        .filter(|i| send(e, a, ann, chat, &format!("m{i}")).is_ok())
                        .count()
                })
            })
            .collect();
        // Up to 40 faults while the sends run, each armed once the one before has fired (none
        // is overwritten unseen).
        let mut armed = 1;
        while armed < 40 && !handles.iter().all(|h| h.is_finished()) {
            if faults.is_armed() {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                faults.fail_write(1 + armed % 4);
                armed += 1;
            }
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (ops, commits) = engine.sqlite_store().unwrap().write_stats();
    assert!(commits <= ops);
    assert!(oks.iter().sum::<usize>() < 8 * 150, "some writes failed");
    // Each fault that fired failed its own send and no other.
    let fired = faults.fired() as usize;
    assert!(fired >= 1);
    assert_eq!(8 * 150 - oks.iter().sum::<usize>(), fired);
    drop(engine);
    let db = dir.path().join("chat.db");
    for (chat, ok) in chats.iter().zip(oks) {
        let (n, counter) = stored(&db, *chat);
        assert_eq!(n as usize, ok);
        assert_eq!(counter as usize, ok);
    }
}
