//! The bearer token of the FHIR operations: where it comes from and how it is checked.
//!
//! One token per host, 32 bytes from the OS RNG as 43 base64url characters. `phrkit serve`
//! takes it from its configuration (a token file or `PHRKIT_TOKEN`) or, failing that, from
//! `<data>/token`, which [`load_or_create_token`] creates on first start with mode 0600 so only
//! the owner can read it. The token is never logged and never printed by the host.
//!
//! The check hashes both sides with SHA-256 and compares the digests in constant time
//! (`subtle`), so neither the content nor the length of the expected token leaks through
//! timing. A missing, malformed or wrong token gets the same 401 body: it says only that
//! authentication is required.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::FhirState;
use super::outcome::FhirError;
use crate::error::ServerError;
use crate::secrets::{random_token, sha256};

/// Name of the token file inside the data folder.
pub const TOKEN_FILE: &str = "token";

/// Shortest API token accepted: guessing must not be an option (a generated token is 43).
pub const MIN_TOKEN_CHARS: usize = 32;

/// The API token. Its `Debug` never shows it; its bytes are zeroed when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token; surrounding whitespace is trimmed. Errors: empty.
    pub fn new(token: &str) -> Result<ApiToken, ServerError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(ServerError::Config("the API token is empty"));
        }
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(ServerError::Config(
                "the API token is shorter than 32 characters: too easy to guess \
                 (`phrkit serve` makes a strong one when given none)",
            ));
        }
        Ok(ApiToken(token.to_owned()))
    }

    /// A new random token (32 OS-random bytes, base64url).
    pub fn generate() -> Result<ApiToken, ServerError> {
        Ok(ApiToken(random_token()?))
    }

    /// The token itself; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented token.
    pub(crate) fn matches(&self, presented: &str) -> bool {
        sha256(&self.0).ct_eq(&sha256(presented)).into()
    }
}

impl Drop for ApiToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Reads `<data_dir>/token`, or creates it (mode 0600) with a new random token. Returns the
/// token and whether it was created now. Blocks (file I/O). Errors: the folder or file cannot
/// be read or written, or the file is empty.
pub fn load_or_create_token(data_dir: &Path) -> Result<(ApiToken, bool), ServerError> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok((ApiToken::new(&text)?, false)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        Err(_) => {}
    }
    let token = ApiToken::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    std::io::Write::write_all(&mut file, format!("{}\n", token.expose()).as_bytes())?;
    file.sync_all()?;
    Ok((token, true))
}

/// Middleware on every FHIR operation: 401 unless `Authorization: Bearer <the token>`.
pub(crate) async fn require_bearer(
    State(state): State<FhirState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(token) if state.config.token.matches(token) => next.run(request).await,
        _ => FhirError::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused_and_generated_ones_are_long_enough() {
        assert!(ApiToken::new("").is_err());
        assert!(ApiToken::new("hunter2-hunter2-hunter2").is_err());
        assert!(ApiToken::new(&"x".repeat(MIN_TOKEN_CHARS)).is_ok());
        let generated = ApiToken::generate().unwrap();
        assert!(ApiToken::new(generated.expose()).is_ok());
    }
}
