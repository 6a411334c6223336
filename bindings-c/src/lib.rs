//! # chat-ffi: the C ABI of chat-core
//!
//! The library `libchat_engine` (static and shared) and the header `include/chat_engine.h`
//! (generated from this file by cbindgen in `build.rs`). It follows the conventions of
//! rustls-ffi:
//!
//! - one prefix (`chat_` / `CHAT_`) for every symbol;
//! - opaque handles (`chat_engine`, `chat_actor`), each with exactly one `*_free`;
//! - every fallible function returns a [`chat_result`] with stable numbers: the core's
//!   [`ErrorCode`] numbers (1..=23) plus `CHAT_NULL_PARAMETER`, `CHAT_INVALID_UTF8` and
//!   `CHAT_PANIC` (1000+);
//! - outputs through out-parameters; returned strings freed by [`chat_string_free`];
//! - every function runs inside a panic boundary and checks every pointer.
//!
//! All operations go through one generic entry, [`chat_engine_call`], which runs
//! [`chat_core::api::call`]: every operation of [`chat_core::api::OPERATIONS`] (including the
//! ones the core adds later) is reachable from C with no per-operation code.

// The exported names are C names.
#![allow(non_camel_case_types)]

use chat_core::api::{self, Reply};
use chat_core::{Actor, ChatError, Engine, ErrorCode};
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The result of every fallible function. `CHAT_OK` is 0; the codes 1..23 are the core's
/// error codes with the same numbers and meanings (the `"code"` of the error JSON is the
/// lowercase name without the `CHAT_` prefix, e.g. `CHAT_CHAT_ENDED` is `"chat_ended"`);
/// the codes from 1000 on are the C ABI's own. Numbers never change meaning; new codes get
/// new numbers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum chat_result {
    /// Success.
    CHAT_OK = 0,
    /// 401: no or unknown credentials.
    CHAT_NOT_AUTHENTICATED = 1,
    /// 403: the organization has no active subscription.
    CHAT_NO_ACTIVE_SUBSCRIPTION = 2,
    /// 403: the actor may not act on this user or organization.
    CHAT_PERMISSION_DENIED = 3,
    /// 403: the reports permission is needed.
    CHAT_REPORTS_PERMISSION_REQUIRED = 4,
    /// 403: private chat history is on and the actor lacks the reports permission.
    CHAT_PRIVATE_CHAT_HISTORY = 5,
    /// 404: the resource (or operation) does not exist or the actor may not see it.
    CHAT_NOT_FOUND = 6,
    /// 404: the chat is no longer pending (or has ended).
    CHAT_CHAT_NOT_PENDING = 7,
    /// 400: a field is missing or invalid (the error JSON's `errors` says which).
    CHAT_VALIDATION_ERROR = 8,
    /// 400: the payload (or the arguments JSON) is not in the expected format.
    CHAT_PARSE_ERROR = 9,
    /// 409: the chat has ended (sending messages).
    CHAT_CHAT_ENDED = 10,
    /// 400: the chat has already ended (updating it or a membership).
    CHAT_CHAT_ALREADY_ENDED = 11,
    /// 409: the user is not present.
    CHAT_USER_NOT_PRESENT = 12,
    /// 409: no longer returned: resuming a visitor's chat that someone else serves answers
    /// CHAT_PRIVATE_CHAT_TAKEN. Kept so that the number keeps its meaning and code naming it
    /// still builds.
    CHAT_VISITOR_HAS_CHAT = 13,
    /// 409: private chats: another present user already serves the chat (joining a routed
    /// chat, or resuming a visitor's chat in a room).
    CHAT_PRIVATE_CHAT_TAKEN = 14,
    /// 400: the invitation has already expired.
    CHAT_INVITATION_EXPIRED = 15,
    /// 400: the invitation has already been accepted.
    CHAT_INVITATION_ACCEPTED = 16,
    /// 400: a conversation starter for that language exists.
    CHAT_CONVERSATION_STARTER_EXISTS = 17,
    /// 422: an idempotency key was reused with another body.
    CHAT_IDEMPOTENCY_KEY_REUSED = 18,
    /// 409: the chat's encryption key is no longer held by the engine.
    CHAT_CHAT_KEY_UNAVAILABLE = 19,
    /// 409: a resource with the same unique key exists.
    CHAT_ALREADY_EXISTS = 20,
    /// 500: the database is from a newer engine version.
    CHAT_SCHEMA_TOO_NEW = 21,
    /// 500: storage failure (I/O, corruption): a fault of the host, never of the input.
    CHAT_STORAGE_ERROR = 22,
    /// 500: an internal invariant failed.
    CHAT_INTERNAL_ERROR = 23,
    /// 409: only a failed webhook delivery can be retried.
    CHAT_DELIVERY_NOT_FAILED = 24,
    /// 503: the database cannot be reached; retry the call (a creating one with its
    /// idempotency key).
    CHAT_STORAGE_UNAVAILABLE = 25,
    /// A pointer parameter was NULL (error JSON code `"null_parameter"`, status 400).
    CHAT_NULL_PARAMETER = 1000,
    /// A string parameter was not valid UTF-8 (error JSON code `"invalid_utf8"`, status 400).
    CHAT_INVALID_UTF8 = 1001,
    /// The library panicked; the call had no effect or its transaction was rolled back
    /// (error JSON code `"panic"`, status 500).
    CHAT_PANIC = 1002,
}

