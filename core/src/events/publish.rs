//! Turning the rows a transaction changed into events (see the module docs).

use super::snapshot::{Serialized, Snapshot};
use super::{NewEvent, PREFIX};
use crate::Env;
use crate::chat_hooks::{message_presenter, present_chat};
use crate::chats::ChatRecord;
use crate::crypto::KeyRing;
use crate::error::Result;
use crate::ids::visitor_id_str;
use crate::invitations::{Invitation, InviteTarget};
use crate::memberships::Membership;
use crate::messages::Viewer;
use crate::store::changes::Change;
use crate::store::{ChatEventState, SnapshotOf, Store};
use crate::suggestions::ReplySuggestion;
use crate::tags::Tag;
use crate::webhooks::{self, WebhookRecord};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// An event row being gathered: one resource state published on several channels.
struct Gathering {
    organization_id: Uuid,
    chat_pk: Option<i64>,
    channels: Vec<String>,
    action: &'static str,
    resource_id: String,
    /// The resource as JSON text (serialized once per change, compared as text).
    resource: Option<String>,
}

pub(crate) struct Emitter<'a, 'k> {
    s: &'a dyn Store,
    env: &'a Env<'k>,
    last: Option<i64>,
    pending: Option<Gathering>,
    user_orgs: HashMap<Uuid, Option<Uuid>>,
    hooks: HashMap<Uuid, Vec<WebhookRecord>>,
    /// Chats and their members as the transaction left them (publishing changes neither).
    chats: HashMap<i64, Option<ChatRecord>>,
    members: HashMap<i64, Vec<(Uuid, bool)>>,
    /// Per chat: its event state as the transaction found it (read once).
    chat_states: HashMap<i64, ChatEventState>,
    /// Per chat: its newest change row written by this transaction (the chain's new head).
    heads: HashMap<i64, i64>,
    /// Per chat: its new snapshot (written with its head, in one statement per chat).
    chat_snapshots: HashMap<i64, Vec<u8>>,
    /// Webhook deliveries queued so far.
    deliveries: usize,
}

impl Emitter<'_, '_> {
    fn chat(&mut self, pk: i64) -> Result<Option<ChatRecord>> {
        if let Some(c) = self.chats.get(&pk) {
            return Ok(c.clone());
        }
        // With its event state: publication needs it for every chat it reads (one read).
        let (c, state) = match self.s.chat_with_event_state(pk, self.env.now)? {
            Some((c, state)) => (Some(c), state),
            None => (None, Default::default()),
        };
        self.chat_states.entry(pk).or_insert(state);
        self.chats.insert(pk, c.clone());
        Ok(c)
    }

    fn chat_state(&mut self, pk: i64) -> Result<&ChatEventState> {
        if !self.chat_states.contains_key(&pk) {
            let st = self.s.chat_event_state(pk)?.unwrap_or_default();
            self.chat_states.insert(pk, st);
        }
        Ok(&self.chat_states[&pk])
    }

    fn members(&mut self, pk: i64) -> Result<Vec<(Uuid, bool)>> {
        if let Some(m) = self.members.get(&pk) {
            return Ok(m.clone());
        }
        let rows = self.s.chat_members(pk)?;
        let mut m = Vec::with_capacity(rows.len());
        for (member, is_user, org) in rows {
            if is_user {
                // Their channels' organization: no user lookup per member.
                self.user_orgs.insert(member, org);
            }
            m.push((member, is_user));
        }
        self.members.insert(pk, m.clone());
        Ok(m)
    }

    /// Publishes `resource` on `channel`. Consecutive emissions of the same change (same
    /// chat, action, resource) on several channels are stored as one row (see 0005); their
    /// events keep the order and numbers they would have one by one.
    fn emit(
        &mut self,
        chat_pk: i64,
        org: Uuid,
        channel: String,
        action: &'static str,
        resource_id: &str,
        resource: Option<&str>,
    ) -> Result<()> {
        if let Some(p) = self.pending.as_mut()
            && p.organization_id == org
            && p.chat_pk == Some(chat_pk)
            && p.action == action
            && p.resource_id == resource_id
            && p.resource.as_deref() == resource
        {
            p.channels.push(channel);
            return Ok(());
        }
        self.flush()?;
        self.pending = Some(Gathering {
            organization_id: org,
            chat_pk: Some(chat_pk),
            channels: vec![channel],
            action,
            resource_id: resource_id.to_string(),
            resource: resource.map(str::to_string),
        });
        Ok(())
    }

