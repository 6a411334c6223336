//! `idle-sockets [c] [sockets] [secs] [rounds]`: what idle WebSocket subscribers cost the
//! writes.
//!
//! Starts the `chat-server` built next to this binary (`cargo build --release -p chat-server
//! -p chat-benches`; `CHAT_SERVER_BIN` names another) on a small seeded database, then alternates, in one run, load phases
//! without sockets and with `sockets` (default 1000) idle subscribers on a channel no write
//! touches. The load is `c` (default 8) workers, each on a visitor chat of its own, half
//! POSTs of a message, half GETs of the chat's messages. Prints each phase's requests/s and
//! the ratio with to without sockets (compare ratios, not absolute rates: the machine is
//! shared).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const ORG: &str = "a0000000-0000-4000-8000-000000000001";
const ROOM: &str = "a0000000-0000-4000-8000-0000000000f1";
const OPERATOR: &str = "a0000000-0000-4000-8000-0000000000b1";
const OPERATOR_T: &str = "operator-token-0123456789";

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let c = arg(1, 8) as usize;
    let sockets = arg(2, 1000) as usize;
    let secs = arg(3, 3);
    let rounds = arg(4, 4) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("idle.db");
    let seed = dir.path().join("seed.json");
    let seed_json = json!({
        "organizations": [{"id": ORG, "name": "Acme"}],
        "users": [{"id": OPERATOR, "organization_id": ORG, "first_name": "Olga",
                   "last_name": "Lee", "permissions": [], "is_present": true,
                   "api_token": OPERATOR_T}],
        "rooms": [{"id": ROOM, "organization_id": ORG, "name": "Support"}]
    });
    std::fs::write(&seed, seed_json.to_string()).expect("seed file");
    let exe = std::env::current_exe().expect("exe");
    let server_bin = match std::env::var_os("CHAT_SERVER_BIN") {
        Some(path) => std::path::PathBuf::from(path),
        None => exe.parent().expect("bin dir").join("chat-server"),
    };
    assert!(
        server_bin.exists(),
        "build chat-server first: cargo build --release -p chat-server"
    );
    let out = Command::new(&server_bin)
        .args(["seed", "--db"])
        .arg(&db)
        .arg(&seed)
        .output()
        .expect("seed");
    assert!(out.status.success(), "{out:?}");
    let mut child = Command::new(&server_bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        // What is measured is the fan-out, not the limits: the load comes from one address,
        // the sockets share one token, and each socket holds a connection slot.
        .args(["--public-rate-limit", "0", "--max-sockets-per-token", "0"])
        .args(["--max-connections", &(sockets + 2 * c + 64).to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(
            lines.read_line(&mut line).expect("read") > 0,
            "server exited"
        );
        if let Some(i) = line.find("listening on ") {
            break line[i + "listening on ".len()..].trim().to_string();
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(&base, c, sockets, Duration::from_secs(secs), rounds));
    let _ = child.kill();
    let _ = child.wait();
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = http
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    let res = req.send().await.expect("response");
    assert!(res.status().is_success(), "{}", res.status());
    serde_json::from_slice(&res.bytes().await.expect("body")).expect("json")
}

/// A visitor's chat: (messages URL, visitor token).
async fn visitor_chat(http: &reqwest::Client, base: &str) -> (String, String) {
    let auth = post(
        http,
        format!("{base}/api/v5/public/orgs/{ORG}/auth"),
        None,
        json!({}),
    )
    .await;
    let vid = auth["visitor_id"].as_str().expect("visitor").to_string();
    let vt = auth["access_token"].as_str().expect("token").to_string();
    post(
        http,
        format!("{base}/api/v5/public/orgs/{ORG}/rooms/{ROOM}/visitors"),
        Some(&vt),
        json!({"id": vid, "presence_expires_in": 3600}),
    )
    .await;
    let chat = post(
        http,
        format!("{base}/api/v5/public/orgs/{ORG}/rooms/{ROOM}/visitors/{vid}/chats"),
        Some(&vt),
        json!({}),
    )
    .await;
    let chat = chat["id"].as_str().expect("chat");
    (
        format!("{base}/api/v5/public/visitors/{vid}/chats/{chat}/messages"),
        vt,
    )
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn idle_socket(base: &str) -> Ws {
    let url = format!(
        "{}/api/v5/realtime?token={OPERATOR_T}",
        base.replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let channel = format!("/api/v5/users/{OPERATOR}/incoming_chat_invitations");
    let cmd = json!({"action": "subscribe", "channel": channel, "since": null});
    ws.send(Message::Text(cmd.to_string().into()))
        .await
        .expect("subscribe");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                assert_eq!(v["action"], "subscribed", "{v}");
                return ws;
            }
            Some(Ok(_)) => continue,
            other => panic!("no acknowledgement: {other:?}"),
        }
    }
}

/// Requests completed per second by `c` workers over `len`.
async fn phase(http: &reqwest::Client, chats: &[(String, String)], len: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (i, (url, token)) in chats.iter().cloned().enumerate() {
        let (http, done, stop) = (http.clone(), done.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                let req = if n.is_multiple_of(2) {
                    http.post(&url)
                        .header("Content-Type", "application/json")
                        .body(json!({"type": "msg", "message": format!("m{n}")}).to_string())
                } else {
                    http.get(&url)
                };
                let res = req
                    .header("Authorization", format!("Token {token}"))
                    .send()
                    .await
                    .expect("response");
                assert!(res.status().is_success(), "{}", res.status());
                let _ = res.bytes().await;
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(len).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    n as f64 / elapsed
}

async fn run(base: &str, c: usize, sockets: usize, len: Duration, rounds: usize) {
    let http = reqwest::Client::new();
    let mut chats = Vec::new();
    for _ in 0..c {
        chats.push(visitor_chat(&http, base).await);
    }
    println!("c={c}, 50 % POST message / 50 % GET messages, {len:?} per phase");
    // Warm-up.
    phase(&http, &chats, Duration::from_secs(1)).await;
    let (mut without, mut with) = (0.0, 0.0);
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let rate = phase(&http, &chats, len).await;
        println!("round {round}: no sockets        {rate:>8.0} req/s");
        without += rate;
        let alone = rate;
        let mut open = Vec::with_capacity(sockets);
        for _ in 0..sockets {
            open.push(idle_socket(base).await);
        }
        let rate = phase(&http, &chats, len).await;
        println!("round {round}: {sockets} idle sockets {rate:>8.0} req/s");
        with += rate;
        ratios.push(rate / alone);
        for mut ws in open {
            let _ = ws.close(None).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "with {sockets} idle sockets / without: {:.3} over all rounds, median of rounds {:.3}",
        with / without,
        ratios[ratios.len() / 2]
    );
}
