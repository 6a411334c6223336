//! Chat operations: scopes and their authorization, listings, create, end, not-waiting.

use super::*;
use crate::Env;
use crate::auth::{
    self, Actor, UserCtx, access_org, access_user, require_history, require_reports,
};
use crate::directory::user_room;
use crate::error::ErrorCode;
use crate::ids::random_bytes;
use crate::memberships::{self, Composing};
use crate::pagination::{Keyset, Page, PageRequest, SortKey, paginate};
use crate::store::Store;

/// The collection path a chat operation names (the REST scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatScope {
    /// `/orgs/<o>/rooms/<r>/chats`
    Room {
        organization_id: Uuid,
        room_id: Uuid,
    },
    /// `/orgs/<o>/rooms/<r>/pending_chats`
    RoomPending {
        organization_id: Uuid,
        room_id: Uuid,
    },
    /// `/orgs/<o>/rooms/<r>/visitors/<v>/chats`
    RoomVisitor {
        organization_id: Uuid,
        room_id: Uuid,
        visitor_id: Uuid,
    },
    /// `/orgs/<o>/owned_chats`
    Owned { organization_id: Uuid },
    /// `/orgs/<o>/involved_chats`
    Involved { organization_id: Uuid },
    /// `/orgs/<o>/routed_chats`
    OrgRouted { organization_id: Uuid },
    /// `/users/<u>/pending_chats`
    UserPending { user_id: Uuid },
    /// `/users/<u>/routed_chats`
    UserRouted { user_id: Uuid },
    /// `/users/<u>/chats` (chats the user is a member of)
    UserChats { user_id: Uuid },
    /// `/users/<u>/rooms/<r>/visitors/<v>/chats`
    UserRoomVisitor {
        user_id: Uuid,
        room_id: Uuid,
        visitor_id: Uuid,
    },
}

/// An authorized scope: what it selects and who acts (the user the path names for `/users`).
pub struct Resolved {
    pub selection: ChatSelection,
    pub actor: UserCtx,
    pub subject: UserCtx,
}

/// Checks the actor's right to the scope and turns it into a selection.
pub fn resolve(s: &dyn Store, actor: &Actor, scope: ChatScope) -> Result<Resolved> {
    let org_scope = |org: Uuid| -> Result<UserCtx> { access_org(s, actor, org) };
    let room_in = |org: Uuid, room: Uuid| -> Result<()> {
        match s.room(room)? {
            Some(r) if r.organization_id == org => Ok(()),
            _ => Err(ChatError::not_found("Room")),
        }
    };
    let (selection, me, subject) = match scope {
        ChatScope::Room {
            organization_id,
            room_id,
        }
        | ChatScope::RoomPending {
            organization_id,
            room_id,
        } => {
            let me = org_scope(organization_id)?;
            require_reports(&me)?;
            room_in(organization_id, room_id)?;
            let sel = if matches!(scope, ChatScope::Room { .. }) {
                ChatSelection::Room(room_id)
            } else {
                ChatSelection::RoomPending(room_id)
            };
            (sel, me.clone(), me)
        }
        ChatScope::RoomVisitor {
            organization_id,
            room_id,
            visitor_id,
        } => {
            let me = org_scope(organization_id)?;
            require_history(&me)?;
            room_in(organization_id, room_id)?;
            (
                ChatSelection::RoomVisitor {
                    room: room_id,
                    visitor: visitor_id,
                },
                me.clone(),
                me,
            )
        }
        ChatScope::Owned { organization_id } => {
            let me = org_scope(organization_id)?;
            require_history(&me)?;
            (ChatSelection::OrgOwned(organization_id), me.clone(), me)
        }
        ChatScope::Involved { organization_id } => {
            let me = org_scope(organization_id)?;
            require_history(&me)?;
            (ChatSelection::OrgInvolved(organization_id), me.clone(), me)
        }
        ChatScope::OrgRouted { organization_id } => {
            let me = org_scope(organization_id)?;
            require_history(&me)?;
            (
                ChatSelection::OrgRouted {
                    org: organization_id,
                    all_shared: me.reports(),
                },
                me.clone(),
                me,
            )
        }
        ChatScope::UserPending { user_id } => {
            let (me, t) = access_user(s, actor, user_id)?;
            (ChatSelection::UserPending { user: t.user.id }, me, t)
        }
        ChatScope::UserRouted { user_id } => {
            let (me, t) = access_user(s, actor, user_id)?;
            (ChatSelection::UserRouted { user: t.user.id }, me, t)
        }
        ChatScope::UserChats { user_id } => {
            let (me, t) = access_user(s, actor, user_id)?;
            (ChatSelection::UserMember(t.user.id), me, t)
        }
        ChatScope::UserRoomVisitor {
            user_id,
            room_id,
            visitor_id,
        } => {
            let (me, t) = access_user(s, actor, user_id)?;
            let room = user_room(s, &t.user, room_id)?;
            s.visitor(visitor_id)?
                .filter(|v| v.organization_id == room.organization_id)
                .ok_or_else(|| ChatError::not_found("Visitor"))?;
            (
                ChatSelection::RoomVisitor {
                    room: room_id,
                    visitor: visitor_id,
                },
                me,
                t,
            )
        }
    };
    Ok(Resolved {
        selection,
        actor: me,
        subject,
    })
}

