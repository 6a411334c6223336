//! Directory: seed loading, authentication, tokens, permissions, teams, rooms, routers,
//! visitors, presence, and the time-driven maintenance rules.

mod common;

use chat_core::chats::{ChatScope, ChatUpdate, NewChat};
use chat_core::directory::{NewRoom, NewUser, PresenceInput, VisitorVariable};
use chat_core::input::from_value;
use chat_core::{Actor, Engine, ErrorCode, PageRequest};
use common::*;
use serde_json::json;

#[test]
fn seed_loads_everything_and_bad_seeds_change_nothing() {
    let w = world();
    assert_eq!(
        w.engine.authenticate("ann-token-0123456789").unwrap(),
        user(ANN)
    );
    assert_eq!(
        w.engine.authenticate("nope").unwrap_err().code,
        ErrorCode::NotAuthenticated
    );
    let team = w.engine.get_team(&user(ANN), u(ACME), u(TEAM)).unwrap();
    assert_eq!(
        (
            team.member_count,
            team.present_member_count,
            team.is_present,
            team.is_online
        ),
        (1, 1, true, true)
    );
    let room = w.engine.get_room(&user(BOB), u(ACME), u(SUPPORT)).unwrap();
    assert_eq!(room.allowed_tags, vec!["Lead", "Bug"]);
    assert_eq!(room.shared_with, vec![PARTNER]);
    let org = w.engine.get_organization(&user(DAN), u(PARTNER)).unwrap();
    assert_eq!(org.partner_ids, vec![ACME]);
    // A seed with a bad row at the end fails whole: nothing of it stays.
    let engine = Engine::open_in_memory().unwrap();
    let mut bad = seed_json();
    bad["rooms"][2]["organization_id"] = json!("00000000-0000-4000-8000-000000000999");
    let e = engine.load_seed_json(&bad.to_string()).unwrap_err();
    assert!(e.detail.starts_with("rooms[2]"), "{e:?}");
    assert_eq!(
        engine
            .authenticate("ann-token-0123456789")
            .unwrap_err()
            .code,
        ErrorCode::NotAuthenticated
    );
    let e = engine
        .load_seed_json(r#"{"organizations": [{"id": "x"}]}"#)
        .unwrap_err();
    assert_eq!(e.status(), 400);
}

/// Ids are never taken twice: the same seed again, or an organization created with an id that
/// exists, is `already_exists` (409) and changes nothing.
#[test]
fn an_id_that_exists_is_already_exists() {
    let w = world();
    let e = w
        .engine
        .load_seed_json(&seed_json().to_string())
        .unwrap_err();
    assert_eq!(
        (e.code, e.status()),
        (ErrorCode::AlreadyExists, 409),
        "{e:?}"
    );
    assert_eq!(e.to_json()["code"], "already_exists");
    let e = chat_core::api::call(
        &w.engine,
        &Actor::Admin,
        "create_organization",
        &json!({"body": {"id": ACME, "name": "Acme again"}}),
    )
    .unwrap_err();
    assert_eq!(
        (e.code, e.status()),
        (ErrorCode::AlreadyExists, 409),
        "{e:?}"
    );
    let org = w.engine.get_organization(&user(ANN), u(ACME)).unwrap();
    assert_eq!(org.name, "Acme");
}

#[test]
fn tokens_are_random_hashed_and_revocable() {
    let w = world();
    let t = w.engine.create_api_token(&user(BOB), u(BOB)).unwrap();
    assert!(t.token.len() >= 32);
    assert_eq!(w.engine.authenticate(&t.token).unwrap(), user(BOB));
    let hashes = raw_rows(&w.engine, "SELECT token_hash FROM api_tokens");
    assert!(!hashes.is_empty());
    let token_hex = hex::encode(t.token.as_bytes());
    assert!(
        hashes.iter().all(|h| !h[0].contains(&token_hex)),
        "the token itself is not stored"
    );
    let e = w.engine.create_api_token(&user(BOB), u(ANN)).unwrap_err();
    assert_eq!(e.status(), 403);
    w.engine
        .revoke_api_token(&user(BOB), u(BOB), t.id.parse().unwrap())
        .unwrap();
    assert_eq!(w.engine.authenticate(&t.token).unwrap_err().status(), 401);
    // A deleted user's tokens stop working (also once remembered).
    assert_eq!(
        w.engine.authenticate("cat-token-0123456789").unwrap(),
        user(CAT)
    );
    w.engine.delete_user(&user(ANN), u(ACME), u(CAT)).unwrap();
    assert_eq!(
        w.engine
            .authenticate("cat-token-0123456789")
            .unwrap_err()
            .status(),
        401
    );
}

#[test]
fn management_needs_the_settings_permission_and_validates() {
    let w = world();
    let input = || NewUser {
        first_name: Some("Zed".into()),
        permissions: Some(vec!["reports".into()]),
        ..Default::default()
    };
    assert_eq!(
        w.engine
            .create_user(&user(BOB), u(ACME), input())
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        w.engine
            .create_user(&user(DAN), u(ACME), input())
            .unwrap_err()
            .status(),
        403
    );
    let z = w.engine.create_user(&user(ANN), u(ACME), input()).unwrap();
    assert_eq!(
        (z.full_name.as_str(), z.permissions.clone(), z.is_present),
        ("Zed", vec!["reports".to_string()], false)
    );
    let e = w
        .engine
        .create_user(
            &user(ANN),
            u(ACME),
            NewUser {
                first_name: Some("Q".into()),
                permissions: Some(vec!["god".into()]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.errors.contains_key("permissions"));
    let e = w
        .engine
        .create_room(&user(ANN), u(ACME), NewRoom::default())
        .unwrap_err();
    assert!(e.errors.contains_key("name"));
    let e = w
        .engine
        .create_room(
            &user(ANN),
            u(ACME),
            NewRoom {
                name: Some("X".into()),
                shared_with: Some(vec![u(POOR)]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.errors.contains_key("shared_with"), "only partners");
    assert_eq!(
        w.engine
            .create_organization(&user(ANN), Default::default())
            .unwrap_err()
            .status(),
        403
    );
    let users = w
        .engine
        .list_users(&user(BOB), u(ACME), &PageRequest::first(2))
        .unwrap();
    assert_eq!(users.results.len(), 2);
    assert!(users.next.is_some());
    // Settings users may act for colleagues: Ann lists Bob's pending chats.
    assert!(
        w.engine
            .list_chats(
                &user(ANN),
                ChatScope::UserPending { user_id: u(BOB) },
                &Default::default(),
                &PageRequest::default()
            )
            .is_ok()
    );
}

#[test]
fn presence_clients_expire_and_count() {
    let w = world();
    assert!(!w.engine.me(&user(CAT)).unwrap().is_present);
    let c = w
        .engine
        .create_presence_client(
            &user(CAT),
            u(CAT),
            PresenceInput {
                presence_expires_in: Some(30),
            },
        )
        .unwrap();
    assert!(w.engine.me(&user(CAT)).unwrap().is_present);
    w.clock.advance_secs(20);
    w.engine
        .renew_presence_client(
            &user(CAT),
            u(CAT),
            c.id.parse().unwrap(),
            PresenceInput {
                presence_expires_in: Some(30),
            },
        )
        .unwrap();
    w.clock.advance_secs(20);
    assert!(w.engine.me(&user(CAT)).unwrap().is_present);
    w.clock.advance_secs(11);
    assert!(!w.engine.me(&user(CAT)).unwrap().is_present);
    assert_eq!(w.engine.maintenance().unwrap().presences_expired, 1);
    let e = w
        .engine
        .create_presence_client(
            &user(CAT),
            u(CAT),
            PresenceInput {
                presence_expires_in: None,
            },
        )
        .unwrap_err();
    assert!(e.errors.contains_key("presence_expires_in"));
    let e = w
        .engine
        .delete_presence_client(&user(CAT), u(CAT), c.id.parse().unwrap())
        .unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn visitors_authenticate_return_with_their_secret_and_get_names_from_variables() {
    let w = world();
    let auth = w.engine.visitor_auth(u(ACME), None).unwrap();
    assert_eq!(auth.visitor_id.len(), 32);
    let again = w
        .engine
        .visitor_auth(u(ACME), Some(&auth.visitor_secret_id))
        .unwrap();
    assert_eq!(again.visitor_id, auth.visitor_id);
    assert_ne!(again.access_token, auth.access_token);
    let actor = w.engine.authenticate(&auth.access_token).unwrap();
    let vid = v(&auth.visitor_id);
    assert_eq!(actor, Actor::Visitor(vid));
    let (visitor_res, created) = w
        .engine
        .visitor_enter_room(&actor, u(ACME), u(SUPPORT), vid, Some(60))
        .unwrap();
    assert!(created && visitor_res.is_present);
    let (_, created) = w
        .engine
        .visitor_enter_room(&actor, u(ACME), u(SUPPORT), vid, Some(60))
        .unwrap();
    assert!(!created);
    let set = |k: &str, val: &str| {
        w.engine.set_visitor_variable(
            &user(BOB),
            u(ACME),
            u(SUPPORT),
            vid,
            VisitorVariable {
                key: Some(k.into()),
                value: Some(val.into()),
            },
        )
    };
    set("username", "Ville").unwrap();
    let seen = w
        .engine
        .get_room_visitor(&user(BOB), u(BOB), u(SUPPORT), vid)
        .unwrap();
    assert_eq!(seen.name.as_deref(), Some("Ville"));
    assert_eq!(seen.variables["username"], "Ville");
    // The token expires after a day.
    w.clock.advance_secs(24 * 3600);
    assert_eq!(
        w.engine
            .authenticate(&auth.access_token)
            .unwrap_err()
            .status(),
        401
    );
    assert!(w.engine.visitor_auth(u(ACME), Some("bogus")).is_err());
}

#[test]
fn maintenance_ends_idle_chats_and_task_chats_past_ttl_but_not_external_ones() {
    let w = world();
    let idle = w.waiting_chat(V1, SUPPORT, "hello?");
    let ext = w
        .engine
        .create_user_chat(
            &user(ANN),
            u(ANN),
            NewChat {
                chat_type: Some("external".into()),
                ..Default::default()
            },
        )
        .unwrap();
    w.engine
        .update_room(
            &user(ANN),
            u(ACME),
            u(SALES),
            from_value(json!({"ttl_s": 600})).unwrap(),
        )
        .unwrap();
    let task = w
        .engine
        .create_user_chat(
            &user(BOB),
            u(BOB),
            NewChat {
                chat_type: Some("task".into()),
                room_id: Some(u(SALES)),
                ..Default::default()
            },
        )
        .unwrap();
    w.clock.advance_secs(599);
    assert_eq!(w.engine.maintenance().unwrap().chats_ended, 0);
    w.clock.advance_secs(1);
    assert_eq!(w.engine.maintenance().unwrap().chats_ended, 1);
    assert!(
        w.engine
            .get_chat(
                &user(BOB),
                ChatScope::UserChats { user_id: u(BOB) },
                task.id.parse().unwrap()
            )
            .unwrap()
            .is_ended
    );
    w.clock.advance_secs(1800 - 600);
    let r = w.engine.maintenance().unwrap();
    assert_eq!(r.chats_ended, 1, "{r:?}");
    let c = w.chat(idle);
    assert!(c.is_ended && !c.is_waiting && !c.is_pending);
    assert!(!w.chat(ext.id.parse().unwrap()).is_ended);
    // Activity resets the idle clock.
    let busy = w.waiting_chat(V3, SUPPORT, "one");
    w.clock.advance_secs(1700);
    w.engine
        .visitor_send_message(&visitor(V3), v(V3), busy, msg("two"))
        .unwrap();
    w.clock.advance_secs(1700);
    w.engine.maintenance().unwrap();
    assert!(!w.chat(busy).is_ended);
    let _ = ChatUpdate::default();
}

/// The idle sweep finds its candidates by the minute of their last activity (migration 0009)
/// and ends each chat at the exact millisecond its idle timeout (ACME: 1 800 s) runs out,
/// wherever in its minute the last activity fell.
#[test]
fn idle_chats_end_at_the_exact_millisecond_whatever_the_minute_of_their_last_activity() {
    let w = world();
    for (visitor_id, into_minute) in [(V1, 0), (V2, 1), (V3, 59_999)] {
        let now = chat_core::Clock::now_ms(&w.clock);
        w.clock
            .advance_ms((now / 60_000 + 1) * 60_000 + into_minute - now);
        let chat = w.waiting_chat(visitor_id, SUPPORT, "hello?");
        w.clock.advance_ms(1_800_000 - 1);
        assert_eq!(
            w.engine.maintenance().unwrap().chats_ended,
            0,
            "{into_minute}"
        );
        assert!(!w.chat(chat).is_ended);
        w.clock.advance_ms(1);
        assert_eq!(
            w.engine.maintenance().unwrap().chats_ended,
            1,
            "{into_minute}"
        );
        assert!(w.chat(chat).is_ended);
    }
}

#[test]
fn an_explicit_null_in_a_patch_clears_and_an_omitted_attribute_is_kept() {
    let w = world();
    let set = |patch: serde_json::Value| {
        w.engine
            .update_user(&user(ANN), u(ACME), u(BOB), from_value(patch).unwrap())
            .unwrap()
    };
    let bob = set(json!({"alias": "Bobby", "avatar_url": "https://example.com/b.png"}));
    assert_eq!(bob.alias.as_deref(), Some("Bobby"));
    let bob = set(json!({"first_name": "Robert"}));
    assert_eq!(bob.alias.as_deref(), Some("Bobby"), "omitted: kept");
    let bob = set(json!({"alias": null}));
    assert_eq!(bob.alias, None, "null: cleared");
    assert!(bob.avatar.is_some(), "omitted: kept");

    let room = |patch: serde_json::Value| {
        w.engine
            .update_room(&user(ANN), u(ACME), u(SALES), from_value(patch).unwrap())
            .unwrap()
    };
    assert_eq!(room(json!({"ttl_s": 600})).ttl_s, Some(600));
    assert_eq!(room(json!({"name": "Sales 2"})).ttl_s, Some(600));
    assert_eq!(room(json!({"ttl_s": null})).ttl_s, None);
}

/// `GET /users/<user_id>/clients`: the user's unexpired clients, oldest first, paginated, with
/// the access rule of creating one.
#[test]
fn a_users_unexpired_presence_clients_are_listed() {
    let w = world();
    let create = |ttl: i64| {
        w.engine
            .create_presence_client(
                &user(CAT),
                u(CAT),
                PresenceInput {
                    presence_expires_in: Some(ttl),
                },
            )
            .unwrap()
    };
    let short = create(30);
    w.clock.advance_secs(5);
    let long = create(600);
    w.clock.advance_secs(10);
    w.engine
        .renew_presence_client(
            &user(CAT),
            u(CAT),
            long.id.parse().unwrap(),
            PresenceInput {
                presence_expires_in: Some(900),
            },
        )
        .unwrap();
    let all = w
        .engine
        .list_presence_clients(&user(CAT), u(CAT), &PageRequest::default())
        .unwrap();
    let ids: Vec<&str> = all.results.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![short.id.as_str(), long.id.as_str()]);
    let renewed = &all.results[1];
    assert_ne!(
        renewed.created_at, renewed.updated_at,
        "renewal moves updated_at"
    );
    assert_eq!(renewed.expires_at, {
        let again = w
            .engine
            .list_presence_clients(&user(ANN), u(CAT), &PageRequest::default())
            .unwrap();
        again.results[1].expires_at.clone()
    });
    assert!(renewed.expires_at.is_some());

    // One page at a time.
    let first = w
        .engine
        .list_presence_clients(&user(CAT), u(CAT), &PageRequest::first(1))
        .unwrap();
    assert_eq!(first.results.len(), 1);
    assert!(first.next.is_some());

    // Expired clients are not listed, even before maintenance removes them.
    w.clock.advance_secs(20);
    let left = w
        .engine
        .list_presence_clients(&user(CAT), u(CAT), &PageRequest::default())
        .unwrap();
    assert_eq!(left.results.len(), 1);
    assert_eq!(left.results[0].id, long.id);

    // Another user needs the settings permission in the same organization.
    let e = w
        .engine
        .list_presence_clients(&user(BOB), u(CAT), &PageRequest::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    let e = w
        .engine
        .list_presence_clients(&user(DAN), u(CAT), &PageRequest::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PermissionDenied);
}