impl From<ErrorCode> for chat_result {
    fn from(code: ErrorCode) -> Self {
        use chat_result::*;
        // Exhaustive: a new core code fails to compile here until it gets its C code.
        match code {
            ErrorCode::NotAuthenticated => CHAT_NOT_AUTHENTICATED,
            ErrorCode::NoActiveSubscription => CHAT_NO_ACTIVE_SUBSCRIPTION,
            ErrorCode::PermissionDenied => CHAT_PERMISSION_DENIED,
            ErrorCode::ReportsPermissionRequired => CHAT_REPORTS_PERMISSION_REQUIRED,
            ErrorCode::PrivateChatHistory => CHAT_PRIVATE_CHAT_HISTORY,
            ErrorCode::NotFound => CHAT_NOT_FOUND,
            ErrorCode::ChatNotPending => CHAT_CHAT_NOT_PENDING,
            ErrorCode::ValidationError => CHAT_VALIDATION_ERROR,
            ErrorCode::ParseError => CHAT_PARSE_ERROR,
            ErrorCode::ChatEnded => CHAT_CHAT_ENDED,
            ErrorCode::ChatAlreadyEnded => CHAT_CHAT_ALREADY_ENDED,
            ErrorCode::UserNotPresent => CHAT_USER_NOT_PRESENT,
            ErrorCode::VisitorHasChat => CHAT_VISITOR_HAS_CHAT,
            ErrorCode::PrivateChatTaken => CHAT_PRIVATE_CHAT_TAKEN,
            ErrorCode::InvitationExpired => CHAT_INVITATION_EXPIRED,
            ErrorCode::InvitationAccepted => CHAT_INVITATION_ACCEPTED,
            ErrorCode::ConversationStarterExists => CHAT_CONVERSATION_STARTER_EXISTS,
            ErrorCode::IdempotencyKeyReused => CHAT_IDEMPOTENCY_KEY_REUSED,
            ErrorCode::ChatKeyUnavailable => CHAT_CHAT_KEY_UNAVAILABLE,
            ErrorCode::AlreadyExists => CHAT_ALREADY_EXISTS,
            ErrorCode::SchemaTooNew => CHAT_SCHEMA_TOO_NEW,
            ErrorCode::Storage => CHAT_STORAGE_ERROR,
            ErrorCode::Internal => CHAT_INTERNAL_ERROR,
            ErrorCode::DeliveryNotFailed => CHAT_DELIVERY_NOT_FAILED,
            ErrorCode::StorageUnavailable => CHAT_STORAGE_UNAVAILABLE,
        }
    }
}

