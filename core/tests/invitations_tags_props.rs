//! Property test: random sequences of chat operations, invitations and tags keep the derived
//! state exact. After every step:
//! - each chat's `tag_count` equals a recount of its tags (and the tags equal a model);
//! - member counts of chats and invitations equal recounts of memberships;
//! - no ended chat has a pending invitation; every accepted invitation's acceptor is a member;
//! - no operation fails with a server-side (5xx) error.

mod common;

use chat_core::chats::{ChatScope, ChatUpdate, NewChat};
use chat_core::invitations::{InvitationAccept, InvitationExpire, InvitationFilter, NewInvitation};
use chat_core::memberships::MembershipInput;
use chat_core::messages::NewMessage;
use chat_core::tags::NewTag;
use chat_core::{Actor, Engine, PageRequest, Result, TestClock};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const ACME: &str = "7f9e9580-095b-42c7-838c-c04e667b26f7";
const PARTNER: &str = "1b0c4a4e-7d4f-4c56-9a43-3c7a8f3e2a10";
const ANN: &str = "bed3221e-879e-43df-8d0e-d63f8c1f012d";
const BOB: &str = "006ff599-9073-11e6-a887-f45c89c72de3";
const DAN: &str = "6c2f1b7e-8e0a-4a8b-9f5c-2d3e4f5a6b7c";
const CAT: &str = "3a3e1c52-5e0f-4b53-8d1b-1f0c7c0a9d11";
const PIA: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const TIER1: &str = "11111111-2222-4333-8444-555555555555";
const PARTNER_TEAM: &str = "22222222-3333-4444-8555-666666666666";
const ROOM: &str = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe";
const VISITORS: [&str; 3] = [
    "3b90ef7c93484af4965a79ace7bc9a62",
    "4c01f08d04595b05076b8bdf08cd0b73",
    "5d12a19e15606c16187c9ce019de1c84",
];
const TAGS: [&str; 5] = ["Lead", "Premium customer", "Support", "VIP", "Other"];
/// Users who may receive invitations (directly, by team or by organization).
const INVITEES: [&str; 3] = [BOB, DAN, PIA];

fn id(s: &str) -> Uuid {
    s.parse().unwrap()
}

fn visitor_id(s: &str) -> Uuid {
    Uuid::try_parse(s).unwrap()
}

fn seed() -> String {
    let visitors: Vec<String> = VISITORS
        .iter()
        .map(|v| {
            format!(r#"{{"id": "{v}", "room_id": "{ROOM}", "name": null, "is_present": true}}"#)
        })
        .collect();
    format!(
        r#"{{
      "organizations": [
        {{"id": "{ACME}", "name": "Acme", "partner_ids": ["{PARTNER}"]}},
        {{"id": "{PARTNER}", "name": "Partner Ltd"}}
      ],
      "users": [
        {{"id": "{ANN}", "organization_id": "{ACME}", "first_name": "Ann", "is_present": true}},
        {{"id": "{BOB}", "organization_id": "{ACME}", "first_name": "Bob", "is_present": true}},
        {{"id": "{DAN}", "organization_id": "{ACME}", "first_name": "Dan", "is_present": true}},
        {{"id": "{CAT}", "organization_id": "{ACME}", "first_name": "Cat", "permissions": ["reports", "settings"]}},
        {{"id": "{PIA}", "organization_id": "{PARTNER}", "first_name": "Pia", "is_present": true}}
      ],
      "teams": [
        {{"id": "{TIER1}", "organization_id": "{ACME}", "name": "Tier 1", "member_ids": ["{BOB}", "{DAN}"]}},
        {{"id": "{PARTNER_TEAM}", "organization_id": "{PARTNER}", "name": "Experts", "member_ids": ["{PIA}"]}}
      ],
      "rooms": [
        {{"id": "{ROOM}", "organization_id": "{ACME}", "name": "Support", "allowed_tags": ["Lead", "Premium customer", "Support"]}}
      ],
      "visitors": [{}]
    }}"#,
        visitors.join(",")
    )
}

