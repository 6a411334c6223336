//! Chat invitations: a chat member invites one user of their organization, one team (their own
//! or one a partner shares with them) or one partner organization to the chat.
//!
//! An invitation is *pending* until it is accepted or expires. A party has at most one pending
//! invitation per chat; inviting it again returns that invitation. A team or organization
//! invitation is accepted once, by the first of its users to accept. Ending a chat expires
//! every pending invitation of it.

pub(crate) mod operations;
mod rules;
#[cfg(test)]
mod tests;

pub use rules::*;

use crate::clock::Millis;
use crate::directory::{UserRecord, UserSummary};
use crate::time::{format_ms, format_opt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The one party an invitation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InviteTarget {
    User(Uuid),
    Team(Uuid),
    Organization(Uuid),
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvitationRecord {
    pub id: Uuid,
    pub chat_pk: i64,
    pub invited_by_user_id: Uuid,
    pub target: InviteTarget,
    pub accepted_by_user_id: Option<Uuid>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub accepted_at: Option<Millis>,
    pub expired_at: Option<Millis>,
    // Read alongside (not written back):
    pub chat_id: Uuid,
    pub room_id: Option<Uuid>,
    pub invited_by_user: Option<UserRecord>,
    pub accepted_by_user: Option<UserRecord>,
    /// Full name of the invited user, or the name of the team or organization.
    pub invitee_name: String,
    /// Participating user members of the chat.
    pub user_member_count: i64,
    /// Participating visitor members of the chat.
    pub visitor_member_count: i64,
}

impl InvitationRecord {
    pub fn is_pending(&self) -> bool {
        self.accepted_at.is_none() && self.expired_at.is_none()
    }
}

/// Which invitations a listing holds.
#[derive(Debug, Clone, PartialEq)]
pub enum InvitationSelection {
    /// Invitations sent by `inviter` in one chat.
    Outgoing { chat_pk: i64, inviter: Uuid },
    /// Invitations to `user`, to the teams `user` belongs to and to `org` (the user's
    /// organization), except those the user sent.
    Incoming { user: Uuid, org: Uuid },
}

/// The `is_accepted` / `is_expired` filters of both listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct InvitationFilter {
    /// true: accepted; false: pending (neither accepted nor expired).
    pub is_accepted: Option<bool>,
    /// true: expired; false: not expired.
    pub is_expired: Option<bool>,
}

/// Query parameters of the invitation listings.
pub type InvitationListParams = InvitationFilter;

/// The invitation resource exactly as the reference shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invitation {
    pub id: String,
    pub is_accepted: bool,
    pub is_expired: bool,
    pub invited_by_user_id: String,
    pub invited_by_user: Option<UserSummary>,
    pub chat_id: String,
    pub room_id: Option<String>,
    pub invited_user_id: Option<String>,
    pub invited_team_id: Option<String>,
    pub invited_organization_id: Option<String>,
    pub invitee_name: String,
    pub accepted_by_user_id: Option<String>,
    pub accepted_by_user: Option<UserSummary>,
    pub user_member_count: i64,
    pub visitor_member_count: i64,
    pub created_at: String,
    pub updated_at: String,
    pub accepted_at: Option<String>,
    pub expired_at: Option<String>,
}

impl Invitation {
    pub fn from_record(r: &InvitationRecord) -> Self {
        let (user, team, org) = match r.target {
            InviteTarget::User(u) => (Some(u), None, None),
            InviteTarget::Team(t) => (None, Some(t), None),
            InviteTarget::Organization(o) => (None, None, Some(o)),
        };
        let s = |u: Option<Uuid>| u.map(|u| u.to_string());
        Self {
            id: r.id.to_string(),
            is_accepted: r.accepted_at.is_some(),
            is_expired: r.expired_at.is_some(),
            invited_by_user_id: r.invited_by_user_id.to_string(),
            invited_by_user: r.invited_by_user.as_ref().map(UserSummary::from_record),
            chat_id: r.chat_id.to_string(),
            room_id: s(r.room_id),
            invited_user_id: s(user),
            invited_team_id: s(team),
            invited_organization_id: s(org),
            invitee_name: r.invitee_name.clone(),
            accepted_by_user_id: s(r.accepted_by_user_id),
            accepted_by_user: r.accepted_by_user.as_ref().map(UserSummary::from_record),
            user_member_count: r.user_member_count,
            visitor_member_count: r.visitor_member_count,
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
            accepted_at: format_opt(r.accepted_at),
            expired_at: format_opt(r.expired_at),
        }
    }
}

/// POST payload: exactly one of the three ids.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewInvitation {
    pub invited_user_id: Option<Uuid>,
    pub invited_team_id: Option<Uuid>,
    pub invited_organization_id: Option<Uuid>,
}

/// PUT/PATCH of an outgoing invitation: `is_expired` must be `true`; every other attribute
/// of the payload is ignored, as the reference says.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvitationExpire {
    pub is_expired: Option<bool>,
}

/// PUT/PATCH of an incoming invitation: `is_accepted` is required and must be `true`;
/// `is_expired` may not be given (it belongs to the outgoing update).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvitationAccept {
    pub is_accepted: Option<bool>,
    pub is_expired: Option<bool>,
}
