//! Messages: sending, validation of texts and attachments, action and interaction responses,
//! the disabling effects, visitor views, type filters and paging.

mod common;

use chat_core::chats::ChatScope;
use chat_core::input::from_value;
use chat_core::messages::{MessageListParams, NewMessage};
use chat_core::{ErrorCode, PageRequest};
use common::*;
use serde_json::json;

fn served_chat(w: &World) -> uuid::Uuid {
    let chat = w.waiting_chat(V1, SUPPORT, "Hello");
    w.engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    chat
}

/// The first page of the chat's messages as visitor V1 lists them.
fn visitor_page(w: &World, chat: uuid::Uuid) -> Vec<chat_core::messages::Message> {
    w.engine
        .visitor_list_messages(
            &visitor(V1),
            v(V1),
            chat,
            &MessageListParams::default(),
            &PageRequest::default(),
        )
        .unwrap()
        .results
}

fn send(
    w: &World,
    chat: uuid::Uuid,
    body: serde_json::Value,
) -> chat_core::Result<chat_core::messages::Message> {
    let input: NewMessage = from_value(body)?;
    w.engine.send_user_message(&user(BOB), u(BOB), chat, input)
}

#[test]
fn message_text_is_required_and_limited_to_2000_characters() {
    let w = world();
    let chat = served_chat(&w);
    let e = send(&w, chat, json!({})).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.errors.contains_key("message"));
    let e = send(&w, chat, json!({"message": "   "})).unwrap_err();
    assert!(e.errors.contains_key("message"));
    let e = send(&w, chat, json!({"message": "é".repeat(2001)})).unwrap_err();
    assert!(e.errors.contains_key("message"));
    let m = send(&w, chat, json!({"message": "é".repeat(2000)})).unwrap();
    assert_eq!(m.message.unwrap().chars().count(), 2000);
    let e = send(&w, chat, json!({"message": 12})).unwrap_err();
    assert!(
        e.errors.contains_key("message"),
        "wrong type names the field: {e:?}"
    );
    // Not a member: 404, and nothing was written.
    let before = w.chat(chat).message_count;
    let e = w
        .engine
        .send_user_message(&user(ANN), u(ANN), chat, msg("hi"))
        .unwrap_err();
    assert_eq!(e.status(), 404);
    assert_eq!(w.chat(chat).message_count, before);
}

#[test]
fn user_messages_carry_sender_names_and_reference_attributes() {
    let w = world();
    let chat = served_chat(&w);
    let m = send(&w, chat, json!({"message": "Hi there"})).unwrap();
    let j = serde_json::to_value(&m).unwrap();
    assert_eq!(j["type"], "msg");
    assert_eq!(j["sender_type"], "user");
    assert_eq!(j["sender_id"], BOB);
    assert_eq!(j["sender_name"], "Bob Stone");
    assert_eq!(j["sender_public_name"], "Bob Stone");
    assert_eq!(j["chat_id"], chat.to_string());
    assert_eq!(j["room_id"], SUPPORT);
    assert_eq!(j["attachments"], json!([]));
    for k in [
        "is_encrypted",
        "sensitive_data_purged_at",
        "selected_reply_suggestion_id",
        "selected_reply_suggestion",
        "attachment_template",
        "response_to_message_id",
        "response_to_attachment_id",
        "response_to_attachment",
        "response_to_action_id",
        "response_to_action",
        "response_value",
        "response_text",
        "sender_avatar",
        "created_at",
    ] {
        assert!(j.as_object().unwrap().contains_key(k), "missing {k}");
    }
    // Ann's alias is her public name.
    let c2 = w
        .engine
        .create_user_chat(&user(ANN), u(ANN), Default::default())
        .unwrap();
    let m = w
        .engine
        .send_user_message(&user(ANN), u(ANN), c2.id.parse().unwrap(), msg("x"))
        .unwrap();
    assert_eq!(m.sender_public_name.as_deref(), Some("Support"));
    // Visitors never see sender_name.
    let j = serde_json::to_value(&visitor_page(&w, chat)[0]).unwrap();
    assert!(!j.as_object().unwrap().contains_key("sender_name"));
    assert_eq!(j["sender_public_name"], "Bob Stone");
}

