//! Diagnostic: the newest 50 messages of chats of the benchmark dataset in a loop, as the
//! criterion benchmark `messages_newest_50` reads them, for instruction counts.
//! `valgrind --tool=callgrind --toggle-collect='chat_core::engine::Engine::list_messages'
//! target/release/examples/page_loop [pages]`.
use chat_core::chats::ChatScope;
use chat_core::messages::MessageListParams;
use chat_core::{Actor, Engine, PageRequest, TestClock};

fn main() {
    let pages: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = chat_benches::bench_dir();
    let ds = chat_benches::dataset(&dir);
    let n = ds.chats.len();
    let t = std::time::Instant::now();
    {
        let path = chat_benches::copy_of(&ds, &dir, "page-loop-core");
        let engine = Engine::builder()
            .clock(TestClock::new(ds.end_ms + 1000))
            .open(&path)
            .unwrap();
        for i in 0..pages {
            let (chat, op, _) = ds.chats[(i * 7919) % n];
            let p = engine
                .list_messages(
                    &Actor::User(op),
                    ChatScope::UserChats { user_id: op },
                    chat,
                    &MessageListParams::default(),
                    &PageRequest::first(50),
                )
                .unwrap();
            assert_eq!(p.results.len(), 50);
        }
    }
    println!(
        "{pages} pages, {:.1} µs/page",
        t.elapsed().as_secs_f64() * 1e6 / pages as f64
    );
}
