//! Errors: one public type for starting and running the host, one for HTTP answers.
//!
//! [`ServerError`] is what a caller of [`crate::start`] / [`crate::run_forever`] sees and what
//! the storage layer returns inside. [`ApiError`] is what a route returns; it becomes a JSON body
//! `{"error": "<reason>"}` (plus `remainingAttempts` for a wrong passcode, and a `Retry-After`
//! header for 429). Internal failures answer a generic 500: the reason never leaves the process,
//! and it is not logged either (the log carries only method, route template and status), so no
//! link id, token or recipient can leak through an error message.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

/// Failure to start the host or to reach its storage.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// File-system or socket error (creating the data folder, binding, reading a blob).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// SQLite error.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database was written by a newer phrkit-server (its schema version is unknown).
    #[error("database schema version {found} is newer than supported version {supported}")]
    SchemaTooNew {
        /// Version found in `PRAGMA user_version`.
        found: i64,
        /// Newest version this build understands.
        supported: i64,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// Hashing the passcode failed.
    #[error("passcode hashing failed")]
    PasscodeHash,
    /// A blocking task panicked or was cancelled.
    #[error("background task failed")]
    Task,
    /// The server thread panicked.
    #[error("server thread panicked")]
    ThreadPanicked,
    /// The record store behind the FHIR operations cannot be opened.
    #[error("the record store cannot be opened")]
    Store(#[from] phrkit::Error),
    /// The FHIR configuration is unusable (an empty token, a bad token file).
    #[error("configuration: {0}")]
    Config(&'static str),
    /// A line of the accounts file is malformed (its content, holding a token, is not shown).
    #[error("accounts file, line {line}: {why}")]
    Accounts {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// An HTTP error answer of a route.
#[derive(Debug)]
pub enum ApiError {
    /// 400: malformed request; the reason is safe to show.
    BadRequest(&'static str),
    /// 401: missing or wrong management token, or a bad file ticket.
    Unauthorized(&'static str),
    /// 401 with `remainingAttempts`: missing or wrong passcode.
    Passcode {
        /// Attempts left before the link is disabled.
        remaining: i64,
        /// `true` when no passcode was sent.
        missing: bool,
    },
    /// 403: the caller's account or the link has used up a quota; the reason is safe to show.
    QuotaExceeded(&'static str),
    /// 404: unknown, expired, revoked or disabled link, or unknown file.
    NotFound,
    /// 413: body over the size limit.
    TooLarge,
    /// 415: not an SHL file content type.
    UnsupportedMediaType,
    /// 429: polling too often, or too much pending for this link or host; retry later.
    TooManyRequests {
        /// Seconds the client shall wait.
        retry_after: u64,
        /// Why, in a few words safe to show.
        reason: &'static str,
    },
    /// 500: storage or task failure; details stay inside.
    Internal,
}

/// A wait as the whole seconds of a `Retry-After` header: rounded up, at least 1 (a client told
/// "0" would retry at once).
pub(crate) fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl From<ServerError> for ApiError {
    fn from(_: ServerError) -> Self {
        ApiError::Internal
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest(reason) => (StatusCode::BAD_REQUEST, json!({ "error": reason })),
            ApiError::Unauthorized(reason) => {
                (StatusCode::UNAUTHORIZED, json!({ "error": reason }))
            }
            ApiError::Passcode { remaining, missing } => (
                StatusCode::UNAUTHORIZED,
                json!({
                    "error": if missing { "passcode required" } else { "invalid passcode" },
                    "remainingAttempts": remaining,
                }),
            ),
            ApiError::QuotaExceeded(reason) => (StatusCode::FORBIDDEN, json!({ "error": reason })),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({ "error": "not found" })),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": "body too large" }),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({ "error": "content type must be application/fhir+json, application/smart-health-card or application/smart-api-access" }),
            ),
            ApiError::TooManyRequests {
                retry_after,
                reason,
            } => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({ "error": reason, "retryAfter": retry_after })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                return response;
            }
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "internal error" }),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// Parse a JSON request body read by axum's `Bytes` extractor; an empty body counts as `{}`.
/// Over the body limit: 413; unreadable or not the expected JSON: 400.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body_bytes(body)?;
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(text).map_err(|_| ApiError::BadRequest("body is not the expected JSON"))
}

/// The bytes of a request body, mapping a too-large body to 413 and any other failure to 400.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest("unreadable body")
        }
    })
}
