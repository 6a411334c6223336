//! The one error type of the engine. Every surface (Rust, HTTP, C, JS) reports the same stable
//! `code` and maps it to the same HTTP-equivalent status.

use std::collections::BTreeMap;
use std::fmt;

/// Stable error codes. The numbers are the C ABI's result codes and never change meaning;
/// new codes get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// 401: no or unknown credentials.
    NotAuthenticated = 1,
    /// 403: the organization has no active subscription.
    NoActiveSubscription = 2,
    /// 403: the actor may not act on this user or organization.
    PermissionDenied = 3,
    /// 403: the reports permission is needed.
    ReportsPermissionRequired = 4,
    /// 403: private chat history is on and the actor lacks the reports permission.
    PrivateChatHistory = 5,
    /// 404: the resource does not exist or the actor may not see it.
    NotFound = 6,
    /// 404: the chat is no longer pending (or has ended).
    ChatNotPending = 7,
    /// 400: a field is missing or invalid (`errors` says which).
    ValidationError = 8,
    /// 400: the payload is not in the expected format.
    ParseError = 9,
    /// 409: the chat has ended (sending messages).
    ChatEnded = 10,
    /// 400: the chat has already ended (updating it or a membership).
    ChatAlreadyEnded = 11,
    /// 409: the user is not present.
    UserNotPresent = 12,
    /// 409: no longer returned: resuming a visitor's chat that someone else serves answers
    /// [`ErrorCode::PrivateChatTaken`], like every way into a served private chat. Kept so that
    /// the number keeps its meaning and code naming it still builds.
    VisitorHasChat = 13,
    /// 409: private chats: another present user already serves the chat (joining a routed
    /// chat, or resuming a visitor's chat in a room).
    PrivateChatTaken = 14,
    /// 400: the invitation has already expired.
    InvitationExpired = 15,
    /// 400: the invitation has already been accepted.
    InvitationAccepted = 16,
    /// 400: a conversation starter for that language exists.
    ConversationStarterExists = 17,
    /// 422: an idempotency key was reused with another body.
    IdempotencyKeyReused = 18,
    /// 409: the chat's encryption key is no longer held by the engine.
    ChatKeyUnavailable = 19,
    /// 409: a resource with the same unique key exists.
    AlreadyExists = 20,
    /// 500: the database is from a newer engine version.
    SchemaTooNew = 21,
    /// 500: storage failure (I/O, corruption): a fault of the host, never of the input.
    Storage = 22,
    /// 500: an internal invariant failed.
    Internal = 23,
    /// 409: only a failed webhook delivery can be retried (this one was acknowledged or is
    /// still being retried).
    DeliveryNotFailed = 24,
    /// 503: the database cannot be reached (a shared PostgreSQL database that is down or
    /// restarting). Retry the call; a creating call with its idempotency key, since a
    /// connection lost while committing leaves its outcome unknown.
    StorageUnavailable = 25,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 25] = [
        Self::NotAuthenticated,
        Self::NoActiveSubscription,
        Self::PermissionDenied,
        Self::ReportsPermissionRequired,
        Self::PrivateChatHistory,
        Self::NotFound,
        Self::ChatNotPending,
        Self::ValidationError,
        Self::ParseError,
        Self::ChatEnded,
        Self::ChatAlreadyEnded,
        Self::UserNotPresent,
        Self::VisitorHasChat,
        Self::PrivateChatTaken,
        Self::InvitationExpired,
        Self::InvitationAccepted,
        Self::ConversationStarterExists,
        Self::IdempotencyKeyReused,
        Self::ChatKeyUnavailable,
        Self::AlreadyExists,
        Self::SchemaTooNew,
        Self::Storage,
        Self::Internal,
        Self::DeliveryNotFailed,
        Self::StorageUnavailable,
    ];

    /// The snake_case code used in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAuthenticated => "not_authenticated",
            Self::NoActiveSubscription => "no_active_subscription",
            Self::PermissionDenied => "permission_denied",
            Self::ReportsPermissionRequired => "reports_permission_required",
            Self::PrivateChatHistory => "private_chat_history",
            Self::NotFound => "not_found",
            Self::ChatNotPending => "chat_not_pending",
            Self::ValidationError => "validation_error",
            Self::ParseError => "parse_error",
            Self::ChatEnded => "chat_ended",
            Self::ChatAlreadyEnded => "chat_already_ended",
            Self::UserNotPresent => "user_not_present",
            Self::VisitorHasChat => "visitor_has_chat",
            Self::PrivateChatTaken => "private_chat_taken",
            Self::InvitationExpired => "invitation_expired",
            Self::InvitationAccepted => "invitation_accepted",
            Self::ConversationStarterExists => "conversation_starter_exists",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::ChatKeyUnavailable => "chat_key_unavailable",
            Self::AlreadyExists => "already_exists",
            Self::SchemaTooNew => "schema_too_new",
            Self::Storage => "storage_error",
            Self::Internal => "internal_error",
            Self::DeliveryNotFailed => "delivery_not_failed",
            Self::StorageUnavailable => "storage_unavailable",
        }
    }

    /// The HTTP status every surface reports for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::NotAuthenticated => 401,
            Self::NoActiveSubscription
            | Self::PermissionDenied
            | Self::ReportsPermissionRequired
            | Self::PrivateChatHistory => 403,
            Self::NotFound | Self::ChatNotPending => 404,
            Self::ValidationError
            | Self::ParseError
            | Self::ChatAlreadyEnded
            | Self::InvitationExpired
            | Self::InvitationAccepted
            | Self::ConversationStarterExists => 400,
            Self::ChatEnded
            | Self::UserNotPresent
            | Self::VisitorHasChat
            | Self::PrivateChatTaken
            | Self::ChatKeyUnavailable
            | Self::AlreadyExists
            | Self::DeliveryNotFailed => 409,
            Self::IdempotencyKeyReused => 422,
            Self::SchemaTooNew | Self::Storage | Self::Internal => 500,
            Self::StorageUnavailable => 503,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Field name → sentences, for validation errors.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// An engine error: a stable code, a sentence, and for validation errors the fields at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: FieldErrors,
}

