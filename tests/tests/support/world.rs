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
