//! Directory operations with their authorization.

use super::*;
use crate::Env;
use crate::auth::{self, Actor, access_user, manage_org, read_org, token_hash};
use crate::error::{ChatError, Result, Validator};
use crate::ids::random_bytes;
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::{PresenceHolder, Store};

const ORDER_CREATED: u8 = 1;

// ---- organizations --------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewOrganization {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub has_active_subscription: Option<bool>,
    pub private_chat_history: Option<bool>,
    pub private_chats: Option<bool>,
    pub encrypt_chats: Option<bool>,
    pub chat_idle_timeout_s: Option<i64>,
    pub partner_ids: Option<Vec<Uuid>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub has_active_subscription: Option<bool>,
    pub private_chat_history: Option<bool>,
    pub private_chats: Option<bool>,
    pub encrypt_chats: Option<bool>,
    pub chat_idle_timeout_s: Option<i64>,
    pub partner_ids: Option<Vec<Uuid>>,
}

fn check_name(v: &mut Validator, field: &str, name: Option<&str>, required: bool) {
    match name {
        None if required => v.add(field, "This field is required."),
        Some(n) if n.trim().is_empty() => v.add(field, "This field may not be blank."),
        Some(n) if n.chars().count() > 255 => {
            v.add(field, "Ensure this field has no more than 255 characters.")
        }
        _ => {}
    }
}

fn check_timeout(v: &mut Validator, t: Option<i64>) {
    if let Some(t) = t
        && t <= 0
    {
        v.add(
            "chat_idle_timeout_s",
            "Ensure this value is greater than 0.",
        );
    }
}

pub fn create_organization(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    input: NewOrganization,
) -> Result<Organization> {
    if *actor != Actor::Admin {
        return Err(ChatError::permission_denied(
            "Only the server administrator may create organizations.",
        ));
    }
    let mut v = Validator::new();
    check_name(&mut v, "name", input.name.as_deref(), true);
    check_timeout(&mut v, input.chat_idle_timeout_s);
    v.finish()?;
    let id = input.id.unwrap_or_else(|| env.ids.new_id());
    if s.org(id)?.is_some() {
        return Err(ChatError::new(
            crate::ErrorCode::AlreadyExists,
            "An organization with this id exists.",
        ));
    }
    let rec = OrgRecord {
        id,
        name: input.name.unwrap_or_default(),
        has_active_subscription: input.has_active_subscription.unwrap_or(true),
        private_chat_history: input.private_chat_history.unwrap_or(false),
        private_chats: input.private_chats.unwrap_or(false),
        encrypt_chats: input.encrypt_chats.unwrap_or(false),
        chat_idle_timeout_s: input.chat_idle_timeout_s.unwrap_or(1800),
        created_at: env.now,
        updated_at: env.now,
    };
    s.insert_org(&rec)?;
    for p in input.partner_ids.unwrap_or_default() {
        if s.org(p)?.is_some() {
            s.add_partner(id, p)?;
        }
    }
    Ok(Organization::from_record(&rec, &s.partners(id)?))
}

pub fn get_organization(s: &dyn Store, actor: &Actor, org_id: Uuid) -> Result<Organization> {
    if *actor != Actor::Admin {
        // Reading one's own organization works even without a subscription: it is how a
        // client learns why everything else answers 403.
        let me = match actor {
            Actor::User(u) => s
                .user(*u)?
                .filter(|u| !u.is_deleted)
                .ok_or_else(ChatError::unauthenticated)?,
            _ => {
                return Err(ChatError::permission_denied(
                    "This operation is for organization users.",
                ));
            }
        };
        if me.organization_id != org_id {
            return Err(ChatError::permission_denied(
                "You do not have access to this organization.",
            ));
        }
    }
    let org = s
        .org(org_id)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    Ok(Organization::from_record(&org, &s.partners(org_id)?))
}

