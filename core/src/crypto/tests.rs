//! Envelope, key wrapping and offline routine: round trips over arbitrary texts, and every
//! kind of misuse (tampering, wrong keys, rows or fields swapped) rejected.

use super::envelope::{
    self, Binding, Field, TEXT_HEADER_LEN, VERSION, WRAPPED_LEN, key_check, open_text, seal_text,
    unwrap_key, verify_key_check, wrap_key,
};
use super::{CryptoError, SecretKey, decrypt_export, decrypt_export_field};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use uuid::Uuid;

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes(&[b; 32])
}

fn ids() -> (Uuid, Uuid) {
    (Uuid::new_v4(), Uuid::new_v4())
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("x".repeat(2000)),
        Just("ä€😀".repeat(500)),
        ".{0,2000}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn text_round_trips(text in text_strategy(), k in any::<[u8; 32]>()) {
        let key = SecretKey::from_bytes(&k);
        let (chat, msg) = ids();
        let at = Binding::message(Field::MessageText, chat, msg);
        let sealed = seal_text(&key, &at, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let raw = B64.decode(&sealed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(raw.len(), TEXT_HEADER_LEN + text.len() + 16);
        prop_assert_eq!(raw[0], VERSION);
        prop_assert_eq!(raw[1], Field::MessageText.code());
        prop_assert_eq!(open_text(&key, &at, &sealed), Ok(text.clone()));
    }

    #[test]
    fn any_flipped_bit_is_rejected(text in text_strategy(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let key = key(7);
        let (chat, msg) = ids();
        let at = Binding::message(Field::MessageText, chat, msg);
        let sealed = seal_text(&key, &at, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut raw = B64.decode(&sealed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = pos.index(raw.len());
        raw[i] ^= 1 << bit;
        prop_assert!(open_text(&key, &at, &B64.encode(&raw)).is_err());
    }

    #[test]
    fn export_round_trips(text in text_strategy()) {
        let org_key = [42u8; 32];
        let (chat, msg) = ids();
        let chat_key = SecretKey::random().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let wrapped = wrap_key(&SecretKey::from_bytes(&org_key), chat, &chat_key)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let sealed = seal_text(&chat_key, &Binding::message(Field::MessageText, chat, msg), &text)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decrypt_export(&org_key, &wrapped, chat, msg, &sealed), Ok(text));
    }
}

#[test]
fn wrong_key_is_rejected() {
    let (chat, msg) = ids();
    let at = Binding::message(Field::MessageText, chat, msg);
    let sealed = seal_text(&key(1), &at, "secret").unwrap();
    assert_eq!(
        open_text(&key(2), &at, &sealed),
        Err(CryptoError::Authentication)
    );
}

#[test]
fn ciphertext_moved_to_another_row_or_field_is_rejected() {
    let k = key(3);
    let (chat, msg) = ids();
    let (other_chat, other_msg) = ids();
    let aid = Uuid::new_v4();
    let sealed = seal_text(&k, &Binding::message(Field::MessageText, chat, msg), "hi").unwrap();
    // Another message of the same chat, the same message id in another chat.
    for at in [
        Binding::message(Field::MessageText, chat, other_msg),
        Binding::message(Field::MessageText, other_chat, msg),
        Binding::chat(Field::MessageText, chat),
        Binding::item(Field::MessageText, chat, msg, aid),
    ] {
        assert_eq!(
            open_text(&k, &at, &sealed),
            Err(CryptoError::Authentication)
        );
    }
    // Another field of the same row: refused by the header, and by the AAD when the header
    // byte is rewritten too.
    let other_field = Binding::message(Field::ResponseText, chat, msg);
    assert_eq!(
        open_text(&k, &other_field, &sealed),
        Err(CryptoError::FieldMismatch)
    );
    let mut raw = B64.decode(&sealed).unwrap();
    raw[1] = Field::ResponseText.code();
    assert_eq!(
        open_text(&k, &other_field, &B64.encode(&raw)),
        Err(CryptoError::Authentication)
    );
    // Attachment texts are bound to their attachment.
    let t = seal_text(
        &k,
        &Binding::item(Field::AttachmentTitle, chat, msg, aid),
        "t",
    )
    .unwrap();
    assert!(
        open_text(
            &k,
            &Binding::item(Field::AttachmentTitle, chat, msg, Uuid::new_v4()),
            &t
        )
        .is_err()
    );
}

#[test]
fn malformed_envelopes_are_rejected() {
    let k = key(4);
    let at = Binding::message(Field::MessageText, Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(
        open_text(&k, &at, "not base64!"),
        Err(CryptoError::Encoding)
    );
    assert_eq!(
        open_text(&k, &at, &B64.encode([1u8; 10])),
        Err(CryptoError::Truncated)
    );
    let mut raw = B64.decode(seal_text(&k, &at, "x").unwrap()).unwrap();
    raw[0] = 9;
    assert_eq!(
        open_text(&k, &at, &B64.encode(&raw)),
        Err(CryptoError::UnsupportedVersion(9))
    );
}

#[test]
fn nonces_are_fresh() {
    let k = key(5);
    let at = Binding::message(Field::MessageText, Uuid::new_v4(), Uuid::new_v4());
    let a = seal_text(&k, &at, "same").unwrap();
    let b = seal_text(&k, &at, "same").unwrap();
    assert_ne!(a, b);
    assert_ne!(
        B64.decode(&a).unwrap()[2..14],
        B64.decode(&b).unwrap()[2..14]
    );
}

#[test]
fn key_wrap_binds_the_chat_and_the_organization_key() {
    let org = key(6);
    let chat = Uuid::new_v4();
    let ck = SecretKey::random().unwrap();
    let wrapped = wrap_key(&org, chat, &ck).unwrap();
    assert_eq!(wrapped.len(), 2 * WRAPPED_LEN);
    assert!(
        wrapped
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(unwrap_key(&org, chat, &wrapped).unwrap(), ck);
    assert_eq!(
        unwrap_key(&key(8), chat, &wrapped).unwrap_err(),
        CryptoError::Authentication
    );
    assert_eq!(
        unwrap_key(&org, Uuid::new_v4(), &wrapped).unwrap_err(),
        CryptoError::Authentication
    );
    let mut raw = hex::decode(&wrapped).unwrap();
    raw[20] ^= 1;
    assert!(unwrap_key(&org, chat, &hex::encode(raw)).is_err());
    assert!(unwrap_key(&org, chat, &wrapped[..100]).is_err());
}

#[test]
fn key_check_verifies_only_its_key() {
    let org_id = Uuid::new_v4();
    let check = key_check(&key(9), org_id).unwrap();
    assert!(verify_key_check(&key(9), org_id, &check));
    assert!(!verify_key_check(&key(10), org_id, &check));
    assert!(!verify_key_check(&key(9), Uuid::new_v4(), &check));
}

#[test]
fn export_fields_and_wrong_inputs() {
    let org_key = [11u8; 32];
    let (chat, msg) = ids();
    let ck = SecretKey::random().unwrap();
    let wrapped = wrap_key(&SecretKey::from_bytes(&org_key), chat, &ck).unwrap();
    let at = Binding::chat(Field::FirstVisitorMessageUrl, chat);
    let sealed = seal_text(&ck, &at, "https://example.com/p?q=1").unwrap();
    assert_eq!(
        decrypt_export_field(&org_key, &wrapped, &at, &sealed).as_deref(),
        Ok("https://example.com/p?q=1")
    );
    let m = seal_text(&ck, &Binding::message(Field::MessageText, chat, msg), "m").unwrap();
    assert!(decrypt_export(&[12u8; 32], &wrapped, chat, msg, &m).is_err());
    assert!(decrypt_export(&org_key, &wrapped, chat, Uuid::new_v4(), &m).is_err());
}

#[test]
fn debug_output_shows_no_key_bytes() {
    let k = SecretKey::from_bytes(&[0xAB; 32]);
    let d = format!("{k:?}");
    assert!(
        !d.contains("171") && !d.to_lowercase().contains("ab"),
        "{d}"
    );
    let ring = super::KeyRing::new();
    ring.insert(Uuid::new_v4(), k);
    assert!(!format!("{ring:?}").contains("171"));
    let _ = envelope::NONCE_LEN;
}

/// A fixed vector (also decrypted by the independent Python routine in docs/ENCRYPTION.md):
/// the byte format must never drift.
#[test]
fn known_answer_vector() {
    let wrapped = "01e1365464dc10730a63b09b93c5a83a28ba0eb2f35a234d7a24d283c04d696681198a7a61c17ce520f3936264fa51c969a0f45d3859fd1769863d22c1";
    let sealed = "AQFCMCA4ZhiMd/eAzhAP0ZeO5zd0sTepWgeyeQybRa/Bfh9Q25sVhEz1hEhA08grqk+OJYGE";
    let chat = Uuid::try_parse("450fc49e-277e-4dd6-af0f-6e9dcb885b09").unwrap();
    let msg = Uuid::try_parse("58f5055c-56e0-11e5-9354-6c4008c08dfe").unwrap();
    assert_eq!(
        decrypt_export(&[0x5c; 32], wrapped, chat, msg, sealed).as_deref(),
        Ok("Yes, actually you could.")
    );
}
