//! What the `raw + events` baselines share: the rows they read (a chat, its members, the
//! acting user) and the resources their events carry, written as JSON text by hand.
//!
//! A chat's `changed` event carries the attributes whose value differs between the chat as the
//! operation found it and as it leaves it: both are rendered ([`Json`] keeps where each value
//! lies) and compared value by value. Other resources' changes are spelled by the operation
//! that makes them: hand-written code knows which attributes it changes.

use chat_core::time::format_ms;
use rusqlite::OptionalExtension;
use uuid::Uuid;

/// A JSON object written attribute by attribute, in the order of its `keys`, remembering
/// where each value lies so that two renderings can be compared.
pub struct Json {
    text: String,
    keys: &'static [&'static str],
    spans: Vec<(usize, usize)>,
}

impl Json {
    pub fn object(keys: &'static [&'static str]) -> Self {
        Json {
            text: String::with_capacity(64 * keys.len()),
            keys,
            spans: Vec::with_capacity(keys.len()),
        }
    }

    fn key(&mut self) {
        let k = self.keys[self.spans.len()];
        self.text
            .push_str(if self.spans.is_empty() { "{\"" } else { ",\"" });
        self.text.push_str(k);
        self.text.push_str("\":");
    }

    /// A value already in JSON (a number, `true`, `null`, an object).
    pub fn raw(&mut self, v: &str) -> &mut Self {
        self.key();
        let start = self.text.len();
        self.text.push_str(v);
        self.spans.push((start, self.text.len()));
        self
    }
    /// A string that needs no escaping (ids, timestamps, fixed words).
    pub fn plain(&mut self, v: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        self.key();
        let start = self.text.len();
        let _ = write!(self.text, "\"{v}\"");
        self.spans.push((start, self.text.len()));
        self
    }
    pub fn plain_opt(&mut self, v: Option<impl std::fmt::Display>) -> &mut Self {
        match v {
            Some(v) => self.plain(v),
            None => self.raw("null"),
        }
    }
    /// Any text, escaped.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.raw(&serde_json::to_string(v).unwrap())
    }
    pub fn text_opt(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => self.raw("null"),
        }
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.raw(&v.to_string())
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.raw(if v { "true" } else { "false" })
    }
    pub fn time(&mut self, ms: i64) -> &mut Self {
        self.plain(format_ms(ms))
    }
    pub fn time_opt(&mut self, ms: Option<i64>) -> &mut Self {
        self.plain_opt(ms.map(format_ms))
    }
    /// Seconds from milliseconds, as a JSON number.
    pub fn secs_opt(&mut self, ms: Option<i64>) -> &mut Self {
        match ms {
            Some(ms) => self.raw(&format!("{:?}", ms as f64 / 1000.0)),
            None => self.raw("null"),
        }
    }

    /// The finished object.
    pub fn done(mut self) -> Self {
        assert_eq!(self.spans.len(), self.keys.len(), "every attribute written");
        self.text.push('}');
        self
    }
    pub fn into_text(self) -> String {
        self.text
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The attributes whose value differs from `before` (same keys), as a JSON object; None
    /// when none does.
    pub fn changed_since(&self, before: &Json) -> Option<String> {
        let mut out = String::new();
        for (i, k) in self.keys.iter().enumerate() {
            let (a, b) = self.spans[i];
            let (c, d) = before.spans[i];
            let v = &self.text[a..b];
            if v != &before.text[c..d] {
                out.push_str(if out.is_empty() { "{\"" } else { ",\"" });
                out.push_str(k);
                out.push_str("\":");
                out.push_str(v);
            }
        }
        (!out.is_empty()).then(|| {
            out.push('}');
            out
        })
    }
}

pub fn uuid_of(b: &[u8]) -> Uuid {
    Uuid::from_slice(b).unwrap()
}

fn opt_uuid(b: Option<Vec<u8>>) -> Option<Uuid> {
    b.map(|b| uuid_of(&b))
}

// ---- the acting user -------------------------------------------------------------------------

/// A user as the baselines read them (with their organization's subscription).
#[derive(Debug, Clone)]
pub struct RawUser {
    pub id: Uuid,
    pub org: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub alias: Option<String>,
    pub avatar_id: Option<Uuid>,
    pub avatar_url: Option<String>,
    pub is_bot: bool,
    pub perm_reports: bool,
    pub present_until: i64,
    pub org_subscribed: bool,
}

