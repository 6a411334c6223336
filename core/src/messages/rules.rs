//! Message operations: sending (users, visitors, autosuggest), responses to actions and
//! interactions, listings, and the chat counters every message keeps exact.

use super::*;
use crate::Env;
use crate::auth::{Actor, access_user};
use crate::chats::{ChatRecord, ChatScope, chat_in, resolve};
use crate::crypto::Field;
use crate::error::{ChatError, ErrorCode, Result, Validator};
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;

/// After each message a chat counts as active for this long (the 60-second rule).
pub const ACTIVE_WINDOW_MS: i64 = 60_000;
const ORDER_NEWEST_FIRST: u8 = 1;

/// A message as a client sends it (user API and public visitor API).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
    pub attachment_template: Option<String>,
    pub attachments: Option<Vec<NewAttachment>>,
    #[serde(alias = "chat_reply_suggestion_id")]
    pub selected_reply_suggestion_id: Option<Uuid>,
    pub url: Option<String>,
    pub url_title: Option<String>,
    pub response_to_message_id: Option<Uuid>,
    pub response_to_attachment_id: Option<Uuid>,
    pub response_to_action_id: Option<Uuid>,
    pub response_text: Option<String>,
}

fn check_text(v: &mut Validator, text: &Option<String>, required: bool) {
    match text {
        None if required => v.add("message", "This field is required."),
        Some(t) if required && t.trim().is_empty() => {
            v.add("message", "This field may not be blank.")
        }
        Some(t) if t.chars().count() > MAX_MESSAGE_CHARS => v.add(
            "message",
            format!("Ensure this field has no more than {MAX_MESSAGE_CHARS} characters."),
        ),
        _ => {}
    }
}

fn record(
    env: &Env,
    chat: &ChatRecord,
    kind: &str,
    sender_type: &str,
    sender: Option<Uuid>,
) -> NewMessageRecord {
    NewMessageRecord {
        chat_pk: chat.pk,
        seq: chat.next_message_seq,
        id: env.ids.new_id(),
        kind: kind.to_string(),
        created_at: env.now,
        sender_type: sender_type.to_string(),
        sender_id: sender,
        ..Default::default()
    }
}

/// Stores a message and advances the chat's sequence and activity. The caller persists the
/// chat (once, after every change of the operation).
fn append(s: &dyn Store, env: &Env, chat: &mut ChatRecord, m: &NewMessageRecord) -> Result<()> {
    if chat.is_ended {
        return Err(ChatError::new(ErrorCode::ChatEnded, "The chat has ended."));
    }
    s.insert_message(m)?;
    chat.next_message_seq += 1;
    chat.last_activity_at = env.now;
    chat.updated_at = env.now;
    Ok(())
}

/// Writes a join/leave event by a user.
pub fn append_event(
    s: &dyn Store,
    env: &Env,
    chat: &mut ChatRecord,
    kind: &str,
    user: Uuid,
) -> Result<()> {
    let m = record(env, chat, kind, "user", Some(user));
    append(s, env, chat, &m)
}

/// Counts a `msg` in the chat's counters, durations and the sender's membership.
fn count_msg(
    s: &dyn Store,
    env: &Env,
    chat: &mut ChatRecord,
    sender: Uuid,
    from_visitor: bool,
) -> Result<()> {
    chat.message_count += 1;
    if let Some(last) = chat.last_msg_at {
        chat.active_ms += (env.now - last).clamp(0, ACTIVE_WINDOW_MS);
    }
    chat.first_msg_at.get_or_insert(env.now);
    chat.last_msg_at = Some(env.now);
    if from_visitor {
        chat.visitor_message_count += 1;
    } else {
        chat.user_message_count += 1;
        chat.is_waiting = false;
        if chat.first_visitor_msg_at.is_some() && chat.first_reply_at.is_none() {
            chat.first_reply_at = Some(env.now);
        }
    }
    crate::memberships::count_message(s, chat, sender, !from_visitor, env.now)
}

fn check_suggestion(s: &dyn Store, chat: &ChatRecord, id: Option<Uuid>) -> Result<()> {
    if let Some(id) = id
        && !crate::chat_hooks::suggestion_in_chat(s, chat, id)?
    {
        return Err(ChatError::field(
            "selected_reply_suggestion_id",
            "No such reply suggestion in this chat.",
        ));
    }
    Ok(())
}

