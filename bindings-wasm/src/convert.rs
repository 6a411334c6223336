//! The JS-independent half of the bindings: actors, error bodies, the operation list and
//! database names as JSON. Everything here runs (and is unit-tested) on the host too.

use chat_core::api::OPERATIONS;
use chat_core::directory::seed::parse_visitor_id;
use chat_core::ids::visitor_id_str;
use chat_core::{Actor, ChatError, ErrorCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// `{type: "admin"} | {type: "user", id} | {type: "visitor", id}` → an [`Actor`].
pub fn actor_from_json(v: &Value) -> Result<Actor, ChatError> {
    let bad = || {
        ChatError::field(
            "actor",
            "Must be {\"type\": \"admin\"}, {\"type\": \"user\", \"id\": uuid} or {\"type\": \"visitor\", \"id\": 32 hex}.",
        )
    };
    let m = v.as_object().ok_or_else(bad)?;
    let id = || m.get("id").and_then(Value::as_str);
    match m.get("type").and_then(Value::as_str) {
        Some("admin") => Ok(Actor::Admin),
        Some("user") => id()
            .and_then(|s| Uuid::try_parse(s).ok())
            .map(Actor::User)
            .ok_or_else(|| ChatError::field("actor.id", "Must be a valid UUID.")),
        Some("visitor") => id()
            .and_then(parse_visitor_id)
            .map(Actor::Visitor)
            .ok_or_else(|| {
                ChatError::field("actor.id", "A visitor id is 32 lowercase hex characters.")
            }),
        _ => Err(bad()),
    }
}

/// The JS shape of an [`Actor`] (the inverse of [`actor_from_json`]).
pub fn actor_to_json(a: &Actor) -> Value {
    match a {
        Actor::Admin => json!({"type": "admin"}),
        Actor::User(id) => json!({"type": "user", "id": id.to_string()}),
        Actor::Visitor(id) => json!({"type": "visitor", "id": visitor_id_str(id)}),
    }
}

/// The properties a JS `ChatError` carries besides its message: the stable snake_case `code`,
/// its number, the HTTP-equivalent `status`, the sentence, the field errors (an empty object
/// when there are none) and the REST error `body` exactly as the server sends it.
pub fn error_props(e: &ChatError) -> Value {
    json!({
        "code": e.code.as_str(),
        "codeNumber": e.code as u32,
        "status": e.status(),
        "detail": e.detail,
        "errors": e.errors,
        "body": e.to_json(),
    })
}

/// Every operation of `chat_core::api::OPERATIONS` as `{name, args, summary}`.
pub fn operations_json() -> Value {
    Value::Array(
        OPERATIONS
            .iter()
            .map(|o| json!({"name": o.name, "args": o.args, "summary": o.summary}))
            .collect(),
    )
}

/// Every stable error code as `{code, number, status}`.
pub fn error_codes_json() -> Value {
    Value::Array(
        ErrorCode::ALL
            .iter()
            .map(|c| json!({"code": c.as_str(), "number": *c as u32, "status": c.http_status()}))
            .collect(),
    )
}

/// Arguments given as JSON text: blank means `{}`.
pub fn args_from_text(text: &str) -> Result<Value, ChatError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text)
        .map_err(|e| ChatError::parse(format!("Malformed JSON arguments: {e}")))
}

/// The reply of `reply()`: `{status, body}`.
pub fn reply_json(reply: chat_core::api::Reply) -> Value {
    json!({"status": reply.status, "body": reply.body})
}

/// A persistent database name: 1–100 characters of `A–Z a–z 0–9 . _ -`, not starting with a dot.
pub fn check_db_name(name: &str) -> Result<(), ChatError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ChatError::field(
            "name",
            "A database name is 1 to 100 characters of letters, digits, '.', '_' and '-', not starting with '.'.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_and_bad_ones_are_field_errors() {
        let user = Actor::User(Uuid::now_v7());
        let visitor = Actor::Visitor(Uuid::new_v4());
        for a in [Actor::Admin, user, visitor] {
            assert_eq!(actor_from_json(&actor_to_json(&a)).unwrap(), a);
        }
        assert_eq!(
            actor_to_json(&visitor)["id"].as_str().unwrap().len(),
            32,
            "visitor ids are 32 hex characters"
        );
        for bad in [
            json!(null),
            json!("admin"),
            json!({"type": "robot"}),
            json!({"type": "user"}),
            json!({"type": "user", "id": "nope"}),
            json!({"type": "visitor", "id": "3b90ef7c-9348-4af4-965a-79ace7bc9a62"}),
        ] {
            let e = actor_from_json(&bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationError, "{bad}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn error_props_carry_code_status_fields_and_the_rest_body() {
        let e = ChatError::field("message", "This field is required.");
        let p = error_props(&e);
        assert_eq!(p["code"], "validation_error");
        assert_eq!(p["codeNumber"], 8);
        assert_eq!(p["status"], 400);
        assert_eq!(p["errors"]["message"][0], "This field is required.");
        assert_eq!(p["body"], e.to_json());
        let p = error_props(&ChatError::not_found("Chat"));
        assert_eq!(p["status"], 404);
        assert_eq!(p["errors"], json!({}));
        assert!(p["body"].get("errors").is_none());
    }

    #[test]
    fn operations_and_error_codes_mirror_core() {
        let ops = operations_json();
        assert_eq!(ops.as_array().unwrap().len(), OPERATIONS.len());
        assert!(
            ops.as_array()
                .unwrap()
                .iter()
                .any(|o| o["name"] == "load_seed")
        );
        let codes = error_codes_json();
        assert_eq!(codes.as_array().unwrap().len(), ErrorCode::ALL.len());
        assert_eq!(
            codes[0],
            json!({"code": "not_authenticated", "number": 1, "status": 401})
        );
    }

    #[test]
    fn args_text_and_db_names() {
        assert_eq!(args_from_text("  ").unwrap(), json!({}));
        assert_eq!(args_from_text("{\"a\":1}").unwrap(), json!({"a": 1}));
        assert_eq!(
            args_from_text("{oops").unwrap_err().code,
            ErrorCode::ParseError
        );
        for good in ["chat.db", "support-2025_01.sqlite", "a"] {
            check_db_name(good).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "../x", "a b", &"x".repeat(101)] {
            assert_eq!(
                check_db_name(bad).unwrap_err().code,
                ErrorCode::ValidationError
            );
        }
    }
}
