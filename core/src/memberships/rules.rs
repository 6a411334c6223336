//! Membership operations: listings per scope, joining (pending, routed, organization),
//! participation and composing updates, and the join/leave events they write.

use super::*;
use crate::Env;
use crate::auth::{Actor, access_user};
use crate::chats::{ChatRecord, ChatScope, ChatSelection, chat_in, resolve};
use crate::directory::UserRecord;
use crate::error::{ChatError, ErrorCode, Result, Validator};
use crate::messages;
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;
use crate::time::parse_iso;

const ORDER_CHAT_MEMBERS: u8 = 1;
const ORDER_MEMBER_CHATS: u8 = 2;

fn member_key(m: &MembershipRecord, by_chat: bool) -> SortKey {
    if by_chat {
        SortKey::new(m.created_at, m.chat_pk.to_be_bytes().to_vec())
    } else {
        SortKey::new(m.created_at, m.member.id().as_bytes().to_vec())
    }
}

fn page_of(
    s: &dyn Store,
    env: &Env,
    sel: MembershipSelection,
    page: &PageRequest,
) -> Result<Page<Membership>> {
    let by_chat = !matches!(sel, MembershipSelection::Chat(_));
    let (ordering, descending) = if by_chat {
        (ORDER_MEMBER_CHATS, true)
    } else {
        (ORDER_CHAT_MEMBERS, false)
    };
    let p = paginate(
        page,
        ordering,
        descending,
        |k| s.select_memberships(&sel, k, env.now),
        |m| member_key(m, by_chat),
    )?;
    Ok(p.map(|m| Membership::from_record(&m, env.now)))
}

