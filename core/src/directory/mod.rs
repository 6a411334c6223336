//! The world around chats: organizations and partners, users and their permissions, teams,
//! rooms (with allowed tags, ttl, shares and a router), routers, visitors and presence.
//!
//! Routing and room access are decided here ([`RoomReach`], documented in `docs/DECISIONS.md`):
//! a room is routed to a user whose router names them (directly or through a team) or shared
//! with their organization; a user may see the waiting chats of a room routed to them and of a
//! room of their own organization that has no router.

pub(crate) mod operations;
mod ops;
pub mod seed;

pub use ops::*;

use crate::clock::Millis;
use crate::ids::visitor_id_str;
use crate::time::format_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A lasting presence (seeded `is_present: true`): never expires on its own.
pub const PRESENT_FOREVER: Millis = i64::MAX;

#[derive(Debug, Clone, PartialEq)]
pub struct OrgRecord {
    pub id: Uuid,
    pub name: String,
    pub has_active_subscription: bool,
    pub private_chat_history: bool,
    pub private_chats: bool,
    pub encrypt_chats: bool,
    pub chat_idle_timeout_s: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub alias: Option<String>,
    pub avatar_id: Option<Uuid>,
    pub avatar_url: Option<String>,
    pub is_bot: bool,
    pub is_deleted: bool,
    pub perm_reports: bool,
    pub perm_settings: bool,
    pub present_until: Millis,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl UserRecord {
    pub fn full_name(&self) -> String {
        full_name(&self.first_name, &self.last_name)
    }
    /// The name a visitor sees: the alias when set, else the real name.
    pub fn public_name(&self) -> String {
        public_name(self.alias.as_deref(), &self.full_name())
    }
    pub fn is_present(&self, now: Millis) -> bool {
        self.present_until > now
    }
    pub fn avatar(&self) -> Option<Avatar> {
        avatar(self.avatar_id, self.avatar_url.clone())
    }
}

/// "First Last", either part alone when the other is empty.
pub fn full_name(first: &str, last: &str) -> String {
    match (first.is_empty(), last.is_empty()) {
        (false, false) => format!("{first} {last}"),
        (false, true) => first.to_string(),
        (true, false) => last.to_string(),
        (true, true) => String::new(),
    }
}

/// The alias when set, else the full name.
pub fn public_name(alias: Option<&str>, full: &str) -> String {
    match alias {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => full.to_string(),
    }
}

/// The avatar object when both its id and url are set.
pub fn avatar(id: Option<Uuid>, url: Option<String>) -> Option<Avatar> {
    match (id, url) {
        (Some(id), Some(url)) => Some(Avatar {
            id: id.to_string(),
            url,
        }),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avatar {
    pub id: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub language_code: Option<String>,
    pub ttl_s: Option<i64>,
    pub router_id: Option<Uuid>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Who a room reaches: the room, the steps of its router, and the organizations it is shared
/// with. The rules below are evaluated in SQL too, as relations of (room, user) pairs that a
/// query restricts by room, by user or both: `ROOM_ROUTING_SQL`, `room_access_sql` and
/// `ROOM_VISIBILITY_SQL`.
#[derive(Debug, Clone, Copy)]
pub struct RoomReach<'a> {
    pub room: &'a RoomRecord,
    /// The steps of the room's router (none when the room has no router).
    pub steps: &'a [RouterStep],
    /// The organizations the room is shared with.
    pub shared_with: &'a [Uuid],
}

impl RoomReach<'_> {
    /// Routing: the room is routed to `user` when a step of its router names them, directly or
    /// through one of `teams` (the teams the user is a member of), or when the room is shared
    /// with the user's organization. Every step at once: steps are not escalated over time.
    pub fn routes_to(&self, user: &UserRecord, teams: &[Uuid]) -> bool {
        let by_router = self.room.router_id.is_some()
            && self.steps.iter().any(|step| {
                step.user_ids.contains(&user.id) || step.team_ids.iter().any(|t| teams.contains(t))
            });
        by_router || self.shared_with.contains(&user.organization_id)
    }

    /// Visibility: `user` sees the room (reads it and its visitors' chats) when it is a room
    /// of their organization or shared with it.
    pub fn is_visible_to(&self, user: &UserRecord) -> bool {
        self.room.organization_id == user.organization_id
            || self.shared_with.contains(&user.organization_id)
    }

    /// Room access: `user` may see the room's waiting chats (they are pending for the user)
    /// when the room is routed to them ([`RoomReach::routes_to`]) or is a room of their own
    /// organization that has no router.
    pub fn is_accessible_to(&self, user: &UserRecord, teams: &[Uuid]) -> bool {
        (self.room.router_id.is_none() && self.room.organization_id == user.organization_id)
            || self.routes_to(user, teams)
    }
}

/// [`RoomReach::routes_to`] in SQL: every (room, user) pair with the room routed to the user,
/// as columns `room_id` and `user_id`, one branch per way of routing. Select from it by room,
/// by user, or both: SQLite pushes the condition into each branch, whose tables it then
/// searches by index. (`CROSS JOIN` keeps a user's team branch on the rooms' primary key:
/// left free, SQLite built an automatic index on `rooms.router_id` for every run.)
pub(crate) const ROOM_ROUTING_SQL: &str = "SELECT r.id AS room_id, st.member_id AS user_id \
       FROM rooms r JOIN router_steps st ON st.router_id = r.router_id WHERE st.member_kind = 'user' \
     UNION ALL SELECT r.id, tm.user_id FROM rooms r CROSS JOIN router_steps st ON st.router_id = r.router_id \
       CROSS JOIN team_members tm ON tm.team_id = st.member_id WHERE st.member_kind = 'team' \
     UNION ALL SELECT rs.room_id, u.id FROM room_shares rs JOIN users u ON u.organization_id = rs.organization_id";

/// [`RoomReach::is_visible_to`] in SQL: every (room, user) pair with the room visible to the
/// user, as columns `room_id` and `user_id`.
pub(crate) const ROOM_VISIBILITY_SQL: &str = "SELECT r.id AS room_id, u.id AS user_id \
       FROM rooms r JOIN users u ON u.organization_id = r.organization_id \
     UNION ALL SELECT rs.room_id, u.id FROM room_shares rs JOIN users u ON u.organization_id = rs.organization_id";

/// [`RoomReach::is_accessible_to`] in SQL: the pairs of [`ROOM_ROUTING_SQL`] and those of the
/// rooms without a router with their organization's users, as `room_id` and `user_id`.
pub(crate) fn room_access_sql() -> String {
    format!(
        "SELECT r.id AS room_id, u.id AS user_id FROM rooms r JOIN users u ON u.organization_id = r.organization_id \
         WHERE r.router_id IS NULL \
         UNION ALL {ROOM_ROUTING_SQL}"
    )
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouterRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub steps: Vec<RouterStep>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterStep {
    #[serde(default)]
    pub user_ids: Vec<Uuid>,
    #[serde(default)]
    pub team_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VisitorRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: Option<String>,
    pub present_until: Millis,
    pub sensitive_data_purged_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

// ---- resources ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub has_active_subscription: bool,
    pub private_chat_history: bool,
    pub private_chats: bool,
    pub encrypt_chats: bool,
    pub chat_idle_timeout_s: i64,
    pub partner_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Organization {
    pub fn from_record(r: &OrgRecord, partners: &[Uuid]) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name.clone(),
            has_active_subscription: r.has_active_subscription,
            private_chat_history: r.private_chat_history,
            private_chats: r.private_chats,
            encrypt_chats: r.encrypt_chats,
            chat_idle_timeout_s: r.chat_idle_timeout_s,
            partner_ids: partners.iter().map(Uuid::to_string).collect(),
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub organization_id: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    pub alias: Option<String>,
    pub member_public_name: String,
    pub avatar: Option<Avatar>,
    pub is_bot: bool,
    pub is_deleted: bool,
    pub is_present: bool,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl User {
    pub fn from_record(r: &UserRecord, now: Millis) -> Self {
        let mut permissions = vec![];
        if r.perm_reports {
            permissions.push("reports".to_string());
        }
        if r.perm_settings {
            permissions.push("settings".to_string());
        }
        Self {
            id: r.id.to_string(),
            organization_id: r.organization_id.to_string(),
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            full_name: r.full_name(),
            alias: r.alias.clone(),
            member_public_name: r.public_name(),
            avatar: r.avatar(),
            is_bot: r.is_bot,
            is_deleted: r.is_deleted,
            is_present: r.is_present(now),
            permissions,
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

/// The short user object nested in invitations and reply suggestions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserSummary {
    pub id: String,
    pub full_name: String,
    pub first_name: String,
    pub last_name: String,
    pub organization_id: String,
}

impl UserSummary {
    pub fn from_record(r: &UserRecord) -> Self {
        Self {
            id: r.id.to_string(),
            full_name: r.full_name(),
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            organization_id: r.organization_id.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Team {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub member_count: i64,
    pub present_member_count: i64,
    pub is_present: bool,
    pub is_online: bool,
    pub member_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Room {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub language_code: Option<String>,
    pub allowed_tags: Vec<String>,
    pub ttl_s: Option<i64>,
    pub shared_with: Vec<String>,
    pub router_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Router {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub steps: Vec<RouterStep>,
    pub created_at: String,
}

impl Router {
    pub fn from_record(r: &RouterRecord) -> Self {
        Self {
            id: r.id.to_string(),
            organization_id: r.organization_id.to_string(),
            name: r.name.clone(),
            steps: r.steps.clone(),
            created_at: format_ms(r.created_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visitor {
    pub id: String,
    pub organization_id: String,
    pub name: Option<String>,
    pub is_present: bool,
    pub variables: serde_json::Map<String, serde_json::Value>,
    pub sensitive_data_purged_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Visitor {
    pub fn from_record(r: &VisitorRecord, variables: Vec<(String, String)>, now: Millis) -> Self {
        Self {
            id: visitor_id_str(&r.id),
            organization_id: r.organization_id.to_string(),
            name: r.name.clone(),
            is_present: r.present_until > now,
            variables: variables
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            sensitive_data_purged_at: r.sensitive_data_purged_at.map(format_ms),
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

/// A token shown once at creation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub token: String,
    pub created_at: String,
}

/// A presence client of a user or visitor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceClient {
    pub id: String,
    pub expires_at: Option<String>,
    pub presence_expires_in: Option<i64>,
}

/// A stored presence client of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceClientRecord {
    pub id: Uuid,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub expires_at: Millis,
}

/// A presence client as `GET /users/<user_id>/clients` lists it. `expires_at` is null for a
/// presence the host set to last until changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedPresenceClient {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
}

impl ListedPresenceClient {
    pub fn from_record(r: &PresenceClientRecord) -> Self {
        Self {
            id: r.id.to_string(),
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
            expires_at: (r.expires_at != PRESENT_FOREVER).then(|| format_ms(r.expires_at)),
        }
    }
}

/// The public visitor auth result (contract section 5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitorAuth {
    pub visitor_id: String,
    pub visitor_secret_id: String,
    pub organization_id: String,
    pub access_token: String,
    pub expires_at: String,
    pub expires_in: i64,
}
