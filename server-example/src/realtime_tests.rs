//! The commits' fan-out over real sockets (loopback): idle subscribers cost a commit no read.

use crate::realtime::{CommitSignals, Fanout};
use chat_core::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const ORG: &str = "a0000000-0000-4000-8000-000000000001";
const ROOM: &str = "a0000000-0000-4000-8000-0000000000f1";
const BOB: &str = "a0000000-0000-4000-8000-0000000000b1";
const BOB_T: &str = "bob-token-0123456789";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribed(addr: std::net::SocketAddr, token: &str, channel: &str) -> Ws {
    let url = format!("ws://{addr}/api/v5/realtime?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let cmd = json!({"action": "subscribe", "channel": channel, "since": null});
    ws.send(Message::Text(cmd.to_string().into()))
        .await
        .expect("subscribe");
    let ack = next_json(&mut ws, Duration::from_secs(30))
        .await
        .expect("ack");
    assert_eq!(ack["action"], "subscribed", "{ack}");
    ws
}

async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_costs_one_read_whatever_the_number_of_idle_sockets() {
    let signals = CommitSignals::new();
    let hook = signals.clone();
    let engine = Engine::builder()
        .on_commit(move |n| hook.committed(n))
        .open_in_memory()
        .expect("engine");
    let seed = json!({
        "organizations": [{"id": ORG, "name": "Acme"}],
        "users": [{"id": BOB, "organization_id": ORG, "first_name": "Bob", "last_name": "Lee",
                   "permissions": [], "is_present": true, "api_token": BOB_T}],
        "rooms": [{"id": ROOM, "organization_id": ORG, "name": "Support"}]
    });
    engine.load_seed_json(&seed.to_string()).expect("seed");
    let engine = Arc::new(engine);
    signals.advance(engine.last_event_seq());
    let calls = crate::engine_threads::Calls::start(2).expect("engine threads");
    let fanout = Fanout::new();
    tokio::spawn(
        fanout
            .clone()
            .run(engine.clone(), calls.clone(), signals.subscribe()),
    );
    let app = Arc::new(crate::http::App {
        engine,
        admin_token: None,
        public_url: None,
        openapi: crate::openapi::document(),
        fanout: fanout.clone(),
        calls,
        limits: crate::rate_limits::RateLimits::new(None, None, 0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            crate::http::router(app, std::time::Duration::from_secs(30)),
        )
        .await;
    });
    let http = reqwest::Client::new();
    let post = |path: String, token: Option<String>, body: Value| {
        let mut req = http.post(format!("http://{addr}{path}")).json(&body);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Token {t}"));
        }
        async move {
            let res = req.send().await.expect("response");
            assert!(res.status().is_success(), "{path}: {}", res.status());
            res.json::<Value>().await.expect("json")
        }
    };
    // A visitor's chat in the room.
    let auth = post(format!("/api/v5/public/orgs/{ORG}/auth"), None, json!({})).await;
    let vid = auth["visitor_id"].as_str().expect("visitor").to_string();
    let vt = auth["access_token"].as_str().expect("token").to_string();
    post(
        format!("/api/v5/public/orgs/{ORG}/rooms/{ROOM}/visitors"),
        Some(vt.clone()),
        json!({"id": vid, "presence_expires_in": 3600}),
    )
    .await;
    let chat = post(
        format!("/api/v5/public/orgs/{ORG}/rooms/{ROOM}/visitors/{vid}/chats"),
        Some(vt.clone()),
        json!({}),
    )
    .await;
    let chat = chat["id"].as_str().expect("chat").to_string();

    // 200 idle subscribers on a channel the writes never touch, and one that follows them.
    let idle_channel = format!("/api/v5/users/{BOB}/incoming_chat_invitations");
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(subscribed(addr, BOB_T, &idle_channel).await);
    }
    let messages = format!("/api/v5/public/visitors/{vid}/chats/{chat}/messages");
    let mut follower = subscribed(addr, &vt, &messages).await;

    let before = fanout.reads();
    let writes = 10;
    for i in 0..writes {
        post(
            messages.clone(),
            Some(vt.clone()),
            json!({"type": "msg", "message": format!("m{i}")}),
        )
        .await;
        let ev = next_json(&mut follower, Duration::from_secs(30))
            .await
            .expect("the follower's event");
        assert_eq!(ev["channel"], messages.as_str(), "{ev}");
        assert_eq!(ev["action"], "added", "{ev}");
    }
    let reads = fanout.reads() - before;
    // Per commit: the shared read, and the follower's own read (its drain). Were each idle
    // socket to read, it would be 200 more per commit.
    assert!(
        reads <= 2 * writes,
        "{reads} event reads for {writes} commits with 200 idle sockets"
    );
    for ws in idle.iter_mut().take(20) {
        assert!(
            next_json(ws, Duration::from_millis(20)).await.is_none(),
            "an idle socket got a frame"
        );
    }
}
