use super::*;
use crate::chats::ChatScope;
use crate::error::ErrorCode;
use crate::memberships::MembershipInput;
use crate::pagination::PageRequest;
use crate::test_support::*;
use crate::{Actor, ErrorCode as EC};

fn invite_user(u: &str) -> NewInvitation {
    NewInvitation {
        invited_user_id: Some(id(u)),
        ..Default::default()
    }
}

fn invite_team(t: &str) -> NewInvitation {
    NewInvitation {
        invited_team_id: Some(id(t)),
        ..Default::default()
    }
}

fn invite_org(o: &str) -> NewInvitation {
    NewInvitation {
        invited_organization_id: Some(id(o)),
        ..Default::default()
    }
}

fn accept_body() -> InvitationAccept {
    InvitationAccept {
        is_accepted: Some(true),
        is_expired: None,
    }
}

fn expire_body() -> InvitationExpire {
    InvitationExpire {
        is_expired: Some(true),
    }
}

fn all() -> InvitationFilter {
    InvitationFilter::default()
}

fn incoming(w: &World, who: &str, f: InvitationFilter) -> Vec<Invitation> {
    w.engine
        .list_invitations_incoming(&user(who), id(who), &f, &PageRequest::default())
        .unwrap()
        .results
}

fn outgoing(w: &World, who: &str, chat: Uuid, f: InvitationFilter) -> Vec<Invitation> {
    w.engine
        .list_invitations_outgoing(&user(who), id(who), chat, &f, &PageRequest::default())
        .unwrap()
        .results
}

fn send(w: &World, who: &str, chat: Uuid, input: NewInvitation) -> (Invitation, bool) {
    w.engine
        .create_invitation(&user(who), id(who), chat, input)
        .unwrap()
}

fn inv_id(i: &Invitation) -> Uuid {
    i.id.parse().unwrap()
}

#[test]
fn sending_creates_an_invitation_shaped_like_the_reference() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, created) = send(&w, ANN, chat, invite_user(BOB));
    assert!(created);
    assert_eq!(
        keys(&inv),
        sorted(&[
            "id",
            "is_accepted",
            "is_expired",
            "invited_by_user_id",
            "invited_by_user",
            "chat_id",
            "room_id",
            "invited_user_id",
            "invited_team_id",
            "invited_organization_id",
            "invitee_name",
            "accepted_by_user_id",
            "accepted_by_user",
            "user_member_count",
            "visitor_member_count",
            "created_at",
            "updated_at",
            "accepted_at",
            "expired_at",
        ])
    );
    assert!(!inv.is_accepted && !inv.is_expired);
    assert_eq!(inv.invited_by_user_id, ANN);
    let by = serde_json::to_value(inv.invited_by_user.as_ref().unwrap()).unwrap();
    assert_eq!(
        by,
        serde_json::json!({"id": ANN, "full_name": "Ann Lee", "first_name": "Ann",
                           "last_name": "Lee", "organization_id": ACME})
    );
    assert_eq!(inv.chat_id, chat.to_string());
    assert_eq!(inv.room_id.as_deref(), Some(ROOM));
    assert_eq!(inv.invited_user_id.as_deref(), Some(BOB));
    assert_eq!(inv.invited_team_id, None);
    assert_eq!(inv.invited_organization_id, None);
    assert_eq!(inv.invitee_name, "Bob von Helper");
    assert_eq!(inv.accepted_by_user_id, None);
    assert!(inv.accepted_by_user.is_none());
    assert_eq!((inv.user_member_count, inv.visitor_member_count), (1, 1));
    assert_eq!(inv.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(inv.updated_at, inv.created_at);
    assert_eq!(inv.accepted_at, None);
    assert_eq!(inv.expired_at, None);
}