pub fn update_organization(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    patch: OrganizationPatch,
) -> Result<Organization> {
    if *actor != Actor::Admin {
        manage_org(s, actor, org_id)?;
    }
    let mut org = s
        .org(org_id)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    let mut v = Validator::new();
    if patch.name.is_some() {
        check_name(&mut v, "name", patch.name.as_deref(), false);
    }
    check_timeout(&mut v, patch.chat_idle_timeout_s);
    v.finish()?;
    if let Some(n) = patch.name {
        org.name = n;
    }
    if let Some(b) = patch.has_active_subscription {
        org.has_active_subscription = b;
    }
    if let Some(b) = patch.private_chat_history {
        org.private_chat_history = b;
    }
    if let Some(b) = patch.private_chats {
        org.private_chats = b;
    }
    if let Some(b) = patch.encrypt_chats {
        org.encrypt_chats = b;
    }
    if let Some(t) = patch.chat_idle_timeout_s {
        org.chat_idle_timeout_s = t;
    }
    org.updated_at = env.now;
    s.update_org(&org)?;
    for p in patch.partner_ids.unwrap_or_default() {
        if s.org(p)?.is_none() {
            return Err(ChatError::field(
                "partner_ids",
                format!("Organization {p} does not exist."),
            ));
        }
        s.add_partner(org_id, p)?;
    }
    Ok(Organization::from_record(&org, &s.partners(org_id)?))
}

// ---- users ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewUser {
    pub id: Option<Uuid>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub alias: Option<String>,
    pub avatar_url: Option<String>,
    pub is_bot: Option<bool>,
    pub permissions: Option<Vec<String>>,
    pub is_present: Option<bool>,
    /// Seed files only: a fixed API token for the user.
    pub api_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub alias: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub avatar_url: Option<Option<String>>,
    pub is_bot: Option<bool>,
    pub permissions: Option<Vec<String>>,
}

fn parse_permissions(v: &mut Validator, perms: &[String]) -> (bool, bool) {
    let mut reports = false;
    let mut settings = false;
    for p in perms {
        match p.as_str() {
            "reports" => reports = true,
            "settings" => settings = true,
            other => v.add(
                "permissions",
                format!("\"{other}\" is not a valid permission (reports, settings)."),
            ),
        }
    }
    (reports, settings)
}

fn check_avatar(v: &mut Validator, url: Option<&str>) {
    if let Some(u) = url
        && !crate::messages::is_http_url(u)
    {
        v.add("avatar_url", "Enter a valid URL.");
    }
}

pub fn create_user(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    input: NewUser,
) -> Result<User> {
    manage_org(s, actor, org_id)?;
    s.org(org_id)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    let mut v = Validator::new();
    if input.first_name.is_none() && input.last_name.is_none() {
        v.add("first_name", "Either first_name or last_name is required.");
    }
    let (reports, settings) =
        parse_permissions(&mut v, input.permissions.as_deref().unwrap_or_default());
    check_avatar(&mut v, input.avatar_url.as_deref());
    if let Some(t) = &input.api_token
        && t.len() < 16
    {
        v.add("api_token", "Ensure this field has at least 16 characters.");
    }
    v.finish()?;
    let id = input.id.unwrap_or_else(|| env.ids.new_id());
    if s.user(id)?.is_some() {
        return Err(ChatError::new(
            crate::ErrorCode::AlreadyExists,
            "A user with this id exists.",
        ));
    }
    let rec = UserRecord {
        id,
        organization_id: org_id,
        first_name: input.first_name.unwrap_or_default(),
        last_name: input.last_name.unwrap_or_default(),
        alias: input.alias.filter(|a| !a.is_empty()),
        avatar_id: input.avatar_url.as_ref().map(|_| env.ids.new_id()),
        avatar_url: input.avatar_url,
        is_bot: input.is_bot.unwrap_or(false),
        is_deleted: false,
        perm_reports: reports,
        perm_settings: settings,
        present_until: 0,
        created_at: env.now,
        updated_at: env.now,
    };
    s.insert_user(&rec)?;
    if input.is_present == Some(true) {
        s.upsert_presence_client(
            env.ids.new_id(),
            PresenceHolder::User(id),
            PRESENT_FOREVER,
            env.now,
        )?;
    }
    if let Some(t) = input.api_token {
        s.insert_token(env.ids.new_id(), id, &token_hash(&t), env.now)?;
    }
    let rec = s
        .user(id)?
        .ok_or_else(|| ChatError::internal("user vanished"))?;
    Ok(User::from_record(&rec, env.now))
}

