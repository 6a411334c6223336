//! The OpenAPI 3 document, generated from [`ROUTES`]: paths, path and query parameters,
//! success statuses and idempotency keys come from the core's operation registry.

use crate::routes::{Auth, M, REALTIME_OP, ROUTES, Route};
use chat_core::api::Kind;
use serde_json::{Map, Value, json};

fn slug(route: &Route) -> String {
    let mut s = String::from(route.method.lower());
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        s.push('_');
        s.push_str(seg.trim_start_matches('<').trim_end_matches('>'));
    }
    s
}

fn operation(route: &Route) -> Value {
    let summary = match route.operation {
        Some(o) => o.summary,
        None => {
            "WebSocket event stream: send {\"action\": \"subscribe\"|\"unsubscribe\", \"channel\", \"since\"}; receive one event per text frame, or {\"action\": \"resync\"} (contract section 8). Credentials: the Authorization header or ?token=."
        }
    };
    let creating =
        route.method == M::Post && route.operation.is_some_and(|o| o.kind == Kind::Creating);
    let mut params: Vec<Value> = route
        .params()
        .into_iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(route.operation.into_iter().flat_map(|o| o.query_params()).map(|q| {
        json!({"name": q.name, "in": "query", "required": false, "schema": {"type": q.ty}})
    }));
    if creating {
        params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255}}));
    }
    if route.op == REALTIME_OP {
        params.push(json!({"name": "token", "in": "query", "required": false, "schema": {"type": "string"}}));
    }
    let mut responses = Map::new();
    match route.operation {
        None => {
            responses.insert(
                "101".into(),
                json!({"description": "Switching to the WebSocket protocol."}),
            );
        }
        Some(o) => {
            for s in o.status.codes() {
                let r = if *s == 204 {
                    json!({"description": "No content."})
                } else {
                    json!({"description": "Success.", "content": {"application/json": {"schema": {"type": "object"}}}})
                };
                responses.insert(s.to_string(), r);
            }
        }
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
    if creating {
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
    for route in ROUTES.iter() {
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
