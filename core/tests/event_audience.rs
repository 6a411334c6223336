//! A change's stored event does not grow with its audience: what a visitor's message and an
//! operator joining the chat write to the database (event bytes, WAL pages) is the same
//! whether the chat's room reaches 2 operators or 200.
//!
//! `cargo test -p chat-core --test event_audience -- --nocapture` prints the figures.

use chat_core::memberships::MembershipInput;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine, TestClock};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use uuid::Uuid;

const ORG: Uuid = Uuid::from_u128(0x7f9e9580_095b_42c7_838c_c04e667b26f7);
const ROOM: Uuid = Uuid::from_u128(0xf4cd6ad7_9072_11e6_84ab_f45c89c72de3);
/// Chats measured one after another (each: a visitor starts it and writes, an operator joins).
const CHATS: usize = 20;

fn operator(i: usize) -> Uuid {
    Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 + i as u128)
}

fn visitor_id(i: usize) -> String {
    format!(
        "{:032x}",
        0xabc0_0000_0000_0000_0000_0000_0000_0000u128 + i as u128
    )
}

/// An organization whose room is routed to `operators` present operators, with `CHATS`
/// visitors in that room.
fn seed(operators: usize) -> String {
    let users: Vec<String> = (0..operators)
        .map(|i| {
            format!(
                r#"{{"id": "{}", "organization_id": "{ORG}", "first_name": "Op", "last_name": "{i:03}", "is_present": true}}"#,
                operator(i)
            )
        })
        .collect();
    let ids: Vec<String> = (0..operators)
        .map(|i| format!("\"{}\"", operator(i)))
        .collect();
    let visitors: Vec<String> = (0..CHATS)
        .map(|i| {
            format!(
                r#"{{"id": "{}", "room_id": "{ROOM}", "name": "Vera", "is_present": true}}"#,
                visitor_id(i)
            )
        })
        .collect();
    format!(
        r#"{{
          "organizations": [{{"id": "{ORG}", "name": "Acme"}}],
          "users": [{}],
          "rooms": [{{"id": "{ROOM}", "organization_id": "{ORG}", "name": "Sales", "router": [{{"user_ids": [{}]}}]}}],
          "visitors": [{}]
        }}"#,
        users.join(","),
        ids.join(","),
        visitors.join(",")
    )
}

/// What one write left in the database.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Written {
    /// Event rows (changes) appended.
    changes: i64,
    /// Bytes of those rows' columns.
    event_bytes: i64,
    /// WAL frames appended: pages written, counted once per transaction.
    pages: i64,
}

impl std::ops::AddAssign for Written {
    fn add_assign(&mut self, o: Self) {
        self.changes += o.changes;
        self.event_bytes += o.event_bytes;
        self.pages += o.pages;
    }
}

struct Db {
    engine: Engine,
    path: PathBuf,
    side: Connection,
    page_size: i64,
    _dir: tempfile::TempDir,
}

impl Db {
    fn open(operators: usize) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let clock = TestClock::at_default_start();
        let open = || Engine::builder().clock(clock.clone()).open(&path).unwrap();
        open().load_seed_json(&seed(operators)).unwrap();
        // Without free pages (the migrations' dropped tables left some, and seeding 200 users
        // takes them while seeding 2 does not): a page taken from the free list writes one
        // more page than a page added at the end of the file.
        // And from the same empty event log: the seed published one event per user (the
        // organization's users), which the two worlds differ by; numbers go on from one
        // floor above both.
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "DELETE FROM event_changes; DELETE FROM event_snapshots WHERE chat_pk = 0; \
                 INSERT INTO event_meta (key, value) VALUES ('floor', 10000) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value; VACUUM",
            )
            .unwrap();
        let engine = open();
        let side = Connection::open(&path).unwrap();
        let page_size = side
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        Db {
            engine,
            path,
            side,
            page_size,
            _dir: dir,
        }
    }

    fn wal_frames(&self) -> i64 {
        let wal = Path::new(&format!("{}-wal", self.path.display())).to_path_buf();
        let len = std::fs::metadata(wal).map(|m| m.len() as i64).unwrap_or(0);
        (len - 32).max(0) / (self.page_size + 24)
    }

    /// Runs `op` after emptying the WAL and measures what it wrote.
    fn measure(&self, op: impl FnOnce(&Engine)) -> Written {
        let (busy, _, _): (i64, i64, i64) = self
            .side
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0, "the WAL could not be emptied");
        assert_eq!(self.wal_frames(), 0);
        let before = self.engine.last_event_seq();
        op(&self.engine);
        let (changes, event_bytes) = self
            .side
            .query_row(
                "SELECT count(*), coalesce(sum(length(organization_id) + length(channels) \
                   + coalesce(length(room_id), 0) + coalesce(length(room_channel), 0) \
                   + length(action) + length(resource_id) + coalesce(length(resource), 0)), 0) \
                 FROM event_changes WHERE seq > ?1",
                [before],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        Written {
            changes,
            event_bytes,
            pages: self.wal_frames(),
        }
    }
}

