//! Rules of the organization key-encryption key: setting (verified against the stored key
//! check), rotation (rewraps chat keys, never touches messages) and purge.

use super::envelope::{key_check, unwrap_key, verify_key_check, wrap_key};
use super::keys::SecretKey;
use crate::Env;
use crate::error::{ChatError, Result};
use crate::store::Store;
use serde::Serialize;
use uuid::Uuid;

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    /// Chat keys now wrapped with the new organization key.
    pub chats_rewrapped: usize,
    /// Encrypted chats whose key the current organization key does not open (wrapped with a
    /// key purged earlier): left as they are, readable only offline with that older key.
    pub chats_skipped: usize,
}

/// Accepts a host-provided organization key. The first key of an organization (or the first
/// after a purge) is recorded by its key check; any later one must match that check.
pub(crate) fn set_key(s: &dyn Store, env: &Env, org: Uuid, key: &SecretKey) -> Result<()> {
    s.org(org)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    match s.org_key_check(org)? {
        Some(c) if c.purged_at.is_none() => {
            if verify_key_check(key, org, &c.check) {
                Ok(())
            } else {
                Err(ChatError::field(
                    "key",
                    "This is not the organization's key: it does not match the key check stored when the key was first set.",
                ))
            }
        }
        _ => s.put_org_key_check(org, &key_check(key, org)?, env.now),
    }
}

/// Rewraps every chat key of the organization from `old` to `new` and records `new`'s check.
pub(crate) fn rotate(
    s: &dyn Store,
    env: &Env,
    org: Uuid,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<RotationReport> {
    s.org(org)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    let mut report = RotationReport::default();
    for chat in s.encrypted_chats_of_org(org)? {
        let chat_key = chat
            .wrapped
            .as_deref()
            .and_then(|w| unwrap_key(old, chat.chat_id, w).ok());
        match chat_key {
            Some(k) => {
                s.set_chat_wrapped_key(chat.chat_pk, &wrap_key(new, chat.chat_id, &k)?)?;
                report.chats_rewrapped += 1;
            }
            None => report.chats_skipped += 1,
        }
    }
    s.put_org_key_check(org, &key_check(new, org)?, env.now)?;
    Ok(report)
}

/// Records that the organization purged its key from the engine.
pub(crate) fn purge_key(s: &dyn Store, env: &Env, org: Uuid) -> Result<()> {
    s.org(org)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    s.mark_org_key_purged(org, env.now)?;
    Ok(())
}
