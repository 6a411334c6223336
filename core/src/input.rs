//! Parsing of caller-supplied JSON into operation inputs, with the error every surface reports:
//! malformed JSON is a `parse_error`, a wrong type a `validation_error` naming the field.

use crate::error::{ChatError, Result};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Parses a JSON body; an empty body reads as `{}` (payloads that are all optional).
pub fn from_json<T: DeserializeOwned>(body: &str) -> Result<T> {
    let body = if body.trim().is_empty() { "{}" } else { body };
    if !body.trim_start().starts_with('{') {
        return Err(ChatError::parse("The payload must be a JSON object."));
    }
    let de = &mut serde_json::Deserializer::from_str(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ChatError::parse(format!("Malformed JSON: {inner}"))
        } else if path.is_empty() || path == "." {
            ChatError::parse(format!("The payload is in the wrong format: {inner}"))
        } else {
            ChatError::field(path, clean(&inner.to_string()))
        }
    })
}

/// For attributes that may be omitted but never null (a PATCH leaves an omitted attribute as it
/// is; `null` would mean "clear" a value that cannot be empty): use as
/// `#[serde(default, deserialize_with = "crate::input::non_null")]` on an `Option<T>` field.
pub fn non_null<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom("This field may not be null.")),
    }
}

/// For attributes a PATCH may clear: an explicit `null` is `Some(None)` ("clear"), an absent
/// attribute `None` ("leave as is"); serde alone reads both as `None`. Use as
/// `#[serde(default, deserialize_with = "crate::input::explicit_null")]` on an
/// `Option<Option<T>>` field.
pub fn explicit_null<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Parses an already decoded JSON value.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    from_json(&value.to_string())
}

fn clean(s: &str) -> String {
    // serde's messages end with " at line L column C", which means nothing to API clients.
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::messages::NewMessage;

    #[test]
    fn wrong_types_name_the_field_and_garbage_is_a_parse_error() {
        let e = from_json::<NewMessage>(r#"{"message": 5}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.errors.contains_key("message"), "{e:?}");
        let e = from_json::<NewMessage>(r#"{"attachments": [{"actions": [{"text": 1}]}]}"#)
            .unwrap_err();
        assert!(
            e.errors.contains_key("attachments[0].actions[0].text"),
            "{e:?}"
        );
        assert_eq!(
            from_json::<NewMessage>("{nope").unwrap_err().code,
            ErrorCode::ParseError
        );
        let e = from_json::<NewMessage>("[1]").unwrap_err();
        assert_eq!(e.code, ErrorCode::ParseError, "{e:?}");
        let e = from_json::<NewMessage>(r#"{"bogus": 1}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError, "{e:?}");
        assert!(e.detail.contains("bogus"), "{e:?}");
        assert!(from_json::<NewMessage>("").is_ok());
        // Omitted is fine for PATCH; an explicit null of a non-nullable attribute is not.
        let ok: crate::starters::StarterInput = from_json(r#"{"language_code": "fi"}"#).unwrap();
        assert_eq!(ok.message, None);
        let e = from_json::<crate::starters::StarterInput>(r#"{"message": null}"#).unwrap_err();
        assert_eq!(
            e.errors.get("message").map(|v| v[0].as_str()),
            Some("This field may not be null.")
        );
        let e = from_json::<crate::suggestions::SuggestionInput>(r#"{"suggestion": null}"#)
            .unwrap_err();
        assert!(e.errors.contains_key("suggestion"), "{e:?}");
    }
}
