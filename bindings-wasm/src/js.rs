//! The `Engine` class seen by JavaScript. Conversion only: JS values become JSON (through the
//! JS engine's own `JSON.stringify`), go through `chat_core::api`, and the reply's JSON comes back
//! through `JSON.parse` — so results are exactly the REST resources, attribute for attribute.
//!
//! The TypeScript declarations are hand-written in `types/chat_engine.d.ts` and shipped in the
//! generated `.d.ts` through the custom section below; every export here skips wasm-bindgen's
//! own (less precise) typings.

use crate::convert;
use crate::guard::guarded;
use chat_core::api;
use chat_core::{Actor, ChatError, ErrorCode, TestClock};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("../types/chat_engine.d.ts");

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub(crate) fn console_error(s: &str);
}

type JsResult<T = JsValue> = Result<T, JsValue>;

/// A JS `Error` named `ChatError` with `code`, `codeNumber`, `status`, `detail`, `errors` and
/// `body` (see [`convert::error_props`]).
pub(crate) fn chat_error(e: &ChatError) -> JsValue {
    let err = js_sys::Error::new(&e.detail);
    err.set_name("ChatError");
    if let Value::Object(props) = convert::error_props(e) {
        for (k, v) in props {
            // Plain data on a fresh object: these cannot fail; a failure would only lose a field.
            let _ = js_sys::Reflect::set(&err, &JsValue::from_str(&k), &json_to_js_lossless(&v));
        }
    }
    err.into()
}

/// JSON → JS for values built here (error properties): never fails, `null` at worst.
fn json_to_js_lossless(v: &Value) -> JsValue {
    json_to_js(v).unwrap_or(JsValue::NULL)
}

fn json_to_js(v: &Value) -> Result<JsValue, ChatError> {
    match v {
        Value::Null => Ok(JsValue::NULL),
        Value::Bool(b) => Ok(JsValue::from_bool(*b)),
        Value::String(s) => Ok(JsValue::from_str(s)),
        _ => {
            let text = serde_json::to_string(v)
                .map_err(|e| ChatError::internal(format!("serialization failed: {e}")))?;
            js_sys::JSON::parse(&text)
                .map_err(|_| ChatError::internal("JSON.parse refused the engine's reply"))
        }
    }
}

/// The message of a thrown JS value, for error details.
fn js_message(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// JS arguments → JSON: `undefined`/`null` are `{}`, a string is JSON text, anything else goes
/// through `JSON.stringify`.
fn js_to_json(v: &JsValue) -> Result<Value, ChatError> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Object(Map::new()));
    }
    if let Some(text) = v.as_string() {
        return convert::args_from_text(&text);
    }
    let text = js_sys::JSON::stringify(v).map_err(|e| {
        ChatError::parse(format!(
            "The arguments cannot be converted to JSON: {}",
            js_message(&e)
        ))
    })?;
    match JsValue::from(text).as_string() {
        Some(text) => convert::args_from_text(&text),
        None => Err(ChatError::parse("The arguments must be a JSON object.")),
    }
}

fn js_err(e: ChatError) -> JsValue {
    chat_error(&e)
}

/// The engine options a JS host may pass: (JS name, the core's name in `EngineOptions`).
const ENGINE_OPTIONS: [(&str, &str); 3] = [
    ("durability", "durability"),
    ("eventRetentionSecs", "event_retention_secs"),
    ("webhookDestinations", "webhook_destinations"),
];

