//! The reply suggestion operations (see [`crate::registry`]).

use crate::chats::ChatScope;
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::{QueryParam, operations};
use crate::suggestions::{self, ReplySuggestion, SuggestionInput, SuggestionListParams};
use uuid::Uuid;

/// The ordering of suggestion listings.
const SUGGESTION_ORDERING: &[QueryParam] = &[QueryParam {
    name: "ordering",
    ty: "string",
}];

operations! {
    |engine, actor, args, claim|
    pub(crate) const SUGGESTIONS, tag "reply suggestions";

    /// Reply suggestions of a chat.
    read fn list_reply_suggestions(scope: ChatScope, chat: Uuid, params: &SuggestionListParams, page: &PageRequest) -> Page<ReplySuggestion> {
        status: [200],
        args: "scope(user_chats|user_routed), chat_id, query{ordering}",
        query: [PAGE, SUGGESTION_ORDERING],
        routes: [
            Get "/users/<user_id>/chats/<chat_id>/reply_suggestions" user_chats,
            Get "/users/<user_id>/routed_chats/<chat_id>/reply_suggestions" user_routed,
        ],
        parse: { let p: SuggestionListParams = params(args, SUGGESTION_ORDERING)?; }
            (scope(args)?, id(args, "chat_id")?, &p, &page(args)?),
        run: engine.read(|s, env| {
            suggestions::list_chat_suggestions(s, env, actor, scope, chat, params, page)
        }),
    }

    /// Reply suggestions of a message.
    read fn list_message_reply_suggestions(scope: ChatScope, chat: Uuid, message: Uuid, params: &SuggestionListParams, page: &PageRequest) -> Page<ReplySuggestion> {
        status: [200],
        args: "scope(user_chats|user_routed), chat_id, message_id, query{ordering}",
        query: [PAGE, SUGGESTION_ORDERING],
        routes: [
            Get "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions" user_chats,
            Get "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions" user_routed,
        ],
        parse: { let p: SuggestionListParams = params(args, SUGGESTION_ORDERING)?; }
            (scope(args)?, id(args, "chat_id")?, id(args, "message_id")?, &p, &page(args)?),
        run: engine.read(|s, env| {
            suggestions::list_message_suggestions(s, env, actor, scope, chat, message, params, page)
        }),
    }

    /// Suggest a reply to a message.
    create fn create_reply_suggestion(scope: ChatScope, chat: Uuid, message: Uuid, input: SuggestionInput) -> ReplySuggestion {
        status: [201],
        args: "scope(user_chats|user_routed), chat_id, message_id, body{suggestion,relevancy_score}",
        query: [],
        routes: [
            Post "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions" user_chats,
            Post "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions" user_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, id(args, "message_id")?, body(args)?),
        run: engine.write(claim, |s, env| {
            suggestions::create_suggestion(s, env, actor, scope, chat, message, input)
        }),
    }

    /// Update a reply suggestion.
    ///
    /// PUT (`partial = false`) or PATCH (`partial = true`).
    #[allow(clippy::too_many_arguments)]
    write fn update_reply_suggestion(scope: ChatScope, chat: Uuid, message: Uuid, suggestion: Uuid, input: SuggestionInput, partial: bool) -> ReplySuggestion {
        status: [200],
        args: "scope(user_chats|user_routed), chat_id, message_id, reply_suggestion_id, body, partial?",
        query: [],
        routes: [
            Put "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>" user_chats,
            Patch "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>" user_chats,
            Put "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>" user_routed,
            Patch "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>" user_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, id(args, "message_id")?, id(args, "reply_suggestion_id")?, body(args)?, flag(args, "partial")),
        run: engine.write(None, |s, env| {
            suggestions::update_suggestion(s, env, actor, scope, chat, message, suggestion, input, partial)
        }),
    }
}
