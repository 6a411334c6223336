//! Quick probe: core send vs raw insert+update, on a file DB.
use chat_core::chats::NewChat;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine};
use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("p.db")).unwrap();
    engine.load_seed_json(r#"{"organizations":[{"id":"00000000-0000-4000-8000-00000000a000","name":"A"}],
      "users":[{"id":"00000000-0000-4000-8000-0000000000a1","organization_id":"00000000-0000-4000-8000-00000000a000","first_name":"A","is_present":true}]}"#).unwrap();
    let u: uuid::Uuid = "00000000-0000-4000-8000-0000000000a1".parse().unwrap();
    let a = Actor::User(u);
    let chat: uuid::Uuid = engine
        .create_user_chat(&a, u, NewChat::default())
        .unwrap()
        .id
        .parse()
        .unwrap();
    let n = 5000;
    let t = Instant::now();
    let mut lap = Instant::now();
    for i in 0..n {
        engine
            .send_user_message(
                &a,
                u,
                chat,
                NewMessage {
                    message: Some(format!("message number {i} with some text in it")),
                    ..Default::default()
                },
            )
            .unwrap();
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "sends {}..{}: {:.0}/s",
                i + 1 - 1000,
                i + 1,
                1000.0 / lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
    }
    let core = n as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "pages written per send: {:.1}",
        f64::from(chat_benches::pages_written(&engine)) / n as f64
    );
    let conn = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch("CREATE TABLE c (pk INTEGER PRIMARY KEY, n INTEGER, upd INTEGER); INSERT INTO c VALUES (1, 0, 0);
        CREATE TABLE m (chat INTEGER, seq INTEGER, id BLOB, body TEXT, at INTEGER, PRIMARY KEY (chat, seq)) WITHOUT ROWID; CREATE UNIQUE INDEX mi ON m(id);").unwrap();
    let t = Instant::now();
    for i in 0..n {
        let tx = conn.unchecked_transaction().unwrap();
        tx.prepare_cached("INSERT INTO m VALUES (1, ?1, ?2, ?3, ?4)")
            .unwrap()
            .execute(rusqlite::params![
                i,
                uuid::Uuid::now_v7().as_bytes(),
                format!("message number {i} with some text in it"),
                i
            ])
            .unwrap();
        tx.prepare_cached("UPDATE c SET n = n + 1, upd = ?1 WHERE pk = 1")
            .unwrap()
            .execute([i])
            .unwrap();
        tx.commit().unwrap();
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    println!("core {core:.0}/s raw {raw:.0}/s ratio {:.2}", core / raw);
}
