//! Property tests: the rules a store must evaluate in SQL select exactly the rows their Rust
//! definitions accept. Over random states (organizations with idle timeouts, users with presence
//! and teams, routers, rooms with ttl, routers and shares, visitors, chats waiting or ended with
//! memberships, and the clock):
//! - the derived counts of a chat read by key (one pass), listed (per row) and read alone in a
//!   selection equal [`DerivedCounts::of`] over its memberships;
//! - the pending lists (a room's, a user's) hold the chats [`ChatRecord::is_pending`] and
//!   [`RoomReach::is_accessible_to`] accept, and a user's routed chats those
//!   [`RoomReach::routes_to`] accepts, listed or read alone;
//! - the room access and routing checks follow [`RoomReach`], and a room's pending audience is
//!   its users (not deleted) [`RoomReach::is_accessible_to`] accepts;
//! - `chats_due_to_end` returns the chats [`ChatRecord::is_due_to_end`] accepts.

mod common;

use chat_core::chats::{ChatFilter, ChatRecord, ChatSelection, DerivedCounts};
use chat_core::directory::{
    OrgRecord, RoomReach, RoomRecord, RouterRecord, RouterStep, TeamRecord, UserRecord,
    VisitorRecord,
};
use chat_core::events::RoomChannel;
use chat_core::memberships::{Composing, MemberInfo, MemberRef, MembershipRecord};
use chat_core::pagination::Keyset;
use chat_core::store::Store;
use chat_core::{Engine, Millis};
use proptest::prelude::*;
use std::collections::BTreeSet;
use uuid::Uuid;

/// Around the engine's default test start; every time in a state is near `now`.
const BASE: Millis = 1_700_000_000_000;
const CHAT_TYPES: [&str; 5] = ["operator", "visitor", "group", "task", "external"];

#[derive(Debug, Clone)]
struct UserSpec {
    org: usize,
    deleted: bool,
    /// `present_until - now` (ms), `None`: never present.
    presence: Option<i64>,
}

#[derive(Debug, Clone)]
struct TeamSpec {
    org: usize,
    members: Vec<usize>,
}

#[derive(Debug, Clone)]
struct RouterSpec {
    org: usize,
    /// Each step: users and teams (indices).
    steps: Vec<(Vec<usize>, Vec<usize>)>,
}

#[derive(Debug, Clone)]
struct RoomSpec {
    org: usize,
    router: Option<usize>,
    ttl_s: Option<i64>,
    shared_with: Vec<usize>,
}

#[derive(Debug, Clone)]
struct MemberSpec {
    user: bool,
    who: usize,
    participating: bool,
    messages: i64,
}

#[derive(Debug, Clone)]
struct ChatSpec {
    room: Option<usize>,
    /// The organization of a chat without a room.
    org: usize,
    chat_type: usize,
    waiting: bool,
    ended: bool,
    /// `now - created_at` (ms).
    age: i64,
    /// `now - last_activity_at` (ms).
    idle: i64,
    members: Vec<MemberSpec>,
}

#[derive(Debug, Clone)]
struct Spec {
    now: Millis,
    /// Each organization's idle timeout (s).
    orgs: Vec<i64>,
    users: Vec<UserSpec>,
    teams: Vec<TeamSpec>,
    routers: Vec<RouterSpec>,
    rooms: Vec<RoomSpec>,
    /// Each visitor's `present_until - now` (ms), `None`: never present.
    visitors: Vec<Option<i64>>,
    chats: Vec<ChatSpec>,
}

/// Durations (ms) at and around the boundaries the rules compare with: presence expiring now,
/// idle timeouts and ttls of 1 s, 1 min, 30 min and a day passing now.
fn span() -> impl Strategy<Value = i64> {
    let whole = prop::sample::select(vec![0i64, 1_000, 60_000, 1_800_000, 86_400_000]);
    (whole, -1i64..=1).prop_map(|(w, jitter)| w + jitter)
}

fn presence() -> impl Strategy<Value = Option<i64>> {
    prop::option::weighted(0.8, prop_oneof![span(), span().prop_map(|s| -s)])
}

