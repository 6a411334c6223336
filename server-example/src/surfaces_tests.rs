//! Every surface names exactly the operations of the core's registry: the server's HTTP
//! routes (probed on the real router), the OpenAPI document, the C ABI's `chat_operations`
//! list and the WebAssembly typings (`bindings-wasm/types/chat_engine.d.ts`).

use crate::routes::{M, PREFIX, REALTIME_OP};
use chat_core::Engine;
use chat_core::api::{Access, OPERATIONS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const METHODS: [M; 5] = [M::Get, M::Post, M::Put, M::Patch, M::Delete];

fn registry_names() -> BTreeSet<String> {
    OPERATIONS.iter().map(|o| o.name.to_string()).collect()
}

/// (method, `{param}` template, operation) of every route the registry declares.
fn registry_routes() -> BTreeSet<(M, String, String)> {
    OPERATIONS
        .iter()
        .flat_map(|o| {
            o.routes.iter().map(move |r| {
                let template = format!("{PREFIX}{}", r.path)
                    .replace('<', "{")
                    .replace('>', "}");
                (r.method, template, o.name.to_string())
            })
        })
        .collect()
}

/// Both directions, with the names that differ.
fn assert_same<T: Ord + std::fmt::Debug>(surface: &str, got: &BTreeSet<T>, registry: &BTreeSet<T>) {
    let missing: Vec<&T> = registry.difference(got).collect();
    let extra: Vec<&T> = got.difference(registry).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{surface}: missing {missing:?}, not in the registry {extra:?}"
    );
}

#[test]
fn openapi_document_has_exactly_the_registry_routes() {
    let doc = crate::openapi::document();
    let mut got = BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().expect("paths") {
        for (method, op) in methods.as_object().expect("methods") {
            let name = op["x-core-operation"].as_str().expect("x-core-operation");
            if name == REALTIME_OP {
                continue;
            }
            let m = METHODS
                .into_iter()
                .find(|m| m.lower() == method)
                .expect("a known method");
            got.insert((m, path.clone(), name.to_string()));
        }
    }
    assert_same("OpenAPI", &got, &registry_routes());
    let names: BTreeSet<String> = got.into_iter().map(|(_, _, n)| n).collect();
    let routed: BTreeSet<String> = OPERATIONS
        .iter()
        .filter(|o| !o.routes.is_empty())
        .map(|o| o.name.to_string())
        .collect();
    assert_same("OpenAPI operations", &names, &routed);
}

#[test]
fn c_operation_list_is_the_registry() {
    let mut out = std::ptr::null_mut();
    // SAFETY: `out` is writable; the string returned is freed below.
    let result = unsafe { chat_engine::chat_operations(&mut out) };
    assert_eq!(result, chat_engine::chat_result::CHAT_OK);
    // SAFETY: on CHAT_OK `out` is a NUL-terminated string of the library.
    let text = unsafe { std::ffi::CStr::from_ptr(out) }
        .to_str()
        .expect("UTF-8")
        .to_string();
    // SAFETY: returned by the library, freed once.
    unsafe { chat_engine::chat_string_free(out) };
    let list: Value = serde_json::from_str(&text).expect("JSON");
    let names: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|o| o["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names.len(), OPERATIONS.len(), "no name twice");
    assert_same(
        "C chat_operations",
        &names.into_iter().collect(),
        &registry_names(),
    );
}

#[test]
fn typescript_typings_name_the_registry_operations() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bindings-wasm/types/chat_engine.d.ts"
    );
    let text = std::fs::read_to_string(path).expect("the committed typings");
    let start = text
        .find("export interface Operations {")
        .expect("the Operations interface");
    let body = &text[start..];
    let body = &body[..body.find("\n}").expect("the end of the interface")];
    let names: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_once(": Op<").map(|(name, _)| name.to_string()))
        .collect();
    assert_eq!(
        names.len(),
        names.iter().collect::<BTreeSet<_>>().len(),
        "no name twice"
    );
    assert_same(
        ".d.ts Operations",
        &names.into_iter().collect(),
        &registry_names(),
    );
}

/// A concrete path: every parameter replaced by a value of its kind.
fn concrete(template: &str) -> String {
    template
        .replace("{visitor_id}", "3b90ef7c93484af4965a79ace7bc9a62")
        .replace("{language_code}", "en")
        .replace("{tag_name}", "Lead")
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "7f9e9580-095b-42c7-838c-c04e667b26f7"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_exactly_the_registry_routes() {
    let engine = Arc::new(Engine::open_in_memory().expect("engine"));
    let app = Arc::new(crate::http::App {
        engine,
        admin_token: None,
        public_url: None,
        openapi: crate::openapi::document(),
        fanout: crate::realtime::Fanout::new(),
        calls: crate::engine_threads::Calls::start(1).expect("engine threads"),
        limits: crate::rate_limits::RateLimits::new(None, None, 0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            crate::http::router(app, std::time::Duration::from_secs(30)),
        )
        .await;
    });
    let client = reqwest::Client::new();
    let send = |method: M, path: String| {
        let m =
            reqwest::Method::from_bytes(method.lower().to_uppercase().as_bytes()).expect("method");
        let mut req = client.request(m, format!("http://{addr}{path}"));
        if method.has_body() {
            req = req.header("content-type", "application/json").body("{}");
        }
        async move {
            let res = req.send().await.expect("response");
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };

    // Every registry route is served: without credentials it asks for them (public routes
    // reach their operation).
    let mut by_template: BTreeMap<String, BTreeSet<M>> = BTreeMap::new();
    for o in OPERATIONS {
        for r in o.routes {
            let template = format!("{PREFIX}{}", r.path)
                .replace('<', "{")
                .replace('>', "}");
            by_template
                .entry(template.clone())
                .or_default()
                .insert(r.method);
            let (status, body) = send(r.method, concrete(&template)).await;
            if o.access == Access::Public {
                assert!(
                    status != 405 && body["detail"] != "No such endpoint.",
                    "{} {template} ({}): {status} {body}",
                    r.method.lower(),
                    o.name
                );
            } else {
                assert_eq!(
                    (status, body["code"].as_str()),
                    (401, Some("not_authenticated")),
                    "{} {template} ({}): {body}",
                    r.method.lower(),
                    o.name
                );
            }
        }
    }
    // And nothing else on those paths: every other method is 405.
    for (template, methods) in &by_template {
        for m in METHODS.into_iter().filter(|m| !methods.contains(m)) {
            let (status, body) = send(m, concrete(template)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (405, Some("method_not_allowed")),
                "{} {template} is not a registry route: {body}",
                m.lower()
            );
        }
    }
    // The server's route table is the registry's routes and the WebSocket stream.
    let mut table: BTreeSet<(M, String, String)> = crate::routes::ROUTES
        .iter()
        .map(|r| (r.method, r.template(), r.op.to_string()))
        .collect();
    assert!(table.remove(&(
        M::Get,
        format!("{PREFIX}/realtime"),
        REALTIME_OP.to_string()
    )));
    assert_same("server routes", &table, &registry_routes());
    server.abort();
}
