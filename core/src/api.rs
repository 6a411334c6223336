//! One JSON entry point for every operation, shared by every surface (HTTP server, C ABI,
//! WebAssembly): `call(engine, actor, "op_name", args)` → `Reply { status, body }`.
//!
//! `args` is a JSON object: path ids at the top level (`"user_id"`, `"chat_id"`, ...), a chat
//! scope in `"scope"` where the operation takes one, query parameters in `"query"` (strings or
//! typed values) and the request payload in `"body"`. Ids that do not parse are 404 (the
//! resource cannot exist); bad payloads are 400 with field errors. The operation table
//! [`OPERATIONS`] names every operation with its documentation.

use crate::auth::Actor;
use crate::chats::{ChatListParams, ChatScope};
use crate::directory::seed::{Seed, parse_visitor_id};
use crate::engine::Engine;
use crate::error::{ChatError, ErrorCode, Result};
use crate::idempotency as idem;
use crate::input::from_value;
use crate::memberships::MembershipInput;
use crate::messages::MessageListParams;
use crate::pagination::PageRequest;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The result of a call: the HTTP-equivalent status and the JSON body (`null` for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// One operation of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpSpec {
    pub name: &'static str,
    /// Which args it reads, for documentation and generated bindings.
    pub args: &'static str,
    pub summary: &'static str,
}

macro_rules! ops {
    ($( $name:literal, $args:literal, $summary:literal; )*) => {
        /// Every operation `call` accepts.
        pub const OPERATIONS: &[OpSpec] = &[ $( OpSpec { name: $name, args: $args, summary: $summary } ),* ];
    };
}

