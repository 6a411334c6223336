//! Organization keys held by the engine itself under a master key (contract section 7):
//! generated when an organization encrypts, kept sealed in the database file, loaded again
//! when the engine opens, brought by the organization or purged by it.

use chat_core::auth::Actor;
use chat_core::chats::ChatScope;
use chat_core::crypto::{SecretKey, decrypt_export};
use chat_core::directory::{NewOrganization, OrganizationPatch};
use chat_core::messages::{Message, MessageListParams, NewMessage};
use chat_core::{Engine, ErrorCode, PageRequest, TestClock};
use std::path::{Path, PathBuf};
use uuid::Uuid;

const ACME: &str = "7f9e9580-095b-42c7-838c-c04e667b26f7";
const ANN: &str = "bed3221e-879e-43df-8d0e-d63f8c1f012d";
const BOB: &str = "5a1f8e7c-3b2d-4e6f-8a9b-0c1d2e3f4a5b";
const ROOM: &str = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe";
const VERA: &str = "3b90ef7c93484af4965a79ace7bc9a62";
const MASTER: [u8; 32] = [0x4d; 32];
const SENTENCE: &str = "My locker code is 7731-HELD-OCELOT, please help.";

fn uuid(s: &str) -> Uuid {
    Uuid::try_parse(s).unwrap()
}
fn ann() -> Actor {
    Actor::User(uuid(ANN))
}
fn vera() -> Actor {
    Actor::Visitor(uuid(VERA))
}

fn seed(encrypt: bool) -> String {
    format!(
        r#"{{
      "organizations": [{{"id": "{ACME}", "name": "Acme", "encrypt_chats": {encrypt}}}],
      "users": [{{"id": "{ANN}", "organization_id": "{ACME}", "first_name": "Ann", "last_name": "Lee",
                  "permissions": ["reports", "settings"], "is_present": true, "api_token": "ann-secret-token-123"}},
                {{"id": "{BOB}", "organization_id": "{ACME}", "first_name": "Bob", "last_name": "Ray",
                  "is_present": true, "api_token": "bob-secret-token-123"}}],
      "rooms": [{{"id": "{ROOM}", "organization_id": "{ACME}", "name": "Support"}}],
      "visitors": [{{"id": "{VERA}", "room_id": "{ROOM}", "name": null, "is_present": true}}]
    }}"#
    )
}

struct World {
    dir: tempfile::TempDir,
    clock: TestClock,
}

impl World {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: TestClock::at_default_start(),
        }
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("chat.db")
    }
    fn open_with(&self, master: Option<[u8; 32]>) -> chat_core::Result<Engine> {
        let mut b = Engine::builder().clock(self.clock.clone());
        if let Some(m) = master {
            b = b.master_key(SecretKey::from_bytes(&m));
        }
        b.open(self.path())
    }
    fn open(&self) -> Engine {
        self.open_with(Some(MASTER)).unwrap()
    }
}

fn visitor_chat(e: &Engine) -> chat_core::Result<Uuid> {
    let (chat, _) = e.create_visitor_chat(
        &ann(),
        uuid(ANN),
        uuid(ROOM),
        chat_core::directory::seed::parse_visitor_id(VERA).unwrap(),
        Default::default(),
    )?;
    Ok(uuid(&chat.id))
}

fn say(e: &Engine, chat: Uuid, text: &str) {
    e.visitor_send_message(
        &vera(),
        chat_core::directory::seed::parse_visitor_id(VERA).unwrap(),
        chat,
        NewMessage {
            message: Some(text.into()),
            ..Default::default()
        },
    )
    .unwrap();
}

fn visitor_msgs(e: &Engine, chat: Uuid) -> Vec<Message> {
    e.list_messages(
        &ann(),
        ChatScope::UserChats { user_id: uuid(ANN) },
        chat,
        &MessageListParams::default(),
        &PageRequest::first(100),
    )
    .unwrap()
    .results
    .into_iter()
    .filter(|m| m.kind == "msg")
    .collect()
}

fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(b) = std::fs::read(PathBuf::from(wal)) {
        all.extend_from_slice(&b);
    }
    all
}

fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_seeded_encrypting_organization_chats_from_its_first_chat_and_after_a_restart() {
    let w = World::new();
    let e = w.open();
    e.load_seed_json(&seed(true)).unwrap();
    assert!(e.holds_organization_key(uuid(ACME)));
    let chat = visitor_chat(&e).unwrap();
    say(&e, chat, SENTENCE);
    let m = &visitor_msgs(&e, chat)[0];
    assert_eq!(m.message.as_deref(), Some(SENTENCE));
    assert!(m.encrypted_message.is_some(), "stored encrypted");
    let status = e.get_organization_key(&ann(), uuid(ACME)).unwrap();
    assert!(status.held);
    assert!(status.created_at.is_some());
    assert_eq!(status.purged_at, None);
    drop(e);

    let bytes = file_bytes(&w.path());
    assert!(!holds(&bytes, SENTENCE.as_bytes()));
    assert!(!holds(&bytes, b"HELD-OCELOT"));

    let e = w.open();
    assert!(e.holds_organization_key(uuid(ACME)));
    assert_eq!(
        visitor_msgs(&e, chat)[0].message.as_deref(),
        Some(SENTENCE),
        "the held key is loaded again when the engine opens"
    );
    assert_eq!(e.get_organization_key(&ann(), uuid(ACME)).unwrap(), status);
}

#[test]
fn another_master_key_does_not_open_the_held_keys() {
    let w = World::new();
    let e = w.open();
    e.load_seed_json(&seed(true)).unwrap();
    drop(e);
    let err = w.open_with(Some([0x11; 32])).err().expect("refused");
    assert_eq!(err.code, ErrorCode::Storage);
    assert!(err.detail.contains(ACME), "{}", err.detail);
    // Without a master key the engine opens as a host-keyed one: it holds nothing.
    let e = w.open_with(None).unwrap();
    assert!(!e.holds_organization_key(uuid(ACME)));
    let err = visitor_chat(&e).unwrap_err();
    assert_eq!(err.code, ErrorCode::ChatKeyUnavailable);
}

#[test]
fn without_a_master_key_the_host_gives_the_keys_as_before() {
    let w = World::new();
    let e = w.open_with(None).unwrap();
    e.load_seed_json(&seed(true)).unwrap();
    assert!(!e.holds_organization_key(uuid(ACME)));
    assert_eq!(
        visitor_chat(&e).unwrap_err().code,
        ErrorCode::ChatKeyUnavailable
    );
    e.set_organization_key(uuid(ACME), [0x5c; 32]).unwrap();
    visitor_chat(&e).unwrap();
    drop(e);
    let e = w.open_with(None).unwrap();
    assert!(!e.holds_organization_key(uuid(ACME)), "memory only");
}