impl RawUser {
    pub fn full_name(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (false, true) => self.first_name.clone(),
            (true, false) => self.last_name.clone(),
            (true, true) => String::new(),
        }
    }
    pub fn public_name(&self) -> String {
        match &self.alias {
            Some(a) if !a.is_empty() => a.clone(),
            _ => self.full_name(),
        }
    }
    /// The avatar object (`null` without one).
    pub fn avatar_json(&self) -> String {
        match (self.avatar_id, &self.avatar_url) {
            (Some(id), Some(url)) => format!(
                "{{\"id\":\"{id}\",\"url\":{}}}",
                serde_json::to_string(url).unwrap()
            ),
            _ => "null".into(),
        }
    }
    pub fn is_present(&self, now: i64) -> bool {
        self.present_until > now
    }
    /// `{id, full_name, first_name, last_name, organization_id}` (invitations).
    pub fn summary_json(&self) -> String {
        format!(
            "{{\"id\":\"{}\",\"full_name\":{},\"first_name\":{},\"last_name\":{},\"organization_id\":\"{}\"}}",
            self.id,
            serde_json::to_string(&self.full_name()).unwrap(),
            serde_json::to_string(&self.first_name).unwrap(),
            serde_json::to_string(&self.last_name).unwrap(),
            self.org
        )
    }
}

/// The user `id` (not deleted) with their organization's subscription; None if unknown.
pub fn read_user(tx: &rusqlite::Transaction, id: Uuid) -> Option<RawUser> {
    tx.prepare_cached(
        "SELECT u.organization_id, u.first_name, u.last_name, u.alias, u.avatar_id, u.avatar_url, u.is_bot, \
         u.perm_reports, u.present_until, o.has_active_subscription \
         FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.id = ?1 AND u.is_deleted = 0",
    )
    .unwrap()
    .query_row([id.as_bytes()], |r| {
        Ok(RawUser {
            id,
            org: uuid_of(&r.get::<_, Vec<u8>>(0)?),
            first_name: r.get(1)?,
            last_name: r.get(2)?,
            alias: r.get(3)?,
            avatar_id: opt_uuid(r.get(4)?),
            avatar_url: r.get(5)?,
            is_bot: r.get(6)?,
            perm_reports: r.get(7)?,
            present_until: r.get(8)?,
            org_subscribed: r.get(9)?,
        })
    })
    .optional()
    .unwrap()
}

// ---- chats -----------------------------------------------------------------------------------

/// A chat row as the baselines read it (with its room's name and its newest change row).
#[derive(Debug, Clone)]
pub struct RawChat {
    pub pk: i64,
    pub id: Uuid,
    pub room: Option<Uuid>,
    pub room_name: Option<String>,
    pub org: Uuid,
    pub chat_type: String,
    pub visitor: Option<Uuid>,
    pub is_private: bool,
    pub is_encrypted: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub is_ended: bool,
    pub ended_at: Option<i64>,
    pub is_waiting: bool,
    pub waiting_started_at: Option<i64>,
    pub message_count: i64,
    pub user_message_count: i64,
    pub visitor_message_count: i64,
    pub tag_count: i64,
    pub is_autosuggested: bool,
    pub first_visitor_message_url: Option<String>,
    pub first_visitor_message_url_title: Option<String>,
    pub autosuggest_url: Option<String>,
    pub autosuggest_url_title: Option<String>,
    pub first_visitor_msg_at: Option<i64>,
    pub first_reply_at: Option<i64>,
    pub first_msg_at: Option<i64>,
    pub last_msg_at: Option<i64>,
    pub active_ms: i64,
    pub last_activity_at: i64,
    pub next_message_seq: i64,
    pub token: String,
    pub last_event_seq: Option<i64>,
}

macro_rules! chat_select {
    ($where:literal) => {
        concat!(
            "SELECT c.pk, c.id, c.room_id, c.room_organization_id, c.chat_type, c.visitor_id, c.is_private, \
             c.is_encrypted, c.created_at, c.updated_at, c.is_ended, c.ended_at, c.is_waiting, c.waiting_started_at, \
             c.message_count, c.user_message_count, c.visitor_message_count, c.tag_count, c.is_autosuggested, \
             c.first_visitor_message_url, c.first_visitor_message_url_title, c.autosuggest_url, c.autosuggest_url_title, \
             c.first_visitor_msg_at, c.first_reply_at, c.first_msg_at, c.last_msg_at, c.active_ms, c.last_activity_at, \
             c.next_message_seq, c.token, r.name, c.last_event_seq \
             FROM chats c LEFT JOIN rooms r ON r.id = c.room_id WHERE ",
            $where
        )
    };
}

