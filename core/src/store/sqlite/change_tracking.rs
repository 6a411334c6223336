//! Change tracking of the writer connection: which rows the running transaction touched, for
//! `events::publish` to turn into events before the transaction commits.
//!
//! SQLite's pre-update hook (`sqlite3_preupdate_hook`) reports every row about to be inserted,
//! updated or deleted on the connection, with its old and new values; the hook below keeps the
//! rows a resource shows as [`Dirty`] entries in memory. It replaced TEMP triggers writing into a
//! TEMP table (until 2026-12-03): a trigger is a sub-program SQLite runs for each row, and its
//! table was written, read back and emptied in every transaction — about 12 % of a message
//! send's instructions, against about 2 % for the hook (`docs/PERFORMANCE.md`, "Eighth
//! session").
//!
//! What is recorded:
//! - a chat inserted, or updated in any column but the event bookkeeping (`event_state`,
//!   `last_event_seq`, 0006) and the idle sweep's index key (`activity_minute`, 0009);
//! - a membership inserted, or updated in any column but `event_state` (and its chat, whose
//!   counts and pending state follow its memberships);
//! - a message inserted or updated; a tag added or removed; an invitation or reply suggestion
//!   inserted or updated;
//! - a user or visitor whose presence (`present_until`) or shown attributes changed (their
//!   open chats' memberships are republished), and any change an authentication the engine
//!   remembers may rest on (tokens updated or deleted, a user deleted).
//!
//! Updates count when a value differs, not when a column is merely assigned: a statement that
//! writes the same values changes no resource, and publication compares with the last
//! published state anyway. Columns are watched unless named here as not shown, so a column
//! added by a later migration is watched without a change to this file.
//!
//! The log belongs to the writer's running operation: it is emptied when an operation begins
//! (whatever a failed operation before it left) and drained by `events::publish`, which also
//! stops the recording for the rest of the operation: what publication writes itself (change
//! rows, snapshots, chain heads, webhook deliveries) publishes nothing. Entries for rows that
//! were changed and then rolled back by a failed statement are harmless: publication finds
//! nothing new for them.

use crate::events::Dirty;
use parking_lot::Mutex;
use rusqlite::{Connection, ffi};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Arc;
use uuid::Uuid;

/// Columns of `chats` no resource shows: writing them publishes nothing.
const CHATS_NOT_SHOWN: [&str; 3] = ["event_state", "last_event_seq", "activity_minute"];
/// Columns of `memberships` no resource shows.
const MEMBERSHIPS_NOT_SHOWN: [&str; 1] = ["event_state"];
/// The user columns a membership shows (name, avatar, bot flag, deletion, organization).
const USER_SHOWN: [&str; 8] = [
    "first_name",
    "last_name",
    "alias",
    "avatar_id",
    "avatar_url",
    "is_bot",
    "is_deleted",
    "organization_id",
];

/// The rows the writer's running transaction changed, in order.
#[derive(Clone, Default)]
pub(crate) struct ChangeLog(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    entries: Vec<Dirty>,
    /// Set once publication has taken the entries: its own writes (snapshots, chain heads in
    /// chat and membership rows) change nothing shown, and comparing every column of each to
    /// find that out cost more than the rest of the tracking together.
    published: bool,
}

impl ChangeLog {
    /// Starts an operation's record: empty, recording.
    pub(crate) fn begin(&self) {
        let mut st = self.0.lock();
        st.entries.clear();
        st.published = false;
    }
    pub(crate) fn push(&self, d: Dirty) {
        self.0.lock().entries.push(d);
    }
    /// The operation's changes, for publication; nothing is recorded after this until the next
    /// operation begins.
    pub(crate) fn take_for_publication(&self) -> Vec<Dirty> {
        let mut st = self.0.lock();
        st.published = true;
        std::mem::take(&mut st.entries)
    }
}

/// Column positions (as the pre-update hook numbers them: the table's column order).
struct Layout {
    chats_watched: Vec<i32>,
    messages: Keys,
    memberships_watched: Vec<i32>,
    memberships: Keys,
    tags: Keys,
    invitations: Keys,
    suggestions: Keys,
    users_id: i32,
    users_present: i32,
    users_shown: Vec<i32>,
    users_deleted: i32,
    visitors_id: i32,
    visitors_present: i32,
    visitors_name: i32,
    presence_user: i32,
    presence_visitor: i32,
}

