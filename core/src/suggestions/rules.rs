//! Reply suggestion operations through `/users/<u>/chats/<c>` (the user is a member) and
//! `/users/<u>/routed_chats/<c>` (the chat is routed to the user, who need not have joined).

use super::*;
use crate::Env;
use crate::auth::{Actor, UserCtx};
use crate::chats::{ChatRecord, ChatScope};
use crate::error::{ErrorCode, Validator};
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;

const ORDER_CHAT_ASC: u8 = 1;
const ORDER_CHAT_DESC: u8 = 2;
const ORDER_MESSAGE_ASC: u8 = 3;
const ORDER_MESSAGE_DESC: u8 = 4;

/// The chat through a suggestion scope, with the user the path names.
fn suggestion_chat(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
) -> Result<(UserCtx, ChatRecord)> {
    let routed = match scope {
        ChatScope::UserChats { .. } => false,
        ChatScope::UserRouted { .. } => true,
        _ => {
            return Err(ChatError::permission_denied(
                "Reply suggestions are reached through a user's chats or routed chats.",
            ));
        }
    };
    match crate::chats::scoped_chat(s, env, actor, scope, chat_id) {
        Ok((r, chat)) => Ok((r.subject, chat)),
        Err(e) if routed && e.code == ErrorCode::NotFound => Err(ChatError::new(
            ErrorCode::NotFound,
            "The chat does not exist or it is not routed to the user.",
        )),
        Err(e) => Err(e),
    }
}

fn message_in(s: &dyn Store, chat: &ChatRecord, message_id: Uuid) -> Result<()> {
    s.message(chat.pk, message_id)?
        .map(|_| ())
        .ok_or_else(|| ChatError::not_found("Message"))
}

fn page_of(
    s: &dyn Store,
    sel: SuggestionSelection,
    params: &SuggestionListParams,
    page: &PageRequest,
) -> Result<Page<ReplySuggestion>> {
    let ord = SuggestionOrdering::parse(params.ordering.as_deref())?;
    let code = match (sel, ord) {
        (SuggestionSelection::Chat(_), SuggestionOrdering::CreatedAsc) => ORDER_CHAT_ASC,
        (SuggestionSelection::Chat(_), SuggestionOrdering::CreatedDesc) => ORDER_CHAT_DESC,
        (SuggestionSelection::Message { .. }, SuggestionOrdering::CreatedAsc) => ORDER_MESSAGE_ASC,
        (SuggestionSelection::Message { .. }, SuggestionOrdering::CreatedDesc) => {
            ORDER_MESSAGE_DESC
        }
    };
    let p = paginate(
        page,
        code,
        ord.descending(),
        |k| s.select_suggestions(&sel, k),
        |r| SortKey::new(r.created_at, r.id.as_bytes().to_vec()),
    )?;
    Ok(p.map(|r| ReplySuggestion::from_record(&r)))
}

/// GET `.../chats/<c>/reply_suggestions` (or `routed_chats`): every suggestion of the chat.
pub fn list_chat_suggestions(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    params: &SuggestionListParams,
    page: &PageRequest,
) -> Result<Page<ReplySuggestion>> {
    let (_, chat) = suggestion_chat(s, env, actor, scope, chat_id)?;
    page_of(s, SuggestionSelection::Chat(chat.pk), params, page)
}

/// GET `.../chats/<c>/messages/<m>/reply_suggestions` (or `routed_chats`).
#[allow(clippy::too_many_arguments)]
pub fn list_message_suggestions(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    message_id: Uuid,
    params: &SuggestionListParams,
    page: &PageRequest,
) -> Result<Page<ReplySuggestion>> {
    let (_, chat) = suggestion_chat(s, env, actor, scope, chat_id)?;
    message_in(s, &chat, message_id)?;
    page_of(
        s,
        SuggestionSelection::Message {
            chat_pk: chat.pk,
            message_id,
        },
        params,
        page,
    )
}

