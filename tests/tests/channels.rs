//! Every channel events are published on is a REST collection, read by whom it is listed to
//! (contract section 8): against a real `chat-server`, one chat takes each collection of
//! [`chat_core::events::CHANNELS`] from not listing a resource to listing it, and an event
//! about that resource arrives on the collection's path. Patterns that can match no channel,
//! and chats of other organizations named below one's own path, are refused.

mod support;

use chat_core::events::CHANNELS;
use serde_json::{Value, json};
use support::world::join_body;
use support::*;

/// The events on `channel` after `since`, read as `token`.
fn events_on(s: &Server, token: &str, channel: &str, since: i64) -> Vec<Value> {
    let page = s.post(
        "/api/v5/events",
        token,
        json!({"channels": [channel], "since": since}),
    );
    page.expect(200)["events"].as_array().unwrap().clone()
}

/// What a collection's items are identified by in its events' `resource_id`.
fn item_key(template: &str) -> &'static str {
    if template.ends_with("/chat_memberships") {
        "chat_id"
    } else if template.ends_with("/memberships") {
        "member_id"
    } else if template.ends_with("tags") {
        "name"
    } else if template.ends_with("/chat_conversation_starters") {
        "language_code"
    } else {
        "id"
    }
}

/// Reads `template` (filled in) as its reader: an event since `since` arrived on the path, and
/// the collection lists a resource an `added` event was about.
fn assert_event_and_listing(
    s: &Server,
    template: &str,
    ids: (&str, &str, &str, &str),
    visitor_token: &str,
    since: i64,
) {
    let (chat, vid, message) = (ids.1, ids.2, ids.3);
    // Who reads it: Cat her own collections (Bob his invitations), Ann (reports) the
    // organization's, the visitor their own.
    let (user, token) = if template.ends_with("incoming_chat_invitations") {
        (BOB, BOB_T)
    } else {
        (CAT, CAT_T)
    };
    let token = if template.starts_with("orgs/") {
        ANN_T
    } else if template.starts_with("public/") {
        visitor_token
    } else {
        token
    };
    let path = format!("/api/v5/{template}")
        .replace("<user_id>", user)
        .replace("<organization_id>", ids.0)
        .replace("<chat_id>", chat)
        .replace("<room_id>", ROOM_A2)
        .replace("<message_id>", message)
        .replace("<visitor_id>", vid);
    let events = events_on(s, token, &path, since);
    assert!(!events.is_empty(), "no event on {path}");
    assert!(
        events.iter().all(|e| e["channel"] == path.as_str()),
        "{events:?}"
    );
    let listed = s.get(&path, token);
    let items = listed.expect(200)["results"].as_array().unwrap().clone();
    if template.starts_with("public/") {
        // The visitor view, in events and reads alike: no operator's private name.
        let resources = events.iter().filter_map(|e| e.get("resource"));
        for r in resources.chain(items.iter()) {
            assert!(
                r.get("sender_name").is_none() && r.get("member_name").is_none(),
                "{path}: {r}"
            );
        }
    }
    // Below a pending chat, its memberships were there before it waited (added to the
    // routed chat at its start): their change while it waits is the event.
    // Likewise the visitor's membership below a user's chat (read since the user joined):
    // its change by the visitor's next message.
    let action = if template.contains("pending_chats/<chat_id>/")
        || template.ends_with("visitors/<visitor_id>/chat_memberships")
    {
        "changed"
    } else {
        "added"
    };
    let key = item_key(template);
    assert!(
        items.iter().any(|item| events
            .iter()
            .any(|e| e["resource_id"] == item[key] && e["action"] == action)),
        "{path}: listed {items:?}, events {events:?}"
    );
}

