//! The OpenAPI 3 document, generated from [`ROUTES`] and the core's operation table.

use crate::routes::{Auth, M, ROUTES, Route};
use serde_json::{Map, Value, json};

/// Success statuses of an operation (from the core's reply conventions).
pub fn success_statuses(op: &str) -> &'static [u16] {
    match op {
        "create_visitor_chat"
        | "join_org_chat"
        | "visitor_enter_room"
        | "visitor_start_chat"
        | "add_tag"
        | "create_invitation" => &[200, 201],
        "send_user_message" | "load_seed" => &[200],
        _ if op.starts_with("create_")
            || op.starts_with("join_")
            || op.starts_with("share_")
            || op == "add_team_member"
            || op == "set_visitor_variable"
            || op == "visitor_send_message" =>
        {
            &[201]
        }
        _ if op.starts_with("delete_")
            || op.starts_with("remove_")
            || op.starts_with("revoke_") =>
        {
            &[204]
        }
        _ => &[200],
    }
}

fn query_params(route: &Route) -> Vec<(&'static str, &'static str)> {
    let mut q = vec![];
    if route.op.starts_with("list_") || route.op == "visitor_list_messages" {
        q.push(("cursor", "string"));
        q.push(("page_size", "integer"));
    }
    match route.op {
        "list_chats" => {
            q.push(("ordering", "string"));
            for b in [
                "is_waiting",
                "is_ended",
                "has_messages",
                "has_user_messages",
                "has_visitor_messages",
                "is_participating",
            ] {
                q.push((b, "boolean"));
            }
            q.push(("created_at_after", "string"));
            q.push(("created_at_before", "string"));
        }
        "list_messages" | "visitor_list_messages" => {
            q.push(("type__in", "string"));
            q.push(("type__not_in", "string"));
        }
        "list_user_memberships" => q.push(("is_participating", "boolean")),
        _ => {}
    }
    q
}

fn slug(route: &Route) -> String {
    let mut s = String::from(route.method.lower());
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        s.push('_');
        s.push_str(seg.trim_start_matches('<').trim_end_matches('>'));
    }
    s
}

fn operation(route: &Route) -> Value {
    let summary = chat_core::api::OPERATIONS
        .iter()
        .find(|o| o.name == route.op)
        .map(|o| o.summary)
        .unwrap_or(if route.op == crate::routes::REALTIME_OP {
            "WebSocket event stream: send {\"action\": \"subscribe\"|\"unsubscribe\", \"channel\", \"since\"}; receive one event per text frame, or {\"action\": \"resync\"} (contract section 8). Credentials: the Authorization header or ?token=."
        } else {
            "Pending core operation."
        });
    let mut params: Vec<Value> = route
        .params()
        .into_iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(query_params(route).into_iter().map(|(name, ty)| {
        json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}})
    }));
    if route.method == M::Post && chat_core::idempotency::CREATING_OPS.contains(&route.op) {
        params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255}}));
    }
    if route.op == crate::routes::REALTIME_OP {
        params.push(json!({"name": "token", "in": "query", "required": false, "schema": {"type": "string"}}));
    }
    let mut responses = Map::new();
    if route.op == crate::routes::REALTIME_OP {
        responses.insert(
            "101".into(),
            json!({"description": "Switching to the WebSocket protocol."}),
        );
    }
    for s in success_statuses(route.op)
        .iter()
        .filter(|_| route.op != crate::routes::REALTIME_OP)
    {
        let r = if *s == 204 {
            json!({"description": "No content."})
        } else {
            json!({"description": "Success.", "content": {"application/json": {"schema": {"type": "object"}}}})
        };
        responses.insert(s.to_string(), r);
    }
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    responses.insert("400".into(), err("Invalid input (with field errors)."));
    if route.auth == Auth::Token {
        responses.insert("401".into(), err("Not authenticated."));
    }
    responses.insert("403".into(), err("No subscription, access or permission."));
    responses.insert("404".into(), err("Not found."));
    if route.method != M::Get {
        responses.insert("409".into(), err("Conflict with the chat's state."));
    }
    if route.method == M::Post && chat_core::idempotency::CREATING_OPS.contains(&route.op) {
        responses.insert(
            "422".into(),
            err("The Idempotency-Key was used with another request."),
        );
    }
    if route.method.has_body() {
        responses.insert("413".into(), err("Body too large."));
        responses.insert("415".into(), err("Body is not JSON."));
    }
    let mut op = json!({
        "operationId": slug(route),
        "summary": summary,
        "tags": [route.tag],
        "x-core-operation": route.op,
        "parameters": params,
        "responses": responses,
    });
    if let Some(scope) = route.scope {
        op["x-core-scope"] = json!(scope);
    }
    if route.auth == Auth::Public {
        op["security"] = json!([]);
    }
    if route.method.has_body() {
        op["requestBody"] = json!({
            "required": false,
            "content": {"application/json": {"schema": {"type": "object"}}}
        });
    }
    op
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.template())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(route.method.lower().into(), operation(route));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Chats API v5 (chat-server)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The giosg Chats API v5 served by chat-core. Errors are {\"detail\", \"code\"} (plus \"errors\" for field errors)."
        },
        "paths": paths,
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <api token>` or `Bearer <api token | visitor access token | admin token>`."
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["detail", "code"],
                    "properties": {
                        "detail": {"type": "string"},
                        "code": {"type": "string"},
                        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
                    }
                }
            }
        }
    })
}
