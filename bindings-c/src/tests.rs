//! Rust-side tests of the C ABI: the code mapping, the panic boundary, NULL and UTF-8 handling,
//! the generic call over every operation, and the README's C example.

use super::*;
use std::ptr;

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in test strings")
}

/// Takes ownership of a returned string.
fn take(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let s = unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("utf-8")
        .to_string();
    unsafe { chat_string_free(p) };
    Some(s)
}

fn open() -> *mut chat_engine {
    let mut e = ptr::null_mut();
    assert_eq!(
        unsafe { chat_engine_open_in_memory(&mut e) },
        chat_result::CHAT_OK
    );
    e
}

fn admin() -> *mut chat_actor {
    let mut a = ptr::null_mut();
    assert_eq!(unsafe { chat_actor_admin(&mut a) }, chat_result::CHAT_OK);
    a
}

fn call(
    e: *const chat_engine,
    a: *const chat_actor,
    op: &str,
    args: &str,
) -> (chat_result, u16, Option<String>) {
    let (op, args) = (c(op), c(args));
    let mut status = 0u16;
    let mut out = ptr::null_mut();
    let r = unsafe { chat_engine_call(e, a, op.as_ptr(), args.as_ptr(), &mut status, &mut out) };
    (r, status, take(out))
}

#[test]
fn every_core_code_has_the_same_number_and_name() {
    for code in ErrorCode::ALL {
        let r = chat_result::from(code);
        assert_eq!(r as u32, code as u32, "{code:?}");
        assert_eq!(r.code_name(), code.as_str());
        assert_eq!(r.http_status(), code.http_status());
        assert_eq!(
            format!("{r:?}"),
            format!("CHAT_{}", code.as_str().to_uppercase())
        );
    }
    // Every code is listed once, the ABI's own codes above 1000, CHAT_OK is 0.
    assert_eq!(chat_result::CHAT_OK as u32, 0);
    assert_eq!(chat_result::ALL.len(), ErrorCode::ALL.len() + 4);
    for r in chat_result::ALL {
        assert_eq!(chat_result::from_u32(r as u32), Some(r));
        assert!(!r.description().is_empty());
        let core = ErrorCode::ALL.iter().any(|c| chat_result::from(*c) == r);
        assert!(
            core || r == chat_result::CHAT_OK || r as u32 >= 1000,
            "{r:?}"
        );
    }
    assert_eq!(chat_result::CHAT_NULL_PARAMETER as u32, 1000);
    assert_eq!(chat_result::CHAT_INVALID_UTF8 as u32, 1001);
    assert_eq!(chat_result::CHAT_PANIC as u32, 1002);
}

#[test]
fn the_committed_header_lists_every_code_with_its_number() {
    let header = include_str!("../include/chat_engine.h");
    for r in chat_result::ALL {
        let line = format!("{r:?} = {},", r as u32);
        assert!(header.contains(&line), "header lacks `{line}`");
    }
}

#[test]
fn panics_become_chat_panic() {
    assert_eq!(boundary(|| panic!("boom")), chat_result::CHAT_PANIC);
    let f = catching::<()>(|| panic!("boom {}", 42)).unwrap_err();
    assert_eq!(f.result, chat_result::CHAT_PANIC);
    assert_eq!(f.body["code"], "panic");
    assert!(f.detail.contains("boom 42"), "{}", f.detail);
    assert_eq!(f.status(), 500);
}

