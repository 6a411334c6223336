//! Time-driven rules, applied by one call: idle chats end, task chats close after their room's
//! ttl, `typing` falls back to `typed`, expired presences are dropped.

use crate::Env;
use crate::chats::end_chat;
use crate::error::{ChatError, Result};
use crate::memberships::TYPING_TIMEOUT_MS;
use crate::store::Store;
use serde::Serialize;

/// How many chats one maintenance transaction ends at most; the rest wait for the next call,
/// so that a backlog never holds the writer for long.
pub const MAX_ENDS_PER_RUN: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceReport {
    pub chats_ended: usize,
    pub typing_settled: usize,
    pub presences_expired: usize,
    /// True when more chats were due than one run ends.
    pub more_due: bool,
    /// Events deleted by retention (see `EngineBuilder::event_retention`).
    pub events_deleted: usize,
}

/// Applies the time-driven rules, then retention: events older than `event_retention_ms` (and
/// the oldest past `event_retention_bytes`),
/// webhook deliveries acknowledged or failed as long ago, expired webhook app tokens, and
/// idempotency keys older than 24 hours.
pub fn run_with_retention(
    s: &dyn Store,
    env: &Env,
    event_retention_ms: crate::clock::Millis,
    event_retention_bytes: Option<i64>,
) -> Result<MaintenanceReport> {
    let mut report = run(s, env)?;
    report.events_deleted =
        crate::events::apply_retention(s, env, event_retention_ms, event_retention_bytes)?;
    s.delete_finished_deliveries_before(env.now - event_retention_ms)?;
    s.delete_expired_webhook_tokens(env.now)?;
    s.delete_idempotency_before(env.now - crate::idempotency::KEY_TTL_MS)?;
    Ok(report)
}

pub fn run(s: &dyn Store, env: &Env) -> Result<MaintenanceReport> {
    let due = s.chats_due_to_end(env.now, MAX_ENDS_PER_RUN + 1)?;
    let more_due = due.len() > MAX_ENDS_PER_RUN;
    let mut ended = 0;
    for pk in due.into_iter().take(MAX_ENDS_PER_RUN) {
        let mut chat = s
            .chat_by_pk(pk, env.now)?
            .ok_or_else(|| ChatError::internal("due chat vanished"))?;
        end_chat(s, env, &mut chat)?;
        s.update_chat(&chat)?;
        ended += 1;
    }
    let typing_settled = s.settle_typing(env.now - TYPING_TIMEOUT_MS, env.now)?;
    let presences_expired = s.expire_presence_clients(env.now)?;
    Ok(MaintenanceReport {
        chats_ended: ended,
        typing_settled,
        presences_expired,
        more_due,
        events_deleted: 0,
    })
}
