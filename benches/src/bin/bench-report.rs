//! `bench-report`: every benchmark figure and ratio as one table, also written as JSON to
//! `<target>/bench-report.json`.
//!
//! 1. Core vs raw: reads criterion's estimates (`<target>/criterion/<group>/{core,raw}/new/
//!    estimates.json`) left by `cargo bench -p chat-benches --bench core`.
//!    Then user sends through core, raw and raw + events in alternating blocks (pages written
//!    and time per send; `CHAT_INTERLEAVED_SENDS`). Then every write operation of a
//!    customer-service conversation through core and its raw + events baseline, in
//!    alternating blocks (`CHAT_INTERLEAVED_OPS` conversations; `--ops-only` runs this alone).
//! 2. HTTP load over loopback: starts `chat-server` (next to this binary) on a copy of the
//!    benchmark dataset, and this binary's own minimal axum servers (`ceiling` subcommand: one
//!    SQLite insert per POST, a fixed JSON body per GET), then drives each with a Rust load
//!    generator at concurrency 1 and 32 (bounded by request count and time), at fixed rates,
//!    and without group commit. Then the insert ceiling, `chat-server` and `chat-server`
//!    without group commit run at once (each on its own copy) and take one-second turns
//!    (`CHAT_ALTERNATE_ROUNDS`, default 4): the POST ratios least moved by the machine's drift.
//!    Last, the `idle-sockets` binary: the same load with and without 1000 idle WebSocket
//!    subscribers, as a ratio.
//!
//! Usage: `bench-report [--no-load] [--load-only] [--ops-only] [--scale-out-only]`;
//! `CHAT_LOAD_SECS` (default 3) bounds each load step, `CHAT_RATE_SECS` (default 8) each
//! fixed-rate step, `CHAT_LOAD_MAX` (default 50000) its requests, `CHAT_BENCH_SCALE` the
//! dataset. With `CHAT_BENCH_POSTGRES` (a `postgres://` URL) the HTTP load also runs on
//! PostgreSQL, one node and two, beside SQLite (`scale_out_report`).
//! `bench-report drive <url> <c> [post|get] [rate]` loads a server started by hand;
//! `bench-report dataset` prints the dataset's path (building it if missing).

