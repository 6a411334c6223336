//! The dataset copied to PostgreSQL (`chat_benches::pg_dataset`) is the same data: every
//! operator's chats and their messages read the same through an engine on the copy as through
//! one on the SQLite file, and the copy takes new chats and messages (its identity counters
//! go on after the copied rows). The scale-out figures compare the two stores on it.
//!
//! Needs `CHAT_TEST_POSTGRES` (a `postgres://` URL; `scripts/test.sh` starts a cluster).

use chat_benches::{DatasetSize, dataset_of, engine_on_copy};
use chat_core::chats::{ChatListParams, ChatScope, NewChat};
use chat_core::messages::{MessageListParams, NewMessage};
use chat_core::{Actor, Engine, PageRequest, TestClock};

const SMALL: DatasetSize = DatasetSize::SMALL;

#[test]
fn the_copy_on_postgres_reads_as_the_sqlite_file_and_takes_new_writes() {
    let base = std::env::var("CHAT_TEST_POSTGRES").expect(
        "CHAT_TEST_POSTGRES names a PostgreSQL database (`scripts/postgres.sh start DIR` prints one)",
    );
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset_of(dir.path(), SMALL);
    let schema = chat_benches::pg_dataset::copy_to_postgres(&ds, &base);
    let (sqlite, _) = engine_on_copy(&ds, dir.path(), "compare");
    let postgres = Engine::builder()
        .clock(TestClock::new(ds.end_ms + 1000))
        .open_postgres(&schema.url())
        .unwrap();
    let mut messages_compared = 0;
    for &op in &ds.operators {
        let actor = Actor::User(op);
        let scope = || ChatScope::UserChats { user_id: op };
        let chats = |e: &Engine| {
            e.list_chats(
                &actor,
                scope(),
                &ChatListParams::default(),
                &PageRequest::first(100),
            )
            .unwrap()
        };
        let on_sqlite = chats(&sqlite);
        assert!(!on_sqlite.results.is_empty(), "operator {op} has chats");
        assert_eq!(on_sqlite, chats(&postgres), "operator {op}'s chats");
        for chat in &on_sqlite.results {
            let id = chat.id.parse().unwrap();
            let messages = |e: &Engine| {
                e.list_messages(
                    &actor,
                    scope(),
                    id,
                    &MessageListParams::default(),
                    &PageRequest::first(100),
                )
                .unwrap()
            };
            let on_sqlite = messages(&sqlite);
            // The dataset's messages, and the one its chat started with.
            assert!(on_sqlite.results.len() > SMALL.per_chat, "{on_sqlite:?}");
            assert_eq!(on_sqlite, messages(&postgres), "chat {id}'s messages");
            messages_compared += on_sqlite.results.len();
        }
    }
    assert!(messages_compared > SMALL.chats * SMALL.per_chat);

    // A new chat and a message in it, on the copy.
    let op = ds.operators[0];
    let actor = Actor::User(op);
    let chat = postgres
        .create_user_chat(&actor, op, NewChat::default())
        .unwrap();
    let id = chat.id.parse().unwrap();
    assert!(
        on_sqlite_lacks(&sqlite, op, id),
        "a new chat, not a copied one"
    );
    let sent = postgres
        .send_user_message(
            &actor,
            op,
            id,
            NewMessage {
                message: Some("after the copy".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(sent.message.as_deref(), Some("after the copy"));
    let page = postgres
        .list_messages(
            &actor,
            ChatScope::UserChats { user_id: op },
            id,
            &MessageListParams::default(),
            &PageRequest::first(10),
        )
        .unwrap();
    assert!(
        page.results
            .iter()
            .any(|m| m.message.as_deref() == Some("after the copy"))
    );
}

fn on_sqlite_lacks(sqlite: &Engine, op: uuid::Uuid, chat: uuid::Uuid) -> bool {
    sqlite
        .get_chat(&Actor::User(op), ChatScope::UserChats { user_id: op }, chat)
        .is_err()
}
