//! The write operations a customer-service chat performs most, each through the engine and
//! through its `raw + events` baseline ([`crate::raw_ops`]), on two copies of one dataset.
//!
//! One conversation runs [`STEPS`] in order: a visitor arrives, starts a chat and writes, an
//! operator joins, both type, the operator answers, steps out and back, tags and untags it, suggests a reply,
//! invites a colleague who accepts, ends it; the operator's presence client comes and goes, a
//! conversation starter is written and deleted; and a message each way in one of the
//! dataset's ongoing chats. Conversation `k` takes room `k % rooms`, operator `k % operators`
//! and invites the next operator.
//!
//! [`interleaved_ops`] times each step on both sides in alternating blocks of conversations
//! (so that a shared machine's drift reaches both alike); [`check_baselines`] runs the same
//! steps one by one and compares what each side wrote.

use crate::raw_ops;
use crate::raw_resources::ChatKey;
use crate::{Dataset, copy_of};
use chat_core::chats::{ChatScope, ChatUpdate};
use chat_core::invitations::{InvitationAccept, NewInvitation};
use chat_core::memberships::MembershipInput;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine, TestClock};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// One write operation of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    VisitorAuth,
    VisitorEnterRoom,
    VisitorStartChat,
    FirstVisitorMessage,
    JoinPending,
    VisitorTyping,
    NotWaiting,
    OperatorTyping,
    FirstReply,
    Leave,
    Rejoin,
    AddTag,
    RemoveTag,
    CreateSuggestion,
    CreateInvitation,
    AcceptInvitation,
    EndChat,
    CreatePresenceClient,
    RenewPresenceClient,
    DeletePresenceClient,
    CreateStarter,
    DeleteStarter,
    UserMessage,
    VisitorMessage,
}

/// The steps of a conversation, in order.
pub const STEPS: &[Step] = &[
    Step::VisitorAuth,
    Step::VisitorEnterRoom,
    Step::VisitorStartChat,
    Step::FirstVisitorMessage,
    Step::JoinPending,
    Step::VisitorTyping,
    Step::NotWaiting,
    Step::OperatorTyping,
    Step::FirstReply,
    Step::Leave,
    Step::Rejoin,
    Step::AddTag,
    Step::RemoveTag,
    Step::CreateSuggestion,
    Step::CreateInvitation,
    Step::AcceptInvitation,
    Step::EndChat,
    Step::CreatePresenceClient,
    Step::RenewPresenceClient,
    Step::DeletePresenceClient,
    Step::CreateStarter,
    Step::DeleteStarter,
    Step::UserMessage,
    Step::VisitorMessage,
];

impl Step {
    /// The registry operation, and what this step does with it.
    pub fn name(self) -> &'static str {
        match self {
            Step::VisitorAuth => "visitor_auth (new visitor)",
            Step::VisitorEnterRoom => "visitor_enter_room",
            Step::VisitorStartChat => "visitor_start_chat",
            Step::FirstVisitorMessage => "visitor_send_message (chat starts waiting)",
            Step::JoinPending => "join_pending_chat",
            Step::VisitorTyping => "visitor_update_membership (typing)",
            Step::NotWaiting => "update_chat (is_waiting false)",
            Step::OperatorTyping => "update_user_membership (typing)",
            Step::FirstReply => "send_user_message (first reply)",
            Step::Leave => "update_user_membership (leave)",
            Step::Rejoin => "update_user_membership (rejoin)",
            Step::AddTag => "add_tag",
            Step::RemoveTag => "remove_tag",
            Step::CreateSuggestion => "create_reply_suggestion",
            Step::CreateInvitation => "create_invitation",
            Step::AcceptInvitation => "accept_invitation",
            Step::EndChat => "update_chat (is_ended: end chat)",
            Step::CreatePresenceClient => "create_presence_client",
            Step::RenewPresenceClient => "renew_presence_client",
            Step::DeletePresenceClient => "delete_presence_client",
            Step::CreateStarter => "create_conversation_starter",
            Step::DeleteStarter => "delete_conversation_starter",
            Step::UserMessage => "send_user_message (ongoing chat)",
            Step::VisitorMessage => "visitor_send_message (ongoing chat)",
        }
    }
}

