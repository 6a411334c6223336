//! Every implemented row of endpoints.tsv over HTTP against a real `chat-server`: each documented
//! error a client can provoke (driven by the row's own list of responses), and each success
//! response with its body checked attribute by attribute.

mod support;

use serde_json::{Value, json};
use std::collections::HashMap;
use support::world::{World, join_body};
use support::*;

/// Rows whose core operations are not there yet (invitations, tags, starters, suggestions).
fn pending_core(path: &str) -> bool {
    ["invitations", "/tags", "allowed_tags", "conversation_starters", "reply_suggestions"]
        .iter()
        .any(|p| path.contains(p))
}

fn rows() -> Vec<(String, String, Vec<String>)> {
    let text = include_str!("../data/endpoints.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let m = f.next().unwrap_or_default().to_string();
            let p = f.next().unwrap_or_default().to_string();
            let r = f.next().unwrap_or_default().split(" | ").map(str::to_string).collect();
            (m, p, r)
        })
        .collect()
}

#[test]
fn the_endpoint_table_is_the_shared_one() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/endpoints.tsv");
    if let Ok(s) = std::fs::read_to_string(&shared) {
        assert_eq!(s, include_str!("../data/endpoints.tsv"), "tests/data/endpoints.tsv is stale");
    }
    assert_eq!(rows().len(), 79);
}

fn fill(template: &str, ctx: &HashMap<&str, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in ctx {
        out = out.replace(&format!("<{k}>"), v);
    }
    assert!(!out.contains('<'), "unfilled {out}");
    out
}

/// A payload that is valid for the row, so that only the provoked fault answers.
fn valid_body(method: &str, path: &str) -> Option<Value> {
    if method == "GET" || method == "DELETE" {
        return None;
    }
    Some(if path.ends_with("/messages") {
        json!({"message": "hello"})
    } else if path.starts_with("/api/v5/orgs/") && path.ends_with("/memberships") {
        json!({"member_id": BOB, "is_participating": true, "composing_status": "idle"})
    } else if path.ends_with("/memberships") || path.contains("/chat_memberships/") {
        join_body()
    } else if path.ends_with("/chats/<chat_id>") {
        json!({"is_waiting": false})
    } else {
        json!({})
    })
}

struct Case {
    what: String,
    token: Option<&'static str>,
    overrides: Vec<(&'static str, String)>,
    body: Option<Value>,
    raw_body: Option<&'static str>,
    status: u16,
    codes: &'static [&'static str],
}

fn case(what: &str, token: Option<&'static str>, overrides: Vec<(&'static str, String)>, status: u16, codes: &'static [&'static str]) -> Case {
    Case { what: what.into(), token, overrides, body: None, raw_body: None, status, codes }
}

