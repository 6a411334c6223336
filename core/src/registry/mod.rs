//! The operation registry's vocabulary: every operation is declared once, beside its resource
//! (the `operations.rs` of `chats/`, `memberships/`, `messages/`, ...), with the `operations!`
//! macro defined here. One declaration gives
//!
//! - the public Rust method on [`Engine`] (same name as the operation),
//! - an [`Operation`]: how the JSON arguments become the method's arguments, and the reply's
//!   success status,
//! - what every surface reads from that entry: kind (read, write, creating — the idempotency
//!   key applies to creating ones), who may call it, its query parameters and the HTTP routes
//!   it is served at (the example server's router and OpenAPI document, the C operation list,
//!   the WebAssembly typings' check).
//!
//! The resources import this module; the table of every operation, `crate::api::OPERATIONS`,
//! is assembled above them, in `api`, so that nothing here depends on a resource.

pub mod args;
#[cfg(test)]
mod tests;

use crate::auth::Actor;
use crate::engine::Engine;
use crate::error::Result;
use crate::idempotency::Claim;
use serde_json::Value;

/// What an operation does to the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    /// A write that creates: a call may carry an idempotency key (see [`crate::idempotency`]).
    Creating,
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// An authenticated actor, checked by the operation's rules.
    Actor,
    /// Anyone, without credentials (the visitor's auth call).
    Public,
    /// The host only ([`Actor::Admin`]); the Rust method takes no actor.
    Host,
}

/// The status of a successful reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200.
    Ok,
    /// 201.
    Created,
    /// 201 when the call created, 200 when it found the resource already there.
    CreatedOrOk,
    /// 204, without a body.
    NoContent,
}

impl Status {
    /// The HTTP statuses a success may have.
    pub fn codes(self) -> &'static [u16] {
        match self {
            Status::Ok => &[200],
            Status::Created => &[201],
            Status::CreatedOrOk => &[200, 201],
            Status::NoContent => &[204],
        }
    }
}

/// HTTP methods of the routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn lower(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

/// One HTTP endpoint of an operation: method, path (the reference's syntax, `<param>` for
/// path parameters, relative to `/api/v5`) and the chat scope it passes. Path parameters are
/// passed to the operation under their names; PATCH adds `"partial": true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub scope: Option<&'static str>,
}

impl Route {
    /// The names of the path parameters, in order.
    pub fn params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('<').and_then(|s| s.strip_suffix('>')))
            .collect()
    }
}

/// A query parameter an operation reads (`"query"` in its arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParam {
    pub name: &'static str,
    /// The JSON schema type: `"string"`, `"integer"` or `"boolean"`.
    pub ty: &'static str,
}

/// The result of a call: the HTTP-equivalent status and the JSON body (`null` for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// How the registry runs an operation: the parsed JSON arguments, the actor, and the
/// idempotency claim of a creating call (see [`crate::idempotency`]).
pub(crate) type Handler = fn(&Engine, &Actor, &Value, Option<&mut Claim>) -> Result<Reply>;

/// One operation of the registry.
#[derive(Clone, Copy)]
pub struct Operation {
    /// The operation's name, also the name of its Rust method on [`Engine`].
    pub name: &'static str,
    pub summary: &'static str,
    /// The JSON arguments it reads, for documentation.
    pub args: &'static str,
    pub kind: Kind,
    pub access: Access,
    pub status: Status,
    /// Its query parameters, in groups.
    pub query: &'static [&'static [QueryParam]],
    /// The HTTP routes it is served at (none for host operations).
    pub routes: &'static [Route],
    /// The group it is documented under (the OpenAPI tag).
    pub tag: &'static str,
    pub(crate) handler: Handler,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("access", &self.access)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Operation {
    /// The query parameters, flattened.
    pub fn query_params(&self) -> impl Iterator<Item = &'static QueryParam> + use<> {
        self.query.iter().flat_map(|group| group.iter())
    }
}

