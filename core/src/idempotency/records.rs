//! An idempotency key as the store keeps it: plain data, so that the store can read and write
//! it without depending on the rules of [`crate::idempotency`].

use crate::clock::Millis;

/// A recorded key: the hash of the request that claimed it and, once the call finished, its
/// reply.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub request_hash: Vec<u8>,
    pub status: Option<i64>,
    pub body: Option<String>,
    pub created_at: Millis,
}
