//! Time formats: UTC ISO 8601 with milliseconds and `Z` on output; any ISO 8601 offset on input.

use crate::clock::Millis;
use crate::error::{ChatError, Result};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

pub fn format_ms(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => String::new(),
    }
}

pub fn format_opt(ms: Option<Millis>) -> Option<String> {
    ms.map(format_ms)
}

/// Parses ISO 8601 with an offset, or without one (then UTC), to milliseconds.
pub fn parse_iso(field: &str, s: &str) -> Result<Millis> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    Err(ChatError::field(field, "Enter a valid ISO 8601 date/time."))
}

/// Seconds between two instants as a float, for durations in resources.
pub fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}
