//! Membership rules: joining pending / routed / organization chats, participation, presence,
//! composing status, join and leave events, listings.

mod common;

use chat_core::chats::{ChatScope, NewChat};
use chat_core::memberships::MembershipInput;
use chat_core::{ErrorCode, PageRequest};
use common::*;

fn kinds(w: &World, chat: uuid::Uuid) -> Vec<String> {
    let p = w
        .engine
        .list_messages(
            &user(ANN),
            ChatScope::Owned {
                organization_id: u(ACME),
            },
            chat,
            &Default::default(),
            &PageRequest::first(100),
        )
        .unwrap();
    let mut k: Vec<String> = p.results.into_iter().map(|m| m.kind).collect();
    k.reverse();
    k
}

#[test]
fn joining_a_pending_chat_takes_it_from_everyone_and_absence_returns_it() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "help");
    let m = w
        .engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    assert_eq!(
        (
            m.member_type.as_str(),
            m.member_id.as_str(),
            m.is_present,
            m.composing_status.as_str()
        ),
        ("user", BOB, true, "idle")
    );
    assert_eq!(
        m.member_name.clone().flatten().as_deref(),
        Some("Bob Stone")
    );
    for op in [ANN, CAT, DAN] {
        assert!(
            w.ids(&user(op), ChatScope::UserPending { user_id: u(op) })
                .is_empty()
        );
    }
    // A second operator is too late: 404 not pending.
    let e = w
        .engine
        .join_pending_chat(&user(ANN), u(ANN), chat, join_input())
        .unwrap_err();
    assert_eq!((e.status(), e.code), (404, ErrorCode::ChatNotPending));
    // Bob goes absent before replying: the chat is pending again (Bob stays a member).
    w.engine.set_user_presence(u(BOB), Some(0)).unwrap();
    assert!(w.chat(chat).is_pending);
    assert_eq!(
        w.ids(&user(ANN), ChatScope::UserPending { user_id: u(ANN) }),
        vec![chat.to_string()]
    );
    assert_eq!(kinds(&w, chat), vec!["msg", "join"]);
}

#[test]
fn join_pending_errors() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "help");
    // Absent user: 409.
    let e = w
        .engine
        .join_pending_chat(&user(CAT), u(CAT), chat, join_input())
        .unwrap_err();
    assert_eq!((e.status(), e.code), (409, ErrorCode::UserNotPresent));
    // Missing attributes: 400 naming both.
    let e = w
        .engine
        .join_pending_chat(&user(BOB), u(BOB), chat, MembershipInput::default())
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.errors.contains_key("is_participating") && e.errors.contains_key("composing_status"));
    let e = w
        .engine
        .join_pending_chat(
            &user(BOB),
            u(BOB),
            chat,
            MembershipInput {
                composing_status: Some("dancing".into()),
                ..join_input()
            },
        )
        .unwrap_err();
    assert!(e.errors.contains_key("composing_status"));
    // Unknown chat: 404; chat in a room the user cannot see: 404.
    let e = w
        .engine
        .join_pending_chat(&user(BOB), u(BOB), uuid::Uuid::now_v7(), join_input())
        .unwrap_err();
    assert_eq!((e.status(), e.code), (404, ErrorCode::NotFound));
    let sales = w.waiting_chat(V2, SALES, "x");
    let e = w
        .engine
        .join_pending_chat(&user(ANN), u(ANN), sales, join_input())
        .unwrap_err();
    assert_eq!((e.status(), e.code), (404, ErrorCode::NotFound));
    // Ended: 404.
    w.engine
        .update_chat(
            &user(ANN),
            ChatScope::Owned {
                organization_id: u(ACME),
            },
            chat,
            chat_core::chats::ChatUpdate {
                is_ended: Some(true),
                is_waiting: None,
            },
        )
        .unwrap();
    let e = w
        .engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap_err();
    assert_eq!(e.status(), 404);
    assert!(e.detail.contains("ended"), "{e:?}");
}