/// (the visitor's first message, the operator joining), for each of `CHATS` chats.
fn run(operators: usize) -> Vec<(Written, Written)> {
    let db = Db::open(operators);
    let op = operator(0);
    (0..CHATS)
        .map(|i| {
            let v = chat_core::directory::seed::parse_visitor_id(&visitor_id(i)).unwrap();
            let visitor = Actor::Visitor(v);
            let (chat, _) = db
                .engine
                .visitor_start_chat(&visitor, ORG, ROOM, v)
                .unwrap();
            let chat: Uuid = chat.id.parse().unwrap();
            let message = db.measure(|e| {
                e.visitor_send_message(
                    &visitor,
                    v,
                    chat,
                    NewMessage {
                        message: Some("Do you have these in blue?".into()),
                        ..Default::default()
                    },
                )
                .unwrap();
            });
            let join = db.measure(|e| {
                e.join_pending_chat(
                    &Actor::User(op),
                    op,
                    chat,
                    MembershipInput {
                        is_participating: Some(true),
                        composing_status: Some("idle".into()),
                        ..Default::default()
                    },
                )
                .unwrap();
            });
            (message, join)
        })
        .collect()
}

#[test]
fn a_visitor_message_and_a_join_write_the_same_with_2_or_200_operators() {
    let small = run(2);
    let large = run(200);
    let total = |runs: &[(Written, Written)]| {
        let mut t = Written::default();
        for (m, j) in runs {
            t += *m;
            t += *j;
        }
        t
    };
    for (n, runs) in [(2, &small), (200, &large)] {
        let (m, j) = runs[0];
        eprintln!(
            "{n} operators: visitor message {} changes, {} event bytes, {} pages; \
             join {} changes, {} event bytes, {} pages; {CHATS} chats: {:?}",
            m.changes,
            m.event_bytes,
            m.pages,
            j.changes,
            j.event_bytes,
            j.pages,
            total(runs)
        );
    }
    // The message made the chat pending for the room's operators, and the join ended that:
    // both wrote events.
    assert!(
        small[0].0.changes > 0 && small[0].1.changes > 0,
        "{small:?}"
    );
    assert_eq!(
        small, large,
        "what each write stored grew with the audience"
    );
    // And the pending change reached all 200 through the room.
    let db = Db::open(200);
    let v = chat_core::directory::seed::parse_visitor_id(&visitor_id(0)).unwrap();
    let since = db.engine.last_event_seq();
    let (chat, _) = db
        .engine
        .visitor_start_chat(&Actor::Visitor(v), ORG, ROOM, v)
        .unwrap();
    db.engine
        .visitor_send_message(
            &Actor::Visitor(v),
            v,
            chat.id.parse().unwrap(),
            NewMessage {
                message: Some("Hello".into()),
                ..Default::default()
            },
        )
        .unwrap();
    for i in [0, 199] {
        let u = operator(i);
        let page = db
            .engine
            .events_since(
                &Actor::User(u),
                &[format!("/api/v5/users/{u}/pending_chats")],
                Some(since),
                None,
            )
            .unwrap();
        assert_eq!(
            page.events
                .iter()
                .map(|e| (e.action.as_str(), e.resource_id.as_str()))
                .collect::<Vec<_>>(),
            vec![("added", chat.id.as_str())],
            "operator {i}"
        );
    }
}
