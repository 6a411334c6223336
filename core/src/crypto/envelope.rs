//! The byte formats (docs/ENCRYPTION.md describes them byte by byte):
//!
//! - text envelope (base64):   `version(1) | field(1) | nonce(12) | ciphertext | tag(16)`
//!   with AAD `"chat-core:text" | version | field | chat_id(16) | message_id(16) | item_id(16)`
//! - wrapped chat key (hex):   `version(1) | nonce(12) | encrypted key(32) | tag(16)`
//!   with AAD `"chat-core:wrap" | version | chat_id(16)`
//! - key check (hex):          `version(1) | nonce(12) | encrypted zeros(32) | tag(16)`
//!   with AAD `"chat-core:check" | version | organization_id(16)`
//! - held organization key (hex, sealed under the engine's master key):
//!   `version(1) | nonce(12) | encrypted key(32) | tag(16)`
//!   with AAD `"chat-core:held" | version | organization_id(16)`
//!
//! All four are AES-256-GCM with a fresh random 96-bit nonce per encryption.

use super::CryptoError;
use super::keys::{KEY_LEN, SecretKey};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadInOut, KeyInit, Nonce, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The envelope format version this build writes (and the only one it reads).
pub const VERSION: u8 = 1;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Bytes before the ciphertext of a text envelope: version, field, nonce.
pub const TEXT_HEADER_LEN: usize = 2 + NONCE_LEN;
/// Length of a wrapped key (and of a key check) in bytes; twice that in hex characters.
pub const WRAPPED_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

const TEXT_LABEL: &[u8] = b"chat-core:text";
const WRAP_LABEL: &[u8] = b"chat-core:wrap";
const CHECK_LABEL: &[u8] = b"chat-core:check";
const HELD_LABEL: &[u8] = b"chat-core:held";
// The associated-data layouts below rely on these lengths.
const _: () = assert!(
    TEXT_LABEL.len() == 14
        && WRAP_LABEL.len() == 14
        && CHECK_LABEL.len() == 15
        && HELD_LABEL.len() == 14
);

/// Which secret field a text envelope holds. The code is in the envelope and in its AAD, so a
/// ciphertext cannot be moved to another field of the same row either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    /// `messages.message`
    MessageText = 1,
    /// `messages.response_text` (interaction responses)
    ResponseText = 2,
    /// An attachment's `title` (item: the attachment id)
    AttachmentTitle = 3,
    /// An attachment's `text` (item: the attachment id)
    AttachmentText = 4,
    /// An action's `text` (item: the action id)
    ActionText = 5,
    /// `chats.first_visitor_message_url`
    FirstVisitorMessageUrl = 6,
    /// `chats.first_visitor_message_url_title`
    FirstVisitorMessageUrlTitle = 7,
    /// `chats.autosuggest_url`
    AutosuggestUrl = 8,
    /// `chats.autosuggest_url_title`
    AutosuggestUrlTitle = 9,
}

impl Field {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Where a sealed text belongs; all of it is authenticated as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub field: Field,
    pub chat_id: Uuid,
    /// The message of the row; the nil UUID for fields of the chat itself.
    pub message_id: Uuid,
    /// The attachment or action inside the message; the nil UUID otherwise.
    pub item_id: Uuid,
}

impl Binding {
    /// A field of a message row.
    pub fn message(field: Field, chat_id: Uuid, message_id: Uuid) -> Self {
        Self {
            field,
            chat_id,
            message_id,
            item_id: Uuid::nil(),
        }
    }
    /// A field of an attachment or action inside a message.
    pub fn item(field: Field, chat_id: Uuid, message_id: Uuid, item_id: Uuid) -> Self {
        Self {
            field,
            chat_id,
            message_id,
            item_id,
        }
    }
    /// A field of the chat row.
    pub fn chat(field: Field, chat_id: Uuid) -> Self {
        Self {
            field,
            chat_id,
            message_id: Uuid::nil(),
            item_id: Uuid::nil(),
        }
    }

    /// The 64 bytes of associated data of a text envelope.
    pub fn aad(&self) -> [u8; 64] {
        let mut a = [0u8; 64];
        a[..14].copy_from_slice(TEXT_LABEL);
        a[14] = VERSION;
        a[15] = self.field.code();
        a[16..32].copy_from_slice(self.chat_id.as_bytes());
        a[32..48].copy_from_slice(self.message_id.as_bytes());
        a[48..64].copy_from_slice(self.item_id.as_bytes());
        a
    }
}

fn cipher(key: &SecretKey) -> Result<Aes256Gcm, CryptoError> {
    Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| CryptoError::Authentication)
}

fn fresh_nonce() -> Result<[u8; NONCE_LEN], CryptoError> {
    let mut n = [0u8; NONCE_LEN];
    getrandom::fill(&mut n).map_err(|_| CryptoError::Entropy)?;
    Ok(n)
}