#[test]
fn attachment_validation_follows_each_template() {
    let w = world();
    let chat = served_chat(&w);
    let bad = |body: serde_json::Value, field: &str| {
        let e = send(&w, chat, body).unwrap_err();
        assert_eq!(e.status(), 400, "{e:?}");
        assert!(e.errors.contains_key(field), "expected {field}: {e:?}");
    };
    bad(
        json!({"message": "x", "attachment_template": "generic", "attachments": [{}]}),
        "attachments[0]",
    );
    bad(
        json!({"message": "x", "attachment_template": "generic", "attachments": [{"text": "t", "interaction_id": "d75feb7a-1584-495a-b77f-9dac6a8d7fbf"}]}),
        "attachments[0].interaction_id",
    );
    bad(
        json!({"message": "x", "attachment_template": "interaction", "attachments": [{"text": "t"}]}),
        "attachments[0].interaction_id",
    );
    bad(
        json!({"message": "x", "attachment_template": "interaction", "attachments": [{"interaction_id": "d75feb7a-1584-495a-b77f-9dac6a8d7fbf"}, {"interaction_id": "d75feb7a-1584-495a-b77f-9dac6a8d7fbf"}]}),
        "attachments",
    );
    bad(
        json!({"message": "x", "attachment_template": "external", "attachments": [{"text": "t"}]}),
        "attachments[0].attachment_url",
    );
    bad(
        json!({"message": "x", "attachment_template": "external", "attachments": [{"attachment_url": "not a url"}]}),
        "attachments[0].attachment_url",
    );
    bad(
        json!({"message": "x", "attachment_template": "external", "attachments": [{"attachment_url": "https://x.example/", "actions": []}]}),
        "attachments[0].actions",
    );
    bad(
        json!({"message": "x", "attachment_template": "fancy", "attachments": [{"text": "t"}]}),
        "attachment_template",
    );
    bad(
        json!({"message": "x", "attachments": [{"text": "t", "link_target": "_top"}]}),
        "attachments[0].link_target",
    );
    bad(
        json!({"message": "x", "attachments": [{"actions": [{"text": "Go", "type": "link_button", "value": "nowhere", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false}]}]}),
        "attachments[0].actions[0].value",
    );
    bad(
        json!({"message": "x", "attachments": [{"actions": [{"text": "Go", "type": "button", "value": "v", "is_disabled_on_visitor_message": false}]}]}),
        "attachments[0].actions[0].is_disabled_on_selection",
    );
    bad(
        json!({"message": "x", "attachments": [{"actions": [{"text": "Go", "type": "radio", "value": "v", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false}]}]}),
        "attachments[0].actions[0].type",
    );
    bad(
        json!({"message": "x", "attachments": [{"actions": [{"text": "Go", "type": "button", "value": "v", "style": "neon", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false}]}]}),
        "attachments[0].actions[0].style",
    );
    bad(
        json!({"message": "x", "attachments": [{"actions": [{"text": "Go", "type": "button", "value": "v", "link_target": "_blank", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false}]}]}),
        "attachments[0].actions[0].link_target",
    );
    bad(
        json!({"message": "x", "attachment_template": "interaction", "attachments": [{"interaction_id": "d75feb7a-1584-495a-b77f-9dac6a8d7fbf", "parameters": [1]}]}),
        "attachments[0].parameters",
    );
    assert_eq!(
        w.chat(chat).user_message_count,
        0,
        "no invalid message was stored"
    );
    // Valid ones, with defaults filled in.
    let m = send(&w, chat, json!({"message": "Do you want help?", "attachment_template": "generic", "attachments": [{
        "text": "Was this helpful?", "title": "Survey", "title_link_url": "https://x.example/s",
        "actions": [
            {"text": "Yes", "type": "button", "value": "yes", "style": "success", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false},
            {"text": "Docs", "type": "link_button", "value": "#docs", "is_disabled_on_selection": false, "is_disabled_on_visitor_message": true}
        ]}]})).unwrap();
    let a = &m.attachments[0];
    assert_eq!(a.link_target.as_deref(), Some("_blank"));
    assert_eq!(a.actions[0].link_target, None);
    assert_eq!(a.actions[1].link_target.as_deref(), Some("_blank"));
    assert_eq!(a.actions[1].style, "secondary");
    let m = send(&w, chat, json!({"message": "Help", "attachment_template": "external", "attachments": [{"attachment_url": "https://somewhere.com/i", "parameters": {"initial_height": 200}, "text": "Help", "title": "Help interaction"}]})).unwrap();
    assert_eq!(m.attachment_template.as_deref(), Some("external"));
    assert_eq!(m.attachments[0].link_target, None);
}

