//! Real-time delivery (contract section 8): the WebSocket stream at `GET /api/v5/realtime`
//! and the webhook deliverer. Events, their authorization and the webhook outbox live in the
//! core; this module only moves bytes: it asks the core for events after each subscription's
//! cursor when a commit wakes it, and POSTs due webhook deliveries, reporting each result back.
//!
//! Slow consumers: a session never buffers more than one page of events ([`PAGE`]); the
//! database is the buffer. A send that does not complete within [`SEND_TIMEOUT`] closes the
//! socket with code 1008 and the reason "slow consumer"; the client reconnects with `since`
//! and misses nothing.

use crate::engine_threads::Calls;
use crate::http::App;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use chat_core::{Actor, ChatError, CommitNotice, Engine};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Events fetched per subscription and wake-up.
pub const PAGE: usize = 500;
/// A frame not sent within this closes the session.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many subscriptions per session.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// The largest client message (and frame): a command is a short JSON object. A larger one
/// closes the session with code 1009.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// Close codes (RFC 6455 7.4.1).
const GOING_AWAY: u16 = 1001;
const PROTOCOL_ERROR: u16 = 1002;
const POLICY_VIOLATION: u16 = 1008;
const MESSAGE_TOO_BIG: u16 = 1009;
const INVALID_PAYLOAD: u16 = 1007;

/// Wakes sessions and the deliverer when events commit, from the engine's commit hook
/// ([`chat_core::EngineBuilder::on_commit`]): the sessions through a watch of the newest `seq`,
/// the deliverer only when the commit queued webhook deliveries (most commits queue none, and
/// an idle deliverer then costs nothing per request).
pub struct CommitSignals {
    /// Dropped by [`CommitSignals::close`]; the watch then closes, which ends every WebSocket
    /// session ("shutting down").
    head: parking_lot::Mutex<Option<watch::Sender<i64>>>,
    commits: watch::Receiver<i64>,
    deliveries: tokio::sync::Notify,
}

impl CommitSignals {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = watch::channel(0);
        Arc::new(CommitSignals {
            head: parking_lot::Mutex::new(Some(tx)),
            commits: rx,
            deliveries: tokio::sync::Notify::new(),
        })
    }
    /// The engine's commit hook.
    pub fn committed(&self, notice: &CommitNotice) {
        self.advance(notice.last_event_seq);
        if notice.webhook_deliveries > 0 {
            self.deliveries.notify_one();
        }
    }
    /// Moves the watched head forward (never back: hooks of concurrent writes may arrive out
    /// of order).
    pub fn advance(&self, seq: i64) {
        if let Some(tx) = self.head.lock().as_ref() {
            tx.send_if_modified(|h| {
                let newer = seq > *h;
                if newer {
                    *h = seq;
                }
                newer
            });
        }
    }
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.commits.clone()
    }
    pub fn close(&self) {
        self.head.lock().take();
    }
}

/// The upgrade: credentials from the Authorization header or `?token=`, checked before the
/// protocol switches (401 with the contract's body otherwise).
pub async fn upgrade(
    app: Arc<App>,
    ws: WebSocketUpgrade,
    token: Option<String>,
) -> axum::response::Response {
    let Some(token) = token else {
        return crate::http::chat_error(&ChatError::unauthenticated());
    };
    let engine = app.engine.clone();
    let admin = app.admin_token.clone();
    let actor = app
        .calls
        .run(move || crate::http::actor_of(&engine, admin, &token))
        .await;
    let actor = match actor {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return crate::http::chat_error(&e),
        Err(_) => return crate::http::chat_error(&ChatError::internal("authentication failed")),
    };
    // The subscription rule of every user operation (403 without an active subscription),
    // before the protocol switches.
    let engine = app.engine.clone();
    if let Err(e) = blocking(&app.calls, move || engine.may_stream(&actor)).await {
        return crate::http::chat_error(&e);
    }
    let engine = app.engine.clone();
    let calls = app.calls.clone();
    let commits = app.commits.clone();
    ws.max_message_size(MAX_MESSAGE_SIZE)
        .max_frame_size(MAX_MESSAGE_SIZE)
        .on_upgrade(move |socket| session(socket, engine, calls, actor, commits))
}

async fn send(socket: &mut WebSocket, v: &Value) -> Result<(), Ending> {
    match tokio::time::timeout(
        SEND_TIMEOUT,
        socket.send(Message::Text(v.to_string().into())),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ending::Gone),
        Err(_) => Err(Ending::Close(POLICY_VIOLATION, "slow consumer")),
    }
}