impl ChatListParams {
    /// Validates the parameters for a scope (only `/users/<u>/chats` orders by `updated_at`
    /// and filters on `is_participating`).
    pub fn to_filter(&self, scope: &ChatScope) -> Result<ChatFilter> {
        let member_scope = matches!(scope, ChatScope::UserChats { .. });
        let ordering = match &self.ordering {
            Some(o) => ChatOrdering::parse(o, member_scope)?,
            None => ChatOrdering::default(),
        };
        let participating = match (scope, self.is_participating) {
            (ChatScope::UserChats { user_id }, Some(p)) => Some((*user_id, p)),
            _ => None,
        };
        Ok(ChatFilter {
            ordering,
            is_waiting: self.is_waiting,
            is_ended: self.is_ended,
            has_messages: self.has_messages,
            has_user_messages: self.has_user_messages,
            has_visitor_messages: self.has_visitor_messages,
            created_after: self
                .created_at_after
                .as_deref()
                .map(|s| parse_iso("created_at_after", s))
                .transpose()?,
            created_before: self
                .created_at_before
                .as_deref()
                .map(|s| parse_iso("created_at_before", s))
                .transpose()?,
            participating,
            only_id: None,
        })
    }
}

fn chat_key(c: &ChatRecord, by_updated: bool) -> SortKey {
    SortKey::new(
        if by_updated {
            c.updated_at
        } else {
            c.created_at
        },
        c.id.as_bytes().to_vec(),
    )
}

pub fn list_chats(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    params: &ChatListParams,
    page: &PageRequest,
) -> Result<Page<Chat>> {
    let filter = params.to_filter(&scope)?;
    let r = resolve(s, actor, scope)?;
    page_of_chats(s, env, &r.selection, &filter, page)
}

/// A page of the selected chats that pass `filter`, in its ordering, presented.
fn page_of_chats(
    s: &dyn Store,
    env: &Env,
    selection: &ChatSelection,
    filter: &ChatFilter,
    page: &PageRequest,
) -> Result<Page<Chat>> {
    let ord = filter.ordering;
    let p = paginate(
        page,
        ord as u8,
        ord.descending(),
        |k: &Keyset| s.select_chats(selection, filter, k, env.now),
        |c| chat_key(c, ord.by_updated()),
    )?;
    Ok(p.map(|c| crate::chat_hooks::present_chat(env, &c)))
}

/// GET `/public/visitors/<v>/chats`: the chats the visitor is a member of, newest first,
/// each as [`visitor_chat`] presents it.
pub fn list_visitor_chats(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Chat>> {
    auth::act_as_visitor(actor, visitor_id)?;
    let selection = ChatSelection::UserMember(visitor_id);
    page_of_chats(s, env, &selection, &ChatFilter::default(), page)
}

/// The chat if it is in the selection; 404 otherwise.
pub fn chat_in(s: &dyn Store, env: &Env, sel: &ChatSelection, chat_id: Uuid) -> Result<ChatRecord> {
    let not_found = || ChatError::not_found("Chat");
    let filter = ChatFilter {
        only_id: Some(chat_id),
        ..ChatFilter::default()
    };
    let k = Keyset {
        after: None,
        descending: true,
        limit: 1,
    };
    s.select_chats(sel, &filter, &k, env.now)?
        .into_iter()
        .next()
        .ok_or_else(not_found)
}

/// Resolves a scope and finds the chat in it.
pub fn scoped_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
) -> Result<(Resolved, ChatRecord)> {
    let r = resolve(s, actor, scope)?;
    let chat = chat_in(s, env, &r.selection, chat_id)?;
    Ok((r, chat))
}

pub fn get_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
) -> Result<Chat> {
    let (_, chat) = scoped_chat(s, env, actor, scope, chat_id)?;
    Ok(crate::chat_hooks::present_chat(env, &chat))
}

/// The editable attributes of a chat: it may be ended, or set not waiting.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChatUpdate {
    pub is_ended: Option<bool>,
    pub is_waiting: Option<bool>,
}

