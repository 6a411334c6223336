//! Encrypted chats and the purge of sensitive data, through the public facade over real SQLite
//! files: what reads return with and without the organization key, what the database files
//! hold, and the offline routine.

use chat_core::chats::{Chat, ChatScope};
use chat_core::crypto::{Binding, Field, decrypt_export, decrypt_export_field};
use chat_core::messages::{Message, MessageListParams, NewAction, NewAttachment, NewMessage};
use chat_core::{Actor, Engine, ErrorCode, PageRequest, TestClock};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use uuid::Uuid;

const ACME: &str = "7f9e9580-095b-42c7-838c-c04e667b26f7";
const PLAIN: &str = "0b5f3e8a-1d2c-4c39-9a57-2f7a6a3e9d10";
const ANN: &str = "bed3221e-879e-43df-8d0e-d63f8c1f012d";
const BOB: &str = "5a1f8e7c-3b2d-4e6f-8a9b-0c1d2e3f4a5b";
const CARL: &str = "c0ffee00-1234-4abc-8def-0123456789ab";
const ACME_ROOM: &str = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe";
const PLAIN_ROOM: &str = "1b6ba2e1-bfe0-11e8-8c3f-8c8590c2eeca";
const VERA: &str = "3b90ef7c93484af4965a79ace7bc9a62";
const ZEB: &str = "f7a5a3b83d2e40dfb0dedd6c0e284214";
const VERA_NAME: &str = "Vera Quillfeather-Ostrogoth";
const ZEB_NAME: &str = "Zebulon Marmaduke-Quixote";
const ORG_KEY: [u8; 32] = [0x5c; 32];

fn uuid(s: &str) -> Uuid {
    Uuid::try_parse(s).unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    path: PathBuf,
    engine: Engine,
    clock: TestClock,
}

fn seed() -> String {
    format!(
        r#"{{
      "organizations": [{{"id": "{ACME}", "name": "Acme", "encrypt_chats": true}},
                        {{"id": "{PLAIN}", "name": "Plain"}}],
      "users": [{{"id": "{ANN}", "organization_id": "{ACME}", "first_name": "Ann", "last_name": "Lee",
                  "permissions": ["reports", "settings"], "is_present": true, "api_token": "ann-secret-token-123"}},
                {{"id": "{BOB}", "organization_id": "{ACME}", "first_name": "Bob", "last_name": "Ray",
                  "is_present": true, "api_token": "bob-secret-token-123"}},
                {{"id": "{CARL}", "organization_id": "{PLAIN}", "first_name": "Carl", "last_name": "Fox",
                  "permissions": ["reports", "settings"], "is_present": true, "api_token": "carl-secret-token-123"}}],
      "rooms": [{{"id": "{ACME_ROOM}", "organization_id": "{ACME}", "name": "Support"}},
                {{"id": "{PLAIN_ROOM}", "organization_id": "{PLAIN}", "name": "Sales"}}],
      "visitors": [{{"id": "{VERA}", "room_id": "{ACME_ROOM}", "name": "{VERA_NAME}", "is_present": true}},
                   {{"id": "{ZEB}", "room_id": "{PLAIN_ROOM}", "name": "{ZEB_NAME}", "is_present": true}}]
    }}"#
    )
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let clock = TestClock::at_default_start();
    let engine = Engine::builder().clock(clock.clone()).open(&path).unwrap();
    engine.load_seed_json(&seed()).unwrap();
    engine.set_organization_key(uuid(ACME), ORG_KEY).unwrap();
    World {
        _dir: dir,
        path,
        engine,
        clock,
    }
}

fn ann() -> Actor {
    Actor::User(uuid(ANN))
}
fn vera() -> Actor {
    Actor::Visitor(uuid(VERA))
}

fn visitor_id(s: &str) -> Uuid {
    chat_core::directory::seed::parse_visitor_id(s).unwrap()
}