const TAG: &str = "Lead";
const PRESENCE_TTL_S: i64 = 60;
const TYPING: raw_ops::OwnMembership<'static> = raw_ops::OwnMembership {
    participating: None,
    composing: Some("typing"),
};
const STARTER: &str = "Hello! How can I help you today?";
const SUGGESTION: &str = "You can change your delivery address under Orders.";

/// Who takes part in conversation `k`.
struct Cast {
    room: Uuid,
    op: Uuid,
    colleague: Uuid,
    language: &'static str,
    /// The dataset's ongoing chat of the conversation (chat, its operator, its visitor).
    ongoing: (Uuid, Uuid, Uuid),
}

fn cast(ds: &Dataset, k: usize) -> Cast {
    let n = ds.operators.len();
    let langs = chat_core::starters::SUPPORTED_LANGUAGES;
    Cast {
        room: ds.rooms[k % ds.rooms.len()],
        op: ds.operators[k % n],
        colleague: ds.operators[(k + 1) % n],
        // Distinct (operator, language) pairs across any `operators × languages` in a row.
        language: langs[(k / n) % langs.len()],
        ongoing: ds.chats[(k * 7919) % ds.chats.len()],
    }
}

fn text(k: usize) -> String {
    crate::message_text(k)
}

/// What a conversation created, as each side knows it.
#[derive(Debug, Clone, Copy, Default)]
struct Conversation {
    visitor: Uuid,
    chat: Uuid,
    visitor_message: Uuid,
    invitation: Uuid,
    client: Uuid,
}

/// One side of the comparison.
trait Side {
    fn run(&mut self, step: Step, k: usize, cast: &Cast);
}

struct CoreSide {
    engine: Engine,
    clock: TestClock,
    org: Uuid,
    conversations: Vec<Conversation>,
}

struct RawSide {
    conn: rusqlite::Connection,
    now: i64,
    org: Uuid,
    conversations: Vec<Conversation>,
}

fn conversation(all: &mut Vec<Conversation>, k: usize) -> &mut Conversation {
    if all.len() <= k {
        all.resize(k + 1, Conversation::default());
    }
    &mut all[k]
}

