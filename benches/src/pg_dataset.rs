//! The dataset on PostgreSQL: the rows of the SQLite file copied into a schema of their own,
//! so that both stores serve the same chats, messages and event log and the figures compare
//! like with like (building it again through the engine on PostgreSQL would take an hour at
//! the reference size and give other ids).
//!
//! The copy goes table by table, column by column, by the names both schemas share (the
//! PostgreSQL schema is the SQLite one in PostgreSQL types, see `core/migrations-postgres`):
//! 16-byte id BLOBs become UUIDs, other BLOBs BYTEA, the rest as they are. It runs with
//! foreign-key triggers off (`session_replication_role = replica`, which needs a superuser,
//! as a throwaway cluster's `postgres` user is) and sets identity counters past the copied
//! rows.

use crate::Dataset;
use chat_core::Engine;
use chat_core::store::postgres::ScratchSchema;
use postgres::{Client, NoTls};
use rusqlite::types::ValueRef;
use std::io::Write;

/// A new schema in the database `base` connects to, migrated by the engine and holding the
/// dataset's rows; dropped with them when the returned value is.
pub fn copy_to_postgres(ds: &Dataset, base: &str) -> ScratchSchema {
    let schema = ScratchSchema::create(base).expect("a schema");
    // The engine creates the tables, as it would for a server.
    drop(
        Engine::builder()
            .open_postgres(&schema.url())
            .expect("migrate the schema"),
    );
    let src =
        rusqlite::Connection::open_with_flags(&ds.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the dataset");
    let mut pg = Client::connect(&schema.url(), NoTls).expect("connect");
    let tables: Vec<String> = pg
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name <> 'schema_version' \
             ORDER BY table_name",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut tx = pg.transaction().expect("transaction");
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .expect("foreign-key triggers off (superuser)");
    for table in &tables {
        let in_sqlite: Vec<String> = {
            let mut q = src
                .prepare("SELECT name FROM pragma_table_info(?1)")
                .expect("table info");
            q.query_map([table], |r| r.get(0))
                .expect("columns")
                .map(|c| c.expect("column"))
                .collect()
        };
        if in_sqlite.is_empty() {
            continue;
        }
        let columns: Vec<(String, String)> = tx
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
                &[table],
            )
            .expect("columns")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .filter(|(name, _): &(String, String)| in_sqlite.contains(name))
            .collect();
        let list = columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        tx.batch_execute(&format!("DELETE FROM \"{table}\""))
            .expect("empty the table");
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            tx.copy_in(&format!("COPY \"{table}\" ({list}) FROM STDIN"))
                .expect("copy in"),
        );
        let mut q = src
            .prepare(&format!("SELECT {list} FROM \"{table}\""))
            .expect("select");
        let mut rows = q.query([]).expect("rows");
        let mut line = String::new();
        while let Some(row) = rows.next().expect("row") {
            line.clear();
            for (i, (_, ty)) in columns.iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                copy_text(&mut line, row.get_ref(i).expect("value"), ty);
            }
            line.push('\n');
            out.write_all(line.as_bytes()).expect("write");
        }
        out.into_inner()
            .map_err(|e| e.into_error())
            .expect("flush")
            .finish()
            .expect("copy");
    }
    // Identity columns go on after the copied rows.
    let identities: Vec<(String, String)> = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .expect("identity columns")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (table, column) in identities {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), \
             coalesce((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        ))
        .expect("identity");
    }
    tx.commit().expect("commit the copy");
    pg.batch_execute("VACUUM ANALYZE").expect("vacuum analyze");
    schema
}

/// One value in COPY's text format, as a column of PostgreSQL type `ty`.
fn copy_text(line: &mut String, value: ValueRef<'_>, ty: &str) {
    use std::fmt::Write;
    match value {
        ValueRef::Null => line.push_str("\\N"),
        ValueRef::Integer(i) => {
            let _ = write!(line, "{i}");
        }
        ValueRef::Real(f) => {
            let _ = write!(line, "{f:?}");
        }
        ValueRef::Blob(b) if ty == "uuid" => {
            let id = uuid::Uuid::from_slice(b).expect("a 16-byte id");
            let _ = write!(line, "{id}");
        }
        ValueRef::Blob(b) => {
            // `\x` + hex, its backslash doubled by COPY's escaping.
            line.push_str("\\\\x");
            for byte in b {
                let _ = write!(line, "{byte:02x}");
            }
        }
        ValueRef::Text(t) => {
            for ch in String::from_utf8_lossy(t).chars() {
                match ch {
                    '\\' => line.push_str("\\\\"),
                    '\t' => line.push_str("\\t"),
                    '\n' => line.push_str("\\n"),
                    '\r' => line.push_str("\\r"),
                    c => line.push(c),
                }
            }
        }
    }
}
