//! Webhooks: an organization registers a URL, channel patterns (`*`, and `{user_id}` which
//! stands for the webhook's user, or any user when it has none), actions and a secret. Each
//! matching event is queued in the outbox (`webhook_deliveries`) in the event's own
//! transaction, so deliveries survive restarts. A host (the example server) asks for
//! due deliveries ([`crate::Engine::webhook_deliveries_due`]), POSTs them with the signature headers and reports each result with
//! [`record_result`]: any 2xx acknowledges; anything else is retried with exponential backoff
//! ([`FIRST_RETRY_MS`] doubling, at most [`MAX_BACKOFF_MS`]), in order per webhook (a
//! webhook's next delivery waits while the one before it is being retried).
//!
//! Retries are bounded ([`DeliveryLimits`]): a delivery that has failed for
//! [`GIVE_UP_AFTER_MS`] and [`GIVE_UP_AFTER_ATTEMPTS`] attempts (whichever comes later) is
//! marked failed and the webhook's next delivery goes on, so one event the receiver never
//! accepts does not hold back the rest. [`retry`] sends a failed delivery once more.
//!
//! An attempt handed to a host is claimed for [`ATTEMPT_LEASE_MS`]: its next attempt is set
//! that far ahead in the transaction that hands it out, so that no other caller — another
//! server on the same PostgreSQL database, or the same one polling again — attempts it
//! meanwhile. The host's [`record_result`] then sets the real next attempt; a host that never
//! reports (it stopped) leaves the delivery to be attempted again once the lease ends.
//!
//! A webhook owned by a bot user carries `app_user_auth` with a token minted for the attempt:
//! it acts as that user for [`DeliveryLimits::token_lifetime_ms`] (an hour at most), is stored
//! only as its hash, and is put into the body only when the attempt is built, so the outbox
//! never holds it.
//!
//! Signature: `X-Chat-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the
//! webhook's secret, `X-Chat-Timestamp: <unix seconds>`.

pub(crate) mod operations;
pub(crate) mod records;

pub use records::{DeliveryRecord, WebhookRecord};

use crate::Env;
use crate::auth::{Actor, manage_org, token_hash};
use crate::clock::Millis;
use crate::error::{ChatError, ErrorCode, Result};
use crate::events::{Event, PREFIX, pattern_matches};
use crate::ids::random_bytes;
use crate::pagination::{Page, PageRequest, SortKey, paginate};
use crate::store::Store;
use crate::time::{format_ms, format_opt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub const ACTIONS: &[&str] = &["added", "changed", "removed"];
/// The wait before the first retry; each later wait doubles it. Short, so that a receiver
/// that missed one request (a restart, a deploy) gets the event again within seconds.
pub const FIRST_RETRY_MS: Millis = 1000;
/// The longest wait between two attempts: a receiver that is down for hours is still tried
/// every ten minutes, and is caught up soon after it comes back.
pub const MAX_BACKOFF_MS: Millis = 10 * 60 * 1000;
/// A failing delivery is given up only after this many attempts...
pub const GIVE_UP_AFTER_ATTEMPTS: i64 = 20;
/// ...and only once it has been failing for this long (24 hours: a receiver down over a night
/// or a weekend day loses nothing), whichever comes later.
pub const GIVE_UP_AFTER_MS: Millis = 24 * 3600 * 1000;
/// How long the token of `app_user_auth` acts as the webhook's bot user (one hour, the most a
/// host may set).
pub const APP_TOKEN_LIFETIME_MS: Millis = 3600 * 1000;

/// How long an attempt handed to a host is its alone (longer than any host's request
/// timeout; the example server's is 10 s).
pub const ATTEMPT_LEASE_MS: Millis = 60 * 1000;

/// When retries end and how long minted app tokens last. The defaults are the contract's
/// ([`GIVE_UP_AFTER_ATTEMPTS`], [`GIVE_UP_AFTER_MS`], [`APP_TOKEN_LIFETIME_MS`]); a host may
/// shorten them (tests, a receiver that must not see stale events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLimits {
    /// Attempts made before a delivery may be marked failed.
    pub attempts: i64,
    /// How long a delivery must have been failing (since its first failed attempt) before
    /// it may be marked failed.
    pub failing_for_ms: Millis,
    /// The lifetime of a minted app token, 1 ms to [`APP_TOKEN_LIFETIME_MS`].
    pub token_lifetime_ms: Millis,
}