/// An engine builder from `openInMemory`/`openOpfs` options: the manual clock
/// (`testClockMs`) and the core's engine options under their JS names, which the core
/// validates (its field errors are renamed back to the JS names). Background checkpoints need
/// a thread, which WebAssembly has not: refused (SQLite's inline checkpoints run instead), as
/// is any other key.
fn engine_builder(
    options: &JsValue,
) -> Result<(chat_core::EngineBuilder, Option<TestClock>), ChatError> {
    let mut clock = None;
    let mut core = serde_json::Map::new();
    if let Value::Object(given) = js_to_json(options)? {
        for (key, value) in given {
            match key.as_str() {
                // With a number, the engine runs on a manual clock starting there.
                "testClockMs" => {
                    clock = match value {
                        Value::Null => None,
                        v => Some(
                            v.as_f64()
                                .filter(|ms| ms.is_finite())
                                .map(|ms| TestClock::new(ms as i64))
                                .ok_or_else(|| {
                                    ChatError::field(
                                        "testClockMs",
                                        "Must be milliseconds since the Unix epoch.",
                                    )
                                })?,
                        ),
                    };
                }
                "backgroundCheckpoints" => {
                    return Err(ChatError::field(
                        "backgroundCheckpoints",
                        "Not available in WebAssembly (no threads): SQLite checkpoints inline.",
                    ));
                }
                js => match ENGINE_OPTIONS.iter().find(|(name, _)| *name == js) {
                    Some((_, core_name)) => {
                        core.insert(core_name.to_string(), value);
                    }
                    None => {
                        let known: Vec<&str> = std::iter::once("testClockMs")
                            .chain(ENGINE_OPTIONS.iter().map(|(name, _)| *name))
                            .collect();
                        return Err(ChatError::field(
                            js,
                            format!("Unknown option ({}).", known.join(", ")),
                        ));
                    }
                },
            }
        }
    }
    let mut builder = chat_core::input::from_value(Value::Object(core))
        .and_then(|o| chat_core::Engine::builder().options(o))
        .map_err(with_js_option_names)?;
    if let Some(c) = &clock {
        builder = builder.clock(c.clone());
    }
    Ok((builder, clock))
}

/// The core's field errors about engine options, named as the JS host wrote them
/// (`event_retention_secs` → `eventRetentionSecs`, `webhook_destinations[1]` →
/// `webhookDestinations[1]`).
fn with_js_option_names(mut e: ChatError) -> ChatError {
    e.errors = std::mem::take(&mut e.errors)
        .into_iter()
        .map(|(field, messages)| {
            let renamed = ENGINE_OPTIONS.iter().find_map(|(js, core)| {
                field
                    .strip_prefix(core)
                    .filter(|rest| rest.is_empty() || rest.starts_with(['[', '.']))
                    .map(|rest| format!("{js}{rest}"))
            });
            (renamed.unwrap_or(field), messages)
        })
        .collect();
    e
}

/// A JS callback subscribed to channels (see `Engine.subscribe`).
#[derive(Clone)]
struct Subscription {
    id: u32,
    actor: Actor,
    channels: Value,
    last_seq: i64,
    callback: js_sys::Function,
}

/// One chat engine over one SQLite database living inside the WebAssembly module.
#[wasm_bindgen(skip_typescript)]
pub struct Engine {
    inner: RefCell<Option<chat_core::Engine>>,
    clock: Option<TestClock>,
    subscriptions: RefCell<Vec<Subscription>>,
    next_subscription: Cell<u32>,
}

impl Engine {
    fn new(engine: chat_core::Engine, clock: Option<TestClock>) -> Self {
        Self {
            inner: RefCell::new(Some(engine)),
            clock,
            subscriptions: RefCell::new(Vec::new()),
            next_subscription: Cell::new(1),
        }
    }

    /// One page of events after `since` for a subscription (core's `events_since`).
    fn events_page(
        &self,
        actor: &Actor,
        channels: &Value,
        since: Option<i64>,
    ) -> Result<Value, JsValue> {
        let args = serde_json::json!({ "body": { "channels": channels, "since": since } });
        self.with(|e| api::call(e, actor, "events_since", &args))
            .map(|r| r.body)
    }