async fn blocking<T: Send + 'static>(
    calls: &Calls,
    f: impl FnOnce() -> chat_core::Result<T> + Send + 'static,
) -> chat_core::Result<T> {
    calls
        .run(f)
        .await
        .unwrap_or_else(|_| Err(ChatError::internal("an engine call panicked")))
}

fn error_frame(channel: &str, e: &ChatError) -> Value {
    let mut v = e.to_json();
    v["action"] = json!("error");
    v["channel"] = json!(channel);
    v
}

async fn session(
    mut socket: WebSocket,
    engine: Arc<Engine>,
    calls: Calls,
    actor: Actor,
    mut commits: watch::Receiver<i64>,
) {
    // channel -> cursor (the last seq seen on it)
    let mut subs: BTreeMap<String, i64> = BTreeMap::new();
    let outcome: Result<(), Ending> = async {
        loop {
            tokio::select! {
                msg = socket.recv() => {
                    let text = match msg {
                        None => return Err(Ending::Gone),
                        Some(Err(e)) => return Err(Ending::Failed(e)),
                        Some(Ok(Message::Close(_))) => return Err(Ending::ClosedByClient),
                        Some(Ok(Message::Text(t))) => t.to_string(),
                        Some(Ok(_)) => continue,
                    };
                    command(&mut socket, &engine, &calls, actor, &mut subs, &text).await?;
                    drain(&mut socket, &engine, &calls, actor, &mut subs).await?;
                }
                changed = commits.changed() => {
                    if changed.is_err() {
                        return Err(Ending::Close(GOING_AWAY, "shutting down"));
                    }
                    drain(&mut socket, &engine, &calls, actor, &mut subs).await?;
                }
            }
        }
    }
    .await;
    let reply = match outcome {
        Ok(()) | Err(Ending::Gone) => return,
        // The close handshake: tungstenite queued the echo of the client's close frame when it
        // read it, and the next read writes it out (then ends: nothing may follow a close).
        // Dropping the socket then closes TCP.
        Err(Ending::ClosedByClient) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), socket.recv()).await;
            return;
        }
        Err(Ending::Failed(e)) => match close_code_of(e) {
            Some(code) => close_frame(code, ""),
            None => return,
        },
        Err(Ending::Close(code, reason)) => close_frame(code, reason),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(reply)).await;
}

/// Why a session ends.
enum Ending {
    /// The connection is gone (nothing can be sent).
    Gone,
    /// The client sent a close frame: answer it.
    ClosedByClient,
    /// Reading failed: an oversized message or a malformed frame is answered with its close
    /// code, anything else ends the connection.
    Failed(axum::Error),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// The close code of a read failure: 1009 for a message or frame over the limit, 1002 for a
/// frame that breaks the protocol (reserved bits, unknown opcode, bad masking, ...); None when
/// the connection itself failed (1007 for a text message that is not UTF-8).
fn close_code_of(e: axum::Error) -> Option<u16> {
    use tungstenite::Error as WsError;
    match e.into_inner().downcast::<WsError>().map(|e| *e) {
        Ok(WsError::Capacity(_)) => Some(MESSAGE_TOO_BIG),
        Ok(WsError::Protocol(_)) => Some(PROTOCOL_ERROR),
        Ok(WsError::Utf8(_)) => Some(INVALID_PAYLOAD),
        _ => None,
    }
}

async fn command(
    socket: &mut WebSocket,
    engine: &Arc<Engine>,
    calls: &Calls,
    actor: Actor,
    subs: &mut BTreeMap<String, i64>,
    text: &str,
) -> Result<(), Ending> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let err = ChatError::parse(format!("Malformed JSON: {e}"));
            return send(socket, &error_frame("", &err)).await;
        }
    };
    let action = v.get("action").and_then(Value::as_str).unwrap_or("");
    let Some(channel) = v.get("channel").and_then(Value::as_str).map(str::to_string) else {
        return send(socket, &error_frame("", &ChatError::required("channel"))).await;
    };
    match action {
        "subscribe" => {
            if subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains_key(&channel) {
                let err = ChatError::field("channel", "Too many subscriptions.");
                return send(socket, &error_frame(&channel, &err)).await;
            }
            let since = match v.get("since") {
                None | Some(Value::Null) => None,
                Some(s) => match s.as_i64() {
                    Some(n) => Some(n),
                    None => {
                        let err = ChatError::field("since", "A seq (integer) or null.");
                        return send(socket, &error_frame(&channel, &err)).await;
                    }
                },
            };
            let e = engine.clone();
            let ch = vec![channel.clone()];
            // Authorizes, and gives the head for `since: null`.
            match blocking(calls, move || e.events_since(&actor, &ch, None, Some(1))).await {
                Ok(head) => {
                    let cursor = since.unwrap_or(head.last_seq);
                    subs.insert(channel.clone(), cursor);
                    send(
                        socket,
                        &json!({"action": "subscribed", "channel": channel, "seq": cursor}),
                    )
                    .await
                }
                Err(err) => send(socket, &error_frame(&channel, &err)).await,
            }
        }
        "unsubscribe" => {
            subs.remove(&channel);
            send(
                socket,
                &json!({"action": "unsubscribed", "channel": channel}),
            )
            .await
        }
        _ => {
            let err = ChatError::field("action", "Use \"subscribe\" or \"unsubscribe\".");
            send(socket, &error_frame(&channel, &err)).await
        }
    }
}