pub type Result<T, E = ChatError> = std::result::Result<T, E>;

impl ChatError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: FieldErrors::new(),
        }
    }
    pub fn status(&self) -> u16 {
        self.code.http_status()
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} was not found."))
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::NotAuthenticated,
            "Authentication credentials were not provided or are invalid.",
        )
    }
    pub fn permission_denied(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, detail)
    }
    pub fn parse(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ParseError, detail)
    }
    /// A validation error about one field.
    pub fn field(field: impl Into<String>, sentence: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.into(), vec![sentence.into()]);
        Self::validation(errors)
    }
    pub fn required(field: &str) -> Self {
        Self::field(field, "This field is required.")
    }
    pub fn validation(errors: FieldErrors) -> Self {
        let detail = match errors.iter().next() {
            Some((field, sentences)) if errors.len() == 1 && sentences.len() == 1 => {
                format!("Invalid input: {field}: {}", sentences[0])
            }
            _ => format!("Invalid input in {} field(s).", errors.len()),
        };
        Self {
            code: ErrorCode::ValidationError,
            detail,
            errors,
        }
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, detail)
    }

    /// The error body of every surface: `{"detail", "code"}` plus `errors` for validation errors.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "detail": self.detail, "code": self.code.as_str() });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::to_value(&self.errors).unwrap_or_default();
        }
        body
    }
}

impl From<rusqlite::Error> for ChatError {
    fn from(e: rusqlite::Error) -> Self {
        Self::new(ErrorCode::Storage, format!("storage error: {e}"))
    }
}

/// Collects field errors so that a validator reports every problem of a payload at once.
#[derive(Default, Debug)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, sentence: impl Into<String>) {
        self.errors
            .entry(field.into())
            .or_default()
            .push(sentence.into());
    }
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ChatError::validation(self.errors))
        }
    }
}

impl From<serde_json::Error> for ChatError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(format!("serialization failed: {e}"))
    }
}