impl Side for CoreSide {
    fn run(&mut self, step: Step, k: usize, c: &Cast) {
        self.clock.advance_ms(1);
        let e = &self.engine;
        let conv = conversation(&mut self.conversations, k);
        let v = conv.visitor;
        let visitor = Actor::Visitor(v);
        let op = Actor::User(c.op);
        let mine = ChatScope::UserChats { user_id: c.op };
        let msg = |text: String| NewMessage {
            message: Some(text),
            ..Default::default()
        };
        let participating = |p: bool| MembershipInput {
            is_participating: Some(p),
            ..Default::default()
        };
        let typing = || MembershipInput {
            composing_status: Some("typing".into()),
            ..Default::default()
        };
        let presence = chat_core::directory::PresenceInput {
            presence_expires_in: Some(PRESENCE_TTL_S),
        };
        match step {
            Step::VisitorAuth => {
                let auth = e.visitor_auth(self.org, None).unwrap();
                conv.visitor = auth.visitor_id.parse().unwrap();
            }
            Step::VisitorEnterRoom => {
                e.visitor_enter_room(&visitor, self.org, c.room, v, None)
                    .unwrap();
            }
            Step::VisitorStartChat => {
                let (chat, created) = e.visitor_start_chat(&visitor, self.org, c.room, v).unwrap();
                assert!(created);
                conv.chat = chat.id.parse().unwrap();
            }
            Step::FirstVisitorMessage => {
                let m = e
                    .visitor_send_message(&visitor, v, conv.chat, msg(text(k)))
                    .unwrap();
                conv.visitor_message = m.id.parse().unwrap();
            }
            Step::JoinPending => {
                let input = MembershipInput {
                    is_participating: Some(true),
                    composing_status: Some("idle".into()),
                    ..Default::default()
                };
                e.join_pending_chat(&op, c.op, conv.chat, input).unwrap();
            }
            Step::NotWaiting | Step::EndChat => {
                let update = ChatUpdate {
                    is_ended: (step == Step::EndChat).then_some(true),
                    is_waiting: (step == Step::NotWaiting).then_some(false),
                };
                e.update_chat(&op, mine, conv.chat, update).unwrap();
            }
            Step::FirstReply => {
                e.send_user_message(&op, c.op, conv.chat, msg(text(k)))
                    .unwrap();
            }
            Step::VisitorTyping => {
                e.visitor_update_membership(&visitor, v, conv.chat, typing(), true)
                    .unwrap();
            }
            Step::OperatorTyping => {
                e.update_user_membership(&op, c.op, conv.chat, typing(), true)
                    .unwrap();
            }
            Step::Leave | Step::Rejoin => {
                let p = participating(step == Step::Rejoin);
                e.update_user_membership(&op, c.op, conv.chat, p, true)
                    .unwrap();
            }
            Step::AddTag => {
                let tag = chat_core::tags::NewTag {
                    name: Some(TAG.into()),
                };
                let (_, created) = e.add_tag(&op, mine, conv.chat, tag).unwrap();
                assert!(created);
            }
            Step::RemoveTag => e.remove_tag(&op, mine, conv.chat, TAG).unwrap(),
            Step::CreateSuggestion => {
                let input = chat_core::suggestions::SuggestionInput {
                    suggestion: Some(SUGGESTION.into()),
                    relevancy_score: Some(Some(0.8)),
                };
                e.create_reply_suggestion(&op, mine, conv.chat, conv.visitor_message, input)
                    .unwrap();
            }
            Step::CreateInvitation => {
                let input = NewInvitation {
                    invited_user_id: Some(c.colleague),
                    ..Default::default()
                };
                let (inv, created) = e.create_invitation(&op, c.op, conv.chat, input).unwrap();
                assert!(created);
                conv.invitation = inv.id.parse().unwrap();
            }
            Step::AcceptInvitation => {
                let accept = InvitationAccept {
                    is_accepted: Some(true),
                    is_expired: None,
                };
                let who = Actor::User(c.colleague);
                e.accept_invitation(&who, c.colleague, None, conv.invitation, accept)
                    .unwrap();
            }
            Step::CreatePresenceClient => {
                let client = e.create_presence_client(&op, c.op, presence).unwrap();
                conv.client = client.id.parse().unwrap();
            }
            Step::RenewPresenceClient => {
                e.renew_presence_client(&op, c.op, conv.client, presence)
                    .unwrap();
            }
            Step::DeletePresenceClient => {
                e.delete_presence_client(&op, c.op, conv.client).unwrap();
            }
            Step::CreateStarter => {
                let input = chat_core::starters::StarterInput {
                    language_code: Some(c.language.into()),
                    message: Some(STARTER.into()),
                };
                e.create_conversation_starter(&op, c.op, input).unwrap();
            }
            Step::DeleteStarter => {
                e.delete_conversation_starter(&op, c.op, c.language)
                    .unwrap();
            }
            Step::UserMessage => {
                let (chat, owner, _) = c.ongoing;
                e.send_user_message(&Actor::User(owner), owner, chat, msg(text(k)))
                    .unwrap();
            }
            Step::VisitorMessage => {
                let (chat, _, v) = c.ongoing;
                e.visitor_send_message(&Actor::Visitor(v), v, chat, msg(text(k)))
                    .unwrap();
            }
        }
    }
}

