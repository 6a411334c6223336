//! The browser clients served by `chat-server`: the visitor widget (`GET /widget.js` and the
//! ES modules and CSS it loads from `/web/`), the operator desk (`GET /desk/`) and a demo page
//! that embeds the widget (`GET /demo`). The files live in `server-example/web/` and are
//! compiled into the binary.
//!
//! Origins: the public visitor API (`/api/v5/public/...`) and the WebSocket answer browsers of
//! the server's own origin and of the widget origins (`--widget-origins`); every other API path
//! answers browsers of the server's own origin only (a request carrying another `Origin` gets
//! 403). From a widget origin the WebSocket opens for visitors' tokens only (403 for a user's
//! or the administrator's). Requests without `Origin` (curl, servers, SDKs) are not browsers
//! and pass.

use axum::Router;
use axum::extract::{Path, Query, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::Arc;

/// The pages' policy: scripts, styles and connections from this server only, no inline code,
/// not framed.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// The files below `/web/`: name, content, content type.
const ASSETS: &[(&str, &str, &str)] = &[
    ("api.js", include_str!("../web/api.js"), JS),
    ("realtime.js", include_str!("../web/realtime.js"), JS),
    ("messages.js", include_str!("../web/messages.js"), JS),
    ("widget-app.js", include_str!("../web/widget-app.js"), JS),
    ("widget.css", include_str!("../web/widget.css"), CSS),
    ("desk.js", include_str!("../web/desk.js"), JS),
    ("desk.css", include_str!("../web/desk.css"), CSS),
    ("demo.css", include_str!("../web/demo.css"), CSS),
];
const WIDGET_LOADER: &str = include_str!("../web/widget.js");
const DESK_PAGE: &str = include_str!("../web/desk.html");
const DEMO_PAGE: &str = include_str!("../web/demo.html");

/// Which foreign origins may use the public visitor API and the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WidgetOrigins {
    /// `*`: any page may embed the widget.
    Any,
    /// Exactly these origins (`scheme://host[:port]`, lowercase); empty: none but the server's
    /// own.
    Listed(Vec<String>),
}

impl WidgetOrigins {
    /// Parses `--widget-origins` values: `*`, or origins such as `https://shop.example`.
    pub fn parse(values: &[String]) -> Result<Self, String> {
        let mut listed = Vec::new();
        for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            if v == "*" {
                return Ok(WidgetOrigins::Any);
            }
            let url = url::Url::parse(v)
                .map_err(|e| format!("--widget-origins: \"{v}\" is not an origin: {e}"))?;
            let origin = url.origin();
            if !origin.is_tuple()
                || !matches!(url.scheme(), "http" | "https")
                || url.path() != "/"
                || v.ends_with('/')
                || url.query().is_some()
            {
                return Err(format!(
                    "--widget-origins: \"{v}\" is not an origin (scheme://host[:port], no path)"
                ));
            }
            listed.push(origin.ascii_serialization());
        }
        Ok(WidgetOrigins::Listed(listed))
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            WidgetOrigins::Any => true,
            WidgetOrigins::Listed(l) => l.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

/// What the origin checks need.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub widget_origins: WidgetOrigins,
    /// `--public-url`: its origin is the server's own (else the request's Host).
    pub public_url: Option<String>,
}

impl WebConfig {
    fn is_own(&self, origin: &str, headers: &HeaderMap) -> bool {
        if let Some(own) = self
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
        {
            return own.eq_ignore_ascii_case(origin);
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        ["http://", "https://"].iter().any(|scheme| {
            origin.len() == scheme.len() + host.len()
                && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                && origin[scheme.len()..].eq_ignore_ascii_case(host)
        })
    }
}

/// The API router with the clients' routes beside it and the origin rules around both.
pub fn with_clients(api: Router, config: WebConfig) -> Router {
    let config = Arc::new(config);
    let pages = Router::new()
        .route("/widget.js", get(|| async { asset(WIDGET_LOADER, JS) }))
        .route("/web/{file}", get(web_file))
        .route(
            "/desk",
            get(|| async {
                (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, "/desk/")],
                )
            }),
        )
        .route("/desk/", get(|| async { page(DESK_PAGE.to_string()) }))
        .route("/demo", get(demo_page));
    pages
        .merge(api)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let config = config.clone();
            async move { origin_rules(&config, req, next).await }
        }))
}

