//! Diagnostic: user message sends in a loop, nothing else, for instruction counts.
//! `valgrind --tool=callgrind --toggle-collect='chat_core::engine::Engine::send_user_message'
//! target/release/examples/send_loop [sends] [--dataset]`: on one chat of a fresh database, or
//! (`--dataset`) round the chats of a copy of the benchmark dataset (`CHAT_BENCH_SCALE`).
//! Instructions divided by the sends are comparable between builds: callgrind counts the same
//! whatever else the machine runs.
use chat_core::Actor;
use chat_core::messages::NewMessage;

fn main() {
    let sends: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let tmp = tempfile::tempdir().unwrap();
    let on_dataset = std::env::args().any(|a| a == "--dataset");
    let (engine, chats) =
        chat_benches::user_send_setup(tmp.path(), on_dataset.then_some("send-loop-core"));
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
