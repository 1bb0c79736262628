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
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use phrkit::ImportOptions;
use phrkit::import::ImportSource;
use phrkit::progress::ProgressListener;
use phrkit::sphr::Secret;
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
    if let Some(hook) = &state.config.import_hook {
        (hook.0)();
    }
    let limit = state.config.max_import_bytes;
    let size = content_length(headers);
    let too_large = Arc::new(AtomicBool::new(false));
    let reader = pump(body, limit, too_large.clone());
    let config = state.config.clone();

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
            _ if too_large.load(Ordering::Relaxed) => {
                return FhirError::TooLarge(limit).into_response();
            }
            Ok(Err(_)) => {
                return FhirError::BadRequest("the request body was interrupted".into())
                    .into_response();
            }
            Err(_) => return FhirError::Internal.into_response(),
        };
        let Ok(id) = crate::secrets::random_token() else {
            return FhirError::Internal.into_response();
        };
        let job = state.jobs.insert(&id);
        tokio::task::spawn_blocking(move || {
            let source =
                ImportSource::from_reader(SOURCE_NAME, file, size).with_passphrase(passphrase);
            let answer = answer_of(import_blocking(&config, source, &opts, &*job));
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
        let result = import_blocking(&config, source, &opts, &phrkit::progress::NoProgress);
        drop(guard);
        result
    })
    .await;
    match result {
        _ if too_large.load(Ordering::Relaxed) => FhirError::TooLarge(limit).into_response(),
        Ok(result) => {
            let (status, body) = answer_of(result);
            fhir_json(status, body)
        }
        Err(_) => FhirError::Internal.into_response(),
    }
}

/// Opens the store and imports; blocks.
fn import_blocking(
    config: &super::FhirConfig,
    source: ImportSource<'_>,
    opts: &ImportOptions,
    progress: &dyn ProgressListener,
) -> Result<phrkit::ImportReport, FhirError> {
    let mut store = config.open_store().map_err(|_| FhirError::Internal)?;
    store
        .import(vec![source], opts, progress)
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

/// Starts the task that moves the body's chunks into a channel, and returns its reading end.
fn pump(body: Body, limit: u64, too_large: Arc<AtomicBool>) -> ChannelReader {
    let (tx, rx) = mpsc::channel::<Chunk>(16);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut received = 0u64;
        while let Some(item) = stream.next().await {
            let item = match item {
                Ok(bytes) => {
                    received += bytes.len() as u64;
                    if received > limit {
                        too_large.store(true, Ordering::Relaxed);
                        Err(io::Error::other("the body is over the limit"))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the request body was interrupted",
                )),
            };
            let stop = item.is_err();
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