#[test]
fn a_repeat_invitation_of_a_pending_party_returns_the_pending_one() {
    let w = world();
    let chat = w.ann_chat();
    let (first, created) = send(&w, ANN, chat, invite_user(BOB));
    assert!(created);
    w.clock.advance_secs(5);
    let (again, created) = send(&w, ANN, chat, invite_user(BOB));
    assert!(!created);
    assert_eq!(again, first);
    // Another party is a new invitation; once the first is expired, Bob may be invited anew.
    assert!(send(&w, ANN, chat, invite_team(TEAM_TIER1)).1);
    w.engine
        .expire_invitation(&user(ANN), id(ANN), chat, inv_id(&first), expire_body())
        .unwrap();
    let (third, created) = send(&w, ANN, chat, invite_user(BOB));
    assert!(created);
    assert_ne!(third.id, first.id);
    assert_eq!(outgoing(&w, ANN, chat, all()).len(), 3);
}

#[test]
fn exactly_one_party_must_be_invited() {
    let w = world();
    let chat = w.ann_chat();
    let e = err(w
        .engine
        .create_invitation(&user(ANN), id(ANN), chat, NewInvitation::default()));
    assert_eq!(e.code, EC::ValidationError);
    assert_eq!(e.status(), 400);
    for f in [
        "invited_user_id",
        "invited_team_id",
        "invited_organization_id",
    ] {
        assert!(e.errors.contains_key(f), "{e:?}");
    }
    let e = err(w.engine.create_invitation(
        &user(ANN),
        id(ANN),
        chat,
        NewInvitation {
            invited_user_id: Some(id(BOB)),
            invited_team_id: Some(id(TEAM_TIER1)),
            invited_organization_id: None,
        },
    ));
    assert_eq!(e.code, EC::ValidationError);
    assert_eq!(
        e.errors.keys().cloned().collect::<Vec<_>>(),
        vec!["invited_team_id".to_string(), "invited_user_id".to_string()]
    );
    assert!(outgoing(&w, ANN, chat, all()).is_empty());
}

#[test]
fn wrong_payload_types_are_field_errors() {
    let e = crate::input::from_json::<NewInvitation>(r#"{"invited_user_id": "nope"}"#).unwrap_err();
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("invited_user_id"));
    let e = crate::input::from_json::<NewInvitation>("{oops").unwrap_err();
    assert_eq!(e.code, EC::ParseError);
}

#[test]
fn parties_that_cannot_be_invited_are_not_found() {
    let w = world();
    let chat = w.ann_chat();
    let nf = |input: NewInvitation| {
        let e = err(w.engine.create_invitation(&user(ANN), id(ANN), chat, input));
        assert_eq!(e.code, EC::NotFound, "{e:?}");
        assert_eq!(e.status(), 404);
    };
    // A user of another organization (even a partner's), an unknown user.
    nf(invite_user(OLLI));
    nf(invite_user(PIA));
    nf(invite_user("00000000-0000-4000-8000-000000000000"));
    // A team of a non-partner, an unknown team.
    nf(invite_team(TEAM_OTHER));
    nf(invite_team("00000000-0000-4000-8000-000000000001"));
    // An organization that is not a partner, and the own organization.
    nf(invite_org(OTHER));
    nf(invite_org(ACME));
    let e = err(w
        .engine
        .create_invitation(&user(ANN), id(ANN), chat, invite_user(ANN)));
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("invited_user_id"));
    // Own team, a team shared by a partner and a partner organization are fine.
    let (t, _) = send(&w, ANN, chat, invite_team(TEAM_TIER1));
    assert_eq!(t.invitee_name, "Tier 1");
    assert_eq!(t.invited_team_id.as_deref(), Some(TEAM_TIER1));
    let (pt, _) = send(&w, ANN, chat, invite_team(TEAM_PARTNER));
    assert_eq!(pt.invitee_name, "Partner Experts");
    let (po, _) = send(&w, ANN, chat, invite_org(PARTNER));
    assert_eq!(po.invitee_name, "Partner Ltd");
    assert_eq!(po.invited_organization_id.as_deref(), Some(PARTNER));
    assert_eq!(po.invited_user_id, None);
}

