//! Who is acting, and what they may reach. Every operation takes an [`Actor`]; the checks here
//! turn it into the reference's outcomes (401, 403 for subscription / access / permissions).

use crate::directory::{OrgRecord, UserRecord};
use crate::error::{ChatError, ErrorCode, Result};
use crate::store::Store;
use uuid::Uuid;

/// The principal behind a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// An operator or bot user.
    User(Uuid),
    /// A visitor (public API).
    Visitor(Uuid),
    /// The server administrator (creates organizations, loads seeds).
    Admin,
}

impl Actor {
    /// Whether the credentials were a visitor's access token (the public API's caller), not
    /// a user's API token or the administrator's. A host that lets pages of other sites in
    /// (the widget's) lets in visitors only.
    pub fn is_visitor(&self) -> bool {
        matches!(self, Actor::Visitor(_))
    }
}

/// An authenticated user acting in their organization.
#[derive(Debug, Clone)]
pub struct UserCtx {
    pub user: UserRecord,
    pub org: OrgRecord,
}

impl UserCtx {
    pub fn reports(&self) -> bool {
        self.user.perm_reports
    }
    pub fn settings(&self) -> bool {
        self.user.perm_settings
    }
}

/// The acting user, with an active subscription.
pub fn acting_user(s: &dyn Store, actor: &Actor) -> Result<UserCtx> {
    let id = match actor {
        Actor::User(id) => *id,
        Actor::Visitor(_) | Actor::Admin => {
            return Err(ChatError::permission_denied(
                "This operation is for organization users.",
            ));
        }
    };
    let (user, org) = s
        .user_with_org(id)?
        .filter(|(u, _)| !u.is_deleted)
        .ok_or_else(ChatError::unauthenticated)?;
    let org = org.ok_or_else(ChatError::unauthenticated)?;
    if !org.has_active_subscription {
        return Err(ChatError::new(
            ErrorCode::NoActiveSubscription,
            "Your organization does not have an active subscription.",
        ));
    }
    Ok(UserCtx { user, org })
}

/// `/users/<user_id>/...`: the actor is that user, or has the settings permission in the
/// user's organization. Returns (actor, target user).
pub fn access_user(s: &dyn Store, actor: &Actor, user_id: Uuid) -> Result<(UserCtx, UserCtx)> {
    let me = acting_user(s, actor)?;
    if me.user.id == user_id {
        return Ok((me.clone(), me));
    }
    let denied = || ChatError::permission_denied("You do not have access to this user.");
    if !me.settings() {
        return Err(denied());
    }
    let target = s
        .user(user_id)?
        .filter(|u| !u.is_deleted)
        .ok_or_else(denied)?;
    if target.organization_id != me.org.id {
        return Err(denied());
    }
    let org = me.org.clone();
    Ok((me, UserCtx { user: target, org }))
}

/// `/orgs/<organization_id>/...`: the actor belongs to that organization.
pub fn access_org(s: &dyn Store, actor: &Actor, org_id: Uuid) -> Result<UserCtx> {
    let me = acting_user(s, actor)?;
    if me.org.id != org_id {
        return Err(ChatError::permission_denied(
            "You do not have access to this organization.",
        ));
    }
    Ok(me)
}

pub fn require_reports(ctx: &UserCtx) -> Result<()> {
    if ctx.reports() {
        Ok(())
    } else {
        Err(ChatError::new(
            ErrorCode::ReportsPermissionRequired,
            "You do not have reports permission.",
        ))
    }
}

/// Reports permission is needed only when the organization keeps chat history private.
pub fn require_history(ctx: &UserCtx) -> Result<()> {
    if ctx.org.private_chat_history && !ctx.reports() {
        Err(ChatError::new(
            ErrorCode::PrivateChatHistory,
            "You do not have reports permission and the organization has private chat history enabled.",
        ))
    } else {
        Ok(())
    }
}

/// Management of an organization: the admin, or a user of it with the settings permission.
pub fn manage_org(s: &dyn Store, actor: &Actor, org_id: Uuid) -> Result<Option<UserCtx>> {
    if *actor == Actor::Admin {
        return Ok(None);
    }
    let me = access_org(s, actor, org_id)?;
    if !me.settings() {
        return Err(ChatError::permission_denied(
            "You need the settings permission to manage the organization.",
        ));
    }
    Ok(Some(me))
}

