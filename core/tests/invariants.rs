//! Property tests over random operation sequences (users and visitors joining, leaving,
//! sending, ending, presence changing, time advancing). After every step:
//! - stored counters equal a recount from the messages and memberships;
//! - `is_pending` equals its definition;
//! - an ended chat (its row, messages and memberships) never changes again;
//! - an operation that fails changes nothing at all;
//! - paging through chats and messages visits every row exactly once.

mod common;

use chat_core::chats::{ChatListParams, ChatScope, ChatUpdate};
use chat_core::memberships::MembershipInput;
use chat_core::messages::MessageListParams;
use chat_core::store::ChatStore;
use chat_core::{Actor, PageRequest};
use common::*;
use proptest::prelude::*;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const USERS: [&str; 4] = [ANN, BOB, CAT, DAN];
const VISITORS: [&str; 3] = [V1, V2, V3];
const ROOMS: [&str; 2] = [SUPPORT, SALES];

#[derive(Debug, Clone)]
enum Op {
    VisitorStart(usize, usize),
    VisitorMsg(usize, usize),
    JoinPending(usize, usize),
    JoinRouted(usize, usize),
    OrgJoin(usize, usize),
    UserMsg(usize, usize),
    Participate(usize, usize, bool),
    End(usize, usize),
    NotWaiting(usize),
    Presence(usize, bool),
    VisitorPresence(usize, bool),
    Advance(u16),
    Maintenance,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize, 0..2usize).prop_map(|(v, r)| Op::VisitorStart(v, r)),
        4 => (0..3usize, 0..8usize).prop_map(|(v, c)| Op::VisitorMsg(v, c)),
        2 => (0..4usize, 0..8usize).prop_map(|(u, c)| Op::JoinPending(u, c)),
        1 => (0..4usize, 0..8usize).prop_map(|(u, c)| Op::JoinRouted(u, c)),
        1 => (0..4usize, 0..8usize).prop_map(|(u, c)| Op::OrgJoin(u, c)),
        4 => (0..4usize, 0..8usize).prop_map(|(u, c)| Op::UserMsg(u, c)),
        1 => (0..4usize, 0..8usize, any::<bool>()).prop_map(|(u, c, p)| Op::Participate(u, c, p)),
        1 => (0..4usize, 0..8usize).prop_map(|(u, c)| Op::End(u, c)),
        1 => (0..8usize).prop_map(Op::NotWaiting),
        1 => (0..4usize, any::<bool>()).prop_map(|(u, p)| Op::Presence(u, p)),
        1 => (0..3usize, any::<bool>()).prop_map(|(v, p)| Op::VisitorPresence(v, p)),
        1 => (1..2400u16).prop_map(Op::Advance),
        1 => Just(Op::Maintenance),
    ]
}

/// Every row of every table, as text: the whole observable state.
fn dump(conn: &Connection) -> String {
    let mut out = String::new();
    let tables: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for t in tables {
        let mut st = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        out.push_str(&t);
        for row in rows {
            out.push('\n');
            out.push_str(&row.unwrap());
        }
        out.push('\n');
    }
    out
}

