use super::*;
use crate::auth::Actor;
use crate::chats::{ChatScope, NewChat};
use crate::directory::OrganizationPatch;
use crate::error::ErrorCode as EC;
use crate::pagination::PageRequest;
use crate::test_support::*;

fn mine(who: &str) -> ChatScope {
    ChatScope::UserChats { user_id: id(who) }
}

fn tag(name: &str) -> NewTag {
    NewTag {
        name: Some(name.into()),
    }
}

fn add(w: &World, scope: ChatScope, actor: &str, chat: Uuid, name: &str) -> (Tag, bool) {
    w.engine
        .add_tag(&user(actor), scope, chat, tag(name))
        .unwrap()
}

fn names(w: &World, actor: &str, scope: ChatScope, chat: Uuid) -> Vec<String> {
    w.engine
        .list_tags(&user(actor), scope, chat, &PageRequest::default())
        .unwrap()
        .results
        .into_iter()
        .map(|t| t.name)
        .collect()
}

fn recount(w: &World) -> i64 {
    count(&w.engine, "SELECT COUNT(*) FROM chat_tags")
}

#[test]
fn hashed_name_is_the_lowercase_hex_sha1_of_the_name() {
    assert_eq!(
        hashed_name("Lead"),
        "c6f71d85aeaa3b60db80eedad5ebb75e321f3eb0"
    );
    assert_eq!(
        hashed_name("Premium customer"),
        "9bf6c43e2f84b91f3dd88d68646ea3b859845f6b"
    );
    assert_eq!(hashed_name(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

#[test]
fn adding_a_new_tag_is_201_and_an_existing_one_200_with_an_exact_tag_count() {
    let w = world();
    let chat = w.ann_chat();
    let (t, created) = add(&w, mine(ANN), ANN, chat, "Lead");
    assert!(created);
    assert_eq!(
        keys(&t),
        sorted(&["name", "hashed_name", "created_at", "room_id"])
    );
    assert_eq!(t.name, "Lead");
    assert_eq!(t.hashed_name, "c6f71d85aeaa3b60db80eedad5ebb75e321f3eb0");
    assert_eq!(t.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(t.room_id.as_deref(), Some(ROOM));
    assert_eq!(w.chat_of(ANN, chat).tag_count, 1);
    w.clock.advance_secs(3);
    let (again, created) = add(&w, mine(ANN), ANN, chat, "Lead");
    assert!(!created);
    assert_eq!(again, t, "the existing tag, with its original time");
    assert_eq!(w.chat_of(ANN, chat).tag_count, 1);
    let (_, created) = add(&w, mine(ANN), ANN, chat, "Support");
    assert!(created);
    let c = w.chat_of(ANN, chat);
    assert_eq!(c.tag_count, 2);
    assert_eq!(c.updated_at, "2025-01-01T00:00:03.000Z");
    assert_eq!(recount(&w), 2);
}

#[test]
fn the_name_is_required_and_bounded() {
    let w = world();
    let chat = w.ann_chat();
    for (input, why) in [
        (NewTag { name: None }, "missing"),
        (tag("   "), "blank"),
        (tag(&"x".repeat(MAX_TAG_CHARS + 1)), "too long"),
    ] {
        let e = err(w.engine.add_tag(&user(ANN), mine(ANN), chat, input));
        assert_eq!(e.code, EC::ValidationError, "{why}");
        assert_eq!(e.status(), 400);
        assert!(e.errors.contains_key("name"), "{why}: {e:?}");
    }
    let e = crate::input::from_json::<NewTag>(r#"{"name": 3}"#).unwrap_err();
    assert!(e.errors.contains_key("name"));
    assert_eq!(w.chat_of(ANN, chat).tag_count, 0);
}

#[test]
fn a_room_with_allowed_tags_takes_only_those() {
    let w = world();
    let chat = w.ann_chat();
    let e = err(w.engine.add_tag(&user(ANN), mine(ANN), chat, tag("VIP")));
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("name"));
    // The match is exact.
    assert!(
        w.engine
            .add_tag(&user(ANN), mine(ANN), chat, tag("lead"))
            .is_err()
    );
    assert_eq!(w.chat_of(ANN, chat).tag_count, 0);
    // A chat without a room, or in a room without allowed tags, takes any name.
    let own = w
        .engine
        .create_user_chat(&user(ANN), id(ANN), NewChat::default())
        .unwrap();
    let own: Uuid = own.id.parse().unwrap();
    let (t, created) = add(&w, mine(ANN), ANN, own, "VIP");
    assert!(created);
    assert_eq!(t.room_id, None);
    let routed = w
        .engine
        .create_user_chat(
            &user(ANN),
            id(ANN),
            NewChat {
                room_id: Some(id(ROUTED_ROOM)),
                ..Default::default()
            },
        )
        .unwrap();
    let routed: Uuid = routed.id.parse().unwrap();
    assert!(add(&w, mine(ANN), ANN, routed, "anything at all").1);
}

#[test]
fn tags_list_oldest_first_and_paginate_through_ties() {
    let w = world();
    let chat = w.ann_chat();
    add(&w, mine(ANN), ANN, chat, "Support");
    add(&w, mine(ANN), ANN, chat, "Lead");
    w.clock.advance_ms(5);
    add(&w, mine(ANN), ANN, chat, "Premium customer");
    // Same millisecond for the first two: the name breaks the tie.
    assert_eq!(
        names(&w, ANN, mine(ANN), chat),
        vec!["Lead", "Support", "Premium customer"]
    );
    let mut seen = vec![];
    let mut req = PageRequest::first(1);
    loop {
        let p = w
            .engine
            .list_tags(&user(ANN), mine(ANN), chat, &req)
            .unwrap();
        seen.extend(p.results.into_iter().map(|t| t.name));
        match p.next {
            Some(n) => req = PageRequest::at(n, Some(1)),
            None => break,
        }
    }
    assert_eq!(seen, vec!["Lead", "Support", "Premium customer"]);
    let listed = w
        .engine
        .list_tags(&user(ANN), mine(ANN), chat, &PageRequest::default())
        .unwrap();
    assert_eq!(listed.results[0].hashed_name, hashed_name("Lead"));
    assert_eq!(listed.results[0].room_id.as_deref(), Some(ROOM));
}

#[test]
fn removing_a_tag_by_its_decoded_name() {
    let w = world();
    let chat = w.ann_chat();
    add(&w, mine(ANN), ANN, chat, "Premium customer");
    add(&w, mine(ANN), ANN, chat, "Lead");
    w.engine
        .remove_tag(&user(ANN), mine(ANN), chat, "Premium customer")
        .unwrap();
    assert_eq!(names(&w, ANN, mine(ANN), chat), vec!["Lead"]);
    assert_eq!(w.chat_of(ANN, chat).tag_count, 1);
    let e = err(w
        .engine
        .remove_tag(&user(ANN), mine(ANN), chat, "Premium customer"));
    assert_eq!(e.code, EC::NotFound);
    assert_eq!(e.status(), 404);
    assert_eq!(
        code(
            w.engine
                .remove_tag(&user(ANN), mine(ANN), chat, "Premium%20customer")
        ),
        EC::NotFound
    );
    assert_eq!(w.chat_of(ANN, chat).tag_count, 1);
    assert_eq!(recount(&w), 1);
}

#[test]
fn organization_scopes_reach_tags_with_history_rules() {
    let w = world();
    let chat = w.ann_chat();
    let owned = ChatScope::Owned {
        organization_id: id(ACME),
    };
    let involved = ChatScope::Involved {
        organization_id: id(ACME),
    };
    let routed = ChatScope::OrgRouted {
        organization_id: id(ACME),
    };
    // Dan is no member, but reaches the chat through the organization.
    assert!(add(&w, owned, DAN, chat, "Lead").1);
    assert!(add(&w, involved, DAN, chat, "Support").1);
    assert!(!add(&w, routed, DAN, chat, "Lead").1);
    assert_eq!(names(&w, DAN, routed, chat), vec!["Lead", "Support"]);
    w.engine
        .remove_tag(&user(DAN), involved, chat, "Lead")
        .unwrap();
    assert_eq!(names(&w, ANN, mine(ANN), chat), vec!["Support"]);
    // A user chat scope needs membership: 404 for Dan.
    assert_eq!(
        code(
            w.engine
                .list_tags(&user(DAN), mine(DAN), chat, &PageRequest::default())
        ),
        EC::NotFound
    );
    assert_eq!(
        code(w.engine.add_tag(&user(DAN), mine(DAN), chat, tag("Lead"))),
        EC::NotFound
    );
    // Another organization: 403; another organization's chat id through one's own: 404.
    let e = err(w
        .engine
        .list_tags(&user(OLLI), owned, chat, &PageRequest::default()));
    assert_eq!((e.code, e.status()), (EC::PermissionDenied, 403));
    let olli_owned = ChatScope::Owned {
        organization_id: id(OTHER),
    };
    assert_eq!(
        code(
            w.engine
                .list_tags(&user(OLLI), olli_owned, chat, &PageRequest::default())
        ),
        EC::NotFound
    );
    // Private history without reports: 403 on every organization scope; Cat has reports.
    w.engine
        .update_organization(
            &Actor::Admin,
            id(ACME),
            OrganizationPatch {
                private_chat_history: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    for scope in [owned, involved, routed] {
        let e = err(w.engine.add_tag(&user(DAN), scope, chat, tag("Lead")));
        assert_eq!((e.code, e.status()), (EC::PrivateChatHistory, 403));
        assert_eq!(
            code(w.engine.remove_tag(&user(DAN), scope, chat, "Support")),
            EC::PrivateChatHistory
        );
        assert_eq!(
            code(
                w.engine
                    .list_allowed_tags(&user(DAN), scope, chat, &PageRequest::default())
            ),
            EC::PrivateChatHistory
        );
        assert_eq!(names(&w, CAT, scope, chat), vec!["Support"]);
    }
    // Scopes without a tag endpoint are refused.
    assert_eq!(
        code(w.engine.list_tags(
            &user(ANN),
            ChatScope::UserPending { user_id: id(ANN) },
            chat,
            &PageRequest::default()
        )),
        EC::PermissionDenied
    );
}

#[test]
fn allowed_tags_come_from_the_chats_room() {
    let w = world();
    let chat = w.ann_chat();
    let p = w
        .engine
        .list_allowed_tags(&user(ANN), mine(ANN), chat, &PageRequest::default())
        .unwrap();
    let got: Vec<(String, String)> = p
        .results
        .iter()
        .map(|t| (t.name.clone(), t.hashed_name.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Lead".to_string(), hashed_name("Lead")),
            (
                "Premium customer".to_string(),
                hashed_name("Premium customer")
            ),
            ("Support".to_string(), hashed_name("Support")),
        ]
    );
    assert!(p.results.iter().all(|t| t.room_id.as_deref() == Some(ROOM)));
    assert_eq!(
        keys(&p.results[0]),
        sorted(&["name", "hashed_name", "created_at", "room_id"])
    );
    // Pages of one walk the same order.
    let mut seen = vec![];
    let mut req = PageRequest::first(1);
    loop {
        let p = w
            .engine
            .list_allowed_tags(&user(ANN), mine(ANN), chat, &req)
            .unwrap();
        seen.extend(p.results.into_iter().map(|t| t.name));
        match p.next {
            Some(n) => req = PageRequest::at(n, Some(1)),
            None => break,
        }
    }
    assert_eq!(seen, vec!["Lead", "Premium customer", "Support"]);
    // Through the organization, and empty for a chat without a room.
    let owned = ChatScope::Owned {
        organization_id: id(ACME),
    };
    assert_eq!(
        w.engine
            .list_allowed_tags(&user(DAN), owned, chat, &PageRequest::default())
            .unwrap()
            .results
            .len(),
        3
    );
    let own = w
        .engine
        .create_user_chat(&user(ANN), id(ANN), NewChat::default())
        .unwrap();
    assert!(
        w.engine
            .list_allowed_tags(
                &user(ANN),
                mine(ANN),
                own.id.parse().unwrap(),
                &PageRequest::default()
            )
            .unwrap()
            .results
            .is_empty()
    );
    assert_eq!(
        code(
            w.engine
                .list_allowed_tags(&user(BOB), mine(BOB), chat, &PageRequest::default())
        ),
        EC::NotFound
    );
}

#[test]
fn an_ended_chat_is_locked_for_tags() {
    let w = world();
    let chat = w.ann_chat();
    add(&w, mine(ANN), ANN, chat, "Lead");
    w.end(ANN, chat);
    for name in ["Support", "Lead"] {
        let e = err(w.engine.add_tag(&user(ANN), mine(ANN), chat, tag(name)));
        assert_eq!((e.code, e.status()), (EC::ChatAlreadyEnded, 400));
    }
    assert_eq!(
        code(w.engine.remove_tag(&user(ANN), mine(ANN), chat, "Lead")),
        EC::ChatAlreadyEnded
    );
    // Removing a tag it does not have is still a 404; the tags stay listed.
    assert_eq!(
        code(w.engine.remove_tag(&user(ANN), mine(ANN), chat, "Support")),
        EC::NotFound
    );
    assert_eq!(names(&w, ANN, mine(ANN), chat), vec!["Lead"]);
    assert_eq!(w.chat_of(ANN, chat).tag_count, 1);
}

#[test]
fn tags_are_per_chat() {
    let w = world();
    let a = w.ann_chat();
    let own = w
        .engine
        .create_user_chat(&user(ANN), id(ANN), NewChat::default())
        .unwrap();
    let b: Uuid = own.id.parse().unwrap();
    assert!(add(&w, mine(ANN), ANN, a, "Lead").1);
    assert!(add(&w, mine(ANN), ANN, b, "Lead").1);
    w.engine
        .remove_tag(&user(ANN), mine(ANN), b, "Lead")
        .unwrap();
    assert_eq!(names(&w, ANN, mine(ANN), a), vec!["Lead"]);
    assert!(names(&w, ANN, mine(ANN), b).is_empty());
    assert_eq!(
        (w.chat_of(ANN, a).tag_count, w.chat_of(ANN, b).tag_count),
        (1, 0)
    );
}

#[test]
fn a_rooms_allowed_tags_are_listed_and_extended_through_the_room() {
    let w = world();
    let list = |who: &str| {
        w.engine
            .list_room_allowed_tags(&user(who), id(ACME), id(ROOM), &PageRequest::default())
            .map(|p| p.results.into_iter().map(|t| t.name).collect::<Vec<_>>())
    };
    assert_eq!(
        list(ANN).unwrap(),
        vec!["Lead", "Premium customer", "Support"]
    );
    // Adding needs the settings permission (Cat has it, Ann not).
    let e = err(w
        .engine
        .add_room_allowed_tag(&user(ANN), id(ACME), id(ROOM), tag("VIP")));
    assert_eq!(e.status(), 403);
    let (t, created) = w
        .engine
        .add_room_allowed_tag(&user(CAT), id(ACME), id(ROOM), tag("VIP"))
        .unwrap();
    assert!(created);
    assert_eq!(t.name, "VIP");
    assert_eq!(t.hashed_name, hashed_name("VIP"));
    assert_eq!(t.room_id.as_deref(), Some(ROOM));
    let (again, created) = w
        .engine
        .add_room_allowed_tag(&user(CAT), id(ACME), id(ROOM), tag("VIP"))
        .unwrap();
    assert!(!created);
    assert_eq!(again, t);
    assert_eq!(
        list(ANN).unwrap(),
        vec!["Lead", "Premium customer", "Support", "VIP"]
    );
    // Now a chat of the room takes it.
    let chat = w.ann_chat();
    assert!(add(&w, mine(ANN), ANN, chat, "VIP").1);
    // The name rule; a room of another organization; another organization's user.
    for bad in [
        NewTag { name: None },
        tag(" "),
        tag(&"x".repeat(MAX_TAG_CHARS + 1)),
    ] {
        let e = err(w
            .engine
            .add_room_allowed_tag(&user(CAT), id(ACME), id(ROOM), bad));
        assert_eq!(e.code, EC::ValidationError);
        assert!(e.errors.contains_key("name"));
    }
    let e = err(w
        .engine
        .add_room_allowed_tag(&user(CAT), id(ACME), Uuid::new_v4(), tag("VIP")));
    assert_eq!(e.status(), 404);
    assert!(list(OLLI).is_err());
}