/// How a baseline names the chat it works on.
#[derive(Debug, Clone, Copy)]
pub enum ChatKey {
    Id(Uuid),
    Pk(i64),
}

fn chat_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawChat> {
    Ok(RawChat {
        pk: r.get(0)?,
        id: uuid_of(&r.get::<_, Vec<u8>>(1)?),
        room: opt_uuid(r.get(2)?),
        org: uuid_of(&r.get::<_, Vec<u8>>(3)?),
        chat_type: r.get(4)?,
        visitor: opt_uuid(r.get(5)?),
        is_private: r.get(6)?,
        is_encrypted: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        is_ended: r.get(10)?,
        ended_at: r.get(11)?,
        is_waiting: r.get(12)?,
        waiting_started_at: r.get(13)?,
        message_count: r.get(14)?,
        user_message_count: r.get(15)?,
        visitor_message_count: r.get(16)?,
        tag_count: r.get(17)?,
        is_autosuggested: r.get(18)?,
        first_visitor_message_url: r.get(19)?,
        first_visitor_message_url_title: r.get(20)?,
        autosuggest_url: r.get(21)?,
        autosuggest_url_title: r.get(22)?,
        first_visitor_msg_at: r.get(23)?,
        first_reply_at: r.get(24)?,
        first_msg_at: r.get(25)?,
        last_msg_at: r.get(26)?,
        active_ms: r.get(27)?,
        last_activity_at: r.get(28)?,
        next_message_seq: r.get(29)?,
        token: r.get(30)?,
        room_name: r.get(31)?,
        last_event_seq: r.get(32)?,
    })
}

/// The chat (None if there is none).
pub fn read_chat(tx: &rusqlite::Transaction, key: ChatKey) -> Option<RawChat> {
    match key {
        ChatKey::Id(id) => tx
            .prepare_cached(chat_select!("c.id = ?1"))
            .unwrap()
            .query_row([id.as_bytes()], chat_row),
        ChatKey::Pk(pk) => tx
            .prepare_cached(chat_select!("c.pk = ?1"))
            .unwrap()
            .query_row([pk], chat_row),
    }
    .optional()
    .unwrap()
}

/// A member of a chat as the baselines read them.
#[derive(Debug, Clone)]
pub struct RawMember {
    pub id: Uuid,
    pub is_user: bool,
    pub participating: bool,
    pub message_count: i64,
    pub composing: String,
    /// The member's own presence (`present_until` after now).
    pub present: bool,
}

impl RawMember {
    /// Present in the chat: participating and present.
    pub fn present_here(&self) -> bool {
        self.participating && self.present
    }
}

