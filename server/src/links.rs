//! Management routes: the sharing app creates a link, uploads ciphertext, updates, revokes, and
//! reads the access log.
//!
//! The shape follows the reference server (jmandel/vaxx.link), with one difference: there,
//! `POST /api/shl` needs no authentication; here it needs an account's token (module
//! `accounts`), so strangers cannot fill the host. It returns the link id and a management
//! token; every other management call carries `Authorization: Bearer <managementToken>`. An unknown id answers 404 before the token
//! is looked at; a missing or wrong token answers 401. The token is checked against its stored
//! SHA-256 in constant time.
//!
//! A new link and each upload must stay within the host's quotas (files and bytes per link,
//! bytes and live links per account); past one, the answer is 403 with the reason and nothing
//! is stored.
//!
//! The host never sees the SHL key: uploads are JWE compact strings the app already encrypted.
//! The only check on them is their shape (five base64url parts, the second, the encrypted key,
//! may be empty for `alg: dir`), which catches a plain JSON file or a 3-part JWS uploaded by
//! mistake. The upload's `Content-Type` is the SHL content type echoed in manifests.
//!
//! Flags: the host needs `P` (passcode) and `U` (direct file); the flag string must be one of the
//! interoperable ones (`L`, `P`, `LP`, `U`, `LU`). A passcode implies `P` when no flag is given;
//! `P` without a passcode, or a passcode with a flag lacking `P` (including `U`), is a 400.
//! `PUT` replaces the fields it carries and keeps the others, then reactivates the link and
//! refills its passcode attempts; it cannot add a passcode to a link shared without `P`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::accounts;
use crate::db::{self, FileRow, Link, NewLink};
use crate::error::{ApiError, body_bytes, json_body};
use crate::secrets::{hash_passcode, random_token, sha256_b64url, token_matches};
use crate::state::HostState;

/// Content types an SHL file may have.
pub const SHL_CONTENT_TYPES: [&str; 3] = [
    "application/fhir+json",
    "application/smart-health-card",
    "application/smart-api-access",
];

/// Passcode attempts a link gets when the request does not say.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 5;

/// Longest label, in characters (spec: ≤ 80).
const MAX_LABEL_CHARS: usize = 80;

/// Most passcode attempts a link may be given.
const MAX_ATTEMPTS_LIMIT: i64 = 1_000_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateRequest {
    passcode: Option<String>,
    exp: Option<i64>,
    label: Option<String>,
    flag: Option<String>,
    max_attempts: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct UpdateRequest {
    passcode: Option<String>,
    exp: Option<i64>,
    label: Option<String>,
}

/// `POST /api/shl`: create a link → 201 `{id, managementToken, url, active}`.
pub(crate) async fn create(
    State(state): State<HostState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = bearer(&headers)
        .and_then(|token| accounts::find(&state.inner.accounts, token))
        .ok_or(ApiError::Unauthorized(
            "creating a link needs `Authorization: Bearer <account token>` of this host",
        ))?
        .name()
        .to_owned();
    let request: CreateRequest = json_body(body)?;
    let flag = link_flag(request.flag.as_deref(), request.passcode.is_some())?;
    check_label(request.label.as_deref())?;
    let max_attempts = request.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=MAX_ATTEMPTS_LIMIT).contains(&max_attempts) {
        return Err(ApiError::BadRequest(
            "maxAttempts must be between 1 and 1000000",
        ));
    }
    let passcode_hash = match request.passcode {
        Some(passcode) => Some(hash_new_passcode(&state, passcode).await?),
        None => None,
    };
    let id = random_token()?;
    let token = random_token()?;
    let url = state.link_url(&id);
    let link = NewLink {
        id: id.clone(),
        token: token.clone(),
        passcode_hash,
        flag,
        label: request.label,
        exp: request.exp,
        max_attempts,
        account,
    };
    let quotas = state.inner.quotas;
    state
        .inner
        .db
        .call(move |conn| db::insert_link(conn, &link, &quotas))
        .await?
        .map_err(|over| ApiError::QuotaExceeded(over.0))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "managementToken": token, "url": url, "active": true })),
    ))
}

/// `PUT /api/shl/{id}`: update passcode / exp / label, reactivate, refill attempts → 200.
pub(crate) async fn update(
    State(state): State<HostState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let link = authorize(&state, &id, &headers).await?;
    let request: UpdateRequest = json_body(body)?;
    check_label(request.label.as_deref())?;
    let passcode_hash = match request.passcode {
        Some(_) if link.passcode_hash.is_none() => {
            return Err(ApiError::BadRequest(
                "this link was created without a passcode (flag P)",
            ));
        }
        Some(passcode) => Some(hash_new_passcode(&state, passcode).await?),
        None => None,
    };
    let (exp, label) = (request.exp, request.label);
    state
        .inner
        .db
        .call(move |conn| {
            db::update_link(
                conn,
                link.pk,
                passcode_hash.as_deref(),
                exp,
                label.as_deref(),
            )
        })
        .await?;
    Ok(Json(
        json!({ "id": id, "url": state.link_url(&id), "active": true }),
    ))
}

/// `DELETE /api/shl/{id}`: revoke; manifest and file requests then get 404 → 200.
pub(crate) async fn revoke(
    State(state): State<HostState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let link = authorize(&state, &id, &headers).await?;
    state
        .inner
        .db
        .call(move |conn| db::revoke_link(conn, link.pk))
        .await?;
    Ok(Json(
        json!({ "id": id, "url": state.link_url(&id), "active": false }),
    ))
}