    /// Hands every subscription the events committed since it last heard. In WebAssembly every
    /// write goes through this object, so delivering after each call misses nothing. A callback
    /// that throws is reported on the console and does not fail the call that committed.
    fn deliver(&self) {
        let subs: Vec<Subscription> = self.subscriptions.borrow().clone();
        if subs.is_empty() {
            return;
        }
        for sub in subs {
            loop {
                // The cursor as stored now: a callback may have called the engine (which
                // delivered meanwhile) or unsubscribed.
                let Some(since) = self
                    .subscriptions
                    .borrow()
                    .iter()
                    .find(|s| s.id == sub.id)
                    .map(|s| s.last_seq)
                else {
                    break;
                };
                let page = match self.events_page(&sub.actor, &sub.channels, Some(since)) {
                    Ok(p) => p,
                    Err(_) => break,
                };
                let events = page
                    .get("events")
                    .and_then(Value::as_array)
                    .map(Vec::len)
                    .unwrap_or(0);
                let last = page
                    .get("last_seq")
                    .and_then(Value::as_i64)
                    .unwrap_or(since);
                let resync = page.get("resync").and_then(Value::as_bool).unwrap_or(false);
                if events == 0 && !resync {
                    break;
                }
                // Advanced before the callback runs, so a delivery nested in it starts after
                // this page instead of handing it out again.
                if let Some(s) = self
                    .subscriptions
                    .borrow_mut()
                    .iter_mut()
                    .find(|s| s.id == sub.id)
                {
                    s.last_seq = last;
                }
                if let Ok(js) = json_to_js(&page)
                    && let Err(e) = sub.callback.call1(&JsValue::NULL, &js)
                {
                    console_error(&format!(
                        "chat engine: a subscription callback threw: {e:?}"
                    ));
                }
                if resync || events < chat_core::events::MAX_LIMIT {
                    break;
                }
            }
        }
    }

    /// Runs `f` on the open engine, guarded (see `guard`).
    fn with<T>(&self, f: impl FnOnce(&chat_core::Engine) -> Result<T, ChatError>) -> JsResult<T> {
        guarded(|| {
            let inner = self
                .inner
                .try_borrow()
                .map_err(|_| ChatError::internal("The engine is busy in another call."))?;
            match inner.as_ref() {
                Some(engine) => f(engine),
                None => Err(closed()),
            }
        })
        .map_err(js_err)
    }

    fn run(
        &self,
        actor: Option<&Actor>,
        token: Option<&str>,
        op: &str,
        args: &JsValue,
    ) -> JsResult<api::Reply> {
        let args = js_to_json(args).map_err(js_err)?;
        let reply = self.with(|e| match actor {
            Some(a) => api::call(e, a, op, &args),
            None => api::call_with_token(e, token, op, &args),
        })?;
        self.deliver();
        Ok(reply)
    }

    fn actor(v: &JsValue) -> JsResult<Actor> {
        js_to_json(v)
            .and_then(|v| convert::actor_from_json(&v))
            .map_err(js_err)
    }

    fn clock(&self) -> JsResult<&TestClock> {
        self.clock.as_ref().ok_or_else(|| {
            js_err(ChatError::field(
                "testClockMs",
                "This engine runs on the system clock; open it with {testClockMs} to set time.",
            ))
        })
    }
}

fn closed() -> ChatError {
    ChatError::new(ErrorCode::Internal, "The engine is closed.")
}

fn body(reply: api::Reply) -> JsResult {
    json_to_js(&reply.body).map_err(js_err)
}

#[wasm_bindgen]
impl Engine {
    /// A new engine over an in-memory database.
    #[wasm_bindgen(js_name = openInMemory, skip_typescript)]
    pub fn open_in_memory(options: JsValue) -> JsResult<Engine> {
        let (builder, clock) = engine_builder(&options).map_err(js_err)?;
        guarded(|| builder.open_in_memory())
            .map(|e| Engine::new(e, clock))
            .map_err(js_err)
    }

    /// A persistent engine in the Origin Private File System (dedicated workers only).
    #[wasm_bindgen(js_name = openOpfs, skip_typescript)]
    pub async fn open_opfs(name: String, options: JsValue) -> JsResult<Engine> {
        let (builder, clock) = engine_builder(&options).map_err(js_err)?;
        convert::check_db_name(&name).map_err(js_err)?;
        crate::opfs::install().await.map_err(js_err)?;
        guarded(|| builder.open(&name))
            .map(|e| Engine::new(e, clock))
            .map_err(js_err)
    }

