//! Webhooks against a real `chat-server` and a receiver on loopback: signatures verify,
//! failed deliveries are retried, every event arrives once and in order, and a server
//! restarted between retries still delivers.

mod support;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::world::join_body;
use support::*;

const SECRET: &str = "webhook-secret-for-tests";

/// How many webhooks Acme has, as its settings user lists them.
fn webhook_count(s: &Server) -> usize {
    s.get(&format!("/api/v5/orgs/{ORG_A}/webhooks"), ANN_T)
        .expect(200)["results"]
        .as_array()
        .unwrap()
        .len()
}

#[derive(Default)]
struct Receiver {
    /// Acknowledged event bodies, in arrival order.
    got: Mutex<Vec<Value>>,
    /// Requests answered 500 so far.
    failed: AtomicUsize,
    /// Answer 500 to this many requests first.
    fail_first: AtomicUsize,
    /// While set, every request fails.
    down: AtomicBool,
    bad_signatures: AtomicUsize,
}

fn verify(headers: &axum::http::HeaderMap, body: &str) -> bool {
    let ts = headers
        .get("x-chat-timestamp")
        .and_then(|v| v.to_str().ok());
    let sig = headers
        .get("x-chat-signature")
        .and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sig)) = (ts, sig) else {
        return false;
    };
    let Ok(ts_n) = ts.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts_n).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = hex::decode(hex_sig) else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

