//! Diagnostic: the statements one message send runs, with the ones that build an ephemeral
//! table (a fresh page cache per execution) marked. `cargo run --release -p chat-benches
//! --example statements`
use chat_core::Engine;
use std::sync::Mutex;

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
static PROFILE: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

unsafe extern "C" fn profile(
    _mask: std::os::raw::c_uint,
    _ctx: *mut std::os::raw::c_void,
    stmt: *mut std::os::raw::c_void,
    ns: *mut std::os::raw::c_void,
) -> std::os::raw::c_int {
    let sql = unsafe {
        std::ffi::CStr::from_ptr(rusqlite::ffi::sqlite3_sql(
            stmt as *mut rusqlite::ffi::sqlite3_stmt,
        ))
    };
    let ns = unsafe { *(ns as *const i64) } as u64;
    PROFILE
        .lock()
        .unwrap()
        .push((sql.to_string_lossy().into_owned(), ns));
    0
}

unsafe extern "C" fn record(
    _mask: std::os::raw::c_uint,
    _ctx: *mut std::os::raw::c_void,
    _stmt: *mut std::os::raw::c_void,
    sql: *mut std::os::raw::c_void,
) -> std::os::raw::c_int {
    let sql = unsafe { std::ffi::CStr::from_ptr(sql as *const std::os::raw::c_char) };
    SEEN.lock()
        .unwrap()
        .push(sql.to_string_lossy().into_owned());
    0
}

fn trace(engine: &Engine, on: bool) {
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            let cb = if on { Some(record as _) } else { None };
            unsafe {
                rusqlite::ffi::sqlite3_trace_v2(
                    c.handle(),
                    rusqlite::ffi::SQLITE_TRACE_STMT as _,
                    cb,
                    std::ptr::null_mut(),
                )
            };
            Ok(())
        })
        .unwrap();
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    // `--dataset`: user sends round the chats of a copy of the benchmark dataset
    // (CHAT_BENCH_SCALE), as the criterion benchmark does; else one chat of a fresh database.
    let on_dataset = std::env::args().any(|a| a == "--dataset");
    let sends = chat_benches::UserSends::new(tmp.path(), on_dataset.then_some("statements-core"));
    let engine = &sends.engine;
    let send = |i: usize| sends.send(i);
    send(0);
    trace(engine, true);
    let before = chat_benches::pages_written(engine);
    send(1);
    let after = chat_benches::pages_written(engine);
    trace(engine, false);
    let seen = SEEN.lock().unwrap().clone();
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            for sql in &seen {
                let eph = sql.trim_start().starts_with("SELECT") || sql.contains("WHERE");
                let mut mark = "";
                if eph
                    && !sql.starts_with("--")
                    && let Ok(mut st) = c.prepare(&format!("EXPLAIN {sql}"))
                {
                    let mut ops: Vec<String> = Vec::new();
                    let mut rows = st.raw_query();
                    while let Some(r) = rows.next().unwrap() {
                        ops.push(r.get(1).unwrap());
                    }
                    if ops.iter().any(|o| o == "OpenEphemeral") {
                        mark = "EPHEMERAL ";
                    }
                }
                println!("{mark}{}", sql.replace('\n', " "));
            }
            Ok(())
        })
        .unwrap();
    println!(
        "{} statements, {} pages written",
        seen.len(),
        after - before
    );
    // Which b-trees those pages belong to: an empty WAL, one more send, then its frames.
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            c.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .unwrap();
    send(7);
    let db = engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| Ok(c.path().unwrap_or_default().to_string()))
        .unwrap();
    let wal = std::fs::read(format!("{db}-wal")).unwrap();
    let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    let mut frames = Vec::new();
    let mut off = 32;
    while off + 24 + page_size <= wal.len() {
        frames.push(u32::from_be_bytes(wal[off..off + 4].try_into().unwrap()));
        off += 24 + page_size;
    }
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            for p in &frames {
                let name: String = c
                    .query_row("SELECT name FROM dbstat WHERE pageno = ?1", [p], |r| {
                        r.get(0)
                    })
                    .unwrap_or_else(|_| "?".into());
                println!("WAL frame: page {p} of {name}");
            }
            c.execute_batch("PRAGMA wal_autocheckpoint = 1000")?;
            Ok(())
        })
        .unwrap();
    // Time per statement over many sends.
    engine
        .sqlite_store()
        .unwrap()
        .with_connection(|c| {
            unsafe {
                rusqlite::ffi::sqlite3_trace_v2(
                    c.handle(),
                    rusqlite::ffi::SQLITE_TRACE_PROFILE as _,
                    Some(profile as _),
                    std::ptr::null_mut(),
                )
            };
            Ok(())
        })
        .unwrap();
    let n = 3000;
    let t = std::time::Instant::now();
    for i in 0..n {
        send(i + 2);
    }
    let total = t.elapsed().as_nanos() as u64 / n as u64;
    let mut by: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (sql, ns) in PROFILE.lock().unwrap().iter() {
        let e = by.entry(sql.chars().take(110).collect()).or_default();
        e.0 += 1;
        e.1 += ns;
    }
    let mut rows: Vec<_> = by.into_iter().collect();
    rows.sort_by_key(|(_, (_, ns))| std::cmp::Reverse(*ns));
    let mut sql_total = 0;
    for (sql, (count, ns)) in &rows {
        sql_total += ns;
        println!(
            "{:>7.1} µs/send {:>5.2}/send  {sql}",
            *ns as f64 / n as f64 / 1000.0,
            *count as f64 / n as f64
        );
    }
    println!(
        "send: {:.1} µs, of which SQL {:.1} µs",
        total as f64 / 1000.0,
        sql_total as f64 / n as f64 / 1000.0
    );
}