/// Seals a text for its place; returns the base64 envelope.
pub fn seal_text(key: &SecretKey, at: &Binding, plaintext: &str) -> Result<String, CryptoError> {
    let nonce = fresh_nonce()?;
    let aad = at.aad();
    let sealed = cipher(key)?
        .encrypt(
            &Nonce::<Aes256Gcm>::from(nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::Authentication)?;
    let mut out = Vec::with_capacity(TEXT_HEADER_LEN + sealed.len());
    out.push(VERSION);
    out.push(at.field.code());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(B64.encode(out))
}

/// Opens a base64 envelope sealed for exactly this place.
pub fn open_text(key: &SecretKey, at: &Binding, envelope: &str) -> Result<String, CryptoError> {
    let bytes = B64
        .decode(envelope.trim())
        .map_err(|_| CryptoError::Encoding)?;
    if bytes.len() < TEXT_HEADER_LEN + TAG_LEN {
        return Err(CryptoError::Truncated);
    }
    if bytes[0] != VERSION {
        return Err(CryptoError::UnsupportedVersion(bytes[0]));
    }
    if bytes[1] != at.field.code() {
        return Err(CryptoError::FieldMismatch);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[2..TEXT_HEADER_LEN]);
    let aad = at.aad();
    let plain = Zeroizing::new(
        cipher(key)?
            .decrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: &bytes[TEXT_HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Authentication)?,
    );
    String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::NotUtf8)
}

fn wrap_aad(chat_id: Uuid) -> [u8; 31] {
    let mut a = [0u8; 31];
    a[..14].copy_from_slice(WRAP_LABEL);
    a[14] = VERSION;
    a[15..31].copy_from_slice(chat_id.as_bytes());
    a
}

fn held_aad(org_id: Uuid) -> [u8; 31] {
    let mut a = [0u8; 31];
    a[..14].copy_from_slice(HELD_LABEL);
    a[14] = VERSION;
    a[15..31].copy_from_slice(org_id.as_bytes());
    a
}

fn check_aad(org_id: Uuid) -> [u8; 32] {
    let mut a = [0u8; 32];
    a[..15].copy_from_slice(CHECK_LABEL);
    a[15] = VERSION;
    a[16..32].copy_from_slice(org_id.as_bytes());
    a
}

/// Encrypts 32 bytes under `kek` into `version | nonce | ciphertext | tag`, as hex.
fn seal_32(kek: &SecretKey, aad: &[u8], secret: &[u8; KEY_LEN]) -> Result<String, CryptoError> {
    let nonce = fresh_nonce()?;
    let mut buf = Zeroizing::new(*secret);
    let tag = cipher(kek)?
        .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(nonce), aad, (&mut buf[..]).into())
        .map_err(|_| CryptoError::Authentication)?;
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf[..]);
    out.extend_from_slice(tag.as_slice());
    Ok(hex::encode(out))
}

/// Decrypts what [`seal_32`] made.
fn open_32(
    kek: &SecretKey,
    aad: &[u8],
    wrapped_hex: &str,
) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let bytes = hex::decode(wrapped_hex.trim()).map_err(|_| CryptoError::Encoding)?;
    if bytes.len() != WRAPPED_LEN {
        return Err(CryptoError::Truncated);
    }
    if bytes[0] != VERSION {
        return Err(CryptoError::UnsupportedVersion(bytes[0]));
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[1..1 + NONCE_LEN]);
    let mut buf = Zeroizing::new([0u8; KEY_LEN]);
    buf.copy_from_slice(&bytes[1 + NONCE_LEN..1 + NONCE_LEN + KEY_LEN]);
    let tag = aes_gcm::Tag::try_from(&bytes[1 + NONCE_LEN + KEY_LEN..])
        .map_err(|_| CryptoError::Truncated)?;
    cipher(kek)?
        .decrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(nonce),
            aad,
            (&mut buf[..]).into(),
            &tag,
        )
        .map_err(|_| CryptoError::Authentication)?;
    Ok(buf)
}

/// Wraps a chat key with the organization's key-encryption key (hex, 122 characters).
pub fn wrap_key(
    org_key: &SecretKey,
    chat_id: Uuid,
    chat_key: &SecretKey,
) -> Result<String, CryptoError> {
    seal_32(org_key, &wrap_aad(chat_id), chat_key.bytes())
}

/// Unwraps a chat key; fails with [`CryptoError::Authentication`] under another key or chat.
pub fn unwrap_key(
    org_key: &SecretKey,
    chat_id: Uuid,
    wrapped_hex: &str,
) -> Result<SecretKey, CryptoError> {
    let raw = open_32(org_key, &wrap_aad(chat_id), wrapped_hex)?;
    Ok(SecretKey::from_bytes(&raw))
}

/// A key check value: proves later that a key is the organization's, without storing it.
pub fn key_check(org_key: &SecretKey, org_id: Uuid) -> Result<String, CryptoError> {
    seal_32(org_key, &check_aad(org_id), &[0u8; KEY_LEN])
}

/// Whether `org_key` is the key that made `check`.
pub fn verify_key_check(org_key: &SecretKey, org_id: Uuid, check: &str) -> bool {
    matches!(open_32(org_key, &check_aad(org_id), check), Ok(z) if z.iter().all(|b| *b == 0))
}

/// Seals an organization key under the engine's master key, bound to the organization (hex,
/// 122 characters).
pub fn wrap_org_key(
    master: &SecretKey,
    org_id: Uuid,
    org_key: &SecretKey,
) -> Result<String, CryptoError> {
    seal_32(master, &held_aad(org_id), org_key.bytes())
}

/// Opens what [`wrap_org_key`] sealed; fails with [`CryptoError::Authentication`] under another
/// master key or for another organization.
pub fn unwrap_org_key(
    master: &SecretKey,
    org_id: Uuid,
    wrapped_hex: &str,
) -> Result<SecretKey, CryptoError> {
    let raw = open_32(master, &held_aad(org_id), wrapped_hex)?;
    Ok(SecretKey::from_bytes(&raw))
}
