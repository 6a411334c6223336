//! Diagnostic A/B of two engine configurations in one process: user sends alternate between
//! two copies of the benchmark dataset in batches, so machine drift hits both alike (an A/A run
//! varies by ±1 % in the median). `AB_A` / `AB_B` are each engine's options as JSON
//! (`EngineBuilder::options_json`, e.g. `{"background_checkpoints": true}`); a setting that is
//! not an option (a pragma, such as the writer's cache size) can be tried by reading an
//! environment variable in the store's setup for the experiment, with `AB_ENV_A` / `AB_ENV_B`
//! (`KEY=VALUE,...`) set while each engine opens.
//! `cargo run --release -p chat-benches --example ab_config -- [rounds] [batch]`
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine, TestClock};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let batch: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(300);
    let dir = chat_benches::bench_dir();
    let ds = chat_benches::dataset(&dir);
    let open = |name: &str, options: &str, settings: &str| {
        let path = chat_benches::copy_of(&ds, &dir, name);
        for kv in settings.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap();
            unsafe { std::env::set_var(k, v) };
        }
        let clock = TestClock::new(ds.end_ms + 1000);
        let mut builder = Engine::builder().clock(clock.clone());
        if !options.is_empty() {
            builder = builder.options_json(options).unwrap();
        }
        let e = builder.open(&path).unwrap();
        for kv in settings.split(',').filter(|s| !s.is_empty()) {
            unsafe { std::env::remove_var(kv.split_once('=').unwrap().0) };
        }
        (e, clock)
    };
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let (a_set, b_set) = (
        format!("{} {}", var("AB_A"), var("AB_ENV_A")),
        format!("{} {}", var("AB_B"), var("AB_ENV_B")),
    );
    let a = open("ab-a", &var("AB_A"), &var("AB_ENV_A"));
    let b = open("ab-b", &var("AB_B"), &var("AB_ENV_B"));
    // Both copies on disk before the first batch, not written back during one side's turns.
    std::process::Command::new("sync").status().unwrap();
    let run = |(e, clock): &(Engine, TestClock), i: &mut usize| {
        let t = std::time::Instant::now();
        for _ in 0..batch {
            let (chat, op, _) = ds.chats[*i % ds.chats.len()];
            *i += 1;
            clock.advance_ms(1);
            let m = NewMessage {
                message: Some(chat_benches::message_text(*i)),
                ..Default::default()
            };
            e.send_user_message(&Actor::User(op), op, chat, m).unwrap();
        }
        t.elapsed().as_secs_f64() * 1e6 / batch as f64
    };
    // Warm-up: one batch each.
    let (mut ia, mut ib) = (0usize, 0usize);
    run(&a, &mut ia);
    run(&b, &mut ib);
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        if r % 2 == 0 {
            ta.push(run(&a, &mut ia));
            tb.push(run(&b, &mut ib));
        } else {
            tb.push(run(&b, &mut ib));
            ta.push(run(&a, &mut ia));
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|x, y| x.partial_cmp(y).unwrap());
        v[v.len() / 2]
    };
    let ratios: Vec<f64> = ta.iter().zip(&tb).map(|(x, y)| y / x).collect();
    let mut r = ratios;
    let (ma, mb) = (med(&mut ta.clone()), med(&mut tb.clone()));
    println!(
        "A [{a_set}] median {ma:.1} µs/send; B [{b_set}] median {mb:.1} µs/send; B/A per round median {:.3} (min {:.3}, max {:.3})",
        med(&mut r),
        r[0],
        r[r.len() - 1]
    );
}