pub fn get_user(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<User> {
    read_org(s, actor, org_id)?;
    let u = s
        .user(user_id)?
        .filter(|u| u.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("User"))?;
    Ok(User::from_record(&u, env.now))
}

pub fn me(s: &dyn Store, env: &Env, actor: &Actor) -> Result<User> {
    let me = auth::acting_user(s, actor)?;
    Ok(User::from_record(&me.user, env.now))
}

pub fn list_users(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    page: &PageRequest,
) -> Result<Page<User>> {
    read_org(s, actor, org_id)?;
    let p = paginate(
        page,
        ORDER_CREATED,
        false,
        |k| s.users_of_org(org_id, k),
        |u| SortKey::new(u.created_at, u.id.as_bytes().to_vec()),
    )?;
    Ok(p.map(|u| User::from_record(&u, env.now)))
}

pub fn update_user(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    user_id: Uuid,
    patch: UserPatch,
) -> Result<User> {
    manage_org(s, actor, org_id)?;
    let mut u = s
        .user(user_id)?
        .filter(|u| u.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("User"))?;
    let mut v = Validator::new();
    if let Some(p) = &patch.permissions {
        let (r, st) = parse_permissions(&mut v, p);
        u.perm_reports = r;
        u.perm_settings = st;
    }
    if let Some(Some(url)) = &patch.avatar_url {
        check_avatar(&mut v, Some(url));
    }
    v.finish()?;
    if let Some(f) = patch.first_name {
        u.first_name = f;
    }
    if let Some(l) = patch.last_name {
        u.last_name = l;
    }
    if let Some(a) = patch.alias {
        u.alias = a.filter(|a| !a.is_empty());
    }
    if let Some(url) = patch.avatar_url {
        u.avatar_id = url.as_ref().map(|_| env.ids.new_id());
        u.avatar_url = url;
    }
    if let Some(b) = patch.is_bot {
        u.is_bot = b;
    }
    u.updated_at = env.now;
    s.update_user(&u)?;
    Ok(User::from_record(&u, env.now))
}

/// Deleting a user keeps their history: they are marked deleted and lose presence.
pub fn delete_user(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<()> {
    manage_org(s, actor, org_id)?;
    let mut u = s
        .user(user_id)?
        .filter(|u| u.organization_id == org_id && !u.is_deleted)
        .ok_or_else(|| ChatError::not_found("User"))?;
    s.clear_presence(PresenceHolder::User(user_id), env.now)?;
    u.is_deleted = true;
    u.present_until = 0;
    u.updated_at = env.now;
    s.update_user(&u)
}

/// A new random API token for a user (128 bits, shown once, stored as a hash).
pub fn create_api_token(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
) -> Result<ApiToken> {
    if *actor != Actor::Admin {
        access_user(s, actor, user_id)?;
    }
    s.user(user_id)?
        .filter(|u| !u.is_deleted)
        .ok_or_else(|| ChatError::not_found("User"))?;
    let token = format!("ct_{}", hex::encode(random_bytes::<20>()));
    let id = env.ids.new_id();
    s.insert_token(id, user_id, &token_hash(&token), env.now)?;
    Ok(ApiToken {
        id: id.to_string(),
        user_id: user_id.to_string(),
        token,
        created_at: format_ms(env.now),
    })
}

pub fn revoke_api_token(s: &dyn Store, actor: &Actor, user_id: Uuid, token_id: Uuid) -> Result<()> {
    if *actor != Actor::Admin {
        access_user(s, actor, user_id)?;
    }
    if s.delete_token(user_id, token_id)? {
        Ok(())
    } else {
        Err(ChatError::not_found("API token"))
    }
}

/// Resolves a bearer token to its actor: an API token of a user, an app token minted for a
/// webhook delivery (acting as the webhook's bot user until it expires), or a visitor access
/// token. The actor of a token (by its hash, [`token_hash`]) and until when the token is
/// valid as far as time goes (`Millis::MAX` for API tokens, which do not expire).
pub fn authenticate(s: &dyn Store, env: &Env, token_hash: &[u8]) -> Result<(Actor, Millis)> {
    if let Some(user) = s.user_by_token(token_hash)?
        && s.user(user)?.is_some_and(|u| !u.is_deleted)
    {
        return Ok((Actor::User(user), Millis::MAX));
    }
    if let Some((user, expires_at)) = s.user_by_webhook_token(token_hash, env.now)?
        && s.user(user)?.is_some_and(|u| !u.is_deleted)
    {
        return Ok((Actor::User(user), expires_at));
    }
    if let Some((visitor, expires_at)) = s.visitor_by_token(token_hash, env.now)? {
        return Ok((Actor::Visitor(visitor), expires_at));
    }
    Err(ChatError::unauthenticated())
}

// ---- teams ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewTeam {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub member_ids: Option<Vec<Uuid>>,
}

pub(crate) fn team_resource(s: &dyn Store, t: &TeamRecord, now: Millis) -> Result<Team> {
    let (members, present) = s.team_presence(t.id, now)?;
    Ok(Team {
        id: t.id.to_string(),
        organization_id: t.organization_id.to_string(),
        name: t.name.clone(),
        member_count: members,
        present_member_count: present,
        is_present: present > 0,
        is_online: present > 0,
        member_ids: s
            .team_member_ids(t.id)?
            .iter()
            .map(Uuid::to_string)
            .collect(),
        created_at: format_ms(t.created_at),
        updated_at: format_ms(t.updated_at),
    })
}

pub fn create_team(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    input: NewTeam,
) -> Result<Team> {
    manage_org(s, actor, org_id)?;
    let mut v = Validator::new();
    check_name(&mut v, "name", input.name.as_deref(), true);
    for m in input.member_ids.iter().flatten() {
        if s.user(*m)?.is_none_or(|u| u.organization_id != org_id) {
            v.add(
                "member_ids",
                format!("User {m} is not in this organization."),
            );
        }
    }
    v.finish()?;
    let t = TeamRecord {
        id: input.id.unwrap_or_else(|| env.ids.new_id()),
        organization_id: org_id,
        name: input.name.unwrap_or_default(),
        created_at: env.now,
        updated_at: env.now,
    };
    s.insert_team(&t)?;
    for m in input.member_ids.unwrap_or_default() {
        s.set_team_member(t.id, m, true)?;
    }
    team_resource(s, &t, env.now)
}

pub fn list_teams(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Team>> {
    read_org(s, actor, org_id)?;
    let p = paginate(
        page,
        ORDER_CREATED,
        false,
        |k| s.teams_of_org(org_id, k),
        |t| SortKey::new(t.created_at, t.id.as_bytes().to_vec()),
    )?;
    p.try_map(|t| team_resource(s, &t, env.now))
}

pub fn get_team(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    team_id: Uuid,
) -> Result<Team> {
    read_org(s, actor, org_id)?;
    let t = s
        .team(team_id)?
        .filter(|t| t.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Team"))?;
    team_resource(s, &t, env.now)
}

/// Adds (`member = true`) or removes a user of the organization to or from a team.
pub fn set_team_membership(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    team_id: Uuid,
    user_id: Uuid,
    member: bool,
) -> Result<Team> {
    manage_org(s, actor, org_id)?;
    let t = s
        .team(team_id)?
        .filter(|t| t.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Team"))?;
    if s.user(user_id)?.is_none_or(|u| u.organization_id != org_id) {
        return Err(ChatError::not_found("User"));
    }
    let changed = s.set_team_member(team_id, user_id, member)?;
    if !member && !changed {
        return Err(ChatError::not_found("Team membership"));
    }
    team_resource(s, &t, env.now)
}

// ---- routers --------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewRouter {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub steps: Option<Vec<RouterStep>>,
}

fn check_steps(s: &dyn Store, v: &mut Validator, org_id: Uuid, steps: &[RouterStep]) -> Result<()> {
    for (i, step) in steps.iter().enumerate() {
        for u in &step.user_ids {
            if s.user(*u)?.is_none_or(|u| u.organization_id != org_id) {
                v.add(
                    format!("steps[{i}].user_ids"),
                    format!("User {u} is not in this organization."),
                );
            }
        }
        for t in &step.team_ids {
            let ok = match s.team(*t)? {
                Some(team) => team.organization_id == org_id || s.team_shared_with(*t, org_id)?,
                None => false,
            };
            if !ok {
                v.add(
                    format!("steps[{i}].team_ids"),
                    format!("Team {t} is not available to this organization."),
                );
            }
        }
    }
    Ok(())
}

pub fn create_router(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    input: NewRouter,
) -> Result<Router> {
    manage_org(s, actor, org_id)?;
    let steps = input.steps.unwrap_or_default();
    let mut v = Validator::new();
    check_steps(s, &mut v, org_id, &steps)?;
    v.finish()?;
    let r = RouterRecord {
        id: input.id.unwrap_or_else(|| env.ids.new_id()),
        organization_id: org_id,
        name: input.name.unwrap_or_default(),
        steps,
        created_at: env.now,
    };
    s.insert_router(&r)?;
    Ok(Router::from_record(&r))
}

pub fn list_routers(s: &dyn Store, actor: &Actor, org_id: Uuid) -> Result<Vec<Router>> {
    read_org(s, actor, org_id)?;
    Ok(s.routers_of_org(org_id)?
        .iter()
        .map(Router::from_record)
        .collect())
}

// ---- rooms ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewRoom {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub language_code: Option<String>,
    pub allowed_tags: Option<Vec<String>>,
    pub ttl_s: Option<i64>,
    pub shared_with: Option<Vec<Uuid>>,
    pub router_id: Option<Uuid>,
    /// Seed files: the router's steps inline (a router is created for the room).
    pub router: Option<Vec<RouterStep>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub language_code: Option<Option<String>>,
    pub allowed_tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub ttl_s: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::input::explicit_null")]
    pub router_id: Option<Option<Uuid>>,
    pub shared_with: Option<Vec<Uuid>>,
}

pub(crate) fn room_resource(s: &dyn Store, r: &RoomRecord) -> Result<Room> {
    Ok(Room {
        id: r.id.to_string(),
        organization_id: r.organization_id.to_string(),
        name: r.name.clone(),
        language_code: r.language_code.clone(),
        allowed_tags: s
            .room_allowed_tags(r.id)?
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
        ttl_s: r.ttl_s,
        shared_with: s.room_shares(r.id)?.iter().map(Uuid::to_string).collect(),
        router_id: r.router_id.map(|u| u.to_string()),
        created_at: format_ms(r.created_at),
        updated_at: format_ms(r.updated_at),
    })
}

fn check_tags(v: &mut Validator, tags: &[String]) {
    for t in tags {
        if t.trim().is_empty() || t.chars().count() > 100 {
            v.add("allowed_tags", "Each tag must have 1 to 100 characters.");
        }
    }
}

fn check_shares(s: &dyn Store, v: &mut Validator, org_id: Uuid, shares: &[Uuid]) -> Result<()> {
    let partners = s.partners(org_id)?;
    for o in shares {
        if !partners.contains(o) {
            v.add(
                "shared_with",
                format!("Organization {o} is not a partner of this organization."),
            );
        }
    }
    Ok(())
}

pub fn create_room(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    input: NewRoom,
) -> Result<Room> {
    manage_org(s, actor, org_id)?;
    let mut v = Validator::new();
    check_name(&mut v, "name", input.name.as_deref(), true);
    check_tags(&mut v, input.allowed_tags.as_deref().unwrap_or_default());
    if input.ttl_s.is_some_and(|t| t <= 0) {
        v.add("ttl_s", "Ensure this value is greater than 0.");
    }
    check_shares(
        s,
        &mut v,
        org_id,
        input.shared_with.as_deref().unwrap_or_default(),
    )?;
    if let Some(r) = input.router_id
        && s.router(r)?.is_none_or(|r| r.organization_id != org_id)
    {
        v.add("router_id", "Router not found in this organization.");
    }
    if let Some(steps) = &input.router {
        check_steps(s, &mut v, org_id, steps)?;
    }
    v.finish()?;
    let mut router_id = input.router_id;
    if let Some(steps) = input.router {
        let r = RouterRecord {
            id: env.ids.new_id(),
            organization_id: org_id,
            name: String::new(),
            steps,
            created_at: env.now,
        };
        s.insert_router(&r)?;
        router_id = Some(r.id);
    }
    let room = RoomRecord {
        id: input.id.unwrap_or_else(|| env.ids.new_id()),
        organization_id: org_id,
        name: input.name.unwrap_or_default(),
        language_code: input.language_code,
        ttl_s: input.ttl_s,
        router_id,
        created_at: env.now,
        updated_at: env.now,
    };
    if s.room(room.id)?.is_some() {
        return Err(ChatError::new(
            crate::ErrorCode::AlreadyExists,
            "A room with this id exists.",
        ));
    }
    s.insert_room(&room)?;
    s.set_room_allowed_tags(
        room.id,
        input.allowed_tags.as_deref().unwrap_or_default(),
        env.now,
    )?;
    for o in input.shared_with.unwrap_or_default() {
        s.share_room(room.id, o)?;
    }
    room_resource(s, &room)
}

pub fn update_room(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    patch: RoomPatch,
) -> Result<Room> {
    manage_org(s, actor, org_id)?;
    let mut room = s
        .room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))?;
    let mut v = Validator::new();
    if patch.name.is_some() {
        check_name(&mut v, "name", patch.name.as_deref(), false);
    }
    check_tags(&mut v, patch.allowed_tags.as_deref().unwrap_or_default());
    if let Some(Some(t)) = patch.ttl_s
        && t <= 0
    {
        v.add("ttl_s", "Ensure this value is greater than 0.");
    }
    if let Some(Some(r)) = patch.router_id
        && s.router(r)?.is_none_or(|r| r.organization_id != org_id)
    {
        v.add("router_id", "Router not found in this organization.");
    }
    check_shares(
        s,
        &mut v,
        org_id,
        patch.shared_with.as_deref().unwrap_or_default(),
    )?;
    v.finish()?;
    if let Some(n) = patch.name {
        room.name = n;
    }
    if let Some(l) = patch.language_code {
        room.language_code = l;
    }
    if let Some(t) = patch.ttl_s {
        room.ttl_s = t;
    }
    if let Some(r) = patch.router_id {
        room.router_id = r;
    }
    room.updated_at = env.now;
    s.update_room(&room)?;
    if let Some(tags) = patch.allowed_tags {
        s.set_room_allowed_tags(room_id, &tags, env.now)?;
    }
    for o in patch.shared_with.unwrap_or_default() {
        s.share_room(room_id, o)?;
    }
    room_resource(s, &room)
}

