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
use chat_core::{Actor, Engine, PageRequest};
use common::*;
use proptest::prelude::*;
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
/// Every row of every table, as text.
fn dump(engine: &Engine) -> String {
    let mut out = String::new();
    for t in table_names(engine) {
        out.push_str(&t);
        let mut rows: Vec<String> = raw_rows(engine, &format!("SELECT * FROM {t}"))
            .iter()
            .map(|row| row.join("|"))
            .collect();
        rows.sort();
        for row in rows {
            out.push('\n');
            out.push_str(&row);
        }
        out.push('\n');
    }
    out
}

/// An ended chat's row, messages and memberships, as text.
fn ended_snapshot(engine: &Engine, pk: i64) -> String {
    let mut out = String::new();
    for (n, sql) in [
        format!("SELECT * FROM chats WHERE pk = {pk}"),
        format!("SELECT * FROM messages WHERE chat_pk = {pk} ORDER BY seq"),
        format!("SELECT * FROM memberships WHERE chat_pk = {pk} ORDER BY member_id"),
    ]
    .iter()
    .enumerate()
    {
        for row in raw_rows(engine, sql) {
            out.push_str(&format!("{n}:{}\n", row.join("|")));
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
        let num = |v: &String| -> i64 { v.parse().unwrap() };
        let mut recount_bad = vec![];
        for r in raw_rows(
            engine,
            "SELECT c.pk, c.message_count, c.user_message_count, c.visitor_message_count, c.next_message_seq,
                (SELECT COUNT(*) FROM messages m WHERE m.chat_pk = c.pk AND m.type = 'msg'),
                (SELECT COUNT(*) FROM messages m WHERE m.chat_pk = c.pk AND m.type = 'msg' AND m.sender_type = 'user'),
                (SELECT COUNT(*) FROM messages m WHERE m.chat_pk = c.pk AND m.type = 'msg' AND m.sender_type = 'visitor'),
                (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages m WHERE m.chat_pk = c.pk)
             FROM chats c",
        ) {
            let r: Vec<i64> = r.iter().map(num).collect();
            if r[1] != r[5] || r[2] != r[6] || r[3] != r[7] || r[4] != r[8] {
                recount_bad.push(format!("chat counters {r:?}"));
            }
        }
        for r in raw_rows(
            engine,
            "SELECT m.chat_pk, m.member_id, m.message_count,
                (SELECT COUNT(*) FROM messages x WHERE x.chat_pk = m.chat_pk AND x.sender_id = m.member_id AND x.type = 'msg')
             FROM memberships m",
        ) {
            if r[2] != r[3] {
                recount_bad.push(format!("membership {}/{}: {} != {}", r[0], r[1], r[2], r[3]));
            }
        }
        let pending_rows: Vec<(Uuid, bool)> = raw_rows(
            engine,
            &format!(
                "SELECT c.id, c.is_waiting = 1 AND c.is_ended = 0 AND NOT EXISTS (
                    SELECT 1 FROM memberships m JOIN users u ON u.id = m.member_id
                    WHERE m.chat_pk = c.pk AND m.member_type = 'user' AND m.is_participating = 1 AND u.present_until > {now})
                 FROM chats c"
            ),
        )
        .into_iter()
        .map(|r| (Uuid::parse_str(&r[0]).unwrap(), r[1] == "1"))
        .collect();
        // Every change row of a chat is on its chain (head in the chat row, each row pointing
        // at an older one of the same chat), which a purge walks; every chat and membership
        // has a published state.
        let chains: Vec<i64> = raw_rows(
            engine,
            "WITH RECURSIVE chain(pk, seq) AS (
                SELECT pk, last_event_seq FROM chats WHERE last_event_seq IS NOT NULL
                UNION ALL SELECT chain.pk, e.prev_seq FROM event_changes e JOIN chain ON e.seq = chain.seq
                WHERE e.prev_seq IS NOT NULL)
             SELECT (SELECT count(*) FROM chain),
                    (SELECT count(*) FROM event_changes WHERE chat_pk IS NOT NULL),
                    (SELECT count(*) FROM chain JOIN event_changes e ON e.seq = chain.seq WHERE e.chat_pk IS DISTINCT FROM chain.pk),
                    (SELECT count(*) FROM event_changes WHERE prev_seq >= seq),
                    (SELECT count(*) FROM chats WHERE event_state IS NULL)
                      + (SELECT count(*) FROM memberships WHERE event_state IS NULL)",
        )[0]
            .iter()
            .map(num)
            .collect();
        let (chained, owned, foreign, backwards, unpublished) =
            (chains[0], chains[1], chains[2], chains[3], chains[4]);
        if chained != owned || foreign != 0 || backwards != 0 || unpublished != 0 {
            recount_bad.push(format!(
                "event chains: {chained} chained of {owned} chat rows, {foreign} foreign, {backwards} backwards; {unpublished} unpublished"
            ));
        }
        // The idle sweep's index key follows the chat's last activity.
        let stale = raw_count(
            engine,
            "SELECT count(*) FROM chats WHERE activity_minute <> last_activity_at / 60000",
        );
        if stale != 0 {
            recount_bad.push(format!(
                "{stale} chats whose idle-index minute is not their last activity's"
            ));
        }
        let ended_now: Vec<i64> = raw_rows(engine, "SELECT pk FROM chats WHERE is_ended = 1")
            .iter()
            .map(|r| num(&r[0]))
            .collect();
        prop_assert!(recount_bad.is_empty(), "{recount_bad:?}");
        for (id, expected) in pending_rows {
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
            let snap = ended_snapshot(engine, pk);
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
                    .read_store(|tx| tx.chat_by_id(id, now))
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
                    .read_store(|tx| tx.chat_by_pk(one.pk, now))
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
            let chat_pk = engine
                .read_store(|tx| tx.chat_by_id(c, now))
                .unwrap()
                .unwrap()
                .pk;
            let stored = raw_count(
                engine,
                &format!("SELECT COUNT(*) FROM messages WHERE chat_pk = {chat_pk}"),
            );
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
            let before = dump(&sim.w.engine);
            if let Err(e) = sim.apply(op) {
                prop_assert!(e.status() < 500, "{op:?} failed as a server fault: {e:?}");
                let after = dump(&sim.w.engine);
                prop_assert!(before == after, "{op:?} failed with {e:?} but changed the database");
            }
            sim.check()?;
        }
    }
}
