//! phrkit-server: a SMART Health Link host.
//!
//! It stores only ciphertext: the sharing app encrypts each file as a JWE with the link's key
//! and uploads the compact string; the host never sees the key and never decrypts. It serves
//! manifests and files to whoever holds a link, enforcing expiry, revocation, passcodes with a
//! lifetime attempt counter, single-use short-lived file tickets, and a polling limit.
//!
//! Routes (JSON bodies; API shape of the reference server jmandel/vaxx.link, see
//! `spec/smart-health-links.md` §11):
//!
//! | Route | Who | Answer |
//! |---|---|---|
//! | `POST /api/shl` | sharer (account Bearer) | 201 `{id, managementToken, url, active}`; 401, 403 |
//! | `POST /api/shl/{id}/file` | sharer (Bearer) | 200 `{added}`; 400, 403 quota, 413, 415 |
//! | `PUT /api/shl/{id}` | sharer (Bearer) | 200 `{id, url, active}` |
//! | `DELETE /api/shl/{id}` | sharer (Bearer) | 200 `{id, url, active: false}` |
//! | `GET /api/shl/{id}/accesses` | sharer (Bearer) | 200 `[{recipient, time}]` |
//! | `POST /api/shl/{id}` | recipient | 200 manifest; 400, 401 `{remainingAttempts}`, 404, 429 |
//! | `GET /api/shl/{id}/file/{hash}?ticket=` | recipient | 200 `application/jose`; 401, 404 |
//! | `GET /api/shl/{id}?recipient=` | recipient of a `U` link | 200 `application/jose`; 404 |
//! | `GET /view#shlink:/…` | anyone holding the link | 200 the viewer page (`viewer`) |
//!
//! Creating a link needs an account's token ([`HostConfig::accounts`]); every later
//! management call carries the link's own management token and answers 404 for an unknown id
//! and 401 for a missing or wrong token. What an account and a link may store is bounded by
//! [`HostConfig::quotas`].
//!
//! With [`HostConfig::fhir`] set, the same process also serves the PHR IG's FHIR operations on a
//! phrkit record store — `/metadata`, streamed `$phr-export`, streamed `$import` — behind a
//! bearer token (module `fhir`, which has its own route table).
//!
//! Source map, one job per file: `config` (settings and quotas), `accounts` (who may create
//! links), `listen` (accepting connections within
//! limits and timeouts), `state` (shared state), `links`
//! (management routes), `manifest` (public routes), `tickets` (file tickets), `throttle`
//! (polling limit), `locks` (per-link passcode serialisation), `middleware` (CORS, no-store,
//! log line), `db` (connections, queries), `schema` (versioned schema), `blobs` (ciphertext
//! files), `secrets` (random ids, token and passcode hashes), `error` (error types and JSON
//! error bodies), `fhir/` (the FHIR operations).
//!
//! [`start`] runs the host on its own thread and tokio runtime (for tests, demos and apps that
//! are not async); [`run_forever`] blocks until Ctrl-C (for `phrkit serve`); [`router`] gives the
//! axum router to merge with other routes.

mod accounts;
mod blobs;
mod config;
mod db;
mod error;
mod fhir;
mod links;
mod listen;
mod locks;
mod manifest;
mod middleware;
mod quota;
mod schema;
mod secrets;
mod state;
mod throttle;
mod tickets;
mod viewer;

use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::oneshot;

pub use accounts::{
    ACCOUNTS_FILE, Account, FIRST_ACCOUNT, load_accounts, load_or_create_accounts, parse_accounts,
};
pub use config::{
    DEFAULT_EMBED_CAP, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_UPLOAD,
    DEFAULT_SERVE_BIND, HostConfig, Quotas,
};
pub use error::ServerError;
pub use fhir::{
    ApiToken, DEFAULT_MAX_IMPORT_BYTES, ExportFault, FhirConfig, STORE_FILE, TOKEN_FILE, TestHook,
    load_or_create_token,
};
pub use links::{DEFAULT_MAX_ATTEMPTS, SHL_CONTENT_TYPES};
pub use listen::{MAX_HEADER_BYTES, MAX_HEADERS};
pub use schema::VERSION as SCHEMA_VERSION;
pub use state::{BLOB_DIR, DB_FILE, HostState, KDF_AT_ONCE};
pub use viewer::VIEWER_PATH;