#[derive(Debug, Clone)]
enum Op {
    VisitorChat(usize),
    OperatorChat,
    AddTag {
        chat: usize,
        tag: usize,
        via_org: bool,
    },
    RemoveTag {
        chat: usize,
        tag: usize,
    },
    Invite {
        chat: usize,
        target: usize,
    },
    Accept {
        who: usize,
        pick: usize,
    },
    Expire {
        chat: usize,
        pick: usize,
    },
    End {
        chat: usize,
    },
    Leave {
        who: usize,
        chat: usize,
    },
    Say {
        who: usize,
        chat: usize,
    },
    VisitorSays {
        chat: usize,
    },
    Idle {
        secs: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..VISITORS.len()).prop_map(Op::VisitorChat),
        1 => Just(Op::OperatorChat),
        4 => (0..8usize, 0..TAGS.len(), any::<bool>())
            .prop_map(|(chat, tag, via_org)| Op::AddTag { chat, tag, via_org }),
        2 => (0..8usize, 0..TAGS.len()).prop_map(|(chat, tag)| Op::RemoveTag { chat, tag }),
        4 => (0..8usize, 0..5usize).prop_map(|(chat, target)| Op::Invite { chat, target }),
        3 => (0..INVITEES.len(), 0..4usize).prop_map(|(who, pick)| Op::Accept { who, pick }),
        1 => (0..8usize, 0..4usize).prop_map(|(chat, pick)| Op::Expire { chat, pick }),
        1 => (0..8usize).prop_map(|chat| Op::End { chat }),
        1 => (0..INVITEES.len(), 0..8usize).prop_map(|(who, chat)| Op::Leave { who, chat }),
        2 => (0..INVITEES.len() + 1, 0..8usize).prop_map(|(who, chat)| Op::Say { who, chat }),
        1 => (0..8usize).prop_map(|chat| Op::VisitorSays { chat }),
        1 => prop_oneof![Just(30i64), Just(1801i64)].prop_map(|secs| Op::Idle { secs }),
    ]
}

struct Sim {
    engine: Engine,
    _place: common::TestPlace,
    clock: TestClock,
    /// Chats in creation order, with whether the chat has a room (allowed tags apply).
    chats: Vec<(Uuid, bool)>,
    /// The tags each chat should have.
    tags: BTreeMap<Uuid, BTreeSet<&'static str>>,
}

/// Errors the rules may give for random input are 4xx; anything else fails the property.
fn tolerate<T>(r: Result<T>) -> std::result::Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() < 500 => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!("server-side error: {e:?}"))),
    }
}

fn who_says(who: usize) -> &'static str {
    if who < INVITEES.len() {
        INVITEES[who]
    } else {
        ANN
    }
}

impl Sim {
    fn new() -> Self {
        let clock = TestClock::at_default_start();
        let (engine, place) = common::open_test_engine(Engine::builder().clock(clock.clone()));
        engine.load_seed_json(&seed()).unwrap();
        engine
            .share_team(&Actor::Admin, id(PARTNER), id(PARTNER_TEAM), id(ACME))
            .unwrap();
        Self {
            engine,
            _place: place,
            clock,
            chats: vec![],
            tags: BTreeMap::new(),
        }
    }

    fn chat(&self, i: usize) -> Option<(Uuid, bool)> {
        if self.chats.is_empty() {
            None
        } else {
            Some(self.chats[i % self.chats.len()])
        }
    }

