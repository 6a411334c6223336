//! The directory operations (organizations, users, teams, routers, rooms, visitors, presence)
//! and the host's seed and maintenance (see [`crate::registry`]).

use crate::crypto::held;
use crate::directory::seed::{self, Seed, SeedReport, parse_visitor_id};
use crate::directory::{
    self, ApiToken, ListedPresenceClient, NewOrganization, NewRoom, NewRouter, NewTeam, NewUser,
    Organization, OrganizationPatch, PresenceClient, PresenceInput, Room, RoomPatch, Router, Team,
    User, UserPatch, Visitor, VisitorAuth, VisitorVariable,
};
use crate::error::{ChatError, Result};
use crate::maintenance::{self as time_rules, MaintenanceReport};
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::operations;
use crate::store::PresenceHolder;
use serde_json::Value;
use uuid::Uuid;

/// A new user from the payload: fixed tokens are for seed files only; over an API a token is
/// created by the engine.
fn new_user(args: &Value) -> Result<NewUser> {
    let mut b: NewUser = body(args)?;
    if b.api_token.take().is_some() {
        return Err(ChatError::field(
            "api_token",
            "Use the api_tokens endpoint to create tokens.",
        ));
    }
    Ok(b)
}

/// What a share names: the partner organization (`body.organization_id`, a field error when it
/// is not a UUID) and the shared room or team (`key` in the body, else in the path).
fn share(args: &Value, key: &str) -> Result<(Uuid, Uuid, Uuid)> {
    let b = section(args, "body");
    let partner = body_id(&b, "organization_id")?;
    let org = id(args, "organization_id")?;
    let shared = id(&b, key).or_else(|_| id(args, key))?;
    Ok((org, shared, partner))
}

/// The payload of the visitor's auth call.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitorAuthBody {
    visitor_secret_id: Option<String>,
}

/// The payload of a visitor entering a room.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EnterRoomBody {
    id: Option<String>,
    presence_expires_in: Option<i64>,
}

fn enter_room(args: &Value) -> Result<(Uuid, Option<i64>)> {
    let b: EnterRoomBody = body(args)?;
    let visitor = match b.id {
        Some(v) => parse_visitor_id(&v).ok_or_else(|| {
            ChatError::field("id", "A visitor id is 32 lowercase hex characters.")
        })?,
        None => return Err(ChatError::required("id")),
    };
    Ok((visitor, b.presence_expires_in))
}

/// The id of an organization resource just made.
fn org_uuid(org: &Organization) -> Result<Uuid> {
    Uuid::try_parse(&org.id).map_err(|_| ChatError::internal("organization id is not a UUID"))
}

