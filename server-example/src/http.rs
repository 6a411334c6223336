//! HTTP translation: the router built from [`ROUTES`] (the routes of the core's operation
//! registry), credentials, JSON in and out, status
//! codes, error bodies and pagination links. No chat rule lives here: every route calls one
//! core operation through [`chat_core::api`].

use crate::routes::{Auth, M, ROUTES, Route};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get};
use chat_core::api::{self, Reply};
use chat_core::{Actor, ChatError, Engine};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;
/// An oversized body is read (and dropped) up to this size before answering 413, so that the
/// client receives the answer instead of a reset connection; beyond it the connection closes.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// What every request handler shares.
pub struct App {
    pub engine: Arc<Engine>,
    /// The server-admin token (`--admin-token`): acts as [`Actor::Admin`].
    pub admin_token: Option<String>,
    /// The base of `next`/`previous` links (`--public-url`); else from the request's Host.
    pub public_url: Option<String>,
    pub openapi: Value,
    /// The commits' fan-out to WebSocket sessions (see [`crate::realtime::Fanout`]).
    pub fanout: std::sync::Arc<crate::realtime::Fanout>,
    /// Where engine calls run.
    pub calls: crate::engine_threads::Calls,
    /// The request and WebSocket limits (`--public-rate-limit`, ...).
    pub limits: Arc<crate::rate_limits::RateLimits>,
}

/// The actor of a token: the admin token, else an API or visitor token.
pub fn actor_of(engine: &Engine, admin: Option<String>, token: &str) -> chat_core::Result<Actor> {
    match admin {
        Some(a) if constant_time_eq(a.as_bytes(), token.as_bytes()) => Ok(Actor::Admin),
        _ => engine.authenticate(token),
    }
}

/// An error response with the contract's body.
pub fn error(status: StatusCode, code: &str, detail: &str) -> Response {
    json_response(status, &json!({ "detail": detail, "code": code }))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub fn chat_error(e: &ChatError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(code = e.code.as_str(), detail = %e.detail, "engine fault");
    }
    json_response(status, &e.to_json())
}

/// The router: every route of [`ROUTES`], `/healthz`, `/api/v5/openapi.json`, JSON error
/// bodies for everything axum itself rejects, panics mapped to 500, requests answered 503
/// past `request_timeout`, and request logs.
pub fn router(app: Arc<App>, request_timeout: Duration) -> Router {
    let mut by_path: BTreeMap<String, MethodRouter<Arc<App>>> = BTreeMap::new();
    for route in ROUTES.iter() {
        if route.op == crate::routes::REALTIME_OP {
            let ws = |State(app): State<Arc<App>>,
                      foreign: Option<axum::Extension<crate::web::ForeignOrigin>>,
                      headers: HeaderMap,
                      uri: Uri,
                      upgrade: Result<
                axum::extract::WebSocketUpgrade,
                axum::extract::ws::rejection::WebSocketUpgradeRejection,
            >| async move {
                let token = websocket_token(&headers, &uri);
                match upgrade {
                    Ok(u) => crate::realtime::upgrade(app, u, token, foreign.is_some()).await,
                    Err(_) => error(
                        StatusCode::BAD_REQUEST,
                        "parse_error",
                        "This endpoint is a WebSocket: send an upgrade request.",
                    ),
                }
            };
            let entry = by_path.remove(&route.template()).unwrap_or_default();
            by_path.insert(route.template(), entry.on(MethodFilter::GET, ws));
            continue;
        }
        let filter = match route.method {
            M::Get => MethodFilter::GET,
            M::Post => MethodFilter::POST,
            M::Put => MethodFilter::PUT,
            M::Patch => MethodFilter::PATCH,
            M::Delete => MethodFilter::DELETE,
        };
        let handler = move |State(app): State<Arc<App>>,
                            headers: HeaderMap,
                            uri: Uri,
                            path: Result<Path<Vec<(String, String)>>, PathRejection>,
                            body: Body| async move {
            handle(app, route, headers, uri, path, body).await
        };
        let entry = by_path.remove(&route.template()).unwrap_or_default();
        by_path.insert(route.template(), entry.on(filter, handler));
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(&path, methods);
    }
    router
        .route(
            "/healthz",
            get(|| async { json_response(StatusCode::OK, &json!({"status": "ok"})) }),
        )
        .route(
            "/api/v5/openapi.json",
            get(|State(app): State<Arc<App>>| async move {
                json_response(StatusCode::OK, &app.openapi)
            }),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "No such endpoint.") })
        .with_state(app)
        // Inside `json_errors`, which gives its empty 503 the JSON body. An engine call
        // already started runs to its end on its thread; only the wait for it is cut.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send + 'static>| {
                tracing::error!("a request handler panicked");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "The server failed to handle the request.",
                )
            },
        ))
        .layer(middleware::from_fn(log_requests))
}

