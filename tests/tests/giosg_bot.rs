//! A giosg-style bot against a real `chat-server`, as a black box: it learns of chats from
//! webhook deliveries on its `routed_chats` and on its chats' messages, and acts with nothing
//! but the `app_user_auth` token each delivery hands it (contract section 8): it reads its
//! presence clients, makes itself present, joins the routed chat, offers buttons, reacts to
//! the visitor's choice and invites a team of humans.

mod support;

use serde_json::{Value, json};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;
use support::world::join_body;
use support::*;

const BOT: &str = "a0000000-0000-4000-8000-0000000000b7";
const BOT_API_TOKEN: &str = "bot-long-lived-api-token-0123456789";
const BOT_ROOM: &str = "a0000000-0000-4000-8000-0000000000f7";
const HUMANS: &str = "a0000000-0000-4000-8000-00000000ea07";

/// The standard seed with a bot in Acme, a room routed to the bot and a team of humans (Bob).
fn bot_seed() -> Value {
    let mut seed = seed();
    seed["users"].as_array_mut().unwrap().push(json!({
        "id": BOT, "organization_id": ORG_A, "first_name": "Helper", "last_name": "Bot",
        "is_bot": true, "is_present": false, "api_token": BOT_API_TOKEN
    }));
    seed["teams"].as_array_mut().unwrap().push(json!({
        "id": HUMANS, "organization_id": ORG_A, "name": "Humans", "member_ids": [BOB]
    }));
    seed["rooms"].as_array_mut().unwrap().push(json!({
        "id": BOT_ROOM, "organization_id": ORG_A, "name": "Front desk",
        "router": [{"user_ids": [BOT]}]
    }));
    seed
}