impl chat_result {
    /// Every code, in number order.
    pub const ALL: [chat_result; 29] = {
        use chat_result::*;
        [
            CHAT_OK,
            CHAT_NOT_AUTHENTICATED,
            CHAT_NO_ACTIVE_SUBSCRIPTION,
            CHAT_PERMISSION_DENIED,
            CHAT_REPORTS_PERMISSION_REQUIRED,
            CHAT_PRIVATE_CHAT_HISTORY,
            CHAT_NOT_FOUND,
            CHAT_CHAT_NOT_PENDING,
            CHAT_VALIDATION_ERROR,
            CHAT_PARSE_ERROR,
            CHAT_CHAT_ENDED,
            CHAT_CHAT_ALREADY_ENDED,
            CHAT_USER_NOT_PRESENT,
            CHAT_VISITOR_HAS_CHAT,
            CHAT_PRIVATE_CHAT_TAKEN,
            CHAT_INVITATION_EXPIRED,
            CHAT_INVITATION_ACCEPTED,
            CHAT_CONVERSATION_STARTER_EXISTS,
            CHAT_IDEMPOTENCY_KEY_REUSED,
            CHAT_CHAT_KEY_UNAVAILABLE,
            CHAT_ALREADY_EXISTS,
            CHAT_SCHEMA_TOO_NEW,
            CHAT_STORAGE_ERROR,
            CHAT_INTERNAL_ERROR,
            CHAT_DELIVERY_NOT_FAILED,
            CHAT_STORAGE_UNAVAILABLE,
            CHAT_NULL_PARAMETER,
            CHAT_INVALID_UTF8,
            CHAT_PANIC,
        ]
    };

    /// The code for a number, if it is one.
    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| *r as u32 == n)
    }

    /// The snake_case name used as `"code"` in error JSON (`"ok"` for `CHAT_OK`).
    pub fn code_name(self) -> &'static str {
        use chat_result::*;
        match self {
            CHAT_OK => "ok",
            CHAT_NULL_PARAMETER => "null_parameter",
            CHAT_INVALID_UTF8 => "invalid_utf8",
            CHAT_PANIC => "panic",
            core => match ErrorCode::ALL
                .iter()
                .find(|c| chat_result::from(**c) == core)
            {
                Some(c) => c.as_str(),
                None => "unknown",
            },
        }
    }

    /// The HTTP-equivalent status (200 for `CHAT_OK`).
    pub fn http_status(self) -> u16 {
        use chat_result::*;
        match self {
            CHAT_OK => 200,
            CHAT_NULL_PARAMETER | CHAT_INVALID_UTF8 => 400,
            CHAT_PANIC => 500,
            core => match ErrorCode::ALL
                .iter()
                .find(|c| chat_result::from(**c) == core)
            {
                Some(c) => c.http_status(),
                None => 500,
            },
        }
    }

    /// A short generic sentence for the code (the detail of one failure is in its error JSON).
    pub fn description(self) -> &'static str {
        use chat_result::*;
        match self {
            CHAT_OK => "success",
            CHAT_NOT_AUTHENTICATED => "authentication credentials were not provided or are invalid",
            CHAT_NO_ACTIVE_SUBSCRIPTION => "the organization does not have an active subscription",
            CHAT_PERMISSION_DENIED => "permission denied",
            CHAT_REPORTS_PERMISSION_REQUIRED => "the reports permission is required",
            CHAT_PRIVATE_CHAT_HISTORY => {
                "the organization has private chat history and the reports permission is required"
            }
            CHAT_NOT_FOUND => "not found",
            CHAT_CHAT_NOT_PENDING => "the chat is no longer pending",
            CHAT_VALIDATION_ERROR => "invalid input",
            CHAT_PARSE_ERROR => "the payload is not in the expected format",
            CHAT_CHAT_ENDED => "the chat has ended",
            CHAT_CHAT_ALREADY_ENDED => "the chat has already ended",
            CHAT_USER_NOT_PRESENT => "the user is not present",
            CHAT_VISITOR_HAS_CHAT => "someone else already has a chat with the visitor",
            CHAT_PRIVATE_CHAT_TAKEN => "another present user already serves this private chat",
            CHAT_INVITATION_EXPIRED => "the invitation has already expired",
            CHAT_INVITATION_ACCEPTED => "the invitation has already been accepted",
            CHAT_CONVERSATION_STARTER_EXISTS => {
                "a conversation starter for that language already exists"
            }
            CHAT_IDEMPOTENCY_KEY_REUSED => "an idempotency key was reused with another body",
            CHAT_CHAT_KEY_UNAVAILABLE => "the chat's encryption key is no longer held",
            CHAT_ALREADY_EXISTS => "a resource with the same unique key already exists",
            CHAT_SCHEMA_TOO_NEW => "the database is from a newer engine version",
            CHAT_STORAGE_ERROR => "storage error",
            CHAT_INTERNAL_ERROR => "internal error",
            CHAT_DELIVERY_NOT_FAILED => "only a failed webhook delivery can be retried",
            CHAT_STORAGE_UNAVAILABLE => "the database cannot be reached",
            CHAT_NULL_PARAMETER => "a pointer parameter was NULL",
            CHAT_INVALID_UTF8 => "a string parameter was not valid UTF-8",
            CHAT_PANIC => "the library panicked",
        }
    }
}

