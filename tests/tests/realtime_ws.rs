//! The WebSocket stream of contract section 8 against a real `chat-server`: exactly the
//! expected events of a scripted chat, and a reconnect with `since` that misses nothing.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use support::world::join_body;
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(s: &Server, token: &str, in_query: bool) -> Ws {
    let base = s.base.replacen("http://", "ws://", 1);
    let url = if in_query {
        format!("{base}/api/v5/realtime?token={token}")
    } else {
        format!("{base}/api/v5/realtime")
    };
    let mut req = url.into_client_request().expect("request");
    if !in_query {
        req.headers_mut().insert(
            "Authorization",
            format!("Token {token}").parse().expect("header"),
        );
    }
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    ws
}

async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return None,
            Ok(None) => return None,
            Ok(Some(Ok(Message::Text(t)))) => {
                return Some(serde_json::from_str(&t).expect("json frame"));
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("websocket error: {e}"),
        }
    }
}

async fn subscribe(ws: &mut Ws, channel: &str, since: Value) -> i64 {
    ws.send(Message::Text(
        json!({"action": "subscribe", "channel": channel, "since": since})
            .to_string()
            .into(),
    ))
    .await
    .expect("send");
    let ack = next_json(ws, Duration::from_secs(10)).await.expect("ack");
    assert_eq!(ack["action"], "subscribed", "{ack}");
    ack["seq"].as_i64().expect("seq")
}

/// Event frames until `stop` matches one (inclusive).
async fn events_until(ws: &mut Ws, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = vec![];
    loop {
        let v = next_json(ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("timed out; got {out:?}"));
        assert!(v.get("seq").is_some(), "not an event: {v}");
        let done = stop(&v);
        out.push(v);
        if done {
            return out;
        }
    }
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    tokio::task::spawn_blocking(f)
}