pub fn get_room(s: &dyn Store, actor: &Actor, org_id: Uuid, room_id: Uuid) -> Result<Room> {
    read_org(s, actor, org_id)?;
    let room = s
        .room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))?;
    room_resource(s, &room)
}

/// A room as seen by a user: own organization's rooms and rooms shared with it.
pub fn get_user_room(s: &dyn Store, actor: &Actor, user_id: Uuid, room_id: Uuid) -> Result<Room> {
    let (_, target) = access_user(s, actor, user_id)?;
    let room = user_room(s, &target.user, room_id)?;
    room_resource(s, &room)
}

/// The room if the user's organization owns it or it is shared with it; else 404.
pub fn user_room(s: &dyn Store, user: &UserRecord, room_id: Uuid) -> Result<RoomRecord> {
    let room = s
        .room(room_id)?
        .ok_or_else(|| ChatError::not_found("Room"))?;
    let shared_with = if room.organization_id == user.organization_id {
        Vec::new()
    } else {
        s.room_shares(room_id)?
    };
    let reach = crate::directory::RoomReach {
        room: &room,
        steps: &[],
        shared_with: &shared_with,
    };
    if reach.is_visible_to(user) {
        Ok(room)
    } else {
        Err(ChatError::not_found("Room"))
    }
}