    fn apply(&mut self, op: &Op) -> std::result::Result<(), TestCaseError> {
        let ann = Actor::User(id(ANN));
        let mine = ChatScope::UserChats { user_id: id(ANN) };
        match op {
            Op::VisitorChat(v) => {
                let r = self.engine.create_visitor_chat(
                    &ann,
                    id(ANN),
                    id(ROOM),
                    visitor_id(VISITORS[*v]),
                    NewChat::default(),
                );
                if let Some((chat, created)) = tolerate(r)? {
                    let cid: Uuid = chat.id.parse().unwrap();
                    prop_assert_eq!(created, !self.chats.iter().any(|(c, _)| *c == cid));
                    if created {
                        self.chats.push((cid, true));
                        self.tags.insert(cid, BTreeSet::new());
                    }
                }
            }
            Op::OperatorChat => {
                let chat = self
                    .engine
                    .create_user_chat(&ann, id(ANN), NewChat::default())
                    .unwrap();
                let cid: Uuid = chat.id.parse().unwrap();
                self.chats.push((cid, false));
                self.tags.insert(cid, BTreeSet::new());
            }
            Op::AddTag { chat, tag, via_org } => {
                let Some((cid, in_room)) = self.chat(*chat) else {
                    return Ok(());
                };
                let (actor, scope) = if *via_org {
                    (
                        Actor::User(id(DAN)),
                        ChatScope::Owned {
                            organization_id: id(ACME),
                        },
                    )
                } else {
                    (ann, mine)
                };
                let name = TAGS[*tag];
                let r = self.engine.add_tag(
                    &actor,
                    scope,
                    cid,
                    NewTag {
                        name: Some(name.into()),
                    },
                );
                let ended = self.is_ended(cid);
                match tolerate(r)? {
                    Some((t, created)) => {
                        prop_assert!(!ended, "a tag was added to an ended chat");
                        prop_assert!(!in_room || *tag < 3, "a tag outside the allowed ones");
                        let set = self.tags.entry(cid).or_default();
                        prop_assert_eq!(created, !set.contains(name));
                        prop_assert_eq!(t.name.as_str(), name);
                        set.insert(name);
                    }
                    None => prop_assert!(ended || (in_room && *tag >= 3)),
                }
            }
            Op::RemoveTag { chat, tag } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                let name = TAGS[*tag];
                let ended = self.is_ended(cid);
                let r = self.engine.remove_tag(&ann, mine, cid, name);
                let had = self.tags.get(&cid).is_some_and(|s| s.contains(name));
                match tolerate(r)? {
                    Some(()) => {
                        prop_assert!(had && !ended);
                        self.tags.entry(cid).or_default().remove(name);
                    }
                    None => prop_assert!(!had || ended),
                }
            }
            Op::Invite { chat, target } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                let mut input = NewInvitation::default();
                match target {
                    0 => input.invited_user_id = Some(id(BOB)),
                    1 => input.invited_user_id = Some(id(DAN)),
                    2 => input.invited_team_id = Some(id(TIER1)),
                    3 => input.invited_team_id = Some(id(PARTNER_TEAM)),
                    _ => input.invited_organization_id = Some(id(PARTNER)),
                }
                let ended = self.is_ended(cid);
                let r = tolerate(self.engine.create_invitation(&ann, id(ANN), cid, input))?;
                prop_assert_eq!(r.is_some(), !ended);
            }
            Op::Accept { who, pick } => {
                let user = id(INVITEES[*who]);
                let pending = self
                    .engine
                    .list_invitations_incoming(
                        &Actor::User(user),
                        user,
                        &InvitationFilter {
                            is_accepted: Some(false),
                            is_expired: None,
                        },
                        &PageRequest::first(100),
                    )
                    .unwrap()
                    .results;
                if pending.is_empty() {
                    return Ok(());
                }
                let inv = &pending[pick % pending.len()];
                let accepted = self
                    .engine
                    .accept_invitation(
                        &Actor::User(user),
                        user,
                        None,
                        inv.id.parse().unwrap(),
                        InvitationAccept {
                            is_accepted: Some(true),
                            is_expired: None,
                        },
                    )
                    .map_err(|e| {
                        TestCaseError::fail(format!("accepting a pending invitation: {e:?}"))
                    })?;
                prop_assert!(accepted.is_accepted);
                prop_assert_eq!(accepted.accepted_by_user_id, Some(user.to_string()));
            }
            Op::Expire { chat, pick } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                let out = self
                    .engine
                    .list_invitations_outgoing(
                        &ann,
                        id(ANN),
                        cid,
                        &InvitationFilter::default(),
                        &PageRequest::first(100),
                    )
                    .unwrap()
                    .results;
                if out.is_empty() {
                    return Ok(());
                }
                let inv = &out[pick % out.len()];
                let r = self.engine.expire_invitation(
                    &ann,
                    id(ANN),
                    cid,
                    inv.id.parse().unwrap(),
                    InvitationExpire {
                        is_expired: Some(true),
                    },
                );
                let pending = !inv.is_accepted && !inv.is_expired;
                prop_assert_eq!(tolerate(r)?.is_some(), pending);
            }
            Op::End { chat } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                tolerate(self.engine.update_chat(
                    &ann,
                    mine,
                    cid,
                    ChatUpdate {
                        is_ended: Some(true),
                        is_waiting: None,
                    },
                ))?;
            }
            Op::Leave { who, chat } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                let user = id(INVITEES[*who]);
                tolerate(self.engine.update_user_membership(
                    &Actor::User(user),
                    user,
                    cid,
                    MembershipInput {
                        is_participating: Some(false),
                        ..Default::default()
                    },
                    true,
                ))?;
            }
            Op::Say { who, chat } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                let user = id(who_says(*who));
                tolerate(self.engine.send_user_message(
                    &Actor::User(user),
                    user,
                    cid,
                    NewMessage {
                        message: Some("hello".into()),
                        ..Default::default()
                    },
                ))?;
            }
            Op::VisitorSays { chat } => {
                let Some((cid, _)) = self.chat(*chat) else {
                    return Ok(());
                };
                let c = self
                    .engine
                    .get_chat(
                        &Actor::User(id(CAT)),
                        ChatScope::Owned {
                            organization_id: id(ACME),
                        },
                        cid,
                    )
                    .unwrap();
                if c.chat_type != "visitor" {
                    return Ok(());
                }
                let v = self.visitor_of(cid);
                tolerate(self.engine.visitor_send_message(
                    &Actor::Visitor(v),
                    v,
                    cid,
                    NewMessage {
                        message: Some("hi".into()),
                        ..Default::default()
                    },
                ))?;
            }
            Op::Idle { secs } => {
                self.clock.advance_secs(*secs);
                self.engine.maintenance().unwrap();
            }
        }
        Ok(())
    }

    /// A raw count; `?1` stands for the chat's pk when `chat` is given.
    fn sql(&self, sql: &str, chat: Option<Uuid>) -> i64 {
        let sql = match chat {
            Some(cid) => sql.replace("?1", &self.pk_of(cid).to_string()),
            None => sql.to_string(),
        };
        common::raw_count(&self.engine, &sql)
    }

    fn pk_of(&self, chat: Uuid) -> i64 {
        self.engine
            .read_store(|s| s.chat_by_id(chat, 0))
            .unwrap()
            .unwrap()
            .pk
    }

    fn visitor_of(&self, chat: Uuid) -> Uuid {
        self.engine
            .read_store(|s| s.chat_by_id(chat, 0))
            .unwrap()
            .unwrap()
            .visitor_id
            .unwrap()
    }

    fn is_ended(&self, chat: Uuid) -> bool {
        self.sql("SELECT is_ended FROM chats WHERE pk = ?1", Some(chat)) == 1
    }

    fn check(&self) -> std::result::Result<(), TestCaseError> {
        let cat = Actor::User(id(CAT));
        let owned = ChatScope::Owned {
            organization_id: id(ACME),
        };
        // tag_count against a recount, for every chat at once.
        prop_assert_eq!(
            self.sql(
                "SELECT COUNT(*) FROM chats c WHERE c.tag_count <> (SELECT COUNT(*) FROM chat_tags t WHERE t.chat_pk = c.pk)",
                None
            ),
            0
        );
        // No pending invitation on an ended chat.
        prop_assert_eq!(
            self.sql(
                "SELECT COUNT(*) FROM chat_invitations i JOIN chats c ON c.pk = i.chat_pk \
                 WHERE c.is_ended = 1 AND i.accepted_at IS NULL AND i.expired_at IS NULL",
                None
            ),
            0
        );
        // Every acceptor is a member of the chat.
        prop_assert_eq!(
            self.sql(
                "SELECT COUNT(*) FROM chat_invitations i WHERE i.accepted_at IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM memberships m WHERE m.chat_pk = i.chat_pk AND m.member_id = i.accepted_by_user_id)",
                None
            ),
            0
        );
        for (cid, _) in &self.chats {
            let cid = *cid;
            let chat = self.engine.get_chat(&cat, owned, cid).unwrap();
            let tags = self
                .engine
                .list_tags(&cat, owned, cid, &PageRequest::first(100))
                .unwrap()
                .results;
            prop_assert_eq!(chat.tag_count as usize, tags.len());
            let listed: BTreeSet<&str> = tags.iter().map(|t| t.name.as_str()).collect();
            let model: BTreeSet<&str> = self.tags.get(&cid).cloned().unwrap_or_default();
            prop_assert_eq!(listed, model);
            // Member counts against recounts (the chat resource's definitions).
            let users_with_messages = self.sql(
                "SELECT COUNT(*) FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
                 WHERE c.pk = ?1 AND m.member_type = 'user' AND m.message_count > 0",
                Some(cid),
            );
            let visitors = self.sql(
                "SELECT COUNT(*) FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
                 WHERE c.pk = ?1 AND m.member_type = 'visitor'",
                Some(cid),
            );
            prop_assert_eq!(chat.user_member_count, users_with_messages);
            prop_assert_eq!(chat.visitor_member_count, visitors);
            prop_assert_eq!(chat.member_count, users_with_messages + visitors);
            // Invitations show the chat's participating members.
            let participating_users = self.sql(
                "SELECT COUNT(*) FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
                 WHERE c.pk = ?1 AND m.member_type = 'user' AND m.is_participating = 1",
                Some(cid),
            );
            let participating_visitors = self.sql(
                "SELECT COUNT(*) FROM memberships m JOIN chats c ON c.pk = m.chat_pk \
                 WHERE c.pk = ?1 AND m.member_type = 'visitor' AND m.is_participating = 1",
                Some(cid),
            );
            let out = self
                .engine
                .list_invitations_outgoing(
                    &Actor::User(id(ANN)),
                    id(ANN),
                    cid,
                    &InvitationFilter::default(),
                    &PageRequest::first(100),
                )
                .unwrap()
                .results;
            for inv in &out {
                prop_assert_eq!(inv.user_member_count, participating_users);
                prop_assert_eq!(inv.visitor_member_count, participating_visitors);
                prop_assert!(!(inv.is_accepted && inv.is_expired));
                if chat.is_ended {
                    prop_assert!(inv.is_accepted || inv.is_expired);
                }
            }
            // At most one pending invitation per party.
            let mut parties = BTreeSet::new();
            for inv in out.iter().filter(|i| !i.is_accepted && !i.is_expired) {
                let party = (
                    inv.invited_user_id.clone(),
                    inv.invited_team_id.clone(),
                    inv.invited_organization_id.clone(),
                );
                prop_assert!(
                    parties.insert(party),
                    "two pending invitations of one party"
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invitations_and_tags_keep_derived_state_exact(ops in proptest::collection::vec(op(), 1..40)) {
        let mut sim = Sim::new();
        for op in &ops {
            sim.apply(op)?;
            sim.check()?;
        }
    }
}