use chat_benches::{dataset, operator_id, token};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const GROUPS: &[&str] = &[
    "send_user_message",
    "send_visitor_message",
    "messages_newest_50",
    "messages_second_page_50",
    "owned_chats_filtered",
    "user_pending_chats",
    "join_pending",
    "tag_add",
    "invitation_accept",
    "end_chat",
    "maintenance_open_chats",
    "authenticate_after_write",
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

// ---- criterion estimates ---------------------------------------------------------------------

fn estimate_ns(group: &str, func: &str) -> Option<f64> {
    let p = target_dir()
        .join("criterion")
        .join(group)
        .join(func)
        .join("new/estimates.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn core_report() -> Vec<Value> {
    let mut rows = Vec::new();
    println!(
        "\n{:<36} | {:>10} | {:>10} | {:>10} | {:>10} | ratio (core/raw throughput)",
        "group", "core", "raw", "core op/s", "raw op/s"
    );
    println!("{}", "-".repeat(110));
    for g in GROUPS {
        let (Some(c), Some(r)) = (estimate_ns(g, "core"), estimate_ns(g, "raw")) else {
            println!("{g:<36} | (no criterion estimates: run cargo bench first)");
            continue;
        };
        let ratio = r / c;
        println!(
            "{g:<36} | {:>10} | {:>10} | {:>10.0} | {:>10.0} | {ratio:.2}",
            fmt_ns(c),
            fmt_ns(r),
            1e9 / c,
            1e9 / r
        );
        let mut row = json!({"group": g, "core_ns": c, "raw_ns": r, "core_ops_per_s": 1e9 / c,
            "raw_ops_per_s": 1e9 / r, "ratio": ratio});
        // Second baselines: sends writing the events by hand (`raw_send_events`), the owned
        // chats listing reading what the chat resource shows (`raw_owned_resources`).
        for (func, label, key) in [
            ("raw_events", "raw + events", "raw_events"),
            ("raw_resource", "raw, resource columns", "raw_resource"),
        ] {
            if let Some(re) = estimate_ns(g, func) {
                let label = format!("{g} ({label})");
                println!(
                    "{label:<36} | {:>10} | {:>10} | {:>10.0} | {:>10.0} | {:.2}",
                    fmt_ns(c),
                    fmt_ns(re),
                    1e9 / c,
                    1e9 / re,
                    re / c
                );
                row[format!("{key}_ns")] = json!(re);
                row[format!("{key}_ops_per_s")] = json!(1e9 / re);
                row[format!("ratio_vs_{key}")] = json!(re / c);
            }
        }
        rows.push(row);
    }
    rows
}

/// User sends measured in alternating blocks of core, raw and raw + events (see
/// `raw_send::interleaved_sends`): the three see the same machine, unlike criterion's
/// one-after-the-other groups. `CHAT_INTERLEAVED_SENDS` (default 3000) per side.
fn interleaved_report() -> Value {
    let sends = env_num("CHAT_INTERLEAVED_SENDS", 3000) as usize;
    let r = chat_benches::raw_send::interleaved_sends(sends, true);
    println!(
        "\nUser sends, interleaved in blocks of 100 ({sends} each, inline WAL checkpoints as SQLite's default)"
    );
    println!(
        "{:<36} | {:>10} | {:>10} | {:>10}",
        "", "µs/send", "sends/s", "pages/send"
    );
    println!("{}", "-".repeat(76));
    let names = ["core", "raw", "raw + events"];
    for ((name, us), pages) in names.iter().zip(r.micros).zip(r.pages) {
        println!(
            "{name:<36} | {us:>10.1} | {:>10.0} | {pages:>10.2}",
            1e6 / us
        );
    }
    let vs_raw = r.micros[1] / r.micros[0];
    let vs_events = r.micros[2] / r.micros[0];
    println!("ratio core/raw {vs_raw:.2}, core/(raw + events) {vs_events:.2}");
    json!({"sends": sends, "checkpoints": "inline",
        "core_us": r.micros[0], "raw_us": r.micros[1], "raw_events_us": r.micros[2],
        "core_pages": r.pages[0], "raw_pages": r.pages[1], "raw_events_pages": r.pages[2],
        "ratio_vs_raw": vs_raw, "ratio_vs_raw_events": vs_events})
}

/// The write operations of a conversation through the engine and through their `raw + events`
/// baselines, in alternating blocks on two copies of the dataset (see
/// `chat_benches::write_ops`). `CHAT_INTERLEAVED_OPS` (default 500) conversations.
fn write_ops_report() -> Value {
    let conversations = env_num("CHAT_INTERLEAVED_OPS", 500) as usize;
    let block = 50;
    let dir = chat_benches::bench_dir();
    let ds = dataset(&dir);
    let figures = chat_benches::write_ops::interleaved_ops(&ds, &dir, conversations, block);
    println!(
        "\nWrite operations, interleaved in blocks of {block} conversations ({conversations} each; raw + events: hand-written SQL writing the same rows and events; WALs checkpointed between blocks, untimed)"
    );
    println!(
        "{:<44} | {:>10} | {:>12} | {:>5} | {:>10} | {:>12}",
        "operation", "core µs/op", "raw+ev µs/op", "ratio", "core pages", "raw+ev pages"
    );
    println!("{}", "-".repeat(110));
    let mut rows = Vec::new();
    for f in &figures {
        println!(
            "{:<44} | {:>10.1} | {:>12.1} | {:>5.2} | {:>10.2} | {:>12.2}",
            f.step.name(),
            f.core_us,
            f.raw_events_us,
            f.ratio(),
            f.core_pages,
            f.raw_events_pages
        );
        rows.push(
            json!({"operation": f.step.name(), "ops": f.ops, "core_us": f.core_us,
            "raw_events_us": f.raw_events_us, "ratio": f.ratio(),
            "core_pages": f.core_pages, "raw_events_pages": f.raw_events_pages}),
        );
    }
    let (core, raw): (f64, f64) = figures
        .iter()
        .fold((0.0, 0.0), |(c, r), f| (c + f.core_us, r + f.raw_events_us));
    println!(
        "whole conversation: core {core:.0} µs, raw + events {raw:.0} µs, ratio {:.2} (core/(raw + events) throughput)",
        raw / core
    );
    json!({"conversations": conversations, "block": block, "operations": rows,
        "conversation_core_us": core, "conversation_raw_events_us": raw, "conversation_ratio": raw / core})
}

// ---- the ceiling servers ---------------------------------------------------------------------

/// `bench-report ceiling <db>`: a minimal axum server, one SQLite insert per `POST /w`
/// (its own transaction, WAL, synchronous=NORMAL) and a fixed JSON body for `GET /r`.
fn ceiling(db: &Path) {
    use axum::routing::{get, post};
    let c = chat_benches::raw_connection(db);
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS m (chat_pk INTEGER NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (chat_pk, seq)) WITHOUT ROWID;",
    )
    .unwrap();
    let conn = Arc::new(std::sync::Mutex::new((c, 0i64)));
    let body: &'static str = Box::leak(
        json!({"id": uuid::Uuid::nil(), "message": "a fixed body of about a hundred characters, like a message, for the read ceiling", "created_at": "2026-01-01T00:00:00Z"})
            .to_string()
            .into_boxed_str(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let app = axum::Router::new()
            .route(
                "/w",
                post(move |b: String| {
                    let conn = conn.clone();
                    async move {
                        tokio::task::spawn_blocking(move || {
                            let mut g = conn.lock().unwrap();
                            g.1 += 1;
                            let seq = g.1;
                            let tx = g.0.unchecked_transaction().unwrap();
                            tx.prepare_cached("INSERT INTO m VALUES (?1, ?2, ?3, ?4, ?5)")
                                .unwrap()
                                .execute(rusqlite::params![
                                    seq % 1000,
                                    seq,
                                    uuid::Uuid::now_v7().as_bytes(),
                                    seq,
                                    b
                                ])
                                .unwrap();
                            tx.commit().unwrap();
                        })
                        .await
                        .unwrap();
                        (axum::http::StatusCode::CREATED, body)
                    }
                }),
            )
            .route("/r", get(move || async move { body }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on http://{}", l.local_addr().unwrap());
        axum::serve(l, app).await.unwrap();
    });
}

// ---- the load generator ----------------------------------------------------------------------

struct Server {
    child: Child,
    base: String,
}

impl Server {
    #[allow(clippy::zombie_processes)] // waited for in `stop`
    fn start(mut cmd: Command, marker: &str) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "server exited");
            if let Some(i) = line.find(marker) {
                let base = line[i + marker.len()..].trim().to_string();
                std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
                return Server { child, base };
            }
        }
    }
    fn rss_kb(&self) -> (u64, u64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let get = |k: &str| {
            s.lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (get("VmRSS:"), get("VmHWM:"))
    }
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request: method, URL, token, body.
type Req = (reqwest::Method, String, Option<String>, Option<String>);
/// The `i`-th request of a step.
type MakeReq = Arc<dyn Fn(usize) -> Req + Send + Sync>;

struct LoadResult {
    name: String,
    concurrency: usize,
    requests: usize,
    errors: usize,
    secs: f64,
    lat_us: Vec<u64>,
}

impl LoadResult {
    fn pct(&self, p: f64) -> f64 {
        if self.lat_us.is_empty() {
            return 0.0;
        }
        let i = ((self.lat_us.len() as f64 * p).ceil() as usize).clamp(1, self.lat_us.len()) - 1;
        self.lat_us[i] as f64 / 1000.0
    }
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
    fn print(&self) {
        println!(
            "{:<34} | {:>3} | {:>8.0} | {:>7.2} | {:>7.2} | {:>8.2} | {:>6} | {}",
            self.name,
            self.concurrency,
            self.rps(),
            self.pct(0.5),
            self.pct(0.99),
            self.pct(1.0),
            self.requests,
            self.errors
        );
    }
    /// Adds another run of the same step (latencies kept sorted).
    fn absorb(&mut self, other: LoadResult) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.secs += other.secs;
        self.lat_us.extend(other.lat_us);
        self.lat_us.sort_unstable();
    }
    fn json(&self) -> Value {
        json!({"name": self.name, "concurrency": self.concurrency, "requests": self.requests,
            "errors": self.errors, "secs": self.secs, "req_per_s": self.rps(),
            "p50_ms": self.pct(0.5), "p99_ms": self.pct(0.99), "max_ms": self.pct(1.0)})
    }
}

