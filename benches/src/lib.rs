//! Benchmark data: a deterministic dataset (rooms, operators, visitors, chats, messages) built
//! through the engine itself, cached on disk, and the raw-SQL baselines it is compared with.
//!
//! Size: `CHAT_BENCH_SCALE` (default 1.0) scales the reference dataset of 100 rooms,
//! 200 operators, 10 000 chats and 1 000 000 messages (100 per chat).

pub mod pg_dataset;
pub mod raw_events;
pub mod raw_join;
pub mod raw_ops;
pub mod raw_resources;
pub mod raw_send;
pub mod write_ops;

use chat_core::chats::NewChat;
use chat_core::directory::seed::parse_visitor_id;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine, TestClock};
use serde_json::json;
use std::path::{Path, PathBuf};
use uuid::Uuid;

pub const ORG: &str = "00000000-0000-4000-8000-00000000a000";

pub struct Dataset {
    pub path: PathBuf,
    pub rooms: Vec<Uuid>,
    pub operators: Vec<Uuid>,
    pub chats: Vec<(Uuid, Uuid, Uuid)>, // (chat, operator, visitor)
    pub start_ms: i64,
    pub end_ms: i64,
}

pub fn scale() -> f64 {
    std::env::var("CHAT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

pub fn room_id(i: usize) -> Uuid {
    Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 + i as u128)
}
pub fn operator_id(i: usize) -> Uuid {
    Uuid::from_u128(0x2000_0000_0000_4000_8000_0000_0000_0000 + i as u128)
}
pub fn visitor_hex(i: usize) -> String {
    format!(
        "{:032x}",
        0x3000_0000_0000_4000_8000_0000_0000_0000u128 + i as u128
    )
}
pub fn token(i: usize) -> String {
    format!("operator-token-{i:06}")
}

pub const START_MS: i64 = 1_735_689_600_000;

/// Where the dataset and the benchmarks' private copies live.
pub fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data")
}

/// Pages the engine's writer connection has written so far (SQLite's cache-write counter).
pub fn pages_written(engine: &chat_core::Engine) -> i32 {
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(raw_send::conn_pages_written(c)))
        .unwrap()
}

/// How many of each thing a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSize {
    pub rooms: usize,
    pub operators: usize,
    pub chats: usize,
    /// Messages per chat.
    pub per_chat: usize,
}

impl DatasetSize {
    /// A dataset small enough for the tests' debug builds: 2 rooms, 3 operators, 6 chats of 4
    /// messages.
    pub const SMALL: DatasetSize = DatasetSize {
        rooms: 2,
        operators: 3,
        chats: 6,
        per_chat: 4,
    };

    /// The reference dataset scaled by `CHAT_BENCH_SCALE`.
    pub fn scaled() -> Self {
        let s = scale();
        DatasetSize {
            rooms: ((100.0 * s).ceil() as usize).clamp(1, 100),
            operators: ((200.0 * s).ceil() as usize).clamp(2, 200),
            chats: ((10_000.0 * s).ceil() as usize).max(10),
            per_chat: 100,
        }
    }
}

/// Builds (or reuses) the dataset of `CHAT_BENCH_SCALE` in `dir`.
pub fn dataset(dir: &Path) -> Dataset {
    dataset_of(dir, DatasetSize::scaled())
}