/// Sends every event after each subscription's cursor, a page at a time.
async fn drain(
    socket: &mut WebSocket,
    engine: &Arc<Engine>,
    calls: &Calls,
    actor: Actor,
    subs: &mut BTreeMap<String, i64>,
) -> Result<(), Ending> {
    let channels: Vec<String> = subs.keys().cloned().collect();
    for channel in channels {
        while let Some(&cursor) = subs.get(&channel) {
            let e = engine.clone();
            let ch = vec![channel.clone()];
            let page = match blocking(calls, move || {
                e.events_since(&actor, &ch, Some(cursor), Some(PAGE))
            })
            .await
            {
                Ok(p) => p,
                Err(err) => {
                    // The right to the channel is gone (e.g. permissions changed).
                    subs.remove(&channel);
                    send(socket, &error_frame(&channel, &err)).await?;
                    break;
                }
            };
            if page.resync {
                subs.insert(channel.clone(), page.last_seq);
                send(
                    socket,
                    &json!({"action": "resync", "channel": channel, "seq": page.last_seq}),
                )
                .await?;
                break;
            }
            let full = page.events.len() == PAGE;
            for ev in &page.events {
                let v = serde_json::to_value(ev).unwrap_or(Value::Null);
                send(socket, &v).await?;
            }
            subs.insert(channel.clone(), page.last_seq);
            if !full {
                break;
            }
        }
    }
    Ok(())
}

/// POSTs due webhook deliveries and reports each result to the core; woken by commits that
/// queued deliveries, and at least every 500 ms for retries.
pub async fn webhook_loop(engine: Arc<Engine>, signals: Arc<CommitSignals>, calls: Calls) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client");
            return;
        }
    };
    loop {
        let e = engine.clone();
        let due = match blocking(&calls, move || e.webhook_deliveries_due(100)).await {
            Ok(d) => d,
            Err(err) => {
                tracing::warn!(error = %err, "webhook outbox read failed");
                Vec::new()
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for d in due {
            let client = client.clone();
            let engine = engine.clone();
            let calls = calls.clone();
            tasks.spawn(async move {
                let (status, error) =
                    // The engine holds the allow-list (`--webhook-allow`); a webhook written
                    // before the list changed is skipped here.
                    if !engine.webhook_destination_allowed(&d.url) {
                        (
                            None,
                            Some("destination not allowed by the server".to_string()),
                        )
                    } else {
                        let mut req = client.post(&d.url).body(d.body.clone());
                        for (k, v) in &d.headers {
                            req = req.header(k.as_str(), v.as_str());
                        }
                        match req.send().await {
                            Ok(res) => (Some(res.status().as_u16()), None),
                            Err(e) => (None, Some(e.to_string())),
                        }
                    };
                let id = d.id;
                if let Err(err) = blocking(&calls, move || {
                    engine.record_webhook_delivery(id, status, error)
                })
                .await
                {
                    tracing::warn!(error = %err, "recording a webhook delivery failed");
                }
            });
        }
        let busy = !tasks.is_empty();
        while tasks.join_next().await.is_some() {}
        if busy {
            continue;
        }
        tokio::select! {
            _ = signals.deliveries.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
