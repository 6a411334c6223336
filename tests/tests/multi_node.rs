//! Two real `chat-server` processes on one PostgreSQL database act as one service: a write on
//! either reaches WebSocket subscribers on both, a token revoked on one stops working on the
//! other, and each webhook delivery is POSTed once although both servers run deliveries.
//! Needs `CHAT_TEST_POSTGRES` (a `postgres://` URL; `scripts/test.sh` starts a cluster).

mod support;

use axum::http::StatusCode;
use chat_core::store::postgres::ScratchSchema;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The schema, then the two servers on it (dropped in that order's reverse).
struct Cluster {
    a: Server,
    b: Server,
    _schema: ScratchSchema,
}

fn cluster() -> Cluster {
    let base = std::env::var("CHAT_TEST_POSTGRES").expect(
        "CHAT_TEST_POSTGRES names a PostgreSQL database (`scripts/postgres.sh start DIR` prints one)",
    );
    let schema = ScratchSchema::create(&base).expect("schema");
    let url = schema.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("chat.master-key");
    let seed_file = dir.path().join("seed.json");
    std::fs::write(&seed_file, serde_json::to_vec(&seed()).unwrap()).unwrap();
    let out = std::process::Command::new(server_bin())
        .args(["seed", "--db", &url])
        .arg(&seed_file)
        .output()
        .expect("run seed");
    assert!(
        out.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_arg = key.to_str().unwrap().to_string();
    let a = Server::start_on_database(dir, &url, "serve", &["--master-key-file", &key_arg]);
    let b = Server::start_on_database(
        tempfile::tempdir().expect("tempdir"),
        &url,
        "serve",
        &["--master-key-file", &key_arg],
    );
    Cluster {
        a,
        b,
        _schema: schema,
    }
}

async fn connect(s: &Server, token: &str) -> Ws {
    let base = s.base.replacen("http://", "ws://", 1);
    let mut req = format!("{base}/api/v5/realtime")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Token {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("connect")
        .0
}

async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) | Ok(None) => return None,
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("websocket error: {e}"),
        }
    }
}