/// Builds (or reuses) a dataset of `size` at `dir/dataset-<chats>x<per_chat>-...db`.
pub fn dataset_of(dir: &Path, size: DatasetSize) -> Dataset {
    let DatasetSize {
        rooms: n_rooms,
        operators: n_ops,
        chats: n_chats,
        per_chat,
    } = size;
    std::fs::create_dir_all(dir).unwrap();
    // Named by the schema (a hash of the migrations) too: a dataset built by another schema is
    // rebuilt, not migrated (the raw baselines open their copy without the engine).
    let schema = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        chat_core::store::sqlite::MIGRATIONS.hash(&mut h);
        h.finish() & 0xffff_ffff
    };
    // `LAYOUT` names how the file was built: a change to the build rebuilds the dataset.
    const LAYOUT: &str = "organic";
    let path = dir.join(format!(
        "dataset-{n_chats}x{per_chat}-{n_rooms}r{n_ops}o-{schema:08x}-{LAYOUT}.db"
    ));
    let rooms: Vec<Uuid> = (0..n_rooms).map(room_id).collect();
    let operators: Vec<Uuid> = (0..n_ops).map(operator_id).collect();
    let chats_meta = |i: usize| {
        (
            operators[i % n_ops],
            parse_visitor_id(&visitor_hex(i)).unwrap_or_default(),
        )
    };
    let marker = path.with_extension("done");
    let end_ms = START_MS + (n_chats as i64) * 1000 + (n_chats * per_chat) as i64 * 10;
    if marker.exists() {
        let ids = std::fs::read_to_string(&marker).unwrap();
        let chats = ids
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let (op, v) = chats_meta(i);
                (l.parse().unwrap(), op, v)
            })
            .collect();
        return Dataset {
            path,
            rooms,
            operators,
            chats,
            start_ms: START_MS,
            end_ms,
        };
    }
    let _ = std::fs::remove_file(&path);
    let clock = TestClock::new(START_MS);
    let engine = Engine::builder().clock(clock.clone()).open(&path).unwrap();
    let seed = json!({
        "organizations": [{"id": ORG, "name": "Bench", "chat_idle_timeout_s": 86400 * 365}],
        "users": (0..n_ops).map(|i| json!({"id": operator_id(i), "organization_id": ORG, "first_name": format!("Op{i}"), "last_name": "Bench",
            "permissions": if i == 0 { json!(["reports", "settings"]) } else { json!([]) }, "is_present": true, "api_token": token(i)})).collect::<Vec<_>>(),
        "rooms": (0..n_rooms).map(|i| json!({"id": room_id(i), "organization_id": ORG, "name": format!("Room {i}"), "allowed_tags": ["Lead", "Bug", "Sales"]})).collect::<Vec<_>>(),
        "visitors": (0..n_chats).map(|i| json!({"id": visitor_hex(i), "room_id": room_id(i % n_rooms), "is_present": true})).collect::<Vec<_>>(),
    });
    engine.load_seed_json(&seed.to_string()).unwrap();
    let mut chats = Vec::with_capacity(n_chats);
    for i in 0..n_chats {
        let (op, visitor) = chats_meta(i);
        let actor = Actor::User(op);
        let (chat, _) = engine
            .create_visitor_chat(&actor, op, rooms[i % n_rooms], visitor, NewChat::default())
            .unwrap();
        let chat: Uuid = chat.id.parse().unwrap();
        chats.push((chat, op, visitor));
        clock.advance_ms(1000);
    }
    // Messages interleave across chats, as live traffic does.
    for round in 0..per_chat {
        for (i, &(chat, op, visitor)) in chats.iter().enumerate() {
            let text = format!(
                "Message {round} of chat {i}: a typical customer-service sentence of about a hundred characters long."
            );
            let text = text[..text.len().min(100)].to_string();
            let m = NewMessage {
                message: Some(text),
                ..Default::default()
            };
            if round % 2 == 0 {
                engine
                    .visitor_send_message(&Actor::Visitor(visitor), visitor, chat, m)
                    .unwrap();
            } else {
                engine
                    .send_user_message(&Actor::User(op), op, chat, m)
                    .unwrap();
            }
            clock.advance_ms(10);
        }
        // The event log holds the last 7 days of changes, not all history: building 1M
        // messages in a few simulated hours would leave ≈ 3 changes per message in it (several
        // GB with the benchmarks' copies). Retention passes over it after every round, as a
        // running server's maintenance does: the numbers go on from the newest one (the
        // floor), and the pages freed are reused by the next round's messages and changes.
        // The file is not VACUUMed: a VACUUMed file has every b-tree leaf full, so that nearly
        // every benchmark send would split the leaf its chat's messages end in (5.8 of a
        // send's 15 pages were such splits) and the file grow by ≈ 2.9 KB per message sent;
        // a server's database, grown by interleaved traffic and never rebuilt, does not (here
        // `messages` leaves end 81 % full; see docs/PERFORMANCE.md).
        engine
            .sqlite_store().unwrap()
            .with_connection(|c| {
                c.execute_batch(
                    "INSERT INTO event_meta (key, value) SELECT 'floor', max(seq) FROM event_changes WHERE true \
                       ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value); \
                     DELETE FROM event_changes;",
                )?;
                Ok(())
            })
            .unwrap();
    }
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .unwrap();
    drop(engine);
    std::fs::write(
        &marker,
        chats
            .iter()
            .map(|c| c.0.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    Dataset {
        path,
        rooms,
        operators,
        chats,
        start_ms: START_MS,
        end_ms,
    }
}

/// Removes a database file with its WAL and shared-memory files (those that exist).
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The text of the `i`-th message a benchmark sends (about 100 bytes, as in the dataset).
pub fn message_text(i: usize) -> String {
    format!(
        "Benchmark message {i}: a typical customer-service sentence of about one hundred characters."
    )
}

/// Reads every column (`columns` of them) of every row a statement yields, as a hand-written
/// reader would to build its resources; returns the rows read.
pub fn read_all_rows(mut rows: rusqlite::Rows<'_>, columns: usize) -> usize {
    let mut n = 0;
    while let Some(r) = rows.next().unwrap() {
        for i in 0..columns {
            let _: rusqlite::types::Value = r.get(i).unwrap();
        }
        n += 1;
    }
    n
}

/// A private copy of the dataset for benchmarks that write.
pub fn copy_of(ds: &Dataset, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(format!("{name}.db"));
    remove_db(&to);
    std::fs::copy(&ds.path, &to).unwrap();
    // On disk before anything is measured: otherwise the kernel writes the copy back (hundreds
    // of MB at scale 1) during whichever benchmark runs first, which then looks slower.
    std::fs::File::open(&to).unwrap().sync_all().unwrap();
    to
}

/// A raw rusqlite connection with the engine's settings, for baselines.
pub fn raw_connection(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.pragma_update(None, "foreign_keys", "ON").unwrap();
    // The engine's writer page cache, so that both sides keep the same pages in memory.
    c.pragma_update(
        None,
        "cache_size",
        -chat_core::store::sqlite::WRITER_CACHE_KIB,
    )
    .unwrap();
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .unwrap();
    c.set_prepared_statement_cache_capacity(256);
    c
}

/// One send of [`paced_user_sends`]: when it was scheduled (seconds after the start) and how
/// long after that it had returned (µs), and whether it succeeded.
pub struct PacedSend {
    pub scheduled_s: f64,
    pub latency_us: u64,
    pub ok: bool,
}

/// User sends at a fixed `rate` for `secs` from `threads` threads calling the engine in
/// process, each thread taking every `threads`-th slot of one schedule; latency counts from
/// the scheduled time (a late send is not excused by the one before it being slow). Returns
/// the sends and the seconds from the schedule's start to the last send's return.
pub fn paced_user_sends(
    engine: &Engine,
    clock: &TestClock,
    ds: &Dataset,
    threads: usize,
    rate: f64,
    secs: std::time::Duration,
) -> (Vec<PacedSend>, f64) {
    use std::time::{Duration, Instant};
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + secs;
    let period = 1.0 / rate;
    let sends = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                s.spawn(move || {
                    let mut done = Vec::new();
                    for k in 0.. {
                        let slot = k * threads + w;
                        let at = start + Duration::from_secs_f64(period * slot as f64);
                        if at >= end {
                            break;
                        }
                        let now = Instant::now();
                        if at > now {
                            std::thread::sleep(at - now);
                        }
                        let (chat, op, _) = ds.chats[(slot * 7919) % ds.chats.len()];
                        clock.advance_ms(1);
                        let m = NewMessage {
                            message: Some(message_text(slot)),
                            ..Default::default()
                        };
                        let ok = engine
                            .send_user_message(&Actor::User(op), op, chat, m)
                            .is_ok();
                        done.push(PacedSend {
                            scheduled_s: (at - start).as_secs_f64(),
                            latency_us: at.elapsed().as_micros() as u64,
                            ok,
                        });
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    (sends, start.elapsed().as_secs_f64())
}

/// An engine on a fresh copy of the dataset named `name`, its clock just after the dataset's
/// newest write (as every benchmark on the dataset opens its engine).
pub fn engine_on_copy(ds: &Dataset, dir: &Path, name: &str) -> (Engine, TestClock) {
    let path = copy_of(ds, dir, name);
    let clock = TestClock::new(ds.end_ms + 1000);
    let engine = Engine::builder().clock(clock.clone()).open(&path).unwrap();
    (engine, clock)
}

/// The newest 50 messages of `chat`, as its operator `op` lists them (the benchmark
/// `messages_newest_50`); returns how many there were.
pub fn newest_page(engine: &Engine, chat: Uuid, op: Uuid) -> usize {
    engine
        .list_messages(
            &Actor::User(op),
            chat_core::chats::ChatScope::UserChats { user_id: op },
            chat,
            &chat_core::messages::MessageListParams::default(),
            &chat_core::PageRequest::first(50),
        )
        .unwrap()
        .results
        .len()
}

/// An engine and the (chat, operator) pairs the diagnostic examples send user messages in:
/// round the chats of a copy of the dataset named `copy` (as the criterion benchmark sends),
/// or, with `copy` None, one chat of a fresh database in `tmp`.
pub struct UserSends {
    pub engine: Engine,
    pub chats: Vec<(Uuid, Uuid)>,
}

impl UserSends {
    pub fn new(tmp: &Path, copy: Option<&str>) -> Self {
        if let Some(name) = copy {
            let dir = bench_dir();
            let ds = dataset(&dir);
            let (engine, _) = engine_on_copy(&ds, &dir, name);
            let chats = ds.chats.iter().map(|(c, op, _)| (*c, *op)).collect();
            return Self { engine, chats };
        }
        let engine = Engine::open(tmp.join("p.db")).unwrap();
        engine.load_seed_json(r#"{"organizations":[{"id":"00000000-0000-4000-8000-00000000a000","name":"A"}],
          "users":[{"id":"00000000-0000-4000-8000-0000000000a1","organization_id":"00000000-0000-4000-8000-00000000a000","first_name":"A","is_present":true}]}"#).unwrap();
        let u: Uuid = "00000000-0000-4000-8000-0000000000a1".parse().unwrap();
        let chat: Uuid = engine
            .create_user_chat(&Actor::User(u), u, NewChat::default())
            .unwrap()
            .id
            .parse()
            .unwrap();
        Self {
            engine,
            chats: vec![(chat, u)],
        }
    }

    /// Send number `i`: in the i-th chat (round), by its operator, `message_text(i)`.
    pub fn send(&self, i: usize) {
        let (chat, u) = self.chats[i % self.chats.len()];
        self.engine
            .send_user_message(
                &Actor::User(u),
                u,
                chat,
                NewMessage {
                    message: Some(message_text(i)),
                    ..Default::default()
                },
            )
            .unwrap();
    }
}
