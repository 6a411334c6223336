//! The server around the endpoints: OpenAPI, health, authentication, request bodies and
//! errors, management and public APIs, the demo, shutdown and restart, concurrency, logs.

mod support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::world::World;
use support::*;

#[test]
fn openapi_lists_every_endpoint_row_with_its_method() {
    let s = Server::with_seed(&seed());
    let doc = s.call("GET", "/api/v5/openapi.json", None, None);
    let doc = doc.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let tsv = include_str!("../data/endpoints.tsv");
    let mut rows = 0;
    for line in tsv.lines().skip(1).filter(|l| !l.is_empty()) {
        let mut f = line.split('\t');
        let (method, path) = (f.next().unwrap(), f.next().unwrap());
        let template = path.replace('<', "{").replace('>', "}");
        let op = &paths
            .get(&template)
            .unwrap_or_else(|| panic!("{template} missing"))[method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} missing");
        assert!(op["responses"].is_object() && op["operationId"].is_string());
        rows += 1;
    }
    assert_eq!(rows, 79);
    // The additions: PATCH of memberships and the invitation accept path.
    assert!(paths["/api/v5/users/{user_id}/chat_memberships/{chat_id}"]["patch"].is_object());
    let accept =
        &paths["/api/v5/users/{user_id}/chats/{chat_id}/incoming_chat_invitations/{invitation_id}"];
    assert!(accept["put"].is_object() && accept["patch"].is_object());
    // Every documented operation is routed: no "no such endpoint" for any path and method.
    let mut ops = 0;
    for (path, methods) in paths {
        let concrete = path
            .replace("{visitor_id}", VIS_A)
            .replace("{tag_name}", "Lead")
            .replace("{language_code}", "fi")
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "a0000000-0000-4000-8000-000000000999"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in methods.as_object().unwrap().keys() {
            let r = s.call(&method.to_uppercase(), &concrete, Some(ANN_T), None);
            assert!(r.status != 405, "{method} {path}");
            assert!(
                !(r.status == 404 && r.body["detail"] == "No such endpoint."),
                "{method} {path}"
            );
            ops += 1;
        }
    }
    assert!(ops > 120);
}

#[test]
fn health_and_router_errors_have_json_bodies() {
    let s = Server::with_seed(&seed());
    let h = s.call("GET", "/healthz", None, None);
    assert_eq!(h.expect(200)["status"], "ok");
    s.call("GET", "/api/v5/nothing/here", Some(ANN_T), None)
        .expect_error(404, "not_found");
    s.call(
        "DELETE",
        &format!("/api/v5/users/{ANN}/chats"),
        Some(ANN_T),
        None,
    )
    .expect_error(405, "method_not_allowed");
    s.call("PUT", "/healthz", None, None)
        .expect_error(405, "method_not_allowed");
}

