//! Every operation of the registry called through `api::call` with real arguments on a seeded
//! engine: its success status and something of its reply.

use crate::api::{self, OPERATIONS, Reply, find};
use crate::test_support::*;
use crate::{Actor, Engine};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Calls through `api::call` and remembers which operations were called.
struct Calls<'e> {
    engine: &'e Engine,
    called: BTreeSet<&'static str>,
}

impl Calls<'_> {
    fn reply(&mut self, actor: &Actor, op: &str, args: Value) -> Reply {
        let operation = find(op).unwrap_or_else(|| panic!("{op} is not in the registry"));
        let reply = api::call(self.engine, actor, op, &args)
            .unwrap_or_else(|e| panic!("{op} failed: {e:?}"));
        assert!(
            operation.status.codes().contains(&reply.status),
            "{op} answered {} but declares {:?}",
            reply.status,
            operation.status
        );
        self.called.insert(operation.name);
        reply
    }

    /// The body of a call that must answer `status`.
    fn call(&mut self, actor: &Actor, op: &str, status: u16, args: Value) -> Value {
        let reply = self.reply(actor, op, args);
        assert_eq!(reply.status, status, "{op}: {}", reply.body);
        reply.body
    }
}

fn ids_of(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_operation_answers_its_declared_status_through_api_call() {
    let w = world();
    let mut c = Calls {
        engine: &w.engine,
        called: BTreeSet::new(),
    };
    let admin = Actor::Admin;
    let ann = user(ANN);
    let bob = user(BOB);
    let cat = user(CAT);
    let user_chats =
        |who: &str, chat: &str| json!({"scope": "user_chats", "user_id": who, "chat_id": chat});

    // ---- chats ----
    let chat = c.call(
        &ann,
        "create_visitor_chat",
        201,
        json!({"user_id": ANN, "room_id": ROOM, "visitor_id": VISITOR}),
    );
    let chat_id = chat["id"].as_str().unwrap().to_string();
    assert_eq!(chat["room_id"], ROOM);
    let again = c.call(
        &ann,
        "create_visitor_chat",
        200,
        json!({"user_id": ANN, "room_id": ROOM, "visitor_id": VISITOR}),
    );
    assert_eq!(again["id"], chat_id.as_str());
    let own = c.call(&ann, "create_user_chat", 201, json!({"user_id": ANN}));
    assert_eq!(own["chat_type"], "operator");
    let page = c.call(
        &ann,
        "list_chats",
        200,
        json!({"scope": "user_chats", "user_id": ANN, "query": {"is_ended": "false"}}),
    );
    assert!(ids_of(&page).contains(&chat_id));
    let got = c.call(
        &cat,
        "get_chat",
        200,
        json!({"scope": "owned", "organization_id": ACME, "chat_id": chat_id}),
    );
    assert_eq!(got["id"], chat_id.as_str());

    // ---- memberships ----
    let members = c.call(&ann, "list_memberships", 200, user_chats(ANN, &chat_id));
    assert!(
        members["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["member_id"] == ANN)
    );
    let mine = c.call(
        &ann,
        "list_user_memberships",
        200,
        json!({"user_id": ANN, "query": {"is_participating": "true"}}),
    );
    assert!(
        mine["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["chat_id"] == chat_id.as_str())
    );
    let theirs = c.call(
        &ann,
        "list_visitor_chat_memberships",
        200,
        json!({"user_id": ANN, "chat_id": chat_id, "visitor_id": VISITOR}),
    );
    assert_eq!(theirs["results"][0]["member_type"], "visitor");
    let dan = c.call(&cat, "join_org_chat", 201, json!({"scope": "owned", "organization_id": ACME, "chat_id": chat_id, "body": {"member_id": DAN, "is_participating": true, "composing_status": "idle"}}));
    assert_eq!(dan["member_id"], DAN);
    let updated = c.call(&ann, "update_user_membership", 200, json!({"user_id": ANN, "chat_id": chat_id, "body": {"composing_status": "typing"}, "partial": true}));
    assert_eq!(updated["composing_status"], "typing");
    let (routed, _) = w.routed_chat();
    let joined = c.call(
        &bob,
        "join_routed_chat",
        201,
        json!({"user_id": BOB, "chat_id": routed.to_string(), "body": {"is_participating": true, "composing_status": "idle"}}),
    );
    assert_eq!(joined["member_id"], BOB);

    // ---- messages ----
    let msg = c.call(
        &ann,
        "send_user_message",
        200,
        json!({"user_id": ANN, "chat_id": chat_id, "body": {"message": "Hello!"}}),
    );
    assert_eq!(msg["message"], "Hello!");
    let msg_id = msg["id"].as_str().unwrap().to_string();
    let hint = c.call(&ann, "send_autosuggest", 201, json!({"user_id": ANN, "chat_id": chat_id, "body": {"message": "Try our size guide", "url": "https://shop.example/sizes", "url_title": "Sizes"}}));
    assert_eq!(hint["type"], "autosuggest");
    let mut args = user_chats(ANN, &chat_id);
    args["query"] = json!({"type__in": "msg"});
    let msgs = c.call(&ann, "list_messages", 200, args);
    assert_eq!(ids_of(&msgs), vec![msg_id.clone()]);
    let mut args = user_chats(ANN, &chat_id);
    args["message_id"] = json!(msg_id);
    let one = c.call(&ann, "get_message", 200, args);
    assert_eq!(one["message"], "Hello!");

    // ---- the public visitor API ----
    let auth = c.call(
        &admin,
        "visitor_auth",
        200,
        json!({"organization_id": ACME}),
    );
    let vid = auth["visitor_id"].as_str().unwrap().to_string();
    let guest = w
        .engine
        .authenticate(auth["access_token"].as_str().unwrap())
        .unwrap();
    let entered = c.call(&guest, "visitor_enter_room", 201, json!({"organization_id": ACME, "room_id": ROOM, "body": {"id": vid, "presence_expires_in": 300}}));
    assert_eq!(entered["is_present"], true);
    let pending = c.call(
        &guest,
        "visitor_start_chat",
        201,
        json!({"organization_id": ACME, "room_id": ROOM, "visitor_id": vid}),
    );
    let pending_id = pending["id"].as_str().unwrap().to_string();
    let vchat = c.call(
        &guest,
        "visitor_get_chat",
        200,
        json!({"visitor_id": vid, "chat_id": pending_id}),
    );
    assert_eq!(vchat["id"], pending_id.as_str());
    let said = c.call(
        &guest,
        "visitor_send_message",
        201,
        json!({"visitor_id": vid, "chat_id": pending_id, "body": {"message": "Anyone there?"}}),
    );
    assert_eq!(said["sender_type"], "visitor");
    let vmsgs = c.call(
        &guest,
        "visitor_list_messages",
        200,
        json!({"visitor_id": vid, "chat_id": pending_id, "query": {"page_size": "10"}}),
    );
    assert_eq!(vmsgs["results"][0]["message"], "Anyone there?");
    let vm = c.call(
        &guest,
        "visitor_get_membership",
        200,
        json!({"visitor_id": vid, "chat_id": pending_id}),
    );
    assert_eq!(vm["member_type"], "visitor");
    let vms = c.call(
        &guest,
        "visitor_list_memberships",
        200,
        json!({"visitor_id": vid, "chat_id": pending_id}),
    );
    assert_eq!(vms["results"][0]["member_type"], "visitor");
    assert!(vms["results"][0].get("member_name").is_none());
    let vchats = c.call(
        &guest,
        "visitor_list_chats",
        200,
        json!({"visitor_id": vid}),
    );
    assert_eq!(ids_of(&vchats), vec![pending_id.clone()]);
    let vm = c.call(&guest, "visitor_update_membership", 200, json!({"visitor_id": vid, "chat_id": pending_id, "body": {"composing_status": "typing"}, "partial": true}));
    assert_eq!(vm["composing_status"], "typing");
    let took = c.call(&ann, "join_pending_chat", 201, json!({"user_id": ANN, "chat_id": pending_id, "body": {"is_participating": true, "composing_status": "idle"}}));
    assert_eq!(took["member_type"], "user");

    // ---- management ----
    let org = c.call(
        &admin,
        "create_organization",
        201,
        json!({"body": {"name": "Newco"}}),
    );
    let org_id = org["id"].as_str().unwrap().to_string();
    let got = c.call(
        &admin,
        "get_organization",
        200,
        json!({"organization_id": org_id}),
    );
    assert_eq!(got["name"], "Newco");
    let got = c.call(
        &admin,
        "update_organization",
        200,
        json!({"organization_id": org_id, "body": {"name": "Newco Ltd"}}),
    );
    assert_eq!(got["name"], "Newco Ltd");
    let users = c.call(
        &cat,
        "list_users",
        200,
        json!({"organization_id": ACME, "query": {"page_size": "100"}}),
    );
    assert!(ids_of(&users).contains(&ANN.to_string()));
    let eve = c.call(
        &cat,
        "create_user",
        201,
        json!({"organization_id": ACME, "body": {"first_name": "Eve", "last_name": "New"}}),
    );
    let eve_id = eve["id"].as_str().unwrap().to_string();
    let got = c.call(
        &cat,
        "get_user",
        200,
        json!({"organization_id": ACME, "user_id": eve_id}),
    );
    assert_eq!(got["first_name"], "Eve");
    let got = c.call(
        &cat,
        "update_user",
        200,
        json!({"organization_id": ACME, "user_id": eve_id, "body": {"last_name": "Newer"}}),
    );
    assert_eq!(got["last_name"], "Newer");
    let me = c.call(&ann, "me", 200, json!({}));
    assert_eq!(me["id"], ANN);
    let token = c.call(&ann, "create_api_token", 201, json!({"user_id": ANN}));
    let secret = token["token"].as_str().unwrap();
    assert_eq!(w.engine.authenticate(secret).unwrap(), ann);
    c.call(
        &ann,
        "revoke_api_token",
        204,
        json!({"user_id": ANN, "token_id": token["id"]}),
    );
    assert!(w.engine.authenticate(secret).is_err());
    let teams = c.call(&cat, "list_teams", 200, json!({"organization_id": ACME}));
    assert!(ids_of(&teams).contains(&TEAM_TIER1.to_string()));
    let team = c.call(
        &cat,
        "create_team",
        201,
        json!({"organization_id": ACME, "body": {"name": "Tier 2"}}),
    );
    let team_id = team["id"].as_str().unwrap().to_string();
    let got = c.call(
        &cat,
        "get_team",
        200,
        json!({"organization_id": ACME, "team_id": team_id}),
    );
    assert_eq!(got["name"], "Tier 2");
    let got = c.call(
        &cat,
        "add_team_member",
        201,
        json!({"organization_id": ACME, "team_id": team_id, "body": {"user_id": eve_id}}),
    );
    assert!(
        got["member_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(eve_id))
    );
    c.call(
        &cat,
        "remove_team_member",
        204,
        json!({"organization_id": ACME, "team_id": team_id, "user_id": eve_id}),
    );
    c.call(
        &cat,
        "delete_user",
        204,
        json!({"organization_id": ACME, "user_id": eve_id}),
    );
    let router = c.call(&cat, "create_router", 201, json!({"organization_id": ACME, "body": {"name": "Day shift", "steps": [{"user_ids": [ANN]}]}}));
    let routers = c.call(&cat, "list_routers", 200, json!({"organization_id": ACME}));
    assert!(ids_of(&routers).contains(&router["id"].as_str().unwrap().to_string()));
    let room = c.call(
        &cat,
        "create_room",
        201,
        json!({"organization_id": ACME, "body": {"name": "Billing"}}),
    );
    let room_id = room["id"].as_str().unwrap().to_string();
    let rooms = c.call(&cat, "list_rooms", 200, json!({"organization_id": ACME}));
    assert!(ids_of(&rooms).contains(&room_id));
    let got = c.call(
        &cat,
        "get_room",
        200,
        json!({"organization_id": ACME, "room_id": room_id}),
    );
    assert_eq!(got["name"], "Billing");
    let got = c.call(
        &cat,
        "update_room",
        200,
        json!({"organization_id": ACME, "room_id": room_id, "body": {"name": "Invoices"}}),
    );
    assert_eq!(got["name"], "Invoices");
    let got = c.call(
        &ann,
        "get_user_room",
        200,
        json!({"user_id": ANN, "room_id": ROOM}),
    );
    assert_eq!(got["id"], ROOM);
    let shared = c.call(
        &cat,
        "share_room",
        201,
        json!({"organization_id": ACME, "body": {"room_id": room_id, "organization_id": PARTNER}}),
    );
    assert_eq!(shared["id"], room_id.as_str());
    let shared = c.call(
        &cat,
        "share_team",
        201,
        json!({"organization_id": ACME, "body": {"team_id": team_id, "organization_id": PARTNER}}),
    );
    assert_eq!(shared["id"], team_id.as_str());
    let got = c.call(
        &ann,
        "get_room_visitor",
        200,
        json!({"user_id": ANN, "room_id": ROOM, "visitor_id": VISITOR}),
    );
    assert_eq!(got["id"], VISITOR);
    let got = c.call(&cat, "set_visitor_variable", 201, json!({"organization_id": ACME, "room_id": ROOM, "visitor_id": VISITOR, "body": {"key": "username", "value": "Vicky"}}));
    assert_eq!(got["name"], "Vicky");
    let client = c.call(
        &ann,
        "create_presence_client",
        201,
        json!({"user_id": ANN, "body": {"presence_expires_in": 60}}),
    );
    let client_id = client["id"].as_str().unwrap().to_string();
    let renewed = c.call(
        &ann,
        "renew_presence_client",
        200,
        json!({"user_id": ANN, "client_id": client_id, "body": {"presence_expires_in": 120}}),
    );
    assert_eq!(renewed["id"], client_id.as_str());
    let clients = c.call(&ann, "list_presence_clients", 200, json!({"user_id": ANN}));
    // The seed's lasting presence and the client just made.
    assert_eq!(ids_of(&clients).len(), 2);
    assert!(ids_of(&clients).contains(&client_id));
    c.call(
        &ann,
        "delete_presence_client",
        204,
        json!({"user_id": ANN, "client_id": client_id}),
    );

    // ---- invitations ----
    let inv = c.call(
        &ann,
        "create_invitation",
        201,
        json!({"user_id": ANN, "chat_id": chat_id, "body": {"invited_user_id": BOB}}),
    );
    let inv_id = inv["id"].as_str().unwrap().to_string();
    let out = c.call(
        &ann,
        "list_invitations_outgoing",
        200,
        json!({"user_id": ANN, "chat_id": chat_id, "query": {"is_accepted": "false"}}),
    );
    assert_eq!(ids_of(&out), vec![inv_id.clone()]);
    let inc = c.call(
        &bob,
        "list_invitations_incoming",
        200,
        json!({"user_id": BOB}),
    );
    assert!(ids_of(&inc).contains(&inv_id));
    let acc = c.call(
        &bob,
        "accept_invitation",
        200,
        json!({"user_id": BOB, "invitation_id": inv_id, "body": {"is_accepted": true}}),
    );
    assert_eq!(acc["is_accepted"], true);
    let inv = c.call(
        &ann,
        "create_invitation",
        201,
        json!({"user_id": ANN, "chat_id": chat_id, "body": {"invited_team_id": TEAM_TIER1}}),
    );
    let exp = c.call(&ann, "expire_invitation", 200, json!({"user_id": ANN, "chat_id": chat_id, "invitation_id": inv["id"], "body": {"is_expired": true}}));
    assert_eq!(exp["is_expired"], true);

    // ---- tags ----
    let tag = c.call(&ann, "add_tag", 201, {
        let mut a = user_chats(ANN, &chat_id);
        a["body"] = json!({"name": "Lead"});
        a
    });
    assert_eq!(tag["name"], "Lead");
    let tags = c.call(&ann, "list_tags", 200, user_chats(ANN, &chat_id));
    assert_eq!(tags["results"][0]["name"], "Lead");
    let allowed = c.call(&ann, "list_allowed_tags", 200, user_chats(ANN, &chat_id));
    assert_eq!(allowed["results"].as_array().unwrap().len(), 3);
    c.call(&ann, "remove_tag", 204, {
        let mut a = user_chats(ANN, &chat_id);
        a["tag_name"] = json!("Lead");
        a
    });
    let added = c.call(
        &cat,
        "add_room_allowed_tag",
        201,
        json!({"organization_id": ACME, "room_id": ROOM, "body": {"name": "Vip"}}),
    );
    assert_eq!(added["name"], "Vip");
    let room_tags = c.call(
        &cat,
        "list_room_allowed_tags",
        200,
        json!({"organization_id": ACME, "room_id": ROOM}),
    );
    assert_eq!(room_tags["results"].as_array().unwrap().len(), 4);

    // ---- conversation starters ----
    let starter = c.call(
        &ann,
        "create_conversation_starter",
        201,
        json!({"user_id": ANN, "body": {"language_code": "en", "message": "Hi there!"}}),
    );
    assert_eq!(starter["message"], "Hi there!");
    let starters = c.call(
        &ann,
        "list_conversation_starters",
        200,
        json!({"user_id": ANN}),
    );
    assert_eq!(starters["results"][0]["language_code"], "en");
    let changed = c.call(&ann, "update_conversation_starter", 200, json!({"user_id": ANN, "language_code": "en", "body": {"message": "Hello!"}, "partial": true}));
    assert_eq!(changed["message"], "Hello!");
    c.call(
        &ann,
        "delete_conversation_starter",
        204,
        json!({"user_id": ANN, "language_code": "en"}),
    );

    // ---- reply suggestions ----
    let visitor_msg = vmsgs["results"][0]["id"].as_str().unwrap().to_string();
    let mut on_msg = user_chats(ANN, &pending_id);
    on_msg["message_id"] = json!(visitor_msg);
    let mut args = on_msg.clone();
    args["body"] = json!({"suggestion": "Yes, how can I help?", "relevancy_score": 0.9});
    let suggestion = c.call(&ann, "create_reply_suggestion", 201, args);
    let suggestion_id = suggestion["id"].as_str().unwrap().to_string();
    let list = c.call(&ann, "list_reply_suggestions", 200, {
        let mut a = user_chats(ANN, &pending_id);
        a["query"] = json!({"ordering": "-created_at"});
        a
    });
    assert_eq!(ids_of(&list), vec![suggestion_id.clone()]);
    let list = c.call(&ann, "list_message_reply_suggestions", 200, on_msg.clone());
    assert_eq!(ids_of(&list), vec![suggestion_id.clone()]);
    let mut args = on_msg;
    args["reply_suggestion_id"] = json!(suggestion_id);
    args["body"] = json!({"relevancy_score": 0.5});
    args["partial"] = json!(true);
    let changed = c.call(&ann, "update_reply_suggestion", 200, args);
    assert_eq!(changed["relevancy_score"], 0.5);

    // ---- events and webhooks ----
    let hook = c.call(&cat, "create_webhook", 201, json!({"organization_id": ACME, "body": {"url": "http://127.0.0.1:9/hook", "channels": ["/api/v5/users/{user_id}/chats"], "secret": "s3cret", "user_id": ANN}}));
    let hook_id = hook["id"].as_str().unwrap().to_string();
    let hooks = c.call(&cat, "list_webhooks", 200, json!({"organization_id": ACME}));
    assert_eq!(ids_of(&hooks), vec![hook_id.clone()]);
    let got = c.call(
        &cat,
        "get_webhook",
        200,
        json!({"organization_id": ACME, "webhook_id": hook_id}),
    );
    assert_eq!(got["url"], "http://127.0.0.1:9/hook");
    let got = c.call(&cat, "update_webhook", 200, json!({"organization_id": ACME, "webhook_id": hook_id, "body": {"actions": ["added", "changed"]}}));
    assert_eq!(got["actions"], json!(["added", "changed"]));
    let events = c.call(
        &ann,
        "events_since",
        200,
        json!({"body": {"channels": [format!("/api/v5/users/{ANN}/chats")], "since": 0}}),
    );
    assert!(events["last_seq"].as_i64().unwrap() > 0);
    assert!(!events["events"].as_array().unwrap().is_empty());
    c.call(
        &ann,
        "send_user_message",
        200,
        json!({"user_id": ANN, "chat_id": chat_id, "body": {"message": "Still there?"}}),
    );
    let due = c.call(
        &admin,
        "webhook_deliveries_due",
        200,
        json!({"query": {"limit": 10}}),
    );
    let delivery = due[0]["id"].as_i64().unwrap();
    c.call(
        &admin,
        "record_webhook_delivery",
        204,
        json!({"body": {"delivery_id": delivery, "status": 200}}),
    );
    let history = c.call(
        &cat,
        "list_webhook_deliveries",
        200,
        json!({"organization_id": ACME, "webhook_id": hook_id}),
    );
    assert_eq!(history["results"][0]["id"], delivery);
    // A delivery the receiver refuses 20 times over more than 24 hours is failed, and may be
    // retried; the clock then goes back for the rest of the test.
    c.call(
        &ann,
        "send_user_message",
        200,
        json!({"user_id": ANN, "chat_id": chat_id, "body": {"message": "Anyone?"}}),
    );
    let before = w.engine.now_ms();
    let refused = loop {
        let due = c.call(&admin, "webhook_deliveries_due", 200, json!({}));
        let Some(d) = due.as_array().unwrap().first() else {
            break None;
        };
        c.call(
            &admin,
            "record_webhook_delivery",
            204,
            json!({"body": {"delivery_id": d["id"], "status": 500}}),
        );
        w.clock.advance_ms(2 * 3600 * 1000);
        let history = c.call(
            &cat,
            "list_webhook_deliveries",
            200,
            json!({"organization_id": ACME, "webhook_id": hook_id}),
        );
        if history["results"][0]["state"] == "failed" {
            break Some(history["results"][0].clone());
        }
    };
    w.clock.set_ms(before);
    let refused = refused.expect("a failed delivery");
    assert_eq!(refused["attempts"], 20);
    let retried = c.call(&cat, "retry_webhook_delivery", 200, json!({"organization_id": ACME, "webhook_id": hook_id, "delivery_id": refused["id"].to_string()}));
    assert_eq!(retried["state"], "pending");
    c.call(
        &cat,
        "delete_webhook",
        204,
        json!({"organization_id": ACME, "webhook_id": hook_id}),
    );

    // ---- the host: keys, presence, seed, maintenance; purges ----
    let key = json!({"organization_id": ACME, "body": {"key": "11".repeat(32)}});
    c.call(&admin, "set_organization_key", 204, key);
    assert!(w.engine.holds_organization_key(id(ACME)));
    let rotated = c.call(
        &admin,
        "rotate_organization_key",
        200,
        json!({"organization_id": ACME, "body": {"key": "22".repeat(32)}}),
    );
    assert!(rotated.is_object());
    let purged = c.call(
        &admin,
        "purge_organization_key",
        200,
        json!({"organization_id": ACME}),
    );
    assert_eq!(purged, json!({"was_held": true}));
    let status = c.call(
        &ann,
        "get_organization_key",
        200,
        json!({"organization_id": ACME}),
    );
    assert_eq!(status["held"], false);
    assert!(status["purged_at"].is_string());
    let status = c.call(
        &admin,
        "put_organization_key",
        200,
        json!({"organization_id": ACME, "body": {"key": "33".repeat(32)}}),
    );
    assert_eq!(status["held"], true);
    assert!(w.engine.holds_organization_key(id(ACME)));
    c.call(
        &admin,
        "delete_organization_key",
        204,
        json!({"organization_id": ACME}),
    );
    assert!(!w.engine.holds_organization_key(id(ACME)));
    c.call(
        &admin,
        "set_user_presence",
        204,
        json!({"user_id": DAN, "body": {"ttl_s": 60}}),
    );
    c.call(
        &admin,
        "set_visitor_presence",
        204,
        json!({"visitor_id": VISITOR2, "body": {"ttl_s": 0}}),
    );
    let seeded = c.call(&admin, "load_seed", 200, json!({"body": {"organizations": [{"id": "5d1c4a8e-2f3b-4c5d-8e9f-0a1b2c3d4e5f", "name": "Seeded"}]}}));
    assert!(seeded.is_object());
    assert_eq!(
        c.call(
            &admin,
            "get_organization",
            200,
            json!({"organization_id": "5d1c4a8e-2f3b-4c5d-8e9f-0a1b2c3d4e5f"})
        )["name"],
        "Seeded"
    );
    let report = c.call(&admin, "maintenance", 200, json!({}));
    assert!(report.is_object());
    let end = c.call(&ann, "update_chat", 200, {
        let mut a = user_chats(ANN, &chat_id);
        a["body"] = json!({"is_ended": true});
        a
    });
    assert_eq!(end["is_ended"], true);
    let purge = c.call(
        &cat,
        "purge_chat_sensitive_data",
        200,
        json!({"chat_id": chat_id}),
    );
    assert!(purge.is_object());
    let purge = c.call(
        &cat,
        "purge_visitor_sensitive_data",
        200,
        json!({"visitor_id": VISITOR2}),
    );
    assert!(purge.is_object());

    let registry: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.name).collect();
    let missed: Vec<&&str> = registry.difference(&c.called).collect();
    assert!(
        missed.is_empty(),
        "operations this test does not call: {missed:?}"
    );
    assert_eq!(c.called, registry);
}