    /// Writes the change being gathered (and queues its webhook deliveries).
    fn flush(&mut self) -> Result<()> {
        let Some(c) = self.pending.take() else {
            return Ok(());
        };
        let mut ev = NewEvent {
            organization_id: c.organization_id,
            chat_pk: c.chat_pk,
            channels: c.channels,
            action: c.action,
            resource_id: c.resource_id,
            resource: c.resource,
            created_at: self.env.now,
            prev_seq: None,
        };
        // Numbers continue after the newest one: read once per transaction, then counted here.
        let head = match self.last {
            Some(last) => last,
            None => self.s.last_event_seq()?,
        };
        let last = head + ev.channels.len() as i64;
        if let Some(pk) = ev.chat_pk {
            ev.prev_seq = match self.heads.get(&pk) {
                Some(&newest) => Some(newest),
                None => self.chat_state(pk)?.head,
            };
            self.heads.insert(pk, last);
        }
        self.s.insert_change(&ev, last)?;
        self.last = Some(last);
        let org = ev.organization_id;
        let hooks = match self.hooks.get(&org) {
            Some(h) => h,
            None => {
                let h = self.s.webhooks_of_org(org)?;
                self.hooks.entry(org).or_insert(h)
            }
        };
        if !hooks.is_empty() {
            let resource: Option<Value> = ev
                .resource
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?;
            let first = last - ev.channels.len() as i64 + 1;
            for (k, channel) in ev.channels.into_iter().enumerate() {
                let mut event = super::Event {
                    channel,
                    action: ev.action.to_string(),
                    resource_id: ev.resource_id.clone(),
                    resource: resource.clone(),
                    seq: first + k as i64,
                };
                super::present_for_channel(&mut event);
                self.deliveries += webhooks::enqueue(self.s, self.env, hooks, &event)?;
            }
        }
        Ok(())
    }

    /// Looks up, in one read, the organizations of those of `users` not known yet (before a
    /// fan-out to them: one lookup each would be one statement per user).
    fn learn_user_orgs(&mut self, users: &[Uuid]) -> Result<()> {
        let unknown: Vec<Uuid> = users
            .iter()
            .filter(|u| !self.user_orgs.contains_key(u))
            .copied()
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        for u in &unknown {
            self.user_orgs.insert(*u, None);
        }
        for (user, org) in self.s.users_organizations(&unknown)? {
            self.user_orgs.insert(user, Some(org));
        }
        Ok(())
    }

    /// The organization of a user (None for an unknown user).
    fn user_org(&mut self, user: Uuid) -> Result<Option<Uuid>> {
        if let Some(o) = self.user_orgs.get(&user) {
            return Ok(*o);
        }
        let o = self.s.user(user)?.map(|u| u.organization_id);
        self.user_orgs.insert(user, o);
        Ok(o)
    }

    /// Emits on a `/users/<u>/...` channel in the user's organization.
    fn for_user(
        &mut self,
        chat_pk: i64,
        user: Uuid,
        path: &str,
        action: &'static str,
        resource_id: &str,
        resource: Option<&str>,
    ) -> Result<()> {
        if let Some(org) = self.user_org(user)? {
            self.emit(
                chat_pk,
                org,
                path_of(&[PREFIX, "users/"], user, &["/", path]),
                action,
                resource_id,
                resource,
            )?;
        }
        Ok(())
    }
}