/// A chat of Acme (encrypted) with Ann and Vera.
fn acme_chat(w: &World) -> Chat {
    let (chat, created) = w
        .engine
        .create_visitor_chat(
            &ann(),
            uuid(ANN),
            uuid(ACME_ROOM),
            visitor_id(VERA),
            Default::default(),
        )
        .unwrap();
    assert!(created);
    chat
}

fn text(t: &str) -> NewMessage {
    NewMessage {
        message: Some(t.into()),
        ..Default::default()
    }
}

fn messages(w: &World, chat: Uuid) -> Vec<Message> {
    let page = w
        .engine
        .list_messages(
            &ann(),
            ChatScope::UserChats { user_id: uuid(ANN) },
            chat,
            &MessageListParams::default(),
            &PageRequest::first(100),
        )
        .unwrap();
    let mut r = page.results;
    r.reverse();
    r
}

fn get_chat(w: &World, chat: Uuid) -> Chat {
    w.engine
        .get_chat(&ann(), ChatScope::UserChats { user_id: uuid(ANN) }, chat)
        .unwrap()
}

/// Bytes of the database file and its write-ahead log.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(b) = std::fs::read(PathBuf::from(wal)) {
        all.extend_from_slice(&b);
    }
    all
}

fn holds(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).any(|w| w == n)
}