/// The message `m` the operation stored, presented to `viewer` (not read back: the operation
/// wrote it and holds it).
fn stored(
    s: &dyn Store,
    env: &Env,
    chat: &ChatRecord,
    m: NewMessageRecord,
    viewer: &Viewer,
) -> Result<Message> {
    let m = s.inserted_message(chat, m)?;
    Ok(crate::chat_hooks::message_presenter(env, chat, viewer)(m))
}

/// POST `/users/<u>/chats/<c>/messages`: a `msg` by the user, who must be a member.
pub fn send_user_message(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    input: NewMessage,
) -> Result<Message> {
    let r = resolve(s, actor, ChatScope::UserChats { user_id })?;
    let mut chat = chat_in(s, env, &r.selection, chat_id)?;
    let mut v = Validator::new();
    if input.kind.as_deref().is_some_and(|k| k != "msg") {
        v.add("type", "Users send messages of type msg.");
    }
    for (name, present) in [
        ("url", input.url.is_some()),
        ("url_title", input.url_title.is_some()),
        (
            "response_to_message_id",
            input.response_to_message_id.is_some(),
        ),
        (
            "response_to_attachment_id",
            input.response_to_attachment_id.is_some(),
        ),
        (
            "response_to_action_id",
            input.response_to_action_id.is_some(),
        ),
        ("response_text", input.response_text.is_some()),
    ] {
        if present {
            v.add(name, "This field is for visitor messages.");
        }
    }
    let has_attachments = input.attachments.as_ref().is_some_and(|a| !a.is_empty());
    check_text(&mut v, &input.message, !has_attachments);
    v.finish()?;
    let (template, attachments, disables) = validate_attachments(
        input.attachment_template.as_deref(),
        input.attachments.unwrap_or_default(),
        &env.ids,
    )?;
    check_suggestion(s, &chat, input.selected_reply_suggestion_id)?;
    if chat.is_ended {
        return Err(ChatError::new(ErrorCode::ChatEnded, "The chat has ended."));
    }
    let mut m = record(env, &chat, "msg", "user", Some(user_id));
    m.message = input.message;
    m.selected_reply_suggestion_id = input.selected_reply_suggestion_id;
    m.attachment_template = template;
    m.attachments = attachments;
    m.disables_on_visitor_message = disables;
    crate::chat_hooks::before_message_stored(s, env, &chat, &mut m)?;
    append(s, env, &mut chat, &m)?;
    count_msg(s, env, &mut chat, user_id, false)?;
    s.update_chat(&chat)?;
    stored(s, env, &chat, m, &Viewer::Operator)
}

/// An autosuggestion shown to the visitor by a user (or a rule on the user's behalf): it marks
/// the chat autosuggested when it opens the chat, and records the page it was shown on.
/// An autosuggestion as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAutosuggest {
    pub message: Option<String>,
    pub url: Option<String>,
    pub url_title: Option<String>,
}

pub fn send_autosuggest(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    user_id: Uuid,
    chat_id: Uuid,
    input: NewAutosuggest,
) -> Result<Message> {
    access_user(s, actor, user_id)?;
    let r = resolve(s, actor, ChatScope::UserChats { user_id })?;
    let mut chat = chat_in(s, env, &r.selection, chat_id)?;
    let mut v = Validator::new();
    check_text(&mut v, &input.message, true);
    v.finish()?;
    let (text, url, url_title) = (input.message, input.url, input.url_title);
    if chat.next_message_seq == 1 || (chat.message_count == 0 && !chat.is_autosuggested) {
        chat.is_autosuggested = true;
        chat.autosuggest_url =
            crate::chat_hooks::seal_chat_text(env, &chat, Field::AutosuggestUrl, url)?;
        chat.autosuggest_url_title =
            crate::chat_hooks::seal_chat_text(env, &chat, Field::AutosuggestUrlTitle, url_title)?;
    }
    let mut m = record(env, &chat, "autosuggest", "user", Some(user_id));
    m.message = text;
    crate::chat_hooks::before_message_stored(s, env, &chat, &mut m)?;
    append(s, env, &mut chat, &m)?;
    s.update_chat(&chat)?;
    stored(s, env, &chat, m, &Viewer::Operator)
}

/// Disables the actions of earlier messages that disable on a visitor's `msg`.
fn disable_on_visitor_message(s: &dyn Store, chat: &ChatRecord) -> Result<()> {
    for m in s.messages_disabling_on_visitor_message(chat.pk)? {
        let mut atts: Vec<Attachment> = m
            .stored
            .attachments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        for a in &mut atts {
            for act in &mut a.actions {
                if act.is_disabled_on_visitor_message {
                    act.is_disabled = true;
                }
            }
        }
        let json = serde_json::to_string(&atts).map_err(|e| ChatError::internal(e.to_string()))?;
        s.set_message_attachments(chat.pk, m.stored.seq, &json, false)?;
    }
    Ok(())
}

