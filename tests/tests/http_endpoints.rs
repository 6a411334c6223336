//! Every implemented row of endpoints.tsv over HTTP against a real `chat-server`: each documented
//! error a client can provoke (driven by the row's own list of responses), and each success
//! response with its body checked attribute by attribute.

mod support;

use serde_json::{Value, json};
use std::collections::HashMap;
use support::world::{ExtrasWorld, World, join_body};
use support::*;

/// Rows of invitations, tags, conversation starters and reply suggestions: their base context
/// comes from [`ExtrasWorld`].
fn invitation_tag_starter_suggestion_row(path: &str) -> bool {
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
    Some(if path.ends_with("/outgoing_chat_invitations") {
        json!({"invited_user_id": DAN})
    } else if path.contains("/outgoing_chat_invitations/") {
        json!({"is_expired": true})
    } else if path.contains("/incoming_chat_invitations/") {
        json!({"is_accepted": true})
    } else if path.ends_with("/tags") {
        json!({"name": "VIP"})
    } else if path.ends_with("/chat_conversation_starters") {
        json!({"language_code": "fi", "message": "Hei!"})
    } else if path.contains("/chat_conversation_starters/") {
        json!({"message": "Hello there"})
    } else if path.contains("/reply_suggestions") {
        json!({"suggestion": "A fine reply"})
    } else if path.ends_with("/messages") {
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
fn cases_for(
    method: &str,
    path: &str,
    response: &str,
    w: &World,
    w3: &ExtrasWorld,
) -> Option<Vec<Case>> {
    let r = response.to_lowercase();
    let user_route = path.starts_with("/api/v5/users/");
    let routed = path.contains("/users/<user_id>/routed_chats/");
    let s = |x: &str| x.to_string();
    if r.starts_with("200") || r.starts_with("201") || r.starts_with("204") {
        return Some(vec![]); // success: the tests below
    }
    let with_body = |mut c: Case, b: Value| {
        c.body = Some(b);
        c
    };
    const UNKNOWN: &str = "a0000000-0000-4000-8000-00000000f00d";
    let c = if r.contains("invited user, team, or organization is not found") {
        [
            ("an unknown user", json!({"invited_user_id": UNKNOWN})),
            (
                "a user of another organization",
                json!({"invited_user_id": BEA}),
            ),
            ("an unknown team", json!({"invited_team_id": UNKNOWN})),
            (
                "an organization that is no partner",
                json!({"invited_organization_id": ORG_B}),
            ),
        ]
        .into_iter()
        .map(|(what, b)| with_body(case(what, Some(ANN_T), vec![], 404, &["not_found"]), b))
        .collect()
    } else if r.contains("invitation has already expired") {
        vec![case(
            "an expired invitation",
            Some(ANN_T),
            vec![("invitation_id", w3.inv_expired.clone())],
            400,
            &["invitation_expired"],
        )]
    } else if r.contains("already been accepted") {
        vec![case(
            "an accepted invitation",
            Some(ANN_T),
            vec![("invitation_id", w3.inv_accepted.clone())],
            400,
            &["invitation_accepted"],
        )]
    } else if r.contains("invitation is not found") || r.contains("chat invitation was not found") {
        let other = if path.contains("/incoming_chat_invitations/") {
            // Ann sent it: it is not among her incoming ones.
            ("an invitation Ann sent", w3.inv_pending.clone())
        } else {
            ("an invitation another user sent", w3.inv_to_ann.clone())
        };
        let mut v = vec![
            case(
                "unknown invitation",
                Some(ANN_T),
                vec![("invitation_id", s(UNKNOWN))],
                404,
                &["not_found"],
            ),
            case(
                "unparsable invitation id",
                Some(ANN_T),
                vec![("invitation_id", s("not-an-id"))],
                404,
                &["not_found"],
            ),
            case(
                other.0,
                Some(ANN_T),
                vec![("invitation_id", other.1)],
                404,
                &["not_found"],
            ),
        ];
        if path.contains("/chats/<chat_id>/incoming_chat_invitations/") {
            v.push(case(
                "the invitation of another chat",
                Some(ANN_T),
                vec![("chat_id", w3.chat.clone())],
                404,
                &["not_found"],
            ));
        }
        v
    } else if r.contains("\"pending state\"") {
        vec![
            case(
                "an expired invitation",
                Some(ANN_T),
                vec![
                    ("invitation_id", w3.inv_to_ann_expired.clone()),
                    ("chat_id", w3.chat_in2.clone()),
                ],
                400,
                &["invitation_expired"],
            ),
            case(
                "an invitation already accepted",
                Some(ANN_T),
                vec![
                    ("invitation_id", w3.inv_to_ann_accepted.clone()),
                    ("chat_id", w3.chat_in2.clone()),
                ],
                400,
                &["invitation_accepted"],
            ),
        ]
    } else if r.contains("already has a conversation starter") {
        vec![
            with_body(
                case(
                    "the same language",
                    Some(ANN_T),
                    vec![],
                    400,
                    &["conversation_starter_exists"],
                ),
                json!({"language_code": "en", "message": "Again"}),
            ),
            with_body(
                case(
                    "the same language in another case",
                    Some(ANN_T),
                    vec![],
                    400,
                    &["conversation_starter_exists"],
                ),
                json!({"language_code": "EN", "message": "Again"}),
            ),
        ]
    } else if r.contains("conversation starter was not found") {
        vec![case(
            "a language without a starter",
            Some(ANN_T),
            vec![("language_code", s("fi"))],
            404,
            &["not_found"],
        )]
    } else if r.contains("message was not found") {
        let other = if routed {
            w3.msg.clone()
        } else {
            w3.msg_p.clone()
        };
        vec![
            case(
                "unknown message",
                Some(ANN_T),
                vec![("message_id", s(UNKNOWN))],
                404,
                &["not_found"],
            ),
            case(
                "unparsable message id",
                Some(ANN_T),
                vec![("message_id", s("m-1"))],
                404,
                &["not_found"],
            ),
            case(
                "a message of another chat",
                Some(ANN_T),
                vec![("message_id", other)],
                404,
                &["not_found"],
            ),
        ]
    } else if r.contains("reply suggestion was not found") {
        let other = if routed {
            w3.sug.clone()
        } else {
            w3.sug_p.clone()
        };
        vec![
            case(
                "unknown suggestion",
                Some(ANN_T),
                vec![("reply_suggestion_id", s(UNKNOWN))],
                404,
                &["not_found"],
            ),
            case(
                "unparsable suggestion id",
                Some(ANN_T),
                vec![("reply_suggestion_id", s("s-1"))],
                404,
                &["not_found"],
            ),
            case(
                "a suggestion of another chat",
                Some(ANN_T),
                vec![("reply_suggestion_id", other)],
                404,
                &["not_found"],
            ),
        ]
    } else if r.contains("required attribute")
        && method == "PATCH"
        && path.contains("conversation_starters")
    {
        // PATCH takes any subset (null reads as absent): a blank required attribute is the 400.
        vec![with_body(
            case(
                "a blank message",
                Some(ANN_T),
                vec![],
                400,
                &["validation_error"],
            ),
            json!({"message": "  "}),
        )]
    } else if r.contains("required attribute")
        && method == "PATCH"
        && path.contains("reply_suggestions")
    {
        vec![with_body(
            case(
                "a blank suggestion",
                Some(ANN_T),
                vec![],
                400,
                &["validation_error"],
            ),
            json!({"suggestion": ""}),
        )]
    } else if r.starts_with("401") {
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
    } else if r.contains("required attribute") && r.contains("missing") {
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
        t.body = Some(if path.ends_with("/outgoing_chat_invitations") {
            json!({"invited_user_id": 5})
        } else if path.contains("/outgoing_chat_invitations/") {
            json!({"is_expired": "yes"})
        } else if path.contains("/incoming_chat_invitations/") {
            json!({"is_accepted": "yes"})
        } else if path.ends_with("/tags") {
            json!({"name": 7})
        } else if path.ends_with("/chat_conversation_starters") {
            json!({"language_code": "fi", "message": 7})
        } else if path.contains("/chat_conversation_starters/") {
            json!({"message": ["x"]})
        } else if path.contains("/reply_suggestions") {
            json!({"suggestion": "ok", "relevancy_score": "high"})
        } else if path.ends_with("/messages") {
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
            &["private_chat_taken"],
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
    let w3 = ExtrasWorld::build(&s, &w);
    let mut all = rows();
    // The accept path of the reference's invitation example.
    let accept: Vec<_> = all
        .iter()
        .filter(|(_, p, _)| {
            p.ends_with("/users/<user_id>/incoming_chat_invitations/<invitation_id>")
        })
        .map(|(m, p, r)| {
            let p = p.replace(
                "/incoming_chat_invitations/",
                "/chats/<chat_id>/incoming_chat_invitations/",
            );
            (m.clone(), p, r.clone())
        })
        .collect();
    assert_eq!(accept.len(), 2);
    all.extend(accept);
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
    for (method, path, responses) in &all {
        let mut base: HashMap<&str, String> = HashMap::new();
        base.insert("organization_id", ORG_A.into());
        base.insert("user_id", ANN.into());
        base.insert("room_id", ROOM_A1.into());
        base.insert("chat_id", w.open_a.clone());
        base.insert("visitor_id", w.open_a_vis.0.clone());
        if invitation_tag_starter_suggestion_row(path) {
            let routed = path.contains("/users/<user_id>/routed_chats/");
            let incoming = path.contains("/incoming_chat_invitations/");
            let chat = if routed {
                w.partner_p.clone()
            } else if incoming {
                w3.chat_in.clone()
            } else {
                w3.chat.clone()
            };
            base.insert("chat_id", chat);
            let inv = if incoming {
                &w3.inv_to_ann
            } else {
                &w3.inv_pending
            };
            base.insert("invitation_id", inv.clone());
            let (m, sg) = if routed {
                (&w3.msg_p, &w3.sug_p)
            } else {
                (&w3.msg, &w3.sug)
            };
            base.insert("message_id", m.clone());
            base.insert("reply_suggestion_id", sg.clone());
            base.insert("tag_name", "VIP".into());
            base.insert("language_code", "en".into());
        }
        for response in responses {
            let cases = cases_for(method, path, response, &w, &w3)
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
    assert!(checked > 500, "only {checked} provocations");
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
    h.expect_error(409, "private_chat_taken");

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

// ---- invitations, tags, conversation starters, reply suggestions ------------------------------

fn find<'a>(results: &'a [Value], id: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing in {results:?}"))
}

#[track_caller]
fn assert_time_order(earlier: &Value, later: &Value) {
    let e = earlier.as_str().expect("time");
    let l = later.as_str().expect("time");
    assert!(e <= l, "{e} should not be after {l}");
}

#[test]
fn invitation_endpoints() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let w3 = ExtrasWorld::build(&s, &w);
    let a = "/api/v5";
    let chat = &w3.chat;
    let out = format!("{a}/users/{ANN}/chats/{chat}/outgoing_chat_invitations");

    // Row 42: Ann's outgoing invitations of the chat, every attribute.
    let list = s.get(&out, ANN_T);
    let list = page(list.expect(200), INVITATION).clone();
    assert_eq!(list.len(), 3);
    for i in &list {
        assert_eq!(i["invited_by_user_id"], ANN);
        assert_user_summary(&i["invited_by_user"], ANN, "Ann", "Lee", ORG_A);
        assert_eq!(i["chat_id"], chat.as_str());
        assert_eq!(i["room_id"], ROOM_A1);
        // Participating now: Ann and Cat (who accepted the team's invitation); the visitor.
        assert_eq!(i["user_member_count"], 2);
        assert_eq!(i["visitor_member_count"], 1);
        assert_time_order(&i["created_at"], &i["updated_at"]);
    }
    let p = find(&list, &w3.inv_pending);
    assert_eq!(p["is_accepted"], false);
    assert_eq!(p["is_expired"], false);
    assert_eq!(p["invited_user_id"], DAN);
    assert_eq!(p["invited_team_id"], Value::Null);
    assert_eq!(p["invited_organization_id"], Value::Null);
    assert_eq!(p["invitee_name"], "Dan Tester");
    assert_eq!(p["accepted_by_user_id"], Value::Null);
    assert_eq!(p["accepted_by_user"], Value::Null);
    assert_eq!(p["accepted_at"], Value::Null);
    assert_eq!(p["expired_at"], Value::Null);
    let e = find(&list, &w3.inv_expired);
    assert_eq!(e["is_expired"], true);
    assert_eq!(e["is_accepted"], false);
    assert_eq!(e["invited_user_id"], BOB);
    assert_eq!(e["invitee_name"], "Bob Tester");
    assert!(e["expired_at"].is_string());
    let t = find(&list, &w3.inv_accepted);
    assert_eq!(t["is_accepted"], true);
    assert_eq!(t["is_expired"], false);
    assert_eq!(t["invited_user_id"], Value::Null);
    assert_eq!(t["invited_team_id"], TEAM_A);
    assert_eq!(t["invitee_name"], "Sales team");
    assert_eq!(t["accepted_by_user_id"], CAT);
    assert_user_summary(&t["accepted_by_user"], CAT, "Cat", "Tester", ORG_A);
    assert!(t["accepted_at"].is_string());
    assert_eq!(t["expired_at"], Value::Null);
    // Bob sees only his own outgoing ones (none in Ann's chat: he is no member → 404).
    s.get(
        &format!("{a}/users/{BOB}/chats/{chat}/outgoing_chat_invitations"),
        BOB_T,
    )
    .expect(404);

    // Row 43: 201 for a new invitation, 200 with the same one for a party already invited.
    let new = s.post(&out, ANN_T, json!({"invited_user_id": BOB}));
    let new = new.expect(201).clone();
    assert_shape(&new, INVITATION);
    assert_ne!(new["id"], w3.inv_expired.as_str());
    assert_eq!(new["invited_user_id"], BOB);
    assert_eq!(new["is_accepted"], false);
    assert_eq!(new["is_expired"], false);
    assert_eq!(new["created_at"], new["updated_at"]);
    let again = s.post(&out, ANN_T, json!({"invited_user_id": BOB}));
    assert_eq!(again.expect(200)["id"], new["id"]);
    let again = s.post(&out, ANN_T, json!({"invited_user_id": DAN}));
    assert_eq!(again.expect(200)["id"], w3.inv_pending.as_str());
    // A partner organization.
    let org = s.post(&out, ANN_T, json!({"invited_organization_id": ORG_P}));
    let org = org.expect(201);
    assert_eq!(org["invited_organization_id"], ORG_P);
    assert_eq!(org["invitee_name"], "Partner");
    // Exactly one party.
    s.post(
        &out,
        ANN_T,
        json!({"invited_user_id": BOB, "invited_team_id": TEAM_A}),
    )
    .expect_error(400, "validation_error");

    // Rows 44, 45: expire with PUT and with PATCH.
    let id = new["id"].as_str().unwrap();
    let x = s.put(&format!("{out}/{id}"), ANN_T, json!({"is_expired": true}));
    let x = x.expect(200).clone();
    assert_shape(&x, INVITATION);
    assert_eq!(x["is_expired"], true);
    assert!(x["expired_at"].is_string());
    assert_eq!(x["id"], id);
    s.put(&format!("{out}/{id}"), ANN_T, json!({"is_expired": true}))
        .expect_error(400, "invitation_expired");
    let x = s.patch(
        &format!("{out}/{}", w3.inv_pending),
        ANN_T,
        json!({"is_expired": true}),
    );
    let x = x.expect(200);
    assert_eq!(x["is_expired"], true);
    assert_eq!(x["invited_user_id"], DAN);
    s.patch(
        &format!("{out}/{}", w3.inv_pending),
        ANN_T,
        json!({"is_expired": false}),
    )
    .expect_error(400, "validation_error");

    // Row 46: Ann's incoming invitations: Bob's, not the ones she sent.
    let inc = s.get(&format!("{a}/users/{ANN}/incoming_chat_invitations"), ANN_T);
    let inc = page(inc.expect(200), INVITATION).clone();
    let i = find(&inc, &w3.inv_to_ann);
    assert_eq!(i["invited_by_user_id"], BOB);
    assert_user_summary(&i["invited_by_user"], BOB, "Bob", "Tester", ORG_A);
    assert_eq!(i["invited_user_id"], ANN);
    assert_eq!(i["invitee_name"], "Ann Lee");
    assert_eq!(i["chat_id"], w3.chat_in.as_str());
    assert_eq!(i["user_member_count"], 1);
    assert_eq!(i["visitor_member_count"], 1);
    assert!(!inc.iter().any(|i| i["invited_by_user_id"] == ANN));
    // Cat's incoming: the team invitation she accepted.
    let inc = s.get(&format!("{a}/users/{CAT}/incoming_chat_invitations"), CAT_T);
    let inc = page(inc.expect(200), INVITATION).clone();
    assert_eq!(find(&inc, &w3.inv_accepted)["accepted_by_user_id"], CAT);

    // Row 47 (PUT): Ann accepts Bob's invitation and becomes a participating member.
    let acc = s.put(
        &format!(
            "{a}/users/{ANN}/incoming_chat_invitations/{}",
            w3.inv_to_ann
        ),
        ANN_T,
        json!({"is_accepted": true}),
    );
    let acc = acc.expect(200).clone();
    assert_shape(&acc, INVITATION);
    assert_eq!(acc["is_accepted"], true);
    assert_eq!(acc["accepted_by_user_id"], ANN);
    assert_user_summary(&acc["accepted_by_user"], ANN, "Ann", "Lee", ORG_A);
    assert!(acc["accepted_at"].is_string());
    assert_eq!(acc["user_member_count"], 2);
    let ms = s.get(
        &format!("{a}/users/{ANN}/chats/{}/memberships", w3.chat_in),
        ANN_T,
    );
    let ms = page(ms.expect(200), MEMBERSHIP).clone();
    assert!(
        ms.iter()
            .any(|m| m["member_id"] == ANN && m["is_participating"] == true)
    );
    s.put(
        &format!(
            "{a}/users/{ANN}/incoming_chat_invitations/{}",
            w3.inv_to_ann
        ),
        ANN_T,
        json!({"is_accepted": false}),
    )
    .expect_error(400, "validation_error");

    // Row 48 (PATCH): Bob accepts Cat's invitation to Ann's chat, then writes there.
    let cat_out = format!("{a}/users/{CAT}/chats/{chat}/outgoing_chat_invitations");
    let ci = s.post(&cat_out, CAT_T, json!({"invited_user_id": BOB}));
    let ci = ci.expect(201)["id"].as_str().unwrap().to_string();
    let acc = s.patch(
        &format!("{a}/users/{BOB}/incoming_chat_invitations/{ci}"),
        BOB_T,
        json!({"is_accepted": true}),
    );
    let acc = acc.expect(200);
    assert_eq!(acc["accepted_by_user_id"], BOB);
    assert_user_summary(&acc["invited_by_user"], CAT, "Cat", "Tester", ORG_A);
    assert_eq!(acc["user_member_count"], 3);
    s.post(
        &format!("{a}/users/{BOB}/chats/{chat}/messages"),
        BOB_T,
        json!({"message": "Bob here"}),
    )
    .expect(200);

    // The reference example's path: /users/<u>/chats/<c>/incoming_chat_invitations/<id>, PUT
    // and PATCH.
    let in_out = format!(
        "{a}/users/{ANN}/chats/{}/outgoing_chat_invitations",
        w3.chat_in
    );
    let di = s.post(&in_out, ANN_T, json!({"invited_user_id": DAN}));
    let di = di.expect(201)["id"].as_str().unwrap().to_string();
    let acc = s.put(
        &format!(
            "{a}/users/{DAN}/chats/{}/incoming_chat_invitations/{di}",
            w3.chat_in
        ),
        DAN_T,
        json!({"is_accepted": true}),
    );
    assert_eq!(acc.expect(200)["accepted_by_user_id"], DAN);
    let bob_out = format!(
        "{a}/users/{BOB}/chats/{}/outgoing_chat_invitations",
        w3.chat_in
    );
    let ti = s.post(&bob_out, BOB_T, json!({"invited_team_id": TEAM_A}));
    let ti = ti.expect(201)["id"].as_str().unwrap().to_string();
    let acc = s.patch(
        &format!(
            "{a}/users/{CAT}/chats/{}/incoming_chat_invitations/{ti}",
            w3.chat_in
        ),
        CAT_T,
        json!({"is_accepted": true}),
    );
    let acc = acc.expect(200);
    assert_eq!(acc["accepted_by_user_id"], CAT);
    assert_eq!(acc["invited_team_id"], TEAM_A);
    // Accepted once: the outgoing side shows it, expiring it now is 400.
    s.patch(
        &format!("{bob_out}/{ti}"),
        BOB_T,
        json!({"is_expired": true}),
    )
    .expect_error(400, "invitation_accepted");

    // Ending the chat expires its pending invitations; inviting to an ended chat is 400.
    let pend = s.post(&out, ANN_T, json!({"invited_user_id": DAN}));
    let pend = pend.expect(201)["id"].as_str().unwrap().to_string();
    s.patch(
        &format!("{a}/users/{ANN}/chats/{chat}"),
        ANN_T,
        json!({"is_ended": true}),
    )
    .expect(200);
    let list = s.get(&out, ANN_T);
    let list = page(list.expect(200), INVITATION).clone();
    assert_eq!(find(&list, &pend)["is_expired"], true);
    s.post(&out, ANN_T, json!({"invited_user_id": DAN}))
        .expect_error(400, "chat_already_ended");
}

fn tag_seed() -> Value {
    let mut sd = seed();
    sd["rooms"][0]["allowed_tags"] = json!(["Lead", "Premium customer", "Support"]);
    sd
}

#[track_caller]
fn assert_tag(t: &Value, name: &str, room: &str) {
    assert_shape(t, TAG);
    assert_eq!(t["name"], name);
    let h = sha1_hex(name);
    assert_eq!(h.len(), 40);
    assert_eq!(t["hashed_name"], h);
    assert_eq!(t["room_id"], room);
}

#[test]
fn tag_endpoints() {
    let s = Server::with_seed(&tag_seed());
    let a = "/api/v5";
    let (_, _, c) = s.visitor_chat(ORG_A, ROOM_A1, Some("Tag this"));
    s.post(
        &format!("{a}/users/{ANN}/pending_chats/{c}/memberships"),
        ANN_T,
        join_body(),
    )
    .expect(201);
    let user = format!("{a}/users/{ANN}/chats/{c}");
    let owned = format!("{a}/orgs/{ORG_A}/owned_chats/{c}");
    let involved = format!("{a}/orgs/{ORG_A}/involved_chats/{c}");
    let routed = format!("{a}/orgs/{ORG_A}/routed_chats/{c}");
    let scopes = [&user, &owned, &involved, &routed];

    // Rows 53-56: the room's allowed tags, in the room's order, through every scope.
    for base in scopes {
        let l = s.get(&format!("{base}/allowed_tags"), ANN_T);
        let l = page(l.expect(200), TAG).clone();
        let names: Vec<_> = l.iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, vec!["Lead", "Premium customer", "Support"], "{base}");
        for t in &l {
            assert_tag(t, t["name"].as_str().unwrap(), ROOM_A1);
        }
    }
    // Rows 49-52: no tags yet.
    for base in scopes {
        let l = s.get(&format!("{base}/tags"), ANN_T);
        assert!(page(l.expect(200), TAG).is_empty());
    }

    // Rows 57-60: 201 for a new tag, 200 with the existing one (its first created_at).
    let t1 = s.post(
        &format!("{user}/tags"),
        ANN_T,
        json!({"name": "Premium customer"}),
    );
    let t1 = t1.expect(201).clone();
    assert_tag(&t1, "Premium customer", ROOM_A1);
    // sha1("Premium customer"), lowercase hex.
    assert_eq!(
        t1["hashed_name"],
        "9bf6c43e2f84b91f3dd88d68646ea3b859845f6b"
    );
    let again = s.post(
        &format!("{user}/tags"),
        ANN_T,
        json!({"name": "Premium customer"}),
    );
    assert_eq!(again.expect(200), &t1);
    let t2 = s.post(&format!("{owned}/tags"), ANN_T, json!({"name": "Lead"}));
    assert_tag(t2.expect(201), "Lead", ROOM_A1);
    let t3 = s.post(
        &format!("{involved}/tags"),
        ANN_T,
        json!({"name": "Support"}),
    );
    assert_tag(t3.expect(201), "Support", ROOM_A1);
    let t4 = s.post(&format!("{routed}/tags"), ANN_T, json!({"name": "Lead"}));
    assert_eq!(t4.expect(200), t2.expect(201));
    // Not among the room's allowed tags; blank.
    s.post(&format!("{user}/tags"), ANN_T, json!({"name": "Nope"}))
        .expect_error(400, "validation_error");
    s.post(&format!("{user}/tags"), ANN_T, json!({"name": " "}))
        .expect_error(400, "validation_error");
    for base in scopes {
        let l = s.get(&format!("{base}/tags"), ANN_T);
        let l = page(l.expect(200), TAG).clone();
        let names: Vec<_> = l.iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, vec!["Premium customer", "Lead", "Support"], "{base}");
        assert_eq!(l[0], t1);
    }
    let chat = s.get(&owned, ANN_T);
    assert_eq!(chat.expect(200)["tag_count"], 3);

    // Rows 61-64: remove through every scope; the name is URL-encoded in the path.
    s.delete(&format!("{user}/tags/Premium%20customer"), ANN_T)
        .expect(204);
    s.delete(&format!("{user}/tags/Premium%20customer"), ANN_T)
        .expect_error(404, "not_found");
    s.delete(&format!("{owned}/tags/Lead"), ANN_T).expect(204);
    s.delete(&format!("{involved}/tags/Support"), ANN_T)
        .expect(204);
    s.post(
        &format!("{user}/tags"),
        ANN_T,
        json!({"name": "Premium customer"}),
    )
    .expect(201);
    s.delete(&format!("{routed}/tags/Premium%20customer"), ANN_T)
        .expect(204);
    let l = s.get(&format!("{user}/tags"), ANN_T);
    assert!(page(l.expect(200), TAG).is_empty());
    assert_eq!(s.get(&owned, ANN_T).expect(200)["tag_count"], 0);

    // A room without allowed tags takes any name; a colleague who is no member cannot tag.
    let (_, _, c2) = s.visitor_chat(ORG_A, ROOM_A2, Some("Any tag"));
    let t = s.post(
        &format!("{a}/orgs/{ORG_A}/owned_chats/{c2}/tags"),
        ANN_T,
        json!({"name": "Anything goes"}),
    );
    assert_tag(t.expect(201), "Anything goes", ROOM_A2);
    let l = s.get(
        &format!("{a}/orgs/{ORG_A}/owned_chats/{c2}/allowed_tags"),
        ANN_T,
    );
    assert!(page(l.expect(200), TAG).is_empty());
    s.post(
        &format!("{a}/users/{BOB}/chats/{c}/tags"),
        BOB_T,
        json!({"name": "Lead"}),
    )
    .expect_error(404, "not_found");
}

#[test]
fn conversation_starter_endpoints() {
    let s = Server::with_seed(&seed());
    let base = format!("/api/v5/users/{ANN}/chat_conversation_starters");
    // Row 65: none yet.
    assert!(page(s.get(&base, ANN_T).expect(200), STARTER).is_empty());
    // Row 66: 201 each; the language code is stored in canonical form.
    let en = s.post(
        &base,
        ANN_T,
        json!({"language_code": "en", "message": "Hello! How can I help?"}),
    );
    let en = en.expect(201).clone();
    assert_shape(&en, STARTER);
    assert_eq!(en["language_code"], "en");
    assert_eq!(en["message"], "Hello! How can I help?");
    assert_eq!(en["created_at"], en["updated_at"]);
    let us = s.post(
        &base,
        ANN_T,
        json!({"language_code": "en-us", "message": "Howdy!"}),
    );
    let us = us.expect(201).clone();
    assert_eq!(us["language_code"], "en-US");
    s.post(&base, ANN_T, json!({"language_code": "xx", "message": "?"}))
        .expect_error(400, "validation_error");
    let l = s.get(&base, ANN_T);
    let l = page(l.expect(200), STARTER).clone();
    assert_eq!(l, vec![en.clone(), us.clone()]);

    // Rows 67, 68: PUT needs the message; PATCH takes any subset, a new code moves it.
    let put = s.put(&format!("{base}/en"), ANN_T, json!({"message": "Hi there"}));
    let put = put.expect(200).clone();
    assert_shape(&put, STARTER);
    assert_eq!(put["language_code"], "en");
    assert_eq!(put["message"], "Hi there");
    assert_eq!(put["created_at"], en["created_at"]);
    assert_time_order(&en["updated_at"], &put["updated_at"]);
    let pa = s.patch(
        &format!("{base}/EN-US"),
        ANN_T,
        json!({"language_code": "fi"}),
    );
    let pa = pa.expect(200).clone();
    assert_eq!(pa["language_code"], "fi");
    assert_eq!(pa["message"], "Howdy!");
    s.patch(&format!("{base}/fi"), ANN_T, json!({"language_code": "en"}))
        .expect_error(400, "conversation_starter_exists");
    s.get(&base, ANN_T).expect(200);
    s.put(&format!("{base}/en-US"), ANN_T, json!({"message": "x"}))
        .expect_error(404, "not_found");

    // Row 69: 204, then gone.
    let d = s.delete(&format!("{base}/fi"), ANN_T);
    d.expect(204);
    let l = s.get(&base, ANN_T);
    let l = page(l.expect(200), STARTER).clone();
    assert_eq!(l, vec![put]);
    s.delete(&format!("{base}/fi"), ANN_T)
        .expect_error(404, "not_found");

    // Ann (settings) manages Bob's starters; Bob's list is his own.
    let bob = format!("/api/v5/users/{BOB}/chat_conversation_starters");
    s.post(
        &bob,
        ANN_T,
        json!({"language_code": "sv", "message": "Hej!"}),
    )
    .expect(201);
    let l = s.get(&bob, BOB_T);
    let l = page(l.expect(200), STARTER).clone();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["language_code"], "sv");
}

#[track_caller]
fn assert_suggestion_user(v: &Value, id: &str, first: &str, last: &str) {
    assert_shape(v, SUGGESTION_USER);
    assert_eq!(
        v,
        &json!({"id": id, "full_name": format!("{first} {last}"), "first_name": first,
                "last_name": last, "organization_id": ORG_A, "is_bot": false})
    );
}

#[test]
fn reply_suggestion_endpoints() {
    let s = Server::with_seed(&seed());
    let w = World::build(&s);
    let w3 = ExtrasWorld::build(&s, &w);
    let a = "/api/v5";
    let (chat, msg, p) = (&w3.chat, &w3.msg, &w.partner_p);
    let user = format!("{a}/users/{ANN}/chats/{chat}");
    let routed = format!("{a}/users/{ANN}/routed_chats/{p}");

    // Rows 70-73: the chat's and the message's suggestions, every attribute.
    let l = s.get(&format!("{user}/reply_suggestions"), ANN_T);
    let l = page(l.expect(200), SUGGESTION).clone();
    assert_eq!(l.len(), 1);
    let g = &l[0];
    assert_eq!(g["id"], w3.sug.as_str());
    assert_eq!(g["suggestion"], "Try turning it off and on");
    assert_eq!(g["relevancy_score"], 0.5);
    assert_eq!(g["created_by_user_id"], ANN);
    assert_suggestion_user(&g["created_by_user"], ANN, "Ann", "Lee");
    assert_eq!(g["room_id"], ROOM_A1);
    assert_eq!(g["chat_id"], chat.as_str());
    assert_eq!(g["message_id"], msg.as_str());
    assert_eq!(g["organization_id"], ORG_A);
    let ml = s.get(&format!("{user}/messages/{msg}/reply_suggestions"), ANN_T);
    assert_eq!(page(ml.expect(200), SUGGESTION), &l);
    let rl = s.get(&format!("{routed}/reply_suggestions"), ANN_T);
    let rl = page(rl.expect(200), SUGGESTION).clone();
    assert_eq!(ids(&rl), vec![w3.sug_p.clone()]);
    assert_eq!(rl[0]["room_id"], ROOM_P1);
    assert_eq!(rl[0]["chat_id"], p.as_str());
    assert_eq!(rl[0]["message_id"], w3.msg_p.as_str());
    assert_eq!(rl[0]["organization_id"], ORG_A);
    assert_eq!(rl[0]["relevancy_score"], Value::Null);
    let rml = s.get(
        &format!("{routed}/messages/{}/reply_suggestions", w3.msg_p),
        ANN_T,
    );
    assert_eq!(page(rml.expect(200), SUGGESTION), &rl);

    // Rows 78, 79: create through both paths (Cat is a member since she accepted).
    let cat = format!("{a}/users/{CAT}/chats/{chat}");
    let c = s.post(
        &format!("{cat}/messages/{msg}/reply_suggestions"),
        CAT_T,
        json!({"suggestion": "Have you tried the manual?", "relevancy_score": 1}),
    );
    let c = c.expect(201).clone();
    assert_shape(&c, SUGGESTION);
    assert_eq!(c["created_by_user_id"], CAT);
    assert_suggestion_user(&c["created_by_user"], CAT, "Cat", "Tester");
    assert_eq!(c["relevancy_score"], 1.0);
    assert_eq!(c["message_id"], msg.as_str());
    s.post(
        &format!("{cat}/messages/{msg}/reply_suggestions"),
        CAT_T,
        json!({"suggestion": "x", "relevancy_score": 1.5}),
    )
    .expect_error(400, "validation_error");
    let r = s.post(
        &format!("{routed}/messages/{}/reply_suggestions", w3.msg_p),
        ANN_T,
        json!({"suggestion": "Second thought", "relevancy_score": 0.25}),
    );
    let r = r.expect(201).clone();
    assert_eq!(r["chat_id"], p.as_str());
    assert_eq!(r["relevancy_score"], 0.25);
    // Oldest first by default, newest first with ordering=-created_at.
    let l = s.get(&format!("{user}/reply_suggestions"), ANN_T);
    assert_eq!(
        ids(page(l.expect(200), SUGGESTION)),
        vec![w3.sug.clone(), c["id"].as_str().unwrap().to_string()]
    );
    let l = s.get(
        &format!("{user}/reply_suggestions?ordering=-created_at"),
        ANN_T,
    );
    assert_eq!(
        ids(page(l.expect(200), SUGGESTION)),
        vec![c["id"].as_str().unwrap().to_string(), w3.sug.clone()]
    );

    // Rows 74, 75: PUT (an omitted score becomes null) and PATCH (only what it carries), by
    // another user than the creator.
    let one = format!("{cat}/messages/{msg}/reply_suggestions/{}", w3.sug);
    let u = s.put(&one, CAT_T, json!({"suggestion": "Restart it"}));
    let u = u.expect(200).clone();
    assert_shape(&u, SUGGESTION);
    assert_eq!(u["suggestion"], "Restart it");
    assert_eq!(u["relevancy_score"], Value::Null);
    assert_eq!(u["created_by_user_id"], ANN);
    assert_eq!(u["updated_by_user_id"], CAT);
    assert_suggestion_user(&u["updated_by_user"], CAT, "Cat", "Tester");
    assert_eq!(u["created_at"], g["created_at"]);
    let u = s.patch(
        &format!("{user}/messages/{msg}/reply_suggestions/{}", w3.sug),
        ANN_T,
        json!({"relevancy_score": 0.75}),
    );
    let u = u.expect(200).clone();
    assert_eq!(u["suggestion"], "Restart it");
    assert_eq!(u["relevancy_score"], 0.75);
    assert_eq!(u["updated_by_user_id"], ANN);
    assert_suggestion_user(&u["updated_by_user"], ANN, "Ann", "Lee");

    // Rows 76, 77: the routed paths.
    let ro = format!(
        "{routed}/messages/{}/reply_suggestions/{}",
        w3.msg_p, w3.sug_p
    );
    let u = s.put(
        &ro,
        ANN_T,
        json!({"suggestion": "Partner desk", "relevancy_score": 0.1}),
    );
    let u = u.expect(200).clone();
    assert_eq!(u["suggestion"], "Partner desk");
    assert_eq!(u["relevancy_score"], 0.1);
    let u = s.patch(&ro, ANN_T, json!({"relevancy_score": null}));
    let u = u.expect(200).clone();
    assert_eq!(u["suggestion"], "Partner desk");
    assert_eq!(u["relevancy_score"], Value::Null);

    // A message sent with the suggestion carries it as it reads now.
    let m = s.post(
        &format!("{user}/messages"),
        ANN_T,
        json!({"message": "Restart it", "selected_reply_suggestion_id": w3.sug}),
    );
    let m = m.expect(200);
    assert_eq!(m["selected_reply_suggestion_id"], w3.sug.as_str());
    assert_eq!(
        m["selected_reply_suggestion"],
        json!({"id": w3.sug, "suggestion": "Restart it", "relevancy_score": 0.75})
    );
}

/// Contract section 4: a room's allowed tags under `/orgs/<o>/rooms/<r>/tags` (GET lists,
/// POST allows one more; settings permission).
#[test]
fn room_allowed_tag_endpoints() {
    let s = Server::with_seed(&tag_seed());
    let base = format!("/api/v5/orgs/{ORG_A}/rooms/{ROOM_A1}/tags");
    for t in [ANN_T, BOB_T] {
        let l = s.get(&base, t);
        let l = page(l.expect(200), TAG).clone();
        let names: Vec<_> = l.iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, vec!["Lead", "Premium customer", "Support"]);
        for t in &l {
            assert_tag(t, t["name"].as_str().unwrap(), ROOM_A1);
        }
    }
    let vip = s.post(&base, ANN_T, json!({"name": "VIP"}));
    let vip = vip.expect(201).clone();
    assert_tag(&vip, "VIP", ROOM_A1);
    let again = s.post(&base, ANN_T, json!({"name": "VIP"}));
    assert_eq!(again.expect(200), &vip);
    let l = s.get(&base, ANN_T);
    let l = page(l.expect(200), TAG).clone();
    assert_eq!(l.len(), 4);
    assert_eq!(l[3], vip);
    // A chat of the room takes the new tag now; its allowed tags show it.
    let (_, _, c) = s.visitor_chat(ORG_A, ROOM_A1, Some("VIP here"));
    let t = s.post(
        &format!("/api/v5/orgs/{ORG_A}/owned_chats/{c}/tags"),
        ANN_T,
        json!({"name": "VIP"}),
    );
    assert_tag(t.expect(201), "VIP", ROOM_A1);
    let al = s.get(
        &format!("/api/v5/orgs/{ORG_A}/owned_chats/{c}/allowed_tags"),
        ANN_T,
    );
    assert_eq!(page(al.expect(200), TAG).len(), 4);

    // Errors.
    s.post(&base, BOB_T, json!({"name": "Nope"}))
        .expect_error(403, "permission_denied");
    s.call("POST", &base, None, Some(&json!({"name": "x"})))
        .expect_error(401, "not_authenticated");
    s.call("GET", &base, None, None)
        .expect_error(401, "not_authenticated");
    s.get(&base, BEA_T).expect_error(403, "permission_denied");
    s.post(&base, BEA_T, json!({"name": "x"}))
        .expect_error(403, "permission_denied");
    s.get(&format!("/api/v5/orgs/{ORG_C}/rooms/{ROOM_C1}/tags"), CID_T)
        .expect_error(403, "no_active_subscription");
    for bad in [
        json!({}),
        json!({"name": " "}),
        json!({"name": "x".repeat(101)}),
    ] {
        s.post(&base, ANN_T, bad)
            .expect_error(400, "validation_error");
    }
    s.post(&base, ANN_T, json!({"name": 7}))
        .expect_error(400, "validation_error");
    let r = s.raw(
        "POST",
        &base,
        &[
            ("Authorization", &format!("Token {ANN_T}")),
            ("Content-Type", "application/json"),
        ],
        Some(b"{\"name\": ".to_vec()),
    );
    r.expect_error(400, "parse_error");
    for room in [
        ROOM_B1,
        "a0000000-0000-4000-8000-00000000dead",
        "not-a-room",
    ] {
        let p = format!("/api/v5/orgs/{ORG_A}/rooms/{room}/tags");
        s.get(&p, ANN_T).expect_error(404, "not_found");
        s.post(&p, ANN_T, json!({"name": "x"}))
            .expect_error(404, "not_found");
    }
    assert_eq!(page(s.get(&base, ANN_T).expect(200), TAG).len(), 4);
}