#[test]
fn a_scripted_chat_streams_exactly_and_resumes_after_a_reconnect() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = std::sync::Arc::new(Server::with_seed(&seed()));
    rt.block_on(async {
        let cat_channel = format!("/api/v5/users/{CAT}/*");
        let mut cat = connect(&s, CAT_T, false).await;
        let start = subscribe(&mut cat, &cat_channel, Value::Null).await;
        let mut bob = connect(&s, BOB_T, true).await;
        subscribe(&mut bob, &format!("/api/v5/users/{BOB}/*"), Value::Null).await;

        // Someone else's channel is refused on the socket (and the socket stays usable).
        cat.send(Message::Text(
            json!({"action": "subscribe", "channel": format!("/api/v5/users/{BOB}/*")})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        let refused = next_json(&mut cat, Duration::from_secs(10)).await.unwrap();
        assert_eq!(refused["action"], "error");
        assert_eq!(refused["code"], "permission_denied");

        // A visitor writes in the Sales room (routed to Cat's team): routed to and pending
        // for Cat only.
        let s2 = s.clone();
        let (vid, vt, chat) = blocking(move || s2.visitor_chat(ORG_A, ROOM_A2, Some("Hello?")))
            .await
            .unwrap();
        let pending = format!("/api/v5/users/{CAT}/pending_chats");
        let streamed = events_until(&mut cat, |v| v["channel"] == pending.as_str()).await;
        // Besides the chat on those two: its items below Cat's routed and pending chat, and
        // the visitor's chats in the room (Cat sees the room).
        let (items, got): (Vec<Value>, Vec<Value>) = streamed.iter().cloned().partition(|v| {
            let ch = v["channel"].as_str().unwrap();
            ch.contains(&format!("/routed_chats/{chat}/"))
                || ch.contains(&format!("/pending_chats/{chat}/"))
                || ch.ends_with(&format!("/rooms/{ROOM_A2}/visitors/{vid}/chats"))
        });
        assert!(!items.is_empty());
        let channels: Vec<&str> = got.iter().map(|v| v["channel"].as_str().unwrap()).collect();
        assert_eq!(
            channels,
            vec![
                format!("/api/v5/users/{CAT}/routed_chats"),
                format!("/api/v5/users/{CAT}/pending_chats")
            ]
        );
        for e in &got {
            assert_eq!(e["action"], "added");
            assert_eq!(e["resource_id"], chat.as_str());
            assert_eq!(e["resource"]["is_pending"], true);
        }
        // Bob, of the organization but not routed, sees the room: only the visitor's chats
        // there, nothing waiting or routed.
        while let Some(v) = next_json(&mut bob, Duration::from_millis(300)).await {
            assert!(
                v["channel"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/rooms/{ROOM_A2}/visitors/{vid}/chats")),
                "Bob sees only the room's visitor chats: {v}"
            );
        }

        // Cat joins: membership and chat added, pending removed.
        let (s2, c2) = (s.clone(), chat.clone());
        blocking(move || {
            s2.post(
                &format!("/api/v5/users/{CAT}/pending_chats/{c2}/memberships"),
                CAT_T,
                join_body(),
            )
            .expect(201);
        })
        .await
        .unwrap();
        let mut seen = streamed;
        let joined = events_until(&mut cat, |v| v["channel"] == pending.as_str()).await;
        let last = joined.last().unwrap();
        assert_eq!(last["action"], "removed");
        assert!(last.get("resource").is_none());
        let actions: Vec<(String, String)> = joined
            .iter()
            .map(|v| {
                (
                    v["channel"].as_str().unwrap().to_string(),
                    v["action"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            actions.contains(&(
                format!("/api/v5/users/{CAT}/chats/{chat}/memberships"),
                "added".into()
            )),
            "{actions:?}"
        );
        assert!(
            actions.contains(&(format!("/api/v5/users/{CAT}/chats"), "added".into())),
            "{actions:?}"
        );
        seen.extend(joined);
        let resume_from = seen.last().unwrap()["seq"].as_i64().unwrap();

        // Disconnect; meanwhile Cat replies, the visitor writes, Cat ends the chat.
        cat.close(None).await.ok();
        drop(cat);
        let (s2, c2) = (s.clone(), chat.clone());
        let (cat_msg, vis_msg) = blocking(move || {
            let m = s2.post(
                &format!("/api/v5/users/{CAT}/chats/{c2}/messages"),
                CAT_T,
                json!({"message": "Hi, Cat here."}),
            );
            let m = m.expect(200)["id"].as_str().unwrap().to_string();
            let v = s2.post(
                &format!("/api/v5/public/visitors/{vid}/chats/{c2}/messages"),
                &vt,
                json!({"type": "msg", "message": "Thanks"}),
            );
            let v = v.expect(201)["id"].as_str().unwrap().to_string();
            s2.patch(
                &format!("/api/v5/users/{CAT}/chats/{c2}"),
                CAT_T,
                json!({"is_ended": true}),
            )
            .expect(200);
            (m, v)
        })
        .await
        .unwrap();

        // Reconnect with `since`: everything after it, once, in order, ending with the end.
        let mut cat = connect(&s, CAT_T, true).await;
        subscribe(&mut cat, &cat_channel, json!(resume_from)).await;
        // The end is on Cat's chats, then on Cat's routed chats.
        let chats = format!("/api/v5/users/{CAT}/chats");
        let routed = format!("/api/v5/users/{CAT}/routed_chats");
        let after = events_until(&mut cat, |v| {
            v["channel"] == routed.as_str()
                && v["action"] == "changed"
                && v["resource"]["is_ended"] == true
        })
        .await;
        assert!(
            after.iter().any(|v| v["channel"] == chats.as_str()
                && v["action"] == "changed"
                && v["resource"]["is_ended"] == true),
            "{after:?}"
        );
        let msgs: Vec<&str> = after
            .iter()
            .filter(|v| {
                v["channel"] == format!("/api/v5/users/{CAT}/chats/{chat}/messages").as_str()
                    && v["action"] == "added"
            })
            .map(|v| v["resource_id"].as_str().unwrap())
            .collect();
        assert_eq!(msgs, vec![cat_msg.as_str(), vis_msg.as_str()]);
        seen.extend(after);
        assert!(
            next_json(&mut cat, Duration::from_millis(300))
                .await
                .is_none(),
            "nothing more"
        );

        // What the socket delivered is exactly the log (no gaps, no duplicates).
        let (s2, ch) = (s.clone(), cat_channel.clone());
        let log = blocking(move || {
            s2.post(
                "/api/v5/events",
                CAT_T,
                json!({"channels": [ch], "since": start}),
            )
            .expect(200)
            .clone()
        })
        .await
        .unwrap();
        let log_seqs: Vec<i64> = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        let ws_seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(ws_seqs, log_seqs);
        assert!(ws_seqs.windows(2).all(|w| w[0] < w[1]));

        // A malformed `since` is a field error on the socket.
        let mut again = connect(&s, CAT_T, false).await;
        again
            .send(Message::Text(
                json!({"action": "subscribe", "channel": cat_channel, "since": "x"})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        let bad = next_json(&mut again, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(bad["action"], "error");
        assert_eq!(bad["code"], "validation_error");
    });
    // No credentials: 401 before any upgrade.
    let r = s.raw(
        "GET",
        "/api/v5/realtime",
        &[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text);
}

#[test]
fn shutdown_closes_open_sockets_and_the_server_exits() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut s = Server::with_seed(&seed());
    let mut ws = rt.block_on(async {
        let mut ws = connect(&s, ANN_T, false).await;
        subscribe(&mut ws, &format!("/api/v5/users/{ANN}/*"), Value::Null).await;
        ws
    });
    let started = std::time::Instant::now();
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    rt.block_on(async {
        // The socket ends (a close frame "shutting down", or the connection closes).
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Close(f)))) => {
                    if let Some(f) = f {
                        assert_eq!(f.reason.as_str(), "shutting down");
                    }
                    break;
                }
                Ok(Some(Ok(_))) => continue,
                Ok(None) | Ok(Some(Err(_))) => break,
                Err(_) => panic!("the socket stayed open"),
            }
        }
    });
    assert!(!s.log().contains("still in use"), "{}", s.log());
}

#[test]
fn a_since_older_than_the_retention_is_a_resync() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = Server::with_seed_and(
        &seed(),
        &[
            "--event-retention-secs",
            "1",
            "--maintenance-every-ms",
            "50",
        ],
    );
    s.visitor_chat(ORG_A, ROOM_A2, Some("Old news"));
    let ch = format!("/api/v5/users/{CAT}/*");
    let poll = || {
        s.post(
            "/api/v5/events",
            CAT_T,
            json!({"channels": [ch], "since": 0}),
        )
        .expect(200)
        .clone()
    };
    // Maintenance (every 50 ms) deletes the chat's events once they are older than the
    // one-second retention: from then on the same poll answers a resync.
    let mut polled = Value::Null;
    wait_until("a resync", Duration::from_secs(30), || {
        polled = poll();
        polled["resync"] == true
    });
    assert_eq!(polled["resync"], true, "{polled}");
    rt.block_on(async {
        let mut ws = connect(&s, CAT_T, false).await;
        subscribe(&mut ws, &ch, json!(0)).await;
        let v = next_json(&mut ws, Duration::from_secs(10))
            .await
            .expect("resync frame");
        assert_eq!(v["action"], "resync", "{v}");
        assert_eq!(v["channel"], ch.as_str());
        let head = v["seq"].as_i64().unwrap();
        assert_eq!(head, polled["last_seq"].as_i64().unwrap());
        // And the stream goes on from there.
        let s2 = std::sync::Arc::new(s);
        let s3 = s2.clone();
        let (_, _, chat) = blocking(move || s3.visitor_chat(ORG_A, ROOM_A2, Some("New")))
            .await
            .unwrap();
        let got = events_until(&mut ws, |v| v["resource_id"] == chat.as_str()).await;
        assert!(
            got.iter().all(|v| v["seq"].as_i64().unwrap() > head),
            "{got:?}"
        );
    });
}

/// A WebSocket opened by hand over TCP, to send frames no client library would.
fn raw_socket(s: &Server, token: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut tcp = std::net::TcpStream::connect(&addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        tcp,
        "GET /api/v5/realtime HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Token {token}\r\n\r\n"
    )
    .expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("handshake answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// A masked client frame header: first byte (FIN, RSV, opcode), then the payload length,
/// then the mask; the payload itself is sent (masked with zeros) only when given.
fn client_frame(first: u8, len: u64, payload: Option<&[u8]>) -> Vec<u8> {
    let mut f = vec![first];
    if len < 126 {
        f.push(0x80 | len as u8);
    } else if len <= u16::MAX as u64 {
        f.push(0x80 | 126);
        f.extend((len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend(len.to_be_bytes());
    }
    f.extend([0, 0, 0, 0]);
    if let Some(p) = payload {
        f.extend(p);
    }
    f
}

/// Reads frames until a close frame; returns its code, and whether the server then closed
/// the connection.
fn close_code(tcp: &mut std::net::TcpStream) -> (u16, bool) {
    use std::io::Read;
    loop {
        let mut h = [0u8; 2];
        tcp.read_exact(&mut h).expect("a frame before the end");
        assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                tcp.read_exact(&mut b).expect("length");
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                tcp.read_exact(&mut b).expect("length");
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).expect("payload");
        if h[0] & 0x0f == 0x8 {
            assert!(payload.len() >= 2, "a close frame with a code");
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let mut rest = [0u8; 16];
            let closed = matches!(tcp.read(&mut rest), Ok(0));
            return (code, closed);
        }
    }
}

#[test]
fn a_client_close_is_answered_then_the_connection_closes() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = Server::with_seed(&seed());
    rt.block_on(async {
        let mut ws = connect(&s, ANN_T, false).await;
        subscribe(&mut ws, &format!("/api/v5/users/{ANN}/*"), Value::Null).await;
        ws.send(Message::Close(Some(
            tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: 1000.into(),
                reason: "bye".into(),
            },
        )))
        .await
        .expect("send close");
        let mut answered = None;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Close(f)))) => answered = Some(f),
                Ok(Some(Ok(_))) => continue,
                Ok(None) => break,
                Ok(Some(Err(e))) => panic!("no clean close: {e}"),
                Err(_) => panic!("the connection stayed open"),
            }
        }
        let frame = answered.expect("a close frame in answer").expect("a code");
        assert_eq!(u16::from(frame.code), 1000);
    });
    // The same over TCP: the close frame comes back, then the end of the stream.
    use std::io::Write;
    let mut tcp = raw_socket(&s, ANN_T);
    tcp.write_all(&client_frame(0x88, 2, Some(&1000u16.to_be_bytes())))
        .expect("close");
    assert_eq!(close_code(&mut tcp), (1000, true));
}