ops! {
    "list_chats", "scope, query{ordering,is_waiting,is_ended,has_messages,has_user_messages,has_visitor_messages,created_at_after,created_at_before,is_participating,cursor,page_size}", "A chat collection of a scope.";
    "get_chat", "scope, chat_id", "One chat of a scope.";
    "update_chat", "scope(owned|user_chats), chat_id, body{is_ended,is_waiting}", "End a chat or set it not waiting.";
    "create_visitor_chat", "user_id, room_id, visitor_id, body?", "Start or resume a chat with a visitor (201 new, 200 resumed).";
    "create_user_chat", "user_id, body?{room_id,chat_type}", "Start an empty chat for a user.";
    "list_memberships", "scope, chat_id, query{cursor,page_size}", "Memberships of a chat.";
    "list_user_memberships", "user_id, query{is_participating}", "A user's chat memberships.";
    "list_visitor_chat_memberships", "user_id, chat_id, visitor_id", "A visitor's membership in a user's chat.";
    "join_pending_chat", "user_id, chat_id, body{is_participating,composing_status}", "Join a pending chat.";
    "join_routed_chat", "user_id, chat_id, body{is_participating,composing_status}", "Join a routed chat.";
    "join_org_chat", "scope(owned|involved|org_routed), chat_id, body{member_id,is_participating,composing_status}", "Add an organization user to a chat (201 new, 200 existing).";
    "update_user_membership", "user_id, chat_id, body, partial?", "Update a user's membership (PUT, or PATCH with partial=true).";
    "list_messages", "scope, chat_id, query{type__in,type__not_in,cursor,page_size}", "Messages of a chat, newest first.";
    "get_message", "scope, chat_id, message_id", "One message.";
    "send_user_message", "user_id, chat_id, body", "Send a msg as a user.";
    "send_autosuggest", "user_id, chat_id, body{message,url,url_title}", "Send an autosuggestion.";
    "visitor_auth", "organization_id, body{visitor_secret_id}", "Public: authenticate a visitor.";
    "visitor_enter_room", "organization_id, room_id, body{id,presence_expires_in}", "Public: a visitor enters a room (201 new, 200 existing).";
    "visitor_start_chat", "organization_id, room_id, visitor_id", "Public: start or resume the visitor's chat (201/200).";
    "visitor_get_chat", "visitor_id, chat_id", "Public: the visitor's chat.";
    "visitor_list_messages", "visitor_id, chat_id, query", "Public: messages of the visitor's chat.";
    "visitor_send_message", "visitor_id, chat_id, body{type,message,url,url_title,response_to_*,response_text}", "Public: a visitor's message or response.";
    "visitor_get_membership", "visitor_id, chat_id", "Public: the visitor's membership.";
    "visitor_update_membership", "visitor_id, chat_id, body, partial?", "Public: update the visitor's membership.";
    "create_organization", "body", "Admin: create an organization.";
    "get_organization", "organization_id", "An organization.";
    "update_organization", "organization_id, body", "Update organization settings.";
    "list_users", "organization_id, query", "Users of an organization.";
    "create_user", "organization_id, body", "Create a user.";
    "get_user", "organization_id, user_id", "A user.";
    "update_user", "organization_id, user_id, body", "Update a user.";
    "delete_user", "organization_id, user_id", "Delete (deactivate) a user.";
    "me", "", "The acting user.";
    "create_api_token", "user_id", "A new API token (shown once).";
    "revoke_api_token", "user_id, token_id", "Revoke an API token.";
    "list_teams", "organization_id, query", "Teams of an organization.";
    "create_team", "organization_id, body", "Create a team.";
    "get_team", "organization_id, team_id", "A team.";
    "add_team_member", "organization_id, team_id, body{user_id}", "Add a user to a team.";
    "remove_team_member", "organization_id, team_id, user_id", "Remove a user from a team.";
    "list_routers", "organization_id", "Routers of an organization.";
    "create_router", "organization_id, body", "Create a router.";
    "list_rooms", "organization_id, query", "Rooms of an organization.";
    "create_room", "organization_id, body", "Create a room.";
    "get_room", "organization_id, room_id", "A room.";
    "update_room", "organization_id, room_id, body", "Update a room (router, allowed tags, ttl, shares).";
    "get_user_room", "user_id, room_id", "A room as seen by a user.";
    "share_room", "organization_id, body{room_id? , organization_id}", "Share a room with a partner.";
    "share_team", "organization_id, body{team_id, organization_id}", "Share a team with a partner.";
    "get_room_visitor", "user_id, room_id, visitor_id", "A visitor of a room.";
    "set_visitor_variable", "organization_id, room_id, visitor_id, body{key,value}", "Set a visitor variable (username sets the name).";
    "create_presence_client", "user_id, body{presence_expires_in}", "A presence client for a user.";
    "renew_presence_client", "user_id, client_id, body{presence_expires_in}", "Renew a presence client.";
    "delete_presence_client", "user_id, client_id", "End a presence client.";
    "list_invitations_outgoing", "user_id, chat_id, query{is_accepted,is_expired}", "Outgoing invitations of a chat.";
    "create_invitation", "user_id, chat_id, body{invited_user_id|invited_team_id|invited_organization_id}", "Invite a user, team or partner organization (201 new, 200 already pending).";
    "expire_invitation", "user_id, chat_id, invitation_id, body{is_expired:true}", "Expire an outgoing invitation.";
    "list_invitations_incoming", "user_id, query{is_accepted,is_expired}", "Invitations to the user, their teams and organization.";
    "accept_invitation", "user_id, chat_id?, invitation_id, body{is_accepted:true}", "Accept an incoming invitation.";
    "list_tags", "scope(user_chats|owned|involved|org_routed), chat_id", "Tags of a chat.";
    "list_allowed_tags", "scope(user_chats|owned|involved|org_routed), chat_id", "Tags allowed by the chat's room.";
    "add_tag", "scope(user_chats|owned|involved|org_routed), chat_id, body{name}", "Tag a chat (201 new, 200 existing).";
    "remove_tag", "scope(user_chats|owned|involved|org_routed), chat_id, tag_name (decoded)", "Remove a tag.";
    "list_room_allowed_tags", "organization_id, room_id", "A room's allowed tags.";
    "add_room_allowed_tag", "organization_id, room_id, body{name}", "Allow one more tag in a room (201 new, 200 existing; settings).";
    "list_conversation_starters", "user_id", "A user's conversation starters.";
    "create_conversation_starter", "user_id, body{language_code,message}", "Add a conversation starter.";
    "update_conversation_starter", "user_id, language_code, body, partial?", "Update a conversation starter.";
    "delete_conversation_starter", "user_id, language_code", "Delete a conversation starter.";
    "list_reply_suggestions", "scope(user_chats|user_routed), chat_id, query{ordering}", "Reply suggestions of a chat.";
    "list_message_reply_suggestions", "scope(user_chats|user_routed), chat_id, message_id, query{ordering}", "Reply suggestions of a message.";
    "create_reply_suggestion", "scope(user_chats|user_routed), chat_id, message_id, body{suggestion,relevancy_score}", "Suggest a reply to a message.";
    "update_reply_suggestion", "scope(user_chats|user_routed), chat_id, message_id, reply_suggestion_id, body, partial?", "Update a reply suggestion.";
    "set_organization_key", "organization_id, body{key: 64 hex}", "Host: give the engine an organization's key-encryption key.";
    "rotate_organization_key", "organization_id, body{key: 64 hex}", "Host: rotate an organization's key (rewraps chat keys).";
    "purge_organization_key", "organization_id", "Host: forget an organization's key.";
    "purge_chat_sensitive_data", "chat_id", "Purge a chat's sensitive data (settings permission).";
    "purge_visitor_sensitive_data", "visitor_id", "Purge a visitor's sensitive data (settings permission).";
    "set_user_presence", "user_id, body{ttl_s|null}", "Host: set a user's presence.";
    "set_visitor_presence", "visitor_id, body{ttl_s|null}", "Host: set a visitor's presence.";
    "load_seed", "body (seed file)", "Host: load a seed.";
    "maintenance", "", "Host: apply time-driven rules now.";
    "events_since", "body{channels: [path or pattern with *], since: seq|null, limit?}", "Events after a seq on channels the actor may read: {events, last_seq, resync?}.";
    "list_webhooks", "organization_id", "Webhooks of an organization (settings).";
    "create_webhook", "organization_id, body{url,channels,actions?,secret,user_id?}", "Register a webhook (settings).";
    "get_webhook", "organization_id, webhook_id", "A webhook (settings).";
    "update_webhook", "organization_id, webhook_id, body{url?,channels?,actions?,secret?}", "Update a webhook (settings).";
    "delete_webhook", "organization_id, webhook_id", "Delete a webhook and its deliveries (settings).";
    "list_webhook_deliveries", "organization_id, webhook_id, query{cursor,page_size}", "A webhook's delivery history, newest first (settings).";
    "webhook_deliveries_due", "query{limit}", "Host: deliveries to POST now (url, body, headers).";
    "record_webhook_delivery", "body{delivery_id, status|null, error?}", "Host: the result of a delivery attempt.";
}

