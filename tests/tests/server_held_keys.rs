//! Organization keys held by `chat-server` (contract section 7), against a real server on a
//! real database: an encrypting organization chats from its first chat, its messages read
//! plain across a restart with the same master key file, a purge leaves only ciphertext, and
//! no sentence of the conversation is ever in what the database stores (SQLite's file and
//! write-ahead log, or every row of the PostgreSQL schema).

mod support;

use serde_json::{Value, json};
use support::*;

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn visitor_messages(s: &Server, org: &str, token: &str, chat: &str) -> Vec<Value> {
    let page = s.get(
        &format!("/api/v5/orgs/{org}/owned_chats/{chat}/messages?page_size=100"),
        token,
    );
    page.expect(200)["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|m| m["type"] == "msg")
        .cloned()
        .collect()
}

const SENTENCES: [&str; 2] = [
    "My parcel locker code is 5521-IBEX-MAGENTA.",
    "Please resend the invoice for the tangerine order.",
];

#[test]
fn an_encrypting_organization_works_through_the_server_and_keeps_no_plaintext_on_disk() {
    let mut fixture = seed();
    fixture["organizations"][0]["encrypt_chats"] = json!(true);
    let mut s = Server::with_seed(&fixture);

    // The master key file is created beside the database, for the owner only.
    let key_file = s.dir.path().join("chat.db.master-key");
    let key_text = std::fs::read_to_string(&key_file).expect("master key file");
    assert_eq!(key_text.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let status = s.get(&format!("/api/v5/orgs/{ORG_A}/encryption_key"), BOB_T);
    let status = status.expect(200);
    assert_eq!(status["held"], true);
    assert!(status["created_at"].is_string());
    assert_eq!(status["purged_at"], Value::Null);
    assert_eq!(
        status.as_object().unwrap().len(),
        3,
        "never the key: {status}"
    );

    // A visitor chats from the organization's first chat.
    let (vid, vt, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some(SENTENCES[0]));
    s.post(
        &format!("/api/v5/public/visitors/{vid}/chats/{chat}/messages"),
        &vt,
        json!({"type": "msg", "message": SENTENCES[1]}),
    )
    .expect(201);
    let msgs = visitor_messages(&s, ORG_A, ANN_T, &chat);
    let texts: Vec<&str> = msgs.iter().filter_map(|m| m["message"].as_str()).collect();
    assert_eq!(texts.len(), 2);
    for sentence in SENTENCES {
        assert!(texts.contains(&sentence), "{texts:?}");
    }
    assert!(msgs.iter().all(|m| m["encrypted_message"].is_string()));

    // Switched on by PATCH: the organization gets a key at once.
    s.patch(
        &format!("/api/v5/orgs/{ORG_B}"),
        BEA_T,
        json!({"encrypt_chats": true}),
    )
    .expect(200);
    let (_, _, b_chat) = s.visitor_chat(ORG_B, ROOM_B1, Some("Hello from a newly encrypting org."));
    let b = visitor_messages(&s, ORG_B, BEA_T, &b_chat);
    assert_eq!(b[0]["message"], "Hello from a newly encrypting org.");

    // Control: an unencrypted organization's sentence is found by the scan.
    s.visitor_chat(ORG_H, ROOM_H1, Some("Control sentence about the axolotl."));

    // The same master key file (named explicitly this time) opens the held keys again.
    let key_arg = key_file.to_str().unwrap().to_string();
    s.restart(&["--master-key-file", &key_arg]);
    let msgs = visitor_messages(&s, ORG_A, ANN_T, &chat);
    let texts: Vec<&str> = msgs.iter().filter_map(|m| m["message"].as_str()).collect();
    assert_eq!(texts.len(), 2, "still plain after a restart: {msgs:?}");

    let bytes = s.stored_bytes();
    assert!(holds(&bytes, "axolotl"), "the scan finds plaintext");
    for sentence in SENTENCES {
        assert!(
            !holds(&bytes, sentence),
            "{sentence:?} is in the database files"
        );
    }
    assert!(
        !holds(&bytes, key_text.trim()),
        "the master key is not in the database"
    );

    // Purge: settings permission; afterwards only ciphertext is served.
    s.delete(&format!("/api/v5/orgs/{ORG_A}/encryption_key"), BOB_T)
        .expect_error(403, "permission_denied");
    let purged = s.delete(&format!("/api/v5/orgs/{ORG_A}/encryption_key"), ANN_T);
    assert_eq!(purged.status, 204, "{}", purged.text);
    let msgs = visitor_messages(&s, ORG_A, ANN_T, &chat);
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(m["message"], Value::Null);
        assert!(m["encrypted_message"].is_string());
    }
    let status = s.get(&format!("/api/v5/orgs/{ORG_A}/encryption_key"), ANN_T);
    let status = status.expect(200);
    assert_eq!(status["held"], false);
    assert!(status["purged_at"].is_string());

    // Irreversible: a restart brings nothing back.
    s.restart(&[]);
    let msgs = visitor_messages(&s, ORG_A, ANN_T, &chat);
    assert!(msgs.iter().all(|m| m["message"].is_null()));
    let bytes = s.stored_bytes();
    for sentence in SENTENCES {
        assert!(
            !holds(&bytes, sentence),
            "{sentence:?} is in the database files"
        );
    }
}

#[test]
fn an_organization_brings_its_own_key_and_never_sees_it_again() {
    let mut fixture = seed();
    fixture["organizations"][0]["encrypt_chats"] = json!(true);
    let mut s = Server::with_seed(&fixture);
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some(SENTENCES[0]));
    let own = "c3".repeat(32);
    s.put(
        &format!("/api/v5/orgs/{ORG_A}/encryption_key"),
        BOB_T,
        json!({"key": own}),
    )
    .expect_error(403, "permission_denied");
    s.put(
        &format!("/api/v5/orgs/{ORG_A}/encryption_key"),
        ANN_T,
        json!({"key": "not hex"}),
    )
    .expect_error(400, "validation_error");
    let status = s.put(
        &format!("/api/v5/orgs/{ORG_A}/encryption_key"),
        ANN_T,
        json!({"key": own}),
    );
    let status = status.expect(200);
    assert_eq!(status["held"], true);
    assert!(!status.to_string().contains(&own));
    s.restart(&[]);
    let msgs = visitor_messages(&s, ORG_A, ANN_T, &chat);
    assert_eq!(msgs[0]["message"], SENTENCES[0]);
    let bytes = s.stored_bytes();
    assert!(
        !holds(&bytes, &own),
        "the brought key is not stored in the clear"
    );
}
