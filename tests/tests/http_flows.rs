//! Whole conversations, pagination by following links, and access across organizations and
//! permissions, over HTTP against a real `chat-server`.

mod support;

use serde_json::{Value, json};
use support::world::{World, join_body};
use support::*;

fn chat_ids(s: &Server, path: &str, token: &str) -> Vec<String> {
    ids(page(s.get(path, token).expect(200), CHAT))
}

#[test]
fn a_visitor_chat_from_first_message_to_lock() {
    let s = Server::with_seed(&seed());
    let a = "/api/v5";
    // The visitor authenticates, enters the routed Sales room, starts a chat and writes.
    let auth = s.call(
        "POST",
        &format!("{a}/public/orgs/{ORG_A}/auth"),
        None,
        Some(&json!({"visitor_secret_id": null})),
    );
    let auth = auth.expect(200).clone();
    let (vid, vt) = (
        auth["visitor_id"].as_str().unwrap(),
        auth["access_token"].as_str().unwrap(),
    );
    s.post(
        &format!("{a}/public/orgs/{ORG_A}/rooms/{ROOM_A2}/visitors"),
        vt,
        json!({"id": vid, "presence_expires_in": 600}),
    )
    .expect(201);
    let chat = s.post(
        &format!("{a}/public/orgs/{ORG_A}/rooms/{ROOM_A2}/visitors/{vid}/chats"),
        vt,
        json!({}),
    );
    let chat = chat.expect(201)["id"].as_str().unwrap().to_string();
    assert!(
        !chat_ids(&s, &format!("{a}/users/{CAT}/pending_chats"), CAT_T).contains(&chat),
        "not waiting before a msg"
    );
    let m = s.post(
        &format!("{a}/public/visitors/{vid}/chats/{chat}/messages"),
        vt,
        json!({"type": "msg", "message": "Do you ship to Finland?", "url": "https://shop.example/p/1", "url_title": "Product"}),
    );
    let m = m.expect(201);
    assert_shape(m, &visitor_message_shape());
    assert_eq!(m["sender_type"], "visitor");
    assert_eq!(m["sender_id"], vid);

    // Pending for the router's team member, not for colleagues outside the router, nor for
    // other organizations.
    assert!(chat_ids(&s, &format!("{a}/users/{CAT}/pending_chats"), CAT_T).contains(&chat));
    for (u, t) in [(BOB, BOB_T), (ANN, ANN_T)] {
        assert!(!chat_ids(&s, &format!("{a}/users/{u}/pending_chats"), t).contains(&chat));
    }
    assert!(!chat_ids(&s, &format!("{a}/users/{BEA}/pending_chats"), BEA_T).contains(&chat));
    assert_eq!(
        chat_ids(
            &s,
            &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A2}/pending_chats"),
            ANN_T
        ),
        vec![chat.clone()]
    );
    let c = s.get(&format!("{a}/users/{CAT}/routed_chats/{chat}"), CAT_T);
    let c = c.expect(200);
    assert_eq!(c["is_pending"], true);
    assert_eq!(c["first_visitor_message_url"], "https://shop.example/p/1");
    assert_eq!(c["first_visitor_message_url_title"], "Product");

    // Cat joins; the chat leaves the pending lists; Cat replies; the visitor sees the reply.
    s.post(
        &format!("{a}/users/{CAT}/pending_chats/{chat}/memberships"),
        CAT_T,
        join_body(),
    )
    .expect(201);
    assert!(!chat_ids(&s, &format!("{a}/users/{CAT}/pending_chats"), CAT_T).contains(&chat));
    let reply = s.post(
        &format!("{a}/users/{CAT}/chats/{chat}/messages"),
        CAT_T,
        json!({"message": "Yes, we do!"}),
    );
    reply.expect(200);
    let ms = s.get(
        &format!("{a}/public/visitors/{vid}/chats/{chat}/messages"),
        vt,
    );
    let ms = page(ms.expect(200), &visitor_message_shape()).clone();
    assert_eq!(ms[0]["message"], "Yes, we do!");
    assert_eq!(ms[0]["sender_public_name"], "Cat Tester");
    let c = s.get(&format!("{a}/public/visitors/{vid}/chats/{chat}"), vt);
    let c = c.expect(200);
    assert_shape(c, CHAT);
    assert_eq!(c["is_waiting"], false);
    assert_eq!(c["is_real_conversation"], true);
    assert!(c["visitor_wait_time"].as_f64().is_some());

    // Typing, seen by the visitor's own membership API.
    s.patch(
        &format!("{a}/users/{CAT}/chat_memberships/{chat}"),
        CAT_T,
        json!({"composing_status": "typing"}),
    )
    .expect(200);
    let vm = s.get(
        &format!("{a}/public/visitors/{vid}/chat_memberships/{chat}"),
        vt,
    );
    assert_shape(vm.expect(200), MEMBERSHIP);
    assert_eq!(vm.body["member_id"], vid);
    let vm = s.patch(
        &format!("{a}/public/visitors/{vid}/chat_memberships/{chat}"),
        vt,
        json!({"composing_status": "typing"}),
    );
    assert_eq!(vm.expect(200)["composing_status"], "typing");
    let vm = s.put(
        &format!("{a}/public/visitors/{vid}/chat_memberships/{chat}"),
        vt,
        json!({"is_participating": true, "composing_status": "idle"}),
    );
    assert_eq!(vm.expect(200)["composing_status"], "idle");

    // Cat tags the chat; the tag is on the chat through the organization's scopes too.
    let tag = s.post(
        &format!("{a}/users/{CAT}/chats/{chat}/tags"),
        CAT_T,
        json!({"name": "Shipping"}),
    );
    let tag = tag.expect(201).clone();
    assert_shape(&tag, TAG);
    assert_eq!(tag["hashed_name"], sha1_hex("Shipping"));
    assert_eq!(tag["room_id"], ROOM_A2);
    let tags = s.get(&format!("{a}/orgs/{ORG_A}/owned_chats/{chat}/tags"), ANN_T);
    assert_eq!(page(tags.expect(200), TAG), &vec![tag.clone()]);
    let c = s.get(&format!("{a}/orgs/{ORG_A}/owned_chats/{chat}"), ANN_T);
    assert_eq!(c.expect(200)["tag_count"], 1);

    // Cat invites her colleague Bob, who sees it among his incoming invitations, accepts, and
    // writes to the visitor.
    let inv = s.post(
        &format!("{a}/users/{CAT}/chats/{chat}/outgoing_chat_invitations"),
        CAT_T,
        json!({"invited_user_id": BOB}),
    );
    let inv = inv.expect(201).clone();
    assert_shape(&inv, INVITATION);
    let inv_id = inv["id"].as_str().unwrap().to_string();
    assert_eq!(inv["invitee_name"], "Bob Tester");
    assert_eq!(inv["user_member_count"], 1);
    let inc = s.get(&format!("{a}/users/{BOB}/incoming_chat_invitations"), BOB_T);
    let inc = page(inc.expect(200), INVITATION).clone();
    assert_eq!(ids(&inc), vec![inv_id.clone()]);
    assert_user_summary(&inc[0]["invited_by_user"], CAT, "Cat", "Tester", ORG_A);
    let acc = s.put(
        &format!("{a}/users/{BOB}/chats/{chat}/incoming_chat_invitations/{inv_id}"),
        BOB_T,
        json!({"is_accepted": true}),
    );
    let acc = acc.expect(200).clone();
    assert_eq!(acc["is_accepted"], true);
    assert_user_summary(&acc["accepted_by_user"], BOB, "Bob", "Tester", ORG_A);
    assert_eq!(acc["user_member_count"], 2);
    s.post(
        &format!("{a}/users/{BOB}/chats/{chat}/messages"),
        BOB_T,
        json!({"message": "Bob from shipping: yes, 3 days."}),
    )
    .expect(200);
    let ms = s.get(
        &format!("{a}/public/visitors/{vid}/chats/{chat}/messages"),
        vt,
    );
    let ms = page(ms.expect(200), &visitor_message_shape()).clone();
    assert!(
        ms.iter()
            .any(|m| m["message"] == "Bob from shipping: yes, 3 days."
                && m["sender_public_name"] == "Bob Tester")
    );
    // A pending invitation for Dan, which ending the chat expires.
    let dan = s.post(
        &format!("{a}/users/{BOB}/chats/{chat}/outgoing_chat_invitations"),
        BOB_T,
        json!({"invited_user_id": DAN}),
    );
    let dan = dan.expect(201)["id"].as_str().unwrap().to_string();

    // Ann (settings) sees it among the organization's chats and ends it.
    assert!(chat_ids(&s, &format!("{a}/orgs/{ORG_A}/owned_chats"), ANN_T).contains(&chat));
    let ended = s.patch(
        &format!("{a}/orgs/{ORG_A}/owned_chats/{chat}"),
        ANN_T,
        json!({"is_ended": true}),
    );
    let ended = ended.expect(200);
    assert_eq!(ended["is_ended"], true);
    assert!(ended["duration"].as_f64().is_some() && ended["active_duration"].as_f64().is_some());
    assert!(ended["active_duration"].as_f64() <= ended["duration"].as_f64());

    // Locked: no messages from anyone, no membership changes, no joins.
    s.post(
        &format!("{a}/users/{CAT}/chats/{chat}/messages"),
        CAT_T,
        json!({"message": "One more thing"}),
    )
    .expect_error(409, "chat_ended");
    s.post(
        &format!("{a}/public/visitors/{vid}/chats/{chat}/messages"),
        vt,
        json!({"type": "msg", "message": "Hello?"}),
    )
    .expect_error(409, "chat_ended");
    s.put(
        &format!("{a}/users/{CAT}/chat_memberships/{chat}"),
        CAT_T,
        join_body(),
    )
    .expect_error(400, "chat_already_ended");
    s.post(
        &format!("{a}/users/{BOB}/pending_chats/{chat}/memberships"),
        BOB_T,
        join_body(),
    )
    .expect(404);
    s.post(
        &format!("{a}/orgs/{ORG_A}/owned_chats/{chat}/memberships"),
        ANN_T,
        json!({"member_id": ANN, "is_participating": true, "composing_status": "idle"}),
    )
    .expect(400);
    // Locked for the invited colleague too; no new tags, no removals, no invitations; the
    // pending invitation expired and cannot be accepted.
    s.post(
        &format!("{a}/users/{BOB}/chats/{chat}/messages"),
        BOB_T,
        json!({"message": "Anything else?"}),
    )
    .expect_error(409, "chat_ended");
    s.post(
        &format!("{a}/users/{CAT}/chats/{chat}/tags"),
        CAT_T,
        json!({"name": "Late"}),
    )
    .expect_error(400, "chat_already_ended");
    s.delete(
        &format!("{a}/users/{CAT}/chats/{chat}/tags/Shipping"),
        CAT_T,
    )
    .expect_error(400, "chat_already_ended");
    let tags = s.get(&format!("{a}/users/{CAT}/chats/{chat}/tags"), CAT_T);
    assert_eq!(page(tags.expect(200), TAG), &vec![tag]);
    s.post(
        &format!("{a}/users/{CAT}/chats/{chat}/outgoing_chat_invitations"),
        CAT_T,
        json!({"invited_user_id": ANN}),
    )
    .expect_error(400, "chat_already_ended");
    let out = s.get(
        &format!("{a}/users/{BOB}/chats/{chat}/outgoing_chat_invitations"),
        BOB_T,
    );
    let out = page(out.expect(200), INVITATION).clone();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["id"], dan.as_str());
    assert_eq!(out[0]["is_expired"], true);
    assert!(out[0]["expired_at"].is_string());
    s.put(
        &format!("{a}/users/{DAN}/incoming_chat_invitations/{dan}"),
        DAN_T,
        json!({"is_accepted": true}),
    )
    .expect_error(400, "invitation_expired");

    // The visitor comes back with the same secret: the same visitor.
    let again = s.call(
        "POST",
        &format!("{a}/public/orgs/{ORG_A}/auth"),
        None,
        Some(&json!({"visitor_secret_id": auth["visitor_secret_id"]})),
    );
    assert_eq!(again.expect(200)["visitor_id"], vid);
}