/// A child table's chat column and its own key column.
#[derive(Clone, Copy)]
struct Keys {
    chat_pk: i32,
    key: i32,
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([table], |r| r.get(0))?
        .collect()
}

fn position(cols: &[String], table: &str, name: &str) -> rusqlite::Result<i32> {
    cols.iter()
        .position(|c| c == name)
        .map(|i| i as i32)
        .ok_or_else(|| {
            rusqlite::Error::InvalidColumnName(format!("{table}.{name} (change tracking)"))
        })
}

impl Layout {
    fn read(conn: &Connection) -> rusqlite::Result<Self> {
        // `updated_at` first: nearly every change moves it, and the comparison stops at the
        // first difference.
        let watched = |table: &str, not_shown: &[&str]| -> rusqlite::Result<Vec<i32>> {
            let cols = columns(conn, table)?;
            let mut w: Vec<i32> = cols
                .iter()
                .enumerate()
                .filter(|(_, c)| !not_shown.contains(&c.as_str()))
                .map(|(i, _)| i as i32)
                .collect();
            let first = position(&cols, table, "updated_at")?;
            w.sort_by_key(|&i| i != first);
            Ok(w)
        };
        let keys = |table: &str, key: &str| -> rusqlite::Result<Keys> {
            let cols = columns(conn, table)?;
            Ok(Keys {
                chat_pk: position(&cols, table, "chat_pk")?,
                key: position(&cols, table, key)?,
            })
        };
        let users = columns(conn, "users")?;
        let visitors = columns(conn, "visitors")?;
        let presence = columns(conn, "presence_clients")?;
        Ok(Self {
            chats_watched: watched("chats", &CHATS_NOT_SHOWN)?,
            messages: keys("messages", "id")?,
            memberships_watched: watched("memberships", &MEMBERSHIPS_NOT_SHOWN)?,
            memberships: keys("memberships", "member_id")?,
            tags: keys("chat_tags", "name")?,
            invitations: keys("chat_invitations", "id")?,
            suggestions: keys("reply_suggestions", "id")?,
            users_id: position(&users, "users", "id")?,
            users_present: position(&users, "users", "present_until")?,
            users_shown: USER_SHOWN
                .iter()
                .map(|c| position(&users, "users", c))
                .collect::<rusqlite::Result<_>>()?,
            users_deleted: position(&users, "users", "is_deleted")?,
            visitors_id: position(&visitors, "visitors", "id")?,
            visitors_present: position(&visitors, "visitors", "present_until")?,
            visitors_name: position(&visitors, "visitors", "name")?,
            presence_user: position(&presence, "presence_clients", "user_id")?,
            presence_visitor: position(&presence, "presence_clients", "visitor_id")?,
        })
    }
}

/// A row's values, old (deleted or before an update) or new (inserted or after an update).
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// A column value as the hook reads it, borrowed for the duration of the call.
#[derive(PartialEq)]
enum Val<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// The row change the hook is called for.
struct Row {
    db: *mut ffi::sqlite3,
    op: c_int,
    old_rowid: i64,
    new_rowid: i64,
}

