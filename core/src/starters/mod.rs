//! Chat conversation starters: a user's opening message, at most one per language.

pub(crate) mod operations;
mod rules;
#[cfg(test)]
mod tests;

pub use rules::*;

use crate::clock::Millis;
use crate::time::format_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The supported languages of conversation starters, as RFC 3066 codes in their canonical
/// form (language subtag lowercase, region subtag uppercase). Input is matched
/// case-insensitively and stored in this form, so `EN-us` is `en-US`.
///
/// The list covers the languages the giosg Console is used in plus the common regional
/// variants; a code outside it is a 400 field error on `language_code`.
pub const SUPPORTED_LANGUAGES: &[&str] = &[
    "ar", "bg", "ca", "cs", "da", "de", "de-AT", "de-CH", "el", "en", "en-AU", "en-CA", "en-GB",
    "en-US", "es", "es-MX", "et", "fa", "fi", "fr", "fr-CA", "ga", "he", "hi", "hr", "hu", "id",
    "is", "it", "ja", "ko", "lt", "lv", "ms", "nb", "nl", "nn", "no", "pl", "pt", "pt-BR", "ro",
    "ru", "se", "sk", "sl", "sq", "sr", "sv", "th", "tr", "uk", "vi", "zh", "zh-CN", "zh-TW",
];

/// The longest starter message, in characters (the limit of chat messages).
pub const MAX_STARTER_CHARS: usize = crate::messages::MAX_MESSAGE_CHARS;

/// The supported code matching `code` case-insensitively, in its canonical form.
pub fn canonical_language(code: &str) -> Option<&'static str> {
    SUPPORTED_LANGUAGES
        .iter()
        .copied()
        .find(|l| l.eq_ignore_ascii_case(code.trim()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarterRecord {
    pub user_id: Uuid,
    pub language_code: String,
    pub message: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The conversation starter resource exactly as the reference shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationStarter {
    pub language_code: String,
    pub message: String,
    pub created_at: String,
    pub updated_at: String,
}

impl ConversationStarter {
    pub fn from_record(r: &StarterRecord) -> Self {
        Self {
            language_code: r.language_code.clone(),
            message: r.message.clone(),
            created_at: format_ms(r.created_at),
            updated_at: format_ms(r.updated_at),
        }
    }
}

/// Payload of create (both required), PUT (`message` required) and PATCH (any subset).
/// Read-only attributes sent back (`created_at`, `updated_at`) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StarterInput {
    #[serde(default, deserialize_with = "crate::input::non_null")]
    pub language_code: Option<String>,
    #[serde(default, deserialize_with = "crate::input::non_null")]
    pub message: Option<String>,
}