/// Runs `make(i)` requests from `concurrency` workers until `max` requests or `secs` seconds;
/// with `rate` (req/s over all workers), each worker sends on a fixed schedule and latency is
/// counted from the scheduled time (no coordinated omission).
fn load(
    rt: &tokio::runtime::Runtime,
    name: &str,
    concurrency: usize,
    rate: Option<f64>,
    make: MakeReq,
) -> LoadResult {
    let secs = Duration::from_secs(env_num("CHAT_LOAD_SECS", 3));
    let r = load_for(rt, name, concurrency, rate, make, secs);
    r.print();
    r
}

/// [`load`] for `secs`, without printing.
fn load_for(
    rt: &tokio::runtime::Runtime,
    name: &str,
    concurrency: usize,
    rate: Option<f64>,
    make: MakeReq,
    secs: Duration,
) -> LoadResult {
    let max = env_num("CHAT_LOAD_MAX", 50_000) as usize;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let end = start + secs;
    let (lat, errors) = rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..concurrency {
            let client = client.clone();
            let counter = counter.clone();
            let make = make.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut k = 0u64;
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    if i >= max {
                        break;
                    }
                    let t0 = match rate {
                        Some(r) => {
                            let period = concurrency as f64 / r;
                            let at = start
                                + Duration::from_secs_f64(
                                    period * k as f64 + period * w as f64 / concurrency as f64,
                                );
                            k += 1;
                            if at > now {
                                tokio::time::sleep_until(at.into()).await;
                            }
                            at
                        }
                        None => now,
                    };
                    let (m, url, tok, body) = make(i);
                    let mut rb = client.request(m, url);
                    if let Some(t) = tok {
                        rb = rb.header("Authorization", format!("Token {t}"));
                    }
                    if let Some(b) = body {
                        rb = rb.header("Content-Type", "application/json").body(b);
                    }
                    match rb.send().await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let _ = resp.bytes().await;
                            if !ok {
                                errors += 1;
                            }
                        }
                        Err(_) => errors += 1,
                    }
                    lat.push(t0.elapsed().as_micros() as u64);
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap();
            all.extend(l);
            errors += e;
        }
        (all, errors)
    });
    let secs = start.elapsed().as_secs_f64();
    let mut lat_us = lat;
    lat_us.sort_unstable();
    LoadResult {
        name: name.to_string(),
        concurrency,
        requests: lat_us.len(),
        errors,
        secs,
        lat_us,
    }
}

/// [`chat_benches::paced_user_sends`] as a load step: the engine opened as `chat-server`
/// opens it (file database, group commit, background checkpoints with the default policy),
/// which separates what the engine sustains from what the HTTP layer, on the same two cores,
/// adds.
fn engine_paced(
    engine: &chat_core::Engine,
    clock: &chat_core::TestClock,
    ds: &chat_benches::Dataset,
    threads: usize,
    rate: f64,
    secs: Duration,
) -> LoadResult {
    let (sends, secs) = chat_benches::paced_user_sends(engine, clock, ds, threads, rate, secs);
    let mut lat_us: Vec<u64> = sends.iter().map(|s| s.latency_us).collect();
    lat_us.sort_unstable();
    LoadResult {
        name: format!("engine in process: send at {rate:.0}/s"),
        concurrency: threads,
        requests: lat_us.len(),
        errors: sends.iter().filter(|s| !s.ok).count(),
        secs,
        lat_us,
    }
}

/// The in-process steps of the load report: sends at the same fixed rates as the HTTP ones, on
/// a copy of the dataset of their own.
fn engine_rate_steps(ds: &chat_benches::Dataset, dir: &Path, rates: &[f64]) -> Vec<LoadResult> {
    let path = server_copy(ds, dir, "load-engine");
    // The copy on disk before the clock starts, not written back during a step.
    let _ = Command::new("sync").status();
    let clock = chat_core::TestClock::new(ds.end_ms + 1000);
    let engine = chat_core::Engine::builder()
        .clock(clock.clone())
        .background_checkpoints(chat_core::CheckpointPolicy::default())
        .open(&path)
        .unwrap();
    let secs = rate_secs();
    // Warm-up: the page caches and statement caches, as the HTTP steps' warm-up does.
    engine_paced(&engine, &clock, ds, 32, 2000.0, Duration::from_secs(1));
    rates
        .iter()
        .map(|&rate| {
            let r = engine_paced(&engine, &clock, ds, 32, rate, secs);
            r.print();
            r
        })
        .collect()
}