/// `head`, the hyphenated `id`, then `tail`: a channel path built without `format!` (a send
/// builds several; formatting them through `Display` was ≈ 1.5 % of its instructions).
fn path_of(head: &[&str], id: Uuid, tail: &[&str]) -> String {
    let mut buf = Uuid::encode_buffer();
    let id = id.hyphenated().encode_lower(&mut buf);
    let len = head.iter().chain(tail).map(|p| p.len()).sum::<usize>() + id.len();
    let mut s = String::with_capacity(len);
    head.iter().for_each(|p| s.push_str(p));
    s.push_str(id);
    tail.iter().for_each(|p| s.push_str(p));
    s
}

/// What one transaction published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// The newest `seq` written (None: no event).
    pub last_seq: Option<i64>,
    /// How many webhook deliveries were queued.
    pub webhook_deliveries: usize,
    /// Whether a token or user an authentication rests on was revoked, deleted or changed
    /// (remembered authentications must be forgotten once this commits).
    pub credentials_changed: bool,
}

/// Publishes the events of everything the running transaction changed.
pub fn publish(s: &dyn Store, env: &Env) -> Result<Published> {
    let changes = s.take_changes();
    if changes.is_empty() {
        return Ok(Published::default());
    }
    let mut e = Emitter {
        s,
        env,
        last: None,
        pending: None,
        user_orgs: HashMap::new(),
        hooks: HashMap::new(),
        chats: HashMap::new(),
        members: HashMap::new(),
        chat_states: HashMap::new(),
        heads: HashMap::new(),
        chat_snapshots: HashMap::new(),
        deliveries: 0,
    };
    let mut chats: Vec<i64> = Vec::new();
    let mut memberships: Vec<(i64, Uuid)> = Vec::new();
    let mut invitations: Vec<Uuid> = Vec::new();
    let mut suggestions: Vec<Uuid> = Vec::new();
    let mut changed_messages: Vec<(i64, Uuid)> = Vec::new();
    let mut credentials_changed = false;
    fn push<T: PartialEq>(v: &mut Vec<T>, x: T) {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    for d in changes {
        match d {
            Change::Chat(pk) => push(&mut chats, pk),
            Change::MessageAdded {
                chat_pk,
                id,
                record,
            } => message(&mut e, chat_pk, id, "added", record.map(|r| *r))?,
            Change::MessageChanged { chat_pk, id } => push(&mut changed_messages, (chat_pk, id)),
            Change::Membership { chat_pk, member } => push(&mut memberships, (chat_pk, member)),
            Change::Invitation(i) => push(&mut invitations, i),
            Change::Suggestion(i) => push(&mut suggestions, i),
            Change::Credentials => credentials_changed = true,
            Change::TagAdded { chat_pk, name } => tag(&mut e, chat_pk, &name, true)?,
            Change::TagRemoved { chat_pk, name } => tag(&mut e, chat_pk, &name, false)?,
            // A member's own attributes show in their memberships of open chats; their
            // presence also in those chats (pending, present counts).
            Change::Member(member) | Change::Presence(member) => {
                let presence = matches!(d, Change::Presence(_));
                for pk in s.open_chats_of_member(member)? {
                    push(&mut memberships, (pk, member));
                    if presence {
                        push(&mut chats, pk);
                    }
                }
            }
        }
    }
    for (pk, m) in changed_messages {
        message(&mut e, pk, m, "changed", None)?;
    }
    for (pk, m) in memberships {
        membership(&mut e, pk, m)?;
    }
    for i in invitations {
        invitation(&mut e, i)?;
    }
    for i in suggestions {
        suggestion(&mut e, i)?;
    }
    for pk in chats {
        chat(&mut e, pk)?;
    }
    e.flush()?;
    let mut written: Vec<i64> = e
        .heads
        .keys()
        .chain(e.chat_snapshots.keys())
        .copied()
        .collect();
    written.sort_unstable();
    written.dedup();
    for pk in written {
        let snapshot = e.chat_snapshots.get(&pk).map(Vec::as_slice);
        s.set_chat_event_state(pk, snapshot, e.heads.get(&pk).copied())?;
    }
    Ok(Published {
        last_seq: e.last,
        webhook_deliveries: e.deliveries,
        credentials_changed,
    })
}

fn users_of(members: &[(Uuid, bool)]) -> Vec<Uuid> {
    members
        .iter()
        .filter(|(_, u)| *u)
        .map(|(id, _)| *id)
        .collect()
}

/// Users a chat is pending for: its room's users that may see its waiting chats. Their
/// organizations (the channels' event organization) come with them: no lookup per user.
fn pending_users(e: &mut Emitter, c: &ChatRecord) -> Result<Vec<Uuid>> {
    let Some(room) = c.room_id.filter(|_| c.is_pending()) else {
        return Ok(Vec::new());
    };
    let audience = e.s.room_pending_audience(room)?;
    let mut users = Vec::with_capacity(audience.len());
    for (user, org) in audience {
        e.user_orgs.insert(user, Some(org));
        users.push(user);
    }
    Ok(users)
}

/// Events never hold the plaintext of an encrypted chat: its resources are presented as
/// without the organization key (`message: null`, `encrypted_message`), as reads show them
/// once the key is purged.
fn sealed_env<'k>(env: &Env, empty: &'k KeyRing) -> Env<'k> {
    Env {
        now: env.now,
        ids: env.ids,
        keys: empty,
    }
}

