//! The event and webhook operations (see [`crate::registry`]).

use crate::error::{ChatError, Result};
use crate::events::{self, EventPage};
use crate::pagination::{Page, PageRequest};
use crate::registry::args::*;
use crate::registry::{QueryParam, operations};
use crate::webhooks::{self, Delivery, DueDelivery, Webhook, WebhookInput};
use serde_json::Value;
use uuid::Uuid;

/// How many due deliveries the host takes at once.
const DUE_LIMIT: &[QueryParam] = &[QueryParam {
    name: "limit",
    ty: "integer",
}];

/// The payload of an event read.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    channels: Vec<String>,
    #[serde(default)]
    since: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

/// `query.limit`: 1 to 1000, 100 when absent.
fn due_limit(args: &Value) -> usize {
    section(args, "query")
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 1000) as usize
}

/// A delivery id in the path: an integer; anything else names no delivery (404).
fn delivery_id(args: &Value) -> Result<i64> {
    match args.get("delivery_id") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ChatError::not_found("Delivery"))
}

/// The result of a delivery attempt: `body{delivery_id, status|null, error?}`.
fn delivery_result(args: &Value) -> Result<(i64, Option<u16>, Option<String>)> {
    let b = section(args, "body");
    let delivery = b
        .get("delivery_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| ChatError::required("delivery_id"))?;
    let status = b
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let error = b.get("error").and_then(Value::as_str).map(str::to_string);
    Ok((delivery, status, error))
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const EVENTS, tag "events";

    /// Events after a seq on channels the actor may read: {events, last_seq, resync?}.
    ///
    /// See [`events::authorize`] for the channels an actor may read.
    read fn events_since(channels: &[String], since: Option<i64>, limit: Option<usize>) -> EventPage {
        status: [200],
        args: "body{channels: [path or pattern with *], since: seq|null, limit?}",
        query: [],
        routes: [Post "/events"],
        parse: { let q: EventsQuery = body(args)?; } (&q.channels, q.since, q.limit),
        run: engine.read(|s, env| events::events_since(s, env, actor, channels, since, limit)),
    }
}

operations! {
    |engine, actor, args, claim|
    pub(crate) const WEBHOOKS, tag "webhooks";

    /// Webhooks of an organization (settings).
    read fn list_webhooks(org: Uuid) -> Page<Webhook> {
        status: [200],
        args: "organization_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/webhooks"],
        // Not paginated (an organization has few): one page holds all, yet the pagination
        // parameters are checked like on every collection.
        parse: { let _page = page(args)?; } (id(args, "organization_id")?),
        run: engine.read(|s, _| webhooks::list(s, actor, org)),
    }

    /// Register a webhook (settings).
    write fn create_webhook(org: Uuid, input: WebhookInput) -> Webhook {
        status: [201],
        args: "organization_id, body{url,channels,actions?,secret,user_id?}",
        query: [],
        routes: [Post "/orgs/<organization_id>/webhooks"],
        parse: {} (id(args, "organization_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            webhooks::create(s, env, actor, org, input, &engine.webhook_allow)
        }),
    }

    /// A webhook (settings).
    read fn get_webhook(org: Uuid, webhook: Uuid) -> Webhook {
        status: [200],
        args: "organization_id, webhook_id",
        query: [],
        routes: [Get "/orgs/<organization_id>/webhooks/<webhook_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "webhook_id")?),
        run: engine.read(|s, _| webhooks::get(s, actor, org, webhook)),
    }

    /// Update a webhook (settings).
    write fn update_webhook(org: Uuid, webhook: Uuid, input: WebhookInput) -> Webhook {
        status: [200],
        args: "organization_id, webhook_id, body{url?,channels?,actions?,secret?}",
        query: [],
        routes: [Patch "/orgs/<organization_id>/webhooks/<webhook_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "webhook_id")?, body(args)?),
        run: engine.write(None, |s, env| {
            webhooks::update(s, env, actor, org, webhook, input, &engine.webhook_allow)
        }),
    }

    /// Delete a webhook and its deliveries (settings).
    write fn delete_webhook(org: Uuid, webhook: Uuid) -> () {
        status: [204],
        args: "organization_id, webhook_id",
        query: [],
        routes: [Delete "/orgs/<organization_id>/webhooks/<webhook_id>"],
        parse: {} (id(args, "organization_id")?, id(args, "webhook_id")?),
        run: engine.write(None, |s, _| webhooks::delete(s, actor, org, webhook)),
    }

    /// A webhook's delivery history, newest first (settings).
    read fn list_webhook_deliveries(org: Uuid, webhook: Uuid, page: &PageRequest) -> Page<Delivery> {
        status: [200],
        args: "organization_id, webhook_id, query{cursor,page_size}",
        query: [PAGE],
        routes: [Get "/orgs/<organization_id>/webhooks/<webhook_id>/deliveries"],
        parse: {} (id(args, "organization_id")?, id(args, "webhook_id")?, &page(args)?),
        run: engine.read(|s, _| webhooks::deliveries(s, actor, org, webhook, page)),
    }

    /// Send a failed delivery again (settings).
    ///
    /// It becomes due now, in its place in the webhook's order; see [`webhooks::retry`].
    write fn retry_webhook_delivery(org: Uuid, webhook: Uuid, delivery: i64) -> Delivery {
        status: [200],
        args: "organization_id, webhook_id, delivery_id",
        query: [],
        routes: [Post "/orgs/<organization_id>/webhooks/<webhook_id>/deliveries/<delivery_id>/retry"],
        parse: {} (id(args, "organization_id")?, id(args, "webhook_id")?, delivery_id(args)?),
        run: engine.write(None, |s, env| webhooks::retry(s, env, actor, org, webhook, delivery)),
    }

    /// Host: deliveries to POST now (url, body, headers).
    ///
    /// See [`webhooks`] for the delivery protocol. The attempts are claimed for
    /// [`webhooks::ATTEMPT_LEASE_MS`] in the write that hands them out (and an attempt for a
    /// bot user's webhook mints its app token there); when none is due, only a read runs.
    write(host) fn webhook_deliveries_due(limit: usize) -> Vec<DueDelivery> {
        status: [200],
        args: "query{limit}",
        query: [DUE_LIMIT],
        routes: [],
        parse: {} (due_limit(args)),
        run: {
            if engine.read(|s, env| webhooks::due_records(s, env, limit))?.is_empty() {
                return Ok(Vec::new());
            }
            let limits = engine.webhook_limits;
            engine.write(None, |s, env| {
                let mut due = webhooks::due_records(s, env, limit)?;
                webhooks::claim(s, env, &mut due)?;
                webhooks::attempts(s, env, &limits, due)
            })
        },
    }

    /// Host: the result of a delivery attempt.
    ///
    /// An HTTP status, or `None` with an error.
    write(host) fn record_webhook_delivery(delivery: i64, status: Option<u16>, error: Option<String>) -> () {
        status: [204],
        args: "body{delivery_id, status|null, error?}",
        query: [],
        routes: [],
        parse: { let (delivery, status, error) = delivery_result(args)?; } (delivery, status, error),
        run: engine.write(None, |s, env| {
            webhooks::record_result(s, env, &engine.webhook_limits, delivery, status, error)
        }),
    }
}
