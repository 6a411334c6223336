//! Parsing of caller-supplied JSON into operation inputs, with the error every surface reports:
//! malformed JSON is a `parse_error`, a wrong type a `validation_error` naming the field.

use crate::error::{ChatError, Result};
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
    }
}