fn chat(e: &mut Emitter, pk: i64) -> Result<()> {
    let Some(c) = e.chat(pk)? else {
        return Ok(());
    };
    let empty = KeyRing::new();
    let resource = if c.is_encrypted {
        Serialized::of(&present_chat(&sealed_env(e.env, &empty), &c))?
    } else {
        Serialized::of(&present_chat(e.env, &c))?
    };
    let members = users_of(&e.members(pk)?);
    let pending = pending_users(e, &c)?;
    let before = match &e.chat_state(pk)?.snapshot {
        Some(b) => Some(Snapshot::decode(b, true)?),
        None => None,
    };
    let id = c.id.to_string();
    let hashes = resource.hashes();
    // The changed attributes (None: first publication, or nothing changed).
    let changed = before
        .as_ref()
        .and_then(|b| resource.changed_since(b, &hashes));
    let changed = changed.as_deref();
    let has_change = changed.is_some();
    let (was_members, was_pending): (HashSet<Uuid>, HashSet<Uuid>) = match &before {
        Some(b) => (
            b.members.iter().copied().collect(),
            b.pending.iter().copied().collect(),
        ),
        None => (HashSet::new(), HashSet::new()),
    };
    let whole = Some(resource.text());
    let org = c.room_organization_id;
    let owned = path_of(&[PREFIX, "orgs/"], org, &["/owned_chats"]);
    match &before {
        None => e.emit(pk, org, owned, "added", &id, whole)?,
        Some(_) if has_change => e.emit(pk, org, owned, "changed", &id, changed)?,
        Some(_) => {}
    }
    for &u in &members {
        if !was_members.contains(&u) {
            e.for_user(pk, u, "chats", "added", &id, whole)?;
        } else if has_change {
            e.for_user(pk, u, "chats", "changed", &id, changed)?;
        }
    }
    for &u in &pending {
        if !was_pending.contains(&u) {
            e.for_user(pk, u, "pending_chats", "added", &id, whole)?;
        } else if has_change {
            e.for_user(pk, u, "pending_chats", "changed", &id, changed)?;
        }
    }
    let now_pending: HashSet<Uuid> = pending.iter().copied().collect();
    let mut gone: Vec<Uuid> = was_pending.difference(&now_pending).copied().collect();
    gone.sort();
    e.learn_user_orgs(&gone)?;
    for u in gone {
        e.for_user(pk, u, "pending_chats", "removed", &id, None)?;
    }
    let unchanged = before
        .as_ref()
        .is_some_and(|b| !has_change && b.pending == pending && b.members == members);
    if unchanged {
        // Presence renewals re-evaluate a user's open chats; most change nothing.
        return Ok(());
    }
    let snap = Snapshot::from_hashes(hashes, pending, members);
    e.chat_snapshots.insert(pk, snap.encode());
    Ok(())
}

