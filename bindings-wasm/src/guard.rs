//! No panic reaches JavaScript as a panic.
//!
//! The engine is written not to panic (no `unwrap`/`expect` in library code; storage and input
//! failures are `ChatError`s). Should an invariant still break, every entry point runs inside
//! [`guarded`]:
//!
//! - On the host, `catch_unwind` turns the panic into `internal_error`.
//! - On `wasm32-unknown-unknown` there is no unwinding (the target aborts on panic, which would
//!   surface in JS as a bare `WebAssembly.RuntimeError: unreachable`). Instead, the panic hook
//!   installed here — while an engine call is running — logs the message with `console.error`,
//!   marks the module as stopped and *throws* a `ChatError` (`code: "internal_error"`,
//!   `status: 500`) straight to the JS caller, before the abort is reached. As no Rust
//!   destructor ran, the engine's state (its lock, its transaction) can no longer be trusted:
//!   every later call on any engine of this module instance throws `internal_error` without
//!   touching it. Reload the module (or restart the worker) to continue; committed data is safe,
//!   as SQLite rolls back the unfinished transaction when the database is opened again.
//!
//! Outside engine calls the previous hook (e.g. a test harness's) runs unchanged.

use chat_core::ChatError;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// How many engine calls are running (0 or 1: calls never nest, but count anyway).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Set once a panic escaped an engine call on wasm: the module is stopped.
    static STOPPED: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn panic_message(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    match info.location() {
        Some(l) => format!("{text} at {}:{}", l.file(), l.line()),
        None => text,
    }
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                previous(info);
                return;
            }
            let message = panic_message(info);
            on_panic_in_call(message);
        }));
    });
}

#[cfg(target_arch = "wasm32")]
fn on_panic_in_call(message: String) {
    crate::js::console_error(&format!("chat engine: internal failure: {message}"));
    STOPPED.with(|s| *s.borrow_mut() = Some(message.clone()));
    let err = ChatError::internal(format!("Internal failure in the chat engine: {message}"));
    // Throws a JS exception through the wasm frames: the abort that follows a panic on this
    // target is never reached.
    wasm_bindgen::throw_val(crate::js::chat_error(&err));
}

#[cfg(not(target_arch = "wasm32"))]
fn on_panic_in_call(message: String) {
    // The host unwinds: `guarded` catches it. Keep the message for the error.
    LAST_PANIC.with(|s| *s.borrow_mut() = Some(message));
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether a panic has stopped this module instance (wasm only; always `None` on the host).
pub fn stopped() -> Option<String> {
    STOPPED.with(|s| s.borrow().clone())
}

/// Runs one engine call: refuses when the module is stopped, and maps a panic to
/// `internal_error` (see the module documentation for wasm).
pub fn guarded<T>(f: impl FnOnce() -> Result<T, ChatError>) -> Result<T, ChatError> {
    install_hook();
    if let Some(message) = stopped() {
        return Err(ChatError::internal(format!(
            "The chat engine stopped after an internal failure ({message}); reload the module to continue."
        )));
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    match outcome {
        Ok(result) => result,
        Err(_) => {
            #[cfg(not(target_arch = "wasm32"))]
            let message = LAST_PANIC
                .with(|s| s.borrow_mut().take())
                .unwrap_or_else(|| "panic".to_owned());
            #[cfg(target_arch = "wasm32")]
            let message = "panic".to_owned();
            Err(ChatError::internal(format!(
                "Internal failure in the chat engine: {message}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::ErrorCode;

    #[test]
    fn a_panic_inside_a_call_is_an_internal_error_and_the_next_call_works() {
        let e = guarded::<()>(|| panic!("deliberate")).unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal);
        assert_eq!(e.status(), 500);
        assert!(e.detail.contains("deliberate"), "{}", e.detail);
        assert_eq!(guarded(|| Ok(7)).unwrap(), 7);
        assert!(stopped().is_none());
    }
}
