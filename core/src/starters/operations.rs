//! The conversation starter operations (see [`crate::registry`]).

use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::operations;
use crate::starters::{self, ConversationStarter, StarterInput};
use uuid::Uuid;

operations! {
    |engine, actor, args, claim|
    pub(crate) const STARTERS, tag "conversation starters";

    /// A user's conversation starters.
    read fn list_conversation_starters(user: Uuid, page: &PageRequest) -> Page<ConversationStarter> {
        status: [200],
        args: "user_id",
        query: [PAGE],
        routes: [Get "/users/<user_id>/chat_conversation_starters"],
        parse: {} (id(args, "user_id")?, &page(args)?),
        run: engine.read(|s, _| starters::list_starters(s, actor, user, page)),
    }

    /// Add a conversation starter.
    create fn create_conversation_starter(user: Uuid, input: StarterInput) -> ConversationStarter {
        status: [201],
        args: "user_id, body{language_code,message}",
        query: [],
        routes: [Post "/users/<user_id>/chat_conversation_starters"],
        parse: {} (id(args, "user_id")?, body(args)?),
        run: engine.write(claim, |s, env| starters::create_starter(s, env, actor, user, input)),
    }

    /// Update a conversation starter.
    ///
    /// PUT (`partial = false`) or PATCH (`partial = true`).
    write fn update_conversation_starter(user: Uuid, language_code: &str, input: StarterInput, partial: bool) -> ConversationStarter {
        status: [200],
        args: "user_id, language_code, body, partial?",
        query: [],
        routes: [
            Put "/users/<user_id>/chat_conversation_starters/<language_code>",
            Patch "/users/<user_id>/chat_conversation_starters/<language_code>",
        ],
        parse: {} (id(args, "user_id")?, text(args, "language_code")?, body(args)?, flag(args, "partial")),
        run: engine.write(None, |s, env| {
            starters::update_starter(s, env, actor, user, language_code, input, partial)
        }),
    }

    /// Delete a conversation starter.
    write fn delete_conversation_starter(user: Uuid, language_code: &str) -> () {
        status: [204],
        args: "user_id, language_code",
        query: [],
        routes: [Delete "/users/<user_id>/chat_conversation_starters/<language_code>"],
        parse: {} (id(args, "user_id")?, text(args, "language_code")?),
        run: engine.write(None, |s, _| starters::delete_starter(s, actor, user, language_code)),
    }
}
