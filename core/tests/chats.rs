//! Chat rules: scopes and their access errors, listings and filters, derived attributes,
//! create-or-resume, ending and waiting.

mod common;

use chat_core::chats::{ChatListParams, ChatScope, ChatUpdate, NewChat};
use chat_core::{ErrorCode, PageRequest};
use common::*;

#[test]
fn a_visitor_message_makes_the_chat_waiting_and_pending_for_the_right_operators() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "Hello?");
    let c = w.chat(chat);
    assert!(c.is_waiting && c.is_pending && !c.is_ended);
    assert_eq!(
        c.waiting_started_at.as_deref(),
        Some("2025-01-01T00:00:00.000Z")
    );
    assert_eq!(
        (
            c.message_count,
            c.visitor_message_count,
            c.user_message_count
        ),
        (1, 1, 0)
    );
    assert_eq!(c.chat_type, "visitor");
    assert_eq!(c.room_name.as_deref(), Some("Support"));
    assert_eq!(c.visitor_member_count, 1);
    assert_eq!(c.present_visitor_participant_count, 1);
    // Support has no router: every Acme operator sees it; the partner sees it through the share.
    for op in [ANN, BOB, CAT, DAN] {
        assert_eq!(
            w.ids(&user(op), ChatScope::UserPending { user_id: u(op) }),
            vec![chat.to_string()],
            "{op}"
        );
    }
    // Sales is routed to the team (Bob only).
    let sales = w.waiting_chat(V2, SALES, "Price?");
    assert!(
        w.ids(&user(BOB), ChatScope::UserPending { user_id: u(BOB) })
            .contains(&sales.to_string())
    );
    assert!(
        !w.ids(&user(CAT), ChatScope::UserPending { user_id: u(CAT) })
            .contains(&sales.to_string())
    );
    assert!(
        !w.ids(&user(DAN), ChatScope::UserPending { user_id: u(DAN) })
            .contains(&sales.to_string())
    );
    assert_eq!(
        w.ids(&user(BOB), ChatScope::UserRouted { user_id: u(BOB) }),
        vec![sales.to_string()]
    );
    assert_eq!(
        w.ids(&user(DAN), ChatScope::UserRouted { user_id: u(DAN) }),
        vec![chat.to_string()]
    );
}

#[test]
fn a_user_reply_ends_waiting_and_computes_wait_time_and_real_conversation() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "Hello?");
    w.clock.advance_secs(42);
    w.engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    let c = w.chat(chat);
    assert!(
        !c.is_pending && c.is_waiting,
        "joined but not replied: waiting, not pending"
    );
    assert_eq!(c.visitor_wait_time, None);
    w.engine
        .send_user_message(&user(BOB), u(BOB), chat, msg("Hi!"))
        .unwrap();
    let c = w.chat(chat);
    assert!(!c.is_waiting && !c.is_pending && c.is_real_conversation);
    assert_eq!(c.visitor_wait_time, Some(42.0));
    assert_eq!(
        (c.user_message_count, c.user_member_count, c.member_count),
        (1, 1, 2)
    );
    assert_eq!(
        c.waiting_started_at.as_deref(),
        Some("2025-01-01T00:00:00.000Z"),
        "kept after waiting ends"
    );
}

#[test]
fn duration_and_active_duration_follow_the_60_second_rule_and_appear_when_ended() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "one");
    w.engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    w.clock.advance_secs(10);
    w.engine
        .send_user_message(&user(BOB), u(BOB), chat, msg("two"))
        .unwrap();
    w.clock.advance_secs(300);
    w.engine
        .visitor_send_message(&visitor(V1), v(V1), chat, msg("three"))
        .unwrap();
    assert_eq!(w.chat(chat).duration, None);
    assert_eq!(w.chat(chat).active_duration, None);
    w.clock.advance_secs(5);
    let ended = w
        .engine
        .update_chat(
            &user(BOB),
            ChatScope::UserChats { user_id: u(BOB) },
            chat,
            ChatUpdate {
                is_ended: Some(true),
                is_waiting: None,
            },
        )
        .unwrap();
    assert!(ended.is_ended && !ended.is_waiting && !ended.is_pending);
    assert_eq!(ended.duration, Some(310.0));
    assert_eq!(ended.active_duration, Some(70.0));
    assert_eq!(ended.ended_at.as_deref(), Some("2025-01-01T00:05:15.000Z"));
    assert_eq!(ended.legacy_conversation_state, "ended");
}