#[test]
fn the_inviter_must_reach_the_chat_as_a_member() {
    let w = world();
    let chat = w.ann_chat();
    // Bob is not a member: 404 for sending and listing.
    assert_eq!(
        code(
            w.engine
                .create_invitation(&user(BOB), id(BOB), chat, invite_user(DAN))
        ),
        EC::NotFound
    );
    assert_eq!(
        code(w.engine.list_invitations_outgoing(
            &user(BOB),
            id(BOB),
            chat,
            &all(),
            &PageRequest::default()
        )),
        EC::NotFound
    );
    // Acting on another user needs the settings permission.
    assert_eq!(
        code(
            w.engine
                .create_invitation(&user(BOB), id(ANN), chat, invite_user(DAN))
        ),
        EC::PermissionDenied
    );
    let (inv, _) = w
        .engine
        .create_invitation(&user(CAT), id(ANN), chat, invite_user(DAN))
        .unwrap();
    assert_eq!(inv.invited_by_user_id, ANN);
    assert_eq!(
        code(
            w.engine
                .create_invitation(&Actor::Admin, id(ANN), chat, invite_user(DAN))
        ),
        EC::PermissionDenied
    );
}

#[test]
fn incoming_lists_invitations_to_the_user_their_teams_and_their_organization() {
    let w = world();
    let chat = w.ann_chat();
    let (to_bob, _) = send(&w, ANN, chat, invite_user(BOB));
    w.clock.advance_ms(1);
    let (to_tier1, _) = send(&w, ANN, chat, invite_team(TEAM_TIER1));
    w.clock.advance_ms(1);
    let (to_partner_team, _) = send(&w, ANN, chat, invite_team(TEAM_PARTNER));
    w.clock.advance_ms(1);
    let (to_partner, _) = send(&w, ANN, chat, invite_org(PARTNER));
    let ids = |v: Vec<Invitation>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(incoming(&w, BOB, all())),
        vec![to_bob.id.clone(), to_tier1.id.clone()]
    );
    assert_eq!(ids(incoming(&w, DAN, all())), vec![to_tier1.id.clone()]);
    assert_eq!(
        ids(incoming(&w, PIA, all())),
        vec![to_partner_team.id.clone(), to_partner.id.clone()]
    );
    // The inviter does not receive their own invitations; strangers see nothing.
    assert!(incoming(&w, ANN, all()).is_empty());
    assert!(incoming(&w, OLLI, all()).is_empty());
    assert!(incoming(&w, CAT, all()).is_empty());
    // Access to another user's incoming invitations: settings permission only.
    assert_eq!(
        code(w.engine.list_invitations_incoming(
            &user(ANN),
            id(BOB),
            &all(),
            &PageRequest::default()
        )),
        EC::PermissionDenied
    );
    let via_cat = w
        .engine
        .list_invitations_incoming(&user(CAT), id(BOB), &all(), &PageRequest::default())
        .unwrap();
    assert_eq!(via_cat.results.len(), 2);
}

#[test]
fn listings_are_ascending_by_creation_and_paginate() {
    let w = world();
    let chat = w.ann_chat();
    let mut sent = vec![];
    for who in [BOB, DAN, ROBO, CAT] {
        sent.push(send(&w, ANN, chat, invite_user(who)).0.id);
    }
    // Same millisecond for all: the id breaks ties, still ascending and without repeats.
    let mut seen = vec![];
    let mut req = PageRequest::first(3);
    loop {
        let p = w
            .engine
            .list_invitations_outgoing(&user(ANN), id(ANN), chat, &all(), &req)
            .unwrap();
        seen.extend(p.results.into_iter().map(|i| i.id));
        match p.next {
            Some(n) => req = PageRequest::at(n, Some(3)),
            None => break,
        }
    }
    let mut expected = sent.clone();
    expected.sort_by_key(|s| s.parse::<Uuid>().unwrap());
    assert_eq!(seen, expected);
    // With distinct times the order is creation order.
    let chat2 = w.ann_chat();
    assert_eq!(chat2, chat, "the visitor's open chat is reused");
    let w2 = world();
    let c = w2.ann_chat();
    let mut order = vec![];
    for who in [ROBO, DAN, BOB] {
        w2.clock.advance_ms(10);
        order.push(send(&w2, ANN, c, invite_user(who)).0.id);
    }
    let listed: Vec<String> = outgoing(&w2, ANN, c, all())
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, order);
}

