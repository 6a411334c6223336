//! Time formats: UTC ISO 8601 with milliseconds and `Z` on output; any ISO 8601 offset on input.

use crate::clock::Millis;
use crate::error::{ChatError, Result};
use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as chrono's `to_rfc3339_opts(SecondsFormat::Millis, true)` writes
/// it. The calendar is chrono's; the digits are written here: through chrono's formatter each
/// timestamp cost ≈ 860 instructions, 5.6 % of reading a page of 50 messages and ≈ 3 % of a
/// message send (`docs/PERFORMANCE.md`). Years outside 0–9999 keep chrono's form.
pub fn format_ms(ms: Millis) -> String {
    let Some(t) = Utc.timestamp_millis_opt(ms).single() else {
        return String::new();
    };
    let (date, time) = (t.date_naive(), t.time());
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return t.to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, date.month());
    put(8, 2, date.day());
    put(11, 2, time.hour());
    put(14, 2, time.minute());
    put(17, 2, time.second());
    put(20, 3, (time.nanosecond() / 1_000_000) % 1000);
    // ASCII digits and separators: always UTF-8.
    std::str::from_utf8(&b)
        .map(str::to_owned)
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::format_ms;
    use chrono::{SecondsFormat, TimeZone, Utc};
    use proptest::prelude::*;

    fn chrono_form(ms: i64) -> String {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default()
    }

    proptest! {
        /// Written digit by digit, a timestamp reads exactly as chrono formats it, before 1970
        /// and after, up to and past year 9999.
        #[test]
        fn timestamps_are_written_as_chrono_writes_them(ms in -62_167_219_200_000i64..=300_000_000_000_000i64) {
            prop_assert_eq!(format_ms(ms), chrono_form(ms));
        }
    }

    #[test]
    fn the_edges_of_the_four_digit_years_and_of_the_range() {
        for ms in [
            0,
            -1,
            1,
            999,
            -62_167_219_200_000, // 0000-01-01T00:00:00.000Z
            -62_167_219_200_001, // the millisecond before: chrono's form
            253_402_300_799_999, // 9999-12-31T23:59:59.999Z
            253_402_300_800_000, // 10000-01-01: chrono's form
            1_767_225_599_999,   // 2025-12-31T23:59:59.999Z
            951_782_400_000,     // 2000-02-29T00:00:00.000Z
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(format_ms(ms), chrono_form(ms), "{ms}");
        }
        assert_eq!(format_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
