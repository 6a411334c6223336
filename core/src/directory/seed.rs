//! Loading a seed file (contract section 4): organizations, users, teams, rooms and visitors
//! with fixed IDs and API tokens, in one transaction.

use super::*;
use crate::Env;
use crate::auth::Actor;
use crate::error::{ChatError, Result};
use crate::store::{PresenceHolder, Store};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub organizations: Vec<NewOrganization>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub teams: Vec<SeedTeam>,
    #[serde(default)]
    pub rooms: Vec<SeedRoom>,
    #[serde(default)]
    pub visitors: Vec<SeedVisitor>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedUser {
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub user: NewUser,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedTeam {
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub team: NewTeam,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeedRoom {
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub room: NewRoom,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedVisitor {
    pub id: String,
    pub room_id: Uuid,
    pub name: Option<String>,
    pub is_present: Option<bool>,
}

/// What a seed created, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    pub organizations: usize,
    pub users: usize,
    pub teams: usize,
    pub rooms: usize,
    pub visitors: usize,
}

fn at(kind: &str, i: usize, e: ChatError) -> ChatError {
    let mut e = e;
    e.detail = format!("{kind}[{i}]: {}", e.detail);
    e
}

pub fn load(s: &dyn Store, env: &Env, seed: Seed) -> Result<SeedReport> {
    let admin = Actor::Admin;
    let mut report = SeedReport::default();
    // Partners may name organizations later in the file: link them after all exist.
    let mut partners = vec![];
    for (i, mut o) in seed.organizations.into_iter().enumerate() {
        let id =
            o.id.ok_or_else(|| at("organizations", i, ChatError::required("id")))?;
        partners.extend(
            o.partner_ids
                .take()
                .unwrap_or_default()
                .into_iter()
                .map(|p| (id, p)),
        );
        create_organization(s, env, &admin, o).map_err(|e| at("organizations", i, e))?;
        report.organizations += 1;
    }
    for (i, (a, b)) in partners.into_iter().enumerate() {
        if s.org(b)?.is_none() {
            return Err(at(
                "organizations",
                i,
                ChatError::field("partner_ids", format!("Organization {b} does not exist.")),
            ));
        }
        s.add_partner(a, b)?;
    }
    for (i, u) in seed.users.into_iter().enumerate() {
        if u.user.id.is_none() {
            return Err(at("users", i, ChatError::required("id")));
        }
        create_user(s, env, &admin, u.organization_id, u.user).map_err(|e| at("users", i, e))?;
        report.users += 1;
    }
    for (i, t) in seed.teams.into_iter().enumerate() {
        if t.team.id.is_none() {
            return Err(at("teams", i, ChatError::required("id")));
        }
        create_team(s, env, &admin, t.organization_id, t.team).map_err(|e| at("teams", i, e))?;
        report.teams += 1;
    }
    for (i, r) in seed.rooms.into_iter().enumerate() {
        if r.room.id.is_none() {
            return Err(at("rooms", i, ChatError::required("id")));
        }
        create_room(s, env, &admin, r.organization_id, r.room).map_err(|e| at("rooms", i, e))?;
        report.rooms += 1;
    }
    for (i, v) in seed.visitors.into_iter().enumerate() {
        let id = parse_visitor_id(&v.id).ok_or_else(|| {
            at(
                "visitors",
                i,
                ChatError::field("id", "A visitor id is 32 lowercase hex characters."),
            )
        })?;
        let room = s.room(v.room_id)?.ok_or_else(|| {
            at(
                "visitors",
                i,
                ChatError::field("room_id", "Room not found."),
            )
        })?;
        if s.visitor(id)?.is_none() {
            let rec = VisitorRecord {
                id,
                organization_id: room.organization_id,
                name: v.name.clone(),
                present_until: 0,
                sensitive_data_purged_at: None,
                created_at: env.now,
                updated_at: env.now,
            };
            s.insert_visitor(&rec, None)?;
        }
        s.add_visitor_to_room(id, room.id, env.now)?;
        if let Some(name) = &v.name {
            s.set_visitor_variable(id, room.id, "username", name, env.now)?;
        }
        if v.is_present == Some(true) {
            s.upsert_presence_client(id, PresenceHolder::Visitor(id), PRESENT_FOREVER, env.now)?;
        }
        report.visitors += 1;
    }
    Ok(report)
}

/// Visitor ids: 32 lowercase hex characters.
pub fn parse_visitor_id(s: &str) -> Option<Uuid> {
    if s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Uuid::try_parse(s).ok()
    } else {
        None
    }
}
