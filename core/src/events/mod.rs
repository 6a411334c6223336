//! Real-time events: every committed change is an event `{channel, action, resource_id,
//! resource, seq}` written in the same transaction as the change (see `docs/DECISIONS.md`,
//! "Events, webhooks, idempotency", for the channel map).
//!
//! How: the store's write methods record what a transaction changed
//! ([`crate::store::changes`]); before the transaction commits, [`publish`] turns that into
//! events by comparing each touched resource with its last published state (a fingerprint
//! kept in the chat's and membership's rows, `event_snapshots` for the rest): new resources
//! are `added`, changed ones `changed` with only the changed attributes, and a chat that
//! starts or stops waiting in a room is `added`/`removed` on the `pending_chats` of the users
//! the room reaches. Webhook deliveries of each event are queued in the same transaction
//! ([`crate::webhooks`]).
//!
//! A change is stored once, whatever the size of its audience ([`NewEvent`]): the readers it
//! names (the organization, the chat's members, its visitor) and, for room collections, the
//! room; who the room reaches is resolved when events are read ([`events_since`]) or queued
//! for a webhook. A row takes one number per collection of one reader ([`Numbering`]), so a
//! reader never sees two events with one number.

mod publish;
pub mod records;
mod snapshot;
#[cfg(test)]
mod tests;

pub use publish::{Published, publish};
pub use records::{
    CHANNELS, ChangeHead, Event, MAX_NUMBERS_PER_CHANGE, NewEvent, Numbering, PREFIX, RoomChannel,
    RoomReader, StoredChange, reader_of,
};

use crate::Env;
use crate::auth::{Actor, access_org, access_user, require_history};
use crate::clock::Millis;
use crate::directory::seed::parse_visitor_id;
use crate::error::{ChatError, Result};
use crate::store::Store;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// At most this many channels (or patterns) per read or subscription.
pub const MAX_CHANNELS: usize = 100;
/// At most this many events per read.
pub const MAX_LIMIT: usize = 1000;
/// Events kept by default (see `EngineBuilder::event_retention`).
pub const DEFAULT_RETENTION_MS: Millis = 7 * 24 * 3600 * 1000;

/// Makes an event's resource the one its channel's audience sees. A change is stored once for
/// all its channels, so a message added (or changed) in a chat with users and visitors is one
/// row holding the operator view; a visitor's channels (`/public/visitors/<id>/...`) get the
/// visitor view, derived here as events are read or delivered: messages without
/// `sender_name` ([`crate::messages::visitor_view`]), memberships without `member_name`
/// ([`crate::memberships::make_visitor_view`]); a chat is the resource `visitor_get_chat`
/// returns, the same for every reader.
pub fn present_for_channel(event: &mut Event) {
    let Some(r) = event.resource.as_mut() else {
        return;
    };
    let Some(rest) = event
        .channel
        .strip_prefix(PREFIX)
        .and_then(|c| c.strip_prefix("public/"))
    else {
        return;
    };
    if rest.ends_with("/messages") {
        crate::messages::make_visitor_view(r);
    } else if rest.ends_with("/memberships") {
        crate::memberships::make_visitor_view(r);
    }
}