/// An engine: one SQLite database (a file or in memory) and every rule of the chat domain.
///
/// Thread safety: safe to share between threads; any number of threads may call functions
/// taking a `const chat_engine *` on it at the same time. Free it once with
/// `chat_engine_free`, after every other call on it has returned.
pub struct chat_engine {
    _private: [u8; 0],
}

/// Who performs a call: a user or visitor (from a token) or the host administrator.
///
/// Thread safety: immutable; safe to share between threads and engines. Free it once with
/// `chat_actor_free`, after every call using it has returned.
pub struct chat_actor {
    _private: [u8; 0],
}

/// What a `chat_engine *` points to.
struct EngineHandle {
    engine: Engine,
    /// The last failure of each thread on this engine (removed by its next success).
    last_errors: Mutex<HashMap<u64, Failure>>,
}

/// A number for the calling thread, unique for the process's life. (`std::thread::current()`
/// would allocate a handle that a thread created by C never frees.)
fn thread_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static KEY: Cell<u64> = const { Cell::new(0) };
    }
    KEY.with(|k| {
        if k.get() == 0 {
            k.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        k.get()
    })
}

impl EngineHandle {
    fn errors(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Failure>> {
        self.last_errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn record(&self, outcome: &Result<(), Failure>) {
        let me = thread_key();
        match outcome {
            Ok(()) => {
                self.errors().remove(&me);
            }
            Err(f) => {
                self.errors().insert(me, f.clone());
            }
        }
    }
    fn last_error(&self) -> Option<Failure> {
        self.errors().get(&thread_key()).cloned()
    }
}

/// What a `chat_actor *` points to.
struct ActorHandle(Actor);

/// A failed call: its result code, status, sentence and error JSON body.
#[derive(Debug, Clone)]
struct Failure {
    result: chat_result,
    detail: String,
    body: Value,
}

impl Failure {
    fn ffi(result: chat_result, detail: String) -> Self {
        let body = serde_json::json!({ "detail": detail, "code": result.code_name() });
        Self {
            result,
            detail,
            body,
        }
    }
    fn null(param: &str) -> Self {
        Self::ffi(
            chat_result::CHAT_NULL_PARAMETER,
            format!("The parameter `{param}` is NULL."),
        )
    }
    fn utf8(param: &str) -> Self {
        Self::ffi(
            chat_result::CHAT_INVALID_UTF8,
            format!("The parameter `{param}` is not valid UTF-8."),
        )
    }
    fn panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Self::ffi(
            chat_result::CHAT_PANIC,
            format!("The engine panicked: {what}"),
        )
    }
    fn status(&self) -> u16 {
        self.result.http_status()
    }
}

impl From<ChatError> for Failure {
    fn from(e: ChatError) -> Self {
        Self {
            result: e.code.into(),
            body: e.to_json(),
            detail: e.detail,
        }
    }
}

/// Runs `f`, turning a panic into `CHAT_PANIC`.
fn boundary(f: impl FnOnce() -> chat_result) -> chat_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(chat_result::CHAT_PANIC)
}

/// Runs `f`, turning a panic into a [`Failure`].
fn catching<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(Failure::panic(p)))
}

