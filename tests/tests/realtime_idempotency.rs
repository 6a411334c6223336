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
