//! Webhooks and their deliveries as the store keeps them: plain data, so that the store can
//! read and write them without depending on the rules of [`crate::webhooks`].

use crate::clock::Millis;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub channels: Vec<String>,
    pub actions: Vec<String>,
    pub secret: String,
    pub user_id: Option<Uuid>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook_id: Uuid,
    pub event_seq: i64,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Millis>,
    /// When the first attempt failed (None: no attempt has failed yet).
    pub first_failed_at: Option<Millis>,
    /// When retries ended without an acknowledgement (see [`crate::webhooks::DeliveryLimits`]).
    pub failed_at: Option<Millis>,
    pub created_at: Millis,
}