#[test]
fn visitor_action_responses_disable_actions_and_carry_the_chosen_action() {
    let w = world();
    let chat = served_chat(&w);
    let m = send(&w, chat, json!({"message": "Rate us", "attachments": [{"text": "Helpful?", "actions": [
        {"text": "Yes", "type": "button", "value": "yes", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false},
        {"text": "No", "type": "button", "value": "no", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false},
        {"text": "Later", "type": "button", "value": "later", "is_disabled_on_selection": false, "is_disabled_on_visitor_message": true}]}]})).unwrap();
    let att = &m.attachments[0];
    let answer = |action: &str| -> chat_core::Result<chat_core::messages::Message> {
        let input: NewMessage = from_value(
            json!({"type": "action", "response_to_message_id": m.id, "response_to_attachment_id": att.id, "response_to_action_id": action}),
        )?;
        w.engine
            .visitor_send_message(&visitor(V1), v(V1), chat, input)
    };
    let r = answer(&att.actions[0].id).unwrap();
    assert_eq!(
        (
            r.kind.as_str(),
            r.message.as_deref(),
            r.response_value.as_deref()
        ),
        ("action", Some("Yes"), Some("yes"))
    );
    assert_eq!(r.response_to_action.as_ref().unwrap().id, att.actions[0].id);
    assert_eq!(r.response_to_attachment.as_ref().unwrap().id, att.id);
    assert_eq!(r.sender_type, "visitor");
    // Both is_disabled_on_selection actions are now disabled; "Later" is not.
    let e = answer(&att.actions[1].id).unwrap_err();
    assert!(e.errors.contains_key("response_to_action_id"), "{e:?}");
    let stored = w
        .engine
        .get_message(
            &user(BOB),
            ChatScope::UserChats { user_id: u(BOB) },
            chat,
            m.id.parse().unwrap(),
        )
        .unwrap();
    assert_eq!(
        stored.attachments[0]
            .actions
            .iter()
            .map(|a| a.is_disabled)
            .collect::<Vec<_>>(),
        vec![true, true, false]
    );
    // A visitor msg disables the is_disabled_on_visitor_message ones.
    w.engine
        .visitor_send_message(&visitor(V1), v(V1), chat, msg("thanks"))
        .unwrap();
    let stored = w
        .engine
        .get_message(
            &user(BOB),
            ChatScope::UserChats { user_id: u(BOB) },
            chat,
            m.id.parse().unwrap(),
        )
        .unwrap();
    assert!(stored.attachments[0].actions[2].is_disabled);
    // Responses are not msg messages.
    assert_eq!(w.chat(chat).visitor_message_count, 2);
    // Bad references.
    let e = answer(&uuid::Uuid::now_v7().to_string()).unwrap_err();
    assert_eq!(e.status(), 400);
    let input: NewMessage =
        from_value(json!({"type": "action", "response_to_message_id": m.id})).unwrap();
    let e = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), chat, input)
        .unwrap_err();
    assert!(
        e.errors.contains_key("response_to_attachment_id")
            && e.errors.contains_key("response_to_action_id")
    );
}

