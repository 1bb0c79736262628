//! Errors of the FHIR routes, answered as OperationOutcome bodies with the status the IG's
//! operations call for.
//!
//! | Variant | Status | When |
//! |---|---|---|
//! | `BadRequest` | 400 | a malformed or unknown parameter, several patients and none chosen |
//! | `Unauthorized` | 401 | no or wrong bearer token (the body says nothing more) |
//! | `NotFound` | 404 | unknown patient, empty store, unknown import job |
//! | `NotAcceptable` | 406 | `Accept` excludes the format's media types |
//! | `Conflict` | 409 | `conflict=fail` met a conflict; nothing was written |
//! | `TooLarge` | 413 | the import body is over the limit |
//! | `UnsupportedMediaType` | 415 | an import or Parameters body of another type |
//! | `Unprocessable` | 422 | the body as a whole is unusable (not FHIR, bad archive, passphrase) |
//! | `Busy` | 429 + `Retry-After` | an import is already running on this store |
//! | `Internal` | 500 | storage or task failure; the reason stays inside the process |
//!
//! Diagnostics come from the core's error messages, which name parameters and lines but never
//! resource content or secrets; internal failures say only "internal error".

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of a FHIR route.
#[derive(Debug)]
pub(crate) enum FhirError {
    BadRequest(String),
    Unauthorized,
    NotFound(String),
    NotAcceptable(String),
    Conflict(String),
    TooLarge(u64),
    UnsupportedMediaType(&'static str),
    Unprocessable(String),
    Busy,
    TimedOut(String),
    Internal,
}

impl FhirError {
    /// Maps a core error to its HTTP answer.
    pub fn from_core(e: phrkit::Error) -> FhirError {
        use phrkit::Error as E;
        match e {
            E::InvalidParameter { .. } => FhirError::BadRequest(e.to_string()),
            E::NotFound(_) => FhirError::NotFound(e.to_string()),
            E::ImportAborted(_) => FhirError::Conflict(e.to_string()),
            E::InvalidInput(_)
            | E::Archive(_)
            | E::PassphraseRequired
            | E::WrongPassphrase
            | E::Unsupported(_) => FhirError::Unprocessable(e.to_string()),
            _ => FhirError::Internal,
        }
    }

    /// The status and the OperationOutcome body.
    pub fn status_and_body(&self) -> (StatusCode, Value) {
        let (status, code, text) = match self {
            FhirError::BadRequest(t) => (StatusCode::BAD_REQUEST, "invalid", t.clone()),
            FhirError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "login",
                "authentication required".to_owned(),
            ),
            FhirError::NotFound(t) => (StatusCode::NOT_FOUND, "not-found", t.clone()),
            FhirError::NotAcceptable(t) => (StatusCode::NOT_ACCEPTABLE, "not-supported", t.clone()),
            FhirError::Conflict(t) => (StatusCode::CONFLICT, "conflict", t.clone()),
            FhirError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-costly",
                format!("the body is larger than the {limit}-byte limit"),
            ),
            FhirError::UnsupportedMediaType(t) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
                (*t).to_owned(),
            ),
            FhirError::Unprocessable(t) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", t.clone()),
            FhirError::Busy => (
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "an import is already running on this record; retry later".to_owned(),
            ),
            FhirError::TimedOut(t) => (StatusCode::REQUEST_TIMEOUT, "timeout", t.clone()),
            FhirError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "internal error".to_owned(),
            ),
        };
        (status, outcome("error", code, &text))
    }
}

/// A one-issue OperationOutcome.
pub(crate) fn outcome(severity: &str, code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": severity, "code": code, "diagnostics": diagnostics }],
    })
}

/// A FHIR JSON answer.
pub(crate) fn fhir_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    response
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        let mut response = fhir_json(status, body);
        let headers = response.headers_mut();
        match self {
            FhirError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            FhirError::Busy => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(super::IMPORT_RETRY_AFTER),
                );
            }
            _ => {}
        }
        response
    }
}