pub fn list_rooms(
    s: &dyn Store,
    actor: &Actor,
    org_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Room>> {
    read_org(s, actor, org_id)?;
    let p = paginate(
        page,
        ORDER_CREATED,
        false,
        |k| s.rooms_of_org(org_id, k),
        |r| SortKey::new(r.created_at, r.id.as_bytes().to_vec()),
    )?;
    p.try_map(|r| room_resource(s, &r))
}

pub fn share_room(
    s: &dyn Store,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    partner: Uuid,
) -> Result<Room> {
    manage_org(s, actor, org_id)?;
    let room = s
        .room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))?;
    let mut v = Validator::new();
    check_shares(s, &mut v, org_id, &[partner])?;
    if !v.is_empty() {
        return Err(ChatError::field(
            "organization_id",
            "Not a partner organization.",
        ));
    }
    s.share_room(room_id, partner)?;
    room_resource(s, &room)
}

pub fn share_team(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    team_id: Uuid,
    partner: Uuid,
) -> Result<Team> {
    manage_org(s, actor, org_id)?;
    let team = s
        .team(team_id)?
        .filter(|t| t.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Team"))?;
    if !s.partners(org_id)?.contains(&partner) {
        return Err(ChatError::field(
            "organization_id",
            "Not a partner organization.",
        ));
    }
    s.share_team(team_id, partner)?;
    team_resource(s, &team, env.now)
}

// ---- visitors -------------------------------------------------------------------------------

/// How long a visitor access token lives.
pub const VISITOR_TOKEN_TTL_S: i64 = 24 * 3600;

/// Public auth: a new visitor, or the one whose secret is sent back.
pub fn visitor_auth(
    s: &dyn Store,
    env: &Env,
    org_id: Uuid,
    secret: Option<&str>,
) -> Result<VisitorAuth> {
    let org = s
        .org(org_id)?
        .ok_or_else(|| ChatError::not_found("Organization"))?;
    let (visitor, secret) = match secret {
        Some(sec) => {
            let v = s
                .visitor_by_secret(org.id, &token_hash(sec))?
                .ok_or_else(|| ChatError::field("visitor_secret_id", "Unknown visitor secret."))?;
            (v, sec.to_string())
        }
        None => {
            let sec = hex::encode(random_bytes::<16>());
            let v = VisitorRecord {
                id: env.ids.new_visitor_id(),
                organization_id: org.id,
                name: None,
                present_until: 0,
                sensitive_data_purged_at: None,
                created_at: env.now,
                updated_at: env.now,
            };
            s.insert_visitor(&v, Some(&token_hash(&sec)))?;
            (v, sec)
        }
    };
    let token = format!("vt_{}", hex::encode(random_bytes::<20>()));
    let expires_at = env.now + VISITOR_TOKEN_TTL_S * 1000;
    s.insert_visitor_token(&token_hash(&token), visitor.id, expires_at)?;
    Ok(VisitorAuth {
        visitor_id: visitor_id_str(&visitor.id),
        visitor_secret_id: secret,
        organization_id: org.id.to_string(),
        access_token: token,
        expires_at: format_ms(expires_at),
        expires_in: VISITOR_TOKEN_TTL_S,
    })
}

/// The visitor enters a room (public API); renews presence. Returns (visitor, created).
pub fn visitor_enter_room(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    visitor_id: Uuid,
    presence_expires_in: Option<i64>,
) -> Result<(Visitor, bool)> {
    auth::act_as_visitor(actor, visitor_id)?;
    let visitor = s
        .visitor(visitor_id)?
        .filter(|v| v.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    s.room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))?;
    if presence_expires_in.is_some_and(|t| t <= 0) {
        return Err(ChatError::field(
            "presence_expires_in",
            "Ensure this value is greater than 0.",
        ));
    }
    let created = s.add_visitor_to_room(visitor_id, room_id, env.now)?;
    let ttl = presence_expires_in.unwrap_or(60);
    // One presence client per visitor: its id is the visitor's.
    s.upsert_presence_client(
        visitor_id,
        PresenceHolder::Visitor(visitor_id),
        env.now + ttl * 1000,
        env.now,
    )?;
    let visitor = s
        .visitor(visitor.id)?
        .ok_or_else(|| ChatError::internal("visitor vanished"))?;
    Ok((
        Visitor::from_record(&visitor, s.visitor_variables(visitor_id, room_id)?, env.now),
        created,
    ))
}