fn result_of(outcome: &Result<(), Failure>) -> chat_result {
    match outcome {
        Ok(()) => chat_result::CHAT_OK,
        Err(f) => f.result,
    }
}

/// A NUL-terminated UTF-8 parameter.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Failure::utf8(name))
}

/// # Safety
/// `engine` is NULL or a pointer from `chat_engine_open*` not yet freed.
unsafe fn engine_ref<'a>(engine: *const chat_engine) -> Option<&'a EngineHandle> {
    // SAFETY: per the caller's contract it points to a live EngineHandle.
    unsafe { engine.cast::<EngineHandle>().as_ref() }
}

/// # Safety
/// `actor` is NULL or a pointer from `chat_actor_*` not yet freed.
unsafe fn actor_ref<'a>(actor: *const chat_actor) -> Option<&'a ActorHandle> {
    // SAFETY: per the caller's contract it points to a live ActorHandle.
    unsafe { actor.cast::<ActorHandle>().as_ref() }
}

/// A string for the caller, freed by `chat_string_free`. JSON text never holds a NUL.
fn owned_string(s: String) -> Result<*mut c_char, Failure> {
    CString::new(s).map(CString::into_raw).map_err(|_| {
        Failure::from(ChatError::internal(
            "A returned string contained a NUL byte.",
        ))
    })
}

/// Copies `message` into `buf` like `snprintf`: at most `len - 1` bytes (cut at a character
/// boundary) and a NUL; `*out_n` is the message's full length in bytes.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_n` is NULL or writable.
unsafe fn copy_out(message: &str, buf: *mut c_char, len: usize, out_n: *mut usize) -> chat_result {
    if out_n.is_null() || (buf.is_null() && len > 0) {
        return chat_result::CHAT_NULL_PARAMETER;
    }
    // SAFETY: checked non-null; writable per the contract.
    unsafe { *out_n = message.len() };
    if len == 0 {
        return chat_result::CHAT_OK;
    }
    let mut n = message.len().min(len - 1);
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `buf` is writable for `len > n` bytes and does not overlap `message`.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    chat_result::CHAT_OK
}

/// The library version (e.g. `"0.1.0"`): a static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn chat_version() -> *const c_char {
    catch_unwind(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
        .unwrap_or(std::ptr::null())
}

/// Writes a generic sentence describing `result` (any number; unknown numbers are described
/// as such) into `buf` like `snprintf`: at most `len - 1` bytes and a terminating NUL.
/// `*out_n` receives the sentence's full length in bytes (excluding the NUL), so the text
/// was cut when `*out_n >= len`. `buf` may be NULL when `len` is 0 (to ask for the length).
///
/// Returns `CHAT_NULL_PARAMETER` when `out_n` is NULL, or `buf` is NULL with `len > 0`.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_n` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_result_message(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> chat_result {
    boundary(|| {
        let text = match chat_result::from_u32(result) {
            Some(r) => format!("{}: {}", r.code_name(), r.description()),
            None => format!("unknown result code {result}"),
        };
        // SAFETY: forwarded caller contract.
        unsafe { copy_out(&text, buf, len, out_n) }
    })
}

/// Frees a string returned by this library (`*out_json` of any function). NULL does nothing.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_string_free(s: *mut c_char) {
    let _ = boundary(|| {
        if !s.is_null() {
            // SAFETY: per the contract it came from `CString::into_raw` in this library.
            drop(unsafe { CString::from_raw(s) });
        }
        chat_result::CHAT_OK
    });
}

/// Writes the operation table as JSON into `*out_json`: an array of
/// `{"name", "args", "summary"}`, one per operation `chat_engine_call` accepts.
/// Free the string with `chat_string_free`.
///
/// # Safety
/// `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_operations(out_json: *mut *mut c_char) -> chat_result {
    boundary(|| {
        if out_json.is_null() {
            return chat_result::CHAT_NULL_PARAMETER;
        }
        // SAFETY: checked non-null.
        unsafe { *out_json = std::ptr::null_mut() };
        let ops: Vec<Value> = api::OPERATIONS
            .iter()
            .map(|o| serde_json::json!({"name": o.name, "args": o.args, "summary": o.summary}))
            .collect();
        match owned_string(Value::Array(ops).to_string()) {
            Ok(s) => {
                // SAFETY: checked non-null.
                unsafe { *out_json = s };
                chat_result::CHAT_OK
            }
            Err(f) => f.result,
        }
    })
}

