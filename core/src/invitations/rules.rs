//! Invitation operations: send (201, or 200 with the pending one), outgoing and incoming
//! listings, expiry by the inviter, acceptance (which joins the accepting user to the chat),
//! and the expiry of every pending invitation when a chat ends.

use super::*;
use crate::Env;
use crate::auth::{Actor, access_user};
use crate::chats::{ChatRecord, ChatScope};
use crate::error::{ChatError, ErrorCode, Result, Validator};
use crate::memberships;
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;

const ORDER_OUTGOING: u8 = 1;
const ORDER_INCOMING: u8 = 2;

fn key(r: &InvitationRecord) -> SortKey {
    SortKey::new(r.created_at, r.id.as_bytes().to_vec())
}

fn page_of(
    s: &dyn Store,
    sel: &InvitationSelection,
    filter: &InvitationFilter,
    ordering: u8,
    page: &PageRequest,
) -> Result<Page<Invitation>> {
    let p = paginate(
        page,
        ordering,
        false,
        |k| s.select_invitations(sel, filter, k),
        key,
    )?;
    Ok(p.map(|r| Invitation::from_record(&r)))
}

fn reload(s: &dyn Store, id: Uuid) -> Result<Invitation> {
    let r = s
        .invitation(id)?
        .ok_or_else(|| ChatError::internal("invitation vanished"))?;
    Ok(Invitation::from_record(&r))
}

/// The chat as a member sees it (`/users/<u>/chats/<c>`), with the subject user.
fn member_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
) -> Result<(crate::auth::UserCtx, ChatRecord)> {
    let (r, chat) =
        crate::chats::scoped_chat(s, env, actor, ChatScope::UserChats { user_id }, chat_id)?;
    Ok((r.subject, chat))
}

/// GET `/users/<u>/chats/<c>/outgoing_chat_invitations`: the invitations the user sent in the
/// chat, oldest first.
pub fn list_outgoing(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    filter: &InvitationFilter,
    page: &PageRequest,
) -> Result<Page<Invitation>> {
    let (subject, chat) = member_chat(s, env, actor, user_id, chat_id)?;
    let sel = InvitationSelection::Outgoing {
        chat_pk: chat.pk,
        inviter: subject.user.id,
    };
    page_of(s, &sel, filter, ORDER_OUTGOING, page)
}

/// GET `/users/<u>/incoming_chat_invitations`: invitations to the user, to their teams and to
/// their organization (not those they sent themselves), oldest first.
pub fn list_incoming(
    s: &dyn Store,
    _env: &Env,
    actor: &Actor,
    user_id: Uuid,
    filter: &InvitationFilter,
    page: &PageRequest,
) -> Result<Page<Invitation>> {
    let (_, t) = access_user(s, actor, user_id)?;
    let sel = InvitationSelection::Incoming {
        user: t.user.id,
        org: t.user.organization_id,
    };
    page_of(s, &sel, filter, ORDER_INCOMING, page)
}

/// Validates the payload of a new invitation: exactly one party.
fn target_of(input: &NewInvitation) -> Result<InviteTarget> {
    let given: Vec<(&str, InviteTarget)> = [
        (
            "invited_user_id",
            input.invited_user_id.map(InviteTarget::User),
        ),
        (
            "invited_team_id",
            input.invited_team_id.map(InviteTarget::Team),
        ),
        (
            "invited_organization_id",
            input
                .invited_organization_id
                .map(InviteTarget::Organization),
        ),
    ]
    .into_iter()
    .filter_map(|(f, t)| t.map(|t| (f, t)))
    .collect();
    match given.as_slice() {
        [(_, t)] => Ok(*t),
        [] => {
            let mut v = Validator::new();
            for f in [
                "invited_user_id",
                "invited_team_id",
                "invited_organization_id",
            ] {
                v.add(
                    f,
                    "One of invited_user_id, invited_team_id or invited_organization_id is required.",
                );
            }
            v.finish()?;
            Err(ChatError::internal("validation passed without a target"))
        }
        many => {
            let mut v = Validator::new();
            for (f, _) in many {
                v.add(
                    *f,
                    "Only one of invited_user_id, invited_team_id or invited_organization_id may be given.",
                );
            }
            v.finish()?;
            Err(ChatError::internal("validation passed with many targets"))
        }
    }
}

/// Checks that the inviter (a user of `org`) may invite the party: a user of their own
/// organization, their own team or one shared with their organization, or a partner
/// organization. Anything else is 404, as if it did not exist.
fn check_target(s: &dyn Store, inviter: Uuid, org: Uuid, target: InviteTarget) -> Result<()> {
    match target {
        InviteTarget::User(u) => {
            if u == inviter {
                return Err(ChatError::field(
                    "invited_user_id",
                    "You cannot invite yourself.",
                ));
            }
            if !s
                .user(u)?
                .is_some_and(|u| u.organization_id == org && !u.is_deleted)
            {
                return Err(ChatError::not_found("Invited user"));
            }
        }
        InviteTarget::Team(t) => {
            let ok = match s.team(t)? {
                Some(team) => team.organization_id == org || s.team_shared_with(t, org)?,
                None => false,
            };
            if !ok {
                return Err(ChatError::not_found("Invited team"));
            }
        }
        InviteTarget::Organization(o) => {
            if !s.partners(org)?.contains(&o) {
                return Err(ChatError::not_found("Invited organization"));
            }
        }
    }
    Ok(())
}

