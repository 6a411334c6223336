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
    [
        "invitations",
        "/tags",
        "allowed_tags",
        "conversation_starters",
        "reply_suggestions",
    ]
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
            let r = f
                .next()
                .unwrap_or_default()
                .split(" | ")
                .map(str::to_string)
                .collect();
            (m, p, r)
        })
        .collect()
}

#[test]
fn the_endpoint_table_is_the_shared_one() {
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/endpoints.tsv");
    if let Ok(s) = std::fs::read_to_string(&shared) {
        assert_eq!(
            s,
            include_str!("../data/endpoints.tsv"),
            "tests/data/endpoints.tsv is stale"
        );
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

fn case(
    what: &str,
    token: Option<&'static str>,
    overrides: Vec<(&'static str, String)>,
    status: u16,
    codes: &'static [&'static str],
) -> Case {
    Case {
        what: what.into(),
        token,
        overrides,
        body: None,
        raw_body: None,
        status,
        codes,
    }
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
            case(
                "unknown token",
                Some("no-such-token-at-all-000"),
                vec![],
                401,
                &["not_authenticated"],
            ),
        ]
    } else if r.contains("active subscription") {
        vec![case(
            "organization without subscription",
            Some(CID_T),
            vec![
                ("organization_id", s(ORG_C)),
                ("user_id", s(CID)),
                ("room_id", s(ROOM_C1)),
            ],
            403,
            &["no_active_subscription"],
        )]
    } else if r.contains("access to the organization") {
        vec![
            case(
                "another organization",
                Some(ANN_T),
                vec![("organization_id", s(ORG_B)), ("room_id", s(ROOM_B1))],
                403,
                &["permission_denied"],
            ),
            case(
                "a partner organization",
                Some(ANN_T),
                vec![("organization_id", s(ORG_P)), ("room_id", s(ROOM_P1))],
                403,
                &["permission_denied"],
            ),
        ]
    } else if r.contains("access to the user") {
        vec![
            case(
                "a colleague without settings permission",
                Some(BOB_T),
                vec![("user_id", s(ANN))],
                403,
                &["permission_denied"],
            ),
            case(
                "a user of another organization",
                Some(ANN_T),
                vec![("user_id", s(BEA))],
                403,
                &["permission_denied"],
            ),
        ]
    } else if r.contains("user does not have access to the room") {
        vec![case(
            "a room of another organization",
            Some(ANN_T),
            vec![("room_id", s(ROOM_B1))],
            403,
            &["permission_denied"],
        )]
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
            vec![
                ("organization_id", s(ORG_H)),
                ("user_id", s(HAL)),
                ("room_id", s(ROOM_H1)),
                ("chat_id", w.chat_h.clone()),
                ("visitor_id", s(VIS_H)),
            ],
            403,
            &["private_chat_history"],
        )]
    } else if r.contains("reports permission") {
        vec![case(
            "no reports permission",
            Some(BOB_T),
            vec![],
            403,
            &["reports_permission_required"],
        )]
    } else if r.contains("room was not found") {
        vec![
            case(
                "unknown room",
                Some(ANN_T),
                vec![("room_id", s("a0000000-0000-4000-8000-00000000dead"))],
                404,
                &["not_found"],
            ),
            case(
                "unparsable room id",
                Some(ANN_T),
                vec![("room_id", s("not-a-room"))],
                404,
                &["not_found"],
            ),
        ]
    } else if r.contains("visitor was not found") {
        vec![
            case(
                "unknown visitor",
                Some(ANN_T),
                vec![("visitor_id", s("0123456789abcdef0123456789abcdef"))],
                404,
                &["not_found"],
            ),
            case(
                "unparsable visitor id",
                Some(ANN_T),
                vec![("visitor_id", s("XYZ"))],
                404,
                &["not_found"],
            ),
        ]
    } else if r.contains("chat was not found")
        || r.contains("related chat does not exist")
        || r.contains("chat invitation was not found")
    {
        let mut v = vec![
            case(
                "unknown chat",
                Some(ANN_T),
                vec![("chat_id", s("a0000000-0000-4000-8000-00000000beef"))],
                404,
                &["not_found", "chat_not_pending"],
            ),
            case(
                "unparsable chat id",
                Some(ANN_T),
                vec![("chat_id", s("12345"))],
                404,
                &["not_found"],
            ),
            case(
                "a chat of another organization",
                Some(ANN_T),
                vec![("chat_id", w.chat_b.clone())],
                404,
                &["not_found", "chat_not_pending"],
            ),
        ];
        if r.contains("not routed to the user") {
            v.push(case(
                "a chat routed to someone else",
                Some(BOB_T),
                vec![("user_id", s(BOB)), ("chat_id", w.routed_a2.clone())],
                404,
                &["not_found"],
            ));
        }
        v
    } else if r.contains("user was not a member of the chat") {
        vec![case(
            "not a member",
            Some(BOB_T),
            vec![("user_id", s(BOB)), ("chat_id", w.open_a.clone())],
            404,
            &["not_found"],
        )]
    } else if r.contains("not pending") {
        vec![case(
            "a chat already taken",
            Some(BOB_T),
            vec![("user_id", s(BOB)), ("chat_id", w.open_a.clone())],
            404,
            &["chat_not_pending", "not_found"],
        )]
    } else if r.starts_with("404") && r.contains("chat has ended") {
        vec![case(
            "an ended chat",
            Some(BOB_T),
            vec![("user_id", s(BOB)), ("chat_id", w.ended_a.clone())],
            404,
            &["chat_not_pending", "not_found"],
        )]
    } else if r.starts_with("400") && r.contains("chat has ended") {
        vec![case(
            "an ended chat",
            Some(ANN_T),
            vec![("chat_id", w.ended_a.clone())],
            400,
            &["chat_already_ended"],
        )]
    } else if r.contains("required attributes are missing") {
        if path.ends_with("/visitors/<visitor_id>/chats") || path == "/api/v5/users/<user_id>/chats"
        {
            // Nothing is required there (the reference: "does not require any attributes"):
            // a field of the wrong type is the 400.
            let mut c = case(
                "a field of the wrong type",
                Some(ANN_T),
                vec![("visitor_id", s(VIS_A))],
                400,
                &["validation_error"],
            );
            c.body = Some(json!({"chat_type": 7}));
            return Some(vec![c]);
        }
        let mut c = case(
            "an empty payload",
            Some(ANN_T),
            vec![],
            400,
            &["validation_error"],
        );
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
        let mut t = case(
            "a field of the wrong type",
            Some(ANN_T),
            vec![],
            400,
            &["validation_error"],
        );
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
        let chat = if path.contains("pending_chats") {
            w.pending_a.clone()
        } else {
            w.open_a.clone()
        };
        vec![case(
            "an absent user",
            Some(DAN_T),
            vec![("user_id", s(DAN)), ("chat_id", chat)],
            409,
            &["user_not_present"],
        )]
    } else if r.contains("some else has already a chat with the visitor") {
        vec![case(
            "private chats: a colleague serves the visitor",
            Some(HAL_T),
            vec![
                ("user_id", s(HAL)),
                ("room_id", s(ROOM_H1)),
                ("visitor_id", s(VIS_H)),
            ],
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
        vec![case(
            "an ended chat",
            Some(ANN_T),
            vec![("chat_id", w.ended_a.clone())],
            409,
            &["chat_ended"],
        )]
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
    let put = all
        .iter()
        .find(|(m, p, _)| m == "PUT" && p.ends_with("/chat_memberships/<chat_id>"))
        .cloned();
    if let Some((_, p, r)) = put {
        // PATCH takes any subset: an empty payload is no error there.
        let r = r
            .into_iter()
            .filter(|x| !x.contains("required attributes"))
            .collect();
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
                    (None, None) => {
                        valid_body(method, path).map(|b| serde_json::to_vec(&b).unwrap())
                    }
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

// ---- success responses, field by field ----------------------------------------------------------

fn get_page(s: &Server, path: &str, token: &str) -> Vec<Value> {
    let r = s.get(path, token);
    page(r.expect(200), CHAT).clone()
}

fn has(results: &[Value], id: &str) -> bool {
    results.iter().any(|c| c["id"] == id)
}

#[track_caller]
fn assert_pending_chat(c: &Value, room: &str, room_name: &str, org: &str) {
    assert_shape(c, CHAT);
    assert_eq!(c["chat_type"], "visitor");
    assert_eq!(c["room_id"], room);
    assert_eq!(c["room_name"], room_name);
    assert_eq!(c["room_organization_id"], org);
    assert_eq!(c["is_waiting"], true);
    assert_eq!(c["is_pending"], true);
    assert_eq!(c["is_ended"], false);
    assert_eq!(c["ended_at"], Value::Null);
    assert!(c["waiting_started_at"].is_string());
    assert_eq!(c["message_count"], 1);
    assert_eq!(c["visitor_message_count"], 1);
    assert_eq!(c["user_message_count"], 0);
    assert_eq!(c["has_messages"], true);
    assert_eq!(c["has_user_messages"], false);
    assert_eq!(c["has_visitor_messages"], true);
    assert_eq!(c["is_real_conversation"], false);
    assert_eq!(c["visitor_member_count"], 1);
    assert_eq!(c["user_member_count"], 0);
    assert_eq!(c["member_count"], 1);
    assert_eq!(c["present_user_participant_count"], 0);
    assert_eq!(c["present_visitor_participant_count"], 1);
    assert_eq!(c["present_participant_count"], 1);
    assert_eq!(c["visitor_wait_time"], Value::Null);
    assert_eq!(c["duration"], Value::Null);
    assert_eq!(c["active_duration"], Value::Null);
    assert_eq!(c["legacy_conversation_state"], "waiting");
    assert_eq!(c["legacy_room_id"], room.replace('-', ""));
    assert_eq!(c["is_encrypted"], false);
    assert_eq!(c["encrypted_symmetric_key"], Value::Null);
    assert_eq!(c["tag_count"], 0);
    let token = c["token"].as_str().unwrap();
    assert!(token.len() == 48 && token.chars().all(|x| x.is_ascii_hexdigit()));
}

#[track_caller]
fn assert_open_chat(c: &Value) {
    assert_shape(c, CHAT);
    assert_eq!(c["is_waiting"], false);
    assert_eq!(c["is_pending"], false);
    assert_eq!(c["is_ended"], false);
    assert_eq!(c["message_count"], 2);
    assert_eq!(c["user_message_count"], 1);
    assert_eq!(c["visitor_message_count"], 1);
    assert_eq!(c["is_real_conversation"], true);
    assert_eq!(c["user_member_count"], 1, "users with a msg");
    assert_eq!(c["visitor_member_count"], 1);
    assert_eq!(c["member_count"], 2);
    assert_eq!(c["present_user_participant_count"], 1);
    assert!(c["visitor_wait_time"].as_f64().is_some_and(|t| t >= 0.0));
    assert_eq!(c["legacy_conversation_state"], "open");
}

#[test]
fn chat_collections_and_details() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let a = "/api/v5";
    // rooms/<r>/chats: every chat of the room (reports permission), newest first.
    let room = get_page(
        &s,
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats"),
        ANN_T,
    );
    assert_eq!(
        ids(&room),
        vec![w.ended_a.clone(), w.open_a.clone(), w.pending_a.clone()]
    );
    let pending = room
        .iter()
        .find(|c| c["id"] == w.pending_a.as_str())
        .unwrap();
    assert_pending_chat(pending, ROOM_A1, "Support", ORG_A);
    let asc = get_page(
        &s,
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats?ordering=created_at"),
        ANN_T,
    );
    assert_eq!(
        ids(&asc),
        vec![w.pending_a.clone(), w.open_a.clone(), w.ended_a.clone()]
    );
    let waiting = get_page(
        &s,
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats?is_waiting=true"),
        ANN_T,
    );
    assert_eq!(ids(&waiting), vec![w.pending_a.clone()]);
    let ended = get_page(
        &s,
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats?is_ended=true"),
        ANN_T,
    );
    assert_eq!(ids(&ended), vec![w.ended_a.clone()]);
    let e = &ended[0];
    assert_eq!(e["legacy_conversation_state"], "ended");
    assert!(
        e["ended_at"].is_string() && e["duration"].is_number() && e["active_duration"].is_number()
    );
    assert_eq!(e["is_waiting"], false);

    // owned_chats: rooms of the organization (A1 and A2), not the partner's.
    let owned = get_page(&s, &format!("{a}/orgs/{ORG_A}/owned_chats"), BOB_T);
    for c in [&w.pending_a, &w.open_a, &w.ended_a, &w.routed_a2] {
        assert!(has(&owned, c));
    }
    assert!(!has(&owned, &w.partner_p) && !has(&owned, &w.chat_b));
    let one = s.get(&format!("{a}/orgs/{ORG_A}/owned_chats/{}", w.open_a), BOB_T);
    assert_open_chat(one.expect(200));
    assert_eq!(one.body["id"], w.open_a.as_str());
    assert_eq!(one.body["room_name"], "Support");

    // involved_chats: chats with a member of the organization.
    let involved = get_page(&s, &format!("{a}/orgs/{ORG_A}/involved_chats"), ANN_T);
    assert_eq!(ids(&involved), vec![w.ended_a.clone(), w.open_a.clone()]);
    assert_open_chat(
        s.get(
            &format!("{a}/orgs/{ORG_A}/involved_chats/{}", w.open_a),
            ANN_T,
        )
        .expect(200),
    );
    s.get(
        &format!("{a}/orgs/{ORG_A}/involved_chats/{}", w.pending_a),
        ANN_T,
    )
    .expect_error(404, "not_found");

    // org routed_chats: owned chats and chats of rooms shared with the organization.
    let routed = get_page(&s, &format!("{a}/orgs/{ORG_A}/routed_chats"), ANN_T);
    assert!(has(&routed, &w.partner_p) && has(&routed, &w.open_a) && !has(&routed, &w.chat_b));
    let p = s.get(
        &format!("{a}/orgs/{ORG_A}/routed_chats/{}", w.partner_p),
        ANN_T,
    );
    assert_pending_chat(p.expect(200), ROOM_P1, "Partner desk", ORG_P);

    // rooms/<r>/pending_chats
    let rp = get_page(
        &s,
        &format!("{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/pending_chats"),
        ANN_T,
    );
    assert_eq!(ids(&rp), vec![w.pending_a.clone()]);
    // rooms/<r>/visitors/<v>/chats
    let rv = get_page(
        &s,
        &format!(
            "{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/visitors/{}/chats",
            w.open_a_vis.0
        ),
        ANN_T,
    );
    assert_eq!(ids(&rv), vec![w.open_a.clone()]);

    // users/<u>/pending_chats: room without router, shared room; the routed room only for Cat.
    let ann_p = get_page(&s, &format!("{a}/users/{ANN}/pending_chats"), ANN_T);
    assert!(has(&ann_p, &w.pending_a) && has(&ann_p, &w.partner_p));
    assert!(!has(&ann_p, &w.routed_a2) && !has(&ann_p, &w.open_a) && !has(&ann_p, &w.chat_b));
    let cat_p = get_page(&s, &format!("{a}/users/{CAT}/pending_chats"), CAT_T);
    assert!(has(&cat_p, &w.routed_a2) && has(&cat_p, &w.pending_a));
    // A settings user may read a colleague's pending chats.
    let via_ann = get_page(&s, &format!("{a}/users/{CAT}/pending_chats"), ANN_T);
    assert_eq!(ids(&via_ann), ids(&cat_p));
    let bea_p = get_page(&s, &format!("{a}/users/{BEA}/pending_chats"), BEA_T);
    assert_eq!(ids(&bea_p), vec![w.chat_b.clone()]);

    // users/<u>/routed_chats and one of them
    let cat_r = get_page(&s, &format!("{a}/users/{CAT}/routed_chats"), CAT_T);
    assert!(has(&cat_r, &w.routed_a2) && has(&cat_r, &w.partner_p) && !has(&cat_r, &w.pending_a));
    let one = s.get(
        &format!("{a}/users/{CAT}/routed_chats/{}", w.routed_a2),
        CAT_T,
    );
    assert_pending_chat(one.expect(200), ROOM_A2, "Sales", ORG_A);
    s.get(
        &format!("{a}/users/{BOB}/routed_chats/{}", w.routed_a2),
        BOB_T,
    )
    .expect_error(404, "not_found");

    // users/<u>/chats: chats the user is a member of.
    let mine = get_page(&s, &format!("{a}/users/{ANN}/chats"), ANN_T);
    assert_eq!(ids(&mine), vec![w.ended_a.clone(), w.open_a.clone()]);
    let by_upd = get_page(
        &s,
        &format!("{a}/users/{ANN}/chats?ordering=-updated_at"),
        ANN_T,
    );
    assert_eq!(by_upd.len(), 2);
    assert!(get_page(&s, &format!("{a}/users/{BOB}/chats"), BOB_T).is_empty());

    // users/<u>/rooms/<r>/visitors/<v>/chats
    let uv = get_page(
        &s,
        &format!(
            "{a}/users/{ANN}/rooms/{ROOM_A1}/visitors/{}/chats",
            w.open_a_vis.0
        ),
        ANN_T,
    );
    assert_eq!(ids(&uv), vec![w.open_a.clone()]);
}

#[test]
fn chat_creation_and_updates() {
    let s = Server::with_seed(&seed());
    let a = "/api/v5";
    // A chat with a seeded visitor: 201 new, then 200 with the same (resumed) chat.
    let r = s.post(
        &format!("{a}/users/{ANN}/rooms/{ROOM_A1}/visitors/{VIS_A}/chats"),
        ANN_T,
        json!({}),
    );
    let c = r.expect(201).clone();
    assert_shape(&c, CHAT);
    assert_eq!(c["chat_type"], "visitor");
    assert_eq!(c["room_id"], ROOM_A1);
    assert_eq!(c["room_organization_id"], ORG_A);
    assert_eq!(c["visitor_member_count"], 1);
    assert_eq!(c["present_user_participant_count"], 1);
    assert_eq!(c["is_waiting"], false);
    assert_eq!(c["is_private"], false);
    let again = s.call(
        "POST",
        &format!("{a}/users/{ANN}/rooms/{ROOM_A1}/visitors/{VIS_A}/chats"),
        Some(ANN_T),
        None,
    );
    assert_eq!(again.expect(200)["id"], c["id"]);
    // Bob resumes it too (no private chats in A) and becomes a member.
    let bob = s.call(
        "POST",
        &format!("{a}/users/{BOB}/rooms/{ROOM_A1}/visitors/{VIS_A}/chats"),
        Some(BOB_T),
        None,
    );
    assert_eq!(bob.expect(200)["id"], c["id"]);
    // Private chats (H): Hue serves the visitor, so Hal is refused.
    s.post(
        &format!("{a}/users/{HUE}/rooms/{ROOM_H1}/visitors/{VIS_H}/chats"),
        HUE_T,
        json!({}),
    )
    .expect(201);
    let h = s.post(
        &format!("{a}/users/{HAL}/rooms/{ROOM_H1}/visitors/{VIS_H}/chats"),
        HAL_T,
        json!({}),
    );
    h.expect_error(409, "visitor_has_chat");

    // An empty operator chat.
    let op = s
        .post(&format!("{a}/users/{ANN}/chats"), ANN_T, json!({}))
        .expect(201)
        .clone();
    assert_shape(&op, CHAT);
    assert_eq!(op["chat_type"], "operator");
    assert_eq!(op["room_id"], Value::Null);
    assert_eq!(op["room_name"], Value::Null);
    assert_eq!(op["room_organization_id"], ORG_A);
    assert_eq!(op["message_count"], 0);
    let grp = s.post(
        &format!("{a}/users/{ANN}/chats"),
        ANN_T,
        json!({"chat_type": "group", "room_id": ROOM_A1}),
    );
    assert_eq!(grp.expect(201)["chat_type"], "group");
    assert_eq!(grp.body["room_name"], "Support");
    s.post(
        &format!("{a}/users/{ANN}/chats"),
        ANN_T,
        json!({"chat_type": "visitor"}),
    )
    .expect_error(400, "validation_error");

    // PUT/PATCH users/<u>/chats/<c> and orgs/<o>/owned_chats/<c>: not waiting, then ended.
    let (_, _, w1) = s.visitor_chat(ORG_A, ROOM_A1, Some("hello"));
    let (_, _, w2) = s.visitor_chat(ORG_A, ROOM_A1, Some("hello"));
    for (method, path) in [
        ("PUT", format!("{a}/orgs/{ORG_A}/owned_chats/{w1}")),
        ("PATCH", format!("{a}/orgs/{ORG_A}/owned_chats/{w2}")),
    ] {
        let r = s.call(
            method,
            &path,
            Some(ANN_T),
            Some(&json!({"is_waiting": false})),
        );
        let c = r.expect(200);
        assert_shape(c, CHAT);
        assert_eq!(c["is_waiting"], false);
        assert_eq!(c["is_pending"], false);
        assert!(
            c["waiting_started_at"].is_string(),
            "kept when waiting ends"
        );
        s.call(
            method,
            &path,
            Some(ANN_T),
            Some(&json!({"is_waiting": true})),
        )
        .expect_error(400, "validation_error");
        let r = s.call(method, &path, Some(ANN_T), Some(&json!({"is_ended": true})));
        let c = r.expect(200);
        assert_eq!(c["is_ended"], true);
        assert!(c["ended_at"].is_string());
        assert_eq!(c["legacy_conversation_state"], "ended");
        assert_eq!(c["duration"], 0.0);
        // Ending again changes nothing.
        let again = s.call(method, &path, Some(ANN_T), Some(&json!({"is_ended": true})));
        assert_eq!(again.expect(200)["ended_at"], c["ended_at"]);
    }
    let cid = c["id"].as_str().unwrap();
    let r = s.patch(
        &format!("{a}/users/{ANN}/chats/{cid}"),
        ANN_T,
        json!({"is_ended": true}),
    );
    assert_shape(r.expect(200), CHAT);
    assert_eq!(r.body["is_ended"], true);
    for method in ["PUT", "PATCH"] {
        s.call(
            method,
            &format!("{a}/users/{ANN}/chats/{cid}"),
            Some(ANN_T),
            Some(&json!({"is_ended": false})),
        )
        .expect_error(400, "validation_error");
    }
    let r = s.put(
        &format!("{a}/users/{ANN}/chats/{}", op["id"].as_str().unwrap()),
        ANN_T,
        json!({"is_ended": true}),
    );
    assert_eq!(r.expect(200)["is_ended"], true);
}

#[track_caller]
fn assert_user_membership(m: &Value, user: &str, chat: &str, name: &str, public: &str) {
    assert_shape(m, MEMBERSHIP);
    assert_eq!(m["member_id"], user);
    assert_eq!(m["member_type"], "user");
    assert_eq!(m["member_name"], name);
    assert_eq!(m["member_public_name"], public);
    assert_eq!(m["member_organization_id"], ORG_A);
    assert_eq!(m["chat_id"], chat);
    assert_eq!(m["room_organization_id"], ORG_A);
    assert_eq!(m["is_bot"], false);
    assert_eq!(m["is_user_deleted"], false);
    assert_eq!(m["legacy_member_id"], user.replace('-', ""));
}

fn memberships(s: &Server, path: &str, token: &str) -> Vec<Value> {
    page(s.get(path, token).expect(200), MEMBERSHIP).clone()
}

#[test]
fn membership_endpoints() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let a = "/api/v5";
    let (vid, _) = &w.open_a_vis;
    // Every listing of the open chat's memberships shows the visitor, Ann and Dan.
    for (path, token) in [
        (
            format!(
                "{a}/orgs/{ORG_A}/rooms/{ROOM_A1}/chats/{}/memberships",
                w.open_a
            ),
            ANN_T,
        ),
        (
            format!("{a}/users/{ANN}/chats/{}/memberships", w.open_a),
            ANN_T,
        ),
        (
            format!("{a}/orgs/{ORG_A}/owned_chats/{}/memberships", w.open_a),
            BOB_T,
        ),
        (
            format!("{a}/orgs/{ORG_A}/involved_chats/{}/memberships", w.open_a),
            BOB_T,
        ),
        (
            format!("{a}/orgs/{ORG_A}/routed_chats/{}/memberships", w.open_a),
            BOB_T,
        ),
    ] {
        let ms = memberships(&s, &path, token);
        assert_eq!(ms.len(), 3, "{path}");
        let v = ms.iter().find(|m| m["member_type"] == "visitor").unwrap();
        assert_eq!(v["member_id"], vid.as_str());
        assert_eq!(v["member_organization_id"], Value::Null);
        assert_eq!(v["legacy_member_id"], vid.as_str());
        assert_eq!(v["message_count"], 1);
        assert_eq!(v["is_present"], true);
        let ann = ms.iter().find(|m| m["member_id"] == ANN).unwrap();
        assert_user_membership(ann, ANN, &w.open_a, "Ann Lee", "Support");
        assert_eq!(ann["room_id"], ROOM_A1);
        assert_eq!(ann["is_participating"], true);
        assert_eq!(ann["is_present"], true);
        assert_eq!(ann["composing_status"], "idle");
        assert_eq!(ann["message_count"], 1);
        let dan = ms.iter().find(|m| m["member_id"] == DAN).unwrap();
        assert_user_membership(dan, DAN, &w.open_a, "Dan Tester", "Dan Tester");
        assert_eq!(dan["is_participating"], false);
        assert_eq!(dan["is_present"], false);
    }
    // A routed chat's memberships (Cat), a pending chat's memberships (Bob).
    let ms = memberships(
        &s,
        &format!("{a}/users/{CAT}/routed_chats/{}/memberships", w.routed_a2),
        CAT_T,
    );
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["member_type"], "visitor");
    let ms = memberships(
        &s,
        &format!("{a}/users/{BOB}/pending_chats/{}/memberships", w.pending_a),
        BOB_T,
    );
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["member_id"], w.pending_a_vis.0.as_str());
    // The user's own memberships, filtered by participation.
    let mine = memberships(&s, &format!("{a}/users/{ANN}/chat_memberships"), ANN_T);
    let chats: Vec<_> = mine
        .iter()
        .map(|m| m["chat_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(chats, vec![w.ended_a.clone(), w.open_a.clone()]);
    let dans = memberships(
        &s,
        &format!("{a}/users/{DAN}/chat_memberships?is_participating=false"),
        DAN_T,
    );
    assert_eq!(dans.len(), 1);
    assert!(
        memberships(
            &s,
            &format!("{a}/users/{DAN}/chat_memberships?is_participating=true"),
            DAN_T
        )
        .is_empty()
    );
    // The visitor's membership in a user's chat.
    let vm = memberships(
        &s,
        &format!(
            "{a}/users/{ANN}/chats/{}/visitors/{vid}/chat_memberships",
            w.open_a
        ),
        ANN_T,
    );
    assert_eq!(vm.len(), 1);
    assert_eq!(vm[0]["member_id"], vid.as_str());
    assert_eq!(vm[0]["chat_id"], w.open_a.as_str());

    // Join a pending chat: 201, then it is no longer pending for anyone.
    let m = s.post(
        &format!("{a}/users/{BOB}/pending_chats/{}/memberships", w.pending_a),
        BOB_T,
        join_body(),
    );
    let m = m.expect(201);
    assert_user_membership(m, BOB, &w.pending_a, "Bob Tester", "Bob Tester");
    assert_eq!(m["is_participating"], true);
    assert_eq!(m["is_present"], true);
    assert_eq!(m["message_count"], 0);
    s.post(
        &format!("{a}/users/{CAT}/pending_chats/{}/memberships", w.pending_a),
        CAT_T,
        join_body(),
    )
    .expect_error(404, "chat_not_pending");
    let cat_p = s.get(&format!("{a}/users/{CAT}/pending_chats"), CAT_T);
    assert!(!has(page(cat_p.expect(200), CHAT), &w.pending_a));
    // Join a routed chat.
    let m = s.post(
        &format!("{a}/users/{CAT}/routed_chats/{}/memberships", w.routed_a2),
        CAT_T,
        join_body(),
    );
    assert_user_membership(m.expect(201), CAT, &w.routed_a2, "Cat Tester", "Cat Tester");
    // Organization scopes add a user: 201 new, 200 existing.
    for (scope, chat) in [
        ("owned_chats", &w.routed_a2),
        ("involved_chats", &w.open_a),
        ("routed_chats", &w.partner_p),
    ] {
        let body = json!({"member_id": BOB, "is_participating": true, "composing_status": "idle"});
        let path = format!("{a}/orgs/{ORG_A}/{scope}/{chat}/memberships");
        let first = s.post(&path, ANN_T, body.clone());
        assert_eq!(first.expect(201)["member_id"], BOB);
        assert_eq!(first.body["chat_id"], chat.as_str());
        let again = s.post(&path, ANN_T, body);
        assert_eq!(again.expect(200)["member_id"], BOB);
    }
    // Update one's membership: PUT (full) and PATCH (partial).
    let path = format!("{a}/users/{ANN}/chat_memberships/{}", w.open_a);
    let r = s.put(&path, ANN_T, json!({"is_participating": true, "composing_status": "typing", "last_seen_at": "2015-02-13T11:31:36.042+02:00"}));
    let m = r.expect(200);
    assert_user_membership(m, ANN, &w.open_a, "Ann Lee", "Support");
    assert_eq!(m["composing_status"], "typing");
    assert_eq!(m["last_seen_at"], "2015-02-13T09:31:36.042Z");
    s.put(&path, ANN_T, json!({"is_participating": true}))
        .expect_error(400, "validation_error");
    s.put(
        &path,
        ANN_T,
        json!({"is_participating": true, "composing_status": "singing"}),
    )
    .expect_error(400, "validation_error");
    let r = s.patch(&path, ANN_T, json!({"composing_status": "typed"}));
    assert_eq!(r.expect(200)["composing_status"], "typed");
    assert_eq!(r.body["is_participating"], true);
    assert_eq!(r.body["last_seen_at"], "2015-02-13T09:31:36.042Z");
    let r = s.patch(&path, ANN_T, json!({"is_participating": false}));
    assert_eq!(r.expect(200)["is_participating"], false);
    assert_eq!(r.body["is_present"], false);
    // A settings user may update a colleague's membership; Dan is absent: 409.
    s.put(
        &format!("{a}/users/{DAN}/chat_memberships/{}", w.open_a),
        ANN_T,
        join_body(),
    )
    .expect_error(409, "user_not_present");
}

#[test]
fn message_endpoints() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let a = "/api/v5";
    let (vid, vt) = &w.open_a_vis;
    let r = s.post(
        &format!("{a}/users/{ANN}/chats/{}/messages", w.open_a),
        ANN_T,
        json!({"message": "Second reply"}),
    );
    let m = r.expect(200).clone();
    assert_shape(&m, MESSAGE);
    assert_eq!(m["type"], "msg");
    assert_eq!(m["chat_id"], w.open_a.as_str());
    assert_eq!(m["room_id"], ROOM_A1);
    assert_eq!(m["sender_type"], "user");
    assert_eq!(m["sender_id"], ANN);
    assert_eq!(m["sender_name"], "Ann Lee");
    assert_eq!(m["sender_public_name"], "Support");
    assert_eq!(m["sender_avatar"], Value::Null);
    assert_eq!(m["message"], "Second reply");
    assert_eq!(m["is_encrypted"], false);
    assert_eq!(m["attachments"], json!([]));
    assert_eq!(m["attachment_template"], Value::Null);
    // Too long, blank, wrong type, unknown template: 400 with the field named.
    let long = "x".repeat(2001);
    for (body, field) in [
        (json!({"message": long}), "message"),
        (json!({"message": "   "}), "message"),
        (json!({"message": 5}), "message"),
        (
            json!({"message": "hi", "attachment_template": "carousel"}),
            "attachment_template",
        ),
    ] {
        let r = s.post(
            &format!("{a}/users/{ANN}/chats/{}/messages", w.open_a),
            ANN_T,
            body,
        );
        assert!(
            r.expect_error(400, "validation_error")["errors"]
                .get(field)
                .is_some(),
            "{}",
            r.text
        );
    }
    // Every listing shows the same messages, newest first: the new msg, Ann's msg, her join,
    // the visitor's msg; membership creations wrote joins (Ann's, then Dan's).
    for (path, token) in [
        (
            format!("{a}/orgs/{ORG_A}/owned_chats/{}/messages", w.open_a),
            BOB_T,
        ),
        (
            format!("{a}/orgs/{ORG_A}/involved_chats/{}/messages", w.open_a),
            BOB_T,
        ),
        (
            format!("{a}/orgs/{ORG_A}/routed_chats/{}/messages", w.open_a),
            BOB_T,
        ),
        (
            format!("{a}/users/{ANN}/chats/{}/messages", w.open_a),
            ANN_T,
        ),
    ] {
        let r = s.get(&path, token);
        let ms = page(r.expect(200), MESSAGE);
        let types: Vec<_> = ms.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(types, vec!["msg", "join", "msg", "join", "msg"], "{path}");
        assert_eq!(ms[0]["id"], m["id"]);
        assert_eq!(ms[1]["sender_id"], DAN);
        assert_eq!(ms[4]["sender_type"], "visitor");
        assert_eq!(ms[4]["sender_id"], vid.as_str());
        assert_eq!(ms[4]["sender_name"], Value::Null);
        assert_eq!(ms[4]["message"], "Hello?");
        assert_eq!(ms[3]["sender_id"], ANN);
        assert_eq!(ms[3]["sender_name"], "Ann Lee");
        assert_eq!(ms[3]["message"], Value::Null);
        let only = s.get(&format!("{path}?type__in=join"), token);
        assert_eq!(page(only.expect(200), MESSAGE).len(), 2);
        let not = s.get(&format!("{path}?type__not_in=join,leave"), token);
        assert_eq!(page(not.expect(200), MESSAGE).len(), 3);
    }
    // users/<u>/routed_chats/<c>/messages
    let r = s.get(
        &format!("{a}/users/{CAT}/routed_chats/{}/messages", w.routed_a2),
        CAT_T,
    );
    let ms = page(r.expect(200), MESSAGE);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["message"], "Pricing?");
    // The visitor sees sender_public_name but never sender_name.
    let vshape = visitor_message_shape();
    let r = s.get(
        &format!("{a}/public/visitors/{vid}/chats/{}/messages", w.open_a),
        vt,
    );
    let ms = page(r.expect(200), &vshape);
    assert_eq!(ms[0]["sender_public_name"], "Support");
    // Ended chats are locked.
    s.post(
        &format!("{a}/users/{ANN}/chats/{}/messages", w.ended_a),
        ANN_T,
        json!({"message": "late"}),
    )
    .expect_error(409, "chat_ended");
}
