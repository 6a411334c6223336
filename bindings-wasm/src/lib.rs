//! # chat-wasm
//!
//! WebAssembly bindings of `chat-core` for browsers and Node: one JS class, `Engine`, whose
//! `call(op, args, token?)` / `callAs(actor, op, args)` reach every operation of
//! `chat_core::api::OPERATIONS` — including operations added to core later, without a change
//! here — and return plain JS objects shaped exactly like the REST resources. Errors are JS
//! `Error`s named `ChatError` with core's stable `code` and the HTTP-equivalent `status`.
//!
//! The crate compiles on the host too (so that the workspace builds and lints everywhere); the
//! WebAssembly-only parts (SQLite's wasm build, the OPFS VFS, JS-backed randomness and time)
//! are target-specific dependencies. See `bindings-wasm/README.md`.

pub mod convert;
pub mod guard;
pub mod js;
mod opfs;

pub use js::Engine;