/// How long a fixed-rate step lasts: longer than the others, so that at 5 000 writes/s a step
/// holds several of the WAL's inline checkpoints (one every ≈ 2.6 s there) and its tail is
/// not a matter of whether one fell inside it.
fn rate_secs() -> Duration {
    Duration::from_secs(env_num("CHAT_RATE_SECS", 8))
}

/// `chat-server serve` on `db`, on a free loopback port.
fn serve_cmd(server_bin: &Path, db: &Path, group_commit: bool) -> Command {
    let mut cmd = Command::new(server_bin);
    cmd.arg("serve")
        .arg("--db")
        .arg(db)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--group-commit")
        .arg(group_commit.to_string())
        .env("CHAT_LOG", "warn");
    cmd
}

/// A copy of the dataset for a server. The dataset's clock is in the past: the copy's chats
/// get a long idle timeout, so that the server's maintenance (real clock) does not end them.
fn server_copy(ds: &chat_benches::Dataset, dir: &Path, name: &str) -> PathBuf {
    let db = chat_benches::copy_of(ds, dir, name);
    chat_benches::raw_connection(&db)
        .execute(
            "UPDATE organizations SET chat_idle_timeout_s = 3650 * 86400",
            [],
        )
        .unwrap();
    db
}

/// A fresh (empty) database file for a ceiling server.
fn fresh_file(path: PathBuf) -> PathBuf {
    chat_benches::remove_db(&path);
    path
}

/// The body of every POST: a message of about 100 bytes.
fn load_body() -> String {
    json!({"message": "Load message: a typical customer-service sentence of about one hundred characters long."})
        .to_string()
}

/// Requests to the `i`-th target chat's messages (see [`target`]): POSTs of `body`, or GETs
/// of the newest page without one.
fn message_requests(
    base: &str,
    body: Option<&str>,
    chats: &Arc<Vec<(uuid::Uuid, uuid::Uuid, uuid::Uuid)>>,
    n_ops: usize,
) -> MakeReq {
    let (base, body, chats) = (base.to_string(), body.map(str::to_string), chats.clone());
    let method = if body.is_some() {
        reqwest::Method::POST
    } else {
        reqwest::Method::GET
    };
    Arc::new(move |i| {
        let (chat, op) = target(i, &chats, n_ops);
        (
            method.clone(),
            format!(
                "{base}/api/v5/users/{}/chats/{chat}/messages",
                operator_id(op)
            ),
            Some(token(op)),
            body.clone(),
        )
    })
}

/// POSTs of user messages to the `i`-th target chat.
fn posts(
    base: &str,
    body: &str,
    chats: &Arc<Vec<(uuid::Uuid, uuid::Uuid, uuid::Uuid)>>,
    n_ops: usize,
) -> MakeReq {
    message_requests(base, Some(body), chats, n_ops)
}

/// POSTs of `body` to the insert ceiling (`ceiling` subcommand, `POST /w`).
fn inserts(base: &str, body: &str) -> MakeReq {
    let (base, body) = (base.to_string(), body.to_string());
    Arc::new(move |_| {
        (
            reqwest::Method::POST,
            format!("{base}/w"),
            None,
            Some(body.clone()),
        )
    })
}

/// A server's first second of POSTs, not counted: its page cache and the database copy's
/// pages warm up, so that the first measured step does not pay for them (without it the
/// no-group-commit server, started second on the same copy, looks faster at c=1 for that
/// reason).
fn warm_up(rt: &tokio::runtime::Runtime, make: MakeReq) -> usize {
    let r = load_for(
        rt,
        "(warm-up, not counted)",
        8,
        None,
        make,
        Duration::from_secs(1),
    );
    r.requests - r.errors
}