fn spec() -> impl Strategy<Value = Spec> {
    let idx = || 0usize..8;
    let orgs = prop::collection::vec(
        prop::sample::select(vec![1i64, 60, 1800, 86_400, i64::MAX / 1000 + 1]),
        1..=3,
    );
    let users = prop::collection::vec(
        (idx(), prop::bool::weighted(0.2), presence()).prop_map(|(org, deleted, presence)| {
            UserSpec {
                org,
                deleted,
                presence,
            }
        }),
        0..=6,
    );
    let teams = prop::collection::vec(
        (idx(), prop::collection::vec(idx(), 0..=3))
            .prop_map(|(org, members)| TeamSpec { org, members }),
        0..=3,
    );
    let routers = prop::collection::vec(
        (
            idx(),
            prop::collection::vec(
                (
                    prop::collection::vec(idx(), 0..=2),
                    prop::collection::vec(idx(), 0..=2),
                ),
                0..=3,
            ),
        )
            .prop_map(|(org, steps)| RouterSpec { org, steps }),
        0..=3,
    );
    let rooms = prop::collection::vec(
        (
            idx(),
            prop::option::of(idx()),
            prop::option::of(prop::sample::select(vec![1i64, 60, 3600])),
            prop::collection::vec(idx(), 0..=2),
        )
            .prop_map(|(org, router, ttl_s, shared_with)| RoomSpec {
                org,
                router,
                ttl_s,
                shared_with,
            }),
        0..=5,
    );
    let visitors = prop::collection::vec(presence(), 0..=3);
    let member = (any::<bool>(), idx(), any::<bool>(), 0i64..3).prop_map(
        |(user, who, participating, messages)| MemberSpec {
            user,
            who,
            participating,
            messages,
        },
    );
    let chats = prop::collection::vec(
        (
            prop::option::weighted(0.8, idx()),
            idx(),
            0..CHAT_TYPES.len(),
            any::<bool>(),
            prop::bool::weighted(0.2),
            span(),
            span(),
            prop::collection::vec(member, 0..=4),
        )
            .prop_map(
                |(room, org, chat_type, waiting, ended, age, idle, members)| ChatSpec {
                    room,
                    org,
                    chat_type,
                    waiting,
                    ended,
                    age,
                    idle,
                    members,
                },
            ),
        0..=10,
    );
    (
        0i64..10_000_000,
        orgs,
        users,
        teams,
        routers,
        (rooms, visitors, chats),
    )
        .prop_map(
            |(offset, orgs, users, teams, routers, (rooms, visitors, chats))| Spec {
                now: BASE + offset,
                orgs,
                users,
                teams,
                routers,
                rooms,
                visitors,
                chats,
            },
        )
}

/// A chat as stored, with its memberships as the rules see them.
struct Chat {
    record: ChatRecord,
    members: Vec<MembershipRecord>,
}

/// The records a spec stands for (what the Rust rules read) and an engine holding them.
struct World {
    now: Millis,
    orgs: Vec<OrgRecord>,
    users: Vec<UserRecord>,
    /// The teams each user is a member of.
    teams_of: Vec<Vec<Uuid>>,
    routers: Vec<RouterRecord>,
    rooms: Vec<RoomRecord>,
    shares: Vec<Vec<Uuid>>,
    chats: Vec<Chat>,
    engine: Engine,
    _place: common::TestPlace,
}

fn id(kind: u128, i: usize) -> Uuid {
    Uuid::from_u128((kind << 64) | i as u128)
}

/// The `i`-th of `n` things, or None when there are none.
fn pick(i: usize, n: usize) -> Option<usize> {
    (n > 0).then(|| i % n)
}

fn until(now: Millis, presence: Option<i64>) -> Millis {
    presence.map_or(0, |d| now + d)
}

