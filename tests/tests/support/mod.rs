//! Drives a real `chat-server` process over loopback HTTP.
//!
//! The binary is found next to the test executable (`target/<profile>/chat-server`), or at
//! `$CHAT_SERVER_BIN`. `cargo test --workspace` builds it (the server package has an
//! integration test); for `cargo test -p chat-tests` alone run `cargo build -p chat-server`
//! first (scripts/test.sh does).
//!
//! The servers keep their data in a SQLite file, `chat.db` in the test's directory; with
//! `CHAT_TEST_STORE=postgres` each server gets a schema of its own in the PostgreSQL database
//! `CHAT_TEST_POSTGRES` names (scripts/test.sh runs the HTTP suites both ways).
#![allow(dead_code)]

pub mod world;

use chat_core::store::postgres::ScratchSchema;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "admin-token-for-tests-0123456789";

/// Polls `condition` until it holds; fails the test after `timeout`. For what a test cannot be
/// told directly (another process's log, a delivery on its own schedule): the deadline is
/// generous, and the test goes on as soon as the condition holds.
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CHAT_SERVER_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/chat-server
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let bin = dir.join(format!("chat-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p chat-server` first (or set CHAT_SERVER_BIN)",
        bin.display()
    );
    bin
}

/// Whether the servers under test run on PostgreSQL (`CHAT_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("CHAT_TEST_STORE").is_ok_and(|s| s == "postgres")
}

/// A new schema for one server, on PostgreSQL runs.
fn new_schema() -> Option<ScratchSchema> {
    on_postgres().then(|| {
        let base = std::env::var("CHAT_TEST_POSTGRES")
            .expect("CHAT_TEST_STORE=postgres needs CHAT_TEST_POSTGRES (a postgres:// URL)");
        ScratchSchema::create(&base).expect("a scratch schema")
    })
}

/// The `--db` argument: the file, or the schema's connection string.
fn db_arg(db: &Path, pg: Option<&ScratchSchema>) -> OsString {
    match pg {
        Some(schema) => schema.url().into(),
        None => db.as_os_str().to_owned(),
    }
}

fn spawn_server(
    dir: &Path,
    db: &Path,
    pg: Option<&ScratchSchema>,
    cmd: &str,
    extra: &[&str],
) -> (Child, String, Vec<String>) {
    // PostgreSQL has no file to put the master key beside: the place SQLite's default would
    // choose is named explicitly, so that tests find it at the same path on both stores.
    let mut key_file = vec![];
    if pg.is_some() && !extra.contains(&"--master-key-file") {
        let mut name = db.as_os_str().to_owned();
        name.push(".master-key");
        key_file = vec![OsString::from("--master-key-file"), name];
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("log file");
    let mut child = Command::new(server_bin())
        .arg(cmd)
        .arg("--db")
        .arg(db_arg(db, pg))
        .args(["--listen", "127.0.0.1:0", "--admin-token", ADMIN])
        .args(extra)
        .args(key_file)
        .env_remove("CHAT_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn chat-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = vec![];
    let base = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(addr) = l.strip_prefix("chat-server listening on ") {
                    break addr.trim().to_string();
                }
                banner.push(l);
            }
            _ => panic!("chat-server exited before listening; output: {banner:?}"),
        }
    };
    // Keep draining stdout so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    (child, base, banner)
}

/// A running server on a temporary database.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    /// The SQLite file (on PostgreSQL runs, only the place the master key file is named after).
    pub db: PathBuf,
    /// The server's schema on PostgreSQL runs.
    pub pg: Option<ScratchSchema>,
    /// What the server printed before it listened (the demo's text).
    pub banner: Vec<String>,
    client: reqwest::blocking::Client,
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// Asserts the status and, for errors, the contract's error body with `code`.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        if status >= 400 {
            assert_error_body(&self.body);
        }
        &self.body
    }
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Value {
        self.expect(status);
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        &self.body
    }
}