fn new_engine(engine: Engine) -> *mut chat_engine {
    let handle = EngineHandle {
        engine,
        last_errors: Mutex::new(HashMap::new()),
    };
    Box::into_raw(Box::new(handle)).cast()
}

/// Opens (creating if needed) the engine database at `path` (UTF-8) and writes the new handle
/// to `*out`; migrations run on open. On failure `*out` is NULL and the result tells why
/// (`CHAT_STORAGE_ERROR`: the file cannot be opened; `CHAT_SCHEMA_TOO_NEW`). Free the engine
/// with `chat_engine_free`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_open(
    path: *const c_char,
    out: *mut *mut chat_engine,
) -> chat_result {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { open_file(path, std::ptr::null(), out) })
}

/// `chat_engine_open` with options: `options_json` is NULL (the defaults) or a JSON object
/// with any of `"durability"` (`"normal"`, `"full"`), `"event_retention_secs"`,
/// `"webhook_destinations"` (an array of URL prefixes) and `"background_checkpoints"`
/// (`true`, or `{"every_ms": 10, "inline_above_pages": 4096}`: the WAL is checkpointed on a
/// thread of the engine's own instead of in the committing call, and stays bounded; stopped by
/// `chat_engine_free`). Options that are not such an object: `CHAT_PARSE_ERROR` or
/// `CHAT_VALIDATION_ERROR`, and nothing is opened.
///
/// # Safety
/// `path` and `options_json` are NULL or NUL-terminated strings; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_open_with_options(
    path: *const c_char,
    options_json: *const c_char,
    out: *mut *mut chat_engine,
) -> chat_result {
    // SAFETY: forwarded caller contract.
    boundary(|| unsafe { open_file(path, options_json, out) })
}

/// # Safety
/// As `chat_engine_open_with_options`.
unsafe fn open_file(
    path: *const c_char,
    options_json: *const c_char,
    out: *mut *mut chat_engine,
) -> chat_result {
    if out.is_null() {
        return chat_result::CHAT_NULL_PARAMETER;
    }
    // SAFETY: checked non-null.
    unsafe { *out = std::ptr::null_mut() };
    // SAFETY: forwarded caller contract.
    let path = match unsafe { text(path, "path") } {
        Ok(p) => p,
        Err(f) => return f.result,
    };
    let builder = if options_json.is_null() {
        Engine::builder()
    } else {
        // SAFETY: forwarded caller contract.
        let json = match unsafe { text(options_json, "options_json") } {
            Ok(j) => j,
            Err(f) => return f.result,
        };
        match Engine::builder().options_json(json) {
            Ok(b) => b,
            Err(e) => return e.code.into(),
        }
    };
    match builder.open(path) {
        Ok(engine) => {
            // SAFETY: checked non-null.
            unsafe { *out = new_engine(engine) };
            chat_result::CHAT_OK
        }
        Err(e) => e.code.into(),
    }
}

/// Opens an engine on a fresh in-memory database (gone when freed) and writes the handle to
/// `*out` (NULL on failure). Free it with `chat_engine_free`.
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_open_in_memory(out: *mut *mut chat_engine) -> chat_result {
    boundary(|| {
        if out.is_null() {
            return chat_result::CHAT_NULL_PARAMETER;
        }
        // SAFETY: checked non-null.
        unsafe { *out = std::ptr::null_mut() };
        match Engine::open_in_memory() {
            Ok(engine) => {
                // SAFETY: checked non-null.
                unsafe { *out = new_engine(engine) };
                chat_result::CHAT_OK
            }
            Err(e) => e.code.into(),
        }
    })
}