#[test]
fn created_or_switched_on_encryption_generates_a_key() {
    let w = World::new();
    let e = w.open();
    e.load_seed_json(&seed(false)).unwrap();
    assert!(!e.holds_organization_key(uuid(ACME)));
    let status = e.get_organization_key(&ann(), uuid(ACME)).unwrap();
    assert!(!status.held);
    assert_eq!(status.created_at, None);
    e.update_organization(
        &ann(),
        uuid(ACME),
        OrganizationPatch {
            encrypt_chats: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(e.holds_organization_key(uuid(ACME)));
    let chat = visitor_chat(&e).unwrap();
    say(&e, chat, SENTENCE);
    assert_eq!(visitor_msgs(&e, chat)[0].message.as_deref(), Some(SENTENCE));

    let org = e
        .create_organization(
            &Actor::Admin,
            NewOrganization {
                name: Some("Globex".into()),
                encrypt_chats: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(e.holds_organization_key(uuid(&org.id)));
}

#[test]
fn an_engine_opened_with_a_master_key_gives_keys_to_encrypting_organizations_without_one() {
    let w = World::new();
    // Seeded by a process without the master key (as `chat-server seed` does).
    let e = w.open_with(None).unwrap();
    e.load_seed_json(&seed(true)).unwrap();
    drop(e);
    let e = w.open();
    assert!(e.holds_organization_key(uuid(ACME)));
    let chat = visitor_chat(&e).unwrap();
    say(&e, chat, SENTENCE);
    drop(e);
    let e = w.open();
    assert_eq!(visitor_msgs(&e, chat)[0].message.as_deref(), Some(SENTENCE));
}

#[test]
fn a_purged_key_is_gone_for_good_and_not_replaced() {
    let w = World::new();
    let e = w.open();
    e.load_seed_json(&seed(true)).unwrap();
    let chat = visitor_chat(&e).unwrap();
    say(&e, chat, SENTENCE);
    w.clock.advance_secs(60);
    // Settings permission is needed.
    let bob = Actor::User(uuid(BOB));
    assert_eq!(
        e.delete_organization_key(&bob, uuid(ACME))
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    e.delete_organization_key(&ann(), uuid(ACME)).unwrap();
    let m = &visitor_msgs(&e, chat)[0];
    assert_eq!(m.message, None);
    assert!(m.encrypted_message.is_some());
    let status = e.get_organization_key(&bob, uuid(ACME)).unwrap();
    assert!(!status.held);
    assert_eq!(status.created_at, None);
    assert!(status.purged_at.is_some());
    drop(e);

    let e = w.open();
    assert!(
        !e.holds_organization_key(uuid(ACME)),
        "no key is loaded or generated after a purge"
    );
    assert_eq!(visitor_msgs(&e, chat)[0].message, None);
    let err = e
        .visitor_send_message(
            &vera(),
            chat_core::directory::seed::parse_visitor_id(VERA).unwrap(),
            chat,
            NewMessage {
                message: Some("Anyone there?".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ChatKeyUnavailable);
}

#[test]
fn a_brought_key_rewraps_the_chats_and_is_held_across_restarts() {
    let w = World::new();
    let e = w.open();
    e.load_seed_json(&seed(true)).unwrap();
    let chat = visitor_chat(&e).unwrap();
    say(&e, chat, SENTENCE);
    w.clock.advance_secs(60);
    let own = [0xa7u8; 32];
    let bob = Actor::User(uuid(BOB));
    assert_eq!(
        e.put_organization_key(&bob, uuid(ACME), own)
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    let before = e.get_organization_key(&ann(), uuid(ACME)).unwrap();
    let status = e.put_organization_key(&ann(), uuid(ACME), own).unwrap();
    assert!(status.held);
    assert_ne!(status.created_at, before.created_at, "a new key since then");
    let m = visitor_msgs(&e, chat).remove(0);
    assert_eq!(m.message.as_deref(), Some(SENTENCE));
    let esk = e
        .get_chat(&ann(), ChatScope::UserChats { user_id: uuid(ANN) }, chat)
        .unwrap()
        .encrypted_symmetric_key
        .unwrap();
    assert_eq!(
        decrypt_export(
            &own,
            &esk,
            chat,
            uuid(&m.id),
            m.encrypted_message.as_deref().unwrap()
        )
        .unwrap(),
        SENTENCE,
        "the chat key is wrapped with the organization's own key"
    );
    e.checkpoint().unwrap();
    drop(e);
    let bytes = file_bytes(&w.path());
    assert!(
        !holds(&bytes, &own),
        "the key is not in the file in the clear"
    );
    assert!(!holds(&bytes, hex_of(&own).as_bytes()));

    let e = w.open();
    assert_eq!(visitor_msgs(&e, chat)[0].message.as_deref(), Some(SENTENCE));
    assert_eq!(e.get_organization_key(&ann(), uuid(ACME)).unwrap(), status);
}

#[test]
fn after_a_purge_a_brought_key_encrypts_new_chats_again() {
    let w = World::new();
    let e = w.open();
    e.load_seed_json(&seed(true)).unwrap();
    e.delete_organization_key(&ann(), uuid(ACME)).unwrap();
    let status = e
        .put_organization_key(&ann(), uuid(ACME), [0x3c; 32])
        .unwrap();
    assert!(status.held);
    assert_eq!(status.purged_at, None);
    let chat = visitor_chat(&e).unwrap();
    say(&e, chat, SENTENCE);
    drop(e);
    let e = w.open();
    assert_eq!(visitor_msgs(&e, chat)[0].message.as_deref(), Some(SENTENCE));
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
