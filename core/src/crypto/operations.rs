//! The host's organization key operations and the purge of sensitive data (see
//! [`crate::registry`] and `docs/ENCRYPTION.md`).

use crate::auth;
use crate::crypto::held::{self, OrgKeyStatus};
use crate::crypto::{self, RotationReport, SecretKey};
use crate::error::{ChatError, Result};
use crate::purge::{self, PurgeReport};
use crate::registry::args::*;
use crate::registry::operations;
use serde_json::Value;
use uuid::Uuid;
use zeroize::Zeroize;

/// What [`Engine::purge_organization_key`](crate::Engine::purge_organization_key) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KeyPurge {
    /// Whether the engine held the key.
    pub was_held: bool,
}

/// A 256-bit key given as 64 hex characters in `body.key`.
fn org_key(args: &Value) -> Result<[u8; 32]> {
    let b = section(args, "body");
    let hex_key = b
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| ChatError::required("key"))?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut key)
        .map_err(|_| ChatError::field("key", "A key is 64 hexadecimal characters (256 bits)."))?;
    Ok(key)
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const KEYS_AND_PURGE, tag "management";

    /// Host: give the engine an organization's key-encryption key.
    ///
    /// The key is held only in memory: a restarted host calls this again before using the
    /// organization's encrypted chats. The first key of an organization (or the first after a
    /// purge) is recorded by a key check; later calls must give the same key (400
    /// `validation_error` on `key` otherwise). The array passed in is zeroized here; the host
    /// zeroizes its own copies.
    write(host) fn set_organization_key(org: Uuid, key: [u8; 32]) -> () {
        status: [204],
        args: "organization_id, body{key: 64 hex}",
        query: [],
        routes: [],
        parse: {} (id(args, "organization_id")?, org_key(args)?),
        run: {
            let mut key = key;
            let k = SecretKey::from_bytes(&key);
            key.zeroize();
            engine.write(None, |s, env| {
                crypto::org_keys::set_key(s, env, org, &k)?;
                held::hold(s, env, org, &k)
            })?;
            engine.keys.insert(org, k);
            Ok(())
        },
    }

    /// Host: rotate an organization's key (rewraps chat keys).
    ///
    /// Every chat key is rewrapped with `new_key` in one transaction (messages are not
    /// touched). Needs the current key (409 `chat_key_unavailable` otherwise).
    write(host) fn rotate_organization_key(org: Uuid, new_key: [u8; 32]) -> RotationReport {
        status: [200],
        args: "organization_id, body{key: 64 hex}",
        query: [],
        routes: [],
        parse: {} (id(args, "organization_id")?, org_key(args)?),
        run: {
            let mut new_key = new_key;
            let new = SecretKey::from_bytes(&new_key);
            new_key.zeroize();
            let mut previous = None;
            let out = engine.write(None, |s, env| {
                let old = engine.keys.get(org).ok_or_else(crypto::key_unavailable)?;
                let report = crypto::org_keys::rotate(s, env, org, &old, &new)?;
                held::hold(s, env, org, &new)?;
                // Swapped while the writer is held, so no operation sees the old key with new
                // wraps.
                previous = engine.keys.insert(org, new.clone());
                Ok(report)
            });
            if let (Err(_), Some(old)) = (&out, previous) {
                engine.keys.insert(org, old);
            }
            out
        },
    }

    /// Host: forget an organization's key.
    ///
    /// The key is zeroized and forgotten (and deleted from the database when the engine held
    /// it under its master key): reads of the organization's encrypted chats show
    /// `message: null` with `encrypted_message`, writes are 409.
    write(host) fn purge_organization_key(org: Uuid) -> KeyPurge {
        status: [200],
        args: "organization_id",
        query: [],
        routes: [],
        parse: {} (id(args, "organization_id")?),
        run: {
            let stored = engine.write(None, |s, env| {
                crypto::org_keys::purge_key(s, env, org)?;
                held::forget(s, org)
            })?;
            if stored {
                // No page image of the sealed key stays in the write-ahead log.
                engine.checkpoint()?;
            }
            Ok(KeyPurge {
                was_held: engine.keys.remove(org).is_some(),
            })
        },
    }

    /// Whether the engine holds the organization's key (never the key).
    ///
    /// `held`, when the current key was generated or brought (`created_at`), and when the
    /// organization last purged its key (`purged_at`).
    read fn get_organization_key(org: Uuid) -> OrgKeyStatus {
        status: [200],
        args: "organization_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/encryption_key"],
        parse: {} (id(args, "organization_id")?),
        run: engine.read(|s, _| {
            auth::read_org(s, actor, org)?;
            held::status(s, org, engine.keys.holds(org))
        }),
    }

    /// Bring the organization's own key (settings permission).
    ///
    /// The existing chats' keys are rewrapped to it when the engine holds the current key;
    /// after a purge (or before any key) it simply becomes the organization's key. An engine
    /// with a master key keeps it (sealed) across restarts; without one, in memory as
    /// [`Engine::set_organization_key`] does.
    write fn put_organization_key(org: Uuid, key: [u8; 32]) -> OrgKeyStatus {
        status: [200],
        args: "organization_id, body{key: 64 hex}",
        query: [],
        routes: [Put "/orgs/<organization_id>/encryption_key"],
        parse: {} (id(args, "organization_id")?, org_key(args)?),
        run: {
            let mut key = key;
            let new = SecretKey::from_bytes(&key);
            key.zeroize();
            let mut previous = None;
            let mut installed = false;
            let out = engine.write(None, |s, env| {
                auth::manage_org(s, actor, org)?;
                match engine.keys.get(org) {
                    Some(old) => {
                        crypto::org_keys::rotate(s, env, org, &old, &new)?;
                    }
                    None => crypto::org_keys::set_key(s, env, org, &new)?,
                }
                held::hold(s, env, org, &new)?;
                // Swapped while the writer is held, so no operation sees the old key with new
                // wraps.
                previous = engine.keys.insert(org, new.clone());
                installed = true;
                held::status(s, org, true)
            });
            if out.is_err() && installed {
                match previous {
                    Some(old) => engine.keys.insert(org, old),
                    None => engine.keys.remove(org),
                };
            }
            out
        },
    }

    /// Purge the organization's key from the server (settings permission; irreversible).
    ///
    /// The held key is deleted and forgotten: reads of the organization's encrypted chats
    /// show `message: null` with `encrypted_message`, and new chats need a key brought with
    /// `PUT` (none is generated after a purge). Then the write-ahead log is truncated, so that
    /// no page image of the sealed key stays in the database files.
    write fn delete_organization_key(org: Uuid) -> () {
        status: [204],
        args: "organization_id",
        query: [],
        routes: [Delete "/orgs/<organization_id>/encryption_key"],
        parse: {} (id(args, "organization_id")?),
        run: {
            let mut removed = None;
            let out = engine.write(None, |s, env| {
                auth::manage_org(s, actor, org)?;
                crypto::org_keys::purge_key(s, env, org)?;
                held::forget(s, org)?;
                // Forgotten while the writer is held, so no later operation uses it.
                removed = engine.keys.remove(org);
                Ok(())
            });
            if let (Err(_), Some(key)) = (&out, removed) {
                engine.keys.insert(org, key);
            }
            out?;
            engine.checkpoint()?;
            Ok(())
        },
    }

    /// Purge a chat's sensitive data (settings permission).
    ///
    /// Then the write-ahead log is truncated, so that no purged text stays in the database
    /// files.
    write fn purge_chat_sensitive_data(chat: Uuid) -> PurgeReport {
        status: [200],
        args: "chat_id",
        query: [],
        routes: [],
        parse: {} (id(args, "chat_id")?),
        run: {
            let mut report = engine.write(None, |s, env| purge::purge_chat(s, env, actor, chat))?;
            report.wal_truncated = engine.checkpoint()?;
            Ok(report)
        },
    }

    /// Purge a visitor's sensitive data (settings permission).
    ///
    /// Their name and variables and the sensitive data of every chat they took part in; then
    /// the write-ahead log is truncated.
    write fn purge_visitor_sensitive_data(visitor: Uuid) -> PurgeReport {
        status: [200],
        args: "visitor_id",
        query: [],
        routes: [],
        parse: {} (visitor(args, "visitor_id")?),
        run: {
            let mut report =
                engine.write(None, |s, env| purge::purge_visitor(s, env, actor, visitor))?;
            report.wal_truncated = engine.checkpoint()?;
            Ok(report)
        },
    }
}