impl Row {
    fn is_insert(&self) -> bool {
        self.op == ffi::SQLITE_INSERT
    }
    fn is_update(&self) -> bool {
        self.op == ffi::SQLITE_UPDATE
    }
    fn is_delete(&self) -> bool {
        self.op == ffi::SQLITE_DELETE
    }
    /// The side that exists: new unless the row is being deleted.
    fn current(&self) -> Side {
        if self.is_delete() {
            Side::Old
        } else {
            Side::New
        }
    }
    fn value(&self, side: Side, col: i32) -> Option<Val<'_>> {
        let readable = match side {
            Side::Old => !self.is_insert(),
            Side::New => !self.is_delete(),
        };
        if !readable {
            return None;
        }
        let mut v: *mut ffi::sqlite3_value = std::ptr::null_mut();
        // SAFETY: called only from the pre-update hook with the connection it was given, for
        // a side the operation has (SQLite answers SQLITE_MISUSE otherwise, checked below) and a
        // column number it checks against the table (SQLITE_RANGE). The value and the bytes
        // it points to stay valid until the hook returns; `Val` borrows `self`, which does not
        // outlive the call.
        unsafe {
            let rc = match side {
                Side::Old => ffi::sqlite3_preupdate_old(self.db, col, &mut v),
                Side::New => ffi::sqlite3_preupdate_new(self.db, col, &mut v),
            };
            if rc != ffi::SQLITE_OK || v.is_null() {
                return None;
            }
            let bytes = |p: *const u8| -> &[u8] {
                let n = ffi::sqlite3_value_bytes(v);
                if p.is_null() || n <= 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(p, n as usize)
                }
            };
            Some(match ffi::sqlite3_value_type(v) {
                ffi::SQLITE_INTEGER => Val::Int(ffi::sqlite3_value_int64(v)),
                ffi::SQLITE_FLOAT => Val::Real(ffi::sqlite3_value_double(v)),
                ffi::SQLITE_TEXT => Val::Text(bytes(ffi::sqlite3_value_text(v))),
                ffi::SQLITE_BLOB => Val::Blob(bytes(ffi::sqlite3_value_blob(v).cast())),
                _ => Val::Null,
            })
        }
    }
    fn int(&self, col: i32) -> Option<i64> {
        match self.value(self.current(), col)? {
            Val::Int(i) => Some(i),
            _ => None,
        }
    }
    fn id_on(&self, side: Side, col: i32) -> Option<Uuid> {
        match self.value(side, col)? {
            Val::Blob(b) => Uuid::from_slice(b).ok(),
            _ => None,
        }
    }
    fn id(&self, col: i32) -> Option<Uuid> {
        self.id_on(self.current(), col)
    }
    fn text(&self, col: i32) -> Option<String> {
        match self.value(self.current(), col)? {
            Val::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            _ => None,
        }
    }
    /// The row's rowid (a chat's `pk`).
    fn rowid(&self) -> i64 {
        if self.is_delete() {
            self.old_rowid
        } else {
            self.new_rowid
        }
    }
    /// Whether an update changes one of `cols` (an unreadable value counts as a change).
    fn changes_any(&self, cols: &[i32]) -> bool {
        cols.iter().any(
            |&c| match (self.value(Side::Old, c), self.value(Side::New, c)) {
                (Some(a), Some(b)) => a != b,
                _ => true,
            },
        )
    }
}

/// What one row change means for publication (pushed onto `out`).
fn record(l: &Layout, table: &str, row: &Row, out: &mut Vec<Dirty>) {
    let child = |k: Keys| Some((row.int(k.chat_pk)?, row.id(k.key)?));
    match table {
        "chats" if row.is_insert() || (row.is_update() && row.changes_any(&l.chats_watched)) => {
            out.push(Dirty::Chat(row.rowid()));
        }
        "messages" => {
            if let Some((chat_pk, id)) = child(l.messages) {
                if row.is_insert() {
                    out.push(Dirty::Message { chat_pk, id });
                } else if row.is_update() {
                    out.push(Dirty::MessageChanged { chat_pk, id });
                }
            }
        }
        "memberships" => {
            if (row.is_insert() || (row.is_update() && row.changes_any(&l.memberships_watched)))
                && let Some((chat_pk, member)) = child(l.memberships)
            {
                out.push(Dirty::Membership { chat_pk, member });
                out.push(Dirty::Chat(chat_pk));
            }
        }
        "chat_tags" => {
            let k = l.tags;
            if let (Some(chat_pk), Some(name)) = (row.int(k.chat_pk), row.text(k.key)) {
                if row.is_insert() {
                    out.push(Dirty::TagAdded { chat_pk, name });
                } else if row.is_delete() {
                    out.push(Dirty::TagRemoved { chat_pk, name });
                }
            }
        }
        "chat_invitations" => {
            if !row.is_delete()
                && let Some((_, id)) = child(l.invitations)
            {
                out.push(Dirty::Invitation(id));
            }
        }
        "reply_suggestions" => {
            if !row.is_delete()
                && let Some((_, id)) = child(l.suggestions)
            {
                out.push(Dirty::Suggestion(id));
            }
        }
        "users" => {
            if row.is_delete() {
                out.push(Dirty::Credentials);
            } else if row.is_update()
                && let Some(id) = row.id(l.users_id)
            {
                if row.changes_any(&[l.users_present]) {
                    out.push(Dirty::Presence(id));
                }
                if row.changes_any(&l.users_shown) {
                    out.push(Dirty::Member(id));
                }
                if row.changes_any(&[l.users_deleted]) {
                    out.push(Dirty::Credentials);
                }
            }
        }
        "visitors" => {
            if row.is_update()
                && let Some(id) = row.id(l.visitors_id)
            {
                if row.changes_any(&[l.visitors_present]) {
                    out.push(Dirty::Presence(id));
                }
                if row.changes_any(&[l.visitors_name]) {
                    out.push(Dirty::Member(id));
                }
            }
        }
        "presence_clients" => {
            if row.is_delete()
                && let Some(id) = row
                    .id_on(Side::Old, l.presence_user)
                    .or_else(|| row.id_on(Side::Old, l.presence_visitor))
            {
                out.push(Dirty::Presence(id));
            }
        }
        "api_tokens" | "visitor_tokens" if row.is_update() || row.is_delete() => {
            out.push(Dirty::Credentials);
        }
        _ => {}
    }
}

