//! The membership operations (see [`crate::registry`]).

use crate::chats::ChatScope;
use crate::memberships::{self, Membership, MembershipInput};
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::{QueryParam, operations};
use uuid::Uuid;

/// The filter of a user's memberships.
const PARTICIPATING: &[QueryParam] = &[QueryParam {
    name: "is_participating",
    ty: "boolean",
}];

/// The query of [`Engine::list_user_memberships`](crate::Engine::list_user_memberships).
#[derive(serde::Deserialize)]
struct ParticipatingQuery {
    is_participating: Option<bool>,
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const MEMBERSHIPS, tag "memberships";

    /// Memberships of a chat.
    read fn list_memberships(scope: ChatScope, chat: Uuid, page: &PageRequest) -> Page<Membership> {
        status: [200],
        args: "scope, chat_id, query{cursor,page_size}",
        query: [PAGE],
        routes: [
            Get "/orgs/<organization_id>/rooms/<room_id>/chats/<chat_id>/memberships" room,
            Get "/users/<user_id>/chats/<chat_id>/memberships" user_chats,
            Get "/users/<user_id>/routed_chats/<chat_id>/memberships" user_routed,
            Get "/orgs/<organization_id>/owned_chats/<chat_id>/memberships" owned,
            Get "/orgs/<organization_id>/involved_chats/<chat_id>/memberships" involved,
            Get "/orgs/<organization_id>/routed_chats/<chat_id>/memberships" org_routed,
            Get "/users/<user_id>/pending_chats/<chat_id>/memberships" user_pending,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, &page(args)?),
        run: engine.read(|s, env| memberships::list_memberships(s, env, actor, scope, chat, page)),
    }

    /// A user's chat memberships.
    read fn list_user_memberships(user: Uuid, is_participating: Option<bool>, page: &PageRequest) -> Page<Membership> {
        status: [200],
        args: "user_id, query{is_participating}",
        query: [PAGE, PARTICIPATING],
        routes: [Get "/users/<user_id>/chat_memberships"],
        parse: { let q: ParticipatingQuery = params(args, PARTICIPATING)?; }
            (id(args, "user_id")?, q.is_participating, &page(args)?),
        run: engine.read(|s, env| {
            memberships::list_user_memberships(s, env, actor, user, is_participating, page)
        }),
    }

    /// A visitor's membership in a user's chat.
    read fn list_visitor_chat_memberships(user: Uuid, chat: Uuid, visitor: Uuid, page: &PageRequest) -> Page<Membership> {
        status: [200],
        args: "user_id, chat_id, visitor_id",
        query: [PAGE],
        routes: [Get "/users/<user_id>/chats/<chat_id>/visitors/<visitor_id>/chat_memberships"],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, visitor(args, "visitor_id")?, &page(args)?),
        run: engine.read(|s, env| {
            memberships::list_visitor_chat_memberships(s, env, actor, user, chat, visitor, page)
        }),
    }

    /// Join a pending chat.
    create fn join_pending_chat(user: Uuid, chat: Uuid, input: MembershipInput) -> Membership {
        status: [201],
        args: "user_id, chat_id, body{is_participating,composing_status}",
        query: [],
        routes: [Post "/users/<user_id>/pending_chats/<chat_id>/memberships"],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| memberships::join_pending(s, env, actor, user, chat, input)),
    }

    /// Join a routed chat.
    create fn join_routed_chat(user: Uuid, chat: Uuid, input: MembershipInput) -> Membership {
        status: [201],
        args: "user_id, chat_id, body{is_participating,composing_status}",
        query: [],
        routes: [Post "/users/<user_id>/routed_chats/<chat_id>/memberships"],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| memberships::join_routed(s, env, actor, user, chat, input)),
    }

    /// Add an organization user to a chat (201 new, 200 existing).
    ///
    /// Returns (membership, created).
    create fn join_org_chat(scope: ChatScope, chat: Uuid, input: MembershipInput) -> (Membership, bool) {
        status: [201 or 200],
        args: "scope(owned|involved|org_routed), chat_id, body{member_id,is_participating,composing_status}",
        query: [],
        routes: [
            Post "/orgs/<organization_id>/owned_chats/<chat_id>/memberships" owned,
            Post "/orgs/<organization_id>/involved_chats/<chat_id>/memberships" involved,
            Post "/orgs/<organization_id>/routed_chats/<chat_id>/memberships" org_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| memberships::join_org(s, env, actor, scope, chat, input)),
    }

    /// Update a user's membership (PUT, or PATCH with partial=true).
    write fn update_user_membership(user: Uuid, chat: Uuid, input: MembershipInput, partial: bool) -> Membership {
        status: [200],
        args: "user_id, chat_id, body, partial?",
        query: [],
        routes: [
            Put "/users/<user_id>/chat_memberships/<chat_id>",
            Patch "/users/<user_id>/chat_memberships/<chat_id>",
        ],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, body(args)?, flag(args, "partial")),
        run: engine.write(None, |s, env| {
            memberships::update_user_membership(s, env, actor, user, chat, input, partial)
        }),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const VISITOR_MEMBERSHIPS, tag "public";

    /// Public: the visitor's membership.
    read fn visitor_get_membership(visitor: Uuid, chat: Uuid) -> Membership {
        status: [200],
        args: "visitor_id, chat_id",
        query: [],
        routes: [Get "/public/visitors/<visitor_id>/chat_memberships/<chat_id>"],
        parse: {} (visitor(args, "visitor_id")?, id(args, "chat_id")?),
        run: engine.read(|s, env| memberships::visitor_membership(s, env, actor, visitor, chat)),
    }

    /// Public: the memberships of the visitor's chat (visitor view: no `member_name`).
    read fn visitor_list_memberships(visitor: Uuid, chat: Uuid, page: &PageRequest) -> Page<Membership> {
        status: [200],
        args: "visitor_id, chat_id, query{cursor,page_size}",
        query: [PAGE],
        routes: [Get "/public/visitors/<visitor_id>/chats/<chat_id>/memberships"],
        parse: {} (visitor(args, "visitor_id")?, id(args, "chat_id")?, &page(args)?),
        run: engine.read(|s, env| {
            memberships::list_visitor_memberships(s, env, actor, visitor, chat, page)
        }),
    }

    /// Public: update the visitor's membership.
    write fn visitor_update_membership(visitor: Uuid, chat: Uuid, input: MembershipInput, partial: bool) -> Membership {
        status: [200],
        args: "visitor_id, chat_id, body, partial?",
        query: [],
        routes: [
            Put "/public/visitors/<visitor_id>/chat_memberships/<chat_id>",
            Patch "/public/visitors/<visitor_id>/chat_memberships/<chat_id>",
        ],
        parse: {} (visitor(args, "visitor_id")?, id(args, "chat_id")?, body(args)?, flag(args, "partial")),
        run: engine.write(None, |s, env| {
            memberships::update_visitor_membership(s, env, actor, visitor, chat, input, partial)
        }),
    }
}
