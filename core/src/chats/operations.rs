//! The chat operations (see [`crate::registry`]).

use crate::chats::{self, Chat, ChatListParams, ChatScope, ChatUpdate, NewChat};
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::{QueryParam, operations};
use uuid::Uuid;

/// The filters of a chat collection.
pub(crate) const CHAT_FILTERS: &[QueryParam] = &[
    QueryParam {
        name: "ordering",
        ty: "string",
    },
    QueryParam {
        name: "is_waiting",
        ty: "boolean",
    },
    QueryParam {
        name: "is_ended",
        ty: "boolean",
    },
    QueryParam {
        name: "has_messages",
        ty: "boolean",
    },
    QueryParam {
        name: "has_user_messages",
        ty: "boolean",
    },
    QueryParam {
        name: "has_visitor_messages",
        ty: "boolean",
    },
    QueryParam {
        name: "created_at_after",
        ty: "string",
    },
    QueryParam {
        name: "created_at_before",
        ty: "string",
    },
    QueryParam {
        name: "is_participating",
        ty: "boolean",
    },
];

operations! {
    |engine, actor, args, claim|
    pub(crate) const CHATS, tag "chats";

    /// A chat collection of a scope.
    read fn list_chats(scope: ChatScope, params: &ChatListParams, page: &PageRequest) -> Page<Chat> {
        status: [200],
        args: "scope, query{ordering,is_waiting,is_ended,has_messages,has_user_messages,has_visitor_messages,created_at_after,created_at_before,is_participating,cursor,page_size}",
        query: [PAGE, CHAT_FILTERS],
        routes: [
            Get "/orgs/<organization_id>/rooms/<room_id>/chats" room,
            Get "/orgs/<organization_id>/owned_chats" owned,
            Get "/orgs/<organization_id>/involved_chats" involved,
            Get "/orgs/<organization_id>/routed_chats" org_routed,
            Get "/orgs/<organization_id>/rooms/<room_id>/pending_chats" room_pending,
            Get "/orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/chats" room_visitor,
            Get "/users/<user_id>/pending_chats" user_pending,
            Get "/users/<user_id>/routed_chats" user_routed,
            Get "/users/<user_id>/chats" user_chats,
            Get "/users/<user_id>/rooms/<room_id>/visitors/<visitor_id>/chats" user_room_visitor,
        ],
        parse: { let p: ChatListParams = params(args, CHAT_FILTERS)?; } (scope(args)?, &p, &page(args)?),
        run: engine.read(|s, env| chats::list_chats(s, env, actor, scope, params, page)),
    }

    /// One chat of a scope.
    read fn get_chat(scope: ChatScope, chat: Uuid) -> Chat {
        status: [200],
        args: "scope, chat_id",
        query: [],
        routes: [
            Get "/orgs/<organization_id>/owned_chats/<chat_id>" owned,
            Get "/orgs/<organization_id>/involved_chats/<chat_id>" involved,
            Get "/orgs/<organization_id>/routed_chats/<chat_id>" org_routed,
            Get "/users/<user_id>/routed_chats/<chat_id>" user_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?),
        run: engine.read(|s, env| chats::get_chat(s, env, actor, scope, chat)),
    }

    /// End a chat or set it not waiting.
    write fn update_chat(scope: ChatScope, chat: Uuid, update: ChatUpdate) -> Chat {
        status: [200],
        args: "scope(owned|user_chats), chat_id, body{is_ended,is_waiting}",
        query: [],
        routes: [
            Put "/orgs/<organization_id>/owned_chats/<chat_id>" owned,
            Patch "/orgs/<organization_id>/owned_chats/<chat_id>" owned,
            Put "/users/<user_id>/chats/<chat_id>" user_chats,
            Patch "/users/<user_id>/chats/<chat_id>" user_chats,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, body(args)?),
        run: engine.write(None, |s, env| chats::update_chat(s, env, actor, scope, chat, update)),
    }

    /// Start or resume a chat with a visitor (201 new, 200 resumed).
    ///
    /// Returns (chat, created).
    create fn create_visitor_chat(user: Uuid, room: Uuid, visitor: Uuid, input: NewChat) -> (Chat, bool) {
        status: [201 or 200],
        args: "user_id, room_id, visitor_id, body?",
        query: [],
        routes: [Post "/users/<user_id>/rooms/<room_id>/visitors/<visitor_id>/chats"],
        parse: {} (id(args, "user_id")?, id(args, "room_id")?, visitor(args, "visitor_id")?, body(args)?),
        run: engine.write(claim, |s, env| {
            chats::create_visitor_chat(s, env, actor, user, room, visitor, input)
        }),
    }

    /// Start an empty chat for a user.
    create fn create_user_chat(user: Uuid, input: NewChat) -> Chat {
        status: [201],
        args: "user_id, body?{room_id,chat_type}",
        query: [],
        routes: [Post "/users/<user_id>/chats"],
        parse: {} (id(args, "user_id")?, body(args)?),
        run: engine.write(claim, |s, env| chats::create_user_chat(s, env, actor, user, input)),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const VISITOR_CHATS, tag "public";

    /// Public: start or resume the visitor's chat (201/200).
    ///
    /// Returns (chat, created).
    create fn visitor_start_chat(org: Uuid, room: Uuid, visitor: Uuid) -> (Chat, bool) {
        status: [201 or 200],
        args: "organization_id, room_id, visitor_id",
        query: [],
        routes: [Post "/public/orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/chats"],
        parse: {} (id(args, "organization_id")?, id(args, "room_id")?, visitor(args, "visitor_id")?),
        run: engine.write(claim, |s, env| {
            chats::visitor_start_chat(s, env, actor, org, room, visitor)
        }),
    }

    /// Public: the visitor's chats, newest first (each as `visitor_get_chat` shows it).
    read fn visitor_list_chats(visitor: Uuid, page: &PageRequest) -> Page<Chat> {
        status: [200],
        args: "visitor_id, query{cursor,page_size}",
        query: [PAGE],
        routes: [Get "/public/visitors/<visitor_id>/chats"],
        parse: {} (visitor(args, "visitor_id")?, &page(args)?),
        run: engine.read(|s, env| chats::list_visitor_chats(s, env, actor, visitor, page)),
    }

    /// Public: the visitor's chat.
    read fn visitor_get_chat(visitor: Uuid, chat: Uuid) -> Chat {
        status: [200],
        args: "visitor_id, chat_id",
        query: [],
        routes: [Get "/public/visitors/<visitor_id>/chats/<chat_id>"],
        parse: {} (visitor(args, "visitor_id")?, id(args, "chat_id")?),
        run: engine.read(|s, env| {
            chats::visitor_chat(s, env, actor, visitor, chat)
                .map(|c| crate::chat_hooks::present_chat(env, &c))
        }),
    }
}