/// Finds a chat for a membership operation; a pending scope says "not pending" apart from
/// "not found" when the chat exists for the user but is no longer pending.
fn chat_for(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
) -> Result<ChatRecord> {
    let r = resolve(s, actor, scope)?;
    match chat_in(s, env, &r.selection, chat_id) {
        Ok(c) => Ok(c),
        Err(e) if e.code == ErrorCode::NotFound => {
            if let ChatSelection::UserPending { user } = r.selection
                && let Some(c) = s.chat_by_id(chat_id, env.now)?
                && let Some(room) = c.room_id
                && s.room_accessible_to_user(room, user)?
            {
                let why = if c.is_ended {
                    "The chat has ended."
                } else {
                    "The chat is not pending anymore."
                };
                return Err(ChatError::new(ErrorCode::ChatNotPending, why));
            }
            if let ChatSelection::UserRouted { .. } = r.selection {
                return Err(ChatError::new(
                    ErrorCode::NotFound,
                    "The chat does not exist or it is not routed to the user.",
                ));
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Memberships of a chat reached through a scope.
pub fn list_memberships(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Membership>> {
    let chat = chat_for(s, env, actor, scope, chat_id)?;
    page_of(s, env, MembershipSelection::Chat(chat.pk), page)
}

/// GET `/users/<u>/chat_memberships`.
pub fn list_user_memberships(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    is_participating: Option<bool>,
    page: &PageRequest,
) -> Result<Page<Membership>> {
    let (_, t) = access_user(s, actor, user_id)?;
    page_of(
        s,
        env,
        MembershipSelection::Member {
            member: t.user.id,
            participating: is_participating,
        },
        page,
    )
}

/// GET `/users/<u>/chats/<c>/visitors/<v>/chat_memberships`: the visitor's membership in one
/// of the user's chats.
pub fn list_visitor_chat_memberships(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    visitor_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Membership>> {
    let chat = chat_for(s, env, actor, ChatScope::UserChats { user_id }, chat_id)?;
    s.visitor(visitor_id)?
        .filter(|v| v.organization_id == chat.room_organization_id)
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    page_of(
        s,
        env,
        MembershipSelection::ChatMember {
            chat_pk: chat.pk,
            member: visitor_id,
        },
        page,
    )
}

/// The payload of joining and of membership updates.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MembershipInput {
    pub member_id: Option<Uuid>,
    pub is_participating: Option<bool>,
    pub composing_status: Option<String>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub last_seen_at: Option<Option<String>>,
}

struct Checked {
    participating: Option<bool>,
    composing: Option<Composing>,
    last_seen_at: Option<Option<Millis>>,
}

/// Validates a membership payload; `full` requires both `is_participating` and
/// `composing_status` (POST and PUT); PATCH takes any subset.
fn check(input: &MembershipInput, full: bool) -> Result<Checked> {
    let mut v = Validator::new();
    if full && input.is_participating.is_none() {
        v.add("is_participating", "This field is required.");
    }
    let composing = match &input.composing_status {
        None => {
            if full {
                v.add("composing_status", "This field is required.");
            }
            None
        }
        Some(c) => match Composing::parse(c) {
            Some(c) => Some(c),
            None => {
                v.add(
                    "composing_status",
                    format!("\"{c}\" is not a valid choice (idle, typing, typed)."),
                );
                None
            }
        },
    };
    let last_seen_at = match &input.last_seen_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(t)) => match parse_iso("last_seen_at", t) {
            Ok(ms) => Some(Some(ms)),
            Err(_) => {
                v.add("last_seen_at", "Enter a valid ISO 8601 date/time.");
                None
            }
        },
    };
    v.finish()?;
    Ok(Checked {
        participating: input.is_participating,
        composing,
        last_seen_at,
    })
}

/// Adds a member to a chat, writing a join event for users. The caller persists the chat.
pub fn add_member(
    s: &dyn Store,
    env: &Env,
    chat: &mut ChatRecord,
    member: MemberRef,
    participating: bool,
    composing: Composing,
) -> Result<MembershipRecord> {
    if chat.is_ended {
        return Err(ChatError::new(
            ErrorCode::ChatAlreadyEnded,
            "The chat has ended.",
        ));
    }
    let rec = MembershipRecord {
        chat_pk: chat.pk,
        member,
        created_at: env.now,
        updated_at: env.now,
        last_seen_at: None,
        is_participating: participating,
        composing_status: composing,
        composing_updated_at: env.now,
        message_count: 0,
        chat_id: chat.id,
        room_id: chat.room_id,
        room_organization_id: chat.room_organization_id,
        chat_created_at: chat.created_at,
        info: MemberInfo::default(),
    };
    s.insert_membership(&rec)?;
    if let MemberRef::User(u) = member {
        messages::append_event(s, env, chat, "join", u)?;
    }
    chat.updated_at = env.now;
    Ok(rec)
}

/// Applies participation / composing / last-seen changes, writing join and leave events for
/// users whose participation changes. The caller persists the chat.
fn apply(
    s: &dyn Store,
    env: &Env,
    chat: &mut ChatRecord,
    m: &mut MembershipRecord,
    c: &Checked,
) -> Result<()> {
    if let Some(p) = c.participating
        && p != m.is_participating
    {
        m.is_participating = p;
        if let MemberRef::User(u) = m.member {
            messages::append_event(s, env, chat, if p { "join" } else { "leave" }, u)?;
            chat.updated_at = env.now;
        }
    }
    if let Some(cs) = c.composing {
        m.composing_status = cs;
        m.composing_updated_at = env.now;
    }
    if let Some(ls) = c.last_seen_at {
        m.last_seen_at = ls;
    }
    m.updated_at = env.now;
    s.update_membership(m)
}

fn reload(s: &dyn Store, env: &Env, chat_pk: i64, member: Uuid) -> Result<Membership> {
    let m = s
        .membership(chat_pk, member, env.now)?
        .ok_or_else(|| ChatError::internal("membership vanished"))?;
    Ok(Membership::from_record(&m, env.now))
}

/// Join or re-join `user` to `chat`. Returns whether a membership was created.
fn join(s: &dyn Store, env: &Env, chat: &mut ChatRecord, user: Uuid, c: &Checked) -> Result<bool> {
    let created = match s.membership(chat.pk, user, env.now)? {
        Some(mut m) => {
            if chat.is_ended {
                return Ok(false);
            }
            apply(s, env, chat, &mut m, c)?;
            false
        }
        None => {
            add_member(
                s,
                env,
                chat,
                MemberRef::User(user),
                c.participating.unwrap_or(true),
                c.composing.unwrap_or(Composing::Idle),
            )?;
            true
        }
    };
    s.update_chat(chat)?;
    Ok(created)
}

/// A member's message: their `message_count` grows by one and their composing status goes
/// back to idle (sending ends typing), updated now. Applied by the store in one statement
/// without reading the membership: every send does it. Nothing for a sender who is not a
/// member. `chat`'s counts follow ([`ChatRecord::member_message_counted`]), so the record the
/// operation writes stays what a read would give.
pub(crate) fn count_message(
    s: &dyn Store,
    chat: &mut ChatRecord,
    member: Uuid,
    is_user: bool,
    now: Millis,
) -> Result<()> {
    let first = s.add_member_message(chat.pk, member, Composing::Idle, now)?;
    chat.member_message_counted(is_user, first == Some(true));
    Ok(())
}

/// Makes `user` a participating member of `chat` (a new membership, or participating again
/// with a join event) and saves the chat; used when an invitation is accepted. Returns whether
/// a membership was created.
pub(crate) fn join_participating(
    s: &dyn Store,
    env: &Env,
    chat: &mut ChatRecord,
    user: Uuid,
) -> Result<bool> {
    let c = Checked {
        participating: Some(true),
        composing: None,
        last_seen_at: None,
    };
    join(s, env, chat, user, &c)
}

/// POST `/users/<u>/pending_chats/<c>/memberships`.
pub fn join_pending(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    input: MembershipInput,
) -> Result<Membership> {
    let (_, target) = access_user(s, actor, user_id)?;
    let c = check(&input, true)?;
    let mut chat = chat_for(s, env, actor, ChatScope::UserPending { user_id }, chat_id)?;
    if !target.user.is_present(env.now) {
        return Err(ChatError::new(
            ErrorCode::UserNotPresent,
            "The user is not present.",
        ));
    }
    join(s, env, &mut chat, user_id, &c)?;
    reload(s, env, chat.pk, user_id)
}

/// Private chats: when the chat's organization has private chats on, a user without the
/// reports permission may not join a chat that another present, participating user already
/// serves (409 `private_chat_taken`). One rule for every way into a served chat: joining it as
/// a routed chat, and resuming a visitor's open chat in a room
/// ([`crate::chats::create_visitor_chat`]). The reference spells it out for routed chats ("there
/// is already a present user member in the chat AND the organization has private chats enabled
/// AND the joining user does not have the reports permission"); resuming a visitor's chat is
/// governed by the same setting.
pub(crate) fn ensure_private_chat_free(
    s: &dyn Store,
    env: &Env,
    chat: &ChatRecord,
    user: &UserRecord,
) -> Result<()> {
    if user.perm_reports {
        return Ok(());
    }
    let org = s
        .org(chat.room_organization_id)?
        .ok_or_else(|| ChatError::internal("room organization missing"))?;
    if org.private_chats && s.present_user_members(chat.pk, Some(user.id), env.now)? > 0 {
        return Err(ChatError::new(
            ErrorCode::PrivateChatTaken,
            "The chat is private and another user is already present in it.",
        ));
    }
    Ok(())
}

/// POST `/users/<u>/routed_chats/<c>/memberships`.
pub fn join_routed(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    input: MembershipInput,
) -> Result<Membership> {
    let (_, target) = access_user(s, actor, user_id)?;
    let c = check(&input, true)?;
    let mut chat = chat_for(s, env, actor, ChatScope::UserRouted { user_id }, chat_id)?;
    if chat.is_ended {
        return Err(ChatError::new(ErrorCode::NotFound, "The chat has ended."));
    }
    ensure_private_chat_free(s, env, &chat, &target.user)?;
    join(s, env, &mut chat, user_id, &c)?;
    reload(s, env, chat.pk, user_id)
}

/// POST `/orgs/<o>/{owned,involved,routed}_chats/<c>/memberships`: adds a user of the
/// organization (`member_id`). Returns (membership, created).
pub fn join_org(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    input: MembershipInput,
) -> Result<(Membership, bool)> {
    let org_id = match scope {
        ChatScope::Owned { organization_id }
        | ChatScope::Involved { organization_id }
        | ChatScope::OrgRouted { organization_id } => organization_id,
        _ => {
            return Err(ChatError::permission_denied(
                "Organization joins go through owned, involved or routed chats.",
            ));
        }
    };
    let mut chat = chat_for(s, env, actor, scope, chat_id)?;
    let mut v = Validator::new();
    match input.member_id {
        None => v.add("member_id", "This field is required."),
        Some(m) => {
            if !s
                .user(m)?
                .is_some_and(|u| u.organization_id == org_id && !u.is_deleted)
            {
                v.add("member_id", "No such user in this organization.");
            }
        }
    }
    let c = match check(&input, true) {
        Ok(c) => Some(c),
        Err(e) => {
            for (f, msgs) in e.errors {
                for m in msgs {
                    v.add(f.clone(), m);
                }
            }
            None
        }
    };
    v.finish()?;
    let (Some(member), Some(c)) = (input.member_id, c) else {
        return Err(ChatError::internal("validated input missing"));
    };
    if chat.is_ended && !s.is_member(chat.pk, member)? {
        return Err(ChatError::new(
            ErrorCode::ChatAlreadyEnded,
            "The chat has ended.",
        ));
    }
    let created = join(s, env, &mut chat, member, &c)?;
    Ok((reload(s, env, chat.pk, member)?, created))
}

/// PUT/PATCH `/users/<u>/chat_memberships/<c>` (`partial` for PATCH).
pub fn update_user_membership(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    input: MembershipInput,
    partial: bool,
) -> Result<Membership> {
    let (_, target) = access_user(s, actor, user_id)?;
    let mut chat = chat_for(s, env, actor, ChatScope::UserChats { user_id }, chat_id)?;
    let c = check(&input, !partial)?;
    let present = target.user.is_present(env.now);
    update_own(s, env, &mut chat, user_id, &c, present)
}

/// A member's update of their own membership in an open chat: 409 when a member without
/// presence starts participating (users; visitors hold presence through the public API).
fn update_own(
    s: &dyn Store,
    env: &Env,
    chat: &mut ChatRecord,
    member: Uuid,
    c: &Checked,
    present: bool,
) -> Result<Membership> {
    if chat.is_ended {
        return Err(ChatError::new(
            ErrorCode::ChatAlreadyEnded,
            "The chat has ended.",
        ));
    }
    if c.participating == Some(true) && !present {
        return Err(ChatError::new(
            ErrorCode::UserNotPresent,
            "The user is not present.",
        ));
    }
    let mut m = s
        .membership(chat.pk, member, env.now)?
        .ok_or_else(|| ChatError::not_found("Chat"))?;
    apply(s, env, chat, &mut m, c)?;
    s.update_chat(chat)?;
    reload(s, env, chat.pk, member)
}

/// Public API: PUT/PATCH `/public/visitors/<v>/chat_memberships/<c>`.
pub fn update_visitor_membership(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    chat_id: Uuid,
    input: MembershipInput,
    partial: bool,
) -> Result<Membership> {
    let mut chat = crate::chats::visitor_chat(s, env, actor, visitor_id, chat_id)?;
    if input.member_id.is_some() {
        return Err(ChatError::field(
            "member_id",
            "Visitors update only their own membership.",
        ));
    }
    let c = check(&input, !partial)?;
    update_own(s, env, &mut chat, visitor_id, &c, true)
}

/// The visitor's own membership view (public API).
pub fn visitor_membership(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    chat_id: Uuid,
) -> Result<Membership> {
    let chat = crate::chats::visitor_chat(s, env, actor, visitor_id, chat_id)?;
    reload(s, env, chat.pk, visitor_id)
}

/// GET `/public/visitors/<v>/chats/<c>/memberships`: every membership of the visitor's chat
/// in the visitor view ([`Membership::visitor_view`]), oldest first as a chat's memberships
/// are listed.
pub fn list_visitor_memberships(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    chat_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Membership>> {
    let chat = crate::chats::visitor_chat(s, env, actor, visitor_id, chat_id)?;
    Ok(page_of(s, env, MembershipSelection::Chat(chat.pk), page)?.map(Membership::visitor_view))
}
