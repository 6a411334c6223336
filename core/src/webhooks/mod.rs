//! Webhooks: an organization registers a URL, channel patterns (`*`, and `{user_id}` which
//! stands for the webhook's user, or any user when it has none), actions and a secret. Each
//! matching event is queued in the outbox (`webhook_deliveries`) in the event's own
//! transaction, so deliveries survive restarts. A host (the example server) asks for
//! [`due`] deliveries, POSTs them with the signature headers and reports each result with
//! [`record_result`]: any 2xx acknowledges; anything else is retried with exponential backoff
//! (1 s, 2 s, 4 s ... capped at 10 min), strictly in order per webhook (a webhook's next
//! delivery waits until the one before it is acknowledged).
//!
//! Signature: `X-Chat-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the
//! webhook's secret, `X-Chat-Timestamp: <unix seconds>`.

pub(crate) mod operations;
pub(crate) mod records;

pub use records::{DeliveryRecord, WebhookRecord};

use crate::Env;
use crate::auth::{Actor, manage_org, token_hash};
use crate::clock::Millis;
use crate::error::{ChatError, Result};
use crate::events::{Event, PREFIX, pattern_matches};
use crate::ids::random_bytes;
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;
use crate::time::{format_ms, format_opt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub const ACTIONS: &[&str] = &["added", "changed", "removed"];
/// Backoff after the n-th failure: 1 s doubling, at most this.
pub const MAX_BACKOFF_MS: Millis = 10 * 60 * 1000;

/// The webhook resource (the secret is never shown again).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub channels: Vec<String>,
    pub actions: Vec<String>,
    pub user_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Webhook {
    pub fn from_record(r: &WebhookRecord) -> Self {
        Self {
            id: r.id.to_string(),
            organization_id: r.organization_id.to_string(),
            url: r.url.clone(),
            channels: r.channels.clone(),
            actions: r.actions.clone(),
            user_id: r.user_id.map(|u| u.to_string()),
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

/// A delivery of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: String,
    pub event_seq: i64,
    pub event: Value,
    pub attempts: i64,
    pub is_delivered: bool,
    pub delivered_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
}

impl Delivery {
    fn from_record(d: &DeliveryRecord) -> Self {
        Self {
            id: d.id,
            webhook_id: d.webhook_id.to_string(),
            event_seq: d.event_seq,
            event: serde_json::from_str(&d.body).unwrap_or(Value::Null),
            attempts: d.attempts,
            is_delivered: d.delivered_at.is_some(),
            delivered_at: format_opt(d.delivered_at),
            next_attempt_at: if d.delivered_at.is_some() {
                None
            } else {
                Some(format_ms(d.next_attempt_at))
            },
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: format_ms(d.created_at),
        }
    }
}

/// POST / PUT / PATCH payload.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub channels: Option<Vec<String>>,
    pub actions: Option<Vec<String>>,
    pub secret: Option<String>,
    pub user_id: Option<Uuid>,
}

/// Whether a webhook destination is allowed by an operator's allow-list (empty: any). An
/// entry is a URL prefix compared by parts, not as text: same scheme, host and port, and the
/// destination's path starts with the entry's path at a segment boundary, so
/// `https://hooks.example.com` does not allow `https://hooks.example.com.evil.net/` nor
/// `https://hooks.example.com:8443/`.
pub fn destination_allowed(destination: &str, allow: &[String]) -> bool {
    if allow.is_empty() {
        return true;
    }
    let Ok(dest) = url::Url::parse(destination) else {
        return false;
    };
    allow.iter().any(|entry| {
        let Ok(prefix) = url::Url::parse(entry) else {
            return false;
        };
        let path = prefix.path().trim_end_matches('/');
        dest.scheme() == prefix.scheme()
            && dest.host() == prefix.host()
            && dest.port_or_known_default() == prefix.port_or_known_default()
            && dest
                .path()
                .strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// A delivery ready to POST: the host sends `body` to `url` with `headers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook_id: String,
    pub url: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub attempts: i64,
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    type HmacSha256 = Hmac<sha2::Sha256>;
    // HMAC takes keys of any length.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Validates a webhook's attributes; `allow` is the host's destination allow-list (empty: any
/// http(s) URL), so a webhook that would never be delivered is refused when it is written.
fn check(
    s: &dyn Store,
    org: Uuid,
    input: &WebhookInput,
    full: bool,
    allow: &[String],
) -> Result<()> {
    let mut v = crate::error::Validator::new();
    match &input.url {
        Some(u) => match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {
                if !destination_allowed(u, allow) {
                    v.add(
                        "url",
                        "This destination is not among the webhook destinations this server allows.",
                    );
                }
            }
            _ => v.add("url", "Enter a valid http(s) URL."),
        },
        None if full => v.add("url", "This field is required."),
        None => {}
    }
    match &input.channels {
        Some(c) if c.is_empty() || c.len() > crate::events::MAX_CHANNELS => {
            v.add("channels", "Give 1 to 100 channel patterns.")
        }
        Some(c) => {
            for p in c {
                if !p.starts_with(PREFIX) || p.contains(['?', '[', ']']) || p.len() > 500 {
                    v.add("channels", format!("\"{p}\" is not a channel pattern."));
                } else if !crate::events::matches_some_channel(p) {
                    v.add("channels", crate::events::no_channel(p));
                }
            }
        }
        None if full => v.add("channels", "This field is required."),
        None => {}
    }
    if let Some(a) = &input.actions
        && (a.is_empty() || a.iter().any(|x| !ACTIONS.contains(&x.as_str())))
    {
        v.add(
            "actions",
            "Actions are \"added\", \"changed\" and \"removed\".",
        );
    }
    match &input.secret {
        Some(sec) if sec.is_empty() || sec.len() > 500 => {
            v.add("secret", "A secret is 1 to 500 characters.")
        }
        Some(_) => {}
        None if full => v.add("secret", "This field is required."),
        None => {}
    }
    if let Some(u) = input.user_id {
        match s.user(u)? {
            Some(user) if user.organization_id == org && !user.is_deleted => {}
            _ => v.add("user_id", "No such user in this organization."),
        }
    }
    v.finish()
}

fn webhook_of(s: &dyn Store, org: Uuid, id: Uuid) -> Result<WebhookRecord> {
    s.webhook(id)?
        .filter(|w| w.organization_id == org)
        .ok_or_else(|| ChatError::not_found("Webhook"))
}

pub fn create(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org: Uuid,
    input: WebhookInput,
    allow: &[String],
) -> Result<Webhook> {
    manage_org(s, actor, org)?;
    check(s, org, &input, true, allow)?;
    let mut app_token = None;
    let mut app_token_id = None;
    if let Some(u) = input.user_id
        && s.user(u)?.is_some_and(|u| u.is_bot)
    {
        let token = format!("ct_{}", hex::encode(random_bytes::<20>()));
        let tid = env.ids.new_id();
        s.insert_token(tid, u, &token_hash(&token), env.now)?;
        app_token = Some(token);
        app_token_id = Some(tid);
    }
    let r = WebhookRecord {
        id: env.ids.new_id(),
        organization_id: org,
        url: input.url.unwrap_or_default(),
        channels: input.channels.unwrap_or_default(),
        actions: input
            .actions
            .unwrap_or_else(|| ACTIONS.iter().map(|a| a.to_string()).collect()),
        secret: input.secret.unwrap_or_default(),
        user_id: input.user_id,
        app_token,
        created_at: env.now,
        updated_at: env.now,
    };
    s.insert_webhook(&r, app_token_id)?;
    Ok(Webhook::from_record(&r))
}

pub fn list(s: &dyn Store, actor: &Actor, org: Uuid) -> Result<Page<Webhook>> {
    manage_org(s, actor, org)?;
    Ok(Page {
        next: None,
        previous: None,
        results: s
            .webhooks_of_org(org)?
            .iter()
            .map(Webhook::from_record)
            .collect(),
    })
}

pub fn get(s: &dyn Store, actor: &Actor, org: Uuid, id: Uuid) -> Result<Webhook> {
    manage_org(s, actor, org)?;
    Ok(Webhook::from_record(&webhook_of(s, org, id)?))
}

/// PATCH: the given attributes change (`user_id` cannot change).
pub fn update(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org: Uuid,
    id: Uuid,
    input: WebhookInput,
    allow: &[String],
) -> Result<Webhook> {
    manage_org(s, actor, org)?;
    let mut r = webhook_of(s, org, id)?;
    if input.user_id.is_some_and(|u| Some(u) != r.user_id) {
        return Err(ChatError::field(
            "user_id",
            "The user of a webhook cannot change.",
        ));
    }
    check(s, org, &input, false, allow)?;
    if let Some(u) = input.url {
        r.url = u;
    }
    if let Some(c) = input.channels {
        r.channels = c;
    }
    if let Some(a) = input.actions {
        r.actions = a;
    }
    if let Some(sec) = input.secret {
        r.secret = sec;
    }
    r.updated_at = env.now;
    s.update_webhook(&r)?;
    Ok(Webhook::from_record(&r))
}

/// Deletes the webhook, its pending deliveries and history, and revokes its app token.
pub fn delete(s: &dyn Store, actor: &Actor, org: Uuid, id: Uuid) -> Result<()> {
    manage_org(s, actor, org)?;
    let r = webhook_of(s, org, id)?;
    if let (Some(tid), Some(user)) = (s.delete_webhook(id)?, r.user_id) {
        s.delete_token(user, tid)?;
    }
    Ok(())
}

/// The delivery history of a webhook, newest first, in cursor pages.
pub fn deliveries(
    s: &dyn Store,
    actor: &Actor,
    org: Uuid,
    id: Uuid,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    manage_org(s, actor, org)?;
    webhook_of(s, org, id)?;
    let p = paginate(
        page,
        ORDER_DELIVERIES_NEWEST_FIRST,
        true,
        |k| s.deliveries_of_webhook(id, k),
        |d| SortKey::new(d.id, vec![]),
    )?;
    Ok(p.map(|d| Delivery::from_record(&d)))
}

const ORDER_DELIVERIES_NEWEST_FIRST: u8 = 1;

/// Whether a webhook wants an event.
fn wants(w: &WebhookRecord, ev: &Event) -> bool {
    if !w.actions.iter().any(|a| a == &ev.action) {
        return false;
    }
    let user = w
        .user_id
        .map(|u| u.to_string())
        .unwrap_or_else(|| "*".to_string());
    w.channels
        .iter()
        .any(|p| pattern_matches(&p.replace("{user_id}", &user), &ev.channel))
}

/// Queues the event for each webhook (of the event's organization) that wants it; returns how
/// many deliveries it queued.
pub(crate) fn enqueue(
    s: &dyn Store,
    env: &Env,
    hooks: &[WebhookRecord],
    ev: &Event,
) -> Result<usize> {
    let mut body = None;
    let mut queued = 0;
    for w in hooks.iter().filter(|w| wants(w, ev)) {
        let b = match &body {
            Some(b) => b,
            None => body.insert(serde_json::to_string(ev)?),
        };
        s.insert_delivery(w.id, ev.seq, b, env.now)?;
        queued += 1;
    }
    Ok(queued)
}

/// Deliveries to attempt now (at most one per webhook: its oldest unacknowledged one), with
/// their final body (the event, plus `app_user_auth` for a bot user's webhook) and headers.
pub fn due(s: &dyn Store, env: &Env, limit: usize) -> Result<Vec<DueDelivery>> {
    let mut out = Vec::new();
    let ts = env.now.div_euclid(1000);
    for d in s.deliveries_due(env.now, limit)? {
        let Some(w) = s.webhook(d.webhook_id)? else {
            continue;
        };
        let body = match (&w.app_token, w.user_id) {
            (Some(token), Some(user)) => {
                let mut v: Value = serde_json::from_str(&d.body)?;
                if let Value::Object(m) = &mut v {
                    m.insert(
                        "app_user_auth".into(),
                        serde_json::json!({
                            "access_token": token,
                            "token_type": "Token",
                            "expires_in": Value::Null,
                            "user_id": user.to_string(),
                            "organization_id": w.organization_id.to_string(),
                        }),
                    );
                }
                serde_json::to_string(&v)?
            }
            _ => d.body.clone(),
        };
        let sig = signature(&w.secret, ts, &body);
        out.push(DueDelivery {
            id: d.id,
            webhook_id: w.id.to_string(),
            url: w.url.clone(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Chat-Timestamp".into(), ts.to_string()),
                ("X-Chat-Signature".into(), sig),
            ],
            body,
            attempts: d.attempts,
        });
    }
    Ok(out)
}

/// When the next delivery is due (None: the outbox is empty).
pub fn next_due_at(s: &dyn Store) -> Result<Option<Millis>> {
    s.next_delivery_due_at()
}

/// Records an attempt: `status` is the HTTP status (None: no response, `error` says why).
pub fn record_result(
    s: &dyn Store,
    env: &Env,
    id: i64,
    status: Option<u16>,
    error: Option<String>,
) -> Result<()> {
    let Some(mut d) = s.delivery(id)? else {
        return Ok(());
    };
    if d.delivered_at.is_some() {
        return Ok(());
    }
    d.attempts += 1;
    d.last_status = status.map(i64::from);
    d.last_error = error;
    if status.is_some_and(|c| (200..300).contains(&c)) {
        d.delivered_at = Some(env.now);
    } else {
        let exp = (d.attempts - 1).clamp(0, 20) as u32;
        d.next_attempt_at = env.now + (1000i64 << exp).min(MAX_BACKOFF_MS);
    }
    s.update_delivery(&d)
}

#[cfg(test)]
mod destination_tests {
    use super::destination_allowed;

    #[test]
    fn allow_entries_match_by_origin_and_path_segments() {
        let allow = vec!["https://hooks.example.com/in".to_string()];
        assert!(destination_allowed("https://hooks.example.com/in", &allow));
        assert!(destination_allowed(
            "https://hooks.example.com/in/a?x=1",
            &allow
        ));
        assert!(destination_allowed(
            "https://hooks.example.com:443/in/a",
            &allow
        ));
        for no in [
            "https://hooks.example.com.evil.net/in",
            "https://hooks.example.com/inbox",
            "https://hooks.example.com:8443/in",
            "http://hooks.example.com/in",
            "not a url",
        ] {
            assert!(!destination_allowed(no, &allow), "{no}");
        }
        let host = vec!["http://127.0.0.1:9000".to_string()];
        assert!(destination_allowed("http://127.0.0.1:9000/hook", &host));
        assert!(!destination_allowed("http://127.0.0.1:9001/hook", &host));
        assert!(destination_allowed("http://anything/", &[]));
    }
}