/// PUT/PATCH of `/orgs/<o>/owned_chats/<c>` or `/users/<u>/chats/<c>`.
pub fn update_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    update: ChatUpdate,
) -> Result<Chat> {
    if !matches!(scope, ChatScope::Owned { .. } | ChatScope::UserChats { .. }) {
        return Err(ChatError::permission_denied(
            "Chats are updated through owned_chats or a user's chats.",
        ));
    }
    let (_, mut chat) = scoped_chat(s, env, actor, scope, chat_id)?;
    if update.is_ended.is_none() && update.is_waiting.is_none() {
        let mut errors = crate::error::FieldErrors::new();
        errors.insert(
            "is_ended".into(),
            vec!["Either is_ended or is_waiting is required.".into()],
        );
        errors.insert(
            "is_waiting".into(),
            vec!["Either is_ended or is_waiting is required.".into()],
        );
        return Err(ChatError::validation(errors));
    }
    if update.is_waiting == Some(true) {
        return Err(ChatError::field(
            "is_waiting",
            "A chat can only be set not waiting (false).",
        ));
    }
    if update.is_ended == Some(false) && chat.is_ended {
        return Err(ChatError::field(
            "is_ended",
            "An ended chat cannot be reopened.",
        ));
    }
    if chat.is_ended {
        if update.is_waiting == Some(false) {
            return Err(ChatError::new(
                ErrorCode::ChatAlreadyEnded,
                "The chat has already been ended.",
            ));
        }
        // Ending an ended chat again changes nothing.
        return Ok(crate::chat_hooks::present_chat(env, &chat));
    }
    let mut changed = false;
    if update.is_waiting == Some(false) && chat.is_waiting {
        chat.is_waiting = false;
        changed = true;
    }
    if update.is_ended == Some(true) {
        end_chat(s, env, &mut chat)?;
        changed = true;
    }
    if changed {
        chat.updated_at = env.now;
        s.update_chat(&chat)?;
    }
    let fresh = s
        .chat_by_pk(chat.pk, env.now)?
        .ok_or_else(|| ChatError::internal("chat vanished"))?;
    Ok(crate::chat_hooks::present_chat(env, &fresh))
}

/// Ends a chat (explicitly, by idle timeout or by ttl): locks it, stops waiting, expires its
/// pending invitations. The caller persists the chat.
pub fn end_chat(s: &dyn Store, env: &Env, chat: &mut ChatRecord) -> Result<()> {
    chat.is_ended = true;
    chat.ended_at = Some(env.now);
    chat.is_waiting = false;
    chat.updated_at = env.now;
    crate::chat_hooks::on_chat_ended(s, env, chat)
}

/// Optional payload of chat creation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChat {
    /// Operator chats may belong to a room the user can reach; none by default.
    pub room_id: Option<Uuid>,
    /// `operator` (default), `group`, `task` or `external` for chats without a visitor.
    pub chat_type: Option<String>,
    pub is_participating: Option<bool>,
}

fn new_chat_record(
    s: &dyn Store,
    env: &Env,
    org_id: Uuid,
    room_id: Option<Uuid>,
    chat_type: &str,
    visitor: Option<Uuid>,
) -> Result<ChatRecord> {
    let org = s
        .org(org_id)?
        .ok_or_else(|| ChatError::internal("room organization missing"))?;
    let mut c = ChatRecord {
        id: env.ids.new_id(),
        room_id,
        room_organization_id: org_id,
        chat_type: chat_type.to_string(),
        visitor_id: visitor,
        is_private: org.private_chats,
        created_at: env.now,
        updated_at: env.now,
        last_activity_at: env.now,
        next_message_seq: 1,
        token: hex::encode(random_bytes::<24>()),
        ..ChatRecord::default()
    };
    crate::chat_hooks::on_chat_created(s, env, &org, &mut c)?;
    c.pk = s.insert_chat(&c)?;
    Ok(c)
}

