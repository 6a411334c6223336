//! Which parts of the chat SELECT make SQLite re-prepare it when bindings change?
use rusqlite::{Connection, StatementStatus};

fn count(conn: &Connection, sql: &str, nparams: usize) -> i32 {
    let mut st = conn.prepare(sql).unwrap();
    for i in 0..5i64 {
        let params: Vec<i64> = (0..nparams).map(|k| i * 1000 + k as i64).collect();
        let mut rows = st.query(rusqlite::params_from_iter(params)).unwrap();
        while rows.next().unwrap().is_some() {}
    }
    st.get_status(StatementStatus::RePrepare)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    drop(chat_core::Engine::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let cases = [
        (
            "left join, pk",
            "SELECT c.pk, r.name FROM chats c LEFT JOIN rooms r ON r.id = c.room_id WHERE c.pk = ?1",
            1,
        ),
        (
            "inner join, pk",
            "SELECT c.pk, r.name FROM chats c JOIN rooms r ON r.id = c.room_id WHERE c.pk = ?1",
            1,
        ),
        (
            "left join, id",
            "SELECT c.pk, r.name FROM chats c LEFT JOIN rooms r ON r.id = c.room_id WHERE c.id = ?1",
            1,
        ),
        (
            "scalar subquery",
            "SELECT c.pk, (SELECT r.name FROM rooms r WHERE r.id = c.room_id) FROM chats c WHERE c.pk = ?1",
            1,
        ),
        (
            "left join users",
            "SELECT m.seq, u.first_name FROM messages m LEFT JOIN users u ON m.sender_type = 'user' AND u.id = m.sender_id WHERE m.chat_pk = ?1 AND m.seq = ?2",
            2,
        ),
        (
            "left join, pk, unlikely",
            "SELECT c.pk, r.name FROM chats c LEFT JOIN rooms r ON r.id = c.room_id WHERE c.pk = +?1",
            1,
        ),
    ];
    for (name, sql, n) in cases {
        println!("{:>3} reprepares  {name}", count(&conn, sql, n));
    }
}
