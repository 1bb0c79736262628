//! `POST /Bundle/$import`: the request body streamed into [`phrkit::Store::import`].
//!
//! **Bridge.** An async task pulls the body's chunks and passes them through a bounded channel
//! (16 chunks) to a blocking `Read` ([`ChannelReader`]) that the importer reads on the blocking
//! pool. The importer parses lines as they arrive, so memory is bounded by the channel and the
//! importer's own batches, whatever the body's size. The byte limit is enforced on the way:
//! a `Content-Length` over it is refused before reading, a chunked body as soon as it crosses
//! it (413); either way the run rolls back.
//!
//! **Content types:** `application/x-ndjson`, `application/fhir+ndjson` (`.phr`),
//! `application/fhir+json` (a Bundle or resource; `application/json` too) and `application/zip`
//! (a `.sphr`, its passphrase in `X-PHR-Passphrase`); anything else is 415.
//!
//! **Async.** With `Prefer: respond-async` the body is first received into an anonymous
//! temporary file beside the store (so the connection is done with before the answer, and
//! memory stays flat), then the answer is 202 with `Content-Location: <base>/import-jobs/<id>`
//! and the import runs in the background (`jobs`).
//!
//! **One import at a time** per store: the import lock is taken before the body is read and
//! held until the run ends (for async, until the background run ends); a second import gets
//! 429 with `Retry-After`. Imports are all-or-nothing (one transaction), so an interrupted
//! upload writes nothing.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use phrkit::ImportOptions;
use phrkit::import::ImportSource;
use phrkit::progress::ProgressListener;
use phrkit::secret::Secret;
use serde_json::Value;
use tokio::sync::mpsc;

use super::FhirState;
use super::export::{PASSPHRASE_HEADER, content_type};
use super::jobs::Job;
use super::outcome::{FhirError, fhir_json, outcome};
use super::stream::Chunk;

/// The name the run's Provenance records for the input.
const SOURCE_NAME: &str = "$import request body";

const ACCEPTED_TYPES: &str = "the body must be application/x-ndjson, application/fhir+ndjson, \
                              application/fhir+json or application/zip";

/// `POST /Bundle/$import`.
pub(crate) async fn import(
    State(state): State<FhirState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Body,
) -> Response {
    match prepare(&state, &headers, query) {
        Ok((opts, passphrase)) => run(state, &headers, opts, passphrase, body).await,
        Err(e) => e.into_response(),
    }
}