/// An operator looks up a visitor of a room they can reach.
pub fn get_room_visitor(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    room_id: Uuid,
    visitor_id: Uuid,
) -> Result<Visitor> {
    let (_, target) = access_user(s, actor, user_id)?;
    let room = user_room(s, &target.user, room_id)?;
    let v = s
        .visitor(visitor_id)?
        .filter(|v| v.organization_id == room.organization_id)
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    Ok(Visitor::from_record(
        &v,
        s.visitor_variables(visitor_id, room_id)?,
        env.now,
    ))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitorVariable {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Sets a visitor variable; `username` also sets the visitor's name.
pub fn set_visitor_variable(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    visitor_id: Uuid,
    input: VisitorVariable,
) -> Result<Visitor> {
    if *actor != Actor::Admin {
        auth::access_org(s, actor, org_id)?;
    }
    s.room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))?;
    let mut visitor = s
        .visitor(visitor_id)?
        .filter(|v| v.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Visitor"))?;
    let mut v = Validator::new();
    match &input.key {
        None => v.add("key", "This field is required."),
        Some(k) if k.is_empty() || k.len() > 255 => {
            v.add("key", "Ensure this field has 1 to 255 characters.")
        }
        _ => {}
    }
    if input.value.is_none() {
        v.add("value", "This field is required.");
    }
    v.finish()?;
    let key = input.key.unwrap_or_default();
    let value = input.value.unwrap_or_default();
    s.add_visitor_to_room(visitor_id, room_id, env.now)?;
    s.set_visitor_variable(visitor_id, room_id, &key, &value, env.now)?;
    if key == "username" {
        visitor.name = Some(value).filter(|v| !v.is_empty());
        visitor.updated_at = env.now;
        s.update_visitor(&visitor)?;
    }
    Ok(Visitor::from_record(
        &visitor,
        s.visitor_variables(visitor_id, room_id)?,
        env.now,
    ))
}

// ---- presence clients ------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    pub presence_expires_in: Option<i64>,
}