    /// Lets go of this worker's OPFS files so that another worker or tab can open them (close
    /// the engines on OPFS first); `openOpfs` takes them again.
    #[wasm_bindgen(js_name = releaseOpfs, skip_typescript)]
    pub fn release_opfs() -> JsResult<()> {
        guarded(crate::opfs::release).map_err(js_err)
    }

    /// Runs an operation with a bearer token (API token or visitor access token); returns the
    /// body.
    #[wasm_bindgen(skip_typescript)]
    pub fn call(&self, op: &str, args: JsValue, token: Option<String>) -> JsResult {
        body(self.run(None, token.as_deref(), op, &args)?)
    }

    /// Runs an operation as an actor; returns the body.
    #[wasm_bindgen(js_name = callAs, skip_typescript)]
    pub fn call_as(&self, actor: JsValue, op: &str, args: JsValue) -> JsResult {
        let actor = Self::actor(&actor)?;
        body(self.run(Some(&actor), None, op, &args)?)
    }

    /// Like `call`, returning `{status, body}`.
    #[wasm_bindgen(skip_typescript)]
    pub fn reply(&self, op: &str, args: JsValue, token: Option<String>) -> JsResult {
        let reply = self.run(None, token.as_deref(), op, &args)?;
        json_to_js(&convert::reply_json(reply)).map_err(js_err)
    }

    /// Like `callAs`, returning `{status, body}`.
    #[wasm_bindgen(js_name = replyAs, skip_typescript)]
    pub fn reply_as(&self, actor: JsValue, op: &str, args: JsValue) -> JsResult {
        let actor = Self::actor(&actor)?;
        let reply = self.run(Some(&actor), None, op, &args)?;
        json_to_js(&convert::reply_json(reply)).map_err(js_err)
    }