fn ended_snapshot(conn: &Connection, pk: i64) -> String {
    let mut out = String::new();
    for (sql, n) in [
        ("SELECT * FROM chats WHERE pk = ?1", 0),
        ("SELECT * FROM messages WHERE chat_pk = ?1 ORDER BY seq", 1),
        (
            "SELECT * FROM memberships WHERE chat_pk = ?1 ORDER BY member_id",
            2,
        ),
    ] {
        let mut st = conn.prepare(sql).unwrap();
        let cols = st.column_count();
        let rows = st
            .query_map([pk], |r| {
                Ok((0..cols)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        for row in rows {
            out.push_str(&format!("{n}:{}\n", row.unwrap()));
        }
    }
    out
}

struct Sim {
    w: World,
    chats: Vec<Uuid>,
    /// The visitor of each chat (by index into VISITORS).
    owners: Vec<usize>,
    ended: BTreeMap<i64, String>,
}

impl Sim {
    fn chat(&self, i: usize) -> Uuid {
        if self.chats.is_empty() {
            Uuid::nil()
        } else {
            self.chats[i % self.chats.len()]
        }
    }

    fn apply(&mut self, op: &Op) -> chat_core::Result<()> {
        let e = &self.w.engine;
        let join = MembershipInput {
            is_participating: Some(true),
            composing_status: Some("idle".into()),
            ..Default::default()
        };
        match *op {
            Op::VisitorStart(vi, r) => {
                let (c, created) = e.visitor_start_chat(
                    &visitor(VISITORS[vi]),
                    u(ACME),
                    u(ROOMS[r]),
                    v(VISITORS[vi]),
                )?;
                if created {
                    self.chats.push(c.id.parse().unwrap_or_default());
                    self.owners.push(vi);
                }
            }
            Op::VisitorMsg(vi, c) => {
                // Mostly the chat's own visitor; sometimes another one (which must fail).
                let vi = if vi == 0 || self.owners.is_empty() {
                    vi
                } else {
                    self.owners[c % self.owners.len()]
                };
                e.visitor_send_message(
                    &visitor(VISITORS[vi]),
                    v(VISITORS[vi]),
                    self.chat(c),
                    msg("visitor says"),
                )?;
            }
            Op::JoinPending(ui, c) => {
                e.join_pending_chat(&user(USERS[ui]), u(USERS[ui]), self.chat(c), join)?;
            }
            Op::JoinRouted(ui, c) => {
                e.join_routed_chat(&user(USERS[ui]), u(USERS[ui]), self.chat(c), join)?;
            }
            Op::OrgJoin(ui, c) => {
                let input = MembershipInput {
                    member_id: Some(u(USERS[ui])),
                    ..join
                };
                e.join_org_chat(
                    &user(ANN),
                    ChatScope::Owned {
                        organization_id: u(ACME),
                    },
                    self.chat(c),
                    input,
                )?;
            }
            Op::UserMsg(ui, c) => {
                e.send_user_message(
                    &user(USERS[ui]),
                    u(USERS[ui]),
                    self.chat(c),
                    msg("user says"),
                )?;
            }
            Op::Participate(ui, c, p) => {
                let input = MembershipInput {
                    is_participating: Some(p),
                    composing_status: Some(if p { "typing" } else { "idle" }.into()),
                    ..Default::default()
                };
                e.update_user_membership(
                    &user(USERS[ui]),
                    u(USERS[ui]),
                    self.chat(c),
                    input,
                    false,
                )?;
            }
            Op::End(ui, c) => {
                e.update_chat(
                    &user(USERS[ui]),
                    ChatScope::UserChats {
                        user_id: u(USERS[ui]),
                    },
                    self.chat(c),
                    ChatUpdate {
                        is_ended: Some(true),
                        is_waiting: None,
                    },
                )?;
            }
            Op::NotWaiting(c) => {
                e.update_chat(
                    &user(ANN),
                    ChatScope::Owned {
                        organization_id: u(ACME),
                    },
                    self.chat(c),
                    ChatUpdate {
                        is_ended: None,
                        is_waiting: Some(false),
                    },
                )?;
            }
            Op::Presence(ui, p) => {
                e.set_user_presence(u(USERS[ui]), if p { Some(600) } else { Some(0) })?
            }
            Op::VisitorPresence(vi, p) => {
                e.set_visitor_presence(v(VISITORS[vi]), if p { Some(600) } else { Some(0) })?
            }
            Op::Advance(s) => self.w.clock.advance_secs(i64::from(s)),
            Op::Maintenance => {
                e.maintenance()?;
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let now = self.w.clock.clone();
        let now = chat_core::Clock::now_ms(&now);
        let engine = &self.w.engine;
        type Observed = (Vec<String>, Vec<(Vec<u8>, bool)>, Vec<i64>);
        let (recount_bad, pending_rows, ended_now): Observed = engine
            .store()
            .with_connection(|c| {
                let mut bad = vec![];
                let mut st = c
                    .prepare(
                        "SELECT c.pk, c.message_count, c.user_message_count, c.visitor_message_count, c.next_message_seq,
                            (SELECT COUNT(*) FROM messages m WHERE m.chat_pk = c.pk AND m.type = 'msg'),
                            (SELECT COUNT(*) FROM messages m WHERE m.chat_pk = c.pk AND m.type = 'msg' AND m.sender_type = 'user'),
                            (SELECT COUNT(*) FROM messages m WHERE m.chat_pk = c.pk AND m.type = 'msg' AND m.sender_type = 'visitor'),
                            (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages m WHERE m.chat_pk = c.pk)
                         FROM chats c",
                    )
                    .unwrap();
                let rows = st.query_map([], |r| Ok((0..9).map(|i| r.get::<_, i64>(i).unwrap()).collect::<Vec<i64>>())).unwrap();
                for row in rows {
                    let r = row.unwrap();
                    if r[1] != r[5] || r[2] != r[6] || r[3] != r[7] || r[4] != r[8] {
                        bad.push(format!("chat counters {r:?}"));
                    }
                }
                let mut st = c
                    .prepare(
                        "SELECT m.chat_pk, hex(m.member_id), m.message_count,
                            (SELECT COUNT(*) FROM messages x WHERE x.chat_pk = m.chat_pk AND x.sender_id = m.member_id AND x.type = 'msg')
                         FROM memberships m",
                    )
                    .unwrap();
                let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))).unwrap();
                for row in rows {
                    let (pk, m, stored, counted) = row.unwrap();
                    if stored != counted {
                        bad.push(format!("membership {pk}/{m}: {stored} != {counted}"));
                    }
                }
                let mut st = c
                    .prepare(
                        "SELECT c.id, c.is_waiting = 1 AND c.is_ended = 0 AND NOT EXISTS (
                            SELECT 1 FROM memberships m JOIN users u ON u.id = m.member_id
                            WHERE m.chat_pk = c.pk AND m.member_type = 'user' AND m.is_participating = 1 AND u.present_until > ?1)
                         FROM chats c",
                    )
                    .unwrap();
                let pending = st.query_map([now], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))).unwrap().map(Result::unwrap).collect();
                // Every change row of a chat is on its chain (head in the chat row, each row
                // pointing at an older one of the same chat), which a purge walks; every chat
                // and membership has a published state.
                let (chained, owned, foreign, backwards, unpublished): (i64, i64, i64, i64, i64) = c
                    .query_row(
                        "WITH RECURSIVE chain(pk, seq) AS (
                            SELECT pk, last_event_seq FROM chats WHERE last_event_seq IS NOT NULL
                            UNION ALL SELECT chain.pk, e.prev_seq FROM event_changes e JOIN chain ON e.seq = chain.seq
                            WHERE e.prev_seq IS NOT NULL)
                         SELECT (SELECT count(*) FROM chain),
                                (SELECT count(*) FROM event_changes WHERE chat_pk IS NOT NULL),
                                (SELECT count(*) FROM chain JOIN event_changes e ON e.seq = chain.seq WHERE e.chat_pk IS NOT chain.pk),
                                (SELECT count(*) FROM event_changes WHERE prev_seq >= seq),
                                (SELECT count(*) FROM chats WHERE event_state IS NULL)
                                  + (SELECT count(*) FROM memberships WHERE event_state IS NULL)",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .unwrap();
                if chained != owned || foreign != 0 || backwards != 0 || unpublished != 0 {
                    bad.push(format!(
                        "event chains: {chained} chained of {owned} chat rows, {foreign} foreign, {backwards} backwards; {unpublished} unpublished"
                    ));
                }
                // The idle sweep's index key follows the chat's last activity (migration 0009).
                let stale: i64 = c
                    .query_row(
                        "SELECT count(*) FROM chats WHERE activity_minute <> last_activity_at / 60000",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                if stale != 0 {
                    bad.push(format!("{stale} chats whose idle-index minute is not their last activity's"));
                }
                let mut st = c.prepare("SELECT pk FROM chats WHERE is_ended = 1").unwrap();
                let ended = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
                Ok((bad, pending, ended))
            })
            .unwrap();
        prop_assert!(recount_bad.is_empty(), "{recount_bad:?}");
        for (id, expected) in pending_rows {
            let id = Uuid::from_slice(&id).unwrap();
            let chat = engine
                .get_chat(
                    &Actor::User(u(ANN)),
                    ChatScope::Owned {
                        organization_id: u(ACME),
                    },
                    id,
                )
                .unwrap();
            prop_assert_eq!(chat.is_pending, expected, "is_pending of {}", id);
            prop_assert_eq!(
                chat.is_pending,
                chat.is_waiting && !chat.is_ended && chat.present_user_participant_count == 0
            );
        }
        for pk in ended_now {
            let snap = engine
                .store()
                .with_connection(|c| Ok(ended_snapshot(c, pk)))
                .unwrap();
            match self.ended.get(&pk) {
                Some(before) => prop_assert_eq!(before, &snap, "ended chat {} changed", pk),
                None => {
                    self.ended.insert(pk, snap);
                }
            }
        }
        // Paging with small pages visits every chat and message exactly once.
        let mut seen = vec![];
        let mut req = PageRequest::first(3);
        loop {
            let p = engine
                .list_chats(
                    &user(ANN),
                    ChatScope::Owned {
                        organization_id: u(ACME),
                    },
                    &ChatListParams::default(),
                    &req,
                )
                .unwrap();
            // A chat read by its key (id or pk) counts its members in one pass, a listing per
            // row: both give the same counts.
            for listed in &p.results {
                let id: Uuid = listed.id.parse().unwrap();
                let one = engine
                    .store()
                    .read(|tx| tx.chat_by_id(id, now))
                    .unwrap()
                    .unwrap();
                prop_assert_eq!(
                    (
                        one.present_users,
                        one.present_visitors,
                        one.user_members,
                        one.visitor_members
                    ),
                    (
                        listed.present_user_participant_count,
                        listed.present_visitor_participant_count,
                        listed.user_member_count,
                        listed.visitor_member_count
                    ),
                    "counts of chat {}",
                    id
                );
                // By pk (publication's read) the same record as by id.
                let by_pk = engine
                    .store()
                    .read(|tx| tx.chat_by_pk(one.pk, now))
                    .unwrap()
                    .unwrap();
                prop_assert_eq!(&by_pk, &one, "chat {} by pk", id);
            }
            seen.extend(p.results.into_iter().map(|c| c.id));
            match p.next {
                Some(n) => req = PageRequest::at(n, Some(3)),
                None => break,
            }
        }
        let unique: BTreeSet<_> = seen.iter().cloned().collect();
        prop_assert_eq!(unique.len(), seen.len());
        prop_assert_eq!(
            unique,
            self.chats
                .iter()
                .map(Uuid::to_string)
                .collect::<BTreeSet<_>>()
        );
        if let Some(&c) = self.chats.first() {
            let mut n = 0;
            let mut ids = BTreeSet::new();
            let mut req = PageRequest::first(4);
            loop {
                let p = engine
                    .list_messages(
                        &user(ANN),
                        ChatScope::Owned {
                            organization_id: u(ACME),
                        },
                        c,
                        &MessageListParams::default(),
                        &req,
                    )
                    .unwrap();
                n += p.results.len();
                ids.extend(p.results.into_iter().map(|m| m.id));
                match p.next {
                    Some(x) => req = PageRequest::at(x, Some(4)),
                    None => break,
                }
            }
            let stored: i64 = engine
                .store()
                .with_connection(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM messages m JOIN chats c ON c.pk = m.chat_pk WHERE c.id = ?1", [c.as_bytes()], |r| r.get(0))?))
                .unwrap();
            prop_assert_eq!(n as i64, stored);
            prop_assert_eq!(ids.len(), n);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_operation_sequences_keep_the_database_consistent(ops in proptest::collection::vec(op(), 1..45)) {
        let mut sim = Sim { w: world(), chats: vec![], owners: vec![], ended: BTreeMap::new() };
        for op in &ops {
            let before = sim.w.engine.store().with_connection(|c| Ok(dump(c))).unwrap();
            if let Err(e) = sim.apply(op) {
                prop_assert!(e.status() < 500, "{op:?} failed as a server fault: {e:?}");
                let after = sim.w.engine.store().with_connection(|c| Ok(dump(c))).unwrap();
                prop_assert!(before == after, "{op:?} failed with {e:?} but changed the database");
            }
            sim.check()?;
        }
    }
}