/// The provocations of one documented response of one row.
fn cases_for(method: &str, path: &str, response: &str, w: &World) -> Option<Vec<Case>> {
    let r = response.to_lowercase();
    let user_route = path.starts_with("/api/v5/users/");
    let s = |x: &str| x.to_string();
    if r.starts_with("200") || r.starts_with("201") || r.starts_with("204") {
        return Some(vec![]); // success: the tests below
    }
    let c = if r.starts_with("401") {
        vec![
            case("no credentials", None, vec![], 401, &["not_authenticated"]),
            case("unknown token", Some("no-such-token-at-all-000"), vec![], 401, &["not_authenticated"]),
        ]
    } else if r.contains("active subscription") {
        vec![case(
            "organization without subscription",
            Some(CID_T),
            vec![("organization_id", s(ORG_C)), ("user_id", s(CID)), ("room_id", s(ROOM_C1))],
            403,
            &["no_active_subscription"],
        )]
    } else if r.contains("access to the organization") {
        vec![
            case("another organization", Some(ANN_T), vec![("organization_id", s(ORG_B)), ("room_id", s(ROOM_B1))], 403, &["permission_denied"]),
            case("a partner organization", Some(ANN_T), vec![("organization_id", s(ORG_P)), ("room_id", s(ROOM_P1))], 403, &["permission_denied"]),
        ]
    } else if r.contains("access to the user") {
        vec![
            case("a colleague without settings permission", Some(BOB_T), vec![("user_id", s(ANN))], 403, &["permission_denied"]),
            case("a user of another organization", Some(ANN_T), vec![("user_id", s(BEA))], 403, &["permission_denied"]),
        ]
    } else if r.contains("user does not have access to the room") {
        vec![case("a room of another organization", Some(ANN_T), vec![("room_id", s(ROOM_B1))], 403, &["permission_denied"])]
    } else if r.starts_with("409") && r.contains("already a present user member") {
        vec![case(
            "private chats: a colleague serves the chat",
            Some(HAL_T),
            vec![("user_id", s(HAL)), ("chat_id", w.chat_h.clone())],
            409,
            &["private_chat_taken"],
        )]
    } else if r.contains("reports permission and the organization has private history") {
        vec![case(
            "private history without reports",
            Some(HAL_T),
            vec![("organization_id", s(ORG_H)), ("user_id", s(HAL)), ("room_id", s(ROOM_H1)), ("chat_id", w.chat_h.clone()), ("visitor_id", s(VIS_H))],
            403,
            &["private_chat_history"],
        )]
    } else if r.contains("reports permission") {
        vec![case("no reports permission", Some(BOB_T), vec![], 403, &["reports_permission_required"])]
    } else if r.contains("room was not found") {
        vec![
            case("unknown room", Some(ANN_T), vec![("room_id", s("a0000000-0000-4000-8000-00000000dead"))], 404, &["not_found"]),
            case("unparsable room id", Some(ANN_T), vec![("room_id", s("not-a-room"))], 404, &["not_found"]),
        ]
    } else if r.contains("visitor was not found") {
        vec![
            case("unknown visitor", Some(ANN_T), vec![("visitor_id", s("0123456789abcdef0123456789abcdef"))], 404, &["not_found"]),
            case("unparsable visitor id", Some(ANN_T), vec![("visitor_id", s("XYZ"))], 404, &["not_found"]),
        ]
    } else if r.contains("chat was not found")
        || r.contains("related chat does not exist")
        || r.contains("chat invitation was not found")
    {
        let mut v = vec![
            case("unknown chat", Some(ANN_T), vec![("chat_id", s("a0000000-0000-4000-8000-00000000beef"))], 404, &["not_found", "chat_not_pending"]),
            case("unparsable chat id", Some(ANN_T), vec![("chat_id", s("12345"))], 404, &["not_found"]),
            case("a chat of another organization", Some(ANN_T), vec![("chat_id", w.chat_b.clone())], 404, &["not_found", "chat_not_pending"]),
        ];
        if r.contains("not routed to the user") {
            v.push(case("a chat routed to someone else", Some(BOB_T), vec![("user_id", s(BOB)), ("chat_id", w.routed_a2.clone())], 404, &["not_found"]));
        }
        v
    } else if r.contains("user was not a member of the chat") {
        vec![case("not a member", Some(BOB_T), vec![("user_id", s(BOB)), ("chat_id", w.open_a.clone())], 404, &["not_found"])]
    } else if r.contains("not pending") {
        vec![case("a chat already taken", Some(BOB_T), vec![("user_id", s(BOB)), ("chat_id", w.open_a.clone())], 404, &["chat_not_pending", "not_found"])]
    } else if r.starts_with("404") && r.contains("chat has ended") {
        vec![case("an ended chat", Some(BOB_T), vec![("user_id", s(BOB)), ("chat_id", w.ended_a.clone())], 404, &["chat_not_pending", "not_found"])]
    } else if r.starts_with("400") && r.contains("chat has ended") {
        vec![case("an ended chat", Some(ANN_T), vec![("chat_id", w.ended_a.clone())], 400, &["chat_already_ended"])]
    } else if r.contains("required attributes are missing") {
        if path.ends_with("/visitors/<visitor_id>/chats") || path == "/api/v5/users/<user_id>/chats" {
            // Nothing is required there (the reference: "does not require any attributes"):
            // a field of the wrong type is the 400.
            let mut c = case("a field of the wrong type", Some(ANN_T), vec![("visitor_id", s(VIS_A))], 400, &["validation_error"]);
            c.body = Some(json!({"chat_type": 7}));
            return Some(vec![c]);
        }
        let mut c = case("an empty payload", Some(ANN_T), vec![], 400, &["validation_error"]);
        if path.contains("/pending_chats/") {
            c.overrides.push(("chat_id", w.pending_a.clone()));
        }
        if path.contains("/users/<user_id>/routed_chats/") {
            c.overrides.push(("chat_id", w.partner_p.clone()));
        }
        c.body = Some(json!({}));
        vec![c]
    } else if r.contains("wrong format") {
        let mut a = case("malformed JSON", Some(ANN_T), vec![], 400, &["parse_error"]);
        a.raw_body = Some("{\"is_participating\": tru");
        let mut b = case("a JSON array", Some(ANN_T), vec![], 400, &["parse_error"]);
        b.raw_body = Some("[1, 2]");
        let mut t = case("a field of the wrong type", Some(ANN_T), vec![], 400, &["validation_error"]);
        t.body = Some(if path.ends_with("/messages") {
            json!({"message": 42})
        } else if path.contains("memberships") {
            json!({"is_participating": "yes", "composing_status": "idle", "member_id": BOB})
        } else if path.ends_with("<chat_id>") {
            json!({"is_ended": "yes"})
        } else {
            json!({"chat_type": ["x"]})
        });
        if path.contains("/pending_chats/") {
            t.overrides.push(("chat_id", w.pending_a.clone()));
        }
        if path.contains("/users/<user_id>/routed_chats/") {
            t.overrides.push(("chat_id", w.partner_p.clone()));
        }
        if path.contains("/visitors/<visitor_id>/") {
            t.overrides.push(("visitor_id", s(VIS_A)));
        }
        vec![a, b, t]
    } else if r.contains("user was not present") {
        let chat = if path.contains("pending_chats") { w.pending_a.clone() } else { w.open_a.clone() };
        vec![case("an absent user", Some(DAN_T), vec![("user_id", s(DAN)), ("chat_id", chat)], 409, &["user_not_present"])]
    } else if r.contains("some else has already a chat with the visitor") {
        vec![case(
            "private chats: a colleague serves the visitor",
            Some(HAL_T),
            vec![("user_id", s(HAL)), ("room_id", s(ROOM_H1)), ("visitor_id", s(VIS_H))],
            409,
            &["visitor_has_chat"],
        )]
    } else if r.contains("already a present user member") {
        vec![case(
            "private chats: a colleague serves the chat",
            Some(HAL_T),
            vec![("user_id", s(HAL)), ("chat_id", w.chat_h.clone())],
            409,
            &["private_chat_taken"],
        )]
    } else if r.contains("chat is ended") {
        vec![case("an ended chat", Some(ANN_T), vec![("chat_id", w.ended_a.clone())], 409, &["chat_ended"])]
    } else {
        return None;
    };
    let _ = (method, user_route);
    Some(c)
}

