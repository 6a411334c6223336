//! Runs the shared scenario files of `tests/scenarios/` over HTTP against a real `chat-server`:
//! each step's `op` + `args` becomes the request of the server's own route table
//! (`server-example/src/routes.rs`, the registry's routes, compiled in here), sent with the step's token; status and
//! JSON pointers are compared as `scenario_suite.rs` does through `api::call`.

mod support;

#[allow(dead_code)]
#[path = "../../server-example/src/routes.rs"]
mod routes;

use routes::{M, ROUTES, Route};
use serde_json::Value;
use std::collections::BTreeMap;
use support::*;

fn substitute(v: &Value, vars: &BTreeMap<String, Value>) -> Value {
    match v {
        Value::String(s) if s.starts_with('$') => vars
            .get(&s[1..])
            .cloned()
            .unwrap_or_else(|| panic!("unknown variable {s}")),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Percent-encodes a path segment or query component (RFC 3986 unreserved characters stay).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The route of `op` for these `args`: the same scope, every path parameter given (the most
/// specific such route), PATCH only for `"partial": true`.
fn route_for(op: &str, args: &Value) -> &'static Route {
    let scope = args.get("scope").and_then(Value::as_str);
    let partial = args.get("partial").and_then(Value::as_bool) == Some(true);
    ROUTES
        .iter()
        .filter(|r| r.op == op && r.scope == scope)
        .filter(|r| (r.method == M::Patch) == partial || r.method != M::Patch && r.method != M::Put)
        .filter(|r| r.params().iter().all(|p| args.get(*p).is_some()))
        .max_by_key(|r| r.params().len())
        .unwrap_or_else(|| panic!("no route for {op} with {args}"))
}

/// Method and concrete path (with query) for a step; checks every argument is used.
fn request(op: &str, args: &Value) -> (&'static Route, String, Option<Value>) {
    let r = route_for(op, args);
    let mut path = r.full_path();
    let params = r.params();
    for p in &params {
        path = path.replace(&format!("<{p}>"), &encode(&text(&args[*p])));
    }
    if let Some(q) = args.get("query").and_then(Value::as_object) {
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(&text(v))))
            .collect();
        path = format!("{path}?{}", qs.join("&"));
    }
    for k in args.as_object().into_iter().flat_map(|o| o.keys()) {
        assert!(
            params.contains(&k.as_str())
                || ["scope", "body", "query", "partial"].contains(&k.as_str()),
            "{op}: argument {k} has no place in {} {}",
            r.method.lower(),
            r.path
        );
    }
    let body = args.get("body").cloned();
    (r, path, body)
}

fn run(file: &str) -> usize {
    let text = std::fs::read_to_string(file).expect("scenario file");
    let scenario: Value = serde_json::from_str(&text).expect("scenario JSON");
    let s = Server::with_seed(&scenario["seed"]);
    let doc = s.call("GET", "/api/v5/openapi.json", None, None);
    let paths = doc.expect(200)["paths"].clone();
    let mut vars: BTreeMap<String, Value> = scenario["constants"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let steps = scenario["steps"].as_array().expect("steps");
    for step in steps {
        let name = step["name"].as_str().expect("name");
        let token = substitute(&step["token"], &vars);
        let args = substitute(&step["args"], &vars);
        let op = step["op"].as_str().expect("op");
        let (route, path, body) = request(op, &args);
        // The route the table gives is the one the served OpenAPI document lists for the op.
        let documented = &paths[route.template()][route.method.lower()];
        assert!(
            documented.is_object(),
            "step '{name}': {} {} not in the OpenAPI document",
            route.method.lower(),
            route.template()
        );
        let token = match token.as_str() {
            Some("@admin") => Some(ADMIN.to_string()),
            Some(t) => Some(t.to_string()),
            None => None,
        };
        let body = match (route.method.has_body(), body) {
            (true, b) => Some(b.unwrap_or_else(|| serde_json::json!({}))),
            (false, b) => {
                assert!(b.is_none(), "step '{name}': a body for a {op}");
                None
            }
        };
        let method = route.method.lower().to_uppercase();
        let res = s.call(&method, &path, token.as_deref(), body.as_ref());
        let want = step["status"].as_u64().expect("status") as u16;
        assert_eq!(
            res.status, want,
            "step '{name}' ({method} {path}): {}",
            res.text
        );
        if res.status >= 400 {
            assert_error_body(&res.body);
        }
        if let Some(expect) = step.get("expect").and_then(Value::as_object) {
            for (pointer, want) in expect {
                let want = substitute(want, &vars);
                assert_eq!(
                    res.body.pointer(pointer),
                    Some(&want),
                    "step '{name}': {pointer} in {}",
                    res.text
                );
            }
        }
        if let Some(save) = step.get("save").and_then(Value::as_object) {
            for (var, pointer) in save {
                let v = res
                    .body
                    .pointer(pointer.as_str().expect("pointer"))
                    .cloned()
                    .unwrap_or_else(|| panic!("step '{name}': no {pointer} in {}", res.text));
                vars.insert(var.clone(), v);
            }
        }
    }
    steps.len()
}

#[test]
fn customer_service_scenario_over_http() {
    let n = run(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/customer_service.json"
    ));
    assert!(n >= 20);
}

#[test]
fn every_route_of_the_table_is_in_the_openapi_document() {
    let s = Server::with_seed(&seed());
    let doc = s.call("GET", "/api/v5/openapi.json", None, None);
    let paths = &doc.expect(200)["paths"];
    for r in ROUTES.iter() {
        assert!(
            paths[r.template()][r.method.lower()]["operationId"].is_string(),
            "{} {}",
            r.method.lower(),
            r.template()
        );
    }
}