#[test]
fn routed_join_and_private_chats() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "help");
    w.engine
        .join_pending_chat(&user(ANN), u(ANN), chat, join_input())
        .unwrap();
    // Not routed to Bob (Support has no router, and Bob's org owns it): 404.
    let e = w
        .engine
        .join_routed_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap_err();
    assert_eq!(e.status(), 404);
    // Routed to Dan through the share.
    let m = w
        .engine
        .join_routed_chat(&user(DAN), u(DAN), chat, join_input())
        .unwrap();
    assert_eq!(m.member_organization_id.as_deref(), Some(PARTNER));
    // Private chats: another present user is in; a joiner without reports gets 409.
    let chat2 = w.waiting_chat(V3, SUPPORT, "again");
    w.engine
        .join_pending_chat(&user(ANN), u(ANN), chat2, join_input())
        .unwrap();
    w.engine
        .update_organization(
            &user(ANN),
            u(ACME),
            serde_json::from_value(serde_json::json!({"private_chats": true})).unwrap(),
        )
        .unwrap();
    let e = w
        .engine
        .join_routed_chat(&user(DAN), u(DAN), chat2, join_input())
        .unwrap_err();
    assert_eq!((e.status(), e.code), (409, ErrorCode::PrivateChatTaken));
}

#[test]
fn organization_joins_answer_200_for_existing_and_201_for_new() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "help");
    let owned = ChatScope::Owned {
        organization_id: u(ACME),
    };
    let input = MembershipInput {
        member_id: Some(u(CAT)),
        ..join_input()
    };
    let (m, created) = w
        .engine
        .join_org_chat(&user(ANN), owned, chat, input.clone())
        .unwrap();
    assert!(created);
    assert_eq!(m.member_id, CAT);
    let (_, created) = w
        .engine
        .join_org_chat(&user(ANN), owned, chat, input)
        .unwrap();
    assert!(!created);
    // Cat is absent: the chat stays pending although Cat participates.
    assert!(w.chat(chat).is_pending);
    let e = w
        .engine
        .join_org_chat(
            &user(ANN),
            owned,
            chat,
            MembershipInput {
                member_id: Some(u(DAN)),
                ..join_input()
            },
        )
        .unwrap_err();
    assert!(
        e.errors.contains_key("member_id"),
        "a partner's user is not the organization's"
    );
    let e = w
        .engine
        .join_org_chat(&user(ANN), owned, chat, join_input())
        .unwrap_err();
    assert!(e.errors.contains_key("member_id"));
    // A participating, present member removes it from pending chats.
    w.engine
        .join_org_chat(
            &user(ANN),
            ChatScope::Involved {
                organization_id: u(ACME),
            },
            chat,
            MembershipInput {
                member_id: Some(u(BOB)),
                ..join_input()
            },
        )
        .unwrap();
    assert!(!w.chat(chat).is_pending);
}