/// Recipients of a chat's messages: (user members, visitors).
fn message_audience(e: &mut Emitter, c: &ChatRecord) -> Result<(Vec<Uuid>, Vec<Uuid>)> {
    let members = e.members(c.pk)?;
    let users = users_of(&members);
    let mut visitors: Vec<Uuid> = members
        .iter()
        .filter(|(_, u)| !u)
        .map(|(id, _)| *id)
        .collect();
    if let Some(v) = c.visitor_id.filter(|v| !visitors.contains(v)) {
        visitors.push(v);
    }
    Ok((users, visitors))
}

/// The message as operators see it (None: nobody will). Its visitors get the same resource:
/// their view is derived from it when their events are read ([`super::present_for_channel`]),
/// so the change is one row for both audiences.
fn present_message(
    e: &Emitter,
    c: &ChatRecord,
    id: Uuid,
    held: Option<crate::messages::MessageRecord>,
) -> Result<Option<crate::messages::Message>> {
    let m = match held {
        Some(m) => m,
        None => match e.s.message(c.pk, id)? {
            Some(m) => m,
            None => return Ok(None),
        },
    };
    let empty = KeyRing::new();
    let sealed = sealed_env(e.env, &empty);
    let env = if c.is_encrypted { &sealed } else { e.env };
    Ok(Some(message_presenter(env, c, &Viewer::Operator)(m)))
}

/// A message added, or a stored message changed (its actions' disabled states: `changed`
/// carries `attachments` only), published to the chat's users (operator view) and visitors
/// (visitor view).
fn message(
    e: &mut Emitter,
    pk: i64,
    id: Uuid,
    action: &'static str,
    held: Option<crate::messages::MessageRecord>,
) -> Result<()> {
    let Some(c) = e.chat(pk)? else {
        return Ok(());
    };
    let (users, visitors) = message_audience(e, &c)?;
    if users.is_empty() && visitors.is_empty() {
        return Ok(());
    }
    let mid = id.to_string();
    let Some(m) = present_message(e, &c, id, held)? else {
        return Ok(());
    };
    let r = if action == "changed" {
        serde_json::to_string(&serde_json::json!({ "attachments": m.attachments }))?
    } else {
        serde_json::to_string(&m)?
    };
    let r = Some(r.as_str());
    let path = path_of(&["chats/"], c.id, &["/messages"]);
    for u in users {
        e.for_user(pk, u, &path, action, &mid, r)?;
    }
    for v in visitors {
        let ch = format!(
            "{PREFIX}public/visitors/{}/chats/{}/messages",
            visitor_id_str(&v),
            c.id
        );
        e.emit(pk, c.room_organization_id, ch, action, &mid, r)?;
    }
    Ok(())
}

fn membership(e: &mut Emitter, pk: i64, member: Uuid) -> Result<()> {
    let Some((m, before)) = e.s.membership_with_event_state(pk, member)? else {
        return Ok(());
    };
    let membership = Membership::from_record(&m, e.env.now);
    let resource = Serialized::of(&membership)?;
    let (Some((action, payload)), hashes) = added_or_changed_since(before.as_deref(), &resource)?
    else {
        return Ok(());
    };
    let rid = membership.member_id;
    let path = path_of(&["chats/"], m.chat_id, &["/memberships"]);
    for u in users_of(&e.members(pk)?) {
        e.for_user(pk, u, &path, action, &rid, Some(payload.as_str()))?;
    }
    put_snapshot(e, SnapshotOf::Membership(pk, member), hashes)
}