/// POST `/users/<u>/rooms/<r>/visitors/<v>/chats`: resumes the visitor's open chat in the room
/// (joining the user to it) or starts a new one. Returns (chat, created).
pub fn create_visitor_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    room_id: Uuid,
    visitor_id: Uuid,
    input: NewChat,
) -> Result<(Chat, bool)> {
    let (_, target) = access_user(s, actor, user_id)?;
    if input.chat_type.is_some() || input.room_id.is_some() {
        return Err(ChatError::field(
            "chat_type",
            "Visitor chats take no chat_type or room_id.",
        ));
    }
    let room = user_room(s, &target.user, room_id)
        .map_err(|_| ChatError::permission_denied("The user does not have access to the room."))?;
    let visitor = s
        .visitor(visitor_id)?
        .filter(|v| v.organization_id == room.organization_id)
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    let participating = input.is_participating.unwrap_or(true);
    if let Some(mut chat) = s.open_visitor_chat(visitor.id, room.id, env.now)? {
        if !s.is_member(chat.pk, user_id)? {
            memberships::ensure_private_chat_free(s, env, &chat, &target.user)?;
            memberships::add_member(
                s,
                env,
                &mut chat,
                memberships::MemberRef::User(user_id),
                participating,
                Composing::Idle,
            )?;
            s.update_chat(&chat)?;
        }
        let fresh = s
            .chat_by_pk(chat.pk, env.now)?
            .ok_or_else(|| ChatError::internal("chat vanished"))?;
        return Ok((crate::chat_hooks::present_chat(env, &fresh), false));
    }
    s.add_visitor_to_room(visitor.id, room.id, env.now)?;
    let mut chat = new_chat_record(
        s,
        env,
        room.organization_id,
        Some(room.id),
        "visitor",
        Some(visitor.id),
    )?;
    memberships::add_member(
        s,
        env,
        &mut chat,
        memberships::MemberRef::Visitor(visitor.id),
        true,
        Composing::Idle,
    )?;
    memberships::add_member(
        s,
        env,
        &mut chat,
        memberships::MemberRef::User(user_id),
        participating,
        Composing::Idle,
    )?;
    s.update_chat(&chat)?;
    let fresh = s
        .chat_by_pk(chat.pk, env.now)?
        .ok_or_else(|| ChatError::internal("chat vanished"))?;
    Ok((crate::chat_hooks::present_chat(env, &fresh), true))
}

/// POST `/users/<u>/chats`: a new chat without a visitor, with the user as its first member.
pub fn create_user_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    input: NewChat,
) -> Result<Chat> {
    let (_, target) = access_user(s, actor, user_id)?;
    let chat_type = input.chat_type.as_deref().unwrap_or("operator");
    if !matches!(chat_type, "operator" | "group" | "task" | "external") {
        return Err(ChatError::field(
            "chat_type",
            "Select a valid choice: operator, group, task or external.",
        ));
    }
    let (org, room) = match input.room_id {
        Some(r) => {
            let room = user_room(s, &target.user, r)
                .map_err(|_| ChatError::field("room_id", "Room not found."))?;
            (room.organization_id, Some(room.id))
        }
        None => (target.org.id, None),
    };
    let mut chat = new_chat_record(s, env, org, room, chat_type, None)?;
    memberships::add_member(
        s,
        env,
        &mut chat,
        memberships::MemberRef::User(user_id),
        input.is_participating.unwrap_or(true),
        Composing::Idle,
    )?;
    s.update_chat(&chat)?;
    let fresh = s
        .chat_by_pk(chat.pk, env.now)?
        .ok_or_else(|| ChatError::internal("chat vanished"))?;
    Ok(crate::chat_hooks::present_chat(env, &fresh))
}

/// Public API: a visitor starts (or resumes) their chat in a room. Returns (chat, created).
pub fn visitor_start_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    visitor_id: Uuid,
) -> Result<(Chat, bool)> {
    auth::act_as_visitor(actor, visitor_id)?;
    let room = s
        .room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))?;
    let visitor = s
        .visitor(visitor_id)?
        .filter(|v| v.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    let org = s
        .org(org_id)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    if !org.has_active_subscription {
        return Err(ChatError::new(
            ErrorCode::NoActiveSubscription,
            "The organization does not have an active subscription.",
        ));
    }
    if let Some(chat) = s.open_visitor_chat(visitor.id, room.id, env.now)? {
        return Ok((crate::chat_hooks::present_chat(env, &chat), false));
    }
    s.add_visitor_to_room(visitor.id, room.id, env.now)?;
    let mut chat = new_chat_record(s, env, org_id, Some(room_id), "visitor", Some(visitor.id))?;
    memberships::add_member(
        s,
        env,
        &mut chat,
        memberships::MemberRef::Visitor(visitor.id),
        true,
        Composing::Idle,
    )?;
    s.update_chat(&chat)?;
    let fresh = s
        .chat_by_pk(chat.pk, env.now)?
        .ok_or_else(|| ChatError::internal("chat vanished"))?;
    Ok((crate::chat_hooks::present_chat(env, &fresh), true))
}

/// The visitor's own chat (public API): 404 unless the visitor is a member.
pub fn visitor_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    chat_id: Uuid,
) -> Result<ChatRecord> {
    auth::act_as_visitor(actor, visitor_id)?;
    let chat = s
        .chat_by_id(chat_id, env.now)?
        .ok_or_else(|| ChatError::not_found("Chat"))?;
    if !s.is_member(chat.pk, visitor_id)? {
        return Err(ChatError::not_found("Chat"));
    }
    Ok(chat)
}
