//! Real-time events: every committed change is an event `{channel, action, resource_id,
//! resource, seq}` written in the same transaction as the change (see `docs/DECISIONS.md`,
//! "Events, webhooks, idempotency", for the channel map).
//!
//! How: the writer connection's pre-update hook records which rows a transaction touched
//! (in memory: no database page, see `store::sqlite::change_tracking`); before the
//! transaction commits, [`publish`] turns them into events by comparing each touched
//! resource with its last published state (a fingerprint kept in the chat's and membership's
//! rows, `event_snapshots` for the rest): new resources are `added`,
//! changed ones `changed` with only the changed attributes, and the users a chat is pending
//! for are diffed to give `pending_chats` `added`/`removed`. Webhook deliveries of each event
//! are queued in the same transaction ([`crate::webhooks`]). A change published on several
//! channels is stored once with its channel list; each channel's event has its own `seq`.

mod publish;
mod snapshot;
#[cfg(test)]
mod tests;

pub use publish::{Published, publish};

use crate::Env;
use crate::auth::{Actor, access_org, access_user, require_history};
use crate::clock::Millis;
use crate::directory::seed::parse_visitor_id;
use crate::error::{ChatError, Result};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The path prefix of every channel.
pub const PREFIX: &str = "/api/v5/";
/// At most this many channels (or patterns) per read or subscription.
pub const MAX_CHANNELS: usize = 100;
/// At most this many events per read.
pub const MAX_LIMIT: usize = 1000;
/// Events kept by default (see `EngineBuilder::event_retention`).
pub const DEFAULT_RETENTION_MS: Millis = 7 * 24 * 3600 * 1000;

/// One event as every surface shows it. `resource` is absent for `removed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub channel: String,
    pub action: String,
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    pub seq: i64,
}

/// Makes an event's resource the one its channel's audience sees. A change is stored once for
/// all its channels, so a message added (or changed) in a chat with users and visitors is one
/// row holding the operator view; a visitor's channels (`/public/visitors/<id>/...`) get the
/// visitor view, derived here as events are read or delivered (visitors never see
/// `sender_name`, [`crate::messages::visitor_view`]). Only messages are published on
/// visitors' channels.
pub fn present_for_channel(event: &mut Event) {
    if let Some(r) = event.resource.as_mut()
        && event
            .channel
            .strip_prefix(PREFIX)
            .is_some_and(|c| c.starts_with("public/"))
    {
        crate::messages::make_visitor_view(r);
    }
}

/// A change to append: one event per channel, with consecutive numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub organization_id: Uuid,
    pub chat_pk: Option<i64>,
    pub channels: Vec<String>,
    pub action: &'static str,
    pub resource_id: String,
    pub resource: Option<String>,
    pub created_at: Millis,
    /// The chat's previous change row (its chain, which a purge walks; see 0006).
    pub prev_seq: Option<i64>,
}

/// The answer to a read of events after a `seq`.
///
/// `resync: true` means `since` is older than the retention window keeps (or newer than any
/// event): some events are gone, so the consumer reloads the collections it follows over the
/// REST reads and continues from `last_seq`. Otherwise `events` are the matching events after
/// `since` (at most `limit`) and `last_seq` is the `since` to pass next time (no event the
/// consumer may see lies between the last one returned and `last_seq`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub last_seq: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resync: bool,
}

/// Checks that the actor may read every channel pattern; returns the organization whose
/// events they read and the patterns in the store's GLOB form.
///
/// A pattern is a channel path where `*` matches any run of characters. Its owner segment
/// (`/api/v5/users/<id>/`, `/api/v5/orgs/<id>/`, `/api/v5/public/visitors/<id>/`) is always
/// given in full: a user reads their own `/users/<id>/...` paths (or any user's of their
/// organization with the settings permission, as the REST scopes allow), `/orgs/<their
/// org>/...` under the history rule of the organization collections; a visitor reads only
/// their own public paths. Events are also filtered by organization.
pub fn authorize(s: &dyn Store, actor: &Actor, channels: &[String]) -> Result<(Uuid, Vec<String>)> {
    let Some((first, rest)) = channels.split_first() else {
        return Err(ChatError::field("channels", "Give at least one channel."));
    };
    if channels.len() > MAX_CHANNELS {
        return Err(ChatError::field(
            "channels",
            format!("At most {MAX_CHANNELS} channels."),
        ));
    }
    let (org, glob) = authorize_one(s, actor, first)?;
    let mut globs = Vec::with_capacity(channels.len());
    globs.push(glob);
    for ch in rest {
        globs.push(authorize_one(s, actor, ch)?.1);
    }
    Ok((org, globs))
}