/// Starts the receiver on its own runtime; returns its URL.
fn start_receiver(rx: Arc<Receiver>) -> String {
    let (tx, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                    let rx = rx.clone();
                    async move {
                        if !verify(&headers, &body) {
                            rx.bad_signatures.fetch_add(1, Ordering::SeqCst);
                            return axum::http::StatusCode::UNAUTHORIZED;
                        }
                        if rx.down.load(Ordering::SeqCst)
                            || rx.failed.load(Ordering::SeqCst)
                                < rx.fail_first.load(Ordering::SeqCst)
                        {
                            rx.failed.fetch_add(1, Ordering::SeqCst);
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        rx.got
                            .lock()
                            .unwrap()
                            .push(serde_json::from_str(&body).unwrap());
                        axum::http::StatusCode::NO_CONTENT
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = addr.recv().unwrap();
    format!("http://{addr}/hook")
}

/// The webhook's deliveries as the server records them.
fn deliveries(s: &Server, hook: &str) -> Vec<Value> {
    s.get(
        &format!("/api/v5/orgs/{ORG_A}/webhooks/{hook}/deliveries"),
        ANN_T,
    )
    .expect(200)["results"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the server has recorded at least `n` deliveries of `hook`, every one of them
/// delivered: nothing is left to send, so the receiver has everything it will ever get (it
/// records a body before answering, the server records the answer after).
fn wait_until_all_delivered(s: &Server, hook: &str, n: usize) {
    wait_until(
        &format!("{n} deliveries recorded as delivered"),
        Duration::from_secs(60),
        || {
            let d = deliveries(s, hook);
            d.len() >= n && d.iter().all(|d| d["is_delivered"] == true)
        },
    );
}

fn create_hook(s: &Server, url: &str) -> String {
    let h = s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": url, "channels": ["/api/v5/users/*/pending_chats"], "actions": ["added", "removed"], "secret": SECRET}),
    );
    let b = h.expect(201);
    assert!(b.get("secret").is_none(), "the secret is not shown back");
    b["id"].as_str().unwrap().to_string()
}

#[test]
fn deliveries_are_signed_retried_and_arrive_once_in_order() {
    let rx = Arc::new(Receiver::default());
    rx.fail_first.store(2, Ordering::SeqCst);
    let url = start_receiver(rx.clone());
    let s = Server::with_seed(&seed());
    // Settings permission is needed; bad input is a 400 with field errors.
    s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        BOB_T,
        json!({"url": url, "channels": ["/api/v5/*"], "secret": "x"}),
    )
    .expect_error(403, "permission_denied");
    let bad = s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": "ftp://x", "channels": [], "secret": ""}),
    );
    bad.expect_error(400, "validation_error");
    let hook = create_hook(&s, &url);
    assert_eq!(webhook_count(&s), 1);

    // A waiting chat in the unrouted room is pending for Acme's four users; Bob joins.
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Anyone there?"));
    s.post(
        &format!("/api/v5/users/{BOB}/pending_chats/{chat}/memberships"),
        BOB_T,
        join_body(),
    )
    .expect(201);
    wait_until("8 deliveries", Duration::from_secs(30), || {
        rx.got.lock().unwrap().len() >= 8
    });
    wait_until_all_delivered(&s, &hook, 8);
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 8, "{got:#?}");
    assert_eq!(rx.failed.load(Ordering::SeqCst), 2);
    assert_eq!(rx.bad_signatures.load(Ordering::SeqCst), 0);
    // In order, each event once: one change on four users' channels is four events with
    // the change's number.
    let events = numbered_events(&got);
    assert!(
        events.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {events:?}"
    );
    assert!(
        got[..4]
            .iter()
            .all(|e| e["action"] == "added" && e["resource_id"] == chat.as_str())
    );
    assert!(
        got[4..]
            .iter()
            .all(|e| e["action"] == "removed" && e.get("resource").is_none())
    );

    // The history: all delivered; the first took three attempts.
    let results = deliveries(&s, &hook);
    assert_eq!(results.len(), 8);
    assert!(results.iter().all(|d| d["is_delivered"] == true));
    assert_eq!(results.last().unwrap()["attempts"], 3);

    // PATCH and DELETE.
    let p = s.patch(
        &format!("/api/v5/orgs/{ORG_A}/webhooks/{hook}"),
        ANN_T,
        json!({"actions": ["removed"]}),
    );
    assert_eq!(p.expect(200)["actions"], json!(["removed"]));
    s.delete(&format!("/api/v5/orgs/{ORG_A}/webhooks/{hook}"), ANN_T)
        .expect(204);
    s.get(&format!("/api/v5/orgs/{ORG_A}/webhooks/{hook}"), ANN_T)
        .expect_error(404, "not_found");
    // Another organization never sees it.
    s.get(&format!("/api/v5/orgs/{ORG_A}/webhooks"), BEA_T)
        .expect_error(403, "permission_denied");
}

/// (seq, channel) of each delivered event, in delivery order.
fn numbered_events(got: &[Value]) -> Vec<(i64, String)> {
    got.iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["channel"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_server_restarted_between_retries_still_delivers() {
    let rx = Arc::new(Receiver::default());
    rx.down.store(true, Ordering::SeqCst);
    let url = start_receiver(rx.clone());
    let mut s = Server::with_seed(&seed());
    let hook = create_hook(&s, &url);
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Hello"));
    wait_until("a failed attempt", Duration::from_secs(30), || {
        rx.failed.load(Ordering::SeqCst) >= 1
    });
    // Restarted allowing only the receiver: the queued deliveries go there as before.
    s.restart(&["--webhook-allow", &url]);
    rx.down.store(false, Ordering::SeqCst);
    wait_until("4 deliveries", Duration::from_secs(60), || {
        rx.got.lock().unwrap().len() >= 4
    });
    wait_until_all_delivered(&s, &hook, 4);
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(
        got.iter()
            .all(|e| e["resource_id"] == chat.as_str() && e["action"] == "added")
    );
    let events = numbered_events(&got);
    assert!(events.windows(2).all(|w| w[0] < w[1]), "{events:?}");
    // A webhook to a destination outside the allow-list is refused when written.
    let other = s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": "http://127.0.0.1:1/elsewhere", "channels": ["/api/v5/*"], "secret": "x"}),
    );
    let body = other.expect_error(400, "validation_error");
    assert!(body["errors"]["url"].is_array(), "{body}");
    assert_eq!(webhook_count(&s), 1);
}