fn presence_ttl(input: &PresenceInput) -> Result<i64> {
    match input.presence_expires_in {
        None => Err(ChatError::required("presence_expires_in")),
        Some(t) if t <= 0 || t > 86_400 => Err(ChatError::field(
            "presence_expires_in",
            "Ensure this value is between 1 and 86400.",
        )),
        Some(t) => Ok(t),
    }
}

pub fn create_presence_client(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    input: PresenceInput,
) -> Result<PresenceClient> {
    access_user(s, actor, user_id)?;
    let ttl = presence_ttl(&input)?;
    let id = env.ids.new_id();
    let expires = env.now + ttl * 1000;
    s.upsert_presence_client(id, PresenceHolder::User(user_id), expires, env.now)?;
    Ok(PresenceClient {
        id: id.to_string(),
        expires_at: Some(format_ms(expires)),
        presence_expires_in: Some(ttl),
    })
}

/// The user's unexpired presence clients, oldest first (the access rule of creating one).
pub fn list_presence_clients(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    page: &PageRequest,
) -> Result<Page<ListedPresenceClient>> {
    access_user(s, actor, user_id)?;
    let p = paginate(
        page,
        ORDER_CREATED,
        false,
        |k| s.presence_clients_of_user(user_id, env.now, k),
        |c| SortKey::new(c.created_at, c.id.as_bytes().to_vec()),
    )?;
    Ok(p.map(|c| ListedPresenceClient::from_record(&c)))
}

