//! The `raw + events` baselines write what the operations they stand for write: the same
//! tables, the same row counts, the same event rows (action, readers, resource attributes).

use chat_benches::write_ops::{check_baselines, engine_writes, raw_writes};
use chat_benches::{DatasetSize, dataset_of};

const SMALL: DatasetSize = DatasetSize::SMALL;

#[test]
fn every_baseline_writes_the_rows_and_events_of_its_operation() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset_of(dir.path(), SMALL);
    // Four conversations: operators and rooms in every combination the cast takes, and each
    // operator's second conversation after their first ended.
    let mismatches = check_baselines(&ds, dir.path(), 4);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_comparison_tells_a_send_without_its_events_from_the_engines_send() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset_of(dir.path(), SMALL);
    let (engine, _clock) = chat_benches::engine_on_copy(&ds, dir.path(), "send-core");
    let raw = chat_benches::raw_connection(&chat_benches::copy_of(&ds, dir.path(), "send-raw"));
    let (chat, op, _) = ds.chats[0];
    let now = ds.end_ms + 1000;
    let by_engine = engine_writes(&engine, || {
        let m = chat_core::messages::NewMessage {
            message: Some("Hello".into()),
            ..Default::default()
        };
        engine
            .send_user_message(&chat_core::Actor::User(op), op, chat, m)
            .unwrap();
    });
    let without_events = raw_writes(&raw, || {
        chat_benches::raw_send::raw_send(&raw, chat, op, true, now, "Hello")
    });
    assert_ne!(by_engine, without_events);
    assert!(without_events.events.is_empty());
    assert!(!without_events.tables.contains_key("event_changes"));
    let with_events = raw_writes(&raw, || {
        chat_benches::raw_send::raw_send_events(&raw, chat, op, true, now + 1, "Hello")
    });
    assert_eq!(by_engine, with_events);
}