/// Follows `next` to the end and `previous` back to the start.
fn walk(s: &Server, first: &str, token: &str) -> (Vec<String>, Vec<String>) {
    let mut forward = vec![];
    let mut url = first.to_string();
    let mut pages = vec![];
    loop {
        let r = s.get(&url, token);
        let body = r.expect(200).clone();
        forward.extend(ids(body["results"].as_array().unwrap()));
        pages.push(body.clone());
        match body["next"].as_str() {
            Some(n) => {
                assert!(n.starts_with(&s.base), "next is a full URL: {n}");
                url = n.to_string();
            }
            None => break,
        }
    }
    let mut backward = vec![];
    let mut prev = pages
        .last()
        .and_then(|p| p["previous"].as_str().map(String::from));
    backward.extend(
        ids(pages.last().unwrap()["results"].as_array().unwrap())
            .into_iter()
            .rev(),
    );
    while let Some(p) = prev {
        let r = s.get(&p, token);
        let body = r.expect(200).clone();
        backward.extend(ids(body["results"].as_array().unwrap()).into_iter().rev());
        prev = body["previous"].as_str().map(String::from);
    }
    backward.reverse();
    (forward, backward)
}

#[test]
fn pagination_walks_more_than_100_items_by_following_links() {
    let s = Server::with_seed(&seed());
    let a = "/api/v5";
    let mut created = vec![];
    for _ in 0..120 {
        let c = s.post(&format!("{a}/users/{ANN}/chats"), ANN_T, json!({}));
        created.push(c.expect(201)["id"].as_str().unwrap().to_string());
    }
    created.reverse(); // newest first
    // Default page size (25), other query parameters preserved in the links.
    let (fwd, back) = walk(&s, &format!("{a}/users/{ANN}/chats?is_ended=false"), ANN_T);
    assert_eq!(fwd, created);
    assert_eq!(back, created);
    let first = s.get(&format!("{a}/users/{ANN}/chats?is_ended=false"), ANN_T);
    let next = first.body["next"].as_str().unwrap();
    assert!(
        next.contains("is_ended=false") && next.contains("cursor="),
        "{next}"
    );
    assert_eq!(first.body["results"].as_array().unwrap().len(), 25);
    assert_eq!(first.body["previous"], Value::Null);
    // page_size 7, ascending.
    let (fwd, back) = walk(
        &s,
        &format!("{a}/users/{ANN}/chats?page_size=7&ordering=created_at"),
        ANN_T,
    );
    let asc: Vec<_> = created.iter().rev().cloned().collect();
    assert_eq!(fwd, asc);
    assert_eq!(back, asc);
    // The maximum page size is 100.
    let big = s.get(&format!("{a}/users/{ANN}/chats?page_size=1000"), ANN_T);
    assert_eq!(big.expect(200)["results"].as_array().unwrap().len(), 100);
    // Rows inserted during a walk do not disturb it.
    let r1 = s.get(
        &format!("{a}/orgs/{ORG_A}/owned_chats?page_size=50&ordering=created_at"),
        ANN_T,
    );
    let _ = r1; // (owned chats: operator chats have no room)
    let p1 = s.get(&format!("{a}/users/{ANN}/chats?page_size=50"), ANN_T);
    let mut seen = ids(p1.expect(200)["results"].as_array().unwrap());
    for _ in 0..5 {
        s.post(&format!("{a}/users/{ANN}/chats"), ANN_T, json!({}))
            .expect(201);
    }
    let mut next = p1.body["next"].as_str().map(String::from);
    while let Some(n) = next {
        let r = s.get(&n, ANN_T);
        seen.extend(ids(r.expect(200)["results"].as_array().unwrap()));
        next = r.body["next"].as_str().map(String::from);
    }
    assert_eq!(seen, created);

    // Messages: 105 in one chat, walked with the default page size.
    let chat = &created[0];
    let mut sent = vec![];
    for i in 0..105 {
        let m = s.post(
            &format!("{a}/users/{ANN}/chats/{chat}/messages"),
            ANN_T,
            json!({"message": format!("m{i}")}),
        );
        sent.push(m.expect(200)["id"].as_str().unwrap().to_string());
    }
    let (fwd, back) = walk(
        &s,
        &format!("{a}/users/{ANN}/chats/{chat}/messages?type__in=msg"),
        ANN_T,
    );
    sent.reverse();
    assert_eq!(fwd, sent);
    assert_eq!(back, sent);
    // A bad cursor or page size is a 400 naming the parameter.
    let r = s.get(&format!("{a}/users/{ANN}/chats?cursor=garbage"), ANN_T);
    assert!(
        r.expect_error(400, "validation_error")["errors"]
            .get("cursor")
            .is_some()
    );
    let r = s.get(&format!("{a}/users/{ANN}/chats?page_size=zero"), ANN_T);
    assert!(
        r.expect_error(400, "validation_error")["errors"]
            .get("page_size")
            .is_some()
    );
}