#[test]
fn null_parameters_are_reported_never_dereferenced() {
    let e = open();
    let a = admin();
    let op = c("me");
    let args = c("{}");
    let mut status = 0u16;
    let mut out = ptr::null_mut();
    unsafe {
        assert_eq!(
            chat_engine_call(
                ptr::null(),
                a,
                op.as_ptr(),
                args.as_ptr(),
                &mut status,
                &mut out
            ),
            chat_result::CHAT_NULL_PARAMETER
        );
        assert!(out.is_null());
        for (actor, op_p, args_p) in [
            (ptr::null(), op.as_ptr(), args.as_ptr()),
            (a.cast_const(), ptr::null(), args.as_ptr()),
            (a.cast_const(), op.as_ptr(), ptr::null()),
        ] {
            let r = chat_engine_call(e, actor, op_p, args_p, &mut status, &mut out);
            assert_eq!(r, chat_result::CHAT_NULL_PARAMETER);
            assert_eq!(status, 400);
            let body = take(out).expect("error body");
            assert!(body.contains("\"null_parameter\""), "{body}");
        }
        let r = chat_engine_call(e, a, op.as_ptr(), args.as_ptr(), ptr::null_mut(), &mut out);
        assert_eq!(r, chat_result::CHAT_NULL_PARAMETER);
        take(out);
        let r = chat_engine_call(
            e,
            a,
            op.as_ptr(),
            args.as_ptr(),
            &mut status,
            ptr::null_mut(),
        );
        assert_eq!(r, chat_result::CHAT_NULL_PARAMETER);
        assert_eq!(
            chat_engine_open_in_memory(ptr::null_mut()),
            chat_result::CHAT_NULL_PARAMETER
        );
        assert_eq!(
            chat_engine_open(ptr::null(), &mut ptr::null_mut()),
            chat_result::CHAT_NULL_PARAMETER
        );
        assert_eq!(
            chat_actor_admin(ptr::null_mut()),
            chat_result::CHAT_NULL_PARAMETER
        );
        assert_eq!(
            chat_operations(ptr::null_mut()),
            chat_result::CHAT_NULL_PARAMETER
        );
        chat_engine_free(ptr::null_mut());
        chat_actor_free(ptr::null_mut());
        chat_string_free(ptr::null_mut());
    }
    // The engine still works, and a success clears this thread's last error.
    let (r, status, body) = call(e, a, "maintenance", "{}");
    assert_eq!((r, status), (chat_result::CHAT_OK, 200), "{body:?}");
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { chat_engine_last_error_json(e, &mut out) },
        chat_result::CHAT_OK
    );
    assert!(out.is_null());
    unsafe {
        chat_actor_free(a);
        chat_engine_free(e);
    }
}

#[test]
fn invalid_utf8_and_invalid_json_have_their_codes() {
    let e = open();
    let a = admin();
    let bad = CString::new(vec![b'm', 0xff, b'e']).expect("no NUL");
    let args = c("{}");
    let mut status = 0u16;
    let mut out = ptr::null_mut();
    let r = unsafe { chat_engine_call(e, a, bad.as_ptr(), args.as_ptr(), &mut status, &mut out) };
    assert_eq!(r, chat_result::CHAT_INVALID_UTF8);
    assert!(take(out).expect("body").contains("\"invalid_utf8\""));
    let mut len = 0usize;
    let mut buf = [0 as c_char; 64];
    assert_eq!(
        unsafe { chat_engine_last_error(e, buf.as_mut_ptr(), buf.len(), &mut len) },
        chat_result::CHAT_OK
    );
    let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .expect("utf-8");
    assert_eq!(msg, "The parameter `op` is not valid UTF-8.");
    assert_eq!(len, msg.len());

    let (r, status, body) = call(e, a, "me", "{oops");
    assert_eq!((r, status), (chat_result::CHAT_PARSE_ERROR, 400));
    assert!(body.expect("body").contains("\"parse_error\""));
    let (r, status, _) = call(e, a, "no_such_operation", "{}");
    assert_eq!((r, status), (chat_result::CHAT_NOT_FOUND, 404));
    unsafe {
        chat_actor_free(a);
        chat_engine_free(e);
    }
}

