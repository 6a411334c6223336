//! Invitations, tags, conversation starters and reply suggestions on a database file: the
//! 0002 migration upgrades a version-1 file, and everything survives a reopen.

use chat_core::chats::{ChatScope, NewChat};
use chat_core::invitations::{InvitationFilter, NewInvitation};
use chat_core::messages::NewMessage;
use chat_core::starters::StarterInput;
use chat_core::store::sqlite::{latest_version, migrate};
use chat_core::suggestions::{SuggestionInput, SuggestionListParams};
use chat_core::tags::NewTag;
use chat_core::{Actor, Engine, PageRequest, TestClock};
use uuid::Uuid;

const ACME: &str = "7f9e9580-095b-42c7-838c-c04e667b26f7";
const ANN: &str = "bed3221e-879e-43df-8d0e-d63f8c1f012d";
const BOB: &str = "006ff599-9073-11e6-a887-f45c89c72de3";
const ROOM: &str = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe";
const VISITOR: &str = "3b90ef7c93484af4965a79ace7bc9a62";

fn id(s: &str) -> Uuid {
    s.parse().unwrap()
}

fn user_version(path: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_version_1_file_is_migrated_and_the_new_resources_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    {
        let mut c = rusqlite::Connection::open(&path).unwrap();
        migrate(&mut c, 1).unwrap();
    }
    assert_eq!(user_version(&path), 1);
    assert!(latest_version() >= 2);

    let clock = TestClock::at_default_start();
    let ann = Actor::User(id(ANN));
    let mine = ChatScope::UserChats { user_id: id(ANN) };
    let (chat, msg, suggestion) = {
        let engine = Engine::builder().clock(clock.clone()).open(&path).unwrap();
        engine
            .load_seed_json(&format!(
                r#"{{
              "organizations": [{{"id": "{ACME}", "name": "Acme"}}],
              "users": [
                {{"id": "{ANN}", "organization_id": "{ACME}", "first_name": "Ann", "is_present": true}},
                {{"id": "{BOB}", "organization_id": "{ACME}", "first_name": "Bob", "is_present": true}}
              ],
              "rooms": [{{"id": "{ROOM}", "organization_id": "{ACME}", "name": "Support", "allowed_tags": ["Lead"]}}],
              "visitors": [{{"id": "{VISITOR}", "room_id": "{ROOM}", "name": null, "is_present": true}}]
            }}"#
            ))
            .unwrap();
        let visitor = Uuid::try_parse(VISITOR).unwrap();
        let (chat, _) = engine
            .create_visitor_chat(&ann, id(ANN), id(ROOM), visitor, NewChat::default())
            .unwrap();
        let chat: Uuid = chat.id.parse().unwrap();
        let msg: Uuid = engine
            .send_user_message(
                &ann,
                id(ANN),
                chat,
                NewMessage {
                    message: Some("Hello".into()),
                    ..Default::default()
                },
            )
            .unwrap()
            .id
            .parse()
            .unwrap();
        let (_, created) = engine
            .add_tag(
                &ann,
                mine,
                chat,
                NewTag {
                    name: Some("Lead".into()),
                },
            )
            .unwrap();
        assert!(created);
        engine
            .create_invitation(
                &ann,
                id(ANN),
                chat,
                NewInvitation {
                    invited_user_id: Some(id(BOB)),
                    ..Default::default()
                },
            )
            .unwrap();
        engine
            .create_conversation_starter(
                &ann,
                id(ANN),
                StarterInput {
                    language_code: Some("en".into()),
                    message: Some("How can I help?".into()),
                },
            )
            .unwrap();
        let s = engine
            .create_reply_suggestion(
                &ann,
                mine,
                chat,
                msg,
                SuggestionInput {
                    suggestion: Some("Anything else?".into()),
                    relevancy_score: Some(Some(0.25)),
                },
            )
            .unwrap();
        (chat, msg, s)
    };
    assert_eq!(user_version(&path), latest_version());

    let engine = Engine::builder().clock(clock).open(&path).unwrap();
    let tags = engine
        .list_tags(&ann, mine, chat, &PageRequest::default())
        .unwrap();
    assert_eq!(tags.results.len(), 1);
    assert_eq!(tags.results[0].name, "Lead");
    assert_eq!(engine.get_chat(&ann, mine, chat).unwrap().tag_count, 1);
    let incoming = engine
        .list_invitations_incoming(
            &Actor::User(id(BOB)),
            id(BOB),
            &InvitationFilter::default(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(incoming.results.len(), 1);
    assert_eq!(incoming.results[0].invitee_name, "Bob");
    let starters = engine
        .list_conversation_starters(&ann, id(ANN), &PageRequest::default())
        .unwrap();
    assert_eq!(starters.results[0].message, "How can I help?");
    let suggestions = engine
        .list_message_reply_suggestions(
            &ann,
            mine,
            chat,
            msg,
            &SuggestionListParams::default(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(suggestions.results, vec![suggestion]);
}