#[test]
fn authentication_schemes_and_the_admin_token() {
    let s = Server::with_seed(&seed());
    let me = "/api/v5/users/me".to_string();
    for header in [
        format!("Token {ANN_T}"),
        format!("Bearer {ANN_T}"),
        format!("token {ANN_T}"),
        format!("BEARER  {ANN_T}"),
    ] {
        let r = s.raw("GET", &me, &[("Authorization", &header)], None);
        assert_eq!(r.expect(200)["id"], ANN, "{header}");
    }
    let r = s.raw(
        "GET",
        &me,
        &[("Authorization", &format!("Token {ANN_T}"))],
        None,
    );
    let u = r.expect(200);
    assert_eq!(u["full_name"], "Ann Lee");
    assert_eq!(u["member_public_name"], "Support");
    assert_eq!(u["organization_id"], ORG_A);
    assert_eq!(u["permissions"], json!(["reports", "settings"]));
    for header in [
        "",
        "Token",
        "Basic YW5uOnB3",
        "Token nope-nope-nope-nope",
        "Bearer",
    ] {
        let r = s.raw("GET", &me, &[("Authorization", header)], None);
        r.expect_error(401, "not_authenticated");
    }
    s.raw("GET", &me, &[], None)
        .expect_error(401, "not_authenticated");
    // Credentials are checked before the body is read: no token is 401 even with a body that
    // is not JSON, or not JSON at all.
    let chats = format!("/api/v5/users/{ANN}/chats");
    s.raw(
        "POST",
        &chats,
        &[("Content-Type", "application/json")],
        Some(b"{oops".to_vec()),
    )
    .expect_error(401, "not_authenticated");
    s.raw(
        "POST",
        &chats,
        &[("Content-Type", "text/plain")],
        Some(b"hi".to_vec()),
    )
    .expect_error(401, "not_authenticated");
    // Only the admin token creates organizations.
    s.post("/api/v5/orgs", ANN_T, json!({"name": "Nope"}))
        .expect_error(403, "permission_denied");
    let org = s.post("/api/v5/orgs", ADMIN, json!({"name": "New Co"}));
    let org = org.expect(201);
    assert_eq!(org["name"], "New Co");
    assert_eq!(org["has_active_subscription"], true);
    assert_eq!(org["chat_idle_timeout_s"], 1800);
    // A visitor token is a visitor: not admin, not a user.
    let auth = s.call(
        "POST",
        &format!("/api/v5/public/orgs/{ORG_A}/auth"),
        None,
        Some(&json!({})),
    );
    let vt = auth.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    s.raw(
        "GET",
        &me,
        &[("Authorization", &format!("Bearer {vt}"))],
        None,
    )
    .expect(403);
    // The log carries neither tokens nor message texts.
    let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("my secret order number 987654"));
    let _ = chat;
    // The visitor's message is the last request: once its line is in the log, so are the
    // others'.
    let messages = "path=/api/v5/public/visitors/{visitor_id}/chats/{chat_id}/messages";
    wait_until(
        "the message request's log line",
        Duration::from_secs(10),
        || s.log().contains(messages),
    );
    let log = s.log();
    assert!(
        log.contains("path=/api/v5/users/me") && log.contains("status=200"),
        "{log}"
    );
    assert!(log.contains("latency_ms="));
    assert!(log.contains("path=/api/v5/public/visitors/{visitor_id}/chats/{chat_id}/messages"));
    for secret in [ANN_T, ADMIN, vt.as_str(), "987654"] {
        assert!(!log.contains(secret), "the log leaks {secret}");
    }
}

#[test]
fn bad_request_bodies_and_ids_are_4xx_with_error_bodies() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let path = format!("/api/v5/users/{ANN}/chats/{}/messages", w.open_a);
    let auth = format!("Token {ANN_T}");
    let json_h = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for (body, code) in [
        ("{\"message\": ", "parse_error"),
        ("nul", "parse_error"),
        ("\"just a string\"", "parse_error"),
        ("[]", "parse_error"),
        ("{\"message\": \"a\"} trailing", "parse_error"),
        ("{\"message\": [\"a\"]}", "validation_error"),
        (
            "{\"message\": \"hi\", \"colour\": \"red\"}",
            "validation_error",
        ),
    ] {
        let r = s.raw("POST", &path, &json_h, Some(body.as_bytes().to_vec()));
        r.expect_error(400, code);
    }
    // Unknown fields where the payload is fixed: named in `errors`.
    let r = s.post(
        &format!("/api/v5/users/{ANN}/chat_memberships"),
        ANN_T,
        json!({}),
    );
    r.expect_error(405, "method_not_allowed");
    let r = s.raw(
        "POST",
        &path,
        &json_h,
        Some(br#"{"message": "hi", "colour": "red"}"#.to_vec()),
    );
    assert!(
        r.expect_error(400, "validation_error")["errors"]
            .get("colour")
            .is_some(),
        "{}",
        r.text
    );
    // Oversized: 413 with a body (and the connection is not dropped).
    let big = json!({"message": "x".repeat(100 * 1024)});
    let r = s.raw(
        "POST",
        &path,
        &json_h,
        Some(serde_json::to_vec(&big).unwrap()),
    );
    r.expect_error(413, "payload_too_large");
    // Past the drain limit the server answers 413 from the declared length without reading
    // the body and closes the connection: a client still uploading may see the reset before
    // the answer. Either way nothing is stored and the server goes on serving. (On a
    // connection of its own: the closed one must not be reused by the requests below.)
    let huge = vec![b' '; 3 * 1024 * 1024];
    match s.try_raw_alone("POST", &path, &json_h, Some(huge)) {
        Ok(r) => {
            r.expect_error(413, "payload_too_large");
        }
        Err(e) => assert!(
            e.is_request() || e.is_body() || e.is_connect(),
            "not a closed connection: {e}"
        ),
    }
    assert_eq!(
        s.raw("GET", "/healthz", &[], None).status,
        200,
        "the server still serves"
    );
    // Not JSON.
    let r = s.raw(
        "POST",
        &path,
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/plain"),
        ],
        Some(b"hello".to_vec()),
    );
    r.expect_error(415, "unsupported_media_type");
    // No Content-Type: read as JSON.
    let r = s.raw(
        "POST",
        &path,
        &[("Authorization", auth.as_str())],
        Some(br#"{"message": "no header"}"#.to_vec()),
    );
    r.expect(200);
    // Bad path ids: 404.
    for p in [
        "/api/v5/users/not-a-uuid/chats".to_string(),
        format!("/api/v5/users/{ANN}/chats/xyz/messages"),
        "/api/v5/orgs/%FF%FE/owned_chats".to_string(),
        format!("/api/v5/public/visitors/NOTHEX/chats/{}/messages", w.open_a),
    ] {
        s.get(&p, ANN_T).expect(404);
    }
    // Bad query values: 400 naming the parameter.
    let r = s.get(&format!("/api/v5/users/{ANN}/chats?is_ended=maybe"), ANN_T);
    assert!(
        r.expect_error(400, "validation_error")["errors"]
            .get("is_ended")
            .is_some()
    );
    let r = s.get(&format!("/api/v5/users/{ANN}/chats?ordering=name"), ANN_T);
    assert!(
        r.expect_error(400, "validation_error")["errors"]
            .get("ordering")
            .is_some()
    );
    let r = s.get(
        &format!("/api/v5/orgs/{ORG_A}/owned_chats?created_at_after=yesterday"),
        ANN_T,
    );
    assert!(
        r.expect_error(400, "validation_error")["errors"]
            .get("created_at_after")
            .is_some()
    );
    // The server is still fine.
    s.call("GET", "/healthz", None, None).expect(200);
}