/// The `i`-th request's chat and its operator: chat k is owned by operator k % n_ops (see
/// `dataset`).
fn target(
    i: usize,
    chats: &[(uuid::Uuid, uuid::Uuid, uuid::Uuid)],
    n_ops: usize,
) -> (uuid::Uuid, usize) {
    let k = (i * 7919) % chats.len();
    (chats[k].0, k % n_ops)
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn db_bytes(p: &Path) -> u64 {
    file_size(p) + file_size(&PathBuf::from(format!("{}-wal", p.display())))
}

/// Where a database's bytes are: the event log (its b-trees, kept for the retention window),
/// the rest of its pages (messages, chats, ... with their indexes), free pages, and the WAL.
#[derive(Clone, Copy, Default)]
struct Storage {
    events: u64,
    rest: u64,
    free: u64,
    wal: u64,
}

impl Storage {
    fn of(db: &Path) -> Storage {
        let c = chat_benches::raw_connection(db);
        let mut s = Storage {
            wal: file_size(&PathBuf::from(format!("{}-wal", db.display()))),
            ..Storage::default()
        };
        let mut q = c
            .prepare("SELECT name LIKE 'event%', sum(pgsize) FROM dbstat GROUP BY 1")
            .unwrap();
        for row in q
            .query_map([], |r| Ok((r.get::<_, bool>(0)?, r.get::<_, i64>(1)?)))
            .unwrap()
        {
            let (events, bytes) = row.unwrap();
            *(if events { &mut s.events } else { &mut s.rest }) += bytes as u64;
        }
        let free: i64 = c
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap();
        let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        s.free = (free * page) as u64;
        s
    }
}

/// `bench-report drive <base-url> <concurrency> [post|get] [rate]`: POSTs user messages (or
/// GETs message pages) to a `chat-server` already serving a copy of the dataset, e.g. one
/// started under `perf record`; with a rate (requests/s over all workers), on a fixed schedule
/// as the report's 5 000/s step. `CHAT_LOAD_SECS` and `CHAT_LOAD_MAX` bound it as in the report.
fn drive(args: &[String]) {
    let base = args
        .first()
        .expect("base URL")
        .trim_end_matches('/')
        .to_string();
    let c: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let post = args.get(2).map(String::as_str) != Some("get");
    let rate: Option<f64> = args.get(3).and_then(|s| s.parse().ok());
    let ds = dataset(&chat_benches::bench_dir());
    let n_ops = ds.operators.len();
    let chats = Arc::new(ds.chats.clone());
    let body = load_body();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    load(
        &rt,
        if post { "POST message" } else { "GET messages" },
        c,
        rate,
        message_requests(&base, post.then_some(body.as_str()), &chats, n_ops),
    );
}

fn load_report() -> Value {
    let dir = chat_benches::bench_dir();
    let ds = dataset(&dir);
    let n_chats = ds.chats.len();
    let n_ops = ds.operators.len();
    let messages = n_chats * 100;
    let db = server_copy(&ds, &dir, "load-core");
    let ceiling_db = fresh_file(dir.join("load-ceiling.db"));
    let exe = std::env::current_exe().unwrap();
    let server_bin = exe.parent().unwrap().join("chat-server");
    assert!(
        server_bin.exists(),
        "build chat-server first: cargo build --release -p chat-server"
    );
    let size_before = db_bytes(&db);
    let storage_before = Storage::of(&db);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "\nHTTP load over loopback (dataset {n_chats} chats, {messages} messages; {}s or {} requests per step)",
        env_num("CHAT_LOAD_SECS", 3),
        env_num("CHAT_LOAD_MAX", 50_000)
    );
    println!(
        "{:<34} | {:>3} | {:>8} | {:>7} | {:>7} | {:>8} | {:>6} | errors",
        "step", "c", "req/s", "p50 ms", "p99 ms", "max ms", "n"
    );
    println!("{}", "-".repeat(100));
    let mut results = Vec::new();
    let target_rate = env_num("CHAT_LOAD_RATE", 5000) as f64;
    let rates = [1000.0, 2000.0, target_rate];
    // First, while no server runs: the engine alone at the write rates.
    results.extend(engine_rate_steps(&ds, &dir, &rates));

    // The ceilings.
    let mut cmd = Command::new(&exe);
    cmd.arg("ceiling").arg(&ceiling_db);
    let ceil = Server::start(cmd, "listening on ");
    let base = ceil.base.clone();
    let body = load_body();
    for c in [1, 32] {
        results.push(load(
            &rt,
            "ceiling: axum + 1 SQLite insert",
            c,
            None,
            inserts(&base, &body),
        ));
    }
    for c in [1, 32] {
        let b = base.clone();
        results.push(load(
            &rt,
            "ceiling: axum fixed JSON body",
            c,
            None,
            Arc::new(move |_| (reqwest::Method::GET, format!("{b}/r"), None, None)),
        ));
    }
    ceil.stop();

    // chat-server.
    let srv = Server::start(
        serve_cmd(&server_bin, &db, true),
        "chat-server listening on ",
    );
    let (rss0, _) = srv.rss_kb();
    let chats = Arc::new(ds.chats.clone());
    let mut posted = warm_up(&rt, posts(&srv.base, &body, &chats, n_ops));
    for c in [1, 32] {
        let r = load(
            &rt,
            "chat-server: POST message",
            c,
            None,
            posts(&srv.base, &body, &chats, n_ops),
        );
        posted += r.requests - r.errors;
        results.push(r);
    }
    for c in [1, 32] {
        results.push(load(
            &rt,
            "chat-server: GET messages",
            c,
            None,
            message_requests(&srv.base, None, &chats, n_ops),
        ));
    }
    for c in [1, 32] {
        let b = srv.base.clone();
        results.push(load(
            &rt,
            "chat-server: GET pending chats",
            c,
            None,
            Arc::new(move |i| {
                let op = i % n_ops;
                (
                    reqwest::Method::GET,
                    format!("{b}/api/v5/users/{}/pending_chats", operator_id(op)),
                    Some(token(op)),
                    None,
                )
            }),
        ));
    }
    // Sustained writes at fixed rates (the target's, and two below it, to show where the tail
    // holds): latency from the scheduled send time.
    for rate in rates {
        let r = load_for(
            &rt,
            &format!("chat-server: POST at {rate:.0}/s"),
            32,
            Some(rate),
            posts(&srv.base, &body, &chats, n_ops),
            rate_secs(),
        );
        r.print();
        posted += r.requests - r.errors;
        results.push(r);
    }
    let (rss, hwm) = srv.rss_kb();
    srv.stop();
    // The same POSTs without group commit (one transaction per request), on the same database.
    let srv = Server::start(
        serve_cmd(&server_bin, &db, false),
        "chat-server listening on ",
    );
    posted += warm_up(&rt, posts(&srv.base, &body, &chats, n_ops));
    for c in [1, 32] {
        let r = load(
            &rt,
            "chat-server: POST, no group commit",
            c,
            None,
            posts(&srv.base, &body, &chats, n_ops),
        );
        posted += r.requests - r.errors;
        results.push(r);
    }
    srv.stop();
    let size_after = db_bytes(&db);
    let storage_after = Storage::of(&db);
    let ds_bytes = db_bytes(&ds.path);
    let per_msg_dataset = ds_bytes as f64 / messages as f64;
    let per_msg_added = (size_after.saturating_sub(size_before)) as f64 / posted.max(1) as f64;
    let per_msg = |after: u64, before: u64| (after as f64 - before as f64) / posted.max(1) as f64;
    let added_split = json!({
        "messages_and_rest": per_msg(storage_after.rest, storage_before.rest),
        "event_log": per_msg(storage_after.events, storage_before.events),
        "free_pages": per_msg(storage_after.free, storage_before.free),
        "wal": per_msg(storage_after.wal, storage_before.wal),
    });

    // Alternating turns: the insert ceiling, chat-server and chat-server without group commit
    // run at once, each on its own database, and take one-second turns, so that the machine's
    // drift reaches the three alike (single steps a minute apart moved these ratios by ±40 %).
    let rounds = env_num("CHAT_ALTERNATE_ROUNDS", 4) as usize;
    println!(
        "\nAlternating one-second turns ({rounds} rounds; the three servers up at once, each on its own database)"
    );
    let ceiling_b = fresh_file(dir.join("load-ceiling-b.db"));
    let mut cmd = Command::new(&exe);
    cmd.arg("ceiling").arg(&ceiling_b);
    let ceil = Server::start(cmd, "listening on ");
    let with = Server::start(
        serve_cmd(&server_bin, &db, true),
        "chat-server listening on ",
    );
    let db_b = server_copy(&ds, &dir, "load-core-b");
    let without = Server::start(
        serve_cmd(&server_bin, &db_b, false),
        "chat-server listening on ",
    );
    warm_up(&rt, posts(&with.base, &body, &chats, n_ops));
    warm_up(&rt, posts(&without.base, &body, &chats, n_ops));
    let turns: [(&str, MakeReq); 3] = [
        ("alternating: insert ceiling", inserts(&ceil.base, &body)),
        (
            "alternating: POST message",
            posts(&with.base, &body, &chats, n_ops),
        ),
        (
            "alternating: POST, no group commit",
            posts(&without.base, &body, &chats, n_ops),
        ),
    ];
    let mut alternating = Vec::new();
    for c in [1, 32] {
        let mut merged: Vec<Option<LoadResult>> = vec![None, None, None];
        for _ in 0..rounds {
            for (k, (name, make)) in turns.iter().enumerate() {
                let r = load_for(&rt, name, c, None, make.clone(), Duration::from_secs(1));
                match &mut merged[k] {
                    Some(m) => m.absorb(r),
                    None => merged[k] = Some(r),
                }
            }
        }
        for r in merged.into_iter().flatten() {
            r.print();
            alternating.push(r);
        }
    }
    ceil.stop();
    with.stop();
    without.stop();
    let _ = std::fs::remove_file(&db_b);

    let find_in = |results: &[LoadResult], name: &str, c: usize| {
        results
            .iter()
            .find(|r| r.name.starts_with(name) && r.concurrency == c)
            .map(|r| r.rps())
            .unwrap_or(0.0)
    };
    let find = |name: &str, c: usize| find_in(&results, name, c);
    println!();
    let mut ratios = Vec::new();
    for c in [1, 32] {
        let post = find_in(&alternating, "alternating: POST message", c);
        let ratio = post / find_in(&alternating, "alternating: insert ceiling", c);
        println!("alternating: POST message / insert ceiling at c={c}: {ratio:.2}");
        ratios.push(json!({"name": "alternating_post_message_vs_insert_ceiling", "concurrency": c, "ratio": ratio}));
        let ratio = post / find_in(&alternating, "alternating: POST, no group", c);
        println!("alternating: POST message with / without group commit at c={c}: {ratio:.2}");
        ratios.push(json!({"name": "alternating_post_message_group_commit_vs_none", "concurrency": c, "ratio": ratio}));
    }
    for c in [1, 32] {
        let ratio = find("chat-server: POST message", c) / find("ceiling: axum + 1 SQLite", c);
        println!("POST message / insert ceiling at c={c}: {ratio:.2}");
        ratios.push(
            json!({"name": "post_message_vs_insert_ceiling", "concurrency": c, "ratio": ratio}),
        );
        let ratio = find("chat-server: POST message", c) / find("chat-server: POST, no group", c);
        println!("POST message with / without group commit at c={c}: {ratio:.2}");
        ratios.push(
            json!({"name": "post_message_group_commit_vs_none", "concurrency": c, "ratio": ratio}),
        );
        let ratio = find("chat-server: GET messages", c) / find("ceiling: axum fixed JSON", c);
        println!("GET messages / fixed-JSON ceiling at c={c}: {ratio:.2}");
        ratios.push(
            json!({"name": "get_messages_vs_json_ceiling", "concurrency": c, "ratio": ratio}),
        );
    }
    println!(
        "bytes on disk per message: {per_msg_dataset:.0} (whole dataset file / {messages} messages of 100 bytes); {per_msg_added:.0} (growth per message posted in this run: messages and the rest {:.0}, event log kept for the retention window {:.0}, free pages {:.0}, WAL {:.0})",
        added_split["messages_and_rest"].as_f64().unwrap_or(0.0),
        added_split["event_log"].as_f64().unwrap_or(0.0),
        added_split["free_pages"].as_f64().unwrap_or(0.0),
        added_split["wal"].as_f64().unwrap_or(0.0),
    );
    println!(
        "chat-server RSS: {:.1} MB at start, {:.1} MB after the load (peak {:.1} MB)",
        rss0 as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    if let Some(ratio) = idle_sockets_ratio(&exe) {
        println!("requests/s with / without 1000 idle WebSocket subscribers at c=8: {ratio:.3}");
        ratios.push(json!({"name": "idle_sockets_1000_vs_none", "concurrency": 8, "ratio": ratio}));
    }
    json!({
        "dataset": {"chats": n_chats, "messages": messages, "bytes": ds_bytes},
        "steps": results.iter().map(LoadResult::json).collect::<Vec<_>>(),
        "alternating": alternating.iter().map(LoadResult::json).collect::<Vec<_>>(),
        "ratios": ratios,
        "bytes_per_message_dataset": per_msg_dataset,
        "bytes_per_message_added": per_msg_added,
        "bytes_per_message_added_split": added_split,
        "server_rss_kb": {"start": rss0, "end": rss, "peak": hwm},
    })
}

/// CPU time (clock ticks) spent so far by the processes that share the machine during a
/// scale-out step: the load generator (this process), each server, and PostgreSQL (every
/// process named `postgres`: its backends, one per connection, and its background workers).
fn cpu_ticks(servers: &[&Server]) -> Vec<u64> {
    fn of_stat(stat: &str) -> Option<(String, u64)> {
        // `pid (comm) state ...`: utime and stime are fields 14 and 15.
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_string();
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some((
            comm,
            f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
        ))
    }
    let read = |pid: String| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| of_stat(&s))
    };
    let mut ticks = vec![read("self".into()).map_or(0, |t| t.1)];
    for s in servers {
        ticks.push(read(s.child.id().to_string()).map_or(0, |t| t.1));
    }
    let mut pg = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.bytes().all(|b| b.is_ascii_digit())
            && let Some((comm, t)) = read(name)
            && comm == "postgres"
        {
            pg += t;
        }
    }
    ticks.push(pg);
    ticks
}