fn obj(args: &Value) -> Result<&Map<String, Value>> {
    args.as_object()
        .ok_or_else(|| ChatError::parse("Arguments must be a JSON object."))
}

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str> {
    match obj(args)?.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ChatError::field(key, "Must be a string.")),
        None => Err(ChatError::required(key)),
    }
}

/// The resource name used in "not found" sentences for an id argument.
fn noun(key: &str) -> String {
    let base = key.trim_end_matches("_id");
    let mut s = base.replace('_', " ");
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

/// A UUID id argument; one that cannot parse names nothing: 404.
pub fn id(args: &Value, key: &str) -> Result<Uuid> {
    let s = text(args, key)?;
    Uuid::try_parse(s).map_err(|_| ChatError::not_found(&noun(key)))
}

/// A visitor id argument: 32 lowercase hex characters, else 404.
pub fn visitor(args: &Value, key: &str) -> Result<Uuid> {
    let s = text(args, key)?;
    parse_visitor_id(s).ok_or_else(|| ChatError::not_found("Visitor"))
}

fn section(args: &Value, key: &str) -> Value {
    args.get(key)
        .cloned()
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// Query parameters as typed JSON: "true"/"false" become booleans and `page_size` a number,
/// so that URL query strings and typed callers meet the same parameter types.
fn query(args: &Value) -> Value {
    let mut q = section(args, "query");
    if let Some(m) = q.as_object_mut() {
        for (k, v) in m.iter_mut() {
            if let Value::String(s) = v {
                match s.as_str() {
                    "true" | "True" => *v = Value::Bool(true),
                    "false" | "False" => *v = Value::Bool(false),
                    _ if k == "page_size" => {
                        if let Ok(n) = s.parse::<i64>() {
                            *v = Value::from(n);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    q
}

fn page(args: &Value) -> Result<PageRequest> {
    let q = query(args);
    let cursor = match q.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ChatError::field("cursor", "Invalid cursor.")),
    };
    let page_size = match q.get("page_size") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Some(n.min(u32::MAX as i64) as u32),
            _ => {
                return Err(ChatError::field(
                    "page_size",
                    "A valid integer of at least 1 is required.",
                ));
            }
        },
    };
    Ok(PageRequest { cursor, page_size })
}

/// Query parameters into a params struct, ignoring the pagination keys.
fn params<T: serde::de::DeserializeOwned>(args: &Value, allowed: &[&str]) -> Result<T> {
    let mut q = query(args);
    if let Some(m) = q.as_object_mut() {
        m.retain(|k, _| allowed.contains(&k.as_str()));
    }
    from_value(q)
}

fn body<T: serde::de::DeserializeOwned>(args: &Value) -> Result<T> {
    match obj(args)?.get("body") {
        None | Some(Value::Null) => from_value(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => from_value(v.clone()),
        Some(_) => Err(ChatError::parse("The payload must be a JSON object.")),
    }
}

fn flag(args: &Value, key: &str) -> bool {
    args.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A chat scope from `"scope"` and its ids.
pub fn scope(args: &Value) -> Result<ChatScope> {
    let kind = text(args, "scope")?;
    Ok(match kind {
        "room" => ChatScope::Room {
            organization_id: id(args, "organization_id")?,
            room_id: id(args, "room_id")?,
        },
        "room_pending" => ChatScope::RoomPending {
            organization_id: id(args, "organization_id")?,
            room_id: id(args, "room_id")?,
        },
        "room_visitor" => ChatScope::RoomVisitor {
            organization_id: id(args, "organization_id")?,
            room_id: id(args, "room_id")?,
            visitor_id: visitor(args, "visitor_id")?,
        },
        "owned" => ChatScope::Owned {
            organization_id: id(args, "organization_id")?,
        },
        "involved" => ChatScope::Involved {
            organization_id: id(args, "organization_id")?,
        },
        "org_routed" => ChatScope::OrgRouted {
            organization_id: id(args, "organization_id")?,
        },
        "user_pending" => ChatScope::UserPending {
            user_id: id(args, "user_id")?,
        },
        "user_routed" => ChatScope::UserRouted {
            user_id: id(args, "user_id")?,
        },
        "user_chats" => ChatScope::UserChats {
            user_id: id(args, "user_id")?,
        },
        "user_room_visitor" => ChatScope::UserRoomVisitor {
            user_id: id(args, "user_id")?,
            room_id: id(args, "room_id")?,
            visitor_id: visitor(args, "visitor_id")?,
        },
        other => {
            return Err(ChatError::field(
                "scope",
                format!("Unknown scope \"{other}\"."),
            ));
        }
    })
}

fn json<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| ChatError::internal(format!("serialization failed: {e}")))
}

fn ok<T: Serialize>(v: T) -> Result<Reply> {
    Ok(Reply {
        status: 200,
        body: json(&v)?,
    })
}

fn created<T: Serialize>(v: T) -> Result<Reply> {
    Ok(Reply {
        status: 201,
        body: json(&v)?,
    })
}

fn created_if<T: Serialize>((v, new): (T, bool)) -> Result<Reply> {
    Ok(Reply {
        status: if new { 201 } else { 200 },
        body: json(&v)?,
    })
}

fn no_content(_: ()) -> Result<Reply> {
    Ok(Reply {
        status: 204,
        body: Value::Null,
    })
}

fn admin(actor: &Actor) -> Result<()> {
    if *actor == Actor::Admin {
        Ok(())
    } else {
        Err(ChatError::permission_denied(
            "Only the host (server administrator) may do this.",
        ))
    }
}

fn ttl(args: &Value) -> Result<Option<i64>> {
    match section(args, "body").get("ttl_s") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ChatError::field("ttl_s", "A valid integer is required.")),
    }
}

/// A 256-bit key given as 64 hex characters in `body.key`.
fn org_key(args: &Value) -> Result<[u8; 32]> {
    let b = section(args, "body");
    let hex_key = b
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| ChatError::required("key"))?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut key)
        .map_err(|_| ChatError::field("key", "A key is 64 hexadecimal characters (256 bits)."))?;
    Ok(key)
}

