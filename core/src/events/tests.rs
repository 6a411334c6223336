use crate::api;
use crate::events::{Concerned, Event, EventPage, RoomChannel};
use crate::test_support::*;
use crate::{Actor, ErrorCode};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

fn join() -> crate::memberships::MembershipInput {
    crate::memberships::MembershipInput {
        is_participating: Some(true),
        composing_status: Some("idle".into()),
        ..Default::default()
    }
}

/// A user's collections of their chats, invitations and waiting and routed chats (not the
/// sub-collections of routed and pending chats, which `routed_chats_are_followed_to_their_items`
/// covers).
fn mine(who: &str) -> Vec<String> {
    vec![
        format!("/api/v5/users/{who}/chat*"),
        format!("/api/v5/users/{who}/pending_chats"),
        format!("/api/v5/users/{who}/routed_chats"),
        format!("/api/v5/users/{who}/incoming_chat_invitations"),
    ]
}

fn read(w: &World, who: &str, since: i64) -> EventPage {
    w.engine
        .events_since(&user(who), &mine(who), Some(since), None)
        .unwrap()
}

/// The events on one channel (or pattern) after `since`, read as the user `who`.
fn read_on(w: &World, who: &str, channel: String, since: i64) -> EventPage {
    w.engine
        .events_since(&user(who), &[channel], Some(since), None)
        .unwrap()
}

/// (channel suffix after the user's prefix, action, resource_id)
fn summary(who: &str, p: &EventPage) -> Vec<(String, String, String)> {
    let prefix = format!("/api/v5/users/{who}/");
    p.events
        .iter()
        .map(|e| {
            (
                e.channel.trim_start_matches(&prefix).to_string(),
                e.action.clone(),
                e.resource_id.clone(),
            )
        })
        .collect()
}

/// A message goes to the chat's users and its visitor as one stored change: the users get the
/// operator view (with `sender_name`), the visitor the same resource without it.
#[test]
fn users_get_the_operator_view_of_a_message_and_the_visitor_the_visitor_view() {
    let w = world();
    let (chat, _) = w.routed_chat();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    let since = w.engine.last_event_seq();
    let msg = w.say(BOB, chat, "Yes, in blue too.").to_string();
    let on = |p: EventPage| {
        p.events
            .into_iter()
            .filter(|e| e.resource_id == msg && e.channel.ends_with("/messages"))
            .collect::<Vec<_>>()
    };
    let ops = on(read(&w, BOB, since));
    let v = visitor(VISITOR2);
    let vch = vec![format!("/api/v5/public/visitors/{VISITOR2}/*")];
    let vis = on(w
        .engine
        .events_since(&Actor::Visitor(v), &vch, Some(since), None)
        .unwrap());
    assert_eq!((ops.len(), vis.len()), (1, 1), "{ops:?} {vis:?}");
    let op = ops[0].resource.clone().unwrap();
    let mut seen_by_visitor = vis[0].resource.clone().unwrap();
    assert!(
        op["sender_name"].as_str().is_some_and(|n| !n.is_empty()),
        "{op}"
    );
    assert!(
        seen_by_visitor.get("sender_name").is_none(),
        "{seen_by_visitor}"
    );
    // Everything else is the same resource, and the operator view is what a read shows.
    seen_by_visitor["sender_name"] = op["sender_name"].clone();
    assert_eq!(
        seen_by_visitor.as_object().unwrap().len(),
        op.as_object().unwrap().len()
    );
    for (k, val) in op.as_object().unwrap() {
        assert_eq!(&seen_by_visitor[k], val, "{k}");
    }
    let read_back = w
        .engine
        .get_message(
            &user(BOB),
            crate::chats::ChatScope::UserChats { user_id: id(BOB) },
            chat,
            msg.parse().unwrap(),
        )
        .unwrap();
    assert_eq!(serde_json::to_value(read_back).unwrap(), op);
}