fn build(spec: &Spec) -> World {
    let now = spec.now;
    let orgs: Vec<OrgRecord> = spec
        .orgs
        .iter()
        .enumerate()
        .map(|(i, &timeout)| OrgRecord {
            id: id(1, i),
            name: format!("org {i}"),
            has_active_subscription: true,
            private_chat_history: false,
            private_chats: false,
            encrypt_chats: false,
            chat_idle_timeout_s: timeout,
            created_at: BASE,
            updated_at: BASE,
        })
        .collect();
    let org_of = |i: usize| orgs[i % orgs.len()].id;
    let users: Vec<UserRecord> = spec
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| UserRecord {
            id: id(2, i),
            organization_id: org_of(u.org),
            first_name: format!("user {i}"),
            last_name: String::new(),
            alias: None,
            avatar_id: None,
            avatar_url: None,
            is_bot: false,
            is_deleted: u.deleted,
            perm_reports: false,
            perm_settings: false,
            present_until: until(now, u.presence),
            created_at: BASE,
            updated_at: BASE,
        })
        .collect();
    let teams: Vec<TeamRecord> = spec
        .teams
        .iter()
        .enumerate()
        .map(|(i, t)| TeamRecord {
            id: id(3, i),
            organization_id: org_of(t.org),
            name: format!("team {i}"),
            created_at: BASE,
            updated_at: BASE,
        })
        .collect();
    let team_members: Vec<BTreeSet<usize>> = spec
        .teams
        .iter()
        .map(|t| {
            t.members
                .iter()
                .filter_map(|&m| pick(m, users.len()))
                .collect()
        })
        .collect();
    let teams_of = (0..users.len())
        .map(|u| {
            team_members
                .iter()
                .enumerate()
                .filter(|(_, members)| members.contains(&u))
                .map(|(t, _)| teams[t].id)
                .collect()
        })
        .collect();
    let routers: Vec<RouterRecord> = spec
        .routers
        .iter()
        .enumerate()
        .map(|(i, r)| RouterRecord {
            id: id(4, i),
            organization_id: org_of(r.org),
            name: format!("router {i}"),
            steps: r
                .steps
                .iter()
                .map(|(us, ts)| RouterStep {
                    user_ids: us
                        .iter()
                        .filter_map(|&u| pick(u, users.len()).map(|u| users[u].id))
                        .collect(),
                    team_ids: ts
                        .iter()
                        .filter_map(|&t| pick(t, teams.len()).map(|t| teams[t].id))
                        .collect(),
                })
                .collect(),
            created_at: BASE,
        })
        .collect();
    let rooms: Vec<RoomRecord> = spec
        .rooms
        .iter()
        .enumerate()
        .map(|(i, r)| RoomRecord {
            id: id(5, i),
            organization_id: org_of(r.org),
            name: format!("room {i}"),
            language_code: None,
            ttl_s: r.ttl_s,
            router_id: r
                .router
                .and_then(|x| pick(x, routers.len()))
                .map(|x| routers[x].id),
            created_at: BASE,
            updated_at: BASE,
        })
        .collect();
    let shares: Vec<Vec<Uuid>> = spec
        .rooms
        .iter()
        .map(|r| {
            let set: BTreeSet<Uuid> = r.shared_with.iter().map(|&o| org_of(o)).collect();
            set.into_iter().collect()
        })
        .collect();
    let visitors: Vec<VisitorRecord> = spec
        .visitors
        .iter()
        .enumerate()
        .map(|(i, &p)| VisitorRecord {
            id: id(6, i),
            organization_id: org_of(i),
            name: None,
            present_until: until(now, p),
            sensitive_data_purged_at: None,
            created_at: BASE,
            updated_at: BASE,
        })
        .collect();
    let chats: Vec<Chat> = spec
        .chats
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let room = c.room.and_then(|r| pick(r, rooms.len())).map(|r| &rooms[r]);
            let created_at = now - c.age;
            let record = ChatRecord {
                pk: i as i64 + 1,
                id: id(7, i),
                room_id: room.map(|r| r.id),
                room_organization_id: room.map_or(org_of(c.org), |r| r.organization_id),
                chat_type: CHAT_TYPES[c.chat_type].to_string(),
                created_at,
                updated_at: created_at,
                is_ended: c.ended,
                ended_at: c.ended.then_some(now),
                // Waiting and ended together too: the engine never stores that, but the rules
                // decide it all the same.
                is_waiting: c.waiting,
                waiting_started_at: c.waiting.then_some(created_at),
                last_activity_at: now - c.idle,
                next_message_seq: 1,
                token: format!("token {i}"),
                room_name: room.map(|r| r.name.clone()),
                ..ChatRecord::default()
            };
            let mut seen = BTreeSet::new();
            let members = c
                .members
                .iter()
                .filter_map(|m| {
                    let (member, present_until) = if m.user {
                        let u = &users[pick(m.who, users.len())?];
                        (MemberRef::User(u.id), u.present_until)
                    } else {
                        let v = &visitors[pick(m.who, visitors.len())?];
                        (MemberRef::Visitor(v.id), v.present_until)
                    };
                    seen.insert(member.id()).then(|| MembershipRecord {
                        chat_pk: record.pk,
                        member,
                        created_at,
                        updated_at: created_at,
                        last_seen_at: None,
                        is_participating: m.participating,
                        composing_status: Composing::Idle,
                        composing_updated_at: created_at,
                        message_count: m.messages,
                        chat_id: record.id,
                        room_id: record.room_id,
                        room_organization_id: record.room_organization_id,
                        chat_created_at: created_at,
                        info: MemberInfo {
                            present_until,
                            ..MemberInfo::default()
                        },
                    })
                })
                .collect();
            Chat { record, members }
        })
        .collect();

    let (engine, place) = common::open_test_engine(Engine::builder());
    engine
        .write_store(|tx| {
            for o in &orgs {
                tx.insert_org(o)?;
            }
            for u in &users {
                tx.insert_user(u)?;
            }
            for (t, members) in teams.iter().zip(&team_members) {
                tx.insert_team(t)?;
                for &m in members {
                    tx.set_team_member(t.id, users[m].id, true)?;
                }
            }
            for r in &routers {
                tx.insert_router(r)?;
            }
            for (r, orgs) in rooms.iter().zip(&shares) {
                tx.insert_room(r)?;
                for &o in orgs {
                    tx.share_room(r.id, o)?;
                }
            }
            for v in &visitors {
                tx.insert_visitor(v, None)?;
            }
            for c in &chats {
                let pk = tx.insert_chat(&c.record)?;
                assert_eq!(pk, c.record.pk);
                tx.update_chat(&c.record)?;
                for m in &c.members {
                    tx.insert_membership(m)?;
                }
            }
            Ok(())
        })
        .unwrap();
    World {
        now,
        orgs,
        users,
        teams_of,
        routers,
        rooms,
        shares,
        chats,
        engine,
        _place: place,
    }
}