const CHAT_QUERY: &[&str] = &[
    "ordering",
    "is_waiting",
    "is_ended",
    "has_messages",
    "has_user_messages",
    "has_visitor_messages",
    "created_at_after",
    "created_at_before",
    "is_participating",
];
const MESSAGE_QUERY: &[&str] = &["type__in", "type__not_in"];

/// Runs one operation as `actor`. A creating operation with `"idempotency_key"` in its args
/// is idempotent (see [`crate::idempotency`]).
pub fn call(engine: &Engine, actor: &Actor, op: &str, args: &Value) -> Result<Reply> {
    match args.get("idempotency_key") {
        None | Some(Value::Null) => dispatch(engine, actor, op, args),
        Some(Value::String(key)) if idem::CREATING_OPS.contains(&op) => {
            idempotent_call(engine, actor, op, args, key)
        }
        Some(Value::String(_)) => dispatch(engine, actor, op, args),
        Some(_) => Err(ChatError::field("idempotency_key", "Must be a string.")),
    }
}

/// The stored reply of a key. A claim whose reply is not stored yet belongs to a call still
/// finishing: wait for it. `claimed` says the caller saw the key taken inside a write: the
/// claim may not be visible to readers yet (its transaction — under group commit, the group's
/// — has not committed), so "no record" means "not yet", not "none".
fn stored_reply(
    engine: &Engine,
    actor: &str,
    key: &str,
    hash: &[u8],
    claimed: bool,
) -> Result<Option<Reply>> {
    for _ in 0..250 {
        let Some(rec) = engine.idempotency_lookup(actor, key)? else {
            if !claimed {
                return Ok(None);
            }
            #[cfg(target_arch = "wasm32")]
            return Err(idem::taken());
            #[cfg(not(target_arch = "wasm32"))]
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
        };
        if rec.request_hash != hash {
            return Err(idem::reused());
        }
        if let (Some(status), Some(body)) = (rec.status, rec.body) {
            let body: Value = serde_json::from_str(&body)?;
            return Ok(Some(Reply {
                status: u16::try_from(status).unwrap_or(200),
                body,
            }));
        }
        // Single-threaded targets (WebAssembly) cannot have a call in flight, nor sleep.
        #[cfg(target_arch = "wasm32")]
        return Err(idem::taken());
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(idem::taken())
}

fn idempotent_call(
    engine: &Engine,
    actor: &Actor,
    op: &str,
    args: &Value,
    key: &str,
) -> Result<Reply> {
    idem::check_key(key)?;
    let who = idem::actor_key(actor);
    let hash = idem::request_hash(op, args);
    if let Some(r) = stored_reply(engine, &who, key, &hash, false)? {
        return Ok(r);
    }
    let previous = idem::set_claim(Some(idem::Claim {
        actor: who.clone(),
        key: key.to_string(),
        hash: hash.clone(),
        outcome: None,
    }));
    let out = dispatch(engine, actor, op, args);
    let claim = idem::set_claim(previous);
    match (out, claim.and_then(|c| c.outcome)) {
        (Ok(reply), Some(true)) => {
            engine.idempotency_complete(&who, key, reply.status, &reply.body.to_string())?;
            Ok(reply)
        }
        (Ok(reply), _) => Ok(reply),
        (Err(_), Some(false)) => {
            stored_reply(engine, &who, key, &hash, true)?.ok_or_else(idem::taken)
        }
        (Err(e), _) => Err(e),
    }
}

fn dispatch(engine: &Engine, actor: &Actor, op: &str, args: &Value) -> Result<Reply> {
    let e = engine;
    let a = actor;
    match op {
        "list_chats" => {
            let p: ChatListParams = params(args, CHAT_QUERY)?;
            ok(e.list_chats(a, scope(args)?, &p, &page(args)?)?)
        }
        "get_chat" => ok(e.get_chat(a, scope(args)?, id(args, "chat_id")?)?),
        "update_chat" => ok(e.update_chat(a, scope(args)?, id(args, "chat_id")?, body(args)?)?),
        "create_visitor_chat" => created_if(e.create_visitor_chat(
            a,
            id(args, "user_id")?,
            id(args, "room_id")?,
            visitor(args, "visitor_id")?,
            body(args)?,
        )?),
        "create_user_chat" => created(e.create_user_chat(a, id(args, "user_id")?, body(args)?)?),
        "list_memberships" => {
            ok(e.list_memberships(a, scope(args)?, id(args, "chat_id")?, &page(args)?)?)
        }
        "list_user_memberships" => {
            #[derive(serde::Deserialize)]
            struct Q {
                is_participating: Option<bool>,
            }
            let q: Q = params(args, &["is_participating"])?;
            ok(e.list_user_memberships(a, id(args, "user_id")?, q.is_participating, &page(args)?)?)
        }
        "list_visitor_chat_memberships" => ok(e.list_visitor_chat_memberships(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            visitor(args, "visitor_id")?,
            &page(args)?,
        )?),
        "join_pending_chat" => created(e.join_pending(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            body::<MembershipInput>(args)?,
        )?),
        "join_routed_chat" => created(e.join_routed(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            body::<MembershipInput>(args)?,
        )?),
        "join_org_chat" => {
            created_if(e.join_org(a, scope(args)?, id(args, "chat_id")?, body(args)?)?)
        }
        "update_user_membership" => ok(e.update_user_membership(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            body(args)?,
            flag(args, "partial"),
        )?),
        "list_messages" => {
            let p: MessageListParams = params(args, MESSAGE_QUERY)?;
            ok(e.list_messages(a, scope(args)?, id(args, "chat_id")?, &p, &page(args)?)?)
        }
        "get_message" => ok(e.get_message(
            a,
            scope(args)?,
            id(args, "chat_id")?,
            id(args, "message_id")?,
        )?),
        "send_user_message" => {
            ok(e.send_user_message(a, id(args, "user_id")?, id(args, "chat_id")?, body(args)?)?)
        }
        "send_autosuggest" => created(e.send_autosuggest(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            body(args)?,
        )?),
        "visitor_auth" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct B {
                visitor_secret_id: Option<String>,
            }
            let b: B = body(args)?;
            ok(e.visitor_auth(id(args, "organization_id")?, b.visitor_secret_id.as_deref())?)
        }
        "visitor_enter_room" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct B {
                id: Option<String>,
                presence_expires_in: Option<i64>,
            }
            let b: B = body(args)?;
            let vid = match b.id {
                Some(v) => parse_visitor_id(&v).ok_or_else(|| {
                    ChatError::field("id", "A visitor id is 32 lowercase hex characters.")
                })?,
                None => return Err(ChatError::required("id")),
            };
            created_if(e.visitor_enter_room(
                a,
                id(args, "organization_id")?,
                id(args, "room_id")?,
                vid,
                b.presence_expires_in,
            )?)
        }
        "visitor_start_chat" => created_if(e.visitor_start_chat(
            a,
            id(args, "organization_id")?,
            id(args, "room_id")?,
            visitor(args, "visitor_id")?,
        )?),
        "visitor_get_chat" => {
            ok(e.visitor_get_chat(a, visitor(args, "visitor_id")?, id(args, "chat_id")?)?)
        }
        "visitor_list_messages" => {
            let p: MessageListParams = params(args, MESSAGE_QUERY)?;
            ok(e.list_visitor_messages(
                a,
                visitor(args, "visitor_id")?,
                id(args, "chat_id")?,
                &p,
                &page(args)?,
            )?)
        }
        "visitor_send_message" => created(e.send_visitor_message(
            a,
            visitor(args, "visitor_id")?,
            id(args, "chat_id")?,
            body(args)?,
        )?),
        "visitor_get_membership" => {
            ok(e.visitor_membership(a, visitor(args, "visitor_id")?, id(args, "chat_id")?)?)
        }
        "visitor_update_membership" => ok(e.update_visitor_membership(
            a,
            visitor(args, "visitor_id")?,
            id(args, "chat_id")?,
            body(args)?,
            flag(args, "partial"),
        )?),
        "create_organization" => created(e.create_organization(a, body(args)?)?),
        "get_organization" => ok(e.get_organization(a, id(args, "organization_id")?)?),
        "update_organization" => {
            ok(e.update_organization(a, id(args, "organization_id")?, body(args)?)?)
        }
        "list_users" => ok(e.list_users(a, id(args, "organization_id")?, &page(args)?)?),
        "create_user" => {
            let mut b: crate::directory::NewUser = body(args)?;
            // Fixed tokens are for seed files only; over an API a token is created by the engine.
            if b.api_token.take().is_some() {
                return Err(ChatError::field(
                    "api_token",
                    "Use the api_tokens endpoint to create tokens.",
                ));
            }
            created(e.create_user(a, id(args, "organization_id")?, b)?)
        }
        "get_user" => ok(e.get_user(a, id(args, "organization_id")?, id(args, "user_id")?)?),
        "update_user" => ok(e.update_user(
            a,
            id(args, "organization_id")?,
            id(args, "user_id")?,
            body(args)?,
        )?),
        "delete_user" => {
            no_content(e.delete_user(a, id(args, "organization_id")?, id(args, "user_id")?)?)
        }
        "me" => ok(e.me(a)?),
        "create_api_token" => created(e.create_api_token(a, id(args, "user_id")?)?),
        "revoke_api_token" => {
            no_content(e.revoke_api_token(a, id(args, "user_id")?, id(args, "token_id")?)?)
        }
        "list_teams" => ok(e.list_teams(a, id(args, "organization_id")?, &page(args)?)?),
        "create_team" => created(e.create_team(a, id(args, "organization_id")?, body(args)?)?),
        "get_team" => ok(e.get_team(a, id(args, "organization_id")?, id(args, "team_id")?)?),
        "add_team_member" => {
            let user = id(&section(args, "body"), "user_id").map_err(|err| {
                if err.code == ErrorCode::NotFound {
                    ChatError::field("user_id", "Must be a valid UUID.")
                } else {
                    err
                }
            })?;
            created(e.set_team_membership(
                a,
                id(args, "organization_id")?,
                id(args, "team_id")?,
                user,
                true,
            )?)
        }
        "remove_team_member" => {
            e.set_team_membership(
                a,
                id(args, "organization_id")?,
                id(args, "team_id")?,
                id(args, "user_id")?,
                false,
            )?;
            no_content(())
        }
        "list_routers" => {
            let routers = e.list_routers(a, id(args, "organization_id")?)?;
            ok(serde_json::json!({ "next": null, "previous": null, "results": routers }))
        }
        "create_router" => {
            created(e.create_router(a, id(args, "organization_id")?, body(args)?)?)
        }
        "list_rooms" => ok(e.list_rooms(a, id(args, "organization_id")?, &page(args)?)?),
        "create_room" => created(e.create_room(a, id(args, "organization_id")?, body(args)?)?),
        "get_room" => ok(e.get_room(a, id(args, "organization_id")?, id(args, "room_id")?)?),
        "update_room" => ok(e.update_room(
            a,
            id(args, "organization_id")?,
            id(args, "room_id")?,
            body(args)?,
        )?),
        "get_user_room" => ok(e.get_user_room(a, id(args, "user_id")?, id(args, "room_id")?)?),
        "share_room" | "share_team" => {
            let b = section(args, "body");
            let partner = id(&b, "organization_id").map_err(|err| {
                if err.code == ErrorCode::NotFound {
                    ChatError::field("organization_id", "Must be a valid UUID.")
                } else {
                    err
                }
            })?;
            let org = id(args, "organization_id")?;
            if op == "share_room" {
                let room = id(&b, "room_id").or_else(|_| id(args, "room_id"))?;
                created(e.share_room(a, org, room, partner)?)
            } else {
                let team = id(&b, "team_id").or_else(|_| id(args, "team_id"))?;
                created(e.share_team(a, org, team, partner)?)
            }
        }
        "get_room_visitor" => ok(e.get_room_visitor(
            a,
            id(args, "user_id")?,
            id(args, "room_id")?,
            visitor(args, "visitor_id")?,
        )?),
        "set_visitor_variable" => created(e.set_visitor_variable(
            a,
            id(args, "organization_id")?,
            id(args, "room_id")?,
            visitor(args, "visitor_id")?,
            body(args)?,
        )?),
        "create_presence_client" => {
            created(e.create_presence_client(a, id(args, "user_id")?, body(args)?)?)
        }
        "renew_presence_client" => ok(e.renew_presence_client(
            a,
            id(args, "user_id")?,
            id(args, "client_id")?,
            body(args)?,
        )?),
        "delete_presence_client" => {
            no_content(e.delete_presence_client(a, id(args, "user_id")?, id(args, "client_id")?)?)
        }
        "list_invitations_outgoing" => {
            let p: crate::invitations::InvitationListParams =
                params(args, &["is_accepted", "is_expired"])?;
            ok(e.list_outgoing_invitations(
                a,
                id(args, "user_id")?,
                id(args, "chat_id")?,
                &p,
                &page(args)?,
            )?)
        }
        "create_invitation" => created_if(e.send_invitation(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            body(args)?,
        )?),
        "expire_invitation" => ok(e.expire_invitation(
            a,
            id(args, "user_id")?,
            id(args, "chat_id")?,
            id(args, "invitation_id")?,
            body(args)?,
        )?),
        "list_invitations_incoming" => {
            let p: crate::invitations::InvitationListParams =
                params(args, &["is_accepted", "is_expired"])?;
            ok(e.list_incoming_invitations(a, id(args, "user_id")?, &p, &page(args)?)?)
        }
        "accept_invitation" => {
            let chat = if args.get("chat_id").is_some() {
                Some(id(args, "chat_id")?)
            } else {
                None
            };
            ok(e.accept_invitation(
                a,
                id(args, "user_id")?,
                chat,
                id(args, "invitation_id")?,
                body(args)?,
            )?)
        }
        "list_tags" => ok(e.list_tags(a, scope(args)?, id(args, "chat_id")?, &page(args)?)?),
        "list_allowed_tags" => {
            ok(e.list_allowed_tags(a, scope(args)?, id(args, "chat_id")?, &page(args)?)?)
        }
        "add_tag" => created_if(e.add_tag(a, scope(args)?, id(args, "chat_id")?, body(args)?)?),
        "list_room_allowed_tags" => ok(e.list_room_allowed_tags(
            a,
            id(args, "organization_id")?,
            id(args, "room_id")?,
            &page(args)?,
        )?),
        "add_room_allowed_tag" => created_if(e.add_room_allowed_tag(
            a,
            id(args, "organization_id")?,
            id(args, "room_id")?,
            body(args)?,
        )?),
        "remove_tag" => no_content(e.remove_tag(
            a,
            scope(args)?,
            id(args, "chat_id")?,
            text(args, "tag_name")?,
        )?),
        "list_conversation_starters" => {
            ok(e.list_conversation_starters(a, id(args, "user_id")?, &page(args)?)?)
        }
        "create_conversation_starter" => {
            created(e.create_conversation_starter(a, id(args, "user_id")?, body(args)?)?)
        }
        "update_conversation_starter" => ok(e.update_conversation_starter(
            a,
            id(args, "user_id")?,
            text(args, "language_code")?,
            body(args)?,
            flag(args, "partial"),
        )?),
        "delete_conversation_starter" => no_content(e.delete_conversation_starter(
            a,
            id(args, "user_id")?,
            text(args, "language_code")?,
        )?),
        "list_reply_suggestions" => {
            let p: crate::suggestions::SuggestionListParams = params(args, &["ordering"])?;
            ok(e.list_chat_reply_suggestions(
                a,
                scope(args)?,
                id(args, "chat_id")?,
                &p,
                &page(args)?,
            )?)
        }
        "list_message_reply_suggestions" => {
            let p: crate::suggestions::SuggestionListParams = params(args, &["ordering"])?;
            ok(e.list_message_reply_suggestions(
                a,
                scope(args)?,
                id(args, "chat_id")?,
                id(args, "message_id")?,
                &p,
                &page(args)?,
            )?)
        }
        "create_reply_suggestion" => created(e.create_reply_suggestion(
            a,
            scope(args)?,
            id(args, "chat_id")?,
            id(args, "message_id")?,
            body(args)?,
        )?),
        "update_reply_suggestion" => ok(e.update_reply_suggestion(
            a,
            scope(args)?,
            id(args, "chat_id")?,
            id(args, "message_id")?,
            id(args, "reply_suggestion_id")?,
            body(args)?,
            flag(args, "partial"),
        )?),
        "set_organization_key" | "rotate_organization_key" => {
            admin(a)?;
            let org = id(args, "organization_id")?;
            let key = org_key(args)?;
            if op == "set_organization_key" {
                e.set_organization_key(org, key)?;
                no_content(())
            } else {
                ok(e.rotate_organization_key(org, key)?)
            }
        }
        "purge_organization_key" => {
            admin(a)?;
            let held = e.purge_organization_key(id(args, "organization_id")?)?;
            ok(serde_json::json!({ "was_held": held }))
        }
        "purge_chat_sensitive_data" => ok(e.purge_chat_sensitive_data(a, id(args, "chat_id")?)?),
        "purge_visitor_sensitive_data" => {
            ok(e.purge_visitor_sensitive_data(a, visitor(args, "visitor_id")?)?)
        }
        "set_user_presence" => {
            admin(a)?;
            no_content(e.set_user_presence(id(args, "user_id")?, ttl(args)?)?)
        }
        "set_visitor_presence" => {
            admin(a)?;
            no_content(e.set_visitor_presence(visitor(args, "visitor_id")?, ttl(args)?)?)
        }
        "load_seed" => {
            admin(a)?;
            let seed: Seed = body(args)?;
            ok(e.load_seed(seed)?)
        }
        "maintenance" => {
            admin(a)?;
            ok(e.maintenance()?)
        }
        "events_since" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Q {
                channels: Vec<String>,
                #[serde(default)]
                since: Option<i64>,
                #[serde(default)]
                limit: Option<usize>,
            }
            let q: Q = body(args)?;
            ok(e.events_since(a, &q.channels, q.since, q.limit)?)
        }
        "list_webhooks" => ok(e.list_webhooks(a, id(args, "organization_id")?)?),
        "create_webhook" => {
            created(e.create_webhook(a, id(args, "organization_id")?, body(args)?)?)
        }
        "get_webhook" => {
            ok(e.get_webhook(a, id(args, "organization_id")?, id(args, "webhook_id")?)?)
        }
        "update_webhook" => ok(e.update_webhook(
            a,
            id(args, "organization_id")?,
            id(args, "webhook_id")?,
            body(args)?,
        )?),
        "delete_webhook" => no_content(e.delete_webhook(
            a,
            id(args, "organization_id")?,
            id(args, "webhook_id")?,
        )?),
        "list_webhook_deliveries" => ok(e.list_webhook_deliveries(
            a,
            id(args, "organization_id")?,
            id(args, "webhook_id")?,
            &page(args)?,
        )?),
        "webhook_deliveries_due" => {
            admin(a)?;
            let limit = section(args, "query")
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(100)
                .clamp(1, 1000) as usize;
            ok(e.webhook_deliveries_due(limit)?)
        }
        "record_webhook_delivery" => {
            admin(a)?;
            let b = section(args, "body");
            let delivery = b
                .get("delivery_id")
                .and_then(Value::as_i64)
                .ok_or_else(|| ChatError::required("delivery_id"))?;
            let status = b
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok());
            let error = b.get("error").and_then(Value::as_str).map(str::to_string);
            no_content(e.record_delivery_result(delivery, status, error)?)
        }
        other => Err(ChatError::new(
            ErrorCode::NotFound,
            format!("Unknown operation \"{other}\"."),
        )),
    }
}