/// Validates a payload; `full` (POST and PUT) requires `suggestion`.
fn check(input: &SuggestionInput, full: bool) -> Result<()> {
    let mut v = Validator::new();
    match input.suggestion.as_deref() {
        None if full => v.add("suggestion", "This field is required."),
        Some(t) if t.trim().is_empty() => v.add("suggestion", "This field may not be blank."),
        Some(t) if t.chars().count() > MAX_SUGGESTION_CHARS => v.add(
            "suggestion",
            format!("Ensure this field has no more than {MAX_SUGGESTION_CHARS} characters."),
        ),
        _ => {}
    }
    if let Some(Some(score)) = input.relevancy_score
        && !(score.is_finite() && (0.0..=1.0).contains(&score))
    {
        v.add(
            "relevancy_score",
            "Ensure this value is a number between 0 and 1, or null.",
        );
    }
    v.finish()
}

fn reload(s: &dyn Store, id: Uuid) -> Result<ReplySuggestion> {
    let r = s
        .suggestion(id)?
        .ok_or_else(|| ChatError::internal("reply suggestion vanished"))?;
    Ok(ReplySuggestion::from_record(&r))
}

/// POST `.../messages/<m>/reply_suggestions`: a suggestion by the user the path names, in their
/// organization. An ended chat takes no suggestions: `ChatAlreadyEnded` (400; the reference is
/// silent).
pub fn create_suggestion(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    message_id: Uuid,
    input: SuggestionInput,
) -> Result<ReplySuggestion> {
    let (subject, chat) = suggestion_chat(s, env, actor, scope, chat_id)?;
    message_in(s, &chat, message_id)?;
    check(&input, true)?;
    if chat.is_ended {
        return Err(ChatError::new(
            ErrorCode::ChatAlreadyEnded,
            "The chat has ended: it takes no new reply suggestions.",
        ));
    }
    let Some(text) = input.suggestion else {
        return Err(ChatError::internal("validated input missing"));
    };
    let rec = SuggestionRecord {
        id: env.ids.new_id(),
        chat_pk: chat.pk,
        message_id,
        organization_id: subject.user.organization_id,
        suggestion: text,
        relevancy_score: input.relevancy_score.flatten(),
        created_by_user_id: subject.user.id,
        updated_by_user_id: subject.user.id,
        created_at: env.now,
        updated_at: env.now,
        chat_id: chat.id,
        room_id: chat.room_id,
        created_by_user: None,
        updated_by_user: None,
    };
    s.insert_suggestion(&rec)?;
    reload(s, rec.id)
}

/// PUT (`partial = false`) / PATCH (`partial = true`) of a suggestion of the message. Any
/// user who reaches the chat through the scope may update it; they become `updated_by_user`.
/// Suggestions stay editable after the chat ends (they change nothing in the chat).
#[allow(clippy::too_many_arguments)]
pub fn update_suggestion(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    message_id: Uuid,
    suggestion_id: Uuid,
    input: SuggestionInput,
    partial: bool,
) -> Result<ReplySuggestion> {
    let (subject, chat) = suggestion_chat(s, env, actor, scope, chat_id)?;
    message_in(s, &chat, message_id)?;
    let mut rec = s
        .suggestion(suggestion_id)?
        .filter(|r| r.chat_pk == chat.pk && r.message_id == message_id)
        .ok_or_else(|| ChatError::not_found("Reply suggestion"))?;
    check(&input, !partial)?;
    if let Some(t) = input.suggestion {
        rec.suggestion = t;
    }
    match input.relevancy_score {
        Some(score) => rec.relevancy_score = score,
        None if !partial => rec.relevancy_score = None,
        None => {}
    }
    rec.updated_by_user_id = subject.user.id;
    rec.updated_at = env.now;
    s.update_suggestion(&rec)?;
    reload(s, rec.id)
}

/// Whether a suggestion with this id belongs to the chat (the `selected_reply_suggestion_id`
/// rule of messages).
pub fn in_chat(s: &dyn Store, chat: &ChatRecord, id: Uuid) -> Result<bool> {
    Ok(s.suggestion(id)?.is_some_and(|r| r.chat_pk == chat.pk))
}