/// What the hook holds: owned by the connection (its client data), freed when it closes.
struct Hook {
    layout: Layout,
    log: ChangeLog,
}

/// The pre-update hook (see the module docs).
unsafe extern "C" fn on_row_change(
    ctx: *mut c_void,
    db: *mut ffi::sqlite3,
    op: c_int,
    db_name: *const c_char,
    table: *const c_char,
    old_rowid: i64,
    new_rowid: i64,
) {
    // No panic may cross into SQLite's C frames (none is expected: nothing below unwraps).
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `ctx` is the `Hook` installed with this callback; the connection owns it
        // and frees it only when closed, after which SQLite calls no hook. SQLite passes the
        // schema and table names as NUL-terminated strings valid for the call.
        let (hook, db_name, table) = unsafe {
            (
                &*(ctx as *const Hook),
                CStr::from_ptr(db_name),
                CStr::from_ptr(table),
            )
        };
        if db_name.to_bytes() != b"main" {
            return;
        }
        let Ok(table) = table.to_str() else {
            return;
        };
        let row = Row {
            db,
            op,
            old_rowid,
            new_rowid,
        };
        let mut st = hook.log.0.lock();
        if !st.published {
            record(&hook.layout, table, &row, &mut st.entries);
        }
    });
}

/// Frees the `Hook` when its connection closes.
unsafe extern "C" fn free_hook(p: *mut c_void) {
    // SAFETY: `p` is the pointer `install` made with `Box::into_raw`, given to SQLite once.
    drop(unsafe { Box::from_raw(p as *mut Hook) });
}

const HOOK_NAME: &CStr = c"chat_engine_change_tracking";

