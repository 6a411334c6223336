//! Abuse limits against a real `chat-server` (docs/OPERATING.md): the public visitor API is
//! limited per client address by default, tokens can be limited per second, and WebSocket
//! sessions are capped per token; each refusal is 429 with `Retry-After` and the error body.

mod support;

use futures_util::SinkExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One request with its `Retry-After` header, which [`Resp`] does not keep.
fn request(s: &Server, method: &str, path: &str, token: Option<&str>) -> (u16, Option<u64>, Value) {
    let client = reqwest::blocking::Client::new();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(m, s.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    if method == "POST" {
        req = req
            .header("Content-Type", "application/json")
            .body(json!({}).to_string());
    }
    let res = req.send().expect("request");
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().expect("whole seconds"));
    let text = res.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, retry, body)
}

#[track_caller]
fn assert_refusal(status: u16, retry: Option<u64>, body: &Value, code: &str) {
    assert_eq!(status, 429, "{body}");
    assert_error_body(body);
    assert_eq!(body["code"], code, "{body}");
    let retry = retry.expect("Retry-After on a 429");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
}

#[test]
fn the_public_api_is_limited_per_address_by_default() {
    let s = std::sync::Arc::new(Server::with_seed(&seed()));
    let auth = format!("/api/v5/public/orgs/{ORG_A}/auth");
    // Eight clients from one address create visitors as fast as they can.
    let start = Instant::now();
    let results: Vec<(u16, Option<u64>, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                let auth = auth.clone();
                scope.spawn(move || {
                    (0..80)
                        .map(|_| request(&s, "POST", &auth, None))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let created = results.iter().filter(|r| r.0 == 200).count();
    let refused: Vec<_> = results.iter().filter(|r| r.0 != 200).collect();
    // The default: bursts of 200, then 20 per second.
    assert!(created >= 200, "{created} created");
    assert!(
        (created as f64) <= 200.0 + 20.0 * secs + 1.0,
        "{created} created in {secs:.1} s"
    );
    assert!(!refused.is_empty());
    for (status, retry, body) in &refused {
        assert_refusal(*status, *retry, body, "rate_limited");
    }
    // The operators' API from the same address is not limited by default.
    for _ in 0..50 {
        s.get("/api/v5/users/me", ANN_T).expect(200);
    }
    // After the wait the client is told, the public API answers it again.
    let wait = refused[0].1.unwrap();
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(request(&s, "POST", &auth, None).0, 200);
}

#[test]
fn a_token_over_its_rate_is_refused_and_other_tokens_are_not() {
    let s = Server::with_seed_and(
        &seed(),
        &["--token-rate-limit", "1", "--token-rate-burst", "3"],
    );
    let mut served = 0;
    let refusal = loop {
        let r = request(&s, "GET", "/api/v5/users/me", Some(ANN_T));
        if r.0 != 200 {
            break r;
        }
        served += 1;
        assert!(served < 20, "never limited");
    };
    assert!(served >= 3, "the burst is 3, served {served}");
    assert_refusal(refusal.0, refusal.1, &refusal.2, "rate_limited");
    assert_eq!(request(&s, "GET", "/api/v5/users/me", Some(BOB_T)).0, 200);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(s: &Server, token: &str) -> Result<Ws, u16> {
    let url = format!("{}/api/v5/realtime", s.base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Token {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            let body: Value = serde_json::from_slice(res.body().as_deref().unwrap_or(b"null"))
                .unwrap_or(Value::Null);
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse().unwrap());
            assert_refusal(res.status().as_u16(), retry, &body, "too_many_sockets");
            Err(res.status().as_u16())
        }
        Err(e) => panic!("connect: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_sessions_are_capped_per_token() {
    let s = tokio::task::spawn_blocking(|| {
        Server::with_seed_and(&seed(), &["--max-sockets-per-token", "2"])
    })
    .await
    .unwrap();
    let mut first = open(&s, ANN_T).await.expect("a first socket");
    let _second = open(&s, ANN_T).await.expect("a second socket");
    assert_eq!(open(&s, ANN_T).await.err(), Some(429));
    // Another token has sessions of its own.
    let _bobs = open(&s, BOB_T).await.expect("another token");
    // Closing a session gives its place back.
    first.send(Message::Close(None)).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open(&s, ANN_T).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(status) => panic!("the closed session's place was not given back ({status})"),
        }
    }
}