/// `POST /api/shl/{id}/file`: store one JWE → 200 `{added: <content address>}`. A `U` link keeps
/// only its newest file.
pub(crate) async fn upload(
    State(state): State<HostState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let link = authorize(&state, &id, request.headers()).await?;
    let content_type = shl_content_type(request.headers())?;
    let body = body_bytes(Bytes::from_request(request, &()).await)?;
    let jwe = body.trim_ascii();
    if !is_jwe_compact(jwe) {
        return Err(ApiError::BadRequest(
            "body must be a JWE compact string (five base64url parts)",
        ));
    }
    let length = i64::try_from(jwe.len()).map_err(|_| ApiError::TooLarge)?;
    let hash = sha256_b64url(jwe);
    let jwe = jwe.to_vec();
    let blobs = state.inner.blobs.clone();
    let file = FileRow {
        hash: hash.clone(),
        content_type,
        length,
        updated_ms: db::now_ms(),
    };
    let quotas = state.inner.quotas;
    state
        .inner
        .db
        .call(move |conn| db::add_file(conn, &link, &file, &quotas, &blobs, &jwe))
        .await?
        .map_err(|over| ApiError::QuotaExceeded(over.0))?;
    Ok(Json(json!({ "added": hash })))
}

/// `GET /api/shl/{id}/accesses` → 200 `[{recipient, time}]`, oldest first.
pub(crate) async fn accesses(
    State(state): State<HostState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let link = authorize(&state, &id, &headers).await?;
    let rows = state
        .inner
        .db
        .call(move |conn| db::accesses(conn, link.pk))
        .await?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(recipient, ms)| json!({ "recipient": recipient, "time": db::rfc3339(ms) }))
        .collect();
    Ok(Json(Value::Array(list)))
}

/// The link `id` if the request carries its management token: 404 unknown, 401 bad token.
async fn authorize(state: &HostState, id: &str, headers: &HeaderMap) -> Result<Link, ApiError> {
    let token = bearer(headers).map(str::to_owned);
    let id = id.to_owned();
    let link = state
        .inner
        .db
        .call(move |conn| db::find_link(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    match token {
        Some(token) if token_matches(&token, &link.token_hash) => Ok(link),
        _ => Err(ApiError::Unauthorized(
            "missing or invalid management token",
        )),
    }
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

async fn hash_new_passcode(state: &HostState, passcode: String) -> Result<String, ApiError> {
    if passcode.is_empty() {
        return Err(ApiError::BadRequest("passcode must not be empty"));
    }
    Ok(state
        .kdf(move |memory| hash_passcode(&passcode, memory))
        .await?)
}

/// The flag string to store, from the requested one and whether a passcode was given.
fn link_flag(requested: Option<&str>, has_passcode: bool) -> Result<String, ApiError> {
    let flag = match requested {
        None if has_passcode => "P",
        None => "",
        Some(flag @ ("" | "L" | "P" | "LP" | "U" | "LU")) => flag,
        Some(_) => return Err(ApiError::BadRequest("flag must be one of L, P, LP, U, LU")),
    };
    match (flag.contains('P'), has_passcode) {
        (true, false) => Err(ApiError::BadRequest("flag P needs a passcode")),
        (false, true) => Err(ApiError::BadRequest(
            "a passcode needs flag P (and U cannot have one)",
        )),
        _ => Ok(flag.to_owned()),
    }
}

fn check_label(label: Option<&str>) -> Result<(), ApiError> {
    match label {
        Some(label) if label.chars().count() > MAX_LABEL_CHARS => {
            Err(ApiError::BadRequest("label must be at most 80 characters"))
        }
        _ => Ok(()),
    }
}

/// The SHL content type of an upload (media type without parameters, lower case), or 415.
fn shl_content_type(headers: &HeaderMap) -> Result<String, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .ok_or(ApiError::UnsupportedMediaType)?;
    if SHL_CONTENT_TYPES.contains(&media_type.as_str()) {
        Ok(media_type)
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// Whether `text` has the shape of a JWE compact string: five base64url parts, all but the
/// second (the encrypted key, empty for `alg: dir`) non-empty.
fn is_jwe_compact(text: &[u8]) -> bool {
    let parts: Vec<&[u8]> = text.split(|&b| b == b'.').collect();
    parts.len() == 5
        && parts.iter().enumerate().all(|(i, part)| {
            (i == 1 || !part.is_empty())
                && part
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwe_shape() {
        assert!(is_jwe_compact(b"eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn"));
        assert!(!is_jwe_compact(b"eyJhbGciOiJFUzI1NiJ9.cGF5bG9hZA.c2ln"));
        assert!(!is_jwe_compact(b"{\"resourceType\":\"Bundle\"}"));
        assert!(!is_jwe_compact(b"a..b.c.d=="));
        assert!(!is_jwe_compact(b".b.c.d.e"));
    }

    #[test]
    fn flags() {
        assert_eq!(link_flag(None, true).unwrap(), "P");
        assert_eq!(link_flag(None, false).unwrap(), "");
        assert_eq!(link_flag(Some("LU"), false).unwrap(), "LU");
        assert!(link_flag(Some("P"), false).is_err());
        assert!(link_flag(Some("U"), true).is_err());
        assert!(link_flag(Some("PU"), false).is_err());
        assert!(link_flag(Some("X"), false).is_err());
    }
}
