//! Diagnostic: user message sends in a loop, nothing else, for instruction counts.
//! `valgrind --tool=callgrind --toggle-collect='chat_core::messages::operations::<impl chat_core::engine::Engine>::send_user_message'
//! target/release/examples/send_loop [sends] [--dataset]`: on one chat of a fresh database, or
//! (`--dataset`) round the chats of a copy of the benchmark dataset (`CHAT_BENCH_SCALE`).
//! Instructions divided by the sends are comparable between builds: callgrind counts the same
//! whatever else the machine runs. `--dataset --side raw` or `--side raw-events` runs the raw
//! baselines of the criterion benchmark instead, on their own copy (toggle on
//! `chat_benches::raw_send::raw_send` or `chat_benches::raw_send::raw_send_events`).
//! `--visitor`: visitor messages round the chats of a copy of the dataset instead (toggle on
//! `chat_core::messages::operations::<impl chat_core::engine::Engine>::visitor_send_message`).

fn main() {
    let sends: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let tmp = tempfile::tempdir().unwrap();
    let on_dataset = std::env::args().any(|a| a == "--dataset");
    let args: Vec<String> = std::env::args().collect();
    let side = args
        .iter()
        .position(|a| a == "--side")
        .and_then(|i| args.get(i + 1));
    if let Some(side) = side {
        let send: chat_benches::raw_send::RawSend = match side.as_str() {
            "raw" => chat_benches::raw_send::raw_send,
            "raw-events" => chat_benches::raw_send::raw_send_events,
            other => panic!("--side raw or raw-events, not {other}"),
        };
        let dir = chat_benches::bench_dir();
        let ds = chat_benches::dataset(&dir);
        let raw = chat_benches::raw_connection(&chat_benches::copy_of(&ds, &dir, "send-loop-raw"));
        let t = std::time::Instant::now();
        for i in 0..sends {
            let (chat, op, _) = ds.chats[i % ds.chats.len()];
            let text = chat_benches::message_text(i);
            send(&raw, chat, op, true, ds.end_ms + 1 + i as i64, &text);
        }
        println!(
            "{sends} {side} sends, {:.1} µs/send",
            t.elapsed().as_secs_f64() * 1e6 / sends as f64
        );
        return;
    }
    if args.iter().any(|a| a == "--visitor") {
        let dir = chat_benches::bench_dir();
        let ds = chat_benches::dataset(&dir);
        let (engine, _) = chat_benches::engine_on_copy(&ds, &dir, "send-loop-visitor");
        let t = std::time::Instant::now();
        for i in 0..sends {
            let (chat, _, visitor) = ds.chats[i % ds.chats.len()];
            engine
                .visitor_send_message(
                    &chat_core::Actor::Visitor(visitor),
                    visitor,
                    chat,
                    chat_core::messages::NewMessage {
                        message: Some(chat_benches::message_text(i)),
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        println!(
            "{sends} visitor sends, {:.1} µs/send",
            t.elapsed().as_secs_f64() * 1e6 / sends as f64
        );
        return;
    }
    let sends_on = chat_benches::UserSends::new(tmp.path(), on_dataset.then_some("send-loop-core"));
    let t = std::time::Instant::now();
    for i in 0..sends {
        sends_on.send(i);
    }
    println!(
        "{sends} sends, {:.1} µs/send",
        t.elapsed().as_secs_f64() * 1e6 / sends as f64
    );
}