/// Starts recording the changes of `conn` (the writer, its schema migrated) into a new log.
///
/// SQLite must be built with `SQLITE_ENABLE_PREUPDATE_HOOK` (`.cargo/config.toml` sets it for
/// the bundled build; the WebAssembly build's SQLite has it): rusqlite's own wrapper of the
/// hook is behind a feature that generates SQLite's bindings with bindgen at build time, which
/// needs libclang on every machine that builds the engine.
pub(crate) fn install(conn: &Connection) -> rusqlite::Result<ChangeLog> {
    let log = ChangeLog::default();
    let hook = Box::into_raw(Box::new(Hook {
        layout: Layout::read(conn)?,
        log: log.clone(),
    }));
    // SAFETY: the handle is the open connection's; SQLite keeps `hook` as the connection's
    // client data and calls `free_hook` on it exactly once (when replaced or when the
    // connection closes), and passes it to `on_row_change`, which only reads it. If storing
    // it fails, SQLite has already called the destructor.
    unsafe {
        let db = conn.handle();
        let rc = ffi::sqlite3_set_clientdata(db, HOOK_NAME.as_ptr(), hook.cast(), Some(free_hook));
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("cannot keep the change tracking on the connection".into()),
            ));
        }
        ffi::sqlite3_preupdate_hook(db, Some(on_row_change), hook.cast());
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    /// A value of the column's type that differs from whatever it holds (SQL expression).
    fn other_value(col: &str, ty: &str) -> String {
        match ty {
            "INTEGER" => format!("coalesce({col}, 0) + 1"),
            "REAL" => format!("coalesce({col}, 0.0) + 1.5"),
            "TEXT" => format!("coalesce({col}, '') || 'x'"),
            _ => "randomblob(16)".to_string(),
        }
    }

    /// Inserts one row with every NOT NULL column given (checks and foreign keys are off).
    fn insert_row(c: &Connection, table: &str) {
        let cols: Vec<(String, String, bool)> = c
            .prepare("SELECT name, type, \"notnull\" FROM pragma_table_info(?1)")
            .unwrap()
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let given: Vec<&(String, String, bool)> = cols.iter().filter(|c| c.2).collect();
        let names: Vec<&str> = given.iter().map(|c| c.0.as_str()).collect();
        let values: Vec<&str> = given
            .iter()
            .map(|c| match c.1.as_str() {
                "INTEGER" => "1",
                "REAL" => "1.0",
                "TEXT" => "'t'",
                _ => "randomblob(16)",
            })
            .collect();
        c.execute(
            &format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                values.join(", ")
            ),
            [],
        )
        .unwrap();
    }

    /// An in-memory store with one row in each table (checks and foreign keys off).
    fn store_with_rows(tables: &[&str]) -> SqliteStore {
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .with_connection(|c| {
                c.execute_batch(
                    "PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON;",
                )?;
                for t in tables {
                    insert_row(c, t);
                }
                Ok(())
            })
            .unwrap();
        store
    }

    /// Every column of a chat or membership row is watched but the named bookkeeping ones: a
    /// column a later migration adds is watched without a change here (the TEMP triggers this
    /// replaced listed the watched columns, and a new column left out of the list would have
    /// changed without an event). Writing a value equal to the stored one records nothing.
    #[test]
    fn every_column_but_the_event_bookkeeping_is_watched() {
        let store = store_with_rows(&["chats", "memberships"]);
        store
            .with_connection(|c| {
                c.execute(
                    "UPDATE memberships SET chat_pk = (SELECT pk FROM chats)",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        // Written out, not taken from the constants: a shown column added to them by mistake
        // must fail here.
        for (table, not_shown) in [
            (
                "chats",
                &["event_state", "last_event_seq", "activity_minute"][..],
            ),
            ("memberships", &["event_state"][..]),
        ] {
            let cols: Vec<(String, String)> = store
                .with_connection(|c| {
                    Ok(c.prepare("SELECT name, type FROM pragma_table_info(?1)")?
                        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?)
                })
                .unwrap();
            for n in not_shown {
                assert!(cols.iter().any(|(c, _)| c == n), "{table}.{n} exists");
            }
            for (col, ty) in &cols {
                if table == "chats" && col == "pk" {
                    continue; // the rowid: a chat's identity, never updated
                }
                store.changes.begin();
                store
                    .with_connection(|c| {
                        c.execute(
                            &format!("UPDATE {table} SET {col} = {}", other_value(col, ty)),
                            [],
                        )?;
                        Ok(())
                    })
                    .unwrap();
                let recorded = store.changes.take_for_publication();
                let watched = !not_shown.contains(&col.as_str());
                assert_eq!(
                    recorded.iter().any(|d| matches!(d, Dirty::Chat(_))),
                    watched,
                    "{table}.{col}: {recorded:?}"
                );
                if table == "memberships" {
                    assert_eq!(
                        recorded
                            .iter()
                            .any(|d| matches!(d, Dirty::Membership { .. })),
                        watched,
                        "{table}.{col}: {recorded:?}"
                    );
                }
                store.changes.begin();
                store
                    .with_connection(|c| {
                        c.execute(&format!("UPDATE {table} SET {col} = {col}"), [])?;
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(
                    store.changes.take_for_publication(),
                    vec![],
                    "{table}.{col} set to itself"
                );
            }
        }
    }

    /// Once publication has taken an operation's changes, what it writes itself is not
    /// recorded; the next operation records again.
    #[test]
    fn publication_writes_are_not_recorded_until_the_next_operation() {
        let store = store_with_rows(&["chats"]);
        let touch = || {
            store
                .with_connection(|c| {
                    c.execute("UPDATE chats SET updated_at = updated_at + 1", [])?;
                    Ok(())
                })
                .unwrap();
        };
        store.changes.begin();
        touch();
        assert_eq!(store.changes.take_for_publication().len(), 1);
        touch();
        assert_eq!(store.changes.take_for_publication(), vec![]);
        store.changes.begin();
        touch();
        assert_eq!(store.changes.take_for_publication().len(), 1);
    }
}