#[test]
fn oversized_and_malformed_frames_close_with_their_codes() {
    use std::io::Write;
    let s = Server::with_seed(&seed());
    // A text frame over the limit (its header is enough): 1009.
    let mut tcp = raw_socket(&s, ANN_T);
    tcp.write_all(&client_frame(0x81, 1 << 20, None))
        .expect("header");
    assert_eq!(close_code(&mut tcp), (1009, true));
    // Reserved bits set without an extension: 1002.
    let mut tcp = raw_socket(&s, ANN_T);
    tcp.write_all(&client_frame(0xC1, 2, Some(b"{}")))
        .expect("frame");
    assert_eq!(close_code(&mut tcp), (1002, true));
    // A reserved opcode: 1002.
    let mut tcp = raw_socket(&s, ANN_T);
    tcp.write_all(&client_frame(0x83, 2, Some(b"{}")))
        .expect("frame");
    assert_eq!(close_code(&mut tcp), (1002, true));
    // A message of normal size still works on a fresh socket.
    let mut tcp = raw_socket(&s, ANN_T);
    let cmd = json!({"action": "unsubscribe", "channel": "x"}).to_string();
    tcp.write_all(&client_frame(0x81, cmd.len() as u64, Some(cmd.as_bytes())))
        .expect("frame");
    use std::io::Read;
    let mut h = [0u8; 2];
    tcp.read_exact(&mut h).expect("an answer");
    assert_eq!(h[0], 0x81, "a text frame");
}