#[test]
fn is_accepted_and_is_expired_filter_both_listings() {
    let w = world();
    let chat = w.ann_chat();
    let (a, _) = send(&w, ANN, chat, invite_user(BOB));
    let (b, _) = send(&w, ANN, chat, invite_team(TEAM_TIER1));
    let (c, _) = send(&w, ANN, chat, invite_user(DAN));
    w.clock.advance_secs(1);
    w.engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&a), accept_body())
        .unwrap();
    w.engine
        .expire_invitation(&user(ANN), id(ANN), chat, inv_id(&c), expire_body())
        .unwrap();
    let f = |acc: Option<bool>, exp: Option<bool>| InvitationFilter {
        is_accepted: acc,
        is_expired: exp,
    };
    let ids = |v: Vec<Invitation>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(outgoing(&w, ANN, chat, f(Some(true), None))),
        vec![a.id.clone()]
    );
    // is_accepted=false: pending and not expired.
    assert_eq!(
        ids(outgoing(&w, ANN, chat, f(Some(false), None))),
        vec![b.id.clone()]
    );
    assert_eq!(
        ids(outgoing(&w, ANN, chat, f(None, Some(true)))),
        vec![c.id.clone()]
    );
    let mut not_expired = ids(outgoing(&w, ANN, chat, f(None, Some(false))));
    not_expired.sort();
    let mut expect = vec![a.id.clone(), b.id.clone()];
    expect.sort();
    assert_eq!(not_expired, expect);
    assert!(outgoing(&w, ANN, chat, f(Some(true), Some(true))).is_empty());
    // Incoming for Bob: his accepted one and the pending team one.
    assert_eq!(
        ids(incoming(&w, BOB, f(Some(true), None))),
        vec![a.id.clone()]
    );
    assert_eq!(
        ids(incoming(&w, BOB, f(Some(false), None))),
        vec![b.id.clone()]
    );
    assert_eq!(
        ids(incoming(&w, DAN, f(None, Some(true)))),
        vec![c.id.clone()]
    );
    // The query parameters parse from strings like the HTTP layer gives them.
    let p: InvitationListParams =
        crate::input::from_json(r#"{"is_accepted": true, "is_expired": false}"#).unwrap();
    assert_eq!(p, f(Some(true), Some(false)));
}

#[test]
fn accepting_joins_the_user_and_records_who_accepted() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    w.clock.advance_secs(30);
    let acc = w
        .engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body())
        .unwrap();
    assert!(acc.is_accepted && !acc.is_expired);
    assert_eq!(acc.accepted_by_user_id.as_deref(), Some(BOB));
    let by = serde_json::to_value(acc.accepted_by_user.as_ref().unwrap()).unwrap();
    assert_eq!(
        by,
        serde_json::json!({"id": BOB, "full_name": "Bob von Helper", "first_name": "Bob",
                           "last_name": "von Helper", "organization_id": ACME})
    );
    assert_eq!(acc.accepted_at.as_deref(), Some("2025-01-01T00:00:30.000Z"));
    assert_eq!(acc.updated_at, "2025-01-01T00:00:30.000Z");
    assert_eq!(acc.created_at, inv.created_at);
    assert_eq!(acc.expired_at, None);
    // Bob is now a participating member: two users and the visitor in the chat.
    assert_eq!((acc.user_member_count, acc.visitor_member_count), (2, 1));
    let m = w
        .engine
        .list_memberships(
            &user(BOB),
            ChatScope::UserChats { user_id: id(BOB) },
            chat,
            &PageRequest::default(),
        )
        .unwrap();
    assert!(
        m.results
            .iter()
            .any(|m| m.member_id == BOB && m.is_participating)
    );
    // A join event was written.
    let msgs = w
        .engine
        .list_messages(
            &user(BOB),
            ChatScope::UserChats { user_id: id(BOB) },
            chat,
            &Default::default(),
            &PageRequest::default(),
        )
        .unwrap();
    assert!(
        msgs.results
            .iter()
            .any(|m| m.kind == "join" && m.sender_id.as_deref() == Some(BOB))
    );
    // Accepting again: already accepted (400).
    let e = err(w
        .engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body()));
    assert_eq!(e.code, EC::InvitationAccepted);
    assert_eq!(e.status(), 400);
}

