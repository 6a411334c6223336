//! The route table: every HTTP endpoint as one line naming the core operation behind it.
//! The router ([`crate::http::router`]) and the OpenAPI document ([`crate::openapi`]) are both
//! built from [`ROUTES`], so they cannot drift apart.

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum M {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl M {
    pub fn lower(self) -> &'static str {
        match self {
            M::Get => "get",
            M::Post => "post",
            M::Put => "put",
            M::Patch => "patch",
            M::Delete => "delete",
        }
    }
    pub fn has_body(self) -> bool {
        matches!(self, M::Post | M::Put | M::Patch)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (the public visitor auth call).
    Public,
    /// `Authorization: Token|Bearer <api token, visitor token or admin token>`.
    Token,
}

/// One endpoint: method, path (reference syntax `<param>`, relative to `/api/v5`), the core
/// operation and its chat scope. Path parameters are passed to the operation under their names;
/// PATCH routes add `"partial": true`.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: M,
    pub path: &'static str,
    pub op: &'static str,
    pub scope: Option<&'static str>,
    pub auth: Auth,
    /// The OpenAPI tag.
    pub tag: &'static str,
}

pub const PREFIX: &str = "/api/v5";

/// The pseudo-operation of the WebSocket route.
pub const REALTIME_OP: &str = "realtime";

impl Route {
    /// The full path in the reference's syntax (`/api/v5/users/<user_id>/chats`).
    pub fn full_path(&self) -> String {
        format!("{PREFIX}{}", self.path)
    }
    /// The full path with `{param}` placeholders (axum and OpenAPI syntax).
    pub fn template(&self) -> String {
        self.full_path().replace('<', "{").replace('>', "}")
    }
    /// The names of the path parameters, in order.
    pub fn params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('<').and_then(|s| s.strip_suffix('>')))
            .collect()
    }
}

const fn r(
    method: M,
    path: &'static str,
    op: &'static str,
    scope: Option<&'static str>,
    tag: &'static str,
) -> Route {
    Route {
        method,
        path,
        op,
        scope,
        auth: Auth::Token,
        tag,
    }
}

use M::{Delete, Get, Patch, Post, Put};

const OWNED: Option<&str> = Some("owned");
const INVOLVED: Option<&str> = Some("involved");
const ORG_ROUTED: Option<&str> = Some("org_routed");
const USER_CHATS: Option<&str> = Some("user_chats");
const USER_ROUTED: Option<&str> = Some("user_routed");
const USER_PENDING: Option<&str> = Some("user_pending");
const ROOM: Option<&str> = Some("room");
const NONE: Option<&str> = None;