/// The `resource_id` of a change's event on `channel`: the row's (the resource's own id), but
/// on a collection whose items are keyed by chat (`/users/<u>/chat_memberships`) the chat's
/// id, as `GET .../chat_memberships/<chat_id>` addresses the item. One row serves both.
pub fn item_id(channel: &str, resource_id: &str, chat_id: Option<Uuid>) -> String {
    match chat_id {
        Some(chat) if channel.ends_with("/chat_memberships") => chat.to_string(),
        _ => resource_id.to_string(),
    }
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

/// Whether the actor may open an event stream at all, before any channel is named: a user
/// acts in an organization with an active subscription (the rule of every user operation,
/// [`crate::auth::acting_user`]: 403 `no_active_subscription` otherwise); a visitor reads their
/// own public channels and the administrator none, which each subscription checks.
pub fn may_stream(s: &dyn Store, actor: &Actor) -> Result<()> {
    match actor {
        Actor::User(_) => crate::auth::acting_user(s, actor).map(|_| ()),
        Actor::Visitor(_) | Actor::Admin => Ok(()),
    }
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
///
/// A pattern that can match no published channel ([`CHANNELS`]) is refused (400, field
/// `channels`), and so is one naming a chat its reader's organization has no part in (404,
/// as a read of that chat answers), even below the reader's own path.
pub fn authorize(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    channels: &[String],
) -> Result<(Uuid, Vec<String>)> {
    let Some((first, rest)) = channels.split_first() else {
        return Err(ChatError::field("channels", "Give at least one channel."));
    };
    if channels.len() > MAX_CHANNELS {
        return Err(ChatError::field(
            "channels",
            format!("At most {MAX_CHANNELS} channels."),
        ));
    }
    let (org, glob) = authorize_one(s, env, actor, first)?;
    let mut globs = Vec::with_capacity(channels.len());
    globs.push(glob);
    for ch in rest {
        globs.push(authorize_one(s, env, actor, ch)?.1);
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

fn authorize_one(s: &dyn Store, env: &Env, actor: &Actor, ch: &str) -> Result<(Uuid, String)> {
    let (org, glob) = authorize_owner(s, actor, ch)?;
    if !matches_some_channel(&glob) {
        return Err(ChatError::field("channels", no_channel(ch)));
    }
    for chat in chats_named(&glob) {
        let visible = match s.chat_by_id(chat, env.now)? {
            Some(c) => chat_concerns_org(s, &c, org)?,
            None => false,
        };
        if !visible {
            return Err(ChatError::not_found("Chat"));
        }
    }
    Ok((org, glob))
}

/// Why a pattern that can match no channel is refused (a field error's message).
pub fn no_channel(pattern: &str) -> String {
    format!(
        "\"{pattern}\" matches no channel. Events are published on: {}.",
        CHANNELS
            .iter()
            .map(|c| format!("{PREFIX}{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The chat ids a pattern names literally (a whole segment after `chats/`, `owned_chats/`,
/// `routed_chats/` or `pending_chats/`).
fn chats_named(glob: &str) -> Vec<Uuid> {
    let segments: Vec<&str> = glob.split('/').collect();
    segments
        .windows(2)
        .filter(|w| w[0].ends_with("chats"))
        .filter_map(|w| w[1].parse::<Uuid>().ok())
        .collect()
}

/// Whether an organization has a part in a chat: its room is the organization's or shared
/// with it, or one of the organization's users is a member.
fn chat_concerns_org(s: &dyn Store, c: &crate::chats::ChatRecord, org: Uuid) -> Result<bool> {
    if c.room_organization_id == org {
        return Ok(true);
    }
    if let Some(room) = c.room_id
        && s.room_shares(room)?.contains(&org)
    {
        return Ok(true);
    }
    Ok(s.chat_members(c.pk)?
        .iter()
        .any(|(_, is_user, user_org)| *is_user && *user_org == Some(org)))
}

fn authorize_owner(s: &dyn Store, actor: &Actor, ch: &str) -> Result<(Uuid, String)> {
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
///
/// A change is stored once ([`NewEvent`]); it is read as one event per channel read that it
/// is on, each with its own number within the row's ([`Numbering`]). A page holds whole
/// changes (at most `limit` of them) and `last_seq` is the last number of the last one.
pub fn events_since(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    channels: &[String],
    since: Option<i64>,
    limit: Option<usize>,
) -> Result<EventPage> {
    let (org, globs) = authorize(s, env, actor, channels)?;
    let Some(since) = since else {
        let head = s.last_event_seq()?;
        return Ok(EventPage {
            events: Vec::new(),
            last_seq: head,
            resync: false,
        });
    };
    if since < 0 {
        return Err(ChatError::field("since", "Must be 0 or more."));
    }
    let head = match kept_after(s, since)? {
        Ok(head) => head,
        Err(head) => {
            return Ok(EventPage {
                events: Vec::new(),
                last_seq: head,
                resync: true,
            });
        }
    };
    let limit = limit.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let readers = room_readers(s, &globs)?;
    let mut rooms: Vec<Uuid> = readers.iter().map(|r| r.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    // The store selects a room's changes for the readers it reaches, whichever of its
    // collections they are on; those with no event on a channel read do not count against
    // `limit` (the next rows are read instead).
    let mut events = Vec::new();
    let (mut after, mut given) = (since, 0);
    let last_seq = loop {
        let changes = s.select_changes(org, after, &globs, &rooms, limit - given)?;
        let full = changes.len() == limit - given;
        for c in changes {
            after = c.seq + c.width - 1;
            let before = events.len();
            events_of_change(c, since, &globs, &readers, &mut events);
            given += usize::from(events.len() > before);
        }
        if given == limit {
            break after;
        }
        if !full {
            break head;
        }
    };
    events.iter_mut().for_each(present_for_channel);
    Ok(EventPage {
        events,
        last_seq,
        resync: false,
    })
}

/// What a subscription to channels can be concerned by, as authorized when it starts: a
/// host that serves many subscribers reads each commit's [`ChangeHead`]s once
/// ([`change_heads_after`]) and reads events ([`events_since`], which authorizes again and
/// resolves room readers) only for the subscriptions a change may concern.
#[derive(Debug, Clone, PartialEq)]
pub struct Interest {
    org: Uuid,
    /// The patterns, each with its owner (the `users/<id>`, `orgs/<id>` or
    /// `public/visitors/<id>` path every channel it matches starts with).
    globs: Vec<(String, String)>,
    /// The room collections the patterns read: a change on a room's collection may
    /// concern them whatever the room (who a room reaches is resolved when events are read).
    room_collections: Vec<RoomChannel>,
}

/// A batch of change heads arranged for [`Interest::may_concern`]: their channels by
/// organization and owner, and the room collections they are on. Built once per batch, so
/// that each subscription matches only the channels of its own owners instead of every
/// channel of the batch.
#[derive(Debug, Default)]
pub struct Concerned {
    channels: HashMap<Uuid, HashMap<String, Vec<String>>>,
    rooms: std::collections::HashSet<(Uuid, RoomChannel)>,
}

impl Concerned {
    pub fn of(heads: &[ChangeHead]) -> Concerned {
        let mut c = Concerned::default();
        for h in heads {
            let by_owner = c.channels.entry(h.organization_id).or_default();
            for ch in &h.channels {
                let owner = channel_owner(ch).unwrap_or("");
                by_owner
                    .entry(owner.to_string())
                    .or_default()
                    .push(ch.clone());
            }
            if let Some(a) = &h.room {
                for relation in a.relations() {
                    c.rooms.insert((h.organization_id, relation));
                }
            }
        }
        c
    }
}

/// The owner path a channel (or a pattern, whose owner is always given in full, see
/// [`authorize`]) starts with: `/api/v5/users/<id>`, `/api/v5/orgs/<id>` or
/// `/api/v5/public/visitors/<id>`.
fn channel_owner(ch: &str) -> Option<&str> {
    let owner = reader_of(ch);
    (ch.starts_with(PREFIX) && !owner.contains('*')).then_some(owner)
}

impl Interest {
    /// Whether [`events_since`] for these channels may return a change of the batch: `false`
    /// only when it certainly does not (changes of other organizations, on no channel matched
    /// and on no room collection read). Cheap: no store access.
    pub fn may_concern(&self, batch: &Concerned) -> bool {
        if self
            .room_collections
            .iter()
            .any(|&channel| batch.rooms.contains(&(self.org, channel)))
        {
            return true;
        }
        let Some(by_owner) = batch.channels.get(&self.org) else {
            return false;
        };
        self.globs.iter().any(|(owner, glob)| {
            by_owner
                .get(owner.as_str())
                .is_some_and(|chs| chs.iter().any(|ch| pattern_matches(glob, ch)))
        })
    }
}

/// Authorizes the channels as [`events_since`] does and returns what they can be concerned
/// by ([`Interest`]).
pub fn interest(s: &dyn Store, env: &Env, actor: &Actor, channels: &[String]) -> Result<Interest> {
    let (org, globs) = authorize(s, env, actor, channels)?;
    let mut room_collections = Vec::new();
    for (_, channel) in globs.iter().flat_map(|g| room_collections_read(g)) {
        if !room_collections.contains(&channel) {
            room_collections.push(channel);
        }
    }
    let globs = globs
        .into_iter()
        .map(|g| (channel_owner(&g).unwrap_or("").to_string(), g))
        .collect();
    Ok(Interest {
        org,
        globs,
        room_collections,
    })
}

/// The changes committed after `after`, of every organization, as their audience is
/// decided ([`ChangeHead`]), at most `limit`: one read for all the subscribers of a host.
///
/// `last_seq` is the `after` to pass next; `resync: true` means retention deleted changes
/// after `after` (or `after` is newer than any): every subscriber must then read its own
/// events (which answers each with a resync where due).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeHeads {
    pub heads: Vec<ChangeHead>,
    pub last_seq: i64,
    pub resync: bool,
}

pub fn change_heads_after(s: &dyn Store, after: i64, limit: usize) -> Result<ChangeHeads> {
    let head = match kept_after(s, after)? {
        Ok(head) => head,
        Err(head) => {
            return Ok(ChangeHeads {
                heads: Vec::new(),
                last_seq: head,
                resync: true,
            });
        }
    };
    let limit = limit.clamp(1, MAX_LIMIT);
    let heads = s.select_change_heads(after, limit)?;
    let last_seq = next_after(
        heads.last().map(|c| c.seq + c.width - 1),
        heads.len(),
        limit,
        head,
    );
    Ok(ChangeHeads {
        heads,
        last_seq,
        resync: false,
    })
}

/// The readers of room collections among the patterns: for each pattern of a user's own
/// channels (`/users/<u>/...`) that matches one of [`RoomChannel`]'s collections, every room
/// that reaches the user in that collection's relation.
fn room_readers(s: &dyn Store, globs: &[String]) -> Result<Vec<RoomReader>> {
    let mut rooms_of: HashMap<(Uuid, RoomChannel), Vec<Uuid>> = HashMap::new();
    let mut readers = Vec::new();
    for glob in globs {
        for (user, channel) in room_collections_read(glob) {
            let rooms = match rooms_of.get(&(user, channel)) {
                Some(r) => r,
                None => {
                    let r = s.rooms_reaching(user, channel)?;
                    rooms_of.entry((user, channel)).or_insert(r)
                }
            };
            for &room in rooms {
                let r = RoomReader {
                    room,
                    channel,
                    user,
                };
                if !readers.contains(&r) {
                    readers.push(r);
                }
            }
        }
    }
    Ok(readers)
}

/// The room collections among [`CHANNELS`]: a user's collections below `pending_chats` and
/// `routed_chats`, resolved through rooms ([`RoomChannel`]).
fn room_templates() -> impl Iterator<Item = (&'static str, RoomChannel)> {
    CHANNELS.iter().filter_map(|t| {
        let tail = t.strip_prefix("users/<user_id>/")?;
        RoomChannel::of_path(tail).map(|relation| (*t, relation))
    })
}

/// The room collections a pattern of a user's own channels (`/users/<u>/...`) reads: (the
/// user, each [`RoomChannel`] one of whose collections the pattern can match).
fn room_collections_read(glob: &str) -> Vec<(Uuid, RoomChannel)> {
    let Some(user) = glob
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix("users/"))
        .and_then(|rest| rest.get(..36))
        .and_then(|id| id.parse::<Uuid>().ok())
    else {
        return Vec::new();
    };
    // The pattern's owner is this user (authorized), so the templates' `<user_id>` segment
    // may stay a placeholder.
    let pattern = tokens(&glob[PREFIX.len()..]);
    let mut out: Vec<(Uuid, RoomChannel)> = Vec::new();
    for (template, relation) in room_templates() {
        if !out.contains(&(user, relation)) && can_meet(&pattern, &tokens(template)) {
            out.push((user, relation));
        }
    }
    out
}

/// The newest `seq`, as `Ok` when every change after `after` is still kept, as `Err` when a
/// read after it must resync (retention deleted some, or `after` is newer than any).
fn kept_after(s: &dyn Store, after: i64) -> Result<std::result::Result<i64, i64>> {
    let head = s.last_event_seq()?;
    Ok(if after < s.event_floor()? || after > head {
        Err(head)
    } else {
        Ok(head)
    })
}

/// The `after` of the next read: the last change returned when the page is full (more may
/// follow), else the newest `seq` (nothing the reader may see lies between).
fn next_after(last: Option<i64>, returned: usize, limit: usize, head: i64) -> i64 {
    match last {
        Some(seq) if returned == limit => seq,
        _ => head,
    }
}

/// `/api/v5/users/<user>/<path>`: a room collection's channel for one of its readers.
pub(crate) fn room_channel_path(user: Uuid, path: &str) -> String {
    format!("{PREFIX}users/{user}/{path}")
}

/// The events of one stored change on the channels read, numbered ([`Numbering`]) and after
/// `since`: its named channels that match a pattern, then its room collection of each reader
/// the room reaches.
fn events_of_change(
    c: StoredChange,
    since: i64,
    globs: &[String],
    readers: &[RoomReader],
    out: &mut Vec<Event>,
) {
    let event = |channel: String, seq: i64| Event {
        resource_id: item_id(&channel, &c.resource_id, c.chat_id),
        channel,
        action: c.action.clone(),
        resource: c.resource.clone(),
        seq,
    };
    let numbering = Numbering::of(&c.channels);
    for (i, ch) in c.channels.iter().enumerate() {
        if globs.iter().any(|g| pattern_matches(g, ch)) {
            let seq = c.seq + numbering.offset(i);
            if seq > since {
                out.push(event(ch.clone(), seq));
            }
        }
    }
    if let Some(a) = &c.room {
        for (i, tail) in a.paths.iter().enumerate() {
            let Some(relation) = RoomChannel::of_path(tail) else {
                continue;
            };
            for r in readers
                .iter()
                .filter(|r| r.room == a.room && r.channel == relation)
            {
                let path = room_channel_path(r.user, tail);
                let seq = c.seq + numbering.room_offset(reader_of(&path), i);
                if seq > since && globs.iter().any(|g| pattern_matches(g, &path)) {
                    out.push(event(path, seq));
                }
            }
        }
    }
}

/// One position of a channel pattern or template, as a set of characters.
#[derive(Clone, Copy, PartialEq)]
enum Token {
    /// This character.
    Char(u8),
    /// Any character but `/` (the first character of a segment placeholder).
    Segment,
    /// Any run of characters but `/` (the rest of a segment placeholder).
    SegmentRun,
    /// Any run of characters (`*`).
    Run,
}

impl Token {
    fn repeats(self) -> bool {
        matches!(self, Token::SegmentRun | Token::Run)
    }

    /// Whether some character is in both sets.
    fn meets(self, other: Token) -> bool {
        match (self, other) {
            (Token::Char(a), Token::Char(b)) => a == b,
            (Token::Char(c), Token::Segment | Token::SegmentRun)
            | (Token::Segment | Token::SegmentRun, Token::Char(c)) => c != b'/',
            _ => true,
        }
    }
}

/// `*` is any run; `<name>` (a template's id) and `{name}` (a webhook's `{user_id}`) are one
/// non-empty path segment.
fn tokens(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let close = match b[i] {
            b'<' => Some(b'>'),
            b'{' => Some(b'}'),
            _ => None,
        };
        match close.and_then(|c| b[i..].iter().position(|x| *x == c)) {
            Some(len) => {
                out.extend([Token::Segment, Token::SegmentRun]);
                i += len + 1;
            }
            None => {
                out.push(if b[i] == b'*' {
                    Token::Run
                } else {
                    Token::Char(b[i])
                });
                i += 1;
            }
        }
    }
    out
}

/// Whether some channel path is matched by both the pattern and the template: a walk of the
/// pairs of positions the two can reach while reading one path.
fn can_meet(pattern: &[Token], template: &[Token]) -> bool {
    let width = template.len() + 1;
    let mut seen = vec![false; (pattern.len() + 1) * width];
    let mut todo = vec![(0usize, 0usize)];
    while let Some((i, j)) = todo.pop() {
        if std::mem::replace(&mut seen[i * width + j], true) {
            continue;
        }
        if i == pattern.len() && j == template.len() {
            return true;
        }
        let (p, t) = (pattern.get(i), template.get(j));
        if p.is_some_and(|p| p.repeats()) {
            todo.push((i + 1, j));
        }
        if t.is_some_and(|t| t.repeats()) {
            todo.push((i, j + 1));
        }
        if let (Some(&p), Some(&t)) = (p, t)
            && p.meets(t)
        {
            let next = |k: usize, tok: Token| if tok.repeats() { k } else { k + 1 };
            todo.push((next(i, p), next(j, t)));
        }
    }
    false
}

/// Whether a channel pattern (a full path, `*` for any run, `{user_id}` for a webhook's user)
/// can match one of the channels events are published on ([`CHANNELS`]).
pub fn matches_some_channel(pattern: &str) -> bool {
    let Some(rest) = pattern.strip_prefix(PREFIX) else {
        return false;
    };
    let p = tokens(rest);
    CHANNELS.iter().any(|t| can_meet(&p, &tokens(t)))
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

/// Retention: deletes events older than the window, then the oldest while the log is larger
/// than `max_bytes` (estimated; None: no size bound); returns how many.
pub fn apply_retention(
    s: &dyn Store,
    env: &Env,
    retention_ms: Millis,
    max_bytes: Option<i64>,
) -> Result<usize> {
    let mut deleted = s.delete_events_before(env.now - retention_ms)?;
    if let Some(max) = max_bytes {
        deleted += s.delete_events_over_bytes(max)?;
    }
    Ok(deleted)
}