/// Reading an organization's directory: the admin or any user of it.
pub fn read_org(s: &dyn Store, actor: &Actor, org_id: Uuid) -> Result<()> {
    if *actor == Actor::Admin {
        return Ok(());
    }
    access_org(s, actor, org_id).map(|_| ())
}

/// The acting visitor.
pub fn acting_visitor(actor: &Actor) -> Result<Uuid> {
    match actor {
        Actor::Visitor(id) => Ok(*id),
        _ => Err(ChatError::permission_denied(
            "This operation is for visitors.",
        )),
    }
}

/// `/public/.../visitors/<visitor_id>/...`: the actor is that visitor.
pub fn act_as_visitor(actor: &Actor, visitor_id: Uuid) -> Result<()> {
    if acting_visitor(actor)? == visitor_id {
        Ok(())
    } else {
        Err(ChatError::permission_denied(
            "You may only act as yourself.",
        ))
    }
}

/// SHA-256 of a secret token: tokens are stored only as hashes.
pub fn token_hash(token: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The most authentications remembered; past it the memory starts over.
const REMEMBERED_MAX: usize = 16_384;

/// Authentications the engine remembers, so that a request's token is not looked up again on
/// every call: looking it up takes a read transaction whose page cache every commit has
/// invalidated (≈ 45 µs of a ≈ 650 µs HTTP request, `docs/PERFORMANCE.md`).
///
/// Sound against revocation: a write that revokes or deletes a token, or deletes a user,
/// signals it (the change tracking's `Dirty::Credentials`, `Published::credentials_changed`)
/// and [`Self::forget_all`] runs once it has committed. A lookup records the generation it
/// started in and keeps its answer only if no forgetting happened meanwhile, so an answer read
/// from before a revocation committed is never kept. Visitor tokens are remembered with their expiry.
#[derive(Default)]
pub struct RememberedTokens {
    inner: parking_lot::Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    generation: u64,
    /// token hash → (actor, valid until (ms))
    actors: std::collections::HashMap<Vec<u8>, (Actor, i64)>,
}

impl RememberedTokens {
    /// The remembered actor of a token hash still valid at `now`, else the generation to pass
    /// to [`Self::remember`] after looking it up.
    pub fn recall(&self, hash: &[u8], now: i64) -> std::result::Result<Actor, u64> {
        let r = self.inner.lock();
        match r.actors.get(hash) {
            Some(&(actor, until)) if now < until => Ok(actor),
            _ => Err(r.generation),
        }
    }
    /// Keeps a looked-up authentication, unless credentials changed since `generation`.
    pub fn remember(&self, generation: u64, hash: Vec<u8>, actor: Actor, until: i64) {
        let mut r = self.inner.lock();
        if r.generation != generation {
            return;
        }
        if r.actors.len() >= REMEMBERED_MAX {
            r.actors.clear();
        }
        r.actors.insert(hash, (actor, until));
    }
    /// Forgets every authentication (credentials changed in a committed write).
    pub fn forget_all(&self) {
        let mut r = self.inner.lock();
        r.generation += 1;
        r.actors.clear();
    }
}

#[cfg(test)]
mod remembered_tokens_tests {
    use super::*;

    #[test]
    fn an_answer_looked_up_across_a_forgetting_is_not_kept() {
        let r = RememberedTokens::default();
        let ann = Actor::User(Uuid::from_u128(1));
        let Err(generation) = r.recall(b"h", 0) else {
            panic!("nothing is remembered yet");
        };
        // A revocation commits while the lookup (from an older snapshot) runs.
        r.forget_all();
        r.remember(generation, b"h".to_vec(), ann, i64::MAX);
        assert!(r.recall(b"h", 0).is_err());
        // Looked up after it: kept, until the next forgetting.
        let Err(generation) = r.recall(b"h", 0) else {
            panic!("not remembered");
        };
        r.remember(generation, b"h".to_vec(), ann, i64::MAX);
        assert_eq!(r.recall(b"h", 0), Ok(ann));
        r.forget_all();
        assert!(r.recall(b"h", 0).is_err());
    }

    #[test]
    fn a_remembered_visitor_token_ends_when_it_expires() {
        let r = RememberedTokens::default();
        let v = Actor::Visitor(Uuid::from_u128(2));
        r.remember(0, b"v".to_vec(), v, 1_000);
        assert_eq!(r.recall(b"v", 999), Ok(v));
        assert!(r.recall(b"v", 1_000).is_err());
    }
}
