//! Group commit in process: `threads` writers sending messages on a copy of the dataset, with
//! and without group commit, in the same run. `cargo run --release -p chat-benches --example
//! group_commit [threads] [messages per thread]`.
use chat_benches::*;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let threads = args.first().copied().unwrap_or(32);
    let per = args.get(1).copied().unwrap_or(300);
    let dir = chat_benches::bench_dir();
    let ds = dataset(&dir);
    let cache_kb: i64 = std::env::var("CACHE_KB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for group in [false, true, false, true] {
        let path = copy_of(&ds, &dir, "group-commit");
        let engine = Engine::open(&path).unwrap();
        if cache_kb > 0 {
            engine
                .sqlite_store()
                .unwrap()
                .with_connection(|c| Ok(c.pragma_update(None, "cache_size", -cache_kb)?))
                .unwrap();
        }
        engine.sqlite_store().unwrap().set_group_commit(group);
        let (ops0, commits0) = engine.sqlite_store().unwrap().write_stats();
        let t = Instant::now();
        std::thread::scope(|s| {
            for w in 0..threads {
                let (e, chats) = (&engine, &ds.chats);
                s.spawn(move || {
                    for i in 0..per {
                        let (chat, op, _) = chats[(w * 7919 + i * 31) % chats.len()];
                        e.send_user_message(
                            &Actor::User(op),
                            op,
                            chat,
                            NewMessage {
                                message: Some(format!("group commit probe {w} {i}: about a hundred characters of text in it")),
                                ..Default::default()
                            },
                        )
                        .unwrap();
                    }
                });
            }
        });
        let secs = t.elapsed().as_secs_f64();
        let (ops, commits) = engine.sqlite_store().unwrap().write_stats();
        println!(
            "group_commit={group:<5} threads={threads}: {:.0} sends/s, {} ops in {} commits ({:.1} per commit)",
            (threads * per) as f64 / secs,
            ops - ops0,
            commits - commits0,
            (ops - ops0) as f64 / (commits - commits0).max(1) as f64
        );
    }
}
