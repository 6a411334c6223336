//! Turning the rows a transaction changed into events (see the module docs).

use super::PREFIX;
use super::records::{
    Event, MAX_NUMBERS_PER_CHANGE, MAX_ROW_WIDTH, NewEvent, RoomAudience, RoomChannel, reader_of,
};

/// At most this many room collections in one change row (with at most
/// [`MAX_NUMBERS_PER_CHANGE`] named collections of one reader: [`MAX_ROW_WIDTH`] numbers).
const MAX_ROOM_PATHS: usize = (MAX_ROW_WIDTH - MAX_NUMBERS_PER_CHANGE) as usize;
use super::snapshot::{Serialized, Snapshot};
use crate::Env;
use crate::chat_hooks::{message_presenter, present_chat};
use crate::chats::ChatRecord;
use crate::crypto::KeyRing;
use crate::error::Result;
use crate::ids::visitor_id_str;
use crate::invitations::{Invitation, InviteTarget};
use crate::memberships::Membership;
use crate::messages::Viewer;
use crate::store::changes::{Change, DirectoryItem};
use crate::store::{ChatEventState, SnapshotOf, Store};
use crate::suggestions::ReplySuggestion;
use crate::tags::Tag;
use crate::webhooks::{self, WebhookRecord};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A change row being gathered: one resource state published on several channels.
struct Gathering {
    organization_id: Uuid,
    chat_pk: Option<i64>,
    channels: Vec<String>,
    /// Per channel: the length of its reader's owner path ([`reader_of`]).
    readers: Vec<usize>,
    room: Option<RoomAudience>,
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
    /// Chats the operation wrote whole and changed nothing else of: the written records,
    /// presented without reading the chats back ([`Change::ChatWritten`]).
    written_chats: HashMap<i64, ChatRecord>,
    members: HashMap<i64, Vec<(Uuid, bool)>>,
    /// Per chat: its event state as the transaction found it (read once).
    chat_states: HashMap<i64, ChatEventState>,
    /// Per chat: its newest change row written by this transaction (the chain's new head).
    heads: HashMap<i64, i64>,
    /// Per chat: its new snapshot (written with its head, in one statement per chat).
    chat_snapshots: HashMap<i64, Vec<u8>>,
    /// Webhook deliveries queued so far.
    deliveries: usize,
    /// Per chat: the organizations it is listed to besides its owner ([`OrgReaders`]).
    org_readers: HashMap<i64, OrgReaders>,
    /// Chat ids by pk, for the items keyed by chat ([`super::item_id`]).
    chat_ids: HashMap<i64, Uuid>,
    /// The organizations each room is shared with (read once per room).
    shares: HashMap<Uuid, Vec<Uuid>>,
}

/// The organizations a chat is listed to, besides its room's (which lists it as owned and
/// routed, and as a chat of the room): those whose users are members (`involved_chats`), and
/// those the room is shared with (`routed_chats`). A share with a partner whose chat history
/// is private is not published (its users without reports permission do not list the chat,
/// and an organization's events are read alike by all of them).
#[derive(Clone, Default)]
struct OrgReaders {
    involved: Vec<Uuid>,
    routed: Vec<Uuid>,
}

/// Where a chat is: what its organizations' channels are named by.
#[derive(Clone, Copy)]
struct ChatPlace {
    pk: i64,
    id: Uuid,
    room_id: Option<Uuid>,
    owner: Uuid,
}

impl From<&ChatRecord> for ChatPlace {
    fn from(c: &ChatRecord) -> Self {
        ChatPlace {
            pk: c.pk,
            id: c.id,
            room_id: c.room_id,
            owner: c.room_organization_id,
        }
    }
}