/// POST `/users/<u>/chats/<c>/outgoing_chat_invitations`. Returns (invitation, created):
/// a party that already has a pending invitation to the chat gets that one back (`false`).
/// An ended chat takes no invitations: `ChatAlreadyEnded` (400; the reference is silent).
pub fn send(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    input: NewInvitation,
) -> Result<(Invitation, bool)> {
    let (subject, chat) = member_chat(s, env, actor, user_id, chat_id)?;
    let target = target_of(&input)?;
    check_target(s, subject.user.id, subject.user.organization_id, target)?;
    if chat.is_ended {
        return Err(ChatError::new(
            ErrorCode::ChatAlreadyEnded,
            "The chat has ended: it takes no new invitations.",
        ));
    }
    if let Some(pending) = s.pending_invitation(chat.pk, target)? {
        return Ok((Invitation::from_record(&pending), false));
    }
    let rec = InvitationRecord {
        id: env.ids.new_id(),
        chat_pk: chat.pk,
        invited_by_user_id: subject.user.id,
        target,
        accepted_by_user_id: None,
        created_at: env.now,
        updated_at: env.now,
        accepted_at: None,
        expired_at: None,
        chat_id: chat.id,
        room_id: chat.room_id,
        invited_by_user: None,
        accepted_by_user: None,
        invitee_name: String::new(),
        user_member_count: 0,
        visitor_member_count: 0,
    };
    s.insert_invitation(&rec)?;
    Ok((reload(s, rec.id)?, true))
}

/// PUT/PATCH `/users/<u>/chats/<c>/outgoing_chat_invitations/<id>`: the inviter expires a
/// pending invitation. 400 `InvitationExpired` / `InvitationAccepted` when it is not pending.
pub fn expire(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    invitation_id: Uuid,
    input: InvitationExpire,
) -> Result<Invitation> {
    let (subject, chat) = member_chat(s, env, actor, user_id, chat_id)?;
    let mut inv = s
        .invitation(invitation_id)?
        .filter(|i| i.chat_pk == chat.pk && i.invited_by_user_id == subject.user.id)
        .ok_or_else(|| ChatError::not_found("Chat invitation"))?;
    match input.is_expired {
        None => return Err(ChatError::required("is_expired")),
        Some(false) => {
            return Err(ChatError::field(
                "is_expired",
                "An invitation can only be expired (true).",
            ));
        }
        Some(true) => {}
    }
    not_pending_error(&inv)?;
    inv.expired_at = Some(env.now);
    inv.updated_at = env.now;
    s.update_invitation(&inv)?;
    reload(s, inv.id)
}

/// 400 for an invitation that is no longer pending.
fn not_pending_error(inv: &InvitationRecord) -> Result<()> {
    if inv.expired_at.is_some() {
        return Err(ChatError::new(
            ErrorCode::InvitationExpired,
            "The chat invitation has already expired.",
        ));
    }
    if inv.accepted_at.is_some() {
        return Err(ChatError::new(
            ErrorCode::InvitationAccepted,
            "The chat invitation has already been accepted.",
        ));
    }
    Ok(())
}

/// Whether the invitation is addressed to the user (directly, through a team they belong to,
/// or through their organization) and not sent by them.
fn is_incoming_for(s: &dyn Store, inv: &InvitationRecord, user: Uuid, org: Uuid) -> Result<bool> {
    if inv.invited_by_user_id == user {
        return Ok(false);
    }
    Ok(match inv.target {
        InviteTarget::User(u) => u == user,
        InviteTarget::Team(t) => s.team_member_ids(t)?.contains(&user),
        InviteTarget::Organization(o) => o == org,
    })
}

/// PUT/PATCH `/users/<u>/incoming_chat_invitations/<id>` (and the reference example's
/// `/users/<u>/chats/<c>/incoming_chat_invitations/<id>`, where `chat_id` must match):
/// the user accepts, becomes a participating member of the chat (or participates again), and
/// is recorded as `accepted_by_user`. A team or organization invitation is accepted once.
pub fn accept(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Option<Uuid>,
    invitation_id: Uuid,
    input: InvitationAccept,
) -> Result<Invitation> {
    let (_, t) = access_user(s, actor, user_id)?;
    let not_found = || ChatError::not_found("Chat invitation");
    let mut inv = s.invitation(invitation_id)?.ok_or_else(not_found)?;
    if chat_id.is_some_and(|c| c != inv.chat_id)
        || !is_incoming_for(s, &inv, t.user.id, t.user.organization_id)?
    {
        return Err(not_found());
    }
    let mut v = Validator::new();
    match input.is_accepted {
        None => v.add("is_accepted", "This field is required."),
        Some(false) => v.add("is_accepted", "An invitation can only be accepted (true)."),
        Some(true) => {}
    }
    if input.is_expired.is_some() {
        v.add(
            "is_expired",
            "is_expired can only be set through the outgoing invitation.",
        );
    }
    v.finish()?;
    not_pending_error(&inv)?;
    let mut chat = s
        .chat_by_pk(inv.chat_pk, env.now)?
        .ok_or_else(|| ChatError::internal("invitation chat missing"))?;
    if chat.is_ended {
        // Unreachable while ending expires pending invitations; kept as the same outcome.
        return Err(ChatError::new(
            ErrorCode::InvitationExpired,
            "The chat invitation has expired: the chat has ended.",
        ));
    }
    memberships::join_participating(s, env, &mut chat, t.user.id)?;
    inv.accepted_by_user_id = Some(t.user.id);
    inv.accepted_at = Some(env.now);
    inv.updated_at = env.now;
    s.update_invitation(&inv)?;
    reload(s, inv.id)
}

/// Expires every pending invitation of a chat (called when it ends).
pub fn expire_pending(s: &dyn Store, env: &Env, chat: &ChatRecord) -> Result<usize> {
    s.expire_pending_invitations(chat.pk, env.now)
}
