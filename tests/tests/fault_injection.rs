//! A failure in the middle of an operation — injected at its 1st, 2nd, ... write — leaves the
//! database exactly as before; the same operation succeeds once the fault is gone.

use chat_core::chats::{ChatScope, ChatUpdate, NewChat};
use chat_core::directory::seed::parse_visitor_id;
use chat_core::memberships::MembershipInput;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine, ErrorCode, TestClock, api};
use rusqlite::Connection;
use serde_json::json;
use uuid::Uuid;

const ORG: &str = "00000000-0000-4000-8000-00000000a000";
const ANN: &str = "00000000-0000-4000-8000-0000000000a1";
const ROOM: &str = "00000000-0000-4000-8000-0000000000d1";
const V1: &str = "11111111111111111111111111111111";

fn dump(conn: &Connection) -> String {
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut out = String::new();
    for t in tables {
        let mut st = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = st.column_count();
        for row in st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
        {
            out.push_str(&format!("{t}:{}\n", row.unwrap()));
        }
    }
    out
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    let e = Engine::builder()
        .clock(TestClock::at_default_start())
        .open(dir.path().join("chat.db"))
        .unwrap();
    e.load_seed_json(
        &json!({
            "organizations": [{"id": ORG, "name": "Acme"}],
            "users": [{"id": ANN, "organization_id": ORG, "first_name": "Ann", "permissions": ["reports", "settings"], "is_present": true}],
            "rooms": [{"id": ROOM, "organization_id": ORG, "name": "Support"}],
            "visitors": [{"id": V1, "room_id": ROOM, "is_present": true}]
        })
        .to_string(),
    )
    .unwrap();
    e
}

/// Runs `op` with a fault at each write in turn until it succeeds; every failed attempt must
/// leave the database byte-for-byte as it was.
fn survives_faults_at_every_write<T: std::fmt::Debug>(
    e: &Engine,
    name: &str,
    mut op: impl FnMut(&Engine) -> chat_core::Result<T>,
) -> T {
    for n in 1.. {
        let before = e
            .sqlite_store()
            .unwrap()
            .with_connection(|c| Ok(dump(c)))
            .unwrap();
        e.fault_plan().fail_write(n);
        let result = op(e);
        e.fault_plan().fail_write(0);
        match result {
            Err(err) if err.detail.ends_with("injected fault") => {
                assert_eq!(err.code, ErrorCode::Storage);
                let after = e
                    .sqlite_store()
                    .unwrap()
                    .with_connection(|c| Ok(dump(c)))
                    .unwrap();
                assert!(
                    before == after,
                    "{name}: fault at write {n} left a partial change"
                );
            }
            Err(err) => panic!("{name}: unexpected error {err:?}"),
            Ok(v) => {
                assert!(n > 1, "{name}: the operation wrote nothing");
                return v;
            }
        }
    }
    unreachable!()
}

#[test]
fn every_multi_write_operation_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let ann = Actor::User(ANN.parse().unwrap());
    let ann_id: Uuid = ANN.parse().unwrap();
    let v1 = parse_visitor_id(V1).unwrap();
    let visitor = Actor::Visitor(v1);
    let (chat, _) = survives_faults_at_every_write(&e, "visitor starts a chat", |e| {
        e.visitor_start_chat(&visitor, ORG.parse().unwrap(), ROOM.parse().unwrap(), v1)
    });
    let chat: Uuid = chat.id.parse().unwrap();
    let msg = || NewMessage {
        message: Some("help".into()),
        ..Default::default()
    };
    survives_faults_at_every_write(&e, "visitor message", |e| {
        e.visitor_send_message(&visitor, v1, chat, msg())
    });
    let join = MembershipInput {
        is_participating: Some(true),
        composing_status: Some("idle".into()),
        ..Default::default()
    };
    survives_faults_at_every_write(&e, "join pending", |e| {
        e.join_pending_chat(&ann, ann_id, chat, join.clone())
    });
    survives_faults_at_every_write(&e, "user message", |e| {
        e.send_user_message(&ann, ann_id, chat, msg())
    });
    survives_faults_at_every_write(&e, "create user chat", |e| {
        e.create_user_chat(&ann, ann_id, NewChat::default())
    });
    let ended = survives_faults_at_every_write(&e, "end chat", |e| {
        e.update_chat(
            &ann,
            ChatScope::Owned {
                organization_id: ORG.parse().unwrap(),
            },
            chat,
            ChatUpdate {
                is_ended: Some(true),
                is_waiting: None,
            },
        )
    });
    assert!(ended.is_ended);
    // Seed loading is one transaction too.
    let seed = json!({"organizations": [{"id": "00000000-0000-4000-8000-00000000b000", "name": "B"}],
        "users": [{"id": "00000000-0000-4000-8000-0000000000b1", "organization_id": "00000000-0000-4000-8000-00000000b000", "first_name": "B", "api_token": "b-token-0123456789"}]})
    .to_string();
    survives_faults_at_every_write(&e, "seed", |e| e.load_seed_json(&seed));
    assert!(e.authenticate("b-token-0123456789").is_ok());
}

/// A creation, its idempotency key and its reply commit together: a fault at any write of the
/// call leaves nothing (no chat, the key free), so the retry with the key runs afresh; once
/// the call succeeds, a retry gets its reply and creates nothing, and the key with another
/// request is `idempotency_key_reused` (422). No fault leaves a key without its reply.
#[test]
fn a_fault_at_any_write_leaves_the_key_free_or_its_reply_stored() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let ann = Actor::User(ANN.parse().unwrap());
    let create = |chat_type: &str| {
        api::call(
            &e,
            &ann,
            "create_user_chat",
            &json!({"user_id": ANN, "body": {"chat_type": chat_type}, "idempotency_key": "k-1"}),
        )
    };
    let chats = || -> i64 {
        e.sqlite_store()
            .unwrap()
            .with_connection(|c| Ok(c.query_row("SELECT count(*) FROM chats", [], |r| r.get(0))?))
            .unwrap()
    };
    let before = chats();
    // A fault at each write in turn, retrying with the same key, until no write fails.
    let mut first = None;
    for n in 1..200 {
        e.fault_plan().fail_write(n);
        let result = create("operator");
        e.fault_plan().fail_write(0);
        match result {
            Err(err) => {
                assert_eq!(err.code, ErrorCode::Storage, "{err:?}");
                assert_eq!(
                    chats(),
                    before,
                    "a failed call created nothing (fault at write {n})"
                );
            }
            Ok(reply) => {
                first = Some(reply);
                break;
            }
        }
    }
    let first = first.expect("the call succeeds once no write fails");
    assert_eq!(chats(), before + 1);
    let retry = create("operator").unwrap();
    assert_eq!((retry.status, &retry.body), (first.status, &first.body));
    assert_eq!(chats(), before + 1, "the retry created nothing");
    let other = create("group").unwrap_err();
    assert_eq!(
        (other.code, other.status()),
        (ErrorCode::IdempotencyKeyReused, 422),
        "{other:?}"
    );
    assert_eq!(chats(), before + 1);
}