#[test]
fn every_documented_error_of_every_implemented_row() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let mut all = rows();
    // PATCH where the reference shows PUT for the membership update.
    let put = all.iter().find(|(m, p, _)| m == "PUT" && p.ends_with("/chat_memberships/<chat_id>")).cloned();
    if let Some((_, p, r)) = put {
        // PATCH takes any subset: an empty payload is no error there.
        let r = r.into_iter().filter(|x| !x.contains("required attributes")).collect();
        all.push(("PATCH".into(), p, r));
    }
    let mut checked = 0;
    for (method, path, responses) in all.iter().filter(|(_, p, _)| !pending_core(p)) {
        let mut base: HashMap<&str, String> = HashMap::new();
        base.insert("organization_id", ORG_A.into());
        base.insert("user_id", ANN.into());
        base.insert("room_id", ROOM_A1.into());
        base.insert("chat_id", w.open_a.clone());
        base.insert("visitor_id", w.open_a_vis.0.clone());
        for response in responses {
            let cases = cases_for(method, path, response, &w)
                .unwrap_or_else(|| panic!("no provocation for {method} {path}: {response}"));
            for c in cases {
                let mut ctx = base.clone();
                for (k, v) in &c.overrides {
                    ctx.insert(k, v.clone());
                }
                let url = fill(path, &ctx);
                let mut headers = vec![];
                let auth = c.token.map(|t| format!("Token {t}"));
                if let Some(a) = &auth {
                    headers.push(("Authorization", a.as_str()));
                }
                let body = match (c.raw_body, &c.body) {
                    (Some(raw), _) => Some(raw.as_bytes().to_vec()),
                    (None, Some(b)) => Some(serde_json::to_vec(b).unwrap()),
                    (None, None) => valid_body(method, path).map(|b| serde_json::to_vec(&b).unwrap()),
                };
                if body.is_some() {
                    headers.push(("Content-Type", "application/json"));
                }
                let res = s.raw(method, &url, &headers, body);
                assert_eq!(
                    res.status, c.status,
                    "{method} {path} [{response}] via {}: got {}",
                    c.what, res.text
                );
                assert_error_body(&res.body);
                assert!(
                    c.codes.contains(&res.body["code"].as_str().unwrap_or("")),
                    "{method} {path} [{response}] via {}: code {}",
                    c.what,
                    res.text
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 250, "only {checked} provocations");
}
