//! Idempotent creations: a call of a creating operation (kind [`crate::registry::Kind::Creating`])
//! may carry an idempotency key (`"idempotency_key"` in the [`crate::api`] args; the server's
//! `Idempotency-Key` header); other operations ignore it. A repeat with the same key
//! (per user or visitor) and the same request within 24 hours returns the first reply and
//! creates nothing; the same key with another request is 422 `idempotency_key_reused`.
//!
//! The key is recorded (with a hash of the operation and its arguments) together with the
//! call's reply, inside the very transaction that creates: a creation, its key and its reply
//! commit together or not at all, so a call cut short by a crash at any point leaves either
//! nothing (a retry runs afresh) or the reply (a retry gets it), never a key without a reply.
//! Two concurrent calls with one key are serialized by the writer: the second one's
//! transaction (or savepoint, under group commit) finds the key taken, rolls back (creating
//! nothing), then waits until the first one's transaction is visible and returns its reply.

pub(crate) mod records;

pub use records::IdempotencyRecord;

use crate::auth::Actor;
use crate::clock::Millis;
use crate::error::{ChatError, ErrorCode, Result};

/// Keys are kept this long.
pub const KEY_TTL_MS: Millis = 24 * 3600 * 1000;
pub const MAX_KEY_CHARS: usize = 255;

/// Makes a call's reply (status, JSON body) from the result of its write, given as `Any`: the
/// operation's handler knows the result's type and how it answers.
pub(crate) type ReplyOf = fn(&dyn std::any::Any) -> Result<(u16, String)>;

/// A key to record in the write transaction of a creating call: the registry's handler of
/// the operation passes it to the engine's write path (`Engine::write`).
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub actor: String,
    pub key: String,
    pub hash: Vec<u8>,
    /// The operation's reply maker (set by its handler).
    pub reply: Option<ReplyOf>,
    /// Set by the write: `Some(true)` recorded, `Some(false)` the key was taken.
    pub outcome: Option<bool>,
}

/// Called by the engine's write path inside the transaction, after the operation succeeded
/// with `out`: records the call's claim, if any, with its reply (the first write of the call
/// only).
pub(crate) fn record_claim(
    s: &dyn crate::store::Store,
    now: Millis,
    claim: Option<&mut Claim>,
    out: &dyn std::any::Any,
) -> Result<()> {
    let Some(c) = claim.filter(|c| c.outcome.is_none()) else {
        return Ok(());
    };
    let Some(reply_of) = c.reply else {
        return Err(ChatError::internal(
            "An idempotent call reached the write without its reply.",
        ));
    };
    let (status, body) = reply_of(out)?;
    let ok = s.claim_idempotency(
        &c.actor,
        &c.key,
        &c.hash,
        now,
        now - KEY_TTL_MS,
        (status, &body),
    )?;
    c.outcome = Some(ok);
    if ok { Ok(()) } else { Err(taken()) }
}

pub(crate) fn taken() -> ChatError {
    ChatError::new(
        ErrorCode::AlreadyExists,
        "A request with this idempotency key is in progress.",
    )
}

pub(crate) fn reused() -> ChatError {
    ChatError::new(
        ErrorCode::IdempotencyKeyReused,
        "This idempotency key was already used with a different request.",
    )
}

pub(crate) fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::User(u) => format!("user:{u}"),
        Actor::Visitor(v) => format!("visitor:{v}"),
        Actor::Admin => "admin".to_string(),
    }
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY_CHARS {
        return Err(ChatError::field(
            "idempotency_key",
            format!("An idempotency key is 1 to {MAX_KEY_CHARS} characters."),
        ));
    }
    Ok(())
}

pub(crate) fn request_hash(op: &str, args: &serde_json::Value) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut args = args.clone();
    if let Some(m) = args.as_object_mut() {
        m.remove("idempotency_key");
    }
    let mut h = Sha256::new();
    h.update(op.as_bytes());
    h.update(b"\n");
    h.update(canonical(&args).as_bytes());
    h.finalize().to_vec()
}

/// JSON with object keys sorted at every level.
fn canonical(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}