/// Public API: a visitor's `msg`, `action` response or `interaction_submit`.
pub fn send_visitor_message(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    chat_id: Uuid,
    input: NewMessage,
) -> Result<Message> {
    let mut chat = crate::chats::visitor_chat(s, env, actor, visitor_id, chat_id)?;
    let kind = input.kind.clone().unwrap_or_else(|| "msg".into());
    let mut v = Validator::new();
    if input.attachments.is_some() || input.attachment_template.is_some() {
        v.add("attachments", "Visitors cannot send attachments.");
    }
    if input.selected_reply_suggestion_id.is_some() {
        v.add(
            "selected_reply_suggestion_id",
            "Visitors cannot select reply suggestions.",
        );
    }
    let mut m = record(env, &chat, &kind, "visitor", Some(visitor_id));
    // Attachment holding the chosen action, to disable its siblings after the response.
    let mut selection: Option<(MessageRecord, Vec<Attachment>)> = None;
    match kind.as_str() {
        "msg" => {
            check_text(&mut v, &input.message, true);
            for (name, value) in [("url", &input.url), ("url_title", &input.url_title)] {
                if value.as_deref().is_some_and(|x| x.chars().count() > 2048) {
                    v.add(name, "Ensure this field has no more than 2048 characters.");
                }
            }
            if input.url.as_deref().is_some_and(|u| !is_http_url(u)) {
                v.add("url", "Enter a valid URL.");
            }
            for (name, present) in [
                (
                    "response_to_message_id",
                    input.response_to_message_id.is_some(),
                ),
                (
                    "response_to_attachment_id",
                    input.response_to_attachment_id.is_some(),
                ),
                (
                    "response_to_action_id",
                    input.response_to_action_id.is_some(),
                ),
                ("response_text", input.response_text.is_some()),
            ] {
                if present {
                    v.add(name, "This field is for action and interaction responses.");
                }
            }
            v.finish()?;
            m.message = input.message.clone();
        }
        "action" | "interaction_submit" => {
            let interaction = kind == "interaction_submit";
            if input.response_to_message_id.is_none() {
                v.add("response_to_message_id", "This field is required.");
            }
            if input.response_to_attachment_id.is_none() {
                v.add("response_to_attachment_id", "This field is required.");
            }
            if !interaction && input.response_to_action_id.is_none() {
                v.add("response_to_action_id", "This field is required.");
            }
            if interaction && input.response_text.is_none() {
                v.add(
                    "response_text",
                    "This field is required for interaction responses.",
                );
            }
            if input.message.is_some() || input.url.is_some() {
                v.add("message", "Responses carry no message text or url.");
            }
            v.finish()?;
            let (Some(mid), Some(aid)) = (
                input.response_to_message_id,
                input.response_to_attachment_id,
            ) else {
                return Err(ChatError::internal("validated input missing"));
            };
            let target = s.message(chat.pk, mid)?.ok_or_else(|| {
                ChatError::field("response_to_message_id", "No such message in this chat.")
            })?;
            let stored_atts: Vec<Attachment> = target
                .stored
                .attachments
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            // Encrypted chats: read the texts opened, rewrite the stored (sealed) attachments.
            let atts = crate::chat_hooks::open_stored_attachments(
                env,
                &chat,
                target.stored.id,
                stored_atts.clone(),
            )?;
            let att = atts
                .iter()
                .find(|a| a.id == aid.to_string())
                .ok_or_else(|| {
                    ChatError::field(
                        "response_to_attachment_id",
                        "No such attachment in that message.",
                    )
                })?;
            let template = target
                .stored
                .attachment_template
                .as_deref()
                .unwrap_or("generic");
            if interaction {
                if template != "interaction" && template != "external" {
                    return Err(ChatError::field(
                        "response_to_attachment_id",
                        "Interaction responses answer interaction or external attachments.",
                    ));
                }
                m.response_text = input.response_text.clone();
                m.message = att.title.clone();
            } else {
                let act_id = input
                    .response_to_action_id
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let act = att.actions.iter().find(|a| a.id == act_id).ok_or_else(|| {
                    ChatError::field(
                        "response_to_action_id",
                        "No such action in that attachment.",
                    )
                })?;
                if act.is_disabled {
                    return Err(ChatError::field(
                        "response_to_action_id",
                        "This action is disabled.",
                    ));
                }
                m.message = Some(act.text.clone())
                    .filter(|t| !t.is_empty())
                    .or_else(|| att.title.clone());
                m.response_value = Some(act.value.clone());
                m.response_to_action_id = input.response_to_action_id;
                if act.is_disabled_on_selection {
                    selection = Some((target.clone(), stored_atts.clone()));
                }
            }
            m.response_to_message_id = Some(mid);
            m.response_to_attachment_id = Some(aid);
        }
        _ => {
            v.add(
                "type",
                "Select a valid choice: msg, action or interaction_submit.",
            );
            v.finish()?;
        }
    }
    if chat.is_ended {
        return Err(ChatError::new(ErrorCode::ChatEnded, "The chat has ended."));
    }
    crate::chat_hooks::before_message_stored(s, env, &chat, &mut m)?;
    append(s, env, &mut chat, &m)?;
    if kind == "msg" {
        if chat.visitor_message_count == 0 {
            chat.first_visitor_msg_at = Some(env.now);
            chat.first_visitor_message_url = crate::chat_hooks::seal_chat_text(
                env,
                &chat,
                Field::FirstVisitorMessageUrl,
                input.url.clone(),
            )?;
            chat.first_visitor_message_url_title = crate::chat_hooks::seal_chat_text(
                env,
                &chat,
                Field::FirstVisitorMessageUrlTitle,
                input.url_title.clone(),
            )?;
            if chat.user_message_count == 0 && !chat.is_waiting {
                chat.is_waiting = true;
                chat.waiting_started_at = Some(env.now);
            }
        }
        count_msg(s, env, &mut chat, visitor_id, true)?;
        disable_on_visitor_message(s, &chat)?;
    }
    if let Some((target, mut atts)) = selection {
        let aid = m
            .response_to_attachment_id
            .map(|a| a.to_string())
            .unwrap_or_default();
        for a in atts.iter_mut().filter(|a| a.id == aid) {
            for act in &mut a.actions {
                if act.is_disabled_on_selection {
                    act.is_disabled = true;
                }
            }
        }
        let still = atts
            .iter()
            .flat_map(|a| &a.actions)
            .any(|a| a.is_disabled_on_visitor_message && !a.is_disabled);
        let json = serde_json::to_string(&atts).map_err(|e| ChatError::internal(e.to_string()))?;
        s.set_message_attachments(chat.pk, target.stored.seq, &json, still)?;
    }
    s.update_chat(&chat)?;
    stored(s, env, &chat, m, &Viewer::Visitor)
}