impl Side for RawSide {
    fn run(&mut self, step: Step, k: usize, c: &Cast) {
        self.now += 1;
        let (raw, now) = (&self.conn, self.now);
        let conv = conversation(&mut self.conversations, k);
        match step {
            Step::VisitorAuth => conv.visitor = raw_ops::visitor_auth(raw, self.org, now),
            Step::VisitorEnterRoom => {
                raw_ops::visitor_enter_room(raw, self.org, c.room, conv.visitor, now)
            }
            Step::VisitorStartChat => {
                conv.chat = raw_ops::visitor_start_chat(raw, self.org, c.room, conv.visitor, now)
            }
            Step::FirstVisitorMessage => {
                conv.visitor_message = raw_ops::send_message(
                    raw,
                    ChatKey::Id(conv.chat),
                    conv.visitor,
                    false,
                    now,
                    &text(k),
                )
            }
            Step::JoinPending => raw_ops::join_pending_chat(raw, ChatKey::Id(conv.chat), c.op, now),
            Step::NotWaiting => raw_ops::update_chat(raw, conv.chat, c.op, false, now),
            Step::EndChat => raw_ops::update_chat(raw, conv.chat, c.op, true, now),
            Step::FirstReply => {
                raw_ops::send_message(raw, ChatKey::Id(conv.chat), c.op, true, now, &text(k));
            }
            Step::VisitorTyping => {
                raw_ops::update_own_membership(raw, conv.chat, conv.visitor, false, TYPING, now)
            }
            Step::OperatorTyping => {
                raw_ops::update_own_membership(raw, conv.chat, c.op, true, TYPING, now)
            }
            Step::Leave | Step::Rejoin => {
                let change = raw_ops::OwnMembership {
                    participating: Some(step == Step::Rejoin),
                    composing: None,
                };
                raw_ops::update_own_membership(raw, conv.chat, c.op, true, change, now)
            }
            Step::AddTag => raw_ops::add_tag(raw, conv.chat, c.op, TAG, now),
            Step::RemoveTag => raw_ops::remove_tag(raw, conv.chat, c.op, TAG, now),
            Step::CreateSuggestion => {
                raw_ops::create_reply_suggestion(
                    raw,
                    conv.chat,
                    c.op,
                    conv.visitor_message,
                    SUGGESTION,
                    Some(0.8),
                    now,
                );
            }
            Step::CreateInvitation => {
                conv.invitation = raw_ops::create_invitation(raw, conv.chat, c.op, c.colleague, now)
            }
            Step::AcceptInvitation => {
                raw_ops::accept_invitation(raw, c.colleague, conv.invitation, now)
            }
            Step::CreatePresenceClient => {
                conv.client = raw_ops::create_presence_client(raw, c.op, PRESENCE_TTL_S, now)
            }
            Step::RenewPresenceClient => {
                raw_ops::renew_presence_client(raw, c.op, conv.client, PRESENCE_TTL_S, now)
            }
            Step::DeletePresenceClient => {
                raw_ops::delete_presence_client(raw, c.op, conv.client, now)
            }
            Step::CreateStarter => {
                raw_ops::create_conversation_starter(raw, c.op, c.language, STARTER, now)
            }
            Step::DeleteStarter => raw_ops::delete_conversation_starter(raw, c.op, c.language, now),
            Step::UserMessage => {
                let (chat, owner, _) = c.ongoing;
                raw_ops::send_message(raw, ChatKey::Id(chat), owner, true, now, &text(k));
            }
            Step::VisitorMessage => {
                let (chat, _, v) = c.ongoing;
                raw_ops::send_message(raw, ChatKey::Id(chat), v, false, now, &text(k));
            }
        }
    }
}

/// Both sides, each on its own copy of `ds` in `dir` (`<name>-core.db`, `<name>-raw.db`),
/// their clocks just after the dataset's newest write, without inline checkpoints (see
/// [`interleaved_ops`]).
fn sides(ds: &Dataset, dir: &Path, name: &str) -> (CoreSide, RawSide, [std::path::PathBuf; 2]) {
    let paths = [
        copy_of(ds, dir, &format!("{name}-core")),
        copy_of(ds, dir, &format!("{name}-raw")),
    ];
    let start = ds.end_ms + 1000;
    let clock = TestClock::new(start);
    let engine = Engine::builder()
        .clock(clock.clone())
        .open(&paths[0])
        .unwrap();
    let checkpoints = "PRAGMA wal_autocheckpoint = 0";
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(c.execute_batch(checkpoints)?))
        .unwrap();
    let conn = crate::raw_connection(&paths[1]);
    conn.execute_batch(checkpoints).unwrap();
    let org: Uuid = crate::ORG.parse().unwrap();
    (
        CoreSide {
            engine,
            clock,
            org,
            conversations: Vec::new(),
        },
        RawSide {
            conn,
            now: start,
            org,
            conversations: Vec::new(),
        },
        paths,
    )
}

/// One step's figures.
#[derive(Debug, Clone)]
pub struct StepFigures {
    pub step: Step,
    pub ops: usize,
    /// µs per operation: the engine, the baseline.
    pub core_us: f64,
    pub raw_events_us: f64,
    /// Pages written per operation (WAL frames): the engine, the baseline.
    pub core_pages: f64,
    pub raw_events_pages: f64,
}

impl StepFigures {
    /// Engine throughput over baseline throughput.
    pub fn ratio(&self) -> f64 {
        self.raw_events_us / self.core_us
    }
}