#[track_caller]
pub fn assert_error_body(b: &Value) {
    let o = b
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {b}"));
    assert!(
        o["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail: {b}"
    );
    let code = o["code"].as_str().unwrap_or_else(|| panic!("code: {b}"));
    assert!(
        !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "code must be snake_case: {b}"
    );
    for k in o.keys() {
        assert!(
            ["detail", "code", "errors"].contains(&k.as_str()),
            "extra key {k}: {b}"
        );
    }
    if let Some(e) = o.get("errors") {
        for (_, v) in e.as_object().expect("errors object") {
            assert!(v.as_array().is_some_and(|a| a.iter().all(Value::is_string)));
        }
    }
}

impl Server {
    /// A server on a fresh database loaded with `seed` (through `chat-server seed`).
    pub fn with_seed(seed: &Value) -> Self {
        Self::with_seed_and(seed, &[])
    }

    /// [`Server::with_seed`], served with `extra` options.
    pub fn with_seed_and(seed: &Value, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("chat.db");
        let file = dir.path().join("seed.json");
        std::fs::write(&file, serde_json::to_vec(seed).expect("seed json")).expect("write seed");
        let pg = new_schema();
        let out = Command::new(server_bin())
            .args(["seed", "--db"])
            .arg(db_arg(&db, pg.as_ref()))
            .arg(&file)
            .output()
            .expect("run seed");
        assert!(
            out.status.success(),
            "seed failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self::start_on(dir, db, pg, "serve", extra)
    }

    /// `chat-server <cmd> --db <db> --listen 127.0.0.1:0 --admin-token ADMIN <extra>` (on
    /// PostgreSQL runs, `--db` is a new schema).
    pub fn start_in(dir: tempfile::TempDir, db: PathBuf, cmd: &str, extra: &[&str]) -> Self {
        Self::start_on(dir, db, new_schema(), cmd, extra)
    }

    /// `chat-server <cmd>` on the database `url` names, whatever `CHAT_TEST_STORE` says: several
    /// servers on one PostgreSQL database.
    pub fn start_on_database(dir: tempfile::TempDir, url: &str, cmd: &str, extra: &[&str]) -> Self {
        Self::start_on(dir, PathBuf::from(url), None, cmd, extra)
    }

    fn start_on(
        dir: tempfile::TempDir,
        db: PathBuf,
        pg: Option<ScratchSchema>,
        cmd: &str,
        extra: &[&str],
    ) -> Self {
        let (child, base, banner) = spawn_server(dir.path(), &db, pg.as_ref(), cmd, extra);
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Server {
            child,
            base,
            dir,
            db,
            pg,
            banner,
            client,
        }
    }

    /// Stops the server (SIGTERM) and serves the same database again (on a new port).
    pub fn restart(&mut self, extra: &[&str]) {
        self.terminate();
        let (child, base, banner) =
            spawn_server(self.dir.path(), &self.db, self.pg.as_ref(), "serve", extra);
        self.child = child;
        self.base = base;
        self.banner = banner;
    }

    /// Serves the same database again after the server died (killed, not stopped).
    pub fn respawn(&mut self, extra: &[&str]) {
        self.wait_exit();
        let (child, base, banner) =
            spawn_server(self.dir.path(), &self.db, self.pg.as_ref(), "serve", extra);
        self.child = child;
        self.base = base;
        self.banner = banner;
    }

    /// Kills the server (SIGKILL): no shutdown, no checkpoint, requests cut mid-way.
    pub fn send_sigkill(&self) {
        let ok = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// Every byte the server's database holds: the SQLite file with its journals, or on
    /// PostgreSQL every row of the schema's tables in COPY's binary form (text and bytea
    /// columns as their raw bytes). What a scan for plaintext reads.
    pub fn stored_bytes(&self) -> Vec<u8> {
        let Some(schema) = &self.pg else {
            let mut all = std::fs::read(&self.db).expect("database file");
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut name = self.db.as_os_str().to_owned();
                name.push(suffix);
                if let Ok(b) = std::fs::read(PathBuf::from(name)) {
                    all.extend_from_slice(&b);
                }
            }
            return all;
        };
        let mut client =
            postgres::Client::connect(&schema.url(), postgres::NoTls).expect("connect");
        let tables: Vec<String> = client
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
                &[],
            )
            .expect("tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut all = vec![];
        for table in tables {
            let mut out = client
                .copy_out(&format!("COPY \"{table}\" TO STDOUT (FORMAT binary)"))
                .expect("copy out");
            std::io::Read::read_to_end(&mut out, &mut all).expect("rows");
        }
        all
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A request with optional `Authorization: Token <token>` and JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut headers = vec![];
        let auth;
        if let Some(t) = token {
            auth = format!("Token {t}");
            headers.push(("Authorization", auth.as_str()));
        }
        let bytes = body.map(|b| serde_json::to_vec(b).expect("body"));
        if bytes.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.raw(method, path, &headers, bytes)
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        self.try_raw(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`Server::raw`], but a transport failure (the server closed the connection) is
    /// returned instead of failing the test.
    pub fn try_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Resp, reqwest::Error> {
        self.request_on(&self.client, method, path, headers, body)
    }

    /// Like [`Server::try_raw`], on a connection of its own that no later request reuses: for
    /// a request after which the server closes the connection (the shared client's pool could
    /// otherwise hand that closed connection to the next request).
    pub fn try_raw_alone(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Resp, reqwest::Error> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        self.request_on(&client, method, path, headers, body)
    }

    fn request_on(
        &self,
        client: &reqwest::blocking::Client,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Resp, reqwest::Error> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client.request(m, self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let res = req.send()?;
        let status = res.status().as_u16();
        let text = res.text()?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Ok(Resp { status, body, text })
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None)
    }
    pub fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("POST", path, Some(token), Some(&body))
    }
    pub fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(token), Some(&body))
    }
    pub fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(token), Some(&body))
    }
    pub fn delete(&self, path: &str, token: &str) -> Resp {
        self.call("DELETE", path, Some(token), None)
    }

    /// Every item of a collection, in order, following its `next` links from pages of 100.
    pub fn get_all(&self, path: &str, token: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut all = vec![];
        let mut next = Some(format!("{path}{sep}page_size=100"));
        while let Some(url) = next {
            let page = self.get(&url, token).expect(200).clone();
            all.extend(page["results"].as_array().expect("results").iter().cloned());
            next = page["next"].as_str().map(str::to_string);
        }
        all
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_exit()
    }

    /// Sends SIGTERM (the server logs "shutting down" once it has it).
    pub fn send_sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// Waits (at most 20 s) for the server to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A visitor that authenticated, entered `room` and started a chat there, optionally with a
    /// first `msg` (which makes the chat waiting). Returns (visitor id, token, chat id).
    pub fn visitor_chat(
        &self,
        org: &str,
        room: &str,
        first_message: Option<&str>,
    ) -> (String, String, String) {
        let auth = self.call(
            "POST",
            &format!("/api/v5/public/orgs/{org}/auth"),
            None,
            Some(&json!({})),
        );
        let auth = auth.expect(200).clone();
        let vid = auth["visitor_id"].as_str().expect("visitor_id").to_string();
        let vt = auth["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        self.post(
            &format!("/api/v5/public/orgs/{org}/rooms/{room}/visitors"),
            &vt,
            json!({"id": vid, "presence_expires_in": 3600}),
        )
        .expect(201);
        let chat = self.post(
            &format!("/api/v5/public/orgs/{org}/rooms/{room}/visitors/{vid}/chats"),
            &vt,
            json!({}),
        );
        let chat_id = chat.expect(201)["id"]
            .as_str()
            .expect("chat id")
            .to_string();
        if let Some(m) = first_message {
            self.post(
                &format!("/api/v5/public/visitors/{vid}/chats/{chat_id}/messages"),
                &vt,
                json!({"type": "msg", "message": m}),
            )
            .expect(201);
        }
        (vid, vt, chat_id)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the standard fixture --------------------------------------------------------------------

pub const ORG_A: &str = "7f9e9580-095b-42c7-838c-c04e667b26f7";
pub const ORG_B: &str = "b0000000-0000-4000-8000-000000000001";
pub const ORG_C: &str = "c0000000-0000-4000-8000-000000000001";
pub const ORG_P: &str = "d0000000-0000-4000-8000-000000000001";
pub const ORG_H: &str = "e0000000-0000-4000-8000-000000000001";

pub const ANN: &str = "a0000000-0000-4000-8000-0000000000a1";
pub const BOB: &str = "a0000000-0000-4000-8000-0000000000b0";
pub const CAT: &str = "a0000000-0000-4000-8000-0000000000c4";
pub const DAN: &str = "a0000000-0000-4000-8000-0000000000d4";
pub const BEA: &str = "b0000000-0000-4000-8000-0000000000be";
pub const CID: &str = "c0000000-0000-4000-8000-0000000000c1";
pub const PAM: &str = "d0000000-0000-4000-8000-0000000000a3";
pub const HAL: &str = "e0000000-0000-4000-8000-0000000000a1";
pub const HUE: &str = "e0000000-0000-4000-8000-0000000000e0";

pub const ANN_T: &str = "ann-token-0123456789";
pub const BOB_T: &str = "bob-token-0123456789";
pub const CAT_T: &str = "cat-token-0123456789";
pub const DAN_T: &str = "dan-token-0123456789";
pub const BEA_T: &str = "bea-token-0123456789";
pub const CID_T: &str = "cid-token-0123456789";
pub const PAM_T: &str = "pam-token-0123456789";
pub const HAL_T: &str = "hal-token-0123456789";
pub const HUE_T: &str = "hue-token-0123456789";

pub const TEAM_A: &str = "a0000000-0000-4000-8000-00000000ea01";
pub const ROOM_A1: &str = "a0000000-0000-4000-8000-0000000000f1";
pub const ROOM_A2: &str = "a0000000-0000-4000-8000-0000000000f2";
pub const ROOM_B1: &str = "b0000000-0000-4000-8000-0000000000f1";
pub const ROOM_C1: &str = "c0000000-0000-4000-8000-0000000000f1";
pub const ROOM_P1: &str = "d0000000-0000-4000-8000-0000000000f1";
pub const ROOM_H1: &str = "e0000000-0000-4000-8000-0000000000f1";
/// Seeded visitors (no tokens: operators start chats with them).
pub const VIS_A: &str = "aaaa0000000040008000000000000001";
pub const VIS_H: &str = "eeee0000000040008000000000000001";

/// Organizations: A (Acme: the main one), B (another customer), C (no subscription),
/// P (a partner sharing room P1 with A), H (private chat history and private chats).
pub fn seed() -> Value {
    let user = |id: &str, org: &str, first: &str, perms: &[&str], present: bool, token: &str| {
        json!({"id": id, "organization_id": org, "first_name": first, "last_name": "Tester",
               "permissions": perms, "is_present": present, "api_token": token})
    };
    json!({
        "organizations": [
            {"id": ORG_A, "name": "Acme"},
            {"id": ORG_B, "name": "Other Co"},
            {"id": ORG_C, "name": "Lapsed", "has_active_subscription": false},
            {"id": ORG_P, "name": "Partner", "partner_ids": [ORG_A]},
            {"id": ORG_H, "name": "Private", "private_chat_history": true, "private_chats": true}
        ],
        "users": [
            {"id": ANN, "organization_id": ORG_A, "first_name": "Ann", "last_name": "Lee", "alias": "Support",
             "permissions": ["reports", "settings"], "is_present": true, "api_token": ANN_T},
            user(BOB, ORG_A, "Bob", &[], true, BOB_T),
            user(CAT, ORG_A, "Cat", &[], true, CAT_T),
            user(DAN, ORG_A, "Dan", &[], false, DAN_T),
            user(BEA, ORG_B, "Bea", &["reports", "settings"], true, BEA_T),
            user(CID, ORG_C, "Cid", &["reports", "settings"], true, CID_T),
            user(PAM, ORG_P, "Pam", &["reports"], true, PAM_T),
            user(HAL, ORG_H, "Hal", &[], true, HAL_T),
            user(HUE, ORG_H, "Hue", &["reports"], true, HUE_T)
        ],
        "teams": [{"id": TEAM_A, "organization_id": ORG_A, "name": "Sales team", "member_ids": [CAT]}],
        "rooms": [
            {"id": ROOM_A1, "organization_id": ORG_A, "name": "Support", "language_code": "en"},
            {"id": ROOM_A2, "organization_id": ORG_A, "name": "Sales", "router": [{"team_ids": [TEAM_A]}]},
            {"id": ROOM_B1, "organization_id": ORG_B, "name": "B support"},
            {"id": ROOM_C1, "organization_id": ORG_C, "name": "C support"},
            {"id": ROOM_P1, "organization_id": ORG_P, "name": "Partner desk", "shared_with": [ORG_A]},
            {"id": ROOM_H1, "organization_id": ORG_H, "name": "Private desk", "router": [{"user_ids": [HAL, HUE]}]}
        ],
        "visitors": [
            {"id": VIS_A, "room_id": ROOM_A1, "name": "Vera", "is_present": true},
            {"id": VIS_H, "room_id": ROOM_H1, "name": null, "is_present": true}
        ]
    })
}

// ---- resource shapes (the reference's attribute lists) ---------------------------------------

#[derive(Clone, Copy, Debug)]
pub enum T {
    Str,
    OptStr,
    Bool,
    Int,
    OptNum,
    OptObj,
    Arr,
    Time,
    OptTime,
    Uuid,
    OptUuid,
}

#[track_caller]
fn check_type(name: &str, v: &Value, t: T, whole: &Value) {
    let is_time = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z') && s.len() == 24
    };
    let ok = match t {
        T::Str => v.is_string(),
        T::OptStr => v.is_string() || v.is_null(),
        T::Bool => v.is_boolean(),
        T::Int => v.is_i64(),
        T::OptNum => v.is_number() || v.is_null(),
        T::OptObj => v.is_object() || v.is_null(),
        T::Arr => v.is_array(),
        T::Time => v.as_str().is_some_and(is_time),
        T::OptTime => v.is_null() || v.as_str().is_some_and(is_time),
        T::Uuid => v.as_str().is_some_and(|s| {
            uuid::Uuid::try_parse(s).is_ok() && s.len() == 36 && s == s.to_lowercase()
        }),
        T::OptUuid => {
            v.is_null()
                || v.as_str()
                    .is_some_and(|s| uuid::Uuid::try_parse(s).is_ok() && s.len() == 36)
        }
    };
    assert!(ok, "attribute {name} should be {t:?}, is {v} in {whole}");
}