/// Every endpoint of the server.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    // ---- chats ---------------------------------------------------------------------------
    r(Get, "/orgs/<organization_id>/rooms/<room_id>/chats", "list_chats", ROOM, "chats"),
    r(Get, "/orgs/<organization_id>/owned_chats", "list_chats", OWNED, "chats"),
    r(Get, "/orgs/<organization_id>/owned_chats/<chat_id>", "get_chat", OWNED, "chats"),
    r(Put, "/orgs/<organization_id>/owned_chats/<chat_id>", "update_chat", OWNED, "chats"),
    r(Patch, "/orgs/<organization_id>/owned_chats/<chat_id>", "update_chat", OWNED, "chats"),
    r(Get, "/orgs/<organization_id>/involved_chats", "list_chats", INVOLVED, "chats"),
    r(Get, "/orgs/<organization_id>/involved_chats/<chat_id>", "get_chat", INVOLVED, "chats"),
    r(Get, "/orgs/<organization_id>/routed_chats", "list_chats", ORG_ROUTED, "chats"),
    r(Get, "/orgs/<organization_id>/routed_chats/<chat_id>", "get_chat", ORG_ROUTED, "chats"),
    r(Get, "/orgs/<organization_id>/rooms/<room_id>/pending_chats", "list_chats", Some("room_pending"), "chats"),
    r(Get, "/orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/chats", "list_chats", Some("room_visitor"), "chats"),
    r(Get, "/users/<user_id>/pending_chats", "list_chats", USER_PENDING, "chats"),
    r(Get, "/users/<user_id>/routed_chats", "list_chats", USER_ROUTED, "chats"),
    r(Get, "/users/<user_id>/routed_chats/<chat_id>", "get_chat", USER_ROUTED, "chats"),
    r(Get, "/users/<user_id>/chats", "list_chats", USER_CHATS, "chats"),
    r(Post, "/users/<user_id>/rooms/<room_id>/visitors/<visitor_id>/chats", "create_visitor_chat", NONE, "chats"),
    r(Post, "/users/<user_id>/chats", "create_user_chat", NONE, "chats"),
    r(Get, "/users/<user_id>/rooms/<room_id>/visitors/<visitor_id>/chats", "list_chats", Some("user_room_visitor"), "chats"),
    r(Put, "/users/<user_id>/chats/<chat_id>", "update_chat", USER_CHATS, "chats"),
    r(Patch, "/users/<user_id>/chats/<chat_id>", "update_chat", USER_CHATS, "chats"),
    // ---- memberships -----------------------------------------------------------------------
    r(Get, "/orgs/<organization_id>/rooms/<room_id>/chats/<chat_id>/memberships", "list_memberships", ROOM, "memberships"),
    r(Get, "/users/<user_id>/chats/<chat_id>/memberships", "list_memberships", USER_CHATS, "memberships"),
    r(Get, "/users/<user_id>/routed_chats/<chat_id>/memberships", "list_memberships", USER_ROUTED, "memberships"),
    r(Get, "/orgs/<organization_id>/owned_chats/<chat_id>/memberships", "list_memberships", OWNED, "memberships"),
    r(Get, "/orgs/<organization_id>/involved_chats/<chat_id>/memberships", "list_memberships", INVOLVED, "memberships"),
    r(Get, "/orgs/<organization_id>/routed_chats/<chat_id>/memberships", "list_memberships", ORG_ROUTED, "memberships"),
    r(Get, "/users/<user_id>/chat_memberships", "list_user_memberships", NONE, "memberships"),
    r(Get, "/users/<user_id>/chats/<chat_id>/visitors/<visitor_id>/chat_memberships", "list_visitor_chat_memberships", NONE, "memberships"),
    r(Get, "/users/<user_id>/pending_chats/<chat_id>/memberships", "list_memberships", USER_PENDING, "memberships"),
    r(Post, "/users/<user_id>/pending_chats/<chat_id>/memberships", "join_pending_chat", NONE, "memberships"),
    r(Post, "/users/<user_id>/routed_chats/<chat_id>/memberships", "join_routed_chat", NONE, "memberships"),
    r(Post, "/orgs/<organization_id>/owned_chats/<chat_id>/memberships", "join_org_chat", OWNED, "memberships"),
    r(Post, "/orgs/<organization_id>/involved_chats/<chat_id>/memberships", "join_org_chat", INVOLVED, "memberships"),
    r(Post, "/orgs/<organization_id>/routed_chats/<chat_id>/memberships", "join_org_chat", ORG_ROUTED, "memberships"),
    r(Put, "/users/<user_id>/chat_memberships/<chat_id>", "update_user_membership", NONE, "memberships"),
    r(Patch, "/users/<user_id>/chat_memberships/<chat_id>", "update_user_membership", NONE, "memberships"),
    // ---- messages --------------------------------------------------------------------------
    r(Get, "/orgs/<organization_id>/owned_chats/<chat_id>/messages", "list_messages", OWNED, "messages"),
    r(Get, "/orgs/<organization_id>/involved_chats/<chat_id>/messages", "list_messages", INVOLVED, "messages"),
    r(Get, "/orgs/<organization_id>/routed_chats/<chat_id>/messages", "list_messages", ORG_ROUTED, "messages"),
    r(Get, "/users/<user_id>/chats/<chat_id>/messages", "list_messages", USER_CHATS, "messages"),
    r(Get, "/users/<user_id>/routed_chats/<chat_id>/messages", "list_messages", USER_ROUTED, "messages"),
    r(Post, "/users/<user_id>/chats/<chat_id>/messages", "send_user_message", NONE, "messages"),
    // ---- invitations -------------------------------------------------------------------------
    r(Get, "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations", "list_invitations_outgoing", NONE, "invitations"),
    r(Post, "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations", "create_invitation", NONE, "invitations"),
    r(Put, "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations/<invitation_id>", "expire_invitation", NONE, "invitations"),
    r(Patch, "/users/<user_id>/chats/<chat_id>/outgoing_chat_invitations/<invitation_id>", "expire_invitation", NONE, "invitations"),
    r(Get, "/users/<user_id>/incoming_chat_invitations", "list_invitations_incoming", NONE, "invitations"),
    r(Put, "/users/<user_id>/incoming_chat_invitations/<invitation_id>", "accept_invitation", NONE, "invitations"),
    r(Patch, "/users/<user_id>/incoming_chat_invitations/<invitation_id>", "accept_invitation", NONE, "invitations"),
    r(Put, "/users/<user_id>/chats/<chat_id>/incoming_chat_invitations/<invitation_id>", "accept_invitation", NONE, "invitations"),
    r(Patch, "/users/<user_id>/chats/<chat_id>/incoming_chat_invitations/<invitation_id>", "accept_invitation", NONE, "invitations"),
    // ---- tags ----------------------------------------------------------------------------------
    r(Get, "/users/<user_id>/chats/<chat_id>/tags", "list_tags", USER_CHATS, "tags"),
    r(Get, "/orgs/<organization_id>/owned_chats/<chat_id>/tags", "list_tags", OWNED, "tags"),
    r(Get, "/orgs/<organization_id>/involved_chats/<chat_id>/tags", "list_tags", INVOLVED, "tags"),
    r(Get, "/orgs/<organization_id>/routed_chats/<chat_id>/tags", "list_tags", ORG_ROUTED, "tags"),
    r(Get, "/users/<user_id>/chats/<chat_id>/allowed_tags", "list_allowed_tags", USER_CHATS, "tags"),
    r(Get, "/orgs/<organization_id>/owned_chats/<chat_id>/allowed_tags", "list_allowed_tags", OWNED, "tags"),
    r(Get, "/orgs/<organization_id>/involved_chats/<chat_id>/allowed_tags", "list_allowed_tags", INVOLVED, "tags"),
    r(Get, "/orgs/<organization_id>/routed_chats/<chat_id>/allowed_tags", "list_allowed_tags", ORG_ROUTED, "tags"),
    r(Post, "/users/<user_id>/chats/<chat_id>/tags", "add_tag", USER_CHATS, "tags"),
    r(Post, "/orgs/<organization_id>/owned_chats/<chat_id>/tags", "add_tag", OWNED, "tags"),
    r(Post, "/orgs/<organization_id>/involved_chats/<chat_id>/tags", "add_tag", INVOLVED, "tags"),
    r(Post, "/orgs/<organization_id>/routed_chats/<chat_id>/tags", "add_tag", ORG_ROUTED, "tags"),
    r(Delete, "/users/<user_id>/chats/<chat_id>/tags/<tag_name>", "remove_tag", USER_CHATS, "tags"),
    r(Delete, "/orgs/<organization_id>/owned_chats/<chat_id>/tags/<tag_name>", "remove_tag", OWNED, "tags"),
    r(Delete, "/orgs/<organization_id>/involved_chats/<chat_id>/tags/<tag_name>", "remove_tag", INVOLVED, "tags"),
    r(Delete, "/orgs/<organization_id>/routed_chats/<chat_id>/tags/<tag_name>", "remove_tag", ORG_ROUTED, "tags"),
    // ---- conversation starters -------------------------------------------------------------------
    r(Get, "/users/<user_id>/chat_conversation_starters", "list_conversation_starters", NONE, "conversation starters"),
    r(Post, "/users/<user_id>/chat_conversation_starters", "create_conversation_starter", NONE, "conversation starters"),
    r(Put, "/users/<user_id>/chat_conversation_starters/<language_code>", "update_conversation_starter", NONE, "conversation starters"),
    r(Patch, "/users/<user_id>/chat_conversation_starters/<language_code>", "update_conversation_starter", NONE, "conversation starters"),
    r(Delete, "/users/<user_id>/chat_conversation_starters/<language_code>", "delete_conversation_starter", NONE, "conversation starters"),
    // ---- reply suggestions -----------------------------------------------------------------------
    r(Get, "/users/<user_id>/chats/<chat_id>/reply_suggestions", "list_reply_suggestions", USER_CHATS, "reply suggestions"),
    r(Get, "/users/<user_id>/routed_chats/<chat_id>/reply_suggestions", "list_reply_suggestions", USER_ROUTED, "reply suggestions"),
    r(Get, "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions", "list_message_reply_suggestions", USER_CHATS, "reply suggestions"),
    r(Get, "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions", "list_message_reply_suggestions", USER_ROUTED, "reply suggestions"),
    r(Put, "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>", "update_reply_suggestion", USER_CHATS, "reply suggestions"),
    r(Patch, "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>", "update_reply_suggestion", USER_CHATS, "reply suggestions"),
    r(Put, "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>", "update_reply_suggestion", USER_ROUTED, "reply suggestions"),
    r(Patch, "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions/<reply_suggestion_id>", "update_reply_suggestion", USER_ROUTED, "reply suggestions"),
    r(Post, "/users/<user_id>/chats/<chat_id>/messages/<message_id>/reply_suggestions", "create_reply_suggestion", USER_CHATS, "reply suggestions"),
    r(Post, "/users/<user_id>/routed_chats/<chat_id>/messages/<message_id>/reply_suggestions", "create_reply_suggestion", USER_ROUTED, "reply suggestions"),
    // ---- management (contract section 4) -----------------------------------------------------
    r(Post, "/orgs", "create_organization", NONE, "management"),
    r(Get, "/orgs/<organization_id>", "get_organization", NONE, "management"),
    r(Patch, "/orgs/<organization_id>", "update_organization", NONE, "management"),
    r(Get, "/orgs/<organization_id>/users", "list_users", NONE, "management"),
    r(Post, "/orgs/<organization_id>/users", "create_user", NONE, "management"),
    r(Get, "/orgs/<organization_id>/users/<user_id>", "get_user", NONE, "management"),
    r(Patch, "/orgs/<organization_id>/users/<user_id>", "update_user", NONE, "management"),
    r(Delete, "/orgs/<organization_id>/users/<user_id>", "delete_user", NONE, "management"),
    r(Get, "/users/me", "me", NONE, "management"),
    r(Post, "/users/<user_id>/api_tokens", "create_api_token", NONE, "management"),
    r(Delete, "/users/<user_id>/api_tokens/<token_id>", "revoke_api_token", NONE, "management"),
    r(Get, "/orgs/<organization_id>/teams", "list_teams", NONE, "management"),
    r(Post, "/orgs/<organization_id>/teams", "create_team", NONE, "management"),
    r(Get, "/orgs/<organization_id>/teams/<team_id>", "get_team", NONE, "management"),
    r(Post, "/orgs/<organization_id>/teams/<team_id>/memberships", "add_team_member", NONE, "management"),
    r(Delete, "/orgs/<organization_id>/teams/<team_id>/memberships/<user_id>", "remove_team_member", NONE, "management"),
    r(Get, "/orgs/<organization_id>/rooms", "list_rooms", NONE, "management"),
    r(Post, "/orgs/<organization_id>/rooms", "create_room", NONE, "management"),
    r(Get, "/orgs/<organization_id>/rooms/<room_id>", "get_room", NONE, "management"),
    r(Patch, "/orgs/<organization_id>/rooms/<room_id>", "update_room", NONE, "management"),
    r(Get, "/orgs/<organization_id>/rooms/<room_id>/tags", "list_room_allowed_tags", NONE, "management"),
    r(Post, "/orgs/<organization_id>/rooms/<room_id>/tags", "add_room_allowed_tag", NONE, "management"),
    r(Get, "/users/<user_id>/rooms/<room_id>", "get_user_room", NONE, "management"),
    r(Get, "/orgs/<organization_id>/routers", "list_routers", NONE, "management"),
    r(Post, "/orgs/<organization_id>/routers", "create_router", NONE, "management"),
    r(Post, "/orgs/<organization_id>/outgoing_shares/rooms", "share_room", NONE, "management"),
    r(Post, "/orgs/<organization_id>/outgoing_shares/teams", "share_team", NONE, "management"),
    r(Get, "/users/<user_id>/rooms/<room_id>/visitors/<visitor_id>", "get_room_visitor", NONE, "management"),
    r(Post, "/orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/variables", "set_visitor_variable", NONE, "management"),
    r(Post, "/users/<user_id>/clients", "create_presence_client", NONE, "management"),
    r(Patch, "/users/<user_id>/clients/<client_id>", "renew_presence_client", NONE, "management"),
    r(Delete, "/users/<user_id>/clients/<client_id>", "delete_presence_client", NONE, "management"),
    // ---- events and webhooks (contract section 8) --------------------------------------------
    // `GET /realtime` is the WebSocket stream (see `realtime.rs`), not an operation call.
    r(Get, "/realtime", REALTIME_OP, NONE, "events"),
    r(Post, "/events", "events_since", NONE, "events"),
    r(Get, "/orgs/<organization_id>/webhooks", "list_webhooks", NONE, "webhooks"),
    r(Post, "/orgs/<organization_id>/webhooks", "create_webhook", NONE, "webhooks"),
    r(Get, "/orgs/<organization_id>/webhooks/<webhook_id>", "get_webhook", NONE, "webhooks"),
    r(Patch, "/orgs/<organization_id>/webhooks/<webhook_id>", "update_webhook", NONE, "webhooks"),
    r(Delete, "/orgs/<organization_id>/webhooks/<webhook_id>", "delete_webhook", NONE, "webhooks"),
    r(Get, "/orgs/<organization_id>/webhooks/<webhook_id>/deliveries", "list_webhook_deliveries", NONE, "webhooks"),
    // ---- public visitor API (contract section 5) ---------------------------------------------
    Route {
        method: Post,
        path: "/public/orgs/<organization_id>/auth",
        op: "visitor_auth",
        scope: None,
        auth: Auth::Public,
        tag: "public",
    },
    r(Post, "/public/orgs/<organization_id>/rooms/<room_id>/visitors", "visitor_enter_room", NONE, "public"),
    r(Post, "/public/orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/chats", "visitor_start_chat", NONE, "public"),
    r(Get, "/public/visitors/<visitor_id>/chats/<chat_id>", "visitor_get_chat", NONE, "public"),
    r(Get, "/public/visitors/<visitor_id>/chats/<chat_id>/messages", "visitor_list_messages", NONE, "public"),
    r(Post, "/public/visitors/<visitor_id>/chats/<chat_id>/messages", "visitor_send_message", NONE, "public"),
    r(Get, "/public/visitors/<visitor_id>/chat_memberships/<chat_id>", "visitor_get_membership", NONE, "public"),
    r(Put, "/public/visitors/<visitor_id>/chat_memberships/<chat_id>", "visitor_update_membership", NONE, "public"),
    r(Patch, "/public/visitors/<visitor_id>/chat_memberships/<chat_id>", "visitor_update_membership", NONE, "public"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn routes_are_unique_and_name_known_scopes() {
        let mut seen = HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.template())),
                "duplicate {} {}",
                r.method.lower(),
                r.path
            );
            if let Some(s) = r.scope {
                assert!(
                    [
                        "room",
                        "room_pending",
                        "room_visitor",
                        "owned",
                        "involved",
                        "org_routed",
                        "user_pending",
                        "user_routed",
                        "user_chats",
                        "user_room_visitor"
                    ]
                    .contains(&s)
                );
            }
        }
    }
}