/// Runs `conversations` conversations on both sides, in blocks of `block` conversations: each
/// step of a block runs on one side then the other (the side going first alternates), timed
/// per step. Both WALs are checkpointed between blocks, outside the timing: an inline
/// checkpoint inside a block would fall on whichever operation's commit crossed the
/// threshold, adding its sync to that operation alone.
pub fn interleaved_ops(
    ds: &Dataset,
    dir: &Path,
    conversations: usize,
    block: usize,
) -> Vec<StepFigures> {
    let (mut core, mut raw, paths) = sides(ds, dir, "ops");
    let mut spent = vec![[Duration::ZERO; 2]; STEPS.len()];
    let mut pages = vec![[0i64; 2]; STEPS.len()];
    let mut start = 0;
    let mut round = 0;
    while start < conversations {
        let end = (start + block).min(conversations);
        for (i, &step) in STEPS.iter().enumerate() {
            for turn in 0..2 {
                let side = (turn + round) % 2;
                let written = |core: &CoreSide, raw: &RawSide| {
                    i64::from(if side == 0 {
                        crate::pages_written(&core.engine)
                    } else {
                        crate::raw_send::conn_pages_written(&raw.conn)
                    })
                };
                let before = written(&core, &raw);
                let t = Instant::now();
                for k in start..end {
                    let c = cast(ds, k);
                    if side == 0 {
                        core.run(step, k, &c);
                    } else {
                        raw.run(step, k, &c);
                    }
                }
                spent[i][side] += t.elapsed();
                pages[i][side] += written(&core, &raw) - before;
            }
        }
        let checkpoint = "PRAGMA wal_checkpoint(TRUNCATE)";
        core.engine
            .sqlite_store()
            .unwrap()
            .with_connection(|c| Ok(c.execute_batch(checkpoint)?))
            .unwrap();
        raw.conn.execute_batch(checkpoint).unwrap();
        start = end;
        round += 1;
    }
    drop((core, raw));
    for p in &paths {
        crate::remove_db(p);
    }
    let n = conversations.max(1) as f64;
    STEPS
        .iter()
        .zip(spent.into_iter().zip(pages))
        .map(|(&step, ([c, r], [cp, rp]))| StepFigures {
            step,
            ops: conversations,
            core_us: c.as_secs_f64() * 1e6 / n,
            raw_events_us: r.as_secs_f64() * 1e6 / n,
            core_pages: cp as f64 / n,
            raw_events_pages: rp as f64 / n,
        })
        .collect()
}

// ---- what each side wrote --------------------------------------------------------------------

/// Tables left out of the comparison: the engine's record of what it published (a
/// hand-written product knows what each write changes and keeps none).
const BOOKKEEPING_TABLES: &[&str] = &["event_snapshots"];
/// Columns left out for the same reason.
const BOOKKEEPING_COLUMNS: &[&str] = &["event_state"];

/// Every table's rows (count, and a hash of their values but bookkeeping columns), and the
/// newest event number.
#[derive(Debug, Clone, PartialEq)]
pub struct DbState {
    tables: BTreeMap<String, (i64, u64)>,
    last_event: i64,
}

pub fn db_state(c: &rusqlite::Connection) -> DbState {
    use std::hash::{Hash, Hasher};
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|n: &String| !BOOKKEEPING_TABLES.contains(&n.as_str()))
        .collect();
    let mut tables = BTreeMap::new();
    for name in names {
        let columns: Vec<String> = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{name}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .filter(|n: &String| !BOOKKEEPING_COLUMNS.contains(&n.as_str()))
            .collect();
        let mut st = c
            .prepare(&format!("SELECT {} FROM \"{name}\"", columns.join(", ")))
            .unwrap();
        let mut rows = st.query([]).unwrap();
        let (mut n, mut sum) = (0i64, 0u64);
        while let Some(r) = rows.next().unwrap() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for i in 0..columns.len() {
                match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                    rusqlite::types::Value::Null => 0u8.hash(&mut h),
                    rusqlite::types::Value::Integer(v) => v.hash(&mut h),
                    rusqlite::types::Value::Real(v) => v.to_bits().hash(&mut h),
                    rusqlite::types::Value::Text(v) => v.hash(&mut h),
                    rusqlite::types::Value::Blob(v) => v.hash(&mut h),
                }
            }
            // Order-independent: rows are compared as a set.
            sum = sum.wrapping_add(h.finish());
            n += 1;
        }
        tables.insert(name, (n, sum));
    }
    let last_event = c
        .query_row("SELECT coalesce(max(seq), 0) FROM event_changes", [], |r| {
            r.get(0)
        })
        .unwrap();
    DbState { tables, last_event }
}