#[track_caller]
pub fn assert_shape(v: &Value, attrs: &[(&str, T)]) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    for (name, t) in attrs {
        let x = o
            .get(*name)
            .unwrap_or_else(|| panic!("attribute {name} missing in {v}"));
        check_type(name, x, *t, v);
    }
    for k in o.keys() {
        assert!(
            attrs.iter().any(|(n, _)| n == k),
            "unexpected attribute {k} in {v}"
        );
    }
}

pub const CHAT: &[(&str, T)] = &[
    ("id", T::Uuid),
    ("created_at", T::Time),
    ("updated_at", T::Time),
    ("waiting_started_at", T::OptTime),
    ("is_ended", T::Bool),
    ("ended_at", T::OptTime),
    ("room_id", T::OptUuid),
    ("room_name", T::OptStr),
    ("room_organization_id", T::Uuid),
    ("chat_type", T::Str),
    ("is_private", T::Bool),
    ("is_real_conversation", T::Bool),
    ("is_autosuggested", T::Bool),
    ("is_encrypted", T::Bool),
    ("encrypted_symmetric_key", T::OptStr),
    ("message_count", T::Int),
    ("user_message_count", T::Int),
    ("visitor_message_count", T::Int),
    ("has_messages", T::Bool),
    ("has_user_messages", T::Bool),
    ("has_visitor_messages", T::Bool),
    ("first_visitor_message_url", T::OptStr),
    ("first_visitor_message_url_title", T::OptStr),
    ("autosuggest_url", T::OptStr),
    ("autosuggest_url_title", T::OptStr),
    ("tag_count", T::Int),
    ("is_waiting", T::Bool),
    ("is_pending", T::Bool),
    ("member_count", T::Int),
    ("user_member_count", T::Int),
    ("visitor_member_count", T::Int),
    ("present_participant_count", T::Int),
    ("present_user_participant_count", T::Int),
    ("present_visitor_participant_count", T::Int),
    ("visitor_wait_time", T::OptNum),
    ("duration", T::OptNum),
    ("active_duration", T::OptNum),
    ("token", T::Str),
    ("legacy_conversation_state", T::Str),
    ("legacy_room_id", T::OptStr),
];