impl World {
    fn read<T>(&self, f: impl FnOnce(&dyn Store) -> chat_core::Result<T>) -> T {
        self.engine.read_store(f).unwrap()
    }

    fn reach<'a>(&'a self, room: &'a RoomRecord) -> RoomReach<'a> {
        let i = self.rooms.iter().position(|r| r.id == room.id).unwrap();
        let steps = room
            .router_id
            .and_then(|id| self.routers.iter().find(|r| r.id == id))
            .map_or(&[][..], |r| &r.steps[..]);
        RoomReach {
            room,
            steps,
            shared_with: &self.shares[i],
        }
    }

    fn room_of(&self, chat: &ChatRecord) -> Option<&RoomRecord> {
        chat.room_id
            .and_then(|id| self.rooms.iter().find(|r| r.id == id))
    }

    fn accessible(&self, room: &RoomRecord, user: usize) -> bool {
        self.reach(room)
            .is_accessible_to(&self.users[user], &self.teams_of[user])
    }

    fn routed(&self, room: &RoomRecord, user: usize) -> bool {
        self.reach(room)
            .routes_to(&self.users[user], &self.teams_of[user])
    }

    /// The chat as the rules see it: its record with the counts recounted from its members.
    fn recounted(&self, chat: &Chat) -> ChatRecord {
        let counts = DerivedCounts::of(&chat.members, self.now);
        ChatRecord {
            present_users: counts.present_users,
            present_visitors: counts.present_visitors,
            user_members: counts.user_members,
            visitor_members: counts.visitor_members,
            ..chat.record.clone()
        }
    }

