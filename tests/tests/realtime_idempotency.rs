//! `Idempotency-Key` on creating POSTs against a real `chat-server` (contract section 8).

mod support;

use serde_json::json;
use std::sync::Arc;
use support::*;

#[test]
fn concurrent_retries_with_one_key_create_one_row_and_another_body_is_422() {
    let s = Arc::new(Server::with_seed(&seed()));
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Hi"));
    s.post(
        &format!("/api/v5/users/{ANN}/pending_chats/{chat}/memberships"),
        ANN_T,
        support::world::join_body(),
    )
    .expect(201);
    let path = format!("/api/v5/users/{ANN}/chats/{chat}/messages");
    let body = serde_json::to_vec(&json!({"message": "Only once, please."})).unwrap();
    let auth = format!("Token {ANN_T}");
    let replies: Vec<Resp> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (s, path, body, auth) = (s.clone(), path.clone(), body.clone(), auth.clone());
                sc.spawn(move || {
                    s.raw(
                        "POST",
                        &path,
                        &[
                            ("Authorization", auth.as_str()),
                            ("Content-Type", "application/json"),
                            ("Idempotency-Key", "retry-7f3a"),
                        ],
                        Some(body),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &replies {
        assert_eq!(r.status, replies[0].status, "{}", r.text);
        assert_eq!(r.body, replies[0].body);
    }
    assert_eq!(replies[0].status, 200);
    let msgs = s.get(&format!("{path}?type__in=msg"), ANN_T);
    let n = msgs.expect(200)["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message"] == "Only once, please.")
        .count();
    assert_eq!(n, 1);

    // The same key with another body.
    let other = s.raw(
        "POST",
        &path,
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "retry-7f3a"),
        ],
        Some(serde_json::to_vec(&json!({"message": "Something else"})).unwrap()),
    );
    other.expect_error(422, "idempotency_key_reused");
    let long = "k".repeat(256);
    let too_long = s.raw(
        "POST",
        &path,
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", long.as_str()),
        ],
        Some(body.clone()),
    );
    too_long.expect_error(400, "validation_error");
}

/// Writers send messages with idempotency keys while the server is killed (SIGKILL) mid-way,
/// several times. After each restart, retrying every key that was sent answers with the
/// first reply (or runs afresh when the first call never committed) — never a key stuck "in
/// progress" — and every key's message exists exactly once.
#[test]
fn a_retry_after_a_kill_gets_the_first_reply_never_a_stuck_key() {
    let mut s = Server::with_seed(&seed());
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Hi"));
    s.post(
        &format!("/api/v5/users/{ANN}/pending_chats/{chat}/memberships"),
        ANN_T,
        support::world::join_body(),
    )
    .expect(201);
    let path = format!("/api/v5/users/{ANN}/chats/{chat}/messages");
    let auth = format!("Token {ANN_T}");
    let send = |s: &Server, key: &str| {
        s.try_raw_alone(
            "POST",
            &path,
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", key),
            ],
            Some(serde_json::to_vec(&json!({"message": format!("text of {key}")})).unwrap()),
        )
    };
    let mut sent: Vec<String> = Vec::new();
    for round in 0..6 {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let keys: Vec<String> = std::thread::scope(|sc| {
            let writers: Vec<_> = (0..4)
                .map(|t| {
                    let (s, stop, send) = (&s, &stop, &send);
                    sc.spawn(move || {
                        let mut keys = Vec::new();
                        for i in 0.. {
                            let key = format!("r{round}-w{t}-{i}");
                            keys.push(key.clone());
                            let cut = send(s, &key).is_err();
                            if cut || stop.load(std::sync::atomic::Ordering::SeqCst) {
                                break;
                            }
                        }
                        keys
                    })
                })
                .collect();
            std::thread::sleep(std::time::Duration::from_millis(200 + 100 * round));
            s.send_sigkill();
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            writers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        s.respawn(&[]);
        sent.extend(keys);
        for key in &sent {
            let r = send(&s, key).expect("the restarted server answers");
            assert_eq!(r.status, 200, "retry of {key}: {}", r.text);
            assert_eq!(r.body["message"], format!("text of {key}"));
        }
    }
    // Each key's message once.
    let mut texts: Vec<String> = Vec::new();
    let mut url = format!("{path}?type__in=msg&page_size=100");
    loop {
        let page = s.get(&url, ANN_T).expect(200).clone();
        for m in page["results"].as_array().unwrap() {
            texts.push(m["message"].as_str().unwrap_or("").to_string());
        }
        match page["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    for key in &sent {
        let n = texts
            .iter()
            .filter(|t| **t == format!("text of {key}"))
            .count();
        assert_eq!(n, 1, "{key}");
    }
}