impl Emitter<'_, '_> {
    fn chat(&mut self, pk: i64) -> Result<Option<ChatRecord>> {
        if let Some(c) = self.chats.get(&pk) {
            return Ok(c.clone());
        }
        let (c, state) = match self.written_chats.remove(&pk) {
            Some(written) => {
                let state = self.s.chat_event_state(pk)?.unwrap_or_default();
                // The record must be what a read would return; debug builds (every test run)
                // check it.
                #[cfg(debug_assertions)]
                if let Some((read, _)) = self.s.chat_with_event_state(pk, self.env.now)? {
                    debug_assert_eq!(written, read, "a written chat differs from its row");
                }
                (Some(written), state)
            }
            // With its event state: publication needs it for every chat it reads (one read).
            None => match self.s.chat_with_event_state(pk, self.env.now)? {
                Some((c, state)) => (Some(c), state),
                None => (None, Default::default()),
            },
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
    /// chat, action, resource) on several channels are stored as one row (see 0005), which
    /// takes one number per collection of one reader ([`Numbering`]).
    fn emit(
        &mut self,
        chat_pk: i64,
        org: Uuid,
        channel: String,
        action: &'static str,
        resource_id: &str,
        resource: Option<&str>,
    ) -> Result<()> {
        self.emit_at(Some(chat_pk), org, channel, action, resource_id, resource)
    }

    /// [`Emitter::emit`] of a change that may belong to no chat (`chat_pk` None).
    fn emit_at(
        &mut self,
        chat_pk: Option<i64>,
        org: Uuid,
        channel: String,
        action: &'static str,
        resource_id: &str,
        resource: Option<&str>,
    ) -> Result<()> {
        let reader = reader_of(&channel);
        if let Some(p) = self.pending.as_mut()
            && p.organization_id == org
            && p.chat_pk == chat_pk
            && p.action == action
            && p.resource_id == resource_id
            && p.resource.as_deref() == resource
            && (p
                .channels
                .iter()
                .zip(&p.readers)
                .filter(|(c, len)| c.get(..**len) == Some(reader))
                .count() as i64)
                < MAX_NUMBERS_PER_CHANGE
        {
            p.readers.push(reader.len());
            p.channels.push(channel);
            return Ok(());
        }
        let reader = reader.len();
        self.flush()?;
        self.pending = Some(Gathering {
            organization_id: org,
            chat_pk,
            channels: vec![channel],
            readers: vec![reader],
            room: None,
            action,
            resource_id: resource_id.to_string(),
            resource: resource.map(str::to_string),
        });
        Ok(())
    }

    /// The organizations a room is shared with.
    fn room_shares(&mut self, room: Uuid) -> Result<Vec<Uuid>> {
        if let Some(s) = self.shares.get(&room) {
            return Ok(s.clone());
        }
        let shares = self.s.room_shares(room)?;
        self.shares.insert(room, shares.clone());
        Ok(shares)
    }

    /// Publishes `resource` on the room collections `paths` (below `/users/<u>/`) of every
    /// user the chat's room reaches in each path's relation, naming the room, not the users
    /// ([`NewEvent::room`]): in the row of the same change for the room's organization when
    /// it is being gathered, and in one row more per organization the room is shared with
    /// (written with it, [`Emitter::flush`]).
    fn emit_to_room(
        &mut self,
        c: ChatPlace,
        paths: &[String],
        action: &'static str,
        resource_id: &str,
        resource: Option<&str>,
    ) -> Result<()> {
        let Some(room) = c.room_id else {
            return Ok(());
        };
        if let Some(p) = self.pending.as_mut()
            && p.organization_id == c.owner
            && p.chat_pk == Some(c.pk)
            && p.action == action
            && p.resource_id == resource_id
            && p.resource.as_deref() == resource
            && p.room
                .as_ref()
                .is_none_or(|a| a.room == room && a.paths.len() + paths.len() <= MAX_ROOM_PATHS)
        {
            let audience = p
                .room
                .get_or_insert_with(|| RoomAudience::new(room, Vec::new()));
            audience.paths.extend(paths.iter().cloned());
            return Ok(());
        }
        self.flush()?;
        self.pending = Some(Gathering {
            organization_id: c.owner,
            chat_pk: Some(c.pk),
            channels: Vec::new(),
            readers: Vec::new(),
            room: Some(RoomAudience::new(room, paths.to_vec())),
            action,
            resource_id: resource_id.to_string(),
            resource: resource.map(str::to_string),
        });
        Ok(())
    }

    /// Writes the change being gathered (and queues its webhook deliveries). A change with a
    /// room audience is also written, room audience only, for each organization the room is
    /// shared with (their users read it in their own organization's rows).
    fn flush(&mut self) -> Result<()> {
        let Some(c) = self.pending.take() else {
            return Ok(());
        };
        let partners = match &c.room {
            Some(a) => {
                let room = a.room;
                self.room_shares(room)?
                    .into_iter()
                    .filter(|o| *o != c.organization_id)
                    .collect()
            }
            None => Vec::new(),
        };
        let prev_seq = match c.chat_pk {
            Some(pk) => match self.heads.get(&pk) {
                Some(&newest) => Some(newest),
                None => self.chat_state(pk)?.head,
            },
            None => None,
        };
        let ev = NewEvent {
            organization_id: c.organization_id,
            chat_pk: c.chat_pk,
            channels: c.channels,
            room: c.room,
            action: c.action,
            resource_id: c.resource_id,
            resource: c.resource,
            created_at: self.env.now,
            prev_seq,
        };
        let mut partner_rows: Vec<NewEvent> = partners
            .into_iter()
            .map(|org| NewEvent {
                organization_id: org,
                channels: Vec::new(),
                ..ev.clone()
            })
            .collect();
        self.write(ev)?;
        for mut row in partner_rows.drain(..) {
            row.prev_seq = row.chat_pk.and_then(|pk| self.heads.get(&pk).copied());
            self.write(row)?;
        }
        Ok(())
    }

    /// Appends one change row, numbered after the newest, and queues its webhook deliveries.
    fn write(&mut self, ev: NewEvent) -> Result<()> {
        // Numbers continue after the newest one: read once per transaction, then counted here.
        let seq = match self.last {
            Some(last) => last,
            None => self.s.last_event_seq()?,
        } + 1;
        if let Some(pk) = ev.chat_pk {
            self.heads.insert(pk, seq);
        }
        let numbering = ev.numbering();
        let width = numbering.width(ev.room.as_ref().map_or(0, |r| r.paths.len()));
        self.s.insert_change(&ev, seq, width)?;
        self.last = Some(seq + width - 1);
        let org = ev.organization_id;
        let hooks = match self.hooks.get(&org) {
            Some(h) => h,
            None => {
                let h = self.s.webhooks_of_org(org)?;
                self.hooks.entry(org).or_insert(h)
            }
        };
        if hooks.is_empty() {
            return Ok(());
        }
        let mut channels: Vec<(String, i64)> = (0..ev.channels.len())
            .map(|i| (ev.channels[i].clone(), seq + numbering.offset(i)))
            .collect();
        if let Some(a) = &ev.room {
            // Who the room reaches, resolved now for the webhooks that want it.
            let mut audiences: HashMap<RoomChannel, Vec<(Uuid, Uuid)>> = HashMap::new();
            for (i, tail) in a.paths.iter().enumerate() {
                let Some(relation) = RoomChannel::of_path(tail) else {
                    continue;
                };
                if let std::collections::hash_map::Entry::Vacant(e) = audiences.entry(relation) {
                    e.insert(self.s.room_audience(a.room, relation)?);
                }
                for (user, user_org) in &audiences[&relation] {
                    if *user_org == org {
                        let path = super::room_channel_path(*user, tail);
                        let number = seq + numbering.room_offset(reader_of(&path), i);
                        channels.push((path, number));
                    }
                }
            }
        }
        let resource: Option<Value> = ev
            .resource
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?;
        let chat_id = ev.chat_pk.and_then(|pk| self.chat_ids.get(&pk).copied());
        let hooks = &self.hooks[&org];
        for (channel, number) in channels {
            let mut event = Event {
                resource_id: super::item_id(&channel, &ev.resource_id, chat_id),
                channel,
                action: ev.action.to_string(),
                resource: resource.clone(),
                seq: number,
            };
            super::present_for_channel(&mut event);
            self.deliveries += webhooks::enqueue(self.s, self.env, hooks, &event)?;
        }
        Ok(())
    }

    /// The organizations a chat is listed to besides its room's ([`OrgReaders`]), as the
    /// transaction left its members.
    fn org_readers(&mut self, c: ChatPlace) -> Result<OrgReaders> {
        if let Some(r) = self.org_readers.get(&c.pk) {
            return Ok(r.clone());
        }
        let mut involved = Vec::new();
        for u in users_of(&self.members(c.pk)?) {
            if let Some(o) = self.user_org(u)?
                && !involved.contains(&o)
            {
                involved.push(o);
            }
        }
        let mut routed = Vec::new();
        if let Some(room) = c.room_id {
            let shares = self.room_shares(room)?;
            let private =
                !shares.is_empty() && self.s.org(c.owner)?.is_none_or(|o| o.private_chat_history);
            if !private {
                routed = shares.into_iter().filter(|o| *o != c.owner).collect();
            }
        }
        let r = OrgReaders { involved, routed };
        self.org_readers.insert(c.pk, r.clone());
        Ok(r)
    }

    /// Publishes a chat's sub-collection item (`tail`: `messages`, `memberships`, `tags`) in
    /// the organizations' view: on the room organization's `owned_chats/<c>/<tail>` and
    /// `routed_chats/<c>/<tail>` (and `rooms/<r>/chats/<c>/<tail>` when `in_room`), and on
    /// `involved_chats/<c>/<tail>` and `routed_chats/<c>/<tail>` of each organization the chat
    /// is listed to ([`OrgReaders`]). Each once per collection, whoever is in the chat.
    fn emit_to_orgs(
        &mut self,
        c: ChatPlace,
        tail: &str,
        in_room: bool,
        action: &'static str,
        resource_id: &str,
        resource: Option<&str>,
    ) -> Result<()> {
        let readers = self.org_readers(c)?;
        let owner = c.owner;
        let chat = c.id.to_string();
        let sub = |org: Uuid, collection: &str| {
            path_of(
                &[PREFIX, "orgs/"],
                org,
                &["/", collection, "/", &chat, "/", tail],
            )
        };
        let mut paths = vec![
            (owner, sub(owner, "owned_chats")),
            (owner, sub(owner, "routed_chats")),
        ];
        if in_room && let Some(room) = c.room_id {
            paths.push((
                owner,
                format!("{PREFIX}orgs/{owner}/rooms/{room}/chats/{chat}/{tail}"),
            ));
        }
        for &o in &readers.involved {
            paths.push((o, sub(o, "involved_chats")));
        }
        for &o in &readers.routed {
            paths.push((o, sub(o, "routed_chats")));
        }
        // Grouped by organization: one row each.
        paths.sort_by_key(|(o, _)| (*o != owner, *o));
        for (org, path) in paths {
            self.emit(c.pk, org, path, action, resource_id, resource)?;
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
    /// Whether the write generated organization keys the engine holds (set by the engine: on
    /// a shared database, the other engines load them).
    pub keys_added: bool,
    /// How many webhook deliveries were queued.
    pub webhook_deliveries: usize,
    /// Whether a token or user an authentication rests on was revoked, deleted or changed
    /// (remembered authentications must be forgotten once this commits).
    pub credentials_changed: bool,
}

/// The chats whose written record ([`Change::ChatWritten`]) is what a read at the end of the
/// operation returns: written whole, and nothing else the record derives changed in the
/// operation (the chat's memberships or another write of it, a member's presence, which move
/// its counts and pending state).
/// Each such entry becomes a plain [`Change::Chat`], its record moved to the returned map.
fn written_chats(changes: &mut [Change]) -> HashMap<i64, ChatRecord> {
    let mut written = HashMap::new();
    let mut stale = HashSet::new();
    let mut derived_moved = false;
    for c in changes.iter_mut() {
        match c {
            Change::ChatWritten(r) => {
                let record = std::mem::take(&mut **r);
                let pk = record.pk;
                written.insert(pk, record);
                *c = Change::Chat(pk);
                continue;
            }
            Change::Chat(pk) | Change::Membership { chat_pk: pk, .. } => {
                stale.insert(*pk);
            }
            Change::Member(_) | Change::Presence(_) => derived_moved = true,
            _ => {}
        }
    }
    if derived_moved {
        written.clear();
    }
    written.retain(|pk, _| !stale.contains(pk));
    written
}

/// Publishes the events of everything the running transaction changed.
pub fn publish(s: &dyn Store, env: &Env) -> Result<Published> {
    let mut changes = s.take_changes();
    if changes.is_empty() {
        return Ok(Published::default());
    }
    let written_chats = written_chats(&mut changes);
    let mut e = Emitter {
        s,
        env,
        last: None,
        pending: None,
        user_orgs: HashMap::new(),
        hooks: HashMap::new(),
        chats: HashMap::new(),
        written_chats,
        members: HashMap::new(),
        chat_states: HashMap::new(),
        heads: HashMap::new(),
        chat_snapshots: HashMap::new(),
        deliveries: 0,
        org_readers: HashMap::new(),
        chat_ids: HashMap::new(),
        shares: HashMap::new(),
    };
    let mut chats: Vec<i64> = Vec::new();
    let mut memberships: Vec<(i64, Uuid)> = Vec::new();
    let mut invitations: Vec<Uuid> = Vec::new();
    let mut suggestions: Vec<Uuid> = Vec::new();
    let mut changed_messages: Vec<(i64, Uuid)> = Vec::new();
    let mut directory: Vec<DirectoryItem> = Vec::new();
    let mut credentials_changed = false;
    fn push<T: PartialEq>(v: &mut Vec<T>, x: T) {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    for d in changes {
        match d {
            Change::Chat(pk) => push(&mut chats, pk),
            // Made plain entries by `written_chats`.
            Change::ChatWritten(c) => push(&mut chats, c.pk),
            Change::MessageAdded {
                chat_pk,
                id,
                record,
            } => message(&mut e, chat_pk, id, "added", record.map(|r| *r))?,
            Change::MessageChanged { chat_pk, id } => push(&mut changed_messages, (chat_pk, id)),
            Change::Membership { chat_pk, member } => push(&mut memberships, (chat_pk, member)),
            Change::MemberMessage { chat_pk, member } => {
                push(&mut memberships, (chat_pk, member));
                push(&mut chats, chat_pk);
            }
            Change::Invitation(i) => push(&mut invitations, i),
            Change::Suggestion(i) => push(&mut suggestions, i),
            Change::Credentials => credentials_changed = true,
            Change::RoomTag { room, name, added } => room_tag(&mut e, room, &name, added)?,
            Change::Starter {
                user,
                before,
                after,
            } => starter(&mut e, user, before.as_deref(), after.as_deref())?,
            Change::TagAdded { chat_pk, name } => tag(&mut e, chat_pk, &name, true)?,
            Change::TagRemoved { chat_pk, name } => tag(&mut e, chat_pk, &name, false)?,
            Change::Directory(item) => push(&mut directory, item),
            // A member's own attributes show in their memberships of open chats; their
            // presence also in those chats (pending, present counts).
            Change::Member(member) | Change::Presence(member) => {
                let presence = matches!(d, Change::Presence(_));
                if presence {
                    // A user's presence shows in the user and in their teams.
                    push(&mut directory, DirectoryItem::User(member));
                    for team in s.teams_of_user(member)? {
                        push(&mut directory, DirectoryItem::Team(team));
                    }
                }
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
    for item in directory {
        directory_item(&mut e, item)?;
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
        keys_added: false,
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

fn visitors_of(members: &[(Uuid, bool)]) -> Vec<Uuid> {
    members
        .iter()
        .filter(|(_, u)| !*u)
        .map(|(id, _)| *id)
        .collect()
}

/// `/api/v5/public/visitors/<v>/chats/<c>/<tail>`.
fn visitor_chat_path(visitor: Uuid, chat: Uuid, tail: &str) -> String {
    format!(
        "{PREFIX}public/visitors/{}/chats/{chat}/{tail}",
        visitor_id_str(&visitor)
    )
}

/// No generated keys, for [`sealed_env`].
static NO_NEW_KEYS: crate::crypto::held::NewKeys = crate::crypto::held::NewKeys::new();

/// Events never hold the plaintext of an encrypted chat: its resources are presented as
/// without the organization key (`message: null`, `encrypted_message`), as reads show them
/// once the key is purged.
fn sealed_env<'k>(env: &Env, empty: &'k KeyRing) -> Env<'k> {
    Env {
        now: env.now,
        ids: env.ids,
        keys: empty,
        master: None,
        new_keys: &NO_NEW_KEYS,
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
    let all_members = e.members(pk)?;
    let members = users_of(&all_members);
    let visitors = visitors_of(&all_members);
    // The room the chat waits in (its pending audience is who that room reaches).
    let pending_in = c.room_id.filter(|_| c.is_pending());
    let pending: Vec<Uuid> = pending_in.into_iter().collect();
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
    let was_members: HashSet<Uuid> = match &before {
        Some(b) => b.members.iter().copied().collect(),
        None => HashSet::new(),
    };
    let was_pending = before.as_ref().is_some_and(|b| !b.pending.is_empty());
    let whole = Some(resource.text());
    let org = c.room_organization_id;
    // The organizations' collections of the chat: the room organization's owned and routed
    // chats (its own rooms are routed to it) and the room's chats, then each organization
    // the chat is listed to ([`OrgReaders`]): involved (added when its first user joins)
    // and routed. The room organization's first, in the row of its members' events; the
    // others' after them (each organization's events are its own rows).
    let readers = e.org_readers((&c).into())?;
    let mut by_org: Vec<(Uuid, String, &'static str, Option<&str>)> = Vec::new();
    let mut listed = |o: Uuid, path: String, added: bool| {
        if added {
            by_org.push((o, path, "added", whole));
        } else if has_change {
            by_org.push((o, path, "changed", changed));
        }
    };
    let first = before.is_none();
    listed(
        org,
        path_of(&[PREFIX, "orgs/"], org, &["/owned_chats"]),
        first,
    );
    listed(
        org,
        path_of(&[PREFIX, "orgs/"], org, &["/routed_chats"]),
        first,
    );
    if let Some(room) = c.room_id {
        listed(org, format!("{PREFIX}orgs/{org}/rooms/{room}/chats"), first);
    }
    for &o in &readers.routed {
        listed(o, path_of(&[PREFIX, "orgs/"], o, &["/routed_chats"]), first);
    }
    let was_involved: Vec<Uuid> = was_members
        .iter()
        .filter_map(|u| e.user_orgs.get(u).copied().flatten())
        .collect();
    for &o in &readers.involved {
        let path = path_of(&[PREFIX, "orgs/"], o, &["/involved_chats"]);
        listed(o, path, !was_involved.contains(&o));
    }
    by_org.sort_by_key(|(o, _, action, _)| (*o != org, *o, *action));
    let partners_from = by_org.iter().position(|(o, ..)| *o != org);
    let partners = by_org.split_off(partners_from.unwrap_or(by_org.len()));
    for (o, path, action, r) in by_org {
        e.emit(pk, o, path, action, &id, r)?;
    }
    for &u in &members {
        if !was_members.contains(&u) {
            e.for_user(pk, u, "chats", "added", &id, whole)?;
        } else if has_change {
            e.for_user(pk, u, "chats", "changed", &id, changed)?;
        }
    }
    // The visitor's chats (`/public/visitors/<v>/chats`, listed to its visitor members):
    // added when the visitor becomes a member, then each change, its end included.
    for &v in &visitors {
        let ch = format!("{PREFIX}public/visitors/{}/chats", visitor_id_str(&v));
        if !was_members.contains(&v) {
            e.emit(pk, org, ch, "added", &id, whole)?;
        } else if has_change {
            e.emit(pk, org, ch, "changed", &id, changed)?;
        }
    }
    let place = ChatPlace::from(&c);
    // The room's chats of each visitor member (`rooms/<r>/visitors/<v>/chats`).
    if let Some(room) = c.room_id {
        for &v in &visitors {
            let path = format!(
                "{PREFIX}orgs/{org}/rooms/{room}/visitors/{}/chats",
                visitor_id_str(&v)
            );
            // Also of every user the room is visible to (`users/<u>/rooms/<r>/visitors/<v>/...`).
            let users = [format!(
                "rooms/{room}/visitors/{}/chats",
                visitor_id_str(&v)
            )];
            if !was_members.contains(&v) {
                e.emit(pk, org, path, "added", &id, whole)?;
                e.emit_to_room(place, &users, "added", &id, whole)?;
            } else if has_change {
                e.emit(pk, org, path, "changed", &id, changed)?;
                e.emit_to_room(place, &users, "changed", &id, changed)?;
            }
        }
    }
    // Routed chats: a chat is announced to the users its room is routed to when it starts
    // waiting (`waiting_started_at` is set once, by the visitor's first message), and each
    // change follows, to its end. A chat that never waited (an empty visitor chat) is not
    // announced.
    if c.room_id.is_some() && c.waiting_started_at.is_some() {
        let routed = ["routed_chats".to_string()];
        let started_waiting = match &before {
            None => true,
            Some(b) => resource.attr_changed_since(b, &hashes, "waiting_started_at"),
        };
        if started_waiting {
            e.emit_to_room(place, &routed, "added", &id, whole)?;
        } else if has_change {
            e.emit_to_room(place, &routed, "changed", &id, changed)?;
        }
    }
    let pending_event = match (was_pending, pending_in, c.room_id) {
        (false, Some(room), _) => Some((room, "added", whole)),
        (true, Some(room), _) if has_change => Some((room, "changed", changed)),
        (true, None, Some(room)) => Some((room, "removed", None)),
        _ => None,
    };
    if let Some((room, action, r)) = pending_event {
        let path = format!("{PREFIX}orgs/{org}/rooms/{room}/pending_chats");
        e.emit(pk, org, path, action, &id, r)?;
        e.emit_to_room(place, &["pending_chats".to_string()], action, &id, r)?;
    }
    // The other organizations' collections, in their own rows.
    for (o, path, action, r) in partners {
        e.emit(pk, o, path, action, &id, r)?;
    }
    // The snapshot's members: users, then visitors.
    let mut members = members;
    members.extend(visitors);
    let unchanged = before
        .as_ref()
        .is_some_and(|b| !has_change && b.pending == pending && b.members == members);
    if unchanged {
        // A presence change re-evaluates a member's open chats; most change nothing.
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
    let mut visitors = visitors_of(&members);
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
    // The organizations' view: each message once, whoever is in the chat.
    e.emit_to_orgs((&c).into(), "messages", false, action, &mid, r)?;
    let path = path_of(&["chats/"], c.id, &["/messages"]);
    for u in users {
        e.for_user(pk, u, &path, action, &mid, r)?;
    }
    for v in visitors {
        let ch = visitor_chat_path(v, c.id, "messages");
        e.emit(pk, c.room_organization_id, ch, action, &mid, r)?;
    }
    // The users its room is routed to (`routed_chats/<c>/messages`).
    let routed = [format!("routed_chats/{}/messages", c.id)];
    e.emit_to_room((&c).into(), &routed, action, &mid, r)
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
    let org = m.room_organization_id;
    // The organizations' view: each change once, whoever is in the chat.
    let place = ChatPlace {
        pk,
        id: m.chat_id,
        room_id: m.room_id,
        owner: org,
    };
    e.emit_to_orgs(
        place,
        "memberships",
        true,
        action,
        &rid,
        Some(payload.as_str()),
    )?;
    let path = path_of(&["chats/"], m.chat_id, &["/memberships"]);
    let members = e.members(pk)?;
    // A visitor's membership is also the item of the chat's users' `visitors/<v>/
    // chat_memberships` (keyed by chat, [`super::item_id`]).
    let of_visitor = match m.member {
        crate::memberships::MemberRef::Visitor(v) => {
            e.chat_ids.insert(pk, m.chat_id);
            Some(format!(
                "chats/{}/visitors/{}/chat_memberships",
                m.chat_id,
                visitor_id_str(&v)
            ))
        }
        crate::memberships::MemberRef::User(_) => None,
    };
    for u in users_of(&members) {
        e.for_user(pk, u, &path, action, &rid, Some(payload.as_str()))?;
        if let Some(p) = &of_visitor {
            e.for_user(pk, u, p, action, &rid, Some(payload.as_str()))?;
        }
    }
    // The chat's visitors read its memberships in their view (`present_for_channel` leaves
    // out `member_name`): a change of that attribute alone is nothing to them.
    let visitors = visitors_of(&members);
    if !visitors.is_empty() && shows_visitors(action, &payload)? {
        for v in visitors {
            let ch = visitor_chat_path(v, m.chat_id, "memberships");
            e.emit(pk, org, ch, action, &rid, Some(payload.as_str()))?;
        }
    }
    // A user's own memberships (`/users/<u>/chat_memberships`, items by chat): in the same
    // row; the event's `resource_id` there is the chat's id ([`super::item_id`]).
    if let crate::memberships::MemberRef::User(u) = m.member {
        e.chat_ids.insert(pk, m.chat_id);
        e.for_user(
            pk,
            u,
            "chat_memberships",
            action,
            &rid,
            Some(payload.as_str()),
        )?;
    }
    // The users its room is routed to, and while the chat waits those who may take it.
    if m.room_id.is_some() {
        let mut paths = vec![format!("routed_chats/{}/memberships", m.chat_id)];
        if e.chat(pk)?.is_some_and(|c| c.is_pending()) {
            paths.push(format!("pending_chats/{}/memberships", m.chat_id));
        }
        e.emit_to_room(place, &paths, action, &rid, Some(payload.as_str()))?;
    }
    put_snapshot(e, SnapshotOf::Membership(pk, member), hashes)
}

/// Whether a membership event shows visitors anything: an `added`, or a `changed` with an
/// attribute besides `member_name` (parsed only when that one is among them, which is rare).
fn shows_visitors(action: &str, payload: &str) -> Result<bool> {
    if action != "changed" || !payload.contains("\"member_name\"") {
        return Ok(true);
    }
    let v: Value = serde_json::from_str(payload)?;
    Ok(v.as_object()
        .is_some_and(|o| o.keys().any(|k| k != "member_name")))
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
    e.emit_to_orgs(
        (&c).into(),
        "tags",
        false,
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

/// A room's allowed tag added or removed: on the room's tags (`orgs/<o>/rooms/<r>/tags`) and
/// on the allowed tags of each of its open chats, for their users and organizations. An
/// ended chat changes no more, so its allowed tags are not republished.
fn room_tag(e: &mut Emitter, room: Uuid, name: &str, added: bool) -> Result<()> {
    let Some(r) = e.s.room(room)? else {
        return Ok(());
    };
    let (action, resource) = if added {
        let created =
            e.s.room_allowed_tags(room)?
                .into_iter()
                .find(|(n, _)| n == name)
                .map_or(e.env.now, |(_, at)| at);
        let tag = Tag::new(name, created, Some(room));
        ("added", Some(serde_json::to_string(&tag)?))
    } else {
        ("removed", None)
    };
    let resource = resource.as_deref();
    let org = r.organization_id;
    let tags = format!("{PREFIX}orgs/{org}/rooms/{room}/tags");
    e.emit_at(None, org, tags, action, name, resource)?;
    for pk in e.s.open_chats_in_room(room)? {
        let Some(c) = e.chat(pk)? else {
            continue;
        };
        e.emit_to_orgs((&c).into(), "allowed_tags", false, action, name, resource)?;
        let path = format!("chats/{}/allowed_tags", c.id);
        for u in users_of(&e.members(pk)?) {
            e.for_user(pk, u, &path, action, name, resource)?;
        }
    }
    Ok(())
}

/// A directory resource on its collection: the organization's `users`, `teams`, `rooms`,
/// `routers`, or a user's `clients` (unexpired presence clients; one that is gone or expired
/// is `removed`). Compared with its last published state, kept in `event_snapshots` under
/// chat 0 (no chat).
fn directory_item(e: &mut Emitter, item: DirectoryItem) -> Result<()> {
    use crate::directory::{ListedPresenceClient, Router, User, room_resource, team_resource};
    let now = e.env.now;
    let (org, channel, kind, id, resource) = match item {
        DirectoryItem::User(id) => {
            let Some(u) = e.s.user(id)? else {
                return Ok(());
            };
            let r = Serialized::of(&User::from_record(&u, now))?;
            (u.organization_id, "users", "user", id, Some(r))
        }
        DirectoryItem::Team(id) => {
            let Some(t) = e.s.team(id)? else {
                return Ok(());
            };
            let r = Serialized::of(&team_resource(e.s, &t, now)?)?;
            (t.organization_id, "teams", "team", id, Some(r))
        }
        DirectoryItem::Room(id) => {
            let Some(room) = e.s.room(id)? else {
                return Ok(());
            };
            let r = Serialized::of(&room_resource(e.s, &room)?)?;
            (room.organization_id, "rooms", "room", id, Some(r))
        }
        DirectoryItem::Router(id) => {
            let Some(router) = e.s.router(id)? else {
                return Ok(());
            };
            let r = Serialized::of(&Router::from_record(&router))?;
            (router.organization_id, "routers", "router", id, Some(r))
        }
        DirectoryItem::Client { id, user } => {
            let Some(org) = e.user_org(user)? else {
                return Ok(());
            };
            let r = match e.s.presence_client(id, now)? {
                Some(c) => Some(Serialized::of(&ListedPresenceClient::from_record(&c))?),
                None => None,
            };
            let channel = format!("{PREFIX}users/{user}/clients");
            return directory_event(e, org, channel, "client", id, r);
        }
    };
    let channel = path_of(&[PREFIX, "orgs/"], org, &["/", channel]);
    directory_event(e, org, channel, kind, id, resource)
}

/// The event of a directory resource on `channel`: added, changed (what differs), or removed
/// (`resource` None) when it was published before.
fn directory_event(
    e: &mut Emitter,
    org: Uuid,
    channel: String,
    kind: &str,
    id: Uuid,
    resource: Option<Serialized>,
) -> Result<()> {
    let key = id.to_string();
    let of = SnapshotOf::Other {
        chat_pk: 0,
        kind,
        key: &key,
    };
    let Some(resource) = resource else {
        if e.s.snapshot(of)?.is_some() {
            e.emit_at(None, org, channel, "removed", &key, None)?;
            e.s.delete_snapshot(of)?;
        }
        return Ok(());
    };
    let (Some((action, payload)), hashes) = added_or_changed(e, of, &resource)? else {
        return Ok(());
    };
    e.emit_at(None, org, channel, action, &key, Some(payload.as_str()))?;
    put_snapshot(e, of, hashes)
}

/// A user's conversation starter (`users/<u>/chat_conversation_starters`, items by language
/// code): added, changed (the attributes that differ), or removed; moved to another language,
/// removed from the old code and added under the new one.
fn starter(
    e: &mut Emitter,
    user: Uuid,
    before: Option<&crate::starters::StarterRecord>,
    after: Option<&crate::starters::StarterRecord>,
) -> Result<()> {
    use crate::starters::ConversationStarter;
    let Some(org) = e.user_org(user)? else {
        return Ok(());
    };
    let channel = format!("{PREFIX}users/{user}/chat_conversation_starters");
    let whole = |r: &crate::starters::StarterRecord| -> Result<String> {
        Ok(serde_json::to_string(&ConversationStarter::from_record(r))?)
    };
    match (before, after) {
        (None, Some(a)) => {
            let r = whole(a)?;
            e.emit_at(None, org, channel, "added", &a.language_code, Some(&r))?;
        }
        (Some(b), None) => {
            e.emit_at(None, org, channel, "removed", &b.language_code, None)?;
        }
        (Some(b), Some(a)) if b.language_code != a.language_code => {
            e.emit_at(
                None,
                org,
                channel.clone(),
                "removed",
                &b.language_code,
                None,
            )?;
            let r = whole(a)?;
            e.emit_at(None, org, channel, "added", &a.language_code, Some(&r))?;
        }
        (Some(b), Some(a)) => {
            let (Value::Object(old), Value::Object(new)) = (
                serde_json::to_value(ConversationStarter::from_record(b))?,
                serde_json::to_value(ConversationStarter::from_record(a))?,
            ) else {
                return Ok(());
            };
            let changed: serde_json::Map<String, Value> = new
                .into_iter()
                .filter(|(k, v)| old.get(k) != Some(v))
                .collect();
            if !changed.is_empty() {
                let r = serde_json::to_string(&changed)?;
                e.emit_at(None, org, channel, "changed", &a.language_code, Some(&r))?;
            }
        }
        (None, None) => {}
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
    // The chat's and its message's suggestions, for its users and the users its room is
    // routed to.
    let of_chat = format!("chats/{}/reply_suggestions", r.chat_id);
    let of_message = format!(
        "chats/{}/messages/{}/reply_suggestions",
        r.chat_id, r.message_id
    );
    let payload = Some(payload.as_str());
    for u in users_of(&e.members(r.chat_pk)?) {
        e.for_user(r.chat_pk, u, &of_chat, action, &key, payload)?;
        e.for_user(r.chat_pk, u, &of_message, action, &key, payload)?;
    }
    if let Some(c) = e.chat(r.chat_pk)? {
        let routed = [format!("routed_{of_chat}"), format!("routed_{of_message}")];
        e.emit_to_room((&c).into(), &routed, action, &key, payload)?;
    }
    put_snapshot(e, of, hashes)
}
