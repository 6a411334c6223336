//! The invitation operations (see [`crate::registry`]).

use crate::invitations::{
    self, Invitation, InvitationAccept, InvitationExpire, InvitationListParams, NewInvitation,
};
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::{QueryParam, operations};
use uuid::Uuid;

/// The filters of both invitation listings.
const INVITATION_FILTERS: &[QueryParam] = &[
    QueryParam {
        name: "is_accepted",
        ty: "boolean",
    },
    QueryParam {
        name: "is_expired",
        ty: "boolean",
    },
];

operations! {
    |engine, actor, args, claim|
    pub(crate) const INVITATIONS, tag "invitations";

    /// Outgoing invitations of a chat.
    read fn list_invitations_outgoing(user: Uuid, chat: Uuid, params: &InvitationListParams, page: &PageRequest) -> Page<Invitation> {
        status: [200],
        args: "user_id, chat_id, query{is_accepted,is_expired}",
        query: [PAGE, INVITATION_FILTERS],
        routes: [Get "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations"],
        parse: { let p: InvitationListParams = params(args, INVITATION_FILTERS)?; }
            (id(args, "user_id")?, id(args, "chat_id")?, &p, &page(args)?),
        run: engine.read(|s, env| {
            invitations::list_outgoing(s, env, actor, user, chat, params, page)
        }),
    }

    /// Invite a user, team or partner organization (201 new, 200 already pending).
    ///
    /// Returns (invitation, created): `false` when the party already had a pending invitation.
    create fn create_invitation(user: Uuid, chat: Uuid, input: NewInvitation) -> (Invitation, bool) {
        status: [201 or 200],
        args: "user_id, chat_id, body{invited_user_id|invited_team_id|invited_organization_id}",
        query: [],
        routes: [Post "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations"],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| invitations::send(s, env, actor, user, chat, input)),
    }

    /// Expire an outgoing invitation.
    write fn expire_invitation(user: Uuid, chat: Uuid, invitation: Uuid, input: InvitationExpire) -> Invitation {
        status: [200],
        args: "user_id, chat_id, invitation_id, body{is_expired:true}",
        query: [],
        routes: [
            Put "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations/<invitation_id>",
            Patch "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations/<invitation_id>",
        ],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, id(args, "invitation_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            invitations::expire(s, env, actor, user, chat, invitation, input)
        }),
    }

    /// Invitations to the user, their teams and organization.
    read fn list_invitations_incoming(user: Uuid, params: &InvitationListParams, page: &PageRequest) -> Page<Invitation> {
        status: [200],
        args: "user_id, query{is_accepted,is_expired}",
        query: [PAGE, INVITATION_FILTERS],
        routes: [Get "/users/<user_id>/incoming_chat_invitations"],
        parse: { let p: InvitationListParams = params(args, INVITATION_FILTERS)?; }
            (id(args, "user_id")?, &p, &page(args)?),
        run: engine.read(|s, env| invitations::list_incoming(s, env, actor, user, params, page)),
    }

    /// Accept an incoming invitation.
    ///
    /// `chat` is `None` for `/users/<u>/incoming_chat_invitations/<id>`; through
    /// `/users/<u>/chats/<c>/incoming_chat_invitations/<id>` it must be the invitation's chat.
    write fn accept_invitation(user: Uuid, chat: Option<Uuid>, invitation: Uuid, input: InvitationAccept) -> Invitation {
        status: [200],
        args: "user_id, chat_id?, invitation_id, body{is_accepted:true}",
        query: [],
        routes: [
            Put "/users/<user_id>/incoming_chat_invitations/<invitation_id>",
            Patch "/users/<user_id>/incoming_chat_invitations/<invitation_id>",
            Put "/users/<user_id>/chats/<chat_id>/incoming_chat_invitations/<invitation_id>",
            Patch "/users/<user_id>/chats/<chat_id>/incoming_chat_invitations/<invitation_id>",
        ],
        parse: { let chat = optional_id(args, "chat_id")?; }
            (id(args, "user_id")?, chat, id(args, "invitation_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            invitations::accept(s, env, actor, user, chat, invitation, input)
        }),
    }
}