impl Default for DeliveryLimits {
    fn default() -> Self {
        Self {
            attempts: GIVE_UP_AFTER_ATTEMPTS,
            failing_for_ms: GIVE_UP_AFTER_MS,
            token_lifetime_ms: APP_TOKEN_LIFETIME_MS,
        }
    }
}

impl DeliveryLimits {
    /// The token lifetime a host gave, kept within 1 ms and [`APP_TOKEN_LIFETIME_MS`].
    fn token_lifetime(&self) -> Millis {
        self.token_lifetime_ms.clamp(1, APP_TOKEN_LIFETIME_MS)
    }
}

/// The wait after the n-th failed attempt (n ≥ 1): [`FIRST_RETRY_MS`] doubling, at most
/// [`MAX_BACKOFF_MS`].
pub fn backoff_ms(failed_attempts: i64) -> Millis {
    let doublings = (failed_attempts - 1).clamp(0, 20) as u32;
    (FIRST_RETRY_MS << doublings).min(MAX_BACKOFF_MS)
}

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
    /// `"pending"` (waiting or being retried), `"delivered"` or `"failed"` (retries ended;
    /// see [`retry`]).
    pub state: &'static str,
    pub is_delivered: bool,
    pub delivered_at: Option<String>,
    pub failed_at: Option<String>,
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
            state: if d.delivered_at.is_some() {
                "delivered"
            } else if d.failed_at.is_some() {
                "failed"
            } else {
                "pending"
            },
            is_delivered: d.delivered_at.is_some(),
            delivered_at: format_opt(d.delivered_at),
            failed_at: format_opt(d.failed_at),
            next_attempt_at: if d.delivered_at.is_some() || d.failed_at.is_some() {
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
        created_at: env.now,
        updated_at: env.now,
    };
    s.insert_webhook(&r)?;
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