#[test]
fn membership_updates_write_join_and_leave_events_and_typing_falls_back() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "help");
    w.engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    let leave = MembershipInput {
        is_participating: Some(false),
        composing_status: Some("idle".into()),
        ..Default::default()
    };
    let m = w
        .engine
        .update_user_membership(&user(BOB), u(BOB), chat, leave, false)
        .unwrap();
    assert!(!m.is_participating && !m.is_present);
    let typing = MembershipInput {
        is_participating: Some(true),
        composing_status: Some("typing".into()),
        last_seen_at: Some(Some("2025-01-01T00:00:00.500Z".into())),
        ..Default::default()
    };
    let m = w
        .engine
        .update_user_membership(&user(BOB), u(BOB), chat, typing, false)
        .unwrap();
    assert_eq!(
        (m.composing_status.as_str(), m.last_seen_at.as_deref()),
        ("typing", Some("2025-01-01T00:00:00.500Z"))
    );
    assert_eq!(kinds(&w, chat), vec!["msg", "join", "leave", "join"]);
    w.clock.advance_secs(15);
    let members = w
        .engine
        .list_memberships(
            &user(BOB),
            ChatScope::UserChats { user_id: u(BOB) },
            chat,
            &PageRequest::default(),
        )
        .unwrap();
    let bob = members.results.iter().find(|m| m.member_id == BOB).unwrap();
    assert_eq!(bob.composing_status.as_str(), "typed");
    assert_eq!(w.engine.maintenance().unwrap().typing_settled, 1);
    // PUT needs both fields; PATCH takes a subset.
    let e = w
        .engine
        .update_user_membership(
            &user(BOB),
            u(BOB),
            chat,
            MembershipInput {
                last_seen_at: Some(None),
                ..Default::default()
            },
            false,
        )
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let m = w
        .engine
        .update_user_membership(
            &user(BOB),
            u(BOB),
            chat,
            MembershipInput {
                last_seen_at: Some(None),
                ..Default::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(m.last_seen_at, None);
    // Absent users cannot start participating: 409. Non-members: 404.
    w.engine.set_user_presence(u(BOB), Some(0)).unwrap();
    let e = w
        .engine
        .update_user_membership(&user(BOB), u(BOB), chat, join_input(), false)
        .unwrap_err();
    assert_eq!((e.status(), e.code), (409, ErrorCode::UserNotPresent));
    let e = w
        .engine
        .update_user_membership(&user(ANN), u(ANN), chat, join_input(), false)
        .unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn membership_listings() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "help");
    w.clock.advance_secs(1);
    w.engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    let other = w
        .engine
        .create_user_chat(
            &user(BOB),
            u(BOB),
            NewChat {
                is_participating: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    let all = w
        .engine
        .list_memberships(
            &user(ANN),
            ChatScope::Room {
                organization_id: u(ACME),
                room_id: u(SUPPORT),
            },
            chat,
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(
        all.results
            .iter()
            .map(|m| m.member_type.as_str())
            .collect::<Vec<_>>(),
        vec!["visitor", "user"]
    );
    let visitor_m = &all.results[0];
    assert_eq!(
        (
            visitor_m.member_id.as_str(),
            visitor_m.member_name.clone().flatten().as_deref(),
            visitor_m.member_organization_id.as_ref()
        ),
        (V1, Some("Vera"), None)
    );
    let mine = w
        .engine
        .list_user_memberships(&user(BOB), u(BOB), None, &PageRequest::default())
        .unwrap();
    assert_eq!(
        mine.results
            .iter()
            .map(|m| m.chat_id.clone())
            .collect::<Vec<_>>(),
        vec![other.id.clone(), chat.to_string()]
    );
    let participating = w
        .engine
        .list_user_memberships(&user(BOB), u(BOB), Some(true), &PageRequest::default())
        .unwrap();
    assert_eq!(participating.results.len(), 1);
    let vm = w
        .engine
        .list_visitor_chat_memberships(&user(BOB), u(BOB), chat, v(V1), &PageRequest::default())
        .unwrap();
    assert_eq!(vm.results.len(), 1);
    let e = w
        .engine
        .list_visitor_chat_memberships(
            &user(BOB),
            u(BOB),
            chat,
            v("abababababababababababababababab"),
            &PageRequest::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
    // Pending memberships: only while pending.
    let chat2 = w.waiting_chat(V3, SUPPORT, "x");
    assert_eq!(
        w.engine
            .list_memberships(
                &user(ANN),
                ChatScope::UserPending { user_id: u(ANN) },
                chat2,
                &PageRequest::default()
            )
            .unwrap()
            .results
            .len(),
        1
    );
    let e = w
        .engine
        .list_memberships(
            &user(ANN),
            ChatScope::UserPending { user_id: u(ANN) },
            chat,
            &PageRequest::default(),
        )
        .unwrap_err();
    assert_eq!((e.status(), e.code), (404, ErrorCode::ChatNotPending));
    let json = serde_json::to_value(&all.results[1]).unwrap();
    assert_eq!(json.as_object().unwrap().len(), 20, "{json}");
}