/// An event row with its ids blanked (each side creates its own): action, channels (sorted;
/// a room audience as `<room>/<collection>`), resource id, the resource's attribute names
/// (sorted).
pub type EventShape = (String, Vec<String>, String, Vec<String>);

/// What a write did: per table it changed, the change in its row count; and its event rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub tables: BTreeMap<String, i64>,
    pub events: Vec<EventShape>,
}

fn blank_ids(s: &str) -> String {
    s.split('/')
        .map(|seg| {
            if (seg.len() == 36 || seg.len() == 32) && Uuid::parse_str(seg).is_ok() {
                "<id>"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A row's room collections: one path, or a JSON array of several.
fn room_paths(stored: Option<String>) -> impl Iterator<Item = String> {
    let paths: Vec<String> = match stored {
        Some(s) if s.starts_with('[') => serde_json::from_str(&s).unwrap(),
        Some(s) => vec![s],
        None => Vec::new(),
    };
    paths.into_iter()
}

/// What was written between `before` and now on `c`.
pub fn written_since(c: &rusqlite::Connection, before: &DbState) -> Written {
    let after = db_state(c);
    let tables = after
        .tables
        .iter()
        .filter(|(name, now)| before.tables.get(*name) != Some(now))
        .map(|(name, (n, _))| (name.clone(), n - before.tables.get(name).map_or(0, |b| b.0)))
        .collect();
    let mut events: Vec<EventShape> = c
        .prepare(
            "SELECT action, channels, resource_id, resource, room_channel FROM event_changes WHERE seq > ?1",
        )
        .unwrap()
        .query_map([before.last_event], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .unwrap()
        .map(|row| {
            let (action, channels, id, resource, room_channel) = row.unwrap();
            let mut channels: Vec<String> = serde_json::from_str::<Vec<String>>(&channels)
                .unwrap()
                .iter()
                .map(|ch| blank_ids(ch))
                .chain(room_paths(room_channel).map(|p| format!("<room>/{}", blank_ids(&p))))
                .collect();
            channels.sort();
            let mut keys: Vec<String> = resource
                .map(|r| {
                    let v: serde_json::Value = serde_json::from_str(&r).unwrap();
                    v.as_object().unwrap().keys().cloned().collect()
                })
                .unwrap_or_default();
            keys.sort();
            (action, channels, blank_ids(&id), keys)
        })
        .collect();
    events.sort();
    Written { tables, events }
}

/// What `f` wrote through the engine.
pub fn engine_writes(engine: &Engine, f: impl FnOnce()) -> Written {
    let before = engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(db_state(c)))
        .unwrap();
    f();
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(written_since(c, &before)))
        .unwrap()
}

/// What `f` wrote on the connection `c`.
pub fn raw_writes(c: &rusqlite::Connection, f: impl FnOnce()) -> Written {
    let before = db_state(c);
    f();
    written_since(c, &before)
}

/// Runs `conversations` conversations step by step on both sides (copies of `ds` in `dir`)
/// and describes every step whose baseline wrote otherwise than the engine: other tables,
/// other row counts, other event rows (action, readers, resource attributes). Empty when every
/// baseline writes what its operation writes.
pub fn check_baselines(ds: &Dataset, dir: &Path, conversations: usize) -> Vec<String> {
    let (mut core, mut raw, paths) = sides(ds, dir, "check");
    let mut out = Vec::new();
    for k in 0..conversations {
        let c = cast(ds, k);
        for &step in STEPS {
            let before = core
                .engine
                .sqlite_store()
                .unwrap()
                .with_connection(|conn| Ok(db_state(conn)))
                .unwrap();
            core.run(step, k, &c);
            let engine = core
                .engine
                .sqlite_store()
                .unwrap()
                .with_connection(|conn| Ok(written_since(conn, &before)))
                .unwrap();
            let before = db_state(&raw.conn);
            raw.run(step, k, &c);
            let baseline = written_since(&raw.conn, &before);
            if engine != baseline {
                out.push(format!(
                    "conversation {k}, {}:\n  engine:   {:?}\n  baseline: {:?}",
                    step.name(),
                    engine,
                    baseline
                ));
            }
        }
    }
    drop((core, raw));
    for p in &paths {
        crate::remove_db(p);
    }
    out
}
