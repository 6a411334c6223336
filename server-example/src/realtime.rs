//! Real-time delivery (contract section 8): the WebSocket stream at `GET /api/v5/realtime`
//! and the webhook deliverer. Events, their authorization and the webhook outbox live in the
//! core; this module only moves bytes: it reads each batch of commits once and wakes only the
//! sessions a change may concern ([`Fanout`]), which ask the core for the events after their
//! subscriptions' cursors; and it POSTs due webhook deliveries, reporting each result back.
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
/// protocol switches (401 with the contract's body otherwise). From a browser of a foreign
/// origin (`foreign_origin`: a widget origin, `--widget-origins`) only a visitor's token is
/// accepted; any other is 403 `origin_not_allowed`.
pub async fn upgrade(
    app: Arc<App>,
    ws: WebSocketUpgrade,
    token: Option<String>,
    foreign_origin: bool,
) -> axum::response::Response {
    let Some(token) = token else {
        return crate::http::chat_error(&ChatError::unauthenticated());
    };
    let engine = app.engine.clone();
    let admin = app.admin_token.clone();
    let presented = token.clone();
    let actor = app
        .calls
        .run(move || crate::http::actor_of(&engine, admin, &presented))
        .await;
    let actor = match actor {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return crate::http::chat_error(&e),
        Err(_) => return crate::http::chat_error(&ChatError::internal("authentication failed")),
    };
    if foreign_origin && !actor.is_visitor() {
        return crate::http::error(
            axum::http::StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "Only visitors may open the event stream from this origin.",
        );
    }
    // The subscription rule of every user operation (403 without an active subscription),
    // before the protocol switches.
    let engine = app.engine.clone();
    if let Err(e) = blocking(&app.calls, move || engine.may_stream(&actor)).await {
        return crate::http::chat_error(&e);
    }
    // Counted once authenticated, so that made-up tokens take no slot.
    let slot = match app.limits.open_socket(&token) {
        Ok(slot) => slot,
        Err(refused) => return axum::response::IntoResponse::into_response(refused),
    };
    let engine = app.engine.clone();
    let calls = app.calls.clone();
    let fanout = app.fanout.clone();
    ws.max_message_size(MAX_MESSAGE_SIZE)
        .max_frame_size(MAX_MESSAGE_SIZE)
        .on_upgrade(move |socket| async move {
            session(socket, engine, calls, actor, fanout).await;
            drop(slot);
        })
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
    fanout: Arc<Fanout>,
) {
    let (id, shared) = fanout.register();
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
                    command(&mut socket, &engine, &calls, actor, &shared, &fanout, &text).await?;
                    drain(&mut socket, &engine, &calls, actor, &shared, &fanout).await?;
                }
                _ = shared.wake.notified() => {
                    if fanout.is_closed() {
                        return Err(Ending::Close(GOING_AWAY, "shutting down"));
                    }
                    drain(&mut socket, &engine, &calls, actor, &shared, &fanout).await?;
                }
            }
        }
    }
    .await;
    fanout.unregister(id);
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
    shared: &SessionSubs,
    fanout: &Fanout,
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
            let full = {
                let subs = shared.subs.lock();
                subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains_key(&channel)
            };
            if full {
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
            // Authorizes, gives what the channel can be concerned by, and the head for
            // `since: null`.
            fanout.count_read();
            let started = blocking(calls, move || {
                let interest = e.interest(&actor, &ch)?;
                let head = e.events_since(&actor, &ch, None, Some(1))?;
                Ok((interest, head.last_seq))
            })
            .await;
            match started {
                Ok((interest, head)) => {
                    let cursor = since.unwrap_or(head);
                    shared
                        .subs
                        .lock()
                        .insert(channel.clone(), Sub { cursor, interest });
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
            shared.subs.lock().remove(&channel);
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
    shared: &SessionSubs,
    fanout: &Fanout,
) -> Result<(), Ending> {
    let channels: Vec<String> = shared.subs.lock().keys().cloned().collect();
    for channel in channels {
        loop {
            let Some(cursor) = shared.subs.lock().get(&channel).map(|s| s.cursor) else {
                break;
            };
            let e = engine.clone();
            let ch = vec![channel.clone()];
            fanout.count_read();
            let page = match blocking(calls, move || {
                e.events_since(&actor, &ch, Some(cursor), Some(PAGE))
            })
            .await
            {
                Ok(p) => p,
                Err(err) => {
                    // The right to the channel is gone (e.g. permissions changed).
                    shared.subs.lock().remove(&channel);
                    send(socket, &error_frame(&channel, &err)).await?;
                    break;
                }
            };
            let advance = |seq: i64| {
                if let Some(sub) = shared.subs.lock().get_mut(&channel) {
                    sub.cursor = seq;
                }
            };
            if page.resync {
                advance(page.last_seq);
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
            advance(page.last_seq);
            if !full {
                break;
            }
        }
    }
    Ok(())
}

/// One subscription of a session: its cursor (every event it may see up to this `seq` has
/// been sent) and what it can be concerned by.
struct Sub {
    cursor: i64,
    interest: chat_core::events::Interest,
}

/// A session's subscriptions, shared with the [`Fanout`] that wakes it.
pub struct SessionSubs {
    subs: parking_lot::Mutex<BTreeMap<String, Sub>>,
    wake: tokio::sync::Notify,
}

/// The commits' fan-out to WebSocket sessions: each batch of commits is read once as
/// [`chat_core::events::ChangeHead`]s, and only the sessions with a subscription a change may
/// concern are woken to read their events (through `events_since`, which authorizes and
/// resolves room readers as every read does). The cursors of the other subscriptions move
/// past the batch without a read, so an idle subscriber costs a commit no query (and never
/// falls behind the retention window).
pub struct Fanout {
    sessions: parking_lot::Mutex<BTreeMap<u64, Arc<SessionSubs>>>,
    next_id: std::sync::atomic::AtomicU64,
    closed: std::sync::atomic::AtomicBool,
    /// Event reads made for sessions: shared batches, subscriptions and drains.
    reads: std::sync::atomic::AtomicU64,
}

/// Changes read per shared batch.
const BATCH: usize = 1000;
/// The pause after routing a batch, during which further commits gather into the next one
/// (the latency it adds to an event).
const COALESCE: Duration = Duration::from_millis(2);

impl Fanout {
    pub fn new() -> Arc<Self> {
        Arc::new(Fanout {
            sessions: parking_lot::Mutex::new(BTreeMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            reads: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Event reads made for sessions so far.
    #[cfg(test)]
    pub fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_read(&self) {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn register(&self) -> (u64, Arc<SessionSubs>) {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let shared = Arc::new(SessionSubs {
            subs: parking_lot::Mutex::new(BTreeMap::new()),
            wake: tokio::sync::Notify::new(),
        });
        self.sessions.lock().insert(id, shared.clone());
        if self.is_closed() {
            shared.wake.notify_one();
        }
        (id, shared)
    }

    fn unregister(&self, id: u64) {
        self.sessions.lock().remove(&id);
    }

    /// Ends every session ("shutting down").
    fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.sessions.lock().values() {
            s.wake.notify_one();
        }
    }

    /// Routes one batch read after `from`: wakes the sessions it may concern, moves the
    /// other subscriptions' cursors past it.
    fn route(&self, from: i64, batch: &chat_core::events::ChangeHeads) {
        let sessions: Vec<Arc<SessionSubs>> = self.sessions.lock().values().cloned().collect();
        // Arranged once: each subscription then matches only its own owners' channels.
        let concerned_by = chat_core::events::Concerned::of(&batch.heads);
        for session in sessions {
            let mut wake = false;
            for sub in session.subs.lock().values_mut() {
                // A subscription behind the batch (resuming from `since`) reads for itself;
                // one that began inside the batch may be woken for a change before its
                // cursor, and then reads nothing.
                let concerned = batch.resync
                    || sub.cursor < from
                    || (sub.cursor < batch.last_seq && sub.interest.may_concern(&concerned_by));
                if concerned {
                    wake = true;
                } else if sub.cursor < batch.last_seq {
                    sub.cursor = batch.last_seq;
                }
            }
            if wake {
                session.wake.notify_one();
            }
        }
    }

    /// Follows the commits (the head `seq` watched by [`CommitSignals`]) until they close,
    /// then ends every session.
    pub async fn run(
        self: Arc<Self>,
        engine: Arc<Engine>,
        calls: Calls,
        mut commits: watch::Receiver<i64>,
    ) {
        let mut routed = engine.last_event_seq();
        loop {
            let head = *commits.borrow_and_update();
            if self.sessions.lock().is_empty() {
                // Nobody to route to: a session that starts later reads from the head it
                // subscribes at, after these commits.
                routed = routed.max(head);
            }
            while routed < head {
                let e = engine.clone();
                let from = routed;
                self.count_read();
                match blocking(&calls, move || e.change_heads_after(from, BATCH)).await {
                    Ok(batch) => {
                        self.route(from, &batch);
                        routed = batch.last_seq.max(from);
                        if batch.last_seq <= from {
                            break;
                        }
                    }
                    Err(err) => {
                        // Every session reads for itself this time.
                        tracing::warn!(error = %err, "reading committed changes failed");
                        let all = chat_core::events::ChangeHeads {
                            heads: Vec::new(),
                            last_seq: from,
                            resync: true,
                        };
                        self.route(from, &all);
                        break;
                    }
                }
            }
            if routed >= head && head > 0 {
                // Commits that land meanwhile are routed as one batch: routing costs a pass
                // over the sessions whatever the batch's size.
                tokio::time::sleep(COALESCE).await;
            }
            if commits.changed().await.is_err() {
                break;
            }
        }
        self.close();
    }
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