pub const MEMBERSHIP: &[(&str, T)] = &[
    ("member_id", T::Str),
    ("member_type", T::Str),
    ("member_name", T::OptStr),
    ("member_public_name", T::OptStr),
    ("member_avatar", T::OptObj),
    ("member_organization_id", T::OptUuid),
    ("room_id", T::OptUuid),
    ("room_organization_id", T::Uuid),
    ("chat_id", T::Uuid),
    ("created_at", T::Time),
    ("last_seen_at", T::OptTime),
    ("updated_at", T::Time),
    ("chat_created_at", T::Time),
    ("message_count", T::Int),
    ("is_bot", T::Bool),
    ("is_user_deleted", T::Bool),
    ("is_participating", T::Bool),
    ("is_present", T::Bool),
    ("composing_status", T::Str),
    ("legacy_member_id", T::Str),
];

/// A message as operators see it (visitors: without `sender_name`).
pub const MESSAGE: &[(&str, T)] = &[
    ("id", T::Uuid),
    ("type", T::Str),
    ("chat_id", T::Uuid),
    ("room_id", T::OptUuid),
    ("created_at", T::Time),
    ("sender_type", T::Str),
    ("sender_id", T::OptStr),
    ("sender_public_name", T::OptStr),
    ("sender_name", T::OptStr),
    ("sender_avatar", T::OptObj),
    ("message", T::OptStr),
    ("is_encrypted", T::Bool),
    ("sensitive_data_purged_at", T::OptTime),
    ("selected_reply_suggestion_id", T::OptUuid),
    ("selected_reply_suggestion", T::OptObj),
    ("attachments", T::Arr),
    ("attachment_template", T::OptStr),
    ("response_to_message_id", T::OptUuid),
    ("response_to_attachment_id", T::OptUuid),
    ("response_to_attachment", T::OptObj),
    ("response_to_action_id", T::OptUuid),
    ("response_to_action", T::OptObj),
    ("response_value", T::OptStr),
    ("response_text", T::OptStr),
];