/// `CHAT_BENCH_POSTGRES` (a `postgres://` URL of a database whose user may create schemas and
/// turn off foreign-key triggers): the same HTTP load against `chat-server` on SQLite, one
/// node on PostgreSQL, and two nodes on the same PostgreSQL (requests alternating between
/// them), all up at once on the same data (`chat_benches::pg_dataset`) and taking one-second
/// turns, POST and GET at c=1 and c=32; with the CPU each process used during each target's
/// turns, which says what limits the two nodes.
fn scale_out_report() -> Option<Value> {
    let url = std::env::var("CHAT_BENCH_POSTGRES").ok()?;
    let dir = chat_benches::bench_dir();
    let ds = dataset(&dir);
    let n_ops = ds.operators.len();
    let exe = std::env::current_exe().unwrap();
    let server_bin = exe.parent().unwrap().join("chat-server");
    let sqlite_db = server_copy(&ds, &dir, "load-scale-out");
    let copied = Instant::now();
    let schema = chat_benches::pg_dataset::copy_to_postgres(&ds, &url);
    let copy_secs = copied.elapsed().as_secs_f64();
    // A long idle timeout, as `server_copy` gives the SQLite copy.
    postgres::Client::connect(&schema.url(), postgres::NoTls)
        .and_then(|mut c| {
            c.batch_execute("UPDATE organizations SET chat_idle_timeout_s = 3650 * 86400")
        })
        .unwrap();
    let key_file = dir.join("scale-out.master-key");
    let node = || {
        let mut cmd = serve_cmd(&server_bin, Path::new(&schema.url()), true);
        cmd.arg("--master-key-file").arg(&key_file);
        Server::start(cmd, "chat-server listening on ")
    };
    let sqlite = Server::start(
        serve_cmd(&server_bin, &sqlite_db, true),
        "chat-server listening on ",
    );
    let (a, b) = (node(), node());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let chats = Arc::new(ds.chats.clone());
    let body = load_body();
    // Requests of one kind spread over `bases`, the i-th to base i mod n.
    let spread = |bases: &[&str], body: Option<&str>| -> MakeReq {
        let makers: Vec<MakeReq> = bases
            .iter()
            .map(|b| message_requests(b, body, &chats, n_ops))
            .collect();
        Arc::new(move |i| makers[i % makers.len()](i))
    };
    for base in [&sqlite.base, &a.base, &b.base] {
        warm_up(&rt, spread(&[base], Some(&body)));
    }
    let targets: [(&str, Vec<&str>); 3] = [
        ("SQLite, 1 node", vec![&sqlite.base]),
        ("PostgreSQL, 1 node", vec![&a.base]),
        ("PostgreSQL, 2 nodes", vec![&a.base, &b.base]),
    ];
    let rounds = env_num("CHAT_ALTERNATE_ROUNDS", 4) as usize;
    let tick_hz: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    println!(
        "\nScale-out: alternating one-second turns ({rounds} rounds; SQLite, one node and two nodes on one PostgreSQL, all up at once; {} cores; dataset copied to PostgreSQL in {copy_secs:.0} s)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<34} | {:>3} | {:>8} | {:>7} | {:>7} | {:>8} | {:>6} | errors",
        "step", "c", "req/s", "p50 ms", "p99 ms", "max ms", "n"
    );
    println!("{}", "-".repeat(100));
    let mut steps = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu = Vec::new();
    for (method, post) in [("POST", true), ("GET", false)] {
        for c in [1, 32] {
            let mut merged: Vec<Option<LoadResult>> = vec![None, None, None];
            // CPU ticks of [load generator, SQLite node, node A, node B, PostgreSQL] per target.
            let mut used = vec![vec![0u64; 5]; 3];
            for _ in 0..rounds {
                for (k, (name, bases)) in targets.iter().enumerate() {
                    let make = spread(bases, post.then_some(body.as_str()));
                    let before = cpu_ticks(&[&sqlite, &a, &b]);
                    let name = format!("{name}: {method}");
                    let r = load_for(&rt, &name, c, None, make, Duration::from_secs(1));
                    let after = cpu_ticks(&[&sqlite, &a, &b]);
                    for (u, (x, y)) in used[k].iter_mut().zip(after.iter().zip(&before)) {
                        *u += x.saturating_sub(*y);
                    }
                    match &mut merged[k] {
                        Some(m) => m.absorb(r),
                        None => merged[k] = Some(r),
                    }
                }
            }
            let merged: Vec<LoadResult> = merged.into_iter().flatten().collect();
            for (r, u) in merged.iter().zip(&used) {
                r.print();
                let cores = |t: u64| t as f64 / tick_hz / r.secs;
                cpu.push(json!({"name": r.name, "concurrency": c,
                    "cores": {"load_generator": cores(u[0]), "sqlite_node": cores(u[1]),
                        "node_a": cores(u[2]), "node_b": cores(u[3]), "postgresql": cores(u[4])}}));
            }
            let (sqlite_r, one, two) = (&merged[0], &merged[1], &merged[2]);
            for (name, ratio) in [
                ("two_nodes_vs_one", two.rps() / one.rps()),
                ("postgres_one_node_vs_sqlite", one.rps() / sqlite_r.rps()),
            ] {
                ratios.push(json!({"name": format!("{name}_{}", method.to_lowercase()), "concurrency": c, "ratio": ratio}));
            }
            steps.extend(merged.iter().map(LoadResult::json));
        }
    }
    sqlite.stop();
    a.stop();
    b.stop();
    chat_benches::remove_db(&sqlite_db);
    let _ = std::fs::remove_file(&key_file);
    drop(schema);
    println!();
    for r in &ratios {
        println!(
            "{} at c={}: {:.2}",
            r["name"].as_str().unwrap_or_default(),
            r["concurrency"],
            r["ratio"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "CPU cores used during the turns (load generator, SQLite node, node A, node B, PostgreSQL):"
    );
    for u in &cpu {
        let k = &u["cores"];
        let f = |n: &str| k[n].as_f64().unwrap_or(0.0);
        println!(
            "  {:<34} c={:<2} {:.2} {:.2} {:.2} {:.2} {:.2} (sum {:.2})",
            u["name"].as_str().unwrap_or_default(),
            u["concurrency"],
            f("load_generator"),
            f("sqlite_node"),
            f("node_a"),
            f("node_b"),
            f("postgresql"),
            [
                "load_generator",
                "sqlite_node",
                "node_a",
                "node_b",
                "postgresql"
            ]
            .iter()
            .map(|n| f(n))
            .sum::<f64>()
        );
    }
    Some(json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "copy_secs": copy_secs,
        "steps": steps,
        "ratios": ratios,
        "cpu_cores_used": cpu,
    }))
}