#[test]
fn an_organization_without_subscription_is_refused_before_the_upgrade() {
    let s = Server::with_seed(&seed());
    let upgrade = |token: &str| {
        s.raw(
            "GET",
            &format!("/api/v5/realtime?token={token}"),
            &[
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            None,
        )
    };
    let r = upgrade(CID_T);
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["code"], "no_active_subscription", "{}", r.text);
    // As REST answers the same user.
    s.get(&format!("/api/v5/users/{CID}/chats"), CID_T)
        .expect_error(403, "no_active_subscription");
    // A user of an organization with a subscription is let through (101).
    let r = upgrade(ANN_T);
    assert_eq!(r.status, 101, "{}", r.text);
}

/// From a browser of a widget origin (`--widget-origins`) the stream opens for visitors only:
/// an operator's or the administrator's token from there is 403 before the upgrade, while the
/// same tokens from the server's own origin, or without `Origin`, are let through.
#[test]
fn from_a_widget_origin_only_visitors_open_the_stream() {
    let shop = "http://shop.example:8443";
    let s = Server::with_seed_and(&seed(), &["--widget-origins", shop]);
    let (_, visitor_t, _) = s.visitor_chat(ORG_A, ROOM_A1, None);
    let upgrade = |token: &str, origin: Option<&str>| {
        let mut headers = vec![
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        s.try_raw_alone(
            "GET",
            &format!("/api/v5/realtime?token={token}"),
            &headers,
            None,
        )
        .expect("upgrade request")
    };
    for token in [ANN_T, ADMIN] {
        let r = upgrade(token, Some(shop));
        assert_eq!(r.status, 403, "{}", r.text);
        assert_error_body(&r.body);
        assert_eq!(r.body["code"], "origin_not_allowed", "{}", r.text);
    }
    let r = upgrade(&visitor_t, Some(shop));
    assert_eq!(r.status, 101, "{}", r.text);
    // The server's own origin (the desk's) and clients without Origin: the token decides.
    let own = s.base.clone();
    assert_eq!(upgrade(ANN_T, Some(&own)).status, 101);
    assert_eq!(upgrade(ANN_T, None).status, 101);
    // An origin that is not a widget origin is refused whoever asks.
    let r = upgrade(&visitor_t, Some("http://elsewhere.example"));
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["code"], "origin_not_allowed", "{}", r.text);
}
