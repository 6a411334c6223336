use super::*;
use crate::error::ErrorCode as EC;
use crate::pagination::PageRequest;
use crate::test_support::*;

fn input(code: Option<&str>, message: Option<&str>) -> StarterInput {
    StarterInput {
        language_code: code.map(String::from),
        message: message.map(String::from),
    }
}

fn create(w: &World, who: &str, code: &str, message: &str) -> ConversationStarter {
    w.engine
        .create_conversation_starter(&user(who), id(who), input(Some(code), Some(message)))
        .unwrap()
}

fn listed(w: &World, who: &str) -> Vec<(String, String)> {
    w.engine
        .list_conversation_starters(&user(who), id(who), &PageRequest::default())
        .unwrap()
        .results
        .into_iter()
        .map(|s| (s.language_code, s.message))
        .collect()
}

#[test]
fn the_supported_languages_are_canonical_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for l in SUPPORTED_LANGUAGES {
        assert!(seen.insert(l.to_ascii_lowercase()), "duplicate {l}");
        let mut parts = l.split('-');
        let lang = parts.next().unwrap();
        assert!(
            lang.len() == 2 && lang.chars().all(|c| c.is_ascii_lowercase()),
            "{l}"
        );
        if let Some(region) = parts.next() {
            assert!(
                region.len() == 2 && region.chars().all(|c| c.is_ascii_uppercase()),
                "{l}"
            );
        }
        assert_eq!(canonical_language(l), Some(*l));
    }
    for needed in ["en", "fi", "sv"] {
        assert!(SUPPORTED_LANGUAGES.contains(&needed));
    }
    assert_eq!(canonical_language("EN-us"), Some("en-US"));
    assert_eq!(canonical_language("xx"), None);
    assert_eq!(canonical_language("english"), None);
}

#[test]
fn creating_a_starter_returns_the_reference_shape() {
    let w = world();
    let s = create(&w, ANN, "en", "Can I help you?");
    assert_eq!(
        keys(&s),
        sorted(&["language_code", "message", "created_at", "updated_at"])
    );
    assert_eq!(s.language_code, "en");
    assert_eq!(s.message, "Can I help you?");
    assert_eq!(s.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(s.updated_at, s.created_at);
    // Codes match case-insensitively and are stored canonically.
    let s = create(&w, ANN, "PT-br", "Posso ajudar?");
    assert_eq!(s.language_code, "pt-BR");
}

#[test]
fn one_starter_per_language_per_user() {
    let w = world();
    create(&w, ANN, "fi", "Kuinka voin auttaa?");
    for lang in ["fi", "FI"] {
        let e = err(w.engine.create_conversation_starter(
            &user(ANN),
            id(ANN),
            input(Some(lang), Some("Moi")),
        ));
        assert_eq!((e.code, e.status()), (EC::ConversationStarterExists, 400));
    }
    // Another user has their own set.
    create(&w, BOB, "fi", "Hei!");
    assert_eq!(
        listed(&w, ANN),
        vec![("fi".into(), "Kuinka voin auttaa?".into())]
    );
    assert_eq!(listed(&w, BOB), vec![("fi".into(), "Hei!".into())]);
}

#[test]
fn create_validates_both_attributes() {
    let w = world();
    let e = err(w
        .engine
        .create_conversation_starter(&user(ANN), id(ANN), input(None, None)));
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("language_code") && e.errors.contains_key("message"));
    for (lang, message, field) in [
        (Some("klingon"), Some("Hi"), "language_code"),
        (Some("en"), Some("  "), "message"),
        (Some("en"), None, "message"),
        (None, Some("Hi"), "language_code"),
    ] {
        let e =
            err(w
                .engine
                .create_conversation_starter(&user(ANN), id(ANN), input(lang, message)));
        assert_eq!(e.code, EC::ValidationError);
        assert_eq!(e.errors.keys().collect::<Vec<_>>(), vec![field]);
    }
    let long = "x".repeat(MAX_STARTER_CHARS + 1);
    let e = err(w.engine.create_conversation_starter(
        &user(ANN),
        id(ANN),
        input(Some("en"), Some(&long)),
    ));
    assert!(e.errors.contains_key("message"));
    let e = crate::input::from_json::<StarterInput>(r#"{"message": ["a"]}"#).unwrap_err();
    assert!(e.errors.contains_key("message"));
    assert!(listed(&w, ANN).is_empty());
}

#[test]
fn starters_list_oldest_first_with_pages() {
    let w = world();
    create(&w, ANN, "sv", "Hur kan jag hjälpa dig?");
    w.clock.advance_secs(1);
    create(&w, ANN, "en", "How can I help you?");
    w.clock.advance_secs(1);
    create(&w, ANN, "fi", "Kuinka voin auttaa?");
    let codes: Vec<String> = listed(&w, ANN).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, vec!["sv", "en", "fi"]);
    let p1 = w
        .engine
        .list_conversation_starters(&user(ANN), id(ANN), &PageRequest::first(2))
        .unwrap();
    assert_eq!(p1.results.len(), 2);
    let p2 = w
        .engine
        .list_conversation_starters(
            &user(ANN),
            id(ANN),
            &PageRequest::at(p1.next.unwrap(), Some(2)),
        )
        .unwrap();
    assert_eq!(p2.results.len(), 1);
    assert_eq!(p2.results[0].language_code, "fi");
    assert!(p2.next.is_none());
}