#[test]
fn interaction_submissions_require_response_text() {
    let w = world();
    let chat = served_chat(&w);
    let m = send(&w, chat, json!({"message": "Form", "attachment_template": "interaction", "attachments": [{"title": "Contact form", "interaction_id": "d75feb7a-1584-495a-b77f-9dac6a8d7fbf", "parameters": {"initial_height": 250}}]})).unwrap();
    let att = m.attachments[0].id.clone();
    let input: NewMessage = from_value(json!({"type": "interaction_submit", "response_to_message_id": m.id, "response_to_attachment_id": att})).unwrap();
    let e = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), chat, input)
        .unwrap_err();
    assert!(e.errors.contains_key("response_text"));
    let input: NewMessage = from_value(json!({"type": "interaction_submit", "response_to_message_id": m.id, "response_to_attachment_id": att, "response_text": "{\"email\":\"a@b.c\"}"})).unwrap();
    let r = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), chat, input)
        .unwrap();
    assert_eq!(
        (
            r.kind.as_str(),
            r.response_text.as_deref(),
            r.response_value.as_deref()
        ),
        ("interaction_submit", Some("{\"email\":\"a@b.c\"}"), None)
    );
    assert_eq!(
        r.response_to_attachment.unwrap().interaction_id.as_deref(),
        Some("d75feb7a-1584-495a-b77f-9dac6a8d7fbf")
    );
}

#[test]
fn first_visitor_message_records_its_page() {
    let w = world();
    let (chat, _) = w
        .engine
        .visitor_start_chat(&visitor(V3), u(ACME), u(SUPPORT), v(V3))
        .unwrap();
    let id = chat.id.parse().unwrap();
    let input: NewMessage = from_value(json!({"message": "hi", "url": "http://www.customerpage.com/settings", "url_title": "Profile Settings"})).unwrap();
    w.engine
        .visitor_send_message(&visitor(V3), v(V3), id, input)
        .unwrap();
    let input: NewMessage =
        from_value(json!({"message": "again", "url": "http://www.customerpage.com/other"}))
            .unwrap();
    w.engine
        .visitor_send_message(&visitor(V3), v(V3), id, input)
        .unwrap();
    let c = w.chat(id);
    assert_eq!(
        c.first_visitor_message_url.as_deref(),
        Some("http://www.customerpage.com/settings")
    );
    assert_eq!(
        c.first_visitor_message_url_title.as_deref(),
        Some("Profile Settings")
    );
    let input: NewMessage =
        from_value(json!({"message": "x", "url": "javascript:alert(1)"})).unwrap();
    let e = w
        .engine
        .visitor_send_message(&visitor(V3), v(V3), id, input)
        .unwrap_err();
    assert!(e.errors.contains_key("url"));
    // Another visitor cannot write to this chat.
    let e = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), id, msg("intrude"))
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = w
        .engine
        .visitor_send_message(&visitor(V1), v(V3), id, msg("impersonate"))
        .unwrap_err();
    assert_eq!(e.status(), 403);
}

#[test]
fn listing_filters_by_type_and_pages_newest_first() {
    let w = world();
    let chat = served_chat(&w);
    for i in 0..60 {
        w.clock.advance_ms(10);
        send(&w, chat, json!({"message": format!("m{i}")})).unwrap();
    }
    let scope = ChatScope::UserChats { user_id: u(BOB) };
    let mut seen = vec![];
    let mut req = PageRequest::first(25);
    loop {
        let p = w
            .engine
            .list_messages(&user(BOB), scope, chat, &MessageListParams::default(), &req)
            .unwrap();
        seen.extend(p.results.into_iter().map(|m| (m.kind, m.message)));
        match p.next {
            Some(n) => req = PageRequest::at(n, Some(25)),
            None => break,
        }
    }
    assert_eq!(seen.len(), 62);
    assert_eq!(seen[0].1.as_deref(), Some("m59"));
    assert_eq!(seen[61].1.as_deref(), Some("Hello"));
    let only_join = MessageListParams {
        type_in: Some("join,leave".into()),
        ..Default::default()
    };
    let p = w
        .engine
        .list_messages(&user(BOB), scope, chat, &only_join, &PageRequest::default())
        .unwrap();
    assert_eq!(
        p.results
            .iter()
            .map(|m| m.kind.as_str())
            .collect::<Vec<_>>(),
        vec!["join"]
    );
    let no_msg = MessageListParams {
        type_not_in: Some("msg".into()),
        ..Default::default()
    };
    assert_eq!(
        w.engine
            .list_messages(&user(BOB), scope, chat, &no_msg, &PageRequest::default())
            .unwrap()
            .results
            .len(),
        1
    );
    // Routed listing honours private history.
    w.engine
        .update_organization(
            &user(ANN),
            u(ACME),
            serde_json::from_value(json!({"private_chat_history": true})).unwrap(),
        )
        .unwrap();
    let e = w
        .engine
        .list_messages(
            &user(BOB),
            ChatScope::UserRouted { user_id: u(BOB) },
            chat,
            &MessageListParams::default(),
            &PageRequest::default(),
        )
        .unwrap_err();
    assert_eq!((e.status(), e.code), (403, ErrorCode::PrivateChatHistory));
}

