//! PostgreSQL clusters of the tests' own (`scripts/postgres.sh`), for what needs the whole
//! cluster: a database restarted under a `chat-server`'s load (while the database is down,
//! calls are answered 503 `storage_unavailable` within seconds, not left hanging, and only
//! then; once it is back the server serves again by itself, without a restart, and keeps every
//! write it acknowledged), and a scan of every file of the cluster
//! (data files and write-ahead log) for the text of encrypted chats.

mod support;

use chat_core::directory::seed::parse_visitor_id;
use chat_core::messages::NewMessage;
use chat_core::{Actor, Engine};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::*;

/// A throwaway cluster, stopped and removed when dropped.
struct Cluster {
    dir: PathBuf,
    url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh")
}

fn run_script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("run scripts/postgres.sh");
    assert!(
        out.status.success(),
        "scripts/postgres.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("chat-outage-{}", uuid::Uuid::new_v4()));
        let url = run_script(&["start", dir.to_str().unwrap()]);
        Cluster { dir, url }
    }
    fn down(&self) {
        run_script(&["down", self.dir.to_str().unwrap()]);
    }
    fn up(&self) {
        run_script(&["up", self.dir.to_str().unwrap()]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", self.dir.to_str().unwrap()])
            .output();
    }
}

#[test]
fn a_database_restarted_under_load_is_503_only_while_down_and_the_server_recovers_by_itself() {
    let pg = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("seed.json");
    std::fs::write(&seed_file, serde_json::to_vec(&seed()).unwrap()).unwrap();
    let out = Command::new(server_bin())
        .args(["seed", "--db", &pg.url])
        .arg(&seed_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = dir.path().join("chat.master-key");
    let s = Server::start_on_database(
        dir,
        &pg.url,
        "serve",
        &["--master-key-file", key.to_str().unwrap()],
    );
    let chat = s.post(&format!("/api/v5/users/{ANN}/chats"), ANN_T, json!({}));
    let chat = chat.expect(201)["id"].as_str().unwrap().to_string();
    let messages = format!("/api/v5/users/{ANN}/chats/{chat}/messages");

    // Two writers and two readers call the server throughout; the database goes down and
    // comes back under them.
    struct Call {
        started: Instant,
        ended: Instant,
        status: u16,
        written: Option<String>,
    }
    let calls: Mutex<Vec<Call>> = Mutex::default();
    let stop = AtomicBool::new(false);
    let (mut down_at, mut recovered_at) = (Instant::now(), Instant::now());
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let (s, messages, calls, stop) = (&s, &messages, &calls, &stop);
            scope.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let r = if worker % 2 == 0 {
                        i += 1;
                        let text = format!("writer {worker} #{i}");
                        s.post(messages, ANN_T, json!({"type": "msg", "message": text}))
                    } else {
                        s.get(messages, ANN_T)
                    };
                    if r.status == 503 {
                        r.expect_error(503, "storage_unavailable");
                    }
                    let written = (worker % 2 == 0 && r.status == 200)
                        .then(|| r.body["id"].as_str().unwrap().to_string());
                    calls.lock().unwrap().push(Call {
                        started,
                        ended: Instant::now(),
                        status: r.status,
                        written,
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        down_at = Instant::now();
        pg.down();
        // Longer than the store waits for a connection (2 s): calls during it are refused,
        // where a shorter outage may only delay them.
        std::thread::sleep(Duration::from_secs(3));
        pg.up();
        let up_at = Instant::now();
        // Recovered: a call that started after the database was back succeeded.
        let deadline = up_at + Duration::from_secs(20);
        recovered_at = loop {
            let first = calls
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.started >= up_at && c.status < 300)
                .map(|c| c.ended)
                .min();
            if let Some(at) = first {
                break at;
            }
            assert!(Instant::now() < deadline, "the server never served again");
            std::thread::sleep(Duration::from_millis(10));
        };
        // The load goes on a while after the recovery.
        std::thread::sleep(Duration::from_millis(700));
        stop.store(true, Ordering::SeqCst);
    });
    let calls = calls.into_inner().unwrap();
    let before = calls.iter().filter(|c| c.ended < down_at).count();
    let after: Vec<&Call> = calls.iter().filter(|c| c.started > recovered_at).collect();
    assert!(
        before > 10 && after.len() > 10,
        "{before} calls before, {} after",
        after.len()
    );
    for c in &calls {
        assert!(
            c.status == 200 || c.status == 503,
            "only success or 503: got {}",
            c.status
        );
        assert!(
            c.ended - c.started < Duration::from_secs(5),
            "a call took {:?}",
            c.ended - c.started
        );
        if c.status == 503 {
            // 5xx only while the database was down: the call overlapped the outage.
            assert!(c.ended >= down_at && c.started <= recovered_at);
        }
    }
    assert!(calls.iter().any(|c| c.status == 503), "the outage was seen");
    assert!(
        after.iter().all(|c| c.status == 200),
        "once back, every call succeeds"
    );
    // Every acknowledged write is there, and the chat's counter equals a recount.
    let listed: Vec<String> = s
        .get_all(&messages, ANN_T)
        .iter()
        .filter(|m| m["type"] == "msg")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    for id in calls.iter().filter_map(|c| c.written.as_ref()) {
        assert!(listed.contains(id), "acknowledged message {id} is missing");
    }
    let counted = s.get(&format!("/api/v5/orgs/{ORG_A}/owned_chats/{chat}"), ANN_T);
    assert_eq!(
        counted.expect(200)["message_count"].as_u64().unwrap() as usize,
        listed.len()
    );
}

