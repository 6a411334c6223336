use super::*;
use crate::chats::ChatScope;
use crate::error::ErrorCode as EC;
use crate::memberships::MembershipInput;
use crate::messages::NewMessage;
use crate::pagination::PageRequest;
use crate::test_support::*;

fn routed(who: &str) -> ChatScope {
    ChatScope::UserRouted { user_id: id(who) }
}

fn member(who: &str) -> ChatScope {
    ChatScope::UserChats { user_id: id(who) }
}

fn body(text: Option<&str>, score: Option<Option<f64>>) -> SuggestionInput {
    SuggestionInput {
        suggestion: text.map(String::from),
        relevancy_score: score,
    }
}

fn suggest(
    w: &World,
    who: &str,
    scope: ChatScope,
    chat: Uuid,
    msg: Uuid,
    text: &str,
    score: Option<f64>,
) -> ReplySuggestion {
    w.engine
        .create_reply_suggestion(&user(who), scope, chat, msg, body(Some(text), Some(score)))
        .unwrap()
}

fn ordering(o: Option<&str>) -> SuggestionListParams {
    SuggestionListParams {
        ordering: o.map(String::from),
    }
}

fn texts(p: crate::Page<ReplySuggestion>) -> Vec<String> {
    p.results.into_iter().map(|s| s.suggestion).collect()
}