async fn subscribe(ws: &mut Ws, channel: &str) {
    ws.send(Message::Text(
        json!({"action": "subscribe", "channel": channel, "since": null})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = next_json(ws, Duration::from_secs(10)).await.expect("ack");
    assert_eq!(ack["action"], "subscribed", "{ack}");
}

/// Waits for the event of the message `id` on the socket: how long it took from `since`.
async fn message_event(ws: &mut Ws, id: &str, since: Instant) -> Duration {
    loop {
        let v = next_json(ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no event for message {id}"));
        if v["resource_id"] == id && v["channel"].as_str().unwrap().ends_with("/messages") {
            return since.elapsed();
        }
    }
}

#[test]
fn a_write_on_either_server_reaches_subscribers_on_both() {
    let c = cluster();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let channel = format!("/api/v5/users/{ANN}/*");
        let mut on_a = connect(&c.a, ANN_T).await;
        subscribe(&mut on_a, &channel).await;
        let mut on_b = connect(&c.b, ANN_T).await;
        subscribe(&mut on_b, &channel).await;
        // Ann starts a chat on server A.
        // Blocking HTTP calls inside the runtime: on a thread that may block.
        let http = |f: &dyn Fn() -> Resp| tokio::task::block_in_place(f);
        let chat = http(&|| {
            c.a.post(&format!("/api/v5/users/{ANN}/chats"), ANN_T, json!({}))
        });
        let chat = chat.expect(201)["id"].as_str().unwrap().to_string();
        let mut slowest = Duration::ZERO;
        for (i, (writer, name)) in [(&c.a, "a"), (&c.b, "b"), (&c.b, "b"), (&c.a, "a")]
            .into_iter()
            .enumerate()
        {
            let sent = http(&|| {
                writer.post(
                    &format!("/api/v5/users/{ANN}/chats/{chat}/messages"),
                    ANN_T,
                    json!({"type": "msg", "message": format!("written on {name}, #{i}")}),
                )
            });
            let at = Instant::now();
            let id = sent.expect(200)["id"].as_str().unwrap().to_string();
            let to_a = message_event(&mut on_a, &id, at).await;
            let to_b = message_event(&mut on_b, &id, at).await;
            slowest = slowest.max(to_a).max(to_b);
        }
        // From the write's answer to the frame on the other server: a notification's delay.
        assert!(
            slowest < Duration::from_millis(100),
            "slowest event took {slowest:?}"
        );
    });
}

#[test]
fn a_token_revoked_on_one_server_stops_working_on_the_other() {
    let c = cluster();
    let made =
        c.a.post(&format!("/api/v5/users/{BOB}/api_tokens"), BOB_T, json!({}));
    let made = made.expect(201).clone();
    let token = made["token"].as_str().unwrap().to_string();
    // Remembered by b.
    c.b.get("/api/v5/users/me", &token).expect(200);
    c.b.get("/api/v5/users/me", &token).expect(200);
    c.a.delete(
        &format!(
            "/api/v5/users/{BOB}/api_tokens/{}",
            made["id"].as_str().unwrap()
        ),
        BOB_T,
    )
    .expect(204);
    wait_until(
        "b to refuse the revoked token",
        Duration::from_secs(1),
        || c.b.get("/api/v5/users/me", &token).status == 401,
    );
    c.b.get("/api/v5/users/me", &token)
        .expect_error(401, "not_authenticated");
}

/// Deliveries received, by (event number, channel): how many times each arrived.
type Received = Arc<Mutex<BTreeMap<(i64, String), usize>>>;

fn start_receiver(got: Received) -> String {
    let (tx, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |body: String| {
                    let got = got.clone();
                    async move {
                        // Slow enough that both servers poll while an attempt is in flight.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let e: Value = serde_json::from_str(&body).unwrap();
                        let key = (
                            e["seq"].as_i64().unwrap(),
                            e["channel"].as_str().unwrap().to_string(),
                        );
                        *got.lock().unwrap().entry(key).or_default() += 1;
                        StatusCode::NO_CONTENT
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}/hook", addr.recv().unwrap())
}

#[test]
fn each_webhook_delivery_is_posted_once_by_one_of_the_servers() {
    let c = cluster();
    let got: Received = Default::default();
    let url = start_receiver(got.clone());
    c.a.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": url, "channels": [format!("/api/v5/orgs/{ORG_A}/owned_chats/*/messages")], "secret": "s3cret"}),
    )
    .expect(201);
    let chat =
        c.a.post(&format!("/api/v5/users/{ANN}/chats"), ANN_T, json!({}));
    let chat = chat.expect(201)["id"].as_str().unwrap().to_string();
    const MESSAGES: usize = 20;
    for i in 0..MESSAGES {
        let writer = if i % 2 == 0 { &c.a } else { &c.b };
        writer
            .post(
                &format!("/api/v5/users/{ANN}/chats/{chat}/messages"),
                ANN_T,
                json!({"type": "msg", "message": format!("m{i}")}),
            )
            .expect(200);
    }
    // Every message of the chat (ours and what the chat's creation wrote) is one event.
    let listed = c.b.get(
        &format!("/api/v5/users/{ANN}/chats/{chat}/messages?page_size=100"),
        ANN_T,
    );
    let events = listed.expect(200)["results"].as_array().unwrap().len();
    assert!(events >= MESSAGES);
    wait_until("every delivery", Duration::from_secs(20), || {
        got.lock().unwrap().len() >= events
    });
    // Both servers keep polling for a while: nothing arrives twice.
    std::thread::sleep(Duration::from_millis(500));
    let got = got.lock().unwrap();
    assert_eq!(got.len(), events, "{got:?}");
    assert!(got.values().all(|&n| n == 1), "delivered twice: {got:?}");
}

#[test]
fn killing_one_server_under_writes_loses_no_acknowledged_write() {
    let c = cluster();
    let chat =
        c.a.post(&format!("/api/v5/users/{ANN}/chats"), ANN_T, json!({}));
    let chat = chat.expect(201)["id"].as_str().unwrap().to_string();
    let path = format!("/api/v5/users/{ANN}/chats/{chat}/messages");
    let acknowledged: Mutex<Vec<String>> = Mutex::default();
    let killed = std::sync::atomic::AtomicBool::new(false);
    let survivor = &c.b;
    std::thread::scope(|scope| {
        for (server, who) in [(&c.a, "a"), (&c.b, "b"), (&c.a, "a2"), (&c.b, "b2")] {
            let (path, acknowledged, killed) = (&path, &acknowledged, &killed);
            scope.spawn(move || {
                for i in 0..40 {
                    // After the kill, a's writers go on through b, as a client would.
                    let target = if killed.load(std::sync::atomic::Ordering::SeqCst) {
                        survivor
                    } else {
                        server
                    };
                    let body = json!({"type": "msg", "message": format!("{who} {i}")});
                    let auth = format!("Token {ANN_T}");
                    let headers = [
                        ("Authorization", auth.as_str()),
                        ("Content-Type", "application/json"),
                    ];
                    let body = serde_json::to_vec(&body).unwrap();
                    // A write cut by the kill has no answer: neither acknowledged nor an error.
                    if let Ok(r) = target.try_raw("POST", path, &headers, Some(body)) {
                        if r.status == 200 {
                            let id = r.body["id"].as_str().unwrap().to_string();
                            acknowledged.lock().unwrap().push(id);
                        } else {
                            assert!(r.status >= 500, "refused: {}", r.text);
                        }
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(150));
        c.a.send_sigkill();
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() >= 80, "{} writes", acknowledged.len());
    // Every acknowledged message is there, read through the surviving server, and the
    // chat's counter equals a recount of its messages.
    let listed: Vec<String> =
        c.b.get_all(&path, ANN_T)
            .iter()
            .filter(|m| m["type"] == "msg")
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
    for id in &acknowledged {
        assert!(listed.contains(id), "acknowledged message {id} is missing");
    }
    let chat =
        c.b.get(&format!("/api/v5/orgs/{ORG_A}/owned_chats/{chat}"), ANN_T);
    assert_eq!(
        chat.expect(200)["message_count"].as_u64().unwrap() as usize,
        listed.len()
    );
}