/// `body.ttl_s`: seconds, or null/absent for "no expiry".
fn ttl(args: &Value) -> Result<Option<i64>> {
    match section(args, "body").get("ttl_s") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ChatError::field("ttl_s", "A valid integer is required.")),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const MANAGEMENT, tag "management";

    /// Admin: create an organization.
    write fn create_organization(input: NewOrganization) -> Organization {
        status: [201],
        args: "body",
        query: [],
        routes: [Post "/orgs"],
        parse: {} (body(args)?),
        run: engine.write(None, |s, env| {
            let org = directory::create_organization(s, env, actor, input)?;
            held::ensure_key(s, env, org_uuid(&org)?)?;
            Ok(org)
        }),
    }

    /// An organization.
    read fn get_organization(org: Uuid) -> Organization {
        status: [200],
        args: "organization_id",
        query: [],
        routes: [Get "/orgs/<organization_id>"],
        parse: {} (id(args, "organization_id")?),
        run: engine.read(|s, _| directory::get_organization(s, actor, org)),
    }

    /// Update organization settings.
    write fn update_organization(org: Uuid, patch: OrganizationPatch) -> Organization {
        status: [200],
        args: "organization_id, body",
        query: [],
        routes: [Patch "/orgs/<organization_id>"],
        parse: {} (id(args, "organization_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            let updated = directory::update_organization(s, env, actor, org, patch)?;
            held::ensure_key(s, env, org)?;
            Ok(updated)
        }),
    }

    /// Users of an organization.
    read fn list_users(org: Uuid, page: &PageRequest) -> Page<User> {
        status: [200],
        args: "organization_id, query",
        query: [PAGE],
        routes: [Get "/orgs/<organization_id>/users"],
        parse: {} (id(args, "organization_id")?, &page(args)?),
        run: engine.read(|s, env| directory::list_users(s, env, actor, org, page)),
    }

    /// Create a user.
    write fn create_user(org: Uuid, input: NewUser) -> User {
        status: [201],
        args: "organization_id, body",
        query: [],
        routes: [Post "/orgs/<organization_id>/users"],
        parse: { let input = new_user(args)?; } (id(args, "organization_id")?, input),
        run: engine.write(None, |s, env| directory::create_user(s, env, actor, org, input)),
    }

    /// A user.
    read fn get_user(org: Uuid, user: Uuid) -> User {
        status: [200],
        args: "organization_id, user_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/users/<user_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "user_id")?),
        run: engine.read(|s, env| directory::get_user(s, env, actor, org, user)),
    }

    /// Update a user.
    write fn update_user(org: Uuid, user: Uuid, patch: UserPatch) -> User {
        status: [200],
        args: "organization_id, user_id, body",
        query: [],
        routes: [Patch "/orgs/<organization_id>/users/<user_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "user_id")?, body(args)?),
        run: engine.write(None, |s, env| directory::update_user(s, env, actor, org, user, patch)),
    }

    /// Delete (deactivate) a user.
    write fn delete_user(org: Uuid, user: Uuid) -> () {
        status: [204],
        args: "organization_id, user_id",
        query: [],
        routes: [Delete "/orgs/<organization_id>/users/<user_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "user_id")?),
        run: engine.write(None, |s, env| directory::delete_user(s, env, actor, org, user)),
    }

    /// The acting user.
    read fn me() -> User {
        status: [200],
        args: "",
        query: [],
        routes: [Get "/users/me"],
        parse: {} (),
        run: engine.read(|s, env| directory::me(s, env, actor)),
    }

    /// A new API token (shown once).
    write fn create_api_token(user: Uuid) -> ApiToken {
        status: [201],
        args: "user_id",
        query: [],
        routes: [Post "/users/<user_id>/api_tokens"],
        parse: {} (id(args, "user_id")?),
        run: engine.write(None, |s, env| directory::create_api_token(s, env, actor, user)),
    }

    /// Revoke an API token.
    write fn revoke_api_token(user: Uuid, token_id: Uuid) -> () {
        status: [204],
        args: "user_id, token_id",
        query: [],
        routes: [Delete "/users/<user_id>/api_tokens/<token_id>"],
        parse: {} (id(args, "user_id")?, id(args, "token_id")?),
        run: engine.write(None, |s, _| directory::revoke_api_token(s, actor, user, token_id)),
    }

    /// Teams of an organization.
    read fn list_teams(org: Uuid, page: &PageRequest) -> Page<Team> {
        status: [200],
        args: "organization_id, query",
        query: [PAGE],
        routes: [Get "/orgs/<organization_id>/teams"],
        parse: {} (id(args, "organization_id")?, &page(args)?),
        run: engine.read(|s, env| directory::list_teams(s, env, actor, org, page)),
    }

    /// Create a team.
    write fn create_team(org: Uuid, input: NewTeam) -> Team {
        status: [201],
        args: "organization_id, body",
        query: [],
        routes: [Post "/orgs/<organization_id>/teams"],
        parse: {} (id(args, "organization_id")?, body(args)?),
        run: engine.write(None, |s, env| directory::create_team(s, env, actor, org, input)),
    }

    /// A team.
    read fn get_team(org: Uuid, team: Uuid) -> Team {
        status: [200],
        args: "organization_id, team_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/teams/<team_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "team_id")?),
        run: engine.read(|s, env| directory::get_team(s, env, actor, org, team)),
    }

    /// Add a user to a team.
    write fn add_team_member(org: Uuid, team: Uuid, user: Uuid) -> Team {
        status: [201],
        args: "organization_id, team_id, body{user_id}",
        query: [],
        routes: [Post "/orgs/<organization_id>/teams/<team_id>/memberships"],
        parse: { let user = body_id(&section(args, "body"), "user_id")?; }
            (id(args, "organization_id")?, id(args, "team_id")?, user),
        run: engine.write(None, |s, env| {
            directory::set_team_membership(s, env, actor, org, team, user, true)
        }),
    }

    /// Remove a user from a team.
    write fn remove_team_member(org: Uuid, team: Uuid, user: Uuid) -> () {
        status: [204],
        args: "organization_id, team_id, user_id",
        query: [],
        routes: [Delete "/orgs/<organization_id>/teams/<team_id>/memberships/<user_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "team_id")?, id(args, "user_id")?),
        run: engine
            .write(None, |s, env| {
                directory::set_team_membership(s, env, actor, org, team, user, false)
            })
            .map(|_| ()),
    }

    /// Routers of an organization.
    read fn list_routers(org: Uuid) -> Page<Router> {
        status: [200],
        args: "organization_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/routers"],
        // Not paginated (an organization has few): one page holds all, yet the pagination
        // parameters are checked like on every collection.
        parse: { let _page = page(args)?; } (id(args, "organization_id")?),
        run: engine.read(|s, _| directory::list_routers(s, actor, org)).map(|results| Page {
            next: None,
            previous: None,
            results,
        }),
    }

    /// Create a router.
    write fn create_router(org: Uuid, input: NewRouter) -> Router {
        status: [201],
        args: "organization_id, body",
        query: [],
        routes: [Post "/orgs/<organization_id>/routers"],
        parse: {} (id(args, "organization_id")?, body(args)?),
        run: engine.write(None, |s, env| directory::create_router(s, env, actor, org, input)),
    }

    /// Rooms of an organization.
    read fn list_rooms(org: Uuid, page: &PageRequest) -> Page<Room> {
        status: [200],
        args: "organization_id, query",
        query: [PAGE],
        routes: [Get "/orgs/<organization_id>/rooms"],
        parse: {} (id(args, "organization_id")?, &page(args)?),
        run: engine.read(|s, _| directory::list_rooms(s, actor, org, page)),
    }

    /// Create a room.
    write fn create_room(org: Uuid, input: NewRoom) -> Room {
        status: [201],
        args: "organization_id, body",
        query: [],
        routes: [Post "/orgs/<organization_id>/rooms"],
        parse: {} (id(args, "organization_id")?, body(args)?),
        run: engine.write(None, |s, env| directory::create_room(s, env, actor, org, input)),
    }

    /// A room.
    read fn get_room(org: Uuid, room: Uuid) -> Room {
        status: [200],
        args: "organization_id, room_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/rooms/<room_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "room_id")?),
        run: engine.read(|s, _| directory::get_room(s, actor, org, room)),
    }

    /// Update a room (router, allowed tags, ttl, shares).
    write fn update_room(org: Uuid, room: Uuid, patch: RoomPatch) -> Room {
        status: [200],
        args: "organization_id, room_id, body",
        query: [],
        routes: [Patch "/orgs/<organization_id>/rooms/<room_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "room_id")?, body(args)?),
        run: engine.write(None, |s, env| directory::update_room(s, env, actor, org, room, patch)),
    }

    /// A room as seen by a user.
    read fn get_user_room(user: Uuid, room: Uuid) -> Room {
        status: [200],
        args: "user_id, room_id",
        query: [],
        routes: [Get "/users/<user_id>/rooms/<room_id>"],
        parse: {} (id(args, "user_id")?, id(args, "room_id")?),
        run: engine.read(|s, _| directory::get_user_room(s, actor, user, room)),
    }

    /// Share a room with a partner.
    write fn share_room(org: Uuid, room: Uuid, partner: Uuid) -> Room {
        status: [201],
        args: "organization_id, body{room_id? , organization_id}",
        query: [],
        routes: [Post "/orgs/<organization_id>/outgoing_shares/rooms"],
        parse: { let (org, room, partner) = share(args, "room_id")?; } (org, room, partner),
        run: engine.write(None, |s, _| directory::share_room(s, actor, org, room, partner)),
    }

    /// Share a team with a partner.
    write fn share_team(org: Uuid, team: Uuid, partner: Uuid) -> Team {
        status: [201],
        args: "organization_id, body{team_id, organization_id}",
        query: [],
        routes: [Post "/orgs/<organization_id>/outgoing_shares/teams"],
        parse: { let (org, team, partner) = share(args, "team_id")?; } (org, team, partner),
        run: engine.write(None, |s, env| directory::share_team(s, env, actor, org, team, partner)),
    }

    /// A visitor of a room.
    read fn get_room_visitor(user: Uuid, room: Uuid, visitor: Uuid) -> Visitor {
        status: [200],
        args: "user_id, room_id, visitor_id",
        query: [],
        routes: [Get "/users/<user_id>/rooms/<room_id>/visitors/<visitor_id>"],
        parse: {} (id(args, "user_id")?, id(args, "room_id")?, visitor(args, "visitor_id")?),
        run: engine.read(|s, env| directory::get_room_visitor(s, env, actor, user, room, visitor)),
    }

    /// Set a visitor variable (username sets the name).
    write fn set_visitor_variable(org: Uuid, room: Uuid, visitor: Uuid, input: VisitorVariable) -> Visitor {
        status: [201],
        args: "organization_id, room_id, visitor_id, body{key,value}",
        query: [],
        routes: [Post "/orgs/<organization_id>/rooms/<room_id>/visitors/<visitor_id>/variables"],
        parse: {} (id(args, "organization_id")?, id(args, "room_id")?, visitor(args, "visitor_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            directory::set_visitor_variable(s, env, actor, org, room, visitor, input)
        }),
    }

    /// A presence client for a user.
    write fn create_presence_client(user: Uuid, input: PresenceInput) -> PresenceClient {
        status: [201],
        args: "user_id, body{presence_expires_in}",
        query: [],
        routes: [Post "/users/<user_id>/clients"],
        parse: {} (id(args, "user_id")?, body(args)?),
        run: engine.write(None, |s, env| directory::create_presence_client(s, env, actor, user, input)),
    }

    /// The user's unexpired presence clients.
    read fn list_presence_clients(user: Uuid, page: &PageRequest) -> Page<ListedPresenceClient> {
        status: [200],
        args: "user_id, query",
        query: [PAGE],
        routes: [Get "/users/<user_id>/clients"],
        parse: {} (id(args, "user_id")?, &page(args)?),
        run: engine.read(|s, env| directory::list_presence_clients(s, env, actor, user, page)),
    }

    /// Renew a presence client.
    write fn renew_presence_client(user: Uuid, client: Uuid, input: PresenceInput) -> PresenceClient {
        status: [200],
        args: "user_id, client_id, body{presence_expires_in}",
        query: [],
        routes: [Patch "/users/<user_id>/clients/<client_id>"],
        parse: {} (id(args, "user_id")?, id(args, "client_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            directory::renew_presence_client(s, env, actor, user, client, input)
        }),
    }

    /// End a presence client.
    write fn delete_presence_client(user: Uuid, client: Uuid) -> () {
        status: [204],
        args: "user_id, client_id",
        query: [],
        routes: [Delete "/users/<user_id>/clients/<client_id>"],
        parse: {} (id(args, "user_id")?, id(args, "client_id")?),
        run: engine.write(None, |s, env| directory::delete_presence_client(s, env, actor, user, client)),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const VISITORS, tag "public";

    /// Public: authenticate a visitor.
    ///
    /// A new visitor (without `secret`) or a returning one: the visitor's id and access token.
    write(public) fn visitor_auth(org: Uuid, secret: Option<&str>) -> VisitorAuth {
        status: [200],
        args: "organization_id, body{visitor_secret_id}",
        query: [],
        routes: [Post "/public/orgs/<organization_id>/auth"],
        parse: { let b: VisitorAuthBody = body(args)?; }
            (id(args, "organization_id")?, b.visitor_secret_id.as_deref()),
        run: engine.write(None, |s, env| directory::visitor_auth(s, env, org, secret)),
    }

    /// Public: a visitor enters a room (201 new, 200 existing).
    ///
    /// Returns (visitor, created).
    write fn visitor_enter_room(org: Uuid, room: Uuid, visitor: Uuid, presence_expires_in: Option<i64>) -> (Visitor, bool) {
        status: [201 or 200],
        args: "organization_id, room_id, body{id,presence_expires_in}",
        query: [],
        routes: [Post "/public/orgs/<organization_id>/rooms/<room_id>/visitors"],
        parse: { let (visitor, expires_in) = enter_room(args)?; }
            (id(args, "organization_id")?, id(args, "room_id")?, visitor, expires_in),
        run: engine.write(None, |s, env| {
            directory::visitor_enter_room(s, env, actor, org, room, visitor, presence_expires_in)
        }),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const HOST, tag "host";

    /// Host: set a user's presence.
    ///
    /// Present for `ttl_s` seconds, forever (`None`), or absent (`Some(0)`).
    write(host) fn set_user_presence(user: Uuid, ttl_s: Option<i64>) -> () {
        status: [204],
        args: "user_id, body{ttl_s|null}",
        query: [],
        routes: [],
        parse: {} (id(args, "user_id")?, ttl(args)?),
        run: engine.write(None, |s, env| {
            directory::set_presence(s, env, PresenceHolder::User(user), ttl_s)
        }),
    }

    /// Host: set a visitor's presence.
    ///
    /// Present for `ttl_s` seconds, forever (`None`), or absent (`Some(0)`).
    write(host) fn set_visitor_presence(visitor: Uuid, ttl_s: Option<i64>) -> () {
        status: [204],
        args: "visitor_id, body{ttl_s|null}",
        query: [],
        routes: [],
        parse: {} (visitor(args, "visitor_id")?, ttl(args)?),
        run: engine.write(None, |s, env| {
            directory::set_presence(s, env, PresenceHolder::Visitor(visitor), ttl_s)
        }),
    }

    /// Host: load a seed.
    write(host) fn load_seed(seed: Seed) -> SeedReport {
        status: [200],
        args: "body (seed file)",
        query: [],
        routes: [],
        parse: {} (body(args)?),
        run: engine.write(None, |s, env| {
            let report = seed::load(s, env, seed)?;
            held::ensure_keys(s, env)?;
            Ok(report)
        }),
    }

    /// Host: apply time-driven rules now.
    ///
    /// Every time-driven rule as of the clock's now, and retention (events, acknowledged
    /// webhook deliveries, idempotency keys).
    write(host) fn maintenance() -> MaintenanceReport {
        status: [200],
        args: "",
        query: [],
        routes: [],
        parse: {} (),
        run: {
            let (window, bytes) = (engine.event_retention_ms, engine.event_retention_bytes);
            engine.write(None, |s, env| time_rules::run_with_retention(s, env, window, bytes))
        },
    }
}