fn bad_channel(ch: &str) -> ChatError {
    ChatError::field(
        "channels",
        format!(
            "\"{ch}\" is not a channel path or pattern (\"/api/v5/users/<id>/...\", \"/api/v5/orgs/<id>/...\" or \"/api/v5/public/visitors/<id>/...\")."
        ),
    )
}

fn authorize_one(s: &dyn Store, actor: &Actor, ch: &str) -> Result<(Uuid, String)> {
    if ch.len() > 500 || ch.contains(['?', '[', ']']) {
        return Err(bad_channel(ch));
    }
    let rest = ch.strip_prefix(PREFIX).ok_or_else(|| bad_channel(ch))?;
    let parts: Vec<&str> = rest.splitn(3, '/').collect();
    let tail = |i: usize| -> String {
        match parts.get(i) {
            Some(t) => format!("/{t}"),
            None => String::new(),
        }
    };
    match (parts.first().copied(), parts.get(1).copied()) {
        (Some("users"), Some(id)) => {
            let user: Uuid = id.parse().map_err(|_| bad_channel(ch))?;
            let (_, target) = access_user(s, actor, user)?;
            Ok((target.org.id, format!("{PREFIX}users/{user}{}", tail(2))))
        }
        (Some("orgs"), Some(id)) => {
            let org: Uuid = id.parse().map_err(|_| bad_channel(ch))?;
            let me = access_org(s, actor, org)?;
            require_history(&me)?;
            Ok((org, format!("{PREFIX}orgs/{org}{}", tail(2))))
        }
        (Some("public"), Some("visitors")) => {
            let rest2 = parts.get(2).copied().unwrap_or("");
            let (vid, after) = match rest2.split_once('/') {
                Some((v, a)) => (v, format!("/{a}")),
                None => (rest2, String::new()),
            };
            let visitor = parse_visitor_id(vid).ok_or_else(|| bad_channel(ch))?;
            crate::auth::act_as_visitor(actor, visitor)?;
            let v = s
                .visitor(visitor)?
                .ok_or_else(|| ChatError::not_found("Visitor"))?;
            Ok((
                v.organization_id,
                format!(
                    "{PREFIX}public/visitors/{}{after}",
                    crate::ids::visitor_id_str(&visitor)
                ),
            ))
        }
        _ => Err(bad_channel(ch)),
    }
}

/// Events after `since` on the channels (see [`EventPage`]). `since: None` starts at the
/// newest event (no history).
pub fn events_since(
    s: &dyn Store,
    _env: &Env,
    actor: &Actor,
    channels: &[String],
    since: Option<i64>,
    limit: Option<usize>,
) -> Result<EventPage> {
    let (org, globs) = authorize(s, actor, channels)?;
    let head = s.last_event_seq()?;
    let Some(since) = since else {
        return Ok(EventPage {
            events: Vec::new(),
            last_seq: head,
            resync: false,
        });
    };
    if since < 0 {
        return Err(ChatError::field("since", "Must be 0 or more."));
    }
    if since < s.event_floor()? || since > head {
        return Ok(EventPage {
            events: Vec::new(),
            last_seq: head,
            resync: true,
        });
    }
    let limit = limit.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let mut events = s.select_events(org, since, &globs, limit)?;
    events.iter_mut().for_each(present_for_channel);
    let last_seq = if events.len() == limit {
        events.last().map(|e| e.seq).unwrap_or(head)
    } else {
        head
    };
    Ok(EventPage {
        events,
        last_seq,
        resync: false,
    })
}

/// Whether a channel matches a pattern where `*` matches any run of characters.
pub fn pattern_matches(pattern: &str, channel: &str) -> bool {
    let p = pattern.as_bytes();
    let c = channel.as_bytes();
    let (mut pi, mut ci) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ci < c.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ci));
            pi += 1;
        } else if pi < p.len() && p[pi] == c[ci] {
            pi += 1;
            ci += 1;
        } else if let Some((sp, sc)) = star {
            pi = sp + 1;
            ci = sc + 1;
            star = Some((sp, sc + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Retention: deletes events older than the window; returns how many.
pub fn apply_retention(s: &dyn Store, env: &Env, retention_ms: Millis) -> Result<usize> {
    s.delete_events_before(env.now - retention_ms)
}
