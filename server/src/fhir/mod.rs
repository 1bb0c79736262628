//! The FHIR operations of the PHR IG on a phrkit record store: `GET /metadata`,
//! `$phr-export` (streamed) and `$import` (streamed, optionally asynchronous).
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /metadata` | 200 CapabilityStatement (public, see below) |
//! | `GET /Bundle/$phr-export?…` | 200 streamed Bundle / NDJSON / `.phr` / `.sphr`; 400, 401, 404, 406 |
//! | `GET /Patient/{id}/$phr-export?…` | the same, for that patient |
//! | `POST /Bundle/$phr-export` | the same, parameters in a `Parameters` body; 415 |
//! | `POST /Bundle/$import?strategy=&mode=&conflict=&on_invalid=` | 200 report; 202 async; 400, 401, 409, 413, 415, 422, 429 |
//! | `GET /import-jobs/{id}` | 202 + `X-Progress` while running, then the import's answer; 404 |
//!
//! Every error body is an OperationOutcome ([`outcome`]).
//!
//! **Access.** The operations hold a person's whole record, so every one of them requires
//! `Authorization: Bearer <token>` ([`auth`]). `/metadata` does not: FHIR clients read it to
//! discover a server before they authenticate (SMART App Launch makes the same choice), and
//! the CapabilityStatement says nothing about the person. The SHL routes stay capability URLs.
//!
//! **Connections.** One [`phrkit::Store`] (`Send + Sync`), opened at start, serves every
//! request on the blocking pool; nothing holds it across an `.await`. Imports are serialised
//! by one lock (a second one answers 429) and write through the store's writer; exports read
//! on the store's reader connections, each in its own snapshot, so an export started during
//! an import streams the record as it was before it, whole, and its access-log entry is
//! written when the import lets go of the writer.
//!
//! Source map: `auth` (token, bearer check), `outcome` (errors as OperationOutcome),
//! `metadata`, `export` (parameters, negotiation), `stream` (the channel-backed body writer,
//! fault injection), `import` (body bridge, sync and async runs), `jobs` (async status).

mod auth;
mod export;
mod import;
mod jobs;
mod metadata;
mod outcome;
mod stream;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::{ApiToken, TOKEN_FILE, load_or_create_token};
pub use stream::{ExportFault, TestHook};

/// Name of the record store inside the data folder.
pub const STORE_FILE: &str = "phrkit.db";

/// Largest `$import` body accepted by default: 1 GiB.
pub const DEFAULT_MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Seconds a client is asked to wait (`Retry-After`) when an import is already running.
pub const IMPORT_RETRY_AFTER: u64 = 5;

/// The FHIR side of a host: which store, which token, which limits.
#[derive(Debug, Clone)]
pub struct FhirConfig {
    /// The record store file (created if missing); usually `<data>/phrkit.db`.
    pub store: PathBuf,
    /// The store's key when it is encrypted (SQLCipher). A raw 32-byte key opens instantly;
    /// a passphrase is stretched at start and for each reader connection the store opens.
    pub key: Option<phrkit::store::crypto::StoreKey>,
    /// The bearer token every operation requires.
    pub token: ApiToken,
    /// Largest `$import` body in bytes; larger gets 413. Default 1 GiB.
    pub max_import_bytes: u64,
    /// Longest an `$import` body may take to arrive; then the run stops with 408, rolls back
    /// and releases the import lock, so a slow or stalled upload cannot hold the store's write
    /// lock. (A pause longer than the host's `body_timeout` stops it sooner.) Default 10 min.
    pub import_deadline: std::time::Duration,
    /// Test hook: make every export fail after this many lines.
    pub export_fault: Option<ExportFault>,
    /// Test hook: called on the export thread right after the first chunk left it.
    pub export_hook: Option<TestHook>,
    /// Test hook: called by an import once it holds the store's writer (its first progress
    /// report), before it reads the body.
    pub import_hook: Option<TestHook>,
}

impl FhirConfig {
    /// Defaults for a store file and a token (see the field docs).
    pub fn new(store: impl Into<PathBuf>, token: ApiToken) -> Self {
        FhirConfig {
            store: store.into(),
            key: None,
            token,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            import_deadline: std::time::Duration::from_secs(600),
            export_fault: None,
            export_hook: None,
            import_hook: None,
        }
    }

    /// Opens the record store, with its key when it has one. Blocks.
    pub fn open_store(&self) -> phrkit::Result<phrkit::Store> {
        match &self.key {
            Some(key) => phrkit::Store::open_encrypted(&self.store, key),
            None => phrkit::Store::open(&self.store),
        }
    }
}

/// What the FHIR routes share.
#[derive(Clone)]
pub(crate) struct FhirState {
    pub config: Arc<FhirConfig>,
    /// The record store, opened once: exports read beside a running import.
    pub store: Arc<phrkit::Store>,
    /// The host's public base URL, no trailing slash.
    pub base_url: Arc<str>,
    /// Held for the whole of an import (sync or async): one at a time per store.
    pub import_lock: Arc<tokio::sync::Mutex<()>>,
    /// Asynchronous imports.
    pub jobs: Arc<jobs::Jobs>,
}

/// The FHIR routes, with their own state, ready to merge into the host's router.
pub(crate) fn routes(config: FhirConfig, store: Arc<phrkit::Store>, base_url: &str) -> Router {
    let state = FhirState {
        config: Arc::new(config),
        store,
        base_url: base_url.into(),
        import_lock: Arc::new(tokio::sync::Mutex::new(())),
        jobs: Arc::new(jobs::Jobs::default()),
    };
    let protected = Router::new()
        .route(
            "/Bundle/$phr-export",
            get(export::by_query)
                .post(export::by_parameters)
                .layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route("/Patient/{id}/$phr-export", get(export::by_instance))
        .route(
            "/Bundle/$import",
            post(import::import).layer(DefaultBodyLimit::disable()),
        )
        .route("/import-jobs/{id}", get(jobs::status))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .route("/metadata", get(metadata::metadata))
        .merge(protected)
        .with_state(state)
}