fn asset(content: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The widget's modules and CSS are loaded by pages of other origins (module
            // scripts are fetched in CORS mode). They are public code, without credentials.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        content,
    )
        .into_response()
}

async fn web_file(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content, content_type)) => asset(content, content_type),
        None => crate::http::error(StatusCode::NOT_FOUND, "not_found", "No such file."),
    }
}

fn page(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HTML),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// `/demo?org=<organization id>&room=<room id>`: a page embedding the widget for that room
/// (`chat-server demo` prints the link).
async fn demo_page(Query(q): Query<HashMap<String, String>>) -> Response {
    let id = |k: &str| {
        q.get(k)
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
            .map(|u| u.to_string())
    };
    match (id("org"), id("room")) {
        (Some(org), Some(room)) => page(
            DEMO_PAGE
                .replace("{{ORG}}", &org)
                .replace("{{ROOM}}", &room),
        ),
        _ => crate::http::error(
            StatusCode::BAD_REQUEST,
            "parse_error",
            "Give the organization and room: /demo?org=<id>&room=<id>.",
        ),
    }
}

/// Marks a WebSocket upgrade from a browser of a foreign origin (a widget origin): only a
/// visitor's token opens the stream from there, so an operator's token that a page of
/// another site got hold of does not stream their chats to it.
#[derive(Debug, Clone, Copy)]
pub struct ForeignOrigin;

/// See the module documentation.
async fn origin_rules(config: &WebConfig, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    if !path.starts_with("/api/") || config.is_own(&origin, req.headers()) {
        return next.run(req).await;
    }
    let public = path.starts_with("/api/v5/public/");
    let realtime = path == "/api/v5/realtime";
    if !((public || realtime) && config.widget_origins.allows(&origin)) {
        return crate::http::error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "Requests from this origin are not allowed (see --widget-origins).",
        );
    }
    let mut req = req;
    if realtime {
        // The upgrade lets only visitors in from here (`crate::realtime::upgrade`).
        req.extensions_mut().insert(ForeignOrigin);
    }
    let Ok(allow_origin) = HeaderValue::from_str(&origin) else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, idempotency-key"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return res;
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    res
}

/// For the demo's printed lines: the desk's sign-in link (the token in the fragment, which
/// browsers never send to the server) and the demo page.
pub fn demo_links(base: &str, token: &str, org: &str, room: &str) -> String {
    let base = base.trim_end_matches('/');
    format!(
        "Open in a browser:\n  operator desk (signed in as Ann)  {base}/desk/#token={token}\n  \
         visitor page with the widget      {base}/demo?org={org}&room={room}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_origins_accept_star_and_origins_and_refuse_paths() {
        assert_eq!(
            WidgetOrigins::parse(&["*".into()]).ok(),
            Some(WidgetOrigins::Any)
        );
        assert_eq!(
            WidgetOrigins::parse(&[
                "https://Shop.example".into(),
                "http://127.0.0.1:9000".into()
            ])
            .ok(),
            Some(WidgetOrigins::Listed(vec![
                "https://shop.example".into(),
                "http://127.0.0.1:9000".into()
            ]))
        );
        assert_eq!(
            WidgetOrigins::parse(&[]).ok(),
            Some(WidgetOrigins::Listed(vec![]))
        );
        for bad in [
            "https://shop.example/page",
            "shop.example",
            "ftp://x.example",
        ] {
            assert!(WidgetOrigins::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn own_origin_is_the_host_or_the_public_url() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let by_host = WebConfig {
            widget_origins: WidgetOrigins::Listed(vec![]),
            public_url: None,
        };
        assert!(by_host.is_own("http://127.0.0.1:8080", &headers));
        assert!(!by_host.is_own("http://127.0.0.1:8081", &headers));
        assert!(!by_host.is_own("null", &headers));
        let by_url = WebConfig {
            widget_origins: WidgetOrigins::Listed(vec![]),
            public_url: Some("https://chat.example/base/".into()),
        };
        assert!(by_url.is_own("https://chat.example", &headers));
        assert!(!by_url.is_own("http://127.0.0.1:8080", &headers));
    }
}
