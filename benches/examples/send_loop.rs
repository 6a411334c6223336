//! Diagnostic: user message sends in a loop, nothing else, for instruction counts.
//! `valgrind --tool=callgrind --toggle-collect='chat_core::engine::Engine::send_user_message'
//! target/release/examples/send_loop [sends] [--dataset]`: on one chat of a fresh database, or
//! (`--dataset`) round the chats of a copy of the benchmark dataset (`CHAT_BENCH_SCALE`).
//! Instructions divided by the sends are comparable between builds: callgrind counts the same
//! whatever else the machine runs.
use chat_core::chats::NewChat;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine};

fn main() {
    let sends: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let tmp = tempfile::tempdir().unwrap();
    let on_dataset = std::env::args().any(|a| a == "--dataset");
    let (engine, chats): (Engine, Vec<(uuid::Uuid, uuid::Uuid)>) = if on_dataset {
        let dir = chat_benches::bench_dir();
        let ds = chat_benches::dataset(&dir);
        let path = chat_benches::copy_of(&ds, &dir, "send-loop-core");
        let clock = chat_core::TestClock::new(ds.end_ms + 1000);
        let engine = Engine::builder().clock(clock).open(&path).unwrap();
        let chats = ds.chats.iter().map(|(c, op, _)| (*c, *op)).collect();
        (engine, chats)
    } else {
        let engine = Engine::open(tmp.path().join("p.db")).unwrap();
        engine.load_seed_json(r#"{"organizations":[{"id":"00000000-0000-4000-8000-00000000a000","name":"A"}],
          "users":[{"id":"00000000-0000-4000-8000-0000000000a1","organization_id":"00000000-0000-4000-8000-00000000a000","first_name":"A","is_present":true}]}"#).unwrap();
        let u: uuid::Uuid = "00000000-0000-4000-8000-0000000000a1".parse().unwrap();
        let chat: uuid::Uuid = engine
            .create_user_chat(&Actor::User(u), u, NewChat::default())
            .unwrap()
            .id
            .parse()
            .unwrap();
        (engine, vec![(chat, u)])
    };
    let t = std::time::Instant::now();
    for i in 0..sends {
        let (chat, u) = chats[i % chats.len()];
        engine
            .send_user_message(
                &Actor::User(u),
                u,
                chat,
                NewMessage {
                    message: Some(chat_benches::message_text(i)),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    println!(
        "{sends} sends, {:.1} µs/send",
        t.elapsed().as_secs_f64() * 1e6 / sends as f64
    );
}