/// Options, content type, size and the import lock's availability, before reading the body.
fn prepare(
    state: &FhirState,
    headers: &HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<(ImportOptions, Option<Secret>), FhirError> {
    let Query(params) =
        query.map_err(|_| FhirError::BadRequest("the query string is malformed".into()))?;
    let mut opts = ImportOptions::default();
    for (name, value) in &params {
        let parsed = match name.as_str() {
            "strategy" => value.parse().map(|v| opts.strategy = v),
            "mode" => value.parse().map(|v| opts.mode = v),
            "conflict" => value.parse().map(|v| opts.conflict = v),
            "on_invalid" | "onInvalid" => value.parse().map(|v| opts.on_invalid = v),
            "passphrase" => {
                return Err(FhirError::BadRequest(
                    "a passphrase must not travel in the URL; send it in the X-PHR-Passphrase header"
                        .into(),
                ));
            }
            other => Err(phrkit::Error::param(other, "unknown parameter of $import")),
        };
        parsed.map_err(FhirError::from_core)?;
    }
    let ct = content_type(headers);
    if !matches!(
        ct.as_str(),
        "application/x-ndjson"
            | "application/fhir+ndjson"
            | "application/ndjson"
            | "application/fhir+json"
            | "application/json"
            | "application/zip"
    ) {
        return Err(FhirError::UnsupportedMediaType(ACCEPTED_TYPES));
    }
    let limit = state.config.max_import_bytes;
    if content_length(headers).is_some_and(|n| n > limit) {
        return Err(FhirError::TooLarge(limit));
    }
    let passphrase = headers
        .get(PASSPHRASE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    Ok((opts, passphrase))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn wants_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

async fn run(
    state: FhirState,
    headers: &HeaderMap,
    opts: ImportOptions,
    passphrase: Option<Secret>,
    body: Body,
) -> Response {
    let Ok(guard) = state.import_lock.clone().try_lock_owned() else {
        return FhirError::Busy.into_response();
    };
    let size = content_length(headers);
    let fault = Arc::new(AtomicU8::new(BodyFault::None as u8));
    let reader = pump(body, &state.config, fault.clone());
    let config = state.config.clone();
    let store = state.store.clone();

    if wants_async(headers) {
        let spool_dir = config
            .store
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let spooled = tokio::task::spawn_blocking(move || -> io::Result<std::fs::File> {
            let mut file = tempfile::tempfile_in(spool_dir)?;
            let mut reader = reader;
            io::copy(&mut reader, &mut file)?;
            io::Seek::rewind(&mut file)?;
            Ok(file)
        })
        .await;
        let file = match spooled {
            Ok(Ok(file)) => file,
            _ if let Some(e) = BodyFault::answer(&fault, &config) => return e.into_response(),
            Ok(Err(_)) => return BodyFault::Interrupted.error(&config).into_response(),
            Err(_) => return FhirError::Internal.into_response(),
        };
        let Ok(id) = crate::secrets::random_token() else {
            return FhirError::Internal.into_response();
        };
        let job = state.jobs.insert(&id);
        tokio::task::spawn_blocking(move || {
            let source =
                ImportSource::from_reader(SOURCE_NAME, file, size).with_passphrase(passphrase);
            let answer = answer_of(import_blocking(&store, &config, source, &opts, &*job));
            job.finish(answer);
            drop(guard);
        });
        let mut response = fhir_json(
            StatusCode::ACCEPTED,
            outcome(
                "information",
                "informational",
                "accepted; poll the Content-Location URL for the report",
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("{}/import-jobs/{id}", state.base_url)) {
            response.headers_mut().insert(header::CONTENT_LOCATION, v);
        }
        return response;
    }

    let result = tokio::task::spawn_blocking(move || {
        let source =
            ImportSource::from_reader(SOURCE_NAME, reader, size).with_passphrase(passphrase);
        let result = import_blocking(
            &store,
            &config,
            source,
            &opts,
            &phrkit::progress::NoProgress,
        );
        drop(guard);
        result
    })
    .await;
    match result {
        _ if let Some(e) = BodyFault::answer(&fault, &state.config) => e.into_response(),
        Ok(result) => {
            let (status, body) = answer_of(result);
            fhir_json(status, body)
        }
        Err(_) => FhirError::Internal.into_response(),
    }
}

/// Imports into the shared store; blocks. The test hook fires with the first progress
/// report, once the run holds the store's writer.
fn import_blocking(
    store: &phrkit::Store,
    config: &super::FhirConfig,
    source: ImportSource<'_>,
    opts: &ImportOptions,
    progress: &dyn ProgressListener,
) -> Result<phrkit::ImportReport, FhirError> {
    let hook = std::sync::Mutex::new(config.import_hook.clone());
    let hooked = |p: &phrkit::progress::Progress| {
        if let Some(hook) = hook.lock().ok().and_then(|mut h| h.take()) {
            (hook.0)();
        }
        progress.on_progress(p)
    };
    store
        .import(vec![source], opts, &hooked)
        .map_err(FhirError::from_core)
}

/// The HTTP answer of an import run: 200 with the report (400 when nothing in the body was a
/// FHIR resource), or the error's status and outcome.
fn answer_of(result: Result<phrkit::ImportReport, FhirError>) -> (StatusCode, Value) {
    match result {
        // Bytes that hold no FHIR resource at all are the client's error, not a 200 no-op.
        Ok(report) if report.nothing_read() => {
            (StatusCode::BAD_REQUEST, report.to_operation_outcome())
        }
        Ok(report) => (StatusCode::OK, report.to_operation_outcome()),
        Err(e) => e.status_and_body(),
    }
}

/// Why a request body stopped before its end, when it did: the answer names this rather than
/// the importer's read error (which only says the input broke off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum BodyFault {
    /// The body arrived whole (or the run failed for another reason).
    None = 0,
    /// It crossed `max_import_bytes`.
    TooLarge = 1,
    /// Nothing arrived for the host's `body_timeout`.
    Stalled = 2,
    /// It was still arriving at `import_deadline`.
    Late = 3,
    /// The connection broke, or the body was shorter than its `Content-Length`.
    Interrupted = 4,
}

impl BodyFault {
    /// The answer for the fault recorded in `cell`, if any.
    fn answer(cell: &AtomicU8, config: &super::FhirConfig) -> Option<FhirError> {
        let fault = match cell.load(Ordering::Acquire) {
            1 => BodyFault::TooLarge,
            2 => BodyFault::Stalled,
            3 => BodyFault::Late,
            4 => BodyFault::Interrupted,
            _ => return None,
        };
        Some(fault.error(config))
    }

    /// The HTTP error for this fault. Every one of them means nothing was imported.
    fn error(self, config: &super::FhirConfig) -> FhirError {
        match self {
            BodyFault::None => FhirError::Internal,
            BodyFault::TooLarge => FhirError::TooLarge(config.max_import_bytes),
            BodyFault::Stalled => FhirError::TimedOut(
                "the request body stalled (nothing arrived within the server's body timeout); \
                 nothing was imported"
                    .into(),
            ),
            BodyFault::Late => FhirError::TimedOut(format!(
                "the request body was still arriving after {} s, the longest an import may take; \
                 nothing was imported",
                config.import_deadline.as_secs()
            )),
            BodyFault::Interrupted => FhirError::BadRequest(
                "the request body broke off (the connection closed, or it was shorter than its \
                 Content-Length); nothing was imported"
                    .into(),
            ),
        }
    }
}

/// Starts the task that moves the body's chunks into a channel, and returns its reading end.
/// The task stops the body (an error for the importer, which then rolls back, releasing the
/// import lock) when it crosses the byte limit, stalls (the host's body timeout, see
/// `crate::listen`), breaks off, or is still arriving at the import deadline; `fault` says which.
fn pump(body: Body, config: &super::FhirConfig, fault: Arc<AtomicU8>) -> ChannelReader {
    let (tx, rx) = mpsc::channel::<Chunk>(16);
    let limit = config.max_import_bytes;
    let deadline = tokio::time::Instant::now() + config.import_deadline;
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut received = 0u64;
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let (item, stop) = match next {
                Ok(None) => return,
                Ok(Some(Ok(bytes))) => {
                    received += bytes.len() as u64;
                    if received > limit {
                        (Err(BodyFault::TooLarge), true)
                    } else {
                        (Ok(bytes), false)
                    }
                }
                Ok(Some(Err(e))) => {
                    let stalled = std::error::Error::source(&e)
                        .is_some_and(|s| s.is::<tower_http::timeout::TimeoutError>());
                    if stalled {
                        (Err(BodyFault::Stalled), true)
                    } else {
                        (Err(BodyFault::Interrupted), true)
                    }
                }
                Err(_) => (Err(BodyFault::Late), true),
            };
            let item = item.map_err(|f| {
                fault.store(f as u8, Ordering::Release);
                io::Error::new(io::ErrorKind::UnexpectedEof, "the request body stopped")
            });
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    ChannelReader {
        rx,
        current: Bytes::new(),
    }
}

/// A blocking `Read` over the chunks of a request body.
struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

impl ProgressListener for Job {
    fn on_progress(&self, p: &phrkit::progress::Progress) -> bool {
        self.record(p.bytes, p.resources);
        true
    }
}