/// The visitor's chats and the memberships of each: an operator typing and the chat's end
/// reach the visitor, in the visitor view (no `member_name`), as the visitor's reads list them.
#[test]
fn a_visitor_follows_the_operator_typing_and_the_chat_end_in_the_visitor_view() {
    let w = world();
    let head0 = w.engine.last_event_seq();
    let (chat, _) = w.routed_chat();
    let c = chat.to_string();
    let v = visitor(VISITOR2);
    let guest = Actor::Visitor(v);
    let chats_ch = format!("/api/v5/public/visitors/{VISITOR2}/chats");
    let members_ch = format!("/api/v5/public/visitors/{VISITOR2}/chats/{c}/memberships");
    let channels = vec![chats_ch.clone(), members_ch.clone()];
    let events = |since: i64| {
        w.engine
            .events_since(&guest, &channels, Some(since), None)
            .unwrap()
            .events
    };
    // The chat and the visitor's own membership were added when the chat started.
    let start = events(head0);
    assert!(
        start
            .iter()
            .any(|e| e.channel == chats_ch && e.action == "added" && e.resource_id == c),
        "{start:?}"
    );
    assert!(
        start
            .iter()
            .any(|e| e.channel == members_ch && e.action == "added" && e.resource_id == VISITOR2),
        "{start:?}"
    );
    // Bob joins: his membership is added for the visitor, without his private name.
    let s1 = w.engine.last_event_seq();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    let joined = events(s1);
    let bob = joined
        .iter()
        .find(|e| e.channel == members_ch && e.action == "added" && e.resource_id == BOB)
        .unwrap_or_else(|| panic!("{joined:?}"));
    let r = bob.resource.as_ref().unwrap();
    assert!(r.get("member_name").is_none(), "{r}");
    assert!(r["member_public_name"].is_string(), "{r}");
    // The chat changed for the visitor too (no longer pending), once per change.
    assert!(
        joined
            .iter()
            .any(|e| e.channel == chats_ch && e.action == "changed")
    );
    assert!(joined.windows(2).all(|x| x[0].seq < x[1].seq), "{joined:?}");
    // Bob types: a membership change with the composing status.
    let s2 = w.engine.last_event_seq();
    let typing = crate::memberships::MembershipInput {
        composing_status: Some("typing".into()),
        ..Default::default()
    };
    w.engine
        .update_user_membership(&user(BOB), id(BOB), chat, typing, true)
        .unwrap();
    let typed = events(s2);
    assert_eq!(typed.len(), 1, "{typed:?}");
    assert_eq!(
        (
            typed[0].channel.as_str(),
            typed[0].action.as_str(),
            typed[0].resource_id.as_str()
        ),
        (members_ch.as_str(), "changed", BOB)
    );
    let r = typed[0].resource.as_ref().unwrap();
    assert_eq!(r["composing_status"], "typing");
    assert!(r.get("member_name").is_none(), "{r}");
    // The read lists the same: every membership in the visitor view.
    let listed = w
        .engine
        .visitor_list_memberships(&guest, v, chat, &crate::PageRequest::default())
        .unwrap();
    let listed = serde_json::to_value(&listed).unwrap();
    let results = listed["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{listed}");
    assert!(
        results.iter().all(|m| m.get("member_name").is_none()),
        "{listed}"
    );
    let bob_listed = results.iter().find(|m| m["member_id"] == BOB).unwrap();
    assert_eq!(bob_listed["composing_status"], "typing");
    // Bob stops without saying so: once the typing timeout passes, maintenance settles it and
    // the visitor hears `typed` (no client has to poll).
    let s_typing = w.engine.last_event_seq();
    w.clock.advance_secs(16);
    w.engine.maintenance().unwrap();
    let settled = events(s_typing);
    assert!(
        settled.iter().any(|e| e.channel == members_ch
            && e.action == "changed"
            && e.resource_id == BOB
            && e.resource.as_ref().unwrap()["composing_status"] == "typed"),
        "{settled:?}"
    );
    assert_eq!(
        bob_listed["member_public_name"],
        bob.resource.as_ref().unwrap()["member_public_name"]
    );
    // Bob's private name alone changing is nothing to the visitor.
    let s3 = w.engine.last_event_seq();
    w.engine
        .update_user(
            &Actor::Admin,
            id(ACME),
            id(BOB),
            crate::directory::UserPatch {
                last_name: Some("Stoneman".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let renamed = events(s3);
    assert!(
        renamed.iter().all(|e| e.resource.as_ref().is_none_or(|r| r
            .as_object()
            .is_some_and(|o| !o.is_empty() && !o.contains_key("member_name")))),
        "{renamed:?}"
    );
    // Bob ends the chat: the visitor's chats channel says so.
    let s4 = w.engine.last_event_seq();
    w.end(BOB, chat);
    let ended = events(s4);
    let end = ended
        .iter()
        .find(|e| e.channel == chats_ch && e.resource_id == c)
        .unwrap_or_else(|| panic!("{ended:?}"));
    assert_eq!(end.action, "changed");
    let r = end.resource.as_ref().unwrap();
    assert_eq!(r["is_ended"], true);
    assert!(r["ended_at"].is_string(), "{r}");
    let listed = w
        .engine
        .visitor_list_chats(&guest, v, &crate::PageRequest::default())
        .unwrap();
    assert_eq!(listed.results.len(), 1);
    assert_eq!(listed.results[0].id, c);
    assert!(listed.results[0].is_ended);
    let one = w.engine.visitor_get_chat(&guest, v, chat).unwrap();
    assert_eq!(
        serde_json::to_value(&listed.results[0]).unwrap(),
        serde_json::to_value(&one).unwrap()
    );
}

/// A chat ended by the idle timeout (maintenance) reaches its visitor like an explicit end.
#[test]
fn a_chat_ended_by_its_idle_timeout_reaches_the_visitor() {
    let w = world();
    let (chat, _) = w.routed_chat();
    let v = visitor(VISITOR2);
    let chats_ch = vec![format!("/api/v5/public/visitors/{VISITOR2}/chats")];
    let since = w.engine.last_event_seq();
    w.clock.advance_secs(30 * 24 * 3600);
    assert!(w.engine.maintenance().unwrap().chats_ended >= 1);
    let p = w
        .engine
        .events_since(&Actor::Visitor(v), &chats_ch, Some(since), None)
        .unwrap();
    let end = p
        .events
        .iter()
        .find(|e| e.resource_id == chat.to_string() && e.action == "changed")
        .unwrap_or_else(|| panic!("{p:?}"));
    assert_eq!(end.resource.as_ref().unwrap()["is_ended"], true);
}

#[test]
fn a_scripted_chat_gives_exactly_the_expected_events() {
    let w = world();
    let head0 = w.engine.last_event_seq();
    let (chat, first_msg) = w.routed_chat();
    let c = chat.to_string();
    // Waiting: routed to and pending for the routed users only (Bob and Robo), not Ann, not
    // the partner.
    let bob = read(&w, BOB, head0);
    assert_eq!(
        summary(BOB, &bob),
        vec![
            ("routed_chats".into(), "added".into(), c.clone()),
            ("pending_chats".into(), "added".into(), c.clone())
        ]
    );
    for e in &bob.events {
        assert_eq!(e.resource.as_ref().unwrap()["is_pending"], true);
    }
    assert_eq!(summary(ROBO, &read(&w, ROBO, head0)).len(), 2);
    assert!(read(&w, ANN, head0).events.is_empty());
    // The visitor saw their own message.
    let v = visitor(VISITOR2);
    let vch = vec![format!("/api/v5/public/visitors/{VISITOR2}/*")];
    let mut vp = w
        .engine
        .events_since(&Actor::Visitor(v), &vch, Some(head0), None)
        .unwrap();
    // Besides the chat and its memberships (their own channels, see the visitor test below).
    vp.events.retain(|e| e.channel.ends_with("/messages"));
    assert_eq!(vp.events.len(), 1);
    assert_eq!(
        vp.events[0].channel,
        format!("/api/v5/public/visitors/{VISITOR2}/chats/{c}/messages")
    );
    assert_eq!(vp.events[0].resource_id, first_msg.to_string());
    assert!(
        vp.events[0]
            .resource
            .as_ref()
            .unwrap()
            .get("sender_name")
            .is_none()
    );

    // Bob joins: pending removed for both, Bob gets the chat and the membership.
    let s1 = bob.last_seq;
    let r1 = read(&w, ROBO, s1 - 1).last_seq.max(s1);
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    let got = summary(BOB, &read(&w, BOB, s1));
    assert!(
        got.contains(&("pending_chats".into(), "removed".into(), c.clone())),
        "{got:?}"
    );
    assert!(
        got.contains(&("chats".into(), "added".into(), c.clone())),
        "{got:?}"
    );
    assert!(
        got.contains(&(format!("chats/{c}/memberships"), "added".into(), BOB.into())),
        "{got:?}"
    );
    assert_eq!(
        summary(ROBO, &read(&w, ROBO, r1)),
        vec![
            ("routed_chats".into(), "changed".into(), c.clone()),
            ("pending_chats".into(), "removed".into(), c.clone())
        ]
    );
    let removed = read(&w, BOB, s1)
        .events
        .into_iter()
        .find(|e| e.action == "removed")
        .unwrap();
    assert!(removed.resource.is_none());

    // Bob writes: a message added for Bob and for the visitor; the chat changed.
    let s2 = w.engine.last_event_seq();
    let m = w.say(BOB, chat, "Yes, in blue.");
    let got = summary(BOB, &read(&w, BOB, s2));
    assert!(
        got.contains(&(format!("chats/{c}/messages"), "added".into(), m.to_string())),
        "{got:?}"
    );
    assert!(
        got.contains(&("chats".into(), "changed".into(), c.clone())),
        "{got:?}"
    );
    let vp = w
        .engine
        .events_since(&Actor::Visitor(v), &vch, Some(s2), None)
        .unwrap();
    assert!(
        vp.events
            .iter()
            .any(|e| e.resource_id == m.to_string() && e.action == "added")
    );

    // End: the chat changed with only the changed attributes.
    let s3 = w.engine.last_event_seq();
    w.end(BOB, chat);
    let p = read(&w, BOB, s3);
    let ch = p
        .events
        .iter()
        .find(|e| e.channel.ends_with("/chats") && e.action == "changed")
        .unwrap();
    let r = ch.resource.as_ref().unwrap().as_object().unwrap();
    assert_eq!(r["is_ended"], true);
    assert!(
        !r.contains_key("room_name"),
        "only changed attributes: {r:?}"
    );
    // The organization's owned chats saw it too (Cat may read them).
    let owned = read_on(&w, CAT, format!("/api/v5/orgs/{ACME}/owned_chats"), s3);
    assert_eq!(owned.events.len(), 1);
    assert_eq!(owned.events[0].action, "changed");
    // seq strictly increases.
    let all = read(&w, BOB, 0).events;
    assert!(all.windows(2).all(|x| x[0].seq < x[1].seq));
}

#[test]
fn channels_of_others_and_other_organizations_are_refused() {
    let w = world();
    w.routed_chat();
    let e = |who: &str, ch: String| {
        w.engine
            .events_since(&user(who), &[ch], Some(0), None)
            .unwrap_err()
            .code
    };
    assert_eq!(
        e(OLLI, format!("/api/v5/users/{BOB}/*")),
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        e(OLLI, format!("/api/v5/orgs/{ACME}/*")),
        ErrorCode::PermissionDenied
    );
    assert_eq!(
        e(ANN, format!("/api/v5/users/{BOB}/*")),
        ErrorCode::PermissionDenied
    );
    assert_eq!(e(ANN, "/api/v5/users/*".into()), ErrorCode::ValidationError);
    assert_eq!(e(ANN, "*".into()), ErrorCode::ValidationError);
    // Cat (settings) may follow Bob, and sees his pending chat.
    let p = read_on(&w, CAT, format!("/api/v5/users/{BOB}/*_chats"), 0);
    assert_eq!(p.events.len(), 2, "routed to and pending for Bob: {p:?}");
    // A visitor only their own public paths.
    let v = Actor::Visitor(visitor(VISITOR));
    let err = w
        .engine
        .events_since(
            &v,
            &[format!("/api/v5/public/visitors/{VISITOR2}/*")],
            Some(0),
            None,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    let err = w
        .engine
        .events_since(&v, &[format!("/api/v5/users/{BOB}/*")], Some(0), None)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}

#[test]
fn retention_answers_resync_past_the_window() {
    let w = world();
    w.routed_chat();
    let p = read(&w, BOB, 0);
    assert!(
        !p.resync && p.events.len() == 2,
        "routed and pending: {p:?}"
    );
    w.clock.advance_secs(8 * 24 * 3600);
    let rep = w.engine.maintenance().unwrap();
    assert!(rep.events_deleted >= 1);
    let p = read(&w, BOB, 0);
    assert!(p.resync, "{p:?}");
    assert!(p.events.is_empty());
    // From the head it is fine again; a future seq is a resync too.
    let p2 = read(&w, BOB, p.last_seq);
    assert!(!p2.resync);
    assert!(read(&w, BOB, p.last_seq + 100).resync);
}

/// A change is stored once with one number whatever its audience; each reader reads it on
/// their own channel with that number, and resuming from it gives the change to nobody again.
#[test]
fn a_change_on_several_channels_is_one_number_read_on_each() {
    let w = world();
    let head0 = w.engine.last_event_seq();
    let (chat, _) = w.routed_chat();
    // The chat became pending for Bob and Robo (the room reaches both): one stored change.
    let bob = read(&w, BOB, head0);
    let robo = read(&w, ROBO, head0);
    let pending = |p: &EventPage, who: &str| {
        p.events
            .iter()
            .filter(|e| e.channel == format!("/api/v5/users/{who}/pending_chats"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let (b, r) = (pending(&bob, BOB), pending(&robo, ROBO));
    assert_eq!((b.len(), r.len()), (1, 1), "{bob:?} {robo:?}");
    assert_eq!(b[0].seq, r[0].seq, "one change, one number");
    assert_eq!(b[0].resource, r[0].resource);
    assert_eq!(b[0].resource_id, chat.to_string());
    // A reader never gets two events with one number.
    for p in [&bob, &robo] {
        let mut seqs: Vec<i64> = p.events.iter().map(|e| e.seq).collect();
        seqs.dedup();
        assert_eq!(seqs.len(), p.events.len(), "{p:?}");
    }
    // Resuming from that number gives the change to neither.
    for who in [BOB, ROBO] {
        assert!(
            read(&w, who, b[0].seq)
                .events
                .iter()
                .all(|e| e.seq > b[0].seq)
        );
    }
    // With a limit, a page holds whole changes and `last_seq` is the last number of the last
    // one: the chat routed to Bob and pending for him is one change, two numbers of his.
    let one = w
        .engine
        .events_since(&user(BOB), &mine(BOB), Some(head0), Some(1))
        .unwrap();
    let got: Vec<(&str, i64)> = one
        .events
        .iter()
        .map(|e| (e.channel.rsplit('/').next().unwrap(), e.seq))
        .collect();
    let first = one.events[0].seq;
    assert_eq!(got, [("routed_chats", first), ("pending_chats", first + 1)]);
    assert!(one.last_seq > first);
    let next = w
        .engine
        .events_since(&user(BOB), &mine(BOB), Some(one.last_seq), None)
        .unwrap();
    assert!(next.events.iter().all(|e| e.seq > one.last_seq));
}

/// A change on several collections of one reader (a new chat on the organization's owned
/// and routed chats and on its room's chats) is one row with one number per collection: the
/// reader's events have distinct, increasing numbers, resuming between two of them is exact,
/// a limited page ends at the last number of its last change, and webhook deliveries carry
/// the numbers a read gives.
#[test]
fn one_reader_gets_one_number_per_collection_of_a_change() {
    let w = world();
    let all_actions = json!(["added", "changed", "removed"]);
    acme_webhook(
        &w,
        json!([format!("/api/v5/orgs/{ACME}/*")]),
        all_actions,
        None,
    );
    let head0 = w.engine.last_event_seq();
    let (chat, _) = w.routed_chat();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    let org = vec![format!("/api/v5/orgs/{ACME}/*")];
    let read_org = |since: i64, limit: Option<usize>| {
        w.engine
            .events_since(&user(ANN), &org, Some(since), limit)
            .unwrap()
    };
    let all = read_org(head0, None);
    let numbers: Vec<i64> = all.events.iter().map(|e| e.seq).collect();
    assert!(
        numbers.windows(2).all(|p| p[0] < p[1]),
        "distinct and increasing: {numbers:?}"
    );
    let added: Vec<&Event> = all
        .events
        .iter()
        .filter(|e| e.resource_id == chat.to_string() && e.action == "added")
        .collect();
    let channels: Vec<String> = added
        .iter()
        .map(|e| {
            e.channel
                .trim_start_matches(&format!("/api/v5/orgs/{ACME}/"))
                .to_string()
        })
        .collect();
    assert_eq!(
        channels[..3],
        [
            "owned_chats".to_string(),
            "routed_chats".to_string(),
            format!("rooms/{ROUTED_ROOM}/chats")
        ],
        "{all:?}"
    );
    assert_eq!(
        [added[1].seq, added[2].seq],
        [added[0].seq + 1, added[0].seq + 2],
        "one change, consecutive numbers"
    );
    // Bob's join made the organization involved: added there, with the chat's change.
    assert!(
        all.events
            .iter()
            .any(|e| e.channel.ends_with("/involved_chats")
                && e.action == "added"
                && e.resource_id == chat.to_string()),
        "{all:?}"
    );
    // Resuming from the first number gives the rest of that change, and nothing before.
    let rest = read_org(added[0].seq, None);
    assert_eq!(rest.events[0], *added[1]);
    assert_eq!(
        rest.events[..],
        all.events[1 + all.events.iter().position(|e| e == added[0]).unwrap()..]
    );
    // Pages of one change each end at its last number and join up without gaps or repeats.
    let mut paged = Vec::new();
    let mut since = head0;
    loop {
        let p = read_org(since, Some(1));
        if p.events.is_empty() {
            break;
        }
        // The change's last number (other readers' events may follow the reader's).
        assert!(p.last_seq >= p.events.last().unwrap().seq);
        paged.extend(p.events);
        since = p.last_seq;
    }
    assert_eq!(paged, all.events);
    // The webhook's deliveries: the same channels with the same numbers.
    assert_eq!(delivered(&w), numbered(&all.events));
}

/// A user the room is routed to follows its chats to their items without being a member:
/// the messages, memberships and reply suggestions below `routed_chats/<c>/` (and the
/// memberships below `pending_chats/<c>/` while it waits), resolved through the room, with
/// one number per collection, on reads and webhooks alike.
#[test]
fn routed_chats_are_followed_to_their_items() {
    let w = world();
    acme_webhook(
        &w,
        json!(["/api/v5/users/{user_id}/routed_chats/*/messages"]),
        json!(["added", "changed", "removed"]),
        Some(ROBO),
    );
    let head0 = w.engine.last_event_seq();
    let (chat, first) = w.routed_chat();
    let c = chat.to_string();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    let reply = w.say(BOB, chat, "Blue, yes.");
    let sug = w
        .engine
        .create_reply_suggestion(
            &user(BOB),
            crate::chats::ChatScope::UserChats { user_id: id(BOB) },
            chat,
            first,
            crate::suggestions::SuggestionInput {
                suggestion: Some("Which size?".into()),
                relevancy_score: None,
            },
        )
        .unwrap();
    let robo = |pattern: &str| read_on(&w, ROBO, format!("/api/v5/users/{ROBO}/{pattern}"), head0);
    let routed = robo("routed_chats*");
    let got = summary(ROBO, &routed);
    for want in [
        (
            format!("routed_chats/{c}/memberships"),
            "added",
            VISITOR2.to_string(),
        ),
        (
            format!("routed_chats/{c}/messages"),
            "added",
            first.to_string(),
        ),
        (
            format!("routed_chats/{c}/memberships"),
            "added",
            BOB.to_string(),
        ),
        (
            format!("routed_chats/{c}/messages"),
            "added",
            reply.to_string(),
        ),
        (
            format!("routed_chats/{c}/reply_suggestions"),
            "added",
            sug.id.clone(),
        ),
        (
            format!("routed_chats/{c}/messages/{first}/reply_suggestions"),
            "added",
            sug.id.clone(),
        ),
        ("routed_chats".to_string(), "added", c.clone()),
    ] {
        assert!(
            got.contains(&(want.0.clone(), want.1.to_string(), want.2.clone())),
            "{want:?} not in {got:#?}"
        );
    }
    let numbers: Vec<i64> = routed.events.iter().map(|e| e.seq).collect();
    assert!(numbers.windows(2).all(|p| p[0] < p[1]), "{numbers:?}");
    // Operators' view: the routed reader gets the sender's name.
    assert!(routed.events.iter().any(|e| {
        e.resource
            .as_ref()
            .is_some_and(|r| r["sender_name"] == "Vera")
    }));
    // While it waited: the visitor's membership changed (their message) below
    // `pending_chats/<c>/`; Bob's joining ended the wait, so his membership is not there.
    let pending = summary(ROBO, &robo("pending_chats/*/memberships"));
    assert_eq!(
        pending,
        vec![(
            format!("pending_chats/{c}/memberships"),
            "changed".to_string(),
            VISITOR2.to_string()
        )]
    );
    // Ann is not routed to the room: nothing below her routed chats.
    let ann = read_on(
        &w,
        ANN,
        format!("/api/v5/users/{ANN}/routed_chats/*"),
        head0,
    );
    assert!(ann.events.is_empty(), "{ann:?}");
    // Robo's webhook: each routed message, with the number a read gives.
    let read = numbered(&robo("routed_chats/*/messages").events);
    assert_eq!(delivered(&w), read);
    assert!(
        read.len() >= 3,
        "the visitor's message, the join notice, Bob's reply: {read:?}"
    );
}

/// A room's allowed tags are a collection of the room and of each of its open chats; a
/// user's conversation starters one of theirs, keyed by language code.
#[test]
fn room_tags_and_conversation_starters_are_evented() {
    let w = world();
    let chat = w.ann_chat();
    let head = w.engine.last_event_seq();
    let on = |who: &str, channel: String| {
        read_on(&w, who, channel, head)
            .events
            .iter()
            .map(|e| (e.action.clone(), e.resource_id.clone()))
            .collect::<Vec<_>>()
    };
    let allow = |name: &str| {
        w.engine
            .add_room_allowed_tag(
                &user(CAT),
                id(ACME),
                id(ROOM),
                crate::tags::NewTag {
                    name: Some(name.into()),
                },
            )
            .unwrap()
    };
    allow("Gold");
    let allowed = format!("/api/v5/users/{ANN}/chats/{chat}/allowed_tags");
    let room_tags = format!("/api/v5/orgs/{ACME}/rooms/{ROOM}/tags");
    let owned = format!("/api/v5/orgs/{ACME}/owned_chats/{chat}/allowed_tags");
    let gold = ("added".to_string(), "Gold".to_string());
    assert_eq!(on(ANN, allowed.clone()), vec![gold.clone()]);
    assert_eq!(on(ANN, room_tags.clone()), vec![gold.clone()]);
    assert_eq!(on(ANN, owned.clone()), vec![gold.clone()]);
    // The room's tags replaced without it: removed everywhere.
    let kept: Vec<String> = w
        .engine
        .read_store(|s| s.room_allowed_tags(id(ROOM)))
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != "Gold")
        .collect();
    w.engine
        .update_room(
            &user(CAT),
            id(ACME),
            id(ROOM),
            crate::directory::RoomPatch {
                allowed_tags: Some(kept),
                ..Default::default()
            },
        )
        .unwrap();
    let gone = ("removed".to_string(), "Gold".to_string());
    assert_eq!(on(ANN, allowed), vec![gold.clone(), gone.clone()]);
    assert_eq!(on(ANN, room_tags), vec![gold, gone]);
    // An ended chat's allowed tags are not republished.
    w.end(ANN, chat);
    let after_end = w.engine.last_event_seq();
    allow("Silver");
    let ended = read_on(&w, ANN, format!("/api/v5/users/{ANN}/chats/*"), after_end);
    assert!(ended.events.is_empty(), "{ended:?}");

    // Starters: added, changed (only what differs), moved to another language, removed.
    let s0 = w.engine.last_event_seq();
    let input = |code: Option<&str>, message: Option<&str>| crate::starters::StarterInput {
        language_code: code.map(str::to_string),
        message: message.map(str::to_string),
    };
    w.engine
        .create_conversation_starter(&user(ANN), id(ANN), input(Some("en"), Some("Hi!")))
        .unwrap();
    w.clock.advance_secs(1);
    w.engine
        .update_conversation_starter(&user(ANN), id(ANN), "en", input(None, Some("Hello!")), true)
        .unwrap();
    w.engine
        .update_conversation_starter(&user(ANN), id(ANN), "en", input(Some("fi"), None), true)
        .unwrap();
    w.engine
        .delete_conversation_starter(&user(ANN), id(ANN), "fi")
        .unwrap();
    let starters = read_on(
        &w,
        ANN,
        format!("/api/v5/users/{ANN}/chat_conversation_starters"),
        s0,
    );
    let got: Vec<(&str, &str)> = starters
        .events
        .iter()
        .map(|e| (e.action.as_str(), e.resource_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("added", "en"),
            ("changed", "en"),
            ("removed", "en"),
            ("added", "fi"),
            ("removed", "fi")
        ]
    );
    let changed = starters.events[1].resource.as_ref().unwrap();
    let mut keys: Vec<&String> = changed.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["message", "updated_at"]);
    assert_eq!(changed["message"], "Hello!");
    // Another user may not follow Ann's starters (no settings permission).
    assert!(
        w.engine
            .events_since(
                &user(BOB),
                &[format!("/api/v5/users/{ANN}/chat_conversation_starters")],
                Some(s0),
                None,
            )
            .is_err()
    );
}

/// The directory is evented too: a presence client opening and expiring is added to and
/// removed from its user's clients, and the user's presence changes them on the organization's
/// users and their team on its teams (only the attributes that differ).
#[test]
fn presence_clients_users_and_teams_are_evented() {
    let w = world();
    let head = w.engine.last_event_seq();
    let client = w
        .engine
        .create_presence_client(
            &user(DAN),
            id(DAN),
            crate::directory::PresenceInput {
                presence_expires_in: Some(60),
            },
        )
        .unwrap();
    w.clock.advance_secs(61);
    w.engine.maintenance().unwrap();
    let read_as = |who: &str, channel: String| {
        w.engine
            .events_since(&user(who), &[channel], Some(head), None)
            .unwrap()
            .events
    };
    let clients = read_as(DAN, format!("/api/v5/users/{DAN}/clients"));
    let got: Vec<(&str, &str)> = clients
        .iter()
        .map(|e| (e.action.as_str(), e.resource_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("added", client.id.as_str()),
            ("removed", client.id.as_str())
        ]
    );
    let users = read_as(CAT, format!("/api/v5/orgs/{ACME}/users"));
    let dan: Vec<&Event> = users.iter().filter(|e| e.resource_id == DAN).collect();
    assert_eq!(dan.len(), 2, "{users:?}");
    for (e, present) in dan.iter().zip([true, false]) {
        assert_eq!(e.action, "changed");
        assert_eq!(e.resource.as_ref().unwrap()["is_present"], present, "{e:?}");
        assert!(
            e.resource.as_ref().unwrap().get("first_name").is_none(),
            "{e:?}"
        );
    }
    let teams = read_as(CAT, format!("/api/v5/orgs/{ACME}/teams"));
    let tier1: Vec<&Event> = teams
        .iter()
        .filter(|e| e.resource_id == TEAM_TIER1)
        .collect();
    assert_eq!(tier1.len(), 2, "{teams:?}");
    assert_eq!(
        tier1[0].resource.as_ref().unwrap()["present_member_count"],
        2
    );
    assert_eq!(
        tier1[1].resource.as_ref().unwrap()["present_member_count"],
        1
    );
    // Others' clients are not theirs to follow.
    assert!(
        w.engine
            .events_since(
                &user(BOB),
                &[format!("/api/v5/users/{DAN}/clients")],
                Some(head),
                None
            )
            .is_err()
    );
}

#[test]
fn numbers_are_never_given_twice_even_after_retention_emptied_the_log() {
    let w = world();
    w.routed_chat();
    // Maintenance ends the idle chat (new events), then a second pass after the window
    // deletes every event.
    w.clock.advance_secs(8 * 24 * 3600);
    w.engine.maintenance().unwrap();
    let head = w.engine.last_event_seq();
    assert!(head > 0);
    w.clock.advance_secs(8 * 24 * 3600);
    assert!(w.engine.maintenance().unwrap().events_deleted > 0);
    let left = count(&w.engine, "SELECT count(*) FROM event_changes");
    assert_eq!(left, 0);
    assert_eq!(
        w.engine.last_event_seq(),
        head,
        "the head survives an empty log"
    );
    w.routed_chat();
    let p = read(&w, BOB, head);
    assert!(!p.resync);
    assert!(!p.events.is_empty());
    assert!(p.events.iter().all(|e| e.seq > head), "{p:?}");
}

#[test]
fn a_subscription_is_woken_by_commits() {
    let w = world();
    let mut sub = w.engine.subscribe(&user(BOB), mine(BOB), None).unwrap();
    let empty = sub.next_batch(Duration::from_millis(10)).unwrap();
    assert!(empty.events.is_empty());
    std::thread::scope(|sc| {
        sc.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            w.routed_chat();
        });
        let p = sub.next_batch(Duration::from_secs(10)).unwrap();
        // Routed to Bob and pending for him: one commit, both events in the batch.
        assert_eq!(p.events.len(), 2, "{p:?}");
        assert!(p.events.iter().all(|e| e.action == "added"));
    });
}

#[test]
fn idempotent_creations_return_the_first_reply() {
    let w = world();
    let chat = w.ann_chat();
    let args = json!({"user_id": ANN, "chat_id": chat.to_string(), "body": {"message": "hello"}, "idempotency_key": "k-1"});
    let a = api::call(&w.engine, &user(ANN), "send_user_message", &args).unwrap();
    let b = api::call(&w.engine, &user(ANN), "send_user_message", &args).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        count(
            &w.engine,
            "SELECT COUNT(*) FROM messages WHERE type = 'msg'"
        ),
        1
    );
    let mut other = args.clone();
    other["body"]["message"] = Value::from("changed");
    let e = api::call(&w.engine, &user(ANN), "send_user_message", &other).unwrap_err();
    assert_eq!(e.code, ErrorCode::IdempotencyKeyReused);
    assert_eq!(e.status(), 422);
    // Per actor: Bob may use the same key.
    let long = json!({"user_id": ANN, "chat_id": chat.to_string(), "body": {"message": "x"}, "idempotency_key": "x".repeat(256)});
    assert_eq!(
        api::call(&w.engine, &user(ANN), "send_user_message", &long)
            .unwrap_err()
            .status(),
        400
    );
    // After 24 h the key is free again.
    w.clock.advance_secs(24 * 3600 + 1);
    let c = api::call(&w.engine, &user(ANN), "send_user_message", &other).unwrap();
    assert_eq!(c.status, a.status);
    assert_eq!(
        count(
            &w.engine,
            "SELECT COUNT(*) FROM messages WHERE type = 'msg'"
        ),
        2
    );
}

#[test]
fn concurrent_retries_with_one_key_create_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let clock = crate::TestClock::at_default_start();
    let engine = crate::Engine::builder()
        .clock(clock)
        .open(dir.path().join("db.sqlite"))
        .unwrap();
    engine.load_seed_json(&seed_json()).unwrap();
    let (chat, _) = engine
        .create_visitor_chat(
            &user(ANN),
            id(ANN),
            id(ROOM),
            visitor(VISITOR),
            Default::default(),
        )
        .unwrap();
    let args = json!({"user_id": ANN, "chat_id": chat.id, "body": {"message": "once"}, "idempotency_key": "same"});
    let replies: Vec<api::Reply> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                sc.spawn(|| api::call(&engine, &user(ANN), "send_user_message", &args).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(replies.windows(2).all(|x| x[0] == x[1]));
    assert_eq!(
        count(&engine, "SELECT COUNT(*) FROM messages WHERE type = 'msg'"),
        1
    );
}

/// A webhook (created by Cat, Acme's settings user) on Robo's pending chats, for `actions`.
/// A webhook of Acme's, created by Cat, on `channels` for `actions`, owned by `bot` if given.
fn acme_webhook(
    w: &World,
    channels: Value,
    actions: Value,
    bot: Option<&str>,
) -> crate::webhooks::Webhook {
    let mut input = json!({
        "url": "http://127.0.0.1:9/hook",
        "channels": channels,
        "actions": actions,
        "secret": "s3cret"
    });
    if let Some(bot) = bot {
        input["user_id"] = json!(bot);
    }
    w.engine
        .create_webhook(&user(CAT), id(ACME), serde_json::from_value(input).unwrap())
        .unwrap()
}

fn robo_pending_webhook(w: &World, actions: Value) -> crate::webhooks::Webhook {
    acme_webhook(
        w,
        json!(["/api/v5/users/{user_id}/pending_chats"]),
        actions,
        Some(ROBO),
    )
}

/// Every queued webhook delivery as (channel, number), sorted; each body's `seq` is the
/// delivery's event number.
fn delivered(w: &World) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = text_rows(
        &w.engine,
        "SELECT CAST(event_seq AS TEXT), body FROM webhook_deliveries",
    )
    .into_iter()
    .map(|row| {
        let seq: i64 = row[0].parse().unwrap();
        let body: Value = serde_json::from_str(&row[1]).unwrap();
        assert_eq!(body["seq"], seq);
        (body["channel"].as_str().unwrap().to_string(), seq)
    })
    .collect();
    out.sort();
    out
}

/// The events as (channel, number), sorted.
fn numbered(events: &[Event]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = events.iter().map(|e| (e.channel.clone(), e.seq)).collect();
    out.sort();
    out
}

#[test]
fn webhooks_queue_matching_events_in_order_and_retry_with_backoff() {
    let w = world();
    let org = id(ACME);
    let hook = robo_pending_webhook(&w, json!(["added", "removed"]));
    // Ann (no settings) may not manage webhooks.
    assert_eq!(
        w.engine.list_webhooks(&user(ANN), org).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    let (chat, _) = w.routed_chat();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    // Robo's pending added, then removed (Bob's do not match {user_id} = Robo).
    let due = w.engine.webhook_deliveries_due(10).unwrap();
    assert_eq!(due.len(), 1, "one at a time per webhook");
    let d = &due[0];
    let body: Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(body["action"], "added");
    assert_eq!(
        body["channel"],
        format!("/api/v5/users/{ROBO}/pending_chats")
    );
    let auth = &body["app_user_auth"];
    assert_eq!(auth["user_id"], ROBO);
    let token = auth["access_token"].as_str().unwrap();
    assert_eq!(w.engine.authenticate(token).unwrap(), user(ROBO));
    let ts: i64 = d
        .headers
        .iter()
        .find(|h| h.0 == "X-Chat-Timestamp")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let sig = &d
        .headers
        .iter()
        .find(|h| h.0 == "X-Chat-Signature")
        .unwrap()
        .1;
    assert_eq!(sig, &crate::webhooks::signature("s3cret", ts, &d.body));
    // A failure: retried after 1 s, not before; nothing overtakes it.
    w.engine
        .record_webhook_delivery(d.id, Some(500), None)
        .unwrap();
    assert!(w.engine.webhook_deliveries_due(10).unwrap().is_empty());
    w.clock.advance_ms(1000);
    let again = w.engine.webhook_deliveries_due(10).unwrap();
    assert_eq!(again[0].id, d.id);
    w.engine
        .record_webhook_delivery(d.id, Some(204), None)
        .unwrap();
    let next = w.engine.webhook_deliveries_due(10).unwrap();
    let body: Value = serde_json::from_str(&next[0].body).unwrap();
    assert_eq!(body["action"], "removed");
    w.engine
        .record_webhook_delivery(next[0].id, Some(200), None)
        .unwrap();
    assert!(w.engine.webhook_deliveries_due(10).unwrap().is_empty());
    let hist = w
        .engine
        .list_webhook_deliveries(
            &user(CAT),
            org,
            hook.id.parse::<Uuid>().unwrap(),
            &crate::PageRequest::first(25),
        )
        .unwrap();
    assert_eq!(hist.results.len(), 2);
    assert_eq!(hist.results[1].attempts, 2);
    assert!(hist.results.iter().all(|d| d.is_delivered));
    // The history pages like every collection: opaque cursors, both ways.
    let hook_id = hook.id.parse::<Uuid>().unwrap();
    let first = w
        .engine
        .list_webhook_deliveries(&user(CAT), org, hook_id, &crate::PageRequest::first(1))
        .unwrap();
    assert_eq!(first.results[0].id, hist.results[0].id);
    let next = first.next.clone().expect("a second page");
    assert!(
        next.parse::<i64>().is_err(),
        "the cursor is opaque, not an id"
    );
    let second = w
        .engine
        .list_webhook_deliveries(
            &user(CAT),
            org,
            hook_id,
            &crate::PageRequest::at(next, Some(1)),
        )
        .unwrap();
    assert_eq!(second.results[0].id, hist.results[1].id);
    assert!(second.next.is_none());
    let back = w
        .engine
        .list_webhook_deliveries(
            &user(CAT),
            org,
            hook_id,
            &crate::PageRequest::at(second.previous.clone().unwrap(), Some(1)),
        )
        .unwrap();
    assert_eq!(back.results[0].id, hist.results[0].id);
}

#[test]
fn the_pending_audience_is_exactly_who_lists_the_chat_as_pending() {
    use crate::chats::{ChatListParams, ChatScope};
    use crate::messages::NewMessage;
    let w = world();
    let (routed, _) = w.routed_chat();
    let v = visitor(VISITOR);
    let (open, _) = w
        .engine
        .visitor_start_chat(&Actor::Visitor(v), id(ACME), id(ROOM), v)
        .unwrap();
    let open: Uuid = open.id.parse().unwrap();
    w.engine
        .visitor_send_message(
            &Actor::Visitor(v),
            v,
            open,
            NewMessage {
                message: Some("Hi".into()),
                ..Default::default()
            },
        )
        .unwrap();
    for (chat, room) in [(routed, ROUTED_ROOM), (open, ROOM)] {
        let audience = w
            .engine
            .read_store(|tx| tx.room_audience(id(room), RoomChannel::PendingChats))
            .unwrap();
        for who in [ANN, BOB, CAT, DAN, PIA, OLLI, ROBO] {
            let listed = w
                .engine
                .list_chats(
                    &user(who),
                    ChatScope::UserPending { user_id: id(who) },
                    &ChatListParams::default(),
                    &Default::default(),
                )
                .map(|p| p.results.iter().any(|c| c.id == chat.to_string()))
                .unwrap_or(false);
            assert_eq!(
                audience.iter().any(|(u, _)| *u == id(who)),
                listed,
                "{who} in {room}"
            );
            // And the events say the same.
            let got = w
                .engine
                .events_since(
                    &user(who),
                    &[format!("/api/v5/users/{who}/pending_chats")],
                    Some(0),
                    None,
                )
                .map(|p| p.events.iter().any(|e| e.resource_id == chat.to_string()))
                .unwrap_or(false);
            assert_eq!(got, listed, "{who} events in {room}");
        }
    }
}

#[test]
fn tags_invitations_and_suggestions_are_evented() {
    use crate::chats::ChatScope;
    let w = world();
    let chat = w.ann_chat();
    let c = chat.to_string();
    let m = w.say(ANN, chat, "Hello");
    let s0 = w.engine.last_event_seq();
    let scope = ChatScope::UserChats { user_id: id(ANN) };
    w.engine
        .add_tag(
            &user(ANN),
            scope,
            chat,
            crate::tags::NewTag {
                name: Some("Lead".into()),
            },
        )
        .unwrap();
    w.engine
        .remove_tag(&user(ANN), scope, chat, "Lead")
        .unwrap();
    let (inv, _) = w
        .engine
        .create_invitation(
            &user(ANN),
            id(ANN),
            chat,
            crate::invitations::NewInvitation {
                invited_user_id: Some(id(BOB)),
                ..Default::default()
            },
        )
        .unwrap();
    let sug = w
        .engine
        .create_reply_suggestion(
            &user(ANN),
            scope,
            chat,
            m,
            crate::suggestions::SuggestionInput {
                suggestion: Some("Try turning it off and on".into()),
                relevancy_score: Some(Some(0.5)),
            },
        )
        .unwrap();
    let ann = summary(ANN, &read(&w, ANN, s0));
    for want in [
        (format!("chats/{c}/tags"), "added", "Lead".to_string()),
        (format!("chats/{c}/tags"), "removed", "Lead".to_string()),
        (
            format!("chats/{c}/outgoing_chat_invitations"),
            "added",
            inv.id.clone(),
        ),
        (
            format!("chats/{c}/reply_suggestions"),
            "added",
            sug.id.clone(),
        ),
    ] {
        assert!(
            ann.contains(&(want.0.clone(), want.1.to_string(), want.2.clone())),
            "{want:?} not in {ann:?}"
        );
    }
    let bob = summary(BOB, &read(&w, BOB, s0));
    assert!(
        bob.contains(&(
            "incoming_chat_invitations".into(),
            "added".into(),
            inv.id.clone()
        )),
        "{bob:?}"
    );
    // The owned-chats tag channel too; Bob (not a member) sees no tag.
    assert!(!bob.iter().any(|x| x.0.ends_with("/tags")));
    let owned = read_on(
        &w,
        CAT,
        format!("/api/v5/orgs/{ACME}/owned_chats/*/tags"),
        s0,
    );
    assert_eq!(owned.events.len(), 2);
}

#[test]
fn a_member_renamed_is_republished_in_open_chats_only() {
    let w = world();
    let (chat, _) = w.routed_chat();
    let c = chat.to_string();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    let s = w.engine.last_event_seq();
    let rename = |first: &str| {
        w.engine
            .update_user(
                &Actor::Admin,
                id(ACME),
                id(BOB),
                crate::directory::UserPatch {
                    first_name: Some(first.into()),
                    ..Default::default()
                },
            )
            .unwrap();
    };
    rename("Robert");
    let p = read(&w, BOB, s);
    let renamed: Vec<_> = p
        .events
        .iter()
        .filter(|e| e.channel.ends_with(&format!("chats/{c}/memberships")))
        .collect();
    assert_eq!(renamed.len(), 1, "{:?}", p.events);
    assert_eq!(renamed[0].action, "changed");
    assert_eq!(renamed[0].resource_id, BOB);
    let r = renamed[0].resource.as_ref().unwrap();
    assert!(
        r["member_name"].as_str().unwrap().starts_with("Robert"),
        "{r}"
    );
    assert!(r.get("chat_id").is_none(), "only what changed: {r}");
    // Once the chat has ended its memberships are history: no event.
    w.end(BOB, chat);
    let s = w.engine.last_event_seq();
    rename("Bobby");
    assert!(read(&w, BOB, s).events.is_empty());
}

#[test]
fn a_webhook_to_a_destination_the_host_does_not_allow_is_refused_when_written() {
    let engine = crate::Engine::builder()
        .clock(crate::TestClock::at_default_start())
        .webhook_destinations(vec!["https://hooks.example.com/in".into()])
        .open_in_memory()
        .unwrap();
    engine.load_seed_json(&seed_json()).unwrap();
    let org = id(ACME);
    let input = |url: &str| {
        serde_json::from_value::<crate::webhooks::WebhookInput>(json!({
            "url": url,
            "channels": ["/api/v5/users/{user_id}/chats"],
            "secret": "s3cret"
        }))
        .unwrap()
    };
    for bad in [
        "https://evil.example/in",
        "https://hooks.example.com/inbox",
        "http://hooks.example.com/in",
    ] {
        let e = engine
            .create_webhook(&user(CAT), org, input(bad))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError, "{bad}");
        assert!(e.to_json()["errors"]["url"].is_array(), "{}", e.to_json());
    }
    assert!(
        engine
            .list_webhooks(&user(CAT), org)
            .unwrap()
            .results
            .is_empty()
    );
    let ok = engine
        .create_webhook(&user(CAT), org, input("https://hooks.example.com/in/acme"))
        .unwrap();
    let id: Uuid = ok.id.parse().unwrap();
    let e = engine
        .update_webhook(&user(CAT), org, id, input("https://evil.example/in"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ValidationError);
    assert_eq!(
        engine.get_webhook(&user(CAT), org, id).unwrap().url,
        "https://hooks.example.com/in/acme"
    );
}

#[test]
fn the_commit_hook_hears_every_publishing_write_once_committed() {
    use crate::CommitNotice;
    use parking_lot::Mutex;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hook.db");
    // What the hook saw: the notice and the newest seq another connection reads at that moment.
    let heard: Arc<Mutex<Vec<(CommitNotice, i64)>>> = Arc::default();
    let panic_next = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clock = crate::TestClock::at_default_start();
    let engine = {
        let (heard, panic_next, file) = (heard.clone(), panic_next.clone(), path.clone());
        crate::Engine::builder()
            .clock(clock.clone())
            .on_commit(move |n| {
                let other = rusqlite::Connection::open(&file).unwrap();
                let seen: i64 = other
                    .query_row(
                        "SELECT coalesce((SELECT seq + width - 1 FROM event_changes \
                         ORDER BY seq DESC LIMIT 1), 0)",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                heard.lock().push((*n, seen));
                if panic_next.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    panic!("a host's hook failing");
                }
            })
            .open(&path)
            .unwrap()
    };
    let w = seeded(engine, clock);
    robo_pending_webhook(&w, json!(["added"]));
    heard.lock().clear();

    // A chat routed to Robo: Robo's pending_chats `added` matches the webhook.
    let (chat, _) = w.routed_chat();
    let notices = std::mem::take(&mut *heard.lock());
    assert!(!notices.is_empty());
    for (n, seen) in &notices {
        assert_eq!(
            *seen, n.last_event_seq,
            "the hook runs once the write is visible"
        );
    }
    assert_eq!(
        notices.last().unwrap().0.last_event_seq,
        w.engine.last_event_seq()
    );
    let queued: usize = notices.iter().map(|(n, _)| n.webhook_deliveries).sum();
    assert_eq!(queued, w.engine.webhook_deliveries_due(10).unwrap().len());
    assert_eq!(queued, 1);

    // A refused write publishes nothing and is not heard.
    let refused = w.engine.send_user_message(
        &user(OLLI),
        id(OLLI),
        chat,
        crate::messages::NewMessage {
            message: Some("not mine".into()),
            ..Default::default()
        },
    );
    assert!(refused.is_err());
    assert!(heard.lock().is_empty());

    // A hook that panics does not undo or fail the committed write.
    let head = w.engine.last_event_seq();
    panic_next.store(true, std::sync::atomic::Ordering::SeqCst);
    let joined = w
        .engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join());
    assert!(joined.is_ok(), "{joined:?}");
    assert_eq!(heard.lock().len(), 1);
    assert!(w.engine.last_event_seq() > head);
    let bob = summary(BOB, &read(&w, BOB, head));
    assert!(
        bob.contains(&("chats".into(), "added".into(), chat.to_string())),
        "{bob:?}"
    );
}

#[test]
fn a_pattern_is_accepted_when_some_published_channel_matches_it() {
    use crate::events::matches_some_channel as some;
    for ok in [
        format!("/api/v5/users/{BOB}/*"),
        format!("/api/v5/users/{BOB}/routed_chats"),
        format!("/api/v5/users/{BOB}/chats/*/messages"),
        "/api/v5/users/{user_id}/chats/*/messages".to_string(),
        "/api/v5/users/{user_id}/routed_chats".to_string(),
        format!("/api/v5/orgs/{ACME}/owned_chats/*/messages"),
        format!("/api/v5/orgs/{ACME}/owned_chats/*"),
        format!("/api/v5/users/{BOB}/clients"),
        format!("/api/v5/orgs/{ACME}/teams"),
        format!("/api/v5/public/visitors/{VISITOR}/chats/*/messages"),
        "/api/v5/*".to_string(),
        "/api/v5/*s".to_string(),
    ] {
        assert!(some(&ok), "{ok}");
    }
    for refused in [
        format!("/api/v5/users/{BOB}"),
        format!("/api/v5/users/{BOB}/routed_chat"),
        format!("/api/v5/users/{BOB}/chats/*/message"),
        format!("/api/v5/users/{BOB}/chats/a/b/tags/x"),
        format!("/api/v5/orgs/{ACME}/webhooks"),
        format!("/api/v5/orgs/{ACME}/owned_chats/*/reply_suggestions"),
        format!("/api/v5/orgs/{ACME}/involved_chats/*/messages/*"),
        "/api/v5/users//chats".to_string(),
        "/api/v5/x*".to_string(),
        "/api/v4/users/*".to_string(),
    ] {
        assert!(!some(&refused), "{refused}");
    }
}

/// Subscribing to a pattern that can match nothing is a field error, not a silent success,
/// and a chat of an organization the reader has no part in is refused below their own path.
#[test]
fn patterns_matching_no_channel_and_foreign_chats_are_refused() {
    let w = world();
    let (chat, _) = w.routed_chat();
    let err = w
        .engine
        .events_since(
            &user(BOB),
            &[format!("/api/v5/users/{BOB}/routed_chat")],
            Some(0),
            None,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
    assert!(
        err.errors["channels"][0].contains("matches no channel"),
        "{err:?}"
    );
    // Bob's own chat: accepted.
    let mine = format!("/api/v5/users/{BOB}/chats/{chat}/messages");
    w.engine
        .events_since(&user(BOB), &[mine], Some(0), None)
        .unwrap();
    // Olli (another organization) names the chat under his own id: refused as unknown.
    let theirs = format!("/api/v5/users/{OLLI}/chats/{chat}/messages");
    let err = w
        .engine
        .events_since(&user(OLLI), &[theirs], Some(0), None)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err:?}");
    // Nor has the partner organization, whose room it is not and who has no member in it.
    let pia = format!("/api/v5/users/{PIA}/chats/{chat}/messages");
    let err = w
        .engine
        .events_since(&user(PIA), &[pia], Some(0), None)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

/// Every channel is a collection its readers list with `GET`: the registry has that route.
#[test]
fn every_published_channel_is_a_listed_collection() {
    use crate::registry::Method;
    for channel in crate::events::CHANNELS {
        let path = format!("/{channel}");
        let listed = api::OPERATIONS.iter().any(|op| {
            op.routes
                .iter()
                .any(|r| r.method == Method::Get && r.path == path)
        });
        assert!(listed, "{path} is not a GET route");
    }
}

/// With a size bound, maintenance keeps the newest events within it (estimated from the mean
/// size of the newest rows): older ones go even inside the retention time, and a read from
/// before them answers `resync`; without a bound nothing inside the time is deleted.
#[test]
fn retention_by_size_keeps_the_newest_events_within_the_bound() {
    let log_bytes = |w: &World| -> (i64, i64) {
        (
            count(&w.engine, "SELECT count(*) FROM event_changes"),
            count(
                &w.engine,
                "SELECT CAST(coalesce(sum(64 + length(channels) + length(resource_id) \
                 + coalesce(length(resource), 0)), 0) AS BIGINT) FROM event_changes",
            ),
        )
    };
    let build = |bound: Option<u64>| {
        let clock = crate::TestClock::at_default_start();
        let mut b = crate::Engine::builder().clock(clock.clone());
        if let Some(bytes) = bound {
            b = b.event_retention_bytes(bytes);
        }
        let (engine, place) = open_test_engine(b);
        let mut w = seeded(engine, clock);
        w.place = place;
        w
    };
    let unbounded = build(None);
    let bounded = build(Some(20_000));
    for w in [&unbounded, &bounded] {
        for _ in 0..40 {
            let (chat, _) = w.routed_chat();
            w.engine
                .join_pending_chat(&user(BOB), id(BOB), chat, join())
                .unwrap();
            w.end(BOB, chat);
        }
    }
    let (rows, bytes) = log_bytes(&unbounded);
    assert!(bytes > 60_000, "the chats wrote {bytes} bytes of events");
    assert_eq!(unbounded.engine.maintenance().unwrap().events_deleted, 0);
    assert_eq!(log_bytes(&unbounded), (rows, bytes));

    let head = bounded.engine.last_event_seq();
    let report = bounded.engine.maintenance().unwrap();
    let (kept_rows, kept) = log_bytes(&bounded);
    assert!(report.events_deleted > 0 && kept_rows > 0, "{report:?}");
    assert!(
        kept <= 20_000 * 5 / 4,
        "{kept} bytes kept for a 20 000-byte bound"
    );
    assert!(
        kept >= 20_000 / 2,
        "{kept} bytes kept for a 20 000-byte bound"
    );
    assert_eq!(
        bounded.engine.last_event_seq(),
        head,
        "the newest events stay"
    );
    let from_start = read(&bounded, BOB, 0);
    assert!(
        from_start.resync,
        "a read from before the kept events resyncs"
    );
    // From the oldest kept change on, Bob reads without a resync.
    let oldest = count(&bounded.engine, "SELECT min(seq) FROM event_changes");
    let recent = read(&bounded, BOB, oldest);
    assert!(!recent.resync && !recent.events.is_empty(), "{recent:?}");
}

/// The shared fan-out wakes a subscription only for changes its interest may concern: every
/// change `events_since` gives a reader must be one of them, and a pattern of unrelated
/// channels is concerned by none of a chat's changes.
#[test]
fn an_interest_covers_every_change_events_since_gives() {
    let w = world();
    let head0 = w.engine.last_event_seq();
    let (chat, _) = w.routed_chat();
    w.engine
        .join_pending_chat(&user(BOB), id(BOB), chat, join())
        .unwrap();
    w.say(BOB, chat, "Hello there.");
    let heads = w.engine.change_heads_after(head0, 1000).unwrap();
    assert!(!heads.resync);
    assert!(!heads.heads.is_empty());
    let readers: Vec<(Actor, Vec<String>)> = vec![
        (user(BOB), mine(BOB)),
        (user(ROBO), mine(ROBO)),
        (user(ANN), mine(ANN)),
        (user(DAN), mine(DAN)),
        (user(PIA), mine(PIA)),
        (
            user(BOB),
            vec![format!("/api/v5/users/{BOB}/pending_chats")],
        ),
        (
            user(ANN),
            vec![format!("/api/v5/orgs/{ACME}/owned_chats/*")],
        ),
        (
            Actor::Visitor(visitor(VISITOR2)),
            vec![format!("/api/v5/public/visitors/{VISITOR2}/*")],
        ),
    ];
    let mut concerned_some = 0;
    for (actor, channels) in &readers {
        let interest = w.engine.interest(actor, channels).unwrap();
        let page = w
            .engine
            .events_since(actor, channels, Some(head0), None)
            .unwrap();
        for e in &page.events {
            // The row whose numbers hold the event's.
            let head = heads
                .heads
                .iter()
                .find(|h| h.seq <= e.seq && e.seq < h.seq + h.width)
                .unwrap();
            assert!(
                interest.may_concern(&Concerned::of(std::slice::from_ref(head))),
                "{channels:?} {e:?}"
            );
            concerned_some += 1;
        }
    }
    assert!(concerned_some > 0);
    let unrelated = vec![format!("/api/v5/users/{ANN}/incoming_chat_invitations")];
    let interest = w.engine.interest(&user(ANN), &unrelated).unwrap();
    assert!(!interest.may_concern(&Concerned::of(&heads.heads)));
}

#[test]
fn a_channel_owner_is_the_path_of_its_reader() {
    use super::channel_owner;
    let u = "/api/v5/users/a0000000-0000-4000-8000-0000000000a1";
    assert_eq!(channel_owner(&format!("{u}/chats/x/messages")), Some(u));
    assert_eq!(channel_owner(u), Some(u));
    let v = "/api/v5/public/visitors/0123456789abcdef0123456789abcdef";
    assert_eq!(channel_owner(&format!("{v}/chats/*")), Some(v));
    let o = "/api/v5/orgs/7f9e9580-095b-42c7-838c-c04e667b26f7";
    assert_eq!(channel_owner(&format!("{o}/owned_chats")), Some(o));
    assert_eq!(channel_owner("/api/v5/users/*/chats"), None);
    assert_eq!(channel_owner("/elsewhere/users/x"), None);
}