pub fn visitor_message_shape() -> Vec<(&'static str, T)> {
    MESSAGE
        .iter()
        .copied()
        .filter(|(n, _)| *n != "sender_name")
        .collect()
}

/// A collection: `{next, previous, results}`; returns the results.
#[track_caller]
pub fn page<'a>(v: &'a Value, item: &[(&str, T)]) -> &'a Vec<Value> {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("not a collection: {v}"));
    assert_eq!(o.len(), 3, "collection keys: {v}");
    assert!(o["next"].is_null() || o["next"].is_string());
    assert!(o["previous"].is_null() || o["previous"].is_string());
    let results = o["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {v}"));
    for r in results {
        assert_shape(r, item);
    }
    results
}

pub fn ids(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The user object nested in an invitation.
pub const USER_SUMMARY: &[(&str, T)] = &[
    ("id", T::Uuid),
    ("full_name", T::Str),
    ("first_name", T::Str),
    ("last_name", T::Str),
    ("organization_id", T::Uuid),
];

/// The user object nested in a reply suggestion.
pub const SUGGESTION_USER: &[(&str, T)] = &[
    ("id", T::Uuid),
    ("full_name", T::Str),
    ("first_name", T::Str),
    ("last_name", T::Str),
    ("organization_id", T::Uuid),
    ("is_bot", T::Bool),
];

pub const INVITATION: &[(&str, T)] = &[
    ("id", T::Uuid),
    ("is_accepted", T::Bool),
    ("is_expired", T::Bool),
    ("invited_by_user_id", T::Uuid),
    ("invited_by_user", T::OptObj),
    ("chat_id", T::Uuid),
    ("room_id", T::OptUuid),
    ("invited_user_id", T::OptUuid),
    ("invited_team_id", T::OptUuid),
    ("invited_organization_id", T::OptUuid),
    ("invitee_name", T::Str),
    ("accepted_by_user_id", T::OptUuid),
    ("accepted_by_user", T::OptObj),
    ("user_member_count", T::Int),
    ("visitor_member_count", T::Int),
    ("created_at", T::Time),
    ("updated_at", T::Time),
    ("accepted_at", T::OptTime),
    ("expired_at", T::OptTime),
];

pub const TAG: &[(&str, T)] = &[
    ("name", T::Str),
    ("hashed_name", T::Str),
    ("created_at", T::Time),
    ("room_id", T::OptUuid),
];

pub const STARTER: &[(&str, T)] = &[
    ("language_code", T::Str),
    ("message", T::Str),
    ("created_at", T::Time),
    ("updated_at", T::Time),
];

pub const SUGGESTION: &[(&str, T)] = &[
    ("id", T::Uuid),
    ("suggestion", T::Str),
    ("relevancy_score", T::OptNum),
    ("created_by_user_id", T::Uuid),
    ("created_by_user", T::OptObj),
    ("updated_by_user_id", T::OptUuid),
    ("updated_by_user", T::OptObj),
    ("room_id", T::OptUuid),
    ("chat_id", T::Uuid),
    ("message_id", T::Uuid),
    ("organization_id", T::Uuid),
    ("created_at", T::Time),
    ("updated_at", T::Time),
];

/// The user object an invitation names (`USER_SUMMARY`), checked value by value.
#[track_caller]
pub fn assert_user_summary(v: &Value, id: &str, first: &str, last: &str, org: &str) {
    assert_shape(v, USER_SUMMARY);
    assert_eq!(
        v,
        &json!({"id": id, "full_name": format!("{first} {last}"), "first_name": first,
                "last_name": last, "organization_id": org})
    );
}

/// SHA-1 of `s` in lowercase hex (a tag's `hashed_name`).
pub fn sha1_hex(s: &str) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(s.as_bytes()))
}