    /// Calls `callback({events, last_seq, resync?})` with the events of `channels` (paths or
    /// patterns with `*`) that `actor` may read: first those after `since` (when given), then
    /// after every call of this engine that commits some. Returns an id for `unsubscribe`.
    /// Channels the actor may not read are refused here, as `events_since` refuses them.
    #[wasm_bindgen(skip_typescript)]
    pub fn subscribe(
        &self,
        actor: JsValue,
        channels: JsValue,
        since: JsValue,
        callback: js_sys::Function,
    ) -> JsResult<u32> {
        let actor = Self::actor(&actor)?;
        let channels = js_to_json(&channels).map_err(js_err)?;
        let since =
            if since.is_null() || since.is_undefined() {
                None
            } else {
                Some(since.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                    js_err(ChatError::field("since", "A sequence number or null."))
                })? as i64)
            };
        // Validates the channels and the actor's right to them; without `since`, starts at
        // the newest event (`since: null` reads no events, only the head).
        let head = self.events_page(&actor, &channels, None)?;
        let start = match since {
            Some(s) => s,
            None => head.get("last_seq").and_then(Value::as_i64).unwrap_or(0),
        };
        let id = self.next_subscription.get();
        self.next_subscription.set(id.wrapping_add(1));
        self.subscriptions.borrow_mut().push(Subscription {
            id,
            actor,
            channels,
            last_seq: start,
            callback,
        });
        if since.is_some() {
            self.deliver();
        }
        Ok(id)
    }

    /// Ends a subscription; false when there was none with that id.
    #[wasm_bindgen(skip_typescript)]
    pub fn unsubscribe(&self, id: u32) -> bool {
        let mut subs = self.subscriptions.borrow_mut();
        let before = subs.len();
        subs.retain(|s| s.id != id);
        subs.len() != before
    }

    /// The actor behind an API token or visitor access token.
    #[wasm_bindgen(skip_typescript)]
    pub fn authenticate(&self, token: &str) -> JsResult {
        let actor = self.with(|e| e.authenticate(token))?;
        json_to_js(&convert::actor_to_json(&actor)).map_err(js_err)
    }

    /// Loads a seed (object or JSON text) as the host.
    #[wasm_bindgen(js_name = loadSeed, skip_typescript)]
    pub fn load_seed(&self, seed: JsValue) -> JsResult {
        let seed = js_to_json(&seed).map_err(js_err)?;
        let args = serde_json::json!({ "body": seed });
        let reply = self.with(|e| api::call(e, &Actor::Admin, "load_seed", &args))?;
        self.deliver();
        body(reply)
    }

    /// Applies the time-driven rules now, as the host.
    #[wasm_bindgen(skip_typescript)]
    pub fn maintenance(&self) -> JsResult {
        let args = Value::Object(Map::new());
        let reply = self.with(|e| api::call(e, &Actor::Admin, "maintenance", &args))?;
        self.deliver();
        body(reply)
    }

    /// Every operation `call` accepts: `{name, args, summary}[]`.
    #[wasm_bindgen(skip_typescript)]
    pub fn operations(&self) -> JsValue {
        json_to_js_lossless(&convert::operations_json())
    }

    /// Closes the database; later calls throw `internal_error` ("The engine is closed.").
    #[wasm_bindgen(skip_typescript)]
    pub fn close(&self) -> JsResult<()> {
        guarded(|| {
            let mut inner = self
                .inner
                .try_borrow_mut()
                .map_err(|_| ChatError::internal("The engine is busy in another call."))?;
            drop(inner.take());
            Ok(())
        })
        .map_err(js_err)
    }

    #[wasm_bindgen(getter, js_name = isClosed, skip_typescript)]
    pub fn is_closed(&self) -> bool {
        self.inner
            .try_borrow()
            .map(|i| i.is_none())
            .unwrap_or(false)
    }

    /// The engine's current time (ms since the epoch).
    #[wasm_bindgen(js_name = nowMs, skip_typescript)]
    pub fn now_ms(&self) -> JsResult<f64> {
        self.with(|e| Ok(e.now_ms() as f64))
    }

    /// Manual clock only: moves time forward by `ms`.
    #[wasm_bindgen(js_name = advanceClock, skip_typescript)]
    pub fn advance_clock(&self, ms: f64) -> JsResult<()> {
        self.clock()?.advance_ms(ms as i64);
        Ok(())
    }

    /// Manual clock only: sets the time.
    #[wasm_bindgen(js_name = setClock, skip_typescript)]
    pub fn set_clock(&self, ms: f64) -> JsResult<()> {
        self.clock()?.set_ms(ms as i64);
        Ok(())
    }

    /// Test hook (feature `test-hooks`, never in the package): panics inside an engine call.
    #[cfg(feature = "test-hooks")]
    #[wasm_bindgen(js_name = panicForTest, skip_typescript)]
    pub fn panic_for_test(&self) -> JsResult<()> {
        self.with(|_| -> Result<(), ChatError> { panic!("deliberate panic for a test") })
    }
}

/// Every operation `call` accepts: `{name, args, summary}[]`.
#[wasm_bindgen(skip_typescript)]
pub fn operations() -> JsValue {
    json_to_js_lossless(&convert::operations_json())
}

/// Every stable error code: `{code, number, status}[]`.
#[wasm_bindgen(js_name = errorCodes, skip_typescript)]
pub fn error_codes() -> JsValue {
    json_to_js_lossless(&convert::error_codes_json())
}

/// The engine version (the crate version).
#[wasm_bindgen(skip_typescript)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Whether a value is a `ChatError` thrown by the engine.
#[wasm_bindgen(js_name = isChatError, skip_typescript)]
pub fn is_chat_error(value: &JsValue) -> bool {
    value
        .dyn_ref::<js_sys::Error>()
        .is_some_and(|e| e.name() == "ChatError")
        && js_sys::Reflect::get(value, &JsValue::from_str("code")).is_ok_and(|c| c.is_string())
}