/// Closes the engine and frees the handle. NULL does nothing.
///
/// # Safety
/// `engine` is NULL or a handle from `chat_engine_open*` not yet freed, and no other call on
/// it is running or will run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_free(engine: *mut chat_engine) {
    let _ = boundary(|| {
        if !engine.is_null() {
            // SAFETY: per the contract it came from `new_engine` and is freed once.
            drop(unsafe { Box::from_raw(engine.cast::<EngineHandle>()) });
        }
        chat_result::CHAT_OK
    });
}

/// Runs one operation of the core's operation table as `actor`.
///
/// - `op`: the operation name (`chat_operations` lists them, e.g. `"visitor_send_message"`).
/// - `args_json`: a JSON object: path ids at the top level (`"user_id"`, `"chat_id"`, ...), a
///   chat scope in `"scope"`, query parameters in `"query"`, the payload in `"body"`. An empty
///   string means `{}`.
/// - On success (`CHAT_OK`) `*out_status` is the HTTP-equivalent status (200, 201 or 204) and
///   `*out_json` the reply body (a REST resource, a collection page, or `null` for 204).
/// - On failure the result is the error's code, `*out_status` its HTTP-equivalent status and
///   `*out_json` the error body `{"detail": ..., "code": ..., "errors"?: {...}}` (when those
///   out-parameters are not NULL). The same error stays retrievable by this thread with
///   `chat_engine_last_error` / `chat_engine_last_error_json` until its next call on `engine`.
///
/// After the call `*out_json` is NULL or a string owned by the caller: free it with
/// `chat_string_free`. Safe to call from several threads on one engine at the same time.
///
/// # Safety
/// `engine` and `actor` are NULL or live handles; `op` and `args_json` are NULL or
/// NUL-terminated strings; `out_status` and `out_json` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_call(
    engine: *const chat_engine,
    actor: *const chat_actor,
    op: *const c_char,
    args_json: *const c_char,
    out_status: *mut u16,
    out_json: *mut *mut c_char,
) -> chat_result {
    boundary(|| {
        if !out_status.is_null() {
            // SAFETY: checked non-null.
            unsafe { *out_status = 0 };
        }
        if !out_json.is_null() {
            // SAFETY: checked non-null.
            unsafe { *out_json = std::ptr::null_mut() };
        }
        // SAFETY: forwarded caller contract.
        let Some(handle) = (unsafe { engine_ref(engine) }) else {
            return chat_result::CHAT_NULL_PARAMETER;
        };
        let outcome = catching(|| {
            // SAFETY: forwarded caller contract.
            let actor = unsafe { actor_ref(actor) }.ok_or_else(|| Failure::null("actor"))?;
            // SAFETY: forwarded caller contract.
            let op = unsafe { text(op, "op") }?;
            // SAFETY: forwarded caller contract.
            let args = unsafe { text(args_json, "args_json") }?;
            if out_status.is_null() {
                return Err(Failure::null("out_status"));
            }
            if out_json.is_null() {
                return Err(Failure::null("out_json"));
            }
            let Reply { status, body } = api::call_json(&handle.engine, &actor.0, op, args)?;
            let json = owned_string(body.to_string())?;
            // SAFETY: checked non-null.
            unsafe {
                *out_status = status;
                *out_json = json;
            }
            Ok(())
        });
        if let Err(f) = &outcome {
            if !out_status.is_null() {
                // SAFETY: checked non-null.
                unsafe { *out_status = f.status() };
            }
            if !out_json.is_null() {
                let s = owned_string(f.body.to_string()).unwrap_or(std::ptr::null_mut());
                // SAFETY: checked non-null.
                unsafe { *out_json = s };
            }
        }
        handle.record(&outcome);
        result_of(&outcome)
    })
}

/// Writes the sentence (`"detail"`) of this thread's last failure on `engine` into `buf` like
/// `snprintf` (at most `len - 1` bytes and a NUL; `*out_n` is the full length in bytes, so the
/// text was cut when `*out_n >= len`; `buf` may be NULL when `len` is 0). With no failure
/// since this thread's last successful call on `engine`, the sentence is empty.
///
/// # Safety
/// `engine` is NULL or a live handle; `buf` is NULL or writable for `len` bytes; `out_n` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_last_error(
    engine: *const chat_engine,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> chat_result {
    boundary(|| {
        // SAFETY: forwarded caller contract.
        let Some(handle) = (unsafe { engine_ref(engine) }) else {
            return chat_result::CHAT_NULL_PARAMETER;
        };
        let detail = handle.last_error().map(|f| f.detail).unwrap_or_default();
        // SAFETY: forwarded caller contract.
        unsafe { copy_out(&detail, buf, len, out_n) }
    })
}

