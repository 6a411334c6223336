//! Bounded retries, retrying a failed delivery, and the app tokens minted for bot webhooks,
//! on the engine with its injected clock.

use crate::test_support::*;
use crate::webhooks::{
    APP_TOKEN_LIFETIME_MS, ATTEMPT_LEASE_MS, Delivery, FIRST_RETRY_MS, GIVE_UP_AFTER_ATTEMPTS,
    GIVE_UP_AFTER_MS, MAX_BACKOFF_MS,
};
use crate::{ErrorCode, PageRequest};
use serde_json::{Value, json};
use uuid::Uuid;

const HOUR_MS: i64 = 3600 * 1000;

/// A webhook of Robo (a bot) on its pending chats; the routed chat Bob then joins queues two
/// deliveries to it (the chat added to Robo's pending chats, then removed).
fn robo_webhook_with_two_deliveries(w: &World) -> Uuid {
    let hook = w
        .engine
        .create_webhook(
            &user(CAT),
            id(ACME),
            serde_json::from_value(json!({
                "url": "http://127.0.0.1:9/hook",
                "channels": ["/api/v5/users/{user_id}/pending_chats"],
                "actions": ["added", "removed"],
                "secret": "s3cret",
                "user_id": ROBO
            }))
            .unwrap(),
        )
        .unwrap();
    let (chat, _) = w.routed_chat();
    let join = crate::memberships::MembershipInput {
        is_participating: Some(true),
        composing_status: Some("idle".into()),
        ..Default::default()
    };
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join)
        .unwrap();
    hook.id.parse().unwrap()
}

/// The webhook's deliveries, oldest first.
fn history(w: &World, hook: Uuid) -> Vec<Delivery> {
    let mut d = w
        .engine
        .list_webhook_deliveries(&user(CAT), id(ACME), hook, &PageRequest::first(100))
        .unwrap()
        .results;
    d.reverse();
    d
}

/// The id of the only delivery due now (None: nothing is due).
fn due_id(w: &World) -> Option<i64> {
    let due = w.engine.webhook_deliveries_due(10).unwrap();
    assert!(due.len() <= 1, "one webhook: one delivery at a time");
    due.first().map(|d| d.id)
}

fn refuse(w: &World, delivery: i64) {
    w.engine
        .record_webhook_delivery(delivery, Some(500), Some("receiver error".into()))
        .unwrap();
}

#[test]
fn twenty_attempts_are_not_enough_before_a_day_of_failing() {
    let w = world();
    let hook = robo_webhook_with_two_deliveries(&w);
    // The oldest delivery (each `due_id` below hands it out, claiming it until its result).
    let first = history(&w, hook)[0].id;
    let start = w.engine.now_ms();
    // Twenty failures, each retried as soon as it is due: about two hours in all.
    for _ in 0..GIVE_UP_AFTER_ATTEMPTS {
        assert_eq!(
            due_id(&w),
            Some(first),
            "nothing overtakes a delivery being retried"
        );
        refuse(&w, first);
        let d = &history(&w, hook)[0];
        assert_eq!(d.state, "pending");
        let next: i64 =
            crate::time::parse_iso("next_attempt_at", d.next_attempt_at.as_deref().unwrap())
                .unwrap();
        assert!(next - w.engine.now_ms() <= MAX_BACKOFF_MS);
        w.clock.set_ms(next);
    }
    assert!(w.engine.now_ms() - start < GIVE_UP_AFTER_MS);
    // Still retried, every ten minutes, until it has been failing for 24 hours.
    let mut attempts = GIVE_UP_AFTER_ATTEMPTS;
    loop {
        assert_eq!(due_id(&w), Some(first));
        let failing_for = w.engine.now_ms() - start;
        refuse(&w, first);
        attempts += 1;
        let d = &history(&w, hook)[0];
        if failing_for >= GIVE_UP_AFTER_MS {
            assert_eq!(d.state, "failed");
            break;
        }
        assert_eq!(d.state, "pending", "failing for {failing_for} ms");
        w.clock.advance_ms(MAX_BACKOFF_MS);
    }
    let d = &history(&w, hook)[0];
    assert_eq!(d.attempts, attempts);
    assert!(attempts > GIVE_UP_AFTER_ATTEMPTS);
    assert_eq!(d.last_status, Some(500));
    assert_eq!(d.last_error.as_deref(), Some("receiver error"));
    assert!(!d.is_delivered && d.failed_at.is_some() && d.next_attempt_at.is_none());
    // The webhook's next delivery goes on at once.
    let due = w.engine.webhook_deliveries_due(10).unwrap();
    assert_eq!(due.len(), 1, "the next delivery is due");
    assert_ne!(due[0].id, first);
    let body: Value = serde_json::from_str(&due[0].body).unwrap();
    assert_eq!(body["action"], "removed");
}