fn page(
    s: &dyn Store,
    env: &Env,
    chat: &ChatRecord,
    params: &MessageListParams,
    req: &PageRequest,
    viewer: &Viewer,
) -> Result<Page<Message>> {
    let filter = params.to_filter();
    let p = paginate(
        req,
        ORDER_NEWEST_FIRST,
        true,
        |k| s.select_messages(chat, &filter, k),
        |m| SortKey::new(m.stored.seq, vec![]),
    )?;
    Ok(p.map(crate::chat_hooks::message_presenter(env, chat, viewer)))
}

/// Messages of a chat reached through a scope, newest first.
pub fn list_messages(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    params: &MessageListParams,
    req: &PageRequest,
) -> Result<Page<Message>> {
    if let ChatScope::UserRouted { .. } = scope {
        // The routed listing of a user honours private history like the organization scopes.
        let me = crate::auth::acting_user(s, actor)?;
        crate::auth::require_history(&me)?;
    }
    let r = resolve(s, actor, scope)?;
    let chat = chat_in(s, env, &r.selection, chat_id)?;
    page(s, env, &chat, params, req, &Viewer::Operator)
}

/// Public API: the visitor's view of their chat's messages.
pub fn list_visitor_messages(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    visitor_id: Uuid,
    chat_id: Uuid,
    params: &MessageListParams,
    req: &PageRequest,
) -> Result<Page<Message>> {
    let chat = crate::chats::visitor_chat(s, env, actor, visitor_id, chat_id)?;
    page(s, env, &chat, params, req, &Viewer::Visitor)
}

/// One message of a chat the actor reaches through `scope`.
pub fn get_message(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    scope: ChatScope,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Message> {
    let r = resolve(s, actor, scope)?;
    let chat = chat_in(s, env, &r.selection, chat_id)?;
    let m = s
        .message(chat.pk, message_id)?
        .ok_or_else(|| ChatError::not_found("Message"))?;
    Ok(crate::chat_hooks::message_presenter(
        env,
        &chat,
        &Viewer::Operator,
    )(m))
}