/// Writes this thread's last failure on `engine` as its error JSON body
/// (`{"detail", "code", "errors"?}`) into `*out_json` (free it with `chat_string_free`), or
/// NULL when this thread's last call on `engine` succeeded.
///
/// # Safety
/// `engine` is NULL or a live handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_engine_last_error_json(
    engine: *const chat_engine,
    out_json: *mut *mut c_char,
) -> chat_result {
    boundary(|| {
        if out_json.is_null() {
            return chat_result::CHAT_NULL_PARAMETER;
        }
        // SAFETY: checked non-null.
        unsafe { *out_json = std::ptr::null_mut() };
        // SAFETY: forwarded caller contract.
        let Some(handle) = (unsafe { engine_ref(engine) }) else {
            return chat_result::CHAT_NULL_PARAMETER;
        };
        let Some(f) = handle.last_error() else {
            return chat_result::CHAT_OK;
        };
        match owned_string(f.body.to_string()) {
            Ok(s) => {
                // SAFETY: checked non-null.
                unsafe { *out_json = s };
                chat_result::CHAT_OK
            }
            Err(f) => f.result,
        }
    })
}

fn new_actor(actor: Actor) -> *mut chat_actor {
    Box::into_raw(Box::new(ActorHandle(actor))).cast()
}

/// Writes an actor for the host administrator (creates organizations, loads seeds, runs
/// maintenance and the public `visitor_auth`) to `*out`. Free it with `chat_actor_free`.
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_actor_admin(out: *mut *mut chat_actor) -> chat_result {
    boundary(|| {
        if out.is_null() {
            return chat_result::CHAT_NULL_PARAMETER;
        }
        // SAFETY: checked non-null.
        unsafe { *out = new_actor(Actor::Admin) };
        chat_result::CHAT_OK
    })
}

/// Authenticates `token` (a user's API token or a visitor's access token from
/// `visitor_auth`) on `engine` and writes the actor to `*out` (NULL on failure:
/// `CHAT_NOT_AUTHENTICATED` for an unknown token; the detail is in `chat_engine_last_error`).
/// The actor holds only the identity: it stays valid after `engine` is freed. Free it with
/// `chat_actor_free`.
///
/// # Safety
/// `engine` is NULL or a live handle; `token` is NULL or a NUL-terminated string; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_actor_from_token(
    engine: *const chat_engine,
    token: *const c_char,
    out: *mut *mut chat_actor,
) -> chat_result {
    boundary(|| {
        if !out.is_null() {
            // SAFETY: checked non-null.
            unsafe { *out = std::ptr::null_mut() };
        }
        // SAFETY: forwarded caller contract.
        let Some(handle) = (unsafe { engine_ref(engine) }) else {
            return chat_result::CHAT_NULL_PARAMETER;
        };
        let outcome = catching(|| {
            // SAFETY: forwarded caller contract.
            let token = unsafe { text(token, "token") }?;
            if out.is_null() {
                return Err(Failure::null("out"));
            }
            let actor = handle.engine.authenticate(token)?;
            // SAFETY: checked non-null.
            unsafe { *out = new_actor(actor) };
            Ok(())
        });
        handle.record(&outcome);
        result_of(&outcome)
    })
}

/// Frees an actor. NULL does nothing.
///
/// # Safety
/// `actor` is NULL or a handle from `chat_actor_*` not yet freed, and no call using it is
/// running or will run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chat_actor_free(actor: *mut chat_actor) {
    let _ = boundary(|| {
        if !actor.is_null() {
            // SAFETY: per the contract it came from `new_actor` and is freed once.
            drop(unsafe { Box::from_raw(actor.cast::<ActorHandle>()) });
        }
        chat_result::CHAT_OK
    });
}

#[cfg(test)]
mod tests;