#[test]
fn each_collection_gets_an_event_for_the_change_that_lists_a_resource_in_it() {
    let s = Server::with_seed(&seed());
    let head = s.post(
        "/api/v5/events",
        ANN_T,
        json!({"channels": [format!("/api/v5/orgs/{ORG_A}/*")], "since": null}),
    );
    let head = head.expect(200)["last_seq"].as_i64().unwrap();

    // A visitor writes in Sales (routed to Cat's team): the chat waits for Cat.
    let (vid, vt, chat) = s.visitor_chat(ORG_A, ROOM_A2, Some("Hello?"));
    let waiting_ids = (ORG_A, chat.as_str(), vid.as_str(), "");
    // The waiting collections list it until Cat takes it.
    let waiting = [
        "users/<user_id>/pending_chats",
        "users/<user_id>/pending_chats/<chat_id>/memberships",
        "orgs/<organization_id>/rooms/<room_id>/pending_chats",
    ];
    for template in waiting {
        assert_event_and_listing(&s, template, waiting_ids, &vt, head);
    }

    // Cat takes the chat, replies, tags it, invites Bob and leaves a reply suggestion.
    s.post(
        &format!("/api/v5/users/{CAT}/pending_chats/{chat}/memberships"),
        CAT_T,
        join_body(),
    )
    .expect(201);
    let mine = format!("/api/v5/users/{CAT}/chats/{chat}");
    let reply = s.post(
        &format!("{mine}/messages"),
        CAT_T,
        json!({"message": "Hi, Cat here."}),
    );
    let reply = reply.expect(200)["id"].as_str().unwrap().to_string();
    s.post(&format!("{mine}/tags"), CAT_T, json!({"name": "VIP"}))
        .expect(201);
    s.post(
        &format!("{mine}/outgoing_chat_invitations"),
        CAT_T,
        json!({"invited_user_id": BOB}),
    )
    .expect(201);
    s.post(
        &format!("{mine}/messages/{reply}/reply_suggestions"),
        CAT_T,
        json!({"suggestion": "Anything else?"}),
    )
    .expect(201);

    // Ann allows a tag in the room; Cat writes a conversation starter.
    s.post(
        &format!("/api/v5/orgs/{ORG_A}/rooms/{ROOM_A2}/tags"),
        ANN_T,
        json!({"name": "Urgent"}),
    )
    .expect(201);
    s.post(
        &format!("/api/v5/users/{CAT}/chat_conversation_starters"),
        CAT_T,
        json!({"language_code": "en", "message": "How can I help?"}),
    )
    .expect(201);

    // Ann adds a user, a team, a room and a router; Cat opens a presence client.
    let org = format!("/api/v5/orgs/{ORG_A}");
    s.post(
        &format!("{org}/users"),
        ANN_T,
        json!({"first_name": "Dee", "last_name": "New"}),
    )
    .expect(201);
    s.post(
        &format!("{org}/teams"),
        ANN_T,
        json!({"name": "Night shift"}),
    )
    .expect(201);
    s.post(&format!("{org}/rooms"), ANN_T, json!({"name": "Returns"}))
        .expect(201);
    s.post(
        &format!("{org}/routers"),
        ANN_T,
        json!({"name": "Evenings", "steps": [{"user_ids": [CAT]}]}),
    )
    .expect(201);
    s.post(
        &format!("/api/v5/users/{CAT}/clients"),
        CAT_T,
        json!({"presence_expires_in": 600}),
    )
    .expect(201);

    // The visitor answers.
    s.post(
        &format!("/api/v5/public/visitors/{vid}/chats/{chat}/messages"),
        &vt,
        json!({"type": "msg", "message": "Thanks"}),
    )
    .expect(201);

    // Every other collection lists what the chat added to it, and said so.
    let ids = (ORG_A, chat.as_str(), vid.as_str(), reply.as_str());
    assert!(waiting.iter().all(|t| CHANNELS.contains(t)));
    for template in CHANNELS.iter().filter(|t| !waiting.contains(t)) {
        assert_event_and_listing(&s, template, ids, &vt, head);
    }
}

#[test]
fn patterns_matching_no_channel_and_other_organizations_chats_are_refused() {
    let s = Server::with_seed(&seed());
    // A typo in a subscription is a field error, not a silent success.
    let typo = s.post(
        "/api/v5/events",
        CAT_T,
        json!({"channels": [format!("/api/v5/users/{CAT}/routed_chat")], "since": 0}),
    );
    let body = typo.expect_error(400, "validation_error");
    assert!(
        body["errors"]["channels"][0]
            .as_str()
            .unwrap()
            .contains("matches no channel"),
        "{body}"
    );
    // So is a webhook on such a pattern; one on a published collection is accepted.
    let hook = |channels: Value| {
        s.post(
            &format!("/api/v5/orgs/{ORG_A}/webhooks"),
            ANN_T,
            json!({"url": "http://127.0.0.1:9/hook", "channels": channels, "actions": ["added"],
                   "secret": "s3cret-s3cret"}),
        )
    };
    let refused = hook(json!([format!(
        "/api/v5/orgs/{ORG_A}/owned_chats/*/message"
    )]));
    let body = refused.expect_error(400, "validation_error");
    assert!(body["errors"]["channels"].is_array(), "{body}");
    hook(json!([
        format!("/api/v5/orgs/{ORG_A}/owned_chats/*/messages"),
        "/api/v5/users/{user_id}/routed_chats"
    ]))
    .expect(201);

    // Another organization's chat under Bea's own path: refused as unknown to her.
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Hello?"));
    let foreign = s.post(
        "/api/v5/events",
        BEA_T,
        json!({"channels": [format!("/api/v5/users/{BEA}/chats/{chat}/messages")], "since": 0}),
    );
    foreign.expect_error(404, "not_found");
}