/// The members of a chat, with their presence at `now`.
pub fn read_members(tx: &rusqlite::Transaction, pk: i64, now: i64) -> Vec<RawMember> {
    tx.prepare_cached(
        "SELECT m.member_id, m.member_type = 'user', m.is_participating, m.message_count, m.composing_status, \
         coalesce(u.present_until, v.present_until, 0) > ?2 \
         FROM memberships m LEFT JOIN users u ON m.member_type = 'user' AND u.id = m.member_id \
         LEFT JOIN visitors v ON m.member_type = 'visitor' AND v.id = m.member_id WHERE m.chat_pk = ?1",
    )
    .unwrap()
    .query_map(rusqlite::params![pk, now], |r| {
        Ok(RawMember {
            id: uuid_of(&r.get::<_, Vec<u8>>(0)?),
            is_user: r.get(1)?,
            participating: r.get(2)?,
            message_count: r.get(3)?,
            composing: r.get(4)?,
            present: r.get(5)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The user members' ids.
pub fn user_ids(members: &[RawMember]) -> Vec<Uuid> {
    members.iter().filter(|m| m.is_user).map(|m| m.id).collect()
}

/// The visitor members' ids.
pub fn visitor_ids(members: &[RawMember]) -> Vec<Uuid> {
    members
        .iter()
        .filter(|m| !m.is_user)
        .map(|m| m.id)
        .collect()
}

/// The counts a chat resource shows, from its members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub present_users: i64,
    pub present_visitors: i64,
    /// Users who wrote in the chat.
    pub user_members: i64,
    pub visitor_members: i64,
}

impl Counts {
    pub fn of(members: &[RawMember]) -> Self {
        let mut c = Counts::default();
        for m in members {
            if m.is_user {
                c.present_users += i64::from(m.present_here());
                c.user_members += i64::from(m.message_count > 0);
            } else {
                c.present_visitors += i64::from(m.present_here());
                c.visitor_members += 1;
            }
        }
        c
    }
}

impl RawChat {
    pub fn is_pending(&self, n: Counts) -> bool {
        self.is_waiting && !self.is_ended && n.present_users == 0
    }

    /// The chat resource.
    pub fn json(&self, n: Counts) -> Json {
        const KEYS: &[&str] = &[
            "id",
            "token",
            "created_at",
            "ended_at",
            "waiting_started_at",
            "updated_at",
            "room_id",
            "room_name",
            "room_organization_id",
            "chat_type",
            "is_private",
            "is_real_conversation",
            "is_autosuggested",
            "is_encrypted",
            "encrypted_symmetric_key",
            "message_count",
            "user_message_count",
            "visitor_message_count",
            "has_messages",
            "has_user_messages",
            "has_visitor_messages",
            "first_visitor_message_url",
            "first_visitor_message_url_title",
            "autosuggest_url",
            "autosuggest_url_title",
            "tag_count",
            "is_waiting",
            "is_pending",
            "is_ended",
            "member_count",
            "user_member_count",
            "visitor_member_count",
            "present_participant_count",
            "present_user_participant_count",
            "present_visitor_participant_count",
            "visitor_wait_time",
            "duration",
            "active_duration",
            "legacy_conversation_state",
            "legacy_room_id",
        ];
        let ended = self.is_ended;
        let mut j = Json::object(KEYS);
        j.plain(self.id)
            .plain(&self.token)
            .time(self.created_at)
            .time_opt(self.ended_at)
            .time_opt(self.waiting_started_at)
            .time(self.updated_at)
            .plain_opt(self.room)
            .text_opt(self.room_name.as_deref())
            .plain(self.org)
            .plain(&self.chat_type)
            .bool(self.is_private)
            .bool(self.user_message_count > 0 && self.visitor_message_count > 0)
            .bool(self.is_autosuggested)
            .bool(self.is_encrypted)
            .raw("null")
            .int(self.message_count)
            .int(self.user_message_count)
            .int(self.visitor_message_count)
            .bool(self.message_count > 0)
            .bool(self.user_message_count > 0)
            .bool(self.visitor_message_count > 0)
            .text_opt(self.first_visitor_message_url.as_deref())
            .text_opt(self.first_visitor_message_url_title.as_deref())
            .text_opt(self.autosuggest_url.as_deref())
            .text_opt(self.autosuggest_url_title.as_deref())
            .int(self.tag_count)
            .bool(self.is_waiting)
            .bool(self.is_pending(n))
            .bool(ended)
            .int(n.user_members + n.visitor_members)
            .int(n.user_members)
            .int(n.visitor_members)
            .int(n.present_users + n.present_visitors)
            .int(n.present_users)
            .int(n.present_visitors)
            .secs_opt(
                self.first_reply_at
                    .zip(self.first_visitor_msg_at)
                    .map(|(u, v)| u - v),
            )
            .secs_opt(ended.then(|| {
                self.first_msg_at
                    .zip(self.last_msg_at)
                    .map_or(0, |(a, b)| b - a)
            }))
            .secs_opt(ended.then_some(self.active_ms))
            .plain(if ended {
                "ended"
            } else if self.is_waiting {
                "waiting"
            } else {
                "open"
            })
            .plain_opt(self.room.map(|r| r.simple()));
        j.done()
    }
}

/// `orgs/<o>/owned_chats`
pub fn owned_channel(org: Uuid) -> String {
    format!("orgs/{org}/owned_chats")
}

/// `users/<u>/chats`
pub fn user_chats_channel(user: Uuid) -> String {
    format!("users/{user}/chats")
}

/// `public/visitors/<v>/chats`
pub fn visitor_chats_channel(visitor: Uuid) -> String {
    format!("public/visitors/{}/chats", visitor.simple())
}

/// The chat's state before an operation (None: the operation creates it) and after it, with
/// its user and visitor members then and now.
pub struct ChatTransition<'a> {
    pub before: Option<(&'a RawChat, Counts)>,
    pub users_before: &'a [Uuid],
    pub visitors_before: &'a [Uuid],
    pub after: &'a RawChat,
    pub counts_after: Counts,
    pub users_after: &'a [Uuid],
    pub visitors_after: &'a [Uuid],
}

/// The chat's changes, as the product publishes them: to its organization's owned chats, its
/// user members' chats and its visitor members' chats (`added` whole when new to them, else
/// the changed attributes); to
/// the routed chats of the users its room is routed to once it has waited (`added` when it
/// starts waiting, `changed` after); and to the pending chats of its room's audience when it
/// becomes pending (`added`), stays pending (`changed`) or stops being pending (`removed`).
/// Channel readers of the same change share one row; each room audience is a row of its own.
pub fn chat_changes(t: &ChatTransition<'_>) -> Vec<crate::raw_events::RawChange> {
    use crate::raw_events::RawChange;
    let after = t.after.json(t.counts_after);
    let diff = t.before.and_then(|(b, n)| after.changed_since(&b.json(n)));
    let was_pending = t.before.is_some_and(|(b, n)| b.is_pending(n));
    let pending = t.after.is_pending(t.counts_after);
    // (reader: a channel, or a room collection; action), in the order the readers are served.
    let mut readers: Vec<(Result<String, String>, &'static str)> = Vec::new();
    // The organization's collections (owned, routed, the room's chats; involved once a user
    // is a member: the bench's users are the room organization's), by action.
    let org = t.after.org;
    let mut listed = vec![owned_channel(org), format!("orgs/{org}/routed_chats")];
    if let Some(room) = t.after.room {
        listed.push(format!("orgs/{org}/rooms/{room}/chats"));
    }
    let mut by_org: Vec<(String, &'static str)> = Vec::new();
    for channel in listed {
        if t.before.is_none() {
            by_org.push((channel, "added"));
        } else if diff.is_some() {
            by_org.push((channel, "changed"));
        }
    }
    if !t.users_after.is_empty() {
        let involved = format!("orgs/{org}/involved_chats");
        if t.users_before.is_empty() {
            by_org.push((involved, "added"));
        } else if diff.is_some() {
            by_org.push((involved, "changed"));
        }
    }
    by_org.sort_by_key(|(_, action)| *action);
    readers.extend(by_org.into_iter().map(|(c, a)| (Ok(c), a)));
    for &u in t.users_after {
        if !t.users_before.contains(&u) {
            readers.push((Ok(user_chats_channel(u)), "added"));
        } else if diff.is_some() {
            readers.push((Ok(user_chats_channel(u)), "changed"));
        }
    }
    for &v in t.visitors_after {
        if !t.visitors_before.contains(&v) {
            readers.push((Ok(visitor_chats_channel(v)), "added"));
        } else if diff.is_some() {
            readers.push((Ok(visitor_chats_channel(v)), "changed"));
        }
    }
    if let Some(room) = t.after.room {
        for &v in t.visitors_after {
            let channel = format!("orgs/{org}/rooms/{room}/visitors/{}/chats", v.simple());
            let users = format!("rooms/{room}/visitors/{}/chats", v.simple());
            if !t.visitors_before.contains(&v) {
                readers.push((Ok(channel), "added"));
                readers.push((Err(users), "added"));
            } else if diff.is_some() {
                readers.push((Ok(channel), "changed"));
                readers.push((Err(users), "changed"));
            }
        }
    }
    if t.after.waiting_started_at.is_some() {
        let started = match t.before {
            None => true,
            Some((b, _)) => b.waiting_started_at.is_none(),
        };
        if started {
            readers.push((Err("routed_chats".into()), "added"));
        } else if diff.is_some() {
            readers.push((Err("routed_chats".into()), "changed"));
        }
    }
    let pending_action = if pending && !was_pending {
        Some("added")
    } else if pending && diff.is_some() {
        Some("changed")
    } else if was_pending && !pending {
        Some("removed")
    } else {
        None
    };
    if let (Some(action), Some(room)) = (pending_action, t.after.room) {
        readers.push((Ok(format!("orgs/{org}/rooms/{room}/pending_chats")), action));
        readers.push((Err("pending_chats".into()), action));
    }
    let id = t.after.id.to_string();
    let mut out: Vec<RawChange> = Vec::new();
    for (reader, action) in readers {
        let resource = match action {
            "added" => Some(after.as_str().to_string()),
            "changed" => diff.clone(),
            _ => None,
        };
        // Consecutive readers of one action share a row, room collections included.
        match reader {
            Ok(channel) => match out.last_mut() {
                Some(c) if c.action == action => c.channels.push(channel),
                _ => out.push(RawChange::to(vec![channel], action, id.clone(), resource)),
            },
            Err(collection) => {
                if let Some(room) = t.after.room {
                    match out.last_mut() {
                        Some(c) if c.action == action => {
                            c.room
                                .get_or_insert_with(|| (room, Vec::new()))
                                .1
                                .push(collection);
                        }
                        _ => out.push(
                            RawChange::to(Vec::new(), action, id.clone(), resource)
                                .with_room(Some(room), vec![collection]),
                        ),
                    }
                }
            }
        }
    }
    out
}

// ---- messages, memberships -------------------------------------------------------------------

/// The organization's channels of a chat's sub-collection `tail` (`messages`,
/// `memberships`, `tags`): its owned and routed chat, the room's chat when `in_room`, and its
/// involved chat when `involved` (a user is a member: the bench's users are the room
/// organization's).
pub fn org_sub_channels(chat: &RawChat, tail: &str, in_room: bool, involved: bool) -> Vec<String> {
    let (org, id) = (chat.org, chat.id);
    let mut out = vec![
        format!("orgs/{org}/owned_chats/{id}/{tail}"),
        format!("orgs/{org}/routed_chats/{id}/{tail}"),
    ];
    if in_room && let Some(room) = chat.room {
        out.push(format!("orgs/{org}/rooms/{room}/chats/{id}/{tail}"));
    }
    if involved {
        out.push(format!("orgs/{org}/involved_chats/{id}/{tail}"));
    }
    out
}

/// A message's channels: the organization's (each message once), each user member's, and
/// the visitor's (the chat's visitor among its members or not).
pub fn message_channels(chat: &RawChat, members: &[RawMember]) -> Vec<String> {
    let involved = members.iter().any(|m| m.is_user);
    let mut out = org_sub_channels(chat, "messages", false, involved);
    out.extend(
        members
            .iter()
            .filter(|m| m.is_user)
            .map(|m| format!("users/{}/chats/{}/messages", m.id, chat.id)),
    );
    let mut visitors: Vec<Uuid> = members
        .iter()
        .filter(|m| !m.is_user)
        .map(|m| m.id)
        .collect();
    if let Some(v) = chat.visitor.filter(|v| !visitors.contains(v)) {
        visitors.push(v);
    }
    out.extend(
        visitors
            .iter()
            .map(|v| format!("public/visitors/{}/chats/{}/messages", v.simple(), chat.id)),
    );
    out
}

/// The channels of a change of `member`'s membership: the organization's, each user
/// member's, each visitor member's, and the member's own `chat_memberships` when a user.
/// `members` are the chat's members as the change left them.
pub fn membership_channels(chat: &RawChat, members: &[RawMember], member: Uuid) -> Vec<String> {
    let id = chat.id;
    let involved = members.iter().any(|m| m.is_user);
    let mut out = org_sub_channels(chat, "memberships", true, involved);
    // A visitor's membership is also each user member's `visitors/<v>/chat_memberships`.
    let of_visitor = members
        .iter()
        .any(|m| !m.is_user && m.id == member)
        .then(|| format!("visitors/{}/chat_memberships", member.simple()));
    for m in members.iter().filter(|m| m.is_user) {
        out.push(format!("users/{}/chats/{id}/memberships", m.id));
        if let Some(tail) = &of_visitor {
            out.push(format!("users/{}/chats/{id}/{tail}", m.id));
        }
    }
    out.extend(
        members
            .iter()
            .filter(|m| !m.is_user)
            .map(|m| format!("public/visitors/{}/chats/{id}/memberships", m.id.simple())),
    );
    if members.iter().any(|m| m.is_user && m.id == member) {
        out.push(format!("users/{member}/chat_memberships"));
    }
    out
}

/// A message's room collections: the routed chat's messages.
pub fn message_room_paths(chat: &RawChat) -> Vec<String> {
    vec![format!("routed_chats/{}/messages", chat.id)]
}

/// A change of `member`'s membership (`member_id` as its resource names it), as the product
/// publishes it: on [`membership_channels`], and on the routed chat's memberships of the
/// room's audience, and while the chat waits (`pending`, as the operation left it) on the
/// pending chat's.
pub fn membership_change(
    chat: &RawChat,
    members: &[RawMember],
    member: Uuid,
    pending: bool,
    action: &'static str,
    member_id: String,
    resource: Option<String>,
) -> crate::raw_events::RawChange {
    let mut room_paths = vec![format!("routed_chats/{}/memberships", chat.id)];
    if pending {
        room_paths.push(format!("pending_chats/{}/memberships", chat.id));
    }
    crate::raw_events::RawChange::to(
        membership_channels(chat, members, member),
        action,
        member_id,
        resource,
    )
    .with_room(chat.room, room_paths)
}

/// Who wrote a message, as its resource names them.
pub struct Sender<'a> {
    pub kind: &'static str,
    pub id: String,
    pub public_name: Option<&'a str>,
    pub name: Option<&'a str>,
    pub avatar: &'a str,
}

/// A new message's resource (as operators see it: the visitor view is derived when read).
pub fn message_json(
    id: Uuid,
    kind: &str,
    chat: &RawChat,
    at: i64,
    sender: &Sender<'_>,
    text: Option<&str>,
) -> String {
    const KEYS: &[&str] = &[
        "id",
        "type",
        "chat_id",
        "room_id",
        "created_at",
        "sender_type",
        "sender_id",
        "sender_public_name",
        "sender_name",
        "sender_avatar",
        "message",
        "is_encrypted",
        "sensitive_data_purged_at",
        "selected_reply_suggestion_id",
        "selected_reply_suggestion",
        "attachments",
        "attachment_template",
        "response_to_message_id",
        "response_to_attachment_id",
        "response_to_attachment",
        "response_to_action_id",
        "response_to_action",
        "response_value",
        "response_text",
    ];
    let mut j = Json::object(KEYS);
    j.plain(id)
        .plain(kind)
        .plain(chat.id)
        .plain_opt(chat.room)
        .time(at)
        .plain(sender.kind)
        .plain(&sender.id)
        .text_opt(sender.public_name)
        .text_opt(sender.name)
        .raw(sender.avatar)
        .text_opt(text)
        .bool(false)
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("[]")
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("null");
    j.done().into_text()
}

/// A membership resource's attributes, in order.
const MEMBERSHIP_KEYS: &[&str] = &[
    "member_id",
    "member_type",
    "member_name",
    "member_public_name",
    "member_avatar",
    "member_organization_id",
    "chat_id",
    "room_id",
    "room_organization_id",
    "created_at",
    "last_seen_at",
    "updated_at",
    "chat_created_at",
    "is_bot",
    "is_user_deleted",
    "is_participating",
    "is_present",
    "composing_status",
    "message_count",
    "legacy_member_id",
];

/// A new visitor membership's resource (a visitor without a name, participating).
pub fn visitor_membership_json(visitor: Uuid, chat: &RawChat, at: i64, present: bool) -> String {
    let mut j = Json::object(MEMBERSHIP_KEYS);
    j.plain(visitor.simple())
        .plain("visitor")
        .raw("null")
        .raw("null")
        .raw("null")
        .raw("null")
        .plain(chat.id)
        .plain_opt(chat.room)
        .plain(chat.org)
        .time(at)
        .raw("null")
        .time(at)
        .time(chat.created_at)
        .bool(false)
        .bool(false)
        .bool(true)
        .bool(present)
        .plain("idle")
        .int(0)
        .plain(visitor.simple());
    j.done().into_text()
}

/// A new user membership's resource.
pub fn user_membership_json(
    user: &RawUser,
    chat: &RawChat,
    at: i64,
    participating: bool,
) -> String {
    let mut j = Json::object(MEMBERSHIP_KEYS);
    j.plain(user.id)
        .plain("user")
        .text(&user.full_name())
        .text(&user.public_name())
        .raw(&user.avatar_json())
        .plain(user.org)
        .plain(chat.id)
        .plain_opt(chat.room)
        .plain(chat.org)
        .time(at)
        .raw("null")
        .time(at)
        .time(chat.created_at)
        .bool(user.is_bot)
        .bool(false)
        .bool(participating)
        .bool(participating && user.is_present(at))
        .plain("idle")
        .int(0)
        .plain(user.id.simple());
    j.done().into_text()
}
