//! Diagnostic (not a benchmark): user sends at a fixed rate in process on a copy of the dataset,
//! with the WAL file's size sampled every 5 ms, printing each 100 ms window's worst latency
//! beside the WAL size, to see what the slow sends coincide with.
//! `cargo run --release -p chat-benches --example paced_probe -- [rate] [secs] [inline_above_pages] [every_ms]`
use chat_core::messages::NewMessage;
use chat_core::{Actor, CheckpointPolicy, Engine, TestClock};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000.0);
    let secs: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let inline: i64 = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(CheckpointPolicy::default().inline_above_pages);
    let every_ms: u64 = args
        .get(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(CheckpointPolicy::default().every.as_millis() as u64);
    let dir = chat_benches::bench_dir();
    let ds = chat_benches::dataset(&dir);
    let path = chat_benches::copy_of(&ds, &dir, "paced-probe");
    std::process::Command::new("sync").status().unwrap();
    let clock = TestClock::new(ds.end_ms + 1000);
    let engine = Engine::builder()
        .clock(clock.clone())
        .background_checkpoints(CheckpointPolicy {
            inline_above_pages: inline,
            every: Duration::from_millis(every_ms),
        })
        .open(&path)
        .unwrap();
    let wal = format!("{}-wal", path.display());
    let threads = 32;
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs_f64(secs);
    let period = 1.0 / rate;
    let lat: Mutex<Vec<(f64, u64)>> = Mutex::new(Vec::new());
    let walsz: Mutex<Vec<(f64, u64)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            while Instant::now() < end {
                let t = start.elapsed().as_secs_f64();
                let sz = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                walsz.lock().unwrap().push((t, sz));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        for w in 0..threads {
            let (engine, clock, ds, lat) = (&engine, &clock, &ds, &lat);
            s.spawn(move || {
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
                        message: Some(chat_benches::message_text(slot)),
                        ..Default::default()
                    };
                    engine
                        .send_user_message(&Actor::User(op), op, chat, m)
                        .unwrap();
                    let t = (at - start).as_secs_f64();
                    lat.lock()
                        .unwrap()
                        .push((t, at.elapsed().as_micros() as u64));
                }
            });
        }
    });
    let lat = lat.into_inner().unwrap();
    let walsz = walsz.into_inner().unwrap();
    let windows = (secs * 10.0).ceil() as usize;
    for wdx in 0..windows {
        let (a, b) = (wdx as f64 / 10.0, (wdx + 1) as f64 / 10.0);
        let worst = lat
            .iter()
            .filter(|(t, _)| *t >= a && *t < b)
            .map(|x| x.1)
            .max()
            .unwrap_or(0);
        let wal_max = walsz
            .iter()
            .filter(|(t, _)| *t >= a && *t < b)
            .map(|x| x.1)
            .max()
            .unwrap_or(0);
        let wal_min = walsz
            .iter()
            .filter(|(t, _)| *t >= a && *t < b)
            .map(|x| x.1)
            .min()
            .unwrap_or(0);
        println!(
            "{a:5.1}s worst {:7.2} ms   WAL {:6} .. {:6} pages",
            worst as f64 / 1000.0,
            wal_min / 4120,
            wal_max / 4120
        );
    }
    let mut all: Vec<u64> = lat.iter().map(|x| x.1).collect();
    all.sort_unstable();
    println!(
        "n {} p50 {:.2} p99 {:.2} max {:.2} ms; checkpoint passes {}",
        all.len(),
        all[all.len() / 2] as f64 / 1000.0,
        all[all.len() * 99 / 100] as f64 / 1000.0,
        all[all.len() - 1] as f64 / 1000.0,
        engine.background_checkpoint_passes().unwrap_or(0)
    );
}