#[test]
fn a_team_or_organization_invitation_is_accepted_once_by_the_first_member() {
    let w = world();
    let chat = w.ann_chat();
    let (team, _) = send(&w, ANN, chat, invite_team(TEAM_TIER1));
    let acc = w
        .engine
        .accept_invitation(&user(DAN), id(DAN), None, inv_id(&team), accept_body())
        .unwrap();
    assert_eq!(acc.accepted_by_user_id.as_deref(), Some(DAN));
    assert_eq!(
        code(
            w.engine
                .accept_invitation(&user(BOB), id(BOB), None, inv_id(&team), accept_body())
        ),
        EC::InvitationAccepted
    );
    // A partner organization's user accepts the organization invitation and joins the chat.
    let (org, _) = send(&w, ANN, chat, invite_org(PARTNER));
    let acc = w
        .engine
        .accept_invitation(&user(PIA), id(PIA), None, inv_id(&org), accept_body())
        .unwrap();
    assert_eq!(acc.accepted_by_user_id.as_deref(), Some(PIA));
    assert!(
        w.engine
            .get_chat(&user(PIA), ChatScope::UserChats { user_id: id(PIA) }, chat)
            .is_ok()
    );
}

#[test]
fn only_an_invitee_may_accept_and_the_payload_is_checked() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    // Not addressed to Dan or Olli, and the inviter cannot accept: 404.
    for who in [DAN, OLLI, ANN] {
        assert_eq!(
            code(w.engine.accept_invitation(
                &user(who),
                id(who),
                None,
                inv_id(&inv),
                accept_body()
            )),
            EC::NotFound,
            "{who}"
        );
    }
    assert_eq!(
        code(
            w.engine
                .accept_invitation(&user(BOB), id(BOB), None, Uuid::nil(), accept_body())
        ),
        EC::NotFound
    );
    let bad = |body: InvitationAccept, field: &str| {
        let e = err(w
            .engine
            .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), body));
        assert_eq!(e.code, EC::ValidationError);
        assert!(e.errors.contains_key(field), "{e:?}");
    };
    bad(
        InvitationAccept {
            is_accepted: None,
            is_expired: None,
        },
        "is_accepted",
    );
    bad(
        InvitationAccept {
            is_accepted: Some(false),
            is_expired: None,
        },
        "is_accepted",
    );
    bad(
        InvitationAccept {
            is_accepted: Some(true),
            is_expired: Some(true),
        },
        "is_expired",
    );
    // Nothing of the failed attempts stuck.
    assert!(!incoming(&w, BOB, all())[0].is_accepted);
}

#[test]
fn accepting_through_the_chat_path_requires_the_matching_chat() {
    let w = world();
    let chat = w.ann_chat();
    let (other, _) = w.routed_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    assert_eq!(
        code(w.engine.accept_invitation(
            &user(BOB),
            id(BOB),
            Some(other),
            inv_id(&inv),
            accept_body()
        )),
        EC::NotFound
    );
    let acc = w
        .engine
        .accept_invitation(&user(BOB), id(BOB), Some(chat), inv_id(&inv), accept_body())
        .unwrap();
    assert!(acc.is_accepted);
}