pub fn renew_presence_client(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    client_id: Uuid,
    input: PresenceInput,
) -> Result<PresenceClient> {
    access_user(s, actor, user_id)?;
    if s.presence_client_holder(client_id)? != Some(PresenceHolder::User(user_id)) {
        return Err(ChatError::not_found("Client"));
    }
    let ttl = presence_ttl(&input)?;
    let expires = env.now + ttl * 1000;
    s.upsert_presence_client(client_id, PresenceHolder::User(user_id), expires, env.now)?;
    Ok(PresenceClient {
        id: client_id.to_string(),
        expires_at: Some(format_ms(expires)),
        presence_expires_in: Some(ttl),
    })
}

pub fn delete_presence_client(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    client_id: Uuid,
) -> Result<()> {
    access_user(s, actor, user_id)?;
    if s.presence_client_holder(client_id)? != Some(PresenceHolder::User(user_id)) {
        return Err(ChatError::not_found("Client"));
    }
    s.delete_presence_client(client_id, env.now)?;
    Ok(())
}

/// Host-side presence control (embedders without HTTP clients): present for `ttl_s` seconds,
/// forever with `None`, or absent with `Some(0)`.
pub fn set_presence(
    s: &dyn Store,
    env: &Env,
    holder: PresenceHolder,
    ttl_s: Option<i64>,
) -> Result<()> {
    match holder {
        PresenceHolder::User(u) => {
            s.user(u)?.ok_or_else(|| ChatError::not_found("User"))?;
        }
        PresenceHolder::Visitor(v) => {
            s.visitor(v)?
                .ok_or_else(|| ChatError::not_found("Visitor"))?;
        }
    }
    s.clear_presence(holder, env.now)?;
    match ttl_s {
        Some(0) => Ok(()),
        Some(t) if t < 0 => Err(ChatError::field(
            "ttl_s",
            "Ensure this value is at least 0.",
        )),
        Some(t) => s.upsert_presence_client(env.ids.new_id(), holder, env.now + t * 1000, env.now),
        None => s.upsert_presence_client(env.ids.new_id(), holder, PRESENT_FOREVER, env.now),
    }
}
