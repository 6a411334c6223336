//! Chats in known states on top of the standard seed, made through the HTTP API.

use super::*;

pub struct World {
    /// A1: visitor wrote, nobody joined (pending for A's users).
    pub pending_a: String,
    pub pending_a_vis: (String, String),
    /// A1: Ann joined and replied; Dan added as a non-participating member.
    pub open_a: String,
    pub open_a_vis: (String, String),
    /// A1: Ann joined, replied, ended it.
    pub ended_a: String,
    /// A2 (router: team of Cat): visitor wrote (pending for Cat only).
    pub routed_a2: String,
    /// P1 (partner room shared with A): visitor wrote.
    pub partner_p: String,
    /// H1 (private chats, private history): Hue started it with VIS_H and wrote.
    pub chat_h: String,
    /// B1: a chat of another customer.
    pub chat_b: String,
}

pub fn join_body() -> Value {
    json!({"is_participating": true, "composing_status": "idle"})
}

impl World {
    pub fn build(s: &Server) -> World {
        let (v1, t1, pending_a) = s.visitor_chat(ORG_A, ROOM_A1, Some("I need help"));
        let (v2, t2, open_a) = s.visitor_chat(ORG_A, ROOM_A1, Some("Hello?"));
        s.post(
            &format!("/api/v5/users/{ANN}/pending_chats/{open_a}/memberships"),
            ANN_T,
            join_body(),
        )
        .expect(201);
        s.post(
            &format!("/api/v5/users/{ANN}/chats/{open_a}/messages"),
            ANN_T,
            json!({"message": "Hi, Ann here."}),
        )
        .expect(200);
        s.post(
            &format!("/api/v5/orgs/{ORG_A}/owned_chats/{open_a}/memberships"),
            ANN_T,
            json!({"member_id": DAN, "is_participating": false, "composing_status": "idle"}),
        )
        .expect(201);
        let (_, _, ended_a) = s.visitor_chat(ORG_A, ROOM_A1, Some("Bye soon"));
        s.post(
            &format!("/api/v5/users/{ANN}/pending_chats/{ended_a}/memberships"),
            ANN_T,
            join_body(),
        )
        .expect(201);
        s.post(
            &format!("/api/v5/users/{ANN}/chats/{ended_a}/messages"),
            ANN_T,
            json!({"message": "Done."}),
        )
        .expect(200);
        s.patch(
            &format!("/api/v5/users/{ANN}/chats/{ended_a}"),
            ANN_T,
            json!({"is_ended": true}),
        )
        .expect(200);
        let (_, _, routed_a2) = s.visitor_chat(ORG_A, ROOM_A2, Some("Pricing?"));
        let (_, _, partner_p) = s.visitor_chat(ORG_P, ROOM_P1, Some("Partner question"));
        let chat_h = s
            .post(
                &format!("/api/v5/users/{HUE}/rooms/{ROOM_H1}/visitors/{VIS_H}/chats"),
                HUE_T,
                json!({}),
            )
            .expect(201)["id"]
            .as_str()
            .expect("id")
            .to_string();
        s.post(
            &format!("/api/v5/users/{HUE}/chats/{chat_h}/messages"),
            HUE_T,
            json!({"message": "Welcome"}),
        )
        .expect(200);
        let (_, _, chat_b) = s.visitor_chat(ORG_B, ROOM_B1, Some("B question"));
        World {
            pending_a,
            pending_a_vis: (v1, t1),
            open_a,
            open_a_vis: (v2, t2),
            ended_a,
            routed_a2,
            partner_p,
            chat_h,
            chat_b,
        }
    }
}

