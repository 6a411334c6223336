//! Conversation starter operations under `/users/<u>/chat_conversation_starters`.

use super::*;
use crate::Env;
use crate::auth::{Actor, access_user};
use crate::error::{ChatError, ErrorCode, Result, Validator};
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;

const ORDER_CREATED: u8 = 1;

fn check_language(v: &mut Validator, code: Option<&str>, required: bool) -> Option<&'static str> {
    match code {
        None => {
            if required {
                v.add("language_code", "This field is required.");
            }
            None
        }
        Some(c) => {
            let found = canonical_language(c);
            if found.is_none() {
                v.add(
                    "language_code",
                    format!("\"{c}\" is not a supported language (RFC 3066 code)."),
                );
            }
            found
        }
    }
}

fn check_message(v: &mut Validator, message: Option<&str>, required: bool) {
    match message {
        None if required => v.add("message", "This field is required."),
        Some(m) if m.trim().is_empty() => v.add("message", "This field may not be blank."),
        Some(m) if m.chars().count() > MAX_STARTER_CHARS => v.add(
            "message",
            format!("Ensure this field has no more than {MAX_STARTER_CHARS} characters."),
        ),
        _ => {}
    }
}

fn exists_error(code: &str) -> ChatError {
    ChatError::new(
        ErrorCode::ConversationStarterExists,
        format!("The user already has a conversation starter in language {code}."),
    )
}

/// The stored starter for a language code from a path (matched case-insensitively).
fn find(s: &dyn Store, user: Uuid, code: &str) -> Result<StarterRecord> {
    let canonical = canonical_language(code).unwrap_or(code);
    s.starter(user, canonical)?
        .ok_or_else(|| ChatError::not_found("Conversation starter"))
}

/// GET: the user's starters, oldest first.
pub fn list_starters(
    s: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    page: &PageRequest,
) -> Result<Page<ConversationStarter>> {
    let (_, t) = access_user(s, actor, user_id)?;
    let p = paginate(
        page,
        ORDER_CREATED,
        false,
        |k| s.select_starters(t.user.id, k),
        |r| SortKey::new(r.created_at, r.language_code.as_bytes().to_vec()),
    )?;
    Ok(p.map(|r| ConversationStarter::from_record(&r)))
}

/// POST: both attributes required; 400 `ConversationStarterExists` when the user has one in
/// the language.
pub fn create_starter(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    input: StarterInput,
) -> Result<ConversationStarter> {
    let (_, t) = access_user(s, actor, user_id)?;
    let mut v = Validator::new();
    let code = check_language(&mut v, input.language_code.as_deref(), true);
    check_message(&mut v, input.message.as_deref(), true);
    v.finish()?;
    let (Some(code), Some(message)) = (code, input.message) else {
        return Err(ChatError::internal("validated input missing"));
    };
    if s.starter(t.user.id, code)?.is_some() {
        return Err(exists_error(code));
    }
    let rec = StarterRecord {
        user_id: t.user.id,
        language_code: code.to_string(),
        message,
        created_at: env.now,
        updated_at: env.now,
    };
    s.insert_starter(&rec)?;
    Ok(ConversationStarter::from_record(&rec))
}

/// PUT (`partial = false`: `message` required) or PATCH (`partial = true`) of the starter in
/// `language_code`. A new `language_code` in the payload moves the starter to that language
/// (400 `ConversationStarterExists` if the user has one there).
pub fn update_starter(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    language_code: &str,
    input: StarterInput,
    partial: bool,
) -> Result<ConversationStarter> {
    let (_, t) = access_user(s, actor, user_id)?;
    let mut rec = find(s, t.user.id, language_code)?;
    let mut v = Validator::new();
    let new_code = check_language(&mut v, input.language_code.as_deref(), false);
    check_message(&mut v, input.message.as_deref(), !partial);
    v.finish()?;
    let old_code = rec.language_code.clone();
    if let Some(code) = new_code
        && code != old_code
    {
        if s.starter(t.user.id, code)?.is_some() {
            return Err(exists_error(code));
        }
        rec.language_code = code.to_string();
    }
    if let Some(m) = input.message {
        rec.message = m;
    }
    rec.updated_at = env.now;
    s.update_starter(&old_code, &rec)?;
    Ok(ConversationStarter::from_record(&rec))
}

/// DELETE: 404 when the user has no starter in the language.
pub fn delete_starter(
    s: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    language_code: &str,
) -> Result<()> {
    let (_, t) = access_user(s, actor, user_id)?;
    let rec = find(s, t.user.id, language_code)?;
    if !s.delete_starter(t.user.id, &rec.language_code)? {
        return Err(ChatError::not_found("Conversation starter"));
    }
    Ok(())
}