/// Starts a receiver that acknowledges every delivery; returns its URL and what it got.
fn start_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, addr) = std::sync::mpsc::channel();
    let sink = got.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |body: String| {
                    let sink = sink.clone();
                    async move {
                        sink.lock()
                            .unwrap()
                            .push(serde_json::from_str::<Value>(&body).unwrap());
                        axum::http::StatusCode::NO_CONTENT
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}/hook", addr.recv().unwrap()), got)
}

/// A webhook for Cat's routed chats and the organization's chat messages receives the chat
/// when it starts waiting and each message once, in the organization's view.
#[test]
fn webhooks_on_routed_chats_and_owned_chat_messages_receive_their_events() {
    let s = Server::with_seed(&seed());
    let (url, got) = start_receiver();
    s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": url, "user_id": CAT, "secret": "s3cret-s3cret",
               "actions": ["added", "changed", "removed"],
               "channels": ["/api/v5/users/{user_id}/routed_chats",
                            format!("/api/v5/orgs/{ORG_A}/owned_chats/*/messages")]}),
    )
    .expect(201);
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A2, Some("Hello?"));
    s.post(
        &format!("/api/v5/users/{CAT}/pending_chats/{chat}/memberships"),
        CAT_T,
        join_body(),
    )
    .expect(201);
    let reply = s.post(
        &format!("/api/v5/users/{CAT}/chats/{chat}/messages"),
        CAT_T,
        json!({"message": "Hi, Cat here."}),
    );
    let reply = reply.expect(200)["id"].as_str().unwrap().to_string();
    let messages = format!("/api/v5/orgs/{ORG_A}/owned_chats/{chat}/messages");
    let added_messages = |got: &[Value]| -> Vec<String> {
        got.iter()
            .filter(|e| e["channel"] == messages.as_str() && e["action"] == "added")
            .map(|e| e["resource"]["message"].as_str().unwrap_or("").to_string())
            .collect()
    };
    wait_until(
        "the reply delivered",
        std::time::Duration::from_secs(30),
        || {
            got.lock()
                .unwrap()
                .iter()
                .any(|e| e["resource_id"] == reply.as_str())
        },
    );
    let got = got.lock().unwrap().clone();
    // Each message once (the join notice among them), in the operators' view.
    let texts = added_messages(&got);
    assert_eq!(texts.first().map(String::as_str), Some("Hello?"), "{got:?}");
    assert_eq!(
        texts.last().map(String::as_str),
        Some("Hi, Cat here."),
        "{got:?}"
    );
    let reply_events = got
        .iter()
        .filter(|e| e["resource_id"] == reply.as_str())
        .count();
    assert_eq!(reply_events, 1, "{got:?}");
    assert!(
        got.iter()
            .filter(|e| e["channel"] == messages.as_str())
            .all(|e| e["resource"].get("sender_name").is_some() || e["action"] != "added"),
        "operator view: {got:?}"
    );
    // The chat announced on Cat's routed chats once it waited, then its changes.
    let routed = format!("/api/v5/users/{CAT}/routed_chats");
    let on_routed: Vec<(&str, bool)> = got
        .iter()
        .filter(|e| e["channel"] == routed.as_str())
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["resource"]["is_pending"] == true,
            )
        })
        .collect();
    assert_eq!(on_routed.first(), Some(&("added", true)), "{got:?}");
    assert!(
        on_routed[1..].iter().all(|(a, _)| *a == "changed"),
        "{got:?}"
    );
}