#[test]
fn an_attempt_handed_out_is_not_handed_out_again_until_its_result_or_its_lease_ends() {
    let w = world();
    let hook = robo_webhook_with_two_deliveries(&w);
    let first = due_id(&w).expect("the first delivery is due");
    // Claimed: a second poll (another server's, or this one's) does not get it, nor the
    // webhook's next delivery, which waits behind it.
    assert_eq!(due_id(&w), None);
    w.clock.advance_ms(ATTEMPT_LEASE_MS - 1);
    assert_eq!(due_id(&w), None);
    // Its host never reported: once the lease ends it is handed out again.
    w.clock.advance_ms(1);
    assert_eq!(due_id(&w), Some(first));
    // A result sets the real next attempt (a refusal: the backoff).
    refuse(&w, first);
    assert_eq!(history(&w, hook)[0].attempts, 1);
    w.clock.advance_ms(FIRST_RETRY_MS - 1);
    assert_eq!(due_id(&w), None);
    w.clock.advance_ms(1);
    assert_eq!(due_id(&w), Some(first));
}

#[test]
fn a_day_of_failing_is_not_enough_before_twenty_attempts() {
    let w = world();
    let hook = robo_webhook_with_two_deliveries(&w);
    let first = history(&w, hook)[0].id;
    // A receiver answering a day apart: the day passes after the second attempt, yet the
    // delivery is failed only at its twentieth.
    for attempt in 1..=GIVE_UP_AFTER_ATTEMPTS {
        assert_eq!(due_id(&w), Some(first));
        refuse(&w, first);
        let d = &history(&w, hook)[0];
        if attempt < GIVE_UP_AFTER_ATTEMPTS {
            assert_eq!(d.state, "pending", "attempt {attempt}");
        } else {
            assert_eq!(d.state, "failed");
            assert_eq!(d.attempts, GIVE_UP_AFTER_ATTEMPTS);
        }
        w.clock.advance_ms(25 * HOUR_MS);
    }
    assert_ne!(due_id(&w), Some(first));
}

