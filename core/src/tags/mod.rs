//! Chat tags: keywords on a chat, and the allowed tags its room defines.
//!
//! The tag resource is `{name, hashed_name, created_at, room_id}` everywhere (tags of a chat
//! and allowed tags alike): the reference's examples show subsets of these four attributes,
//! so every one is always given. `hashed_name` is the SHA-1 of the name in lowercase hex;
//! `room_id` is the chat's room (null for a chat without a room).
//!
//! Allowed tags policy (see `docs/DECISIONS.md`, "Tags"): when the chat's room defines
//! allowed tags, only those names (exact, case-sensitive match) may be added; a name outside
//! them is a 400 field error on `name`. A room without allowed tags, or a chat without a room,
//! takes any name of 1 to 100 characters.

pub(crate) mod operations;
mod rules;
#[cfg(test)]
mod tests;

pub use rules::*;

use crate::clock::Millis;
use crate::time::format_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest tag name, in characters (the same limit as a room's allowed tags).
pub const MAX_TAG_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRecord {
    pub chat_pk: i64,
    pub name: String,
    pub created_at: Millis,
}

/// The tag resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub name: String,
    pub hashed_name: String,
    pub created_at: String,
    pub room_id: Option<String>,
}

impl Tag {
    pub fn new(name: &str, created_at: Millis, room_id: Option<Uuid>) -> Self {
        Self {
            name: name.to_string(),
            hashed_name: hashed_name(name),
            created_at: format_ms(created_at),
            room_id: room_id.map(|r| r.to_string()),
        }
    }
}

/// SHA-1 of the tag name, lowercase hex.
pub fn hashed_name(name: &str) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(name.as_bytes()))
}

/// POST payload.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewTag {
    pub name: Option<String>,
}