#[test]
fn ended_chats_are_locked() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "hi");
    w.engine
        .join_pending_chat(&user(BOB), u(BOB), chat, join_input())
        .unwrap();
    let scope = ChatScope::UserChats { user_id: u(BOB) };
    w.engine
        .update_chat(
            &user(BOB),
            scope,
            chat,
            ChatUpdate {
                is_ended: Some(true),
                is_waiting: None,
            },
        )
        .unwrap();
    let before = w.chat(chat);
    let e = w
        .engine
        .send_user_message(&user(BOB), u(BOB), chat, msg("late"))
        .unwrap_err();
    assert_eq!((e.code, e.status()), (ErrorCode::ChatEnded, 409));
    let e = w
        .engine
        .visitor_send_message(&visitor(V1), v(V1), chat, msg("late"))
        .unwrap_err();
    assert_eq!(e.status(), 409);
    let e = w
        .engine
        .update_chat(
            &user(BOB),
            scope,
            chat,
            ChatUpdate {
                is_ended: None,
                is_waiting: Some(false),
            },
        )
        .unwrap_err();
    assert_eq!((e.code, e.status()), (ErrorCode::ChatAlreadyEnded, 400));
    let e = w
        .engine
        .update_chat(
            &user(BOB),
            scope,
            chat,
            ChatUpdate {
                is_ended: Some(false),
                is_waiting: None,
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let e = w
        .engine
        .update_user_membership(&user(BOB), u(BOB), chat, join_input(), false)
        .unwrap_err();
    assert_eq!((e.code, e.status()), (ErrorCode::ChatAlreadyEnded, 400));
    let e = w
        .engine
        .join_pending_chat(&user(ANN), u(ANN), chat, join_input())
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = w
        .engine
        .join_routed_chat(&user(DAN), u(DAN), chat, join_input())
        .unwrap_err();
    assert_eq!(e.status(), 404);
    // Ending again answers the chat unchanged.
    let again = w
        .engine
        .update_chat(
            &user(BOB),
            scope,
            chat,
            ChatUpdate {
                is_ended: Some(true),
                is_waiting: None,
            },
        )
        .unwrap();
    assert_eq!(again, before);
    assert_eq!(w.chat(chat), before);
}

#[test]
fn update_chat_validates_its_payload_and_scope() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "hi");
    let owned = ChatScope::Owned {
        organization_id: u(ACME),
    };
    let e = w
        .engine
        .update_chat(&user(ANN), owned, chat, ChatUpdate::default())
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.errors.contains_key("is_ended") && e.errors.contains_key("is_waiting"));
    let e = w
        .engine
        .update_chat(
            &user(ANN),
            owned,
            chat,
            ChatUpdate {
                is_waiting: Some(true),
                is_ended: None,
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let c = w
        .engine
        .update_chat(
            &user(ANN),
            owned,
            chat,
            ChatUpdate {
                is_waiting: Some(false),
                is_ended: None,
            },
        )
        .unwrap();
    assert!(!c.is_waiting && !c.is_pending);
    // A user who is not a member cannot update through their chats: 404.
    let e = w
        .engine
        .update_chat(
            &user(CAT),
            ChatScope::UserChats { user_id: u(CAT) },
            chat,
            ChatUpdate {
                is_ended: Some(true),
                is_waiting: None,
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
    assert!(!w.chat(chat).is_ended);
}

#[test]
fn access_errors_per_scope() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "hi");
    let p = ChatListParams::default();
    let pr = PageRequest::default();
    let status = |a: &str, s: ChatScope| {
        w.engine
            .list_chats(&user(a), s, &p, &pr)
            .err()
            .map(|e| (e.status(), e.code))
    };
    // No subscription.
    assert_eq!(
        status(EVE, ChatScope::UserChats { user_id: u(EVE) }),
        Some((403, ErrorCode::NoActiveSubscription))
    );
    // Another user's listing without settings permission; another organization.
    assert_eq!(
        status(BOB, ChatScope::UserChats { user_id: u(ANN) }),
        Some((403, ErrorCode::PermissionDenied))
    );
    assert_eq!(
        status(ANN, ChatScope::UserChats { user_id: u(DAN) }),
        Some((403, ErrorCode::PermissionDenied))
    );
    assert_eq!(
        status(
            DAN,
            ChatScope::Owned {
                organization_id: u(ACME)
            }
        ),
        Some((403, ErrorCode::PermissionDenied))
    );
    // Settings permission reaches colleagues.
    assert_eq!(status(ANN, ChatScope::UserChats { user_id: u(BOB) }), None);
    // Room scopes need the reports permission.
    assert_eq!(
        status(
            BOB,
            ChatScope::Room {
                organization_id: u(ACME),
                room_id: u(SUPPORT)
            }
        ),
        Some((403, ErrorCode::ReportsPermissionRequired))
    );
    assert_eq!(
        status(
            ANN,
            ChatScope::Room {
                organization_id: u(ACME),
                room_id: u(PARTNER_ROOM)
            }
        ),
        Some((404, ErrorCode::NotFound))
    );
    assert_eq!(
        w.ids(
            &user(ANN),
            ChatScope::RoomPending {
                organization_id: u(ACME),
                room_id: u(SUPPORT)
            }
        ),
        vec![chat.to_string()]
    );
    // Owned works without reports until private history is on.
    assert_eq!(
        status(
            BOB,
            ChatScope::Owned {
                organization_id: u(ACME)
            }
        ),
        None
    );
    w.engine
        .update_organization(
            &user(ANN),
            u(ACME),
            serde_json::from_value(serde_json::json!({"private_chat_history": true})).unwrap(),
        )
        .unwrap();
    for s in [
        ChatScope::Owned {
            organization_id: u(ACME),
        },
        ChatScope::Involved {
            organization_id: u(ACME),
        },
        ChatScope::OrgRouted {
            organization_id: u(ACME),
        },
    ] {
        assert_eq!(status(BOB, s), Some((403, ErrorCode::PrivateChatHistory)));
        assert_eq!(status(ANN, s), None);
    }
    // Single chats: 404 outside the scope.
    let e = w
        .engine
        .get_chat(
            &user(DAN),
            ChatScope::Owned {
                organization_id: u(PARTNER),
            },
            chat,
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = w
        .engine
        .get_chat(&user(BOB), ChatScope::UserChats { user_id: u(BOB) }, chat)
        .unwrap_err();
    assert_eq!(e.status(), 404);
    // Acme's history is private now: Dan (no reports) no longer sees its shared room's chats
    // among his organization's routed chats; the room stays routed to him as a user.
    assert_eq!(
        w.engine
            .get_chat(
                &user(DAN),
                ChatScope::OrgRouted {
                    organization_id: u(PARTNER)
                },
                chat
            )
            .unwrap_err()
            .status(),
        404
    );
    assert!(
        w.engine
            .get_chat(&user(DAN), ChatScope::UserRouted { user_id: u(DAN) }, chat)
            .is_ok()
    );
}

#[test]
fn routed_chats_of_partners_hide_private_history_rooms_from_users_without_reports() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "hi");
    let routed = ChatScope::OrgRouted {
        organization_id: u(PARTNER),
    };
    assert_eq!(w.ids(&user(DAN), routed), vec![chat.to_string()]);
    w.engine
        .update_organization(
            &user(ANN),
            u(ACME),
            serde_json::from_value(serde_json::json!({"private_chat_history": true})).unwrap(),
        )
        .unwrap();
    assert!(
        w.ids(&user(DAN), routed).is_empty(),
        "Acme's history is private; Dan has no reports permission"
    );
}