fn tag(e: &mut Emitter, pk: i64, name: &str, added: bool) -> Result<()> {
    let Some(c) = e.chat(pk)? else {
        return Ok(());
    };
    let resource = if added {
        let created =
            e.s.tag(pk, name)?
                .map(|t| t.created_at)
                .unwrap_or(e.env.now);
        Some(serde_json::to_string(&Tag::new(name, created, c.room_id))?)
    } else {
        None
    };
    let action = if added { "added" } else { "removed" };
    let org = c.room_organization_id;
    e.emit(
        pk,
        org,
        format!("{PREFIX}orgs/{org}/owned_chats/{}/tags", c.id),
        action,
        name,
        resource.as_deref(),
    )?;
    for u in users_of(&e.members(pk)?) {
        e.for_user(
            pk,
            u,
            &format!("chats/{}/tags", c.id),
            action,
            name,
            resource.as_deref(),
        )?;
    }
    Ok(())
}

fn invitation(e: &mut Emitter, id: Uuid) -> Result<()> {
    let Some(r) = e.s.invitation(id)? else {
        return Ok(());
    };
    let resource = Serialized::of(&Invitation::from_record(&r))?;
    let key = id.to_string();
    let of = SnapshotOf::Other {
        chat_pk: r.chat_pk,
        kind: "invitation",
        key: &key,
    };
    let (Some((action, payload)), hashes) = added_or_changed(e, of, &resource)? else {
        return Ok(());
    };
    e.for_user(
        r.chat_pk,
        r.invited_by_user_id,
        &format!("chats/{}/outgoing_chat_invitations", r.chat_id),
        action,
        &key,
        Some(payload.as_str()),
    )?;
    let invitees = match r.target {
        InviteTarget::User(u) => vec![u],
        InviteTarget::Team(t) => e.s.team_member_ids(t)?,
        InviteTarget::Organization(_) => Vec::new(),
    };
    for u in invitees.into_iter().filter(|u| *u != r.invited_by_user_id) {
        e.for_user(
            r.chat_pk,
            u,
            "incoming_chat_invitations",
            action,
            &key,
            Some(payload.as_str()),
        )?;
    }
    put_snapshot(e, of, hashes)
}

/// An event's action and resource (JSON text).
type ActionAndResource = (&'static str, String);

/// The previous state of a resource and the event for its new state: (`added`, whole) or
/// (`changed`, the differing attributes); None when nothing changed. With the resource's
/// attribute hashes, for [`put_snapshot`].
fn added_or_changed(
    e: &Emitter,
    of: SnapshotOf<'_>,
    resource: &Serialized,
) -> Result<(Option<ActionAndResource>, Vec<u64>)> {
    added_or_changed_since(e.s.snapshot(of)?.as_deref(), resource)
}

/// [`added_or_changed`] given the last published state (`before`, already read).
fn added_or_changed_since(
    before: Option<&[u8]>,
    resource: &Serialized,
) -> Result<(Option<ActionAndResource>, Vec<u64>)> {
    let hashes = resource.hashes();
    let event = match before {
        None => Some(("added", resource.text().to_string())),
        Some(b) => resource
            .changed_since(&Snapshot::decode(b, false)?, &hashes)
            .map(|d| ("changed", d)),
    };
    Ok((event, hashes))
}

/// Records the resource whose attribute hashes are `hashes` as the last published state.
fn put_snapshot(e: &Emitter, of: SnapshotOf<'_>, hashes: Vec<u64>) -> Result<()> {
    let snap = Snapshot::from_hashes(hashes, Vec::new(), Vec::new());
    e.s.put_snapshot(of, &snap.encode())
}

fn suggestion(e: &mut Emitter, id: Uuid) -> Result<()> {
    let Some(r) = e.s.suggestion(id)? else {
        return Ok(());
    };
    let resource = Serialized::of(&ReplySuggestion::from_record(&r))?;
    let key = id.to_string();
    let of = SnapshotOf::Other {
        chat_pk: r.chat_pk,
        kind: "suggestion",
        key: &key,
    };
    let (Some((action, payload)), hashes) = added_or_changed(e, of, &resource)? else {
        return Ok(());
    };
    for u in users_of(&e.members(r.chat_pk)?) {
        e.for_user(
            r.chat_pk,
            u,
            &format!("chats/{}/reply_suggestions", r.chat_id),
            action,
            &key,
            Some(payload.as_str()),
        )?;
    }
    put_snapshot(e, of, hashes)
}