/// Every byte of every file below `dir`.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else if let Ok(b) = std::fs::read(&path) {
            out.extend(b);
        }
    }
    out
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn the_cluster_files_hold_no_plaintext_of_an_encrypted_chat() {
    const ACME: &str = "00000000-0000-4000-8000-00000000a000";
    const PLAIN: &str = "00000000-0000-4000-8000-00000000b000";
    const ANN: &str = "00000000-0000-4000-8000-0000000000a1";
    const CARL: &str = "00000000-0000-4000-8000-0000000000b1";
    const ACME_ROOM: &str = "00000000-0000-4000-8000-0000000000d1";
    const PLAIN_ROOM: &str = "00000000-0000-4000-8000-0000000000d2";
    const VERA: &str = "3b90ef7c93484af4965a79ace7bc9a62";
    const ZEB: &str = "f7a5a3b83d2e40dfb0dedd6c0e284214";
    let pg = Cluster::start();
    let engine = Engine::builder().open_postgres(&pg.url).unwrap();
    engine
        .load_seed_json(
            &json!({
                "organizations": [{"id": ACME, "name": "Acme", "encrypt_chats": true},
                                  {"id": PLAIN, "name": "Plain"}],
                "users": [{"id": ANN, "organization_id": ACME, "first_name": "Ann", "is_present": true},
                          {"id": CARL, "organization_id": PLAIN, "first_name": "Carl", "is_present": true}],
                "rooms": [{"id": ACME_ROOM, "organization_id": ACME, "name": "Support"},
                          {"id": PLAIN_ROOM, "organization_id": PLAIN, "name": "Sales"}],
                "visitors": [{"id": VERA, "room_id": ACME_ROOM, "is_present": true},
                             {"id": ZEB, "room_id": PLAIN_ROOM, "is_present": true}]
            })
            .to_string(),
        )
        .unwrap();
    engine
        .set_organization_key(ACME.parse().unwrap(), [0x5c; 32])
        .unwrap();
    let converse = |user: &str, room: &str, visitor: &str, texts: &[&str]| {
        let actor = Actor::User(user.parse().unwrap());
        let (chat, _) = engine
            .create_visitor_chat(
                &actor,
                user.parse().unwrap(),
                room.parse().unwrap(),
                parse_visitor_id(visitor).unwrap(),
                Default::default(),
            )
            .unwrap();
        for t in texts {
            let m = NewMessage {
                message: Some(t.to_string()),
                ..Default::default()
            };
            engine
                .send_user_message(&actor, user.parse().unwrap(), chat.id.parse().unwrap(), m)
                .unwrap();
        }
    };
    let secret = [
        "The pangolin parcel leaves from dock seven.",
        "Its combination is marmalade-orbit-4471.",
    ];
    converse(ANN, ACME_ROOM, VERA, &secret);
    // Control: the scan finds the text of an unencrypted chat.
    converse(
        CARL,
        PLAIN_ROOM,
        ZEB,
        &["Control sentence about the capybara."],
    );
    // Everything written reaches the data files as well as the write-ahead log.
    let mut client: postgres::Client = pg
        .url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    client.batch_execute("CHECKPOINT").unwrap();
    let bytes = all_bytes(&pg.dir);
    assert!(
        holds(&bytes, "capybara"),
        "the scan reads the cluster's files"
    );
    for s in secret {
        assert!(
            !holds(&bytes, s),
            "{s:?} is readable in the cluster's files"
        );
    }
}