#[test]
fn links_use_the_public_url_when_given() {
    let s = Server::with_seed_and(&seed(), &["--public-url", "https://chat.example.com/"]);
    for _ in 0..3 {
        s.post(&format!("/api/v5/users/{ANN}/chats"), ANN_T, json!({}))
            .expect(201);
    }
    let r = s.get(&format!("/api/v5/users/{ANN}/chats?page_size=2"), ANN_T);
    let next = r.expect(200)["next"].as_str().unwrap().to_string();
    let prefix = format!("https://chat.example.com/api/v5/users/{ANN}/chats?page_size=2&cursor=");
    assert!(next.starts_with(&prefix), "{next}");
    // Followed on this server (same path and query).
    let local = next.replace("https://chat.example.com", &s.base);
    let r2 = s.get(&local, ANN_T);
    assert_eq!(r2.expect(200)["results"].as_array().unwrap().len(), 1);
    assert!(
        r2.body["previous"]
            .as_str()
            .unwrap()
            .starts_with("https://chat.example.com/")
    );
}

/// Another organization's chats are invisible (404) through every scope, and each scope refuses
/// users without the right to it.
#[test]
fn access_across_organizations_and_permissions_for_every_scope() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let a = "/api/v5";
    let foreign = &w.chat_b;
    // Ann asks for B's chat through each of her own scopes: 404.
    for path in [
        format!("{a}/orgs/{ORG_A}/owned_chats/{foreign}"),
        format!("{a}/orgs/{ORG_A}/involved_chats/{foreign}"),
        format!("{a}/orgs/{ORG_A}/routed_chats/{foreign}"),
        format!("{a}/users/{ANN}/routed_chats/{foreign}"),
        format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats/{foreign}/memberships"),
        format!("{a}/users/{ANN}/chats/{foreign}/memberships"),
        format!("{a}/users/{ANN}/routed_chats/{foreign}/memberships"),
        format!("{a}/users/{ANN}/pending_chats/{foreign}/memberships"),
        format!("{a}/orgs/{ORG_A}/owned_chats/{foreign}/messages"),
        format!("{a}/users/{ANN}/chats/{foreign}/messages"),
        format!("{a}/users/{ANN}/routed_chats/{foreign}/messages"),
    ] {
        let r = s.get(&path, ANN_T);
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_error_body(&r.body);
    }
    s.post(
        &format!("{a}/users/{ANN}/pending_chats/{foreign}/memberships"),
        ANN_T,
        join_body(),
    )
    .expect(404);
    s.post(
        &format!("{a}/users/{ANN}/chats/{foreign}/messages"),
        ANN_T,
        json!({"message": "hi"}),
    )
    .expect(404);
    // ... and through B's paths: 403 (not her organization / not her user).
    let r = s.get(&format!("{a}/orgs/{ORG_B}/owned_chats/{foreign}"), ANN_T);
    r.expect_error(403, "permission_denied");
    let r = s.get(&format!("{a}/users/{BEA}/chats/{foreign}/messages"), ANN_T);
    r.expect_error(403, "permission_denied");
    // Bea sees her own chat.
    s.get(&format!("{a}/orgs/{ORG_B}/owned_chats/{foreign}"), BEA_T)
        .expect(200);
    // The partner room's chat is routed to A, but not owned by A, and P does not see A's chats.
    s.get(
        &format!("{a}/orgs/{ORG_A}/owned_chats/{}", w.partner_p),
        ANN_T,
    )
    .expect(404);
    s.get(
        &format!("{a}/orgs/{ORG_A}/routed_chats/{}", w.partner_p),
        ANN_T,
    )
    .expect(200);
    s.get(
        &format!("{a}/orgs/{ORG_P}/owned_chats/{}", w.partner_p),
        PAM_T,
    )
    .expect(200);
    s.get(
        &format!("{a}/orgs/{ORG_P}/routed_chats/{}", w.open_a),
        PAM_T,
    )
    .expect(404);
    // Private history: Hal (no reports) is refused the organization scopes; Hue (reports) is not.
    for scope in ["owned_chats", "involved_chats", "routed_chats"] {
        s.get(&format!("{a}/orgs/{ORG_H}/{scope}"), HAL_T)
            .expect_error(403, "private_chat_history");
        s.get(&format!("{a}/orgs/{ORG_H}/{scope}"), HUE_T)
            .expect(200);
    }
    // Room scopes need the reports permission.
    s.get(&format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats"), BOB_T)
        .expect_error(403, "reports_permission_required");
    s.get(
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/pending_chats"),
        BOB_T,
    )
    .expect_error(403, "reports_permission_required");
    // Visitors cannot use operator endpoints, nor another visitor's chat.
    let (vid, vt) = &w.open_a_vis;
    s.get(&format!("{a}/users/{ANN}/chats"), vt).expect(403);
    s.get(&format!("{a}/orgs/{ORG_A}/owned_chats"), vt)
        .expect(403);
    let (pvid, _) = &w.pending_a_vis;
    s.get(
        &format!("{a}/public/visitors/{pvid}/chats/{}/messages", w.pending_a),
        vt,
    )
    .expect(403);
    s.get(
        &format!("{a}/public/visitors/{vid}/chats/{}/messages", w.pending_a),
        vt,
    )
    .expect(404);
    // Operators cannot use the visitor API.
    s.get(
        &format!("{a}/public/visitors/{vid}/chats/{}/messages", w.open_a),
        ANN_T,
    )
    .expect(403);
    // No subscription: every call of C's users is 403.
    for path in [
        format!("{a}/users/{CID}/chats"),
        format!("{a}/users/{CID}/pending_chats"),
        format!("{a}/orgs/{ORG_C}/owned_chats"),
        format!("{a}/users/me"),
    ] {
        s.get(&path, CID_T)
            .expect_error(403, "no_active_subscription");
    }
}