/// A webhook receiver on loopback: every delivery's body, as it arrives.
fn start_receiver() -> (String, Receiver<Value>) {
    let (deliveries, received) = channel();
    let (tx, addr) = channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let deliveries = std::sync::Mutex::new(deliveries);
            let deliveries = std::sync::Arc::new(deliveries);
            let app = axum::Router::new().route(
                "/bot",
                axum::routing::post(move |body: String| {
                    let deliveries = deliveries.clone();
                    async move {
                        let v: Value = serde_json::from_str(&body).unwrap();
                        let _ = deliveries.lock().unwrap().send(v);
                        axum::http::StatusCode::OK
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}/bot", addr.recv().unwrap()), received)
}

/// The next delivery that `wanted` accepts (others are skipped, as a bot ignores them).
fn next_delivery(received: &Receiver<Value>, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let d = received
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no delivery: {what}"));
        if wanted(&d) {
            return d;
        }
    }
}

/// The bot's side: calls made with the credentials of one delivery only.
struct BotCall<'a> {
    s: &'a Server,
    authorization: String,
}

impl<'a> BotCall<'a> {
    /// Checks the delivery's `app_user_auth` and acts with it.
    fn from_delivery(s: &'a Server, delivery: &Value) -> Self {
        let auth = &delivery["app_user_auth"];
        assert_eq!(auth["user_id"], BOT, "{delivery}");
        assert_eq!(auth["organization_id"], ORG_A, "{delivery}");
        let expires_in = auth["expires_in"].as_i64().expect("expires_in is a number");
        assert!((1..=3600).contains(&expires_in), "{auth}");
        let token = auth["access_token"].as_str().expect("access_token");
        assert_ne!(token, BOT_API_TOKEN, "never the bot's long-lived API token");
        let kind = auth["token_type"].as_str().expect("token_type");
        BotCall {
            s,
            authorization: format!("{kind} {token}"),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let mut headers = vec![("Authorization", self.authorization.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        self.s.raw(method, path, &headers, body)
    }
}

#[test]
fn a_bot_serves_a_visitor_with_only_the_tokens_its_webhook_deliveries_carry() {
    let s = Server::with_seed(&bot_seed());
    let (url, received) = start_receiver();
    s.post(
        &format!("/api/v5/orgs/{ORG_A}/webhooks"),
        ANN_T,
        json!({"url": url, "user_id": BOT, "secret": "bot-webhook-secret",
               "actions": ["added", "changed"],
               "channels": ["/api/v5/users/{user_id}/routed_chats",
                            "/api/v5/users/{user_id}/chats/*/messages"]}),
    )
    .expect(201);

    // A visitor writes at the front desk: the chat is routed to the bot, and waits.
    let (vid, vt, chat) = s.visitor_chat(ORG_A, BOT_ROOM, Some("Hello, anyone there?"));
    let routed = format!("/api/v5/users/{BOT}/routed_chats");
    let announced = next_delivery(&received, "the routed chat", |d| {
        d["channel"] == routed.as_str() && d["action"] == "added"
    });
    assert_eq!(announced["resource_id"], chat.as_str());
    assert_eq!(announced["resource"]["is_pending"], true);
    let bot = BotCall::from_delivery(&s, &announced);

    // Presence first: the bot reads its clients, then creates one.
    let clients = format!("/api/v5/users/{BOT}/clients");
    let listed = bot.call("GET", &clients, None);
    assert!(listed.expect(200)["results"].as_array().unwrap().is_empty());
    let client = bot.call("POST", &clients, Some(json!({"presence_expires_in": 300})));
    let client_id = client.expect(201)["id"].as_str().unwrap().to_string();
    let listed = bot.call("GET", &clients, None);
    let ids: Vec<&str> = listed.expect(200)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![client_id.as_str()]);

    // It joins the routed chat and offers a choice.
    bot.call(
        "POST",
        &format!("{routed}/{chat}/memberships"),
        Some(join_body()),
    )
    .expect(201);
    let offer = bot.call(
        "POST",
        &format!("/api/v5/users/{BOT}/chats/{chat}/messages"),
        Some(
            json!({"message": "Hi! How can I help?", "attachments": [{"text": "Choose", "actions": [
            {"text": "Opening hours", "type": "button", "value": "hours",
             "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false},
            {"text": "Talk to a human", "type": "button", "value": "human",
             "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false}]}]}),
        ),
    );
    let offer = offer.expect(200).clone();
    let attachment = &offer["attachments"][0];
    let human = attachment["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["value"] == "human")
        .unwrap()["id"]
        .clone();

    // The visitor picks "Talk to a human".
    s.post(
        &format!("/api/v5/public/visitors/{vid}/chats/{chat}/messages"),
        &vt,
        json!({"type": "action", "response_to_message_id": offer["id"],
               "response_to_attachment_id": attachment["id"], "response_to_action_id": human}),
    )
    .expect(201);

    // The bot hears the choice on its chat's messages and hands over to the humans' team.
    let messages = format!("/api/v5/users/{BOT}/chats/{chat}/messages");
    let choice = next_delivery(&received, "the visitor's choice", |d| {
        d["channel"] == messages.as_str()
            && d["action"] == "added"
            && d["resource"]["type"] == "action"
    });
    assert_eq!(choice["resource"]["response_value"], "human");
    let bot = BotCall::from_delivery(&s, &choice);
    bot.call(
        "POST",
        &messages,
        Some(json!({"message": "Connecting you to one of us."})),
    )
    .expect(200);
    let invitation = bot.call(
        "POST",
        &format!("/api/v5/users/{BOT}/chats/{chat}/outgoing_chat_invitations"),
        Some(json!({"invited_team_id": HUMANS})),
    );
    let invitation = invitation.expect(201)["id"].as_str().unwrap().to_string();

    // Bob, of the team, is invited.
    let incoming = s.get(
        &format!("/api/v5/users/{BOB}/incoming_chat_invitations"),
        BOB_T,
    );
    let invited: Vec<&str> = incoming.expect(200)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(invited.contains(&invitation.as_str()), "{invited:?}");
}
