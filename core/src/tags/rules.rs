//! Tag operations through a user's chats and an organization's owned, involved and routed
//! chats: list, list allowed, add (201 new, 200 existing), remove. `tag_count` of the chat
//! moves with every add and remove, in the same transaction.

use super::*;
use crate::Env;
use crate::auth::{Actor, manage_org, read_org};
use crate::chats::{ChatRecord, ChatScope, scoped_chat};
use crate::directory::RoomRecord;
use crate::error::{ChatError, ErrorCode, Result};
use crate::pagination::{Keyset, Page, PageRequest, SortKey, paginate};
use crate::store::Store;

const ORDER_TAGS: u8 = 1;
const ORDER_ALLOWED_TAGS: u8 = 2;

fn key(created_at: Millis, name: &str) -> SortKey {
    SortKey::new(created_at, name.as_bytes().to_vec())
}

/// The chat through one of the tag scopes: `/users/<u>/chats` (a member) or
/// `/orgs/<o>/{owned,involved,routed}_chats`.
fn tag_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
) -> Result<ChatRecord> {
    if !matches!(
        scope,
        ChatScope::UserChats { .. }
            | ChatScope::Owned { .. }
            | ChatScope::Involved { .. }
            | ChatScope::OrgRouted { .. }
    ) {
        return Err(ChatError::permission_denied(
            "Tags are reached through a user's chats or an organization's owned, involved or routed chats.",
        ));
    }
    let (_, chat) = scoped_chat(s, env, actor, scope, chat_id)?;
    Ok(chat)
}

fn locked(chat: &ChatRecord) -> Result<()> {
    if chat.is_ended {
        return Err(ChatError::new(
            ErrorCode::ChatAlreadyEnded,
            "The chat has ended: its tags can no longer change.",
        ));
    }
    Ok(())
}

