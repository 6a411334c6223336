//! Diagnostic: the newest 50 messages of chats of the benchmark dataset in a loop, as the
//! criterion benchmark `messages_newest_50` reads them, for instruction counts.
//! `valgrind --tool=callgrind --toggle-collect='chat_core::messages::operations::<impl chat_core::engine::Engine>::list_messages'
//! target/release/examples/page_loop [pages]`.
fn main() {
    let pages: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = chat_benches::bench_dir();
    let ds = chat_benches::dataset(&dir);
    let n = ds.chats.len();
    let (engine, _) = chat_benches::engine_on_copy(&ds, &dir, "page-loop-core");
    let t = std::time::Instant::now();
    for i in 0..pages {
        let (chat, op, _) = ds.chats[(i * 7919) % n];
        assert_eq!(chat_benches::newest_page(&engine, chat, op), 50);
    }
    println!(
        "{pages} pages, {:.1} µs/page",
        t.elapsed().as_secs_f64() * 1e6 / pages as f64
    );
}
