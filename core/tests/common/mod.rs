//! A small world for tests: two partner organizations, operators with different permissions,
//! a team, rooms (one routed, one shared), visitors; a test clock.

#![allow(dead_code)]

use chat_core::chats::{Chat, ChatListParams, ChatScope};
use chat_core::directory::seed::parse_visitor_id;
use chat_core::memberships::MembershipInput;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine, PageRequest, TestClock};
use serde_json::json;
use uuid::Uuid;

pub const ACME: &str = "00000000-0000-4000-8000-00000000a000";
pub const PARTNER: &str = "00000000-0000-4000-8000-00000000b000";
pub const POOR: &str = "00000000-0000-4000-8000-00000000c000";
pub const ANN: &str = "00000000-0000-4000-8000-0000000000a1"; // reports + settings
pub const BOB: &str = "00000000-0000-4000-8000-0000000000a2"; // plain operator, in team
pub const CAT: &str = "00000000-0000-4000-8000-0000000000a3"; // plain, absent
pub const DAN: &str = "00000000-0000-4000-8000-0000000000b1"; // partner operator
pub const EVE: &str = "00000000-0000-4000-8000-0000000000c1"; // org without subscription
pub const TEAM: &str = "00000000-0000-4000-8000-0000000000f1";
pub const SUPPORT: &str = "00000000-0000-4000-8000-0000000000d1"; // no router, shared with partner
pub const SALES: &str = "00000000-0000-4000-8000-0000000000d2"; // router: team (bob)
pub const PARTNER_ROOM: &str = "00000000-0000-4000-8000-0000000000d3";
pub const V1: &str = "11111111111111111111111111111111";
pub const V2: &str = "22222222222222222222222222222222";
pub const V3: &str = "33333333333333333333333333333333";

pub fn u(s: &str) -> Uuid {
    s.parse().unwrap()
}
pub fn v(s: &str) -> Uuid {
    parse_visitor_id(s).unwrap()
}
pub fn user(s: &str) -> Actor {
    Actor::User(u(s))
}
pub fn visitor(s: &str) -> Actor {
    Actor::Visitor(v(s))
}

pub fn seed_json() -> serde_json::Value {
    json!({
        "organizations": [
            {"id": ACME, "name": "Acme", "partner_ids": [PARTNER]},
            {"id": PARTNER, "name": "Partner Oy"},
            {"id": POOR, "name": "Lapsed", "has_active_subscription": false}
        ],
        "users": [
            {"id": ANN, "organization_id": ACME, "first_name": "Ann", "last_name": "Lee", "alias": "Support", "permissions": ["reports", "settings"], "is_present": true, "api_token": "ann-token-0123456789"},
            {"id": BOB, "organization_id": ACME, "first_name": "Bob", "last_name": "Stone", "is_present": true, "api_token": "bob-token-0123456789"},
            {"id": CAT, "organization_id": ACME, "first_name": "Cat", "last_name": "Ray", "api_token": "cat-token-0123456789"},
            {"id": DAN, "organization_id": PARTNER, "first_name": "Dan", "last_name": "Park", "is_present": true, "api_token": "dan-token-0123456789"},
            {"id": EVE, "organization_id": POOR, "first_name": "Eve", "last_name": "Noe", "is_present": true, "api_token": "eve-token-0123456789"}
        ],
        "teams": [{"id": TEAM, "organization_id": ACME, "name": "Tier 1", "member_ids": [BOB]}],
        "rooms": [
            {"id": SUPPORT, "organization_id": ACME, "name": "Support", "language_code": "en", "allowed_tags": ["Lead", "Bug"], "shared_with": [PARTNER]},
            {"id": SALES, "organization_id": ACME, "name": "Sales", "router": [{"team_ids": [TEAM]}]},
            {"id": PARTNER_ROOM, "organization_id": PARTNER, "name": "Partner room"}
        ],
        "visitors": [
            {"id": V1, "room_id": SUPPORT, "name": "Vera", "is_present": true},
            {"id": V2, "room_id": SALES, "name": null, "is_present": true},
            {"id": V3, "room_id": SUPPORT, "name": null, "is_present": true}
        ]
    })
}

pub struct World {
    pub engine: Engine,
    pub clock: TestClock,
    /// The directory of the database file, when the suite runs on one (kept while in use).
    _place: TestPlace,
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
    Postgres(chat_core::store::postgres::ScratchSchema),
}

/// Opens an engine on the store `CHAT_TEST_STORE` names: in memory (unset), on a database
/// file (`file`: WAL, group commit, the checkpointer) or on PostgreSQL (`postgres`, a new
/// schema in the database `CHAT_TEST_POSTGRES` names). One suite, every way the engine stores.
pub fn open_test_engine(builder: chat_core::EngineBuilder) -> (Engine, TestPlace) {
    match std::env::var("CHAT_TEST_STORE").as_deref() {
        Ok("file") => {
            let dir = tempfile::tempdir().unwrap();
            (
                builder.open(dir.path().join("chat.db")).unwrap(),
                TestPlace::File(dir),
            )
        }
        #[cfg(feature = "postgres")]
        Ok("postgres") => {
            let base = std::env::var("CHAT_TEST_POSTGRES")
                .expect("CHAT_TEST_POSTGRES names the test database");
            let schema = chat_core::store::postgres::ScratchSchema::create(&base).unwrap();
            let engine = builder.open_postgres(&schema.url()).unwrap();
            (engine, TestPlace::Postgres(schema))
        }
        Ok(other) if !other.is_empty() => {
            panic!("CHAT_TEST_STORE={other}: not a store this build has")
        }
        _ => (builder.open_in_memory().unwrap(), TestPlace::Memory),
    }
}