/// The store remembers the last message it read or wrote for the rest of an operation (a send's
/// publication presents the message the send wrote); a write in between is seen by the next read.
#[test]
fn a_message_read_again_after_a_write_in_the_same_transaction_is_the_written_one() {
    let w = world();
    let chat = served_chat(&w);
    let sent = send(&w, chat, json!({"message": "a text to purge"})).unwrap();
    let id: uuid::Uuid = sent.id.parse().unwrap();
    let (first, second) = w
        .engine
        .write_store(|tx| {
            let pk = tx.chat_by_id(chat, 0)?.unwrap().pk;
            let first = tx.message(pk, id)?.unwrap();
            tx.purge_message_texts(pk, 1)?;
            let second = tx.message(pk, id)?.unwrap();
            Ok((first, second))
        })
        .unwrap();
    assert_eq!(first.stored.message.as_deref(), Some("a text to purge"));
    assert_eq!(second.stored.message, None);
    assert!(second.sensitive_data_purged_at.is_some());
}

/// A send returns its message without reading it back (it wrote it): what it returns is what
/// any later read of the message shows, for every kind of send and its joined parts (sender
/// names, the selected reply suggestion, the answered attachment and action).
#[test]
fn every_send_returns_the_message_a_later_read_shows() {
    use chat_core::suggestions::SuggestionInput;
    let w = world();
    let chat = served_chat(&w);
    let scope = || ChatScope::UserChats { user_id: u(BOB) };
    let read = |id: &str| {
        w.engine
            .get_message(&user(BOB), scope(), chat, id.parse().unwrap())
            .unwrap()
    };
    let visitor_read = |id: &str| {
        visitor_page(&w, chat)
            .into_iter()
            .find(|m| m.id == id)
            .unwrap()
    };
    let asked = send(&w, chat, json!({"message": "Anything else?", "attachments": [{"text": "Pick", "actions": [
        {"text": "Yes", "type": "button", "value": "yes", "is_disabled_on_selection": true, "is_disabled_on_visitor_message": false},
        {"text": "No", "type": "button", "value": "no", "is_disabled_on_selection": false, "is_disabled_on_visitor_message": true}]}]}))
    .unwrap();
    assert_eq!(asked, read(&asked.id));
    let suggestion = w
        .engine
        .create_reply_suggestion(
            &user(BOB),
            scope(),
            chat,
            asked.id.parse().unwrap(),
            SuggestionInput {
                suggestion: Some("No, thanks".into()),
                relevancy_score: Some(Some(0.5)),
            },
        )
        .unwrap();
    let chosen = send(
        &w,
        chat,
        json!({"message": "No, thanks", "selected_reply_suggestion_id": suggestion.id}),
    )
    .unwrap();
    assert!(chosen.selected_reply_suggestion.is_some());
    assert_eq!(chosen, read(&chosen.id));
    let auto = w
        .engine
        .send_autosuggest(
            &user(BOB),
            u(BOB),
            chat,
            from_value(json!({"message": "Try this", "url": "https://example.com/a"})).unwrap(),
        )
        .unwrap();
    assert_eq!(auto, read(&auto.id));
    let att = &asked.attachments[0];
    let answer: NewMessage =
        from_value(json!({"type": "action", "response_to_message_id": asked.id,
        "response_to_attachment_id": att.id, "response_to_action_id": att.actions[0].id}))
        .unwrap();
    let answered = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), chat, answer)
        .unwrap();
    assert!(answered.response_to_action.is_some());
    assert_eq!(answered, visitor_read(&answered.id));
    let typed = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), chat, msg("thanks"))
        .unwrap();
    assert_eq!(typed, visitor_read(&typed.id));
}
