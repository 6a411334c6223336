//! A small world for unit tests: two partner organizations, their users, teams and rooms.

use crate::chats::{ChatScope, NewChat};
use crate::messages::NewMessage;
use crate::{Actor, Engine, TestClock};
use uuid::Uuid;

pub const ACME: &str = "7f9e9580-095b-42c7-838c-c04e667b26f7";
pub const PARTNER: &str = "1b0c4a4e-7d4f-4c56-9a43-3c7a8f3e2a10";
pub const OTHER: &str = "d2f1a8e0-0c3b-4a0e-9a7e-6c1f6b0b3c77";
/// Acme, present.
pub const ANN: &str = "bed3221e-879e-43df-8d0e-d63f8c1f012d";
/// Acme, present, in team Tier 1.
pub const BOB: &str = "006ff599-9073-11e6-a887-f45c89c72de3";
/// Acme, settings permission.
pub const CAT: &str = "3a3e1c52-5e0f-4b53-8d1b-1f0c7c0a9d11";
/// Acme, in team Tier 1.
pub const DAN: &str = "6c2f1b7e-8e0a-4a8b-9f5c-2d3e4f5a6b7c";
/// Partner, in the partner's shared team.
pub const PIA: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
/// Another (non-partner) organization.
pub const OLLI: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// A bot of Acme.
pub const ROBO: &str = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";
pub const TEAM_TIER1: &str = "11111111-2222-4333-8444-555555555555";
pub const TEAM_PARTNER: &str = "22222222-3333-4444-8555-666666666666";
pub const TEAM_OTHER: &str = "33333333-4444-4555-8666-777777777777";
/// Acme's room with allowed tags Lead, Premium customer, Support.
pub const ROOM: &str = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe";
/// Acme's room without allowed tags, routed to Bob and Robo.
pub const ROUTED_ROOM: &str = "f4cd6ad7-9072-11e6-84ab-f45c89c72de3";
pub const VISITOR: &str = "3b90ef7c93484af4965a79ace7bc9a62";
pub const VISITOR2: &str = "4c01f08d04595b05076b8bdf08cd0b73";

pub fn id(s: &str) -> Uuid {
    s.parse().unwrap()
}

pub fn visitor(s: &str) -> Uuid {
    crate::directory::seed::parse_visitor_id(s).unwrap()
}

pub fn user(s: &str) -> Actor {
    Actor::User(id(s))
}

pub struct World {
    pub engine: Engine,
    pub clock: TestClock,
    /// The directory of the database file, when the suite runs on one (kept while in use).
    pub place: TestPlace,
}

/// Where a test engine's data lives while it is in use (each held for its `Drop`, which
/// removes it).
#[allow(dead_code)]
pub enum TestPlace {
    Memory,
    /// A database file in a temporary directory.
    File(tempfile::TempDir),
    /// A schema of its own in the database `CHAT_TEST_POSTGRES` names.
    #[cfg(feature = "postgres")]
    Postgres(crate::store::postgres::ScratchSchema),
}

/// Opens the engine the unit tests run on, by `CHAT_TEST_STORE`: in memory (unset), on a
/// database file in a temporary directory (`file`: WAL, group commit, the checkpointer), or
/// on PostgreSQL (`postgres`, in a new schema of the database `CHAT_TEST_POSTGRES` names), so
/// that one suite covers every way the engine stores (`scripts/test.sh` runs each).
pub fn open_test_engine(b: crate::EngineBuilder) -> (Engine, TestPlace) {
    match std::env::var("CHAT_TEST_STORE").as_deref() {
        Ok("file") => {
            let dir = tempfile::tempdir().unwrap();
            let engine = b.open(dir.path().join("chat.db")).unwrap();
            (engine, TestPlace::File(dir))
        }
        #[cfg(feature = "postgres")]
        Ok("postgres") => {
            let base = std::env::var("CHAT_TEST_POSTGRES")
                .expect("CHAT_TEST_POSTGRES names the test database");
            let schema = crate::store::postgres::ScratchSchema::create(&base).unwrap();
            let engine = b.open_postgres(&schema.url()).unwrap();
            (engine, TestPlace::Postgres(schema))
        }
        Ok(other) if !other.is_empty() => {
            panic!("CHAT_TEST_STORE={other}: not a store this build has")
        }
        _ => (b.open_in_memory().unwrap(), TestPlace::Memory),
    }
}

