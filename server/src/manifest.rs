//! Public routes a link recipient uses: the manifest, file downloads, and `U`-flag direct GETs.
//!
//! Order of checks on a manifest request, each cheaper than the next: the body must name a
//! `recipient` (400); the link must be live (404 for unknown, expired, revoked or disabled, with
//! no hint which); the recipient must not poll faster than the configured interval (429 with
//! `Retry-After`, spending no passcode attempt); a `P` link needs its passcode (401 with
//! `remainingAttempts`). The passcode check runs under the link's lock and re-reads the link
//! inside it, so parallel guesses are judged one at a time and each failure spends exactly one
//! attempt of the lifetime allowance; when none are left the link answers 404 for good (until its
//! owner `PUT`s it). A *missing* passcode answers 401 without spending an attempt (as
//! uwcirg/smart.health.links does): it is not a guess.
//!
//! Each file is either `embedded` (when its JWE fits the smaller of the client's
//! `embeddedLengthMax` and the server cap) or given a `location` with a fresh single-use ticket,
//! never both: kill-the-clipboard rejects an entry that has both. Every successful manifest or
//! direct GET is logged as `(recipient, time)` for the sharer; a direct GET that names no
//! recipient is logged as [`UNNAMED`], so no access goes unrecorded. A `recipient` longer
//! than [`MAX_RECIPIENT`] characters is refused (400): it is stored and shown to the sharer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::db::{self, Link};
use crate::error::{ApiError, json_body};
use crate::secrets::verify_passcode;
use crate::state::HostState;
use crate::tickets::IssueError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestRequest {
    recipient: Option<String>,
    passcode: Option<String>,
    embedded_length_max: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct TicketQuery {
    ticket: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RecipientQuery {
    recipient: Option<String>,
}

/// Longest `recipient` accepted, in characters.
pub const MAX_RECIPIENT: usize = 200;

/// What the access log says for a direct GET that named no recipient.
pub const UNNAMED: &str = "(recipient not given)";

/// The request's recipient, trimmed; `None` when absent or blank, 400 when too long.
fn recipient_of(given: Option<String>) -> Result<Option<String>, ApiError> {
    match given
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
    {
        Some(r) if r.chars().count() > MAX_RECIPIENT => Err(ApiError::BadRequest(
            "recipient is longer than 200 characters",
        )),
        other => Ok(other),
    }
}

/// `POST /api/shl/{id}`: the manifest → 200 `{files: [...]}`; 400, 401, 404, 429 as above.
pub(crate) async fn manifest(
    State(state): State<HostState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let request: ManifestRequest = json_body(body)?;
    let recipient =
        recipient_of(request.recipient)?.ok_or(ApiError::BadRequest("recipient is required"))?;
    let link = live_link(&state, id.clone()).await?;
    state
        .inner
        .polls
        .check(link.pk, &recipient)
        .map_err(|retry_after| ApiError::TooManyRequests {
            retry_after,
            reason: "polling too often",
        })?;
    if link.passcode_hash.is_some() {
        check_passcode(&state, link.pk, request.passcode).await?;
    }

    let cap = request
        .embedded_length_max
        .map_or(state.inner.embed_cap, |max| {
            state
                .inner
                .embed_cap
                .min(usize::try_from(max).unwrap_or(usize::MAX))
        });
    let (pk, blobs) = (link.pk, state.inner.blobs.clone());
    let files = state
        .inner
        .db
        .call(move |conn| {
            let rows = db::files(conn, pk)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let fits = usize::try_from(row.length).is_ok_and(|len| len <= cap);
                let embedded = if fits { blobs.get(&row.hash)? } else { None };
                out.push((row, embedded));
            }
            db::log_access(conn, pk, &recipient)?;
            Ok(out)
        })
        .await?;

    let by_location: Vec<&str> = files
        .iter()
        .filter(|(_, embedded)| embedded.is_none())
        .map(|(row, _)| row.hash.as_str())
        .collect();
    let mut tickets = state
        .inner
        .tickets
        .issue_all(link.pk, &by_location)
        .map_err(|e| match e {
            IssueError::Full { retry_after } => ApiError::TooManyRequests {
                retry_after,
                reason: "too many file downloads of this link are pending",
            },
            IssueError::Host(e) => e.into(),
        })?
        .into_iter();
    let mut entries = Vec::with_capacity(files.len());
    for (row, embedded) in files {
        let mut entry = Map::new();
        entry.insert("contentType".into(), row.content_type.into());
        if let Some(jwe) = embedded {
            entry.insert("embedded".into(), jwe.into());
        } else {
            // One ticket was minted per file not embedded, in this order.
            let ticket = tickets.next().ok_or(ApiError::Internal)?;
            let location = format!("{}/file/{}?ticket={ticket}", state.link_url(&id), row.hash);
            entry.insert("location".into(), location.into());
        }
        entry.insert("lastUpdated".into(), db::rfc3339(row.updated_ms).into());
        entries.push(Value::Object(entry));
    }
    Ok(Json(json!({ "files": entries })))
}

/// `GET /api/shl/{id}/file/{hash}?ticket=…` → 200 `application/jose`; 401 bad, used or expired
/// ticket; 404 unknown or no longer live link, or unknown file.
pub(crate) async fn file(
    State(state): State<HostState>,
    Path((id, hash)): Path<(String, String)>,
    query: Result<Query<TicketQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let link = live_link(&state, id).await?;
    let ticket = query
        .ok()
        .and_then(|Query(q)| q.ticket)
        .ok_or(ApiError::Unauthorized("missing ticket"))?;
    if !state.inner.tickets.redeem(&ticket, link.pk, &hash) {
        return Err(ApiError::Unauthorized("invalid, used or expired ticket"));
    }
    let blobs = state.inner.blobs.clone();
    let jwe = state
        .inner
        .db
        .call(move |conn| match db::file(conn, link.pk, &hash)? {
            Some(row) => blobs.get(&row.hash),
            None => Ok(None),
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(jose(jwe))
}

/// `GET /api/shl/{id}?recipient=…` for a `U` link → 200 `application/jose` (its one file);
/// 404 for other links. The recipient is optional (some clients omit it); every access is
/// logged, as [`UNNAMED`] without one.
pub(crate) async fn direct(
    State(state): State<HostState>,
    Path(id): Path<String>,
    query: Result<Query<RecipientQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let link = live_link(&state, id).await?;
    if !link.is_direct() {
        return Err(ApiError::NotFound);
    }
    let recipient = recipient_of(query.ok().and_then(|Query(q)| q.recipient))?
        .unwrap_or_else(|| UNNAMED.to_string());
    let blobs = state.inner.blobs.clone();
    let jwe = state
        .inner
        .db
        .call(move |conn| {
            let Some(row) = db::files(conn, link.pk)?.pop() else {
                return Ok(None);
            };
            let jwe = blobs.get(&row.hash)?;
            if jwe.is_some() {
                db::log_access(conn, link.pk, &recipient)?;
            }
            Ok(jwe)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(jose(jwe))
}

/// The link `id` if recipients may use it now, else 404.
async fn live_link(state: &HostState, id: String) -> Result<Link, ApiError> {
    let link = state
        .inner
        .db
        .call(move |conn| db::find_link(conn, &id))
        .await?;
    match link {
        Some(link) if link.is_live(db::now_ms()) => Ok(link),
        _ => Err(ApiError::NotFound),
    }
}

/// Judge a passcode for link `pk`, one request at a time per link.
async fn check_passcode(
    state: &HostState,
    pk: i64,
    passcode: Option<String>,
) -> Result<(), ApiError> {
    let _guard = state.inner.locks.lock(pk).await;
    // Re-read inside the lock: an earlier holder may have spent the last attempt.
    let link = state
        .inner
        .db
        .call(move |conn| db::link_by_pk(conn, pk))
        .await?
        .filter(|link| link.is_live(db::now_ms()))
        .ok_or(ApiError::NotFound)?;
    let Some(hash) = link.passcode_hash else {
        return Ok(());
    };
    let Some(passcode) = passcode else {
        return Err(ApiError::Passcode {
            remaining: link.remaining_attempts,
            missing: true,
        });
    };
    let correct = state
        .kdf(move |memory| Ok(verify_passcode(&passcode, &hash, memory)))
        .await?;
    if correct {
        return Ok(());
    }
    match state
        .inner
        .db
        .call(move |conn| db::spend_attempt(conn, pk))
        .await?
    {
        Some(remaining) => Err(ApiError::Passcode {
            remaining,
            missing: false,
        }),
        None => Err(ApiError::NotFound),
    }
}

fn jose(jwe: String) -> Response {
    ([(header::CONTENT_TYPE, "application/jose")], jwe).into_response()
}