/// Runs the `idle-sockets` binary built beside this one (c=8, 1000 sockets, `CHAT_LOAD_SECS`
/// per phase, 4 rounds) and returns its ratio over all rounds: a 50 % write load's requests/s
/// with 1000 idle subscribers on unrelated channels over the same load without them.
fn idle_sockets_ratio(exe: &Path) -> Option<f64> {
    let bin = exe.parent()?.join("idle-sockets");
    let secs = env_num("CHAT_LOAD_SECS", 3).to_string();
    let out = Command::new(&bin)
        .args(["8", "1000", &secs, "4"])
        .output()
        .map_err(|e| eprintln!("idle-sockets not run ({}): {e}", bin.display()))
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    // "with 1000 idle sockets / without: 0.917 over all rounds, median of rounds 0.933"
    let line = text
        .lines()
        .find(|l| l.contains("idle sockets / without:"))?;
    line.split("without:")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("ceiling") {
        ceiling(Path::new(&args[2]));
        return;
    }
    if args.get(1).map(String::as_str) == Some("drive") {
        drive(&args[2..]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("dataset") {
        // The path of the dataset at `CHAT_BENCH_SCALE` (built first if missing), for scripts.
        println!("{}", dataset(&chat_benches::bench_dir()).path.display());
        return;
    }
    let no_load = args.iter().any(|a| a == "--no-load");
    let load_only = args.iter().any(|a| a == "--load-only");
    let ops_only = args.iter().any(|a| a == "--ops-only");
    let scale_out_only = args.iter().any(|a| a == "--scale-out-only");
    let out = target_dir().join("bench-report.json");
    // A partial run (--no-load, --load-only) keeps the other part of the previous report.
    let mut report: Value = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    report["scale"] = json!(chat_benches::scale());
    if scale_out_only {
        match scale_out_report() {
            Some(r) => report["scale_out"] = r,
            None => eprintln!("--scale-out-only needs CHAT_BENCH_POSTGRES (a postgres:// URL)"),
        }
    }
    if ops_only {
        report["write_ops_interleaved"] = write_ops_report();
    }
    if !load_only && !ops_only && !scale_out_only {
        report["core_vs_raw"] = Value::Array(core_report());
        report["send_interleaved"] = interleaved_report();
        report["write_ops_interleaved"] = write_ops_report();
    }
    if !no_load && !ops_only && !scale_out_only {
        report["http"] = load_report();
        if let Some(r) = scale_out_report() {
            report["scale_out"] = r;
        }
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("\nwritten {}", out.display());
}
