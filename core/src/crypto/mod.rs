//! Encrypted chats (contract section 7; `docs/ENCRYPTION.md`).
//!
//! A chat of an organization with `encrypt_chats` gets a random 256-bit chat key when it is
//! created. Its secret texts — message texts, interaction response texts, attachment titles and
//! texts, action texts, and the visitor-supplied URLs and titles of the chat — are stored only as
//! AES-256-GCM envelopes ([`envelope`]) bound to the chat, message and item they belong to.
//! The chat key is stored wrapped with the organization's key-encryption key as the chat's
//! `encrypted_symmetric_key`.
//!
//! The organization key is the host's: it gives it with `Engine::set_organization_key` (again
//! after every restart: it lives only in the engine's memory, [`KeyRing`]), may rotate it
//! (chat keys are rewrapped, messages untouched) and may purge it. An engine given a master
//! key holds the organization keys itself instead ([`held`]): generated when needed, kept
//! sealed under the master key in the database, loaded again when it opens. While the engine holds it,
//! reads are decrypted; without it `message` is null and `encrypted_message` carries the
//! envelope, which [`decrypt_export`] opens offline given the organization key.
//!
//! Nothing here logs, and no type prints key bytes.

pub mod envelope;
mod export;
pub mod held;
mod keys;
pub(crate) mod operations;
pub(crate) mod org_keys;
pub(crate) mod records;
#[cfg(test)]
mod tests;

pub use envelope::{Binding, Field};
pub use export::{decrypt_export, decrypt_export_field, unwrap_chat_key};
pub use keys::{KEY_LEN, KeyRing, SecretKey};
pub use org_keys::RotationReport;
pub use records::{OrgKeyCheck, WrappedChatKey};

use crate::Env;
use crate::chats::{Chat, ChatRecord};
use crate::error::{ChatError, ErrorCode, Result};
use crate::messages::{Attachment, Message, MessageRecord, NewMessageRecord, Viewer};
use uuid::Uuid;

/// Why a ciphertext, wrapped key or key check could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the value is not valid base64 or hex")]
    Encoding,
    #[error("the value is too short or has the wrong length")]
    Truncated,
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    #[error("the envelope holds another field")]
    FieldMismatch,
    #[error("the ciphertext does not authenticate with this key for this chat and message")]
    Authentication,
    #[error("the decrypted text is not UTF-8")]
    NotUtf8,
    #[error("the operating system has no entropy source")]
    Entropy,
}

impl From<CryptoError> for ChatError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Entropy => ChatError::internal(e.to_string()),
            _ => ChatError::new(
                ErrorCode::Storage,
                format!("stored ciphertext cannot be used: {e}"),
            ),
        }
    }
}

pub(crate) fn key_unavailable() -> ChatError {
    ChatError::new(
        ErrorCode::ChatKeyUnavailable,
        "The chat is encrypted and the engine does not hold its organization's key.",
    )
}

/// A transformation of one secret text (sealing or opening) at its binding.
type TextMap<'f> = dyn FnMut(&ChatCipher, Binding, Option<String>) -> Result<Option<String>> + 'f;

/// How the texts of one chat are stored, resolved once per operation.
pub(crate) enum ChatCipher {
    /// Not an encrypted chat: texts are stored as they are.
    Plain,
    /// An encrypted chat, with its key when the engine can unwrap it.
    Sealed {
        chat_id: Uuid,
        key: Option<SecretKey>,
    },
}

fn item_id(id: &str) -> Result<Uuid> {
    Uuid::try_parse(id).map_err(|_| ChatError::internal("attachment or action id is not a UUID"))
}

impl ChatCipher {
    /// For reads: the chat key if the engine holds the organization key and it unwraps.
    pub(crate) fn for_chat(env: &Env, chat: &ChatRecord) -> Self {
        if !chat.is_encrypted {
            return Self::Plain;
        }
        let key = env.org_key(chat.room_organization_id).and_then(|org_key| {
            chat.encrypted_symmetric_key
                .as_deref()
                .and_then(|w| envelope::unwrap_key(&org_key, chat.id, w).ok())
        });
        Self::Sealed {
            chat_id: chat.id,
            key,
        }
    }