/// GET `.../chats/<c>/tags`: the chat's tags, oldest first.
pub fn list_tags(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Tag>> {
    let chat = tag_chat(s, env, actor, scope, chat_id)?;
    let p = paginate(
        page,
        ORDER_TAGS,
        false,
        |k| s.select_tags(chat.pk, k),
        |t| key(t.created_at, &t.name),
    )?;
    Ok(p.map(|t| Tag::new(&t.name, t.created_at, chat.room_id)))
}

/// GET `.../chats/<c>/allowed_tags`: the allowed tags of the chat's room, in the room's order
/// (empty for a chat without a room).
pub fn list_allowed_tags(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Tag>> {
    let chat = tag_chat(s, env, actor, scope, chat_id)?;
    let allowed = match chat.room_id {
        Some(room) => s.room_allowed_tags(room)?,
        None => vec![],
    };
    allowed_page(allowed, chat.room_id, page)
}

/// One page of a room's allowed tags (in the room's order).
fn allowed_page(
    allowed: Vec<(String, Millis)>,
    room: Option<Uuid>,
    page: &PageRequest,
) -> Result<Page<Tag>> {
    // A room's allowed tags are few: walk them by keyset in memory.
    let fetch = |k: &Keyset| -> Result<Vec<(String, Millis)>> {
        let mut rows: Vec<&(String, Millis)> = allowed
            .iter()
            .filter(|(n, at)| match &k.after {
                None => true,
                Some(a) => {
                    let here = key(*at, n);
                    if k.descending { here < *a } else { here > *a }
                }
            })
            .collect();
        rows.sort_by_key(|(n, at)| key(*at, n));
        if k.descending {
            rows.reverse();
        }
        Ok(rows.into_iter().take(k.limit).cloned().collect())
    };
    let p = paginate(page, ORDER_ALLOWED_TAGS, false, fetch, |(n, at)| {
        key(*at, n)
    })?;
    Ok(p.map(|(n, at)| Tag::new(&n, at, room)))
}

/// The room `room_id` of organization `org_id` (404 otherwise).
fn org_room(s: &dyn Store, org_id: Uuid, room_id: Uuid) -> Result<RoomRecord> {
    s.room(room_id)?
        .filter(|r| r.organization_id == org_id)
        .ok_or_else(|| ChatError::not_found("Room"))
}

/// GET `/orgs/<o>/rooms/<r>/tags`: the room's allowed tags, for anyone who reads the
/// organization (as the room itself).
pub fn list_room_allowed_tags(
    s: &dyn Store,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Tag>> {
    read_org(s, actor, org_id)?;
    let room = org_room(s, org_id, room_id)?;
    allowed_page(s.room_allowed_tags(room.id)?, Some(room.id), page)
}

/// POST `/orgs/<o>/rooms/<r>/tags` `{name}`: allows one more tag in the room (settings
/// permission, as updating the room). Returns (tag, created): `false` when the room already
/// allowed it (the 200 case, with its original `created_at`).
pub fn add_room_allowed_tag(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org_id: Uuid,
    room_id: Uuid,
    input: NewTag,
) -> Result<(Tag, bool)> {
    manage_org(s, actor, org_id)?;
    let room = org_room(s, org_id, room_id)?;
    let name = valid_name(input.name.as_deref())?;
    let existing = s.room_allowed_tags(room.id)?;
    if let Some((_, at)) = existing.iter().find(|(n, _)| *n == name) {
        return Ok((Tag::new(&name, *at, Some(room.id)), false));
    }
    // A new tag goes to the end of the room's order, even within the same millisecond.
    let at = existing
        .iter()
        .map(|(_, at)| at + 1)
        .max()
        .map_or(env.now, |next| next.max(env.now));
    let created = s.add_room_allowed_tag(room.id, &name, at)?;
    Ok((Tag::new(&name, at, Some(room.id)), created))
}

/// The length rule of a tag name (required, not blank, at most `MAX_TAG_CHARS`).
fn valid_name(name: Option<&str>) -> Result<String> {
    match name {
        None => Err(ChatError::required("name")),
        Some(n) if n.trim().is_empty() => {
            Err(ChatError::field("name", "This field may not be blank."))
        }
        Some(n) if n.chars().count() > MAX_TAG_CHARS => Err(ChatError::field(
            "name",
            format!("Ensure this field has no more than {MAX_TAG_CHARS} characters."),
        )),
        Some(n) => Ok(n.to_string()),
    }
}

/// Validates a tag name against the length rule and the room's allowed tags (see the module
/// docs for the policy).
fn check_name(s: &dyn Store, chat: &ChatRecord, name: Option<&str>) -> Result<String> {
    let name = valid_name(name)?;
    if let Some(room) = chat.room_id {
        let allowed = s.room_allowed_tags(room)?;
        if !allowed.is_empty() && !allowed.iter().any(|(a, _)| *a == name) {
            return Err(ChatError::field(
                "name",
                format!("\"{name}\" is not one of the allowed tags of the chat's room."),
            ));
        }
    }
    Ok(name)
}

/// POST `.../chats/<c>/tags`. Returns (tag, created): a name the chat already has returns that
/// tag (`false`, the 200 case). An ended chat is locked: `ChatAlreadyEnded` (400; the
/// reference is silent).
pub fn add_tag(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    input: NewTag,
) -> Result<(Tag, bool)> {
    let mut chat = tag_chat(s, env, actor, scope, chat_id)?;
    let name = check_name(s, &chat, input.name.as_deref())?;
    locked(&chat)?;
    if let Some(t) = s.tag(chat.pk, &name)? {
        return Ok((Tag::new(&t.name, t.created_at, chat.room_id), false));
    }
    let rec = TagRecord {
        chat_pk: chat.pk,
        name,
        created_at: env.now,
    };
    s.insert_tag(&rec)?;
    chat.tag_count += 1;
    chat.updated_at = env.now;
    s.update_chat(&chat)?;
    Ok((Tag::new(&rec.name, rec.created_at, chat.room_id), true))
}

/// DELETE `.../chats/<c>/tags/<name>` (`name` already URL-decoded). 404 when the chat does not
/// have the tag; `ChatAlreadyEnded` (400) on an ended chat.
pub fn remove_tag(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    name: &str,
) -> Result<()> {
    let mut chat = tag_chat(s, env, actor, scope, chat_id)?;
    if s.tag(chat.pk, name)?.is_none() {
        return Err(ChatError::not_found("Tag"));
    }
    locked(&chat)?;
    if !s.delete_tag(chat.pk, name)? {
        return Err(ChatError::not_found("Tag"));
    }
    chat.tag_count -= 1;
    chat.updated_at = env.now;
    s.update_chat(&chat)?;
    Ok(())
}
