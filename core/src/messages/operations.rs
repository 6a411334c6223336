//! The message operations (see [`crate::registry`]).

use crate::chats::ChatScope;
use crate::messages::{self, Message, MessageListParams, NewAutosuggest, NewMessage};
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::{QueryParam, operations};
use uuid::Uuid;

/// The type filters of a message collection.
const MESSAGE_FILTERS: &[QueryParam] = &[
    QueryParam {
        name: "type__in",
        ty: "string",
    },
    QueryParam {
        name: "type__not_in",
        ty: "string",
    },
];

operations! {
    |engine, actor, args, claim|
    pub(crate) const MESSAGES, tag "messages";

    /// Messages of a chat, newest first.
    read fn list_messages(scope: ChatScope, chat: Uuid, params: &MessageListParams, page: &PageRequest) -> Page<Message> {
        status: [200],
        args: "scope, chat_id, query{type__in,type__not_in,cursor,page_size}",
        query: [PAGE, MESSAGE_FILTERS],
        routes: [
            Get "/orgs/<organization_id>/owned_chats/<chat_id>/messages" owned,
            Get "/orgs/<organization_id>/involved_chats/<chat_id>/messages" involved,
            Get "/orgs/<organization_id>/routed_chats/<chat_id>/messages" org_routed,
            Get "/users/<user_id>/chats/<chat_id>/messages" user_chats,
            Get "/users/<user_id>/routed_chats/<chat_id>/messages" user_routed,
        ],
        parse: { let p: MessageListParams = params(args, MESSAGE_FILTERS)?; }
            (scope(args)?, id(args, "chat_id")?, &p, &page(args)?),
        run: engine.read(|s, env| messages::list_messages(s, env, actor, scope, chat, params, page)),
    }

    /// One message.
    read fn get_message(scope: ChatScope, chat: Uuid, message: Uuid) -> Message {
        status: [200],
        args: "scope, chat_id, message_id",
        query: [],
        routes: [],
        parse: {} (scope(args)?, id(args, "chat_id")?, id(args, "message_id")?),
        run: engine.read(|s, env| messages::get_message(s, env, actor, scope, chat, message)),
    }

    /// Send a msg as a user.
    create fn send_user_message(user: Uuid, chat: Uuid, input: NewMessage) -> Message {
        status: [200],
        args: "user_id, chat_id, body",
        query: [],
        routes: [Post "/users/<user_id>/chats/<chat_id>/messages"],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| {
            messages::send_user_message(s, env, actor, user, chat, input)
        }),
    }

    /// Send an autosuggestion.
    create fn send_autosuggest(user: Uuid, chat: Uuid, input: NewAutosuggest) -> Message {
        status: [201],
        args: "user_id, chat_id, body{message,url,url_title}",
        query: [],
        routes: [],
        parse: {} (id(args, "user_id")?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| {
            messages::send_autosuggest(s, env, actor, user, chat, input)
        }),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const VISITOR_MESSAGES, tag "public";

    /// Public: messages of the visitor's chat.
    read fn visitor_list_messages(visitor: Uuid, chat: Uuid, params: &MessageListParams, page: &PageRequest) -> Page<Message> {
        status: [200],
        args: "visitor_id, chat_id, query",
        query: [PAGE, MESSAGE_FILTERS],
        routes: [Get "/public/visitors/<visitor_id>/chats/<chat_id>/messages"],
        parse: { let p: MessageListParams = params(args, MESSAGE_FILTERS)?; }
            (visitor(args, "visitor_id")?, id(args, "chat_id")?, &p, &page(args)?),
        run: engine.read(|s, env| {
            messages::list_visitor_messages(s, env, actor, visitor, chat, params, page)
        }),
    }

    /// Public: a visitor's message or response.
    create fn visitor_send_message(visitor: Uuid, chat: Uuid, input: NewMessage) -> Message {
        status: [201],
        args: "visitor_id, chat_id, body{type,message,url,url_title,response_to_*,response_text}",
        query: [],
        routes: [Post "/public/visitors/<visitor_id>/chats/<chat_id>/messages"],
        parse: {} (visitor(args, "visitor_id")?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| {
            messages::send_visitor_message(s, env, actor, visitor, chat, input)
        }),
    }
}