/// The host's axum router (all routes above, plus the FHIR operations when configured, with
/// CORS, no-store and logging middleware). Merge further routes into it before serving.
pub fn router(state: HostState) -> Router {
    let max_upload = state.inner.max_upload;
    let fhir = state
        .inner
        .fhir
        .clone()
        .map(|(config, store)| fhir::routes(config, store, state.base_url()));
    let shl = Router::new()
        .route("/api/shl", post(links::create))
        .route(
            "/api/shl/{id}",
            post(manifest::manifest)
                .get(manifest::direct)
                .put(links::update)
                .delete(links::revoke),
        )
        .route(
            "/api/shl/{id}/file",
            post(links::upload).layer(DefaultBodyLimit::max(max_upload)),
        )
        .route("/api/shl/{id}/file/{hash}", get(manifest::file))
        .route("/api/shl/{id}/accesses", get(links::accesses))
        .merge(viewer::routes())
        .with_state(state);
    fhir.into_iter()
        .fold(shl, Router::merge)
        .layer(axum::middleware::from_fn(middleware::common_headers))
}

/// A host running on its own thread, from [`start`]. Dropping it shuts it down too.
pub struct RunningServer {
    /// The address it listens on (the real port when the configured one was 0).
    pub addr: SocketAddr,
    /// Its public base URL, without a trailing slash; manifest URLs are `<base_url>/api/shl/<id>`.
    pub base_url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// Stop accepting connections, let requests in flight finish, and join the thread. Blocks.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Bind, open the data folder, and serve on a new thread with its own tokio runtime. Returns
/// once the socket is listening. Blocks briefly (bind, database open). Errors: the address is
/// taken, the data folder or database cannot be opened.
pub fn start(config: HostConfig) -> Result<RunningServer, ServerError> {
    let (listener, state) = prepare(&config)?;
    let addr = listener.local_addr()?;
    let base_url = state.base_url().to_owned();
    let app = router(state);
    let limits = limits(&config);
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("phrkit-server".into())
        .spawn(move || {
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                listen::serve(listener, app, limits, async {
                    let _ = stopped.await;
                })
                .await?;
                Ok(())
            })
        })?;
    Ok(RunningServer {
        addr,
        base_url,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Serve on the calling thread until Ctrl-C, then finish requests in flight and return. Blocks.
/// Errors as [`start`].
pub fn run_forever(config: HostConfig) -> Result<(), ServerError> {
    let (listener, state) = prepare(&config)?;
    let addr = listener.local_addr()?;
    let app = router(state);
    let limits = limits(&config);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tracing::info!(%addr, "SMART Health Link host listening");
        listen::serve(listener, app, limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok(())
    })
}

/// The connection limits of `config`.
fn limits(config: &HostConfig) -> listen::Limits {
    listen::Limits {
        max_connections: config.max_connections,
        per_ip: config.max_connections_per_ip,
        header_timeout: config.header_timeout,
        body_timeout: config.body_timeout,
    }
}

/// Bind the socket and open the state, with the base URL defaulting to the bound address.
fn prepare(config: &HostConfig) -> Result<(std::net::TcpListener, HostState), ServerError> {
    let listener = std::net::TcpListener::bind(config.bind)?;
    listener.set_nonblocking(true)?;
    let base_url = match &config.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", listener.local_addr()?),
    };
    let state = HostState::open(config, &base_url)?;
    Ok((listener, state))
}

fn runtime() -> Result<tokio::runtime::Runtime, ServerError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("phrkit-server-worker")
        .build()?)
}
