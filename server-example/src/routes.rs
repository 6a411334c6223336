//! The HTTP routes: a view of the core's operation registry (`chat_core::api::OPERATIONS`),
//! where each operation declares the routes it is served at, plus the WebSocket stream. The
//! router ([`crate::http::router`]) and the OpenAPI document ([`crate::openapi`]) are both
//! built from [`ROUTES`], so neither can drift from the registry.

use chat_core::api::{Access, OPERATIONS, Operation};
use std::sync::LazyLock;

/// HTTP methods the API uses.
pub use chat_core::api::Method as M;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (the public visitor auth call).
    Public,
    /// `Authorization: Token|Bearer <api token, visitor token or admin token>`.
    Token,
}

/// One endpoint: method, path (reference syntax `<param>`, relative to `/api/v5`), the core
/// operation and its chat scope. Path parameters are passed to the operation under their names;
/// PATCH routes add `"partial": true`.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: M,
    pub path: &'static str,
    pub op: &'static str,
    /// The registry's operation (`None` for the WebSocket stream).
    pub operation: Option<&'static Operation>,
    pub scope: Option<&'static str>,
    pub auth: Auth,
    /// The OpenAPI tag.
    pub tag: &'static str,
}

pub const PREFIX: &str = "/api/v5";

/// The pseudo-operation of the WebSocket route.
pub const REALTIME_OP: &str = "realtime";

impl Route {
    /// The full path in the reference's syntax (`/api/v5/users/<user_id>/chats`).
    pub fn full_path(&self) -> String {
        format!("{PREFIX}{}", self.path)
    }
    /// The full path with `{param}` placeholders (axum and OpenAPI syntax).
    pub fn template(&self) -> String {
        self.full_path().replace('<', "{").replace('>', "}")
    }
    /// The names of the path parameters, in order.
    pub fn params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('<').and_then(|s| s.strip_suffix('>')))
            .collect()
    }
}

/// Every endpoint of the server: the routes of every operation of the registry, then
/// `GET /realtime`, the WebSocket event stream (see `realtime.rs`), which is not an operation.
pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    let mut routes: Vec<Route> = OPERATIONS
        .iter()
        .flat_map(|o| {
            o.routes.iter().map(move |r| Route {
                method: r.method,
                path: r.path,
                op: o.name,
                operation: Some(o),
                scope: r.scope,
                auth: if o.access == Access::Public {
                    Auth::Public
                } else {
                    Auth::Token
                },
                tag: o.tag,
            })
        })
        .collect();
    routes.push(Route {
        method: M::Get,
        path: "/realtime",
        op: REALTIME_OP,
        operation: None,
        scope: None,
        auth: Auth::Token,
        tag: "events",
    });
    routes
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn routes_are_unique_and_name_known_scopes() {
        let mut seen = HashSet::new();
        for r in ROUTES.iter() {
            assert!(
                seen.insert((r.method, r.template())),
                "duplicate {} {}",
                r.method.lower(),
                r.path
            );
            if let Some(s) = r.scope {
                assert!(
                    [
                        "room",
                        "room_pending",
                        "room_visitor",
                        "owned",
                        "involved",
                        "org_routed",
                        "user_pending",
                        "user_routed",
                        "user_chats",
                        "user_room_visitor"
                    ]
                    .contains(&s)
                );
            }
        }
    }
}
