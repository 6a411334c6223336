//! Diagnostic: time and pages written (WAL frames) per user message send, core beside the two
//! raw baselines (`raw`, `raw + events`), on copies of the benchmark dataset
//! (`CHAT_BENCH_SCALE`), in alternating blocks (see `raw_send::interleaved_sends`), with
//! SQLite's inline autocheckpoint and without.
//! `cargo run --release -p chat-benches --example pages [sends]`
use chat_benches::raw_send::interleaved_sends;

fn main() {
    let sends: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    for checkpoints in [true, false] {
        let r = interleaved_sends(sends, checkpoints);
        println!(
            "{sends} user sends (scale {}), checkpoints {}",
            chat_benches::scale(),
            if checkpoints {
                "inline (default)"
            } else {
                "off"
            }
        );
        println!("{:<12} {:>12} {:>12}", "", "pages/send", "µs/send");
        for (k, name) in ["core", "raw", "raw+events"].iter().enumerate() {
            println!("{name:<12} {:>12.2} {:>12.1}", r.pages[k], r.micros[k]);
        }
        println!(
            "ratio (throughput) core/raw {:.2}, core/raw+events {:.2}\n",
            r.micros[1] / r.micros[0],
            r.micros[2] / r.micros[0]
        );
        for (k, name) in ["core", "raw", "raw+events"].iter().enumerate() {
            if r.by_btree[k].is_empty() {
                continue;
            }
            println!("{name}: pages per send by table or index");
            for (btree, pages) in &r.by_btree[k] {
                println!("  {btree:<36} {pages:>8.2}");
            }
        }
    }
}