pub fn seed_json() -> String {
    format!(
        r#"{{
      "organizations": [
        {{"id": "{ACME}", "name": "Acme", "partner_ids": ["{PARTNER}"]}},
        {{"id": "{PARTNER}", "name": "Partner Ltd"}},
        {{"id": "{OTHER}", "name": "Other Inc"}}
      ],
      "users": [
        {{"id": "{ANN}", "organization_id": "{ACME}", "first_name": "Ann", "last_name": "Lee", "is_present": true, "api_token": "ann-secret-token-123"}},
        {{"id": "{BOB}", "organization_id": "{ACME}", "first_name": "Bob", "last_name": "von Helper", "is_present": true}},
        {{"id": "{CAT}", "organization_id": "{ACME}", "first_name": "Cat", "last_name": "Admin", "permissions": ["settings", "reports"]}},
        {{"id": "{DAN}", "organization_id": "{ACME}", "first_name": "Dan", "last_name": "Two"}},
        {{"id": "{ROBO}", "organization_id": "{ACME}", "first_name": "Robotti", "last_name": "Ruttunen", "is_bot": true}},
        {{"id": "{PIA}", "organization_id": "{PARTNER}", "first_name": "Pia", "last_name": "Partner"}},
        {{"id": "{OLLI}", "organization_id": "{OTHER}", "first_name": "Olli", "last_name": "Other"}}
      ],
      "teams": [
        {{"id": "{TEAM_TIER1}", "organization_id": "{ACME}", "name": "Tier 1", "member_ids": ["{BOB}", "{DAN}"]}},
        {{"id": "{TEAM_PARTNER}", "organization_id": "{PARTNER}", "name": "Partner Experts", "member_ids": ["{PIA}"]}},
        {{"id": "{TEAM_OTHER}", "organization_id": "{OTHER}", "name": "Other Team", "member_ids": ["{OLLI}"]}}
      ],
      "rooms": [
        {{"id": "{ROOM}", "organization_id": "{ACME}", "name": "Support", "allowed_tags": ["Lead", "Premium customer", "Support"]}},
        {{"id": "{ROUTED_ROOM}", "organization_id": "{ACME}", "name": "Sales", "router": [{{"user_ids": ["{BOB}", "{ROBO}"]}}]}}
      ],
      "visitors": [
        {{"id": "{VISITOR}", "room_id": "{ROOM}", "name": null, "is_present": true}},
        {{"id": "{VISITOR2}", "room_id": "{ROUTED_ROOM}", "name": "Vera", "is_present": true}}
      ]
    }}"#
    )
}

pub fn world() -> World {
    let clock = TestClock::at_default_start();
    let (engine, dir) = open_test_engine(Engine::builder().clock(clock.clone()));
    let mut w = seeded(engine, clock);
    w.place = dir;
    w
}

/// The seeded world on an engine the caller built (with this clock).
pub fn seeded(engine: Engine, clock: TestClock) -> World {
    engine.load_seed_json(&seed_json()).unwrap();
    engine
        .share_team(&Actor::Admin, id(PARTNER), id(TEAM_PARTNER), id(ACME))
        .unwrap();
    World {
        engine,
        clock,
        place: TestPlace::Memory,
    }
}

impl World {
    /// A visitor chat in the tagged room with Ann as a member.
    pub fn ann_chat(&self) -> Uuid {
        let (chat, _) = self
            .engine
            .create_visitor_chat(
                &user(ANN),
                id(ANN),
                id(ROOM),
                visitor(VISITOR),
                NewChat::default(),
            )
            .unwrap();
        chat.id.parse().unwrap()
    }

    /// A visitor chat in the room routed to Bob, with a visitor message waiting; Bob is not a
    /// member. Returns (chat, the visitor's message).
    pub fn routed_chat(&self) -> (Uuid, Uuid) {
        let v = visitor(VISITOR2);
        let (chat, _) = self
            .engine
            .visitor_start_chat(&Actor::Visitor(v), id(ACME), id(ROUTED_ROOM), v)
            .unwrap();
        let chat: Uuid = chat.id.parse().unwrap();
        let m = self
            .engine
            .visitor_send_message(
                &Actor::Visitor(v),
                v,
                chat,
                NewMessage {
                    message: Some("Do you have these in blue?".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        (chat, m.id.parse().unwrap())
    }

    pub fn say(&self, who: &str, chat: Uuid, text: &str) -> Uuid {
        let m = self
            .engine
            .send_user_message(
                &user(who),
                id(who),
                chat,
                NewMessage {
                    message: Some(text.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        m.id.parse().unwrap()
    }

    pub fn end(&self, who: &str, chat: Uuid) {
        self.engine
            .update_chat(
                &user(who),
                ChatScope::UserChats { user_id: id(who) },
                chat,
                crate::chats::ChatUpdate {
                    is_ended: Some(true),
                    is_waiting: None,
                },
            )
            .unwrap();
    }

    pub fn chat_of(&self, who: &str, chat: Uuid) -> crate::chats::Chat {
        self.engine
            .get_chat(&user(who), ChatScope::UserChats { user_id: id(who) }, chat)
            .unwrap()
    }
}

/// The error code of a failed operation (panics on success).
pub fn code<T: std::fmt::Debug>(r: crate::Result<T>) -> crate::ErrorCode {
    r.unwrap_err().code
}

/// The error of a failed operation (panics on success).
pub fn err<T: std::fmt::Debug>(r: crate::Result<T>) -> crate::ChatError {
    r.unwrap_err()
}

/// The attribute names of a serialized resource, sorted.
pub fn keys<T: serde::Serialize>(resource: &T) -> Vec<String> {
    let v = serde_json::to_value(resource).unwrap();
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// `names` sorted, as owned strings.
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// The rows of a raw query whose columns are all text (`CAST(x AS TEXT)` reads the same on
/// every store).
pub fn text_rows(engine: &Engine, sql: &str) -> Vec<Vec<String>> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = engine.postgres_store() {
        return pg
            .with_client(|c| {
                Ok(c.query(sql, &[])?
                    .iter()
                    .map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect())
                    .collect())
            })
            .unwrap();
    }
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            let mut st = c.prepare(sql)?;
            let n = st.column_count();
            let rows = st.query_map([], |r| (0..n).map(|i| r.get::<_, String>(i)).collect())?;
            Ok(rows.collect::<rusqlite::Result<Vec<Vec<String>>>>()?)
        })
        .unwrap()
}

/// A count through raw SQL (recounts in tests).
pub fn count(engine: &Engine, sql: &str) -> i64 {
    #[cfg(feature = "postgres")]
    if let Some(pg) = engine.postgres_store() {
        return pg
            .with_client(|c| Ok(c.query_one(sql, &[])?.get::<_, i64>(0)))
            .unwrap();
    }
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}