    /// For writes: as [`Self::for_chat`], but an encrypted chat without a usable key is a 409.
    pub(crate) fn for_write(env: &Env, chat: &ChatRecord) -> Result<Self> {
        let c = Self::for_chat(env, chat);
        match c {
            Self::Sealed { key: None, .. } => Err(key_unavailable()),
            _ => Ok(c),
        }
    }

    fn seal(&self, at: impl Fn(Uuid) -> Binding, v: Option<String>) -> Result<Option<String>> {
        match (self, v) {
            (_, None) => Ok(None),
            (Self::Plain, v) => Ok(v),
            (Self::Sealed { chat_id, key }, Some(text)) => {
                let key = key.as_ref().ok_or_else(key_unavailable)?;
                Ok(Some(envelope::seal_text(key, &at(*chat_id), &text)?))
            }
        }
    }

    /// Opens a stored value; `Ok(None)` when it cannot be decrypted and `strict` is off.
    fn open(
        &self,
        at: impl Fn(Uuid) -> Binding,
        v: Option<&str>,
        strict: bool,
    ) -> Result<Option<String>> {
        match (self, v) {
            (_, None) => Ok(None),
            (Self::Plain, Some(v)) => Ok(Some(v.to_string())),
            (Self::Sealed { chat_id, key }, Some(v)) => {
                let opened = key
                    .as_ref()
                    .ok_or_else(key_unavailable)
                    .and_then(|k| Ok(envelope::open_text(k, &at(*chat_id), v)?));
                match opened {
                    Ok(t) => Ok(Some(t)),
                    Err(e) if strict => Err(e),
                    Err(_) => Ok(None),
                }
            }
        }
    }

    /// Seals a text of the chat row (visitor URLs and titles).
    pub(crate) fn seal_chat_text(&self, field: Field, v: Option<String>) -> Result<Option<String>> {
        self.seal(|c| Binding::chat(field, c), v)
    }

    /// Seals every secret field of a message about to be stored.
    pub(crate) fn seal_message(&self, m: &mut NewMessageRecord) -> Result<()> {
        if let Self::Plain = self {
            return Ok(());
        }
        let id = m.id;
        m.message = self.seal(
            |c| Binding::message(Field::MessageText, c, id),
            m.message.take(),
        )?;
        m.response_text = self.seal(
            |c| Binding::message(Field::ResponseText, c, id),
            m.response_text.take(),
        )?;
        if let Some(json) = m.attachments.take() {
            let atts: Vec<Attachment> = serde_json::from_str(&json)
                .map_err(|e| ChatError::internal(format!("attachments: {e}")))?;
            let sealed = self.map_attachments(id, atts, &mut |me, at, v| me.seal(|_| at, v))?;
            m.attachments = Some(
                serde_json::to_string(&sealed)
                    .map_err(|e| ChatError::internal(format!("attachments: {e}")))?,
            );
        }
        Ok(())
    }

    /// Applies `f` to every secret text of the attachments of message `message_id`.
    fn map_attachments(
        &self,
        message_id: Uuid,
        mut atts: Vec<Attachment>,
        f: &mut TextMap<'_>,
    ) -> Result<Vec<Attachment>> {
        let chat_id = match self {
            Self::Plain => return Ok(atts),
            Self::Sealed { chat_id, .. } => *chat_id,
        };
        for a in &mut atts {
            let aid = item_id(&a.id)?;
            let at = |field| Binding::item(field, chat_id, message_id, aid);
            a.title = f(self, at(Field::AttachmentTitle), a.title.take())?;
            a.text = f(self, at(Field::AttachmentText), a.text.take())?;
            for act in &mut a.actions {
                let bid = Binding::item(Field::ActionText, chat_id, message_id, item_id(&act.id)?);
                act.text = f(self, bid, Some(std::mem::take(&mut act.text)))?.unwrap_or_default();
            }
        }
        Ok(atts)
    }