/// The first line of a doc comment, without its leading space.
pub(crate) const fn summary(doc: &'static str) -> &'static str {
    doc.trim_ascii()
}

/// Success replies by status.
pub(crate) mod reply {
    use super::Reply;
    use crate::error::{ChatError, Result};
    use serde::Serialize;
    use serde_json::Value;

    fn json<T: Serialize>(v: &T) -> Result<Value> {
        serde_json::to_value(v)
            .map_err(|e| ChatError::internal(format!("serialization failed: {e}")))
    }
    pub fn ok<T: Serialize>(v: T) -> Result<Reply> {
        Ok(Reply {
            status: 200,
            body: json(&v)?,
        })
    }
    pub fn created<T: Serialize>(v: T) -> Result<Reply> {
        Ok(Reply {
            status: 201,
            body: json(&v)?,
        })
    }
    pub fn created_or_ok<T: Serialize>((v, new): (T, bool)) -> Result<Reply> {
        Ok(Reply {
            status: if new { 201 } else { 200 },
            body: json(&v)?,
        })
    }
    pub fn no_content(_: ()) -> Result<Reply> {
        Ok(Reply {
            status: 204,
            body: Value::Null,
        })
    }
}

/// Declares operations: see the `operations.rs` files for examples. The header names the
/// identifiers the declarations use — the engine, the actor, the JSON arguments and the
/// idempotency claim — and the list and the documentation tag of the group. Each operation:
///
/// ```text
/// /// Summary (the first doc line; more lines document the Rust method).
/// kind [(access)] fn name(param: Type, ...) -> Output {
///     status: [200 | 201 | 201 or 200 | 204],
///     args: "the JSON arguments, for documentation",
///     query: [QUERY_GROUP, ...],
///     routes: [Method "/path/<param>" [scope], ...],
///     parse: { let statements; } (argument expressions, in the order of the params),
///     run: the body (returns Result<Output>),
/// }
/// ```
///
/// `kind` is `read`, `write` or `create` (a creating write: its body has the claim to give to
/// `Engine::write`); `access` is `host` or `public` (default: an actor, the method's first
/// parameter). The Rust method is `engine.name(actor, params...)`.
macro_rules! operations {
    (
        |$engine:ident, $actor:ident, $args:ident, $claim:ident|
        $vis:vis const $list:ident, tag $tag:literal;
        $(
            #[doc = $summary:literal]
            $(#[$attr:meta])*
            $kind:ident $(($access:ident))? fn $name:ident ( $($p:ident : $t:ty),* $(,)? ) -> $out:ty {
                status: [$($status:tt)+],
                args: $argdoc:literal,
                query: [$($query:expr),* $(,)?],
                routes: [$($method:ident $path:literal $($scope:ident)?),* $(,)?],
                parse: { $($pre:stmt;)* } ($($arg:expr),* $(,)?),
                run: $body:expr $(,)?
            }
        )*
    ) => {
        $vis const $list: &[$crate::registry::Operation] = &[$($name::OPERATION),*];
        $(
            $crate::registry::operations!(@access [$($access)?] [$kind] $engine $actor $args $claim {
                tag: $tag,
                doc: [#[doc = $summary] $(#[$attr])*],
                summary: $summary,
                name: $name,
                params: [$($p: $t),*],
                out: $out,
                status: [$($status)+],
                argdoc: $argdoc,
                query: [$($query),*],
                routes: [$($crate::registry::Route {
                    method: $crate::registry::Method::$method,
                    path: $path,
                    scope: $crate::registry::operations!(@scope [$($scope)?]),
                }),*],
                pre: [$($pre)*],
                call: [$($arg,)*],
                body: $body,
            });
        )*
    };

    (@scope []) => { None };
    (@scope [$scope:ident]) => { Some(stringify!($scope)) };

    (@status [200]) => { $crate::registry::Status::Ok };
    (@status [201]) => { $crate::registry::Status::Created };
    (@status [201 or 200]) => { $crate::registry::Status::CreatedOrOk };
    (@status [204]) => { $crate::registry::Status::NoContent };
    (@reply [200] $out:expr) => { $crate::registry::reply::ok($out) };
    (@reply [201] $out:expr) => { $crate::registry::reply::created($out) };
    (@reply [201 or 200] $out:expr) => { $crate::registry::reply::created_or_ok($out) };
    (@reply [204] $out:expr) => { $crate::registry::reply::no_content($out) };
    (@reply_ref [201 or 200] $out:expr) => {{
        let (v, new) = $out;
        $crate::registry::reply::created_or_ok((v, *new))
    }};
    (@reply_ref [204] $out:expr) => {{
        let _: &() = $out;
        $crate::registry::reply::no_content(())
    }};
    (@reply_ref [$($status:tt)+] $out:expr) => {
        $crate::registry::operations!(@reply [$($status)+] $out)
    };

    // Access: the actor parameter of the method and the run function.
    (@access [] [$kind:ident] $engine:ident $actor:ident $args:ident $claim:ident $decl:tt) => {
        $crate::registry::operations!(@kind [$kind] $engine $actor $args $claim
            [$crate::registry::Access::Actor] [$actor: &$crate::Actor,] [$actor,] $decl);
    };
    (@access [public] [$kind:ident] $engine:ident $actor:ident $args:ident $claim:ident $decl:tt) => {
        $crate::registry::operations!(@kind [$kind] $engine $actor $args $claim
            [$crate::registry::Access::Public] [] [] $decl);
    };
    (@access [host] [$kind:ident] $engine:ident $actor:ident $args:ident $claim:ident $decl:tt) => {
        $crate::registry::operations!(@kind [$kind] $engine $actor $args $claim
            [$crate::registry::Access::Host] [] [] $decl);
    };

    // Kind: a creating operation's run function takes the claim.
    (@kind [read] $($rest:tt)*) => {
        $crate::registry::operations!(@op [$crate::registry::Kind::Read] [] [] [] $($rest)*);
    };
    (@kind [write] $($rest:tt)*) => {
        $crate::registry::operations!(@op [$crate::registry::Kind::Write] [] [] [] $($rest)*);
    };
    (@kind [create] $engine:ident $actor:ident $args:ident $claim:ident $($rest:tt)*) => {
        $crate::registry::operations!(@op [$crate::registry::Kind::Creating]
            [$claim: Option<&mut $crate::idempotency::Claim>,] [None,] [$claim,]
            $engine $actor $args $claim $($rest)*);
    };

    (@op [$kind:expr] [$($claim_param:tt)*] [$($claim_none:tt)*] [$($claim_arg:tt)*]
        $engine:ident $actor:ident $args:ident $claim:ident
        [$access:expr] [$($actor_param:tt)*] [$($actor_arg:tt)*]
        {
            tag: $tag:literal,
            doc: [$($doc:tt)*],
            summary: $summary:literal,
            name: $name:ident,
            params: [$($p:ident : $t:ty),*],
            out: $out:ty,
            status: [$($status:tt)+],
            argdoc: $argdoc:literal,
            query: [$($query:expr),*],
            routes: [$($route:expr),*],
            pre: [$($pre:tt)*],
            call: [$($call:tt)*],
            body: $body:expr,
        }
    ) => {
        impl $crate::Engine {
            $($doc)*
            pub fn $name(&self, $($actor_param)* $($p: $t),*) -> $crate::Result<$out> {
                $name::run(self, $($claim_none)* $($actor_arg)* $($p),*)
            }
        }

        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(clippy::too_many_arguments)]
            pub(super) fn run(
                $engine: &$crate::Engine,
                $($claim_param)*
                $($actor_param)*
                $($p: $t),*
            ) -> $crate::Result<$out> {
                $body
            }

            #[allow(unused_variables)]
            fn handle(
                $engine: &$crate::Engine,
                $actor: &$crate::Actor,
                $args: &serde_json::Value,
                $claim: Option<&mut $crate::idempotency::Claim>,
            ) -> $crate::Result<$crate::registry::Reply> {
                $($pre)*
                let mut $claim = $claim;
                if let Some(c) = $claim.as_deref_mut() {
                    c.reply = Some(reply_of);
                }
                let out = run($engine, $($claim_arg)* $($actor_arg)* $($call)*)?;
                $crate::registry::operations!(@reply [$($status)+] out)
            }

            /// The reply to a result of the write, stored with an idempotency key in the
            /// write's transaction.
            #[allow(dead_code)]
            fn reply_of(out: &dyn std::any::Any) -> $crate::Result<(u16, String)> {
                let Some(out) = out.downcast_ref::<$out>() else {
                    return Err($crate::error::ChatError::internal(
                        "The write's result is not the operation's result.",
                    ));
                };
                let reply = $crate::registry::operations!(@reply_ref [$($status)+] out)?;
                Ok((reply.status, reply.body.to_string()))
            }

            pub(super) const OPERATION: $crate::registry::Operation =
                $crate::registry::Operation {
                    name: stringify!($name),
                    summary: $crate::registry::summary($summary),
                    args: $argdoc,
                    kind: $kind,
                    access: $access,
                    status: $crate::registry::operations!(@status [$($status)+]),
                    query: &[$($query),*],
                    routes: &[$($route),*],
                    tag: $tag,
                    handler: handle,
                };
        }
    };
}

pub(crate) use operations;