/// Writes one of everything secret into an encrypted chat; returns (chat, sentences).
fn fill_acme_chat(w: &World) -> (Chat, Vec<&'static str>) {
    let chat = acme_chat(w);
    let cid = uuid(&chat.id);
    let e = &w.engine;
    e.send_autosuggest(
        &ann(),
        uuid(ANN),
        cid,
        chat_core::messages::NewAutosuggest {
            message: Some("Autosuggest: Would you like a quokka discount today?".into()),
            url: Some("https://shop.example/secret-autosuggest-page".into()),
            url_title: Some("Autosuggest title of the walrus page".into()),
        },
    )
    .unwrap();
    e.visitor_send_message(
        &vera(),
        visitor_id(VERA),
        cid,
        NewMessage {
            url: Some("https://shop.example/first-visitor-narwhal-url".into()),
            url_title: Some("First visitor title about narwhals".into()),
            ..text("My account number is 4417-SECRET-QUINCE and I need help.")
        },
    )
    .unwrap();
    e.send_user_message(
        &ann(),
        uuid(ANN),
        cid,
        text("Thanks, I see the marmalade invoice from Tuesday."),
    )
    .unwrap();
    let card = e
        .send_user_message(
            &ann(),
            uuid(ANN),
            cid,
            NewMessage {
                attachments: Some(vec![NewAttachment {
                    title: Some("Attachment title: platypus plan".into()),
                    text: Some("Attachment text: the gooseberry contract".into()),
                    actions: Some(vec![NewAction {
                        text: Some("Action text: accept the kumquat offer".into()),
                        kind: Some("button".into()),
                        value: Some("accept".into()),
                        is_disabled_on_selection: Some(true),
                        is_disabled_on_visitor_message: Some(true),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .unwrap();
    let att = &card.attachments[0];
    e.visitor_send_message(
        &vera(),
        visitor_id(VERA),
        cid,
        NewMessage {
            kind: Some("action".into()),
            response_to_message_id: Some(uuid(&card.id)),
            response_to_attachment_id: Some(uuid(&att.id)),
            response_to_action_id: Some(uuid(&att.actions[0].id)),
            ..Default::default()
        },
    )
    .unwrap();
    let form = e
        .send_user_message(
            &ann(),
            uuid(ANN),
            cid,
            NewMessage {
                attachment_template: Some("interaction".into()),
                attachments: Some(vec![NewAttachment {
                    title: Some("Interaction title: the axolotl survey".into()),
                    interaction_id: Some(Uuid::new_v4().to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .unwrap();
    e.visitor_send_message(
        &vera(),
        visitor_id(VERA),
        cid,
        NewMessage {
            kind: Some("interaction_submit".into()),
            response_to_message_id: Some(uuid(&form.id)),
            response_to_attachment_id: Some(uuid(&form.attachments[0].id)),
            response_text: Some("Interaction answer: my tapir lives in Oulu".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // A visitor message disables the card's remaining actions: the rewrite keeps texts sealed.
    e.visitor_send_message(
        &vera(),
        visitor_id(VERA),
        cid,
        text("One more thing about the pangolin parcel."),
    )
    .unwrap();
    let sentences = vec![
        "quokka discount",
        "secret-autosuggest-page",
        "walrus page",
        "4417-SECRET-QUINCE",
        "first-visitor-narwhal-url",
        "title about narwhals",
        "marmalade invoice",
        "platypus plan",
        "gooseberry contract",
        "kumquat offer",
        "axolotl survey",
        "tapir lives in Oulu",
        "pangolin parcel",
    ];
    (get_chat(w, cid), sentences)
}

#[test]
fn encrypted_chat_reads_back_plain_while_the_key_is_held() {
    let w = world();
    let (chat, _) = fill_acme_chat(&w);
    assert!(chat.is_encrypted);
    let esk = chat.encrypted_symmetric_key.clone().unwrap();
    assert_eq!(esk.len(), 122);
    assert_eq!(
        chat.first_visitor_message_url.as_deref(),
        Some("https://shop.example/first-visitor-narwhal-url")
    );
    assert_eq!(
        chat.first_visitor_message_url_title.as_deref(),
        Some("First visitor title about narwhals")
    );
    assert_eq!(
        chat.autosuggest_url.as_deref(),
        Some("https://shop.example/secret-autosuggest-page")
    );
    assert_eq!(
        chat.autosuggest_url_title.as_deref(),
        Some("Autosuggest title of the walrus page")
    );
    let ms = messages(&w, uuid(&chat.id));
    let texts: Vec<Option<&str>> = ms.iter().map(|m| m.message.as_deref()).collect();
    assert!(texts.contains(&Some(
        "My account number is 4417-SECRET-QUINCE and I need help."
    )));
    let card = ms.iter().find(|m| !m.attachments.is_empty()).unwrap();
    assert_eq!(
        card.attachments[0].title.as_deref(),
        Some("Attachment title: platypus plan")
    );
    assert_eq!(
        card.attachments[0].text.as_deref(),
        Some("Attachment text: the gooseberry contract")
    );
    assert_eq!(
        card.attachments[0].actions[0].text,
        "Action text: accept the kumquat offer"
    );
    assert!(card.attachments[0].actions[0].is_disabled);
    let action = ms.iter().find(|m| m.kind == "action").unwrap();
    assert_eq!(
        action.message.as_deref(),
        Some("Action text: accept the kumquat offer")
    );
    assert_eq!(
        action.response_to_action.as_ref().unwrap().text,
        "Action text: accept the kumquat offer"
    );
    let submit = ms.iter().find(|m| m.kind == "interaction_submit").unwrap();
    assert_eq!(
        submit.response_text.as_deref(),
        Some("Interaction answer: my tapir lives in Oulu")
    );
    assert_eq!(
        submit.message.as_deref(),
        Some("Interaction title: the axolotl survey")
    );
    for m in &ms {
        assert_eq!(m.is_encrypted, m.encrypted_message.is_some());
        if m.message.is_some() {
            let enc = m.encrypted_message.as_deref().unwrap();
            let plain = decrypt_export(&ORG_KEY, &esk, uuid(&chat.id), uuid(&m.id), enc).unwrap();
            assert_eq!(Some(plain.as_str()), m.message.as_deref());
        }
    }
    // The visitor sees the same texts.
    let vpage = w
        .engine
        .visitor_list_messages(
            &vera(),
            visitor_id(VERA),
            uuid(&chat.id),
            &MessageListParams::default(),
            &PageRequest::first(100),
        )
        .unwrap();
    assert!(
        vpage
            .results
            .iter()
            .any(|m| m.message.as_deref() == Some("One more thing about the pangolin parcel."))
    );
}

#[test]
fn database_files_hold_no_plaintext_of_an_encrypted_chat() {
    let w = world();
    let (_, sentences) = fill_acme_chat(&w);
    // Control: the scan finds plaintext of an unencrypted chat.
    let carl = Actor::User(uuid(CARL));
    let (plain, _) = w
        .engine
        .create_visitor_chat(
            &carl,
            uuid(CARL),
            uuid(PLAIN_ROOM),
            visitor_id(ZEB),
            Default::default(),
        )
        .unwrap();
    w.engine
        .send_user_message(
            &carl,
            uuid(CARL),
            uuid(&plain.id),
            text("Control sentence about the capybara."),
        )
        .unwrap();
    let bytes = file_bytes(&w.path);
    assert!(holds(&bytes, "capybara"));
    for s in &sentences {
        assert!(!holds(&bytes, s), "{s:?} is readable in the database files");
    }
    // Also after everything is checkpointed into the main file.
    w.engine.checkpoint().unwrap();
    let bytes = file_bytes(&w.path);
    assert!(holds(&bytes, "capybara"));
    for s in &sentences {
        assert!(!holds(&bytes, s), "{s:?} is readable after a checkpoint");
    }
}

#[test]
fn rotation_rewraps_chat_keys_and_keeps_messages_readable() {
    let w = world();
    let (chat, _) = fill_acme_chat(&w);
    let cid = uuid(&chat.id);
    let before = messages(&w, cid);
    let new_key = [0x77; 32];
    let report = w
        .engine
        .rotate_organization_key(uuid(ACME), new_key)
        .unwrap();
    assert_eq!(report.chats_rewrapped, 1);
    assert_eq!(report.chats_skipped, 0);
    let after = messages(&w, cid);
    assert_eq!(before, after, "messages are untouched and still readable");
    let esk = get_chat(&w, cid).encrypted_symmetric_key.unwrap();
    assert_ne!(Some(esk.clone()), chat.encrypted_symmetric_key);
    let m = after.iter().find(|m| m.kind == "msg").unwrap();
    let enc = m.encrypted_message.as_deref().unwrap();
    assert!(decrypt_export(&ORG_KEY, &esk, cid, uuid(&m.id), enc).is_err());
    assert_eq!(
        decrypt_export(&new_key, &esk, cid, uuid(&m.id), enc).ok(),
        m.message.clone()
    );
    assert!(m.message.is_some());
    // The old key is no longer the organization's.
    let err = w
        .engine
        .set_organization_key(uuid(ACME), ORG_KEY)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
    w.engine.set_organization_key(uuid(ACME), new_key).unwrap();
    // New chats use the new key.
    w.engine
        .update_chat(
            &ann(),
            ChatScope::UserChats { user_id: uuid(ANN) },
            cid,
            chat_core::chats::ChatUpdate {
                is_ended: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let c2 = acme_chat(&w);
    let m2 = w
        .engine
        .send_user_message(&ann(), uuid(ANN), uuid(&c2.id), text("after rotation"))
        .unwrap();
    assert_eq!(
        decrypt_export(
            &new_key,
            c2.encrypted_symmetric_key.as_deref().unwrap(),
            uuid(&c2.id),
            uuid(&m2.id),
            m2.encrypted_message.as_deref().unwrap()
        )
        .unwrap(),
        "after rotation"
    );
}

#[test]
fn purged_organization_key_leaves_ciphertext_that_the_offline_routine_opens() {
    let w = world();
    let (chat, _) = fill_acme_chat(&w);
    let cid = uuid(&chat.id);
    let readable = messages(&w, cid);
    assert!(
        w.engine
            .purge_organization_key(uuid(ACME))
            .unwrap()
            .was_held
    );
    assert!(!w.engine.holds_organization_key(uuid(ACME)));
    let sealed = messages(&w, cid);
    assert_eq!(readable.len(), sealed.len());
    let esk = get_chat(&w, cid).encrypted_symmetric_key.unwrap();
    for (r, s) in readable.iter().zip(&sealed) {
        assert_eq!(s.message, None);
        assert_eq!(r.encrypted_message, s.encrypted_message);
        if let Some(enc) = &s.encrypted_message {
            assert!(s.is_encrypted);
            let plain = decrypt_export(&ORG_KEY, &esk, cid, uuid(&s.id), enc).unwrap();
            assert_eq!(Some(plain), r.message);
        }
        for a in &s.attachments {
            assert_eq!(a.title, None);
            assert_eq!(a.text, None);
        }
    }
    let json = serde_json::to_value(&sealed[1]).unwrap();
    assert!(json["message"].is_null());
    assert!(json["encrypted_message"].is_string());
    // The chat's visitor URLs are sealed too; the offline routine opens them.
    let c = get_chat(&w, cid);
    assert_eq!(c.first_visitor_message_url, None);
    let raw_url: String = w
        .engine
        .sqlite_store()
        .unwrap()
        .with_connection(|conn| {
            Ok(conn.query_row(
                "SELECT first_visitor_message_url FROM chats WHERE id = ?1",
                [cid.as_bytes()],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(
        decrypt_export_field(
            &ORG_KEY,
            &esk,
            &Binding::chat(Field::FirstVisitorMessageUrl, cid),
            &raw_url
        )
        .unwrap(),
        "https://shop.example/first-visitor-narwhal-url"
    );
}

#[test]
fn writing_to_a_chat_whose_key_is_gone_is_409() {
    let w = world();
    let chat = acme_chat(&w);
    let cid = uuid(&chat.id);
    w.engine.purge_organization_key(uuid(ACME)).unwrap();
    let err = w
        .engine
        .send_user_message(&ann(), uuid(ANN), cid, text("hello"))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ChatKeyUnavailable);
    assert_eq!(err.status(), 409);
    let err = w
        .engine
        .visitor_send_message(&vera(), visitor_id(VERA), cid, text("hi"))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ChatKeyUnavailable);
    let err = w
        .engine
        .send_autosuggest(
            &ann(),
            uuid(ANN),
            cid,
            chat_core::messages::NewAutosuggest {
                message: Some("x".into()),
                url: None,
                url_title: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ChatKeyUnavailable);
    // Nothing was written (but the join of Ann at creation).
    assert!(messages(&w, cid).iter().all(|m| m.kind == "join"));
    // New chats of the organization cannot get a key either.
    w.engine
        .update_chat(
            &ann(),
            ChatScope::UserChats { user_id: uuid(ANN) },
            cid,
            chat_core::chats::ChatUpdate {
                is_ended: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let err = w
        .engine
        .create_visitor_chat(
            &ann(),
            uuid(ANN),
            uuid(ACME_ROOM),
            visitor_id(VERA),
            Default::default(),
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ChatKeyUnavailable);
    // After a purge the organization may start over with a new key; old chats stay sealed.
    w.engine
        .set_organization_key(uuid(ACME), [0x11; 32])
        .unwrap();
    let c2 = acme_chat(&w);
    w.engine
        .send_user_message(&ann(), uuid(ANN), uuid(&c2.id), text("fresh start"))
        .unwrap();
    let r = w
        .engine
        .rotate_organization_key(uuid(ACME), [0x12; 32])
        .unwrap();
    assert_eq!((r.chats_rewrapped, r.chats_skipped), (1, 1));
}

#[test]
fn a_restarted_engine_needs_the_key_again() {
    let w = world();
    let (chat, _) = fill_acme_chat(&w);
    let cid = uuid(&chat.id);
    let before = messages(&w, cid);
    let World {
        _dir,
        path,
        engine,
        clock,
    } = w;
    drop(engine);
    let engine = Engine::builder().clock(clock.clone()).open(&path).unwrap();
    let w = World {
        _dir,
        path,
        engine,
        clock,
    };
    assert!(messages(&w, cid).iter().all(|m| m.message.is_none()));
    let err = w
        .engine
        .set_organization_key(uuid(ACME), [0x01; 32])
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
    assert!(!w.engine.holds_organization_key(uuid(ACME)));
    w.engine.set_organization_key(uuid(ACME), ORG_KEY).unwrap();
    assert_eq!(messages(&w, cid), before);
    let err = w
        .engine
        .set_organization_key(Uuid::new_v4(), ORG_KEY)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    w.clock.advance_secs(1);
}

#[test]
fn tampered_or_swapped_ciphertext_is_not_decrypted() {
    let w = world();
    let chat = acme_chat(&w);
    let cid = uuid(&chat.id);
    let a = w
        .engine
        .send_user_message(&ann(), uuid(ANN), cid, text("first sealed text"))
        .unwrap();
    let b = w
        .engine
        .send_user_message(&ann(), uuid(ANN), cid, text("second sealed text"))
        .unwrap();
    let c = w
        .engine
        .send_user_message(&ann(), uuid(ANN), cid, text("third sealed text"))
        .unwrap();
    w.engine
        .sqlite_store().unwrap()
        .with_connection(|conn| {
            // Swap the ciphertexts of a and b.
            conn.execute(
                "UPDATE messages SET message = CASE id WHEN ?1 THEN ?4 WHEN ?2 THEN ?3 END WHERE id IN (?1, ?2)",
                rusqlite_params(&a, &b),
            )?;
            // Flip one character of c's ciphertext.
            let enc = c.encrypted_message.clone().unwrap_or_default();
            let mut chars: Vec<char> = enc.chars().collect();
            chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
            let tampered: String = chars.into_iter().collect();
            conn.execute(
                "UPDATE messages SET message = ?2 WHERE id = ?1",
                (uuid(&c.id).as_bytes().to_vec(), tampered),
            )?;
            Ok(())
        })
        .unwrap();
    let ms: Vec<Message> = messages(&w, cid)
        .into_iter()
        .filter(|m| m.kind == "msg")
        .collect();
    assert_eq!(ms.len(), 3);
    for m in &ms {
        assert_eq!(m.message, None, "{} must not decrypt", m.id);
        assert!(m.encrypted_message.is_some());
    }
    // The offline routine rejects them too.
    let esk = chat.encrypted_symmetric_key.unwrap();
    for m in &ms {
        assert!(
            decrypt_export(
                &ORG_KEY,
                &esk,
                cid,
                uuid(&m.id),
                m.encrypted_message.as_deref().unwrap()
            )
            .is_err()
        );
    }
}

fn rusqlite_params(a: &Message, b: &Message) -> (Vec<u8>, Vec<u8>, String, String) {
    (
        uuid(&a.id).as_bytes().to_vec(),
        uuid(&b.id).as_bytes().to_vec(),
        a.encrypted_message.clone().unwrap_or_default(),
        b.encrypted_message.clone().unwrap_or_default(),
    )
}

#[test]
fn purge_of_a_chat_nulls_texts_and_leaves_nothing_in_the_files() {
    let w = world();
    let carl = Actor::User(uuid(CARL));
    let (chat, _) = w
        .engine
        .create_visitor_chat(
            &carl,
            uuid(CARL),
            uuid(PLAIN_ROOM),
            visitor_id(ZEB),
            Default::default(),
        )
        .unwrap();
    let cid = uuid(&chat.id);
    let zeb = Actor::Visitor(uuid(ZEB));
    // A webhook on the organization's collections: its deliveries hold each text on several
    // collections of one reader (owned, routed, involved: several numbers of one change),
    // and the purge scrubs every one of them.
    w.engine
        .create_webhook(
            &carl,
            uuid(PLAIN),
            serde_json::from_value(serde_json::json!({
                "url": "http://127.0.0.1:9/hook",
                "channels": [format!("/api/v5/orgs/{PLAIN}/*")],
                "actions": ["added", "changed"],
                "secret": "s3cret"
            }))
            .unwrap(),
        )
        .unwrap();
    w.engine
        .visitor_send_message(
            &zeb,
            visitor_id(ZEB),
            cid,
            NewMessage {
                url: Some("https://shop.example/purge-me-lemur-url".into()),
                ..text("My secret phrase is wombat-hexagon-1987.")
            },
        )
        .unwrap();
    w.engine
        .send_user_message(
            &carl,
            uuid(CARL),
            cid,
            NewMessage {
                attachments: Some(vec![NewAttachment {
                    title: Some("Card about the ocelot refund".into()),
                    ..Default::default()
                }]),
                ..text("Your order of the ibex lamp is on its way.")
            },
        )
        .unwrap();
    let sentences = [
        "wombat-hexagon-1987",
        "ibex lamp",
        "ocelot refund",
        "purge-me-lemur-url",
    ];
    w.engine.checkpoint().unwrap();
    let bytes = file_bytes(&w.path);
    for s in sentences {
        assert!(holds(&bytes, s), "{s:?} should be stored before the purge");
    }
    // Only org users with settings (or the admin) may purge.
    let err = w.engine.purge_chat_sensitive_data(&ann(), cid).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = w.engine.purge_chat_sensitive_data(&zeb, cid).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    w.clock.advance_secs(5);
    let report = w.engine.purge_chat_sensitive_data(&carl, cid).unwrap();
    // Ann's join event, the visitor's message and the card.
    assert_eq!((report.chats, report.messages), (1, 3));
    assert!(report.wal_truncated);
    let page = w
        .engine
        .list_messages(
            &carl,
            ChatScope::UserChats {
                user_id: uuid(CARL),
            },
            cid,
            &MessageListParams::default(),
            &PageRequest::first(100),
        )
        .unwrap();
    for m in &page.results {
        assert_eq!(m.message, None);
        assert!(m.sensitive_data_purged_at.is_some());
        if m.sender_type == "visitor" {
            assert_eq!(m.sender_public_name, None);
            assert_eq!(m.sender_name, Some(None));
        }
        for a in &m.attachments {
            assert_eq!(a.title, None);
        }
    }
    let c = w
        .engine
        .get_chat(
            &carl,
            ChatScope::UserChats {
                user_id: uuid(CARL),
            },
            cid,
        )
        .unwrap();
    assert_eq!(c.first_visitor_message_url, None);
    let bytes = file_bytes(&w.path);
    for s in sentences {
        assert!(!holds(&bytes, s), "{s:?} is readable after the purge");
    }
    // The chat goes on; new messages are not purged.
    let m = w
        .engine
        .send_user_message(&carl, uuid(CARL), cid, text("after the purge"))
        .unwrap();
    assert_eq!(m.sensitive_data_purged_at, None);
}

#[test]
fn purge_of_a_visitor_nulls_names_and_every_chat() {
    let w = world();
    let carl = Actor::User(uuid(CARL));
    let zeb = Actor::Visitor(uuid(ZEB));
    w.engine
        .set_visitor_variable(
            &carl,
            uuid(PLAIN),
            uuid(PLAIN_ROOM),
            visitor_id(ZEB),
            chat_core::directory::VisitorVariable {
                key: Some("email".into()),
                value: Some("zebulon@quixote.example".into()),
            },
        )
        .unwrap();
    let (chat, _) = w
        .engine
        .create_visitor_chat(
            &carl,
            uuid(CARL),
            uuid(PLAIN_ROOM),
            visitor_id(ZEB),
            Default::default(),
        )
        .unwrap();
    let cid = uuid(&chat.id);
    w.engine
        .visitor_send_message(
            &zeb,
            visitor_id(ZEB),
            cid,
            text("Call me at the jackal hotline."),
        )
        .unwrap();
    let v = w
        .engine
        .get_room_visitor(&carl, uuid(CARL), uuid(PLAIN_ROOM), visitor_id(ZEB))
        .unwrap();
    assert_eq!(v.name.as_deref(), Some(ZEB_NAME));
    let page = w
        .engine
        .list_messages(
            &carl,
            ChatScope::UserChats {
                user_id: uuid(CARL),
            },
            cid,
            &MessageListParams::default(),
            &PageRequest::first(10),
        )
        .unwrap();
    assert_eq!(
        page.results[0].sender_public_name.as_deref(),
        Some(ZEB_NAME)
    );

    w.engine.checkpoint().unwrap();
    let bytes = file_bytes(&w.path);
    for s in [ZEB_NAME, "jackal hotline", "zebulon@quixote.example"] {
        assert!(holds(&bytes, s), "{s:?} should be stored before the purge");
    }
    let report = w
        .engine
        .purge_visitor_sensitive_data(&Actor::Admin, visitor_id(ZEB))
        .unwrap();
    // Carl's join event and the visitor's message.
    assert_eq!((report.visitors, report.chats, report.messages), (1, 1, 2));
    let v = w
        .engine
        .get_room_visitor(&carl, uuid(CARL), uuid(PLAIN_ROOM), visitor_id(ZEB))
        .unwrap();
    assert_eq!(v.name, None);
    assert!(v.sensitive_data_purged_at.is_some());
    assert!(v.variables.is_empty());
    let page = w
        .engine
        .list_messages(
            &carl,
            ChatScope::UserChats {
                user_id: uuid(CARL),
            },
            cid,
            &MessageListParams::default(),
            &PageRequest::first(10),
        )
        .unwrap();
    let m = &page.results[0];
    assert_eq!(m.message, None);
    assert_eq!(m.sender_public_name, None);
    assert_eq!(m.sender_name, Some(None));
    assert!(m.sensitive_data_purged_at.is_some());
    let bytes = file_bytes(&w.path);
    for s in [ZEB_NAME, "jackal hotline", "zebulon@quixote.example"] {
        assert!(!holds(&bytes, s), "{s:?} is readable after the purge");
    }
}

#[test]
fn purge_of_an_encrypted_chat_removes_the_ciphertext() {
    let w = world();
    let (chat, _) = fill_acme_chat(&w);
    let cid = uuid(&chat.id);
    // Bob lacks the settings permission.
    let err = w
        .engine
        .purge_chat_sensitive_data(&Actor::User(uuid(BOB)), cid)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    w.engine.purge_chat_sensitive_data(&ann(), cid).unwrap();
    for m in messages(&w, cid) {
        assert_eq!(m.message, None);
        assert_eq!(m.encrypted_message, None);
        assert!(!m.is_encrypted);
        assert!(m.sensitive_data_purged_at.is_some());
    }
    let c = get_chat(&w, cid);
    assert_eq!(c.autosuggest_url, None);
    assert!(c.is_encrypted);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any text a user may send comes back unchanged through an encrypted chat, and its
    /// ciphertext opens offline.
    #[test]
    fn message_texts_round_trip_through_an_encrypted_chat(
        texts in prop::collection::vec(
            prop_oneof![
                Just("y".repeat(2000)),
                Just("€".repeat(2000)),
                "\\PC{1,2000}",
            ]
            .prop_filter("the reference refuses blank texts", |t: &String| !t.trim().is_empty()),
            1..4,
        )
    ) {
        let w = world();
        let chat = acme_chat(&w);
        let cid = uuid(&chat.id);
        let esk = chat.encrypted_symmetric_key.clone().unwrap_or_default();
        for t in &texts {
            let m = w
                .engine
                .send_user_message(&ann(), uuid(ANN), cid, text(t))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(m.message.as_deref(), Some(t.as_str()));
            let enc = m.encrypted_message.clone().unwrap_or_default();
            prop_assert_eq!(decrypt_export(&ORG_KEY, &esk, cid, uuid(&m.id), &enc), Ok(t.clone()));
        }
        let listed: Vec<Option<String>> = messages(&w, cid)
            .into_iter()
            .filter(|m| m.kind == "msg")
            .map(|m| m.message)
            .collect();
        let expected: Vec<Option<String>> = texts.into_iter().map(Some).collect();
        prop_assert_eq!(listed, expected);
    }
}