#[test]
fn put_requires_the_message_and_patch_is_partial() {
    let w = world();
    create(&w, ANN, "fi", "Kuinka voin auttaa?");
    w.clock.advance_secs(10);
    let e = err(w.engine.update_conversation_starter(
        &user(ANN),
        id(ANN),
        "fi",
        input(None, None),
        false,
    ));
    assert_eq!(e.code, EC::ValidationError);
    assert!(e.errors.contains_key("message"));
    let s = w
        .engine
        .update_conversation_starter(
            &user(ANN),
            id(ANN),
            "fi",
            input(None, Some("Kuinka voin auttaa sinua?")),
            true,
        )
        .unwrap();
    assert_eq!(s.message, "Kuinka voin auttaa sinua?");
    assert_eq!(s.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(s.updated_at, "2025-01-01T00:00:10.000Z");
    // An empty PATCH changes nothing but the update time.
    let s = w
        .engine
        .update_conversation_starter(&user(ANN), id(ANN), "FI", input(None, None), true)
        .unwrap();
    assert_eq!(s.message, "Kuinka voin auttaa sinua?");
    let s = w
        .engine
        .update_conversation_starter(
            &user(ANN),
            id(ANN),
            "fi",
            input(Some("fi"), Some("Moi")),
            false,
        )
        .unwrap();
    assert_eq!(s.message, "Moi");
    assert_eq!(listed(&w, ANN), vec![("fi".into(), "Moi".into())]);
    let e = err(w.engine.update_conversation_starter(
        &user(ANN),
        id(ANN),
        "fi",
        input(None, Some("")),
        true,
    ));
    assert!(e.errors.contains_key("message"));
}

#[test]
fn updating_may_move_a_starter_to_another_free_language() {
    let w = world();
    create(&w, ANN, "fi", "Hei");
    create(&w, ANN, "sv", "Hej");
    let e = err(w.engine.update_conversation_starter(
        &user(ANN),
        id(ANN),
        "fi",
        input(Some("sv"), None),
        true,
    ));
    assert_eq!(e.code, EC::ConversationStarterExists);
    let e = err(w.engine.update_conversation_starter(
        &user(ANN),
        id(ANN),
        "fi",
        input(Some("xx"), None),
        true,
    ));
    assert!(e.errors.contains_key("language_code"));
    let s = w
        .engine
        .update_conversation_starter(
            &user(ANN),
            id(ANN),
            "fi",
            input(Some("en"), Some("Hi")),
            false,
        )
        .unwrap();
    assert_eq!(s.language_code, "en");
    let mut codes: Vec<String> = listed(&w, ANN).into_iter().map(|(c, _)| c).collect();
    codes.sort();
    assert_eq!(codes, vec!["en", "sv"]);
}

#[test]
fn missing_starters_are_404_and_delete_removes() {
    let w = world();
    create(&w, ANN, "en", "Hi");
    for lang in ["fi", "nonsense"] {
        assert_eq!(
            code(w.engine.update_conversation_starter(
                &user(ANN),
                id(ANN),
                lang,
                input(None, Some("x")),
                true
            )),
            EC::NotFound
        );
        assert_eq!(
            code(
                w.engine
                    .delete_conversation_starter(&user(ANN), id(ANN), lang)
            ),
            EC::NotFound
        );
    }
    // Bob has no "en" starter of his own.
    assert_eq!(
        code(
            w.engine
                .delete_conversation_starter(&user(BOB), id(BOB), "en")
        ),
        EC::NotFound
    );
    w.engine
        .delete_conversation_starter(&user(ANN), id(ANN), "EN")
        .unwrap();
    assert!(listed(&w, ANN).is_empty());
    let e = err(w
        .engine
        .delete_conversation_starter(&user(ANN), id(ANN), "en"));
    assert_eq!((e.code, e.status()), (EC::NotFound, 404));
    // The language is free again.
    create(&w, ANN, "en", "Hello again");
}

#[test]
fn access_to_another_users_starters_needs_the_settings_permission() {
    let w = world();
    create(&w, ANN, "en", "Hi");
    assert_eq!(
        code(
            w.engine
                .list_conversation_starters(&user(BOB), id(ANN), &PageRequest::default())
        ),
        EC::PermissionDenied
    );
    assert_eq!(
        code(w.engine.create_conversation_starter(
            &user(BOB),
            id(ANN),
            input(Some("fi"), Some("Hei"))
        )),
        EC::PermissionDenied
    );
    assert_eq!(
        code(
            w.engine
                .delete_conversation_starter(&user(BOB), id(ANN), "en")
        ),
        EC::PermissionDenied
    );
    assert_eq!(
        code(w.engine.update_conversation_starter(
            &user(BOB),
            id(ANN),
            "en",
            input(None, Some("x")),
            true
        )),
        EC::PermissionDenied
    );
    // Cat manages the organization's users; Olli is in another organization.
    w.engine
        .create_conversation_starter(&user(CAT), id(ANN), input(Some("fi"), Some("Hei")))
        .unwrap();
    assert_eq!(listed(&w, ANN).len(), 2);
    assert_eq!(
        code(
            w.engine
                .list_conversation_starters(&user(OLLI), id(ANN), &PageRequest::default())
        ),
        EC::PermissionDenied
    );
    assert_eq!(
        code(w.engine.list_conversation_starters(
            &crate::Actor::Admin,
            id(ANN),
            &PageRequest::default()
        )),
        EC::PermissionDenied
    );
}
