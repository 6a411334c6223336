//! Diagnostic (not a benchmark): user sends at a fixed rate in process on a copy of the dataset,
//! with the WAL file's size sampled every 5 ms, printing each 100 ms window's worst latency
//! beside the WAL size, to see what the slow sends coincide with.
//! `cargo run --release -p chat-benches --example paced_probe -- [rate] [secs] [inline_above_pages] [every_ms]`
use chat_core::{CheckpointPolicy, Engine, TestClock};
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
            ..CheckpointPolicy::default()
        })
        .open(&path)
        .unwrap();
    let wal = format!("{}-wal", path.display());
    // The sends' schedule starts 20 ms after the call (`paced_user_sends`); the WAL's samples
    // are timed on the same origin.
    let origin = Instant::now() + Duration::from_millis(20);
    let walsz: Mutex<Vec<(f64, u64)>> = Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let sends = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now()
                    .saturating_duration_since(origin)
                    .as_secs_f64();
                let sz = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                walsz.lock().unwrap().push((t, sz));
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let (sends, _) = chat_benches::paced_user_sends(
            &engine,
            &clock,
            &ds,
            32,
            rate,
            Duration::from_secs_f64(secs),
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sends
    });
    let lat: Vec<(f64, u64)> = sends
        .iter()
        .map(|s| (s.scheduled_s, s.latency_us))
        .collect();
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
        let sizes: Vec<u64> = walsz
            .iter()
            .filter(|(t, _)| *t >= a && *t < b)
            .map(|x| x.1)
            .collect();
        let wal_min = sizes.iter().copied().min().unwrap_or(0);
        let wal_max = sizes.iter().copied().max().unwrap_or(0);
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
