//! Webhooks against a real `chat-server` and a receiver on loopback: signatures verify,
//! failed deliveries are retried, every event arrives once and in order, a server restarted
//! between retries still delivers, a delivery refused for good is failed without holding
//! back the next ones and can be retried, and a bot webhook's token acts as the bot only
//! for a while and is never stored in the clear.

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
    /// While set, the first event received, and that event whenever it comes again, is
    /// answered 500.
    refuse_one: AtomicBool,
    /// (seq, channel) of the event refused under `refuse_one`.
    refused: Mutex<Option<(i64, String)>>,
    bad_signatures: AtomicUsize,
}

/// (seq, channel) of an event body.
fn event_key(e: &Value) -> (i64, String) {
    (
        e["seq"].as_i64().unwrap(),
        e["channel"].as_str().unwrap().to_string(),
    )
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
                        let event: Value = serde_json::from_str(&body).unwrap();
                        let refused = rx.refuse_one.load(Ordering::SeqCst) && {
                            let mut r = rx.refused.lock().unwrap();
                            *r.get_or_insert_with(|| event_key(&event)) == event_key(&event)
                        };
                        if refused
                            || rx.down.load(Ordering::SeqCst)
                            || rx.failed.load(Ordering::SeqCst)
                                < rx.fail_first.load(Ordering::SeqCst)
                        {
                            rx.failed.fetch_add(1, Ordering::SeqCst);
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        rx.got.lock().unwrap().push(event);
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

/// A receiver that refuses one event for good: with the bounds made short (3 attempts, 1 s;
/// the defaults are 20 and 24 hours), that delivery is failed and the webhook's next ones
/// arrive; `POST .../retry` sends it again once the receiver accepts it.
#[test]
fn a_delivery_refused_for_good_fails_without_holding_back_the_rest_and_can_be_retried() {
    let rx = Arc::new(Receiver::default());
    rx.refuse_one.store(true, Ordering::SeqCst);
    let url = start_receiver(rx.clone());
    let s = Server::with_seed_and(
        &seed(),
        &[
            "--webhook-give-up-after-attempts",
            "3",
            "--webhook-give-up-after-secs",
            "1",
        ],
    );
    let hook = create_hook(&s, &url);
    // Four events (the chat pending for Acme's four users); the first one sent is refused.
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Anyone there?"));
    wait_until("the other 3 deliveries", Duration::from_secs(30), || {
        rx.got.lock().unwrap().len() >= 3
    });
    let state_of = |d: &Value| d["state"].as_str().unwrap().to_string();
    let list = deliveries(&s, &hook);
    let failed: Vec<&Value> = list.iter().filter(|d| state_of(d) == "failed").collect();
    assert_eq!(failed.len(), 1, "{list:#?}");
    let failed = failed[0].clone();
    assert_eq!(failed["last_status"], 500);
    assert_eq!(failed["attempts"], 3);
    assert!(failed["failed_at"].is_string() && failed["next_attempt_at"].is_null());
    assert_eq!(failed["is_delivered"], false);
    let refused = rx
        .refused
        .lock()
        .unwrap()
        .clone()
        .expect("an event was refused");
    assert_eq!(event_key(&failed["event"]), refused);
    assert_eq!(rx.failed.load(Ordering::SeqCst), 3);

    // Later events go on as well: Bob joins, the chat leaves the four pending lists.
    s.post(
        &format!("/api/v5/users/{BOB}/pending_chats/{chat}/memberships"),
        BOB_T,
        join_body(),
    )
    .expect(201);
    wait_until("7 events delivered", Duration::from_secs(30), || {
        rx.got.lock().unwrap().len() >= 7
    });
    wait_until("7 deliveries recorded", Duration::from_secs(30), || {
        deliveries(&s, &hook)
            .iter()
            .filter(|d| d["state"] == "delivered")
            .count()
            == 7
    });
    assert!(
        !rx.got
            .lock()
            .unwrap()
            .iter()
            .any(|e| event_key(e) == refused)
    );

    // Only a failed delivery is retried; the settings permission is needed.
    let id = failed["id"].as_i64().unwrap();
    let retry = |d: i64| format!("/api/v5/orgs/{ORG_A}/webhooks/{hook}/deliveries/{d}/retry");
    let delivered = deliveries(&s, &hook)
        .into_iter()
        .find(|d| d["state"] == "delivered")
        .unwrap();
    s.post(&retry(delivered["id"].as_i64().unwrap()), ANN_T, json!({}))
        .expect_error(409, "delivery_not_failed");
    s.post(&retry(id), BOB_T, json!({}))
        .expect_error(403, "permission_denied");
    s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks/{hook}/deliveries/nine/retry"),
        ANN_T,
        json!({}),
    )
    .expect_error(404, "not_found");

    // The receiver accepts it now: retried, it arrives.
    rx.refuse_one.store(false, Ordering::SeqCst);
    let again = s.post(&retry(id), ANN_T, json!({}));
    let again = again.expect(200);
    assert_eq!(again["id"], id);
    assert_eq!(again["state"], "pending");
    wait_until("the retried event", Duration::from_secs(30), || {
        rx.got
            .lock()
            .unwrap()
            .iter()
            .any(|e| event_key(e) == refused)
    });
    wait_until_all_delivered(&s, &hook, 8);
    let d = deliveries(&s, &hook)
        .into_iter()
        .find(|d| d["id"] == id)
        .unwrap();
    assert_eq!(d["attempts"], 4);
    assert_eq!(d["last_status"], 204);
    assert_eq!(rx.got.lock().unwrap().len(), 8);
}

const ROBOT: &str = "0b0b0b0b-1c1c-4d2d-8e3e-4f5f6a7b8c9d";
const ROBOT_T: &str = "robot-api-token-0123456789abcdef";

/// Whether `needle` occurs in the bytes the database stores.
fn database_contains(s: &Server, needle: &str) -> bool {
    s.stored_bytes()
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A bot's webhook carries a token minted for the attempt: it acts as the bot (`users/me`)
/// until it expires (3 s here; at most an hour), then 401; the database holds neither it nor
/// the bot's API token in the clear.
#[test]
fn a_bot_webhook_token_acts_as_the_bot_until_it_expires_and_is_stored_hashed() {
    let rx = Arc::new(Receiver::default());
    let url = start_receiver(rx.clone());
    let mut seed = seed();
    seed["users"].as_array_mut().unwrap().push(json!({
        "id": ROBOT, "organization_id": ORG_A, "first_name": "Robo", "last_name": "Bot",
        "is_bot": true, "is_present": true, "api_token": ROBOT_T
    }));
    let mut s = Server::with_seed_and(&seed, &["--webhook-token-lifetime-secs", "3"]);
    s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": url, "channels": ["/api/v5/users/*/pending_chats"], "actions": ["added"],
               "secret": SECRET, "user_id": ROBOT}),
    )
    .expect(201);
    s.visitor_chat(ORG_A, ROOM_A1, Some("Hello bot"));
    wait_until("a delivery", Duration::from_secs(30), || {
        !rx.got.lock().unwrap().is_empty()
    });
    let received = std::time::Instant::now();
    let event = rx.got.lock().unwrap()[0].clone();
    let auth = &event["app_user_auth"];
    assert_eq!(auth["token_type"], "Token");
    assert_eq!(auth["user_id"], ROBOT);
    assert_eq!(auth["organization_id"], ORG_A);
    let expires_in = auth["expires_in"].as_i64().expect("expires_in is a number");
    assert!((1..=3600).contains(&expires_in), "{auth}");
    assert_eq!(expires_in, 3);
    let token = auth["access_token"].as_str().unwrap().to_string();
    assert_ne!(token, ROBOT_T);
    let me = s.get("/api/v5/users/me", &token);
    assert_eq!(me.expect(200)["id"], ROBOT);
    // Refused once it has expired.
    wait_until("the token expires", Duration::from_secs(30), || {
        s.get("/api/v5/users/me", &token).status == 401
    });
    assert!(received.elapsed() >= Duration::from_secs(2));
    s.get("/api/v5/users/me", &token)
        .expect_error(401, "not_authenticated");
    assert_eq!(s.get("/api/v5/users/me", ROBOT_T).expect(200)["id"], ROBOT);
    // Every token in the database is a hash: after the checkpoint at shutdown, neither the
    // minted token nor the bot's API token is in the file (or a WAL).
    assert!(s.terminate().success());
    assert!(!database_contains(&s, &token), "the minted token is stored");
    assert!(
        !database_contains(&s, ROBOT_T),
        "the bot's API token is stored"
    );
    // The event was stored (the search does see the file's text).
    let chat = event["resource_id"].as_str().unwrap();
    assert!(database_contains(&s, chat));
}