    /// Ids of the chats the rules accept, in id order.
    fn expected(&self, accept: impl Fn(&ChatRecord) -> bool) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self
            .chats
            .iter()
            .map(|c| self.recounted(c))
            .filter(|c| accept(c))
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    }

    /// Ids of the chats a selection holds (one page holds them all), in id order.
    fn selected(&self, sel: &ChatSelection) -> Vec<Uuid> {
        let all = Keyset {
            after: None,
            descending: true,
            limit: 100,
        };
        let mut ids: Vec<Uuid> = self
            .read(|tx| tx.select_chats(sel, &ChatFilter::default(), &all, self.now))
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    }

    /// The chat read alone through a selection (its single-row SQL), if the selection holds it.
    fn selected_alone(&self, sel: &ChatSelection, chat: Uuid) -> Option<ChatRecord> {
        let filter = ChatFilter {
            only_id: Some(chat),
            ..ChatFilter::default()
        };
        let one = Keyset {
            after: None,
            descending: true,
            limit: 1,
        };
        self.read(|tx| tx.select_chats(sel, &filter, &one, self.now))
            .into_iter()
            .next()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn derived_counts_in_sql_equal_a_recount(spec in spec()) {
        let w = build(&spec);
        let listed = w.read(|tx| {
            tx.select_chats(
                &ChatSelection::All,
                &ChatFilter::default(),
                &Keyset { after: None, descending: true, limit: 100 },
                w.now,
            )
        });
        prop_assert_eq!(listed.len(), w.chats.len());
        for chat in &w.chats {
            let expected = DerivedCounts::of(&chat.members, w.now);
            let by_id = w.read(|tx| tx.chat_by_id(chat.record.id, w.now)).unwrap();
            prop_assert_eq!(by_id.derived_counts(), expected, "read by id (one pass)");
            let by_pk = w.read(|tx| tx.chat_by_pk(chat.record.pk, w.now)).unwrap();
            prop_assert_eq!(by_pk.derived_counts(), expected, "read by pk (one pass)");
            let in_list = listed.iter().find(|c| c.id == chat.record.id).unwrap();
            prop_assert_eq!(in_list.derived_counts(), expected, "listed (per row)");
            let alone = w.selected_alone(&ChatSelection::All, chat.record.id).unwrap();
            prop_assert_eq!(alone.derived_counts(), expected, "selected alone (per row)");
            let present = w.read(|tx| tx.present_user_members(chat.record.pk, None, w.now));
            prop_assert_eq!(present, expected.present_users, "present user members");
            for m in &chat.members {
                let others = w.read(|tx| {
                    tx.present_user_members(chat.record.pk, Some(m.member.id()), w.now)
                });
                let this = i64::from(matches!(m.member, MemberRef::User(_)) && m.is_present(w.now));
                prop_assert_eq!(others, expected.present_users - this, "present users but one");
            }
        }
    }

    #[test]
    fn pending_lists_hold_the_chats_the_rules_accept(spec in spec()) {
        let w = build(&spec);
        for chat in &w.chats {
            let rule = w.recounted(chat).is_pending();
            let read = w.read(|tx| tx.chat_by_id(chat.record.id, w.now)).unwrap();
            prop_assert_eq!(read.is_pending(), rule, "is_pending of a chat read by id");
        }
        for room in &w.rooms {
            let expected = w.expected(|c| c.room_id == Some(room.id) && c.is_pending());
            let sel = ChatSelection::RoomPending(room.id);
            prop_assert_eq!(w.selected(&sel), expected.clone(), "pending chats of a room");
            for chat in &w.chats {
                let alone = w.selected_alone(&sel, chat.record.id).is_some();
                prop_assert_eq!(alone, expected.contains(&chat.record.id), "a room's pending chat alone");
            }
        }
        for (u, user) in w.users.iter().enumerate() {
            let accessible = |c: &ChatRecord| w.room_of(c).is_some_and(|r| w.accessible(r, u));
            let expected = w.expected(|c| c.is_pending() && accessible(c));
            let sel = ChatSelection::UserPending { user: user.id };
            prop_assert_eq!(w.selected(&sel), expected.clone(), "pending chats of a user");
            for chat in &w.chats {
                let alone = w.selected_alone(&sel, chat.record.id).is_some();
                prop_assert_eq!(alone, expected.contains(&chat.record.id), "a user's pending chat alone");
            }
        }
    }

    #[test]
    fn routed_lists_hold_the_chats_the_rule_routes(spec in spec()) {
        let w = build(&spec);
        for (u, user) in w.users.iter().enumerate() {
            let routed = w.expected(|c| w.room_of(c).is_some_and(|r| w.routed(r, u)));
            let sel = ChatSelection::UserRouted { user: user.id };
            prop_assert_eq!(w.selected(&sel), routed.clone(), "routed chats of a user");
            for chat in &w.chats {
                let alone = w.selected_alone(&sel, chat.record.id).is_some();
                prop_assert_eq!(alone, routed.contains(&chat.record.id), "a user's routed chat alone");
            }
        }
    }

    #[test]
    fn room_access_and_routing_checks_follow_the_rules(spec in spec()) {
        let w = build(&spec);
        for room in &w.rooms {
            for (u, user) in w.users.iter().enumerate() {
                let accessible = w.read(|tx| tx.room_accessible_to_user(room.id, user.id));
                prop_assert_eq!(accessible, w.accessible(room, u), "room access check");
                let routed = w.read(|tx| tx.room_routed_to_user(room.id, user.id));
                prop_assert_eq!(routed, w.routed(room, u), "routing check");
            }
        }
    }

    #[test]
    fn a_rooms_pending_audience_is_who_may_access_it(spec in spec()) {
        let w = build(&spec);
        for room in &w.rooms {
            let mut expected: Vec<(Uuid, Uuid)> = w
                .users
                .iter()
                .enumerate()
                .filter(|(u, user)| !user.is_deleted && w.accessible(room, *u))
                .map(|(_, user)| (user.id, user.organization_id))
                .collect();
            expected.sort();
            let audience = w.read(|tx| tx.room_audience(room.id, RoomChannel::PendingChats));
            prop_assert_eq!(audience, expected, "pending audience of a room");
        }
    }

    #[test]
    fn a_rooms_visible_audience_is_who_sees_it(spec in spec()) {
        let w = build(&spec);
        for room in &w.rooms {
            let mut expected: Vec<(Uuid, Uuid)> = w
                .users
                .iter()
                .filter(|user| !user.is_deleted && w.reach(room).is_visible_to(user))
                .map(|user| (user.id, user.organization_id))
                .collect();
            expected.sort();
            let audience = w.read(|tx| tx.room_audience(room.id, RoomChannel::Rooms));
            prop_assert_eq!(audience, expected, "visible audience of a room");
            for user in &w.users {
                let reaching = w.read(|tx| tx.rooms_reaching(user.id, RoomChannel::Rooms));
                prop_assert_eq!(
                    reaching.contains(&room.id),
                    w.reach(room).is_visible_to(user),
                    "rooms visible to a user"
                );
            }
        }
    }

    #[test]
    fn a_rooms_routed_audience_is_who_it_is_routed_to(spec in spec()) {
        let w = build(&spec);
        for room in &w.rooms {
            let mut expected: Vec<(Uuid, Uuid)> = w
                .users
                .iter()
                .enumerate()
                .filter(|(u, user)| !user.is_deleted && w.routed(room, *u))
                .map(|(_, user)| (user.id, user.organization_id))
                .collect();
            expected.sort();
            let audience = w.read(|tx| tx.room_audience(room.id, RoomChannel::RoutedChats));
            prop_assert_eq!(audience, expected, "routed audience of a room");
            for (u, user) in w.users.iter().enumerate() {
                let reaching = w.read(|tx| tx.rooms_reaching(user.id, RoomChannel::RoutedChats));
                prop_assert_eq!(
                    reaching.contains(&room.id),
                    w.routed(room, u),
                    "rooms routed to a user"
                );
            }
        }
    }

    #[test]
    fn chats_due_to_end_are_the_chats_the_rule_ends(spec in spec()) {
        let w = build(&spec);
        let mut expected: Vec<i64> = w
            .chats
            .iter()
            .filter(|c| {
                let org = w.orgs.iter().find(|o| o.id == c.record.room_organization_id).unwrap();
                c.record.is_due_to_end(org, w.room_of(&c.record), w.now)
            })
            .map(|c| c.record.pk)
            .collect();
        expected.sort();
        let due = w.read(|tx| tx.chats_due_to_end(w.now, 100));
        prop_assert_eq!(&due, &expected, "chats due to end");
        let first_two = w.read(|tx| tx.chats_due_to_end(w.now, 2));
        prop_assert_eq!(&first_two[..], &expected[..expected.len().min(2)], "the first two due");
    }
}