#[test]
fn a_failed_delivery_is_retried_on_request_once_more() {
    let w = world();
    let hook = robo_webhook_with_two_deliveries(&w);
    let org = id(ACME);
    let first = due_id(&w).unwrap();
    // Not failed: 409, whether still being retried or acknowledged.
    let err = w
        .engine
        .retry_webhook_delivery(&user(CAT), org, hook, first)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::DeliveryNotFailed);
    assert_eq!(err.status(), 409);
    for _ in 0..GIVE_UP_AFTER_ATTEMPTS {
        refuse(&w, first);
        w.clock.advance_ms(2 * HOUR_MS);
    }
    assert_eq!(history(&w, hook)[0].state, "failed");
    let second = due_id(&w).unwrap();
    w.engine
        .record_webhook_delivery(second, Some(200), None)
        .unwrap();
    let err = w
        .engine
        .retry_webhook_delivery(&user(CAT), org, hook, second)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::DeliveryNotFailed);
    // The settings permission is needed; a delivery of another webhook is not found.
    let err = w
        .engine
        .retry_webhook_delivery(&user(ANN), org, hook, first)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    let err = w
        .engine
        .retry_webhook_delivery(&user(CAT), org, Uuid::from_u128(7), first)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = w
        .engine
        .retry_webhook_delivery(&user(CAT), org, hook, 999_999)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);

    // Retried: due now, counting on from its attempts.
    let retried = w
        .engine
        .retry_webhook_delivery(&user(CAT), org, hook, first)
        .unwrap();
    assert_eq!(retried.state, "pending");
    assert_eq!(retried.attempts, GIVE_UP_AFTER_ATTEMPTS);
    assert_eq!(due_id(&w), Some(first));
    // Refused again: failed again at once (the bounds are behind it), holding nothing back.
    refuse(&w, first);
    let d = &history(&w, hook)[0];
    assert_eq!(
        (d.state, d.attempts),
        ("failed", GIVE_UP_AFTER_ATTEMPTS + 1)
    );
    assert_eq!(due_id(&w), None);
    // Retried and accepted: delivered.
    w.engine
        .retry_webhook_delivery(&user(CAT), org, hook, first)
        .unwrap();
    w.engine
        .record_webhook_delivery(first, Some(204), None)
        .unwrap();
    let d = &history(&w, hook)[0];
    assert_eq!(d.state, "delivered");
    assert!(d.is_delivered && d.failed_at.is_none());
}

#[test]
fn app_tokens_are_minted_per_attempt_and_act_as_the_bot_until_they_expire() {
    let w = world();
    let hook = robo_webhook_with_two_deliveries(&w);
    let auth = |w: &World| -> (i64, Value) {
        let due = w.engine.webhook_deliveries_due(10).unwrap();
        let body: Value = serde_json::from_str(&due[0].body).unwrap();
        (due[0].id, body["app_user_auth"].clone())
    };
    let (first, a) = auth(&w);
    assert_eq!(a["token_type"], "Token");
    assert_eq!(a["expires_in"], APP_TOKEN_LIFETIME_MS / 1000);
    assert_eq!(a["user_id"], ROBO);
    assert_eq!(a["organization_id"], ACME);
    let token = a["access_token"].as_str().unwrap().to_string();
    assert_eq!(w.engine.authenticate(&token).unwrap(), user(ROBO));
    // The outbox keeps the event without it.
    let stored = &history(&w, hook)[0].event;
    assert!(stored.get("app_user_auth").is_none(), "{stored}");
    // Each attempt has its own token.
    refuse(&w, first);
    w.clock.advance_ms(1000);
    let (_, again) = auth(&w);
    let token2 = again["access_token"].as_str().unwrap().to_string();
    assert_ne!(token2, token);
    // A token acts until it expires (also when remembered), not after.
    w.clock.advance_ms(APP_TOKEN_LIFETIME_MS - 1001);
    assert_eq!(w.engine.authenticate(&token).unwrap(), user(ROBO));
    w.clock.advance_ms(1);
    let err = w.engine.authenticate(&token).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotAuthenticated);
    assert_eq!(w.engine.authenticate(&token2).unwrap(), user(ROBO));
    // Deleting the webhook revokes its tokens at once.
    w.engine.delete_webhook(&user(CAT), id(ACME), hook).unwrap();
    let err = w.engine.authenticate(&token2).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotAuthenticated);
}

#[test]
fn a_webhook_without_a_bot_user_carries_no_token() {
    let w = world();
    w.engine
        .create_webhook(
            &user(CAT),
            id(ACME),
            serde_json::from_value(json!({
                "url": "http://127.0.0.1:9/hook",
                "channels": ["/api/v5/users/{user_id}/pending_chats"],
                "secret": "s3cret",
                "user_id": BOB
            }))
            .unwrap(),
        )
        .unwrap();
    w.routed_chat();
    let due = w.engine.webhook_deliveries_due(10).unwrap();
    assert_eq!(due.len(), 1);
    let body: Value = serde_json::from_str(&due[0].body).unwrap();
    assert!(body.get("app_user_auth").is_none(), "{body}");
}