/// Invitations, tags, conversation starters and reply suggestions in known states, on chats of
/// their own (so that the chats of [`World`] keep their members and counts).
pub struct ExtrasWorld {
    /// A1: Ann joined and wrote `msg`; tagged "VIP"; Ann's invitations below are to it.
    pub chat: String,
    pub msg: String,
    /// Ann → Dan, pending.
    pub inv_pending: String,
    /// Ann → Bob, expired by Ann.
    pub inv_expired: String,
    /// Ann → team A, accepted by Cat.
    pub inv_accepted: String,
    /// A1: Bob joined; Bob → Ann pending (Ann's incoming).
    pub chat_in: String,
    pub inv_to_ann: String,
    /// A1: Bob joined; Bob → Ann expired, then Bob → Ann accepted by Ann.
    pub chat_in2: String,
    pub inv_to_ann_expired: String,
    pub inv_to_ann_accepted: String,
    /// Ann's suggestion on `msg`.
    pub sug: String,
    /// The visitor's message in `World::partner_p` (routed to Ann) and Ann's suggestion on it.
    pub msg_p: String,
    pub sug_p: String,
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

impl ExtrasWorld {
    pub fn build(s: &Server, w: &World) -> ExtrasWorld {
        let a = "/api/v5";
        let (_, _, chat) = s.visitor_chat(ORG_A, ROOM_A1, Some("Tag me"));
        s.post(
            &format!("{a}/users/{ANN}/pending_chats/{chat}/memberships"),
            ANN_T,
            join_body(),
        )
        .expect(201);
        let msg = id_of(
            s.post(
                &format!("{a}/users/{ANN}/chats/{chat}/messages"),
                ANN_T,
                json!({"message": "How can I help?"}),
            )
            .expect(200),
        );
        let out = format!("{a}/users/{ANN}/chats/{chat}/outgoing_chat_invitations");
        let inv_pending = id_of(
            s.post(&out, ANN_T, json!({"invited_user_id": DAN}))
                .expect(201),
        );
        let inv_expired = id_of(
            s.post(&out, ANN_T, json!({"invited_user_id": BOB}))
                .expect(201),
        );
        s.patch(
            &format!("{out}/{inv_expired}"),
            ANN_T,
            json!({"is_expired": true}),
        )
        .expect(200);
        let inv_accepted = id_of(
            s.post(&out, ANN_T, json!({"invited_team_id": TEAM_A}))
                .expect(201),
        );
        s.put(
            &format!("{a}/users/{CAT}/incoming_chat_invitations/{inv_accepted}"),
            CAT_T,
            json!({"is_accepted": true}),
        )
        .expect(200);
        s.post(
            &format!("{a}/users/{ANN}/chats/{chat}/tags"),
            ANN_T,
            json!({"name": "VIP"}),
        )
        .expect(201);
        s.post(
            &format!("{a}/users/{ANN}/chat_conversation_starters"),
            ANN_T,
            json!({"language_code": "en", "message": "Hello! How can I help?"}),
        )
        .expect(201);
        let sug = id_of(
            s.post(
                &format!("{a}/users/{ANN}/chats/{chat}/messages/{msg}/reply_suggestions"),
                ANN_T,
                json!({"suggestion": "Try turning it off and on", "relevancy_score": 0.5}),
            )
            .expect(201),
        );
        let bob_chat = |first: &str| {
            let (_, _, c) = s.visitor_chat(ORG_A, ROOM_A1, Some(first));
            s.post(
                &format!("{a}/users/{BOB}/pending_chats/{c}/memberships"),
                BOB_T,
                join_body(),
            )
            .expect(201);
            c
        };
        let chat_in = bob_chat("Invite Ann");
        let inv_to_ann = id_of(
            s.post(
                &format!("{a}/users/{BOB}/chats/{chat_in}/outgoing_chat_invitations"),
                BOB_T,
                json!({"invited_user_id": ANN}),
            )
            .expect(201),
        );
        let chat_in2 = bob_chat("Invite Ann twice");
        let out2 = format!("{a}/users/{BOB}/chats/{chat_in2}/outgoing_chat_invitations");
        let inv_to_ann_expired = id_of(
            s.post(&out2, BOB_T, json!({"invited_user_id": ANN}))
                .expect(201),
        );
        s.put(
            &format!("{out2}/{inv_to_ann_expired}"),
            BOB_T,
            json!({"is_expired": true}),
        )
        .expect(200);
        let inv_to_ann_accepted = id_of(
            s.post(&out2, BOB_T, json!({"invited_user_id": ANN}))
                .expect(201),
        );
        s.patch(
            &format!("{a}/users/{ANN}/incoming_chat_invitations/{inv_to_ann_accepted}"),
            ANN_T,
            json!({"is_accepted": true}),
        )
        .expect(200);
        let p = &w.partner_p;
        let msgs = s
            .get(&format!("{a}/users/{ANN}/routed_chats/{p}/messages"), ANN_T)
            .expect(200)
            .clone();
        let msg_p = msgs["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|m| m["type"] == "msg")
            .map(id_of)
            .expect("the partner visitor's message");
        let sug_p = id_of(
            s.post(
                &format!("{a}/users/{ANN}/routed_chats/{p}/messages/{msg_p}/reply_suggestions"),
                ANN_T,
                json!({"suggestion": "Our partner desk can help"}),
            )
            .expect(201),
        );
        ExtrasWorld {
            chat,
            msg,
            inv_pending,
            inv_expired,
            inv_accepted,
            chat_in,
            inv_to_ann,
            chat_in2,
            inv_to_ann_expired,
            inv_to_ann_accepted,
            sug,
            msg_p,
            sug_p,
        }
    }
}