#[test]
fn messages_are_cut_like_snprintf() {
    let mut n = 0usize;
    assert_eq!(
        unsafe { chat_result_message(10, ptr::null_mut(), 0, &mut n) },
        chat_result::CHAT_OK
    );
    assert_eq!(n, "chat_ended: the chat has ended".len());
    let mut buf = [1 as c_char; 5];
    assert_eq!(
        unsafe { chat_result_message(10, buf.as_mut_ptr(), buf.len(), &mut n) },
        chat_result::CHAT_OK
    );
    assert_eq!(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes(), b"chat");
    assert_eq!(
        unsafe { chat_result_message(10, ptr::null_mut(), 5, &mut n) },
        chat_result::CHAT_NULL_PARAMETER
    );
    assert_eq!(
        unsafe { chat_result_message(10, buf.as_mut_ptr(), 5, ptr::null_mut()) },
        chat_result::CHAT_NULL_PARAMETER
    );
    let mut big = [0 as c_char; 64];
    unsafe { chat_result_message(4242, big.as_mut_ptr(), big.len(), &mut n) };
    assert_eq!(
        unsafe { CStr::from_ptr(big.as_ptr()) }.to_bytes(),
        b"unknown result code 4242"
    );
    // A cut never splits a UTF-8 character.
    let mut small = [0 as c_char; 3];
    unsafe { copy_out("aé", small.as_mut_ptr(), small.len(), &mut n) };
    assert_eq!(unsafe { CStr::from_ptr(small.as_ptr()) }.to_bytes(), b"a");
    assert_eq!(n, 3);
}

#[test]
fn every_operation_of_the_table_is_reachable_through_the_generic_call() {
    let mut out = ptr::null_mut();
    assert_eq!(unsafe { chat_operations(&mut out) }, chat_result::CHAT_OK);
    let table: Value = serde_json::from_str(&take(out).expect("table")).expect("json");
    let names: Vec<&str> = table
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(names.len(), api::OPERATIONS.len());
    let e = open();
    let a = admin();
    for name in names {
        let (r, status, body) = call(e, a, name, "{}");
        let body = body.expect("a body on success and on failure");
        assert!(
            !body.contains("Unknown operation"),
            "{name} is not dispatched: {body}"
        );
        assert_ne!(r, chat_result::CHAT_PANIC, "{name}: {body}");
        assert!(status >= 200, "{name}");
    }
    unsafe {
        chat_actor_free(a);
        chat_engine_free(e);
    }
}

#[test]
fn tokens_authenticate_and_unknown_tokens_do_not() {
    let e = open();
    let a = admin();
    let seed = r#"{"body": {
      "organizations": [{"id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Acme"}],
      "users": [{"id": "bed3221e-879e-43df-8d0e-d63f8c1f012d", "organization_id": "7f9e9580-095b-42c7-838c-c04e667b26f7",
                 "first_name": "Ann", "last_name": "Lee", "is_present": true, "api_token": "ann-secret-token-123"}]}}"#;
    let (r, status, body) = call(e, a, "load_seed", seed);
    assert_eq!((r, status), (chat_result::CHAT_OK, 200), "{body:?}");
    let mut ann = ptr::null_mut();
    let token = c("ann-secret-token-123");
    assert_eq!(
        unsafe { chat_actor_from_token(e, token.as_ptr(), &mut ann) },
        chat_result::CHAT_OK
    );
    let (r, _, body) = call(e, ann, "me", "");
    assert_eq!(r, chat_result::CHAT_OK);
    assert!(
        body.expect("me")
            .contains("bed3221e-879e-43df-8d0e-d63f8c1f012d")
    );
    let mut nobody = ptr::null_mut();
    let wrong = c("not-a-token-at-all");
    assert_eq!(
        unsafe { chat_actor_from_token(e, wrong.as_ptr(), &mut nobody) },
        chat_result::CHAT_NOT_AUTHENTICATED
    );
    assert!(nobody.is_null());
    let mut out = ptr::null_mut();
    unsafe { chat_engine_last_error_json(e, &mut out) };
    assert!(take(out).expect("error").contains("not_authenticated"));
    // The actor outlives the engine (it holds only the identity).
    unsafe {
        chat_engine_free(e);
        chat_actor_free(ann);
        chat_actor_free(a);
    }
}

#[test]
fn last_errors_are_per_thread() {
    struct Shared(*mut chat_engine, *mut chat_actor);
    unsafe impl Send for Shared {}
    unsafe impl Sync for Shared {}
    let s = Shared(open(), admin());
    let (r, ..) = call(s.0, s.1, "me", "{oops");
    assert_eq!(r, chat_result::CHAT_PARSE_ERROR);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let s = &s;
            let mut out = ptr::null_mut();
            unsafe { chat_engine_last_error_json(s.0, &mut out) };
            assert!(out.is_null(), "another thread's error leaked");
            let (r, ..) = call(s.0, s.1, "maintenance", "{}");
            assert_eq!(r, chat_result::CHAT_OK);
        });
    });
    let mut out = ptr::null_mut();
    unsafe { chat_engine_last_error_json(s.0, &mut out) };
    assert!(take(out).expect("still mine").contains("parse_error"));
    unsafe {
        chat_actor_free(s.1);
        chat_engine_free(s.0);
    }
}