/// One request of one route: build the operation's JSON arguments, authenticate, run the core
/// on the blocking pool, translate the reply.
async fn handle(
    app: Arc<App>,
    route: &'static Route,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<Vec<(String, String)>>, PathRejection>,
    body: Body,
) -> Response {
    let Ok(Path(path)) = path else {
        return chat_error(&ChatError::not_found("Resource"));
    };
    // Credentials first: a request without them is 401 whatever its body (and its body is
    // not read).
    let token = match route.auth {
        Auth::Public => None,
        Auth::Token => match credentials(&headers) {
            Some(t) => Some(t),
            None => return chat_error(&ChatError::unauthenticated()),
        },
    };
    let query = parse_query(uri.query());
    let mut args = Map::new();
    for (k, v) in path {
        args.insert(k, Value::String(v));
    }
    if let Some(scope) = route.scope {
        args.insert("scope".into(), scope.into());
    }
    let q: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    args.insert("query".into(), Value::Object(q));
    if route.method.has_body() {
        match read_json_body(&headers, body).await {
            Ok(Some(v)) => {
                args.insert("body".into(), v);
            }
            Ok(None) => {}
            Err(res) => return res,
        }
    }
    if route.method == M::Patch {
        args.insert("partial".into(), Value::Bool(true));
    }
    if route.method == M::Post
        && let Some(key) = headers.get("idempotency-key")
    {
        match key.to_str() {
            Ok(k) => {
                args.insert("idempotency_key".into(), Value::String(k.to_string()));
            }
            Err(_) => {
                return chat_error(&ChatError::field(
                    "idempotency_key",
                    "The Idempotency-Key header must be visible ASCII.",
                ));
            }
        }
    }
    let engine = app.engine.clone();
    let admin = app.admin_token.clone();
    let args = Value::Object(args);
    let call = move || match token {
        None => api::call_with_token(&engine, None, route.op, &args),
        Some(t) => {
            let actor = actor_of(&engine, admin, &t)?;
            api::call(&engine, &actor, route.op, &args)
        }
    };
    match app.calls.run(call).await {
        Err(_) => {
            tracing::error!(op = route.op, "an engine call panicked");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "The server failed to handle the request.",
            )
        }
        Ok(Err(e)) => chat_error(&e),
        Ok(Ok(reply)) => reply_response(&app, &headers, &uri, &query, reply),
    }
}

fn reply_response(
    app: &App,
    headers: &HeaderMap,
    uri: &Uri,
    query: &[(String, String)],
    reply: Reply,
) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut body = reply.body;
    if let Some(obj) = body.as_object_mut()
        && obj.contains_key("results")
    {
        for key in ["next", "previous"] {
            if let Some(Value::String(cursor)) = obj.get(key) {
                let url = page_link(app, headers, uri, query, cursor);
                obj.insert(key.into(), Value::String(url));
            }
        }
    }
    json_response(status, &body)
}

/// A collection link: the same path and query with `cursor` replaced.
fn page_link(
    app: &App,
    headers: &HeaderMap,
    uri: &Uri,
    query: &[(String, String)],
    cursor: &str,
) -> String {
    let base = match &app.public_url {
        Some(p) => p.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| uri.authority().map(|a| a.as_str()))
                .filter(|h| {
                    !h.is_empty()
                        && h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
                })
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.iter().filter(|(k, _)| k != "cursor") {
        ser.append_pair(k, v);
    }
    ser.append_pair("cursor", cursor);
    format!("{base}{}?{}", uri.path(), ser.finish())
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

/// The WebSocket's token: the `Authorization` header, or `?token=` (browsers cannot set
/// headers on a WebSocket).
fn websocket_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    credentials(headers).or_else(|| {
        parse_query(uri.query())
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    })
}

/// The token a request presents, as its route reads it (for the per-token limits).
pub fn request_token(req: &Request) -> Option<String> {
    let path = req.uri().path();
    if path.strip_prefix(crate::routes::PREFIX) == Some("/realtime") {
        websocket_token(req.headers(), req.uri())
    } else {
        credentials(req.headers())
    }
}

/// `Authorization: Token <t>` or `Bearer <t>`.
fn credentials(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    let t = rest.trim();
    ((scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        && !t.is_empty())
    .then(|| t.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request payload: `None` when empty; 415 for a non-JSON content type, 413 past
/// [`BODY_LIMIT`], 400 for malformed JSON or a payload that is not a JSON object, 408 when
/// the body stalls past the body-read timeout.
async fn read_json_body(headers: &HeaderMap, body: Body) -> Result<Option<Value>, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("The request body is larger than {BODY_LIMIT} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(too_large());
    }
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) if is_body_timeout(&e) => {
                return Err(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "The request body was not received in time.",
                ));
            }
            Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "parse_error",
                    "The request body could not be read.",
                ));
            }
        };
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= BODY_LIMIT {
                buf.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                break;
            }
        }
    }
    if total > BODY_LIMIT {
        return Err(too_large());
    }
    let bytes = Bytes::from(buf);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The request body must be JSON (Content-Type: application/json).",
            ));
        }
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        // Checked here rather than left to the core, which reads a null payload as "no body"
        // (what the bindings pass when there is none): over HTTP an empty body says that, and
        // an explicit `null` is refused like any other payload that is not an object.
        Ok(_) => Err(chat_error(&ChatError::parse(
            "The payload must be a JSON object.",
        ))),
        Err(e) => Err(chat_error(&ChatError::parse(format!(
            "Malformed JSON: {e}"
        )))),
    }
}

/// Whether a body read failed for want of data within the body-read timeout
/// (`tower_http::timeout::RequestBodyTimeoutLayer`, applied around the router).
fn is_body_timeout(e: &axum::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<tower_http::timeout::TimeoutError>())
}

/// Any error response without a JSON body (axum's own: 404 without route, 405, ...) gets
/// the contract's `{"detail", "code"}` body.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "No such endpoint."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This method is not allowed on this endpoint.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json).",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "request_timeout",
            "The request was not answered within the server's request timeout.",
        ),
        s if s.is_server_error() => ("internal_error", "The server failed to handle the request."),
        _ => ("bad_request", "The request could not be handled."),
    };
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&json!({ "detail": detail, "code": code })).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}

/// One structured log line per request: method, path template, status, latency. Never
/// tokens, query strings or bodies.
async fn log_requests(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(no route)".to_owned());
    let res = next.run(req).await;
    tracing::info!(
        target: "chat_server::request",
        method = %method,
        path = %path,
        status = res.status().as_u16(),
        latency_ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    res
}