/// Deletes the webhook, its pending deliveries and history, and revokes the app tokens
/// minted for its deliveries.
pub fn delete(s: &dyn Store, actor: &Actor, org: Uuid, id: Uuid) -> Result<()> {
    manage_org(s, actor, org)?;
    webhook_of(s, org, id)?;
    s.delete_webhook(id)
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

/// A delivery whose attempt is due, with its webhook and the bot user `app_user_auth` acts as
/// (None: the webhook has no user, or its user is not a bot).
#[derive(Debug, Clone)]
pub(crate) struct DueRecord {
    delivery: DeliveryRecord,
    webhook: WebhookRecord,
    bot: Option<Uuid>,
}

/// Deliveries to attempt now: at most one per webhook, its oldest one still being retried.
pub(crate) fn due_records(s: &dyn Store, env: &Env, limit: usize) -> Result<Vec<DueRecord>> {
    let mut out = Vec::new();
    for d in s.deliveries_due(env.now, limit)? {
        let Some(w) = s.webhook(d.webhook_id)? else {
            continue;
        };
        let bot = match w.user_id {
            Some(u) => s
                .user(u)?
                .filter(|u| u.is_bot && !u.is_deleted)
                .map(|u| u.id),
            None => None,
        };
        out.push(DueRecord {
            delivery: d,
            webhook: w,
            bot,
        });
    }
    Ok(out)
}

/// Claims the attempts for [`ATTEMPT_LEASE_MS`] (see the module's documentation).
pub(crate) fn claim(s: &dyn Store, env: &Env, due: &mut [DueRecord]) -> Result<()> {
    for r in due {
        r.delivery.next_attempt_at = env.now + ATTEMPT_LEASE_MS;
        s.update_delivery(&r.delivery)?;
    }
    Ok(())
}

/// Builds each attempt: its final body (the event, plus `app_user_auth` with a token minted
/// now for a bot user's webhook) and signed headers. Minting writes the token's hash: the
/// caller's transaction is a write.
pub(crate) fn attempts(
    s: &dyn Store,
    env: &Env,
    limits: &DeliveryLimits,
    due: Vec<DueRecord>,
) -> Result<Vec<DueDelivery>> {
    let ts = env.now.div_euclid(1000);
    let mut out = Vec::with_capacity(due.len());
    for DueRecord {
        delivery: d,
        webhook: w,
        bot,
    } in due
    {
        let body = match bot {
            Some(user) => {
                let lifetime = limits.token_lifetime();
                let token = format!("ct_{}", hex::encode(random_bytes::<20>()));
                s.insert_webhook_token(&token_hash(&token), w.id, user, env.now + lifetime)?;
                let mut v: Value = serde_json::from_str(&d.body)?;
                if let Value::Object(m) = &mut v {
                    m.insert(
                        "app_user_auth".into(),
                        serde_json::json!({
                            "access_token": token,
                            "token_type": "Token",
                            "expires_in": lifetime / 1000,
                            "user_id": user.to_string(),
                            "organization_id": w.organization_id.to_string(),
                        }),
                    );
                }
                serde_json::to_string(&v)?
            }
            None => d.body,
        };
        let sig = signature(&w.secret, ts, &body);
        out.push(DueDelivery {
            id: d.id,
            webhook_id: w.id.to_string(),
            url: w.url,
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

/// Records an attempt: `status` is the HTTP status (None: no response, `error` says why). A
/// failure schedules the next attempt ([`backoff_ms`]), or marks the delivery failed once it
/// has reached both of `limits`' bounds.
pub fn record_result(
    s: &dyn Store,
    env: &Env,
    limits: &DeliveryLimits,
    id: i64,
    status: Option<u16>,
    error: Option<String>,
) -> Result<()> {
    let Some(mut d) = s.delivery(id)? else {
        return Ok(());
    };
    if d.delivered_at.is_some() || d.failed_at.is_some() {
        return Ok(());
    }
    d.attempts += 1;
    d.last_status = status.map(i64::from);
    d.last_error = error;
    if status.is_some_and(|c| (200..300).contains(&c)) {
        d.delivered_at = Some(env.now);
    } else {
        let first_failed_at = *d.first_failed_at.get_or_insert(env.now);
        if d.attempts >= limits.attempts && env.now - first_failed_at >= limits.failing_for_ms {
            d.failed_at = Some(env.now);
        } else {
            d.next_attempt_at = env.now + backoff_ms(d.attempts);
        }
    }
    s.update_delivery(&d)
}

/// Sends a failed delivery again: it is due now, in its place in the webhook's order (behind
/// an older delivery still being retried). Its attempts go on counting and it keeps the time
/// of its first failure, so the bounds are already reached: the retry is one more attempt,
/// and if that fails too the delivery is failed again at once rather than holding back the
/// webhook's later deliveries for another day. A delivery that is not failed: 409
/// `delivery_not_failed`.
pub fn retry(
    s: &dyn Store,
    env: &Env,
    actor: &Actor,
    org: Uuid,
    webhook: Uuid,
    id: i64,
) -> Result<Delivery> {
    manage_org(s, actor, org)?;
    webhook_of(s, org, webhook)?;
    let mut d = s
        .delivery(id)?
        .filter(|d| d.webhook_id == webhook)
        .ok_or_else(|| ChatError::not_found("Delivery"))?;
    if d.failed_at.is_none() {
        return Err(ChatError::new(
            ErrorCode::DeliveryNotFailed,
            if d.delivered_at.is_some() {
                "The delivery was acknowledged; only a failed delivery can be retried."
            } else {
                "The delivery is still being retried; only a failed delivery can be retried."
            },
        ));
    }
    d.failed_at = None;
    d.next_attempt_at = env.now;
    s.update_delivery(&d)?;
    Ok(Delivery::from_record(&d))
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

#[cfg(test)]
mod tests;