/// Runs an operation with a bearer token (API token or visitor access token) as credentials;
/// `None` for the public operations that need none (`visitor_auth`).
pub fn call_with_token(
    engine: &Engine,
    token: Option<&str>,
    op: &str,
    args: &Value,
) -> Result<Reply> {
    let actor = match (op, token) {
        ("visitor_auth", _) => Actor::Admin,
        (_, Some(t)) => engine.authenticate(t)?,
        (_, None) => return Err(ChatError::unauthenticated()),
    };
    call(engine, &actor, op, args)
}

/// Parses a JSON argument string, then calls: the form the C and WASM bindings use.
pub fn call_json(engine: &Engine, actor: &Actor, op: &str, args_json: &str) -> Result<Reply> {
    let args: Value = if args_json.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(args_json)
            .map_err(|e| ChatError::parse(format!("Malformed JSON arguments: {e}")))?
    };
    call(engine, actor, op, &args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_listed_operation_is_dispatched_and_unknown_ones_are_not() {
        let engine = Engine::open_in_memory().unwrap();
        for op in OPERATIONS {
            let err = call(&engine, &Actor::Admin, op.name, &json!({})).err();
            if let Some(e) = err {
                assert!(
                    !e.detail.starts_with("Unknown operation"),
                    "{} is listed but not dispatched",
                    op.name
                );
            }
        }
        let e = call(&engine, &Actor::Admin, "no_such_op", &json!({})).unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
    }

    #[test]
    fn bad_ids_are_404_and_bad_query_values_are_400() {
        let engine = Engine::open_in_memory().unwrap();
        let e = call(
            &engine,
            &Actor::Admin,
            "get_organization",
            &json!({"organization_id": "nope"}),
        )
        .unwrap_err();
        assert_eq!(e.status(), 404);
        let e = call(&engine, &Actor::Admin, "list_chats", &json!({"scope": "owned", "organization_id": Uuid::nil().to_string(), "query": {"is_ended": "maybe"}})).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.errors.contains_key("is_ended"), "{e:?}");
        let e = call(&engine, &Actor::Admin, "list_chats", &json!({"scope": "owned", "organization_id": Uuid::nil().to_string(), "query": {"page_size": "x"}})).unwrap_err();
        assert_eq!(e.status(), 400);
        let e = call_json(&engine, &Actor::Admin, "me", "{oops").unwrap_err();
        assert_eq!(e.code, ErrorCode::ParseError);
    }
}
