//! Runs the shared scenario files of `tests/scenarios/` through `chat_core::api` — the same
//! files the C, WebAssembly and HTTP surfaces run.

use chat_core::api::{self, Reply};
use chat_core::{Actor, Engine, TestClock};
use serde_json::Value;
use std::collections::BTreeMap;

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

fn run(path: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let scenario: Value = serde_json::from_str(&text).unwrap();
    let engine = Engine::builder()
        .clock(TestClock::at_default_start())
        .open_in_memory()
        .unwrap();
    api::call(
        &engine,
        &Actor::Admin,
        "load_seed",
        &serde_json::json!({ "body": scenario["seed"] }),
    )
    .unwrap();
    let mut vars: BTreeMap<String, Value> = scenario["constants"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let steps = scenario["steps"].as_array().unwrap();
    for step in steps {
        let name = step["name"].as_str().unwrap();
        let token = substitute(&step["token"], &vars);
        let args = substitute(&step["args"], &vars);
        let op = step["op"].as_str().unwrap();
        let result = match token.as_str() {
            Some("@admin") => api::call(&engine, &Actor::Admin, op, &args),
            t => api::call_with_token(&engine, t, op, &args),
        };
        let Reply { status, body } = match result {
            Ok(r) => r,
            Err(e) => Reply {
                status: e.status(),
                body: e.to_json(),
            },
        };
        assert_eq!(
            status,
            step["status"].as_u64().unwrap() as u16,
            "step '{name}': {body}"
        );
        if let Some(expect) = step.get("expect").and_then(Value::as_object) {
            for (pointer, want) in expect {
                let want = substitute(want, &vars);
                assert_eq!(
                    body.pointer(pointer),
                    Some(&want),
                    "step '{name}': {pointer} in {body}"
                );
            }
        }
        if let Some(save) = step.get("save").and_then(Value::as_object) {
            for (var, pointer) in save {
                let v = body
                    .pointer(pointer.as_str().unwrap())
                    .cloned()
                    .unwrap_or_else(|| panic!("step '{name}': no {pointer} in {body}"));
                vars.insert(var.clone(), v);
            }
        }
    }
    steps.len()
}

#[test]
fn customer_service_scenario_through_the_operation_table() {
    let n = run(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/customer_service.json"
    ));
    assert!(n >= 20);
}