    /// The stored attachments of message `message_id` with their texts opened. `strict`: a text
    /// that cannot be opened is an error (writes); otherwise it reads as null (or "").
    pub(crate) fn open_attachments(
        &self,
        message_id: Uuid,
        atts: Vec<Attachment>,
        strict: bool,
    ) -> Result<Vec<Attachment>> {
        self.map_attachments(message_id, atts, &mut |me, at, v| {
            me.open(|_| at, v.as_deref(), strict)
        })
    }

    fn open_attachments_json(&self, message_id: Uuid, json: &str) -> Option<String> {
        let atts: Vec<Attachment> = serde_json::from_str(json).ok()?;
        let opened = self.open_attachments(message_id, atts, false).ok()?;
        serde_json::to_string(&opened).ok()
    }

    /// The message resource: texts decrypted while the key is held; `encrypted_message` set for
    /// every message whose text is stored encrypted.
    pub(crate) fn present_message(&self, m: MessageRecord, viewer: &Viewer) -> Message {
        let mut out = match self {
            Self::Plain => Message::from_record(m, viewer),
            Self::Sealed { .. } => {
                let id = m.stored.id;
                let sealed = m.stored.message.clone();
                let mut open = m;
                open.stored.message = self
                    .open(
                        |c| Binding::message(Field::MessageText, c, id),
                        open.stored.message.as_deref(),
                        false,
                    )
                    .unwrap_or(None);
                open.stored.response_text = self
                    .open(
                        |c| Binding::message(Field::ResponseText, c, id),
                        open.stored.response_text.as_deref(),
                        false,
                    )
                    .unwrap_or(None);
                open.stored.attachments = open
                    .stored
                    .attachments
                    .as_deref()
                    .and_then(|j| self.open_attachments_json(id, j));
                open.responded_attachments = match (
                    &open.responded_attachments,
                    open.stored.response_to_message_id,
                ) {
                    (Some(j), Some(target)) => self.open_attachments_json(target, j),
                    _ => None,
                };
                let mut out = Message::from_record(open, viewer);
                out.is_encrypted = sealed.is_some();
                out.encrypted_message = sealed;
                out
            }
        };
        out.redact_purged_sender();
        out
    }

    /// The chat resource with its visitor URLs and titles decrypted (null when they cannot be).
    pub(crate) fn present_chat(&self, c: &ChatRecord) -> Chat {
        if let Self::Plain = self {
            return Chat::from_record(c);
        }
        let mut open = c.clone();
        let field = |f: Field, v: &Option<String>| {
            self.open(|id| Binding::chat(f, id), v.as_deref(), false)
                .unwrap_or(None)
        };
        open.first_visitor_message_url =
            field(Field::FirstVisitorMessageUrl, &c.first_visitor_message_url);
        open.first_visitor_message_url_title = field(
            Field::FirstVisitorMessageUrlTitle,
            &c.first_visitor_message_url_title,
        );
        open.autosuggest_url = field(Field::AutosuggestUrl, &c.autosuggest_url);
        open.autosuggest_url_title = field(Field::AutosuggestUrlTitle, &c.autosuggest_url_title);
        Chat::from_record(&open)
    }
}

/// Gives a new chat of an encrypting organization its key: generated, wrapped with the
/// organization key, and recorded as `encrypted_symmetric_key`.
pub(crate) fn init_chat_key(env: &Env, org_id: Uuid, chat: &mut ChatRecord) -> Result<()> {
    let org_key = env.org_key(org_id).ok_or_else(|| {
        ChatError::new(
            ErrorCode::ChatKeyUnavailable,
            "The organization encrypts its chats and the engine does not hold its key.",
        )
    })?;
    let chat_key = SecretKey::random()?;
    chat.encrypted_symmetric_key = Some(envelope::wrap_key(&org_key, chat.id, &chat_key)?);
    chat.is_encrypted = true;
    Ok(())
}