#[test]
fn accepting_an_expired_invitation_is_a_400() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    w.engine
        .expire_invitation(&user(ANN), id(ANN), chat, inv_id(&inv), expire_body())
        .unwrap();
    let e = err(w
        .engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body()));
    assert_eq!(e.code, EC::InvitationExpired);
    assert_eq!(e.status(), 400);
    assert!(
        w.engine
            .get_chat(&user(BOB), ChatScope::UserChats { user_id: id(BOB) }, chat)
            .is_err(),
        "Bob did not join"
    );
}

#[test]
fn a_member_who_left_participates_again_on_accepting() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    w.engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body())
        .unwrap();
    w.engine
        .update_user_membership(
            &user(BOB),
            id(BOB),
            chat,
            MembershipInput {
                is_participating: Some(false),
                ..Default::default()
            },
            true,
        )
        .unwrap();
    let (again, created) = send(&w, ANN, chat, invite_user(BOB));
    assert!(created);
    assert_eq!(again.user_member_count, 1);
    let acc = w
        .engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&again), accept_body())
        .unwrap();
    assert_eq!(acc.user_member_count, 2);
}

#[test]
fn the_inviter_expires_a_pending_invitation() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    w.clock.advance_secs(2);
    // Payload checks: required, must be true.
    let e = err(w.engine.expire_invitation(
        &user(ANN),
        id(ANN),
        chat,
        inv_id(&inv),
        InvitationExpire { is_expired: None },
    ));
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("is_expired"));
    let e = err(w.engine.expire_invitation(
        &user(ANN),
        id(ANN),
        chat,
        inv_id(&inv),
        InvitationExpire {
            is_expired: Some(false),
        },
    ));
    assert!(e.errors.contains_key("is_expired"));
    // Other attributes of the payload are ignored.
    let body: InvitationExpire =
        crate::input::from_json(r#"{"is_expired": true, "invited_user_id": null, "x": 1}"#)
            .unwrap();
    let exp = w
        .engine
        .expire_invitation(&user(ANN), id(ANN), chat, inv_id(&inv), body)
        .unwrap();
    assert!(exp.is_expired && !exp.is_accepted);
    assert_eq!(exp.expired_at.as_deref(), Some("2025-01-01T00:00:02.000Z"));
    assert_eq!(exp.updated_at, "2025-01-01T00:00:02.000Z");
    let e = err(w
        .engine
        .expire_invitation(&user(ANN), id(ANN), chat, inv_id(&inv), expire_body()));
    assert_eq!(e.code, EC::InvitationExpired);
    assert_eq!(e.status(), 400);
}

#[test]
fn an_accepted_invitation_cannot_be_expired_and_only_the_inviter_expires() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    let (other, _) = send(&w, ANN, chat, invite_user(DAN));
    w.engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body())
        .unwrap();
    let e = err(w
        .engine
        .expire_invitation(&user(ANN), id(ANN), chat, inv_id(&inv), expire_body()));
    assert_eq!(e.code, EC::InvitationAccepted);
    // Bob is a member now but did not send Dan's invitation: 404.
    assert_eq!(
        code(
            w.engine
                .expire_invitation(&user(BOB), id(BOB), chat, inv_id(&other), expire_body())
        ),
        EC::NotFound
    );
    assert_eq!(
        code(
            w.engine
                .expire_invitation(&user(ANN), id(ANN), chat, Uuid::nil(), expire_body())
        ),
        EC::NotFound
    );
}