#[test]
fn listing_filters_and_orderings() {
    let w = world();
    let a = w.waiting_chat(V1, SUPPORT, "a");
    w.clock.advance_secs(60);
    let b = w.waiting_chat(V3, SUPPORT, "b");
    w.clock.advance_secs(60);
    let c = w
        .engine
        .create_user_chat(
            &user(ANN),
            u(ANN),
            NewChat {
                room_id: Some(u(SUPPORT)),
                ..Default::default()
            },
        )
        .unwrap();
    let owned = ChatScope::Owned {
        organization_id: u(ACME),
    };
    let all = |p: ChatListParams| {
        w.all_chats(&user(ANN), owned, &p)
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all(ChatListParams::default()),
        vec![c.id.clone(), b.to_string(), a.to_string()],
        "newest first by default"
    );
    assert_eq!(
        all(ChatListParams {
            ordering: Some("created_at".into()),
            ..Default::default()
        }),
        vec![a.to_string(), b.to_string(), c.id.clone()]
    );
    assert_eq!(
        all(ChatListParams {
            is_waiting: Some(true),
            ..Default::default()
        }),
        vec![b.to_string(), a.to_string()]
    );
    assert_eq!(
        all(ChatListParams {
            has_messages: Some(false),
            ..Default::default()
        }),
        vec![c.id.clone()]
    );
    assert_eq!(
        all(ChatListParams {
            has_visitor_messages: Some(true),
            ..Default::default()
        })
        .len(),
        2
    );
    assert_eq!(
        all(ChatListParams {
            has_user_messages: Some(true),
            ..Default::default()
        })
        .len(),
        0
    );
    assert_eq!(
        all(ChatListParams {
            created_at_after: Some("2025-01-01T00:00:30Z".into()),
            ..Default::default()
        }),
        vec![c.id.clone(), b.to_string()]
    );
    assert_eq!(
        all(ChatListParams {
            created_at_before: Some("2025-01-01T02:00:30+02:00".into()),
            ..Default::default()
        }),
        vec![a.to_string()]
    );
    assert_eq!(
        all(ChatListParams {
            is_ended: Some(true),
            ..Default::default()
        })
        .len(),
        0
    );
    let e = w
        .engine
        .list_chats(
            &user(ANN),
            owned,
            &ChatListParams {
                ordering: Some("updated_at".into()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .unwrap_err();
    assert!(e.errors.contains_key("ordering"));
    let e = w
        .engine
        .list_chats(
            &user(ANN),
            owned,
            &ChatListParams {
                created_at_after: Some("yesterday".into()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .unwrap_err();
    assert!(e.errors.contains_key("created_at_after"));
    // User chats: updated_at ordering and is_participating.
    let mine = ChatScope::UserChats { user_id: u(ANN) };
    let p = ChatListParams {
        ordering: Some("-updated_at".into()),
        is_participating: Some(true),
        ..Default::default()
    };
    assert_eq!(w.all_chats(&user(ANN), mine, &p).len(), 1);
    let p = ChatListParams {
        is_participating: Some(false),
        ..Default::default()
    };
    assert!(w.all_chats(&user(ANN), mine, &p).is_empty());
    // Involved: chats with a member of the organization.
    assert_eq!(
        w.ids(
            &user(ANN),
            ChatScope::Involved {
                organization_id: u(ACME)
            }
        ),
        vec![c.id.clone()]
    );
    // Visitor chats of a room.
    assert_eq!(
        w.ids(
            &user(ANN),
            ChatScope::RoomVisitor {
                organization_id: u(ACME),
                room_id: u(SUPPORT),
                visitor_id: v(V1)
            }
        ),
        vec![a.to_string()]
    );
    assert_eq!(
        w.ids(
            &user(BOB),
            ChatScope::UserRoomVisitor {
                user_id: u(BOB),
                room_id: u(SUPPORT),
                visitor_id: v(V3)
            }
        ),
        vec![b.to_string()]
    );
    let e = w
        .engine
        .list_chats(
            &user(BOB),
            ChatScope::UserRoomVisitor {
                user_id: u(BOB),
                room_id: u(PARTNER_ROOM),
                visitor_id: v(V3),
            },
            &ChatListParams::default(),
            &PageRequest::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = w
        .engine
        .list_chats(
            &user(BOB),
            ChatScope::UserRoomVisitor {
                user_id: u(BOB),
                room_id: u(SUPPORT),
                visitor_id: v("44444444444444444444444444444444"),
            },
            &ChatListParams::default(),
            &PageRequest::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn create_visitor_chat_creates_then_resumes_and_respects_private_chats() {
    let w = world();
    let (c1, created) = w
        .engine
        .create_visitor_chat(&user(BOB), u(BOB), u(SUPPORT), v(V1), NewChat::default())
        .unwrap();
    assert!(created);
    assert_eq!(
        (
            c1.chat_type.as_str(),
            c1.member_count,
            c1.present_participant_count
        ),
        ("visitor", 1, 2)
    );
    let (c2, created) = w
        .engine
        .create_visitor_chat(&user(BOB), u(BOB), u(SUPPORT), v(V1), NewChat::default())
        .unwrap();
    assert!(!created);
    assert_eq!(c2.id, c1.id);
    // Without private chats a colleague joins the same chat.
    let (c3, created) = w
        .engine
        .create_visitor_chat(&user(ANN), u(ANN), u(SUPPORT), v(V1), NewChat::default())
        .unwrap();
    assert!(!created);
    assert_eq!(c3.id, c1.id);
    // With private chats someone else present in the chat blocks it.
    w.engine
        .update_organization(
            &user(ANN),
            u(ACME),
            serde_json::from_value(serde_json::json!({"private_chats": true})).unwrap(),
        )
        .unwrap();
    let e = w
        .engine
        .create_visitor_chat(&user(CAT), u(CAT), u(SUPPORT), v(V1), NewChat::default())
        .unwrap_err();
    assert_eq!((e.status(), e.code), (409, ErrorCode::PrivateChatTaken));
    // The reports permission is exempt, as for routed chats: Ann enters a chat Bob serves.
    let (served, created) = w
        .engine
        .create_visitor_chat(&user(BOB), u(BOB), u(SUPPORT), v(V3), NewChat::default())
        .unwrap();
    assert!(created);
    let (entered, created) = w
        .engine
        .create_visitor_chat(&user(ANN), u(ANN), u(SUPPORT), v(V3), NewChat::default())
        .unwrap();
    assert!(!created);
    assert_eq!(entered.id, served.id);
    assert_eq!(entered.present_user_participant_count, 2);
    // Errors: room not reachable (403), visitor unknown (404), other user's path (403).
    let e = w
        .engine
        .create_visitor_chat(
            &user(BOB),
            u(BOB),
            u(PARTNER_ROOM),
            v(V1),
            NewChat::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 403);
    let e = w
        .engine
        .create_visitor_chat(
            &user(BOB),
            u(BOB),
            u(SUPPORT),
            v("abababababababababababababababab"),
            NewChat::default(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = w
        .engine
        .create_visitor_chat(&user(BOB), u(CAT), u(SUPPORT), v(V1), NewChat::default())
        .unwrap_err();
    assert_eq!(e.status(), 403);
}

#[test]
fn create_user_chat_defaults_and_validation() {
    let w = world();
    let c = w
        .engine
        .create_user_chat(&user(BOB), u(BOB), NewChat::default())
        .unwrap();
    assert_eq!(
        (
            c.chat_type.as_str(),
            c.room_id.as_ref(),
            c.room_organization_id.as_str()
        ),
        ("operator", None, ACME)
    );
    let e = w
        .engine
        .create_user_chat(
            &user(BOB),
            u(BOB),
            NewChat {
                chat_type: Some("visitor".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.errors.contains_key("chat_type"));
    let e = w
        .engine
        .create_user_chat(
            &user(BOB),
            u(BOB),
            NewChat {
                room_id: Some(u(PARTNER_ROOM)),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.errors.contains_key("room_id"));
    // The creator is a member and a join event was written.
    let msgs = w
        .engine
        .list_messages(
            &user(BOB),
            ChatScope::UserChats { user_id: u(BOB) },
            c.id.parse().unwrap(),
            &Default::default(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(
        msgs.results
            .iter()
            .map(|m| m.kind.as_str())
            .collect::<Vec<_>>(),
        vec!["join"]
    );
    assert_eq!(
        w.engine
            .get_chat(
                &user(BOB),
                ChatScope::UserChats { user_id: u(BOB) },
                c.id.parse().unwrap()
            )
            .unwrap()
            .message_count,
        0
    );
}

#[test]
fn chats_serialize_with_every_reference_attribute() {
    let w = world();
    let chat = w.waiting_chat(V1, SUPPORT, "hi");
    let json = serde_json::to_value(w.chat(chat)).unwrap();
    let keys = [
        "id",
        "token",
        "created_at",
        "ended_at",
        "waiting_started_at",
        "updated_at",
        "room_id",
        "room_name",
        "room_organization_id",
        "chat_type",
        "is_private",
        "is_real_conversation",
        "is_autosuggested",
        "is_encrypted",
        "encrypted_symmetric_key",
        "message_count",
        "user_message_count",
        "visitor_message_count",
        "has_messages",
        "has_user_messages",
        "has_visitor_messages",
        "first_visitor_message_url",
        "first_visitor_message_url_title",
        "autosuggest_url",
        "autosuggest_url_title",
        "tag_count",
        "is_waiting",
        "is_pending",
        "is_ended",
        "member_count",
        "user_member_count",
        "visitor_member_count",
        "present_participant_count",
        "present_user_participant_count",
        "present_visitor_participant_count",
        "visitor_wait_time",
        "duration",
        "active_duration",
        "legacy_conversation_state",
        "legacy_room_id",
    ];
    let obj = json.as_object().unwrap();
    for k in keys {
        assert!(obj.contains_key(k), "missing {k}");
    }
    assert_eq!(
        obj.len(),
        keys.len(),
        "no extra attributes: {:?}",
        obj.keys().collect::<Vec<_>>()
    );
    assert_eq!(json["room_organization_id"], ACME);
    assert!(json["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn autosuggestion_marks_the_chat_and_records_its_page() {
    let w = world();
    let (c, _) = w
        .engine
        .create_visitor_chat(&user(BOB), u(BOB), u(SUPPORT), v(V1), NewChat::default())
        .unwrap();
    let id = c.id.parse().unwrap();
    let m = w
        .engine
        .send_autosuggest(
            &user(BOB),
            u(BOB),
            id,
            chat_core::messages::NewAutosuggest {
                message: Some("Can I help?".into()),
                url: Some("https://shop.example/".into()),
                url_title: Some("Shop".into()),
            },
        )
        .unwrap();
    assert_eq!(m.kind, "autosuggest");
    let c = w.chat(id);
    assert!(c.is_autosuggested);
    assert_eq!(c.autosuggest_url.as_deref(), Some("https://shop.example/"));
    assert_eq!(c.autosuggest_url_title.as_deref(), Some("Shop"));
    assert_eq!(c.message_count, 0, "autosuggestions are not msg messages");
}
