//! `chat-server demo`: a fresh demo organization created through core operations, and the
//! text that shows its tokens and a few `curl` lines to try.

use chat_core::api::{self, Reply};
use chat_core::{Actor, ChatError, Engine};
use serde_json::{Value, json};

fn call(engine: &Engine, actor: &Actor, op: &str, args: Value) -> Result<Value, ChatError> {
    let Reply { body, .. } = api::call(engine, actor, op, &args)?;
    Ok(body)
}

fn field(v: &Value, key: &str) -> Result<String, ChatError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ChatError::internal(format!("demo: the reply has no \"{key}\"")))
}

/// Creates the demo world and returns what to print. `base` is the server's URL.
pub fn setup(
    engine: &Engine,
    base: &str,
    admin_token: &str,
    db: &str,
) -> Result<String, ChatError> {
    let admin = Actor::Admin;
    let org = call(
        engine,
        &admin,
        "create_organization",
        json!({"body": {"name": "Demo Org", "encrypt_chats": true}}),
    )?;
    let org_id = field(&org, "id")?;
    let ann = call(
        engine,
        &admin,
        "create_user",
        json!({"organization_id": org_id, "body": {"first_name": "Ann", "last_name": "Lee",
            "alias": "Support", "permissions": ["reports", "settings"]}}),
    )?;
    let bob = call(
        engine,
        &admin,
        "create_user",
        json!({"organization_id": org_id, "body": {"first_name": "Bob", "last_name": "Stone"}}),
    )?;
    let (ann_id, bob_id) = (field(&ann, "id")?, field(&bob, "id")?);
    let room = call(
        engine,
        &admin,
        "create_room",
        json!({"organization_id": org_id, "body": {"name": "Support", "language_code": "en"}}),
    )?;
    let room_id = field(&room, "id")?;
    let mut tokens = vec![];
    for user in [&ann_id, &bob_id] {
        // Present until changed: the operators are online for the demo.
        call(
            engine,
            &admin,
            "set_user_presence",
            json!({"user_id": user, "body": {"ttl_s": null}}),
        )?;
        let t = call(engine, &admin, "create_api_token", json!({"user_id": user}))?;
        tokens.push(field(&t, "token")?);
    }
    let auth = call(
        engine,
        &admin,
        "visitor_auth",
        json!({"organization_id": org_id, "body": {}}),
    )?;
    let visitor_id = field(&auth, "visitor_id")?;
    let visitor_token = field(&auth, "access_token")?;
    let visitor = engine.authenticate(&visitor_token)?;
    call(
        engine,
        &visitor,
        "visitor_enter_room",
        json!({"organization_id": org_id, "room_id": room_id,
               "body": {"id": visitor_id, "presence_expires_in": 86400}}),
    )?;
    let chat = call(
        engine,
        &visitor,
        "visitor_start_chat",
        json!({"organization_id": org_id, "room_id": room_id, "visitor_id": visitor_id}),
    )?;
    let chat_id = field(&chat, "id")?;
    call(
        engine,
        &visitor,
        "visitor_send_message",
        json!({"visitor_id": visitor_id, "chat_id": chat_id,
               "body": {"type": "msg", "message": "Hi! I have a question about my order."}}),
    )?;

    let api = format!("{}/api/v5", base.trim_end_matches('/'));
    let ann_h = format!("-H 'Authorization: Token {}'", tokens[0]);
    let vis_h = format!("-H 'Authorization: Bearer {visitor_token}'");
    let json_h = "-H 'Content-Type: application/json'";
    let curls = [
        (
            "Ann's pending chats (the visitor is waiting)",
            format!("curl -sS -f {ann_h} '{api}/users/{ann_id}/pending_chats'"),
        ),
        (
            "Ann joins the chat",
            format!(
                "curl -sS -f -X POST {ann_h} {json_h} -d '{{\"is_participating\": true, \"composing_status\": \"idle\"}}' '{api}/users/{ann_id}/pending_chats/{chat_id}/memberships'"
            ),
        ),
        (
            "Ann replies",
            format!(
                "curl -sS -f -X POST {ann_h} {json_h} -d '{{\"message\": \"Hello! How can I help you?\"}}' '{api}/users/{ann_id}/chats/{chat_id}/messages'"
            ),
        ),
        (
            "The visitor reads the chat",
            format!(
                "curl -sS -f {vis_h} '{api}/public/visitors/{visitor_id}/chats/{chat_id}/messages'"
            ),
        ),
        (
            "The visitor answers",
            format!(
                "curl -sS -f -X POST {vis_h} {json_h} -d '{{\"type\": \"msg\", \"message\": \"Where is order 42?\"}}' '{api}/public/visitors/{visitor_id}/chats/{chat_id}/messages'"
            ),
        ),
        (
            "The organization's chats",
            format!("curl -sS -f {ann_h} '{api}/orgs/{org_id}/owned_chats'"),
        ),
        (
            "The organization's key: held by the server, chats encrypted (never shows the key)",
            format!("curl -sS -f {ann_h} '{api}/orgs/{org_id}/encryption_key'"),
        ),
        (
            "Ann ends the chat",
            format!(
                "curl -sS -f -X PATCH {ann_h} {json_h} -d '{{\"is_ended\": true}}' '{api}/users/{ann_id}/chats/{chat_id}'"
            ),
        ),
    ];
    let mut out = String::new();
    out.push_str(&format!(
        "Demo organization \"Demo Org\" {org_id} (database {db}; its chats are encrypted)\n"
    ));
    out.push_str(&format!("  server admin token   {admin_token}\n"));
    out.push_str(&format!(
        "  Ann Lee (reports, settings)  user {ann_id}  token {}\n",
        tokens[0]
    ));
    out.push_str(&format!(
        "  Bob Stone                    user {bob_id}  token {}\n",
        tokens[1]
    ));
    out.push_str(&format!("  room Support                 {room_id}\n"));
    out.push_str(&format!(
        "  visitor                      {visitor_id}  token {visitor_token}\n"
    ));
    out.push_str(&format!("  waiting chat                 {chat_id}\n"));
    out.push_str(&format!(
        "  API description              {api}/openapi.json\n\nTry:\n"
    ));
    for (what, line) in curls {
        out.push_str(&format!("# {what}\n{line}\n"));
    }
    out.push('\n');
    out.push_str(&crate::web::demo_links(base, &tokens[0], &org_id, &room_id));
    Ok(out)
}
