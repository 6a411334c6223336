//! A panic inside an engine call reaches JS as a `ChatError` (`internal_error`, 500), never as
//! a `RuntimeError: unreachable`; afterwards the module refuses every call with the same code.
//! Needs the `test-hooks` feature; runs under wasm-bindgen-test-runner in Node and in headless
//! Chromium (see scripts/test-wasm.sh). Calls go through JS (`Function.call`), as an
//! application's would.
#![cfg(all(target_arch = "wasm32", feature = "test-hooks"))]

use chat_wasm::Engine;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn method(obj: &JsValue, name: &str) -> Function {
    get(obj, name).unchecked_into()
}

fn check_internal_error(err: &JsValue, needle: &str) {
    assert!(err.is_instance_of::<js_sys::Error>(), "an Error: {err:?}");
    assert_eq!(get(err, "name").as_string().as_deref(), Some("ChatError"));
    assert_eq!(
        get(err, "code").as_string().as_deref(),
        Some("internal_error")
    );
    assert_eq!(get(err, "status").as_f64(), Some(500.0));
    let detail = get(err, "detail").as_string().unwrap_or_default();
    assert!(
        detail.contains(needle),
        "detail {detail:?} lacks {needle:?}"
    );
    assert!(chat_wasm::js::is_chat_error(err));
}

#[wasm_bindgen_test]
fn a_panic_becomes_a_chat_error_and_stops_the_module() {
    let engine: JsValue = Engine::open_in_memory(JsValue::UNDEFINED)
        .map_err(|_| "open")
        .unwrap()
        .into();
    let other: JsValue = Engine::open_in_memory(JsValue::UNDEFINED)
        .map_err(|_| "open")
        .unwrap()
        .into();
    let maintenance = method(&engine, "maintenance");
    assert!(
        maintenance.call0(&engine).is_ok(),
        "works before the failure"
    );

    let err = method(&engine, "panicForTest")
        .call0(&engine)
        .expect_err("the panic must throw");
    check_internal_error(&err, "deliberate panic for a test");

    // Every engine of this module instance now refuses, with the same kind of error.
    for target in [&engine, &other] {
        let err = maintenance.call0(target).expect_err("stopped");
        check_internal_error(&err, "reload the module");
    }
    let err = method(&other, "call")
        .call2(&other, &JsValue::from_str("me"), &JsValue::NULL)
        .expect_err("stopped");
    check_internal_error(&err, "reload the module");
}