#[test]
fn a_routed_user_suggests_before_joining_with_the_reference_shape() {
    let w = world();
    let (chat, msg) = w.routed_chat();
    let s = suggest(
        &w,
        ROBO,
        routed(ROBO),
        chat,
        msg,
        "Yes we do have those products.",
        Some(0.6),
    );
    assert_eq!(
        keys(&s),
        sorted(&[
            "id",
            "suggestion",
            "relevancy_score",
            "created_by_user_id",
            "created_by_user",
            "updated_by_user_id",
            "updated_by_user",
            "room_id",
            "chat_id",
            "message_id",
            "organization_id",
            "created_at",
            "updated_at",
        ])
    );
    assert_eq!(s.suggestion, "Yes we do have those products.");
    assert_eq!(s.relevancy_score, Some(0.6));
    assert_eq!(s.created_by_user_id, ROBO);
    assert_eq!(
        serde_json::to_value(s.created_by_user.as_ref().unwrap()).unwrap(),
        serde_json::json!({"id": ROBO, "full_name": "Robotti Ruttunen", "first_name": "Robotti",
                           "last_name": "Ruttunen", "organization_id": ACME, "is_bot": true})
    );
    assert_eq!(s.updated_by_user_id, ROBO);
    assert_eq!(s.updated_by_user, s.created_by_user);
    assert_eq!(s.room_id.as_deref(), Some(ROUTED_ROOM));
    assert_eq!(s.chat_id, chat.to_string());
    assert_eq!(s.message_id, msg.to_string());
    assert_eq!(s.organization_id, ACME);
    assert_eq!(s.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(s.updated_at, s.created_at);
    // The same chat through the routed listing of another routed user.
    let p = w
        .engine
        .list_reply_suggestions(
            &user(BOB),
            routed(BOB),
            chat,
            &ordering(None),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(p.results, vec![s]);
}

#[test]
fn the_chat_must_be_routed_or_joined() {
    let w = world();
    let (chat, msg) = w.routed_chat();
    // Ann is not in the room's router; Bob has not joined.
    let e = err(w.engine.create_reply_suggestion(
        &user(ANN),
        routed(ANN),
        chat,
        msg,
        body(Some("Hi"), None),
    ));
    assert_eq!((e.code, e.status()), (EC::NotFound, 404));
    assert!(e.detail.contains("not routed to the user"), "{e:?}");
    assert_eq!(
        code(w.engine.list_reply_suggestions(
            &user(BOB),
            member(BOB),
            chat,
            &ordering(None),
            &PageRequest::default()
        )),
        EC::NotFound
    );
    assert_eq!(
        code(w.engine.create_reply_suggestion(
            &user(BOB),
            member(BOB),
            chat,
            msg,
            body(Some("Hi"), None)
        )),
        EC::NotFound
    );
    // Acting for another user needs the settings permission; other scopes are refused.
    assert_eq!(
        code(w.engine.create_reply_suggestion(
            &user(ANN),
            routed(BOB),
            chat,
            msg,
            body(Some("Hi"), None)
        )),
        EC::PermissionDenied
    );
    let by_cat = w
        .engine
        .create_reply_suggestion(&user(CAT), routed(BOB), chat, msg, body(Some("Hi"), None))
        .unwrap();
    assert_eq!(by_cat.created_by_user_id, BOB);
    assert_eq!(
        code(w.engine.list_reply_suggestions(
            &user(CAT),
            ChatScope::Owned {
                organization_id: id(ACME)
            },
            chat,
            &ordering(None),
            &PageRequest::default()
        )),
        EC::PermissionDenied
    );
}

#[test]
fn members_suggest_through_their_chats() {
    let w = world();
    let chat = w.ann_chat();
    let msg = w.say(ANN, chat, "Hello!");
    let s = suggest(&w, ANN, member(ANN), chat, msg, "Anything else?", None);
    assert_eq!(s.relevancy_score, None);
    assert_eq!(s.room_id.as_deref(), Some(ROOM));
    let listed = w
        .engine
        .list_message_reply_suggestions(
            &user(ANN),
            member(ANN),
            chat,
            msg,
            &ordering(None),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(listed.results, vec![s]);
}

#[test]
fn suggestion_and_relevancy_score_are_validated() {
    let w = world();
    let (chat, msg) = w.routed_chat();
    let bad = |input: SuggestionInput, field: &str| {
        let e = err(w
            .engine
            .create_reply_suggestion(&user(BOB), routed(BOB), chat, msg, input));
        assert_eq!((e.code, e.status()), (EC::ValidationError, 400));
        assert!(e.errors.contains_key(field), "{field}: {e:?}");
    };
    bad(body(None, None), "suggestion");
    bad(body(Some(" "), None), "suggestion");
    bad(
        body(Some(&"x".repeat(MAX_SUGGESTION_CHARS + 1)), None),
        "suggestion",
    );
    bad(body(Some("Hi"), Some(Some(1.5))), "relevancy_score");
    bad(body(Some("Hi"), Some(Some(-0.1))), "relevancy_score");
    bad(body(Some("Hi"), Some(Some(f64::NAN))), "relevancy_score");
    for score in [Some(0.0), Some(1.0), None] {
        let s = suggest(&w, BOB, routed(BOB), chat, msg, "Hi", score);
        assert_eq!(s.relevancy_score, score);
    }
    // An explicit null differs from an absent score; a string is a field error.
    let parsed: SuggestionInput =
        crate::input::from_json(r#"{"suggestion": "x", "relevancy_score": null}"#).unwrap();
    assert_eq!(parsed.relevancy_score, Some(None));
    let parsed: SuggestionInput = crate::input::from_json(r#"{"suggestion": "x"}"#).unwrap();
    assert_eq!(parsed.relevancy_score, None);
    let e =
        crate::input::from_json::<SuggestionInput>(r#"{"relevancy_score": "high"}"#).unwrap_err();
    assert!(e.errors.contains_key("relevancy_score"), "{e:?}");
}

#[test]
fn the_message_must_be_in_the_chat() {
    let w = world();
    let (chat, _) = w.routed_chat();
    let other_chat = w.ann_chat();
    let other_msg = w.say(ANN, other_chat, "Elsewhere");
    for m in [other_msg, Uuid::nil()] {
        let e = err(w.engine.create_reply_suggestion(
            &user(BOB),
            routed(BOB),
            chat,
            m,
            body(Some("Hi"), None),
        ));
        assert_eq!(e.code, EC::NotFound);
        assert!(e.detail.starts_with("Message"), "{e:?}");
        assert_eq!(
            code(w.engine.list_message_reply_suggestions(
                &user(BOB),
                routed(BOB),
                chat,
                m,
                &ordering(None),
                &PageRequest::default()
            )),
            EC::NotFound
        );
    }
}

#[test]
fn listings_order_by_creation_either_way_and_per_message() {
    let w = world();
    let (chat, first) = w.routed_chat();
    suggest(&w, BOB, routed(BOB), chat, first, "a", None);
    w.clock.advance_ms(1);
    suggest(&w, BOB, routed(BOB), chat, first, "b", None);
    w.clock.advance_ms(1);
    let v = visitor(VISITOR2);
    let second: Uuid = w
        .engine
        .visitor_send_message(
            &crate::Actor::Visitor(v),
            v,
            chat,
            NewMessage {
                message: Some("Hello?".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .id
        .parse()
        .unwrap();
    suggest(&w, ROBO, routed(ROBO), chat, second, "c", Some(0.9));
    let list = |o: Option<&str>, req: &PageRequest| {
        w.engine
            .list_reply_suggestions(&user(BOB), routed(BOB), chat, &ordering(o), req)
    };
    let all = PageRequest::default();
    assert_eq!(texts(list(None, &all).unwrap()), vec!["a", "b", "c"]);
    assert_eq!(
        texts(list(Some("created_at"), &all).unwrap()),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        texts(list(Some("-created_at"), &all).unwrap()),
        vec!["c", "b", "a"]
    );
    let e = err(list(Some("suggestion"), &all));
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("ordering"));
    let per_msg = |m: Uuid, o: Option<&str>| {
        texts(
            w.engine
                .list_message_reply_suggestions(
                    &user(BOB),
                    routed(BOB),
                    chat,
                    m,
                    &ordering(o),
                    &all,
                )
                .unwrap(),
        )
    };
    assert_eq!(per_msg(first, None), vec!["a", "b"]);
    assert_eq!(per_msg(first, Some("-created_at")), vec!["b", "a"]);
    assert_eq!(per_msg(second, None), vec!["c"]);
    // Pages, and cursors that belong to one ordering only.
    let p1 = list(Some("-created_at"), &PageRequest::first(2)).unwrap();
    assert_eq!(texts(p1.clone()), vec!["c", "b"]);
    let next = p1.next.unwrap();
    let p2 = list(Some("-created_at"), &PageRequest::at(next.clone(), Some(2))).unwrap();
    assert_eq!(texts(p2), vec!["a"]);
    assert_eq!(
        code(list(
            Some("created_at"),
            &PageRequest::at(next.clone(), Some(2))
        )),
        EC::ValidationError
    );
    assert_eq!(
        code(w.engine.list_message_reply_suggestions(
            &user(BOB),
            routed(BOB),
            chat,
            first,
            &ordering(Some("-created_at")),
            &PageRequest::at(next, Some(2))
        )),
        EC::ValidationError
    );
}

#[test]
fn updates_record_the_updater_put_replaces_and_patch_keeps() {
    let w = world();
    let (chat, msg) = w.routed_chat();
    let s = suggest(&w, ROBO, routed(ROBO), chat, msg, "Yes.", Some(0.6));
    let sid: Uuid = s.id.parse().unwrap();
    w.clock.advance_secs(4);
    let u = w
        .engine
        .update_reply_suggestion(
            &user(BOB),
            routed(BOB),
            chat,
            msg,
            sid,
            body(Some("Yes, in blue."), None),
            true,
        )
        .unwrap();
    assert_eq!(u.suggestion, "Yes, in blue.");
    assert_eq!(u.relevancy_score, Some(0.6), "PATCH keeps the score");
    assert_eq!(u.created_by_user_id, ROBO);
    assert_eq!(u.updated_by_user_id, BOB);
    assert_eq!(
        u.updated_by_user.as_ref().unwrap().full_name,
        "Bob von Helper"
    );
    assert!(!u.updated_by_user.as_ref().unwrap().is_bot);
    assert_eq!(u.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(u.updated_at, "2025-01-01T00:00:04.000Z");
    let u = w
        .engine
        .update_reply_suggestion(
            &user(BOB),
            routed(BOB),
            chat,
            msg,
            sid,
            body(None, Some(Some(0.2))),
            true,
        )
        .unwrap();
    assert_eq!(
        (u.suggestion.as_str(), u.relevancy_score),
        ("Yes, in blue.", Some(0.2))
    );
    let u = w
        .engine
        .update_reply_suggestion(
            &user(BOB),
            routed(BOB),
            chat,
            msg,
            sid,
            body(None, Some(None)),
            true,
        )
        .unwrap();
    assert_eq!(u.relevancy_score, None);
    // PUT needs the suggestion; an omitted score becomes null.
    let e = err(w.engine.update_reply_suggestion(
        &user(BOB),
        routed(BOB),
        chat,
        msg,
        sid,
        body(None, Some(Some(0.5))),
        false,
    ));
    assert!(e.errors.contains_key("suggestion"));
    w.engine
        .update_reply_suggestion(
            &user(BOB),
            routed(BOB),
            chat,
            msg,
            sid,
            body(Some("x"), Some(Some(0.5))),
            true,
        )
        .unwrap();
    let u = w
        .engine
        .update_reply_suggestion(
            &user(ROBO),
            routed(ROBO),
            chat,
            msg,
            sid,
            body(Some("Final."), None),
            false,
        )
        .unwrap();
    assert_eq!((u.suggestion.as_str(), u.relevancy_score), ("Final.", None));
    assert_eq!(u.updated_by_user_id, ROBO);
    let e = err(w.engine.update_reply_suggestion(
        &user(BOB),
        routed(BOB),
        chat,
        msg,
        sid,
        body(None, Some(Some(2.0))),
        true,
    ));
    assert!(e.errors.contains_key("relevancy_score"));
}

#[test]
fn updating_needs_the_suggestion_of_that_message() {
    let w = world();
    let (chat, msg) = w.routed_chat();
    let s = suggest(&w, BOB, routed(BOB), chat, msg, "Yes.", None);
    let sid: Uuid = s.id.parse().unwrap();
    let v = visitor(VISITOR2);
    let other: Uuid = w
        .engine
        .visitor_send_message(
            &crate::Actor::Visitor(v),
            v,
            chat,
            NewMessage {
                message: Some("More".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .id
        .parse()
        .unwrap();
    let e = err(w.engine.update_reply_suggestion(
        &user(BOB),
        routed(BOB),
        chat,
        other,
        sid,
        body(Some("x"), None),
        true,
    ));
    assert!(e.detail.starts_with("Reply suggestion"), "{e:?}");
    let e = err(w.engine.update_reply_suggestion(
        &user(BOB),
        routed(BOB),
        chat,
        msg,
        Uuid::nil(),
        body(Some("x"), None),
        true,
    ));
    assert_eq!(e.code, EC::NotFound);
    let e = err(w.engine.update_reply_suggestion(
        &user(BOB),
        routed(BOB),
        chat,
        Uuid::nil(),
        sid,
        body(Some("x"), None),
        true,
    ));
    assert!(e.detail.starts_with("Message"), "{e:?}");
    assert_eq!(
        code(w.engine.update_reply_suggestion(
            &user(ANN),
            routed(ANN),
            chat,
            msg,
            sid,
            body(Some("x"), None),
            true
        )),
        EC::NotFound
    );
}

#[test]
fn a_sent_message_carries_the_selected_suggestion() {
    let w = world();
    let (chat, msg) = w.routed_chat();
    let s = suggest(&w, ROBO, routed(ROBO), chat, msg, "Yes we do.", Some(0.6));
    w.engine
        .join_routed_chat(
            &user(BOB),
            id(BOB),
            chat,
            MembershipInput {
                is_participating: Some(true),
                composing_status: Some("idle".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let sent = w
        .engine
        .send_user_message(
            &user(BOB),
            id(BOB),
            chat,
            NewMessage {
                message: Some("Yes we do.".into()),
                selected_reply_suggestion_id: Some(s.id.parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        sent.selected_reply_suggestion_id.as_deref(),
        Some(s.id.as_str())
    );
    let nested = serde_json::to_value(&sent.selected_reply_suggestion).unwrap();
    assert_eq!(
        nested,
        serde_json::json!({"id": s.id, "suggestion": "Yes we do.", "relevancy_score": 0.6})
    );
    let listed = w
        .engine
        .list_messages(
            &user(BOB),
            member(BOB),
            chat,
            &Default::default(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(
        listed.results[0].selected_reply_suggestion,
        sent.selected_reply_suggestion
    );
    assert!(
        listed.results[1..]
            .iter()
            .all(|m| m.selected_reply_suggestion.is_none())
    );
    // A suggestion of another chat, or none at all: 400 on the field, nothing sent.
    let other_chat = w.ann_chat();
    let other_msg = w.say(ANN, other_chat, "Hi");
    let foreign = suggest(&w, ANN, member(ANN), other_chat, other_msg, "Other", None);
    for sid in [foreign.id.parse().unwrap(), Uuid::nil()] {
        let e = err(w.engine.send_user_message(
            &user(BOB),
            id(BOB),
            chat,
            NewMessage {
                message: Some("x".into()),
                selected_reply_suggestion_id: Some(sid),
                ..Default::default()
            },
        ));
        assert_eq!(e.code, EC::ValidationError);
        assert!(e.errors.contains_key("selected_reply_suggestion_id"));
    }
    assert_eq!(w.chat_of(BOB, chat).user_message_count, 1);
}

#[test]
fn an_ended_chat_takes_no_new_suggestions() {
    let w = world();
    let chat = w.ann_chat();
    let msg = w.say(ANN, chat, "Hello");
    let s = suggest(&w, ANN, member(ANN), chat, msg, "Bye", None);
    w.end(ANN, chat);
    let e = err(w.engine.create_reply_suggestion(
        &user(ANN),
        member(ANN),
        chat,
        msg,
        body(Some("Late"), None),
    ));
    assert_eq!((e.code, e.status()), (EC::ChatAlreadyEnded, 400));
    // Existing ones stay listed and editable.
    let u = w
        .engine
        .update_reply_suggestion(
            &user(ANN),
            member(ANN),
            chat,
            msg,
            s.id.parse().unwrap(),
            body(None, Some(Some(0.1))),
            true,
        )
        .unwrap();
    assert_eq!(u.relevancy_score, Some(0.1));
    assert_eq!(
        count(&w.engine, "SELECT COUNT(*) FROM reply_suggestions"),
        1
    );
}
