//! The tag operations (see [`crate::registry`]).

use crate::chats::ChatScope;
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::operations;
use crate::tags::{self, NewTag, Tag};
use uuid::Uuid;

operations! {
    |engine, actor, args, claim|
    pub(crate) const TAGS, tag "tags";

    /// Tags of a chat.
    read fn list_tags(scope: ChatScope, chat: Uuid, page: &PageRequest) -> Page<Tag> {
        status: [200],
        args: "scope(user_chats|owned|involved|org_routed), chat_id",
        query: [PAGE],
        routes: [
            Get "/users/<user_id>/chats/<chat_id>/tags" user_chats,
            Get "/orgs/<organization_id>/owned_chats/<chat_id>/tags" owned,
            Get "/orgs/<organization_id>/involved_chats/<chat_id>/tags" involved,
            Get "/orgs/<organization_id>/routed_chats/<chat_id>/tags" org_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, &page(args)?),
        run: engine.read(|s, env| tags::list_tags(s, env, actor, scope, chat, page)),
    }

    /// Tags allowed by the chat's room.
    read fn list_allowed_tags(scope: ChatScope, chat: Uuid, page: &PageRequest) -> Page<Tag> {
        status: [200],
        args: "scope(user_chats|owned|involved|org_routed), chat_id",
        query: [PAGE],
        routes: [
            Get "/users/<user_id>/chats/<chat_id>/allowed_tags" user_chats,
            Get "/orgs/<organization_id>/owned_chats/<chat_id>/allowed_tags" owned,
            Get "/orgs/<organization_id>/involved_chats/<chat_id>/allowed_tags" involved,
            Get "/orgs/<organization_id>/routed_chats/<chat_id>/allowed_tags" org_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, &page(args)?),
        run: engine.read(|s, env| tags::list_allowed_tags(s, env, actor, scope, chat, page)),
    }

    /// Tag a chat (201 new, 200 existing).
    ///
    /// Returns (tag, created): `false` when the chat already had the tag.
    create fn add_tag(scope: ChatScope, chat: Uuid, input: NewTag) -> (Tag, bool) {
        status: [201 or 200],
        args: "scope(user_chats|owned|involved|org_routed), chat_id, body{name}",
        query: [],
        routes: [
            Post "/users/<user_id>/chats/<chat_id>/tags" user_chats,
            Post "/orgs/<organization_id>/owned_chats/<chat_id>/tags" owned,
            Post "/orgs/<organization_id>/involved_chats/<chat_id>/tags" involved,
            Post "/orgs/<organization_id>/routed_chats/<chat_id>/tags" org_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, body(args)?),
        run: engine.write(claim, |s, env| tags::add_tag(s, env, actor, scope, chat, input)),
    }

    /// Remove a tag.
    ///
    /// `name` is the URL-decoded tag name.
    write fn remove_tag(scope: ChatScope, chat: Uuid, name: &str) -> () {
        status: [204],
        args: "scope(user_chats|owned|involved|org_routed), chat_id, tag_name (decoded)",
        query: [],
        routes: [
            Delete "/users/<user_id>/chats/<chat_id>/tags/<tag_name>" user_chats,
            Delete "/orgs/<organization_id>/owned_chats/<chat_id>/tags/<tag_name>" owned,
            Delete "/orgs/<organization_id>/involved_chats/<chat_id>/tags/<tag_name>" involved,
            Delete "/orgs/<organization_id>/routed_chats/<chat_id>/tags/<tag_name>" org_routed,
        ],
        parse: {} (scope(args)?, id(args, "chat_id")?, text(args, "tag_name")?),
        run: engine.write(None, |s, env| tags::remove_tag(s, env, actor, scope, chat, name)),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const ROOM_TAGS, tag "management";

    /// A room's allowed tags.
    read fn list_room_allowed_tags(org: Uuid, room: Uuid, page: &PageRequest) -> Page<Tag> {
        status: [200],
        args: "organization_id, room_id",
        query: [PAGE],
        routes: [Get "/orgs/<organization_id>/rooms/<room_id>/tags"],
        parse: {} (id(args, "organization_id")?, id(args, "room_id")?, &page(args)?),
        run: engine.read(|s, _| tags::list_room_allowed_tags(s, actor, org, room, page)),
    }

    /// Allow one more tag in a room (201 new, 200 existing; settings).
    ///
    /// Returns (tag, created): `false` when the room already allowed it.
    write fn add_room_allowed_tag(org: Uuid, room: Uuid, input: NewTag) -> (Tag, bool) {
        status: [201 or 200],
        args: "organization_id, room_id, body{name}",
        query: [],
        routes: [Post "/orgs/<organization_id>/rooms/<room_id>/tags"],
        parse: {} (id(args, "organization_id")?, id(args, "room_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            tags::add_room_allowed_tag(s, env, actor, org, room, input)
        }),
    }
}