#[test]
fn the_readme_shows_the_c_example_verbatim() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../examples/hello.c");
    let block = format!("```c\n{example}```\n");
    assert!(
        readme.contains(&block),
        "README.md must contain bindings-c/examples/hello.c verbatim in a ```c block"
    );
}

#[test]
fn the_version_is_the_crate_version() {
    let v = unsafe { CStr::from_ptr(chat_version()) };
    assert_eq!(v.to_str().expect("utf-8"), env!("CARGO_PKG_VERSION"));
}

#[test]
fn events_are_polled_through_the_operation_table_with_idempotent_creations() {
    let e = open();
    let a = admin();
    let seed = r#"{"body": {
      "organizations": [{"id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Acme"}],
      "users": [{"id": "bed3221e-879e-43df-8d0e-d63f8c1f012d", "organization_id": "7f9e9580-095b-42c7-838c-c04e667b26f7",
                 "first_name": "Ann", "last_name": "Lee", "is_present": true, "api_token": "ann-secret-token-123"}],
      "rooms": [{"id": "9926bdfa-56e0-11e5-b98c-6c4008c08dfe", "organization_id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Support"}],
      "visitors": [{"id": "3b90ef7c93484af4965a79ace7bc9a62", "room_id": "9926bdfa-56e0-11e5-b98c-6c4008c08dfe", "name": null, "is_present": true}]}}"#;
    let (r, ..) = call(e, a, "load_seed", seed);
    assert_eq!(r, chat_result::CHAT_OK);
    let mut ann = ptr::null_mut();
    let token = c("ann-secret-token-123");
    assert_eq!(
        unsafe { chat_actor_from_token(e, token.as_ptr(), &mut ann) },
        chat_result::CHAT_OK
    );
    let channels = r#"{"body": {"channels": ["/api/v5/users/bed3221e-879e-43df-8d0e-d63f8c1f012d/*"], "since": null}}"#;
    let (r, _, body) = call(e, ann, "events_since", channels);
    assert_eq!(r, chat_result::CHAT_OK, "{body:?}");
    let head: serde_json::Value = serde_json::from_str(&body.expect("page")).expect("json");
    let since = head["last_seq"].as_i64().expect("last_seq");
    let create = r#"{"user_id": "bed3221e-879e-43df-8d0e-d63f8c1f012d", "room_id": "9926bdfa-56e0-11e5-b98c-6c4008c08dfe",
                     "visitor_id": "3b90ef7c93484af4965a79ace7bc9a62", "idempotency_key": "c-1"}"#;
    let first = call(e, ann, "create_visitor_chat", create);
    let again = call(e, ann, "create_visitor_chat", create);
    assert_eq!(first.0, chat_result::CHAT_OK);
    assert_eq!((first.1, &first.2), (again.1, &again.2));
    let poll = format!(
        r#"{{"body": {{"channels": ["/api/v5/users/bed3221e-879e-43df-8d0e-d63f8c1f012d/chats"], "since": {since}}}}}"#
    );
    let (r, _, body) = call(e, ann, "events_since", &poll);
    assert_eq!(r, chat_result::CHAT_OK);
    let page: serde_json::Value = serde_json::from_str(&body.expect("page")).expect("json");
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["action"], "added");
    // Another user's channels are refused with the core's code.
    let other = r#"{"body": {"channels": ["/api/v5/users/006ff599-9073-11e6-a887-f45c89c72de3/*"], "since": 0}}"#;
    let (r, status, _) = call(e, ann, "events_since", other);
    assert_eq!((r, status), (chat_result::CHAT_PERMISSION_DENIED, 403));
    unsafe {
        chat_actor_free(ann);
        chat_actor_free(a);
        chat_engine_free(e);
    }
}
