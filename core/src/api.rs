//! One JSON entry point for every operation, shared by every surface (HTTP server, C ABI,
//! WebAssembly): `call(engine, actor, "op_name", args)` → `Reply { status, body }`.
//!
//! `args` is a JSON object: path ids at the top level (`"user_id"`, `"chat_id"`, ...), a chat
//! scope in `"scope"` where the operation takes one, query parameters in `"query"` (strings or
//! typed values) and the request payload in `"body"`. Ids that do not parse are 404 (the
//! resource cannot exist); bad payloads are 400 with field errors. The operations are those
//! the resources declare (see [`crate::registry`]), gathered here in [`OPERATIONS`]: `call`
//! looks the name up there.

use crate::auth::Actor;
use crate::engine::Engine;
use crate::error::{ChatError, ErrorCode, Result};
use crate::idempotency as idem;
pub use crate::registry::args::{id, scope, visitor};
pub use crate::registry::{Access, Kind, Method, Operation, QueryParam, Reply, Route, Status};
use serde_json::{Map, Value};

/// The operations of each resource, in documentation order.
const GROUPS: &[&[Operation]] = &[
    crate::chats::operations::CHATS,
    crate::memberships::operations::MEMBERSHIPS,
    crate::messages::operations::MESSAGES,
    crate::directory::operations::VISITORS,
    crate::chats::operations::VISITOR_CHATS,
    crate::messages::operations::VISITOR_MESSAGES,
    crate::memberships::operations::VISITOR_MEMBERSHIPS,
    crate::directory::operations::MANAGEMENT,
    crate::invitations::operations::INVITATIONS,
    crate::tags::operations::TAGS,
    crate::tags::operations::ROOM_TAGS,
    crate::starters::operations::STARTERS,
    crate::suggestions::operations::SUGGESTIONS,
    crate::crypto::operations::KEYS_AND_PURGE,
    crate::directory::operations::HOST,
    crate::webhooks::operations::EVENTS,
    crate::webhooks::operations::WEBHOOKS,
];

const fn total(groups: &[&[Operation]]) -> usize {
    let (mut n, mut g) = (0, 0);
    while g < groups.len() {
        n += groups[g].len();
        g += 1;
    }
    n
}

const fn concat<const N: usize>(groups: &[&[Operation]]) -> [Operation; N] {
    let mut out = [groups[0][0]; N];
    let (mut n, mut g) = (0, 0);
    while g < groups.len() {
        let mut i = 0;
        while i < groups[g].len() {
            out[n] = groups[g][i];
            n += 1;
            i += 1;
        }
        g += 1;
    }
    out
}

static ALL: [Operation; total(GROUPS)] = concat(GROUPS);

/// Every operation [`call`] accepts.
pub static OPERATIONS: &[Operation] = &ALL;

/// The operation of a name: a scan of the registry (a few dozen short names), with no lookup
/// table that a leak checker (the C suites run under valgrind) would report as never freed.
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

impl Operation {
    /// Runs the operation: the host's operations only for [`Actor::Admin`], then the
    /// arguments parsed and the engine called (with the claim of an idempotent creating call).
    fn run(
        &self,
        engine: &Engine,
        actor: &Actor,
        args: &Value,
        claim: Option<&mut idem::Claim>,
    ) -> Result<Reply> {
        if self.access == Access::Host && *actor != Actor::Admin {
            return Err(ChatError::permission_denied(
                "Only the host (server administrator) may do this.",
            ));
        }
        (self.handler)(engine, actor, args, claim)
    }
}

/// Runs one operation as `actor`. A creating operation with `"idempotency_key"` in its args
/// is idempotent (see [`crate::idempotency`]).
pub fn call(engine: &Engine, actor: &Actor, op: &str, args: &Value) -> Result<Reply> {
    let key = match args.get("idempotency_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(key.as_str()),
        Some(_) => return Err(ChatError::field("idempotency_key", "Must be a string.")),
    };
    let Some(operation) = find(op) else {
        return Err(ChatError::new(
            ErrorCode::NotFound,
            format!("Unknown operation \"{op}\"."),
        ));
    };
    match key {
        Some(key) if operation.kind == Kind::Creating => {
            idempotent_call(engine, actor, operation, args, key)
        }
        _ => operation.run(engine, actor, args, None),
    }
}

/// The stored reply of a key (a key and its reply commit together). `claimed` says the
/// caller saw the key taken inside a write: the claim may not be visible to readers yet (its
/// transaction — under group commit, the group's — has not committed), so "no record" means
/// "not yet", not "none".
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
        return match (rec.status, rec.body) {
            (Some(status), Some(body)) => Ok(Some(Reply {
                status: u16::try_from(status).unwrap_or(200),
                body: serde_json::from_str(&body)?,
            })),
            // Only a database written by a version that stored the reply after the commit
            // has a key without one; it expires with the key.
            _ => Err(idem::taken()),
        };
    }
    Err(idem::taken())
}

fn idempotent_call(
    engine: &Engine,
    actor: &Actor,
    operation: &Operation,
    args: &Value,
    key: &str,
) -> Result<Reply> {
    idem::check_key(key)?;
    let who = idem::actor_key(actor);
    let hash = idem::request_hash(operation.name, args);
    if let Some(r) = stored_reply(engine, &who, key, &hash, false)? {
        return Ok(r);
    }
    let mut claim = idem::Claim {
        actor: who.clone(),
        key: key.to_string(),
        hash: hash.clone(),
        reply: None,
        outcome: None,
    };
    let out = operation.run(engine, actor, args, Some(&mut claim));
    match (out, claim.outcome) {
        (Ok(reply), _) => Ok(reply),
        (Err(_), Some(false)) => {
            stored_reply(engine, &who, key, &hash, true)?.ok_or_else(idem::taken)
        }
        (Err(e), _) => Err(e),
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
    let public = find(op).is_some_and(|o| o.access == Access::Public);
    let actor = match (public, token) {
        (true, _) => Actor::Admin,
        (false, Some(t)) => engine.authenticate(t)?,
        (false, None) => return Err(ChatError::unauthenticated()),
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
    use uuid::Uuid;

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