#[test]
fn ending_a_chat_expires_its_pending_invitations_and_refuses_new_ones() {
    let w = world();
    let chat = w.ann_chat();
    let (accepted, _) = send(&w, ANN, chat, invite_user(BOB));
    w.engine
        .accept_invitation(&user(BOB), id(BOB), None, inv_id(&accepted), accept_body())
        .unwrap();
    let (pending_team, _) = send(&w, ANN, chat, invite_team(TEAM_TIER1));
    let (pending_org, _) = send(&w, ANN, chat, invite_org(PARTNER));
    w.clock.advance_secs(60);
    w.end(ANN, chat);
    let all_out = outgoing(&w, ANN, chat, all());
    for i in &all_out {
        if i.id == accepted.id {
            assert!(i.is_accepted && !i.is_expired && i.expired_at.is_none());
        } else {
            assert!(i.is_expired && !i.is_accepted, "{i:?}");
            assert_eq!(i.expired_at.as_deref(), Some("2025-01-01T00:01:00.000Z"));
        }
    }
    assert_eq!(all_out.len(), 3);
    assert_eq!(
        code(w.engine.accept_invitation(
            &user(DAN),
            id(DAN),
            None,
            inv_id(&pending_team),
            accept_body()
        )),
        EC::InvitationExpired
    );
    assert_eq!(
        code(w.engine.accept_invitation(
            &user(PIA),
            id(PIA),
            None,
            inv_id(&pending_org),
            accept_body()
        )),
        EC::InvitationExpired
    );
    let e = err(w
        .engine
        .create_invitation(&user(ANN), id(ANN), chat, invite_user(DAN)));
    assert_eq!(e.code, ErrorCode::ChatAlreadyEnded);
    assert_eq!(e.status(), 400);
}

#[test]
fn the_idle_timeout_also_expires_pending_invitations() {
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    w.clock.advance_secs(1801);
    let report = w.engine.maintenance().unwrap();
    assert_eq!(report.chats_ended, 1);
    let listed = incoming(&w, BOB, all());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, inv.id);
    assert!(listed[0].is_expired);
    assert_eq!(
        count(
            &w.engine,
            "SELECT COUNT(*) FROM chat_invitations WHERE accepted_at IS NULL AND expired_at IS NULL"
        ),
        0
    );
}

#[test]
fn a_second_pending_invitation_of_a_party_is_refused_by_the_schema() {
    // The rule returns the pending one; the unique index backs it against any other path.
    let w = world();
    let chat = w.ann_chat();
    let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
    let r = w.engine.write_store(|s| {
        let mut second = s.invitation(inv_id(&inv))?.unwrap();
        second.id = Uuid::now_v7();
        s.insert_invitation(&second)
    });
    assert_eq!(r.unwrap_err().code, EC::Storage);
}

/// Tests that need the `fault-injection` feature. `scripts/test.sh` runs them with it
/// (`cargo test -p chat-core --features fault-injection --lib fault_injection`) and fails if
/// none ran, so that they cannot compile out unnoticed.
#[cfg(feature = "fault-injection")]
mod fault_injection {
    use super::*;

    #[test]
    fn a_failed_accept_leaves_nothing_half_written() {
        let w = world();
        let chat = w.ann_chat();
        let (inv, _) = send(&w, ANN, chat, invite_user(BOB));
        let snapshot = |w: &World| {
            (
                count(&w.engine, "SELECT COUNT(*) FROM memberships"),
                count(&w.engine, "SELECT COUNT(*) FROM messages"),
                count(
                    &w.engine,
                    "SELECT COUNT(*) FROM chat_invitations WHERE accepted_at IS NOT NULL",
                ),
            )
        };
        let before = snapshot(&w);
        // Accepting writes a membership, a join event, the chat and the invitation.
        for n in 1..=4 {
            w.engine.fault_plan().fail_write(n);
            let r =
                w.engine
                    .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body());
            assert_eq!(r.unwrap_err().code, EC::Storage, "write {n}");
            assert_eq!(snapshot(&w), before, "write {n}");
        }
        w.engine.fault_plan().fail_write(0);
        w.engine
            .accept_invitation(&user(BOB), id(BOB), None, inv_id(&inv), accept_body())
            .unwrap();
        assert_ne!(snapshot(&w), before);
    }
}
