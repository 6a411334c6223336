//! Readers of an operation's JSON arguments (see [`crate::api`] for their layout): path ids at
//! the top level, a chat scope in `"scope"`, query parameters in `"query"`, the payload in
//! `"body"`. Ids that do not parse are 404 (the resource cannot exist); bad payloads are 400
//! with field errors.

use super::QueryParam;
use crate::chats::ChatScope;
use crate::directory::seed::parse_visitor_id;
use crate::error::{ChatError, Result};
use crate::input::from_value;
use crate::pagination::PageRequest;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The pagination parameters of a collection.
pub const PAGE: &[QueryParam] = &[
    QueryParam {
        name: "cursor",
        ty: "string",
    },
    QueryParam {
        name: "page_size",
        ty: "integer",
    },
];

fn obj(args: &Value) -> Result<&Map<String, Value>> {
    args.as_object()
        .ok_or_else(|| ChatError::parse("Arguments must be a JSON object."))
}

/// A string argument.
pub fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str> {
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

/// An optional UUID id argument (absent: `None`).
pub fn optional_id(args: &Value, key: &str) -> Result<Option<Uuid>> {
    if args.get(key).is_some() {
        id(args, key).map(Some)
    } else {
        Ok(None)
    }
}

/// A UUID given in the payload: one that cannot parse is a field error (400), not a 404.
pub fn body_id(body: &Value, key: &str) -> Result<Uuid> {
    id(body, key).map_err(|err| {
        if err.code == crate::error::ErrorCode::NotFound {
            ChatError::field(key, "Must be a valid UUID.")
        } else {
            err
        }
    })
}

/// A visitor id argument: 32 lowercase hex characters, else 404.
pub fn visitor(args: &Value, key: &str) -> Result<Uuid> {
    let s = text(args, key)?;
    parse_visitor_id(s).ok_or_else(|| ChatError::not_found("Visitor"))
}

/// A section of the arguments (`"query"`, `"body"`); absent or null reads as `{}`.
pub fn section(args: &Value, key: &str) -> Value {
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

/// The pagination parameters ([`PAGE`]).
pub fn page(args: &Value) -> Result<PageRequest> {
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

/// The query parameters of `allowed` into a params struct (others, such as the pagination
/// keys, are left out).
pub fn params<T: serde::de::DeserializeOwned>(args: &Value, allowed: &[QueryParam]) -> Result<T> {
    let mut q = query(args);
    if let Some(m) = q.as_object_mut() {
        m.retain(|k, _| allowed.iter().any(|p| p.name == k));
    }
    from_value(q)
}

/// The payload (absent or null reads as `{}`).
pub fn body<T: serde::de::DeserializeOwned>(args: &Value) -> Result<T> {
    match obj(args)?.get("body") {
        None | Some(Value::Null) => from_value(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => from_value(v.clone()),
        Some(_) => Err(ChatError::parse("The payload must be a JSON object.")),
    }
}

/// A boolean flag argument (absent: false), such as `"partial"` of a PATCH.
pub fn flag(args: &Value, key: &str) -> bool {
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