/// The seeded world on the store `CHAT_TEST_STORE` names ([`open_test_engine`]).
pub fn world() -> World {
    let clock = TestClock::at_default_start();
    let (engine, place) = open_test_engine(Engine::builder().clock(clock.clone()));
    engine.load_seed_json(&seed_json().to_string()).unwrap();
    World {
        engine,
        clock,
        _place: place,
    }
}

pub fn world_on_file(path: &std::path::Path) -> World {
    let clock = TestClock::at_default_start();
    let engine = Engine::builder().clock(clock.clone()).open(path).unwrap();
    engine.load_seed_json(&seed_json().to_string()).unwrap();
    World {
        engine,
        clock,
        _place: TestPlace::Memory,
    }
}

pub fn msg(text: &str) -> NewMessage {
    NewMessage {
        message: Some(text.into()),
        ..Default::default()
    }
}

pub fn join_input() -> MembershipInput {
    MembershipInput {
        is_participating: Some(true),
        composing_status: Some("idle".into()),
        ..Default::default()
    }
}

impl World {
    /// The visitor starts a chat in the room and writes a first message: a pending chat.
    pub fn waiting_chat(&self, visitor_id: &str, room: &str, text: &str) -> Uuid {
        let (chat, _) = self
            .engine
            .visitor_start_chat(&visitor(visitor_id), u(ACME), u(room), v(visitor_id))
            .unwrap();
        let id: Uuid = chat.id.parse().unwrap();
        self.engine
            .visitor_send_message(&visitor(visitor_id), v(visitor_id), id, msg(text))
            .unwrap();
        id
    }

    pub fn chat(&self, id: Uuid) -> Chat {
        self.engine
            .get_chat(
                &user(ANN),
                ChatScope::Owned {
                    organization_id: u(ACME),
                },
                id,
            )
            .unwrap()
    }

    pub fn ids(&self, actor: &Actor, scope: ChatScope) -> Vec<String> {
        self.all_chats(actor, scope, &ChatListParams::default())
            .into_iter()
            .map(|c| c.id)
            .collect()
    }

    pub fn all_chats(&self, actor: &Actor, scope: ChatScope, params: &ChatListParams) -> Vec<Chat> {
        let mut out = vec![];
        let mut req = PageRequest::first(100);
        loop {
            let p = self.engine.list_chats(actor, scope, params, &req).unwrap();
            out.extend(p.results);
            match p.next {
                Some(n) => req = PageRequest::at(n, Some(100)),
                None => return out,
            }
        }
    }
}

/// A raw query's rows on whichever store the engine runs on, each value as text: NULL as
/// `NULL`, ids and bytes as lowercase hex, flags and booleans as `0`/`1`, numbers in decimal.
/// For recounts and dumps; the same query reads the same text on both stores.
pub fn raw_rows(engine: &Engine, sql: &str) -> Vec<Vec<String>> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = engine.postgres_store() {
        use postgres::types::Type;
        return pg
            .with_client(|c| {
                let rows = c.query(sql, &[])?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| {
                                let t = r.columns()[i].type_().clone();
                                let text = if t == Type::INT8 {
                                    r.get::<_, Option<i64>>(i).map(|v| v.to_string())
                                } else if t == Type::INT4 {
                                    r.get::<_, Option<i32>>(i).map(|v| v.to_string())
                                } else if t == Type::BOOL {
                                    r.get::<_, Option<bool>>(i).map(|v| u8::from(v).to_string())
                                } else if t == Type::UUID {
                                    r.get::<_, Option<Uuid>>(i).map(|v| v.simple().to_string())
                                } else if t == Type::BYTEA {
                                    r.get::<_, Option<Vec<u8>>>(i).map(hex::encode)
                                } else if t == Type::FLOAT8 {
                                    r.get::<_, Option<f64>>(i).map(|v| format!("{v:?}"))
                                } else {
                                    r.get::<_, Option<String>>(i)
                                };
                                text.unwrap_or_else(|| "NULL".into())
                            })
                            .collect()
                    })
                    .collect())
            })
            .unwrap();
    }
    use rusqlite::types::ValueRef;
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            let mut st = c.prepare(sql)?;
            let n = st.column_count();
            let rows = st.query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => "NULL".to_string(),
                            ValueRef::Integer(v) => v.to_string(),
                            ValueRef::Real(v) => format!("{v:?}"),
                            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                            ValueRef::Blob(b) => hex::encode(b),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<String>>>()
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .unwrap()
}

/// A raw count (the first column of the first row).
pub fn raw_count(engine: &Engine, sql: &str) -> i64 {
    raw_rows(engine, sql)[0][0].parse().unwrap()
}

/// The engine's tables, by name.
pub fn table_names(engine: &Engine) -> Vec<String> {
    let sql = if engine.sqlite_store().is_some() {
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else {
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
    };
    raw_rows(engine, sql)
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect()
}