#[test]
fn management_endpoints_round_trip() {
    let s = Server::with_seed(&seed());
    let a = "/api/v5";
    let org = s.get(&format!("{a}/orgs/{ORG_A}"), ANN_T);
    assert_eq!(org.expect(200)["name"], "Acme");
    let org = s.patch(
        &format!("{a}/orgs/{ORG_A}"),
        ANN_T,
        json!({"chat_idle_timeout_s": 600}),
    );
    assert_eq!(org.expect(200)["chat_idle_timeout_s"], 600);
    s.patch(&format!("{a}/orgs/{ORG_A}"), BOB_T, json!({"name": "x"}))
        .expect_error(403, "permission_denied");
    // Users and tokens.
    let u = s.post(
        &format!("{a}/orgs/{ORG_A}/users"),
        ANN_T,
        json!({"first_name": "Eve", "last_name": "New", "permissions": ["reports"]}),
    );
    let u = u.expect(201).clone();
    let eve = u["id"].as_str().unwrap();
    assert_eq!(u["full_name"], "Eve New");
    let users = s.get(&format!("{a}/orgs/{ORG_A}/users"), BOB_T);
    assert!(
        users.expect(200)["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == eve)
    );
    s.get(&format!("{a}/orgs/{ORG_A}/users/{eve}"), BOB_T)
        .expect(200);
    let t = s.post(&format!("{a}/users/{eve}/api_tokens"), ANN_T, json!({}));
    let t = t.expect(201).clone();
    let token = t["token"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("{a}/users/me"), token).expect(200)["id"],
        eve
    );
    let e = s.patch(
        &format!("{a}/orgs/{ORG_A}/users/{eve}"),
        ANN_T,
        json!({"alias": "Evie"}),
    );
    assert_eq!(e.expect(200)["member_public_name"], "Evie");
    s.delete(
        &format!("{a}/users/{eve}/api_tokens/{}", t["id"].as_str().unwrap()),
        ANN_T,
    )
    .expect(204);
    s.get(&format!("{a}/users/me"), token)
        .expect_error(401, "not_authenticated");
    s.delete(&format!("{a}/orgs/{ORG_A}/users/{eve}"), ANN_T)
        .expect(204);
    // Presence clients.
    let c = s.post(
        &format!("{a}/users/{DAN}/clients"),
        DAN_T,
        json!({"presence_expires_in": 60}),
    );
    let client = c.expect(201)["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.get(&format!("{a}/users/me"), DAN_T).body["is_present"],
        true
    );
    s.patch(
        &format!("{a}/users/{DAN}/clients/{client}"),
        DAN_T,
        json!({"presence_expires_in": 120}),
    )
    .expect(200);
    let listed = s.get(&format!("{a}/users/{DAN}/clients?page_size=10"), DAN_T);
    let listed = listed.expect(200);
    assert_eq!(listed["next"], Value::Null);
    let only = &listed["results"][0];
    assert_eq!(listed["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(only["id"], client.as_str());
    let mut keys: Vec<&str> = only
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "expires_at", "id", "updated_at"]);
    // The access rule of creating one: another user without settings permission is refused.
    s.get(&format!("{a}/users/{DAN}/clients"), BOB_T)
        .expect_error(403, "permission_denied");
    s.delete(&format!("{a}/users/{DAN}/clients/{client}"), DAN_T)
        .expect(204);
    let listed = s.get(&format!("{a}/users/{DAN}/clients"), DAN_T);
    assert_eq!(listed.expect(200)["results"], json!([]));
    assert_eq!(
        s.get(&format!("{a}/users/me"), DAN_T).body["is_present"],
        false
    );
    // Teams, rooms, routers, shares.
    let team = s.post(
        &format!("{a}/orgs/{ORG_A}/teams"),
        ANN_T,
        json!({"name": "Night shift"}),
    );
    let team = team.expect(201)["id"].as_str().unwrap().to_string();
    let t = s.post(
        &format!("{a}/orgs/{ORG_A}/teams/{team}/memberships"),
        ANN_T,
        json!({"user_id": BOB}),
    );
    assert_eq!(t.expect(201)["member_count"], 1);
    assert_eq!(
        s.get(&format!("{a}/orgs/{ORG_A}/teams/{team}"), BOB_T)
            .expect(200)["is_present"],
        true
    );
    assert!(
        s.get(&format!("{a}/orgs/{ORG_A}/teams"), BOB_T).expect(200)["results"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    s.delete(
        &format!("{a}/orgs/{ORG_A}/teams/{team}/memberships/{BOB}"),
        ANN_T,
    )
    .expect(204);
    let router = s.post(
        &format!("{a}/orgs/{ORG_A}/routers"),
        ANN_T,
        json!({"name": "Nights", "steps": [{"team_ids": [team]}]}),
    );
    let router = router.expect(201)["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.get(&format!("{a}/orgs/{ORG_A}/routers"), ANN_T)
            .expect(200)["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let room = s.post(
        &format!("{a}/orgs/{ORG_A}/rooms"),
        ANN_T,
        json!({"name": "Night desk", "allowed_tags": ["Lead"]}),
    );
    let room = room.expect(201)["id"].as_str().unwrap().to_string();
    let r = s.patch(
        &format!("{a}/orgs/{ORG_A}/rooms/{room}"),
        ANN_T,
        json!({"router_id": router, "ttl_s": 3600}),
    );
    assert_eq!(r.expect(200)["router_id"], router.as_str());
    assert_eq!(
        s.get(&format!("{a}/orgs/{ORG_A}/rooms/{room}"), BOB_T)
            .expect(200)["ttl_s"],
        3600
    );
    assert!(
        s.get(&format!("{a}/orgs/{ORG_A}/rooms"), BOB_T).expect(200)["results"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    assert_eq!(
        s.get(&format!("{a}/users/{BOB}/rooms/{ROOM_A1}"), BOB_T)
            .expect(200)["name"],
        "Support"
    );
    let shared = s.post(
        &format!("{a}/orgs/{ORG_A}/outgoing_shares/rooms"),
        ANN_T,
        json!({"room_id": room, "organization_id": ORG_P}),
    );
    assert_eq!(shared.expect(201)["shared_with"], json!([ORG_P]));
    s.post(
        &format!("{a}/orgs/{ORG_A}/outgoing_shares/teams"),
        ANN_T,
        json!({"team_id": team, "organization_id": ORG_P}),
    )
    .expect(201);
    // Only with partners.
    s.post(
        &format!("{a}/orgs/{ORG_A}/outgoing_shares/rooms"),
        ANN_T,
        json!({"room_id": room, "organization_id": ORG_B}),
    )
    .expect_error(400, "validation_error");
    // Visitors seen by operators, and their variables.
    let v = s.post(
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/visitors/{VIS_A}/variables"),
        ANN_T,
        json!({"key": "username", "value": "Vera V."}),
    );
    assert_eq!(v.expect(201)["name"], "Vera V.");
    let v = s.get(
        &format!("{a}/users/{ANN}/rooms/{ROOM_A1}/visitors/{VIS_A}"),
        ANN_T,
    );
    assert_eq!(v.expect(200)["variables"]["username"], "Vera V.");
}

#[test]
fn public_visitor_api() {
    let s = Server::with_seed(&seed());
    let a = "/api/v5";
    let auth = s.call("POST", &format!("{a}/public/orgs/{ORG_A}/auth"), None, None);
    let auth = auth.expect(200).clone();
    let vid = auth["visitor_id"].as_str().unwrap();
    assert!(
        vid.len() == 32
            && vid
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(auth["organization_id"], ORG_A);
    assert!(auth["visitor_secret_id"].is_string() && auth["access_token"].is_string());
    assert!(auth["expires_in"].as_i64().unwrap() > 0);
    assert!(auth["expires_at"].as_str().unwrap().ends_with('Z'));
    let vt = auth["access_token"].as_str().unwrap();
    s.call(
        "POST",
        &format!("{a}/public/orgs/b0000000-0000-4000-8000-00000000dead/auth"),
        None,
        None,
    )
    .expect(404);
    let enter = format!("{a}/public/orgs/{ORG_A}/rooms/{ROOM_A1}/visitors");
    let v = s.post(&enter, vt, json!({"id": vid, "presence_expires_in": 60}));
    assert_eq!(v.expect(201)["id"], vid);
    s.post(&enter, vt, json!({"id": vid, "presence_expires_in": 60}))
        .expect(200);
    s.post(
        &enter,
        vt,
        json!({"id": vid, "presence_expires_in": "soon"}),
    )
    .expect_error(400, "validation_error");
    let start = format!("{a}/public/orgs/{ORG_A}/rooms/{ROOM_A1}/visitors/{vid}/chats");
    let chat = s.post(&start, vt, json!({})).expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.post(&start, vt, json!({})).expect(200)["id"],
        chat.as_str()
    );
    s.post(
        &format!("{a}/public/orgs/{ORG_A}/rooms/{ROOM_B1}/visitors/{vid}/chats"),
        vt,
        json!({}),
    )
    .expect(404);
    let msgs = format!("{a}/public/visitors/{vid}/chats/{chat}/messages");
    let m = s.post(&msgs, vt, json!({"type": "msg", "message": "Hi"}));
    assert_shape(m.expect(201), &visitor_message_shape());
    s.post(&msgs, vt, json!({"type": "join"}))
        .expect_error(400, "validation_error");
    s.post(&msgs, vt, json!({"type": "action", "response_to_message_id": chat, "response_to_attachment_id": chat, "response_to_action_id": chat}))
        .expect_error(400, "validation_error");
    let c = s.get(&format!("{a}/public/visitors/{vid}/chats/{chat}"), vt);
    assert_eq!(c.expect(200)["is_waiting"], true);
}

#[test]
fn demo_prints_curl_lines_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let s = Server::start_in(dir, db, "demo", &[]);
    let text = s.banner.join("\n");
    assert!(text.contains("token"), "{text}");
    let curls: Vec<_> = s
        .banner
        .iter()
        .filter(|l| l.starts_with("curl "))
        .cloned()
        .collect();
    assert!(curls.len() >= 5, "{text}");
    for line in curls {
        let args = shell_words(&line);
        let mut method = "GET".to_string();
        let mut headers: Vec<(String, String)> = vec![];
        let mut body = None;
        let mut url = String::new();
        let mut i = 1;
        while i < args.len() {
            match args[i].as_str() {
                "-X" => {
                    method = args[i + 1].clone();
                    i += 1;
                }
                "-H" => {
                    let (k, v) = args[i + 1].split_once(':').unwrap();
                    headers.push((k.trim().into(), v.trim().into()));
                    i += 1;
                }
                "-d" => {
                    body = Some(args[i + 1].as_bytes().to_vec());
                    i += 1;
                }
                a if a.starts_with('-') => {}
                a => url = a.to_string(),
            }
            i += 1;
        }
        assert!(url.starts_with(&s.base), "{url}");
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = s.raw(&method, &url, &h, body);
        assert!(
            (200..300).contains(&r.status),
            "{line}\n→ {} {}",
            r.status,
            r.text
        );
    }
    // The waiting chat was pending for the first curl (checked above: 2xx); Bob exists too.
    assert!(text.contains("Bob"));
}

/// Splits a shell line with single-quoted words (the demo's curl lines).
fn shell_words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn sigterm_finishes_requests_and_a_restart_sees_every_acknowledged_write() {
    let mut s = Server::with_seed(&seed());
    let mut chats = vec![];
    for i in 0..20 {
        let c = s.post(&format!("/api/v5/users/{ANN}/chats"), ANN_T, json!({}));
        let id = c.expect(201)["id"].as_str().unwrap().to_string();
        s.post(
            &format!("/api/v5/users/{ANN}/chats/{id}/messages"),
            ANN_T,
            json!({"message": format!("n{i}")}),
        )
        .expect(200);
        chats.push(id);
    }
    // A request the server is in the middle of when the signal arrives: it has read the
    // headers and its handler waits for the body (it asked for it with `100 Continue`).
    let addr = s.base.trim_start_matches("http://").to_string();
    let in_flight_body = b"{}";
    let mut in_flight = TcpStream::connect(&addr).unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        in_flight,
        "POST /api/v5/users/{ANN}/chats HTTP/1.1\r\nHost: x\r\nAuthorization: Token {ANN_T}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        in_flight_body.len()
    )
    .unwrap();
    let mut continue_line = [0u8; 25];
    in_flight.read_exact(&mut continue_line).unwrap();
    assert_eq!(&continue_line, b"HTTP/1.1 100 Continue\r\n\r\n");
    // Requests in flight while the signal arrives either complete or are refused; none is cut.
    let (first_ack_tx, first_ack) = std::sync::mpsc::channel();
    let base = s.base.clone();
    let writer = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        let mut acked = vec![];
        for _ in 0..200 {
            let r = client
                .post(format!("{base}/api/v5/users/{ANN}/chats"))
                .header("Authorization", format!("Token {ANN_T}"))
                .json(&json!({}))
                .send();
            match r {
                Ok(r) => {
                    assert_eq!(r.status().as_u16(), 201);
                    let v: Value = r.json().expect("a complete JSON body");
                    acked.push(v["id"].as_str().unwrap().to_string());
                    let _ = first_ack_tx.send(());
                }
                Err(e) => {
                    assert!(e.is_connect() || e.is_request(), "{e}");
                    break;
                }
            }
        }
        acked
    });
    // The writer is under way (or has finished, if its first request failed).
    let _ = first_ack.recv();
    s.send_sigterm();
    wait_until("the shutdown to begin", Duration::from_secs(20), || {
        s.log()
            .contains("shutting down: finishing requests in flight")
    });
    // The request begun before the signal completes after it.
    in_flight.write_all(in_flight_body).unwrap();
    let mut reply = String::new();
    in_flight.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 201 "), "{reply}");
    let (_, reply_body) = reply.split_once("\r\n\r\n").expect("headers end");
    let v: Value = serde_json::from_str(reply_body).expect("a complete JSON body");
    chats.push(v["id"].as_str().unwrap().to_string());
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    let acked = writer.join().unwrap();
    chats.extend(acked);
    let log = s.log();
    assert!(log.contains("database closed"), "{log}");
    // Restart on the same database.
    s.respawn(&[]);
    let s2 = s;
    let seen = ids(&s2.get_all(&format!("/api/v5/users/{ANN}/chats"), ANN_T));
    for c in &chats {
        assert!(seen.contains(c), "acknowledged chat {c} lost");
    }
    let m = s2.get(
        &format!("/api/v5/users/{ANN}/chats/{}/messages", chats[19]),
        ANN_T,
    );
    assert_eq!(m.expect(200)["results"][0]["message"], "n19");
}

#[test]
fn a_slow_client_does_not_stall_the_others() {
    let s = Server::with_seed(&seed());
    let addr = s.base.trim_start_matches("http://").to_string();
    // A client that sends half a request and then nothing, and one that trickles a body.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled
        .write_all(
            b"POST /api/v5/users/x/chats HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{",
        )
        .unwrap();
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET /api/v5/users/me HTTP/1.1\r\nHost: x\r\nAuthor")
        .unwrap();
    // Meanwhile many clients read and write concurrently.
    let start = Instant::now();
    let base = s.base.clone();
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for _ in 0..25 {
                    let r = if i % 2 == 0 {
                        client
                            .post(format!("{base}/api/v5/users/{ANN}/chats"))
                            .header("Authorization", format!("Token {ANN_T}"))
                            .json(&json!({}))
                            .send()
                    } else {
                        client
                            .get(format!("{base}/api/v5/users/{ANN}/chats?page_size=100"))
                            .header("Authorization", format!("Token {ANN_T}"))
                            .send()
                    };
                    let r = r.unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    // The stalled clients are still connected; finishing the half request works.
    half.write_all(format!("ization: Token {ANN_T}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    half.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = half.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    drop(stalled);
}

#[test]
fn checkpoint_settings_out_of_range_are_refused_before_anything_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    for (flag, value) in [
        ("--checkpoint-every-ms", "0"),
        ("--wal-inline-checkpoint-pages", "-1"),
    ] {
        let out = std::process::Command::new(server_bin())
            .arg("serve")
            .arg("--db")
            .arg(&db)
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
        assert!(!db.exists(), "{flag}={value} created the database");
    }
}

/// Sends `request` on a connection of its own and reads until the server closes it.
fn exchange(s: &Server, request: &[u8]) -> String {
    let mut c = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before taking all of an oversized request.
    let _ = c.write_all(request);
    let mut out = vec![];
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !out.is_empty() => break,
            Err(e) => panic!("read: {e}; so far: {}", String::from_utf8_lossy(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn requests_the_http_layer_cannot_parse_get_json_error_bodies() {
    let s = Server::with_seed(&seed());
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let cases: [(&[u8], u16, &str); 6] = [
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (
            b"GET /api/v5/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            "bad_request",
        ),
        (
            b"GET /healthz?q=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            "bad_request",
        ),
        (
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            400,
            "bad_request",
        ),
        (long_uri.as_bytes(), 414, "uri_too_long"),
        (
            huge_header.as_bytes(),
            431,
            "request_header_fields_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let reply = exchange(&s, request);
        let shown = &request[..request.len().min(40)];
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status} ")),
            "{}: {reply}",
            String::from_utf8_lossy(shown)
        );
        let (head, body) = reply.split_once("\r\n\r\n").expect("a complete head");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())),
            "{head}"
        );
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_error_body(&v);
        assert_eq!(v["code"], code, "{v}");
    }
    // The server serves on.
    s.get("/healthz", "").expect(200);
}

#[test]
fn a_payload_that_is_not_a_json_object_is_refused_and_nothing_is_created() {
    let s = Server::with_seed(&seed());
    let routers = format!("/api/v5/orgs/{ORG_A}/routers");
    let before = s.get(&routers, ANN_T).expect(200)["results"]
        .as_array()
        .unwrap()
        .len();
    let auth = format!("Token {ANN_T}");
    let json_h = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for body in ["null", " null ", "[]", "[{}]", "\"x\"", "1", "true"] {
        s.raw("POST", &routers, &json_h, Some(body.as_bytes().to_vec()))
            .expect_error(400, "parse_error");
        s.raw(
            "POST",
            &format!("/api/v5/users/{ANN}/chats"),
            &json_h,
            Some(body.as_bytes().to_vec()),
        )
        .expect_error(400, "parse_error");
    }
    let after = s.get(&routers, ANN_T).expect(200)["results"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before);
    // An empty body still means "no payload".
    s.raw("POST", &format!("/api/v5/users/{ANN}/chats"), &json_h, None)
        .expect(201);
}

#[test]
fn pagination_parameters_are_checked_on_the_unpaginated_lists_too() {
    let s = Server::with_seed(&seed());
    for list in ["routers", "webhooks"] {
        let path = format!("/api/v5/orgs/{ORG_A}/{list}");
        for bad in [
            "page_size=null",
            "page_size=0",
            "page_size=-3",
            "page_size=x",
        ] {
            s.get(&format!("{path}?{bad}"), ANN_T)
                .expect_error(400, "validation_error");
        }
        // Valid ones are accepted: the whole list is one page.
        let all = s.get(&path, ANN_T).expect(200).clone();
        let one = s
            .get(&format!("{path}?page_size=1"), ANN_T)
            .expect(200)
            .clone();
        assert_eq!(one, all);
        assert_eq!(all["next"], Value::Null);
    }
}
